//! Reading YAML into a tree that remembers where every node came from.
//!
//! serde-saphyr's event parser (granit) does the YAML; this module builds a small node tree
//! with line/column spans so that every later diagnostic (schema or semantic) can point at the
//! exact key or value. Scalars are resolved with YAML 1.2 core-schema rules: `yes`, `on` and
//! `no` stay strings, so a blueprint means the same to every reader.
//!
//! Hostile input is bounded here: the size of the file, the nesting depth, and the number of
//! nodes aliases may expand to ("billion laughs").

use std::collections::BTreeMap;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span as EventSpan};

use crate::diagnostic::{Diagnostic, Span};

/// The hint for a file with no blueprint in it.
pub const STARTER_HINT: &str = "a blueprint starts with `project:` (its `name` and `repository`) and `services:`; `blueprint schema` describes every key";

/// Files larger than this are refused before parsing.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;
/// Collections nested deeper than this are refused.
pub const MAX_DEPTH: usize = 64;
/// The most nodes a document may have after alias expansion.
pub const MAX_NODES: usize = 200_000;

/// A YAML node with its source span.
#[derive(Debug, Clone)]
pub struct Node {
    /// What the node is.
    pub kind: NodeKind,
    /// Where it is in the source.
    pub span: Span,
}

/// The kinds of YAML node, scalars already resolved.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A finite floating-point number.
    Float(f64),
    /// A string (any quoted or block scalar, and plain scalars that are not one of the above).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping; keys are kept in source order with their own spans.
    Map(Vec<(Node, Node)>),
}

/// A parsed document: the tree, and problems that did not stop parsing (duplicate keys).
pub struct Document {
    /// The root node.
    pub root: Node,
    /// Problems found while building the tree.
    pub problems: Vec<Diagnostic>,
}

