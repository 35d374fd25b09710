//! Upsert against the previous output file (pipeline 000): rows whose key the previous file
//! has keep its `keep` columns (the first `created_*`), and its `touch` columns too when
//! nothing else changed and `touch_unchanged` is off; rows only in the previous file are
//! carried over. The previous file is read whole into memory, which suits the dimension
//! tables upserts are for, not large fact tables.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, BooleanArray};
use arrow::compute::{filter_record_batch, interleave};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchReader};
use arrow::row::{RowConverter, Rows, SortField};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::SinkError;
use super::UpsertSpec;
use crate::storage::Store;

pub struct Upsert {
    previous: Vec<RecordBatch>,
    index: HashMap<Box<[u8]>, (usize, usize)>,
    seen: Vec<Vec<bool>>,
    keys: Columns,
    content: Columns,
    previous_content: Vec<Rows>,
    keep: Vec<usize>,
    touch: Vec<usize>,
    touch_unchanged: bool,
}

/// Some columns of a schema, encoded as comparable rows.
struct Columns {
    indices: Vec<usize>,
    converter: RowConverter,
}

impl Columns {
    fn new(schema: &SchemaRef, indices: Vec<usize>) -> Result<Self, String> {
        let fields = indices
            .iter()
            .map(|&i| SortField::new(schema.field(i).data_type().clone()))
            .collect();
        Ok(Columns {
            indices,
            converter: RowConverter::new(fields).map_err(|e| e.to_string())?,
        })
    }

    fn rows(&self, batch: &RecordBatch) -> Result<Rows, String> {
        let columns: Vec<ArrayRef> = self
            .indices
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        self.converter
            .convert_columns(&columns)
            .map_err(|e| e.to_string())
    }
}

/// Which columns of an output are its key, kept, touched, and compared content.
struct Roles {
    keys: Vec<usize>,
    keep: Vec<usize>,
    touch: Vec<usize>,
    content: Vec<usize>,
}

impl Roles {
    fn of(schema: &SchemaRef, output: &str, spec: &UpsertSpec) -> Result<Self, String> {
        let index_of = |name: &String| {
            schema
                .index_of(name)
                .map_err(|_| format!("output `{output}` has no column `{name}`"))
        };
        let default_key = || vec![schema.field(0).name().clone()];
        let key_names = spec.keys.get(output).cloned().unwrap_or_else(default_key);
        let keys = key_names
            .iter()
            .map(index_of)
            .collect::<Result<Vec<_>, _>>()?;
        let present = |names: &[String]| {
            names
                .iter()
                .filter(|c| schema.index_of(c).is_ok())
                .map(index_of)
                .collect::<Result<Vec<_>, _>>()
        };
        let (keep, touch) = (present(&spec.keep)?, present(&spec.touch)?);
        let content = (0..schema.fields().len())
            .filter(|i| !keep.contains(i) && !touch.contains(i))
            .collect();
        Ok(Roles {
            keys,
            keep,
            touch,
            content,
        })
    }
}

/// The previous file's batches, refused when its columns are not this run's.
fn read_previous(body: bytes::Bytes, schema: &SchemaRef) -> Result<Vec<RecordBatch>, String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(body)
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;
    let shape = |s: &arrow::datatypes::Schema| {
        s.fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect::<Vec<_>>()
    };
    if shape(&reader.schema()) != shape(schema) {
        return Err(format!(
            "the existing file has columns {:?}, this run writes {:?}; move the old file aside",
            shape(&reader.schema()),
            shape(schema)
        ));
    }
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

impl Upsert {
    /// Reads the previous file at `key`, if there is one.
    pub fn load(
        store: &dyn Store,
        key: &str,
        schema: &SchemaRef,
        output: &str,
        spec: &UpsertSpec,
    ) -> Result<Option<Self>, SinkError> {
        let uri = store.uri(key);
        let fail = |message: String| SinkError::Parquet {
            uri: uri.clone(),
            message: format!("upsert: {message}"),
        };
        let Roles {
            keys,
            keep,
            touch,
            content,
        } = Roles::of(schema, output, spec).map_err(&fail)?;
        let Some(found) = store.get(key)? else {
            return Ok(None);
        };
        let previous = read_previous(found.body, schema).map_err(&fail)?;
        let keys = Columns::new(schema, keys).map_err(&fail)?;
        let content = Columns::new(schema, content).map_err(&fail)?;
        let mut index = HashMap::new();
        let mut previous_content = Vec::with_capacity(previous.len());
        for (b, batch) in previous.iter().enumerate() {
            let rows = keys.rows(batch).map_err(&fail)?;
            for r in 0..batch.num_rows() {
                index.entry(Box::from(rows.row(r).data())).or_insert((b, r));
            }
            previous_content.push(content.rows(batch).map_err(&fail)?);
        }
        let seen = previous.iter().map(|b| vec![false; b.num_rows()]).collect();
        Ok(Some(Upsert {
            previous,
            index,
            seen,
            keys,
            content,
            previous_content,
            keep,
            touch,
            touch_unchanged: spec.touch_unchanged,
        }))
    }

    /// The batch with the previous values of matched rows' `keep` (and maybe `touch`) columns.
    pub fn apply(&mut self, batch: RecordBatch) -> Result<RecordBatch, SinkError> {
        let fail = SinkError::Upsert;
        let keys = self.keys.rows(&batch).map_err(fail)?;
        let content = self.content.rows(&batch).map_err(fail)?;
        let mut keep_from = Vec::with_capacity(batch.num_rows());
        let mut touch_from = Vec::with_capacity(batch.num_rows());
        for r in 0..batch.num_rows() {
            match self.index.get(keys.row(r).data()) {
                Some(&(b, pr)) => {
                    self.seen[b][pr] = true;
                    keep_from.push((b + 1, pr));
                    let unchanged = self.previous_content[b].row(pr) == content.row(r);
                    touch_from.push(if unchanged && !self.touch_unchanged {
                        (b + 1, pr)
                    } else {
                        (0, r)
                    });
                }
                None => {
                    keep_from.push((0, r));
                    touch_from.push((0, r));
                }
            }
        }
        let mut columns = batch.columns().to_vec();
        for (targets, from) in [(&self.keep, &keep_from), (&self.touch, &touch_from)] {
            for &c in targets {
                let mut sources: Vec<&dyn Array> = vec![batch.column(c).as_ref()];
                sources.extend(self.previous.iter().map(|p| p.column(c).as_ref()));
                columns[c] = interleave(&sources, from).map_err(|e| fail(e.to_string()))?;
            }
        }
        RecordBatch::try_new(batch.schema(), columns).map_err(|e| fail(e.to_string()))
    }

    /// The previous rows this run did not have: carried over unchanged.
    pub fn leftovers(&self) -> Result<Vec<RecordBatch>, SinkError> {
        self.previous
            .iter()
            .zip(&self.seen)
            .map(|(batch, seen)| {
                let keep = BooleanArray::from(seen.iter().map(|s| !s).collect::<Vec<_>>());
                filter_record_batch(batch, &keep).map_err(|e| SinkError::Upsert(e.to_string()))
            })
            .filter(|b| b.as_ref().map_or(true, |b| b.num_rows() > 0))
            .collect()
    }
}
