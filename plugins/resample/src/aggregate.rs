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
//! Memory: per key, bucket starts and one value per aggregation and bucket, in flat
//! vectors (about 8 bytes per bucket and function). When a key's buckets arrive in time
//! order (the usual case) a row costs one key lookup; out-of-order buckets switch that key
//! to a hash index.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use sluice_sdk::arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, PrimitiveArray, StringArray,
    TimestampMicrosecondArray,
};
use sluice_sdk::arrow::buffer::NullBuffer;
use sluice_sdk::arrow::compute::cast;
use sluice_sdk::arrow::datatypes::{
    DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use sluice_sdk::arrow::record_batch::RecordBatch;
use sluice_sdk::{Emit, Error};

use crate::time::parse_width;

const OUTPUT_BATCH_ROWS: usize = 65_536;

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
        values: Vec<f64>,
    },
    Int {
        function: Function,
        values: Vec<i64>,
    },
}

/// One key's buckets.
struct Series {
    buckets: Vec<i64>,
    /// Non-NULL values seen per bucket, per value column.
    seen: Vec<Vec<u32>>,
    accs: Vec<Acc>,
    /// Built when a bucket arrives out of order.
    index: Option<HashMap<i64, u32>>,
}

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
    /// The same ids for a single text key, looked up without allocating.
    text_keys: HashMap<Box<str>, u32>,
    series: Vec<(Vec<KeyPart>, Series)>,
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
        Ok(Aggregate {
            config,
            width,
            time,
            key_columns,
            values,
            sources,
            by_column,
            keys: HashMap::new(),
            text_keys: HashMap::new(),
            series: Vec::new(),
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
        let stamps = times.values();
        for row in 0..batch.num_rows() {
            if times.is_null(row) {
                continue;
            }
            let bucket = stamps[row].div_euclid(self.width) * self.width;
            let series = &mut self.series[key_ids[row] as usize].1;
            let slot = series.slot(bucket);
            for v in 0..columns.len() {
                if valid[v].is_some_and(|n| n.is_null(row)) {
                    continue;
                }
                let seen = &mut series.seen[v][slot];
                let first = *seen == 0;
                *seen += 1;
                for &a in &self.by_column[v] {
                    match &mut series.accs[a] {
                        Acc::Float { function, values } => {
                            let x = match (floats[v], ints[v]) {
                                (Some(f), _) => f[row],
                                (None, Some(i)) => i[row] as f64,
                                _ => unreachable!("values are cast to f64 or i64"),
                            };
                            update(*function, &mut values[slot], x, first);
                        }
                        // A count needs no value: it is the number of non-NULL values seen.
                        Acc::Int {
                            function: Function::Count,
                            ..
                        } => {}
                        Acc::Int { function, values } => {
                            let x = ints[v]
                                .expect("non-count integer accumulators read integer columns")[row];
                            update(*function, &mut values[slot], x, first);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The series index of every row's key, registering new keys.
    fn key_ids(&mut self, batch: &RecordBatch) -> Result<Vec<u32>, Error> {
        let parts: Vec<KeyColumn> = self
            .key_columns
            .iter()
            .map(|&k| KeyColumn::of(batch.column(k)))
            .collect::<Result<_, _>>()?;
        // One text key (the common case): look up by &str, allocating only for new keys.
        if let [KeyColumn::Text(text)] = parts.as_slice() {
            let mut ids = Vec::with_capacity(batch.num_rows());
            let mut last: Option<(usize, u32)> = None;
            for row in 0..batch.num_rows() {
                if let Some((r, id)) = last {
                    if text.is_valid(row) == text.is_valid(r)
                        && (text.is_null(row) || text.value(row) == text.value(r))
                    {
                        ids.push(id);
                        continue;
                    }
                }
                let id = match text
                    .is_valid(row)
                    .then(|| self.text_keys.get(text.value(row)))
                    .flatten()
                {
                    Some(&id) => id,
                    None if text.is_null(row) => self.register(vec![KeyPart::Null]),
                    None => {
                        // A key not seen before: the only rows that allocate.
                        let value = text.value(row);
                        let id = self.register(vec![KeyPart::Text(value.into())]);
                        self.text_keys.insert(value.into(), id);
                        id
                    }
                };
                ids.push(id);
                last = Some((row, id));
            }
            return Ok(ids);
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

    /// A new key's series.
    fn register(&mut self, key: Vec<KeyPart>) -> u32 {
        if let Some(&id) = self.keys.get(&key) {
            return id;
        }
        let id = self.series.len() as u32;
        self.keys.insert(key.clone(), id);
        self.series.push((
            key,
            Series::new(&self.config.aggregations, &self.sources, &self.values),
        ));
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
            let series = &self.series[s].1;
            if cursor.pos == 0 && cursor.slots.is_empty() {
                cursor.slots = (0..series.buckets.len()).collect();
                cursor.slots.sort_by_key(|&i| series.buckets[i]);
            }
            while cursor.pos < cursor.slots.len() && rows.len() < OUTPUT_BATCH_ROWS {
                let slot = cursor.slots[cursor.pos];
                if let (Some(prev), true) = (cursor.previous, self.config.fill != Fill::None) {
                    let mut missing = cursor.gap.unwrap_or(series.buckets[prev] + self.width);
                    while missing < series.buckets[slot] && rows.len() < OUTPUT_BATCH_ROWS {
                        let source = (self.config.fill == Fill::Previous).then_some(prev);
                        rows.push(s, missing, series, source, &self.sources);
                        missing += self.width;
                    }
                    if missing < series.buckets[slot] {
                        cursor.gap = Some(missing);
                        break;
                    }
                    cursor.gap = None;
                }
                rows.push(s, series.buckets[slot], series, Some(slot), &self.sources);
                cursor.previous = Some(slot);
                cursor.pos += 1;
            }
            if cursor.pos == cursor.slots.len() {
                // This key is done: give its memory back before the next.
                self.series[s].1 =
                    Series::new(&self.config.aggregations, &self.sources, &self.values);
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
    /// The current key's slots in bucket order, and the next to emit.
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

fn update<T: Copy + PartialOrd + std::ops::AddAssign>(
    function: Function,
    value: &mut T,
    x: T,
    first: bool,
) {
    match function {
        Function::Sum | Function::Mean => *value += x,
        Function::Min if first || x < *value => *value = x,
        Function::Max if first || x > *value => *value = x,
        Function::First if first => *value = x,
        Function::Last => *value = x,
        _ => {}
    }
}

impl Series {
    fn new(specs: &[AggregationSpec], sources: &[usize], values: &[ValueColumn]) -> Self {
        let accs = specs
            .iter()
            .zip(sources)
            .map(|(spec, &v)| {
                if spec.function == Function::Count
                    || (values[v].integer && spec.function != Function::Mean)
                {
                    Acc::Int {
                        function: spec.function,
                        values: Vec::new(),
                    }
                } else {
                    Acc::Float {
                        function: spec.function,
                        values: Vec::new(),
                    }
                }
            })
            .collect();
        Series {
            buckets: Vec::new(),
            seen: vec![Vec::new(); values.len()],
            accs,
            index: None,
        }
    }

    /// The slot of `bucket`, created if new.
    fn slot(&mut self, bucket: i64) -> usize {
        if let Some(&last) = self.buckets.last() {
            if last == bucket {
                return self.buckets.len() - 1;
            }
            if bucket < last || self.index.is_some() {
                let index = self.index.get_or_insert_with(|| {
                    self.buckets
                        .iter()
                        .enumerate()
                        .map(|(i, &b)| (b, i as u32))
                        .collect()
                });
                if let Some(&slot) = index.get(&bucket) {
                    return slot as usize;
                }
                index.insert(bucket, self.buckets.len() as u32);
            }
        }
        self.buckets.push(bucket);
        for seen in &mut self.seen {
            seen.push(0);
        }
        for acc in &mut self.accs {
            match acc {
                Acc::Float { values, .. } => values.push(0.0),
                Acc::Int { values, .. } => values.push(0),
            }
        }
        self.buckets.len() - 1
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

/// Output rows being gathered, column by column.
#[derive(Default)]
struct OutputRows {
    /// The series (key) of each row.
    keys: Vec<usize>,
    buckets: Vec<i64>,
    /// Per aggregation: the value, or None for NULL.
    floats: Vec<Vec<Option<f64>>>,
    ints: Vec<Vec<Option<i64>>>,
}

impl OutputRows {
    fn len(&self) -> usize {
        self.buckets.len()
    }

    /// One output row of series `key`: `source` is the slot whose values it carries (None: a
    /// NULL gap row).
    fn push(
        &mut self,
        key: usize,
        bucket: i64,
        series: &Series,
        source: Option<usize>,
        sources: &[usize],
    ) {
        let n = series.accs.len();
        if self.floats.len() < n {
            self.floats.resize(n, Vec::new());
            self.ints.resize(n, Vec::new());
        }
        self.keys.push(key);
        self.buckets.push(bucket);
        for (a, acc) in series.accs.iter().enumerate() {
            let seen = source.map_or(0, |s| series.seen[sources[a]][s]);
            match acc {
                Acc::Float { function, values } => {
                    let v = source.filter(|_| seen > 0).map(|s| match function {
                        Function::Mean => values[s] / f64::from(seen),
                        _ => values[s],
                    });
                    self.floats[a].push(v);
                }
                Acc::Int { function, values } => {
                    let v = match (source, function) {
                        (_, Function::Count) => Some(i64::from(seen)),
                        (Some(s), _) if seen > 0 => Some(values[s]),
                        _ => None,
                    };
                    self.ints[a].push(v);
                }
            }
        }
    }

    fn build(self, plan: &Aggregate) -> Result<RecordBatch, Error> {
        let schema = plan.output.clone();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for k in 0..plan.key_columns.len() {
            let field = schema.field(k);
            let part = |row: &usize| &plan.series[*row].0[k];
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
            PrimitiveArray::<TimestampMicrosecondType>::from(self.buckets)
                .with_data_type(bucket_type),
        ));
        for (a, (floats, ints)) in self.floats.into_iter().zip(self.ints).enumerate() {
            let field = schema.field(plan.key_columns.len() + 1 + a);
            let column: ArrayRef = match field.data_type() {
                DataType::Int64 => Arc::new(ints.into_iter().collect::<Int64Array>()),
                _ => Arc::new(floats.into_iter().collect::<Float64Array>()),
            };
            columns.push(column);
        }
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}
