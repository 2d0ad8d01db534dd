//! The command line: argument parsing and the commands. `main` only calls [`run`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};

use crate::blueprint::Blueprint;
use crate::diagnostic::{Diagnostic, render_all};
use crate::model::Model;
use crate::validate::validate_source;
use crate::writer::{self, FileState, Provenance};

/// `println!` without its panic when stdout is closed: a reader that went away
/// (`blueprint validate ... | head`) chose to stop reading, and the exit code still says how
/// the command went. Output that is the command's product goes through [`write_stdout`].
macro_rules! outln {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` without its panic when stderr is closed (`2>&1 | head`), for the same reason.
macro_rules! errln {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Exit code: success, nothing to report.
pub const EXIT_OK: u8 = 0;
/// Exit code: drift or differences found.
pub const EXIT_DIFFERENCES: u8 = 1;
/// Exit code: invalid input, usage error or I/O error.
pub const EXIT_ERROR: u8 = 2;

/// What `--version` prints after the name: the package version and the commit it was built
/// from (`build.rs` finds it; `unknown` outside a git checkout, `-dirty` when tracked files had
/// changes), so a bug report names the exact source.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BLUEPRINT_GIT_COMMIT"),
    ")"
);

/// The exit codes, shown at the end of `--help` and as a section of the man page: scripts and CI
/// branch on them, so they are documented where people look.
const EXIT_STATUS: &str = "Exit status:
  0  success: nothing to report
  1  drift or differences found (check, diff)
  2  invalid blueprint, usage or I/O error, or a render refused because it would overwrite
     files blueprint did not create";

/// Render production-grade infrastructure from one declarative blueprint, and catch drift.
///
/// Exit codes: 0 ok; 1 drift or differences found (check, diff); 2 invalid blueprint, usage
/// or I/O error, or a render refused because it would overwrite files blueprint did not create.
#[derive(Debug, Parser)]
#[command(
    name = "blueprint",
    version = VERSION,
    about,
    long_about = None,
    after_long_help = EXIT_STATUS,
    max_term_width = 100
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats of `check` and `secrets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For programs.
    Json,
    /// For pull requests and CI job summaries (`$GITHUB_STEP_SUMMARY`).
    Markdown,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check blueprints: YAML, schema and semantics. Reports every problem with file:line:col.
    Validate {
        /// Blueprint files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write every generated file (atomically; never over files blueprint did not create).
    Render {
        /// The blueprint file.
        file: PathBuf,
        /// Output root. Default: the blueprint's directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Overwrite files that exist but were not created by blueprint.
        #[arg(long)]
        force: bool,
    },
    /// Show, as a unified diff, what `render` would change. Exit 1 when it would change anything.
    Diff {
        /// The blueprint file.
        file: PathBuf,
        /// Output root. Default: the blueprint's directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// The CI drift check: classify every generated file. Exit 1 unless all are up to date.
    Check {
        /// The blueprint file.
        file: PathBuf,
        /// Output root. Default: the blueprint's directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List every file the blueprint generates, with the generator that makes it.
    List {
        /// The blueprint file.
        file: PathBuf,
    },
    /// Print the blueprint JSON Schema.
    Schema {
        /// Print instead the stable URL of the schema published with each release, for editors'
        /// `$schema` / `yaml-language-server` comments.
        #[arg(long)]
        url: bool,
    },
    /// Print a shell completion script.
    ///
    /// Install it where your shell looks:
    ///   bash: `blueprint completions bash > ~/.local/share/bash-completion/completions/blueprint`
    ///   zsh: `blueprint completions zsh > "${fpath[1]}/_blueprint"`
    ///   fish: `blueprint completions fish > ~/.config/fish/completions/blueprint.fish`
    ///   powershell: `blueprint completions powershell >> $PROFILE`
    ///   elvish: `blueprint completions elvish >> ~/.config/elvish/rc.elv`
    #[command(verbatim_doc_comment)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or write one page per command into a directory.
    ///
    /// `blueprint man | man -l -` reads it; `blueprint man --dir /usr/local/share/man/man1`
    /// installs blueprint.1 and blueprint-<command>.1.
    Man {
        /// Write blueprint.1 and a page per command (blueprint-check.1, ...) here instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Start a project: write a commented starter blueprint.yaml from a preset and render it.
    ///
    /// Missing values are asked for when stdin is a terminal; otherwise --preset and
    /// --repository are required. An existing blueprint.yaml is never overwritten.
    Init {
        /// The project directory (created when missing).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The starter blueprint.
        #[arg(long, value_enum)]
        preset: Option<crate::bootstrap::init::Preset>,
        /// The project name, a DNS label. Default: the directory's name, slugified.
        #[arg(long, value_name = "SLUG")]
        name: Option<String>,
        /// The GitHub repository.
        #[arg(long, value_name = "OWNER/NAME")]
        repository: Option<String>,
    },
    /// Manage the blueprint's environments.
    Env {
        /// What to do.
        #[command(subcommand)]
        command: EnvCommand,
    },
    /// Draft a blueprint from a Docker Compose file, and list what could not be mapped.
    ///
    /// Secret-looking variables become secret references; their values are never copied.
    Import {
        /// The Compose file.
        compose_file: PathBuf,
        /// Where to write the draft (never over an existing file).
        #[arg(long, value_name = "FILE", default_value = "blueprint.yaml")]
        out: PathBuf,
        /// The project name, a DNS label. Default: the Compose project's name or directory.
        #[arg(long, value_name = "SLUG")]
        name: Option<String>,
        /// The GitHub repository. Default: the `origin` remote, else a placeholder to edit.
        #[arg(long, value_name = "OWNER/NAME")]
        repository: Option<String>,
    },
    /// The secrets checklist: every secret (and operator-written file) the rendered stack needs,
    /// where to set it, and where its value comes from if it is lost.
    Secrets {
        /// The blueprint file.
        file: PathBuf,
        /// Only this environment (and the repository-wide secrets).
        #[arg(long, value_name = "ENV")]
        env: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// The `env` subcommands.
#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Add an environment copied from an existing one, keeping the file's comments and
    /// formatting, then render and list the new environment's secrets.
    Add {
        /// The new environment's name (a DNS label).
        name: String,
        /// The environment to copy.
        #[arg(long, value_name = "EXISTING")]
        from: String,
        /// The blueprint file.
        #[arg(default_value = "blueprint.yaml")]
        file: PathBuf,
        /// Output root of the render. Default: the blueprint's directory.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// Parses the arguments and runs the command.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { EXIT_OK });
        }
    };
    ExitCode::from(execute(cli.command))
}

fn execute(command: Command) -> u8 {
    match command {
        Command::Validate { files } => validate(&files),
        Command::Render { file, out, force } => render(&file, out.as_deref(), force),
        Command::Diff { file, out } => diff(&file, out.as_deref()),
        Command::Check { file, out, format } => check(&file, out.as_deref(), format),
        Command::List { file } => list(&file),
        Command::Schema { url: false } => write_stdout(crate::blueprint::json_schema().as_bytes()),
        Command::Init {
            dir,
            preset,
            name,
            repository,
        } => {
            use std::io::IsTerminal as _;
            let options = crate::bootstrap::init::Options {
                dir: without_dots(&dir),
                preset,
                name,
                repository,
            };
            if std::io::stdin().is_terminal() {
                let mut prompter = crate::bootstrap::init::Prompter::new(
                    std::io::stdin().lock(),
                    std::io::stderr(),
                );
                crate::bootstrap::init::run(&options, Some(&mut prompter))
            } else {
                crate::bootstrap::init::run(&options, None)
            }
        }
        Command::Env {
            command:
                EnvCommand::Add {
                    name,
                    from,
                    file,
                    out,
                },
        } => crate::bootstrap::env_add::run(&crate::bootstrap::env_add::Options {
            name,
            from,
            file,
            out,
        }),
        Command::Import {
            compose_file,
            out,
            name,
            repository,
        } => crate::bootstrap::import::run(&crate::bootstrap::import::Options {
            compose_file,
            out,
            name,
            repository,
        }),
        Command::Secrets { file, env, format } => {
            match crate::bootstrap::secrets::run(&file, env.as_deref(), format == Format::Json) {
                Ok(()) => EXIT_OK,
                Err(failure) => failure.report(),
            }
        }
        Command::Schema { url: true } => {
            outln!("{}", crate::schema_url());
            EXIT_OK
        }
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics when its writer fails, and a closed pipe
            // (`blueprint completions bash | head`) is no reason to panic.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "blueprint", &mut script);
            write_stdout(&script)
        }
        Command::Man { dir: None } => {
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => write_stdout(&page),
                Err(e) => {
                    errln!("error: {e}");
                    EXIT_ERROR
                }
            }
        }
        Command::Man { dir: Some(dir) } => {
            match std::fs::create_dir_all(&dir)
                .and_then(|()| clap_mangen::generate_to(Cli::command(), &dir))
            {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    errln!("error: {}: {e}", dir.display());
                    EXIT_ERROR
                }
            }
        }
    }
}

/// Writes generated text to stdout. A closed pipe is the reader's choice, not an error.
fn write_stdout(bytes: &[u8]) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => EXIT_OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            errln!("error: writing to stdout: {e}");
            EXIT_ERROR
        }
    }
}

