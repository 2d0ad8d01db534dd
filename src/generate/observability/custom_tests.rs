//! Custom alerts (`monitoring.custom_alerts`) and, where their expression allows it, their unit
//! tests.
//!
//! An arbitrary PromQL expression cannot be driven in general. This module parses it with
//! `promql-parser` and recognizes the common shape "a comparison with a number, over
//! `sum`/`min`/`max`/`avg` aggregations of one selector, possibly through `rate`, `irate`,
//! `increase` or `*_over_time`". For that shape it synthesizes a series that satisfies the
//! selector's matchers and carries the aggregations' grouping labels, with a value on either
//! side of the threshold: the alert must fire on one (after its `for`) and stay quiet on the
//! other. Any other shape gets no test, and [`untested_custom_alerts`] says why.

use std::collections::BTreeMap;

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{self, Expr, LabelModifier, VectorSelector};

use super::number;
use super::rule_tests::{Firing, STEP_SECONDS, Scenario, Series, constant, counter};
use super::rules::{AlertingRule, Rule, RuleGroup, seconds, severity_name, timing, whole_steps};
use crate::model::{CustomAlert, Model};

/// The custom alerts' rule group and the scenarios that test them.
pub(crate) fn custom_groups(model: &Model) -> Vec<(RuleGroup, Vec<Scenario>)> {
    let mut rules = Vec::new();
    let mut scenarios = Vec::new();
    for alert in &model.monitoring.custom_alerts {
        let rule = custom_rule(alert);
        if let Ok(s) = custom_scenarios(&rule) {
            scenarios.extend(s);
        }
        rules.push(Rule::Alert(rule));
    }
    vec![(
        RuleGroup {
            name: "custom".into(),
            rules,
        },
        scenarios,
    )]
}

/// Custom alerts without a unit test, with the reason.
pub fn untested_custom_alerts(model: &Model) -> Vec<(String, String)> {
    model
        .monitoring
        .custom_alerts
        .iter()
        .filter_map(|alert| match custom_scenarios(&custom_rule(alert)) {
            Ok(s) if s.iter().any(|s| s.alerts.iter().any(|c| !c.firing.is_empty())) => None,
            Ok(_) => Some((
                alert.name.clone(),
                "its annotations use template features blueprint cannot evaluate, so only the quiet case is tested"
                    .to_string(),
            )),
            Err(reason) => Some((alert.name.clone(), reason)),
        })
        .collect()
}

fn custom_rule(alert: &CustomAlert) -> AlertingRule {
    let mut labels = BTreeMap::from([(
        "severity".to_string(),
        severity_name(alert.severity).to_string(),
    )]);
    // Without a service in the model, the expression's own `service` label (if any) passes
    // through; a static one would overwrite it.
    if let Some(service) = &alert.service {
        labels.insert("service".to_string(), service.clone());
    }
    AlertingRule {
        alert: alert.name.clone(),
        expr: alert.expr.clone(),
        for_: (seconds(&alert.for_) > 0).then(|| alert.for_.clone()),
        labels,
        annotations: BTreeMap::from([
            ("summary".to_string(), alert.summary.clone()),
            ("description".to_string(), alert.description.clone()),
            ("runbook_url".to_string(), alert.runbook.clone()),
        ]),
    }
}

/// How the synthesized series produces the compared value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Driver {
    /// The value is the sample value.
    Gauge,
    /// The value is a counter's per-second rate (`rate`, `irate`): the counter grows by
    /// `value * step` each step. `range` seconds must pass before the window is full.
    Rate { range: u64 },
    /// The value is the increase over `range` seconds.
    Increase { range: u64 },
}

/// An aggregation between the selector and the comparison.
enum Layer {
    /// `by (labels)`: only these survive.
    By(Vec<String>),
    /// `without (labels)`: these are dropped.
    Without(Vec<String>),
}

/// A recognized expression: one selector, aggregations over it, and a comparison.
struct Shape {
    metric: String,
    matchers: Vec<Matcher>,
    layers: Vec<Layer>,
    driver: Driver,
    comparison: String,
    threshold: f64,
}

