//! Settings come from flags, then env vars, then the pipeline file's `[settings]`, then the
//! defaults. One test in its own binary, since it sets a process-wide env var.

// A test reads best as one story, so the 60-line limit for host/ functions is not applied.
#![allow(clippy::too_many_lines)]

use sluice_tests::{Scratch, EXIT_CONFIG};

#[test]
fn flags_beat_env_vars_beat_the_pipeline_file() {
    let scratch = Scratch::new();
    scratch.write("in.csv", "id\n1\n");
    let pipeline = "[settings]\nrun_id = \"from-file\"\nlock_wait = 5\n\n\
                    [tables.t]\nplugin = \"passthrough\"\ninput = { path = \"in.csv\" }\noutput = { location = \"out/t\" }\n";
    let from_file = scratch.run(pipeline, &[]);
    assert_eq!(from_file.code, 0, "{}", from_file.report);
    assert_eq!(from_file.report["run_id"], "from-file");

    std::env::set_var("SLUICE_RUN_ID", "from-env");
    let from_env = scratch.run(pipeline, &[]);
    assert_eq!(from_env.report["run_id"], "from-env");
    let from_flag = scratch.run(pipeline, &["--run-id", "from-flag"]);
    assert_eq!(from_flag.report["run_id"], "from-flag");
    std::env::remove_var("SLUICE_RUN_ID");

    let unknown = scratch.run(&pipeline.replace("lock_wait", "lock_waiting"), &[]);
    assert_eq!(unknown.code, EXIT_CONFIG);
}
