//! Render safety under hostile conditions: failures and kills at every step of the commit, a
//! full disk, a folder render may not write to, an immutable file, stale temporary files. Each
//! scenario renders a first blueprint, then tries a second that changes, adds and deletes
//! files, and proves the tree is exactly the old one or exactly the new one, never a mix.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::text;

/// Two services: rendering [`V2`] over it changes files, adds none and deletes the worker's.
const V1: &str = "project:
  name: hello
  repository: acme/hello
services:
  api:
    runtime: fastapi
    path: api
    port: 8000
  worker:
    runtime: python-worker
    path: worker
    entrypoint: worker.main
";

/// One service on another port.
const V2: &str = "project:
  name: hello
  repository: acme/hello
services:
  api:
    runtime: fastapi
    path: api
    port: 8001
";

/// `blueprint <args>` in `root`, as a user runs it: colours off, outside GitHub Actions, no
/// injected fault, nothing on stdin.
fn command(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(common::bin());
    command
        .args(args)
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("BLUEPRINT_FAULT")
        .stdin(std::process::Stdio::null());
    command
}

fn run(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = command(root, args);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the binary runs")
}

fn render(root: &Path, env: &[(&str, &str)]) -> Output {
    run(root, &["render", "blueprint.yaml"], env)
}

/// Every file and folder under `root` but the blueprint: contents and permission bits.
fn snapshot(root: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    for entry in walk(root) {
        let rel = entry.strip_prefix(root).unwrap().display().to_string();
        if rel == "blueprint.yaml" {
            continue;
        }
        let meta = fs::symlink_metadata(&entry).unwrap();
        let bytes = if meta.is_file() {
            fs::read(&entry).unwrap()
        } else {
            b"<dir>".to_vec()
        };
        out.insert(rel, (bytes, meta.permissions().mode()));
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// A directory with V1 written and rendered; returns the tree V1 renders.
fn rendered_v1(root: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    fs::write(root.join("blueprint.yaml"), V1).unwrap();
    let out = render(root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    fs::write(root.join("blueprint.yaml"), V2).unwrap();
    snapshot(root)
}

/// The tree V2 renders into an empty directory.
fn v2_tree() -> BTreeMap<String, (Vec<u8>, u32)> {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("blueprint.yaml"), V2).unwrap();
    let out = render(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    snapshot(dir.path())
}

/// The first differing path between two trees, for a readable failure.
fn first_difference(
    a: &BTreeMap<String, (Vec<u8>, u32)>,
    b: &BTreeMap<String, (Vec<u8>, u32)>,
) -> Option<String> {
    a.keys()
        .chain(b.keys())
        .find(|k| a.get(*k) != b.get(*k))
        .cloned()
}

/// A refused render: exit 2, its cause and "nothing was changed" said, the tree exactly `before`.
fn assert_refused_unchanged(
    out: &Output,
    cause: &str,
    root: &Path,
    before: &BTreeMap<String, (Vec<u8>, u32)>,
    case: &str,
) {
    assert_eq!(out.status.code(), Some(2), "{case}: {}", text(out));
    assert!(
        text(out).contains(cause) && text(out).contains("nothing was changed"),
        "{case}: {}",
        text(out)
    );
    assert_eq!(
        first_difference(&snapshot(root), before),
        None,
        "{case}: the failed render changed the tree"
    );
}

/// The next render, without --force, succeeds and leaves exactly V2's tree.
fn assert_next_render_recovers(root: &Path, case: &str) -> String {
    let out = render(root, &[]);
    assert_eq!(out.status.code(), Some(0), "{case}: {}", text(&out));
    let after = snapshot(root);
    let expected = v2_tree();
    assert_eq!(
        first_difference(&after, &expected),
        None,
        "{case}: the tree after recovery is not V2's"
    );
    text(&out)
}

/// Commit points and how many times each is passed when V2 is rendered over V1: 11 files
/// written (each staged and placed, 10 of them replacing an old one), 2 deleted.
const POINTS: &[(&str, usize)] = &[
    ("stage", 11),
    ("journal", 1),
    ("backup", 10),
    ("place", 11),
    ("delete", 2),
    ("finish", 1),
];

/// The passes to fault: the first, one in the middle and the last.
fn passes(count: usize) -> Vec<usize> {
    let mut n = vec![1, count.div_ceil(2), count];
    n.dedup();
    n
}

#[test]
fn a_failure_at_any_commit_step_leaves_the_old_tree_exactly() {
    for (point, count) in POINTS {
        for n in passes(*count) {
            let case = format!("{point}:{n}:fail");
            let dir = tempfile::tempdir().unwrap();
            let before = rendered_v1(dir.path());
            let out = render(dir.path(), &[("BLUEPRINT_FAULT", &case)]);
            assert_refused_unchanged(&out, "injected fault", dir.path(), &before, &case);
            assert_next_render_recovers(dir.path(), &case);
        }
    }
}

#[test]
fn a_kill_at_any_commit_step_is_finished_or_rolled_back_by_the_next_render() {
    // The commit points, and a kill during the rollback of a failure at the last placement
    // (the rollback passes once for each of the 13 steps).
    let mut cases: Vec<String> = Vec::new();
    for (point, count) in POINTS {
        cases.extend(
            passes(*count)
                .into_iter()
                .map(|n| format!("{point}:{n}:abort")),
        );
    }
    cases.extend(
        passes(13)
            .into_iter()
            .map(|n| format!("place:11:fail,rollback:{n}:abort")),
    );
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        rendered_v1(dir.path());
        let out = render(dir.path(), &[("BLUEPRINT_FAULT", &case)]);
        assert_eq!(
            out.status.code(),
            None,
            "{case}: not killed: {}",
            text(&out)
        );
        let journal = dir.path().join(".blueprint/journal.json").exists();
        let report = assert_next_render_recovers(dir.path(), &case);
        if journal {
            assert!(
                report.contains("rolled back an interrupted render")
                    || report.contains("finished an interrupted render"),
                "{case}: the recovery is not reported: {report}"
            );
        } else if case.starts_with("stage") && case != "stage:1:abort" {
            // Killed after the first staged file: the staging area is left, and removed.
            assert!(
                report.contains("removed .blueprint/staging"),
                "{case}: {report}"
            );
        }
        for leftover in [
            ".blueprint/journal.json",
            ".blueprint/staging",
            ".blueprint/backup",
        ] {
            assert!(
                !dir.path().join(leftover).exists(),
                "{case}: {leftover} is left"
            );
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether tests that need a privilege the machine may not grant must run anyway.
fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn chown_tree(root: &Path, uid: u32) {
    for path in walk(root).into_iter().chain([root.to_path_buf()]) {
        std::os::unix::fs::lchown(&path, Some(uid), Some(uid)).unwrap();
    }
}

#[test]
fn a_folder_render_may_not_write_to_changes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    const NOBODY: u32 = 65534;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    rendered_v1(root);
    // Root writes anywhere: the render runs as an unprivileged user who owns the project.
    if is_root() {
        chown_tree(root, NOBODY);
    }
    // Its files change when the port does, and it sorts after folders whose files change too.
    let locked = root.join("monitoring/prometheus");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
    let before = snapshot(root);
    let mut command = Command::new(common::bin());
    command
        .args(["render", "blueprint.yaml"])
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS");
    if is_root() {
        command.uid(NOBODY).gid(NOBODY);
    }
    let out = command.output().unwrap();
    assert_refused_unchanged(&out, "Permission denied", root, &before, "read-only folder");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
    if is_root() {
        chown_tree(root, 0);
    }
    assert_next_render_recovers(root, "after the folder is writable again");
}

#[test]
fn an_immutable_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let before = rendered_v1(root);
    let target = root.join("api/Dockerfile");
    let chattr = Command::new("chattr").arg("+i").arg(&target).output();
    if !chattr.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(!required(), "chattr +i is needed under CI: {chattr:?}");
        eprintln!("skipped: chattr +i is not permitted here ({chattr:?})");
        return;
    }
    let out = render(root, &[]);
    let _ = Command::new("chattr").arg("-i").arg(&target).status();
    assert_refused_unchanged(&out, "api/Dockerfile", root, &before, "chattr +i");
    assert_next_render_recovers(root, "after chattr -i");
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        if out.as_ref().is_ok_and(|o| o.status.success()) {
            Some(Self { dir })
        } else {
            assert!(!required(), "mounting a tmpfs is needed under CI: {out:?}");
            eprintln!("skipped: mounting a tmpfs is not permitted here ({out:?})");
            None
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_changes_nothing() {
    use std::io::Write as _;
    let Some(disk) = Tmpfs::mount("1m") else {
        return;
    };
    let root = disk.dir.path().join("project");
    fs::create_dir(&root).unwrap();
    let before = rendered_v1(&root);
    // Fill the disk, then free one page: the first staged file fits, the next does not. (With
    // this much room, writing file by file in place failed half-way, leaving a mix.)
    let filler = disk.dir.path().join("filler");
    let mut file = fs::File::create(&filler).unwrap();
    let block = vec![b'x'; 4096];
    while file
        .write_all(&block)
        .and_then(|()| file.sync_all())
        .is_ok()
    {}
    let len = file.metadata().unwrap().len();
    file.set_len(len.saturating_sub(4096)).unwrap();
    drop(file);
    let out = render(&root, &[]);
    assert_refused_unchanged(&out, "No space left on device", &root, &before, "full disk");
    fs::remove_file(&filler).unwrap();
    assert_next_render_recovers(&root, "after space is freed");
}

#[test]
fn temporary_files_left_by_a_killed_render_are_removed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    rendered_v1(root);
    // Where renders before the staging area wrote them: beside the files they replaced.
    fs::write(
        root.join("monitoring/prometheus/.blueprint-Ab12Cd.tmp"),
        "half",
    )
    .unwrap();
    fs::write(root.join(".blueprint-Xy34Zw.tmp"), "half").unwrap();
    // Not a folder blueprint writes to: never looked at.
    fs::create_dir(root.join("notes")).unwrap();
    fs::write(root.join("notes/.blueprint-mine.tmp"), "mine").unwrap();
    let out = render(root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for name in [
        "monitoring/prometheus/.blueprint-Ab12Cd.tmp",
        ".blueprint-Xy34Zw.tmp",
    ] {
        assert!(!root.join(name).exists(), "{name} is left");
        assert!(
            text(&out).contains(&format!(
                "removed {name}, a temporary file left by an interrupted render"
            )),
            "{}",
            text(&out)
        );
    }
    assert_eq!(
        fs::read_to_string(root.join("notes/.blueprint-mine.tmp")).unwrap(),
        "mine"
    );
}

/// Runs `command` on V1's render with `path` replaced by what `make` puts there, in a thread
/// that must finish within 20 s (a hang is a failure, not a stuck test run).
fn odd_file_case(command: &'static str, path: &'static str, make: fn(&Path)) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    rendered_v1(&root);
    fs::write(root.join("blueprint.yaml"), V1).unwrap();
    let target = root.join(path);
    fs::remove_file(&target).unwrap();
    make(&target);
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let args: &[&str] = if command == "render" {
            &["render", "blueprint.yaml", "--force"]
        } else {
            &[command, "blueprint.yaml"]
        };
        let _ = send.send(run(&root, args, &[]));
    });
    let out = receive
        .recv_timeout(std::time::Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{command} hangs on {path}"));
    drop(dir);
    out
}

fn fifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

fn socket(path: &Path) {
    // Kept bound for as long as the test process runs: only its name on disk matters.
    std::mem::forget(std::os::unix::net::UnixListener::bind(path).unwrap());
}

#[test]
fn a_fifo_or_socket_at_a_generated_path_is_refused_not_waited_on() {
    for (make, kind) in [
        (fifo as fn(&Path), "a named pipe (FIFO)"),
        (socket, "a socket"),
    ] {
        for command in ["render", "check", "diff"] {
            let out = odd_file_case(command, "api/Dockerfile", make);
            assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out));
            assert!(
                text(&out).contains(&format!("api/Dockerfile: is {kind}, not a regular file")),
                "{command}: {}",
                text(&out)
            );
        }
    }
}

