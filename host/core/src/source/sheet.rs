//! Spreadsheet sheets (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`, through calamine) as rows
//! of text fields, so they go through the same typing as CSV: declared types, or inference.
//! Cells keep their text form: a zip code stored as the number `8638` reads as `"8638"`,
//! not `8638.0`, so a text column can still be repaired.

use std::io::{Cursor, Read};

use calamine::{open_workbook_auto_from_rs, Data, Range, Reader};

use super::csv_reader::column_names;
use super::files::InputObject;
use super::raw::RawBatch;
use super::CsvOptions;
use super::SourceError;

/// File name endings read as spreadsheets.
const EXTENSIONS: [&str; 5] = [".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"];

pub(crate) fn is_spreadsheet(uri: &str, options: &CsvOptions) -> bool {
    options.sheet.is_some()
        || EXTENSIONS
            .iter()
            .any(|e| uri.to_ascii_lowercase().ends_with(e))
}

/// One sheet, loaded whole (spreadsheets hold at most ~1M rows), read out in batches.
pub(crate) struct SheetReader {
    /// `file[sheet]`: what errors name.
    pub path: String,
    pub names: Vec<String>,
    range: Range<Data>,
    /// The next row of `range` to read (0-based).
    next: usize,
    /// The sheet row number of `range`'s first row (1-based), for error lines.
    first_row: u64,
}

impl SheetReader {
    pub fn open(object: &InputObject, options: &CsvOptions) -> Result<Self, SourceError> {
        let mut bytes = Vec::new();
        object
            .open()?
            .read_to_end(&mut bytes)
            .map_err(|e| SourceError::io(&object.uri, e))?;
        let bad = |message: String| SourceError::Schema {
            file: object.uri.clone(),
            message,
        };
        let mut workbook = open_workbook_auto_from_rs(Cursor::new(bytes))
            .map_err(|e| bad(format!("not a readable spreadsheet: {e}")))?;
        let sheets = workbook.sheet_names();
        let sheet = match &options.sheet {
            Some(name) if sheets.contains(name) => name.clone(),
            Some(name) => return Err(bad(format!("no sheet `{name}` (sheets: {sheets:?})"))),
            None => sheets
                .first()
                .cloned()
                .ok_or_else(|| bad("the workbook has no sheets".into()))?,
        };
        let range = workbook
            .worksheet_range(&sheet)
            .map_err(|e| bad(format!("sheet `{sheet}`: {e}")))?;
        let first_row = range.start().map(|(row, _)| row as u64 + 1).unwrap_or(1);
        let mut reader = SheetReader {
            path: format!("{}[{sheet}]", object.uri),
            names: Vec::new(),
            range,
            next: 0,
            first_row,
        };
        reader.names = reader.read_names(options)?;
        Ok(reader)
    }

    fn read_names(&mut self, options: &CsvOptions) -> Result<Vec<String>, SourceError> {
        let header = if options.header && self.range.height() > 0 {
            self.next = 1;
            let row = self.range.rows().next().expect("height > 0");
            Some(row.iter().map(cell_text).collect::<Vec<_>>())
        } else {
            None
        };
        column_names(options, header, &self.path, self.first_row)
    }

    /// Up to `max_rows` rows as text fields; `None` after the last. Rows wholly empty are skipped.
    pub fn next_raw(&mut self, max_rows: usize) -> Result<Option<RawBatch>, SourceError> {
        let width = self.names.len();
        let mut raw = RawBatch::new(width, max_rows.min(1 << 16));
        while raw.rows() < max_rows && self.next < self.range.height() {
            let index = self.next;
            self.next += 1;
            let line = self.first_row + index as u64;
            let cells: Vec<&Data> = (0..self.range.width())
                .map(|c| self.range.get((index, c)).unwrap_or(&Data::Empty))
                .collect();
            if cells.iter().all(|c| matches!(c, Data::Empty)) {
                continue;
            }
            if let Some(extra) = cells
                .iter()
                .skip(width)
                .position(|c| !matches!(c, Data::Empty))
            {
                return Err(SourceError::Malformed {
                    file: self.path.clone(),
                    line,
                    message: format!(
                        "expected {width} fields, found a value in column {}",
                        width + extra + 1
                    ),
                });
            }
            for (column, cell) in raw
                .columns
                .iter_mut()
                .zip(cells.iter().copied().chain(std::iter::repeat(&Data::Empty)))
            {
                if let Data::Error(e) = cell {
                    return Err(SourceError::Malformed {
                        file: self.path.clone(),
                        line,
                        message: format!("a cell holds the error {e}"),
                    });
                }
                column
                    .push(cell_text(cell).as_bytes())
                    .map_err(|_| SourceError::column_too_large(&self.path, line))?;
            }
            raw.lines.push(line);
        }
        Ok((raw.rows() > 0).then_some(raw))
    }
}

/// A cell as the text a CSV export of it would hold.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        // Whole numbers without `.0`: numeric ids and zip codes stay digits.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) if d.is_datetime() => excel_datetime(d.as_f64()),
        Data::DateTime(d) => d.as_f64().to_string(),
        Data::Error(e) => e.to_string(),
    }
}

/// An Excel serial date (days since 1899-12-30) as `YYYY-MM-DD[ HH:MM:SS]`.
fn excel_datetime(serial: f64) -> String {
    let days = serial.floor() as i64;
    let seconds = ((serial - serial.floor()) * 86_400.0).round() as i64;
    let (days, seconds) = if seconds == 86_400 {
        (days + 1, 0)
    } else {
        (days, seconds)
    };
    let date =
        time::Date::from_julian_day((days - 25_569 + 2_440_588) as i32).unwrap_or(time::Date::MIN);
    let ymd = format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month() as u8,
        date.day()
    );
    if seconds == 0 {
        ymd
    } else {
        format!(
            "{ymd} {:02}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_their_text_form() {
        assert_eq!(cell_text(&Data::Float(8638.0)), "8638");
        assert_eq!(cell_text(&Data::Float(2.5)), "2.5");
        assert_eq!(cell_text(&Data::Int(7)), "7");
        assert_eq!(cell_text(&Data::String("06705".into())), "06705");
        assert_eq!(excel_datetime(45_358.0), "2024-03-07");
        assert_eq!(excel_datetime(45_358.5), "2024-03-07 12:00:00");
    }
}
