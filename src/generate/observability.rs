//! The `observability` generator: Prometheus (scrape configs, alert and recording rules with
//! their promtool unit tests), the blackbox exporter, Alertmanager and Grafana (provisioning and
//! dashboards).
//!
//! Everything here is only rendered when `model.monitoring.enabled`. Every file is a typed value
//! serialized with [`to_yaml`] or [`to_json`]; no output is assembled as text.
//!
//! Central logs (Loki) are out of scope: container log rotation and `LOG_LEVEL` come from the
//! containers generator.

use crate::blueprint::InternalTool;
use crate::generate::{GeneratedFile, to_json, to_yaml};
use crate::model::{Environment, Job, Model, Service, Store};

pub mod alertmanager;
pub mod custom_tests;
pub mod dashboards;
pub mod grafana;
pub mod host;
pub mod meta_rules;
pub mod prometheus;
pub mod queue_rules;
pub mod rule_tests;
pub mod rules;
pub mod selectors;

/// Compose host name and port of the blackbox exporter.
pub const BLACKBOX_ADDRESS: &str = "blackbox:9115";
/// Compose host name and port of the Pushgateway the job wrapper pushes to.
pub const PUSHGATEWAY_ADDRESS: &str = "pushgateway:9091";
/// Port of every prometheus-community postgres_exporter container.
pub const POSTGRES_EXPORTER_PORT: u16 = 9187;
/// Port of every redis_exporter container.
pub const REDIS_EXPORTER_PORT: u16 = 9121;
/// Compose host name of the node exporter (host metrics).
pub const NODE_EXPORTER_HOST: &str = "node-exporter";
/// Port of the node exporter.
pub const NODE_EXPORTER_PORT: u16 = 9100;
/// The nginx proxy's listener for `stub_status`, which Compose does not publish.
pub const NGINX_STATUS_PORT: u16 = 8081;
/// Where the nginx proxy answers `stub_status` on that listener.
pub const NGINX_STATUS_PATH: &str = "/stub_status";
/// Compose host name (and scrape job) of the nginx exporter.
pub const NGINX_EXPORTER_HOST: &str = "nginx-exporter";
/// Port of the nginx exporter.
pub const NGINX_EXPORTER_PORT: u16 = 9113;
/// The Caddy proxy's listener for its own Prometheus metrics, which Compose does not publish.
pub const CADDY_METRICS_PORT: u16 = 9180;
/// Scrape job name of Caddy's metrics.
pub const CADDY_JOB: &str = "caddy";
/// Scrape job name of the public HTTPS probes (through the proxy, with the certificate).
pub const PUBLIC_PROBE_JOB: &str = "blackbox-public";
/// Scrape job name of the blackbox health probes.
pub const PROBE_JOB: &str = "blackbox-http";
/// The blackbox module that expects a 2xx answer.
pub const PROBE_MODULE: &str = "http_2xx";

