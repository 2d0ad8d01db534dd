//! Located diagnostics: `file:line:col`, the source line with a caret, what was expected, and
//! a hint. Rendering is plain text (with optional colour) so snapshots are exact.

use std::fmt::Write as _;

/// A region of the source, with its 1-based line and column (in characters) precomputed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Byte offset of the start.
    pub start: usize,
    /// Byte offset of the end (exclusive).
    pub end: usize,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column of the start, in characters.
    pub column: usize,
}

impl Span {
    /// The span of `source[start..end]`; offsets are clamped to the source and char boundaries.
    pub fn new(source: &str, start: usize, end: usize) -> Self {
        let mut start = start.min(source.len());
        while !source.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = end.clamp(start, source.len());
        while !source.is_char_boundary(end) {
            end += 1;
        }
        let before = &source[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = source[line_start..start].chars().count() + 1;
        Self {
            start,
            end,
            line,
            column,
        }
    }
}

/// One problem in a blueprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as the user named it.
    pub file: String,
    /// Where.
    pub span: Span,
    /// The YAML path of the offending value (`services.api.port`); empty for the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What was expected.
    pub expected: Option<String>,
    /// How to fix it.
    pub hint: Option<String>,
    /// The source line the span starts on (without its newline); `None` when the source is not
    /// known (the line is then not shown).
    pub line_text: Option<String>,
    /// How many characters of that line to underline (at least one).
    pub underline: usize,
}

impl Diagnostic {
    /// A diagnostic at `span` of `source`. The source line is captured now, so rendering needs
    /// no access to the file.
    pub fn new(file: &str, span: Span, message: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            span,
            path: String::new(),
            message: message.into(),
            expected: None,
            hint: None,
            line_text: None,
            underline: 1,
        }
    }

    /// Captures the source line and the underline length from `source`.
    pub fn with_source(mut self, source: &str) -> Self {
        let line_start = source[..self.span.start.min(source.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line_end = source[line_start..]
            .find('\n')
            .map_or(source.len(), |i| line_start + i);
        self.line_text = Some(
            source[line_start..line_end]
                .trim_end_matches('\r')
                .to_string(),
        );
        let end = self.span.end.min(line_end).max(self.span.start);
        self.underline = source
            .get(self.span.start..end)
            .map_or(1, |s| s.chars().count())
            .max(1);
        self
    }

    /// Sets the YAML path.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets what was expected.
    pub fn with_expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    /// Sets the hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Renders the diagnostic as text; `color` adds ANSI styles.
    pub fn render(&self, color: bool) -> String {
        let (red, blue, bold, reset) = if color {
            ("\x1b[1;31m", "\x1b[1;34m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "", "")
        };
        let mut out = String::new();
        let location = if self.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", printable(&self.path))
        };
        let _ = writeln!(
            out,
            "{red}error{reset}{bold}: {location}{}{reset}",
            printable(&self.message)
        );
        let gutter = self.span.line.to_string().len();
        let pad = " ".repeat(gutter);
        let _ = writeln!(
            out,
            "{pad}{blue}-->{reset} {}:{}:{}",
            printable(&self.file),
            self.span.line,
            self.span.column
        );
        if let Some(line_text) = &self.line_text {
            let (shown, caret_column, underline) = excerpt(
                line_text,
                self.span.column.saturating_sub(1),
                self.underline,
            );
            let _ = writeln!(out, "{pad} {blue}|{reset}");
            let source_line = format!("{blue}{}{reset} {blue}|{reset} {shown}", self.span.line);
            let _ = writeln!(out, "{}", source_line.trim_end());
            let caret_pad = " ".repeat(caret_column);
            let carets = "^".repeat(underline);
            let _ = writeln!(out, "{pad} {blue}|{reset} {caret_pad}{red}{carets}{reset}");
        }
        if let Some(expected) = &self.expected {
            let expected = printable(expected);
            let _ = writeln!(out, "{pad} {blue}={reset} expected: {expected}");
        }
        if let Some(hint) = &self.hint {
            let hint = printable(hint);
            let _ = writeln!(out, "{pad} {blue}={reset} hint: {hint}");
        }
        out
    }
}

/// Whether `c` changes how the text around it is displayed: the bidirectional embeddings,
/// overrides, isolates and marks ("Trojan Source"), and the line and paragraph separators.
pub fn is_display_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether `c` may not stand in a blueprint's text, nor in any file rendered from it: a control
/// character other than line feed and tab (NUL, CR, escape, DEL, C1 controls), or a display
/// control.
pub fn is_unprintable(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_display_control(c)
}

/// `text` with every control character (line breaks included) and display control escaped
/// (`\n`, `\u{202e}`): what a message quotes from a blueprint can neither break the
/// diagnostic's lines, send terminal escapes, nor reorder what is shown.
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() || is_display_control(c))
    {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() || is_display_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.into()
}

/// The longest source line shown whole; longer lines are cut to a window around the span.
const MAX_LINE_CHARS: usize = 120;

