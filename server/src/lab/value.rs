//! Values of the lab's PowerShell: what commands consume and emit.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A PowerShell value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Array(Vec<Value>),
    Object(Object),
    /// A hashtable literal (`@{ Key = value }`), keys in source order.
    Table(Vec<(String, Value)>),
    /// A script block's source text, run again when invoked.
    Block(String),
    /// An XML document or element (`[xml]`); not persisted.
    #[serde(skip)]
    Xml(super::xml::XmlRef),
}

/// An object with named properties (case-insensitive, in order), like a .NET object's
/// PowerShell view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Object {
    pub type_name: String,
    pub properties: Vec<(String, Value)>,
}

impl Object {
    pub fn new(type_name: &str) -> Self {
        Object {
            type_name: type_name.to_string(),
            properties: Vec::new(),
        }
    }

    /// Adds a property (builder style).
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.push((name.to_string(), value.into()));
        self
    }

    /// A property by name, ignoring case.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<Vec<String>> for Value {
    fn from(items: Vec<String>) -> Self {
        Value::Array(items.into_iter().map(Value::Str).collect())
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Self {
        Value::Object(o)
    }
}

impl Value {
    /// PowerShell's truthiness: `$null`, `$false`, 0, '' and empty arrays are false.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Str(s) => !s.is_empty(),
            Value::Array(items) => match items.as_slice() {
                [] => false,
                [one] => one.is_true(),
                _ => true,
            },
            Value::Object(_) | Value::Table(_) | Value::Block(_) | Value::Xml(_) => true,
        }
    }

    /// A property of an object or hashtable (`$x.Name`); over an array, the property of each
    /// element (member enumeration).
    pub fn property(&self, name: &str) -> Value {
        match self {
            Value::Object(o) => o.get(name).cloned().unwrap_or(Value::Null),
            Value::Table(entries) => entries
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null),
            Value::Array(items) if name.eq_ignore_ascii_case("Count") => {
                Value::Int(items.len() as i64)
            }
            Value::Array(items) => Value::Array(items.iter().map(|i| i.property(name)).collect()),
            Value::Str(s) if name.eq_ignore_ascii_case("Length") => {
                Value::Int(s.chars().count() as i64)
            }
            Value::Xml(x) if name.eq_ignore_ascii_case("ChildNodes") => {
                Value::Array(x.children().into_iter().map(Value::Xml).collect())
            }
            Value::Xml(x) if name.eq_ignore_ascii_case("Name") => Value::Str(x.name()),
            Value::Xml(x) => {
                let mut children = x.children_named(name);
                match children.len() {
                    0 => x.attribute(name).map_or(Value::Null, Value::Str),
                    1 => Value::Xml(children.remove(0)),
                    _ => Value::Array(children.into_iter().map(Value::Xml).collect()),
                }
            }
            _ => Value::Null,
        }
    }

    /// The items a pipeline enumerates: arrays unroll, `$null` is nothing.
    pub fn into_items(self) -> Vec<Value> {
        match self {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            one => vec![one],
        }
    }

    /// A pipeline result as one value: nothing is `$null`, one item is itself.
    pub fn from_items(mut items: Vec<Value>) -> Value {
        match items.len() {
            0 => Value::Null,
            1 => items.remove(0),
            _ => Value::Array(items),
        }
    }
}

impl fmt::Display for Value {
    /// The text PowerShell converts a value to (`[string]$x`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Str(s) => f.write_str(s),
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().map(|i| i.to_string()).collect();
                f.write_str(&parts.join(" "))
            }
            Value::Object(o) => f.write_str(&o.type_name),
            Value::Table(_) => f.write_str("System.Collections.Hashtable"),
            Value::Block(source) => f.write_str(source),
            Value::Xml(x) => f.write_str(&x.name()),
        }
    }
}

/// Formats output the way the console shows it: strings and numbers one per line, objects as
/// `Name : Value` lists separated by blank lines.
pub fn format_output(values: &[Value]) -> String {
    let mut out = String::new();
    for value in values {
        match value {
            Value::Object(o) => {
                let width = o.properties.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
                out.push('\n');
                for (k, v) in &o.properties {
                    let shown = match v {
                        Value::Array(items) => format!(
                            "{{{}}}",
                            items
                                .iter()
                                .map(|i| i.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        other => other.to_string(),
                    };
                    out.push_str(&format!("{k:<width$} : {shown}\n"));
                }
            }
            Value::Null => {}
            other => {
                out.push_str(&other.to_string());
                out.push('\n');
            }
        }
    }
    out
}
