//! The only code that touches the disk: render plans, writes them atomically and safely,
//! diffs them against the disk and classifies drift.
//!
//! Safety rules: a file that exists but is not in the manifest is never overwritten (unless
//! forced); a file the manifest lists is deleted only when it is no longer generated and still
//! has the content blueprint wrote; nothing is written outside the output root, and no symlink
//! inside it is followed for a write.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::generate::{CommentStyle, GENERATORS, GeneratedFile};
use crate::model::Model;

/// Where the manifest lives, relative to the output root.
pub const MANIFEST_PATH: &str = ".blueprint/manifest.json";

/// A file ready to be written: header added, generator named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Path relative to the output root, `/`-separated.
    pub path: String,
    /// Full contents, header included.
    pub contents: String,
    /// Whether it is executable.
    pub executable: bool,
    /// The generator that made it (`manifest` for the manifest itself).
    pub generator: String,
}

/// The manifest: every generated file and the hash of what was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Explains the file to whoever opens it.
    #[serde(rename = "$comment")]
    pub comment: String,
    /// The blueprint, relative to the repository (or output) root.
    pub blueprint: String,
    /// Every generated file, by path.
    pub files: BTreeMap<String, ManifestEntry>,
}

/// One manifest entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// `sha256:<hex>` of the contents blueprint wrote.
    pub sha256: String,
    /// The generator that made it.
    pub generator: String,
}

/// The complete, in-memory result of a render.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Files, sorted by path; the manifest is last.
    pub files: Vec<PlannedFile>,
    /// The manifest those files make.
    pub manifest: Manifest,
}

/// Hex SHA-256 of text, as `sha256:<hex>`.
pub fn hash(contents: &[u8]) -> String {
    let digest = Sha256::digest(contents);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// How generated files name their blueprint and the command that regenerates them.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// The blueprint path as shown in headers.
    pub blueprint: String,
    /// The command that regenerates the files.
    pub command: String,
}

