//! Bootstrapping through the real binary: `init` for every preset, `env add` on a blueprint
//! full of comments, `import` of three realistic Compose files, and the secrets checklist.
//! stdin is never a terminal here, so nothing is ever asked.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value as Json;

mod common;
use common::{blueprint_in as blueprint, example, repo};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn all(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

fn parse(path: &Path) -> blueprint::blueprint::Blueprint {
    let text = fs::read_to_string(path).expect("the blueprint reads");
    blueprint::validate::validate_source(&path.display().to_string(), &text).unwrap_or_else(|d| {
        panic!(
            "{} is invalid:\n{}",
            path.display(),
            blueprint::diagnostic::render_all(&d, false)
        )
    })
}

fn json<T: serde::Serialize>(value: &T) -> Json {
    serde_json::to_value(value).expect("serializes")
}

/// Every file a render wrote, from its manifest, with its contents.
fn rendered(root: &Path) -> BTreeMap<String, String> {
    let manifest: Json = serde_json::from_slice(
        &fs::read(root.join(".blueprint/manifest.json")).expect("the manifest exists"),
    )
    .expect("the manifest is JSON");
    let mut files: BTreeMap<String, String> = manifest["files"]
        .as_object()
        .expect("files")
        .keys()
        .map(|p| {
            let text = fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
            (p.clone(), text)
        })
        .collect();
    files.insert(
        ".blueprint/manifest.json".into(),
        fs::read_to_string(root.join(".blueprint/manifest.json")).expect("manifest"),
    );
    files
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), fs::read(e.path()).expect("reads")))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// init

const PRESETS: &[&str] = &["data-platform", "web-api", "static-site"];

#[test]
fn init_writes_each_preset_renders_it_and_check_passes() {
    for preset in PRESETS {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = blueprint(
            &[
                "init",
                "shop",
                "--preset",
                preset,
                "--repository",
                "acme/shop",
            ],
            dir.path(),
        );
        assert_eq!(code(&out), 0, "{preset}: {}", all(&out));
        let project = dir.path().join("shop");
        let text = fs::read_to_string(project.join("blueprint.yaml")).expect("written");
        let first = text.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!(
                "# yaml-language-server: $schema={}",
                blueprint::schema_url()
            ),
            "{preset}"
        );
        assert!(
            text.lines()
                .filter(|l| l.trim_start().starts_with('#'))
                .count()
                > 5,
            "{preset}: a starter blueprint explains itself in comments"
        );
        let bp = parse(&project.join("blueprint.yaml"));
        assert_eq!(bp.project.name, "shop", "{preset}");
        assert_eq!(bp.project.repository, "acme/shop", "{preset}");

        let check = blueprint(&["check", "shop/blueprint.yaml"], dir.path());
        assert_eq!(code(&check), 0, "{preset}: {}", all(&check));
        // Every file the blueprint generates is on disk, as rendered.
        let list = blueprint(&["list", "shop/blueprint.yaml"], dir.path());
        for line in stdout(&list).lines() {
            let path = line.split_whitespace().last().expect("a path");
            assert!(
                project.join(path).is_file(),
                "{preset}: {path} was not rendered"
            );
        }
        // With the containers generator, each environment of a Compose preset gets its stack.
        let listed = stdout(&list);
        if listed.lines().any(|l| l.starts_with("containers")) {
            for env in bp.environments.keys() {
                let compose = format!("compose.{env}.yaml");
                if *preset != "static-site" {
                    assert!(project.join(&compose).is_file(), "{preset}: {compose}");
                }
            }
        }
        // The next steps name the secrets and where they go.
        let printed = stdout(&out);
        assert!(printed.contains("Next steps"), "{preset}: {printed}");
        match *preset {
            "data-platform" => {
                assert!(printed.contains("in .env.prod"), "{printed}");
                assert!(printed.contains("DJANGO_SECRET_KEY="), "{printed}");
                assert!(printed.contains("gh secret set VERCEL_TOKEN"), "{printed}");
            }
            "web-api" => {
                assert!(printed.contains("API_SECRET_KEY="), "{printed}");
                assert!(printed.contains("DB_PASSWORD="), "{printed}");
            }
            _ => {
                assert!(printed.contains("gh secret set VERCEL_TOKEN"), "{printed}");
                assert!(!printed.contains(".env."), "{printed}");
            }
        }
    }
}

