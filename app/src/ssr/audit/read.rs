//! Reading the trail for pages: one page of the log with its filters, a subject's timeline,
//! and the latest events; each event with its actor's name.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::super::entities::{audit_events, users};
use crate::domain::activity;
use crate::error::AppError;
use crate::views::{AuditEntry, AuditFilter, AuditPage};

/// Events per page of the audit log.
pub const PAGE_SIZE: u64 = 25;

/// One page of the log, newest first. "Who" matches usernames and people's names, in any
/// case and in part; an action filter ending in `.` matches its whole group.
pub async fn page<C: ConnectionTrait>(db: &C, filter: &AuditFilter) -> Result<AuditPage, AppError> {
    let mut query = audit_events::Entity::find().order_by_desc(audit_events::Column::Id);
    let who = filter.actor.trim().to_lowercase();
    if !who.is_empty() {
        let pattern = format!("%{}%", escape_like(&who));
        let named: Vec<String> = users::Entity::find()
            .select_only()
            .column(users::Column::Username)
            .filter(
                Expr::expr(Func::lower(Expr::col(users::Column::DisplayName)))
                    .like(LikeExpr::new(&pattern).escape('\\')),
            )
            .into_tuple()
            .all(db)
            .await?;
        query = query.filter(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(audit_events::Column::Actor)))
                        .like(LikeExpr::new(&pattern).escape('\\')),
                )
                .add(audit_events::Column::Actor.is_in(named)),
        );
    }
    let action = filter.action.trim();
    if activity::is_group(action) {
        query = query.filter(audit_events::Column::Action.starts_with(action));
    } else if !action.is_empty() {
        query = query.filter(audit_events::Column::Action.eq(action));
    }
    let outcome = filter.outcome.trim();
    if !outcome.is_empty() {
        query = query.filter(audit_events::Column::Outcome.eq(outcome));
    }
    let request = filter.request.trim().trim_start_matches('#');
    if !request.is_empty() {
        if request.parse::<u32>().is_err() {
            return Err(AppError::invalid_field(
                "request",
                "Enter a request number, like 12.",
                [("request", filter.request.clone())],
            ));
        }
        query = query
            .filter(audit_events::Column::EntityType.eq(crate::ssr::requests::ENTITY))
            .filter(audit_events::Column::EntityId.eq(request));
    }
    let paginator = query.paginate(db, PAGE_SIZE);
    let total = paginator.num_items().await?;
    let pages = Ord::max(total.div_ceil(PAGE_SIZE), 1) as u32;
    let page = filter.page.clamp(1, pages);
    let rows = paginator.fetch_page(u64::from(page - 1)).await?;
    Ok(AuditPage {
        entries: entries(db, rows).await?,
        total,
        page,
        pages,
    })
}

/// Everything recorded about one subject (`entity`, `id`), oldest first.
pub async fn timeline<C: ConnectionTrait>(
    db: &C,
    entity: &str,
    id: &str,
) -> Result<Vec<AuditEntry>, AppError> {
    let rows = audit_events::Entity::find()
        .filter(audit_events::Column::EntityType.eq(entity))
        .filter(audit_events::Column::EntityId.eq(id))
        .order_by_asc(audit_events::Column::Id)
        .all(db)
        .await?;
    entries(db, rows).await
}

/// The latest `limit` events about subjects of kind `entity`, newest first, leaving out the
/// actions in `except` (too fine-grained for a glance).
pub async fn recent<C: ConnectionTrait>(
    db: &C,
    entity: &str,
    except: &[&str],
    limit: u64,
) -> Result<Vec<AuditEntry>, AppError> {
    let rows = audit_events::Entity::find()
        .filter(audit_events::Column::EntityType.eq(entity))
        .filter(audit_events::Column::Action.is_not_in(except.iter().copied()))
        .order_by_desc(audit_events::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    entries(db, rows).await
}

/// The events as pages show them, each actor named as people know them.
async fn entries<C: ConnectionTrait>(
    db: &C,
    rows: Vec<audit_events::Model>,
) -> Result<Vec<AuditEntry>, AppError> {
    let mut usernames: Vec<&str> = rows.iter().map(|e| e.actor.as_str()).collect();
    usernames.sort_unstable();
    usernames.dedup();
    let names: HashMap<String, String> = users::Entity::find()
        .select_only()
        .column(users::Column::Username)
        .column(users::Column::DisplayName)
        .filter(users::Column::Username.is_in(usernames))
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|e| AuditEntry {
            seq: e.id,
            at: e.occurred_at,
            actor_name: activity::actor_label(&e.actor, names.get(&e.actor).map(String::as_str)),
            actor: e.actor,
            action: e.action,
            outcome: e.outcome,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            before: e.before,
            after: e.after,
            detail: e.detail,
        })
        .collect())
}

/// `text` with LIKE's wildcards taken literally (escaped with `\`).
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
