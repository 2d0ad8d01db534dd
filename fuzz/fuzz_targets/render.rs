//! Structure-aware: libFuzzer's bytes become a blueprint (names from small sets, so that
//! references resolve and most inputs get past validation; free text from a dictionary of
//! plausible and hostile pieces, or any string), written as YAML and run through validation,
//! the model and every generator, in memory. A crash is a panic anywhere, or a rendered file
//! that breaks the promise of `tests/hostile.rs`: a YAML or JSON file that does not parse, an
//! nginx config or Caddyfile the engine would not read, a raw control or display-control
//! character.

#![no_main]

#[path = "../../src/generate/proxy/syntax.rs"]
mod proxy_syntax;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const SERVICES: &[&str] = &["api", "web", "worker", "docs", "admin"];
const STORES: &[&str] = &["db", "cache", "lake"];
const ENVIRONMENTS: &[&str] = &["dev", "staging", "prod", "qa"];
const RUNTIMES: &[&str] = &[
    "django",
    "fastapi",
    "streamlit",
    "python-worker",
    "node",
    "static",
    "custom",
];

/// Values that pass the schema somewhere, so that texts built from them often validate.
const VALUES: &[&str] = &[
    "/",
    "/api",
    "/api/v1",
    "/healthz",
    "/metrics",
    "api.example.com",
    "example.com",
    "localhost",
    "10m",
    "512m",
    "1g",
    "30s",
    "5m",
    "2h",
    "14d",
    "0 3 * * *",
    "*/5 * * * *",
    "DATABASE_URL",
    "API_KEY",
    "10.0.0.0/8",
    "::1/128",
    "ops@example.com",
    "smtp.example.com:587",
    "#alerts",
    "https://runbooks.example.com",
    "sum(rate(x_total[5m])) > 1",
    "up == 0",
    "{{ $labels.instance }} is down",
    "{{ $value }}",
    "services/api",
    "web",
    ".",
    "Dockerfile",
    "3.12",
    "22",
    "python",
    "manage.py",
    "app.main:app",
    "main",
    "acme/app",
    "ghcr.io",
    "default-src 'self'",
    "hello world",
    "true",
];

/// Pieces that end tokens, lines, strings and blocks, start interpolations, or hide text.
const HOSTILE: &[&str] = &[
    "\n", "\r", "\0", "\t", "\u{1b}", "'", "\"", "`", ";", "{", "}", "#", "$", "$$", "${", "${{",
    "}}", "{{", "\\", "..", "/..", "\u{202e}", "\u{200b}", "\u{2028}", ": ", "- ", "&a", "*a",
    "!!", "%", "@", "|", ">", "yes", "null", "~", " ", "é",
];

/// Free text.
#[derive(Arbitrary, Debug)]
enum Text {
    Value(u8),
    Pieces(Vec<(bool, u8)>),
    Any(String),
}

impl Text {
    fn get(&self) -> String {
        let pick = |list: &[&str], i: u8| list[usize::from(i) % list.len()].to_string();
        match self {
            Text::Value(i) => pick(VALUES, *i),
            Text::Pieces(pieces) => pieces
                .iter()
                .take(16)
                .map(|(hostile, i)| pick(if *hostile { HOSTILE } else { VALUES }, *i))
                .collect(),
            Text::Any(text) => text.clone(),
        }
    }
}

fn text(value: &Option<Text>) -> Option<Value> {
    value.as_ref().map(|t| Value::String(t.get()))
}

fn name(list: &[&str], i: u8) -> String {
    list[usize::from(i) % list.len()].to_string()
}

#[derive(Arbitrary, Debug)]
enum EnvValue {
    Plain(Text),
    Secret(Text),
    PerEnv(Vec<(u8, Text)>, Option<Text>),
}

