//! People as Lync's and Exchange's own cmdlets describe them (`[directory] source =
//! "powershell"`): `Get-CsUser` in the Lync shell; `Get-Mailbox`, `Get-CASMailbox` and
//! `Get-MailboxDatabase -IncludePreExchange2013` in the Exchange shell; all read-only, run
//! through the configured executor. Output is JSON, read with the probes' tolerance of the
//! shapes Windows PowerShell 5.1 prints.
//!
//! A bulk read takes the Lync users and the mailboxes' OWA policies once, then the mailboxes
//! one database at a time (the batches), then the Lync users who have no mailbox. Only people
//! with a user principal name are read, as the LDAP source's default filter does.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use app::procedure::eligibility::{Person, Read};
use app::procedure::plan::Target;
use app::procedure::powershell::{check_text, quote};
use app::procedure::probes::{list, text};
use app::ssr::directory::{Directory, DirectoryError, Pages, Pending, Record, Source};
use app::views::PersonEntry;

use crate::executor::Executor;

/// The most output one directory script may print (the Lync users of a large organization
/// take about 25 MB per 100,000).
const OUTPUT_LIMIT: usize = 256 * 1024 * 1024;
/// `userAccountControl` as the LDAP source would read it: NORMAL_ACCOUNT, with ACCOUNTDISABLE
/// when `Get-Mailbox` says `AccountDisabled`.
const NORMAL_ACCOUNT: u32 = 0x200;
const ACCOUNTDISABLE: u32 = 0x2;

/// The directory read through the executor's Lync and Exchange shells.
pub struct PowerShellDirectory {
    executor: Executor,
}

/// One `Get-CsUser` result.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LyncUser {
    upn: String,
    #[serde(deserialize_with = "text")]
    display_name: String,
    #[serde(deserialize_with = "text")]
    sam_account_name: String,
    enabled: bool,
    #[serde(deserialize_with = "text")]
    sip_address: String,
    #[serde(deserialize_with = "text")]
    registrar_pool: String,
}

/// One `Get-Mailbox` result (with its `Get-CASMailbox` OWA policy when read together).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Mailbox {
    upn: String,
    #[serde(deserialize_with = "text")]
    distinguished_name: String,
    #[serde(deserialize_with = "text")]
    display_name: String,
    #[serde(deserialize_with = "text")]
    sam_account_name: String,
    #[serde(deserialize_with = "text")]
    primary_smtp_address: String,
    #[serde(deserialize_with = "list")]
    email_addresses: Vec<String>,
    #[serde(deserialize_with = "text")]
    database: String,
    #[serde(deserialize_with = "text")]
    recipient_type_details: String,
    account_disabled: bool,
    #[serde(default, deserialize_with = "text")]
    owa_mailbox_policy: String,
}

/// A mailbox database and its server's version.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Database {
    name: String,
    #[serde(deserialize_with = "text")]
    admin_display_version: String,
}