/// One step in a path to a node: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// Formats a path the way users write it: `services.api.routes[0].path`.
pub fn display_path(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            PathSegment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSegment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn span_of(source: &str, span: &EventSpan) -> Span {
    let start = span.start.byte_offset().unwrap_or(0).min(source.len());
    let end = span
        .end
        .byte_offset()
        .unwrap_or(start)
        .clamp(start, source.len());
    if source.is_char_boundary(start) && source.is_char_boundary(end) {
        // The parser already knows the line and column: recounting them from the top of the
        // file for every node would make loading quadratic in the file's size.
        Span {
            start,
            end,
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    } else {
        Span::new(source, start, end)
    }
}

/// Parses `source` (named `file` in diagnostics) into a node tree.
pub fn parse(file: &str, source: &str) -> Result<Document, Vec<Diagnostic>> {
    if source.len() > MAX_INPUT_BYTES {
        return Err(vec![too_large(file, source.len())]);
    }
    if let Some(index) = source.find('\0') {
        return Err(vec![
            Diagnostic::new(
                file,
                Span::new(source, index, index + 1),
                "the file contains a NUL byte; it is not a text file",
            )
            .with_hint(
                "remove the byte; if an editor saved the file as UTF-16, save it as UTF-8 instead",
            ),
        ]);
    }
    let mut builder = Builder {
        file,
        source,
        stack: Vec::new(),
        anchors: BTreeMap::new(),
        nodes: 0,
        problems: Vec::new(),
        root: None,
        documents: 0,
    };
    for event in Parser::new_from_str(source) {
        match event {
            Ok((event, span)) => builder.event(event, &span)?,
            Err(error) => {
                let marker = error.marker();
                let mut offset = marker.byte_offset().unwrap_or(0).min(source.len());
                let mut message = error.info().to_string();
                if message.contains("tab") {
                    // The scanner reports where the token began (often the line before); the
                    // tab itself is what needs fixing.
                    if let Some(tab) = source[offset..].find('\t') {
                        offset += tab;
                    }
                    message = "a tab where YAML allows only spaces".into();
                } else if message.contains("unknown anchor") {
                    let name: String = source[offset..]
                        .trim_start_matches('*')
                        .chars()
                        .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
                        .take(60)
                        .collect();
                    message = format!("the alias `*{name}` has no anchor `&{name}` before it");
                } else if message.contains("simple key expected ':'") {
                    let key: String = source[offset..]
                        .chars()
                        .take_while(|c| *c != '\n' && *c != '\r')
                        .take(60)
                        .collect();
                    message = format!("`{}` has no `:` after it", key.trim_end());
                } else if message.starts_with("unexpected character")
                    && let Some(c) = source[offset..].chars().next()
                {
                    message = if c == '`' {
                        "unexpected character `` ` ``".to_string()
                    } else {
                        format!("unexpected character `{}`", c.escape_debug())
                    };
                } else if !message.contains("quote")
                    && let Some((open, bracket)) = unclosed_flow(source, offset)
                {
                    // A `[` or `{` that is never closed swallows the lines after it, and the
                    // parser only notices further down; the bracket is the mistake.
                    offset = open;
                    let close = if bracket == '[' { ']' } else { '}' };
                    message = format!("`{bracket}` is never closed with `{close}`");
                }
                return Err(vec![
                    Diagnostic::new(
                        file,
                        Span::new(source, offset, offset),
                        format!("invalid YAML: {}", message.trim_end_matches('.')),
                    )
                    .with_hint(yaml_hint(&message, source, offset)),
                ]);
            }
        }
    }
    match builder.root {
        Some(root) => Ok(Document {
            root,
            problems: builder.problems,
        }),
        None => {
            let message = if source.trim().is_empty() {
                "the file is empty"
            } else {
                "the file has only comments; there is no blueprint in it"
            };
            Err(vec![
                Diagnostic::new(file, Span::new(source, 0, 0), message)
                    .with_expected("a mapping with at least `project` and `services`")
                    .with_hint(STARTER_HINT),
            ])
        }
    }
}

/// The diagnostic for a file over [`MAX_INPUT_BYTES`].
pub fn too_large(file: &str, len: usize) -> Diagnostic {
    Diagnostic::new(
        file,
        Span::new("", 0, 0),
        format!("the file is {len} bytes; blueprints are limited to {MAX_INPUT_BYTES} bytes"),
    )
    .with_hint("a blueprint describes a project in a few hundred lines; keep data out of it")
}

/// The innermost `[` or `{` that opens a flow collection before `offset` and is still open at
/// the end of the file, with its byte offset.
fn unclosed_flow(source: &str, offset: usize) -> Option<(usize, char)> {
    let mut open: Vec<(usize, char)> = Vec::new();
    let mut quote: Option<char> = None;
    let mut comment = false;
    // The last significant character, to tell a flow indicator (`key: [`) from a bracket
    // inside a plain scalar (`expr: rate(x[5m])`).
    let mut previous = '\n';
    let mut chars = source.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if comment {
            if c == '\n' {
                comment = false;
                previous = '\n';
            }
            continue;
        }
        if let Some(q) = quote {
            if c == q {
                if q == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    chars.next();
                } else {
                    quote = None;
                    previous = c;
                }
            } else if c == '\\' && q == '"' {
                chars.next();
            }
            continue;
        }
        let value_start = matches!(previous, '\n' | ':' | '-' | ',' | '[' | '{' | '?');
        match c {
            '#' if previous == '\n' || source[..i].ends_with([' ', '\t']) => comment = true,
            '"' | '\'' if value_start || !open.is_empty() => quote = Some(c),
            '[' | '{' if value_start || !open.is_empty() => open.push((i, c)),
            ']' | '}' if !open.is_empty() => {
                open.pop();
            }
            _ => {}
        }
        if c == '\n' {
            previous = '\n';
        } else if !c.is_whitespace() {
            previous = c;
        }
    }
    open.into_iter().rev().find(|(i, _)| *i < offset)
}

