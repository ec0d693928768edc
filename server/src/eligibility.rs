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
                Format::Json => println!("{}", json(&record, &eligibility)),
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

/// One JSON object: `upn`, `sip_address`, `eligible` (true, false or null), `reasons` and
/// `checks`.
pub fn json(record: &Record, e: &Eligibility) -> serde_json::Value {
    serde_json::json!({
        "upn": record.entry.upn,
        "display_name": record.entry.display_name,
        "sip_address": record.entry.sip_address,
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
