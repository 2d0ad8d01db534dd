//! Targeted assertions on the Kubernetes manifests.
//!
//! Objects are read back from the serialized documents of each module's layers (base built for
//! the first cluster environment, then the environment's overlay), so the assertions see what
//! the files say. Every example with a Kubernetes environment is checked, plus variants of
//! `data-cluster` for what it does not exercise (prefix stripping, extra hosts, no TLS).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::monitoring::{ClusterAddress, DASHBOARD_LABEL, MAX_OBJECT_BYTES, RELEASE_LABEL};
use super::network::NAMESPACE_NAME_LABEL;
use super::routing::CLUSTER_ISSUER_ANNOTATION;
use super::workloads::{
    cluster_databases, cluster_exported_stores, cluster_jobs, cluster_services,
};
use super::{Layer, cluster_environments, monitoring, network, routing, selector, workloads};
use crate::blueprint::{Routing, Runtime};
use crate::generate::observability::rules::{compose_only, rule_files};
use crate::generate::observability::test_support::{example_models, model_from, yaml_value};
use crate::generate::observability::{PROBE_JOB, PROBE_MODULE, exporter_host, postgres_stores};
use crate::generate::proxy::HEALTH_PATH;
use crate::model::{DependencyKind, Environment, Model, Service};

const NGINX: &str = "nginx.ingress.kubernetes.io/";

fn data_cluster_yaml() -> String {
    crate::generate::examples::source("data-cluster")
}

/// `data-cluster` with a stripped route on a host of its own, and a route of the dashboard
/// under the whole host of that host too.
fn stripping_variant() -> Model {
    let yaml = data_cluster_yaml().replace(
        "      - path: /static\n",
        "      - path: /static\n      - path: /files\n        host: files.acme.example\n        \
         strip_prefix: true\n",
    );
    let model = model_from(&yaml);
    assert!(
        model.services[0].routes.iter().any(|r| r.strip_prefix),
        "the edit added a stripped route"
    );
    model
}

/// Every example with a Kubernetes environment, and the variants.
fn cluster_models() -> Vec<(String, Model)> {
    let mut out: Vec<(String, Model)> = example_models()
        .into_iter()
        .filter(|(_, m)| cluster_environments(m).next().is_some())
        .collect();
    assert!(!out.is_empty(), "an example runs on Kubernetes");
    out.push((
        "data-cluster with a stripped route".into(),
        stripping_variant(),
    ));
    out
}

fn documents(layer: &Layer) -> Vec<Value> {
    layer
        .resources
        .iter()
        .flat_map(|m| &m.documents)
        .map(|d| yaml_value(d))
        .collect()
}

/// The objects of the base and of `environment`'s overlay (patches not applied).
fn objects(model: &Model, environment: &Environment) -> Vec<Value> {
    let first = cluster_environments(model).next().expect("a cluster env");
    let layers = [
        workloads::base(model, first),
        network::base(model, first),
        monitoring::base(model, first),
        workloads::overlay(model, environment),
        routing::overlay(model, environment),
        network::overlay(model, environment),
        monitoring::overlay(model, environment),
    ];
    layers.iter().flat_map(documents).collect()
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn named<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Each expected route: host, the path as routed, and whether it is stripped, websocket,
/// rate limited.
struct Expected<'a> {
    service: &'a Service,
    host: String,
    prefix: Option<String>,
    strip: bool,
    websocket: bool,
    rate_limited: bool,
}

fn expected_routes<'a>(model: &'a Model, environment: &'a Environment) -> Vec<Expected<'a>> {
    let mut out = Vec::new();
    for service in cluster_services(model, environment) {
        if service.port.is_none() {
            continue;
        }
        for route in &service.routes {
            let prefix =
                Some(route.path.trim_end_matches('/').to_string()).filter(|p| !p.is_empty());
            if prefix.as_deref() == Some(HEALTH_PATH) {
                continue;
            }
            out.push(Expected {
                service,
                host: route
                    .host
                    .clone()
                    .unwrap_or_else(|| environment.domain.clone()),
                strip: route.strip_prefix && prefix.is_some(),
                prefix,
                websocket: route.websocket,
                rate_limited: route.rate_limit.is_some() && environment.hardening,
            });
        }
    }
    out
}

