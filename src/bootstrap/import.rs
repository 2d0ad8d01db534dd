//! `blueprint import`: a draft blueprint from an existing Docker Compose file.
//!
//! Services that build from source become blueprint services (the runtime guessed from the
//! image, command and Dockerfile); PostgreSQL, Redis and MinIO containers become stores; ports,
//! variables, dependencies and HTTP health checks carry over. Secret-looking variables become
//! secret references and their values are dropped: no secret value from the Compose file ever
//! reaches the draft (this is checked before it is written). Everything that could not be
//! mapped is listed, so nothing is dropped silently.
//!
//! The draft is built as typed [`Blueprint`] values, serialized section by section with
//! comments between them, then validated and read back before it is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde_json::Value as Json;

use crate::blueprint::{
    self, Blueprint, EnvValue, Project, Resources, Runtime, SecretRef, Service, Store, StoreKind,
};
use crate::validate::{RESERVED_NAMES, has_url_password, looks_secret};

use super::Failure;

/// What `import` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The Compose file.
    pub compose_file: PathBuf,
    /// Where the draft goes.
    pub out: PathBuf,
    /// The project name, when given.
    pub name: Option<String>,
    /// The repository, when given.
    pub repository: Option<String>,
}

/// A draft: the blueprint, the comments that go above each of its services and stores, and
/// what could not be mapped.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The drafted blueprint.
    pub blueprint: Blueprint,
    /// Comment lines above each service or store, by its blueprint name.
    pub comments: BTreeMap<String, Vec<String>>,
    /// What was not carried over, one line each (`services.web.env_file: ...`).
    pub unmapped: Vec<String>,
    /// Secret values seen in the Compose file; none of them may appear in the draft.
    pub secret_values: BTreeSet<String>,
    /// The Compose file's name, for the draft's header.
    pub source_name: String,
}

/// Reads Compose YAML into JSON: YAML 1.2 booleans (`yes` stays a string, as Compose reads
/// variables), merge keys (`<<: *defaults`) expanded, and the same size limit as blueprints.
pub fn parse_compose(text: &str) -> Result<Json, String> {
    if text.len() > crate::load::MAX_INPUT_BYTES {
        return Err(format!(
            "the file is {} bytes; import reads at most {}",
            text.len(),
            crate::load::MAX_INPUT_BYTES
        ));
    }
    let options = serde_saphyr::options! { strict_booleans: true };
    serde_saphyr::from_str_with_options::<Json>(text, options).map_err(|e| e.to_string())
}

/// What the draft is built from, apart from the Compose file itself.
pub struct Context<'a> {
    /// The Compose file's name (for comments).
    pub source_name: String,
    /// Where relative paths in the Compose file start (its directory).
    pub compose_dir: PathBuf,
    /// The directory the draft is written to (blueprint paths are relative to it).
    pub out_dir: PathBuf,
    /// The project name (a DNS label).
    pub name: String,
    /// `owner/name`.
    pub repository: String,
    /// Reads a file (a Dockerfile), `None` when it cannot.
    pub read: &'a dyn Fn(&Path) -> Option<String>,
}

/// A store found in the Compose file.
struct FoundStore {
    name: String,
    compose_name: String,
    store: Store,
}

fn store_kind(image: &str) -> Option<StoreKind> {
    let repo = image_repository(image);
    let last = repo.rsplit('/').next().unwrap_or(&repo);
    match last {
        "postgres" | "postgresql" | "postgis" => Some(StoreKind::Postgres),
        "redis" | "valkey" | "redis-stack-server" => Some(StoreKind::Redis),
        "minio" => Some(StoreKind::S3),
        _ => None,
    }
}

/// `docker.io/library/postgres:16-alpine@sha256:..` -> `docker.io/library/postgres`.
fn image_repository(image: &str) -> String {
    let image = image
        .split('@')
        .next()
        .unwrap_or(image)
        .to_ascii_lowercase();
    // A `:` after the last `/` is the tag; one before it is a registry port.
    match image.rfind(':') {
        Some(colon) if image.rfind('/').is_none_or(|slash| colon > slash) => {
            image[..colon].to_string()
        }
        _ => image,
    }
}

/// The major version in an image tag (`16-alpine` -> `16`, `7.2.4` -> `7.2.4`).
fn image_version(image: &str) -> Option<String> {
    let image = image.split('@').next().unwrap_or(image);
    let tag = image.rsplit_once(':').map(|(_, t)| t)?;
    if tag.contains('/') {
        return None;
    }
    let version: String = tag
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let version = version.trim_end_matches('.');
    let parts: Vec<&str> = version.split('.').collect();
    (!version.is_empty() && parts.len() <= 3 && parts.iter().all(|p| !p.is_empty()))
        .then(|| version.to_string())
}

fn json_text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A command as words: a list as given, a string split like a shell would when it has no
/// shell syntax, else run through `sh -c`.
fn command_words(value: &Json) -> Option<Vec<String>> {
    match value {
        Json::Array(items) => items.iter().map(json_text).collect(),
        Json::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                None
            } else if s.contains([
                '\'', '"', '$', '&', '|', ';', '<', '>', '(', ')', '`', '*', '\\',
            ]) {
                Some(vec!["sh".into(), "-c".into(), s.to_string()])
            } else {
                Some(s.split_whitespace().map(str::to_string).collect())
            }
        }
        _ => None,
    }
}

/// The words of a text, for recognizing programs (`gunicorn`, `manage.py`, `node`).
fn words(text: &str) -> Vec<String> {
    text.to_ascii_lowercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/')))
        .filter(|w| !w.is_empty())
        .map(|w| w.rsplit('/').next().unwrap_or(w).to_string())
        .collect()
}

fn guess_runtime(text: &str, has_port: bool) -> Option<Runtime> {
    let w = words(text);
    // `gunicorn:app`, `uvicorn.workers.UvicornWorker` and `node:22` name their program too.
    let has = |name: &str| {
        w.iter().any(|x| {
            x == name || x.starts_with(&format!("{name}:")) || x.starts_with(&format!("{name}."))
        })
    };
    let python = w.iter().any(|x| x.starts_with("python"));
    if has("nginx") || has("httpd") {
        Some(Runtime::Static)
    } else if has("manage.py") || has("django") || has("django-admin") {
        // `manage.py` also starts workers (`manage.py rqworker`): without a port it is one.
        Some(if has_port {
            Runtime::Django
        } else {
            Runtime::PythonWorker
        })
    } else if has("uvicorn") || has("fastapi") {
        Some(Runtime::Fastapi)
    } else if has("streamlit") {
        Some(Runtime::Streamlit)
    } else if has("celery") || has("rq") || has("dramatiq") || has("arq") {
        Some(Runtime::PythonWorker)
    } else if has("gunicorn") {
        Some(Runtime::Django)
    } else if has("node") || has("npm") || has("yarn") || has("pnpm") || has("nodemon") {
        Some(Runtime::Node)
    } else if python && !has_port {
        Some(Runtime::PythonWorker)
    } else {
        None
    }
}

