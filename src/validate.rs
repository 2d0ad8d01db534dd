//! Validation: YAML syntax, the JSON Schema, then semantic checks. Every problem is reported
//! at once, each located at the key or value it is about.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value as Json;

use crate::blueprint::{
    self, Backup, Blueprint, DeployTarget, EnvValue, Provider, ReceiverKind, Runtime, StoreKind,
};
use crate::diagnostic::{Diagnostic, did_you_mean, is_unprintable};
use crate::load::{self, Node, PathSegment, display_path};
use crate::syntax::{Cron, is_dns_label};

/// Names the generated stack uses for its own containers; services, jobs and stores may not
/// take them.
pub const RESERVED_NAMES: &[&str] = &[
    "proxy",
    "prometheus",
    "alertmanager",
    "grafana",
    "blackbox",
    "pushgateway",
    "certbot",
];

/// The committed schema, which a test holds equal to the one the types generate: reading it is
/// a fraction of the cost of generating it again in every process.
const COMMITTED_SCHEMA: &str = include_str!("../schema/blueprint.schema.json");

fn schema() -> &'static (Json, jsonschema::Validator) {
    static SCHEMA: OnceLock<(Json, jsonschema::Validator)> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let schema: Json =
            serde_json::from_str(COMMITTED_SCHEMA).expect("the committed schema is JSON");
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .expect("the committed schema is valid");
        (schema, validator)
    })
}

/// Parses and validates a blueprint. `file` is how diagnostics name it.
pub fn validate_source(file: &str, source: &str) -> Result<Blueprint, Vec<Diagnostic>> {
    let attach = |diags: Vec<Diagnostic>| -> Vec<Diagnostic> {
        let mut diags: Vec<Diagnostic> = diags.into_iter().map(|d| d.with_source(source)).collect();
        diags.sort_by(|a, b| (a.span.start, &a.message).cmp(&(b.span.start, &b.message)));
        diags.dedup_by(|a, b| a.span.start == b.span.start && a.message == b.message);
        diags
    };
    let document = load::parse(file, source).map_err(attach)?;
    let mut ctx = Context {
        file,
        root: &document.root,
        diagnostics: document.problems.clone(),
        missing: Vec::new(),
        suggested: BTreeSet::new(),
    };
    let json = document.root.to_json();
    if !json.is_object() {
        let found = match &json {
            Json::Array(_) => "the document is a list".to_string(),
            Json::Null => "the document is empty".to_string(),
            other => format!("the document is {}", describe_json(other)),
        };
        ctx.diagnostics.push(
            Diagnostic::new(
                file,
                document.root.span,
                format!("the blueprint must be a mapping, but {found}"),
            )
            .with_expected("`project:` and `services:` at the top level")
            .with_hint(load::STARTER_HINT),
        );
        return Err(attach(ctx.diagnostics));
    }
    let unreadable = unreadable_text(file, &document.root, &mut Vec::new());
    ctx.schema_errors(&json);
    if !unreadable.is_empty() {
        // A value with a hidden character is one mistake: what the schema says of the same
        // value would only repeat it.
        let starts: BTreeSet<usize> = unreadable.iter().map(|d| d.span.start).collect();
        ctx.diagnostics.retain(|d| !starts.contains(&d.span.start));
        ctx.diagnostics.extend(unreadable);
    }
    if !ctx.diagnostics.is_empty() {
        return Err(attach(ctx.diagnostics));
    }
    let blueprint: Blueprint = match serde_json::from_value(json) {
        Ok(bp) => bp,
        Err(error) => {
            // The schema should have caught this; point at the word the deserializer names
            // (`unknown variant `x``) rather than at the whole file.
            let message = error.to_string();
            let word = message.split('`').nth(1).unwrap_or_default();
            let (path, span) = find_text(&document.root, word, &mut Vec::new())
                .unwrap_or((Vec::new(), document.root.span));
            ctx.diagnostics.push(
                Diagnostic::new(
                    file,
                    span,
                    format!("the blueprint does not match its types: {message}"),
                )
                .with_path(display_path(&path)),
            );
            return Err(attach(ctx.diagnostics));
        }
    };
    ctx.semantic(&blueprint);
    if ctx.diagnostics.is_empty() {
        Ok(blueprint)
    } else {
        Err(attach(ctx.diagnostics))
    }
}

/// Every key and string in the document that holds a character no generated file may carry:
/// a control character other than line feed and tab (NUL, CR, escape, DEL, C1 controls), or a
/// display control that makes text show in another order than it is read (bidirectional
/// overrides, embeddings, isolates and marks; line and paragraph separators). None has a use
/// in a blueprint, and each would reach nginx, Caddy, Dockerfiles, crontabs or YAML raw.
fn unreadable_text(file: &str, node: &Node, path: &mut Vec<PathSegment>) -> Vec<Diagnostic> {
    let check = |text: &str, span, path: &[PathSegment]| {
        let c = text.chars().find(|c| is_unprintable(*c))?;
        let kind = if c.is_control() {
            "a control character"
        } else {
            "a character that changes the order text is displayed in"
        };
        Some(
            Diagnostic::new(
                file,
                span,
                format!(
                    "`{}` has {kind} (U+{:04X})",
                    truncate(text, 60),
                    u32::from(c)
                ),
            )
            .with_path(display_path(path))
            .with_expected("printable text (line breaks and tabs are allowed)")
            .with_hint("the character may be invisible in an editor: retype the value"),
        )
    };
    let mut out = Vec::new();
    match &node.kind {
        load::NodeKind::Str(text) => out.extend(check(text, node.span, path)),
        load::NodeKind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(PathSegment::Index(i));
                out.extend(unreadable_text(file, item, path));
                path.pop();
            }
        }
        load::NodeKind::Map(entries) => {
            for (key, value) in entries {
                path.push(PathSegment::Key(load::key_text(key)));
                out.extend(check(&load::key_text(key), key.span, path));
                out.extend(unreadable_text(file, value, path));
                path.pop();
            }
        }
        _ => {}
    }
    out
}

