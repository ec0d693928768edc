//! Active Directory over LDAP (`ldap3`): people with the attributes the eligibility rules
//! read, bulk reads by paged search (RFC 2696), and the references resolved as AD stores
//! them: `homeMDB` → the database's `msExchOwningServer` → that server's `serialNumber`
//! (`Version 15.0 (Build …)`), and `msRTCSIP-PrimaryHomeServer` → the pool entry's
//! `dNSHostName` (the entry named, or the first of its two parents that has one: Lync names
//! `CN=Lc Services,CN=Microsoft` below the pool). Each reference is read once per search.
//!
//! Every value typed by a person goes into a filter escaped (RFC 4515), never interpreted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ldap3::adapters::PagedResults;
use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry, SearchOptions,
    SearchStream, ldap_escape,
};

use crate::config::LdapConfig;
use app::procedure::eligibility::{Person, Read};
use app::ssr::directory::{Directory, DirectoryError, Pages, Pending, Record, Source};
use app::views::PersonEntry;

/// The attributes read for each person.
pub const ATTRIBUTES: &[&str] = &[
    "userPrincipalName",
    "displayName",
    "cn",
    "sAMAccountName",
    "mail",
    "userAccountControl",
    "homeMDB",
    "msExchRecipientTypeDetails",
    "msRTCSIP-UserEnabled",
    "msRTCSIP-PrimaryUserAddress",
    "msRTCSIP-PrimaryHomeServer",
    "proxyAddresses",
    "msExchOWAPolicy",
];

/// LDAP result codes imlink tells apart.
const NO_SUCH_OBJECT: u32 = 32;
const SIZE_LIMIT_EXCEEDED: u32 = 4;
const INVALID_CREDENTIALS: u32 = 49;
const INSUFFICIENT_ACCESS: u32 = 50;

/// An LDAP server holding Active Directory's attributes.
pub struct LdapDirectory {
    url: String,
    settings: LdapConnSettings,
    bind_dn: String,
    password: String,
    base_dn: String,
    filter: String,
    page_size: i32,
    timeout: Duration,
}

