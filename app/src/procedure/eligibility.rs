//! Who gets instant messaging and presence in Outlook Web App, and exactly why not
//! (`lync-owa-integration.md` §1.7 and §1.9, "ARTICLE"): a user needs an Exchange 2013
//! mailbox, must be enabled for Lync Server 2013, and needs a valid SIP proxy address; their
//! OWA mailbox policy must allow IM of type OCS.
//!
//! [`evaluate`] is pure: one person's directory record and the environment facts in, a
//! verdict out, with every check's outcome, the attribute values it looked at, a plain
//! explanation and the fix an admin would run (values quoted as PowerShell literals).

use serde::{Deserialize, Serialize};

use super::facts::{Facts, LYNC_2013, exchange_version, same_name};
use super::powershell::quote;
use crate::domain::stored_enum;

/// A value read from the directory: set, not set, or not readable (why).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Read<T> {
    Value(T),
    /// The attribute is not set.
    Absent,
    /// It could not be read (permissions, a reference that did not resolve, a source fault).
    Unknown(String),
}

impl<T> Read<T> {
    fn as_ref(&self) -> Read<&T> {
        match self {
            Read::Value(v) => Read::Value(v),
            Read::Absent => Read::Absent,
            Read::Unknown(why) => Read::Unknown(why.clone()),
        }
    }

    fn value(&self) -> Option<&T> {
        match self {
            Read::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// One person as the directory describes them (attribute names as Active Directory has them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// `userPrincipalName`.
    pub upn: String,
    /// `userAccountControl`.
    pub user_account_control: Read<u32>,
    /// `homeMDB`: the mailbox database's distinguished name.
    pub home_mdb: Read<String>,
    /// `msExchRecipientTypeDetails` (1: UserMailbox).
    pub recipient_type_details: Read<u64>,
    /// The mailbox server's version (`serialNumber` of the database's `msExchOwningServer`):
    /// `Version 15.0 (Build 1497.2)`.
    pub mailbox_server_version: Read<String>,
    /// `msRTCSIP-UserEnabled`.
    pub lync_enabled: Read<bool>,
    /// `msRTCSIP-PrimaryUserAddress`: `sip:…`.
    pub primary_user_address: Read<String>,
    /// The registrar pool the user is homed on (`msRTCSIP-PrimaryHomeServer`, resolved to the
    /// pool's FQDN).
    pub registrar_pool: Read<String>,
    /// `proxyAddresses`.
    pub proxy_addresses: Read<Vec<String>>,
    /// The user's OWA mailbox policy by name (`msExchOWAPolicy`); absent: the default policy.
    pub owa_policy: Read<String>,
}

/// What a person's record is judged against.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub facts: &'a Facts,
    /// The OWA mailbox policy of users who have none of their own.
    pub default_owa_policy: &'a str,
    /// The Lync sites (their SiteIds) with a successful integration run.
    pub integrated_sites: &'a [String],
}

stored_enum! {
    /// A check's stable code (documented in the README), in the order the checks run.
    pub enum Code {
        AccountDisabled = "account_disabled",
        NoMailbox = "no_mailbox",
        NotUserMailbox = "not_user_mailbox",
        MailboxNotExchange2013 = "mailbox_not_exchange_2013",
        LyncNotEnabled = "lync_not_enabled",
        LyncPoolNot2013 = "lync_pool_not_2013",
        NoSipProxyAddress = "no_sip_proxy_address",
        SipProxyMismatch = "sip_proxy_mismatch",
        OwaPolicyImOff = "owa_policy_im_off",
        SiteNotIntegrated = "site_not_integrated",
    }
}

impl Code {
    /// What the check asks, for people.
    pub fn title(self) -> &'static str {
        match self {
            Code::AccountDisabled => "The account is enabled",
            Code::NoMailbox => "There is a mailbox",
            Code::NotUserMailbox => "It is a user mailbox",
            Code::MailboxNotExchange2013 => "The mailbox is on Exchange 2013",
            Code::LyncNotEnabled => "Enabled for Lync Server 2013",
            Code::LyncPoolNot2013 => "Homed on a Lync Server 2013 registrar pool",
            Code::NoSipProxyAddress => "Has a SIP proxy address",
            Code::SipProxyMismatch => "The SIP proxy address is the Lync SIP address",
            Code::OwaPolicyImOff => "The OWA mailbox policy allows IM with type OCS",
            Code::SiteNotIntegrated => "The user's Lync site is integrated",
        }
    }