/// The first key, or failing that string value, whose text is `word`, with its path.
fn find_text(
    node: &Node,
    word: &str,
    path: &mut Vec<PathSegment>,
) -> Option<(Vec<PathSegment>, crate::diagnostic::Span)> {
    if word.is_empty() {
        return None;
    }
    match &node.kind {
        load::NodeKind::Map(entries) => {
            for (key, value) in entries {
                if load::key_text(key) == word {
                    return Some((path.clone(), key.span));
                }
                path.push(PathSegment::Key(load::key_text(key)));
                let found = find_text(value, word, path);
                path.pop();
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        load::NodeKind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(PathSegment::Index(i));
                let found = find_text(item, word, path);
                path.pop();
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        load::NodeKind::Str(s) if s == word => Some((path.clone(), node.span)),
        _ => None,
    }
}

struct Context<'a> {
    file: &'a str,
    root: &'a Node,
    diagnostics: Vec<Diagnostic>,
    /// Required keys found missing, reported once all schema errors are in.
    missing: Vec<(Vec<PathSegment>, String)>,
    /// `(mapping path, key)` for every unknown key that looks like a typo of `key`.
    suggested: BTreeSet<(String, String)>,
}

/// Maps whose keys are the values of an enum, with the enum's own schema.
type EnumSchema = fn() -> Json;
const ENUM_KEYED_MAPS: &[(&[&str], EnumSchema)] = &[
    (&["proxy", "expose"], || {
        serde_json::to_value(schemars::schema_for!(blueprint::InternalTool)).unwrap_or_default()
    }),
    (&["monitoring", "routes"], || {
        serde_json::to_value(schemars::schema_for!(blueprint::Severity)).unwrap_or_default()
    }),
];

/// Builds a path from string keys; numbers in brackets are indices.
macro_rules! path {
    ($($seg:expr),* $(,)?) => {
        path_of([$(Segment::from($seg)),*])
    };
}

struct Segment(PathSegment);

fn path_of<const N: usize>(segments: [Segment; N]) -> Vec<PathSegment> {
    segments.into_iter().map(|s| s.0).collect()
}
impl From<&str> for Segment {
    fn from(s: &str) -> Self {
        Segment(PathSegment::Key(s.to_string()))
    }
}
impl From<&String> for Segment {
    fn from(s: &String) -> Self {
        Segment(PathSegment::Key(s.clone()))
    }
}
impl From<usize> for Segment {
    fn from(i: usize) -> Self {
        Segment(PathSegment::Index(i))
    }
}

fn describe_json(value: &Json) -> String {
    match value {
        Json::Null => "nothing (null)".into(),
        Json::Bool(b) => format!("the boolean `{b}`"),
        Json::Number(n) => format!("the number `{n}`"),
        Json::String(s) => format!("the string \"{}\"", truncate(s, 60)),
        Json::Array(_) => "a list".into(),
        Json::Object(_) => "a mapping".into(),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.escape_debug().to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{}...", cut.escape_debug())
    }
}

fn type_name(kind: &TypeKind) -> String {
    let name = |t: &jsonschema::JsonType| match t.to_string().as_str() {
        "object" => "a mapping".to_string(),
        "array" => "a list".to_string(),
        "string" => "a string".to_string(),
        "integer" => "an integer".to_string(),
        "number" => "a number".to_string(),
        "boolean" => "`true` or `false`".to_string(),
        "null" => "nothing".to_string(),
        other => other.to_string(),
    };
    match kind {
        TypeKind::Single(t) => name(t),
        TypeKind::Multiple(set) => {
            // `null` is how the schema says "optional"; leaving the key out is the way to
            // write it, so it is not offered as an expected value.
            let names: Vec<String> = set
                .iter()
                .filter(|t| t.to_string() != "null")
                .map(|t| name(&t))
                .collect();
            if names.is_empty() {
                "nothing".to_string()
            } else {
                names.join(" or ")
            }
        }
    }
}

/// Friendly words for the schema's patterns.
fn pattern_description(pattern: &str) -> String {
    use blueprint::*;
    let known: &[(&str, &str)] = &[
        (
            NAME_PATTERN,
            "a DNS label: lowercase letters, digits and `-`, starting with a letter, at most 63 characters",
        ),
        (
            DURATION_PATTERN,
            "a duration such as `30s`, `5m`, `2h` or `1d`",
        ),
        (
            ENV_NAME_PATTERN,
            "an upper-case name such as `DATABASE_URL` (letters, digits, `_`)",
        ),
        (
            URL_PATH_PATTERN,
            "a URL path starting with `/` (letters, digits and `._~/-` only)",
        ),
        (
            HOSTNAME_PATTERN,
            "a lower-case host name such as `api.example.com`",
        ),
        (SIZE_PATTERN, "a size such as `512k`, `10m` or `1g`"),
        (REPOSITORY_PATTERN, "a GitHub repository as `owner/name`"),
        (VERSION_PATTERN, "a version such as `3.12` or `22`"),
    ];
    known.iter().find(|(p, _)| *p == pattern).map_or_else(
        || format!("text matching `{pattern}`"),
        |(_, d)| d.to_string(),
    )
}

fn pointer_to_path(pointer: &str) -> Vec<PathSegment> {
    pointer
        .split('/')
        .skip(1)
        .map(|raw| {
            let seg = raw.replace("~1", "/").replace("~0", "~");
            // Paths come from the instance, so a numeric segment under a list is an index;
            // resolving against the tree below decides, this is only a first guess.
            match seg.parse::<usize>() {
                Ok(i) => PathSegment::Index(i),
                Err(_) => PathSegment::Key(seg),
            }
        })
        .collect()
}

impl Context<'_> {
    fn fix_path(&self, mut path: Vec<PathSegment>) -> Vec<PathSegment> {
        // A numeric key of a mapping (`"8000": ...`) looks like an index in a JSON pointer.
        let mut node = Some(self.root);
        for segment in &mut path {
            let current = node.take();
            if let (
                PathSegment::Index(i),
                Some(Node {
                    kind: load::NodeKind::Map(_),
                    ..
                }),
            ) = (&*segment, current)
            {
                *segment = PathSegment::Key(i.to_string());
            }
            node = current.and_then(|n| n.lookup(std::slice::from_ref(segment)).map(|(_, v)| v));
        }
        path
    }

    fn at(&mut self, path: &[PathSegment], message: impl Into<String>) -> &mut Diagnostic {
        let span = self.root.span_at(path);
        self.push(Diagnostic::new(self.file, span, message).with_path(display_path(path)))
    }

    fn at_key(&mut self, path: &[PathSegment], message: impl Into<String>) -> &mut Diagnostic {
        let span = self.root.key_span_at(path);
        self.push(Diagnostic::new(self.file, span, message).with_path(display_path(path)))
    }

    fn push(&mut self, d: Diagnostic) -> &mut Diagnostic {
        self.diagnostics.push(d);
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn schema_errors(&mut self, json: &Json) {
        let (schema, validator) = schema();
        let errors: Vec<_> = validator.iter_errors(json).collect();
        for error in &errors {
            self.schema_error(schema, error);
        }
        self.enum_keys(json);
        // A missing key that an unknown key next to it is a typo of is one mistake, not two:
        // "unknown key `repositry`, did you mean `repository`?" says it all.
        for (path, name) in std::mem::take(&mut self.missing) {
            if self
                .suggested
                .contains(&(display_path(&path), name.clone()))
            {
                continue;
            }
            let what = if path.is_empty() {
                "the blueprint is missing".to_string()
            } else {
                "missing".to_string()
            };
            let mut property = path.clone();
            property.push(PathSegment::Key(name.clone()));
            let expected = schema_at(schema, &property).and_then(|s| describe_schema(schema, s));
            let d = self.at_key(&path, format!("{what} the required key `{name}`"));
            d.expected = expected;
            d.hint = Some(if path.is_empty() {
                format!("add `{name}:` at the top level")
            } else {
                format!("add `{name}:` under `{}`", display_path(&path))
            });
        }
    }

    /// Maps whose keys are a closed set (`proxy.expose`, `monitoring.routes`): the generated
    /// schema does not constrain their keys, so they are checked here, where the key can be
    /// pointed at, rather than by the deserializer, which cannot say where it failed.
    fn enum_keys(&mut self, json: &Json) {
        for (segments, definition) in ENUM_KEYED_MAPS {
            let path: Vec<PathSegment> = segments
                .iter()
                .map(|s| PathSegment::Key((*s).to_string()))
                .collect();
            let pointer: String = segments.iter().map(|s| format!("/{s}")).collect();
            let Some(map) = json.pointer(&pointer).and_then(Json::as_object) else {
                continue;
            };
            let definition = definition();
            let options = schema_enum(&definition, &definition).unwrap_or_default();
            let what = schema_summary(&definition).unwrap_or_else(|| "keys".into());
            for key in map.keys() {
                if options.contains(key) {
                    continue;
                }
                let mut key_path = path.clone();
                key_path.push(PathSegment::Key(key.clone()));
                let suggestion = did_you_mean(key, options.iter().map(String::as_str));
                let d = self.at_key(&key_path, format!("unknown key `{}`", truncate(key, 60)));
                d.path = display_path(&path);
                d.expected = Some(format!("{}: {}", what, quoted_list(&options)));
                d.hint = Some(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("`{}` takes no other keys", display_path(&path)),
                });
            }
        }
    }

    fn schema_error(&mut self, schema: &Json, error: &jsonschema::ValidationError<'_>) {
        let path = self.fix_path(pointer_to_path(error.instance_path().as_str()));
        let instance = error.instance();
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed = allowed_keys(schema, &path);
                for key in unexpected {
                    let mut key_path = path.clone();
                    key_path.push(PathSegment::Key(key.clone()));
                    let message = if path.is_empty() {
                        format!("unknown key `{}` at the top level", truncate(key, 60))
                    } else {
                        format!("unknown key `{}`", truncate(key, 60))
                    };
                    let suggestion =
                        did_you_mean(key, allowed.iter().map(String::as_str)).map(str::to_string);
                    if let Some(s) = &suggestion {
                        self.suggested.insert((display_path(&path), s.clone()));
                    }
                    let d = self.at_key(&key_path, message);
                    d.path = display_path(&path);
                    if !allowed.is_empty() {
                        d.expected = Some(format!("one of {}", quoted_list(&allowed)));
                    }
                    let alert_family = match path.as_slice() {
                        [
                            PathSegment::Key(m),
                            PathSegment::Key(a),
                            PathSegment::Key(family),
                        ] if m == "monitoring" && a == "alerts" => Some(family.as_str()),
                        _ => None,
                    };
                    d.hint = Some(match (suggestion, alert_family) {
                        (Some(s), _) => format!("did you mean `{s}`?"),
                        // The families share a shape but for the threshold: say which have one.
                        (None, Some(family)) if key == "threshold" => format!(
                            "`{family}` fires on its condition alone, so it has no threshold (only `error_ratio` and `latency_p95` do): remove it, and tune `for` instead"
                        ),
                        (None, _) => "remove it, or check that it is indented under the right key"
                            .to_string(),
                    });
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default().to_string();
                self.missing.push((path, name));
            }
            ValidationErrorKind::Type { kind } => {
                let expected = type_name(kind);
                let found = describe_json(instance);
                let hint = type_hint(kind, instance);
                let range = range_of(schema, &path);
                let d = self.at(&path, format!("expected {expected}, found {found}"));
                d.expected = Some(match range {
                    Some(range) => format!("{expected} {range}"),
                    None => expected,
                });
                d.hint = hint;
            }
            ValidationErrorKind::Enum { options } => {
                let options: Vec<String> = options
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|o| o.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                self.not_an_option(&path, instance, &options);
            }
            ValidationErrorKind::Constant { expected_value } => {
                let options: Vec<String> = expected_value
                    .as_str()
                    .map(str::to_string)
                    .into_iter()
                    .collect();
                self.not_an_option(&path, instance, &options);
            }
            ValidationErrorKind::Pattern { pattern } => {
                let description = pattern_description(pattern);
                let hint = instance.as_str().and_then(|v| pattern_hint(pattern, v));
                let d = self.at(
                    &path,
                    format!("{} is not {description}", describe_json(instance)),
                );
                d.expected = Some(description);
                d.hint = hint;
            }
            ValidationErrorKind::Minimum { .. }
            | ValidationErrorKind::ExclusiveMinimum { .. }
            | ValidationErrorKind::Maximum { .. }
            | ValidationErrorKind::ExclusiveMaximum { .. } => {
                let small = matches!(
                    error.kind(),
                    ValidationErrorKind::Minimum { .. }
                        | ValidationErrorKind::ExclusiveMinimum { .. }
                );
                let limit = match error.kind() {
                    ValidationErrorKind::Minimum { limit }
                    | ValidationErrorKind::ExclusiveMinimum { limit }
                    | ValidationErrorKind::Maximum { limit }
                    | ValidationErrorKind::ExclusiveMaximum { limit } => limit.to_string(),
                    _ => String::new(),
                };
                let range = range_of(schema, &path);
                let d = self.at(
                    &path,
                    format!(
                        "{} is too {}",
                        describe_json(instance),
                        if small { "small" } else { "large" }
                    ),
                );
                let kind = match schema_at(schema, &path).and_then(|s| s.get("type")) {
                    Some(t) if t.to_string().contains("integer") => "an integer",
                    _ => "a number",
                };
                d.expected = Some(match range {
                    Some(range) => format!("{kind} {range}"),
                    None => format!("{} {limit}", if small { "at least" } else { "at most" }),
                });
            }
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                self.alternatives_error(schema, error, &path, context);
            }
            _ => {
                let message = error.to_string();
                self.at(&path, message);
            }
        }
    }

    /// A value that is not one of a closed set of words.
    fn not_an_option(&mut self, path: &[PathSegment], instance: &Json, options: &[String]) {
        let given = instance.as_str().unwrap_or_default().to_string();
        let suggestion =
            did_you_mean(&given, options.iter().map(String::as_str)).map(str::to_string);
        let d = self.at(
            path,
            format!("{} is not an accepted value", describe_json(instance)),
        );
        d.expected = Some(format!("one of {}", quoted_list(options)));
        d.hint = match suggestion {
            Some(s) => Some(format!("did you mean `{s}`?")),
            None if instance.is_string() && options.contains(&given.to_ascii_lowercase()) => {
                Some("values are lower case".into())
            }
            None => None,
        };
    }

    /// A value that matches none of the alternatives of an `anyOf`/`oneOf`: say what is wrong
    /// with the alternative the user most likely meant, not "matches no alternative".
    fn alternatives_error(
        &mut self,
        schema: &Json,
        error: &jsonschema::ValidationError<'_>,
        path: &[PathSegment],
        context: &[Vec<jsonschema::ValidationError<'static>>],
    ) {
        let pointer = error.instance_path().as_str().to_string();
        let instance = error.instance();
        let here = |e: &jsonschema::ValidationError<'_>| e.instance_path().as_str() == pointer;
        // A closed set of words (a Rust enum): every alternative is one constant.
        let mut options = Vec::new();
        let all_constants = context.iter().all(|branch| {
            let mut found = false;
            for e in branch.iter().filter(|e| here(e)) {
                match e.kind() {
                    ValidationErrorKind::Constant { expected_value } => {
                        if let Some(s) = expected_value.as_str() {
                            options.push(s.to_string());
                            found = true;
                        }
                    }
                    ValidationErrorKind::Enum { options: o } => {
                        options.extend(
                            o.as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|v| v.as_str().map(str::to_string)),
                        );
                        found = true;
                    }
                    _ => {}
                }
            }
            found
        });
        if all_constants && !options.is_empty() {
            self.not_an_option(path, instance, &options);
            return;
        }
        // The alternatives whose shape (type, keys) fits the value.
        let wrong_type = |branch: &Vec<jsonschema::ValidationError<'static>>| {
            branch
                .iter()
                .any(|e| here(e) && matches!(e.kind(), ValidationErrorKind::Type { .. }))
        };
        let shaped: Vec<&Vec<jsonschema::ValidationError<'static>>> = context
            .iter()
            .filter(|branch| {
                !branch.iter().any(|e| {
                    here(e)
                        && matches!(
                            e.kind(),
                            ValidationErrorKind::Type { .. }
                                | ValidationErrorKind::AdditionalProperties { .. }
                                | ValidationErrorKind::Required { .. }
                        )
                })
            })
            .collect();
        let chosen: Option<&Vec<jsonschema::ValidationError<'static>>> = match shaped.as_slice() {
            [branch] => Some(branch),
            [] => {
                // Among the alternatives of the right type, the one whose unknown keys are
                // typos of its missing keys (`{ secrets: X }` for `{ secret: X }`), or failing
                // that the only one of the right type.
                let typed: Vec<&Vec<jsonschema::ValidationError<'static>>> =
                    context.iter().filter(|b| !wrong_type(b)).collect();
                // Ranked by: unknown keys that are typos of missing ones, then fewest missing
                // keys, then fewest unknown keys.
                let score = |branch: &Vec<jsonschema::ValidationError<'static>>| {
                    let missing: Vec<String> = branch
                        .iter()
                        .filter(|e| here(e))
                        .filter_map(|e| match e.kind() {
                            ValidationErrorKind::Required { property } => {
                                property.as_str().map(str::to_string)
                            }
                            _ => None,
                        })
                        .collect();
                    let unknown: Vec<&String> = branch
                        .iter()
                        .filter(|e| here(e))
                        .filter_map(|e| match e.kind() {
                            ValidationErrorKind::AdditionalProperties { unexpected } => {
                                Some(unexpected)
                            }
                            _ => None,
                        })
                        .flatten()
                        .collect();
                    let typos = unknown
                        .iter()
                        .filter(|k| did_you_mean(k, missing.iter().map(String::as_str)).is_some())
                        .count();
                    (
                        typos,
                        std::cmp::Reverse(missing.len()),
                        std::cmp::Reverse(unknown.len()),
                    )
                };
                match typed.as_slice() {
                    [only] => Some(*only),
                    [] => None,
                    many => {
                        let best = many.iter().map(|b| score(b)).max();
                        let top: Vec<_> = many.iter().filter(|b| Some(score(b)) == best).collect();
                        match top.as_slice() {
                            [only] => Some(**only),
                            _ => None,
                        }
                    }
                }
            }
            _ => None,
        };
        if let Some(branch) = chosen {
            for e in branch {
                self.schema_error(schema, e);
            }
            return;
        }
        let forms = alternatives(schema, path);
        let mut types: Vec<String> = Vec::new();
        let mut type_hint_text = None;
        for e in context.iter().flatten().filter(|e| here(e)) {
            if let ValidationErrorKind::Type { kind } = e.kind() {
                let name = type_name(kind);
                if !name.is_empty() && !types.contains(&name) {
                    types.push(name);
                }
                type_hint_text = type_hint_text.or_else(|| type_hint(kind, instance));
            }
        }
        let message = if context.iter().all(wrong_type) && !types.is_empty() {
            format!(
                "expected {}, found {}",
                types.join(" or "),
                describe_json(instance)
            )
        } else {
            format!("{} is none of the accepted forms", describe_json(instance))
        };
        let d = self.at(path, message);
        if !forms.is_empty() {
            d.expected = Some(forms.join("; or "));
        }
        d.hint = type_hint_text;
    }

    fn semantic(&mut self, bp: &Blueprint) {
        self.check_names(bp);
        self.check_environments(bp);
        self.check_services(bp);
        self.check_jobs(bp);
        self.check_stores(bp);
        self.check_proxy(bp);
        self.check_monitoring(bp);
        self.check_ci(bp);
    }

    fn check_names(&mut self, bp: &Blueprint) {
        let label = is_dns_label;
        let mut owners: BTreeMap<&str, Vec<(&str, Vec<PathSegment>)>> = BTreeMap::new();
        for name in bp.services.keys() {
            owners
                .entry(name)
                .or_default()
                .push(("service", path!("services", name)));
        }
        for name in bp.jobs.keys() {
            owners
                .entry(name)
                .or_default()
                .push(("job", path!("jobs", name)));
        }
        for name in bp.stores.keys() {
            owners
                .entry(name)
                .or_default()
                .push(("store", path!("stores", name)));
        }
        for (name, uses) in &owners {
            for (kind, path) in uses {
                if !label(name) {
                    let fix = pattern_hint(blueprint::NAME_PATTERN, name)
                        .and_then(|h| h.rsplit_once(": ").map(|(_, f)| f.to_string()));
                    self.at_key(path, format!("the {kind} name `{name}` is not a DNS label"))
                        .with_expected_mut(pattern_description(blueprint::NAME_PATTERN))
                        .hint = Some(match fix {
                        Some(fix) => format!(
                            "names become host names, file names and metric labels; try {fix}"
                        ),
                        None => "names become host names, file names and metric labels".into(),
                    });
                }
                if RESERVED_NAMES.contains(name)
                    || name.ends_with("-scheduler")
                    || name.ends_with("-exporter")
                    || name.ends_with("-init")
                {
                    self.at_key(path, format!("the {kind} name `{name}` is reserved for a container blueprint generates"))
                        .hint = Some("pick another name; `proxy`, `prometheus`, `alertmanager`, `grafana`, `blackbox`, `pushgateway`, `certbot` and names ending in `-scheduler`, `-exporter` or `-init` are taken".into());
                }
            }
            if uses.len() > 1 {
                let kinds: Vec<&str> = uses.iter().map(|(k, _)| *k).collect();
                let (_, first) = &uses[0];
                let (_, second) = &uses[1];
                let first_line = self.root.key_span_at(first).line;
                let d = self.at_key(
                    second,
                    format!("`{name}` names both a {} and a {}", kinds[0], kinds[1]),
                );
                d.hint = Some(format!(
                    "the {} `{name}` is on line {first_line}; services, jobs and stores share one namespace (they become containers on one network), so rename one",
                    kinds[0]
                ));
            }
        }
        for name in bp.environments.keys() {
            if !label(name) {
                self.at_key(
                    &path!("environments", name),
                    format!("the environment name `{name}` is not a DNS label"),
                )
                .with_expected_mut(pattern_description(blueprint::NAME_PATTERN));
            }
        }
    }

    fn environment_names(bp: &Blueprint) -> BTreeSet<String> {
        if bp.environments.is_empty() {
            BTreeSet::from(["dev".to_string()])
        } else {
            bp.environments.keys().cloned().collect()
        }
    }

    fn check_environments(&mut self, bp: &Blueprint) {
        for (name, env) in &bp.environments {
            for (store, provider) in &env.stores {
                let path = path!("environments", name, "stores", store);
                match bp.stores.get(store) {
                    None => self.unknown_reference(&path, "store", store, bp.stores.keys()),
                    Some(s) => {
                        if *provider == Provider::Supabase && s.kind != StoreKind::Postgres {
                            let d = self.at(
                                &path,
                                format!(
                                    "`supabase` provides PostgreSQL only, but `{store}` is a `{}` store",
                                    format!("{:?}", s.kind).to_lowercase()
                                ),
                            );
                            d.expected = Some("`container` or `managed`".into());
                            d.hint = Some(
                                "use `managed` for a managed Redis or S3 (its URL comes from a secret)"
                                    .into(),
                            );
                        }
                    }
                }
            }
            let development = env.tier.map_or(
                matches!(name.as_str(), "dev" | "local" | "development" | "test"),
                |t| t == blueprint::Tier::Development,
            );
            let tls = env.tls.unwrap_or(!development);
            let domain = env.domain.as_deref().unwrap_or("localhost");
            if tls && (domain == "localhost" || !domain.contains('.')) {
                let path = if env.domain.is_some() {
                    path!("environments", name, "domain")
                } else {
                    path!("environments", name)
                };
                let d = self.at_key(
                    &path,
                    format!("environment `{name}` serves TLS but its domain is `{domain}`"),
                );
                d.expected = Some("a public domain such as `app.example.com`".into());
                d.hint = Some(format!(
                    "set `environments.{name}.domain`, or `tls: false` for a local environment"
                ));
            }
            for key in env.env.keys() {
                self.check_env_name(&path!("environments", name, "env", key), key);
            }
            self.check_env_values(bp, &path!("environments", name, "env"), &env.env);
            self.check_kubernetes_environment(bp, name, env);
        }
        self.check_kubernetes_placement(bp);
    }

    /// Kubernetes environments name every store's provider (an in-cluster database must be
    /// asked for, never a default), run only PostgreSQL in the cluster, and keep each service's
    /// replica bounds coherent.
    fn check_kubernetes_environment(
        &mut self,
        bp: &Blueprint,
        name: &str,
        env: &blueprint::Environment,
    ) {
        let kubernetes = env.platform == Some(blueprint::Platform::Kubernetes);
        if !kubernetes {
            if env.kubernetes.is_some() {
                let d = self.at_key(
                    &path!("environments", name, "kubernetes"),
                    format!("environment `{name}` has Kubernetes settings but runs on Compose"),
                );
                d.hint = Some(format!(
                    "add `platform: kubernetes` to `environments.{name}`, or remove `kubernetes`"
                ));
            }
            return;
        }
        // Settings of the other routing mode would be dropped: refused, naming what applies.
        if let Some(k) = &env.kubernetes {
            let gateway = k.routing == Some(blueprint::Routing::Gateway);
            let unused: &[(&str, bool)] = if gateway {
                &[
                    ("ingress_class", k.ingress_class.is_some()),
                    ("cluster_issuer", k.cluster_issuer.is_some()),
                ]
            } else {
                &[("gateway", k.gateway.is_some())]
            };
            for &(field, _) in unused.iter().filter(|(_, set)| *set) {
                let d = self.at_key(
                    &path!("environments", name, "kubernetes", field),
                    if gateway {
                        format!("`{field}` configures the Ingress, but `{name}` routes through a Gateway (`routing: gateway`), so it would be ignored")
                    } else {
                        format!("`gateway` names the Gateway HTTPRoutes attach to, but `{name}` routes through an Ingress, so it would be ignored")
                    },
                );
                d.hint = Some(if gateway {
                    "remove it: the Gateway's own listener holds the TLS certificate and its class is the Gateway's".into()
                } else {
                    "add `routing: gateway` to use the Gateway API, or remove `gateway`".into()
                });
            }
        }
        for (store, settings) in &bp.stores {
            match env.stores.get(store) {
                None => {
                    let d = self.at_key(
                        &path!("environments", name),
                        format!(
                            "Kubernetes environment `{name}` does not say who provides the store `{store}`"
                        ),
                    );
                    d.expected = Some(format!(
                        "`stores: {{ {store}: managed }}` (or `supabase`, or `container` for an in-cluster PostgreSQL)"
                    ));
                    d.hint = Some(
                        "on Kubernetes a data store is never put in the cluster by default: name the managed service, or ask for `container` explicitly (a single-replica StatefulSet, not highly available)"
                            .into(),
                    );
                }
                Some(Provider::Container) if settings.kind != StoreKind::Postgres => {
                    let d = self.at(
                        &path!("environments", name, "stores", store),
                        format!(
                            "only PostgreSQL can run inside the cluster, but `{store}` is a `{}` store",
                            format!("{:?}", settings.kind).to_lowercase()
                        ),
                    );
                    d.expected = Some("`managed`".into());
                    d.hint = Some(
                        "use a managed Redis or S3 on Kubernetes; its URL and keys come from secrets"
                            .into(),
                    );
                }
                Some(_) => {}
            }
        }
        let replicas = env.replicas.unwrap_or(1);
        for (service, settings) in &bp.services {
            let Some(autoscaling) = &settings.autoscaling else {
                continue;
            };
            let min = autoscaling.min_replicas.unwrap_or(replicas);
            if min > autoscaling.max_replicas {
                let path = path!("services", service, "autoscaling", "max_replicas");
                let d = self.at(
                    &path,
                    format!(
                        "`{service}` scales up to {} replicas, fewer than its minimum of {min} in `{name}`",
                        autoscaling.max_replicas
                    ),
                );
                d.expected = Some(format!("at least {min}"));
                d.hint = Some(if autoscaling.min_replicas.is_some() {
                    "raise `max_replicas` or lower `min_replicas`".into()
                } else {
                    format!(
                        "the minimum defaults to `environments.{name}.replicas`; set `min_replicas` or raise `max_replicas`"
                    )
                });
            }
        }
    }

    /// The Kustomize base holds every service that runs in the cluster, so a service must run
    /// there in every Kubernetes environment or in none.
    fn check_kubernetes_placement(&mut self, bp: &Blueprint) {
        let clusters: Vec<&String> = bp
            .environments
            .iter()
            .filter(|(_, e)| e.platform == Some(blueprint::Platform::Kubernetes))
            .map(|(n, _)| n)
            .collect();
        for (service, settings) in &bp.services {
            let vercel: Vec<&str> = clusters
                .iter()
                .filter(|e| {
                    blueprint::Deploy::target_in(settings.deploy.as_ref(), e)
                        == DeployTarget::Vercel
                })
                .map(|e| e.as_str())
                .collect();
            if !vercel.is_empty() && vercel.len() != clusters.len() {
                let d = self.at(
                    &path!("services", service, "deploy"),
                    format!(
                        "`{service}` deploys to Vercel in Kubernetes environment(s) {} but into the cluster in the others",
                        vercel.join(", ")
                    ),
                );
                d.hint = Some(
                    "the Kustomize base is shared by every Kubernetes environment: deploy the service to the cluster in all of them, or to Vercel in all of them"
                        .into(),
                );
            }
        }
    }

    fn check_env_name(&mut self, path: &[PathSegment], key: &str) {
        let ok = !key.is_empty()
            && key
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            self.at_key(path, format!("`{key}` is not a valid variable name"))
                .with_expected_mut(pattern_description(blueprint::ENV_NAME_PATTERN));
        }
    }

    fn check_env_values(
        &mut self,
        bp: &Blueprint,
        base: &[PathSegment],
        env: &BTreeMap<String, EnvValue>,
    ) {
        let environments = Self::environment_names(bp);
        for (key, value) in env {
            let mut path = base.to_vec();
            path.push(PathSegment::Key(key.clone()));
            let literals: Vec<&str> = match value {
                EnvValue::Plain(v) => vec![v.as_str()],
                EnvValue::PerEnvironment(p) => p
                    .per_env
                    .values()
                    .chain(p.default.iter())
                    .map(String::as_str)
                    .collect(),
                EnvValue::Secret(_) => vec![],
            };
            let non_empty = literals.iter().any(|v| !v.is_empty());
            if non_empty && looks_secret(key) {
                let d = self.at(
                    &path,
                    format!("`{key}` looks like a secret but is given a literal value"),
                );
                d.expected = Some(format!("a secret reference: `{key}: {{ secret: {key} }}`"));
                d.hint = Some("secrets are named in the blueprint and set where the environment keeps them (`.env.<env>`, GitHub environment secrets), never written here".into());
            } else if literals.iter().any(|v| has_url_password(v)) {
                let d = self.at(&path, format!("`{key}` holds a URL with a password in it"));
                d.expected = Some(format!("a secret reference: `{key}: {{ secret: {key} }}`"));
                d.hint = Some("move the whole URL into a secret".into());
            }
            if let EnvValue::PerEnvironment(p) = value {
                for env_name in p.per_env.keys() {
                    if !environments.contains(env_name) {
                        let mut p2 = path.clone();
                        p2.push(PathSegment::Key("per_env".into()));
                        p2.push(PathSegment::Key(env_name.clone()));
                        self.unknown_key_reference(
                            &p2,
                            "environment",
                            env_name,
                            environments.iter(),
                        );
                    }
                }
            }
        }
    }

    fn unknown_reference<'a>(
        &mut self,
        path: &[PathSegment],
        kind: &str,
        name: &str,
        known: impl Iterator<Item = &'a String>,
    ) {
        self.reference_error(path, kind, name, known, false);
    }

    fn unknown_key_reference<'a>(
        &mut self,
        path: &[PathSegment],
        kind: &str,
        name: &str,
        known: impl Iterator<Item = &'a String>,
    ) {
        self.reference_error(path, kind, name, known, true);
    }

    fn reference_error<'a>(
        &mut self,
        path: &[PathSegment],
        kind: &str,
        name: &str,
        known: impl Iterator<Item = &'a String>,
        key: bool,
    ) {
        let known: Vec<&String> = known.collect();
        let suggestion = did_you_mean(name, known.iter().map(|s| s.as_str())).map(str::to_string);
        let message = format!("there is no {kind} named `{name}`");
        let d = if key {
            self.at_key(path, message)
        } else {
            self.at(path, message)
        };
        d.expected = Some(if known.is_empty() {
            format!("a {kind} name, but none is declared")
        } else {
            format!(
                "one of {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        d.hint = Some(match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => match kind {
                "store" => format!("declare `{name}` under `stores`, or remove this reference"),
                "service" => format!("declare `{name}` under `services`, or remove this reference"),
                "receiver" => format!(
                    "declare `{name}` under `monitoring.receivers`, or remove this reference"
                ),
                "environment" => format!(
                    "declare `{name}` under `environments` (without `environments`, the only environment is `dev`)"
                ),
                "service or store" => format!(
                    "declare `{name}` under `services` or `stores`, or remove this reference"
                ),
                "service or job" => {
                    format!("declare `{name}` under `services` or `jobs`, or remove this reference")
                }
                _ => format!("check the spelling, or declare `{name}`"),
            },
        });
    }

    fn check_relative_path(&mut self, path: &[PathSegment], value: &str) {
        let bad = value.starts_with('/')
            || value.starts_with('\\')
            || value.contains('\\')
            || value.split('/').any(|p| p == "..")
            || value.chars().any(|c| c.is_control())
            || (value.len() > 1 && value.as_bytes()[1] == b':');
        if bad {
            let reason = if value.split(['/', '\\']).any(|p| p == "..") {
                "`..` leads out of it"
            } else if value.contains('\\') {
                "it uses `\\`; write paths with `/`"
            } else if value.chars().any(|c| c.is_control()) {
                "it has control characters"
            } else {
                "it is absolute"
            };
            let d = self.at(
                path,
                format!(
                    "`{}` must be a relative path inside the project, but {reason}",
                    truncate(value, 60)
                ),
            );
            d.expected = Some("a relative path such as `services/api`, without `..`".into());
            d.hint = Some(
                "paths are relative to the blueprint file and may not leave its directory".into(),
            );
        } else if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
        {
            let d = self.at(
                path,
                format!(
                    "`{}` has characters that are not safe in paths",
                    truncate(value, 60)
                ),
            );
            d.expected = Some("letters, digits, `.`, `_`, `-` and `/`".into());
        }
    }

    /// A URL path the proxy routes or a probe requests: no `.` or `..` segment, which clients
    /// and proxies resolve away before routing (a route `/api/../admin` would never match, and
    /// would read as a way out of `/api`).
    fn check_url_path(&mut self, path: &[PathSegment], value: &str) {
        if value
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        {
            let d = self.at(
                path,
                format!(
                    "`{}` has a `.` or `..` segment, which proxies resolve away before routing",
                    truncate(value, 60)
                ),
            );
            d.expected = Some("a path such as `/api/v1`, without `.` or `..` segments".into());
        }
    }

    fn check_services(&mut self, bp: &Blueprint) {
        let environments = Self::environment_names(bp);
        let mut published: BTreeMap<u16, String> = BTreeMap::new();
        let mut routes: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut build_contexts: BTreeMap<String, String> = BTreeMap::new();
        for (name, s) in &bp.services {
            let base = path!("services", name);
            self.check_relative_path(&path!("services", name, "path"), &s.path);
            if s.runtime != Runtime::Custom {
                // Each generated Dockerfile lives at `<path>/Dockerfile`: one per directory.
                let context = crate::model::normalize_path(&s.path);
                if let Some(other) = build_contexts.get(&context) {
                    let d = self.at(
                        &path!("services", name, "path"),
                        format!("`{name}` and `{other}` are both built from `{context}`"),
                    );
                    d.hint = Some("blueprint generates one Dockerfile per directory: give each service its own `path`, or make one of them `runtime: custom` with its own `dockerfile`".into());
                } else {
                    build_contexts.insert(context, name.clone());
                }
            }
            if let Some(dockerfile) = &s.dockerfile {
                self.check_relative_path(&path!("services", name, "dockerfile"), dockerfile);
                if s.runtime != Runtime::Custom {
                    self.at_key(
                        &path!("services", name, "dockerfile"),
                        "only `custom` services bring their own Dockerfile",
                    )
                    .hint = Some(format!(
                        "remove `dockerfile`, or set `runtime: custom` to build `{name}` from your own Dockerfile"
                    ));
                }
            }
            // `entrypoint` only fills in the preset's default command: beside `command`, or where
            // the preset starts nothing (static, custom), it would be accepted and dropped.
            if let Some(entrypoint) = &s.entrypoint {
                let (message, hint) = if s.command.is_some() {
                    (
                        format!(
                            "`{name}` has both `command` and `entrypoint`, and `command` replaces the preset's command that `entrypoint` names the module of"
                        ),
                        format!(
                            "remove `entrypoint`, or remove `command` to start `{entrypoint}` with the preset's own command"
                        ),
                    )
                } else if matches!(s.runtime, Runtime::Static | Runtime::Custom) {
                    (
                        format!(
                            "`{name}` is `{}`, whose image has no preset command for `entrypoint` to name",
                            if s.runtime == Runtime::Static {
                                "static"
                            } else {
                                "custom"
                            }
                        ),
                        if s.runtime == Runtime::Static {
                            "remove `entrypoint`: a static site's web server serves `path` as it is"
                                .to_string()
                        } else {
                            "remove `entrypoint`: a `custom` service starts what its Dockerfile's CMD or `command` says".to_string()
                        },
                    )
                } else {
                    (String::new(), String::new())
                };
                if !message.is_empty() {
                    let d = self.at_key(&path!("services", name, "entrypoint"), message);
                    d.expected = Some(
                        "`entrypoint` only where the preset's own command starts it (no `command`; not `static` or `custom`)"
                            .into(),
                    );
                    d.hint = Some(hint);
                }
            }
            if let Some(command) = &s.command
                && (command.is_empty() || command.iter().any(|c| c.is_empty()))
            {
                self.at(
                    &path!("services", name, "command"),
                    "the command must be a non-empty list of non-empty arguments",
                );
            }
            // Published ports: development publishes every app port on the host.
            let port = match s.runtime {
                Runtime::PythonWorker | Runtime::Custom => s.port,
                Runtime::Streamlit => Some(s.port.unwrap_or(8501)),
                Runtime::Node => Some(s.port.unwrap_or(3000)),
                Runtime::Static => Some(s.port.unwrap_or(8080)),
                _ => Some(s.port.unwrap_or(8000)),
            };
            if let Some(port) = port {
                if let Some(other) = published.get(&port) {
                    let p = if s.port.is_some() {
                        path!("services", name, "port")
                    } else {
                        base.clone()
                    };
                    let d = self.at(&p, format!("`{name}` and `{other}` both use port {port}"));
                    d.hint = Some("development publishes every service's port on the host; give each service its own port".into());
                } else {
                    published.insert(port, name.clone());
                }
                if [80, 443].contains(&port) {
                    self.at(
                        &path!("services", name, "port"),
                        format!("port {port} belongs to the proxy"),
                    )
                    .hint = Some(
                        "apps listen on an unprivileged port (8000, 8501, ...) behind the proxy"
                            .into(),
                    );
                }
            }
            if s.runtime == Runtime::PythonWorker && !s.routes.is_empty() {
                self.at_key(
                    &path!("services", name, "routes"),
                    "a `python-worker` has no HTTP port to route to",
                )
                .hint = Some(
                    "remove the routes, or use `fastapi`/`django` for a service that answers HTTP"
                        .into(),
                );
            }
            if let Some(health) = &s.health {
                self.check_url_path(&path!("services", name, "health"), health);
            }
            if let Some(metrics) = s.metrics.as_ref().and_then(|m| m.path.as_ref()) {
                self.check_url_path(&path!("services", name, "metrics", "path"), metrics);
            }
            for (i, route) in s.routes.iter().enumerate() {
                if let Some(path) = &route.path {
                    self.check_url_path(&path!("services", name, "routes", i, "path"), path);
                }
                let host = route.host.clone().unwrap_or_default();
                let rpath = route.path.clone().unwrap_or_else(|| "/".into());
                let key = (host.clone(), rpath.trim_end_matches('/').to_string());
                if let Some(other) = routes.get(&key) {
                    let where_ = if host.is_empty() {
                        rpath.clone()
                    } else {
                        format!("{host}{rpath}")
                    };
                    self.at(
                        &path!("services", name, "routes", i),
                        format!("the route `{where_}` is already taken by `{other}`"),
                    )
                    .hint = Some("two services cannot answer the same host and path prefix".into());
                } else {
                    routes.insert(key, name.clone());
                }
            }
            for dep in &s.depends_on {
                let i = s.depends_on.iter().position(|d| d == dep).unwrap_or(0);
                if dep == name {
                    self.at(
                        &path!("services", name, "depends_on", i),
                        format!("`{name}` depends on itself"),
                    );
                } else if !bp.services.contains_key(dep) && !bp.stores.contains_key(dep) {
                    let known: Vec<String> = bp
                        .services
                        .keys()
                        .chain(bp.stores.keys())
                        .filter(|k| *k != name)
                        .cloned()
                        .collect();
                    self.unknown_reference(
                        &path!("services", name, "depends_on", i),
                        "service or store",
                        dep,
                        known.iter(),
                    );
                }
            }
            for (i, store) in s.stores.iter().enumerate() {
                if !bp.stores.contains_key(store) {
                    self.unknown_reference(
                        &path!("services", name, "stores", i),
                        "store",
                        store,
                        bp.stores.keys(),
                    );
                }
            }
            let bound_kinds: Vec<(StoreKind, Option<String>)> = s
                .stores
                .iter()
                .filter_map(|st| bp.stores.get(st).map(|x| (x.kind, x.url_env.clone())))
                .collect();
            for kind in [StoreKind::Postgres, StoreKind::Redis, StoreKind::S3] {
                let same: Vec<&Option<String>> = bound_kinds
                    .iter()
                    .filter(|(k, _)| *k == kind)
                    .map(|(_, u)| u)
                    .collect();
                let distinct: BTreeSet<&Option<String>> = same.iter().copied().collect();
                if same.len() > 1 && (kind == StoreKind::S3 || distinct.len() < same.len()) {
                    self.at_key(
                        &path!("services", name, "stores"),
                        format!(
                            "`{name}` binds two {} stores to the same variables",
                            format!("{kind:?}").to_lowercase()
                        ),
                    )
                    .hint = Some(if kind == StoreKind::S3 {
                        "bind one object store per service".into()
                    } else {
                        "give each store its own `url_env`".into()
                    });
                }
            }
            for key in s.env.keys() {
                self.check_env_name(&path!("services", name, "env", key), key);
            }
            self.check_env_values(bp, &path!("services", name, "env"), &s.env);
            // Deploy targets.
            let mut vercel = false;
            match &s.deploy {
                Some(blueprint::Deploy::Everywhere(t)) => vercel = *t == DeployTarget::Vercel,
                Some(blueprint::Deploy::PerEnvironment(map)) => {
                    for (env, target) in map {
                        vercel |= *target == DeployTarget::Vercel;
                        if env != "default" && !environments.contains(env) {
                            self.unknown_key_reference(
                                &path!("services", name, "deploy", env),
                                "environment",
                                env,
                                environments.iter(),
                            );
                        }
                    }
                }
                None => {}
            }
            if vercel {
                let websocket = s.runtime == Runtime::Streamlit
                    || s.routes.iter().any(|r| r.websocket == Some(true));
                let worker = s.runtime == Runtime::PythonWorker
                    || bp.jobs.values().any(|j| &j.service == name);
                let reason = if websocket {
                    Some(
                        "it needs long-lived websocket connections, which Vercel functions do not keep",
                    )
                } else if worker {
                    Some("it runs background or scheduled work, which Vercel does not host")
                } else if !matches!(s.runtime, Runtime::Static | Runtime::Node) {
                    Some("blueprint deploys only `static` and `node` services to Vercel")
                } else {
                    None
                };
                if let Some(reason) = reason {
                    let d = self.at(
                        &path!("services", name, "deploy"),
                        format!("`{name}` cannot deploy to Vercel: {reason}"),
                    );
                    d.hint = Some("use `deploy: compose` for this service".into());
                }
            }
            // A migration runs as a one-shot of the service's image: nothing runs it for a static
            // site or on Vercel, so it would be dropped there.
            if s.migrate.as_ref().is_some_and(|m| !m.is_empty())
                && (s.runtime == Runtime::Static || vercel)
            {
                let d = self.at_key(
                    &path!("services", name, "migrate"),
                    format!(
                        "`{name}` has no container to run its migration in: {}",
                        if s.runtime == Runtime::Static {
                            "a `static` service is served files"
                        } else {
                            "Vercel runs no step before a deploy"
                        }
                    ),
                );
                d.hint = Some(
                    "run the migration from a service that runs on Compose or Kubernetes, or remove `migrate`"
                        .into(),
                );
            }
            if let Some(m) = &s.metrics {
                for (field, value) in [
                    ("requests_total", &m.requests_total),
                    ("duration_histogram", &m.duration_histogram),
                    ("status_label", &m.status_label),
                ] {
                    if let Some(v) = value
                        && !is_metric_name(v)
                    {
                        self.at(
                            &path!("services", name, "metrics", field),
                            format!(
                                "`{}` is not a Prometheus metric or label name",
                                truncate(v, 60)
                            ),
                        )
                        .expected =
                            Some("letters, digits, `_` and `:`, not starting with a digit".into());
                    }
                }
            }
        }
        self.check_cycles(bp);
    }

    fn check_cycles(&mut self, bp: &Blueprint) {
        // Depth-first search over service -> service edges; stores never depend on anything.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new();
        let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
        fn visit<'a>(
            bp: &'a Blueprint,
            name: &'a str,
            stack: &mut Vec<&'a str>,
            state: &mut BTreeMap<&'a str, u8>,
            cycles: &mut Vec<Vec<String>>,
        ) {
            state.insert(name, 1);
            stack.push(name);
            if let Some(s) = bp.services.get(name) {
                for dep in &s.depends_on {
                    if !bp.services.contains_key(dep) || dep == name {
                        continue;
                    }
                    match state.get(dep.as_str()) {
                        Some(1) => {
                            let start = stack.iter().position(|n| n == dep).unwrap_or(0);
                            let mut cycle: Vec<String> =
                                stack[start..].iter().map(|s| s.to_string()).collect();
                            cycle.push(dep.clone());
                            cycles.push(cycle);
                        }
                        Some(_) => {}
                        None => visit(bp, dep, stack, state, cycles),
                    }
                }
            }
            stack.pop();
            state.insert(name, 2);
        }
        let mut cycles = Vec::new();
        for name in bp.services.keys() {
            if !state.contains_key(name.as_str()) {
                visit(bp, name, &mut Vec::new(), &mut state, &mut cycles);
            }
        }
        for cycle in cycles {
            let mut key = cycle[..cycle.len() - 1].to_vec();
            key.sort();
            if !reported.insert(key) {
                continue;
            }
            let first = &cycle[0];
            let next = &cycle[1];
            let index = bp.services[first]
                .depends_on
                .iter()
                .position(|d| d == next)
                .unwrap_or(0);
            let d = self.at(
                &path!("services", first, "depends_on", index),
                format!("`depends_on` forms a cycle: {}", cycle.join(" -> ")),
            );
            d.hint =
                Some("a cycle can never become healthy; remove one of these dependencies".into());
        }
    }

    fn check_jobs(&mut self, bp: &Blueprint) {
        for (name, job) in &bp.jobs {
            match bp.services.get(&job.service) {
                None => self.unknown_reference(
                    &path!("jobs", name, "service"),
                    "service",
                    &job.service,
                    bp.services.keys(),
                ),
                Some(s) if s.runtime == Runtime::Static => {
                    self.at(
                        &path!("jobs", name, "service"),
                        format!(
                            "`{}` is a static site; its image cannot run commands",
                            job.service
                        ),
                    );
                }
                Some(_) => {}
            }
            self.check_cron(&path!("jobs", name, "schedule"), &job.schedule);
            if job.command.is_empty() || job.command.iter().any(|c| c.is_empty()) {
                self.at(
                    &path!("jobs", name, "command"),
                    "the command must be a non-empty list of non-empty arguments",
                );
            }
            // A crontab is read line by line: a line break in an argument would end the job's
            // line and start another, with a schedule and command of the argument's choosing.
            for (i, argument) in job.command.iter().enumerate() {
                if argument.contains('\n') {
                    let d = self.at(
                        &path!("jobs", name, "command", i),
                        "a job's command arguments are single lines: the crontab that runs it is read line by line",
                    );
                    d.expected = Some("an argument without line breaks".into());
                    d.hint = Some(
                        "pass multi-line input through a file or an environment variable".into(),
                    );
                }
            }
        }
    }

    fn check_cron(&mut self, path: &[PathSegment], schedule: &str) {
        match Cron::parse(schedule) {
            Err(e) => {
                let fields: Vec<&str> = schedule.split_whitespace().collect();
                let hint = match fields.len() {
                    6 => Some(format!(
                        "blueprint schedules have no seconds field; drop the first one: `{}`",
                        fields[1..].join(" ")
                    )),
                    7 => Some(
                        "blueprint schedules have no seconds or year fields; keep the middle five"
                            .to_string(),
                    ),
                    _ if schedule.starts_with('@') => Some(
                        "write the five fields out: `@daily` is `0 0 * * *`, `@hourly` is `0 * * * *`"
                            .to_string(),
                    ),
                    _ => None,
                };
                let d = self.at(
                    path,
                    format!("`{}` is not a cron schedule: {e}", truncate(schedule, 60)),
                );
                d.expected = Some("five fields: minute hour day-of-month month day-of-week, such as `*/30 * * * *`".into());
                d.hint = hint;
            }
            Ok(cron) if cron.longest_gap_seconds().is_none() => {
                let d = self.at(path, format!("`{schedule}` never runs"));
                d.expected = Some("a day of the month that the chosen months have".into());
                d.hint = Some("February has at most 29 days, and April, June, September and November 30; check the day-of-month and month fields".into());
            }
            Ok(_) => {}
        }
    }

    fn check_stores(&mut self, bp: &Blueprint) {
        for (name, store) in &bp.stores {
            if store.bucket.is_some() && store.kind != StoreKind::S3 {
                self.at_key(
                    &path!("stores", name, "bucket"),
                    "only `s3` stores have a bucket",
                );
            }
            if !store.queues.is_empty() && store.kind != StoreKind::Redis {
                self.at_key(
                    &path!("stores", name, "queues"),
                    "only `redis` stores have queues",
                )
                .hint = Some("queues are Redis lists whose length a redis_exporter watches: move them to a `redis` store, or remove `queues`".into());
            }
            let mut seen = BTreeSet::new();
            for queue in &store.queues {
                if !seen.insert(queue) {
                    self.at_key(
                        &path!("stores", name, "queues"),
                        format!("the queue `{queue}` is listed twice"),
                    );
                }
            }
            if store.url_env.is_some() && store.kind == StoreKind::S3 {
                self.at_key(&path!("stores", name, "url_env"), "`s3` stores are configured through `S3_BUCKET` and `AWS_*` variables, not a URL");
            }
            if let Some(backup) = &store.backup {
                match store.kind {
                    StoreKind::Postgres => self.check_dump_backup(bp, name, backup),
                    StoreKind::S3 => self.check_bucket_backup(name, backup),
                    StoreKind::Redis => {
                        self.at_key(
                            &path!("stores", name, "backup"),
                            "backups are supported for `postgres` and `s3` stores",
                        )
                        .hint = Some("Redis holds a cache or a queue here, which blueprint does not dump: remove `backup`".into());
                    }
                }
            }
        }
    }

    /// A bucket's backup is versioning plus a lifecycle rule: only `retention` means anything,
    /// so a schedule, a target or a key would be silently ignored; each is refused instead.
    fn check_bucket_backup(&mut self, name: &str, backup: &Backup) {
        let given = [
            ("schedule", backup.schedule.is_some()),
            ("target", backup.target.is_some()),
            ("encryption_key", backup.encryption_key.is_some()),
            ("restore_test", backup.restore_test.is_some()),
        ];
        for (field, _) in given.into_iter().filter(|(_, set)| *set) {
            self.at_key(
                &path!("stores", name, "backup", field),
                format!("`{field}` has no meaning for the backup of an `s3` store"),
            )
            .hint = Some(format!(
                "a bucket is protected by versioning: every overwritten or deleted object stays restorable for `retention`, with nothing scheduled or copied; remove `{field}`"
            ));
        }
    }

    /// A database's backup is a scheduled dump into a bucket.
    fn check_dump_backup(&mut self, bp: &Blueprint, name: &str, backup: &Backup) {
        for (field, set) in [
            ("schedule", backup.schedule.is_some()),
            ("target", backup.target.is_some()),
        ] {
            if !set {
                let d = self.at_key(
                    &path!("stores", name, "backup"),
                    format!("the backup of a `postgres` store is missing `{field}`"),
                );
                d.expected = Some(match field {
                    "schedule" => "a five-field cron expression, such as `0 3 * * *`".into(),
                    _ => "the name of a store with `kind: s3`".into(),
                });
                d.hint = Some(format!(
                    "a database is backed up by a scheduled dump into a bucket: add `{field}:` under `stores.{name}.backup`"
                ));
            }
        }
        let taken = |job: &str| {
            bp.services.contains_key(job)
                || bp.jobs.contains_key(job)
                || bp.stores.contains_key(job)
                || bp
                    .services
                    .keys()
                    .any(|s| crate::generate::containers::jobs::scheduler_name(s) == job)
        };
        let job = crate::model::backup_job_name(name);
        if taken(&job) {
            self.at_key(
                &path!("stores", name, "backup"),
                format!("the backup job of `{name}` runs as `{job}`, which is already the name of a service, job, store or scheduler"),
            )
            .hint = Some(format!("rename the store, or the `{job}` it collides with"));
        }
        if let Some(schedule) = &backup.schedule {
            self.check_cron(&path!("stores", name, "backup", "schedule"), schedule);
        }
        if let Some(schedule) = &backup.restore_test {
            let test = crate::model::restore_test_job_name(name);
            if taken(&test) {
                self.at_key(
                    &path!("stores", name, "backup", "restore_test"),
                    format!("the restore test of `{name}` runs as `{test}`, which is already the name of a service, job, store or scheduler"),
                )
                .hint = Some(format!("rename the store, or the `{test}` it collides with"));
            }
            self.check_cron(&path!("stores", name, "backup", "restore_test"), schedule);
        }
        let Some(target) = &backup.target else {
            return;
        };
        match bp.stores.get(target) {
            None => self.unknown_reference(
                &path!("stores", name, "backup", "target"),
                "store",
                target,
                bp.stores.keys(),
            ),
            Some(t) if t.kind != StoreKind::S3 => {
                let buckets: Vec<String> = bp
                    .stores
                    .iter()
                    .filter(|(_, s)| s.kind == StoreKind::S3)
                    .map(|(n, _)| n.clone())
                    .collect();
                let d = self.at(
                    &path!("stores", name, "backup", "target"),
                    format!(
                        "backups go to an `s3` store, and `{}` is a `{}` store",
                        target,
                        format!("{:?}", t.kind).to_lowercase()
                    ),
                );
                d.expected = Some(if buckets.is_empty() {
                    "the name of a store with `kind: s3`".into()
                } else {
                    format!("one of {}", quoted_list(&buckets))
                });
                d.hint = Some(if buckets.is_empty() {
                    "declare a store with `kind: s3` (MinIO in development) and name it here".into()
                } else {
                    "name one of the `s3` stores".into()
                });
            }
            Some(_) => {}
        }
    }

    fn check_proxy(&mut self, bp: &Blueprint) {
        for (tool, exposure) in &bp.proxy.expose {
            let tool_name = format!("{tool:?}").to_lowercase();
            let path = path!("proxy", "expose", &tool_name);
            if exposure.basic_auth == Some(false) && exposure.allow.is_empty() {
                let d = self.at_key(&path, format!("`{tool_name}` would be reachable by anyone"));
                d.expected =
                    Some("`basic_auth: true`, an `allow` list of networks, or both".into());
                d.hint = Some("internal tools are never exposed without protection; remove the entry to keep it unrouted".into());
            }
            if let Some(url_path) = &exposure.path {
                self.check_url_path(&path!("proxy", "expose", &tool_name, "path"), url_path);
            }
            for (i, cidr) in exposure.allow.iter().enumerate() {
                if !is_cidr(cidr) {
                    let address = cidr.split('/').next().unwrap_or_default();
                    let hint = if address.parse::<std::net::IpAddr>().is_ok() {
                        "the prefix length after `/` is at most 32 for IPv4 and 128 for IPv6"
                    } else {
                        "write an IPv4 address (four numbers from 0 to 255) or an IPv6 address, optionally followed by `/` and a prefix length"
                    };
                    let d = self.at(
                        &path!("proxy", "expose", &tool_name, "allow", i),
                        format!("`{}` is not an IP network", truncate(cidr, 60)),
                    );
                    d.expected =
                        Some("an address or CIDR such as `10.0.0.0/8` or `2001:db8::/32`".into());
                    d.hint = Some(hint.into());
                }
            }
            if matches!(tool, blueprint::InternalTool::Grafana)
                && bp.monitoring.grafana.enabled == Some(false)
            {
                self.at_key(
                    &path,
                    "Grafana is exposed but `monitoring.grafana.enabled` is false",
                );
            }
            if bp.monitoring.enabled == Some(false) {
                self.at_key(
                    &path,
                    format!("`{tool_name}` is exposed but monitoring is disabled"),
                );
            }
        }
    }

    fn check_monitoring(&mut self, bp: &Blueprint) {
        let m = &bp.monitoring;
        for (name, receiver) in &m.receivers {
            if !is_dns_label(name) {
                self.at_key(
                    &path!("monitoring", "receivers", name),
                    format!("the receiver name `{name}` is not a DNS label"),
                )
                .with_expected_mut(pattern_description(blueprint::NAME_PATTERN));
            }
            let base = path!("monitoring", "receivers", name);
            let need = |field: &str, present: bool| (!present).then(|| field.to_string());
            let missing: Vec<String> = match receiver.kind {
                ReceiverKind::Slack | ReceiverKind::Webhook => {
                    need("url", receiver.url.is_some()).into_iter().collect()
                }
                ReceiverKind::Email => [
                    need("to", receiver.to.is_some()),
                    need("from", receiver.from.is_some()),
                    need("smarthost", receiver.smarthost.is_some()),
                ]
                .into_iter()
                .flatten()
                .collect(),
            };
            for field in missing {
                self.at_key(
                    &base,
                    format!(
                        "a `{}` receiver needs `{field}`",
                        format!("{:?}", receiver.kind).to_lowercase()
                    ),
                );
            }
            if receiver.kind != ReceiverKind::Slack && receiver.channel.is_some() {
                self.at_key(
                    &path!("monitoring", "receivers", name, "channel"),
                    "only Slack receivers have a channel",
                );
            }
        }
        for (severity, names) in &m.routes {
            let sev = format!("{severity:?}").to_lowercase();
            for (i, receiver) in names.iter().enumerate() {
                if !m.receivers.contains_key(receiver) {
                    self.unknown_reference(
                        &path!("monitoring", "routes", &sev, i),
                        "receiver",
                        receiver,
                        m.receivers.keys(),
                    );
                }
            }
        }
        for (name, alert) in &m.custom_alerts {
            let base = path!("monitoring", "custom_alerts", name);
            let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                self.at_key(
                    &base,
                    format!("`{}` is not an alert name", truncate(name, 60)),
                )
                .expected = Some(
                    "letters, digits and `_`, starting with a letter, such as `DataDivergence`"
                        .into(),
                );
            }
            if let Err(e) = promql_parser::parser::parse(&alert.expr) {
                let d = self.at(
                    &path!("monitoring", "custom_alerts", name, "expr"),
                    format!(
                        "the expression is not valid PromQL: {}",
                        e.to_string().trim()
                    ),
                );
                d.expected =
                    Some("a PromQL expression such as `sum(rate(errors_total[5m])) > 0`".into());
                d.hint = Some(
                    "try the expression in the Prometheus UI (Graph tab) before adding it as an alert"
                        .into(),
                );
            }
            if let Some(target) = &alert.service
                && !bp.services.contains_key(target)
                && !bp.jobs.contains_key(target)
            {
                let known: Vec<String> =
                    bp.services.keys().chain(bp.jobs.keys()).cloned().collect();
                self.unknown_reference(
                    &path!("monitoring", "custom_alerts", name, "service"),
                    "service or job",
                    target,
                    known.iter(),
                );
            }
            for (field, text) in [
                ("summary", Some(&alert.summary)),
                ("description", alert.description.as_ref()),
            ] {
                if let Some(text) = text
                    && text.chars().any(|c| c.is_control() && c != '\n')
                {
                    self.at(
                        &path!("monitoring", "custom_alerts", name, field),
                        "control characters are not allowed here",
                    );
                } else if let Some(text) = text
                    && let Err(why) = crate::syntax::check_alert_template(text)
                {
                    // Prometheus expands annotations as Go templates, and refuses the whole
                    // rules file when one does not parse.
                    let d = self.at(
                        &path!("monitoring", "custom_alerts", name, field),
                        format!("the {field} is not a valid alert template: {why}"),
                    );
                    d.expected = Some(
                        "text, with `{{ $labels.NAME }}` or `{{ $value }}` where a value goes"
                            .into(),
                    );
                    d.hint = Some("write `{{ \"{{\" }}` for a literal `{{`".into());
                }
            }
            if let Some(runbook) = &alert.runbook
                && !is_http_url(runbook)
            {
                self.at(
                    &path!("monitoring", "custom_alerts", name, "runbook"),
                    "the runbook must be an http(s) URL",
                );
            }
        }
        if let Some(base) = &m.runbook_base_url
            && !is_http_url(base)
        {
            self.at(
                &path!("monitoring", "runbook_base_url"),
                "the runbook base must be an http(s) URL",
            );
        }
        for service in m.slos.keys() {
            match bp.services.get(service) {
                None => self.unknown_key_reference(
                    &path!("monitoring", "slos", service),
                    "service",
                    service,
                    bp.services.keys(),
                ),
                Some(s) => {
                    let metrics_on = s.metrics.as_ref().and_then(|m| m.enabled).unwrap_or(
                        matches!(
                            s.runtime,
                            Runtime::Django | Runtime::Fastapi | Runtime::Node
                        ) || s.metrics.is_some(),
                    );
                    if !metrics_on {
                        let disabled = s.metrics.as_ref().and_then(|m| m.enabled) == Some(false);
                        let d = self.at_key(
                            &path!("monitoring", "slos", service),
                            format!("`{service}` exposes no request metrics to measure an SLO on"),
                        );
                        d.hint = Some(if disabled {
                            format!(
                                "`services.{service}.metrics.enabled` is false; turn it on, or remove this SLO"
                            )
                        } else {
                            format!(
                                "declare the service's metrics under `services.{service}.metrics`, or remove this SLO"
                            )
                        });
                    }
                }
            }
        }
        if let Some(user) = &m.grafana.admin_user
            && (user.is_empty()
                || !user
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c)))
        {
            self.at(
                &path!("monitoring", "grafana", "admin_user"),
                "the admin user may contain letters, digits and `._-@` only",
            );
        }
        for service in bp.vercel.projects.keys() {
            if !bp.services.contains_key(service) {
                self.unknown_key_reference(
                    &path!("vercel", "projects", service),
                    "service",
                    service,
                    bp.services.keys(),
                );
            }
        }
    }

    fn check_ci(&mut self, bp: &Blueprint) {
        if let Some(cron) = &bp.ci.security_scan {
            self.check_cron(&path!("ci", "security_scan"), cron);
        }
        for (field, branch) in [
            ("main_branch", &bp.ci.main_branch),
            ("staging_branch", &bp.ci.staging_branch),
        ] {
            if let Some(b) = branch
                && (b.is_empty()
                    || b.starts_with('-')
                    || b.contains("..")
                    || !b
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c)))
            {
                self.at(
                    &path!("ci", field),
                    format!(
                        "`{}` is not a branch name blueprint accepts",
                        truncate(b, 60)
                    ),
                )
                .expected = Some("letters, digits, `.`, `_`, `-` and `/`".into());
            }
        }
    }
}

