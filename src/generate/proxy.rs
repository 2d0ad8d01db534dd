//! The `proxy` generator: the reverse proxy that alone faces the internet.
//!
//! Per environment it renders `proxy/<env>/nginx.conf` or `proxy/<env>/Caddyfile`, depending on
//! `proxy.engine`. Both engines render the same `Site`: the routing table of one environment
//! (virtual hosts, path prefixes, upstreams, protections), computed once here so that the two
//! configs cannot disagree on what is routed where.

mod caddy;
mod nginx;
#[cfg(test)]
mod syntax;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use crate::blueprint::{InternalTool, ProxyEngine};
use crate::generate::GeneratedFile;
use crate::model::{Environment, Exposure, Model, Placement};

pub use caddy::caddyfile;
pub use nginx::nginx_conf;

/// The path the proxy answers itself, for the container healthcheck.
pub const HEALTH_PATH: &str = "/healthz";

/// Renders this target's files: one proxy config per environment, for the chosen engine.
pub fn generate(model: &Model) -> Vec<GeneratedFile> {
    if !model.has_proxy() {
        return Vec::new();
    }
    model
        .environments
        .iter()
        .filter(|environment| environment.on_compose())
        .map(|environment| match model.proxy.engine {
            ProxyEngine::Nginx => GeneratedFile::hash_commented(
                format!("proxy/{}/nginx.conf", environment.name),
                nginx_conf(model, environment),
            ),
            ProxyEngine::Caddy => GeneratedFile::hash_commented(
                format!("proxy/{}/Caddyfile", environment.name),
                caddyfile(model, environment),
            ),
        })
        .collect()
}

/// One environment's routing table, shared by both engines and by the Kubernetes routes.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    /// The project, for the opening comment.
    project: String,
    /// The environment's name.
    environment: String,
    /// Whether HTTPS is served (HTTP then only redirects).
    tls: bool,
    /// Whether security headers and rate limits apply.
    hardening: bool,
    /// Whether HSTS is sent.
    hsts: bool,
    /// The virtual hosts: the environment's domain first, then other route hosts by name.
    pub(crate) hosts: Vec<VirtualHost>,
}

/// One host name and what is routed under it.
#[derive(Debug, Clone)]
pub(crate) struct VirtualHost {
    /// The host name.
    pub(crate) name: String,
    /// Routed prefixes, longest first; the whole-host route, if any, last.
    pub(crate) routes: Vec<ProxiedPath>,
}

impl VirtualHost {
    /// Whether a route takes the whole host (otherwise unrouted paths answer 404).
    fn has_root_route(&self) -> bool {
        self.routes.iter().any(|r| r.prefix.is_none())
    }
}

/// A path prefix passed to one upstream container.
#[derive(Debug, Clone)]
pub(crate) struct ProxiedPath {
    /// The prefix without a trailing `/` (`/api`); `None` for the whole host.
    pub(crate) prefix: Option<String>,
    /// Who answers: a service or an internal tool (names the upstream variable).
    pub(crate) label: String,
    /// Unique in the environment: `<service>_<n>` for a service's n-th route, the tool's name
    /// for a tool. Names nginx rate-limit zones and Caddy matchers.
    pub(crate) name: String,
    /// The container's host name on the Compose network (the Service name on Kubernetes).
    pub(crate) upstream_host: String,
    /// The container's port.
    pub(crate) upstream_port: u16,
    /// Whether connections upgrade to websockets.
    pub(crate) websocket: bool,
    /// Whether each client keeps reaching one replica (the model's `Route::sticky`).
    pub(crate) sticky: bool,
    /// Whether the prefix is removed before the request is passed on.
    pub(crate) strip_prefix: bool,
    /// The per-client rate limit, when enforced here.
    pub(crate) rate_limit: Option<RateLimit>,
    /// The protection of an internal tool; `None` for services.
    pub(crate) guard: Option<Guard>,
}

/// Requests per second per client IP on one route.
#[derive(Debug, Clone)]
pub(crate) struct RateLimit {
    /// Sustained requests per second.
    pub(crate) per_second: u32,
    /// Requests allowed in a burst above the rate (twice the rate).
    pub(crate) burst: u32,
}

/// What stands between the internet and an internal tool.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    /// HTTP basic auth is required.
    basic_auth: bool,
    /// Only these client networks get in; empty for any.
    allow: Vec<String>,
}

