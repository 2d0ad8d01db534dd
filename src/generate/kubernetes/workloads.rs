//! Workloads: a Deployment (and a Service when it listens) per service, a CronJob per job and per
//! backed-up PostgreSQL store, their variables per environment, autoscalers, disruption budgets
//! and the in-cluster PostgreSQL.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::objects::{
    Capabilities, ConfigMapVolume, Container, ContainerPort, Data, DeploymentSpec,
    DeploymentStrategy, EmptyDir, EnvFromSource, EnvVar, EnvVarSource, ExecAction, HttpGetAction,
    LabelSelector, LocalObjectReference, Object, ObjectFieldSelector, ObjectMeta, PodMeta,
    PodSecurityContext, PodSpec, PodTemplate, Probe, ResourceRequirements, RollingUpdate,
    SeccompProfile, SecretKeySelector, SecurityContext, ServicePort, ServiceSpec, Spec,
    TopologySpreadConstraint, Volume, VolumeMount,
};
use super::{Layer, Manifest, document, labels, selector};
use crate::blueprint::{Provider, Runtime, StoreKind};
use crate::generate::containers::dockerfile::HEALTH_TIMEOUT_SECONDS;
use crate::generate::containers::{backup, images, jobs};
use crate::generate::observability::{POSTGRES_EXPORTER_PORT, exporter_host, postgres_stores};
use crate::model::{
    Backup, Environment, Job, Model, Part, Service, Store, Value, kubernetes_secret_name,
};

/// The user and group the generated images run as.
pub const APP_UID: u32 = 10001;
/// The `postgres` user of the Debian-based PostgreSQL image.
const POSTGRES_UID: u32 = 999;
/// The role and database of the in-cluster PostgreSQL (the same as the Compose container's).
const POSTGRES_APP: &str = "app";
/// The container port name Services, probes and monitors refer to.
pub const HTTP_PORT_NAME: &str = "http";
/// The in-cluster PostgreSQL's port name.
const POSTGRES_PORT_NAME: &str = "postgresql";
/// The ConfigMap holding the job wrapper script.
const RUN_JOB_CONFIG_MAP: &str = "run-job";
/// The restore test's `/tmp`, which holds its scratch server's data directory (the restored
/// database): an emptyDir on the node's disk, bounded so a database larger than the node can
/// spare fails the test rather than the node. docs/operations.md says how to raise it.
pub const RESTORE_TEST_SCRATCH: &str = "8Gi";
/// The restore test's memory (its scratch server's shared buffers, pg_restore's index builds).
pub const RESTORE_TEST_MEMORY: &str = "1Gi";
/// The variable holding the backed-up database's URL, which the restore test is not given.
const DATABASE_URL_VARIABLE: &str = "BACKUP_DATABASE_URL";
/// The ConfigMap holding the backup and restore scripts.
const BACKUP_CONFIG_MAP: &str = "backup";
/// The script keys of [`BACKUP_CONFIG_MAP`].
const BACKUP_KEY: &str = "backup.sh";
const RESTORE_KEY: &str = "restore.sh";
/// Annotation whose change rolls pods when their ConfigMap changes.
const CONFIG_CHECKSUM: &str = "checksum/config";
/// Size of each in-cluster PostgreSQL volume.
const POSTGRES_STORAGE: &str = "10Gi";

/// Services that run in `environment`'s cluster.
pub fn cluster_services<'a>(
    model: &'a Model,
    environment: &'a Environment,
) -> impl Iterator<Item = &'a Service> {
    model
        .services
        .iter()
        .filter(move |s| s.on_kubernetes(&environment.name))
}

/// Jobs whose service runs in `environment`'s cluster.
pub fn cluster_jobs<'a>(
    model: &'a Model,
    environment: &'a Environment,
) -> impl Iterator<Item = &'a Job> {
    model.jobs_whose_service(move |s| s.on_kubernetes(&environment.name))
}

/// PostgreSQL stores the environment asked to run inside the cluster.
pub fn cluster_databases<'a>(
    model: &'a Model,
    environment: &'a Environment,
) -> impl Iterator<Item = &'a Store> {
    model.stores.iter().filter(move |s| {
        s.kind == StoreKind::Postgres && environment.provider(&s.name) == Provider::Container
    })
}

/// PostgreSQL stores that get a postgres_exporter in `environment`'s cluster: all of them when
/// it is monitored, whoever provides the database, as on Compose.
pub fn cluster_exported_stores<'a>(
    model: &'a Model,
    environment: &'a Environment,
) -> impl Iterator<Item = &'a Store> {
    postgres_stores(model).filter(move |_| model.monitoring.enabled && environment.on_kubernetes())
}

/// The images of the project that `environment`'s cluster pulls: its services', then its backup
/// jobs'. The overlay pins their tags and the deploy job points them at the commit's.
pub fn cluster_images<'a>(model: &'a Model, environment: &'a Environment) -> Vec<&'a str> {
    cluster_services(model, environment)
        .map(|s| s.image.as_str())
        .chain(model.cluster_backups().map(|(_, b)| b.image.as_str()))
        .collect()
}

/// The ConfigMap of a service's (or a backup job's) plain variables in one environment.
pub fn config_map_name(service: &str) -> String {
    format!("{service}-config")
}

