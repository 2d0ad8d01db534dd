//! Tests of the proxy generator: both engines, every example blueprint, every environment.
//! The configs are parsed back (`super::syntax`: a small nginx parser, a small Caddyfile
//! parser) and checked against the model, so each assertion is about what the engine will
//! actually read.

use super::caddy::caddy_quote;
use super::nginx::nginx_quote;
use std::cell::RefCell;

use super::syntax::{Directive, caddy_tokens, parse_caddy};
use super::*;
use crate::blueprint::Blueprint;
use crate::blueprint::Runtime;
use crate::generate::observability::{CADDY_METRICS_PORT, NGINX_STATUS_PATH, NGINX_STATUS_PORT};
use crate::model::Service;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// Every example blueprint (`blueprints/<name>/blueprint.yaml`), by name.
fn examples() -> Vec<(String, Model)> {
    crate::generate::examples::all()
        .into_iter()
        .map(|(name, text)| (name, model_of(&text)))
        .collect()
}

fn model_of(yaml: &str) -> Model {
    let bp: Blueprint = serde_saphyr::from_str(yaml).expect("blueprint parses");
    Model::from_blueprint(&bp)
}

/// A blueprint that exercises what the reference example does not: a whole-host route, a
/// stripped nested prefix, a second host, a Vercel service with a route, a websocket route on
/// a custom service, tools with only an allowlist or no protection at all, TLS without HSTS.
const GALLERY: &str = r#"
project:
  name: gallery
  repository: acme/gallery
environments:
  dev: {}
  staging:
    domain: staging.gallery.example
  prod:
    domain: gallery.example
services:
  web:
    runtime: node
    path: web
    routes:
      - path: /
  api:
    runtime: fastapi
    path: api
    routes:
      - path: /api/v1/
        strip_prefix: true
        rate_limit: 5
      - host: api.gallery.example
  search:
    runtime: node
    path: search
    routes:
      - path: /api
        strip_prefix: false
  chat:
    runtime: custom
    path: chat
    port: 9000
    routes:
      - path: /chat.v2
        websocket: true
        strip_prefix: true
  site:
    runtime: static
    path: site
    deploy:
      prod: vercel
    routes:
      - path: /site
  worker:
    runtime: python-worker
    path: worker
proxy:
  engine: caddy
  body_limit: 512k
  expose:
    alertmanager:
      basic_auth: false
      allow: [10.0.0.0/8]
    prometheus:
      basic_auth: false
    grafana: {}
"#;

/// Every model the tests check: the examples and the gallery.
fn models() -> Vec<(String, Model)> {
    let mut all = examples();
    all.push(("gallery".to_string(), model_of(GALLERY)));
    all
}

// ---------------------------------------------------------------------------------------------
// nginx lookups (the parser is in `super::syntax`)

/// The `server` blocks of the `http` block.
/// The servers that face clients: every one but the monitoring stack's `stub_status` listener.
fn nginx_servers(conf: &Directive) -> Vec<Directive> {
    let http = conf.all("http");
    assert_eq!(http.len(), 1, "one http block");
    let status = NGINX_STATUS_PORT.to_string();
    http[0]
        .all("server")
        .into_iter()
        .filter(|s| !s.has("listen", &[status.as_str()]))
        .cloned()
        .collect()
}

/// The server that serves `host` to browsers (HTTPS when TLS is on).
fn nginx_vhost(servers: &[Directive], host: &str, tls: bool) -> Directive {
    let listen: &[&str] = if tls { &["8443", "ssl"] } else { &["8080"] };
    let found: Vec<&Directive> = servers
        .iter()
        .filter(|s| s.has("server_name", &[host]) && s.has("listen", listen))
        .collect();
    assert_eq!(found.len(), 1, "one server for {host}");
    if tls {
        // The `http2` directive: `listen ... http2` is deprecated (nginx 1.25.1+ warns).
        assert!(found[0].has("http2", &["on"]), "{host} serves HTTP/2");
    }
    found[0].clone()
}

fn nginx_location<'a>(server: &'a Directive, args: &[&str]) -> &'a Directive {
    server
        .children()
        .iter()
        .find(|d| d.name == "location" && d.args == args)
        .unwrap_or_else(|| panic!("no location {args:?}"))
}

/// The `location` argument lists a route becomes.
fn nginx_patterns(path: &str) -> Vec<Vec<String>> {
    match route_prefix(path) {
        Some(prefix) => vec![
            vec!["=".to_string(), prefix.clone()],
            vec![format!("{prefix}/")],
        ],
        None => vec![vec!["/".to_string()]],
    }
}

fn args(pattern: &[String]) -> Vec<&str> {
    pattern.iter().map(String::as_str).collect()
}

thread_local! {
    /// The `upstream` groups of the nginx config this thread parsed last (name -> `http://`
    /// server): what a `proxy_pass http://<group>` reaches.
    static UPSTREAMS: RefCell<BTreeMap<String, String>> = RefCell::default();
}

/// Parses an nginx config and remembers its upstream groups for `nginx_upstream`. Each group
/// must re-resolve its server (`resolve`), or nginx would fail to start while it is down.
fn parse_nginx(text: &str) -> Directive {
    let conf = super::syntax::parse_nginx(text);
    let groups = conf
        .all("http")
        .iter()
        .flat_map(|http| http.all("upstream"))
        .map(|group| {
            let servers = group.all("server");
            assert_eq!(servers.len(), 1, "one server in upstream {:?}", group.args);
            assert!(
                servers[0].args.iter().any(|a| a == "resolve") && !group.all("zone").is_empty(),
                "upstream {:?} re-resolves its server",
                group.args
            );
            (
                group.args[0].clone(),
                format!("http://{}", servers[0].args[0]),
            )
        })
        .collect();
    UPSTREAMS.with(|u| *u.borrow_mut() = groups);
    conf
}

/// The upstream a location proxies to (`http://api:8000`), through its `set` variable or the
/// upstream group it names.
fn nginx_upstream(location: &Directive) -> String {
    let pass = location.all("proxy_pass");
    assert_eq!(pass.len(), 1, "one proxy_pass in {:?}", location.args);
    if let Some(group) = pass[0].args[0].strip_prefix("http://") {
        return UPSTREAMS
            .with(|u| u.borrow().get(group).cloned())
            .unwrap_or_else(|| panic!("no upstream {group} for {:?}", location.args));
    }
    let variable = pass[0].args[0].trim_start_matches('$');
    let set = location
        .all("set")
        .into_iter()
        .find(|d| d.args[0] == format!("${variable}"))
        .unwrap_or_else(|| panic!("proxy_pass variable is set in {:?}", location.args));
    set.args[1].clone()
}

