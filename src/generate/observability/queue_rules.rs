//! Work queues: the Redis lists a `redis` store carries (`stores.<store>.queues`), whose length a
//! redis_exporter reports as `redis_key_size{key="<queue>"}` (`--check-single-keys`).
//!
//! Three alerts per store, after awesome-prometheus-alerts' Redis rules and the SRE workbook's
//! advice to alert on the symptom a user sees (work not done) rather than on each worker:
//! - `RedisDown`: the exporter answers but cannot reach Redis (`redis_up == 0`); the exporter
//!   itself being down is its ServiceDown;
//! - `QueueBacklog` (per queue): more than `monitoring.alerts.queue_backlog.threshold` items
//!   wait, for its `for`: workers too few or too slow;
//! - `QueueStalled` (per queue): the queue is not empty and has not shrunk over 5m, for
//!   `queue_stalled.for` (15m): no worker is taking from it (all stopped or stuck). This is the
//!   worker-liveness signal: the `python-worker` preset exposes no endpoint to scrape, and a
//!   queue that drains, however slowly, shows that workers live.

use super::rule_tests::{Firing, Scenario, Series, constant};
use super::rules::{
    AlertingRule, Rule, RuleGroup, alerting_rule, gauge_scenarios, seconds, store_unreachable,
    timing,
};
use super::{REDIS_EXPORTER_PORT, exporter_host, number, queue_stores};
use crate::model::{AlertFamily, Model, Store};

/// The rule file's stem: `monitoring/prometheus/rules/queues.rules.yml`.
pub const FILE: &str = "queues";
/// The metric redis_exporter reports a checked key's length as.
pub const QUEUE_LENGTH: &str = "redis_key_size";
/// The window over which a stalled queue has not shrunk.
const STALL_WINDOW: &str = "5m";

/// The `queues` group, when some `redis` store carries queues.
pub(crate) fn queue_groups(model: &Model) -> Vec<(RuleGroup, Vec<Scenario>)> {
    let alerts = &model.monitoring.alerts;
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    let mut push = |(rule, s): (AlertingRule, Vec<Scenario>)| {
        rules.push(Rule::Alert(rule));
        scenarios.extend(s);
    };
    for store in queue_stores(model) {
        if alerts.service_down.enabled {
            push(redis_down(model, &alerts.service_down, store));
        }
        for queue in &store.queues {
            if alerts.queue_backlog.enabled {
                push(backlog(model, &alerts.queue_backlog, store, queue));
            }
            if alerts.queue_stalled.enabled {
                push(stalled(model, &alerts.queue_stalled, store, queue));
            }
        }
    }
    if rules.is_empty() {
        return Vec::new();
    }
    vec![(
        RuleGroup {
            name: "queues".into(),
            rules,
        },
        scenarios,
    )]
}

fn instance(store: &Store) -> String {
    format!("{}:{REDIS_EXPORTER_PORT}", exporter_host(store))
}

/// The selector of one queue's length.
pub fn length_selector(store: &Store, queue: &str) -> String {
    format!(
        "{QUEUE_LENGTH}{{job=\"{}\",key=\"{queue}\"}}",
        exporter_host(store)
    )
}

fn redis_down(model: &Model, family: &AlertFamily, store: &Store) -> (AlertingRule, Vec<Scenario>) {
    let job = exporter_host(store);
    store_unreachable(
        model,
        family,
        store,
        ("RedisDown", "redis_up", REDIS_EXPORTER_PORT),
        format!("Redis {} is unreachable", store.name),
        format!(
            "redis_exporter ({job}) has not been able to connect to the {} Redis for {}: its queues are neither filled nor drained.",
            store.name, family.for_
        ),
    )
}

/// The labels redis_exporter gives a checked key's length (`db0`: the lists live in database 0).
fn series_labels<'a>(queue: &'a str, instance: &'a str, job: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("db", "db0"),
        ("instance", instance),
        ("job", job),
        ("key", queue),
    ]
}

fn backlog(
    model: &Model,
    family: &AlertFamily,
    store: &Store,
    queue: &str,
) -> (AlertingRule, Vec<Scenario>) {
    let threshold = number(family.threshold);
    let rule = alerting_rule(
        model,
        "QueueBacklog",
        format!("{} > {threshold}", length_selector(store, queue)),
        &family.for_,
        family.severity,
        &store.name,
        format!("Queue {queue} has a backlog"),
        format!(
            "More than {threshold} items have been waiting on the queue {queue} (Redis store {}) for {}: the workers are too few or too slow for what comes in.",
            store.name, family.for_
        ),
    );
    let job = exporter_host(store);
    let instance = instance(store);
    let labels = series_labels(queue, &instance, &job);
    let scenarios = gauge_scenarios(
        &rule,
        queue,
        QUEUE_LENGTH,
        &labels,
        &number(family.threshold * 2.0 + 1.0),
        &number((family.threshold / 2.0).floor()),
    );
    (rule, scenarios)
}

fn stalled(
    model: &Model,
    family: &AlertFamily,
    store: &Store,
    queue: &str,
) -> (AlertingRule, Vec<Scenario>) {
    let length = length_selector(store, queue);
    let rule = alerting_rule(
        model,
        "QueueStalled",
        format!("{length} > 0\nand\ndelta({length}[{STALL_WINDOW}]) >= 0"),
        &family.for_,
        family.severity,
        &store.name,
        format!("No worker takes from queue {queue}"),
        format!(
            "The queue {queue} (Redis store {}) has been neither empty nor shrinking for {}: no worker is taking from it (all stopped, crashing or stuck on one item).",
            store.name, family.for_
        ),
    );
    let job = exporter_host(store);
    let instance = instance(store);
    let labels = series_labels(queue, &instance, &job);
    // One step of warm-up: `delta` needs two samples.
    let timing = timing(60, seconds(&family.for_));
    let output = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let firing: Vec<Firing> = Firing::of(&rule, &output, None).into_iter().collect();
    let scenario = |name: String, values: String| {
        Scenario::new(name, vec![Series::new(QUEUE_LENGTH, &labels, values)])
    };
    let scenarios = vec![
        scenario(
            format!("QueueStalled: {queue} holds 7 items that no one takes"),
            constant("7", timing.samples),
        )
        .expect(timing.fire_at, &rule.alert, firing),
        // Slow but alive: one item fewer every step, never empty.
        scenario(
            format!("QueueStalled: quiet while {queue} drains, however slowly"),
            format!("{}-1x{}", timing.samples + 100, timing.samples),
        )
        .expect(timing.fire_at, &rule.alert, Vec::new()),
        scenario(
            format!("QueueStalled: quiet while {queue} is empty"),
            constant("0", timing.samples),
        )
        .expect(timing.fire_at, &rule.alert, Vec::new()),
    ];
    (rule, scenarios)
}
