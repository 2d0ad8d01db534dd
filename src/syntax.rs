//! Small parsers for the value syntaxes the blueprint uses: DNS labels, durations, cron
//! schedules, sizes, alert templates.
//! Shared by `validate` (to reject bad values) and `model` (to compute derived values).

/// Whether `name` is a DNS label: lowercase letters, digits and `-`, starting with a letter,
/// not ending with `-`, at most 63 characters (the language's `NAME_PATTERN`).
pub fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !name.ends_with('-')
}

/// Parses a Prometheus-style duration (`30s`, `5m`, `1h30m`, `2d`) into seconds.
/// Returns `None` for anything else, including an empty string and a zero duration.
pub fn parse_duration(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut chars = text.chars().peekable();
    let mut saw_unit = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if digits.is_empty() {
            return None;
        }
        let value: u64 = digits.parse().ok()?;
        digits.clear();
        let unit_seconds = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                // Milliseconds round up to a whole second: the outputs that take durations here
                // (Compose, Prometheus `for`) are never meaningfully sub-second.
                total = total.checked_add(value.div_ceil(1000))?;
                saw_unit = true;
                continue;
            }
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            'y' => 31_536_000,
            _ => return None,
        };
        total = total.checked_add(value.checked_mul(unit_seconds)?)?;
        saw_unit = true;
    }
    if !digits.is_empty() || !saw_unit || total == 0 {
        return None;
    }
    Some(total)
}

/// Formats seconds as the shortest Prometheus duration (`90` -> `1m30s`, `7200` -> `2h`).
pub fn format_duration(seconds: u64) -> String {
    if seconds == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = seconds;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// One field of a cron expression: the set of values it matches.
struct CronField {
    allowed: Vec<bool>,
}

impl CronField {
    fn parse(text: &str, min: u32, max: u32, names: &[&str]) -> Result<Self, String> {
        let mut allowed = vec![false; (max + 1) as usize];
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((range, step)) => {
                    let step: u32 = step
                        .parse()
                        .map_err(|_| format!("`{part}`: the step `{step}` is not a number"))?;
                    if step == 0 {
                        return Err(format!("`{part}`: the step must be at least 1"));
                    }
                    (range, step)
                }
                None => (part, 1),
            };
            let (start, end) = if range == "*" {
                (min, max)
            } else if let Some((a, b)) = range.split_once('-') {
                (
                    Self::value(a, min, max, names)?,
                    Self::value(b, min, max, names)?,
                )
            } else {
                let v = Self::value(range, min, max, names)?;
                // `5/15` means from 5 to the end in steps of 15.
                (v, if part.contains('/') { max } else { v })
            };
            if start > end {
                return Err(format!("`{part}`: the range runs backwards"));
            }
            let mut v = start;
            while v <= end {
                allowed[v as usize] = true;
                v += step;
            }
        }
        Ok(Self { allowed })
    }

    fn value(text: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, String> {
        let lower = text.to_ascii_lowercase();
        if let Some(index) = names.iter().position(|n| *n == lower) {
            return Ok(index as u32 + min);
        }
        let v: u32 = text
            .parse()
            .map_err(|_| format!("`{text}` is not a number"))?;
        if v < min || v > max {
            return Err(format!("`{text}` is outside {min}-{max}"));
        }
        Ok(v)
    }

    fn matches(&self, v: u32) -> bool {
        self.allowed.get(v as usize).copied().unwrap_or(false)
    }
}

