//! Aggregate mode: readings bucketed on a fixed time grid per key.
//!
//! Config:
//! ```json
//! {"mode": "aggregate", "time": "start_time", "every": "1m", "keys": ["sensor_id"],
//!  "bucket": "minute", "fill": "none",
//!  "aggregations": [{"column": "temperature_c", "function": "mean", "as": "temperature_mean"},
//!                   {"column": "reading_count", "function": "sum"}]}
//! ```
//! - a row falls in bucket `floor(time / every) * every` (UTC); `every` is 1 s to 1 day;
//! - functions: `mean`, `min`, `max`, `sum`, `count`, `first`, `last` (in input order),
//!   over the non-NULL values of an int or float column; NULL when a bucket has none
//!   (`count` is then 0). Output names default to `<column>_<function>`;
//! - `fill`: `none` (only buckets with rows), `null` (missing buckets between a key's first
//!   and last get NULL aggregates) or `previous` (they repeat the previous bucket's values);
//! - output: keys, bucket, aggregations, sorted by key then bucket. Input order does not
//!   matter: buckets span batches and keys may interleave.
//!
//! Memory: every (key, bucket) group is a position in columns shared by all keys: its
//! bucket (4 bytes, see [`Buckets`]), the values seen per value column (a 4-byte count when
//! a mean or count reads the column, else a bit) and one 8-byte value per aggregation. A
//! key takes positions [`BLOCK`] at a time, so its groups sit together for the sorted
//! output, and the groups being filled (a key's last block) stay few and cache-resident
//! however the keys interleave. Columns grow a chunk at a time, never by copying. When a
//! key's buckets arrive in time order (the usual case) a row costs one key lookup;
//! out-of-order buckets switch that key to a hash index.

use std::ops::{Index, IndexMut};
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use serde::Deserialize;
use sluice_sdk::arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, BooleanBufferBuilder, Float64Array, Int64Array,
    PrimitiveArray, StringArray, TimestampMicrosecondArray,
};
use sluice_sdk::arrow::buffer::NullBuffer;
use sluice_sdk::arrow::compute::cast;
use sluice_sdk::arrow::datatypes::{
    DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use sluice_sdk::arrow::record_batch::RecordBatch;
use sluice_sdk::{Emit, Error};

use crate::time::parse_width;

/// Rows per drained batch: the sandbox's input batch size. The groups are all still held
/// while they drain, so what a batch costs is on top of the plugin's peak.
const OUTPUT_BATCH_ROWS: usize = 32_768;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    time: String,
    every: String,
    #[serde(default)]
    keys: Vec<String>,
    aggregations: Vec<AggregationSpec>,
    #[serde(default = "default_bucket")]
    bucket: String,
    #[serde(default)]
    fill: Fill,
}

fn default_bucket() -> String {
    "bucket".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AggregationSpec {
    column: String,
    function: Function,
    #[serde(rename = "as")]
    name: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Debug)]
#[serde(rename_all = "lowercase")]
enum Function {
    Mean,
    Min,
    Max,
    Sum,
    Count,
    First,
    Last,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Fill {
    #[default]
    None,
    Null,
    Previous,
}

/// A key value; the derived order is the output order (NULL first, text by bytes).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KeyPart {
    Null,
    Int(i64),
    Text(Box<str>),
}

/// The running values of one aggregation for every bucket of one key.
enum Acc {
    Float {
        function: Function,
        values: Column<f64>,
    },
    Int {
        function: Function,
        values: Column<i64>,
    },
}

/// Group positions a key takes at a time, once it has many: its first blocks hold 1, 2,
/// 4, ... positions, so a key with a few buckets takes little room.
const BLOCK: usize = 1 << BLOCK_BITS;
const BLOCK_BITS: usize = 8;
/// Positions per chunk of a column.
const CHUNK: usize = 1 << 16;

/// Values by group position, grown a zeroed chunk at a time.
struct Column<T> {
    chunks: Vec<Box<[T]>>,
}

impl<T: Copy + Default> Column<T> {
    fn new() -> Self {
        Column { chunks: Vec::new() }
    }

    /// Room for positions below `len`.
    fn grow_to(&mut self, len: usize) {
        while self.chunks.len() * CHUNK < len {
            self.chunks
                .push(vec![T::default(); CHUNK].into_boxed_slice());
        }
    }
}

impl<T> Index<usize> for Column<T> {
    type Output = T;
    #[inline]
    fn index(&self, position: usize) -> &T {
        &self.chunks[position / CHUNK][position % CHUNK]
    }
}

impl<T> IndexMut<usize> for Column<T> {
    #[inline]
    fn index_mut(&mut self, position: usize) -> &mut T {
        &mut self.chunks[position / CHUNK][position % CHUNK]
    }
}