/// The Service named like `service` exists and listens on its port.
fn assert_service_port(objects: &[Value], name: &str, port: u16) {
    let svc = named(objects, "Service", name);
    assert_eq!(svc["spec"]["ports"][0]["port"], port, "Service {name}");
}

#[test]
fn every_routed_path_reaches_its_service_on_ingress_or_gateway() {
    for (name, model) in cluster_models() {
        for environment in cluster_environments(&model) {
            let kubernetes = environment.kubernetes.as_ref().expect("settings");
            let objects = objects(&model, environment);
            let expected = expected_routes(&model, environment);
            assert!(
                !expected.is_empty(),
                "{name}: {} routes something",
                environment.name
            );
            let mut seen = 0;
            match kubernetes.routing {
                Routing::Ingress => {
                    assert!(of_kind(&objects, "HTTPRoute").is_empty());
                    for ingress in of_kind(&objects, "Ingress") {
                        assert_eq!(
                            ingress["spec"]["ingressClassName"],
                            kubernetes.ingress_class.as_str()
                        );
                        for rule in ingress["spec"]["rules"].as_array().expect("rules") {
                            seen += rule["http"]["paths"].as_array().expect("paths").len();
                        }
                    }
                    for e in &expected {
                        let path = match (&e.prefix, e.strip) {
                            (Some(p), true) => format!("{p}(/|$)(.*)"),
                            (Some(p), false) => p.clone(),
                            (None, _) => "/".into(),
                        };
                        let (ingress, backend) = of_kind(&objects, "Ingress")
                            .into_iter()
                            .find_map(|i| {
                                let rule = i["spec"]["rules"]
                                    .as_array()?
                                    .iter()
                                    .find(|r| r["host"] == e.host.as_str())?;
                                let p = rule["http"]["paths"]
                                    .as_array()?
                                    .iter()
                                    .find(|p| p["path"] == path.as_str())?;
                                Some((i, p["backend"]["service"].clone()))
                            })
                            .unwrap_or_else(|| panic!("{name}: {} {path} is not routed", e.host));
                        assert_eq!(backend["name"], e.service.name.as_str(), "{name}: {path}");
                        let port = e.service.port.expect("routed services listen");
                        assert_eq!(backend["port"]["number"], port, "{name}: {path}");
                        assert_service_port(&objects, &e.service.name, port);
                        let annotations = map(&ingress["metadata"]["annotations"]);
                        let timeout = annotations.get(&format!("{NGINX}proxy-read-timeout"));
                        assert_eq!(timeout.is_some(), e.websocket, "{name}: websocket {path}");
                        assert_eq!(
                            annotations.contains_key(&format!("{NGINX}rewrite-target")),
                            e.strip,
                            "{name}: rewrite of {path}"
                        );
                        if e.strip {
                            assert_eq!(
                                annotations[&format!("{NGINX}x-forwarded-prefix")],
                                e.prefix.clone().unwrap_or_default()
                            );
                        }
                        assert_eq!(
                            annotations.contains_key(&format!("{NGINX}limit-rps")),
                            e.rate_limited,
                            "{name}: rate limit of {path}"
                        );
                        assert_eq!(
                            annotations[&format!("{NGINX}proxy-body-size")],
                            model.proxy.body_limit
                        );
                    }
                }
                Routing::Gateway => {
                    assert!(of_kind(&objects, "Ingress").is_empty());
                    for route in of_kind(&objects, "HTTPRoute") {
                        let parent = &route["spec"]["parentRefs"][0];
                        assert_eq!(parent["name"], kubernetes.gateway_name.as_str());
                        assert_eq!(parent["namespace"], kubernetes.gateway_namespace.as_str());
                        seen += route["spec"]["rules"].as_array().expect("rules").len();
                    }
                    for e in &expected {
                        let prefix = e.prefix.clone().unwrap_or_else(|| "/".into());
                        let rule = of_kind(&objects, "HTTPRoute")
                            .into_iter()
                            .filter(|r| r["spec"]["hostnames"][0] == e.host.as_str())
                            .flat_map(|r| {
                                r["spec"]["rules"].as_array().cloned().unwrap_or_default()
                            })
                            .find(|r| r["matches"][0]["path"]["value"] == prefix.as_str())
                            .unwrap_or_else(|| panic!("{name}: {} {prefix} is not routed", e.host));
                        assert_eq!(rule["matches"][0]["path"]["type"], "PathPrefix");
                        let port = e.service.port.expect("routed services listen");
                        assert_eq!(rule["backendRefs"][0]["name"], e.service.name.as_str());
                        assert_eq!(rule["backendRefs"][0]["port"], port);
                        assert_service_port(&objects, &e.service.name, port);
                        let rewrite = rule["filters"]
                            .as_array()
                            .and_then(|f| f.first())
                            .map(|f| f["urlRewrite"]["path"]["replacePrefixMatch"].clone());
                        assert_eq!(rewrite.is_some(), e.strip, "{name}: rewrite of {prefix}");
                        if let Some(rewrite) = rewrite {
                            assert_eq!(rewrite, "/");
                        }
                    }
                }
            }
            assert_eq!(
                seen,
                expected.len(),
                "{name}: nothing but the services' routes"
            );
        }
    }
}

