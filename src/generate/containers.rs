//! The `containers` generator: everything that builds and runs the stack's containers.
//!
//! - a Dockerfile and `.dockerignore` per service whose image blueprint builds ([`dockerfile`]);
//! - `compose.<env>.yaml`, the complete stack of each environment ([`compose`]);
//! - `.env.<env>.example`, every variable that Compose file reads ([`env_example`]);
//! - the crontabs of scheduled jobs and their `run-job.sh` wrapper ([`jobs`]);
//! - the backup job of each PostgreSQL store with a `backup` policy, and its restore script
//!   ([`backup`]).
//!
//! Every image and binary it pins is in [`images`].

pub mod backup;
pub mod compose;
pub mod compose_types;
pub mod dockerfile;
pub mod env_example;
pub mod images;
pub mod jobs;
#[cfg(test)]
mod tests;

use crate::generate::{GeneratedFile, to_yaml};
use crate::model::Model;

/// Renders this target's files.
pub fn generate(model: &Model) -> Vec<GeneratedFile> {
    let mut files = dockerfile::files(model);
    for environment in model.environments.iter().filter(|e| e.on_compose()) {
        let rendered = compose::compose(model, environment);
        if rendered.file.services.is_empty() {
            // Nothing runs as a container here (a Vercel-only site): no stack to describe.
            continue;
        }
        files.push(GeneratedFile::hash_commented(
            format!("compose.{}.yaml", environment.name),
            format!(
                "{}{}",
                compose::header(model, environment),
                to_yaml(&rendered.file)
            ),
        ));
        files.push(GeneratedFile::hash_commented(
            format!(".env.{}.example", environment.name),
            env_example::render(model, environment, &rendered.variables),
        ));
    }
    files.extend(jobs::files(model));
    files.extend(backup::files(model));
    files
}
