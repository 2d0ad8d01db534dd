//! `blueprint init`: a commented starter blueprint from a preset, rendered at once.
//!
//! Presets are YAML templates compiled into the binary (`presets/*.yaml`). Their placeholders
//! are replaced by values that were validated first (a DNS label, an `owner/name`), and the
//! result is validated as a blueprint before anything is written, so a starter blueprint is
//! always one that renders and passes `blueprint check`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use super::Failure;
use super::secrets::{Scope, checklist};

/// The `.gitattributes` `init` writes where there is none.
const GITATTRIBUTES: &str = "# Written by blueprint init: text files keep LF line endings on every checkout, so the\n# generated files stay byte for byte what `blueprint check` compares them with.\n* text=auto eol=lf\n";

/// The `.gitignore` `init` writes where there is none: what only a host holds stays out of git.
const GITIGNORE: &str = "# Written by blueprint init: what only a host holds stays out of git. Each environment's\n# secrets (.env.<env>) and the proxy's credentials file are set where they are used\n# (`blueprint secrets` lists them); the .env.<env>.example templates are committed.\n.env\n.env.*\n!.env.*.example\nproxy/htpasswd\n";

/// The name of the blueprint file `init` writes.
pub const BLUEPRINT_FILE: &str = "blueprint.yaml";

/// A starter blueprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// The reference system: Django API, Streamlit dashboard, scheduled jobs, PostgreSQL,
    /// S3, nginx and the whole monitoring stack.
    DataPlatform,
    /// One API with PostgreSQL, a reverse proxy and monitoring.
    WebApi,
    /// A static site on Vercel.
    StaticSite,
}

impl Preset {
    /// Every preset, in the order they are offered.
    pub const ALL: [Preset; 3] = [Preset::WebApi, Preset::DataPlatform, Preset::StaticSite];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::DataPlatform => "data-platform",
            Preset::WebApi => "web-api",
            Preset::StaticSite => "static-site",
        }
    }

    /// One line on what it sets up.
    pub fn describe(self) -> &'static str {
        match self {
            Preset::DataPlatform => {
                "Django API, Streamlit dashboard, jobs, PostgreSQL, S3, nginx, monitoring"
            }
            Preset::WebApi => "one API with PostgreSQL, a reverse proxy and monitoring",
            Preset::StaticSite => "a static site on Vercel",
        }
    }

    fn template(self) -> &'static str {
        match self {
            Preset::DataPlatform => include_str!("presets/data-platform.yaml"),
            Preset::WebApi => include_str!("presets/web-api.yaml"),
            Preset::StaticSite => include_str!("presets/static-site.yaml"),
        }
    }

    /// The preset's text with the project's name and repository filled in. Both are checked
    /// first, so what is substituted is only ever `[a-z0-9-]` and `[A-Za-z0-9_.-/]`: text that
    /// cannot end a YAML scalar or start a comment.
    pub fn render(self, name: &str, repository: &str) -> Result<String, Failure> {
        if !super::is_dns_label(name) {
            return Err(Failure::Usage(format!(
                "the project name `{name}` is not a DNS label (lowercase letters, digits and `-`, starting with a letter, at most 63 characters)"
            )));
        }
        if !super::is_repository(repository) {
            return Err(Failure::Usage(format!(
                "the repository `{repository}` is not a GitHub `owner/name`"
            )));
        }
        // `true`, `false` and `null` are DNS labels too, but plain YAML scalars that are not
        // strings: where the name is a whole value it is quoted then.
        let scalar = if matches!(name, "true" | "false" | "null") {
            format!("\"{name}\"")
        } else {
            name.to_string()
        };
        Ok(self
            .template()
            .replace("@@SCHEMA_URL@@", &crate::schema_url())
            .replace("@@NAME_SCALAR@@", &scalar)
            .replace("@@NAME@@", name)
            .replace("@@REPOSITORY@@", repository))
    }
}

/// What `init` was asked for on the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project directory (created when missing).
    pub dir: PathBuf,
    /// The preset, when given.
    pub preset: Option<Preset>,
    /// The project name, when given.
    pub name: Option<String>,
    /// The repository, when given.
    pub repository: Option<String>,
}

