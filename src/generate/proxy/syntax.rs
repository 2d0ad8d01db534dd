//! Test support: small parsers for the two proxy configs, faithful to how the engines split text
//! into tokens (quotes, escapes, comments, blocks), so that tests assert on what nginx and Caddy
//! will actually read. The proxy generator's unit tests use them, and so does the hostile-input
//! property test (`tests/hostile.rs` includes this file), which compares the structure of
//! configs rendered from hostile and from benign values.

#![allow(dead_code)] // Each includer uses its own subset.

/// One directive: its name, its arguments (unquoted, escapes resolved) and its block, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    pub block: Option<Vec<Directive>>,
}

impl Directive {
    fn root(children: Vec<Directive>) -> Self {
        Self {
            name: "main".into(),
            args: Vec::new(),
            block: Some(children),
        }
    }

    pub fn children(&self) -> &[Directive] {
        self.block.as_deref().unwrap_or_default()
    }

    pub fn all(&self, name: &str) -> Vec<&Directive> {
        self.children().iter().filter(|d| d.name == name).collect()
    }

    pub fn has(&self, name: &str, args: &[&str]) -> bool {
        self.children()
            .iter()
            .any(|d| d.name == name && d.args == args)
    }

    /// How many directives there are below this one, and how many of them open a block.
    pub fn counts(&self) -> (usize, usize) {
        self.children().iter().fold((0, 0), |(all, blocks), d| {
            let (a, b) = d.counts();
            (all + 1 + a, blocks + usize::from(d.block.is_some()) + b)
        })
    }

    /// The shape of the tree: every directive's name and number of arguments, nested as the
    /// blocks are, without the argument values.
    pub fn skeleton(&self) -> String {
        let mut out = String::new();
        for d in self.children() {
            out.push_str(&format!("{}/{}", d.name, d.args.len()));
            if d.block.is_some() {
                out.push('{');
                out.push_str(&d.skeleton());
                out.push('}');
            }
            out.push(';');
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// nginx (ngx_conf_read_token): `;` ends a directive, `{` opens a block and `}` closes it, `#`
// at the start of a token comments out the rest of the line, `"` or `'` at the start of a token
// quote it, `\` escapes the next character (in quotes and out), a bare word ends at white space,
// `;` or `{` (but `${` is a variable, and `}` inside a word is just a character).

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Open,
    Close,
    End,
}

/// Adds the character a `\` escapes to `word`, as nginx copies a token.
fn nginx_escape(word: &mut String, next: Option<char>) -> Result<(), String> {
    match next {
        Some('n') => word.push('\n'),
        Some('t') => word.push('\t'),
        Some('r') => word.push('\r'),
        Some(c @ ('"' | '\'' | '\\')) => word.push(c),
        Some(c) => {
            word.push('\\');
            word.push(c);
        }
        None => return Err("an escape at the end of the file".into()),
    }
    Ok(())
}

fn nginx_tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '{' | '}' | ';' => {
                chars.next();
                tokens.push(match c {
                    '{' => Token::Open,
                    '}' => Token::Close,
                    _ => Token::End,
                });
            }
            '"' | '\'' => {
                let quote = c;
                chars.next();
                let mut word = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => nginx_escape(&mut word, chars.next())?,
                        Some(c) if c == quote => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("an unterminated {quote} string")),
                    }
                }
                // nginx wants a space, `;` or `{` after a closing quote.
                if chars
                    .peek()
                    .is_some_and(|c| !c.is_whitespace() && !"{;".contains(*c))
                {
                    return Err(format!("text right after the quoted word {word:?}"));
                }
                tokens.push(Token::Word(word));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    // `}` does not end a bare word; `{` does, unless it follows `$`.
                    let variable = c == '{' && word.ends_with('$') && !word.ends_with("\\$");
                    if c.is_whitespace() || c == ';' || (c == '{' && !variable) {
                        break;
                    }
                    chars.next();
                    if c == '\\' {
                        nginx_escape(&mut word, chars.next())?;
                    } else {
                        word.push(c);
                    }
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// Parses an nginx config, or says why nginx would not read it.
pub fn try_parse_nginx(text: &str) -> Result<Directive, String> {
    fn block(tokens: &mut std::vec::IntoIter<Token>, top: bool) -> Result<Vec<Directive>, String> {
        let mut out = Vec::new();
        let mut words: Vec<String> = Vec::new();
        while let Some(token) = tokens.next() {
            match token {
                Token::Word(w) => words.push(w),
                Token::End | Token::Open if words.is_empty() => {
                    return Err("a directive without a name".into());
                }
                Token::End => {
                    let name = words.remove(0);
                    out.push(Directive {
                        name,
                        args: std::mem::take(&mut words),
                        block: None,
                    });
                }
                Token::Open => {
                    let name = words.remove(0);
                    let children = block(tokens, false)?;
                    out.push(Directive {
                        name,
                        args: std::mem::take(&mut words),
                        block: Some(children),
                    });
                }
                Token::Close if top || !words.is_empty() => {
                    return Err("an unbalanced `}` or a directive without `;`".into());
                }
                Token::Close => return Ok(out),
            }
        }
        if top && words.is_empty() {
            Ok(out)
        } else {
            Err("an unterminated block or directive".into())
        }
    }
    let mut tokens = nginx_tokens(text)?.into_iter();
    Ok(Directive::root(block(&mut tokens, true)?))
}