/// Renders this target's files.
pub fn generate(model: &Model) -> Vec<GeneratedFile> {
    if !model.monitoring.enabled {
        return Vec::new();
    }
    let mut files = Vec::new();

    for environment in model.environments.iter().filter(|e| e.on_compose()) {
        files.push(GeneratedFile::hash_commented(
            format!("monitoring/prometheus/prometheus.{}.yml", environment.name),
            to_yaml(&prometheus::config(model, environment)),
        ));
    }
    // The monitoring stack's own files serve the Compose environments; a cluster brings its
    // own stack and gets the rules and dashboards as Prometheus Operator objects. The rule files
    // and their unit tests stay: they are the one source of the cluster's PrometheusRule.
    let compose_stack = model.environments.iter().any(|e| e.on_compose());
    if compose_stack {
        files.push(GeneratedFile::hash_commented(
            "monitoring/blackbox/blackbox.yml",
            to_yaml(&prometheus::blackbox_config()),
        ));
    }

    let catalog = rules::catalog(model);
    for file in &catalog.files {
        files.push(GeneratedFile::hash_commented(
            file.path(),
            to_yaml(&file.document()),
        ));
    }
    for test in rule_tests::test_files(&catalog) {
        files.push(GeneratedFile::hash_commented(test.path(), test.render()));
    }

    if !compose_stack {
        return files;
    }
    files.push(GeneratedFile::hash_commented(
        "monitoring/alertmanager/alertmanager.yml",
        to_yaml(&alertmanager::config(model)),
    ));

    if model.monitoring.grafana.enabled {
        files.push(GeneratedFile::hash_commented(
            "monitoring/grafana/provisioning/datasources/datasources.yaml",
            to_yaml(&grafana::datasources(model)),
        ));
        if model.monitoring.grafana.dashboards {
            files.push(GeneratedFile::hash_commented(
                "monitoring/grafana/provisioning/dashboards/dashboards.yaml",
                to_yaml(&grafana::dashboard_providers(model)),
            ));
            let all = dashboards::dashboards(model)
                .into_iter()
                .chain(dashboards::compose_dashboards(model));
            for dashboard in all {
                files.push(GeneratedFile::uncommented(
                    format!("monitoring/grafana/dashboards/{}.json", dashboard.file_stem),
                    to_json(&dashboard.dashboard),
                ));
            }
        }
    }
    files
}

/// The path prefix an internal tool serves under when the proxy exposes it (`/prometheus`),
/// without a trailing slash. The proxy never strips it, so the tool itself answers there,
/// including its own metrics and health endpoints.
pub fn tool_prefix(model: &Model, tool: InternalTool) -> Option<String> {
    model
        .proxy
        .expose
        .iter()
        .find(|e| e.tool == tool)
        .map(|e| e.path.trim_end_matches('/').to_string())
        .filter(|p| !p.is_empty())
}

/// `path` under an internal tool's prefix (`/metrics` -> `/prometheus/metrics`).
pub fn tool_path(model: &Model, tool: InternalTool, path: &str) -> String {
    format!("{}{path}", tool_prefix(model, tool).unwrap_or_default())
}

/// Services that run as containers (Compose or Kubernetes) in at least one environment: only
/// those can be scraped, probed or alerted on.
pub fn monitored_services(model: &Model) -> impl Iterator<Item = &Service> {
    model.services.iter().filter(|s| s.in_container_anywhere())
}

/// Services with Prometheus metrics that run as containers somewhere.
pub fn metered_services(model: &Model) -> impl Iterator<Item = &Service> {
    monitored_services(model).filter(|s| s.metrics.is_some())
}

/// Jobs whose service runs as a container somewhere (their scheduler runs beside it).
pub fn monitored_jobs(model: &Model) -> impl Iterator<Item = &Job> {
    model.jobs_whose_service(Service::in_container_anywhere)
}

/// Jobs whose scheduler runs in `environment`.
pub fn jobs_in<'a>(
    model: &'a Model,
    environment: &'a Environment,
) -> impl Iterator<Item = &'a Job> {
    model.jobs_whose_service(move |s| s.on_compose(&environment.name))
}

/// PostgreSQL stores: each gets a postgres_exporter, whoever provides the database.
pub fn postgres_stores(model: &Model) -> impl Iterator<Item = &Store> {
    model
        .stores
        .iter()
        .filter(|s| s.kind == crate::blueprint::StoreKind::Postgres)
}

/// `redis` stores that carry queues: each gets a redis_exporter watching their length.
pub fn queue_stores(model: &Model) -> impl Iterator<Item = &Store> {
    model
        .stores
        .iter()
        .filter(|s| s.kind == crate::blueprint::StoreKind::Redis && !s.queues.is_empty())
}

/// The Compose host name (and scrape job) of a store's exporter (postgres_exporter or
/// redis_exporter).
pub fn exporter_host(store: &Store) -> String {
    format!("{}-exporter", store.name)
}

