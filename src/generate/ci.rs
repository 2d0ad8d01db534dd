//! The `ci` generator: GitHub Actions workflows, Dependabot and the Vercel project settings.
//!
//! - `.github/workflows/ci.yml`: lint and test each service, build each image (never pushed),
//!   and the blueprint drift check; on pull requests and on pushes to the main (and staging)
//!   branch.
//! - `.github/workflows/images.yml`: build and push every container image, tagged with the
//!   commit (`sha-<commit>`) and `latest`. It is a reusable workflow called by `deploy.yml`, so
//!   one run on the main branch shows images -> staging -> production as one graph; it can also
//!   be started by hand. When nothing deploys containers it runs on its own on the main branch.
//! - `.github/workflows/deploy.yml`: container environments over SSH (staging automatically,
//!   production through the `prod` GitHub environment where approvals live), Kubernetes
//!   environments the same way with `kubectl apply -k` on their overlay, and Vercel
//!   (previews for pull requests, production from the main branch). Its weekly run rebuilds the
//!   images so base-image patches reach production.
//! - `.github/workflows/security.yml`: Trivy config and image scans, reported to code scanning.
//! - `.github/dependabot.yml` and `<service>/vercel.json`.
//!
//! Hardening throughout (GitHub's security hardening guide, zizmor's audits): the workflow-level
//! token has no permissions and each job asks for what it needs, actions are pinned to commit
//! SHAs ([`actions`]), checkouts do not keep the token, data from expressions reaches scripts
//! only through `env:`, and there is no `pull_request_target` or `workflow_run`.

pub mod actions;
mod checks;
pub(crate) mod delivery;
mod dependabot;
mod security;
mod vercel;
pub mod workflow;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use crate::blueprint::ActionPinning;
use crate::generate::{GeneratedFile, shell_quote, to_yaml};
use crate::model::{Model, SecretHome, Service};
use workflow::{Step, Workflow};

/// Where the drift check expects the blueprint: `blueprint.yaml` at the repository root,
/// rendered into the repository root. The model does not know the blueprint's own path yet;
/// once it does, this is the one place to change.
pub const BLUEPRINT_FILE: &str = "blueprint.yaml";

/// Where CI installs blueprint from.
pub const BLUEPRINT_REPOSITORY: &str = "https://github.com/blueprint-rs/blueprint";

/// The runner image of every job, pinned so a new Ubuntu does not arrive unannounced.
pub const RUNNER: &str = "ubuntu-24.04";

/// The Vercel CLI, pinned: `npx` would otherwise fetch whatever is newest at deploy time. This is
/// the release the generated `vercel.json` files were built with (`vercel build`) in testing.
pub const VERCEL_CLI: &str = "vercel@60.1.3";

/// Image tags that name a commit are this prefix and the full commit SHA (`docker/metadata-action`'s
/// `type=sha,format=long`); deployments select images by it.
pub const IMAGE_TAG_PREFIX: &str = "sha-";

pub use crate::model::{DEPLOY_SECRETS, REGISTRY_SECRETS};

/// The command that installs the blueprint version that rendered the files.
pub fn install_command() -> String {
    format!(
        "cargo install --locked --git {BLUEPRINT_REPOSITORY} --tag v{} blueprint",
        env!("CARGO_PKG_VERSION")
    )
}

/// The drift check CI runs.
pub fn check_command() -> String {
    format!("blueprint check {BLUEPRINT_FILE}")
}

/// The GitHub Actions secrets the generated workflows read, by name, each with the GitHub
/// environments it must be set on (empty: a repository secret): the model's GitHub secrets.
pub fn github_secrets(model: &Model) -> BTreeMap<String, BTreeSet<String>> {
    model
        .secrets()
        .into_values()
        .filter(|s| s.home == SecretHome::GitHub)
        .map(|s| (s.name, s.environments))
        .collect()
}