/// Asks the user one question.
pub trait Ask {
    /// Shows `question` (with `default`, taken on an empty answer) and returns the answer.
    fn ask(&mut self, question: &str, default: Option<&str>) -> Result<String, Failure>;
}

/// Asks on a terminal: questions on one stream, answers read from another.
pub struct Prompter<R, W> {
    input: R,
    output: W,
}

impl<R: BufRead, W: Write> Prompter<R, W> {
    /// A prompter reading answers from `input` and writing questions to `output`.
    pub fn new(input: R, output: W) -> Self {
        Self { input, output }
    }
}

impl<R: BufRead, W: Write> Ask for Prompter<R, W> {
    fn ask(&mut self, question: &str, default: Option<&str>) -> Result<String, Failure> {
        let shown = match default {
            Some(d) => format!("{question} [{d}]: "),
            None => format!("{question}: "),
        };
        let io = |e: std::io::Error| Failure::Io(format!("terminal: {e}"));
        write!(self.output, "{shown}").map_err(io)?;
        self.output.flush().map_err(io)?;
        let mut line = String::new();
        if self.input.read_line(&mut line).map_err(io)? == 0 {
            return Err(Failure::Usage(format!(
                "no answer to `{question}` (end of input); pass it as a flag instead"
            )));
        }
        let answer = line.trim();
        Ok(match (answer.is_empty(), default) {
            (true, Some(d)) => d.to_string(),
            _ => answer.to_string(),
        })
    }
}

/// The settled answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    /// The project name (a DNS label).
    pub name: String,
    /// The preset.
    pub preset: Preset,
    /// `owner/name`.
    pub repository: String,
}

/// How many times a question is asked again after an invalid answer.
const ATTEMPTS: usize = 3;

fn ask_until<T>(
    ask: &mut dyn Ask,
    question: &str,
    default: Option<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
    err: &mut dyn Write,
) -> Result<T, Failure> {
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        let answer = ask.ask(question, default)?;
        match parse(&answer) {
            Ok(value) => return Ok(value),
            Err(why) => {
                let _ = writeln!(err, "  {why}");
                last = why;
            }
        }
    }
    Err(Failure::Usage(last))
}

fn parse_name(answer: &str) -> Result<String, String> {
    if super::is_dns_label(answer) {
        Ok(answer.to_string())
    } else {
        let hint = super::slugify(answer)
            .map(|s| format!(" (try `{s}`)"))
            .unwrap_or_default();
        Err(format!(
            "`{answer}` is not a DNS label: lowercase letters, digits and `-`, starting with a letter{hint}"
        ))
    }
}

fn parse_repository(answer: &str) -> Result<String, String> {
    if super::is_repository(answer) {
        Ok(answer.to_string())
    } else {
        Err(format!(
            "`{answer}` is not a GitHub repository as `owner/name`"
        ))
    }
}

fn parse_preset(answer: &str) -> Result<Preset, String> {
    let by_number = answer
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| Preset::ALL.get(i).copied());
    by_number
        .or_else(|| Preset::ALL.into_iter().find(|p| p.name() == answer))
        .ok_or_else(|| {
            let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
            format!(
                "`{answer}` is not a preset; answer one of {}",
                names.join(", ")
            )
        })
}

