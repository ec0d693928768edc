//! Who an ID token names and which roles their groups give, read from its verified payload
//! with the configured claim names.

use app::domain::roles::{Account, Role};
use serde_json::Value;

/// Which claims name the person, and which groups give which role.
#[derive(Clone, Debug)]
pub struct ClaimMapping {
    pub username: String,
    pub display_name: String,
    pub groups: String,
    /// Each role with the groups (names or ids) that give it.
    pub roles: Vec<(Role, Vec<String>)>,
}

/// What the provider said about the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub display_name: String,
    pub groups: Vec<String>,
}

/// Why an identity could not be read from a verified payload.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("the ID token has no usable {0:?} claim (a non-empty text of at most 256 characters)")]
    NoUsername(String),
    #[error(
        "the provider left the groups out of the ID token (Entra ID's groups overage: the person \
         is in too many groups); emit only the groups assigned to the application"
    )]
    GroupsOverage,
}

/// The longest account or display name accepted.
const NAME_MAX: usize = 256;

impl ClaimMapping {
    /// The identity in `payload` (a verified ID token's claims).
    pub fn identity(&self, payload: &Value) -> Result<Identity, ClaimError> {
        let text = |claim: &str| {
            payload
                .get(claim)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| {
                    !v.is_empty() && v.len() <= NAME_MAX && !v.chars().any(char::is_control)
                })
                .map(str::to_string)
        };
        let username =
            text(&self.username).ok_or_else(|| ClaimError::NoUsername(self.username.clone()))?;
        let display_name = text(&self.display_name).unwrap_or_else(|| username.clone());
        let groups = match payload.get(&self.groups) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ if payload
                .pointer(&format!("/_claim_names/{}", self.groups))
                .is_some() =>
            {
                return Err(ClaimError::GroupsOverage);
            }
            _ => Vec::new(),
        };
        Ok(Identity {
            username,
            display_name,
            groups,
        })
    }

    /// The roles `groups` give (group names compared without regard to ASCII case).
    pub fn roles(&self, groups: &[String]) -> Vec<Role> {
        let mut roles: Vec<Role> = self
            .roles
            .iter()
            .filter(|(_, mapped)| {
                mapped
                    .iter()
                    .any(|m| groups.iter().any(|g| g.eq_ignore_ascii_case(m)))
            })
            .map(|(role, _)| *role)
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }

    /// The account `identity` signs in as; `None` when their groups give no role.
    pub fn account(&self, identity: &Identity) -> Option<Account> {
        let roles = self.roles(&identity.groups);
        (!roles.is_empty()).then(|| Account {
            username: identity.username.clone(),
            display_name: identity.display_name.clone(),
            roles,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping() -> ClaimMapping {
        ClaimMapping {
            username: "preferred_username".into(),
            display_name: "name".into(),
            groups: "groups".into(),
            roles: vec![
                (Role::Approver, vec!["imlink-approvers".into()]),
                (
                    Role::Admin,
                    vec!["9f1c0c2e-admins".into(), "imlink-admins".into()],
                ),
            ],
        }
    }

    #[test]
    fn reads_the_configured_claims_and_maps_groups_to_roles() {
        let m = mapping();
        let id = m
            .identity(&json!({"preferred_username": "bob", "name": "Bob Chen",
                "groups": ["staff", "IMLINK-Approvers", "imlink-admins"]}))
            .unwrap();
        assert_eq!(id.display_name, "Bob Chen");
        let account = m.account(&id).unwrap();
        assert_eq!(account.roles, vec![Role::Approver, Role::Admin]);
        // A single group as text, and no name: the account name is shown.
        let id = m
            .identity(&json!({"preferred_username": "carol", "groups": "imlink-approvers"}))
            .unwrap();
        assert_eq!(id.display_name, "carol");
        assert_eq!(m.account(&id).unwrap().roles, vec![Role::Approver]);
    }

    #[test]
    fn no_mapped_group_means_no_account() {
        let m = mapping();
        for payload in [
            json!({"preferred_username": "dan", "groups": ["staff"]}),
            json!({"preferred_username": "dan", "groups": []}),
            json!({"preferred_username": "dan"}),
            json!({"preferred_username": "dan", "groups": [1, 2]}),
        ] {
            assert_eq!(m.account(&m.identity(&payload).unwrap()), None, "{payload}");
        }
    }

    #[test]
    fn refuses_missing_or_unusable_names_and_a_groups_overage() {
        let m = mapping();
        for payload in [
            json!({"name": "x"}),
            json!({"preferred_username": ""}),
            json!({"preferred_username": 42}),
            json!({"preferred_username": "a\u{0}b"}),
            json!({"preferred_username": "x".repeat(300)}),
        ] {
            assert!(
                matches!(m.identity(&payload), Err(ClaimError::NoUsername(_))),
                "{payload}"
            );
        }
        assert_eq!(
            m.identity(&json!({"preferred_username": "eve",
                "_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {}}})),
            Err(ClaimError::GroupsOverage)
        );
    }
}
