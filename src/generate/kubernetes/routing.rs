//! Routes: an Ingress or Gateway API HTTPRoutes per environment.
//!
//! Both come from the routing table the Compose proxy renders ([`routing_table`]): the same
//! hosts, prefixes (longest first), websockets, prefix stripping and rate limits, so a route
//! means the same thing on both platforms. Services on Vercel are never in it, and neither are
//! the internal tools (`proxy.expose`): on a cluster the monitoring stack runs and exposes its
//! own Grafana, Prometheus and Alertmanager, so routing them here would route to nothing.
//!
//! Everything here is per environment (hosts, TLS, the controller), so it lives in the overlays.

use std::collections::BTreeMap;

use super::objects::{
    HttpBackendRef, HttpIngressPath, HttpIngressRuleValue, HttpPathMatch, HttpPathModifier,
    HttpRouteFilter, HttpRouteMatch, HttpRouteRule, HttpRouteSpec, HttpUrlRewrite, IngressBackend,
    IngressRule, IngressServiceBackend, IngressSpec, IngressTls, Object, ObjectMeta,
    ParentReference, ServiceBackendPort, Spec,
};
use super::{Layer, Manifest, document, labels};
use crate::blueprint::Routing;
use crate::generate::proxy::{ProxiedPath, Site, routing_table};
use crate::model::{Environment, Kubernetes, Model, Placement};

/// The ingress-nginx annotation prefix.
const NGINX: &str = "nginx.ingress.kubernetes.io/";
/// The cert-manager annotation that has a certificate issued for an Ingress's TLS hosts.
pub const CLUSTER_ISSUER_ANNOTATION: &str = "cert-manager.io/cluster-issuer";
/// Seconds a websocket may stay silent before ingress-nginx closes it (its default is 60).
const WEBSOCKET_TIMEOUT_SECONDS: u32 = 3600;

/// Nothing: routes depend on the environment's hosts and controller.
pub fn base(_model: &Model, _first: &Environment) -> Layer {
    Layer::default()
}

/// `environment`'s routes: Ingresses or HTTPRoutes, in `routes.yaml`.
pub fn overlay(model: &Model, environment: &Environment) -> Layer {
    let Some(kubernetes) = &environment.kubernetes else {
        return Layer::default();
    };
    let site = cluster_site(model, environment);
    let documents: Vec<String> = match kubernetes.routing {
        Routing::Ingress => ingresses(model, environment, kubernetes, &site)
            .iter()
            .map(document)
            .collect(),
        Routing::Gateway => http_routes(model, kubernetes, &site)
            .iter()
            .map(document)
            .collect(),
    };
    let mut layer = Layer::default();
    if !documents.is_empty() {
        layer
            .resources
            .push(Manifest::new("routes.yaml", documents));
    }
    layer
}

/// The routing table of the services running in `environment`'s cluster.
pub(crate) fn cluster_site(model: &Model, environment: &Environment) -> Site {
    routing_table(model, environment, Placement::Kubernetes)
}

/// The names of the Services the routes of `environment` reach, with their ports.
pub fn routed_services(model: &Model, environment: &Environment) -> BTreeMap<String, u16> {
    cluster_site(model, environment)
        .hosts
        .iter()
        .flat_map(|h| &h.routes)
        .map(|r| (r.upstream_host.clone(), r.upstream_port))
        .collect()
}

/// The Secret cert-manager writes the certificate of `environment`'s hosts to.
pub fn tls_secret_name(model: &Model, environment: &Environment) -> String {
    format!("{}-{}-tls", model.project.name, environment.name)
}

/// What makes ingress-nginx treat routes differently; routes that share it share an Ingress,
/// since ingress-nginx annotations apply to every path of their Ingress.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Behaviour {
    websocket: bool,
    /// A stripped route has an Ingress of its own, as its `X-Forwarded-Prefix` is its own.
    strip: Option<Stripped>,
    rate_limit: Option<u32>,
}

/// A route whose prefix is stripped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Stripped {
    /// The routing table's unique route name (`api_2`).
    route: String,
    /// The prefix (`/api`).
    prefix: String,
}

impl Behaviour {
    fn of(route: &ProxiedPath) -> Self {
        Self {
            websocket: route.websocket,
            strip: route
                .prefix
                .as_ref()
                .filter(|_| route.strip_prefix)
                .map(|prefix| Stripped {
                    route: route.name.clone(),
                    prefix: prefix.clone(),
                }),
            rate_limit: route.rate_limit.as_ref().map(|l| l.per_second),
        }
    }

