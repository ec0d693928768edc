//! What users see: the lab's people, the OWA sign-in that shows (or does not show) Lync
//! presence, and the Exchange cumulative update that rewrites web.config.
//!
//! A sign-in shows presence only when the whole documented chain holds: an Exchange 2013
//! mailbox, an OWA policy and front-end virtual directory with IM type OCS, the back end's
//! loaded web.config naming a valid certificate (with private key) and a Lync registrar pool,
//! UCMA 4.0 present, Lync trusting the OWA server exactly once (a published trusted application
//! pool with its application, or autodiscovery — never both), and a user enabled for Lync with a
//! SIP proxy address.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::LabState;
use super::directory::RecipientType;
use super::xml::{Document, XmlRef};
use app::procedure::facts::same_name;

/// The policy of mailboxes that have none assigned: Exchange 2013 creates it as `Default`.
pub const DEFAULT_OWA_POLICY: &str = "Default";

/// The outcome of a simulated OWA sign-in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    pub upn: String,
    pub presence: bool,
    /// Why presence does not show, in the order OWA would fail.
    pub reasons: Vec<String>,
}

/// The value of an appSettings key in a web.config text.
pub fn app_setting(config: &str, key: &str) -> Option<String> {
    let doc = XmlRef::document(Document::parse(config).ok()?);
    let settings = doc.select_single("/configuration/appSettings")?;
    settings
        .children_named("add")
        .into_iter()
        .find(|a| {
            a.attribute("key")
                .is_some_and(|k| k.eq_ignore_ascii_case(key))
        })
        .and_then(|a| a.attribute("value"))
}

