//! The blueprint language: the raw types a `blueprint.yaml` deserializes into.
//!
//! These types are the single source of the JSON Schema (`blueprint schema`), so every field
//! carries a `///` comment: editors show it as the field's description. Nothing here applies
//! defaults that depend on other fields; that is the job of [`crate::model`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A DNS label: lowercase letters, digits and `-`, starting with a letter, at most 63 characters.
pub const NAME_PATTERN: &str = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$";
/// A duration such as `30s`, `5m`, `2h`, `1d` or `1h30m`.
pub const DURATION_PATTERN: &str = r"^([0-9]+(ms|s|m|h|d|w|y))+$";
/// An environment variable or secret name: upper case letters, digits and `_`.
pub const ENV_NAME_PATTERN: &str = r"^[A-Z_][A-Z0-9_]*$";
/// A URL path starting with `/`, with no spaces, quotes, `;`, `{`, `}` or `#`.
pub const URL_PATH_PATTERN: &str = r"^/[A-Za-z0-9._~/-]*$";
/// A host name such as `api.example.com` (lowercase) or `localhost`.
pub const HOSTNAME_PATTERN: &str =
    r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$";
/// A size such as `512k`, `10m` or `1g` (nginx and Compose style).
pub const SIZE_PATTERN: &str = r"^[0-9]+[kmg]?$";
/// A `owner/name` GitHub repository.
pub const REPOSITORY_PATTERN: &str = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$";
/// A language or image version such as `3.12`, `3.12.7` or `22`.
pub const VERSION_PATTERN: &str = r"^[0-9]+(\.[0-9]+){0,2}$";

/// A whole blueprint: one project, its environments, services, jobs, data stores, proxy,
/// monitoring and CI.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "blueprint")]
pub struct Blueprint {
    /// Who the project is: its name, repository and registry.
    pub project: Project,
    /// Named environments (`dev`, `staging`, `prod`, ...). Omitted: a single `dev` environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, Environment>,
    /// The built and run units, by name (a DNS label).
    pub services: BTreeMap<String, Service>,
    /// Scheduled work (for example ingestion), by name (a DNS label).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub jobs: BTreeMap<String, Job>,
    /// Data stores (PostgreSQL, Redis, object storage), by name (a DNS label).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stores: BTreeMap<String, Store>,
    /// The reverse proxy that alone faces the internet.
    #[serde(default)]
    pub proxy: Proxy,
    /// Prometheus, alerts, Alertmanager, Grafana and logs.
    #[serde(default)]
    pub monitoring: Monitoring,
    /// GitHub Actions, Dependabot and security scanning.
    #[serde(default)]
    pub ci: Ci,
    /// Vercel settings, for services that deploy there.
    #[serde(default)]
    pub vercel: Vercel,
}

/// Who the project is.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// The project's name: a DNS label (`[a-z0-9-]`, at most 63 characters). It names the Compose
    /// project, images and dashboards.
    #[schemars(pattern(NAME_PATTERN))]
    pub name: String,
    /// One sentence on what the project is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The GitHub repository as `owner/name`; images are named after it.
    #[schemars(pattern(REPOSITORY_PATTERN))]
    pub repository: String,
    /// The container registry images are pushed to. Default: `ghcr.io`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(HOSTNAME_PATTERN))]
    pub registry: Option<String>,
}

/// What an environment is for; it picks the defaults (log level, TLS, published ports,
/// approvals).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// A developer's machine: detailed logs, plain HTTP, app ports published for debugging.
    Development,
    /// A production-like rehearsal: TLS, only the proxy publishes ports, deploys automatically.
    Staging,
    /// Production: reduced logs, TLS with HSTS, deploys only after approval.
    Production,
}

/// Log verbosity.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything, for development.
    Debug,
    /// Normal operation.
    Info,
    /// Only what needs attention.
    Warning,
    /// Only failures.
    Error,
}

/// Where an environment's containers run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// One Docker Compose host.
    Compose,
    /// A Kubernetes cluster: plain manifests, a Kustomize base and one overlay per environment.
    Kubernetes,
}

