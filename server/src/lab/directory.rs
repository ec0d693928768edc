//! The lab's directory: its people with the Active Directory, Exchange and Lync attributes the
//! eligibility rules read, the mailbox databases their mailboxes live in, and the read-only
//! cmdlets that list them (`Get-CsUser`, `Get-Mailbox`, `Get-CASMailbox`,
//! `Get-MailboxDatabase`) with their documented properties and the parameters the PowerShell
//! directory source uses.

use serde::{Deserialize, Serialize};

use super::exchange::{identity, named};
use super::interpreter::{Invocation, PsError};
use super::value::{Object, Value};
use app::procedure::eligibility::{Person, Read};
use app::procedure::facts::same_name;

/// A mailbox's kind, as `RecipientTypeDetails` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientType {
    UserMailbox,
    LinkedMailbox,
    SharedMailbox,
    RoomMailbox,
    EquipmentMailbox,
}

impl RecipientType {
    /// `msExchRecipientTypeDetails` as Active Directory stores it.
    pub fn code(self) -> u64 {
        match self {
            RecipientType::UserMailbox => 1,
            RecipientType::LinkedMailbox => 2,
            RecipientType::SharedMailbox => 4,
            RecipientType::RoomMailbox => 16,
            RecipientType::EquipmentMailbox => 32,
        }
    }

    fn name(self) -> &'static str {
        match self {
            RecipientType::UserMailbox => "UserMailbox",
            RecipientType::LinkedMailbox => "LinkedMailbox",
            RecipientType::SharedMailbox => "SharedMailbox",
            RecipientType::RoomMailbox => "RoomMailbox",
            RecipientType::EquipmentMailbox => "EquipmentMailbox",
        }
    }
}

/// A person's mailbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mailbox {
    /// The mailbox database's name.
    pub database: String,
    pub kind: RecipientType,
    /// The OWA mailbox policy assigned to the mailbox; `None`: the default policy.
    pub owa_policy: Option<String>,
}

/// A person's Lync account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LyncAccount {
    /// `msRTCSIP-UserEnabled`.
    pub enabled: bool,
    /// `msRTCSIP-PrimaryUserAddress`: `sip:…`.
    pub sip_address: String,
    /// The registrar pool the user is homed on.
    pub registrar_pool: Option<String>,
}

/// A person in the lab's directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub upn: String,
    pub display_name: String,
    pub sam_account_name: String,
    /// `userAccountControl` has ACCOUNTDISABLE.
    pub disabled: bool,
    pub mailbox: Option<Mailbox>,
    pub lync: Option<LyncAccount>,
    /// `proxyAddresses`: `SMTP:…`, `smtp:…`, `SIP:…`.
    pub proxy_addresses: Vec<String>,
}

/// A mailbox database and the server that holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailboxDatabase {
    pub name: String,
    /// The server's FQDN.
    pub server: String,
    /// The server's `AdminDisplayVersion`.
    pub admin_display_version: String,
}

/// The distinguished name of the lab's domain.
const DOMAIN_DN: &str = "DC=litwareinc,DC=com";
/// The lab's Exchange 2010 database, on a server the Exchange 2013 cmdlets of the lab do not
/// administer (organizations in coexistence keep such servers while mailboxes move).
const LEGACY_DATABASE: &str = "DB2010-01";
/// The lab's Exchange 2013 database.
const DATABASE: &str = "DB01";

/// The mailbox databases of an organization whose first Exchange 2013 Mailbox server is
/// `server_2013`, with one Exchange 2010 database beside it.
pub fn databases(server_2013: &str) -> Vec<MailboxDatabase> {
    vec![
        MailboxDatabase {
            name: DATABASE.into(),
            server: server_2013.into(),
            admin_display_version: "Version 15.0 (Build 1497.2)".into(),
        },
        MailboxDatabase {
            name: LEGACY_DATABASE.into(),
            server: "atl-ex2010-001.litwareinc.com".into(),
            admin_display_version: "Version 14.3 (Build 123.4)".into(),
        },
    ]
}