/// Each group's bucket, kept as its step on the grid (`bucket / width`) from the first
/// bucket seen: 4 bytes a group while every bucket is within 2^31 steps of that one (68
/// years of 1 s buckets, 4000 of minutes), widened once to 8 bytes when one is not. A
/// tenth of the state of a typical aggregation (a 10M-row sensor resample: 6.6M groups).
enum Buckets {
    Narrow {
        width: i64,
        /// The first bucket's step, fixed by the first bucket set.
        base: Option<i64>,
        steps: Column<i32>,
    },
    Wide {
        width: i64,
        steps: Column<i64>,
    },
}

impl Buckets {
    fn new(width: i64) -> Self {
        Buckets::Narrow {
            width,
            base: None,
            steps: Column::new(),
        }
    }

    fn grow_to(&mut self, len: usize) {
        match self {
            Buckets::Narrow { steps, .. } => steps.grow_to(len),
            Buckets::Wide { steps, .. } => steps.grow_to(len),
        }
    }

    /// The bucket (its start, in microseconds) of the group at `position`.
    #[inline]
    fn get(&self, position: usize) -> i64 {
        match self {
            Buckets::Narrow { width, base, steps } => {
                (base.unwrap_or(0) + i64::from(steps[position])) * width
            }
            Buckets::Wide { width, steps } => steps[position] * width,
        }
    }

    /// Sets the bucket of the group at `position`; `bucket` is a multiple of the width.
    #[inline]
    fn set(&mut self, position: usize, bucket: i64) {
        match self {
            Buckets::Narrow { width, base, steps } => {
                let step = bucket / *width;
                let base = *base.get_or_insert(step);
                match i32::try_from(step - base) {
                    Ok(narrow) => steps[position] = narrow,
                    Err(_) => {
                        self.widen();
                        self.set(position, bucket);
                    }
                }
            }
            Buckets::Wide { width, steps } => steps[position] = bucket / *width,
        }
    }

    /// Every step as 8 bytes from here on.
    fn widen(&mut self) {
        let Buckets::Narrow { width, base, steps } = self else {
            return;
        };
        let base = base.unwrap_or(0);
        let chunks = std::mem::take(&mut steps.chunks)
            .into_iter()
            .map(|chunk| chunk.iter().map(|&s| base + i64::from(s)).collect())
            .collect();
        *self = Buckets::Wide {
            width: *width,
            steps: Column { chunks },
        };
    }
}

/// What the groups have seen of one value column: how many values, when a mean or a count
/// reads it, else only whether any (all that min, max, sum, first and last need, to be
/// NULL when there was none), a bit a group instead of 4 bytes. Counts take a byte a group
/// until one passes 255, then 4 (a group has a few values in most resamples: 1.5 in the
/// 10M-row sensor export, whose 6.6M groups this saves 20 MB).
enum Seen {
    SmallCounts(Column<u8>),
    Counts(Column<u32>),
    Any(Column<u64>),
}

impl Seen {
    fn counts() -> Self {
        Seen::SmallCounts(Column::new())
    }

    fn grow_to(&mut self, len: usize) {
        match self {
            Seen::SmallCounts(counts) => counts.grow_to(len),
            Seen::Counts(counts) => counts.grow_to(len),
            Seen::Any(bits) => bits.grow_to(len.div_ceil(64)),
        }
    }

    /// Counts a value of the group at `position`; true when it is the group's first.
    #[inline]
    fn record(&mut self, position: usize) -> bool {
        match self {
            Seen::SmallCounts(counts) => {
                let count = &mut counts[position];
                match count.checked_add(1) {
                    Some(more) => {
                        *count = more;
                        more == 1
                    }
                    None => {
                        self.widen();
                        self.record(position)
                    }
                }
            }
            Seen::Counts(counts) => {
                let count = &mut counts[position];
                *count += 1;
                *count == 1
            }
            Seen::Any(bits) => {
                let (word, bit) = (&mut bits[position / 64], 1u64 << (position % 64));
                let first = *word & bit == 0;
                *word |= bit;
                first
            }
        }
    }

    /// Every count as 4 bytes from here on.
    #[cold]
    fn widen(&mut self) {
        let Seen::SmallCounts(counts) = self else {
            return;
        };
        let chunks = std::mem::take(&mut counts.chunks)
            .into_iter()
            .map(|chunk| chunk.iter().map(|&c| u32::from(c)).collect())
            .collect();
        *self = Seen::Counts(Column { chunks });
    }

    /// The values seen by the group at `position`: exact for counts, else 0 or 1.
    fn count(&self, position: usize) -> u32 {
        match self {
            Seen::SmallCounts(counts) => u32::from(counts[position]),
            Seen::Counts(counts) => counts[position],
            Seen::Any(bits) => u32::from(bits[position / 64] & (1u64 << (position % 64)) != 0),
        }
    }
}

/// The running values of every group (one key's bucket), in columns indexed by position.
struct Groups {
    buckets: Buckets,
    /// Non-NULL values seen per group, per value column.
    seen: Vec<Seen>,
    accs: Vec<Acc>,
    /// Positions handed out, in whole blocks.
    len: usize,
}

