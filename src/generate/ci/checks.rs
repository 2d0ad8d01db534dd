//! `.github/workflows/ci.yml`: what every pull request must pass.

use indexmap::IndexMap;

use super::workflow::{
    Always, BranchFilter, Concurrency, Defaults, Flag, Job, Permissions, PullRequestFilter,
    RunDefaults, Step, Triggers, Workflow, WorkflowCall,
};
use super::{
    MatrixImage, RUNNER, actions, check_command, checkout, expr, image_job, image_services,
    install_command, literal_script,
};
use crate::blueprint::Runtime;
use crate::model::{Model, Service};

/// The CI workflow.
pub fn workflow(model: &Model) -> Workflow {
    let pinning = model.ci.pin_actions;
    // Where deploy.yml exists it runs these checks for the release branches (before it
    // deploys), so a push there does not run them twice.
    let deployed = super::delivery::deploys(model);
    let branches = if deployed {
        Vec::new()
    } else {
        super::release_branches(model)
    };

    let mut jobs = IndexMap::new();
    for service in &model.services {
        if let Some(job) = service_job(model, service) {
            jobs.insert(format!("test-{}", service.name), job);
        }
    }
    if !image_services(model).is_empty() {
        jobs.insert(
            "build".to_string(),
            image_job(
                model,
                "image",
                MatrixImage::Build,
                Permissions::read_contents(),
                // Pull requests build to prove the Dockerfile works; only images.yml pushes.
                vec![
                    Step::action("Build", actions::BUILD_PUSH.reference(pinning))
                        .with("context", expr("matrix.context"))
                        .with("file", expr("matrix.dockerfile"))
                        .with("push", false)
                        .with(
                            "cache-from",
                            format!("type=gha,scope={}", expr("matrix.service")),
                        )
                        .with(
                            "cache-to",
                            format!("type=gha,mode=max,scope={}", expr("matrix.service")),
                        ),
                ],
            ),
        );
    }
    jobs.insert(
        "drift".to_string(),
        Job {
            name: Some("generated files match the blueprint".into()),
            runs_on: Some(RUNNER.into()),
            permissions: Permissions::read_contents(),
            timeout_minutes: Some(20),
            steps: vec![
                checkout(pinning),
                // Compiling blueprint takes minutes; the binary of a release never changes.
                Step::action("Cache blueprint", actions::CACHE.reference(pinning))
                    .id("blueprint-cache")
                    .with("path", "~/.cargo/bin/blueprint")
                    .with(
                        "key",
                        format!(
                            "blueprint-{}-v{}",
                            expr("runner.os"),
                            env!("CARGO_PKG_VERSION")
                        ),
                    ),
                Step::script("Install blueprint", install_command())
                    .when("steps.blueprint-cache.outputs.cache-hit != 'true'"),
                Step::script("Check for drift", check_command()),
            ],
            ..Job::default()
        },
    );

    Workflow {
        name: "ci".into(),
        on: Triggers {
            push: (!branches.is_empty()).then_some(BranchFilter { branches }),
            pull_request: Some(PullRequestFilter::default()),
            workflow_dispatch: Some(Always {}),
            workflow_call: deployed.then(WorkflowCall::default),
            ..Triggers::default()
        },
        permissions: Permissions::none(),
        concurrency: Some(Concurrency {
            group: format!("ci-{}", expr("github.ref")),
            // A new push to a pull request makes the running checks moot; on the main branch
            // every commit is checked.
            cancel_in_progress: Flag::Expression(expr("github.event_name == 'pull_request'")),
        }),
        jobs,
    }
}

/// Lint and test one service, when it declares either.
fn service_job(model: &Model, service: &Service) -> Option<Job> {
    if service.lint.is_none() && service.test.is_none() {
        return None;
    }
    let pinning = model.ci.pin_actions;
    let path = &service.path;
    let dependency_path = |file: &str| {
        if path == "." {
            file.to_string()
        } else {
            format!("{path}/{file}")
        }
    };
    let mut steps = vec![checkout(pinning)];
    if service.is_python() {
        steps.push(
            Step::action("Set up Python", actions::SETUP_PYTHON.reference(pinning))
                .with("python-version", service.version.clone())
                .with("cache", "pip")
                .with(
                    "cache-dependency-path",
                    dependency_path("requirements*.txt"),
                ),
        );
        // requirements.txt is what the image installs; requirements-dev.txt, when present,
        // adds the tools the lint and test commands need.
        steps.push(Step::script(
            "Install dependencies",
            "python -m pip install -r requirements.txt\n\
             if [ -f requirements-dev.txt ]; then python -m pip install -r requirements-dev.txt; fi\n",
        ));
    } else if service.runtime == Runtime::Node {
        steps.push(
            Step::action("Set up Node.js", actions::SETUP_NODE.reference(pinning))
                .with("node-version", service.version.clone())
                .with("cache", "npm")
                .with(
                    "cache-dependency-path",
                    dependency_path("package-lock.json"),
                ),
        );
        steps.push(Step::script("Install dependencies", "npm ci"));
    }
    if let Some(lint) = &service.lint {
        steps.push(Step::script("Lint", literal_script(lint)));
    }
    if let Some(test) = &service.test {
        steps.push(Step::script("Test", literal_script(test)));
    }
    let checks: Vec<&str> = [
        service.lint.as_ref().map(|_| "lint"),
        service.test.as_ref().map(|_| "test"),
    ]
    .into_iter()
    .flatten()
    .collect();
    Some(Job {
        name: Some(format!("{} ({})", service.name, checks.join(", "))),
        runs_on: Some(RUNNER.into()),
        permissions: Permissions::read_contents(),
        timeout_minutes: Some(20),
        defaults: Some(Defaults {
            run: RunDefaults {
                shell: "bash".into(),
                working_directory: Some(path.clone()),
            },
        }),
        steps,
        ..Job::default()
    })
}