/// How routed traffic reaches services on Kubernetes.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Routing {
    /// An `Ingress` for ingress-nginx (websocket and body-size annotations, cert-manager TLS).
    #[default]
    Ingress,
    /// Gateway API `HTTPRoute`s attached to an existing `Gateway`.
    Gateway,
}

/// Kubernetes settings of an environment whose `platform` is `kubernetes`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSettings {
    /// The namespace everything is deployed to. Default: `<project>-<environment>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(NAME_PATTERN))]
    pub namespace: Option<String>,
    /// `ingress` (default) or `gateway` (Gateway API `HTTPRoute`s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
    /// The `IngressClass` of the Ingress. Default: `nginx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(NAME_PATTERN))]
    pub ingress_class: Option<String>,
    /// The cert-manager `ClusterIssuer` that signs TLS certificates. Default: `letsencrypt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(NAME_PATTERN))]
    pub cluster_issuer: Option<String>,
    /// The `Gateway` HTTPRoutes attach to, as `namespace/name`. Default: `gateway-system/gateway`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?/[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub gateway: Option<String>,
    /// The namespace of the ingress controller or gateway, allowed through the NetworkPolicies to
    /// routed services. Default: `ingress-nginx` (`gateway-system` with `routing: gateway`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(NAME_PATTERN))]
    pub ingress_namespace: Option<String>,
    /// The namespace Prometheus runs in, allowed through the NetworkPolicies to metrics ports.
    /// Default: `monitoring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(NAME_PATTERN))]
    pub monitoring_namespace: Option<String>,
    /// The `release` label the Prometheus Operator selects ServiceMonitors, Probes and
    /// PrometheusRules by. Default: `kube-prometheus-stack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(NAME_PATTERN))]
    pub prometheus_release: Option<String>,
    /// The blackbox exporter that `Probe`s go through, as `host:port`. Default:
    /// `prometheus-blackbox-exporter.<monitoring_namespace>.svc:9115`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?:[0-9]{1,5}$"))]
    pub blackbox_exporter: Option<String>,
    /// The Pushgateway that scheduled jobs report to, as `host:port`. Default:
    /// `prometheus-pushgateway.<monitoring_namespace>.svc:9091`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?:[0-9]{1,5}$"))]
    pub pushgateway: Option<String>,
}

/// One environment (`dev`, `staging`, `prod`, ...).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// What the environment is for. Default: from its name (`dev`, `local`, `development`,
    /// `test` are development; `prod`, `production` are production; anything else is staging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// The public domain the proxy serves. Default: `localhost`. Required where TLS is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(HOSTNAME_PATTERN))]
    pub domain: Option<String>,
    /// Log level of every service. Default: `debug` in development, `info` in staging,
    /// `warning` in production.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// Serve HTTPS (with an HTTP to HTTPS redirect). Default: off in development, on elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    /// Apply the proxy's hardening (security headers, rate limits, HSTS with TLS). Default: on
    /// outside development.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardening: Option<bool>,
    /// Containers per service. Default: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub replicas: Option<u32>,
    /// Which provider backs each data store here, by store name. Default: `container`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stores: BTreeMap<String, Provider>,
    /// Variables set on every service in this environment (they override the services' own).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvValue>,
    /// Where the containers run: `compose` (default) or `kubernetes`. On Kubernetes every data
    /// store must name its provider here (`container` runs PostgreSQL as a single-replica
    /// StatefulSet, which is not highly available).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Kubernetes settings (`platform: kubernetes` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesSettings>,
}

/// The runtime preset a service is built and run with.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// A Django app served by gunicorn (`collectstatic` at build time).
    Django,
    /// A FastAPI app served by uvicorn.
    Fastapi,
    /// A Streamlit app (headless, websockets).
    Streamlit,
    /// A Python program with no HTTP port of its own (workers, scheduled jobs).
    PythonWorker,
    /// A Node.js server.
    Node,
    /// Static files served by an unprivileged web server.
    Static,
    /// The user's own Dockerfile (`dockerfile`); nothing is generated for the image.
    Custom,
}

/// Where a service runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DeployTarget {
    /// A container on the environment's platform: its Compose stack behind the proxy, or its
    /// Kubernetes namespace behind the Ingress or Gateway.
    Compose,
    /// Vercel (previews on pull requests, production on the main branch).
    Vercel,
}