impl LdapDirectory {
    /// The directory `config` describes; fails when its CA or password file cannot be read.
    pub fn new(config: &LdapConfig) -> anyhow::Result<Self> {
        let timeout = Duration::from_secs(u64::from(config.timeout_seconds));
        let mut settings = LdapConnSettings::new()
            .set_starttls(config.starttls)
            .set_conn_timeout(timeout);
        if let Some(path) = &config.ca_file {
            settings =
                settings.set_config(tls_trusting(path).map_err(|e| {
                    anyhow::anyhow!("directory.ldap.ca_file: {}: {e}", path.display())
                })?);
        }
        let password = match &config.password_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| {
                    anyhow::anyhow!("directory.ldap.password_file: {}: {e}", path.display())
                })?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
            None => String::new(),
        };
        Ok(LdapDirectory {
            url: config.url.trim().to_string(),
            settings,
            bind_dn: config.bind_dn.trim().to_string(),
            password,
            base_dn: config.base_dn.trim().to_string(),
            filter: config.filter.trim().to_string(),
            page_size: i32::try_from(config.page_size).unwrap_or(1000),
            timeout,
        })
    }

    /// Whether the server answers a bind and a search of the base (for `imlink check-config`).
    pub async fn verify(&self) -> Result<(), DirectoryError> {
        self.search_people("(userPrincipalName=*)", 1)
            .await
            .map(|_| ())
    }

    /// A bound connection.
    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let (conn, mut ldap) = LdapConnAsync::with_settings(self.settings.clone(), &self.url)
            .await
            .map_err(|e| self.connection_failed(e))?;
        ldap3::drive!(conn);
        let bound = ldap
            .with_timeout(self.timeout)
            .simple_bind(&self.bind_dn, &self.password)
            .await
            .map_err(|e| self.connection_failed(e))?;
        match bound.rc {
            0 => Ok(ldap),
            INVALID_CREDENTIALS => Err(DirectoryError::Unavailable(format!(
                "{} refused the bind as “{}”: invalid credentials (check directory.ldap.bind_dn \
                 and directory.ldap.password_file)",
                self.url, self.bind_dn
            ))),
            _ => Err(DirectoryError::Unavailable(format!(
                "{} refused the bind as “{}”: {} (check directory.ldap.bind_dn and \
                 directory.ldap.password_file)",
                self.url, self.bind_dn, bound
            ))),
        }
    }

    /// Why connecting failed, naming the setting to fix.
    fn connection_failed(&self, error: LdapError) -> DirectoryError {
        let message = match &error {
            LdapError::Io { source } => match tls_error(source) {
                Some(tls) => format!(
                    "the certificate of {} is not trusted: {tls} (check directory.ldap.ca_file)",
                    self.url
                ),
                None => format!(
                    "cannot connect to {}: {source} (check directory.ldap.url)",
                    self.url
                ),
            },
            LdapError::Timeout { .. } => format!(
                "{} did not answer within {} seconds (check directory.ldap.url and \
                 directory.ldap.timeout_seconds)",
                self.url,
                self.timeout.as_secs()
            ),
            LdapError::LdapResult { result } => format!(
                "{} refused StartTLS: {result} (check directory.ldap.starttls)",
                self.url
            ),
            other => format!("{}: {other} (check directory.ldap.url)", self.url),
        };
        DirectoryError::Unavailable(message)
    }

    /// Why a search failed, naming the setting to fix.
    fn search_failed(&self, error: LdapError) -> DirectoryError {
        let message = match &error {
            LdapError::LdapResult { result } if result.rc == NO_SUCH_OBJECT => format!(
                "{} has no entry “{}” (check directory.ldap.base_dn)",
                self.url, self.base_dn
            ),
            LdapError::LdapResult { result } => {
                format!("{} refused the search: {result}", self.url)
            }
            LdapError::FilterParsing => format!(
                "“{}” is not an LDAP filter (check directory.ldap.filter)",
                self.filter
            ),
            LdapError::Timeout { .. } => format!(
                "{} did not answer within {} seconds (check directory.ldap.timeout_seconds)",
                self.url,
                self.timeout.as_secs()
            ),
            other => format!("reading {} failed: {other}", self.url),
        };
        DirectoryError::Unavailable(message)
    }

    /// People matching `condition` (an escaped filter) and the configured filter, at most
    /// `limit`.
    async fn search_people(
        &self,
        condition: &str,
        limit: i32,
    ) -> Result<(Ldap, Vec<SearchEntry>), DirectoryError> {
        let mut ldap = self.connect().await?;
        let filter = format!("(&{}{condition})", self.filter);
        let found = ldap
            .with_search_options(SearchOptions::new().sizelimit(limit))
            .with_timeout(self.timeout)
            .search(&self.base_dn, Scope::Subtree, &filter, ATTRIBUTES.to_vec())
            .await
            .map_err(|e| self.search_failed(e))?;
        let (entries, result) = (found.0, found.1);
        if result.rc != 0 && result.rc != SIZE_LIMIT_EXCEEDED {
            return Err(self.search_failed(LdapError::LdapResult { result }));
        }
        Ok((
            ldap,
            entries.into_iter().map(SearchEntry::construct).collect(),
        ))
    }
}

impl Directory for LdapDirectory {
    fn source(&self) -> Source {
        Source::Ldap
    }

    fn search<'a>(&'a self, prefix: &'a str, limit: usize) -> Pending<'a, Vec<PersonEntry>> {
        Box::pin(async move {
            let prefix = without_sip(prefix.trim());
            let p = ldap_escape(prefix);
            let condition = format!(
                "(|(userPrincipalName={p}*)(sAMAccountName={p}*)(displayName={p}*)(mail={p}*)\
                 (msRTCSIP-PrimaryUserAddress=sip:{p}*))"
            );
            let limit = i32::try_from(limit).unwrap_or(i32::MAX);
            let (_, entries) = self.search_people(&condition, limit).await?;
            let mut people: Vec<PersonEntry> = entries
                .iter()
                .filter_map(|e| Attributes::new(e).entry())
                .collect();
            people.sort_by_key(|p| p.upn.to_lowercase());
            Ok(people)
        })
    }

