//! NetworkPolicies: default deny, then the traffic the blueprint implies.
//!
//! Every policy says why its traffic is allowed in a `kubernetes.io/description` annotation,
//! which stays readable in the file and in `kubectl describe`. What does not depend on the
//! environment is in the base: the default deny, DNS, calls between services (`depends_on`)
//! and HTTPS to the outside. The overlays add what does: the ingress controller's and the
//! monitoring stack's namespaces, the stores (in the cluster in one environment, managed in
//! another) and the Pushgateway.
//!
//! Kubelet probes need no rule: policies do not apply to traffic from the pod's own node.

use std::collections::{BTreeMap, BTreeSet};

use super::monitoring::{ClusterAddress, probed, scraped};
use super::objects::{
    IpBlock, LabelSelector, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec, Object, ObjectMeta, Spec,
};
use super::routing::routed_services;
use super::workloads::{
    cluster_databases, cluster_exported_stores, cluster_jobs, cluster_services,
};
use super::{Layer, Manifest, document, selector};
use crate::blueprint::{Provider, StoreKind};
use crate::generate::observability::{POSTGRES_EXPORTER_PORT, exporter_host};
use crate::model::{DependencyKind, Environment, Model, Service, Store};

/// The label every namespace carries with its own name (set by the API server).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The annotation holding why a policy's traffic is allowed.
pub const DESCRIPTION: &str = "kubernetes.io/description";
/// The port Supabase's transaction pooler (Supavisor) listens on, beside 5432.
const SUPABASE_POOLER_PORT: u16 = 6543;
/// Private and link-local ranges, left out of "the outside": other tenants of the network and
/// the cloud metadata endpoint (which hands out the node's credentials) are not the internet.
const NOT_THE_INTERNET: [&str; 4] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
];

/// A pod of the project: a service's Deployment, a job's CronJob (which runs in its service's
/// image with its service's variables, so it needs the same connections), or a backup job's
/// CronJob (which reaches the database it dumps and the bucket the dumps go to), or its restore
/// test's (the bucket only).
#[derive(Debug, Clone)]
struct Workload<'a> {
    /// The pods' name label.
    name: String,
    /// The service whose code and configuration it runs (none for a backup or a restore test).
    service: Option<&'a Service>,
    /// The stores it connects to.
    stores: Vec<&'a Store>,
    /// Whether it is a job (reports to the Pushgateway).
    job: bool,
    /// Whether it reaches HTTPS outside the cluster: all but a store's exporter, which only
    /// connects to its database.
    https: bool,
}

fn workloads<'a>(model: &'a Model, environment: &'a Environment) -> Vec<Workload<'a>> {
    let services = cluster_services(model, environment).map(|s| Workload {
        name: s.name.clone(),
        service: Some(s),
        stores: used_stores(model, s),
        job: false,
        https: true,
    });
    let jobs = cluster_jobs(model, environment).filter_map(|j| {
        let service = model.service(&j.service)?;
        Some(Workload {
            name: j.name.clone(),
            service: Some(service),
            stores: used_stores(model, service),
            job: true,
            https: true,
        })
    });
    let backups = model.cluster_backups().map(|(store, policy)| Workload {
        name: policy.job.clone(),
        service: None,
        stores: [Some(store), model.store(&policy.target)]
            .into_iter()
            .flatten()
            .collect(),
        job: true,
        https: true,
    });
    // The restore test reads the dumps and restores them into its own scratch server: the
    // bucket only, never the database.
    let restore_tests = model.cluster_backups().filter_map(|(_, policy)| {
        Some(Workload {
            name: policy.restore_test.as_ref()?.job.clone(),
            service: None,
            stores: model.store(&policy.target).into_iter().collect(),
            job: true,
            https: true,
        })
    });
    // A store's exporter connects to its database as the services do.
    let exporters = cluster_exported_stores(model, environment).map(|store| Workload {
        name: exporter_host(store),
        service: None,
        stores: vec![store],
        job: false,
        https: false,
    });
    services
        .chain(jobs)
        .chain(backups)
        .chain(restore_tests)
        .chain(exporters)
        .collect()
}

impl Workload<'_> {
    /// The services in the cluster it calls, with their ports.
    fn calls<'a>(&'a self, model: &'a Model, environment: &'a Environment) -> Vec<(&'a str, u16)> {
        self.service
            .map(|s| called_services(model, environment, s).collect())
            .unwrap_or_default()
    }
}

