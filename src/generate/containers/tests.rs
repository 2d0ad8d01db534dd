//! Tests of the containers generator: structural assertions on the rendered files of every
//! example blueprint, and of small blueprints written here for the cases the examples miss.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::{compose, dockerfile, generate, images, jobs};
use crate::blueprint::Blueprint;
use crate::generate::{GeneratedFile, examples};
use crate::model::{Model, Part, SecretHome};

fn model_from(yaml: &str) -> Model {
    let bp = serde_saphyr::from_str::<Blueprint>(yaml).expect("the blueprint parses");
    Model::from_blueprint(&bp)
}

fn example(name: &str) -> Model {
    model_from(&examples::source(name))
}

fn reference() -> Model {
    example("data-platform")
}

/// Every example blueprint, by name.
fn examples() -> Vec<(String, Model)> {
    examples::all()
        .into_iter()
        .map(|(name, text)| (name, model_from(&text)))
        .collect()
}

fn files(model: &Model) -> BTreeMap<String, GeneratedFile> {
    generate(model)
        .into_iter()
        .map(|f| (f.path.clone(), f))
        .collect()
}

fn file(model: &Model, path: &str) -> String {
    files(model)
        .remove(path)
        .unwrap_or_else(|| panic!("{path} is generated"))
        .contents
}

fn yaml(text: &str) -> Json {
    serde_saphyr::from_str::<Json>(text).expect("generated YAML parses")
}

fn compose_of(model: &Model, env: &str) -> Json {
    yaml(&file(model, &format!("compose.{env}.yaml")))
}

fn services(compose: &Json) -> &serde_json::Map<String, Json> {
    compose["services"]
        .as_object()
        .expect("services is a mapping")
}

fn strings(value: &Json) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Every `${NAME...}` a text interpolates (`$${` is an escaped dollar, not an interpolation).
fn interpolated(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'$' && bytes[i + 1] == b'$' {
            i += 2;
            continue;
        }
        if bytes[i] == b'$' && bytes[i + 1] == b'{' {
            let rest = &text[i + 2..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            names.insert(rest[..end].to_string());
        }
        i += 1;
    }
    names
}

