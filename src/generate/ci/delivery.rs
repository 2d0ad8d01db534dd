//! `.github/workflows/images.yml` and `.github/workflows/deploy.yml`.
//!
//! Why a reusable workflow and not `workflow_run`: a `workflow_run` deployment runs in the
//! default branch's context whatever triggered the build (zizmor's `dangerous-triggers`), its
//! jobs cannot `needs:` the build, and the link between the pushed images and what is deployed
//! is a lookup instead of a job graph. `deploy.yml` calls `ci.yml`, then `images.yml`, and
//! chains ci -> images -> staging -> production with `needs:` inside one run, so the run that
//! checked and pushed the images of a commit is the run that deploys them, and the production
//! job waits in the `prod` environment for its required reviewers. With a `ci.staging_branch`,
//! staging deploys that branch's pushes and production the main branch's, each after the
//! images of its own run.
//!
//! Kubernetes environments deploy the same way, in the same chain: their job writes the
//! kubeconfig from the environment's `KUBE_CONFIG` secret, points the overlay's images at the
//! commit's tag and applies it with `kubectl apply -k`.

use indexmap::IndexMap;

use super::workflow::{
    Access, Always, BranchFilter, CallSecret, Concurrency, Defaults, Environment, Flag, Job,
    Permissions, PullRequestFilter, RunDefaults, Schedule, Step, Triggers, Workflow, WorkflowCall,
};
use super::{
    CI_WORKFLOW_CALL, DEPLOY_SECRETS, IMAGE_TAG_PREFIX, IMAGES_WORKFLOW_CALL, MatrixImage,
    REGISTRY_SECRETS, RUNNER, VERCEL_CLI, actions, checkout, expr, image_job, on_branch,
    on_main_branch, on_release_branch, release_branches, separate_staging_branch, shell_quote,
};
use crate::blueprint::{ProxyEngine, Runtime, Tier};
use crate::generate::{kubernetes, render_template};
use crate::model::{
    DEFAULT_NODE, Environment as ModelEnvironment, KUBE_CONFIG_SECRET, Model, Service,
};

const DEPLOY_SCRIPT: &str = include_str!("../templates/ci/deploy-compose.sh");
const KUBERNETES_DEPLOY_SCRIPT: &str = include_str!("../templates/ci/deploy-kubernetes.sh");

/// The GitHub environment of pull request previews on Vercel.
pub const VERCEL_PREVIEW_ENVIRONMENT: &str = "preview";

/// Whether images go to GitHub's registry, where the workflow token is the credential.
pub fn uses_github_registry(model: &Model) -> bool {
    model.project.registry == crate::model::GITHUB_REGISTRY
}

/// The workflow token's grants for the registry (`ghcr.io` only: elsewhere it is not used).
fn registry_permissions(model: &Model, access: Access) -> Permissions {
    Permissions {
        contents: Some(Access::Read),
        packages: uses_github_registry(model).then_some(access),
        ..Permissions::default()
    }
}

/// Pushing images and uploading the pushed digest's scan to code scanning.
fn push_permissions(model: &Model) -> Permissions {
    Permissions {
        security_events: Some(Access::Write),
        ..registry_permissions(model, Access::Write)
    }
}

