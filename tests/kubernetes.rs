//! The Kubernetes target seen from outside: adding a Kubernetes environment leaves every Compose
//! file as it was, and every workload in every overlay is probed, bounded and confined.

use std::collections::BTreeMap;

use blueprint::model::Model;
use blueprint::validate::validate_source;

mod common;
use common::blueprint;

/// Renders blueprint text in memory: path -> contents.
fn render(source: &str) -> BTreeMap<String, String> {
    let blueprint = validate_source("blueprint.yaml", source).unwrap_or_else(|diagnostics| {
        panic!("the blueprint is valid: {diagnostics:#?}");
    });
    let model = Model::from_blueprint(&blueprint);
    blueprint::generate::all(&model)
        .into_iter()
        .map(|f| (f.path, f.contents))
        .collect()
}

fn example(name: &str) -> String {
    std::fs::read_to_string(common::example(name)).expect("the example exists")
}

/// The reference blueprint with one more environment, on Kubernetes.
fn with_cluster_environment(source: &str) -> String {
    let marker = "\nenvironments:\n";
    let at = source.find(marker).expect("the example lists environments") + marker.len();
    let cluster = "  cluster:\n    domain: cluster.data.acme.example\n    platform: kubernetes\n    stores:\n      db: supabase\n      lake: managed\n";
    format!("{}{cluster}{}", &source[..at], &source[at..])
}

#[test]
fn adding_a_kubernetes_environment_changes_no_compose_file() {
    let compose_only = render(&example("data-platform"));
    let with_cluster = render(&with_cluster_environment(&example("data-platform")));

    // The deploy workflow gains the cluster's job, and the docs (which describe every
    // environment) its diagram and commands. The backup job's image, which the cluster pulls,
    // is now built, scanned and pushed by CI (and its Dockerfile says so); everything else
    // stays byte for byte.
    let allowed_to_change = [
        ".github/workflows/deploy.yml",
        ".github/workflows/ci.yml",
        ".github/workflows/images.yml",
        ".github/workflows/security.yml",
        "jobs/db-backup/Dockerfile",
    ];
    let mut compared = 0;
    for (path, contents) in &compose_only {
        if allowed_to_change.contains(&path.as_str()) || path.starts_with("docs/") {
            continue;
        }
        let after = with_cluster
            .get(path)
            .unwrap_or_else(|| panic!("{path} is no longer rendered"));
        assert_eq!(
            after, contents,
            "{path} changed when a Kubernetes environment was added"
        );
        compared += 1;
    }
    assert!(compared > 30, "only {compared} files compared");

    let added: Vec<&String> = with_cluster
        .keys()
        .filter(|p| !compose_only.contains_key(*p))
        .collect();
    assert!(
        !added.is_empty(),
        "the cluster environment rendered nothing"
    );
    for path in &added {
        assert!(
            path.starts_with("kubernetes/"),
            "{path} is new but not a Kubernetes manifest"
        );
    }
    for compose_file in ["compose.cluster.yaml", "proxy/cluster/nginx.conf"] {
        assert!(!with_cluster.contains_key(compose_file), "{compose_file}");
    }
    assert!(with_cluster.contains_key("kubernetes/overlays/cluster/kustomization.yaml"));
}

/// Every object of every manifest under `kubernetes/`, parsed.
fn objects(files: &BTreeMap<String, String>) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for (path, contents) in files {
        if !path.starts_with("kubernetes/") || path.ends_with("kustomization.yaml") {
            continue;
        }
        for document in contents.split("\n---\n") {
            let value: serde_json::Value =
                serde_saphyr::from_str(document).unwrap_or_else(|e| panic!("{path} is YAML: {e}"));
            out.push((path.clone(), value));
        }
    }
    out
}

fn kind_of(object: &serde_json::Value) -> &str {
    object["kind"].as_str().unwrap_or_default()
}