/// The base: a Deployment and Service per service, a CronJob per job, the job wrapper.
pub fn base(model: &Model, first: &Environment) -> Layer {
    let mut layer = Layer::default();
    for service in cluster_services(model, first) {
        let mut documents = vec![document(&deployment(model, service))];
        if let Some(port) = service.port {
            documents.push(document(&kube_service(
                model,
                &service.name,
                port,
                Served::App,
            )));
        }
        layer.resources.push(Manifest::new(
            format!("services/{}.yaml", service.name),
            documents,
        ));
    }
    let jobs: Vec<&Job> = cluster_jobs(model, first).collect();
    let backups: Vec<(&Store, &Backup)> = model.cluster_backups().collect();
    if !jobs.is_empty() || !backups.is_empty() {
        layer.resources.push(Manifest::new(
            "jobs/run-job.yaml",
            vec![document(&scripts(
                model,
                RUN_JOB_CONFIG_MAP,
                &[("run-job.sh", jobs::RUN_JOB)],
            ))],
        ));
    }
    if !backups.is_empty() {
        layer.resources.push(Manifest::new(
            "jobs/backup.yaml",
            vec![document(&scripts(
                model,
                BACKUP_CONFIG_MAP,
                &[(BACKUP_KEY, backup::BACKUP), (RESTORE_KEY, backup::RESTORE)],
            ))],
        ));
    }
    for (_, policy) in &backups {
        // The backup, then its restore test: the same pod but for the command and /tmp.
        let runs = std::iter::once((
            &policy.job,
            backup::run_argv(policy),
            &policy.schedule,
            policy.timeout_seconds,
        ))
        .chain(policy.restore_test.iter().map(|t| {
            (
                &t.job,
                backup::restore_test_argv(t),
                &t.schedule,
                t.timeout_seconds,
            )
        }));
        for (name, command, schedule, timeout) in runs {
            layer.resources.push(Manifest::new(
                format!("jobs/{name}.yaml"),
                vec![document(&backup_cron_job(
                    model, policy, name, command, schedule, timeout,
                ))],
            ));
        }
    }
    for job in jobs {
        if let Some(service) = model.service(&job.service) {
            layer.resources.push(Manifest::new(
                format!("jobs/{}.yaml", job.name),
                vec![document(&cron_job(model, job, service))],
            ));
        }
    }
    layer
}

/// An overlay's workloads: variables, replicas, autoscalers, budgets, the in-cluster database.
pub fn overlay(model: &Model, environment: &Environment) -> Layer {
    let mut layer = Layer::default();
    layer.resources.push(Manifest::new(
        "namespace.yaml",
        vec![document(&namespace(model, environment))],
    ));
    // Each service's config checksum, which its CronJobs' pods carry too.
    let mut checksums: BTreeMap<&str, String> = BTreeMap::new();
    for service in cluster_services(model, environment) {
        let data = service
            .env
            .get(&environment.name)
            .into_iter()
            .flatten()
            .filter_map(|(name, variable)| Some((name.clone(), variable.value.as_text()?)))
            .collect();
        let (config, checksum) = config_map(model, &service.name, "service", data);
        checksums.insert(&service.name, checksum.clone());
        layer.resources.push(Manifest::new(
            format!("config/{}.yaml", service.name),
            vec![document(&config)],
        ));
        let autoscaled = service.autoscaling.is_some();
        let patch = Object::new(
            "apps/v1",
            "Deployment",
            ObjectMeta {
                name: service.name.clone(),
                ..ObjectMeta::default()
            },
            Spec {
                spec: WorkloadPatch {
                    replicas: (!autoscaled).then_some(environment.replicas),
                    template: TemplatePatch::new(
                        &[&service.name],
                        &service
                            .migration
                            .as_ref()
                            .map(|m| m.name.as_str())
                            .into_iter()
                            .collect::<Vec<_>>(),
                        &checksum,
                        secret_env(service, environment),
                    ),
                },
            },
        );
        layer.patches.push(Manifest::new(
            format!("patches/{}.yaml", service.name),
            vec![document(&patch)],
        ));
        if let Some(hpa) = autoscaler(model, environment, service) {
            layer.resources.push(Manifest::new(
                format!("autoscaling/{}.yaml", service.name),
                vec![document(&hpa)],
            ));
        }
        if let Some(budget) = disruption_budget(model, environment, service) {
            layer.resources.push(Manifest::new(
                format!("disruption-budgets/{}.yaml", service.name),
                vec![document(&budget)],
            ));
        }
    }
    for job in cluster_jobs(model, environment) {
        let Some(service) = model.service(&job.service) else {
            continue;
        };
        let checksum = checksums
            .get(service.name.as_str())
            .cloned()
            .unwrap_or_default();
        let mut env = secret_env(service, environment);
        env.extend(pushgateway_vars(model, environment));
        layer
            .patches
            .push(cron_job_patch(&job.name, &checksum, env));
    }
    // Each backup job's variables: the plain ones in a ConfigMap of its own, the secrets (and
    // the database URL built from one) as references in the patch, as a service's.
    for (store, policy) in model.cluster_backups() {
        let variables = model.backup_variables(store, policy, environment);
        let data = variables
            .iter()
            .filter_map(|(name, value)| Some((name.clone(), value.as_text()?)))
            .collect();
        let (config, checksum) = config_map(model, &policy.job, "job", data);
        layer.resources.push(Manifest::new(
            format!("config/{}.yaml", policy.job),
            vec![document(&config)],
        ));
        let mut env = secret_vars(variables.iter().map(|(name, value)| (name.as_str(), value)));
        env.extend(pushgateway_vars(model, environment));
        // The restore test reads the same ConfigMap and secrets, but not the database's URL:
        // it restores into its own scratch server and never reaches the database.
        if let Some(test) = &policy.restore_test {
            let mut env = secret_vars(
                variables
                    .iter()
                    .filter(|(name, _)| name != DATABASE_URL_VARIABLE)
                    .map(|(name, value)| (name.as_str(), value)),
            );
            env.extend(pushgateway_vars(model, environment));
            layer
                .patches
                .push(cron_job_patch(&test.job, &checksum, env));
        }
        layer
            .patches
            .push(cron_job_patch(&policy.job, &checksum, env));
    }
    for store in cluster_exported_stores(model, environment) {
        let host = exporter_host(store);
        layer.resources.push(Manifest::new(
            format!("monitoring/{host}.yaml"),
            vec![
                document(&postgres_exporter(model, environment, store)),
                document(&kube_service(
                    model,
                    &host,
                    POSTGRES_EXPORTER_PORT,
                    Served::Exporter,
                )),
            ],
        ));
    }
    for store in cluster_databases(model, environment) {
        layer.resources.push(Manifest::new(
            format!("databases/{}.yaml", store.name),
            vec![
                document(&postgres(model, store)),
                document(&kube_service(
                    model,
                    &store.name,
                    store.port,
                    Served::Database,
                )),
            ],
        ));
    }
    layer
}

