//! Embeds the files `sluice plugin new` writes into a new project (the SDKs, the WIT
//! contract, the guest lock file), so the binary alone can create one; lays out the
//! release binary so that a run maps little of it (see [`link_layout`]).

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.join("../..");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    for krate in ["sdk", "ipc"] {
        let dir = root.join("plugins").join(krate);
        println!("cargo:rerun-if-changed={}", dir.join("src").display());
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("Cargo.toml").display()
        );
    }
    embed_sdks(&root, &out_dir);
    link_layout(&manifest_dir);
}

/// A process's resident memory counts every page of its binary it has mapped, and a
/// kernel that caches files in large folios (ext4 since Linux 6.16) maps a whole folio
/// at the first touch of any page of it. The ~3 MB of functions a run executes lay
/// scattered over 46 MB of code, so a gzip dates run held 14 MB of it, and 2.7 MB of
/// relocation records the loader reads once. So the release build on x86-64 Linux, where
/// rustc links with lld, places the functions the benchmark workloads execute
/// (`layout/hot-functions.txt`, made by `bench/hot-functions.sh`) together, and packs
/// the relocations (`DT_RELR`: glibc 2.36+, which the container image has). A function
/// the list names that no longer exists is skipped: a stale list costs memory, never
/// correctness. `SLUICE_NO_LINK_LAYOUT=1`, or a linker of one's own (in the rustflags or
/// cargo's `CARGO_TARGET_..._LINKER`), skips both.
fn link_layout(manifest_dir: &Path) {
    println!("cargo:rerun-if-env-changed=SLUICE_NO_LINK_LAYOUT");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    let order = manifest_dir.join("layout/hot-functions.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    let release = env::var("PROFILE").as_deref() == Ok("release");
    let target = env::var("TARGET").unwrap_or_default();
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let own_linker = flags.contains("linker")
        || flags.contains("fuse-ld")
        || env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some();
    if !release
        || target != "x86_64-unknown-linux-gnu"
        || own_linker
        || env::var_os("SLUICE_NO_LINK_LAYOUT").is_some()
    {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    if order.is_file() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// The files `sluice plugin new` writes into a new project, embedded so that the binary
/// alone can create one: the Rust SDK and IPC crates (`vendor/`), the Python SDK package,
/// the WIT contract and the lock file that pins the guest dependencies.
fn embed_sdks(root: &Path, out_dir: &Path) {
    let python_sdk = root.join("plugins/sdk-python/sluice_sdk");
    println!("cargo:rerun-if-changed={}", python_sdk.display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("plugins/Cargo.lock").display()
    );
    let mut rust = Vec::new();
    for (krate, parts) in [
        ("sdk", &["Cargo.toml", "build.rs", "src"][..]),
        ("ipc", &["Cargo.toml", "src"][..]),
    ] {
        for part in parts {
            collect(
                &root.join("plugins").join(krate).join(part),
                &format!("vendor/{krate}/{part}"),
                &mut rust,
            );
        }
    }
    rust.push(("Cargo.lock".into(), root.join("plugins/Cargo.lock")));
    let mut python = Vec::new();
    collect(&python_sdk, "sluice_sdk", &mut python);
    python.retain(|(name, _)| name.ends_with(".py"));
    let wit = vec![("wit/sluice.wit".to_string(), root.join("wit/sluice.wit"))];
    let mut code = String::new();
    for (name, files) in [("RUST_SDK", &rust), ("PYTHON_SDK", &python), ("WIT", &wit)] {
        writeln!(code, "pub(crate) static {name}: &[(&str, &str)] = &[").unwrap();
        for (dest, src) in files {
            writeln!(
                code,
                "    ({dest:?}, include_str!({:?})),",
                src.display().to_string()
            )
            .unwrap();
        }
        code.push_str("];\n");
    }
    std::fs::write(out_dir.join("embedded_sdks.rs"), code).unwrap();
}

/// Every file under `path` (or `path` itself), as (path under `dest`, source path), sorted.
fn collect(path: &Path, dest: &str, out: &mut Vec<(String, PathBuf)>) {
    if path.is_file() {
        out.push((dest.to_string(), path.to_path_buf()));
        return;
    }
    let mut entries: Vec<_> = std::fs::read_dir(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "__pycache__" || name == "target" {
            continue;
        }
        collect(&entry.path(), &format!("{dest}/{name}"), out);
    }
}
