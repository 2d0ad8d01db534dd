//! Prometheus alerting and recording rules, as typed rule groups.
//!
//! [`rule_files`] is the public entry point: the Compose target writes each [`RuleFile`] under
//! `monitoring/prometheus/rules/`, and a Kubernetes target can wrap the very same groups in a
//! `PrometheusRule`. [`catalog`] also returns, beside every rule, the promtool scenarios that
//! prove it fires when it should and stays quiet when it should not; they are computed from the
//! same model values (thresholds, `for`, windows) as the rules themselves.
//!
//! Naming follows the Prometheus convention `level:metric:operations` for recorded series:
//! `service:http_requests:rate5m`, `service:http_requests_errors:ratio_rate5m`,
//! `service:http_request_duration_seconds:p95_rate5m`. Every alert carries the labels
//! `severity` and `service` (Alertmanager groups and inhibits on them) and the annotations
//! `summary`, `description` and `runbook_url`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::rule_tests::{
    AlertCheck, Firing, STEP_SECONDS, SampleCheck, Scenario, Series, TestSuite, constant, counter,
};
use super::selectors::Produced;
use super::{
    PROBE_JOB, exporter_host, metered_services, monitored_jobs, monitored_services, number,
    postgres_stores, probe_url, scrape_addresses,
};
use crate::blueprint::Severity;
use crate::model::{
    AlertFamily, BACKUP_TOO_SMALL_RATIO, Backup, Job, Metrics, Model, RestoreTest, Service, Slo,
    Store,
};
use crate::syntax::parse_duration;

/// One rule file (`services.rules.yml`).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFile {
    /// The file's stem (`services`).
    pub name: String,
    /// Its groups.
    pub groups: Vec<RuleGroup>,
}

impl RuleFile {
    /// Its path relative to the output root.
    pub fn path(&self) -> String {
        format!("monitoring/prometheus/rules/{}.rules.yml", self.name)
    }

    /// The file's document, `{groups: [...]}`.
    pub fn document(&self) -> RuleFileDocument<'_> {
        RuleFileDocument {
            groups: &self.groups,
        }
    }
}

/// The serialized form of a rule file.
#[derive(Debug, Serialize)]
pub struct RuleFileDocument<'a> {
    /// The groups.
    pub groups: &'a [RuleGroup],
}

/// A rule group: rules evaluated together, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleGroup {
    /// Unique name.
    pub name: String,
    /// The rules.
    pub rules: Vec<Rule>,
}

/// A recording or an alerting rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Rule {
    /// Records an expression as a new series.
    Record(RecordingRule),
    /// Raises an alert while an expression returns series.
    Alert(AlertingRule),
}