impl EnvValue {
    fn get(&self) -> Value {
        match self {
            EnvValue::Plain(t) => Value::String(t.get()),
            EnvValue::Secret(t) => json!({ "secret": t.get() }),
            EnvValue::PerEnv(values, default) => {
                let per_env: Map<String, Value> = values
                    .iter()
                    .take(4)
                    .map(|(e, t)| (name(ENVIRONMENTS, *e), Value::String(t.get())))
                    .collect();
                let mut value = json!({ "per_env": per_env });
                if let Some(default) = default {
                    value["default"] = Value::String(default.get());
                }
                value
            }
        }
    }
}

fn env_map(entries: &[(Text, EnvValue)]) -> Map<String, Value> {
    entries
        .iter()
        .take(4)
        .map(|(k, v)| (k.get(), v.get()))
        .collect()
}

#[derive(Arbitrary, Debug)]
struct Environment {
    name: u8,
    domain: Option<Text>,
    tls: Option<bool>,
    replicas: Option<u8>,
    managed: Vec<(u8, u8)>,
    env: Vec<(Text, EnvValue)>,
    /// On Kubernetes: Gateway API routing or an Ingress, and a namespace.
    kubernetes: Option<(bool, Option<Text>)>,
}

#[derive(Arbitrary, Debug)]
struct Route {
    host: Option<Text>,
    path: Option<Text>,
    websocket: Option<bool>,
    strip_prefix: Option<bool>,
    rate_limit: Option<u16>,
}

#[derive(Arbitrary, Debug)]
struct Service {
    runtime: u8,
    path: Text,
    port: Option<u16>,
    version: Option<Text>,
    command: Option<Vec<Text>>,
    entrypoint: Option<Text>,
    health: Option<Text>,
    metrics_path: Option<Text>,
    routes: Vec<Route>,
    env: Vec<(Text, EnvValue)>,
    stores: Vec<u8>,
    depends_on: Vec<u8>,
    memory: Option<Text>,
    vercel: bool,
    dockerfile: Option<Text>,
    lint: Option<Text>,
    test: Option<Text>,
    /// Autoscaling on Kubernetes: the minimum and maximum replicas.
    autoscaling: Option<(u8, u8)>,
}

#[derive(Arbitrary, Debug)]
struct Job {
    service: u8,
    schedule: Text,
    command: Vec<Text>,
    description: Option<Text>,
    timeout: Option<Text>,
}

#[derive(Arbitrary, Debug)]
struct Store {
    kind: u8,
    bucket: Option<Text>,
    url_env: Option<Text>,
    backup: Option<(Text, Text)>,
}

#[derive(Arbitrary, Debug)]
struct Exposure {
    tool: u8,
    path: Option<Text>,
    basic_auth: Option<bool>,
    allow: Vec<Text>,
}

#[derive(Arbitrary, Debug)]
struct Receiver {
    kind: u8,
    secret: Text,
    channel: Option<Text>,
    to: Option<Text>,
    from: Option<Text>,
    smarthost: Option<Text>,
    username: Option<Text>,
}

#[derive(Arbitrary, Debug)]
struct Alert {
    name: Text,
    expr: Text,
    severity: u8,
    summary: Text,
    description: Option<Text>,
    runbook: Option<Text>,
    service: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    description: Option<Text>,
    registry: Option<Text>,
    environments: Vec<Environment>,
    services: Vec<Service>,
    jobs: Vec<Job>,
    stores: Vec<Store>,
    caddy: bool,
    body_limit: Option<Text>,
    csp: Option<Text>,
    acme_email: Option<Text>,
    expose: Vec<Exposure>,
    monitoring_off: bool,
    receivers: Vec<Receiver>,
    alerts: Vec<Alert>,
    slo: Option<(u8, u8)>,
    runbook_base_url: Option<Text>,
    admin_user: Option<Text>,
    main_branch: Option<Text>,
    security_scan: Option<Text>,
}

/// Inserts `value` under `key` when there is one.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.to_string(), value);
    }
}