/// Renders this target's files.
pub fn generate(model: &Model) -> Vec<GeneratedFile> {
    let pinning = model.ci.pin_actions;
    let mut files = vec![workflow_file(
        ".github/workflows/ci.yml",
        &checks::workflow(model),
        pinning,
    )];
    if !image_services(model).is_empty() {
        files.push(workflow_file(
            ".github/workflows/images.yml",
            &delivery::images_workflow(model),
            pinning,
        ));
    }
    if let Some(deploy) = delivery::deploy_workflow(model) {
        files.push(workflow_file(
            ".github/workflows/deploy.yml",
            &deploy,
            pinning,
        ));
    }
    if !image_services(model).is_empty() {
        files.push(workflow_file(
            ".github/workflows/security.yml",
            &security::workflow(model),
            pinning,
        ));
    }
    files.push(GeneratedFile::hash_commented(
        ".github/dependabot.yml",
        to_yaml(&dependabot::config(model)),
    ));
    files.extend(vercel::files(model));
    files
}

/// Serializes a workflow and adds its line comments.
fn workflow_file(path: &str, workflow: &Workflow, pinning: ActionPinning) -> GeneratedFile {
    GeneratedFile::hash_commented(path, annotate(&to_yaml(workflow), pinning))
}

/// The calls of reusable workflows of this repository.
pub const IMAGES_WORKFLOW_CALL: &str = "./.github/workflows/images.yml";
/// `ci.yml`, which `deploy.yml` runs first: what is deployed has passed it.
pub const CI_WORKFLOW_CALL: &str = "./.github/workflows/ci.yml";

/// Line comments for exact `key: value` lines, which serde-saphyr cannot emit (its `comments`
/// feature is off in this crate):
/// - ` # v6.0.2` beside each SHA-pinned action: what reviewers and Dependabot read to know the
///   release;
/// - why each write permission is needed (zizmor's `undocumented-permissions`);
/// - a zizmor ignore on the local reusable workflow call: zizmor's `self-repository` prefers
///   GitHub's `$/` form, but actionlint rejects it and GitHub Enterprise Server lacks it, while
///   a `./` reusable workflow is already read from the caller's own commit.
///
/// Every value matched is a plain scalar no other key of these files can hold, so comparing
/// whole lines is exact.
pub fn line_comments(pinning: ActionPinning) -> Vec<(String, String)> {
    let mut comments: Vec<(String, String)> = Vec::new();
    if pinning == ActionPinning::Sha {
        comments.extend(actions::ALL.iter().map(|a| {
            (
                format!("uses: {}", a.reference(pinning)),
                a.version.to_string(),
            )
        }));
    }
    comments.push((
        "packages: write".into(),
        "push images to the registry".into(),
    ));
    comments.push((
        "packages: read".into(),
        "the host pulls the images with this job's token".into(),
    ));
    comments.push((
        "security-events: write".into(),
        "upload scan results to code scanning".into(),
    ));
    for call in [IMAGES_WORKFLOW_CALL, CI_WORKFLOW_CALL] {
        comments.push((
            format!("uses: {call}"),
            "zizmor: ignore[self-repository]".into(),
        ));
    }
    comments
}

/// Appends the [`line_comments`] to the lines they name. Lines inside block scalars (scripts)
/// are text, not keys, and are left alone.
pub fn annotate(yaml: &str, pinning: ActionPinning) -> String {
    let comments = line_comments(pinning);
    let mut out = String::with_capacity(yaml.len() + 512);
    // The indentation of the key whose block scalar is being read.
    let mut block_parent: Option<usize> = None;
    for line in yaml.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        let indent = body.len() - body.trim_start().len();
        if let Some(parent) = block_parent {
            if body.trim().is_empty() || indent > parent {
                out.push_str(line);
                continue;
            }
            block_parent = None;
        }
        let content = body.trim_start();
        let content = content.strip_prefix("- ").unwrap_or(content);
        out.push_str(body);
        if let Some((_, comment)) = comments.iter().find(|(line, _)| line == content) {
            // Two spaces, as yamllint asks of inline comments.
            out.push_str("  # ");
            out.push_str(comment);
        }
        out.push_str(newline);
        let header = content.rsplit_once(": ").map_or("", |(_, value)| value);
        if header.starts_with('|') || header.starts_with('>') {
            block_parent = Some(indent);
        }
    }
    out
}

/// `${{ <expression> }}`.
fn expr(expression: &str) -> String {
    format!("${{{{ {expression} }}}}")
}

/// The condition that holds on the main branch only.
fn on_main_branch(model: &Model) -> String {
    on_branch(&model.ci.main_branch)
}

fn on_branch(branch: &str) -> String {
    format!("github.ref == 'refs/heads/{branch}'")
}

