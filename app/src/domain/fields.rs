//! Validated form fields for the imlink portal.
//!
//! Every value that is placed into generated PowerShell passes through one of
//! these newtypes. Each type has a single constructor, `parse`, which trims,
//! normalizes and checks the input against a conservative allow-list.
//! Deserialization runs the same validator, so a value of one of these types is
//! always valid. The code is pure and compiles for `wasm32` as well.

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest fully qualified domain name accepted, in characters.
pub const FQDN_MAX_LEN: usize = 253;
/// Longest single label (part between dots) of a domain name, in characters.
pub const FQDN_LABEL_MAX_LEN: usize = 63;
/// Number of hexadecimal digits in a SHA-1 certificate thumbprint.
pub const THUMBPRINT_LEN: usize = 40;
/// Longest application ID accepted, in characters.
pub const APPLICATION_ID_MAX_LEN: usize = 64;
/// Longest site ID accepted, in characters.
pub const SITE_ID_MAX_LEN: usize = 64;
/// Longest policy name accepted, in characters.
pub const POLICY_NAME_MAX_LEN: usize = 64;
/// Most policy names accepted in one [`PolicySelection`].
pub const POLICY_LIST_MAX: usize = 50;
/// Shortest justification accepted, in characters.
pub const JUSTIFICATION_MIN_LEN: usize = 10;
/// Longest justification accepted, in characters.
pub const JUSTIFICATION_MAX_LEN: usize = 2000;

/// Why a form value was rejected; the `Display` text is shown next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum FieldError {
    /// The value is empty or only whitespace.
    #[error("Enter a value.")]
    Required,
    /// The value has more characters than allowed.
    #[error("Use at most {max} characters; this has {actual}.")]
    TooLong {
        /// Largest allowed number of characters.
        max: usize,
        /// Number of characters entered.
        actual: usize,
    },
    /// The value has fewer characters than required.
    #[error("Use at least {min} characters; this has {actual}.")]
    TooShort {
        /// Smallest allowed number of characters.
        min: usize,
        /// Number of characters entered.
        actual: usize,
    },
    /// A domain name contains a non-ASCII character.
    #[error(
        "Use only ASCII characters; {} is not ASCII. Write an international name in its punycode form (xn--...).",
        describe(.ch)
    )]
    NotAscii {
        /// The first non-ASCII character.
        ch: char,
    },
    /// A domain name starts with a dot or contains two dots in a row.
    #[error("Remove the empty part; a name cannot start with a dot or contain two dots in a row.")]
    FqdnEmptyLabel,
    /// A label of a domain name is longer than 63 characters.
    #[error("Use at most {max} characters in each part between dots; one part has {actual}.")]
    FqdnLabelTooLong {
        /// Largest allowed label length.
        max: usize,
        /// Length of the offending label.
        actual: usize,
    },
    /// A label of a domain name contains a character other than a letter, digit or hyphen.
    #[error(
        "Use only ASCII letters, digits and hyphens in each part of the name; '{}' contains {}.",
        shown(.label),
        describe(.ch)
    )]
    FqdnBadChar {
        /// The offending label.
        label: String,
        /// The first disallowed character in it.
        ch: char,
    },
    /// A label of a domain name starts or ends with a hyphen.
    #[error("A part of the name cannot start or end with a hyphen; fix '{}'.", shown(.label))]
    FqdnHyphenEdge {
        /// The offending label.
        label: String,
    },
    /// A domain name has only one label (a bare host name).
    #[error(
        "Enter the fully qualified name, such as atl-owa-001.litwareinc.com, not just the host name."
    )]
    FqdnSingleLabel,
    /// The last label of a domain name is all digits, as in an IPv4 address.
    #[error(
        "Enter a host name, not an IP address; the last part of the name cannot be only digits."
    )]
    FqdnNumericTopLevel,
    /// A thumbprint does not have exactly 40 hexadecimal digits.
    #[error("A certificate thumbprint has exactly 40 hexadecimal digits; this has {actual}.")]
    ThumbprintLength {
        /// Number of hexadecimal digits entered.
        actual: usize,
    },
    /// A thumbprint contains a character that is not a hexadecimal digit.
    #[error(
        "A certificate thumbprint contains only the hexadecimal digits 0-9 and A-F; remove {}.",
        describe(.ch)
    )]
    ThumbprintBadChar {
        /// The first disallowed character.
        ch: char,
    },
    /// One entry of a thumbprint list is invalid.
    #[error("Thumbprint {position}: {reason}")]
    ThumbprintInList {
        /// 1-based position among the non-empty entries.
        position: usize,
        /// Why that entry was rejected.
        reason: Box<FieldError>,
    },
    /// A thumbprint list has more entries than allowed.
    #[error("List at most {max} thumbprints: one for every back-end server, or each server's own.")]
    TooManyThumbprints {
        /// Largest allowed number of distinct thumbprints.
        max: usize,
    },
    /// A port is not written with the ASCII digits 0-9 only.
    #[error("Enter the port as a whole number using only the digits 0-9, such as 5061.")]
    PortNotNumber,
    /// A port is outside 1..=65535.
    #[error("Enter a port number from 1 to 65535.")]
    PortOutOfRange,
    /// An application ID contains a character other than an ASCII letter or digit.
    #[error(
        "Use only ASCII letters and digits in an application ID, with no spaces; remove {}.",
        describe(.ch)
    )]
    ApplicationIdBadChar {
        /// The first disallowed character.
        ch: char,
    },
    /// A site ID contains a disallowed character.
    #[error(
        "Use only ASCII letters, digits, hyphens, underscores and periods in a site ID; remove {}.",
        describe(.ch)
    )]
    SiteIdBadChar {
        /// The first disallowed character.
        ch: char,
    },
    /// A policy name contains a disallowed character.
    #[error(
        "Use only ASCII letters, digits, spaces, hyphens, underscores and periods in a policy name; remove {}.",
        describe(.ch)
    )]
    PolicyNameBadChar {
        /// The first disallowed character.
        ch: char,
    },
    /// The value does not start with a letter or digit.
    #[error("Start with a letter or digit.")]
    BadStart,
    /// The value does not end with a letter or digit.
    #[error("End with a letter or digit.")]
    BadEnd,
    /// The value contains two spaces in a row.
    #[error("Use a single space between words.")]
    DoubleSpace,
    /// A policy list has no names in it.
    #[error("Enter at least one policy name.")]
    NoPolicyNames,
    /// A policy list has more names than allowed.
    #[error("List at most {max} policy names.")]
    TooManyPolicyNames {
        /// Largest allowed number of distinct names.
        max: usize,
    },
    /// One entry of a policy list is invalid.
    #[error("Policy name {position}: {reason}")]
    PolicyNameInList {
        /// 1-based position among the non-empty entries.
        position: usize,
        /// Why that entry was rejected.
        reason: Box<FieldError>,
    },
    /// Free text contains a control or bidirectional-override character.
    #[error(
        "Remove the hidden character U+{:04X}; only text, line breaks and tabs are allowed.",
        code_point(.ch)
    )]
    ControlCharacter {
        /// The first disallowed character.
        ch: char,
    },
}

/// Describes a character for an error message without echoing invisible or
/// text-direction characters.
struct CharDescription(char);