/// A parsed five-field cron expression (minute hour day-of-month month day-of-week), UTC.
pub struct Cron {
    minute: CronField,
    hour: CronField,
    day_of_month: CronField,
    month: CronField,
    day_of_week: CronField,
    day_of_month_star: bool,
    day_of_week_star: bool,
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Cron {
    /// Parses a five-field cron expression; the error says which field is wrong and why.
    pub fn parse(text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "a cron schedule has five fields (minute hour day-of-month month day-of-week), this has {}",
                fields.len()
            ));
        }
        let field = |i: usize, name: &str, min, max, names| {
            CronField::parse(fields[i], min, max, names).map_err(|e| format!("{name} field {e}"))
        };
        let mut day_of_week = field(4, "day-of-week", 0, 7, WEEKDAYS)?;
        // Both 0 and 7 mean Sunday.
        if day_of_week.matches(7) {
            day_of_week.allowed[0] = true;
        }
        Ok(Self {
            minute: field(0, "minute", 0, 59, &[])?,
            hour: field(1, "hour", 0, 23, &[])?,
            day_of_month: field(2, "day-of-month", 1, 31, &[])?,
            month: field(3, "month", 1, 12, MONTHS)?,
            day_of_week,
            day_of_month_star: fields[2] == "*",
            day_of_week_star: fields[4] == "*",
        })
    }

    fn day_matches(&self, day_of_month: u32, day_of_week: u32) -> bool {
        // Classic cron: when both day fields are restricted, either may match.
        match (self.day_of_month_star, self.day_of_week_star) {
            (true, true) => true,
            (false, true) => self.day_of_month.matches(day_of_month),
            (true, false) => self.day_of_week.matches(day_of_week),
            (false, false) => {
                self.day_of_month.matches(day_of_month) || self.day_of_week.matches(day_of_week)
            }
        }
    }

    /// The longest gap between two consecutive runs, in seconds, measured over two simulated
    /// years (so weekly and monthly patterns wrap correctly), or `None` when the schedule never
    /// fires (such as `0 0 31 2 *`).
    pub fn longest_gap_seconds(&self) -> Option<u64> {
        const DAYS_IN_MONTH: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let mut previous: Option<u64> = None;
        let mut longest: Option<u64> = None;
        let mut day_index: u64 = 0;
        let hours: Vec<u32> = (0..24).filter(|h| self.hour.matches(*h)).collect();
        let minutes: Vec<u32> = (0..60).filter(|m| self.minute.matches(*m)).collect();
        // The simulation starts on a Sunday, like 2023-01-01; leap days are ignored.
        for _year in 0..2 {
            for (month_index, days) in DAYS_IN_MONTH.iter().enumerate() {
                for day in 1..=*days {
                    let weekday = (day_index % 7) as u32;
                    if self.month.matches(month_index as u32 + 1) && self.day_matches(day, weekday)
                    {
                        for &hour in &hours {
                            for &minute in &minutes {
                                let t = day_index * 86_400
                                    + u64::from(hour) * 3_600
                                    + u64::from(minute) * 60;
                                if let Some(p) = previous {
                                    longest = Some(longest.unwrap_or(0).max(t - p));
                                }
                                previous = Some(t);
                            }
                        }
                    }
                    day_index += 1;
                }
            }
        }
        // A schedule that fires once a year has one gap in two years: a year.
        longest.or_else(|| previous.map(|_| 365 * 86_400))
    }
}