/// One key's groups, in the order they appeared, in blocks (see [`locate`]).
#[derive(Default)]
struct Series {
    blocks: Vec<u32>,
    len: usize,
    /// Bucket to position, built when a bucket arrives out of order.
    index: Option<HashMap<i64, u32>>,
    /// The bucket and position of the group added last: most rows land in it.
    last: Option<(i64, u32)>,
}

/// A text of up to 15 bytes as two words: its bytes, then its length in the top byte.
type ShortKey = (u64, u64);

fn short_key(text: &str) -> Option<ShortKey> {
    let bytes = text.as_bytes();
    if bytes.len() > 15 {
        return None;
    }
    let mut words = [0u64; 2];
    for (i, &b) in bytes.iter().enumerate() {
        words[i / 8] |= u64::from(b) << (8 * (i % 8));
    }
    words[1] |= (bytes.len() as u64) << 56;
    Some((words[0], words[1]))
}

/// A row without a group (its time is NULL).
const NO_GROUP: u32 = u32::MAX;

/// A value column and whether it is kept as integers.
struct ValueColumn {
    input: usize,
    integer: bool,
}

pub struct Aggregate {
    config: Config,
    width: i64,
    time: usize,
    key_columns: Vec<usize>,
    values: Vec<ValueColumn>,
    /// Per aggregation: the value column it reads.
    sources: Vec<usize>,
    /// Per value column: the aggregations that read it.
    by_column: Vec<Vec<usize>>,
    keys: HashMap<Vec<KeyPart>, u32>,
    /// The same ids for a single text key: up to 15 bytes as words, longer by text.
    short_keys: HashMap<ShortKey, u32>,
    text_keys: HashMap<Box<str>, u32>,
    series: Vec<(Vec<KeyPart>, Series)>,
    groups: Groups,
    output: SchemaRef,
    cursor: Option<Cursor>,
}

impl Aggregate {
    pub fn new(config: Config, input: &SchemaRef) -> Result<Self, Error> {
        let index = |name: &str| {
            input
                .index_of(name)
                .map_err(|_| Error::Config(format!("no input column `{name}`")))
        };
        let width = parse_width(&config.every).ok_or_else(|| {
            Error::Config(format!(
                "every: {:?} is not like 30s, 1m, 1h or 1d",
                config.every
            ))
        })?;
        if !(1_000_000..=86_400_000_000).contains(&width) {
            return Err(Error::Config(format!(
                "every: {:?} is outside 1 s to 1 day",
                config.every
            )));
        }
        let time = index(&config.time)?;
        let DataType::Timestamp(TimeUnit::Microsecond, tz) = input.field(time).data_type() else {
            return Err(Error::Schema(format!(
                "`{}` is {}, expected a timestamp",
                config.time,
                input.field(time).data_type()
            )));
        };
        let key_columns = config
            .keys
            .iter()
            .map(|k| index(k))
            .collect::<Result<Vec<_>, _>>()?;
        for &k in &key_columns {
            if !matches!(input.field(k).data_type(), DataType::Utf8)
                && !input.field(k).data_type().is_integer()
            {
                return Err(Error::Schema(format!(
                    "key `{}` is {}, expected text or an integer",
                    input.field(k).name(),
                    input.field(k).data_type()
                )));
            }
        }
        if config.aggregations.is_empty() {
            return Err(Error::Config("aggregations is empty".into()));
        }
        let mut values: Vec<ValueColumn> = Vec::new();
        let mut sources = Vec::new();
        let mut fields: Vec<Field> = key_columns
            .iter()
            .map(|&k| input.field(k).clone().with_nullable(true))
            .collect();
        fields.push(Field::new(
            &config.bucket,
            DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
            false,
        ));
        for spec in &config.aggregations {
            let column = index(&spec.column)?;
            let data_type = input.field(column).data_type();
            let integer = data_type.is_integer();
            if !integer && !data_type.is_floating() {
                return Err(Error::Schema(format!(
                    "`{}` is {data_type}, expected a number",
                    spec.column
                )));
            }
            let source = match values.iter().position(|v| v.input == column) {
                Some(i) => i,
                None => {
                    values.push(ValueColumn {
                        input: column,
                        integer,
                    });
                    values.len() - 1
                }
            };
            sources.push(source);
            let out_type = match spec.function {
                Function::Count => DataType::Int64,
                Function::Mean => DataType::Float64,
                _ if integer => DataType::Int64,
                _ => DataType::Float64,
            };
            let name = spec
                .name
                .clone()
                .unwrap_or_else(|| format!("{}_{:?}", spec.column, spec.function).to_lowercase());
            fields.push(Field::new(name, out_type, spec.function != Function::Count));
        }
        let by_column = (0..values.len())
            .map(|v| (0..sources.len()).filter(|&a| sources[a] == v).collect())
            .collect();
        let groups = Groups::new(&config.aggregations, &sources, &values, width);
        Ok(Aggregate {
            config,
            width,
            time,
            key_columns,
            values,
            sources,
            by_column,
            keys: HashMap::new(),
            short_keys: HashMap::new(),
            text_keys: HashMap::new(),
            series: Vec::new(),
            groups,
            output: Arc::new(Schema::new(fields)),
            cursor: None,
        })
    }

