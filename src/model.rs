//! The resolved model: every default applied, environments merged, references linked.
//!
//! Generators read only this. It is built from a blueprint that `validate` accepted, so a
//! reference here always resolves; the builder still never panics on a bad one (it skips it),
//! because fuzzed input reaches it in tests.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::blueprint::{
    self, ActionPinning, Blueprint, DeployTarget, LogLevel, Platform, Provider, ProxyEngine,
    ReceiverKind, Routing, Runtime, Severity, StoreKind, Tier, UpdateInterval,
};
use crate::syntax::{Cron, format_duration, parse_duration};

/// The whole resolved project.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// Project identity.
    pub project: Project,
    /// Environments, in tier order (development, staging, production), then by name.
    pub environments: Vec<Environment>,
    /// Services, by name.
    pub services: Vec<Service>,
    /// Scheduled jobs, by name.
    pub jobs: Vec<Job>,
    /// Data stores, by name.
    pub stores: Vec<Store>,
    /// The reverse proxy.
    pub proxy: Proxy,
    /// The monitoring stack.
    pub monitoring: Monitoring,
    /// CI settings.
    pub ci: Ci,
    /// Vercel settings.
    pub vercel: Vercel,
}

/// Project identity.
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    /// The project's slug.
    pub name: String,
    /// One sentence on what it is.
    pub description: String,
    /// `owner/name` on GitHub.
    pub repository: String,
    /// The repository owner, lower case (registries need lower case).
    pub owner: String,
    /// The registry host (`ghcr.io`).
    pub registry: String,
}

/// One resolved environment.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// Its name (`prod`).
    pub name: String,
    /// What it is for.
    pub tier: Tier,
    /// The public domain.
    pub domain: String,
    /// Log level of every service.
    pub log_level: LogLevel,
    /// Whether HTTPS is served.
    pub tls: bool,
    /// Whether security headers and rate limits apply.
    pub hardening: bool,
    /// Whether HSTS is sent (TLS in production).
    pub hsts: bool,
    /// Containers per service.
    pub replicas: u32,
    /// Whether app containers publish their ports on the host (development only).
    pub publish_app_ports: bool,
    /// Whether containers restart on failure (`unless-stopped`); off in development.
    pub restart: bool,
    /// Provider of each store, by store name.
    pub providers: BTreeMap<String, Provider>,
    /// Where its containers run.
    pub platform: Platform,
    /// Kubernetes settings, when `platform` is Kubernetes.
    pub kubernetes: Option<Kubernetes>,
}

/// Resolved Kubernetes settings of one environment.
#[derive(Debug, Clone, Serialize)]
pub struct Kubernetes {
    /// The namespace (`data-platform-prod`).
    pub namespace: String,
    /// Ingress or Gateway API.
    pub routing: Routing,
    /// The IngressClass (`nginx`).
    pub ingress_class: String,
    /// The cert-manager ClusterIssuer.
    pub cluster_issuer: String,
    /// The namespace of the Gateway HTTPRoutes attach to.
    pub gateway_namespace: String,
    /// The Gateway's name.
    pub gateway_name: String,
    /// The namespace of the ingress controller or gateway.
    pub ingress_namespace: String,
    /// The namespace Prometheus runs in.
    pub monitoring_namespace: String,
    /// The `release` label the Prometheus Operator selects by.
    pub prometheus_release: String,
    /// The blackbox exporter (`host:port`) Probes go through.
    pub blackbox_exporter: String,
    /// The Pushgateway (`host:port`) jobs report to.
    pub pushgateway: String,
}

impl Environment {
    /// Whether the environment runs on one Compose host.
    pub fn on_compose(&self) -> bool {
        self.platform == Platform::Compose
    }

    /// The root URL the environment is reached at from outside (`https://data.acme.example/`),
    /// with a trailing slash.
    pub fn public_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/", self.domain)
    }

    /// Whether the environment runs on Kubernetes.
    pub fn on_kubernetes(&self) -> bool {
        self.platform == Platform::Kubernetes
    }

    /// Whether the `s3` store `store` is an AWS bucket here: `managed`, or in a cluster, where
    /// no MinIO runs.
    pub fn bucket_on_aws(&self, store: &str) -> bool {
        self.on_kubernetes() || self.provider(store) == Provider::Managed
    }

    /// The provider backing `store` here.
    pub fn provider(&self, store: &str) -> Provider {
        self.providers
            .get(store)
            .copied()
            .unwrap_or(Provider::Container)
    }
}

/// A piece of a variable's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// Literal text.
    Text(String),
    /// The value of a secret, by name; it is only ever rendered as a reference.
    Secret(String),
}

/// A variable's value in one environment: literal text and secret references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Value {
    /// The pieces, in order.
    pub parts: Vec<Part>,
}

impl Value {
    /// A literal value.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            parts: vec![Part::Text(text.into())],
        }
    }

    /// A value that is exactly one secret.
    pub fn secret(name: impl Into<String>) -> Self {
        Self {
            parts: vec![Part::Secret(name.into())],
        }
    }

    /// The secrets this value references.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Secret(s) => Some(s.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The literal value, when there is no secret in it.
    pub fn as_text(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Secret(_) => return None,
            }
        }
        Some(out)
    }

    /// Renders the value, turning each secret into `secret(name)`.
    pub fn render(&self, mut secret: impl FnMut(&str) -> String) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Secret(s) => secret(s),
            })
            .collect()
    }
}

/// Where a variable comes from, for documentation (`.env` examples, `blueprint secrets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The service's own `env`.
    Service,
    /// The environment's `env`.
    Environment,
    /// Injected by a data-store binding.
    Store,
    /// Set by blueprint (`LOG_LEVEL`, base paths).
    Builtin,
}

/// One environment variable of a service in one environment.
#[derive(Debug, Clone, Serialize)]
pub struct Variable {
    /// Its value.
    pub value: Value,
    /// Where it comes from.
    pub origin: Origin,
}

/// How the proxy reaches a service.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// The host it answers; `None` means the environment's domain.
    pub host: Option<String>,
    /// The path prefix, always starting with `/` (`/` for the whole host).
    pub path: String,
    /// Whether connections upgrade to websockets.
    pub websocket: bool,
    /// Whether the prefix is removed before the request is passed on.
    pub strip_prefix: bool,
    /// Requests per second per client IP, when limited.
    pub rate_limit: Option<u32>,
    /// Whether each client must keep reaching the same replica: the server keeps its sessions in
    /// its own process (Streamlit: a file upload to another replica fails with "Invalid
    /// session_id").
    pub sticky: bool,
}

/// Prometheus metrics of a service.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    /// The scrape path.
    pub path: String,
    /// The request counter (labelled by status).
    pub requests_total: String,
    /// The label that holds the HTTP status.
    pub status_label: String,
    /// The latency histogram, without `_bucket`.
    pub duration_histogram: String,
}

/// CPU and memory limits.
#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    /// CPU cores.
    pub cpus: Option<f64>,
    /// Memory (`512m`).
    pub memory: Option<String>,
}

/// Something a service waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyKind {
    /// Another service.
    Service,
    /// A data store.
    Store,
}

/// A `depends_on` entry.
#[derive(Debug, Clone, Serialize)]
pub struct Dependency {
    /// The service or store name.
    pub name: String,
    /// Which it is.
    pub kind: DependencyKind,
}

/// Where a service runs in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// A container in the environment's Compose stack.
    Compose,
    /// A Deployment in the environment's Kubernetes namespace.
    Kubernetes,
    /// Vercel.
    Vercel,
}

/// CPU-based autoscaling of a service.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Autoscaling {
    /// The fewest replicas; `None` means the environment's `replicas`.
    pub min_replicas: Option<u32>,
    /// The most replicas.
    pub max_replicas: u32,
    /// The target average CPU use, percent of the request.
    pub cpu_percent: u32,
}

/// A resolved service.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    /// Its name (a DNS label; also its host name on the Compose network).
    pub name: String,
    /// The runtime preset.
    pub runtime: Runtime,
    /// The build context, relative to the output root, without a trailing `/` (`.` for the root).
    pub path: String,
    /// The language version (`3.12`, `22`); empty for `static` and `custom`.
    pub version: String,
    /// The listening port, `None` for workers.
    pub port: Option<u16>,
    /// The start command in exec form; empty when the image's own command is used.
    pub command: Vec<String>,
    /// The schema migration that runs before the service and its jobs start, when it has one.
    pub migration: Option<Migration>,
    /// The preset's entry point (`config.wsgi`, `app.main:app`, `app.py`, ...).
    pub entrypoint: String,
    /// The health endpoint path; `None` for workers.
    pub health_path: Option<String>,
    /// Metrics, when exposed.
    pub metrics: Option<Metrics>,
    /// Routes through the proxy.
    pub routes: Vec<Route>,
    /// The path prefix the app is told it lives under (Streamlit `baseUrlPath`, FastAPI
    /// `root_path`, Django `FORCE_SCRIPT_NAME`), when routed under an unstripped prefix.
    pub base_path: Option<String>,
    /// The variable that must also list the pod's own address on Kubernetes, where kubelet
    /// probes and Prometheus's pod scrapes send `Host: <pod IP>:<port>` (Django's
    /// DJANGO_ALLOWED_HOSTS: any other Host gets a 400).
    pub pod_address_hosts: Option<String>,
    /// Variables per environment name.
    pub env: BTreeMap<String, BTreeMap<String, Variable>>,
    /// Stores bound to the service.
    pub stores: Vec<String>,
    /// What must be healthy first.
    pub depends_on: Vec<Dependency>,
    /// Limits.
    pub resources: Option<Resources>,
    /// Where it runs, per environment name.
    pub deploy: BTreeMap<String, Placement>,
    /// Autoscaling on Kubernetes.
    pub autoscaling: Option<Autoscaling>,
    /// The Dockerfile path relative to the output root.
    pub dockerfile: String,
    /// Whether blueprint generates the Dockerfile (false for `custom`).
    pub generates_dockerfile: bool,
    /// The image repository without tag (`ghcr.io/acme/data-platform-api`).
    pub image: String,
    /// Lint command for CI.
    pub lint: Option<String>,
    /// Test command for CI.
    pub test: Option<String>,
    /// The Vercel project ID secret, when the service deploys to Vercel anywhere.
    pub vercel_project: Option<String>,
}

/// A service's schema migration: a one-shot run of its image before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    /// The one-shot's name (`api-migrate`): its Compose service and its init container.
    pub name: String,
    /// The command in exec form.
    pub command: Vec<String>,
}

