//! `imlink eligibility check`: one person's verdict from the command line, as text for people
//! or as one JSON object per line for tools.

use std::process::ExitCode;

use app::error::AppError;
use app::procedure::eligibility::{Check, Eligibility, Outcome, Verdict};
use app::ssr::directory::Record;
use app::ssr::state::AppState;

/// Output formats of `imlink eligibility`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Exit status: eligible.
const ELIGIBLE: u8 = 0;
/// Exit status: not eligible.
const NOT_ELIGIBLE: u8 = 1;
/// Exit status: the identifier or the command line is bad (nobody, several people).
const BAD_INPUT: u8 = 2;
/// Exit status: a needed fact could not be read.
const UNKNOWN: u8 = 3;
/// Exit status: no answer (the directory or the environment could not be read).
const UNAVAILABLE: u8 = 4;

/// Looks `identity` up in the configured directory, judges them and prints the verdict.
pub async fn check(state: &AppState, identity: &str, format: Format) -> ExitCode {
    match app::ssr::eligibility::judge(state, identity).await {
        Ok((record, eligibility)) => {
            match format {
                Format::Text => print!("{}", text(&record, &eligibility)),
                Format::Json => println!("{}", json(&record.entry, &eligibility)),
            }
            ExitCode::from(match eligibility.verdict {
                Verdict::Eligible => ELIGIBLE,
                Verdict::NotEligible => NOT_ELIGIBLE,
                Verdict::Unknown => UNKNOWN,
            })
        }
        Err(AppError::Invalid(errors)) => {
            let message = errors
                .get("identity")
                .unwrap_or("the identifier is not valid");
            eprintln!("imlink: {message}");
            ExitCode::from(BAD_INPUT)
        }
        Err(other) => {
            eprintln!("imlink: {other}");
            ExitCode::from(UNAVAILABLE)
        }
    }
}

/// The verdict and every check, for people.
pub fn text(record: &Record, e: &Eligibility) -> String {
    let mut out = format!(
        "{} ({}): {}\n",
        record.entry.upn,
        record.entry.display_name,
        e.verdict.as_str().replace('_', " ")
    );
    for c in &e.checks {
        out.push_str(&format!(
            "  {:<8} {} — {}\n",
            c.outcome.as_str(),
            c.code.as_str(),
            c.code.title()
        ));
        for (name, value) in &c.evidence {
            out.push_str(&format!("           {name}: {value}\n"));
        }
        if c.outcome != Outcome::Pass {
            out.push_str(&format!("           {}\n", c.explanation));
        }
        if let Some(fix) = &c.fix {
            out.push_str(&format!("           fix: {fix}\n"));
        }
    }
    out
}

fn check_json(c: &Check) -> serde_json::Value {
    let evidence: serde_json::Map<String, serde_json::Value> = c
        .evidence
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
        .collect();
    serde_json::json!({
        "code": c.code.as_str(),
        "outcome": c.outcome.as_str(),
        "evidence": evidence,
        "explanation": c.explanation,
        "fix": c.fix,
    })
}

/// How a person is named in the JSON lines.
pub struct Named<'a> {
    pub upn: &'a str,
    pub display_name: &'a str,
    pub sip_address: Option<&'a str>,
}

impl<'a> From<&'a app::views::PersonEntry> for Named<'a> {
    fn from(entry: &'a app::views::PersonEntry) -> Self {
        Named {
            upn: &entry.upn,
            display_name: &entry.display_name,
            sip_address: entry.sip_address.as_deref(),
        }
    }
}

/// One JSON object: `upn`, `display_name`, `sip_address`, `eligible` (true, false or null),
/// `verdict`, `reasons` and `checks` (the CLI's lines and the bulk checks' JSON export).
pub fn json<'a>(who: impl Into<Named<'a>>, e: &Eligibility) -> serde_json::Value {
    let who = who.into();
    serde_json::json!({
        "upn": who.upn,
        "display_name": who.display_name,
        "sip_address": who.sip_address,
        "eligible": match e.verdict {
            Verdict::Eligible => Some(true),
            Verdict::NotEligible => Some(false),
            Verdict::Unknown => None,
        },
        "verdict": e.verdict.as_str(),
        "reasons": e.reasons().iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "checks": e.checks.iter().map(check_json).collect::<Vec<_>>(),
    })
}

/// Output formats of `imlink eligibility scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    Csv,
    Json,
}

/// How many people one directory page holds.
const PAGE: usize = 500;