/// The services in the cluster `service` calls (`depends_on`), with their ports.
fn called_services<'a>(
    model: &'a Model,
    environment: &'a Environment,
    service: &'a Service,
) -> impl Iterator<Item = (&'a str, u16)> {
    service
        .depends_on
        .iter()
        .filter(|d| d.kind == DependencyKind::Service)
        .filter_map(move |d| {
            let target = model.service(&d.name)?;
            target
                .on_kubernetes(&environment.name)
                .then_some((target.name.as_str(), target.port?))
        })
}

/// The stores `service` is bound to or waits for.
fn used_stores<'a>(model: &'a Model, service: &'a Service) -> Vec<&'a Store> {
    let names: BTreeSet<&str> = service
        .stores
        .iter()
        .map(String::as_str)
        .chain(
            service
                .depends_on
                .iter()
                .filter(|d| d.kind == DependencyKind::Store)
                .map(|d| d.name.as_str()),
        )
        .collect();
    names.into_iter().filter_map(|n| model.store(n)).collect()
}

/// The ports a store outside the cluster is reached on, if it is one reached over its own
/// protocol (S3 is HTTPS, allowed to every workload).
fn managed_ports(environment: &Environment, store: &Store) -> Vec<u16> {
    match (store.kind, environment.provider(&store.name)) {
        (StoreKind::Postgres, Provider::Supabase) => vec![store.port, SUPABASE_POOLER_PORT],
        (StoreKind::Postgres | StoreKind::Redis, Provider::Managed) => vec![store.port],
        _ => Vec::new(),
    }
}

/// The base: default deny, DNS, calls between services and HTTPS to the outside.
pub fn base(model: &Model, first: &Environment) -> Layer {
    let mut documents = vec![
        document(&policy(
            "default-deny",
            "Nothing reaches or leaves a pod of this namespace unless a policy below allows it.",
            LabelSelector::default(),
            Vec::new(),
            Vec::new(),
            true,
            true,
        )),
        document(&policy(
            "allow-dns",
            "Every pod resolves names (Services, managed stores, APIs) through the cluster DNS \
             in kube-system.",
            LabelSelector::default(),
            Vec::new(),
            vec![NetworkPolicyEgressRule {
                to: vec![namespace_peer("kube-system")],
                ports: vec![
                    NetworkPolicyPort {
                        protocol: "UDP",
                        port: 53,
                    },
                    NetworkPolicyPort::tcp(53),
                ],
            }],
            false,
            true,
        )),
    ];

    let workloads = workloads(model, first);
    for workload in workloads.iter().filter(|w| w.https) {
        let calls = workload.calls(model, first);
        let mut egress: Vec<NetworkPolicyEgressRule> = calls
            .iter()
            .map(|(name, port)| NetworkPolicyEgressRule {
                to: vec![pod_peer(model, name)],
                ports: vec![NetworkPolicyPort::tcp(*port)],
            })
            .collect();
        egress.push(NetworkPolicyEgressRule {
            to: vec![internet()],
            ports: vec![NetworkPolicyPort::tcp(443)],
        });
        let calls: Vec<&str> = calls.iter().map(|(n, _)| *n).collect();
        let mut why = if workload.service.is_some() {
            format!(
                "{} calls HTTPS APIs outside the cluster (object storage, webhooks, third-party \
                 services)",
                workload.name
            )
        } else if workload
            .stores
            .iter()
            .any(|s| s.kind == StoreKind::Postgres)
        {
            format!(
                "{} uploads its dumps to object storage outside the cluster over HTTPS",
                workload.name
            )
        } else {
            format!(
                "{} downloads dumps from object storage outside the cluster over HTTPS",
                workload.name
            )
        };
        if let Some(service) = workload.service
            && !calls.is_empty()
        {
            why.push_str(&format!(
                " and the services {} depends on: {}",
                service.name,
                calls.join(", ")
            ));
        }
        why.push('.');
        documents.push(document(&allow_to(
            &format!("{}-egress", workload.name),
            &why,
            pod_selector(model, &workload.name),
            egress,
        )));
    }

    // Each called service admits its callers: the services that depend on it and their jobs.
    let mut callers: BTreeMap<(&str, u16), Vec<&str>> = BTreeMap::new();
    for workload in &workloads {
        for target in workload.calls(model, first) {
            callers.entry(target).or_default().push(&workload.name);
        }
    }
    for ((target, port), from) in callers {
        documents.push(document(&allow_from(
            &format!("{target}-from-services"),
            &format!(
                "{} call {target} (its dependents, and the jobs that run their code).",
                from.join(", ")
            ),
            pod_selector(model, target),
            from.iter().map(|w| pod_peer(model, w)).collect(),
            port,
        )));
    }

    Layer {
        resources: vec![Manifest::new("network-policies.yaml", documents)],
        patches: Vec::new(),
    }
}

