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

use crate::generate::{CommentStyle, GENERATORS, GeneratedFile, shell_quote};
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
    /// The blueprint's path relative to the output root, when it is inside it: a manifest
    /// that lists it is refused, so a render can never delete the blueprint.
    pub blueprint_in_root: Option<String>,
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
    /// The blueprint relative to the output root, when it is inside it.
    pub in_root: Option<String>,
}

impl Provenance {
    /// Works out header paths: relative to the git repository root when the blueprint and the
    /// output root are inside one (so headers are the same on every machine and checkout),
    /// otherwise relative to the output root.
    pub fn new(blueprint: &Path, out_root: &Path) -> Self {
        let blueprint_abs = absolute(blueprint);
        let out_abs = absolute(out_root);
        let repo = find_repo_root(&out_abs).filter(|r| blueprint_abs.starts_with(r));
        let in_root = blueprint_abs
            .starts_with(&out_abs)
            .then(|| relative(&blueprint_abs, &out_abs));
        match repo {
            Some(repo) => {
                let bp = relative(&blueprint_abs, &repo);
                let out = relative(&out_abs, &repo);
                let blueprint_dir = relative(blueprint_abs.parent().unwrap_or(&repo), &repo);
                // Quoted, so the command works pasted whatever the paths hold (` `, `$`, `'`).
                let command = if out == blueprint_dir {
                    format!("blueprint render {}", shell_quote(&bp))
                } else {
                    format!(
                        "blueprint render {} --out {}",
                        shell_quote(&bp),
                        shell_quote(&out)
                    )
                };
                Self {
                    blueprint: bp,
                    command,
                    in_root,
                }
            }
            None => {
                let bp = relative(&blueprint_abs, &out_abs);
                let command = if blueprint_abs.parent() == Some(out_abs.as_path()) {
                    format!("blueprint render {}", shell_quote(&bp))
                } else {
                    format!("blueprint render {} --out .", shell_quote(&bp))
                };
                Self {
                    blueprint: bp,
                    command,
                    in_root,
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

/// How every header begins after its comment marker (`# `, or `<!-- ` in Markdown).
const HEADER_START: &str = "Generated by blueprint from ";

fn header(provenance: &Provenance) -> String {
    format!(
        "# {HEADER_START}{}. Do not edit: change the blueprint, then run\n# `{}` (from the repository root).\n",
        provenance.blueprint, provenance.command
    )
}

/// The `#` header as one HTML comment (for Markdown); a `-->` or `--!>` in a path, which would
/// end the comment early, loses its dashes' meaning.
fn html_comment(header: &str) -> String {
    let text: Vec<&str> = header
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .collect();
    format!(
        "<!-- {} -->\n",
        text.join("\n")
            .replace("-->", "- ->")
            .replace("--!>", "- -!>")
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
    match file.comment {
        CommentStyle::None => return contents,
        CommentStyle::Html => return format!("{}{contents}", html_comment(header)),
        CommentStyle::Hash => {}
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
    files.push(manifest_file(&manifest));
    Ok(Plan {
        files,
        manifest,
        blueprint_in_root: provenance.in_root.clone(),
    })
}

/// The manifest as the file it is written to.
fn manifest_file(manifest: &Manifest) -> PlannedFile {
    let mut text = serde_json::to_string_pretty(manifest).expect("the manifest serializes");
    text.push('\n');
    PlannedFile {
        path: MANIFEST_PATH.into(),
        contents: text,
        executable: false,
        generator: "manifest".into(),
    }
}

/// The files no longer generated that are still on disk: those a render deletes (unmodified,
/// with blueprint's header), and those it keeps (edited), with their entries in the old
/// manifest.
struct Orphans {
    deletable: Vec<(String, ManifestEntry)>,
    kept: BTreeMap<String, ManifestEntry>,
}

impl Orphans {
    fn find(root: &Path, old: Option<&Manifest>, plan: &Plan) -> Result<Self, WriteError> {
        let mut found = Self {
            deletable: Vec::new(),
            kept: BTreeMap::new(),
        };
        for (path, entry) in old.into_iter().flat_map(|old| orphans(old, plan)) {
            match read_generated(root, path)? {
                None => {}
                Some(existing)
                    if hash(&existing.bytes) == entry.sha256
                        && carries_header(&existing.bytes, path) =>
                {
                    found.deletable.push((path.clone(), entry.clone()));
                }
                Some(_) => {
                    found.kept.insert(path.clone(), entry.clone());
                }
            }
        }
        Ok(found)
    }

    /// The manifest file a render writes: the plan's, still listing each kept orphan with
    /// what blueprint wrote there, so `check` goes on reporting it (and a later render on
    /// keeping or, once its edits are undone, deleting it) until it is gone.
    fn manifest(&self, plan: &Plan) -> PlannedFile {
        let mut manifest = plan.manifest.clone();
        manifest.files.extend(self.kept.clone());
        manifest_file(&manifest)
    }
}

/// The plan's files with `manifest` in place of the plan's own manifest.
fn with_manifest<'a>(
    plan: &'a Plan,
    manifest: &'a PlannedFile,
) -> impl Iterator<Item = &'a PlannedFile> {
    plan.files
        .iter()
        .map(move |f| if f.path == MANIFEST_PATH { manifest } else { f })
}

/// Where a render stages the new versions of the files it changes, relative to the output
/// root: inside the root, so on its file system and every move into place is a rename.
pub const STAGING_DIR: &str = ".blueprint/staging";
/// Where a commit moves the old versions of replaced and deleted files until it is done.
pub const BACKUP_DIR: &str = ".blueprint/backup";
/// The commit journal: present exactly while a commit is moving files, so the next render
/// knows to finish or roll back an interrupted one.
pub const JOURNAL_PATH: &str = ".blueprint/journal.json";

/// The most bytes read back from a generated path. The largest generated file is tens of
/// kilobytes; anything bigger at a generated path is not blueprint's, and is never read whole.
pub const MAX_READ_BYTES: u64 = 16 * 1024 * 1024;

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
    /// A path inside the output root is a symlink or goes through one.
    #[error(
        "{path}: is a symbolic link; blueprint never follows links inside the output root (it could lead outside it): move it away"
    )]
    Symlink {
        /// The path.
        path: String,
    },
    /// Something other than a regular file (or a folder on the way) is at a generated path.
    #[error(
        "{path}: is {kind}, not a regular file; blueprint only reads and writes regular files: move it away"
    )]
    NotRegular {
        /// The path.
        path: String,
        /// What it is: "a named pipe (FIFO)", "a device", "a socket".
        kind: &'static str,
    },
    /// A file at a generated path is far larger than anything blueprint generates.
    #[error(
        "{path}: is larger than {MAX_READ_BYTES} bytes, far more than any generated file; blueprint did not write it: move it away"
    )]
    TooLarge {
        /// The path.
        path: String,
    },
    /// The existing manifest cannot be read, or lists a path blueprint never writes.
    #[error(
        "{path}: the manifest is not valid ({reason}); restore it from version control, or delete it and render with --force"
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
    /// Staging failed: nothing in the output root was changed.
    #[error("{0}\nnothing was changed: the render stopped before moving any file into place")]
    NotStaged(Box<WriteError>),
    /// The commit failed and every file it had moved was put back.
    #[error("{0}\nnothing was changed: the files already moved into place were put back")]
    RolledBack(Box<WriteError>),
    /// The commit failed and putting the files back failed too.
    #[error(
        "{error}\nputting the files back failed too ({rollback}); the journal {JOURNAL_PATH} is kept, and the next render finishes the rollback"
    )]
    RollbackFailed {
        /// Why the commit failed.
        error: Box<WriteError>,
        /// Why the rollback failed.
        rollback: Box<WriteError>,
    },
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