#[test]
fn the_stripping_variant_is_exercised_on_both_routings() {
    // The variant's staging uses an Ingress and prod the Gateway API; both have a stripped
    // route, so the routing test checks both rewrites.
    let model = stripping_variant();
    let mut routings = BTreeSet::new();
    for environment in cluster_environments(&model) {
        routings.insert(
            match environment.kubernetes.as_ref().expect("settings").routing {
                Routing::Ingress => "ingress",
                Routing::Gateway => "gateway",
            },
        );
        assert!(expected_routes(&model, environment).iter().any(|e| e.strip));
    }
    assert_eq!(routings.len(), 2, "{routings:?}");
}

#[test]
fn vercel_services_and_internal_tools_are_never_routed() {
    for (name, model) in cluster_models() {
        assert!(
            !model.proxy.expose.is_empty(),
            "{name} exposes tools on Compose"
        );
        for environment in cluster_environments(&model) {
            let text: String = routing::overlay(&model, environment)
                .resources
                .iter()
                .flat_map(|m| m.documents.clone())
                .collect();
            for service in model
                .services
                .iter()
                .filter(|s| s.on_vercel_in(&environment.name))
            {
                assert!(
                    !text.contains(&format!("name: {}\n", service.name)),
                    "{name}: {}",
                    service.name
                );
            }
            for exposure in &model.proxy.expose {
                assert!(!text.contains(&exposure.path), "{name}: {}", exposure.path);
            }
        }
    }
}

#[test]
fn tls_only_where_the_environment_serves_https() {
    let with_tls = model_from(&data_cluster_yaml());
    let without = model_from(&data_cluster_yaml().replace(
        "    platform: kubernetes\n    stores:\n      db: container",
        "    platform: kubernetes\n    tls: false\n    stores:\n      db: container",
    ));
    for (model, tls) in [(&with_tls, true), (&without, false)] {
        let staging = model.environment("staging").expect("staging");
        assert_eq!(staging.tls, tls, "the edit turned TLS off");
        let objects = objects(model, staging);
        let ingresses = of_kind(&objects, "Ingress");
        assert!(!ingresses.is_empty());
        let issuers = ingresses
            .iter()
            .filter(|i| {
                i["metadata"]["annotations"]
                    .get(CLUSTER_ISSUER_ANNOTATION)
                    .is_some()
            })
            .count();
        assert_eq!(
            issuers,
            usize::from(tls),
            "one Ingress asks for the certificate"
        );
        for ingress in ingresses {
            assert_eq!(ingress["spec"].get("tls").is_some(), tls);
            let redirect = ingress["metadata"]["annotations"].get(format!("{NGINX}ssl-redirect"));
            assert_eq!(redirect.is_some(), tls);
            if tls {
                assert_eq!(
                    ingress["spec"]["tls"][0]["hosts"][0],
                    staging.domain.as_str()
                );
            }
        }
    }
}

