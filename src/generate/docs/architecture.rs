//! `docs/architecture.md`: one Mermaid flowchart per environment, drawn from the model.
//!
//! The internet reaches the proxy (nginx or Caddy on Compose, an Ingress or a Gateway on
//! Kubernetes) over HTTP or HTTPS; the proxy routes to the services by host and path; services
//! reach their stores (containers or providers) and the services they depend on; jobs run in
//! their service's image on its schedule; Prometheus scrapes and probes, and alerts go to the
//! receivers by severity. Vercel-hosted services are reached from the internet directly.
//!
//! Node ids come from [`node_id`] (stable, safe for Mermaid); every label is quoted and passed
//! through [`label`].

use serde::Serialize;

use super::{label, node_id};
use crate::blueprint::{Provider, ProxyEngine, Routing, StoreKind};
use crate::generate::containers::jobs::scheduler_name;
use crate::generate::observability::{metered_services, probe_url};
use crate::generate::proxy::routing_table;
use crate::generate::render_template;
use crate::model::{Environment, Model, Placement};

const TEMPLATE: &str = include_str!("../templates/docs/architecture.md.j2");

/// A node of a flowchart.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Node {
    /// The stable id.
    pub id: String,
    /// Mermaid's opening and closing shape brackets (`[`, `]`; `[(`, `)]` for a database).
    pub open: &'static str,
    /// The closing bracket.
    pub close: &'static str,
    /// The label's lines, each already passed through [`label`].
    pub lines: Vec<String>,
}

impl Node {
    fn new(id: String, shape: Shape, lines: Vec<String>) -> Self {
        let (open, close) = match shape {
            Shape::Box => ("[", "]"),
            Shape::Round => ("(", ")"),
            Shape::Circle => ("((", "))"),
            Shape::Database => ("[(", ")]"),
            Shape::Hexagon => ("{{", "}}"),
        };
        Self {
            id,
            open,
            close,
            lines: lines.iter().map(|l| label(l)).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Box,
    Round,
    Circle,
    Database,
    Hexagon,
}

/// An edge of a flowchart.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Edge {
    /// The source node's id.
    pub from: String,
    /// The target node's id.
    pub to: String,
    /// `-->` for traffic, `-.->` for monitoring and scheduling.
    pub arrow: &'static str,
    /// The label, already passed through [`label`].
    pub label: String,
}

/// One environment's diagram.
#[derive(Debug, Clone, Serialize)]
pub struct Diagram {
    /// The environment's name.
    pub environment: String,
    /// `Compose` or `Kubernetes`.
    pub platform: &'static str,
    /// The environment's domain.
    pub domain: String,
    /// The nodes, in a fixed order.
    pub nodes: Vec<Node>,
    /// The edges, in a fixed order.
    pub edges: Vec<Edge>,
}

impl Diagram {
    fn node(&mut self, node: Node) -> String {
        let id = node.id.clone();
        if !self.nodes.iter().any(|n| n.id == id) {
            self.nodes.push(node);
        }
        id
    }