    pub fn output_schema(&self) -> SchemaRef {
        self.output.clone()
    }

    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let times = batch
            .column(self.time)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("checked in open");
        let key_ids = self.key_ids(batch)?;
        let groups = self.group_ids(times, &key_ids);
        let columns: Vec<ArrayRef> = self
            .values
            .iter()
            .map(|v| cast_values(batch.column(v.input), v.integer))
            .collect::<Result<_, _>>()?;
        // Typed slices and validity, taken once per batch: the row loop below is the
        // plugin's hot path.
        let floats: Vec<Option<&[f64]>> = columns
            .iter()
            .map(|c| {
                c.as_any()
                    .downcast_ref::<Float64Array>()
                    .map(|a| a.values().as_ref())
            })
            .collect();
        let ints: Vec<Option<&[i64]>> = columns
            .iter()
            .map(|c| {
                c.as_any()
                    .downcast_ref::<Int64Array>()
                    .map(|a| a.values().as_ref())
            })
            .collect();
        let valid: Vec<Option<&NullBuffer>> = columns.iter().map(|c| c.nulls()).collect();
        // Per value column, one pass finds the rows that count (a group, a value) and
        // whether each is its group's first; then each aggregation of the column runs its
        // own loop over them, with no per-row dispatch on its function and type.
        let Groups { seen, accs, .. } = &mut self.groups;
        let mut hits = Vec::with_capacity(groups.len());
        for (v, seen) in seen.iter_mut().enumerate() {
            hits.clear();
            for (row, &group) in groups.iter().enumerate() {
                if group == NO_GROUP || valid[v].is_some_and(|n| n.is_null(row)) {
                    continue;
                }
                let first = seen.record(group as usize);
                hits.push(Hit {
                    row: row as u32,
                    group,
                    first,
                });
            }
            for &a in &self.by_column[v] {
                match (&mut accs[a], floats[v], ints[v]) {
                    (Acc::Float { function, values }, Some(f), _) => {
                        apply(*function, values, &hits, |row| f[row]);
                    }
                    (Acc::Float { function, values }, None, Some(i)) => {
                        apply(*function, values, &hits, |row| i[row] as f64);
                    }
                    // A count needs no value: it is the number of non-NULL values seen.
                    (
                        Acc::Int {
                            function: Function::Count,
                            ..
                        },
                        ..,
                    ) => {}
                    (Acc::Int { function, values }, _, Some(i)) => {
                        apply(*function, values, &hits, |row| i[row]);
                    }
                    _ => unreachable!("values are cast to f64 or i64"),
                }
            }
        }
        Ok(())
    }

    /// The group of every row ([`NO_GROUP`] for a NULL time), creating new groups.
    fn group_ids(&mut self, times: &TimestampMicrosecondArray, key_ids: &[u32]) -> Vec<u32> {
        let stamps = times.values();
        (0..times.len())
            .map(|row| {
                if times.is_null(row) {
                    return NO_GROUP;
                }
                let bucket = stamps[row].div_euclid(self.width) * self.width;
                let series = &mut self.series[key_ids[row] as usize].1;
                series.group(bucket, &mut self.groups)
            })
            .collect()
    }

    /// The series index of every row's key, registering new keys.
    fn key_ids(&mut self, batch: &RecordBatch) -> Result<Vec<u32>, Error> {
        let parts: Vec<KeyColumn> = self
            .key_columns
            .iter()
            .map(|&k| KeyColumn::of(batch.column(k)))
            .collect::<Result<_, _>>()?;
        if let [KeyColumn::Text(text)] = parts.as_slice() {
            return Ok(self.text_key_ids(text));
        }
        let mut ids = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let key: Vec<KeyPart> = parts.iter().map(|p| p.part(row)).collect();
            let id = match self.keys.get(&key) {
                Some(&id) => id,
                None => self.register(key),
            };
            ids.push(id);
        }
        Ok(ids)
    }

    /// [`Self::key_ids`] for one text key, the common case. Keys of up to 15 bytes are
    /// looked up as two words (no string hashing or `memcmp` call per row), longer ones by
    /// `&str`; only new keys allocate.
    fn text_key_ids(&mut self, text: &StringArray) -> Vec<u32> {
        let mut last: Option<(ShortKey, u32)> = None;
        let mut null = None;
        (0..text.len())
            .map(|row| {
                if text.is_null(row) {
                    return *null.get_or_insert_with(|| self.register(vec![KeyPart::Null]));
                }
                let value = text.value(row);
                let Some(short) = short_key(value) else {
                    return self.long_text_id(value);
                };
                match last {
                    Some((key, id)) if key == short => return id,
                    _ => {}
                }
                let id = match self.short_keys.get(&short) {
                    Some(&id) => id,
                    None => {
                        let id = self.register(vec![KeyPart::Text(value.into())]);
                        self.short_keys.insert(short, id);
                        id
                    }
                };
                last = Some((short, id));
                id
            })
            .collect()
    }

    fn long_text_id(&mut self, value: &str) -> u32 {
        if let Some(&id) = self.text_keys.get(value) {
            return id;
        }
        let id = self.register(vec![KeyPart::Text(value.into())]);
        self.text_keys.insert(value.into(), id);
        id
    }

    /// A new key's series.
    fn register(&mut self, key: Vec<KeyPart>) -> u32 {
        if let Some(&id) = self.keys.get(&key) {
            return id;
        }
        let id = self.series.len() as u32;
        self.keys.insert(key.clone(), id);
        self.series.push((key, Series::default()));
        id
    }

    /// Fixes the output order: keys sorted. The rows leave through `drain`.
    pub fn finish(&mut self) {
        let mut order: Vec<usize> = (0..self.series.len()).collect();
        order.sort_by(|&a, &b| self.series[a].0.cmp(&self.series[b].0));
        self.cursor = Some(Cursor {
            order,
            ..Cursor::default()
        });
    }

    /// Emits up to [`OUTPUT_BATCH_ROWS`] rows and frees every key it has finished; true
    /// while rows remain.
    pub fn drain(&mut self, out: &mut Emit) -> Result<bool, Error> {
        let Some(mut cursor) = self.cursor.take() else {
            return Ok(false);
        };
        let mut rows = OutputRows::default();
        while rows.len() < OUTPUT_BATCH_ROWS && cursor.key < cursor.order.len() {
            let s = cursor.order[cursor.key];
            let groups = &self.groups;
            if cursor.pos == 0 && cursor.slots.is_empty() {
                cursor.slots = self.series[s].1.in_bucket_order(groups);
            }
            while cursor.pos < cursor.slots.len() && rows.len() < OUTPUT_BATCH_ROWS {
                let slot = cursor.slots[cursor.pos];
                if let (Some(prev), true) = (cursor.previous, self.config.fill != Fill::None) {
                    let mut missing = cursor.gap.unwrap_or(groups.buckets.get(prev) + self.width);
                    while missing < groups.buckets.get(slot) && rows.len() < OUTPUT_BATCH_ROWS {
                        let source = (self.config.fill == Fill::Previous).then_some(prev);
                        rows.push(s, missing, source);
                        missing += self.width;
                    }
                    if missing < groups.buckets.get(slot) {
                        cursor.gap = Some(missing);
                        break;
                    }
                    cursor.gap = None;
                }
                rows.push(s, groups.buckets.get(slot), Some(slot));
                cursor.previous = Some(slot);
                cursor.pos += 1;
            }
            if cursor.pos == cursor.slots.len() {
                // This key is done: give its list back before the next.
                self.series[s].1 = Series::default();
                cursor = Cursor {
                    order: cursor.order,
                    key: cursor.key + 1,
                    ..Cursor::default()
                };
            }
        }
        if rows.len() > 0 {
            out.emit("rows", rows.build(self)?);
        }
        let more = cursor.key < cursor.order.len();
        self.cursor = Some(cursor);
        Ok(more)
    }
}

