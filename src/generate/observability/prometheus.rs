//! `prometheus.<env>.yml` and the blackbox exporter's `blackbox.yml`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    BLACKBOX_ADDRESS, NODE_EXPORTER_HOST, POSTGRES_EXPORTER_PORT, PROBE_JOB, PROBE_MODULE,
    PUBLIC_PROBE_JOB, PUSHGATEWAY_ADDRESS, exporter_host, jobs_in, postgres_stores, probe_url,
    scrape_addresses, tool_path, tool_prefix,
};
use crate::blueprint::InternalTool;
use crate::model::{ALERTMANAGER_PORT, Environment, GRAFANA_PORT, Model, PROMETHEUS_PORT};
use crate::syntax::{format_duration, parse_duration};

/// Where Prometheus finds the rule files inside its container.
pub const RULE_FILES: &str = "/etc/prometheus/rules/*.rules.yml";
/// Prometheus' default scrape timeout, which may not exceed the scrape interval.
const DEFAULT_SCRAPE_TIMEOUT_SECONDS: u64 = 10;

/// A Prometheus configuration file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrometheusConfig {
    /// Defaults and external labels.
    pub global: Global,
    /// Rule file globs.
    pub rule_files: Vec<String>,
    /// Where alerts go.
    pub alerting: Alerting,
    /// Scrape jobs.
    pub scrape_configs: Vec<ScrapeConfig>,
}

/// The `global` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Global {
    /// How often targets are scraped.
    pub scrape_interval: String,
    /// How long a scrape may take; never more than the interval.
    pub scrape_timeout: String,
    /// How often rules are evaluated.
    pub evaluation_interval: String,
    /// Labels added to every alert and remote-written series.
    pub external_labels: BTreeMap<String, String>,
}

/// The `alerting` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alerting {
    /// Alertmanagers.
    pub alertmanagers: Vec<AlertmanagerTarget>,
}

/// One Alertmanager.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertmanagerTarget {
    /// The route prefix Alertmanager serves under when exposed at a sub-path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Its address.
    pub static_configs: Vec<StaticConfig>,
}

/// A scrape job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScrapeConfig {
    /// The job name (the `job` label).
    pub job_name: String,
    /// Keep the scraped `job`/`instance` labels (Pushgateway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honor_labels: Option<bool>,
    /// The metrics path, when not `/metrics`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_path: Option<String>,
    /// URL parameters (blackbox `module`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    /// Targets.
    pub static_configs: Vec<StaticConfig>,
    /// Target relabelling (blackbox).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relabel_configs: Vec<RelabelConfig>,
}

/// Static targets with labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaticConfig {
    /// `host:port` (or URLs, for probes).
    pub targets: Vec<String>,
    /// Labels of these targets.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// One relabelling step (`replace`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelabelConfig {
    /// Labels whose joined values are the input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    /// The label written.
    pub target_label: String,
    /// A fixed value instead of the input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

impl ScrapeConfig {
    fn new(job_name: impl Into<String>, targets: Vec<String>) -> Self {
        Self {
            job_name: job_name.into(),
            honor_labels: None,
            metrics_path: None,
            params: BTreeMap::new(),
            static_configs: vec![StaticConfig {
                targets,
                labels: BTreeMap::new(),
            }],
            relabel_configs: Vec::new(),
        }
    }

    fn metrics_path(mut self, path: String) -> Self {
        self.metrics_path = (path != "/metrics").then_some(path);
        self
    }
}

/// The monitoring stack's own scrape targets in any environment: job name and address. The
/// Pushgateway is included when any job runs somewhere.
pub fn component_targets(model: &Model) -> Vec<(String, String)> {
    let mut targets = vec![
        (
            "alertmanager".to_string(),
            format!("alertmanager:{ALERTMANAGER_PORT}"),
        ),
        ("blackbox".to_string(), BLACKBOX_ADDRESS.to_string()),
    ];
    if super::monitored_jobs(model).next().is_some() || model.backups().next().is_some() {
        targets.push(("pushgateway".to_string(), PUSHGATEWAY_ADDRESS.to_string()));
    }
    if model.monitoring.grafana.enabled {
        targets.push(("grafana".to_string(), format!("grafana:{GRAFANA_PORT}")));
    }
    targets.extend(store_exporter_targets(model));
    targets
}

