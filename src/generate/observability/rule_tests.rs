//! promtool unit tests (`promtool test rules`) for the generated rules.
//!
//! The rule builders in [`super::rules`] describe, next to each rule, the situations it must
//! and must not fire in ([`Scenario`]): input series computed from the same model values as the
//! rule (threshold, `for`, staleness window), and the exact alerts expected at given times. This
//! module turns them into test files under `monitoring/prometheus/tests/`, whose `rule_files`
//! point at `../rules/*.rules.yml` relative to the test file.

use std::collections::BTreeMap;

use serde::Serialize;

use super::rules::{AlertingRule, Catalog};
use crate::generate::to_yaml;
use crate::syntax::format_duration;

/// How far apart input samples are, and the tests' rule evaluation interval, unless a suite
/// needs longer steps to cover days cheaply.
pub const STEP_SECONDS: u64 = 60;

/// One input series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The metric name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// promtool's expanding notation (`0+60x30`), one sample per step of the suite.
    pub values: String,
}

impl Series {
    /// A series from a metric name and `(label, value)` pairs.
    pub fn new(name: &str, labels: &[(&str, &str)], values: String) -> Self {
        Self {
            name: name.to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            values,
        }
    }

    /// The series in selector syntax (`up{job="api"}`), label values escaped.
    pub fn selector(&self) -> String {
        selector(&self.name, &self.labels)
    }
}

/// `name{label="value",...}` with PromQL string escaping.
pub fn selector(name: &str, labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{name}{{{}}}", inner.join(", "))
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A constant series of `samples + 1` samples (`5x30`).
pub fn constant(value: &str, samples: u64) -> String {
    format!("{value}x{samples}")
}

/// A counter growing by `per_step` each step from zero (`0+60x30`).
pub fn counter(per_step: &str, samples: u64) -> String {
    format!("0+{per_step}x{samples}")
}

/// One alert expected to be firing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Firing {
    /// Every label of the alert except `alertname`, which promtool adds itself.
    pub exp_labels: BTreeMap<String, String>,
    /// Every annotation, templates expanded.
    pub exp_annotations: BTreeMap<String, String>,
}

impl Firing {
    /// The alert `rule` raises for an expression result with `output` labels and `value`: the
    /// result's labels overlaid with the rule's, and the annotations expanded with the result's
    /// labels (`$labels` in Prometheus templates is the expression result, not the rule labels).
    /// `None` when an annotation uses template features this module cannot evaluate.
    pub fn of(
        rule: &AlertingRule,
        output: &BTreeMap<String, String>,
        value: Option<f64>,
    ) -> Option<Self> {
        let mut exp_labels: BTreeMap<String, String> = output
            .iter()
            .filter(|(k, _)| k.as_str() != "__name__")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        exp_labels.extend(rule.labels.clone());
        exp_labels.retain(|_, v| !v.is_empty());
        let mut exp_annotations = BTreeMap::new();
        for (key, text) in &rule.annotations {
            exp_annotations.insert(key.clone(), expand_template(text, output, value)?);
        }
        Some(Self {
            exp_labels,
            exp_annotations,
        })
    }
}

/// What one alert must look like at one evaluation time.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertCheck {
    /// Seconds since the start of the test.
    pub at_seconds: u64,
    /// The alert name.
    pub alertname: String,
    /// The alerts firing then; empty means none may fire.
    pub firing: Vec<Firing>,
}

/// The value a PromQL expression must have at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleCheck {
    /// The expression (a recorded series).
    pub expr: String,
    /// Seconds since the start of the test.
    pub at_seconds: u64,
    /// Expected samples: series selector and value.
    pub samples: Vec<(String, f64)>,
}

/// Input series and what must hold over them: one promtool test group.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// What the scenario is about (`api answers with 4% 5xx`).
    pub name: String,
    /// The input series.
    pub series: Vec<Series>,
    /// Alert checks.
    pub alerts: Vec<AlertCheck>,
    /// Expression checks.
    pub samples: Vec<SampleCheck>,
}

impl Scenario {
    /// A scenario without checks yet.
    pub fn new(name: impl Into<String>, series: Vec<Series>) -> Self {
        Self {
            name: name.into(),
            series,
            alerts: Vec::new(),
            samples: Vec::new(),
        }
    }

    /// Adds an alert check.
    pub fn expect(mut self, at_seconds: u64, alertname: &str, firing: Vec<Firing>) -> Self {
        self.alerts.push(AlertCheck {
            at_seconds,
            alertname: alertname.to_string(),
            firing,
        });
        self
    }
}

/// The tests of one rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSuite {
    /// The rule file's stem (`services`): the test file is `tests/<stem>.test.yml`.
    pub name: String,
    /// Stems of the rule files the tests load (their own and the recording rules they use).
    pub rule_files: Vec<String>,
    /// The scenarios.
    pub scenarios: Vec<Scenario>,
    /// Sample spacing and evaluation interval of every scenario of the suite.
    pub step_seconds: u64,
}

/// A rendered test file.
#[derive(Debug, Clone, PartialEq)]
pub struct TestFile {
    /// The stem (`services`).
    pub name: String,
    document: TestDocument,
}

impl TestFile {
    /// Its path relative to the output root.
    pub fn path(&self) -> String {
        format!("monitoring/prometheus/tests/{}.test.yml", self.name)
    }