/// The in-namespace pods a policy's peer list selects (by name label), and whether it admits
/// namespaces or addresses.
fn peer_names(peers: &Value) -> BTreeSet<String> {
    peers
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            if let Some(pods) = p.get("podSelector") {
                pods["matchLabels"][super::NAME_LABEL]
                    .as_str()
                    .unwrap_or("?")
                    .to_string()
            } else if let Some(ns) = p.get("namespaceSelector") {
                format!(
                    "ns:{}",
                    ns["matchLabels"][NAMESPACE_NAME_LABEL]
                        .as_str()
                        .unwrap_or("?")
                )
            } else {
                "outside".to_string()
            }
        })
        .collect()
}

fn policies_selecting<'a>(objects: &'a [Value], model: &Model, name: &str) -> Vec<&'a Value> {
    let labels: BTreeMap<String, String> = selector(model, name);
    of_kind(objects, "NetworkPolicy")
        .into_iter()
        .filter(|p| {
            map(&p["spec"]["podSelector"]["matchLabels"])
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        })
        .collect()
}

#[test]
fn the_namespace_denies_by_default_and_every_policy_says_why() {
    for (name, model) in cluster_models() {
        for environment in cluster_environments(&model) {
            let objects = objects(&model, environment);
            let deny = named(&objects, "NetworkPolicy", "default-deny");
            assert_eq!(
                deny["spec"]["podSelector"]["matchLabels"],
                serde_json::json!({})
            );
            assert_eq!(
                deny["spec"]["policyTypes"],
                serde_json::json!(["Ingress", "Egress"])
            );
            assert!(deny["spec"].get("ingress").is_none() && deny["spec"].get("egress").is_none());
            for policy in of_kind(&objects, "NetworkPolicy") {
                let why = policy["metadata"]["annotations"][network::DESCRIPTION].as_str();
                assert!(why.is_some_and(|w| w.len() > 20), "{name}: {policy}");
            }
            let dns = named(&objects, "NetworkPolicy", "allow-dns");
            assert_eq!(dns["spec"]["egress"][0]["ports"][0]["port"], 53);
        }
    }
}

#[test]
fn every_pod_is_reachable_exactly_by_what_the_blueprint_implies() {
    for (name, model) in cluster_models() {
        for environment in cluster_environments(&model) {
            let kubernetes = environment.kubernetes.as_ref().expect("settings");
            let objects = objects(&model, environment);
            let routed = routing::routed_services(&model, environment);
            let blackbox = ClusterAddress::parse(
                &kubernetes.blackbox_exporter,
                &kubernetes.monitoring_namespace,
            );
            // Who is expected to reach each pod, by peer name.
            let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for service in cluster_services(&model, environment) {
                let entry = expected.entry(service.name.clone()).or_default();
                if service.port.is_none() {
                    continue;
                }
                if routed.contains_key(&service.name) {
                    entry.insert(format!("ns:{}", kubernetes.ingress_namespace));
                }
                if monitoring::scraped(service) {
                    entry.insert(format!("ns:{}", kubernetes.monitoring_namespace));
                }
                if monitoring::probed(service) {
                    entry.insert(format!("ns:{}", blackbox.namespace));
                }
            }
            let callers = cluster_services(&model, environment)
                .map(|s| (s.name.clone(), s))
                .chain(
                    cluster_jobs(&model, environment)
                        .filter_map(|j| Some((j.name.clone(), model.service(&j.service)?))),
                );
            for (caller, service) in callers {
                for d in &service.depends_on {
                    let target = match d.kind {
                        DependencyKind::Service => model
                            .service(&d.name)
                            .filter(|t| t.on_kubernetes(&environment.name) && t.port.is_some())
                            .map(|t| t.name.clone()),
                        DependencyKind::Store => None,
                    };
                    if let Some(target) = target {
                        expected.entry(target).or_default().insert(caller.clone());
                    }
                }
                for store in cluster_databases(&model, environment) {
                    if service.stores.contains(&store.name)
                        || service.depends_on.iter().any(|d| d.name == store.name)
                    {
                        expected
                            .entry(store.name.clone())
                            .or_default()
                            .insert(caller.clone());
                    }
                }
            }
            // Each backup job dumps its database.
            for (store, policy) in model.cluster_backups() {
                if cluster_databases(&model, environment).any(|d| d.name == store.name) {
                    expected
                        .entry(store.name.clone())
                        .or_default()
                        .insert(policy.job.clone());
                }
            }
            // Each store's exporter connects to its database and is scraped from the
            // monitoring namespace.
            for store in cluster_exported_stores(&model, environment) {
                let exporter = exporter_host(store);
                if cluster_databases(&model, environment).any(|d| d.name == store.name) {
                    expected
                        .entry(store.name.clone())
                        .or_default()
                        .insert(exporter.clone());
                }
                expected
                    .entry(exporter)
                    .or_default()
                    .insert(format!("ns:{}", kubernetes.monitoring_namespace));
            }
            for store in cluster_databases(&model, environment) {
                expected.entry(store.name.clone()).or_default();
            }
            for (pod, peers) in &expected {
                let allowed: BTreeSet<String> = policies_selecting(&objects, &model, pod)
                    .iter()
                    .flat_map(|p| p["spec"]["ingress"].as_array().cloned().unwrap_or_default())
                    .flat_map(|rule| peer_names(&rule["from"]))
                    .collect();
                assert_eq!(
                    &allowed, peers,
                    "{name}/{}: who reaches {pod}",
                    environment.name
                );
            }
            assert!(
                expected.values().any(|p| !p.is_empty()),
                "{name}: something is reached"
            );
        }
    }
}

