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
use super::{
    PROBE_JOB, exporter_host, metered_services, monitored_jobs, monitored_services, number, postgres_stores,
    probe_url, scrape_addresses,
};
use crate::blueprint::Severity;
use crate::model::{AlertFamily, Job, Metrics, Model, Service, Slo, Store};
use crate::syntax::{format_duration, parse_duration};

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
        RuleFileDocument { groups: &self.groups }
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
        model,
        files: Vec::new(),
        tests: Vec::new(),
    };
    let has_recording = metered_services(model).next().is_some();
    let recording = if has_recording { vec!["recording".to_string()] } else { Vec::new() };

    builder.file("recording", Vec::new(), recording_groups(model));
    builder.file("services", recording.clone(), service_groups(model));
    builder.file("stores", Vec::new(), store_groups(model));
    builder.file("jobs", Vec::new(), job_groups(model));
    builder.file("slo", recording, slo_groups(model));
    builder.file("custom", Vec::new(), super::custom_tests::custom_groups(model));

    Catalog {
        files: builder.files,
        tests: builder.tests,
    }
}

struct Builder<'a> {
    model: &'a Model,
    files: Vec<RuleFile>,
    tests: Vec<TestSuite>,
}

impl Builder<'_> {
    fn file(&mut self, name: &str, extra_rule_files: Vec<String>, groups: Vec<(RuleGroup, Vec<Scenario>)>) {
        let _ = self.model;
        let groups: Vec<(RuleGroup, Vec<Scenario>)> = groups.into_iter().filter(|(g, _)| !g.rules.is_empty()).collect();
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
fn alerting_rule(
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
    seconds.div_ceil(STEP_SECONDS) * STEP_SECONDS
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
    let fire_at = warmup + whole_steps(for_seconds) + 2 * STEP_SECONDS;
    Timing {
        fire_at,
        samples: fire_at / STEP_SECONDS + 5,
        pending_at: (warmup == 0 && for_seconds > 0).then(|| whole_steps(for_seconds) - STEP_SECONDS),
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Scenarios for an alert on a gauge that is `bad` while the condition holds and `good`
/// otherwise: it fires after `for`, is only pending before, and stays quiet on `good`.
fn gauge_scenarios(rule: &AlertingRule, subject: &str, metric: &str, series_labels: &[(&str, &str)], bad: &str, good: &str) -> Vec<Scenario> {
    let timing = timing(0, seconds(rule.for_.as_deref().unwrap_or("0s")));
    let output = labels(series_labels);
    let firing: Vec<Firing> = Firing::of(rule, &output, None).into_iter().collect();
    let mut down = Scenario::new(
        format!("{}: {subject} while {metric} is {bad}", rule.alert),
        vec![Series::new(metric, series_labels, constant(bad, timing.samples))],
    );
    if let Some(pending_at) = timing.pending_at {
        down = down.expect(pending_at, &rule.alert, Vec::new());
    }
    down = down.expect(timing.fire_at, &rule.alert, firing);
    let up = Scenario::new(
        format!("{}: quiet while {metric} is {good}", rule.alert),
        vec![Series::new(metric, series_labels, constant(good, timing.samples))],
    )
    .expect(timing.fire_at, &rule.alert, Vec::new());
    vec![down, up]
}

/// The first environment a service runs in as a container.
fn first_compose_environment<'a>(model: &'a Model, service: &Service) -> Option<&'a crate::model::Environment> {
    model.environments.iter().find(|e| service.on_compose(&e.name))
}

fn recording_groups(model: &Model) -> Vec<(RuleGroup, Vec<Scenario>)> {
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    for service in metered_services(model) {
        let Some(metrics) = &service.metrics else { continue };
        rules.extend(red_recording_rules(service, metrics));
        scenarios.push(red_recording_scenario(model, service, metrics));
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
        "sum(rate({}{{job=\"{}\"{extra}}}[{window}]))",
        metrics.requests_total, service.name
    )
}

fn errors(metrics: &Metrics, service: &Service, window: &str) -> String {
    requests(metrics, service, &format!(", {}=~\"5..\"", metrics.status_label), window)
}

/// The 5xx ratio over `window`: zero (not "no data") when there is traffic but no 5xx series
/// yet, and no result when there is no traffic at all.
fn error_ratio_expr(metrics: &Metrics, service: &Service, window: &str) -> String {
    format!(
        "({} or vector(0))\n/\n{}",
        errors(metrics, service, window),
        requests(metrics, service, "", window)
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
                "histogram_quantile({quantile}, sum by (le) (rate({}_bucket{{job=\"{}\"}}[5m])))",
                metrics.duration_histogram, service.name
            ),
            labels: with_service(service),
        }));
    }
    rules
}

