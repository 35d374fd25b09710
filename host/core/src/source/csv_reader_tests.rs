//! Tests of `CsvInput`: headers, inferred and declared types, NULLs, row lines, batching, gzip and read errors.

use std::io::Write;
use std::path::Path;

use arrow::array::AsArray;
use arrow::datatypes::{
    DataType, Date32Type, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use arrow::record_batch::RecordBatch;

use super::*;
use crate::source::Select;
use crate::storage::Storage;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

fn open(pattern: &str, options: &CsvOptions, batch_rows: usize) -> Result<CsvInput, SourceError> {
    let objects = crate::source::expand(pattern, Select::All, &Storage::local())?;
    CsvInput::from_objects(objects, options, batch_rows)
}

/// Every batch, read with one parse thread and with three, which must agree.
fn read(pattern: &str, options: &CsvOptions, batch_rows: usize) -> Vec<SourceBatch> {
    let one = read_with(pattern, options, batch_rows, 1).unwrap_or_else(|e| panic!("{e}"));
    let three = read_with(pattern, options, batch_rows, 3).unwrap_or_else(|e| panic!("{e}"));
    assert_same(&one, &three);
    one
}

fn read_with(
    pattern: &str,
    options: &CsvOptions,
    batch_rows: usize,
    threads: usize,
) -> Result<Vec<SourceBatch>, SourceError> {
    let input = open(pattern, options, batch_rows)?.with_threads(threads);
    let mut batches = Vec::new();
    input.read_all(|batch| {
        batches.push(batch);
        true
    })?;
    Ok(batches)
}

fn assert_same(one: &[SourceBatch], other: &[SourceBatch]) {
    assert_eq!(one.len(), other.len(), "batch count");
    for (a, b) in one.iter().zip(other) {
        assert_eq!((a.file, &a.lines), (b.file, &b.lines));
        assert_eq!(a.batch, b.batch);
    }
}

fn one_batch(pattern: &str, options: &CsvOptions) -> SourceBatch {
    let mut batches = read(pattern, options, 1024);
    assert_eq!(batches.len(), 1);
    batches.remove(0)
}

/// The error that opening or reading the input ends with, the same with one parse thread
/// and with three.
fn read_error(pattern: &str, options: &CsvOptions) -> SourceError {
    let one = read_with(pattern, options, 1024, 1).expect_err("the input read without an error");
    let three =
        read_with(pattern, options, 1024, 3).expect_err("read without an error on 3 threads");
    assert_eq!(one.to_string(), three.to_string());
    one
}

fn names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

fn types(batch: &RecordBatch) -> Vec<DataType> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect()
}

fn ints(batch: &RecordBatch, column: usize) -> Vec<Option<i64>> {
    batch
        .column(column)
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

fn texts(batch: &RecordBatch, column: usize) -> Vec<Option<&str>> {
    batch.column(column).as_string::<i32>().iter().collect()
}

fn defaults() -> CsvOptions {
    CsvOptions::default_for_fixtures()
}

#[test]
fn the_header_names_the_columns_and_types_are_inferred() {
    use arrow::datatypes::DataType::{Boolean, Date32, Float64, Int64, Utf8};
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "t.csv",
        b"i,f,b,s,d,t,code\n\
          1,1.5,true,x,2024-02-29,2024-02-29 10:00:00,007\n\
          -2,2,FALSE,y,2024-03-01,2024-03-01T00:00:00,123\n",
    );
    let source = one_batch(&path, &defaults());
    let batch = &source.batch;
    assert_eq!(names(batch), ["i", "f", "b", "s", "d", "t", "code"]);
    let timestamp = DataType::Timestamp(TimeUnit::Microsecond, None);
    assert_eq!(
        types(batch),
        [Int64, Float64, Boolean, Utf8, Date32, timestamp, Utf8]
    );
    assert_eq!(ints(batch, 0), [Some(1), Some(-2)]);
    assert_eq!(
        batch
            .column(1)
            .as_primitive::<Float64Type>()
            .iter()
            .collect::<Vec<_>>(),
        [Some(1.5), Some(2.0)]
    );
    assert_eq!(
        batch.column(2).as_boolean().iter().collect::<Vec<_>>(),
        [Some(true), Some(false)]
    );
    assert_eq!(
        batch
            .column(4)
            .as_primitive::<Date32Type>()
            .iter()
            .collect::<Vec<_>>(),
        [Some(19_782), Some(19_783)]
    );
    let micros: Vec<Option<i64>> = batch
        .column(5)
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect();
    assert_eq!(
        micros,
        [Some(1_709_200_800_000_000), Some(1_709_251_200_000_000)]
    );
    // A leading zero makes a code, kept as text.
    assert_eq!(texts(batch, 6), [Some("007"), Some("123")]);
    assert_eq!(source.lines, [2, 3]);
}