impl Service {
    /// Whether the service runs as a container in `environment`.
    pub fn on_compose(&self, environment: &str) -> bool {
        self.deploy.get(environment) == Some(&Placement::Compose)
    }

    /// Whether the service runs as a Deployment in `environment`'s Kubernetes namespace.
    pub fn on_kubernetes(&self, environment: &str) -> bool {
        self.deploy.get(environment) == Some(&Placement::Kubernetes)
    }

    /// Whether the service runs as a container (Compose or Kubernetes) in `environment`.
    pub fn in_container(&self, environment: &str) -> bool {
        matches!(
            self.deploy.get(environment),
            Some(Placement::Compose | Placement::Kubernetes)
        )
    }

    /// Whether the service runs as a container (Compose or Kubernetes) in any environment, so
    /// its image is built and pushed.
    pub fn in_container_anywhere(&self) -> bool {
        self.deploy
            .values()
            .any(|t| matches!(t, Placement::Compose | Placement::Kubernetes))
    }

    /// Whether the service deploys to Vercel in any environment.
    pub fn on_vercel(&self) -> bool {
        self.deploy.values().any(|t| *t == Placement::Vercel)
    }

    /// Whether the service deploys to Vercel in `environment`.
    pub fn on_vercel_in(&self, environment: &str) -> bool {
        self.deploy.get(environment) == Some(&Placement::Vercel)
    }

    /// Whether this is a Python preset.
    pub fn is_python(&self) -> bool {
        matches!(
            self.runtime,
            Runtime::Django | Runtime::Fastapi | Runtime::Streamlit | Runtime::PythonWorker
        )
    }
}

/// A scheduled job.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// The service whose image it runs in.
    pub service: String,
    /// Five-field cron schedule, UTC.
    pub schedule: String,
    /// The command, exec form.
    pub command: Vec<String>,
    /// Kill after this many seconds.
    pub timeout_seconds: u64,
    /// The timeout as a duration (`30m`).
    pub timeout: String,
    /// An incident when no success for this many seconds.
    pub stale_after_seconds: u64,
    /// The staleness window as a duration (`2h`).
    pub stale_after: String,
}

/// A data store.
#[derive(Debug, Clone, Serialize)]
pub struct Store {
    /// Its name (its host name when it is a container).
    pub name: String,
    /// What it is.
    pub kind: StoreKind,
    /// Server version of the container image.
    pub version: String,
    /// The port the server listens on.
    pub port: u16,
    /// Bucket (`s3`).
    pub bucket: Option<String>,
    /// The variable carrying the connection URL (`postgres`, `redis`).
    pub url_env: Option<String>,
    /// The secret holding the container's password (PostgreSQL password, MinIO secret key).
    pub password_secret: Option<String>,
    /// The secret holding the access key ID (`s3`).
    pub access_key_secret: Option<String>,
    /// The scheduled dump of a `postgres` store.
    pub backup: Option<Backup>,
    /// The object versioning of an `s3` store with `backup`.
    pub versioning: Option<Versioning>,
    /// The Redis lists watched as work queues (`redis`).
    pub queues: Vec<String>,
}

/// How an `s3` store is protected: versioning keeps every overwritten or deleted object as a
/// noncurrent version, and one lifecycle rule expires those after the retention.
#[derive(Debug, Clone, Serialize)]
pub struct Versioning {
    /// Retention (`30d`).
    pub retention: String,
    /// How many days a noncurrent version is kept: the retention in days, rounded up (S3
    /// lifecycle rules count whole days).
    pub noncurrent_days: u64,
    /// Incomplete multipart uploads are aborted after this many days: their parts are billed
    /// and invisible, and no upload takes that long.
    pub abort_incomplete_upload_days: u64,
    /// The lifecycle rule's ID (`lake-noncurrent-versions`).
    pub rule_id: String,
    /// Where the request bodies are rendered, relative to the output root (`s3/lake`).
    pub dir: String,
}

/// Incomplete multipart uploads of a versioned bucket are aborted after this many days.
pub const ABORT_INCOMPLETE_UPLOAD_DAYS: u64 = 7;

/// A backup policy, and the scheduled job that carries it out.
#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    /// Cron schedule.
    pub schedule: String,
    /// Retention (`14d`).
    pub retention: String,
    /// Retention in days, rounded up.
    pub retention_days: u64,
    /// Retention in seconds: a dump older than this is deleted (never the newest).
    pub retention_seconds: u64,
    /// The target `s3` store.
    pub target: String,
    /// The job's name (`db-backup`): its Compose container, its CronJob, its Pushgateway group.
    pub job: String,
    /// The registry repository of the job's image, without tag
    /// (`ghcr.io/acme/data-cluster-db-backup`): CI pushes it where a cluster runs the backup.
    pub image: String,
    /// The key prefix of the dumps in the target bucket (`backups/db`), without a slash.
    pub prefix: String,
    /// Kill a run after this many seconds.
    pub timeout_seconds: u64,
    /// The longest gap between two scheduled runs, in seconds.
    pub interval_seconds: u64,
    /// BackupStale fires when no success was reported for this many seconds: twice the
    /// longest gap, so that one missed run is an incident and one slow run is not.
    pub stale_after_seconds: u64,
    /// The staleness window as a duration (`2d`).
    pub stale_after: String,
    /// The secret holding the passphrase dumps are encrypted with, when they are.
    pub encryption_secret: Option<String>,
    /// The scheduled restore test of the newest dump, when the blueprint asks for one.
    pub restore_test: Option<RestoreTest>,
}

/// The job that restores a store's newest dump into a throwaway PostgreSQL server inside its
/// own container, on its own schedule, to prove the dumps restore.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreTest {
    /// Cron schedule.
    pub schedule: String,
    /// The job's name (`db-restore-test`): its crontab line's, its CronJob's, its Pushgateway
    /// group's.
    pub job: String,
    /// Kill a run after this many seconds.
    pub timeout_seconds: u64,
    /// BackupRestoreTestStale fires when no success was reported for this many seconds: twice
    /// the longest gap of the schedule, as BackupStale.
    pub stale_after_seconds: u64,
    /// The staleness window as a duration (`2d`).
    pub stale_after: String,
}

/// The name of the backup job of store `store`: its Compose container, its CronJob, its
/// Pushgateway group.
pub fn backup_job_name(store: &str) -> String {
    format!("{store}-backup")
}

/// The name of the restore-test job of store `store`: its crontab line's, its CronJob's, its
/// Pushgateway group's.
pub fn restore_test_job_name(store: &str) -> String {
    format!("{store}-restore-test")
}

/// How long one backup run may take: a dump that takes longer than an hour needs a physical
/// backup (the provider's, or pgBackRest), not `pg_dump`.
pub const BACKUP_TIMEOUT_SECONDS: u64 = 3_600;

/// BackupTooSmall fires when a dump is smaller than this fraction of the one before it.
pub const BACKUP_TOO_SMALL_RATIO: f64 = 0.5;

/// The S3 endpoint backups go to when the target store is `managed` (AWS S3).
pub const MANAGED_S3_ENDPOINT: &str = "https://s3.amazonaws.com";

/// An internal tool behind the proxy.
#[derive(Debug, Clone, Serialize)]
pub struct Exposure {
    /// Which tool.
    pub tool: blueprint::InternalTool,
    /// Its path prefix.
    pub path: String,
    /// Basic auth from the mounted htpasswd file.
    pub basic_auth: bool,
    /// Allowed client networks; empty for any.
    pub allow: Vec<String>,
    /// The tool's container port.
    pub port: u16,
    /// The tool's container host name.
    pub host: String,
}

/// The reverse proxy.
#[derive(Debug, Clone, Serialize)]
pub struct Proxy {
    /// nginx or Caddy.
    pub engine: ProxyEngine,
    /// Request body limit (`10m`).
    pub body_limit: String,
    /// Content-Security-Policy.
    pub content_security_policy: String,
    /// ACME account e-mail.
    pub acme_email: Option<String>,
    /// Exposed internal tools, by tool.
    pub expose: Vec<Exposure>,
}

/// An alert family's resolved settings.
#[derive(Debug, Clone, Serialize)]
pub struct AlertFamily {
    /// Whether it is generated.
    pub enabled: bool,
    /// Its `for` duration.
    pub for_: String,
    /// Its threshold.
    pub threshold: f64,
    /// Its severity.
    pub severity: Severity,
}

/// The built-in alert families.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltinAlerts {
    /// `up == 0`.
    pub service_down: AlertFamily,
    /// `probe_success == 0`.
    pub probe_failed: AlertFamily,
    /// 5xx ratio.
    pub error_ratio: AlertFamily,
    /// p95 latency (seconds).
    pub latency_p95: AlertFamily,
    /// A job's last run failed.
    pub job_failed: AlertFamily,
    /// A job has not succeeded within its window.
    pub job_stale: AlertFamily,
    /// A queue holds more than `threshold` items.
    pub queue_backlog: AlertFamily,
    /// A queue is never empty and does not shrink.
    pub queue_stalled: AlertFamily,
}

/// A custom alert.
#[derive(Debug, Clone, Serialize)]
pub struct CustomAlert {
    /// The alert name.
    pub name: String,
    /// PromQL.
    pub expr: String,
    /// `for` duration.
    pub for_: String,
    /// Severity.
    pub severity: Severity,
    /// Summary.
    pub summary: String,
    /// Description.
    pub description: String,
    /// Runbook URL.
    pub runbook: String,
    /// The service or job label.
    pub service: Option<String>,
}

/// An alert receiver.
#[derive(Debug, Clone, Serialize)]
pub struct Receiver {
    /// Its name.
    pub name: String,
    /// Kind.
    pub kind: ReceiverKind,
    /// URL secret name (Slack, webhook).
    pub url_secret: Option<String>,
    /// Slack channel.
    pub channel: Option<String>,
    /// E-mail recipient.
    pub to: Option<String>,
    /// E-mail sender.
    pub from: Option<String>,
    /// SMTP `host:port`.
    pub smarthost: Option<String>,
    /// SMTP user.
    pub username: Option<String>,
    /// SMTP password secret name.
    pub password_secret: Option<String>,
}

/// A service level objective.
#[derive(Debug, Clone, Serialize)]
pub struct Slo {
    /// The service.
    pub service: String,
    /// Target in percent (`99.9`).
    pub availability: f64,
    /// The error budget as a ratio (`0.001`).
    pub error_budget: f64,
    /// Minimum requests per second before it pages.
    pub min_request_rate: f64,
}

