//! The Parquet itself, as other engines' readers see it: float and double statistics that
//! pyarrow can use, and `created_by` in the usual `NAME version X (build Y)` form.

use sluice_tests::{passthrough_pipeline as pipeline, Scratch};

/// The lines a Python script prints about one file (its `sys.argv[1]`).
fn python_lines(script: &str, path: &std::path::Path) -> Vec<String> {
    sluice_tests::python_lines(script, &[path.as_os_str()])
}

#[test]
fn pyarrow_reads_min_and_max_of_every_float_column() {
    let s = Scratch::new();
    s.write(
        "in.csv",
        "f64,f32,i,t\n1.5,0.25,2,x\n-3.25,,4,y\nNaN,-1.5,5,z\n",
    );
    let out = s.run(
        &pipeline(r#"path = "in.csv", types = { f64 = "float64", f32 = "float32" }"#),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.report);
    let script = "import sys, pyarrow.parquet as pq\n\
        m = pq.ParquetFile(sys.argv[1]).metadata\n\
        print(m.created_by)\n\
        for i in range(m.num_columns):\n\
        \x20   c = m.row_group(0).column(i); s = c.statistics\n\
        \x20   print(c.path_in_schema, s.has_min_max, s.min if s.has_min_max else '-', s.max if s.has_min_max else '-')\n";
    assert_eq!(
        python_lines(script, &s.path("out/t/current/rows.parquet")),
        [
            "sluice version 0.1.0 (build parquet-rs 60.1)",
            "f64 True -3.25 1.5",
            "f32 True -1.5 0.25",
            "i True 2 5",
            "t True x z"
        ]
    );
}

/// Days from 2023-01-01, one row per day (`shipped_on,amount`), in the given order.
fn days(order: impl Iterator<Item = i64>) -> String {
    let start = time::macros::date!(2023 - 01 - 01);
    let mut text = String::from("shipped_on,amount\n");
    for d in order {
        text.push_str(&format!("{},{d}\n", start + time::Duration::days(d)));
    }
    text
}

#[test]
fn four_hundred_day_partitions_succeed_sorted_or_not() {
    let partitioned = |order: &str| {
        format!(
            "[tables.t]\nplugin = \"passthrough\"\ninput = {{ path = \"{order}.csv\" }}\n\
             output = {{ location = \"out/{order}\", partition = {{ by = \"column-date\", column = \"shipped_on\" }} }}\n"
        )
    };
    let s = Scratch::new();
    s.write("sorted.csv", days(0..400));
    // Unsorted: every later row opens a partition that was closed to bound the open files.
    s.write("shuffled.csv", days((0..400).map(|d| (d * 7919) % 400)));
    for order in ["sorted", "shuffled"] {
        let out = s.run_named(&format!("{order}.toml"), &partitioned(order), &[]);
        assert_eq!(out.code, 0, "{order}: {}", out.report);
        let files = sluice_tests::files_under(&s.path(&format!("out/{order}/current/rows")));
        let parquet: Vec<_> = files.iter().filter(|f| f.ends_with(".parquet")).collect();
        assert_eq!(parquet.len(), 400, "{order}: one file per day: {parquet:?}");
        let count = "import sys, pyarrow.dataset as ds; print(ds.dataset(sys.argv[1], partitioning='hive').count_rows())";
        assert_eq!(
            python_lines(count, &s.path(&format!("out/{order}/current/rows"))),
            ["400"],
            "{order}"
        );
    }
}

#[test]
fn a_value_partitioned_output_reads_in_pyarrow_duckdb_and_polars() {
    let s = Scratch::new();
    let mut text = String::from("id,country,amount\n");
    for i in 0..90 {
        let country = ["FR", "DE", "NO"][i % 3];
        text.push_str(&format!("{i},{country},{}.5\n", i * 2));
    }
    s.write("in.csv", text);
    let toml = "[tables.t]\nplugin = \"passthrough\"\ninput = { path = \"in.csv\" }\n\
                output = { location = \"out/t\", partition = { by = \"value\", column = \"country\" } }\n";
    let out = s.run(toml, &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let script = "import sys, pyarrow.parquet as pq, duckdb, polars as pl\n\
        root = sys.argv[1]\n\
        t = pq.read_table(root)\n\
        print('pyarrow', t.num_rows, sorted(t.column_names))\n\
        r = duckdb.sql(f\"select count(*), count(distinct country), sum(amount) from read_parquet('{root}/**/*.parquet', hive_partitioning=true)\").fetchall()[0]\n\
        print('duckdb', *r)\n\
        d = pl.scan_parquet(root + '/**/*.parquet', hive_partitioning=True).collect()\n\
        print('polars', d.height, sorted(d.columns))\n\
        print('in files', pq.ParquetFile(next(__import__('pathlib').Path(root).rglob('*.parquet'))).schema_arrow.names)\n";
    assert_eq!(
        python_lines(script, &s.path("out/t/current/rows")),
        [
            "pyarrow 90 ['amount', 'country', 'id']",
            "duckdb 90 3 8055.0",
            "polars 90 ['amount', 'country', 'id']",
            "in files ['id', 'amount']"
        ]
    );
}

#[test]
fn timestamps_are_written_delta_packed_without_a_dictionary() {
    let s = Scratch::new();
    s.write(
        "in.csv",
        "at,code\n2024-01-01 00:00:00,a\n2024-01-01 00:00:01,a\n",
    );
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(
        python_lines(DICTIONARIES, &s.path("out/t/current/rows.parquet")),
        ["at delta", "code dictionary"]
    );
}

/// Per column of a file's first row group, as pyarrow reads its metadata: whether its
/// values are dictionary-encoded, delta-packed or plain.
const DICTIONARIES: &str = "import sys, pyarrow.parquet as pq\n\
    m = pq.ParquetFile(sys.argv[1]).metadata\n\
    for i in range(m.num_columns):\n\
    \x20   e = m.row_group(0).column(i).encodings\n\
    \x20   kind = 'dictionary' if 'RLE_DICTIONARY' in e else 'delta' if 'DELTA_BINARY_PACKED' in e else 'plain'\n\
    \x20   print(m.row_group(0).column(i).path_in_schema, kind)\n";

#[test]
fn columns_mostly_distinct_in_the_first_batch_are_written_without_a_dictionary() {
    // Integers among them are delta-packed; DuckDB reads them back.
    let s = Scratch::new();
    let mut text = String::from("id,amount,code,city\n");
    for i in 0..10_000 {
        let city = ["Lyon", "Oslo", "Lima"][i % 3];
        text.push_str(&format!(
            "{},{}.{:02},{},{city}\n",
            i * 7,
            i % 4000,
            i % 97,
            i % 50
        ));
    }
    s.write("in.csv", text);
    let out = s.run(&pipeline(r#"path = "in.csv""#), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(
        python_lines(DICTIONARIES, &s.path("out/t/current/rows.parquet")),
        [
            "id delta",
            "amount plain",
            "code dictionary",
            "city dictionary"
        ]
    );
    let sums = "import sys, duckdb\n\
        print(duckdb.sql(f\"select sum(id), max(id), count(*) from '{sys.argv[1]}'\").fetchall())\n";
    assert_eq!(
        python_lines(sums, &s.path("out/t/current/rows.parquet")),
        ["[(349965000, 69993, 10000)]"]
    );
    // For readers without the delta encodings, they can stay plain.
    let plain = pipeline(r#"path = "in.csv""#).replace(
        "location = \"out/t\"",
        "location = \"out/t\", delta_encoding = false",
    );
    assert!(plain.contains("delta_encoding"), "{plain}");
    let out = s.run(&plain, &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(
        python_lines(DICTIONARIES, &s.path("out/t/current/rows.parquet")),
        [
            "id plain",
            "amount plain",
            "code dictionary",
            "city dictionary"
        ]
    );
}

#[test]
fn bloom_filters_let_duckdb_skip_row_groups_on_a_key() {
    let s = Scratch::new();
    let mut text = String::from("order_id,code\n");
    for i in 0..1000 {
        text.push_str(&format!("{},{}\n", i * 7, i % 3));
    }
    s.write("in.csv", text);
    let toml = "[tables.t]\nplugin = \"passthrough\"\ninput = { path = \"in.csv\" }\n\
                output = { location = \"out/t\", bloom_filter = [\"order_id\"] }\n";
    let out = s.run(toml, &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let script = "import sys, duckdb\n\
        f = sys.argv[1]\n\
        for v in (7, 8):\n\
        \x20   print(v, duckdb.sql(f\"select bloom_filter_excludes from parquet_bloom_probe('{f}', 'order_id', {v})\").fetchall())\n";
    // 7 is in the file: the filter cannot exclude it; 8 is not: the filter excludes it.
    assert_eq!(
        python_lines(script, &s.path("out/t/current/rows.parquet")),
        ["7 [(False,)]", "8 [(True,)]"]
    );
    let unknown = s.run(&toml.replace("[\"order_id\"]", "[\"nope\"]"), &[]);
    assert_eq!(
        unknown.code,
        sluice_tests::EXIT_CONFIG,
        "{}",
        unknown.report
    );
}

#[test]
fn a_declared_sort_order_is_recorded_and_checked() {
    let s = Scratch::new();
    let toml = |file: &str| {
        format!(
            "[tables.t]\nplugin = \"passthrough\"\ninput = {{ path = \"{file}\" }}\n\
             output = {{ location = \"out/t\", sorted_by = [\"day\", \"id\"] }}\n"
        )
    };
    s.write(
        "sorted.csv",
        "id,day\n2,\n1,2024-01-01\n3,2024-01-01\n1,2024-01-02\n",
    );
    let out = s.run(&toml("sorted.csv"), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    let script = "import sys, pyarrow.parquet as pq\n\
        print(pq.ParquetFile(sys.argv[1]).metadata.row_group(0).sorting_columns)\n";
    assert_eq!(
        python_lines(script, &s.path("out/t/current/rows.parquet")),
        ["(SortingColumn(column_index=1, descending=False, nulls_first=True), SortingColumn(column_index=0, descending=False, nulls_first=True))"]
    );
    s.write("unsorted.csv", "id,day\n1,2024-01-02\n2,2024-01-01\n");
    let out = s.run(&toml("unsorted.csv"), &[]);
    assert_eq!(out.code, sluice_tests::EXIT_DATA, "{}", out.report);
    assert!(
        out.error()
            .contains("rows are not in `sorted_by` order [\"day\", \"id\"]: row 2 of the output"),
        "{}",
        out.error()
    );
}