/// Where `drain` stands in the sorted output.
#[derive(Default)]
struct Cursor {
    order: Vec<usize>,
    /// Position in `order`.
    key: usize,
    /// The current key's groups in bucket order, and the next to emit.
    slots: Vec<usize>,
    pos: usize,
    previous: Option<usize>,
    /// The next gap bucket to fill, when a batch filled up inside a gap.
    gap: Option<i64>,
}

fn cast_values(column: &ArrayRef, integer: bool) -> Result<ArrayRef, Error> {
    Ok(cast(
        column,
        if integer {
            &DataType::Int64
        } else {
            &DataType::Float64
        },
    )?)
}

/// A row that counts for a value column: its group, and whether its value is the group's
/// first.
struct Hit {
    row: u32,
    group: u32,
    first: bool,
}

/// Adds the value `x(row)` of every hit to its group's running value of `function`.
fn apply<T: Copy + PartialOrd + std::ops::AddAssign>(
    function: Function,
    values: &mut Column<T>,
    hits: &[Hit],
    x: impl Fn(usize) -> T,
) {
    match function {
        Function::Sum | Function::Mean => each(values, hits, &x, |v, x, _| *v += x),
        Function::Min => each(values, hits, &x, |v, x, first| {
            if first || x < *v {
                *v = x;
            }
        }),
        Function::Max => each(values, hits, &x, |v, x, first| {
            if first || x > *v {
                *v = x;
            }
        }),
        Function::First => each(values, hits, &x, |v, x, first| {
            if first {
                *v = x;
            }
        }),
        Function::Last => each(values, hits, &x, |v, x, _| *v = x),
        Function::Count => {}
    }
}