/// The preset entry point found in a command, when there is one.
fn guess_entrypoint(runtime: Runtime, command: &[String]) -> Option<String> {
    let after = |program: &str| {
        command
            .iter()
            .position(|w| w.rsplit('/').next() == Some(program))
            .map(|i| &command[i + 1..])
    };
    let module_ok = |m: &str| {
        !m.is_empty()
            && m.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-' | '/'))
    };
    match runtime {
        Runtime::Django => command
            .iter()
            .filter(|w| !w.starts_with('-'))
            .find_map(|w| {
                let module = w.strip_suffix(":application").unwrap_or(w);
                (module.ends_with(".wsgi") && module_ok(module)).then(|| module.to_string())
            }),
        Runtime::Fastapi => after("uvicorn")?
            .iter()
            .find(|w| !w.starts_with('-') && w.contains(':') && module_ok(w))
            .cloned(),
        Runtime::Streamlit => after("streamlit")?
            .iter()
            .find(|w| w.ends_with(".py") && module_ok(w))
            .cloned(),
        Runtime::Node => after("node")?
            .iter()
            .find(|w| !w.starts_with('-') && module_ok(w))
            .cloned(),
        Runtime::PythonWorker => {
            let rest = after("python").or_else(|| after("python3"))?;
            match rest {
                [flag, module, ..] if flag == "-m" && module_ok(module) => Some(module.clone()),
                _ => None,
            }
        }
        Runtime::Static | Runtime::Custom => None,
    }
}

/// A port mapping: the container port, and the host port when published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Port {
    container: u16,
    host: Option<u16>,
}

fn parse_port(value: &Json) -> Option<(Port, bool)> {
    let first = |s: &str| -> Option<(u16, bool)> {
        let (start, range) = match s.split_once('-') {
            Some((a, _)) => (a, true),
            None => (s, false),
        };
        start.trim().parse().ok().map(|p| (p, range))
    };
    match value {
        Json::Number(n) => Some((
            Port {
                container: u16::try_from(n.as_u64()?).ok()?,
                host: None,
            },
            false,
        )),
        Json::String(s) => {
            let s = s.split('/').next().unwrap_or(s);
            let (container, range) = first(s.rsplit(':').next()?)?;
            let host = {
                let mut parts = s.rsplitn(3, ':');
                parts.next();
                parts.next().and_then(first).map(|(h, _)| h)
            };
            Some((Port { container, host }, range))
        }
        Json::Object(o) => {
            let container = json_text(o.get("target")?)?.parse().ok()?;
            let host = o
                .get("published")
                .and_then(json_text)
                .and_then(|h| first(&h).map(|(p, _)| p));
            Some((Port { container, host }, false))
        }
        _ => None,
    }
}