/// Settles the name, preset and repository from the flags, asking for what is missing when
/// `ask` is given (stdin is a terminal) and failing with the missing flag's name otherwise.
pub fn answers(
    options: &Options,
    mut ask: Option<&mut dyn Ask>,
    err: &mut dyn Write,
) -> Result<Answers, Failure> {
    let default_name = default_name(&options.dir);
    let name = match (&options.name, ask.as_deref_mut()) {
        (Some(name), _) => parse_name(name).map_err(|e| Failure::Usage(format!("--name: {e}")))?,
        (None, Some(ask)) => ask_until(
            ask,
            "Project name",
            default_name.as_deref(),
            parse_name,
            err,
        )?,
        (None, None) => default_name.ok_or_else(|| {
            Failure::Usage(format!(
                "the directory name `{}` does not make a project name: pass --name NAME",
                options.dir.display()
            ))
        })?,
    };
    let preset = match (options.preset, ask.as_deref_mut()) {
        (Some(preset), _) => preset,
        (None, Some(ask)) => {
            let _ = writeln!(err, "Presets:");
            for (i, p) in Preset::ALL.iter().enumerate() {
                let _ = writeln!(err, "  {}. {:14} {}", i + 1, p.name(), p.describe());
            }
            ask_until(
                ask,
                "Preset (number or name)",
                Some(Preset::ALL[0].name()),
                parse_preset,
                err,
            )?
        }
        (None, None) => {
            let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
            return Err(Failure::Usage(format!(
                "missing --preset NAME (one of {}); stdin is not a terminal, so blueprint init does not ask",
                names.join(", ")
            )));
        }
    };
    let repository = match (&options.repository, ask) {
        (Some(repo), _) => {
            parse_repository(repo).map_err(|e| Failure::Usage(format!("--repository: {e}")))?
        }
        (None, Some(ask)) => {
            let default = git_origin(&options.dir);
            ask_until(
                ask,
                "GitHub repository (owner/name)",
                default.as_deref(),
                parse_repository,
                err,
            )?
        }
        (None, None) => {
            return Err(Failure::Usage(
                "missing --repository OWNER/NAME (the GitHub repository; images and runbook links are named after it); stdin is not a terminal, so blueprint init does not ask".into(),
            ));
        }
    };
    Ok(Answers {
        name,
        preset,
        repository,
    })
}

