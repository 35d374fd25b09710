//! Builds the test-only guest plugins (`tests/guests/`) for wasm32-wasip2 with a nested
//! cargo, like wasmtime's test-programs, and tells the tests where they are.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let guests = here.join("guests");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let target_dir = guest_target_dir(&out_dir);
    println!("cargo:rerun-if-changed={}", guests.join("Cargo.toml").display());
    println!("cargo:rerun-if-changed={}", guests.join("testbed/src").display());
    println!("cargo:rerun-if-changed={}", guests.join("testbed/Cargo.toml").display());
    println!("cargo:rerun-if-changed={}", here.join("../plugins/sdk/src").display());
    println!("cargo:rerun-if-changed={}", here.join("../plugins/ipc/src").display());
    println!("cargo:rerun-if-changed={}", here.join("../wit").display());

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(guests.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "CARGO_BUILD_RUSTFLAGS", "RUSTC_WORKSPACE_WRAPPER"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("running cargo for the test guests");
    assert!(status.success(), "building the test guests failed");
    let wasm = target_dir.join("wasm32-wasip2/release/testbed.wasm");
    assert!(wasm.exists(), "missing {}", wasm.display());
    println!("cargo:rustc-env=SLUICE_TESTBED_WASM={}", wasm.display());
}

/// `<target>/wasm-guests`, the folder the host's build script uses too.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    let mut dir = out_dir.to_path_buf();
    while let Some(parent) = dir.parent() {
        if parent.join("CACHEDIR.TAG").exists() {
            return parent.join("wasm-guests");
        }
        dir = parent.to_path_buf();
    }
    out_dir.join("wasm-guests")
}