    /// The Ingress name of a service's routes with this behaviour (`api`, `api-limit-20`,
    /// `dashboard-websocket`, `api-2-rewrite`): stable, and unique because it spells out the
    /// behaviour (service names are DNS labels, so `api_2` reads back as `api-2`).
    fn ingress_name(&self, service: &str) -> String {
        let mut name = match &self.strip {
            Some(stripped) => format!("{}-rewrite", stripped.route.replace('_', "-")),
            None => service.to_string(),
        };
        if self.websocket {
            name.push_str("-websocket");
        }
        if let Some(rps) = self.rate_limit {
            name.push_str(&format!("-limit-{rps}"));
        }
        name
    }
}

/// One Ingress per service and behaviour. Only the first carries the cert-manager annotation:
/// cert-manager makes one Certificate per annotated Ingress and TLS Secret, and several
/// annotated Ingresses naming the same Secret would fight over it. Every Ingress lists the
/// TLS hosts and Secret, so ingress-nginx serves (and redirects to) HTTPS on each of them.
fn ingresses(
    model: &Model,
    environment: &Environment,
    kubernetes: &Kubernetes,
    site: &Site,
) -> Vec<Object<Spec<IngressSpec>>> {
    // (service, behaviour) -> host -> paths, in routing-table order (longest prefix first).
    let mut groups: BTreeMap<(String, Behaviour), Vec<(String, HttpIngressPath)>> = BTreeMap::new();
    for host in &site.hosts {
        for route in &host.routes {
            groups
                .entry((route.upstream_host.clone(), Behaviour::of(route)))
                .or_default()
                .push((host.name.clone(), ingress_path(route)));
        }
    }
    let tls = environment.tls.then(|| IngressTls {
        hosts: site
            .hosts
            .iter()
            .filter(|h| !h.routes.is_empty())
            .map(|h| h.name.clone())
            .collect(),
        secret_name: tls_secret_name(model, environment),
    });
    groups
        .into_iter()
        .enumerate()
        .map(|(index, ((service, behaviour), paths))| {
            let mut rules: Vec<IngressRule> = Vec::new();
            for (host, path) in paths {
                match rules.iter_mut().find(|r| r.host == host) {
                    Some(rule) => rule.http.paths.push(path),
                    None => rules.push(IngressRule {
                        host,
                        http: HttpIngressRuleValue { paths: vec![path] },
                    }),
                }
            }
            let mut meta = ObjectMeta::named(
                behaviour.ingress_name(&service),
                labels(model, &service, "service"),
            );
            meta.annotations = annotations(model, environment, kubernetes, &behaviour, index == 0);
            Object::new(
                "networking.k8s.io/v1",
                "Ingress",
                meta,
                Spec {
                    spec: IngressSpec {
                        ingress_class_name: kubernetes.ingress_class.clone(),
                        tls: tls.iter().cloned().collect(),
                        rules,
                    },
                },
            )
        })
        .collect()
}

/// The ingress-nginx annotations of routes with `behaviour`.
fn annotations(
    model: &Model,
    environment: &Environment,
    kubernetes: &Kubernetes,
    behaviour: &Behaviour,
    issues_certificate: bool,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut set = |key: &str, value: String| {
        out.insert(format!("{NGINX}{key}"), value);
    };
    // The same request body limit as the Compose proxy's `client_max_body_size`.
    set("proxy-body-size", model.proxy.body_limit.clone());
    if behaviour.websocket {
        // ingress-nginx upgrades websockets by itself; a quiet socket is only kept open as long
        // as the read and send timeouts allow.
        set("proxy-read-timeout", WEBSOCKET_TIMEOUT_SECONDS.to_string());
        set("proxy-send-timeout", WEBSOCKET_TIMEOUT_SECONDS.to_string());
    }
    if let Some(stripped) = &behaviour.strip {
        // The path is `<prefix>(/|$)(.*)`: the app sees `/<rest>`, and the prefix it was
        // reached under in `X-Forwarded-Prefix`, as behind the Compose proxy. Caveat of
        // ingress-nginx: a regex path makes every path of the same host a case-insensitive
        // regex, so `Prefix` paths of that host then also match longer names (`/apix`).
        set("rewrite-target", "/$2".into());
        set("use-regex", "true".into());
        set("x-forwarded-prefix", stripped.prefix.clone());
    }
    if let Some(rps) = behaviour.rate_limit {
        // Per client IP, as on Compose; the burst is the rate times this multiplier, twice the
        // rate as the Compose proxy allows.
        set("limit-rps", rps.to_string());
        set("limit-burst-multiplier", "2".into());
    }
    if environment.tls {
        // HTTP only redirects. HSTS is ingress-nginx's own setting (`hsts` in its ConfigMap,
        // on by default for TLS hosts); it has no per-Ingress switch.
        set("ssl-redirect", "true".into());
        if issues_certificate {
            out.insert(
                CLUSTER_ISSUER_ANNOTATION.to_string(),
                kubernetes.cluster_issuer.clone(),
            );
        }
    }
    out
}

