//! `compose.<env>.yaml`: the complete stack of one environment, and the list of variables it reads
//! from `.env.<env>` (which the env example is made from, so the two cannot disagree).
//!
//! Networks: `public` holds only the proxy, the one container that publishes ports outside
//! development. `internal` (no route outside the host) holds everything. `egress` is an ordinary
//! bridge network that publishes nothing: containers that must reach the outside join it (apps
//! and schedulers calling managed databases and APIs, Alertmanager's webhooks, certbot, exporters
//! of managed databases), and in development the apps' debug ports are published through it.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use serde::Serialize;

use super::compose_types::{
    Build, ComposeFile, ComposeService, DependsOn, Deploy, Healthcheck, Limits, Logging, Mount,
    NamedVolume, Network, Port, Resources, SecretSource,
};
use super::dockerfile::{HEALTH_TIMEOUT_SECONDS, health_command};
use super::{backup, images, jobs};
use crate::blueprint::{InternalTool, Provider, ProxyEngine, Runtime, StoreKind};
use crate::generate::observability::{
    NGINX_EXPORTER_HOST, NGINX_STATUS_PATH, NGINX_STATUS_PORT, NODE_EXPORTER_PORT, tool_prefix,
};
use crate::model::{
    ALERTMANAGER_PORT, Backup, Environment, GRAFANA_PORT, Migration, Model, PROMETHEUS_PORT, Part,
    Service, Store, Value, env_fragment,
};

/// The proxy's Compose service.
pub const PROXY: &str = "proxy";
/// The certbot service that renews the nginx proxy's certificate.
pub const CERTBOT: &str = "certbot";
/// Prometheus' Compose service.
pub const PROMETHEUS: &str = "prometheus";
/// Alertmanager's Compose service.
pub const ALERTMANAGER: &str = "alertmanager";
/// Grafana's Compose service.
pub const GRAFANA: &str = "grafana";
/// The blackbox exporter's Compose service.
pub const BLACKBOX: &str = "blackbox";
/// The Pushgateway's Compose service.
pub const PUSHGATEWAY: &str = "pushgateway";
/// The blackbox exporter's port.
pub const BLACKBOX_PORT: u16 = 9115;
/// The Pushgateway's port.
pub const PUSHGATEWAY_PORT: u16 = 9091;
/// The node exporter's Compose service.
pub const NODE_EXPORTER: &str = crate::generate::observability::NODE_EXPORTER_HOST;
/// The postgres_exporter's port.
pub const POSTGRES_EXPORTER_PORT: u16 = 9187;

/// The network only the proxy joins; it publishes ports.
pub const NET_PUBLIC: &str = "public";
/// The network with no route outside the host; every container joins it.
pub const NET_INTERNAL: &str = "internal";
/// The network for containers that must reach the outside; it publishes nothing outside
/// development.
pub const NET_EGRESS: &str = "egress";

/// The variable that tags every image built here.
pub const TAG: &str = "TAG";

/// certbot's deploy hook: certbot writes keys readable by root only, and the unprivileged nginx
/// (uid and gid 101) must read them. Group 101 gets read access; root keeps ownership, so
/// renewals (by root without capabilities to override permissions) still work.
const CERTBOT_DEPLOY_HOOK: &str = "chgrp -R 101 /etc/letsencrypt/live /etc/letsencrypt/archive && chmod -R g+rX /etc/letsencrypt/live /etc/letsencrypt/archive";

/// The PostgreSQL user and database of store containers, as `model.rs` composes their URL.
const POSTGRES_APP: &str = "app";

/// The Compose service that creates an `s3` store's bucket.
pub fn bucket_init_name(store: &str) -> String {
    format!("{store}-init")
}

/// The Compose service of a PostgreSQL store's exporter.
pub fn exporter_name(store: &str) -> String {
    format!("{store}-exporter")
}

/// The Compose secret name of a secret (`SLACK_WEBHOOK` -> `slack_webhook`), mounted at
/// `/run/secrets/<name>`.
pub fn secret_file_name(secret: &str) -> String {
    secret.to_ascii_lowercase()
}

/// A variable the Compose file reads from the env file.
#[derive(Debug, Clone, Serialize)]
pub struct EnvFileVariable {
    /// Its name.
    pub name: String,
    /// Whether it holds a secret.
    pub secret: bool,
    /// Its default; `None` when it is required.
    pub default: Option<String>,
    /// What the value must look like, when that is not obvious.
    pub note: Option<&'static str>,
    /// Who reads it and as what (`api (DATABASE_URL)`), in Compose order.
    pub uses: Vec<String>,
    /// The Compose service that reads it first (the env example groups by it).
    pub first_user: String,
}

/// One environment's Compose file and the env-file variables it reads.
pub struct Rendered {
    /// The Compose file.
    pub file: ComposeFile,
    /// The variables, in the order they are first read.
    pub variables: Vec<EnvFileVariable>,
}

/// Builds the Compose file of `environment`.
pub fn compose(model: &Model, environment: &Environment) -> Rendered {
    let mut stack = Stack::new(model, environment);
    for service in model
        .services
        .iter()
        .filter(|s| s.on_compose(&environment.name))
    {
        stack.app(service);
        if let Some(migration) = &service.migration {
            stack.migration(service, migration);
        }
    }
    for service in jobs::scheduled_services(model).filter(|s| s.on_compose(&environment.name)) {
        stack.scheduler(service);
    }
    for (store, policy) in model.backups() {
        stack.backup(store, policy);
    }
    for store in model.container_stores(environment) {
        match store.kind {
            StoreKind::Postgres => stack.postgres(store),
            StoreKind::Redis => stack.redis(store),
            StoreKind::S3 => stack.minio(store),
        }
    }
    if model.has_proxy() {
        match model.proxy.engine {
            ProxyEngine::Nginx => stack.nginx(),
            ProxyEngine::Caddy => stack.caddy(),
        }
    }
    if model.monitoring.enabled {
        stack.monitoring();
    }
    stack.finish()
}