impl fmt::Display for CharDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        let code = c as u32;
        match c {
            ' ' => f.write_str("a space"),
            '\t' => f.write_str("a tab (U+0009)"),
            '\n' => f.write_str("a line break (U+000A)"),
            '\r' => f.write_str("a carriage return (U+000D)"),
            '\'' => f.write_str("an apostrophe (')"),
            '\u{00A0}' => f.write_str("a non-breaking space (U+00A0)"),
            '\u{2013}' => f.write_str("an en dash (U+2013)"),
            '\u{2014}' => f.write_str("an em dash (U+2014)"),
            '\u{2018}'..='\u{201F}' => write!(f, "a typographic quotation mark (U+{code:04X})"),
            c if c.is_ascii_graphic() => write!(f, "'{c}'"),
            c if c.is_alphanumeric()
                && (c < '\u{0590}' || ('\u{FF00}'..='\u{FFEF}').contains(&c)) =>
            {
                write!(f, "'{c}' (U+{code:04X})")
            }
            c if c.is_whitespace() => write!(f, "a space character (U+{code:04X})"),
            _ => write!(f, "the character U+{code:04X}"),
        }
    }
}

/// Returns the Unicode scalar value of a character, for `U+XXXX` notation.
fn code_point(ch: &char) -> u32 {
    u32::from(*ch)
}

/// Wraps a character for use in an error message.
fn describe(ch: &char) -> CharDescription {
    CharDescription(*ch)
}

/// Shows a short piece of input in an error message, replacing anything other
/// than printable ASCII with its code point.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c == ' ' || c.is_ascii_graphic() {
                write!(f, "{c}")?;
            } else {
                write!(f, "[U+{:04X}]", c as u32)?;
            }
        }
        Ok(())
    }
}

/// Wraps a piece of input for use in an error message.
fn shown(text: &str) -> Shown<'_> {
    Shown(text)
}

/// Removes leading and trailing ASCII whitespace.
fn trim_ascii_ws(input: &str) -> &str {
    input.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// Rejects an empty value and one longer than `max` characters.
fn check_length(value: &str, max: usize) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError::Required);
    }
    let actual = value.chars().count();
    if actual > max {
        return Err(FieldError::TooLong { max, actual });
    }
    Ok(())
}

/// Implements the shared accessors, conversions and serde support of a
/// string-backed field type whose only constructor is `parse`.
macro_rules! string_field {
    ($name:ident) => {
        impl $name {
            /// Returns the validated, normalized value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = FieldError;

            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Self::parse(input)
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;

            fn try_from(input: String) -> Result<Self, Self::Error> {
                Self::parse(&input)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::try_from(raw).map_err(D::Error::custom)
            }
        }
    };
}

/// A fully qualified domain name such as `atl-owa-001.litwareinc.com`, in lower case.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fqdn(String);

impl Fqdn {
    /// Trims ASCII whitespace, drops one trailing dot, validates and lower-cases a host name.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let trimmed = trim_ascii_ws(input);
        let name = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if name.is_empty() {
            return Err(FieldError::Required);
        }
        if let Some(ch) = name.chars().find(|c| !c.is_ascii()) {
            return Err(FieldError::NotAscii { ch });
        }
        if name.len() > FQDN_MAX_LEN {
            return Err(FieldError::TooLong {
                max: FQDN_MAX_LEN,
                actual: name.len(),
            });
        }
        let mut labels = 0usize;
        let mut last = "";
        for label in name.split('.') {
            check_label(label)?;
            labels += 1;
            last = label;
        }
        if labels < 2 {
            return Err(FieldError::FqdnSingleLabel);
        }
        if last.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::FqdnNumericTopLevel);
        }
        Ok(Self(name.to_ascii_lowercase()))
    }
}

/// Checks one ASCII label of a domain name.
fn check_label(label: &str) -> Result<(), FieldError> {
    if label.is_empty() {
        return Err(FieldError::FqdnEmptyLabel);
    }
    if label.len() > FQDN_LABEL_MAX_LEN {
        return Err(FieldError::FqdnLabelTooLong {
            max: FQDN_LABEL_MAX_LEN,
            actual: label.len(),
        });
    }
    if let Some(ch) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(FieldError::FqdnBadChar {
            label: label.to_owned(),
            ch,
        });
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(FieldError::FqdnHyphenEdge {
            label: label.to_owned(),
        });
    }
    Ok(())
}

string_field!(Fqdn);

/// A SHA-1 certificate thumbprint: 40 hexadecimal digits in upper case.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Thumbprint(String);

/// Whether `c` is whitespace or an invisible formatting character that
/// certificate dialogs add when a thumbprint is copied.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{FEFF}'
        )
}

impl Thumbprint {
    /// Removes all whitespace and invisible characters, then requires exactly 40
    /// ASCII hexadecimal digits and upper-cases them.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let mut digits = String::with_capacity(THUMBPRINT_LEN);
        let mut actual = 0usize;
        for c in input.chars().filter(|c| !is_invisible(*c)) {
            if !c.is_ascii_hexdigit() {
                return Err(FieldError::ThumbprintBadChar { ch: c });
            }
            actual += 1;
            if actual <= THUMBPRINT_LEN {
                digits.push(c.to_ascii_uppercase());
            }
        }
        match actual {
            0 => Err(FieldError::Required),
            THUMBPRINT_LEN => Ok(Self(digits)),
            _ => Err(FieldError::ThumbprintLength { actual }),
        }
    }
}

string_field!(Thumbprint);

/// Most thumbprints accepted in one [`Thumbprints`].
pub const THUMBPRINT_LIST_MAX: usize = 32;

/// The Exchange certificates a request names: one thumbprint used on every back-end server, or
/// each server's own (the plan writes, on each server, the one installed there). Written
/// separated by commas, semicolons or line breaks; stored and shown joined by `", "`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Thumbprints(Vec<Thumbprint>);

impl Thumbprints {
    /// Parses 1 to [`THUMBPRINT_LIST_MAX`] distinct thumbprints (duplicates are dropped). A
    /// single entry reports its error as [`Thumbprint::parse`] does.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let entries: Vec<&str> = input
            .split([',', ';', '\n', '\r'])
            .filter(|entry| entry.chars().any(|c| !is_invisible(c)))
            .collect();
        if entries.len() <= 1 {
            return Thumbprint::parse(entries.first().copied().unwrap_or(""))
                .map(|t| Self(vec![t]));
        }
        let mut list: Vec<Thumbprint> = Vec::new();
        for (index, entry) in entries.into_iter().enumerate() {
            let thumbprint =
                Thumbprint::parse(entry).map_err(|reason| FieldError::ThumbprintInList {
                    position: index + 1,
                    reason: Box::new(reason),
                })?;
            if list.contains(&thumbprint) {
                continue;
            }
            if list.len() == THUMBPRINT_LIST_MAX {
                return Err(FieldError::TooManyThumbprints {
                    max: THUMBPRINT_LIST_MAX,
                });
            }
            list.push(thumbprint);
        }
        Ok(Self(list))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Thumbprint> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: a list holds at least one thumbprint.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Thumbprint> for Thumbprints {
    fn from(thumbprint: Thumbprint) -> Self {
        Self(vec![thumbprint])
    }
}

impl fmt::Display for Thumbprints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined: Vec<&str> = self.0.iter().map(Thumbprint::as_str).collect();
        f.write_str(&joined.join(", "))
    }
}