/// `environment`'s policies: its ingress controller, its monitoring stack, its stores and its
/// Pushgateway.
pub fn overlay(model: &Model, environment: &Environment) -> Layer {
    let Some(kubernetes) = &environment.kubernetes else {
        return Layer::default();
    };
    let mut documents = Vec::new();

    for (service, port) in routed_services(model, environment) {
        documents.push(document(&allow_from(
            &format!("{service}-from-ingress"),
            &format!(
                "The routes of {service} are served by the ingress controller or gateway in \
                 {}.",
                kubernetes.ingress_namespace
            ),
            pod_selector(model, &service),
            vec![namespace_peer(&kubernetes.ingress_namespace)],
            port,
        )));
    }

    let blackbox = ClusterAddress::parse(
        &kubernetes.blackbox_exporter,
        &kubernetes.monitoring_namespace,
    );
    for service in cluster_services(model, environment) {
        let Some(port) = service.port else { continue };
        let mut namespaces = BTreeSet::new();
        let mut what = Vec::new();
        if model.monitoring.enabled && scraped(service) {
            namespaces.insert(kubernetes.monitoring_namespace.clone());
            what.push(format!(
                "Prometheus (in {}) scrapes its metrics",
                kubernetes.monitoring_namespace
            ));
        }
        if model.monitoring.enabled && probed(service) {
            namespaces.insert(blackbox.namespace.clone());
            what.push(format!(
                "the blackbox exporter (in {}) probes its health endpoint",
                blackbox.namespace
            ));
        }
        if namespaces.is_empty() {
            continue;
        }
        documents.push(document(&allow_from(
            &format!("{}-from-monitoring", service.name),
            &format!("{}: {}.", service.name, what.join("; ")),
            pod_selector(model, &service.name),
            namespaces.iter().map(|n| namespace_peer(n)).collect(),
            port,
        )));
    }

    for store in cluster_exported_stores(model, environment) {
        let host = exporter_host(store);
        documents.push(document(&allow_from(
            &format!("{host}-from-monitoring"),
            &format!(
                "{host}: Prometheus (in {}) scrapes the metrics of {}.",
                kubernetes.monitoring_namespace, store.name
            ),
            pod_selector(model, &host),
            vec![namespace_peer(&kubernetes.monitoring_namespace)],
            POSTGRES_EXPORTER_PORT,
        )));
    }

    let databases: Vec<&Store> = cluster_databases(model, environment).collect();
    let mut clients: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let pushgateway =
        ClusterAddress::parse(&kubernetes.pushgateway, &kubernetes.monitoring_namespace);
    for workload in workloads(model, environment) {
        let mut egress = Vec::new();
        let mut reasons = Vec::new();
        for store in workload.stores.iter().copied() {
            if databases.iter().any(|d| d.name == store.name) {
                clients
                    .entry(&store.name)
                    .or_default()
                    .push(workload.name.clone());
                egress.push(NetworkPolicyEgressRule {
                    to: vec![pod_peer(model, &store.name)],
                    ports: vec![NetworkPolicyPort::tcp(store.port)],
                });
                reasons.push(format!("{} in this namespace", store.name));
                continue;
            }
            let ports = managed_ports(environment, store);
            if !ports.is_empty() {
                egress.push(NetworkPolicyEgressRule {
                    to: vec![internet()],
                    ports: ports.iter().copied().map(NetworkPolicyPort::tcp).collect(),
                });
                let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
                reasons.push(format!(
                    "{} outside the cluster on {}",
                    store.name,
                    ports.join(" and ")
                ));
            }
        }
        if workload.job && model.monitoring.enabled {
            egress.push(NetworkPolicyEgressRule {
                to: vec![namespace_peer(&pushgateway.namespace)],
                ports: vec![NetworkPolicyPort::tcp(pushgateway.port)],
            });
            reasons.push(format!(
                "the Pushgateway in {} (each run reports its outcome)",
                pushgateway.namespace
            ));
        }
        if egress.is_empty() {
            continue;
        }
        documents.push(document(&allow_to(
            &format!("{}-egress-{}", workload.name, environment.name),
            &format!(
                "In {}, {} reaches {}.",
                environment.name,
                workload.name,
                reasons.join("; ")
            ),
            pod_selector(model, &workload.name),
            egress,
        )));
    }

    for store in databases {
        let from = clients.remove(store.name.as_str()).unwrap_or_default();
        if from.is_empty() {
            continue;
        }
        documents.push(document(&allow_from(
            &format!("{}-from-apps", store.name),
            &format!(
                "{} use the in-cluster database {}.",
                from.join(", "),
                store.name
            ),
            pod_selector(model, &store.name),
            from.iter().map(|w| pod_peer(model, w)).collect(),
            store.port,
        )));
    }

    let mut layer = Layer::default();
    if !documents.is_empty() {
        layer
            .resources
            .push(Manifest::new("network-policies.yaml", documents));
    }
    layer
}

