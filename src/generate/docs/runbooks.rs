//! One runbook per alert, at the path its `runbook_url` points to.
//!
//! The alerts are read from the rule catalog ([`rules::catalog`]), the one source of the Compose
//! rule files and the Kubernetes PrometheusRule, so a runbook exists for exactly the alerts that
//! can fire, with their real expressions. An alert that fires for several subjects (ServiceDown
//! for each service) has one runbook listing each of them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Shell, backup_commands, inline, runs_containers};
use crate::blueprint::{InternalTool, Provider, StoreKind};
use crate::generate::containers::compose::external_url;
use crate::generate::containers::jobs::scheduler_name;
use crate::generate::observability::rules::{
    self, AlertingRule, BACKUP_PREVIOUS_SIZE, BACKUP_SIZE, ERROR_RATIO, LAST_EXIT_CODE,
    LAST_SUCCESS, LATENCY_QUANTILES, REQUEST_RATE, RESTORE_TEST_DUMP_AGE, RESTORE_TEST_TABLES,
    Rule, error_ratio_over, severity_name,
};
use crate::generate::observability::{dashboards, exporter_host, tool_path, tool_prefix};
use crate::generate::{GeneratedFile, render_template};
use crate::model::{ALERTMANAGER_PORT, Backup, Environment, Job, Model, PROMETHEUS_PORT};

const TEMPLATE: &str = include_str!("../templates/docs/runbook.md.j2");

/// The alerts of the model that have a runbook here: (alert name, rule file stem, rule), in
/// alert name order; nothing when monitoring is off or the runbooks live elsewhere.
pub fn alerts(model: &Model) -> BTreeMap<String, Vec<(String, AlertingRule)>> {
    let mut out: BTreeMap<String, Vec<(String, AlertingRule)>> = BTreeMap::new();
    if !model.monitoring.enabled {
        return out;
    }
    for file in rules::catalog(model).files {
        for group in &file.groups {
            for rule in &group.rules {
                let Rule::Alert(alert) = rule else { continue };
                let url = alert.annotations.get("runbook_url").map(String::as_str);
                if url.and_then(|u| model.runbook_path(u)).is_none() {
                    continue;
                }
                out.entry(alert.alert.clone())
                    .or_default()
                    .push((file.name.clone(), alert.clone()));
            }
        }
    }
    out
}

/// Every runbook.
pub fn files(model: &Model) -> Vec<GeneratedFile> {
    let mut files = Vec::new();
    for (alert, rules) in alerts(model) {
        let Some(path) = rules
            .first()
            .and_then(|(_, r)| r.annotations.get("runbook_url"))
            .and_then(|u| model.runbook_path(u))
        else {
            continue;
        };
        files.push(GeneratedFile::markdown(path, render(model, &alert, &rules)));
    }
    files
}

