//! Scheduled jobs: one crontab per service that has jobs, read by supercronic in the service's
//! `<service>-scheduler` container, and the `run-job.sh` wrapper every crontab line calls.

use serde::Serialize;

use crate::generate::{GeneratedFile, render_template};
use crate::model::{Job, Model, Service};

const CRONTAB_TEMPLATE: &str = include_str!("../templates/containers/crontab.j2");
/// The job wrapper script (Compose mounts it into the scheduler; Kubernetes ships it in a ConfigMap).
pub const RUN_JOB: &str = include_str!("../templates/containers/run-job.sh");

/// Where the wrapper is generated, from the output root.
pub const RUN_JOB_PATH: &str = "jobs/run-job.sh";
/// Where the wrapper is mounted in scheduler containers.
pub const RUN_JOB_MOUNT: &str = "/etc/blueprint/run-job.sh";
/// Where a scheduler's crontab is mounted.
pub const CRONTAB_MOUNT: &str = "/etc/blueprint/crontab";

/// The crontab of `service`, from the output root.
pub fn crontab_path(service: &str) -> String {
    format!("jobs/{service}.crontab")
}

/// The Compose name of `service`'s scheduler container.
pub fn scheduler_name(service: &str) -> String {
    format!("{service}-scheduler")
}

/// Services whose jobs run somewhere: those with jobs that run as a container in at least one
/// environment.
pub fn scheduled_services(model: &Model) -> impl Iterator<Item = &Service> {
    model.services.iter().filter(|s| {
        model.jobs_of(&s.name).next().is_some()
            && model.environments.iter().any(|e| s.on_compose(&e.name))
    })
}

/// The crontabs and the wrapper (when any job runs at all).
pub fn files(model: &Model) -> Vec<GeneratedFile> {
    let mut files: Vec<GeneratedFile> = scheduled_services(model)
        .map(|service| {
            GeneratedFile::hash_commented(crontab_path(&service.name), crontab(model, service))
        })
        .collect();
    // The backup job runs through the wrapper too.
    if !files.is_empty() || !super::backup::compose_backups(model).is_empty() {
        files.push(GeneratedFile::hash_commented(RUN_JOB_PATH, RUN_JOB).executable());
    }
    files
}

// Supercronic runs each crontab command with `/bin/sh`.
pub use crate::generate::shell_quote;

/// One line of text for a comment: no line breaks.
fn comment_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The crontab line of `job`: its schedule, then the wrapper with the job's name, its timeout in
/// seconds and its command. The wrapper runs through `sh` so that it works even where a checkout
/// lost its executable bit.
pub fn crontab_line(job: &Job) -> String {
    format!("{} {}", comment_text(&job.schedule), run_job_command(job))
}

/// The command that runs `job` once through the wrapper, as the scheduler does (a `sh` line).
pub fn run_job_command(job: &Job) -> String {
    let mut words = vec![
        "/bin/sh".to_string(),
        RUN_JOB_MOUNT.to_string(),
        shell_quote(&job.name),
        job.timeout_seconds.to_string(),
        "--".to_string(),
    ];
    words.extend(job.command.iter().map(|w| shell_quote(w)));
    words.join(" ")
}

#[derive(Serialize)]
struct CrontabJob {
    name: String,
    description: String,
    timeout: String,
    line: String,
}

fn crontab(model: &Model, service: &Service) -> String {
    let jobs: Vec<CrontabJob> = model
        .jobs_of(&service.name)
        .map(|job| CrontabJob {
            name: comment_text(&job.name),
            description: {
                let text = comment_text(&job.description);
                if text.ends_with('.') {
                    text
                } else {
                    format!("{text}.")
                }
            },
            timeout: job.timeout.clone(),
            line: crontab_line(job),
        })
        .collect();
    render_template(
        "crontab",
        CRONTAB_TEMPLATE,
        minijinja::context! { service => &service.name, jobs => minijinja::Value::from(minijinja::value::Serde(&jobs)) },
    )
}