impl LabState {
    /// Signs `upn` in to OWA at `now`. The first successful sign-in on a back end logs event 112
    /// and creates the IM log folder there, as Exchange does.
    pub fn owa_sign_in(&mut self, upn: &str, now: DateTime<Utc>) -> SignIn {
        let mut reasons = Vec::new();
        let Some(user) = self
            .users
            .iter()
            .find(|u| u.upn.eq_ignore_ascii_case(upn))
            .cloned()
        else {
            return SignIn {
                upn: upn.into(),
                presence: false,
                reasons: vec![format!("{upn} is not in the directory.")],
            };
        };
        if user.disabled {
            reasons.push("The account is disabled, so it cannot sign in.".to_string());
        }
        match &user.mailbox {
            None => reasons
                .push("The user has no mailbox, so there is no OWA to sign in to.".to_string()),
            Some(m) => {
                if m.kind != RecipientType::UserMailbox {
                    reasons.push(format!(
                        "The mailbox is a {:?}, which nobody signs in to as themselves.",
                        m.kind
                    ));
                }
                match self.databases.iter().find(|d| d.name.eq_ignore_ascii_case(&m.database)) {
                    None => reasons.push(format!("The mailbox database {} does not exist.", m.database)),
                    Some(d) if !d.admin_display_version.starts_with("Version 15.0") => reasons.push(format!(
                        "The mailbox is on Exchange {}; OWA integration with Lync Server 2013 needs an Exchange 2013 mailbox.",
                        d.admin_display_version
                    )),
                    Some(_) => {}
                }
            }
        }
        let policy_name = user
            .mailbox
            .as_ref()
            .and_then(|m| m.owa_policy.clone())
            .unwrap_or_else(|| DEFAULT_OWA_POLICY.to_string());
        let ex = &self.exchange;
        let policy_ready = ex
            .owa_mailbox_policies
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(&policy_name))
            .is_some_and(|p| p.im_ready());
        if !policy_ready {
            reasons.push(format!(
                "The OWA mailbox policy “{policy_name}” does not enable instant messaging with type OCS."
            ));
        }
        // An Exchange 2013 mailbox is reached through the Exchange 2013 Client Access servers;
        // an Exchange 2010 server's directories serve only its own mailboxes.
        let front: Vec<_> = ex
            .owa_virtual_directories
            .iter()
            .filter(|v| {
                !v.backend
                    && ex.servers.iter().any(|s| {
                        app::procedure::facts::same_name(&s.fqdn, &v.server) && s.is_exchange_2013()
                    })
            })
            .collect();
        if front.iter().any(|v| !v.im_ready()) {
            if front.iter().any(|v| v.instant_messaging_enabled) {
                reasons.push(
                    "OWA's front-end virtual directory has IM enabled but not integrated (InstantMessagingType is None): users see blank presence icons and an error message at every sign-in."
                        .to_string(),
                );
            } else {
                reasons.push("IM is turned off on OWA's front-end virtual directory.".to_string());
            }
        }
        // The back end holding the user's mailbox database serves the sign-in.
        let home = user
            .mailbox
            .as_ref()
            .and_then(|m| {
                self.databases
                    .iter()
                    .find(|d| same_name(&d.name, &m.database))
            })
            .map(|d| d.server.clone());
        let Some(backend) = ex
            .backends
            .iter()
            .find(|b| home.as_deref().is_some_and(|h| same_name(&b.server, h)))
            .or_else(|| {
                if home.is_none() {
                    ex.backends.first()
                } else {
                    None
                }
            })
        else {
            if home.is_none() {
                reasons.push("There is no Exchange back-end server.".into());
            }
            return SignIn {
                upn: user.upn,
                presence: false,
                reasons,
            };
        };
        let server = backend.server.clone();
        let config = &backend.loaded_web_config;
        let thumbprint = app_setting(config, "IMCertificateThumbprint");
        let im_server = app_setting(config, "IMServerName");
        match &thumbprint {
            None => reasons.push(format!(
                "Instant Messaging Certificate Thumbprint is null or empty on web.config ({server})."
            )),
            Some(t) => match backend.certificates.iter().find(|c| c.thumbprint.eq_ignore_ascii_case(t)) {
                None => reasons.push(format!("IM Certificate with thumbprint {t} could not be found on {server}.")),
                Some(c) if c.not_after <= now => reasons.push("IM Certificate has expired.".into()),
                Some(c) if c.not_before > now => reasons.push("IM Certificate has not become valid yet.".into()),
                Some(c) if !c.has_private_key => reasons.push("IM Certificate does not have a private key.".into()),
                Some(c) if c.is_self_signed => reasons.push(format!(
                    "The IM certificate on {server} is self-signed: Lync does not trust it, and the TLS connection from OWA fails."
                )),
                Some(c) if !c.chain_valid() => reasons.push(format!(
                    "The IM certificate's chain on {server} is {} ({}): Lync does not trust a certificate whose issuer is not trusted.",
                    c.status,
                    if c.issuer.is_empty() { "issuer unknown" } else { c.issuer.as_str() }
                )),
                Some(_) => {}
            },
        }
        let (trust, trusted_by) = self.lync_trust(thumbprint.as_deref(), &server);
        match &im_server {
            None => reasons.push(format!(
                "Instant Messaging Server name is set to null or empty on web.config ({server})."
            )),
            Some(pool) => {
                let known = self.lync.pools.iter().find(|p| same_name(&p.fqdn, pool));
                let registrar = known.is_some_and(|p| {
                    p.services
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(&format!("Registrar:{pool}")))
                });
                let director = known.is_some_and(|p| {
                    p.services
                        .iter()
                        .any(|s| s.to_ascii_lowercase().starts_with("director:"))
                });
                if director {
                    reasons.push(format!("IMServerName on {server} is “{pool}”, a Director pool: Directors home nobody and host no trusted application pool."));
                } else if !registrar {
                    reasons.push(format!("IMServerName is “{pool}”, which is not a Lync pool with a Registrar service."));
                } else if known.is_some_and(|p| p.version != 6 && p.version != 7) {
                    reasons.push(format!("IMServerName on {server} is “{pool}”, which is not a Lync Server 2013 pool."));
                } else if let Some(host) = trusted_by.as_deref()
                    && !same_name(host, pool)
                {
                    reasons.push(format!(
                        "IMServerName on {server} is “{pool}”, but the trusted application pool is hosted by {host}: IMServerName must name the pool that hosts it."
                    ));
                }
            }
        }
        if !(backend.ucma_dll_exists
            && backend.ucma_dll_path.as_deref().is_some_and(|p| {
                p.to_ascii_lowercase()
                    .ends_with("microsoft.rtc.internal.ucweb.dll")
            }))
        {
            reasons.push(format!(
                "UCMA 4.0 is missing on {server}: ImplementationDLLPath does not name an existing Microsoft.Rtc.Internal.Ucweb.dll."
            ));
        }
        reasons.extend(trust);
        let lync = user.lync.as_ref().filter(|l| l.enabled);
        match lync.and_then(|l| l.registrar_pool.as_deref()) {
            None => reasons.push("The user is not enabled for Lync Server 2013.".into()),
            Some(pool) => {
                if !self
                    .lync
                    .pools
                    .iter()
                    .any(|p| p.fqdn.eq_ignore_ascii_case(pool) && p.version == 6)
                {
                    reasons.push(format!("The user is homed on {pool}, which is not a Lync Server 2013 registrar pool."));
                }
            }
        }
        let sips: Vec<&str> = user
            .proxy_addresses
            .iter()
            .filter(|a| a.to_ascii_lowercase().starts_with("sip:"))
            .map(String::as_str)
            .collect();
        if sips.is_empty() {
            reasons.push("The user has no SIP proxy address.".into());
        } else if let Some(l) = lync
            && !sips.iter().any(|s| s.eq_ignore_ascii_case(&l.sip_address))
        {
            reasons.push(format!(
                "No SIP proxy address is the user's Lync SIP address {}.",
                l.sip_address
            ));
        }
        let presence = reasons.is_empty();
        if presence
            && let Some(b) = self
                .exchange
                .backends
                .iter_mut()
                .find(|b| b.server == server)
        {
            if !b.owa_events.contains(&112) {
                b.owa_events.push(112);
            }
            b.im_log_folder = true;
        }
        SignIn {
            upn: user.upn,
            presence,
            reasons,
        }
    }

    /// Whether Lync trusts the OWA server `server` exactly once: why not, and the registrar
    /// FQDN of the trusted application pool that trusts it, if one does.
    fn lync_trust(&self, thumbprint: Option<&str>, server: &str) -> (Vec<String>, Option<String>) {
        let facts_like = app::procedure::facts::Facts {
            format: app::procedure::facts::FORMAT,
            collected_at: None,
            lync: app::procedure::facts::LyncFacts::default(),
            exchange: app::procedure::facts::ExchangeFacts {
                servers: self.exchange.servers.clone(),
                dial_plans: self.exchange.dial_plans.clone(),
                um_services: self.exchange.um_services.clone(),
                um_call_routers: self.exchange.um_call_routers.clone(),
                ..Default::default()
            },
        };
        let autodiscovered: Vec<String> = facts_like
            .autodiscovered_servers()
            .into_iter()
            .map(str::to_string)
            .collect();
        // The OWA server presents the certificate web.config names, or else its first one.
        let certificates = self
            .exchange
            .backends
            .iter()
            .find(|b| b.server == server)
            .map(|b| b.certificates.as_slice())
            .unwrap_or_default();
        let cert = thumbprint
            .and_then(|t| {
                certificates
                    .iter()
                    .find(|c| c.thumbprint.eq_ignore_ascii_case(t))
            })
            .or(certificates.first());
        let published = &self.lync.published;
        // A pool is the server's when the certificate names the pool and, for a pool of several
        // computers, the server is one of them.
        let named: Vec<&super::lync::TrustedPool> = published
            .trusted_pools
            .iter()
            .filter(|p| cert.is_some_and(|c| c.names(&p.fqdn)))
            .collect();
        let trusted: Vec<&&super::lync::TrustedPool> = named
            .iter()
            .filter(|p| {
                p.single_default_computer() || p.computers.iter().any(|c| same_name(c, server))
            })
            .collect();
        let known: Vec<&String> = autodiscovered
            .iter()
            .filter(|a| cert.is_some_and(|c| c.names(a)))
            .collect();
        let mut reasons = Vec::new();
        let host = trusted.first().map(|p| {
            p.registrar
                .split_once(':')
                .map_or(p.registrar.as_str(), |(_, f)| f)
                .to_string()
        });
        match (trusted.first(), known.first()) {
            (Some(pool), Some(_)) => reasons.push(format!(
                "{} is both autodiscovered (UM and its call router on one server hosting a SipName dial plan) and a manual trusted application pool: two entries for the same computer stop OWA integration from working.",
                pool.fqdn
            )),
            (Some(pool), None) => {
                if !published.trusted_applications.iter().any(|a| a.pool_fqdn.eq_ignore_ascii_case(&pool.fqdn)) {
                    reasons.push(format!("The trusted application pool {} has no trusted application.", pool.fqdn));
                }
            }
            (None, Some(_)) => {}
            (None, None) => match named.first() {
                Some(pool) => reasons.push(format!(
                    "{server} presents a certificate naming {}, but it is not one of that trusted application pool's computers ({}): the peer is not a configured server.",
                    pool.fqdn,
                    pool.computers.join(", ")
                )),
                None => reasons.push(
                    "Lync does not know the OWA server: no published trusted application pool matches its certificate, and it is not autodiscovered (the peer is not a configured server)."
                        .into(),
                ),
            },
        }
        (reasons, host)
    }

    /// Installs an Exchange cumulative update on `server`: setup rewrites OWA's web.config
    /// (dropping the IM keys) and restarts OWA.
    pub fn install_cumulative_update(&mut self, server: &str) -> Result<(), String> {
        let backend = self
            .exchange
            .backends
            .iter_mut()
            .find(|b| b.server.eq_ignore_ascii_case(server))
            .ok_or_else(|| format!("{server} is not an Exchange back-end server in this lab"))?;
        let stock = super::exchange::web_config(&[
            ("ClientValidationEnabled".into(), "true".into()),
            ("UnobtrusiveJavaScriptEnabled".into(), "true".into()),
        ]);
        backend.web_config = stock;
        backend.clock += 1;
        backend.web_config_written = backend.clock;
        backend.start_owa();
        Ok(())
    }
}