/// A deploy target for every environment, or one per environment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Deploy {
    /// The same target in every environment.
    Everywhere(DeployTarget),
    /// A target per environment name; environments not listed use `default` (or `compose`).
    PerEnvironment(BTreeMap<String, DeployTarget>),
}

impl Deploy {
    /// Where a service with this `deploy` runs in `environment`; `None` (no `deploy`) and
    /// unlisted environments without a `default` mean `compose`.
    pub fn target_in(deploy: Option<&Deploy>, environment: &str) -> DeployTarget {
        match deploy {
            None => DeployTarget::Compose,
            Some(Deploy::Everywhere(target)) => *target,
            Some(Deploy::PerEnvironment(targets)) => targets
                .get(environment)
                .or_else(|| targets.get("default"))
                .copied()
                .unwrap_or(DeployTarget::Compose),
        }
    }
}

/// A service: something built into an image and run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The runtime preset: how the image is built and the process started.
    pub runtime: Runtime,
    /// The source directory, relative to the blueprint; the image's build context.
    pub path: String,
    /// The language version (Python for Python presets, Node.js for `node`). Default: `3.12`
    /// for Python, `22` for Node.js.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(VERSION_PATTERN))]
    pub version: Option<String>,
    /// The port the process listens on inside its container. Required except for
    /// `python-worker`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u16>,
    /// The start command, in exec form. Default: from the runtime preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The schema migration command, in exec form: run with the service's image and environment
    /// at every start or deploy, before the service and its jobs start (Compose: a one-shot
    /// `<service>-migrate` container they wait for; Kubernetes: an init container of each pod).
    /// It must be safe to run again and by two pods at once. Default: `[python, manage.py,
    /// migrate, --noinput]` for `django`, none otherwise; `[]` turns the default off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate: Option<Vec<String>>,
    /// The Python module or entry point the preset starts (`config.wsgi` for Django, `app.main:app`
    /// for FastAPI, `app.py` for Streamlit, `server.js` for Node.js). Default: from the preset.
    /// It only fills in the preset's command, so it is refused beside `command` and for `static`
    /// and `custom` services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    /// The health endpoint path. Default: `/healthz` (`/_stcore/health` for Streamlit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(URL_PATH_PATTERN))]
    pub health: Option<String>,
    /// Prometheus metrics exposed by the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// How the proxy routes traffic to this service. None: not routed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// Environment variables: a plain value, a value per environment, or a secret reference.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvValue>,
    /// Data stores this service uses; their connection variables are injected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stores: Vec<String>,
    /// Services and stores that must be healthy before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// CPU and memory limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Scale on CPU use between a minimum and a maximum of replicas (Kubernetes environments: a
    /// `HorizontalPodAutoscaler`; Compose keeps the environment's fixed `replicas`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<Autoscaling>,
    /// Where the service runs: `compose` (default) or `vercel`, everywhere or per environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// The Dockerfile of a `custom` service, relative to its `path`. Default: `Dockerfile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// The lint command CI runs in the service's directory (shell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint: Option<String>,
    /// The test command CI runs in the service's directory (shell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
}

/// Prometheus metrics exposed by a service.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Whether the service exposes metrics at all. Default: true for HTTP presets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The metrics path. Default: `/metrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(URL_PATH_PATTERN))]
    pub path: Option<String>,
    /// The request counter, labelled by status code. Default: the preset's usual exporter
    /// (django-prometheus, prometheus-fastapi-instrumentator, prom-client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_total: Option<String>,
    /// The label of `requests_total` that holds the HTTP status. Default: the exporter's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_label: Option<String>,
    /// The request latency histogram (without `_bucket`). Default: the exporter's
    /// (`http_request_duration_highr_seconds` for FastAPI, prometheus-fastapi-instrumentator's
    /// fine-grained one: its labelled histogram has only three buckets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_histogram: Option<String>,
}

