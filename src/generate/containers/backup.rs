//! Backups of PostgreSQL stores: per store with a `backup` policy, the image its `<store>-backup`
//! job runs in, `backup.sh` and `restore.sh` (which lists the dumps and restores one), and on
//! Compose the crontab of the job's scheduler container, which runs `backup.sh` through
//! `run-job.sh` (so the run is timed out and its outcome pushed like any job's), and, with a
//! `restore_test`, `restore.sh --test` as the `<store>-restore-test` job. On Kubernetes the same
//! commands are the CronJobs' (`kubernetes::workloads`), in the same image, pushed.
//!
//! The image is the store's own PostgreSQL image (its `pg_dump` is never older than the server,
//! which pg_dump requires) with two static binaries copied in: the MinIO client from its pinned
//! image (an S3 client that streams, for MinIO and AWS alike) and the pinned, checksummed
//! supercronic every scheduler runs.

use serde::Serialize;

use super::dockerfile::supercronic_stage_on;
use super::images;
use super::jobs::{RUN_JOB_MOUNT, shell_quote};
use crate::generate::{GeneratedFile, render_template};
use crate::model::{Backup, Model, RestoreTest, Store};

const DOCKERFILE_TEMPLATE: &str = include_str!("../templates/containers/backup.Dockerfile.j2");
const CRONTAB_TEMPLATE: &str = include_str!("../templates/containers/backup.crontab.j2");
/// The backup script.
pub const BACKUP: &str = include_str!("../templates/containers/backup.sh");
/// The restore script.
pub const RESTORE: &str = include_str!("../templates/containers/restore.sh");

/// Where the backup script is generated, from the output root.
pub const BACKUP_PATH: &str = "jobs/backup.sh";
/// Where the restore script is generated.
pub const RESTORE_PATH: &str = "jobs/restore.sh";
/// Where the backup script is mounted in the backup container.
pub const BACKUP_MOUNT: &str = "/etc/blueprint/backup.sh";
/// Where the restore script is mounted.
pub const RESTORE_MOUNT: &str = "/etc/blueprint/restore.sh";
/// The image's working directory (the home of its `postgres` user).
const WORKDIR: &str = "/var/lib/postgresql";

/// The build context of `backup`'s image, from the output root (it holds only the Dockerfile).
pub fn context(backup: &Backup) -> String {
    format!("jobs/{}", backup.job)
}

/// The Dockerfile of `backup`'s image, from the output root.
pub fn dockerfile(backup: &Backup) -> String {
    format!("{}/Dockerfile", context(backup))
}

/// The crontab of `backup`, from the output root.
pub fn crontab_path(backup: &Backup) -> String {
    format!("jobs/{}.crontab", backup.job)
}

/// The image Compose builds for `backup` (local only: `pull_policy: build`).
pub fn image(model: &Model, backup: &Backup) -> String {
    format!("{}-{}:local", model.project.name, backup.job)
}

/// `command` through the wrapper as job `job`, stopped after `timeout_seconds`.
fn wrapped(job: &str, timeout_seconds: u64, command: &[&str]) -> Vec<String> {
    [
        "/bin/sh",
        RUN_JOB_MOUNT,
        job,
        &timeout_seconds.to_string(),
        "--",
    ]
    .iter()
    .chain(command)
    .map(|word| word.to_string())
    .collect()
}

/// The command that runs one backup, word by word: `backup.sh` through the wrapper, as the
/// scheduler and the CronJob run it.
pub fn run_argv(backup: &Backup) -> Vec<String> {
    wrapped(
        &backup.job,
        backup.timeout_seconds,
        &["/bin/sh", BACKUP_MOUNT],
    )
}

/// The command that runs one restore test, word by word: `restore.sh --test` through the
/// wrapper under the test's own job name, as the scheduler and its CronJob run it.
pub fn restore_test_argv(test: &RestoreTest) -> Vec<String> {
    wrapped(
        &test.job,
        test.timeout_seconds,
        &["/bin/sh", RESTORE_MOUNT, "--test"],
    )
}