/// Fault injection, for the tests of the commit (`tests/safety.rs`):
/// `BLUEPRINT_FAULT=<point>:<n>:<fail|abort>[,...]` makes the n-th pass through `point` either
/// fail with an I/O error or abort the process on the spot, as a kill would. The points are
/// `stage` (before each staged file), `journal` (before the journal is written), `backup`
/// (before each old file is moved aside), `place` (before each new file is moved into place),
/// `delete` (before each orphan is moved aside), `finish` (after the last move, before the
/// journal is removed) and `rollback` (before each step is undone). Several faults, separated
/// by commas, reach a rollback and then interrupt it. Without the variable this costs one
/// environment lookup per process.
fn fault(point: &str) -> io::Result<()> {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};
    type Fault = (String, usize, bool, AtomicUsize);
    static FAULTS: OnceLock<Vec<Fault>> = OnceLock::new();
    let faults = FAULTS.get_or_init(|| {
        let value = std::env::var("BLUEPRINT_FAULT").unwrap_or_default();
        value
            .split(',')
            .filter_map(|spec| {
                let mut parts = spec.split(':');
                let at = parts.next()?.to_string();
                let n = parts.next()?.parse().ok()?;
                let abort = parts.next()? == "abort";
                Some((at, n, abort, AtomicUsize::new(0)))
            })
            .collect()
    });
    for (at, n, abort, passes) in faults {
        if at == point && passes.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            if *abort {
                std::process::abort();
            }
            return Err(io::Error::other(format!(
                "injected fault at {point} #{n} (BLUEPRINT_FAULT)"
            )));
        }
    }
    Ok(())
}

