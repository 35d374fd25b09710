//! `export-delta`: the changes between the previous and the current full export of a table.
//!
//! Inputs, pushed in this order: `previous` (the export of the latest successful version;
//! empty when there is none) and `current`, with the same columns. Output `delta`: the op
//! column (`op` by default) followed by the current columns, one row per key that changed:
//!
//! - `INSERT`: the key is only in `current` (its new values);
//! - `UPDATE`: the key is in both and some column differs, NULL-safely: a change to or from
//!   NULL is a change (its new values);
//! - `DELETE`: the key is only in `previous` (its old values).
//!
//! Unchanged keys produce nothing. The key is one or more columns (`key`, default `["PK"]`).
//!
//! Keys must be unique and not NULL. A current row with a NULL key, or with a key an
//! earlier current row already had, goes to `rejects` with the reason. In `previous`, such
//! rows are skipped and counted (`previous.null_keys`, `previous.duplicate_keys`): the
//! first row of a key wins. Two current rows with the same key that `previous` lacks are
//! both inserted: catching that would mean indexing every current key too.
//!
//! Memory: `previous` is kept in Arrow's row format (about its CSV size) with a hash index
//! of its keys (~16 bytes a row); `current` streams past it. So memory grows with the
//! previous export only: about 80 bytes a row for four short columns, so a 10M-row
//! previous export needs ~850 MiB of the plugin's memory cap (bench/RESULTS.md). Hash collisions are resolved
//! by comparing the key bytes, so they never change the result.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use serde::Deserialize;
use sluice_sdk::arrow::array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use sluice_sdk::arrow::compute::take;
use sluice_sdk::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use sluice_sdk::arrow::row::{RowConverter, Rows, SortField};
use sluice_sdk::{Context, Emit, Error, Info, Input, Output, Plugin, Schemas};

const PREVIOUS: &str = "previous";
const CURRENT: &str = "current";
const DELTA: &str = "delta";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The key column(s).
    #[serde(default = "default_key")]
    key: Vec<String>,
    /// The name of the op column.
    #[serde(default = "default_op")]
    op_column: String,
}

fn default_key() -> Vec<String> {
    vec!["PK".into()]
}
fn default_op() -> String {
    "op".into()
}

/// The previous export, in row format, with an index from key to row.
#[derive(Default)]
struct Previous {
    /// Every column, key columns first: compared whole to find updates, decoded for
    /// deletes. A row's key bytes are its prefix (the row format concatenates columns).
    rows: Vec<Rows>,
    /// The global number of each batch's first row.
    starts: Vec<u32>,
    total: u32,
    /// Key hash -> row: the hash is already spread, so the map does not hash it again.
    index: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
    /// Keys whose hash collides with another key's (rare): by their bytes.
    collided: HashMap<Box<[u8]>, u32>,
    /// Whether `current` had each row's key.
    seen: Vec<bool>,
}

impl Previous {
    fn locate(&self, global: u32) -> (usize, usize) {
        let batch = self.starts.partition_point(|&s| s <= global) - 1;
        (batch, (global - self.starts[batch]) as usize)
    }

    /// Whether the row's key is `key`: the row starts with the key's bytes. The row
    /// format's encodings are prefix-free, so a prefix match is an exact key match.
    fn has_key(&self, global: u32, key: &[u8]) -> bool {
        let (b, r) = self.locate(global);
        self.rows[b].row(r).data().starts_with(key)
    }

    fn find(&self, key: &[u8]) -> Option<u32> {
        let found = *self.index.get(&hash(key))?;
        if self.has_key(found, key) {
            return Some(found);
        }
        self.collided.get(key).copied()
    }
}

/// FxHash over 8-byte words: fast, and good enough with the collision fallback.
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        h = (h.rotate_left(5) ^ u64::from_le_bytes(chunk.try_into().expect("8 bytes")))
            .wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    h ^ (h >> 29)
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

struct ExportDelta {
    config: Config,
    schema: SchemaRef,
    output: SchemaRef,
    /// Column indices, key columns first.
    order: Vec<usize>,
    rows: RowConverter,
    keys: RowConverter,
    previous: Previous,
    /// The next previous batch to scan for deletes.
    drained: usize,
}

impl ExportDelta {
    fn encode(&self, batch: &RecordBatch, input: &str) -> Result<(Rows, Rows), Error> {
        let ordered: Vec<ArrayRef> = self
            .order
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        let rows = self
            .rows
            .convert_columns(&ordered)
            .map_err(|e| Error::Internal(format!("{input}: {e}")))?;
        let keys = self
            .keys
            .convert_columns(&ordered[..self.config.key.len()])
            .map_err(|e| Error::Internal(format!("{input}: {e}")))?;
        Ok((rows, keys))
    }