/// Grafana.
#[derive(Debug, Clone, Serialize)]
pub struct Grafana {
    /// Whether it is generated.
    pub enabled: bool,
    /// Admin user name.
    pub admin_user: String,
    /// Admin password secret name.
    pub admin_password_secret: String,
    /// Whether dashboards are provisioned.
    pub dashboards: bool,
}

/// The monitoring stack.
#[derive(Debug, Clone, Serialize)]
pub struct Monitoring {
    /// Whether it is generated at all.
    pub enabled: bool,
    /// Scrape interval.
    pub scrape_interval: String,
    /// Rule evaluation interval.
    pub evaluation_interval: String,
    /// Sample retention.
    pub retention: String,
    /// Receivers, by name.
    pub receivers: Vec<Receiver>,
    /// Receiver names per severity (every severity present; possibly empty).
    pub routes: BTreeMap<Severity, Vec<String>>,
    /// The secret holding the heartbeat URL the `Watchdog` alert is sent to, if any.
    pub heartbeat_url_secret: Option<String>,
    /// Runbook base URL.
    pub runbook_base_url: String,
    /// Whether `runbook_base_url` is the project's own `docs/runbooks` on its main branch
    /// ([`repository_runbooks`]): only then does blueprint render the runbooks it links to.
    pub runbooks_in_repository: bool,
    /// Built-in families.
    pub alerts: BuiltinAlerts,
    /// Custom alerts, by name.
    pub custom_alerts: Vec<CustomAlert>,
    /// SLOs, by service.
    pub slos: Vec<Slo>,
    /// Grafana.
    pub grafana: Grafana,
    /// Rotate container logs at this size.
    pub log_max_size: String,
    /// Rotated log files kept.
    pub log_max_files: u32,
}

/// Below this many requests per second a service's rate alerts (HighErrorRatio,
/// HighLatencyP95, the SLO burn rates) do not fire, unless its SLO sets `min_request_rate`.
pub const DEFAULT_MIN_REQUEST_RATE: f64 = 0.1;

impl Monitoring {
    /// The secrets Alertmanager reads (receiver URLs and passwords, the heartbeat URL), in
    /// declaration order, possibly repeated.
    pub fn alertmanager_secrets(&self) -> impl Iterator<Item = &String> {
        self.receivers
            .iter()
            .flat_map(|r| [&r.url_secret, &r.password_secret])
            .chain([&self.heartbeat_url_secret])
            .flatten()
    }

    /// The minimum request rate below which `service`'s rate alerts stay quiet: its SLO's
    /// `min_request_rate`, or [`DEFAULT_MIN_REQUEST_RATE`].
    pub fn min_request_rate(&self, service: &str) -> f64 {
        self.slos
            .iter()
            .find(|s| s.service == service)
            .map_or(DEFAULT_MIN_REQUEST_RATE, |s| s.min_request_rate)
    }
}

/// CI settings.
#[derive(Debug, Clone, Serialize)]
pub struct Ci {
    /// Production branch.
    pub main_branch: String,
    /// Branch updates land on first.
    pub staging_branch: Option<String>,
    /// Dependabot interval.
    pub dependency_updates: UpdateInterval,
    /// Dependabot cooldown in days.
    pub update_cooldown_days: u32,
    /// Security scan cron.
    pub security_scan: String,
    /// Action pinning.
    pub pin_actions: ActionPinning,
    /// Trivy's severities that fail an image scan (`CRITICAL,HIGH`).
    pub scan_severities: &'static str,
}

/// Vercel settings.
#[derive(Debug, Clone, Serialize)]
pub struct Vercel {
    /// Token secret name.
    pub token_secret: String,
    /// Org ID secret name.
    pub org_secret: String,
}

/// Where a secret must be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretHome {
    /// In the environment's `.env.<env>` file on the Compose host.
    EnvFile,
    /// A key of the environment's Kubernetes `Secret` (`<project>-secrets` in its namespace).
    KubernetesSecret,
    /// A GitHub Actions secret (repository or environment).
    GitHub,
    /// A file the operator writes on the environment's Compose host, beside the Compose file
    /// (the proxy's `htpasswd`): its name is its path from the output root.
    HostFile,
}

/// The Kubernetes `Secret` that holds `secret` (one Secret per secret, so each is created,
/// rotated and granted on its own): `DJANGO_SECRET_KEY` lives in `django-secret-key`, under the
/// key `DJANGO_SECRET_KEY`.
pub fn kubernetes_secret_name(secret: &str) -> String {
    let kebab = secret.to_ascii_lowercase().replace('_', "-");
    let trimmed = kebab.trim_matches('-');
    if trimmed.is_empty() {
        "secret".to_string()
    } else {
        trimmed.to_string()
    }
}

/// One secret the rendered stack needs.
#[derive(Debug, Clone, Serialize)]
pub struct Secret {
    /// Its name.
    pub name: String,
    /// Where it must be set.
    pub home: SecretHome,
    /// Environments that need it (empty for repository-wide GitHub secrets).
    pub environments: BTreeSet<String>,
    /// Who reads it (`service api`, `grafana`, `workflow deploy`).
    pub used_by: BTreeSet<String>,
    /// Where its value comes from, so that a lost one can be recovered or replaced, by
    /// environment (`""` for a repository-wide secret): nothing can be read back from where
    /// it is set (GitHub and `.env` files are no backup).
    pub recovery: BTreeMap<String, String>,
}

/// The GitHub environment secrets the SSH deployment of a Compose environment reads.
pub const DEPLOY_SECRETS: DeploySecrets = DeploySecrets {
    host: "DEPLOY_HOST",
    user: "DEPLOY_USER",
    ssh_key: "DEPLOY_SSH_KEY",
    known_hosts: "DEPLOY_KNOWN_HOSTS",
};

/// Repository secrets holding registry credentials when the registry is not `ghcr.io` (where the
/// workflow's own token is used instead).
pub const REGISTRY_SECRETS: RegistrySecrets = RegistrySecrets {
    username: "REGISTRY_USERNAME",
    password: "REGISTRY_PASSWORD",
};

/// The registry whose credentials the workflow token provides.
pub const GITHUB_REGISTRY: &str = "ghcr.io";

/// The variables Caddy reads its basic-auth credentials from: a user name and a bcrypt hash.
pub const PROXY_BASIC_AUTH_SECRETS: [&str; 2] = ["PROXY_BASIC_AUTH_USER", "PROXY_BASIC_AUTH_HASH"];

/// The file nginx reads basic-auth credentials from, from the output root: written on each
/// Compose host by the operator (`htpasswd -B`), never generated or committed.
pub const HTPASSWD_FILE: &str = "proxy/htpasswd";

/// Names of the deployment's GitHub environment secrets.
#[derive(Debug, Clone, Copy)]
pub struct DeploySecrets {
    /// The Docker host's name or address.
    pub host: &'static str,
    /// The SSH user (in the `docker` group).
    pub user: &'static str,
    /// The private key (its public half in the user's `authorized_keys`).
    pub ssh_key: &'static str,
    /// The host's public keys, one `known_hosts` line each (from `ssh-keyscan`, checked out of
    /// band): the connection never trusts a key on first use.
    pub known_hosts: &'static str,
}

/// Names of the registry credential secrets.
#[derive(Debug, Clone, Copy)]
pub struct RegistrySecrets {
    /// The user name.
    pub username: &'static str,
    /// The password or token.
    pub password: &'static str,
}

/// The default Python version of Python presets.
pub const DEFAULT_PYTHON: &str = "3.12";
/// The default Node.js major version.
pub const DEFAULT_NODE: &str = "22";

/// The GitHub environment secret from which the deploy workflow reads a Kubernetes environment's
/// kubeconfig (base64-encoded, one line, so that GitHub masks it whole in logs).
pub const KUBE_CONFIG_SECRET: &str = "KUBE_CONFIG";

/// Ports of the bundled internal tools.
pub const GRAFANA_PORT: u16 = 3000;
/// Prometheus' port.
pub const PROMETHEUS_PORT: u16 = 9090;
/// Alertmanager's port.
pub const ALERTMANAGER_PORT: u16 = 9093;

fn default_tier(name: &str) -> Tier {
    match name {
        "dev" | "local" | "development" | "test" => Tier::Development,
        "prod" | "production" => Tier::Production,
        _ => Tier::Staging,
    }
}

