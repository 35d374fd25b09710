//! `sluice plugin new`: a plugin project, in Rust or Python, that builds and passes the
//! conformance kit as it is. Everything it writes comes from this binary: the templates
//! (`host/cli/templates/plugin/`), the SDK sources and the WIT contract (embedded by the build
//! script), so no checkout of Sluice is needed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::toolchain::Language;

// Defines `RUST_SDK`, `PYTHON_SDK` and `WIT`: (path in the project, file text).
include!(concat!(env!("OUT_DIR"), "/embedded_sdks.rs"));

/// (path in the new project, template text), by language.
const RUST: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/plugin/rust/Cargo.toml.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/plugin/rust/README.md.tmpl"),
    ),
    (
        "rust-toolchain.toml",
        include_str!("../../templates/plugin/rust/rust-toolchain.toml"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/plugin/rust/gitignore.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/plugin/rust/src/lib.rs.tmpl"),
    ),
];

const PYTHON: &[(&str, &str)] = &[
    (
        "pyproject.toml",
        include_str!("../../templates/plugin/python/pyproject.toml.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/plugin/python/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/plugin/python/gitignore.tmpl"),
    ),
    (
        "app.py",
        include_str!("../../templates/plugin/python/app.py.tmpl"),
    ),
];

/// The same fixture for both languages: the two templates behave alike.
const FIXTURES: &[(&str, &str)] = &[
    (
        "fixtures/basic/config.json",
        include_str!("../../templates/plugin/fixtures/basic/config.json"),
    ),
    (
        "fixtures/basic/input/rows.csv",
        include_str!("../../templates/plugin/fixtures/basic/input/rows.csv"),
    ),
    (
        "fixtures/basic/expected/rows.csv",
        include_str!("../../templates/plugin/fixtures/basic/expected/rows.csv"),
    ),
];

/// The names a template fills in.
struct Names {
    name: String,
    /// The Rust crate name and Python module-friendly name (`my_plugin`).
    ident: String,
    /// The type or class name (`MyPlugin`).
    type_name: String,
}

impl Names {
    fn new(name: &str) -> Result<Self> {
        let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.ends_with('-');
        if !valid {
            bail!("plugin name {name:?}: use lowercase letters, digits and dashes, starting with a letter");
        }
        let type_name = name
            .split('-')
            .filter(|w| !w.is_empty())
            .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
            .collect();
        Ok(Names {
            name: name.into(),
            ident: name.replace('-', "_"),
            type_name,
        })
    }

    fn fill(&self, template: &str) -> String {
        template
            .replace("{{name}}", &self.name)
            .replace("{{crate}}", &self.ident)
            .replace("{{struct}}", &self.type_name)
            .replace("{{class}}", &self.type_name)
    }
}

/// Creates `dir/name/` and returns its path.
pub fn create(name: &str, language: Language, dir: &Path) -> Result<PathBuf> {
    let names = Names::new(name)?;
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    let (templates, sdk) = match language {
        Language::Rust => (RUST, RUST_SDK),
        Language::Python => (PYTHON, PYTHON_SDK),
    };
    for (path, template) in templates.iter().chain(FIXTURES) {
        write(&root, path, &names.fill(template))?;
    }
    for (path, text) in sdk.iter().chain(WIT) {
        write(&root, path, text)?;
    }
    Ok(root)
}

/// Writes the embedded Python SDK and WIT under `dir` (for building a Python plugin whose
/// project does not carry its own copy) and returns (wit folder, SDK parent folder).
pub(crate) fn materialise_python_sdk(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    for (path, text) in PYTHON_SDK
        .iter()
        .map(|(p, t)| (format!("python/{p}"), t))
        .chain(WIT.iter().map(|(p, t)| (p.to_string(), t)))
    {
        write(dir, &path, text)?;
    }
    Ok((dir.join("wit"), dir.join("python")))
}

fn write(root: &Path, path: &str, text: &str) -> Result<()> {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().expect("files are inside the project"))?;
    std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fill_every_placeholder() {
        let names = Names::new("my-plugin").unwrap();
        assert_eq!(
            names.fill("{{name}} {{crate}} {{struct}} {{class}}"),
            "my-plugin my_plugin MyPlugin MyPlugin"
        );
        for bad in ["", "My", "1x", "a_b", "a-", "../x"] {
            assert!(Names::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_project_needs_no_checkout() {
        let dir = tempfile::tempdir().unwrap();
        let rust = create("demo", Language::Rust, dir.path()).unwrap();
        let manifest = std::fs::read_to_string(rust.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("path = \"vendor/sdk\""), "{manifest}");
        assert!(
            !manifest.contains(env!("CARGO_MANIFEST_DIR")),
            "points into the checkout: {manifest}"
        );
        assert!(
            rust.join("vendor/sdk/src/lib.rs").exists()
                && rust.join("vendor/ipc/src/lib.rs").exists()
        );
        assert!(rust.join("wit/sluice.wit").exists() && rust.join("Cargo.lock").exists());
        let python = create("demo-py", Language::Python, dir.path()).unwrap();
        assert!(python.join("sluice_sdk/__init__.py").exists() && python.join("app.py").exists());
        assert!(
            create("demo", Language::Rust, dir.path()).is_err(),
            "overwrote an existing project"
        );
    }
}