/// `images.yml`: build and push every container image.
pub fn images_workflow(model: &Model) -> Workflow {
    let pinning = model.ci.pin_actions;
    let standalone = model.deployed_compose_environments().is_empty()
        && model.deployed_clusters().next().is_none();
    let github_registry = uses_github_registry(model);

    let (username, password) = if github_registry {
        (expr("github.actor"), expr("secrets.GITHUB_TOKEN"))
    } else {
        (
            expr(&format!("secrets.{}", REGISTRY_SECRETS.username)),
            expr(&format!("secrets.{}", REGISTRY_SECRETS.password)),
        )
    };
    let pushed_sarif = format!("trivy-pushed-{}.sarif", expr("matrix.service"));
    // `latest` is the main branch's: a staging branch's push must not move it.
    let latest_only_on_main = match separate_staging_branch(model) {
        Some(_) => format!(",enable={}", expr(&on_main_branch(model))),
        None => String::new(),
    };
    let push =
        Job {
            condition: Some(on_release_branch(model)),
            ..image_job(
                model,
                "push",
                MatrixImage::Push,
                push_permissions(model),
                vec![
            Step::action(
                "Log in to the registry",
                actions::DOCKER_LOGIN.reference(pinning),
            )
            .with("registry", model.project.registry.clone())
            .with("username", username)
            .with("password", password),
            Step::action(
                "Tags and labels",
                actions::DOCKER_METADATA.reference(pinning),
            )
            .id("meta")
            .with("images", expr("matrix.image"))
            .with(
                "tags",
                format!("type=sha,format=long,prefix={IMAGE_TAG_PREFIX}\ntype=raw,value=latest{latest_only_on_main}\n"),
            ),
            // No build cache: a release image starts from a freshly pulled base image, so the
            // weekly rebuild picks up its patches, and nothing a pull request cached can end up
            // in it.
            Step::action("Build and push", actions::BUILD_PUSH.reference(pinning))
                .id("push")
                .with("context", expr("matrix.context"))
                .with("file", expr("matrix.dockerfile"))
                .with("pull", true)
                .with("push", true)
                .with("tags", expr("steps.meta.outputs.tags"))
                .with("labels", expr("steps.meta.outputs.labels"))
                .with("provenance", "mode=max")
                .with("sbom", true),
            // The gate is the digest just pushed, not a rebuild: a failing scan fails this job,
            // and with it every deploy that needs it.
            super::security::gate_scan(
                model,
                "Scan the pushed image",
                format!(
                    "{}@{}",
                    expr("matrix.image"),
                    expr("steps.push.outputs.digest")
                ),
                pushed_sarif.clone(),
            ),
            Step::action(
                "Upload to code scanning",
                actions::UPLOAD_SARIF.reference(pinning),
            )
            .when("!cancelled()")
            .with("sarif_file", pushed_sarif)
            .with(
                "category",
                format!("trivy-pushed-{}", expr("matrix.service")),
            ),
            ],
            )
        };

    let on = if standalone {
        Triggers {
            push: Some(BranchFilter {
                branches: vec![model.ci.main_branch.clone()],
            }),
            schedule: Some(vec![Schedule {
                cron: model.ci.security_scan.clone(),
            }]),
            workflow_dispatch: Some(Always {}),
            ..Triggers::default()
        }
    } else {
        let secrets = if github_registry {
            IndexMap::new()
        } else {
            [REGISTRY_SECRETS.username, REGISTRY_SECRETS.password]
                .into_iter()
                .map(|name| (name.to_string(), CallSecret { required: true }))
                .collect()
        };
        Triggers {
            workflow_dispatch: Some(Always {}),
            workflow_call: Some(WorkflowCall { secrets }),
            ..Triggers::default()
        }
    };
    Workflow {
        name: "images".into(),
        on,
        permissions: Permissions::none(),
        // Two runs must not race to move `latest`; the later waits. (A called workflow's group
        // is evaluated in the caller's context, so no job of deploy.yml may use this name.)
        concurrency: Some(Concurrency {
            group: format!("images-{}", expr("github.ref")),
            cancel_in_progress: Flag::Literal(false),
        }),
        jobs: IndexMap::from([("push".to_string(), push)]),
    }
}

/// Whether anything deploys from CI (a Compose host, a cluster or Vercel), so that
/// `deploy.yml` exists and runs `ci.yml` for the main branch.
pub fn deploys(model: &Model) -> bool {
    !model.deployed_compose_environments().is_empty()
        || model.deployed_clusters().next().is_some()
        || model.services.iter().any(Service::on_vercel)
}

