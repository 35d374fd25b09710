//! The deployable definitions in deploy/ are well formed and name only settings the
//! binary reads: the ECS task and Batch job definitions, the Step Functions state machines
//! (also accepted by moto's Step Functions), the Dockerfile and the deployed pipelines.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path)
}

fn json(path: &str) -> Value {
    let text = std::fs::read_to_string(deploy(path)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn state_machines() -> Vec<(String, Value)> {
    let mut machines: Vec<(String, Value)> = std::fs::read_dir(deploy("state-machines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".asl.json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                json(&format!(
                    "state-machines/{}",
                    p.file_name().unwrap().to_string_lossy()
                )),
            )
        })
        .collect();
    machines.sort_by(|a, b| a.0.cmp(&b.0));
    machines
}

/// Every `SLUICE_*` name in a text.
fn sluice_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("SLUICE_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

#[test]
fn definitions_name_only_settings_the_binary_reads() {
    let known: BTreeSet<String> = sluice::cli::env_vars().into_iter().collect();
    for expected in [
        "SLUICE_PIPELINE",
        "SLUICE_EVENT",
        "SLUICE_TASK_TOKEN",
        "SLUICE_SHARD",
        "SLUICE_REPORT",
    ] {
        assert!(
            known.contains(expected),
            "{expected} is read by the binary: {known:?}"
        );
    }
    let mut checked = 0;
    for file in [
        "Dockerfile",
        "ecs-task-definition.json",
        "batch-job-definition.json",
    ]
    .into_iter()
    .map(String::from)
    .chain(
        state_machines()
            .into_iter()
            .map(|(n, _)| format!("state-machines/{n}")),
    ) {
        let text = std::fs::read_to_string(deploy(&file)).unwrap();
        for name in sluice_names(&text) {
            assert!(
                known.contains(&name),
                "{file} sets {name}, which sluice does not read (it reads {known:?})"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 15,
        "the definitions set the job's settings ({checked} found)"
    );
}

#[test]
fn task_and_job_definitions_are_well_formed() {
    let task = json("ecs-task-definition.json");
    assert_eq!(task["requiresCompatibilities"][0], "FARGATE");
    let container = &task["containerDefinitions"][0];
    assert_eq!(
        container["name"], "sluice",
        "the state machines override this container by name"
    );
    assert!(container["environment"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["name"].is_string() && e["value"].is_string()));
    let job = json("batch-job-definition.json");
    assert_eq!(job["type"], "container");
    let retry = &job["retryStrategy"]["evaluateOnExit"];
    assert_eq!(
        retry[0]["onExitCode"],
        sluice_tests::EXIT_IO.to_string(),
        "Batch retries I/O failures only"
    );
    assert_eq!(retry[0]["action"], "RETRY");
}

#[test]
fn state_machines_are_well_formed_and_retry_only_transient_failures() {
    let machines = state_machines();
    assert_eq!(machines.len(), 3, "pipelines 001, 002 and 004");
    for (name, asl) in &machines {
        let states = asl["States"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: no States"));
        assert!(
            states.contains_key(asl["StartAt"].as_str().unwrap()),
            "{name}: StartAt names a state"
        );
        let mut terminal = false;
        for (state_name, state) in states {
            let kind = state["Type"].as_str().unwrap();
            let mut targets: Vec<&str> = state["Next"].as_str().into_iter().collect();
            targets.extend(
                state["Catch"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["Next"].as_str()),
            );
            for target in targets {
                assert!(
                    states.contains_key(target),
                    "{name}: {state_name} goes to missing state {target}"
                );
            }
            let ends = state["End"].as_bool() == Some(true) || kind == "Fail" || kind == "Succeed";
            assert!(
                ends || state["Next"].is_string(),
                "{name}: {state_name} neither ends nor goes on"
            );
            terminal |= ends;
            if state["Resource"]
                .as_str()
                .is_some_and(|r| r.contains("waitForTaskToken"))
            {
                let retried: Vec<&str> = state["Retry"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
                    .filter_map(Value::as_str)
                    .collect();
                assert!(retried.contains(&"Sluice.Io"), "{name}: retries Sluice.Io");
                assert!(
                    !retried.iter().any(|e| *e == "Sluice.Data"
                        || *e == "Sluice.Config"
                        || *e == "States.ALL"),
                    "{name}: never retries bad data or config"
                );
                assert!(
                    state["Catch"].is_array(),
                    "{name}: failures are caught and notified"
                );
                assert!(
                    state["HeartbeatSeconds"].as_u64().unwrap() > 60,
                    "{name}: the heartbeat timeout exceeds SLUICE_HEARTBEAT_SECS' default"
                );
                let env = state["Parameters"]["Overrides"]["ContainerOverrides"][0]["Environment"]
                    .as_array()
                    .unwrap();
                assert!(
                    env.iter().any(
                        |e| e["Name"] == "SLUICE_TASK_TOKEN" && e["Value.$"] == "$$.Task.Token"
                    ),
                    "{name}: passes the token"
                );
            }
        }
        assert!(terminal, "{name}: has an end");
    }
}

#[test]
fn moto_accepts_the_state_machines() {
    let client = sluice_tests::sfn::client();
    for (name, asl) in state_machines() {
        let created = sluice_tests::s3::runtime().block_on(
            client
                .create_state_machine()
                .name(format!(
                    "deploy-{}-{}",
                    std::process::id(),
                    name.replace('.', "-")
                ))
                .definition(asl.to_string())
                .role_arn("arn:aws:iam::123456789012:role/sluice")
                .send(),
        );
        assert!(created.is_ok(), "{name}: {created:?}");
    }
}

#[test]
fn the_image_is_multi_stage_and_runs_as_a_user() {
    let dockerfile = std::fs::read_to_string(deploy("Dockerfile")).unwrap();
    assert!(
        dockerfile
            .lines()
            .filter(|l| l.starts_with("FROM "))
            .count()
            >= 2,
        "multi-stage"
    );
    let user = dockerfile
        .lines()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert_ne!(user.trim(), "USER root");
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/sluice\"]"));
}

#[test]
fn the_deployed_pipelines_load_with_their_variables() {
    let mut vars = sluice_core::vars::Vars::new();
    for (k, v) in [
        ("SOURCE_BUCKET", "src"),
        ("LAKE_BUCKET", "lake"),
        ("EXPORTS_BUCKET", "exports"),
        ("bucket", "exports"),
        ("tenant", "t"),
        ("table", "x"),
        ("version", "v1"),
    ] {
        vars.insert(k.into(), v.into());
    }
    for file in ["001-sensor.toml", "002-retail.toml", "004-exports.toml"] {
        let path = deploy(&format!("pipelines/{file}"));
        let pipeline = sluice_core::pipeline::Pipeline::load_with_vars(&path, &vars)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!pipeline.tables.is_empty());
        for (table, spec) in &pipeline.tables {
            if let Some(trigger) = &spec.trigger {
                sluice_aws::Trigger::new(&sluice_core::vars::expand_vars(trigger, &vars).unwrap())
                    .unwrap_or_else(|e| panic!("{file} {table}: {e}"));
            }
        }
    }
}