/// A route from the proxy to a service: a host, a path prefix, or both.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The host name this route answers (`api.example.com`). Default: the environment's domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(HOSTNAME_PATTERN))]
    pub host: Option<String>,
    /// The path prefix (`/api`). Default: `/`. The longest prefix wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(URL_PATH_PATTERN))]
    pub path: Option<String>,
    /// Upgrade connections to websockets on this route. Default: true for Streamlit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket: Option<bool>,
    /// Strip the prefix before passing the request on. Default: false (the app is told its
    /// base path where the preset supports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strip_prefix: Option<bool>,
    /// Requests per second per client IP; none for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub rate_limit: Option<u32>,
}

/// A secret: named here, given a value only where the environment keeps secrets (`.env.<env>`,
/// GitHub environment secrets). Never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The secret's name (`DJANGO_SECRET_KEY`).
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub secret: String,
}

/// A value per environment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerEnvironment {
    /// Values by environment name.
    pub per_env: BTreeMap<String, String>,
    /// The value in environments not listed. None: the variable is unset there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// An environment variable's value.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvValue {
    /// A plain value (quote numbers and booleans: `"1"`, `"true"`).
    Plain(String),
    /// A secret reference: `{ secret: NAME }`.
    Secret(SecretRef),
    /// A value per environment: `{ per_env: { dev: "1" }, default: "0" }`.
    PerEnvironment(PerEnvironment),
}

/// CPU and memory limits.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU limit in cores (`0.5`, `2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.01, max = 256.0))]
    pub cpus: Option<f64>,
    /// Memory limit (`512m`, `2g`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(SIZE_PATTERN))]
    pub memory: Option<String>,
}

/// CPU-based autoscaling.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Autoscaling {
    /// The fewest replicas. Default: the environment's `replicas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub min_replicas: Option<u32>,
    /// The most replicas.
    #[schemars(range(min = 1, max = 100))]
    pub max_replicas: u32,
    /// The average CPU use, in percent of the CPU request, to keep replicas at. Default: 70.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 100))]
    pub cpu_percent: Option<u32>,
}

/// Scheduled work, run in a service's image.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// What the job does (shown in alerts and dashboards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The service whose image the job runs in.
    pub service: String,
    /// When it runs: a five-field cron expression (`*/30 * * * *`), UTC.
    pub schedule: String,
    /// The command, in exec form.
    pub command: Vec<String>,
    /// The longest a run may take before it is killed. Default: `30m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// How long without a successful run before it is an incident. Default: three schedule
    /// periods, at least one hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub stale_after: Option<String>,
}

/// The kind of a data store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// PostgreSQL.
    Postgres,
    /// Redis.
    Redis,
    /// S3-compatible object storage (Parquet files, backups).
    S3,
}

/// Who provides a data store in an environment.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// A container in the environment's stack (MinIO for `s3`); on Kubernetes, PostgreSQL only,
    /// as a single-replica StatefulSet.
    Container,
    /// A managed service reached through a URL secret (RDS, Upstash, AWS S3, ...).
    Managed,
    /// Supabase (PostgreSQL only): a managed database reached through `DATABASE_URL`.
    Supabase,
}

/// A data store.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// What it is.
    pub kind: StoreKind,
    /// The server version of the container (`16` for PostgreSQL, `7` for Redis). Default: the
    /// current major version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(VERSION_PATTERN))]
    pub version: Option<String>,
    /// The bucket name (`s3` only). Default: `<project>-<store>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"))]
    pub bucket: Option<String>,
    /// The variable that carries the connection URL (`postgres`, `redis`). Default:
    /// `DATABASE_URL` or `REDIS_URL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(ENV_NAME_PATTERN))]
    pub url_env: Option<String>,
    /// Backups of this store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Backup>,
    /// The Redis lists (in database 0) this `redis` store carries as work queues, which workers
    /// take from (BRPOP, BLMOVE...). Each gets its length watched by a redis_exporter in every
    /// Compose environment, with the QueueBacklog and QueueStalled alerts; the store also gets
    /// RedisDown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$")))]
    pub queues: Vec<String>,
}