fn document(input: &Input) -> Value {
    let mut project = Map::new();
    project.insert("name".into(), json!("fuzz"));
    project.insert("repository".into(), json!("acme/fuzz"));
    put(&mut project, "description", text(&input.description));
    put(&mut project, "registry", text(&input.registry));

    let mut environments = Map::new();
    for e in input.environments.iter().take(4) {
        let mut env = Map::new();
        put(&mut env, "domain", text(&e.domain));
        put(&mut env, "tls", e.tls.map(Value::Bool));
        put(&mut env, "replicas", e.replicas.map(|r| json!(r % 4 + 1)));
        let stores: Map<String, Value> = e
            .managed
            .iter()
            .take(3)
            .map(|(s, p)| {
                let provider = ["container", "managed", "supabase"][usize::from(*p) % 3];
                (name(STORES, *s), json!(provider))
            })
            .collect();
        if !stores.is_empty() {
            env.insert("stores".into(), Value::Object(stores));
        }
        let vars = env_map(&e.env);
        if !vars.is_empty() {
            env.insert("env".into(), Value::Object(vars));
        }
        if let Some((gateway, namespace)) = &e.kubernetes {
            env.insert("platform".into(), json!("kubernetes"));
            let mut settings = Map::new();
            settings.insert(
                "routing".into(),
                json!(if *gateway { "gateway" } else { "ingress" }),
            );
            put(&mut settings, "namespace", text(namespace));
            env.insert("kubernetes".into(), Value::Object(settings));
        }
        environments.insert(name(ENVIRONMENTS, e.name), Value::Object(env));
    }

    let mut services = Map::new();
    for (i, s) in input.services.iter().take(SERVICES.len()).enumerate() {
        let mut service = Map::new();
        service.insert("runtime".into(), json!(name(RUNTIMES, s.runtime)));
        service.insert("path".into(), json!(s.path.get()));
        put(
            &mut service,
            "port",
            s.port.map(|p| json!(p % 10_000 + 1000)),
        );
        put(&mut service, "version", text(&s.version));
        put(
            &mut service,
            "command",
            s.command
                .as_ref()
                .map(|c| Value::Array(c.iter().take(6).map(|t| json!(t.get())).collect())),
        );
        put(&mut service, "entrypoint", text(&s.entrypoint));
        put(&mut service, "health", text(&s.health));
        put(
            &mut service,
            "metrics",
            text(&s.metrics_path).map(|p| json!({ "path": p })),
        );
        let routes: Vec<Value> = s
            .routes
            .iter()
            .take(3)
            .map(|r| {
                let mut route = Map::new();
                put(&mut route, "host", text(&r.host));
                put(&mut route, "path", text(&r.path));
                put(&mut route, "websocket", r.websocket.map(Value::Bool));
                put(&mut route, "strip_prefix", r.strip_prefix.map(Value::Bool));
                put(
                    &mut route,
                    "rate_limit",
                    r.rate_limit.map(|l| json!(l % 1000 + 1)),
                );
                Value::Object(route)
            })
            .collect();
        if !routes.is_empty() {
            service.insert("routes".into(), Value::Array(routes));
        }
        let vars = env_map(&s.env);
        if !vars.is_empty() {
            service.insert("env".into(), Value::Object(vars));
        }
        let stores: Vec<Value> = s
            .stores
            .iter()
            .take(2)
            .map(|x| json!(name(STORES, *x)))
            .collect();
        if !stores.is_empty() {
            service.insert("stores".into(), Value::Array(stores));
        }
        let depends: Vec<Value> = s
            .depends_on
            .iter()
            .take(2)
            .map(|x| json!(name(SERVICES, *x)))
            .collect();
        if !depends.is_empty() {
            service.insert("depends_on".into(), Value::Array(depends));
        }
        put(
            &mut service,
            "resources",
            text(&s.memory).map(|m| json!({ "memory": m })),
        );
        if s.vercel {
            service.insert("deploy".into(), json!("vercel"));
        }
        put(
            &mut service,
            "autoscaling",
            s.autoscaling.map(
                |(min, max)| json!({ "min_replicas": min % 4 + 1, "max_replicas": max % 8 + 1 }),
            ),
        );
        put(&mut service, "dockerfile", text(&s.dockerfile));
        put(&mut service, "lint", text(&s.lint));
        put(&mut service, "test", text(&s.test));
        services.insert(SERVICES[i].to_string(), Value::Object(service));
    }

    let mut jobs = Map::new();
    for (i, j) in input.jobs.iter().take(3).enumerate() {
        let mut job = Map::new();
        job.insert("service".into(), json!(name(SERVICES, j.service)));
        job.insert("schedule".into(), json!(j.schedule.get()));
        job.insert(
            "command".into(),
            Value::Array(j.command.iter().take(6).map(|t| json!(t.get())).collect()),
        );
        put(&mut job, "description", text(&j.description));
        put(&mut job, "timeout", text(&j.timeout));
        jobs.insert(format!("job-{i}"), Value::Object(job));
    }

    let mut stores = Map::new();
    for (i, s) in input.stores.iter().take(STORES.len()).enumerate() {
        let mut store = Map::new();
        store.insert(
            "kind".into(),
            json!(["postgres", "redis", "s3"][usize::from(s.kind) % 3]),
        );
        put(&mut store, "bucket", text(&s.bucket));
        put(&mut store, "url_env", text(&s.url_env));
        if let Some((schedule, retention)) = &s.backup {
            store.insert(
                "backup".into(),
                json!({ "schedule": schedule.get(), "retention": retention.get(), "target": "lake" }),
            );
        }
        stores.insert(STORES[i].to_string(), Value::Object(store));
    }

    let mut proxy = Map::new();
    proxy.insert(
        "engine".into(),
        json!(if input.caddy { "caddy" } else { "nginx" }),
    );
    put(&mut proxy, "body_limit", text(&input.body_limit));
    put(&mut proxy, "content_security_policy", text(&input.csp));
    put(&mut proxy, "acme_email", text(&input.acme_email));
    let mut expose = Map::new();
    for e in input.expose.iter().take(3) {
        let mut exposure = Map::new();
        put(&mut exposure, "path", text(&e.path));
        put(&mut exposure, "basic_auth", e.basic_auth.map(Value::Bool));
        let allow: Vec<Value> = e.allow.iter().take(3).map(|t| json!(t.get())).collect();
        if !allow.is_empty() {
            exposure.insert("allow".into(), Value::Array(allow));
        }
        let tool = ["grafana", "prometheus", "alertmanager"][usize::from(e.tool) % 3];
        expose.insert(tool.into(), Value::Object(exposure));
    }
    if !expose.is_empty() {
        proxy.insert("expose".into(), Value::Object(expose));
    }

    let mut monitoring = Map::new();
    if input.monitoring_off {
        monitoring.insert("enabled".into(), json!(false));
    }
    let mut receivers = Map::new();
    for (i, r) in input.receivers.iter().take(3).enumerate() {
        let kind = ["slack", "email", "webhook"][usize::from(r.kind) % 3];
        let mut receiver = Map::new();
        receiver.insert("kind".into(), json!(kind));
        let key = if kind == "email" { "password" } else { "url" };
        receiver.insert(key.into(), json!({ "secret": r.secret.get() }));
        put(&mut receiver, "channel", text(&r.channel));
        put(&mut receiver, "to", text(&r.to));
        put(&mut receiver, "from", text(&r.from));
        put(&mut receiver, "smarthost", text(&r.smarthost));
        put(&mut receiver, "username", text(&r.username));
        receivers.insert(format!("r{i}"), Value::Object(receiver));
    }
    if !receivers.is_empty() {
        monitoring.insert("receivers".into(), Value::Object(receivers));
    }
    let mut alerts = Map::new();
    for a in input.alerts.iter().take(3) {
        let mut alert = Map::new();
        alert.insert("expr".into(), json!(a.expr.get()));
        alert.insert(
            "severity".into(),
            json!(["critical", "warning", "info"][usize::from(a.severity) % 3]),
        );
        alert.insert("summary".into(), json!(a.summary.get()));
        put(&mut alert, "description", text(&a.description));
        put(&mut alert, "runbook", text(&a.runbook));
        put(
            &mut alert,
            "service",
            a.service.map(|s| json!(name(SERVICES, s))),
        );
        alerts.insert(a.name.get(), Value::Object(alert));
    }
    if !alerts.is_empty() {
        monitoring.insert("custom_alerts".into(), Value::Object(alerts));
    }
    if let Some((service, availability)) = input.slo {
        monitoring.insert(
            "slos".into(),
            json!({ name(SERVICES, service): { "availability": 99.0 + f64::from(availability % 10) / 10.0 } }),
        );
    }
    put(
        &mut monitoring,
        "runbook_base_url",
        text(&input.runbook_base_url),
    );
    put(
        &mut monitoring,
        "grafana",
        text(&input.admin_user).map(|u| json!({ "admin_user": u })),
    );

    let mut ci = Map::new();
    put(&mut ci, "main_branch", text(&input.main_branch));
    put(&mut ci, "security_scan", text(&input.security_scan));

    // Kubernetes environments must name every store's provider: fill in `managed` so that most
    // cluster environments get past validation and reach the generators.
    for env in environments.values_mut() {
        if env.get("platform") == Some(&json!("kubernetes")) {
            let providers = env
                .as_object_mut()
                .expect("environments are maps")
                .entry("stores")
                .or_insert_with(|| json!({}));
            for store in stores.keys() {
                providers
                    .as_object_mut()
                    .expect("providers are a map")
                    .entry(store.clone())
                    .or_insert_with(|| json!("managed"));
            }
        }
    }

    let mut doc = Map::new();
    doc.insert("project".into(), Value::Object(project));
    if !environments.is_empty() {
        doc.insert("environments".into(), Value::Object(environments));
    }
    doc.insert("services".into(), Value::Object(services));
    for (key, map) in [
        ("jobs", jobs),
        ("stores", stores),
        ("monitoring", monitoring),
        ("ci", ci),
    ] {
        if !map.is_empty() {
            doc.insert(key.into(), Value::Object(map));
        }
    }
    doc.insert("proxy".into(), Value::Object(proxy));
    Value::Object(doc)
}