fn namespace(model: &Model, environment: &Environment) -> Object<()> {
    let name = environment
        .kubernetes
        .as_ref()
        .map_or_else(String::new, |k| k.namespace.clone());
    let mut meta = ObjectMeta::named(name, BTreeMap::new());
    meta.labels = BTreeMap::from([
        (super::PART_OF_LABEL.to_string(), model.project.name.clone()),
        (super::MANAGED_BY_LABEL.to_string(), "blueprint".to_string()),
        // Pod Security Admission: every pod here must meet the `restricted` profile.
        (
            "pod-security.kubernetes.io/enforce".to_string(),
            "restricted".to_string(),
        ),
        (
            "pod-security.kubernetes.io/enforce-version".to_string(),
            "latest".to_string(),
        ),
    ]);
    Object::new("v1", "Namespace", meta, ())
}

/// Whether blueprint built the image (and knows it runs as [`APP_UID`] with a writable `/tmp`
/// only); the user's own images keep their user and file system.
fn ours(service: &Service) -> bool {
    service.runtime != Runtime::Custom
}

fn pod_security(uid: Option<u32>) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: true,
        run_as_user: uid,
        run_as_group: uid,
        fs_group: uid,
        seccomp_profile: SeccompProfile {
            kind: "RuntimeDefault",
        },
    }
}

fn container_security(read_only: bool) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: false,
        read_only_root_filesystem: read_only,
        run_as_non_root: true,
        capabilities: Capabilities { drop: vec!["ALL"] },
    }
}

/// A writable `emptyDir` mounted at `path`: scratch space beside a read-only root.
fn scratch_volume(name: &str, path: &str, size_limit: Option<&str>) -> (Volume, VolumeMount) {
    (
        Volume {
            name: name.to_string(),
            empty_dir: Some(EmptyDir {
                size_limit: size_limit.map(String::from),
            }),
            config_map: None,
        },
        VolumeMount {
            name: name.to_string(),
            mount_path: path.to_string(),
            read_only: false,
            sub_path: None,
        },
    )
}

/// The apps' `/tmp`, bounded so a runaway temporary file cannot fill the node's disk.
fn tmp_volume() -> (Volume, VolumeMount) {
    scratch_volume("tmp", "/tmp", Some("256Mi"))
}

/// Compose sizes (`512m`, `1g`, `64k`) as Kubernetes quantities (`512Mi`, `1Gi`, `64Ki`).
pub fn quantity(size: &str) -> String {
    match size.chars().last() {
        Some('k') => format!("{}Ki", &size[..size.len() - 1]),
        Some('m') => format!("{}Mi", &size[..size.len() - 1]),
        Some('g') => format!("{}Gi", &size[..size.len() - 1]),
        _ => size.to_string(),
    }
}

/// CPU cores as millicores (`0.5` -> `500m`).
pub fn millicores(cpus: f64) -> String {
    format!("{}m", (cpus * 1000.0).round() as u64)
}

/// Requests what the blueprint limits, so the scheduler reserves it and the autoscaler has a
/// base; memory is also the limit (an app over it is killed rather than starving the node), CPU
/// is not (a CPU limit throttles even an idle node).
fn resources(service: &Service) -> ResourceRequirements {
    let cpu = service
        .resources
        .as_ref()
        .and_then(|r| r.cpus)
        .map_or_else(|| "100m".to_string(), millicores);
    let memory = service
        .resources
        .as_ref()
        .and_then(|r| r.memory.as_deref())
        .map_or_else(|| "256Mi".to_string(), quantity);
    ResourceRequirements {
        requests: BTreeMap::from([("cpu".into(), cpu), ("memory".into(), memory.clone())]),
        limits: BTreeMap::from([("memory".into(), memory)]),
    }
}

/// Requests of `cpu` and `memory`, and a memory limit (no CPU limit, as for the apps), for the
/// containers blueprint sizes itself.
fn fixed_resources(cpu: &str, memory: &str, memory_limit: &str) -> ResourceRequirements {
    ResourceRequirements {
        requests: BTreeMap::from([("cpu".into(), cpu.into()), ("memory".into(), memory.into())]),
        limits: BTreeMap::from([("memory".into(), memory_limit.into())]),
    }
}

fn http_probe(path: &str, period: u32, failures: u32) -> Probe {
    Probe {
        http_get: Some(HttpGetAction {
            path: path.to_string(),
            port: HTTP_PORT_NAME.into(),
        }),
        exec: None,
        period_seconds: period,
        timeout_seconds: HEALTH_TIMEOUT_SECONDS as u32,
        failure_threshold: failures,
    }
}

/// Startup (up to 150 s to boot), readiness (out of rotation after 30 s failing) and liveness
/// (restarted after a minute failing) probes of the health endpoint.
fn probes(container: &mut Container, service: &Service) {
    if let (Some(_), Some(path)) = (service.port, &service.health_path) {
        container.startup_probe = Some(http_probe(path, 5, 30));
        container.readiness_probe = Some(http_probe(path, 10, 3));
        container.liveness_probe = Some(http_probe(path, 20, 3));
    }
}

