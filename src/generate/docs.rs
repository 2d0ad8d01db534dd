//! The `docs` generator: the operations documentation of the rendered stack, from the same model
//! as the stack itself, so that it cannot describe another system than the one deployed.
//!
//! - `docs/runbooks/<Alert>.md`: one runbook per alert, exactly where each alert's
//!   `runbook_url` points, when the runbook base is the project's own `docs/runbooks`
//!   ([`runbooks`]);
//! - `docs/architecture.md`: a Mermaid flowchart per environment ([`architecture`]);
//! - `docs/operations.md`: deploy, roll back, restore, rotate, add an environment, renew
//!   certificates and scale, with the commands of each environment's platform ([`operations`]).
//!
//! Every file is Markdown rendered from a template in `templates/docs/`; user text reaches it
//! only through [`inline`] (one line, Markdown-escaped) or inside code.

pub mod architecture;
pub mod operations;
pub mod runbooks;
#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::generate::GeneratedFile;
use crate::generate::containers::backup;
use crate::generate::containers::compose::compose_command;
use crate::model::{Backup, Environment, Model};

/// The architecture document.
pub const ARCHITECTURE: &str = "docs/architecture.md";
/// The operations guide.
pub const OPERATIONS: &str = "docs/operations.md";

/// Renders this target's files.
pub fn generate(model: &Model) -> Vec<GeneratedFile> {
    let mut files = runbooks::files(model);
    files.push(GeneratedFile::markdown(
        ARCHITECTURE,
        architecture::render(model),
    ));
    files.push(GeneratedFile::markdown(
        OPERATIONS,
        operations::render(model),
    ));
    for file in &mut files {
        // A section left out at the end leaves its blank line behind: one final newline only.
        let end = file.contents.trim_end_matches('\n').len();
        file.contents.truncate(end);
        file.contents.push('\n');
    }
    files
}

/// User text for the middle of a Markdown paragraph, list item or table cell: one line (line
/// breaks and tabs become spaces), with every character that could open a link, emphasis, code,
/// HTML, an entity, a strikethrough or a table cell escaped, so the text reads as written.
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            if "\\`*_[]<>&|~".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// User text as a Markdown code span on one line: a line break would end the list item or
/// table row, so the caller gives text without one (an exec form as JSON, say); a backtick
/// inside would end the span, so the span is delimited by a run of backticks longer than any
/// inside it (and padded by a space where the text starts or ends with one).
pub fn code_span(text: &str) -> String {
    let longest = text
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// An exec-form command as the blueprint writes it (`[alembic, upgrade, head]` is
/// `["alembic", "upgrade", "head"]`), for a code span: JSON strings keep every word's line
/// breaks and quotes visible and on one line.
pub fn exec_form(words: &[String]) -> String {
    let words: Vec<String> = words
        .iter()
        .map(|w| serde_json::to_string(w).expect("a string serializes"))
        .collect();
    format!("[{}]", words.join(", "))
}

/// How one environment is reached from a shell, for the commands the documents print.
#[derive(Debug, Clone, Serialize)]
pub struct Shell {
    /// The environment's name.
    pub name: String,
    /// `Compose` or `Kubernetes`.
    pub platform: &'static str,
    /// Whether it runs on Compose.
    pub compose: bool,
    /// `docker compose --env-file .env.prod -f compose.prod.yaml` (Compose).
    pub compose_command: String,
    /// The namespace (Kubernetes).
    pub namespace: String,
    /// `kubectl -n <namespace>` (Kubernetes).
    pub kubectl: String,
    /// The overlay directory (Kubernetes).
    pub overlay: String,
}

impl Shell {
    /// The shell of `environment`.
    pub fn of(environment: &Environment) -> Self {
        let namespace = environment
            .kubernetes
            .as_ref()
            .map(|k| k.namespace.clone())
            .unwrap_or_default();
        Self {
            name: environment.name.clone(),
            platform: if environment.on_kubernetes() {
                "Kubernetes"
            } else {
                "Compose"
            },
            compose: environment.on_compose(),
            compose_command: compose_command(environment),
            kubectl: format!("kubectl -n {namespace}"),
            overlay: crate::generate::kubernetes::overlay_dir(&environment.name),
            namespace,
        }
    }
}

/// Whether anything of the project runs as a container in `environment` (otherwise it is
/// Vercel only, and there is no stack to operate there).
pub fn runs_containers(model: &Model, environment: &Environment) -> bool {
    model
        .services
        .iter()
        .any(|s| s.in_container(&environment.name))
}

/// A stable Mermaid node id: a prefix for the kind (so no id is a Mermaid keyword), then the
/// name with `-` as `_` and any other character but ASCII letters and digits as `_xHH_`.
pub fn node_id(kind: &str, name: &str) -> String {
    let mut id = format!("{kind}_");
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if c == '-' {
            id.push('_');
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                id.push_str(&format!("_x{b:02X}_"));
            }
        }
    }
    id
}