impl Provenance {
    /// Works out header paths: relative to the git repository root when the blueprint and the
    /// output root are inside one (so headers are the same on every machine and checkout),
    /// otherwise relative to the output root.
    pub fn new(blueprint: &Path, out_root: &Path) -> Self {
        let blueprint_abs = absolute(blueprint);
        let out_abs = absolute(out_root);
        let repo = find_repo_root(&out_abs).filter(|r| blueprint_abs.starts_with(r));
        match repo {
            Some(repo) => {
                let bp = relative(&blueprint_abs, &repo);
                let out = relative(&out_abs, &repo);
                let blueprint_dir = relative(blueprint_abs.parent().unwrap_or(&repo), &repo);
                let command = if out == blueprint_dir {
                    format!("blueprint render {bp}")
                } else {
                    format!("blueprint render {bp} --out {out}")
                };
                Self {
                    blueprint: bp,
                    command,
                }
            }
            None => {
                let bp = relative(&blueprint_abs, &out_abs);
                let command = if blueprint_abs.parent() == Some(out_abs.as_path()) {
                    format!("blueprint render {bp}")
                } else {
                    format!("blueprint render {bp} --out .")
                };
                Self {
                    blueprint: bp,
                    command,
                }
            }
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    // Lexical normalization: `a/b/../c` -> `a/c`. Symlinks are deliberately not resolved so
    // the result does not depend on how a machine mounts its checkout.
    let mut out = PathBuf::new();
    for component in abs.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn find_repo_root(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        if d.join(".git").exists() {
            return Some(d.to_path_buf());
        }
        dir = d.parent();
    }
    None
}

fn relative(path: &Path, base: &Path) -> String {
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = Vec::new();
    for _ in common..base.len() {
        parts.push("..".into());
    }
    for c in &path[common..] {
        parts.push(c.as_os_str().to_string_lossy().into_owned());
    }
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn header(provenance: &Provenance) -> String {
    format!(
        "# Generated by blueprint from {}. Do not edit: change the blueprint, then run\n# `{}` (from the repository root).\n",
        provenance.blueprint, provenance.command
    )
}

/// Inserts the header, after a first line that must stay first (`#!` interpreter lines and
/// Dockerfile parser directives such as `# syntax=`).
fn with_header(file: &GeneratedFile, header: &str) -> String {
    let mut contents = file.contents.replace("\r\n", "\n");
    while contents.ends_with("\n\n") {
        contents.pop();
    }
    if !contents.ends_with('\n') {
        contents.push('\n');
    }
    if file.comment == CommentStyle::None {
        return contents;
    }
    let first_line_end = contents.find('\n').map_or(contents.len(), |i| i + 1);
    let first = &contents[..first_line_end];
    if first.starts_with("#!") || first.to_ascii_lowercase().starts_with("# syntax=") {
        format!("{first}{header}{}", &contents[first_line_end..])
    } else {
        format!("{header}{contents}")
    }
}

/// Why a render plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A generator produced a path that is not a safe relative path (a bug).
    #[error("generator `{generator}` produced an unsafe path `{path}`")]
    UnsafePath {
        /// The generator.
        generator: String,
        /// The path.
        path: String,
    },
    /// Two generators produced the same path (a bug).
    #[error("generators `{first}` and `{second}` both produce `{path}`")]
    Collision {
        /// One generator.
        first: String,
        /// The other.
        second: String,
        /// The path.
        path: String,
    },
}

/// Whether a generated path is a plain relative path with no `..`, no absolute part and
/// nothing odd in it.
pub fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

/// Runs every generator and assembles the plan (headers, manifest). Pure: no I/O.
pub fn plan(model: &Model, provenance: &Provenance) -> Result<Plan, PlanError> {
    let header = header(provenance);
    let mut by_path: BTreeMap<String, PlannedFile> = BTreeMap::new();
    for generator in GENERATORS {
        for file in (generator.run)(model) {
            if !is_safe_relative(&file.path) || file.path == MANIFEST_PATH {
                return Err(PlanError::UnsafePath {
                    generator: generator.name.into(),
                    path: file.path,
                });
            }
            let planned = PlannedFile {
                path: file.path.clone(),
                contents: with_header(&file, &header),
                executable: file.executable,
                generator: generator.name.into(),
            };
            if let Some(existing) = by_path.get(&file.path) {
                return Err(PlanError::Collision {
                    first: existing.generator.clone(),
                    second: generator.name.into(),
                    path: file.path,
                });
            }
            by_path.insert(file.path, planned);
        }
    }
    let manifest = Manifest {
        comment: format!(
            "Files generated by blueprint, with the hash of what was written. blueprint uses it to tell its own files from yours. Regenerate with `{}`.",
            provenance.command
        ),
        blueprint: provenance.blueprint.clone(),
        files: by_path
            .values()
            .map(|f| {
                (
                    f.path.clone(),
                    ManifestEntry {
                        sha256: hash(f.contents.as_bytes()),
                        generator: f.generator.clone(),
                    },
                )
            })
            .collect(),
    };
    let mut files: Vec<PlannedFile> = by_path.into_values().collect();
    let mut manifest_text =
        serde_json::to_string_pretty(&manifest).expect("the manifest serializes");
    manifest_text.push('\n');
    files.push(PlannedFile {
        path: MANIFEST_PATH.into(),
        contents: manifest_text,
        executable: false,
        generator: "manifest".into(),
    });
    Ok(Plan { files, manifest })
}

/// An I/O or safety problem while reading or writing the output root.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The file system said no.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The error.
        source: io::Error,
    },
    /// A path inside the output root goes through a symlink.
    #[error(
        "{path}: refusing to write through a symbolic link (it could lead outside the output root)"
    )]
    Symlink {
        /// The path.
        path: String,
    },
    /// The existing manifest cannot be read.
    #[error(
        "{path}: the manifest is not valid ({reason}); restore it from version control or delete it and render with --force"
    )]
    BadManifest {
        /// The manifest's path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Files exist that blueprint did not create.
    #[error("these files exist but blueprint did not create them:\n{}\nnothing was written; move them away, or run again with --force to overwrite them", list(.0))]
    Conflicts(Vec<String>),
    /// Another render holds the lock.
    #[error(
        "another blueprint render is writing to {0} right now; nothing was written. Run again when it has finished"
    )]
    Locked(String),
}

