//! `sorted_by`: rows that claim an order must have it. Each batch's sort columns are
//! encoded with Arrow's row format (so any number of columns, of any type, compare as
//! bytes), checked row against row and against the last row of the batch before.

use arrow::compute::SortOptions;
use arrow::datatypes::Schema;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use arrow::row::{OwnedRow, RowConverter, SortField};
use parquet::errors::ParquetError;
use parquet::file::metadata::SortingColumn;

/// Ascending, NULLs first: what `sorted_by` means, and what the footer records.
const ORDER: SortOptions = SortOptions {
    descending: false,
    nulls_first: true,
};

pub(super) struct SortCheck {
    pub names: Vec<String>,
    indices: Vec<usize>,
    converter: RowConverter,
    last: Option<OwnedRow>,
}

impl SortCheck {
    /// `None` when no order is declared, or for a file without the columns (the rejects,
    /// another output of the plugin): the table checks at start that some output has them.
    pub fn new(schema: &Schema, names: &[String]) -> Result<Option<Self>, ParquetError> {
        let Ok(indices) = names
            .iter()
            .map(|n| schema.index_of(n))
            .collect::<Result<Vec<_>, _>>()
        else {
            return Ok(None);
        };
        if indices.is_empty() {
            return Ok(None);
        }
        let fields = indices
            .iter()
            .map(|&i| SortField::new_with_options(schema.field(i).data_type().clone(), ORDER))
            .collect();
        let converter = RowConverter::new(fields).map_err(arrow_error)?;
        Ok(Some(SortCheck {
            names: names.to_vec(),
            indices,
            converter,
            last: None,
        }))
    }

    /// The footer's `sorting_columns` for each row group.
    pub fn sorting_columns(&self) -> Vec<SortingColumn> {
        self.indices
            .iter()
            .map(|&i| SortingColumn {
                column_idx: i as i32,
                descending: ORDER.descending,
                nulls_first: ORDER.nulls_first,
            })
            .collect()
    }

    /// The first row of `batch` that sorts before the row above it, if any.
    pub fn first_out_of_order(
        &mut self,
        batch: &RecordBatch,
    ) -> Result<Option<usize>, ParquetError> {
        if batch.num_rows() == 0 {
            return Ok(None);
        }
        let columns: Vec<_> = self
            .indices
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        let rows = self
            .converter
            .convert_columns(&columns)
            .map_err(arrow_error)?;
        if let Some(last) = &self.last {
            if rows.row(0) < last.row() {
                return Ok(Some(0));
            }
        }
        for i in 1..rows.num_rows() {
            if rows.row(i) < rows.row(i - 1) {
                return Ok(Some(i));
            }
        }
        self.last = Some(rows.row(rows.num_rows() - 1).owned());
        Ok(None)
    }
}

fn arrow_error(e: ArrowError) -> ParquetError {
    ParquetError::General(e.to_string())
}