#[test]
fn every_workload_is_probed_bounded_and_confined() {
    let source = example("data-cluster");
    let files = render(&source);
    let model = Model::from_blueprint(&validate_source("data-cluster.yaml", &source).unwrap());
    let all = objects(&files);

    let deployments: Vec<&serde_json::Value> = all
        .iter()
        .filter(|(p, o)| p.contains("/base/") && kind_of(o) == "Deployment")
        .map(|(_, o)| o)
        .collect();
    let in_cluster: Vec<&str> = model
        .services
        .iter()
        .filter(|s| s.on_kubernetes("staging"))
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        deployments.len(),
        in_cluster.len(),
        "a Deployment per service"
    );
    assert!(!in_cluster.is_empty());

    let pod_specs = all.iter().filter_map(|(path, o)| match kind_of(o) {
        "Deployment" | "StatefulSet" if !path.contains("/patches/") => {
            Some((path, &o["spec"]["template"]["spec"]))
        }
        "CronJob" if !path.contains("/patches/") => {
            Some((path, &o["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
        }
        _ => None,
    });
    let mut checked = 0;
    for (path, pod) in pod_specs {
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{path}");
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{path}"
        );
        assert_eq!(pod["automountServiceAccountToken"], false, "{path}");
        for container in pod["containers"].as_array().expect("containers") {
            let security = &container["securityContext"];
            assert_eq!(security["allowPrivilegeEscalation"], false, "{path}");
            assert_eq!(security["capabilities"]["drop"][0], "ALL", "{path}");
            let resources = &container["resources"];
            assert!(
                resources["requests"]["cpu"].is_string(),
                "{path}: cpu request"
            );
            assert!(
                resources["requests"]["memory"].is_string(),
                "{path}: memory"
            );
            assert!(
                resources["limits"]["memory"].is_string(),
                "{path}: memory limit"
            );
        }
        checked += 1;
    }
    assert!(checked >= deployments.len() + model.jobs.len(), "{checked}");

    for deployment in &deployments {
        let name = deployment["metadata"]["name"].as_str().unwrap();
        let service = model.service(name).expect("a Deployment per service");
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        if let (Some(port), Some(health)) = (service.port, &service.health_path) {
            for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
                assert_eq!(
                    container[probe]["httpGet"]["path"],
                    health.as_str(),
                    "{name} {probe}"
                );
                assert_eq!(
                    container[probe]["httpGet"]["port"], "http",
                    "{name} {probe}"
                );
            }
            assert_eq!(container["ports"][0]["containerPort"], port, "{name}");
        }
        if service.autoscaling.is_some() {
            assert!(
                deployment["spec"].get("replicas").is_none(),
                "{name}: the autoscaler owns the replica count"
            );
        }
    }
}