/// The `NAME=value` lines of an env file.
fn assignments(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn required(name: &str, env: &str) -> String {
    format!("${{{name}:?set {name} in .env.{env}}}")
}

#[test]
fn only_the_proxy_publishes_ports_outside_development() {
    let model = reference();
    for env in ["staging", "prod"] {
        let compose = compose_of(&model, env);
        let publishing: Vec<&String> = services(&compose)
            .iter()
            .filter(|(_, s)| s.get("ports").is_some())
            .map(|(name, _)| name)
            .collect();
        assert_eq!(publishing, ["proxy"], "{env}");
        for (name, service) in services(&compose) {
            let networks = strings(&service["networks"]);
            assert_eq!(
                networks.contains(&"public".to_string()),
                name == "proxy",
                "{env}: {name} on public"
            );
        }
        let proxy_ports: Vec<(u64, &str)> = compose["services"]["proxy"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["target"].as_u64().unwrap(),
                    p["published"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            proxy_ports,
            [(8080, "80"), (8443, "443")],
            "{env}: unprivileged nginx ports"
        );
        assert_eq!(
            compose["networks"]["internal"]["internal"],
            Json::Bool(true)
        );
    }
}

#[test]
fn development_publishes_app_ports_on_loopback_only() {
    let model = reference();
    let compose = compose_of(&model, "dev");
    for (name, port) in [("api", 8000), ("dashboard", 8501)] {
        let ports = &compose["services"][name]["ports"][0];
        assert_eq!(ports["target"], port, "{name}");
        assert_eq!(ports["published"], port.to_string(), "{name}");
        assert_eq!(ports["host_ip"], "127.0.0.1", "{name}");
        // A container only on an internal network cannot publish anything.
        assert!(strings(&compose["services"][name]["networks"]).contains(&"egress".to_string()));
    }
    // Alertmanager is the one internal tool the reference does not route through the proxy.
    for (name, service) in services(&compose) {
        if !["api", "dashboard", "proxy", "alertmanager"].contains(&name.as_str()) {
            assert!(
                service.get("ports").is_none(),
                "dev: {name} publishes nothing"
            );
        }
    }
    assert_eq!(
        compose["services"]["alertmanager"]["ports"][0]["published"],
        "9093"
    );
    assert!(
        compose["services"]["api"].get("restart").is_none(),
        "no restarts in development"
    );
}

#[test]
fn unrouted_tools_are_published_on_loopback_in_development_only() {
    let model = example("minimal");
    assert!(
        !model.has_proxy(),
        "minimal has no proxy to route the tools"
    );
    let compose = compose_of(&model, "dev");
    for (tool, port) in [
        ("prometheus", 9090),
        ("alertmanager", 9093),
        ("grafana", 3000),
    ] {
        let service = &compose["services"][tool];
        assert_eq!(service["ports"][0]["published"], port.to_string(), "{tool}");
        assert_eq!(service["ports"][0]["host_ip"], "127.0.0.1", "{tool}");
        assert!(
            strings(&service["networks"]).contains(&"egress".to_string()),
            "{tool} can publish"
        );
    }
    let prod = compose_of(&example("task-queue"), "prod");
    for tool in ["prometheus", "alertmanager", "grafana"] {
        assert!(
            prod["services"][tool].get("ports").is_none(),
            "prod: {tool}"
        );
    }
}

#[test]
fn several_replicas_in_development_get_ephemeral_host_ports() {
    let yaml = include_str!("../../../blueprints/minimal/blueprint.yaml").replace(
        "services:",
        "environments:\n  dev:\n    replicas: 2\n\nservices:",
    );
    let model = model_from(&yaml);
    assert_eq!(model.environments[0].replicas, 2, "the edit took");
    let compose = compose_of(&model, "dev");
    let port = &compose["services"]["api"]["ports"][0];
    assert_eq!(port["target"], 8000);
    assert!(
        port.get("published").is_none(),
        "two replicas cannot share one host port"
    );
    assert_eq!(compose["services"]["api"]["deploy"]["replicas"], 2);
}

#[test]
fn every_long_running_container_has_a_healthcheck_and_rotated_logs() {
    for (name, model) in examples() {
        for env in &model.environments {
            let path = format!("compose.{}.yaml", env.name);
            let Some(text) = files(&model).remove(&path).map(|f| f.contents) else {
                continue;
            };
            let compose = yaml(&text);
            for (service, def) in services(&compose) {
                let logging = &def["logging"];
                assert_eq!(logging["driver"], "json-file", "{name}/{path}: {service}");
                assert_eq!(
                    logging["options"]["max-size"],
                    model.monitoring.log_max_size.as_str()
                );
                assert_eq!(
                    logging["options"]["max-file"],
                    model.monitoring.log_max_files.to_string()
                );
                assert!(
                    strings(&def["security_opt"]).contains(&"no-new-privileges:true".to_string()),
                    "{name}/{path}: {service} cannot escalate"
                );
                let one_shot = def["restart"] == "no";
                let healthless_app = model
                    .service(service.trim_end_matches("-scheduler"))
                    .is_some_and(|s| {
                        !service.ends_with("-scheduler") && dockerfile::health_command(s).is_none()
                    });
                // The nginx and Redis exporters' images have no shell or HTTP client to check
                // themselves with: Prometheus' scrape of them is their check (ServiceDown).
                let no_client = [images::NGINX_EXPORTER, images::REDIS_EXPORTER]
                    .iter()
                    .any(|image| def["image"] == *image);
                if one_shot || healthless_app || no_client {
                    continue;
                }
                let test = strings(&def["healthcheck"]["test"]);
                assert!(
                    test.first().is_some_and(|t| t.starts_with("CMD")),
                    "{name}/{path}: {service} has a healthcheck"
                );
            }
        }
    }
}

#[test]
fn app_containers_are_confined() {
    let compose = compose_of(&reference(), "prod");
    for name in [
        "api",
        "dashboard",
        "api-scheduler",
        "proxy",
        "prometheus",
        "grafana",
    ] {
        let service = &compose["services"][name];
        assert_eq!(service["read_only"], true, "{name}");
        assert_eq!(strings(&service["tmpfs"]), ["/tmp"], "{name}");
        assert_eq!(strings(&service["cap_drop"]), ["ALL"], "{name}");
        assert!(
            service.get("cap_add").is_none(),
            "{name} needs no capability"
        );
        assert!(
            service.get("container_name").is_none(),
            "{name}: replicas forbid container_name"
        );
        assert_eq!(service["restart"], "unless-stopped", "{name}");
    }
    let api = &compose["services"]["api"];
    assert_eq!(api["deploy"]["replicas"], 2);
    assert_eq!(api["deploy"]["resources"]["limits"]["cpus"], "1");
    assert_eq!(api["deploy"]["resources"]["limits"]["memory"], "512m");
    assert_eq!(api["init"], true, "signals reach the app through an init");
}

#[test]
fn secrets_reach_compose_only_as_required_interpolations() {
    for (name, model) in examples() {
        for env in &model.environments {
            let Some(text) = files(&model)
                .remove(&format!("compose.{}.yaml", env.name))
                .map(|f| f.contents)
            else {
                continue;
            };
            let compose = yaml(&text);
            for service in model.services.iter().filter(|s| s.on_compose(&env.name)) {
                for (var, variable) in &service.env[&env.name] {
                    let expected: String = variable
                        .value
                        .parts
                        .iter()
                        .map(|p| match p {
                            Part::Text(t) => t.replace('$', "$$"),
                            Part::Secret(s) => required(s, &env.name),
                        })
                        .collect();
                    assert_eq!(
                        compose["services"][&service.name]["environment"][var],
                        expected.as_str(),
                        "{name}/{}: {}.{var}",
                        env.name,
                        service.name
                    );
                }
            }
            // Any secret name that occurs in the file occurs as an interpolation or a secret source.
            for secret in model
                .secrets()
                .values()
                .filter(|s| s.home == SecretHome::EnvFile)
            {
                if !secret.environments.contains(&env.name) {
                    continue;
                }
                let as_interpolation = text.contains(&required(&secret.name, &env.name));
                let as_file = compose["secrets"][compose::secret_file_name(&secret.name)]["environment"]
                    == secret.name.as_str();
                assert!(
                    as_interpolation || as_file,
                    "{name}/{}: {} is referenced",
                    env.name,
                    secret.name
                );
            }
        }
    }
}

#[test]
fn supabase_environments_run_no_database_container() {
    let model = reference();
    let compose = compose_of(&model, "prod");
    assert!(
        compose["services"].get("db").is_none(),
        "Supabase provides the database"
    );
    assert!(compose["volumes"].get("db-data").is_none());
    assert!(
        compose["services"].get("lake").is_none(),
        "managed object storage"
    );
    assert!(compose["services"].get("lake-init").is_none());
    let url = required("DATABASE_URL", "prod");
    assert_eq!(
        compose["services"]["api"]["environment"]["DATABASE_URL"],
        url.as_str()
    );
    assert_eq!(
        compose["services"]["api"]["depends_on"]
            .as_object()
            .map(|d| d.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["api-migrate".to_string()]),
        "nothing local to wait for but its migration"
    );
    let exporter = &compose["services"]["db-exporter"];
    assert_eq!(exporter["environment"]["DATA_SOURCE_NAME"], url.as_str());
    assert!(
        strings(&exporter["networks"]).contains(&"egress".to_string()),
        "Supabase is outside"
    );
}

#[test]
fn development_runs_postgres_with_the_url_the_model_composes() {
    let model = reference();
    let compose = compose_of(&model, "dev");
    let db = &compose["services"]["db"];
    assert_eq!(db["image"], "postgres:16.9-bookworm");
    assert_eq!(db["user"], "postgres");
    assert_eq!(db["environment"]["POSTGRES_USER"], "app");
    assert_eq!(db["environment"]["POSTGRES_DB"], "app");
    let password = required("DB_PASSWORD", "dev");
    assert_eq!(db["environment"]["POSTGRES_PASSWORD"], password.as_str());
    assert_eq!(strings(&db["healthcheck"]["test"])[1], "pg_isready");
    assert_eq!(db["volumes"][0]["source"], "db-data");
    assert_eq!(db["volumes"][0]["target"], "/var/lib/postgresql/data");
    assert!(compose["volumes"].get("db-data").is_some());
    let url = format!("postgres://app:{password}@db:5432/app");
    assert_eq!(
        compose["services"]["api"]["environment"]["DATABASE_URL"],
        url.as_str()
    );
    assert_eq!(
        compose["services"]["api"]["depends_on"]["db"]["condition"],
        "service_healthy"
    );
    assert_eq!(
        compose["services"]["db-exporter"]["environment"]["DATA_SOURCE_NAME"],
        format!("{url}?sslmode=disable").as_str()
    );
    assert_eq!(
        compose["services"]["db-exporter"]["depends_on"]["db"]["condition"],
        "service_healthy"
    );
}

#[test]
fn the_bucket_exists_before_the_apps_start() {
    let compose = compose_of(&reference(), "dev");
    let lake = &compose["services"]["lake"];
    assert_eq!(lake["image"], images::MINIO);
    assert_eq!(
        lake["environment"]["MINIO_ROOT_USER"],
        required("LAKE_ACCESS_KEY_ID", "dev").as_str()
    );
    assert_eq!(
        lake["environment"]["MINIO_ROOT_PASSWORD"],
        required("LAKE_SECRET_ACCESS_KEY", "dev").as_str()
    );
    let init = &compose["services"]["lake-init"];
    assert_eq!(init["restart"], "no");
    assert_eq!(init["depends_on"]["lake"]["condition"], "service_healthy");
    let script = strings(&init["entrypoint"]).pop().unwrap();
    assert!(
        script.contains("mc mb --ignore-existing store/acme-data-lake"),
        "{script}"
    );
    assert!(script.contains("http://lake:9000"), "{script}");
    assert!(
        script.contains("\"$$MINIO_ROOT_USER\""),
        "the shell, not Compose, expands it: {script}"
    );
    for app in ["api", "api-scheduler"] {
        let deps = &compose["services"][app]["depends_on"];
        assert_eq!(
            deps["lake-init"]["condition"], "service_completed_successfully",
            "{app}"
        );
        assert_eq!(deps["lake"]["condition"], "service_healthy", "{app}");
    }
}

#[test]
fn django_migrates_its_schema_before_the_app_and_its_jobs_start() {
    for env in ["dev", "staging", "prod"] {
        let compose = compose_of(&reference(), env);
        let migrate = &compose["services"]["api-migrate"];
        assert_eq!(
            strings(&migrate["command"]),
            ["python", "manage.py", "migrate", "--noinput"],
            "{env}"
        );
        // The api's image, environment and dependencies (the database, where it is a container).
        let api = &compose["services"]["api"];
        assert_eq!(migrate["image"], api["image"], "{env}");
        assert_eq!(migrate["build"], api["build"], "{env}");
        assert_eq!(migrate["environment"], api["environment"], "{env}");
        let mut api_deps = api["depends_on"].as_object().unwrap().clone();
        api_deps.remove("api-migrate");
        let migrate_deps = migrate["depends_on"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(migrate_deps, api_deps, "{env}");
        // A one-shot: never restarted, and without the image's HEALTHCHECK for a server it does
        // not start.
        assert_eq!(migrate["restart"], "no", "{env}");
        assert_eq!(migrate["healthcheck"]["disable"], true, "{env}");
        assert_eq!(migrate["deploy"]["replicas"], 1, "{env}");
        for app in ["api", "api-scheduler"] {
            assert_eq!(
                compose["services"][app]["depends_on"]["api-migrate"]["condition"],
                "service_completed_successfully",
                "{env}: {app}"
            );
        }
    }
}

#[test]
fn migrate_can_be_replaced_or_turned_off() {
    let base = examples::source("data-platform");
    let with = |migrate: &str| {
        let text = base.replacen(
            "    runtime: django\n",
            &format!("    runtime: django\n    migrate: {migrate}\n"),
            1,
        );
        assert_ne!(text, base);
        compose_of(&model_from(&text), "dev")
    };
    let off = with("[]");
    assert!(off["services"].get("api-migrate").is_none());
    assert!(
        off["services"]["api"]["depends_on"]
            .get("api-migrate")
            .is_none()
    );
    let own = with("[python, manage.py, migrate, --noinput, --skip-checks]");
    assert_eq!(
        strings(&own["services"]["api-migrate"]["command"])
            .last()
            .unwrap(),
        "--skip-checks"
    );
    // Other runtimes have no default.
    for (name, model) in examples() {
        let Some(compose) = files(&model).remove("compose.dev.yaml") else {
            continue;
        };
        let compose = yaml(&compose.contents);
        for (service, _) in services(&compose) {
            if let Some(app) = service.strip_suffix("-migrate") {
                assert_eq!(
                    model.service(app).map(|s| s.runtime),
                    Some(crate::blueprint::Runtime::Django),
                    "{name}: {service}"
                );
            }
        }
    }
}

#[test]
fn dockerfiles_run_as_10001_expose_their_port_and_check_their_health() {
    let mut checked = 0;
    for (name, model) in examples() {
        let rendered = files(&model);
        for service in model
            .services
            .iter()
            .filter(|s| dockerfile::builds_image(s))
        {
            let text = &rendered[&service.dockerfile].contents;
            assert!(
                text.starts_with("# syntax=docker/dockerfile:1\n"),
                "{name}: {}",
                service.dockerfile
            );
            assert!(
                text.lines().any(|l| l == "USER 10001:10001"),
                "{name}: {}",
                service.dockerfile
            );
            let expose: Vec<&str> = text.lines().filter(|l| l.starts_with("EXPOSE ")).collect();
            match service.port {
                Some(port) => assert_eq!(
                    expose,
                    [format!("EXPOSE {port}")],
                    "{name}: {}",
                    service.name
                ),
                None => assert!(expose.is_empty(), "{name}: {}", service.name),
            }
            if let (Some(port), Some(health)) = (service.port, &service.health_path) {
                let check = text
                    .lines()
                    .find(|l| l.trim_start().starts_with("CMD ["))
                    .unwrap_or_default();
                let url = format!("http://127.0.0.1:{port}{health}");
                assert!(text.contains("HEALTHCHECK "), "{name}: {}", service.name);
                assert!(
                    check.contains(&url),
                    "{name}: {} checks {url}: {check}",
                    service.name
                );
            }
            if !service.command.is_empty() {
                let cmd: Vec<String> = serde_json::from_str(
                    text.lines()
                        .rfind(|l| l.starts_with("CMD "))
                        .unwrap()
                        .trim_start_matches("CMD "),
                )
                .expect("CMD is a JSON array");
                assert_eq!(cmd, service.command, "{name}: {}", service.name);
            }
            for from in text.lines().filter(|l| l.starts_with("FROM ")) {
                let image = from.split_whitespace().nth(1).unwrap();
                let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or_default();
                assert!(
                    tag.chars().next().is_some_and(|c| c.is_ascii_digit()),
                    "{name}: {from} is pinned"
                );
            }
            let ignore =
                &rendered[&service.dockerfile.replace("Dockerfile", ".dockerignore")].contents;
            for entry in [".git", ".env", ".env.*"] {
                assert!(
                    ignore.lines().any(|l| l == entry),
                    "{name}: {} ignores {entry}",
                    service.name
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "the examples build several images ({checked})"
    );
}

#[test]
fn python_images_use_a_virtualenv_and_pinned_bases() {
    let model = example("task-queue");
    let api = file(&model, "api/Dockerfile");
    assert!(
        api.contains("FROM python:3.13.7-slim-bookworm AS builder"),
        "3.13 is pinned to its patch"
    );
    assert!(api.contains("--mount=type=cache,target=/root/.cache/pip"));
    assert!(api.contains("pip install --requirement /build/requirements.txt"));
    assert!(api.contains("COPY --from=builder /opt/venv /opt/venv"));
    assert!(api.contains("PYTHONDONTWRITEBYTECODE=1") && api.contains("PYTHONUNBUFFERED=1"));
    assert!(
        api.contains("XDG_RUNTIME_DIR=/tmp"),
        "gunicorn makes its control socket there, not in the home directory app has not"
    );
    assert!(
        !api.contains("collectstatic"),
        "only Django collects static files"
    );
    let web = file(&model, "web/Dockerfile");
    assert!(web.contains("FROM node:22.18.0-bookworm-slim AS build"));
    assert!(web.contains("npm ci"));
    assert!(
        web.contains("node\", \"-e\""),
        "the healthcheck uses node's fetch"
    );
    let ignore = file(&model, "web/.dockerignore");
    assert!(ignore.lines().any(|l| l == "node_modules"));
}

#[test]
fn images_that_run_jobs_get_a_verified_supercronic() {
    let model = reference();
    let api = file(&model, "services/api/Dockerfile");
    assert!(api.contains(&format!(
        "supercronic/releases/download/{}/supercronic-linux-${{TARGETARCH}}",
        images::SUPERCRONIC_VERSION
    )));
    for (arch, sha1) in images::SUPERCRONIC_SHA1 {
        assert!(api.contains(&format!("{arch}) sha1={sha1} ;;")), "{arch}");
    }
    assert!(api.contains("sha1sum -c /supercronic/sha1"));
    assert!(
        api.contains(
            "COPY --from=supercronic /usr/local/bin/supercronic /usr/local/bin/supercronic"
        )
    );
    let dashboard = file(&model, "services/dashboard/Dockerfile");
    assert!(
        !dashboard.contains("supercronic"),
        "no jobs, no scheduler binary"
    );
}

#[test]
fn django_collects_static_files_with_placeholders_for_secrets() {
    let api = file(&reference(), "services/api/Dockerfile");
    let run = api
        .lines()
        .find(|l| l.starts_with("RUN ") && l.contains("collectstatic"))
        .and_then(|l| l.strip_prefix("RUN "))
        .expect("collectstatic runs at build time");
    let words: Vec<String> = serde_json::from_str(run).expect("exec form");
    assert_eq!(words[0], "env");
    assert_eq!(
        words[words.len() - 4..],
        ["python", "manage.py", "collectstatic", "--noinput"]
    );
    assert!(words.contains(&"DJANGO_SECRET_KEY=build-time-placeholder".to_string()));
    assert!(words.contains(&"DJANGO_SETTINGS_MODULE=config.settings".to_string()));
    assert!(
        words.contains(
            &"DATABASE_URL=postgres://app:build-time-placeholder@db:5432/app".to_string()
        )
    );
    assert!(!run.contains("${"), "no interpolation in a Dockerfile");
}

#[test]
fn schedulers_run_the_service_image_with_its_crontab() {
    let model = reference();
    let compose = compose_of(&model, "prod");
    let api = &compose["services"]["api"];
    let scheduler = &compose["services"]["api-scheduler"];
    assert_eq!(scheduler["image"], api["image"]);
    assert_eq!(scheduler["build"], api["build"]);
    assert_eq!(
        strings(&scheduler["command"]),
        ["supercronic", "-passthrough-logs", jobs::CRONTAB_MOUNT]
    );
    assert_eq!(
        scheduler["deploy"]["replicas"], 1,
        "one scheduler, whatever the app's replicas"
    );
    let mounts: Vec<(&str, &str, bool)> = scheduler["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["source"].as_str().unwrap(),
                m["target"].as_str().unwrap(),
                m["read_only"] == true,
            )
        })
        .collect();
    assert_eq!(
        mounts,
        [
            ("./jobs/api.crontab", "/etc/blueprint/crontab", true),
            ("./jobs/run-job.sh", "/etc/blueprint/run-job.sh", true)
        ]
    );
    for (var, value) in api["environment"].as_object().unwrap() {
        assert_eq!(
            &scheduler["environment"][var], value,
            "jobs see the app's {var}"
        );
    }
    assert_eq!(
        scheduler["environment"]["BLUEPRINT_PUSHGATEWAY_URL"],
        "http://pushgateway:9091"
    );
    assert_eq!(
        scheduler["depends_on"]["pushgateway"]["condition"],
        "service_healthy"
    );
    assert!(scheduler.get("ports").is_none());
    assert!(compose["services"].get("pushgateway").is_some());
    assert!(compose["services"].get("dashboard-scheduler").is_none());
}

#[test]
fn crontab_lines_run_each_job_through_the_wrapper() {
    let model = reference();
    let crontab = file(&model, "jobs/api.crontab");
    assert!(crontab.lines().any(|l| l
        == "*/30 * * * * /bin/sh /etc/blueprint/run-job.sh ingest-prices 900 -- python manage.py ingest_prices"));
    assert!(crontab.lines().any(|l| l
        == "15 2 * * * /bin/sh /etc/blueprint/run-job.sh reconcile 3600 -- python manage.py reconcile"));
    let commands = crontab
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(commands, model.jobs_of("api").count());
    let wrapper = files(&model)
        .remove(jobs::RUN_JOB_PATH)
        .expect("the wrapper is generated");
    assert!(wrapper.executable);
    assert!(wrapper.contents.starts_with("#!/bin/sh\n"));
}

#[test]
fn shell_quoting_keeps_each_word_whole() {
    assert_eq!(jobs::shell_quote("manage.py"), "manage.py");
    assert_eq!(jobs::shell_quote("it's late"), r"'it'\''s late'");
    assert_eq!(jobs::shell_quote(""), "''");
    assert_eq!(jobs::shell_quote("$HOME;rm"), "'$HOME;rm'");
}

/// Runs the generated wrapper against a one-shot HTTP listener standing in for the Pushgateway.
/// Runs run-job.sh's failing `nightly-report` with `env` against a one-request HTTP server:
/// its exit code and the request it pushed.
fn push_once(script: &std::path::Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buffer) {
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_string())
                    })
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    break;
                }
            }
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        String::from_utf8_lossy(&request).into_owned()
    });
    let status = std::process::Command::new("sh")
        .arg(script)
        .args(["nightly-report", "20", "--", "sh", "-c", "exit 3"])
        .env("BLUEPRINT_PUSHGATEWAY_URL", format!("http://{address}/"))
        .envs(env.iter().copied())
        .status()
        .unwrap();
    (status.code(), server.join().unwrap())
}