/// Histogram buckets whose observations all fall in (`low`, `high`]: cumulative counters.
fn histogram_series(metrics: &Metrics, base: &[(&str, &str)], bounds: &[f64], low: f64, per_step: &str, samples: u64) -> Vec<Series> {
    let mut les: Vec<String> = bounds.iter().map(|b| number(*b)).collect();
    les.push("+Inf".into());
    les.iter()
        .zip(bounds.iter().map(|b| Some(*b)).chain([None]))
        .map(|(le, bound)| {
            let mut pairs: Vec<(&str, &str)> = base.to_vec();
            pairs.push(("le", le));
            let counts = bound.is_none_or(|b| b > low);
            let values = if counts { counter(per_step, samples) } else { constant("0", samples) };
            Series::new(&format!("{}_bucket", metrics.duration_histogram), &pairs, values)
        })
        .collect()
}

fn red_recording_scenario(model: &Model, service: &Service, metrics: &Metrics) -> Scenario {
    let instance = instance_of(model, service);
    let base = [("instance", instance.as_str()), ("job", service.name.as_str()), ("service", service.name.as_str())];
    let samples = 15;
    // 45 successes and 15 server errors a minute: 1 request/s, a 25% error ratio.
    let mut series = vec![
        status_series(metrics, &base, "200", counter("45", samples)),
        status_series(metrics, &base, "500", counter("15", samples)),
    ];
    // Every request takes between 0.25s and 0.5s: interpolated quantiles are exact.
    series.extend(histogram_series(metrics, &base, &[0.25, 0.5, 1.0], 0.25, "60", samples));
    let at = 10 * STEP_SECONDS;
    let recorded = |name: &str| format!("{name}{{service=\"{}\"}}", service.name);
    let mut scenario = Scenario::new(format!("recording rules of {}", service.name), series);
    let mut checks = vec![(REQUEST_RATE, 1.0), (ERROR_RATIO, 0.25)];
    checks.extend(LATENCY_QUANTILES.iter().map(|(q, name)| (*name, 0.25 + 0.25 * q)));
    for (name, value) in checks {
        scenario.samples.push(SampleCheck {
            expr: recorded(name),
            at_seconds: at,
            samples: vec![(recorded(name), value)],
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
        .and_then(|env| scrape_addresses(model, env, service, port).into_iter().next())
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
            let s = gauge_scenarios(&rule, name, "up", &[("instance", &instance), ("job", name), ("service", name)], "0", "1");
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
                format!("The health endpoint {{{{ $labels.instance }}}} has not answered with 2xx for {}.", family.for_),
            );
            let s = gauge_scenarios(&rule, name, "probe_success", &[("instance", &url), ("job", PROBE_JOB), ("service", name)], "0", "1");
            push(rule, s);
        }
        let Some(metrics) = &service.metrics else { continue };
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

fn service_down(model: &Model, family: &AlertFamily, job: &str, service: &str) -> AlertingRule {
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
            scenarios.extend(gauge_scenarios(&rule, &job, "up", &[("instance", &address), ("job", &job)], "0", "1"));
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

fn percent(ratio: f64) -> String {
    format!("{}%", number(ratio * 100.0))
}

fn high_error_ratio(model: &Model, family: &AlertFamily, service: &Service, metrics: &Metrics) -> (AlertingRule, Vec<Scenario>) {
    let name = service.name.as_str();
    let threshold = family.threshold;
    let rule = alerting_rule(
        model,
        "HighErrorRatio",
        format!("{ERROR_RATIO}{{service=\"{name}\"}} > {}", number(threshold)),
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
    let base = [("instance", instance.as_str()), ("job", name), ("service", name)];
    // 1000 requests a minute, a share of them 5xx.
    let traffic = |ratio: f64| {
        vec![
            status_series(metrics, &base, "200", counter(&number(1000.0 * (1.0 - ratio)), timing.samples)),
            status_series(metrics, &base, "500", counter(&number(1000.0 * ratio), timing.samples)),
        ]
    };
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
        let firing = Firing::of(&rule, &with_service(service), None).into_iter().collect();
        scenarios.push(
            Scenario::new(format!("HighErrorRatio: {name} at {} 5xx", percent(ratio)), traffic(ratio))
                .expect(timing.fire_at, &rule.alert, firing),
        );
    }
    let healthy = threshold.min(1.0) / 2.0;
    scenarios.push(
        Scenario::new(format!("HighErrorRatio: quiet for {name} at {} 5xx", percent(healthy)), traffic(healthy))
            .expect(timing.fire_at, &rule.alert, Vec::new()),
    );
    (rule, scenarios)
}

fn high_latency(model: &Model, family: &AlertFamily, service: &Service, metrics: &Metrics) -> (AlertingRule, Vec<Scenario>) {
    let name = service.name.as_str();
    let threshold = family.threshold;
    let (_, p95) = LATENCY_QUANTILES[1];
    let rule = alerting_rule(
        model,
        "HighLatencyP95",
        format!("{p95}{{service=\"{name}\"}} > {}", number(threshold)),
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
    let base = [("instance", instance.as_str()), ("job", name), ("service", name)];
    let mut scenarios = Vec::new();
    if threshold > 0.0 {
        let bounds = [threshold / 4.0, threshold / 2.0, threshold, threshold * 2.0, threshold * 4.0];
        // Every request between 2x and 4x the threshold: p95 = 3.9x the threshold.
        let slow = histogram_series(metrics, &base, &bounds, threshold * 2.0, "100", timing.samples);
        let firing = Firing::of(&rule, &with_service(service), None).into_iter().collect();
        scenarios.push(
            Scenario::new(format!("HighLatencyP95: {name} answers in {}s", number(threshold * 3.0)), slow)
                .expect(timing.fire_at, &rule.alert, firing),
        );
        // Every request under a quarter of the threshold.
        let fast = histogram_series(metrics, &base, &bounds, 0.0, "100", timing.samples);
        scenarios.push(
            Scenario::new(format!("HighLatencyP95: quiet for {name} under {}s", number(threshold / 4.0)), fast)
                .expect(timing.fire_at, &rule.alert, Vec::new()),
        );
    } else {
        // Any observed latency exceeds a zero threshold: only firing can be shown.
        let slow = histogram_series(metrics, &base, &[0.1, 1.0], 0.1, "100", timing.samples);
        let firing = Firing::of(&rule, &with_service(service), None).into_iter().collect();
        scenarios.push(
            Scenario::new(format!("HighLatencyP95: {name} answers at all"), slow).expect(timing.fire_at, &rule.alert, firing),
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
fn postgres_down(model: &Model, family: &AlertFamily, store: &Store) -> (AlertingRule, Vec<Scenario>) {
    let job = exporter_host(store);
    let rule = alerting_rule(
        model,
        "PostgresDown",
        format!("pg_up{{job=\"{job}\"}} == 0"),
        &family.for_,
        family.severity,
        &store.name,
        format!("PostgreSQL {} is unreachable", store.name),
        format!(
            "postgres_exporter ({job}) has not been able to connect to the {} database for {}.",
            store.name, family.for_
        ),
    );
    let instance = format!("{job}:{}", super::POSTGRES_EXPORTER_PORT);
    let scenarios = gauge_scenarios(&rule, &store.name, "pg_up", &[("instance", &instance), ("job", &job)], "0", "1");
    (rule, scenarios)
}

fn job_groups(model: &Model) -> Vec<(RuleGroup, Vec<Scenario>)> {
    let alerts = &model.monitoring.alerts;
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    for job in monitored_jobs(model) {
        if alerts.job_failed.enabled {
            let (rule, s) = job_failed(model, &alerts.job_failed, job);
            rules.push(Rule::Alert(rule));
            scenarios.extend(s);
        }
        if alerts.job_stale.enabled {
            let (new_rules, s) = job_stale(model, &alerts.job_stale, job);
            rules.extend(new_rules.into_iter().map(Rule::Alert));
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

const LAST_SUCCESS: &str = "blueprint_job_last_success_timestamp_seconds";
const LAST_FAILURE: &str = "blueprint_job_last_failure_timestamp_seconds";
const LAST_EXIT_CODE: &str = "blueprint_job_last_exit_code";

/// The last run failed: a non-zero exit code, or (should the exit code not have been pushed) a
/// failure more recent than the last success.
fn job_failed(model: &Model, family: &AlertFamily, job: &Job) -> (AlertingRule, Vec<Scenario>) {
    let name = job.name.as_str();
    let rule = alerting_rule(
        model,
        "JobFailed",
        format!(
            "{LAST_EXIT_CODE}{{job=\"{name}\"}} != 0\nor\n{LAST_FAILURE}{{job=\"{name}\"}} > {LAST_SUCCESS}{{job=\"{name}\"}}"
        ),
        &family.for_,
        family.severity,
        name,
        format!("Scheduled job {name} failed"),
        format!(
            "The last run of {name} ({}) failed. It runs on schedule `{}` in the {}-scheduler container, whose log has its output.",
            job.description, job.schedule, job.service
        ),
    );
    let timing = timing(0, seconds(&family.for_));
    let job_label = [("job", name)];
    let gauges = |exit: &str, success: Option<&str>, failure: &str| {
        let mut series = vec![
            Series::new(LAST_EXIT_CODE, &job_label, constant(exit, timing.samples)),
            Series::new(LAST_FAILURE, &job_label, constant(failure, timing.samples)),
        ];
        if let Some(success) = success {
            series.push(Series::new(LAST_SUCCESS, &job_label, constant(success, timing.samples)));
        }
        series
    };
    let output = labels(&job_label);
    let firing: Vec<Firing> = Firing::of(&rule, &output, None).into_iter().collect();
    let scenarios = vec![
        Scenario::new(format!("JobFailed: {name} exited 1 after a success"), gauges("1", Some("60"), "120"))
            .expect(timing.fire_at, &rule.alert, firing.clone()),
        Scenario::new(format!("JobFailed: {name} failed its first run"), gauges("1", None, "60"))
            .expect(timing.fire_at, &rule.alert, firing),
        Scenario::new(format!("JobFailed: quiet when {name} succeeded after a failure"), gauges("0", Some("120"), "60"))
            .expect(timing.fire_at, &rule.alert, Vec::new()),
    ];
    (rule, scenarios)
}

/// No success within the staleness window. Two rules share the alert name: one on the age of
/// the last success, and an `absent()` one, held for the whole window, for a job that never
/// reported a success at all (new deployment, Pushgateway restarted without persistence, the
/// scheduler never started). The `absent()` rule is only generated when the job's service runs
/// as a container in every environment: rule files are shared by all environments, and in one
/// without the scheduler it would fire forever.
fn job_stale(model: &Model, family: &AlertFamily, job: &Job) -> (Vec<AlertingRule>, Vec<Scenario>) {
    let name = job.name.as_str();
    let window = job.stale_after_seconds;
    let description = format!(
        "{name} ({}) has not succeeded for more than {}; it runs on schedule `{}`.",
        job.description, job.stale_after, job.schedule
    );
    let age = alerting_rule(
        model,
        "JobStale",
        format!("time() - {LAST_SUCCESS}{{job=\"{name}\"}} > {window}"),
        &family.for_,
        family.severity,
        name,
        format!("Scheduled job {name} has not succeeded for {}", job.stale_after),
        description.clone(),
    );
    let for_seconds = seconds(&family.for_);
    let job_label = [("job", name)];
    let output = labels(&job_label);
    let mut scenarios = Vec::new();

    // Last success at t=60s: the age exceeds the window from t = window + 60s on.
    let fire = timing(window + STEP_SECONDS, for_seconds);
    let last_success = |samples: u64| vec![Series::new(LAST_SUCCESS, &job_label, constant("60", samples))];
    scenarios.push(
        Scenario::new(format!("JobStale: {name} last succeeded more than {} ago", job.stale_after), last_success(fire.samples))
            .expect(fire.fire_at, "JobStale", Firing::of(&age, &output, None).into_iter().collect()),
    );
    let within = window.saturating_sub(STEP_SECONDS).max(STEP_SECONDS);
    scenarios.push(
        Scenario::new(format!("JobStale: quiet while {name} succeeded within {}", job.stale_after), last_success(within / STEP_SECONDS + 5))
            .expect(within, "JobStale", Vec::new()),
    );

    let mut rules = vec![age];
    let everywhere = model
        .service(&job.service)
        .is_some_and(|s| model.environments.iter().all(|e| s.on_compose(&e.name)));
    if everywhere {
        let held = format_duration(window + for_seconds);
        let never = AlertingRule {
            expr: format!("absent({LAST_SUCCESS}{{job=\"{name}\"}})"),
            for_: Some(held.clone()),
            annotations: BTreeMap::from([
                ("summary".to_string(), format!("Scheduled job {name} has never reported a success")),
                (
                    "description".to_string(),
                    format!(
                        "No success of {name} ({}) has reached the Pushgateway for {held}; it runs on schedule `{}`.",
                        job.description, job.schedule
                    ),
                ),
                ("runbook_url".to_string(), runbook(model, "JobStale")),
            ]),
            ..rules[0].clone()
        };
        let timing = timing(0, window + for_seconds);
        // Another job's success: the Pushgateway is there, this job never pushed.
        let other = vec![Series::new(LAST_SUCCESS, &[("job", "some-other-job")], constant("60", timing.samples))];
        let mut scenario = Scenario::new(format!("JobStale: {name} never reported a success"), other);
        if let Some(pending_at) = timing.pending_at {
            scenario = scenario.expect(pending_at, "JobStale", Vec::new());
        }
        scenarios.push(scenario.expect(timing.fire_at, "JobStale", Firing::of(&never, &output, None).into_iter().collect()));
        rules.push(never);
    }
    (rules, scenarios)
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

fn slo_group(model: &Model, slo: &Slo, service: &Service, metrics: &Metrics) -> (RuleGroup, Vec<Scenario>) {
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
    let base = [("instance", instance.as_str()), ("job", name), ("service", name)];
    // Constant traffic for 70 minutes: every window sees the same ratio, so each alert's
    // lowest burn-rate factor decides. `per_minute` requests a minute, a `ratio` of them 5xx.
    let samples = 70;
    let at = 65 * STEP_SECONDS;
    let traffic = |per_minute: f64, ratio: f64| {
        vec![
            status_series(metrics, &base, "200", counter(&number(per_minute * (1.0 - ratio)), samples)),
            status_series(metrics, &base, "500", counter(&number(per_minute * ratio), samples)),
        ]
    };
    // Busy enough: ten times the minimum rate, and at least 1000 a minute.
    let busy = (slo.min_request_rate * 600.0).max(1000.0);
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
            format!("{name} is burning its {}% availability error budget", number(slo.availability)),
            format!(
                "The 5xx ratio of {name} burns its error budget of {} at {} the sustainable rate ({}): at this pace the 30-day budget is gone within {}.",
                percent(slo.error_budget),
                if burn.severity == Severity::Critical { "many times" } else { "more than" },
                windows.join(", or "),
                burn.budget_days
            ),
        );
        let lowest = burn.pairs.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
        let limit = lowest * slo.error_budget;
        let firing: Vec<Firing> = Firing::of(&rule, &with_service(service), None).into_iter().collect();
        let failing = if limit * 2.0 <= 1.0 { Some(limit * 2.0) } else if limit < 1.0 { Some((limit + 1.0) / 2.0) } else { None };
        if let Some(ratio) = failing {
            scenarios.push(
                Scenario::new(format!("{}: {name} at {} 5xx", burn.name, percent(ratio)), traffic(busy, ratio))
                    .expect(at, burn.name, firing),
            );
            if slo.min_request_rate > 0.0 {
                // The same ratio at half the minimum traffic must not page.
                scenarios.push(
                    Scenario::new(
                        format!("{}: quiet for {name} below {} requests/s", burn.name, number(slo.min_request_rate)),
                        traffic(slo.min_request_rate * 30.0, ratio),
                    )
                    .expect(at, burn.name, Vec::new()),
                );
            }
        }
        let healthy = limit.min(1.0) / 2.0;
        scenarios.push(
            Scenario::new(format!("{}: quiet for {name} at {} 5xx", burn.name, percent(healthy)), traffic(busy, healthy))
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
    catalog.files.iter().flat_map(|f| &f.groups).flat_map(|g| &g.rules).filter_map(|r| match r {
        Rule::Alert(a) => Some(a),
        Rule::Record(_) => None,
    })
}

/// Alert checks of a catalog, for inspection.
pub fn alert_checks(catalog: &Catalog) -> impl Iterator<Item = &AlertCheck> {
    catalog.tests.iter().flat_map(|t| &t.scenarios).flat_map(|s| &s.alerts)
}
