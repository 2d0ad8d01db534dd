//! `blueprint env add NAME --from EXISTING`: a new environment, copied from an existing one,
//! added to the blueprint by a minimal text edit so every comment and every formatting choice
//! in the file survives.
//!
//! The edit inserts one block right after EXISTING's entry under `environments:` and changes
//! nothing else: the file minus the inserted text is byte-identical to the original. The block
//! is EXISTING's own text (found through the positioned node tree of [`crate::load`]) with its
//! key renamed. The edited text is then parsed and validated again, and must give the same
//! blueprint plus an environment equal to EXISTING's; only then is it written.

use std::io::Write as _;
use std::path::PathBuf;

use crate::blueprint::{Blueprint, Deploy, DeployTarget, EnvValue};
use crate::load::{self, Node, NodeKind, key_text};
use crate::model::Model;

use super::Failure;
use super::secrets::{Scope, checklist};

/// A text edit: `inserted` goes in at byte offset `at` of the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Where the new text goes.
    pub at: usize,
    /// The new text.
    pub inserted: String,
}

impl Edit {
    /// The original text with the edit applied.
    pub fn apply(&self, source: &str) -> String {
        let mut text = String::with_capacity(source.len() + self.inserted.len());
        text.push_str(&source[..self.at]);
        text.push_str(&self.inserted);
        text.push_str(&source[self.at..]);
        text
    }
}

/// Where the last meaningful character of `node` ends: block collections' own spans run on to
/// the next token (past comments and blank lines), so they are measured by their last child;
/// block scalars' spans include trailing blank lines, which are trimmed. `None` for an empty
/// (implicit) null.
fn content_end(source: &str, node: &Node) -> Option<usize> {
    let text = source.get(node.span.start..node.span.end)?;
    if text.starts_with('*') {
        // An alias: the node carries its anchor's children, but its own span is exact.
        return Some(node.span.end);
    }
    match &node.kind {
        NodeKind::Map(_) | NodeKind::Seq(_) if text.starts_with(['{', '[']) => Some(node.span.end),
        NodeKind::Map(entries) => entries
            .iter()
            .map(|(k, v)| content_end(source, v).unwrap_or(k.span.end).max(k.span.end))
            .max(),
        NodeKind::Seq(items) => items.iter().filter_map(|i| content_end(source, i)).max(),
        NodeKind::Null => {
            let literal = ["~", "null", "Null", "NULL"]
                .into_iter()
                .find(|l| text.starts_with(l))?;
            Some(node.span.start + literal.len())
        }
        _ => {
            let trimmed = text.trim_end();
            (!trimmed.is_empty()).then(|| node.span.start + trimmed.len())
        }
    }
}