/// A backup policy. On a `postgres` store: a scheduled `pg_dump` to an `s3` store (`schedule`,
/// `retention` and `target` are required). On an `s3` store: object versioning, with every
/// overwritten or deleted object kept for `retention` (only `retention` is given).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// When backups run: a five-field cron expression, UTC (`postgres` only, and required
    /// there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// How long backups are kept (`14d`). On an `s3` store: how long a previous version of an
    /// object (overwritten or deleted) stays restorable.
    #[schemars(pattern(DURATION_PATTERN))]
    pub retention: String,
    /// The `s3` store backups are written to (`postgres` only, and required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Encrypt every dump before it leaves the job (gpg, AES-256) with this passphrase, a
    /// secret reference. Restoring needs the same secret, so keep a copy outside the stack:
    /// a dump cannot be read without it (`postgres` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<SecretRef>,
    /// When to prove the newest dump restores: a five-field cron expression, UTC. The
    /// `<store>-restore-test` job restores it into a throwaway PostgreSQL server of the same
    /// major version inside its own container (never into a real database) and checks that it
    /// holds tables; BackupRestoreTestFailed fires when it does not. Its scratch space must
    /// hold the restored database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_test: Option<String>,
}

/// The reverse proxy engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProxyEngine {
    /// nginx, with certbot-managed certificates.
    #[default]
    Nginx,
    /// Caddy, with automatic HTTPS.
    Caddy,
}

/// The reverse proxy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    /// `nginx` (default) or `caddy`.
    #[serde(default)]
    pub engine: ProxyEngine,
    /// The largest request body accepted (`10m`). Default: `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(SIZE_PATTERN))]
    pub body_limit: Option<String>,
    /// The Content-Security-Policy header, sent where the app sends none (an app's own
    /// policy passes on). Default: `frame-ancestors 'self'`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r#"^[A-Za-z0-9 '*:;./_+=-]+$"#))]
    pub content_security_policy: Option<String>,
    /// The e-mail address given to the ACME CA for certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$"))]
    pub acme_email: Option<String>,
    /// Internal tools reachable through the proxy, and how they are protected. A tool not listed
    /// is not routed at all.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expose: BTreeMap<InternalTool, Exposure>,
}

/// An internal tool the proxy can expose.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum InternalTool {
    /// Grafana dashboards.
    Grafana,
    /// The Prometheus UI.
    Prometheus,
    /// The Alertmanager UI.
    Alertmanager,
}

/// How an internal tool is exposed: at a path, behind basic auth and/or an IP allowlist.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exposure {
    /// The path prefix (`/grafana`). Default: `/<tool>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(URL_PATH_PATTERN))]
    pub path: Option<String>,
    /// Require HTTP basic auth from an htpasswd file mounted at `proxy/htpasswd` (never
    /// generated). Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<bool>,
    /// Client networks allowed (CIDR, `10.0.0.0/8`). Empty: any network (with basic auth).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// Monitoring: Prometheus, alerts, Alertmanager, Grafana and logs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// Whether to generate the monitoring stack. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// How often Prometheus scrapes. Default: `15s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub scrape_interval: Option<String>,
    /// How often rules are evaluated. Default: the scrape interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub evaluation_interval: Option<String>,
    /// How long Prometheus keeps samples. Default: `15d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub retention: Option<String>,
    /// Where alerts go, by receiver name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub receivers: BTreeMap<String, Receiver>,
    /// Which receivers get which severity. Default: every receiver gets every severity.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routes: BTreeMap<Severity, Vec<String>>,
    /// A dead man's switch: the always-firing `Watchdog` alert is sent every minute to this
    /// heartbeat URL (healthchecks.io, Dead Man's Snitch, Cronitor...), which pages when the
    /// pings stop, that is when Prometheus, Alertmanager or the way out is down. It never
    /// reaches the receivers. Without it, `Watchdog` still fires (its absence in Alertmanager
    /// is the stack's own health) but is discarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<Heartbeat>,
    /// Base URL of the runbooks; an alert's runbook is `<base>/<AlertName>` unless it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook_base_url: Option<String>,
    /// The built-in alert families.
    #[serde(default)]
    pub alerts: BuiltinAlerts,
    /// Alerts of the project's own, by alert name (`DataDivergence`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_alerts: BTreeMap<String, CustomAlert>,
    /// Service level objectives, by service name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slos: BTreeMap<String, Slo>,
    /// Grafana.
    #[serde(default)]
    pub grafana: Grafana,
    /// Container logs.
    #[serde(default)]
    pub logs: Logs,
}

