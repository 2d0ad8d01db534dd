//! The rendered files are checked by the tools their ecosystems trust, not only by our own
//! tests: every file under `generated/*/` goes through the validators that `scripts/validators.sh`
//! runs (installed, pinned, by `scripts/install-validators.sh`), and every Kubernetes overlay
//! (`kubernetes/overlays/<env>/`) is built by kustomize and its objects validated.
//!
//! So that this cannot pass vacuously, every validator is also run on a known-good fixture
//! (`tests/validators/good/<tool>/`), which it must accept, and on deliberately broken ones
//! (`tests/validators/broken/<tool>/`), which it must reject for the expected reason.
//!
//! With `CI` set, a validator that is not installed fails its test; otherwise it is skipped with
//! a note on stderr. `BLUEPRINT_GENERATED_DIR` points the generated-tree test at another
//! directory of renders.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;
use common::{examples, repo};

/// Every tool `scripts/validators.sh` knows, each with a fixture test below.
const TOOLS: &[&str] = &[
    "hadolint",
    "compose",
    "nginx",
    "caddy",
    "promtool-config",
    "promtool-rules",
    "promtool-test",
    "amtool",
    "blackbox",
    "actionlint",
    "zizmor",
    "workflow-schema",
    "dependabot-schema",
    "grafana-dashboard",
    "vercel",
    "yamllint",
    "shellcheck",
    "kustomize",
    "kubernetes",
    "markdownlint",
    "mermaid",
    "s3-request",
];

/// The validators that take a Kustomize overlay directory rather than a file.
const OVERLAY_TOOLS: &[&str] = &["kustomize", "kubernetes"];

/// The exit status with which `scripts/validators.sh` says a tool is not installed.
const NOT_INSTALLED: i32 = 77;

fn fixtures() -> PathBuf {
    repo().join("tests/validators")
}

/// Whether this is CI, where a missing validator is an error rather than a skip.
fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// What one validator said about one file.
#[derive(Debug)]
enum Outcome {
    Accepted(String),
    Rejected(String),
    NotInstalled(String),
}

/// Runs `scripts/validators.sh TOOL FILE` (FILE is a directory for the overlay tools).
fn validate(tool: &str, file: &Path) -> Outcome {
    let out = Command::new("bash")
        .arg(repo().join("scripts/validators.sh"))
        .arg(tool)
        .arg(file)
        .current_dir(repo())
        .output()
        .expect("bash runs scripts/validators.sh");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    match out.status.code() {
        Some(0) => Outcome::Accepted(text),
        Some(NOT_INSTALLED) => Outcome::NotInstalled(text),
        _ => Outcome::Rejected(text),
    }
}

/// Under CI, fails the calling test because `tool` is not installed; otherwise notes the skip.
fn not_installed(tool: &str, message: &str) {
    assert!(
        !ci(),
        "{tool} is not installed and CI is set: run scripts/install-validators.sh\n{message}"
    );
    eprintln!(
        "SKIPPED: validator {tool} is not installed (scripts/install-validators.sh)\n{message}"
    );
}