fn app_container(service: &Service, name: &str) -> Container {
    let (_, tmp_mount) = tmp_volume();
    Container {
        name: name.to_string(),
        image: service.image.clone(),
        image_pull_policy: Some("IfNotPresent"),
        args: if ours(service) {
            Vec::new()
        } else {
            service.command.clone()
        },
        env_from: vec![EnvFromSource {
            config_map_ref: LocalObjectReference {
                name: config_map_name(&service.name),
            },
        }],
        env: service
            .pod_address_hosts
            .as_deref()
            .map(pod_address_vars)
            .unwrap_or_default(),
        resources: Some(resources(service)),
        security_context: Some(container_security(ours(service))),
        volume_mounts: if ours(service) {
            vec![tmp_mount]
        } else {
            Vec::new()
        },
        ..Container::default()
    }
}

fn pod_spec(service: &Service, containers: Vec<Container>, volumes: Vec<Volume>) -> PodSpec {
    PodSpec {
        automount_service_account_token: false,
        enable_service_links: false,
        restart_policy: None,
        security_context: pod_security(ours(service).then_some(APP_UID)),
        termination_grace_period_seconds: Some(30),
        topology_spread_constraints: Vec::new(),
        init_containers: Vec::new(),
        containers,
        volumes,
    }
}

/// The init container that migrates `service`'s schema before each of its pods starts: every
/// rollout runs it with the new image (a second pod's run finds nothing left to do).
fn migration_container(service: &Service) -> Option<Container> {
    let migration = service.migration.as_ref()?;
    let mut container = app_container(service, &migration.name);
    container.args = migration.command.clone();
    // The app's downward-API variables are for what it serves; a migration serves nothing.
    container.env = Vec::new();
    Some(container)
}

fn deployment(model: &Model, service: &Service) -> Object<Spec<DeploymentSpec>> {
    let mut container = app_container(service, &service.name);
    if let Some(port) = service.port {
        container.ports.push(ContainerPort {
            name: HTTP_PORT_NAME.into(),
            container_port: port,
            protocol: "TCP",
        });
    }
    probes(&mut container, service);
    let volumes = if ours(service) {
        vec![tmp_volume().0]
    } else {
        Vec::new()
    };
    let mut pod = pod_spec(service, vec![container], volumes);
    pod.init_containers = migration_container(service).into_iter().collect();
    pod.topology_spread_constraints = vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: "kubernetes.io/hostname",
        when_unsatisfiable: "ScheduleAnyway",
        label_selector: LabelSelector {
            match_labels: selector(model, &service.name),
        },
    }];
    // The overlay sets the count, or the autoscaler owns it (a count here would be reset by
    // every apply).
    rolling_deployment(model, &service.name, "service", None, pod)
}

/// A Deployment `name` of `pod`, rolled one surge pod at a time without going below its count.
fn rolling_deployment(
    model: &Model,
    name: &str,
    component: &str,
    replicas: Option<u32>,
    pod: PodSpec,
) -> Object<Spec<DeploymentSpec>> {
    Object::new(
        "apps/v1",
        "Deployment",
        ObjectMeta::named(name, labels(model, name, component)),
        Spec {
            spec: DeploymentSpec {
                replicas,
                revision_history_limit: 5,
                selector: LabelSelector {
                    match_labels: selector(model, name),
                },
                strategy: DeploymentStrategy {
                    kind: "RollingUpdate",
                    rolling_update: RollingUpdate {
                        max_surge: "25%".into(),
                        max_unavailable: 0,
                    },
                },
                template: PodTemplate {
                    metadata: PodMeta {
                        labels: labels(model, name, component),
                        annotations: BTreeMap::new(),
                    },
                    spec: pod,
                },
            },
        },
    )
}

/// The user the postgres_exporter image runs as (`nobody`): named in the image, so the pod
/// must give the number for `runAsNonRoot` to be verifiable.
const NOBODY_UID: u32 = 65534;

/// A store's postgres_exporter: the Compose exporter's image and connection string (the
/// secrets as references), read-only and unprivileged, ready once its HTTP server answers.
/// `pg_up` says whether it reaches the database; PostgresDown alerts on it.
fn postgres_exporter(
    model: &Model,
    environment: &Environment,
    store: &Store,
) -> Object<Spec<DeploymentSpec>> {
    let name = exporter_host(store);
    let dsn = model.exporter_dsn(store, environment);
    let env = match dsn.as_text() {
        Some(text) => vec![EnvVar {
            name: DSN_VARIABLE.into(),
            value: Some(escape_expansion(&text)),
            value_from: None,
        }],
        None => secret_vars([(DSN_VARIABLE, &dsn)]),
    };
    let probe = |period, failures| http_probe("/", period, failures);
    let container = Container {
        name: name.clone(),
        image: images::POSTGRES_EXPORTER.into(),
        image_pull_policy: Some("IfNotPresent"),
        ports: vec![ContainerPort {
            name: HTTP_PORT_NAME.into(),
            container_port: POSTGRES_EXPORTER_PORT,
            protocol: "TCP",
        }],
        env,
        resources: Some(fixed_resources("50m", "64Mi", "128Mi")),
        security_context: Some(container_security(true)),
        readiness_probe: Some(probe(10, 3)),
        liveness_probe: Some(probe(20, 3)),
        ..Container::default()
    };
    let pod = PodSpec {
        automount_service_account_token: false,
        enable_service_links: false,
        restart_policy: None,
        security_context: pod_security(Some(NOBODY_UID)),
        termination_grace_period_seconds: Some(30),
        topology_spread_constraints: Vec::new(),
        init_containers: Vec::new(),
        containers: vec![container],
        volumes: Vec::new(),
    };
    rolling_deployment(model, &name, Served::Exporter.component(), Some(1), pod)
}

/// The variable postgres_exporter reads its connection string from.
const DSN_VARIABLE: &str = "DATA_SOURCE_NAME";