    fn edge(&mut self, from: &str, to: &str, arrow: &'static str, text: &str) {
        let edge = Edge {
            from: from.to_string(),
            to: to.to_string(),
            arrow,
            label: label(text),
        };
        if !self.edges.contains(&edge) {
            self.edges.push(edge);
        }
    }
}

/// The services, jobs and stores that appear in `environment`'s diagram, by kind and name: what
/// the tests look for in the rendered SVG.
pub fn diagrams(model: &Model) -> Vec<Diagram> {
    model
        .environments
        .iter()
        .map(|e| diagram(model, e))
        .collect()
}

fn diagram(model: &Model, environment: &Environment) -> Diagram {
    let env = environment.name.as_str();
    let mut d = Diagram {
        environment: environment.name.clone(),
        platform: if environment.on_kubernetes() {
            "Kubernetes"
        } else {
            "Compose"
        },
        domain: environment.domain.clone(),
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    let internet = d.node(Node::new(
        "internet".into(),
        Shape::Circle,
        vec!["Internet".into()],
    ));
    let scheme = if environment.tls { "HTTPS" } else { "HTTP" };

    // The proxy and its routes.
    let placement = if environment.on_kubernetes() {
        Placement::Kubernetes
    } else {
        Placement::Compose
    };
    let site = routing_table(model, environment, placement);
    let routed = site.hosts.iter().any(|h| !h.routes.is_empty());
    if routed {
        let (name, tls) = match (&environment.kubernetes, model.proxy.engine) {
            (Some(k), _) if k.routing == Routing::Gateway => (
                format!("Gateway {}/{}", k.gateway_namespace, k.gateway_name),
                format!("TLS: cert-manager ({})", k.cluster_issuer),
            ),
            (Some(k), _) => (
                format!("Ingress ({})", k.ingress_class),
                format!("TLS: cert-manager ({})", k.cluster_issuer),
            ),
            (None, ProxyEngine::Nginx) => (
                "nginx proxy".to_string(),
                "TLS: Let's Encrypt via certbot".to_string(),
            ),
            (None, ProxyEngine::Caddy) => (
                "Caddy proxy".to_string(),
                "TLS: Caddy's automatic HTTPS".to_string(),
            ),
        };
        let mut lines = vec![name];
        lines.push(if environment.tls {
            tls
        } else {
            "plain HTTP".to_string()
        });
        let proxy = d.node(Node::new("proxy".into(), Shape::Hexagon, lines));
        let port = if environment.tls { 443 } else { 80 };
        d.edge(&internet, &proxy, "-->", &format!("{scheme} :{port}"));
        for host in &site.hosts {
            for route in &host.routes {
                let target = match model.service(&route.label) {
                    Some(service) => service_node(&mut d, model, service, env),
                    None => tool_node(&mut d, model, environment, &route.label),
                };
                let path = route.prefix.as_deref().unwrap_or("/");
                d.edge(&proxy, &target, "-->", &format!("{}{path}", host.name));
            }
        }
    }

    // Every service that runs here, routed or not, and what it reaches.
    for service in &model.services {
        match service.deploy.get(env) {
            Some(Placement::Vercel) => {
                let id = d.node(Node::new(
                    node_id("vercel", &service.name),
                    Shape::Round,
                    vec![service.name.clone(), "hosted on Vercel".into()],
                ));
                d.edge(&internet, &id, "-->", "HTTPS (Vercel)");
            }
            Some(_) => {
                let id = service_node(&mut d, model, service, env);
                for store_name in &service.stores {
                    if let Some(store) = model.store(store_name) {
                        let store_id = store_node(&mut d, store, environment);
                        let via = store
                            .url_env
                            .clone()
                            .unwrap_or_else(|| "S3_BUCKET".to_string());
                        d.edge(&id, &store_id, "-->", &via);
                    }
                }
                for dependency in &service.depends_on {
                    if let Some(other) = model.service(&dependency.name)
                        && other.in_container(env)
                    {
                        let other_id = service_node(&mut d, model, other, env);
                        d.edge(&id, &other_id, "-->", "depends on");
                    }
                }
            }
            None => {}
        }
    }

    // Jobs, in their service's image, on their schedules.
    for job in model.jobs_whose_service(|s| s.in_container(env)) {
        let Some(service) = model.service(&job.service) else {
            continue;
        };
        let runner = if environment.on_kubernetes() {
            "CronJob".to_string()
        } else {
            format!("in {}", scheduler_name(&service.name))
        };
        let id = d.node(Node::new(
            node_id("job", &job.name),
            Shape::Round,
            vec![job.name.clone(), format!("{} UTC", job.schedule), runner],
        ));
        let service_id = service_node(&mut d, model, service, env);
        d.edge(
            &id,
            &service_id,
            "-.->",
            &format!("runs {}'s image", service.name),
        );
        for store_name in &service.stores {
            if let Some(store) = model.store(store_name) {
                let store_id = store_node(&mut d, store, environment);
                d.edge(&id, &store_id, "-.->", "reads and writes");
            }
        }
    }

    // Backups: the Compose stack's backup job; a cluster has none yet.
    for store in &model.stores {
        if let Some(backup) = &store.backup
            && d.nodes
                .iter()
                .any(|n| n.id == node_id("store", &store.name))
            && let Some(target) = model.store(&backup.target)
        {
            let from = node_id("store", &store.name);
            let to = store_node(&mut d, target, environment);
            d.edge(
                &from,
                &to,
                "-.->",
                &if environment.on_compose() {
                    format!(
                        "pg_dump by {} {} UTC, kept {}",
                        backup.job, backup.schedule, backup.retention
                    )
                } else {
                    format!(
                        "declared backup {} UTC, kept {} (no CronJob rendered yet)",
                        backup.schedule, backup.retention
                    )
                },
            );
        }
    }

    if model.monitoring.enabled && super::runs_containers(model, environment) {
        monitoring(&mut d, model, environment);
    }
    d
}

fn service_node(
    d: &mut Diagram,
    model: &Model,
    service: &crate::model::Service,
    env: &str,
) -> String {
    let mut lines = vec![service.name.clone()];
    let runtime = serde_json::to_value(service.runtime)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    lines.push(match service.port {
        Some(port) => format!("{runtime} :{port}"),
        None => format!("{runtime} worker"),
    });
    let replicas = model.environment(env).map_or(1, |e| e.replicas).max(
        service
            .autoscaling
            .and_then(|a| a.min_replicas)
            .unwrap_or(0),
    );
    if let Some(autoscaling) = service.autoscaling.filter(|_| service.on_kubernetes(env)) {
        lines.push(format!(
            "{replicas} to {} replicas",
            autoscaling.max_replicas
        ));
    } else if replicas > 1 {
        lines.push(format!("{replicas} replicas"));
    }
    d.node(Node::new(node_id("svc", &service.name), Shape::Box, lines))
}

fn store_node(d: &mut Diagram, store: &crate::model::Store, environment: &Environment) -> String {
    let kind = match store.kind {
        StoreKind::Postgres => format!("PostgreSQL {}", store.version),
        StoreKind::Redis => format!("Redis {}", store.version),
        StoreKind::S3 => format!(
            "S3 bucket {}",
            store.bucket.clone().unwrap_or_else(|| store.name.clone())
        ),
    };
    let provider = match (
        environment.provider(&store.name),
        environment.on_kubernetes(),
    ) {
        (Provider::Container, false) if store.kind == StoreKind::S3 => "MinIO container",
        (Provider::Container, false) => "container",
        (Provider::Container, true) => "in-cluster StatefulSet",
        (Provider::Managed, _) => "managed provider",
        (Provider::Supabase, _) => "Supabase",
    };
    d.node(Node::new(
        node_id("store", &store.name),
        Shape::Database,
        vec![store.name.clone(), kind, provider.to_string()],
    ))
}

/// The node of a monitoring tool (`prometheus`, `alertmanager`, `grafana`), the same whether
/// the proxy routes to it or Prometheus sends to it.
fn tool_node(d: &mut Diagram, model: &Model, environment: &Environment, tool: &str) -> String {
    let lines = match (tool, &environment.kubernetes) {
        ("prometheus", Some(k)) => vec![
            "Prometheus".to_string(),
            format!(
                "the cluster's, release {} in {}",
                k.prometheus_release, k.monitoring_namespace
            ),
        ],
        ("prometheus", None) => vec![
            "Prometheus".to_string(),
            format!("scrapes every {}", model.monitoring.scrape_interval),
        ],
        ("alertmanager", Some(_)) => vec![
            "Alertmanager".to_string(),
            "the cluster's, with its own receivers".to_string(),
        ],
        ("alertmanager", None) => vec!["Alertmanager".to_string()],
        ("grafana", _) => vec!["Grafana".to_string()],
        (other, _) => vec![other.to_string()],
    };
    d.node(Node::new(node_id("tool", tool), Shape::Box, lines))
}

fn monitoring(d: &mut Diagram, model: &Model, environment: &Environment) {
    let env = environment.name.as_str();
    let prometheus = tool_node(d, model, environment, "prometheus");
    for service in metered_services(model).filter(|s| s.in_container(env)) {
        let id = service_node(d, model, service, env);
        let path = service
            .metrics
            .as_ref()
            .map_or("/metrics", |m| m.path.as_str());
        d.edge(&prometheus, &id, "-.->", &format!("scrapes {path}"));
    }
    for service in model.services.iter().filter(|s| s.in_container(env)) {
        if probe_url(service).is_some() {
            let id = service_node(d, model, service, env);
            let health = service.health_path.clone().unwrap_or_default();
            d.edge(&prometheus, &id, "-.->", &format!("probes {health}"));
        }
    }
    if model
        .jobs_whose_service(|s| s.in_container(env))
        .next()
        .is_some()
    {
        let pushgateway = d.node(Node::new(
            node_id("tool", "pushgateway"),
            Shape::Box,
            vec!["Pushgateway".into()],
        ));
        for job in model.jobs_whose_service(|s| s.in_container(env)) {
            d.edge(
                &node_id("job", &job.name),
                &pushgateway,
                "-.->",
                "pushes run results",
            );
        }
        d.edge(&prometheus, &pushgateway, "-.->", "scrapes job results");
    }
    let alertmanager = tool_node(d, model, environment, "alertmanager");
    d.edge(&prometheus, &alertmanager, "-->", "firing alerts");
    if environment.on_compose() {
        if model.monitoring.grafana.enabled {
            let grafana = tool_node(d, model, environment, "grafana");
            d.edge(&grafana, &prometheus, "-.->", "queries");
        }
        for receiver in &model.monitoring.receivers {
            let severities: Vec<&str> = model
                .monitoring
                .routes
                .iter()
                .filter(|(_, names)| names.contains(&receiver.name))
                .map(|(s, _)| crate::generate::observability::rules::severity_name(*s))
                .collect();
            let kind = serde_json::to_value(receiver.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let mut lines = vec![receiver.name.clone(), kind];
            if let Some(channel) = &receiver.channel {
                lines.push(channel.clone());
            }
            if let Some(to) = &receiver.to {
                lines.push(to.clone());
            }
            let id = d.node(Node::new(
                node_id("receiver", &receiver.name),
                Shape::Round,
                lines,
            ));
            let text = if severities.is_empty() {
                "no severity".to_string()
            } else {
                severities.join(", ")
            };
            d.edge(&alertmanager, &id, "-->", &text);
        }
    }
}

/// The whole document.
pub fn render(model: &Model) -> String {
    render_template(
        "docs/architecture.md",
        TEMPLATE,
        minijinja::context! {
            project => &model.project.name,
            description => super::inline(&model.project.description),
            diagrams => minijinja::Value::from(minijinja::value::Serde(diagrams(model))),
            monitoring => model.monitoring.enabled,
            runbooks => !super::runbooks::alerts(model).is_empty(),
        },
    )
}
