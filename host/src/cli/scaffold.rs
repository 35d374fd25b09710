//! `sluice plugin new`: a plugin crate that builds and passes the conformance kit as it is.
//! The files come from `host/templates/plugin/`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// (path in the new crate, template text).
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../templates/plugin/Cargo.toml.tmpl")),
    ("README.md", include_str!("../../templates/plugin/README.md.tmpl")),
    ("rust-toolchain.toml", include_str!("../../templates/plugin/rust-toolchain.toml")),
    (".gitignore", include_str!("../../templates/plugin/gitignore.tmpl")),
    ("src/lib.rs", include_str!("../../templates/plugin/src/lib.rs.tmpl")),
    ("tests/conformance.rs", include_str!("../../templates/plugin/tests/conformance.rs.tmpl")),
    ("fixtures/basic/config.json", include_str!("../../templates/plugin/fixtures/basic/config.json")),
    ("fixtures/basic/input/rows.csv", include_str!("../../templates/plugin/fixtures/basic/input/rows.csv")),
    ("fixtures/basic/expected/rows.csv", include_str!("../../templates/plugin/fixtures/basic/expected/rows.csv")),
];

/// The repository this binary was built from.
fn built_from() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn create(name: &str, dir: &Path, repo: Option<&Path>) -> Result<PathBuf> {
    let valid = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!("plugin name {name:?}: use lowercase letters, digits and dashes, starting with a letter");
    }
    let repo = repo.map(Path::to_path_buf).unwrap_or_else(built_from);
    let repo = repo.canonicalize().with_context(|| format!("the Sluice repository {} is not there; pass --sluice-repo", repo.display()))?;
    let (sdk, host) = (repo.join("plugins/sdk"), repo.join("host"));
    if !sdk.join("Cargo.toml").exists() || !host.join("Cargo.toml").exists() {
        bail!("{} has no plugins/sdk or host crate; pass --sluice-repo", repo.display());
    }
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    let crate_name = name.replace('-', "_");
    let type_name: String = name.split('-').filter(|w| !w.is_empty()).map(|w| w[..1].to_ascii_uppercase() + &w[1..]).collect();
    for (path, template) in FILES {
        let text = template
            .replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{struct}}", &type_name)
            .replace("{{sdk_path}}", &sdk.display().to_string())
            .replace("{{host_path}}", &host.display().to_string());
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().expect("files are inside the crate"))?;
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(root)
}