/// Parses a size (`512k`, `10m`, `1g`, `1024`) into bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let (digits, multiplier) = match text.chars().last()? {
        'k' => (&text[..text.len() - 1], 1024),
        'm' => (&text[..text.len() - 1], 1024 * 1024),
        'g' => (&text[..text.len() - 1], 1024 * 1024 * 1024),
        _ => (text, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

/// Functions Prometheus' alert templates know: Go's `text/template` built-ins and Prometheus'
/// own (`template.go`).
const TEMPLATE_FUNCTIONS: &[&str] = &[
    "and",
    "call",
    "html",
    "index",
    "slice",
    "js",
    "len",
    "not",
    "or",
    "print",
    "printf",
    "println",
    "urlquery",
    "eq",
    "ge",
    "gt",
    "le",
    "lt",
    "ne",
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "stripPort",
    "stripDomain",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "toDuration",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "now",
];

/// Variables every alert template has.
const TEMPLATE_VARIABLES: &[&str] = &["$", "$labels", "$externalLabels", "$externalURL", "$value"];

/// Checks that `text` is a Prometheus alert template that loads: every `{{` closed by `}}`,
/// strings and parentheses closed, only known functions and variables (or variables the
/// template declares), `if`/`range`/`with` closed by `end`. It lexes as Go's `text/template`
/// does but does not type-check: a template that passes may still fail when it runs, but one
/// that fails here would stop Prometheus from loading the rules file. `{{ "{{" }}` writes a
/// literal `{{`.
pub fn check_alert_template(text: &str) -> Result<(), String> {
    let mut declared: Vec<String> = Vec::new();
    let mut open: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let mut action = &rest[start + 2..];
        if let Some(trimmed) = action.strip_prefix("- ") {
            action = trimmed;
        }
        if let Some(comment) = action.trim_start().strip_prefix("/*") {
            let end = comment.find("*/").ok_or("a `/*` comment is never closed")?;
            let after = comment[end + 2..]
                .trim_start_matches(" -")
                .trim_start_matches(' ');
            rest = after
                .strip_prefix("}}")
                .ok_or("a comment must be the whole action: `{{/* ... */}}`")?;
            continue;
        }
        let (words, after) = template_action(action, &mut declared)?;
        rest = after;
        let Some(first) = words.first() else {
            return Err("an empty action `{{ }}`".into());
        };
        match first.as_str() {
            "if" | "range" | "with" | "define" | "block" => open.push("end"),
            "end" => {
                open.pop()
                    .ok_or("an `end` without an `if`, `range` or `with`")?;
            }
            "else" if open.is_empty() => return Err("an `else` outside an `if`".into()),
            _ => {}
        }
    }
    if !open.is_empty() {
        return Err("an `if`, `range` or `with` without its `{{ end }}`".into());
    }
    Ok(())
}

