//! Eligibility checks: the one owner of `eligibility_checks`. Looks a person up in the
//! configured directory, judges them with the rules ([`crate::procedure::eligibility`]) against
//! the environment facts and the sites integrated so far, and stores each check with its audit
//! event in one transaction.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::audit::{self, AuditRecord};
use super::db::begin_write;
use super::directory::{Directory, DirectoryError, Record};
use super::entities::eligibility_checks;
use super::state::AppState;
use crate::domain::roles::{CurrentUser, Role};
use crate::error::AppError;
use crate::procedure::eligibility::{self, Check, Context, Eligibility};
use crate::views::{CheckSummary, EligibilityView, PersonEntry, PersonView};

pub mod scans;

pub use crate::domain::roles::LOOKS_UP_PEOPLE as ROLES;

/// The OWA mailbox policy of mailboxes that have none assigned (Exchange 2013 creates it as
/// `Default`).
pub const DEFAULT_OWA_POLICY: &str = "Default";

/// The longest identifier or search text accepted.
const MAX_QUERY: usize = 256;
/// How many suggestions a search returns.
pub const SUGGESTIONS: usize = 10;
/// How many checks a person's history shows.
const HISTORY: u64 = 50;

/// The identifier or search text people typed, checked: trimmed, not empty, at most 256
/// characters, no control characters. Errors name the `identity` field and keep the text.
pub fn query(text: &str) -> Result<String, AppError> {
    let trimmed = text.trim();
    let problem = if trimmed.is_empty() {
        Some("Enter a user principal name, SIP or e-mail address, or account name.".to_string())
    } else if trimmed.chars().count() > MAX_QUERY {
        Some(format!("Use at most {MAX_QUERY} characters."))
    } else if trimmed.chars().any(char::is_control) {
        Some("Remove the control characters (tabs, line breaks).".to_string())
    } else {
        None
    };
    match problem {
        Some(message) => Err(AppError::invalid_field(
            "identity",
            message,
            [("identity", text.to_string())],
        )),
        None => Ok(trimmed.to_string()),
    }
}

/// The configured directory, or why there is none.
pub fn directory(state: &AppState) -> Result<&dyn Directory, AppError> {
    state.settings.directory.as_deref().ok_or_else(|| {
        AppError::Unavailable("No directory is configured for this environment.".into())
    })
}

/// A directory fault as people see it: a field message for who was asked about, the
/// directory being unavailable otherwise.
fn refused(error: DirectoryError, typed: &str) -> AppError {
    match error {
        DirectoryError::NotFound(_) | DirectoryError::Ambiguous { .. } => AppError::invalid_field(
            "identity",
            error.to_string(),
            [("identity", typed.to_string())],
        ),
        DirectoryError::Unavailable(_) => {
            tracing::warn!(error = %error, "directory unavailable");
            AppError::Unavailable(error.to_string())
        }
    }
}

/// Suggestions for what `user` is typing.
pub async fn search(
    state: &AppState,
    user: &CurrentUser,
    text: &str,
) -> Result<Vec<PersonEntry>, AppError> {
    authorize(user)?;
    let text = query(text)?;
    directory(state)?
        .search(&text, SUGGESTIONS)
        .await
        .map_err(|e| refused(e, &text))
}

fn authorize(user: &CurrentUser) -> Result<(), AppError> {
    if user.has_any(&ROLES) {
        Ok(())
    } else {
        Err(AppError::Forbidden(Role::needed(&ROLES)))
    }
}

/// What people are judged against: fresh environment facts and the integrated sites.
pub struct Judge {
    facts: crate::procedure::facts::Facts,
    integrated: Vec<String>,
}

impl Judge {
    /// Reads the facts and the integrated sites once, for judging many people.
    pub async fn new(state: &AppState) -> Result<Judge, AppError> {
        Judge::load(&state.db, &state.settings).await
    }

    /// [`Judge::new`] from a database and settings (the worker's).
    pub async fn load(
        db: &sea_orm::DatabaseConnection,
        settings: &super::state::Settings,
    ) -> Result<Judge, AppError> {
        Ok(Judge {
            facts: settings.environment.facts().await?,
            integrated: super::runs::integrated_sites(db).await?,
        })
    }

    /// The SiteId of the Lync site whose registrar pool `record` is homed on, when the facts
    /// know it.
    pub fn site_of(&self, record: &Record) -> Option<&str> {
        let crate::procedure::eligibility::Read::Value(pool) = &record.person.registrar_pool else {
            return None;
        };
        self.facts.site_of_pool(pool).map(|s| s.site_id.as_str())
    }