/// What a Service fronts: an app over HTTP, or the in-cluster database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Served {
    /// A service's HTTP port.
    App,
    /// PostgreSQL.
    Database,
    /// A store's postgres_exporter (HTTP metrics).
    Exporter,
}

impl Served {
    /// The `app.kubernetes.io/component` label.
    fn component(self) -> &'static str {
        match self {
            Served::App => "service",
            Served::Database => "database",
            Served::Exporter => "monitoring",
        }
    }

    /// The port's name, on the container and the Service.
    fn port_name(self) -> &'static str {
        match self {
            Served::App | Served::Exporter => HTTP_PORT_NAME,
            Served::Database => POSTGRES_PORT_NAME,
        }
    }

    /// The Service port's `appProtocol`.
    fn app_protocol(self) -> &'static str {
        match self {
            Served::App | Served::Exporter => "http",
            Served::Database => "tcp",
        }
    }
}

/// A ClusterIP Service named like the Compose host, on the same port, so URLs between services
/// (`http://api:8000`) read the same on both platforms.
fn kube_service(model: &Model, name: &str, port: u16, served: Served) -> Object<Spec<ServiceSpec>> {
    Object::new(
        "v1",
        "Service",
        ObjectMeta::named(name, labels(model, name, served.component())),
        Spec {
            spec: ServiceSpec {
                kind: "ClusterIP",
                selector: selector(model, name),
                ports: vec![ServicePort {
                    name: served.port_name().into(),
                    port,
                    target_port: served.port_name().into(),
                    protocol: "TCP",
                    app_protocol: Some(served.app_protocol()),
                }],
            },
        },
    )
}

/// `CronJob.spec`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct CronJobSpec {
    schedule: String,
    time_zone: &'static str,
    concurrency_policy: &'static str,
    starting_deadline_seconds: u64,
    successful_jobs_history_limit: u32,
    failed_jobs_history_limit: u32,
    job_template: JobTemplate,
}

#[derive(Debug, Clone, Serialize)]
struct JobTemplate {
    metadata: PodMeta,
    spec: JobSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct JobSpec {
    backoff_limit: u32,
    active_deadline_seconds: u64,
    template: PodTemplate,
}

/// The ConfigMap volume `name`, its files executable (`sh` runs them either way).
fn scripts_volume(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: None,
        config_map: Some(ConfigMapVolume {
            name: name.into(),
            default_mode: Some(0o555),
        }),
    }
}

/// The file `key` of the ConfigMap volume `volume`, read-only at `path`.
fn script_mount(volume: &str, key: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        read_only: true,
        sub_path: Some(key.into()),
    }
}

fn cron_job(model: &Model, job: &Job, service: &Service) -> Object<Spec<CronJobSpec>> {
    let mut container = app_container(service, &job.name);
    container.command = ["/bin/sh", jobs::RUN_JOB_MOUNT, &job.name]
        .map(String::from)
        .into_iter()
        .chain([job.timeout_seconds.to_string(), "--".to_string()])
        .chain(job.command.iter().cloned())
        .collect();
    container.args = Vec::new();
    container.volume_mounts.push(script_mount(
        RUN_JOB_CONFIG_MAP,
        "run-job.sh",
        jobs::RUN_JOB_MOUNT,
    ));
    let mut volumes = if ours(service) {
        vec![tmp_volume().0]
    } else {
        Vec::new()
    };
    volumes.push(scripts_volume(RUN_JOB_CONFIG_MAP));
    let mut pod = pod_spec(service, vec![container], volumes);
    pod.restart_policy = Some("Never");
    scheduled(model, &job.name, &job.schedule, job.timeout_seconds, pod)
}

/// A job of `policy` named `name` running `command`: the backup (`backup.sh` through the
/// wrapper) or its restore test (`restore.sh --test`), exactly the Compose scheduler's
/// commands, in the backup's own image (the database's PostgreSQL image with mc, pushed by
/// images.yml), as that image's `postgres` user on a read-only root with a scratch `/tmp`.
fn backup_cron_job(
    model: &Model,
    policy: &Backup,
    name: &str,
    command: Vec<String>,
    schedule: &str,
    timeout_seconds: u64,
) -> Object<Spec<CronJobSpec>> {
    let restore_test = name != policy.job;
    let (tmp, tmp_mount) = if restore_test {
        // The scratch server's data directory lives here: it must hold the restored database.
        scratch_volume("tmp", "/tmp", Some(RESTORE_TEST_SCRATCH))
    } else {
        tmp_volume()
    };
    let container = Container {
        name: name.to_string(),
        image: policy.image.clone(),
        image_pull_policy: Some("IfNotPresent"),
        command,
        env_from: vec![EnvFromSource {
            config_map_ref: LocalObjectReference {
                name: config_map_name(&policy.job),
            },
        }],
        // pg_dump streams to mc, which uploads in parts: little memory whatever the database's
        // size. The restore test also runs a PostgreSQL server.
        resources: Some(if restore_test {
            fixed_resources("250m", RESTORE_TEST_MEMORY, RESTORE_TEST_MEMORY)
        } else {
            fixed_resources("250m", "512Mi", "512Mi")
        }),
        security_context: Some(container_security(true)),
        volume_mounts: vec![
            tmp_mount,
            script_mount(RUN_JOB_CONFIG_MAP, "run-job.sh", jobs::RUN_JOB_MOUNT),
            script_mount(BACKUP_CONFIG_MAP, BACKUP_KEY, backup::BACKUP_MOUNT),
            // For a restore run by hand in a pod of this job (docs/operations.md).
            script_mount(BACKUP_CONFIG_MAP, RESTORE_KEY, backup::RESTORE_MOUNT),
        ],
        ..Container::default()
    };
    let pod = PodSpec {
        automount_service_account_token: false,
        enable_service_links: false,
        restart_policy: Some("Never"),
        security_context: pod_security(Some(POSTGRES_UID)),
        termination_grace_period_seconds: Some(30),
        topology_spread_constraints: Vec::new(),
        init_containers: Vec::new(),
        containers: vec![container],
        volumes: vec![
            tmp,
            scripts_volume(RUN_JOB_CONFIG_MAP),
            scripts_volume(BACKUP_CONFIG_MAP),
        ],
    };
    scheduled(model, name, schedule, timeout_seconds, pod)
}