#[test]
fn declared_types_override_inference() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "d.csv",
        b"id,zip,amount\n1,08638,2.5\n2,12345,3\n",
    );
    let inferred = one_batch(&path, &defaults()).batch;
    assert_eq!(
        types(&inferred),
        [DataType::Int64, DataType::Utf8, DataType::Float64]
    );

    let mut options = defaults();
    options.types.insert("id".into(), "utf8".into());
    options.types.insert("zip".into(), "int32".into());
    let batch = one_batch(&path, &options).batch;
    assert_eq!(
        types(&batch),
        [DataType::Utf8, DataType::Int32, DataType::Float64]
    );
    assert_eq!(texts(&batch, 0), [Some("1"), Some("2")]);
    assert_eq!(
        batch
            .column(1)
            .as_primitive::<Int32Type>()
            .iter()
            .collect::<Vec<_>>(),
        [Some(8638), Some(12_345)]
    );
}

#[test]
fn types_naming_a_column_the_input_lacks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "d.csv", b"id,name\n1,a\n");
    let mut options = defaults();
    options.types.insert("missing".into(), "int64".into());
    let Err(err) = open(&path, &options, 10) else {
        panic!("an unknown `types` column was accepted")
    };
    assert!(
        matches!(&err, SourceError::Schema { file, .. } if *file == path),
        "{err}"
    );
    assert!(err.to_string().contains("`missing`"), "{err}");
}

#[test]
fn empty_fields_and_declared_markers_are_null() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "n.csv", b"a,b,c\n1,,x\nNA,y,\n");
    let mut options = defaults();
    options.null = vec![String::new(), "NA".into()];
    let batch = one_batch(&path, &options).batch;
    assert_eq!(
        types(&batch),
        [DataType::Int64, DataType::Utf8, DataType::Utf8]
    );
    assert_eq!(ints(&batch, 0), [Some(1), None]);
    assert_eq!(texts(&batch, 1), [None, Some("y")]);
    assert_eq!(texts(&batch, 2), [Some("x"), None]);
    // By default only the empty field is NULL: "NA" is text, so the column is too.
    let batch = one_batch(&path, &defaults()).batch;
    assert_eq!(texts(&batch, 0), [Some("1"), Some("NA")]);
}

#[test]
fn a_quoted_newline_keeps_the_row_start_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "q.csv",
        b"id,note\n1,\"first\nsecond\"\n2,plain\n3,\"a\n\nb\"\n4,z\n",
    );
    let source = one_batch(&path, &defaults());
    assert_eq!(source.lines, [2, 4, 5, 8]);
    assert_eq!(
        texts(&source.batch, 1),
        [
            Some("first\nsecond"),
            Some("plain"),
            Some("a\n\nb"),
            Some("z")
        ]
    );
}

#[test]
fn batches_are_cut_at_batch_rows_and_never_span_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", b"n\n1\n2\n3\n");
    write(dir.path(), "b.csv", b"n\n4\n5\n");
    let pattern = format!("{}/*.csv", dir.path().display());
    let batches = read(&pattern, &defaults(), 2);
    let got: Vec<(usize, Vec<u64>, Vec<Option<i64>>)> = batches
        .iter()
        .map(|b| (b.file, b.lines.clone(), ints(&b.batch, 0)))
        .collect();
    let want = vec![
        (0, vec![2, 3], vec![Some(1), Some(2)]),
        (0, vec![4], vec![Some(3)]),
        (1, vec![2, 3], vec![Some(4), Some(5)]),
    ];
    assert_eq!(got, want);
}

#[test]
fn a_gzip_file_reads_like_the_plain_one() {
    let dir = tempfile::tempdir().unwrap();
    let text = b"id,name\n1,a\n2,\"b\nc\"\n3,\n";
    let plain = write(dir.path(), "x.csv", text);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text).unwrap();
    let gzip = write(dir.path(), "x.csv.gz", &encoder.finish().unwrap());
    let (plain, gzip) = (read(&plain, &defaults(), 2), read(&gzip, &defaults(), 2));
    assert_eq!(
        plain.iter().map(|b| b.lines.clone()).collect::<Vec<_>>(),
        [vec![2, 3], vec![5]]
    );
    assert_eq!(plain.len(), gzip.len());
    for (plain, gzip) in plain.iter().zip(&gzip) {
        assert_eq!(plain.batch, gzip.batch);
        assert_eq!(plain.lines, gzip.lines);
    }
}

