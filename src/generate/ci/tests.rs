//! Tests of the `ci` generator: its files are parsed back and their structure checked, over
//! every example blueprint.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::actions;
use super::{BLUEPRINT_FILE, annotate, check_command, generate, github_secrets, install_command};
use crate::blueprint::{ActionPinning, Blueprint};
use crate::generate::{CommentStyle, examples};
use crate::model::Model;

fn model_of(name: &str, text: &str) -> Model {
    let bp: Blueprint = serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    Model::from_blueprint(&bp)
}

fn example(name: &str) -> Model {
    model_of(name, &examples::source(name))
}

/// An example without its `ci.staging_branch`: staging then deploys the main branch's commits,
/// before production in the same run.
fn without_staging_branch(name: &str) -> Model {
    let text = examples::source(name).replace("  staging_branch: staging\n", "");
    let model = model_of(name, &text);
    assert!(
        model.ci.staging_branch.is_none(),
        "{name} declares a staging branch"
    );
    model
}

/// Every example blueprint, by name.
fn examples() -> Vec<(String, Model)> {
    examples::all()
        .into_iter()
        .map(|(name, text)| {
            let model = model_of(&name, &text);
            (name, model)
        })
        .collect()
}

/// Rendered files by path.
fn render(model: &Model) -> BTreeMap<String, String> {
    generate(model)
        .into_iter()
        .map(|f| (f.path, f.contents))
        .collect()
}