/// What `lstat` says is at `path`: `None` when nothing is.
fn lstat(path: &Path) -> Result<Option<fs::Metadata>, WriteError> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// The kind of a non-regular, non-directory file, for messages.
fn odd_kind(file_type: fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return Some("a device");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
    }
    if file_type.is_file() || file_type.is_dir() || file_type.is_symlink() {
        None
    } else {
        Some("a special file")
    }
}

/// Refuses a path inside `root` that is a symlink or passes through one, and returns what is
/// at its end (`None` when it, or a folder on the way, does not exist).
fn check_no_symlink(root: &Path, relative: &str) -> Result<Option<fs::Metadata>, WriteError> {
    let mut current = root.to_path_buf();
    let mut meta = None;
    for part in relative.split('/') {
        current.push(part);
        match lstat(&current)? {
            Some(m) if m.file_type().is_symlink() => {
                return Err(WriteError::Symlink {
                    path: current.display().to_string(),
                });
            }
            Some(m) => meta = Some(m),
            None => return Ok(None),
        }
    }
    Ok(meta)
}

/// A file found at a generated path.
struct Existing {
    bytes: Vec<u8>,
    executable: bool,
}

/// Opens a file for reading without following a symlink at its last component, and without
/// blocking on a FIFO that was swapped in after the `lstat`.
fn open_nofollow(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    options.open(path)
}

/// Reads what is at the generated path `relative`: `None` when nothing is. A symlink (here or
/// on the way) and anything but a regular file are refused before they are opened; the open
/// does not follow links and the file is checked again once open, so a swap in between is
/// caught; the read is bounded by [`MAX_READ_BYTES`].
fn read_generated(root: &Path, relative: &str) -> Result<Option<Existing>, WriteError> {
    let Some(meta) = check_no_symlink(root, relative)? else {
        return Ok(None);
    };
    let path = root.join(relative);
    let refuse = |meta: &fs::Metadata| -> Result<(), WriteError> {
        if let Some(kind) = odd_kind(meta.file_type()) {
            return Err(WriteError::NotRegular {
                path: path.display().to_string(),
                kind,
            });
        }
        if meta.is_dir() {
            return Err(io_error(
                &path,
                io::Error::new(io::ErrorKind::IsADirectory, "is a folder, not a file"),
            ));
        }
        if meta.len() > MAX_READ_BYTES {
            return Err(WriteError::TooLarge {
                path: path.display().to_string(),
            });
        }
        Ok(())
    };
    refuse(&meta)?;
    let file = match open_nofollow(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(WriteError::Symlink {
                path: path.display().to_string(),
            });
        }
        Err(e) => return Err(io_error(&path, e)),
    };
    let meta = file.metadata().map_err(|e| io_error(&path, e))?;
    refuse(&meta)?;
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut io::Read::take(&file, MAX_READ_BYTES + 1), &mut bytes)
        .map_err(|e| io_error(&path, e))?;
    if bytes.len() as u64 > MAX_READ_BYTES {
        return Err(WriteError::TooLarge {
            path: path.display().to_string(),
        });
    }
    Ok(Some(Existing {
        bytes,
        executable: is_executable(&meta),
    }))
}

fn is_executable(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

/// Why a manifest path is not one blueprint could have written, if it is not.
fn unsafe_manifest_path(path: &str, blueprint: Option<&str>) -> Option<&'static str> {
    if !is_safe_relative(path) {
        Some("is not a plain relative path inside the output root")
    } else if path.split('/').any(|p| p == ".git") {
        Some("is inside .git/, where blueprint never writes")
    } else if path == ".blueprint" || path.starts_with(".blueprint/") {
        Some("is in .blueprint/, blueprint's own state")
    } else if blueprint == Some(path) {
        Some("is the blueprint itself")
    } else {
        None
    }
}