fn yaml_hint(message: &str, source: &str, offset: usize) -> String {
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = source[line_start..].lines().next().unwrap_or("");
    if line.starts_with('\t') || message.contains("tab") {
        "YAML indentation must use spaces, not tabs".into()
    } else if message.contains("trailing content after") {
        "a quoted value ends at its closing quote; quote the whole value, or remove the stray quote"
            .into()
    } else if message.contains("quote") || message.contains("quoted") {
        "a quoted string is not closed on this line or a later one".into()
    } else if message.contains("has no anchor") {
        "an alias (`*name`) can only repeat a value marked earlier with an anchor (`&name`)".into()
    } else if message.contains("anchor or alias") {
        "`&` and `*` start anchors and aliases in YAML; quote a value that begins with them".into()
    } else if message.starts_with("unexpected character `@`")
        || message.starts_with("unexpected character `` ` ``")
        || message.starts_with("unexpected character `%`")
    {
        "`@`, `` ` `` and `%` cannot begin a plain value in YAML; quote the value".into()
    } else if message.contains("misplaced bracket") {
        "a `]` or `}` here closes nothing; remove it, or quote the value it belongs to".into()
    } else if message.contains("no `:` after it") {
        "each line of a mapping is `key: value`, and this one has no `:`".into()
    } else if message.contains("bracket '['")
        || message.contains("flow sequence")
        || message.starts_with("`[`")
    {
        "close the list with `]` (`[a, b]` on one line), or write one `- item` per line".into()
    } else if message.contains("bracket '{'")
        || message.contains("flow mapping")
        || message.starts_with("`{`")
    {
        "close the mapping with `}` (`{ a: 1, b: 2 }` on one line), or write one `key: value` per line".into()
    } else if message.contains("mapping values are not allowed") {
        "a value that contains `: ` must be quoted (`\"a: b\"`); otherwise this line is indented deeper than the key it belongs to".into()
    } else {
        "check the indentation and the `key: value` syntax on this line and the one before".into()
    }
}

enum Frame {
    Seq {
        start: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: Span,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
        /// The line of each key already in `entries`: a duplicate is found by one lookup, not
        /// by a scan that would make a mapping quadratic in its keys.
        lines: BTreeMap<String, usize>,
    },
}

struct Builder<'a> {
    file: &'a str,
    source: &'a str,
    stack: Vec<Frame>,
    anchors: BTreeMap<usize, Node>,
    nodes: usize,
    problems: Vec<Diagnostic>,
    root: Option<Node>,
    documents: usize,
}