/// The header comment of a Compose file: how to run it, and the one manual step TLS with nginx
/// needs.
pub fn header(model: &Model, environment: &Environment) -> String {
    let env = &environment.name;
    let run = compose_command(environment);
    let mut text = format!(
        "# The {project} stack, {env} environment. Run it from this directory with:\n#   {run} up -d\n# The variables it interpolates come from .env.{env}: copy .env.{env}.example and fill it in.\n",
        project = model.project.name,
    );
    if let Some(command) = first_certificate_command(model, environment) {
        text.push_str(&format!(
            "#\n# HTTPS: nginx cannot start without its certificate. Get it once, before the first `up`:\n#   {command}\n# The {CERTBOT} service then renews it through the proxy, which reloads it every 6 hours.\n",
        ));
    }
    text
}

/// `docker compose` with the environment's variables and Compose file, run from the output root.
pub fn compose_command(environment: &Environment) -> String {
    let env = &environment.name;
    format!("docker compose --env-file .env.{env} -f compose.{env}.yaml")
}

/// The one-off certbot run that gets nginx its first certificate, when the environment serves
/// HTTPS through nginx (Caddy gets its own).
pub fn first_certificate_command(model: &Model, environment: &Environment) -> Option<String> {
    if !(model.has_proxy() && model.proxy.engine == ProxyEngine::Nginx && environment.tls) {
        return None;
    }
    let email = model.proxy.acme_email.as_ref().map_or_else(
        || "--register-unsafely-without-email".to_string(),
        |e| format!("--email {e}"),
    );
    let domains: String = certificate_hosts(model, environment)
        .iter()
        .map(|h| format!(" -d {h}"))
        .collect();
    Some(format!(
        "{run} run --rm --publish 80:80 --entrypoint certbot {CERTBOT} certonly --standalone --non-interactive --agree-tos {email} --deploy-hook '{CERTBOT_DEPLOY_HOOK}' --cert-name {domain}{domains}",
        run = compose_command(environment),
        domain = environment.domain,
    ))
}

/// The host names the proxy serves in `environment` (one certificate covers them all): the
/// environment's domain first, then every other route host by name.
fn certificate_hosts(model: &Model, environment: &Environment) -> Vec<String> {
    let others: BTreeSet<&str> = model
        .services
        .iter()
        .filter(|s| s.on_compose(&environment.name))
        .flat_map(|s| &s.routes)
        .filter_map(|r| r.host.as_deref())
        .filter(|h| *h != environment.domain)
        .collect();
    std::iter::once(environment.domain.clone())
        .chain(others.into_iter().map(String::from))
        .collect()
}

/// The URL an exposed tool is reached at from outside, with a trailing slash.
pub fn external_url(environment: &Environment, prefix: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        environment.public_url()
    } else {
        format!("{}{prefix}/", environment.public_url())
    }
}

fn healthcheck(test: Vec<String>) -> Healthcheck {
    Healthcheck {
        test,
        interval: "10s".into(),
        timeout: format!("{HEALTH_TIMEOUT_SECONDS}s"),
        retries: Some(3),
        start_period: "30s".into(),
        disable: false,
    }
}

/// `[CMD, ...]`.
fn exec_check(words: &[&str]) -> Healthcheck {
    healthcheck(
        std::iter::once("CMD")
            .chain(words.iter().copied())
            .map(String::from)
            .collect(),
    )
}

/// An HTTP check with BusyBox wget, which the Prometheus-project, Grafana, nginx and Caddy images
/// all have.
fn wget_check(url: &str) -> Healthcheck {
    exec_check(&["wget", "-q", "-O", "/dev/null", url])
}

/// Formats CPU cores for Compose (`1`, `0.5`).
fn cpus(value: f64) -> String {
    format!("{value}")
}

struct Stack<'a> {
    model: &'a Model,
    environment: &'a Environment,
    services: IndexMap<String, ComposeService>,
    volumes: IndexMap<String, NamedVolume>,
    secrets: IndexMap<String, SecretSource>,
    variables: IndexMap<String, EnvFileVariable>,
    /// Host ports already published, so development debug ports never collide.
    host_ports: BTreeSet<u16>,
}

impl<'a> Stack<'a> {
    fn new(model: &'a Model, environment: &'a Environment) -> Self {
        let mut host_ports = BTreeSet::new();
        if model.has_proxy() {
            host_ports.insert(80);
            if environment.tls {
                host_ports.insert(443);
            }
        }
        Self {
            model,
            environment,
            services: IndexMap::new(),
            volumes: IndexMap::new(),
            secrets: IndexMap::new(),
            variables: IndexMap::new(),
            host_ports,
        }
    }

    fn finish(self) -> Rendered {
        let mut used: BTreeSet<&str> = BTreeSet::new();
        for service in self.services.values() {
            used.extend(service.networks.iter().map(String::as_str));
        }
        let networks = [
            (NET_PUBLIC, Network::default()),
            (
                NET_INTERNAL,
                Network {
                    internal: Some(true),
                },
            ),
            (NET_EGRESS, Network::default()),
        ]
        .into_iter()
        .filter(|(name, _)| used.contains(name))
        .map(|(name, network)| (name.to_string(), network))
        .collect();
        Rendered {
            file: ComposeFile {
                name: self.model.project.name.clone(),
                services: self.services,
                networks,
                volumes: self.volumes,
                secrets: self.secrets,
            },
            variables: self.variables.into_values().collect(),
        }
    }

    /// Records that `user` reads `name` from the env file (as `purpose`).
    fn record(
        &mut self,
        name: &str,
        user: &str,
        purpose: &str,
        secret: bool,
        default: Option<&str>,
    ) {
        let entry = self
            .variables
            .entry(name.to_string())
            .or_insert_with(|| EnvFileVariable {
                name: name.to_string(),
                secret,
                default: default.map(String::from),
                note: None,
                uses: Vec::new(),
                first_user: user.to_string(),
            });
        let usage = if purpose.is_empty() {
            user.to_string()
        } else {
            format!("{user} ({purpose})")
        };
        if !entry.uses.contains(&usage) {
            entry.uses.push(usage);
        }
    }