// ---------------------------------------------------------------------------------------------
// Caddyfile lookups (the parser is in `super::syntax`)

fn caddy_site<'a>(conf: &'a Directive, address: &str) -> &'a Directive {
    let found: Vec<&Directive> = conf
        .children()
        .iter()
        .filter(|d| d.name == address)
        .collect();
    assert_eq!(found.len(), 1, "one site block {address}");
    found[0]
}

fn caddy_address(host: &str, tls: bool) -> String {
    if tls {
        host.to_string()
    } else {
        format!("http://{host}")
    }
}

/// The `handle` block of a route: `handle @m` where `@m path <prefix> <prefix>/*`, or the
/// bare `handle` for the whole host.
fn caddy_handle<'a>(site: &'a Directive, path: &str) -> &'a Directive {
    let wanted: Vec<String> = match route_prefix(path) {
        Some(prefix) => {
            let matcher = site
                .children()
                .iter()
                .find(|d| {
                    d.name.starts_with('@')
                        && d.args == ["path".to_string(), prefix.clone(), format!("{prefix}/*")]
                })
                .unwrap_or_else(|| panic!("no path matcher for {prefix}"));
            vec![matcher.name.clone()]
        }
        None => vec![],
    };
    site.children()
        .iter()
        .find(|d| d.name == "handle" && d.args == wanted && d.block.is_some())
        .unwrap_or_else(|| panic!("no handle for {path}"))
}

/// Every directive under `d`, depth first.
fn descendants(d: &Directive) -> Vec<&Directive> {
    let mut out = Vec::new();
    for child in d.children() {
        out.push(child);
        out.extend(descendants(child));
    }
    out
}

/// Where a reverse_proxy sends requests: its upstream argument, or its `dynamic a` name and port.
fn caddy_upstream(proxy: &Directive) -> String {
    if let Some(upstream) = proxy.args.first() {
        return upstream.clone();
    }
    let dynamic = proxy.all("dynamic");
    assert_eq!(dynamic.len(), 1, "an upstream or `dynamic a` in {proxy:?}");
    assert_eq!(dynamic[0].args[0], "a");
    format!("{}:{}", dynamic[0].args[1], dynamic[0].args[2])
}

fn caddy_reverse_proxy(handle: &Directive) -> &Directive {
    let found: Vec<&Directive> = descendants(handle)
        .into_iter()
        .filter(|d| d.name == "reverse_proxy")
        .collect();
    assert_eq!(found.len(), 1, "one reverse_proxy in {:?}", handle.args);
    found[0]
}

// ---------------------------------------------------------------------------------------------
// What the model says must be routed

struct Expected<'a> {
    host: String,
    path: &'a str,
    service: &'a Service,
    port: u16,
    websocket: bool,
    strip: Option<String>,
    rate_limit: Option<u32>,
}

fn expected_routes<'a>(model: &'a Model, env: &Environment) -> Vec<Expected<'a>> {
    let mut out = Vec::new();
    for service in &model.services {
        if !service.on_compose(&env.name) {
            continue;
        }
        let Some(port) = service.port else { continue };
        for route in &service.routes {
            let prefix = route_prefix(&route.path);
            out.push(Expected {
                host: route.host.clone().unwrap_or_else(|| env.domain.clone()),
                path: &route.path,
                service,
                port,
                websocket: route.websocket,
                strip: prefix.filter(|_| route.strip_prefix),
                rate_limit: route.rate_limit,
            });
        }
    }
    out
}