#[test]
fn init_writes_a_gitattributes_that_keeps_line_endings_lf_and_keeps_an_existing_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = ["init", "p", "--preset", "web-api", "--repository", "acme/p"];
    let out = blueprint(&args, dir.path());
    assert_eq!(code(&out), 0, "{}", all(&out));
    let attributes = fs::read_to_string(dir.path().join("p/.gitattributes")).expect("written");
    assert!(
        attributes.lines().any(|l| l == "* text=auto eol=lf"),
        "{attributes}"
    );
    assert!(
        stdout(&out).contains("wrote p/.gitattributes"),
        "{}",
        all(&out)
    );
    // The project's own is the project's: kept as it is.
    let dir = tempfile::tempdir().expect("temp dir");
    fs::create_dir(dir.path().join("p")).expect("mkdir");
    fs::write(dir.path().join("p/.gitattributes"), "*.png binary\n").expect("write");
    let out = blueprint(&args, dir.path());
    assert_eq!(code(&out), 0, "{}", all(&out));
    assert_eq!(
        fs::read_to_string(dir.path().join("p/.gitattributes")).expect("kept"),
        "*.png binary\n"
    );
}

#[test]
fn init_keeps_every_environments_secrets_out_of_git() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = [
        "init",
        "p",
        "--preset",
        "data-platform",
        "--repository",
        "acme/p",
    ];
    let out = blueprint(&args, dir.path());
    assert_eq!(code(&out), 0, "{}", all(&out));
    let project = dir.path().join("p");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(&project)
            .output()
            .expect("git runs")
    };
    assert!(git(&["init", "-q"]).status.success());
    for env in ["dev", "staging", "prod"] {
        fs::write(project.join(format!(".env.{env}")), "SECRET=x\n").expect("write");
    }
    fs::write(project.join("proxy/htpasswd"), "ops:$2y$05$x\n").expect("write");
    let ignored = |path: &str| git(&["check-ignore", "-q", path]).status.success();
    for secret in [".env.dev", ".env.staging", ".env.prod", "proxy/htpasswd"] {
        assert!(ignored(secret), "{secret} would be committed");
    }
    for kept in [".env.prod.example", "compose.prod.yaml", "blueprint.yaml"] {
        assert!(!ignored(kept), "{kept} would not be committed");
    }
    // The project's own .gitignore is kept; one without the rule gets a note.
    let dir = tempfile::tempdir().expect("temp dir");
    fs::create_dir(dir.path().join("p")).expect("mkdir");
    fs::write(dir.path().join("p/.gitignore"), "/target\n").expect("write");
    let out = blueprint(&args, dir.path());
    assert_eq!(code(&out), 0, "{}", all(&out));
    assert_eq!(
        fs::read_to_string(dir.path().join("p/.gitignore")).expect("kept"),
        "/target\n"
    );
    assert!(
        stdout(&out).contains("has no `.env.*` line"),
        "{}",
        all(&out)
    );
}

#[test]
fn init_defaults_the_name_to_the_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = blueprint(
        &[
            "init",
            "My Shop",
            "--preset",
            "web-api",
            "--repository",
            "acme/shop",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", all(&out));
    let bp = parse(&dir.path().join("My Shop/blueprint.yaml"));
    assert_eq!(bp.project.name, "my-shop");
}

#[test]
fn init_refuses_an_existing_blueprint_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(dir.path().join("blueprint.yaml"), "# mine\n").expect("write");
    let before = snapshot(dir.path());
    let out = blueprint(
        &["init", "--preset", "web-api", "--repository", "acme/shop"],
        dir.path(),
    );
    assert_eq!(code(&out), 2, "{}", all(&out));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(snapshot(dir.path()), before, "nothing may change");
}