/// A CronJob `name` running `pod` on `schedule` (UTC): one run at a time, no retry, stopped a
/// minute after the wrapper's own timeout.
fn scheduled(
    model: &Model,
    name: &str,
    schedule: &str,
    timeout_seconds: u64,
    pod: PodSpec,
) -> Object<Spec<CronJobSpec>> {
    let job_labels = labels(model, name, "job");
    Object::new(
        "batch/v1",
        "CronJob",
        ObjectMeta::named(name, job_labels.clone()),
        Spec {
            spec: CronJobSpec {
                schedule: schedule.to_string(),
                time_zone: "Etc/UTC",
                // A run still going when the next is due is left alone: two runs at once would
                // race on the same data.
                concurrency_policy: "Forbid",
                starting_deadline_seconds: 300,
                successful_jobs_history_limit: 3,
                failed_jobs_history_limit: 3,
                job_template: JobTemplate {
                    metadata: PodMeta {
                        labels: job_labels.clone(),
                        annotations: BTreeMap::new(),
                    },
                    spec: JobSpec {
                        // A failed run alerts (JobFailed, BackupFailed) and waits for the next
                        // schedule, as on Compose; an automatic retry could apply a batch twice.
                        backoff_limit: 0,
                        // The wrapper stops the command at its timeout and reports it; this is
                        // the backstop if the wrapper itself hangs.
                        active_deadline_seconds: timeout_seconds + 60,
                        template: PodTemplate {
                            metadata: PodMeta {
                                labels: job_labels,
                                annotations: BTreeMap::new(),
                            },
                            spec: pod,
                        },
                    },
                },
            },
        },
    )
}

/// Plain variables as the ConfigMap `<owner>-config` (`owner` is a service or a backup job, of
/// kind `component`), with a checksum of them for the pod annotation that rolls pods when they
/// change.
fn config_map(
    model: &Model,
    owner: &str,
    component: &str,
    data: BTreeMap<String, String>,
) -> (Object<Data>, String) {
    let mut hasher = Sha256::new();
    for (key, value) in &data {
        hasher.update(key.as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        hasher.update([0]);
    }
    let checksum: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = config_map_name(owner);
    let object = Object::new(
        "v1",
        "ConfigMap",
        ObjectMeta::named(&name, labels(model, owner, component)),
        Data { data },
    );
    (object, checksum)
}

/// A ConfigMap of scripts the job pods mount, by key.
fn scripts(model: &Model, name: &str, files: &[(&str, &str)]) -> Object<Data> {
    Object::new(
        "v1",
        "ConfigMap",
        ObjectMeta::named(name, labels(model, name, "job")),
        Data {
            data: files
                .iter()
                .map(|(key, text)| (key.to_string(), text.to_string()))
                .collect(),
        },
    )
}

/// Where each run of a job reports, and under which namespace (the downward API's, which
/// run-job.sh adds to the Pushgateway grouping key); without monitoring it reports nowhere, as
/// on Compose (and no policy lets it reach a Pushgateway).
fn pushgateway_vars(model: &Model, environment: &Environment) -> Vec<EnvVar> {
    let Some(kubernetes) = environment
        .kubernetes
        .as_ref()
        .filter(|_| model.monitoring.enabled)
    else {
        return Vec::new();
    };
    vec![
        EnvVar {
            name: "BLUEPRINT_PUSHGATEWAY_URL".into(),
            value: Some(format!("http://{}", kubernetes.pushgateway)),
            value_from: None,
        },
        EnvVar {
            name: "BLUEPRINT_NAMESPACE".into(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: None,
                field_ref: Some(ObjectFieldSelector {
                    field_path: "metadata.namespace".into(),
                }),
            }),
        },
    ]
}

/// The overlay's patch of the CronJob `name`: its container's variables and the checksum of
/// the ConfigMap they come with.
fn cron_job_patch(name: &str, checksum: &str, env: Vec<EnvVar>) -> Manifest {
    let patch = Object::new(
        "batch/v1",
        "CronJob",
        ObjectMeta {
            name: name.to_string(),
            ..ObjectMeta::default()
        },
        Spec {
            spec: CronJobPatch {
                job_template: JobTemplatePatch {
                    spec: JobSpecPatch {
                        template: TemplatePatch::new(&[name], &[], checksum, env),
                    },
                },
            },
        },
    );
    Manifest::new(format!("patches/job-{name}.yaml"), vec![document(&patch)])
}

/// Kubernetes expands `$(NAME)` in `value` and reads `$$` as one `$`. Every literal `$` is
/// doubled, not only those before `(`: a text ending in `$` followed by a secret's `$(NAME)`
/// would otherwise read as `$$(NAME)`, an escaped, unexpanded reference.
fn escape_expansion(text: &str) -> String {
    text.replace('$', "$$")
}

/// The variables that involve secrets: those that are one secret read it from its Secret;
/// those built from secrets (`postgres://app:$(DB_PASSWORD)@db:5432/app`) come after a variable
/// per secret they use, because Kubernetes expands `$(NAME)` only from earlier entries.
pub fn secret_env(service: &Service, environment: &Environment) -> Vec<EnvVar> {
    let Some(vars) = service.env.get(&environment.name) else {
        return Vec::new();
    };
    secret_vars(vars.iter().map(|(name, v)| (name.as_str(), &v.value)))
}