#[test]
fn the_wrapper_reports_the_outcome_and_keeps_the_exit_code() {
    let has = |tool: &str| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has("timeout") || !(has("python3") || has("node")) {
        eprintln!("skipped: needs sh, timeout and python3 or node");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("run-job.sh");
    std::fs::write(&script, file(&reference(), jobs::RUN_JOB_PATH)).unwrap();
    let (status, request) = push_once(&script, &[]);
    assert_eq!(status, Some(3), "the job's own exit code");
    assert!(
        request.starts_with("POST /metrics/job/nightly-report "),
        "{request}"
    );
    // In a cluster the namespace joins the grouping key (two environments, one Pushgateway).
    let (_, namespaced) = push_once(&script, &[("BLUEPRINT_NAMESPACE", "staging")]);
    assert!(
        namespaced.starts_with("POST /metrics/job/nightly-report/namespace/staging "),
        "{namespaced}"
    );
    assert!(
        request.contains("\nblueprint_job_last_exit_code 3\n"),
        "{request}"
    );
    assert!(
        request.contains("\nblueprint_job_last_failure_timestamp_seconds "),
        "{request}"
    );
    assert!(
        request.contains("\nblueprint_job_duration_seconds "),
        "{request}"
    );
    assert!(
        !request.contains("last_success"),
        "a failure leaves the last success alone: {request}"
    );

    let usage = std::process::Command::new("sh")
        .arg(&script)
        .arg("only-a-name")
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(64));
}

