//! Builds the test-only guest plugins (`tests/guests/`) for wasm32-wasip2 with a nested
//! cargo, like wasmtime's test-programs, and tells the tests where they are.

use std::env;
use std::path::PathBuf;

fn main() {
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let guests = here.join("guests");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let target_dir = guest_target_dir(&out_dir);
    println!(
        "cargo:rerun-if-changed={}",
        guests.join("Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        guests.join("testbed/src").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        guests.join("testbed/Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        here.join("../plugins/sdk/src").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        here.join("../plugins/ipc/src").display()
    );
    println!("cargo:rerun-if-changed={}", here.join("../wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        here.join("../host/build_support.rs").display()
    );

    build_guests(&guests.join("Cargo.toml"), &target_dir);
    let wasm = target_dir.join("wasm32-wasip2/release/testbed.wasm");
    assert!(wasm.exists(), "missing {}", wasm.display());
    println!("cargo:rustc-env=SLUICE_TESTBED_WASM={}", wasm.display());

    // The Python guests: the hostile testbed and the date-cleanup plugin we ship.
    let python = [
        (
            "SLUICE_TESTBED_PY_WASM",
            guests.join("testbed-py"),
            "testbed_py",
        ),
        (
            "SLUICE_DATE_CLEANUP_PY_WASM",
            here.join("../plugins/date-cleanup-py"),
            "date_cleanup_py",
        ),
    ];
    let sdk = here.join("../plugins/sdk-python");
    println!(
        "cargo:rerun-if-changed={}",
        sdk.join("sluice_sdk").display()
    );
    for (var, dir, name) in python {
        println!("cargo:rerun-if-changed={}", dir.join("app.py").display());
        let wasm = target_dir.join("python").join(format!("{name}.wasm"));
        build_python_guest(&here.join("../wit"), &dir, &sdk, &wasm);
        println!("cargo:rustc-env={var}={}", wasm.display());
    }
}

/// componentize-py on a Python guest's `app.py`, with the SDK on its path.
fn build_python_guest(
    wit: &std::path::Path,
    dir: &std::path::Path,
    sdk: &std::path::Path,
    wasm: &std::path::Path,
) {
    std::fs::create_dir_all(wasm.parent().unwrap()).unwrap();
    let tool = componentize_py();
    let status = std::process::Command::new(&tool)
        .arg("-d")
        .arg(wit)
        .args(["-w", "columnar-plugin", "componentize", "app", "-p"])
        .arg(dir)
        .arg("-p")
        .arg(sdk)
        .arg("-o")
        .arg(wasm)
        .status()
        .unwrap_or_else(|e| {
            panic!("running {}: {e}; install it with `pip install componentize-py==0.25.1` (scripts/setup-test-servers.sh does)", tool.display())
        });
    assert!(
        status.success(),
        "componentize-py failed on {}",
        dir.display()
    );
}

/// `SLUICE_COMPONENTIZE_PY`, else the one `scripts/setup-test-servers.sh` installs, else PATH.
fn componentize_py() -> PathBuf {
    println!("cargo:rerun-if-env-changed=SLUICE_COMPONENTIZE_PY");
    if let Ok(tool) = env::var("SLUICE_COMPONENTIZE_PY") {
        return tool.into();
    }
    let venv = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("../.venv-moto/bin/componentize-py");
    if venv.exists() {
        return venv;
    }
    "componentize-py".into()
}

include!("../host/build_support.rs");