    fn find<'a>(&'a self, identity: &'a str) -> Pending<'a, Record> {
        Box::pin(async move {
            let x = ldap_escape(without_sip(identity.trim()));
            let condition = format!(
                "(|(userPrincipalName={x})(sAMAccountName={x})(mail={x})(proxyAddresses=smtp:{x})\
                 (msRTCSIP-PrimaryUserAddress=sip:{x}))"
            );
            let (ldap, entries) = self.search_people(&condition, 10).await?;
            match entries.as_slice() {
                [] => Err(DirectoryError::NotFound(identity.to_string())),
                [one] => {
                    let mut references = References::new(ldap, self);
                    references
                        .record(one)
                        .await?
                        .ok_or_else(|| DirectoryError::NotFound(identity.to_string()))
                }
                many => Err(DirectoryError::Ambiguous {
                    query: identity.to_string(),
                    matches: many
                        .iter()
                        .map(|e| {
                            Attributes::new(e)
                                .one("userPrincipalName")
                                .unwrap_or(&e.dn)
                                .to_string()
                        })
                        .collect(),
                }),
            }
        })
    }

    fn people<'a>(
        &'a self,
        base: Option<&'a str>,
        size: usize,
    ) -> Pending<'a, Box<dyn Pages + 'a>> {
        Box::pin(async move {
            let mut ldap = self.connect().await?;
            let base = base.map_or(self.base_dn.as_str(), str::trim);
            let stream = ldap
                .streaming_search_with(
                    PagedResults::new(self.page_size),
                    base,
                    Scope::Subtree,
                    &self.filter,
                    ATTRIBUTES.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                )
                .await
                .map_err(|e| self.search_failed(e))?;
            Ok(Box::new(Paged {
                stream,
                references: References::new(ldap, self),
                size: size.max(1),
                done: false,
            }) as Box<dyn Pages>)
        })
    }
}

/// A paged search over everyone, with the references its people make.
struct Paged<'a> {
    stream: SearchStream<'static, String, Vec<String>>,
    references: References<'a>,
    size: usize,
    done: bool,
}

impl Pages for Paged<'_> {
    fn next(&mut self) -> Pending<'_, Option<Vec<Record>>> {
        Box::pin(async move {
            if self.done {
                return Ok(None);
            }
            let directory = self.references.directory;
            let mut entries = Vec::with_capacity(self.size);
            while entries.len() < self.size {
                match self
                    .stream
                    .next()
                    .await
                    .map_err(|e| directory.search_failed(e))?
                {
                    Some(entry) => entries.push(SearchEntry::construct(entry)),
                    None => {
                        self.done = true;
                        let result = self.stream.finish().await;
                        if result.rc != 0 {
                            return Err(directory.search_failed(LdapError::LdapResult { result }));
                        }
                        break;
                    }
                }
            }
            let mut records = Vec::with_capacity(entries.len());
            for entry in &entries {
                if let Some(record) = self.references.record(entry).await? {
                    records.push(record);
                }
            }
            Ok((!records.is_empty() || !self.done).then_some(records))
        })
    }
}

/// Reads the entries people refer to, each once.
struct References<'a> {
    ldap: Ldap,
    directory: &'a LdapDirectory,
    /// Mailbox database DN (lower case) → its server's version.
    versions: HashMap<String, Read<String>>,
    /// Home server DN (lower case) → the pool's FQDN.
    pools: HashMap<String, Read<String>>,
}

impl<'a> References<'a> {
    fn new(ldap: Ldap, directory: &'a LdapDirectory) -> Self {
        References {
            ldap,
            directory,
            versions: HashMap::new(),
            pools: HashMap::new(),
        }
    }

