//! Builds the plugins we ship (`plugins/`) for wasm32-wasip2 with a nested cargo, into
//! `<target>/wasm-guests`, and lists them for `include_bytes!` in `bundled_plugins.rs`.
//! This crate is apart from the engine so that building or checking the engine does not
//! run this script.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let plugins = root.join("plugins");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let target_dir = guest_target_dir(&out_dir);

    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        plugins.join("Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        plugins.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-env-changed=SLUICE_GUEST_TARGET_DIR");
    println!("cargo:rerun-if-changed=../build_support.rs");
    let crates = plugin_crates(&plugins);
    for dir in crates
        .iter()
        .map(|c| plugins.join(c))
        .chain([plugins.join("sdk"), plugins.join("ipc")])
    {
        println!("cargo:rerun-if-changed={}", dir.join("src").display());
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("Cargo.toml").display()
        );
    }
    build_guests(&plugins.join("Cargo.toml"), &target_dir);

    let mut code = String::from("pub static BUNDLED: &[(&str, &[u8], &str)] = &[\n");
    for name in &crates {
        let wasm = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", name.replace('-', "_")));
        assert!(
            wasm.exists(),
            "guest build did not produce {}",
            wasm.display()
        );
        // The digest is taken here so that a run never reads the bytes it does not compile:
        // hashing them at load time made every page of the plugin resident.
        let bytes = std::fs::read(&wasm).unwrap();
        let sha256 = hex::encode(Sha256::digest(&bytes));
        writeln!(
            code,
            "    ({name:?}, include_bytes!({:?}), {sha256:?}),",
            wasm.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("bundled_plugins.rs"), code).unwrap();
}

/// Every folder under `plugins/` whose crate is a `cdylib` is a shipped plugin (the others,
/// the SDK and the IPC crate, are libraries).
fn plugin_crates(plugins: &Path) -> Vec<String> {
    let is_plugin = |dir: &Path| {
        std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|m| m.contains("\"cdylib\""))
    };
    let mut names: Vec<String> = std::fs::read_dir(plugins)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| is_plugin(&e.path()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

include!("../build_support.rs");
