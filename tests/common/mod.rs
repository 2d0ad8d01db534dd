//! Helpers shared by the workflow tests (action, pre-commit, CLI extras): an example blueprint
//! rendered into a temporary directory, and a way to make it drift.

#![allow(dead_code)] // Each test file uses its own subset.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_blueprint"))
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary as a user would, from `cwd`: colours off, outside GitHub Actions, and no
/// terminal on stdin, so nothing is ever asked.
pub fn blueprint_in(args: &[&str], cwd: &Path) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("GITHUB_ACTIONS")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the blueprint binary runs")
}

/// [`blueprint_in`] the repository root, where the examples' relative paths hold.
pub fn blueprint(args: &[&str]) -> Output {
    blueprint_in(args, &repo())
}

/// The blueprint of the example `name`: `blueprints/<name>/blueprint.yaml`, in a folder of its
/// own beside the application sources its services name (paths relative to the blueprint).
pub fn example(name: &str) -> PathBuf {
    repo().join("blueprints").join(name).join("blueprint.yaml")
}

/// Every example, by name, with its blueprint file: each folder of `blueprints/` that holds a
/// `blueprint.yaml`.
pub fn examples() -> Vec<(String, PathBuf)> {
    let dir = repo().join("blueprints");
    let mut out: Vec<(String, PathBuf)> = fs::read_dir(&dir)
        .expect("blueprints/ exists")
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|folder| folder.join("blueprint.yaml").is_file())
        .map(|folder| {
            let name = folder.file_name().unwrap().to_string_lossy().into_owned();
            (name, folder.join("blueprint.yaml"))
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 3,
        "the examples are found in {}",
        dir.display()
    );
    out
}

/// `node` of the JSON Schema `schema`, past its `$ref`s (`#/$defs/<name>`).
pub fn resolve<'a>(
    schema: &'a serde_json::Value,
    node: &'a serde_json::Value,
) -> &'a serde_json::Value {
    match node.get("$ref").and_then(serde_json::Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().expect("a $ref has a name");
            resolve(schema, &schema["$defs"][name])
        }
        None => node,
    }
}

/// stdout and stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A temporary project: `blueprints/<example>/blueprint.yaml` copied to `blueprint.yaml` and
/// rendered next to it, as a user's repository would hold it.
pub struct Project {
    /// Removed on drop.
    pub dir: tempfile::TempDir,
}

impl Project {
    /// Copies and renders the example.
    pub fn rendered(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        fs::copy(example(name), dir.path().join("blueprint.yaml")).expect("the example exists");
        let out = Command::new(bin())
            .args(["render", "blueprint.yaml"])
            .current_dir(dir.path())
            .env_remove("GITHUB_ACTIONS")
            .output()
            .expect("the binary runs");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        Self { dir }
    }

    /// The project root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The recorded manifest.
    pub fn manifest(&self) -> serde_json::Value {
        let text = fs::read_to_string(self.root().join(".blueprint/manifest.json"))
            .expect("render wrote the manifest");
        serde_json::from_str(&text).expect("the manifest is JSON")
    }

    /// Makes the project drift and returns the path (relative to the root) that drifted.
    ///
    /// A generated file is edited by hand, the drift people actually cause. Until generators
    /// write any file (the manifest lists none), the same kind of drift is made with an
    /// orphan: a file the manifest records as generated that no generator makes any more.
    pub fn drift(&self) -> String {
        let manifest = self.manifest();
        let generated = manifest["files"]
            .as_object()
            .and_then(|files| files.keys().next().cloned());
        match generated {
            Some(path) => {
                let target = self.root().join(&path);
                let mut contents = fs::read(&target).expect("a generated file");
                contents.extend_from_slice(b"\n# edited by hand\n");
                fs::write(&target, contents).unwrap();
                path
            }
            None => {
                let path = "orphan.conf".to_string();
                let contents = b"# no longer generated\n";
                fs::write(self.root().join(&path), contents).unwrap();
                let mut manifest = manifest;
                manifest["files"][&path] = serde_json::json!({
                    "sha256": blueprint::writer::hash(contents),
                    "generator": "proxy",
                });
                fs::write(
                    self.root().join(".blueprint/manifest.json"),
                    serde_json::to_string_pretty(&manifest).unwrap() + "\n",
                )
                .unwrap();
                path
            }
        }
    }
}