/// What an alert is about.
#[derive(Debug, Clone, Copy)]
enum Subject<'a> {
    Service(&'a crate::model::Service),
    Job(&'a crate::model::Job),
    Store(&'a crate::model::Store),
    /// The backup job of a store.
    Backup(&'a crate::model::Store, &'a crate::model::Backup),
    /// The restore-test job of a store's backup (the backup's, which has one).
    RestoreTest(&'a crate::model::Store, &'a crate::model::Backup),
    /// A part of the monitoring stack (the blackbox exporter, a postgres_exporter...).
    Component(&'a str),
}

fn subject<'a>(model: &'a Model, name: &'a str) -> Subject<'a> {
    if let Some((store, backup)) = model.backups().find(|(_, b)| b.job == name) {
        Subject::Backup(store, backup)
    } else if let Some((store, backup)) = model
        .backups()
        .find(|(_, b)| b.restore_test.as_ref().is_some_and(|t| t.job == name))
    {
        Subject::RestoreTest(store, backup)
    } else if let Some(service) = model.service(name) {
        Subject::Service(service)
    } else if let Some(job) = model.jobs.iter().find(|j| j.name == name) {
        Subject::Job(job)
    } else if let Some(store) = model.store(name) {
        Subject::Store(store)
    } else {
        Subject::Component(name)
    }
}

/// One subject an alert fires for.
#[derive(Debug, Serialize)]
struct Instance {
    /// The `service` label.
    subject: String,
    /// `service`, `job`, `store` or `component`.
    kind: &'static str,
    severity: &'static str,
    /// The `for` duration, `0s` when it fires at once.
    for_: String,
    summary: String,
    description: String,
    expr: String,
    /// Queries to paste while investigating, beyond the alert's own expression.
    queries: Vec<String>,
}

/// A dashboard to open.
#[derive(Debug, Serialize, PartialEq)]
struct Dashboard {
    title: String,
    uid: String,
}

/// The first commands in one environment.
#[derive(Debug, Serialize)]
struct Place {
    shell: Shell,
    /// Look first: status and logs of every subject that runs here.
    commands: Vec<String>,
    /// The command prefix that runs a PromQL query here (a query in single quotes follows).
    query: String,
    /// A command to run first so that `query` and `silence` reach the cluster's tools.
    port_forward: Option<String>,
    /// Where Prometheus' graph page is reached from outside, when the proxy exposes it.
    prometheus_url: Option<String>,
    /// Where Grafana is reached from outside, when the proxy exposes it.
    grafana_url: Option<String>,
    /// The amtool invocation, before `silence add`.
    amtool: String,
    /// The commands to restart each service subject.
    restarts: Vec<String>,
    /// For a backup subject: run one backup now, list the dumps.
    backups: Vec<String>,
    /// The backed-up stores a managed provider (Supabase) runs here.
    managed: Vec<String>,
}

fn render(model: &Model, alert: &str, rules: &[(String, AlertingRule)]) -> String {
    let custom = model
        .monitoring
        .custom_alerts
        .iter()
        .find(|c| c.name == alert && rules.iter().any(|(f, _)| f == "custom"));
    let kind = if custom.is_some() { "custom" } else { alert };
    let mut instances = Vec::new();
    let mut subjects = Vec::new();
    for (_, rule) in rules {
        let name = rule.labels.get("service").map_or("", String::as_str);
        let subject_of = subject(model, name);
        subjects.push(subject_of);
        instances.push(Instance {
            kind: match subject_of {
                Subject::Service(_) => "service",
                Subject::Job(_) => "job",
                Subject::Store(_) => "store",
                Subject::Backup(..) => "backup",
                Subject::RestoreTest(..) => "restore test",
                Subject::Component(_) => "component",
            },
            subject: name.to_string(),
            severity: rule
                .labels
                .get("severity")
                .map_or("warning", |s| match s.as_str() {
                    "critical" => "critical",
                    "info" => "info",
                    _ => "warning",
                }),
            for_: rule.for_.clone().unwrap_or_else(|| "0s".into()),
            summary: inline(rule.annotations.get("summary").map_or("", String::as_str)),
            description: inline(
                rule.annotations
                    .get("description")
                    .map_or("", String::as_str),
            ),
            expr: rule.expr.clone(),
            queries: queries(alert, subject_of),
        });
    }
    let mut dashboards_to_open: Vec<Dashboard> = Vec::new();
    if model.monitoring.grafana.dashboards {
        let all = dashboards::dashboards(model);
        for subject in &subjects {
            let stem = dashboard_stem(alert, *subject, custom.is_some());
            let found = all
                .iter()
                .find(|d| d.file_stem == stem)
                .or_else(|| all.iter().find(|d| d.file_stem == "overview"));
            if let Some(d) = found {
                let dashboard = Dashboard {
                    title: d.dashboard.title.clone(),
                    uid: d.dashboard.uid.clone(),
                };
                if !dashboards_to_open.contains(&dashboard) {
                    dashboards_to_open.push(dashboard);
                }
            }
        }
    }
    let places: Vec<Place> = model
        .environments
        .iter()
        .filter(|e| runs_containers(model, e))
        .filter_map(|e| place(model, e, &subjects))
        .collect();
    let severity = instances
        .iter()
        .map(|i| i.severity)
        .min_by_key(|s| match *s {
            "critical" => 0,
            "warning" => 1,
            _ => 2,
        })
        .unwrap_or("warning");
    render_template(
        "docs/runbook.md",
        TEMPLATE,
        minijinja::context! {
            project => &model.project.name,
            alert => alert,
            kind => kind,
            severity => severity,
            custom_description => custom.map(|c| inline(&c.description)),
            instances => minijinja::Value::from(minijinja::value::Serde(&instances)),
            threshold => minijinja::Value::from(minijinja::value::Serde(threshold_of(model, alert))),
            dashboards => minijinja::Value::from(minijinja::value::Serde(&dashboards_to_open)),
            grafana_dashboards => model.monitoring.grafana.dashboards,
            heartbeat => model.monitoring.heartbeat_url_secret.is_some(),
            places => minijinja::Value::from(minijinja::value::Serde(&places)),
            routes => model
                .monitoring
                .routes
                .iter()
                .map(|(s, names)| (severity_name(*s), names.join(", ")))
                .collect::<BTreeMap<_, _>>(),
        },
    )
}

/// A built-in family's threshold, as a number and as a percentage.
#[derive(Debug, Serialize)]
struct Threshold {
    value: String,
    percent: String,
}

fn threshold_of(model: &Model, alert: &str) -> Option<Threshold> {
    let alerts = &model.monitoring.alerts;
    let family = match alert {
        "HighErrorRatio" => &alerts.error_ratio,
        "HighLatencyP95" => &alerts.latency_p95,
        _ => return None,
    };
    let number = crate::generate::observability::number;
    Some(Threshold {
        value: number(family.threshold),
        percent: format!("{}%", number(family.threshold * 100.0)),
    })
}

/// The dashboard stem (`service-api`, `jobs`, `postgres`, `overview`) that shows a subject.
fn dashboard_stem(alert: &str, subject: Subject<'_>, custom: bool) -> String {
    match subject {
        Subject::Service(s) if s.metrics.is_some() && (custom || alert != "HealthProbeFailing") => {
            format!("service-{}", s.name)
        }
        Subject::Job(_) => "jobs".into(),
        Subject::Store(s) if s.kind == StoreKind::Postgres => "postgres".into(),
        Subject::Backup(..) | Subject::RestoreTest(..) => "jobs".into(),
        _ => "overview".into(),
    }
}

/// Queries beyond the alert's expression that show what is behind it.
fn queries(alert: &str, subject: Subject<'_>) -> Vec<String> {
    match subject {
        Subject::Service(service) => {
            let name = &service.name;
            let mut out = vec![format!("up{{job=\"{name}\"}}")];
            if let Some(metrics) = &service.metrics {
                out.push(format!("{REQUEST_RATE}{{service=\"{name}\"}}"));
                out.push(format!(
                    "sum by ({label}) (rate({total}{{job=\"{name}\"}}[5m]))",
                    label = metrics.status_label,
                    total = metrics.requests_total
                ));
                out.push(format!("{ERROR_RATIO}{{service=\"{name}\"}}"));
                if alert.starts_with("ErrorBudget") {
                    for window in ["1h", "6h", "1d", "3d"] {
                        out.push(format!(
                            "{}{{service=\"{name}\"}}",
                            error_ratio_over(window)
                        ));
                    }
                }
                for (_, series) in LATENCY_QUANTILES {
                    out.push(format!("{series}{{service=\"{name}\"}}"));
                }
            }
            if service.health_path.is_some() && service.port.is_some() {
                out.push(format!(
                    "probe_success{{job=\"{}\", service=\"{name}\"}}",
                    crate::generate::observability::PROBE_JOB
                ));
            }
            out
        }
        Subject::Job(job) => {
            let name = &job.name;
            vec![
                format!("time() - {LAST_SUCCESS}{{job=\"{name}\"}}"),
                format!("{LAST_EXIT_CODE}{{job=\"{name}\"}}"),
                format!("blueprint_job_duration_seconds{{job=\"{name}\"}}"),
                "up{job=\"pushgateway\"}".to_string(),
            ]
        }
        Subject::Store(store) => {
            let job = exporter_host(store);
            vec![
                format!("up{{job=\"{job}\"}}"),
                format!("pg_up{{job=\"{job}\"}}"),
            ]
        }
        Subject::Backup(_, backup) => {
            let name = &backup.job;
            vec![
                format!("time() - {LAST_SUCCESS}{{job=\"{name}\"}}"),
                format!("{LAST_EXIT_CODE}{{job=\"{name}\"}}"),
                format!("{BACKUP_SIZE}{{job=\"{name}\"}}"),
                format!("{BACKUP_PREVIOUS_SIZE}{{job=\"{name}\"}}"),
                format!("blueprint_job_duration_seconds{{job=\"{name}\"}}"),
                "up{job=\"pushgateway\"}".to_string(),
            ]
        }
        Subject::RestoreTest(_, backup) => {
            let name = backup.restore_test.as_ref().map_or("", |t| t.job.as_str());
            vec![
                format!("time() - {LAST_SUCCESS}{{job=\"{name}\"}}"),
                format!("{LAST_EXIT_CODE}{{job=\"{name}\"}}"),
                format!("{RESTORE_TEST_TABLES}{{job=\"{name}\"}}"),
                format!("{RESTORE_TEST_DUMP_AGE}{{job=\"{name}\"}}"),
                format!("blueprint_job_duration_seconds{{job=\"{name}\"}}"),
                "up{job=\"pushgateway\"}".to_string(),
            ]
        }
        Subject::Component(name) => vec![format!("up{{job=\"{name}\"}}")],
    }
}

/// The CronJob of a scheduled subject: a job, a backup, a restore test.
fn cron_job_name(subject: Subject<'_>) -> Option<&str> {
    match subject {
        Subject::Job(Job { name, .. }) | Subject::Backup(_, Backup { job: name, .. }) => Some(name),
        Subject::RestoreTest(_, backup) => backup.restore_test.as_ref().map(|t| t.job.as_str()),
        _ => None,
    }
}

/// Whether `subject` runs in `environment`.
fn runs_in(model: &Model, environment: &Environment, subject: Subject<'_>) -> bool {
    let env = environment.name.as_str();
    match subject {
        Subject::Service(s) => s.in_container(env),
        Subject::Job(j) => model
            .service(&j.service)
            .is_some_and(|s| s.in_container(env)),
        // Stores are watched wherever the stack runs.
        Subject::Store(_) => true,
        // Every environment runs every backup: Compose in its scheduler, a cluster as a CronJob.
        Subject::Backup(..) | Subject::RestoreTest(..) => true,
        // The Compose stack's own components; a cluster brings its own.
        Subject::Component(_) => environment.on_compose(),
    }
}

fn place(model: &Model, environment: &Environment, subjects: &[Subject<'_>]) -> Option<Place> {
    let shell = Shell::of(environment);
    let here: Vec<Subject<'_>> = subjects
        .iter()
        .copied()
        .filter(|s| runs_in(model, environment, *s))
        .collect();
    if here.is_empty() {
        return None;
    }
    let mut commands = Vec::new();
    let mut restarts = Vec::new();
    let mut backups = Vec::new();
    let mut managed = Vec::new();
    let push = |list: &mut Vec<String>, line: String| {
        if !list.contains(&line) {
            list.push(line);
        }
    };
    let monitoring_namespace = environment
        .kubernetes
        .as_ref()
        .map(|k| k.monitoring_namespace.clone())
        .unwrap_or_default();
    let mut watched: Vec<String> = Vec::new();
    for subject in &here {
        if shell.compose {
            let c = &shell.compose_command;
            let containers: Vec<String> = match subject {
                Subject::Service(s) => vec![s.name.clone()],
                Subject::Job(j) => vec![scheduler_name(&j.service)],
                Subject::Store(s) => {
                    let mut names = Vec::new();
                    if environment.provider(&s.name) == Provider::Container {
                        names.push(s.name.clone());
                    }
                    if s.kind == StoreKind::Postgres {
                        names.push(exporter_host(s));
                    }
                    names
                }
                // The restore test runs in the backup's container.
                Subject::Backup(_, backup) | Subject::RestoreTest(_, backup) => {
                    vec![backup.job.clone()]
                }
                Subject::Component(name) => vec![(*name).to_string()],
            };
            for container in containers {
                if !watched.contains(&container) {
                    watched.push(container);
                }
            }
            if let Subject::Service(s) = subject {
                push(
                    &mut restarts,
                    format!("{c} up -d --force-recreate {}", s.name),
                );
            }
        } else {
            let k = &shell.kubectl;
            match subject {
                Subject::Service(s) => {
                    push(
                        &mut commands,
                        format!("{k} get pods -l app.kubernetes.io/name={}", s.name),
                    );
                    push(
                        &mut commands,
                        format!("{k} logs deploy/{} --tail=200", s.name),
                    );
                    push(&mut commands, format!("{k} describe deploy/{}", s.name));
                    push(
                        &mut restarts,
                        format!("{k} rollout restart deploy/{}", s.name),
                    );
                }
                Subject::Job(_) | Subject::Backup(..) | Subject::RestoreTest(..) => {
                    if let Some(name) = cron_job_name(*subject) {
                        push(&mut commands, format!("{k} get cronjob/{name}"));
                        push(
                            &mut commands,
                            format!("{k} get jobs,pods -l app.kubernetes.io/name={name}"),
                        );
                        push(
                            &mut commands,
                            format!("{k} logs -l app.kubernetes.io/name={name} --tail=200"),
                        );
                    }
                }
                Subject::Store(s) => {
                    if environment.provider(&s.name) == Provider::Container {
                        push(&mut commands, format!("{k} get statefulset/{}", s.name));
                        push(
                            &mut commands,
                            format!("{k} logs statefulset/{} --tail=200", s.name),
                        );
                    }
                }
                Subject::Component(_) => {}
            }
            push(
                &mut commands,
                format!("{k} get events --sort-by=.lastTimestamp"),
            );
        }
        if let Subject::Backup(store, policy) | Subject::RestoreTest(store, policy) = subject {
            // Run and list only: the runbook restores into a scratch database, never over it.
            let commands = backup_commands(environment, policy);
            let run = match subject {
                Subject::RestoreTest(..) => commands.test,
                _ => commands.run,
            };
            for line in run.into_iter().chain(commands.list) {
                push(&mut backups, line);
            }
            if environment.provider(&store.name) == Provider::Supabase {
                push(&mut managed, store.name.clone());
            }
        }
    }
    if !watched.is_empty() {
        let c = &shell.compose_command;
        commands.push(format!("{c} ps {}", watched.join(" ")));
        for container in &watched {
            commands.push(format!("{c} logs --tail=200 {container}"));
        }
    }
    let (query, port_forward, prometheus_url, grafana_url, amtool) = if shell.compose {
        let c = &shell.compose_command;
        let exposed = |tool: InternalTool| {
            tool_prefix(model, tool).map(|prefix| external_url(environment, &prefix))
        };
        (
            format!(
                "{c} exec prometheus promtool query instant http://localhost:{PROMETHEUS_PORT}{}",
                tool_path(model, InternalTool::Prometheus, "")
            ),
            None,
            exposed(InternalTool::Prometheus).map(|u| format!("{u}graph")),
            model
                .monitoring
                .grafana
                .enabled
                .then(|| exposed(InternalTool::Grafana))
                .flatten(),
            format!(
                "{c} exec alertmanager amtool --alertmanager.url=http://localhost:{ALERTMANAGER_PORT}{}",
                tool_path(model, InternalTool::Alertmanager, "")
            ),
        )
    } else {
        (
            format!("promtool query instant http://localhost:{PROMETHEUS_PORT}"),
            Some(format!(
                "kubectl -n {monitoring_namespace} port-forward svc/prometheus-operated {PROMETHEUS_PORT} & kubectl -n {monitoring_namespace} port-forward svc/alertmanager-operated {ALERTMANAGER_PORT} &"
            )),
            None,
            None,
            format!("amtool --alertmanager.url=http://localhost:{ALERTMANAGER_PORT}"),
        )
    };
    Some(Place {
        shell,
        commands,
        query,
        port_forward,
        prometheus_url,
        grafana_url,
        amtool,
        restarts,
        backups,
        managed,
    })
}
