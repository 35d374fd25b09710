// Shared by host/build.rs and tests/build.rs (included, so both build scripts stay one file).

/// `<target>/wasm-guests`, shared by every nested guest build so Arrow compiles once.
#[allow(dead_code)]
fn guest_target_dir(out_dir: &std::path::Path) -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("SLUICE_GUEST_TARGET_DIR") {
        return dir.into();
    }
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out; Cargo marks <target> with CACHEDIR.TAG.
    let mut dir = out_dir.to_path_buf();
    while let Some(parent) = dir.parent() {
        if parent.join("CACHEDIR.TAG").exists() {
            return parent.join("wasm-guests");
        }
        dir = parent.to_path_buf();
    }
    out_dir.join("wasm-guests")
}

/// Adds the wasm32-wasip2 standard library when the toolchain lacks it: rustup installs
/// the targets of `rust-toolchain.toml` only with the toolchain, not into a toolchain that
/// is already there, so a fresh clone's first build would fail.
#[allow(dead_code)]
fn ensure_wasm_target(dir: &std::path::Path) {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = std::process::Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let installed = sysroot.is_some_and(|s| {
        std::path::Path::new(&s)
            .join("lib/rustlib/wasm32-wasip2")
            .exists()
    });
    if installed {
        return;
    }
    println!("cargo:warning=installing the wasm32-wasip2 target (rustup target add wasm32-wasip2)");
    let added = std::process::Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .current_dir(dir)
        .status();
    if !matches!(added, Ok(s) if s.success()) {
        println!("cargo:warning=could not run `rustup target add wasm32-wasip2`; run it yourself");
    }
}

/// `cargo build --release --target wasm32-wasip2` of a guest workspace into `target_dir`.
#[allow(dead_code)]
fn build_guests(manifest: &std::path::Path, target_dir: &std::path::Path) {
    ensure_wasm_target(manifest.parent().unwrap_or(std::path::Path::new(".")));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir);
    // The outer build's flags and target are for the host, not the guests.
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "CARGO_BUILD_RUSTFLAGS", "RUSTC_WORKSPACE_WRAPPER"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("running cargo for the wasm guests");
    assert!(
        status.success(),
        "building the wasm guests in {} failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)",
        manifest.display()
    );
}

/// The version of the `sluice:plugin` package (`package sluice:plugin@X.Y.Z;`): the one
/// place the contract version is written.
#[allow(dead_code)]
fn contract_version(wit: &std::path::Path) -> String {
    let text = std::fs::read_to_string(wit).unwrap_or_else(|e| panic!("{}: {e}", wit.display()));
    text.lines()
        .find_map(|l| l.trim().strip_prefix("package sluice:plugin@")?.strip_suffix(';').map(str::to_string))
        .unwrap_or_else(|| panic!("{}: no `package sluice:plugin@VERSION;` line", wit.display()))
}
