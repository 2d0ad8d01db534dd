//! The Caddy engine: one `Caddyfile` per environment.

use serde::Serialize;

use super::{ProxiedPath, Site, UNAVAILABLE_PAGE, comment_text, security_headers, site};
use crate::generate::render_template;
use crate::model::{Environment, Model};

const TEMPLATE: &str = include_str!("../templates/proxy/Caddyfile.j2");

/// Renders `proxy/<env>/Caddyfile` for `environment`, whatever engine the blueprint chose.
pub fn caddyfile(model: &Model, environment: &Environment) -> String {
    let site = site(model, environment);
    let context = Context::new(model, environment, &site);
    render_template(
        "Caddyfile",
        TEMPLATE,
        minijinja::Value::from(minijinja::value::Serde(&context)),
    )
}

/// Renders `value` as one Caddyfile token: bare when it is made of plainly safe characters,
/// double-quoted with `"` escaped otherwise. A backslash cannot be escaped in a Caddyfile
/// (before a quote it always escapes it), so backslashes are dropped, as are control
/// characters: no schema-valid value contains either. The empty string becomes `""`.
pub(crate) fn caddy_quote(value: &str) -> String {
    if super::is_plain_token(value) {
        return value.to_string();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => {}
            c if c.is_control() => {}
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// An nginx-style size (`512k`, `20m`, `1g`, plain bytes) in Caddy's units (`20MiB`): nginx
/// counts in powers of 1024, and Caddy reads `MB` as a million bytes.
fn caddy_size(size: &str) -> String {
    let (digits, unit) = match size.char_indices().last() {
        Some((at, 'k' | 'K')) => (&size[..at], "KiB"),
        Some((at, 'm' | 'M')) => (&size[..at], "MiB"),
        Some((at, 'g' | 'G')) => (&size[..at], "GiB"),
        _ => (size, "B"),
    };
    match digits.parse::<u64>() {
        Ok(number) => format!("{number}{unit}"),
        // Not a size: handed over as written, for Caddy to reject.
        Err(_) => caddy_quote(size),
    }
}

#[derive(Serialize)]
struct Context {
    project: String,
    environment: String,
    tls: bool,
    email: Option<String>,
    body_limit: String,
    security_headers: Vec<Header>,
    unavailable_page: String,
    hosts: Vec<Host>,
    /// The unpublished listener of Caddy's own metrics, when the monitoring stack scrapes them.
    metrics_port: Option<u16>,
}

#[derive(Serialize)]
struct Header {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct Host {
    address: String,
    has_root_route: bool,
    has_prefix_routes: bool,
    routes: Vec<Route>,
}

#[derive(Serialize)]
struct Route {
    comment: String,
    /// The named matcher; `None` for the whole host.
    matcher: Option<String>,
    /// The matcher's paths: `/api /api/*`.
    paths: String,
    upstream: String,
    /// `<name> <port>` for `dynamic a` on a sticky route: each replica an upstream of its own.
    dynamic: Option<String>,
    strip_prefix: Option<String>,
    websocket: bool,
    rate_limit: Option<u32>,
    guard: bool,
    basic_auth: bool,
    allow: String,
}

impl Context {
    fn new(model: &Model, environment: &Environment, site: &Site) -> Self {
        Self {
            project: comment_text(&site.project),
            environment: comment_text(&site.environment),
            tls: site.tls,
            email: model
                .proxy
                .acme_email
                .as_deref()
                .filter(|_| site.tls)
                .map(caddy_quote),
            body_limit: caddy_size(&model.proxy.body_limit),
            security_headers: if site.hardening {
                security_headers(model, site.hsts)
                    .into_iter()
                    .map(|(name, value)| Header {
                        name: name.to_string(),
                        value: caddy_quote(&value),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            unavailable_page: caddy_quote(UNAVAILABLE_PAGE),
            metrics_port: model
                .proxy_metrics(environment)
                .then_some(crate::generate::observability::CADDY_METRICS_PORT),
            hosts: site
                .hosts
                .iter()
                .map(|host| Host {
                    // Without TLS the address says http://, or Caddy would fetch certificates.
                    address: if environment.tls {
                        caddy_quote(&host.name)
                    } else {
                        format!("http://{}", caddy_quote(&host.name))
                    },
                    has_root_route: host.has_root_route(),
                    has_prefix_routes: host.routes.iter().any(|r| r.prefix.is_some()),
                    routes: host.routes.iter().map(caddy_route).collect(),
                })
                .collect(),
        }
    }
}

fn caddy_route(route: &ProxiedPath) -> Route {
    let what = if route.guard.is_some() {
        "internal tool"
    } else {
        "service"
    };
    let mut comment = format!(
        "{} -> {what} {} ({}:{})",
        route.prefix.as_deref().unwrap_or("/"),
        route.label,
        route.upstream_host,
        route.upstream_port
    );
    if route.strip_prefix {
        comment.push_str(", prefix stripped");
    }
    if route.websocket {
        comment.push_str(", websocket");
    }
    if let Some(guard) = &route.guard {
        if guard.basic_auth {
            comment.push_str(", basic auth");
        }
        if !guard.allow.is_empty() {
            comment.push_str(&format!(", only from {}", guard.allow.join(" ")));
        }
    }
    Route {
        comment: comment_text(&comment),
        matcher: route.prefix.as_ref().map(|_| route.name.clone()),
        paths: route
            .prefix
            .as_deref()
            .map(|prefix| {
                format!(
                    "{} {}",
                    caddy_quote(prefix),
                    caddy_quote(&format!("{prefix}/*"))
                )
            })
            .unwrap_or_default(),
        upstream: caddy_quote(&format!("{}:{}", route.upstream_host, route.upstream_port)),
        dynamic: route.sticky.then(|| {
            format!(
                "{} {}",
                caddy_quote(&route.upstream_host),
                route.upstream_port
            )
        }),
        strip_prefix: route
            .prefix
            .as_deref()
            .filter(|_| route.strip_prefix)
            .map(caddy_quote),
        websocket: route.websocket,
        rate_limit: route.rate_limit.as_ref().map(|limit| limit.per_second),
        guard: route.guard.is_some(),
        basic_auth: route.guard.as_ref().is_some_and(|g| g.basic_auth),
        allow: route
            .guard
            .iter()
            .flat_map(|g| &g.allow)
            .map(|network| caddy_quote(network))
            .collect::<Vec<_>>()
            .join(" "),
    }
}