/// A mailbox's OWA policy, for joining with the mailbox by distinguished name.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Policy {
    distinguished_name: String,
    #[serde(deserialize_with = "text")]
    owa_mailbox_policy: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LyncOutput {
    #[serde(deserialize_with = "list")]
    users: Vec<LyncUser>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MailboxOutput {
    #[serde(deserialize_with = "list")]
    mailboxes: Vec<Mailbox>,
    #[serde(default, deserialize_with = "list")]
    databases: Vec<Database>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContextOutput {
    #[serde(deserialize_with = "list")]
    databases: Vec<Database>,
    #[serde(deserialize_with = "list")]
    policies: Vec<Policy>,
}

/// `Get-CsUser`'s results (piped in) as [`LyncUser`] rows, printed as JSON.
const LYNC_ROWS: &str = r#"Where-Object { $_.UserPrincipalName } | ForEach-Object { [pscustomobject]@{ Upn = [string]$_.UserPrincipalName; DisplayName = [string]$_.DisplayName; SamAccountName = [string]$_.SamAccountName; Enabled = [bool]$_.Enabled; SipAddress = [string]$_.SipAddress; RegistrarPool = [string]$_.RegistrarPool } })
[pscustomobject]@{ Users = $users } | ConvertTo-Json -Depth 4 -Compress"#;

/// `Get-Mailbox`'s results (piped in) as [`Mailbox`] rows in `$mailboxes`; `{cas}` adds the
/// OWA policy read with `Get-CASMailbox`, one mailbox at a time.
fn mailbox_rows(with_policy: bool) -> String {
    let cas = if with_policy {
        "; OwaMailboxPolicy = [string](Get-CASMailbox -Identity ([string]$m.UserPrincipalName) -ErrorAction SilentlyContinue).OwaMailboxPolicy"
    } else {
        ""
    };
    format!(
        r#"Where-Object {{ $_.UserPrincipalName }} | ForEach-Object {{ $m = $_; [pscustomobject]@{{ Upn = [string]$m.UserPrincipalName; DistinguishedName = [string]$m.DistinguishedName; DisplayName = [string]$m.DisplayName; SamAccountName = [string]$m.SamAccountName; PrimarySmtpAddress = [string]$m.PrimarySmtpAddress; EmailAddresses = @($m.EmailAddresses | ForEach-Object {{ [string]$_ }}); Database = [string]$m.Database; RecipientTypeDetails = [string]$m.RecipientTypeDetails; AccountDisabled = [bool]$m.AccountDisabled{cas} }} }})"#
    )
}

/// `Get-MailboxDatabase`'s results (piped in) as [`Database`] rows.
const DATABASE_ROWS: &str = r#"ForEach-Object { [pscustomobject]@{ Name = [string]$_.Name; AdminDisplayVersion = [string]$_.AdminDisplayVersion } })"#;

/// `-OU`/`-OrganizationalUnit` for a base, or nothing.
fn below(parameter: &str, base: Option<&str>) -> String {
    base.map(|b| format!(" -{parameter} {}", quote(b)))
        .unwrap_or_default()
}

impl PowerShellDirectory {
    pub fn new(executor: Executor) -> Self {
        Self { executor }
    }

    /// Runs `script` on `target` and reads its JSON, collecting all it prints (not only what
    /// the executor keeps for run logs).
    async fn read<T: DeserializeOwned>(
        &self,
        target: Target,
        what: &str,
        script: String,
    ) -> Result<T, DirectoryError> {
        let printed = Mutex::new(String::new());
        let too_much = std::sync::atomic::AtomicBool::new(false);
        let sink = |chunk: &str| {
            let mut all = printed.lock().unwrap_or_else(|p| p.into_inner());
            if all.len() + chunk.len() > OUTPUT_LIMIT {
                too_much.store(true, std::sync::atomic::Ordering::Relaxed);
            } else {
                all.push_str(chunk);
            }
        };
        let run = self
            .executor
            .run(&target, &[script], &sink)
            .await
            .map_err(|e| {
                DirectoryError::Unavailable(format!(
                    "{what} could not be run on {} ({e}); check the [executor] settings",
                    self.executor.label()
                ))
            })?;
        if let Some(failure) = run.failure {
            return Err(DirectoryError::Unavailable(format!(
                "{what} failed on {}: {failure}",
                self.executor.label()
            )));
        }
        if too_much.into_inner() {
            return Err(DirectoryError::Unavailable(format!(
                "{what} printed more than {} MB; check a base (an organizational unit) at a time",
                OUTPUT_LIMIT / (1024 * 1024)
            )));
        }
        let printed = printed.into_inner().unwrap_or_else(|p| p.into_inner());
        serde_json::from_str(printed.trim()).map_err(|e| {
            DirectoryError::Unavailable(format!("{what} printed something unexpected: {e}"))
        })
    }

    /// The Lync users `selection` (a `Get-CsUser` invocation) names.
    async fn lync_users(&self, selection: String) -> Result<Vec<LyncUser>, DirectoryError> {
        let script = format!("$users = @({selection} | {LYNC_ROWS}");
        let out: LyncOutput = self.read(Target::LyncShell, "Get-CsUser", script).await?;
        Ok(out.users)
    }

    /// The mailboxes `selection` (a `Get-Mailbox` invocation) names, with their databases
    /// (and OWA policies when `with_policy`).
    async fn mailboxes(
        &self,
        selection: String,
        with_policy: bool,
    ) -> Result<MailboxOutput, DirectoryError> {
        let script = format!(
            "$mailboxes = @({selection} | {rows}\n\
             $databases = @($mailboxes | ForEach-Object {{ $_.Database }} | Select-Object -Unique | ForEach-Object {{ Get-MailboxDatabase -Identity $_ -IncludePreExchange2013 -ErrorAction SilentlyContinue }} | {DATABASE_ROWS}\n\
             [pscustomobject]@{{ Mailboxes = $mailboxes; Databases = $databases }} | ConvertTo-Json -Depth 4 -Compress",
            rows = mailbox_rows(with_policy),
        );
        self.read(Target::ExchangeShell, "Get-Mailbox", script)
            .await
    }

    /// Every mailbox database and every OWA policy assigned to a mailbox below `base`.
    async fn context(&self, base: Option<&str>) -> Result<ContextOutput, DirectoryError> {
        let script = format!(
            "$databases = @(Get-MailboxDatabase -IncludePreExchange2013 | {DATABASE_ROWS}\n\
             $policies = @(Get-CASMailbox -ResultSize Unlimited{unit} | Where-Object {{ $_.OwaMailboxPolicy }} | ForEach-Object {{ [pscustomobject]@{{ DistinguishedName = [string]$_.DistinguishedName; OwaMailboxPolicy = [string]$_.OwaMailboxPolicy }} }})\n\
             [pscustomobject]@{{ Databases = $databases; Policies = $policies }} | ConvertTo-Json -Depth 4 -Compress",
            unit = below("OrganizationalUnit", base),
        );
        self.read(
            Target::ExchangeShell,
            "Get-MailboxDatabase and Get-CASMailbox",
            script,
        )
        .await
    }
}

impl Directory for PowerShellDirectory {
    fn source(&self) -> Source {
        Source::PowerShell
    }

    fn search<'a>(&'a self, prefix: &'a str, limit: usize) -> Pending<'a, Vec<PersonEntry>> {
        Box::pin(async move {
            let prefix = prefix.trim();
            if check_text(prefix).is_err() {
                return Ok(Vec::new());
            }
            let found = self
                .mailboxes(
                    format!("Get-Mailbox -Anr {} -ResultSize {limit}", quote(prefix)),
                    false,
                )
                .await?;
            let mut people: Vec<PersonEntry> = found
                .mailboxes
                .iter()
                .map(|m| entry(Some(m), None))
                .collect();
            people.sort_by_key(|p| p.upn.to_lowercase());
            people.truncate(limit);
            Ok(people)
        })
    }

    fn find<'a>(&'a self, identity: &'a str) -> Pending<'a, Record> {
        Box::pin(async move {
            let typed = identity.trim();
            if typed.is_empty() || check_text(typed).is_err() {
                return Err(DirectoryError::NotFound(identity.to_string()));
            }
            let bare = typed
                .get(..4)
                .filter(|p| p.eq_ignore_ascii_case("sip:"))
                .map_or(typed, |_| &typed[4..]);
            // Lync takes a SIP address with its prefix, Exchange an address without it.
            let lync_ids = [format!("sip:{bare}"), bare.to_string()];
            let lync_selection = format!(
                "@({}, {}) | Select-Object -Unique | ForEach-Object {{ Get-CsUser -Identity $_ -ErrorAction SilentlyContinue }}",
                quote(&lync_ids[0]),
                quote(&lync_ids[1])
            );
            let exchange_selection = format!(
                "Get-Mailbox -Identity {} -ErrorAction SilentlyContinue",
                quote(bare)
            );
            let (lync, exchange) = tokio::join!(
                self.lync_users(lync_selection),
                self.mailboxes(exchange_selection, true)
            );
            let (mut lync, mut exchange) = (lync?, exchange?);
            let mut upns: Vec<String> = lync
                .iter()
                .map(|u| u.upn.to_lowercase())
                .chain(exchange.mailboxes.iter().map(|m| m.upn.to_lowercase()))
                .collect();
            upns.sort();
            upns.dedup();
            let upn = match upns.as_slice() {
                [] => return Err(DirectoryError::NotFound(identity.to_string())),
                [one] => one.clone(),
                many => {
                    return Err(DirectoryError::Ambiguous {
                        query: identity.to_string(),
                        matches: many.to_vec(),
                    });
                }
            };
            // The other half of a person found by a name only one side knows.
            if lync.is_empty() {
                lync = self
                    .lync_users(format!(
                        "Get-CsUser -Identity {} -ErrorAction SilentlyContinue",
                        quote(&upn)
                    ))
                    .await?;
            } else if exchange.mailboxes.is_empty() {
                exchange = self
                    .mailboxes(
                        format!(
                            "Get-Mailbox -Identity {} -ErrorAction SilentlyContinue",
                            quote(&upn)
                        ),
                        true,
                    )
                    .await?;
            }
            let versions = versions(&exchange.databases);
            let mailbox = exchange
                .mailboxes
                .iter()
                .find(|m| m.upn.eq_ignore_ascii_case(&upn));
            let lync = lync.iter().find(|u| u.upn.eq_ignore_ascii_case(&upn));
            Ok(record(mailbox, lync, &versions))
        })
    }

    fn people<'a>(
        &'a self,
        base: Option<&'a str>,
        size: usize,
    ) -> Pending<'a, Box<dyn Pages + 'a>> {
        Box::pin(async move {
            let base = base.map(str::trim).filter(|b| !b.is_empty());
            if let Some(b) = base {
                check_text(b).map_err(|e| DirectoryError::Unavailable(format!("the base {e}")))?;
            }
            let (lync, context) = tokio::join!(
                self.lync_users(format!(
                    "Get-CsUser -ResultSize Unlimited{}",
                    below("OU", base)
                )),
                self.context(base)
            );
            let (lync, context) = (lync?, context?);
            let mut databases = context.databases;
            databases.sort_by_key(|d| d.name.to_lowercase());
            Ok(Box::new(Listing {
                directory: self,
                base,
                size: size.max(1),
                versions: versions(&databases),
                databases: databases.into_iter().map(|d| d.name).collect(),
                policies: context
                    .policies
                    .into_iter()
                    .map(|p| (p.distinguished_name.to_lowercase(), p.owa_mailbox_policy))
                    .collect(),
                lync: lync
                    .into_iter()
                    .map(|u| (u.upn.to_lowercase(), u))
                    .collect(),
                next_database: 0,
                ready: Vec::new(),
            }) as Box<dyn Pages>)
        })
    }
}

/// A bulk read in progress: mailboxes a database at a time (given in pages of `size`), then
/// the Lync users left.
struct Listing<'a> {
    directory: &'a PowerShellDirectory,
    base: Option<&'a str>,
    size: usize,
    /// Database names, in the order they are read.
    databases: Vec<String>,
    /// Each database's server version, by lower-case name.
    versions: HashMap<String, String>,
    /// Assigned OWA policies by lower-case distinguished name.
    policies: HashMap<String, String>,
    /// Lync users not yet matched with a mailbox, by lower-case UPN.
    lync: HashMap<String, LyncUser>,
    next_database: usize,
    /// Records read but not yet given, last first.
    ready: Vec<Record>,
}