fn pod_selector(model: &Model, name: &str) -> LabelSelector {
    LabelSelector {
        match_labels: selector(model, name),
    }
}

fn pod_peer(model: &Model, name: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(pod_selector(model, name)),
        ..NetworkPolicyPeer::default()
    }
}

fn namespace_peer(namespace: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: BTreeMap::from([(
                NAMESPACE_NAME_LABEL.to_string(),
                namespace.to_string(),
            )]),
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn internet() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IpBlock {
            cidr: "0.0.0.0/0".into(),
            except: NOT_THE_INTERNET.map(String::from).to_vec(),
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// A policy that lets `from` reach `pods` on `port`.
fn allow_from(
    name: &str,
    why: &str,
    pods: LabelSelector,
    from: Vec<NetworkPolicyPeer>,
    port: u16,
) -> Object<Spec<NetworkPolicySpec>> {
    let rule = NetworkPolicyIngressRule {
        from,
        ports: vec![NetworkPolicyPort::tcp(port)],
    };
    policy(name, why, pods, vec![rule], Vec::new(), true, false)
}

/// A policy that lets `pods` send what `egress` allows.
fn allow_to(
    name: &str,
    why: &str,
    pods: LabelSelector,
    egress: Vec<NetworkPolicyEgressRule>,
) -> Object<Spec<NetworkPolicySpec>> {
    policy(name, why, pods, Vec::new(), egress, false, true)
}

fn policy(
    name: &str,
    why: &str,
    pods: LabelSelector,
    ingress: Vec<NetworkPolicyIngressRule>,
    egress: Vec<NetworkPolicyEgressRule>,
    isolates_ingress: bool,
    isolates_egress: bool,
) -> Object<Spec<NetworkPolicySpec>> {
    let mut meta = ObjectMeta::named(name, BTreeMap::new());
    meta.annotations = BTreeMap::from([(DESCRIPTION.to_string(), why.to_string())]);
    let mut policy_types = Vec::new();
    if isolates_ingress {
        policy_types.push("Ingress");
    }
    if isolates_egress {
        policy_types.push("Egress");
    }
    Object::new(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        meta,
        Spec {
            spec: NetworkPolicySpec {
                pod_selector: pods,
                policy_types,
                ingress,
                egress,
            },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outside_excludes_private_and_metadata_ranges() {
        let peer = internet();
        let block = peer.ip_block.expect("an address block");
        assert_eq!(block.cidr, "0.0.0.0/0");
        for range in [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "169.254.0.0/16",
        ] {
            assert!(block.except.iter().any(|e| e == range), "{range}");
        }
    }

    #[test]
    fn policies_only_isolate_the_directions_they_govern() {
        let p = policy(
            "x",
            "why",
            LabelSelector::default(),
            Vec::new(),
            Vec::new(),
            true,
            false,
        );
        assert_eq!(p.body.spec.policy_types, vec!["Ingress"]);
        assert_eq!(p.metadata.annotations[DESCRIPTION], "why");
    }
}
