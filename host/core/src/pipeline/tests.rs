//! Tests of loading pipeline files: path and `${NAME}` resolution, defaults, and every load-time refusal.

use super::*;
use crate::commit::CommitMode;
use crate::source::Select;

const FILE: &str = "/base/pipeline.toml";
/// A variable no environment sets.
const UNSET: &str = "SLUICE_TEST_SURELY_UNSET_7F3A";
/// A table's input and output, both relative.
const IO: &str = "input = { path = \"data/orders.csv\" }\noutput = { location = \"out\" }";

fn load_with(text: &str, vars: &Vars) -> Result<Pipeline, PipelineError> {
    Pipeline::from_text(text, Path::new(FILE), vars)
}

fn load(text: &str) -> Pipeline {
    load_with(text, &Vars::new()).unwrap_or_else(|e| panic!("{e}"))
}

/// `[tables.NAME]` with the bundled plugin, then `lines`.
fn table(name: &str, lines: &str) -> String {
    format!("[tables.{name}]\nplugin = \"passthrough\"\n{lines}\n")
}

fn orders(lines: &str) -> String {
    table("orders", lines)
}

/// The message of a table-level refusal, checked to name the table.
fn refusal(text: &str) -> String {
    let err = load_with(text, &Vars::new()).expect_err("the pipeline was accepted");
    assert!(matches!(err, PipelineError::Table(_)), "{err}");
    let message = err.to_string();
    assert!(message.starts_with("table `orders`: "), "{message}");
    message
}

fn assert_refused(lines: &str, problem: &str) {
    let message = refusal(&orders(lines));
    assert!(
        message.contains(problem),
        "{message:?} does not say {problem:?}"
    );
}

#[test]
fn relative_paths_resolve_against_the_pipeline_folder() {
    let text = "[tables.orders]\nplugin = \"plugins/orders.wasm\"\noutput = { location = \"out/orders\" }\n\
                [tables.orders.inputs.current]\npath = \"data/*.csv\"\n";
    let items_text = table(
        "items",
        "input = { path = \"items.csv\" }\noutput = { location = \"lake\" }",
    );
    let pipeline = load(&format!("{text}{items_text}"));
    let orders = &pipeline.tables["orders"];
    assert_eq!(orders.plugin, "/base/plugins/orders.wasm");
    assert_eq!(orders.output.location, "/base/out/orders");
    assert_eq!(orders.inputs["current"].path, "/base/data/*.csv");
    let items = &pipeline.tables["items"];
    assert_eq!(items.plugin, "passthrough");
    assert_eq!(items.input.as_ref().unwrap().path, "/base/items.csv");
    assert_eq!(items.output.location, "/base/lake");
}

#[test]
fn s3_and_absolute_paths_are_left_alone() {
    let text = "[tables.orders]\nplugin = \"/opt/plugins/orders.wasm\"\n\
                input = { path = \"s3://bucket/in/*.csv.gz\" }\noutput = { location = \"s3://bucket/out\" }\n";
    let items_text = table(
        "items",
        "input = { path = \"/data/items.csv\" }\noutput = { location = \"/srv/lake\" }",
    );
    let pipeline = load(&format!("{text}{items_text}"));
    let orders = &pipeline.tables["orders"];
    assert_eq!(orders.plugin, "/opt/plugins/orders.wasm");
    assert_eq!(
        orders.input.as_ref().unwrap().path,
        "s3://bucket/in/*.csv.gz"
    );
    assert_eq!(orders.output.location, "s3://bucket/out");
    let items = &pipeline.tables["items"];
    assert_eq!(items.input.as_ref().unwrap().path, "/data/items.csv");
    assert_eq!(items.output.location, "/srv/lake");
}

#[test]
fn vars_fill_paths_tenant_version_plugin_and_config() {
    let vars = Vars::from([
        ("ENV".to_string(), "prod".to_string()),
        ("VERSION".to_string(), "20240307".to_string()),
    ]);
    let text = "[tables.orders]\nplugin = \"${ENV}/orders.wasm\"\ntenant = \"acme-${ENV}\"\n\
                version = \"${VERSION}\"\ninput = { path = \"data/${ENV}/${VERSION}.csv\" }\n\
                output = { location = \"s3://lake-${ENV}/orders\" }\n\
                [tables.orders.config]\nprefix = \"${ENV}-\"\ndays = 3\ntags = [\"${VERSION}\", \"x\"]\n\
                nested = { env = \"${ENV}\" }\n";
    let pipeline = load_with(text, &vars).unwrap();
    let orders = &pipeline.tables["orders"];
    assert_eq!(orders.plugin, "/base/prod/orders.wasm");
    assert_eq!(orders.tenant, "acme-prod");
    assert_eq!(orders.version.as_deref(), Some("20240307"));
    assert_eq!(
        orders.input.as_ref().unwrap().path,
        "/base/data/prod/20240307.csv"
    );
    assert_eq!(orders.output.location, "s3://lake-prod/orders");
    assert_eq!(orders.params, vars);
    let config: serde_json::Value = serde_json::from_str(&orders.config_json()).unwrap();
    let want = serde_json::json!({"prefix": "prod-", "days": 3, "tags": ["20240307", "x"], "nested": {"env": "prod"}});
    assert_eq!(config, want);
}