trait ExpectedMut {
    fn with_expected_mut(&mut self, expected: String) -> &mut Self;
}

impl ExpectedMut for Diagnostic {
    fn with_expected_mut(&mut self, expected: String) -> &mut Self {
        self.expected = Some(expected);
        self
    }
}

fn is_metric_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_http_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() > 8
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'<>`{}|\\^".contains(c))
}

fn is_cidr(text: &str) -> bool {
    let (address, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let max = if address.parse::<std::net::Ipv4Addr>().is_ok() {
        32
    } else if address.parse::<std::net::Ipv6Addr>().is_ok() {
        128
    } else {
        return false;
    };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= max) && !p.starts_with('+'))
}

/// Whether a variable name says it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
        "DSN",
        "ACCESS_KEY",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

/// Whether a value is a URL with a password in it (`scheme://user:password@host`).
pub fn has_url_password(value: &str) -> bool {
    // scheme://user:password@host
    value.split("://").nth(1).is_some_and(|rest| {
        let authority = rest.split('/').next().unwrap_or("");
        authority.rsplit_once('@').is_some_and(|(userinfo, _)| {
            userinfo
                .split_once(':')
                .is_some_and(|(_, pw)| !pw.is_empty())
        })
    })
}

/// `a`, `b` and `c` as "`a`, `b`, `c`".
fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The numeric range the schema allows at `path`: "from 1 to 65535", "of at least 0".
fn range_of(root: &Json, path: &[PathSegment]) -> Option<String> {
    let schema = schema_at(root, path)?;
    let min = schema
        .get("minimum")
        .or_else(|| schema.get("exclusiveMinimum"));
    let max = schema
        .get("maximum")
        .or_else(|| schema.get("exclusiveMaximum"));
    match (min, max) {
        (Some(a), Some(b)) => Some(format!("from {a} to {b}")),
        (Some(a), None) => Some(format!("of at least {a}")),
        (None, Some(b)) => Some(format!("of at most {b}")),
        (None, None) => None,
    }
}