/// The tools that must be routed: deployed and protected.
fn expected_tools(model: &Model) -> Vec<&Exposure> {
    model
        .proxy
        .expose
        .iter()
        .filter(|e| tool_is_deployed(model, e.tool) && (e.basic_auth || !e.allow.is_empty()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// nginx

#[test]
fn nginx_routes_every_compose_service_route_to_its_container() {
    let mut checked = 0;
    for (name, model) in models() {
        for env in &model.environments {
            let servers = nginx_servers(&parse_nginx(&nginx_conf(&model, env)));
            let routes = expected_routes(&model, env);
            checked += routes.len();
            for route in routes {
                let server = nginx_vhost(&servers, &route.host, env.tls);
                for pattern in nginx_patterns(route.path) {
                    let location = nginx_location(&server, &args(&pattern));
                    assert_eq!(
                        nginx_upstream(location),
                        format!("http://{}:{}", route.service.name, route.port),
                        "{name}/{}: {pattern:?}",
                        env.name
                    );
                    // Nothing stands in front of the proxy: what the client sent is replaced.
                    for (header, value) in [
                        ("Host", "$host"),
                        ("X-Real-IP", "$remote_addr"),
                        ("X-Forwarded-For", "$remote_addr"),
                        ("X-Forwarded-Proto", "$scheme"),
                    ] {
                        assert!(
                            location.has("proxy_set_header", &[header, value]),
                            "{header}"
                        );
                    }
                }
            }
        }
    }
    // The reference example alone routes four paths in each of its three environments.
    assert!(checked >= 12, "only {checked} routes checked");
}

#[test]
fn nginx_leaves_out_services_that_are_not_on_compose() {
    let model = model_of(GALLERY);
    let prod = model.environment("prod").expect("prod");
    let staging = model.environment("staging").expect("staging");
    let site_upstream = "http://site:8080";
    let upstreams = |env: &Environment| -> Vec<String> {
        nginx_servers(&parse_nginx(&nginx_conf(&model, env)))
            .iter()
            .flat_map(|s| s.all("location").into_iter().cloned().collect::<Vec<_>>())
            .filter(|l| !l.all("proxy_pass").is_empty())
            .map(|l| nginx_upstream(&l))
            .collect()
    };
    assert!(upstreams(staging).iter().any(|u| u == site_upstream));
    assert!(
        !upstreams(prod).iter().any(|u| u == site_upstream),
        "Vercel in prod"
    );
}

#[test]
fn nginx_upgrades_websocket_routes_only() {
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_nginx(&nginx_conf(&model, env));
            let http = &conf.all("http")[0];
            let map: Vec<&Directive> = http
                .all("map")
                .into_iter()
                .filter(|m| m.args == ["$http_upgrade", "$connection_upgrade"])
                .collect();
            assert_eq!(map.len(), 1, "{name}: the $connection_upgrade map");
            assert!(map[0].has("default", &["upgrade"]));
            let servers = nginx_servers(&conf);
            for route in expected_routes(&model, env) {
                let server = nginx_vhost(&servers, &route.host, env.tls);
                for pattern in nginx_patterns(route.path) {
                    let location = nginx_location(&server, &args(&pattern));
                    let upgrades = location.has("proxy_set_header", &["Upgrade", "$http_upgrade"])
                        && location.has("proxy_set_header", &["Connection", "$connection_upgrade"]);
                    let clears = location.has("proxy_set_header", &["Connection", ""]);
                    assert!(location.has("proxy_http_version", &["1.1"]));
                    if route.websocket {
                        assert!(upgrades && !clears, "{name}: {pattern:?} upgrades");
                        assert!(location.has("proxy_read_timeout", &["1h"]));
                    } else {
                        assert!(clears && !upgrades, "{name}: {pattern:?} keeps alive");
                        assert!(location.all("proxy_read_timeout").is_empty());
                    }
                }
            }
        }
    }
}

#[test]
fn nginx_strips_a_prefix_only_when_asked() {
    for (name, model) in models() {
        for env in &model.environments {
            let servers = nginx_servers(&parse_nginx(&nginx_conf(&model, env)));
            for route in expected_routes(&model, env) {
                let server = nginx_vhost(&servers, &route.host, env.tls);
                for pattern in nginx_patterns(route.path) {
                    let location = nginx_location(&server, &args(&pattern));
                    let rewrites = location.all("rewrite");
                    match &route.strip {
                        Some(prefix) => {
                            assert_eq!(rewrites.len(), 1, "{name}: {pattern:?}");
                            assert_eq!(rewrites[0].args[1..], ["/$1", "break"]);
                            assert!(
                                location.has("proxy_set_header", &["X-Forwarded-Prefix", prefix])
                            );
                        }
                        None => {
                            assert!(rewrites.is_empty(), "{name}: {pattern:?} passes the prefix")
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn nginx_strip_regex_cuts_exactly_the_prefix() {
    let model = model_of(GALLERY);
    let dev = model.environment("dev").expect("dev");
    let servers = nginx_servers(&parse_nginx(&nginx_conf(&model, dev)));
    let server = nginx_vhost(&servers, "localhost", false);
    let api = nginx_location(&server, &["/api/v1/"]);
    assert_eq!(api.all("rewrite")[0].args[0], r"^/api/v1/?(.*)$");
    // The dot is a literal dot, not "any character".
    let chat = nginx_location(&server, &["/chat.v2/"]);
    assert_eq!(chat.all("rewrite")[0].args[0], r"^/chat\.v2/?(.*)$");
    // Set before the rewrite: `break` stops every rewrite-module directive after it.
    let order: Vec<&str> = chat.children().iter().map(|d| d.name.as_str()).collect();
    let set = order.iter().position(|n| *n == "set");
    let rewrite = order.iter().position(|n| *n == "rewrite");
    assert!(set < rewrite, "{order:?}");
}

#[test]
fn nginx_answers_healthz_in_every_server() {
    for (name, model) in models() {
        for env in &model.environments {
            let servers = nginx_servers(&parse_nginx(&nginx_conf(&model, env)));
            assert!(
                servers
                    .iter()
                    .any(|s| s.has("listen", &["8080", "default_server"]))
            );
            for server in &servers {
                let health = nginx_location(server, &["=", HEALTH_PATH]);
                assert!(
                    health.has("return", &["200", "ok\n"]),
                    "{name}/{}",
                    env.name
                );
                assert!(health.has("access_log", &["off"]));
                assert!(health.has("default_type", &["text/plain"]));
            }
        }
    }
}

#[test]
fn nginx_sends_hsts_only_where_the_environment_says() {
    for (name, model) in models() {
        for env in &model.environments {
            let servers = nginx_servers(&parse_nginx(&nginx_conf(&model, env)));
            for route in expected_routes(&model, env) {
                let server = nginx_vhost(&servers, &route.host, env.tls);
                let hsts = server
                    .all("add_header")
                    .into_iter()
                    .filter(|h| h.args[0] == "Strict-Transport-Security")
                    .count();
                assert_eq!(hsts, usize::from(env.hsts), "{name}/{}", env.name);
            }
        }
        for env in &model.environments {
            let text = nginx_conf(&model, env);
            assert_eq!(
                text.contains("add_header Strict-Transport-Security $default_strict_transport_security always;")
                    && text.contains("\"\" max-age=63072000;"),
                env.hsts,
                "{name}/{}",
                env.name
            );
            // Development never sends it: a browser would pin localhost to HTTPS for two years.
            if env.tier == crate::blueprint::Tier::Development {
                assert!(!text.contains("Strict-Transport-Security"), "{name}");
            }
        }
    }
}

/// The value nginx adds for `header` through `variable`: the `""` entry of the `map` from the
/// upstream's copy (`$upstream_http_<header>`) to `variable`, whose every other value must be
/// empty (nothing added where the upstream sent one).
fn default_header(conf: &Directive, variable: &str, header: &str) -> String {
    let upstream = format!(
        "$upstream_http_{}",
        header.to_ascii_lowercase().replace('-', "_")
    );
    let map = conf.all("http")[0]
        .all("map")
        .into_iter()
        .find(|m| m.args == [upstream.as_str(), variable])
        .unwrap_or_else(|| panic!("no map {upstream} {variable}"));
    let entries = map.block.as_deref().unwrap_or_default();
    let value = |key: &str| {
        entries
            .iter()
            .find(|e| e.name.trim_matches('"') == key)
            .map(|e| e.args.join(" "))
    };
    assert_eq!(value("default").as_deref(), Some(""), "{variable}");
    value("").unwrap_or_else(|| panic!("{variable} has no \"\" entry"))
}

#[test]
fn nginx_security_headers_are_inherited_by_every_location() {
    let expected = std::collections::BTreeMap::from([
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ]);
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_nginx(&nginx_conf(&model, env));
            for server in nginx_servers(&conf) {
                for location in server.all("location") {
                    // One add_header in a location would drop every header of the server.
                    assert!(
                        location.all("add_header").is_empty(),
                        "{name}: {:?}",
                        location.args
                    );
                }
            }
            for route in expected_routes(&model, env) {
                let server = nginx_vhost(&nginx_servers(&conf), &route.host, env.tls);
                let headers: Vec<&Directive> = server.all("add_header");
                if env.hardening {
                    for header in [
                        "X-Content-Type-Options",
                        "X-Frame-Options",
                        "Referrer-Policy",
                        "Content-Security-Policy",
                        "Permissions-Policy",
                    ] {
                        let found = headers.iter().find(|h| h.args[0] == header);
                        let found = found.unwrap_or_else(|| panic!("{name}: {header}"));
                        assert_eq!(found.args.last().map(String::as_str), Some("always"));
                        // The upstream's own copy passes on (an app may send a stricter
                        // one): it is neither hidden nor sent twice.
                        assert!(
                            !server.has("proxy_hide_header", &[header]),
                            "{name}: {header}"
                        );
                        let ours = default_header(&conf, &found.args[1], header);
                        let want = match header {
                            "Content-Security-Policy" => {
                                model.proxy.content_security_policy.as_str()
                            }
                            "Permissions-Policy" => super::PERMISSIONS_POLICY,
                            _ => expected[header],
                        };
                        assert_eq!(ours, want, "{name}: {header}");
                    }
                } else {
                    assert!(
                        headers.is_empty(),
                        "{name}/{}: no headers unhardened",
                        env.name
                    );
                }
            }
        }
    }
}

#[test]
fn nginx_protects_every_internal_tool_and_routes_no_other() {
    for (name, model) in models() {
        for env in &model.environments {
            let servers = nginx_servers(&parse_nginx(&nginx_conf(&model, env)));
            let tools = ["grafana", "prometheus", "alertmanager"];
            // Whatever proxies to a tool must carry that tool's protection.
            let mut routed: BTreeSet<String> = BTreeSet::new();
            for server in &servers {
                for location in server.all("location") {
                    if location.all("proxy_pass").is_empty() {
                        continue;
                    }
                    let upstream = nginx_upstream(location);
                    let Some(tool) = tools
                        .iter()
                        .find(|t| upstream.starts_with(&format!("http://{t}:")))
                    else {
                        continue;
                    };
                    let exposure = model
                        .proxy
                        .expose
                        .iter()
                        .find(|e| e.host == *tool)
                        .unwrap_or_else(|| panic!("{name}: {tool} routed but not exposed"));
                    let auth = location.has("auth_basic", &["Restricted"])
                        && location.has("auth_basic_user_file", &["/etc/nginx/htpasswd"]);
                    let allowed: Vec<String> = location
                        .all("allow")
                        .iter()
                        .map(|d| d.args[0].clone())
                        .collect();
                    let denies = location.has("deny", &["all"]);
                    assert!(
                        auth || (denies && !allowed.is_empty()),
                        "{name}: {tool} unprotected"
                    );
                    assert_eq!(auth, exposure.basic_auth, "{name}: {tool} basic auth");
                    assert_eq!(allowed, exposure.allow, "{name}: {tool} allowlist");
                    assert_eq!(denies, !exposure.allow.is_empty());
                    assert!(
                        location.all("rewrite").is_empty(),
                        "{name}: {tool} keeps its prefix"
                    );
                    assert_eq!(
                        location.has("proxy_set_header", &["Authorization", ""]),
                        exposure.basic_auth,
                        "{name}: {tool} never sees the proxy's credentials"
                    );
                    routed.insert(format!("{tool} {:?}", location.args));
                }
            }
            let expected: BTreeSet<String> = expected_tools(&model)
                .into_iter()
                .flat_map(|e| {
                    nginx_patterns(&e.path)
                        .into_iter()
                        .map(|p| format!("{} {p:?}", e.host))
                        .collect::<Vec<_>>()
                })
                .collect();
            assert_eq!(routed, expected, "{name}/{}", env.name);
        }
    }
}

#[test]
fn nginx_rate_limits_in_hardened_environments() {
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_nginx(&nginx_conf(&model, env));
            let http = &conf.all("http")[0];
            let servers = nginx_servers(&conf);
            for route in expected_routes(&model, env) {
                let server = nginx_vhost(&servers, &route.host, env.tls);
                for pattern in nginx_patterns(route.path) {
                    let location = nginx_location(&server, &args(&pattern));
                    let limits = location.all("limit_req");
                    match route.rate_limit.filter(|_| env.hardening) {
                        Some(rate) => {
                            assert_eq!(limits.len(), 1, "{name}: {pattern:?}");
                            let zone = limits[0].args[0].trim_start_matches("zone=");
                            assert_eq!(limits[0].args[1], format!("burst={}", rate * 2));
                            assert_eq!(limits[0].args[2], "nodelay");
                            assert!(http.has(
                                "limit_req_zone",
                                &[
                                    "$binary_remote_addr",
                                    &format!("zone={zone}:10m"),
                                    &format!("rate={rate}r/s")
                                ]
                            ));
                            assert!(http.has("limit_req_status", &["429"]));
                        }
                        None => assert!(limits.is_empty(), "{name}/{}: {pattern:?}", env.name),
                    }
                }
            }
        }
    }
}

#[test]
fn nginx_starts_without_upstreams_and_as_an_unprivileged_user() {
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_nginx(&nginx_conf(&model, env));
            assert!(conf.has("pid", &["/tmp/nginx.pid"]), "{name}");
            let http = &conf.all("http")[0];
            assert!(http.has("resolver", &["127.0.0.11", "valid=10s", "ipv6=off"]));
            for temp in ["client_body_temp_path", "proxy_temp_path"] {
                assert!(
                    http.all(temp)[0].args[0].starts_with("/tmp/"),
                    "{name}: {temp}"
                );
            }
            assert!(http.has("server_tokens", &["off"]));
            assert!(http.has("client_max_body_size", &[&model.proxy.body_limit]));
            assert!(
                http.has("log_format", &["json", "escape=json"][..]) || {
                    let formats = http.all("log_format");
                    formats.len() == 1 && formats[0].args[..2] == ["json", "escape=json"]
                }
            );
            assert!(http.has("access_log", &["/dev/stdout", "json"]));
            assert!(http.has("gzip", &["on"]));
            for server in nginx_servers(&conf) {
                for location in server.all("location") {
                    for pass in location.all("proxy_pass") {
                        // A literal upstream would make nginx resolve it at start-up; a group
                        // re-resolves its server (checked by parse_nginx).
                        let group = pass.args[0].strip_prefix("http://");
                        assert!(
                            pass.args[0].starts_with("$upstream_")
                                || group.is_some_and(|g| {
                                    UPSTREAMS.with(|u| u.borrow().contains_key(g))
                                }),
                            "{name}: {:?}",
                            pass.args
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn nginx_serves_tls_with_a_redirect_and_acme_on_plain_http() {
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_nginx(&nginx_conf(&model, env));
            let http = &conf.all("http")[0];
            let servers = nginx_servers(&conf);
            let redirect = servers.iter().find(|s| {
                s.has("listen", &["8080"])
                    && s.all("location")
                        .iter()
                        .any(|l| l.has("return", &["301", "https://$host$request_uri"]))
            });
            if env.tls {
                let live = format!("/etc/letsencrypt/live/{}", env.domain);
                assert!(http.has("ssl_certificate", &[&format!("{live}/fullchain.pem")]));
                assert!(http.has("ssl_certificate_key", &[&format!("{live}/privkey.pem")]));
                assert!(http.has("ssl_protocols", &["TLSv1.2", "TLSv1.3"]));
                let redirect = redirect.unwrap_or_else(|| panic!("{name}/{}: redirect", env.name));
                let acme = nginx_location(redirect, &["/.well-known/acme-challenge/"]);
                assert!(acme.has("root", &["/var/www/certbot"]));
                nginx_location(redirect, &["=", HEALTH_PATH]);
                for route in expected_routes(&model, env) {
                    assert!(redirect.all("server_name")[0].args.contains(&route.host));
                }
            } else {
                assert!(
                    http.all("ssl_certificate").is_empty(),
                    "{name}/{}",
                    env.name
                );
                assert!(redirect.is_none());
                assert!(servers.iter().all(|s| {
                    !s.all("listen")
                        .iter()
                        .any(|l| l.args.contains(&"ssl".to_string()))
                }));
            }
        }
    }
}

#[test]
fn nginx_answers_404_where_nothing_is_routed_and_drops_unknown_hosts() {
    let reference = model_of(&crate::generate::examples::source("data-platform"));
    let dev = reference.environment("dev").expect("dev");
    let servers = nginx_servers(&parse_nginx(&nginx_conf(&reference, dev)));
    let vhost = nginx_vhost(&servers, "localhost", false);
    assert!(nginx_location(&vhost, &["/"]).has("return", &["404"]));
    let default = servers
        .iter()
        .find(|s| s.has("listen", &["8080", "default_server"]))
        .expect("default");
    assert!(nginx_location(default, &["/"]).has("return", &["444"]));
    // The gallery routes `/` to web: no 404 location there.
    let gallery = model_of(GALLERY);
    let servers = nginx_servers(&parse_nginx(&nginx_conf(
        &gallery,
        gallery.environment("dev").expect("dev"),
    )));
    let vhost = nginx_vhost(&servers, "localhost", false);
    assert_eq!(
        nginx_upstream(nginx_location(&vhost, &["/"])),
        "http://web:3000"
    );
    // An upstream that is down gets the small page, on every virtual host.
    for server in servers.iter().filter(|s| !s.has("server_name", &["_"])) {
        assert!(server.has("error_page", &["502", "503", "504", "@unavailable"]));
        let page = nginx_location(server, &["@unavailable"]);
        assert!(page.all("return")[0].args[1].contains("Temporarily unavailable"));
    }
}

// ---------------------------------------------------------------------------------------------
// Caddy

#[test]
fn caddy_routes_every_compose_service_route_to_its_container() {
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_caddy(&caddyfile(&model, env));
            for route in expected_routes(&model, env) {
                let site = caddy_site(&conf, &caddy_address(&route.host, env.tls));
                let handle = caddy_handle(site, route.path);
                let proxy = caddy_reverse_proxy(handle);
                assert_eq!(
                    caddy_upstream(proxy),
                    format!("{}:{}", route.service.name, route.port),
                    "{name}/{}: {}",
                    env.name,
                    route.path
                );
                let strip: Vec<&Directive> = handle.all("uri");
                match &route.strip {
                    Some(prefix) => {
                        assert_eq!(strip.len(), 1);
                        assert_eq!(strip[0].args, ["strip_prefix", prefix.as_str()]);
                        assert!(proxy.has("header_up", &["X-Forwarded-Prefix", prefix]));
                    }
                    None => assert!(strip.is_empty(), "{name}: {} passes the prefix", route.path),
                }
            }
        }
    }
}

#[test]
fn caddy_orders_prefixes_longest_first() {
    // Named matchers are evaluated in written order, so a shorter prefix written first would
    // take the longer one's requests.
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_caddy(&caddyfile(&model, env));
            for site in conf
                .children()
                .iter()
                .filter(|d| d.block.is_some() && d.name != "{global}")
            {
                let prefixes: Vec<usize> = site
                    .children()
                    .iter()
                    .filter(|d| {
                        d.name.starts_with('@') && d.args.first().is_some_and(|a| a == "path")
                    })
                    .map(|d| d.args[1].len())
                    .collect();
                let mut sorted = prefixes.clone();
                sorted.sort_by(|a, b| b.cmp(a));
                assert_eq!(prefixes, sorted, "{name}/{}: {}", env.name, site.name);
                // The whole-host handle (or the 404) comes after every prefix.
                let handles: Vec<&Directive> = site.all("handle");
                if let Some(last) = handles.last() {
                    assert!(last.args.is_empty(), "{name}: catch-all handle last");
                }
            }
        }
    }
    let gallery = model_of(GALLERY);
    let text = caddyfile(&gallery, gallery.environment("dev").expect("dev"));
    let v1 = text.find("@api_1 path /api/v1 /api/v1/*").expect("/api/v1");
    let api = text.find("@search_1 path /api /api/*").expect("/api");
    assert!(v1 < api);
}

#[test]
fn caddy_streams_websocket_routes() {
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_caddy(&caddyfile(&model, env));
            for route in expected_routes(&model, env) {
                let site = caddy_site(&conf, &caddy_address(&route.host, env.tls));
                let proxy = caddy_reverse_proxy(caddy_handle(site, route.path));
                assert_eq!(
                    proxy.has("flush_interval", &["-1"]),
                    route.websocket,
                    "{name}/{}: {}",
                    env.name,
                    route.path
                );
                assert_eq!(proxy.has("stream_close_delay", &["5m"]), route.websocket);
            }
        }
    }
}

#[test]
fn caddy_answers_healthz_on_every_site() {
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_caddy(&caddyfile(&model, env));
            let catch_all = caddy_site(&conf, "http://");
            let sites: Vec<&Directive> = conf
                .children()
                .iter()
                .filter(|d| {
                    d.block.is_some()
                        && !d.name.starts_with('(')
                        && d.name != "{global}"
                        && d.name != format!("http://:{CADDY_METRICS_PORT}")
                })
                .collect();
            assert!(sites.len() >= 2, "{name}");
            for site in sites.iter().copied().chain([catch_all]) {
                let health = site
                    .children()
                    .iter()
                    .find(|d| d.name == "handle" && d.args == [HEALTH_PATH])
                    .unwrap_or_else(|| {
                        panic!("{name}/{}: {} has no /healthz", env.name, site.name)
                    });
                assert!(health.has("respond", &["ok", "200"]));
            }
        }
    }
}