fn list(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn io_error(path: &Path, source: io::Error) -> WriteError {
    WriteError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Refuses a target whose path inside `root` passes through a symlink (or is one).
fn check_no_symlink(root: &Path, relative: &str) -> Result<(), WriteError> {
    let mut current = root.to_path_buf();
    for part in relative.split('/') {
        current.push(part);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(WriteError::Symlink {
                    path: current.display().to_string(),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error(&current, e)),
        }
    }
    Ok(())
}

/// Reads a file that may be missing; a symlink reads as missing-and-unsafe via the caller.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, WriteError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::IsADirectory => Err(io_error(path, e)),
        Err(e) => Err(io_error(path, e)),
    }
}

/// Reads the manifest in `root`, if there is one.
pub fn read_manifest(root: &Path) -> Result<Option<Manifest>, WriteError> {
    let path = root.join(MANIFEST_PATH);
    match read_optional(&path)? {
        None => Ok(None),
        Some(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| WriteError::BadManifest {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })
        }
    }
}

/// Entries of an earlier manifest that the plan no longer generates. Unsafe paths (a
/// hand-edited manifest) are never touched.
fn orphans<'a>(
    old: &'a Manifest,
    plan: &'a Plan,
) -> impl Iterator<Item = (&'a String, &'a ManifestEntry)> {
    old.files
        .iter()
        .filter(|(path, _)| !plan.manifest.files.contains_key(*path) && is_safe_relative(path))
}

/// What a render did.
#[derive(Debug, Default)]
pub struct RenderReport {
    /// Files written (new or changed).
    pub written: Vec<String>,
    /// Files already up to date.
    pub unchanged: Vec<String>,
    /// Generated files that had been edited by hand and were overwritten.
    pub overwrote_edits: Vec<String>,
    /// Files no longer generated, deleted because they were unmodified.
    pub deleted: Vec<String>,
    /// Files no longer generated but edited by hand: kept, and reported.
    pub kept_orphans: Vec<String>,
}

/// Holds the render lock for its lifetime.
struct RenderLock {
    _dir: Option<fs::File>,
}

