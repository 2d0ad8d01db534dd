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