#[test]
fn caddy_sends_hsts_and_headers_only_where_the_environment_says() {
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_caddy(&caddyfile(&model, env));
            let snippet = conf
                .children()
                .iter()
                .find(|d| d.name == "(security_headers)");
            assert_eq!(snippet.is_some(), env.hardening, "{name}/{}", env.name);
            if let Some(snippet) = snippet {
                let headers = snippet.all("header");
                // The deletions, in a block of their own, once the response is known.
                let block: Vec<&&Directive> =
                    headers.iter().filter(|h| h.block.is_some()).collect();
                assert_eq!(block.len(), 1, "{name}");
                assert!(block[0].has("defer", &[]));
                assert!(block[0].has("-Server", &[]));
                assert!(
                    block[0]
                        .children()
                        .iter()
                        .all(|d| d.name.starts_with('-') || d.name == "defer"),
                    "{name}: only deletions in the block"
                );
                // Each default in a directive of its own, `?`: set only where the upstream
                // sent none. (The `?` fields of one block make one condition, that none is set.)
                let default = |field: &str, value: &str| {
                    headers.iter().any(|h| {
                        h.block.is_none() && h.args == [format!("?{field}"), value.to_string()]
                    })
                };
                assert!(default(
                    "Content-Security-Policy",
                    &model.proxy.content_security_policy
                ));
                assert!(default("X-Frame-Options", "SAMEORIGIN"));
                assert_eq!(
                    headers
                        .iter()
                        .filter(|h| h
                            .args
                            .first()
                            .is_some_and(|a| a == "?Strict-Transport-Security"))
                        .count(),
                    usize::from(env.hsts)
                );
                for route in expected_routes(&model, env) {
                    let site = caddy_site(&conf, &caddy_address(&route.host, env.tls));
                    assert!(site.has("import", &["security_headers"]));
                    for errors in site.all("handle_errors") {
                        assert!(errors.has("import", &["security_headers"]));
                    }
                }
            }
        }
        for env in &model.environments {
            let text = caddyfile(&model, env);
            assert_eq!(
                text.contains("Strict-Transport-Security max-age=63072000"),
                env.hsts,
                "{name}/{}",
                env.name
            );
            if env.tier == crate::blueprint::Tier::Development {
                assert!(!text.contains("Strict-Transport-Security"), "{name}");
            }
        }
    }
}