/// The edit that adds `new` as a copy of `existing` to the `environments:` of `source`.
/// Names are checked by the caller; this only finds the text and refuses layouts it cannot
/// edit safely.
pub fn plan_edit(file: &str, source: &str, existing: &str, new: &str) -> Result<Edit, Failure> {
    let document = load::parse(file, source).map_err(Failure::Invalid)?;
    let NodeKind::Map(top) = &document.root.kind else {
        return Err(Failure::Usage(format!(
            "{file}: the blueprint is not a mapping"
        )));
    };
    let Some((_, environments)) = top.iter().find(|(k, _)| key_text(k) == "environments") else {
        return Err(Failure::Usage(format!(
            "{file} has no `environments:` key, so its only environment is the implicit `dev`; add\n\n  environments:\n    dev: {{}}\n\nto the file first (nothing was written)"
        )));
    };
    let NodeKind::Map(entries) = &environments.kind else {
        return Err(Failure::Usage(format!(
            "{file}:{}: `environments:` is not a mapping of environments (nothing was written)",
            environments.span.line
        )));
    };
    let Some((key, value)) = entries.iter().find(|(k, _)| key_text(k) == existing) else {
        let known: Vec<String> = entries.iter().map(|(k, _)| key_text(k)).collect();
        return Err(Failure::Usage(format!(
            "{file} has no environment `{existing}` to copy; it has: {} (nothing was written)",
            known.join(", ")
        )));
    };
    if entries.iter().any(|(k, _)| key_text(k) == new) {
        return Err(Failure::Usage(format!(
            "{file} already has an environment `{new}` (nothing was written)"
        )));
    }
    let end = content_end(source, value)
        .unwrap_or(key.span.end)
        .max(key.span.end);
    let flow = source[environments.span.start..].starts_with('{');
    if flow {
        // `environments: {dev: {}, prod: {...}}`: the copy goes right after EXISTING's value,
        // as one more flow entry.
        let value_text = if value.span.start >= key.span.end && value.span.start <= end {
            &source[value.span.start..end]
        } else {
            ""
        };
        if let Some(anchor) = anchor_in(value_text) {
            return Err(Failure::Usage(format!(
                "{file}: `{existing}`'s entry defines the YAML anchor `{anchor}`; a copy would define it again and change what later aliases point to, so nothing was written (add `{new}` by hand)"
            )));
        }
        return Ok(Edit {
            at: end,
            inserted: format!(", {new}: {value_text}"),
        });
    }
    let line_start = source[..key.span.start].rfind('\n').map_or(0, |i| i + 1);
    let indent = &source[line_start..key.span.start];
    if !indent.bytes().all(|b| b == b' ') {
        return Err(Failure::Usage(format!(
            "{file}:{}: the entry `{existing}:` does not start its own line, so it cannot be copied as a block; nothing was written (put `{existing}:` on a line of its own)",
            key.span.line
        )));
    }
    let mut line_end = source[end..].find('\n').map_or(source.len(), |i| end + i);
    let mut newline = "\n";
    if source[..line_end].ends_with('\r') && line_end < source.len() {
        line_end -= 1;
        newline = "\r\n";
    }
    let rest = source[end..line_end].trim_start();
    if !(rest.is_empty() || rest.starts_with('#')) {
        return Err(Failure::Usage(format!(
            "{file}: the entry `{existing}:` ends in the middle of a line, so it cannot be copied as a block; nothing was written"
        )));
    }
    let block = &source[key.span.end..line_end];
    if let Some(anchor) = anchor_in(block) {
        return Err(Failure::Usage(format!(
            "{file}: `{existing}`'s entry defines the YAML anchor `{anchor}`; a copy would define it again and change what later aliases point to, so nothing was written (add `{new}` by hand)"
        )));
    }
    Ok(Edit {
        at: line_end,
        inserted: format!("{newline}{indent}{new}{}", &source[key.span.end..line_end]),
    })
}

/// The first anchor (`&name`) defined in a block of YAML text, outside comments. Quoted text
/// is not parsed, so `"a &b"` counts too: a false alarm only refuses, never corrupts.
fn anchor_in(block: &str) -> Option<String> {
    block.lines().find_map(|line| {
        let code = match line.find(" #") {
            Some(i) => &line[..i],
            None if line.trim_start().starts_with('#') => "",
            None => line,
        };
        code.split([' ', '\t', '[', '{', ','])
            .find(|t| t.len() > 1 && t.starts_with('&'))
            .map(str::to_string)
    })
}

/// Checks the edited blueprint: the same as the original, plus `new` equal to `existing`.
fn verify(before: &Blueprint, after: &Blueprint, existing: &str, new: &str) -> Result<(), String> {
    let copied = after
        .environments
        .get(new)
        .ok_or_else(|| format!("the edited file has no environment `{new}`"))?;
    let source = before
        .environments
        .get(existing)
        .ok_or_else(|| format!("the original has no environment `{existing}`"))?;
    if json(copied) != json(source) {
        return Err(format!("`{new}` does not read back equal to `{existing}`"));
    }
    let mut rest = after.clone();
    rest.environments.remove(new);
    if json(&rest) != json(before) {
        return Err("the rest of the blueprint does not read back unchanged".into());
    }
    Ok(())
}

