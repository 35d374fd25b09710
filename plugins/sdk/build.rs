//! Reads the contract version from the WIT package (`package sluice:plugin@X.Y.Z;`), so
//! the version a plugin reports is the version of the WIT it was built against.

fn main() {
    let wit = std::path::Path::new("../../wit/sluice.wit");
    println!("cargo:rerun-if-changed={}", wit.display());
    let text = std::fs::read_to_string(wit).unwrap_or_else(|e| panic!("{}: {e}", wit.display()));
    let version = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("package sluice:plugin@")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            panic!(
                "{}: no `package sluice:plugin@VERSION;` line",
                wit.display()
            )
        });
    println!("cargo:rustc-env=SLUICE_CONTRACT_VERSION={version}");
}
