//! A PowerShell interpreter for the scripts imlink emits, on the tree-sitter PowerShell grammar.
//!
//! It runs statements, pipelines, named and switch parameters, single- and double-quoted
//! strings, `$True`/`$False`/`$null`, arrays, hashtables, variables, `& { }`, `if`, `throw`,
//! member access, comparisons, and the built-in `ForEach-Object`, `Where-Object`,
//! `Select-Object`, `Out-String`, `Measure-Object` and `Write-Output`. Every other command goes
//! to the [`Host`]. Where the grammar departs from PowerShell (it does not end strings at
//! U+2018–U+201B), strings are read by the language specification's rule instead.

use std::collections::HashMap;

use tree_sitter::{Node, Parser};

use super::value::{Object, Value};
use app::procedure::powershell::parse_verbatim;

/// A command argument as written: `-Name value`, `-Switch`, or a positional value.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Named(String, Option<Value>),
    Positional(Value),
}

mod builtins;

/// A call of a command the host provides.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    pub name: String,
    pub args: Vec<Arg>,
    /// Pipeline input.
    pub input: Vec<Value>,
}

/// An error a command reports. Non-terminating errors are written and the script goes on
/// (unless `$ErrorActionPreference` or `-ErrorAction` is `Stop`); terminating ones end it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PsError {
    pub message: String,
    pub terminating: bool,
}

impl PsError {
    pub fn terminating(message: impl Into<String>) -> Self {
        PsError {
            message: message.into(),
            terminating: true,
        }
    }

    pub fn non_terminating(message: impl Into<String>) -> Self {
        PsError {
            message: message.into(),
            terminating: false,
        }
    }
}

/// What the commands run against.
pub trait Host {
    /// Runs a command that is not part of the language.
    fn invoke(&mut self, call: Invocation) -> Result<Vec<Value>, PsError>;

    /// `$env:NAME`.
    fn env(&self, _name: &str) -> Option<String> {
        None
    }

    /// Moves into a remote session on `computer` (`Invoke-Command -ComputerName`), or back
    /// with `None`.
    fn enter(&mut self, computer: Option<&str>) -> Result<(), PsError> {
        match computer {
            None => Ok(()),
            Some(c) => Err(PsError::terminating(format!(
                "Connecting to remote server {c} failed: the computer cannot be reached."
            ))),
        }
    }
}

/// What running a script produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub output: Vec<Value>,
    /// Non-terminating errors, in order.
    pub errors: Vec<String>,
    /// The terminating error that ended the script, if any.
    pub failure: Option<String>,
}

/// Runs scripts against a host; variables persist between runs.
pub struct Interpreter<'h> {
    host: &'h mut dyn Host,
    vars: HashMap<String, Value>,
    errors: Vec<String>,
    /// The typographic single quotes of the text being run, by byte offset (see [`normalize`]).
    quotes: Vec<(usize, char)>,
}

/// PowerShell ends and escapes verbatim strings with any of five single-quote characters; the
/// grammar knows only U+0027. The text is parsed with U+2018–U+201B written as U+0027, and
/// their positions in that text are kept so string contents and script blocks are restored
/// exactly.
fn normalize(text: &str) -> (String, Vec<(usize, char)>) {
    let mut out = String::with_capacity(text.len());
    let mut quotes = Vec::new();
    for c in text.chars() {
        if matches!(c, '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            quotes.push((out.len(), c));
            out.push('\'');
        } else {
            out.push(c);
        }
    }
    (out, quotes)
}

/// A terminating error unwinding the script.
struct Stop(String);

type R<T> = Result<T, Stop>;

