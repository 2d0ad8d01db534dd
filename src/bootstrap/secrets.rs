//! The secrets checklist: every secret the rendered stack needs, where each must be set, and
//! the secrets the blueprint names that nothing rendered reads.
//!
//! Everything is computed from the resolved model ([`Model::secrets`]), so the checklist lists
//! exactly what the generated files reference, including secrets the blueprint never spells out
//! (a store's password, the Grafana admin password).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::blueprint::{Blueprint, EnvValue};
use crate::model::{KUBE_CONFIG_SECRET, Model, Placement, SecretHome, kubernetes_secret_name};

/// Where a secret must be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// A line in `.env.<env>` on the environment's Compose host.
    EnvFile,
    /// A secret of the GitHub environment named like the blueprint's environment.
    GithubEnvironment,
    /// A repository-wide GitHub Actions secret.
    GithubRepository,
    /// A `Secret` in the environment's Kubernetes namespace (one per secret, key = its name).
    KubernetesSecret,
    /// A file on the environment's Compose host, beside its Compose file (`proxy/htpasswd`).
    HostFile,
}

/// One secret to set in one place.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The secret's name.
    pub name: String,
    /// Where it is set.
    pub location: Location,
    /// The environment it is set for; `None` for repository-wide secrets.
    pub environment: Option<String>,
    /// The file (`.env.dev`), GitHub environment (`prod`) or repository (`acme/app`) it goes in.
    pub target: String,
    /// Who reads it (`service api`, `store db`, `grafana`, `workflow deploy`).
    pub used_by: Vec<String>,
    /// How to set it: the line to put in the env file, or the `gh` command to run.
    pub set_with: String,
    /// Where its value comes from: how a lost one is recovered or replaced.
    pub recovery: String,
}

/// A secret named in the blueprint that no rendered file reads.
#[derive(Debug, Clone, Serialize)]
pub struct Unused {
    /// The secret's name.
    pub name: String,
    /// Where the blueprint names it (`services.docs.env.API_KEY`).
    pub referenced_at: Vec<String>,
    /// Why nothing reads it.
    pub reason: String,
}

/// The whole checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Checklist {
    /// The project's repository (`owner/name`); `gh` commands run in a clone of it.
    pub repository: String,
    /// The environments covered, in the model's order.
    pub environments: Vec<String>,
    /// Env files in the output root that hold a template of each environment's variables
    /// (`.env.dev` -> `.env.dev.example`), when they exist.
    pub examples: BTreeMap<String, String>,
    /// Every secret to set, by environment (model order), then repository-wide ones.
    pub secrets: Vec<Entry>,
    /// Secrets the blueprint references that the rendered stack never reads.
    pub unused: Vec<Unused>,
}

