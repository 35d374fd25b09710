//! `sluice plugin build` and `sluice plugin test DIR`: a plugin project folder built into
//! one component, with the language's own tools. Rust: `cargo build --release --target
//! wasm32-wasip2`. Python: componentize-py against the `columnar-plugin` world.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The languages `sluice plugin new` writes and `sluice plugin build` builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    Rust,
    Python,
}

/// A plugin project folder: a Cargo crate, or a Python app with a `pyproject.toml`.
#[derive(Debug)]
pub struct Project {
    pub dir: PathBuf,
    pub name: String,
    pub language: Language,
    /// The Python module that holds the plugin (`[tool.sluice] module`, default `app`).
    module: String,
}

/// The WIT world each language's SDK exports.
const PYTHON_WORLD: &str = "columnar-plugin";

impl Project {
    pub fn open(dir: &Path) -> Result<Self> {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("plugin project {}", dir.display()))?;
        if dir.join("Cargo.toml").is_file() {
            let manifest = read_toml(&dir.join("Cargo.toml"))?;
            let name = manifest
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str());
            let Some(name) = name else {
                bail!("{}: no [package] name", dir.join("Cargo.toml").display())
            };
            return Ok(Project {
                name: name.into(),
                language: Language::Rust,
                module: String::new(),
                dir,
            });
        }
        if dir.join("pyproject.toml").is_file() {
            let manifest = read_toml(&dir.join("pyproject.toml"))?;
            let name = manifest
                .get("project")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str());
            let Some(name) = name else {
                bail!(
                    "{}: no [project] name",
                    dir.join("pyproject.toml").display()
                )
            };
            let module = manifest
                .get("tool")
                .and_then(|t| t.get("sluice"))
                .and_then(|s| s.get("module"))
                .and_then(|m| m.as_str())
                .unwrap_or("app");
            return Ok(Project {
                name: name.into(),
                language: Language::Python,
                module: module.into(),
                dir,
            });
        }
        bail!("{} is not a plugin project: it has neither Cargo.toml (Rust) nor pyproject.toml (Python)", dir.display())
    }

    /// Builds the component and returns its path.
    pub fn build(&self) -> Result<PathBuf> {
        let started = Instant::now();
        let wasm = match self.language {
            Language::Rust => self.build_rust()?,
            Language::Python => self.build_python()?,
        };
        tracing::info!(plugin = %self.name, "built {} in {:.1} s", wasm.display(), started.elapsed().as_secs_f64());
        Ok(wasm)
    }

    fn build_rust(&self) -> Result<PathBuf> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = Command::new(&cargo)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--message-format=json-render-diagnostics",
            ])
            .current_dir(&self.dir)
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| {
                format!("running `{cargo}`: is Rust installed (https://rustup.rs)?")
            })?;
        if !output.status.success() {
            bail!(
                "`cargo build --release --target wasm32-wasip2` failed in {} (if the target is missing: \
                 `rustup target add wasm32-wasip2`)",
                self.dir.display()
            );
        }
        let manifest = self.dir.join("Cargo.toml");
        rust_artifact(&String::from_utf8_lossy(&output.stdout), &manifest).with_context(|| {
            format!(
                "cargo built no .wasm for {}; is its crate-type \"cdylib\"?",
                manifest.display()
            )
        })
    }

    fn build_python(&self) -> Result<PathBuf> {
        let target = self.dir.join("target");
        // The project's own copies of the WIT and SDK (written by `sluice plugin new`) win;
        // otherwise this binary's.
        let (own_wit, own_sdk) = (self.dir.join("wit"), self.dir.join("sluice_sdk"));
        let mut search = vec![self.dir.clone()];
        let mut wit = own_wit.clone();
        if !own_wit.join("sluice.wit").is_file() || !own_sdk.is_dir() {
            let (embedded_wit, embedded_sdk) =
                super::scaffold::materialise_python_sdk(&target.join("sluice"))?;
            if !own_wit.join("sluice.wit").is_file() {
                wit = embedded_wit;
            }
            if !own_sdk.is_dir() {
                search.push(embedded_sdk);
            }
        }
        let wasm = target.join(format!("{}.wasm", self.name.replace('-', "_")));
        std::fs::create_dir_all(&target)?;
        let tool =
            std::env::var("SLUICE_COMPONENTIZE_PY").unwrap_or_else(|_| "componentize-py".into());
        let mut cmd = Command::new(&tool);
        cmd.arg("-d")
            .arg(&wit)
            .args(["-w", PYTHON_WORLD, "componentize", &self.module]);
        for path in &search {
            cmd.arg("-p").arg(path);
        }
        let status = cmd.arg("-o").arg(&wasm).current_dir(&self.dir).status().with_context(|| {
            format!("running `{tool}`: install it with `pip install componentize-py==0.25.1` (or set SLUICE_COMPONENTIZE_PY)")
        })?;
        if !status.success() {
            bail!(
                "componentize-py failed on {}",
                self.dir.join(format!("{}.py", self.module)).display()
            );
        }
        Ok(wasm)
    }
}

fn read_toml(path: &Path) -> Result<toml::Table> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.parse::<toml::Table>()
        .with_context(|| format!("parsing {}", path.display()))
}

/// The `.wasm` cargo reported for the package of `manifest`, from its JSON messages.
fn rust_artifact(messages: &str, manifest: &Path) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact"
                && m["manifest_path"].as_str().map(Path::new) == Some(manifest)
        })
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_artifact_is_the_wasm_of_this_package() {
        let messages = r#"{"reason":"compiler-artifact","manifest_path":"/p/vendor/sdk/Cargo.toml","filenames":["/t/libsluice_sdk.rlib"]}
not json
{"reason":"compiler-artifact","manifest_path":"/p/Cargo.toml","filenames":["/t/wasm32-wasip2/release/demo.wasm"]}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            rust_artifact(messages, Path::new("/p/Cargo.toml")),
            Some(PathBuf::from("/t/wasm32-wasip2/release/demo.wasm"))
        );
        assert_eq!(rust_artifact(messages, Path::new("/q/Cargo.toml")), None);
    }

    #[test]
    fn projects_are_told_apart_by_their_manifest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"dates\"\n",
        )
        .unwrap();
        let project = Project::open(dir.path()).unwrap();
        assert_eq!(
            (
                project.language,
                project.name.as_str(),
                project.module.as_str()
            ),
            (Language::Python, "dates", "app")
        );
        assert!(Project::open(&dir.path().join("missing")).is_err());
        std::fs::remove_file(dir.path().join("pyproject.toml")).unwrap();
        assert!(Project::open(dir.path())
            .unwrap_err()
            .to_string()
            .contains("not a plugin project"));
    }
}