#[test]
fn an_unset_variable_is_an_error_naming_it() {
    assert!(
        std::env::var(UNSET).is_err(),
        "{UNSET} must not be set for this test"
    );
    let var = format!("${{{UNSET}}}");
    for lines in [
        format!("input = {{ path = \"data/{var}.csv\" }}\noutput = {{ location = \"out\" }}"),
        format!("input = {{ path = \"a.csv\" }}\noutput = {{ location = \"{var}/out\" }}"),
        format!("tenant = \"{var}\"\n{IO}"),
        format!("version = \"{var}\"\n{IO}"),
        format!("config = {{ key = \"{var}\" }}\n{IO}"),
    ] {
        let message = refusal(&orders(&lines));
        assert!(
            message.contains(&format!("uses {var}, which is not set")),
            "{message}"
        );
        assert!(
            message.contains(&format!("--var {UNSET}=VALUE")),
            "{message}"
        );
    }
    assert!(
        refusal(&orders(&format!("config = {{ key = \"{var}\" }}\n{IO}"))).contains("config: ")
    );
}

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let pipeline = load(&orders(IO));
    assert_eq!(pipeline.defaults.batch_rows, None);
    assert!(pipeline.ingest.is_empty() && pipeline.settings.is_empty());
    let orders = &pipeline.tables["orders"];
    assert_eq!(
        (
            orders.batch_rows,
            orders.tenant.as_str(),
            orders.version.as_deref()
        ),
        (None, "default", None)
    );
    assert!(orders.trigger.is_none() && orders.inputs.is_empty());
    assert_eq!(orders.config_json(), "{}");
    let limits = &orders.limits;
    let got = (
        limits.call_timeout_secs,
        limits.fuel_per_call,
        limits.memory_mib,
        limits.output_mib_per_call,
    );
    assert_eq!((got, limits.log_lines), ((60, None, 1024, 512), 1000));
    let output = &orders.output;
    assert_eq!(
        (
            output.compression.as_str(),
            output.level,
            output.row_group_rows
        ),
        ("zstd", None, 131_072)
    );
    assert!(output.mode.is_none() && output.partition.is_none() && output.upsert.is_none());
    assert_eq!(output.commit_mode(), CommitMode::Replace);
    let input = orders.input.as_ref().unwrap();
    assert_eq!(
        (input.select, input.from_registry.as_deref()),
        (Select::All, None)
    );
    let csv = &input.csv;
    assert_eq!(
        (csv.delimiter, csv.header, csv.infer, csv.null.clone()),
        (',', true, true, vec![String::new()])
    );
}

#[test]
fn commit_mode_is_append_on_s3_unless_set() {
    let input = "input = { path = \"a.csv\" }";
    let text = [
        table(
            "lake",
            &format!("{input}\noutput = {{ location = \"s3://bucket/lake\" }}"),
        ),
        table(
            "pinned",
            &format!(
                "{input}\noutput = {{ location = \"s3://bucket/pinned\", mode = \"replace\" }}"
            ),
        ),
        table(
            "local",
            &format!("{input}\noutput = {{ location = \"out\", mode = \"append\" }}"),
        ),
    ]
    .concat();
    let pipeline = load(&text);
    let mode = |name: &str| pipeline.tables[name].output.commit_mode();
    let want = (CommitMode::Append, CommitMode::Replace, CommitMode::Append);
    assert_eq!((mode("lake"), mode("pinned"), mode("local")), want);
}