    /// One person's record; `None` for an entry without a `userPrincipalName`.
    async fn record(&mut self, entry: &SearchEntry) -> Result<Option<Record>, DirectoryError> {
        let a = Attributes::new(entry);
        let Some(entry_view) = a.entry() else {
            tracing::debug!(dn = %entry.dn, "skipped: no userPrincipalName");
            return Ok(None);
        };
        let home_mdb = a.read("homeMDB");
        let mailbox_server_version = match &home_mdb {
            Read::Value(dn) => self.version(dn).await?,
            Read::Absent => Read::Absent,
            Read::Unknown(why) => Read::Unknown(why.clone()),
        };
        let registrar_pool = match a.read("msRTCSIP-PrimaryHomeServer") {
            Read::Value(dn) => self.pool(&dn).await?,
            other => other,
        };
        let person = Person {
            upn: entry_view.upn.clone(),
            user_account_control: a.parsed("userAccountControl"),
            home_mdb,
            recipient_type_details: a.parsed("msExchRecipientTypeDetails"),
            mailbox_server_version,
            lync_enabled: match a.one("msRTCSIP-UserEnabled") {
                None => Read::Absent,
                Some(v) if v.eq_ignore_ascii_case("TRUE") => Read::Value(true),
                Some(v) if v.eq_ignore_ascii_case("FALSE") => Read::Value(false),
                Some(v) => Read::Unknown(format!("msRTCSIP-UserEnabled is “{v}”")),
            },
            primary_user_address: a.read("msRTCSIP-PrimaryUserAddress"),
            registrar_pool,
            proxy_addresses: Read::Value(a.all("proxyAddresses").to_vec()),
            owa_policy: match a.read("msExchOWAPolicy") {
                Read::Value(dn) => Read::Value(first_value(&dn)),
                other => other,
            },
        };
        Ok(Some(Record {
            entry: entry_view,
            person,
        }))
    }

    /// The version of the server holding mailbox database `dn`.
    async fn version(&mut self, dn: &str) -> Result<Read<String>, DirectoryError> {
        let key = dn.to_lowercase();
        if let Some(known) = self.versions.get(&key) {
            return Ok(known.clone());
        }
        let version = match self.attribute(dn, "msExchOwningServer").await? {
            Read::Value(server) => match self.attribute(&server, "serialNumber").await? {
                Read::Absent => Read::Unknown(format!("{server} has no serialNumber")),
                other => other,
            },
            Read::Absent => Read::Unknown(format!("{dn} has no msExchOwningServer")),
            Read::Unknown(why) => Read::Unknown(why),
        };
        self.versions.insert(key, version.clone());
        Ok(version)
    }

    /// The FQDN of the pool a person's `msRTCSIP-PrimaryHomeServer` (`dn`) is on.
    async fn pool(&mut self, dn: &str) -> Result<Read<String>, DirectoryError> {
        let key = dn.to_lowercase();
        if let Some(known) = self.pools.get(&key) {
            return Ok(known.clone());
        }
        let mut candidate = Some(dn);
        let mut found = Read::Unknown(format!(
            "neither {dn} nor its two parents have a dNSHostName"
        ));
        for _ in 0..3 {
            let Some(here) = candidate else { break };
            match self.attribute(here, "dNSHostName").await? {
                Read::Value(fqdn) => {
                    found = Read::Value(fqdn);
                    break;
                }
                Read::Unknown(why) if !why.ends_with("is not in the directory") => {
                    found = Read::Unknown(why);
                    break;
                }
                _ => candidate = parent(here),
            }
        }
        self.pools.insert(key, found.clone());
        Ok(found)
    }

    /// One attribute of entry `dn`: absent when the entry lacks it, unknown when the entry
    /// does not exist or may not be read; a connection failure is an error.
    async fn attribute(&mut self, dn: &str, name: &str) -> Result<Read<String>, DirectoryError> {
        let directory = self.directory;
        let found = self
            .ldap
            .with_timeout(directory.timeout)
            .search(dn, Scope::Base, "(objectClass=*)", vec![name])
            .await
            .map_err(|e| directory.search_failed(e))?;
        let (entries, result) = (found.0, found.1);
        match result.rc {
            0 => Ok(entries
                .into_iter()
                .next()
                .map(SearchEntry::construct)
                .map_or(Read::Absent, |e| Attributes::new(&e).read(name))),
            NO_SUCH_OBJECT => Ok(Read::Unknown(format!("{dn} is not in the directory"))),
            INSUFFICIENT_ACCESS => Ok(Read::Unknown(format!("{dn} may not be read"))),
            _ => Err(directory.search_failed(LdapError::LdapResult { result })),
        }
    }
}

/// An entry's attributes, by name without regard to case.
struct Attributes<'e> {
    values: HashMap<String, &'e Vec<String>>,
}