#[test]
fn a_device_at_a_generated_path_is_refused_and_never_read() {
    // A symlink to /dev/zero is a symlink (never followed); a device node itself needs root.
    if !is_root() {
        assert!(!required(), "creating a device node needs root under CI");
        eprintln!("skipped: creating a device node needs root");
        return;
    }
    fn zero(path: &Path) {
        let status = Command::new("mknod")
            .arg(path)
            .args(["c", "1", "5"])
            .status()
            .unwrap();
        assert!(status.success());
    }
    for command in ["render", "check", "diff"] {
        let out = odd_file_case(command, "api/Dockerfile", zero);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out));
        assert!(
            text(&out).contains("api/Dockerfile: is a device, not a regular file"),
            "{command}: {}",
            text(&out)
        );
    }
}

#[test]
fn diff_never_follows_a_symlink_at_a_generated_path() {
    fn environ(path: &Path) {
        std::os::unix::fs::symlink("/proc/self/environ", path).unwrap();
    }
    fn zero(path: &Path) {
        std::os::unix::fs::symlink("/dev/zero", path).unwrap();
    }
    for make in [environ as fn(&Path), zero] {
        let out = odd_file_case("diff", "api/Dockerfile", make);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains("api/Dockerfile: is a symbolic link"),
            "{}",
            text(&out)
        );
        // The test's own environment is the child's: any of it in the output is a leak.
        assert!(
            !text(&out).contains("CARGO_MANIFEST_DIR="),
            "{}",
            text(&out)
        );
        let check = odd_file_case("check", "api/Dockerfile", make);
        assert_eq!(check.status.code(), Some(2), "{}", text(&check));
        assert!(
            text(&check).contains("api/Dockerfile: is a symbolic link"),
            "{}",
            text(&check)
        );
    }
}

