//! The Prometheus Operator objects: ServiceMonitors, Probes, the PrometheusRule and dashboards.
//!
//! The alerts are the Compose target's: the PrometheusRule holds the very rule groups of
//! [`rules::rule_files`], serialized as they are. They select series by `job` and `service`
//! (`up{job="api"}`, `probe_success{job="blackbox-http", service="api"}`, the Pushgateway's
//! `job="<job name>"`), so the monitors here relabel their targets to the labels the Compose
//! scrape configs give them; the same alerts then fire on both platforms.
//!
//! The base holds what every environment shares (ServiceMonitors, the rules, the dashboards);
//! each overlay labels them for its Prometheus (`release`) and adds what names its namespace or
//! its monitoring stack: the Probes (URLs of the Services) and the Pushgateway's monitor.
//!
//! Two environments may share one cluster Prometheus: every target is labelled with its
//! namespace (the operator's `namespace` label), each run pushes with its namespace in the
//! Pushgateway grouping key (run-job.sh's `BLUEPRINT_NAMESPACE`, from the downward API), the
//! recording rules aggregate `by (namespace)` and the alerts keep every label, so staging's and
//! prod's series, groups and alerts stay apart.
//!
//! The `monitoring-stack` group alerts on the Compose stack's own jobs (`alertmanager`,
//! `blackbox`, `pushgateway`, `grafana`, `<db>-exporter`). The PrometheusRule keeps only the
//! rules over jobs the cluster has ([`cluster_jobs_produced`]): the Pushgateway's and the
//! exporters' (deployed per environment, scraped under their Compose job names); the others are
//! kube-prometheus-stack's, which alerts on its own components.

use std::collections::{BTreeMap, BTreeSet};

use super::objects::{
    Data, LabelSelector, MonitorEndpoint, NamespaceSelector, Object, ObjectMeta, ProbeSpec,
    ProbeStaticConfig, ProbeTargets, ProberSpec, PrometheusRuleSpec, Relabeling,
    ServiceMonitorSpec, Spec,
};
use super::workloads::{HTTP_PORT_NAME, cluster_exported_stores, cluster_jobs, cluster_services};
use super::{Layer, Manifest, NAME_LABEL, document, labels, selector};
use crate::generate::observability::rules::{
    RuleGroup, compose_only, groups_over, rule_files, with_recordings,
};
use crate::generate::observability::selectors::Produced;
use crate::generate::observability::{PROBE_JOB, PROBE_MODULE, dashboards, exporter_host};
use crate::generate::to_json;
use crate::model::{Environment, Kubernetes, Model, Service, Store};
use crate::syntax::{format_duration, parse_duration};

/// The label the Prometheus Operator of kube-prometheus-stack selects its objects by.
pub const RELEASE_LABEL: &str = "release";
/// The label kube-prometheus-stack's Grafana sidecar loads dashboards from (in every
/// namespace: the chart sets the sidecar's `searchNamespace: ALL`).
pub const DASHBOARD_LABEL: &str = "grafana_dashboard";
/// The largest object the API server stores (etcd's request limit).
pub const MAX_OBJECT_BYTES: usize = 1024 * 1024;
/// The Compose scrape job name of the Pushgateway, which the job alerts select.
const PUSHGATEWAY_JOB: &str = "pushgateway";
/// The name of the Service port of the prometheus-community Pushgateway chart.
const PUSHGATEWAY_PORT_NAME: &str = "http";
/// Prometheus' default scrape timeout, which may not exceed the interval.
const DEFAULT_SCRAPE_TIMEOUT_SECONDS: u64 = 10;

/// A `host:port` address of something in (or outside) the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterAddress {
    /// The Service's name (the host's first label).
    pub service: String,
    /// Its namespace: the host's second label for `name.namespace[.svc[...]]`, `fallback` for
    /// a bare name.
    pub namespace: String,
    /// The port.
    pub port: u16,
}

impl ClusterAddress {
    /// Reads `address` (`prometheus-pushgateway.monitoring.svc:9091`); a bare name or a port
    /// that does not parse falls back to `fallback` and 80.
    pub fn parse(address: &str, fallback: &str) -> Self {
        let (host, port) = address.rsplit_once(':').unwrap_or((address, "80"));
        let mut labels = host.split('.');
        let service = labels.next().unwrap_or_default().to_string();
        let namespace = labels.next().unwrap_or(fallback).to_string();
        Self {
            service,
            namespace,
            port: port.parse().unwrap_or(80),
        }
    }
}

/// Whether Prometheus scrapes `service` (it has metrics and a port).
pub fn scraped(service: &Service) -> bool {
    service.metrics.is_some() && service.port.is_some()
}

/// Whether the blackbox exporter probes `service` (it has a health endpoint and a port).
pub fn probed(service: &Service) -> bool {
    service.health_path.is_some() && service.port.is_some()
}

