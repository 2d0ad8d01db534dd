//! `.github/workflows/security.yml`: Trivy scans of the Dockerfiles and of every image, reported
//! to code scanning. The image scan fails on a fixable vulnerability at `ci.scan_fails_on` or
//! above; the configuration scan only reports (hadolint and the validators gate the files).

use std::collections::BTreeSet;

use indexmap::IndexMap;

use super::workflow::{
    Access, Always, Concurrency, Flag, Job, Permissions, PullRequestFilter, Schedule, Step,
    Triggers, Workflow,
};
use super::{MatrixImage, RUNNER, actions, built_images, checkout, expr, image_job};
use crate::model::Model;

/// SARIF uploads need to write code scanning alerts; checkout needs to read.
fn sarif_permissions() -> Permissions {
    Permissions {
        contents: Some(Access::Read),
        security_events: Some(Access::Write),
        ..Permissions::default()
    }
}

/// Uploading needs a token that may write alerts, which pull requests from forks do not get.
const CAN_UPLOAD: &str = "github.event_name != 'pull_request' || github.event.pull_request.head.repo.full_name == github.repository";

/// The path filter of everything under a build context (`services/api/**`; `**` for the root).
fn context_glob(context: &str) -> String {
    match context.trim_end_matches('/') {
        "" | "." => "**".to_string(),
        dir => format!("{dir}/**"),
    }
}

/// A Trivy scan of `image` that fails on a fixable vulnerability at `ci.scan_fails_on` or
/// above, writing those findings to `sarif` (uploaded by the next step, which runs anyway).
pub fn gate_scan(model: &Model, name: &str, image: String, sarif: String) -> Step {
    Step::action(name, actions::TRIVY.reference(model.ci.pin_actions))
        .with("scan-type", "image")
        .with("image-ref", image)
        .with("format", "sarif")
        .with("output", sarif)
        .with("severity", model.ci.scan_severities)
        .with("limit-severities-for-sarif", true)
        .with("ignore-unfixed", true)
        .with("exit-code", "1")
}

/// The security workflow.
pub fn workflow(model: &Model) -> Workflow {
    let pinning = model.ci.pin_actions;
    // A change anywhere in an image's build context (its requirements or lockfile, its code)
    // changes the image, so the scan runs on it; and its Dockerfile, wherever it is.
    let mut paths: BTreeSet<String> = built_images(model)
        .into_iter()
        .flat_map(|image| {
            let inside = image
                .dockerfile
                .starts_with(&format!("{}/", image.context.trim_end_matches('/')));
            let dockerfile = (!inside).then_some(image.dockerfile);
            dockerfile.into_iter().chain([context_glob(&image.context)])
        })
        .collect();
    paths.insert(".github/workflows/security.yml".into());

    let config = Job {
        name: Some("Trivy config scan".into()),
        runs_on: Some(RUNNER.into()),
        permissions: sarif_permissions(),
        timeout_minutes: Some(15),
        steps: vec![
            checkout(pinning),
            Step::action("Scan the configuration", actions::TRIVY.reference(pinning))
                .with("scan-type", "config")
                .with("scan-ref", ".")
                .with("format", "sarif")
                .with("output", "trivy-config.sarif"),
            Step::action(
                "Upload to code scanning",
                actions::UPLOAD_SARIF.reference(pinning),
            )
            .when(CAN_UPLOAD)
            .with("sarif_file", "trivy-config.sarif")
            .with("category", "trivy-config"),
        ],
        ..Job::default()
    };

    let local_tag = format!("{}:scan", expr("matrix.service"));
    let sarif = format!("trivy-{}.sarif", expr("matrix.service"));
    let image = image_job(
        model,
        "Trivy image scan",
        MatrixImage::Build,
        sarif_permissions(),
        vec![
            // Built from source with a fresh base image: the scan sees what the next release
            // would ship, without registry credentials.
            Step::action("Build", actions::BUILD_PUSH.reference(pinning))
                .with("context", expr("matrix.context"))
                .with("file", expr("matrix.dockerfile"))
                .with("pull", true)
                .with("push", false)
                .with("load", true)
                .with("tags", local_tag.clone()),
            gate_scan(model, "Scan the image", local_tag, sarif.clone()),
            Step::action(
                "Upload to code scanning",
                actions::UPLOAD_SARIF.reference(pinning),
            )
            // The findings are kept when the scan fails on them.
            .when(format!("!cancelled() && ({CAN_UPLOAD})"))
            .with("sarif_file", sarif)
            .with(
                "category",
                format!("trivy-image-{}", expr("matrix.service")),
            ),
        ],
    );

    Workflow {
        name: "security".into(),
        on: Triggers {
            pull_request: Some(PullRequestFilter {
                paths: paths.into_iter().collect(),
            }),
            schedule: Some(vec![Schedule {
                cron: model.ci.security_scan.clone(),
            }]),
            workflow_dispatch: Some(Always {}),
            ..Triggers::default()
        },
        permissions: Permissions::none(),
        concurrency: Some(Concurrency {
            group: format!("security-{}", expr("github.ref")),
            cancel_in_progress: Flag::Expression(expr("github.event_name == 'pull_request'")),
        }),
        jobs: IndexMap::from([("config".to_string(), config), ("image".to_string(), image)]),
    }
}