fuzz_target!(|input: Input| {
    let source = blueprint::generate::to_yaml(&document(&input));
    let Ok(blueprint) = blueprint::validate::validate_source("fuzz.yaml", &source) else {
        return;
    };
    let model = blueprint::model::Model::from_blueprint(&blueprint);
    for file in blueprint::generate::all(&model) {
        let path = &file.path;
        let text = &file.contents;
        if let Some(c) = text
            .chars()
            .find(|c| blueprint::diagnostic::is_unprintable(*c))
        {
            panic!("{path}: a raw {c:?}\n{source}");
        }
        let read = if path.ends_with(".yml") || path.ends_with(".yaml") {
            serde_saphyr::from_str_multiple::<serde_json::Value, Vec<_>>(text)
                .map(drop)
                .map_err(|e| format!("not YAML: {e}"))
        } else if path.ends_with(".json") {
            serde_json::from_str::<serde_json::Value>(text)
                .map(drop)
                .map_err(|e| format!("not JSON: {e}"))
        } else if path.ends_with("Caddyfile") {
            proxy_syntax::try_parse_caddy(text).map(drop)
        } else if path.ends_with(".conf") {
            proxy_syntax::try_parse_nginx(text).map(drop)
        } else {
            Ok(())
        };
        if let Err(e) = read {
            panic!("{path}: {e}\n{text}\n--- from\n{source}");
        }
    }
});