impl Builder<'_> {
    fn error(&self, span: Span, message: impl Into<String>) -> Vec<Diagnostic> {
        vec![Diagnostic::new(self.file, span, message)]
    }

    fn event(&mut self, event: Event<'_>, span: &EventSpan) -> Result<(), Vec<Diagnostic>> {
        let here = span_of(self.source, span);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => Ok(()),
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self
                        .error(here, "the file has more than one YAML document (`---`)")
                        .into_iter()
                        .map(|d| d.with_hint("a blueprint is a single document: remove the second `---` and what follows, or merge it"))
                        .collect());
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                let core_str = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema_tag("str"));
                let kind = resolve_scalar(&text, style, core_str);
                self.count(&here)?;
                let node = Node { kind, span: here };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push_node(node)
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(&here)?;
                self.stack.push(Frame::Seq {
                    start: here,
                    anchor,
                    items: Vec::new(),
                });
                Ok(())
            }
            Event::MappingStart(_, anchor, _) => {
                self.open(&here)?;
                self.stack.push(Frame::Map {
                    start: here,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                    lines: BTreeMap::new(),
                });
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq {
                    start,
                    anchor,
                    items,
                }) => {
                    let node = Node {
                        kind: NodeKind::Seq(items),
                        span: Span {
                            end: here.end.max(start.start),
                            ..start
                        },
                    };
                    self.close(anchor, node)
                }
                _ => Err(self.error(here, "invalid YAML: unbalanced sequence")),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map {
                    start,
                    anchor,
                    entries,
                    ..
                }) => {
                    let node = Node {
                        kind: NodeKind::Map(entries),
                        span: Span {
                            end: here.end.max(start.start),
                            ..start
                        },
                    };
                    self.close(anchor, node)
                }
                _ => Err(self.error(here, "invalid YAML: unbalanced mapping")),
            },
            Event::Alias(anchor) => {
                let Some(target) = self.anchors.get(&anchor).cloned() else {
                    return Err(
                        self.error(here, "an alias refers to an anchor that is not defined")
                    );
                };
                let size = count_nodes(&target);
                self.nodes = self.nodes.saturating_add(size);
                if self.nodes > MAX_NODES {
                    return Err(vec![Diagnostic::new(
                        self.file,
                        here,
                        format!("aliases expand this document beyond {MAX_NODES} nodes"),
                    )
                    .with_hint("a blueprint never needs that many values; this looks like an alias bomb")]);
                }
                // The copy keeps the alias's own position, so diagnostics point at `*name`.
                let mut copy = target;
                copy.span = here;
                self.push_node(copy)
            }
            _ => Ok(()),
        }
    }

    fn count(&mut self, here: &Span) -> Result<(), Vec<Diagnostic>> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.error(
                *here,
                format!("the document has more than {MAX_NODES} nodes"),
            ));
        }
        Ok(())
    }

    fn open(&mut self, here: &Span) -> Result<(), Vec<Diagnostic>> {
        self.count(here)?;
        if self.stack.len() >= MAX_DEPTH {
            return Err(vec![
                Diagnostic::new(
                    self.file,
                    *here,
                    format!("collections are nested more than {MAX_DEPTH} levels deep"),
                )
                .with_hint("a blueprint is at most a few levels deep; check for runaway nesting"),
            ]);
        }
        Ok(())
    }

    fn close(&mut self, anchor: usize, node: Node) -> Result<(), Vec<Diagnostic>> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.push_node(node)
    }

    /// The path of the collection being built (the innermost frame), for messages.
    fn current_path(&self) -> Vec<PathSegment> {
        let depth = self.stack.len().saturating_sub(1);
        self.stack[..depth]
            .iter()
            .map(|frame| match frame {
                Frame::Seq { items, .. } => PathSegment::Index(items.len()),
                Frame::Map { pending_key, .. } => {
                    PathSegment::Key(pending_key.as_ref().map(key_text).unwrap_or_default())
                }
            })
            .collect()
    }

    fn push_node(&mut self, node: Node) -> Result<(), Vec<Diagnostic>> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map {
                entries,
                pending_key,
                lines,
                ..
            }) => match pending_key.take() {
                None => {
                    if !matches!(
                        node.kind,
                        NodeKind::Str(_)
                            | NodeKind::Int(_)
                            | NodeKind::Bool(_)
                            | NodeKind::Null
                            | NodeKind::Float(_)
                    ) {
                        return Err(vec![
                            Diagnostic::new(
                                self.file,
                                node.span,
                                "a mapping key must be a plain name, not a list or mapping",
                            )
                            .with_hint(
                                "blueprint keys are names such as `api`; remove the `?`, `[` or `{` that starts this key",
                            ),
                        ]);
                    }
                    *pending_key = Some(node);
                    Ok(())
                }
                Some(key) => {
                    let name = key_text(&key);
                    if let Some(&first_line) = lines.get(&name) {
                        let path = display_path(&self.current_path());
                        self.problems.push(
                            Diagnostic::new(self.file, key.span, format!("duplicate key `{name}`"))
                                .with_path(path)
                                .with_hint(format!("`{name}` is already set on line {first_line}; YAML keeps only one of them, so merge the two")),
                        );
                        return Ok(());
                    }
                    lines.insert(name, key.span.line);
                    entries.push((key, node));
                    Ok(())
                }
            },
        }
    }
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Seq(items) => items.iter().map(count_nodes).sum(),
        NodeKind::Map(entries) => entries
            .iter()
            .map(|(k, v)| count_nodes(k) + count_nodes(v))
            .sum(),
        _ => 0,
    }
}

/// The text of a scalar key as it appears in paths and messages.
pub fn key_text(node: &Node) -> String {
    match &node.kind {
        NodeKind::Str(s) => s.clone(),
        NodeKind::Int(i) => i.to_string(),
        NodeKind::Float(f) => f.to_string(),
        NodeKind::Bool(b) => b.to_string(),
        NodeKind::Null => "null".into(),
        NodeKind::Seq(_) | NodeKind::Map(_) => String::new(),
    }
}

fn resolve_scalar(text: &str, style: ScalarStyle, core_str: bool) -> NodeKind {
    if style != ScalarStyle::Plain || core_str {
        return NodeKind::Str(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return NodeKind::Int(i);
    }
    if is_float(text)
        && let Ok(f) = text.parse::<f64>()
        && f.is_finite()
    {
        return NodeKind::Float(f);
    }
    NodeKind::Str(text.to_string())
}

fn parse_int(text: &str) -> Option<i64> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'-' => (-1, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i64>().ok()?
    } else {
        return None;
    };
    Some(sign * value)
}

fn is_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (!a.is_empty() || !b.is_empty())
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|c| c.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