/// An alert's severity.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Someone must act now: pages.
    Critical,
    /// Someone must look soon: chat.
    Warning,
    /// For the record.
    Info,
}

/// The kind of an alert receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReceiverKind {
    /// A Slack incoming webhook (`url` is the webhook secret, `channel` optional).
    Slack,
    /// E-mail (`to`, `from`, `smarthost`; `password` a secret).
    Email,
    /// A generic webhook (`url` is a secret).
    Webhook,
}

/// An alert receiver.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    /// Slack, e-mail or webhook.
    pub kind: ReceiverKind,
    /// The webhook URL, as a secret (`slack`, `webhook`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<SecretRef>,
    /// The Slack channel (`#alerts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^#[a-z0-9_-]+$"))]
    pub channel: Option<String>,
    /// Recipient address (`email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$"))]
    pub to: Option<String>,
    /// Sender address (`email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$"))]
    pub from: Option<String>,
    /// SMTP server as `host:port` (`email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[a-z0-9.-]+:[0-9]+$"))]
    pub smarthost: Option<String>,
    /// SMTP user name (`email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// SMTP password, as a secret (`email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
}

/// Where the `Watchdog` alert is sent: a webhook that expects a ping every few minutes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The heartbeat URL, as a secret (Alertmanager POSTs its webhook payload to it).
    pub url: SecretRef,
}

/// An alert family that can be switched off or tuned; its condition has no threshold (a target
/// is down, a probe or a job failed), so none can be given.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertToggle {
    /// Generate this family. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// How long the condition must hold before the alert fires.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "for")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub for_: Option<String>,
    /// The severity. Default: the family's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// An alert family with a threshold, that can be switched off or tuned.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdAlert {
    /// Generate this family. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// How long the condition must hold before the alert fires.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "for")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub for_: Option<String>,
    /// The threshold (a ratio for error alerts, seconds for latency alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub threshold: Option<f64>,
    /// The severity. Default: the family's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

impl ThresholdAlert {
    /// The family's switch, duration and severity, without its threshold.
    pub fn toggle(&self) -> AlertToggle {
        AlertToggle {
            enabled: self.enabled,
            for_: self.for_.clone(),
            severity: self.severity,
        }
    }
}

/// The built-in alert families.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuiltinAlerts {
    /// A scrape target is down (`up == 0`). Default: critical after `2m`.
    #[serde(default)]
    pub service_down: AlertToggle,
    /// The blackbox health probe fails. Default: critical after `2m`.
    #[serde(default)]
    pub probe_failed: AlertToggle,
    /// The 5xx ratio is above `threshold`. Default: 0.05 for `10m`, warning.
    #[serde(default)]
    pub error_ratio: ThresholdAlert,
    /// p95 latency above `threshold` seconds. Default: 1.0 for `10m`, warning.
    #[serde(default)]
    pub latency_p95: ThresholdAlert,
    /// A job's last run failed. Default: warning, immediately.
    #[serde(default)]
    pub job_failed: AlertToggle,
    /// A job has not succeeded within its staleness window. Default: critical.
    #[serde(default)]
    pub job_stale: AlertToggle,
    /// A queue (`stores.<store>.queues`) holds more than `threshold` items. Default: 1000 for
    /// `10m`, warning.
    #[serde(default)]
    pub queue_backlog: ThresholdAlert,
    /// A queue is never empty and does not shrink: no worker takes from it. Default: critical
    /// after `15m`.
    #[serde(default)]
    pub queue_stalled: AlertToggle,
}