const WRAPPERS: &[&str] = &[
    "logical_expression",
    "bitwise_expression",
    "comparison_expression",
    "additive_expression",
    "multiplicative_expression",
    "format_expression",
    "range_expression",
    "array_literal_expression",
    "unary_expression",
    "argument_expression",
    "logical_argument_expression",
    "bitwise_argument_expression",
    "comparison_argument_expression",
    "additive_argument_expression",
    "multiplicative_argument_expression",
    "format_argument_expression",
    "range_argument_expression",
    "argument_expression_list",
    "pipeline_chain",
];

fn named<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
        .collect()
}

fn children<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.children(&mut cursor).collect()
}

impl<'h> Interpreter<'h> {
    pub fn new(host: &'h mut dyn Host) -> Self {
        Interpreter {
            host,
            vars: HashMap::new(),
            errors: Vec::new(),
            quotes: Vec::new(),
        }
    }

    /// Parses and runs `script`.
    pub fn run(&mut self, script: &str) -> Outcome {
        let (script, quotes) = normalize(script.trim_start_matches('\u{FEFF}'));
        self.quotes = quotes;
        let script = script.as_str();
        let mut parser = Parser::new();
        if parser
            .set_language(&tree_sitter_powershell::LANGUAGE.into())
            .is_err()
        {
            return failed("the PowerShell grammar could not be loaded");
        }
        let Some(tree) = parser.parse(script, None) else {
            return failed("the script could not be parsed");
        };
        if tree.root_node().has_error() {
            let at = first_error(tree.root_node()).map_or(0, |n| n.start_position().row + 1);
            return failed(&format!(
                "ParserError: the script has a syntax error at line {at}"
            ));
        }
        self.errors.clear();
        let mut output = Vec::new();
        let failure = self
            .statements(tree.root_node(), script, &mut output)
            .err()
            .map(|s| s.0);
        Outcome {
            output,
            errors: std::mem::take(&mut self.errors),
            failure,
        }
    }

    fn statements(&mut self, node: Node, src: &str, out: &mut Vec<Value>) -> R<()> {
        for child in named(node) {
            match child.kind() {
                "statement_list" | "program" | "script_block_body" | "script_block" => {
                    self.statements(child, src, out)?
                }
                "pipeline" => out.extend(self.pipeline(child, src)?),
                "if_statement" => self.if_statement(child, src, out)?,
                "flow_control_statement" => return Err(self.flow(child, src)?),
                "empty_statement" => {}
                other => return Err(unsupported(other, child)),
            }
        }
        Ok(())
    }