/// A value as JSON, for comparison: the language types are `Serialize` but not `PartialEq`.
fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Values given per environment elsewhere in the blueprint (`per_env:`, `deploy:` maps) that
/// name `existing`: they stay as they are, and `new` gets the default instead. Each line says
/// where, what `existing` has and what `new` gets.
pub fn per_environment_values(blueprint: &Blueprint, existing: &str, new: &str) -> Vec<String> {
    let mut notes = Vec::new();
    for (name, service) in &blueprint.services {
        for (key, value) in &service.env {
            if let EnvValue::PerEnvironment(p) = value
                && let Some(v) = p.per_env.get(existing)
            {
                let gets = match (p.per_env.get(new), &p.default) {
                    (Some(own), _) => format!("\"{own}\""),
                    (None, Some(d)) => format!("the default \"{d}\""),
                    (None, None) => "nothing (the variable is unset)".into(),
                };
                notes.push(format!(
                    "services.{name}.env.{key}: `{existing}` has \"{v}\", `{new}` gets {gets}"
                ));
            }
        }
        if let Some(Deploy::PerEnvironment(map)) = &service.deploy
            && let Some(target) = map.get(existing)
        {
            let gets = Deploy::target_in(service.deploy.as_ref(), new);
            notes.push(format!(
                "services.{name}.deploy: `{existing}` deploys to {}, `{new}` to {}",
                target_name(*target),
                target_name(gets)
            ));
        }
    }
    notes
}

fn target_name(target: DeployTarget) -> &'static str {
    match target {
        DeployTarget::Compose => "compose",
        DeployTarget::Vercel => "vercel",
    }
}

/// What `env add` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The new environment's name.
    pub name: String,
    /// The environment to copy.
    pub from: String,
    /// The blueprint file.
    pub file: PathBuf,
    /// Output root of the render. Default: the blueprint's directory.
    pub out: Option<PathBuf>,
}

