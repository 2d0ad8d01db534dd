//! The render / diff / check engine, driven through the real binary the way users run it:
//! every drift state gets its own scenario, with the exit code and the report checked.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{blueprint_in as blueprint, example};

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A project directory holding a copy of an example blueprint, rendered once.
struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Project {
    fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        fs::copy(example(name), root.join("blueprint.yaml")).expect("copy the example");
        let project = Self { _dir: dir, root };
        let out = project.run(&["render", "blueprint.yaml"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        project
    }

    fn run(&self, args: &[&str]) -> Output {
        blueprint(args, &self.root)
    }

    fn manifest(&self) -> serde_json::Value {
        let bytes = fs::read(self.root.join(".blueprint/manifest.json")).expect("manifest exists");
        serde_json::from_slice(&bytes).expect("manifest is JSON")
    }

    /// Generated files (from the manifest), sorted.
    fn generated(&self) -> Vec<String> {
        let files: Vec<String> = self.manifest()["files"]
            .as_object()
            .expect("files is a map")
            .keys()
            .cloned()
            .collect();
        assert!(!files.is_empty(), "the example generates files");
        files
    }

    fn check_json(&self) -> (i32, serde_json::Value) {
        let out = self.run(&["check", "blueprint.yaml", "--format", "json"]);
        let report =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
        (out.status.code().unwrap_or(-1), report)
    }

    fn state_of(&self, path: &str) -> String {
        let (_, report) = self.check_json();
        report["files"]
            .as_array()
            .expect("files")
            .iter()
            .find(|f| f["path"] == path)
            .map(|f| f["state"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("{path} is not in the report: {report}"))
    }
}

#[test]
fn a_fresh_render_is_up_to_date_and_the_manifest_hashes_match() {
    let p = Project::new("data-platform");
    let out = p.run(&["check", "blueprint.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("files up to date"), "{}", text(&out));
    let manifest = p.manifest();
    for (path, entry) in manifest["files"].as_object().unwrap() {
        let bytes = fs::read(p.root.join(path)).unwrap();
        use sha2::Digest;
        let digest: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(entry["sha256"], format!("sha256:{digest}"), "{path}");
    }
    let diff = p.run(&["diff", "blueprint.yaml"]);
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff));
    assert!(diff.stdout.is_empty());
}

#[test]
fn a_hand_edit_is_reported_as_edited_and_render_restores_it() {
    let p = Project::new("data-platform");
    let file = p.generated()[0].clone();
    let path = p.root.join(&file);
    let original = fs::read_to_string(&path).unwrap();
    fs::write(&path, format!("{original}# my local tweak\n")).unwrap();
    assert_eq!(p.state_of(&file), "edited-by-hand");
    let out = p.run(&["check", "blueprint.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("edited by hand"), "{}", text(&out));
    assert!(text(&out).contains(&file), "{}", text(&out));
    // diff shows the line render would remove.
    let diff = p.run(&["diff", "blueprint.yaml"]);
    assert_eq!(diff.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&diff.stdout).contains("-# my local tweak"));
    let render = p.run(&["render", "blueprint.yaml"]);
    assert_eq!(render.status.code(), Some(0));
    assert!(
        text(&render).contains("edited by hand"),
        "render warns: {}",
        text(&render)
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), original);
}

#[test]
fn a_deleted_file_is_missing() {
    let p = Project::new("data-platform");
    let file = p.generated().last().unwrap().clone();
    fs::remove_file(p.root.join(&file)).unwrap();
    assert_eq!(p.state_of(&file), "missing");
    let (code, report) = p.check_json();
    assert_eq!(code, 1);
    assert_eq!(report["up_to_date"], false);
    assert!(
        report["fix"]
            .as_str()
            .unwrap()
            .starts_with("blueprint render")
    );
}

#[test]
fn a_blueprint_change_makes_files_out_of_date_and_orphans() {
    let p = Project::new("data-platform");
    let before = p.generated();
    // Renaming a service changes what is generated: its files become orphans, others change.
    let bp = fs::read_to_string(p.root.join("blueprint.yaml")).unwrap();
    let changed = bp.replace("  dashboard:\n", "  board:\n");
    assert_ne!(bp, changed);
    fs::write(p.root.join("blueprint.yaml"), changed).unwrap();
    let (code, report) = p.check_json();
    assert_eq!(code, 1);
    let states: Vec<(String, String)> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(states.iter().any(|(_, s)| s == "out-of-date"), "{states:?}");
    let orphans: Vec<&String> = states
        .iter()
        .filter(|(_, s)| s == "orphaned")
        .map(|(p, _)| p)
        .collect();
    for orphan in &orphans {
        assert!(before.contains(orphan));
    }
    // Rendering removes unmodified orphans and leaves everything up to date.
    let render = p.run(&["render", "blueprint.yaml"]);
    assert_eq!(render.status.code(), Some(0), "{}", text(&render));
    for orphan in &orphans {
        assert!(!p.root.join(orphan).exists(), "{orphan} was deleted");
    }
    assert_eq!(p.check_json().0, 0);
}

#[test]
fn an_edited_orphan_is_kept_and_reported() {
    let p = Project::new("data-platform");
    let bp = fs::read_to_string(p.root.join("blueprint.yaml")).unwrap();
    // Removing the Vercel service removes at least its own files.
    let first = p.generated();
    fs::write(
        p.root.join("blueprint.yaml"),
        bp.replace(
            "  docs:\n    runtime: static\n    path: services/docs\n    deploy: vercel\n",
            "",
        ),
    )
    .unwrap();
    let (_, report) = p.check_json();
    let orphans: Vec<String> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["state"] == "orphaned")
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    if orphans.is_empty() {
        // The docs service produced no file of its own: nothing to orphan in this example.
        assert!(!first.iter().any(|f| f.contains("services/docs")));
        return;
    }
    let orphan = &orphans[0];
    fs::write(p.root.join(orphan), "edited\n").unwrap();
    let render = p.run(&["render", "blueprint.yaml"]);
    assert_eq!(render.status.code(), Some(0));
    assert!(
        p.root.join(orphan).exists(),
        "an edited orphan is never deleted"
    );
    assert!(text(&render).contains(orphan.as_str()), "{}", text(&render));
}

#[test]
fn a_runbook_no_longer_generated_is_deleted() {
    // Without SLOs there are no error-budget alerts, so no runbooks for them. A runbook's header
    // is an HTML comment, and it marks the orphan as blueprint's just as a `#` header does.
    let p = Project::new("task-queue");
    let runbook = "docs/runbooks/ErrorBudgetFastBurn.md";
    assert!(p.generated().iter().any(|f| f == runbook));
    let bp = fs::read_to_string(p.root.join("blueprint.yaml")).unwrap();
    let changed = bp.replace(
        "  slos:\n    api:\n      availability: 99.9\n      min_request_rate: 0.5\n",
        "",
    );
    assert_ne!(bp, changed);
    fs::write(p.root.join("blueprint.yaml"), changed).unwrap();
    assert_eq!(p.state_of(runbook), "orphaned");
    let render = p.run(&["render", "blueprint.yaml"]);
    assert_eq!(render.status.code(), Some(0), "{}", text(&render));
    assert!(!p.root.join(runbook).exists(), "{}", text(&render));
    assert_eq!(p.check_json().0, 0);
}

#[test]
fn an_unmanaged_file_in_the_way_is_a_conflict_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let source = example("data-platform");
    fs::copy(&source, root.join("blueprint.yaml")).unwrap();
    // Learn a path the render produces, from a render elsewhere.
    let scratch = tempfile::tempdir().unwrap();
    let out = blueprint(
        &[
            "render",
            source.to_str().unwrap(),
            "--out",
            scratch.path().to_str().unwrap(),
        ],
        root,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(scratch.path().join(".blueprint/manifest.json")).unwrap())
            .unwrap();
    let victim = manifest["files"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .expect("files")
        .clone();
    let target = root.join(&victim);
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    fs::write(&target, "mine, not blueprint's\n").unwrap();

    let check = blueprint(&["check", "blueprint.yaml", "--format", "json"], root);
    assert_eq!(check.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let state = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == victim.as_str())
        .unwrap()["state"]
        .clone();
    assert_eq!(state, "conflict");

    let render = blueprint(&["render", "blueprint.yaml"], root);
    assert_eq!(render.status.code(), Some(2), "{}", text(&render));
    assert!(
        text(&render).contains(&victim),
        "names the file: {}",
        text(&render)
    );
    assert_eq!(
        fs::read_to_string(&target).unwrap(),
        "mine, not blueprint's\n"
    );
    assert!(
        !root.join(".blueprint/manifest.json").exists(),
        "nothing was written"
    );

    let forced = blueprint(&["render", "blueprint.yaml", "--force"], root);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert_ne!(
        fs::read_to_string(&target).unwrap(),
        "mine, not blueprint's\n"
    );
}

#[test]
fn an_invalid_blueprint_changes_nothing_on_disk() {
    let p = Project::new("data-platform");
    let files = p.generated();
    let snapshot: Vec<Vec<u8>> = files
        .iter()
        .map(|f| fs::read(p.root.join(f)).unwrap())
        .collect();
    fs::write(
        p.root.join("blueprint.yaml"),
        "project: {name: BAD}\nservices: {}\n",
    )
    .unwrap();
    for command in ["render", "check", "diff"] {
        let out = p.run(&[command, "blueprint.yaml"]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out));
        assert!(
            text(&out).contains("blueprint.yaml:1:"),
            "{command}: {}",
            text(&out)
        );
    }
    let after: Vec<Vec<u8>> = files
        .iter()
        .map(|f| fs::read(p.root.join(f)).unwrap())
        .collect();
    assert_eq!(snapshot, after);
}

