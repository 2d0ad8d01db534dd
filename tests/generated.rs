//! This repository dogfoods blueprint: `generated/<name>/` is the committed render of
//! `blueprints/<name>/blueprint.yaml`. These tests hold the two together, prove rendering is
//! deterministic across processes, keep the JSON Schema in step with the types, and snapshot
//! every rendered file.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

mod common;
use common::{blueprint as run, blueprint_in, examples, repo};

/// Every file below `root`, by relative path.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, fs::read(e.path()).unwrap())
        })
        .collect()
}

/// Renders a copy of the blueprint placed at `<tmp>/blueprint.yaml` into `<tmp>`, so headers
/// name `blueprint.yaml` wherever the repository is checked out.
fn render_copy(path: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(path, dir.path().join("blueprint.yaml")).unwrap();
    let out = blueprint_in(&["render", "blueprint.yaml"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    fs::remove_file(dir.path().join("blueprint.yaml")).unwrap();
    dir
}

#[test]
fn committed_renders_match_their_blueprints() {
    for (name, path) in examples() {
        let out_dir = format!("generated/{name}");
        let file = format!("blueprints/{name}/blueprint.yaml");
        assert!(
            repo().join(&out_dir).is_dir(),
            "{out_dir} is committed (run `blueprint render {file} --out {out_dir}`)"
        );
        let out = run(&["check", &file, "--out", &out_dir]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{} drifted from {}:\n{}{}",
            out_dir,
            path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn rendering_is_deterministic_across_processes() {
    for (name, path) in examples() {
        let a = render_copy(&path);
        let b = render_copy(&path);
        let (ta, tb) = (tree(a.path()), tree(b.path()));
        assert!(ta.len() > 1, "{name} renders files");
        // The temp dirs' names differ, and so must nothing else.
        assert_eq!(
            ta.keys().collect::<Vec<_>>(),
            tb.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (path, bytes) in &ta {
            assert!(
                bytes == &tb[path],
                "{name}: {path} differs between two renders"
            );
            let text = String::from_utf8(bytes.clone())
                .unwrap_or_else(|_| panic!("{name}: {path} is UTF-8"));
            assert!(!text.contains('\r'), "{name}: {path} has CR line endings");
            assert!(
                text.ends_with('\n') && !text.ends_with("\n\n"),
                "{name}: {path} ends with exactly one newline"
            );
            assert!(
                !text.contains(a.path().to_str().unwrap()),
                "{name}: {path} has an absolute path"
            );
        }
    }
}

#[test]
fn the_committed_schema_matches_the_types() {
    let committed = fs::read_to_string(repo().join("schema/blueprint.schema.json"))
        .expect("schema is committed");
    let current = blueprint::blueprint::json_schema();
    assert!(
        committed == current,
        "schema/blueprint.schema.json is stale: run `cargo run -- schema > schema/blueprint.schema.json`"
    );
    let out = run(&["schema"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), current);
}

#[test]
fn every_example_has_the_schema_modeline_and_is_valid() {
    for (name, path) in examples() {
        let text = fs::read_to_string(&path).unwrap();
        let modeline = "# yaml-language-server: $schema=";
        assert!(
            text.starts_with(modeline),
            "{name} starts with the schema modeline"
        );
        // The modeline's path is relative to the blueprint, and names the committed schema.
        let schema = text[modeline.len()..].lines().next().unwrap();
        let named = fs::canonicalize(path.parent().unwrap().join(schema))
            .unwrap_or_else(|e| panic!("{name}'s modeline names {schema}: {e}"));
        assert_eq!(
            named,
            fs::canonicalize(repo().join("schema/blueprint.schema.json")).unwrap(),
            "{name}'s modeline names the schema"
        );
        let out = run(&["validate", path.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_rendered_file_is_snapshotted() {
    for (name, path) in examples() {
        let dir = render_copy(&path);
        for (file, bytes) in tree(dir.path()) {
            if file == ".blueprint/manifest.json" {
                continue;
            }
            let contents = String::from_utf8(bytes).unwrap();
            let snapshot_name = format!("{name}__{}", file.replace('/', "__"));
            insta::with_settings!({ snapshot_path => "snapshots/rendered", prepend_module_to_snapshot => false, description => format!("{name}: {file}") }, {
                insta::assert_snapshot!(snapshot_name, contents);
            });
        }
    }
}