/// Upper-cases a DNS label into a variable-name fragment (`ingest-prices` -> `INGEST_PRICES`).
pub fn env_fragment(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

impl Model {
    /// Resolves a validated blueprint.
    pub fn from_blueprint(bp: &Blueprint) -> Self {
        let project = Project {
            name: bp.project.name.clone(),
            description: bp.project.description.clone().unwrap_or_default(),
            repository: bp.project.repository.clone(),
            owner: bp
                .project
                .repository
                .split('/')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase(),
            registry: bp
                .project
                .registry
                .clone()
                .unwrap_or_else(|| "ghcr.io".to_string()),
        };

        let mut environments: Vec<Environment> = if bp.environments.is_empty() {
            vec![resolve_environment(
                &project.name,
                "dev",
                &blueprint::Environment::default(),
            )]
        } else {
            bp.environments
                .iter()
                .map(|(name, env)| resolve_environment(&project.name, name, env))
                .collect()
        };
        environments.sort_by(|a, b| (a.tier, &a.name).cmp(&(b.tier, &b.name)));

        let stores: Vec<Store> = bp
            .stores
            .iter()
            .map(|(name, s)| resolve_store(&project, name, s))
            .collect();

        let services = bp
            .services
            .iter()
            .map(|(name, s)| resolve_service(bp, &project, &environments, &stores, name, s))
            .collect();

        let jobs = bp
            .jobs
            .iter()
            .map(|(name, j)| resolve_job(name, j))
            .collect();

        let proxy = Proxy {
            engine: bp.proxy.engine,
            body_limit: bp.proxy.body_limit.clone().unwrap_or_else(|| "10m".into()),
            content_security_policy: bp
                .proxy
                .content_security_policy
                .clone()
                .unwrap_or_else(|| "frame-ancestors 'self'".into()),
            acme_email: bp.proxy.acme_email.clone(),
            expose: bp
                .proxy
                .expose
                .iter()
                .map(|(tool, e)| {
                    let (host, port) = match tool {
                        blueprint::InternalTool::Grafana => ("grafana", GRAFANA_PORT),
                        blueprint::InternalTool::Prometheus => ("prometheus", PROMETHEUS_PORT),
                        blueprint::InternalTool::Alertmanager => {
                            ("alertmanager", ALERTMANAGER_PORT)
                        }
                    };
                    Exposure {
                        tool: *tool,
                        path: e.path.clone().unwrap_or_else(|| format!("/{host}")),
                        basic_auth: e.basic_auth.unwrap_or(true),
                        allow: e.allow.clone(),
                        port,
                        host: host.to_string(),
                    }
                })
                .collect(),
        };

        let monitoring = resolve_monitoring(bp);

        let ci = Ci {
            main_branch: main_branch(bp),
            staging_branch: bp.ci.staging_branch.clone(),
            dependency_updates: bp.ci.dependency_updates.unwrap_or_default(),
            update_cooldown_days: bp.ci.update_cooldown_days.unwrap_or(7),
            security_scan: bp
                .ci
                .security_scan
                .clone()
                .unwrap_or_else(|| "0 5 * * 1".into()),
            pin_actions: bp.ci.pin_actions.unwrap_or_default(),
            scan_severities: bp.ci.scan_fails_on.unwrap_or_default().and_above(),
        };

        let vercel = Vercel {
            token_secret: bp
                .vercel
                .token
                .as_ref()
                .map_or_else(|| "VERCEL_TOKEN".into(), |s| s.secret.clone()),
            org_secret: bp
                .vercel
                .org
                .as_ref()
                .map_or_else(|| "VERCEL_ORG_ID".into(), |s| s.secret.clone()),
        };

        Self {
            project,
            environments,
            services,
            jobs,
            stores,
            proxy,
            monitoring,
            ci,
            vercel,
        }
    }

    /// The service called `name`.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The store called `name`.
    pub fn store(&self, name: &str) -> Option<&Store> {
        self.stores.iter().find(|s| s.name == name)
    }

    /// The environment called `name`.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The Kubernetes environments the deploy workflow applies: every one but development (which
    /// is applied by hand) that runs at least one service.
    pub fn deployed_clusters(&self) -> impl Iterator<Item = &Environment> {
        self.environments.iter().filter(|env| {
            env.on_kubernetes()
                && env.tier != Tier::Development
                && self.services.iter().any(|s| s.on_kubernetes(&env.name))
        })
    }

    /// The stores that are backed up, with their policy.
    pub fn backups(&self) -> impl Iterator<Item = (&Store, &Backup)> {
        self.stores
            .iter()
            .filter_map(|s| s.backup.as_ref().map(|b| (s, b)))
    }

    /// The `s3` stores protected by versioning, with their policy.
    pub fn versioned_buckets(&self) -> impl Iterator<Item = (&Store, &Versioning)> {
        self.stores
            .iter()
            .filter_map(|s| s.versioning.as_ref().map(|v| (s, v)))
    }

    /// The backups that run in a cluster: all of them when any environment runs on Kubernetes
    /// (each one's CronJob is in the shared base), none otherwise. Their images are pushed for
    /// the clusters to pull.
    pub fn cluster_backups(&self) -> impl Iterator<Item = (&Store, &Backup)> {
        let clusters = self.environments.iter().any(Environment::on_kubernetes);
        self.backups().filter(move |_| clusters)
    }

    /// The connection string a PostgreSQL or Redis store's exporter reads in `environment`, on either
    /// platform: the first bound service's own variable when there is one (the exporter follows
    /// any override), else the store's own URL. A database blueprint runs itself (a container, a
    /// StatefulSet) serves no TLS, which the exporter's driver would otherwise insist on.
    pub fn exporter_dsn(&self, store: &Store, environment: &Environment) -> Value {
        let provider = environment.provider(&store.name);
        let url_env = store.url_env.clone().unwrap_or_default();
        let bound = self
            .services
            .iter()
            .filter(|s| s.stores.contains(&store.name))
            .find_map(|s| {
                s.env
                    .get(&environment.name)
                    .and_then(|vars| vars.get(&url_env))
                    .map(|v| v.value.clone())
            });
        let mut url = bound.unwrap_or_else(|| {
            store_variables(store, provider)
                .into_iter()
                .next()
                .map(|(_, url)| url)
                .unwrap_or_else(|| Value::secret(url_env))
        });
        if provider == Provider::Container && store.kind == StoreKind::Postgres {
            let has_query = url
                .parts
                .iter()
                .any(|p| matches!(p, Part::Text(t) if t.contains('?')));
            url.parts.push(Part::Text(
                if has_query {
                    "&sslmode=disable"
                } else {
                    "?sslmode=disable"
                }
                .into(),
            ));
        }
        url
    }

    /// The variables the backup job of `store` reads in `environment`: where the database is
    /// (its connection URL, as the services get it), where the dumps go (the target store's
    /// endpoint, bucket and keys) and the policy (key prefix, retention). The backup and restore
    /// scripts read nothing else.
    pub fn backup_variables(
        &self,
        store: &Store,
        backup: &Backup,
        environment: &Environment,
    ) -> Vec<(String, Value)> {
        let mut vars = Vec::new();
        if let Some((_, url)) = store_variables(store, environment.provider(&store.name))
            .into_iter()
            .next()
        {
            vars.push(("BACKUP_DATABASE_URL".to_string(), url));
        }
        if let Some(target) = self.store(&backup.target) {
            let endpoint = match environment.provider(&target.name) {
                Provider::Container => format!("http://{}:{}", target.name, target.port),
                _ => MANAGED_S3_ENDPOINT.to_string(),
            };
            vars.push(("BACKUP_S3_ENDPOINT".to_string(), Value::text(endpoint)));
            vars.push((
                "BACKUP_S3_ACCESS_KEY_ID".to_string(),
                Value::secret(target.access_key_secret.clone().unwrap_or_default()),
            ));
            vars.push((
                "BACKUP_S3_SECRET_ACCESS_KEY".to_string(),
                Value::secret(target.password_secret.clone().unwrap_or_default()),
            ));
            vars.push((
                "BACKUP_BUCKET".to_string(),
                Value::text(target.bucket.clone().unwrap_or_default()),
            ));
        }
        vars.push(("BACKUP_PREFIX".to_string(), Value::text(&backup.prefix)));
        if let Some(secret) = &backup.encryption_secret {
            vars.push((
                "BACKUP_ENCRYPTION_KEY".to_string(),
                Value::secret(secret.clone()),
            ));
        }
        vars.push((
            "BACKUP_RETENTION_SECONDS".to_string(),
            Value::text(backup.retention_seconds.to_string()),
        ));
        vars
    }

    /// Stores that run as containers in `environment`.
    pub fn container_stores<'a>(
        &'a self,
        environment: &'a Environment,
    ) -> impl Iterator<Item = &'a Store> {
        self.stores
            .iter()
            .filter(move |s| environment.provider(&s.name) == Provider::Container)
    }

    /// Where blueprint renders the runbook `url` points at (`docs/runbooks/ServiceDown.md`):
    /// only for a URL directly under the project's own runbook directory, and only when the
    /// runbook base is that directory. `None` for any other URL, which the team keeps elsewhere.
    pub fn runbook_path(&self, url: &str) -> Option<String> {
        if !self.monitoring.runbooks_in_repository {
            return None;
        }
        let name = url
            .strip_prefix(&self.monitoring.runbook_base_url)?
            .strip_prefix('/')?
            .strip_suffix(".md")?;
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        plain.then(|| format!("{RUNBOOK_DIR}/{name}.md"))
    }

    /// Whether any service is routed through the proxy, or any tool exposed.
    pub fn has_proxy(&self) -> bool {
        self.services.iter().any(|s| !s.routes.is_empty()) || !self.proxy.expose.is_empty()
    }

    /// Whether the proxy of a Compose environment serves its own metrics to the monitoring
    /// stack (nginx's `stub_status`, Caddy's metrics), on a listener Compose does not publish.
    pub fn proxy_metrics(&self, environment: &Environment) -> bool {
        self.monitoring.enabled && self.has_proxy() && environment.on_compose()
    }

    /// The public HTTPS URL the monitoring stack probes in a Compose environment: the proxy's
    /// `/healthz` under the environment's domain, which answers on every site the proxy serves,
    /// so the probe sees the certificate visitors get (and its expiry). None without a proxy or
    /// without TLS (no certificate to watch).
    pub fn public_probe_url(&self, environment: &Environment) -> Option<String> {
        (self.has_proxy() && environment.tls && environment.on_compose()).then(|| {
            format!(
                "{}{}",
                environment.public_url(),
                PROXY_HEALTH_PATH.trim_start_matches('/')
            )
        })
    }

    /// Choices that work but deserve a second look, as (YAML path, explanation): `validate`
    /// and `render` print them as warnings without failing.
    pub fn cautions(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.monitoring.enabled && !self.monitoring.runbooks_in_repository {
            out.push((
                "monitoring.runbook_base_url".to_string(),
                format!(
                    "the runbooks are kept outside this repository ({}), so blueprint renders none: every alert's runbook_url must lead to a page you write there (blueprint renders them under {RUNBOOK_DIR}/ when the base is {})",
                    self.monitoring.runbook_base_url,
                    repository_runbooks(&self.project.repository, &self.ci.main_branch)
                ),
            ));
        }
        if self.monitoring.enabled && self.monitoring.receivers.is_empty() {
            // The stack harness proved it: ServiceDown fires and reaches Alertmanager, which hands
            // it to the `null` receiver. Valid, but nobody hears of an outage.
            out.push((
                "monitoring.receivers".to_string(),
                "no receiver is declared, so every alert goes to Alertmanager's `null` receiver and notifies no one: add one (slack, email or webhook)".to_string(),
            ));
        }
        for environment in self.environments.iter().filter(|e| e.on_kubernetes()) {
            for store in &self.stores {
                if store.kind == StoreKind::Postgres
                    && environment.provider(&store.name) == Provider::Container
                {
                    out.push((
                        format!("environments.{}.stores.{}", environment.name, store.name),
                        format!(
                            "`{}` runs inside the cluster as a single-replica StatefulSet: one pod and one volume, not highly available; use `supabase` or `managed` where downtime or data loss matters",
                            store.name
                        ),
                    ));
                }
            }
        }
        let clusters: Vec<&str> = self
            .environments
            .iter()
            .filter(|e| e.on_kubernetes())
            .map(|e| e.name.as_str())
            .collect();
        if self.monitoring.enabled && !clusters.is_empty() {
            for store in self.stores.iter().filter(|s| !s.queues.is_empty()) {
                out.push((
                    format!("stores.{}.queues", store.name),
                    format!(
                        "the queues are watched on Compose only: {} get no redis_exporter, so QueueBacklog and QueueStalled are left out of the cluster's rules (run a redis_exporter there as the job `{}-exporter` and add them as custom alerts)",
                        clusters
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        store.name
                    ),
                ));
            }
        }
        out
    }

    /// Jobs whose service satisfies `placed` (runs on Compose here, in a cluster there, ...).
    pub fn jobs_whose_service<'a>(
        &'a self,
        placed: impl Fn(&Service) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Job> {
        self.jobs
            .iter()
            .filter(move |j| self.service(&j.service).is_some_and(&placed))
    }

    /// Jobs that run in `service`'s image.
    pub fn jobs_of<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a Job> {
        self.jobs.iter().filter(move |j| j.service == service)
    }

    /// Every secret the rendered stack needs, by name: what services, stores, backups, the
    /// proxy, Alertmanager, Grafana and the workflows read, each with where it is set and how
    /// a lost one is recovered.
    pub fn secrets(&self) -> BTreeMap<String, Secret> {
        let mut out: BTreeMap<String, Secret> = BTreeMap::new();
        let mut add =
            |name: &str, home: SecretHome, env: Option<&str>, user: String, recovery: &str| {
                let entry = out.entry(name.to_string()).or_insert_with(|| Secret {
                    name: name.to_string(),
                    home,
                    environments: BTreeSet::new(),
                    used_by: BTreeSet::new(),
                    recovery: BTreeMap::new(),
                });
                if let Some(env) = env {
                    entry.environments.insert(env.to_string());
                }
                entry
                    .recovery
                    .entry(env.unwrap_or_default().to_string())
                    .or_insert_with(|| recovery.to_string());
                entry.used_by.insert(user);
            };
        for env in &self.environments {
            let home = if env.on_kubernetes() {
                SecretHome::KubernetesSecret
            } else {
                SecretHome::EnvFile
            };
            for service in &self.services {
                if !service.in_container(&env.name) {
                    continue;
                }
                if let Some(vars) = service.env.get(&env.name) {
                    for var in vars.values() {
                        for secret in var.value.secrets() {
                            add(
                                secret,
                                home,
                                Some(&env.name),
                                format!("service {}", service.name),
                                &self.recovery_of(secret, env),
                            );
                        }
                    }
                }
            }
            for store in self.container_stores(env) {
                for secret in [&store.password_secret, &store.access_key_secret]
                    .into_iter()
                    .flatten()
                {
                    add(
                        secret,
                        home,
                        Some(&env.name),
                        format!("store {}", store.name),
                        &self.recovery_of(secret, env),
                    );
                }
            }
            // Every environment runs the backups: Compose in its scheduler container, a cluster
            // as a CronJob.
            for (store, backup) in self.backups() {
                for (_, value) in self.backup_variables(store, backup, env) {
                    for secret in value.secrets() {
                        add(
                            secret,
                            home,
                            Some(&env.name),
                            format!("backup {}", backup.job),
                            &self.recovery_of(secret, env),
                        );
                    }
                }
            }
            // On Kubernetes the cluster's monitoring stack owns Grafana and Alertmanager, and
            // its ingress controller the routes.
            if !env.on_compose() {
                continue;
            }
            if self.proxy_basic_auth() {
                if self.proxy.engine == ProxyEngine::Caddy {
                    for secret in PROXY_BASIC_AUTH_SECRETS {
                        add(
                            secret,
                            home,
                            Some(&env.name),
                            "proxy".into(),
                            &self.recovery_of(secret, env),
                        );
                    }
                } else {
                    add(
                        HTPASSWD_FILE,
                        SecretHome::HostFile,
                        Some(&env.name),
                        "proxy".into(),
                        &self.recovery_of(HTPASSWD_FILE, env),
                    );
                }
            }
            if self.monitoring.enabled {
                if self.monitoring.grafana.enabled {
                    let secret = &self.monitoring.grafana.admin_password_secret;
                    add(
                        secret,
                        home,
                        Some(&env.name),
                        "grafana".into(),
                        &self.recovery_of(secret, env),
                    );
                }
                for secret in self.monitoring.alertmanager_secrets() {
                    add(
                        secret,
                        home,
                        Some(&env.name),
                        "alertmanager".into(),
                        &self.recovery_of(secret, env),
                    );
                }
            }
        }
        for env in self.deployed_compose_environments() {
            for secret in [
                DEPLOY_SECRETS.host,
                DEPLOY_SECRETS.user,
                DEPLOY_SECRETS.ssh_key,
                DEPLOY_SECRETS.known_hosts,
            ] {
                add(
                    secret,
                    SecretHome::GitHub,
                    Some(&env.name),
                    "workflow deploy".into(),
                    &self.recovery_of(secret, env),
                );
            }
        }
        for env in self.deployed_clusters() {
            add(
                KUBE_CONFIG_SECRET,
                SecretHome::GitHub,
                Some(&env.name),
                "workflow deploy".into(),
                &self.recovery_of(KUBE_CONFIG_SECRET, env),
            );
        }
        let any = self.environments.first();
        let repository_wide =
            |secret: &str| any.map_or_else(String::new, |e| self.recovery_of(secret, e));
        if self.pushes_images() && self.project.registry != GITHUB_REGISTRY {
            for secret in [REGISTRY_SECRETS.username, REGISTRY_SECRETS.password] {
                add(
                    secret,
                    SecretHome::GitHub,
                    None,
                    "workflow images".into(),
                    &repository_wide(secret),
                );
            }
        }
        if self.services.iter().any(Service::on_vercel) {
            for secret in [&self.vercel.token_secret, &self.vercel.org_secret] {
                add(
                    secret,
                    SecretHome::GitHub,
                    None,
                    "workflow deploy".into(),
                    &repository_wide(secret),
                );
            }
            for service in self.services.iter().filter(|s| s.on_vercel()) {
                if let Some(project) = &service.vercel_project {
                    add(
                        project,
                        SecretHome::GitHub,
                        None,
                        format!("workflow deploy ({})", service.name),
                        &repository_wide(project),
                    );
                }
            }
        }
        out
    }

    /// Where the value of secret `name` comes from in `environment`, and so how a lost one is
    /// recovered or replaced. Secrets are write-only where they are set (GitHub, a Kubernetes
    /// Secret the team may not read, an `.env` file on one host), so each names its source.
    pub fn recovery_of(&self, name: &str, environment: &Environment) -> String {
        let rotate = "then restart what reads it (docs/operations.md, Rotate a secret)";
        if name == HTPASSWD_FILE {
            return format!(
                "write it again on the host: `htpasswd -B -c {HTPASSWD_FILE} USER` (package apache2-utils); nothing else holds it"
            );
        }
        if name == PROXY_BASIC_AUTH_SECRETS[0] || name == PROXY_BASIC_AUTH_SECRETS[1] {
            return "choose a user and password again; the hash is `caddy hash-password --plaintext PASSWORD`".into();
        }
        if name == DEPLOY_SECRETS.host {
            return format!(
                "the address of `{}`'s Compose host, from your inventory",
                environment.name
            );
        }
        if name == DEPLOY_SECRETS.user {
            return format!(
                "the SSH user on `{}`'s Compose host, in its `docker` group",
                environment.name
            );
        }
        if name == DEPLOY_SECRETS.ssh_key {
            return "not readable back from GitHub: make a new key pair (`ssh-keygen -t ed25519 -N ''`), add the public half to the deploy user's authorized_keys, set the private half, remove the old key".into();
        }
        if name == DEPLOY_SECRETS.known_hosts {
            return "`ssh-keyscan HOST`, compared with the host's own key (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it) before it is trusted".into();
        }
        if name == KUBE_CONFIG_SECRET {
            return "from the cluster's provider, for a service account that may deploy to its namespace (docs/kubernetes.md); base64-encode it on one line".into();
        }
        if name == REGISTRY_SECRETS.username || name == REGISTRY_SECRETS.password {
            return format!(
                "a new access token from {}'s account settings; revoke the old one",
                self.project.registry
            );
        }
        if name == self.vercel.token_secret {
            return "a new token in Vercel's account settings (Tokens); revoke the old one".into();
        }
        if name == self.vercel.org_secret
            || self
                .services
                .iter()
                .any(|s| s.vercel_project.as_deref() == Some(name))
        {
            return "`vercel link` in the service's folder writes both IDs to .vercel/project.json"
                .into();
        }
        if name == self.monitoring.grafana.admin_password_secret {
            return format!(
                "choose a new one; Grafana keeps the first in its volume, so also run `grafana cli admin reset-admin-password NEW` in its container, {rotate}"
            );
        }
        if let Some(receiver) = self.monitoring.receivers.iter().find(|r| {
            r.url_secret.as_deref() == Some(name) || r.password_secret.as_deref() == Some(name)
        }) {
            let source = match receiver.kind {
                ReceiverKind::Slack => "a new incoming-webhook URL from the Slack app's settings",
                ReceiverKind::Email => "the SMTP account's password, from the mail provider",
                ReceiverKind::Webhook => "the URL from the receiving service",
            };
            return format!("{source}, {rotate}");
        }
        if self.monitoring.heartbeat_url_secret.as_deref() == Some(name) {
            return format!("the ping URL from the heartbeat service's check, {rotate}");
        }
        if let Some((store, backup)) = self
            .backups()
            .find(|(_, b)| b.encryption_secret.as_deref() == Some(name))
        {
            return format!(
                "cannot be recovered: without it no encrypted dump of `{}` can be restored. Keep a copy outside the stack (a password manager) from the day it is made; a new one applies to the next dump of {} only",
                store.name, backup.job
            );
        }
        for store in &self.stores {
            let provider = environment.provider(&store.name);
            if store.url_env.as_deref() == Some(name) && provider != Provider::Container {
                return format!(
                    "the connection string in the provider's dashboard (`{}` is {}), {rotate}",
                    store.name,
                    match provider {
                        Provider::Supabase => "on Supabase",
                        _ => "managed",
                    }
                );
            }
            if store.password_secret.as_deref() == Some(name)
                || store.access_key_secret.as_deref() == Some(name)
            {
                return match (store.kind, provider) {
                    (StoreKind::S3, Provider::Container) => format!(
                        "MinIO took it as its root credentials at first start and keeps them in its volume: set the same again, or change them with `mc admin` first, {rotate}"
                    ),
                    (StoreKind::S3, _) => format!(
                        "a new access key of the bucket's IAM user (the provider's console), then delete the old one, {rotate}"
                    ),
                    _ => format!(
                        "PostgreSQL took it at first start and keeps it in its volume: set the same again, or change it with `ALTER ROLE ... PASSWORD` first, {rotate}"
                    ),
                };
            }
        }
        format!(
            "your team's: blueprint knows only its name. Restore it from where you keep it, or make a new one, {rotate}"
        )
    }

    /// Compose environments the deploy workflow deploys (development runs on laptops).
    pub fn deployed_compose_environments(&self) -> Vec<&Environment> {
        self.environments
            .iter()
            .filter(|env| env.tier != Tier::Development)
            .filter(|env| self.services.iter().any(|s| s.on_compose(&env.name)))
            .collect()
    }

    /// Whether CI builds and pushes container images (a service runs in a container somewhere).
    pub fn pushes_images(&self) -> bool {
        self.services.iter().any(Service::in_container_anywhere)
    }

    /// Whether the proxy asks for credentials on some route (an exposed tool with basic auth).
    pub fn proxy_basic_auth(&self) -> bool {
        self.proxy.expose.iter().any(|e| e.basic_auth)
    }
}