#[test]
fn a_symlinked_folder_is_refused_by_check_as_by_render() {
    // `api` holds generated files; `worker` only files no longer generated (V2 drops it).
    for (folder, blueprint) in [("api", V1), ("worker", V2)] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        rendered_v1(root);
        fs::write(root.join("blueprint.yaml"), blueprint).unwrap();
        // The same files, reached through a link to a copy outside the root.
        let outside = tempfile::tempdir().unwrap();
        let copy = outside.path().join(folder);
        fs::rename(root.join(folder), &copy).unwrap();
        std::os::unix::fs::symlink(&copy, root.join(folder)).unwrap();
        let before = snapshot(root);
        for command in ["render", "check", "diff"] {
            let out = run(root, &[command, "blueprint.yaml"], &[]);
            let case = format!("{folder} {command}");
            assert_eq!(out.status.code(), Some(2), "{case}: {}", text(&out));
            assert!(
                text(&out).contains(&format!("{folder}: is a symbolic link")),
                "{case}: {}",
                text(&out)
            );
        }
        assert_eq!(first_difference(&snapshot(root), &before), None, "{folder}");
    }
}

#[test]
fn a_huge_blueprint_is_refused_by_its_size_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blueprint.yaml");
    // Sparse: 300 MB that take no room on disk, but would in memory if read.
    fs::File::create(&file)
        .unwrap()
        .set_len(300_000_000)
        .unwrap();
    let out = run(dir.path(), &["validate", "blueprint.yaml"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("the file is 300000000 bytes"),
        "{}",
        text(&out)
    );
    // The largest resident set of any child this process has waited for: far below 300 MB.
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    assert!(
        usage.ru_maxrss < 150 * 1024,
        "a child used {} KiB",
        usage.ru_maxrss
    );
}

