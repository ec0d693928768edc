//! Environment facts: what the read-only probes found in the Lync and Exchange organization.
//! The plan is decided against these. They serialize to the JSON format documented in the
//! README ("Environment facts"), so a plan can be replayed and reviewed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Major and minor version of an Exchange version text as `AdminDisplayVersion` (and the
/// server's `serialNumber` in Active Directory) give it: `Version 15.0 (Build 1497.2)`.
pub fn exchange_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.trim().strip_prefix("Version ")?;
    let number = rest.split_whitespace().next()?;
    let mut parts = number.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Whether two Lync or Exchange names (FQDNs, identities, policy and dial-plan names) are the
/// same name: both products compare them without regard to ASCII case.
pub fn same_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The version of the facts format.
pub const FORMAT: u32 = 1;

/// Everything the plan depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// Always [`FORMAT`].
    pub format: u32,
    /// When the probes ran.
    #[serde(default)]
    pub collected_at: Option<DateTime<Utc>>,
    pub lync: LyncFacts,
    pub exchange: ExchangeFacts,
}

/// The Lync Server 2013 side (Lync Server Management Shell).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LyncFacts {
    /// `Get-CsSite`.
    pub sites: Vec<Site>,
    /// `Get-CsPool`.
    pub pools: Vec<Pool>,
    /// `Get-CsTrustedApplicationPool`.
    pub trusted_pools: Vec<TrustedPool>,
    /// `Get-CsTrustedApplication`.
    pub trusted_applications: Vec<TrustedApplication>,
}

/// A Lync site. `site_id` is what `New-CsTrustedApplicationPool -Site` takes; it need not equal
/// the display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// e.g. `Site:Redmond`.
    pub identity: String,
    pub site_id: String,
    pub display_name: String,
}

/// A Lync pool and the services it runs (e.g. `Registrar:atl-cs-001.litwareinc.com`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    pub fqdn: String,
    /// The site's Identity, e.g. `Site:Redmond`.
    pub site: String,
    pub services: Vec<String>,
    /// The registrar service's `Version` as `Get-CsService -Registrar` reports it (5: Lync
    /// Server 2010, 6: Lync Server 2013, 7: Skype for Business Server 2015), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registrar_version: Option<u32>,
}

/// The registrar service `Version` of Lync Server 2010.
pub const LYNC_2010: u32 = 5;
/// The registrar service `Version` of Lync Server 2013.
pub const LYNC_2013: u32 = 6;
/// The registrar service `Version` of Skype for Business Server 2015, which reuses the
/// article's procedure for Exchange 2013 back ends.
pub const SKYPE_2015: u32 = 7;

impl Pool {
    fn offers(&self, service: &str) -> bool {
        self.services.iter().any(|s| {
            s.split_once(':')
                .is_some_and(|(kind, _)| kind.eq_ignore_ascii_case(service))
        })
    }

    /// Whether the pool offers a Registrar service.
    pub fn is_registrar(&self) -> bool {
        self.offers("Registrar")
    }

    /// Whether the pool is a Director pool (a `Director:` service, as `Get-CsService
    /// -Director` lists them): it authenticates sign-ins but homes nobody.
    pub fn is_director(&self) -> bool {
        self.offers("Director")
    }

    /// The product of the pool's registrar, by its service `Version`.
    pub fn product(&self) -> Option<&'static str> {
        match self.registrar_version? {
            LYNC_2010 => Some("Lync Server 2010"),
            LYNC_2013 => Some("Lync Server 2013"),
            SKYPE_2015 => Some("Skype for Business Server 2015"),
            _ => None,
        }
    }
}

/// A trusted application pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedPool {
    /// e.g. `TrustedApplicationPool:atl-owa-001.litwareinc.com`.
    pub identity: String,
    pub pool_fqdn: String,
    /// The registrar service, e.g. `Registrar:atl-cs-001.litwareinc.com`; empty when none.
    pub registrar: String,
    /// The site Identity, e.g. `Site:Redmond`.
    pub site: String,
    /// The computers in the pool (`Get-CsTrustedApplicationComputer`), by FQDN; a pool created
    /// without `-ComputerFqdn` has one, named as the pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub computers: Vec<String>,
}