/// Lexes one action after its `{{`; returns its words (identifiers, variables, and a quote or
/// `(` for each string and group), and the text after its `}}`.
fn template_action<'a>(
    action: &'a str,
    declared: &mut Vec<String>,
) -> Result<(Vec<String>, &'a str), String> {
    const KEYWORDS: &[&str] = &[
        "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
        "nil", "true", "false",
    ];
    let mut words = Vec::new();
    let mut depth = 0usize;
    let mut chars = action.char_indices().peekable();
    let mut last_variable: Option<String> = None;
    while let Some((at, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {}
            '-' if action[at..].starts_with("-}}") && action[..at].ends_with(' ') => {}
            '}' if action[at..].starts_with("}}") => {
                if depth != 0 {
                    return Err("a `(` is never closed".into());
                }
                return Ok((words, &action[at + 2..]));
            }
            '"' | '`' | '\'' => {
                let quote = c;
                words.push(quote.to_string());
                loop {
                    match chars.next() {
                        Some((_, '\\')) if quote != '`' => {
                            chars.next();
                        }
                        Some((_, q)) if q == quote => break,
                        Some((_, '\n')) if quote != '`' => {
                            return Err(format!("a {quote} string is never closed"));
                        }
                        Some(_) => {}
                        None => return Err(format!("a {quote} string is never closed")),
                    }
                }
            }
            '(' => {
                depth += 1;
                words.push("(".into());
            }
            ')' => {
                depth = depth.checked_sub(1).ok_or("a `)` without its `(`")?;
            }
            '|' | ',' | '=' => {}
            ':' if action[at..].starts_with(":=") => {
                chars.next();
                if let Some(variable) = last_variable.take() {
                    declared.push(variable);
                }
            }
            '$' | '.' | '_' | 'a'..='z' | 'A'..='Z' | '0'..='9' | '+' | '-' => {
                let mut end = at + c.len_utf8();
                while let Some(&(i, next)) = chars.peek() {
                    if next.is_alphanumeric() || "_.$".contains(next) {
                        end = i + next.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let word = &action[at..end];
                let head = word.split('.').next().unwrap_or_default();
                if c == '$' {
                    last_variable = Some(head.to_string());
                    let known =
                        TEMPLATE_VARIABLES.contains(&head) || declared.iter().any(|d| d == head);
                    // `$x :=` declares it: look ahead past spaces.
                    let declares = action[end..].trim_start().starts_with(":=");
                    if !known && !declares {
                        return Err(format!("the variable `{head}` is not defined"));
                    }
                } else if (c.is_ascii_alphabetic() || c == '_')
                    && !KEYWORDS.contains(&head)
                    && !TEMPLATE_FUNCTIONS.contains(&head)
                {
                    return Err(format!("`{head}` is not a template function"));
                }
                // Fields (`.Labels.x`) and numbers need no check here.
                words.push(head.to_string());
            }
            other => {
                return Err(format!("`{other}` cannot stand in a template action"));
            }
        }
    }
    Err("a `{{` is never closed with `}}`".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_format() {
        assert_eq!(parse_duration("30s"), Some(30));
        assert_eq!(parse_duration("1h30m"), Some(5_400));
        assert_eq!(parse_duration("2d"), Some(172_800));
        assert_eq!(parse_duration("500ms"), Some(1));
        for bad in ["", "5", "m", "5x", "1h-", "0s", "-5m", "5 m"] {
            assert_eq!(parse_duration(bad), None, "{bad:?} must be rejected");
        }
        assert_eq!(format_duration(5_400), "1h30m");
        assert_eq!(format_duration(86_400 * 3), "3d");
    }

    #[test]
    fn cron_gaps() {
        let every_30 = Cron::parse("*/30 * * * *").unwrap();
        assert_eq!(every_30.longest_gap_seconds(), Some(1_800));
        let nightly = Cron::parse("0 3 * * *").unwrap();
        assert_eq!(nightly.longest_gap_seconds(), Some(86_400));
        let weekdays = Cron::parse("0 6 * * mon-fri").unwrap();
        assert_eq!(weekdays.longest_gap_seconds(), Some(3 * 86_400));
        let never = Cron::parse("0 0 31 2 *").unwrap();
        assert_eq!(never.longest_gap_seconds(), None);
    }

    #[test]
    fn cron_rejects_bad_fields() {
        for bad in [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "a * * * *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10m"), Some(10 * 1024 * 1024));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn alert_templates_that_prometheus_loads() {
        for ok in [
            "plain text, even with }} alone",
            "{{ $labels.instance }} is down",
            "{{ $value | humanizePercentage }} of requests fail",
            "{{- $labels.job -}}",
            "{{ if gt $value 1.0 }}high{{ else }}low{{ end }}",
            "{{ $x := $labels.a }}{{ $x }}",
            "{{ printf \"%.2f\" $value }}",
            "{{ with query \"up\" }}{{ . | first | value }}{{ end }}",
            "a literal {{ \"{{\" }} here",
            "{{/* a comment */}}",
            "{{ .Labels.x }}",
        ] {
            assert_eq!(check_alert_template(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("{{ $labels.x ", "never closed"),
            ("{{ ase }}", "`ase` is not a template function"),
            ("{{ $nope }}", "`$nope` is not defined"),
            ("{{ if $value }}x", "without its `{{ end }}`"),
            ("{{ end }}", "without an `if`"),
            ("{{ \"open }}", "never closed"),
            ("{{ (len $labels }}", "`(` is never closed"),
            ("{{ }}", "empty action"),
            ("{{ $value; }}", "`;` cannot stand"),
            ("{{/* open }}", "never closed"),
        ] {
            let error = check_alert_template(bad).expect_err(bad);
            assert!(error.contains(why), "{bad}: {error}");
        }
    }
}
