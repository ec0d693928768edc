//! The commands the language itself brings (`ForEach-Object`, `Where-Object`,
//! `Select-Object`, `Sort-Object`, `Invoke-Command`, `Join-Path`, `Get-Date`, `Out-String`, `Measure-Object`,
//! `Write-Output`, `ConvertTo-Json`), and `-ErrorAction` for every command; anything else goes
//! to the host (the simulated Lync and Exchange).

use super::*;

impl Interpreter<'_> {
    pub(super) fn call(
        &mut self,
        name: &str,
        mut args: Vec<Arg>,
        input: Vec<Value>,
        _src: &str,
    ) -> R<Vec<Value>> {
        // The common parameter -ErrorAction is handled here for every command.
        let mut action = self
            .vars
            .get("erroractionpreference")
            .map(|v| v.to_string());
        args.retain(|a| match a {
            Arg::Named(n, v)
                if n.eq_ignore_ascii_case("ErrorAction") || n.eq_ignore_ascii_case("EA") =>
            {
                action = v.as_ref().map(|v| v.to_string());
                false
            }
            _ => true,
        });
        let positional = |args: &[Arg]| -> Vec<Value> {
            args.iter()
                .filter_map(|a| match a {
                    Arg::Positional(v) => Some(v.clone()),
                    _ => None,
                })
                .collect()
        };
        let named_value = |args: &[Arg], n: &str| -> Option<Value> {
            args.iter().find_map(|a| match a {
                Arg::Named(k, v) if k.eq_ignore_ascii_case(n) => {
                    Some(v.clone().unwrap_or(Value::Bool(true)))
                }
                _ => None,
            })
        };
        let lower = name.to_ascii_lowercase();
        let result = match lower.as_str() {
            "foreach-object" | "%" => {
                let block =
                    named_value(&args, "Process").or_else(|| positional(&args).into_iter().next());
                let Some(Value::Block(source)) = block else {
                    return Err(Stop("ForEach-Object needs a script block".into()));
                };
                let mut out = Vec::new();
                for item in &input {
                    out.extend(self.run_block(&source, Some(item))?);
                }
                Ok(out)
            }
            "where-object" | "?" => {
                let block = named_value(&args, "FilterScript")
                    .or_else(|| positional(&args).into_iter().next());
                let Some(Value::Block(source)) = block else {
                    return Err(Stop("Where-Object needs a script block".into()));
                };
                let mut out = Vec::new();
                for item in input {
                    if Value::from_items(self.run_block(&source, Some(&item))?).is_true() {
                        out.push(item);
                    }
                }
                Ok(out)
            }
            "select-object" => Ok(select(
                &args,
                input,
                named_value(&args, "Skip"),
                named_value(&args, "First"),
                named_value(&args, "Unique").is_some(),
            )),
            "sort-object" => {
                let property = named_value(&args, "Property")
                    .or_else(|| positional(&args).into_iter().next())
                    .map(|v| v.to_string());
                let descending = named_value(&args, "Descending").is_some_and(|v| v.is_true());
                let key = |v: &Value| match &property {
                    Some(p) => v.property(p).to_string().to_lowercase(),
                    None => v.to_string().to_lowercase(),
                };
                let mut sorted = input;
                // Like PowerShell's: stable, without regard to case.
                sorted.sort_by_cached_key(key);
                if descending {
                    sorted.reverse();
                }
                Ok(sorted)
            }
            "invoke-command" => {
                let computer = named_value(&args, "ComputerName").map(|v| v.to_string());
                let Some(Value::Block(source)) = named_value(&args, "ScriptBlock")
                    .or_else(|| positional(&args).into_iter().next())
                else {
                    return Err(Stop("Invoke-Command needs a script block".into()));
                };
                if let Some(c) = &computer {
                    self.host.enter(Some(c)).map_err(|e| Stop(e.message))?;
                }
                // A remote session has its own variables.
                let saved = std::mem::take(&mut self.vars);
                let result = self.run_block(&source, None);
                self.vars = saved;
                if computer.is_some() {
                    let _ = self.host.enter(None);
                }
                result.map_err(|stop| PsError::terminating(stop.0))
            }
            "join-path" => {
                let parts: Vec<String> = named_value(&args, "Path")
                    .into_iter()
                    .chain(named_value(&args, "ChildPath"))
                    .chain(positional(&args))
                    .map(|v| v.to_string())
                    .collect();
                let joined = parts
                    .iter()
                    .map(|p| p.trim_end_matches('\\'))
                    .enumerate()
                    .map(|(i, p)| {
                        if i == 0 {
                            p.to_string()
                        } else {
                            p.trim_start_matches('\\').to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\\");
                Ok(vec![Value::Str(joined)])
            }
            "get-date" => {
                let now = chrono::Utc::now();
                Ok(vec![match named_value(&args, "Format") {
                    Some(f) => Value::Str(dotnet_format(now, &f.to_string())),
                    None => Value::Str(now.to_rfc3339()),
                }])
            }
            "out-string" => Ok(vec![Value::Str(crate::lab::value::format_output(&input))]),
            "measure-object" => Ok(vec![Value::Object(
                Object::new("Microsoft.PowerShell.Commands.GenericMeasureInfo")
                    .with("Count", input.len() as i64),
            )]),
            "write-output" => Ok(positional(&args)
                .into_iter()
                .flat_map(Value::into_items)
                .collect()),
            "convertto-json" => {
                let depth = match named_value(&args, "Depth") {
                    Some(Value::Int(n)) => usize::try_from(n).unwrap_or(2),
                    _ => 2,
                };
                let compress = named_value(&args, "Compress").is_some_and(|v| v.is_true());
                let value = match named_value(&args, "InputObject") {
                    Some(v) => v,
                    None => Value::from_items(input),
                };
                let json = to_json(&value, depth);
                let text = if compress {
                    json.to_string()
                } else {
                    serde_json::to_string_pretty(&json).unwrap_or_default()
                };
                Ok(vec![Value::Str(text)])
            }
            _ => self.host.invoke(Invocation {
                name: name.to_string(),
                args,
                input,
            }),
        };
        match result {
            Ok(out) => Ok(out),
            Err(e) => {
                let action = action.unwrap_or_default().to_ascii_lowercase();
                if e.terminating || action == "stop" {
                    Err(Stop(e.message))
                } else {
                    if action != "silentlycontinue" && action != "ignore" {
                        self.errors.push(e.message);
                    }
                    Ok(Vec::new())
                }
            }
        }
    }
}

fn select(
    args: &[Arg],
    input: Vec<Value>,
    skip: Option<Value>,
    first: Option<Value>,
    unique: bool,
) -> Vec<Value> {
    let properties: Vec<String> = args
        .iter()
        .filter_map(|a| match a {
            Arg::Positional(v) | Arg::Named(_, Some(v))
                if matches!(a, Arg::Positional(_))
                    || matches!(a, Arg::Named(n, _) if n.eq_ignore_ascii_case("Property")) =>
            {
                Some(
                    v.clone()
                        .into_items()
                        .into_iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>(),
                )
            }
            _ => None,
        })
        .flatten()
        .collect();
    let mut out: Vec<Value> = if properties.is_empty() {
        input
    } else {
        input
            .into_iter()
            .map(|item| {
                let mut o = Object::new("Selected.System.Management.Automation.PSCustomObject");
                for p in &properties {
                    o.properties.push((p.clone(), item.property(p)));
                }
                Value::Object(o)
            })
            .collect()
    };
    if unique {
        let mut seen: Vec<Value> = Vec::new();
        out.retain(|v| {
            if seen.contains(v) {
                false
            } else {
                seen.push(v.clone());
                true
            }
        });
    }
    if let Some(Value::Int(n)) = skip {
        out.drain(..usize::try_from(n).unwrap_or(0).min(out.len()));
    }
    if let Some(Value::Int(n)) = first {
        out.truncate(usize::try_from(n).unwrap_or(0));
    }
    out
}

/// A .NET custom date format for the patterns the emitted scripts use.
fn dotnet_format(at: chrono::DateTime<chrono::Utc>, format: &str) -> String {
    let pattern = format
        .replace("yyyy", "%Y")
        .replace("MM", "%m")
        .replace("dd", "%d")
        .replace("HH", "%H")
        .replace("mm", "%M")
        .replace("ss", "%S");
    at.format(&pattern).to_string()
}

/// The JSON `ConvertTo-Json` prints: objects and hashtables nest down to `depth`, deeper ones
/// become their text.
fn to_json(value: &Value, depth: usize) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => J::from(*n),
        Value::Str(s) => J::String(s.clone()),
        Value::Block(s) => J::String(s.clone()),
        Value::Xml(x) => J::String(x.name()),
        Value::Array(items) => J::Array(items.iter().map(|i| to_json(i, depth)).collect()),
        Value::Object(_) | Value::Table(_) if depth == 0 => J::String(value.to_string()),
        Value::Object(o) => J::Object(
            o.properties
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v, depth - 1)))
                .collect(),
        ),
        Value::Table(entries) => J::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v, depth - 1)))
                .collect(),
        ),
    }
}