#[test]
fn init_refuses_a_file_in_the_way_of_the_render_and_writes_nothing() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let args = ["init", "p", "--preset", "web-api", "--repository", "acme/p"];
    let out = blueprint(&args, scratch.path());
    assert_eq!(code(&out), 0, "{}", all(&out));
    let list = blueprint(&["list", "p/blueprint.yaml"], scratch.path());
    // A file the render would write, which someone else already put there.
    let in_the_way = stdout(&list)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .find(|p| *p != ".blueprint/manifest.json")
        .unwrap_or(".blueprint/manifest.json")
        .to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("p").join(&in_the_way);
    fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
    fs::write(&target, "not blueprint's\n").expect("write");
    let before = snapshot(dir.path());
    let out = blueprint(&args, dir.path());
    assert_eq!(code(&out), 2, "{in_the_way}: {}", all(&out));
    assert!(stderr(&out).contains(&in_the_way), "{}", stderr(&out));
    assert_eq!(snapshot(dir.path()), before, "nothing may be written");
}

#[test]
fn init_without_a_terminal_names_the_missing_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = blueprint(&["init", "app", "--repository", "acme/app"], dir.path());
    assert_eq!(code(&out), 2, "{}", all(&out));
    assert!(stderr(&out).contains("--preset"), "{}", stderr(&out));
    let out = blueprint(&["init", "app", "--preset", "web-api"], dir.path());
    assert_eq!(code(&out), 2, "{}", all(&out));
    assert!(stderr(&out).contains("--repository"), "{}", stderr(&out));
    let out = blueprint(
        &[
            "init",
            "app",
            "--preset",
            "web-api",
            "--repository",
            "acme/app",
            "--name",
            "Not A Label",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 2, "{}", all(&out));
    assert!(stderr(&out).contains("--name"), "{}", stderr(&out));
    assert!(!dir.path().join("app").exists(), "nothing may be written");
}

// ---------------------------------------------------------------------------------------------
// env add

/// A project holding a copy of `fixture` as its blueprint.
fn project_with(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("blueprint.yaml");
    fs::write(&file, text).expect("write");
    (dir, file)
}

fn commented() -> String {
    fs::read_to_string(repo().join("tests/fixtures/commented.yaml")).expect("the fixture reads")
}

#[test]
fn env_add_inserts_one_block_and_keeps_every_comment() {
    let original = commented();
    let (dir, file) = project_with(&original);
    let out = blueprint(&["env", "add", "qa", "--from", "prod"], dir.path());
    assert_eq!(code(&out), 0, "{}", all(&out));
    let edited = fs::read_to_string(&file).expect("reads");

    // Outside the inserted block the file is byte-identical.
    let at = edited
        .find("\n  qa:")
        .expect("the new entry is in the file");
    let added = edited.len() - original.len();
    let inserted = &edited[at..at + added];
    let mut removed = edited.clone();
    removed.replace_range(at..at + added, "");
    assert_eq!(removed, original);

    // The block is prod's text, renamed, right after prod's entry (before the comment that
    // closes the environments section).
    let prod_start = original
        .find("  prod:   # the real one")
        .expect("prod in the fixture");
    let prod_text = &original[prod_start..at];
    assert_eq!(
        inserted,
        format!("\n{}", prod_text.replacen("  prod:", "  qa:", 1))
    );
    assert!(inserted.contains("# Only in production."), "{inserted}");
    assert!(
        edited[at + added..]
            .trim_start()
            .starts_with("# A comment at the end of prod's block"),
        "the trailing comment stays where it was"
    );

    // The new environment reads back equal to the one it was copied from.
    let bp = parse(&file);
    assert_eq!(json(&bp.environments["qa"]), json(&bp.environments["prod"]));
    assert_eq!(bp.environments.len(), 4);

    // Values given per environment elsewhere are listed, not copied.
    let err = stderr(&out);
    assert!(
        err.contains("values given per environment for `prod` were not copied to `qa`"),
        "{err}"
    );
    assert!(err.contains("services.api.env.RELEASE_CHANNEL"), "{err}");
    assert!(err.contains("services.docs.deploy"), "{err}");
    assert!(err.contains("add `tier: production`"), "{err}");

    // It rendered, and lists only qa's secrets.
    let check = blueprint(&["check", "blueprint.yaml"], dir.path());
    assert_eq!(code(&check), 0, "{}", all(&check));
    let printed = stdout(&out);
    assert!(printed.contains(".env.qa"), "{printed}");
    assert!(printed.contains("DATABASE_URL="), "{printed}");
    assert!(!printed.contains(".env.dev"), "{printed}");
    assert!(!printed.contains(".env.prod"), "{printed}");
}