fn parse(yaml: &str) -> Json {
    serde_saphyr::from_str::<Json>(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// Every workflow, parsed, by path.
fn workflows(model: &Model) -> BTreeMap<String, Json> {
    render(model)
        .into_iter()
        .filter(|(path, _)| path.starts_with(".github/workflows/"))
        .map(|(path, text)| {
            let parsed = parse(&text);
            (path, parsed)
        })
        .collect()
}

fn jobs(workflow: &Json) -> Vec<(&String, &Json)> {
    workflow["jobs"]
        .as_object()
        .expect("jobs is a map")
        .iter()
        .collect()
}

fn steps(job: &Json) -> Vec<&Json> {
    job["steps"]
        .as_array()
        .map(|s| s.iter().collect())
        .unwrap_or_default()
}

fn condition(job: &Json) -> &str {
    job["if"].as_str().unwrap_or("")
}

/// Whether a job of `workflow` can run for a pull request.
fn runs_for_pull_requests(workflow: &Json, job: &Json) -> bool {
    let triggered = workflow["on"].get("pull_request").is_some();
    let cond = condition(job);
    let excluded = cond.contains("github.event_name != 'pull_request'")
        || cond.starts_with(
            "(github.event_name == 'push' || github.event_name == 'workflow_dispatch')",
        );
    triggered && !excluded
}

fn uses_of(step: &Json) -> &str {
    step["uses"].as_str().unwrap_or("")
}

/// The jobs `job` waits for, directly or through the jobs it needs.
fn waits_for<'a>(workflow: &'a Json, job: &'a Json) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut todo: Vec<&Json> = vec![job];
    while let Some(job) = todo.pop() {
        for need in job["needs"].as_array().into_iter().flatten() {
            let need = need.as_str().expect("needs names a job");
            if !out.contains(&need) {
                out.push(need);
                todo.push(&workflow["jobs"][need]);
            }
        }
    }
    out
}

#[test]
fn a_staging_branch_deploys_staging_and_the_main_branch_production() {
    let model = example("data-platform");
    assert_eq!(model.ci.staging_branch.as_deref(), Some("staging"));
    let all = workflows(&model);
    let deploy = &all[".github/workflows/deploy.yml"];
    assert_eq!(
        deploy["on"]["push"]["branches"],
        serde_json::json!(["main", "staging"])
    );
    let either = "(github.ref == 'refs/heads/main' || github.ref == 'refs/heads/staging')";
    // Both branches build and push their commit's images...
    assert_eq!(
        condition(&deploy["jobs"]["images"]),
        format!("github.event_name != 'pull_request' && {either}")
    );
    let push = &all[".github/workflows/images.yml"]["jobs"]["push"];
    assert_eq!(condition(push), either);
    // ...but only the main branch moves `latest`.
    let meta = steps(push)
        .into_iter()
        .find(|s| uses_of(s).starts_with("docker/metadata-action@"))
        .expect("meta");
    assert!(
        meta["with"]["tags"]
            .as_str()
            .unwrap_or_default()
            .lines()
            .any(|l| l == "type=raw,value=latest,enable=${{ github.ref == 'refs/heads/main' }}")
    );
    // Staging takes the staging branch's pushes, production the main branch's, each straight
    // after the images: the staging branch is where a change was proven first.
    for (job, branch, needs) in [
        ("deploy-staging", "staging", "images"),
        ("deploy-prod", "main", "images"),
        ("vercel-staging-docs", "staging", "ci"),
        ("vercel-prod-docs", "main", "ci"),
    ] {
        let job_json = &deploy["jobs"][job];
        assert!(
            condition(job_json).ends_with(&format!("github.ref == 'refs/heads/{branch}'")),
            "{job}: {}",
            condition(job_json)
        );
        assert_eq!(job_json["needs"], serde_json::json!([needs]), "{job}");
    }
}

#[test]
fn deploys_wait_for_ci_and_production_never_deploys_on_a_schedule() {
    for (name, model) in examples() {
        let all = workflows(&model);
        let ci = &all[".github/workflows/ci.yml"];
        let pushed: Vec<&str> = ci["on"]["push"]["branches"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .collect();
        let Some(deploy) = all.get(".github/workflows/deploy.yml") else {
            // Nothing deploys: ci.yml checks the main branch itself.
            assert!(pushed.contains(&model.ci.main_branch.as_str()), "{name}");
            assert!(ci["on"].get("workflow_call").is_none(), "{name}");
            continue;
        };
        // The main branch's checks run inside the deploy run, once, before anything else.
        assert!(ci["on"].get("workflow_call").is_some(), "{name}");
        assert!(
            !pushed.contains(&model.ci.main_branch.as_str()),
            "{name}: {pushed:?}"
        );
        let first = &deploy["jobs"]["ci"];
        assert_eq!(first["uses"], "./.github/workflows/ci.yml", "{name}");
        assert!(!runs_for_pull_requests(deploy, first), "{name}");
        for (id, job) in jobs(deploy) {
            if id == "ci" || id.starts_with("vercel-preview-") {
                continue;
            }
            assert!(
                waits_for(deploy, job).contains(&"ci"),
                "{name}: {id} does not wait for ci"
            );
            let production = job["environment"]["name"]
                .as_str()
                .and_then(|env| model.environments.iter().find(|e| e.name == env))
                .is_some_and(|e| e.tier == crate::blueprint::Tier::Production);
            if production {
                let when = condition(job);
                let never_scheduled = when.starts_with("github.event_name != 'schedule' && ")
                    || when.starts_with(
                        "(github.event_name == 'push' || github.event_name == 'workflow_dispatch') && ",
                    );
                assert!(never_scheduled, "{name}: {id} runs on the schedule: {when}");
            }
        }
        // The staging branch's checks run in deploy.yml too.
        assert!(pushed.is_empty(), "{name}: {pushed:?}");
    }
}

#[test]
fn every_example_renders_its_workflows_and_dependabot() {
    for (name, model) in examples() {
        let files = render(&model);
        for path in [".github/workflows/ci.yml", ".github/dependabot.yml"] {
            assert!(files.contains_key(path), "{name}: {path}");
        }
        for (path, text) in &files {
            assert!(
                text.ends_with('\n') && !text.ends_with("\n\n"),
                "{name}: {path}"
            );
            assert!(!text.contains('\r'), "{name}: {path}");
        }
        for file in generate(&model) {
            let expected = if file.path.ends_with(".json") {
                CommentStyle::None
            } else {
                CommentStyle::Hash
            };
            assert_eq!(file.comment, expected, "{name}: {}", file.path);
            assert!(!file.executable, "{name}: {}", file.path);
        }
    }
    let data_platform = render(&example("data-platform"));
    let paths: BTreeSet<&str> = data_platform.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        BTreeSet::from([
            ".github/dependabot.yml",
            ".github/workflows/ci.yml",
            ".github/workflows/deploy.yml",
            ".github/workflows/images.yml",
            ".github/workflows/security.yml",
            "services/docs/vercel.json",
        ])
    );
}

#[test]
fn rendering_is_deterministic() {
    for (name, model) in examples() {
        assert_eq!(render(&model), render(&model), "{name}");
    }
}

#[test]
fn top_level_permissions_grant_nothing_and_jobs_ask_for_little() {
    for (name, model) in examples() {
        for (path, workflow) in workflows(&model) {
            assert_eq!(
                workflow["permissions"],
                serde_json::json!({}),
                "{name}: {path} top-level permissions"
            );
            for (id, job) in jobs(&workflow) {
                let permissions = job["permissions"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{name}: {path} {id} has a permissions map"));
                for (scope, access) in permissions {
                    let access = access.as_str().unwrap_or_default();
                    assert!(access == "read" || access == "write", "{name}: {path} {id}");
                    if access == "write" {
                        let allowed = match scope.as_str() {
                            "packages" => {
                                path.ends_with("images.yml")
                                    || (path.ends_with("deploy.yml") && id == "images")
                            }
                            // The scans' SARIF: the pushed digest's is uploaded by the
                            // job that pushed it.
                            "security-events" => {
                                path.ends_with("security.yml")
                                    || path.ends_with("images.yml")
                                    || (path.ends_with("deploy.yml") && id == "images")
                            }
                            _ => false,
                        };
                        assert!(allowed, "{name}: {path} {id} writes {scope}");
                    }
                }
            }
            let text = render(&model)[&path].clone();
            assert!(
                !text.contains("write-all") && !text.contains("read-all"),
                "{name}: {path}"
            );
        }
    }
}

#[test]
fn every_job_has_a_timeout() {
    for (name, model) in examples() {
        for (path, workflow) in workflows(&model) {
            for (id, job) in jobs(&workflow) {
                if job.get("uses").is_some() {
                    // A reusable workflow call may not set one; the called jobs do.
                    assert!(job.get("timeout-minutes").is_none(), "{name}: {path} {id}");
                    continue;
                }
                let minutes = job["timeout-minutes"].as_u64().unwrap_or(0);
                assert!(
                    (1..=60).contains(&minutes),
                    "{name}: {path} {id}: timeout {minutes}"
                );
            }
        }
    }
}

#[test]
fn sha_pins_carry_their_release_as_a_comment() {
    let mut seen = BTreeSet::new();
    for (name, model) in examples() {
        assert_eq!(model.ci.pin_actions, ActionPinning::Sha, "{name}");
        for (path, text) in render(&model) {
            for line in text.lines().filter(|l| {
                l.trim_start()
                    .trim_start_matches("- ")
                    .starts_with("uses: ")
            }) {
                let value = line.split("uses: ").nth(1).unwrap_or_default();
                if value.starts_with("./") {
                    continue;
                }
                let (reference, comment) = value
                    .split_once("  # ")
                    .unwrap_or_else(|| panic!("{name}: {path}: no version comment: {line}"));
                let (action, sha) = reference.split_once('@').unwrap_or_default();
                assert!(
                    sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{name}: {path}: {line}"
                );
                let pinned = actions::ALL
                    .iter()
                    .find(|a| a.name == action)
                    .unwrap_or_else(|| panic!("{name}: {path}: {action} is not in the table"));
                assert_eq!(sha, pinned.sha, "{name}: {path}");
                assert_eq!(comment, pinned.version, "{name}: {path}");
                seen.insert(action.to_string());
            }
        }
    }
    // The examples between them use every action of the table.
    let table: BTreeSet<String> = actions::ALL.iter().map(|a| a.name.to_string()).collect();
    assert_eq!(seen, table);
}

#[test]
fn tag_mode_references_tags_without_comments() {
    let mut model = example("data-platform");
    model.ci.pin_actions = ActionPinning::Tag;
    let mut checked = 0;
    for (path, workflow) in workflows(&model) {
        for (_, job) in jobs(&workflow) {
            for step in steps(job) {
                let uses = uses_of(step);
                if uses.is_empty() {
                    continue;
                }
                let (action, reference) = uses.split_once('@').unwrap_or_default();
                let pinned = actions::ALL
                    .iter()
                    .find(|a| a.name == action)
                    .unwrap_or_else(|| panic!("{path}: {uses}"));
                assert_eq!(reference, pinned.tag, "{path}");
                checked += 1;
            }
        }
    }
    assert!(checked > 10);
    for (path, text) in render(&model) {
        assert!(
            !text.contains(" # v"),
            "{path} has a version comment in tag mode"
        );
    }
}

#[test]
fn scripts_never_expand_expressions() {
    for (name, model) in examples() {
        let mut scripts = 0;
        for (path, workflow) in workflows(&model) {
            for (id, job) in jobs(&workflow) {
                for step in steps(job) {
                    if let Some(run) = step["run"].as_str() {
                        assert!(!run.contains("${{"), "{name}: {path} {id}: {run}");
                        scripts += 1;
                    }
                }
            }
        }
        assert!(scripts > 0, "{name}");
    }
    // A blueprint command that happens to contain `${{` is written as text, not evaluated.
    let mut model = example("data-platform");
    model.services[0].test = Some("echo ${{ secrets.TOKEN }}".into());
    let ci = &workflows(&model)[".github/workflows/ci.yml"];
    let test = steps(&ci["jobs"]["test-api"])
        .into_iter()
        .find_map(|s| {
            (s["name"] == "Test").then(|| s["run"].as_str().unwrap_or_default().to_string())
        })
        .expect("a Test step");
    assert_eq!(test, "echo ${{ '${{' }} secrets.TOKEN }}");
}

#[test]
fn checkouts_keep_no_credentials() {
    for (name, model) in examples() {
        for (path, workflow) in workflows(&model) {
            for (id, job) in jobs(&workflow) {
                for step in steps(job) {
                    if uses_of(step).starts_with("actions/checkout@") {
                        assert_eq!(
                            step["with"]["persist-credentials"],
                            Json::Bool(false),
                            "{name}: {path} {id}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn no_dangerous_triggers() {
    for (name, model) in examples() {
        for (path, workflow) in workflows(&model) {
            let on = workflow["on"].as_object().expect("on is a map");
            for trigger in ["pull_request_target", "workflow_run", "issue_comment"] {
                assert!(!on.contains_key(trigger), "{name}: {path}: {trigger}");
            }
            assert!(
                !render(&model)[&path].contains("secrets: inherit"),
                "{name}: {path}"
            );
        }
    }
}

#[test]
fn pull_requests_never_push_images_or_deploy_to_production() {
    for (name, model) in examples() {
        let production: BTreeSet<&str> = model
            .environments
            .iter()
            .filter(|e| e.tier == crate::blueprint::Tier::Production)
            .map(|e| e.name.as_str())
            .collect();
        let mut pr_jobs = 0;
        for (path, workflow) in workflows(&model) {
            for (id, job) in jobs(&workflow) {
                let environment = job["environment"]["name"].as_str().unwrap_or_default();
                if !runs_for_pull_requests(&workflow, job) {
                    if job.get("environment").is_some() && environment != "preview" {
                        // Everything that deploys is limited to a release branch: production
                        // to the main branch, staging to the staging branch where there is one.
                        let staging = model.environments.iter().any(|e| {
                            e.name == environment && e.tier == crate::blueprint::Tier::Staging
                        });
                        let branch = match &model.ci.staging_branch {
                            Some(b) if staging => b,
                            _ => &model.ci.main_branch,
                        };
                        assert!(
                            condition(job)
                                .ends_with(&format!("github.ref == 'refs/heads/{branch}'")),
                            "{name}: {path} {id}: {}",
                            condition(job)
                        );
                    }
                    continue;
                }
                pr_jobs += 1;
                assert!(
                    job.get("uses").is_none(),
                    "{name}: {path} {id} calls a workflow"
                );
                assert!(!production.contains(environment), "{name}: {path} {id}");
                for step in steps(job) {
                    let uses = uses_of(step);
                    assert!(
                        !uses.starts_with("docker/login-action@"),
                        "{name}: {path} {id}"
                    );
                    if uses.starts_with("docker/build-push-action@") {
                        assert_eq!(
                            step["with"]["push"],
                            Json::Bool(false),
                            "{name}: {path} {id}"
                        );
                    }
                    let run = step["run"].as_str().unwrap_or_default();
                    assert!(!run.contains("--prod"), "{name}: {path} {id}");
                    assert!(!run.contains("ssh "), "{name}: {path} {id}");
                }
            }
        }
        assert!(pr_jobs > 0, "{name}: pull requests are checked");
    }
}

#[test]
fn production_deploys_wait_in_the_prod_environment_and_follow_staging() {
    let model = without_staging_branch("data-platform");
    let deploy = &workflows(&model)[".github/workflows/deploy.yml"];
    let prod = &deploy["jobs"]["deploy-prod"];
    assert_eq!(prod["environment"]["name"], "prod");
    assert_eq!(prod["environment"]["url"], "https://data.acme.example");
    assert_eq!(
        condition(prod),
        "github.event_name != 'schedule' && github.event_name != 'pull_request' && github.ref == 'refs/heads/main'"
    );
    assert_eq!(prod["needs"], serde_json::json!(["deploy-staging"]));
    let staging = &deploy["jobs"]["deploy-staging"];
    assert_eq!(staging["environment"]["name"], "staging");
    assert_eq!(staging["needs"], serde_json::json!(["images"]));
    assert_eq!(
        deploy["jobs"]["images"]["uses"],
        "./.github/workflows/images.yml"
    );
    assert_eq!(
        deploy["on"]["push"]["branches"],
        serde_json::json!(["main"])
    );
    assert_eq!(
        deploy["on"]["schedule"][0]["cron"],
        model.ci.security_scan.as_str()
    );
    let vercel_prod = &deploy["jobs"]["vercel-prod-docs"];
    assert_eq!(vercel_prod["environment"]["name"], "prod");
    assert_eq!(
        vercel_prod["needs"],
        serde_json::json!(["vercel-staging-docs"])
    );

    // Without a staging environment production follows the images directly.
    let task_queue = workflows(&example("task-queue"));
    let prod = &task_queue[".github/workflows/deploy.yml"]["jobs"]["deploy-prod"];
    assert_eq!(prod["needs"], serde_json::json!(["images"]));
    assert!(
        task_queue[".github/workflows/deploy.yml"]["jobs"]
            .get("deploy-dev")
            .is_none()
    );

    // The main branch comes from the blueprint.
    let mut model = example("data-platform");
    model.ci.main_branch = "trunk".into();
    let deploy = &workflows(&model)[".github/workflows/deploy.yml"];
    assert_eq!(
        deploy["on"]["push"]["branches"],
        serde_json::json!(["trunk", "staging"])
    );
    assert!(
        condition(&deploy["jobs"]["deploy-prod"]).ends_with("github.ref == 'refs/heads/trunk'")
    );
}

#[test]
fn the_compose_deployment_ships_the_stack_and_pulls_the_commit_images() {
    let model = example("data-platform");
    let deploy = &workflows(&model)[".github/workflows/deploy.yml"];
    let step = steps(&deploy["jobs"]["deploy-staging"])
        .into_iter()
        .find(|s| s.get("run").is_some())
        .expect("a deploy script");
    let run = step["run"].as_str().unwrap_or_default();
    assert!(
        run.contains("tar -czf - compose.staging.yaml proxy/staging monitoring jobs |"),
        "{run}"
    );
    assert!(
        run.contains("docker compose --env-file .env.staging -f compose.staging.yaml pull"),
        "{run}"
    );
    assert!(
        run.contains("up --detach --no-build --remove-orphans --wait"),
        "{run}"
    );
    // `up --no-build` never builds, not even a `pull_policy: build` image: the backup job's
    // image, built on the host from its shipped context, is built first.
    let build = run
        .find("compose.staging.yaml build --pull db-backup")
        .unwrap_or_else(|| panic!("the backup image is built on the host: {run}"));
    assert!(build < run.find("up --detach").expect("up"), "{run}");
    assert!(run.contains("StrictHostKeyChecking=yes"), "{run}");
    assert!(run.contains("export TAG=$IMAGE_TAG"), "{run}");
    let env = &step["env"];
    assert_eq!(env["IMAGE_TAG"], "sha-${{ github.sha }}");
    for secret in [
        "DEPLOY_HOST",
        "DEPLOY_USER",
        "DEPLOY_SSH_KEY",
        "DEPLOY_KNOWN_HOSTS",
    ] {
        assert_eq!(env[secret], format!("${{{{ secrets.{secret} }}}}"));
    }
    assert_eq!(env["REGISTRY_PASSWORD"], "${{ github.token }}");

    // Caddy has no htpasswd file, no monitoring means no monitoring directory.
    let mut model = example("task-queue");
    model.monitoring.enabled = false;
    let deploy = &workflows(&model)[".github/workflows/deploy.yml"];
    let run = steps(&deploy["jobs"]["deploy-prod"])
        .into_iter()
        .find_map(|s| s["run"].as_str().map(str::to_string))
        .expect("a deploy script");
    assert!(
        run.contains("tar -czf - compose.prod.yaml proxy/prod jobs |"),
        "{run}"
    );
    assert!(!run.contains("htpasswd"), "{run}");
}

/// The one `run:` script of a job.
fn script_of(job: &Json) -> String {
    steps(job)
        .into_iter()
        .find_map(|s| s["run"].as_str().map(str::to_string))
        .expect("a deploy script")
}

#[test]
fn kubernetes_environments_deploy_after_the_images_and_production_waits_for_approval() {
    let model = without_staging_branch("data-cluster");
    let deploy = &workflows(&model)[".github/workflows/deploy.yml"];
    let on_main = "github.event_name != 'pull_request' && github.ref == 'refs/heads/main'";

    // Staging follows the pushed images, automatically.
    let staging = &deploy["jobs"]["deploy-staging"];
    assert_eq!(staging["needs"], serde_json::json!(["images"]));
    assert_eq!(condition(staging), on_main);
    assert_eq!(staging["environment"]["name"], "staging");

    // Production runs only on the main branch, after staging, in the `prod` environment where
    // its required reviewers approve it.
    let prod = &deploy["jobs"]["deploy-prod"];
    assert_eq!(prod["needs"], serde_json::json!(["deploy-staging"]));
    assert_eq!(
        condition(prod),
        format!("github.event_name != 'schedule' && {on_main}")
    );
    assert!(!runs_for_pull_requests(deploy, prod));
    assert_eq!(prod["environment"]["name"], "prod");
    assert_eq!(prod["environment"]["url"], "https://data.acme.example");
    assert_eq!(prod["permissions"], serde_json::json!({"contents": "read"}));
    assert_eq!(prod["concurrency"]["group"], "deploy-prod");
    assert_eq!(prod["concurrency"]["cancel-in-progress"], false);
    assert!(
        deploy["jobs"].get("deploy-dev").is_none(),
        "dev is Compose, run by hand"
    );
    assert_eq!(
        deploy["jobs"]["images"]["uses"],
        "./.github/workflows/images.yml"
    );

    // The secret and the commit's tag arrive through env:, never expanded in the script.
    let step = steps(prod)
        .into_iter()
        .find(|s| s.get("run").is_some())
        .expect("a deploy step");
    assert_eq!(step["env"]["KUBE_CONFIG"], "${{ secrets.KUBE_CONFIG }}");
    assert_eq!(step["env"]["IMAGE_TAG"], "sha-${{ github.sha }}");
    let run = script_of(prod);
    assert!(!run.contains("${{"), "{run}");
    for expected in [
        "export KUBECONFIG=\"$RUNNER_TEMP/kubeconfig\"",
        "base64 --decode > \"$KUBECONFIG\"",
        "chmod 600 \"$KUBECONFIG\"",
        "trap 'rm -f \"$KUBECONFIG\"' EXIT",
        "(cd kubernetes/overlays/prod && kustomize edit set image \
         ghcr.io/acme/data-cluster-api=ghcr.io/acme/data-cluster-api:\"$IMAGE_TAG\" \
         ghcr.io/acme/data-cluster-dashboard=ghcr.io/acme/data-cluster-dashboard:\"$IMAGE_TAG\" \
         ghcr.io/acme/data-cluster-db-backup=ghcr.io/acme/data-cluster-db-backup:\"$IMAGE_TAG\")",
        "kubectl apply --server-side --field-manager=blueprint --force-conflicts -k kubernetes/overlays/prod\n",
        "kubectl rollout status deployment/api --namespace data --timeout=300s\n",
        "kubectl rollout status deployment/dashboard --namespace data --timeout=300s\n",
    ] {
        assert!(run.contains(expected), "{expected}\n---\n{run}");
    }
    // Staging's namespace is its own.
    assert!(
        script_of(staging).contains("deployment/api --namespace data-cluster-staging "),
        "{}",
        script_of(staging)
    );

    // The images workflow is called by the deployment rather than run on its own.
    let images = &workflows(&model)[".github/workflows/images.yml"];
    assert!(images["on"].get("workflow_call").is_some());
    assert!(images["on"].get("push").is_none());
}

#[test]
fn a_development_cluster_is_not_deployed_and_needs_no_kubeconfig() {
    let mut model = example("data-cluster");
    for env in &mut model.environments {
        env.tier = crate::blueprint::Tier::Development;
    }
    assert!(model.deployed_clusters().next().is_none());
    assert!(!github_secrets(&model).contains_key("KUBE_CONFIG"));
    assert!(!model.secrets().contains_key("KUBE_CONFIG"));
}

#[test]
fn images_are_pushed_by_commit_and_latest_only_from_the_main_branch() {
    let model = without_staging_branch("data-platform");
    let images = &workflows(&model)[".github/workflows/images.yml"];
    let on = images["on"].as_object().expect("on");
    assert!(on.contains_key("workflow_call") && !on.contains_key("push"));
    assert!(!on.contains_key("pull_request"));
    let push = &images["jobs"]["push"];
    assert_eq!(condition(push), "github.ref == 'refs/heads/main'");
    let services: Vec<&str> = push["strategy"]["matrix"]["include"]
        .as_array()
        .expect("matrix")
        .iter()
        .map(|e| e["service"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        services,
        ["api", "dashboard"],
        "docs is on Vercel, not an image"
    );
    let image = push["strategy"]["matrix"]["include"][0]["image"].as_str();
    assert_eq!(image, Some(model.services[0].image.as_str()));
    let all = steps(push);
    let meta = all
        .iter()
        .find(|s| uses_of(s).starts_with("docker/metadata-action@"))
        .expect("meta");
    let tags = meta["with"]["tags"].as_str().unwrap_or_default();
    assert!(
        tags.lines()
            .any(|l| l == "type=sha,format=long,prefix=sha-"),
        "{tags}"
    );
    assert!(tags.lines().any(|l| l == "type=raw,value=latest"), "{tags}");
    let build = all
        .iter()
        .find(|s| uses_of(s).starts_with("docker/build-push-action@"))
        .expect("build");
    assert_eq!(build["with"]["push"], Json::Bool(true));
    assert_eq!(build["with"]["provenance"], "mode=max");
    assert!(build["with"].get("cache-from").is_none());
    // The digest just pushed is scanned, and a finding fails the job (and every deploy that
    // needs it); its findings are uploaded even then.
    let at = |name: &str| all.iter().position(|s| s["name"] == name).expect(name);
    let gate = &all[at("Scan the pushed image")];
    assert!(at("Scan the pushed image") > at("Build and push"));
    assert_eq!(
        gate["with"]["image-ref"],
        format!(
            "${{{{ matrix.image }}}}@${{{{ steps.{}.outputs.digest }}}}",
            build["id"].as_str().expect("build id")
        )
    );
    assert_eq!(gate["with"]["exit-code"], "1");
    assert_eq!(gate["with"]["severity"], "CRITICAL,HIGH");
    let upload = &all[at("Upload to code scanning")];
    assert!(at("Upload to code scanning") > at("Scan the pushed image"));
    assert_eq!(condition(upload), "!cancelled()");
    assert_eq!(upload["with"]["sarif_file"], gate["with"]["output"]);
    assert_eq!(push["permissions"]["security-events"], "write");
    let login = all
        .iter()
        .find(|s| uses_of(s).starts_with("docker/login-action@"))
        .expect("login");
    assert_eq!(login["with"]["registry"], "ghcr.io");
    assert_eq!(login["with"]["password"], "${{ secrets.GITHUB_TOKEN }}");

    // With nothing to deploy, images.yml runs by itself on the main branch.
    let minimal = workflows(&example("minimal"));
    let on = &minimal[".github/workflows/images.yml"]["on"];
    assert_eq!(on["push"]["branches"], serde_json::json!(["main"]));
    assert!(on.get("workflow_call").is_none());
    assert!(!minimal.contains_key(".github/workflows/deploy.yml"));
}

#[test]
fn another_registry_uses_named_secrets_passed_explicitly() {
    let mut model = example("data-platform");
    model.project.registry = "registry.acme.example".into();
    let all = workflows(&model);
    let images = &all[".github/workflows/images.yml"];
    assert_eq!(
        images["on"]["workflow_call"]["secrets"]["REGISTRY_PASSWORD"]["required"],
        Json::Bool(true)
    );
    assert!(
        images["jobs"]["push"]["permissions"]
            .get("packages")
            .is_none()
    );
    let login = steps(&images["jobs"]["push"])
        .into_iter()
        .find(|s| uses_of(s).starts_with("docker/login-action@"))
        .expect("login");
    assert_eq!(
        login["with"]["username"],
        "${{ secrets.REGISTRY_USERNAME }}"
    );
    let caller = &all[".github/workflows/deploy.yml"]["jobs"]["images"];
    assert_eq!(
        caller["secrets"]["REGISTRY_USERNAME"],
        "${{ secrets.REGISTRY_USERNAME }}"
    );
}

#[test]
fn ci_lints_tests_builds_and_checks_drift() {
    let model = example("data-platform");
    let ci = &workflows(&model)[".github/workflows/ci.yml"];
    // main's and staging's checks run in deploy.yml, before its deploys.
    assert!(ci["on"].get("push").is_none());
    assert!(ci["on"].get("pull_request").is_some());
    assert_eq!(ci["concurrency"]["group"], "ci-${{ github.ref }}");
    assert_eq!(
        ci["concurrency"]["cancel-in-progress"],
        "${{ github.event_name == 'pull_request' }}"
    );
    let ids: Vec<&str> = jobs(ci).into_iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["test-api", "test-dashboard", "build", "drift"],
        "docs declares no checks"
    );

    let api = &ci["jobs"]["test-api"];
    assert_eq!(api["defaults"]["run"]["working-directory"], "services/api");
    let api_steps = steps(api);
    let python = api_steps
        .iter()
        .find(|s| uses_of(s).starts_with("actions/setup-python@"))
        .expect("setup-python");
    assert_eq!(python["with"]["python-version"], "3.12");
    assert_eq!(python["with"]["cache"], "pip");
    assert_eq!(
        python["with"]["cache-dependency-path"],
        "services/api/requirements*.txt"
    );
    let runs: Vec<&str> = api_steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(
        runs.contains(&"ruff check .") && runs.contains(&"pytest"),
        "{runs:?}"
    );

    let build = &ci["jobs"]["build"];
    let builder = steps(build)
        .into_iter()
        .find(|s| uses_of(s).starts_with("docker/build-push-action@"))
        .expect("build");
    assert_eq!(builder["with"]["push"], Json::Bool(false));
    assert_eq!(
        builder["with"]["cache-from"],
        "type=gha,scope=${{ matrix.service }}"
    );
    assert_eq!(
        builder["with"]["cache-to"],
        "type=gha,mode=max,scope=${{ matrix.service }}"
    );
    assert_eq!(
        build["strategy"]["matrix"]["include"][1]["dockerfile"],
        "services/dashboard/Dockerfile"
    );

    let drift: Vec<String> = steps(&ci["jobs"]["drift"])
        .into_iter()
        .filter_map(|s| s["run"].as_str().map(str::to_string))
        .collect();
    assert_eq!(drift, [install_command(), check_command()]);
    assert_eq!(check_command(), format!("blueprint check {BLUEPRINT_FILE}"));
    assert!(install_command().contains(&format!("--tag v{}", env!("CARGO_PKG_VERSION"))));

    // Node services set up Node with the npm cache; a service with only tests has no Lint step.
    let task_queue = workflows(&example("task-queue"));
    let ci = &task_queue[".github/workflows/ci.yml"];
    let web = steps(&ci["jobs"]["test-web"]);
    let node = web
        .iter()
        .find(|s| uses_of(s).starts_with("actions/setup-node@"))
        .expect("setup-node");
    assert_eq!(node["with"]["node-version"], "22");
    assert_eq!(node["with"]["cache"], "npm");
    assert_eq!(
        node["with"]["cache-dependency-path"],
        "web/package-lock.json"
    );
    assert!(web.iter().any(|s| s["run"] == "npm ci"));
    let worker: Vec<&Json> = steps(&ci["jobs"]["test-worker"]);
    assert!(worker.iter().all(|s| s["name"] != "Lint"));
    assert!(worker.iter().any(|s| s["run"] == "pytest -q"));
    // No staging branch, and main's checks run in deploy.yml: no push trigger at all.
    assert!(ci["on"].get("push").is_none());
    assert!(ci["on"].get("workflow_call").is_some());
}

#[test]
fn vercel_previews_pull_requests_and_deploys_production_from_main() {
    let model = example("data-platform");
    let deploy = &workflows(&model)[".github/workflows/deploy.yml"];
    let preview = &deploy["jobs"]["vercel-preview-docs"];
    assert!(condition(preview).starts_with("github.event_name == 'pull_request'"));
    assert_eq!(preview["environment"]["name"], "preview");
    assert_eq!(
        preview["defaults"]["run"]["working-directory"],
        "services/docs"
    );
    let runs: Vec<&str> = steps(preview)
        .into_iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    assert!(
        runs[0].contains("pull --yes --environment=preview"),
        "{runs:?}"
    );
    assert!(runs.iter().all(|r| !r.contains("--prod")), "{runs:?}");
    let prod = &deploy["jobs"]["vercel-prod-docs"];
    let prod_steps = steps(prod);
    let runs: Vec<&str> = prod_steps
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    assert!(runs[0].contains("--environment=production"), "{runs:?}");
    assert!(runs[2].contains("deploy --prebuilt --prod"), "{runs:?}");
    for step in prod_steps.iter().filter(|s| s.get("run").is_some()) {
        assert_eq!(step["env"]["VERCEL_TOKEN"], "${{ secrets.VERCEL_TOKEN }}");
        assert_eq!(step["env"]["VERCEL_ORG_ID"], "${{ secrets.VERCEL_ORG_ID }}");
        assert_eq!(
            step["env"]["VERCEL_PROJECT_ID"],
            "${{ secrets.VERCEL_PROJECT_ID_DOCS }}"
        );
        assert!(
            step["run"]
                .as_str()
                .unwrap_or_default()
                .contains("npx --yes vercel@")
        );
    }

    // A Vercel-only project has no container jobs, schedule or images.
    let site = workflows(&example("static-site"));
    let deploy = &site[".github/workflows/deploy.yml"];
    let ids: Vec<&str> = jobs(deploy)
        .into_iter()
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(ids, ["ci", "vercel-preview-site", "vercel-prod-site"]);
    assert!(deploy["on"].get("schedule").is_none());
    assert!(!site.contains_key(".github/workflows/images.yml"));
    assert!(!site.contains_key(".github/workflows/security.yml"));
}

#[test]
fn vercel_json_has_security_headers_and_rewrites_to_the_api() {
    let model = example("data-platform");
    let files = render(&model);
    let config: Json = serde_json::from_str(&files["services/docs/vercel.json"]).expect("json");
    assert_eq!(config["$schema"], "https://openapi.vercel.sh/vercel.json");
    assert_eq!(config["framework"], Json::Null);
    assert_eq!(config["outputDirectory"], ".");
    assert_eq!(config["cleanUrls"], Json::Bool(true));
    let headers: BTreeMap<&str, &str> = config["headers"][0]["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|h| {
            (
                h["key"].as_str().unwrap_or_default(),
                h["value"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(headers["X-Content-Type-Options"], "nosniff");
    assert_eq!(
        headers["Content-Security-Policy"],
        model.proxy.content_security_policy
    );
    assert_eq!(config["headers"][0]["source"], "/(.*)");
    let rewrites: BTreeMap<&str, &str> = config["rewrites"]
        .as_array()
        .expect("rewrites")
        .iter()
        .map(|r| {
            (
                r["source"].as_str().unwrap_or_default(),
                r["destination"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        rewrites["/api/:path*"],
        "https://data.acme.example/api/:path*"
    );
    // The dashboard is a websocket UI, not an API.
    assert!(!rewrites.contains_key("/dashboard/:path*"), "{rewrites:?}");

    // Nothing to rewrite to on a Vercel-only project.
    let site = render(&example("static-site"));
    let config: Json = serde_json::from_str(&site["site/vercel.json"]).expect("json");
    assert!(config.get("rewrites").is_none());
}

#[test]
fn security_scans_dockerfiles_and_images_into_code_scanning() {
    let model = example("task-queue");
    let security = &workflows(&model)[".github/workflows/security.yml"];
    assert_eq!(
        security["on"]["schedule"][0]["cron"],
        model.ci.security_scan.as_str()
    );
    let paths: Vec<&str> = security["on"]["pull_request"]["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter_map(Json::as_str)
        .collect();
    // Everything an image is built from, requirements and lockfiles included.
    for context in ["api/**", "worker/**", "web/**"] {
        assert!(paths.contains(&context), "{paths:?}");
    }
    let config = steps(&security["jobs"]["config"]);
    let trivy = config
        .iter()
        .find(|s| uses_of(s).starts_with("aquasecurity/trivy-action@"))
        .expect("trivy");
    assert_eq!(trivy["with"]["scan-type"], "config");
    assert_eq!(trivy["with"]["format"], "sarif");
    let image = steps(&security["jobs"]["image"]);
    let build = image
        .iter()
        .find(|s| uses_of(s).starts_with("docker/build-push-action@"))
        .expect("build");
    assert_eq!(build["with"]["push"], Json::Bool(false));
    assert_eq!(build["with"]["load"], Json::Bool(true));
    let scan = image
        .iter()
        .find(|s| uses_of(s).starts_with("aquasecurity/trivy-action@"))
        .expect("scan");
    assert_eq!(scan["with"]["scan-type"], "image");
    assert_eq!(scan["with"]["image-ref"], build["with"]["tags"]);
    assert_eq!(scan["with"]["exit-code"], "1", "the scan gates");
    assert_eq!(scan["with"]["severity"], "CRITICAL,HIGH");
    for job in ["config", "image"] {
        assert_eq!(
            security["jobs"][job]["permissions"]["security-events"],
            "write"
        );
        let upload = steps(&security["jobs"][job])
            .into_iter()
            .find(|s| uses_of(s).starts_with("github/codeql-action/upload-sarif@"))
            .expect("upload");
        assert!(condition(upload).contains("head.repo.full_name == github.repository"));
    }
    let image_upload = steps(&security["jobs"]["image"])
        .into_iter()
        .find(|s| uses_of(s).starts_with("github/codeql-action/upload-sarif@"))
        .expect("upload");
    assert!(condition(image_upload).starts_with("!cancelled() && ("));

    // The blueprint sets the threshold, for both scans.
    let text = examples::source("task-queue").replace("ci:\n", "ci:\n  scan_fails_on: critical\n");
    let strict = model_of("task-queue", &text);
    assert_eq!(strict.ci.scan_severities, "CRITICAL");
    let all = workflows(&strict);
    for (file, job) in [("security.yml", "image"), ("images.yml", "push")] {
        let scans: Vec<Json> = steps(&all[&format!(".github/workflows/{file}")]["jobs"][job])
            .into_iter()
            .filter(|s| uses_of(s).starts_with("aquasecurity/trivy-action@"))
            .cloned()
            .collect();
        assert_eq!(scans.len(), 1, "{file}");
        assert_eq!(scans[0]["with"]["severity"], "CRITICAL", "{file}");
    }
}

#[test]
fn dependabot_has_one_grouped_entry_per_ecosystem_and_directory() {
    let entries = |model: &Model| -> Vec<Json> {
        let text = &render(model)[".github/dependabot.yml"];
        let config = parse(text);
        assert_eq!(config["version"], 2);
        config["updates"].as_array().expect("updates").clone()
    };
    let keys = |updates: &[Json]| -> Vec<(String, String)> {
        updates
            .iter()
            .map(|u| {
                (
                    u["package-ecosystem"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    u["directory"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };

    let model = example("data-platform");
    let updates = entries(&model);
    let expected: Vec<(String, String)> = [
        ("docker", "/services/api"),
        ("docker", "/services/dashboard"),
        ("github-actions", "/"),
        ("pip", "/services/api"),
        ("pip", "/services/dashboard"),
    ]
    .iter()
    .map(|(e, d)| (e.to_string(), d.to_string()))
    .collect();
    assert_eq!(keys(&updates), expected);
    for update in &updates {
        assert_eq!(update["schedule"]["interval"], "weekly");
        assert_eq!(update["target-branch"], "staging");
        assert_eq!(update["cooldown"]["default-days"], 7);
        assert!(
            update["open-pull-requests-limit"]
                .as_u64()
                .is_some_and(|n| n > 0)
        );
        let groups = update["groups"].as_object().expect("groups");
        assert_eq!(groups.len(), 1);
        assert!(
            groups
                .values()
                .all(|g| g["patterns"] == serde_json::json!(["*"]))
        );
    }

    let model = example("task-queue");
    let updates = entries(&model);
    let ecosystems: BTreeSet<(String, String)> = keys(&updates).into_iter().collect();
    for key in [
        ("npm", "/web"),
        ("pip", "/worker"),
        ("docker", "/worker"),
        ("github-actions", "/"),
    ] {
        assert!(
            ecosystems.contains(&(key.0.to_string(), key.1.to_string())),
            "{key:?}"
        );
    }
    assert_eq!(ecosystems.len(), updates.len(), "no duplicate entries");
    assert!(updates.iter().all(|u| u["schedule"]["interval"] == "daily"));
    assert!(updates.iter().all(|u| u.get("target-branch").is_none()));

    // A service at the repository root is `/`; no cooldown when it is zero.
    let mut model = example("minimal");
    model.ci.update_cooldown_days = 0;
    let updates = entries(&model);
    assert_eq!(
        keys(&updates),
        [
            ("docker".to_string(), "/".to_string()),
            ("github-actions".to_string(), "/".to_string()),
            ("pip".to_string(), "/".to_string())
        ]
    );
    assert!(updates.iter().all(|u| u.get("cooldown").is_none()));
}

#[test]
fn a_project_without_services_still_gets_ci_and_dependabot() {
    let mut model = example("minimal");
    model.services.clear();
    model.jobs.clear();
    let files = render(&model);
    let paths: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [".github/dependabot.yml", ".github/workflows/ci.yml"]
    );
    let ci = parse(&files[".github/workflows/ci.yml"]);
    let ids: Vec<&str> = jobs(&ci).into_iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["drift"]);
}

#[test]
fn annotate_comments_exact_lines_only() {
    let checkout = actions::CHECKOUT.reference(ActionPinning::Sha);
    let yaml = format!(
        "steps:\n- uses: {checkout}\n- name: x\n  run: |\n    uses: {checkout}\n    packages: write\n  uses: {checkout}-not\npermissions:\n  packages: write\n  contents: read\n"
    );
    let out = annotate(&yaml, ActionPinning::Sha);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1],
        format!("- uses: {checkout}  # {}", actions::CHECKOUT.version)
    );
    assert_eq!(
        lines[4],
        format!("    uses: {checkout}"),
        "script text is not a key"
    );
    assert_eq!(lines[5], "    packages: write", "script text is not a key");
    assert_eq!(lines[6], format!("  uses: {checkout}-not"));
    assert_eq!(lines[8], "  packages: write  # push images to the registry");
    assert_eq!(lines[9], "  contents: read");
    // Tag mode writes no version comments.
    let out = annotate(&yaml, ActionPinning::Tag);
    assert!(!out.contains(" # v"));
}

#[test]
fn github_secrets_lists_every_secret_the_workflows_read() {
    for (name, model) in examples() {
        let secrets = github_secrets(&model);
        let mut read: BTreeSet<String> = BTreeSet::new();
        for (_, text) in render(&model) {
            let mut rest = text.as_str();
            while let Some(start) = rest.find("secrets.") {
                let tail = &rest[start + "secrets.".len()..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                read.insert(tail[..end].to_string());
                rest = &tail[end..];
            }
        }
        read.remove("GITHUB_TOKEN");
        let listed: BTreeSet<String> = secrets.keys().cloned().collect();
        assert_eq!(listed, read, "{name}");
    }
    let secrets = github_secrets(&example("data-platform"));
    assert_eq!(
        secrets["DEPLOY_SSH_KEY"],
        BTreeSet::from(["prod".to_string(), "staging".to_string()])
    );
    assert!(secrets["VERCEL_TOKEN"].is_empty(), "a repository secret");

    // Each deployed Kubernetes environment has its own kubeconfig, listed by `blueprint secrets`
    // (Model::secrets) as a GitHub environment secret too.
    let model = example("data-cluster");
    let clusters = BTreeSet::from(["prod".to_string(), "staging".to_string()]);
    assert_eq!(github_secrets(&model)["KUBE_CONFIG"], clusters);
    let listed = &model.secrets()["KUBE_CONFIG"];
    assert_eq!(listed.home, crate::model::SecretHome::GitHub);
    assert_eq!(listed.environments, clusters);
    assert!(!github_secrets(&example("data-platform")).contains_key("KUBE_CONFIG"));
}