fn is_sha256(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Reads the manifest in `root`, if there is one, and checks every path in it: a plain
/// relative path inside the root, never in `.git/` or `.blueprint/`, never the blueprint
/// (`blueprint`, relative to the root). A manifest that breaks a rule was edited by hand, and
/// is refused rather than obeyed.
pub fn read_manifest(root: &Path, blueprint: Option<&str>) -> Result<Option<Manifest>, WriteError> {
    let path = root.join(MANIFEST_PATH);
    let bad = |reason: String| WriteError::BadManifest {
        path: path.display().to_string(),
        reason,
    };
    let Some(existing) = read_generated(root, MANIFEST_PATH)? else {
        return Ok(None);
    };
    let manifest: Manifest =
        serde_json::from_slice(&existing.bytes).map_err(|e| bad(e.to_string()))?;
    for (file, entry) in &manifest.files {
        if let Some(why) = unsafe_manifest_path(file, blueprint) {
            return Err(bad(format!(
                "it lists `{}`, which {why}; blueprint never generates such a file",
                file.escape_debug()
            )));
        }
        if !GENERATORS.iter().any(|g| g.name == entry.generator) {
            return Err(bad(format!(
                "`{file}` is said to come from `{}`, which is no generator of blueprint's",
                entry.generator.escape_debug()
            )));
        }
        if !is_sha256(&entry.sha256) {
            return Err(bad(format!(
                "the hash of `{file}` is not `sha256:` and 64 lowercase hex digits"
            )));
        }
    }
    Ok(Some(manifest))
}

/// Entries of an earlier manifest that the plan no longer generates. Unsafe paths never get
/// here ([`read_manifest`] refuses them); the filter is a second guard.
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
    /// What was cleaned up after an interrupted render, one sentence each.
    pub recovered: Vec<String>,
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

/// Makes a directory's entries (new names, renames, removals) durable.
fn sync_dir(dir: &Path) -> Result<(), WriteError> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn create_parent(path: &Path) -> Result<(), WriteError> {
    match path.parent() {
        Some(dir) => fs::create_dir_all(dir).map_err(|e| io_error(dir, e)),
        None => Ok(()),
    }
}

fn rename(from: &Path, to: &Path) -> Result<(), WriteError> {
    fs::rename(from, to).map_err(|e| {
        io_error(
            to,
            io::Error::new(e.kind(), format!("moving {} here: {e}", from.display())),
        )
    })
}

/// One move of a commit, recorded in the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum Step {
    /// The staged file replaces the file at this path; the old one goes to the backup.
    Write(String),
    /// The file at this path goes to the backup.
    Delete(String),
}

impl Step {
    fn path(&self) -> &str {
        match self {
            Self::Write(p) | Self::Delete(p) => p,
        }
    }
}

/// The commit journal, written (and synced) before the first move.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Journal {
    #[serde(rename = "$comment")]
    comment: String,
    /// The moves, in order; the manifest's is last.
    steps: Vec<Step>,
}

/// Writes every file to change into the staging area, each synced to disk with its mode set,
/// then syncs the staging folders. Nothing outside `.blueprint/` is touched.
fn stage(root: &Path, files: &[&PlannedFile]) -> Result<(), WriteError> {
    let staging = root.join(STAGING_DIR);
    let mut dirs = std::collections::BTreeSet::new();
    for file in files {
        let path = staging.join(&file.path);
        let fail = |e: io::Error| io_error(&path, e);
        fault("stage").map_err(fail)?;
        let dir = path.parent().unwrap_or(&staging);
        fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        dirs.insert(dir.to_path_buf());
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        let mut out = options.open(&path).map_err(fail)?;
        out.write_all(file.contents.as_bytes()).map_err(fail)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Set, not requested at creation, so the umask cannot strip the executable bit.
            let mode = if file.executable { 0o755 } else { 0o644 };
            out.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(fail)?;
        }
        out.sync_all().map_err(fail)?;
    }
    for dir in &dirs {
        sync_dir(dir)?;
    }
    Ok(())
}

fn write_journal(root: &Path, steps: &[Step]) -> Result<(), WriteError> {
    let path = root.join(JOURNAL_PATH);
    fault("journal").map_err(|e| io_error(&path, e))?;
    let journal = Journal {
        comment: "A blueprint render was moving files into place. The next render finishes or rolls it back; do not edit.".into(),
        steps: steps.to_vec(),
    };
    let text = serde_json::to_string_pretty(&journal).expect("the journal serializes");
    // Written whole under another name, then renamed: the journal is either absent or complete.
    let temp = path.with_extension("json.tmp");
    let mut out = fs::File::create(&temp).map_err(|e| io_error(&temp, e))?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.sync_all())
        .map_err(|e| io_error(&temp, e))?;
    rename(&temp, &path)?;
    sync_dir(&root.join(".blueprint"))
}