/// The values of an enum schema (`oneOf` constants, possibly wrapped in an optional `anyOf`).
fn schema_enum(root: &Json, schema: &Json) -> Option<Vec<String>> {
    let schema = deref(root, schema);
    if let Some(values) = schema.get("enum").and_then(Json::as_array) {
        return Some(
            values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        );
    }
    if let Some(value) = schema.get("const").and_then(Json::as_str) {
        return Some(vec![value.to_string()]);
    }
    let branches = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Json::as_array)?;
    let mut values = Vec::new();
    for branch in branches {
        let branch = deref(root, branch);
        if branch.get("type").and_then(Json::as_str) == Some("null") {
            continue;
        }
        values.extend(schema_enum(root, branch)?);
    }
    (!values.is_empty()).then_some(values)
}

/// The first sentence of a schema's description, to be used mid-sentence.
fn schema_summary(schema: &Json) -> Option<String> {
    let text = schema.get("description")?.as_str()?.replace('\n', " ");
    let first = text
        .split(". ")
        .next()
        .unwrap_or(&text)
        .trim_end_matches('.');
    Some(lower_first(first))
}

/// Lower-cases the first letter unless the word is an acronym (`Django` stays, `PostgreSQL`
/// stays, `The` becomes `the`, `A` becomes `a`).
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), second)
            if first.is_ascii_uppercase()
                && second.is_none_or(|c| c.is_ascii_lowercase() || c == ' ')
                && !text.split(' ').next().is_some_and(|w| {
                    [
                        "Django",
                        "Node",
                        "Streamlit",
                        "Vercel",
                        "Slack",
                        "Supabase",
                        "Redis",
                        "Caddy",
                        "Grafana",
                        "Prometheus",
                        "Python",
                    ]
                    .iter()
                    .any(|n| w.starts_with(n))
                }) =>
        {
            let mut out = first.to_ascii_lowercase().to_string();
            out.push_str(&text[first.len_utf8()..]);
            out
        }
        _ => text.to_string(),
    }
}

