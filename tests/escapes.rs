//! Names and links that would take a run out of its folders: a table, tenant, version, run
//! id, ingest job or asset named with `..`, a trigger capture of `..` from an event's key,
//! and symbolic links out of an input or ingest source folder. Each is refused at load (exit
//! 2) and nothing is written or read outside.

use sluice_tests::{files_under, Scratch, EXIT_CONFIG};

fn table(name: &str, extra: &str) -> String {
    format!(
        "[tables.\"{name}\"]\nplugin = \"passthrough\"\n{extra}\ninput = {{ path = \"in.csv\" }}\n\
         output = {{ location = \"out/t\", mode = \"append\" }}\n"
    )
}

#[test]
fn names_with_dot_dot_are_refused_before_anything_is_written() {
    let scratch = Scratch::new();
    scratch.write("in.csv", "id\n1\n");
    // Append mode takes the table lock and writes a manifest: keys built from these names.
    let cases: [(String, Vec<&str>, &str); 5] = [
        (table("../../x", ""), vec![], "table name \"../../x\""),
        (
            table("t", "tenant = \"${T}\""),
            vec!["--var", "T=../.."],
            "tenant \"../..\"",
        ),
        (
            table("t", "version = \"${V}\""),
            vec!["--var", "V=.."],
            "version \"..\"",
        ),
        (
            table("t", ""),
            vec!["--run-id", "../run"],
            "--run-id \"../run\"",
        ),
        (table(".hidden", ""), vec![], "starts with a dot"),
    ];
    for (pipeline, args, what) in cases {
        let out = scratch.run(&pipeline, &args);
        assert_eq!(out.code, EXIT_CONFIG, "{what}: {}", out.report);
        assert!(
            !scratch.path("out").exists(),
            "{what}: the run wrote outputs"
        );
    }
    let written = files_under(&scratch.path(""));
    // Only the report the runs were asked to write (`--report`), saying they failed.
    assert_eq!(
        written,
        ["in.csv", "pipeline.toml", "pipeline.toml.report.json"],
        "a refused run wrote files"
    );
    let fine = scratch.run(&table("t", "tenant = \"${T}\""), &["--var", "T=acme"]);
    assert_eq!(fine.code, 0, "{}", fine.report);
}

#[test]
fn ingest_job_and_asset_names_with_dot_dot_are_refused() {
    let scratch = Scratch::new();
    scratch.write("source/tag.csv", "userId,tag\n1,funny\n");
    let ingest = |job: &str, asset: &str| {
        format!(
            "[ingest.\"{job}\"]\nsource = \"source\"\ntarget = \"out/raw\"\n\n\
             [[ingest.\"{job}\".assets]]\nname = \"{asset}\"\npattern = \"tag.csv\"\npartition = \"day\"\n"
        )
    };
    for (job, asset) in [
        ("../../x", "tags"),
        ("movielens", ".."),
        ("movielens", "a/../../b"),
    ] {
        let out = scratch.run(&ingest(job, asset), &[]);
        assert_eq!(out.code, EXIT_CONFIG, "{job} {asset}: {}", out.report);
        assert!(
            !scratch.path("out").exists() && !scratch.path("x").exists(),
            "{job} {asset} wrote"
        );
    }
    let fine = scratch.run(&ingest("movielens", "tags"), &[]);
    assert_eq!(fine.code, 0, "{}", fine.report);
}

#[test]
fn a_trigger_capture_of_dot_dot_from_an_event_key_is_refused() {
    let scratch = Scratch::new();
    scratch.write("in.csv", "id\n1\n");
    let pipeline = "[tables.t]\nplugin = \"passthrough\"\ntrigger = \"s3://b/{tenant}/in/*.csv\"\n\
                    input = { path = \"in.csv\" }\noutput = { location = \"out/${tenant}/t\" }\n";
    let event = r#"{"bucket": "b", "key": "../in/data.csv"}"#;
    let out = scratch.run(pipeline, &["--event", event]);
    assert_eq!(out.code, EXIT_CONFIG, "{}", out.report);
    assert!(!scratch.path("out").exists(), "the run wrote");
    let ok = scratch.run(
        pipeline,
        &["--event", r#"{"bucket": "b", "key": "acme/in/data.csv"}"#],
    );
    assert_eq!(ok.code, 0, "{}", ok.report);
    assert!(scratch.path("out/acme/t/current/rows.parquet").exists());
}

#[test]
fn an_input_link_out_of_its_folder_is_refused() {
    let scratch = Scratch::new();
    scratch.write("secret.csv", "password\nhunter2\n");
    scratch.write("in/a.csv", "password\nplain\n");
    std::os::unix::fs::symlink(scratch.path("secret.csv"), scratch.path("in/b.csv")).unwrap();
    let pipeline = "[tables.t]\nplugin = \"passthrough\"\ninput = { path = \"in/*.csv\" }\noutput = { location = \"out/t\" }\n";
    let out = scratch.run(pipeline, &[]);
    assert_eq!(out.code, EXIT_CONFIG, "{}", out.report);
    assert!(out.error().contains("symbolic link"), "{}", out.error());
    assert!(!scratch.path("out/t/current/rows.parquet").exists());
    // A link that stays inside the folder is followed.
    std::fs::remove_file(scratch.path("in/b.csv")).unwrap();
    std::os::unix::fs::symlink(scratch.path("in/a.csv"), scratch.path("in/b.csv")).unwrap();
    let inside = scratch.run(pipeline, &[]);
    assert_eq!(inside.code, 0, "{}", inside.report);
    assert_eq!(inside.table()["rows_in"], 2);
}

#[test]
fn ingest_does_not_follow_links_at_all() {
    let scratch = Scratch::new();
    scratch.write("source/tag.csv", "userId,tag\n1,funny\n");
    std::fs::create_dir_all(scratch.path("source/more")).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", scratch.path("source/more/tag.csv")).unwrap();
    std::os::unix::fs::symlink(scratch.path("source"), scratch.path("source/loop")).unwrap();
    let pipeline = "[ingest.movielens]\nsource = \"source\"\ntarget = \"out/raw\"\n\n\
                    [[ingest.movielens.assets]]\nname = \"tags\"\npattern = \"tag.csv\"\npartition = \"day\"\n";
    let out = scratch.run(pipeline, &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    assert_eq!(out.report["ingests"][0]["copied"], 1, "{}", out.report);
    let copied: Vec<String> = files_under(&scratch.path("out/raw"))
        .into_iter()
        .filter(|f| f.starts_with("tags/"))
        .collect();
    assert_eq!(copied.len(), 1, "{copied:?}");
    let bytes = std::fs::read(scratch.path("out/raw").join(&copied[0])).unwrap();
    assert_eq!(bytes, b"userId,tag\n1,funny\n");
    // The lock is gone with the run, and its compare-and-swap left no lock file of its own.
    let state = files_under(&scratch.path("out/raw/_sluice"));
    assert!(state.iter().all(|f| !f.contains("lock")), "{state:?}");
}
