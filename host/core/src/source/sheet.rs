//! Spreadsheet sheets (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`, through calamine) as rows
//! of text fields, so they go through the same typing as CSV: declared types, or inference.
//! Cells keep their text form: a zip code stored as the number `8638` reads as `"8638"`,
//! not `8638.0`, so a text column can still be repaired.

use std::io::{Cursor, Read};

use calamine::{open_workbook_auto_from_rs, Cell, Data, DataRef, Range, Reader, Sheets};

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
        check_parts(&bytes, options.max_sheet_mib).map_err(|message| SourceError::Malformed {
            file: object.uri.clone(),
            line: 0,
            message,
        })?;
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
        let range =
            bounded_range(&mut workbook, &sheet, options.max_sheet_cells).map_err(|e| match e {
                Bounds::TooLarge(message, line) => SourceError::Malformed {
                    file: object.uri.clone(),
                    line,
                    message,
                },
                Bounds::Unreadable(message) => bad(format!("sheet `{sheet}`: {message}")),
            })?;
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

/// Why a sheet could not be read within bounds.
enum Bounds {
    /// The message, and the sheet row (1-based) that made the range too large.
    TooLarge(String, u64),
    Unreadable(String),
}

/// Refuses a workbook whose parts (sheets, shared strings) would expand past the limit:
/// calamine reads the shared strings whole when it opens the file, so a 1.5 MB file whose
/// strings expand to 1.5 GB must be stopped before.
fn check_parts(bytes: &[u8], max_mib: u64) -> Result<(), String> {
    if !bytes.starts_with(b"PK") {
        return Ok(()); // not a zip: .xls, whose format caps a sheet at 65,536 x 256 cells
    }
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(()); // calamine reports the unreadable file
    };
    for index in 0..zip.len() {
        let Ok(part) = zip.by_index_raw(index) else {
            continue;
        };
        if part.size() > max_mib << 20 {
            return Err(format!(
                "workbook part {} expands to {} MiB, more than max_sheet_mib = {max_mib}",
                part.name(),
                part.size() >> 20
            ));
        }
    }
    Ok(())
}

/// The sheet's cells, with the used range checked cell by cell before anything dense is
/// allocated: one cell at `XFD1048576` would otherwise make a 17-billion-cell range.
fn bounded_range<RS: std::io::Read + std::io::Seek>(
    workbook: &mut Sheets<RS>,
    sheet: &str,
    max_cells: u64,
) -> Result<Range<Data>, Bounds> {
    let unreadable = |e: &dyn std::fmt::Display| Bounds::Unreadable(e.to_string());
    match workbook {
        Sheets::Xlsx(x) => {
            let mut reader = x
                .worksheet_cells_reader(sheet)
                .map_err(|e| unreadable(&e))?;
            collect_cells(|| reader.next_cell().map_err(|e| unreadable(&e)), max_cells)
        }
        Sheets::Xlsb(x) => {
            let mut reader = x
                .worksheet_cells_reader(sheet)
                .map_err(|e| unreadable(&e))?;
            collect_cells(|| reader.next_cell().map_err(|e| unreadable(&e)), max_cells)
        }
        other => {
            let range = other.worksheet_range(sheet).map_err(|e| unreadable(&e))?;
            let (rows, columns) = range.get_size();
            match rows as u64 * columns as u64 > max_cells {
                true => Err(too_large(
                    rows as u64 * columns as u64,
                    max_cells,
                    rows as u64,
                )),
                false => Ok(range),
            }
        }
    }
}

fn collect_cells<'a>(
    mut next: impl FnMut() -> Result<Option<Cell<DataRef<'a>>>, Bounds>,
    max_cells: u64,
) -> Result<Range<Data>, Bounds> {
    let mut cells = Vec::new();
    let (mut low, mut high) = ((u32::MAX, u32::MAX), (0u32, 0u32));
    while let Some(cell) = next()? {
        if matches!(cell.get_value(), DataRef::Empty) {
            continue;
        }
        let (row, column) = cell.get_position();
        low = (low.0.min(row), low.1.min(column));
        high = (high.0.max(row), high.1.max(column));
        let area = u64::from(high.0 - low.0 + 1) * u64::from(high.1 - low.1 + 1);
        if area > max_cells {
            return Err(too_large(area, max_cells, u64::from(row) + 1));
        }
        cells.push(Cell::new(
            (row, column),
            Data::from(cell.get_value().clone()),
        ));
    }
    Ok(Range::from_sparse(cells))
}

fn too_large(cells: u64, max_cells: u64, row: u64) -> Bounds {
    Bounds::TooLarge(
        format!(
            "the sheet's used range spans {cells} cells, more than max_sheet_cells = {max_cells} \
         (a stray cell far from the data makes the range that large)"
        ),
        row,
    )
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