/// `deploy.yml`, when anything deploys.
pub fn deploy_workflow(model: &Model) -> Option<Workflow> {
    let compose = model.deployed_compose_environments();
    let clusters: Vec<&ModelEnvironment> = model.deployed_clusters().collect();
    // Compose and Kubernetes environments in the blueprint's order, in one chain.
    let environments: Vec<&ModelEnvironment> = model
        .environments
        .iter()
        .filter(|env| {
            compose.iter().any(|c| c.name == env.name)
                || clusters.iter().any(|c| c.name == env.name)
        })
        .collect();
    let vercel_services: Vec<&Service> = model.services.iter().filter(|s| s.on_vercel()).collect();
    if environments.is_empty() && vercel_services.is_empty() {
        return None;
    }
    let mut jobs = IndexMap::new();
    // The checks first, in this run: nothing deploys a commit that has not passed them (for
    // the main branch, ci.yml runs only from here). Pull requests run ci.yml themselves.
    jobs.insert(
        "ci".to_string(),
        Job {
            name: Some("ci".into()),
            condition: Some("github.event_name != 'pull_request'".into()),
            uses: Some(CI_WORKFLOW_CALL.into()),
            permissions: Permissions::read_contents(),
            ..Job::default()
        },
    );

    if !environments.is_empty() {
        let mut secrets = IndexMap::new();
        if !uses_github_registry(model) {
            for name in [REGISTRY_SECRETS.username, REGISTRY_SECRETS.password] {
                secrets.insert(name.to_string(), expr(&format!("secrets.{name}")));
            }
        }
        jobs.insert(
            "images".to_string(),
            Job {
                name: Some("images".into()),
                needs: vec!["ci".to_string()],
                condition: Some(container_condition(model)),
                uses: Some(IMAGES_WORKFLOW_CALL.into()),
                secrets,
                // A called workflow gets no more than its caller grants.
                permissions: push_permissions(model),
                ..Job::default()
            },
        );
        let staging: Vec<String> = environments
            .iter()
            .filter(|env| env.tier == Tier::Staging)
            .map(|env| format!("deploy-{}", env.name))
            .collect();
        // Production follows staging in the same run when both deploy the main branch; with a
        // staging branch, staging deploys its pushes and production the main branch's.
        let after_staging = separate_staging_branch(model).is_none();
        for env in &environments {
            let needs = if env.tier == Tier::Production && after_staging && !staging.is_empty() {
                staging.clone()
            } else {
                vec!["images".to_string()]
            };
            let job = if env.on_kubernetes() {
                kubernetes_deploy_job(model, env, needs)
            } else {
                compose_deploy_job(model, env, needs)
            };
            jobs.insert(format!("deploy-{}", env.name), job);
        }
    }

    for service in &vercel_services {
        jobs.insert(
            format!("vercel-preview-{}", service.name),
            vercel_preview_job(model, service),
        );
        let targets: Vec<&ModelEnvironment> = model
            .environments
            .iter()
            .filter(|env| env.tier != Tier::Development)
            .filter(|env| service.on_vercel_in(&env.name))
            .collect();
        let staging: Vec<String> = targets
            .iter()
            .filter(|env| env.tier == Tier::Staging)
            .map(|env| format!("vercel-{}-{}", env.name, service.name))
            .collect();
        for env in &targets {
            let after_staging = separate_staging_branch(model).is_none();
            let needs = if env.tier == Tier::Production && after_staging && !staging.is_empty() {
                staging.clone()
            } else {
                vec!["ci".to_string()]
            };
            jobs.insert(
                format!("vercel-{}-{}", env.name, service.name),
                vercel_deploy_job(model, service, env, needs),
            );
        }
    }

    Some(Workflow {
        name: "deploy".into(),
        on: Triggers {
            push: Some(BranchFilter {
                branches: release_branches(model),
            }),
            pull_request: (!vercel_services.is_empty()).then(PullRequestFilter::default),
            // The weekly rebuild (on the default branch): fresh base images are pushed, and
            // deployed to a staging that follows the main branch; production takes them with
            // the next commit it deploys, never from a schedule.
            schedule: (!environments.is_empty()).then(|| {
                vec![Schedule {
                    cron: model.ci.security_scan.clone(),
                }]
            }),
            workflow_dispatch: Some(Always {}),
            ..Triggers::default()
        },
        permissions: Permissions::none(),
        // No workflow-level group: a production deployment waiting for approval must not hold
        // back the next commit's staging deployment. Each environment has its own group below.
        concurrency: None,
        jobs,
    })
}

/// Container jobs run for the main branch, never for a pull request.
fn container_condition(model: &Model) -> String {
    format!(
        "github.event_name != 'pull_request' && {}",
        on_release_branch(model)
    )
}

/// The branch whose commits `env` receives: the staging branch's for staging, when there is
/// one, else the main branch's.
fn deploy_branch<'a>(model: &'a Model, env: &ModelEnvironment) -> &'a str {
    match separate_staging_branch(model) {
        Some(staging) if env.tier == Tier::Staging => staging,
        _ => &model.ci.main_branch,
    }
}

/// When an environment's deploy job runs: [`container_condition`], and for production never
/// on the weekly schedule (a rebuild nobody asked to release would wait for approval).
fn deploy_condition(model: &Model, env: &ModelEnvironment) -> String {
    let run = format!(
        "github.event_name != 'pull_request' && {}",
        on_branch(deploy_branch(model, env))
    );
    if env.tier == Tier::Production {
        format!("github.event_name != 'schedule' && {run}")
    } else {
        run
    }
}

fn environment_url(env: &ModelEnvironment) -> String {
    let scheme = if env.tls { "https" } else { "http" };
    format!("{scheme}://{}", env.domain)
}