#[test]
fn workloads_reach_their_dependencies_stores_and_the_outside() {
    for (name, model) in cluster_models() {
        for environment in cluster_environments(&model) {
            let kubernetes = environment.kubernetes.as_ref().expect("settings");
            let objects = objects(&model, environment);
            let egress_of = |pod: &str| -> Vec<(BTreeSet<String>, Vec<u64>)> {
                policies_selecting(&objects, &model, pod)
                    .iter()
                    .flat_map(|p| p["spec"]["egress"].as_array().cloned().unwrap_or_default())
                    .map(|rule| {
                        let ports = rule["ports"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|p| p["port"].as_u64())
                            .collect();
                        (peer_names(&rule["to"]), ports)
                    })
                    .collect()
            };
            let reaches = |pod: &str, peer: &str, port: u16| {
                egress_of(pod)
                    .iter()
                    .any(|(peers, ports)| peers.contains(peer) && ports.contains(&u64::from(port)))
            };
            let workloads = cluster_services(&model, environment)
                .map(|s| (s.name.clone(), s, false))
                .chain(
                    cluster_jobs(&model, environment)
                        .filter_map(|j| Some((j.name.clone(), model.service(&j.service)?, true))),
                );
            for (pod, service, job) in workloads {
                assert!(
                    reaches(&pod, "outside", 443),
                    "{name}: {pod} calls HTTPS APIs"
                );
                for d in service
                    .depends_on
                    .iter()
                    .filter(|d| d.kind == DependencyKind::Service)
                {
                    let target = model.service(&d.name).expect("dependency exists");
                    if let (true, Some(port)) =
                        (target.on_kubernetes(&environment.name), target.port)
                    {
                        assert!(
                            reaches(&pod, &target.name, port),
                            "{name}: {pod} -> {}",
                            d.name
                        );
                    }
                }
                for store in cluster_databases(&model, environment) {
                    if service.stores.contains(&store.name) {
                        assert!(
                            reaches(&pod, &store.name, store.port),
                            "{name}: {pod} -> {}",
                            store.name
                        );
                    }
                }
                for store_name in &service.stores {
                    let store = model.store(store_name).expect("store exists");
                    let provider = environment.provider(store_name);
                    if store.kind == crate::blueprint::StoreKind::Postgres
                        && provider == crate::blueprint::Provider::Supabase
                    {
                        assert!(
                            reaches(&pod, "outside", 5432) && reaches(&pod, "outside", 6543),
                            "{name}: {pod} -> Supabase"
                        );
                    }
                }
                let pushgateway = ClusterAddress::parse(
                    &kubernetes.pushgateway,
                    &kubernetes.monitoring_namespace,
                );
                assert_eq!(
                    reaches(
                        &pod,
                        &format!("ns:{}", pushgateway.namespace),
                        pushgateway.port
                    ),
                    job,
                    "{name}: only jobs push to the Pushgateway ({pod})"
                );
            }
        }
    }
}