    fn null_key(&self, batch: &RecordBatch, row: usize) -> bool {
        self.order[..self.config.key.len()]
            .iter()
            .any(|&i| batch.column(i).is_null(row))
    }

    fn add_previous(&mut self, batch: &RecordBatch, out: &mut Emit) -> Result<(), Error> {
        let (rows, keys) = self.encode(batch, PREVIOUS)?;
        let start = self.previous.total;
        self.previous.starts.push(start);
        self.previous.rows.push(rows);
        for r in 0..batch.num_rows() {
            let global = start + r as u32;
            let key = keys.row(r).data();
            if self.null_key(batch, r) {
                out.count("previous.null_keys", 1);
                continue;
            }
            if self.previous.find(key).is_some() {
                out.count("previous.duplicate_keys", 1);
                continue;
            }
            match self.previous.index.entry(hash(key)) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(global);
                }
                std::collections::hash_map::Entry::Occupied(_) => {
                    self.previous.collided.insert(key.into(), global);
                }
            }
        }
        self.previous.total = start.checked_add(batch.num_rows() as u32).ok_or_else(|| {
            Error::Internal("the previous export has more than 4 billion rows".into())
        })?;
        // Skipped rows count as seen, so they are never reported as deleted.
        self.previous
            .seen
            .resize(self.previous.total as usize, false);
        for r in 0..batch.num_rows() {
            let global = start + r as u32;
            let key = keys.row(r).data();
            if self.null_key(batch, r) || self.previous.find(key) != Some(global) {
                self.previous.seen[global as usize] = true;
            }
        }
        Ok(())
    }

    fn diff_current(&mut self, batch: &RecordBatch, out: &mut Emit) -> Result<(), Error> {
        let (rows, keys) = self.encode(batch, CURRENT)?;
        let mut ops: Vec<&'static str> = Vec::new();
        let mut picked: Vec<u32> = Vec::new();
        let key_name = self.config.key.join(",");
        for r in 0..batch.num_rows() {
            if self.null_key(batch, r) {
                out.reject(r, Some(&key_name), "the key is NULL");
                continue;
            }
            let op = match self.previous.find(keys.row(r).data()) {
                None => "INSERT",
                Some(global) => {
                    if std::mem::replace(&mut self.previous.seen[global as usize], true) {
                        out.reject(
                            r,
                            Some(&key_name),
                            "duplicate key: an earlier row of the current export has it",
                        );
                        continue;
                    }
                    let (b, pr) = self.previous.locate(global);
                    if self.previous.rows[b].row(pr) == rows.row(r) {
                        continue;
                    }
                    "UPDATE"
                }
            };
            ops.push(op);
            picked.push(r as u32);
        }
        if picked.is_empty() {
            return Ok(());
        }
        let indices = UInt32Array::from(picked);
        let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(ops))];
        for column in batch.columns() {
            columns.push(take(column.as_ref(), &indices, None)?);
        }
        out.emit(DELTA, RecordBatch::try_new(self.output.clone(), columns)?);
        Ok(())
    }

    /// The deletes of one previous batch: its rows whose key `current` never had.
    fn deletes(&mut self, batch: usize) -> Result<Option<RecordBatch>, Error> {
        let rows = std::mem::replace(&mut self.previous.rows[batch], self.rows.empty_rows(0, 0));
        let start = self.previous.starts[batch] as usize;
        let gone: Vec<usize> = (0..rows.num_rows())
            .filter(|&r| !self.previous.seen[start + r])
            .collect();
        if gone.is_empty() {
            return Ok(None);
        }
        let decoded = self
            .rows
            .convert_rows(gone.iter().map(|&r| rows.row(r)))
            .map_err(|e| Error::Internal(format!("decoding previous rows: {e}")))?;
        // Back from key-first order to the schema's order.
        let mut by_schema: Vec<Option<ArrayRef>> = vec![None; self.order.len()];
        for (array, &i) in decoded.into_iter().zip(&self.order) {
            by_schema[i] = Some(array);
        }
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(StringArray::from(vec!["DELETE"; gone.len()]))];
        columns.extend(
            by_schema
                .into_iter()
                .map(|a| a.expect("every column decoded")),
        );
        Ok(Some(RecordBatch::try_new(self.output.clone(), columns)?))
    }
}

impl Plugin for ExportDelta {
    type Config = Config;