/// Locks the output root itself (an advisory lock on the directory), so two renders into one
/// root cannot interleave and no lock file is left behind to commit or to go stale.
fn lock(root: &Path) -> Result<RenderLock, WriteError> {
    #[cfg(unix)]
    {
        let dir = fs::File::open(root).map_err(|e| io_error(root, e))?;
        match dir.try_lock() {
            Ok(()) => Ok(RenderLock { _dir: Some(dir) }),
            Err(fs::TryLockError::WouldBlock) => {
                Err(WriteError::Locked(root.display().to_string()))
            }
            Err(fs::TryLockError::Error(e)) => Err(io_error(root, e)),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = root;
        Ok(RenderLock { _dir: None })
    }
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename,
/// so a reader never sees half a file.
fn write_atomic(path: &Path, contents: &[u8], executable: bool) -> Result<(), WriteError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".blueprint-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| io_error(dir, e))?;
    temp.write_all(contents).map_err(|e| io_error(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if executable { 0o755 } else { 0o644 };
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(mode))
            .map_err(|e| io_error(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = executable;
    temp.persist(path).map_err(|e| io_error(path, e.error))?;
    Ok(())
}

/// Writes a plan into `root`. Everything is checked before the first byte is written: an
/// unmanaged file in the way, a symlink, or a held lock stop the render with nothing changed.
pub fn render(plan: &Plan, root: &Path, force: bool) -> Result<RenderReport, WriteError> {
    fs::create_dir_all(root).map_err(|e| io_error(root, e))?;
    let _lock = lock(root)?;
    let old_manifest = read_manifest(root)?;
    let managed = |path: &str| {
        path == MANIFEST_PATH
            || old_manifest
                .as_ref()
                .is_some_and(|m| m.files.contains_key(path))
    };
    let mut report = RenderReport::default();
    let mut conflicts = Vec::new();
    let mut to_write: Vec<&PlannedFile> = Vec::new();
    for file in &plan.files {
        check_no_symlink(root, &file.path)?;
        let target = root.join(&file.path);
        match read_optional(&target)? {
            Some(existing) if existing == file.contents.as_bytes() => {
                report.unchanged.push(file.path.clone());
                if executable_differs(&target, file.executable) {
                    to_write.push(file);
                }
            }
            Some(existing) => {
                if !managed(&file.path) && !force {
                    conflicts.push(file.path.clone());
                    continue;
                }
                let recorded = old_manifest
                    .as_ref()
                    .and_then(|m| m.files.get(&file.path))
                    .map(|e| e.sha256.as_str());
                if recorded.is_some_and(|h| h != hash(&existing)) {
                    report.overwrote_edits.push(file.path.clone());
                }
                to_write.push(file);
            }
            None => to_write.push(file),
        }
    }
    if !conflicts.is_empty() {
        return Err(WriteError::Conflicts(conflicts));
    }
    // Orphans: generated before, not any more.
    let mut to_delete = Vec::new();
    if let Some(old) = &old_manifest {
        for (path, entry) in orphans(old, plan) {
            check_no_symlink(root, path)?;
            let target = root.join(path);
            match read_optional(&target)? {
                None => {}
                Some(bytes) if hash(&bytes) == entry.sha256 => to_delete.push(path.clone()),
                Some(_) => report.kept_orphans.push(path.clone()),
            }
        }
    }
    // The manifest goes last, so an interrupted render leaves the old manifest describing
    // files that are either old or new, never unknown.
    for file in to_write {
        write_atomic(
            &root.join(&file.path),
            file.contents.as_bytes(),
            file.executable,
        )?;
        if !report.unchanged.contains(&file.path) {
            report.written.push(file.path.clone());
        }
    }
    for path in to_delete {
        let target = root.join(&path);
        fs::remove_file(&target).map_err(|e| io_error(&target, e))?;
        remove_empty_parents(root, &target);
        report.deleted.push(path);
    }
    Ok(report)
}

fn executable_differs(path: &Path, executable: bool) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).is_ok_and(|m| (m.permissions().mode() & 0o111 != 0) != executable)
    }
    #[cfg(not(unix))]
    {
        let _ = (path, executable);
        false
    }
}

fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// The state of one file in a drift check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileState {
    /// Matches a fresh render.
    UpToDate,
    /// Unchanged since blueprint wrote it, but the blueprint now renders it differently.
    OutOfDate,
    /// Its content differs from what blueprint last wrote: someone edited it.
    EditedByHand,
    /// Generated, but not on disk.
    Missing,
    /// Listed in the manifest, no longer generated, still on disk.
    Orphaned,
    /// On disk, not in the manifest, and different from what would be generated there.
    Conflict,
}

impl FileState {
    /// How the state is shown to people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::UpToDate => "up to date",
            Self::OutOfDate => "out of date (the blueprint changed)",
            Self::EditedByHand => "edited by hand",
            Self::Missing => "missing",
            Self::Orphaned => "orphaned (no longer generated)",
            Self::Conflict => "conflict (a file blueprint did not create is in the way)",
        }
    }
}

/// One file's drift.
#[derive(Debug, Clone, Serialize)]
pub struct FileStatus {
    /// Path relative to the output root.
    pub path: String,
    /// Its state.
    pub state: FileState,
    /// The generator (empty for orphans).
    pub generator: String,
}

/// Classifies every generated, recorded or conflicting file. Reads, never writes.
pub fn check(plan: &Plan, root: &Path) -> Result<Vec<FileStatus>, WriteError> {
    let old_manifest = read_manifest(root)?;
    let mut statuses = Vec::new();
    for file in &plan.files {
        let target = root.join(&file.path);
        let symlink = fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink());
        let on_disk = if symlink {
            None
        } else {
            read_optional(&target)?
        };
        let recorded = old_manifest
            .as_ref()
            .and_then(|m| m.files.get(&file.path))
            .map(|e| e.sha256.clone());
        let state = match on_disk {
            None if symlink => FileState::Conflict,
            None => FileState::Missing,
            Some(bytes) if bytes == file.contents.as_bytes() => FileState::UpToDate,
            Some(bytes) => match recorded {
                Some(h) if h == hash(&bytes) => FileState::OutOfDate,
                Some(_) => FileState::EditedByHand,
                None if file.path == MANIFEST_PATH => FileState::OutOfDate,
                None => FileState::Conflict,
            },
        };
        statuses.push(FileStatus {
            path: file.path.clone(),
            state,
            generator: file.generator.clone(),
        });
    }
    if let Some(old) = &old_manifest {
        for (path, entry) in orphans(old, plan) {
            if root.join(path).exists() {
                statuses.push(FileStatus {
                    path: path.clone(),
                    state: FileState::Orphaned,
                    generator: entry.generator.clone(),
                });
            }
        }
    }
    statuses.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(statuses)
}