fn read_journal(root: &Path) -> Result<Option<Journal>, WriteError> {
    let path = root.join(JOURNAL_PATH);
    let Some(existing) = read_generated(root, JOURNAL_PATH)? else {
        return Ok(None);
    };
    let journal: Journal = serde_json::from_slice(&existing.bytes).map_err(|e| {
        io_error(
            &path,
            io::Error::other(format!("the commit journal is not valid ({e}); blueprint writes it whole, so something else changed it: check the output root, then delete the journal")),
        )
    })?;
    if let Some(bad) = journal
        .steps
        .iter()
        .find(|s| unsafe_manifest_path(s.path(), None).is_some() && s.path() != MANIFEST_PATH)
    {
        return Err(io_error(
            &path,
            io::Error::other(format!(
                "the commit journal lists `{}`, a path blueprint never writes; check the output root, then delete the journal",
                bad.path().escape_debug()
            )),
        ));
    }
    Ok(Some(journal))
}

struct Places<'a> {
    target: PathBuf,
    staged: PathBuf,
    backup: PathBuf,
    step: &'a Step,
}

fn places<'a>(root: &Path, step: &'a Step) -> Places<'a> {
    Places {
        target: root.join(step.path()),
        staged: root.join(STAGING_DIR).join(step.path()),
        backup: root.join(BACKUP_DIR).join(step.path()),
        step,
    }
}

fn apply(root: &Path, step: &Step) -> Result<(), WriteError> {
    let p = places(root, step);
    let fail = |e: io::Error| io_error(&p.target, e);
    match p.step {
        Step::Write(_) => {
            create_parent(&p.target)?;
            if exists(&p.target) {
                fault("backup").map_err(fail)?;
                create_parent(&p.backup)?;
                rename(&p.target, &p.backup)?;
            }
            fault("place").map_err(fail)?;
            rename(&p.staged, &p.target)
        }
        Step::Delete(_) => {
            fault("delete").map_err(fail)?;
            create_parent(&p.backup)?;
            rename(&p.target, &p.backup)
        }
    }
}

/// Whether every step of a journal has been made (a commit killed just before its end).
fn is_complete(root: &Path, steps: &[Step]) -> bool {
    steps.iter().all(|step| {
        let p = places(root, step);
        match step {
            Step::Write(_) => !exists(&p.staged) && exists(&p.target),
            Step::Delete(_) => !exists(&p.target),
        }
    })
}

/// Undoes the steps that were made, last first. Each undo checks where the files are, so a
/// rollback that is itself interrupted can simply be run again.
fn rollback(root: &Path, steps: &[Step]) -> Result<(), WriteError> {
    for step in steps.iter().rev() {
        let p = places(root, step);
        fault("rollback").map_err(|e| io_error(&p.target, e))?;
        if let Step::Write(_) = step
            && !exists(&p.staged)
            && exists(&p.target)
        {
            create_parent(&p.staged)?;
            rename(&p.target, &p.staged)?;
        }
        if exists(&p.backup) {
            create_parent(&p.target)?;
            rename(&p.backup, &p.target)?;
        }
    }
    sync_touched(root, steps)?;
    finish(root, steps)?;
    // Folders the commit created for new files, now empty again.
    for step in steps {
        if let Step::Write(path) = step {
            remove_empty_parents(root, &root.join(path));
        }
    }
    Ok(())
}