fn compose_deploy_job(model: &Model, env: &ModelEnvironment, needs: Vec<String>) -> Job {
    let mut paths = vec![format!("compose.{}.yaml", env.name)];
    if model.has_proxy() {
        paths.push(format!("proxy/{}", env.name));
    }
    if model.monitoring.enabled {
        paths.push("monitoring".into());
    }
    // The scheduled jobs' crontabs and wrapper, and the backup jobs' scripts and image.
    if !model.jobs.is_empty() || model.backups().next().is_some() {
        paths.push("jobs".into());
    }
    let htpasswd = model.proxy.engine == ProxyEngine::Nginx && model.proxy_basic_auth();
    let compose = format!(
        "--env-file {} -f {}",
        shell_quote(&format!(".env.{}", env.name)),
        shell_quote(&format!("compose.{}.yaml", env.name))
    );
    let script = render_template(
        "ci/deploy-compose.sh",
        DEPLOY_SCRIPT,
        minijinja::context! {
            environment => &env.name,
            htpasswd => htpasswd.then_some(crate::model::HTPASSWD_FILE),
            paths => paths.iter().map(|p| shell_quote(p)).collect::<Vec<_>>().join(" "),
            directory => shell_quote(&model.project.name),
            registry => shell_quote(&model.project.registry),
            compose => compose,
            local_builds => crate::generate::containers::backup::compose_backups(model)
                .iter()
                .map(|(_, b)| shell_quote(&b.job))
                .collect::<Vec<_>>()
                .join(" "),
        },
    );
    let secret = |name: &str| expr(&format!("secrets.{name}"));
    let (registry_user, registry_password) = if uses_github_registry(model) {
        (expr("github.actor"), expr("github.token"))
    } else {
        (
            secret(REGISTRY_SECRETS.username),
            secret(REGISTRY_SECRETS.password),
        )
    };
    let deploy = Step::script(&format!("Deploy to {}", env.name), script)
        .env(DEPLOY_SECRETS.host, secret(DEPLOY_SECRETS.host))
        .env(DEPLOY_SECRETS.user, secret(DEPLOY_SECRETS.user))
        .env(DEPLOY_SECRETS.ssh_key, secret(DEPLOY_SECRETS.ssh_key))
        .env(
            DEPLOY_SECRETS.known_hosts,
            secret(DEPLOY_SECRETS.known_hosts),
        )
        .env("REGISTRY_USERNAME", registry_user)
        .env("REGISTRY_PASSWORD", registry_password);
    deploy_job(
        model,
        env,
        needs,
        registry_permissions(model, Access::Read),
        deploy,
    )
}

/// A deployment job of `env` around its `deploy` step (which gets the commit's image tag as
/// `IMAGE_TAG`): after `needs`, from the main branch only, in the GitHub environment (where
/// production's reviewers approve it), one at a time per environment.
fn deploy_job(
    model: &Model,
    env: &ModelEnvironment,
    needs: Vec<String>,
    permissions: Permissions,
    deploy: Step,
) -> Job {
    let deploy = deploy.env(
        "IMAGE_TAG",
        format!("{IMAGE_TAG_PREFIX}{}", expr("github.sha")),
    );
    Job {
        name: Some(format!("deploy {}", env.name)),
        needs,
        condition: Some(deploy_condition(model, env)),
        runs_on: Some(RUNNER.into()),
        environment: Some(Environment {
            name: env.name.clone(),
            url: Some(environment_url(env)),
        }),
        permissions,
        timeout_minutes: Some(20),
        concurrency: Some(Concurrency {
            group: format!("deploy-{}", env.name),
            cancel_in_progress: Flag::Literal(false),
        }),
        defaults: Some(bash_defaults(None)),
        steps: vec![checkout(model.ci.pin_actions), deploy],
        ..Job::default()
    }
}

/// Applies `env`'s overlay (`kubernetes/overlays/<env>`, relative to the repository root, where
/// the files are rendered) with the environment's kubeconfig.
fn kubernetes_deploy_job(model: &Model, env: &ModelEnvironment, needs: Vec<String>) -> Job {
    let images: Vec<String> = kubernetes::workloads::cluster_images(model, env)
        .into_iter()
        .map(shell_quote)
        .collect();
    let deployments: Vec<String> = kubernetes::workloads::cluster_services(model, env)
        .map(|s| shell_quote(&s.name))
        .collect();
    let namespace = env.kubernetes.as_ref().map_or_else(String::new, |k| {
        format!(" --namespace {}", shell_quote(&k.namespace))
    });
    let script = render_template(
        "ci/deploy-kubernetes.sh",
        KUBERNETES_DEPLOY_SCRIPT,
        minijinja::context! {
            environment => &env.name,
            overlay => shell_quote(&kubernetes::overlay_dir(&env.name)),
            images => images,
            deployments => deployments,
            namespace => namespace,
        },
    );
    let deploy = Step::script(&format!("Deploy to {}", env.name), script).env(
        KUBE_CONFIG_SECRET,
        expr(&format!("secrets.{KUBE_CONFIG_SECRET}")),
    );
    // The cluster pulls the images with its own credentials: the token only reads the
    // repository.
    deploy_job(model, env, needs, Permissions::read_contents(), deploy)
}