/// Spreads the Exchange 2013 mailboxes over one database per server in `servers_2013` (the
/// first keeps the existing one): person *i* is in the database of server *i* mod *n*, so
/// each back end serves the sign-ins of its own people.
pub fn spread_databases(
    users: &mut [User],
    databases: &mut Vec<MailboxDatabase>,
    servers_2013: &[&str],
) {
    if servers_2013.len() < 2 {
        return;
    }
    let version = "Version 15.0 (Build 1497.2)";
    for (n, server) in servers_2013.iter().enumerate().skip(1) {
        databases.push(MailboxDatabase {
            name: format!("DB{:02}", n + 1),
            server: server.to_string(),
            admin_display_version: version.into(),
        });
    }
    for (i, user) in users.iter_mut().enumerate() {
        if let Some(m) = user.mailbox.as_mut().filter(|m| m.database == DATABASE) {
            let n = (i + 1) % servers_2013.len();
            if n > 0 {
                m.database = format!("DB{:02}", n + 1);
            }
        }
    }
}

/// Homes every `every`-th Lync-enabled person on `pool` (a Lync Server 2010 pool in
/// coexistence).
pub fn home_some_on(users: &mut [User], pool: &str, every: usize) {
    for (i, user) in users.iter_mut().enumerate() {
        if (i + 1) % every == 0
            && let Some(l) = user.lync.as_mut().filter(|l| l.registrar_pool.is_some())
        {
            l.registrar_pool = Some(pool.to_string());
        }
    }
}

/// The lab's people: `count` of them, of mixed eligibility, the same every time, homed on
/// `registrar_pool`. Which person has which fault follows from their number (README, "The
/// lab's people").
pub fn users(count: usize, registrar_pool: &str) -> Vec<User> {
    (1..=count)
        .map(|i| {
            let name = format!("user{i:04}");
            let upn = format!("{name}@litwareinc.com");
            let kind = match i {
                _ if i % 41 == 0 => RecipientType::SharedMailbox,
                _ if i % 47 == 0 => RecipientType::RoomMailbox,
                _ if i % 53 == 0 => RecipientType::EquipmentMailbox,
                _ => RecipientType::UserMailbox,
            };
            let mailbox = (i % 29 != 0).then(|| Mailbox {
                database: if i % 13 == 0 {
                    LEGACY_DATABASE
                } else {
                    DATABASE
                }
                .into(),
                kind,
                owa_policy: (i % 5 == 0).then(|| "Executives".to_string()),
            });
            let sip_address = format!("sip:{upn}");
            let mut proxy_addresses = vec![format!("SMTP:{upn}")];
            match i {
                _ if i % 17 == 0 => {}
                _ if i % 19 == 0 => proxy_addresses.push(format!("SIP:old.{upn}")),
                _ if i % 3 == 0 => proxy_addresses.push(format!("sip:{}", upn.to_uppercase())),
                _ => proxy_addresses.push(format!("SIP:{upn}")),
            }
            User {
                display_name: format!("User {i:04}"),
                sam_account_name: name,
                upn,
                disabled: i % 37 == 0,
                mailbox,
                lync: (i % 31 != 0).then(|| LyncAccount {
                    enabled: i % 10 != 0,
                    sip_address,
                    registrar_pool: (i % 10 != 0).then(|| registrar_pool.to_string()),
                }),
                proxy_addresses,
            }
        })
        .collect()
}

impl User {
    /// The user's distinguished name.
    pub fn dn(&self) -> String {
        format!("CN={},CN=Users,{DOMAIN_DN}", self.display_name)
    }

    /// The primary SMTP address.
    pub fn mail(&self) -> Option<&str> {
        self.proxy_addresses
            .iter()
            .find_map(|p| p.strip_prefix("SMTP:"))
    }