#[test]
fn a_bad_value_in_a_declared_column_names_file_line_column_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "orders.csv", b"id,qty\na,1\nb,x2\n");
    let mut options = defaults();
    options.types.insert("qty".into(), "int64".into());
    let err = read_error(&path, &options);
    match &err {
        SourceError::Value {
            file,
            line,
            column,
            name,
            value,
            expected,
            hint,
        } => {
            assert_eq!((file.as_str(), *line, *column), (path.as_str(), 3, 2));
            assert_eq!(
                (
                    name.as_str(),
                    value.as_str(),
                    expected.as_str(),
                    hint.as_str()
                ),
                ("qty", "x2", "Int64", "")
            );
        }
        other => panic!("expected a value error, got {other}"),
    }
    assert_eq!(err.line(), Some(3));
    assert_eq!(
        err.to_string(),
        format!("{path}:3: column 2 `qty`: cannot parse \"x2\" as Int64")
    );
}

#[test]
fn a_bad_value_past_the_inference_rows_hints_at_declaring_the_type() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("n\n{}x\n", "7\n".repeat(INFER_ROWS));
    let path = write(dir.path(), "long.csv", text.as_bytes());
    let err = read_error(&path, &defaults());
    let bad_line = INFER_ROWS as u64 + 2;
    assert!(
        matches!(&err, SourceError::Value { line, column: 1, .. } if *line == bad_line),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "{path}:{bad_line}: column 1 `n`: cannot parse \"x\" as Int64"
        )),
        "{message}"
    );
    assert!(
        message.contains("declare the column under `types`"),
        "{message}"
    );
}

#[test]
fn a_row_with_the_wrong_number_of_fields_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let short = write(dir.path(), "short.csv", b"a,b\n1,2\n3\n");
    let err = read_error(&short, &defaults());
    assert!(
        matches!(&err, SourceError::Malformed { line: 3, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("{short}:3: expected 2 fields, found 1")
    );
    let long = write(dir.path(), "long.csv", b"a,b\n1,2\n3,4\n5,6,7\n");
    assert_eq!(
        read_error(&long, &defaults()).to_string(),
        format!("{long}:4: expected 2 fields, found 3")
    );
}

#[test]
fn declared_columns_name_the_fields_with_or_without_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = defaults();
    options.header = false;
    options.columns = Some(vec!["id".into(), "name".into()]);
    let bare = write(dir.path(), "bare.csv", b"1,a\n2,b\n");
    let source = one_batch(&bare, &options);
    assert_eq!(names(&source.batch), ["id", "name"]);
    assert_eq!(source.lines, [1, 2]);
    assert_eq!(
        (ints(&source.batch, 0), texts(&source.batch, 1)),
        (vec![Some(1), Some(2)], vec![Some("a"), Some("b")])
    );

    // With a header, `columns` replace its names, and must match its width.
    options.header = true;
    let headed = write(dir.path(), "headed.csv", b"a,b\n1,x\n");
    let source = one_batch(&headed, &options);
    assert_eq!(
        (names(&source.batch), source.lines),
        (vec!["id".to_string(), "name".to_string()], vec![2])
    );
    options.columns = Some(vec!["id".into()]);
    let err = read_error(&headed, &options);
    assert!(
        matches!(&err, SourceError::Malformed { line: 1, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("the header has 2 columns but `columns` names 1"),
        "{err}"
    );
}

#[test]
fn an_unterminated_quote_is_refused_at_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "open.csv", b"a,b\n1,\"open\n2,3\n");
    let err = read_error(&path, &defaults());
    assert!(
        matches!(&err, SourceError::Malformed { line: 2, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("unterminated quoted field"),
        "{err}"
    );
}

#[test]
fn a_record_over_the_size_limit_is_a_data_error_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = b"id,note\n1,short\n2,".to_vec();
    text.extend(std::iter::repeat_n(b'x', 3 << 20)); // one 3 MiB line, no newline
    let path = write(dir.path(), "huge.csv", &text);
    let options = CsvOptions {
        max_record_mib: 1,
        ..defaults()
    };
    match read_error(&path, &options) {
        SourceError::Malformed {
            file,
            line,
            message,
        } => {
            assert_eq!(file, path);
            assert_eq!(line, 3, "{message}");
            assert!(message.contains("larger than 1 MiB"), "{message}");
        }
        other => panic!("{other}"),
    }
    // The same file within a larger limit reads.
    let roomy = CsvOptions {
        max_record_mib: 8,
        ..defaults()
    };
    assert_eq!(one_batch(&path, &roomy).batch.num_rows(), 2);
}

#[test]
fn an_endless_quoted_field_is_bounded_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = b"id,note\n1,\"".to_vec();
    text.extend(std::iter::repeat_n(b"ab\n".as_slice(), 1 << 20).flatten()); // 3 MiB of short lines
    let path = write(dir.path(), "quoted.csv", &text);
    let options = CsvOptions {
        max_record_mib: 1,
        ..defaults()
    };
    let error = read_error(&path, &options).to_string();
    assert!(
        error.contains("larger than 1 MiB") && error.contains(":2:"),
        "{error}"
    );
}