    fn info() -> Info {
        Info::new(
            "export-delta",
            env!("CARGO_PKG_VERSION"),
            "INSERT/UPDATE/DELETE rows between two full exports of a table, by key",
        )
        .input(
            Input::any(PREVIOUS)
                .describe("the previous full export (may be empty: then every row is an INSERT)"),
        )
        .input(Input::any(CURRENT).describe("the current full export, with the same columns"))
        .output(
            Output::dynamic(DELTA)
                .describe("the op column, then the export's columns: one row per changed key"),
        )
        .stateful()
    }

    fn open(config: Config, inputs: &Schemas, _ctx: &Context) -> Result<Self, Error> {
        let schema_of = |name: &str| {
            inputs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| s.clone())
        };
        let (Some(previous), Some(current)) = (schema_of(PREVIOUS), schema_of(CURRENT)) else {
            return Err(Error::Schema(
                "needs inputs `previous` and `current`".into(),
            ));
        };
        let shape = |s: &Schema| {
            s.fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect::<Vec<_>>()
        };
        if shape(&previous) != shape(&current) {
            return Err(Error::Schema(format!(
                "`previous` and `current` must have the same columns and types: {:?} vs {:?}",
                shape(&previous),
                shape(&current)
            )));
        }
        if config.key.is_empty() {
            return Err(Error::Config("`key` names no column".into()));
        }
        let mut order = Vec::new();
        for name in &config.key {
            let i = current.index_of(name).map_err(|_| {
                Error::Config(format!(
                    "key column `{name}` is not in the export (columns: {:?})",
                    shape(&current)
                ))
            })?;
            order.push(i);
        }
        let rest: Vec<usize> = (0..current.fields().len())
            .filter(|i| !order.contains(i))
            .collect();
        order.extend(rest);
        if current.index_of(&config.op_column).is_ok() {
            return Err(Error::Config(format!(
                "op column `{}` clashes with a column of the export",
                config.op_column
            )));
        }
        let sort_fields = |idx: &[usize]| {
            idx.iter()
                .map(|&i| SortField::new(current.field(i).data_type().clone()))
                .collect::<Vec<_>>()
        };
        let rows =
            RowConverter::new(sort_fields(&order)).map_err(|e| Error::Schema(e.to_string()))?;
        let keys = RowConverter::new(sort_fields(&order[..config.key.len()]))
            .map_err(|e| Error::Schema(e.to_string()))?;
        let mut fields = vec![Arc::new(Field::new(
            &config.op_column,
            DataType::Utf8,
            false,
        ))];
        fields.extend(current.fields().iter().cloned());
        Ok(ExportDelta {
            config,
            schema: current,
            output: Arc::new(Schema::new(fields)),
            order,
            rows,
            keys,
            previous: Previous::default(),
            drained: 0,
        })
    }

    fn output_schemas(&self) -> Vec<(String, SchemaRef)> {
        vec![(DELTA.into(), self.output.clone())]
    }

    fn push(&mut self, input: &str, batch: RecordBatch, out: &mut Emit) -> Result<(), Error> {
        debug_assert_eq!(batch.num_columns(), self.schema.fields().len());
        match input {
            PREVIOUS => self.add_previous(&batch, out),
            _ => self.diff_current(&batch, out),
        }
    }

    /// Deletes come out a previous batch at a time, freeing each as it goes.
    fn drain(&mut self, out: &mut Emit) -> Result<bool, Error> {
        while self.drained < self.previous.rows.len() {
            let batch = self.drained;
            self.drained += 1;
            if let Some(deletes) = self.deletes(batch)? {
                out.emit(DELTA, deletes);
                return Ok(self.drained < self.previous.rows.len());
            }
        }
        Ok(false)
    }
}

sluice_sdk::export_plugin!(ExportDelta);