/// The addresses Prometheus scrapes a service at in `environment`: one per container.
///
/// With one replica that is the service name. With several, Docker's DNS would answer the
/// service name with a random replica per scrape, mixing their counters; Compose names replica
/// containers `<project>-<service>-<n>`, which Docker's DNS resolves one by one, so each replica
/// is its own target and a dead one shows as `up == 0` instead of vanishing.
pub fn scrape_addresses(
    model: &Model,
    environment: &Environment,
    service: &Service,
    port: u16,
) -> Vec<String> {
    crate::model::compose_hosts(&model.project.name, &service.name, environment.replicas)
        .into_iter()
        .map(|host| format!("{host}:{port}"))
        .collect()
}

/// The URL the blackbox exporter probes for a service's health: the service name, as the proxy
/// and the other services reach it.
pub fn probe_url(service: &Service) -> Option<String> {
    let port = service.port?;
    let health = service.health_path.as_ref()?;
    Some(format!("http://{}:{port}{health}", service.name))
}

/// Formats a number the way people write it in PromQL and YAML: integers without a fraction,
/// others in their shortest exact form (`0.02`, `14.4`).
pub fn number(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        let rounded = (value * 1e9).round() / 1e9;
        format!("{rounded}")
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers shared by this generator's tests.

    use crate::model::Model;

    /// The reference blueprint, resolved.
    pub fn reference_model() -> Model {
        model_from(&reference_yaml())
    }

    /// The reference blueprint's text.
    pub fn reference_yaml() -> String {
        crate::generate::examples::source("data-platform")
    }

    /// Resolves blueprint text.
    pub fn model_from(yaml: &str) -> Model {
        let bp = serde_saphyr::from_str::<crate::blueprint::Blueprint>(yaml)
            .expect("the blueprint parses");
        Model::from_blueprint(&bp)
    }

    /// Every example blueprint (`blueprints/<name>/blueprint.yaml`), resolved, with its name.
    pub fn example_models() -> Vec<(String, Model)> {
        crate::generate::examples::all()
            .into_iter()
            .map(|(name, text)| (name, model_from(&text)))
            .collect()
    }

    /// The examples and the reference blueprint, resolved.
    pub fn all_models() -> Vec<(String, Model)> {
        let mut models = example_models();
        models.push(("reference".into(), reference_model()));
        models
    }

    /// Parses generated YAML into a JSON value, for structural assertions.
    pub fn yaml_value(text: &str) -> serde_json::Value {
        serde_saphyr::from_str::<serde_json::Value>(text).expect("generated YAML parses")
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn nothing_is_rendered_when_monitoring_is_off() {
        let yaml = reference_yaml().replace(
            "monitoring:\n  scrape_interval: 15s",
            "monitoring:\n  enabled: false\n  scrape_interval: 15s",
        );
        let model = model_from(&yaml);
        assert!(
            !model.monitoring.enabled,
            "the edit switched monitoring off"
        );
        assert!(generate(&model).is_empty());
    }

    #[test]
    fn the_reference_renders_every_kind_of_file_once() {
        let files = generate(&reference_model());
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        for expected in [
            "monitoring/prometheus/prometheus.dev.yml",
            "monitoring/prometheus/prometheus.staging.yml",
            "monitoring/prometheus/prometheus.prod.yml",
            "monitoring/blackbox/blackbox.yml",
            "monitoring/prometheus/rules/services.rules.yml",
            "monitoring/prometheus/rules/recording.rules.yml",
            "monitoring/prometheus/rules/jobs.rules.yml",
            "monitoring/prometheus/rules/custom.rules.yml",
            "monitoring/prometheus/rules/slo.rules.yml",
            "monitoring/prometheus/rules/stores.rules.yml",
            "monitoring/prometheus/tests/services.test.yml",
            "monitoring/prometheus/tests/jobs.test.yml",
            "monitoring/alertmanager/alertmanager.yml",
            "monitoring/grafana/provisioning/datasources/datasources.yaml",
            "monitoring/grafana/provisioning/dashboards/dashboards.yaml",
            "monitoring/grafana/dashboards/overview.json",
            "monitoring/grafana/dashboards/service-api.json",
            "monitoring/grafana/dashboards/jobs.json",
            "monitoring/grafana/dashboards/postgres.json",
        ] {
            assert!(
                paths.contains(&expected),
                "{expected} is missing from {paths:?}"
            );
        }
        let mut unique = paths.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), paths.len(), "a path is generated twice");
    }

    #[test]
    fn output_is_deterministic_and_ends_with_one_newline() {
        let model = reference_model();
        let first = generate(&model);
        assert_eq!(first, generate(&model));
        for file in &first {
            assert!(
                file.contents.ends_with('\n') && !file.contents.ends_with("\n\n"),
                "{}",
                file.path
            );
            assert!(!file.contents.contains('\r'), "{}", file.path);
        }
    }

    #[test]
    fn no_secret_value_or_absolute_host_path_leaks() {
        for file in generate(&reference_model()) {
            assert!(
                !file.contents.contains("/work/"),
                "{} has an absolute path",
                file.path
            );
            assert!(
                !file.contents.contains("/root/"),
                "{} has an absolute path",
                file.path
            );
        }
    }

    #[test]
    fn numbers_are_written_the_way_people_write_them() {
        assert_eq!(number(0.02), "0.02");
        assert_eq!(number(14.4 * 0.005), "0.072");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(-2.0), "-2");
    }

    #[test]
    fn replicas_are_scraped_one_container_at_a_time() {
        let model = reference_model();
        let prod = model.environment("prod").expect("prod exists");
        let api = model.service("api").expect("api exists");
        assert_eq!(
            scrape_addresses(&model, prod, api, 8000),
            vec!["data-platform-api-1:8000", "data-platform-api-2:8000"]
        );
        let dev = model.environment("dev").expect("dev exists");
        assert_eq!(scrape_addresses(&model, dev, api, 8000), vec!["api:8000"]);
    }

    /// Django answers 400 to a Host it does not allow: every Host the render itself sends (the
    /// container healthcheck's 127.0.0.1, each scrape target, the blackbox probe) must be in
    /// DJANGO_ALLOWED_HOSTS, in every environment of every example.
    #[test]
    fn django_allows_every_host_the_render_sends() {
        use crate::blueprint::Runtime;
        use crate::model::Part;
        for (example, model) in example_models() {
            for service in model
                .services
                .iter()
                .filter(|s| s.runtime == Runtime::Django)
            {
                let Some(port) = service.port else { continue };
                for env in model
                    .environments
                    .iter()
                    .filter(|e| service.on_compose(&e.name))
                {
                    let value = &service.env[&env.name]["DJANGO_ALLOWED_HOSTS"].value;
                    let text: String = value
                        .parts
                        .iter()
                        .map(|p| match p {
                            Part::Text(t) => t.as_str(),
                            Part::Secret(_) => "",
                        })
                        .collect();
                    let allowed: Vec<&str> = text.split(',').collect();
                    let mut sent: Vec<String> = scrape_addresses(&model, env, service, port);
                    sent.extend(probe_url(service));
                    sent.push(format!("http://127.0.0.1:{port}/"));
                    for url in sent {
                        let host = url.trim_start_matches("http://");
                        let host = host.split([':', '/']).next().unwrap_or_default();
                        assert!(
                            allowed.contains(&host),
                            "{example}/{}/{}: Host {host} is not in {text}",
                            env.name,
                            service.name
                        );
                    }
                }
            }
        }
    }

    /// gunicorn runs several worker processes: prometheus_client must share their counters.
    #[test]
    fn django_workers_share_their_metrics() {
        for (example, model) in example_models() {
            for service in model.services.iter().filter(|s| {
                s.runtime == crate::blueprint::Runtime::Django
                    && s.command.iter().any(|a| a == "--workers")
            }) {
                for (env, vars) in &service.env {
                    assert!(
                        vars.contains_key("PROMETHEUS_MULTIPROC_DIR"),
                        "{example}/{env}/{}: several workers without multiprocess metrics",
                        service.name
                    );
                }
            }
        }
    }
}
