//! Builds the test-only guest plugins (`tests/guests/`) for wasm32-wasip2 with a nested
//! cargo, like wasmtime's test-programs, and tells the tests where they are.

use std::env;
use std::path::PathBuf;

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
    println!("cargo:rerun-if-changed={}", here.join("../host/build_support.rs").display());

    build_guests(&guests.join("Cargo.toml"), &target_dir);
    let wasm = target_dir.join("wasm32-wasip2/release/testbed.wasm");
    assert!(wasm.exists(), "missing {}", wasm.display());
    println!("cargo:rustc-env=SLUICE_TESTBED_WASM={}", wasm.display());
}

include!("../host/build_support.rs");
