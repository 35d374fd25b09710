//! Reads the contract version from `wit/sluice.wit`, so the host and the SDKs state the
//! same version from one source.

use std::env;
use std::path::PathBuf;

fn main() {
    let wit = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../wit/sluice.wit");
    println!("cargo:rerun-if-changed={}", wit.display());
    println!(
        "cargo:rustc-env=SLUICE_CONTRACT_VERSION={}",
        contract_version(&wit)
    );
}

include!("../build_support.rs");
