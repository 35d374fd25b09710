//! `sluice schema` and `sluice check`: what a pipeline would read and write, shown before
//! anything is written, on every bundled example; `check` catches a bad plugin config;
//! `--perf-map` names the plugin code for `perf`.

use std::path::Path;
use std::process::{Command, Output};

use sluice_tests::{cache_dir, Scratch, EXIT_CONFIG};

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice-cli"))
        .args(args)
        .args([
            "--log",
            "warn",
            "--cache-dir",
            &cache_dir().display().to_string(),
        ])
        .output()
        .unwrap()
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .join("pipeline.toml")
        .display()
        .to_string()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn schema_and_check_print_every_example_and_write_nothing() {
    for (pipeline, vars) in [
        ("retail", vec![]),
        ("sensor", vec![]),
        ("borrowers", vec![]),
        ("exports", vec!["--var", "VERSION=20201230_V0001"]),
    ] {
        for command in ["schema", "check"] {
            let path = example(pipeline);
            let mut args = vec![command, path.as_str(), "--json"];
            args.extend(&vars);
            let out = sluice(&args);
            let text = stdout(&out);
            assert!(
                out.status.success(),
                "{command} {pipeline}: {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let tables: serde_json::Value = serde_json::from_str(&text).unwrap();
            for table in tables.as_array().unwrap() {
                assert!(table["error"].is_null(), "{table}");
                for input in table["inputs"].as_array().unwrap() {
                    assert!(!input["columns"].as_array().unwrap().is_empty(), "{table}");
                }
                let outputs = &table["outputs"];
                match command {
                    "check" => assert!(!outputs.as_array().unwrap().is_empty(), "{table}"),
                    _ => assert!(outputs.is_null(), "{table}"),
                }
            }
        }
    }
}

#[test]
fn schema_says_where_each_type_came_from_and_shows_the_first_rows() {
    let s = Scratch::new();
    s.write("in.csv", "id,price,note\n1,12.50,a\n2,3.10,b\n3,4.00,c\n");
    let pipeline = s.write(
        "pipeline.toml",
        "[tables.t]\nplugin = \"passthrough\"\ninput = { path = \"in.csv\", types = { price = \"decimal(8,2)\" } }\noutput = { location = \"out/t\" }\n",
    );
    let out = sluice(&["schema", &pipeline.display().to_string(), "--rows", "2"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    for line in [
        "table `t` (plugin passthrough ",
        "  input `rows`: ",
        "    id     int64            inferred",
        "    price  decimal(8,2)     declared",
        "    note   utf8             inferred",
        "| 1  | 12.50 | a    |",
        "| 2  | 3.10  | b    |",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains("| 3 "), "only the first 2 rows:\n{text}");
    assert!(!s.path("out").exists(), "schema wrote something");
}

#[test]
fn check_opens_the_plugin_with_its_config_and_catches_a_bad_one() {
    let s = Scratch::new();
    s.write("in.csv", "k,t,v\na,2024-03-01T00:00:10Z,1.0\n");
    let table = |mode: &str| {
        format!(
            "[tables.r]\nplugin = \"resample\"\ninput = {{ path = \"in.csv\" }}\noutput = {{ location = \"out/r\" }}\n\
             [tables.r.config]\nmode = \"{mode}\"\ntime = \"t\"\nevery = \"1m\"\nkeys = [\"k\"]\n\
             aggregations = [{{ column = \"v\", function = \"mean\", as = \"v_mean\" }}]\n"
        )
    };
    let good = s.write("good.toml", table("aggregate"));
    let out = sluice(&["check", &good.display().to_string(), "--rows", "0"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("  output `rows`: k utf8"),
        "{}",
        stdout(&out)
    );

    let bad = s.write("bad.toml", table("nonsense"));
    // `schema` does not open the plugin; `check` does, and fails with a config error.
    assert!(sluice(&["schema", &bad.display().to_string()])
        .status
        .success());
    let out = sluice(&["check", &bad.display().to_string()]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(EXIT_CONFIG)),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("table `r`: error: plugin resample")
            && stdout(&out).contains("unknown variant `nonsense`"),
        "{}",
        stdout(&out)
    );
    assert!(!s.path("out").exists(), "check wrote something");
}

/// `--perf-map` leaves the compiled plugins' symbols where `perf report` looks for them,
/// so a profile of a run can name the plugin functions it lands in.
#[test]
fn perf_map_names_the_plugin_code_for_perf() {
    let child = Command::new(env!("CARGO_BIN_EXE_sluice-cli"))
        .args(["check", &example("retail"), "--perf-map", "--log", "warn"])
        .args(["--cache-dir", &cache_dir().display().to_string()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let map = std::path::PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    let status = child.wait_with_output().unwrap().status;
    assert!(status.success());
    let symbols = std::fs::read_to_string(&map).unwrap_or_default();
    std::fs::remove_file(&map).ok();
    assert!(
        symbols.lines().any(|l| l.contains("wasm[0]::function")),
        "{} holds no plugin functions",
        map.display()
    );
}
