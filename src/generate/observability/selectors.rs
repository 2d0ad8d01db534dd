//! Which series a PromQL expression selects, and whether a platform's render produces them.
//!
//! A rule or a panel is only worth rendering where something scrapes, pushes or records the
//! series it reads: on Kubernetes the cluster's Prometheus has no `alertmanager`, `blackbox` or
//! `grafana` job of ours (kube-prometheus-stack names and alerts on its own components), so an
//! alert over `up{job="blackbox"}` could never fire there. [`Produced`] holds what a platform
//! produces, the `job` labels its scrape configs, monitors and Pushgateway pushes give, and the
//! series its recording rules record; [`Produced::reads_only_produced`] tells whether every
//! selector of an expression can match.

use std::collections::{BTreeMap, BTreeSet};

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{self, Expr, VectorSelector};

/// What one platform's Prometheus has: jobs and recorded series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Produced {
    /// The `job` label values its targets and pushes carry.
    pub jobs: BTreeSet<String>,
    /// Recorded series: name and the fixed labels the recording rule adds.
    pub recorded: Vec<(String, BTreeMap<String, String>)>,
}

impl Produced {
    /// A platform whose series carry these `job` labels, before any recording rule.
    pub fn jobs(jobs: impl IntoIterator<Item = String>) -> Self {
        Self {
            jobs: jobs.into_iter().collect(),
            recorded: Vec::new(),
        }
    }

    /// Adds a recording rule's output.
    pub fn record(&mut self, name: &str, labels: &BTreeMap<String, String>) {
        self.recorded.push((name.to_string(), labels.clone()));
    }

    /// Whether every selector of `expr` can match a series of this platform: a selector with a
    /// `job` matcher needs a job it matches; one naming a recorded series needs a recording
    /// rule whose labels it accepts; any other (`up`, `ALERTS`, a custom alert's own metric)
    /// is not tied to a job of ours and counts as produced. An expression that does not parse
    /// counts as produced (validation reports it).
    pub fn reads_only_produced(&self, expr: &str) -> bool {
        match parse(expr) {
            Ok(parsed) => self.unproduced(&parsed).is_empty(),
            Err(_) => true,
        }
    }

    /// The selectors of `expr` that match nothing here, as written (`up{job="blackbox"}`).
    pub fn unproduced(&self, expr: &Expr) -> Vec<String> {
        selectors(expr)
            .into_iter()
            .filter(|s| !self.produces(s))
            .map(|s| s.to_string())
            .collect()
    }

    fn produces(&self, selector: &VectorSelector) -> bool {
        let matchers: Vec<&Matcher> = selector.matchers.matchers.iter().collect();
        if let Some(job) = matchers.iter().find(|m| m.name == "job") {
            return self.jobs.iter().any(|j| job.is_match(j));
        }
        let name = selector.name.clone().or_else(|| {
            matchers
                .iter()
                .find(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
                .map(|m| m.value.clone())
        });
        let Some(name) = name else {
            return true;
        };
        let recordings: Vec<&BTreeMap<String, String>> = self
            .recorded
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, l)| l)
            .collect();
        if recordings.is_empty() {
            // Recorded series follow the `level:metric:operations` convention; one with no
            // recording rule here is missing, a plain metric name is not ours to judge.
            return !name.contains(':');
        }
        recordings.iter().any(|labels| {
            matchers
                .iter()
                .filter(|m| m.name != "__name__")
                .all(|m| labels.get(&m.name).is_none_or(|v| m.is_match(v)))
        })
    }
}

/// Parses a rule expression or a Grafana query, whose `$__rate_interval` (and the other range
/// variables Grafana fills in) read as a range.
pub fn parse(expr: &str) -> Result<Expr, String> {
    let mut text = expr.to_string();
    for variable in ["$__rate_interval", "$__interval", "$__range"] {
        text = text.replace(variable, "5m");
    }
    parser::parse(&text)
}

/// Every vector selector of `expr`, those under range selectors and subqueries included.
pub fn selectors(expr: &Expr) -> Vec<&VectorSelector> {
    let mut out = Vec::new();
    collect(expr, &mut out);
    out
}