/// A recording rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordingRule {
    /// The recorded series' name.
    pub record: String,
    /// PromQL.
    pub expr: String,
    /// Labels added to the result.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// An alerting rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertingRule {
    /// The alert name.
    pub alert: String,
    /// PromQL.
    pub expr: String,
    /// How long the expression must hold before the alert fires; omitted when immediate.
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    /// Labels: at least `severity` and `service`.
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`.
    pub annotations: BTreeMap<String, String>,
}

/// Rules and the unit tests that go with them.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// Rule files, only those with rules.
    pub files: Vec<RuleFile>,
    /// Test suites, by rule file.
    pub tests: Vec<TestSuite>,
}

/// Every rule file of the model, in a fixed order; files without rules are left out.
pub fn rule_files(model: &Model) -> Vec<RuleFile> {
    catalog(model).files
}

/// Whether a rule file applies to the Compose stack only: the monitoring stack's own alerts
/// and the host's and proxy's, which a cluster's kube-prometheus-stack brings its own of.
pub fn compose_only(file: &RuleFile) -> bool {
    [super::meta_rules::FILE, super::host::FILE].contains(&file.name.as_str())
}

/// `produced` plus the series the model's recording rules record from what it produces: what
/// a platform's Prometheus has once it evaluates them.
pub fn with_recordings(model: &Model, mut produced: Produced) -> Produced {
    // In order: a recording rule may read what an earlier one records.
    for file in rule_files(model) {
        for rule in &file
            .groups
            .iter()
            .flat_map(|g| &g.rules)
            .collect::<Vec<_>>()
        {
            if let Rule::Record(r) = rule
                && produced.reads_only_produced(&r.expr)
            {
                produced.record(&r.record, &r.labels);
            }
        }
    }
    produced
}

/// The rule groups of `files`, in order, keeping only the rules whose every selector reads
/// series `produced` has ([`with_recordings`] of a platform's jobs); groups left empty are
/// dropped. A rule over a job the platform does not have could never fire there.
pub fn groups_over(
    files: impl IntoIterator<Item = RuleFile>,
    produced: &Produced,
) -> Vec<RuleGroup> {
    files
        .into_iter()
        .flat_map(|f| f.groups)
        .filter_map(|mut group| {
            group.rules.retain(|rule| {
                produced.reads_only_produced(match rule {
                    Rule::Record(r) => &r.expr,
                    Rule::Alert(a) => &a.expr,
                })
            });
            (!group.rules.is_empty()).then_some(group)
        })
        .collect()
}

/// The recorded 5-minute request rate of a service.
pub const REQUEST_RATE: &str = "service:http_requests:rate5m";
/// The recorded 5-minute 5xx ratio of a service.
pub const ERROR_RATIO: &str = "service:http_requests_errors:ratio_rate5m";
/// The recorded latency quantiles: quantile and series name.
pub const LATENCY_QUANTILES: [(f64, &str); 3] = [
    (0.5, "service:http_request_duration_seconds:p50_rate5m"),
    (0.95, "service:http_request_duration_seconds:p95_rate5m"),
    (0.99, "service:http_request_duration_seconds:p99_rate5m"),
];

/// The name of a recorded error ratio over `window` (`service:http_requests_errors:ratio_rate1h`).
pub fn error_ratio_over(window: &str) -> String {
    format!("service:http_requests_errors:ratio_rate{window}")
}

/// The recorded 1-hour request rate, the SLO alerts' minimum-traffic guard.
pub const REQUEST_RATE_1H: &str = "service:http_requests:rate1h";

/// The multi-window, multi-burn-rate alerts of the Google SRE workbook (chapter 5): for each
/// alert, pairs of (long window, short window, burn-rate factor); either pair fires it.
struct BurnAlert {
    name: &'static str,
    severity: Severity,
    pairs: [(&'static str, &'static str, f64); 2],
    /// Days until a 30-day budget is gone at the lower of the two factors.
    budget_days: &'static str,
}

const BURN_ALERTS: [BurnAlert; 2] = [
    BurnAlert {
        name: "ErrorBudgetFastBurn",
        severity: Severity::Critical,
        pairs: [("1h", "5m", 14.4), ("6h", "30m", 6.0)],
        budget_days: "5 days",
    },
    BurnAlert {
        name: "ErrorBudgetSlowBurn",
        severity: Severity::Warning,
        pairs: [("1d", "2h", 3.0), ("3d", "6h", 1.0)],
        budget_days: "30 days",
    },
];

/// The windows whose error ratio the SLO rules record (5m is recorded for every service).
const SLO_WINDOWS: [&str; 6] = ["30m", "1h", "2h", "6h", "1d", "3d"];

/// Builds every rule file and its tests.
pub fn catalog(model: &Model) -> Catalog {
    let mut builder = Builder {
        files: Vec::new(),
        tests: Vec::new(),
    };
    let has_recording = metered_services(model).next().is_some();
    let recording = if has_recording {
        vec!["recording".to_string()]
    } else {
        Vec::new()
    };

    builder.file(
        "recording",
        Vec::new(),
        recording_groups(model),
        STEP_SECONDS,
    );
    builder.file(
        "services",
        recording.clone(),
        service_groups(model),
        STEP_SECONDS,
    );
    builder.file("stores", Vec::new(), store_groups(model), STEP_SECONDS);
    let job_step = job_step(model);
    builder.file("jobs", Vec::new(), job_groups(model, job_step), job_step);
    let backup_step = backup_step(model);
    builder.file(
        "backups",
        Vec::new(),
        backup_groups(model, backup_step),
        backup_step,
    );
    builder.file("slo", recording, slo_groups(model), STEP_SECONDS);
    builder.file(
        "custom",
        Vec::new(),
        super::custom_tests::custom_groups(model),
        STEP_SECONDS,
    );
    builder.file(
        super::queue_rules::FILE,
        Vec::new(),
        super::queue_rules::queue_groups(model),
        STEP_SECONDS,
    );
    builder.file(
        super::meta_rules::FILE,
        Vec::new(),
        super::meta_rules::meta_groups(model),
        STEP_SECONDS,
    );
    builder.file(
        super::host::FILE,
        Vec::new(),
        super::host::host_groups(model),
        STEP_SECONDS,
    );

    Catalog {
        files: builder.files,
        tests: builder.tests,
    }
}

struct Builder {
    files: Vec<RuleFile>,
    tests: Vec<TestSuite>,
}

impl Builder {
    fn file(
        &mut self,
        name: &str,
        extra_rule_files: Vec<String>,
        groups: Vec<(RuleGroup, Vec<Scenario>)>,
        step_seconds: u64,
    ) {
        let groups: Vec<(RuleGroup, Vec<Scenario>)> = groups
            .into_iter()
            .filter(|(g, _)| !g.rules.is_empty())
            .collect();
        if groups.is_empty() {
            return;
        }
        let mut rule_files = vec![name.to_string()];
        rule_files.extend(extra_rule_files.into_iter().filter(|f| f != name));
        let scenarios: Vec<Scenario> = groups.iter().flat_map(|(_, s)| s.clone()).collect();
        self.files.push(RuleFile {
            name: name.to_string(),
            groups: groups.into_iter().map(|(g, _)| g).collect(),
        });
        self.tests.push(TestSuite {
            name: name.to_string(),
            rule_files,
            scenarios,
            step_seconds,
        });
    }
}

/// The lowercase severity name.
pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// The runbook of a built-in alert.
fn runbook(model: &Model, alert: &str) -> String {
    format!("{}/{alert}.md", model.monitoring.runbook_base_url)
}

/// An alerting rule with the mandatory labels and annotations.
#[allow(clippy::too_many_arguments)]
pub(super) fn alerting_rule(
    model: &Model,
    alert: &str,
    expr: String,
    for_: &str,
    severity: Severity,
    service: &str,
    summary: String,
    description: String,
) -> AlertingRule {
    AlertingRule {
        alert: alert.to_string(),
        expr,
        for_: (seconds(for_) > 0).then(|| for_.to_string()),
        labels: BTreeMap::from([
            ("service".to_string(), service.to_string()),
            ("severity".to_string(), severity_name(severity).to_string()),
        ]),
        annotations: BTreeMap::from([
            ("summary".to_string(), summary),
            ("description".to_string(), description),
            ("runbook_url".to_string(), runbook(model, alert)),
        ]),
    }
}

/// A duration in seconds; `0s` and anything unparsable count as zero.
pub(super) fn seconds(duration: &str) -> u64 {
    parse_duration(duration).unwrap_or(0)
}

/// Rounds up to whole test steps.
pub(super) fn whole_steps(seconds: u64) -> u64 {
    whole(STEP_SECONDS, seconds)
}

fn whole(step: u64, seconds: u64) -> u64 {
    seconds.div_ceil(step).saturating_mul(step)
}

/// Timing of a condition that holds from `warmup` seconds on and fires after `for_`: when to
/// expect the alert firing, and how many samples the series need to cover that.
pub(super) struct Timing {
    pub fire_at: u64,
    pub samples: u64,
    /// A time at which the condition holds but `for` has not elapsed (only when certain).
    pub pending_at: Option<u64>,
}

pub(super) fn timing(warmup: u64, for_seconds: u64) -> Timing {
    timing_in_steps(STEP_SECONDS, warmup, for_seconds)
}

fn timing_in_steps(step: u64, warmup: u64, for_seconds: u64) -> Timing {
    // Saturating: absurd durations make absurd tests, never a panic.
    let fire_at = whole(step, warmup)
        .saturating_add(whole(step, for_seconds))
        .saturating_add(2 * step);
    Timing {
        fire_at,
        samples: (fire_at / step).saturating_add(5),
        pending_at: (warmup == 0 && for_seconds > 0).then(|| whole(step, for_seconds) - step),
    }
}

/// The jobs suite's step: staleness windows run to days, and promtool evaluates every rule at
/// every step, so the step grows with the longest window (about 500 steps to cover it).
fn job_step(model: &Model) -> u64 {
    let longest = monitored_jobs(model)
        .map(|j| j.stale_after_seconds)
        .max()
        .unwrap_or(0);
    whole(STEP_SECONDS, longest / 500).max(STEP_SECONDS)
}

pub(super) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Scenarios for an alert on a gauge that is `bad` while the condition holds and `good`
/// otherwise: it fires after `for`, is only pending before, and stays quiet on `good`.
pub(super) fn gauge_scenarios(
    rule: &AlertingRule,
    subject: &str,
    metric: &str,
    series_labels: &[(&str, &str)],
    bad: &str,
    good: &str,
) -> Vec<Scenario> {
    let timing = timing(0, seconds(rule.for_.as_deref().unwrap_or("0s")));
    let output = labels(series_labels);
    let firing: Vec<Firing> = Firing::of(rule, &output, None).into_iter().collect();
    let mut down = Scenario::new(
        format!("{}: {subject} while {metric} is {bad}", rule.alert),
        vec![Series::new(
            metric,
            series_labels,
            constant(bad, timing.samples),
        )],
    );
    if let Some(pending_at) = timing.pending_at {
        down = down.expect(pending_at, &rule.alert, Vec::new());
    }
    down = down.expect(timing.fire_at, &rule.alert, firing);
    let up = Scenario::new(
        format!("{}: quiet while {metric} is {good}", rule.alert),
        vec![Series::new(
            metric,
            series_labels,
            constant(good, timing.samples),
        )],
    )
    .expect(timing.fire_at, &rule.alert, Vec::new());
    vec![down, up]
}

/// The first environment a service runs in as a container.
fn first_compose_environment<'a>(
    model: &'a Model,
    service: &Service,
) -> Option<&'a crate::model::Environment> {
    model
        .environments
        .iter()
        .find(|e| service.on_compose(&e.name))
}

fn recording_groups(model: &Model) -> Vec<(RuleGroup, Vec<Scenario>)> {
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    for service in metered_services(model) {
        let Some(metrics) = &service.metrics else {
            continue;
        };
        rules.extend(red_recording_rules(service, metrics));
        scenarios.push(red_recording_scenario(model, service, metrics));
        scenarios.push(namespaces_scenario(model, service, metrics));
    }
    vec![(
        RuleGroup {
            name: "http-red".into(),
            rules,
        },
        scenarios,
    )]
}

fn with_service(service: &Service) -> BTreeMap<String, String> {
    labels(&[("service", &service.name)])
}

fn requests(metrics: &Metrics, service: &Service, extra: &str, window: &str) -> String {
    format!(
        "sum by (namespace) (rate({}{{job=\"{}\"{extra}}}[{window}]))",
        metrics.requests_total, service.name
    )
}

fn errors(metrics: &Metrics, service: &Service, window: &str) -> String {
    requests(
        metrics,
        service,
        &format!(", {}=~\"5..\"", metrics.status_label),
        window,
    )
}

/// The 5xx ratio over `window`, per namespace (two environments in one cluster share a
/// Prometheus; on Compose there is no `namespace` label and one series results): zero (not "no
/// data") when there is traffic but no 5xx series yet, and no result when there is no traffic
/// at all. The zero is the traffic times 0, so that it carries each namespace's labels.
fn error_ratio_expr(metrics: &Metrics, service: &Service, window: &str) -> String {
    let requests = requests(metrics, service, "", window);
    format!(
        "(\n  {}\nor\n  {requests} * 0\n)\n/\n{requests}",
        errors(metrics, service, window),
    )
}

fn red_recording_rules(service: &Service, metrics: &Metrics) -> Vec<Rule> {
    let mut rules = vec![
        Rule::Record(RecordingRule {
            record: REQUEST_RATE.into(),
            expr: requests(metrics, service, "", "5m"),
            labels: with_service(service),
        }),
        Rule::Record(RecordingRule {
            record: ERROR_RATIO.into(),
            expr: error_ratio_expr(metrics, service, "5m"),
            labels: with_service(service),
        }),
    ];
    for (quantile, record) in LATENCY_QUANTILES {
        rules.push(Rule::Record(RecordingRule {
            record: record.into(),
            expr: format!(
                "histogram_quantile({quantile}, sum by (namespace, le) (rate({}_bucket{{job=\"{}\"}}[5m])))",
                metrics.duration_histogram, service.name
            ),
            labels: with_service(service),
        }));
    }
    rules
}

/// Histogram buckets whose observations all fall in (`low`, `high`]: cumulative counters.
fn histogram_series(
    metrics: &Metrics,
    base: &[(&str, &str)],
    bounds: &[f64],
    low: f64,
    per_step: &str,
    samples: u64,
) -> Vec<Series> {
    let mut les: Vec<String> = bounds.iter().map(|b| number(*b)).collect();
    les.push("+Inf".into());
    les.iter()
        .zip(bounds.iter().map(|b| Some(*b)).chain([None]))
        .map(|(le, bound)| {
            let mut pairs: Vec<(&str, &str)> = base.to_vec();
            pairs.push(("le", le));
            let counts = bound.is_none_or(|b| b > low);
            let values = if counts {
                counter(per_step, samples)
            } else {
                constant("0", samples)
            };
            Series::new(
                &format!("{}_bucket", metrics.duration_histogram),
                &pairs,
                values,
            )
        })
        .collect()
}

fn red_recording_scenario(model: &Model, service: &Service, metrics: &Metrics) -> Scenario {
    let instance = instance_of(model, service);
    let base = [
        ("instance", instance.as_str()),
        ("job", service.name.as_str()),
        ("service", service.name.as_str()),
    ];
    let samples = 15;
    // 45 successes and 15 server errors a minute: 1 request/s, a 25% error ratio.
    let mut series = vec![
        status_series(metrics, &base, "200", counter("45", samples)),
        status_series(metrics, &base, "500", counter("15", samples)),
    ];
    // Every request takes between 0.25s and 0.5s: interpolated quantiles are exact.
    series.extend(histogram_series(
        metrics,
        &base,
        &[0.25, 0.5, 1.0],
        0.25,
        "60",
        samples,
    ));
    let at = 10 * STEP_SECONDS;
    let recorded = |name: &str| format!("{name}{{service=\"{}\"}}", service.name);
    let mut scenario = Scenario::new(format!("recording rules of {}", service.name), series);
    let mut checks = vec![(REQUEST_RATE, 1.0), (ERROR_RATIO, 0.25)];
    checks.extend(
        LATENCY_QUANTILES
            .iter()
            .map(|(q, name)| (*name, 0.25 + 0.25 * q)),
    );
    for (name, value) in checks {
        scenario.samples.push(SampleCheck {
            expr: recorded(name),
            at_seconds: at,
            samples: vec![(recorded(name), value)],
        });
    }
    scenario
}

/// Two environments in one cluster (namespaces `staging` and `prod`, one Prometheus) are
/// recorded apart: staging at 1 request/s with 25% errors, prod at 1 request/s without any.
/// Summed together they would read 2 requests/s and 12.5%.
fn namespaces_scenario(model: &Model, service: &Service, metrics: &Metrics) -> Scenario {
    let instance = instance_of(model, service);
    let samples = 15;
    let mut series = Vec::new();
    for (namespace, ok, errors) in [("staging", "45", Some("15")), ("prod", "60", None)] {
        let base = [
            ("instance", instance.as_str()),
            ("job", service.name.as_str()),
            ("namespace", namespace),
            ("service", service.name.as_str()),
        ];
        series.push(status_series(metrics, &base, "200", counter(ok, samples)));
        if let Some(errors) = errors {
            series.push(status_series(
                metrics,
                &base,
                "500",
                counter(errors, samples),
            ));
        }
    }
    let mut scenario = Scenario::new(
        format!("recording rules of {} keep namespaces apart", service.name),
        series,
    );
    for (name, staging, prod) in [(REQUEST_RATE, 1.0, 1.0), (ERROR_RATIO, 0.25, 0.0)] {
        let expr = format!("{name}{{service=\"{}\"}}", service.name);
        let labelled = |namespace: &str| {
            format!(
                "{name}{{namespace=\"{namespace}\", service=\"{}\"}}",
                service.name
            )
        };
        scenario.samples.push(SampleCheck {
            expr,
            at_seconds: 10 * STEP_SECONDS,
            samples: vec![(labelled("prod"), prod), (labelled("staging"), staging)],
        });
    }
    scenario
}

fn status_series(metrics: &Metrics, base: &[(&str, &str)], status: &str, values: String) -> Series {
    let mut pairs = base.to_vec();
    pairs.push((metrics.status_label.as_str(), status));
    Series::new(&metrics.requests_total, &pairs, values)
}

/// The `instance` label of a service's first scrape target (as the first environment sees it).
fn instance_of(model: &Model, service: &Service) -> String {
    let port = service.port.unwrap_or_default();
    first_compose_environment(model, service)
        .and_then(|env| {
            scrape_addresses(model, env, service, port)
                .into_iter()
                .next()
        })
        .unwrap_or_else(|| format!("{}:{port}", service.name))
}

fn service_groups(model: &Model) -> Vec<(RuleGroup, Vec<Scenario>)> {
    let alerts = &model.monitoring.alerts;
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    let mut push = |rule: AlertingRule, s: Vec<Scenario>| {
        rules.push(Rule::Alert(rule));
        scenarios.extend(s);
    };
    for service in monitored_services(model) {
        let name = service.name.as_str();
        if let (true, Some(_)) = (alerts.service_down.enabled, &service.metrics) {
            let rule = service_down(model, &alerts.service_down, name, name);
            let instance = instance_of(model, service);
            let s = gauge_scenarios(
                &rule,
                name,
                "up",
                &[("instance", &instance), ("job", name), ("service", name)],
                "0",
                "1",
            );
            push(rule, s);
        }
        if let (true, Some(url)) = (alerts.probe_failed.enabled, probe_url(service)) {
            let family = &alerts.probe_failed;
            let rule = alerting_rule(
                model,
                "HealthProbeFailing",
                format!("probe_success{{job=\"{PROBE_JOB}\", service=\"{name}\"}} == 0"),
                &family.for_,
                family.severity,
                name,
                format!("{name} fails its health check"),
                format!(
                    "The health endpoint {{{{ $labels.instance }}}} has not answered with 2xx for {}.",
                    family.for_
                ),
            );
            let s = gauge_scenarios(
                &rule,
                name,
                "probe_success",
                &[("instance", &url), ("job", PROBE_JOB), ("service", name)],
                "0",
                "1",
            );
            push(rule, s);
        }
        let Some(metrics) = &service.metrics else {
            continue;
        };
        if alerts.error_ratio.enabled {
            let (rule, s) = high_error_ratio(model, &alerts.error_ratio, service, metrics);
            push(rule, s);
        }
        if alerts.latency_p95.enabled {
            let (rule, s) = high_latency(model, &alerts.latency_p95, service, metrics);
            push(rule, s);
        }
    }
    let services = (
        RuleGroup {
            name: "services".into(),
            rules,
        },
        scenarios,
    );
    vec![services, monitoring_stack_group(model)]
}

pub(super) fn service_down(
    model: &Model,
    family: &AlertFamily,
    job: &str,
    service: &str,
) -> AlertingRule {
    alerting_rule(
        model,
        "ServiceDown",
        format!("up{{job=\"{job}\"}} == 0"),
        &family.for_,
        family.severity,
        service,
        format!("{service} is down"),
        format!(
            "Prometheus has not been able to scrape {{{{ $labels.instance }}}} (job {job}) for {}.",
            family.for_
        ),
    )
}

/// ServiceDown for the monitoring stack's own scrape targets: when the blackbox exporter or
/// the Pushgateway is down, probe and job alerts go silent, so their absence must alert.
fn monitoring_stack_group(model: &Model) -> (RuleGroup, Vec<Scenario>) {
    let family = &model.monitoring.alerts.service_down;
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    if family.enabled {
        for (job, address) in super::prometheus::component_targets(model) {
            let rule = service_down(model, family, &job, &job);
            scenarios.extend(gauge_scenarios(
                &rule,
                &job,
                "up",
                &[("instance", &address), ("job", &job)],
                "0",
                "1",
            ));
            rules.push(Rule::Alert(rule));
        }
    }
    (
        RuleGroup {
            name: "monitoring-stack".into(),
            rules,
        },
        scenarios,
    )
}

/// The minimum-traffic guard of a rate alert (`and` the recorded request rate above `min_rate`),
/// or nothing when the minimum is zero: a ratio or a quantile over a handful of requests is
/// noise, and the SLO burn-rate alerts carry the same guard over their own window.
fn traffic_guard(service: &str, min_rate: f64) -> String {
    if min_rate > 0.0 {
        format!(
            "\nand\n{REQUEST_RATE}{{service=\"{service}\"}} > {}",
            number(min_rate)
        )
    } else {
        String::new()
    }
}

/// Requests a minute that pass a minimum-traffic guard comfortably: ten times the minimum, and
/// at least 1000.
fn busy_per_minute(min_rate: f64) -> f64 {
    (min_rate * 600.0).max(1000.0)
}

fn percent(ratio: f64) -> String {
    format!("{}%", number(ratio * 100.0))
}

fn high_error_ratio(
    model: &Model,
    family: &AlertFamily,
    service: &Service,
    metrics: &Metrics,
) -> (AlertingRule, Vec<Scenario>) {
    let name = service.name.as_str();
    let threshold = family.threshold;
    let min_rate = model.monitoring.min_request_rate(name);
    let rule = alerting_rule(
        model,
        "HighErrorRatio",
        format!(
            "{ERROR_RATIO}{{service=\"{name}\"}} > {}{}",
            number(threshold),
            traffic_guard(name, min_rate)
        ),
        &family.for_,
        family.severity,
        name,
        format!("{name} answers too many requests with 5xx"),
        format!(
            "More than {} of the requests to {name} have failed with a 5xx status for {}.",
            percent(threshold),
            family.for_
        ),
    );
    let warmup = 5 * STEP_SECONDS;
    let timing = timing(warmup, seconds(&family.for_));
    let instance = instance_of(model, service);
    let base = [
        ("instance", instance.as_str()),
        ("job", name),
        ("service", name),
    ];
    // `per_minute` requests a minute, a share of them 5xx.
    let traffic_at = |per_minute: f64, ratio: f64| {
        vec![
            status_series(
                metrics,
                &base,
                "200",
                counter(&number(per_minute * (1.0 - ratio)), timing.samples),
            ),
            status_series(
                metrics,
                &base,
                "500",
                counter(&number(per_minute * ratio), timing.samples),
            ),
        ]
    };
    let busy = busy_per_minute(min_rate);
    let traffic = |ratio: f64| traffic_at(busy, ratio);
    let mut scenarios = Vec::new();
    // Twice the threshold, or halfway to 100% when that is above 100%; a threshold of 100% or
    // more can never be exceeded, so there is no firing scenario then.
    let failing = if threshold <= 0.0 {
        Some(0.5)
    } else if threshold * 2.0 <= 1.0 {
        Some(threshold * 2.0)
    } else if threshold < 1.0 {
        Some((threshold + 1.0) / 2.0)
    } else {
        None
    };
    if let Some(ratio) = failing {
        let firing = Firing::of(&rule, &with_service(service), None)
            .into_iter()
            .collect();
        scenarios.push(
            Scenario::new(
                format!("HighErrorRatio: {name} at {} 5xx", percent(ratio)),
                traffic(ratio),
            )
            .expect(timing.fire_at, &rule.alert, firing),
        );
        if min_rate > 0.0 {
            // The same ratio at half the minimum traffic: a few failed requests at night
            // must not page.
            scenarios.push(
                Scenario::new(
                    format!(
                        "HighErrorRatio: quiet for {name} below {} requests/s",
                        number(min_rate)
                    ),
                    traffic_at(min_rate * 30.0, ratio),
                )
                .expect(timing.fire_at, &rule.alert, Vec::new()),
            );
        }
    }
    let healthy = threshold.min(1.0) / 2.0;
    scenarios.push(
        Scenario::new(
            format!(
                "HighErrorRatio: quiet for {name} at {} 5xx",
                percent(healthy)
            ),
            traffic(healthy),
        )
        .expect(timing.fire_at, &rule.alert, Vec::new()),
    );
    (rule, scenarios)
}

fn high_latency(
    model: &Model,
    family: &AlertFamily,
    service: &Service,
    metrics: &Metrics,
) -> (AlertingRule, Vec<Scenario>) {
    let name = service.name.as_str();
    let threshold = family.threshold;
    let min_rate = model.monitoring.min_request_rate(name);
    let (_, p95) = LATENCY_QUANTILES[1];
    let rule = alerting_rule(
        model,
        "HighLatencyP95",
        format!(
            "{p95}{{service=\"{name}\"}} > {}{}",
            number(threshold),
            traffic_guard(name, min_rate)
        ),
        &family.for_,
        family.severity,
        name,
        format!("{name} is slow"),
        format!(
            "The 95th percentile latency of {name} has been above {}s for {}.",
            number(threshold),
            family.for_
        ),
    );
    let warmup = 5 * STEP_SECONDS;
    let timing = timing(warmup, seconds(&family.for_));
    let instance = instance_of(model, service);
    let base = [
        ("instance", instance.as_str()),
        ("job", name),
        ("service", name),
    ];
    // The requests behind the histogram, for the minimum-traffic guard.
    let requests_at = |per_minute: f64| {
        status_series(
            metrics,
            &base,
            "200",
            counter(&number(per_minute), timing.samples),
        )
    };
    let busy = requests_at(busy_per_minute(min_rate));
    let mut scenarios = Vec::new();
    if threshold > 0.0 {
        let bounds = [
            threshold / 4.0,
            threshold / 2.0,
            threshold,
            threshold * 2.0,
            threshold * 4.0,
        ];
        // Every request between 2x and 4x the threshold: p95 = 3.9x the threshold.
        let slow = histogram_series(
            metrics,
            &base,
            &bounds,
            threshold * 2.0,
            "100",
            timing.samples,
        );
        let firing: Vec<Firing> = Firing::of(&rule, &with_service(service), None)
            .into_iter()
            .collect();
        scenarios.push(
            Scenario::new(
                format!(
                    "HighLatencyP95: {name} answers in {}s",
                    number(threshold * 3.0)
                ),
                [slow.clone(), vec![busy.clone()]].concat(),
            )
            .expect(timing.fire_at, &rule.alert, firing),
        );
        if min_rate > 0.0 {
            // As slow, at half the minimum traffic: one slow request at night must not page.
            scenarios.push(
                Scenario::new(
                    format!(
                        "HighLatencyP95: quiet for {name} below {} requests/s",
                        number(min_rate)
                    ),
                    [slow, vec![requests_at(min_rate * 30.0)]].concat(),
                )
                .expect(timing.fire_at, &rule.alert, Vec::new()),
            );
        }
        // Every request under a quarter of the threshold.
        let mut fast = histogram_series(metrics, &base, &bounds, 0.0, "100", timing.samples);
        fast.push(busy);
        scenarios.push(
            Scenario::new(
                format!(
                    "HighLatencyP95: quiet for {name} under {}s",
                    number(threshold / 4.0)
                ),
                fast,
            )
            .expect(timing.fire_at, &rule.alert, Vec::new()),
        );
    } else {
        // Any observed latency exceeds a zero threshold: only firing can be shown.
        let mut slow = histogram_series(metrics, &base, &[0.1, 1.0], 0.1, "100", timing.samples);
        slow.push(busy);
        let firing = Firing::of(&rule, &with_service(service), None)
            .into_iter()
            .collect();
        scenarios.push(
            Scenario::new(format!("HighLatencyP95: {name} answers at all"), slow).expect(
                timing.fire_at,
                &rule.alert,
                firing,
            ),
        );
    }
    (rule, scenarios)
}

fn store_groups(model: &Model) -> Vec<(RuleGroup, Vec<Scenario>)> {
    let family = &model.monitoring.alerts.service_down;
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    if family.enabled {
        for store in postgres_stores(model) {
            let (rule, s) = postgres_down(model, family, store);
            rules.push(Rule::Alert(rule));
            scenarios.extend(s);
        }
    }
    vec![(
        RuleGroup {
            name: "stores".into(),
            rules,
        },
        scenarios,
    )]
}

/// The exporter answers but cannot reach the database: `pg_up` is 0 (the exporter itself being
/// down is ServiceDown of the monitoring stack).
fn postgres_down(
    model: &Model,
    family: &AlertFamily,
    store: &Store,
) -> (AlertingRule, Vec<Scenario>) {
    let job = exporter_host(store);
    store_unreachable(
        model,
        family,
        store,
        ("PostgresDown", "pg_up", super::POSTGRES_EXPORTER_PORT),
        format!("PostgreSQL {} is unreachable", store.name),
        format!(
            "postgres_exporter ({job}) has not been able to connect to the {} database for {}.",
            store.name, family.for_
        ),
    )
}

/// A store's exporter answers but cannot reach the store: `alert` fires while its `up_metric`
/// is 0, under the `service_down` family, with its gauge scenarios.
pub(super) fn store_unreachable(
    model: &Model,
    family: &AlertFamily,
    store: &Store,
    (alert, up_metric, port): (&str, &str, u16),
    summary: String,
    description: String,
) -> (AlertingRule, Vec<Scenario>) {
    let job = exporter_host(store);
    let rule = alerting_rule(
        model,
        alert,
        format!("{up_metric}{{job=\"{job}\"}} == 0"),
        &family.for_,
        family.severity,
        &store.name,
        summary,
        description,
    );
    let instance = format!("{job}:{port}");
    let scenarios = gauge_scenarios(
        &rule,
        &store.name,
        up_metric,
        &[("instance", &instance), ("job", &job)],
        "0",
        "1",
    );
    (rule, scenarios)
}

fn job_groups(model: &Model, step: u64) -> Vec<(RuleGroup, Vec<Scenario>)> {
    let alerts = &model.monitoring.alerts;
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    let names: Vec<&str> = monitored_jobs(model).map(|j| j.name.as_str()).collect();
    for job in monitored_jobs(model) {
        if alerts.job_failed.enabled {
            let (rule, s) = job_failed(model, &alerts.job_failed, job, step);
            rules.push(Rule::Alert(rule));
            scenarios.extend(s);
        }
        if alerts.job_stale.enabled {
            let others: Vec<&str> = names.iter().copied().filter(|n| *n != job.name).collect();
            let (rule, s) = job_stale(model, &alerts.job_stale, job, &others, step);
            rules.push(Rule::Alert(rule));
            scenarios.extend(s);
        }
    }
    vec![(
        RuleGroup {
            name: "jobs".into(),
            rules,
        },
        scenarios,
    )]
}

/// Text ending with a full stop, to be followed by another sentence.
/// `text` as literal template text: Prometheus expands annotations as Go templates, so a `{{`
/// in a job's description is written as the action `{{ "{{" }}`, which prints it.
fn template_literal(text: &str) -> String {
    text.replace("{{", "{{ \"{{\" }}")
}

fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.ends_with(['.', '!', '?']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}

/// When a job last succeeded, as the wrapper pushes it.
pub const LAST_SUCCESS: &str = "blueprint_job_last_success_timestamp_seconds";
/// When a job last failed.
pub const LAST_FAILURE: &str = "blueprint_job_last_failure_timestamp_seconds";
/// The exit code of a job's last run.
pub const LAST_EXIT_CODE: &str = "blueprint_job_last_exit_code";

/// The last run of the pushed job `name` failed: a non-zero exit code, or (should the exit
/// code not have been pushed) a failure more recent than the last success.
fn failure(name: &str) -> String {
    format!(
        "{LAST_EXIT_CODE}{{job=\"{name}\"}} != 0\nor\n{LAST_FAILURE}{{job=\"{name}\"}} > {LAST_SUCCESS}{{job=\"{name}\"}}"
    )
}

/// The scenarios of a [`failure`] rule: a failure after a success and a failed first run fire
/// it, a success after a failure does not.
fn failure_scenarios(
    rule: &AlertingRule,
    name: &str,
    for_seconds: u64,
    step: u64,
) -> Vec<Scenario> {
    let alert = rule.alert.as_str();
    let timing = timing_in_steps(step, 0, for_seconds);
    let job_label = [("job", name)];
    let gauges = |exit: &str, success: Option<&str>, failure: &str| {
        let mut series = vec![
            Series::new(LAST_EXIT_CODE, &job_label, constant(exit, timing.samples)),
            Series::new(LAST_FAILURE, &job_label, constant(failure, timing.samples)),
        ];
        if let Some(success) = success {
            series.push(Series::new(
                LAST_SUCCESS,
                &job_label,
                constant(success, timing.samples),
            ));
        }
        series
    };
    let output = labels(&job_label);
    let firing: Vec<Firing> = Firing::of(rule, &output, None).into_iter().collect();
    vec![
        Scenario::new(
            format!("{alert}: {name} exited 1 after a success"),
            gauges("1", Some("60"), "120"),
        )
        .expect(timing.fire_at, &rule.alert, firing.clone()),
        Scenario::new(
            format!("{alert}: {name} failed its first run"),
            gauges("1", None, "60"),
        )
        .expect(timing.fire_at, &rule.alert, firing),
        Scenario::new(
            format!("{alert}: quiet when {name} succeeded after a failure"),
            gauges("0", Some("120"), "60"),
        )
        .expect(timing.fire_at, &rule.alert, Vec::new()),
    ]
}

/// The last run failed: a non-zero exit code, or (should the exit code not have been pushed) a
/// failure more recent than the last success.
fn job_failed(
    model: &Model,
    family: &AlertFamily,
    job: &Job,
    step: u64,
) -> (AlertingRule, Vec<Scenario>) {
    let name = job.name.as_str();
    let rule = alerting_rule(
        model,
        "JobFailed",
        failure(name),
        &family.for_,
        family.severity,
        name,
        format!("Scheduled job {name} failed"),
        format!(
            "The last run of {name} failed. {} Schedule `{}` (UTC); its output is in the log of the {}-scheduler container.",
            template_literal(&sentence(&job.description)),
            job.schedule,
            job.service
        ),
    );
    let scenarios = failure_scenarios(&rule, name, seconds(&family.for_), step);
    (rule, scenarios)
}

/// No success within the staleness window: the last success is older than the window, or no
/// success was ever pushed although the Pushgateway has been up for longer than the window
/// (a new deployment, a Pushgateway restarted without persistence, a scheduler that never
/// started). The Pushgateway's start time, rather than a `for` on `absent()`, measures "never
/// within the window", so one rule covers both and a Prometheus restart does not delay it.
///
/// The never-reported branch is only generated when the job's service runs as a container in
/// every environment: rule files are shared by all environments, and in one without the
/// scheduler (but with a Pushgateway for other jobs) it would fire forever.
///
/// `others` are the other jobs: their scenarios give them a success every step, so that only
/// this job's alert can fire (the never-reported branch would fire for them too otherwise).
fn job_stale(
    model: &Model,
    family: &AlertFamily,
    job: &Job,
    others: &[&str],
    step: u64,
) -> (AlertingRule, Vec<Scenario>) {
    let name = job.name.as_str();
    let window = job.stale_after_seconds;
    let everywhere = model
        .service(&job.service)
        .is_some_and(|s| model.environments.iter().all(|e| s.in_container(&e.name)));
    let rule = alerting_rule(
        model,
        "JobStale",
        staleness(name, window, everywhere),
        &family.for_,
        family.severity,
        name,
        format!(
            "Scheduled job {name} has not succeeded for {}",
            job.stale_after
        ),
        format!(
            "{name} has not reported a success for more than {}{}. {} Schedule `{}` (UTC).",
            job.stale_after,
            if everywhere {
                " (or never since the Pushgateway started)"
            } else {
                ""
            },
            template_literal(&sentence(&job.description)),
            job.schedule
        ),
    );
    let scenarios = stale_scenarios(
        &rule,
        name,
        &job.stale_after,
        window,
        seconds(&family.for_),
        others,
        everywhere,
        step,
    );
    (rule, scenarios)
}

/// The size of the last dump, as backup.sh reports it through run-job.sh.
pub const BACKUP_SIZE: &str = "blueprint_backup_size_bytes";
/// The size of the dump before it.
pub const BACKUP_PREVIOUS_SIZE: &str = "blueprint_backup_previous_size_bytes";

/// The tables the newest dump restored, as `restore.sh --test` reports it through run-job.sh.
pub const RESTORE_TEST_TABLES: &str = "blueprint_restore_test_tables";
/// The age of the dump the restore test restored, in seconds.
pub const RESTORE_TEST_DUMP_AGE: &str = "blueprint_restore_test_dump_age_seconds";

/// The backups suite's step: like the jobs suite's, about 500 steps over the longest window.
fn backup_step(model: &Model) -> u64 {
    let longest = model
        .backups()
        .flat_map(|(_, b)| {
            std::iter::once(b.stale_after_seconds)
                .chain(b.restore_test.as_ref().map(|t| t.stale_after_seconds))
        })
        .max()
        .unwrap_or(0);
    whole(STEP_SECONDS, longest / 500).max(STEP_SECONDS)
}

/// BackupFailed, BackupStale and BackupTooSmall for each backed-up store, and
/// BackupRestoreTestFailed and BackupRestoreTestStale for each with a restore test.
fn backup_groups(model: &Model, step: u64) -> Vec<(RuleGroup, Vec<Scenario>)> {
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    // Every environment runs every backup (Compose in its scheduler, a cluster as a CronJob),
    // so the never-reported branch holds wherever the shared rule files are loaded.
    let everywhere = true;
    let names: Vec<&str> = model
        .backups()
        .flat_map(|(_, b)| {
            std::iter::once(b.job.as_str()).chain(b.restore_test.as_ref().map(|t| t.job.as_str()))
        })
        .collect();
    for (store, backup) in model.backups() {
        let others_than =
            |name: &str| -> Vec<&str> { names.iter().copied().filter(|n| *n != name).collect() };
        let mut alerts = vec![
            backup_failed(model, &store.name, backup, step),
            backup_stale(
                model,
                &store.name,
                backup,
                &others_than(&backup.job),
                everywhere,
                step,
            ),
            backup_too_small(model, &store.name, backup, step),
        ];
        if let Some(test) = &backup.restore_test {
            alerts.push(restore_test_failed(model, &store.name, backup, test, step));
            alerts.push(restore_test_stale(
                model,
                &store.name,
                test,
                &others_than(&test.job),
                everywhere,
                step,
            ));
        }
        for (rule, s) in alerts {
            rules.push(Rule::Alert(rule));
            scenarios.extend(s);
        }
    }
    vec![(
        RuleGroup {
            name: "backups".into(),
            rules,
        },
        scenarios,
    )]
}

/// The last backup run failed (pg_dump, the upload or the retention pass).
fn backup_failed(
    model: &Model,
    store: &str,
    backup: &Backup,
    step: u64,
) -> (AlertingRule, Vec<Scenario>) {
    let name = backup.job.as_str();
    let rule = alerting_rule(
        model,
        "BackupFailed",
        failure(name),
        "0s",
        Severity::Warning,
        name,
        format!("The backup of {store} failed"),
        format!(
            "The last run of {name} (schedule `{}`, UTC) kept no dump of the {store} database; the dumps before it are still there. Its output is in the log of the {name} container.",
            backup.schedule
        ),
    );
    let scenarios = failure_scenarios(&rule, name, 0, step);
    (rule, scenarios)
}

/// A pushed job's staleness alert: what [`stale_alert`] needs beyond the job's name.
struct Stale<'a> {
    alert: &'a str,
    severity: Severity,
    schedule: &'a str,
    window: u64,
    stale_after: &'a str,
    summary: String,
    /// What a success reports (`a successful dump of the db database`).
    success: String,
    /// What the silence means (`the newest dump is at least that old`).
    meaning: &'a str,
}

/// No success of the pushed job `name` within twice the longest gap of its schedule.
fn stale_alert(
    model: &Model,
    name: &str,
    stale: Stale<'_>,
    others: &[&str],
    everywhere: bool,
    step: u64,
) -> (AlertingRule, Vec<Scenario>) {
    let rule = alerting_rule(
        model,
        stale.alert,
        staleness(name, stale.window, everywhere),
        "0s",
        stale.severity,
        name,
        stale.summary,
        format!(
            "{name} has not reported {} for more than {} (twice the longest gap of its schedule `{}`, UTC){}: {}.",
            stale.success,
            stale.stale_after,
            stale.schedule,
            if everywhere {
                ", or never since the Pushgateway started"
            } else {
                ""
            },
            stale.meaning,
        ),
    );
    let scenarios = stale_scenarios(
        &rule,
        name,
        stale.stale_after,
        stale.window,
        0,
        others,
        everywhere,
        step,
    );
    (rule, scenarios)
}

/// No successful backup within twice the longest gap between two scheduled runs.
fn backup_stale(
    model: &Model,
    store: &str,
    backup: &Backup,
    others: &[&str],
    everywhere: bool,
    step: u64,
) -> (AlertingRule, Vec<Scenario>) {
    let stale = Stale {
        alert: "BackupStale",
        severity: Severity::Critical,
        schedule: &backup.schedule,
        window: backup.stale_after_seconds,
        stale_after: &backup.stale_after,
        summary: format!("No backup of {store} for {}", backup.stale_after),
        success: format!("a successful dump of the {store} database"),
        meaning: "the newest dump is at least that old",
    };
    stale_alert(model, &backup.job, stale, others, everywhere, step)
}

/// No successful restore test within twice the longest gap of its schedule.
fn restore_test_stale(
    model: &Model,
    store: &str,
    test: &RestoreTest,
    others: &[&str],
    everywhere: bool,
    step: u64,
) -> (AlertingRule, Vec<Scenario>) {
    let stale = Stale {
        alert: "BackupRestoreTestStale",
        severity: Severity::Warning,
        schedule: &test.schedule,
        window: test.stale_after_seconds,
        stale_after: &test.stale_after,
        summary: format!(
            "No backup of {store} proved restorable for {}",
            test.stale_after
        ),
        success: format!("a successful restore of the newest {store} dump"),
        meaning: "the dumps since are unproved",
    };
    stale_alert(model, &test.job, stale, others, everywhere, step)
}

/// The last restore test failed: the newest dump did not download, decrypt or restore into the
/// scratch server, or restored no table.
fn restore_test_failed(
    model: &Model,
    store: &str,
    backup: &Backup,
    test: &RestoreTest,
    step: u64,
) -> (AlertingRule, Vec<Scenario>) {
    let name = test.job.as_str();
    let rule = alerting_rule(
        model,
        "BackupRestoreTestFailed",
        failure(name),
        "0s",
        Severity::Warning,
        name,
        format!("The newest backup of {store} did not restore"),
        format!(
            "The last run of {name} (schedule `{}`, UTC) could not restore the newest dump of the {store} database into a scratch server, or it restored no table: that dump may not restore when it is needed. Its output is in the log of the {} container (Compose) or of the {name} job (Kubernetes).",
            test.schedule, backup.job
        ),
    );
    let scenarios = failure_scenarios(&rule, name, 0, step);
    (rule, scenarios)
}

/// The newest dump is far smaller than the one before it: a table emptied, the wrong database
/// dumped. (Growth, and a slow shrink, do not fire.)
fn backup_too_small(
    model: &Model,
    store: &str,
    backup: &Backup,
    step: u64,
) -> (AlertingRule, Vec<Scenario>) {
    let name = backup.job.as_str();
    let ratio = super::number(BACKUP_TOO_SMALL_RATIO);
    let percent = super::number(BACKUP_TOO_SMALL_RATIO * 100.0);
    let rule = alerting_rule(
        model,
        "BackupTooSmall",
        format!(
            "{BACKUP_SIZE}{{job=\"{name}\"}} < {ratio} * {BACKUP_PREVIOUS_SIZE}{{job=\"{name}\"}}"
        ),
        "0s",
        Severity::Warning,
        name,
        format!("The newest backup of {store} is far smaller than the one before"),
        format!(
            "The newest dump of the {store} database is less than {percent}% of the size of the one before it: check that it holds what the database holds before the older dumps expire."
        ),
    );
    let timing = timing_in_steps(step, 0, 0);
    let job_label = [("job", name)];
    let sizes = |size: &str, previous: &str| {
        vec![
            Series::new(BACKUP_SIZE, &job_label, constant(size, timing.samples)),
            Series::new(
                BACKUP_PREVIOUS_SIZE,
                &job_label,
                constant(previous, timing.samples),
            ),
        ]
    };
    let firing: Vec<Firing> = Firing::of(&rule, &labels(&job_label), None)
        .into_iter()
        .collect();
    let scenarios = vec![
        Scenario::new(
            format!("BackupTooSmall: {name} shrank from 1000000 to 100000 bytes"),
            sizes("100000", "1000000"),
        )
        .expect(timing.fire_at, &rule.alert, firing),
        Scenario::new(
            format!("BackupTooSmall: quiet when {name} shrank from 1000000 to 900000 bytes"),
            sizes("900000", "1000000"),
        )
        .expect(timing.fire_at, &rule.alert, Vec::new()),
    ];
    (rule, scenarios)
}

/// No success of the pushed job `name` for more than `window` seconds; with `everywhere`, also
/// no success ever while the Pushgateway has been up for longer than the window.
fn staleness(name: &str, window: u64, everywhere: bool) -> String {
    let mut expr = format!("time() - {LAST_SUCCESS}{{job=\"{name}\"}} > {window}");
    if everywhere {
        expr.push_str(&format!(
            "\nor\n(\n  absent({LAST_SUCCESS}{{job=\"{name}\"}})\nand on ()\n  time() - {PUSHGATEWAY_START} > {window}\n)"
        ));
    }
    expr
}

/// The scenarios of a [`staleness`] rule: quiet within the window, firing after it; and, with
/// `everywhere`, the same when no success was ever pushed. `others` (the other pushed jobs)
/// get a success every step, so that only `name`'s alert can fire.
#[allow(clippy::too_many_arguments)]
fn stale_scenarios(
    rule: &AlertingRule,
    name: &str,
    stale_after: &str,
    window: u64,
    for_seconds: u64,
    others: &[&str],
    everywhere: bool,
    step: u64,
) -> Vec<Scenario> {
    let alert = rule.alert.as_str();
    let job_label = [("job", name)];
    let firing: Vec<Firing> = Firing::of(rule, &labels(&job_label), None)
        .into_iter()
        .collect();
    // Last success at t=60s: the age exceeds the window from t = window + 60s on.
    let fire = timing_in_steps(step, window.saturating_add(STEP_SECONDS), for_seconds);
    let within = (window.saturating_sub(step) / step * step).max(step);
    let background = |samples: u64| {
        let mut series = pushgateway_started_at_zero(samples);
        series.extend(others.iter().map(|other| {
            Series::new(
                LAST_SUCCESS,
                &[("job", other)],
                counter(&step.to_string(), samples),
            )
        }));
        series
    };
    let mut series = vec![Series::new(
        LAST_SUCCESS,
        &job_label,
        constant("60", fire.samples),
    )];
    series.extend(background(fire.samples));
    let mut scenarios = vec![
        Scenario::new(
            format!("{alert}: {name} last succeeded more than {stale_after} ago"),
            series,
        )
        .expect(within, alert, Vec::new())
        .expect(fire.fire_at, alert, firing.clone()),
    ];
    if everywhere {
        // The Pushgateway is up from t=0 and has the other jobs' successes, never this one's.
        scenarios.push(
            Scenario::new(
                format!("{alert}: {name} never reported a success"),
                background(fire.samples),
            )
            .expect(within, alert, Vec::new())
            .expect(fire.fire_at, alert, firing),
        );
    }
    scenarios
}

/// The Pushgateway's own start time, scraped from it (its own metrics carry its scrape job).
const PUSHGATEWAY_START: &str = "process_start_time_seconds{job=\"pushgateway\"}";

fn pushgateway_started_at_zero(samples: u64) -> Vec<Series> {
    let address = super::PUSHGATEWAY_ADDRESS;
    vec![Series::new(
        "process_start_time_seconds",
        &[("instance", address), ("job", "pushgateway")],
        constant("0", samples),
    )]
}

fn slo_groups(model: &Model) -> Vec<(RuleGroup, Vec<Scenario>)> {
    model
        .monitoring
        .slos
        .iter()
        .filter_map(|slo| {
            let service = metered_services(model).find(|s| s.name == slo.service)?;
            let metrics = service.metrics.as_ref()?;
            Some(slo_group(model, slo, service, metrics))
        })
        .collect()
}

fn slo_group(
    model: &Model,
    slo: &Slo,
    service: &Service,
    metrics: &Metrics,
) -> (RuleGroup, Vec<Scenario>) {
    let name = service.name.as_str();
    let budget = number(slo.error_budget);
    let mut rules: Vec<Rule> = SLO_WINDOWS
        .iter()
        .map(|window| {
            Rule::Record(RecordingRule {
                record: error_ratio_over(window),
                expr: error_ratio_expr(metrics, service, window),
                labels: with_service(service),
            })
        })
        .collect();
    rules.push(Rule::Record(RecordingRule {
        record: REQUEST_RATE_1H.into(),
        expr: requests(metrics, service, "", "1h"),
        labels: with_service(service),
    }));

    let mut scenarios = Vec::new();
    let instance = instance_of(model, service);
    let base = [
        ("instance", instance.as_str()),
        ("job", name),
        ("service", name),
    ];
    // Constant traffic for 70 minutes: every window sees the same ratio, so each alert's
    // lowest burn-rate factor decides. `per_minute` requests a minute, a `ratio` of them 5xx.
    let samples = 70;
    let at = 65 * STEP_SECONDS;
    let traffic = |per_minute: f64, ratio: f64| {
        vec![
            status_series(
                metrics,
                &base,
                "200",
                counter(&number(per_minute * (1.0 - ratio)), samples),
            ),
            status_series(
                metrics,
                &base,
                "500",
                counter(&number(per_minute * ratio), samples),
            ),
        ]
    };
    let busy = busy_per_minute(slo.min_request_rate);
    for burn in &BURN_ALERTS {
        let condition: Vec<String> = burn
            .pairs
            .iter()
            .map(|(long, short, factor)| {
                let limit = format!("({} * {budget})", number(*factor));
                format!(
                    "  (\n    {}{{service=\"{name}\"}} > {limit}\n  and\n    {}{{service=\"{name}\"}} > {limit}\n  )",
                    error_ratio_over(long),
                    error_ratio_over(short)
                )
            })
            .collect();
        let expr = format!(
            "(\n{}\n)\nand\n{REQUEST_RATE_1H}{{service=\"{name}\"}} > {}",
            condition.join("\n  or\n"),
            number(slo.min_request_rate)
        );
        let windows: Vec<String> = burn
            .pairs
            .iter()
            .map(|(long, short, factor)| format!("{}x over {long} and {short}", number(*factor)))
            .collect();
        let rule = alerting_rule(
            model,
            burn.name,
            expr,
            "0s",
            burn.severity,
            name,
            format!(
                "{name} is burning its {}% availability error budget",
                number(slo.availability)
            ),
            format!(
                "The 5xx ratio of {name} burns its error budget of {} at {} the sustainable rate ({}): at this pace the 30-day budget is gone within {}.",
                percent(slo.error_budget),
                if burn.severity == Severity::Critical {
                    "many times"
                } else {
                    "more than"
                },
                windows.join(", or "),
                burn.budget_days
            ),
        );
        let lowest = burn.pairs.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
        let limit = lowest * slo.error_budget;
        let firing: Vec<Firing> = Firing::of(&rule, &with_service(service), None)
            .into_iter()
            .collect();
        let failing = if limit * 2.0 <= 1.0 {
            Some(limit * 2.0)
        } else if limit < 1.0 {
            Some((limit + 1.0) / 2.0)
        } else {
            None
        };
        if let Some(ratio) = failing {
            scenarios.push(
                Scenario::new(
                    format!("{}: {name} at {} 5xx", burn.name, percent(ratio)),
                    traffic(busy, ratio),
                )
                .expect(at, burn.name, firing),
            );
            if slo.min_request_rate > 0.0 {
                // The same ratio at half the minimum traffic must not page.
                scenarios.push(
                    Scenario::new(
                        format!(
                            "{}: quiet for {name} below {} requests/s",
                            burn.name,
                            number(slo.min_request_rate)
                        ),
                        traffic(slo.min_request_rate * 30.0, ratio),
                    )
                    .expect(at, burn.name, Vec::new()),
                );
            }
        }
        let healthy = limit.min(1.0) / 2.0;
        scenarios.push(
            Scenario::new(
                format!(
                    "{}: quiet for {name} at {} 5xx",
                    burn.name,
                    percent(healthy)
                ),
                traffic(busy, healthy),
            )
            .expect(at, burn.name, Vec::new()),
        );
        rules.push(Rule::Alert(rule));
    }
    (
        RuleGroup {
            name: format!("slo-{name}"),
            rules,
        },
        scenarios,
    )
}

/// Every alerting rule of a catalog, for inspection.
pub fn alerting_rules(catalog: &Catalog) -> impl Iterator<Item = &AlertingRule> {
    catalog
        .files
        .iter()
        .flat_map(|f| &f.groups)
        .flat_map(|g| &g.rules)
        .filter_map(|r| match r {
            Rule::Alert(a) => Some(a),
            Rule::Record(_) => None,
        })
}

/// Alert checks of a catalog, for inspection.
pub fn alert_checks(catalog: &Catalog) -> impl Iterator<Item = &AlertCheck> {
    catalog
        .tests
        .iter()
        .flat_map(|t| &t.scenarios)
        .flat_map(|s| &s.alerts)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use super::super::custom_tests::untested_custom_alerts;
    use super::super::rule_tests::test_files;
    use super::super::test_support::*;
    use super::*;
    use crate::generate::to_yaml;

    #[test]
    fn every_alert_is_labelled_and_annotated() {
        for (name, model) in all_models() {
            let catalog = catalog(&model);
            for rule in alerting_rules(&catalog) {
                let severity = rule.labels.get("severity").map(String::as_str);
                let watchdog = rule.alert == super::super::meta_rules::WATCHDOG
                    && severity == Some(super::super::meta_rules::WATCHDOG_SEVERITY);
                assert!(
                    watchdog || matches!(severity, Some("critical" | "warning" | "info")),
                    "{name}: {} severity {severity:?}",
                    rule.alert
                );
                let custom = model
                    .monitoring
                    .custom_alerts
                    .iter()
                    .find(|c| c.name == rule.alert);
                if custom.is_none_or(|c| c.service.is_some()) {
                    assert!(
                        rule.labels.get("service").is_some_and(|s| !s.is_empty()),
                        "{name}: {} has no service",
                        rule.alert
                    );
                }
                for key in ["summary", "description", "runbook_url"] {
                    assert!(
                        rule.annotations.get(key).is_some_and(|v| !v.is_empty()),
                        "{name}: {} lacks {key}",
                        rule.alert
                    );
                }
                if custom.is_none() {
                    assert_eq!(
                        rule.annotations["runbook_url"],
                        format!("{}/{}.md", model.monitoring.runbook_base_url, rule.alert)
                    );
                }
                promql_parser::parser::parse(&rule.expr)
                    .unwrap_or_else(|e| panic!("{name}: {} does not parse: {e}", rule.alert));
            }
        }
    }

    #[test]
    fn every_built_in_alert_has_a_firing_and_a_quiet_test() {
        for (name, model) in all_models() {
            let catalog = catalog(&model);
            let untested: Vec<String> = untested_custom_alerts(&model)
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            for rule in alerting_rules(&catalog) {
                if untested.contains(&rule.alert) {
                    continue;
                }
                let checks: Vec<&AlertCheck> = alert_checks(&catalog)
                    .filter(|c| c.alertname == rule.alert)
                    .collect();
                let fires = checks.iter().any(|c| {
                    c.firing.iter().any(|f| {
                        rule.labels
                            .iter()
                            .all(|(k, v)| f.exp_labels.get(k) == Some(v))
                    })
                });
                assert!(
                    fires,
                    "{name}: no test where {} {:?} fires",
                    rule.alert, rule.labels
                );
                // The dead man's switch fires always: there is no quiet test.
                assert!(
                    rule.alert == super::super::meta_rules::WATCHDOG
                        || checks.iter().any(|c| c.firing.is_empty()),
                    "{name}: no test where {} stays quiet",
                    rule.alert
                );
            }
        }
    }

    #[test]
    fn every_job_has_failed_and_stale_alerts() {
        let model = reference_model();
        let catalog = catalog(&model);
        for job in &model.jobs {
            for alert in ["JobFailed", "JobStale"] {
                let rule = alerting_rules(&catalog)
                    .find(|r| r.alert == alert && r.labels["service"] == job.name)
                    .unwrap_or_else(|| panic!("{} has no {alert}", job.name));
                assert!(
                    rule.expr.contains(&format!("{{job=\"{}\"}}", job.name)),
                    "{}",
                    rule.expr
                );
            }
            let stale = alerting_rules(&catalog)
                .find(|r| r.alert == "JobStale" && r.labels["service"] == job.name)
                .expect("stale");
            assert!(
                stale
                    .expr
                    .contains(&format!("> {}", job.stale_after_seconds)),
                "{}",
                stale.expr
            );
            assert!(
                stale.expr.contains("absent("),
                "api runs everywhere: a never-reported job must alert too"
            );
        }
    }

    #[test]
    fn custom_alerts_keep_their_expression_labels_and_runbook() {
        let model = reference_model();
        let catalog = catalog(&model);
        for custom in &model.monitoring.custom_alerts {
            let rule = alerting_rules(&catalog)
                .find(|r| r.alert == custom.name)
                .expect("custom alert rendered");
            assert_eq!(rule.expr, custom.expr);
            assert_eq!(rule.labels.get("service"), custom.service.as_ref());
            assert_eq!(rule.labels["severity"], severity_name(custom.severity));
            assert_eq!(rule.annotations["runbook_url"], custom.runbook);
            assert_eq!(rule.annotations["summary"], custom.summary);
        }
        assert!(
            untested_custom_alerts(&model).is_empty(),
            "DataDivergence is simple enough to test"
        );
    }

    #[test]
    fn slo_alerts_follow_the_workbook() {
        let model = reference_model();
        let catalog = catalog(&model);
        let fast = alerting_rules(&catalog)
            .find(|r| r.alert == "ErrorBudgetFastBurn")
            .expect("fast burn");
        let slow = alerting_rules(&catalog)
            .find(|r| r.alert == "ErrorBudgetSlowBurn")
            .expect("slow burn");
        assert_eq!(fast.labels["severity"], "critical");
        assert_eq!(slow.labels["severity"], "warning");
        for (rule, expected) in [
            (
                fast,
                [
                    "ratio_rate1h",
                    "ratio_rate5m",
                    "(14.4 * 0.005)",
                    "ratio_rate6h",
                    "ratio_rate30m",
                    "(6 * 0.005)",
                ],
            ),
            (
                slow,
                [
                    "ratio_rate1d",
                    "ratio_rate2h",
                    "(3 * 0.005)",
                    "ratio_rate3d",
                    "ratio_rate6h",
                    "(1 * 0.005)",
                ],
            ),
        ] {
            for part in expected {
                assert!(
                    rule.expr.contains(part),
                    "{} lacks {part}:\n{}",
                    rule.alert,
                    rule.expr
                );
            }
            assert!(
                rule.expr
                    .ends_with("service:http_requests:rate1h{service=\"api\"} > 0.1"),
                "{}",
                rule.expr
            );
        }
        let records: Vec<String> = catalog
            .files
            .iter()
            .flat_map(|f| &f.groups)
            .flat_map(|g| &g.rules)
            .filter_map(|r| match r {
                Rule::Record(r) => Some(r.record.clone()),
                Rule::Alert(_) => None,
            })
            .collect();
        for window in ["5m", "30m", "1h", "2h", "6h", "1d", "3d"] {
            assert!(
                records.contains(&error_ratio_over(window)),
                "no {window} error ratio"
            );
        }
        assert!(
            records.iter().all(|r| r.split(':').count() == 3),
            "level:metric:operations: {records:?}"
        );
    }

    #[test]
    fn disabled_families_are_left_out() {
        let yaml = reference_yaml().replace(
            "    latency_p95: { threshold: 0.8 }",
            "    latency_p95: { threshold: 0.8, enabled: false }\n    job_stale: { enabled: false }",
        );
        let catalog = catalog(&model_from(&yaml));
        assert!(
            !alerting_rules(&catalog).any(|r| r.alert == "HighLatencyP95" || r.alert == "JobStale")
        );
        assert!(alerting_rules(&catalog).any(|r| r.alert == "JobFailed"));
        assert!(
            !alert_checks(&catalog).any(|c| c.alertname == "JobStale"),
            "no tests for a disabled family"
        );
    }

    /// promtool, or `None` when it is absent and CI is unset (with CI set, its absence fails).
    fn promtool() -> Option<PathBuf> {
        let found = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .map(|dir| dir.join("promtool"))
            .find(|p| p.is_file());
        if found.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is not installed and CI is set: run scripts/install-validators.sh"
            );
            eprintln!("SKIPPED: promtool is not installed (scripts/install-validators.sh)");
        }
        found
    }

    /// Writes the rule files of `rules` and the test files of `tests` into `dir`.
    fn write(dir: &Path, rules: &Catalog, tests: &Catalog) {
        std::fs::create_dir_all(dir.join("rules")).expect("rules dir");
        std::fs::create_dir_all(dir.join("tests")).expect("tests dir");
        for file in &rules.files {
            std::fs::write(
                dir.join(format!("rules/{}.rules.yml", file.name)),
                to_yaml(&file.document()),
            )
            .expect("rule file");
        }
        for file in test_files(tests) {
            std::fs::write(
                dir.join(format!("tests/{}.test.yml", file.name)),
                file.render(),
            )
            .expect("test file");
        }
    }

    fn promtool_test(promtool: &Path, dir: &Path, stem: &str) -> (bool, String) {
        let out = Command::new(promtool)
            .args(["test", "rules", &format!("{stem}.test.yml")])
            .current_dir(dir.join("tests"))
            .output()
            .expect("promtool runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    #[test]
    fn generated_tests_pass_for_every_example() {
        let Some(promtool) = promtool() else { return };
        for (name, model) in all_models() {
            let catalog = catalog(&model);
            let dir = tempfile::tempdir().expect("temp dir");
            write(dir.path(), &catalog, &catalog);
            for file in test_files(&catalog) {
                let (passed, output) = promtool_test(&promtool, dir.path(), &file.name);
                assert!(passed, "{name}: {} fails:\n{output}", file.name);
            }
        }
    }

    #[test]
    fn edge_values_still_give_passing_tests() {
        let Some(promtool) = promtool() else { return };
        let yaml = reference_yaml()
            .replace(
                "    error_ratio: { threshold: 0.02, for: 10m }\n    latency_p95: { threshold: 0.8 }",
                "    error_ratio: { threshold: 1, for: 0s }\n    latency_p95: { threshold: 0 }\n    service_down: { for: 90s }\n    job_failed: { for: 5m }",
            )
            .replace("      availability: 99.5", "      availability: 50\n      min_request_rate: 0");
        let model = model_from(&yaml);
        assert_eq!(
            model.monitoring.alerts.error_ratio.threshold, 1.0,
            "the edit applied"
        );
        let catalog = catalog(&model);
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), &catalog, &catalog);
        for file in test_files(&catalog) {
            let (passed, output) = promtool_test(&promtool, dir.path(), &file.name);
            assert!(passed, "{} fails:\n{output}", file.name);
        }
    }

    #[test]
    fn a_wrong_threshold_fails_the_generated_tests() {
        let Some(promtool) = promtool() else { return };
        let rendered = reference_model();
        assert_eq!(rendered.monitoring.alerts.error_ratio.threshold, 0.02);
        let other = model_from(&reference_yaml().replace(
            "error_ratio: { threshold: 0.02",
            "error_ratio: { threshold: 0.5",
        ));
        assert_eq!(other.monitoring.alerts.error_ratio.threshold, 0.5);

        let dir = tempfile::tempdir().expect("temp dir");
        // Rules for 2%, tests written for 50%: at 25% 5xx the 2% rule fires where the tests
        // expect silence, and the expected annotations name the wrong threshold.
        write(dir.path(), &catalog(&rendered), &catalog(&other));
        let (passed, output) = promtool_test(&promtool, dir.path(), "services");
        assert!(
            !passed,
            "promtool accepted tests written for another threshold:\n{output}"
        );
        assert!(output.contains("HighErrorRatio"), "{output}");

        // The control: the same rules with their own tests pass.
        let control = tempfile::tempdir().expect("temp dir");
        write(control.path(), &catalog(&rendered), &catalog(&rendered));
        let (passed, output) = promtool_test(&promtool, control.path(), "services");
        assert!(passed, "{output}");
    }
}