/// Text for a quoted Mermaid label: one line, and the characters that would end the quotes, open
/// HTML or an entity written as Mermaid entity codes (`#quot;`, `#lt;`, ...).
pub fn label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        for c in word.chars() {
            match c {
                '"' => out.push_str("#quot;"),
                '<' => out.push_str("#lt;"),
                '>' => out.push_str("#gt;"),
                '&' => out.push_str("#amp;"),
                '#' => out.push_str("#35;"),
                '`' => out.push_str("#96;"),
                '|' => out.push_str("#124;"),
                _ => out.push(c),
            }
        }
    }
    out
}

/// The commands that back up with `policy` in one environment, as lines of a shell session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupCommands {
    /// Run one backup now.
    pub run: Vec<String>,
    /// List the dumps (changes nothing).
    pub list: Vec<String>,
    /// Restore the newest dump over the database.
    pub restore: Vec<String>,
    /// Run the restore test now, when there is one (changes no database).
    pub test: Vec<String>,
}

/// [`BackupCommands`] of `policy` in `environment`. On Compose they run in the backup
/// container; in a cluster each is a Job made from the CronJob (its pod, variables, scripts
/// and NetworkPolicies), with the command replaced for the restore script, whose log then
/// follows.
pub fn backup_commands(environment: &Environment, policy: &Backup) -> BackupCommands {
    let shell = Shell::of(environment);
    if shell.compose {
        let c = &shell.compose_command;
        let list = backup::restore_command(c, policy);
        return BackupCommands {
            run: vec![format!(
                "{c} exec {} {}",
                policy.job,
                backup::run_command(policy)
            )],
            restore: vec![format!("{list} --apply")],
            list: vec![list],
            test: policy
                .restore_test
                .iter()
                .map(|t| {
                    format!(
                        "{c} exec {} {}",
                        policy.job,
                        backup::restore_test_command(t)
                    )
                })
                .collect(),
        };
    }
    let k = &shell.kubectl;
    let job = &policy.job;
    // `logs -f` waits for the pod to start (up to the timeout) and ends when it exits.
    let follow = |name: &str| format!("{k} logs -f job/{name} --pod-running-timeout=5m");
    let with_command = |name: &str, command: &[&str]| {
        let words: Vec<String> = command.iter().map(|w| format!("\"{w}\"")).collect();
        vec![
            format!(
                "{k} create job {name} --from=cronjob/{job} --dry-run=client -o yaml | kubectl patch --local -f - --type=json -o yaml -p '[{{\"op\": \"replace\", \"path\": \"/spec/template/spec/containers/0/command\", \"value\": [{}]}}]' | {k} create -f -",
                words.join(", ")
            ),
            follow(name),
        ]
    };
    let now = format!("{job}-now");
    let test = policy
        .restore_test
        .iter()
        .flat_map(|t| {
            let now = format!("{}-now", t.job);
            [
                format!("{k} create job {now} --from=cronjob/{}", t.job),
                follow(&now),
            ]
        })
        .collect();
    BackupCommands {
        test,
        run: vec![
            format!("{k} create job {now} --from=cronjob/{job}"),
            follow(&now),
        ],
        list: with_command(&format!("{job}-list"), &["/bin/sh", backup::RESTORE_MOUNT]),
        restore: with_command(
            &format!("{job}-restore"),
            &["/bin/sh", backup::RESTORE_MOUNT, "--apply"],
        ),
    }
}