/// `update(value, x, first)` for every hit: generic, so each function's loop is compiled
/// on its own.
#[inline]
fn each<T: Copy>(
    values: &mut Column<T>,
    hits: &[Hit],
    x: &impl Fn(usize) -> T,
    update: impl Fn(&mut T, T, bool),
) {
    for hit in hits {
        update(
            &mut values[hit.group as usize],
            x(hit.row as usize),
            hit.first,
        );
    }
}

impl Groups {
    fn new(
        specs: &[AggregationSpec],
        sources: &[usize],
        values: &[ValueColumn],
        width: i64,
    ) -> Self {
        let accs = specs
            .iter()
            .zip(sources)
            .map(|(spec, &v)| {
                if spec.function == Function::Count
                    || (values[v].integer && spec.function != Function::Mean)
                {
                    Acc::Int {
                        function: spec.function,
                        values: Column::new(),
                    }
                } else {
                    Acc::Float {
                        function: spec.function,
                        values: Column::new(),
                    }
                }
            })
            .collect();
        Groups {
            buckets: Buckets::new(width),
            seen: (0..values.len())
                .map(|v| {
                    let counted = specs.iter().zip(sources).any(|(spec, &source)| {
                        source == v && matches!(spec.function, Function::Mean | Function::Count)
                    });
                    match counted {
                        true => Seen::counts(),
                        false => Seen::Any(Column::new()),
                    }
                })
                .collect(),
            accs,
            len: 0,
        }
    }

    /// The first of a new block of `size` positions, all zero (nothing seen).
    fn block(&mut self, size: usize) -> u32 {
        let first = self.len as u32;
        self.len += size;
        // Positions stay below NO_GROUP (far past any plugin memory limit).
        assert!(self.len <= NO_GROUP as usize, "too many groups");
        self.buckets.grow_to(self.len);
        for seen in &mut self.seen {
            seen.grow_to(self.len);
        }
        for acc in &mut self.accs {
            match acc {
                Acc::Float { values, .. } => values.grow_to(self.len),
                Acc::Int { values, .. } => values.grow_to(self.len),
            }
        }
        first
    }
}

/// Where a key's `k`th group is: its block and its offset in the block. Blocks `0..8`
/// hold 1, 2, 4, ..., 128 positions (255 in all), the rest [`BLOCK`] each.
fn locate(k: usize) -> (usize, usize) {
    let small = BLOCK - 1;
    if k < small {
        let block = (k + 1).ilog2() as usize;
        (block, k + 1 - (1 << block))
    } else {
        (BLOCK_BITS + (k - small) / BLOCK, (k - small) % BLOCK)
    }
}

fn block_size(block: usize) -> usize {
    if block < BLOCK_BITS {
        1 << block
    } else {
        BLOCK
    }
}

impl Series {
    /// The position of this key's `k`th group.
    fn position(&self, k: usize) -> u32 {
        let (block, offset) = locate(k);
        self.blocks[block] + offset as u32
    }

    /// The positions of this key's groups, in bucket order.
    fn in_bucket_order(&self, groups: &Groups) -> Vec<usize> {
        let mut positions: Vec<usize> = (0..self.len).map(|k| self.position(k) as usize).collect();
        if self.index.is_some() {
            positions.sort_by_key(|&p| groups.buckets.get(p));
        }
        positions
    }

    /// The position of this key's `bucket`, created if new.
    fn group(&mut self, bucket: i64, groups: &mut Groups) -> u32 {
        if let Some((last_bucket, last)) = self.last {
            if last_bucket == bucket {
                return last;
            }
            if bucket < last_bucket || self.index.is_some() {
                let mut index = self.index.take().unwrap_or_else(|| {
                    (0..self.len)
                        .map(|k| self.position(k))
                        .map(|p| (groups.buckets.get(p as usize), p))
                        .collect()
                });
                let position = match index.get(&bucket) {
                    Some(&position) => position,
                    None => {
                        let position = self.add(bucket, groups);
                        index.insert(bucket, position);
                        position
                    }
                };
                self.index = Some(index);
                return position;
            }
        }
        // In time order: buckets stay sorted without an index.
        self.add(bucket, groups)
    }

    fn add(&mut self, bucket: i64, groups: &mut Groups) -> u32 {
        let (block, offset) = locate(self.len);
        if offset == 0 {
            self.blocks.push(groups.block(block_size(block)));
        }
        let position = self.position(self.len);
        self.len += 1;
        groups.buckets.set(position as usize, bucket);
        self.last = Some((bucket, position));
        position
    }
}

/// A key column viewed for building key parts.
enum KeyColumn {
    Text(StringArray),
    Int(Int64Array),
}

impl KeyColumn {
    fn of(column: &ArrayRef) -> Result<Self, Error> {
        Ok(match column.data_type() {
            DataType::Utf8 => KeyColumn::Text(
                column
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("utf8")
                    .clone(),
            ),
            _ => KeyColumn::Int(
                cast(column, &DataType::Int64)?
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("i64")
                    .clone(),
            ),
        })
    }