#[test]
fn env_examples_list_exactly_what_compose_reads_with_no_values() {
    for (name, model) in examples() {
        let rendered = files(&model);
        for env in &model.environments {
            let Some(compose) = rendered.get(&format!("compose.{}.yaml", env.name)) else {
                assert!(!rendered.contains_key(&format!(".env.{}.example", env.name)));
                continue;
            };
            let example = &rendered[&format!(".env.{}.example", env.name)].contents;
            let mut read = interpolated(&compose.contents);
            let parsed = yaml(&compose.contents);
            if let Some(secrets) = parsed["secrets"].as_object() {
                read.extend(
                    secrets
                        .values()
                        .filter_map(|s| s["environment"].as_str().map(String::from)),
                );
            }
            let listed = assignments(example);
            assert_eq!(
                listed.keys().cloned().collect::<BTreeSet<_>>(),
                read,
                "{name}: .env.{}.example",
                env.name
            );
            assert!(
                listed.values().all(String::is_empty),
                "{name}: no values in an example"
            );
            // And every secret the model says this environment needs.
            for secret in model.secrets().values() {
                if secret.home == SecretHome::EnvFile && secret.environments.contains(&env.name) {
                    assert!(
                        listed.contains_key(&secret.name),
                        "{name}/{}: {}",
                        env.name,
                        secret.name
                    );
                }
            }
            assert!(
                example.contains("#   .env.*\n#   !.env.*.example\n"),
                "the .gitignore advice"
            );
        }
    }
}