/// Host names a value connects to: `postgres://u:p@db:5432/x` -> `db`, `minio:9000` -> `minio`.
fn hosts_in(value: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    for part in value.split(',') {
        let rest = part.split_once("://").map_or(part, |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or("");
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = host_port.split(':').next().unwrap_or("");
        if !host.is_empty() && (part.contains("://") || host_port.contains(':')) {
            hosts.push(host.to_string());
        }
    }
    hosts
}

/// A `${NAME}` / `${NAME:-default}` / `$NAME` reference making up a whole value.
fn interpolation(value: &str) -> Option<(String, Option<String>)> {
    let inner = value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .or_else(|| value.strip_prefix('$'))?;
    let end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, rest) = inner.split_at(end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let default = rest
        .strip_prefix(":-")
        .or_else(|| rest.strip_prefix('-'))
        .map(str::to_string);
    (rest.is_empty() || default.is_some()).then(|| (name.to_string(), default))
}

fn is_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn env_entries(value: Option<&Json>) -> Vec<(String, Option<String>)> {
    match value {
        Some(Json::Object(map)) => map.iter().map(|(k, v)| (k.clone(), json_text(v))).collect(),
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(Json::as_str)
            .map(|item| match item.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (item.to_string(), None),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Lexical path of `target` relative to `base` (both absolute), `/`-separated.
fn relative(target: &Path, base: &Path) -> String {
    let (target, base) = (normalize(target), normalize(base));
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".into(); b.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Compose memory (`512M`, `1g`, `256mb`) in the language's size syntax (`512m`).
fn memory_size(text: &str) -> Option<String> {
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let digits = lower.trim_end_matches(['k', 'm', 'g']);
    let unit = &lower[digits.len()..];
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && unit.len() <= 1)
        .then(|| lower.to_string())
}

/// Keys of a Compose service this importer reads (the rest are listed as not mapped).
const READ_KEYS: &[&str] = &[
    "build",
    "image",
    "command",
    "entrypoint",
    "ports",
    "expose",
    "environment",
    "depends_on",
    "healthcheck",
    "volumes",
    "deploy",
];

fn why_not_mapped(key: &str) -> &'static str {
    match key {
        "restart" => "blueprint sets restart policies per environment tier",
        "container_name" => "blueprint names containers after their service",
        "networks" => "blueprint puts the stack on its own networks",
        "env_file" => {
            "env files are not read (their values may be secrets): declare the variables under `env`, secrets as `{ secret: NAME }`"
        }
        "labels" => "labels are not carried over",
        "profiles" => "every service runs in every environment it deploys to",
        "logging" => "blueprint rotates logs itself (`monitoring.logs`)",
        "user" => "generated images run as an unprivileged user",
        _ => "not mapped",
    }
}

/// Builds the draft from a parsed Compose file.
pub fn draft(compose: &Json, ctx: &Context<'_>) -> Result<Draft, Failure> {
    let Some(root) = compose.as_object() else {
        return Err(Failure::Usage(format!(
            "{} is not a Compose file (it is not a mapping)",
            ctx.source_name
        )));
    };
    let Some(services) = root.get("services").and_then(Json::as_object) else {
        return Err(Failure::Usage(format!(
            "{} has no `services:` mapping",
            ctx.source_name
        )));
    };
    let mut unmapped: Vec<String> = Vec::new();
    let mut comments: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut secret_values: BTreeSet<String> = BTreeSet::new();

    for (key, value) in root {
        match key.as_str() {
            "services" | "name" => {}
            "version" => unmapped.push("version: obsolete in Compose; ignored".into()),
            "volumes" => {
                let names: Vec<&String> = value
                    .as_object()
                    .map(|o| o.keys().collect())
                    .unwrap_or_default();
                unmapped.push(format!(
                    "volumes ({}): stores keep their data in volumes blueprint declares; data already in these volumes is not migrated",
                    names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            k if k.starts_with("x-") => unmapped.push(format!(
                "{k}: extension fields are not carried over (their uses were read where merged)"
            )),
            other => unmapped.push(format!("{other}: not mapped")),
        }
    }

    // Blueprint names for every Compose service: DNS labels, not reserved, unique.
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for compose_name in services.keys() {
        let reserved = |n: &str| {
            RESERVED_NAMES.contains(&n)
                || n.ends_with("-scheduler")
                || n.ends_with("-exporter")
                || n.ends_with("-init")
        };
        let mut name = super::slugify(compose_name).unwrap_or_else(|| "service".into());
        if reserved(&name) {
            name = format!("{name}-app");
        }
        let base = name.clone();
        let mut n = 2;
        while taken.contains(&name) || reserved(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        if &name != compose_name {
            unmapped.push(format!(
                "services.{compose_name}: named `{name}` in the blueprint (names are DNS labels, and some are taken by the generated stack)"
            ));
        }
        taken.insert(name.clone());
        names.insert(compose_name.clone(), name);
    }

    // Every secret-looking value anywhere, so none can leak into the draft.
    for def in services.values() {
        for (key, value) in env_entries(def.get("environment")) {
            if let Some(v) = value
                && (looks_secret(&key) || has_url_password(&v))
                && !v.is_empty()
                && interpolation(&v).is_none()
            {
                secret_values.insert(v);
            }
        }
    }

    // Stores first: services bind to them.
    let mut stores = find_stores(services, &names, &mut comments, &mut unmapped);
    let store_of = |host: &str| {
        stores
            .iter()
            .position(|s| s.compose_name == host || s.name == host)
    };

    let mut out_services: BTreeMap<String, Service> = BTreeMap::new();
    let mut variables = Variables {
        stores: &stores,
        names: &names,
        secret_names: BTreeMap::new(),
        url_envs: BTreeMap::new(),
        buckets: BTreeMap::new(),
    };

    for (compose_name, def) in services {
        let name = names[compose_name].clone();
        if stores.iter().any(|s| &s.compose_name == compose_name) {
            continue;
        }
        let path_of = |p: &str| relative(&ctx.compose_dir.join(p), &ctx.out_dir);
        let image = def.get("image").and_then(Json::as_str).unwrap_or("");
        let (context, dockerfile) = match def.get("build") {
            Some(Json::String(c)) => (Some(c.clone()), None),
            Some(Json::Object(b)) => (
                Some(
                    b.get("context")
                        .and_then(Json::as_str)
                        .unwrap_or(".")
                        .to_string(),
                ),
                b.get("dockerfile")
                    .and_then(Json::as_str)
                    .map(str::to_string),
            ),
            _ => (None, None),
        };
        if context
            .as_deref()
            .is_some_and(|c| c.contains("://") || c.starts_with("git@"))
        {
            unmapped.push(format!(
                "services.{compose_name}: builds from a remote context ({}); blueprint builds from directories in the repository; not imported",
                context.unwrap_or_default()
            ));
            continue;
        }
        // A web server image with a directory of files mounted: a static site.
        let static_dir = def
            .get("volumes")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .find_map(|v| {
                let mut parts = v.split(':');
                let (src, dst) = (parts.next()?, parts.next()?);
                let served = ["/usr/share/nginx/html", "/usr/local/apache2/htdocs", "/srv"];
                (src.starts_with('.') || src.starts_with('/'))
                    .then_some(())
                    .filter(|_| served.iter().any(|d| dst.trim_end_matches('/') == *d))
                    .map(|_| src.to_string())
            });
        let image_words = words(image);
        let web_server = image_words
            .iter()
            .any(|w| w.starts_with("nginx") || w.starts_with("httpd"));
        let mut notes = vec![match (&context, image) {
            (Some(c), _) => format!("From Compose service `{compose_name}` (build {c})."),
            (None, i) => format!("From Compose service `{compose_name}` (image {i})."),
        }];
        let path = match (&context, &static_dir) {
            (Some(c), _) => path_of(c),
            (None, Some(dir)) if web_server => path_of(dir),
            _ => {
                unmapped.push(format!(
                    "services.{compose_name}: runs the prebuilt image `{image}` and blueprint has no store for it; blueprint builds services from source, so it was not imported"
                ));
                continue;
            }
        };
        if path == ".." || path.starts_with("../") || Path::new(&path).is_absolute() {
            return Err(Failure::Usage(format!(
                "services.{compose_name}: its source directory is outside {}, where the blueprint goes, and blueprint paths stay inside the blueprint's directory; write the draft next to the Compose file (or in a directory above it) with --out",
                ctx.out_dir.display()
            )));
        }
        let command = def.get("command").and_then(command_words);
        let entry = def.get("entrypoint").and_then(command_words);
        let dockerfile_path = context.as_ref().map(|c| {
            ctx.compose_dir
                .join(c)
                .join(dockerfile.as_deref().unwrap_or("Dockerfile"))
        });
        let dockerfile_text = dockerfile_path.as_deref().and_then(|p| (ctx.read)(p));

        // Ports: the first container port is the service's; the rest are listed.
        let mut ports: Vec<Port> = Vec::new();
        for (key, published) in [("ports", true), ("expose", false)] {
            for item in def.get(key).and_then(Json::as_array).into_iter().flatten() {
                match parse_port(item) {
                    Some((mut port, range)) => {
                        if !published {
                            port.host = None;
                        }
                        if range {
                            unmapped.push(format!(
                                "services.{compose_name}.{key}: the range {} was read as its first port",
                                json_text(item).unwrap_or_default()
                            ));
                        }
                        if !ports.iter().any(|p| p.container == port.container) {
                            ports.push(port);
                        }
                    }
                    None => unmapped.push(format!(
                        "services.{compose_name}.{key}: could not read {item}"
                    )),
                }
            }
        }

        let mut command_text = String::new();
        for w in command.iter().chain(entry.iter()).flatten() {
            command_text.push_str(w);
            command_text.push(' ');
        }
        let runtime = if static_dir.is_some() && web_server && context.is_none() {
            Runtime::Static
        } else {
            guess_runtime(&format!("{image} {command_text}"), !ports.is_empty())
                .or_else(|| {
                    dockerfile_text
                        .as_deref()
                        .and_then(|d| guess_runtime(d, !ports.is_empty()))
                })
                .unwrap_or(Runtime::Custom)
        };
        let runtime_name = serde_json::to_value(runtime)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        notes.push(format!(
            "Runtime `{runtime_name}`, guessed from its image, command and Dockerfile."
        ));
        if runtime == Runtime::Custom && dockerfile_text.is_none() && context.is_some() {
            unmapped.push(format!(
                "services.{compose_name}: no Dockerfile was found at {}; a `custom` service needs one",
                dockerfile_path
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
        if runtime != Runtime::Custom && dockerfile_path.as_deref().is_some_and(|p| p.is_file()) {
            unmapped.push(format!(
                "services.{compose_name}: blueprint generates the `{runtime_name}` image's Dockerfile at {path}/{}, and render will not overwrite the one there: move it away, or make the service `runtime: custom`",
                dockerfile.as_deref().unwrap_or("Dockerfile")
            ));
        }

        let mut service = Service {
            runtime,
            path: path.clone(),
            version: None,
            port: None,
            command: None,
            migrate: None,
            entrypoint: None,
            health: None,
            metrics: None,
            routes: Vec::new(),
            env: BTreeMap::new(),
            stores: Vec::new(),
            depends_on: Vec::new(),
            resources: None,
            autoscaling: None,
            deploy: None,
            dockerfile: None,
            lint: None,
            test: None,
        };
        match runtime {
            Runtime::PythonWorker => {
                if let Some(p) = ports.first() {
                    unmapped.push(format!(
                        "services.{compose_name}.ports: {} looks like a worker (no HTTP server), so its port {} was not kept",
                        compose_name, p.container
                    ));
                }
            }
            Runtime::Static => {
                if let Some(p) = ports.first() {
                    if p.container < 1024 {
                        notes.push(format!(
                            "It listened on {}; the static preset's unprivileged server listens on 8080.",
                            p.container
                        ));
                    } else {
                        service.port = Some(p.container);
                    }
                }
            }
            _ => service.port = ports.first().map(|p| p.container),
        }
        for extra in ports.iter().skip(1) {
            unmapped.push(format!(
                "services.{compose_name}.ports: only one port per service; {} was not kept",
                extra.container
            ));
        }
        if let Some(host) = ports.first().and_then(|p| p.host) {
            notes.push(format!(
                "It published port {host} on the host; to serve it through the proxy, add `routes: [{{ path: / }}]`."
            ));
        }

        // The command: presets start HTTP servers themselves, given the entry point.
        let full: Vec<String> = entry
            .iter()
            .chain(command.iter())
            .flatten()
            .cloned()
            .collect();
        let entrypoint = guess_entrypoint(runtime, &full);
        match runtime {
            Runtime::Django
            | Runtime::Fastapi
            | Runtime::Streamlit
            | Runtime::Node
            | Runtime::PythonWorker
                if entrypoint.is_some() =>
            {
                service.entrypoint = entrypoint.clone();
                if !full.is_empty() {
                    notes.push(format!(
                        "Its command is now the `{runtime_name}` preset's, with entry point `{}`.",
                        entrypoint.unwrap_or_default()
                    ));
                }
            }
            Runtime::Django | Runtime::Fastapi | Runtime::Streamlit => {
                if !full.is_empty() {
                    notes.push(format!(
                        "Its command is now the `{runtime_name}` preset's: check `entrypoint` (the preset's default is used)."
                    ));
                }
            }
            Runtime::Static => {}
            _ => {
                if !full.is_empty() {
                    service.command = Some(full.clone());
                }
            }
        }
        if full.iter().any(|w| w.contains('$')) && service.command.is_some() {
            unmapped.push(format!(
                "services.{compose_name}.command: it uses `$` interpolation, which the generated Compose files resolve from their env file"
            ));
        }
        if runtime == Runtime::Custom {
            service.dockerfile = dockerfile.clone();
        }

        // Variables.
        let mut bound: BTreeSet<usize> = BTreeSet::new();
        for dep in depends_on(def) {
            if let Some(i) = store_of(&dep) {
                bound.insert(i);
            }
        }
        variables.map(
            compose_name,
            def,
            &mut service,
            &mut bound,
            &mut notes,
            &mut unmapped,
        );
        service.stores = bound.iter().map(|&i| stores[i].name.clone()).collect();

        // Dependencies, renamed.
        for dep in depends_on(def) {
            match names.get(&dep) {
                Some(n) if services.contains_key(&dep) => {
                    if !service.depends_on.contains(n) {
                        service.depends_on.push(n.clone());
                    }
                }
                _ => unmapped.push(format!(
                    "services.{compose_name}.depends_on: `{dep}` is not a service of the file"
                )),
            }
        }

        // Health: the path of an HTTP URL the health check probes.
        if let Some(check) = def.get("healthcheck") {
            let test = match check.get("test") {
                Some(Json::Array(items)) => items
                    .iter()
                    .filter_map(json_text)
                    .collect::<Vec<_>>()
                    .join(" "),
                Some(Json::String(s)) => s.clone(),
                _ => String::new(),
            };
            match health_path(&test) {
                Some(p) => service.health = Some(p),
                None if check.get("disable") == Some(&Json::Bool(true)) => {}
                None => unmapped.push(format!(
                    "services.{compose_name}.healthcheck: not an HTTP check; blueprint checks `health` (default /healthz)"
                )),
            }
        }

        // Limits.
        if let Some(limits) = def
            .pointer("/deploy/resources/limits")
            .and_then(Json::as_object)
        {
            let cpus = limits
                .get("cpus")
                .and_then(json_text)
                .and_then(|c| c.parse::<f64>().ok())
                .filter(|c| (0.01..=256.0).contains(c));
            let memory = limits
                .get("memory")
                .and_then(json_text)
                .and_then(|m| memory_size(&m));
            if cpus.is_some() || memory.is_some() {
                service.resources = Some(Resources { cpus, memory });
            }
        }

        // Everything else on the service.
        for (key, value) in def.as_object().into_iter().flatten() {
            match key.as_str() {
                "volumes" => {
                    for v in value.as_array().into_iter().flatten() {
                        let text = json_text(v).unwrap_or_else(|| v.to_string());
                        if static_dir.as_deref().is_some_and(|d| text.starts_with(d)) {
                            continue;
                        }
                        unmapped.push(format!(
                            "services.{compose_name}.volumes: `{text}` (the image holds the code; persistent data belongs in a store)"
                        ));
                    }
                }
                "deploy" => {
                    let other: Vec<&String> = value
                        .as_object()
                        .map(|o| o.keys().filter(|k| *k != "resources").collect())
                        .unwrap_or_default();
                    if !other.is_empty() {
                        unmapped.push(format!(
                            "services.{compose_name}.deploy ({}): not mapped (replicas are set per environment)",
                            other.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
                k if READ_KEYS.contains(&k) => {}
                other => unmapped.push(format!(
                    "services.{compose_name}.{other}: {}",
                    why_not_mapped(other)
                )),
            }
        }
        comments.insert(name.clone(), notes);
        out_services.insert(name, service);
    }

    // Services built from one directory: blueprint generates one Dockerfile per directory, so
    // the first keeps its preset and the others become `custom`, built from the directory's
    // own Dockerfile as the Compose file did. Said, so the user can split them later.
    let mut by_path: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, service) in &out_services {
        if service.runtime != Runtime::Custom {
            by_path
                .entry(service.path.clone())
                .or_default()
                .push(name.clone());
        }
    }
    for (path, sharing) in by_path.iter().filter(|(_, v)| v.len() > 1) {
        for name in &sharing[1..] {
            if let Some(service) = out_services.get_mut(name) {
                service.runtime = Runtime::Custom;
                service.dockerfile = None;
            }
        }
        unmapped.push(format!(
            "services {}: built from the same directory `{path}`; blueprint generates one Dockerfile per directory, so {} became `runtime: custom` (built from that directory's own Dockerfile): give each its own directory to use the presets",
            sharing.join(", "),
            sharing[1..].join(", ")
        ));
    }

    // Dependencies on services that were not imported (a prebuilt image blueprint has no
    // store for) would not validate: they are dropped, and said so.
    let imported: BTreeSet<String> = out_services
        .keys()
        .cloned()
        .chain(stores.iter().map(|s| s.name.clone()))
        .collect();
    for (name, service) in &mut out_services {
        let (kept, dropped): (Vec<String>, Vec<String>) = service
            .depends_on
            .drain(..)
            .partition(|d| imported.contains(d));
        service.depends_on = kept;
        for dep in dropped {
            unmapped.push(format!(
                "services.{name}.depends_on: `{dep}` was not imported, so the dependency was dropped"
            ));
        }
    }

    // Store settings learned from the services that use them.
    let Variables {
        url_envs, buckets, ..
    } = variables;
    for (i, found) in stores.iter_mut().enumerate() {
        if let Some(vars) = url_envs.get(&i) {
            let default = match found.store.kind {
                StoreKind::Postgres => "DATABASE_URL",
                _ => "REDIS_URL",
            };
            if vars.len() == 1 {
                let var = vars.iter().next().cloned().unwrap_or_default();
                if var != default {
                    found.store.url_env = Some(var);
                }
            } else {
                unmapped.push(format!(
                    "stores.{}: services connect through different variables ({}); the binding injects {default} only",
                    found.name,
                    vars.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        if let Some(bucket) = buckets.get(&i).and_then(|b| b.iter().next())
            && bucket.len() >= 3
            && bucket.len() <= 63
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && !bucket.starts_with(['.', '-'])
            && !bucket.ends_with(['.', '-'])
        {
            found.store.bucket = Some(bucket.clone());
        }
    }

    // Store dependencies are kept: a compose `depends_on: [db]` stays a dependency.
    let blueprint = Blueprint {
        project: Project {
            name: ctx.name.clone(),
            description: None,
            repository: ctx.repository.clone(),
            registry: None,
        },
        environments: BTreeMap::from([("dev".to_string(), blueprint::Environment::default())]),
        services: out_services,
        jobs: BTreeMap::new(),
        stores: stores.into_iter().map(|s| (s.name, s.store)).collect(),
        proxy: blueprint::Proxy::default(),
        monitoring: blueprint::Monitoring::default(),
        ci: blueprint::Ci::default(),
        vercel: blueprint::Vercel::default(),
    };
    let redact = |line: &str| {
        let mut line = line.to_string();
        for v in &secret_values {
            if v.len() >= 4 {
                line = line.replace(v.as_str(), "***");
            }
        }
        line
    };
    Ok(Draft {
        blueprint,
        comments: comments
            .into_iter()
            .map(|(k, v)| (k, v.iter().map(|l| redact(l)).collect()))
            .collect(),
        unmapped: unmapped.iter().map(|l| redact(l)).collect(),
        secret_values,
        source_name: ctx.source_name.clone(),
    })
}

/// PostgreSQL, Redis and MinIO containers (no `build:`), as stores; what of their settings is
/// not carried over goes to `unmapped`.
fn find_stores(
    services: &serde_json::Map<String, Json>,
    names: &BTreeMap<String, String>,
    comments: &mut BTreeMap<String, Vec<String>>,
    unmapped: &mut Vec<String>,
) -> Vec<FoundStore> {
    let mut stores: Vec<FoundStore> = Vec::new();
    for (compose_name, def) in services {
        let image = def.get("image").and_then(Json::as_str).unwrap_or("");
        if def.get("build").is_some() {
            continue;
        }
        let Some(kind) = store_kind(image) else {
            continue;
        };
        let name = names[compose_name].clone();
        let mut notes = vec![format!(
            "From Compose service `{compose_name}` (image {image})."
        )];
        let fragment = crate::model::env_fragment(&name);
        match kind {
            StoreKind::Postgres => notes.push(format!(
                "The container's user and database are `app`; its password is the secret {fragment}_PASSWORD."
            )),
            StoreKind::S3 => notes.push(format!(
                "MinIO in the Compose stack; its keys are the secrets {fragment}_ACCESS_KEY_ID and {fragment}_SECRET_ACCESS_KEY."
            )),
            StoreKind::Redis => {}
        }
        let own_env: Vec<String> = env_entries(def.get("environment"))
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        if !own_env.is_empty() {
            unmapped.push(format!(
                "services.{compose_name}.environment ({}): the store container is configured by blueprint; values were not copied",
                own_env.join(", ")
            ));
        }
        for key in def.as_object().map(|o| o.keys()).into_iter().flatten() {
            match key.as_str() {
                "image" | "environment" | "healthcheck" | "restart" | "container_name" | "networks" => {}
                "ports" | "expose" => unmapped.push(format!(
                    "services.{compose_name}.{key}: store ports are blueprint's (the standard port, reachable inside the stack)"
                )),
                "volumes" => unmapped.push(format!(
                    "services.{compose_name}.volumes: the store keeps its data in a volume blueprint declares"
                )),
                "command" => unmapped.push(format!(
                    "services.{compose_name}.command: store containers run blueprint's command; not copied"
                )),
                other => unmapped.push(format!(
                    "services.{compose_name}.{other}: {}",
                    why_not_mapped(other)
                )),
            }
        }
        comments.insert(name.clone(), notes);
        stores.push(FoundStore {
            name,
            compose_name: compose_name.clone(),
            store: Store {
                kind,
                version: if kind == StoreKind::S3 {
                    None
                } else {
                    image_version(image)
                },
                bucket: None,
                url_env: None,
                backup: None,
                queues: Vec::new(),
            },
        });
    }
    stores
}

/// Maps services' variables, remembering across services what they say about stores and
/// which secret names already carry which value.
struct Variables<'a> {
    stores: &'a [FoundStore],
    names: &'a BTreeMap<String, String>,
    /// Secret names already given a value, to keep two different values apart.
    secret_names: BTreeMap<String, String>,
    /// Per store (by index): the variables services connect to it through.
    url_envs: BTreeMap<usize, BTreeSet<String>>,
    /// Per `s3` store (by index): bucket names services were given.
    buckets: BTreeMap<usize, BTreeSet<String>>,
}

impl Variables<'_> {
    fn store_of(&self, host: &str) -> Option<usize> {
        self.stores
            .iter()
            .position(|s| s.compose_name == host || s.name == host)
    }

    /// Maps one Compose service's `environment` into `service.env`: connection variables
    /// become store bindings (`bound`), secret-looking ones secret references (values
    /// dropped), interpolations their default or a secret reference.
    fn map(
        &mut self,
        compose_name: &str,
        def: &Json,
        service: &mut Service,
        bound: &mut BTreeSet<usize>,
        notes: &mut Vec<String>,
        unmapped: &mut Vec<String>,
    ) {
        for (key, value) in env_entries(def.get("environment")) {
            if !is_env_name(&key) {
                unmapped.push(format!(
                    "services.{compose_name}.environment.{key}: not a valid variable name for blueprint (upper case, digits, `_`); not copied"
                ));
                continue;
            }
            let store_hosts: Vec<usize> = value
                .as_deref()
                .map(hosts_in)
                .unwrap_or_default()
                .iter()
                .filter_map(|h| self.store_of(h))
                .collect();
            if let Some(&i) = store_hosts.first() {
                bound.insert(i);
                let store = &self.stores[i];
                match store.store.kind {
                    StoreKind::Postgres | StoreKind::Redis => {
                        self.url_envs.entry(i).or_default().insert(key.clone());
                    }
                    StoreKind::S3 => {}
                }
                notes.push(format!(
                    "{key} connected to `{}`; binding the store injects it.",
                    store.compose_name
                ));
                continue;
            }
            let injected_by_s3 = [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "S3_BUCKET",
                "S3_ENDPOINT_URL",
            ];
            if injected_by_s3.contains(&key.as_str())
                && self.stores.iter().any(|s| s.store.kind == StoreKind::S3)
            {
                if let Some(i) = self
                    .stores
                    .iter()
                    .position(|s| s.store.kind == StoreKind::S3)
                {
                    bound.insert(i);
                    if key == "S3_BUCKET"
                        && let Some(v) = &value
                    {
                        self.buckets.entry(i).or_default().insert(v.clone());
                    }
                }
                notes.push(format!("{key} is injected by the s3 store binding."));
                continue;
            }
            let secret = |name: &str, secret_names: &mut BTreeMap<String, String>| {
                // The same name with two different values in two services: keep them apart.
                let original = value.clone().unwrap_or_default();
                match secret_names.get(name) {
                    Some(v) if *v != original => {
                        let renamed = format!(
                            "{}_{name}",
                            crate::model::env_fragment(&name_of(compose_name, self.names))
                        );
                        secret_names.insert(renamed.clone(), original);
                        renamed
                    }
                    _ => {
                        secret_names.insert(name.to_string(), original);
                        name.to_string()
                    }
                }
            };
            let env_value = match value.as_deref() {
                None => {
                    notes.push(format!(
                        "{key} was passed through from the host: it is a secret reference now, set in the env file."
                    ));
                    EnvValue::Secret(SecretRef {
                        secret: secret(&key, &mut self.secret_names),
                    })
                }
                Some(v) if looks_secret(&key) || has_url_password(v) => {
                    let name = match interpolation(v) {
                        Some((from, _)) if is_env_name(&from) => from,
                        _ => key.clone(),
                    };
                    EnvValue::Secret(SecretRef {
                        secret: secret(&name, &mut self.secret_names),
                    })
                }
                Some(v) => match interpolation(v) {
                    Some((from, Some(default))) if !looks_secret(&from) => {
                        notes.push(format!("{key} was `{v}`: its default is kept."));
                        EnvValue::Plain(default)
                    }
                    Some((from, _)) if is_env_name(&from) => {
                        notes.push(format!(
                            "{key} came from the host's `{from}`: it is a secret reference now, set in the env file."
                        ));
                        EnvValue::Secret(SecretRef {
                            secret: secret(&from, &mut self.secret_names),
                        })
                    }
                    _ if v.contains('$') => {
                        unmapped.push(format!(
                            "services.{compose_name}.environment.{key}: its value uses `$` interpolation; set it by hand"
                        ));
                        continue;
                    }
                    _ => {
                        if key.ends_with("BUCKET") || key.ends_with("BUCKET_NAME") {
                            for (i, s) in self.stores.iter().enumerate() {
                                if s.store.kind == StoreKind::S3 {
                                    self.buckets.entry(i).or_default().insert(v.to_string());
                                }
                            }
                        }
                        EnvValue::Plain(v.to_string())
                    }
                },
            };
            service.env.insert(key, env_value);
        }
    }
}

fn name_of(compose_name: &str, names: &BTreeMap<String, String>) -> String {
    names
        .get(compose_name)
        .cloned()
        .unwrap_or_else(|| compose_name.to_string())
}

fn depends_on(def: &Json) -> Vec<String> {
    match def.get("depends_on") {
        Some(Json::Array(items)) => items.iter().filter_map(json_text).collect(),
        Some(Json::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The path of the first HTTP URL in a health check command (`curl -f http://localhost:8000/health`).
fn health_path(test: &str) -> Option<String> {
    let start = test.find("http://").or_else(|| test.find("https://"))?;
    let url = test[start..]
        .split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | ','))
        .next()?;
    let after_scheme = url.split_once("://")?.1;
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let ok = path.starts_with('/')
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._~/-".contains(c));
    ok.then(|| path.to_string())
}

impl Draft {
    /// The draft as commented YAML, schema modeline first.
    pub fn to_text(&self, schema_url: &str) -> String {
        use crate::generate::to_yaml;
        let bp = &self.blueprint;
        let indent = |text: &str| -> String {
            text.lines()
                .map(|l| {
                    if l.is_empty() {
                        "\n".to_string()
                    } else {
                        format!("  {l}\n")
                    }
                })
                .collect()
        };
        let mut out = format!("# yaml-language-server: $schema={schema_url}\n#\n");
        out.push_str(&format!(
            "# Drafted by `blueprint import` from {}. Review it before the first render:\n",
            self.source_name
        ));
        out.push_str(
            "# `blueprint import` listed what it could not carry over, and the comments\n",
        );
        out.push_str(
            "# above each service say what was guessed. No secret value was copied: secrets\n",
        );
        out.push_str(
            "# are `{ secret: NAME }` references, set where `blueprint secrets` says.\n\n",
        );
        out.push_str(&to_yaml(&BTreeMap::from([("project", &bp.project)])));
        out.push_str("\n# One environment to start with. Add more with `blueprint env add prod --from dev`\n");
        out.push_str("# (then give it a public `domain`).\n");
        out.push_str("environments:\n  dev: {}\n");
        if !bp.services.is_empty() {
            out.push_str("\nservices:\n");
            for (i, (name, service)) in bp.services.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                for line in self.comments.get(name).into_iter().flatten() {
                    out.push_str(&format!("  # {line}\n"));
                }
                out.push_str(&indent(&to_yaml(&BTreeMap::from([(name, service)]))));
            }
        }
        if !bp.stores.is_empty() {
            out.push_str("\nstores:\n");
            for (i, (name, store)) in bp.stores.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                for line in self.comments.get(name).into_iter().flatten() {
                    out.push_str(&format!("  # {line}\n"));
                }
                out.push_str(&indent(&to_yaml(&BTreeMap::from([(name, store)]))));
            }
        }
        out.push_str(
            "\n# The proxy, monitoring and CI use their defaults: see `blueprint schema`.\n",
        );
        out
    }
}

/// `blueprint import`: returns the exit code.
pub fn run(options: &Options) -> u8 {
    match import(options) {
        Ok(()) => crate::cli::EXIT_OK,
        Err(failure) => failure.report(),
    }
}

fn import(options: &Options) -> Result<(), Failure> {
    let source = &options.compose_file;
    let source_display = source.display().to_string();
    if std::fs::symlink_metadata(&options.out).is_ok() {
        return Err(Failure::Usage(format!(
            "{} already exists; import never overwrites it (nothing was written). Pass --out with a new file",
            options.out.display()
        )));
    }
    let text = std::fs::read_to_string(source)
        .map_err(|e| Failure::Io(format!("{source_display}: {e}")))?;
    let compose = parse_compose(&text)
        .map_err(|e| Failure::Usage(format!("{source_display} is not valid YAML: {e}")))?;
    let absolute =
        |p: &Path| normalize(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    let compose_dir = absolute(&super::blueprint_dir(source));
    let out_dir = absolute(&super::blueprint_dir(&options.out));
    let name = match &options.name {
        Some(n) if super::is_dns_label(n) => n.clone(),
        Some(n) => {
            return Err(Failure::Usage(format!(
                "--name: `{n}` is not a DNS label (lowercase letters, digits and `-`, starting with a letter)"
            )));
        }
        None => compose
            .get("name")
            .and_then(Json::as_str)
            .and_then(super::slugify)
            .or_else(|| {
                compose_dir
                    .file_name()
                    .and_then(|n| super::slugify(&n.to_string_lossy()))
            })
            .unwrap_or_else(|| "app".into()),
    };
    let mut placeholder_repository = false;
    let repository = match &options.repository {
        Some(r) if super::is_repository(r) => r.clone(),
        Some(r) => {
            return Err(Failure::Usage(format!(
                "--repository: `{r}` is not a GitHub `owner/name`"
            )));
        }
        None => super::init::git_origin(&compose_dir).unwrap_or_else(|| {
            placeholder_repository = true;
            format!("your-org/{name}")
        }),
    };
    let read = |p: &Path| -> Option<String> {
        let meta = std::fs::metadata(p).ok()?;
        (meta.is_file() && meta.len() <= 256 * 1024)
            .then(|| std::fs::read_to_string(p).ok())
            .flatten()
    };
    let source_name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| source_display.clone());
    let ctx = Context {
        source_name,
        compose_dir,
        out_dir,
        name,
        repository,
        read: &read,
    };
    let mut draft = draft(&compose, &ctx)?;
    if placeholder_repository {
        draft.unmapped.insert(
            0,
            format!(
                "project.repository: set to the placeholder `{}`; change it to the GitHub repository (`owner/name`)",
                ctx.repository
            ),
        );
    }
    let out_display = options.out.display().to_string();
    let text = draft.to_text(&crate::schema_url());
    let leaked = draft
        .secret_values
        .iter()
        .any(|v| v.len() >= 4 && text.contains(v.as_str()));
    if leaked {
        return Err(Failure::Usage(format!(
            "the draft would contain a secret value from {source_display}, so it was not written; please report this"
        )));
    }
    let read_back = crate::validate::validate_source(&out_display, &text).map_err(|d| {
        let mut d = d;
        if let Some(first) = d.first_mut() {
            first.hint = Some(format!(
                "the draft blueprint import made from {source_display} is invalid, so it was not written; please report this"
            ));
        }
        Failure::Invalid(d)
    })?;
    if serde_json::to_value(&read_back).ok() != serde_json::to_value(&draft.blueprint).ok() {
        return Err(Failure::Usage(format!(
            "the draft does not read back as built, so it was not written; please report this with {source_display}"
        )));
    }
    super::write_new(&options.out, &text)?;
    let bp = &draft.blueprint;
    let mut report = format!(
        "wrote {out_display} from {source_display}: {} service(s) ({}), {} store(s) ({})\n",
        bp.services.len(),
        bp.services.keys().cloned().collect::<Vec<_>>().join(", "),
        bp.stores.len(),
        bp.stores.keys().cloned().collect::<Vec<_>>().join(", "),
    );
    if !draft.unmapped.is_empty() {
        report.push_str("\nNot carried over, or changed (review each):\n");
        for line in &draft.unmapped {
            report.push_str(&format!("  - {line}\n"));
        }
    }
    report.push_str(&format!(
        "\nNext: review {out_display}, then `blueprint render {out_display}` and `blueprint secrets {out_display}`.\n"
    ));
    super::print(&report)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images() {
        assert_eq!(store_kind("postgres:16-alpine"), Some(StoreKind::Postgres));
        assert_eq!(
            store_kind("docker.io/library/redis:7"),
            Some(StoreKind::Redis)
        );
        assert_eq!(
            store_kind("quay.io/minio/minio:RELEASE.2024"),
            Some(StoreKind::S3)
        );
        assert_eq!(
            store_kind("localhost:5000/postgres"),
            Some(StoreKind::Postgres)
        );
        assert_eq!(store_kind("mongo:7"), None);
        assert_eq!(image_version("postgres:16-alpine").as_deref(), Some("16"));
        assert_eq!(image_version("redis:7.2.4").as_deref(), Some("7.2.4"));
        assert_eq!(image_version("redis:latest"), None);
        assert_eq!(image_version("redis"), None);
    }

    #[test]
    fn runtimes_from_commands() {
        let g = |t: &str, port: bool| guess_runtime(t, port);
        assert_eq!(
            g("gunicorn config.wsgi:application -b 0.0.0.0:8000", true),
            Some(Runtime::Django)
        );
        assert_eq!(
            g("python manage.py runserver 0.0.0.0:8000", true),
            Some(Runtime::Django)
        );
        assert_eq!(
            g("uvicorn app.main:app --host 0.0.0.0", true),
            Some(Runtime::Fastapi)
        );
        assert_eq!(
            g(
                "gunicorn -k uvicorn.workers.UvicornWorker app.main:app",
                true
            ),
            Some(Runtime::Fastapi)
        );
        assert_eq!(g("streamlit run app.py", true), Some(Runtime::Streamlit));
        assert_eq!(
            g("node:22-alpine node server.js", true),
            Some(Runtime::Node)
        );
        assert_eq!(
            g("celery -A proj worker", false),
            Some(Runtime::PythonWorker)
        );
        assert_eq!(
            g("python -m app.worker", false),
            Some(Runtime::PythonWorker)
        );
        assert_eq!(g("nginx:1.27-alpine", true), Some(Runtime::Static));
        assert_eq!(g("./server --port 9000", true), None);
    }

    #[test]
    fn entrypoints() {
        let w = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            guess_entrypoint(
                Runtime::Django,
                &w("gunicorn shop.wsgi:application -b :8000")
            )
            .as_deref(),
            Some("shop.wsgi")
        );
        assert_eq!(
            guess_entrypoint(Runtime::Fastapi, &w("uvicorn --host 0.0.0.0 api.main:app"))
                .as_deref(),
            Some("api.main:app")
        );
        assert_eq!(
            guess_entrypoint(Runtime::Node, &w("node --enable-source-maps dist/index.js"))
                .as_deref(),
            Some("dist/index.js")
        );
        assert_eq!(
            guess_entrypoint(Runtime::PythonWorker, &w("python -m app.worker")).as_deref(),
            Some("app.worker")
        );
        assert_eq!(
            guess_entrypoint(Runtime::PythonWorker, &w("celery -A x worker")),
            None
        );
    }

    #[test]
    fn ports() {
        let p = |v: Json| parse_port(&v).map(|(p, r)| (p.container, p.host, r));
        assert_eq!(p(Json::from("8000:8000")), Some((8000, Some(8000), false)));
        assert_eq!(
            p(Json::from("127.0.0.1:8080:80/tcp")),
            Some((80, Some(8080), false))
        );
        assert_eq!(p(Json::from("3000")), Some((3000, None, false)));
        assert_eq!(p(Json::from(9000)), Some((9000, None, false)));
        assert_eq!(
            p(Json::from("9000-9001:9000-9001")),
            Some((9000, Some(9000), true))
        );
        assert_eq!(
            p(serde_json::json!({"target": 80, "published": "8081"})),
            Some((80, Some(8081), false))
        );
        assert_eq!(p(Json::from("x")), None);
    }

    #[test]
    fn hosts_interpolations_and_health() {
        assert_eq!(hosts_in("postgres://app:pw@db:5432/app"), ["db"]);
        assert_eq!(hosts_in("redis://cache:6379/0"), ["cache"]);
        assert_eq!(hosts_in("minio:9000"), ["minio"]);
        assert!(hosts_in("hello world").is_empty());
        assert_eq!(interpolation("${A}"), Some(("A".into(), None)));
        assert_eq!(
            interpolation("${A:-x y}"),
            Some(("A".into(), Some("x y".into())))
        );
        assert_eq!(interpolation("$A"), Some(("A".into(), None)));
        assert_eq!(interpolation("a$A"), None);
        assert_eq!(interpolation("${A:?missing}"), None);
        assert_eq!(
            health_path("curl -fsS http://localhost:8000/health/ || exit 1").as_deref(),
            Some("/health/")
        );
        assert_eq!(
            health_path("wget -qO- http://127.0.0.1:3000/api/healthz?full=1").as_deref(),
            Some("/api/healthz")
        );
        assert_eq!(health_path("pg_isready -U app"), None);
        assert_eq!(memory_size("512M").as_deref(), Some("512m"));
        assert_eq!(memory_size("1gb").as_deref(), Some("1g"));
        assert_eq!(memory_size("1.5G"), None);
    }

    fn draft_of(compose: &str) -> (Draft, Blueprint) {
        let json = parse_compose(compose).expect("YAML");
        let ctx = Context {
            source_name: "compose.yaml".into(),
            compose_dir: PathBuf::from("/p"),
            out_dir: PathBuf::from("/p"),
            name: "p".into(),
            repository: "o/p".into(),
            read: &|_| None,
        };
        let draft = draft(&json, &ctx).unwrap_or_else(|f| panic!("{f:?}"));
        let text = draft.to_text("https://example.com/schema.json");
        let bp = crate::validate::validate_source("t.yaml", &text)
            .unwrap_or_else(|d| panic!("{text}\n{}", crate::diagnostic::render_all(&d, false)));
        (draft, bp)
    }

    #[test]
    fn what_cannot_be_imported_is_listed_and_the_draft_still_validates() {
        let (draft, bp) = draft_of(
            "services:
  app:
    build: .
    command: ./run --port 9000
    ports: [\"9000:9000\", \"9100:9100\"]
    env_file: .env
    depends_on: [mongo, proxy]
    environment:
      MONGO_URL: mongodb://root:hunter22@mongo:27017
      lower_case: x
      GREETING: $${HOME}
  mongo:
    image: mongo:7
  proxy:
    build: ./proxy
    command: [\"./proxy\"]
networks:
  default: {}
",
        );
        let app = &bp.services["app"];
        assert_eq!(json_of(&app.runtime), "custom");
        assert_eq!(app.port, Some(9000));
        assert_eq!(app.depends_on, ["proxy-app"], "renamed, and mongo dropped");
        assert!(matches!(&app.env["MONGO_URL"], EnvValue::Secret(s) if s.secret == "MONGO_URL"));
        assert!(!bp.services.contains_key("mongo"));
        let all = draft.unmapped.join("\n");
        for expected in [
            "services.mongo: runs the prebuilt image `mongo:7`",
            "services.app.depends_on: `mongo` was not imported",
            "services.proxy: named `proxy-app`",
            "services.app.env_file: env files are not read",
            "services.app.environment.lower_case: not a valid variable name",
            "only one port per service; 9100",
            "networks: not mapped",
        ] {
            assert!(all.contains(expected), "{expected}\n{all}");
        }
        assert!(!all.contains("hunter22"));
    }

    #[test]
    fn two_values_under_one_secret_name_stay_apart() {
        let (_, bp) = draft_of(
            "services:
  a:
    build: a
    command: python -m a
    environment: { API_TOKEN: one-value }
  b:
    build: b
    command: python -m b
    environment: { API_TOKEN: other-value }
",
        );
        let secret = |s: &str| match &bp.services[s].env["API_TOKEN"] {
            EnvValue::Secret(r) => r.secret.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(secret("a"), "API_TOKEN");
        assert_eq!(secret("b"), "B_API_TOKEN");
    }

    #[test]
    fn services_sharing_a_directory_are_named() {
        let (draft, _) = draft_of(
            "services:
  web:
    build: ./app
    command: gunicorn shop.wsgi -b 0.0.0.0:8000
    ports: [\"8000:8000\"]
  worker:
    build: ./app
    command: celery -A shop worker
",
        );
        let all = draft.unmapped.join("\n");
        assert!(
            all.contains("services web, worker: built from the same directory `app`"),
            "{all}"
        );
    }

    fn json_of<T: serde::Serialize>(v: &T) -> Json {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/a/b/c"), Path::new("/a")), "b/c");
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/x")), "../b");
        assert_eq!(relative(Path::new("/a/./b/../c"), Path::new("/a")), "c");
        assert_eq!(relative(Path::new("/a"), Path::new("/a")), ".");
    }
}
