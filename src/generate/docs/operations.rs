//! `docs/operations.md`: the day-2 tasks, with the commands of each environment's platform.

use serde::Serialize;

use super::{Shell, runs_containers};
use crate::blueprint::{Provider, ProxyEngine, StoreKind};
use crate::generate::containers::compose::first_certificate_command;
use crate::generate::containers::jobs::{run_job_command, scheduler_name};
use crate::generate::kubernetes::routing::tls_secret_name;
use crate::generate::render_template;
use crate::model::{Model, SecretHome, kubernetes_secret_name};

const TEMPLATE: &str = include_str!("../templates/docs/operations.md.j2");

/// One environment, as the guide describes it.
#[derive(Debug, Serialize)]
struct Place {
    shell: Shell,
    domain: String,
    tier: String,
    tls: bool,
    /// Whether the deploy workflow deploys it.
    deployed_by_ci: bool,
    /// Container services here: (name, image).
    services: Vec<(String, String)>,
    /// Vercel services here.
    vercel: Vec<String>,
    /// The Deployments to wait for / roll back (Kubernetes).
    autoscaled: Vec<(String, u32)>,
    /// Jobs here: (name, scheduler container, run-once command).
    jobs: Vec<(String, String, String)>,
    /// Stores here: (name, kind, provider, in-container restore commands).
    stores: Vec<StorePlace>,
    /// The nginx first-certificate command (Compose, nginx, TLS).
    first_certificate: Option<String>,
    /// The proxy engine's name (Compose).
    engine: &'static str,
    /// The cert-manager Certificate / TLS Secret (Kubernetes with TLS).
    tls_secret: String,
    /// Replicas per service.
    replicas: u32,
}

#[derive(Debug, Serialize)]
struct StorePlace {
    environment: String,
    /// What exists to restore from.
    note: &'static str,
    name: String,
    kind: &'static str,
    provider: &'static str,
    /// `pg_dump` and `psql` commands, for a PostgreSQL container.
    dump: Option<String>,
    restore: Option<String>,
}

#[derive(Debug, Serialize)]
struct Backup {
    store: String,
    job: String,
    schedule: String,
    retention: String,
    target: String,
    /// Where the dumps are: `bucket/prefix/`.
    location: String,
    /// The secret the dumps are encrypted with, when they are.
    encryption_secret: Option<String>,
    /// The restore test, when there is one.
    restore_test: Option<crate::model::RestoreTest>,
    /// Per environment: its name and the commands that run once, list, restore the newest.
    commands: Vec<BackupCommands>,
}

/// A bucket protected by versioning.
#[derive(Debug, Serialize)]
struct Lake {
    store: String,
    bucket: String,
    retention: String,
    noncurrent_days: u64,
    abort_days: u64,
    /// The lifecycle rule's ID.
    rule_id: String,
    /// Where its request bodies are rendered (`s3/lake`), when some environment has it on AWS.
    dir: Option<String>,
    /// The environments where it is an AWS bucket.
    aws: Vec<String>,
    /// Per Compose environment where it is MinIO: the environment and the command that adds
    /// the lifecycle rule.
    minio: Vec<(String, String)>,
}