/// A trusted application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedApplication {
    /// e.g. `atl-owa-001.litwareinc.com/urn:application:outlookwebapp`.
    pub identity: String,
    /// Without the `urn:application:` prefix.
    pub application_id: String,
    pub pool_fqdn: String,
    pub port: u16,
}

/// The Exchange side (Exchange Management Shell, and each back-end server).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeFacts {
    /// `Get-ExchangeServer`.
    pub servers: Vec<ExchangeServer>,
    /// `Get-UMDialPlan`.
    pub dial_plans: Vec<DialPlan>,
    /// `Get-UMService`: Mailbox servers running the UM service, with their dial plans.
    pub um_services: Vec<UmAssignment>,
    /// `Get-UMCallRouterSettings`: Client Access servers running the UM Call Router.
    pub um_call_routers: Vec<UmAssignment>,
    /// `Get-OwaVirtualDirectory` (front end) and `-ShowMailboxVirtualDirectories` (back end).
    pub owa_virtual_directories: Vec<OwaVirtualDirectory>,
    /// `Get-OwaMailboxPolicy`.
    pub owa_mailbox_policies: Vec<OwaMailboxPolicy>,
    /// What was read on each back-end (Mailbox) server.
    pub backends: Vec<Backend>,
}

/// An Exchange server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeServer {
    pub name: String,
    pub fqdn: String,
    /// e.g. `Mailbox`, `ClientAccess`.
    pub roles: Vec<String>,
    /// e.g. `Version 15.0 (Build 1497.2)`.
    pub admin_display_version: String,
}

impl ExchangeServer {
    /// Major and minor version parsed from `AdminDisplayVersion`.
    pub fn version(&self) -> Option<(u32, u32)> {
        exchange_version(&self.admin_display_version)
    }

    /// Exchange 2013 (version 15.0).
    pub fn is_exchange_2013(&self) -> bool {
        self.version() == Some((15, 0))
    }

    /// Exchange 2010 (version 14): left alone in coexistence with Exchange 2013.
    pub fn is_exchange_2010(&self) -> bool {
        self.version().is_some_and(|(major, _)| major == 14)
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }
}

/// A UM dial plan. `uri_type` is `TelExtn`, `E164` or `SipName`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialPlan {
    pub name: String,
    pub uri_type: String,
}

impl DialPlan {
    pub fn is_sip_name(&self) -> bool {
        self.uri_type.eq_ignore_ascii_case("SipName")
    }
}

/// A server's UM service or UM Call Router and the dial plans it is in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UmAssignment {
    /// The server's FQDN.
    pub server: String,
    pub dial_plans: Vec<String>,
}

/// An OWA virtual directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwaVirtualDirectory {
    /// e.g. `EX01\owa (Default Web Site)`.
    pub identity: String,
    /// The server's FQDN.
    pub server: String,
    /// `true` for back-end (Exchange Back End site) directories.
    pub backend: bool,
    pub instant_messaging_enabled: bool,
    /// `None` or `Ocs`.
    pub instant_messaging_type: String,
}

impl OwaVirtualDirectory {
    pub fn im_ready(&self) -> bool {
        self.instant_messaging_enabled && self.instant_messaging_type.eq_ignore_ascii_case("Ocs")
    }
}

/// An OWA mailbox policy's IM settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwaMailboxPolicy {
    pub name: String,
    pub instant_messaging_enabled: bool,
    pub instant_messaging_type: String,
}

impl OwaMailboxPolicy {
    pub fn im_ready(&self) -> bool {
        self.instant_messaging_enabled && self.instant_messaging_type.eq_ignore_ascii_case("Ocs")
    }
}

/// What was read on one back-end (Mailbox) server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    /// The server's FQDN.
    pub server: String,
    /// `ImplementationDLLPath` under `HKLM\SYSTEM\CurrentControlSet\Services\MSExchange OWA\InstantMessaging`.
    pub ucma_dll_path: Option<String>,
    /// Whether the file named by `ucma_dll_path` exists.
    pub ucma_dll_exists: bool,
    /// `appSettings` of `ClientAccess\Owa\web.config` (key, value), in file order.
    pub owa_app_settings: Vec<(String, String)>,
    /// `Get-ExchangeCertificate -Server`.
    pub certificates: Vec<Certificate>,
}