#[test]
fn caddy_protects_every_internal_tool_and_routes_no_other() {
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_caddy(&caddyfile(&model, env));
            let tools = ["grafana", "prometheus", "alertmanager"];
            let mut routed = BTreeSet::new();
            for site in conf.children() {
                for handle in site.all("handle") {
                    let proxies: Vec<&Directive> = descendants(handle)
                        .into_iter()
                        .filter(|d| d.name == "reverse_proxy")
                        .collect();
                    let Some(proxy) = proxies.first() else {
                        continue;
                    };
                    let Some(tool) = tools.iter().find(|t| {
                        caddy_upstream(proxy)
                            == format!(
                                "{t}:{}",
                                match **t {
                                    "grafana" => crate::model::GRAFANA_PORT,
                                    "prometheus" => crate::model::PROMETHEUS_PORT,
                                    _ => crate::model::ALERTMANAGER_PORT,
                                }
                            )
                    }) else {
                        continue;
                    };
                    let exposure = model
                        .proxy
                        .expose
                        .iter()
                        .find(|e| e.host == *tool)
                        .expect("exposed");
                    // The protections and the proxy sit in one `route`, which runs in written
                    // order: the network check, then credentials, then the tool.
                    let route = &handle.all("route")[0];
                    let order: Vec<&str> =
                        route.children().iter().map(|d| d.name.as_str()).collect();
                    let denied_matcher = route
                        .children()
                        .iter()
                        .find(|d| d.name.ends_with("_denied"));
                    if exposure.allow.is_empty() {
                        assert!(denied_matcher.is_none(), "{name}: {tool}");
                    } else {
                        let matcher =
                            denied_matcher.unwrap_or_else(|| panic!("{name}: {tool} allowlist"));
                        let mut expected = vec!["not".to_string(), "remote_ip".to_string()];
                        expected.extend(exposure.allow.iter().cloned());
                        assert_eq!(matcher.args, expected);
                        assert!(route.has("respond", &[&matcher.name, "Forbidden", "403"]));
                        let respond = order.iter().position(|n| *n == "respond");
                        let proxy_at = order.iter().position(|n| *n == "reverse_proxy");
                        assert!(respond < proxy_at, "{name}: {order:?}");
                    }
                    let auth = route.all("basic_auth");
                    assert_eq!(
                        !auth.is_empty(),
                        exposure.basic_auth,
                        "{name}: {tool} basic auth"
                    );
                    if let Some(auth) = auth.first() {
                        assert!(
                            auth.has("{$PROXY_BASIC_AUTH_USER}", &["{$PROXY_BASIC_AUTH_HASH}"])
                        );
                        let at = order.iter().position(|n| *n == "basic_auth");
                        assert!(at < order.iter().position(|n| *n == "reverse_proxy"));
                    }
                    assert!(
                        handle.all("uri").is_empty(),
                        "{name}: {tool} keeps its prefix"
                    );
                    assert_eq!(
                        proxy.has("header_up", &["-Authorization"]),
                        exposure.basic_auth
                    );
                    routed.insert(format!("{tool} {}", handle.args.join(" ")));
                }
            }
            let expected: BTreeSet<String> = expected_tools(&model)
                .into_iter()
                .map(|e| format!("{} @{}", e.host, e.host))
                .collect();
            assert_eq!(routed, expected, "{name}/{}", env.name);
        }
    }
}