    /// Whether a failure only informs, without making the person ineligible.
    pub fn informational(self) -> bool {
        self == Code::SiteNotIntegrated
    }
}

stored_enum! {
    /// How one check came out.
    pub enum Outcome {
        Pass = "pass",
        Fail = "fail",
        /// A fact it needs could not be read: never taken as a pass.
        Unknown = "unknown",
    }
}

/// One check with what it looked at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub code: Code,
    pub outcome: Outcome,
    /// The attribute values it looked at (name, value as read).
    pub evidence: Vec<(String, String)>,
    /// What it means, citing the procedure.
    pub explanation: String,
    /// What an admin runs to fix a failure, when a command does.
    pub fix: Option<String>,
}

stored_enum! {
    /// The verdict for one person.
    pub enum Verdict {
        Eligible = "eligible",
        NotEligible = "not_eligible",
        /// No check failed, but a needed fact could not be read.
        Unknown = "unknown",
    }
}

/// A person's eligibility: the verdict and every check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    pub upn: String,
    pub verdict: Verdict,
    pub checks: Vec<Check>,
}

impl Eligibility {
    /// The codes of the failed checks that make the person ineligible.
    pub fn reasons(&self) -> Vec<Code> {
        self.checks
            .iter()
            .filter(|c| c.outcome == Outcome::Fail && !c.code.informational())
            .map(|c| c.code)
            .collect()
    }
}

/// A check whose outcome differs between two checks of one person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub code: Code,
    /// `None`: the earlier check did not have it.
    pub before: Option<Outcome>,
    pub after: Outcome,
}

/// What changed from `before` to `after` (two checks of one person), in check order.
pub fn changes(before: &[Check], after: &[Check]) -> Vec<Change> {
    after
        .iter()
        .filter_map(|now| {
            let then = before
                .iter()
                .find(|c| c.code == now.code)
                .map(|c| c.outcome);
            (then != Some(now.outcome)).then_some(Change {
                code: now.code,
                before: then,
                after: now.outcome,
            })
        })
        .collect()
}

/// The `ACCOUNTDISABLE` flag of `userAccountControl`.
const ACCOUNTDISABLE: u32 = 0x2;
/// `msExchRecipientTypeDetails` of a user mailbox.
const USER_MAILBOX: u64 = 1;

fn shown<T: std::fmt::Display>(read: &Read<T>) -> String {
    match read {
        Read::Value(v) => v.to_string(),
        Read::Absent => "(not set)".into(),
        Read::Unknown(why) => format!("(unreadable: {why})"),
    }
}

fn sip_addresses(proxies: &[String]) -> Vec<&str> {
    proxies
        .iter()
        .filter(|p| p.len() > 4 && p[..4].eq_ignore_ascii_case("sip:"))
        .map(String::as_str)
        .collect()
}

/// The check of `code` from an outcome decided on `read` (unknown when it could not be read).
struct Builder<'p> {
    person: &'p Person,
    checks: Vec<Check>,
}

impl Builder<'_> {
    fn push(
        &mut self,
        code: Code,
        outcome: Outcome,
        evidence: Vec<(&str, String)>,
        explanation: String,
        fix: Option<String>,
    ) {
        self.checks.push(Check {
            code,
            outcome,
            evidence: evidence
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            explanation,
            fix: (outcome == Outcome::Fail).then_some(fix).flatten(),
        });
    }

    fn identity(&self) -> String {
        quote(&self.person.upn)
    }
}

