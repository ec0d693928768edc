//! The append-only, hash-chained audit trail.
//!
//! Each event stores `prev_hash` (the previous event's hash) and
//! `hash = SHA-256(prev_hash ‖ canonical JSON of the event)`. An event is appended only inside
//! the transaction of the change it records ([`append`] takes a transaction, never a bare
//! connection); appenders first bump the single `audit_head` row, which serializes them on every
//! backend (a row lock on PostgreSQL, the write lock of `BEGIN IMMEDIATE` on SQLite), so the
//! chain has no forks or gaps, and an event is never kept for a change that was rolled back.

use chrono::{SubsecRound, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::entities::{audit_events, audit_head};

pub mod read;

/// The hash the first event chains from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether the recorded action happened or was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
        }
    }
}

/// An event to append.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub actor: String,
    pub action: String,
    pub outcome: Outcome,
    pub entity: Option<(&'static str, String)>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub detail: Option<String>,
}

impl AuditRecord {
    /// A successful action by `actor`.
    pub fn ok(actor: &str, action: &str) -> Self {
        AuditRecord {
            actor: actor.to_string(),
            action: action.to_string(),
            outcome: Outcome::Ok,
            entity: None,
            before: None,
            after: None,
            detail: None,
        }
    }

    /// A refused action by `actor`, with the reason given to them.
    pub fn denied(actor: &str, action: &str, reason: &str) -> Self {
        AuditRecord {
            outcome: Outcome::Denied,
            detail: Some(reason.to_string()),
            ..AuditRecord::ok(actor, action)
        }
    }

    pub fn entity(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.entity = Some((kind, id.to_string()));
        self
    }

    pub fn before(mut self, value: Value) -> Self {
        self.before = Some(value);
        self
    }

    pub fn after(mut self, value: Value) -> Self {
        self.after = Some(value);
        self
    }

    pub fn detail(mut self, text: impl Into<String>) -> Self {
        self.detail = Some(text.into());
        self
    }
}

/// Appends `record` inside the caller's transaction (the one that makes the change it records)
/// and returns its sequence number.
pub async fn append(db: &DatabaseTransaction, record: AuditRecord) -> Result<i64, DbErr> {
    audit_head::Entity::update_many()
        .col_expr(
            audit_head::Column::Seq,
            Expr::col(audit_head::Column::Seq).add(1),
        )
        .filter(audit_head::Column::Id.eq(1))
        .exec(db)
        .await?;
    let head = audit_head::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit_head".into()))?;

    let event = audit_events::Model {
        id: head.seq,
        occurred_at: Utc::now().trunc_subsecs(6),
        actor: record.actor,
        action: record.action,
        outcome: record.outcome.as_str().to_string(),
        entity_type: record.entity.as_ref().map(|(k, _)| k.to_string()),
        entity_id: record.entity.map(|(_, id)| id),
        before: record.before.map(|v| canonical_json(&v)),
        after: record.after.map(|v| canonical_json(&v)),
        detail: record.detail,
        prev_hash: head.last_hash,
        hash: String::new(),
    };
    let hash = event_hash(&event);
    let seq = event.id;
    audit_events::Entity::insert(audit_events::ActiveModel {
        hash: Set(hash.clone()),
        ..active(event)
    })
    .exec_without_returning(db)
    .await?;
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::LastHash, Expr::value(hash))
        .filter(audit_head::Column::Id.eq(1))
        .exec(db)
        .await?;
    Ok(seq)
}

fn active(e: audit_events::Model) -> audit_events::ActiveModel {
    audit_events::ActiveModel {
        id: Set(e.id),
        occurred_at: Set(e.occurred_at),
        actor: Set(e.actor),
        action: Set(e.action),
        outcome: Set(e.outcome),
        entity_type: Set(e.entity_type),
        entity_id: Set(e.entity_id),
        before: Set(e.before),
        after: Set(e.after),
        detail: Set(e.detail),
        prev_hash: Set(e.prev_hash),
        hash: Set(e.hash),
    }
}

/// `SHA-256(prev_hash ‖ canonical JSON of every other column)`, hex-encoded.
pub fn event_hash(e: &audit_events::Model) -> String {
    let body = json!({
        "id": e.id,
        "occurred_at": e.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "actor": e.actor,
        "action": e.action,
        "outcome": e.outcome,
        "entity_type": e.entity_type,
        "entity_id": e.entity_id,
        "before": e.before,
        "after": e.after,
        "detail": e.detail,
    });
    let mut hasher = Sha256::new();
    hasher.update(e.prev_hash.as_bytes());
    hasher.update(canonical_json(&body).as_bytes());
    hex::encode(hasher.finalize())
}