    /// Whether `query` names this person: their UPN, SIP or e-mail address, or
    /// sAMAccountName, compared without regard to case.
    pub fn is(&self, query: &str) -> bool {
        let query = query.trim();
        let query = query
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("sip:"))
            .map_or(query, |_| &query[4..]);
        same_name(&self.upn, query)
            || same_name(&self.sam_account_name, query)
            || self.mail().is_some_and(|m| same_name(m, query))
            || self
                .lync
                .as_ref()
                .is_some_and(|l| same_name(l.sip_address.get(4..).unwrap_or_default(), query))
    }

    /// Whether one of the person's names (UPN, SIP or e-mail address, sAMAccountName, display
    /// name) begins with `prefix`, compared without regard to case.
    pub fn starts_with(&self, prefix: &str) -> bool {
        let prefix = prefix.trim().to_lowercase();
        let prefix = prefix.strip_prefix("sip:").unwrap_or(&prefix);
        let sip = self
            .lync
            .as_ref()
            .and_then(|l| l.sip_address.get(4..))
            .unwrap_or_default();
        [
            self.upn.as_str(),
            self.sam_account_name.as_str(),
            self.display_name.as_str(),
            self.mail().unwrap_or_default(),
            sip,
        ]
        .iter()
        .any(|name| !name.is_empty() && name.to_lowercase().starts_with(prefix))
    }

    /// How lists and suggestions name the person.
    pub fn entry(&self) -> app::views::PersonEntry {
        app::views::PersonEntry {
            upn: self.upn.clone(),
            display_name: self.display_name.clone(),
            sam_account_name: self.sam_account_name.clone(),
            sip_address: self.lync.as_ref().map(|l| l.sip_address.clone()),
            mail: self.mail().map(str::to_string),
        }
    }

    /// How the directory answers for the person: their names and their record.
    pub fn record(&self, databases: &[MailboxDatabase]) -> app::ssr::directory::Record {
        app::ssr::directory::Record {
            entry: self.entry(),
            person: self.person(databases),
        }
    }

    /// The person as Active Directory describes them, for the eligibility rules.
    pub fn person(&self, databases: &[MailboxDatabase]) -> Person {
        let database = self
            .mailbox
            .as_ref()
            .map(|m| databases.iter().find(|d| same_name(&d.name, &m.database)));
        Person {
            upn: self.upn.clone(),
            user_account_control: Read::Value(if self.disabled { 0x202 } else { 0x200 }),
            home_mdb: match &self.mailbox {
                Some(m) => Read::Value(database_dn(&m.database)),
                None => Read::Absent,
            },
            recipient_type_details: match &self.mailbox {
                Some(m) => Read::Value(m.kind.code()),
                None => Read::Absent,
            },
            mailbox_server_version: match database {
                Some(Some(d)) => Read::Value(d.admin_display_version.clone()),
                Some(None) => Read::Unknown("the mailbox database is not in the directory".into()),
                None => Read::Absent,
            },
            lync_enabled: match &self.lync {
                Some(l) => Read::Value(l.enabled),
                None => Read::Absent,
            },
            primary_user_address: match &self.lync {
                Some(l) => Read::Value(l.sip_address.clone()),
                None => Read::Absent,
            },
            registrar_pool: match self.lync.as_ref().and_then(|l| l.registrar_pool.clone()) {
                Some(pool) => Read::Value(pool),
                None => Read::Absent,
            },
            proxy_addresses: Read::Value(self.proxy_addresses.clone()),
            owa_policy: match self.mailbox.as_ref().and_then(|m| m.owa_policy.clone()) {
                Some(policy) => Read::Value(policy),
                None => Read::Absent,
            },
        }
    }
}

fn database_dn(name: &str) -> String {
    format!(
        "CN={name},CN=Databases,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,CN=Litware,CN=Microsoft Exchange,CN=Services,CN=Configuration,{DOMAIN_DN}"
    )
}

/// The first label of an FQDN, upper case, as Exchange shows server names.
fn short_name(fqdn: &str) -> String {
    fqdn.split('.').next().unwrap_or(fqdn).to_ascii_uppercase()
}

/// The directory's people and databases, as the cmdlets see them.
pub struct Directory<'a> {
    pub users: &'a [User],
    pub databases: &'a [MailboxDatabase],
}