#[test]
fn secrets_are_references_to_secrets_the_user_creates() {
    let source = example("data-cluster");
    let files = render(&source);
    let all = objects(&files);
    assert!(
        all.iter().all(|(_, o)| kind_of(o) != "Secret"),
        "blueprint never renders a Secret object"
    );
    let mut references = 0;
    for (path, object) in &all {
        let text = serde_json::to_string(object).unwrap();
        references += text.matches("secretKeyRef").count();
        if kind_of(object) == "ConfigMap" {
            for key in object["data"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                assert!(
                    !blueprint::validate::looks_secret(key),
                    "{path}: {key} looks like a secret but is a plain ConfigMap value"
                );
            }
        }
    }
    assert!(references > 0, "the example's secrets are referenced");
    // `blueprint secrets` names the Secret each reference reads.
    let output = blueprint(&[
        "secrets",
        "blueprints/data-cluster/blueprint.yaml",
        "--env",
        "prod",
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("kubectl -n data create secret generic django-secret-key --from-file=DJANGO_SECRET_KEY=/dev/stdin"),
        "{text}"
    );
    assert!(
        !text.contains(".env.prod"),
        "prod keeps no env file: {text}"
    );
}

#[test]
fn a_cluster_only_project_renders_no_compose_stack() {
    let files = render(
        "project: { name: shop, repository: acme/shop }
environments:
  prod: { domain: shop.example.com, platform: kubernetes, stores: { cache: managed } }
services:
  api: { runtime: fastapi, path: api, port: 8000, routes: [{ path: /api }], stores: [cache] }
  worker: { runtime: python-worker, path: worker, depends_on: [api] }
stores:
  cache: { kind: redis }
",
    );
    for path in files.keys() {
        let compose_only = path.starts_with("compose.")
            || path.starts_with(".env.")
            || path.starts_with("proxy/")
            || path.starts_with("jobs/")
            || path.starts_with("monitoring/alertmanager/")
            || path.starts_with("monitoring/grafana/")
            || path.starts_with("monitoring/blackbox/")
            || path.starts_with("monitoring/prometheus/prometheus.");
        assert!(
            !compose_only,
            "{path} serves a Compose stack there is none of"
        );
    }
    // The rule files stay: they are the one source of the cluster's PrometheusRule, and their
    // unit tests run with promtool.
    assert!(files.contains_key("monitoring/prometheus/rules/services.rules.yml"));
    assert!(files.contains_key("kubernetes/base/monitoring/rules.yaml"));
    let worker = &files["kubernetes/base/services/worker.yaml"];
    assert!(worker.contains("kind: Deployment") && !worker.contains("kind: Service\n"));
}

#[test]
fn an_in_cluster_database_is_rendered_with_a_warning_that_it_is_not_highly_available() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let out_dir = out.path().to_str().unwrap();
    let rendered = blueprint(&[
        "render",
        "blueprints/data-cluster/blueprint.yaml",
        "--out",
        out_dir,
    ]);
    assert!(rendered.status.success());
    let warnings = String::from_utf8_lossy(&rendered.stderr);
    assert!(
        warnings.contains("warning: environments.staging.stores.db:")
            && warnings.contains("not highly available"),
        "{warnings}"
    );
    assert!(
        !warnings.contains("environments.prod"),
        "prod uses Supabase: {warnings}"
    );
    assert!(
        out.path()
            .join("kubernetes/overlays/staging/databases/db.yaml")
            .is_file()
    );

    let validated = blueprint(&["validate", "blueprints/data-cluster/blueprint.yaml"]);
    assert!(
        validated.status.success(),
        "a warning does not fail validation"
    );
    assert!(String::from_utf8_lossy(&validated.stderr).contains("not highly available"));

    let compose = blueprint(&["validate", "blueprints/data-platform/blueprint.yaml"]);
    assert!(
        compose.stderr.is_empty(),
        "a container database on Compose warns of nothing"
    );
}

/// The words of the crontab line that runs job `job` (its third word, after the wrapper).
fn crontab_command<'a>(crontab: &'a str, job: &str) -> Vec<&'a str> {
    crontab
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().skip(5).collect::<Vec<_>>())
        .find(|words| words.get(2) == Some(&job))
        .unwrap_or_else(|| panic!("a crontab line of {job}: {crontab}"))
}

/// A container's command, word by word.
fn command_of(container: &serde_json::Value) -> Vec<&str> {
    container["command"]
        .as_array()
        .expect("a command")
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect()
}