fn sync_touched(root: &Path, steps: &[Step]) -> Result<(), WriteError> {
    let dirs: std::collections::BTreeSet<PathBuf> = steps
        .iter()
        .filter_map(|s| root.join(s.path()).parent().map(Path::to_path_buf))
        .collect();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Ends a commit (or a rollback): the journal goes first, then the leftovers.
fn finish(root: &Path, steps: &[Step]) -> Result<(), WriteError> {
    let journal = root.join(JOURNAL_PATH);
    if exists(&journal) {
        fs::remove_file(&journal).map_err(|e| io_error(&journal, e))?;
        sync_dir(&root.join(".blueprint"))?;
    }
    for dir in [BACKUP_DIR, STAGING_DIR] {
        let dir = root.join(dir);
        if exists(&dir) {
            fs::remove_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        }
    }
    for step in steps {
        if let Step::Delete(path) = step {
            remove_empty_parents(root, &root.join(path));
        }
    }
    Ok(())
}

/// Moves the staged files into place, old versions and orphans into the backup, under a
/// journal; on any failure every move made is undone.
fn commit(root: &Path, steps: &[Step]) -> Result<(), WriteError> {
    let result = steps
        .iter()
        .try_for_each(|step| apply(root, step))
        .and_then(|()| sync_touched(root, steps))
        .and_then(|()| fault("finish").map_err(|e| io_error(&root.join(JOURNAL_PATH), e)));
    match result {
        Ok(()) => finish(root, steps),
        Err(error) => match rollback(root, steps) {
            Ok(()) => Err(WriteError::RolledBack(Box::new(error))),
            Err(rollback) => Err(WriteError::RollbackFailed {
                error: Box::new(error),
                rollback: Box::new(rollback),
            }),
        },
    }
}

/// Finishes or rolls back a commit that was interrupted (its journal is still there), and
/// removes a staging area or backup left by a render killed before or after its commit.
fn recover(root: &Path, notes: &mut Vec<String>) -> Result<(), WriteError> {
    if let Some(journal) = read_journal(root)? {
        if is_complete(root, &journal.steps) {
            finish(root, &journal.steps)?;
            notes.push(format!(
                "finished an interrupted render: all {} of its changes had been made",
                journal.steps.len()
            ));
        } else {
            rollback(root, &journal.steps)?;
            notes.push(format!(
                "rolled back an interrupted render ({} changes): the files it had moved were put back",
                journal.steps.len()
            ));
        }
    }
    for (dir, what) in [
        (
            STAGING_DIR,
            "the staging area of a render interrupted before it changed anything",
        ),
        (
            BACKUP_DIR,
            "the backup of a render interrupted after it had finished",
        ),
    ] {
        let path = root.join(dir);
        if lstat(&path)?.is_some() {
            fs::remove_dir_all(&path).map_err(|e| io_error(&path, e))?;
            notes.push(format!("removed {dir}, {what}"));
        }
    }
    let temp = root.join(JOURNAL_PATH).with_extension("json.tmp");
    if lstat(&temp)?.is_some() {
        fs::remove_file(&temp).map_err(|e| io_error(&temp, e))?;
    }
    Ok(())
}

/// Removes the `.blueprint-*.tmp` files that renders before the staging area left next to
/// generated files when they were killed, in the folders blueprint writes to.
fn clean_temp_files<'a>(
    root: &Path,
    paths: impl Iterator<Item = &'a str>,
    notes: &mut Vec<String>,
) -> Result<(), WriteError> {
    let dirs: std::collections::BTreeSet<&str> = paths
        .map(|p| p.rsplit_once('/').map_or("", |(dir, _)| dir))
        .collect();
    for dir in dirs {
        let path = if dir.is_empty() {
            root.to_path_buf()
        } else {
            root.join(dir)
        };
        // Only real folders: a symlink on the way is refused elsewhere, and never followed.
        if !dir.is_empty() && !check_no_symlink(root, dir)?.is_some_and(|m| m.is_dir()) {
            continue;
        }
        let Ok(entries) = fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".blueprint-")
                && name.ends_with(".tmp")
                && entry.file_type().is_ok_and(|t| t.is_file())
            {
                let temp = entry.path();
                fs::remove_file(&temp).map_err(|e| io_error(&temp, e))?;
                let shown = if dir.is_empty() {
                    name.to_string()
                } else {
                    format!("{dir}/{name}")
                };
                notes.push(format!(
                    "removed {shown}, a temporary file left by an interrupted render"
                ));
            }
        }
    }
    Ok(())
}