#[test]
fn caddy_says_why_rate_limits_are_not_enforced() {
    let model = model_of(GALLERY);
    let prod = model.environment("prod").expect("prod");
    let text = caddyfile(&model, prod);
    assert!(
        text.contains("Not rate limited here: 5 requests/s per client"),
        "{text}"
    );
    assert!(text.contains("caddy-ratelimit plugin needs a custom xcaddy"));
    assert!(
        !text.contains("rate_limit "),
        "no directive the stock build lacks"
    );
    let dev = model.environment("dev").expect("dev");
    assert!(
        !caddyfile(&model, dev).contains("Not rate limited"),
        "dev is not hardened"
    );
}

#[test]
fn caddy_uses_plain_http_without_tls_and_acme_email_with_it() {
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_caddy(&caddyfile(&model, env));
            let global = conf.children().iter().find(|d| d.name == "{global}");
            for route in expected_routes(&model, env) {
                caddy_site(&conf, &caddy_address(&route.host, env.tls));
            }
            if env.tls {
                let email = model.proxy.acme_email.as_deref();
                assert_eq!(
                    global
                        .map(|g| g
                            .all("email")
                            .iter()
                            .map(|d| d.args[0].clone())
                            .collect::<Vec<_>>())
                        .filter(|emails| !emails.is_empty()),
                    email.map(|e| vec![e.to_string()]),
                    "{name}/{}",
                    env.name
                );
            } else {
                let global = global.unwrap_or_else(|| panic!("{name}: global options"));
                assert!(global.has("auto_https", &["off"]));
                assert!(global.all("email").is_empty());
            }
        }
    }
}

