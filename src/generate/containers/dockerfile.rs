//! Dockerfiles and `.dockerignore` files of the services whose image blueprint builds, and the
//! small nginx server config of `static` services.

use serde::Serialize;

use super::images;
use crate::blueprint::Runtime;
use crate::generate::{GeneratedFile, render_template};
use crate::model::{Model, Service};

const PYTHON_TEMPLATE: &str = include_str!("../templates/containers/python.Dockerfile.j2");
const NODE_TEMPLATE: &str = include_str!("../templates/containers/node.Dockerfile.j2");
const STATIC_TEMPLATE: &str = include_str!("../templates/containers/static.Dockerfile.j2");
const SUPERCRONIC_TEMPLATE: &str =
    include_str!("../templates/containers/supercronic.Dockerfile.j2");
const STATIC_SERVER_TEMPLATE: &str = include_str!("../templates/containers/static-server.conf.j2");
const DOCKERIGNORE_TEMPLATE: &str = include_str!("../templates/containers/dockerignore.j2");

/// The file name of a `static` service's nginx server config, beside its Dockerfile.
pub const STATIC_SERVER_CONFIG: &str = "nginx.static.conf";

/// The value secrets get while `collectstatic` runs at build time.
const BUILD_PLACEHOLDER: &str = "build-time-placeholder";

/// Healthcheck settings shared by the Dockerfiles' `HEALTHCHECK` and Compose.
pub const HEALTH_TIMEOUT_SECONDS: u64 = 5;

/// Whether blueprint builds an image for `service`: its preset has a generated Dockerfile and it
/// runs as a container in at least one environment (a Vercel-only service needs no image).
pub fn builds_image(service: &Service) -> bool {
    service.generates_dockerfile && service.in_container_anywhere()
}

/// `path` inside `service`'s build context, as a path from the output root.
fn in_context(service: &Service, file: &str) -> String {
    if service.path == "." {
        file.to_string()
    } else {
        format!("{}/{file}", service.path)
    }
}

/// The Dockerfile, `.dockerignore` and (for `static`) server config of every service whose image
/// blueprint builds.
pub fn files(model: &Model) -> Vec<GeneratedFile> {
    let mut files = Vec::new();
    for service in model.services.iter().filter(|s| builds_image(s)) {
        let dockerfile = match service.runtime {
            Runtime::Django | Runtime::Fastapi | Runtime::Streamlit | Runtime::PythonWorker => {
                python_dockerfile(model, service)
            }
            Runtime::Node => node_dockerfile(model, service),
            Runtime::Static => {
                files.push(GeneratedFile::hash_commented(
                    in_context(service, STATIC_SERVER_CONFIG),
                    static_server_config(service),
                ));
                static_dockerfile(service)
            }
            Runtime::Custom => continue,
        };
        files.push(GeneratedFile::hash_commented(
            service.dockerfile.clone(),
            dockerfile,
        ));
        files.push(GeneratedFile::hash_commented(
            in_context(service, ".dockerignore"),
            dockerignore(service),
        ));
    }
    files
}

/// A JSON array, the exec form of `CMD`, `RUN` and `HEALTHCHECK`, spaced as people write it.
fn exec_form(words: &[String]) -> String {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| serde_json::to_string(w).unwrap_or_else(|_| "\"\"".to_string()))
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// The command that checks `service`'s health endpoint from inside its own container, with a
/// tool its image already has; `None` when it has no HTTP port or health path, or when the image
/// is the user's own (`custom`) and what it contains is unknown.
pub fn health_command(service: &Service) -> Option<Vec<String>> {
    let url = format!(
        "http://127.0.0.1:{}{}",
        service.port?,
        service.health_path.as_ref()?
    );
    let timeout = HEALTH_TIMEOUT_SECONDS - 1;
    // The URL travels as an argument, never inside the program text, so nothing needs quoting.
    let mut command: Vec<String> = match service.runtime {
        Runtime::Django | Runtime::Fastapi | Runtime::Streamlit | Runtime::PythonWorker => vec![
            "python".into(),
            "-c".into(),
            format!(
                "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout={timeout})"
            ),
        ],
        Runtime::Node => vec![
            "node".into(),
            "-e".into(),
            format!(
                "fetch(process.argv[1], {{ signal: AbortSignal.timeout({}) }}).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))",
                timeout * 1000
            ),
        ],
        // BusyBox wget, in the Alpine-based nginx image.
        Runtime::Static => ["wget", "-q", "-O", "/dev/null"].map(String::from).to_vec(),
        Runtime::Custom => return None,
    };
    command.push(url);
    Some(command)
}

#[derive(Serialize)]
struct Checksum {
    arch: &'static str,
    sha1: &'static str,
}

#[derive(Serialize)]
struct Supercronic {
    version: &'static str,
    sums: Vec<Checksum>,
}