#[test]
fn every_cluster_backs_up_the_database_with_a_cronjob_that_runs_the_compose_command() {
    let files = render(&example("data-cluster"));
    let all = objects(&files);
    let cronjob = all
        .iter()
        .find(|(p, o)| {
            p.contains("/base/") && kind_of(o) == "CronJob" && o["metadata"]["name"] == "db-backup"
        })
        .map(|(_, o)| o)
        .expect("a db-backup CronJob in the base");
    assert_eq!(cronjob["spec"]["schedule"], "0 3 * * *");
    assert_eq!(cronjob["spec"]["timeZone"], "Etc/UTC");
    assert_eq!(cronjob["spec"]["concurrencyPolicy"], "Forbid");
    let job = &cronjob["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["backoffLimit"], 0);
    assert_eq!(job["activeDeadlineSeconds"], 3600 + 60);
    let pod = &job["template"]["spec"];
    assert_eq!(
        pod["securityContext"]["runAsUser"], 999,
        "the image's postgres"
    );
    assert_eq!(pod["restartPolicy"], "Never");
    let container = &pod["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);

    // The very command the Compose scheduler runs (its crontab line after the schedule).
    assert_eq!(
        command_of(container),
        crontab_command(&files["jobs/db-backup.crontab"], "db-backup")
    );

    // Its scripts come from ConfigMaps of the base: the wrapper, backup.sh and restore.sh.
    let volumes = pod["volumes"].as_array().expect("volumes");
    let mounts = container["volumeMounts"].as_array().expect("mounts");
    for (path, script) in [
        ("/etc/blueprint/run-job.sh", "timeout -k 30"),
        ("/etc/blueprint/backup.sh", "pg_dump --format=custom"),
        ("/etc/blueprint/restore.sh", "pg_restore"),
    ] {
        let mount = mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("{path} is mounted"));
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("the mount's volume");
        let name = volume["configMap"]["name"].as_str().expect("a ConfigMap");
        let config = all
            .iter()
            .find(|(p, o)| {
                p.contains("/base/") && kind_of(o) == "ConfigMap" && o["metadata"]["name"] == name
            })
            .map(|(_, o)| o)
            .unwrap_or_else(|| panic!("the ConfigMap {name} is in the base"));
        let text = config["data"][mount["subPath"].as_str().unwrap()]
            .as_str()
            .expect("the script");
        assert!(text.contains(script), "{path}: {text}");
    }
    assert!(
        mounts.iter().any(|m| m["mountPath"] == "/tmp"),
        "a scratch /tmp"
    );

    // The image is the one images.yml pushes, and each overlay pins it.
    let image = container["image"].as_str().unwrap();
    assert_eq!(image, "ghcr.io/acme/data-cluster-db-backup");
    let images = &files[".github/workflows/images.yml"];
    assert!(images.contains(&format!("image: {image}\n")), "{images}");
    assert!(
        images.contains("dockerfile: jobs/db-backup/Dockerfile"),
        "{images}"
    );
    for overlay in ["staging", "prod"] {
        let kustomization = &files[&format!("kubernetes/overlays/{overlay}/kustomization.yaml")];
        assert!(
            kustomization.contains(&format!("- name: {image}\n")),
            "{overlay}: {kustomization}"
        );
        // The overlay's variables: plain ones in the job's ConfigMap, secrets by reference.
        let config = &files[&format!("kubernetes/overlays/{overlay}/config/db-backup.yaml")];
        assert!(config.contains("BACKUP_PREFIX: backups/db"), "{config}");
        assert!(config.contains("BACKUP_BUCKET: acme-data-lake"), "{config}");
        let patch = &files[&format!("kubernetes/overlays/{overlay}/patches/job-db-backup.yaml")];
        for secret in ["LAKE_ACCESS_KEY_ID", "LAKE_SECRET_ACCESS_KEY"] {
            assert!(
                patch.contains(&format!("key: {secret}")),
                "{overlay}: {patch}"
            );
        }
        assert!(patch.contains("BACKUP_DATABASE_URL"), "{overlay}: {patch}");
        assert!(
            patch.contains("BLUEPRINT_PUSHGATEWAY_URL"),
            "{overlay}: {patch}"
        );
        // The namespace joins the Pushgateway grouping key: staging's and prod's groups stay
        // apart in a shared Pushgateway.
        assert!(
            patch.contains(
                "- name: BLUEPRINT_NAMESPACE\n              valueFrom:\n                fieldRef:\n                  fieldPath: metadata.namespace\n"
            ),
            "{overlay}: {patch}"
        );
    }
    // Staging's in-cluster database admits the backup; prod's Supabase is reached outside.
    let staging = &files["kubernetes/overlays/staging/network-policies.yaml"];
    assert!(
        staging.contains("name: db-backup-egress-staging"),
        "{staging}"
    );
    assert!(
        staging.contains(
            "api, ingest-prices, reconcile, db-backup, db-exporter use the in-cluster database db"
        ),
        "{staging}"
    );
    let prod = &files["kubernetes/overlays/prod/network-policies.yaml"];
    assert!(
        prod.contains(
            "In prod, db-backup reaches db outside the cluster on 5432 and 6543; the Pushgateway"
        ),
        "{prod}"
    );
    let base = &files["kubernetes/base/network-policies.yaml"];
    assert!(
        base.contains("name: db-backup-egress"),
        "S3 over HTTPS: {base}"
    );
}

#[test]
fn the_restore_test_is_a_cronjob_of_its_own_that_runs_the_compose_line_and_never_reaches_the_database()
 {
    let files = render(&example("data-cluster"));
    let all = objects(&files);
    let cronjob = all
        .iter()
        .find(|(p, o)| {
            p.contains("/base/")
                && kind_of(o) == "CronJob"
                && o["metadata"]["name"] == "db-restore-test"
        })
        .map(|(_, o)| o)
        .expect("a db-restore-test CronJob in the base");
    assert_eq!(cronjob["spec"]["schedule"], "30 4 * * 0");
    let pod = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    // The backup's image, which has initdb and pg_ctl (the database's own PostgreSQL image).
    assert_eq!(container["image"], "ghcr.io/acme/data-cluster-db-backup");
    assert_eq!(
        container["envFrom"][0]["configMapRef"]["name"],
        "db-backup-config"
    );
    // The very command of the Compose crontab's restore-test line.
    let command = command_of(container);
    assert_eq!(
        command,
        crontab_command(&files["jobs/db-backup.crontab"], "db-restore-test")
    );
    assert_eq!(command.last(), Some(&"--test"));
    // The scratch server's data directory is /tmp, on the node's disk, not in memory.
    let tmp = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "tmp")
        .expect("a tmp volume");
    assert_eq!(tmp["emptyDir"]["sizeLimit"], "8Gi");
    assert!(tmp["emptyDir"].get("medium").is_none(), "{tmp}");
    for overlay in ["staging", "prod"] {
        let patch =
            &files[&format!("kubernetes/overlays/{overlay}/patches/job-db-restore-test.yaml")];
        assert!(
            patch.contains("key: LAKE_SECRET_ACCESS_KEY"),
            "{overlay}: {patch}"
        );
        assert!(
            patch.contains("BLUEPRINT_PUSHGATEWAY_URL"),
            "{overlay}: {patch}"
        );
        // It restores into its own server: it is given no way to the database.
        assert!(!patch.contains("BACKUP_DATABASE_URL"), "{overlay}: {patch}");
        let policies = &files[&format!("kubernetes/overlays/{overlay}/network-policies.yaml")];
        assert!(
            policies.contains("name: db-restore-test-egress-"),
            "{overlay}: {policies}"
        );
        assert!(
            !policies.contains("db-restore-test reaches db"),
            "{overlay}: {policies}"
        );
    }
    let base = &files["kubernetes/base/network-policies.yaml"];
    assert!(
        base.contains(
            "db-restore-test downloads dumps from object storage outside the cluster over HTTPS"
        ),
        "{base}"
    );
}