/// Each store exporter's job and address: a postgres_exporter per PostgreSQL store, then a
/// redis_exporter per Redis store with queues.
fn store_exporter_targets(model: &Model) -> Vec<(String, String)> {
    let postgres = postgres_stores(model).map(|s| (s, POSTGRES_EXPORTER_PORT));
    let redis = super::queue_stores(model).map(|s| (s, super::REDIS_EXPORTER_PORT));
    postgres
        .chain(redis)
        .map(|(store, port)| {
            let host = exporter_host(store);
            let address = format!("{host}:{port}");
            (host, address)
        })
        .collect()
}

/// The Prometheus configuration of one environment.
pub fn config(model: &Model, environment: &Environment) -> PrometheusConfig {
    let monitoring = &model.monitoring;
    let interval =
        parse_duration(&monitoring.scrape_interval).unwrap_or(DEFAULT_SCRAPE_TIMEOUT_SECONDS);
    let mut scrape_configs = vec![
        ScrapeConfig::new("prometheus", vec![format!("localhost:{PROMETHEUS_PORT}")])
            .metrics_path(tool_path(model, InternalTool::Prometheus, "/metrics")),
        ScrapeConfig::new(
            "alertmanager",
            vec![format!("alertmanager:{ALERTMANAGER_PORT}")],
        )
        .metrics_path(tool_path(model, InternalTool::Alertmanager, "/metrics")),
        ScrapeConfig::new("blackbox", vec![BLACKBOX_ADDRESS.to_string()]),
    ];
    if jobs_in(model, environment).next().is_some()
        || (environment.on_compose() && model.backups().next().is_some())
    {
        // The wrapper pushes with the job name as grouping key: keep it as the `job` label.
        let mut pushgateway =
            ScrapeConfig::new("pushgateway", vec![PUSHGATEWAY_ADDRESS.to_string()]);
        pushgateway.honor_labels = Some(true);
        scrape_configs.push(pushgateway);
    }
    if monitoring.grafana.enabled {
        scrape_configs.push(
            ScrapeConfig::new("grafana", vec![format!("grafana:{GRAFANA_PORT}")])
                .metrics_path(tool_path(model, InternalTool::Grafana, "/metrics")),
        );
    }
    for (job, address) in store_exporter_targets(model) {
        scrape_configs.push(ScrapeConfig::new(job, vec![address]));
    }
    if environment.on_compose() {
        scrape_configs.push(ScrapeConfig::new(
            NODE_EXPORTER_HOST,
            vec![super::host::node_exporter_address()],
        ));
    }
    if let Some((job, address)) = super::host::proxy_metrics_target(model, environment) {
        scrape_configs.push(ScrapeConfig::new(job, vec![address]));
    }

    let compose_services = || {
        model
            .services
            .iter()
            .filter(|s| s.on_compose(&environment.name))
    };
    for service in compose_services() {
        let (Some(metrics), Some(port)) = (&service.metrics, service.port) else {
            continue;
        };
        let mut job = ScrapeConfig::new(
            service.name.clone(),
            scrape_addresses(model, environment, service, port),
        )
        .metrics_path(metrics.path.clone());
        job.static_configs[0]
            .labels
            .insert("service".into(), service.name.clone());
        scrape_configs.push(job);
    }

    let probes: Vec<StaticConfig> = compose_services()
        .filter_map(|service| {
            Some(StaticConfig {
                targets: vec![probe_url(service)?],
                labels: BTreeMap::from([("service".to_string(), service.name.clone())]),
            })
        })
        .collect();
    if !probes.is_empty() {
        scrape_configs.push(probe_job(PROBE_JOB, probes));
    }
    if let Some(url) = model.public_probe_url(environment) {
        scrape_configs.push(probe_job(
            PUBLIC_PROBE_JOB,
            vec![StaticConfig {
                targets: vec![url],
                labels: BTreeMap::new(),
            }],
        ));
    }

    PrometheusConfig {
        global: Global {
            scrape_interval: monitoring.scrape_interval.clone(),
            scrape_timeout: format_duration(interval.min(DEFAULT_SCRAPE_TIMEOUT_SECONDS)),
            evaluation_interval: monitoring.evaluation_interval.clone(),
            external_labels: BTreeMap::from([
                ("environment".to_string(), environment.name.clone()),
                ("project".to_string(), model.project.name.clone()),
            ]),
        },
        rule_files: vec![RULE_FILES.into()],
        alerting: Alerting {
            alertmanagers: vec![AlertmanagerTarget {
                path_prefix: tool_prefix(model, InternalTool::Alertmanager),
                static_configs: vec![StaticConfig {
                    targets: vec![format!("alertmanager:{ALERTMANAGER_PORT}")],
                    labels: BTreeMap::new(),
                }],
            }],
        },
        scrape_configs,
    }
}