#[test]
fn caddy_limits_bodies_in_binary_units() {
    let gallery = model_of(GALLERY);
    let text = caddyfile(&gallery, gallery.environment("dev").expect("dev"));
    assert!(text.contains("max_size 512KiB"), "{text}");
    let reference = model_of(&crate::generate::examples::source("data-platform"));
    let text = caddyfile(&reference, reference.environment("prod").expect("prod"));
    assert!(text.contains("max_size 20MiB"));
}

// ---------------------------------------------------------------------------------------------
// The generator and the routing table

#[test]
fn generate_renders_the_chosen_engine_for_every_compose_environment() {
    for (name, model) in models() {
        let files = generate(&model);
        let (file, other) = match model.proxy.engine {
            ProxyEngine::Nginx => ("nginx.conf", "Caddyfile"),
            ProxyEngine::Caddy => ("Caddyfile", "nginx.conf"),
        };
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let expected: Vec<String> = model
            .environments
            .iter()
            .filter(|e| model.has_proxy() && e.on_compose())
            .map(|e| format!("proxy/{}/{file}", e.name))
            .collect();
        assert_eq!(paths, expected, "{name}");
        assert!(files.iter().all(|f| !f.path.ends_with(other)));
        for f in &files {
            assert_eq!(f.comment, crate::generate::CommentStyle::Hash);
            assert!(
                f.contents.ends_with('\n') && !f.contents.ends_with("\n\n"),
                "{}",
                f.path
            );
            assert!(!f.contents.contains('\r'));
            assert!(!f.executable);
        }
        assert_eq!(generate(&model), files, "{name}: deterministic");
    }
}

#[test]
fn generate_renders_nothing_without_routes_or_tools() {
    let mut bp: Blueprint = serde_saphyr::from_str(GALLERY).expect("gallery parses");
    for service in bp.services.values_mut() {
        service.routes.clear();
    }
    bp.proxy.expose.clear();
    assert!(generate(&Model::from_blueprint(&bp)).is_empty());
}

#[test]
fn unprotected_or_undeployed_tools_are_not_routed() {
    let gallery = model_of(GALLERY);
    let dev = gallery.environment("dev").expect("dev");
    let table = site(&gallery, dev);
    let labels: Vec<&str> = table.hosts[0]
        .routes
        .iter()
        .map(|r| r.label.as_str())
        .collect();
    assert!(
        labels.contains(&"grafana") && labels.contains(&"alertmanager"),
        "{labels:?}"
    );
    assert!(!labels.contains(&"prometheus"), "no protection: not routed");

    let mut bp: Blueprint = serde_saphyr::from_str(GALLERY).expect("gallery parses");
    bp.monitoring.enabled = Some(false);
    let model = Model::from_blueprint(&bp);
    let table = site(&model, model.environment("dev").expect("dev"));
    assert!(
        table
            .hosts
            .iter()
            .flat_map(|h| &h.routes)
            .all(|r| r.guard.is_none())
    );
}

#[test]
fn routes_on_other_hosts_get_their_own_virtual_host() {
    let gallery = model_of(GALLERY);
    let prod = gallery.environment("prod").expect("prod");
    let table = site(&gallery, prod);
    let names: Vec<&str> = table.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["gallery.example", "api.gallery.example"]);
    // The API host takes the whole host; tools stay on the environment's domain.
    assert_eq!(table.hosts[1].routes.len(), 1);
    assert!(table.hosts[1].routes[0].prefix.is_none());
    let servers = nginx_servers(&parse_nginx(&nginx_conf(&gallery, prod)));
    let api = nginx_vhost(&servers, "api.gallery.example", true);
    assert_eq!(
        nginx_upstream(nginx_location(&api, &["/"])),
        "http://api:8000"
    );
}