#[test]
fn an_unknown_field_is_refused_with_its_name() {
    let cases = [
        (orders(&format!("colour = \"red\"\n{IO}")), "colour"),
        (
            orders(
                "input = { path = \"a.csv\", delimeter = \";\" }\noutput = { location = \"out\" }",
            ),
            "delimeter",
        ),
        (
            orders(
                "input = { path = \"a.csv\" }\noutput = { location = \"out\", codec = \"zstd\" }",
            ),
            "codec",
        ),
        (
            orders(&format!("{IO}\n[tables.orders.limits]\nmemory = 5")),
            "memory",
        ),
        (format!("[defaults]\nrows = 5\n{}", orders(IO)), "rows"),
        (
            format!("[table.orders]\nplugin = \"passthrough\"\n{IO}\n"),
            "table",
        ),
    ];
    for (text, field) in cases {
        let err = load_with(&text, &Vars::new()).expect_err(field);
        assert!(matches!(err, PipelineError::Parse { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains(FILE) && message.contains(&format!("unknown field `{field}`")),
            "{message}"
        );
    }
}

#[test]
fn input_and_inputs_together_are_refused() {
    let text = format!(
        "{}[tables.orders.inputs.extra]\npath = \"b.csv\"\n",
        orders(IO)
    );
    assert!(refusal(&text).contains("give either `input` or `inputs`, not both"));
}

#[test]
fn a_table_without_an_input_path_is_refused() {
    assert_refused("output = { location = \"out\" }", "no input");
    assert_refused(
        "input = { header = true }\noutput = { location = \"out\" }",
        "an input needs a `path`",
    );
}

#[test]
fn zero_sizes_and_limits_are_refused() {
    assert_refused(
        &format!("batch_rows = 0\n{IO}"),
        "batch_rows must be at least 1",
    );
    let output =
        "input = { path = \"a.csv\" }\noutput = { location = \"out\", row_group_rows = 0 }";
    assert_refused(output, "output.row_group_rows must be at least 1");
    for limit in [
        "call_timeout_secs",
        "memory_mib",
        "output_mib_per_call",
        "fuel_per_call",
    ] {
        let lines = format!("{IO}\n[tables.orders.limits]\n{limit} = 0");
        assert_refused(&lines, &format!("limits.{limit} must be at least 1"));
    }
    let zero_default = format!("[defaults]\nbatch_rows = 0\n{}", orders(IO));
    let message = load_with(&zero_default, &Vars::new())
        .expect_err("accepted")
        .to_string();
    assert!(
        message.contains("defaults.batch_rows must be at least 1"),
        "{message}"
    );
    // The same values above zero load.
    let fine = format!(
        "batch_rows = 1\n{IO}\n[tables.orders.limits]\ncall_timeout_secs = 1\nfuel_per_call = 1"
    );
    assert_eq!(load(&orders(&fine)).tables["orders"].batch_rows, Some(1));
}

#[test]
fn bad_output_settings_are_refused() {
    let with = |output: &str| {
        format!("input = {{ path = \"a.csv\" }}\noutput = {{ location = \"out\", {output} }}")
    };
    assert_refused(
        &with("compression = \"lzma\""),
        "output.compression: unknown codec `lzma`",
    );
    assert_refused(&with("level = 99"), "output.level");
    assert_refused(
        &with("mode = \"append\", upsert = {}"),
        "output.upsert needs mode = \"replace\"",
    );
    assert_refused(
        &with("upsert = {}, partition = { by = \"run-date\" }"),
        "output.upsert needs mode",
    );
    assert_refused(
        &with("partition = { by = \"value\" }"),
        "output.partition: this `by` needs a `column`",
    );
    assert_refused(
        &with("partition = { by = \"column-date\" }"),
        "output.partition: this `by` needs a `column`",
    );
    // What each refusal lacked, given, loads.
    let fine = load(&orders(&with(
        "compression = \"gzip\", partition = { by = \"value\", column = \"region\" }",
    )));
    assert_eq!(
        fine.tables["orders"]
            .output
            .partition
            .as_ref()
            .unwrap()
            .column
            .as_deref(),
        Some("region")
    );
    load(&orders(&with("upsert = {}")));
}

#[test]
fn from_registry_needs_the_table_version_and_columns() {
    let registry = "input = { from_registry = \"orders\", columns = [\"id\"] }\noutput = { location = \"out\" }";
    assert_refused(registry, "`from_registry` needs the table's `version`");
    let no_columns =
        "version = \"v2\"\ninput = { from_registry = \"orders\" }\noutput = { location = \"out\" }";
    assert_refused(no_columns, "a `from_registry` input needs `columns`");
    let both = "version = \"v2\"\ninput = { path = \"a.csv\", from_registry = \"orders\", columns = [\"id\"] }\n\
                output = { location = \"out\" }";
    assert_refused(both, "either `path` or `from_registry`, not both");
    let pipeline = load(&orders(&format!("version = \"v2\"\n{registry}")));
    let input = pipeline.tables["orders"].input.clone().unwrap();
    assert_eq!(
        (input.path.as_str(), input.from_registry.as_deref()),
        ("", Some("orders"))
    );
}

#[test]
fn a_file_without_tables_or_ingest_jobs_is_refused() {
    for text in ["", "[defaults]\nbatch_rows = 10\n"] {
        let err = load_with(text, &Vars::new()).expect_err(text);
        assert!(matches!(err, PipelineError::Parse { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!("invalid pipeline file {FILE}: no [tables.NAME] or [ingest.NAME]")
        );
    }
}

#[test]
fn bad_input_options_are_refused_naming_the_input() {
    let with = |options: &str| {
        format!("input = {{ path = \"a.csv\", {options} }}\noutput = {{ location = \"out\" }}")
    };
    assert_refused(
        &with("types = { id = \"integer\" }"),
        "input `/base/a.csv`: types.id: unknown type `integer`",
    );
    assert_refused(
        &with("header = false"),
        "input `/base/a.csv`: a file without a header needs `columns`",
    );
    assert_refused(
        &with("delimiter = \"§\""),
        "delimiter must be one ASCII character",
    );
    let fine = load(&orders(&with(
        "types = { id = \"bigint\", at = \"timestamp_utc\" }",
    )));
    assert_eq!(
        fine.tables["orders"]
            .input
            .as_ref()
            .unwrap()
            .csv
            .types
            .len(),
        2
    );
}
