//! Schema drift: files of one input with different headers read by name, and across runs,
//! an output's schema held to the one committed before: added columns pass and are
//! reported, a dropped column or a narrowed type fails before any data moves.

use sluice_tests::{passthrough_pipeline as pipeline, read_parquet, rows, Scratch, EXIT_CONFIG};

#[test]
fn files_with_different_headers_are_read_by_name() {
    let s = Scratch::new();
    s.write("in/a.csv", "id,name\n1,ann\n");
    s.write("in/b.csv", "name,id,city\nbob,2,Oslo\n");
    let strict = s.run(&pipeline(r#"path = "in/*.csv""#), &[]);
    assert_eq!(strict.code, EXIT_CONFIG, "{}", strict.report);
    assert!(
        strict.error().contains("differ from the first file's"),
        "{}",
        strict.error()
    );

    let out = s.run(&pipeline(r#"path = "in/*.csv", union_by_name = true"#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(p.columns(), ["id: int64", "name: string", "city: string"]);
    assert_eq!(p.rows(), &rows![[1, "ann", null], [2, "bob", "Oslo"]]);
}

#[test]
fn an_added_column_is_allowed_and_reported() {
    let s = Scratch::new();
    s.write("in.csv", "id,name\n1,ann\n");
    assert_eq!(s.run(&pipeline(r#"path = "in.csv""#), &[]).code, 0);
    s.write("in.csv", "id,name,city\n2,bob,Oslo\n");
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(
        out.table()["schema_changes"],
        serde_json::json!(["rows: column `city` (Utf8) added"])
    );
}

#[test]
fn a_dropped_or_narrowed_column_fails_before_any_data_moves() {
    let s = Scratch::new();
    s.write("in.csv", "id,price\n1,12.50\n");
    let declared = r#"path = "in.csv", types = { price = "decimal(12,2)" }"#;
    assert_eq!(s.run(&pipeline(declared), &[]).code, 0);
    let before = std::fs::read(s.path("out/t/current/rows.parquet")).unwrap();

    s.write("in.csv", "id\n2\n");
    let dropped = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(dropped.code, EXIT_CONFIG, "{}", dropped.report);
    assert!(
        dropped.error().contains(
            "output `rows`: column `price` (Decimal128(12, 2)) is gone since the last commit"
        ),
        "{}",
        dropped.error()
    );
    s.write("in.csv", "id,price\n2,12.50\n");
    let narrowed = s.run(
        &pipeline(r#"path = "in.csv", types = { price = "decimal(6,2)" }"#),
        &[],
    );
    assert_eq!(narrowed.code, EXIT_CONFIG, "{}", narrowed.report);
    assert!(
        narrowed.error().contains("is not a widening"),
        "{}",
        narrowed.error()
    );
    assert_eq!(
        std::fs::read(s.path("out/t/current/rows.parquet")).unwrap(),
        before,
        "the table changed"
    );

    // Accepted on purpose: the new schema becomes the table's.
    s.write("in.csv", "id\n2\n");
    let toml = pipeline(r#"path = "in.csv""#).replace(
        "output = { location = \"out/t\" }",
        "output = { location = \"out/t\", schema_change = \"any\" }",
    );
    let any = s.run(&toml, &[]);
    assert_eq!(any.code, 0, "{}", any.report);
    assert_eq!(
        read_parquet(&s.path("out/t/current/rows.parquet")).rows(),
        &rows![[2]]
    );
}
