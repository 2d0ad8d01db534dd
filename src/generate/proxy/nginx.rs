//! The nginx engine: one complete `nginx.conf` (events + http) per environment.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    ProxiedPath, Site, UNAVAILABLE_PAGE, comment_text, identifier, security_headers, site,
};
use crate::generate::render_template;
use crate::model::{Environment, Model};

const TEMPLATE: &str = include_str!("../templates/proxy/nginx.conf.j2");

/// Renders `proxy/<env>/nginx.conf` for `environment`, whatever engine the blueprint chose.
pub fn nginx_conf(model: &Model, environment: &Environment) -> String {
    let site = site(model, environment);
    let context = Context::new(model, environment, &site);
    render_template(
        "nginx.conf",
        TEMPLATE,
        minijinja::Value::from(minijinja::value::Serde(&context)),
    )
}

/// Renders `value` as one nginx token that cannot end the directive or start another one:
/// bare when it is made of plainly safe characters, double-quoted with `\` and `"` escaped
/// otherwise. Newlines and tabs become nginx's `\n` and `\t` escapes; other control characters
/// are dropped. The empty string becomes `""`.
pub(crate) fn nginx_quote(value: &str) -> String {
    if super::is_plain_token(value) {
        return value.to_string();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => {}
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// A PCRE pattern matching `text` literally: every character that is not a letter, digit,
/// `/`, `_` or `-` is escaped (a backslash before any other ASCII punctuation is a literal).
fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if !(c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[derive(Serialize)]
struct Context {
    project: String,
    environment: String,
    tls: bool,
    body_limit: String,
    zones: Vec<Zone>,
    sticky_upstreams: Vec<StickyUpstream>,
    certificate: String,
    certificate_key: String,
    certificate_name: String,
    certificate_domains: String,
    redirect_names: String,
    security_headers: Vec<Header>,
    unavailable_page: String,
    hosts: Vec<Host>,
    /// The unpublished `stub_status` listener, when the monitoring stack scrapes nginx.
    status_port: Option<u16>,
    status_path: String,
}

/// An `upstream` group for a sticky route: every replica the name resolves to, one per client.
#[derive(Serialize)]
struct StickyUpstream {
    comment: String,
    name: String,
    server: String,
}

#[derive(Serialize)]
struct Zone {
    name: String,
    rate: String,
}

#[derive(Serialize)]
struct Header {
    name: String,
    value: String,
    /// The map variable holding the value to add: ours when the upstream sent none, else empty
    /// (`add_header` with an empty value adds nothing, and the upstream's copy passes on).
    variable: String,
    /// The upstream's copy (`upstream_http_x_frame_options`).
    upstream: String,
}

#[derive(Serialize)]
struct Host {
    server_name: String,
    has_root_route: bool,
    locations: Vec<Location>,
}

#[derive(Serialize)]
struct Location {
    comment: String,
    /// The `location` arguments: `= /api` and `/api/` for a prefix, `/` for the whole host.
    patterns: Vec<String>,
    variable: String,
    upstream: String,
    /// The `upstream` group a sticky route proxies to (instead of its `set` variable).
    sticky_upstream: Option<String>,
    strip_regex: Option<String>,
    forwarded_prefix: Option<String>,
    websocket: bool,
    rate_limit: Option<LimitReq>,
    basic_auth: bool,
    allow: Vec<String>,
}

#[derive(Serialize)]
struct LimitReq {
    zone: String,
    burst: u32,
}

impl Context {
    fn new(model: &Model, environment: &Environment, site: &Site) -> Self {
        let live = format!("/etc/letsencrypt/live/{}", environment.domain);
        let zones = site
            .hosts
            .iter()
            .flat_map(|h| &h.routes)
            .filter_map(|r| r.rate_limit.as_ref().map(|limit| (&r.name, limit)))
            .map(|(name, limit)| Zone {
                name: nginx_quote(name),
                rate: nginx_quote(&format!("{}r/s", limit.per_second)),
            })
            .collect();
        Self {
            project: comment_text(&site.project),
            environment: comment_text(&site.environment),
            tls: site.tls,
            body_limit: nginx_quote(&model.proxy.body_limit),
            zones,
            sticky_upstreams: sticky_upstreams(site),
            certificate: nginx_quote(&format!("{live}/fullchain.pem")),
            certificate_key: nginx_quote(&format!("{live}/privkey.pem")),
            certificate_name: comment_text(&environment.domain),
            certificate_domains: site
                .hosts
                .iter()
                .map(|h| format!(" -d {}", comment_text(&h.name)))
                .collect(),
            redirect_names: site
                .hosts
                .iter()
                .map(|h| nginx_quote(&h.name))
                .collect::<Vec<_>>()
                .join(" "),
            security_headers: if site.hardening {
                security_headers(model, site.hsts)
                    .into_iter()
                    .map(|(name, value)| {
                        let snake = name.to_ascii_lowercase().replace('-', "_");
                        Header {
                            name: name.to_string(),
                            value: nginx_quote(&value),
                            variable: format!("default_{snake}"),
                            upstream: format!("upstream_http_{snake}"),
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            },
            unavailable_page: nginx_quote(UNAVAILABLE_PAGE),
            status_port: model
                .proxy_metrics(environment)
                .then_some(crate::generate::observability::NGINX_STATUS_PORT),
            status_path: crate::generate::observability::NGINX_STATUS_PATH.to_string(),
            hosts: site
                .hosts
                .iter()
                .map(|host| {
                    // Alphabetical, for the reader: nginx itself picks the longest prefix.
                    let mut routes: Vec<&ProxiedPath> = host.routes.iter().collect();
                    routes.sort_by_key(|r| r.prefix.as_deref().unwrap_or("/"));
                    Host {
                        server_name: nginx_quote(&host.name),
                        has_root_route: host.has_root_route(),
                        locations: routes.into_iter().map(location).collect(),
                    }
                })
                .collect(),
        }
    }
}

/// One group per sticky upstream of the site (routes to the same service share it).
fn sticky_upstreams(site: &Site) -> Vec<StickyUpstream> {
    let mut groups: BTreeMap<String, StickyUpstream> = BTreeMap::new();
    for route in site
        .hosts
        .iter()
        .flat_map(|h| &h.routes)
        .filter(|r| r.sticky)
    {
        let name = sticky_upstream_name(route);
        groups
            .entry(name.clone())
            .or_insert_with(|| StickyUpstream {
                comment: comment_text(&route.label),
                name,
                server: nginx_quote(&format!("{}:{}", route.upstream_host, route.upstream_port)),
            });
    }
    groups.into_values().collect()
}

fn sticky_upstream_name(route: &ProxiedPath) -> String {
    format!(
        "sticky_{}_{}",
        identifier(&route.upstream_host),
        route.upstream_port
    )
}

fn location(route: &ProxiedPath) -> Location {
    let patterns = match &route.prefix {
        // `= /api` and `/api/` rather than `/api`, which would also take `/apidocs`.
        Some(prefix) => vec![
            format!("= {}", nginx_quote(prefix)),
            nginx_quote(&format!("{prefix}/")),
        ],
        None => vec!["/".to_string()],
    };
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
    if let Some(limit) = &route.rate_limit {
        comment.push_str(&format!(", {} requests/s per client", limit.per_second));
    }
    if let Some(guard) = &route.guard {
        if guard.basic_auth {
            comment.push_str(", basic auth");
        }
        if !guard.allow.is_empty() {
            comment.push_str(&format!(", only from {}", guard.allow.join(" ")));
        }
    }
    Location {
        comment: comment_text(&comment),
        patterns,
        variable: identifier(&route.label),
        sticky_upstream: route.sticky.then(|| sticky_upstream_name(route)),
        upstream: nginx_quote(&format!(
            "http://{}:{}",
            route.upstream_host, route.upstream_port
        )),
        // A variable in proxy_pass disables nginx's own prefix replacement, so the prefix is
        // cut by a rewrite; `break` keeps the rewritten URI in this location.
        strip_regex: route
            .prefix
            .as_deref()
            .filter(|_| route.strip_prefix)
            .map(|prefix| nginx_quote(&format!("^{}/?(.*)$", regex_literal(prefix)))),
        forwarded_prefix: route
            .prefix
            .as_deref()
            .filter(|_| route.strip_prefix)
            .map(nginx_quote),
        websocket: route.websocket,
        rate_limit: route.rate_limit.as_ref().map(|limit| LimitReq {
            zone: nginx_quote(&route.name),
            burst: limit.burst,
        }),
        basic_auth: route.guard.as_ref().is_some_and(|g| g.basic_auth),
        allow: route
            .guard
            .iter()
            .flat_map(|g| &g.allow)
            .map(|network| nginx_quote(network))
            .collect(),
    }
}
