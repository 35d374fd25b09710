//! Types that never lose a digit, and header names every engine can select: decimals,
//! integers past int64, timestamps with offsets, empty and repeated names, read back by
//! pyarrow.

use sluice_tests::{passthrough_pipeline as pipeline, read_parquet, rows, Scratch, EXIT_DATA};

#[test]
fn declared_decimals_equal_the_source_text_digit_for_digit() {
    let s = Scratch::new();
    s.write(
        "in.csv",
        "id,price\n1,12.50\n2, -0.07 \n3,\n4,9999999999.99\n5,3\n",
    );
    let out = s.run(
        &pipeline(r#"path = "in.csv", types = { price = "decimal(12,2)" }"#),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(p.columns(), ["id: int64", "price: decimal128(12, 2)"]);
    assert!(
        p.json["logical_types"][1]
            .as_str()
            .unwrap()
            .contains("Decimal(precision=12, scale=2)"),
        "{}",
        p.json["logical_types"]
    );
    assert_eq!(
        p.rows(),
        &rows![
            [1, "12.50"],
            [2, "-0.07"],
            [3, null],
            [4, "9999999999.99"],
            [5, "3.00"]
        ]
    );
}

#[test]
fn a_decimal_that_would_round_is_a_data_error_naming_its_place() {
    let s = Scratch::new();
    s.write("in.csv", "id,price\n1,12.50\n2,0.125\n");
    let out = s.run(
        &pipeline(r#"path = "in.csv", types = { price = "decimal(12,2)" }"#),
        &[],
    );
    assert_eq!(out.code, EXIT_DATA, "{}", out.report);
    let error = out.error();
    assert!(
        error.contains("in.csv:3: column 2 `price`: cannot parse \"0.125\" as Decimal128(12, 2)"),
        "{error}"
    );
    assert!(s.output_files().is_empty(), "{:?}", s.output_files());
}

#[test]
fn inference_keeps_every_digit_and_converts_offsets_to_utc() {
    let s = Scratch::new();
    s.write(
        "in.csv",
        "big,amount,ratio,at,qty\n\
         9223372036854775808,12345678901234567.89,0.1,2024-01-01T02:00:00+02:00, 7\n\
         1,-0.5,2.5e3,2024-06-30 23:30:00-01:00,8 \n",
    );
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(
        p.columns(),
        [
            "big: decimal128(38, 0)",
            "amount: decimal128(19, 2)",
            "ratio: double",
            "at: timestamp[us, tz=UTC]",
            "qty: int64"
        ]
    );
    assert!(
        p.json["logical_types"][3]
            .as_str()
            .unwrap()
            .contains("isAdjustedToUTC=true"),
        "{}",
        p.json["logical_types"]
    );
    assert_eq!(
        p.rows(),
        &rows![
            [
                "9223372036854775808",
                "12345678901234567.89",
                0.1,
                "2024-01-01T00:00:00+00:00",
                7
            ],
            ["1", "-0.50", 2500.0, "2024-07-01T00:30:00+00:00", 8]
        ]
    );
}

#[test]
fn empty_and_repeated_header_names_come_out_unique_and_selectable() {
    let s = Scratch::new();
    s.write("in.csv", "a,,a,b,a\n1,2,3,4,5\n");
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let path = s.path("out/t/current/rows.parquet");
    let p = read_parquet(&path);
    assert_eq!(
        p.columns(),
        [
            "a: int64",
            "column_2: int64",
            "a_1: int64",
            "b: int64",
            "a_2: int64"
        ]
    );
    // Each column can be selected by its name with pyarrow.
    let select = std::process::Command::new(sluice_tests::python())
        .args([
            "-c",
            "import sys, pyarrow.parquet as pq; t = pq.read_table(sys.argv[1], columns=['column_2', 'a_1', 'a_2']); print(t.to_pylist())",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&select.stdout).trim(),
        "[{'column_2': 2, 'a_1': 3, 'a_2': 5}]",
        "{}",
        String::from_utf8_lossy(&select.stderr)
    );
}

#[test]
fn snake_case_names_for_glue_and_athena() {
    let s = Scratch::new();
    s.write(
        "in.csv",
        "Order ID,createdAt,Unit Price (EUR)\n1,2024-01-01,2.5\n",
    );
    let out = s.run(
        &pipeline(
            r#"path = "in.csv", names = "snake_case", types = { unit_price_eur = "decimal(6,2)" }"#,
        ),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(
        p.columns(),
        [
            "order_id: int64",
            "created_at: date32[day]",
            "unit_price_eur: decimal128(6, 2)"
        ]
    );
}

#[test]
fn a_wrong_delimiter_is_caught_by_strict() {
    let s = Scratch::new();
    s.write("in.csv", "order_id;customer_id\n1;2\n");
    let lenient = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(lenient.code, 0, "{}", lenient.report);
    let strict = s.run(&pipeline(r#"path = "in.csv", strict = true"#), &[]);
    assert_eq!(strict.code, EXIT_DATA, "{}", strict.report);
    assert!(
        strict
            .error()
            .contains("is the delimiter ';' rather than ','? Set `delimiter`"),
        "{}",
        strict.error()
    );
}