/// What the schema at a missing key asks for: its values, or its description.
fn describe_schema(root: &Json, schema: &Json) -> Option<String> {
    if let Some(values) = schema_enum(root, schema) {
        return Some(format!("one of {}", quoted_list(&values)));
    }
    schema_summary(schema).or_else(|| schema_summary(deref(root, schema)))
}

/// A fix for a value that does not match one of the blueprint's patterns, where one can be
/// guessed.
fn pattern_hint(pattern: &str, value: &str) -> Option<String> {
    use blueprint::*;
    let suggest = |fixed: Option<String>, why: &str| -> Option<String> {
        match fixed {
            Some(f) if f != value => Some(format!("{why}: `{f}`")),
            _ => Some(why.to_string()).filter(|w| !w.is_empty()),
        }
    };
    if pattern == NAME_PATTERN {
        let fixed: String = value
            .to_ascii_lowercase()
            .chars()
            .map(|c| if "_ .".contains(c) { '-' } else { c })
            .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        let fixed = fixed
            .trim_start_matches(|c: char| !c.is_ascii_lowercase())
            .trim_end_matches('-')
            .to_string();
        return suggest(
            is_dns_label(&fixed).then_some(fixed),
            "names are lower case, with `-` between words",
        );
    }
    if pattern == ENV_NAME_PATTERN {
        let fixed: String = value
            .to_ascii_uppercase()
            .chars()
            .map(|c| if "- .".contains(c) { '_' } else { c })
            .collect();
        let ok = fixed
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
            && fixed
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        return suggest(
            ok.then_some(fixed),
            "variable and secret names are upper case, with `_` between words",
        );
    }
    if pattern == DURATION_PATTERN {
        return suggest(
            fix_duration(value),
            "write a number and a unit letter (`ms`, `s`, `m`, `h`, `d`, `w`), with no space",
        );
    }
    if pattern == URL_PATH_PATTERN {
        if !value.starts_with('/') {
            let fixed = format!("/{}", value.trim_start_matches(['.', '/']));
            let valid = fixed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._~/-".contains(c));
            return suggest(valid.then_some(fixed), "paths start with `/`");
        }
        if let Some(bad) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "._~/-".contains(*c)))
        {
            let shown = if bad.is_whitespace() {
                "a space".to_string()
            } else {
                format!("`{}`", bad.escape_debug())
            };
            let more = if "{}".contains(bad) {
                "; a route is a prefix, so `/api` already serves `/api/123`"
            } else if "?#".contains(bad) {
                "; a route matches the path only, never the query string"
            } else {
                ""
            };
            return Some(format!(
                "{shown} cannot appear in a path: the proxy configuration is written from it{more}"
            ));
        }
        return None;
    }
    if pattern == HOSTNAME_PATTERN {
        let mut host = value.trim();
        for scheme in ["https://", "http://"] {
            host = host.strip_prefix(scheme).unwrap_or(host);
        }
        let host = host.split('/').next().unwrap_or(host);
        let host = host.split(':').next().unwrap_or(host);
        let fixed = host.to_ascii_lowercase().replace('_', "-");
        let why = if value.contains("://") || value.contains('/') {
            "write the host name alone, without a scheme or path"
        } else if value.contains(':') {
            "write the host name alone, without a port"
        } else if value.contains('_') {
            "`_` is not allowed in host names; use `-`"
        } else if value.chars().any(|c| c.is_ascii_uppercase()) {
            "host names are written in lower case"
        } else {
            "labels are letters, digits and `-`, separated by single dots"
        };
        return suggest(is_hostname(&fixed).then_some(fixed), why);
    }
    if pattern == SIZE_PATTERN {
        let compact: String = value
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let fixed = compact
            .strip_suffix("ib")
            .or_else(|| compact.strip_suffix('b'))
            .unwrap_or(&compact)
            .to_string();
        let ok = fixed.trim_end_matches(['k', 'm', 'g']).len() + 1 >= fixed.len()
            && !fixed.is_empty()
            && fixed
                .trim_end_matches(['k', 'm', 'g'])
                .chars()
                .all(|c| c.is_ascii_digit())
            && fixed.chars().next().is_some_and(|c| c.is_ascii_digit());
        return suggest(
            ok.then_some(fixed),
            "write a number and `k`, `m` or `g`, without `B`",
        );
    }
    if pattern == REPOSITORY_PATTERN {
        let mut repo = value.trim();
        for prefix in [
            "https://github.com/",
            "http://github.com/",
            "git@github.com:",
            "github.com/",
        ] {
            repo = repo.strip_prefix(prefix).unwrap_or(repo);
        }
        let repo = repo.trim_end_matches('/').trim_end_matches(".git");
        let ok = repo.split('/').count() == 2
            && repo.split('/').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            });
        return suggest(
            ok.then(|| repo.to_string()),
            "write the owner and the name only",
        );
    }
    if pattern == VERSION_PATTERN {
        let fixed = value
            .trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == '-' || c == ' ')
            .to_string();
        let ok = !fixed.is_empty()
            && fixed.split('.').count() <= 3
            && fixed
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        return suggest(ok.then_some(fixed), "write the version number only");
    }
    None
}