    fn part(&self, row: usize) -> KeyPart {
        match self {
            KeyColumn::Text(a) if a.is_valid(row) => KeyPart::Text(a.value(row).into()),
            KeyColumn::Int(a) if a.is_valid(row) => KeyPart::Int(a.value(row)),
            _ => KeyPart::Null,
        }
    }
}

/// Output rows being gathered: each row's series, bucket and the group whose values it
/// carries. The aggregation columns are read from the groups when the batch is built, one
/// column at a time: a tight loop per column, where appending each row's values to Arrow
/// builders cost a tenth of a 10M-row resample's CPU.
#[derive(Default)]
struct OutputRows {
    /// The series (key) of each row.
    keys: Vec<u32>,
    buckets: Vec<i64>,
    /// The group of each row; [`NO_GROUP`] for a NULL gap row.
    sources: Vec<u32>,
}

impl OutputRows {
    fn len(&self) -> usize {
        self.buckets.len()
    }

    /// One output row of series `key`: `source` is the group whose values it carries (None:
    /// a NULL gap row).
    fn push(&mut self, key: usize, bucket: i64, source: Option<usize>) {
        self.keys.push(key as u32);
        self.buckets.push(bucket);
        self.sources.push(source.map_or(NO_GROUP, |s| s as u32));
    }

    /// Aggregation `a`'s column for these rows.
    fn column(&self, groups: &Groups, a: usize, seen: &Seen) -> ArrayRef {
        let seen = |s: u32| {
            if s == NO_GROUP {
                0
            } else {
                seen.count(s as usize)
            }
        };
        match &groups.accs[a] {
            Acc::Float { function, values } => {
                let mean = *function == Function::Mean;
                Arc::new(gather::<Float64Type>(&self.sources, |s| match seen(s) {
                    0 => None,
                    n if mean => Some(values[s as usize] / f64::from(n)),
                    _ => Some(values[s as usize]),
                }))
            }
            Acc::Int {
                function: Function::Count,
                ..
            } => Arc::new(gather::<Int64Type>(&self.sources, |s| {
                Some(i64::from(seen(s)))
            })),
            Acc::Int { values, .. } => Arc::new(gather::<Int64Type>(&self.sources, |s| {
                (seen(s) > 0).then(|| values[s as usize])
            })),
        }
    }

