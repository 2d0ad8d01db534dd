//! The invalid-input corpus.
//!
//! Every `tests/invalid/*.yaml` holds exactly one mistake in an otherwise valid blueprint. Its
//! first comment line says what the mistake is (`# mistake: ...`), and `# expect: ...` lines
//! give text the diagnostic must contain. The real binary validates each file; the test checks
//! the exit code, the location, the caret, the expectations, and snapshots the exact
//! diagnostic (`tests/snapshots/invalid__corpus@<file>.snap`).
//!
//! To add a case, drop a file in `tests/invalid/`, run
//! `INSTA_UPDATE=always cargo test --test invalid`, and read the new `.snap` file.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

mod common;
use common::{blueprint, examples};

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("the binary prints UTF-8")
}

/// What a fixture says about itself.
struct Header {
    mistake: String,
    expect: Vec<String>,
}

fn header(path: &Path) -> Result<Header, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    if bytes.is_empty() {
        // An empty file cannot carry a comment.
        return Ok(Header {
            mistake: "the file is empty".into(),
            expect: vec!["the file is empty".into()],
        });
    }
    let source = String::from_utf8_lossy(&bytes);
    let mut mistake = None;
    let mut expect = Vec::new();
    for line in source.lines().take_while(|l| l.starts_with('#')) {
        if let Some(m) = line.strip_prefix("# mistake: ") {
            mistake = Some(m.trim().to_string());
        } else if let Some(e) = line.strip_prefix("# expect: ") {
            expect.push(e.trim().to_string());
        }
    }
    let mistake = mistake.ok_or("no leading `# mistake: ...` comment")?;
    if expect.is_empty() {
        return Err("no `# expect: ...` comment".into());
    }
    Ok(Header { mistake, expect })
}

/// The `file:line:col` of every ` --> ` line.
fn locations(stderr: &str) -> Vec<(String, usize, usize)> {
    stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--> "))
        .filter_map(|loc| {
            let mut parts = loc.rsplitn(3, ':');
            let col = parts.next()?.parse().ok()?;
            let line = parts.next()?.parse().ok()?;
            Some((parts.next()?.to_string(), line, col))
        })
        .collect()
}

fn is_caret_line(line: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix('|') else {
        return false;
    };
    let rest = rest.trim();
    !rest.is_empty() && rest.chars().all(|c| c == '^')
}

/// The checks every fixture must pass besides its snapshot; returns what failed.
fn check_fixture(name: &str, header: &Header, output: &Output) -> Vec<String> {
    let mut problems = Vec::new();
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    if output.status.code() != Some(2) {
        problems.push(format!("exit code {:?}, expected 2", output.status.code()));
    }
    if !stdout.is_empty() {
        problems.push(format!("stdout is not empty: {stdout:?}"));
    }
    if stderr.contains('\x1b') {
        problems.push("stderr has ANSI escapes although NO_COLOR is set".into());
    }
    let file = format!("tests/invalid/{name}");
    let located = locations(&stderr);
    if !located
        .iter()
        .any(|(f, line, col)| *f == file && *line > 0 && *col > 0)
    {
        problems.push(format!("no `{file}:LINE:COL` location (found {located:?})"));
    }
    if !stderr.lines().any(is_caret_line) {
        problems.push("no `^` caret line".into());
    }
    for expected in &header.expect {
        if !stderr.contains(expected.as_str()) {
            problems.push(format!("stderr does not contain {expected:?}"));
        }
    }
    // One mistake, one diagnostic: a second one would be noise the user has to read through.
    if !stderr.ends_with("\n1 problem found\n") {
        problems.push("expected exactly one diagnostic (`1 problem found`)".into());
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        problems.push("the binary panicked".into());
    }
    problems
}