#[test]
fn a_cluster_only_project_backs_up_in_the_image_ci_pushes() {
    let files = render(
        "project: { name: shop, repository: acme/shop }
environments:
  prod: { domain: shop.example.com, platform: kubernetes, stores: { db: managed, lake: managed } }
services:
  api: { runtime: fastapi, path: api, port: 8000, routes: [{ path: /api }], stores: [db, lake] }
stores:
  db: { kind: postgres, backup: { schedule: '0 4 * * *', retention: 7d, target: lake } }
  lake: { kind: s3 }
",
    );
    let cronjob = &files["kubernetes/base/jobs/db-backup.yaml"];
    assert!(
        cronjob.contains("image: ghcr.io/acme/shop-db-backup\n"),
        "{cronjob}"
    );
    // CI builds the image from the rendered Dockerfile and pushes it; nothing of Compose's.
    let dockerfile = &files["jobs/db-backup/Dockerfile"];
    assert!(
        dockerfile.contains("images.yml builds and pushes it"),
        "{dockerfile}"
    );
    assert!(!dockerfile.contains("Compose builds it"), "{dockerfile}");
    let images = &files[".github/workflows/images.yml"];
    assert!(
        images.contains("image: ghcr.io/acme/shop-db-backup\n"),
        "{images}"
    );
    for compose_only in [
        "jobs/db-backup.crontab",
        "jobs/backup.sh",
        "jobs/restore.sh",
    ] {
        assert!(!files.contains_key(compose_only), "{compose_only}");
    }
    // The alerts that watch it are in the cluster's PrometheusRule.
    let rules = &files["kubernetes/base/monitoring/rules.yaml"];
    for alert in ["BackupFailed", "BackupStale", "BackupTooSmall"] {
        assert!(rules.contains(&format!("alert: {alert}\n")), "{alert}");
    }
}