/// What part of the checklist to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every environment and the repository-wide secrets.
    All,
    /// One environment and the repository-wide secrets.
    Environment(&'a str),
    /// One environment's own secrets only (after `env add`).
    EnvironmentOnly(&'a str),
}

/// Builds the checklist of `blueprint` rendered into `root` (where the `.env.*.example` files
/// are looked for).
pub fn checklist(blueprint: &Blueprint, root: &Path, scope: Scope<'_>) -> Checklist {
    let model = Model::from_blueprint(blueprint);
    let wanted = |env: &str| match scope {
        Scope::All => true,
        Scope::Environment(only) | Scope::EnvironmentOnly(only) => env == only,
    };
    let environments: Vec<String> = model
        .environments
        .iter()
        .map(|e| e.name.clone())
        .filter(|e| wanted(e))
        .collect();
    let mut examples = BTreeMap::new();
    for env in &environments {
        let example = format!(".env.{env}.example");
        if root.join(&example).is_file() {
            examples.insert(format!(".env.{env}"), example);
        }
    }
    let needed = model.secrets();
    let mut secrets = Vec::new();
    for env in &environments {
        for secret in needed.values() {
            if !secret.environments.contains(env) {
                continue;
            }
            let used_by: Vec<String> = secret.used_by.iter().cloned().collect();
            // A secret read both on a Compose host and in a cluster is set in both places.
            let home = match (secret.home, model.environment(env)) {
                (SecretHome::GitHub, _) => SecretHome::GitHub,
                (SecretHome::HostFile, _) => SecretHome::HostFile,
                (_, Some(e)) if e.on_kubernetes() => SecretHome::KubernetesSecret,
                _ => SecretHome::EnvFile,
            };
            secrets.push(match home {
                SecretHome::EnvFile => Entry {
                    name: secret.name.clone(),
                    location: Location::EnvFile,
                    environment: Some(env.clone()),
                    target: format!(".env.{env}"),
                    used_by,
                    set_with: format!("{}=", secret.name),
                    recovery: recovery_in(secret, Some(env)),
                },
                SecretHome::HostFile => Entry {
                    name: secret.name.clone(),
                    location: Location::HostFile,
                    environment: Some(env.clone()),
                    target: secret.name.clone(),
                    used_by,
                    set_with: format!("htpasswd -B -c {} USER", secret.name),
                    recovery: recovery_in(secret, Some(env)),
                },
                SecretHome::KubernetesSecret => {
                    let namespace = model
                        .environment(env)
                        .and_then(|e| e.kubernetes.as_ref())
                        .map_or_else(String::new, |k| k.namespace.clone());
                    Entry {
                        name: secret.name.clone(),
                        location: Location::KubernetesSecret,
                        environment: Some(env.clone()),
                        set_with: format!(
                            "kubectl -n {namespace} create secret generic {} --from-file={}=/dev/stdin",
                            kubernetes_secret_name(&secret.name),
                            secret.name
                        ),
                        target: namespace,
                        used_by,
                        recovery: recovery_in(secret, Some(env)),
                    }
                }
                SecretHome::GitHub => Entry {
                    name: secret.name.clone(),
                    location: Location::GithubEnvironment,
                    environment: Some(env.clone()),
                    target: env.clone(),
                    used_by,
                    // The deploy workflow decodes the kubeconfig: it is stored base64-encoded.
                    set_with: if secret.name == KUBE_CONFIG_SECRET {
                        format!(
                            "base64 -w0 kubeconfig | gh secret set {} --env {env}",
                            secret.name
                        )
                    } else {
                        format!("gh secret set {} --env {env}", secret.name)
                    },
                    recovery: recovery_in(secret, Some(env)),
                },
            });
        }
    }
    if !matches!(scope, Scope::EnvironmentOnly(_)) {
        for secret in needed.values() {
            if secret.home == SecretHome::GitHub && secret.environments.is_empty() {
                secrets.push(Entry {
                    name: secret.name.clone(),
                    location: Location::GithubRepository,
                    environment: None,
                    target: model.project.repository.clone(),
                    used_by: secret.used_by.iter().cloned().collect(),
                    set_with: format!("gh secret set {}", secret.name),
                    recovery: recovery_in(secret, None),
                });
            }
        }
    }
    let used: BTreeSet<&str> = needed.keys().map(String::as_str).collect();
    // The unused references are about the whole blueprint, not about one new environment.
    let unused = if matches!(scope, Scope::EnvironmentOnly(_)) {
        Vec::new()
    } else {
        unused(blueprint, &model, &used)
    };
    Checklist {
        repository: model.project.repository.clone(),
        environments,
        examples,
        secrets,
        unused,
    }
}

/// Where `secret`'s value comes from in `env` (`None`: repository-wide).
fn recovery_in(secret: &crate::model::Secret, env: Option<&String>) -> String {
    let key = env.map_or("", String::as_str);
    secret
        .recovery
        .get(key)
        .or_else(|| secret.recovery.values().next())
        .cloned()
        .unwrap_or_default()
}

/// Secret references in the blueprint whose name the rendered stack never reads, with the
/// reason for each place it is named.
fn unused(blueprint: &Blueprint, model: &Model, used: &BTreeSet<&str>) -> Vec<Unused> {
    // name -> (path, reason) for every place a secret is named.
    let mut refs: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut add = |name: &str, path: String, reason: String| {
        refs.entry(name.to_string())
            .or_default()
            .push((path, reason));
    };
    for (name, service) in &blueprint.services {
        let resolved = model.service(name);
        let on_compose: Vec<&str> = resolved
            .map(|s| {
                s.deploy
                    .iter()
                    .filter(|(_, t)| **t == Placement::Compose)
                    .map(|(e, _)| e.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let reason = if on_compose.is_empty() {
            format!("`{name}` deploys only to Vercel, where no env file is read")
        } else {
            format!("`{name}` does not read it in any environment")
        };
        for (key, value) in &service.env {
            if let EnvValue::Secret(s) = value {
                add(
                    &s.secret,
                    format!("services.{name}.env.{key}"),
                    reason.clone(),
                );
            }
        }
    }
    for (env, settings) in &blueprint.environments {
        let any_compose = model.services.iter().any(|s| s.on_compose(env));
        let reason = if any_compose {
            format!("no service on Compose in `{env}` reads it")
        } else {
            format!("no service runs on Compose in `{env}`, so no env file is read there")
        };
        for (key, value) in &settings.env {
            if let EnvValue::Secret(s) = value {
                add(
                    &s.secret,
                    format!("environments.{env}.env.{key}"),
                    reason.clone(),
                );
            }
        }
    }
    let monitoring_off = "monitoring is disabled (`monitoring.enabled: false`)";
    for (name, receiver) in &blueprint.monitoring.receivers {
        for (field, secret) in [("url", &receiver.url), ("password", &receiver.password)] {
            if let Some(s) = secret {
                add(
                    &s.secret,
                    format!("monitoring.receivers.{name}.{field}"),
                    monitoring_off.into(),
                );
            }
        }
    }
    if let Some(s) = &blueprint.monitoring.grafana.admin_password {
        let reason = if model.monitoring.enabled {
            "Grafana is disabled (`monitoring.grafana.enabled: false`)"
        } else {
            monitoring_off
        };
        add(
            &s.secret,
            "monitoring.grafana.admin_password".into(),
            reason.into(),
        );
    }
    let no_vercel = "no service deploys to Vercel";
    for (field, secret) in [
        ("token", &blueprint.vercel.token),
        ("org", &blueprint.vercel.org),
    ] {
        if let Some(s) = secret {
            add(&s.secret, format!("vercel.{field}"), no_vercel.into());
        }
    }
    for (service, s) in &blueprint.vercel.projects {
        add(
            &s.secret,
            format!("vercel.projects.{service}"),
            format!("`{service}` does not deploy to Vercel"),
        );
    }
    refs.into_iter()
        .filter(|(name, _)| !used.contains(name.as_str()))
        .map(|(name, places)| {
            let mut reasons: Vec<String> = places.iter().map(|(_, r)| r.clone()).collect();
            reasons.dedup();
            Unused {
                name,
                referenced_at: places.into_iter().map(|(p, _)| p).collect(),
                reason: reasons.join("; "),
            }
        })
        .collect()
}

impl Checklist {
    /// Writes where each secret's value comes from, so that a lost one is recovered: GitHub
    /// secrets cannot be read back, and an `.env` file is on one host only.
    pub fn write_recovery(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        // One line per secret, or one per source where its environments' sources differ.
        let mut lines: Vec<(&str, &str, Vec<&str>)> = Vec::new();
        for entry in &self.secrets {
            let env = entry.environment.as_deref();
            match lines
                .iter_mut()
                .find(|(n, r, _)| *n == entry.name && *r == entry.recovery)
            {
                Some((_, _, envs)) => envs.extend(env),
                None => lines.push((&entry.name, &entry.recovery, env.into_iter().collect())),
            }
        }
        for (i, (name, recovery, envs)) in lines.iter().enumerate() {
            if i == 0 {
                writeln!(
                    out,
                    "\nIf one is lost (nothing can be read back from where it is set), its source:"
                )?;
            }
            if lines.iter().filter(|(n, _, _)| n == name).count() > 1 {
                writeln!(out, "  {name} ({}): {recovery}", envs.join(", "))?;
            } else {
                writeln!(out, "  {name}: {recovery}")?;
            }
        }
        Ok(())
    }

    /// Writes the checklist for people. `file` is how the blueprint is named in the heading.
    pub fn write_text(&self, out: &mut impl std::io::Write, file: &str) -> std::io::Result<()> {
        if self.secrets.is_empty() {
            writeln!(out, "The stack in {file} needs no secrets.")?;
        } else {
            writeln!(
                out,
                "Secrets the stack in {file} needs (set each where shown; never commit them):"
            )?;
        }
        self.write_body(out, file)
    }

    /// Writes the checklist without its heading: the secrets by place, then the unused ones.
    pub fn write_body(&self, out: &mut impl std::io::Write, file: &str) -> std::io::Result<()> {
        let width = self
            .secrets
            .iter()
            .map(|s| s.set_with.len())
            .max()
            .unwrap_or(0);
        let line = |out: &mut dyn std::io::Write, entry: &Entry| {
            writeln!(
                out,
                "  {:width$}  # {}",
                entry.set_with,
                entry.used_by.join(", ")
            )
        };
        for env in &self.environments {
            let files: Vec<&Entry> = self
                .secrets
                .iter()
                .filter(|s| {
                    s.location == Location::EnvFile && s.environment.as_deref() == Some(env)
                })
                .collect();
            if !files.is_empty() {
                let env_file = format!(".env.{env}");
                let how = match self.examples.get(&env_file) {
                    Some(example) => format!("cp {example} {env_file}, then fill in"),
                    None => format!("create {env_file} next to compose.{env}.yaml with"),
                };
                writeln!(out, "\n{env}: on the Compose host, in {env_file} ({how}):")?;
                for entry in files {
                    line(out, entry)?;
                }
            }
            let host_files: Vec<&Entry> = self
                .secrets
                .iter()
                .filter(|s| {
                    s.location == Location::HostFile && s.environment.as_deref() == Some(env)
                })
                .collect();
            if !host_files.is_empty() {
                writeln!(
                    out,
                    "\n{env}: on the Compose host, files beside compose.{env}.yaml (write each there):"
                )?;
                for entry in host_files {
                    line(out, entry)?;
                }
            }
            let cluster: Vec<&Entry> = self
                .secrets
                .iter()
                .filter(|s| {
                    s.location == Location::KubernetesSecret
                        && s.environment.as_deref() == Some(env)
                })
                .collect();
            if let Some(first) = cluster.first() {
                writeln!(
                    out,
                    "\n{env}: Kubernetes Secrets in namespace `{}` (each reads its value from standard input, so it stays out of shell history: `printf %s \"$VALUE\" | kubectl ...`):",
                    first.target
                )?;
                for entry in cluster {
                    line(out, entry)?;
                }
            }
            let github: Vec<&Entry> = self
                .secrets
                .iter()
                .filter(|s| {
                    s.location == Location::GithubEnvironment
                        && s.environment.as_deref() == Some(env)
                })
                .collect();
            if !github.is_empty() {
                writeln!(
                    out,
                    "\n{env}: GitHub environment `{env}` (run in a clone of {}):",
                    self.repository
                )?;
                for entry in github {
                    line(out, entry)?;
                }
            }
        }
        let repository: Vec<&Entry> = self
            .secrets
            .iter()
            .filter(|s| s.location == Location::GithubRepository)
            .collect();
        if !repository.is_empty() {
            writeln!(
                out,
                "\nGitHub repository {} (every environment; run in a clone of it):",
                self.repository
            )?;
            for entry in repository {
                line(out, entry)?;
            }
        }
        if !self.unused.is_empty() {
            writeln!(
                out,
                "\nReferenced in {file} but never read by the rendered stack (no need to set them):"
            )?;
            for u in &self.unused {
                writeln!(
                    out,
                    "  {} at {}: {}",
                    u.name,
                    u.referenced_at.join(", "),
                    u.reason
                )?;
            }
        }
        Ok(())
    }
}

/// `blueprint secrets FILE [--env ENV] [--format json]`.
pub fn run(file: &Path, env: Option<&str>, json: bool) -> Result<(), super::Failure> {
    let blueprint = crate::cli::load(file)?;
    let model = Model::from_blueprint(&blueprint);
    let scope = match env {
        None => Scope::All,
        Some(name) => {
            if model.environment(name).is_none() {
                let known: Vec<&str> = model.environments.iter().map(|e| e.name.as_str()).collect();
                return Err(super::Failure::Usage(format!(
                    "{} has no environment `{name}`; it has: {}",
                    file.display(),
                    known.join(", ")
                )));
            }
            Scope::Environment(name)
        }
    };
    let list = checklist(&blueprint, &super::blueprint_dir(file), scope);
    let text = if json {
        let mut text = serde_json::to_string_pretty(&list).expect("the checklist serializes");
        text.push('\n');
        text
    } else {
        let mut text = Vec::new();
        // Writing into memory cannot fail.
        let _ = list.write_text(&mut text, &file.display().to_string());
        let _ = list.write_recovery(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    };
    super::print(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blueprint(text: &str) -> Blueprint {
        crate::validate::validate_source("t.yaml", text)
            .unwrap_or_else(|d| panic!("{}", crate::diagnostic::render_all(&d, false)))
    }

    const TEXT: &str = "project: { name: shop, repository: acme/shop }
environments:
  dev: {}
  prod: { domain: shop.example.com }
services:
  api:
    runtime: fastapi
    path: api
    env:
      STRIPE_KEY: { secret: STRIPE_API_KEY }
  docs:
    runtime: static
    path: docs
    deploy: vercel
    env:
      DOCS_TOKEN: { secret: DOCS_TOKEN }
stores:
  db: { kind: postgres }
";

    #[test]
    fn a_deployed_cluster_needs_its_kubeconfig_as_an_environment_secret() {
        let text = TEXT.replace(
            "prod: { domain: shop.example.com }",
            "prod: { domain: shop.example.com, platform: kubernetes, stores: { db: managed } }",
        );
        let list = checklist(&blueprint(&text), Path::new("/nonexistent"), Scope::All);
        let kube: Vec<&Entry> = list
            .secrets
            .iter()
            .filter(|s| s.name == KUBE_CONFIG_SECRET)
            .collect();
        assert_eq!(kube.len(), 1, "{:#?}", list.secrets);
        assert_eq!(kube[0].location, Location::GithubEnvironment);
        assert_eq!(kube[0].environment.as_deref(), Some("prod"));
        assert_eq!(
            kube[0].set_with,
            "base64 -w0 kubeconfig | gh secret set KUBE_CONFIG --env prod"
        );
    }

    #[test]
    fn secrets_are_listed_per_environment_and_where_they_go() {
        let list = checklist(&blueprint(TEXT), Path::new("/nonexistent"), Scope::All);
        assert_eq!(list.environments, ["dev", "prod"]);
        let find = |name: &str, env: Option<&str>| {
            list.secrets
                .iter()
                .find(|s| s.name == name && s.environment.as_deref() == env)
                .unwrap_or_else(|| panic!("{name} {env:?} missing: {:#?}", list.secrets))
        };
        let stripe = find("STRIPE_API_KEY", Some("prod"));
        assert_eq!(stripe.location, Location::EnvFile);
        assert_eq!(stripe.target, ".env.prod");
        assert_eq!(stripe.set_with, "STRIPE_API_KEY=");
        assert_eq!(stripe.used_by, ["service api"]);
        find("STRIPE_API_KEY", Some("dev"));
        let token = find("VERCEL_TOKEN", None);
        assert_eq!(token.location, Location::GithubRepository);
        assert_eq!(token.set_with, "gh secret set VERCEL_TOKEN");
        assert_eq!(token.target, "acme/shop");
        // The Vercel-only service's secret is named but nothing reads it.
        assert_eq!(list.unused.len(), 1, "{:#?}", list.unused);
        assert_eq!(list.unused[0].name, "DOCS_TOKEN");
        assert_eq!(
            list.unused[0].referenced_at,
            ["services.docs.env.DOCS_TOKEN"]
        );
        assert!(list.unused[0].reason.contains("only to Vercel"));
    }

    #[test]
    fn scopes_filter_environments() {
        let bp = blueprint(TEXT);
        let one = checklist(&bp, Path::new("/nonexistent"), Scope::Environment("prod"));
        assert!(
            one.secrets
                .iter()
                .all(|s| s.environment.as_deref() != Some("dev"))
        );
        assert!(one.secrets.iter().any(|s| s.name == "VERCEL_TOKEN"));
        let only = checklist(
            &bp,
            Path::new("/nonexistent"),
            Scope::EnvironmentOnly("prod"),
        );
        assert!(
            only.secrets
                .iter()
                .all(|s| s.environment.as_deref() == Some("prod"))
        );
        assert!(only.secrets.iter().any(|s| s.name == "STRIPE_API_KEY"));
    }

    #[test]
    fn the_text_names_every_file_and_command() {
        let list = checklist(&blueprint(TEXT), Path::new("/nonexistent"), Scope::All);
        let mut out = Vec::new();
        list.write_text(&mut out, "blueprint.yaml").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("prod: on the Compose host, in .env.prod"),
            "{text}"
        );
        assert!(text.contains("  STRIPE_API_KEY="), "{text}");
        assert!(text.contains("gh secret set VERCEL_TOKEN"), "{text}");
        assert!(
            text.contains("DOCS_TOKEN at services.docs.env.DOCS_TOKEN"),
            "{text}"
        );
    }
}