fn unparen(expr: &Expr) -> &Expr {
    match expr {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

fn literal(expr: &Expr) -> Option<f64> {
    match unparen(expr) {
        Expr::NumberLiteral(n) => Some(n.val),
        Expr::Unary(u) => literal(&u.expr).map(|v| -v),
        _ => None,
    }
}

fn mirrored(op: &str) -> &str {
    match op {
        ">" => "<",
        "<" => ">",
        ">=" => "<=",
        "<=" => ">=",
        other => other,
    }
}

fn shape(expr: &str) -> Result<Shape, String> {
    let parsed = parser::parse(expr).map_err(|e| format!("its expression does not parse: {e}"))?;
    let Expr::Binary(binary) = unparen(&parsed) else {
        return Err("its expression is not a comparison with a number".into());
    };
    let op = binary.op.to_string();
    if !binary.op.is_comparison_operator() || binary.return_bool() {
        return Err("its expression is not a filtering comparison with a number".into());
    }
    let (vector, threshold, comparison) = match (literal(&binary.rhs), literal(&binary.lhs)) {
        (Some(n), _) => (&*binary.lhs, n, op),
        (None, Some(n)) => (&*binary.rhs, n, mirrored(&op).to_string()),
        (None, None) => return Err("its comparison has no number side".into()),
    };
    let mut layers = Vec::new();
    let mut current = unparen(vector);
    loop {
        match current {
            Expr::Aggregate(aggregate) => {
                let name = aggregate.op.to_string();
                if !matches!(name.as_str(), "sum" | "min" | "max" | "avg")
                    || aggregate.param.is_some()
                {
                    return Err(format!(
                        "it aggregates with `{name}`, whose value blueprint cannot steer"
                    ));
                }
                layers.push(match &aggregate.modifier {
                    Some(LabelModifier::Include(l)) => Layer::By(l.labels.clone()),
                    Some(LabelModifier::Exclude(l)) => Layer::Without(l.labels.clone()),
                    None => Layer::By(Vec::new()),
                });
                current = unparen(&aggregate.expr);
            }
            Expr::VectorSelector(selector) => {
                let (metric, matchers) = selector_parts(selector)?;
                return Ok(Shape {
                    metric,
                    matchers,
                    layers,
                    driver: Driver::Gauge,
                    comparison,
                    threshold,
                });
            }
            Expr::Call(call) => {
                let [arg] = call.args.args.as_slice() else {
                    return Err(format!(
                        "it calls `{}` with other than one argument",
                        call.func.name
                    ));
                };
                let Expr::MatrixSelector(matrix) = unparen(arg) else {
                    return Err(format!(
                        "`{}` is not applied to a plain range selector",
                        call.func.name
                    ));
                };
                let range = matrix.range.as_secs();
                let driver = match call.func.name {
                    "rate" | "irate" => Driver::Rate { range },
                    "increase" => Driver::Increase { range },
                    "max_over_time" | "min_over_time" | "avg_over_time" | "last_over_time" => {
                        Driver::Gauge
                    }
                    other => {
                        return Err(format!(
                            "it uses `{other}`, whose value blueprint cannot steer"
                        ));
                    }
                };
                let (metric, matchers) = selector_parts(&matrix.vs)?;
                return Ok(Shape {
                    metric,
                    matchers,
                    layers,
                    driver,
                    comparison,
                    threshold,
                });
            }
            _ => return Err("its expression is more than aggregations over one selector".into()),
        }
    }
}

fn selector_parts(selector: &VectorSelector) -> Result<(String, Vec<Matcher>), String> {
    if selector.offset.is_some() || selector.at.is_some() {
        return Err("its selector uses `offset` or `@`".into());
    }
    if !selector.matchers.or_matchers.is_empty() {
        return Err("its selector uses `or` between matchers".into());
    }
    let from_matcher = selector
        .matchers
        .matchers
        .iter()
        .find(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
        .map(|m| m.value.clone());
    let metric = selector
        .name
        .clone()
        .or(from_matcher)
        .ok_or("its selector has no metric name")?;
    let matchers = selector
        .matchers
        .matchers
        .iter()
        .filter(|m| m.name != "__name__")
        .cloned()
        .collect();
    Ok((metric, matchers))
}

/// A label value satisfying a matcher, or `None` when the label must be left out.
fn satisfying_value(matcher: &Matcher) -> Result<Option<String>, String> {
    if matcher.is_match("") {
        return Ok(None);
    }
    // Alternatives of the regex first, with `.` wildcards as digits (`5..` -> `500`).
    let mut candidates: Vec<String> = matcher
        .value
        .split('|')
        .flat_map(|alternative| [alternative.replace('.', "0"), alternative.to_string()])
        .collect();
    candidates.push("example".into());
    candidates
        .into_iter()
        .find(|c| !c.is_empty() && matcher.is_match(c))
        .map(Some)
        .ok_or_else(|| {
            format!(
                "blueprint cannot find a value of `{}` matching `{}`",
                matcher.name, matcher.value
            )
        })
}

/// The sample values on each side of the threshold: one that satisfies the comparison and one
/// that does not, each with a clear margin so rate arithmetic cannot tip it.
fn sides(comparison: &str, threshold: f64) -> (Option<f64>, Option<f64>) {
    let t = threshold;
    let (above, below) = if t > 0.0 {
        (t * 2.0, t / 2.0)
    } else if t < 0.0 {
        (t / 2.0, t * 2.0)
    } else {
        (1.0, -1.0)
    };
    match comparison {
        ">" => (Some(above), Some(if t == 0.0 { 0.0 } else { below })),
        ">=" => (Some(above), Some(below)),
        "<" => (Some(below), Some(if t == 0.0 { 0.0 } else { above })),
        "<=" => (Some(below), Some(above)),
        "==" => (Some(t), Some(if t == 0.0 { 1.0 } else { above })),
        "!=" => (Some(if t == 0.0 { 1.0 } else { above }), Some(t)),
        _ => (None, None),
    }
}

fn custom_scenarios(rule: &AlertingRule) -> Result<Vec<Scenario>, String> {
    let shape = shape(&rule.expr)?;
    let mut series_labels: BTreeMap<String, String> = BTreeMap::new();
    for matcher in &shape.matchers {
        if let Some(value) = satisfying_value(matcher)? {
            series_labels.insert(matcher.name.clone(), value);
        }
    }
    for layer in &shape.layers {
        if let Layer::By(grouping) = layer {
            for label in grouping {
                if !series_labels.contains_key(label)
                    && shape
                        .matchers
                        .iter()
                        .all(|m| m.name != *label || m.is_match("example"))
                {
                    series_labels.insert(label.clone(), "example".into());
                }
            }
        }
    }
    // The result's labels: the series', narrowed by each aggregation from the inside out.
    let mut output = series_labels.clone();
    for layer in shape.layers.iter().rev() {
        match layer {
            Layer::By(keep) => output.retain(|k, _| keep.contains(k)),
            Layer::Without(drop) => output.retain(|k, _| !drop.contains(k)),
        }
    }
    let (firing_value, quiet_value) = sides(&shape.comparison, shape.threshold);
    let warmup = match shape.driver {
        Driver::Gauge => 0,
        Driver::Rate { range } | Driver::Increase { range } => {
            whole_steps(range).saturating_add(STEP_SECONDS)
        }
    };
    let timing = timing(warmup, seconds(rule.for_.as_deref().unwrap_or("0s")));
    let values = |value: f64| -> Option<String> {
        match shape.driver {
            Driver::Gauge => Some(constant(&number(value), timing.samples)),
            Driver::Rate { .. } | Driver::Increase { .. } if value < 0.0 => None,
            Driver::Rate { .. } => Some(counter(
                &number(value * STEP_SECONDS as f64),
                timing.samples,
            )),
            Driver::Increase { range } if range > 0 => Some(counter(
                &number(value * STEP_SECONDS as f64 / range as f64),
                timing.samples,
            )),
            Driver::Increase { .. } => None,
        }
    };
    let exact = |value: f64| (shape.driver == Driver::Gauge).then_some(value);
    let series_with = |values: String| {
        vec![Series {
            name: shape.metric.clone(),
            labels: series_labels.clone(),
            values,
        }]
    };

    let mut scenarios = Vec::new();
    let rate_equality = shape.driver != Driver::Gauge && shape.comparison == "==";
    let firing_case = firing_value
        .filter(|_| !rate_equality)
        .and_then(|v| values(v).map(|s| (v, s)))
        .and_then(|(v, s)| Firing::of(rule, &output, exact(v)).map(|f| (v, s, f)));
    if let Some((value, samples, firing)) = firing_case {
        let mut scenario = Scenario::new(
            format!(
                "{}: fires at {} {}",
                rule.alert,
                shape.metric,
                number(value)
            ),
            series_with(samples),
        );
        if let Some(pending_at) = timing.pending_at {
            scenario = scenario.expect(pending_at, &rule.alert, Vec::new());
        }
        scenarios.push(scenario.expect(timing.fire_at, &rule.alert, vec![firing]));
    }
    if let Some((value, samples)) = quiet_value.and_then(|v| values(v).map(|s| (v, s))) {
        scenarios.push(
            Scenario::new(
                format!(
                    "{}: quiet at {} {}",
                    rule.alert,
                    shape.metric,
                    number(value)
                ),
                series_with(samples),
            )
            .expect(timing.fire_at, &rule.alert, Vec::new()),
        );
    }
    if scenarios.is_empty() {
        return Err("no series on either side of its threshold can be built".into());
    }
    Ok(scenarios)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(expr: &str, summary: &str) -> AlertingRule {
        custom_rule(&CustomAlert {
            name: "Custom".into(),
            expr: expr.into(),
            for_: "5m".into(),
            severity: crate::blueprint::Severity::Warning,
            summary: summary.into(),
            description: "d".into(),
            runbook: "https://runbooks.example/Custom.md".into(),
            service: Some("api".into()),
        })
    }

    fn only_firing(scenarios: &[Scenario]) -> &Firing {
        let firing: Vec<&Firing> = scenarios
            .iter()
            .flat_map(|s| &s.alerts)
            .flat_map(|c| &c.firing)
            .collect();
        assert_eq!(firing.len(), 1, "{scenarios:#?}");
        firing[0]
    }

    #[test]
    fn grouped_gauges_get_their_grouping_labels() {
        let scenarios = custom_scenarios(&rule(
            "max by (dataset) (rows{kind=\"lake\"}) > 0",
            "on {{ $labels.dataset }}",
        ))
        .expect("supported");
        let firing = only_firing(&scenarios);
        assert_eq!(
            firing.exp_labels.get("dataset").map(String::as_str),
            Some("example")
        );
        assert!(
            !firing.exp_labels.contains_key("kind"),
            "max by (dataset) drops kind"
        );
        assert_eq!(
            firing.exp_labels.get("service").map(String::as_str),
            Some("api")
        );
        assert_eq!(
            firing.exp_annotations.get("summary").map(String::as_str),
            Some("on example")
        );
        assert_eq!(
            scenarios[0].series[0].selector(),
            "rows{dataset=\"example\", kind=\"lake\"}"
        );
        assert_eq!(scenarios[0].series[0].values, "1x12");
        assert_eq!(scenarios[1].series[0].values, "0x12");
    }

    #[test]
    fn rates_grow_counters_and_regexes_get_a_matching_value() {
        let scenarios = custom_scenarios(&rule(
            "sum(rate(http_requests_total{code=~\"5..|429\"}[5m])) > 2",
            "s",
        ))
        .expect("supported");
        assert_eq!(
            scenarios[0].series[0].selector(),
            "http_requests_total{code=\"500\"}"
        );
        assert!(
            scenarios[0].series[0].values.starts_with("0+240x"),
            "{:?}",
            scenarios[0].series
        );
        assert!(
            scenarios[1].series[0].values.starts_with("0+60x"),
            "{:?}",
            scenarios[1].series
        );
    }

    #[test]
    fn a_number_on_the_left_mirrors_the_comparison() {
        let scenarios = custom_scenarios(&rule("10 > free_bytes", "s")).expect("supported");
        assert_eq!(
            scenarios[0].series[0].values, "5x12",
            "firing needs free_bytes < 10"
        );
        assert_eq!(scenarios[1].series[0].values, "20x12");
    }

    #[test]
    fn values_in_annotations_are_expanded_for_gauges_only() {
        let gauge =
            custom_scenarios(&rule("queue_depth > 100", "depth {{ $value }}")).expect("supported");
        assert_eq!(only_firing(&gauge).exp_annotations["summary"], "depth 200");
        let rate = custom_scenarios(&rule("rate(x_total[5m]) > 1", "rate {{ $value }}"))
            .expect("supported");
        assert!(
            rate.iter()
                .all(|s| s.alerts.iter().all(|c| c.firing.is_empty())),
            "rate values are not exact"
        );
    }

    #[test]
    fn unsupported_shapes_say_why() {
        for expr in [
            "absent(up{job=\"api\"})",
            "up == 0 and on() vector(1)",
            "count(up) > 3",
            "histogram_quantile(0.9, rate(h_bucket[5m])) > 1",
            "x{a=~\".*\"} offset 5m > 1",
        ] {
            assert!(
                custom_scenarios(&rule(expr, "s")).is_err(),
                "{expr} should be unsupported"
            );
        }
    }
}