#[test]
fn corpus() {
    let mut failures = Vec::new();
    let mut count = 0;
    insta::glob!("invalid/*.yaml", |path| {
        count += 1;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let header = match header(path) {
            Ok(h) => h,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                return;
            }
        };
        let output = blueprint(&["validate", &format!("tests/invalid/{name}")]);
        for problem in check_fixture(&name, &header, &output) {
            failures.push(format!("{name}: {problem}"));
        }
        insta::with_settings!({
            description => header.mistake.as_str(),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(text(&output.stderr));
        });
    });
    assert!(
        count >= 40,
        "the corpus has {count} files; it should cover at least 40 mistakes"
    );
    assert!(
        failures.is_empty(),
        "{} problem(s) in the invalid corpus:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&root)
        .into_iter()
        .map(|e| e.expect("the corpus is readable").into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 40);
    files
}

fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.expect("readable").into_path())
        .collect();
    files.sort();
    files
}

const SAMPLE: &[&str] = &[
    "binary-garbage.yaml",
    "empty.yaml",
    "yaml-tabs.yaml",
    "runtime-typo.yaml",
    "same-port.yaml",
    "three-semantic-problems.yaml",
];

/// Invalid input never changes anything on disk: `render` refuses before writing, and `diff`
/// and `check` report the input, not drift.
#[test]
fn invalid_input_writes_nothing() {
    let corpus_before = listing(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/invalid")
            .as_path(),
    );
    for file in fixtures() {
        let relative = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let out = tempfile::tempdir().unwrap();
        let out_path = out.path().to_str().unwrap();
        // `render` is what writes; `diff` and `check` are run on a sample of the kinds of
        // failure (YAML, encoding, schema, semantics), as each run costs a process.
        let name = file.file_name().unwrap().to_string_lossy();
        let commands: &[&str] = if SAMPLE.contains(&name.as_ref()) {
            &["render", "diff", "check"]
        } else {
            &["render"]
        };
        for &command in commands {
            let output = blueprint(&[command, &relative, "--out", out_path]);
            assert_eq!(
                output.status.code(),
                Some(2),
                "`{command} {relative}` must exit 2; stderr:\n{}",
                text(&output.stderr)
            );
            assert!(
                output.stdout.is_empty(),
                "`{command} {relative}` printed to stdout: {}",
                text(&output.stdout)
            );
            let written = listing(out.path());
            assert_eq!(
                written,
                vec![out.path().to_path_buf()],
                "`{command} {relative}` wrote into the output directory"
            );
        }
    }
    let corpus_after = listing(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/invalid")
            .as_path(),
    );
    assert_eq!(
        corpus_before, corpus_after,
        "running on the corpus created files next to it"
    );
}

/// `validate` reports every problem at once, from the schema and from the semantic checks.
#[test]
fn all_problems_are_reported_at_once() {
    for name in ["three-schema-problems", "three-semantic-problems"] {
        let file = format!("tests/invalid/multiple/{name}.yaml");
        let output = blueprint(&["validate", &file]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert_eq!(
            stderr.lines().filter(|l| l.starts_with("error: ")).count(),
            3,
            "{stderr}"
        );
        assert_eq!(locations(&stderr).len(), 3, "{stderr}");
        assert!(stderr.ends_with("\n3 problems found\n"), "{stderr}");
        insta::with_settings!({ snapshot_suffix => name, omit_expression => true }, {
            insta::assert_snapshot!(stderr);
        });
    }
    // Several files: each is validated and reported, the exit code is the worst.
    let output = blueprint(&[
        "validate",
        "blueprints/minimal/blueprint.yaml",
        "tests/invalid/same-port.yaml",
        "tests/invalid/runtime-typo.yaml",
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        text(&output.stdout),
        "blueprints/minimal/blueprint.yaml: valid\n"
    );
    assert!(stderr.contains("tests/invalid/same-port.yaml:"), "{stderr}");
    assert!(
        stderr.contains("tests/invalid/runtime-typo.yaml:"),
        "{stderr}"
    );
}

const BLUEPRINT: &str = "project:\n  name: big\n  repository: acme/big\nservices:\n  api:\n    runtime: fastapi\n    path: api\n    port: 8000\n";

/// A multi-megabyte file is refused before it is parsed: fast, with a located message.
#[test]
fn huge_file_is_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let mut source = String::from(BLUEPRINT);
    source.push_str("jobs:\n");
    let mut i = 0;
    while source.len() < 8 * blueprint::load::MAX_INPUT_BYTES {
        source.push_str(&format!(
            "  job-{i}:\n    service: api\n    schedule: \"*/5 * * * *\"\n    command: [python, -m, app.jobs.job_{i}]\n"
        ));
        i += 1;
    }
    std::fs::write(&path, &source).unwrap();
    let display = path.to_str().unwrap();
    let started = Instant::now();
    let output = blueprint(&["validate", display]);
    let elapsed = started.elapsed();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(stderr.contains(&format!("{display}:1:1")), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the file is {} bytes; blueprints are limited to {} bytes",
            source.len(),
            blueprint::load::MAX_INPUT_BYTES
        )),
        "{stderr}"
    );
    assert!(stderr.contains("= hint: "), "{stderr}");
    assert!(
        elapsed < Duration::from_secs(5),
        "refusing a huge file took {elapsed:?}"
    );
    let render = blueprint(&["render", display, "--out", dir.path().to_str().unwrap()]);
    assert_eq!(render.status.code(), Some(2));
    assert_eq!(
        listing(dir.path()).len(),
        2,
        "render wrote next to the huge file"
    );
}