/// JSON with object keys sorted at every level and no insignificant whitespace.
pub fn canonical_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&map[k]));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    // serde_json's Map keeps insertion order only with `preserve_order`; inserting sorted
    // keys gives the same text either way.
    sorted(value).to_string()
}

/// The first place the chain is broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

/// The result of walking the whole chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    pub events: i64,
    pub head_hash: String,
    pub broken: Option<BrokenLink>,
}

/// Walks every event in order, re-hashing each, and names the first broken link.
pub async fn verify(db: &DatabaseConnection) -> Result<ChainReport, DbErr> {
    const PAGE: u64 = 1000;
    let mut expected_prev = GENESIS_HASH.to_string();
    let mut expected_seq = 1i64;
    let mut count = 0i64;
    let broken = |seq: i64, reason: String, count: i64, head: &str| ChainReport {
        events: count,
        head_hash: head.to_string(),
        broken: Some(BrokenLink { seq, reason }),
    };
    loop {
        let page = audit_events::Entity::find()
            .filter(audit_events::Column::Id.gte(expected_seq))
            .order_by_asc(audit_events::Column::Id)
            .limit(PAGE)
            .all(db)
            .await?;
        let last_page = (page.len() as u64) < PAGE;
        for event in page {
            if event.id != expected_seq {
                return Ok(broken(
                    expected_seq,
                    format!(
                        "event #{expected_seq} is missing (the next one is #{})",
                        event.id
                    ),
                    count,
                    &expected_prev,
                ));
            }
            if event.prev_hash != expected_prev {
                return Ok(broken(
                    event.id,
                    format!(
                        "event #{} does not chain to the event before it (prev_hash {} ≠ {})",
                        event.id, event.prev_hash, expected_prev
                    ),
                    count,
                    &expected_prev,
                ));
            }
            let recomputed = event_hash(&event);
            if recomputed != event.hash {
                return Ok(broken(
                    event.id,
                    format!(
                        "event #{} was altered: its contents hash to {recomputed}, but it records {}",
                        event.id, event.hash
                    ),
                    count,
                    &expected_prev,
                ));
            }
            expected_prev = event.hash;
            expected_seq += 1;
            count += 1;
        }
        if last_page {
            break;
        }
    }
    let head = audit_head::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit_head".into()))?;
    if head.seq != count || head.last_hash != expected_prev {
        return Ok(broken(
            count + 1,
            format!(
                "the chain head records {} events ending in {}, but {count} events end in {expected_prev} \
                 (events were removed from the end)",
                head.seq, head.last_hash
            ),
            count,
            &expected_prev,
        ));
    }
    Ok(ChainReport {
        events: count,
        head_hash: expected_prev,
        broken: None,
    })
}

/// Sorted-key JSON of a value that is already serializable.
pub fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = json!({"b": 1, "a": {"z": [ {"y": 1, "x": 2} ], "c": null}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":null,"z":[{"x":2,"y":1}]},"b":1}"#
        );
    }

    #[test]
    fn hash_covers_every_column_and_the_previous_hash() {
        let e = audit_events::Model {
            id: 1,
            occurred_at: DateTime::<Utc>::from_timestamp(1_800_000_000, 123_456_000).unwrap(),
            actor: "alice".into(),
            action: "request.create".into(),
            outcome: "ok".into(),
            entity_type: Some("change_request".into()),
            entity_id: Some("1".into()),
            before: None,
            after: Some("{}".into()),
            detail: None,
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        };
        let h = event_hash(&e);
        assert_eq!(h.len(), 64);
        let changed = [
            audit_events::Model {
                actor: "mallory".into(),
                ..e.clone()
            },
            audit_events::Model {
                after: Some("{\"x\":1}".into()),
                ..e.clone()
            },
            audit_events::Model {
                prev_hash: "1".repeat(64),
                ..e.clone()
            },
            audit_events::Model {
                occurred_at: e.occurred_at + chrono::Duration::microseconds(1),
                ..e.clone()
            },
        ];
        for c in changed {
            assert_ne!(event_hash(&c), h, "{c:?}");
        }
    }
}