/// The part of `line` to show, with the caret's column and the underline's length in it (both
/// in characters). Tabs become spaces, other control characters their visible symbols
/// (`\0` is shown as `␀`) and display controls `\u{fffd}`, so the caret stays under the right
/// character and the terminal is never sent raw control codes or told to reorder the line.
fn excerpt(line: &str, column: usize, underline: usize) -> (String, usize, usize) {
    let chars: Vec<char> = line
        .chars()
        .map(|c| match c {
            '\t' => ' ',
            c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap_or('?'),
            '\u{7f}' => '\u{2421}',
            c if c.is_control() || is_display_control(c) => '\u{fffd}',
            c => c,
        })
        .collect();
    let column = column.min(chars.len());
    let underline = underline.max(1);
    if chars.len() <= MAX_LINE_CHARS {
        let underline = underline.min(chars.len().saturating_sub(column).max(1));
        return (chars.into_iter().collect(), column, underline);
    }
    let start = column.saturating_sub(MAX_LINE_CHARS / 3);
    let end = (start + MAX_LINE_CHARS).min(chars.len());
    let mut shown = String::new();
    let mut caret = column - start;
    if start > 0 {
        shown.push_str("...");
        caret += 3;
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push_str("...");
    }
    let underline = underline.min(end.saturating_sub(column).max(1));
    (shown, caret, underline)
}

/// Renders many diagnostics, separated by blank lines, with a closing count.
pub fn render_all(diagnostics: &[Diagnostic], color: bool) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.render(color));
        out.push('\n');
    }
    let n = diagnostics.len();
    let _ = writeln!(out, "{} problem{} found", n, if n == 1 { "" } else { "s" });
    out
}

/// The closest candidate to `word` by edit distance, when it is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase().replace('-', "_");
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    let close = candidates
        .iter()
        .map(|c| (edit_distance(&word_lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c);
    // An abbreviation or its expansion (`prod` for `production`, `db` for `db-primary`): one
    // candidate that begins the word, or that the word begins.
    close.or_else(|| {
        let mut prefixed = candidates.iter().copied().filter(|c| {
            let c = c.to_ascii_lowercase().replace('-', "_");
            c.len().min(word_lower.len()) >= 2
                && (word_lower.starts_with(&c) || c.starts_with(&word_lower))
        });
        match (prefixed.next(), prefixed.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    })
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbouring characters (the most common typo) each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_line_and_caret() {
        let source = "services:\n  api:\n    port: eighty\n";
        let start = source.find("eighty").unwrap();
        let d = Diagnostic::new("bp.yaml", Span::new(source, start, start + 6), "not a port")
            .with_source(source)
            .with_path("services.api.port")
            .with_expected("an integer from 1 to 65535")
            .with_hint("write the number without quotes");
        let text = d.render(false);
        assert!(
            text.contains("error: services.api.port: not a port"),
            "{text}"
        );
        assert!(text.contains("--> bp.yaml:3:11"), "{text}");
        assert!(text.contains("3 |     port: eighty"), "{text}");
        assert!(text.contains("  |           ^^^^^^"), "{text}");
        assert!(
            text.contains("= expected: an integer from 1 to 65535"),
            "{text}"
        );
        assert!(
            text.contains("= hint: write the number without quotes"),
            "{text}"
        );
    }

    #[test]
    fn typo_suggestions() {
        let fields = ["depends_on", "deploy", "dockerfile", "port"];
        assert_eq!(did_you_mean("depends-on", fields), Some("depends_on"));
        assert_eq!(did_you_mean("dependson", fields), Some("depends_on"));
        assert_eq!(did_you_mean("prot", fields), Some("port"));
        assert_eq!(did_you_mean("zzzzzz", fields), None);
        assert_eq!(did_you_mean("production", ["dev", "prod"]), Some("prod"));
        assert_eq!(did_you_mean("store-primary-old", ["store", "st"]), None);
    }

    #[test]
    fn empty_lines_control_characters_and_long_lines() {
        let source = "a: 1\n\nb: x\0y\n";
        let empty = Diagnostic::new("f", Span::new(source, 5, 5), "here").with_source(source);
        let text = empty.render(false);
        assert!(text.contains("2 |\n  | ^\n"), "{text}");

        let nul = source.find('\0').unwrap();
        let d = Diagnostic::new("f", Span::new(source, nul, nul + 1), "nul").with_source(source);
        let text = d.render(false);
        assert!(text.contains("3 | b: x\u{2400}y\n  |     ^\n"), "{text}");

        let long = format!("key: {}needle{}", "x".repeat(300), "y".repeat(300));
        let at = long.find("needle").unwrap();
        let d = Diagnostic::new("f", Span::new(&long, at, at + 6), "long").with_source(&long);
        let text = d.render(false);
        let line = text.lines().nth(3).unwrap();
        let caret = text.lines().nth(4).unwrap();
        assert!(line.len() < 140, "{text}");
        assert_eq!(
            &line[caret.find('^').unwrap()..caret.find('^').unwrap() + 6],
            "needle",
            "{text}"
        );

        let unknown = Diagnostic::new("f", Span::new("", 0, 0), "no source").render(false);
        assert!(!unknown.contains('|'), "{unknown}");
    }

    #[test]
    fn quoted_text_cannot_break_lines_reorder_or_send_escapes() {
        let source = "name: \"a\u{202e}b\"\n";
        let value = "a\nerror: forged\r\u{1b}[2J\u{202e}b\u{2066}";
        let d = Diagnostic::new(
            "f\n",
            Span::new(source, 6, 19),
            format!("`{value}` is wrong"),
        )
        .with_source(source)
        .with_path(format!("services.{value}"))
        .with_expected(value)
        .with_hint(value);
        let text = d.render(false);
        assert_eq!(text.lines().count(), 7, "{text}");
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n') || is_display_control(c)),
            "{text:?}"
        );
        assert!(
            text.starts_with(
                "error: services.a\\nerror: forged\\r\\u{1b}[2J\\u{202e}b\\u{2066}: `a\\n"
            ),
            "{text}"
        );
        assert!(text.contains("--> f\\n:1:7"), "{text}");
    }
}