    fn build(mut self, plan: &Aggregate) -> Result<RecordBatch, Error> {
        let schema = plan.output.clone();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for k in 0..plan.key_columns.len() {
            let field = schema.field(k);
            let part = |row: &u32| &plan.series[*row as usize].0[k];
            let column: ArrayRef = if *field.data_type() == DataType::Utf8 {
                Arc::new(
                    self.keys
                        .iter()
                        .map(|r| match part(r) {
                            KeyPart::Text(t) => Some(t.as_ref()),
                            _ => None,
                        })
                        .collect::<StringArray>(),
                )
            } else {
                let ints: Int64Array = self
                    .keys
                    .iter()
                    .map(|r| match part(r) {
                        KeyPart::Int(i) => Some(*i),
                        _ => None,
                    })
                    .collect();
                cast(&(Arc::new(ints) as ArrayRef), field.data_type())?
            };
            columns.push(column);
        }
        let bucket_type = schema.field(plan.key_columns.len()).data_type().clone();
        columns.push(Arc::new(
            PrimitiveArray::<TimestampMicrosecondType>::from(std::mem::take(&mut self.buckets))
                .with_data_type(bucket_type),
        ));
        let groups = &plan.groups;
        for (a, &v) in plan.sources.iter().enumerate() {
            columns.push(self.column(groups, a, &groups.seen[v]));
        }
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// The array of `value(source)` for every row's source group; NULL where it is None.
fn gather<T: ArrowPrimitiveType>(
    sources: &[u32],
    value: impl Fn(u32) -> Option<T::Native>,
) -> PrimitiveArray<T> {
    let mut values = Vec::with_capacity(sources.len());
    let mut valid = BooleanBufferBuilder::new(sources.len());
    for &s in sources {
        let v = value(s);
        valid.append(v.is_some());
        values.push(v.unwrap_or_default());
    }
    let nulls = NullBuffer::new(valid.finish());
    let nulls = (nulls.null_count() > 0).then_some(nulls);
    PrimitiveArray::new(values.into(), nulls)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    /// Per-second sums of `rows` (key, time in seconds, value), as (key, bucket, sum).
    fn sums(rows: &[(&str, i64, i64)]) -> Vec<(String, i64, i64)> {
        let rows: Vec<_> = rows.iter().map(|&(k, t, v)| (k, t, Some(v))).collect();
        let sums = nullable_sums(&rows);
        sums.into_iter()
            .map(|(k, b, s)| (k, b, s.expect("a sum")))
            .collect()
    }

    /// [`sums`] of values that may be NULL: a bucket with none sums to NULL.
    fn nullable_sums(rows: &[(&str, i64, Option<i64>)]) -> Vec<(String, i64, Option<i64>)> {
        let mut got = Vec::new();
        for batch in aggregate(r#"[{"column": "v", "function": "sum"}]"#, rows) {
            let keys = batch.column(0).as_any().downcast_ref::<StringArray>();
            let buckets = batch.column(1).as_any();
            let buckets = buckets.downcast_ref::<TimestampMicrosecondArray>();
            let sums = batch.column(2).as_any().downcast_ref::<Int64Array>();
            let (keys, buckets, sums) = (keys.unwrap(), buckets.unwrap(), sums.unwrap());
            for row in 0..batch.num_rows() {
                let bucket = buckets.value(row);
                let sum = sums.is_valid(row).then(|| sums.value(row));
                got.push((keys.value(row).to_string(), bucket / SECOND, sum));
            }
        }
        got
    }

    /// `rows` (key, time in seconds, value) aggregated onto 1 s buckets per key by
    /// `aggregations` (their JSON list): the output batches.
    fn aggregate(aggregations: &str, rows: &[(&str, i64, Option<i64>)]) -> Vec<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("v", DataType::Int64, true),
        ]));
        let config = sluice_sdk::parse_config(&format!(
            r#"{{"time": "t", "every": "1s", "keys": ["k"], "aggregations": {aggregations}}}"#
        ))
        .unwrap();
        let mut plan = Aggregate::new(config, &schema).unwrap();
        let keys: StringArray = rows.iter().map(|r| Some(r.0)).collect();
        let times: TimestampMicrosecondArray = rows.iter().map(|r| Some(r.1 * SECOND)).collect();
        let values: Int64Array = rows.iter().map(|r| r.2).collect();
        let columns: Vec<ArrayRef> = vec![Arc::new(keys), Arc::new(times), Arc::new(values)];
        plan.push(&RecordBatch::try_new(schema, columns).unwrap())
            .unwrap();
        plan.finish();
        let mut out = Emit::default();
        while plan.drain(&mut out).unwrap() {}
        out.batches("rows").cloned().collect()
    }

    #[test]
    fn buckets_far_apart_are_kept_exactly() {
        // 1900 and 2100 are 6.3e9 seconds apart: past what 4 bytes of 1 s steps hold from
        // the first bucket (2024), so the buckets widen part-way; those set before stay.
        let (y1900, y2024, y2100) = (-2_208_988_800, 1_704_067_200, 4_102_444_800);
        let rows = [
            ("a", y2024, 1),
            ("a", y2024, 2),
            ("b", y2024 + 1, 3),
            ("a", y2024 - 5, 4),
            ("b", y2100, 5),
            ("a", y1900, 6),
            ("b", y2024 + 1, 7),
            ("a", y2100 + 59, 8),
        ];
        let want = [
            ("a", y1900, 6),
            ("a", y2024 - 5, 4),
            ("a", y2024, 3),
            ("a", y2100 + 59, 8),
            ("b", y2024 + 1, 10),
            ("b", y2100, 5),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(k, b, s)| (k.to_string(), *b, *s))
            .collect();
        assert_eq!(sums(&rows), want);
        // Within reach of the first bucket, nothing widens.
        assert_eq!(
            sums(&rows[..4]),
            [
                want[1].clone(),
                want[2].clone(),
                (want[4].0.clone(), y2024 + 1, 3)
            ]
        );
    }

    #[test]
    fn a_bucket_whose_values_are_all_null_sums_to_null() {
        // 300 buckets, so the seen bits span several words; every third has only NULLs.
        let mut rows = Vec::new();
        let mut want = Vec::new();
        for b in 0..300i64 {
            let value = (b % 3 != 0).then_some(b);
            rows.push(("k", b, value));
            rows.push(("k", b, None));
            want.push(("k".to_string(), b, value));
        }
        assert_eq!(nullable_sums(&rows), want);
    }

    #[test]
    fn counts_past_a_byte_widen_and_stay_exact() {
        // Bucket 0 has two values, then bucket 1 gets 300 (its count passes 255 part-way
        // and every count widens), then bucket 0 a third.
        let mut rows = vec![("k", 0, Some(10)), ("k", 0, Some(20))];
        rows.extend((0..300).map(|v| ("k", 1, Some(v))));
        rows.push(("k", 0, Some(30)));
        let aggregations = r#"[{"column": "v", "function": "count"},
                               {"column": "v", "function": "mean"}]"#;
        let batch = aggregate(aggregations, &rows).remove(0);
        let counts = batch.column(2).as_any().downcast_ref::<Int64Array>();
        let means = batch.column(3).as_any().downcast_ref::<Float64Array>();
        assert_eq!(counts.unwrap().values().as_ref(), [3, 300]);
        assert_eq!(means.unwrap().values().as_ref(), [20.0, 149.5]);
    }
}