impl Directory<'_> {
    /// Runs `call` if it is one of the directory's cmdlets.
    pub fn invoke(&self, call: &Invocation) -> Option<Result<Vec<Value>, PsError>> {
        let name = call.name.to_ascii_lowercase();
        Some(match name.as_str() {
            "get-csuser" => self.select(call, |u| u.lync.is_some(), Self::cs_user),
            "get-mailbox" => self.select(call, |u| u.mailbox.is_some(), |_, u| self.mailbox(u)),
            "get-casmailbox" => self.select(call, |u| u.mailbox.is_some(), Self::cas_mailbox),
            "get-mailboxdatabase" => Ok(self.get_databases(call)),
            _ => return None,
        })
    }

    /// The people `call` asks for, of those `has` keeps, as `object`: `-Identity` or all;
    /// below `-OrganizationalUnit` (`-OU` for Lync); matching `-Anr` (ambiguous name
    /// resolution: a prefix of one of their names); with a mailbox in `-Database`; at most
    /// `-ResultSize` (a number or `Unlimited`).
    fn select(
        &self,
        call: &Invocation,
        has: impl Fn(&User) -> bool,
        object: impl Fn(&Self, &User) -> Value,
    ) -> Result<Vec<Value>, PsError> {
        let wanted = identity(call);
        let unit = named(call, "OrganizationalUnit")
            .or_else(|| named(call, "OU"))
            .map(|v| format!(",{v}").to_lowercase());
        let anr = named(call, "Anr").map(|v| v.to_string());
        let database = named(call, "Database").map(|v| v.to_string());
        let size = match named(call, "ResultSize") {
            Some(Value::Int(n)) => usize::try_from(n).unwrap_or(0),
            _ => usize::MAX,
        };
        let found: Vec<Value> = self
            .users
            .iter()
            .filter(|u| has(u) && wanted.as_deref().is_none_or(|w| u.is(w)))
            .filter(|u| {
                unit.as_deref()
                    .is_none_or(|unit| u.dn().to_lowercase().ends_with(unit))
            })
            .filter(|u| anr.as_deref().is_none_or(|prefix| u.starts_with(prefix)))
            .filter(|u| {
                database.as_deref().is_none_or(|d| {
                    u.mailbox
                        .as_ref()
                        .is_some_and(|m| same_name(&m.database, d))
                })
            })
            .take(size)
            .map(|u| object(self, u))
            .collect();
        match wanted {
            // Like the real cmdlets', a non-terminating error: `-ErrorAction` decides.
            Some(w) if found.is_empty() => Err(PsError::non_terminating(format!(
                "{}: The operation couldn't be performed because object '{w}' couldn't be found.",
                call.name
            ))),
            _ => Ok(found),
        }
    }

    fn cs_user(&self, u: &User) -> Value {
        let lync = u.lync.as_ref();
        Object::new("Microsoft.Rtc.Management.ADConnect.Schema.OCSADUser")
            .with("Identity", u.dn())
            .with("DisplayName", u.display_name.clone())
            .with("SamAccountName", u.sam_account_name.clone())
            .with("UserPrincipalName", u.upn.clone())
            .with("Enabled", lync.is_some_and(|l| l.enabled))
            .with(
                "SipAddress",
                lync.map_or(Value::Null, |l| l.sip_address.clone().into()),
            )
            .with(
                "RegistrarPool",
                lync.and_then(|l| l.registrar_pool.clone())
                    .map_or(Value::Null, Value::from),
            )
            .into()
    }

    fn mailbox(&self, u: &User) -> Value {
        let m = u.mailbox.as_ref().expect("selected for having a mailbox");
        let server = self
            .databases
            .iter()
            .find(|d| same_name(&d.name, &m.database))
            .map_or(String::new(), |d| short_name(&d.server));
        Object::new("Microsoft.Exchange.Data.Directory.Management.Mailbox")
            .with("Identity", u.dn())
            .with("DistinguishedName", u.dn())
            .with("DisplayName", u.display_name.clone())
            .with("SamAccountName", u.sam_account_name.clone())
            .with("UserPrincipalName", u.upn.clone())
            .with("PrimarySmtpAddress", u.mail().unwrap_or_default())
            .with("EmailAddresses", Value::from(u.proxy_addresses.clone()))
            .with("Database", m.database.clone())
            .with("ServerName", server.to_ascii_lowercase())
            .with("RecipientTypeDetails", m.kind.name())
            .with("AccountDisabled", u.disabled)
            .into()
    }

    fn cas_mailbox(&self, u: &User) -> Value {
        let m = u.mailbox.as_ref().expect("selected for having a mailbox");
        Object::new("Microsoft.Exchange.Data.Directory.Management.CASMailbox")
            .with("Identity", u.dn())
            .with("DistinguishedName", u.dn())
            .with("SamAccountName", u.sam_account_name.clone())
            .with("OWAEnabled", true)
            .with(
                "OwaMailboxPolicy",
                m.owa_policy.clone().map_or(Value::Null, Value::from),
            )
            .into()
    }

    fn get_databases(&self, call: &Invocation) -> Vec<Value> {
        let wanted = identity(call);
        let server = named(call, "Server").map(|v| v.to_string());
        // Exchange 2013's cmdlet leaves older versions' databases out unless asked.
        let older_too = named(call, "IncludePreExchange2013").is_some_and(|v| v.is_true());
        self.databases
            .iter()
            .filter(|d| {
                older_too
                    || app::procedure::facts::exchange_version(&d.admin_display_version)
                        .is_some_and(|(major, _)| major >= 15)
            })
            .filter(|d| wanted.as_deref().is_none_or(|w| same_name(&d.name, w)))
            .filter(|d| {
                server
                    .as_deref()
                    .is_none_or(|s| same_name(&d.server, s) || same_name(&short_name(&d.server), s))
            })
            .map(|d| {
                Object::new("Microsoft.Exchange.Data.Directory.SystemConfiguration.MailboxDatabase")
                    .with("Name", d.name.clone())
                    .with("Server", short_name(&d.server))
                    .with("MasterServerOrAvailabilityGroup", short_name(&d.server))
                    .with("AdminDisplayVersion", d.admin_display_version.clone())
                    .into()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_found_by_any_of_their_names() {
        let people = users(40, "pool.litwareinc.com");
        let u = &people[0];
        for query in [
            "user0001@litwareinc.com",
            "USER0001@LITWAREINC.COM",
            "user0001",
            "sip:user0001@litwareinc.com",
            "SIP:User0001@litwareinc.com",
        ] {
            assert!(u.is(query), "{query}");
        }
        assert!(!u.is("user0002"));
        assert!(!u.is("sip:"));
    }
}

#[cfg(test)]
mod cmdlet_tests {
    use crate::lab::LabState;
    use crate::lab::interpreter::Interpreter;
    use crate::lab::value::format_output;

    fn run(script: &str) -> (String, Option<String>) {
        let mut lab = LabState::scenario("litware").unwrap();
        let outcome = Interpreter::new(&mut lab).run(script);
        (
            format_output(&outcome.output),
            outcome.failure.or_else(|| outcome.errors.first().cloned()),
        )
    }

    #[test]
    fn the_directory_cmdlets_answer_with_their_documented_properties() {
        let lines = |out: String| {
            out.lines()
                .map(|l| l.trim().to_string())
                .collect::<Vec<_>>()
        };
        let (out, failure) = run(
            "$u = Get-CsUser -Identity 'sip:user0010@litwareinc.com'; $u.Enabled; $u.SipAddress; $u.UserPrincipalName",
        );
        assert_eq!(failure, None);
        assert_eq!(
            lines(out),
            [
                "False",
                "sip:user0010@litwareinc.com",
                "user0010@litwareinc.com"
            ]
        );
        let (out, _) = run(
            "$m = Get-Mailbox -Identity 'user0013'; $d = Get-MailboxDatabase -Identity $m.Database -IncludePreExchange2013; $m.RecipientTypeDetails; $d.Name; $d.AdminDisplayVersion",
        );
        assert_eq!(
            lines(out),
            ["UserMailbox", "DB2010-01", "Version 14.3 (Build 123.4)"]
        );
        let (out, _) = run(
            "@(Get-MailboxDatabase).Count; @(Get-MailboxDatabase -IncludePreExchange2013).Count",
        );
        let counts: Vec<&str> = out.lines().map(str::trim).collect();
        assert_eq!(
            counts,
            ["1", "2"],
            "Exchange 2010 databases only when asked for"
        );
        let (out, _) = run(
            "Get-Mailbox -ResultSize Unlimited | Sort-Object -Property UserPrincipalName -Descending | Select-Object -Skip 2 -First 3 | ForEach-Object { $_.SamAccountName }",
        );
        assert_eq!(lines(out), ["user1998", "user1997", "user1996"]);
        let (out, _) = run(
            "@(Get-Mailbox -Anr 'User 000' -ResultSize 4).Count; @(Get-CsUser -OU 'CN=Users,DC=litwareinc,DC=com' -ResultSize 3).Count; @(Get-CsUser -OU 'OU=Elsewhere,DC=litwareinc,DC=com').Count",
        );
        let counts: Vec<&str> = out.lines().map(str::trim).collect();
        assert_eq!(counts, ["4", "3", "0"]);
        let (out, _) = run("(Get-CASMailbox -Identity 'user0005').OwaMailboxPolicy");
        assert_eq!(out.trim(), "Executives");
        let (out, _) = run("(Get-Mailbox -Identity 'user0041').RecipientTypeDetails");
        assert_eq!(out.trim(), "SharedMailbox");
        let (out, _) = run("@(Get-CsUser).Count; @(Get-Mailbox).Count");
        let counts: Vec<&str> = out.lines().map(str::trim).collect();
        assert_eq!(counts, ["1936", "1932"]);
        let (out, _) = run("(Get-CsService -Registrar).Version");
        assert_eq!(out.trim(), "6");
        let (_, failure) = run("Get-Mailbox -Identity 'nobody'");
        assert!(
            failure.unwrap().contains("couldn't be found"),
            "an unknown identity is an error"
        );
    }
}