impl Serialize for Thumbprints {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Thumbprints {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(D::Error::custom)
    }
}

/// A TCP port number from 1 to 65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Port(u16);

impl Port {
    /// Trims ASCII whitespace and accepts 1 to 5 ASCII digits with a value from 1 to 65535.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let digits = trim_ascii_ws(input);
        if digits.is_empty() {
            return Err(FieldError::Required);
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::PortNotNumber);
        }
        if digits.len() > 5 {
            return Err(FieldError::PortOutOfRange);
        }
        let value = digits
            .bytes()
            .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
        Self::try_from(value)
    }

    /// Returns the port number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u64> for Port {
    type Error = FieldError;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        match u16::try_from(value) {
            Ok(port) if port != 0 => Ok(Self(port)),
            _ => Err(FieldError::PortOutOfRange),
        }
    }
}

impl FromStr for Port {
    type Err = FieldError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Port {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u16(self.0)
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u64::deserialize(deserializer)?;
        Self::try_from(value).map_err(D::Error::custom)
    }
}

/// A Lync trusted application ID such as `ExchangeOWA`: 1 to 64 ASCII letters and digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ApplicationId(String);

impl ApplicationId {
    /// Trims whitespace and accepts 1 to 64 ASCII letters and digits.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let value = input.trim();
        check_length(value, APPLICATION_ID_MAX_LEN)?;
        if let Some(ch) = value.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(FieldError::ApplicationIdBadChar { ch });
        }
        Ok(Self(value.to_owned()))
    }
}

string_field!(ApplicationId);

/// A Lync site ID such as `Redmond` or `1`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SiteId(String);

impl SiteId {
    /// Trims whitespace and accepts 1 to 64 ASCII letters, digits, `-`, `_` and `.`,
    /// starting with a letter or digit.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let value = input.trim();
        check_length(value, SITE_ID_MAX_LEN)?;
        if let Some(ch) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(FieldError::SiteIdBadChar { ch });
        }
        if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(FieldError::BadStart);
        }
        Ok(Self(value.to_owned()))
    }
}

string_field!(SiteId);

/// An Exchange OWA mailbox policy name such as `Default` or `Sales EMEA-2`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PolicyName(String);

impl PolicyName {
    /// Trims whitespace and accepts 1 to 64 ASCII letters, digits, spaces, `-`, `_`
    /// and `.`, starting and ending with a letter or digit, without double spaces.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let value = input.trim();
        check_length(value, POLICY_NAME_MAX_LEN)?;
        if let Some(ch) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.')))
        {
            return Err(FieldError::PolicyNameBadChar { ch });
        }
        if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(FieldError::BadStart);
        }
        if !value.ends_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(FieldError::BadEnd);
        }
        if value.contains("  ") {
            return Err(FieldError::DoubleSpace);
        }
        Ok(Self(value.to_owned()))
    }
}

string_field!(PolicyName);

/// Which OWA mailbox policies a change applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "names", rename_all = "snake_case")]
pub enum PolicySelection {
    /// Every OWA mailbox policy.
    All,
    /// Only the listed policies.
    Named(Vec<PolicyName>),
}

impl PolicySelection {
    /// Parses names separated by commas and/or line breaks into [`PolicySelection::Named`],
    /// skipping empty entries and case-insensitive duplicates (the first spelling
    /// wins); requires 1 to 50 distinct names.
    pub fn parse_list(input: &str) -> Result<Self, FieldError> {
        let mut names: Vec<PolicyName> = Vec::new();
        let entries = input
            .split([',', '\n', '\r'])
            .map(str::trim)
            .filter(|entry| !entry.is_empty());
        for (index, entry) in entries.enumerate() {
            let name = PolicyName::parse(entry).map_err(|reason| FieldError::PolicyNameInList {
                position: index + 1,
                reason: Box::new(reason),
            })?;
            if names
                .iter()
                .any(|seen| seen.as_str().eq_ignore_ascii_case(name.as_str()))
            {
                continue;
            }
            if names.len() == POLICY_LIST_MAX {
                return Err(FieldError::TooManyPolicyNames {
                    max: POLICY_LIST_MAX,
                });
            }
            names.push(name);
        }
        if names.is_empty() {
            return Err(FieldError::NoPolicyNames);
        }
        Ok(Self::Named(names))
    }