/// An alert of the project's own.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomAlert {
    /// The PromQL expression; the alert fires while it returns series.
    pub expr: String,
    /// How long the expression must hold. Default: `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "for")]
    #[schemars(pattern(DURATION_PATTERN))]
    pub for_: Option<String>,
    /// How urgent it is.
    pub severity: Severity,
    /// One line, for the notification title.
    pub summary: String,
    /// More detail. Default: the summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The runbook's URL. Default: `<runbook_base_url>/<AlertName>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// The service or job this alert is about (its `service` label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// A service level objective.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// The share of requests that must not fail with 5xx, in percent (`99.9`).
    #[schemars(range(min = 50.0, max = 99.999))]
    pub availability: f64,
    /// Below this many requests per second (5-minute rate for HighErrorRatio and
    /// HighLatencyP95, 1-hour rate for the burn-rate alerts) this service's rate alerts stay
    /// quiet: a ratio or a quantile over a handful of requests is noise. 0 turns the guard off.
    /// Default: 0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub min_request_rate: Option<f64>,
}

/// Grafana.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Grafana {
    /// Generate Grafana. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The admin user name. Default: `admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_user: Option<String>,
    /// The admin password, as a secret. Default: `{ secret: GRAFANA_ADMIN_PASSWORD }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password: Option<SecretRef>,
    /// Provision the generated dashboards. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboards: Option<bool>,
}

/// Container logs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    /// Rotate a container's log at this size. Default: `10m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(SIZE_PATTERN))]
    pub max_size: Option<String>,
    /// Rotated files kept. Default: 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_files: Option<u32>,
}

/// How often Dependabot looks for updates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UpdateInterval {
    /// Every weekday.
    Daily,
    /// Once a week (default).
    #[default]
    Weekly,
    /// Once a month.
    Monthly,
}

/// How third-party actions are referenced in generated workflows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActionPinning {
    /// A full commit SHA with a `# vX.Y.Z` comment (default; GitHub's hardening guide).
    #[default]
    Sha,
    /// The release tag (`@v4`).
    Tag,
}

/// GitHub Actions, Dependabot and security scanning.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ci {
    /// The branch that deploys to production. Default: `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_branch: Option<String>,
    /// The branch where changes are proven first: its pushes deploy the staging environments
    /// (the main branch's deploy production), and Dependabot targets it. None: staging deploys
    /// each commit of the main branch, before production in the same run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staging_branch: Option<String>,
    /// How often Dependabot looks for updates. Default: `weekly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency_updates: Option<UpdateInterval>,
    /// Days a new release must age before Dependabot proposes it. Default: 7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 90))]
    pub update_cooldown_days: Option<u32>,
    /// When the vulnerability scan and the base-image rebuild run: a five-field cron
    /// expression, UTC. Default: `0 5 * * 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_scan: Option<String>,
    /// `sha` (default) or `tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_actions: Option<ActionPinning>,
    /// The lowest severity of a fixable vulnerability that fails the image scans: the pushed
    /// image's (which stops the deploy) and the pull request's and weekly rebuild's. Default:
    /// `high` (high and critical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_fails_on: Option<ScanSeverity>,
}

/// The lowest vulnerability severity that fails an image scan (Trivy's scale).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScanSeverity {
    /// Critical only.
    Critical,
    /// High and critical (default).
    #[default]
    High,
    /// Medium and above.
    Medium,
    /// Every severity Trivy rates (low and above).
    Low,
}

impl ScanSeverity {
    /// Trivy's `severity` list for this threshold and above (`CRITICAL,HIGH`).
    pub fn and_above(self) -> &'static str {
        match self {
            Self::Critical => "CRITICAL",
            Self::High => "CRITICAL,HIGH",
            Self::Medium => "CRITICAL,HIGH,MEDIUM",
            Self::Low => "CRITICAL,HIGH,MEDIUM,LOW",
        }
    }
}

/// Vercel settings; every value is a secret reference.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vercel {
    /// The Vercel token. Default: `{ secret: VERCEL_TOKEN }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretRef>,
    /// The team (org) ID. Default: `{ secret: VERCEL_ORG_ID }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<SecretRef>,
    /// The project ID of each Vercel service, by service name. Default:
    /// `{ secret: VERCEL_PROJECT_ID_<SERVICE> }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub projects: BTreeMap<String, SecretRef>,
}

/// The JSON Schema of the blueprint language, pretty-printed with a trailing newline.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Blueprint);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serializes");
    text.push('\n');
    text
}