/// A scrape job of blackbox probes with the `http_2xx` module: each target becomes the probe's
/// `target` parameter and `instance` label, and the scrape goes to the blackbox exporter.
fn probe_job(name: &str, static_configs: Vec<StaticConfig>) -> ScrapeConfig {
    ScrapeConfig {
        job_name: name.into(),
        honor_labels: None,
        metrics_path: Some("/probe".into()),
        params: BTreeMap::from([("module".to_string(), vec![PROBE_MODULE.to_string()])]),
        static_configs,
        relabel_configs: vec![
            RelabelConfig {
                source_labels: vec!["__address__".into()],
                target_label: "__param_target".into(),
                replacement: None,
            },
            RelabelConfig {
                source_labels: vec!["__param_target".into()],
                target_label: "instance".into(),
                replacement: None,
            },
            RelabelConfig {
                source_labels: Vec::new(),
                target_label: "__address__".into(),
                replacement: Some(BLACKBOX_ADDRESS.into()),
            },
        ],
    }
}

/// The blackbox exporter's configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlackboxConfig {
    /// Probe modules by name.
    pub modules: BTreeMap<String, BlackboxModule>,
}

/// A probe module.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlackboxModule {
    /// `http`.
    pub prober: String,
    /// Give up after this long.
    pub timeout: String,
    /// HTTP settings.
    pub http: HttpProbe,
}

/// HTTP probe settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpProbe {
    /// Status codes that count as success.
    pub valid_status_codes: Vec<u16>,
    /// IPv4 first: Compose networks are IPv4 unless configured otherwise.
    pub preferred_ip_protocol: String,
    /// No retry over IPv6.
    pub ip_protocol_fallback: bool,
}

/// Every 2xx status code with a meaning: listed rather than left to the default, so the file
/// says what success is.
const SUCCESS_CODES: [u16; 10] = [200, 201, 202, 203, 204, 205, 206, 207, 208, 226];

