//! Where configuration comes from: built-in defaults, the TOML file (with the line of every
//! key) and `IMLINK_*` environment variables, merged in that order.

use super::*;

/// The environment variable that overrides `key_path`,
/// e.g. `approval.quorum` -> `IMLINK_APPROVAL_QUORUM`.
pub fn env_var_for(key_path: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key_path.replace('.', "_").to_ascii_uppercase()
    )
}

/// How an environment value is turned into a TOML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    String,
    Integer,
    Float,
    Boolean,
    List,
}

/// Every overridable leaf key with its kind: the leaves of the serialized
/// defaults plus [`OPTIONAL_LEAVES`].
pub(super) fn overridable_keys() -> Result<Vec<(String, Kind)>, toml::ser::Error> {
    let defaults = toml::Table::try_from(Config::default())?;
    let mut keys = Vec::new();
    collect_leaves("", &defaults, &mut keys);
    for (key, kind) in OPTIONAL_LEAVES {
        if !keys.iter().any(|(k, _)| k == key) {
            keys.push(((*key).to_owned(), *kind));
        }
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keys)
}

pub(super) fn collect_leaves(prefix: &str, table: &toml::Table, out: &mut Vec<(String, Kind)>) {
    for (name, value) in table {
        let path = join_key(prefix, name);
        let kind = match value {
            toml::Value::Table(inner) => {
                collect_leaves(&path, inner, out);
                continue;
            }
            toml::Value::String(_) | toml::Value::Datetime(_) => Kind::String,
            toml::Value::Integer(_) => Kind::Integer,
            toml::Value::Float(_) => Kind::Float,
            toml::Value::Boolean(_) => Kind::Boolean,
            toml::Value::Array(_) => Kind::List,
        };
        out.push((path, kind));
    }
}

fn join_key(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Parses an environment value; the error message names the expected type.
fn parse_env_value(kind: Kind, raw: &str) -> Result<toml::Value, String> {
    let trimmed = raw.trim();
    match kind {
        Kind::String => Ok(toml::Value::String(raw.to_owned())),
        Kind::Integer => trimmed
            .parse()
            .map(toml::Value::Integer)
            .map_err(|_| format!("expected an integer, got {raw:?}")),
        Kind::Float => trimmed
            .parse()
            .map(toml::Value::Float)
            .map_err(|_| format!("expected a number, got {raw:?}")),
        Kind::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("expected a boolean (true or false), got {raw:?}")),
        },
        Kind::List if trimmed.starts_with('[') => {
            let parsed =
                toml::de::ValueDeserializer::parse(trimmed).and_then(toml::Value::deserialize);
            match parsed {
                Ok(value @ toml::Value::Array(_)) => Ok(value),
                Ok(_) => Err("expected a TOML array".to_owned()),
                Err(e) => {
                    let mut detail = one_line(e.message());
                    if detail.is_empty() {
                        detail = "incomplete value".to_owned();
                    }
                    if let Some(span) = e.span() {
                        let leading = raw.len() - raw.trim_start().len();
                        detail.push_str(&format!(" (at column {})", leading + span.start + 1));
                    }
                    Err(format!("expected a TOML array: {detail}"))
                }
            }
        }
        Kind::List => Ok(toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        )),
    }
}

/// Joins a possibly multi-line parser message into one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Sets `key` (dotted) in `table`, creating or replacing intermediate tables.
fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        None => {
            table.insert(key.to_owned(), value);
        }
        Some((head, rest)) => {
            let slot = table
                .entry(head.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !slot.is_table() {
                *slot = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = slot {
                set_path(inner, rest, value);
            }
        }
    }
}

/// `key` followed by its parents: `a.b[1].c`, `a.b[1]`, `a.b`, `a`.
fn key_and_parents(key: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(key), |k| {
        if k.ends_with(']') {
            k.rfind('[').map(|i| &k[..i])
        } else {
            k.rfind('.').map(|i| &k[..i])
        }
    })
}

