//! No secret value ever reaches a generated file: every secret the stack needs gets a
//! recognisable canary value, in the process environment and in `.env` files beside the
//! blueprint, every example is rendered, and no canary may appear in any output.

use std::fs;
use std::process::Command;

mod common;

#[test]
fn no_secret_value_reaches_any_rendered_file() {
    let mut checked = 0;
    for (_, path) in common::examples() {
        let blueprint =
            blueprint::validate::validate_source("bp", &fs::read_to_string(&path).unwrap())
                .unwrap();
        let model = blueprint::model::Model::from_blueprint(&blueprint);
        let mut names: Vec<String> = model.secrets().into_keys().collect();
        // Secrets the workflows and the Caddy proxy read, beyond the stack's own.
        names.extend(
            [
                "VERCEL_TOKEN",
                "DEPLOY_SSH_KEY",
                "DEPLOY_HOST",
                "PROXY_BASIC_AUTH_HASH",
                "PROXY_BASIC_AUTH_USER",
            ]
            .map(String::from),
        );
        assert!(!names.is_empty());
        let canary = |name: &str| format!("canary-{}-7f3a9c", name.to_ascii_lowercase());

        let dir = tempfile::tempdir().unwrap();
        fs::copy(&path, dir.path().join("blueprint.yaml")).unwrap();
        let dotenv: String = names
            .iter()
            .map(|n| format!("{n}={}\n", canary(n)))
            .collect();
        for env in model.environments.iter().map(|e| e.name.clone()) {
            fs::write(dir.path().join(format!(".env.{env}")), &dotenv).unwrap();
        }
        fs::write(dir.path().join(".env"), &dotenv).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_blueprint"));
        command
            .args(["render", "blueprint.yaml"])
            .current_dir(dir.path());
        for name in &names {
            command.env(name, canary(name));
        }
        let out = command.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        for file in walkdir::WalkDir::new(dir.path())
            .into_iter()
            .map(Result::unwrap)
        {
            let name = file.file_name().to_string_lossy();
            if !file.file_type().is_file()
                || name.starts_with(".env") && !name.ends_with(".example")
                || name == "blueprint.yaml"
            {
                continue;
            }
            let text = fs::read_to_string(file.path()).unwrap();
            checked += 1;
            assert!(
                !text.contains("-7f3a9c"),
                "{}: a secret value leaked into {}",
                path.display(),
                file.path().display()
            );
        }
        // The secrets are referenced by name where they are used.
        let compose: String = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("compose.")
            })
            .map(|p| fs::read_to_string(p).unwrap())
            .collect();
        for secret in model
            .secrets()
            .values()
            .filter(|s| s.home == blueprint::model::SecretHome::EnvFile)
        {
            assert!(
                compose.contains(&secret.name),
                "{}: {} is referenced by name",
                path.display(),
                secret.name
            );
        }
    }
    assert!(checked > 50, "rendered files were checked");
}

/// Setting exactly what `blueprint secrets --env ENV` lists is enough: every variable a Compose
/// file requires (`${NAME:?...}`), every file it mounts that blueprint does not render, every
/// key a Kubernetes overlay reads from a Secret and every secret a workflow reads is on the
/// list, in the place that environment reads it from.
#[test]
fn setting_what_blueprint_secrets_lists_satisfies_every_reference_the_render_makes() {
    let required = regex::Regex::new(r"\$\{([A-Z][A-Z0-9_]*):\?").unwrap();
    let bind = regex::Regex::new(r"(?m)^\s+source: \./(\S+)$").unwrap();
    let secret_key =
        regex::Regex::new(r"secretKeyRef:\s+name: \S+\s+key: ([A-Z][A-Z0-9_]*)").unwrap();
    let workflow_secret = regex::Regex::new(r"secrets\.([A-Z][A-Z0-9_]*)").unwrap();
    let mut missing = Vec::new();
    let mut references = 0;
    for (name, path) in common::examples() {
        let render = common::repo().join("generated").join(&name);
        let listed = |env: Option<&str>| -> Vec<(String, String)> {
            let file = path.to_string_lossy().into_owned();
            let mut args = vec!["secrets", file.as_str(), "--format", "json"];
            if let Some(env) = env {
                args.extend(["--env", env]);
            }
            let out = common::blueprint(&args);
            assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
            let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            list["secrets"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| {
                    env.is_none() || s["environment"].as_str() == env || s["environment"].is_null()
                })
                .map(|s| {
                    (
                        s["name"].as_str().unwrap().to_string(),
                        s["location"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
        let mut check = |list: &[(String, String)], what: &str, location: &str, place: String| {
            references += 1;
            let found = list.iter().any(|(n, l)| {
                n == what && (l == location || location == "github" && l.starts_with("github"))
            });
            if !found {
                missing.push(format!("{name}: {place} reads {what}, which `blueprint secrets` does not list as {location}"));
            }
        };
        let blueprint =
            blueprint::validate::validate_source("bp", &fs::read_to_string(&path).unwrap())
                .unwrap();
        let model = blueprint::model::Model::from_blueprint(&blueprint);
        for env in &model.environments {
            let list = listed(Some(&env.name));
            let compose_file = format!("compose.{}.yaml", env.name);
            if let Ok(compose) = fs::read_to_string(render.join(&compose_file)) {
                for var in required.captures_iter(&compose) {
                    check(&list, &var[1], "env_file", compose_file.clone());
                }
                for source in bind.captures_iter(&compose) {
                    if !render.join(&source[1]).exists() {
                        check(&list, &source[1], "host_file", compose_file.clone());
                    }
                }
            }
            let overlay = render.join("kubernetes/overlays").join(&env.name);
            for file in walkdir::WalkDir::new(&overlay).into_iter().flatten() {
                if file.file_type().is_file() {
                    let text = fs::read_to_string(file.path()).unwrap();
                    for key in secret_key.captures_iter(&text) {
                        check(
                            &list,
                            &key[1],
                            "kubernetes_secret",
                            file.path().display().to_string(),
                        );
                    }
                }
            }
        }
        let all = listed(None);
        for file in walkdir::WalkDir::new(render.join(".github/workflows"))
            .into_iter()
            .flatten()
        {
            if file.file_type().is_file() {
                let text = fs::read_to_string(file.path()).unwrap();
                for secret in workflow_secret.captures_iter(&text) {
                    if &secret[1] != "GITHUB_TOKEN" {
                        check(
                            &all,
                            &secret[1],
                            "github",
                            file.file_name().to_string_lossy().into_owned(),
                        );
                    }
                }
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        references > 100,
        "the renders' references were found ({references})"
    );
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