/// The supercronic build stage, when jobs run in `service`'s image.
fn supercronic_stage(model: &Model, service: &Service, base: &str) -> Option<String> {
    model.jobs_of(&service.name).next()?;
    Some(supercronic_stage_on(base))
}

/// The supercronic build stage on `base` (the image the final stage is built from).
pub fn supercronic_stage_on(base: &str) -> String {
    let context = minijinja::context! {
        base,
        supercronic => minijinja::Value::from(minijinja::value::Serde(Supercronic {
            version: images::SUPERCRONIC_VERSION,
            sums: images::SUPERCRONIC_SHA1.iter().map(|(arch, sha1)| Checksum { arch, sha1 }).collect(),
        })),
    };
    render_template("supercronic.Dockerfile", SUPERCRONIC_TEMPLATE, context)
        .trim_end()
        .to_string()
}

#[derive(Serialize)]
struct Collectstatic {
    environment: String,
    instruction: String,
}

/// Django's `collectstatic` as an exec-form `RUN`, with the variables of the first environment
/// the service runs in (secrets replaced by a placeholder) passed through `env`.
fn collectstatic(model: &Model, service: &Service) -> Option<Collectstatic> {
    if service.runtime != Runtime::Django {
        return None;
    }
    let environment = model
        .environments
        .iter()
        .find(|e| service.in_container(&e.name))?;
    let mut words = vec!["env".to_string()];
    if let Some(vars) = service.env.get(&environment.name) {
        for (name, variable) in vars {
            let value = variable.value.render(|_| BUILD_PLACEHOLDER.to_string());
            words.push(format!("{name}={value}"));
        }
    }
    words.extend(["python", "manage.py", "collectstatic", "--noinput"].map(String::from));
    Some(Collectstatic {
        environment: environment.name.clone(),
        instruction: exec_form(&words),
    })
}

fn preset_name(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Django => "Django",
        Runtime::Fastapi => "FastAPI",
        Runtime::Streamlit => "Streamlit",
        Runtime::PythonWorker => "Python worker",
        Runtime::Node => "Node.js",
        Runtime::Static => "static files",
        Runtime::Custom => "custom",
    }
}

fn python_dockerfile(model: &Model, service: &Service) -> String {
    let base = images::python(&service.version);
    let version = base
        .trim_start_matches("python:")
        .trim_end_matches("-slim-bookworm")
        .to_string();
    let context = minijinja::context! {
        service => &service.name,
        preset => preset_name(service.runtime),
        version,
        context => &service.path,
        supercronic_stage => supercronic_stage(model, service, &base),
        base,
        collectstatic => minijinja::Value::from(minijinja::value::Serde(collectstatic(model, service))),
        port => service.port,
        healthcheck => health_command(service).map(|c| exec_form(&c)),
        command => (!service.command.is_empty()).then(|| exec_form(&service.command)),
    };
    render_template("python.Dockerfile", PYTHON_TEMPLATE, context)
}

fn node_dockerfile(model: &Model, service: &Service) -> String {
    let base = images::node(&service.version);
    let version = base
        .trim_start_matches("node:")
        .trim_end_matches("-bookworm-slim")
        .to_string();
    let context = minijinja::context! {
        service => &service.name,
        version,
        context => &service.path,
        supercronic_stage => supercronic_stage(model, service, &base),
        base,
        port => service.port,
        healthcheck => health_command(service).map(|c| exec_form(&c)),
        command => (!service.command.is_empty()).then(|| exec_form(&service.command)),
    };
    render_template("node.Dockerfile", NODE_TEMPLATE, context)
}

fn static_dockerfile(service: &Service) -> String {
    let context = minijinja::context! {
        service => &service.name,
        context => &service.path,
        base => images::NGINX_UNPRIVILEGED,
        server_config => STATIC_SERVER_CONFIG,
        port => service.port,
        health_path => &service.health_path,
        healthcheck => health_command(service).map(|c| exec_form(&c)),
    };
    render_template("static.Dockerfile", STATIC_TEMPLATE, context)
}

/// Quotes a location path for nginx when it holds anything but safe URL characters.
fn nginx_path(path: &str) -> String {
    if path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/-._~".contains(c))
    {
        path.to_string()
    } else {
        format!("\"{}\"", path.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

fn static_server_config(service: &Service) -> String {
    // The model always gives `static` services both; the fallbacks only keep a malformed model
    // from producing a broken config.
    let port = service.port.unwrap_or(8080);
    let health_path = service.health_path.as_deref().unwrap_or("/healthz");
    let context = minijinja::context! {
        service => &service.name,
        port,
        health_path => nginx_path(health_path),
    };
    render_template("static-server.conf", STATIC_SERVER_TEMPLATE, context)
}

fn dockerignore(service: &Service) -> String {
    let context = minijinja::context! {
        service => &service.name,
        python => service.is_python(),
        node => service.runtime == Runtime::Node,
        static => service.runtime == Runtime::Static,
        root => service.path == ".",
    };
    render_template("dockerignore", DOCKERIGNORE_TEMPLATE, context)
}