fn collect<'a>(expr: &'a Expr, out: &mut Vec<&'a VectorSelector>) {
    match expr {
        Expr::Aggregate(a) => {
            collect(&a.expr, out);
            if let Some(param) = &a.param {
                collect(param, out);
            }
        }
        Expr::Unary(u) => collect(&u.expr, out),
        Expr::Binary(b) => {
            collect(&b.lhs, out);
            collect(&b.rhs, out);
        }
        Expr::Paren(p) => collect(&p.expr, out),
        Expr::Subquery(s) => collect(&s.expr, out),
        Expr::VectorSelector(v) => out.push(v),
        Expr::MatrixSelector(m) => out.push(&m.vs),
        Expr::Call(c) => {
            for arg in &c.args.args {
                collect(arg, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::test_support::{all_models, yaml_value};
    use super::*;
    use crate::generate::GeneratedFile;
    use crate::model::Model;

    /// The documents of every rendered file under `prefix` with a YAML extension.
    fn yaml_documents(files: &[GeneratedFile], prefix: &str) -> Vec<(String, Value)> {
        files
            .iter()
            .filter(|f| f.path.starts_with(prefix))
            .filter(|f| f.path.ends_with(".yml") || f.path.ends_with(".yaml"))
            .flat_map(|f| {
                f.contents
                    .split("\n---\n")
                    .map(|d| (f.path.clone(), yaml_value(d)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Rule expressions and panel queries of a platform, with where they come from.
    fn queries(rule_groups: &[Value], dashboards: &[Value]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for group in rule_groups {
            for rule in group["rules"].as_array().into_iter().flatten() {
                let name = rule["alert"].as_str().or(rule["record"].as_str());
                out.push((
                    format!("rule {}", name.unwrap_or_default()),
                    rule["expr"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        for dashboard in dashboards {
            for panel in dashboard["panels"].as_array().into_iter().flatten() {
                for target in panel["targets"].as_array().into_iter().flatten() {
                    out.push((
                        format!(
                            "panel {} of {}",
                            panel["title"].as_str().unwrap_or_default(),
                            dashboard["title"].as_str().unwrap_or_default()
                        ),
                        target["expr"].as_str().unwrap_or_default().to_string(),
                    ));
                }
            }
        }
        out
    }

    /// Every selector of `queries` reads what `jobs` and the recording rules among
    /// `rule_groups` produce; custom alerts are the user's and only parsed.
    fn assert_all_produced(
        what: &str,
        model: &Model,
        jobs: BTreeSet<String>,
        rule_groups: &[Value],
        dashboards: &[Value],
    ) {
        let mut produced = Produced::jobs(jobs);
        for group in rule_groups {
            for rule in group["rules"].as_array().into_iter().flatten() {
                if let Some(record) = rule["record"].as_str() {
                    let labels = rule["labels"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect();
                    produced.record(record, &labels);
                }
            }
        }
        let custom: Vec<String> = model
            .monitoring
            .custom_alerts
            .iter()
            .map(|c| format!("rule {}", c.name))
            .collect();
        let mut dead = Vec::new();
        for (source, expr) in queries(rule_groups, dashboards) {
            let parsed = parse(&expr).unwrap_or_else(|e| panic!("{what}: {source}: {e}"));
            if custom.contains(&source) {
                continue;
            }
            for selector in produced.unproduced(&parsed) {
                dead.push(format!("{source}: {selector}"));
            }
        }
        assert!(
            dead.is_empty(),
            "{what}: selectors nothing produces (jobs {:?}):\n{}",
            produced.jobs,
            dead.join("\n")
        );
    }

    /// The jobs come from the rendered Prometheus configurations (and, for pushes, the
    /// scheduled jobs): independent of the model-side filter the generators use.
    #[test]
    fn every_compose_rule_and_panel_reads_series_the_compose_stack_produces() {
        for (name, model) in all_models() {
            let files = crate::generate::all(&model);
            let mut jobs = BTreeSet::new();
            let mut pushgateway = false;
            for (path, doc) in yaml_documents(&files, "monitoring/prometheus/prometheus.") {
                for scrape in doc["scrape_configs"].as_array().into_iter().flatten() {
                    let job = scrape["job_name"].as_str().unwrap_or_default();
                    pushgateway |= job == "pushgateway";
                    jobs.insert(job.to_string());
                }
                assert!(!jobs.is_empty(), "{name}: {path} scrapes nothing");
            }
            if jobs.is_empty() {
                continue;
            }
            if pushgateway {
                for env in model.environments.iter().filter(|e| e.on_compose()) {
                    jobs.extend(super::super::jobs_in(&model, env).map(|j| j.name.clone()));
                }
                for (_, backup) in model.backups() {
                    jobs.insert(backup.job.clone());
                    jobs.extend(backup.restore_test.iter().map(|t| t.job.clone()));
                }
            }
            let groups: Vec<Value> = yaml_documents(&files, "monitoring/prometheus/rules/")
                .into_iter()
                .flat_map(|(_, d)| d["groups"].as_array().cloned().unwrap_or_default())
                .collect();
            let dashboards: Vec<Value> = files
                .iter()
                .filter(|f| f.path.starts_with("monitoring/grafana/dashboards/"))
                .map(|f| serde_json::from_str(&f.contents).expect("dashboard JSON"))
                .collect();
            assert_all_produced(
                &format!("{name} (Compose)"),
                &model,
                jobs,
                &groups,
                &dashboards,
            );
        }
    }

    /// The jobs come from the rendered monitors: each ServiceMonitor's `job` relabelling, each
    /// Probe's job name, and, with the Pushgateway's monitor, each CronJob's name (run-job.sh
    /// pushes under it).
    #[test]
    fn every_cluster_rule_and_panel_reads_series_the_cluster_produces() {
        let mut checked = 0;
        for (name, model) in all_models() {
            let files = crate::generate::all(&model);
            let docs = yaml_documents(&files, "kubernetes/");
            let kind = |d: &Value, k: &str| d["kind"].as_str() == Some(k);
            let mut jobs = BTreeSet::new();
            let mut pushgateway = false;
            for (_, doc) in &docs {
                if kind(doc, "ServiceMonitor") {
                    for endpoint in doc["spec"]["endpoints"].as_array().into_iter().flatten() {
                        for relabel in endpoint["relabelings"].as_array().into_iter().flatten() {
                            if relabel["targetLabel"] == "job" {
                                let job = relabel["replacement"].as_str().unwrap_or_default();
                                pushgateway |= job == "pushgateway";
                                jobs.insert(job.to_string());
                            }
                        }
                    }
                }
                if kind(doc, "Probe") {
                    jobs.insert(doc["spec"]["jobName"].as_str().unwrap_or_default().into());
                }
            }
            if pushgateway {
                for (_, doc) in docs.iter().filter(|(_, d)| kind(d, "CronJob")) {
                    jobs.insert(doc["metadata"]["name"].as_str().unwrap_or_default().into());
                }
            }
            let groups: Vec<Value> = docs
                .iter()
                .filter(|(_, d)| kind(d, "PrometheusRule"))
                .flat_map(|(_, d)| d["spec"]["groups"].as_array().cloned().unwrap_or_default())
                .collect();
            if groups.is_empty() {
                continue;
            }
            let dashboards: Vec<Value> = docs
                .iter()
                .filter(|(_, d)| kind(d, "ConfigMap"))
                .flat_map(|(_, d)| {
                    d["data"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(k, _)| k.ends_with(".json"))
                        .map(|(_, v)| serde_json::from_str(v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                })
                .map(|d| d.expect("dashboard JSON"))
                .collect();
            assert!(!dashboards.is_empty(), "{name}: cluster dashboards");
            assert_all_produced(
                &format!("{name} (Kubernetes)"),
                &model,
                jobs,
                &groups,
                &dashboards,
            );
            checked += 1;
        }
        assert!(checked > 0, "an example renders a PrometheusRule");
    }

    fn produced() -> Produced {
        let mut p = Produced::jobs(["api".to_string(), "pushgateway".to_string()]);
        p.record(
            "service:http_requests:rate5m",
            &BTreeMap::from([("service".to_string(), "api".to_string())]),
        );
        p
    }

    #[test]
    fn a_job_matcher_needs_a_job_it_matches() {
        let p = produced();
        assert!(p.reads_only_produced("up{job=\"api\"} == 0"));
        assert!(!p.reads_only_produced("up{job=\"blackbox\"} == 0"));
        assert!(p.reads_only_produced("up{job=~\"api|x\"} == 0"));
        // Every selector counts, under functions and on both sides of `and`.
        assert!(!p.reads_only_produced(
            "absent(last{job=\"api\"}) and on () time() - start{job=\"grafana\"} > 1"
        ));
    }

    #[test]
    fn recorded_series_need_a_recording_rule_with_matching_labels() {
        let p = produced();
        assert!(p.reads_only_produced("service:http_requests:rate5m{service=\"api\"} > 1"));
        assert!(!p.reads_only_produced("service:http_requests:rate5m{service=\"dashboard\"} > 1"));
        assert!(!p.reads_only_produced("service:other:rate5m > 1"));
        // Plain metric names without a job are not tied to a job of ours.
        assert!(p.reads_only_produced("max(data_platform_divergence_rows) > 0"));
        assert!(p.reads_only_produced("vector(1)"));
    }
}