/// The PrometheusRule holds rules of the rule files only, as they are, so that their promtool
/// tests cover it; which of them is the selectors test's business.
#[test]
fn the_prometheus_rule_holds_rules_of_the_rule_files() {
    for (name, model) in cluster_models() {
        let first = cluster_environments(&model).next().expect("a cluster env");
        let objects = documents(&monitoring::base(&model, first));
        let rules = of_kind(&objects, "PrometheusRule");
        assert_eq!(rules.len(), 1, "{name}");
        let files = rule_files(&model);
        let tested: Vec<Value> = files
            .iter()
            .filter(|f| !compose_only(f))
            .flat_map(|f| f.groups.iter())
            .flat_map(|g| g.rules.iter())
            .map(|r| serde_json::to_value(r).expect("rules serialize"))
            .collect();
        let groups = rules[0]["spec"]["groups"].as_array().expect("groups");
        assert!(!groups.is_empty(), "{name}");
        let mut names = BTreeSet::new();
        for group in groups {
            assert!(
                names.insert(group["name"].to_string()),
                "{name}: unique group names"
            );
            for rule in group["rules"].as_array().expect("rules") {
                assert!(
                    tested.contains(rule),
                    "{name}: {rule} is not in the rule files"
                );
            }
        }
    }
}

#[test]
fn metrics_and_health_are_monitored_with_the_compose_labels() {
    for (name, model) in cluster_models() {
        for environment in cluster_environments(&model) {
            let kubernetes = environment.kubernetes.as_ref().expect("settings");
            let objects = objects(&model, environment);
            let monitors: Vec<&Value> = of_kind(&objects, "ServiceMonitor")
                .into_iter()
                .filter(|m| m["metadata"]["name"] != "pushgateway")
                .filter(|m| {
                    !postgres_stores(&model).any(|s| m["metadata"]["name"] == exporter_host(s))
                })
                .collect();
            // Each PostgreSQL store's exporter is scraped as its Compose job, which
            // PostgresDown and the monitoring stack's ServiceDown select.
            for store in postgres_stores(&model) {
                let job = exporter_host(store);
                let monitor = named(&objects, "ServiceMonitor", &job);
                assert_eq!(
                    monitor["spec"]["endpoints"][0]["relabelings"][0]["replacement"],
                    job.as_str()
                );
                assert_eq!(
                    monitor["metadata"]["labels"][RELEASE_LABEL],
                    kubernetes.prometheus_release.as_str()
                );
                let service = named(&objects, "Service", &job);
                assert_eq!(
                    map(&service["spec"]["selector"]),
                    selector(&model, &job),
                    "{name}: the exporter's Service selects its pods"
                );
                named(&objects, "Deployment", &job);
            }
            let metered: Vec<&Service> = cluster_services(&model, environment)
                .filter(|s| s.metrics.is_some())
                .collect();
            assert!(!metered.is_empty(), "{name} has a service with metrics");
            assert_eq!(
                monitors.len(),
                metered.len(),
                "{name}: one ServiceMonitor per service with metrics"
            );
            for service in metered {
                let monitor = named(&objects, "ServiceMonitor", &service.name);
                let endpoint = &monitor["spec"]["endpoints"][0];
                assert_eq!(endpoint["port"], "http");
                assert_eq!(
                    endpoint["path"],
                    service.metrics.as_ref().expect("metrics").path.as_str()
                );
                assert_eq!(
                    endpoint["interval"],
                    model.monitoring.scrape_interval.as_str()
                );
                let relabel: BTreeMap<String, String> = endpoint["relabelings"]
                    .as_array()
                    .expect("relabelings")
                    .iter()
                    .filter_map(|r| {
                        Some((
                            r["targetLabel"].as_str()?.to_string(),
                            r["replacement"].as_str()?.to_string(),
                        ))
                    })
                    .collect();
                // The alerts and recording rules select `job="<service>"`.
                assert_eq!(relabel["job"], service.name);
                assert_eq!(relabel["service"], service.name);
                assert!(
                    rule_files(&model)
                        .iter()
                        .flat_map(|f| &f.groups)
                        .flat_map(|g| &g.rules)
                        .any(|r| {
                            serde_json::to_string(r)
                                .is_ok_and(|t| t.contains(&format!("job=\\\"{}\\\"", service.name)))
                        }),
                    "{name}: rules select {}'s job",
                    service.name
                );
                assert_eq!(
                    map(&monitor["spec"]["selector"]["matchLabels"]),
                    selector(&model, &service.name)
                );
            }
            let probes = of_kind(&objects, "Probe");
            let probed: Vec<&Service> = cluster_services(&model, environment)
                .filter(|s| monitoring::probed(s))
                .collect();
            assert_eq!(
                probes.len(),
                probed.len(),
                "{name}: a Probe per health endpoint"
            );
            for service in probed {
                let probe = named(&objects, "Probe", &service.name);
                assert_eq!(probe["spec"]["jobName"], PROBE_JOB);
                assert_eq!(probe["spec"]["module"], PROBE_MODULE);
                assert_eq!(
                    probe["spec"]["prober"]["url"],
                    kubernetes.blackbox_exporter.as_str()
                );
                let target = &probe["spec"]["targets"]["staticConfig"];
                assert_eq!(target["labels"]["service"], service.name.as_str());
                let url = target["static"][0].as_str().expect("a URL");
                assert!(
                    url.starts_with(&format!(
                        "http://{}.{}.svc:",
                        service.name, kubernetes.namespace
                    )),
                    "{url}"
                );
                assert!(
                    url.ends_with(service.health_path.as_deref().expect("health")),
                    "{url}"
                );
                assert_eq!(
                    probe["metadata"]["labels"][RELEASE_LABEL],
                    kubernetes.prometheus_release.as_str()
                );
            }
            let has_jobs = cluster_jobs(&model, environment).next().is_some();
            let pushgateway = objects
                .iter()
                .find(|o| o["kind"] == "ServiceMonitor" && o["metadata"]["name"] == "pushgateway");
            assert_eq!(pushgateway.is_some(), has_jobs, "{name}");
            if let Some(pg) = pushgateway {
                let endpoint = &pg["spec"]["endpoints"][0];
                assert_eq!(endpoint["honorLabels"], true, "pushed job labels survive");
                assert_eq!(endpoint["relabelings"][0]["replacement"], "pushgateway");
            }
        }
    }
}