/// `15 minutes` -> `15m`, `1.5h` -> `1h30m`, `2 Hours` -> `2h`.
fn fix_duration(value: &str) -> Option<String> {
    let text: String = value
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut total = 0f64;
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start_matches([',', '+']);
        let seconds = match unit {
            "ms" | "msec" | "millisecond" | "milliseconds" => 0.001,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3_600.0,
            "d" | "day" | "days" => 86_400.0,
            "w" | "wk" | "week" | "weeks" => 604_800.0,
            _ => return None,
        };
        total += number * seconds;
    }
    (total >= 1.0 && total.fract() == 0.0 && total < 1e12)
        .then(|| crate::syntax::format_duration(total as u64))
}

/// A host name the schema's `HOSTNAME_PATTERN` accepts.
fn is_hostname(host: &str) -> bool {
    let host = host.strip_prefix("*.").unwrap_or(host);
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

fn type_hint(kind: &TypeKind, instance: &Json) -> Option<String> {
    let expects = |name: &str| match kind {
        TypeKind::Single(t) => t.to_string() == name,
        TypeKind::Multiple(set) => set.iter().any(|t| t.to_string() == name),
    };
    match instance {
        Json::String(s) if expects("boolean") => {
            let lower = s.to_ascii_lowercase();
            ["yes", "no", "on", "off", "y", "n"]
                .contains(&lower.as_str())
                .then(|| format!("`{s}` is a string in YAML 1.2; write `true` or `false`"))
        }
        Json::String(s)
            if (expects("integer") || expects("number")) && s.parse::<f64>().is_ok() =>
        {
            Some("remove the quotes around the number".into())
        }
        Json::Number(_) | Json::Bool(_) if expects("string") => {
            Some("quote the value (`\"1\"`, `\"true\"`) so it stays a string".into())
        }
        Json::Null if expects("object") || expects("array") || expects("string") => {
            Some("the key has no value; indent its contents under it, or remove it".into())
        }
        Json::Number(n) if expects("integer") && !n.is_i64() && !n.is_u64() => {
            Some("write a whole number".into())
        }
        Json::String(_) if expects("integer") || expects("number") => {
            Some("write a number, without quotes or units".into())
        }
        Json::String(_) | Json::Number(_) | Json::Bool(_) if expects("array") => Some(
            "write a list: `[a, b]` on the same line, or one `- item` per line under the key"
                .into(),
        ),
        Json::Array(_) if expects("object") => {
            Some("write `name: value` entries indented under the key, not `- ` list items".into())
        }
        Json::String(_) | Json::Number(_) | Json::Bool(_) if expects("object") => {
            Some("write the settings as `key: value` lines indented under the key".into())
        }
        _ => None,
    }
}

/// Follows `$ref`s into `$defs`.
fn deref<'a>(root: &'a Json, mut schema: &'a Json) -> &'a Json {
    for _ in 0..16 {
        match schema.get("$ref").and_then(Json::as_str) {
            Some(reference) => {
                let Some(target) = reference.strip_prefix('#').and_then(|p| root.pointer(p)) else {
                    return schema;
                };
                schema = target;
            }
            None => return schema,
        }
    }
    schema
}

/// The schema that describes the value at `path`, following properties, maps, lists and
/// the alternatives of `anyOf` whose shape fits.
fn schema_at<'a>(root: &'a Json, path: &[PathSegment]) -> Option<&'a Json> {
    let mut schema = deref(root, root);
    for segment in path {
        schema = step(root, schema, segment)?;
    }
    Some(schema)
}

