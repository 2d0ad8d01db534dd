//! The commands that fit blueprint into a workstation and a CI: shell completions, the man page,
//! `--version` with the commit, `schema --url` and the Markdown drift report.

mod common;

use std::process::Command;

use clap::CommandFactory as _;
use common::{Project, bin, repo, text};

fn run(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("the binary runs")
}

/// Every subcommand name, from the clap definition itself, so a new command is covered here
/// without editing this test.
fn subcommands() -> Vec<String> {
    let names: Vec<String> = blueprint::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for expected in ["check", "diff", "render", "completions", "man", "schema"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    names
}

#[test]
fn every_shell_gets_a_completion_script_naming_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out));
        let script = String::from_utf8(out.stdout).expect("UTF-8");
        assert!(script.len() > 500, "{shell}: suspiciously short:\n{script}");
        for name in subcommands() {
            assert!(script.contains(&name), "{shell} completion lacks `{name}`");
        }
    }
}

#[test]
fn bash_completion_is_valid_bash_and_completes_commands_and_options() {
    let out = run(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("blueprint.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert_eq!(syntax.status.code(), Some(0), "bash -n: {}", text(&syntax));
    // Loaded for real: completing `blueprint ch` offers `check`, `blueprint check --f` offers
    // `--format`, as bash would after a Tab.
    let probe = r#"
        source "$1"
        complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
            COMPREPLY=(); _blueprint blueprint "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; echo "${COMPREPLY[*]}"; }
        complete_words blueprint ch
        complete_words blueprint check --f
    "#;
    let out = Command::new("bash")
        .args(["-c", probe, "probe"])
        .arg(&script)
        .output()
        .expect("bash runs");
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 2, "{}", text(&out));
    assert!(lines[0].split(' ').any(|w| w == "check"), "{}", text(&out));
    assert!(
        lines[1].split(' ').any(|w| w == "--format"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn the_man_page_is_roff_and_names_every_command_and_the_exit_codes() {
    let out = run(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let page = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(
        page.lines().any(|l| l.starts_with(".TH blueprint 1")),
        "{page}"
    );
    assert!(page.contains(".SH SYNOPSIS"), "{page}");
    for name in subcommands() {
        assert!(
            page.contains(&format!("blueprint\\-{name}(1)")),
            "man page lacks `{name}`:\n{page}"
        );
    }
    assert!(
        page.contains("drift or differences found"),
        "exit codes:\n{page}"
    );
}

#[test]
fn man_dir_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("man1");
    let out = run(&["man", "--dir", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let main = std::fs::read_to_string(target.join("blueprint.1")).expect("blueprint.1");
    assert!(main.contains(".TH blueprint 1"));
    for name in subcommands() {
        let page = std::fs::read_to_string(target.join(format!("blueprint-{name}.1")))
            .unwrap_or_else(|e| panic!("blueprint-{name}.1: {e}"));
        assert!(page.contains(".TH blueprint-"), "{name}: {page}");
    }
    let check = std::fs::read_to_string(target.join("blueprint-check.1")).unwrap();
    assert!(
        check.contains("\\-\\-format"),
        "check's options are documented:\n{check}"
    );
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let line = String::from_utf8(out.stdout).unwrap();
    let line = line.trim_end();
    let prefix = format!("blueprint {} (", env!("CARGO_PKG_VERSION"));
    let commit = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("`{line}` is not `blueprint VERSION (COMMIT)`"));
    let hash = commit.strip_suffix("-dirty").unwrap_or(commit);
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        // In a checkout the binary must name HEAD (abbreviated), not a stale or made-up commit.
        Some(head) => assert!(
            hash.len() >= 7
                && hash.chars().all(|c| c.is_ascii_hexdigit())
                && head.starts_with(hash),
            "`{line}` does not name HEAD {head}"
        ),
        None => assert_eq!(commit, "unknown", "{line}"),
    }
}

#[test]
fn schema_url_points_at_the_release_asset_the_release_workflow_uploads() {
    let out = run(&["schema", "--url"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let url = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        url.trim_end(),
        format!(
            "https://github.com/{}/releases/latest/download/blueprint.schema.json",
            blueprint::BLUEPRINT_REPOSITORY
        )
    );
    assert_eq!(url.trim_end(), blueprint::schema_url());
    // The asset exists only because release.yml attaches the committed schema under that name.
    let release = std::fs::read_to_string(repo().join(".github/workflows/release.yml")).unwrap();
    assert!(
        release.contains("cp schema/blueprint.schema.json dist/"),
        "release.yml uploads the schema"
    );
    // And `schema` without --url still prints the schema itself.
    let schema = run(&["schema"]);
    let value: serde_json::Value = serde_json::from_slice(&schema.stdout).expect("JSON");
    assert!(value.get("$schema").is_some());
}

#[test]
fn markdown_report_says_up_to_date_or_lists_the_drift_and_the_fix() {
    let p = Project::rendered("minimal");
    let check = |envs: &[(&str, &str)]| {
        Command::new(bin())
            .args(["check", "blueprint.yaml", "--format", "markdown"])
            .current_dir(p.root())
            .envs(envs.iter().copied())
            .output()
            .unwrap()
    };
    let clean = check(&[]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    let clean = String::from_utf8(clean.stdout).unwrap();
    assert!(
        clean.starts_with("### ") && clean.contains("up to date"),
        "{clean}"
    );

    let path = p.drift();
    // Under GitHub Actions too: the report stays pure Markdown, with no workflow commands.
    let drifted = check(&[("GITHUB_ACTIONS", "true")]);
    assert_eq!(drifted.status.code(), Some(1), "{}", text(&drifted));
    let md = String::from_utf8(drifted.stdout).unwrap();
    assert!(md.contains("| File | State |"), "{md}");
    assert!(
        md.contains(&format!(
            "`{}`",
            std::path::Path::new(".").join(&path).display()
        )),
        "{md}"
    );
    assert!(
        md.contains("```sh\nblueprint render blueprint.yaml --out .\n```"),
        "{md}"
    );
    assert!(!md.contains("::error"), "{md}");
}

#[test]
fn json_report_stays_json_under_github_actions() {
    let p = Project::rendered("minimal");
    p.drift();
    let out = Command::new(bin())
        .args(["check", "blueprint.yaml", "--format", "json"])
        .current_dir(p.root())
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(report["up_to_date"], false);
}