/// [`secret_env`] of any variables: those that involve no secret are skipped (they are the
/// ConfigMap's).
fn secret_vars<'a>(vars: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Vec<EnvVar> {
    let mut direct: BTreeMap<String, EnvVar> = BTreeMap::new();
    let mut composed = Vec::new();
    for (name, value) in vars {
        if value.as_text().is_some() {
            continue;
        }
        if let [Part::Secret(secret)] = value.parts.as_slice() {
            direct.insert(name.to_string(), secret_var(name, secret));
            continue;
        }
        for secret in value.secrets() {
            direct
                .entry(secret.to_string())
                .or_insert_with(|| secret_var(secret, secret));
        }
        composed.push(EnvVar {
            name: name.to_string(),
            value: Some(composed_value(value)),
            value_from: None,
        });
    }
    direct.into_values().chain(composed).collect()
}

fn composed_value(value: &Value) -> String {
    value
        .parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => escape_expansion(t),
            Part::Secret(s) => format!("$({s})"),
        })
        .collect()
}

/// `name`, read from the Secret that holds `secret`.
fn secret_var(name: &str, secret: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: kubernetes_secret_name(secret),
                key: secret.to_string(),
            }),
            field_ref: None,
        }),
    }
}

/// `POD_IP` from the downward API, then `hosts` again with it appended: the kubelet expands
/// `$(VAR)` in a value from the variables already set, the ConfigMap's (`envFrom`) included, so
/// the list keeps every host the ConfigMap gives and gains the pod's address.
fn pod_address_vars(hosts: &str) -> Vec<EnvVar> {
    vec![
        EnvVar {
            name: POD_IP.to_string(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: None,
                field_ref: Some(ObjectFieldSelector {
                    field_path: "status.podIP".into(),
                }),
            }),
        },
        EnvVar {
            name: hosts.to_string(),
            value: Some(format!("$({hosts}),$({POD_IP})")),
            value_from: None,
        },
    ]
}

/// The variable the pod's address arrives in.
const POD_IP: &str = "POD_IP";

/// A strategic-merge patch of a Deployment or of a CronJob's pod template.
#[derive(Debug, Clone, Serialize)]
struct WorkloadPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    replicas: Option<u32>,
    template: TemplatePatch,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct CronJobPatch {
    job_template: JobTemplatePatch,
}

#[derive(Debug, Clone, Serialize)]
struct JobTemplatePatch {
    spec: JobSpecPatch,
}

#[derive(Debug, Clone, Serialize)]
struct JobSpecPatch {
    template: TemplatePatch,
}