fn resolve_environment(project: &str, name: &str, env: &blueprint::Environment) -> Environment {
    let tier = env.tier.unwrap_or_else(|| default_tier(name));
    let development = tier == Tier::Development;
    let tls = env.tls.unwrap_or(!development);
    Environment {
        name: name.to_string(),
        tier,
        domain: env.domain.clone().unwrap_or_else(|| "localhost".into()),
        log_level: env.log_level.unwrap_or(match tier {
            Tier::Development => LogLevel::Debug,
            Tier::Staging => LogLevel::Info,
            Tier::Production => LogLevel::Warning,
        }),
        tls,
        hardening: env.hardening.unwrap_or(!development),
        hsts: tls && tier == Tier::Production,
        replicas: env.replicas.unwrap_or(1),
        publish_app_ports: development,
        restart: !development,
        providers: env.stores.clone(),
        platform: env.platform.unwrap_or(Platform::Compose),
        kubernetes: (env.platform == Some(Platform::Kubernetes)).then(|| {
            resolve_kubernetes(
                project,
                name,
                env.kubernetes.as_ref().unwrap_or(&Default::default()),
            )
        }),
    }
}

fn resolve_kubernetes(
    project: &str,
    environment: &str,
    k: &blueprint::KubernetesSettings,
) -> Kubernetes {
    let routing = k.routing.unwrap_or_default();
    let (gateway_namespace, gateway_name) = k
        .gateway
        .as_deref()
        .and_then(|g| g.split_once('/'))
        .map_or(("gateway-system", "gateway"), |(ns, name)| (ns, name));
    let monitoring_namespace = k
        .monitoring_namespace
        .clone()
        .unwrap_or_else(|| "monitoring".into());
    Kubernetes {
        namespace: k
            .namespace
            .clone()
            .unwrap_or_else(|| format!("{project}-{environment}")),
        routing,
        ingress_class: k.ingress_class.clone().unwrap_or_else(|| "nginx".into()),
        cluster_issuer: k
            .cluster_issuer
            .clone()
            .unwrap_or_else(|| "letsencrypt".into()),
        gateway_namespace: gateway_namespace.to_string(),
        gateway_name: gateway_name.to_string(),
        ingress_namespace: k
            .ingress_namespace
            .clone()
            .unwrap_or_else(|| match routing {
                Routing::Ingress => "ingress-nginx".into(),
                Routing::Gateway => gateway_namespace.to_string(),
            }),
        blackbox_exporter: k.blackbox_exporter.clone().unwrap_or_else(|| {
            format!("prometheus-blackbox-exporter.{monitoring_namespace}.svc:9115")
        }),
        pushgateway: k
            .pushgateway
            .clone()
            .unwrap_or_else(|| format!("prometheus-pushgateway.{monitoring_namespace}.svc:9091")),
        prometheus_release: k
            .prometheus_release
            .clone()
            .unwrap_or_else(|| "kube-prometheus-stack".into()),
        monitoring_namespace,
    }
}