    fn if_statement(&mut self, node: Node, src: &str, out: &mut Vec<Value>) -> R<()> {
        let parts = named(node);
        let mut i = 0;
        while i < parts.len() {
            match parts[i].kind() {
                "pipeline" => {
                    let condition = Value::from_items(self.pipeline(parts[i], src)?);
                    if condition.is_true() {
                        return self.statements(parts[i + 1], src, out);
                    }
                    i += 2;
                }
                "elseif_clauses" | "elseif_clause" => {
                    let clause = named(parts[i]);
                    if let [condition, block] = clause.as_slice()
                        && Value::from_items(self.pipeline(*condition, src)?).is_true()
                    {
                        return self.statements(*block, src, out);
                    }
                    i += 1;
                }
                "else_clause" => {
                    let block = named(parts[i]);
                    if let Some(b) = block.first() {
                        return self.statements(*b, src, out);
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
        Ok(())
    }

    fn flow(&mut self, node: Node, src: &str) -> R<Stop> {
        let text = &src[node.byte_range()];
        if !text.trim_start().to_ascii_lowercase().starts_with("throw") {
            return Err(unsupported("flow control other than throw", node));
        }
        let message = match named(node).first() {
            Some(p) => Value::from_items(self.pipeline(*p, src)?).to_string(),
            None => "ScriptHalted".to_string(),
        };
        Ok(Stop(message))
    }

    fn pipeline(&mut self, node: Node, src: &str) -> R<Vec<Value>> {
        let parts = named(node);
        if let [one] = parts.as_slice() {
            match one.kind() {
                "assignment_expression" => {
                    self.assign(*one, src)?;
                    return Ok(Vec::new());
                }
                "pipeline_chain" => return self.chain(*one, src),
                "command" => return self.command(*one, src, Vec::new()),
                _ => return Ok(self.expr(*one, src)?.into_items()),
            }
        }
        self.chain(node, src)
    }

    fn chain(&mut self, node: Node, src: &str) -> R<Vec<Value>> {
        let mut items: Option<Vec<Value>> = None;
        for part in named(node) {
            items = Some(match part.kind() {
                "command" => self.command(part, src, items.take().unwrap_or_default())?,
                _ if items.is_none() => self.expr(part, src)?.into_items(),
                other => return Err(unsupported(other, part)),
            });
        }
        Ok(items.unwrap_or_default())
    }

    fn assign(&mut self, node: Node, src: &str) -> R<()> {
        let parts = named(node);
        let (Some(target), Some(value)) = (parts.first(), parts.last()) else {
            return Err(unsupported("assignment", node));
        };
        let name = src[target.byte_range()].trim();
        let Some(name) = name.strip_prefix('$') else {
            return Err(unsupported(
                "assignment to something other than a variable",
                node,
            ));
        };
        let value = Value::from_items(self.pipeline(*value, src)?);
        self.vars.insert(name.to_ascii_lowercase(), value);
        Ok(())
    }

    fn command(&mut self, node: Node, src: &str, input: Vec<Value>) -> R<Vec<Value>> {
        let parts = named(node);
        let mut name = String::new();
        let mut block = None;
        let mut args = Vec::new();
        for part in &parts {
            match part.kind() {
                "command_name" => name = src[part.byte_range()].to_string(),
                "command_name_expr" => {
                    let inner = named(*part);
                    match inner.first() {
                        Some(b) if b.kind() == "script_block_expression" => block = Some(*b),
                        Some(n) => name = self.expr(*n, src)?.to_string(),
                        None => name = src[part.byte_range()].to_string(),
                    }
                }
                "command_elements" if name.to_ascii_lowercase().ends_with(".exe") => {
                    // Native programs get their arguments as written.
                    args = named(*part)
                        .into_iter()
                        .filter(|p| p.kind() != "command_argument_sep")
                        .map(|p| Arg::Positional(Value::Str(src[p.byte_range()].to_string())))
                        .collect();
                }
                "command_elements" => args = self.arguments(*part, src)?,
                "command_invokation_operator" => {}
                other => return Err(unsupported(other, *part)),
            }
        }
        if let Some(b) = block {
            let mut out = Vec::new();
            self.block(b, src, &mut out)?;
            return Ok(out);
        }
        self.call(&name, args, input, src)
    }

    fn arguments(&mut self, node: Node, src: &str) -> R<Vec<Arg>> {
        let mut args: Vec<Arg> = Vec::new();
        let mut pending: Option<String> = None;
        for part in named(node) {
            match part.kind() {
                "command_argument_sep" => {}
                "command_parameter" => {
                    if let Some(p) = pending.take() {
                        args.push(Arg::Named(p, None));
                    }
                    let text = src[part.byte_range()].trim();
                    // PowerShell also accepts the en dash, em dash and horizontal bar as a dash.
                    let text = text.trim_start_matches(['-', '\u{2013}', '\u{2014}', '\u{2015}']);
                    match text.strip_suffix(':') {
                        Some(n) => pending = Some(n.to_string()),
                        None => pending = Some(text.to_string()),
                    }
                }
                "generic_token" if is_unicode_dash_parameter(&src[part.byte_range()]) => {
                    // The grammar reads `–Name` as a bare word; PowerShell reads a parameter.
                    if let Some(p) = pending.take() {
                        args.push(Arg::Named(p, None));
                    }
                    let text = src[part.byte_range()]
                        .trim_start_matches(['\u{2013}', '\u{2014}', '\u{2015}']);
                    pending = Some(text.trim_end_matches(':').to_string());
                }
                _ => {
                    let value = match part.kind() {
                        "generic_token" => Value::Str(src[part.byte_range()].to_string()),
                        _ => self.expr(part, src)?,
                    };
                    match pending.take() {
                        Some(p) => args.push(Arg::Named(p, Some(value))),
                        None => args.push(Arg::Positional(value)),
                    }
                }
            }
        }
        if let Some(p) = pending {
            args.push(Arg::Named(p, None));
        }
        Ok(args)
    }

    /// Runs a script block's statements (with `$_` set by the caller when piping).
    fn block(&mut self, node: Node, src: &str, out: &mut Vec<Value>) -> R<()> {
        for part in named(node) {
            match part.kind() {
                "script_block" | "script_block_body" | "statement_list" => {
                    self.statements(part, src, out)?
                }
                "pipeline" => out.extend(self.pipeline(part, src)?),
                _ => self.statements(part, src, out)?,
            }
        }
        Ok(())
    }

    fn run_block(&mut self, source: &str, item: Option<&Value>) -> R<Vec<Value>> {
        let previous = self.vars.remove("_");
        if let Some(item) = item {
            self.vars.insert("_".into(), item.clone());
        }
        let (source, quotes) = normalize(source);
        let outer_quotes = std::mem::replace(&mut self.quotes, quotes);
        let mut parser = Parser::new();
        let _ = parser.set_language(&tree_sitter_powershell::LANGUAGE.into());
        let Some(tree) = parser.parse(&source, None) else {
            self.quotes = outer_quotes;
            return Err(Stop("a script block could not be parsed".into()));
        };
        let mut out = Vec::new();
        let result = self.statements(tree.root_node(), &source, &mut out);
        self.quotes = outer_quotes;
        self.vars.remove("_");
        if let Some(p) = previous {
            self.vars.insert("_".into(), p);
        }
        result.map(|_| out)
    }

    fn expr(&mut self, node: Node, src: &str) -> R<Value> {
        let kind = node.kind();
        let parts = named(node);
        if WRAPPERS.contains(&kind) {
            return match (kind, parts.as_slice()) {
                (_, [one]) => self.expr(*one, src),
                ("array_literal_expression", many) => {
                    let mut items = Vec::new();
                    for p in many {
                        items.push(self.expr(*p, src)?);
                    }
                    Ok(Value::Array(items))
                }
                ("additive_expression" | "additive_argument_expression", [left, right]) => {
                    let op = children(node)
                        .iter()
                        .find(|c| !c.is_named())
                        .map(|c| src[c.byte_range()].to_string())
                        .unwrap_or_default();
                    let l = self.expr(*left, src)?;
                    let r = self.expr(*right, src)?;
                    add(&op, l, r)
                        .ok_or_else(|| unsupported(&format!("the operator {op} here"), node))
                }
                ("comparison_expression" | "comparison_argument_expression", [left, op, right]) => {
                    let l = self.expr(*left, src)?;
                    let r = self.expr(*right, src)?;
                    compare(&src[op.byte_range()], &l, &r)
                        .ok_or_else(|| unsupported(&src[op.byte_range()], *op))
                }
                ("logical_expression" | "logical_argument_expression", [left, right]) => {
                    let op = children(node)
                        .iter()
                        .find(|c| !c.is_named())
                        .map(|c| src[c.byte_range()].to_ascii_lowercase())
                        .unwrap_or_default();
                    let l = self.expr(*left, src)?.is_true();
                    let r = self.expr(*right, src)?.is_true();
                    Ok(Value::Bool(if op.contains("or") { l || r } else { l && r }))
                }
                _ => Err(unsupported(kind, node)),
            };
        }
        match kind {
            "pipeline" => Ok(Value::from_items(self.pipeline(node, src)?)),
            "string_literal" => self.expr(parts[0], src),
            "verbatim_string_characters" => parse_verbatim(&self.restore(src, node.byte_range()))
                .map(Value::Str)
                .ok_or_else(|| {
                    Stop(format!(
                        "the string {} is malformed",
                        &src[node.byte_range()]
                    ))
                }),
            "expandable_string_literal" => Ok(Value::Str(
                self.expand(&self.restore(src, node.byte_range())),
            )),
            "integer_literal" | "decimal_integer_literal" => src[node.byte_range()]
                .parse::<i64>()
                .map(Value::Int)
                .map_err(|_| unsupported("this number", node)),
            "variable" => Ok(self.variable(&src[node.byte_range()])),
            "generic_token" | "simple_name" => Ok(Value::Str(src[node.byte_range()].to_string())),
            "parenthesized_expression" | "sub_expression" => match parts.first() {
                Some(p) => self.expr(*p, src),
                None => Ok(Value::Null),
            },
            "array_expression" => {
                let mut out = Vec::new();
                for p in parts {
                    self.statements_or_pipeline(p, src, &mut out)?;
                }
                Ok(Value::Array(out))
            }
            "hash_literal_expression" => {
                let mut entries = Vec::new();
                if let Some(body) = parts.first() {
                    for entry in named(*body) {
                        let e = named(entry);
                        if let [key, value] = e.as_slice() {
                            let k = src[key.byte_range()]
                                .trim()
                                .trim_matches(['\'', '"'])
                                .to_string();
                            entries.push((k, self.expr(*value, src)?));
                        }
                    }
                }
                Ok(Value::Table(entries))
            }
            "script_block_expression" => {
                let inner = parts
                    .first()
                    .map(|b| self.restore(src, b.byte_range()))
                    .unwrap_or_default();
                Ok(Value::Block(inner))
            }
            "member_access" => {
                let target = self.expr(parts[0], src)?;
                let member = parts
                    .last()
                    .map(|m| src[m.byte_range()].trim().to_string())
                    .unwrap_or_default();
                Ok(target.property(&member))
            }
            "invokation_expression" => self.method(node, src),
            "element_access" => {
                let target = self.expr(parts[0], src)?;
                let index = match parts.get(1) {
                    Some(i) => self.expr(*i, src)?,
                    None => Value::Null,
                };
                let items = target.into_items();
                Ok(match index {
                    Value::Int(i) if i >= 0 => {
                        items.get(i as usize).cloned().unwrap_or(Value::Null)
                    }
                    Value::Int(i) => items
                        .len()
                        .checked_sub(i.unsigned_abs() as usize)
                        .and_then(|j| items.get(j).cloned())
                        .unwrap_or(Value::Null),
                    _ => return Err(unsupported("this index", node)),
                })
            }
            "expression_with_unary_operator"
                if parts.len() == 1 && parts[0].kind() == "cast_expression" =>
            {
                self.expr(parts[0], src)
            }
            "cast_expression" => {
                let type_name = parts
                    .iter()
                    .find(|p| p.kind() == "type_literal")
                    .map(|t| {
                        src[t.byte_range()]
                            .trim_matches(['[', ']'])
                            .trim()
                            .to_ascii_lowercase()
                    })
                    .unwrap_or_default();
                let value = match parts.last() {
                    Some(v) => self.expr(*v, src)?,
                    None => Value::Null,
                };
                cast(&type_name, value)
                    .ok_or_else(|| unsupported(&format!("the cast to [{type_name}]"), node))
            }
            "expression_with_unary_operator" => {
                let op = children(node)
                    .first()
                    .map(|c| src[c.byte_range()].to_ascii_lowercase())
                    .unwrap_or_default();
                let value = match parts.last() {
                    Some(p) => self.expr(*p, src)?,
                    None => Value::Null,
                };
                match op.as_str() {
                    "-not" | "!" => Ok(Value::Bool(!value.is_true())),
                    "-" => match value {
                        Value::Int(n) => Ok(Value::Int(-n)),
                        _ => Err(unsupported("negating a non-number", node)),
                    },
                    _ => Err(unsupported(&op, node)),
                }
            }
            other => Err(unsupported(other, node)),
        }
    }

    fn statements_or_pipeline(&mut self, node: Node, src: &str, out: &mut Vec<Value>) -> R<()> {
        match node.kind() {
            "pipeline" => {
                out.extend(self.pipeline(node, src)?);
                Ok(())
            }
            _ => self.statements(node, src, out),
        }
    }

    fn method(&mut self, node: Node, src: &str) -> R<Value> {
        let parts = named(node);
        let target = self.expr(parts[0], src)?;
        let name = parts
            .iter()
            .find(|p| p.kind() == "member_name")
            .map(|p| src[p.byte_range()].to_ascii_lowercase())
            .unwrap_or_default();
        let mut args = Vec::new();
        if let Some(list) = parts.iter().find(|p| p.kind() == "argument_list") {
            for a in named(*list) {
                for item in named(a) {
                    args.push(self.expr(item, src)?);
                }
            }
        }
        if let Value::Xml(x) = &target {
            return self.xml_method(x, &name, &args, node);
        }
        let text = target.to_string();
        let arg = |i: usize| args.get(i).map(|a| a.to_string()).unwrap_or_default();
        match name.as_str() {
            "touniversaltime" => Ok(target.clone()),
            "tostring" if arg(0) == "o" => Ok(Value::Str(
                chrono::DateTime::parse_from_rfc3339(&text)
                    .map(|d| {
                        d.with_timezone(&chrono::Utc)
                            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                            .to_string()
                    })
                    .unwrap_or(text.clone()),
            )),
            "contains" => Ok(Value::Bool(text.contains(&arg(0)))),
            "tostring" => Ok(Value::Str(text)),
            "trim" => Ok(Value::Str(text.trim().to_string())),
            "toupper" => Ok(Value::Str(text.to_uppercase())),
            "tolower" => Ok(Value::Str(text.to_lowercase())),
            "startswith" => Ok(Value::Bool(text.starts_with(&arg(0)))),
            "endswith" => Ok(Value::Bool(text.ends_with(&arg(0)))),
            other => Err(unsupported(&format!("the method {other}()"), node)),
        }
    }

    /// The `System.Xml` methods the emitted scripts call.
    fn xml_method(
        &mut self,
        x: &super::xml::XmlRef,
        name: &str,
        args: &[Value],
        node: Node,
    ) -> R<Value> {
        let text = |i: usize| args.get(i).map(|a| a.to_string()).unwrap_or_default();
        let element = |i: usize| match args.get(i) {
            Some(Value::Xml(e)) => Ok(e.clone()),
            _ => Err(Stop(format!("{name}() needs an XML element"))),
        };
        match name {
            "selectsinglenode" => Ok(x.select_single(&text(0)).map_or(Value::Null, Value::Xml)),
            "createelement" => Ok(Value::Xml(x.create_element(&text(0)))),
            "setattribute" => {
                x.set_attribute(&text(0), &text(1));
                Ok(Value::Null)
            }
            "getattribute" => Ok(Value::Str(x.attribute(&text(0)).unwrap_or_default())),
            "appendchild" => {
                let child = element(0)?;
                x.append_child(&child).map_err(Stop)?;
                Ok(Value::Xml(child))
            }
            "removechild" => {
                let child = element(0)?;
                x.remove_child(&child).map_err(Stop)?;
                Ok(Value::Xml(child))
            }
            "save" => {
                let call = Invocation {
                    name: "Set-Content".into(),
                    args: vec![
                        Arg::Named("LiteralPath".into(), Some(Value::Str(text(0)))),
                        Arg::Named("Value".into(), Some(Value::Str(x.outer_document()))),
                    ],
                    input: Vec::new(),
                };
                self.host.invoke(call).map_err(|e| Stop(e.message))?;
                Ok(Value::Null)
            }
            other => Err(unsupported(&format!("the XML method {other}()"), node)),
        }
    }

    /// The original text of `range` of the normalized source: typographic quotes put back.
    fn restore(&self, src: &str, range: std::ops::Range<usize>) -> String {
        let start = range.start;
        src[range]
            .char_indices()
            .map(
                |(i, c)| match self.quotes.binary_search_by_key(&(start + i), |q| q.0) {
                    Ok(k) => self.quotes[k].1,
                    Err(_) => c,
                },
            )
            .collect()
    }

    fn variable(&self, text: &str) -> Value {
        let name = text.trim_start_matches('$');
        match name.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            lower => match lower.strip_prefix("env:") {
                Some(var) => self.host.env(var).map(Value::Str).unwrap_or(Value::Null),
                None => self.vars.get(lower).cloned().unwrap_or(Value::Null),
            },
        }
    }

    /// A double-quoted string: `$name` and `$env:NAME` are expanded, `` `n `` and `""` unescaped.
    fn expand(&self, literal: &str) -> String {
        let inner: Vec<char> = literal.chars().skip(1).collect();
        let inner = &inner[..inner.len().saturating_sub(1)];
        let mut out = String::new();
        let mut i = 0;
        while i < inner.len() {
            let c = inner[i];
            match c {
                '`' if i + 1 < inner.len() => {
                    out.push(match inner[i + 1] {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        '0' => '\0',
                        other => other,
                    });
                    i += 2;
                }
                '"' | '\u{201C}' | '\u{201D}' | '\u{201E}' if i + 1 < inner.len() => {
                    out.push(c);
                    i += 2;
                }
                '$' => {
                    let mut j = i + 1;
                    while j < inner.len()
                        && (inner[j].is_alphanumeric() || inner[j] == '_' || inner[j] == ':')
                    {
                        j += 1;
                    }
                    if j == i + 1 {
                        out.push('$');
                        i += 1;
                    } else {
                        let name: String = inner[i..j].iter().collect();
                        out.push_str(&self.variable(&name).to_string());
                        i = j;
                    }
                }
                _ => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        out
    }
}

/// PowerShell's comparison operators (case-insensitive by default).
fn compare(op: &str, left: &Value, right: &Value) -> Option<Value> {
    let op = op.trim().to_ascii_lowercase();
    let op = op.trim_start_matches('-');
    let (l, r) = (
        left.to_string().to_lowercase(),
        right.to_string().to_lowercase(),
    );
    let like = |text: &str, pattern: &str| wildcard(text, pattern);
    if let Value::Array(items) = left {
        // Over an array, -eq and friends filter; -contains tests membership.
        return match op.trim_start_matches('i') {
            "contains" => {
                Some(Value::Bool(items.iter().any(|i| {
                    i.to_string().eq_ignore_ascii_case(&right.to_string())
                })))
            }
            "notcontains" => {
                Some(Value::Bool(!items.iter().any(|i| {
                    i.to_string().eq_ignore_ascii_case(&right.to_string())
                })))
            }
            _ => Some(Value::Array(
                items
                    .iter()
                    .filter(|i| compare(op, i, right).is_some_and(|v| v.is_true()))
                    .cloned()
                    .collect(),
            )),
        };
    }
    let result = match op.trim_start_matches('i') {
        "eq" => match (left, right) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Bool(a), b) => *a == b.is_true(),
            _ => l == r,
        },
        "ne" => l != r,
        "like" => like(&l, &r),
        "notlike" => !like(&l, &r),
        "match" | "notmatch" => {
            let found = regex::RegexBuilder::new(&right.to_string())
                .case_insensitive(true)
                .build()
                .ok()?
                .is_match(&left.to_string());
            if op.trim_start_matches('i') == "match" {
                found
            } else {
                !found
            }
        }
        "split" => {
            let pattern = regex::RegexBuilder::new(&right.to_string())
                .case_insensitive(true)
                .build()
                .ok()?;
            return Some(Value::Array(
                pattern
                    .split(&left.to_string())
                    .map(|s| Value::Str(s.to_string()))
                    .collect(),
            ));
        }
        "contains" => l == r,
        "notcontains" => l != r,
        "gt" | "lt" | "ge" | "le" => {
            let (Value::Int(a), Value::Int(b)) = (left, right) else {
                return None;
            };
            match op {
                "gt" => a > b,
                "lt" => a < b,
                "ge" => a >= b,
                _ => a <= b,
            }
        }
        _ => return None,
    };
    Some(Value::Bool(result))
}

/// `[type]value` for the types the emitted scripts use.
fn cast(type_name: &str, value: Value) -> Option<Value> {
    Some(match type_name {
        "string" => Value::Str(value.to_string()),
        "int" | "int32" | "long" => match value {
            Value::Int(n) => Value::Int(n),
            Value::Null => Value::Int(0),
            other => Value::Int(other.to_string().trim().parse().ok()?),
        },
        "bool" | "boolean" => Value::Bool(value.is_true()),
        "pscustomobject" => match value {
            Value::Table(entries) => Value::Object(Object {
                type_name: "System.Management.Automation.PSCustomObject".into(),
                properties: entries,
            }),
            other => other,
        },
        "array" | "object[]" => Value::Array(value.into_items()),
        "void" => Value::Null,
        "xml" => match value {
            Value::Xml(x) => Value::Xml(x),
            other => Value::Xml(super::xml::XmlRef::document(
                super::xml::Document::parse(&other.to_string()).ok()?,
            )),
        },
        _ => return None,
    })
}

/// `+` and `-` on numbers, strings and arrays.
fn add(op: &str, left: Value, right: Value) -> Option<Value> {
    Some(match (op, left, right) {
        ("+", Value::Array(mut a), r) => {
            a.extend(r.into_items());
            Value::Array(a)
        }
        ("+", Value::Int(a), Value::Int(b)) => Value::Int(a.checked_add(b)?),
        ("-", Value::Int(a), Value::Int(b)) => Value::Int(a.checked_sub(b)?),
        ("+", Value::Str(a), r) => Value::Str(a + &r.to_string()),
        ("+", Value::Null, r) => r,
        _ => return None,
    })
}

/// Whether a bare word is a parameter written with an en dash, em dash or horizontal bar.
fn is_unicode_dash_parameter(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some('\u{2013}' | '\u{2014}' | '\u{2015}'))
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && text
            .chars()
            .skip(1)
            .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '_')
}

/// `*` and `?` wildcards, as `-like` uses them.
fn wildcard(text: &str, pattern: &str) -> bool {
    fn go(t: &[char], p: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, _) => t.is_empty(),
            (Some('*'), _) => go(t, &p[1..]) || (!t.is_empty() && go(&t[1..], p)),
            (Some('?'), Some(_)) => go(&t[1..], &p[1..]),
            (Some(a), Some(b)) if a == b => go(&t[1..], &p[1..]),
            _ => false,
        }
    }
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    go(&t, &p)
}

fn unsupported(what: &str, node: Node) -> Stop {
    Stop(format!(
        "the lab does not support {what} (line {})",
        node.start_position().row + 1
    ))
}

fn first_error(node: Node) -> Option<Node> {
    if node.is_error() || node.is_missing() {
        return Some(node);
    }
    let mut cursor = node.walk();
    let kids: Vec<Node> = node.children(&mut cursor).collect();
    kids.into_iter().find_map(first_error)
}

fn failed(message: &str) -> Outcome {
    Outcome {
        failure: Some(message.to_string()),
        ..Outcome::default()
    }
}