    /// A required value from the env file: Compose refuses to start without it.
    fn required(&mut self, name: &str, user: &str, purpose: &str) -> String {
        self.record(name, user, purpose, true, None);
        format!("${{{name}:?set {name} in .env.{}}}", self.environment.name)
    }

    /// A model value for Compose: literal text with `$` escaped, secrets as required
    /// interpolations.
    fn interpolate(&mut self, value: &Value, user: &str, purpose: &str) -> String {
        let mut out = String::new();
        for part in &value.parts {
            match part {
                Part::Text(text) => out.push_str(&text.replace('$', "$$")),
                Part::Secret(name) => out.push_str(&self.required(name, user, purpose)),
            }
        }
        out
    }

    /// `service`'s variables in this environment.
    fn environment_of(&mut self, service: &Service, user: &str) -> IndexMap<String, String> {
        let mut environment = IndexMap::new();
        if let Some(vars) = service.env.get(&self.environment.name) {
            for (name, variable) in vars {
                let value = self.interpolate(&variable.value, user, name);
                environment.insert(name.clone(), value);
            }
        }
        environment
    }

    /// The image blueprint builds for `service`, tagged with `TAG`.
    fn built_image(&mut self, service: &Service, user: &str) -> String {
        self.record(TAG, user, "", false, Some("latest"));
        self.note(
            TAG,
            "The image tag to run; the deploy workflow sets it to the commit it deploys.",
        );
        format!("{}:${{{TAG}:-latest}}", service.image)
    }

    fn build(service: &Service) -> Build {
        let prefix = format!("{}/", service.path);
        let dockerfile = if service.path == "." {
            service.dockerfile.clone()
        } else {
            service
                .dockerfile
                .strip_prefix(&prefix)
                .unwrap_or(&service.dockerfile)
                .to_string()
        };
        let context = if service.path == "." {
            ".".to_string()
        } else {
            format!("./{}", service.path)
        };
        Build {
            context,
            dockerfile,
        }
    }

    fn restart(&self) -> Option<String> {
        self.environment
            .restart
            .then(|| "unless-stopped".to_string())
    }

    fn logging(&self) -> Logging {
        Logging {
            driver: "json-file",
            options: IndexMap::from([
                (
                    "max-size".to_string(),
                    self.model.monitoring.log_max_size.clone(),
                ),
                (
                    "max-file".to_string(),
                    self.model.monitoring.log_max_files.to_string(),
                ),
            ]),
        }
    }

    /// The confinement every container gets: no capabilities, no privilege escalation, and a
    /// read-only root file system with a tmpfs at /tmp where the image allows it.
    fn confined(&self, read_only: bool) -> ComposeService {
        ComposeService {
            read_only: read_only.then_some(true),
            tmpfs: if read_only {
                vec!["/tmp".into()]
            } else {
                Vec::new()
            },
            cap_drop: vec!["ALL".into()],
            security_opt: vec!["no-new-privileges:true".into()],
            restart: self.restart(),
            logging: Some(self.logging()),
            ..ComposeService::default()
        }
    }

    fn volume(&mut self, name: &str, target: &str, read_only: bool) -> Mount {
        self.volumes.entry(name.to_string()).or_default();
        Mount::volume(name, target, read_only)
    }