#[cfg(test)]
mod tests {
    use sluice_sdk::arrow::array::Int64Array;

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("PK", DataType::Utf8, true),
            Field::new("V", DataType::Int64, true),
        ]))
    }

    fn batch(rows: &[(&str, Option<i64>)]) -> RecordBatch {
        let pk: StringArray = rows.iter().map(|r| Some(r.0)).collect();
        let v: Int64Array = rows.iter().map(|r| r.1).collect();
        RecordBatch::try_new(schema(), vec![Arc::new(pk), Arc::new(v)]).unwrap()
    }

    /// A session over two inputs of `schema()`.
    fn open(config: &str) -> ExportDelta {
        let inputs = vec![
            (PREVIOUS.to_string(), schema()),
            (CURRENT.to_string(), schema()),
        ];
        let ctx = Context {
            run_id: "r".into(),
            run_time_micros: 0,
            table: "t".into(),
            params: vec![],
        };
        ExportDelta::open(sluice_sdk::parse_config(config).unwrap(), &inputs, &ctx).unwrap()
    }

    fn delta(
        previous: &[&[(&str, Option<i64>)]],
        current: &[&[(&str, Option<i64>)]],
    ) -> Vec<(String, String, Option<i64>)> {
        let mut plugin = open("{}");
        let mut out = Emit::default();
        for b in previous {
            plugin.push(PREVIOUS, batch(b), &mut out).unwrap();
        }
        for b in current {
            plugin.push(CURRENT, batch(b), &mut out).unwrap();
        }
        plugin.finish(&mut out).unwrap();
        while plugin.drain(&mut out).unwrap() {}
        let mut rows = Vec::new();
        for b in out.batches(DELTA) {
            let op = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            let pk = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
            let v = b.column(2).as_any().downcast_ref::<Int64Array>().unwrap();
            for r in 0..b.num_rows() {
                rows.push((
                    op.value(r).to_string(),
                    pk.value(r).to_string(),
                    v.is_valid(r).then(|| v.value(r)),
                ));
            }
        }
        rows.sort();
        rows
    }

    fn row(op: &str, pk: &str, v: Option<i64>) -> (String, String, Option<i64>) {
        (op.into(), pk.into(), v)
    }

    #[test]
    fn inserts_updates_deletes_and_unchanged_keys() {
        let got = delta(
            &[&[("a", Some(1)), ("b", Some(2))], &[("c", Some(3))]],
            &[&[("a", Some(1)), ("b", Some(20)), ("d", Some(4))]],
        );
        assert_eq!(
            got,
            [
                row("DELETE", "c", Some(3)),
                row("INSERT", "d", Some(4)),
                row("UPDATE", "b", Some(20))
            ]
        );
    }

    #[test]
    fn changes_to_and_from_null_are_updates() {
        let got = delta(
            &[&[("a", Some(1)), ("b", None), ("c", None)]],
            &[&[("a", None), ("b", Some(2)), ("c", None)]],
        );
        assert_eq!(got, [row("UPDATE", "a", None), row("UPDATE", "b", Some(2))]);
    }

    #[test]
    fn null_and_duplicate_keys_are_rejected_in_current_and_skipped_in_previous() {
        let mut plugin = open("{\"key\": [\"PK\"]}");
        let mut out = Emit::default();
        plugin
            .push(PREVIOUS, batch(&[("a", Some(1)), ("a", Some(2))]), &mut out)
            .unwrap();
        let pk: StringArray = vec![Some("a"), None, Some("a")].into_iter().collect();
        let v = Int64Array::from(vec![Some(1), Some(5), Some(9)]);
        let current = RecordBatch::try_new(schema(), vec![Arc::new(pk), Arc::new(v)]).unwrap();
        let mut pushed = Emit::default();
        plugin.push(CURRENT, current, &mut pushed).unwrap();
        assert_eq!(pushed.rejected(), 2, "the NULL key and the second `a`");
        assert_eq!(
            pushed.batches(DELTA).count(),
            0,
            "`a` = 1 is unchanged against the first previous `a`"
        );
        plugin.finish(&mut pushed).unwrap();
        assert!(!plugin.drain(&mut pushed).unwrap());
        assert_eq!(
            pushed.batches(DELTA).count(),
            0,
            "the skipped duplicate is not a delete"
        );
    }

    #[test]
    fn a_hash_collision_never_matches_the_wrong_key() {
        let mut plugin = open("{}");
        let mut out = Emit::default();
        plugin
            .push(
                PREVIOUS,
                batch(&[("ab", Some(1)), ("a", Some(2))]),
                &mut out,
            )
            .unwrap();
        // Pretend "a" hashed like "ab": the index points at "ab", "a" lives in `collided`.
        let (_, key_a) = plugin.encode(&batch(&[("a", Some(2))]), CURRENT).unwrap();
        let (_, key_ab) = plugin.encode(&batch(&[("ab", Some(1))]), CURRENT).unwrap();
        let (a, ab) = (key_a.row(0).data().to_vec(), key_ab.row(0).data().to_vec());
        plugin.previous.index.remove(&hash(&a));
        plugin.previous.index.insert(hash(&a), 0);
        assert_eq!(
            plugin.previous.find(&a),
            None,
            "the row at the hashed slot is `ab`, not `a`"
        );
        plugin.previous.collided.insert(a.clone().into(), 1);
        assert_eq!(plugin.previous.find(&a), Some(1));
        assert_eq!(plugin.previous.find(&ab), Some(0));
    }

    #[test]
    fn without_a_previous_export_everything_is_an_insert() {
        assert_eq!(
            delta(&[], &[&[("a", Some(1))]]),
            [row("INSERT", "a", Some(1))]
        );
    }
}