    /// Returns the names joined with `", "`, or an empty string for [`PolicySelection::All`].
    pub fn to_list_text(&self) -> String {
        match self {
            Self::All => String::new(),
            Self::Named(names) => names
                .iter()
                .map(PolicyName::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// A free-text reason for a change: 10 to 2000 characters without hidden control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Justification(String);

/// Whether `c` is a control character other than line break or tab, or a
/// bidirectional override or isolate.
fn is_hidden_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

impl Justification {
    /// Trims whitespace and accepts 10 to 2000 characters with no control
    /// characters other than line breaks and tabs, and no bidirectional overrides.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let value = input.trim();
        check_length(value, JUSTIFICATION_MAX_LEN)?;
        let actual = value.chars().count();
        if actual < JUSTIFICATION_MIN_LEN {
            return Err(FieldError::TooShort {
                min: JUSTIFICATION_MIN_LEN,
                actual,
            });
        }
        if let Some(ch) = value.chars().find(|c| is_hidden_control(*c)) {
            return Err(FieldError::ControlCharacter { ch });
        }
        Ok(Self(value.to_owned()))
    }
}

string_field!(Justification);

#[cfg(test)]
mod tests {
    use super::*;

    /// Table row: input and either the normalized value or the expected error.
    type Case<'a> = (&'a str, Result<&'a str, FieldError>);

    /// Shortens long inputs for assertion messages.
    fn preview(input: &str) -> String {
        let head: String = input.chars().take(80).collect();
        format!("{head:?} ({} chars)", input.chars().count())
    }

    fn run_table(cases: &[Case<'_>], parse: impl Fn(&str) -> Result<String, FieldError>) {
        for (input, expected) in cases {
            let got = parse(input);
            assert_eq!(
                got.as_deref(),
                expected.as_deref(),
                "input {}",
                preview(input)
            );
        }
    }

    fn bad_label(label: &str, ch: char) -> FieldError {
        FieldError::FqdnBadChar {
            label: label.to_owned(),
            ch,
        }
    }

    fn hyphen(label: &str) -> FieldError {
        FieldError::FqdnHyphenEdge {
            label: label.to_owned(),
        }
    }

    #[test]
    fn fqdn_table() {
        let label63 = "a".repeat(63);
        let label64 = "a".repeat(64);
        let name63 = format!("{label63}.example.com");
        let name64 = format!("{label64}.example.com");
        // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters.
        let name253 = format!("{label63}.{label63}.{label63}.{}", "b".repeat(61));
        let name254 = format!("{label63}.{label63}.{label63}.{}", "b".repeat(62));
        let name253_dot = format!("{name253}.");
        let huge = "a".repeat(10_000);
        let huge_dotted = "a.".repeat(5_000);
        use FieldError as E;
        let cases: &[Case<'_>] = &[
            (
                "atl-owa-001.litwareinc.com",
                Ok("atl-owa-001.litwareinc.com"),
            ),
            (
                "ATL-OWA-001.LitwareInc.com.",
                Ok("atl-owa-001.litwareinc.com"),
            ),
            ("  pool01.contoso.com \t\r\n", Ok("pool01.contoso.com")),
            ("xn--bcher-kva.example", Ok("xn--bcher-kva.example")),
            ("a.b", Ok("a.b")),
            ("123.example.com", Ok("123.example.com")),
            ("a1.b2c", Ok("a1.b2c")),
            ("a-b--c.example.com", Ok("a-b--c.example.com")),
            (name63.as_str(), Ok(name63.as_str())),
            (name253.as_str(), Ok(name253.as_str())),
            (name253_dot.as_str(), Ok(name253.as_str())),
            ("", Err(E::Required)),
            ("   \t\n ", Err(E::Required)),
            (".", Err(E::Required)),
            (
                name64.as_str(),
                Err(E::FqdnLabelTooLong {
                    max: 63,
                    actual: 64,
                }),
            ),
            (
                name254.as_str(),
                Err(E::TooLong {
                    max: 253,
                    actual: 254,
                }),
            ),
            (
                huge.as_str(),
                Err(E::TooLong {
                    max: 253,
                    actual: 10_000,
                }),
            ),
            (
                huge_dotted.as_str(),
                Err(E::TooLong {
                    max: 253,
                    actual: 9_999,
                }),
            ),
            ("localhost", Err(E::FqdnSingleLabel)),
            ("localhost.", Err(E::FqdnSingleLabel)),
            ("10.0.0.1", Err(E::FqdnNumericTopLevel)),
            ("example.123", Err(E::FqdnNumericTopLevel)),
            ("-bad.example.com", Err(hyphen("-bad"))),
            ("bad-.example.com", Err(hyphen("bad-"))),
            ("a.example.com-", Err(hyphen("com-"))),
            ("a..b.com", Err(E::FqdnEmptyLabel)),
            (".example.com", Err(E::FqdnEmptyLabel)),
            ("example.com..", Err(E::FqdnEmptyLabel)),
            ("ex ample.com", Err(bad_label("ex ample", ' '))),
            (
                "under_score.example.com",
                Err(bad_label("under_score", '_')),
            ),
            (
                "a.example.com\nRemove-CsTrustedApplicationPool",
                Err(bad_label("com\nRemove-CsTrustedApplicationPool", '\n')),
            ),
            ("a\0.example.com", Err(bad_label("a\0", '\0'))),
            (
                "a.example.com;Stop-Computer",
                Err(bad_label("com;Stop-Computer", ';')),
            ),
            (
                "a.example.com|Out-Null",
                Err(bad_label("com|Out-Null", '|')),
            ),
            ("a.example.com&calc", Err(bad_label("com&calc", '&'))),
            (
                "$(Stop-Computer).example.com",
                Err(bad_label("$(Stop-Computer)", '$')),
            ),
            ("a`.example.com", Err(bad_label("a`", '`'))),
            ("a'.example.com", Err(bad_label("a'", '\''))),
            ("a\".example.com", Err(bad_label("a\"", '"'))),
            ("host:5061.example.com", Err(bad_label("host:5061", ':'))),
            ("*.example.com", Err(bad_label("*", '*'))),
            ("a.example.com\u{2019}", Err(E::NotAscii { ch: '\u{2019}' })),
            ("\u{2018}a.example.com", Err(E::NotAscii { ch: '\u{2018}' })),
            (
                "a\u{201A}b.example.com",
                Err(E::NotAscii { ch: '\u{201A}' }),
            ),
            (
                "a\u{201B}b.example.com",
                Err(E::NotAscii { ch: '\u{201B}' }),
            ),
            (
                "atl\u{2013}owa.example.com",
                Err(E::NotAscii { ch: '\u{2013}' }),
            ),
            (
                "atl\u{2014}owa.example.com",
                Err(E::NotAscii { ch: '\u{2014}' }),
            ),
            (
                "\u{0430}tl-owa-001.litwareinc.com",
                Err(E::NotAscii { ch: '\u{0430}' }),
            ),
            ("b\u{00FC}cher.example", Err(E::NotAscii { ch: '\u{00FC}' })),
            (
                "\u{FF15}\u{FF11}.example.com",
                Err(E::NotAscii { ch: '\u{FF15}' }),
            ),
            ("a.example.com\u{202E}", Err(E::NotAscii { ch: '\u{202E}' })),
            ("\u{200B}a.example.com", Err(E::NotAscii { ch: '\u{200B}' })),
            ("a.example.com\u{00A0}", Err(E::NotAscii { ch: '\u{00A0}' })),
        ];
        run_table(cases, |s| Fqdn::parse(s).map(|v| v.as_str().to_owned()));
    }

    #[test]
    fn thumbprint_table() {
        const UPPER: &str = "EA5A332496CC05DA69B75B66111C0F78A110D22D";
        let too_long = "a".repeat(10_000);
        let sha256 = "A".repeat(64);
        use FieldError as E;
        let cases: &[Case<'_>] = &[
            (UPPER, Ok(UPPER)),
            ("ea5a332496cc05da69b75b66111c0f78a110d22d", Ok(UPPER)),
            (
                "\u{200E}ea 5a 33 24 96 cc 05 da 69 b7 5b 66 11 1c 0f 78 a1 10 d2 2d",
                Ok(UPPER),
            ),
            (
                "EA5A3324\u{200B}96CC05DA69B75B66111C0F78A110D22D",
                Ok(UPPER),
            ),
            (
                "  EA5A 3324\t96CC\n05DA\r\n69B7\u{00A0}5B66\u{3000}111C\u{2028}0F78 A110 D22D  ",
                Ok(UPPER),
            ),
            (
                "\u{FEFF}\u{202A}EA5A332496CC05DA\u{00AD}69B75B66\u{2060}111C0F78\u{180E}A110D22D\u{202C}",
                Ok(UPPER),
            ),
            (
                "\u{202E}EA5A332496CC05DA69B75B66111C0F78A110D22D",
                Ok(UPPER),
            ),
            ("", Err(E::Required)),
            (" \t\n\u{00A0}\u{200B}", Err(E::Required)),
            (
                "EA5A332496CC05DA69B75B66111C0F78A110D22",
                Err(E::ThumbprintLength { actual: 39 }),
            ),
            (
                "EA5A332496CC05DA69B75B66111C0F78A110D22DA",
                Err(E::ThumbprintLength { actual: 41 }),
            ),
            (sha256.as_str(), Err(E::ThumbprintLength { actual: 64 })),
            (
                too_long.as_str(),
                Err(E::ThumbprintLength { actual: 10_000 }),
            ),
            (
                "EA:5A:33:24:96:CC:05:DA:69:B7:5B:66:11:1C:0F:78:A1:10:D2:2D",
                Err(E::ThumbprintBadChar { ch: ':' }),
            ),
            (
                "0xEA5A332496CC05DA69B75B66111C0F78A110D2",
                Err(E::ThumbprintBadChar { ch: 'x' }),
            ),
            (
                "GA5A332496CC05DA69B75B66111C0F78A110D22D",
                Err(E::ThumbprintBadChar { ch: 'G' }),
            ),
            (
                "\u{FF25}A5A332496CC05DA69B75B66111C0F78A110D22D",
                Err(E::ThumbprintBadChar { ch: '\u{FF25}' }),
            ),
            (
                "\u{FF15}A5A332496CC05DA69B75B66111C0F78A110D22D",
                Err(E::ThumbprintBadChar { ch: '\u{FF15}' }),
            ),
            (
                "EA5A332496CC05DA69B75B66111C0F78A110D22D\0",
                Err(E::ThumbprintBadChar { ch: '\0' }),
            ),
            (
                "EA5A332496CC05DA69B75B66111C0F78A110D22D;Stop-Computer",
                Err(E::ThumbprintBadChar { ch: ';' }),
            ),
            (
                "EA5A332496CC05DA69B75B66111C0F78A110D22D\nRemove-Item",
                Err(E::ThumbprintBadChar { ch: 'R' }),
            ),
            (
                "'EA5A332496CC05DA69B75B66111C0F78A110D22D'",
                Err(E::ThumbprintBadChar { ch: '\'' }),
            ),
            (
                "\u{2018}EA5A332496CC05DA69B75B66111C0F78A110D22D\u{2019}",
                Err(E::ThumbprintBadChar { ch: '\u{2018}' }),
            ),
            (
                "$(EA5A332496CC05DA69B75B66111C0F78A110D22D)",
                Err(E::ThumbprintBadChar { ch: '$' }),
            ),
            ("EA5A-3324-96CC", Err(E::ThumbprintBadChar { ch: '-' })),
            (
                "EA5A\u{2013}3324",
                Err(E::ThumbprintBadChar { ch: '\u{2013}' }),
            ),
            (
                "\u{0430}A5A332496CC05DA69B75B66111C0F78A110D22D",
                Err(E::ThumbprintBadChar { ch: '\u{0430}' }),
            ),
        ];
        run_table(cases, |s| {
            Thumbprint::parse(s).map(|v| v.as_str().to_owned())
        });
    }

    #[test]
    fn port_table() {
        let huge = "9".repeat(10_000);
        use FieldError as E;
        let cases: &[(&str, Result<u16, FieldError>)] = &[
            ("5061", Ok(5061)),
            ("5199", Ok(5199)),
            ("5199 ", Ok(5199)),
            (" \t5199\r\n", Ok(5199)),
            ("1", Ok(1)),
            ("65535", Ok(65535)),
            ("00080", Ok(80)),
            ("", Err(E::Required)),
            ("   ", Err(E::Required)),
            ("0", Err(E::PortOutOfRange)),
            ("00000", Err(E::PortOutOfRange)),
            ("65536", Err(E::PortOutOfRange)),
            ("99999", Err(E::PortOutOfRange)),
            ("000080", Err(E::PortOutOfRange)),
            ("123456", Err(E::PortOutOfRange)),
            (huge.as_str(), Err(E::PortOutOfRange)),
            ("-1", Err(E::PortNotNumber)),
            ("+5199", Err(E::PortNotNumber)),
            ("0x1F", Err(E::PortNotNumber)),
            ("1e3", Err(E::PortNotNumber)),
            ("5_199", Err(E::PortNotNumber)),
            ("51 99", Err(E::PortNotNumber)),
            ("5199.0", Err(E::PortNotNumber)),
            ("\u{FF15}\u{FF11}\u{FF19}\u{FF19}", Err(E::PortNotNumber)),
            ("\u{0665}\u{0660}", Err(E::PortNotNumber)),
            ("5199\0", Err(E::PortNotNumber)),
            ("5199\n-Force", Err(E::PortNotNumber)),
            ("5199;Stop-Computer", Err(E::PortNotNumber)),
            ("$(5199)", Err(E::PortNotNumber)),
            ("'5199'", Err(E::PortNotNumber)),
            ("\u{2019}5199\u{2019}", Err(E::PortNotNumber)),
            ("\u{2013}1", Err(E::PortNotNumber)),
            ("5199\u{00A0}", Err(E::PortNotNumber)),
            ("\u{202E}5199", Err(E::PortNotNumber)),
        ];
        for (input, expected) in cases {
            assert_eq!(
                Port::parse(input).map(Port::get),
                *expected,
                "input {}",
                preview(input)
            );
        }
    }

    #[test]
    fn application_id_table() {
        let max = "A".repeat(64);
        let over = "A".repeat(65);
        let huge = "A".repeat(10_000);
        use FieldError as E;
        let bad = |ch| Err(E::ApplicationIdBadChar { ch });
        let cases: &[Case<'_>] = &[
            ("ExchangeOWA", Ok("ExchangeOWA")),
            ("  OutlookWebApp \n", Ok("OutlookWebApp")),
            ("\u{00A0}App1\u{3000}", Ok("App1")),
            ("1", Ok("1")),
            (max.as_str(), Ok(max.as_str())),
            ("", Err(E::Required)),
            (" \t\r\n", Err(E::Required)),
            (
                over.as_str(),
                Err(E::TooLong {
                    max: 64,
                    actual: 65,
                }),
            ),
            (
                huge.as_str(),
                Err(E::TooLong {
                    max: 64,
                    actual: 10_000,
                }),
            ),
            ("Exchange OWA", bad(' ')),
            ("Exchange-OWA", bad('-')),
            ("Exchange_OWA", bad('_')),
            ("urn:application:exchangeowa", bad(':')),
            (
                "OutlookWebApp\u{2019}; Stop-Computer; \u{2018}",
                bad('\u{2019}'),
            ),
            ("OutlookWebApp'; Stop-Computer; '", bad('\'')),
            ("App\u{2018}x", bad('\u{2018}')),
            ("App\u{201A}x", bad('\u{201A}')),
            ("App\u{201B}x", bad('\u{201B}')),
            ("App\"x", bad('"')),
            ("App;x", bad(';')),
            ("App|x", bad('|')),
            ("App&x", bad('&')),
            ("App$(x)", bad('$')),
            ("App`x", bad('`')),
            ("App\0", bad('\0')),
            ("App\nRemove-CsTrustedApplication", bad('\n')),
            ("App\u{2013}1", bad('\u{2013}')),
            ("App\u{2014}1", bad('\u{2014}')),
            ("App\u{FF15}", bad('\u{FF15}')),
            ("\u{0430}pp", bad('\u{0430}')),
            ("App\u{202E}x", bad('\u{202E}')),
            ("App\u{200B}x", bad('\u{200B}')),
        ];
        run_table(cases, |s| {
            ApplicationId::parse(s).map(|v| v.as_str().to_owned())
        });
    }

    #[test]
    fn site_id_table() {
        let max = "s".repeat(64);
        let over = "s".repeat(65);
        let huge = "s".repeat(10_000);
        use FieldError as E;
        let bad = |ch| Err(E::SiteIdBadChar { ch });
        let cases: &[Case<'_>] = &[
            ("Redmond", Ok("Redmond")),
            ("1", Ok("1")),
            (" Redmond\n", Ok("Redmond")),
            ("site_1.north-a", Ok("site_1.north-a")),
            ("Site-", Ok("Site-")),
            (max.as_str(), Ok(max.as_str())),
            ("", Err(E::Required)),
            ("  ", Err(E::Required)),
            (
                over.as_str(),
                Err(E::TooLong {
                    max: 64,
                    actual: 65,
                }),
            ),
            (
                huge.as_str(),
                Err(E::TooLong {
                    max: 64,
                    actual: 10_000,
                }),
            ),
            ("-Redmond", Err(E::BadStart)),
            ("_Redmond", Err(E::BadStart)),
            (".Redmond", Err(E::BadStart)),
            ("Red mond", bad(' ')),
            ("Redmond;Stop-Computer", bad(';')),
            ("Redmond|x", bad('|')),
            ("Redmond&x", bad('&')),
            ("$(Redmond)", bad('$')),
            ("Red`mond", bad('`')),
            ("Redmond'", bad('\'')),
            ("Redmond\"", bad('"')),
            ("Redmond\u{2019}; Stop-Computer; \u{2018}", bad('\u{2019}')),
            ("Redmond\0", bad('\0')),
            ("Redmond\nRemove-CsSite", bad('\n')),
            ("Red\u{2013}mond", bad('\u{2013}')),
            ("\u{FF11}", bad('\u{FF11}')),
            ("R\u{0435}dmond", bad('\u{0435}')),
            ("Redmond\u{202E}", bad('\u{202E}')),
        ];
        run_table(cases, |s| SiteId::parse(s).map(|v| v.as_str().to_owned()));
    }

    #[test]
    fn policy_name_table() {
        let max = "P".repeat(64);
        let over = "P".repeat(65);
        let huge = "P".repeat(10_000);
        use FieldError as E;
        let bad = |ch| Err(E::PolicyNameBadChar { ch });
        let cases: &[Case<'_>] = &[
            ("Default", Ok("Default")),
            ("Sales EMEA-2", Ok("Sales EMEA-2")),
            ("  Sales EMEA-2 \r\n", Ok("Sales EMEA-2")),
            ("OWA_Policy.v2", Ok("OWA_Policy.v2")),
            ("1", Ok("1")),
            (max.as_str(), Ok(max.as_str())),
            ("", Err(E::Required)),
            ("\t \n", Err(E::Required)),
            (
                over.as_str(),
                Err(E::TooLong {
                    max: 64,
                    actual: 65,
                }),
            ),
            (
                huge.as_str(),
                Err(E::TooLong {
                    max: 64,
                    actual: 10_000,
                }),
            ),
            ("-Sales", Err(E::BadStart)),
            (".Sales", Err(E::BadStart)),
            ("_Sales", Err(E::BadStart)),
            ("Sales-", Err(E::BadEnd)),
            ("Sales.", Err(E::BadEnd)),
            ("Sales_", Err(E::BadEnd)),
            ("Sales  EMEA", Err(E::DoubleSpace)),
            ("Sales\tEMEA", bad('\t')),
            ("Sales\u{00A0}EMEA", bad('\u{00A0}')),
            ("Default'; Stop-Computer; '", bad('\'')),
            (
                "OutlookWebApp\u{2019}; Stop-Computer; \u{2018}",
                bad('\u{2019}'),
            ),
            ("\u{2018}Default", bad('\u{2018}')),
            ("Default\u{201A}", bad('\u{201A}')),
            ("Default\u{201B}", bad('\u{201B}')),
            ("Default\"", bad('"')),
            ("Default;x", bad(';')),
            ("Default|x", bad('|')),
            ("Default&x", bad('&')),
            ("$(Stop-Computer)", bad('$')),
            ("Default`n", bad('`')),
            ("Default,Sales", bad(',')),
            ("Default*", bad('*')),
            ("Default\0", bad('\0')),
            ("Default\nSet-OwaMailboxPolicy", bad('\n')),
            ("Sales\u{2013}EMEA", bad('\u{2013}')),
            ("Sales\u{2014}EMEA", bad('\u{2014}')),
            ("Sales \u{FF12}", bad('\u{FF12}')),
            ("D\u{0435}fault", bad('\u{0435}')),
            ("Default\u{202E}x", bad('\u{202E}')),
        ];
        run_table(cases, |s| {
            PolicyName::parse(s).map(|v| v.as_str().to_owned())
        });
    }

    #[test]
    fn policy_selection_table() {
        let fifty: Vec<String> = (1..=50).map(|i| format!("P{i}")).collect();
        let fifty_text = fifty.join(",");
        let fifty_joined = fifty.join(", ");
        let fifty_one = format!("{fifty_text}\nP51");
        let repeated = "Default,".repeat(5_000);
        use FieldError as E;
        let in_list = |position, reason| {
            Err(E::PolicyNameInList {
                position,
                reason: Box::new(reason),
            })
        };
        let cases: &[Case<'_>] = &[
            ("Default", Ok("Default")),
            (
                "Default, Sales EMEA-2\nSupport",
                Ok("Default, Sales EMEA-2, Support"),
            ),
            ("A\r\nB\rC\n\nD,,E", Ok("A, B, C, D, E")),
            (" ,Default,\n , ", Ok("Default")),
            ("default, Default, DEFAULT, Sales", Ok("default, Sales")),
            (repeated.as_str(), Ok("Default")),
            (fifty_text.as_str(), Ok(fifty_joined.as_str())),
            ("", Err(E::NoPolicyNames)),
            ("  \n\r\n\t", Err(E::NoPolicyNames)),
            (" , ,\n,", Err(E::NoPolicyNames)),
            (fifty_one.as_str(), Err(E::TooManyPolicyNames { max: 50 })),
            (
                "Default, Bad;Name",
                in_list(2, E::PolicyNameBadChar { ch: ';' }),
            ),
            ("Default,\n\n, -Sales", in_list(2, E::BadStart)),
            ("A, B, C  D", in_list(3, E::DoubleSpace)),
            (
                "OutlookWebApp\u{2019}; Stop-Computer; \u{2018}",
                in_list(1, E::PolicyNameBadChar { ch: '\u{2019}' }),
            ),
            ("Default\0", in_list(1, E::PolicyNameBadChar { ch: '\0' })),
            (
                "Default|Out-Null",
                in_list(1, E::PolicyNameBadChar { ch: '|' }),
            ),
            (
                "Default\u{202E}",
                in_list(1, E::PolicyNameBadChar { ch: '\u{202E}' }),
            ),
        ];
        run_table(cases, |s| {
            PolicySelection::parse_list(s).map(|v| v.to_list_text())
        });
    }

    #[test]
    fn policy_selection_keeps_first_spelling_and_order() {
        let parsed = PolicySelection::parse_list("sales, Default\nSALES, default, Support");
        let expected: Vec<PolicyName> = ["sales", "Default", "Support"]
            .iter()
            .map(|n| PolicyName::parse(n).expect("valid name"))
            .collect();
        assert_eq!(parsed, Ok(PolicySelection::Named(expected)));
        assert_eq!(PolicySelection::All.to_list_text(), "");
    }

    #[test]
    fn justification_table() {
        let min = "a".repeat(10);
        let max = "a".repeat(2000);
        let over = "a".repeat(2001);
        let huge = "a".repeat(10_000);
        let accented_min = "\u{00E9}".repeat(10);
        let accented_max = "\u{00E9}".repeat(2000);
        let accented_over = "\u{00E9}".repeat(2001);
        use FieldError as E;
        let hidden = |ch| Err(E::ControlCharacter { ch });
        let cases: &[Case<'_>] = &[
            (
                "Helpdesk needs IM and presence in OWA.",
                Ok("Helpdesk needs IM and presence in OWA."),
            ),
            (
                "  Line one.\r\nLine two.\n\tIndented.  \n",
                Ok("Line one.\r\nLine two.\n\tIndented."),
            ),
            (
                "Ticket #42: don't break 'quotes', \"dq\", $(x); a|b & `c`",
                Ok("Ticket #42: don't break 'quotes', \"dq\", $(x); a|b & `c`"),
            ),
            (
                "Caf\u{00E9} team \u{2013} EMEA \u{2014} \u{2018}pilot\u{2019}",
                Ok("Caf\u{00E9} team \u{2013} EMEA \u{2014} \u{2018}pilot\u{2019}"),
            ),
            (min.as_str(), Ok(min.as_str())),
            (max.as_str(), Ok(max.as_str())),
            (accented_min.as_str(), Ok(accented_min.as_str())),
            (accented_max.as_str(), Ok(accented_max.as_str())),
            ("", Err(E::Required)),
            (" \r\n\t ", Err(E::Required)),
            ("too short", Err(E::TooShort { min: 10, actual: 9 })),
            ("   short    ", Err(E::TooShort { min: 10, actual: 5 })),
            (
                over.as_str(),
                Err(E::TooLong {
                    max: 2000,
                    actual: 2001,
                }),
            ),
            (
                accented_over.as_str(),
                Err(E::TooLong {
                    max: 2000,
                    actual: 2001,
                }),
            ),
            (
                huge.as_str(),
                Err(E::TooLong {
                    max: 2000,
                    actual: 10_000,
                }),
            ),
            ("Valid text\0 with NUL", hidden('\0')),
            ("Valid text \u{1B}[31m red", hidden('\u{1B}')),
            ("Valid text \u{7F} delete", hidden('\u{7F}')),
            ("Valid text \u{85} next line", hidden('\u{85}')),
            ("Valid text \u{9F} C1", hidden('\u{9F}')),
            ("Valid text \u{0B} vertical tab", hidden('\u{0B}')),
            ("Valid text \u{202E}desrever", hidden('\u{202E}')),
            ("Valid text \u{202A} embedding", hidden('\u{202A}')),
            ("Valid text \u{2066} isolate", hidden('\u{2066}')),
            ("Valid text \u{2069} isolate", hidden('\u{2069}')),
        ];
        run_table(cases, |s| {
            Justification::parse(s).map(|v| v.as_str().to_owned())
        });
    }

    #[test]
    fn error_messages_are_plain_sentences() {
        use FieldError as E;
        let expected = [
            (E::Required, "Enter a value."),
            (
                E::TooLong {
                    max: 253,
                    actual: 254,
                },
                "Use at most 253 characters; this has 254.",
            ),
            (
                E::TooShort { min: 10, actual: 3 },
                "Use at least 10 characters; this has 3.",
            ),
            (
                bad_label("ex ample", ' '),
                "Use only ASCII letters, digits and hyphens in each part of the name; \
                 'ex ample' contains a space.",
            ),
            (
                bad_label("com\nRemove", '\n'),
                "Use only ASCII letters, digits and hyphens in each part of the name; \
                 'com[U+000A]Remove' contains a line break (U+000A).",
            ),
            (
                E::ThumbprintLength { actual: 39 },
                "A certificate thumbprint has exactly 40 hexadecimal digits; this has 39.",
            ),
            (
                E::ThumbprintBadChar { ch: '\u{FF15}' },
                "A certificate thumbprint contains only the hexadecimal digits 0-9 and A-F; \
                 remove '\u{FF15}' (U+FF15).",
            ),
            (
                E::NotAscii { ch: '\u{0430}' },
                "Use only ASCII characters; '\u{0430}' (U+0430) is not ASCII. \
                 Write an international name in its punycode form (xn--...).",
            ),
            (
                E::ApplicationIdBadChar { ch: '\u{2019}' },
                "Use only ASCII letters and digits in an application ID, with no spaces; \
                 remove a typographic quotation mark (U+2019).",
            ),
            (
                E::ControlCharacter { ch: '\u{202E}' },
                "Remove the hidden character U+202E; \
                 only text, line breaks and tabs are allowed.",
            ),
            (
                E::PolicyNameInList {
                    position: 2,
                    reason: Box::new(E::PolicyNameBadChar { ch: ';' }),
                },
                "Policy name 2: Use only ASCII letters, digits, spaces, hyphens, underscores \
                 and periods in a policy name; remove ';'.",
            ),
            (E::PortOutOfRange, "Enter a port number from 1 to 65535."),
        ];
        for (error, message) in expected {
            assert_eq!(error.to_string(), message, "error {error:?}");
        }
    }

    #[test]
    fn error_messages_never_echo_hidden_characters() {
        let hostile = [
            "a.example.com\u{202E}moc",
            "a\u{202E}b.example.com",
            "x\u{2066}y",
            "\u{200B}",
            "x\0y",
            "x\u{1B}y",
            "x\u{85}y",
            "\u{FEFF}x",
            "OutlookWebApp\u{2019}; Stop-Computer; \u{2018}",
            "a.example.com\nRemove-CsTrustedApplicationPool",
            "Valid text \u{202E}desrever",
            "\u{05D0}\u{05D1}",
        ];
        let parsers: [fn(&str) -> Option<FieldError>; 8] = [
            |s| Fqdn::parse(s).err(),
            |s| Thumbprint::parse(s).err(),
            |s| Port::parse(s).err(),
            |s| ApplicationId::parse(s).err(),
            |s| SiteId::parse(s).err(),
            |s| PolicyName::parse(s).err(),
            |s| PolicySelection::parse_list(s).err(),
            |s| Justification::parse(s).err(),
        ];
        for input in hostile {
            for parse in parsers {
                let Some(error) = parse(input) else {
                    continue;
                };
                let message = error.to_string();
                assert!(message.ends_with('.'), "input {input:?}: {message}");
                assert!(
                    message
                        .chars()
                        .all(|c| !c.is_control() && !is_invisible(c) || c == ' '),
                    "input {input:?}: {message:?}"
                );
                assert!(
                    !message.contains(['\u{2066}', '\u{2069}', '\u{05D0}']),
                    "input {input:?}: {message:?}"
                );
            }
        }
    }

    #[test]
    fn serde_rejects_invalid_values() {
        assert!(serde_json::from_str::<Fqdn>("\"bad host\"").is_err());
        assert!(serde_json::from_str::<Fqdn>("\"localhost\"").is_err());
        assert!(serde_json::from_str::<Fqdn>("42").is_err());
        assert!(serde_json::from_str::<Thumbprint>("\"EA5A\"").is_err());
        assert!(serde_json::from_str::<Port>("0").is_err());
        assert!(serde_json::from_str::<Port>("65536").is_err());
        assert!(serde_json::from_str::<Port>("-1").is_err());
        assert!(serde_json::from_str::<Port>("5061.5").is_err());
        assert!(serde_json::from_str::<Port>("\"5061\"").is_err());
        assert!(serde_json::from_str::<ApplicationId>("\"Exchange OWA\"").is_err());
        assert!(serde_json::from_str::<SiteId>("\"-1\"").is_err());
        assert!(serde_json::from_str::<PolicyName>("\"x'; Stop-Computer; '\"").is_err());
        assert!(serde_json::from_str::<Justification>("\"short\"").is_err());
        assert!(
            serde_json::from_str::<PolicySelection>(r#"{"kind":"named","names":["a;b"]}"#).is_err()
        );
        assert!(serde_json::from_str::<PolicySelection>(r#"{"kind":"some"}"#).is_err());
        let message = serde_json::from_str::<Fqdn>("\"bad host\"")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("'bad host' contains a space"), "{message}");
    }

    #[test]
    fn serde_round_trips_valid_values() {
        let fqdn: Fqdn = serde_json::from_str("\"ATL-OWA-001.LitwareInc.com.\"").expect("fqdn");
        assert_eq!(fqdn.as_str(), "atl-owa-001.litwareinc.com");
        let json = serde_json::to_string(&fqdn).expect("serialize fqdn");
        assert_eq!(json, "\"atl-owa-001.litwareinc.com\"");
        assert_eq!(
            serde_json::from_str::<Fqdn>(&json).expect("fqdn again"),
            fqdn
        );

        let thumb: Thumbprint =
            serde_json::from_str("\"ea 5a 33 24 96 cc 05 da 69 b7 5b 66 11 1c 0f 78 a1 10 d2 2d\"")
                .expect("thumbprint");
        assert_eq!(
            serde_json::to_string(&thumb).expect("serialize thumbprint"),
            "\"EA5A332496CC05DA69B75B66111C0F78A110D22D\""
        );

        let port: Port = serde_json::from_str("5199").expect("port");
        assert_eq!(port.get(), 5199);
        assert_eq!(
            serde_json::to_string(&port).expect("serialize port"),
            "5199"
        );
        assert_eq!(
            serde_json::from_str::<Port>("65535").map(Port::get).ok(),
            Some(65535)
        );
        assert_eq!(
            serde_json::from_str::<Port>("1").map(Port::get).ok(),
            Some(1)
        );

        for (json, value) in [
            ("\"ExchangeOWA\"", "ExchangeOWA"),
            ("\" ExchangeOWA \"", "ExchangeOWA"),
        ] {
            let id: ApplicationId = serde_json::from_str(json).expect("application id");
            assert_eq!(id.as_str(), value);
            assert_eq!(
                serde_json::to_string(&id).expect("ser"),
                format!("\"{value}\"")
            );
        }
        let site: SiteId = serde_json::from_str("\"Redmond\"").expect("site");
        assert_eq!(serde_json::to_string(&site).expect("ser"), "\"Redmond\"");
        let text: Justification =
            serde_json::from_str("\"Pilot for the helpdesk\\nteam.\"").expect("justification");
        assert_eq!(text.as_str(), "Pilot for the helpdesk\nteam.");
        assert_eq!(
            serde_json::from_str::<Justification>(&serde_json::to_string(&text).expect("ser"))
                .expect("again"),
            text
        );

        let all = serde_json::to_string(&PolicySelection::All).expect("ser all");
        assert_eq!(all, r#"{"kind":"all"}"#);
        assert_eq!(
            serde_json::from_str::<PolicySelection>(&all).expect("de all"),
            PolicySelection::All
        );
        let named = PolicySelection::parse_list("Default, Sales EMEA-2").expect("list");
        let json = serde_json::to_string(&named).expect("ser named");
        assert_eq!(
            json,
            r#"{"kind":"named","names":["Default","Sales EMEA-2"]}"#
        );
        assert_eq!(
            serde_json::from_str::<PolicySelection>(&json).expect("de named"),
            named
        );

        let error = FieldError::PolicyNameInList {
            position: 3,
            reason: Box::new(FieldError::ThumbprintBadChar { ch: '\u{200B}' }),
        };
        let json = serde_json::to_string(&error).expect("ser error");
        assert_eq!(
            serde_json::from_str::<FieldError>(&json).expect("de error"),
            error
        );
    }

    #[test]
    fn conversions_match_parse() {
        assert_eq!(
            "ATL-OWA-001.LitwareInc.com".parse::<Fqdn>(),
            Fqdn::parse("atl-owa-001.litwareinc.com")
        );
        assert_eq!(
            Fqdn::try_from(String::from("bad host")),
            Err(bad_label("bad host", ' '))
        );
        assert_eq!(
            "5061"
                .parse::<Port>()
                .map(|p| p.to_string())
                .ok()
                .as_deref(),
            Some("5061")
        );
        assert_eq!(Port::try_from(0u64), Err(FieldError::PortOutOfRange));
        assert_eq!(Port::try_from(70_000u64), Err(FieldError::PortOutOfRange));
        let id = ApplicationId::parse("ExchangeOWA").expect("id");
        assert_eq!(id.to_string(), "ExchangeOWA");
        assert_eq!(id.as_ref(), "ExchangeOWA");
    }

    #[test]
    fn thumbprint_lists() {
        use FieldError as E;
        let a = "EA5A332496CC05DA69B75B66111C0F78A110D22D";
        let b = "5B1E0C2D3F4A5B6C7D8E9F00112233445566778A";
        // One thumbprint, with the spaces a certificate dialog adds, reads as before.
        let one = Thumbprints::parse("ea 5a 33 24 96 cc 05 da 69 b7 5b 66 11 1c 0f 78 a1 10 d2 2d")
            .unwrap();
        assert_eq!(one.to_string(), a);
        assert_eq!(
            Thumbprints::parse("EA5A"),
            Err(E::ThumbprintLength { actual: 4 })
        );
        assert_eq!(Thumbprints::parse(" \n, "), Err(E::Required));
        // Several, by commas, semicolons or lines; duplicates (in any case) dropped.
        let two = Thumbprints::parse(&format!("{a},\n{}; {b}\r\n", a.to_lowercase())).unwrap();
        assert_eq!(two.to_string(), format!("{a}, {b}"));
        assert_eq!(two.len(), 2);
        assert_eq!(Thumbprints::parse(&two.to_string()), Ok(two.clone()));
        // The entry at fault is named.
        assert_eq!(
            Thumbprints::parse(&format!("{a}, {b}x")),
            Err(E::ThumbprintInList {
                position: 2,
                reason: Box::new(E::ThumbprintBadChar { ch: 'x' })
            })
        );
        assert_eq!(
            Thumbprints::parse(&format!("{a}, ', {b}"))
                .unwrap_err()
                .to_string(),
            "Thumbprint 2: A certificate thumbprint contains only the hexadecimal digits 0-9 and A-F; remove an apostrophe (')."
        );
        let many: Vec<String> = (0..=THUMBPRINT_LIST_MAX)
            .map(|i| format!("{i:040X}"))
            .collect();
        assert_eq!(
            Thumbprints::parse(&many.join(",")),
            Err(E::TooManyThumbprints {
                max: THUMBPRINT_LIST_MAX
            })
        );
        // Stored as text, read back by the same rules.
        let json = serde_json::to_string(&two).unwrap();
        assert_eq!(serde_json::from_str::<Thumbprints>(&json).unwrap(), two);
        assert!(serde_json::from_str::<Thumbprints>("\"EA5A\"").is_err());
    }
}