fn ingress_path(route: &ProxiedPath) -> HttpIngressPath {
    let (path, path_type) = match (&route.prefix, route.strip_prefix) {
        (Some(prefix), true) => (
            format!("{}(/|$)(.*)", regex_literal(prefix)),
            "ImplementationSpecific",
        ),
        // `Prefix` matches whole path segments: `/api` takes `/api` and `/api/x`, never
        // `/apidocs`, like the Compose proxy's `= /api` and `/api/` locations.
        (Some(prefix), false) => (prefix.clone(), "Prefix"),
        (None, _) => ("/".to_string(), "Prefix"),
    };
    HttpIngressPath {
        path,
        path_type,
        backend: IngressBackend {
            service: IngressServiceBackend {
                name: route.upstream_host.clone(),
                port: ServiceBackendPort {
                    number: route.upstream_port,
                },
            },
        },
    }
}

/// A regular expression matching `text` literally (route prefixes are validated paths; `.` is
/// the only character they may hold with a regex meaning).
fn regex_literal(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = !(c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-');
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// One HTTPRoute per service and host, attached to the environment's Gateway, whose listeners
/// terminate TLS and redirect HTTP: both belong to the Gateway's owner, not to routes.
/// Body limits and rate limits are not part of the Gateway API (each implementation has its own
/// policy objects), so they are not rendered here; websockets need nothing (implementations
/// pass upgrades through).
fn http_routes(
    model: &Model,
    kubernetes: &Kubernetes,
    site: &Site,
) -> Vec<Object<Spec<HttpRouteSpec>>> {
    // service -> host -> rules, in routing-table order.
    let mut by_service: BTreeMap<String, Vec<(String, Vec<HttpRouteRule>)>> = BTreeMap::new();
    for host in &site.hosts {
        for route in &host.routes {
            let hosts = by_service.entry(route.upstream_host.clone()).or_default();
            let rule = http_route_rule(route);
            match hosts.iter_mut().find(|(h, _)| *h == host.name) {
                Some((_, rules)) => rules.push(rule),
                None => hosts.push((host.name.clone(), vec![rule])),
            }
        }
    }
    let mut out = Vec::new();
    for (service, hosts) in by_service {
        let several = hosts.len() > 1;
        for (index, (host, rules)) in hosts.into_iter().enumerate() {
            let name = if several {
                format!("{service}-{}", index + 1)
            } else {
                service.clone()
            };
            out.push(Object::new(
                "gateway.networking.k8s.io/v1",
                "HTTPRoute",
                ObjectMeta::named(name, labels(model, &service, "service")),
                Spec {
                    spec: HttpRouteSpec {
                        // The Gateway's listener must admit routes from this namespace
                        // (`allowedRoutes.namespaces`).
                        parent_refs: vec![ParentReference {
                            group: "gateway.networking.k8s.io",
                            kind: "Gateway",
                            namespace: kubernetes.gateway_namespace.clone(),
                            name: kubernetes.gateway_name.clone(),
                        }],
                        hostnames: vec![host],
                        rules,
                    },
                },
            ));
        }
    }
    out
}

fn http_route_rule(route: &ProxiedPath) -> HttpRouteRule {
    let prefix = route.prefix.clone().unwrap_or_else(|| "/".to_string());
    HttpRouteRule {
        // `PathPrefix` matches whole path segments, and the longest prefix wins across
        // routes, as in the routing table.
        matches: vec![HttpRouteMatch {
            path: HttpPathMatch {
                kind: "PathPrefix",
                value: prefix,
            },
        }],
        filters: if route.strip_prefix {
            vec![HttpRouteFilter {
                kind: "URLRewrite",
                url_rewrite: HttpUrlRewrite {
                    path: HttpPathModifier {
                        kind: "ReplacePrefixMatch",
                        replace_prefix_match: "/".into(),
                    },
                },
            }]
        } else {
            Vec::new()
        },
        backend_refs: vec![HttpBackendRef {
            name: route.upstream_host.clone(),
            port: route.upstream_port,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_literal_escapes_dots_only_where_needed() {
        assert_eq!(regex_literal("/v1.2/api-x_y"), "/v1\\.2/api-x_y");
    }

    #[test]
    fn ingress_names_spell_out_the_behaviour() {
        let b = Behaviour {
            websocket: true,
            strip: Some(Stripped {
                route: "my_web_2".into(),
                prefix: "/x".into(),
            }),
            rate_limit: Some(5),
        };
        assert_eq!(
            b.ingress_name("my-web"),
            "my-web-2-rewrite-websocket-limit-5"
        );
        let plain = Behaviour {
            websocket: false,
            strip: None,
            rate_limit: None,
        };
        assert_eq!(plain.ingress_name("web"), "web");
    }
}
