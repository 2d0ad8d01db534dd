//! Backups of PostgreSQL stores: per store with a `backup` policy, a `<store>-backup` scheduler
//! container whose crontab runs `backup.sh` through `run-job.sh` (so the run is timed out and
//! its outcome pushed like any job's), the image it runs in, and `restore.sh`, which lists the
//! dumps and restores one.
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
use crate::model::{Backup, Model, Store};

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

/// The crontab of `backup`, from the output root.
pub fn crontab_path(backup: &Backup) -> String {
    format!("jobs/{}.crontab", backup.job)
}

/// The image Compose builds for `backup` (local only: `pull_policy: build`).
pub fn image(model: &Model, backup: &Backup) -> String {
    format!("{}-{}:local", model.project.name, backup.job)
}

/// The command that runs one backup, as the scheduler does (a `sh` line).
pub fn run_command(backup: &Backup) -> String {
    [
        "/bin/sh",
        RUN_JOB_MOUNT,
        &shell_quote(&backup.job),
        &backup.timeout_seconds.to_string(),
        "--",
        "/bin/sh",
        BACKUP_MOUNT,
    ]
    .join(" ")
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
}

/// Every backup file: per store its crontab and Dockerfile, and the two scripts.
pub fn files(model: &Model) -> Vec<GeneratedFile> {
    let backups = compose_backups(model);
    let mut files = Vec::new();
    for (store, backup) in &backups {
        let crontab = Context {
            store: &store.name,
            job: &backup.job,
            schedule: &backup.schedule,
            retention: &backup.retention,
            timeout: crate::syntax::format_duration(backup.timeout_seconds),
            line: format!("{} {}", backup.schedule, run_command(backup)),
        };
        files.push(GeneratedFile::hash_commented(
            crontab_path(backup),
            render_template(
                "backup.crontab",
                CRONTAB_TEMPLATE,
                minijinja::Value::from(minijinja::value::Serde(&crontab)),
            ),
        ));
        let base = images::postgres(&store.version);
        files.push(GeneratedFile::hash_commented(
            format!("{}/Dockerfile", context(backup)),
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
                },
            ),
        ));
    }
    if !backups.is_empty() {
        files.push(GeneratedFile::hash_commented(BACKUP_PATH, BACKUP).executable());
        files.push(GeneratedFile::hash_commented(RESTORE_PATH, RESTORE).executable());
    }
    files
}