/// The fixture test of one validator: each `good` file (relative to tests/validators/good/<tool>)
/// must be accepted, each `broken` one (relative to tests/validators/broken/<tool>) rejected,
/// with every expected fragment in the validator's output. For the overlay tools the "files"
/// are overlay directories.
fn fixture_pair(tool: &str, good: &[&str], broken: &[(&str, &[&str])]) {
    assert!(TOOLS.contains(&tool), "{tool} is listed in TOOLS");
    let mut problems = Vec::new();
    for rel in good {
        let file = fixtures().join("good").join(tool).join(rel);
        assert!(file.exists(), "fixture {} exists", file.display());
        match validate(tool, &file) {
            Outcome::Accepted(_) => {}
            Outcome::NotInstalled(message) => {
                not_installed(tool, &message);
                return;
            }
            Outcome::Rejected(output) => problems.push(format!(
                "{tool} rejected the known-good fixture {}:\n{output}",
                file.display()
            )),
        }
    }
    for (rel, expected) in broken {
        let file = fixtures().join("broken").join(tool).join(rel);
        assert!(file.exists(), "fixture {} exists", file.display());
        match validate(tool, &file) {
            Outcome::Accepted(output) => problems.push(format!(
                "{tool} accepted the broken fixture {}:\n{output}",
                file.display()
            )),
            Outcome::NotInstalled(message) => {
                not_installed(tool, &message);
                return;
            }
            Outcome::Rejected(output) => {
                for fragment in *expected {
                    if !output.contains(fragment) {
                        problems.push(format!(
                            "{tool} rejected {} but not for the expected reason \
                             (no {fragment:?} in its output):\n{output}",
                            file.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_validator_has_fixtures() {
    let out = Command::new("bash")
        .arg(repo().join("scripts/validators.sh"))
        .arg("--list")
        .output()
        .expect("bash runs scripts/validators.sh");
    assert!(out.status.success(), "validators.sh --list succeeds");
    let listed: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let ours: BTreeSet<String> = TOOLS.iter().map(|t| (*t).to_owned()).collect();
    assert_eq!(listed, ours, "validators.sh --list and TOOLS agree");
    for tool in TOOLS {
        for kind in ["good", "broken"] {
            let dir = fixtures().join(kind).join(tool);
            assert!(dir.is_dir(), "{} exists", dir.display());
        }
    }
}

#[test]
fn hadolint_fixtures() {
    fixture_pair(
        "hadolint",
        &["Dockerfile"],
        &[("Dockerfile", &["DL3007", "DL3002"])],
    );
}

#[test]
fn compose_fixtures() {
    fixture_pair(
        "compose",
        &["compose.dev.yaml"],
        &[(
            "compose.dev.yaml",
            &["additional properties 'restart_policy' not allowed"],
        )],
    );
}

#[test]
fn nginx_fixtures() {
    fixture_pair(
        "nginx",
        &["nginx.conf"],
        &[("nginx.conf", &["[emerg]", "\"proxy_pass\" directive"])],
    );
}

#[test]
fn caddy_fixtures() {
    fixture_pair(
        "caddy",
        &["Caddyfile"],
        &[
            (
                "directive/Caddyfile",
                &["unrecognized directive: reverse_proxi"],
            ),
            ("unformatted/Caddyfile", &["caddy fmt would reformat"]),
        ],
    );
}

#[test]
fn promtool_config_fixtures() {
    fixture_pair(
        "promtool-config",
        &["prometheus.yml"],
        &[("prometheus.yml", &["not a valid duration string: \"15\""])],
    );
}

#[test]
fn promtool_rules_fixtures() {
    fixture_pair(
        "promtool-rules",
        &["api.yml"],
        &[("api.yml", &["parse error: unclosed left parenthesis"])],
    );
}

#[test]
fn promtool_test_fixtures() {
    fixture_pair(
        "promtool-test",
        &["tests/api_test.yml"],
        &[("tests/api_test.yml", &["FAILED", "alertname: ApiDown"])],
    );
}

#[test]
fn amtool_fixtures() {
    fixture_pair(
        "amtool",
        &["alertmanager.yml"],
        &[("alertmanager.yml", &["undefined receiver \"oncall\""])],
    );
}

#[test]
fn blackbox_fixtures() {
    fixture_pair(
        "blackbox",
        &["blackbox.yml"],
        &[
            (
                "field/blackbox.yml",
                &["field preferred_ip_protocl not found"],
            ),
            ("prober/blackbox.yml", &["unknown prober 'tcpp'"]),
        ],
    );
}

#[test]
fn actionlint_fixtures() {
    fixture_pair(
        "actionlint",
        &[".github/workflows/ci.yml"],
        &[(
            ".github/workflows/ci.yml",
            &["undefined variable \"gihub\""],
        )],
    );
}

#[test]
fn zizmor_fixtures() {
    fixture_pair(
        "zizmor",
        &[".github/workflows/ci.yml"],
        &[(".github/workflows/ci.yml", &["template-injection"])],
    );
}

#[test]
fn workflow_schema_fixtures() {
    fixture_pair(
        "workflow-schema",
        &[".github/workflows/ci.yml"],
        &[(
            ".github/workflows/ci.yml",
            &["'twenty' is not of type 'number'"],
        )],
    );
}

#[test]
fn dependabot_schema_fixtures() {
    fixture_pair(
        "dependabot-schema",
        &[".github/dependabot.yml"],
        &[(".github/dependabot.yml", &["'fortnightly' is not one of"])],
    );
}

#[test]
fn grafana_dashboard_fixtures() {
    fixture_pair(
        "grafana-dashboard",
        &["api.json"],
        &[(
            "api.json",
            &[
                "api.json:55:",
                "Type 'string' is not assignable to type 'number'",
            ],
        )],
    );
}

#[test]
fn s3_request_fixtures() {
    fixture_pair(
        "s3-request",
        &["versioning.json", "lifecycle.json"],
        &[
            (
                "status/versioning.json",
                &["Invalid value for VersioningConfiguration.Status: 'On'"],
            ),
            (
                "unknown/lifecycle.json",
                &[
                    "Unknown parameter in LifecycleConfiguration.Rules[0].NoncurrentVersionExpiration: \"NoncurrentDay\"",
                ],
            ),
        ],
    );
}

#[test]
fn vercel_fixtures() {
    fixture_pair(
        "vercel",
        &["vercel.json"],
        &[
            (
                "typo/vercel.json",
                &["'\"cleanUrl\"' does not exist in type"],
            ),
            (
                "status/vercel.json",
                &["30 is less than the minimum of 100"],
            ),
            ("routes/vercel.json", &["should not be valid under"]),
        ],
    );
}

#[test]
fn yamllint_fixtures() {
    fixture_pair(
        "yamllint",
        &["config.yaml"],
        &[("config.yaml", &["(truthy)", "(key-duplicates)"])],
    );
}

#[test]
fn shellcheck_fixtures() {
    fixture_pair(
        "shellcheck",
        &["entrypoint.sh"],
        &[("entrypoint.sh", &["SC2086", "SC2068"])],
    );
}

#[test]
fn kustomize_fixtures() {
    fixture_pair(
        "kustomize",
        &["overlays/prod"],
        &[(
            "missing-resource",
            &["accumulating resources from 'service.yaml'"],
        )],
    );
}

#[test]
fn kubernetes_fixtures() {
    fixture_pair(
        "kubernetes",
        &["overlays/prod"],
        &[
            ("strict", &["('replica' was unexpected)"]),
            (
                "api-version",
                &["Couldn't find schema for kind Deployment with api version apps/v2"],
            ),
            (
                "custom",
                &[
                    "$.spec: 'selector' is a required property",
                    "backendRefs[0]: 'port' is a required property",
                ],
            ),
            ("rules", &["parse error: unclosed left parenthesis"]),
        ],
    );
}

#[test]
fn markdownlint_fixtures() {
    fixture_pair(
        "markdownlint",
        &["runbook.md"],
        &[(
            "runbook.md",
            &[
                "MD022/blanks-around-headings",
                "MD012/no-multiple-blanks",
                "MD040/fenced-code-language",
            ],
        )],
    );
}

#[test]
fn mermaid_fixtures() {
    fixture_pair(
        "mermaid",
        &["architecture.md"],
        &[
            ("syntax.mmd", &["Parse error on line 2"]),
            (
                "label.mmd",
                &["label \"<script>alert(1)</script>DATABASE_URL\" is not in the SVG"],
            ),
        ],
    );
}

/// The label text a diagram's node or edge shows, from its Mermaid-escaped form.
fn shown_label(text: &str) -> String {
    let mut out = text
        .replace("#quot;", "\"")
        .replace("#lt;", "<")
        .replace("#gt;", ">")
        .replace("#amp;", "&");
    for (code, c) in [("#35;", "#"), ("#96;", "`"), ("#124;", "|")] {
        out = out.replace(code, c);
    }
    out
}

/// Each example's architecture diagrams, drawn by the real Mermaid CLI one environment at a
/// time: every service, store, job and tool of the model's diagram, and every edge label, is
/// read back from that environment's SVG.
#[test]
fn architecture_diagrams_show_every_service_and_edge() {
    let mut drawn = 0;
    for (_, path) in examples() {
        let source = fs::read_to_string(&path).expect("readable");
        let blueprint = blueprint::validate::validate_source("example.yaml", &source)
            .unwrap_or_else(|d| panic!("{} is valid: {d:?}", path.display()));
        let model = blueprint::model::Model::from_blueprint(&blueprint);
        let text = blueprint::generate::docs::architecture::render(&model);
        let blocks: Vec<&str> = text
            .split("```mermaid\n")
            .skip(1)
            .map(|b| b.split("```").next().unwrap_or_default())
            .collect();
        let diagrams = blueprint::generate::docs::architecture::diagrams(&model);
        assert_eq!(
            blocks.len(),
            diagrams.len(),
            "{}: one block per environment",
            path.display()
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (block, diagram) in blocks.iter().zip(&diagrams) {
            let mut expected: Vec<String> = diagram
                .nodes
                .iter()
                .flat_map(|n| n.lines.iter().map(|l| shown_label(l)))
                .collect();
            expected.extend(diagram.edges.iter().map(|e| shown_label(&e.label)));
            assert!(
                model
                    .services
                    .iter()
                    .filter(|s| s.deploy.contains_key(&diagram.environment))
                    .all(|s| expected.contains(&s.name)),
                "{}: every service of {} is in its diagram",
                path.display(),
                diagram.environment
            );
            let file = dir.path().join(format!("{}.mmd", diagram.environment));
            fs::write(&file, block).expect("write the diagram");
            let out = Command::new("bash")
                .arg(repo().join("scripts/validators.sh"))
                .arg("mermaid")
                .arg(&file)
                .args(&expected)
                .current_dir(repo())
                .output()
                .expect("bash runs scripts/validators.sh");
            let output = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            match out.status.code() {
                Some(0) => drawn += 1,
                Some(NOT_INSTALLED) => {
                    not_installed("mermaid", &output);
                    return;
                }
                _ => panic!(
                    "{} {}: the SVG lacks something:\n{output}",
                    path.display(),
                    diagram.environment
                ),
            }
        }
    }
    assert!(drawn >= 5, "only {drawn} diagrams were drawn");
}

/// Whether the directory `dir` (a path relative to a render root) is `suffix` or ends with it.
fn dir_is(dir: &str, suffix: &str) -> bool {
    dir == suffix || dir.ends_with(&format!("/{suffix}"))
}

/// The validators for a file, by its path relative to its render root (`/`-separated).
fn validators_for(rel: &str) -> Vec<&'static str> {
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
    let mut tools = Vec::new();
    if name == "Dockerfile" {
        tools.push("hadolint");
    }
    if dir.is_empty() && name.starts_with("compose.") && yaml {
        tools.push("compose");
    }
    if name == "nginx.conf" {
        tools.push("nginx");
    }
    if name == "Caddyfile" {
        tools.push("caddy");
    }
    if dir_is(dir, "monitoring/prometheus")
        && name.starts_with("prometheus")
        && name.ends_with(".yml")
    {
        tools.push("promtool-config");
    }
    if dir_is(dir, "monitoring/prometheus/rules") && name.ends_with(".yml") {
        tools.push("promtool-rules");
    }
    if dir_is(dir, "monitoring/prometheus/tests") && name.ends_with(".yml") {
        tools.push("promtool-test");
    }
    if name == "alertmanager.yml" {
        tools.push("amtool");
    }
    if name == "blackbox.yml" {
        tools.push("blackbox");
    }
    if dir_is(dir, ".github/workflows") && yaml {
        tools.extend(["actionlint", "zizmor", "workflow-schema"]);
    }
    if dir_is(dir, ".github") && (name == "dependabot.yml" || name == "dependabot.yaml") {
        tools.push("dependabot-schema");
    }
    if dir_is(dir, "monitoring/grafana/dashboards") && name.ends_with(".json") {
        tools.push("grafana-dashboard");
    }
    if name == "vercel.json" {
        tools.push("vercel");
    }
    // The request bodies of `aws s3api` a protected bucket is configured with: `s3/<store>/`.
    if dir.rsplit_once('/').map(|(parent, _)| parent) == Some("s3")
        && (name == "versioning.json" || name == "lifecycle.json")
    {
        tools.push("s3-request");
    }
    if yaml {
        tools.push("yamllint");
    }
    if name.ends_with(".sh") {
        tools.push("shellcheck");
    }
    if name.ends_with(".md") && (dir_is(dir, "docs") || dir_is(dir, "docs/runbooks")) {
        tools.push("markdownlint");
        if dir_is(dir, "docs") && name == "architecture.md" {
            tools.push("mermaid");
        }
    }
    tools
}

#[test]
fn files_map_to_their_validators() {
    let cases: &[(&str, &[&str])] = &[
        ("compose.dev.yaml", &["compose", "yamllint"]),
        ("s3/lake/lifecycle.json", &["s3-request"]),
        ("s3/lake/versioning.json", &["s3-request"]),
        ("s3/lake/other.json", &[]),
        ("deploy/compose.dev.yaml", &["yamllint"]),
        (".env.dev.example", &[]),
        ("docker/api/Dockerfile", &["hadolint"]),
        ("docker/api/entrypoint.sh", &["shellcheck"]),
        ("proxy/prod/nginx.conf", &["nginx"]),
        ("proxy/prod/Caddyfile", &["caddy"]),
        (
            "monitoring/prometheus/prometheus.yml",
            &["promtool-config", "yamllint"],
        ),
        (
            "monitoring/prometheus/prometheus.prod.yml",
            &["promtool-config", "yamllint"],
        ),
        (
            "monitoring/prometheus/rules/api.yml",
            &["promtool-rules", "yamllint"],
        ),
        (
            "monitoring/prometheus/tests/api.yml",
            &["promtool-test", "yamllint"],
        ),
        (
            "monitoring/alertmanager/alertmanager.yml",
            &["amtool", "yamllint"],
        ),
        (
            "monitoring/blackbox/blackbox.yml",
            &["blackbox", "yamllint"],
        ),
        (
            "monitoring/grafana/dashboards/api.json",
            &["grafana-dashboard"],
        ),
        (
            "monitoring/grafana/provisioning/dashboards/dashboards.yml",
            &["yamllint"],
        ),
        (
            ".github/workflows/ci.yml",
            &["actionlint", "zizmor", "workflow-schema", "yamllint"],
        ),
        (".github/dependabot.yml", &["dependabot-schema", "yamllint"]),
        ("web/vercel.json", &["vercel"]),
        // Overlays are validated as directories (OVERLAY_TOOLS); their files only by yamllint.
        ("kubernetes/overlays/prod/kustomization.yaml", &["yamllint"]),
        (".blueprint/manifest.json", &[]),
        ("docs/operations.md", &["markdownlint"]),
        ("docs/architecture.md", &["markdownlint", "mermaid"]),
        ("docs/runbooks/ServiceDown.md", &["markdownlint"]),
        ("README.md", &[]),
    ];
    for (rel, expected) in cases {
        assert_eq!(validators_for(rel), *expected, "validators for {rel}");
    }
}

/// The subdirectories of `dir`, sorted; none when `dir` does not exist.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.expect("read a directory of renders").path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The Kustomize overlays of a render: the directories `kubernetes/overlays/*` (one without a
/// kustomization is kept, for kustomize to reject).
fn overlays(render: &Path) -> Vec<PathBuf> {
    subdirs(&render.join("kubernetes/overlays"))
}

#[test]
fn overlays_are_found() {
    let render = repo().join("generated/data-cluster");
    let overlays_dir = render.join("kubernetes/overlays");
    assert_eq!(
        overlays(&render),
        vec![overlays_dir.join("prod"), overlays_dir.join("staging")]
    );
    assert!(overlays(&repo().join("generated/no-such-render")).is_empty());
}

/// One validator run on one rendered file.
struct Job {
    tool: &'static str,
    file: PathBuf,
    shown: String,
}

#[test]
fn generated_renders_pass_their_validators() {
    // BLUEPRINT_GENERATED_DIR points the test at other renders (e.g. a scratch render).
    let generated = std::env::var_os("BLUEPRINT_GENERATED_DIR")
        .map_or_else(|| repo().join("generated"), PathBuf::from);
    let renders = subdirs(&generated);
    if renders.is_empty() {
        let message = format!(
            "NO RENDERS: {} has no render directories, so no generated file was validated",
            generated.display()
        );
        assert!(!ci(), "{message} (CI is set)");
        eprintln!("{message}");
        return;
    }

    let mut jobs = Vec::new();
    for render in &renders {
        for entry in walkdir::WalkDir::new(render).sort_by_file_name() {
            let entry = entry.expect("walk generated/");
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(render)
                .expect("below the render")
                .to_string_lossy()
                .replace('\\', "/");
            let shown = entry
                .path()
                .strip_prefix(repo())
                .unwrap_or(entry.path())
                .display()
                .to_string();
            for tool in validators_for(&rel) {
                jobs.push(Job {
                    tool,
                    file: entry.path().to_path_buf(),
                    shown: shown.clone(),
                });
            }
        }
        // Every Kubernetes overlay is built and its objects validated, as a whole.
        for overlay in overlays(render) {
            let shown = overlay
                .strip_prefix(repo())
                .unwrap_or(&overlay)
                .display()
                .to_string();
            for tool in OVERLAY_TOOLS {
                jobs.push(Job {
                    tool,
                    file: overlay.clone(),
                    shown: shown.clone(),
                });
            }
        }
    }
    if jobs.is_empty() {
        let names: Vec<String> = renders
            .iter()
            .map(|r| {
                r.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        let message = format!(
            "NOTHING TO VALIDATE: the renders under generated/ ({}) hold no file that any \
             validator checks",
            names.join(", ")
        );
        assert!(!ci(), "{message} (CI is set)");
        eprintln!("{message}");
        return;
    }

    // The validators are separate processes: run a few at a time.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    let outcome = validate(job.tool, &job.file);
                    results.lock().expect("results lock").push((i, outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results lock");
    results.sort_by_key(|(i, _)| *i);

    let mut failures = Vec::new();
    let mut missing = BTreeSet::new();
    let mut passed = 0;
    for (i, outcome) in results {
        let job = &jobs[i];
        match outcome {
            Outcome::Accepted(_) => passed += 1,
            Outcome::NotInstalled(_) => {
                missing.insert(job.tool);
            }
            Outcome::Rejected(output) => failures.push(format!(
                "---- {} rejected {} ----\n{}",
                job.tool,
                job.shown,
                output.trim_end()
            )),
        }
    }
    let files: BTreeSet<&Path> = jobs.iter().map(|j| j.file.as_path()).collect();
    eprintln!(
        "validated {} generated files in {} renders: {} checks passed, {} failed, {} skipped",
        files.len(),
        renders.len(),
        passed,
        failures.len(),
        jobs.len() - passed - failures.len(),
    );
    if !missing.is_empty() {
        let tools: Vec<&str> = missing.into_iter().collect();
        let message = format!(
            "validators not installed: {} (run scripts/install-validators.sh)",
            tools.join(", ")
        );
        if ci() {
            failures.push(format!("{message}; CI is set, so this fails"));
        } else {
            eprintln!("SKIPPED: {message}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in generated files:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