    /// Its YAML.
    pub fn render(&self) -> String {
        to_yaml(&self.document)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct TestDocument {
    rule_files: Vec<String>,
    evaluation_interval: String,
    tests: Vec<TestGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct TestGroup {
    name: String,
    interval: String,
    input_series: Vec<InputSeries>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alert_rule_test: Vec<AlertRuleTest>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    promql_expr_test: Vec<PromqlExprTest>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct AlertRuleTest {
    eval_time: String,
    alertname: String,
    exp_alerts: Vec<Firing>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct PromqlExprTest {
    expr: String,
    eval_time: String,
    exp_samples: Vec<ExpectedSample>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct ExpectedSample {
    labels: String,
    value: f64,
}

/// The test files of a catalog: one per rule file with scenarios.
pub fn test_files(catalog: &Catalog) -> Vec<TestFile> {
    catalog
        .tests
        .iter()
        .filter(|suite| !suite.scenarios.is_empty())
        .map(|suite| TestFile {
            name: suite.name.clone(),
            document: TestDocument {
                rule_files: suite
                    .rule_files
                    .iter()
                    .map(|stem| format!("../rules/{stem}.rules.yml"))
                    .collect(),
                evaluation_interval: format_duration(suite.step_seconds),
                tests: suite
                    .scenarios
                    .iter()
                    .map(|s| test_group(s, suite.step_seconds))
                    .collect(),
            },
        })
        .collect()
}

fn test_group(scenario: &Scenario, step_seconds: u64) -> TestGroup {
    TestGroup {
        name: scenario.name.clone(),
        interval: format_duration(step_seconds),
        input_series: scenario
            .series
            .iter()
            .map(|s| InputSeries {
                series: s.selector(),
                values: s.values.clone(),
            })
            .collect(),
        alert_rule_test: scenario
            .alerts
            .iter()
            .map(|check| AlertRuleTest {
                eval_time: format_duration(check.at_seconds),
                alertname: check.alertname.clone(),
                exp_alerts: check.firing.clone(),
            })
            .collect(),
        promql_expr_test: scenario
            .samples
            .iter()
            .map(|check| PromqlExprTest {
                expr: check.expr.clone(),
                eval_time: format_duration(check.at_seconds),
                exp_samples: check
                    .samples
                    .iter()
                    .map(|(labels, value)| ExpectedSample {
                        labels: labels.clone(),
                        value: *value,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Expands the subset of Prometheus' alert templates whose output is certain: literal text,
/// `{{ "{{" }}`, `{{ $labels.NAME }}` (a missing label expands to nothing) and `{{ $value }}`
/// for values Go prints the same way Rust does. Anything else (pipelines, functions, `.Labels`, trim markers)
/// gives `None`: the caller then skips the firing test rather than guess.
pub fn expand_template(
    text: &str,
    labels: &BTreeMap<String, String>,
    value: Option<f64>,
) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        let action = after[..end].trim();
        if let Some(name) = action.strip_prefix("$labels.") {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            out.push_str(labels.get(name).map(String::as_str).unwrap_or_default());
        } else if action == "$value" {
            out.push_str(&go_float(value?)?);
        } else if action == "\"{{\"" {
            // How blueprint writes a literal `{{`.
            out.push_str("{{");
        } else {
            return None;
        }
        rest = &after[end + 2..];
    }
    // A `}}` outside an action is text to Go's template lexer, which looks only for `{{`.
    out.push_str(rest);
    Some(out)
}

/// Go's `%v` of a float64, where it is certain to match Rust's shortest form: Go switches to
/// exponent notation below 1e-4 and from 1e21.
fn go_float(value: f64) -> Option<String> {
    let magnitude = value.abs();
    if !value.is_finite() || (magnitude != 0.0 && !(1e-4..1e21).contains(&magnitude)) {
        return None;
    }
    Some(format!("{value}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn templates_expand_labels_and_values() {
        let l = labels(&[("dataset", "prices")]);
        assert_eq!(
            expand_template(
                "disagree on {{ $labels.dataset }} ({{$value}} rows)",
                &l,
                Some(3.0)
            )
            .as_deref(),
            Some("disagree on prices (3 rows)")
        );
        assert_eq!(
            expand_template("{{ $labels.missing }}!", &l, None).as_deref(),
            Some("!")
        );
        assert_eq!(expand_template("plain", &l, None).as_deref(), Some("plain"));
    }

    #[test]
    fn unknown_template_features_are_refused() {
        let l = labels(&[]);
        assert_eq!(
            expand_template("{{ $value | humanize }}", &l, Some(1.0)),
            None
        );
        assert_eq!(expand_template("{{ .Labels.x }}", &l, None), None);
        assert_eq!(expand_template("{{- $labels.x -}}", &l, None), None);
        assert_eq!(expand_template("{{ $value }}", &l, Some(1e-7)), None);
        assert_eq!(expand_template("unclosed {{ $value", &l, Some(1.0)), None);
        assert_eq!(
            expand_template("a {{ \"{{\" }} b }}", &l, None).as_deref(),
            Some("a {{ b }}"),
            "a `}}` outside an action is text"
        );
        assert_eq!(
            expand_template("a {{ \"{{\" }} b", &l, None).as_deref(),
            Some("a {{ b")
        );
    }

    #[test]
    fn selectors_escape_label_values() {
        let s = Series::new("m", &[("a", "x\"y"), ("b", "c\\d")], constant("1", 3));
        assert_eq!(s.selector(), r#"m{a="x\"y", b="c\\d"}"#);
    }
}