#[derive(Debug, Clone, Serialize)]
struct TemplatePatch {
    metadata: PodMeta,
    spec: ContainersPatch,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainersPatch {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    init_containers: Vec<Container>,
    containers: Vec<Container>,
}

impl TemplatePatch {
    /// The environment's variables for the containers named `containers` (merged by name into
    /// the base's), and the config checksum that rolls the pods when the ConfigMap changes.
    fn new(
        containers: &[&str],
        init_containers: &[&str],
        checksum: &str,
        env: Vec<EnvVar>,
    ) -> Self {
        let patch = |name: &&str| Container {
            name: name.to_string(),
            env: env.clone(),
            ..Container::default()
        };
        Self {
            metadata: PodMeta {
                labels: BTreeMap::new(),
                annotations: BTreeMap::from([(CONFIG_CHECKSUM.to_string(), checksum.to_string())]),
            },
            spec: ContainersPatch {
                init_containers: init_containers.iter().map(patch).collect(),
                containers: containers.iter().map(patch).collect(),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct HpaSpec {
    scale_target_ref: ScaleTarget,
    min_replicas: u32,
    max_replicas: u32,
    metrics: Vec<HpaMetric>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ScaleTarget {
    api_version: &'static str,
    kind: &'static str,
    name: String,
}

#[derive(Debug, Clone, Serialize)]
struct HpaMetric {
    #[serde(rename = "type")]
    kind: &'static str,
    resource: HpaResource,
}

#[derive(Debug, Clone, Serialize)]
struct HpaResource {
    name: &'static str,
    target: HpaTarget,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct HpaTarget {
    #[serde(rename = "type")]
    kind: &'static str,
    average_utilization: u32,
}

/// The fewest replicas a service runs with in `environment`.
pub fn min_replicas(service: &Service, environment: &Environment) -> u32 {
    service
        .autoscaling
        .and_then(|a| a.min_replicas)
        .unwrap_or(environment.replicas)
}

fn autoscaler(
    model: &Model,
    environment: &Environment,
    service: &Service,
) -> Option<Object<Spec<HpaSpec>>> {
    let autoscaling = service.autoscaling?;
    Some(Object::new(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        ObjectMeta::named(&service.name, labels(model, &service.name, "service")),
        Spec {
            spec: HpaSpec {
                scale_target_ref: ScaleTarget {
                    api_version: "apps/v1",
                    kind: "Deployment",
                    name: service.name.clone(),
                },
                min_replicas: min_replicas(service, environment),
                max_replicas: autoscaling.max_replicas,
                metrics: vec![HpaMetric {
                    kind: "Resource",
                    resource: HpaResource {
                        name: "cpu",
                        target: HpaTarget {
                            kind: "Utilization",
                            average_utilization: autoscaling.cpu_percent,
                        },
                    },
                }],
            },
        },
    ))
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct PdbSpec {
    max_unavailable: u32,
    selector: LabelSelector,
}

/// With more than one replica, node drains take them down one at a time.
fn disruption_budget(
    model: &Model,
    environment: &Environment,
    service: &Service,
) -> Option<Object<Spec<PdbSpec>>> {
    (min_replicas(service, environment) > 1).then(|| {
        Object::new(
            "policy/v1",
            "PodDisruptionBudget",
            ObjectMeta::named(&service.name, labels(model, &service.name, "service")),
            Spec {
                spec: PdbSpec {
                    max_unavailable: 1,
                    selector: LabelSelector {
                        match_labels: selector(model, &service.name),
                    },
                },
            },
        )
    })
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatefulSetSpec {
    replicas: u32,
    service_name: String,
    selector: LabelSelector,
    template: PodTemplate,
    volume_claim_templates: Vec<Object<Spec<ClaimSpec>>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ClaimSpec {
    access_modes: Vec<&'static str>,
    resources: ResourceRequirements,
}

/// A single-replica PostgreSQL: for environments that asked for `container`. It is not highly
/// available (one pod, one volume); production belongs on a managed database.
fn postgres(model: &Model, store: &Store) -> Object<Spec<StatefulSetSpec>> {
    let password_secret = store
        .password_secret
        .clone()
        .unwrap_or_else(|| format!("{}_PASSWORD", crate::model::env_fragment(&store.name)));
    let data_dir = images::postgres_data_dir(&store.version);
    let ready = [
        "pg_isready",
        "--host=127.0.0.1",
        &format!("--port={}", store.port),
        &format!("--username={POSTGRES_APP}"),
        &format!("--dbname={POSTGRES_APP}"),
    ]
    .map(String::from)
    .to_vec();
    let exec = |period, failures| Probe {
        http_get: None,
        exec: Some(ExecAction {
            command: ready.clone(),
        }),
        period_seconds: period,
        timeout_seconds: HEALTH_TIMEOUT_SECONDS as u32,
        failure_threshold: failures,
    };
    let (tmp, tmp_mount) = scratch_volume("tmp", "/tmp", None);
    let (run, run_mount) = scratch_volume("run", "/var/run/postgresql", None);
    let password = secret_var("POSTGRES_PASSWORD", &password_secret);
    let container = Container {
        name: "postgres".into(),
        image: images::postgres(&store.version),
        image_pull_policy: Some("IfNotPresent"),
        ports: vec![ContainerPort {
            name: POSTGRES_PORT_NAME.into(),
            container_port: store.port,
            protocol: "TCP",
        }],
        env: vec![
            EnvVar {
                name: "POSTGRES_USER".into(),
                value: Some(POSTGRES_APP.into()),
                value_from: None,
            },
            EnvVar {
                name: "POSTGRES_DB".into(),
                value: Some(POSTGRES_APP.into()),
                value_from: None,
            },
            password,
            // A subdirectory: the volume's root may hold `lost+found`, which initdb refuses.
            EnvVar {
                name: "PGDATA".into(),
                value: Some(format!("{data_dir}/pgdata")),
                value_from: None,
            },
        ],
        resources: Some(fixed_resources("250m", "512Mi", "1Gi")),
        security_context: Some(container_security(true)),
        startup_probe: Some(exec(5, 60)),
        readiness_probe: Some(exec(10, 3)),
        liveness_probe: Some(exec(20, 6)),
        volume_mounts: vec![
            VolumeMount {
                name: "data".into(),
                mount_path: data_dir.to_string(),
                read_only: false,
                sub_path: None,
            },
            tmp_mount,
            run_mount,
        ],
        ..Container::default()
    };
    let store_labels = labels(model, &store.name, "database");
    Object::new(
        "apps/v1",
        "StatefulSet",
        ObjectMeta::named(&store.name, store_labels.clone()),
        Spec {
            spec: StatefulSetSpec {
                replicas: 1,
                service_name: store.name.clone(),
                selector: LabelSelector {
                    match_labels: selector(model, &store.name),
                },
                template: PodTemplate {
                    metadata: PodMeta {
                        labels: store_labels,
                        annotations: BTreeMap::new(),
                    },
                    spec: PodSpec {
                        automount_service_account_token: false,
                        enable_service_links: false,
                        restart_policy: None,
                        security_context: pod_security(Some(POSTGRES_UID)),
                        termination_grace_period_seconds: Some(60),
                        topology_spread_constraints: Vec::new(),
                        init_containers: Vec::new(),
                        containers: vec![container],
                        volumes: vec![tmp, run],
                    },
                },
                volume_claim_templates: vec![Object::new(
                    "v1",
                    "PersistentVolumeClaim",
                    ObjectMeta::named("data", BTreeMap::new()),
                    Spec {
                        spec: ClaimSpec {
                            access_modes: vec!["ReadWriteOnce"],
                            resources: ResourceRequirements {
                                requests: BTreeMap::from([(
                                    "storage".into(),
                                    POSTGRES_STORAGE.into(),
                                )]),
                                limits: BTreeMap::new(),
                            },
                        },
                    },
                )],
            },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kubernetes' own expansion rule: `$$` is one `$`, `$(NAME)` is the variable, anything else
    /// stays as written.
    fn expand(value: &str, vars: &[(&str, &str)]) -> String {
        let mut out = String::new();
        let mut rest = value;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some((name, tail)) = after
                .strip_prefix('(')
                .and_then(|a| a.split_once(')'))
                .filter(|(name, _)| vars.iter().any(|(n, _)| n == name))
            {
                out.push_str(vars.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v));
                rest = tail;
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn composed_values_expand_to_the_text_and_the_secret() {
        let vars = [("DB_PASSWORD", "s3cret")];
        for text in ["postgres://app:", "cost$", "$(DB_PASSWORD)", "a$$b", "$"] {
            let value = Value {
                parts: vec![
                    Part::Text(text.into()),
                    Part::Secret("DB_PASSWORD".into()),
                    Part::Text("@db:5432/app$(HOME)".into()),
                ],
            };
            assert_eq!(
                expand(&composed_value(&value), &vars),
                format!("{text}s3cret@db:5432/app$(HOME)"),
                "{text:?}"
            );
        }
    }
}