/// `blackbox.yml`: the `http_2xx` module the health probes use.
pub fn blackbox_config() -> BlackboxConfig {
    BlackboxConfig {
        modules: BTreeMap::from([(
            PROBE_MODULE.to_string(),
            BlackboxModule {
                prober: "http".into(),
                timeout: "5s".into(),
                http: HttpProbe {
                    valid_status_codes: SUCCESS_CODES.to_vec(),
                    preferred_ip_protocol: "ip4".into(),
                    ip_protocol_fallback: false,
                },
            },
        )]),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::generate::to_yaml;
    use serde_json::Value;

    fn rendered(env: &str) -> Value {
        let model = reference_model();
        let environment = model.environment(env).expect("environment exists");
        yaml_value(&to_yaml(&config(&model, environment)))
    }

    fn job<'a>(config: &'a Value, name: &str) -> &'a Value {
        config["scrape_configs"]
            .as_array()
            .expect("scrape_configs is a list")
            .iter()
            .find(|j| j["job_name"] == name)
            .unwrap_or_else(|| panic!("no scrape job {name}"))
    }

    #[test]
    fn globals_come_from_the_model() {
        let config = rendered("staging");
        assert_eq!(config["global"]["scrape_interval"], "15s");
        assert_eq!(config["global"]["evaluation_interval"], "15s");
        assert_eq!(config["global"]["scrape_timeout"], "10s");
        assert_eq!(
            config["global"]["external_labels"]["environment"],
            "staging"
        );
        assert_eq!(
            config["global"]["external_labels"]["project"],
            "data-platform"
        );
        assert_eq!(config["rule_files"][0], RULE_FILES);
        let am = &config["alerting"]["alertmanagers"][0];
        assert_eq!(am["static_configs"][0]["targets"][0], "alertmanager:9093");
        assert!(
            am.get("path_prefix").is_none(),
            "alertmanager is not exposed in the reference"
        );
    }

    #[test]
    fn a_short_scrape_interval_shortens_the_timeout() {
        let yaml = reference_yaml().replace("scrape_interval: 15s", "scrape_interval: 5s");
        let model = model_from(&yaml);
        let config = config(&model, &model.environments[0]);
        assert_eq!(config.global.scrape_timeout, "5s");
    }

    #[test]
    fn every_service_with_metrics_has_its_scrape_job() {
        let model = reference_model();
        for environment in &model.environments {
            let config = yaml_value(&to_yaml(&config(&model, environment)));
            for service in model
                .services
                .iter()
                .filter(|s| s.on_compose(&environment.name))
            {
                let Some(metrics) = &service.metrics else {
                    continue;
                };
                let job = job(&config, &service.name);
                let expected_path = (metrics.path != "/metrics").then_some(metrics.path.as_str());
                assert_eq!(job["metrics_path"].as_str(), expected_path);
                let targets = job["static_configs"][0]["targets"]
                    .as_array()
                    .expect("targets");
                assert_eq!(
                    targets.len(),
                    environment.replicas as usize,
                    "one target per replica"
                );
                let port = service.port.expect("metrics need a port");
                assert!(
                    targets
                        .iter()
                        .all(|t| t.as_str().is_some_and(|t| t.ends_with(&format!(":{port}"))))
                );
                assert_eq!(
                    job["static_configs"][0]["labels"]["service"],
                    service.name.as_str()
                );
            }
        }
    }

    #[test]
    fn every_compose_service_with_a_health_path_is_probed() {
        let model = reference_model();
        for environment in &model.environments {
            let config = yaml_value(&to_yaml(&config(&model, environment)));
            let probes = job(&config, PROBE_JOB);
            assert_eq!(probes["params"]["module"][0], PROBE_MODULE);
            assert_eq!(probes["metrics_path"], "/probe");
            let statics = probes["static_configs"].as_array().expect("static configs");
            let expected: Vec<&crate::model::Service> = model
                .services
                .iter()
                .filter(|s| s.on_compose(&environment.name) && s.health_path.is_some())
                .collect();
            assert!(!expected.is_empty());
            assert_eq!(statics.len(), expected.len());
            for service in expected {
                let url = probe_url(service).expect("probed services have a URL");
                assert!(
                    statics.iter().any(|s| s["targets"][0] == url.as_str()
                        && s["labels"]["service"] == service.name.as_str()),
                    "{url} is not probed in {}",
                    environment.name
                );
            }
            let relabel = probes["relabel_configs"].as_array().expect("relabelling");
            assert_eq!(relabel[0]["target_label"], "__param_target");
            assert_eq!(relabel[1]["target_label"], "instance");
            assert_eq!(relabel[2]["replacement"], BLACKBOX_ADDRESS);
        }
        let docs_probed = to_yaml(&config(&model, &model.environments[0])).contains("http://docs:");
        assert!(
            !docs_probed,
            "docs is on Vercel: nothing to probe inside Compose"
        );
    }

    #[test]
    fn exposed_tools_are_scraped_under_their_prefix() {
        let config = rendered("prod");
        assert_eq!(
            job(&config, "prometheus")["metrics_path"],
            "/prometheus/metrics"
        );
        assert_eq!(job(&config, "grafana")["metrics_path"], "/grafana/metrics");
        assert!(job(&config, "alertmanager").get("metrics_path").is_none());
    }

    #[test]
    fn an_exposed_alertmanager_is_reached_under_its_prefix() {
        let yaml = reference_yaml().replace(
            "    prometheus:\n      path: /prometheus",
            "    alertmanager:\n      path: /alerts\n    prometheus:\n      path: /prometheus",
        );
        let model = model_from(&yaml);
        let config = config(&model, &model.environments[0]);
        assert_eq!(
            config.alerting.alertmanagers[0].path_prefix.as_deref(),
            Some("/alerts")
        );
        let am = config
            .scrape_configs
            .iter()
            .find(|j| j.job_name == "alertmanager")
            .expect("scraped");
        assert_eq!(am.metrics_path.as_deref(), Some("/alerts/metrics"));
    }

    #[test]
    fn pushgateway_keeps_the_pushed_job_label_and_exporters_are_scraped() {
        let config = rendered("dev");
        assert_eq!(job(&config, "pushgateway")["honor_labels"], true);
        assert_eq!(
            job(&config, "pushgateway")["static_configs"][0]["targets"][0],
            PUSHGATEWAY_ADDRESS
        );
        assert_eq!(
            job(&config, "db-exporter")["static_configs"][0]["targets"][0],
            "db-exporter:9187"
        );
    }

    #[test]
    fn no_pushgateway_without_jobs_or_backups() {
        let yaml = reference_yaml();
        let start = yaml.find("\njobs:").expect("the reference has jobs");
        let end = yaml.find("\nstores:").expect("the reference has stores");
        let without_jobs = format!("{}{}", &yaml[..start], &yaml[end..]);
        // The backup job reports to the Pushgateway too.
        let model = model_from(&without_jobs);
        assert!(model.jobs.is_empty());
        let text = to_yaml(&config(&model, &model.environments[0]));
        assert!(text.contains("pushgateway:9091"), "{text}");
        let start = without_jobs
            .find("    backup:\n")
            .expect("the reference backs db up");
        let end = without_jobs[start..]
            .find("\n  lake:")
            .expect("the lake follows")
            + start
            + 1;
        let policy = &without_jobs[start..end];
        let model = model_from(&without_jobs.replace(policy, ""));
        assert!(model.backups().next().is_none());
        let text = to_yaml(&config(&model, &model.environments[0]));
        assert!(!text.contains("pushgateway"), "{text}");
    }

    #[test]
    fn the_host_is_scraped_and_the_public_url_probed_over_https() {
        let config = rendered("prod");
        assert_eq!(
            job(&config, NODE_EXPORTER_HOST)["static_configs"][0]["targets"][0],
            "node-exporter:9100"
        );
        let public = job(&config, PUBLIC_PROBE_JOB);
        assert_eq!(
            public["static_configs"][0]["targets"][0],
            "https://data.acme.example/healthz"
        );
        assert_eq!(public["params"]["module"][0], PROBE_MODULE);
        assert_eq!(
            public["relabel_configs"][2]["replacement"],
            BLACKBOX_ADDRESS
        );
        // dev serves plain HTTP: no certificate to watch.
        let dev = rendered("dev");
        let jobs = dev["scrape_configs"].as_array().expect("jobs");
        assert!(jobs.iter().all(|j| j["job_name"] != PUBLIC_PROBE_JOB));
        assert!(jobs.iter().any(|j| j["job_name"] == NODE_EXPORTER_HOST));
    }

    #[test]
    fn the_proxy_metrics_are_scraped_through_the_nginx_exporter_or_from_caddy() {
        let nginx = rendered("prod");
        assert_eq!(
            job(&nginx, super::super::NGINX_EXPORTER_HOST)["static_configs"][0]["targets"][0],
            "nginx-exporter:9113"
        );
        let yaml = reference_yaml().replace("engine: nginx", "engine: caddy");
        let model = model_from(&yaml);
        let text = to_yaml(&config(&model, model.environment("prod").expect("prod")));
        let caddy = yaml_value(&text);
        assert_eq!(
            job(&caddy, super::super::CADDY_JOB)["static_configs"][0]["targets"][0],
            "proxy:9180"
        );
        assert!(!text.contains("nginx-exporter"), "{text}");
    }

    #[test]
    fn blackbox_accepts_2xx_over_ipv4() {
        let value = yaml_value(&to_yaml(&blackbox_config()));
        let module = &value["modules"][PROBE_MODULE];
        assert_eq!(module["prober"], "http");
        assert_eq!(module["timeout"], "5s");
        assert_eq!(module["http"]["preferred_ip_protocol"], "ip4");
        let codes: Vec<u64> = module["http"]["valid_status_codes"]
            .as_array()
            .expect("codes")
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        assert!(codes.contains(&200) && codes.contains(&204));
        assert!(codes.iter().all(|c| (200..300).contains(c)));
    }
}
