use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::generate::observability::test_support::{example_models, model_from, reference_yaml};

/// Every file of a whole render, by path.
fn render_all(model: &Model) -> BTreeMap<String, String> {
    crate::generate::all(model)
        .into_iter()
        .map(|f| (f.path, f.contents))
        .collect()
}

/// GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (outside code blocks).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// The targets of inline links `[text](target)` outside code.
fn links(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

/// Joins a relative link onto the directory of `from`, resolving `..`.
fn resolve(from: &str, target: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for piece in target.split('/') {
        match piece {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[test]
fn every_runbook_url_of_every_example_resolves_inside_the_render() {
    for (name, model) in example_models() {
        let files = render_all(&model);
        let mut urls = BTreeSet::new();
        for (path, text) in &files {
            if !(path.ends_with(".yml") || path.ends_with(".yaml")) {
                continue;
            }
            for line in text.lines() {
                if let Some(url) = line.trim().strip_prefix("runbook_url: ") {
                    urls.insert(url.trim_matches(|c| c == '\'' || c == '"').to_string());
                }
            }
        }
        if model.monitoring.enabled {
            assert!(!urls.is_empty(), "{name}: alerts carry runbook URLs");
        }
        for url in urls {
            let path = model
                .runbook_path(&url)
                .unwrap_or_else(|| panic!("{name}: {url} is not under the repository's runbooks"));
            assert!(
                files.contains_key(&path),
                "{name}: {url} -> {path} is not rendered"
            );
            assert!(
                files[&path].starts_with(&format!(
                    "# {}\n",
                    path.trim_start_matches("docs/runbooks/")
                        .trim_end_matches(".md")
                )),
                "{name}: {path} is the runbook of its alert"
            );
        }
    }
}

#[test]
fn every_relative_link_in_the_rendered_docs_resolves() {
    let mut checked = 0;
    for (name, model) in example_models() {
        let files = render_all(&model);
        for (path, text) in files.iter().filter(|(p, _)| p.ends_with(".md")) {
            for target in links(text) {
                if target.starts_with("https://") || target.starts_with("http://") {
                    continue;
                }
                let (file, fragment) = target.split_once('#').unwrap_or((&target, ""));
                let resolved = if file.is_empty() {
                    path.clone()
                } else {
                    resolve(path, file)
                };
                let Some(contents) = files.get(&resolved) else {
                    panic!("{name}: {path} links to {target}, and {resolved} is not rendered");
                };
                if !fragment.is_empty() {
                    assert!(
                        anchors(contents).contains(fragment),
                        "{name}: {path} links to {target}: no heading #{fragment} in {resolved}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} links were checked");
}

#[test]
fn the_link_checker_can_fail() {
    assert_eq!(
        resolve("docs/runbooks/A.md", "../operations.md"),
        "docs/operations.md"
    );
    assert_eq!(links("see [x](a.md#b) and [y](c)"), vec!["a.md#b", "c"]);
    assert!(links("```\n[x](a.md)\n```\n").is_empty());
    assert!(
        anchors("## Roll back to a previous image\n").contains("roll-back-to-a-previous-image")
    );
}

#[test]
fn one_runbook_per_alert_with_its_expression_commands_and_silence() {
    let model = model_from(&reference_yaml());
    let files = render_all(&model);
    let runbooks: Vec<&String> = files
        .keys()
        .filter(|p| p.starts_with("docs/runbooks/"))
        .collect();
    for alert in [
        "ServiceDown",
        "HealthProbeFailing",
        "HighErrorRatio",
        "HighLatencyP95",
        "JobFailed",
        "JobStale",
        "PostgresDown",
        "ErrorBudgetFastBurn",
        "ErrorBudgetSlowBurn",
        "DataDivergence",
    ] {
        let path = format!("docs/runbooks/{alert}.md");
        assert!(runbooks.contains(&&path), "{path} in {runbooks:?}");
    }
    let down = &files["docs/runbooks/ServiceDown.md"];
    assert!(down.contains("up{job=\"api\"} == 0"), "{down}");
    assert!(down.contains("docker compose --env-file .env.prod -f compose.prod.yaml ps api"));
    assert!(
        down.contains(
            "docker compose --env-file .env.prod -f compose.prod.yaml logs --tail=200 api"
        )
    );
    assert!(down.contains("amtool --alertmanager.url=http://localhost:9093 silence add alertname=ServiceDown service=SUBJECT"));
    assert!(
        down.contains("(`SUBJECT` is the one that fired: `api`, `alertmanager`"),
        "{down}"
    );
    assert!(down.contains("UID `data-platform-service-api`"), "{down}");
    assert!(down.contains("<https://data.acme.example/prometheus/graph>"));
    let ratio = &files["docs/runbooks/HighErrorRatio.md"];
    assert!(ratio.contains("More than 2% of the requests"), "{ratio}");
    assert!(ratio.contains("silence add alertname=HighErrorRatio service=api --duration=2h"));
    assert!(ratio.contains("service:http_requests_errors:ratio_rate5m{service=\"api\"} > 0.02"));
    let custom = &files["docs/runbooks/DataDivergence.md"];
    assert!(
        custom.contains("The reconcile job found rows in the lake that differ from PostgreSQL.")
    );
    assert!(custom.contains("max by (dataset) (data_platform_divergence_rows) > 0"));
    let job = &files["docs/runbooks/JobFailed.md"];
    assert!(job.contains("logs --tail=200 api-scheduler"), "{job}");
    assert!(job.contains("UID `data-platform-jobs`"));
}

#[test]
fn kubernetes_environments_get_kubectl_commands() {
    let model = example_models()
        .into_iter()
        .find(|(n, _)| n.contains("data-cluster"))
        .expect("the Kubernetes example")
        .1;
    let files = render_all(&model);
    let down = &files["docs/runbooks/ServiceDown.md"];
    assert!(
        down.contains("kubectl -n data logs deploy/api --tail=200"),
        "{down}"
    );
    assert!(down.contains("kubectl -n data-cluster-staging logs deploy/api --tail=200"));
    assert!(down.contains("port-forward svc/alertmanager-operated 9093"));
    let ops = &files[OPERATIONS];
    assert!(
        ops.contains("kubectl -n data rollout undo deployment/api"),
        "{ops}"
    );
    assert!(ops.contains("kubectl -n data describe certificate data-cluster-prod-tls"));
}

#[test]
fn runbooks_kept_elsewhere_are_not_rendered_and_validate_says_so() {
    let yaml = reference_yaml().replace(
        "runbook_base_url: https://github.com/acme/data-platform/blob/main/docs/runbooks",
        "runbook_base_url: https://wiki.acme.example/runbooks",
    );
    let model = model_from(&yaml);
    assert!(!model.monitoring.runbooks_in_repository);
    let files = render_all(&model);
    assert!(!files.keys().any(|p| p.starts_with("docs/runbooks/")));
    assert!(files[OPERATIONS].contains("<https://wiki.acme.example/runbooks>"));
    let cautions = model.cautions();
    assert!(
        cautions
            .iter()
            .any(|(path, message)| path == "monitoring.runbook_base_url"
                && message.contains("renders none")),
        "{cautions:?}"
    );
    // Another branch than the main one is elsewhere too.
    let other_branch =
        reference_yaml().replace("/blob/main/docs/runbooks", "/blob/develop/docs/runbooks");
    assert!(!model_from(&other_branch).monitoring.runbooks_in_repository);
    // The default follows ci.main_branch.
    let default = reference_yaml()
        .replace(
            "  runbook_base_url: https://github.com/acme/data-platform/blob/main/docs/runbooks\n",
            "",
        )
        .replace("main_branch: main", "main_branch: trunk");
    let model = model_from(&default);
    assert_eq!(
        model.monitoring.runbook_base_url,
        "https://github.com/acme/data-platform/blob/trunk/docs/runbooks"
    );
    assert!(model.monitoring.runbooks_in_repository);
    assert!(model.cautions().is_empty());
}

#[test]
fn diagrams_show_every_service_store_and_job_with_safe_ids_and_quoted_labels() {
    for (name, model) in example_models() {
        let text = architecture::render(&model);
        for diagram in architecture::diagrams(&model) {
            let env = diagram.environment.as_str();
            let ids: Vec<&str> = diagram.nodes.iter().map(|n| n.id.as_str()).collect();
            for service in model.services.iter().filter(|s| s.deploy.contains_key(env)) {
                assert!(
                    diagram
                        .nodes
                        .iter()
                        .any(|n| n.lines.first() == Some(&service.name)),
                    "{name} {env}: {} is drawn",
                    service.name
                );
            }
            for job in model.jobs_whose_service(|s| s.in_container(env)) {
                assert!(
                    ids.contains(&node_id("job", &job.name).as_str()),
                    "{name} {env}: {}",
                    job.name
                );
            }
            for id in &ids {
                assert!(
                    id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{id}"
                );
            }
            for edge in &diagram.edges {
                assert!(
                    ids.contains(&edge.from.as_str()) && ids.contains(&edge.to.as_str()),
                    "{edge:?}"
                );
                assert!(
                    !edge.label.contains('"') && !edge.label.contains('|'),
                    "{edge:?}"
                );
                assert!(text.contains(&format!(
                    "{} {}|\"{}\"| {}",
                    edge.from, edge.arrow, edge.label, edge.to
                )));
            }
        }
        assert_eq!(
            text.matches("```mermaid").count(),
            model.environments.len(),
            "{name}"
        );
    }
}

#[test]
fn node_ids_and_labels_are_safe() {
    assert_eq!(node_id("svc", "ingest-prices"), "svc_ingest_prices");
    assert_eq!(node_id("svc", "a b\"c"), "svc_a_x20_b_x22_c");
    assert_ne!(node_id("svc", "a-b"), node_id("svc", "a_b"));
    assert_eq!(
        label("a \"b\" <c> #d | e\nf"),
        "a #quot;b#quot; #lt;c#gt; #35;d #124; e f"
    );
    assert_eq!(
        inline("a *b* [c](d)\n# e `f` <g> | h"),
        "a \\*b\\* \\[c\\](d) # e \\`f\\` \\<g\\> \\| h"
    );
}

#[test]
fn operations_cover_every_task_for_every_environment() {
    let model = model_from(&reference_yaml());
    let ops = operations::render(&model);
    for heading in [
        "## Deploy",
        "## Roll back to a previous image",
        "## Restore a backup",
        "## Rotate a secret",
        "## Add an environment",
        "## Renew certificates",
        "## Scale a service",
        "## Run a job by hand",
    ] {
        assert!(ops.contains(&format!("\n{heading}\n")), "{heading}");
    }
    assert!(
        ops.contains(
            "TAG=sha-PREVIOUS docker compose --env-file .env.prod -f compose.prod.yaml up"
        )
    );
    assert!(ops.contains("blueprint env add NAME --from staging BLUEPRINT"));
    // The backup job, by hand, and the restore script, per Compose environment.
    assert!(ops.contains("docker compose --env-file .env.prod -f compose.prod.yaml exec db-backup /bin/sh /etc/blueprint/run-job.sh db-backup 3600 -- /bin/sh /etc/blueprint/backup.sh"));
    assert!(ops.contains("docker compose --env-file .env.dev -f compose.dev.yaml run --rm --no-deps db-backup /bin/sh /etc/blueprint/restore.sh --apply"));
    assert!(ops.contains("`lake`: `acme-data-lake/backups/db/`"));
    assert!(!ops.contains("does not render a backup job yet"));
    assert!(ops.contains("`DJANGO_SECRET_KEY`"));
    assert!(ops.contains("exec api-scheduler /bin/sh /etc/blueprint/run-job.sh ingest-prices 900 -- python manage.py ingest_prices"));
    assert!(
        ops.contains("docker compose --env-file .env.dev -f compose.dev.yaml exec -T db pg_dump")
    );
}

#[test]
fn output_is_deterministic_markdown_with_one_trailing_newline() {
    for (name, model) in example_models() {
        let first = generate(&model);
        assert_eq!(first, generate(&model), "{name}");
        for file in &first {
            assert!(file.path.ends_with(".md"), "{}", file.path);
            assert_eq!(file.comment, crate::generate::CommentStyle::Html);
            assert!(file.contents.starts_with("# "), "{name}: {}", file.path);
            assert!(
                file.contents.ends_with('\n') && !file.contents.ends_with("\n\n"),
                "{name}: {}",
                file.path
            );
            assert!(
                !file.contents.contains("\n\n\n"),
                "{name}: {} has two blank lines",
                file.path
            );
        }
    }
}

#[test]
fn backup_runbooks_say_how_to_run_list_and_restore() {
    let model = model_from(&reference_yaml());
    let files: BTreeMap<String, String> = runbooks::files(&model)
        .into_iter()
        .map(|f| (f.path, f.contents))
        .collect();
    for alert in ["BackupFailed", "BackupStale", "BackupTooSmall"] {
        let text = &files[&format!("docs/runbooks/{alert}.md")];
        assert!(text.contains("| `db-backup` | backup |"), "{alert}: {text}");
        assert!(text.contains("docker compose --env-file .env.staging -f compose.staging.yaml exec db-backup /bin/sh /etc/blueprint/run-job.sh db-backup 3600 -- /bin/sh /etc/blueprint/backup.sh"), "{alert}");
        assert!(
            text.contains(
                "compose.dev.yaml run --rm --no-deps db-backup /bin/sh /etc/blueprint/restore.sh"
            ),
            "{alert}"
        );
        assert!(text.contains("logs --tail=200 db-backup"), "{alert}");
        assert!(
            text.contains("blueprint_backup_size_bytes{job=\"db-backup\"}"),
            "{alert}"
        );
        // What Supabase's own backups cover, where the database is on Supabase (staging, prod).
        assert_eq!(
            text.matches("Here the database is on Supabase").count(),
            2,
            "{alert}"
        );
        assert!(
            !text.contains("The alert's own summary and description are in the table above."),
            "{alert}"
        );
    }
}

#[test]
fn restore_test_runbooks_say_how_to_run_the_test_and_what_it_checks() {
    let model = model_from(&reference_yaml());
    let files: BTreeMap<String, String> = runbooks::files(&model)
        .into_iter()
        .map(|f| (f.path, f.contents))
        .collect();
    for alert in ["BackupRestoreTestFailed", "BackupRestoreTestStale"] {
        let text = &files[&format!("docs/runbooks/{alert}.md")];
        assert!(
            text.contains("| `db-restore-test` | restore test |"),
            "{alert}: {text}"
        );
        // Run the test in the backup container, as its crontab line does; never a restore.
        assert!(text.contains("docker compose --env-file .env.staging -f compose.staging.yaml exec db-backup /bin/sh /etc/blueprint/run-job.sh db-restore-test 3600 -- /bin/sh /etc/blueprint/restore.sh --test"), "{alert}: {text}");
        assert!(
            !text.contains("/etc/blueprint/backup.sh"),
            "{alert}: {text}"
        );
        assert!(!text.contains("restore.sh --apply"), "{alert}: {text}");
        assert!(text.contains("logs --tail=200 db-backup"), "{alert}");
        assert!(
            text.contains("blueprint_restore_test_tables{job=\"db-restore-test\"}"),
            "{alert}"
        );
        assert!(text.contains("scratch"), "{alert}: {text}");
        assert!(
            !text.contains("The alert's own summary and description are in the table above."),
            "{alert}"
        );
    }
}

#[test]
fn a_migration_command_stays_one_code_span_whatever_it_holds() {
    let model = model_from(
        r#"
project: { name: odd, repository: acme/odd }
services:
  api:
    runtime: fastapi
    path: api
    migrate: [python, -c, "import app\napp.migrate()", "`x`"]
"#,
    );
    let text = operations::render(&model);
    let line = text
        .lines()
        .find(|l| l.starts_with("- `api-migrate` runs "))
        .expect("the migration is listed");
    assert_eq!(
        line,
        r#"- `api-migrate` runs ``["python", "-c", "import app\napp.migrate()", "`x`"]`` with api's image and environment."#,
        "one line, and one code span"
    );
    assert_eq!(code_span("a`b"), "``a`b``");
    assert_eq!(code_span("`"), "`` ` ``");
}

#[test]
fn the_secrets_table_says_where_each_environment_reads_a_secret() {
    // data-cluster: dev on Compose, staging and prod in a cluster. DB_PASSWORD is read from
    // dev's env file and from staging's Kubernetes Secret: one home for both was wrong.
    let (_, model) = example_models()
        .into_iter()
        .find(|(name, _)| name == "data-cluster")
        .expect("the data-cluster example");
    let text = render_all(&model)["docs/operations.md"].clone();
    let row = text
        .lines()
        .find(|l| l.starts_with("| `DB_PASSWORD` |"))
        .expect("a DB_PASSWORD row");
    assert!(
        row.contains("`.env.<env>` on the host (dev); Secret `db-password` (staging)"),
        "{row}"
    );
    // Where the source differs by environment, environments sharing one are listed together.
    let row = text
        .lines()
        .find(|l| l.starts_with("| `LAKE_ACCESS_KEY_ID` |"))
        .expect("a LAKE_ACCESS_KEY_ID row");
    assert!(row.contains("; prod, staging: a new access key"), "{row}");
}
