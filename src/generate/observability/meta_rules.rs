//! Meta-monitoring: alerts on the monitoring stack itself, and the dead man's switch.
//!
//! `Watchdog` always fires (`vector(1)`, severity `none`, as kube-prometheus has it): Alertmanager
//! sends it every minute to the heartbeat URL (`monitoring.heartbeat`), whose service pages when
//! the pings stop, that is when Prometheus, Alertmanager or their way out is broken, which no
//! alert of their own can report. The `monitoring-meta` group alerts on what the stack's own
//! metrics show while it still runs: notifications Alertmanager fails to deliver, rules that
//! fail to evaluate, configurations that failed to reload, scrape pools that fail to sync.
//!
//! The series are those the pinned images (Prometheus 3.x, Alertmanager 0.28) and Debian's
//! (Prometheus 2.42, Alertmanager 0.25) both export, under the scrape jobs `prometheus` and
//! `alertmanager` of the Compose stack. Every group here is Compose-only ([`super::rules::compose_only`]): on
//! a cluster kube-prometheus-stack ships its own Watchdog and meta alerts, under its own job
//! names, so the Kubernetes render leaves this file out.
//!
//! Not alerted on: Prometheus failing to reach Alertmanager (`prometheus_notifications_*`),
//! since with the stack's single Alertmanager such an alert could not be delivered either; the
//! heartbeat going silent is what reports it.

use super::rule_tests::{Firing, Scenario, Series, constant, counter};
use super::rules::{AlertingRule, Rule, RuleGroup, alerting_rule, gauge_scenarios, timing};
use crate::blueprint::Severity;
use crate::model::Model;

/// The rule file's stem: `monitoring/prometheus/rules/meta.rules.yml`.
pub const FILE: &str = "meta";
/// The dead man's switch.
pub const WATCHDOG: &str = "Watchdog";
/// Its severity label: no one is ever notified of it.
pub const WATCHDOG_SEVERITY: &str = "none";
/// The share of failed notifications of one integration that alerts.
pub const FAILED_NOTIFICATIONS_RATIO: f64 = 0.01;

const PROMETHEUS_JOB: &str = "prometheus";
const ALERTMANAGER_JOB: &str = "alertmanager";

/// The `watchdog` and `monitoring-meta` groups, when a Compose stack runs the monitoring.
pub(crate) fn meta_groups(model: &Model) -> Vec<(RuleGroup, Vec<Scenario>)> {
    if !model.monitoring.enabled || !model.environments.iter().any(|e| e.on_compose()) {
        return Vec::new();
    }
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    let mut push = |(rule, s): (AlertingRule, Vec<Scenario>)| {
        rules.push(Rule::Alert(rule));
        scenarios.extend(s);
    };
    push(failed_notifications(model));
    push(rule_evaluation_failures(model));
    push(reload_failed(
        model,
        "PrometheusConfigReloadFailed",
        PROMETHEUS_JOB,
        "prometheus_config_last_reload_successful",
    ));
    push(reload_failed(
        model,
        "AlertmanagerConfigReloadFailed",
        ALERTMANAGER_JOB,
        "alertmanager_config_last_reload_successful",
    ));
    push(target_sync_failure(model));
    vec![
        watchdog_group(model),
        (
            RuleGroup {
                name: "monitoring-meta".into(),
                rules,
            },
            scenarios,
        ),
    ]
}

fn watchdog_group(model: &Model) -> (RuleGroup, Vec<Scenario>) {
    let mut rule = alerting_rule(
        model,
        WATCHDOG,
        "vector(1)".into(),
        "0s",
        Severity::Info,
        PROMETHEUS_JOB,
        "The alerting pipeline is alive".into(),
        "Always firing, on purpose: Alertmanager sends it to the heartbeat URL only, whose service pages when it stops arriving (Prometheus, Alertmanager or the way out is down).".into(),
    );
    rule.labels
        .insert("severity".into(), WATCHDOG_SEVERITY.into());
    let firing = Firing::of(&rule, &Default::default(), None)
        .into_iter()
        .collect();
    // No input at all: it fires anyway, from the first evaluation on.
    let scenario = Scenario::new(format!("{WATCHDOG}: fires without any series"), Vec::new())
        .expect(0, WATCHDOG, firing);
    (
        RuleGroup {
            name: "watchdog".into(),
            rules: vec![Rule::Alert(rule)],
        },
        vec![scenario],
    )
}

fn selector(metric: &str, job: &str) -> String {
    format!("{metric}{{job=\"{job}\"}}")
}

/// A counter scenario: `bad` grows by `per_step` each step, `good` stays flat.
fn counter_scenarios(
    rule: &AlertingRule,
    metric: &str,
    series_labels: &[(&str, &str)],
    output: &[(&str, &str)],
) -> Vec<Scenario> {
    let timing = timing(
        5 * 60,
        super::rules::seconds(rule.for_.as_deref().unwrap_or("0s")),
    );
    let output = output
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let firing = Firing::of(rule, &output, None).into_iter().collect();
    vec![
        Scenario::new(
            format!("{}: {metric} grows", rule.alert),
            vec![Series::new(
                metric,
                series_labels,
                counter("1", timing.samples),
            )],
        )
        .expect(timing.fire_at, &rule.alert, firing),
        Scenario::new(
            format!("{}: quiet while {metric} stays flat", rule.alert),
            vec![Series::new(
                metric,
                series_labels,
                constant("3", timing.samples),
            )],
        )
        .expect(timing.fire_at, &rule.alert, Vec::new()),
    ]
}

