//! Quality rules on input columns: each rule rejects, warns or aborts as configured, with
//! counts per rule in the run report; rejected rows land in `rejects` with their line.

use sluice_tests::{read_parquet, rows, Scratch, EXIT_CONFIG, EXIT_DATA};

const ORDERS: &str = "id,status,price,email\n\
                      1,new,12.50,a@x.io\n\
                      2,lost,3.00,b@x.io\n\
                      2,new,4.00,c@x.io\n\
                      ,shipped,-1.00,d@x.io\n\
                      5,new,9999.99,not-an-email\n\
                      6,shipped,7.25,f@x.io\n";

fn pipeline(quality: &str) -> String {
    format!(
        "[tables.t]\nplugin = \"passthrough\"\noutput = {{ location = \"out/t\" }}\n\
         [tables.t.input]\npath = \"in.csv\"\ntypes = {{ price = \"decimal(8,2)\" }}\n\
         [tables.t.input.quality]\n{quality}\n"
    )
}

#[test]
fn rejected_rows_go_to_rejects_with_the_rule_and_their_line() {
    let s = Scratch::new();
    s.write("in.csv", ORDERS);
    let out = s.run(
        &pipeline(
            r#"id = { nullable = false, unique = true }
status = { allowed = ["new", "shipped"] }
price = { min = 0, max = "10000.00" }
email = { pattern = "^[^@]+@[^@]+$", on_fail = "warn" }"#,
        ),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let kept = read_parquet(&s.path("out/t/current/rows.parquet"));
    // Row 5 broke only a `warn` rule: it goes on.
    assert_eq!(
        kept.rows(),
        &rows![
            [1, "new", "12.50", "a@x.io"],
            [5, "new", "9999.99", "not-an-email"],
            [6, "shipped", "7.25", "f@x.io"]
        ]
    );
    let rejects = read_parquet(&s.path("out/t/current/rejects.parquet"));
    let got: Vec<(u64, String)> = rejects
        .rows()
        .iter()
        .map(|r| (r[1].as_u64().unwrap(), r[4].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        got,
        [
            (3, "quality rule status.allowed: \"lost\"".to_string()),
            (4, "quality rule id.unique: \"2\"".to_string()),
            (5, "quality rule id.not_null: NULL".to_string()),
        ]
    );
    let table = out.table();
    assert_eq!(table["rows_rejected"], 3);
    let counts = &table["quality"];
    assert_eq!(counts["rows.id.not_null"], 1);
    assert_eq!(counts["rows.id.unique"], 1);
    assert_eq!(counts["rows.status.allowed"], 1);
    assert_eq!(
        counts["rows.price.min"], 1,
        "counted although the row was rejected for id first"
    );
    assert_eq!(counts["rows.price.max"], 0);
    assert_eq!(counts["rows.email.pattern"], 1);
}

#[test]
fn an_abort_rule_fails_the_table_naming_file_line_and_value() {
    let s = Scratch::new();
    s.write("in.csv", ORDERS);
    let out = s.run(&pipeline(r#"price = { min = 0, on_fail = "abort" }"#), &[]);
    assert_eq!(out.code, EXIT_DATA, "{}", out.report);
    let error = out.error();
    assert!(
        error.contains(
            "in.csv:5: column `price`: \"-1.00\" breaks rule `min` (on_fail = \"abort\")"
        ),
        "{error}"
    );
    assert!(s.data_files().is_empty(), "{:?}", s.data_files());
}

#[test]
fn a_rule_that_cannot_apply_is_a_config_error() {
    let s = Scratch::new();
    s.write("in.csv", ORDERS);
    let out = s.run(&pipeline(r#"price = { pattern = "^[0-9]+$" }"#), &[]);
    assert_eq!(out.code, EXIT_CONFIG, "{}", out.report);
    assert!(
        out.error()
            .contains("quality.price: `pattern` needs a text column"),
        "{}",
        out.error()
    );
}