/// Words as a `sh` line.
fn sh_line(words: &[String]) -> String {
    words
        .iter()
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// [`run_argv`] as a `sh` line.
pub fn run_command(backup: &Backup) -> String {
    sh_line(&run_argv(backup))
}

/// [`restore_test_argv`] as a `sh` line.
pub fn restore_test_command(test: &RestoreTest) -> String {
    sh_line(&restore_test_argv(test))
}

/// The command that runs the restore script in the backup container (listing by default).
pub fn restore_command(compose: &str, backup: &Backup) -> String {
    format!(
        "{compose} run --rm --no-deps {} /bin/sh {RESTORE_MOUNT}",
        backup.job
    )
}

/// The stores whose backups run on Compose (in at least one environment).
pub fn compose_backups(model: &Model) -> Vec<(&Store, &Backup)> {
    if !model.environments.iter().any(|e| e.on_compose()) {
        return Vec::new();
    }
    model.backups().collect()
}

#[derive(Serialize)]
struct Context<'a> {
    store: &'a str,
    job: &'a str,
    schedule: &'a str,
    retention: &'a str,
    timeout: String,
    line: String,
    /// The restore test's schedule, timeout and line, when there is one.
    restore_test: Option<CrontabTest>,
}

#[derive(Serialize)]
struct CrontabTest {
    job: String,
    timeout: String,
    line: String,
}

/// Every backup file: per store its Dockerfile (and its crontab where Compose runs it), and the
/// two scripts Compose mounts. Every environment runs every backup, on Compose or in a cluster.
pub fn files(model: &Model) -> Vec<GeneratedFile> {
    let compose = !compose_backups(model).is_empty();
    let pushed = model.cluster_backups().next().is_some();
    let mut files = Vec::new();
    // Where the image comes from, for the Dockerfile's header.
    let delivery = match (compose, pushed) {
        (true, false) => "Compose builds it locally (`pull_policy: build`); nothing is pushed.",
        (true, true) => {
            "Compose builds it locally (`pull_policy: build`); images.yml pushes it for the clusters' CronJob."
        }
        _ => "images.yml builds and pushes it for the clusters' CronJob.",
    };
    for (store, backup) in model.backups() {
        let crontab = Context {
            store: &store.name,
            job: &backup.job,
            schedule: &backup.schedule,
            retention: &backup.retention,
            timeout: crate::syntax::format_duration(backup.timeout_seconds),
            line: format!("{} {}", backup.schedule, run_command(backup)),
            restore_test: backup.restore_test.as_ref().map(|test| CrontabTest {
                job: test.job.clone(),
                timeout: crate::syntax::format_duration(test.timeout_seconds),
                line: format!("{} {}", test.schedule, restore_test_command(test)),
            }),
        };
        if compose {
            files.push(GeneratedFile::hash_commented(
                crontab_path(backup),
                render_template(
                    "backup.crontab",
                    CRONTAB_TEMPLATE,
                    minijinja::Value::from(minijinja::value::Serde(&crontab)),
                ),
            ));
        }
        let base = images::postgres(&store.version);
        files.push(GeneratedFile::hash_commented(
            dockerfile(backup),
            render_template(
                "backup.Dockerfile",
                DOCKERFILE_TEMPLATE,
                minijinja::context! {
                    store => &store.name,
                    job => &backup.job,
                    supercronic_stage => supercronic_stage_on(&base),
                    base,
                    minio_client => images::MINIO_CLIENT,
                    workdir => WORKDIR,
                    delivery,
                },
            ),
        ));
    }
    // Compose mounts the scripts from here; a cluster gets them in its `backup` ConfigMap.
    if compose && model.backups().next().is_some() {
        files.push(GeneratedFile::hash_commented(BACKUP_PATH, BACKUP).executable());
        files.push(GeneratedFile::hash_commented(RESTORE_PATH, RESTORE).executable());
    }
    files
}