#[test]
fn wide_rows_make_smaller_batches() {
    let dir = tempfile::tempdir().unwrap();
    // Rows of ~400 KiB: a 1 MiB budget holds three of them (the row that crosses it ends the batch).
    let wide = "x".repeat(400 << 10);
    let mut text = String::from("id,blob\n");
    for i in 0..7 {
        text.push_str(&format!("{i},{wide}\n"));
    }
    let path = write(dir.path(), "wide.csv", text.as_bytes());
    let mut options = defaults();
    options.max_batch_mib = 1;
    let batches = read(&path, &options, 65_536);
    let sizes: Vec<usize> = batches.iter().map(|b| b.batch.num_rows()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    assert_eq!(
        batches[1].lines,
        [5, 6, 7],
        "lines stay exact across batches"
    );
}

/// A file past the inference sample, with quoted line breaks, doubled quotes, CRLF and
/// blank lines: the parallel reader cuts it into chunks on its own thread.
fn tricky_rows(rows: usize, crlf: bool) -> (Vec<u8>, Vec<u64>) {
    let mut text = b"id,note,amount\n".to_vec();
    let (mut line, mut lines) = (2u64, Vec::new());
    for i in 0..rows {
        lines.push(line);
        let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let row = match i % 5 {
            0 => format!("{i},\"two\nlines, \"\"quoted\"\"\",{i}.5"),
            1 => format!("{i},5\" pipe,{i}"),
            2 => format!("{i},,-{i}"),
            _ => format!("{i},plain,{i}"),
        };
        text.extend_from_slice(row.as_bytes());
        text.extend_from_slice(end);
        line += 1 + u64::from(i % 5 == 0);
        if i % 1000 == 999 {
            text.extend_from_slice(end); // a blank line, skipped
            line += 1;
        }
    }
    (text, lines)
}

#[test]
fn parse_threads_read_the_rows_and_lines_of_one() {
    let dir = tempfile::tempdir().unwrap();
    for crlf in [false, true] {
        let (text, lines) = tricky_rows(150_000, crlf);
        let path = write(dir.path(), "big.csv", &text);
        let one = read_with(&path, &defaults(), 10_000, 1).unwrap();
        for threads in [2, 4] {
            assert_same(
                &one,
                &read_with(&path, &defaults(), 10_000, threads).unwrap(),
            );
        }
        let got: Vec<u64> = one.iter().flat_map(|b| b.lines.clone()).collect();
        let first_wrong = got.iter().zip(&lines).position(|(a, b)| a != b);
        assert_eq!(
            (got.len(), first_wrong),
            (lines.len(), None),
            "every row keeps its line"
        );
        let last = one.last().unwrap();
        let notes = texts(&last.batch, 1);
        assert_eq!(notes[notes.len() - 5], Some("two\nlines, \"quoted\""));
        assert_eq!(notes[notes.len() - 4], Some("5\" pipe"));
        assert!(one.iter().all(|b| b.batch.num_rows() <= 10_000));
    }
}

#[test]
fn parse_threads_report_the_first_error_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let (mut text, lines) = tricky_rows(150_000, false);
    // Two bad amounts: the first in file order is reported, whichever thread meets it.
    let bad = |text: &mut Vec<u8>, row: usize| {
        let needle = format!("\n{row},plain,{row}\n");
        let at = memchr::memmem::find(text, needle.as_bytes()).unwrap();
        text.splice(
            at + 1..at + needle.len() - 1,
            format!("{row},plain,x{row}").bytes(),
        );
    };
    bad(&mut text, 140_003);
    bad(&mut text, 100_003);
    let path = write(dir.path(), "bad.csv", &text);
    let options = CsvOptions {
        types: [("amount".to_string(), "float64".to_string())].into(),
        ..defaults()
    };
    for threads in [1, 4] {
        let err = read_with(&path, &options, 4_096, threads).unwrap_err();
        assert!(
            matches!(&err, SourceError::Value { line, .. } if *line == lines[100_003]),
            "{threads} threads: {err}"
        );
        assert!(err.to_string().contains("\"x100003\""), "{err}");
    }
    // An open quote at the very end, after the sample and a blank line, names its row.
    let (mut text, lines) = tricky_rows(100_000, false);
    text.extend_from_slice(b"100000,\"open,1\n");
    let path = write(dir.path(), "open.csv", &text);
    let err = read_error(&path, &defaults());
    assert!(
        matches!(&err, SourceError::Malformed { line, .. } if *line == lines[99_999] + 2),
        "{err}"
    );
}
