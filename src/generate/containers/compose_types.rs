//! The subset of the Compose specification blueprint writes, as typed values. Field order is the
//! order keys appear in the rendered file, so each service reads top-down: what runs, how it
//! starts, what it needs, how it is confined, how it is watched.

use indexmap::IndexMap;
use serde::Serialize;

/// A whole Compose file.
#[derive(Debug, Clone, Serialize)]
pub struct ComposeFile {
    /// The project name (containers are `<name>-<service>-<n>`).
    pub name: String,
    /// Services, in a deliberate order: apps, schedulers, stores, proxy, monitoring.
    pub services: IndexMap<String, ComposeService>,
    /// Networks.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub networks: IndexMap<String, Network>,
    /// Named volumes.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub volumes: IndexMap<String, NamedVolume>,
    /// Secrets mounted as files under `/run/secrets/`.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub secrets: IndexMap<String, SecretSource>,
}

/// One service.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ComposeService {
    /// The image (built here when `build` is set).
    pub image: String,
    /// How the image is built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    /// When the image is pulled or built (`build`: always built here, never pulled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<String>,
    /// Replaces the image's entrypoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The user the process runs as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The PID namespace (`host`: the node exporter sees the host's processes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Run a minimal init as PID 1 (signals forwarded, zombies reaped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// Restart policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    /// Services that must be started, healthy or completed first.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub depends_on: IndexMap<String, DependsOn>,
    /// Environment variables (values may interpolate `${...}` from the env file).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub environment: IndexMap<String, String>,
    /// Secrets mounted at `/run/secrets/<name>`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Published ports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Mounts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Mount>,
    /// A read-only root file system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// In-memory writable directories.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    /// Capabilities removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// Capabilities added back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// Security options.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    /// How long a stop may take before the container is killed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<String>,
    /// The health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Replicas and limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// Log driver and rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// Networks joined.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
}

/// An image build.
#[derive(Debug, Clone, Serialize)]
pub struct Build {
    /// The build context, relative to the Compose file.
    pub context: String,
    /// The Dockerfile, relative to the context.
    pub dockerfile: String,
}

/// A `depends_on` condition.
#[derive(Debug, Clone, Serialize)]
pub struct DependsOn {
    /// `service_started`, `service_healthy` or `service_completed_successfully`.
    pub condition: &'static str,
}

impl DependsOn {
    /// Wait until the dependency reports healthy.
    pub const HEALTHY: Self = Self {
        condition: "service_healthy",
    };
    /// Wait until the dependency has started (it has no health check).
    pub const STARTED: Self = Self {
        condition: "service_started",
    };
    /// Wait until a one-shot dependency has exited with status 0.
    pub const COMPLETED: Self = Self {
        condition: "service_completed_successfully",
    };
}

/// A published port (long syntax).
#[derive(Debug, Clone, Serialize)]
pub struct Port {
    /// The container port.
    pub target: u16,
    /// The host port; none for an ephemeral one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// The host address it binds; none for every address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    /// `tcp` or `udp`.
    pub protocol: &'static str,
}

/// A mount (long syntax).
#[derive(Debug, Clone, Serialize)]
pub struct Mount {
    /// `bind` or `volume`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A path relative to the Compose file, or a named volume.
    pub source: String,
    /// The path in the container.
    pub target: String,
    /// Mounted read-only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// Bind options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<BindOptions>,
}

impl Mount {
    /// A read-only bind mount of a file or directory that must exist: a missing source is an
    /// error instead of an empty directory Docker would create in its place.
    pub fn config(source: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            kind: "bind",
            source: source.into(),
            target: target.into(),
            read_only: true,
            bind: Some(BindOptions {
                create_host_path: false,
                propagation: None,
            }),
        }
    }

    /// The host's root file system, read-only, with the host's later mounts propagated in: what
    /// the node exporter reads disks, memory and CPUs from (`--path.rootfs`).
    pub fn host_root(target: impl Into<String>) -> Self {
        Self {
            kind: "bind",
            source: "/".into(),
            target: target.into(),
            read_only: true,
            bind: Some(BindOptions {
                create_host_path: false,
                propagation: Some("rslave"),
            }),
        }
    }

    /// A named volume.
    pub fn volume(name: impl Into<String>, target: impl Into<String>, read_only: bool) -> Self {
        Self {
            kind: "volume",
            source: name.into(),
            target: target.into(),
            read_only,
            bind: None,
        }
    }
}

/// Bind mount options.
#[derive(Debug, Clone, Serialize)]
pub struct BindOptions {
    /// Create the host path when it is missing.
    pub create_host_path: bool,
    /// Mount propagation (`rslave`: mounts the host makes later show up inside).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagation: Option<&'static str>,
}

/// A health check, or `disable: true` to turn off the image's own (`HEALTHCHECK`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Healthcheck {
    /// `[CMD, ...]` or `[CMD-SHELL, "..."]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    /// Between checks.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub interval: String,
    /// One check's limit.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub timeout: String,
    /// Failures before unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Failures during this time after start do not count.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub start_period: String,
    /// No health check at all, not even the image's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disable: bool,
}

/// Deploy settings Compose applies.
#[derive(Debug, Clone, Serialize)]
pub struct Deploy {
    /// Containers of the service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
}

/// Resource limits.
#[derive(Debug, Clone, Serialize)]
pub struct Resources {
    /// Hard limits.
    pub limits: Limits,
}

/// Hard limits.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    /// CPU cores (`"0.5"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    /// Memory (`512m`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// Logging.
#[derive(Debug, Clone, Serialize)]
pub struct Logging {
    /// The log driver.
    pub driver: &'static str,
    /// Driver options (`max-size`, `max-file`).
    pub options: IndexMap<String, String>,
}

/// A network.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Network {
    /// No route to or from outside the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal: Option<bool>,
}

/// A named volume (Docker's defaults).
#[derive(Debug, Clone, Default, Serialize)]
pub struct NamedVolume {}

/// Where a secret's value comes from.
#[derive(Debug, Clone, Serialize)]
pub struct SecretSource {
    /// The variable (from the env file) that holds it.
    pub environment: String,
}