#[cfg(unix)]
#[test]
fn a_symlink_inside_the_root_is_never_followed_for_a_write() {
    let p = Project::new("data-platform");
    let outside = tempfile::tempdir().unwrap();
    let file = p.generated()[0].clone();
    let target = p.root.join(&file);
    fs::remove_file(&target).unwrap();
    let bait = outside.path().join("bait");
    fs::write(&bait, "outside\n").unwrap();
    std::os::unix::fs::symlink(&bait, &target).unwrap();
    let render = p.run(&["render", "blueprint.yaml", "--force"]);
    assert_eq!(render.status.code(), Some(2), "{}", text(&render));
    assert!(text(&render).contains("symbolic link"), "{}", text(&render));
    assert_eq!(fs::read_to_string(&bait).unwrap(), "outside\n");
}

#[test]
fn github_actions_annotations_name_the_drifted_file() {
    let p = Project::new("data-platform");
    let file = p.generated()[0].clone();
    fs::remove_file(p.root.join(&file)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_blueprint"))
        .args(["check", "blueprint.yaml"])
        .current_dir(&p.root)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "::error file={}",
            Path::new(".").join(&file).display()
        )) || stdout.contains(&format!("::error file={file}")),
        "{stdout}"
    );
}

#[test]
fn list_names_every_file_with_its_generator() {
    let p = Project::new("data-platform");
    let out = p.run(&["list", "blueprint.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for file in p.generated() {
        assert!(
            stdout
                .lines()
                .any(|l| l.ends_with(&format!("  {file}")) || l.ends_with(&format!(" {file}"))),
            "{file} missing from:\n{stdout}"
        );
    }
}