/// Location of one key (or array element) in the file.
struct KeySpan {
    path: String,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
}

/// The parsed configuration file with the location of every key.
struct SourceFile {
    path: PathBuf,
    text: String,
    spans: Vec<KeySpan>,
}

impl SourceFile {
    fn line_at(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn span_of(&self, key: &str) -> Option<&KeySpan> {
        self.spans.iter().find(|s| s.path == key)
    }

    /// Line of `key`, or of its nearest parent present in the file.
    fn line_of(&self, key: &str) -> Option<usize> {
        key_and_parents(key)
            .find_map(|k| self.span_of(k))
            .and_then(|s| s.key.as_ref().or(s.value.as_ref()))
            .map(|r| self.line_at(r.start))
    }

    /// The innermost key whose name or value covers `offset`.
    fn key_at(&self, offset: usize) -> Option<&str> {
        let covers = |r: &Option<Range<usize>>| {
            r.as_ref()
                .is_some_and(|r| r.contains(&offset) || r.start == offset)
        };
        self.spans
            .iter()
            .filter(|s| covers(&s.key))
            .max_by_key(|s| s.path.len())
            .or_else(|| {
                self.spans
                    .iter()
                    .filter(|s| covers(&s.value))
                    .min_by_key(|s| s.value.as_ref().map_or(usize::MAX, |r| r.len()))
            })
            .map(|s| s.path.as_str())
    }

    fn problem(&self, span: Option<Range<usize>>, message: &str) -> Problem {
        let start = span.map(|r| r.start);
        Problem {
            line: start.map(|s| self.line_at(s)),
            key: start.and_then(|s| self.key_at(s)).map(str::to_owned),
            source: ProblemSource::File(self.path.clone()),
            message: one_line(message),
        }
    }
}

fn index_table(prefix: &str, table: &dyn TableLike, out: &mut Vec<KeySpan>) {
    for (name, item) in table.iter() {
        let path = join_key(prefix, name);
        out.push(KeySpan {
            path: path.clone(),
            key: table.key(name).and_then(|k| k.span()),
            value: item.span(),
        });
        index_item(&path, item, out);
    }
}

fn index_item(path: &str, item: &Item, out: &mut Vec<KeySpan>) {
    match item {
        Item::Table(table) => index_table(path, table, out),
        Item::ArrayOfTables(array) => {
            for (i, table) in array.iter().enumerate() {
                let element = format!("{path}[{i}]");
                out.push(KeySpan {
                    path: element.clone(),
                    key: None,
                    value: table.span(),
                });
                index_table(&element, table, out);
            }
        }
        Item::Value(value) => index_value(path, value, out),
        Item::None => {}
    }
}

fn index_value(path: &str, value: &toml_edit::Value, out: &mut Vec<KeySpan>) {
    match value {
        toml_edit::Value::InlineTable(table) => index_table(path, table, out),
        toml_edit::Value::Array(array) => {
            for (i, element) in array.iter().enumerate() {
                let element_path = format!("{path}[{i}]");
                out.push(KeySpan {
                    path: element_path.clone(),
                    key: None,
                    value: element.span(),
                });
                index_value(&element_path, element, out);
            }
        }
        _ => {}
    }
}

/// Where the merged values came from, to attribute problems.
#[derive(Default)]
pub(super) struct Origins {
    file: Option<SourceFile>,
    /// Overridden key -> environment variable.
    env: BTreeMap<String, String>,
}

impl Origins {
    /// Points a key-based problem at the environment variable or file line
    /// that supplied the key (or its nearest parent).
    pub(super) fn attribute(&self, mut problem: Problem) -> Problem {
        let Some(key) = problem.key.as_deref() else {
            return problem;
        };
        if let Some(var) = key_and_parents(key).find_map(|k| self.env.get(k)) {
            problem.source = ProblemSource::Env(var.clone());
            problem.line = None;
        } else if let Some(file) = &self.file {
            problem.line = file.line_of(key);
            problem.source = ProblemSource::File(file.path.clone());
        }
        problem
    }
}

/// Reads and parses the file; on success returns its spans and its table.
fn read_file(path: &Path) -> Result<(SourceFile, toml::Table), Problem> {
    let file_problem = |message: String| Problem {
        line: None,
        key: None,
        source: ProblemSource::File(path.to_path_buf()),
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| file_problem(format!("cannot read file: {e}")))?;
    let mut file = SourceFile {
        path: path.to_path_buf(),
        text,
        spans: Vec::new(),
    };
    let document = match Document::parse(file.text.as_str()) {
        Ok(document) => document,
        Err(e) => {
            let mut problem = file.problem(e.span(), e.message());
            problem.key = None;
            return Err(problem);
        }
    };
    index_table("", document.as_table(), &mut file.spans);
    if let Err(e) = toml::from_str::<Config>(&file.text) {
        return Err(file.problem(e.span(), e.message()));
    }
    let table = toml::from_str::<toml::Table>(&file.text)
        .map_err(|e| file.problem(e.span(), e.message()))?;
    Ok((file, table))
}

pub(super) fn load_traced(
    path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Config, Origins), ConfigErrors> {
    let mut problems = Vec::new();
    let mut origins = Origins::default();
    // Invariant: `merged` always deserializes into a `Config`.
    let mut merged = toml::Table::new();

    if let Some(path) = path {
        match read_file(path) {
            Ok((file, table)) => {
                origins.file = Some(file);
                merged = table;
            }
            Err(problem) => problems.push(problem),
        }
    }

    let keys = overridable_keys().unwrap_or_else(|e| {
        problems.push(Problem {
            line: None,
            key: None,
            source: ProblemSource::Builtin,
            message: format!("cannot list overridable keys: {e}"),
        });
        Vec::new()
    });
    for (key, kind) in keys {
        let var = env_var_for(&key);
        let Some(raw) = env(&var) else {
            continue;
        };
        let env_problem = |message: String| Problem {
            line: None,
            key: Some(key.clone()),
            source: ProblemSource::Env(var.clone()),
            message,
        };
        let value = match parse_env_value(kind, &raw) {
            Ok(value) => value,
            Err(message) => {
                problems.push(env_problem(message));
                continue;
            }
        };
        let mut candidate = merged.clone();
        set_path(&mut candidate, &key, value);
        match candidate.clone().try_into::<Config>() {
            Ok(_) => {
                merged = candidate;
                origins.env.insert(key, var);
            }
            Err(e) => {
                let mut message = one_line(e.message());
                if kind == Kind::String
                    && !SECRET_KEYS.contains(&key.as_str())
                    && !message.contains(raw.as_str())
                {
                    message.push_str(&format!(" (got {raw:?})"));
                }
                problems.push(env_problem(message));
            }
        }
    }
    if !problems.is_empty() {
        return Err(ConfigErrors(problems));
    }

    let config = merged.try_into::<Config>().map_err(|e| {
        ConfigErrors(vec![Problem {
            line: None,
            key: None,
            source: ProblemSource::Builtin,
            message: one_line(e.message()),
        }])
    })?;
    let mut problems: Vec<Problem> = config
        .validate()
        .into_iter()
        .map(|p| origins.attribute(p))
        .collect();
    // File problems in line order, then environment problems.
    problems.sort_by_key(|p| {
        let rank = match p.source {
            ProblemSource::File(_) => 0,
            ProblemSource::Env(_) => 1,
            ProblemSource::Builtin => 2,
        };
        (rank, p.line.unwrap_or(usize::MAX))
    });
    if problems.is_empty() {
        Ok((config, origins))
    } else {
        Err(ConfigErrors(problems))
    }
}