    /// `record`'s eligibility.
    pub fn judge(&self, record: &Record) -> Eligibility {
        eligibility::evaluate(
            &record.person,
            &Context {
                facts: &self.facts,
                default_owa_policy: DEFAULT_OWA_POLICY,
                integrated_sites: &self.integrated,
            },
        )
    }
}

/// The one person `identity` names in the configured directory; bad text, nobody and several
/// people are errors on the `identity` field.
pub async fn find(state: &AppState, identity: &str) -> Result<Record, AppError> {
    let identity = query(identity)?;
    directory(state)?
        .find(&identity)
        .await
        .map_err(|e| refused(e, &identity))
}

/// Looks `identity` up and judges them, without storing anything (the CLI's check).
pub async fn judge(state: &AppState, identity: &str) -> Result<(Record, Eligibility), AppError> {
    let record = find(state, identity).await?;
    // Fresh facts: "check again" right after a fix must see it.
    let eligibility = Judge::new(state).await?.judge(&record);
    Ok((record, eligibility))
}

/// Checks `identity` for `user` and stores the check with its audit event; returns the
/// stored check's id.
pub async fn check(state: &AppState, user: &CurrentUser, identity: &str) -> Result<i64, AppError> {
    authorize(user)?;
    let (record, eligibility) = judge(state, identity).await?;
    let source = directory(state)?.source();
    let reasons: Vec<&str> = eligibility.reasons().iter().map(|c| c.as_str()).collect();
    let txn = begin_write(&state.db).await?;
    let row = eligibility_checks::ActiveModel {
        upn: Set(record.entry.upn.to_lowercase()),
        display_name: Set(record.entry.display_name.clone()),
        source: Set(source),
        verdict: Set(eligibility.verdict),
        reasons: Set(reasons.join(",")),
        checks_json: Set(serde_json::to_string(&eligibility.checks).map_err(|e| {
            tracing::error!(error = %e, "eligibility checks did not serialize");
            AppError::Internal
        })?),
        asked_by: Set(user.username.clone()),
        asked_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::append(
        &txn,
        AuditRecord::ok(&user.username, "eligibility.check")
            .entity("person", &row.upn)
            .after(serde_json::json!({
                "check": row.id,
                "source": source.as_str(),
                "verdict": eligibility.verdict.as_str(),
                "reasons": reasons,
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(row.id)
}

fn checks_of(row: &eligibility_checks::Model) -> Vec<Check> {
    serde_json::from_str(&row.checks_json)
        .map_err(|e| tracing::error!(check = row.id, error = %e, "stored checks are unreadable"))
        .unwrap_or_default()
}

fn summary(row: &eligibility_checks::Model) -> CheckSummary {
    CheckSummary {
        id: row.id,
        verdict: row.verdict,
        reasons: row
            .reasons
            .split(',')
            .filter_map(|r| {
                eligibility::Code::ALL
                    .iter()
                    .copied()
                    .find(|c| c.as_str() == r)
            })
            .collect(),
        asked_by: row.asked_by.clone(),
        asked_at: row.asked_at,
    }
}

/// Stored check `id` for `user`: the check, what changed since the person's check before it,
/// and the person's history.
pub async fn view(state: &AppState, user: &CurrentUser, id: i64) -> Result<PersonView, AppError> {
    authorize(user)?;
    let row = eligibility_checks::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let history = eligibility_checks::Entity::find()
        .filter(eligibility_checks::Column::Upn.eq(&row.upn))
        .order_by_desc(eligibility_checks::Column::Id)
        .limit(HISTORY)
        .all(&state.db)
        .await?;
    let checks = checks_of(&row);
    let previous = eligibility_checks::Entity::find()
        .filter(eligibility_checks::Column::Upn.eq(&row.upn))
        .filter(eligibility_checks::Column::Id.lt(row.id))
        .order_by_desc(eligibility_checks::Column::Id)
        .one(&state.db)
        .await?;
    Ok(PersonView {
        changes: previous.map(|p| eligibility::changes(&checks_of(&p), &checks)),
        history: history.iter().map(summary).collect(),
        can_simulate: matches!(
            state.settings.environment,
            super::environment::Environment::Lab(_)
        ) && row.source == super::directory::Source::Lab,
        check: EligibilityView {
            id: row.id,
            upn: row.upn.clone(),
            display_name: row.display_name.clone(),
            source: row.source.as_str().to_string(),
            verdict: row.verdict,
            checks,
            asked_by: row.asked_by.clone(),
            asked_at: row.asked_at,
        },
    })
}