#[test]
fn the_first_of_two_identical_routes_wins_and_healthz_stays_the_proxys() {
    let mut bp: Blueprint = serde_saphyr::from_str(GALLERY).expect("gallery parses");
    let duplicate = bp.services["search"].routes[0].clone();
    bp.services
        .get_mut("web")
        .expect("web")
        .routes
        .push(duplicate);
    let mut health = bp.services["search"].routes[0].clone();
    health.path = Some("/healthz".into());
    bp.services
        .get_mut("search")
        .expect("search")
        .routes
        .push(health);
    let model = Model::from_blueprint(&bp);
    let dev = model.environment("dev").expect("dev");
    let servers = nginx_servers(&parse_nginx(&nginx_conf(&model, dev)));
    let vhost = nginx_vhost(&servers, "localhost", false);
    let api = vhost
        .all("location")
        .into_iter()
        .filter(|l| l.args == ["/api/"])
        .count();
    assert_eq!(api, 1);
    let health = vhost
        .all("location")
        .into_iter()
        .filter(|l| l.args == ["=", "/healthz"])
        .count();
    assert_eq!(health, 1);
    assert!(
        nginx_location(&vhost, &["=", "/healthz"])
            .all("proxy_pass")
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Quoting: no value can end a directive or start another one

const HOSTILE: &[&str] = &[
    "a;b",
    "a b",
    "x\" ; return 200 owned; \"",
    "x' ; deny all; '",
    "a{b}c",
    "#comment",
    "back\\slash\\",
    "new\nline; return 200 x;",
    "",
    "$host",
    "tab\there",
];

#[test]
fn nginx_quote_keeps_every_value_one_token() {
    for value in HOSTILE {
        let line = format!("add_header X {} always;\n", nginx_quote(value));
        let conf = parse_nginx(&line);
        assert_eq!(conf.children().len(), 1, "{value:?} -> {line}");
        let header = &conf.children()[0];
        assert_eq!(header.args.len(), 3, "{value:?} -> {line}");
        let expected: String = value
            .chars()
            .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
            .collect();
        assert_eq!(header.args[1], expected, "{value:?}");
    }
    assert_eq!(nginx_quote("/api/v1"), "/api/v1");
    assert_eq!(
        nginx_quote("frame-ancestors 'self'"),
        "\"frame-ancestors 'self'\""
    );
}

#[test]
fn caddy_quote_keeps_every_value_one_token() {
    for value in HOSTILE {
        let quoted = caddy_quote(value);
        assert!(!quoted.contains('\n'), "{value:?}");
        let tokens = caddy_tokens(&format!("header X {quoted}"));
        assert_eq!(tokens.len(), 3, "{value:?} -> {quoted}");
        let expected: String = value
            .chars()
            .filter(|c| !c.is_control() && *c != '\\')
            .collect();
        assert_eq!(tokens[2], expected, "{value:?}");
    }
    assert_eq!(caddy_quote("grafana:3000"), "grafana:3000");
}

#[test]
fn hostile_model_values_stay_inside_their_directive() {
    let mut bp: Blueprint = serde_saphyr::from_str(GALLERY).expect("gallery parses");
    bp.proxy.content_security_policy = Some("default-src 'self'; } server { listen 1;".into());
    bp.proxy.body_limit = Some("1m; return 200".into());
    let grafana = bp
        .proxy
        .expose
        .get_mut(&InternalTool::Grafana)
        .expect("grafana");
    grafana.allow = vec!["10.0.0.0/8; allow all".into()];
    grafana.path = Some("/graf ana{".into());
    let model = Model::from_blueprint(&bp);
    for env in &model.environments {
        let nginx = parse_nginx(&nginx_conf(&model, env));
        let http = &nginx.all("http")[0];
        assert_eq!(http.all("client_max_body_size")[0].args, ["1m; return 200"]);
        for server in nginx_servers(&nginx) {
            assert!(
                server
                    .all("listen")
                    .iter()
                    .all(|l| l.args[0] == "8080" || l.args[0] == "8443")
            );
            for location in server.all("location") {
                assert!(!location.has("allow", &["all"]), "{:?}", location.args);
            }
        }
        let caddy = parse_caddy(&caddyfile(&model, env));
        let sites = caddy
            .children()
            .iter()
            .filter(|d| d.block.is_some() && d.name != format!("http://:{CADDY_METRICS_PORT}"))
            .count();
        assert!(sites <= 5, "no extra site blocks");
    }
}

#[test]
fn fuzzed_models_never_panic() {
    // Values the schema would reject still render (to a config the engine may refuse).
    let mut bp: Blueprint = serde_saphyr::from_str(GALLERY).expect("gallery parses");
    let web = bp.services.get_mut("web").expect("web");
    web.routes[0].path = Some(String::new());
    web.routes[0].rate_limit = Some(u32::MAX);
    web.routes[0].host = Some("ünïcödé\u{0}".into());
    bp.proxy.body_limit = Some("k".into());
    bp.proxy.acme_email = Some("\"\\".into());
    let model = Model::from_blueprint(&bp);
    for env in &model.environments {
        assert!(!nginx_conf(&model, env).is_empty());
        assert!(!caddyfile(&model, env).is_empty());
    }
}

/// Not a test: writes both engines' configs for every example and the gallery under
/// `$PROXY_DUMP_DIR/<example>/<env>/`, for the real validators (`nginx -t`, `caddy validate`).
#[test]
#[ignore = "helper for running the real validators by hand"]
fn dump_both_engines() {
    let Ok(root) = std::env::var("PROXY_DUMP_DIR") else {
        return;
    };
    for (name, model) in models() {
        let stem = std::path::Path::new(&name)
            .file_stem()
            .map_or_else(|| name.clone(), |s| s.to_string_lossy().into_owned());
        for env in &model.environments {
            let dir = std::path::Path::new(&root).join(&stem).join(&env.name);
            std::fs::create_dir_all(&dir).expect("dump directory");
            std::fs::write(dir.join("nginx.conf"), nginx_conf(&model, env)).expect("write");
            std::fs::write(dir.join("Caddyfile"), caddyfile(&model, env)).expect("write");
        }
    }
}

#[test]
fn streamlit_sessions_keep_to_one_replica_on_both_engines() {
    let mut checked = 0;
    for (name, model) in models() {
        for env in &model.environments {
            let conf = parse_nginx(&nginx_conf(&model, env));
            let servers = nginx_servers(&conf);
            let caddy = parse_caddy(&caddyfile(&model, env));
            for route in expected_routes(&model, env) {
                let sticky = route.service.runtime == Runtime::Streamlit;
                let server = nginx_vhost(&servers, &route.host, env.tls);
                for pattern in nginx_patterns(route.path) {
                    let location = nginx_location(&server, &args(&pattern));
                    let pass = &location.all("proxy_pass")[0].args[0];
                    let group = pass.strip_prefix("http://").map(|g| {
                        conf.all("http")[0]
                            .all("upstream")
                            .into_iter()
                            .find(|u| u.args[0] == g)
                            .expect("the group exists")
                            .clone()
                    });
                    assert_eq!(
                        group.is_some_and(|g| g.has("ip_hash", &[])),
                        sticky,
                        "{name}/{}: {} by client address exactly when Streamlit",
                        env.name,
                        route.path
                    );
                }
                let site = caddy_site(&caddy, &caddy_address(&route.host, env.tls));
                let proxy = caddy_reverse_proxy(caddy_handle(site, route.path));
                assert_eq!(
                    proxy.has("lb_policy", &["cookie"]) && !proxy.all("dynamic").is_empty(),
                    sticky,
                    "{name}/{}: {} by cookie over every replica exactly when Streamlit",
                    env.name,
                    route.path
                );
                checked += usize::from(sticky);
            }
        }
    }
    assert!(checked > 0, "some example routes to Streamlit");
}

#[test]
fn the_proxy_serves_its_metrics_on_an_unpublished_listener_only_to_private_addresses() {
    let model = model_of(&crate::generate::examples::source("data-platform"));
    let prod = model.environment("prod").expect("prod");
    let conf = parse_nginx(&nginx_conf(&model, prod));
    let status = NGINX_STATUS_PORT.to_string();
    let servers: Vec<Directive> = conf.all("http")[0]
        .all("server")
        .into_iter()
        .filter(|s| s.has("listen", &[status.as_str()]))
        .cloned()
        .collect();
    assert_eq!(servers.len(), 1);
    let location = nginx_location(&servers[0], &["=", NGINX_STATUS_PATH]);
    assert!(location.has("stub_status", &[]));
    assert!(location.has("deny", &["all"]));
    assert!(location.has("allow", &["172.16.0.0/12"]));
    assert!(!location.has("allow", &["all"]));

    let caddy = crate::generate::examples::source("data-platform")
        .replace("engine: nginx", "engine: caddy");
    let model = model_of(&caddy);
    let prod = model.environment("prod").expect("prod");
    let conf = parse_caddy(&caddyfile(&model, prod));
    let global = conf
        .children()
        .iter()
        .find(|d| d.name == "{global}")
        .expect("global options");
    assert!(global.has("metrics", &[]));
    let site = caddy_site(&conf, &format!("http://:{CADDY_METRICS_PORT}"));
    let metrics = site
        .children()
        .iter()
        .find(|d| d.name == "handle" && d.args == ["/metrics"])
        .expect("a /metrics handler");
    assert!(metrics.has("metrics", &[]));
}