/// The registry repository, without tag, of the project's image `component` (a service's, a
/// backup job's): `ghcr.io/acme/data-platform-api`.
fn image_repository(project: &Project, component: &str) -> String {
    format!(
        "{}/{}/{}-{component}",
        project.registry, project.owner, project.name
    )
}

fn resolve_store(project: &Project, name: &str, s: &blueprint::Store) -> Store {
    let upper = env_fragment(name);
    let (version, port) = match s.kind {
        StoreKind::Postgres => ("16", 5432),
        StoreKind::Redis => ("7", 6379),
        StoreKind::S3 => ("", 9000),
    };
    Store {
        name: name.to_string(),
        kind: s.kind,
        version: s.version.clone().unwrap_or_else(|| version.to_string()),
        port,
        bucket: (s.kind == StoreKind::S3)
            .then(|| s.bucket.clone().unwrap_or_else(|| name.to_string())),
        url_env: match s.kind {
            StoreKind::Postgres => Some(s.url_env.clone().unwrap_or_else(|| "DATABASE_URL".into())),
            StoreKind::Redis => Some(s.url_env.clone().unwrap_or_else(|| "REDIS_URL".into())),
            StoreKind::S3 => None,
        },
        password_secret: match s.kind {
            StoreKind::Postgres => Some(format!("{upper}_PASSWORD")),
            StoreKind::S3 => Some(format!("{upper}_SECRET_ACCESS_KEY")),
            StoreKind::Redis => None,
        },
        access_key_secret: (s.kind == StoreKind::S3).then(|| format!("{upper}_ACCESS_KEY_ID")),
        queues: s.queues.clone(),
        versioning: s
            .backup
            .as_ref()
            .filter(|_| s.kind == StoreKind::S3)
            .map(|b| Versioning {
                retention: b.retention.clone(),
                noncurrent_days: parse_duration(&b.retention)
                    .unwrap_or(86_400)
                    .div_ceil(86_400)
                    .max(1),
                abort_incomplete_upload_days: ABORT_INCOMPLETE_UPLOAD_DAYS,
                rule_id: format!("{name}-noncurrent-versions"),
                dir: format!("s3/{name}"),
            }),
        // Validation guarantees a schedule and a target on a `postgres` store's backup.
        backup: s
            .backup
            .as_ref()
            .filter(|_| s.kind == StoreKind::Postgres)
            .map(|b| {
                let schedule = b.schedule.clone().unwrap_or_default();
                let retention_seconds = parse_duration(&b.retention).unwrap_or(86_400);
                let interval_seconds = longest_gap_seconds(&schedule);
                let stale_after_seconds = interval_seconds.saturating_mul(2);
                let restore_test = b.restore_test.as_ref().map(|schedule| {
                    let stale_after_seconds = longest_gap_seconds(schedule).saturating_mul(2);
                    RestoreTest {
                        schedule: normalized_schedule(schedule),
                        job: restore_test_job_name(name),
                        // A restore takes about as long as the dump, plus the scratch server.
                        timeout_seconds: BACKUP_TIMEOUT_SECONDS,
                        stale_after_seconds,
                        stale_after: format_duration(stale_after_seconds),
                    }
                });
                Backup {
                    schedule: normalized_schedule(&schedule),
                    retention: b.retention.clone(),
                    retention_days: retention_seconds.div_ceil(86_400),
                    retention_seconds,
                    target: b.target.clone().unwrap_or_default(),
                    job: backup_job_name(name),
                    image: image_repository(project, &backup_job_name(name)),
                    prefix: format!("backups/{name}"),
                    timeout_seconds: BACKUP_TIMEOUT_SECONDS,
                    interval_seconds,
                    stale_after_seconds,
                    stale_after: format_duration(stale_after_seconds),
                    encryption_secret: b.encryption_key.as_ref().map(|k| k.secret.clone()),
                    restore_test,
                }
            }),
    }
}

/// The longest gap between two runs of cron `schedule`, in seconds; a day where validation has
/// not vouched for it (it refuses a schedule that never runs).
fn longest_gap_seconds(schedule: &str) -> u64 {
    Cron::parse(schedule)
        .ok()
        .and_then(|c| c.longest_gap_seconds())
        .unwrap_or(86_400)
}