impl Backend {
    /// The value of an `appSettings` key (matched case-insensitively, as IIS does).
    pub fn app_setting(&self, key: &str) -> Option<&str> {
        self.owa_app_settings
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// An Exchange certificate on one server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// Upper-case hex.
    pub thumbprint: String,
    /// X.500 subject, e.g. `CN=atl-owa-001.litwareinc.com`.
    pub subject: String,
    /// `CertificateDomains` (subject alternative names).
    pub domains: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub has_private_key: bool,
    /// The chain status as Windows reports it on the server: `Valid`, `Untrusted`,
    /// `RevocationCheckFailure`, `DateInvalid`, `Invalid`, …
    pub status: String,
    /// `IsSelfSigned`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_self_signed: bool,
    /// `Issuer` (X.500), when the probe read it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer: String,
}

impl Certificate {
    /// The subject's CN, if any.
    pub fn common_name(&self) -> Option<&str> {
        self.subject.split(',').map(str::trim).find_map(|part| {
            part.strip_prefix("CN=")
                .or_else(|| part.strip_prefix("cn="))
        })
    }

    /// Whether Windows on the server reports the certificate's chain as valid.
    pub fn chain_valid(&self) -> bool {
        self.status.eq_ignore_ascii_case("Valid")
    }

    /// Whether the subject CN or a SAN names `fqdn`.
    pub fn names(&self, fqdn: &str) -> bool {
        self.subject_names(fqdn) || self.san_names(fqdn)
    }

    /// Whether the subject's CN is `fqdn`.
    pub fn subject_names(&self, fqdn: &str) -> bool {
        self.common_name()
            .is_some_and(|cn| cn.eq_ignore_ascii_case(fqdn))
    }

    /// Whether a subject alternative name (`CertificateDomains`) is `fqdn`.
    pub fn san_names(&self, fqdn: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(fqdn))
    }
}

/// Facts that cannot be planned against.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    #[error("unsupported facts format {0}; this imlink reads format {FORMAT}")]
    Format(u32),
    #[error("{path}: {source}")]
    Text {
        path: String,
        source: super::powershell::ForbiddenCharacter,
    },
}

impl Facts {
    /// The Lync site of the pool named `fqdn`, when the facts know both.
    pub fn site_of_pool(&self, fqdn: &str) -> Option<&Site> {
        let identity = &self
            .lync
            .pools
            .iter()
            .find(|p| same_name(&p.fqdn, fqdn))?
            .site;
        self.lync
            .sites
            .iter()
            .find(|s| same_name(&s.identity, identity))
    }