impl Pages for Listing<'_> {
    fn next(&mut self) -> Pending<'_, Option<Vec<Record>>> {
        Box::pin(async move {
            while self.ready.is_empty() {
                let Some(database) = self.databases.get(self.next_database).cloned() else {
                    break;
                };
                self.next_database += 1;
                let selection = format!(
                    "Get-Mailbox -Database {} -ResultSize Unlimited{}",
                    quote(&database),
                    below("OrganizationalUnit", self.base)
                );
                let found = self.directory.mailboxes(selection, false).await?;
                self.ready = found
                    .mailboxes
                    .into_iter()
                    .rev()
                    .map(|mut m| {
                        if let Some(policy) =
                            self.policies.get(&m.distinguished_name.to_lowercase())
                        {
                            m.owa_mailbox_policy = policy.clone();
                        }
                        let lync = self.lync.remove(&m.upn.to_lowercase());
                        record(Some(&m), lync.as_ref(), &self.versions)
                    })
                    .collect();
            }
            if !self.ready.is_empty() {
                let keep = self.ready.len().saturating_sub(self.size);
                return Ok(Some(self.ready.drain(keep..).rev().collect()));
            }
            if self.lync.is_empty() {
                return Ok(None);
            }
            // The Lync users without a mailbox, in UPN order.
            let mut left: Vec<&String> = self.lync.keys().collect();
            left.sort();
            let taken: Vec<String> = left.into_iter().take(self.size).cloned().collect();
            Ok(Some(
                taken
                    .iter()
                    .filter_map(|upn| self.lync.remove(upn))
                    .map(|u| record(None, Some(&u), &self.versions))
                    .collect(),
            ))
        })
    }
}