/// A cron schedule as rendered: its fields separated by one space.
fn normalized_schedule(schedule: &str) -> String {
    schedule.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The variables a store binding injects into a service in one environment.
fn store_variables(store: &Store, provider: Provider) -> Vec<(String, Value)> {
    match (store.kind, provider) {
        (StoreKind::Postgres, Provider::Container) => {
            let url_env = store.url_env.clone().unwrap_or_default();
            vec![(
                url_env,
                Value {
                    parts: vec![
                        Part::Text("postgres://app:".into()),
                        Part::Secret(store.password_secret.clone().unwrap_or_default()),
                        Part::Text(format!("@{}:{}/app", store.name, store.port)),
                    ],
                },
            )]
        }
        (StoreKind::Redis, Provider::Container) => vec![(
            store.url_env.clone().unwrap_or_default(),
            Value::text(format!("redis://{}:{}/0", store.name, store.port)),
        )],
        (StoreKind::Postgres | StoreKind::Redis, _) => {
            let url_env = store.url_env.clone().unwrap_or_default();
            vec![(url_env.clone(), Value::secret(url_env))]
        }
        (StoreKind::S3, provider) => {
            let mut vars = vec![
                (
                    "S3_BUCKET".to_string(),
                    Value::text(store.bucket.clone().unwrap_or_default()),
                ),
                (
                    "AWS_ACCESS_KEY_ID".to_string(),
                    Value::secret(store.access_key_secret.clone().unwrap_or_default()),
                ),
                (
                    "AWS_SECRET_ACCESS_KEY".to_string(),
                    Value::secret(store.password_secret.clone().unwrap_or_default()),
                ),
            ];
            if provider == Provider::Container {
                vars.push((
                    "S3_ENDPOINT_URL".to_string(),
                    Value::text(format!("http://{}:{}", store.name, store.port)),
                ));
            }
            vars
        }
    }
}

fn resolve_service(
    bp: &Blueprint,
    project: &Project,
    environments: &[Environment],
    stores: &[Store],
    name: &str,
    s: &blueprint::Service,
) -> Service {
    let runtime = s.runtime;
    let version = match runtime {
        Runtime::Node => s.version.clone().unwrap_or_else(|| DEFAULT_NODE.into()),
        Runtime::Static | Runtime::Custom => s.version.clone().unwrap_or_default(),
        _ => s.version.clone().unwrap_or_else(|| DEFAULT_PYTHON.into()),
    };
    let path = normalize_path(&s.path);
    let port = match runtime {
        // A custom image without a declared port is treated as a worker: nothing to probe.
        Runtime::PythonWorker | Runtime::Custom => s.port,
        _ => Some(s.port.unwrap_or(match runtime {
            Runtime::Streamlit => 8501,
            Runtime::Node => 3000,
            Runtime::Static => 8080,
            _ => 8000,
        })),
    };
    let entrypoint = s.entrypoint.clone().unwrap_or_else(|| {
        match runtime {
            Runtime::Django => "config.wsgi",
            Runtime::Fastapi => "app.main:app",
            Runtime::Streamlit => "app.py",
            Runtime::PythonWorker => "worker",
            Runtime::Node => "server.js",
            Runtime::Static | Runtime::Custom => "",
        }
        .to_string()
    });

    let routes: Vec<Route> = s
        .routes
        .iter()
        .map(|r| {
            let path = r.path.clone().unwrap_or_else(|| "/".into());
            let knows_base_path = matches!(
                runtime,
                Runtime::Streamlit | Runtime::Fastapi | Runtime::Django
            );
            Route {
                host: r.host.clone(),
                strip_prefix: r.strip_prefix.unwrap_or(!knows_base_path && path != "/"),
                path,
                websocket: r.websocket.unwrap_or(runtime == Runtime::Streamlit),
                rate_limit: r.rate_limit,
                sticky: runtime == Runtime::Streamlit,
            }
        })
        .collect();
    // Streamlit and FastAPI serve their routes under the prefix they are told, so the proxy passes
    // the full URI. Django's URLconf names its own prefixes (`api/`, `admin/`): with the full URI
    // it needs no script name (FORCE_SCRIPT_NAME would make reverse() say `/api/api/...`), and
    // only a route whose prefix the proxy strips must be given back as FORCE_SCRIPT_NAME.
    let base_path = routes
        .iter()
        .find(|r| r.path != "/" && r.strip_prefix == (runtime == Runtime::Django))
        .map(|r| r.path.trim_end_matches('/').to_string());

    let migrate = s.migrate.clone().unwrap_or_else(|| match runtime {
        Runtime::Django => ["python", "manage.py", "migrate", "--noinput"]
            .map(String::from)
            .to_vec(),
        _ => Vec::new(),
    });
    let migration = (!migrate.is_empty()).then(|| Migration {
        name: format!("{name}-migrate"),
        command: migrate,
    });
    let command_is_default = s.command.is_none();
    let command = s.command.clone().unwrap_or_else(|| {
        let port = port.unwrap_or_default().to_string();
        let mut cmd: Vec<String> = match runtime {
            Runtime::Django => vec![
                "gunicorn".into(),
                format!("{entrypoint}:application"),
                "--bind".into(),
                format!("0.0.0.0:{port}"),
                "--workers".into(),
                "2".into(),
                "--access-logfile".into(),
                "-".into(),
            ],
            Runtime::Fastapi => {
                let mut c = vec![
                    "uvicorn".into(),
                    entrypoint.clone(),
                    "--host".into(),
                    "0.0.0.0".into(),
                    "--port".into(),
                    port.clone(),
                    "--proxy-headers".into(),
                    "--forwarded-allow-ips".into(),
                    "*".into(),
                ];
                if let Some(base) = &base_path {
                    c.push("--root-path".into());
                    c.push(base.clone());
                }
                c
            }
            Runtime::Streamlit => {
                let mut c = vec![
                    "streamlit".into(),
                    "run".into(),
                    entrypoint.clone(),
                    format!("--server.port={port}"),
                    "--server.address=0.0.0.0".into(),
                    "--server.headless=true".into(),
                    "--browser.gatherUsageStats=false".into(),
                ];
                if let Some(base) = &base_path {
                    c.push(format!(
                        "--server.baseUrlPath={}",
                        base.trim_start_matches('/')
                    ));
                }
                c
            }
            Runtime::PythonWorker => vec!["python".into(), "-m".into(), entrypoint.clone()],
            Runtime::Node => vec!["node".into(), entrypoint.clone()],
            Runtime::Static | Runtime::Custom => vec![],
        };
        cmd.retain(|c| !c.is_empty());
        cmd
    });

    let health_path =
        match runtime {
            Runtime::PythonWorker => s.health.clone(),
            // Streamlit serves its own endpoints under `baseUrlPath` too.
            Runtime::Streamlit => Some(s.health.clone().unwrap_or_else(|| {
                format!("{}/_stcore/health", base_path.as_deref().unwrap_or(""))
            })),
            _ => Some(s.health.clone().unwrap_or_else(|| "/healthz".into())),
        };

    let metrics_default_on = matches!(runtime, Runtime::Django | Runtime::Fastapi | Runtime::Node);
    let metrics = {
        let m = s.metrics.clone().unwrap_or_default();
        let enabled = m
            .enabled
            .unwrap_or(metrics_default_on || s.metrics.is_some());
        (enabled && port.is_some()).then(|| {
            let (requests_total, status_label, duration) = match runtime {
                Runtime::Django => (
                    "django_http_responses_total_by_status_total",
                    "status",
                    "django_http_requests_latency_seconds_by_view_method",
                ),
                Runtime::Node => (
                    "http_request_duration_seconds_count",
                    "status_code",
                    "http_request_duration_seconds",
                ),
                // prometheus-fastapi-instrumentator's labelled `http_request_duration_seconds`
                // has three buckets (0.1, 0.5, 1): a p95 over them is an interpolation, and one
                // above 1 s reads as 1 s, so HighLatencyP95 over 1 s could never fire. Its
                // unlabelled `_highr_` histogram has the resolution (0.01 s to 60 s).
                Runtime::Fastapi => (
                    "http_requests_total",
                    "status",
                    "http_request_duration_highr_seconds",
                ),
                _ => (
                    "http_requests_total",
                    "status",
                    "http_request_duration_seconds",
                ),
            };
            Metrics {
                path: m.path.clone().unwrap_or_else(|| "/metrics".into()),
                requests_total: m
                    .requests_total
                    .clone()
                    .unwrap_or_else(|| requests_total.into()),
                status_label: m
                    .status_label
                    .clone()
                    .unwrap_or_else(|| status_label.into()),
                duration_histogram: m
                    .duration_histogram
                    .clone()
                    .unwrap_or_else(|| duration.into()),
            }
        })
    };

    let deploy: BTreeMap<String, Placement> = environments
        .iter()
        .map(|env| {
            let target = blueprint::Deploy::target_in(s.deploy.as_ref(), &env.name);
            let placement = match (target, env.platform) {
                (DeployTarget::Vercel, _) => Placement::Vercel,
                (DeployTarget::Compose, Platform::Compose) => Placement::Compose,
                (DeployTarget::Compose, Platform::Kubernetes) => Placement::Kubernetes,
            };
            (env.name.clone(), placement)
        })
        .collect();

    let mut env_by_environment = BTreeMap::new();
    for env in environments {
        let mut vars: BTreeMap<String, Variable> = BTreeMap::new();
        vars.insert(
            "LOG_LEVEL".into(),
            Variable {
                value: Value::text(log_level_name(env.log_level, runtime)),
                origin: Origin::Builtin,
            },
        );
        if let (Some(base), Runtime::Django) = (&base_path, runtime) {
            vars.insert(
                "FORCE_SCRIPT_NAME".into(),
                Variable {
                    value: Value::text(base.clone()),
                    origin: Origin::Builtin,
                },
            );
        }
        for store_name in &s.stores {
            if let Some(store) = stores.iter().find(|st| &st.name == store_name) {
                for (key, value) in store_variables(store, env.provider(store_name)) {
                    vars.insert(
                        key,
                        Variable {
                            value,
                            origin: Origin::Store,
                        },
                    );
                }
            }
        }
        let layers = [(&s.env, Origin::Service)];
        let env_layer = bp
            .environments
            .get(&env.name)
            .map(|e| (&e.env, Origin::Environment));
        for (map, origin) in layers.into_iter().chain(env_layer) {
            for (key, raw) in map {
                if let Some(value) = resolve_env_value(raw, &env.name) {
                    vars.insert(key.clone(), Variable { value, origin });
                }
            }
        }
        if runtime == Runtime::Django && port.is_some() {
            let placement = deploy.get(&env.name).copied().unwrap_or(Placement::Compose);
            admit_hosts(
                &mut vars,
                &env.domain,
                &internal_hosts(project, name, env, placement),
            );
        }
        if command_is_default && runtime == Runtime::Django {
            // gunicorn's workers are separate processes: without a shared directory each scrape
            // reads one worker's counters. /tmp is the container's own scratch space (a tmpfs in
            // Compose, an emptyDir on Kubernetes), empty at every start as the client requires.
            vars.insert(
                "PROMETHEUS_MULTIPROC_DIR".into(),
                Variable {
                    value: Value::text("/tmp"),
                    origin: Origin::Builtin,
                },
            );
        }
        env_by_environment.insert(env.name.clone(), vars);
    }

    let depends_on = s
        .depends_on
        .iter()
        .map(|d| Dependency {
            name: d.clone(),
            kind: if bp.services.contains_key(d) {
                DependencyKind::Service
            } else {
                DependencyKind::Store
            },
        })
        .collect();

    let dockerfile_name = s.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into());
    let dockerfile = if path == "." {
        dockerfile_name
    } else {
        format!("{path}/{dockerfile_name}")
    };

    let vercel_project = deploy.values().any(|t| *t == Placement::Vercel).then(|| {
        bp.vercel.projects.get(name).map_or_else(
            || format!("VERCEL_PROJECT_ID_{}", env_fragment(name)),
            |s| s.secret.clone(),
        )
    });

    Service {
        name: name.to_string(),
        runtime,
        path,
        version,
        port,
        command,
        migration,
        entrypoint,
        health_path,
        metrics,
        routes,
        base_path,
        pod_address_hosts: (runtime == Runtime::Django && port.is_some())
            .then(|| "DJANGO_ALLOWED_HOSTS".to_string()),
        env: env_by_environment,
        stores: s.stores.clone(),
        depends_on,
        autoscaling: s.autoscaling.as_ref().map(|a| Autoscaling {
            min_replicas: a.min_replicas,
            max_replicas: a.max_replicas,
            cpu_percent: a.cpu_percent.unwrap_or(70),
        }),
        resources: s.resources.as_ref().map(|r| Resources {
            cpus: r.cpus,
            memory: r.memory.clone(),
        }),
        deploy,
        dockerfile,
        generates_dockerfile: runtime != Runtime::Custom,
        image: image_repository(project, name),
        lint: s.lint.clone(),
        test: s.test.clone(),
        vercel_project,
    }
}