/// The directory's own name, slugified (`My App` -> `my-app`).
fn default_name(dir: &Path) -> Option<String> {
    let absolute = std::path::absolute(dir).ok()?;
    // `absolute` keeps `..` and `.`; the last normal component is the directory's name.
    let mut parts: Vec<String> = Vec::new();
    for c in absolute.components() {
        match c {
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    super::slugify(parts.last()?)
}

/// `owner/name` of the `origin` remote of the git repository `dir` is in, when it is on GitHub.
pub fn git_origin(dir: &Path) -> Option<String> {
    let mut existing = std::path::absolute(dir).ok()?;
    while !existing.is_dir() {
        existing = existing.parent()?.to_path_buf();
    }
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(&existing)
        .args(["remote", "get-url", "origin"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    parse_github_remote(String::from_utf8_lossy(&output.stdout).trim())
}

/// `owner/name` from a GitHub remote URL (`git@github.com:o/n.git`, `https://github.com/o/n`).
pub fn parse_github_remote(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("git@github.com:")
        .or_else(|| url.strip_prefix("ssh://git@github.com/"))
        .or_else(|| url.strip_prefix("https://github.com/"))?;
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    super::is_repository(rest).then(|| rest.to_string())
}

/// `blueprint init`: settles the answers, writes the blueprint, renders it and prints the next
/// steps. Returns the exit code.
pub fn run(options: &Options, ask: Option<&mut dyn Ask>) -> u8 {
    match init(options, ask) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

fn init(options: &Options, ask: Option<&mut dyn Ask>) -> Result<u8, Failure> {
    // `init` in the current directory names the file plainly in what it prints.
    let file = if options.dir == Path::new(".") {
        PathBuf::from(BLUEPRINT_FILE)
    } else {
        options.dir.join(BLUEPRINT_FILE)
    };
    if std::fs::symlink_metadata(&file).is_ok() {
        return Err(Failure::Usage(format!(
            "{} already exists; blueprint init never overwrites it (nothing was written). Edit it, or add an environment with `blueprint env add`",
            file.display()
        )));
    }
    if options.dir.exists() && !options.dir.is_dir() {
        return Err(Failure::Usage(format!(
            "{} exists and is not a directory",
            options.dir.display()
        )));
    }
    let answers = answers(options, ask, &mut anstream::stderr())?;
    let text = answers.preset.render(&answers.name, &answers.repository)?;
    let display = file.display().to_string();
    let blueprint = crate::validate::validate_source(&display, &text).map_err(|d| {
        // Presets are tested; reaching this is a bug, but the diagnostics say where.
        let mut d = d;
        if let Some(first) = d.first_mut() {
            first.hint = Some("this preset is broken: please report it".into());
        }
        Failure::Invalid(d)
    })?;
    let conflicts = super::conflicts(&blueprint, &file, &options.dir)?;
    super::refuse_conflicts(&conflicts, &options.dir)?;
    std::fs::create_dir_all(&options.dir)
        .map_err(|e| Failure::Io(format!("{}: {e}", options.dir.display())))?;
    super::write_new(&file, &text)?;
    super::print(&format!(
        "wrote {display} ({} preset, project {}, repository {})\n",
        answers.preset.name(),
        answers.name,
        answers.repository
    ))?;
    // Generated files are LF, and `check` compares bytes: a Windows checkout (core.autocrlf)
    // would make every one CRLF. A .gitattributes already there is the project's, and kept.
    let attributes = file.with_file_name(".gitattributes");
    if std::fs::symlink_metadata(&attributes).is_err() {
        super::write_new(&attributes, GITATTRIBUTES)?;
        super::print(&format!(
            "wrote {} (line endings stay LF on every checkout, as blueprint check expects)\n",
            attributes.display()
        ))?;
    }
    // Secrets live in `.env.<env>` beside the Compose files: one `git add .` must not commit
    // them. A .gitignore already there is the project's: kept, and checked for the rule.
    let ignore = file.with_file_name(".gitignore");
    match std::fs::read_to_string(&ignore) {
        Err(_) if std::fs::symlink_metadata(&ignore).is_err() => {
            super::write_new(&ignore, GITIGNORE)?;
            super::print(&format!(
                "wrote {} (each environment's secrets file and proxy/htpasswd are never committed)\n",
                ignore.display()
            ))?;
        }
        Ok(text) if !text.lines().any(|l| l.trim() == ".env.*") => {
            super::print(&format!(
                "note: {} has no `.env.*` line: add `.env.*` and `!.env.*.example` so that no environment's secrets are committed\n",
                ignore.display()
            ))?;
        }
        _ => {}
    }
    if let Err(code) = super::render(&file, &options.dir) {
        return Ok(code);
    }
    let list = checklist(&blueprint, &options.dir, Scope::All);
    let mut checklist_text = Vec::new();
    // Writing into memory cannot fail.
    let _ = list.write_text(&mut checklist_text, &display);
    let mut steps = String::from("\nNext steps:\n1. Set the secrets:\n");
    for line in String::from_utf8_lossy(&checklist_text).lines() {
        if line.is_empty() {
            steps.push('\n');
        } else {
            steps.push_str(&format!("   {line}\n"));
        }
    }
    steps.push_str(&format!(
        "   (`blueprint secrets {display}` prints this list again.)\n"
    ));
    let sources: Vec<String> = blueprint
        .services
        .iter()
        .map(|(name, s)| format!("{} ({name})", s.path))
        .collect();
    steps.push_str(&format!(
        "2. Put each service's code in its directory: {}.\n",
        sources.join(", ")
    ));
    steps.push_str(&format!(
        "3. Edit {display} (domains, e-mail, alerts), then `blueprint render {display}`.\n"
    ));
    steps.push_str(&format!(
        "4. Commit {display} and the generated files; CI runs `blueprint check {display}` to catch drift.\n"
    ));
    super::print(&steps)?;
    Ok(crate::cli::EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Script(Vec<&'static str>, Vec<String>);

    impl Ask for Script {
        fn ask(&mut self, question: &str, default: Option<&str>) -> Result<String, Failure> {
            self.1.push(format!("{question} {default:?}"));
            if self.0.is_empty() {
                return Err(Failure::Usage("end of input".into()));
            }
            let answer = self.0.remove(0);
            Ok(match (answer, default) {
                ("", Some(d)) => d.to_string(),
                (a, _) => a.to_string(),
            })
        }
    }

    fn options(dir: &str) -> Options {
        Options {
            dir: PathBuf::from(dir),
            preset: None,
            name: None,
            repository: None,
        }
    }

    #[test]
    fn every_preset_renders_a_valid_blueprint_with_the_values_substituted() {
        for preset in Preset::ALL {
            for name in ["shop", "true", &"a".repeat(63)] {
                let text = preset.render(name, "some-org/shop.web").unwrap();
                assert!(
                    !text.contains("@@"),
                    "{}: a placeholder is left",
                    preset.name()
                );
                assert!(
                    text.starts_with(&format!(
                        "# yaml-language-server: $schema={}\n",
                        &crate::schema_url()
                    )),
                    "{}",
                    preset.name()
                );
                let bp = crate::validate::validate_source("t.yaml", &text).unwrap_or_else(|d| {
                    panic!(
                        "{} with {name}: {}",
                        preset.name(),
                        crate::diagnostic::render_all(&d, false)
                    )
                });
                assert_eq!(bp.project.name, name);
                assert_eq!(bp.project.repository, "some-org/shop.web");
            }
        }
    }

    #[test]
    fn bad_values_are_refused_before_substitution() {
        assert!(Preset::WebApi.render("x\ny: 1", "a/b").is_err());
        assert!(Preset::WebApi.render("shop", "a/b # c").is_err());
        assert!(Preset::WebApi.render("Shop", "a/b").is_err());
    }

    #[test]
    fn without_a_terminal_missing_flags_are_named() {
        let mut err = Vec::new();
        let mut o = options("/tmp/My Shop");
        o.repository = Some("acme/shop".into());
        let Err(Failure::Usage(m)) = answers(&o, None, &mut err) else {
            panic!("must fail")
        };
        assert!(m.contains("--preset"), "{m}");
        o.preset = Some(Preset::WebApi);
        o.repository = None;
        let Err(Failure::Usage(m)) = answers(&o, None, &mut err) else {
            panic!("must fail")
        };
        assert!(m.contains("--repository"), "{m}");
        o.repository = Some("acme/shop".into());
        let a = answers(&o, None, &mut err).unwrap();
        assert_eq!(a.name, "my-shop", "the name defaults to the directory's");
        o.name = Some("Bad Name".into());
        let Err(Failure::Usage(m)) = answers(&o, None, &mut err) else {
            panic!("must fail")
        };
        assert!(m.contains("--name") && m.contains("bad-name"), "{m}");
    }

    #[test]
    fn on_a_terminal_missing_values_are_asked_with_defaults() {
        let mut err = Vec::new();
        let mut script = Script(vec!["", "nope", "2", "not a repo", "acme/shop"], vec![]);
        let a = answers(&options("/tmp/My Shop"), Some(&mut script), &mut err).unwrap();
        assert_eq!(
            a,
            Answers {
                name: "my-shop".into(),
                preset: Preset::DataPlatform,
                repository: "acme/shop".into()
            }
        );
        assert_eq!(script.1[0], "Project name Some(\"my-shop\")");
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("`nope` is not a preset"), "{err}");
        assert!(
            err.contains("`not a repo` is not a GitHub repository"),
            "{err}"
        );
        // Given flags are not asked again.
        let mut script = Script(vec![], vec![]);
        let mut o = options("/tmp/x");
        o.preset = Some(Preset::StaticSite);
        o.name = Some("site".into());
        o.repository = Some("a/b".into());
        answers(&o, Some(&mut script), &mut Vec::new()).unwrap();
        assert!(script.1.is_empty());
    }

    #[test]
    fn the_prompter_reads_lines_and_takes_defaults() {
        let mut out = Vec::new();
        let mut p = Prompter::new(&b"\nweb-api\n"[..], &mut out);
        assert_eq!(p.ask("Name", Some("d")).unwrap(), "d");
        assert_eq!(p.ask("Preset", None).unwrap(), "web-api");
        assert!(p.ask("More", None).is_err(), "end of input is an error");
        assert_eq!(String::from_utf8(out).unwrap(), "Name [d]: Preset: More: ");
    }

    #[test]
    fn github_remotes() {
        assert_eq!(
            parse_github_remote("git@github.com:acme/shop.git").as_deref(),
            Some("acme/shop")
        );
        assert_eq!(
            parse_github_remote("https://github.com/acme/shop").as_deref(),
            Some("acme/shop")
        );
        assert_eq!(parse_github_remote("https://gitlab.com/acme/shop"), None);
    }
}