/// Database server versions by lower-case database name.
fn versions(databases: &[Database]) -> HashMap<String, String> {
    databases
        .iter()
        .map(|d| (d.name.to_lowercase(), d.admin_display_version.clone()))
        .collect()
}

/// `msExchRecipientTypeDetails` for the names `RecipientTypeDetails` takes on a mailbox.
fn recipient_type_code(name: &str) -> Option<u64> {
    Some(match name {
        "UserMailbox" => 1,
        "LinkedMailbox" => 2,
        "SharedMailbox" => 4,
        "LegacyMailbox" => 8,
        "RoomMailbox" => 16,
        "EquipmentMailbox" => 32,
        "ArbitrationMailbox" => 0x80_0000,
        "DiscoveryMailbox" => 0x2000_0000,
        _ => return None,
    })
}

fn non_empty(value: &str) -> Read<String> {
    if value.trim().is_empty() {
        Read::Absent
    } else {
        Read::Value(value.to_string())
    }
}

/// How lists name a person.
fn entry(mailbox: Option<&Mailbox>, lync: Option<&LyncUser>) -> PersonEntry {
    let pick = |m: Option<&str>, l: Option<&str>| {
        m.filter(|v| !v.is_empty())
            .or(l.filter(|v| !v.is_empty()))
            .unwrap_or_default()
            .to_string()
    };
    let sip = lync
        .map(|u| u.sip_address.clone())
        .filter(|s| !s.is_empty());
    PersonEntry {
        upn: pick(
            mailbox.map(|m| m.upn.as_str()),
            lync.map(|u| u.upn.as_str()),
        ),
        display_name: pick(
            mailbox.map(|m| m.display_name.as_str()),
            lync.map(|u| u.display_name.as_str()),
        ),
        sam_account_name: pick(
            mailbox.map(|m| m.sam_account_name.as_str()),
            lync.map(|u| u.sam_account_name.as_str()),
        ),
        sip_address: sip,
        mail: mailbox
            .map(|m| m.primary_smtp_address.clone())
            .filter(|s| !s.is_empty()),
    }
}

