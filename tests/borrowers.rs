//! Pipeline 000 end to end on the real workbook: nine related tables whose foreign keys all
//! resolve, names and zip codes repaired, and a rerun that upserts instead of duplicating.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde_json::Value;
use sluice_tests::{read_parquet, Outcome, Parquet, Scratch};

fn pipeline(touch_unchanged: bool) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/borrowers/pipeline.toml"),
    )
    .unwrap();
    // The original workbook (seed 000), bundled with the example.
    let workbook = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/borrowers/data/data_engineer_raw_data.xlsx");
    text.replace(
        "data/data_engineer_raw_data.xlsx",
        &workbook.display().to_string(),
    )
    .replace(
        "touch_unchanged = true",
        &format!("touch_unchanged = {touch_unchanged}"),
    )
}

fn tables(scratch: &Scratch) -> BTreeMap<String, Parquet> {
    std::fs::read_dir(scratch.path("out/borrowers/current"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                read_parquet(&p),
            )
        })
        .collect()
}

/// The values of a column, by name.
fn column<'a>(table: &'a Parquet, name: &str) -> Vec<&'a Value> {
    let index = table
        .columns()
        .iter()
        .position(|c| c.starts_with(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no column {name}"));
    table.rows().iter().map(|r| &r[index]).collect()
}

fn ids(table: &Parquet, name: &str) -> HashSet<String> {
    column(table, name)
        .into_iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn run(scratch: &Scratch, touch_unchanged: bool) -> Outcome {
    let out = scratch.run(&pipeline(touch_unchanged), &[]);
    assert_eq!(out.code, 0, "{}", out.report);
    out
}

#[test]
fn nine_tables_whose_foreign_keys_resolve() {
    let scratch = Scratch::new();
    run(&scratch, true);
    let t = tables(&scratch);
    let counts: BTreeMap<&str, usize> = t
        .iter()
        .map(|(n, p)| (n.as_str(), p.rows().len()))
        .collect();
    for (name, rows) in [
        ("user_profile", 1000),
        ("user", 1000),
        ("address", 1000),
        ("email_type", 1000),
        ("email", 1000),
        ("role_profile_type", 1000),
        ("role_profile", 1000),
        ("phone_number_type", 2000),
        ("phone_number", 2000),
    ] {
        assert_eq!(counts.get(name), Some(&rows), "{name}: {counts:?}");
    }
    for (child, fk, parent, pk) in [
        ("user", "user_profile_id", "user_profile", "user_profile_id"),
        (
            "address",
            "user_profile_id",
            "user_profile",
            "user_profile_id",
        ),
        (
            "email",
            "user_profile_id",
            "user_profile",
            "user_profile_id",
        ),
        ("email", "email_type_id", "email_type", "email_type_id"),
        (
            "phone_number",
            "user_profile_id",
            "user_profile",
            "user_profile_id",
        ),
        (
            "phone_number",
            "phone_number_type_id",
            "phone_number_type",
            "phone_number_type_id",
        ),
        (
            "role_profile",
            "user_profile_id",
            "user_profile",
            "user_profile_id",
        ),
        (
            "role_profile",
            "role_profile_type_id",
            "role_profile_type",
            "role_profile_type_id",
        ),
    ] {
        let parents = ids(&t[parent], pk);
        assert_eq!(
            parents.len(),
            t[parent].rows().len(),
            "{parent}.{pk} is unique"
        );
        let dangling: Vec<&Value> = column(&t[child], fk)
            .into_iter()
            .filter(|v| !parents.contains(v.as_str().unwrap()))
            .collect();
        assert!(
            dangling.is_empty(),
            "{child}.{fk} -> {parent}.{pk}: {} dangling",
            dangling.len()
        );
    }
    // "Ailis Degli Antoni" keeps "Degli Antoni"; 8638 is 08638 again.
    let user = &t["user"];
    let (first, last) = (column(user, "first_name"), column(user, "last_name"));
    let ailis = first
        .iter()
        .position(|v| v.as_str() == Some("Ailis"))
        .expect("Ailis is a borrower");
    assert_eq!(last[ailis], "Degli Antoni");
    let zips: Vec<&str> = column(&t["address"], "zip_code")
        .into_iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(zips.contains(&"08638"), "8638 repaired");
    assert!(
        zips.iter().all(|z| z.len() == 5),
        "every zip has five digits: {:?}",
        zips.iter().filter(|z| z.len() != 5).collect::<Vec<_>>()
    );
}

fn without(table: &Parquet, skip: &[&str]) -> Vec<Vec<Value>> {
    let keep: Vec<usize> = table
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, c)| !skip.iter().any(|s| c.starts_with(&format!("{s}: "))))
        .map(|(i, _)| i)
        .collect();
    table
        .rows()
        .iter()
        .map(|r| keep.iter().map(|&i| r[i].clone()).collect())
        .collect()
}

#[test]
fn a_rerun_upserts_keeping_created_and_touching_updated() {
    let scratch = Scratch::new();
    let first = run(&scratch, true);
    let before = tables(&scratch);
    let second = run(&scratch, true);
    let after = tables(&scratch);
    assert_ne!(first.report["run_time"], second.report["run_time"]);
    for (name, old) in &before {
        let new = &after[name];
        assert_eq!(
            without(new, &["updated_date"]),
            without(old, &["updated_date"]),
            "{name}: only updated_date changes"
        );
        let stamps: HashSet<&Value> = column(new, "updated_date").into_iter().collect();
        assert_eq!(stamps.len(), 1, "{name}");
        assert_ne!(
            column(new, "updated_date")[0],
            column(old, "updated_date")[0],
            "{name}: updated_date is the second run's"
        );
        assert_eq!(
            column(new, "created_date"),
            column(old, "created_date"),
            "{name}: created_date is the first run's"
        );
    }
}

#[test]
fn with_touch_unchanged_off_a_rerun_changes_nothing() {
    let scratch = Scratch::new();
    run(&scratch, false);
    let before = tables(&scratch);
    run(&scratch, false);
    let after = tables(&scratch);
    for (name, old) in &before {
        assert_eq!(after[name].rows(), old.rows(), "{name}");
    }
}