/// One file's difference between disk and a fresh render, as a unified diff.
#[derive(Debug, Clone)]
pub struct FileDiff {
    /// Path relative to the output root.
    pub path: String,
    /// The unified diff text (with `---`/`+++` headers).
    pub diff: String,
}

/// Unified diffs of everything `render` would change: new, changed and deleted files.
pub fn diff(plan: &Plan, root: &Path) -> Result<Vec<FileDiff>, WriteError> {
    let old_manifest = read_manifest(root)?;
    let mut diffs = Vec::new();
    let mut push = |path: &str, old: Option<&str>, new: Option<&str>| {
        let text = similar::TextDiff::from_lines(old.unwrap_or(""), new.unwrap_or(""))
            .unified_diff()
            .context_radius(3)
            .header(
                &if old.is_some() {
                    format!("a/{path}")
                } else {
                    "/dev/null".into()
                },
                &if new.is_some() {
                    format!("b/{path}")
                } else {
                    "/dev/null".into()
                },
            )
            .to_string();
        diffs.push(FileDiff {
            path: path.to_string(),
            diff: text,
        });
    };
    for file in &plan.files {
        if file.path == MANIFEST_PATH {
            continue;
        }
        let on_disk = read_optional(&root.join(&file.path))?;
        let old = on_disk.as_deref().map(String::from_utf8_lossy);
        if old.as_deref() != Some(file.contents.as_str()) {
            push(&file.path, old.as_deref(), Some(&file.contents));
        }
    }
    if let Some(old) = &old_manifest {
        for (path, entry) in orphans(old, plan) {
            if let Some(bytes) = read_optional(&root.join(path))?
                && hash(&bytes) == entry.sha256
            {
                push(path, Some(&String::from_utf8_lossy(&bytes)), None);
            }
        }
    }
    diffs.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(diffs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_go_after_directives_and_shebangs() {
        let header = "# H\n";
        let docker =
            GeneratedFile::hash_commented("Dockerfile", "# syntax=docker/dockerfile:1\nFROM x\n");
        assert_eq!(
            with_header(&docker, header),
            "# syntax=docker/dockerfile:1\n# H\nFROM x\n"
        );
        let script = GeneratedFile::hash_commented("run.sh", "#!/bin/sh\necho hi\n");
        assert_eq!(with_header(&script, header), "#!/bin/sh\n# H\necho hi\n");
        let yaml = GeneratedFile::hash_commented("a.yaml", "a: 1\n\n\n");
        assert_eq!(with_header(&yaml, header), "# H\na: 1\n");
        let json = GeneratedFile::uncommented("a.json", "{}");
        assert_eq!(with_header(&json, header), "{}\n");
    }

    #[test]
    fn safe_paths() {
        assert!(is_safe_relative("services/api/Dockerfile"));
        assert!(is_safe_relative(".github/workflows/ci.yml"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a\\b",
            "./a",
        ] {
            assert!(!is_safe_relative(bad), "{bad:?}");
        }
    }

    #[test]
    fn relative_paths() {
        let blueprint = Path::new("/r/blueprints/x/blueprint.yaml");
        assert_eq!(
            relative(blueprint, Path::new("/r")),
            "blueprints/x/blueprint.yaml"
        );
        assert_eq!(
            relative(blueprint, Path::new("/r/generated/x")),
            "../../blueprints/x/blueprint.yaml"
        );
        assert_eq!(
            relative(blueprint, Path::new("/r/blueprints/x")),
            "blueprint.yaml"
        );
        assert_eq!(relative(Path::new("/r"), Path::new("/r")), ".");
    }
}