/// The prefix of a route path: `None` for the whole host, else the path without trailing `/`.
fn route_prefix(path: &str) -> Option<String> {
    let trimmed = path.trim_end_matches('/');
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// Whether the internal tool's container exists in the rendered stack.
fn tool_is_deployed(model: &Model, tool: InternalTool) -> bool {
    model.monitoring.enabled && (tool != InternalTool::Grafana || model.monitoring.grafana.enabled)
}

/// The route of an exposed internal tool, or `None` when it must not be routed: a tool that is
/// not deployed, or one with neither basic auth nor an allowlist (never exposed unprotected).
fn tool_route(model: &Model, exposure: &Exposure) -> Option<ProxiedPath> {
    if !tool_is_deployed(model, exposure.tool)
        || (!exposure.basic_auth && exposure.allow.is_empty())
    {
        return None;
    }
    Some(ProxiedPath {
        // A tool is told its external URL and serves under its own prefix, so the whole-host
        // form does not exist for it: `/` would shadow every service.
        prefix: Some(route_prefix(&exposure.path).unwrap_or_else(|| format!("/{}", exposure.host))),
        label: exposure.host.clone(),
        name: identifier(&exposure.host),
        upstream_host: exposure.host.clone(),
        upstream_port: exposure.port,
        // Grafana Live streams dashboards over a websocket; the others are plain HTTP.
        websocket: exposure.tool == InternalTool::Grafana,
        sticky: false,
        strip_prefix: false,
        rate_limit: None,
        guard: Some(Guard {
            basic_auth: exposure.basic_auth,
            allow: exposure.allow.clone(),
        }),
    })
}

/// Builds the routing table of `environment`: every route of every service that runs on
/// Compose there, and the exposed internal tools on the environment's domain.
fn site(model: &Model, environment: &Environment) -> Site {
    routing_table(model, environment, Placement::Compose)
}

/// Builds the routing table of the services placed on `placement` in `environment` (Compose or
/// Kubernetes; never Vercel, which routes itself). The internal tools are only routed on
/// Compose: a cluster's monitoring stack runs and exposes its own Grafana and Prometheus.
pub(crate) fn routing_table(
    model: &Model,
    environment: &Environment,
    placement: Placement,
) -> Site {
    let mut by_host: BTreeMap<String, Vec<ProxiedPath>> = BTreeMap::new();
    by_host.insert(environment.domain.clone(), Vec::new());
    // Two routes on the same host and prefix would make both configs invalid; validation
    // rejects them, and here the first one (services by name, then tools) wins.
    let mut taken: BTreeSet<(String, Option<String>)> = BTreeSet::new();
    let mut add = |host: &str, route: ProxiedPath| {
        if route.prefix.as_deref() == Some(HEALTH_PATH) {
            return;
        }
        if taken.insert((host.to_string(), route.prefix.clone())) {
            by_host.entry(host.to_string()).or_default().push(route);
        }
    };

    for service in &model.services {
        let Some(port) = service.port else { continue };
        if service.deploy.get(&environment.name) != Some(&placement)
            || placement == Placement::Vercel
        {
            continue;
        }
        for (index, route) in service.routes.iter().enumerate() {
            let prefix = route_prefix(&route.path);
            let rate_limit = route
                .rate_limit
                .filter(|_| environment.hardening)
                .map(|per_second| RateLimit {
                    per_second,
                    burst: per_second.saturating_mul(2),
                });
            let host = route.host.as_deref().unwrap_or(&environment.domain);
            add(
                host,
                ProxiedPath {
                    strip_prefix: route.strip_prefix && prefix.is_some(),
                    prefix,
                    label: service.name.clone(),
                    name: format!("{}_{}", identifier(&service.name), index + 1),
                    upstream_host: service.name.clone(),
                    upstream_port: port,
                    websocket: route.websocket,
                    sticky: route.sticky,
                    rate_limit,
                    guard: None,
                },
            );
        }
    }
    for exposure in model
        .proxy
        .expose
        .iter()
        .filter(|_| placement == Placement::Compose)
    {
        if let Some(route) = tool_route(model, exposure) {
            add(&environment.domain, route);
        }
    }

    let mut hosts: Vec<VirtualHost> = by_host
        .into_iter()
        .map(|(name, mut routes)| {
            routes.sort_by(|a, b| {
                let key = |r: &ProxiedPath| {
                    (
                        Reverse(r.prefix.as_ref().map_or(0, |p| p.len() + 1)),
                        r.prefix.clone(),
                    )
                };
                key(a).cmp(&key(b))
            });
            VirtualHost { name, routes }
        })
        .collect();
    // The environment's domain leads: it carries the tools and is the one people know.
    hosts.sort_by_key(|h| h.name != environment.domain);

    Site {
        project: model.project.name.clone(),
        environment: environment.name.clone(),
        tls: environment.tls,
        hardening: environment.hardening,
        hsts: environment.hsts,
        hosts,
    }
}

/// A name made only of ASCII letters, digits and `_`, for nginx variables and zones and Caddy
/// matchers (`ingest-prices` -> `ingest_prices`).
fn identifier(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Text safe inside a `#` comment of either format: one line, printable ASCII.
fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The headers the proxy adds to every response when the environment is hardened, in order.
fn security_headers(model: &Model, hsts: bool) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("X-Content-Type-Options", "nosniff".to_string()),
        ("X-Frame-Options", "SAMEORIGIN".to_string()),
        (
            "Referrer-Policy",
            "strict-origin-when-cross-origin".to_string(),
        ),
        (
            "Content-Security-Policy",
            model.proxy.content_security_policy.clone(),
        ),
        ("Permissions-Policy", PERMISSIONS_POLICY.to_string()),
    ];
    if hsts {
        // Mozilla's recommendation: two years, no includeSubDomains (sibling hosts under the
        // same parent domain are not ours to force onto HTTPS).
        headers.push(("Strict-Transport-Security", "max-age=63072000".to_string()));
    }
    headers
}

/// Powerful browser features no service here needs; a page that does can loosen this.
const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), \
                                  magnetometer=(), microphone=(), payment=(), usb=()";

/// The body of the page served when an upstream is down or times out.
const UNAVAILABLE_PAGE: &str = "<!doctype html><html lang=en><meta charset=utf-8>\
<title>Temporarily unavailable</title><h1>Temporarily unavailable</h1>\
<p>This service is starting or being updated. Please try again in a moment.</p></html>";

/// Whether `value` can stand bare in nginx and Caddy configs: non-empty and made only of
/// characters neither format gives a meaning to. Anything else is quoted per format.
pub(crate) fn is_plain_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._~/:=+@*,-".contains(c))
}