/// Writes a plan into `root`, all or nothing. Everything is checked before anything is
/// written (an unmanaged file in the way, a symlink, an odd file, a held lock); the files to
/// change are staged and synced in `.blueprint/staging/`; only then are they moved into place,
/// under a journal, and any failure puts back what was moved. A render interrupted earlier is
/// finished or rolled back first.
pub fn render(plan: &Plan, root: &Path, force: bool) -> Result<RenderReport, WriteError> {
    fs::create_dir_all(root).map_err(|e| io_error(root, e))?;
    let _lock = lock(root)?;
    let mut report = RenderReport::default();
    recover(root, &mut report.recovered)?;
    let old_manifest = read_manifest(root, plan.blueprint_in_root.as_deref())?;
    let managed = |path: &str| {
        path == MANIFEST_PATH
            || old_manifest
                .as_ref()
                .is_some_and(|m| m.files.contains_key(path))
    };
    // Orphans (generated before, not any more) first: the manifest goes on listing those kept.
    let orphans = Orphans::find(root, old_manifest.as_ref(), plan)?;
    let manifest = orphans.manifest(plan);
    let files = with_manifest(plan, &manifest);
    let mut conflicts = Vec::new();
    let mut to_write: Vec<&PlannedFile> = Vec::new();
    for file in files {
        match read_generated(root, &file.path)? {
            Some(existing) if existing.bytes == file.contents.as_bytes() => {
                report.unchanged.push(file.path.clone());
                if existing.executable != file.executable {
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
                let lf = lf_line_endings(&existing.bytes);
                if recorded.is_some_and(|h| h != hash(lf.as_deref().unwrap_or(&existing.bytes))) {
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
    let to_delete: Vec<String> = orphans
        .deletable
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    report.kept_orphans = orphans.kept.into_keys().collect();
    let known = plan.files.iter().map(|f| f.path.as_str()).chain(
        old_manifest
            .iter()
            .flat_map(|m| m.files.keys().map(String::as_str)),
    );
    clean_temp_files(root, known, &mut report.recovered)?;
    if to_write.is_empty() && to_delete.is_empty() {
        return Ok(report);
    }
    let state_dir = root.join(".blueprint");
    let had_state_dir = exists(&state_dir);
    if let Err(error) = stage(root, &to_write) {
        let staging = root.join(STAGING_DIR);
        let _ = fs::remove_dir_all(&staging);
        if !had_state_dir {
            let _ = fs::remove_dir(&state_dir);
        }
        return Err(WriteError::NotStaged(Box::new(error)));
    }
    // The manifest's move is last, so until the very end the old manifest describes the tree.
    let mut steps: Vec<Step> = to_write
        .iter()
        .filter(|f| f.path != MANIFEST_PATH)
        .map(|f| Step::Write(f.path.clone()))
        .collect();
    steps.extend(to_delete.iter().cloned().map(Step::Delete));
    if to_write.iter().any(|f| f.path == MANIFEST_PATH) {
        steps.push(Step::Write(MANIFEST_PATH.into()));
    }
    if let Err(error) = write_journal(root, &steps) {
        let _ = fs::remove_dir_all(root.join(STAGING_DIR));
        let _ = fs::remove_file(root.join(JOURNAL_PATH).with_extension("json.tmp"));
        if !had_state_dir {
            let _ = fs::remove_dir(&state_dir);
        }
        return Err(WriteError::NotStaged(Box::new(error)));
    }
    commit(root, &steps)?;
    for file in to_write {
        if !report.unchanged.contains(&file.path) {
            report.written.push(file.path.clone());
        }
    }
    report.deleted = to_delete;
    Ok(report)
}

/// The bytes with every CRLF made LF, when there is a CRLF: what git with `core.autocrlf`
/// does to a checkout, and undoes on commit, so no edit of anyone's.
fn lf_line_endings(bytes: &[u8]) -> Option<Vec<u8>> {
    let crlf = bytes.windows(2).filter(|w| w == b"\r\n").count();
    (crlf > 0).then(|| {
        let mut out = Vec::with_capacity(bytes.len() - crlf);
        for (i, b) in bytes.iter().enumerate() {
            if !(*b == b'\r' && bytes.get(i + 1) == Some(&b'\n')) {
                out.push(*b);
            }
        }
        out
    })
}

/// Whether a file looks like blueprint wrote it: every generated file that takes comments
/// starts (after a `#!` or `# syntax=` line) with blueprint's header, as `#` lines or, in
/// Markdown, as one HTML comment. JSON takes no comments, so a JSON orphan is judged by its
/// hash alone. A manifest edited to list a user's file with its right hash still cannot make a
/// render delete it unless it is JSON.
fn carries_header(bytes: &[u8], path: &str) -> bool {
    path.ends_with(".json")
        || bytes.split(|b| *b == b'\n').take(2).any(|line| {
            ["# ", "<!-- "].iter().any(|marker| {
                line.strip_prefix(marker.as_bytes())
                    .is_some_and(|rest| rest.starts_with(HEADER_START.as_bytes()))
            })
        })
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
    /// Its content is a fresh render's, its executable bit is not (`chmod -x` on a script).
    ModeChanged,
    /// Its content is a fresh render's but for CRLF line endings: a Windows checkout
    /// (`core.autocrlf`), not an edit.
    LineEndings,
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
            Self::ModeChanged => "mode changed (the executable bit differs from the render's)",
            Self::LineEndings => "only line endings differ (CRLF)",
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
    let old_manifest = read_manifest(root, plan.blueprint_in_root.as_deref())?;
    let orphans = Orphans::find(root, old_manifest.as_ref(), plan)?;
    // The manifest a render would write, which lists the orphans it keeps.
    let manifest = orphans.manifest(plan);
    let files = with_manifest(plan, &manifest);
    let mut statuses = Vec::new();
    for file in files {
        // A symlink (or a folder link on the way) is refused as `render` refuses it: calling
        // it a conflict would name the files behind it, not the link to move away.
        let on_disk = read_generated(root, &file.path)?;
        let recorded = old_manifest
            .as_ref()
            .and_then(|m| m.files.get(&file.path))
            .map(|e| e.sha256.clone());
        let state = match on_disk {
            None => FileState::Missing,
            Some(existing) if existing.bytes == file.contents.as_bytes() => {
                if existing.executable == file.executable {
                    FileState::UpToDate
                } else {
                    FileState::ModeChanged
                }
            }
            Some(existing) => match (lf_line_endings(&existing.bytes), recorded) {
                (Some(lf), _) if lf == file.contents.as_bytes() => FileState::LineEndings,
                (lf, Some(h)) if h == hash(lf.as_deref().unwrap_or(&existing.bytes)) => {
                    FileState::OutOfDate
                }
                (_, Some(_)) => FileState::EditedByHand,
                (_, None) if file.path == MANIFEST_PATH => FileState::OutOfDate,
                (_, None) => FileState::Conflict,
            },
        };
        statuses.push(FileStatus {
            path: file.path.clone(),
            state,
            generator: file.generator.clone(),
        });
    }
    // Read as `render` reads them: never through a link.
    for (path, entry) in orphans.deletable.into_iter().chain(orphans.kept) {
        statuses.push(FileStatus {
            path,
            state: FileState::Orphaned,
            generator: entry.generator,
        });
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

/// Unified diffs of everything `render` would change: new, changed and deleted files. A
/// symlink or an odd file at a generated path is refused, as `render` refuses it: its target
/// is never read, so a diff cannot print what a link points at.
pub fn diff(plan: &Plan, root: &Path) -> Result<Vec<FileDiff>, WriteError> {
    let old_manifest = read_manifest(root, plan.blueprint_in_root.as_deref())?;
    let mut diffs = Vec::new();
    let mut modes = Vec::new();
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
        let on_disk = read_generated(root, &file.path)?;
        let old = on_disk.as_ref().map(|e| String::from_utf8_lossy(&e.bytes));
        if old.as_deref() != Some(file.contents.as_str()) {
            push(&file.path, old.as_deref(), Some(&file.contents));
        } else if let Some(existing) = &on_disk
            && existing.executable != file.executable
        {
            // As git shows a mode change: the render sets the mode, and the content stays.
            let mode = |executable| if executable { "100755" } else { "100644" };
            modes.push(FileDiff {
                path: file.path.clone(),
                diff: format!(
                    "diff --git a/{path} b/{path}\nold mode {}\nnew mode {}\n",
                    mode(existing.executable),
                    mode(file.executable),
                    path = file.path
                ),
            });
        }
    }
    for (path, _) in Orphans::find(root, old_manifest.as_ref(), plan)?.deletable {
        if let Some(existing) = read_generated(root, &path)? {
            push(&path, Some(&String::from_utf8_lossy(&existing.bytes)), None);
        }
    }
    diffs.extend(modes);
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
        let markdown = GeneratedFile::markdown("a.md", "# Title\n");
        assert_eq!(
            with_header(&markdown, "# One -->\n# `two --out x`\n"),
            "<!-- One - ->\n`two --out x` -->\n# Title\n"
        );
    }

    #[test]
    fn every_header_style_is_recognised_as_blueprints() {
        let provenance = Provenance {
            blueprint: "blueprint.yaml".into(),
            command: "blueprint render blueprint.yaml".into(),
            in_root: Some("blueprint.yaml".into()),
        };
        let header = header(&provenance);
        for file in [
            GeneratedFile::hash_commented("run.sh", "#!/bin/sh\necho hi\n"),
            GeneratedFile::hash_commented("a.yaml", "a: 1\n"),
            GeneratedFile::markdown("docs/a.md", "# Title\n"),
        ] {
            let written = with_header(&file, &header);
            assert!(carries_header(written.as_bytes(), &file.path), "{written}");
            assert!(!carries_header(file.contents.as_bytes(), &file.path));
        }
        assert!(!carries_header(b"<!-- a note -->\n# Title\n", "a.md"));
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