/// Checks everyone in the configured directory (below `base` when given), or the people `csv` names (one identifier per
/// line, first column; blank lines, `#` comments and a header line skipped), and prints each
/// person once. Bad lines are reported on stderr with their line numbers and the rest checked
/// (exit 2 when there were any).
pub async fn scan(
    state: &AppState,
    base: Option<&str>,
    csv: Option<&std::path::Path>,
    format: ScanFormat,
) -> ExitCode {
    let judge = match app::ssr::eligibility::Judge::new(state).await {
        Ok(judge) => judge,
        Err(e) => {
            eprintln!("imlink: {e}");
            return ExitCode::from(UNAVAILABLE);
        }
    };
    let directory = match app::ssr::eligibility::directory(state) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("imlink: {e}");
            return ExitCode::from(UNAVAILABLE);
        }
    };
    let mut printer = Printer::new(format);
    let mut bad_lines = 0usize;
    match csv {
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) => {
                    eprintln!("imlink: cannot read {}: {e}", path.display());
                    return ExitCode::from(BAD_INPUT);
                }
            };
            let mut seen = std::collections::HashSet::new();
            for (number, line) in text.lines().enumerate() {
                let identity = line
                    .split(',')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .trim_matches('"');
                let header = number == 0
                    && ["upn", "identity", "userprincipalname"]
                        .iter()
                        .any(|h| identity.eq_ignore_ascii_case(h));
                if identity.is_empty() || identity.starts_with('#') || header {
                    continue;
                }
                match app::ssr::eligibility::find(state, identity).await {
                    Ok(record) => {
                        if seen.insert(record.entry.upn.to_lowercase()) {
                            printer.print(&record, &judge.judge(&record));
                        }
                    }
                    Err(AppError::Invalid(errors)) => {
                        bad_lines += 1;
                        eprintln!(
                            "{}:{}: {}",
                            path.display(),
                            number + 1,
                            errors.get("identity").unwrap_or("not a valid identifier")
                        );
                    }
                    Err(other) => {
                        eprintln!("imlink: {other}");
                        return ExitCode::from(UNAVAILABLE);
                    }
                }
            }
        }
        None => {
            let mut pages = match directory.people(base, PAGE).await {
                Ok(pages) => pages,
                Err(e) => {
                    eprintln!("imlink: {e}");
                    return ExitCode::from(UNAVAILABLE);
                }
            };
            loop {
                match pages.next().await {
                    Ok(Some(records)) => {
                        for record in &records {
                            printer.print(record, &judge.judge(record));
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        eprintln!("imlink: {e}");
                        return ExitCode::from(UNAVAILABLE);
                    }
                }
            }
        }
    }
    eprintln!("{}", printer.summary());
    ExitCode::from(if bad_lines > 0 { BAD_INPUT } else { ELIGIBLE })
}

/// Prints scan results and counts them.
struct Printer {
    format: ScanFormat,
    counts: [usize; 3],
}

impl Printer {
    fn new(format: ScanFormat) -> Self {
        if format == ScanFormat::Csv {
            println!("{CSV_HEADER}");
        }
        Printer {
            format,
            counts: [0; 3],
        }
    }

    fn print(&mut self, record: &Record, e: &Eligibility) {
        self.counts[match e.verdict {
            Verdict::Eligible => 0,
            Verdict::NotEligible => 1,
            Verdict::Unknown => 2,
        }] += 1;
        match self.format {
            ScanFormat::Json => println!("{}", json(&record.entry, e)),
            ScanFormat::Csv => println!("{}", csv_row(&record.entry.upn, e)),
        }
    }

    fn summary(&self) -> String {
        let [eligible, not, unknown] = self.counts;
        format!(
            "checked {}: {eligible} eligible, {not} not eligible, {unknown} unknown",
            eligible + not + unknown
        )
    }
}

/// The header of the CSV lines.
pub const CSV_HEADER: &str = "upn,eligible,reasons";

/// One CSV line: `upn,eligible,reasons` (true, false or empty for unknown; reasons joined by
/// `;`).
pub fn csv_row(upn: &str, e: &Eligibility) -> String {
    let eligible = match e.verdict {
        Verdict::Eligible => "true",
        Verdict::NotEligible => "false",
        Verdict::Unknown => "",
    };
    let reasons: Vec<&str> = e.reasons().iter().map(|c| c.as_str()).collect();
    format!(
        "{},{eligible},{}",
        csv_field(upn),
        csv_field(&reasons.join(";"))
    )
}

/// One CSV field (RFC 4180 quoting); text a spreadsheet would take as a formula (`=`, `+`,
/// `-`, `@`, tab, carriage return first) is prefixed with `'`.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(
            csv_field("user0001@litwareinc.com"),
            "user0001@litwareinc.com"
        );
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
    }
}