/// A person from their mailbox and Lync account (either may be missing, not both).
fn record(
    mailbox: Option<&Mailbox>,
    lync: Option<&LyncUser>,
    versions: &HashMap<String, String>,
) -> Record {
    let entry = entry(mailbox, lync);
    let person = Person {
        upn: entry.upn.clone(),
        user_account_control: match mailbox {
            Some(m) => Read::Value(
                NORMAL_ACCOUNT
                    | if m.account_disabled {
                        ACCOUNTDISABLE
                    } else {
                        0
                    },
            ),
            None => Read::Unknown("Get-Mailbox reports the account of mailbox users only".into()),
        },
        home_mdb: mailbox.map_or(Read::Absent, |m| non_empty(&m.database)),
        recipient_type_details: match mailbox {
            Some(m) => match recipient_type_code(&m.recipient_type_details) {
                Some(code) => Read::Value(code),
                None => Read::Unknown(format!(
                    "RecipientTypeDetails {:?} is not a mailbox type imlink knows",
                    m.recipient_type_details
                )),
            },
            None => Read::Absent,
        },
        mailbox_server_version: match mailbox {
            Some(m) => match versions.get(&m.database.to_lowercase()) {
                Some(version) if !version.is_empty() => Read::Value(version.clone()),
                _ => Read::Unknown(format!(
                    "Get-MailboxDatabase -IncludePreExchange2013 does not list {:?}",
                    m.database
                )),
            },
            None => Read::Absent,
        },
        lync_enabled: lync.map_or(Read::Absent, |u| Read::Value(u.enabled)),
        primary_user_address: lync.map_or(Read::Absent, |u| non_empty(&u.sip_address)),
        registrar_pool: lync.map_or(Read::Absent, |u| non_empty(&u.registrar_pool)),
        proxy_addresses: match mailbox {
            Some(m) => Read::Value(m.email_addresses.clone()),
            None => {
                Read::Unknown("Get-Mailbox reports the proxy addresses of mailboxes only".into())
            }
        },
        owa_policy: mailbox.map_or(Read::Absent, |m| non_empty(&m.owa_mailbox_policy)),
    };
    Record { entry, person }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_powershell_shapes_are_read() {
        // One mailbox printed as a lone object, an empty list as null, a wrapped array.
        let out: MailboxOutput = serde_json::from_str(
            r#"{"Mailboxes":{"Upn":"a@x","DistinguishedName":"CN=A","DisplayName":"A","SamAccountName":"a","PrimarySmtpAddress":"a@x","EmailAddresses":{"value":["SMTP:a@x","SIP:a@x"],"Count":2},"Database":"DB01","RecipientTypeDetails":"UserMailbox","AccountDisabled":false,"OwaMailboxPolicy":null},"Databases":null}"#,
        )
        .unwrap();
        assert_eq!(out.mailboxes.len(), 1);
        assert_eq!(out.mailboxes[0].email_addresses, ["SMTP:a@x", "SIP:a@x"]);
        assert!(out.databases.is_empty());
        let r = record(out.mailboxes.first(), None, &HashMap::new());
        assert_eq!(
            r.entry.sip_address, None,
            "only Lync's SIP address names one"
        );
        assert!(matches!(r.person.mailbox_server_version, Read::Unknown(_)));
        assert_eq!(r.person.owa_policy, Read::Absent);
        assert_eq!(r.person.lync_enabled, Read::Absent);
    }

    #[test]
    fn a_lync_user_without_a_mailbox_reads_as_having_none() {
        let u = LyncUser {
            upn: "b@x".into(),
            display_name: "B".into(),
            sam_account_name: "b".into(),
            enabled: true,
            sip_address: "sip:b@x".into(),
            registrar_pool: "pool.x".into(),
        };
        let r = record(None, Some(&u), &HashMap::new());
        assert_eq!(r.person.home_mdb, Read::Absent);
        assert_eq!(r.person.registrar_pool, Read::Value("pool.x".into()));
        assert!(matches!(r.person.user_account_control, Read::Unknown(_)));
    }

    #[test]
    fn mailbox_types_are_coded_as_active_directory_stores_them() {
        assert_eq!(recipient_type_code("UserMailbox"), Some(1));
        assert_eq!(recipient_type_code("SharedMailbox"), Some(4));
        assert_eq!(recipient_type_code("Something"), None);
    }

    #[test]
    fn values_reach_scripts_only_as_literals() {
        assert_eq!(
            below("OU", Some("OU=O'Brien’s,DC=x")),
            " -OU 'OU=O''Brien’’s,DC=x'"
        );
        assert!(mailbox_rows(true).contains("Get-CASMailbox"));
        assert!(!mailbox_rows(false).contains("Get-CASMailbox"));
    }
}