fn failed_notifications(model: &Model) -> (AlertingRule, Vec<Scenario>) {
    let failed = "alertmanager_notifications_failed_total";
    let total = "alertmanager_notifications_total";
    let ratio = super::number(FAILED_NOTIFICATIONS_RATIO);
    let rule = alerting_rule(
        model,
        "AlertmanagerFailedToSendAlerts",
        format!(
            "(\n  sum by (integration) (rate({}[5m]))\n/\n  sum by (integration) (rate({}[5m]))\n) > {ratio}",
            selector(failed, ALERTMANAGER_JOB),
            selector(total, ALERTMANAGER_JOB)
        ),
        "5m",
        Severity::Warning,
        ALERTMANAGER_JOB,
        "Alertmanager fails to send notifications through {{ $labels.integration }}".into(),
        format!(
            "More than {}% of the notifications Alertmanager sent through its {{{{ $labels.integration }}}} integration have failed for 5m: alerts routed there do not reach anyone. Its log names the receiver and the error.",
            super::number(FAILED_NOTIFICATIONS_RATIO * 100.0)
        ),
    );
    let timing = timing(5 * 60, 5 * 60);
    let instance = format!("alertmanager:{}", crate::model::ALERTMANAGER_PORT);
    let base = |integration: &'static str| {
        [
            ("instance", instance.clone()),
            ("integration", integration.to_string()),
            ("job", ALERTMANAGER_JOB.to_string()),
        ]
    };
    let series = |integration: &'static str, sent: &str, failing: &str| {
        let labels = base(integration);
        let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        vec![
            Series::new(total, &pairs, counter(sent, timing.samples)),
            Series::new(failed, &pairs, counter(failing, timing.samples)),
        ]
    };
    let output = [("integration".to_string(), "slack".to_string())]
        .into_iter()
        .collect();
    let firing: Vec<Firing> = Firing::of(&rule, &output, None).into_iter().collect();
    // Slack fails half its sends while e-mail delivers every one: only Slack alerts.
    let mut broken = series("slack", "10", "5");
    broken.extend(series("email", "10", "0"));
    let scenarios = vec![
        Scenario::new(
            "AlertmanagerFailedToSendAlerts: half of the Slack notifications fail",
            broken,
        )
        .expect(timing.fire_at, &rule.alert, firing),
        Scenario::new(
            "AlertmanagerFailedToSendAlerts: quiet when one in a thousand fails",
            series("slack", "1000", "1"),
        )
        .expect(timing.fire_at, &rule.alert, Vec::new()),
    ];
    (rule, scenarios)
}

fn rule_evaluation_failures(model: &Model) -> (AlertingRule, Vec<Scenario>) {
    let metric = "prometheus_rule_evaluation_failures_total";
    let rule = alerting_rule(
        model,
        "PrometheusRuleEvaluationFailures",
        format!(
            "sum by (rule_group) (increase({}[5m])) > 0",
            selector(metric, PROMETHEUS_JOB)
        ),
        "15m",
        Severity::Critical,
        PROMETHEUS_JOB,
        "Prometheus fails to evaluate the rules of {{ $labels.rule_group }}".into(),
        "Rules of {{ $labels.rule_group }} have failed to evaluate for 15m: the alerts and recorded series of that group are missing or stale, so alerts that should fire may not. The Prometheus log (or its /rules page) gives the error.".into(),
    );
    let group = "/etc/prometheus/rules/services.rules.yml;services";
    let scenarios = counter_scenarios(
        &rule,
        metric,
        &[
            ("instance", "localhost:9090"),
            ("job", PROMETHEUS_JOB),
            ("rule_group", group),
        ],
        &[("rule_group", group)],
    );
    (rule, scenarios)
}

fn reload_failed(
    model: &Model,
    alert: &str,
    job: &str,
    metric: &str,
) -> (AlertingRule, Vec<Scenario>) {
    let component = if job == PROMETHEUS_JOB {
        "Prometheus"
    } else {
        "Alertmanager"
    };
    let rule = alerting_rule(
        model,
        alert,
        format!("{} == 0", selector(metric, job)),
        "10m",
        Severity::Warning,
        job,
        format!("{component} failed to reload its configuration"),
        format!(
            "The last configuration reload of {component} failed 10m ago or more: it runs on the configuration it had before, not the rendered one. Its log names the error; `{}` checks the file.",
            if job == PROMETHEUS_JOB {
                "promtool check config"
            } else {
                "amtool check-config"
            }
        ),
    );
    let instance = if job == PROMETHEUS_JOB {
        "localhost:9090".to_string()
    } else {
        format!("alertmanager:{}", crate::model::ALERTMANAGER_PORT)
    };
    let scenarios = gauge_scenarios(
        &rule,
        job,
        metric,
        &[("instance", &instance), ("job", job)],
        "0",
        "1",
    );
    (rule, scenarios)
}

fn target_sync_failure(model: &Model) -> (AlertingRule, Vec<Scenario>) {
    let metric = "prometheus_target_sync_failed_total";
    let rule = alerting_rule(
        model,
        "PrometheusTargetSyncFailure",
        format!(
            "sum by (scrape_job) (increase({}[30m])) > 0",
            selector(metric, PROMETHEUS_JOB)
        ),
        "5m",
        Severity::Critical,
        PROMETHEUS_JOB,
        "Prometheus cannot sync the targets of {{ $labels.scrape_job }}".into(),
        "Prometheus has failed to create the scrape targets of {{ $labels.scrape_job }} in the last 30m: they are not scraped, and every alert on them is blind (their ServiceDown included). The Prometheus log gives the error.".into(),
    );
    let scenarios = counter_scenarios(
        &rule,
        metric,
        &[
            ("instance", "localhost:9090"),
            ("job", PROMETHEUS_JOB),
            ("scrape_job", "api"),
        ],
        &[("scrape_job", "api")],
    );
    (rule, scenarios)
}
