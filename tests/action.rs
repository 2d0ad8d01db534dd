//! The GitHub Action, run here: `scripts/action.sh` is all of its logic (action.yml only passes
//! inputs to it through `env:`), so these tests run it as the runner would, with the binary
//! under test standing in for a downloaded release (`BLUEPRINT_BIN`), a release made here with
//! the release workflow's own packaging script (`file://` download URL), and a fake `cargo` that
//! records how the fallback would build.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Project, bin, repo, text};

/// A runner-like environment for `scripts/action.sh`: its own temp, summary, output and path
/// files, and a fake `cargo` first on PATH.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fake-bin");
        fs::create_dir_all(&fake).unwrap();
        // Records its arguments, then "builds" by copying the real binary to --root/bin.
        let cargo = fake.join("cargo");
        fs::write(
            &cargo,
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$FAKE_CARGO_LOG\"\nprintf '%s\\n' \"$CARGO_TARGET_DIR\" >> \"$FAKE_CARGO_LOG.target\"\nroot=\nprev=\nfor a in \"$@\"; do\n  [ \"$prev\" = --root ] && root=$a\n  prev=$a\ndone\nmkdir -p \"$root/bin\"\ncp \"$REAL_BLUEPRINT\" \"$root/bin/blueprint$FAKE_EXE_SUFFIX\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&cargo, fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir_all(dir.path().join("temp")).unwrap();
        Self { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.file(name)).unwrap_or_default()
    }

    /// The cargo invocations the fallback made, one a line.
    fn cargo_calls(&self) -> String {
        self.read("cargo.log")
    }

    /// Runs `scripts/action.sh <command>` in `cwd` with the runner's variables and `envs`.
    fn action(&self, command: &str, cwd: &Path, envs: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.file("fake-bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("bash");
        cmd.arg(repo().join("scripts/action.sh"))
            .arg(command)
            .current_dir(cwd)
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .env("RUNNER_TEMP", self.file("temp"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary.md"))
            .env("GITHUB_OUTPUT", self.file("output"))
            .env("GITHUB_PATH", self.file("path"))
            .env("FAKE_CARGO_LOG", self.file("cargo.log"))
            .env("REAL_BLUEPRINT", bin())
            .env("FAKE_EXE_SUFFIX", "");
        for var in [
            "GITHUB_ACTIONS",
            "BLUEPRINT_BIN",
            "BLUEPRINT_DOWNLOAD_URL",
            "INPUT_BLUEPRINT",
            "INPUT_OUT",
            "INPUT_MODE",
            "INPUT_VERSION",
            "ACTION_REF",
            "ACTION_REPOSITORY",
            "GITHUB_ACTION_PATH",
            "RUNNER_OS",
            "RUNNER_ARCH",
            "CARGO_TARGET_DIR",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(envs.iter().copied());
        cmd.output().expect("bash runs")
    }

    /// `action.sh run` with the binary under test, as the Action's second step.
    fn check(&self, cwd: &Path, envs: &[(&str, &str)]) -> Output {
        let bin = bin();
        let mut all = vec![
            ("BLUEPRINT_BIN", bin.to_str().unwrap()),
            ("GITHUB_ACTIONS", "true"),
        ];
        all.extend_from_slice(envs);
        self.action("run", cwd, &all)
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn check_mode_passes_and_writes_an_up_to_date_summary() {
    let p = Project::rendered("minimal");
    let r = Runner::new();
    let out = r.check(p.root(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary = r.read("summary.md");
    assert!(summary.contains("up to date"), "{summary}");
    assert!(summary.contains("`blueprint.yaml`"), "{summary}");
    assert!(!stdout(&out).contains("::error"), "{}", text(&out));
}

#[test]
fn check_mode_fails_on_drift_with_annotations_and_a_summary_naming_file_and_fix() {
    let p = Project::rendered("minimal");
    let drifted = p.drift();
    let r = Runner::new();
    let out = r.check(p.root(), &[("INPUT_BLUEPRINT", "blueprint.yaml")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let shown = Path::new(".").join(&drifted).display().to_string();
    assert!(
        stdout(&out).contains(&format!("::error file={shown},title=blueprint drift::")),
        "an annotation on {shown}: {}",
        text(&out)
    );
    let summary = r.read("summary.md");
    assert!(summary.contains(&format!("`{shown}`")), "{summary}");
    assert!(
        summary.contains("blueprint render blueprint.yaml --out ."),
        "{summary}"
    );
    assert!(!summary.contains("::error"), "{summary}");
}

#[test]
fn diff_mode_prints_the_diff_and_puts_it_in_the_summary() {
    let p = Project::rendered("minimal");
    let r = Runner::new();
    let clean = r.check(p.root(), &[("INPUT_MODE", "diff")]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    assert!(r.read("summary.md").contains("no differences"));

    let drifted = p.drift();
    let r = Runner::new();
    let out = r.check(p.root(), &[("INPUT_MODE", "diff")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains(&format!("--- a/{drifted}")),
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains("::error file=blueprint.yaml,title=blueprint drift::"),
        "{}",
        text(&out)
    );
    let summary = r.read("summary.md");
    assert!(summary.contains("```diff\n"), "{summary}");
    assert!(summary.contains(&format!("a/{drifted}")), "{summary}");
    assert!(
        summary.contains("blueprint render blueprint.yaml\n"),
        "{summary}"
    );
}

#[test]
fn diff_mode_never_prints_what_a_symlink_at_a_generated_path_points_at() {
    let p = Project::rendered("minimal");
    let file = p.manifest()["files"]
        .as_object()
        .and_then(|f| f.keys().next().cloned())
        .expect("a generated file");
    let target = p.root().join(&file);
    fs::remove_file(&target).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", &target).unwrap();
    let r = Runner::new();
    let canary = "BLUEPRINT_CANARY_7f3e";
    let out = r.check(p.root(), &[("INPUT_MODE", "diff"), ("LEAK_CANARY", canary)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is a symbolic link"), "{}", text(&out));
    assert!(!text(&out).contains(canary), "{}", text(&out));
    assert!(
        !r.read("summary.md").contains(canary),
        "{}",
        r.read("summary.md")
    );
}

#[test]
fn the_out_input_reaches_blueprint() {
    // A blueprint kept in a subdirectory and rendered next to it.
    let p = Project::rendered("minimal");
    let infra = p.root().join("infra");
    fs::create_dir_all(&infra).unwrap();
    // Everything the render wrote moves with the blueprint.
    for entry in fs::read_dir(p.root()).unwrap() {
        let entry = entry.unwrap().file_name();
        if entry != "infra" {
            fs::rename(p.root().join(&entry), infra.join(&entry)).unwrap();
        }
    }
    let r = Runner::new();
    let bp = [("INPUT_BLUEPRINT", "infra/blueprint.yaml")];
    let default_out = r.check(p.root(), &bp);
    assert_eq!(default_out.status.code(), Some(0), "{}", text(&default_out));
    let explicit = r.check(p.root(), &[bp[0], ("INPUT_OUT", "infra")]);
    assert_eq!(explicit.status.code(), Some(0), "{}", text(&explicit));
    // The wrong output root has none of the files: drift, which proves `out` was used.
    fs::create_dir_all(p.root().join("elsewhere")).unwrap();
    let wrong = r.check(p.root(), &[bp[0], ("INPUT_OUT", "elsewhere")]);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(
        r.read("summary.md")
            .contains("blueprint render infra/blueprint.yaml --out elsewhere"),
        "{}",
        r.read("summary.md")
    );
}

#[test]
fn bad_inputs_are_errors_and_never_shell_code() {
    let p = Project::rendered("minimal");
    let r = Runner::new();
    let mode = r.check(p.root(), &[("INPUT_MODE", "fix")]);
    assert_eq!(mode.status.code(), Some(2), "{}", text(&mode));
    assert!(stdout(&mode).contains("::error title=blueprint action::mode must be check or diff"));

    let hostile = "$(touch pwned)`touch pwned2`;touch pwned3.yaml";
    let file = r.check(p.root(), &[("INPUT_BLUEPRINT", hostile)]);
    assert_eq!(file.status.code(), Some(2), "{}", text(&file));
    assert!(
        stdout(&file).contains("blueprint file not found"),
        "{}",
        text(&file)
    );
    for name in ["pwned", "pwned2", "pwned3.yaml"] {
        assert!(
            !p.root().join(name).exists(),
            "{name} was created: input ran as code"
        );
    }

    // A path that looks like an option stays a path.
    let dash = r.check(p.root(), &[("INPUT_BLUEPRINT", "--help")]);
    assert_eq!(dash.status.code(), Some(2), "{}", text(&dash));

    // An invalid blueprint: exit 2 and a summary that says the check could not run.
    fs::write(p.root().join("broken.yaml"), "project: [\n").unwrap();
    let r = Runner::new();
    let invalid = r.check(p.root(), &[("INPUT_BLUEPRINT", "broken.yaml")]);
    assert_eq!(invalid.status.code(), Some(2), "{}", text(&invalid));
    assert!(r.read("summary.md").contains("could not check"));
}

#[test]
fn install_with_blueprint_bin_reports_that_binary() {
    let r = Runner::new();
    let bin = bin();
    let out = r.action(
        "install",
        r.dir.path(),
        &[("BLUEPRINT_BIN", bin.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(r.read("output"), format!("bin={}\n", bin.display()));
    assert!(r.cargo_calls().is_empty());
}

/// What `action.sh` calls this machine, so the release binary it picks runs here.
fn runner_platform() -> (&'static str, &'static str, &'static str) {
    match std::env::consts::ARCH {
        "x86_64" => ("Linux", "X64", "x86_64-unknown-linux-gnu"),
        "aarch64" => ("Linux", "ARM64", "aarch64-unknown-linux-gnu"),
        other => panic!("no release target for {other}"),
    }
}

/// A release directory as release.yml makes it: the packaged binary, the schema and SHA256SUMS.
fn fake_release(r: &Runner, target: &str) -> PathBuf {
    let dist = r.file("release");
    for args in [
        vec![
            "archive",
            target,
            bin().to_str().unwrap(),
            dist.to_str().unwrap(),
        ],
        vec!["checksums", dist.to_str().unwrap()],
    ] {
        if args[0] == "checksums" {
            fs::copy(
                repo().join("schema/blueprint.schema.json"),
                dist.join("blueprint.schema.json"),
            )
            .unwrap();
        }
        let out = Command::new("bash")
            .arg(repo().join("scripts/release-package.sh"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    dist
}

#[test]
fn install_downloads_verifies_and_unpacks_the_release_binary() {
    let r = Runner::new();
    let (os, arch, target) = runner_platform();
    let dist = fake_release(&r, target);
    let url = format!("file://{}", dist.display());
    let out = r.action(
        "install",
        r.dir.path(),
        &[
            ("RUNNER_OS", os),
            ("RUNNER_ARCH", arch),
            ("INPUT_VERSION", "0.1.0"),
            ("BLUEPRINT_DOWNLOAD_URL", &url),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(r.cargo_calls().is_empty(), "no build: {}", r.cargo_calls());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("blueprint v0.1.0 for"), "{stderr}");
    assert!(stderr.contains("sha256 verified"), "{stderr}");
    let installed = r.file("temp/blueprint-action/bin/blueprint");
    assert_eq!(r.read("output"), format!("bin={}\n", installed.display()));
    assert_eq!(
        r.read("path"),
        format!("{}\n", r.file("temp/blueprint-action/bin").display())
    );
    assert_eq!(fs::read(&installed).unwrap(), fs::read(bin()).unwrap());
    let version = Command::new(&installed).arg("--version").output().unwrap();
    assert!(stdout(&version).starts_with("blueprint "));
}

#[test]
fn install_refuses_a_release_binary_whose_checksum_does_not_match() {
    let r = Runner::new();
    let (os, arch, target) = runner_platform();
    let dist = fake_release(&r, target);
    let sums = fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let archive = format!("blueprint-{target}.tar.gz");
    let tampered: String = sums
        .lines()
        .map(|l| {
            if l.ends_with(&archive) {
                format!("{}{}\n", "0".repeat(64), &l[64..])
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_ne!(tampered, sums);
    fs::write(dist.join("SHA256SUMS"), tampered).unwrap();
    let url = format!("file://{}", dist.display());
    let out = r.action(
        "install",
        r.dir.path(),
        &[
            ("RUNNER_OS", os),
            ("RUNNER_ARCH", arch),
            ("INPUT_VERSION", "v0.1.0"),
            ("BLUEPRINT_DOWNLOAD_URL", &url),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("checksum mismatch"), "{}", text(&out));
    // Tampering is not a missing binary: no quiet fallback to a build, no binary reported.
    assert!(r.cargo_calls().is_empty(), "{}", r.cargo_calls());
    assert!(r.read("output").is_empty());
    assert!(!r.file("temp/blueprint-action/bin/blueprint").exists());
}

#[test]
fn install_builds_the_requested_tag_with_cargo_when_no_binary_fits_the_runner() {
    let r = Runner::new();
    let out = r.action(
        "install",
        r.dir.path(),
        &[
            ("RUNNER_OS", "Windows"),
            ("RUNNER_ARCH", "X64"),
            ("INPUT_VERSION", "1.2.3"),
            ("ACTION_REPOSITORY", "acme/blueprint"),
            ("FAKE_EXE_SUFFIX", ".exe"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let root = r.file("temp/blueprint-action");
    assert_eq!(
        r.cargo_calls(),
        format!(
            "install --locked --root {} --git https://github.com/acme/blueprint --tag v1.2.3 blueprint\n",
            root.display()
        )
    );
    assert_eq!(
        r.read("output"),
        format!("bin={}\n", root.join("bin/blueprint.exe").display())
    );
}

#[test]
fn install_builds_the_actions_own_source_when_its_version_has_no_release() {
    // `uses: OWNER/blueprint@main`: the version comes from the action checkout's Cargo.toml,
    // that release has no binary here (an empty release directory), so the checkout is built.
    let r = Runner::new();
    let (os, arch, _) = runner_platform();
    let empty = r.file("empty-release");
    fs::create_dir_all(&empty).unwrap();
    let url = format!("file://{}", empty.display());
    let action_path = repo();
    let out = r.action(
        "install",
        r.dir.path(),
        &[
            ("RUNNER_OS", os),
            ("RUNNER_ARCH", arch),
            ("ACTION_REF", "main"),
            ("ACTION_REPOSITORY", "acme/blueprint"),
            ("GITHUB_ACTION_PATH", action_path.to_str().unwrap()),
            ("BLUEPRINT_DOWNLOAD_URL", &url),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("blueprint v{} for", env!("CARGO_PKG_VERSION"))),
        "{stderr}"
    );
    assert_eq!(
        r.cargo_calls(),
        format!(
            "install --locked --root {} --path {}\n",
            r.file("temp/blueprint-action").display(),
            action_path.display()
        )
    );
    // The build directory outlives the install directory, for a second use in the same job.
    assert_eq!(
        r.read("cargo.log.target"),
        format!("{}\n", r.file("temp/blueprint-build").display())
    );
}

#[test]
fn action_yml_declares_the_inputs_and_passes_them_only_through_env() {
    let text = fs::read_to_string(repo().join("action.yml")).unwrap();
    let action: serde_json::Value = serde_saphyr::from_str(&text).expect("action.yml is YAML");
    let inputs = &action["inputs"];
    for (name, default) in [
        ("blueprint", "blueprint.yaml"),
        ("out", ""),
        ("mode", "check"),
        ("version", ""),
    ] {
        assert_eq!(inputs[name]["default"], default, "input {name}");
    }
    assert_eq!(action["runs"]["using"], "composite");
    let steps = action["runs"]["steps"].as_array().expect("steps");
    let mut passed = Vec::new();
    for step in steps {
        let run = step["run"].as_str().expect("every step runs the script");
        assert!(!run.contains("${{"), "template expansion inside run: {run}");
        assert!(
            run.contains("\"$GITHUB_ACTION_PATH/scripts/action.sh\""),
            "{run}"
        );
        assert_eq!(step["shell"], "bash");
        for value in step["env"].as_object().into_iter().flat_map(|e| e.values()) {
            passed.push(value.as_str().unwrap().to_string());
        }
    }
    for name in ["blueprint", "out", "mode", "version"] {
        assert!(
            passed.contains(&format!("${{{{ inputs.{name} }}}}")),
            "input {name} reaches the script through env: {passed:?}"
        );
    }
}
