//! `.github/dependabot.yml`: one entry per ecosystem and directory that exists, each grouped into
//! a single pull request per run.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use serde::Serialize;

use super::image_services;
use crate::blueprint::{Runtime, UpdateInterval};
use crate::model::Model;

/// The whole file.
#[derive(Debug, Clone, Serialize)]
pub struct Dependabot {
    /// Always 2.
    pub version: u32,
    /// One entry per ecosystem and directory.
    pub updates: Vec<Update>,
}

/// One ecosystem in one directory.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Update {
    /// `pip`, `npm`, `docker` or `github-actions`.
    pub package_ecosystem: &'static str,
    /// The directory, from the repository root, starting with `/`.
    pub directory: String,
    /// How often.
    pub schedule: UpdateSchedule,
    /// The branch updates are proven on first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_branch: Option<String>,
    /// Open pull requests at most (with grouping, one per run is the norm).
    pub open_pull_requests_limit: u32,
    /// How long a release must age before it is proposed: most malicious releases are
    /// caught and yanked within days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Cooldown>,
    /// Every update of the entry in one pull request.
    pub groups: IndexMap<String, Group>,
}

/// `schedule:`.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateSchedule {
    /// `daily`, `weekly` or `monthly`.
    pub interval: &'static str,
}

/// `cooldown:`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Cooldown {
    /// Days for every kind of update.
    pub default_days: u32,
}

/// A group of dependencies.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// Name patterns.
    pub patterns: Vec<String>,
}

/// Dependabot's directory for a path relative to the repository root.
fn directory(path: &str) -> String {
    if path == "." || path.is_empty() {
        "/".to_string()
    } else {
        format!("/{path}")
    }
}

/// The directory holding a file.
fn parent(path: &str) -> String {
    path.rsplit_once('/')
        .map_or_else(|| ".".to_string(), |(dir, _)| dir.to_string())
}

/// The configuration.
pub fn config(model: &Model) -> Dependabot {
    let mut entries: BTreeSet<(&'static str, String)> = BTreeSet::new();
    for service in &model.services {
        if service.is_python() {
            entries.insert(("pip", directory(&service.path)));
        } else if service.runtime == Runtime::Node {
            entries.insert(("npm", directory(&service.path)));
        }
    }
    for service in image_services(model) {
        entries.insert(("docker", directory(&parent(&service.dockerfile))));
    }
    entries.insert(("github-actions", "/".to_string()));

    let interval = match model.ci.dependency_updates {
        UpdateInterval::Daily => "daily",
        UpdateInterval::Weekly => "weekly",
        UpdateInterval::Monthly => "monthly",
    };
    let cooldown_days = model.ci.update_cooldown_days;
    let updates = entries
        .into_iter()
        .map(|(ecosystem, directory)| Update {
            package_ecosystem: ecosystem,
            directory,
            schedule: UpdateSchedule { interval },
            target_branch: model.ci.staging_branch.clone(),
            open_pull_requests_limit: 5,
            cooldown: (cooldown_days > 0).then_some(Cooldown {
                default_days: cooldown_days,
            }),
            groups: IndexMap::from([(
                ecosystem.to_string(),
                Group {
                    patterns: vec!["*".to_string()],
                },
            )]),
        })
        .collect();
    Dependabot {
        version: 2,
        updates,
    }
}