/// `blueprint env add`: returns the exit code.
pub fn run(options: &Options) -> u8 {
    match add(options) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

fn add(options: &Options) -> Result<u8, Failure> {
    let Options {
        name,
        from,
        file,
        out,
    } = options;
    let display = file.display().to_string();
    if !super::is_dns_label(name) {
        let hint = super::slugify(name)
            .map(|s| format!(" (try `{s}`)"))
            .unwrap_or_default();
        return Err(Failure::Usage(format!(
            "the environment name `{name}` is not a DNS label: lowercase letters, digits and `-`, starting with a letter, at most 63 characters{hint} (nothing was written)"
        )));
    }
    if name == "default" {
        return Err(Failure::Usage(
            "`default` cannot name an environment: in per-environment `deploy:` maps it means \"every other environment\" (nothing was written)".into(),
        ));
    }
    let before = crate::cli::load(file)?;
    let source =
        std::fs::read_to_string(file).map_err(|e| Failure::Io(format!("{display}: {e}")))?;
    // `load` accepted the file with a byte-order mark; the edit works on the text after it and
    // puts it back.
    let (bom, text) = match source.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", source.as_str()),
    };
    let edit = plan_edit(&display, text, from, name)?;
    let edited_text = edit.apply(text);
    let after = crate::validate::validate_source(&display, &edited_text).map_err(|mut d| {
        // The copy is EXISTING's settings under another name; the name alone can make them
        // invalid (a `staging` copy of `dev` serves TLS, so it needs a domain).
        let own = format!("environments.{name}");
        let about_the_copy = d
            .iter()
            .all(|x| x.path == own || x.path.starts_with(&format!("{own}.")));
        let message = if about_the_copy {
            format!(
                "`{name}` as a copy of `{from}` would be invalid (its name gives it other defaults than `{from}`), so nothing was written. Copy an environment of the same kind, or add `{name}` by hand"
            )
        } else {
            "the edited blueprint does not validate, so nothing was written; please report this, with the file".to_string()
        };
        let _ = writeln!(anstream::stderr(), "error: {message}");
        for diagnostic in &mut d {
            diagnostic.hint.get_or_insert_with(|| {
                "shown in the file as `env add` would have written it".into()
            });
        }
        Failure::Invalid(d)
    })?;
    verify(&before, &after, from, name).map_err(|why| {
        Failure::Usage(format!(
            "copying `{from}` as text would change its meaning ({why}), so nothing was written; add `{name}` by hand"
        ))
    })?;
    let root = out.clone().unwrap_or_else(|| super::blueprint_dir(file));
    let conflicts = super::conflicts(&after, file, &root)?;
    super::refuse_conflicts(&conflicts, &root)?;
    super::write_replace(file, &format!("{bom}{edited_text}"))?;

    let first_line = text[..edit.at].matches('\n').count() + 2;
    let lines = edit
        .inserted
        .trim_start_matches(['\r', '\n'])
        .lines()
        .count();
    super::print(&format!(
        "added environment `{name}` to {display} (a copy of `{from}`, lines {first_line}-{})\n",
        first_line + lines.max(1) - 1
    ))?;
    let mut stderr = anstream::stderr();
    let notes = per_environment_values(&before, from, name);
    if !notes.is_empty() {
        let _ = writeln!(
            stderr,
            "note: values given per environment for `{from}` were not copied to `{name}`:"
        );
        for note in &notes {
            let _ = writeln!(stderr, "  {note}");
        }
    }
    let model = Model::from_blueprint(&after);
    if let (Some(old), Some(new)) = (model.environment(from), model.environment(name)) {
        if old.tier != new.tier
            && after
                .environments
                .get(name)
                .is_some_and(|e| e.tier.is_none())
        {
            let tier = |t| match t {
                crate::blueprint::Tier::Development => "development",
                crate::blueprint::Tier::Staging => "staging",
                crate::blueprint::Tier::Production => "production",
            };
            let _ = writeln!(
                stderr,
                "warning: `{from}` is a {} environment because of its name, but `{name}` is {}: add `tier: {}` under `{name}` to keep {}'s defaults (TLS, log level, approvals)",
                tier(old.tier),
                tier(new.tier),
                tier(old.tier),
                tier(old.tier)
            );
        }
        if old.domain != "localhost" && old.domain == new.domain {
            let _ = writeln!(
                stderr,
                "note: `{name}` serves the same domain as `{from}` ({}); give it its own",
                new.domain
            );
        }
    }
    if let Err(code) = super::render(file, &root) {
        return Ok(code);
    }
    let list = checklist(&after, &root, Scope::EnvironmentOnly(name));
    let mut text = Vec::new();
    // Writing into memory cannot fail.
    if list.secrets.is_empty() {
        let _ = writeln!(text, "\n`{name}` needs no secrets of its own.");
    } else {
        let _ = writeln!(
            text,
            "\nSecrets `{name}` needs (set each where shown; never commit them):"
        );
        let _ = list.write_body(&mut text, &display);
    }
    super::print(&String::from_utf8_lossy(&text))?;
    Ok(crate::cli::EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(source: &str, existing: &str, new: &str) -> String {
        let e = plan_edit("t.yaml", source, existing, new).unwrap_or_else(|f| panic!("{f:?}"));
        let text = e.apply(source);
        // Outside the inserted text nothing changed.
        let mut removed = text.clone();
        removed.replace_range(e.at..e.at + e.inserted.len(), "");
        assert_eq!(removed, source);
        text
    }

    #[test]
    fn a_block_entry_is_copied_after_itself_with_its_comments() {
        let source = "environments:\n  dev: {}\n  prod: # the real one\n    # domain first\n    domain: x.example.com   # ours\n    replicas: 2\n    # trailing, belongs to what follows\n\n  other: {}\nservices: {}\n";
        assert_eq!(
            edit(source, "prod", "qa"),
            "environments:\n  dev: {}\n  prod: # the real one\n    # domain first\n    domain: x.example.com   # ours\n    replicas: 2\n  qa: # the real one\n    # domain first\n    domain: x.example.com   # ours\n    replicas: 2\n    # trailing, belongs to what follows\n\n  other: {}\nservices: {}\n"
        );
    }

    #[test]
    fn empty_entries_flow_maps_and_files_without_a_final_newline() {
        assert_eq!(
            edit("environments:\n    dev: {}\nx: 1", "dev", "test"),
            "environments:\n    dev: {}\n    test: {}\nx: 1"
        );
        assert_eq!(
            edit("environments:\n  prod:\n    domain: a.b", "prod", "qa"),
            "environments:\n  prod:\n    domain: a.b\n  qa:\n    domain: a.b"
        );
        assert_eq!(
            edit(
                "environments: {dev: {}, prod: {domain: a.b}}\n",
                "prod",
                "qa"
            ),
            "environments: {dev: {}, prod: {domain: a.b}, qa: {domain: a.b}}\n"
        );
        assert_eq!(
            edit(
                "environments:\r\n  dev:\r\n    tls: false\r\nx: 1\r\n",
                "dev",
                "qa"
            ),
            "environments:\r\n  dev:\r\n    tls: false\r\n  qa:\r\n    tls: false\r\nx: 1\r\n"
        );
        assert_eq!(
            edit(
                "environments:\n  \"dev\":\n    env:\n      A: |\n        x\n\n  b: {}\n",
                "dev",
                "qa"
            ),
            "environments:\n  \"dev\":\n    env:\n      A: |\n        x\n  qa:\n    env:\n      A: |\n        x\n\n  b: {}\n"
        );
    }

    #[test]
    fn refusals() {
        let refuse = |source: &str, existing: &str, new: &str| match plan_edit(
            "t.yaml", source, existing, new,
        ) {
            Err(Failure::Usage(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(refuse("project: {}\n", "dev", "qa").contains("no `environments:` key"));
        assert!(
            refuse("environments:\n  dev: {}\n", "prod", "qa").contains("no environment `prod`")
        );
        assert!(
            refuse("environments:\n  dev: {}\n  qa: {}\n", "dev", "qa").contains("already has")
        );
        assert!(refuse("environments: []\n", "dev", "qa").contains("not a mapping"));
        assert!(
            refuse(
                "environments:\n  dev: &d\n    tls: false\n  b: *d\n",
                "dev",
                "qa"
            )
            .contains("anchor `&d`")
        );
        assert_eq!(anchor_in(": # a &comment\n    x: \"a&b\"\n"), None);
    }

    fn blueprint(text: &str) -> Blueprint {
        crate::validate::validate_source("t.yaml", text)
            .unwrap_or_else(|d| panic!("{}", crate::diagnostic::render_all(&d, false)))
    }

    #[test]
    fn verification_catches_a_copy_that_reads_differently() {
        let base = "project: { name: a, repository: o/a }\nservices: { api: { runtime: fastapi, path: . } }\n";
        let before = blueprint(&format!("{base}environments:\n  dev: {{ replicas: 2 }}\n"));
        let good = blueprint(&format!(
            "{base}environments:\n  dev: {{ replicas: 2 }}\n  test: {{ replicas: 2 }}\n"
        ));
        let bad = blueprint(&format!(
            "{base}environments:\n  dev: {{ replicas: 2 }}\n  test: {{ replicas: 3 }}\n"
        ));
        assert!(verify(&before, &good, "dev", "test").is_ok());
        assert!(verify(&before, &bad, "dev", "test").is_err());
    }

    #[test]
    fn per_environment_values_naming_the_source_are_listed() {
        let bp = blueprint(
            "project: { name: a, repository: o/a }
environments: { dev: {}, prod: { domain: a.example.com } }
services:
  api:
    runtime: fastapi
    path: .
    env:
      DEBUG: { per_env: { prod: \"0\" }, default: \"1\" }
      ONLY: { per_env: { prod: x } }
  docs:
    runtime: static
    path: docs
    deploy: { prod: vercel }
",
        );
        let notes = per_environment_values(&bp, "prod", "qa");
        assert_eq!(
            notes,
            [
                "services.api.env.DEBUG: `prod` has \"0\", `qa` gets the default \"1\"",
                "services.api.env.ONLY: `prod` has \"x\", `qa` gets nothing (the variable is unset)",
                "services.docs.deploy: `prod` deploys to vercel, `qa` to compose",
            ]
        );
        assert!(per_environment_values(&bp, "dev", "qa").is_empty());
    }
}