impl<'e> Attributes<'e> {
    fn new(entry: &'e SearchEntry) -> Self {
        Attributes {
            values: entry
                .attrs
                .iter()
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect(),
        }
    }

    fn all(&self, name: &str) -> &'e [String] {
        self.values
            .get(&name.to_lowercase())
            .map_or(&[], |v| v.as_slice())
    }

    fn one(&self, name: &str) -> Option<&'e str> {
        self.all(name).first().map(String::as_str)
    }

    fn read(&self, name: &str) -> Read<String> {
        self.one(name)
            .map_or(Read::Absent, |v| Read::Value(v.to_string()))
    }

    fn parsed<T: std::str::FromStr>(&self, name: &str) -> Read<T> {
        match self.one(name) {
            None => Read::Absent,
            Some(v) => v.trim().parse().map_or_else(
                |_| Read::Unknown(format!("{name} is “{v}”, not a number")),
                Read::Value,
            ),
        }
    }

    /// How the person is named; `None` without a `userPrincipalName`.
    fn entry(&self) -> Option<PersonEntry> {
        let upn = self.one("userPrincipalName")?.to_string();
        let sam = self.one("sAMAccountName").unwrap_or_default().to_string();
        Some(PersonEntry {
            display_name: self
                .one("displayName")
                .or(self.one("cn"))
                .unwrap_or(&upn)
                .to_string(),
            sam_account_name: sam,
            sip_address: self.one("msRTCSIP-PrimaryUserAddress").map(str::to_string),
            mail: self.one("mail").map(str::to_string),
            upn,
        })
    }
}

/// `identity` without a leading `sip:` (any case).
fn without_sip(identity: &str) -> &str {
    match identity.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("sip:") => &identity[4..],
        _ => identity,
    }
}

/// The parent of distinguished name `dn` (after its first unescaped comma).
fn parent(dn: &str) -> Option<&str> {
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => return Some(dn[i + 1..].trim_start()).filter(|p| !p.is_empty()),
            _ => {}
        }
    }
    None
}

/// The value of the first RDN of `dn`, unescaped (RFC 4514): a policy's name from its DN.
fn first_value(dn: &str) -> String {
    let rdn = match parent(dn) {
        Some(rest) => &dn[..dn.len() - rest.len()],
        None => dn,
    };
    let rdn = rdn.trim_end().trim_end_matches(',');
    let value = rdn.split_once('=').map_or(rdn, |(_, v)| v);
    let mut out = Vec::with_capacity(value.len());
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => {
                    out.push(bytes[i + 1]);
                    i += 2;
                }
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A TLS client configuration trusting only the CA certificates in `path` (PEM).
fn tls_trusting(path: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| e.to_string())? {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    if roots.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The TLS failure inside an I/O error, if that is what it is.
fn tls_error(error: &std::io::Error) -> Option<String> {
    let inner = error.get_ref()?;
    inner
        .downcast_ref::<rustls::Error>()
        .map(ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_and_first_values_of_distinguished_names() {
        let home = "CN=Lc Services,CN=Microsoft,CN=pool01.litwareinc.com,OU=Lync,DC=x";
        assert_eq!(
            parent(home),
            Some("CN=Microsoft,CN=pool01.litwareinc.com,OU=Lync,DC=x")
        );
        assert_eq!(parent("cn=a\\,b,dc=x"), Some("dc=x"));
        assert_eq!(parent("dc=x"), None);
        assert_eq!(
            first_value("CN=Executives,CN=OWA Mailbox Policies,DC=x"),
            "Executives"
        );
        assert_eq!(first_value("cn=Sales\\, East,dc=x"), "Sales, East");
        assert_eq!(first_value("cn=Zo\\C3\\AB,dc=x"), "Zoë");
    }

    #[test]
    fn sip_prefixes_are_dropped_in_any_case() {
        assert_eq!(without_sip("SIP:a@b"), "a@b");
        assert_eq!(without_sip("a@b"), "a@b");
        assert_eq!(without_sip("si"), "si");
    }

    #[test]
    fn filter_metacharacters_are_escaped() {
        assert_eq!(ldap_escape("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
        assert_eq!(ldap_escape("a\\b\0"), "a\\5cb\\00");
    }
}