    fn networks(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// A debug port on the loopback: the same host port when it is free, an ephemeral one when
    /// another container already has it.
    fn loopback_port(&mut self, port: u16, shared: bool) -> Port {
        Port {
            target: port,
            published: (!shared && self.host_ports.insert(port)).then(|| port.to_string()),
            host_ip: Some("127.0.0.1".into()),
            protocol: "tcp",
        }
    }

    /// In development, an internal tool the proxy does not route publishes its port on the
    /// loopback (through `egress`: an internal network cannot publish), so it can be opened.
    fn publish_tool(&mut self, container: &mut ComposeService, tool: InternalTool, port: u16) {
        if !self.environment.publish_app_ports || tool_prefix(self.model, tool).is_some() {
            return;
        }
        container.ports.push(self.loopback_port(port, false));
        if !container.networks.iter().any(|n| n == NET_EGRESS) {
            container.networks.push(NET_EGRESS.to_string());
        }
    }

    /// The health check of an app container, when its image has a known way to call its
    /// health endpoint.
    fn app_healthcheck(service: &Service) -> Option<Healthcheck> {
        let command = health_command(service)?;
        Some(healthcheck(
            std::iter::once("CMD".to_string()).chain(command).collect(),
        ))
    }

    /// What `service` waits for: its `depends_on` and the container stores it is bound to
    /// (healthy), and the bucket of any `s3` container store (created).
    fn dependencies(&self, service: &Service) -> IndexMap<String, DependsOn> {
        let mut deps = IndexMap::new();
        let env = &self.environment.name;
        let mut stores: Vec<&str> = Vec::new();
        for dependency in &service.depends_on {
            match self.model.service(&dependency.name) {
                Some(target) if target.on_compose(env) => {
                    let condition = if Self::app_healthcheck(target).is_some() {
                        DependsOn::HEALTHY
                    } else {
                        DependsOn::STARTED
                    };
                    deps.insert(target.name.clone(), condition);
                }
                Some(_) => {}
                None => stores.push(&dependency.name),
            }
        }
        stores.extend(service.stores.iter().map(String::as_str));
        for name in stores {
            if let Some(store) = self.model.store(name)
                && self.environment.provider(name) == Provider::Container
            {
                deps.insert(store.name.clone(), DependsOn::HEALTHY);
                if store.kind == StoreKind::S3 {
                    deps.insert(bucket_init_name(&store.name), DependsOn::COMPLETED);
                }
            }
        }
        deps
    }

    /// What `service` and its scheduler wait for: its own dependencies, then its migration
    /// (completed), so neither starts on an old schema.
    fn dependencies_after_migration(&self, service: &Service) -> IndexMap<String, DependsOn> {
        let mut deps = self.dependencies(service);
        if let Some(migration) = &service.migration {
            deps.insert(migration.name.clone(), DependsOn::COMPLETED);
        }
        deps
    }

    /// The one-shot that migrates `service`'s schema at every `up`: its image, environment and
    /// dependencies, and the migration as its command.
    fn migration(&mut self, service: &Service, migration: &Migration) {
        let name = migration.name.clone();
        let ours = service.runtime != Runtime::Custom;
        let mut container = ComposeService {
            image: self.built_image(service, &name),
            build: Some(Self::build(service)),
            command: Some(literal_words(&migration.command)),
            init: Some(true),
            depends_on: self.dependencies(service),
            environment: self.environment_of(service, &name),
            deploy: Some(Deploy {
                replicas: Some(1),
                resources: self.resources(service),
            }),
            networks: Self::networks(&[NET_INTERNAL, NET_EGRESS]),
            // The image's HEALTHCHECK asks for a server a migration does not start.
            healthcheck: Some(Healthcheck {
                disable: true,
                ..Healthcheck::default()
            }),
            // It exits when done; a restart policy would run it again and again.
            restart: Some("no".into()),
            ..self.confined(ours)
        };
        if !ours {
            container.cap_drop.clear();
        }
        self.services.insert(name, container);
    }

    fn app(&mut self, service: &Service) {
        let name = service.name.clone();
        let ours = service.runtime != Runtime::Custom;
        let mut ports = Vec::new();
        if self.environment.publish_app_ports
            && let Some(port) = service.port
        {
            // Several replicas cannot share one host port: they get ephemeral ones.
            let shared = self.environment.replicas > 1;
            ports.push(self.loopback_port(port, shared));
        }
        let mut container = ComposeService {
            image: self.built_image(service, &name),
            build: Some(Self::build(service)),
            command: (!ours && !service.command.is_empty())
                .then(|| literal_words(&service.command)),
            init: Some(true),
            depends_on: self.dependencies_after_migration(service),
            environment: self.environment_of(service, &name),
            ports,
            healthcheck: Self::app_healthcheck(service),
            deploy: Some(Deploy {
                replicas: Some(self.environment.replicas),
                resources: self.resources(service),
            }),
            networks: Self::networks(&[NET_INTERNAL, NET_EGRESS]),
            ..self.confined(ours)
        };
        if !ours {
            // The user's own image: what it needs is unknown, so only privilege escalation is
            // refused.
            container.cap_drop.clear();
        }
        self.services.insert(name, container);
    }

    fn resources(&self, service: &Service) -> Option<Resources> {
        let r = service.resources.as_ref()?;
        if r.cpus.is_none() && r.memory.is_none() {
            return None;
        }
        Some(Resources {
            limits: Limits {
                cpus: r.cpus.map(cpus),
                memory: r.memory.clone(),
            },
        })
    }

    /// Where a scheduler's jobs push their outcome (run-job.sh reads the URL), when monitored.
    fn report_to_pushgateway(
        &self,
        environment: &mut IndexMap<String, String>,
        depends_on: &mut IndexMap<String, DependsOn>,
    ) {
        if self.model.monitoring.enabled {
            environment.insert(
                "BLUEPRINT_PUSHGATEWAY_URL".into(),
                format!("http://{PUSHGATEWAY}:{PUSHGATEWAY_PORT}"),
            );
            depends_on.insert(PUSHGATEWAY.into(), DependsOn::HEALTHY);
        }
    }

    /// The scheduler container's command: supercronic on the mounted crontab.
    fn supercronic() -> Option<Vec<String>> {
        Some(
            ["supercronic", "-passthrough-logs", jobs::CRONTAB_MOUNT]
                .map(String::from)
                .to_vec(),
        )
    }

    fn scheduler(&mut self, service: &Service) {
        let name = jobs::scheduler_name(&service.name);
        let mut environment = self.environment_of(service, &name);
        let mut depends_on = self.dependencies_after_migration(service);
        self.report_to_pushgateway(&mut environment, &mut depends_on);
        let ours = service.runtime != Runtime::Custom;
        let container = ComposeService {
            image: self.built_image(service, &name),
            build: Some(Self::build(service)),
            command: Self::supercronic(),
            init: Some(true),
            depends_on,
            environment,
            volumes: vec![
                Mount::config(
                    format!("./{}", jobs::crontab_path(&service.name)),
                    jobs::CRONTAB_MOUNT,
                ),
                Mount::config(format!("./{}", jobs::RUN_JOB_PATH), jobs::RUN_JOB_MOUNT),
            ],
            // A valid crontab and a working supercronic: the scheduler has no port to ask.
            healthcheck: Some(exec_check(&["supercronic", "-test", jobs::CRONTAB_MOUNT])),
            // Never more than one: every replica would run every job.
            deploy: Some(Deploy {
                replicas: Some(1),
                resources: self.resources(service),
            }),
            networks: Self::networks(&[NET_INTERNAL, NET_EGRESS]),
            ..self.confined(ours)
        };
        self.services.insert(name, container);
    }

    /// The scheduler of `store`'s backup job, in the image [`backup`] renders for it.
    fn backup(&mut self, store: &Store, policy: &Backup) {
        let name = policy.job.clone();
        let mut environment = IndexMap::new();
        for (variable, value) in self.model.backup_variables(store, policy, self.environment) {
            let value = self.interpolate(&value, &name, &variable);
            environment.insert(variable, value);
        }
        let mut depends_on = IndexMap::new();
        for dependency in [&store.name, &policy.target] {
            if let Some(s) = self.model.store(dependency)
                && self.environment.provider(&s.name) == Provider::Container
            {
                depends_on.insert(s.name.clone(), DependsOn::HEALTHY);
                if s.kind == StoreKind::S3 {
                    depends_on.insert(bucket_init_name(&s.name), DependsOn::COMPLETED);
                }
            }
        }
        self.report_to_pushgateway(&mut environment, &mut depends_on);
        let container = ComposeService {
            image: backup::image(self.model, policy),
            pull_policy: Some("build".into()),
            build: Some(Build {
                context: format!("./{}", backup::context(policy)),
                dockerfile: "Dockerfile".into(),
            }),
            command: Self::supercronic(),
            init: Some(true),
            depends_on,
            environment,
            volumes: vec![
                Mount::config(
                    format!("./{}", backup::crontab_path(policy)),
                    jobs::CRONTAB_MOUNT,
                ),
                Mount::config(format!("./{}", jobs::RUN_JOB_PATH), jobs::RUN_JOB_MOUNT),
                Mount::config(format!("./{}", backup::BACKUP_PATH), backup::BACKUP_MOUNT),
                Mount::config(format!("./{}", backup::RESTORE_PATH), backup::RESTORE_MOUNT),
            ],
            healthcheck: Some(exec_check(&["supercronic", "-test", jobs::CRONTAB_MOUNT])),
            // Never more than one: two would dump twice.
            deploy: Some(Deploy {
                replicas: Some(1),
                resources: None,
            }),
            // A managed database and S3 are outside.
            networks: Self::networks(&[NET_INTERNAL, NET_EGRESS]),
            ..self.confined(true)
        };
        self.services.insert(name, container);
    }

    fn postgres(&mut self, store: &Store) {
        let name = store.name.clone();
        let password_secret = store
            .password_secret
            .clone()
            .unwrap_or_else(|| format!("{}_PASSWORD", env_fragment(&store.name)));
        let password = self.required(&password_secret, &name, "POSTGRES_PASSWORD");
        let data = self.volume(
            &format!("{name}-data"),
            images::postgres_data_dir(&store.version),
            false,
        );
        let container = ComposeService {
            image: images::postgres(&store.version),
            // The image's own unprivileged user: its data directory already belongs to it, so
            // the entrypoint needs no capability to chown anything.
            user: Some("postgres".into()),
            environment: IndexMap::from([
                ("POSTGRES_USER".to_string(), POSTGRES_APP.to_string()),
                ("POSTGRES_DB".to_string(), POSTGRES_APP.to_string()),
                ("POSTGRES_PASSWORD".to_string(), password),
            ]),
            volumes: vec![data],
            tmpfs: vec!["/tmp".into(), "/var/run/postgresql".into()],
            stop_grace_period: Some("1m".into()),
            // Over TCP: during first-run initialisation the server listens on its socket only,
            // and must not be taken for ready then.
            healthcheck: Some(exec_check(&[
                "pg_isready",
                "--host=127.0.0.1",
                &format!("--port={}", store.port),
                &format!("--username={POSTGRES_APP}"),
                &format!("--dbname={POSTGRES_APP}"),
            ])),
            networks: Self::networks(&[NET_INTERNAL]),
            ..self.confined(true)
        };
        self.services.insert(name, container);
    }

    fn redis(&mut self, store: &Store) {
        let name = store.name.clone();
        let data = self.volume(&format!("{name}-data"), "/data", false);
        let container = ComposeService {
            image: images::redis(&store.version),
            user: Some("redis".into()),
            command: Some(
                [
                    "redis-server",
                    "--port",
                    &store.port.to_string(),
                    "--appendonly",
                    "yes",
                ]
                .map(String::from)
                .to_vec(),
            ),
            volumes: vec![data],
            healthcheck: Some(healthcheck(vec![
                "CMD-SHELL".into(),
                format!("redis-cli -p {} ping | grep -q PONG", store.port),
            ])),
            networks: Self::networks(&[NET_INTERNAL]),
            ..self.confined(true)
        };
        self.services.insert(name, container);
    }

    fn minio(&mut self, store: &Store) {
        let name = store.name.clone();
        let fragment = env_fragment(&store.name);
        let access_key = store
            .access_key_secret
            .clone()
            .unwrap_or_else(|| format!("{fragment}_ACCESS_KEY_ID"));
        let secret_key = store
            .password_secret
            .clone()
            .unwrap_or_else(|| format!("{fragment}_SECRET_ACCESS_KEY"));
        let credentials = |stack: &mut Self, user: &str| {
            IndexMap::from([
                (
                    "MINIO_ROOT_USER".to_string(),
                    stack.required(&access_key, user, "MINIO_ROOT_USER"),
                ),
                (
                    "MINIO_ROOT_PASSWORD".to_string(),
                    stack.required(&secret_key, user, "MINIO_ROOT_PASSWORD"),
                ),
            ])
        };
        let environment = credentials(self, &name);
        self.note(
            &access_key,
            "At least 3 characters: MinIO's root user (the S3 access key).",
        );
        self.note(
            &secret_key,
            "At least 8 characters: MinIO's root password (the S3 secret key).",
        );
        let data = self.volume(&format!("{name}-data"), "/data", false);
        let server = ComposeService {
            image: images::MINIO.into(),
            command: Some(
                ["server", "/data", "--address", &format!(":{}", store.port)]
                    .map(String::from)
                    .to_vec(),
            ),
            environment,
            volumes: vec![data],
            healthcheck: Some(exec_check(&["mc", "ready", "local"])),
            networks: Self::networks(&[NET_INTERNAL]),
            // MinIO writes its certificate directory under $HOME at start: not read-only.
            ..self.confined(false)
        };
        self.services.insert(name.clone(), server);

        let init = bucket_init_name(&name);
        let bucket = store.bucket.clone().unwrap_or_else(|| name.clone());
        let target = jobs::shell_quote(&format!("store/{bucket}"));
        let mut script = format!(
            "mc alias set store http://{name}:{port} \"$$MINIO_ROOT_USER\" \"$$MINIO_ROOT_PASSWORD\" && mc mb --ignore-existing {target}",
            port = store.port,
        );
        if store.versioning.is_some() {
            // Idempotent, like the bucket's creation. The lifecycle rule is not applied here:
            // `mc ilm rule add` appends a rule on every run, and this runs on every `up`
            // (docs/operations.md gives the command).
            script.push_str(&format!(" && mc version enable {target}"));
        }
        let environment = credentials(self, &init);
        let creator = ComposeService {
            image: images::MINIO_CLIENT.into(),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into(), script]),
            depends_on: IndexMap::from([(name.clone(), DependsOn::HEALTHY)]),
            environment,
            networks: Self::networks(&[NET_INTERNAL]),
            // A one-shot job: it creates the bucket, exits, and is never restarted.
            restart: Some("no".into()),
            ..self.confined(false)
        };
        self.services.insert(init, creator);
    }

    fn note(&mut self, variable: &str, note: &'static str) {
        if let Some(v) = self.variables.get_mut(variable) {
            v.note = Some(note);
        }
    }

    fn nginx(&mut self) {
        let env = self.environment.name.clone();
        let tls = self.environment.tls;
        let mut volumes = vec![Mount::config(
            format!("./proxy/{env}/nginx.conf"),
            "/etc/nginx/nginx.conf",
        )];
        if self.model.proxy_basic_auth() {
            // Written by the operator (`htpasswd -B`), never generated.
            volumes.push(Mount::config(
                format!("./{}", crate::model::HTPASSWD_FILE),
                "/etc/nginx/htpasswd",
            ));
        }
        let mut ports = vec![Port {
            target: 8080,
            published: Some("80".into()),
            host_ip: None,
            protocol: "tcp",
        }];
        let mut command = None;
        if tls {
            ports.push(Port {
                target: 8443,
                published: Some("443".into()),
                host_ip: None,
                protocol: "tcp",
            });
            volumes.push(self.volume("letsencrypt", "/etc/letsencrypt", true));
            volumes.push(self.volume("certbot-webroot", "/var/www/certbot", true));
            // nginx reads certificates only when it (re)loads: reload regularly to pick up
            // certbot's renewals.
            command = Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                "while :; do sleep 6h; nginx -s reload; done & exec nginx -g 'daemon off;'".into(),
            ]);
        }
        let proxy = ComposeService {
            image: images::NGINX_UNPRIVILEGED.into(),
            command,
            ports,
            volumes,
            healthcheck: Some(wget_check("http://127.0.0.1:8080/healthz")),
            networks: Self::networks(&[NET_PUBLIC, NET_INTERNAL]),
            ..self.confined(true)
        };
        self.services.insert(PROXY.into(), proxy);
        if tls {
            self.certbot();
        }
    }

    fn certbot(&mut self) {
        let live = format!(
            "/etc/letsencrypt/live/{}/fullchain.pem",
            self.environment.domain
        );
        let certificates = self.volume("letsencrypt", "/etc/letsencrypt", false);
        let webroot = self.volume("certbot-webroot", "/var/www/certbot", false);
        let certbot = ComposeService {
            image: images::CERTBOT.into(),
            entrypoint: Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                format!(
                    "trap exit TERM; while :; do certbot renew --webroot --webroot-path /var/www/certbot --quiet --deploy-hook '{CERTBOT_DEPLOY_HOOK}'; sleep 12h & wait $${{!}}; done"
                ),
            ]),
            volumes: vec![certificates, webroot],
            // CHOWN for the deploy hook's chgrp; NET_BIND_SERVICE only for the first certificate
            // (`certonly --standalone` on port 80, see the top of this file): renewals go
            // through the proxy's webroot.
            cap_add: vec!["CHOWN".into(), "NET_BIND_SERVICE".into()],
            // Healthy once the certificate exists.
            healthcheck: Some(Healthcheck {
                interval: "1m".into(),
                ..exec_check(&["test", "-s", &live])
            }),
            networks: Self::networks(&[NET_EGRESS]),
            // certbot writes its state under /etc, /var/lib and /var/log.
            ..self.confined(false)
        };
        self.services.insert(CERTBOT.into(), certbot);
    }

    fn caddy(&mut self) {
        let env = self.environment.name.clone();
        let mut environment = IndexMap::new();
        if self.model.proxy_basic_auth() {
            let [_, hash] = crate::model::PROXY_BASIC_AUTH_SECRETS;
            for variable in crate::model::PROXY_BASIC_AUTH_SECRETS {
                let value = self.required(variable, PROXY, variable);
                environment.insert(variable.to_string(), value);
            }
            self.note(
                hash,
                "A bcrypt hash (`caddy hash-password`), in single quotes: it contains `$`.",
            );
        }
        let mut ports = vec![Port {
            target: 80,
            published: Some("80".into()),
            host_ip: None,
            protocol: "tcp",
        }];
        if self.environment.tls {
            for protocol in ["tcp", "udp"] {
                // UDP carries HTTP/3.
                ports.push(Port {
                    target: 443,
                    published: Some("443".into()),
                    host_ip: None,
                    protocol,
                });
            }
        }
        let volumes = vec![
            Mount::config(format!("./proxy/{env}/Caddyfile"), "/etc/caddy/Caddyfile"),
            self.volume("caddy-data", "/data", false),
            self.volume("caddy-config", "/config", false),
        ];
        let proxy = ComposeService {
            image: images::CADDY.into(),
            environment,
            ports,
            volumes,
            // Caddy runs as root in its image, without capabilities but this one.
            cap_add: vec!["NET_BIND_SERVICE".into()],
            healthcheck: Some(wget_check("http://127.0.0.1:80/healthz")),
            networks: Self::networks(&[NET_PUBLIC, NET_INTERNAL]),
            ..self.confined(true)
        };
        self.services.insert(PROXY.into(), proxy);
    }

    fn monitoring(&mut self) {
        self.prometheus();
        self.alertmanager();
        if self.model.monitoring.grafana.enabled {
            self.grafana();
        }
        self.blackbox();
        self.node_exporter();
        if self.model.proxy_metrics(self.environment)
            && self.model.proxy.engine == ProxyEngine::Nginx
        {
            self.nginx_exporter();
        }
        let env = &self.environment.name;
        let jobs_here = self.model.jobs.iter().any(|j| {
            self.model
                .service(&j.service)
                .is_some_and(|s| s.on_compose(env))
        });
        // The backup jobs report there too.
        if jobs_here || self.model.backups().next().is_some() {
            self.pushgateway();
        }
        let model = self.model;
        for store in crate::generate::observability::postgres_stores(model) {
            self.postgres_exporter(store);
        }
        for store in crate::generate::observability::queue_stores(model) {
            self.redis_exporter(store);
        }
    }

    fn prometheus(&mut self) {
        let env = self.environment.name.clone();
        let prefix = tool_prefix(self.model, InternalTool::Prometheus);
        let mut command = vec![
            "--config.file=/etc/prometheus/prometheus.yml".to_string(),
            "--storage.tsdb.path=/prometheus".into(),
            format!(
                "--storage.tsdb.retention.time={}",
                self.model.monitoring.retention
            ),
        ];
        if let Some(prefix) = &prefix {
            command.push(format!(
                "--web.external-url={}",
                external_url(self.environment, prefix)
            ));
        }
        let data = self.volume("prometheus-data", "/prometheus", false);
        let mut prometheus = ComposeService {
            image: images::PROMETHEUS.into(),
            command: Some(command),
            volumes: vec![
                Mount::config(
                    format!("./monitoring/prometheus/prometheus.{env}.yml"),
                    "/etc/prometheus/prometheus.yml",
                ),
                Mount::config("./monitoring/prometheus/rules", "/etc/prometheus/rules"),
                data,
            ],
            healthcheck: Some(wget_check(&format!(
                "http://127.0.0.1:{PROMETHEUS_PORT}{}/-/healthy",
                prefix.unwrap_or_default()
            ))),
            networks: Self::networks(&[NET_INTERNAL]),
            ..self.confined(true)
        };
        self.publish_tool(&mut prometheus, InternalTool::Prometheus, PROMETHEUS_PORT);
        self.services.insert(PROMETHEUS.into(), prometheus);
    }

    /// A secret read from a file by a monitoring container: a Compose secret fed from the env
    /// file, mounted at `/run/secrets/<name>`.
    fn file_secret(&mut self, secret: &str, user: &str) -> String {
        let file = secret_file_name(secret);
        self.record(secret, user, &format!("/run/secrets/{file}"), true, None);
        self.secrets.insert(
            file.clone(),
            SecretSource {
                environment: secret.to_string(),
            },
        );
        file
    }

    fn alertmanager(&mut self) {
        let prefix = tool_prefix(self.model, InternalTool::Alertmanager);
        let mut command = vec![
            "--config.file=/etc/alertmanager/alertmanager.yml".to_string(),
            "--storage.path=/alertmanager".into(),
            // One instance: no cluster to gossip with.
            "--cluster.listen-address=".into(),
        ];
        if let Some(prefix) = &prefix {
            command.push(format!(
                "--web.external-url={}",
                external_url(self.environment, prefix)
            ));
        }
        let receiver_secrets: Vec<String> = self
            .model
            .monitoring
            .alertmanager_secrets()
            .cloned()
            .collect();
        let mut secrets = Vec::new();
        for secret in receiver_secrets {
            let file = self.file_secret(&secret, ALERTMANAGER);
            if !secrets.contains(&file) {
                secrets.push(file);
            }
        }
        let data = self.volume("alertmanager-data", "/alertmanager", false);
        let mut alertmanager = ComposeService {
            image: images::ALERTMANAGER.into(),
            command: Some(command),
            secrets,
            volumes: vec![
                Mount::config(
                    "./monitoring/alertmanager/alertmanager.yml",
                    "/etc/alertmanager/alertmanager.yml",
                ),
                data,
            ],
            healthcheck: Some(wget_check(&format!(
                "http://127.0.0.1:{ALERTMANAGER_PORT}{}/-/healthy",
                prefix.unwrap_or_default()
            ))),
            // Receivers (Slack, webhooks, SMTP) are outside.
            networks: Self::networks(&[NET_INTERNAL, NET_EGRESS]),
            ..self.confined(true)
        };
        self.publish_tool(
            &mut alertmanager,
            InternalTool::Alertmanager,
            ALERTMANAGER_PORT,
        );
        self.services.insert(ALERTMANAGER.into(), alertmanager);
    }

    fn grafana(&mut self) {
        let grafana_settings = &self.model.monitoring.grafana;
        let admin_user = grafana_settings.admin_user.replace('$', "$$");
        let password_secret = grafana_settings.admin_password_secret.clone();
        let dashboards = grafana_settings.dashboards;
        let password_file = self.file_secret(&password_secret, GRAFANA);
        let prefix = tool_prefix(self.model, InternalTool::Grafana);
        let mut environment = IndexMap::from([
            ("GF_SECURITY_ADMIN_USER".to_string(), admin_user),
            (
                "GF_SECURITY_ADMIN_PASSWORD__FILE".to_string(),
                format!("/run/secrets/{password_file}"),
            ),
            ("GF_AUTH_ANONYMOUS_ENABLED".to_string(), "false".to_string()),
            ("GF_USERS_ALLOW_SIGN_UP".to_string(), "false".to_string()),
            (
                "GF_ANALYTICS_REPORTING_ENABLED".to_string(),
                "false".to_string(),
            ),
            (
                "GF_ANALYTICS_CHECK_FOR_UPDATES".to_string(),
                "false".to_string(),
            ),
            // Logs to stdout only, rotated by Docker: the root file system is read-only.
            ("GF_LOG_MODE".to_string(), "console".to_string()),
        ]);
        if let Some(prefix) = &prefix {
            environment.insert(
                "GF_SERVER_ROOT_URL".into(),
                external_url(self.environment, prefix),
            );
            environment.insert("GF_SERVER_SERVE_FROM_SUB_PATH".into(), "true".into());
        }
        let mut volumes = vec![Mount::config(
            "./monitoring/grafana/provisioning",
            "/etc/grafana/provisioning",
        )];
        if dashboards {
            volumes.push(Mount::config(
                "./monitoring/grafana/dashboards",
                "/var/lib/grafana/dashboards",
            ));
        }
        volumes.push(self.volume("grafana-data", "/var/lib/grafana", false));
        let mut grafana = ComposeService {
            image: images::GRAFANA.into(),
            environment,
            secrets: vec![password_file],
            volumes,
            healthcheck: Some(wget_check(&format!(
                "http://127.0.0.1:{GRAFANA_PORT}{}/api/health",
                prefix.unwrap_or_default()
            ))),
            networks: Self::networks(&[NET_INTERNAL]),
            ..self.confined(true)
        };
        self.publish_tool(&mut grafana, InternalTool::Grafana, GRAFANA_PORT);
        self.services.insert(GRAFANA.into(), grafana);
    }

    fn blackbox(&mut self) {
        let blackbox = ComposeService {
            image: images::BLACKBOX.into(),
            volumes: vec![Mount::config(
                "./monitoring/blackbox/blackbox.yml",
                "/etc/blackbox_exporter/config.yml",
            )],
            healthcheck: Some(wget_check(&format!(
                "http://127.0.0.1:{BLACKBOX_PORT}/-/healthy"
            ))),
            // The public probe goes out the way visitors come in: the domain's DNS record.
            networks: if self.model.public_probe_url(self.environment).is_some() {
                Self::networks(&[NET_INTERNAL, NET_EGRESS])
            } else {
                Self::networks(&[NET_INTERNAL])
            },
            ..self.confined(true)
        };
        self.services.insert(BLACKBOX.into(), blackbox);
    }

    /// The host's metrics: its root file system read-only at /host and the host's PID
    /// namespace, as the node exporter's documentation requires for a containerised exporter
    /// (without them it reports the container's own disks and processes). It stays on the
    /// internal network: the host's network namespace (`network_mode: host`) would put its
    /// port on every interface of the host.
    fn node_exporter(&mut self) {
        let exporter = ComposeService {
            image: images::NODE_EXPORTER.into(),
            command: Some(vec!["--path.rootfs=/host".into()]),
            pid: Some("host".into()),
            volumes: vec![Mount::host_root("/host")],
            healthcheck: Some(wget_check(&format!(
                "http://127.0.0.1:{NODE_EXPORTER_PORT}/"
            ))),
            networks: Self::networks(&[NET_INTERNAL]),
            ..self.confined(true)
        };
        self.services.insert(NODE_EXPORTER.into(), exporter);
    }

    /// Reads the nginx proxy's `stub_status` on its unpublished listener. Its image has no
    /// shell or HTTP client for a health check: Prometheus' scrape (ServiceDown) watches it.
    fn nginx_exporter(&mut self) {
        let exporter = ComposeService {
            image: images::NGINX_EXPORTER.into(),
            command: Some(vec![format!(
                "--nginx.scrape-uri=http://{PROXY}:{NGINX_STATUS_PORT}{NGINX_STATUS_PATH}"
            )]),
            depends_on: IndexMap::from([(PROXY.to_string(), DependsOn::STARTED)]),
            networks: Self::networks(&[NET_INTERNAL]),
            ..self.confined(true)
        };
        self.services.insert(NGINX_EXPORTER_HOST.into(), exporter);
    }

    fn pushgateway(&mut self) {
        let pushgateway = ComposeService {
            image: images::PUSHGATEWAY.into(),
            healthcheck: Some(wget_check(&format!(
                "http://127.0.0.1:{PUSHGATEWAY_PORT}/-/healthy"
            ))),
            networks: Self::networks(&[NET_INTERNAL]),
            ..self.confined(true)
        };
        self.services.insert(PUSHGATEWAY.into(), pushgateway);
    }

    fn postgres_exporter(&mut self, store: &Store) {
        let name = exporter_name(&store.name);
        let dsn = self.model.exporter_dsn(store, self.environment);
        let dsn = self.interpolate(&dsn, &name, "DATA_SOURCE_NAME");
        let exporter = ComposeService {
            image: images::POSTGRES_EXPORTER.into(),
            environment: IndexMap::from([("DATA_SOURCE_NAME".to_string(), dsn)]),
            healthcheck: Some(wget_check(&format!(
                "http://127.0.0.1:{POSTGRES_EXPORTER_PORT}/"
            ))),
            ..self.store_exporter(store)
        };
        self.services.insert(name, exporter);
    }

    /// What every store exporter shares: confined, after its store when that is a container,
    /// and on the egress network when the store is a provider's, outside.
    fn store_exporter(&self, store: &Store) -> ComposeService {
        let container = self.environment.provider(&store.name) == Provider::Container;
        ComposeService {
            depends_on: if container {
                IndexMap::from([(store.name.clone(), DependsOn::HEALTHY)])
            } else {
                IndexMap::new()
            },
            networks: if container {
                Self::networks(&[NET_INTERNAL])
            } else {
                Self::networks(&[NET_INTERNAL, NET_EGRESS])
            },
            ..self.confined(true)
        }
    }

    /// The queues' length (`redis_key_size`) and `redis_up`. The image is `FROM scratch`: no
    /// shell or HTTP client for a health check; Prometheus' scrape (ServiceDown) is its check.
    fn redis_exporter(&mut self, store: &Store) {
        let name = exporter_name(&store.name);
        let url = self.model.exporter_dsn(store, self.environment);
        let url = self.interpolate(&url, &name, "REDIS_ADDR");
        let keys = store
            .queues
            .iter()
            .map(|q| format!("db0={q}"))
            .collect::<Vec<_>>()
            .join(",");
        let exporter = ComposeService {
            image: images::REDIS_EXPORTER.into(),
            command: Some(vec![format!("--check-single-keys={keys}")]),
            environment: IndexMap::from([("REDIS_ADDR".to_string(), url)]),
            ..self.store_exporter(store)
        };
        self.services.insert(name, exporter);
    }
}

/// An exec-form command the blueprint gives, for Compose: Compose interpolates `$` in
/// `command:` too, so each is doubled and reaches the process as the user wrote it.
fn literal_words(words: &[String]) -> Vec<String> {
    words.iter().map(|word| word.replace('$', "$$")).collect()
}