#[test]
fn every_base_monitor_and_rule_gets_the_release_label_in_each_overlay() {
    for (name, model) in cluster_models() {
        let first = cluster_environments(&model).next().expect("a cluster env");
        let base = documents(&monitoring::base(&model, first));
        for environment in cluster_environments(&model) {
            let release = &environment
                .kubernetes
                .as_ref()
                .expect("settings")
                .prometheus_release;
            let patches: Vec<Value> = monitoring::overlay(&model, environment)
                .patches
                .iter()
                .flat_map(|m| &m.documents)
                .map(|d| yaml_value(d))
                .collect();
            for object in base
                .iter()
                .filter(|o| o["apiVersion"] == "monitoring.coreos.com/v1")
            {
                let patch = patches
                    .iter()
                    .find(|p| {
                        p["kind"] == object["kind"]
                            && p["metadata"]["name"] == object["metadata"]["name"]
                    })
                    .unwrap_or_else(|| panic!("{name}: {object} is not labelled"));
                assert_eq!(patch["metadata"]["labels"][RELEASE_LABEL], release.as_str());
            }
        }
    }
}

#[test]
fn dashboards_are_config_maps_for_the_grafana_sidecar_within_the_size_limit() {
    for (name, model) in cluster_models() {
        let first = cluster_environments(&model).next().expect("a cluster env");
        let documents_text = monitoring::dashboard_documents(&model);
        let expected = crate::generate::observability::dashboards::dashboards(&model).len();
        assert!(expected > 0);
        assert_eq!(documents_text.len(), expected, "{name}");
        for text in &documents_text {
            assert!(
                text.len() < MAX_OBJECT_BYTES,
                "{name}: {} bytes",
                text.len()
            );
        }
        let objects = documents(&monitoring::base(&model, first));
        let maps: Vec<&Value> = of_kind(&objects, "ConfigMap");
        assert_eq!(maps.len(), expected);
        for map in maps {
            assert_eq!(map["metadata"]["labels"][DASHBOARD_LABEL], "1");
            let data = map["data"].as_object().expect("data");
            assert_eq!(data.len(), 1);
            let (key, json) = data.iter().next().expect("one dashboard");
            assert!(key.ends_with(".json"));
            let dashboard: Value =
                serde_json::from_str(json.as_str().expect("text")).expect("JSON");
            assert!(dashboard["uid"].is_string());
        }
    }
}

