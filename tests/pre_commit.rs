//! The pre-commit hook in `.pre-commit-hooks.yaml`, run the way pre-commit runs it: the entry
//! split like a shell word list, its args appended, no filenames (`pass_filenames: false`), and
//! the installed binary first on PATH (for `language: rust`, pre-commit puts what
//! `cargo install` built there).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Project, bin, examples, repo, text};

fn hook() -> serde_json::Value {
    let text = std::fs::read_to_string(repo().join(".pre-commit-hooks.yaml")).unwrap();
    let hooks: serde_json::Value = serde_saphyr::from_str(&text).expect("valid YAML");
    let hooks = hooks.as_array().expect("a list of hooks");
    hooks
        .iter()
        .find(|h| h["id"] == "blueprint-check")
        .expect("a blueprint-check hook")
        .clone()
}

/// Runs the hook's entry and args in `cwd`, as pre-commit would.
fn run_hook(cwd: &Path) -> Output {
    let hook = hook();
    let entry: Vec<&str> = hook["entry"].as_str().unwrap().split_whitespace().collect();
    let args: Vec<&str> = hook["args"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
        .unwrap_or_default();
    let bin_dir = bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(entry[0])
        .args(&entry[1..])
        .args(&args)
        .current_dir(cwd)
        .env("PATH", &path)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("the hook's entry runs")
}

#[test]
fn the_hook_is_declared_for_pre_commit() {
    let hook = hook();
    assert_eq!(hook["language"], "rust", "pre-commit builds it with cargo");
    assert_eq!(hook["pass_filenames"], false, "one check covers every file");
    assert_eq!(hook["entry"], "blueprint check");
    assert_eq!(hook["args"], serde_json::json!(["blueprint.yaml"]));
    // No shell syntax in the entry: pre-commit splits it into words and runs no shell.
    let entry = hook["entry"].as_str().unwrap();
    assert!(!entry.contains(['"', '\'', '$', '|', ';', '&']), "{entry}");
}

#[test]
fn the_hook_passes_a_clean_project_and_fails_a_drifted_one() {
    let p = Project::rendered("minimal");
    let clean = run_hook(p.root());
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));

    let drifted = p.drift();
    let out = run_hook(p.root());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&drifted),
        "names {drifted}: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("blueprint render blueprint.yaml"),
        "{}",
        text(&out)
    );
}

#[test]
fn files_matches_the_blueprint_and_every_file_the_examples_generate() {
    let hook = hook();
    let pattern = hook["files"].as_str().expect("a files regex");
    // pre-commit applies it with Python's re.search; this subset means the same in both.
    let files = regex::Regex::new(pattern).expect("a valid regex");
    let mut paths = vec![
        "blueprint.yaml".to_string(),
        "blueprint.prod.yml".to_string(),
        "infra/blueprint.yaml".to_string(),
        ".blueprint/manifest.json".to_string(),
        "infra/.blueprint/manifest.json".to_string(),
    ];
    // Paths the generators being written produce, until the examples generate them too.
    for path in [
        "services/api/Dockerfile",
        "compose.yaml",
        "proxy/prod/nginx.conf",
        "proxy/dev/Caddyfile",
        "monitoring/prometheus/prometheus.dev.yml",
        "monitoring/grafana/dashboards/overview.json",
        ".github/workflows/ci.yml",
    ] {
        paths.push(path.to_string());
    }
    for (name, path) in examples() {
        paths.push(format!("blueprints/{name}/blueprint.yaml"));
        let out = Command::new(bin())
            .args(["list", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let generated = line.split_whitespace().last().expect("generator  path");
            // At the root of a repository, below an output directory, and beside the blueprint
            // (where `blueprint render` writes by default).
            paths.push(generated.to_string());
            paths.push(format!("generated/{name}/{generated}"));
            paths.push(format!("blueprints/{name}/{generated}"));
        }
    }
    let unmatched: Vec<&String> = paths.iter().filter(|p| !files.is_match(p)).collect();
    assert!(
        unmatched.is_empty(),
        "the hook would not run when these change; extend `files:` in .pre-commit-hooks.yaml: {unmatched:?}"
    );
    for unrelated in [
        "src/main.rs",
        "README.md",
        "Cargo.toml",
        "docs/ci.md",
        "docs/runbooks.md",
        "app/main.py",
        "blueprints/task-queue/api/main.py",
    ] {
        assert!(
            !files.is_match(unrelated),
            "{unrelated} should not trigger the hook"
        );
    }
}

/// The real thing: `pre-commit try-repo` on this checkout builds the hook with cargo (a release
/// build: minutes on two cores, hence ignored by default) and runs it in a scratch repository.
/// Run with `cargo test --test pre_commit -- --ignored` where `pre-commit` is on PATH; it sees
/// committed and staged changes only, as try-repo does.
#[test]
#[ignore = "builds blueprint in release mode through pre-commit; minutes"]
fn pre_commit_try_repo_runs_the_hook() {
    let pre_commit = std::env::var("PRE_COMMIT").unwrap_or_else(|_| "pre-commit".to_string());
    let p = Project::rendered("minimal");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(p.root())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "render"]);
    let try_repo = |p: &Project| {
        Command::new(&pre_commit)
            .args([
                "try-repo",
                repo().to_str().unwrap(),
                "blueprint-check",
                "--all-files",
            ])
            .current_dir(p.root())
            .output()
            .expect("pre-commit runs")
    };
    let clean = try_repo(&p);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    let drifted = p.drift();
    git(&["add", "-A"]);
    let out = try_repo(&p);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(&drifted), "{}", text(&out));
}