#[test]
fn env_add_copies_empty_entries_flow_maps_and_a_last_line_without_newline() {
    let head = "project: { name: app, repository: acme/app }\nservices: { api: { runtime: fastapi, path: . } }\n";
    let cases = [
        (
            format!("{head}environments:\n  dev: {{}}  # nothing\n"),
            "dev",
            "test",
            format!("{head}environments:\n  dev: {{}}  # nothing\n  test: {{}}  # nothing\n"),
        ),
        (
            format!("{head}environments: {{dev: {{}}, prod: {{domain: app.example.com}}}}\n"),
            "prod",
            "qa",
            format!(
                "{head}environments: {{dev: {{}}, prod: {{domain: app.example.com}}, qa: {{domain: app.example.com}}}}\n"
            ),
        ),
        (
            format!("{head}environments:\n  prod:\n    domain: app.example.com"),
            "prod",
            "qa",
            format!(
                "{head}environments:\n  prod:\n    domain: app.example.com\n  qa:\n    domain: app.example.com"
            ),
        ),
    ];
    for (before, from, new, expected) in cases {
        let (dir, file) = project_with(&before);
        let out = blueprint(&["env", "add", new, "--from", from], dir.path());
        assert_eq!(code(&out), 0, "{before}\n{}", all(&out));
        assert_eq!(fs::read_to_string(&file).expect("reads"), expected);
    }
}

#[test]
fn env_add_refusals_change_nothing() {
    let minimal = fs::read_to_string(example("minimal")).expect("example");
    let cases: [(&str, &[&str], &str); 7] = [
        (
            &commented(),
            &["env", "add", "staging", "--from", "prod"],
            "already has an environment `staging`",
        ),
        (
            &commented(),
            &["env", "add", "Prod_2", "--from", "prod"],
            "not a DNS label",
        ),
        (
            &commented(),
            &["env", "add", "default", "--from", "prod"],
            "`default` cannot name",
        ),
        (
            &commented(),
            &["env", "add", "qa", "--from", "production"],
            "no environment `production`",
        ),
        (
            &minimal,
            &["env", "add", "prod", "--from", "dev"],
            "no `environments:` key",
        ),
        // `qa` is a staging environment by its name: TLS, so a copy of `dev` needs a domain.
        (
            &commented(),
            &["env", "add", "qa", "--from", "dev"],
            "`qa` as a copy of `dev` would be invalid",
        ),
        (
            "project: [",
            &["env", "add", "qa", "--from", "dev"],
            "invalid YAML",
        ),
    ];
    for (text, args, message) in cases {
        let (dir, _) = project_with(text);
        let before = snapshot(dir.path());
        let out = blueprint(args, dir.path());
        assert_eq!(code(&out), 2, "{args:?}: {}", all(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert_eq!(snapshot(dir.path()), before, "{args:?}: nothing may change");
    }
    // A missing file is an I/O error, also exit 2.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = blueprint(&["env", "add", "qa", "--from", "dev"], dir.path());
    assert_eq!(code(&out), 2, "{}", all(&out));
}

// ---------------------------------------------------------------------------------------------
// import

struct Fixture {
    dir: &'static str,
    file: &'static str,
    secrets: &'static [&'static str],
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        dir: "django",
        file: "docker-compose.yml",
        secrets: &[
            "dj-s3cr3t-9f8e7d6c5b4a",
            "pg-pass-1234abcd",
            "sk_test_51HxYzFakeKey0000",
        ],
    },
    Fixture {
        dir: "node-nginx",
        file: "compose.yaml",
        secrets: &["node-sess-abcdef123456"],
    },
    Fixture {
        dir: "fastapi-minio",
        file: "docker-compose.yaml",
        secrets: &[
            "minio-access-key-42",
            "minio-secret-0a1b2c3d",
            "tok-live-7f6e5d4c3b2a",
        ],
    },
];