/// `$(VAR)` expanded as the kubelet does: from the variables set so far, unknown ones kept.
fn kubelet_expand(value: &str, set: &BTreeMap<String, String>) -> String {
    let mut out = value.to_string();
    for (name, v) in set {
        out = out.replace(&format!("$({name})"), v);
    }
    out
}

#[test]
fn django_admits_the_pod_address_kubelet_probes_and_pod_scrapes_send() {
    const POD: &str = "10.42.0.7";
    let mut checked = 0;
    for (name, model) in cluster_models() {
        for env in cluster_environments(&model) {
            let objects = objects(&model, env);
            for service in model
                .services
                .iter()
                .filter(|s| s.runtime == Runtime::Django)
            {
                // The kubelet's order: the ConfigMap (envFrom), then each `env` entry in turn.
                let config = named(&objects, "ConfigMap", &format!("{}-config", service.name));
                let mut set = map(&config["data"]);
                let before = set["DJANGO_ALLOWED_HOSTS"].clone();
                let deployment = named(&objects, "Deployment", &service.name);
                let container = &deployment["spec"]["template"]["spec"]["containers"][0];
                for var in container["env"].as_array().into_iter().flatten() {
                    let value = if var["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP" {
                        POD.to_string()
                    } else {
                        kubelet_expand(var["value"].as_str().unwrap_or_default(), &set)
                    };
                    set.insert(var["name"].as_str().unwrap().to_string(), value);
                }
                let hosts: Vec<&str> = set["DJANGO_ALLOWED_HOSTS"].split(',').collect();
                assert!(hosts.contains(&POD), "{name}/{}: {hosts:?}", env.name);
                for host in before.split(',') {
                    assert!(hosts.contains(&host), "{name}/{}: lost {host}", env.name);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "a Django service runs on Kubernetes");
}

#[test]
fn django_pods_migrate_their_schema_in_an_init_container_with_the_app_environment() {
    let mut checked = 0;
    for (name, model) in cluster_models() {
        for env in cluster_environments(&model) {
            let objects = objects(&model, env);
            let overlay = workloads::overlay(&model, env);
            for service in model
                .services
                .iter()
                .filter(|s| s.runtime == Runtime::Django)
            {
                let pod = &named(&objects, "Deployment", &service.name)["spec"]["template"]["spec"];
                let app = &pod["containers"][0];
                let init = &pod["initContainers"][0];
                let at = format!("{name}/{}: {}", env.name, service.name);
                assert_eq!(init["name"], format!("{}-migrate", service.name), "{at}");
                assert_eq!(
                    init["args"],
                    serde_json::json!(["python", "manage.py", "migrate", "--noinput"]),
                    "{at}"
                );
                for field in [
                    "image",
                    "envFrom",
                    "securityContext",
                    "volumeMounts",
                    "resources",
                ] {
                    assert_eq!(init[field], app[field], "{at}: {field}");
                }
                assert!(init.get("readinessProbe").is_none(), "{at}");
                // The overlay gives it the same secrets (DATABASE_URL) as the app.
                let patch = overlay
                    .patches
                    .iter()
                    .find(|m| m.path == format!("patches/{}.yaml", service.name))
                    .map(|m| yaml_value(&m.documents[0]))
                    .expect("the service's patch");
                let spec = &patch["spec"]["template"]["spec"];
                assert_eq!(spec["initContainers"][0]["name"], init["name"], "{at}");
                assert_eq!(
                    spec["initContainers"][0]["env"], spec["containers"][0]["env"],
                    "{at}"
                );
                assert!(
                    spec["initContainers"][0]["env"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|v| v["name"] == "DATABASE_URL"),
                    "{at}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "a Django service runs on Kubernetes");
}
