//! Bad input fails with an error naming file, line, column and value, a distinct exit
//! code, and no output: nothing half-written, nothing from an earlier run disturbed.

use sluice_tests::{
    passthrough_pipeline as pipeline, read_parquet, Scratch, EXIT_CONFIG, EXIT_DATA,
};

#[test]
fn wrong_field_count_names_file_and_line() {
    let s = Scratch::new();
    s.write("in.csv", "a,b\n1,2\n3,4\n5,6,7\n8,9\n");
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(out.code, EXIT_DATA, "{}", out.report);
    let error = out.error();
    assert!(
        error.contains("in.csv:4: expected 2 fields, found 3"),
        "{error}"
    );
    assert_eq!(out.table()["error_kind"], "data");
    assert!(
        s.output_files().is_empty(),
        "left behind: {:?}",
        s.output_files()
    );
}

#[test]
fn unparsable_number_names_file_line_column_and_value() {
    let s = Scratch::new();
    // The quoted newline puts the bad row on physical line 5, not "row 3".
    s.write(
        "in.csv",
        "id,note,amount\n1,\"two\nlines\",10\n2,x,20\n3,y,12x\n",
    );
    let out = s.run(
        &pipeline(r#"path = "in.csv", types = { amount = "int64" }"#),
        &[],
    );
    assert_eq!(out.code, EXIT_DATA, "{}", out.report);
    let error = out.error();
    assert!(
        error.contains("in.csv:5: column 3 `amount`: cannot parse \"12x\" as Int64"),
        "{error}"
    );
    assert!(
        s.output_files().is_empty(),
        "left behind: {:?}",
        s.output_files()
    );
}

#[test]
fn a_bad_value_past_the_first_batch_still_leaves_nothing_behind() {
    let s = Scratch::new();
    let mut text = String::from("n\n");
    for i in 0..70_000 {
        text.push_str(&format!("{i}\n"));
    }
    text.push_str("oops\n");
    s.write("in.csv", text);
    // Types are inferred from the first 65,536 rows, and batches of 1,000 rows are written
    // long before the bad one is parsed.
    let out = s.run(&pipeline(r#"path = "in.csv""#), &["--batch-rows", "1000"]);
    assert_eq!(out.code, EXIT_DATA, "{}", out.report);
    let error = out.error();
    assert!(
        error.contains("in.csv:70002: column 1 `n`: cannot parse \"oops\" as Int64"),
        "{error}"
    );
    assert!(
        error.contains("declare the column under `types`"),
        "an inferred type should say how to fix it: {error}"
    );
    assert!(
        s.output_files().is_empty(),
        "left behind: {:?}",
        s.output_files()
    );
}

#[test]
fn a_failed_rerun_keeps_the_previous_output_intact() {
    let s = Scratch::new();
    let input = r#"path = "in.csv", types = { a = "int64" }"#;
    s.write("in.csv", "a\n1\n2\n");
    assert_eq!(s.run(&pipeline(input), &[]).code, 0);
    s.write("in.csv", "a\n1\n2\nthree\n");
    let out = s.run(&pipeline(input), &[]);
    assert_eq!(out.code, EXIT_DATA);
    let files = s.data_files();
    assert_eq!(
        files,
        vec![s.path("out/t/current/rows.parquet")],
        "only the old file may remain"
    );
    // ... and no staged file either: the failed run left only the first run's state.
    let generations = std::fs::read_dir(s.path("out/t/_sluice/generations")).unwrap();
    assert_eq!(
        generations.count(),
        1,
        "the failed run's generation is removed"
    );
    let generation = |p: &std::path::PathBuf| {
        p.starts_with(s.path("out/t/_sluice/generations")) || p.ends_with("current")
    };
    let state: Vec<_> = s
        .output_files()
        .into_iter()
        .filter(|p| !generation(p))
        .collect();
    assert_eq!(
        state,
        vec![
            s.path("out/t/_sluice/current.json"),
            s.path("out/t/_sluice/schema/rows.arrows"),
            s.path("out/t/_sluice/table.json")
        ]
    );
    assert_eq!(read_parquet(&files[0]).rows().len(), 2);
}

#[test]
fn invalid_utf8_in_a_text_column() {
    let s = Scratch::new();
    s.write("in.csv", b"name\nok\nbad\xff\n".as_slice());
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(out.code, EXIT_DATA, "{}", out.report);
    assert!(
        out.error().contains("in.csv:3: column 1 `name`"),
        "{}",
        out.error()
    );
    assert!(out.error().contains("not valid UTF-8"), "{}", out.error());
}

#[test]
fn unterminated_quote_is_reported() {
    let s = Scratch::new();
    s.write("in.csv", "a,b\n1,\"open\n2,3\n");
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    // The open quote swallows the rest of the file into one field; that must not pass
    // as a value.
    assert_eq!(out.code, EXIT_DATA, "{}", out.report);
    assert!(
        out.error().contains("in.csv:2: unterminated quoted field"),
        "{}",
        out.error()
    );
    assert!(s.output_files().is_empty());
}

#[test]
fn missing_input_and_bad_pipeline_are_config_errors() {
    let s = Scratch::new();
    let out = s.run(&pipeline(r#"path = "nowhere/*.csv""#), &[]);
    assert_eq!(out.code, EXIT_CONFIG);
    assert!(out.error().contains("no file matches"), "{}", out.error());

    let out = s.run("[tables.t]\nplugin = \"passthrough\"\n", &[]);
    assert_eq!(out.code, EXIT_CONFIG);
    // A pipeline that does not parse still gets a report, failed, with the error.
    assert_eq!(out.report["status"], "failed", "{}", out.report);
    assert_eq!(out.report["error_kind"], "config");
    assert!(
        out.report["error"]
            .as_str()
            .unwrap()
            .contains("invalid pipeline file"),
        "{}",
        out.report
    );
    assert_eq!(out.report["tables"], serde_json::json!([]));

    let out = s.run(
        &pipeline(r#"path = "in.csv", types = { a = "decimal" }"#),
        &[],
    );
    assert_eq!(out.code, EXIT_CONFIG);
}

#[test]
fn other_tables_go_on_unless_fail_fast() {
    let s = Scratch::new();
    s.write("good.csv", "a\n1\n");
    s.write("bad.csv", "a\nx,y\n");
    let toml = "[tables.a_bad]\nplugin = \"passthrough\"\ninput = { path = \"bad.csv\" }\noutput = { location = \"out/bad\" }\n\
                [tables.b_good]\nplugin = \"passthrough\"\ninput = { path = \"good.csv\" }\noutput = { location = \"out/good\" }\n";
    let out = s.run(toml, &[]);
    assert_eq!(out.code, EXIT_DATA);
    assert_eq!(out.report["tables"][1]["status"], "succeeded");
    assert_eq!(
        s.data_files(),
        vec![s.path("out/good/current/rows.parquet")]
    );

    std::fs::remove_dir_all(s.path("out")).unwrap();
    let out = s.run(toml, &["--fail-fast"]);
    assert_eq!(out.code, EXIT_DATA);
    assert_eq!(out.report["tables"].as_array().unwrap().len(), 1);
    assert!(s.output_files().is_empty());
}

#[test]
fn a_corrupt_or_cut_off_gzip_is_bad_data_not_a_retryable_error() {
    let s = Scratch::new();
    let mut whole = std::io::Cursor::new(Vec::new());
    {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(&mut whole, flate2::Compression::default());
        enc.write_all("a,b\n".repeat(10_000).as_bytes()).unwrap();
        enc.finish().unwrap();
    }
    let whole = whole.into_inner();
    let mut corrupt = whole.clone();
    corrupt[20..40].fill(0xff);
    for (name, bytes) in [
        ("corrupt.csv.gz", corrupt),
        ("cut.csv.gz", whole[..whole.len() / 2].to_vec()),
    ] {
        s.write(name, bytes);
        let out = s.run(&pipeline(&format!("path = {name:?}")), &[]);
        assert_eq!(out.code, EXIT_DATA, "{name}: {}", out.report);
        assert!(out.error().contains(name), "{}", out.error());
        assert!(
            s.output_files().is_empty(),
            "left behind: {:?}",
            s.output_files()
        );
    }
}

#[test]
fn zero_limits_and_a_file_that_is_no_plugin_are_config_errors() {
    let s = Scratch::new();
    s.write("in.csv", "a\n1\n");
    for limit in [
        "call_timeout_secs = 0",
        "memory_mib = 0",
        "output_mib_per_call = 0",
        "fuel_per_call = 0",
    ] {
        let out = s.run(
            &format!("{}limits = {{ {limit} }}\n", pipeline(r#"path = "in.csv""#)),
            &[],
        );
        assert_eq!(out.code, EXIT_CONFIG, "{limit}: {}", out.report);
    }
    let out = s.run(
        &pipeline(r#"path = "in.csv""#).replace(
            "location = \"out/t\"",
            "location = \"out/t\", row_group_rows = 0",
        ),
        &[],
    );
    assert_eq!(out.code, EXIT_CONFIG, "{}", out.report);

    s.write("not-a-plugin.wasm", "this is text, not a component");
    let out = s.run(
        &pipeline(r#"path = "in.csv""#).replace("\"passthrough\"", "\"not-a-plugin.wasm\""),
        &[],
    );
    assert_eq!(out.code, EXIT_CONFIG, "{}", out.report);
    assert!(
        out.error().contains("not a valid component"),
        "{}",
        out.error()
    );
}