#[derive(Debug, Serialize)]
struct BackupCommands {
    environment: String,
    /// `Compose` or `Kubernetes`.
    platform: &'static str,
    /// Run once, list, restore the newest ([`super::backup_commands`]).
    lines: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Secret {
    name: String,
    /// Where it is set: one place, or each environment's where a Compose host and a cluster
    /// both read it.
    place: String,
    environments: Vec<String>,
    used_by: String,
    /// How a lost one is recovered.
    recovery: String,
}

/// Where `secret` is set, per environment kind: an env file on a Compose host, a Kubernetes
/// Secret in a cluster (the model's home is the first environment's), GitHub, a host file.
fn secret_place(model: &Model, secret: &crate::model::Secret) -> String {
    match secret.home {
        SecretHome::GitHub => return "GitHub secret".into(),
        SecretHome::HostFile => return "a file on the host".into(),
        SecretHome::EnvFile | SecretHome::KubernetesSecret => {}
    }
    let (cluster, host): (Vec<&String>, Vec<&String>) = secret
        .environments
        .iter()
        .partition(|e| model.environment(e).is_some_and(|e| e.on_kubernetes()));
    let in_cluster = format!("Secret `{}`", kubernetes_secret_name(&secret.name));
    let on_host = "`.env.<env>` on the host".to_string();
    let list = |envs: &[&String]| {
        envs.iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (host.is_empty(), cluster.is_empty()) {
        (false, false) => format!(
            "{on_host} ({}); {in_cluster} ({})",
            list(&host),
            list(&cluster)
        ),
        (true, false) => in_cluster,
        _ => on_host,
    }
}

/// The whole guide.
pub fn render(model: &Model) -> String {
    let ci_compose: Vec<String> = model
        .deployed_compose_environments()
        .iter()
        .map(|e| e.name.clone())
        .collect();
    let ci_clusters: Vec<String> = model.deployed_clusters().map(|e| e.name.clone()).collect();
    let places: Vec<Place> = model
        .environments
        .iter()
        .map(|environment| {
            let env = environment.name.as_str();
            let shell = Shell::of(environment);
            let stores = if runs_containers(model, environment) {
                model
                    .stores
                    .iter()
                    .map(|store| {
                        let provider = environment.provider(&store.name);
                        let postgres_container =
                            store.kind == StoreKind::Postgres && provider == Provider::Container;
                        let (dump, restore) = if !postgres_container {
                            (None, None)
                        } else if shell.compose {
                            let c = &shell.compose_command;
                            (
                                Some(format!(
                                    "{c} exec -T {} pg_dump -U app --clean --if-exists app > {}-{env}.sql",
                                    store.name, store.name
                                )),
                                Some(format!(
                                    "{c} exec -T {} psql -U app -d app -v ON_ERROR_STOP=1 < {}-{env}.sql",
                                    store.name, store.name
                                )),
                            )
                        } else {
                            let k = &shell.kubectl;
                            (
                                Some(format!(
                                    "{k} exec -i statefulset/{} -- pg_dump -U app --clean --if-exists app > {}-{env}.sql",
                                    store.name, store.name
                                )),
                                Some(format!(
                                    "{k} exec -i statefulset/{} -- psql -U app -d app -v ON_ERROR_STOP=1 < {}-{env}.sql",
                                    store.name, store.name
                                )),
                            )
                        };
                        StorePlace {
                            environment: env.to_string(),
                            note: match provider {
                                _ if dump.is_some() && store.backup.is_some() => "Its backup job dumps it (above); for a copy of your own before risky work, take a dump and restore it with these commands.",
                                _ if dump.is_some() => "Nothing backs up its volume: take a dump before risky work, and restore it, with these commands.",
                                Provider::Supabase => "Restore from Supabase's own backups (point-in-time recovery, in its dashboard).",
                                Provider::Managed => "Restore from the provider's snapshots or versioning.",
                                Provider::Container => "Its data lives in the container's volume, which nothing backs up.",
                            },
                            name: store.name.clone(),
                            kind: match store.kind {
                                StoreKind::Postgres => "PostgreSQL",
                                StoreKind::Redis => "Redis",
                                StoreKind::S3 => "S3",
                            },
                            provider: match (provider, shell.compose) {
                                (Provider::Container, true) => "a container in the stack",
                                (Provider::Container, false) => "a StatefulSet in the namespace",
                                (Provider::Managed, _) => "a managed provider",
                                (Provider::Supabase, _) => "Supabase",
                            },
                            dump,
                            restore,
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Place {
                domain: environment.domain.clone(),
                tier: serde_json::to_value(environment.tier)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                tls: environment.tls,
                deployed_by_ci: ci_compose.iter().any(|n| n == env)
                    || ci_clusters.iter().any(|n| n == env),
                services: model
                    .services
                    .iter()
                    .filter(|s| s.in_container(env))
                    .map(|s| (s.name.clone(), s.image.clone()))
                    .collect(),
                vercel: model
                    .services
                    .iter()
                    .filter(|s| s.on_vercel_in(env))
                    .map(|s| s.name.clone())
                    .collect(),
                autoscaled: model
                    .services
                    .iter()
                    .filter(|s| s.on_kubernetes(env))
                    .filter_map(|s| s.autoscaling.map(|a| (s.name.clone(), a.max_replicas)))
                    .collect(),
                jobs: model
                    .jobs_whose_service(|s| s.in_container(env))
                    .map(|j| (j.name.clone(), scheduler_name(&j.service), run_job_command(j)))
                    .collect(),
                stores,
                first_certificate: first_certificate_command(model, environment),
                engine: match model.proxy.engine {
                    ProxyEngine::Nginx => "nginx",
                    ProxyEngine::Caddy => "caddy",
                },
                tls_secret: tls_secret_name(model, environment),
                replicas: environment.replicas,
                shell,
            }
        })
        .collect();
    let backups: Vec<Backup> = model
        .backups()
        .map(|(s, b)| Backup {
            store: s.name.clone(),
            job: b.job.clone(),
            schedule: b.schedule.clone(),
            retention: b.retention.clone(),
            target: b.target.clone(),
            encryption_secret: b.encryption_secret.clone(),
            restore_test: b.restore_test.clone(),
            location: format!(
                "{}/{}/",
                model
                    .store(&b.target)
                    .and_then(|t| t.bucket.clone())
                    .unwrap_or_default(),
                b.prefix
            ),
            commands: model
                .environments
                .iter()
                .map(|e| {
                    let commands = super::backup_commands(e, b);
                    BackupCommands {
                        environment: e.name.clone(),
                        platform: Shell::of(e).platform,
                        lines: [commands.run, commands.test, commands.list, commands.restore]
                            .concat(),
                    }
                })
                .collect(),
        })
        .collect();
    let lakes: Vec<Lake> = model
        .versioned_buckets()
        .map(|(store, v)| {
            let bucket = store.bucket.clone().unwrap_or_else(|| store.name.clone());
            let aws: Vec<String> = model
                .environments
                .iter()
                .filter(|e| e.bucket_on_aws(&store.name))
                .map(|e| e.name.clone())
                .collect();
            let minio = model
                .environments
                .iter()
                .filter(|e| !e.bucket_on_aws(&store.name))
                .map(|e| {
                    let script = format!(
                        "mc alias set store http://{}:{} \"$MINIO_ROOT_USER\" \"$MINIO_ROOT_PASSWORD\" && mc ilm rule add --noncurrent-expire-days {} --expire-delete-marker {}",
                        store.name,
                        store.port,
                        v.noncurrent_days,
                        crate::generate::shell_quote(&format!("store/{bucket}")),
                    );
                    (
                        e.name.clone(),
                        format!(
                            "{} run --rm --entrypoint /bin/sh {} -c {}",
                            Shell::of(e).compose_command,
                            crate::generate::containers::compose::bucket_init_name(&store.name),
                            crate::generate::shell_quote(&script),
                        ),
                    )
                })
                .collect();
            Lake {
                store: store.name.clone(),
                bucket,
                retention: v.retention.clone(),
                noncurrent_days: v.noncurrent_days,
                abort_days: v.abort_incomplete_upload_days,
                rule_id: v.rule_id.clone(),
                dir: (!aws.is_empty()).then(|| v.dir.clone()),
                aws,
                minio,
            }
        })
        .collect();
    let secrets: Vec<Secret> = model
        .secrets()
        .into_values()
        .map(|s| Secret {
            place: secret_place(model, &s),
            recovery: {
                // One source, or each environment's where they differ.
                let mut by_source: Vec<(&String, Vec<&str>)> = Vec::new();
                for (env, how) in &s.recovery {
                    match by_source.iter_mut().find(|(h, _)| *h == how) {
                        Some((_, envs)) => envs.push(env),
                        None => by_source.push((how, vec![env])),
                    }
                }
                if by_source.len() == 1 {
                    by_source[0].0.clone()
                } else {
                    by_source
                        .iter()
                        .map(|(how, envs)| format!("{}: {how}", envs.join(", ")))
                        .collect::<Vec<_>>()
                        .join("; ")
                }
            },
            environments: s.environments.into_iter().collect(),
            used_by: s.used_by.into_iter().collect::<Vec<_>>().join(", "),
            name: s.name,
        })
        .collect();
    let runbooks: Vec<(String, String)> = super::runbooks::alerts(model)
        .into_iter()
        .filter_map(|(alert, rules)| {
            let path = rules
                .first()
                .and_then(|(_, r)| r.annotations.get("runbook_url"))
                .and_then(|u| model.runbook_path(u))?;
            let relative = path.strip_prefix("docs/")?.to_string();
            Some((alert, relative))
        })
        .collect();
    // (one-shot name, service, command) of every schema migration that runs in a container.
    let migrations: Vec<(String, String, String)> = model
        .services
        .iter()
        .filter(|s| s.in_container_anywhere())
        .filter_map(|s| {
            let m = s.migration.as_ref()?;
            Some((
                m.name.clone(),
                s.name.clone(),
                super::code_span(&super::exec_form(&m.command)),
            ))
        })
        .collect();
    let template_env = model
        .environments
        .iter()
        .find(|e| e.tier != crate::blueprint::Tier::Development)
        .or(model.environments.first())
        .map(|e| e.name.clone())
        .unwrap_or_default();
    render_template(
        "docs/operations.md",
        TEMPLATE,
        minijinja::context! {
            project => &model.project.name,
            main_branch => &model.ci.main_branch,
            staging_branch => &model.ci.staging_branch,
            places => minijinja::Value::from(minijinja::value::Serde(&places)),
            backups => minijinja::Value::from(minijinja::value::Serde(&backups)),
            backup_clusters => model.cluster_backups().next().is_some(),
            lakes => minijinja::Value::from(minijinja::value::Serde(&lakes)),
            restore_tests => model.backups().any(|(_, b)| b.restore_test.is_some()),
            restore_test_scratch => crate::generate::kubernetes::workloads::RESTORE_TEST_SCRATCH,
            restore_test_memory => crate::generate::kubernetes::workloads::RESTORE_TEST_MEMORY,
            stores => minijinja::Value::from(minijinja::value::Serde(places.iter().flat_map(|p| &p.stores).collect::<Vec<_>>())),
            secrets => minijinja::Value::from(minijinja::value::Serde(&secrets)),
            runbooks => runbooks,
            migrations => migrations,
            template_env => template_env,
            has_jobs => model.jobs.iter().any(|j| model.service(&j.service).is_some_and(|s| s.in_container_anywhere())),
            monitoring => model.monitoring.enabled,
            runbooks_elsewhere => (model.monitoring.enabled && !model.monitoring.runbooks_in_repository)
                .then(|| model.monitoring.runbook_base_url.clone()),
        },
    )
}
