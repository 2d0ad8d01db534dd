//! Every third-party image and binary the containers generator pins, in one place.
//!
//! Tags are exact (never `latest`, never a moving major): a render is reproducible and an
//! upgrade is a reviewed change to this file (Dependabot then proposes newer tags in the
//! rendered Dockerfiles and Compose files). Each tag here was checked to exist on its registry.

/// Exact Python patch releases for the `major.minor` versions a blueprint names.
const PYTHON_PATCHES: &[(&str, &str)] = &[
    ("3.10", "3.10.18"),
    ("3.11", "3.11.13"),
    ("3.12", "3.12.11"),
    ("3.13", "3.13.7"),
];

/// Exact Node.js releases for the major versions a blueprint names.
const NODE_PATCHES: &[(&str, &str)] = &[("18", "18.20.8"), ("20", "20.19.4"), ("22", "22.18.0")];

/// Exact PostgreSQL releases per major version.
const POSTGRES_PATCHES: &[(&str, &str)] = &[
    ("14", "14.18"),
    ("15", "15.13"),
    ("16", "16.9"),
    ("17", "17.5"),
];

/// Exact Redis releases per major version.
const REDIS_PATCHES: &[(&str, &str)] = &[("7", "7.4.5"), ("8", "8.0.3")];

/// The unprivileged nginx that serves `static` services (and is the nginx proxy's image).
pub const NGINX_UNPRIVILEGED: &str = "nginxinc/nginx-unprivileged:1.28.0-alpine";
/// Caddy, for the Caddy proxy.
pub const CADDY: &str = "caddy:2.10.0-alpine";
/// certbot, which renews the nginx proxy's certificates.
pub const CERTBOT: &str = "certbot/certbot:v4.1.1";
/// MinIO, the S3-compatible server of `s3` stores run as containers.
pub const MINIO: &str = "minio/minio:RELEASE.2025-04-22T22-12-26Z";
/// The MinIO client, which creates buckets.
pub const MINIO_CLIENT: &str = "minio/mc:RELEASE.2025-04-16T18-13-26Z";
/// Prometheus.
pub const PROMETHEUS: &str = "prom/prometheus:v3.5.0";
/// Alertmanager.
pub const ALERTMANAGER: &str = "prom/alertmanager:v0.28.1";
/// Grafana.
pub const GRAFANA: &str = "grafana/grafana:12.1.1";
/// The blackbox exporter (health probes).
pub const BLACKBOX: &str = "prom/blackbox-exporter:v0.27.0";
/// The Pushgateway that scheduled jobs report to.
pub const PUSHGATEWAY: &str = "prom/pushgateway:v1.11.1";
/// The node exporter (host metrics).
pub const NODE_EXPORTER: &str = "prom/node-exporter:v1.9.1";
/// NGINX's exporter of `stub_status` (the nginx proxy's connections and requests).
pub const NGINX_EXPORTER: &str = "nginx/nginx-prometheus-exporter:1.4.2";
/// The prometheus-community PostgreSQL exporter.
pub const POSTGRES_EXPORTER: &str = "quay.io/prometheuscommunity/postgres-exporter:v0.17.1";
/// The Redis exporter (the length of the queues a `redis` store carries).
pub const REDIS_EXPORTER: &str = "oliver006/redis_exporter:v1.67.0";

/// The supercronic release installed into images whose service runs scheduled jobs.
pub const SUPERCRONIC_VERSION: &str = "v0.2.34";
/// SHA-1 sums of that release's binaries, as published in its release notes, by Docker
/// `TARGETARCH`. A build for any other architecture fails rather than run an unverified binary.
pub const SUPERCRONIC_SHA1: &[(&str, &str)] = &[
    ("amd64", "e8631edc1775000d119b70fd40339a7238eece14"),
    ("arm64", "4ab6343b52bf9da592e8b4bb7ae6eb5a8e21b71e"),
];

fn exact(table: &[(&str, &str)], version: &str) -> String {
    table
        .iter()
        .find(|(asked, _)| *asked == version)
        .map_or_else(|| version.to_string(), |(_, pinned)| (*pinned).to_string())
}

/// The Python base image for a blueprint version (`3.12` -> `python:3.12.11-slim-bookworm`).
/// A version outside the table (`3.9`, or an exact `3.12.4`) is used as given.
pub fn python(version: &str) -> String {
    let version = if version.is_empty() {
        crate::model::DEFAULT_PYTHON
    } else {
        version
    };
    format!("python:{}-slim-bookworm", exact(PYTHON_PATCHES, version))
}

/// The Node.js base image for a blueprint version (`22` -> `node:22.18.0-bookworm-slim`).
pub fn node(version: &str) -> String {
    let version = if version.is_empty() {
        crate::model::DEFAULT_NODE
    } else {
        version
    };
    format!("node:{}-bookworm-slim", exact(NODE_PATCHES, version))
}

/// The PostgreSQL server image for a store version (`16` -> `postgres:16.9-bookworm`).
pub fn postgres(version: &str) -> String {
    format!("postgres:{}-bookworm", exact(POSTGRES_PATCHES, version))
}

/// Where the PostgreSQL image keeps its data: PostgreSQL 18 moved `PGDATA` below a versioned
/// directory and declares `/var/lib/postgresql` as the volume instead.
pub fn postgres_data_dir(version: &str) -> &'static str {
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major >= 18 {
        "/var/lib/postgresql"
    } else {
        "/var/lib/postgresql/data"
    }
}

/// The Redis server image for a store version (`7` -> `redis:7.4.5-bookworm`).
pub fn redis(version: &str) -> String {
    format!("redis:{}-bookworm", exact(REDIS_PATCHES, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_versions_are_pinned_to_a_patch_release() {
        assert_eq!(python("3.12"), "python:3.12.11-slim-bookworm");
        assert_eq!(python("3.10"), "python:3.10.18-slim-bookworm");
        assert_eq!(node("20"), "node:20.19.4-bookworm-slim");
        assert_eq!(postgres("16"), "postgres:16.9-bookworm");
        assert_eq!(redis("7"), "redis:7.4.5-bookworm");
    }

    #[test]
    fn unknown_versions_are_used_as_given() {
        assert_eq!(python("3.9"), "python:3.9-slim-bookworm");
        assert_eq!(python("3.12.4"), "python:3.12.4-slim-bookworm");
        assert_eq!(node("24"), "node:24-bookworm-slim");
        assert_eq!(postgres("18"), "postgres:18-bookworm");
        assert_eq!(
            python(""),
            "python:3.12.11-slim-bookworm",
            "an empty version means the default"
        );
    }

    #[test]
    fn postgres_18_keeps_its_data_one_level_up() {
        assert_eq!(postgres_data_dir("16"), "/var/lib/postgresql/data");
        assert_eq!(postgres_data_dir("18"), "/var/lib/postgresql");
        assert_eq!(postgres_data_dir("nonsense"), "/var/lib/postgresql/data");
    }

    #[test]
    fn no_image_floats() {
        for image in [
            NGINX_UNPRIVILEGED,
            CADDY,
            CERTBOT,
            MINIO,
            MINIO_CLIENT,
            PROMETHEUS,
            ALERTMANAGER,
            GRAFANA,
            BLACKBOX,
            PUSHGATEWAY,
            POSTGRES_EXPORTER,
            REDIS_EXPORTER,
        ] {
            let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or_default();
            assert!(
                tag.chars().any(|c| c.is_ascii_digit()),
                "{image} has a version tag"
            );
            assert!(!tag.contains("latest"), "{image}");
        }
    }
}