/// Decides `person`'s eligibility against `context`. A failed check makes the person not
/// eligible; otherwise an unknown one makes the verdict unknown.
pub fn evaluate(person: &Person, context: &Context) -> Eligibility {
    let mut b = Builder {
        person,
        checks: Vec::new(),
    };
    let who = b.identity();
    let facts = context.facts;

    // The account.
    let outcome = match &person.user_account_control {
        Read::Value(uac) if uac & ACCOUNTDISABLE != 0 => Outcome::Fail,
        Read::Value(_) => Outcome::Pass,
        _ => Outcome::Unknown,
    };
    b.push(
        Code::AccountDisabled,
        outcome,
        vec![("userAccountControl", shown(&person.user_account_control))],
        "A disabled account cannot sign in to OWA at all.".into(),
        Some(format!("Enable-ADAccount -Identity {who}")),
    );

    // The mailbox: a user mailbox on Exchange 2013 (ARTICLE §1.7).
    let mailbox = match &person.home_mdb {
        Read::Value(_) => Outcome::Pass,
        Read::Absent => Outcome::Fail,
        Read::Unknown(_) => Outcome::Unknown,
    };
    b.push(
        Code::NoMailbox,
        mailbox,
        vec![("homeMDB", shown(&person.home_mdb))],
        "IM and presence in OWA need an Exchange mailbox; this account has none (ARTICLE §1.7)."
            .into(),
        Some(format!("Enable-Mailbox -Identity {who}")),
    );
    let outcome = match &person.recipient_type_details {
        Read::Value(USER_MAILBOX) => Outcome::Pass,
        Read::Value(_) => Outcome::Fail,
        _ => Outcome::Unknown,
    };
    b.push(
        Code::NotUserMailbox,
        outcome,
        vec![(
            "msExchRecipientTypeDetails",
            shown(&person.recipient_type_details),
        )],
        "Only user mailboxes (msExchRecipientTypeDetails 1) sign in to OWA as themselves; shared, room, equipment and linked mailboxes do not.".into(),
        Some(format!("Set-Mailbox -Identity {who} -Type Regular")),
    );
    let outcome = match &person.mailbox_server_version {
        Read::Value(v) => match exchange_version(v) {
            Some((15, 0)) => Outcome::Pass,
            Some(_) => Outcome::Fail,
            None => Outcome::Unknown,
        },
        _ => Outcome::Unknown,
    };
    b.push(
        Code::MailboxNotExchange2013,
        outcome,
        vec![(
            "msExchOwningServer.serialNumber",
            shown(&person.mailbox_server_version),
        )],
        "The Lync integration of OWA 2013 serves only mailboxes on Exchange 2013 (Version 15.0) servers (ARTICLE §1.7); move the mailbox to an Exchange 2013 database.".into(),
        Some(format!("New-MoveRequest -Identity {who}")),
    );

    // Lync: enabled, homed on a Lync Server 2013 registrar pool.
    let outcome = match &person.lync_enabled {
        Read::Value(true) => Outcome::Pass,
        Read::Value(false) | Read::Absent => Outcome::Fail,
        Read::Unknown(_) => Outcome::Unknown,
    };
    let registrar_2013 = facts
        .lync
        .pools
        .iter()
        .find(|p| p.is_registrar() && p.registrar_version == Some(LYNC_2013))
        .map(|p| p.fqdn.clone());
    let enable = format!(
        "Enable-CsUser -Identity {who} -RegistrarPool {} -SipAddressType UserPrincipalName",
        quote(
            person
                .registrar_pool
                .value()
                .or(registrar_2013.as_ref())
                .map_or("", String::as_str)
        )
    );
    b.push(
        Code::LyncNotEnabled,
        outcome,
        vec![("msRTCSIP-UserEnabled", shown(&person.lync_enabled))],
        "The user must be enabled for Lync Server 2013 (ARTICLE §1.7).".into(),
        Some(enable),
    );
    let pool = person.registrar_pool.as_ref();
    let (outcome, version_seen) = match &pool {
        Read::Value(fqdn) => {
            let known = facts.lync.pools.iter().find(|p| same_name(&p.fqdn, fqdn));
            match known.and_then(|p| p.registrar_version) {
                Some(LYNC_2013) => (Outcome::Pass, LYNC_2013.to_string()),
                Some(other) => (Outcome::Fail, other.to_string()),
                None if known.is_none() => (
                    Outcome::Unknown,
                    "(the pool is not in the environment facts)".into(),
                ),
                None => (
                    Outcome::Unknown,
                    "(the facts do not say the registrar's version)".into(),
                ),
            }
        }
        _ => (Outcome::Unknown, "(no registrar pool)".into()),
    };
    b.push(
        Code::LyncPoolNot2013,
        outcome,
        vec![
            ("msRTCSIP-PrimaryHomeServer", shown(&person.registrar_pool)),
            ("registrar version", version_seen),
        ],
        "The user must be homed on a Lync Server 2013 registrar pool (registrar version 6); imlink never guesses a pool's version it could not read (ARTICLE §1.7).".into(),
        registrar_2013
            .as_ref()
            .map(|target| format!("Move-CsUser -Identity {who} -Target {}", quote(target))),
    );

    // The SIP proxy address (ARTICLE §1.7).
    let primary = person.primary_user_address.value().cloned();
    let sip_to_add = primary
        .clone()
        .unwrap_or_else(|| format!("sip:{}", person.upn));
    let add_sip = format!(
        "Set-Mailbox -Identity {who} -EmailAddresses @{{Add={}}}",
        quote(&sip_to_add)
    );
    let proxies = &person.proxy_addresses;
    let shown_proxies = match proxies {
        Read::Value(list) => list.join(", "),
        Read::Absent => "(not set)".to_string(),
        Read::Unknown(why) => format!("(unreadable: {why})"),
    };
    let outcome = match proxies {
        Read::Value(list) if sip_addresses(list).is_empty() => Outcome::Fail,
        Read::Value(_) => Outcome::Pass,
        Read::Absent => Outcome::Fail,
        Read::Unknown(_) => Outcome::Unknown,
    };
    b.push(
        Code::NoSipProxyAddress,
        outcome,
        vec![("proxyAddresses", shown_proxies.clone())],
        "OWA finds the user's Lync identity through a sip: address among the mailbox's proxy addresses (ARTICLE §1.7).".into(),
        Some(add_sip.clone()),
    );
    let outcome = match (proxies, &person.primary_user_address) {
        (Read::Value(list), Read::Value(primary)) => {
            let sips = sip_addresses(list);
            if sips.is_empty() {
                Outcome::Unknown
            } else if sips.iter().any(|s| same_name(s, primary)) {
                Outcome::Pass
            } else {
                Outcome::Fail
            }
        }
        (Read::Value(list), Read::Absent) if !sip_addresses(list).is_empty() => Outcome::Fail,
        _ => Outcome::Unknown,
    };
    b.push(
        Code::SipProxyMismatch,
        outcome,
        vec![
            ("proxyAddresses", shown_proxies),
            (
                "msRTCSIP-PrimaryUserAddress",
                shown(&person.primary_user_address),
            ),
        ],
        "The sip: proxy address must be the user's Lync SIP address (msRTCSIP-PrimaryUserAddress), or OWA signs in to Lync as nobody (ARTICLE §1.7).".into(),
        Some(add_sip),
    );

    // The OWA mailbox policy (ARTICLE §1.6).
    let policy_name = match &person.owa_policy {
        Read::Value(name) => Read::Value(name.clone()),
        Read::Absent => Read::Value(context.default_owa_policy.to_string()),
        Read::Unknown(why) => Read::Unknown(why.clone()),
    };
    let policy = policy_name.value().and_then(|name| {
        facts
            .exchange
            .owa_mailbox_policies
            .iter()
            .find(|p| same_name(&p.name, name))
    });
    let outcome = match (&policy_name, policy) {
        (Read::Value(_), Some(p)) if p.im_ready() => Outcome::Pass,
        (Read::Value(_), Some(_)) => Outcome::Fail,
        _ => Outcome::Unknown,
    };
    b.push(
        Code::OwaPolicyImOff,
        outcome,
        vec![
            ("msExchOWAPolicy", shown(&policy_name)),
            (
                "InstantMessagingEnabled, InstantMessagingType",
                policy.map_or_else(
                    || "(the policy is not in the environment facts)".to_string(),
                    |p| format!("{}, {}", p.instant_messaging_enabled, p.instant_messaging_type),
                ),
            ),
        ],
        "The user's OWA mailbox policy must enable instant messaging with type OCS (ARTICLE §1.6).".into(),
        policy_name.value().map(|name| {
            format!(
                "Set-OwaMailboxPolicy -Identity {} -InstantMessagingEnabled $True -InstantMessagingType OCS",
                quote(name)
            )
        }),
    );

    // Informational: is the user's site integrated yet?
    let site = pool.value().and_then(|fqdn| facts.site_of_pool(fqdn));
    let outcome = match site {
        Some(site)
            if context
                .integrated_sites
                .iter()
                .any(|s| same_name(s, &site.site_id)) =>
        {
            Outcome::Pass
        }
        Some(_) => Outcome::Fail,
        None => Outcome::Unknown,
    };
    b.push(
        Code::SiteNotIntegrated,
        outcome,
        vec![(
            "site",
            site.map_or_else(|| "(unknown)".into(), |s| s.identity.clone()),
        )],
        format!(
            "Informational: {} has no successful integration run yet, so OWA shows no presence there until one runs.",
            site.map_or("the user's site", |s| s.identity.as_str())
        ),
        None,
    );

    let checks = b.checks;
    let deciding = checks.iter().filter(|c| !c.code.informational());
    let verdict = if deciding.clone().any(|c| c.outcome == Outcome::Fail) {
        Verdict::NotEligible
    } else if deciding.clone().any(|c| c.outcome == Outcome::Unknown) {
        Verdict::Unknown
    } else {
        Verdict::Eligible
    };
    Eligibility {
        upn: person.upn.clone(),
        verdict,
        checks,
    }
}

#[cfg(test)]
mod tests;
