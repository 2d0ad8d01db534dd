//! Records the commit the binary is built from, for `blueprint --version`.
//!
//! Never fails the build: without git, outside a checkout, or in a source tree that sits inside
//! someone else's repository (vendored, unpacked from crates.io), the commit is `unknown`.
//! `BLUEPRINT_GIT_COMMIT` in the environment wins, for packagers building from a tarball.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=BLUEPRINT_GIT_COMMIT");
    println!("cargo::rerun-if-changed=build.rs");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = match std::env::var("BLUEPRINT_GIT_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => commit.trim().to_string(),
        _ => from_git(&manifest_dir).unwrap_or_else(|| "unknown".to_string()),
    };
    println!("cargo::rustc-env=BLUEPRINT_GIT_COMMIT={commit}");
}

/// Runs git in `dir`; its trimmed stdout when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `abc1234`, or `abc1234-dirty` when tracked files differ from that commit.
fn from_git(dir: &Path) -> Option<String> {
    // The checkout must be this crate's own: a crate unpacked inside another repository would
    // otherwise report that repository's commit.
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(dir).ok()? {
        return None;
    }
    let commit = git(dir, &["rev-parse", "--short", "HEAD"])?;
    watch_head(dir);
    // Sources are watched so that the dirty flag follows edits; `--no-optional-locks` keeps
    // `status` from rewriting the index of a tree someone is working in.
    for path in ["src", "Cargo.toml", "Cargo.lock"] {
        if dir.join(path).exists() {
            println!("cargo::rerun-if-changed={path}");
        }
    }
    let status = git(
        dir,
        &[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    )?;
    Some(if status.is_empty() {
        commit
    } else {
        format!("{commit}-dirty")
    })
}

/// Asks cargo to rerun this script when HEAD moves: a commit, checkout or reset changes the
/// worktree's HEAD, its reflog or the branch's ref. Paths come from git, so linked worktrees
/// (where `.git` is a file) work; only existing files are named, since cargo reruns every
/// build for a missing one.
fn watch_head(dir: &Path) {
    let mut names = vec![
        "HEAD".to_string(),
        "logs/HEAD".to_string(),
        "packed-refs".to_string(),
    ];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        names.push(branch);
    }
    for name in names {
        if let Some(path) = git(dir, &["rev-parse", "--git-path", &name]) {
            let path = dir.join(path);
            if path.is_file() {
                println!("cargo::rerun-if-changed={}", path.display());
            }
        }
    }
}