impl Node {
    /// Converts the tree to JSON for schema validation and typed deserialization.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (key_text(k), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The node at `path`, and the key node that names it when it is a mapping value.
    pub fn lookup(&self, path: &[PathSegment]) -> Option<(Option<&Node>, &Node)> {
        let mut key = None;
        let mut node = self;
        for segment in path {
            match (segment, &node.kind) {
                (PathSegment::Key(name), NodeKind::Map(entries)) => {
                    let (k, v) = entries.iter().find(|(k, _)| key_text(k) == *name)?;
                    key = Some(k);
                    node = v;
                }
                (PathSegment::Index(i), NodeKind::Seq(items)) => {
                    key = None;
                    node = items.get(*i)?;
                }
                _ => return None,
            }
        }
        Some((key, node))
    }

    /// The best span for a diagnostic about `path`: the deepest node that exists on the way.
    pub fn span_at(&self, path: &[PathSegment]) -> Span {
        for len in (0..=path.len()).rev() {
            if let Some((_, node)) = self.lookup(&path[..len]) {
                return node.span;
            }
        }
        self.span
    }

    /// The span of the key that names `path` (falls back to the value's span).
    pub fn key_span_at(&self, path: &[PathSegment]) -> Span {
        match self.lookup(path) {
            Some((Some(key), _)) => key.span,
            Some((None, node)) => node.span,
            None => self.span_at(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> serde_json::Value {
        parse("t.yaml", text)
            .map(|d| d.root.to_json())
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn yaml_1_2_scalars() {
        let v = json("a: yes\nb: on\nc: true\nd: 012\ne: 1.5\nf: '1'\ng: ~\nh: 0x1f\ni: 1_000\n");
        assert_eq!(v["a"], "yes");
        assert_eq!(v["b"], "on");
        assert_eq!(v["c"], true);
        assert_eq!(v["d"], 12);
        assert_eq!(v["e"], 1.5);
        assert_eq!(v["f"], "1");
        assert!(v["g"].is_null());
        assert_eq!(v["h"], 31);
        assert_eq!(v["i"], "1_000");
    }

    #[test]
    fn spans_point_at_keys_and_values() {
        let doc = parse("t.yaml", "project:\n  name: demo\nlist:\n  - a\n  - b\n").unwrap();
        let path = [
            PathSegment::Key("project".into()),
            PathSegment::Key("name".into()),
        ];
        let key = doc.root.key_span_at(&path);
        assert_eq!((key.line, key.column), (2, 3));
        let value = doc.root.span_at(&path);
        assert_eq!((value.line, value.column), (2, 9));
        let item = doc
            .root
            .span_at(&[PathSegment::Key("list".into()), PathSegment::Index(1)]);
        assert_eq!((item.line, item.column), (5, 5));
    }

    #[test]
    fn duplicate_keys_are_reported_not_dropped_silently() {
        let doc = parse("t.yaml", "a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(doc.problems.len(), 1);
        assert!(doc.problems[0].message.contains("duplicate key `a`"));
        assert_eq!(doc.problems[0].span.line, 3);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = parse("t.yaml", &text).err().expect("must be refused");
        assert!(
            err[0].message.contains("aliases expand"),
            "{}",
            err[0].message
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(200) + &"]".repeat(200);
        let err = parse("t.yaml", &text).err().expect("must be refused");
        assert!(err[0].message.contains("nested more than"));
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = parse("t.yaml", "a:\n\tb: 1\n")
            .err()
            .expect("tabs are invalid");
        assert_eq!(err[0].span.line, 2);
        let err = parse("t.yaml", "a: \"open\nb: 2\n")
            .err()
            .expect("unclosed quote");
        assert!(err[0].message.starts_with("invalid YAML"));
        let err = parse("t.yaml", "a:\n  b: 1\n\tc: 2\n").err().expect("tab");
        assert_eq!((err[0].span.line, err[0].span.column), (3, 1), "{err:?}");
        let err = parse("t.yaml", "a: [x, y\nb: 1\nc: 2\n")
            .err()
            .expect("unclosed bracket");
        assert_eq!((err[0].span.line, err[0].span.column), (1, 4), "{err:?}");
        assert!(err[0].message.contains("`[` is never closed"), "{err:?}");
        let err = parse("t.yaml", "a:\n  b: 1\n  b: 2\n").unwrap().problems;
        assert_eq!(err[0].path, "a");
        assert!(parse("t.yaml", "").is_err());
        assert!(parse("t.yaml", "# only a comment\n").is_err());
    }
}