/// Why a blueprint could not be loaded.
pub enum LoadError {
    /// The file could not be read.
    Io(String),
    /// It is not a valid blueprint.
    Invalid(Vec<Diagnostic>),
}

/// Reads and validates a blueprint file.
pub fn load(path: &Path) -> Result<Blueprint, LoadError> {
    use std::io::Read as _;
    let display = path.display().to_string();
    let io = |e: std::io::Error| LoadError::Io(format!("{display}: {e}"));
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let limit = crate::load::MAX_INPUT_BYTES as u64;
    // The size is checked before reading, so a huge file costs nothing; a pipe (`<(...)`) has
    // no size, and is read only up to one byte past the limit.
    if meta.is_file() && meta.len() > limit {
        return Err(LoadError::Invalid(vec![crate::load::too_large(
            &display,
            usize::try_from(meta.len()).unwrap_or(usize::MAX),
        )]));
    }
    if meta.is_dir() {
        return Err(LoadError::Io(format!(
            "{display}: is a folder, not a blueprint file"
        )));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    load_bytes(&display, bytes).map_err(LoadError::Invalid)
}

/// Validates the bytes of a blueprint file named `display` as [`load`] does once it has read
/// them: the size cap, UTF-8 (a leading byte-order mark is dropped), then [`validate_source`].
/// The fuzz target `parse_validate` drives this.
pub fn load_bytes(display: &str, bytes: Vec<u8>) -> Result<Blueprint, Vec<Diagnostic>> {
    if bytes.len() > crate::load::MAX_INPUT_BYTES {
        // Refused before decoding, so a huge file costs no more than its read.
        return Err(vec![crate::load::too_large(display, bytes.len())]);
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
            let span = crate::diagnostic::Span::new(&prefix, valid, valid);
            return Err(vec![
                Diagnostic::new(display, span, "the file is not UTF-8 text")
                    .with_source(&prefix)
                    .with_hint("save the blueprint as UTF-8"),
            ]);
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    validate_source(display, text)
}

fn report_load_error(error: LoadError) -> u8 {
    let mut stderr = anstream::stderr();
    match error {
        LoadError::Io(message) => {
            let _ = writeln!(stderr, "error: {message}");
        }
        LoadError::Invalid(diagnostics) => {
            let _ = write!(stderr, "{}", render_all(&diagnostics, true));
        }
    }
    EXIT_ERROR
}

fn validate(files: &[PathBuf]) -> u8 {
    let mut code = EXIT_OK;
    for file in files {
        match load(file) {
            Ok(blueprint) => {
                outln!("{}: valid", file.display());
                print_cautions(&Model::from_blueprint(&blueprint).cautions());
            }
            Err(e) => code = code.max(report_load_error(e)),
        }
    }
    code
}

/// Prints the model's cautions as warnings on stderr.
fn print_cautions(cautions: &[(String, String)]) {
    let mut stderr = anstream::stderr();
    for (path, message) in cautions {
        let _ = writeln!(stderr, "warning: {path}: {message}");
    }
}

/// `path` without its `.` parts (`new/.` is `new`): creating a missing `new/.` fails, as
/// `mkdir new/.` does, where creating `new` succeeds.
fn without_dots(path: &Path) -> PathBuf {
    match path.components().collect::<PathBuf>() {
        normal if normal.as_os_str().is_empty() => PathBuf::from("."),
        normal => normal,
    }
}

fn out_root(file: &Path, out: Option<&Path>) -> PathBuf {
    match out {
        Some(out) => without_dots(out),
        None => match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    }
}

/// What a command needs to compare or write a render: the plan, the output root, the
/// provenance, and the model's cautions.
struct Planned {
    plan: writer::Plan,
    root: PathBuf,
    provenance: Provenance,
    cautions: Vec<(String, String)>,
}

fn plan_for(file: &Path, out: Option<&Path>) -> Result<Planned, u8> {
    let blueprint = load(file).map_err(report_load_error)?;
    let model = Model::from_blueprint(&blueprint);
    let root = out_root(file, out);
    let provenance = Provenance::new(file, &root);
    match writer::plan(&model, &provenance) {
        Ok(plan) => Ok(Planned {
            plan,
            root,
            provenance,
            cautions: model.cautions(),
        }),
        Err(e) => {
            errln!("error: {e} (this is a bug in blueprint; please report it)");
            Err(EXIT_ERROR)
        }
    }
}

/// `blueprint render`: also the render step of `init` and `env add`. Returns the exit code.
pub(crate) fn render(file: &Path, out: Option<&Path>, force: bool) -> u8 {
    let Planned {
        plan,
        root,
        cautions,
        ..
    } = match plan_for(file, out) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match writer::render(&plan, &root, force) {
        Ok(report) => {
            print_cautions(&cautions);
            let mut stderr = anstream::stderr();
            for note in &report.recovered {
                let _ = writeln!(stderr, "note: {note}");
            }
            for path in &report.overwrote_edits {
                let _ = writeln!(
                    stderr,
                    "warning: {path} had been edited by hand; the edits were replaced"
                );
            }
            for path in &report.kept_orphans {
                let _ = writeln!(
                    stderr,
                    "warning: {path} is no longer generated but was edited by hand; kept it (delete it yourself if it is unused)"
                );
            }
            for path in &report.deleted {
                let _ = writeln!(stderr, "deleted {path} (no longer generated)");
            }
            outln!(
                "rendered {} files into {} ({} written, {} unchanged, {} deleted)",
                plan.files.len(),
                root.display(),
                report.written.len(),
                report.unchanged.len(),
                report.deleted.len()
            );
            EXIT_OK
        }
        Err(e) => {
            errln!("error: {e}");
            EXIT_ERROR
        }
    }
}

fn diff(file: &Path, out: Option<&Path>) -> u8 {
    let Planned { plan, root, .. } = match plan_for(file, out) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match writer::diff(&plan, &root) {
        Ok(diffs) if diffs.is_empty() => {
            errln!("no differences: {} is up to date", root.display());
            EXIT_OK
        }
        Ok(diffs) => {
            let mut stdout = anstream::stdout();
            for d in &diffs {
                for line in d.diff.lines() {
                    let style = if line.starts_with("+++") || line.starts_with("---") {
                        anstyle::Style::new().bold()
                    } else if line.starts_with('+') {
                        anstyle::AnsiColor::Green.on_default()
                    } else if line.starts_with('-') {
                        anstyle::AnsiColor::Red.on_default()
                    } else if line.starts_with("@@") {
                        anstyle::AnsiColor::Cyan.on_default()
                    } else {
                        anstyle::Style::new()
                    };
                    let _ = writeln!(stdout, "{style}{line}{style:#}");
                }
            }
            errln!("{} file(s) would change", diffs.len());
            EXIT_DIFFERENCES
        }
        Err(e) => {
            errln!("error: {e}");
            EXIT_ERROR
        }
    }
}

fn check(file: &Path, out: Option<&Path>, format: Format) -> u8 {
    let Planned {
        plan,
        root,
        provenance,
        ..
    } = match plan_for(file, out) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let statuses = match writer::check(&plan, &root) {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {e}");
            return EXIT_ERROR;
        }
    };
    let drifted: Vec<&writer::FileStatus> = statuses
        .iter()
        .filter(|s| s.state != FileState::UpToDate)
        .collect();
    let fix = format!(
        "blueprint render {} --out {}",
        crate::generate::shell_quote(&file.display().to_string()),
        crate::generate::shell_quote(&root.display().to_string())
    );
    // The JSON and Markdown reports are the command's product: failing to write them is an
    // error, unless the reader went away.
    let written = match format {
        Format::Json => {
            let report = serde_json::json!({
                "blueprint": provenance.blueprint,
                "out": root.display().to_string(),
                "up_to_date": drifted.is_empty(),
                "fix": if drifted.is_empty() { serde_json::Value::Null } else { serde_json::Value::String(fix.clone()) },
                "files": statuses,
            });
            let mut json = serde_json::to_string_pretty(&report).expect("the report serializes");
            json.push('\n');
            write_stdout(json.as_bytes())
        }
        Format::Markdown => write_stdout(
            markdown_summary(&file.display().to_string(), &root, &statuses, &fix).as_bytes(),
        ),
        Format::Text => {
            let mut stdout = anstream::stdout();
            if drifted.is_empty() {
                let _ = writeln!(
                    stdout,
                    "{} files up to date in {}",
                    statuses.len(),
                    root.display()
                );
            } else {
                let mut states: Vec<FileState> = drifted.iter().map(|s| s.state).collect();
                states.sort();
                states.dedup();
                for state in states {
                    let _ = writeln!(stdout, "{}:", state.describe());
                    for s in drifted.iter().filter(|s| s.state == state) {
                        let _ = writeln!(stdout, "  {}", s.path);
                    }
                }
                let _ = writeln!(
                    stdout,
                    "\n{} of {} files drifted from {}. Fix: {fix}",
                    drifted.len(),
                    statuses.len(),
                    file.display()
                );
                if drifted.iter().any(|s| s.state == FileState::EditedByHand) {
                    let _ = writeln!(
                        stdout,
                        "Hand edits are lost on render: move them into the blueprint first."
                    );
                }
                if drifted.iter().any(|s| s.state == FileState::LineEndings) {
                    let _ = writeln!(stdout, "{LINE_ENDINGS_HINT}");
                }
            }
            EXIT_OK
        }
    };
    if written != EXIT_OK {
        return written;
    }
    // Only with text: JSON and Markdown are read by programs or pasted into files whole, and a
    // workflow command line in the middle would corrupt them.
    if format == Format::Text && std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        for s in &drifted {
            let path = root.join(&s.path);
            outln!(
                "::error file={},title=blueprint drift::{} is {}. Run `{}` and commit the result.",
                path.display(),
                s.path,
                s.state.describe(),
                fix
            );
        }
    }
    if drifted.is_empty() {
        EXIT_OK
    } else {
        EXIT_DIFFERENCES
    }
}

