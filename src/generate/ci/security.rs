//! `.github/workflows/security.yml`: Trivy scans of the Dockerfiles and of every image, reported
//! to code scanning (which also turns new findings into a failing check on pull requests).

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

/// The security workflow.
pub fn workflow(model: &Model) -> Workflow {
    let pinning = model.ci.pin_actions;
    let mut paths: BTreeSet<String> = built_images(model)
        .into_iter()
        .map(|image| image.dockerfile)
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
            Step::action("Scan the image", actions::TRIVY.reference(pinning))
                .with("scan-type", "image")
                .with("image-ref", local_tag)
                .with("format", "sarif")
                .with("output", sarif.clone())
                .with("severity", "CRITICAL,HIGH")
                .with("limit-severities-for-sarif", true)
                .with("ignore-unfixed", true),
            Step::action(
                "Upload to code scanning",
                actions::UPLOAD_SARIF.reference(pinning),
            )
            .when(CAN_UPLOAD)
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