#[test]
fn env_example_says_who_reads_each_variable() {
    let example = file(&reference(), ".env.dev.example");
    let lines: Vec<&str> = example.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "DB_PASSWORD=")
        .expect("listed");
    let comment = lines[..at]
        .iter()
        .rev()
        .find(|l| l.starts_with("# Secret"))
        .unwrap();
    assert!(comment.contains("required"), "{comment}");
    for reader in [
        "api (DATABASE_URL)",
        "db (POSTGRES_PASSWORD)",
        "db-exporter (DATA_SOURCE_NAME)",
    ] {
        assert!(comment.contains(reader), "{comment} names {reader}");
    }
    let tag = lines
        .iter()
        .position(|l| *l == "TAG=")
        .expect("TAG is listed");
    assert!(
        lines[tag - 2].contains("optional (default: latest)"),
        "{}",
        lines[tag - 2]
    );
}

#[test]
fn internal_tools_serve_under_the_prefix_the_proxy_routes() {
    let compose = compose_of(&reference(), "prod");
    let prometheus = &compose["services"]["prometheus"];
    let command = strings(&prometheus["command"]);
    assert!(
        command.contains(&"--web.external-url=https://data.acme.example/prometheus/".to_string())
    );
    assert!(command.contains(&"--storage.tsdb.retention.time=30d".to_string()));
    assert!(
        strings(&prometheus["healthcheck"]["test"])
            .contains(&"http://127.0.0.1:9090/prometheus/-/healthy".to_string())
    );
    let grafana = &compose["services"]["grafana"];
    assert_eq!(
        grafana["environment"]["GF_SERVER_ROOT_URL"],
        "https://data.acme.example/grafana/"
    );
    assert_eq!(
        grafana["environment"]["GF_SERVER_SERVE_FROM_SUB_PATH"],
        "true"
    );
    assert_eq!(grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"], "false");
    assert_eq!(
        grafana["environment"]["GF_LOG_MODE"], "console",
        "no log file on a read-only root"
    );
    assert!(
        strings(&grafana["healthcheck"]["test"])
            .contains(&"http://127.0.0.1:3000/grafana/api/health".to_string())
    );
    // Alertmanager is not exposed in the reference: it serves at its root.
    let alertmanager = &compose["services"]["alertmanager"];
    assert!(
        !strings(&alertmanager["command"])
            .iter()
            .any(|c| c.starts_with("--web.external-url"))
    );
    assert!(
        strings(&alertmanager["healthcheck"]["test"])
            .contains(&"http://127.0.0.1:9093/-/healthy".to_string())
    );
    let dev = compose_of(&reference(), "dev");
    assert_eq!(
        dev["services"]["grafana"]["environment"]["GF_SERVER_ROOT_URL"],
        "http://localhost/grafana/"
    );
}

#[test]
fn monitoring_containers_read_secrets_from_files() {
    let compose = compose_of(&reference(), "prod");
    assert_eq!(
        strings(&compose["services"]["alertmanager"]["secrets"]),
        ["slack_oncall_webhook_url", "smtp_password", "heartbeat_url"]
    );
    assert_eq!(
        compose["secrets"]["slack_oncall_webhook_url"]["environment"],
        "SLACK_ONCALL_WEBHOOK_URL"
    );
    assert_eq!(
        compose["secrets"]["smtp_password"]["environment"],
        "SMTP_PASSWORD"
    );
    let grafana = &compose["services"]["grafana"];
    assert_eq!(strings(&grafana["secrets"]), ["grafana_admin_password"]);
    assert_eq!(
        grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"],
        "/run/secrets/grafana_admin_password"
    );
    let mounts: Vec<(&str, &str)> = grafana["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["source"].as_str().unwrap(), m["target"].as_str().unwrap()))
        .collect();
    assert!(mounts.contains(&(
        "./monitoring/grafana/provisioning",
        "/etc/grafana/provisioning"
    )));
    assert!(mounts.contains(&(
        "./monitoring/grafana/dashboards",
        "/var/lib/grafana/dashboards"
    )));
    let prometheus_mounts: Vec<&str> = compose["services"]["prometheus"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        prometheus_mounts,
        [
            "/etc/prometheus/prometheus.yml",
            "/etc/prometheus/rules",
            "/prometheus"
        ]
    );
    assert_eq!(
        compose["services"]["prometheus"]["volumes"][0]["source"],
        "./monitoring/prometheus/prometheus.prod.yml"
    );
}

#[test]
fn tls_with_nginx_brings_certbot_and_its_volumes() {
    let model = reference();
    let compose = compose_of(&model, "prod");
    let certbot = &compose["services"]["certbot"];
    assert!(certbot.get("ports").is_none(), "only the proxy publishes");
    assert!(
        strings(&certbot["healthcheck"]["test"])
            .contains(&"/etc/letsencrypt/live/data.acme.example/fullchain.pem".to_string())
    );
    let proxy_volumes: Vec<(&str, bool)> = compose["services"]["proxy"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["target"].as_str().unwrap(), m["read_only"] == true))
        .collect();
    for target in [
        "/etc/nginx/nginx.conf",
        "/etc/nginx/htpasswd",
        "/etc/letsencrypt",
        "/var/www/certbot",
    ] {
        assert!(
            proxy_volumes.contains(&(target, true)),
            "proxy mounts {target} read-only"
        );
    }
    assert_eq!(strings(&certbot["cap_add"]), ["CHOWN", "NET_BIND_SERVICE"]);
    let renew = strings(&certbot["entrypoint"]).pop().unwrap();
    assert!(
        renew.contains("--deploy-hook 'chgrp -R 101 "),
        "nginx (gid 101) can read the key: {renew}"
    );
    let header = file(&model, "compose.prod.yaml");
    assert!(
        header.contains("--deploy-hook 'chgrp -R 101 "),
        "the first certificate too"
    );
    assert!(
        header.contains("certonly --standalone"),
        "the first certificate is explained"
    );
    let dev = compose_of(&model, "dev");
    assert!(
        dev["services"].get("certbot").is_none(),
        "no TLS in development"
    );
    assert!(dev["volumes"].get("letsencrypt").is_none());
}

#[test]
fn caddy_takes_basic_auth_credentials_from_the_env_file() {
    let model = example("task-queue");
    let compose = compose_of(&model, "prod");
    let proxy = &compose["services"]["proxy"];
    assert_eq!(proxy["image"], images::CADDY);
    assert_eq!(
        proxy["environment"]["PROXY_BASIC_AUTH_HASH"],
        required("PROXY_BASIC_AUTH_HASH", "prod").as_str()
    );
    let ports: Vec<(u64, &str)> = proxy["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["target"].as_u64().unwrap(),
                p["protocol"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(ports, [(80, "tcp"), (443, "tcp"), (443, "udp")]);
    assert_eq!(strings(&proxy["cap_add"]), ["NET_BIND_SERVICE"]);
    let example = file(&model, ".env.prod.example");
    assert!(
        example.contains("in single quotes: it contains `$`"),
        "the bcrypt hash is explained"
    );
    // Managed stores in production: the worker reaches them through egress, no store container.
    assert!(compose["services"].get("queue").is_none());
    assert_eq!(
        compose["services"]["worker"]["environment"]["REDIS_URL"],
        required("REDIS_URL", "prod").as_str()
    );
}

#[test]
fn redis_runs_as_its_own_user_with_a_ping_check() {
    let compose = compose_of(&example("task-queue"), "dev");
    let queue = &compose["services"]["queue"];
    assert_eq!(queue["image"], "redis:7.4.5-bookworm");
    assert_eq!(queue["user"], "redis");
    assert!(strings(&queue["healthcheck"]["test"])[1].contains("redis-cli -p 6379 ping"));
    assert_eq!(
        compose["services"]["worker"]["environment"]["REDIS_URL"],
        "redis://queue:6379/0"
    );
    assert_eq!(
        compose["services"]["worker"]["depends_on"]["queue"]["condition"],
        "service_healthy"
    );
    // A worker without a health endpoint is waited for as started, never as healthy.
    assert!(compose["services"]["worker"].get("healthcheck").is_none());
}

#[test]
fn a_vercel_only_project_gets_no_container_files() {
    let model = example("static-site");
    assert!(
        generate(&model).is_empty(),
        "{:?}",
        generate(&model).iter().map(|f| &f.path).collect::<Vec<_>>()
    );
}

#[test]
fn static_and_custom_services_and_literal_dollars() {
    let model = model_from(
        r#"
project: { name: odd, repository: acme/odd }
services:
  site:
    runtime: static
    path: site
    port: 8081
    health: /ping
  legacy:
    runtime: custom
    path: legacy
    port: 9000
    health: /up
    dockerfile: Dockerfile.prod
    command: [./server, --home, $HOME]
    migrate: [./migrate, --user, "${USER}"]
    env:
      PRICE: "$5 flat"
  root:
    runtime: fastapi
    path: .
"#,
    );
    let rendered = files(&model);
    let site = &rendered["site/Dockerfile"].contents;
    assert!(site.contains(&format!("FROM {} AS site", images::NGINX_UNPRIVILEGED)));
    assert!(site.contains("COPY nginx.static.conf /etc/nginx/conf.d/default.conf"));
    assert!(
        site.contains("&& rm -f /var/cache/nginx/site/nginx.static.conf"),
        "the config is not served"
    );
    assert!(site.contains("\"http://127.0.0.1:8081/ping\""));
    let server = &rendered["site/nginx.static.conf"].contents;
    assert!(server.contains("listen 8081;") && server.contains("location = /ping {"));
    assert!(
        rendered["site/.dockerignore"]
            .contents
            .lines()
            .any(|l| l == "Dockerfile")
    );

    assert!(
        !rendered.contains_key("legacy/Dockerfile.prod"),
        "a custom image is the user's own"
    );
    assert!(!rendered.contains_key("legacy/.dockerignore"));
    let compose = compose_of(&model, "dev");
    let legacy = &compose["services"]["legacy"];
    assert_eq!(legacy["build"]["context"], "./legacy");
    assert_eq!(legacy["build"]["dockerfile"], "Dockerfile.prod");
    assert_eq!(
        strings(&legacy["command"]),
        ["./server", "--home", "$$HOME"],
        "Compose would interpolate a bare $ in a command too"
    );
    assert_eq!(
        strings(&compose["services"]["legacy-migrate"]["command"]),
        ["./migrate", "--user", "$${USER}"]
    );
    assert!(
        legacy.get("healthcheck").is_none(),
        "what the image contains is unknown"
    );
    assert!(legacy.get("read_only").is_none() && legacy.get("cap_drop").is_none());
    assert_eq!(
        legacy["environment"]["PRICE"], "$$5 flat",
        "Compose would interpolate a bare $"
    );

    assert!(rendered.contains_key("Dockerfile") && rendered.contains_key(".dockerignore"));
    assert_eq!(compose["services"]["root"]["build"]["context"], ".");
    assert!(
        rendered[".dockerignore"]
            .contents
            .lines()
            .any(|l| l == "compose.*.yaml")
    );
}

#[test]
fn an_unknown_language_version_is_used_as_given() {
    let model = model_from(
        "project: { name: v, repository: acme/v }\nservices:\n  api: { runtime: fastapi, path: api, version: \"3.9\" }\n  web: { runtime: node, path: web, version: \"24\" }\n",
    );
    assert!(file(&model, "api/Dockerfile").contains("FROM python:3.9-slim-bookworm AS builder"));
    assert!(file(&model, "web/Dockerfile").contains("FROM node:24-bookworm-slim AS build"));
}

#[test]
fn output_is_deterministic_with_one_final_newline() {
    for (name, model) in examples() {
        let first = generate(&model);
        assert_eq!(first, generate(&model), "{name}");
        for f in &first {
            assert!(
                f.contents.ends_with('\n') && !f.contents.ends_with("\n\n"),
                "{name}: {}",
                f.path
            );
            assert!(!f.contents.contains('\r'), "{name}: {}", f.path);
            assert!(
                !f.contents.contains("/tmp/"),
                "{name}: {} has no host temp path",
                f.path
            );
        }
    }
}

#[test]
fn a_malformed_model_does_not_panic() {
    let mut model = reference();
    for service in &mut model.services {
        service.port = None;
        service.health_path = None;
        service.command.clear();
        service.version = "not-a-version".into();
        service.dockerfile = "elsewhere/Dockerfile".into();
    }
    for store in &mut model.stores {
        store.password_secret = None;
        store.access_key_secret = None;
        store.url_env = None;
        store.bucket = None;
    }
    model
        .proxy
        .expose
        .iter_mut()
        .for_each(|e| e.path = "/".into());
    let files = generate(&model);
    assert!(files.iter().any(|f| f.path == "compose.dev.yaml"));
    for f in files.iter().filter(|f| f.path.ends_with(".yaml")) {
        yaml(&f.contents);
    }
}

#[test]
fn a_backed_up_database_gets_a_backup_job_in_every_compose_environment() {
    let model = reference();
    let all = files(&model);
    for env in ["dev", "staging", "prod"] {
        let compose = compose_of(&model, env);
        let job = &services(&compose)["db-backup"];
        assert_eq!(job["build"]["context"], "./jobs/db-backup", "{env}");
        assert_eq!(job["pull_policy"], "build", "{env}");
        assert_eq!(
            strings(&job["command"]),
            ["supercronic", "-passthrough-logs", "/etc/blueprint/crontab"]
        );
        let mounts: BTreeSet<(String, String)> = job["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["source"].as_str().unwrap().to_string(),
                    m["target"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for (source, target) in [
            ("./jobs/db-backup.crontab", "/etc/blueprint/crontab"),
            ("./jobs/run-job.sh", "/etc/blueprint/run-job.sh"),
            ("./jobs/backup.sh", "/etc/blueprint/backup.sh"),
            ("./jobs/restore.sh", "/etc/blueprint/restore.sh"),
        ] {
            assert!(
                mounts.contains(&(source.into(), target.into())),
                "{env}: {source}"
            );
            assert!(all.contains_key(&source[2..]), "{source} is generated");
        }
        let environment = &job["environment"];
        assert_eq!(environment["BACKUP_BUCKET"], "acme-data-lake");
        assert_eq!(environment["BACKUP_PREFIX"], "backups/db");
        assert_eq!(environment["BACKUP_RETENTION_SECONDS"], "1209600");
        assert_eq!(
            environment["BLUEPRINT_PUSHGATEWAY_URL"],
            "http://pushgateway:9091"
        );
        assert_eq!(
            job["depends_on"]["pushgateway"]["condition"],
            "service_healthy"
        );
        if env == "dev" {
            // The database and MinIO are containers of the stack.
            assert_eq!(
                environment["BACKUP_DATABASE_URL"],
                "postgres://app:${DB_PASSWORD:?set DB_PASSWORD in .env.dev}@db:5432/app"
            );
            assert_eq!(environment["BACKUP_S3_ENDPOINT"], "http://lake:9000");
            assert_eq!(job["depends_on"]["db"]["condition"], "service_healthy");
            assert_eq!(
                job["depends_on"]["lake-init"]["condition"],
                "service_completed_successfully"
            );
        } else {
            // Supabase and AWS S3: the same off-provider copy.
            assert_eq!(
                environment["BACKUP_DATABASE_URL"],
                format!("${{DATABASE_URL:?set DATABASE_URL in .env.{env}}}")
            );
            assert_eq!(
                environment["BACKUP_S3_ENDPOINT"],
                "https://s3.amazonaws.com"
            );
            assert!(job["depends_on"].get("db").is_none());
        }
        assert_eq!(
            environment["BACKUP_S3_SECRET_ACCESS_KEY"],
            format!("${{LAKE_SECRET_ACCESS_KEY:?set LAKE_SECRET_ACCESS_KEY in .env.{env}}}")
        );
    }
    let crontab = file(&model, "jobs/db-backup.crontab");
    let lines: Vec<&str> = crontab
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        lines,
        [
            "0 3 * * * /bin/sh /etc/blueprint/run-job.sh db-backup 3600 -- /bin/sh /etc/blueprint/backup.sh",
            // The restore test: in the same container, pushed under its own job name.
            "30 4 * * 0 /bin/sh /etc/blueprint/run-job.sh db-restore-test 3600 -- /bin/sh /etc/blueprint/restore.sh --test",
        ]
    );
    for script in [super::backup::BACKUP_PATH, super::backup::RESTORE_PATH] {
        assert!(all[script].executable, "{script}");
    }
    let dockerfile = file(&model, "jobs/db-backup/Dockerfile");
    // The database's own image, so that pg_dump is never older than the server.
    assert!(dockerfile.contains(&format!("\nFROM {}\n", images::postgres("16"))));
    assert!(dockerfile.contains(&format!("FROM {} AS mc\n", images::MINIO_CLIENT)));
    assert!(dockerfile.contains("COPY --from=supercronic /usr/local/bin/supercronic"));
}

#[test]
fn no_backup_job_without_a_backup_policy() {
    let model = example("minimal");
    assert!(model.backups().next().is_none());
    assert!(!files(&model).keys().any(|p| p.contains("backup")));
}

#[test]
fn the_node_exporter_reads_the_host_read_only_and_the_public_probe_goes_out() {
    let model = reference();
    for env in ["dev", "staging", "prod"] {
        let compose = compose_of(&model, env);
        let node = &services(&compose)["node-exporter"];
        assert_eq!(node["image"], images::NODE_EXPORTER);
        assert_eq!(node["pid"], "host", "{env}");
        assert_eq!(node["command"][0], "--path.rootfs=/host");
        let root = &node["volumes"][0];
        assert_eq!(root["source"], "/");
        assert_eq!(root["target"], "/host");
        assert_eq!(root["read_only"], true);
        assert_eq!(root["bind"]["propagation"], "rslave");
        assert_eq!(node["networks"], serde_json::json!(["internal"]));
        assert_eq!(node["cap_drop"], serde_json::json!(["ALL"]));
        let blackbox = &services(&compose)["blackbox"];
        let egress = blackbox["networks"]
            .as_array()
            .expect("networks")
            .iter()
            .any(|n| n == "egress");
        // Only an environment with TLS has a public HTTPS URL to probe.
        assert_eq!(egress, env != "dev", "{env}");
    }
}

#[test]
fn the_nginx_exporter_reads_the_unpublished_status_listener() {
    let model = reference();
    let compose = compose_of(&model, "prod");
    let exporter = &services(&compose)["nginx-exporter"];
    assert_eq!(exporter["image"], images::NGINX_EXPORTER);
    assert_eq!(
        exporter["command"][0],
        "--nginx.scrape-uri=http://proxy:8081/stub_status"
    );
    assert_eq!(exporter["networks"], serde_json::json!(["internal"]));
    let proxy = &services(&compose)["proxy"];
    let published: Vec<&Json> = proxy["ports"].as_array().expect("ports").iter().collect();
    assert!(
        published.iter().all(|p| p["target"] != 8081),
        "the status listener is not published: {published:?}"
    );
    let conf = crate::generate::proxy::generate(&model)
        .into_iter()
        .find(|f| f.path == "proxy/prod/nginx.conf")
        .expect("nginx.conf is generated")
        .contents;
    let status = &conf[conf.find("listen 8081;").expect("a status listener")..];
    assert!(
        status.contains("stub_status;") && status.contains("deny all;"),
        "{status}"
    );
}