fn step<'a>(root: &'a Json, schema: &'a Json, segment: &PathSegment) -> Option<&'a Json> {
    let schema = deref(root, schema);
    let direct = match segment {
        PathSegment::Key(k) => schema
            .get("properties")
            .and_then(|p| p.get(k))
            .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object())),
        PathSegment::Index(_) => schema.get("items"),
    };
    if let Some(next) = direct {
        return Some(deref(root, next));
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = schema.get(key).and_then(Json::as_array) {
            for branch in branches {
                if let Some(found) = step(root, branch, segment) {
                    return Some(found);
                }
            }
        }
    }
    None
}

fn allowed_keys(root: &Json, path: &[PathSegment]) -> Vec<String> {
    let Some(schema) = schema_at(root, path) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = schema
        .get("properties")
        .and_then(Json::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    if keys.is_empty() {
        // An object branch of an `anyOf`.
        if let Some(branches) = schema.get("anyOf").and_then(Json::as_array) {
            for branch in branches {
                let branch = deref(root, branch);
                if let Some(p) = branch.get("properties").and_then(Json::as_object) {
                    keys.extend(p.keys().cloned());
                }
            }
        }
    }
    keys
}

fn alternatives(root: &Json, path: &[PathSegment]) -> Vec<String> {
    let Some(schema) = schema_at(root, path) else {
        return Vec::new();
    };
    forms_of(root, schema, 0)
}

/// One line per accepted form of `schema`: its branches' descriptions, with optional
/// (`null`) branches left out and a lone remaining branch opened up.
fn forms_of(root: &Json, schema: &Json, depth: usize) -> Vec<String> {
    let schema = deref(root, schema);
    let branches: Vec<&Json> = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Json::as_array)
        .map(|b| {
            b.iter()
                .filter(|b| deref(root, b).get("type").and_then(Json::as_str) != Some("null"))
                .collect()
        })
        .unwrap_or_default();
    if let [only] = branches.as_slice()
        && depth < 4
    {
        return forms_of(root, only, depth + 1);
    }
    branches
        .iter()
        .map(|b| {
            let own = b.get("description").and_then(Json::as_str);
            let target = deref(root, b);
            own.or_else(|| target.get("description").and_then(Json::as_str))
                .map(|d| lower_first(d.replace('\n', " ").trim_end_matches('.')))
                .unwrap_or_else(|| {
                    target
                        .get("type")
                        .map(|t| t.to_string())
                        .unwrap_or_default()
                })
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_names() {
        assert!(looks_secret("DJANGO_SECRET_KEY"));
        assert!(looks_secret("STRIPE_API_KEY"));
        assert!(!looks_secret("LOG_LEVEL"));
        assert!(has_url_password("postgres://app:hunter2@db/app"));
        assert!(!has_url_password("http://api:8000/api"));
    }

    fn problems(source: &str) -> Vec<Diagnostic> {
        validate_source("t.yaml", source).err().unwrap_or_default()
    }

    const BASE: &str = "project:\n  name: shop\n  repository: acme/shop\nservices:\n  api:\n    runtime: fastapi\n    path: api\n    port: 8000\n";

    #[test]
    fn guessed_fixes() {
        assert_eq!(fix_duration("15 minutes").as_deref(), Some("15m"));
        assert_eq!(fix_duration("1.5h").as_deref(), Some("1h30m"));
        assert_eq!(fix_duration("2 Hours, 5 min").as_deref(), Some("2h5m"));
        assert_eq!(fix_duration("soon"), None);
        let hint = |p, v| pattern_hint(p, v).unwrap_or_default();
        assert!(hint(blueprint::NAME_PATTERN, "Api_Service").ends_with("`api-service`"));
        assert!(hint(blueprint::ENV_NAME_PATTERN, "db-url").ends_with("`DB_URL`"));
        assert!(
            hint(blueprint::HOSTNAME_PATTERN, "https://API.example.com/x")
                .ends_with("`api.example.com`")
        );
        assert!(hint(blueprint::SIZE_PATTERN, "1 GiB").ends_with("`1g`"));
        assert!(hint(blueprint::URL_PATH_PATTERN, "/a b").starts_with("a space"));
        assert!(is_hostname("*.example.com") && !is_hostname("a..b") && !is_hostname("-a.b"));
    }

    #[test]
    fn dot_segments_are_refused_in_every_url_path() {
        for (yaml, path) in [
            ("    health: /./healthz\n", "services.api.health"),
            (
                "    metrics: { path: /m/.. }\n",
                "services.api.metrics.path",
            ),
            (
                "    routes: [{ path: /api/../admin }]\n",
                "services.api.routes[0].path",
            ),
            (
                "proxy: { expose: { grafana: { path: /../grafana } } }\n",
                "proxy.expose.grafana.path",
            ),
        ] {
            let found = problems(&format!("{BASE}{yaml}"));
            assert_eq!(found.len(), 1, "{yaml}: {found:?}");
            assert_eq!(found[0].path, path);
            assert!(found[0].message.contains("`..` segment"), "{found:?}");
        }
        assert!(problems(&format!("{BASE}    health: /.well-known/ready\n")).is_empty());
    }

    #[test]
    fn enums_list_their_values() {
        let found = problems(&BASE.replace("fastapi", "fastpai"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].expected.as_deref(),
            Some(
                "one of `django`, `fastapi`, `streamlit`, `python-worker`, `node`, `static`, `custom`"
            )
        );
        assert_eq!(found[0].hint.as_deref(), Some("did you mean `fastapi`?"));
        let found = problems(&format!("{BASE}monitoring:\n  routes:\n    critcal: []\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].span.line, found[0].span.column), (11, 5));
        assert_eq!(found[0].hint.as_deref(), Some("did you mean `critical`?"));
    }

    #[test]
    fn a_typo_of_a_required_key_is_one_problem() {
        let found = problems(&BASE.replace("runtime:", "runtim:"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("unknown key `runtim`"));
        // Without a look-alike key, the missing key is reported.
        let found = problems(&BASE.replace("    runtime: fastapi\n", ""));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .contains("missing the required key `runtime`")
        );
    }

    #[test]
    fn untagged_values_explain_the_likely_form() {
        let env = |value: &str| problems(&format!("{BASE}    env:\n      TOKEN: {value}\n"));
        let found = env("{ secrets: TOKEN }");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].hint.as_deref(), Some("did you mean `secret`?"));
        let found = env("4");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .starts_with("expected a string or a mapping")
        );
    }

    #[test]
    fn cidrs() {
        assert!(is_cidr("10.0.0.0/8"));
        assert!(is_cidr("192.168.1.1"));
        assert!(is_cidr("2001:db8::/32"));
        assert!(!is_cidr("10.0.0.0/33"));
        assert!(!is_cidr("10.0.0/8"));
        assert!(!is_cidr("10.0.0.0/8; deny all"));
    }
}