fn bash_defaults(directory: Option<&str>) -> Defaults {
    Defaults {
        run: RunDefaults {
            shell: "bash".into(),
            working_directory: directory.map(str::to_string),
        },
    }
}

/// The Vercel CLI steps: link the project, build locally, upload the build.
fn vercel_steps(model: &Model, service: &Service, production: bool) -> Vec<Step> {
    let pinning = model.ci.pin_actions;
    let node_version = if service.runtime == Runtime::Node && !service.version.is_empty() {
        service.version.clone()
    } else {
        DEFAULT_NODE.to_string()
    };
    let (environment, prod) = if production {
        ("production", " --prod")
    } else {
        ("preview", "")
    };
    let cli = format!("npx --yes {VERCEL_CLI}");
    let project = service.vercel_project.clone().unwrap_or_default();
    let with_secrets = |step: Step| {
        step.env(
            "VERCEL_TOKEN",
            expr(&format!("secrets.{}", model.vercel.token_secret)),
        )
        .env(
            "VERCEL_ORG_ID",
            expr(&format!("secrets.{}", model.vercel.org_secret)),
        )
        .env("VERCEL_PROJECT_ID", expr(&format!("secrets.{project}")))
        .env("VERCEL_TELEMETRY_DISABLED", "1")
    };
    vec![
        checkout(pinning),
        Step::action("Set up Node.js", actions::SETUP_NODE.reference(pinning))
            .with("node-version", node_version),
        with_secrets(Step::script(
            "Pull the Vercel project settings",
            format!("{cli} pull --yes --environment={environment} --token=\"$VERCEL_TOKEN\""),
        )),
        with_secrets(Step::script(
            "Build",
            format!("{cli} build{prod} --token=\"$VERCEL_TOKEN\""),
        )),
        with_secrets(Step::script(
            "Deploy",
            format!(
                "url=\"$({cli} deploy --prebuilt{prod} --token=\"$VERCEL_TOKEN\")\"\n\
                 echo \"url=$url\" >> \"$GITHUB_OUTPUT\"\n\
                 echo \"Deployed to $url\" >> \"$GITHUB_STEP_SUMMARY\"\n"
            ),
        ))
        .id("deploy"),
    ]
}

fn vercel_preview_job(model: &Model, service: &Service) -> Job {
    Job {
        name: Some(format!("vercel preview {}", service.name)),
        // Pull requests from forks and from Dependabot get no secrets: they are previewed once
        // a maintainer pushes the branch to the repository.
        condition: Some(
            "github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name == github.repository && github.event.pull_request.user.login != 'dependabot[bot]'"
                .into(),
        ),
        runs_on: Some(RUNNER.into()),
        // Links the preview from the pull request, and scopes the Vercel secrets to a
        // deployment environment.
        environment: Some(Environment {
            name: VERCEL_PREVIEW_ENVIRONMENT.into(),
            url: Some(expr("steps.deploy.outputs.url")),
        }),
        permissions: Permissions::read_contents(),
        timeout_minutes: Some(15),
        concurrency: Some(Concurrency {
            group: format!("vercel-preview-{}-{}", service.name, expr("github.ref")),
            cancel_in_progress: Flag::Literal(true),
        }),
        defaults: Some(bash_defaults(Some(&service.path))),
        steps: vercel_steps(model, service, false),
        ..Job::default()
    }
}

fn vercel_deploy_job(
    model: &Model,
    service: &Service,
    env: &ModelEnvironment,
    needs: Vec<String>,
) -> Job {
    let production = env.tier == Tier::Production;
    Job {
        name: Some(format!("vercel {} {}", env.name, service.name)),
        needs,
        condition: Some(format!(
            "(github.event_name == 'push' || github.event_name == 'workflow_dispatch') && {}",
            on_branch(deploy_branch(model, env))
        )),
        runs_on: Some(RUNNER.into()),
        environment: Some(Environment {
            name: env.name.clone(),
            url: Some(expr("steps.deploy.outputs.url")),
        }),
        permissions: Permissions::read_contents(),
        timeout_minutes: Some(15),
        concurrency: Some(Concurrency {
            group: format!("vercel-{}-{}", env.name, service.name),
            cancel_in_progress: Flag::Literal(false),
        }),
        defaults: Some(bash_defaults(Some(&service.path))),
        steps: vercel_steps(model, service, production),
        ..Job::default()
    }
}