/// A copy of a Compose fixture's directory, as a project would have it.
fn compose_project(fixture: &Fixture) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = repo().join("tests/fixtures/compose").join(fixture.dir);
    for entry in walkdir::WalkDir::new(&source)
        .into_iter()
        .filter_map(Result::ok)
    {
        let relative = entry.path().strip_prefix(&source).expect("inside");
        let target = dir.path().join(relative);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).expect("mkdir");
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
    dir
}

fn compose_services(path: &Path) -> serde_json::Map<String, Json> {
    let text = fs::read_to_string(path).expect("reads");
    let value: Json = serde_saphyr::from_str(&text).expect("compose YAML");
    value["services"].as_object().expect("services").clone()
}

fn container_ports(service: &Json) -> Vec<(u16, Option<u16>)> {
    let mut out = Vec::new();
    for key in ["ports", "expose"] {
        for item in service
            .get(key)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let (container, host) = match item {
                Json::Object(o) => (
                    o["target"].as_u64().map(|p| p as u16),
                    o.get("published").and_then(Json::as_u64).map(|p| p as u16),
                ),
                other => {
                    let text = other
                        .as_str()
                        .map_or_else(|| other.to_string(), str::to_string);
                    let mut parts: Vec<&str> =
                        text.split('/').next().unwrap_or("").split(':').collect();
                    let container = parts.pop().and_then(|p| p.parse().ok());
                    let host = parts.pop().and_then(|p| p.parse().ok());
                    (container, if key == "ports" { host } else { None })
                }
            };
            out.push((container.expect("a port"), host));
        }
    }
    out
}

/// Every port number a rendered Compose service mentions (container and host side).
fn rendered_ports(service: &Json) -> Vec<u16> {
    let mut out = Vec::new();
    for key in ["ports", "expose"] {
        for item in service
            .get(key)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            match item {
                Json::Object(o) => {
                    for field in ["target", "published"] {
                        let number = o.get(field).and_then(|v| {
                            v.as_u64()
                                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        });
                        out.extend(number.and_then(|n| u16::try_from(n).ok()));
                    }
                }
                other => {
                    let text = other
                        .as_str()
                        .map_or_else(|| other.to_string(), str::to_string);
                    out.extend(
                        text.split('/')
                            .next()
                            .unwrap_or("")
                            .split(':')
                            .filter_map(|p| p.parse::<u16>().ok()),
                    );
                }
            }
        }
    }
    out
}