fn log_level_name(level: LogLevel, runtime: Runtime) -> &'static str {
    // Python's logging spells the levels in upper case; Node.js loggers in lower case.
    let python = runtime != Runtime::Node && runtime != Runtime::Static;
    match (level, python) {
        (LogLevel::Debug, true) => "DEBUG",
        (LogLevel::Info, true) => "INFO",
        (LogLevel::Warning, true) => "WARNING",
        (LogLevel::Error, true) => "ERROR",
        (LogLevel::Debug, false) => "debug",
        (LogLevel::Info, false) => "info",
        (LogLevel::Warning, false) => "warn",
        (LogLevel::Error, false) => "error",
    }
}

fn resolve_env_value(raw: &blueprint::EnvValue, environment: &str) -> Option<Value> {
    match raw {
        blueprint::EnvValue::Plain(text) => Some(Value::text(text.clone())),
        blueprint::EnvValue::Secret(secret) => Some(Value::secret(secret.secret.clone())),
        blueprint::EnvValue::PerEnvironment(per) => per
            .per_env
            .get(environment)
            .or(per.default.as_ref())
            .map(|v| Value::text(v.clone())),
    }
}

fn resolve_job(name: &str, j: &blueprint::Job) -> Job {
    let timeout_seconds = j
        .timeout
        .as_deref()
        .and_then(parse_duration)
        .unwrap_or(1_800);
    let stale_after_seconds = j
        .stale_after
        .as_deref()
        .and_then(parse_duration)
        .unwrap_or_else(|| (longest_gap_seconds(&j.schedule) * 3).max(3_600));
    Job {
        name: name.to_string(),
        description: j
            .description
            .clone()
            .unwrap_or_else(|| format!("Scheduled job {name}")),
        service: j.service.clone(),
        schedule: normalized_schedule(&j.schedule),
        command: j.command.clone(),
        timeout_seconds,
        timeout: format_duration(timeout_seconds),
        stale_after_seconds,
        stale_after: format_duration(stale_after_seconds),
    }
}

/// The directory, relative to the output root (the repository root), that holds the rendered
/// runbooks.
pub const RUNBOOK_DIR: &str = "docs/runbooks";

/// The URL of [`RUNBOOK_DIR`] in the project's own repository on its main branch: the default
/// runbook base, and the only base under which blueprint renders runbooks.
/// The path every site of the proxy answers `ok` at, whatever the routes.
pub const PROXY_HEALTH_PATH: &str = "/healthz";

pub fn repository_runbooks(repository: &str, main_branch: &str) -> String {
    format!("https://github.com/{repository}/blob/{main_branch}/{RUNBOOK_DIR}")
}

/// The main branch: `ci.main_branch`, `main` by default.
fn main_branch(bp: &Blueprint) -> String {
    bp.ci.main_branch.clone().unwrap_or_else(|| "main".into())
}

fn resolve_monitoring(bp: &Blueprint) -> Monitoring {
    let m = &bp.monitoring;
    let own_runbooks = repository_runbooks(&bp.project.repository, &main_branch(bp));
    // A family without a threshold (`threshold` is not in its schema) keeps 0.0, unused.
    let family = |t: &blueprint::AlertToggle,
                  threshold: Option<f64>,
                  for_: &str,
                  default_threshold: f64,
                  severity: Severity| AlertFamily {
        enabled: t.enabled.unwrap_or(true),
        for_: t.for_.clone().unwrap_or_else(|| for_.to_string()),
        threshold: threshold.unwrap_or(default_threshold),
        severity: t.severity.unwrap_or(severity),
    };
    let a = &m.alerts;
    let runbook_base_url = m
        .runbook_base_url
        .clone()
        .unwrap_or_else(|| own_runbooks.clone())
        .trim_end_matches('/')
        .to_string();
    let runbooks_in_repository = runbook_base_url == own_runbooks;
    let receivers: Vec<Receiver> = m
        .receivers
        .iter()
        .map(|(name, r)| Receiver {
            name: name.clone(),
            kind: r.kind,
            url_secret: r.url.as_ref().map(|s| s.secret.clone()),
            channel: r.channel.clone(),
            to: r.to.clone(),
            from: r.from.clone(),
            smarthost: r.smarthost.clone(),
            username: r.username.clone(),
            password_secret: r.password.as_ref().map(|s| s.secret.clone()),
        })
        .collect();
    let all_receivers: Vec<String> = receivers.iter().map(|r| r.name.clone()).collect();
    let routes = [Severity::Critical, Severity::Warning, Severity::Info]
        .into_iter()
        .map(|sev| {
            let names = if m.routes.is_empty() {
                all_receivers.clone()
            } else {
                m.routes.get(&sev).cloned().unwrap_or_default()
            };
            (sev, names)
        })
        .collect();
    let scrape_interval = m.scrape_interval.clone().unwrap_or_else(|| "15s".into());
    Monitoring {
        enabled: m.enabled.unwrap_or(true),
        evaluation_interval: m
            .evaluation_interval
            .clone()
            .unwrap_or_else(|| scrape_interval.clone()),
        scrape_interval,
        retention: m.retention.clone().unwrap_or_else(|| "15d".into()),
        receivers,
        routes,
        heartbeat_url_secret: m.heartbeat.as_ref().map(|h| h.url.secret.clone()),
        alerts: BuiltinAlerts {
            service_down: family(&a.service_down, None, "2m", 0.0, Severity::Critical),
            probe_failed: family(&a.probe_failed, None, "2m", 0.0, Severity::Critical),
            error_ratio: family(
                &a.error_ratio.toggle(),
                a.error_ratio.threshold,
                "10m",
                0.05,
                Severity::Warning,
            ),
            latency_p95: family(
                &a.latency_p95.toggle(),
                a.latency_p95.threshold,
                "10m",
                1.0,
                Severity::Warning,
            ),
            job_failed: family(&a.job_failed, None, "0s", 0.0, Severity::Warning),
            job_stale: family(&a.job_stale, None, "0s", 0.0, Severity::Critical),
            queue_backlog: family(
                &a.queue_backlog.toggle(),
                a.queue_backlog.threshold,
                "10m",
                1000.0,
                Severity::Warning,
            ),
            queue_stalled: family(&a.queue_stalled, None, "15m", 0.0, Severity::Critical),
        },
        custom_alerts: m
            .custom_alerts
            .iter()
            .map(|(name, a)| CustomAlert {
                name: name.clone(),
                expr: a.expr.trim().to_string(),
                for_: a.for_.clone().unwrap_or_else(|| "5m".into()),
                severity: a.severity,
                summary: a.summary.clone(),
                description: a.description.clone().unwrap_or_else(|| a.summary.clone()),
                runbook: a
                    .runbook
                    .clone()
                    .unwrap_or_else(|| format!("{runbook_base_url}/{name}.md")),
                service: a.service.clone(),
            })
            .collect(),
        slos: m
            .slos
            .iter()
            .map(|(service, slo)| Slo {
                service: service.clone(),
                availability: slo.availability,
                error_budget: ((100.0 - slo.availability) / 100.0 * 1e6).round() / 1e6,
                min_request_rate: slo.min_request_rate.unwrap_or(DEFAULT_MIN_REQUEST_RATE),
            })
            .collect(),
        runbook_base_url,
        runbooks_in_repository,
        grafana: Grafana {
            enabled: m.grafana.enabled.unwrap_or(true),
            admin_user: m
                .grafana
                .admin_user
                .clone()
                .unwrap_or_else(|| "admin".into()),
            admin_password_secret: m
                .grafana
                .admin_password
                .as_ref()
                .map_or_else(|| "GRAFANA_ADMIN_PASSWORD".into(), |s| s.secret.clone()),
            dashboards: m.grafana.dashboards.unwrap_or(true),
        },
        log_max_size: m.logs.max_size.clone().unwrap_or_else(|| "10m".into()),
        log_max_files: m.logs.max_files.unwrap_or(3),
    }
}

/// Normalizes a relative source path: no `./` prefix, no trailing `/`, `.` for the root.
pub fn normalize_path(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// The host names a service's containers answer to on Compose, one per container: the service
/// name with one replica; with several, the names Compose gives each replica container
/// (`<project>-<service>-<n>`), which Docker's DNS resolves one by one.
pub fn compose_hosts(project: &str, service: &str, replicas: u32) -> Vec<String> {
    if replicas <= 1 {
        return vec![service.to_string()];
    }
    (1..=replicas)
        .map(|n| format!("{project}-{service}-{n}"))
        .collect()
}

/// Every Host header the render itself sends a service: its health checks (`127.0.0.1` inside
/// the container, `localhost` from probes), the proxy and the blackbox probe (the service name),
/// Prometheus (each container's name), and on Kubernetes the Service's names in the namespace.
fn internal_hosts(
    project: &Project,
    service: &str,
    env: &Environment,
    placement: Placement,
) -> Vec<String> {
    let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    match (placement, &env.kubernetes) {
        (Placement::Kubernetes, Some(k)) => {
            let ns = &k.namespace;
            hosts.push(service.to_string());
            hosts.push(format!("{service}.{ns}"));
            hosts.push(format!("{service}.{ns}.svc"));
            hosts.push(format!("{service}.{ns}.svc.cluster.local"));
        }
        _ => {
            hosts.push(service.to_string());
            hosts.extend(compose_hosts(&project.name, service, env.replicas));
        }
    }
    hosts
}

/// Adds the hosts the render needs to DJANGO_ALLOWED_HOSTS (after the blueprint's own, which
/// come first), or sets it to the environment's domain and those hosts when the blueprint does
/// not. Django answers 400 to any other Host, health checks and scrapes included.
fn admit_hosts(vars: &mut BTreeMap<String, Variable>, domain: &str, hosts: &[String]) {
    const KEY: &str = "DJANGO_ALLOWED_HOSTS";
    let variable = vars.entry(KEY.into()).or_insert_with(|| Variable {
        value: Value::text(domain),
        origin: Origin::Builtin,
    });
    let listed: BTreeSet<String> = variable
        .value
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) => Some(t.split(',').map(|h| h.trim().to_string())),
            _ => None,
        })
        .flatten()
        .collect();
    let mut missing: Vec<&str> = Vec::new();
    for host in hosts {
        if !listed.contains(host) && !missing.contains(&host.as_str()) {
            missing.push(host);
        }
    }
    if !missing.is_empty() {
        variable
            .value
            .parts
            .push(Part::Text(format!(",{}", missing.join(","))));
    }
}
