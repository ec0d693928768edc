//! Who someone is and what they may do.

use serde::{Deserialize, Serialize};

/// A role granted to a person. Roles are independent: an admin is not implicitly an approver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Files integration requests.
    Requester,
    /// Signs off (or rejects) other people's requests.
    Approver,
    /// Reads the full audit trail.
    Auditor,
    /// Administers the portal.
    Admin,
    /// Looks people up and checks why they do or do not get presence in OWA.
    Helpdesk,
}

impl Role {
    /// Every role, in display order.
    pub const ALL: [Role; 5] = [
        Role::Requester,
        Role::Approver,
        Role::Auditor,
        Role::Admin,
        Role::Helpdesk,
    ];

    /// The stable lower-case name used in configuration and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Helpdesk => "helpdesk",
        }
    }

    /// Parses a stored or configured role name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name.trim())
    }

    /// Parses a comma-separated list, ignoring unknown names.
    pub fn parse_list(list: &str) -> Vec<Role> {
        let mut roles: Vec<Role> = list.split(',').filter_map(Role::parse).collect();
        roles.sort();
        roles.dedup();
        roles
    }

    /// Lists roles for people to read: `auditor, admin`.
    pub fn list(roles: &[Role]) -> String {
        roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Why someone without any of `roles` is refused.
    pub fn needed(roles: &[Role]) -> String {
        format!("This needs one of these roles: {}.", Role::list(roles))
    }

    /// Joins roles into the comma-separated stored form.
    pub fn join(roles: &[Role]) -> String {
        roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Who may look people up and check why they do or do not get presence in OWA: helpdesk
/// staff, and anyone who files, approves or administers changes.
pub const LOOKS_UP_PEOPLE: [Role; 4] =
    [Role::Helpdesk, Role::Requester, Role::Approver, Role::Admin];

/// The signed-in person, as pages and server functions see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i32,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
}

impl CurrentUser {
    /// Whether the person holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the person holds any of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }
}

/// What an admin does to a person who uses imlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonAction {
    /// Ends every session the person has open.
    EndSessions,
    /// Refuses the person from their next request on (and ends their sessions).
    Disable,
    /// Lets a disabled person sign in again.
    Enable,
}

impl PersonAction {
    /// The name in forms and in the audit trail (`user.<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            PersonAction::EndSessions => "end_sessions",
            PersonAction::Disable => "disable",
            PersonAction::Enable => "enable",
        }
    }
}

/// An account as a sign-in method presents it: who, and with which roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(
            Role::parse_list("approver, requester,approver,bogus"),
            vec![Role::Requester, Role::Approver]
        );
        assert_eq!(
            Role::join(&[Role::Requester, Role::Admin]),
            "requester,admin"
        );
    }
}
