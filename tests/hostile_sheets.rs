//! Hostile spreadsheets end with a clear data error (exit 3) before anything large is
//! allocated: a tiny workbook with one cell at `XFD1048576`, and shared strings that expand
//! past the part limit. A plain workbook built the same way reads.

use std::io::Write;

use sluice_tests::{Scratch, EXIT_DATA};

/// A minimal `.xlsx`: one sheet with these `(cell, inline text)` values, and shared strings
/// of `shared_bytes` bytes.
fn workbook(cells: &[(&str, &str)], shared_bytes: usize) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut part = |name: &str, body: &[u8]| {
        zip.start_file(name, options).unwrap();
        zip.write_all(body).unwrap();
    };
    part("[Content_Types].xml", br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#);
    part("_rels/.rels", br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#);
    part("xl/workbook.xml", br#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="data" sheetId="1" r:id="rId1"/></sheets></workbook>"#);
    part("xl/_rels/workbook.xml.rels", br#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#);
    let shared = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>{}</t></si></sst>"#,
        "s".repeat(shared_bytes)
    );
    part("xl/sharedStrings.xml", shared.as_bytes());
    let cells: String = cells
        .iter()
        .map(|(at, text)| format!(r#"<c r="{at}" t="inlineStr"><is><t>{text}</t></is></c>"#))
        .collect();
    let sheet = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">{cells}</row></sheetData></worksheet>"#
    );
    part("xl/worksheets/sheet1.xml", sheet.as_bytes());
    zip.finish().unwrap().into_inner()
}

fn pipeline(limits: &str) -> String {
    format!(
        "[tables.t]\nplugin = \"passthrough\"\ninput = {{ path = \"book.xlsx\", header = false, columns = [\"a\", \"b\"]{limits} }}\n\
         output = {{ location = \"out/t\" }}\n"
    )
}

#[test]
fn a_plain_workbook_built_alike_reads() {
    let scratch = Scratch::new();
    scratch.write("book.xlsx", workbook(&[("A1", "x"), ("B1", "y")], 10));
    let out = scratch.run(&pipeline(""), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(out.table()["rows_in"], 1);
}

#[test]
fn one_cell_at_the_last_column_and_row_is_refused_before_allocating() {
    let scratch = Scratch::new();
    let book = workbook(&[("A1", "x"), ("XFD1048576", "far")], 10);
    assert!(book.len() < 4096, "a tiny file: {} bytes", book.len());
    scratch.write("book.xlsx", book);
    let out = scratch.run(&pipeline(""), &[]);
    assert_eq!(out.code, EXIT_DATA, "{}", out.report);
    assert!(out.error().contains("max_sheet_cells"), "{}", out.error());
    assert!(out.error().contains("book.xlsx"), "{}", out.error());
}

#[test]
fn shared_strings_that_expand_past_the_limit_are_refused() {
    let scratch = Scratch::new();
    scratch.write("book.xlsx", workbook(&[("A1", "x")], 3 << 20));
    let out = scratch.run(&pipeline(", max_sheet_mib = 2"), &[]);
    assert_eq!(out.code, EXIT_DATA, "{}", out.report);
    assert!(
        out.error()
            .contains("xl/sharedStrings.xml expands to 3 MiB"),
        "{}",
        out.error()
    );
    let roomy = scratch.run(&pipeline(", max_sheet_mib = 4"), &[]);
    assert_eq!(roomy.code, 0, "{}", roomy.report);
}