/// The ServiceMonitors, the PrometheusRule and the dashboards.
pub fn base(model: &Model, first: &Environment) -> Layer {
    let mut layer = Layer::default();
    if !model.monitoring.enabled {
        return layer;
    }
    let monitors: Vec<String> = cluster_services(model, first)
        .filter_map(|s| service_monitor(model, s))
        .map(|m| document(&m))
        .collect();
    if !monitors.is_empty() {
        layer
            .resources
            .push(Manifest::new("monitoring/service-monitors.yaml", monitors));
    }
    if let Some(rule) = prometheus_rule(model) {
        layer.resources.push(Manifest::new(
            "monitoring/rules.yaml",
            vec![document(&rule)],
        ));
    }
    let dashboards: Vec<String> = dashboard_config_maps(model).iter().map(document).collect();
    if !dashboards.is_empty() {
        layer
            .resources
            .push(Manifest::new("monitoring/dashboards.yaml", dashboards));
    }
    layer
}

/// The `release` label of the base's monitors and rules, the Probes and the Pushgateway's
/// monitor.
pub fn overlay(model: &Model, environment: &Environment) -> Layer {
    let mut layer = Layer::default();
    let Some(kubernetes) = environment
        .kubernetes
        .as_ref()
        .filter(|_| model.monitoring.enabled)
    else {
        return layer;
    };
    let release = || {
        BTreeMap::from([(
            RELEASE_LABEL.to_string(),
            kubernetes.prometheus_release.clone(),
        )])
    };
    // The release differs per environment, so the base's objects get it here; a patch per
    // object (metadata only).
    let mut patched: Vec<(&'static str, String)> = cluster_services(model, environment)
        .filter(|s| scraped(s))
        .map(|s| ("ServiceMonitor", s.name.clone()))
        .collect();
    if prometheus_rule(model).is_some() {
        patched.push(("PrometheusRule", model.project.name.clone()));
    }
    for (kind, name) in patched {
        let patch = Object::new(
            "monitoring.coreos.com/v1",
            kind,
            ObjectMeta::named(&name, release()),
            (),
        );
        layer.patches.push(Manifest::new(
            format!("patches/{}-{name}.yaml", kind.to_ascii_lowercase()),
            vec![document(&patch)],
        ));
    }

    let probes: Vec<String> = cluster_services(model, environment)
        .filter_map(|s| probe(model, kubernetes, s))
        .map(|p| document(&p))
        .collect();
    if !probes.is_empty() {
        layer
            .resources
            .push(Manifest::new("monitoring/probes.yaml", probes));
    }
    let exporters: Vec<String> = cluster_exported_stores(model, environment)
        .map(|store| document(&exporter_monitor(model, kubernetes, store)))
        .collect();
    if !exporters.is_empty() {
        layer.resources.push(Manifest::new(
            "monitoring/exporter-monitors.yaml",
            exporters,
        ));
    }
    if pushes(model, environment) {
        layer.resources.push(Manifest::new(
            "monitoring/pushgateway.yaml",
            vec![document(&pushgateway_monitor(model, kubernetes))],
        ));
    }
    layer
}

/// The scrape interval and a timeout that does not exceed it.
fn interval_and_timeout(model: &Model) -> (String, String) {
    let interval = &model.monitoring.scrape_interval;
    let seconds = parse_duration(interval).unwrap_or(DEFAULT_SCRAPE_TIMEOUT_SECONDS);
    (
        interval.clone(),
        format_duration(seconds.min(DEFAULT_SCRAPE_TIMEOUT_SECONDS)),
    )
}

fn monitoring_labels(model: &Model, name: &str) -> BTreeMap<String, String> {
    labels(model, name, "monitoring")
}

/// A ServiceMonitor of a service with metrics. The relabelling gives its series the labels of
/// the Compose scrape job: `job` and `service` are the service's name (the alerts and
/// recording rules select `job="<service>"`; set here rather than left to the operator, which
/// derives `job` from the Service's name, so a renamed Service cannot silence them), and
/// `instance` is `<pod>:<port>`, one per replica as Compose's `<container>:<port>`.
fn service_monitor(model: &Model, service: &Service) -> Option<Object<Spec<ServiceMonitorSpec>>> {
    let metrics = service.metrics.as_ref().filter(|_| scraped(service))?;
    Some(pod_monitor(
        model,
        &service.name,
        &metrics.path,
        Some(&service.name),
    ))
}

/// A ServiceMonitor of the Service `name` (and its pods) in this namespace, scraped as the
/// Compose job `name`: `job` is `name`, `service` is `service` when given, and `instance` is
/// `<pod>:<port>`.
fn pod_monitor(
    model: &Model,
    name: &str,
    path: &str,
    service: Option<&str>,
) -> Object<Spec<ServiceMonitorSpec>> {
    let (interval, timeout) = interval_and_timeout(model);
    let mut relabelings = vec![Relabeling::fixed("job", name)];
    relabelings.extend(service.map(|s| Relabeling::fixed("service", s)));
    relabelings.push(Relabeling {
        source_labels: vec![
            "__meta_kubernetes_pod_name".into(),
            "__meta_kubernetes_pod_container_port_number".into(),
        ],
        separator: Some(":"),
        target_label: "instance".into(),
        replacement: None,
    });
    Object::new(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        ObjectMeta::named(name, monitoring_labels(model, name)),
        Spec {
            spec: ServiceMonitorSpec {
                selector: LabelSelector {
                    match_labels: selector(model, name),
                },
                namespace_selector: None,
                endpoints: vec![MonitorEndpoint {
                    port: HTTP_PORT_NAME.into(),
                    path: path.to_string(),
                    interval,
                    scrape_timeout: Some(timeout),
                    honor_labels: false,
                    relabelings,
                }],
            },
        },
    )
}

/// The ServiceMonitor of a store's postgres_exporter, scraped as on Compose (`job` is
/// `<store>-exporter`, which ServiceDown of the monitoring stack and PostgresDown select).
fn exporter_monitor(
    model: &Model,
    kubernetes: &Kubernetes,
    store: &Store,
) -> Object<Spec<ServiceMonitorSpec>> {
    let mut monitor = pod_monitor(model, &exporter_host(store), "/metrics", None);
    monitor
        .metadata
        .labels
        .insert(RELEASE_LABEL.into(), kubernetes.prometheus_release.clone());
    monitor
}

/// The URL the blackbox exporter probes: the Service's cluster name, since the exporter runs
/// in another namespace (Compose probes `http://<service>:<port><health>`).
pub fn cluster_probe_url(kubernetes: &Kubernetes, service: &Service) -> Option<String> {
    let port = service.port?;
    let health = service.health_path.as_ref()?;
    Some(format!(
        "http://{}.{}.svc:{port}{health}",
        service.name, kubernetes.namespace
    ))
}

/// A Probe of a service's health endpoint through the cluster's blackbox exporter, with the
/// Compose probe job's labels: `job="blackbox-http"`, `service`, and the URL as `instance`
/// (the operator's default for static targets). The module is the Compose blackbox config's
/// `http_2xx`, which the prometheus-blackbox-exporter chart also defines.
fn probe(
    model: &Model,
    kubernetes: &Kubernetes,
    service: &Service,
) -> Option<Object<Spec<ProbeSpec>>> {
    let url = cluster_probe_url(kubernetes, service)?;
    let (interval, timeout) = interval_and_timeout(model);
    let mut meta = ObjectMeta::named(&service.name, monitoring_labels(model, &service.name));
    meta.labels
        .insert(RELEASE_LABEL.into(), kubernetes.prometheus_release.clone());
    Some(Object::new(
        "monitoring.coreos.com/v1",
        "Probe",
        meta,
        Spec {
            spec: ProbeSpec {
                job_name: PROBE_JOB.into(),
                interval,
                scrape_timeout: timeout,
                module: PROBE_MODULE.into(),
                prober: ProberSpec {
                    url: kubernetes.blackbox_exporter.clone(),
                    path: "/probe".into(),
                },
                targets: ProbeTargets {
                    static_config: ProbeStaticConfig {
                        targets: vec![url],
                        labels: BTreeMap::from([("service".to_string(), service.name.clone())]),
                    },
                },
            },
        },
    ))
}

/// The Pushgateway's ServiceMonitor, generated because the job alerts depend on how it is
/// scraped: with `honorLabels` (each run pushes its job's name as `job`, which must survive
/// the scrape) and as `job="pushgateway"` (JobStale reads the Pushgateway's own
/// `process_start_time_seconds{job="pushgateway"}`). It lives in this namespace and selects
/// the Pushgateway's Service in its own by the prometheus-community chart's name label; the
/// chart's own ServiceMonitor (`serviceMonitor.enabled`) should stay off, or it is scraped
/// twice under two job names.
fn pushgateway_monitor(model: &Model, kubernetes: &Kubernetes) -> Object<Spec<ServiceMonitorSpec>> {
    let address = ClusterAddress::parse(&kubernetes.pushgateway, &kubernetes.monitoring_namespace);
    let (interval, timeout) = interval_and_timeout(model);
    let mut meta = ObjectMeta::named(PUSHGATEWAY_JOB, monitoring_labels(model, PUSHGATEWAY_JOB));
    meta.labels
        .insert(RELEASE_LABEL.into(), kubernetes.prometheus_release.clone());
    Object::new(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        meta,
        Spec {
            spec: ServiceMonitorSpec {
                selector: LabelSelector {
                    match_labels: BTreeMap::from([(NAME_LABEL.to_string(), address.service)]),
                },
                namespace_selector: Some(NamespaceSelector {
                    match_names: vec![address.namespace],
                }),
                endpoints: vec![MonitorEndpoint {
                    port: PUSHGATEWAY_PORT_NAME.into(),
                    path: "/metrics".into(),
                    interval,
                    scrape_timeout: Some(timeout),
                    honor_labels: true,
                    relabelings: vec![Relabeling::fixed("job", PUSHGATEWAY_JOB)],
                }],
            },
        },
    )
}

/// Whether `environment`'s runs report to the Pushgateway: its jobs' and the backups'.
fn pushes(model: &Model, environment: &Environment) -> bool {
    cluster_jobs(model, environment).next().is_some() || model.cluster_backups().next().is_some()
}

/// The `job` labels the cluster's series of this project carry, in any environment: each
/// scraped service's, the Probes' (`blackbox-http`), the exporters', the Pushgateway's and every
/// name pushed to it. Nothing else of the Compose stack is scraped under its Compose name (the
/// cluster's Alertmanager, blackbox exporter and Grafana are kube-prometheus-stack's, which
/// alerts on them itself).
pub fn cluster_jobs_produced(model: &Model) -> Produced {
    let mut jobs = BTreeSet::new();
    if !model.monitoring.enabled {
        return Produced::default();
    }
    for environment in model.environments.iter().filter(|e| e.on_kubernetes()) {
        for service in cluster_services(model, environment) {
            if scraped(service) {
                jobs.insert(service.name.clone());
            }
            if probed(service) {
                jobs.insert(PROBE_JOB.to_string());
            }
        }
        jobs.extend(cluster_exported_stores(model, environment).map(exporter_host));
        if pushes(model, environment) {
            jobs.insert(PUSHGATEWAY_JOB.to_string());
            jobs.extend(cluster_jobs(model, environment).map(|j| j.name.clone()));
            for (_, policy) in model.cluster_backups() {
                jobs.insert(policy.job.clone());
                jobs.extend(policy.restore_test.iter().map(|t| t.job.clone()));
            }
        }
    }
    Produced::jobs(jobs)
}

/// What the cluster's Prometheus has once it evaluates our recording rules.
fn cluster_produced(model: &Model) -> Produced {
    with_recordings(model, cluster_jobs_produced(model))
}

/// The rule groups of every rule file over series the cluster has, in order, in one
/// PrometheusRule; `None` without rules.
fn prometheus_rule(model: &Model) -> Option<Object<Spec<PrometheusRuleSpec<RuleGroup>>>> {
    // The monitoring stack's own alerts stay out: kube-prometheus-stack brings its Watchdog and
    // meta alerts, under its own job names.
    let files = rule_files(model).into_iter().filter(|f| !compose_only(f));
    let groups = groups_over(files, &cluster_produced(model));
    if groups.is_empty() {
        return None;
    }
    Some(Object::new(
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        ObjectMeta::named(
            &model.project.name,
            monitoring_labels(model, &model.project.name),
        ),
        Spec {
            spec: PrometheusRuleSpec { groups },
        },
    ))
}

/// The Grafana dashboards, one ConfigMap each (`dashboard-<stem>`), labelled for the sidecar.
fn dashboard_config_maps(model: &Model) -> Vec<Object<Data>> {
    if !model.monitoring.grafana.dashboards {
        return Vec::new();
    }
    dashboards::over(dashboards::dashboards(model), &cluster_produced(model))
        .into_iter()
        .map(|d| {
            let name = format!("dashboard-{}", d.file_stem);
            let mut meta = ObjectMeta::named(&name, monitoring_labels(model, &name));
            meta.labels.insert(DASHBOARD_LABEL.into(), "1".into());
            Object::new(
                "v1",
                "ConfigMap",
                meta,
                Data {
                    data: BTreeMap::from([(
                        format!("{}.json", d.file_stem),
                        to_json(&d.dashboard),
                    )]),
                },
            )
        })
        .collect()
}

/// The serialized dashboard ConfigMaps (for tests of their size).
pub fn dashboard_documents(model: &Model) -> Vec<String> {
    dashboard_config_maps(model).iter().map(document).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_their_service_namespace_and_port() {
        let a = ClusterAddress::parse("prometheus-pushgateway.monitoring.svc:9091", "x");
        assert_eq!(
            a,
            ClusterAddress {
                service: "prometheus-pushgateway".into(),
                namespace: "monitoring".into(),
                port: 9091,
            }
        );
        let bare = ClusterAddress::parse("pushgateway:9091", "observability");
        assert_eq!(bare.namespace, "observability");
        assert_eq!(bare.service, "pushgateway");
    }
}