/// V1's render with `path` (holding `contents`) listed in the manifest with its right hash.
fn tampered(root: &Path, path: &str, contents: &str, generator: &str) {
    rendered_v1(root);
    fs::write(root.join("blueprint.yaml"), V1).unwrap();
    if !path.starts_with('/') && !path.starts_with("..") {
        let target = root.join(path);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        if !target.exists() {
            fs::write(&target, contents).unwrap();
        }
    }
    let manifest_path = root.join(".blueprint/manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(&manifest_path).unwrap()).unwrap();
    let bytes = fs::read(root.join(path.trim_start_matches('/'))).unwrap_or_default();
    manifest["files"][path] = serde_json::json!({
        "sha256": blueprint::writer::hash(&bytes),
        "generator": generator,
    });
    fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_manifest_listing_a_path_blueprint_never_writes_is_refused_not_obeyed() {
    for (path, why) in [
        (".git/config", "is inside .git/"),
        ("blueprint.yaml", "is the blueprint itself"),
        (".blueprint/notes.txt", "is in .blueprint/"),
        ("../outside.txt", "is not a plain relative path"),
        ("/etc/hostname", "is not a plain relative path"),
        ("api/../docs/x.md", "is not a plain relative path"),
        ("api//Dockerfile", "is not a plain relative path"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        tampered(root, path, "[core]\n", "containers");
        let before = snapshot(root);
        fs::write(root.join("blueprint.yaml"), V2).unwrap();
        for command in ["render", "check", "diff"] {
            let out = run(root, &[command, "blueprint.yaml"], &[]);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{path} {command}: {}",
                text(&out)
            );
            assert!(
                text(&out).contains("manifest.json: the manifest is not valid")
                    && text(&out).contains(why),
                "{path} {command}: {}",
                text(&out)
            );
        }
        assert_eq!(first_difference(&snapshot(root), &before), None, "{path}");
    }
}

#[test]
fn a_manifest_naming_an_unknown_generator_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tampered(root, "docs/notes.md", "notes\n", "my-generator");
    let out = render(root, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no generator"), "{}", text(&out));
    assert!(root.join("docs/notes.md").exists());
}

#[test]
fn a_users_file_a_tampered_manifest_lists_is_kept_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    tampered(root, "docs/notes.md", "# My notes\n", "containers");
    let out = render(root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        fs::read_to_string(root.join("docs/notes.md")).unwrap(),
        "# My notes\n"
    );
    assert!(
        text(&out).contains("docs/notes.md is no longer generated"),
        "{}",
        text(&out)
    );
    // A file blueprint did write, no longer generated, is still deleted.
    fs::write(root.join("blueprint.yaml"), V2).unwrap();
    let out = render(root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!root.join("worker/Dockerfile").exists(), "{}", text(&out));
}

/// Runs `blueprint <args>` in `root`, killed after `limit`: `None` when it had not finished.
fn run_within(root: &Path, args: &[&str], limit: std::time::Duration) -> Option<Output> {
    let mut child = command(root, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Some(child.wait_with_output().unwrap())
}

#[test]
fn a_mapping_of_95000_keys_is_validated_in_linear_time() {
    // 95,000 keys in one mapping, within every input cap (just under 1 MiB). The duplicate-key scan
    // used to compare each key with every key before it: 4.5 billion comparisons, minutes in a
    // debug build. Linear, it takes well under a second in release and a few in debug; the
    // bound is generous so a busy machine cannot fail it, and far below the quadratic time.
    let mut yaml = V2.replace("    port: 8001\n", "    port: 8001\n    env: {");
    for i in 0..95_000 {
        yaml.push_str(&format!("K{i}: x, "));
    }
    yaml.push_str("Z: x}\n");
    assert!(
        yaml.len() < blueprint::load::MAX_INPUT_BYTES,
        "{}",
        yaml.len()
    );
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("blueprint.yaml"), &yaml).unwrap();
    let out = run_within(
        dir.path(),
        &["validate", "blueprint.yaml"],
        std::time::Duration::from_secs(20),
    )
    .expect("validate finished within 20 s");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Runs `blueprint <args>` in `root` with stdout (`closed == "stdout"`) or stderr writing into
/// a pipe whose reading end is already closed, as after `| head` has exited: every write to it
/// fails with EPIPE, on every run, not one in forty. The other stream is captured.
fn run_into_closed_pipe(root: &Path, args: &[&str], closed: &str) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut command = command(root, args);
    if closed == "stdout" {
        command.stdout(writer).stderr(std::process::Stdio::piped());
    } else {
        command.stderr(writer).stdout(std::process::Stdio::piped());
    }
    command.output().expect("the binary runs")
}

#[test]
fn a_closed_pipe_is_no_panic_and_keeps_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    rendered_v1(root);
    fs::write(root.join("bad.yaml"), "project: [\n").unwrap();
    let commands: &[&[&str]] = &[
        &["validate", "blueprint.yaml"],
        &["validate", "bad.yaml"],
        &["diff", "blueprint.yaml"],
        &["check", "blueprint.yaml"],
        &["check", "blueprint.yaml", "--format", "json"],
        &["check", "blueprint.yaml", "--format", "markdown"],
        &["list", "blueprint.yaml"],
        &["secrets", "blueprint.yaml"],
        &["schema"],
        &["schema", "--url"],
        &["completions", "bash"],
        &["man"],
        &["--help"],
        &["--version"],
        &["render", "missing.yaml"],
        &["render", "blueprint.yaml"],
        &["check", "blueprint.yaml"],
        &["diff", "blueprint.yaml"],
    ];
    for closed in ["stdout", "stderr"] {
        for args in commands {
            // The same command with both streams open says what the exit code must be.
            let expected = run(root, args, &[]).status.code();
            let out = run_into_closed_pipe(root, args, closed);
            let case = format!("{} with {closed} closed", args.join(" "));
            assert_eq!(out.status.code(), expected, "{case}: {}", text(&out));
            assert!(!text(&out).contains("panicked"), "{case}: {}", text(&out));
        }
    }
}