fn depends(service: &Json) -> Vec<String> {
    match service.get("depends_on") {
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        Some(Json::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

#[test]
fn import_round_trips_services_ports_and_dependencies_without_secret_values() {
    for fixture in FIXTURES {
        let dir = compose_project(fixture);
        let compose_path = dir.path().join(fixture.file);
        let compose_text = fs::read_to_string(&compose_path).expect("reads");
        for secret in fixture.secrets {
            assert!(compose_text.contains(secret), "the fixture holds {secret}");
        }
        let out = blueprint(&["import", fixture.file], dir.path());
        assert_eq!(code(&out), 0, "{}: {}", fixture.dir, all(&out));
        let file = dir.path().join("blueprint.yaml");
        let text = fs::read_to_string(&file).expect("written");
        assert!(
            text.starts_with(&format!(
                "# yaml-language-server: $schema={}\n",
                blueprint::schema_url()
            )),
            "{}",
            fixture.dir
        );
        let bp = parse(&file);

        // As the import says: a Dockerfile of the project's own where blueprint generates one
        // is moved away first (render would refuse to overwrite it).
        for entry in walkdir::WalkDir::new(dir.path())
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name() == "Dockerfile")
        {
            let relative = entry.path().strip_prefix(dir.path()).expect("inside");
            assert!(
                stdout(&out).contains(&relative.display().to_string()),
                "{}: the import names {} as in the way",
                fixture.dir,
                relative.display()
            );
            fs::rename(entry.path(), entry.path().with_extension("original")).expect("rename");
        }
        let render = blueprint(&["render", "blueprint.yaml"], dir.path());
        assert_eq!(code(&render), 0, "{}: {}", fixture.dir, all(&render));
        let check = blueprint(&["check", "blueprint.yaml"], dir.path());
        assert_eq!(code(&check), 0, "{}: {}", fixture.dir, all(&check));

        // No secret value reaches the draft, the import's output or any rendered file.
        let mut everything = rendered(dir.path());
        everything.insert("blueprint.yaml".into(), text.clone());
        everything.insert("(import output)".into(), all(&out));
        for secret in fixture.secrets {
            for (path, contents) in &everything {
                assert!(
                    !contents.contains(secret),
                    "{}: the secret value {secret} leaked into {path}",
                    fixture.dir
                );
            }
        }

        // Every service survives, as a service or as a store, with its port and dependencies:
        // in the rendered Compose file of the dev environment, once the containers generator
        // renders one, and in the resolved model.
        let model = blueprint::model::Model::from_blueprint(&bp);
        let original = compose_services(&compose_path);
        if let Some(compose_dev) = everything.get("compose.dev.yaml") {
            let value: Json = serde_saphyr::from_str(compose_dev).expect("rendered Compose YAML");
            let rendered = value["services"].as_object().expect("services").clone();
            for (name, service) in &original {
                let ours = rendered.get(name).unwrap_or_else(|| {
                    panic!("{}: compose.dev.yaml lost service {name}", fixture.dir)
                });
                if model.service(name).is_some()
                    && let Some(&(container, host)) = container_ports(service).first()
                {
                    let published: BTreeSet<u16> = rendered_ports(ours).into_iter().collect();
                    assert!(
                        published.contains(&container)
                            || host.is_some_and(|h| published.contains(&h)),
                        "{}: {name} had port {container} (host {host:?}); compose.dev.yaml has {published:?}",
                        fixture.dir
                    );
                }
                let deps: BTreeSet<String> = depends(ours).into_iter().collect();
                for dep in depends(service) {
                    assert!(
                        deps.contains(&dep),
                        "{}: {name} no longer depends on {dep} in compose.dev.yaml: {deps:?}",
                        fixture.dir
                    );
                }
            }
        }
        for (name, service) in &original {
            if let Some(store) = model.store(name) {
                assert!(
                    service["image"].as_str().is_some(),
                    "{}: store {name} came from an image",
                    fixture.dir
                );
                let _ = store;
                continue;
            }
            let resolved = model
                .service(name)
                .unwrap_or_else(|| panic!("{}: service {name} was lost", fixture.dir));
            for (container, host) in container_ports(service).into_iter().take(1) {
                let port = resolved.port.expect("an HTTP service keeps a port");
                assert!(
                    port == container || Some(port) == host,
                    "{}: {name} listened on {container} (host {host:?}), the blueprint says {port}",
                    fixture.dir
                );
            }
            let kept: BTreeSet<String> =
                resolved.depends_on.iter().map(|d| d.name.clone()).collect();
            for dep in depends(service) {
                assert!(
                    kept.contains(&dep),
                    "{}: {name} no longer depends on {dep}: {kept:?}",
                    fixture.dir
                );
            }
        }
    }
}

#[test]
fn import_maps_runtimes_stores_secrets_and_health() {
    let dir = compose_project(&FIXTURES[0]);
    let out = blueprint(&["import", "docker-compose.yml"], dir.path());
    assert_eq!(code(&out), 0, "{}", all(&out));
    let bp = parse(&dir.path().join("blueprint.yaml"));
    let web = &bp.services["web"];
    assert_eq!(json(&web.runtime), "django");
    assert_eq!(web.path, "web");
    assert_eq!(web.port, Some(8000));
    assert_eq!(web.entrypoint.as_deref(), Some("bookshop.wsgi"));
    assert_eq!(web.health.as_deref(), Some("/health/"));
    assert_eq!(web.stores, ["db", "cache"]);
    assert_eq!(
        json(&web.env["DJANGO_SECRET_KEY"]),
        serde_json::json!({ "secret": "DJANGO_SECRET_KEY" })
    );
    assert_eq!(json(&web.env["DEBUG"]), "1");
    assert_eq!(json(&web.env["PAGE_SIZE"]), "25");
    assert!(
        !web.env.contains_key("DATABASE_URL"),
        "the store binding injects it"
    );
    assert_eq!(json(&bp.stores["db"].kind), "postgres");
    assert_eq!(bp.stores["db"].version.as_deref(), Some("16"));
    assert_eq!(json(&bp.stores["cache"].kind), "redis");
    let printed = stdout(&out);
    assert!(
        printed.contains("services.web.volumes: `./web:/app`"),
        "{printed}"
    );
    assert!(printed.contains("services.web.restart"), "{printed}");

    let dir = compose_project(&FIXTURES[1]);
    let out = blueprint(
        &[
            "import",
            "compose.yaml",
            "--name",
            "front",
            "--repository",
            "acme/front",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", all(&out));
    let bp = parse(&dir.path().join("blueprint.yaml"));
    assert_eq!(bp.project.name, "front");
    assert_eq!(json(&bp.services["api"].runtime), "node");
    assert_eq!(json(&bp.services["web"].runtime), "static");
    assert_eq!(bp.services["web"].path, "public");
    assert_eq!(bp.services["api"].health.as_deref(), Some("/api/healthz"));
    assert_eq!(
        json(&bp.services["api"].env["GITHUB_TOKEN"]),
        serde_json::json!({ "secret": "GITHUB_TOKEN" })
    );
    let printed = stdout(&out);
    assert!(
        printed.contains("api/Dockerfile"),
        "the Dockerfile in the way is named: {printed}"
    );
    assert!(printed.contains("x-logging"), "{printed}");

    let dir = compose_project(&FIXTURES[2]);
    let out = blueprint(&["import", "docker-compose.yaml"], dir.path());
    assert_eq!(code(&out), 0, "{}", all(&out));
    let bp = parse(&dir.path().join("blueprint.yaml"));
    assert_eq!(json(&bp.services["api"].runtime), "fastapi");
    assert_eq!(
        bp.services["api"].entrypoint.as_deref(),
        Some("app.main:app")
    );
    assert_eq!(bp.services["api"].health.as_deref(), Some("/healthz"));
    assert_eq!(json(&bp.services["api"].env["MAX_UPLOAD_MB"]), "50");
    assert_eq!(
        json(&bp.services["api"].resources),
        serde_json::json!({ "cpus": 0.5, "memory": "512m" })
    );
    assert_eq!(json(&bp.services["worker"].runtime), "python-worker");
    assert_eq!(
        bp.services["worker"].entrypoint.as_deref(),
        Some("app.worker")
    );
    assert_eq!(json(&bp.stores["minio"].kind), "s3");
    assert_eq!(bp.stores["minio"].bucket.as_deref(), Some("uploads"));
}

#[test]
fn import_refuses_to_overwrite_and_to_leave_the_project() {
    let dir = compose_project(&FIXTURES[0]);
    fs::write(dir.path().join("blueprint.yaml"), "# mine\n").expect("write");
    let before = snapshot(dir.path());
    let out = blueprint(&["import", "docker-compose.yml"], dir.path());
    assert_eq!(code(&out), 2, "{}", all(&out));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(snapshot(dir.path()), before);

    // A draft outside the project would point its paths out of its own directory.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let out = blueprint(
        &[
            "import",
            &dir.path().join("docker-compose.yml").display().to_string(),
            "--out",
            "blueprint.yaml",
        ],
        elsewhere.path(),
    );
    assert_eq!(code(&out), 2, "{}", all(&out));
    assert!(stderr(&out).contains("outside"), "{}", stderr(&out));
    assert!(!elsewhere.path().join("blueprint.yaml").exists());

    let out = blueprint(&["import", "missing.yml"], elsewhere.path());
    assert_eq!(code(&out), 2, "{}", all(&out));
    fs::write(elsewhere.path().join("bad.yml"), "services: [").expect("write");
    let out = blueprint(&["import", "bad.yml"], elsewhere.path());
    assert_eq!(code(&out), 2, "{}", all(&out));
}

// ---------------------------------------------------------------------------------------------
// secrets

#[test]
fn secrets_lists_every_secret_per_environment_and_where() {
    let file = example("data-platform");
    let file = file.display().to_string();
    let out = blueprint(&["secrets", &file, "--format", "json"], &repo());
    assert_eq!(code(&out), 0, "{}", all(&out));
    let report: Json = serde_json::from_slice(&out.stdout).expect("JSON");
    let secrets = report["secrets"].as_array().expect("secrets");
    let environments_of = |name: &str| -> BTreeSet<String> {
        secrets
            .iter()
            .filter(|s| s["name"] == name)
            .filter_map(|s| s["environment"].as_str().map(String::from))
            .collect()
    };
    assert_eq!(
        environments_of("DJANGO_SECRET_KEY"),
        BTreeSet::from(["dev".into(), "staging".into(), "prod".into()])
    );
    for s in secrets.iter().filter(|s| s["name"] == "DJANGO_SECRET_KEY") {
        assert_eq!(s["location"], "env_file");
        assert_eq!(
            s["target"],
            format!(".env.{}", s["environment"].as_str().unwrap_or(""))
        );
    }
    // The database is a container only in dev; elsewhere its URL is the secret.
    assert_eq!(
        environments_of("DB_PASSWORD"),
        BTreeSet::from(["dev".into()])
    );
    assert_eq!(
        environments_of("DATABASE_URL"),
        BTreeSet::from(["staging".into(), "prod".into()])
    );
    let token = secrets
        .iter()
        .find(|s| s["name"] == "VERCEL_TOKEN")
        .expect("the Vercel token");
    assert_eq!(token["location"], "github_repository");
    assert_eq!(token["set_with"], "gh secret set VERCEL_TOKEN");

    let text = blueprint(&["secrets", &file], &repo());
    assert_eq!(code(&text), 0, "{}", all(&text));
    let printed = stdout(&text);
    for env in ["dev", "staging", "prod"] {
        let heading = format!("{env}: on the Compose host, in .env.{env}");
        let start = printed
            .find(&heading)
            .unwrap_or_else(|| panic!("{heading}: {printed}"));
        let section = printed[start..].split("\n\n").next().unwrap_or_default();
        assert!(section.contains("DJANGO_SECRET_KEY="), "{env}: {section}");
    }

    let one = blueprint(&["secrets", &file, "--env", "staging"], &repo());
    assert_eq!(code(&one), 0, "{}", all(&one));
    assert!(!stdout(&one).contains(".env.dev"), "{}", stdout(&one));
    let unknown = blueprint(&["secrets", &file, "--env", "qa"], &repo());
    assert_eq!(code(&unknown), 2, "{}", all(&unknown));
    assert!(
        stderr(&unknown).contains("dev, staging, prod"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn secrets_names_references_nothing_reads() {
    let (dir, _) = project_with(
        "project: { name: site, repository: acme/site }
environments: { prod: { domain: site.example.com } }
services:
  site:
    runtime: static
    path: site
    deploy: vercel
    env:
      CMS_TOKEN: { secret: CMS_TOKEN }
monitoring:
  enabled: false
  receivers:
    ops: { kind: webhook, url: { secret: OPS_WEBHOOK } }
",
    );
    let out = blueprint(
        &["secrets", "blueprint.yaml", "--format", "json"],
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", all(&out));
    let report: Json = serde_json::from_slice(&out.stdout).expect("JSON");
    let unused: BTreeMap<String, Json> = report["unused"]
        .as_array()
        .expect("unused")
        .iter()
        .map(|u| {
            (
                u["name"].as_str().unwrap_or_default().to_string(),
                u.clone(),
            )
        })
        .collect();
    assert_eq!(
        unused.keys().collect::<Vec<_>>(),
        ["CMS_TOKEN", "OPS_WEBHOOK"]
    );
    assert_eq!(
        unused["CMS_TOKEN"]["referenced_at"],
        serde_json::json!(["services.site.env.CMS_TOKEN"])
    );
    assert!(
        unused["CMS_TOKEN"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("Vercel")),
        "{report}"
    );
    assert!(
        report["secrets"]
            .as_array()
            .expect("secrets")
            .iter()
            .all(|s| s["name"] != "CMS_TOKEN"),
        "{report}"
    );
}