    /// Checks the format version and that no text holds a character that may not go into a
    /// script; names the first offending field by its JSON path.
    pub fn validate(&self) -> Result<(), FactsError> {
        if self.format != FORMAT {
            return Err(FactsError::Format(self.format));
        }
        fn walk(value: &serde_json::Value, path: &mut String) -> Result<(), FactsError> {
            match value {
                serde_json::Value::String(text) => {
                    super::powershell::check_text(text).map_err(|source| FactsError::Text {
                        path: path.clone(),
                        source,
                    })
                }
                serde_json::Value::Array(items) => {
                    items.iter().enumerate().try_for_each(|(i, v)| {
                        let len = path.len();
                        path.push_str(&format!("[{i}]"));
                        let result = walk(v, path);
                        path.truncate(len);
                        result
                    })
                }
                serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
                    let len = path.len();
                    path.push('.');
                    path.push_str(k);
                    let result = walk(v, path);
                    path.truncate(len);
                    result
                }),
                _ => Ok(()),
            }
        }
        let value = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        walk(&value, &mut String::from("facts"))
    }

    /// Exchange 2013 servers with the Mailbox role: where OWA's back end runs.
    pub fn backend_servers(&self) -> Vec<&ExchangeServer> {
        self.exchange
            .servers
            .iter()
            .filter(|s| s.has_role("Mailbox") && s.is_exchange_2013())
            .collect()
    }

    /// Whether `fqdn` is an Exchange 2013 server.
    pub fn is_exchange_2013_server(&self, fqdn: &str) -> bool {
        self.exchange
            .servers
            .iter()
            .any(|s| same_name(&s.fqdn, fqdn) && s.is_exchange_2013())
    }

    /// The probe results for back-end `server`.
    pub fn backend(&self, server: &str) -> Option<&Backend> {
        self.exchange
            .backends
            .iter()
            .find(|b| b.server.eq_ignore_ascii_case(server))
    }

    /// SIP URI (`SipName`) dial plans.
    pub fn sip_dial_plans(&self) -> Vec<&DialPlan> {
        self.exchange
            .dial_plans
            .iter()
            .filter(|d| d.is_sip_name())
            .collect()
    }

    /// Servers Lync autodiscovers: the UM service and the UM Call Router run on the same
    /// computer, which hosts a SipName dial plan (ARTICLE §1.4).
    pub fn autodiscovered_servers(&self) -> Vec<&str> {
        let sip: Vec<&str> = self
            .sip_dial_plans()
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        let in_sip = |a: &UmAssignment| {
            a.dial_plans
                .iter()
                .any(|p| sip.iter().any(|s| s.eq_ignore_ascii_case(p)))
        };
        self.exchange
            .um_services
            .iter()
            .filter(|um| {
                self.exchange
                    .um_call_routers
                    .iter()
                    .any(|cr| cr.server.eq_ignore_ascii_case(&um.server))
                    && (in_sip(um)
                        || self
                            .exchange
                            .um_call_routers
                            .iter()
                            .filter(|cr| cr.server.eq_ignore_ascii_case(&um.server))
                            .any(in_sip))
            })
            .map(|um| um.server.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_versions() {
        let server = |v: &str| ExchangeServer {
            name: "EX01".into(),
            fqdn: "ex01.litwareinc.com".into(),
            roles: vec!["Mailbox".into()],
            admin_display_version: v.into(),
        };
        assert!(server("Version 15.0 (Build 1497.2)").is_exchange_2013());
        assert!(!server("Version 14.3 (Build 123.4)").is_exchange_2013());
        assert!(!server("Version 15.1 (Build 225.42)").is_exchange_2013());
        assert!(server("Version 14.3 (Build 123.4)").is_exchange_2010());
        assert!(!server("Version 15.0 (Build 1497.2)").is_exchange_2010());
        assert_eq!(server("garbage").version(), None);
    }

    #[test]
    fn facts_with_control_characters_are_refused() {
        let mut facts = Facts {
            format: FORMAT,
            ..Facts::default()
        };
        assert_eq!(facts.validate(), Ok(()));
        facts.lync.sites.push(Site {
            identity: "Site:Red\0mond".into(),
            site_id: "1".into(),
            display_name: "Redmond".into(),
        });
        let err = facts.validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "facts.lync.sites[0].identity: contains the control character U+0000, which imlink never puts into a script"
        );
        facts.format = 2;
        assert!(matches!(facts.validate(), Err(FactsError::Format(2))));
    }

    #[test]
    fn certificate_names() {
        let cert = Certificate {
            thumbprint: "A".repeat(40),
            subject: "CN=atl-owa-001.litwareinc.com, OU=IT, O=Litware".into(),
            domains: vec!["mail.litwareinc.com".into()],
            not_before: Utc::now(),
            not_after: Utc::now(),
            has_private_key: true,
            status: "Valid".into(),
            is_self_signed: false,
            issuer: "CN=Litware Root CA".into(),
        };
        assert!(cert.chain_valid());
        assert!(cert.names("ATL-OWA-001.litwareinc.com"));
        assert!(cert.names("mail.litwareinc.com"));
        assert!(!cert.names("atl-cs-001.litwareinc.com"));
        assert!(cert.subject_names("atl-owa-001.litwareinc.com"));
        assert!(!cert.san_names("atl-owa-001.litwareinc.com"));
        assert!(cert.san_names("MAIL.litwareinc.com"));
        assert!(!cert.subject_names("mail.litwareinc.com"));
    }
}