/// V1 rendered and its blueprint back, so `check` passes: the tree of a fresh checkout.
fn checked_out_v1(root: &Path) {
    rendered_v1(root);
    fs::write(root.join("blueprint.yaml"), V1).unwrap();
    let out = run(root, &["check", "blueprint.yaml"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_crlf_checkout_is_told_apart_from_hand_edits() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    checked_out_v1(root);
    // What git with core.autocrlf=true does on checkout: every text file gets CRLF line endings.
    for path in walk(root) {
        if path.is_file() && !path.ends_with("blueprint.yaml") {
            let bytes = fs::read(&path).unwrap();
            let crlf = String::from_utf8(bytes).unwrap().replace('\n', "\r\n");
            fs::write(&path, crlf).unwrap();
        }
    }
    let out = run(root, &["check", "blueprint.yaml"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let printed = text(&out);
    assert!(!printed.contains("edited by hand"), "{printed}");
    assert!(
        printed.contains("only line endings differ (CRLF)"),
        "{printed}"
    );
    assert!(printed.contains("* text=auto eol=lf"), "{printed}");
    let json = run(root, &["check", "blueprint.yaml", "--format", "json"], &[]);
    assert!(
        String::from_utf8_lossy(&json.stdout).contains("\"state\": \"line-endings\""),
        "{}",
        text(&json)
    );
    // A file edited by hand, as well as converted, is still an edit.
    fs::write(root.join("api/Dockerfile"), "FROM scratch\r\n").unwrap();
    let out = run(root, &["check", "blueprint.yaml"], &[]);
    assert!(
        text(&out).contains("edited by hand:\n  api/Dockerfile\n"),
        "{}",
        text(&out)
    );
    // The render writes LF again, and calls no converted file an edit.
    let out = render(root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        text(&out).matches("had been edited by hand").count(),
        1,
        "{}",
        text(&out)
    );
    let out = run(root, &["check", "blueprint.yaml"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_lost_executable_bit_is_drift_and_the_render_restores_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A job, so the render writes the executable jobs/run-job.sh.
    let jobs = "jobs:\n  tick:\n    service: worker\n    schedule: \"*/5 * * * *\"\n    command: [python, -m, worker.tick]\n";
    fs::write(root.join("blueprint.yaml"), format!("{V1}{jobs}")).unwrap();
    let out = render(root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let script = root.join("jobs/run-job.sh");
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&script), 0o755);
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(root, &["check", "blueprint.yaml"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(
            "mode changed (the executable bit differs from the render's):\n  jobs/run-job.sh\n"
        ),
        "{}",
        text(&out)
    );
    let out = run(root, &["diff", "blueprint.yaml"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("old mode 100644\nnew mode 100755\n"),
        "{}",
        text(&out)
    );
    let out = render(root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(mode(&script), 0o755);
    let out = run(root, &["check", "blueprint.yaml"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// The command a generated file's header says regenerates it (between its backticks).
fn header_command(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let start = text.find('`').expect("a command in the header") + 1;
    let end = start + text[start..].find('`').unwrap();
    text[start..end].to_string()
}

/// Runs `command` (a line starting with `blueprint `) pasted into `sh` in `cwd`, with this
/// build's binary as `blueprint`.
fn paste(command: &str, cwd: &Path) -> Output {
    let rest = command
        .strip_prefix("blueprint ")
        .expect("a blueprint command");
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("\"$BLUEPRINT\" {rest}"))
        .current_dir(cwd)
        .env("BLUEPRINT", common::bin())
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS");
    sh.output().unwrap()
}

#[test]
fn regenerate_commands_are_shell_quoted_and_work_when_pasted() {
    for in_repo in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        if in_repo {
            // Headers then name paths from the repository root, where their command runs.
            fs::create_dir(top.join(".git")).unwrap();
        }
        let folder = top.join("my project $HOME 'x'");
        fs::create_dir(&folder).unwrap();
        fs::write(folder.join("blueprint.yaml"), V1).unwrap();
        let blueprint = |command| {
            let args = [
                command,
                "my project $HOME 'x'/blueprint.yaml",
                "--out",
                "out dir",
            ];
            run(top, &args, &[])
        };
        let out = blueprint("render");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let root = top.join("out dir");
        let command = header_command(&root.join("api/Dockerfile"));
        let cwd = if in_repo { top } else { root.as_path() };
        let pasted = paste(&command, cwd);
        assert_eq!(
            pasted.status.code(),
            Some(0),
            "{command}: {}",
            text(&pasted)
        );
        assert!(
            text(&pasted).contains("(0 written, "),
            "{command}: {}",
            text(&pasted)
        );
        // The fix `check` prints works pasted too.
        fs::write(folder.join("blueprint.yaml"), V2).unwrap();
        let check = blueprint("check");
        let printed = String::from_utf8_lossy(&check.stdout).into_owned();
        let fix = printed.rsplit("Fix: ").next().unwrap().trim();
        let pasted = paste(fix, top);
        assert_eq!(pasted.status.code(), Some(0), "{fix}: {}", text(&pasted));
    }
}

#[test]
fn an_out_folder_ending_in_dot_is_created_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("blueprint.yaml"), V2).unwrap();
    for out in ["new/.", "other/./deeper/", "./third/."] {
        let rendered = run(root, &["render", "blueprint.yaml", "--out", out], &[]);
        assert_eq!(
            rendered.status.code(),
            Some(0),
            "{out}: {}",
            text(&rendered)
        );
        let check = run(root, &["check", "blueprint.yaml", "--out", out], &[]);
        assert_eq!(check.status.code(), Some(0), "{out}: {}", text(&check));
    }
    assert!(root.join("new/api/Dockerfile").is_file());
    assert!(root.join("other/deeper/api/Dockerfile").is_file());
    assert!(root.join("third/api/Dockerfile").is_file());
    let init = [
        "init",
        "fourth/.",
        "--preset",
        "web-api",
        "--repository",
        "acme/x",
    ];
    let out = run(root, &init, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(root.join("fourth/blueprint.yaml").is_file());
}

#[test]
fn a_kept_hand_edited_orphan_is_reported_until_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    rendered_v1(root);
    // V2 no longer generates the worker's files; one of them was edited, so it is kept.
    let edited = root.join("worker/Dockerfile");
    let mut text_of = fs::read_to_string(&edited).unwrap();
    text_of.push_str("# my change\n");
    fs::write(&edited, &text_of).unwrap();
    for pass in 0..2 {
        let out = render(root, &[]);
        assert_eq!(out.status.code(), Some(0), "{pass}: {}", text(&out));
        assert!(
            text(&out).contains("warning: worker/Dockerfile is no longer generated"),
            "{pass}: {}",
            text(&out)
        );
        let check = run(root, &["check", "blueprint.yaml"], &[]);
        assert_eq!(check.status.code(), Some(1), "{pass}: {}", text(&check));
        assert!(
            text(&check).contains("orphaned (no longer generated):\n  worker/Dockerfile\n"),
            "{pass}: {}",
            text(&check)
        );
        // Only the orphan: the manifest that keeps listing it is the render's own.
        assert!(text(&check).contains("1 of "), "{pass}: {}", text(&check));
    }
    assert_eq!(fs::read_to_string(&edited).unwrap(), text_of);
    // Once it is gone, the manifest forgets it.
    fs::remove_file(&edited).unwrap();
    let out = render(root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let check = run(root, &["check", "blueprint.yaml"], &[]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
}

#[test]
fn a_render_into_a_root_another_render_holds_stops_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let before = rendered_v1(root);
    // The lock a running render holds: an advisory lock on the output directory itself.
    let held = fs::File::open(root).unwrap();
    held.lock().unwrap();
    let out = render(root, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out)
            .contains("another blueprint render is writing to . right now; nothing was written"),
        "{}",
        text(&out)
    );
    assert_eq!(first_difference(&snapshot(root), &before), None);
    held.unlock().unwrap();
    let out = render(root, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