/// The limit is exact: a valid blueprint padded to the limit still validates, one more byte
/// is refused.
#[test]
fn size_limit_is_exact() {
    const LIMIT: usize = blueprint::load::MAX_INPUT_BYTES;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("padded.yaml");
    let mut source = String::from(BLUEPRINT);
    while source.len() + 80 < LIMIT {
        source.push_str(&format!("# {}\n", "-".repeat(77)));
    }
    source.push_str(&format!("#{}\n", "-".repeat(LIMIT - source.len() - 2)));
    assert_eq!(source.len(), LIMIT);
    std::fs::write(&path, &source).unwrap();
    let output = blueprint(&["validate", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    source.push('\n');
    std::fs::write(&path, &source).unwrap();
    let output = blueprint(&["validate", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("blueprints are limited to"));
}

/// Small random edits of the shipped blueprints (deterministic, so a failure reproduces):
/// validation never panics, and every problem it reports is located on a real line, with the
/// line shown and a caret under it.
#[test]
fn mutated_blueprints_are_always_located() {
    const EDITS: &[&str] = &[
        ":", "-", "[", "]", "{", "}", "\"", "'", "&", "*", "!", "|", ">", "#", "%", "@", "`", "\t",
        " ", ",", "?", "\n", "\0", "é", "~", "0", "A",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |below: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % below as u64) as usize
    };
    let mut checked = 0;
    for (_, path) in examples() {
        let original = std::fs::read_to_string(&path).unwrap();
        for round in 0..100 {
            let mut chars: Vec<char> = original.chars().collect();
            for _ in 0..=next(3) {
                let at = next(chars.len());
                let edit = EDITS[next(EDITS.len())].chars().next().unwrap();
                match next(3) {
                    0 => chars[at] = edit,
                    1 => {
                        chars.remove(at);
                    }
                    _ => chars.insert(at, edit),
                }
            }
            let source: String = chars.into_iter().collect();
            let lines = source.split('\n').count();
            let result = std::panic::catch_unwind(|| {
                blueprint::validate::validate_source("mutated.yaml", &source)
            });
            let context = || format!("{} round {round}:\n{source}", path.display());
            let Ok(result) = result else {
                panic!("validation panicked on {}", context());
            };
            let Err(diagnostics) = result else {
                continue;
            };
            checked += 1;
            assert!(!diagnostics.is_empty(), "{}", context());
            for d in &diagnostics {
                let text = d.render(false);
                assert!(
                    d.span.line >= 1 && d.span.line <= lines && d.span.column >= 1,
                    "{text}\n{}",
                    context()
                );
                assert!(d.line_text.is_some(), "{text}\n{}", context());
                assert!(text.lines().any(is_caret_line), "{text}\n{}", context());
                assert!(!d.message.is_empty(), "{}", context());
            }
        }
    }
    assert!(checked > 100, "only {checked} mutations were invalid");
}
