//! PowerShell text, built only from typed parts.
//!
//! Every value that comes from a request or from discovered facts becomes a verbatim
//! (single-quoted) string literal in which all five characters PowerShell treats as a single
//! quote (U+0027, U+2018, U+2019, U+201A, U+201B) are doubled, so no input can end the literal.
//! Numbers and booleans are rendered as tokens. Nothing is ever interpolated into double-quoted
//! strings, here-strings or bare words.

use std::fmt;

/// The characters that open or close a PowerShell verbatim string (language spec §2.3.5.2).
pub const SINGLE_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// A character that never goes into a script: NUL and the other control characters except tab,
/// carriage return and line feed. Some hosts end a script at NUL, and no Lync or Exchange name
/// contains such characters, so values holding them are refused before any script is built.
pub fn is_forbidden(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\r' | '\n')
}

/// Text that contains a forbidden character (see [`is_forbidden`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("contains the control character U+{:04X}, which imlink never puts into a script", *.0 as u32)]
pub struct ForbiddenCharacter(pub char);

/// Checks that `value` may become a literal.
pub fn check_text(value: &str) -> Result<(), ForbiddenCharacter> {
    match value.chars().find(|c| is_forbidden(*c)) {
        Some(c) => Err(ForbiddenCharacter(c)),
        None => Ok(()),
    }
}

/// `value` as a verbatim string literal: `'…'`, each single-quote character doubled.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        out.push(c);
        if SINGLE_QUOTES.contains(&c) {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A parameter value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Text, rendered as a verbatim string literal.
    Text(String),
    /// An integer token.
    Int(i64),
    /// `$True` or `$False`.
    Bool(bool),
    /// `@{Add='…'}` or `@{Remove='…'}`: a multi-valued property change.
    Change { add: bool, item: String },
}

impl Value {
    pub fn text(value: impl fmt::Display) -> Value {
        Value::Text(value.to_string())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) => f.write_str(&quote(s)),
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(true) => f.write_str("$True"),
            Value::Bool(false) => f.write_str("$False"),
            Value::Change { add, item } => {
                let op = if *add { "Add" } else { "Remove" };
                write!(f, "@{{{op}={}}}", quote(item))
            }
        }
    }
}

/// A cmdlet invocation with named parameters, e.g.
/// `New-CsTrustedApplication -ApplicationId 'OutlookWebApp' -Port 5199`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    name: &'static str,
    params: Vec<(&'static str, Option<Value>)>,
}

impl Command {
    /// A command named by a constant (cmdlet names never come from input).
    pub fn new(name: &'static str) -> Self {
        Command {
            name,
            params: Vec::new(),
        }
    }

    /// Adds `-name value`.
    pub fn arg(mut self, name: &'static str, value: Value) -> Self {
        self.params.push((name, Some(value)));
        self
    }

    /// Adds a switch parameter `-name`.
    pub fn switch(mut self, name: &'static str) -> Self {
        self.params.push((name, None));
        self
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)?;
        for (name, value) in &self.params {
            write!(f, " -{name}")?;
            if let Some(v) = value {
                write!(f, " {v}")?;
            }
        }
        Ok(())
    }
}

/// Whether `literal` is one well-formed verbatim string per the language specification: it
/// opens and closes with a single-quote character, and inside it every single-quote character
/// is immediately followed by another (an escaped quote). Returns the unescaped content.
pub fn parse_verbatim(literal: &str) -> Option<String> {
    let mut chars = literal.chars().peekable();
    if !SINGLE_QUOTES.contains(&chars.next()?) {
        return None;
    }
    let mut content = String::new();
    while let Some(c) = chars.next() {
        if SINGLE_QUOTES.contains(&c) {
            match chars.peek() {
                Some(next) if SINGLE_QUOTES.contains(next) => {
                    content.push(c);
                    chars.next();
                }
                // The closing quote must be the last character.
                _ => return chars.next().is_none().then_some(content),
            }
        } else {
            content.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_doubles_every_single_quote_character() {
        let cases = [
            ("atl-owa-001.litwareinc.com", "'atl-owa-001.litwareinc.com'"),
            ("", "''"),
            ("O'Brien", "'O''Brien'"),
            (
                "a\u{2019}; Stop-Computer; \u{2018}",
                "'a\u{2019}\u{2019}; Stop-Computer; \u{2018}\u{2018}'",
            ),
            ("\u{201A}\u{201B}", "'\u{201A}\u{201A}\u{201B}\u{201B}'"),
            ("$(Stop-Computer)`\"", "'$(Stop-Computer)`\"'"),
        ];
        for (input, want) in cases {
            assert_eq!(quote(input), want, "{input:?}");
            assert_eq!(parse_verbatim(want).as_deref(), Some(input), "{input:?}");
        }
    }

    #[test]
    fn parse_verbatim_rejects_literals_that_end_early() {
        for bad in ["'a'b'", "'a\u{2019}b'", "'abc", "abc'", "", "'", "'a''"] {
            assert_eq!(parse_verbatim(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn commands_render_named_parameters() {
        let cmd = Command::new("New-CsTrustedApplicationPool")
            .arg("Identity", Value::text("atl-owa-001.litwareinc.com"))
            .arg("RequiresReplication", Value::Bool(false))
            .arg("Port", Value::Int(5199))
            .arg(
                "DialPlans",
                Value::Change {
                    add: true,
                    item: "Redmond DP".into(),
                },
            )
            .switch("Force");
        assert_eq!(
            cmd.to_string(),
            "New-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com' \
             -RequiresReplication $False -Port 5199 -DialPlans @{Add='Redmond DP'} -Force"
        );
    }
}
