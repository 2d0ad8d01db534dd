//! Bootstrapping: starting a blueprint ([`init`]), growing it ([`env_add`]), drafting one from
//! a Compose file ([`import`]) and the secrets checklist ([`secrets`]).
//!
//! Every command here checks everything it can before it writes anything: a refusal leaves the
//! disk as it was. Files are written through a temporary file and a rename, like the
//! [`crate::writer`] does for generated files.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::blueprint::Blueprint;
use crate::diagnostic::{Diagnostic, render_all};
use crate::model::Model;
use crate::syntax::is_dns_label;
use crate::writer::{self, FileState, Provenance};

pub mod env_add;
pub mod import;
pub mod init;
pub mod secrets;

/// Why a bootstrap command stopped. Every kind exits with code 2.
#[derive(Debug)]
pub enum Failure {
    /// Wrong or missing arguments, or a refusal (an existing file, an unknown name).
    Usage(String),
    /// A blueprint that does not validate, with its located diagnostics.
    Invalid(Vec<Diagnostic>),
    /// Reading or writing failed.
    Io(String),
}

impl Failure {
    /// Prints the failure on stderr and returns the exit code (always 2).
    pub fn report(self) -> u8 {
        let mut stderr = anstream::stderr();
        match self {
            Failure::Usage(message) | Failure::Io(message) => {
                let _ = writeln!(stderr, "error: {message}");
            }
            Failure::Invalid(diagnostics) => {
                let _ = write!(stderr, "{}", render_all(&diagnostics, true));
            }
        }
        crate::cli::EXIT_ERROR
    }
}

impl From<crate::cli::LoadError> for Failure {
    fn from(error: crate::cli::LoadError) -> Self {
        match error {
            crate::cli::LoadError::Io(message) => Failure::Io(message),
            crate::cli::LoadError::Invalid(diagnostics) => Failure::Invalid(diagnostics),
        }
    }
}

/// Prints `text` on stdout. A reader that went away (`| head`) is not an error: it has what
/// it wanted, and the command's work is done by then.
pub fn print(text: &str) -> Result<(), Failure> {
    let mut stdout = anstream::stdout();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::Io(format!("stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Whether `repository` is a GitHub `owner/name` (the language's `REPOSITORY_PATTERN`).
pub fn is_repository(repository: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    };
    match repository.split_once('/') {
        Some((owner, name)) => part(owner) && part(name),
        None => false,
    }
}

/// Turns free text (a directory name, a Compose project name) into a DNS label: lower case,
/// runs of other characters become one `-`, a leading digit gets an `app-` prefix. `None`
/// when nothing usable is left.
pub fn slugify(text: &str) -> Option<String> {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let mut slug = slug.trim_matches('-').to_string();
    if slug.starts_with(|c: char| c.is_ascii_digit()) {
        slug.insert_str(0, "app-");
    }
    slug.truncate(63);
    let slug = slug.trim_end_matches('-').to_string();
    is_dns_label(&slug).then_some(slug)
}

/// The directory a blueprint renders into by default: its own.
pub fn blueprint_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Files in `root` that a render of `blueprint` would refuse to overwrite (they exist, were not
/// written by blueprint, and differ from what it would write). Checked before a bootstrap
/// command writes its blueprint, so a render that cannot happen leaves nothing behind.
pub fn conflicts(blueprint: &Blueprint, file: &Path, root: &Path) -> Result<Vec<String>, Failure> {
    let model = Model::from_blueprint(blueprint);
    let provenance = Provenance::new(file, root);
    let plan = writer::plan(&model, &provenance).map_err(|e| {
        Failure::Io(format!(
            "{e} (this is a bug in blueprint; please report it)"
        ))
    })?;
    if !root.exists() {
        return Ok(Vec::new());
    }
    let statuses = writer::check(&plan, root).map_err(|e| Failure::Io(e.to_string()))?;
    Ok(statuses
        .into_iter()
        .filter(|s| s.state == FileState::Conflict)
        .map(|s| s.path)
        .collect())
}

/// Refuses with a message naming the files in the way, when there are any.
pub fn refuse_conflicts(conflicts: &[String], root: &Path) -> Result<(), Failure> {
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(Failure::Usage(format!(
        "rendering into {} would overwrite files blueprint did not create: {}; nothing was written (move them away, or render later with `blueprint render --force`)",
        root.display(),
        conflicts.join(", ")
    )))
}

/// Writes a new file atomically, refusing (without touching it) a file that already exists,
/// even one created a moment ago by someone else.
pub fn write_new(path: &Path, contents: &str) -> Result<(), Failure> {
    let dir = blueprint_dir(path);
    std::fs::create_dir_all(&dir).map_err(|e| Failure::Io(format!("{}: {e}", dir.display())))?;
    let temp = temp_with(&dir, path, contents)?;
    temp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::Usage(format!(
                "{} already exists; nothing was written",
                path.display()
            ))
        } else {
            Failure::Io(format!("{}: {}", path.display(), e.error))
        }
    })?;
    Ok(())
}

/// Replaces an existing file atomically, keeping its permissions.
pub fn write_replace(path: &Path, contents: &str) -> Result<(), Failure> {
    let dir = blueprint_dir(path);
    let temp = temp_with(&dir, path, contents)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(temp.path(), meta.permissions())
            .map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?;
    }
    temp.persist(path)
        .map_err(|e| Failure::Io(format!("{}: {}", path.display(), e.error)))?;
    Ok(())
}

fn temp_with(dir: &Path, path: &Path, contents: &str) -> Result<tempfile::NamedTempFile, Failure> {
    let mut temp = tempfile::Builder::new()
        .prefix(".blueprint-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Failure::Io(format!("{}: {e}", dir.display())))?;
    temp.write_all(contents.as_bytes())
        .map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?;
    }
    Ok(temp)
}

/// Renders `file` into `out` exactly as `blueprint render FILE --out OUT` does; `Err` carries
/// the exit code after the render has reported its error.
pub fn render(file: &Path, out: &Path) -> Result<(), u8> {
    match crate::cli::render(file, Some(out), false) {
        crate::cli::EXIT_OK => Ok(()),
        code => Err(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("prod"));
        assert!(is_dns_label("eu-west-1"));
        assert!(is_dns_label(&"a".repeat(63)));
        for bad in ["", "Prod", "1dev", "dev-", "dev_1", "dé", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad:?}");
        }
    }

    #[test]
    fn repositories() {
        assert!(is_repository("acme/data-platform"));
        assert!(is_repository("A_b.c/d-e.f"));
        for bad in ["acme", "acme/", "/x", "a/b/c", "a b/c", "a/b\n"] {
            assert!(!is_repository(bad), "{bad:?}");
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("My Project").as_deref(), Some("my-project"));
        assert_eq!(
            slugify("  data__platform!! ").as_deref(),
            Some("data-platform")
        );
        assert_eq!(slugify("2048").as_deref(), Some("app-2048"));
        assert_eq!(slugify(".tmpAbC12").as_deref(), Some("tmpabc12"));
        assert_eq!(slugify("---"), None);
        assert_eq!(slugify("日本"), None);
        let long = slugify(&"ab-".repeat(40)).unwrap();
        assert!(is_dns_label(&long), "{long}");
    }
}
