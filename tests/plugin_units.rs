//! The unit tests inside the plugin crates (`plugins/`), which build for the host here:
//! a nested `cargo test` on the guest workspace, so the one `cargo test` runs them too.

use std::path::Path;
use std::process::Command;

#[test]
fn plugin_crates_pass_their_unit_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // The guest build folder: cargo holds a lock on the one running this test.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("wasm-guests");
    let output = Command::new(env!("CARGO"))
        .args(["test", "--manifest-path"])
        .arg(root.join("plugins/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("running cargo test on plugins/");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "plugin unit tests failed:\n{text}");
    let passed: usize = text
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(
        passed >= 3,
        "expected the calendar, date layout and other unit tests to run:\n{text}"
    );
}

/// The Python SDK's own unit tests (natively, under the machine's CPython).
#[test]
fn the_python_sdk_passes_its_unit_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = sluice_tests::python();
    let output = Command::new(&python)
        .args(["-m", "unittest", "discover", "-s"])
        .arg(root.join("plugins/sdk-python/tests"))
        .current_dir(root.join("plugins/sdk-python"))
        .output()
        .expect("running python3 -m unittest");
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "Python SDK unit tests failed:\n{text}"
    );
    assert!(text.contains("OK"), "{text}");
}