/// What to do about files whose only difference is CRLF line endings.
const LINE_ENDINGS_HINT: &str = "Only line endings differ in some files: git converted them to CRLF on checkout (core.autocrlf). Commit a .gitattributes that keeps them LF, with `* text=auto eol=lf` (blueprint init writes it) or a line `<path> text eol=lf` for each generated path, then run `git add --renormalize .` and check out again.";

/// `text` as one Markdown code span, with a fence longer than any run of backticks inside it.
fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// The drift report as Markdown: a heading that says it all, a table of drifted files and the
/// command that fixes them. Written for `$GITHUB_STEP_SUMMARY` and pull request comments.
pub fn markdown_summary(
    blueprint: &str,
    root: &Path,
    statuses: &[writer::FileStatus],
    fix: &str,
) -> String {
    use std::fmt::Write as _;
    let drifted: Vec<&writer::FileStatus> = statuses
        .iter()
        .filter(|s| s.state != FileState::UpToDate)
        .collect();
    let mut out = String::new();
    if drifted.is_empty() {
        let _ = writeln!(
            out,
            "### :white_check_mark: blueprint: generated files are up to date\n\n\
             All {} files generated from {} in {} are up to date.",
            statuses.len(),
            code(blueprint),
            code(&root.display().to_string())
        );
        return out;
    }
    let _ = writeln!(
        out,
        "### :x: blueprint: {} of {} generated files drifted from {}\n",
        drifted.len(),
        statuses.len(),
        code(blueprint)
    );
    let _ = writeln!(out, "| File | State |\n| --- | --- |");
    for s in &drifted {
        // A `|` would end the table cell early.
        let path = code(&root.join(&s.path).display().to_string()).replace('|', "\\|");
        let _ = writeln!(out, "| {path} | {} |", s.state.describe());
    }
    let _ = writeln!(
        out,
        "\nFix: run this, review the result and commit it:\n\n```sh\n{fix}\n```"
    );
    if drifted.iter().any(|s| s.state == FileState::EditedByHand) {
        let _ = writeln!(
            out,
            "\n> [!WARNING]\n> Files edited by hand lose their edits on render: move the \
             change into the blueprint first."
        );
    }
    if drifted.iter().any(|s| s.state == FileState::LineEndings) {
        let _ = writeln!(out, "\n> [!NOTE]\n> {LINE_ENDINGS_HINT}");
    }
    out
}

fn list(file: &Path) -> u8 {
    let Planned { plan, .. } = match plan_for(file, None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let width = plan
        .files
        .iter()
        .map(|f| f.generator.len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for f in &plan.files {
        text.push_str(&format!("{:width$}  {}\n", f.generator, f.path));
    }
    write_stdout(text.as_bytes())
}