/// A separate branch staging deploys from (`ci.staging_branch`, when it is not the main
/// branch); without one, staging deploys each commit of the main branch before production.
fn separate_staging_branch(model: &Model) -> Option<&str> {
    model
        .ci
        .staging_branch
        .as_deref()
        .filter(|b| *b != model.ci.main_branch)
}

/// The branches whose pushes build images and deploy: the main branch, and the staging
/// branch when there is one.
fn release_branches(model: &Model) -> Vec<String> {
    let mut branches = vec![model.ci.main_branch.clone()];
    branches.extend(separate_staging_branch(model).map(str::to_string));
    branches
}

/// Whether the run is for a release branch.
fn on_release_branch(model: &Model) -> String {
    match separate_staging_branch(model) {
        Some(staging) => format!("({} || {})", on_main_branch(model), on_branch(staging)),
        None => on_main_branch(model),
    }
}

/// A checkout that does not leave the token in `.git/config`, where later steps (and anything
/// they run) could read it.
fn checkout(pinning: ActionPinning) -> Step {
    Step::action("Check out", actions::CHECKOUT.reference(pinning))
        .with("persist-credentials", false)
}

/// A user command as a `run:` script. Scripts must not expand expressions, so a literal `${{`
/// in the blueprint is written as an expression producing that text instead of being
/// evaluated.
fn literal_script(command: &str) -> String {
    command.replace("${{", "${{ '${{' }}")
}

/// Services built into images: those that run as containers somewhere.
fn image_services(model: &Model) -> Vec<&Service> {
    model
        .services
        .iter()
        .filter(|s| s.in_container_anywhere())
        .collect()
}

/// An image CI builds, and images.yml pushes: a service's, or the image of a backup job that a
/// cluster runs as a CronJob (Compose builds its own copy on the host).
struct BuiltImage {
    /// The matrix's `service`: the service or job name (job titles, cache scopes, scan names).
    name: String,
    /// The build context, from the output root.
    context: String,
    /// The Dockerfile, from the output root.
    dockerfile: String,
    /// The registry repository, without tag.
    repository: String,
}

/// Every image CI builds: the services' that run as containers, then the cluster backups'.
fn built_images(model: &Model) -> Vec<BuiltImage> {
    let services = image_services(model).into_iter().map(|s| BuiltImage {
        name: s.name.clone(),
        context: s.path.clone(),
        dockerfile: s.dockerfile.clone(),
        repository: s.image.clone(),
    });
    let backups = model.cluster_backups().map(|(_, b)| BuiltImage {
        name: b.job.clone(),
        context: crate::generate::containers::backup::context(b),
        dockerfile: crate::generate::containers::backup::dockerfile(b),
        repository: b.image.clone(),
    });
    services.chain(backups).collect()
}

/// What an image job needs of each image besides the registry repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatrixImage {
    /// `service`, `context` and `dockerfile`: enough to build.
    Build,
    /// Also `image`, the repository the job pushes to.
    Push,
}

/// A job run once per built image (`matrix.service`, `matrix.context`, `matrix.dockerfile`,
/// and `matrix.image` for [`MatrixImage::Push`]), named `<title> <service>`: the repository is
/// checked out and Buildx set up before `steps`; one failing image does not cancel the others.
fn image_job(
    model: &Model,
    title: &str,
    images: MatrixImage,
    permissions: workflow::Permissions,
    steps: Vec<Step>,
) -> workflow::Job {
    let pinning = model.ci.pin_actions;
    let include = built_images(model)
        .into_iter()
        .map(|image| {
            let mut entry = indexmap::IndexMap::from([
                ("service".to_string(), image.name),
                ("context".to_string(), image.context),
                ("dockerfile".to_string(), image.dockerfile),
            ]);
            if images == MatrixImage::Push {
                entry.insert("image".to_string(), image.repository);
            }
            entry
        })
        .collect();
    workflow::Job {
        name: Some(format!("{title} {}", expr("matrix.service"))),
        runs_on: Some(RUNNER.into()),
        permissions,
        timeout_minutes: Some(30),
        strategy: Some(workflow::Strategy {
            fail_fast: false,
            matrix: workflow::Matrix { include },
        }),
        steps: [
            checkout(pinning),
            Step::action("Set up Buildx", actions::SETUP_BUILDX.reference(pinning)),
        ]
        .into_iter()
        .chain(steps)
        .collect(),
        ..workflow::Job::default()
    }
}
