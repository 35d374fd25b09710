//! CSV in, Parquet out through the passthrough plugin, read back by pyarrow and compared
//! value by value.

use serde_json::json;
use sluice_tests::{passthrough_pipeline as pipeline, read_parquet, rows, Scratch};

#[test]
fn plain_csv_with_inferred_types() {
    let s = Scratch::new();
    s.write("in.csv", "id,name,score,ok,day,at\n1,ann,1.5,true,2024-03-01,2024-03-01 10:00:00\n2,bob,-2,false,2024-02-29,2024-03-01T23:59:59\n");
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(
        p.columns(),
        [
            "id: int64",
            "name: string",
            "score: double",
            "ok: bool",
            "day: date32[day]",
            "at: timestamp[us]"
        ]
    );
    assert_eq!(
        p.rows(),
        &rows![
            [1, "ann", 1.5, true, "2024-03-01", "2024-03-01T10:00:00"],
            [2, "bob", -2.0, false, "2024-02-29", "2024-03-01T23:59:59"],
        ]
    );
    assert_eq!(out.table()["rows_in"], 2);
    assert_eq!(out.table()["rows_out"], 2);
}

#[test]
fn gzip_by_extension_and_by_magic_bytes() {
    let s = Scratch::new();
    let text = "a,b\n1,x\n2,y\n";
    s.write_gz("by_ext.csv.gz", text);
    s.write_gz("no_ext.dat", text);
    for input in ["by_ext.csv.gz", "no_ext.dat"] {
        let out = s.run(&pipeline(&format!(r#"path = "{input}""#)), &[]);
        assert_eq!(out.code, 0, "{input}: {}", out.report);
        let p = read_parquet(&s.path("out/t/current/rows.parquet"));
        assert_eq!(p.rows(), &rows![[1, "x"], [2, "y"]], "{input}");
    }
}

#[test]
fn semicolon_delimiter_and_declared_types() {
    let s = Scratch::new();
    s.write("in.csv", "code;amount\n007;1,5\n010;2\n");
    let out = s.run(
        &pipeline(r#"path = "in.csv", delimiter = ";", types = { amount = "utf8" }"#),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    // Leading zeros keep `code` as text; `amount` is declared text.
    assert_eq!(p.columns(), ["code: string", "amount: string"]);
    assert_eq!(p.rows(), &rows![["007", "1,5"], ["010", "2"]]);
}

#[test]
fn headerless_file_with_declared_names_and_types() {
    let s = Scratch::new();
    s.write_gz("export.csv.gz", "k1;10;x\nk2;;y\n");
    let out = s.run(
        &pipeline(r#"path = "export.csv.gz", header = false, delimiter = ";", columns = ["PK", "COL_1", "COL_2"], types = { COL_1 = "int32" }"#),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(p.columns(), ["PK: string", "COL_1: int32", "COL_2: string"]);
    assert_eq!(p.rows(), &rows![["k1", 10, "x"], ["k2", null, "y"]]);
}

#[test]
fn quoted_fields_with_delimiters_quotes_and_newlines() {
    let s = Scratch::new();
    s.write(
        "in.csv",
        "id,text\n1,\"a, b\"\n2,\"line one\nline two\"\n3,\"say \"\"hi\"\"\"\n",
    );
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(
        p.rows(),
        &rows![[1, "a, b"], [2, "line one\nline two"], [3, "say \"hi\""]]
    );
}

#[test]
fn utf8_text_and_byte_order_mark() {
    let s = Scratch::new();
    s.write("in.csv", "\u{feff}name,city\nZoë,Kraków\n李,東京\n");
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(
        p.columns(),
        ["name: string", "city: string"],
        "the BOM must not stick to the first name"
    );
    assert_eq!(p.rows(), &rows![["Zoë", "Kraków"], ["李", "東京"]]);
}

#[test]
fn null_markers() {
    let s = Scratch::new();
    s.write("in.csv", "a,b,c\n1,,x\nNULL,2.5,\n3,NA,NULL\n");
    let out = s.run(
        &pipeline(r#"path = "in.csv", null = ["", "NULL", "NA"]"#),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(p.columns(), ["a: int64", "b: double", "c: string"]);
    assert_eq!(
        p.rows(),
        &rows![[1, null, "x"], [null, 2.5, null], [3, null, null]]
    );
}

#[test]
fn header_only_file_gives_an_empty_table_with_its_columns() {
    let s = Scratch::new();
    s.write("in.csv", "a,b\n");
    let out = s.run(
        &pipeline(r#"path = "in.csv", types = { a = "int64" }"#),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(p.columns(), ["a: int64", "b: string"]);
    assert!(p.rows().is_empty());
}

#[test]
fn empty_file_with_declared_columns_gives_an_empty_table() {
    let s = Scratch::new();
    s.write("in.csv", "");
    let out = s.run(
        &pipeline(
            r#"path = "in.csv", header = false, columns = ["a", "b"], types = { b = "date32" }"#,
        ),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(p.columns(), ["a: string", "b: date32[day]"]);
    assert!(p.rows().is_empty());
}

#[test]
fn empty_file_without_declared_columns_is_a_clear_error() {
    let s = Scratch::new();
    s.write("in.csv", "");
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(out.code, sluice_tests::EXIT_CONFIG);
    assert!(
        out.error()
            .contains("in.csv is empty and no `columns` are declared"),
        "{}",
        out.error()
    );
    assert!(s.output_files().is_empty(), "{:?}", s.output_files());
}

#[test]
fn glob_reads_every_matching_file_in_order() {
    let s = Scratch::new();
    s.write("in/part-2.csv", "a\n3\n4\n");
    s.write("in/part-1.csv", "a\n1\n2\n");
    s.write("in/other.txt", "a\n99\n");
    let out = s.run(&pipeline(r#"path = "in/part-*.csv""#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(p.rows(), &rows![[1], [2], [3], [4]]);
    assert_eq!(
        out.table()["inputs"][0]["files"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn batch_size_does_not_change_the_output() {
    let s = Scratch::new();
    let mut text = String::from("id,name,value\n");
    for i in 0..2500 {
        text.push_str(&format!(
            "{i},\"n,{i}\",{}\n",
            if i % 7 == 0 {
                String::new()
            } else {
                format!("{}.25", i)
            }
        ));
    }
    s.write("in.csv", &text);
    let mut seen = Vec::new();
    for batch in ["1", "7", "1000", "65536"] {
        let out = s.run(&pipeline(r#"path = "in.csv""#), &["--batch-rows", batch]);
        assert_eq!(out.code, 0, "{}", out.report);
        seen.push(read_parquet(&s.path("out/t/current/rows.parquet")).json["rows"].clone());
    }
    assert_eq!(seen[0].as_array().unwrap().len(), 2500);
    assert!(
        seen.iter().all(|r| *r == seen[0]),
        "output differs between batch sizes"
    );
}

/// `skip` leaves columns unread: the rest arrive whole, over every file and through quoted
/// fields with delimiters and line breaks in the skipped column.
#[test]
fn skipped_columns_are_not_read() {
    let s = Scratch::new();
    s.write("in/1.csv", "id,note,v\n1,\"a, b\",x\n2,plain,y\n");
    s.write("in/2.csv", "id,note,v\n3,\"two\nlines\",z\n");
    let out = s.run(&pipeline(r#"path = "in/*.csv", skip = ["note"]"#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(p.columns(), ["id: int64", "v: string"]);
    assert_eq!(p.rows(), &rows![[1, "x"], [2, "y"], [3, "z"]]);

    let out = s.run(&pipeline(r#"path = "in/*.csv", skip = ["nope"]"#), &[]);
    assert_eq!(out.code, sluice_tests::EXIT_CONFIG);
    assert!(
        out.error().contains("`skip` names column `nope`"),
        "{}",
        out.error()
    );
    // `types` is checked the same way.
    let out = s.run(
        &pipeline(r#"path = "in/*.csv", types = { nope = "int64" }"#),
        &[],
    );
    assert_eq!(out.code, sluice_tests::EXIT_CONFIG);
    assert!(
        out.error().contains("`types` names column `nope`"),
        "{}",
        out.error()
    );
}

#[test]
fn select_and_rename_config() {
    let s = Scratch::new();
    s.write("in.csv", "a,b,c\n1,2,3\n");
    let toml = "[tables.t]\nplugin = \"passthrough\"\nconfig = { select = [\"c\", \"a\"], rename = { a = \"alpha\" } }\n\
                input = { path = \"in.csv\" }\noutput = { location = \"out/t\" }\n";
    let out = s.run(toml, &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(p.columns(), ["c: int64", "alpha: int64"]);
    assert_eq!(p.rows(), &rows![[3, 1]]);
}

/// The bundled passthrough's batches are taken by the host (no IPC crossing); its file is
/// the bytes the sandboxed component writes when named by a path.
#[test]
fn the_bundled_passthrough_runs_in_the_host_and_writes_the_sandboxs_bytes() {
    let s = Scratch::new();
    let mut csv = String::from("id,name,score,day\n");
    for i in 0..1_000 {
        let name = if i % 9 == 0 {
            String::new()
        } else {
            format!("n{}", i % 13)
        };
        csv.push_str(&format!(
            "{i},{name},{}.5,2024-01-{:02}\n",
            i % 17,
            i % 28 + 1
        ));
    }
    s.write("in.csv", csv);
    let (bytes, _) = sluice::cli::bundled().get("passthrough").unwrap();
    let wasm = s.write("passthrough.wasm", bytes);
    let run = |plugin: &str, batch_rows: &[&str]| {
        let toml = format!(
            "[tables.t]\nplugin = {plugin:?}\nconfig = {{ select = [\"day\", \"name\", \"id\"], rename = {{ id = \"key\" }} }}\n\
             input = {{ path = \"in.csv\" }}\noutput = {{ location = \"out/t\" }}\n"
        );
        let flags = [batch_rows, &["--run-id", "same", "--force"]].concat();
        let out = s.run(&toml, &flags);
        assert_eq!(out.code, 0, "{}", out.report);
        assert_eq!(out.table()["rows_out"], 1_000);
        let plugin = &out.table()["plugin"];
        (
            (
                plugin["batches_in_host"].clone(),
                plugin["batch_rows"].clone(),
            ),
            std::fs::read(s.path("out/t/current/rows.parquet")).unwrap(),
        )
    };
    let wasm = wasm.display().to_string();
    let (in_host, file) = run("passthrough", &["--batch-rows", "100"]);
    let (sandboxed, sandbox_file) = run(&wasm, &["--batch-rows", "100"]);
    assert_eq!(in_host, (json!(true), json!(100)));
    assert_eq!(
        sandboxed,
        (serde_json::Value::Null, json!(100)),
        "a path stays in the sandbox"
    );
    assert!(file == sandbox_file, "the files differ");
    // Unset, the same default on either side of the sandbox.
    assert_eq!(run("passthrough", &[]).0 .1, json!(16_384));
    assert_eq!(run(&wasm, &[]).0 .1, json!(16_384));
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(
        p.columns(),
        ["day: date32[day]", "name: string", "key: int64"]
    );
}

#[test]
fn parquet_carries_provenance_and_the_chosen_codec() {
    let s = Scratch::new();
    s.write("in.csv", "a\n1\n");
    let out = s.run(&pipeline(r#"path = "in.csv""#), &["--run-id", "run-42"]);
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(
        p.metadata("sluice.plugin.name").as_deref(),
        Some("passthrough")
    );
    assert_eq!(p.metadata("sluice.run_id").as_deref(), Some("run-42"));
    assert_eq!(p.metadata("sluice.table").as_deref(), Some("t"));
    assert_eq!(
        p.metadata("sluice.contract.version").as_deref(),
        Some("0.1.0")
    );
    let sha = p.metadata("sluice.plugin.sha256").unwrap();
    assert_eq!(sha.len(), 64);
    assert_eq!(json!(sha), out.table()["plugin"]["sha256"]);
    assert!(p.metadata("sluice.config.sha256").is_some());
    assert!(p.metadata("sluice.source").unwrap().contains("in.csv"));
    assert_eq!(p.json["codecs"], json!(["ZSTD"]));

    let toml = "[tables.t]\nplugin = \"passthrough\"\ninput = { path = \"in.csv\" }\n\
                output = { location = \"out/t\", compression = \"snappy\" }\n";
    assert_eq!(s.run(toml, &[]).code, 0);
    assert_eq!(
        read_parquet(&s.path("out/t/current/rows.parquet")).json["codecs"],
        json!(["SNAPPY"])
    );
}

#[test]
fn row_group_size_is_honoured() {
    let s = Scratch::new();
    let text: String = std::iter::once("a\n".to_string())
        .chain((0..100).map(|i| format!("{i}\n")))
        .collect();
    s.write("in.csv", text);
    let toml = "[tables.t]\nplugin = \"passthrough\"\ninput = { path = \"in.csv\" }\n\
                output = { location = \"out/t\", row_group_rows = 30 }\n";
    let out = s.run(toml, &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(
        read_parquet(&s.path("out/t/current/rows.parquet")).json["num_row_groups"],
        4
    );
}

#[test]
fn windows_line_endings() {
    let s = Scratch::new();
    s.write("in.csv", "a,b\r\n1,\"x\r\ny\"\r\n2,z\r\n");
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let p = read_parquet(&s.path("out/t/current/rows.parquet"));
    assert_eq!(p.rows(), &rows![[1, "x\r\ny"], [2, "z"]]);
}

#[test]
fn files_of_one_input_must_share_their_header() {
    let s = Scratch::new();
    s.write("in/1.csv", "a,b\n1,2\n");
    s.write("in/2.csv", "a,c\n3,4\n");
    let out = s.run(&pipeline(r#"path = "in/*.csv""#), &[]);
    assert_eq!(out.code, sluice_tests::EXIT_CONFIG, "{}", out.report);
    assert!(
        out.error()
            .contains("2.csv: columns [\"a\", \"c\"] differ from the first file's [\"a\", \"b\"]"),
        "{}",
        out.error()
    );
    assert!(s.output_files().is_empty());
}
