//! The command line, run as a user runs it: the real binary, its exit codes and its output.

use std::process::Output;

mod common;
use common::{blueprint, examples};

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8 stderr")
}

#[test]
fn help_exits_zero() {
    for flag in ["--help", "-h"] {
        let output = blueprint(&[flag]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let text = stdout(&output);
        assert!(text.contains("Usage: blueprint"), "{text}");
        for command in ["validate", "render", "diff", "check", "list", "schema"] {
            assert!(
                text.contains(command),
                "`{command}` missing from --help:\n{text}"
            );
        }
    }
    let output = blueprint(&["validate", "--help"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("Usage: blueprint validate"));
}

#[test]
fn version_exits_zero() {
    let output = blueprint(&["--version"]);
    assert_eq!(output.status.code(), Some(0));
    // The commit it was built from follows in parentheses (tests/cli_extras.rs checks which).
    let out = stdout(&output);
    assert!(
        out.starts_with(&format!("blueprint {} (", env!("CARGO_PKG_VERSION")))
            && out.ends_with(")\n"),
        "{out}"
    );
}

#[test]
fn usage_errors_exit_two() {
    for args in [
        &["frobnicate"][..],
        &[][..],
        &["validate"][..],
        &["render"][..],
        &[
            "check",
            "blueprints/minimal/blueprint.yaml",
            "--format",
            "xml",
        ][..],
        &["--no-such-flag"][..],
    ] {
        let output = blueprint(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).is_empty(), "{args:?} printed to stdout");
        // clap prints an `error:` line, or the whole help when no command is given.
        assert!(
            stderr(&output).starts_with("error: ") || stderr(&output).contains("Usage:"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let output = blueprint(&["frobnicate"]);
    assert!(
        stderr(&output).contains("frobnicate"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("Usage:"), "{}", stderr(&output));
}

#[test]
fn every_shipped_blueprint_is_valid() {
    let files: Vec<String> = examples()
        .into_iter()
        .map(|(name, _)| format!("blueprints/{name}/blueprint.yaml"))
        .collect();
    // One at a time, so a failure names the file ...
    for file in &files {
        let output = blueprint(&["validate", file]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{file} is not valid:\n{}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), format!("{file}: valid\n"));
        // Cautions (an in-cluster database) are warnings, never errors.
        assert!(
            stderr(&output).lines().all(|l| l.starts_with("warning: ")),
            "{}",
            stderr(&output)
        );
    }
    // ... and all together, as `blueprint validate blueprints/*/blueprint.yaml`.
    let args: Vec<&str> = std::iter::once("validate")
        .chain(files.iter().map(String::as_str))
        .collect();
    let output = blueprint(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), files.len());
}

#[test]
fn missing_file_exits_two_naming_it() {
    let output = blueprint(&["validate", "blueprints/does-not-exist.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).is_empty());
    let text = stderr(&output);
    assert!(
        text.starts_with("error: blueprints/does-not-exist.yaml: "),
        "{text}"
    );
    for command in ["render", "diff", "check", "list"] {
        let output = blueprint(&[command, "blueprints/does-not-exist.yaml"]);
        assert_eq!(output.status.code(), Some(2), "{command}");
        assert!(
            stderr(&output).contains("blueprints/does-not-exist.yaml"),
            "{command}: {}",
            stderr(&output)
        );
    }
    // A directory is not a blueprint either.
    let output = blueprint(&["validate", "blueprints"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("blueprints"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn schema_is_json_titled_blueprint() {
    let output = blueprint(&["schema"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let schema: serde_json::Value =
        serde_json::from_str(&stdout(&output)).expect("`schema` prints JSON");
    assert_eq!(schema["title"], "blueprint");
    assert!(schema["properties"]["services"].is_object(), "{schema:#}");
    let required = schema["required"].as_array().expect("required keys");
    assert!(required.contains(&"project".into()) && required.contains(&"services".into()));
}

#[test]
fn list_names_generated_files() {
    let output = blueprint(&["list", "blueprints/data-platform/blueprint.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains(".blueprint/manifest.json"), "{text}");
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        assert!(
            parts.next().is_some() && parts.next().is_some(),
            "`generator path` expected: {line:?}"
        );
    }
}

#[test]
fn a_cluster_environment_runs_the_backup_as_a_cronjob() {
    // It once warned that the backup ran on Compose only; now each cluster runs it too.
    let output = blueprint(&["validate", "blueprints/data-cluster/blueprint.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("stores.db.backup"),
        "{}",
        stderr(&output)
    );
    let output = blueprint(&["list", "blueprints/data-cluster/blueprint.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let listed = stdout(&output);
    for path in [
        "kubernetes/base/jobs/db-backup.yaml",
        "kubernetes/base/jobs/backup.yaml",
        "kubernetes/overlays/staging/config/db-backup.yaml",
        "kubernetes/overlays/staging/patches/job-db-backup.yaml",
        "kubernetes/overlays/prod/config/db-backup.yaml",
        "kubernetes/overlays/prod/patches/job-db-backup.yaml",
    ] {
        assert!(
            listed.lines().any(|l| l.ends_with(&format!(" {path}"))),
            "{path} is not rendered:\n{listed}"
        );
    }
}

#[test]
fn validate_warns_when_alerts_have_no_receiver() {
    let output = blueprint(&["validate", "blueprints/minimal/blueprint.yaml"]);
    assert_eq!(output.status.code(), Some(0), "a caution is not an error");
    assert!(
        stderr(&output).contains("warning: monitoring.receivers: no receiver is declared"),
        "{}",
        stderr(&output)
    );
    let output = blueprint(&["validate", "blueprints/data-platform/blueprint.yaml"]);
    assert!(
        !stderr(&output).contains("monitoring.receivers"),
        "{}",
        stderr(&output)
    );
}