/// Parses an nginx config the generator wrote; panics if nginx would not read it.
pub fn parse_nginx(text: &str) -> Directive {
    try_parse_nginx(text).unwrap_or_else(|e| panic!("not an nginx config: {e}\n{text}"))
}

// ---------------------------------------------------------------------------------------------
// Caddyfile (caddyconfig/caddyfile's lexer): tokens are separated by white space; `"` or `` ` ``
// at the start of a token quote it (a quoted token may span lines; `\"` is a quote inside `"`),
// `#` at the start of a token comments out the rest of the line, `\` at the end of a line
// continues the directive on the next. A directive is the tokens that start on one line; a `{` token ending a line
// opens a block and a `}` token alone on its line closes it.

/// A token and the lines it starts and ends on (a quoted token may span lines).
struct CaddyToken {
    text: String,
    line: usize,
    end: usize,
}

fn caddy_lex(text: &str) -> Result<Vec<CaddyToken>, String> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == '\n' {
            line += 1;
            chars.next();
        } else if c.is_whitespace() {
            chars.next();
        } else if c == '#' {
            while chars.peek().is_some_and(|c| *c != '\n') {
                chars.next();
            }
        } else if c == '"' || c == '`' {
            let start = line;
            chars.next();
            let mut word = String::new();
            loop {
                match chars.next() {
                    // Inside `"`, `\"` is a quote and `\` before a line break is dropped.
                    Some('\\') if c == '"' && matches!(chars.peek(), Some('"' | '\n')) => {
                        let next = chars.next().expect("peeked");
                        if next == '\n' {
                            line += 1;
                        }
                        word.push(next);
                    }
                    Some(q) if q == c => break,
                    Some(other) => {
                        if other == '\n' {
                            line += 1;
                        }
                        word.push(other);
                    }
                    None => return Err(format!("an unterminated {c} string")),
                }
            }
            tokens.push(CaddyToken {
                text: word,
                line: start,
                end: line,
            });
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' && chars.peek() == Some(&'\n') {
                    // A line continuation: the token ends, the directive goes on.
                    chars.next();
                    break;
                } else {
                    word.push(c);
                }
            }
            if !word.is_empty() {
                tokens.push(CaddyToken {
                    text: word,
                    line,
                    end: line,
                });
            }
        }
    }
    Ok(tokens)
}

/// The tokens of Caddyfile text, as Caddy reads them.
pub fn caddy_tokens(text: &str) -> Vec<String> {
    caddy_lex(text)
        .unwrap_or_else(|e| panic!("not Caddyfile text: {e}\n{text}"))
        .into_iter()
        .map(|t| t.text)
        .collect()
}

/// Parses a Caddyfile, or says why Caddy would not read it.
pub fn try_parse_caddy(text: &str) -> Result<Directive, String> {
    let tokens = caddy_lex(text)?;
    // A directive is the tokens from one that starts on a new line up to the next such one.
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut last = 0;
    for token in tokens {
        if token.line > last || lines.is_empty() {
            lines.push(Vec::new());
        }
        last = token.end;
        lines.last_mut().expect("just pushed").push(token.text);
    }
    let mut stack: Vec<Directive> = vec![Directive::root(Vec::new())];
    for mut tokens in lines {
        if tokens == ["}"] {
            let done = stack.pop().expect("the root stays");
            let Some(parent) = stack.last_mut() else {
                return Err("an unbalanced `}`".into());
            };
            parent.block.get_or_insert_with(Vec::new).push(done);
            continue;
        }
        let opens = tokens.last().is_some_and(|t| t == "{");
        if opens {
            tokens.pop();
        }
        if tokens.iter().any(|t| t == "{" || t == "}") {
            return Err(format!("a brace inside the line {tokens:?}"));
        }
        let (name, args) = if tokens.is_empty() {
            // The global options block: `{` alone.
            (String::from("{global}"), Vec::new())
        } else {
            let name = tokens.remove(0);
            (name, tokens)
        };
        let directive = Directive {
            name,
            args,
            block: opens.then(Vec::new),
        };
        if opens {
            stack.push(directive);
        } else {
            stack
                .last_mut()
                .expect("the root stays")
                .block
                .get_or_insert_with(Vec::new)
                .push(directive);
        }
    }
    if stack.len() != 1 {
        return Err("a block that is never closed".into());
    }
    Ok(stack.pop().expect("the root"))
}

/// Parses a Caddyfile the generator wrote; panics if Caddy would not read it.
pub fn parse_caddy(text: &str) -> Directive {
    try_parse_caddy(text).unwrap_or_else(|e| panic!("not a Caddyfile: {e}\n{text}"))
}
