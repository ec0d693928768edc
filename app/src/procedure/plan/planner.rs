//! Deciding the article's command sequence against the environment's facts: preflight
//! checks, then each step with its decision (change, already satisfied, skipped).

use super::steps::{app_step, evidence, pool_step, publish_step, web_config_edit};
use super::*;
use crate::procedure::facts::{LYNC_2010, LYNC_2013, SKYPE_2015};
use crate::procedure::probes::UM_DIAL_PLANS;

mod turn_off;

/// Decides the plan for `spec` against `facts` at time `now` (certificate validity).
pub fn plan(spec: &IntegrationSpec, facts: &Facts, now: DateTime<Utc>) -> Plan {
    let planner = Planner {
        spec,
        integration: spec.integration(),
        facts,
        now,
        notes: Vec::new(),
        preflight: Vec::new(),
        discovered: Vec::new(),
    };
    match planner.integration {
        Some(_) => planner.run(),
        None => planner.run_turn_off(),
    }
}

/// A certificate that expires sooner than this is a warning on the plan.
const EXPIRY_WARNING: chrono::Duration = chrono::Duration::days(30);

pub(super) struct Planner<'a> {
    pub(super) spec: &'a IntegrationSpec,
    /// The integration's values (`None` when the request turns IM off).
    integration: Option<&'a Integration>,
    facts: &'a Facts,
    now: DateTime<Utc>,
    notes: Vec<String>,
    preflight: Vec<Preflight>,
    /// The servers Lync autodiscovers once the dial-plan step has run.
    discovered: Vec<String>,
}

/// The FQDN inside a Lync service id such as `Registrar:atl-cs-001.litwareinc.com`.
fn service_fqdn(service: &str) -> &str {
    service.split_once(':').map_or(service, |(_, fqdn)| fqdn)
}

impl<'a> Planner<'a> {
    fn check(
        &mut self,
        id: impl Into<String>,
        title: impl Into<String>,
        passed: bool,
        detail: impl Into<String>,
    ) {
        self.preflight.push(Preflight {
            id: id.into(),
            title: title.into(),
            passed,
            detail: detail.into(),
            warning: false,
        });
    }

    /// A check that passes with a warning.
    fn warn(&mut self, id: impl Into<String>, title: impl Into<String>, detail: impl Into<String>) {
        self.check(id, title, true, detail);
        if let Some(last) = self.preflight.last_mut() {
            last.warning = true;
        }
    }

    /// The integration being planned: only integration steps call this, and only
    /// [`Planner::run`], which is given it, reaches them.
    fn integration(&self) -> &'a Integration {
        self.integration
            .expect("integration steps are planned only for integration requests")
    }

    fn owa(&self) -> &'a str {
        self.integration().owa_pool_fqdn.as_str()
    }

    fn registrar(&self) -> &'a str {
        self.integration().registrar_fqdn.as_str()
    }

    fn run(mut self) -> Plan {
        let site = self.resolve_site();
        self.check_exchange();
        self.check_registrar();
        let backends = self.check_backends();
        let dial_plans = self.dial_plan_step();
        let autodiscovered = self.owa_autodiscovered(&dial_plans.1);
        let trusted_as = autodiscovered.is_none().then(|| self.owa());
        let mut steps = Vec::new();
        steps.extend(self.lync_steps(site.as_ref().map(|s| s.site_id.as_str()), autodiscovered));
        steps.push(dial_plans.0);
        steps.extend(self.vdir_step(Im::On));
        for (backend, thumbprint) in &backends {
            steps.push(self.web_config_step(backend, thumbprint));
            let changed = steps.last().is_some_and(|s| s.decision == Decision::Change);
            steps.push(self.recycle_step(&backend.server, changed));
        }
        steps.extend(self.policy_step(Im::On));
        let evidence = backends
            .iter()
            .map(|(b, thumbprint)| evidence(&b.server, thumbprint, self.registrar(), trusted_as))
            .collect();
        Plan {
            format: FORMAT,
            kind: RequestKind::Integrate,
            site_id: site
                .map(|s| s.site_id)
                .unwrap_or_else(|| self.spec.site_id.to_string()),
            owa_pool_fqdn: self.owa().to_string(),
            registrar_fqdn: self.registrar().to_string(),
            notes: self.notes,
            preflight: self.preflight,
            steps,
            evidence,
        }
    }

    /// The site whose SiteId was given; a display name or Identity is resolved with a note.
    fn resolve_site(&mut self) -> Option<Site> {
        let given = self.spec.site_id.as_str();
        let sites = &self.facts.lync.sites;
        if let Some(site) = sites.iter().find(|s| s.site_id == given) {
            self.check(
                "site",
                "The Lync site exists",
                true,
                format!(
                    "SiteId {} is {} ({}).",
                    site.site_id, site.display_name, site.identity
                ),
            );
            return Some(site.clone());
        }
        let by_name = sites.iter().find(|s| {
            same_name(&s.display_name, given)
                || same_name(&s.identity, given)
                || same_name(&s.site_id, given)
        });
        match by_name {
            Some(site) => {
                self.notes.push(format!(
                    "“{given}” is how site {} is named, but its SiteId is “{}”. New-CsTrustedApplicationPool \
                     needs the SiteId, which is not necessarily the display name (ARTICLE §1.5), so the plan passes “{}”.",
                    site.identity, site.site_id, site.site_id
                ));
                self.check(
                    "site",
                    "The Lync site exists",
                    true,
                    format!(
                        "Resolved “{given}” to SiteId {} ({}).",
                        site.site_id, site.display_name
                    ),
                );
                Some(site.clone())
            }
            None => {
                let known = sites
                    .iter()
                    .map(|s| format!("{} (SiteId {})", s.display_name, s.site_id))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.check(
                    "site",
                    "The Lync site exists",
                    false,
                    format!(
                        "Get-CsSite knows no site “{given}”. Known sites: {}.",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known
                        }
                    ),
                );
                None
            }
        }
    }

    /// Whether the organization has Exchange 2013 servers and nothing newer: otherwise the
    /// version check has said why, and the checks that follow add no failure of their own.
    fn exchange_usable(&self) -> bool {
        let servers = &self.facts.exchange.servers;
        servers.iter().any(|s| s.is_exchange_2013())
            && servers
                .iter()
                .all(|s| s.is_exchange_2013() || s.is_exchange_2010())
    }

    /// Exchange 2013 servers are planned against; Exchange 2010 servers in coexistence are
    /// reported and left alone (IM in OWA is a condition on each person's mailbox); Exchange
    /// 2016 or later, or a version that cannot be read, stops the plan.
    fn check_exchange(&mut self) {
        let servers = &self.facts.exchange.servers;
        let listed = |keep: &dyn Fn(&crate::procedure::facts::ExchangeServer) -> bool| {
            servers
                .iter()
                .filter(|s| keep(s))
                .map(|s| format!("{} ({})", s.fqdn, s.admin_display_version))
                .collect::<Vec<_>>()
        };
        let current = listed(&|s| s.is_exchange_2013());
        let older = listed(&|s| s.is_exchange_2010());
        let other = listed(&|s| !s.is_exchange_2013() && !s.is_exchange_2010());
        let (passed, detail) = if servers.is_empty() {
            (false, "No Exchange server was found.".to_string())
        } else if !other.is_empty() {
            (
                false,
                format!(
                    "Neither Exchange 2013 nor Exchange 2010: {}. Exchange 2016 and later are not supported with \
                     Lync Server 2013, and a server whose version cannot be read cannot be planned for.",
                    other.join(", ")
                ),
            )
        } else if current.is_empty() {
            (
                false,
                "No Exchange 2013 server was found: this procedure (web.config keys, ARTICLE §1.6) is for \
                 Exchange 2013."
                    .to_string(),
            )
        } else if older.is_empty() {
            (
                true,
                format!(
                    "All {} Exchange servers run Exchange 2013 (15.0).",
                    current.len()
                ),
            )
        } else {
            (
                true,
                format!(
                    "{} Exchange 2013 servers are planned for. Exchange 2010 in coexistence, left alone: {}.",
                    current.len(),
                    older.join(", ")
                ),
            )
        };
        if passed && !older.is_empty() {
            self.notes.push(format!(
                "Exchange 2010 is still in the organization ({}). The plan changes only the Exchange 2013 \
                 servers; people whose mailboxes are on Exchange 2010 get IM and presence in OWA only once their \
                 mailbox is moved to Exchange 2013 (New-MoveRequest): the article makes an Exchange 2013 mailbox \
                 a condition on each user.",
                older.join(", ")
            ));
        }
        self.check(
            "exchange-version",
            "Exchange 2013 servers to plan for, and none newer",
            passed,
            detail,
        );
    }

    /// The registrar must be a Lync Server 2013 (or Skype for Business Server 2015) Front End
    /// pool: not a Director, which authenticates sign-ins but homes nobody (the troubleshooting
    /// table lists a Director as IMServerName as a misconfiguration), and not Lync Server 2010.
    /// It becomes the trusted pool's `-Registrar` and OWA's `IMServerName` alike.
    fn check_registrar(&mut self) {
        let registrar = self.registrar();
        let pool = self
            .facts
            .lync
            .pools
            .iter()
            .find(|p| same_name(&p.fqdn, registrar));
        let (passed, detail) = match pool {
            None => (false, format!("Get-CsPool knows no pool {registrar}.")),
            Some(p) if p.is_director() => (
                false,
                format!(
                    "{registrar} is a Director pool. Directors authenticate sign-ins but home no users and host no \
                     trusted application pool; the registrar and IMServerName must be the Front End pool that hosts \
                     the trusted application pool (ARTICLE §1.5, §1.6 step 2).{}",
                    self.front_end_hint()
                ),
            ),
            Some(p) if !p.is_registrar() => (
                false,
                format!(
                    "{registrar} is a Lync pool but runs no Registrar service.{}",
                    self.front_end_hint()
                ),
            ),
            Some(p) => match (p.registrar_version, p.product()) {
                (Some(LYNC_2010), _) => (
                    false,
                    format!(
                        "{registrar} runs Lync Server 2010 (registrar service Version {LYNC_2010}). This procedure \
                         integrates OWA 2013 with a Lync Server 2013 pool, which hosts the trusted application pool \
                         and is named in IMServerName; Lync Server 2010 pools are configured differently.{}",
                        self.front_end_hint()
                    ),
                ),
                (Some(_), Some(product)) => (
                    true,
                    format!("{registrar} is a {product} Front End pool with a Registrar service."),
                ),
                (Some(version), None) => (
                    false,
                    format!(
                        "{registrar} reports registrar service Version {version}, which is neither Lync Server 2013 \
                         ({LYNC_2013}) nor Skype for Business Server 2015 ({SKYPE_2015})."
                    ),
                ),
                (None, _) => (
                    true,
                    format!(
                        "{registrar} is a Lync pool with a Registrar service (its version was not reported by the probe)."
                    ),
                ),
            },
        };
        self.check(
            "registrar-pool",
            "The Lync registrar pool exists and is a Lync Server 2013 Front End pool",
            passed,
            detail,
        );
    }

    /// The Front End pools a request could name instead, as a sentence (empty when none).
    fn front_end_hint(&self) -> String {
        let pools: Vec<&str> = self
            .facts
            .lync
            .pools
            .iter()
            .filter(|p| {
                p.is_registrar()
                    && !p.is_director()
                    && matches!(p.registrar_version, Some(LYNC_2013 | SKYPE_2015) | None)
            })
            .map(|p| p.fqdn.as_str())
            .collect();
        if pools.is_empty() {
            String::new()
        } else {
            format!(
                " Front End pools in this organization: {}.",
                pools.join(", ")
            )
        }
    }

    /// Checks UCMA and the certificate on every back-end; returns the back-ends to configure,
    /// each with the thumbprint its web.config will name.
    fn check_backends(&mut self) -> Vec<(Backend, String)> {
        self.probed_backends()
            .into_iter()
            .map(|backend| {
                self.check_ucma(&backend);
                let thumbprint = self.check_certificate(&backend);
                (backend, thumbprint)
            })
            .collect()
    }

    /// The Exchange 2013 Mailbox servers (where OWA's web.config lives) as the back-end probe
    /// read them; none, or one the probe did not read, fails a check.
    fn probed_backends(&mut self) -> Vec<Backend> {
        let servers: Vec<String> = self
            .facts
            .backend_servers()
            .iter()
            .map(|s| s.fqdn.clone())
            .collect();
        if servers.is_empty() && self.exchange_usable() {
            self.check("backends", "Exchange back-end servers were found", false,
                "No Exchange 2013 server with the Mailbox role was found; OWA's web.config lives there.");
        }
        let mut found = Vec::new();
        for server in servers {
            match self.facts.backend(&server) {
                Some(backend) => found.push(backend.clone()),
                None => self.check(
                    format!("probe:{server}"),
                    format!("{server} was probed"),
                    false,
                    "The back-end probe returned nothing for this server.",
                ),
            }
        }
        found
    }

    fn check_ucma(&mut self, b: &Backend) {
        let (passed, detail) = match &b.ucma_dll_path {
            None => (
                false,
                format!(
                    "ImplementationDLLPath is missing under {UCMA_KEY}: install the UCMA 4.0 Runtime (ARTICLE §1.2)."
                ),
            ),
            Some(path)
                if !path
                    .to_ascii_lowercase()
                    .ends_with(&UCMA_DLL.to_ascii_lowercase()) =>
            {
                (
                    false,
                    format!("ImplementationDLLPath is “{path}”, which does not name {UCMA_DLL}."),
                )
            }
            Some(path) if !b.ucma_dll_exists => (
                false,
                format!("ImplementationDLLPath names {path}, but that file does not exist."),
            ),
            Some(path) => (
                true,
                format!("ImplementationDLLPath is {path}, and the file exists."),
            ),
        };
        self.check(
            format!("ucma:{}", b.server),
            format!("UCMA 4.0 Runtime on {}", b.server),
            passed,
            detail,
        );
    }

    /// Finds, among the request's thumbprints, the certificate installed on `b` and checks it as
    /// OWA and Lync need it; returns the thumbprint `b`'s web.config will name.
    fn check_certificate(&mut self, b: &Backend) -> String {
        let owa = self.owa();
        let given: Vec<&str> = self
            .integration()
            .thumbprint
            .iter()
            .map(|t| t.as_str())
            .collect();
        let installed: Vec<&Certificate> = b
            .certificates
            .iter()
            .filter(|c| given.iter().any(|t| same_name(&c.thumbprint, t)))
            .collect();
        let server = &b.server;
        let (thumbprint, cert) = match installed.as_slice() {
            [one] => (one.thumbprint.to_ascii_uppercase(), Some(*one)),
            [] => (given.first().copied().unwrap_or_default().to_string(), None),
            several => {
                let list: Vec<&str> = several.iter().map(|c| c.thumbprint.as_str()).collect();
                self.check(
                    format!("certificate:{server}"),
                    format!("Certificate on {server}"),
                    false,
                    format!(
                        "{server} holds more than one of the request's certificates ({}); OWA's web.config names one, \
                         so give only the one this server uses.",
                        list.join(", ")
                    ),
                );
                return list[0].to_string();
            }
        };
        let title = format!("Certificate {thumbprint} on {server}");
        let id = format!("certificate:{server}");
        let Some(c) = cert else {
            let detail = if given.len() == 1 {
                format!("No certificate with thumbprint {thumbprint} is installed on {server}.")
            } else {
                format!(
                    "None of the request's certificates ({}) is installed on {server}.",
                    given.join(", ")
                )
            };
            self.check(id, title, false, detail);
            return thumbprint;
        };
        let issuer = if c.issuer.is_empty() {
            String::new()
        } else {
            format!(" (issued by {})", c.issuer)
        };
        let failure = if c.not_after <= self.now {
            Some(format!(
                "The certificate expired on {}.",
                c.not_after.format("%Y-%m-%d")
            ))
        } else if c.not_before > self.now {
            Some(format!(
                "The certificate is not valid before {}.",
                c.not_before.format("%Y-%m-%d")
            ))
        } else if !c.has_private_key {
            Some("The certificate has no private key.".to_string())
        } else if c.is_self_signed {
            Some(format!(
                "The certificate is self-signed{issuer}. Lync must trust the certificate OWA presents, so it must be \
                 issued by a certification authority both Exchange and Lync trust, such as the internal CA \
                 (ARTICLE §1.6 step 3)."
            ))
        } else if c.status.eq_ignore_ascii_case("Untrusted") {
            Some(format!(
                "Windows on {server} does not trust the certificate's chain (Status Untrusted){issuer}. Lync must trust \
                 the certificate OWA presents: install the issuing CA's chain on both sides or use a certificate from a \
                 CA both trust (ARTICLE §1.6 step 3)."
            ))
        } else if !c.chain_valid() {
            Some(format!(
                "The certificate's status is {}{issuer}; Windows on {server} must report it Valid.",
                c.status
            ))
        } else if !c.subject_names(owa) && !c.san_names(owa) {
            Some(format!(
                "The certificate ({}) does not name {owa} in its subject or subject alternative names; the trusted \
                 application pool FQDN must match them (ARTICLE §1.5).",
                c.subject
            ))
        } else if !c.subject_names(owa) {
            // The article asks for the pool FQDN in both the Subject and the SANs.
            Some(format!(
                "The certificate names {owa} among its subject alternative names, but its subject is {}; the \
                 OWA pool FQDN must be the certificate's Subject name and be in its SANs (ARTICLE §1.5).",
                c.subject
            ))
        } else if !c.san_names(owa) {
            Some(format!(
                "The certificate's subject is {owa}, but its subject alternative names ({}) do not include it; \
                 the OWA pool FQDN must be the certificate's Subject name and be in its SANs (ARTICLE §1.5).",
                if c.domains.is_empty() {
                    "none".to_string()
                } else {
                    c.domains.join(", ")
                }
            ))
        } else {
            None
        };
        if let Some(detail) = failure {
            self.check(id, title, false, detail);
            return thumbprint;
        }
        let valid = format!(
            "{}{issuer} is valid until {}, has a private key, is trusted on {server} and names {owa} in its Subject \
             and SANs.",
            c.subject,
            c.not_after.format("%Y-%m-%d")
        );
        let left = c.not_after - self.now;
        if left <= EXPIRY_WARNING {
            self.warn(
                id,
                title,
                format!(
                    "{valid} It expires on {} ({} days from now): renew it, install the new certificate on every \
                     Mailbox server and change IMCertificateThumbprint before then, or OWA loses IM (MSExchange OWA \
                     warns with event 106).",
                    c.not_after.format("%Y-%m-%d"),
                    left.num_days()
                ),
            );
        } else {
            self.check(id, title, true, valid);
        }
        thumbprint
    }

    /// Whether the OWA servers are autodiscovered once the dial-plan step has run, decided
    /// from the organization rather than from the name typed into the request: when every
    /// Exchange 2013 Mailbox server (where OWA's IM runs) is autodiscovered, or the named OWA
    /// server is, no trusted application pool may be created. Returns the names a manual
    /// duplicate pool may carry (the named FQDN and the autodiscovered servers), or `None`.
    fn owa_autodiscovered(&mut self, after: &Facts) -> Option<Vec<String>> {
        let owa = self.owa();
        let discovered = after.autodiscovered_servers();
        self.discovered = discovered.iter().map(|s| s.to_string()).collect();
        let is_discovered = |fqdn: &str| discovered.iter().any(|s| same_name(s, fqdn));
        let mailbox: Vec<&str> = after
            .backend_servers()
            .iter()
            .map(|s| s.fqdn.as_str())
            .collect();
        let (found, missing): (Vec<&str>, Vec<&str>) =
            mailbox.iter().partition(|s| is_discovered(s));
        let names = || {
            let mut names = vec![owa.to_string()];
            names.extend(
                discovered
                    .iter()
                    .filter(|s| !same_name(s, owa))
                    .map(|s| s.to_string()),
            );
            names
        };
        if !mailbox.is_empty() && missing.is_empty() {
            self.notes.push(format!(
                "Every Exchange 2013 Mailbox server ({}) runs both the Exchange UM Call Router and the UM service and \
                 hosts a SipName dial plan, so Lync autodiscovers them all and adds them to its Known Servers List. No \
                 trusted application pool is created, whatever OWA pool FQDN the request names ({owa}): a manual one \
                 would give the topology two entries for the same computers and stop OWA integration from working \
                 (ARTICLE §1.4).",
                found.join(", ")
            ));
            return Some(names());
        }
        if is_discovered(owa) {
            let mut note = format!(
                "{owa} runs both the Exchange UM Call Router and the UM service and hosts a SipName dial plan, so Lync \
                 autodiscovers it and adds it to its Known Servers List. No trusted application pool is created for it: \
                 a manual one would give the topology two entries for the same computer and stop OWA integration from \
                 working (ARTICLE §1.4)."
            );
            if !missing.is_empty() {
                note.push_str(&format!(
                    " The other Exchange 2013 Mailbox servers ({}) are not autodiscovered: people whose mailboxes are \
                     there reach Lync only through a trusted application pool naming them.",
                    missing.join(", ")
                ));
            }
            self.notes.push(note);
            return Some(names());
        }
        if !found.is_empty() {
            self.notes.push(format!(
                "Lync autodiscovers some Exchange 2013 Mailbox servers ({}) but not {}. The trusted application pool \
                 {owa} is created for the others; none of its computers may be an autodiscovered server, or the \
                 topology gets two entries for it and OWA integration stops working there (ARTICLE §1.4).",
                found.join(", "),
                missing.join(", ")
            ));
        }
        None
    }

    fn lync_steps(
        &mut self,
        site_id: Option<&str>,
        autodiscovered: Option<Vec<String>>,
    ) -> Vec<Step> {
        let (owa, registrar) = (self.owa(), self.registrar());
        let app_id = self.integration().application_id.as_str();
        let port = self.integration().port.get();
        let lync = &self.facts.lync;
        let existing_pool = lync
            .trusted_pools
            .iter()
            .find(|p| same_name(&p.pool_fqdn, owa))
            .cloned();
        let apps_in_pool: Vec<_> = lync
            .trusted_applications
            .iter()
            .filter(|a| same_name(&a.pool_fqdn, owa))
            .cloned()
            .collect();
        let mut steps = Vec::new();
        let skip = |why: &str| Decision::Skipped(why.to_string());

        if let Some(names) = autodiscovered {
            let why = "Lync autodiscovers the OWA servers (UM Call Router and UM service on the same computer, hosting a SipName dial plan); a trusted application pool must not be created (ARTICLE §1.4).";
            let duplicates: Vec<_> = lync
                .trusted_pools
                .iter()
                .filter(|p| names.iter().any(|n| same_name(&p.pool_fqdn, n)))
                .cloned()
                .collect();
            for pool in &duplicates {
                let apps: Vec<_> = lync
                    .trusted_applications
                    .iter()
                    .filter(|a| same_name(&a.pool_fqdn, &pool.pool_fqdn))
                    .cloned()
                    .collect();
                steps.push(self.remove_duplicate_step(pool, &apps));
            }
            steps.push(pool_step(
                owa,
                registrar,
                site_id.unwrap_or(""),
                &[],
                skip(why),
            ));
            steps.push(app_step(owa, app_id, port, skip(why)));
            steps.push(publish_step(skip(why)));
            return steps;
        }

        let computers = self.pool_computers();
        let pool_decision = match &existing_pool {
            None => Decision::Change,
            Some(p) => {
                let registrar_ok = same_name(service_fqdn(&p.registrar), registrar);
                let site_ok = site_id.is_some_and(|id| {
                    lync.sites
                        .iter()
                        .any(|s| s.site_id == id && same_name(&s.identity, &p.site))
                });
                self.check("existing-pool", "An existing trusted application pool matches the request",
                    registrar_ok && site_ok,
                    if registrar_ok && site_ok {
                        format!("{} already exists with registrar {registrar} in the requested site.", p.identity)
                    } else {
                        format!("{} already exists with registrar “{}” in {}; imlink does not change an existing pool. \
                                 Fix the request or the pool first.", p.identity, p.registrar, p.site)
                    });
                self.check_pool_computers(p, &computers);
                Decision::Satisfied(format!("{} already exists.", p.identity))
            }
        };
        let ours = apps_in_pool
            .iter()
            .find(|a| same_name(&a.application_id, app_id));
        let clash = apps_in_pool
            .iter()
            .find(|a| a.port == port && !same_name(&a.application_id, app_id));
        self.check(
            "port",
            format!("Port {port} is free in the pool"),
            clash.is_none(),
            match clash {
                Some(a) => format!(
                    "{} already uses port {port}; ports are unique per pool.",
                    a.identity
                ),
                None => format!("No other trusted application in {owa} uses port {port}."),
            },
        );
        let app_decision = match ours {
            None => Decision::Change,
            Some(a) if a.port == port => {
                Decision::Satisfied(format!("{} already exists on port {port}.", a.identity))
            }
            Some(a) => {
                self.check(
                    "existing-application",
                    "An existing trusted application matches the request",
                    false,
                    format!(
                        "{} already exists on port {}, not {port}; imlink does not change it.",
                        a.identity, a.port
                    ),
                );
                Decision::Satisfied(format!("{} already exists.", a.identity))
            }
        };
        let publish = if pool_decision == Decision::Change || app_decision == Decision::Change {
            Decision::Change
        } else {
            Decision::Satisfied(
                "The trusted application pool and application are already published.".into(),
            )
        };
        steps.push(pool_step(
            owa,
            registrar,
            site_id.unwrap_or(self.spec.site_id.as_str()),
            &computers,
            pool_decision,
        ));
        steps.push(app_step(owa, app_id, port, app_decision));
        steps.push(publish_step(publish));
        steps
    }

    /// The computers of a new trusted application pool. When the OWA pool FQDN names an
    /// Exchange server, none are given: the pool's one computer takes the pool's name, as in
    /// the article. Otherwise the name is a load-balanced name in front of the Exchange 2013
    /// Mailbox servers, where OWA's IM endpoint runs, and each becomes a computer of the pool
    /// (the documented way to give a trusted application pool several computers).
    fn pool_computers(&mut self) -> Vec<String> {
        let owa = self.owa();
        if self
            .facts
            .exchange
            .servers
            .iter()
            .any(|s| same_name(&s.fqdn, owa))
        {
            return Vec::new();
        }
        let computers: Vec<String> = self
            .facts
            .backend_servers()
            .iter()
            .filter(|s| !self.discovered.iter().any(|d| same_name(d, &s.fqdn)))
            .map(|s| s.fqdn.to_ascii_lowercase())
            .collect();
        if !computers.is_empty() {
            self.notes.push(format!(
                "{owa} is not the name of an Exchange server, so it is taken as a load-balanced name in front of the \
                 Exchange 2013 Mailbox servers ({}). The trusted application pool gets each of them as a computer: \
                 the first with -ComputerFqdn, the others with New-CsTrustedApplicationComputer. Every one of them \
                 must present a certificate naming {owa}.",
                computers.join(", ")
            ));
        }
        computers
    }

    /// An existing pool must already hold the computers a new one would get.
    fn check_pool_computers(
        &mut self,
        pool: &crate::procedure::facts::TrustedPool,
        wanted: &[String],
    ) {
        if wanted.is_empty() || pool.computers.is_empty() {
            return;
        }
        let missing: Vec<&str> = wanted
            .iter()
            .filter(|w| !pool.computers.iter().any(|c| same_name(c, w)))
            .map(String::as_str)
            .collect();
        let (passed, detail) = if missing.is_empty() {
            (
                true,
                format!(
                    "{} holds every Mailbox server as a computer.",
                    pool.pool_fqdn
                ),
            )
        } else {
            let commands: Vec<String> = missing
                .iter()
                .map(|m| {
                    Command::new("New-CsTrustedApplicationComputer")
                        .arg("Identity", Value::text(m))
                        .arg("Pool", Value::text(&pool.pool_fqdn))
                        .to_string()
                })
                .collect();
            (
                false,
                format!(
                    "{} lacks the computers {}; Lync does not trust OWA on them. imlink does not change an existing \
                     pool: add them ({}), then publish the topology, or remove the pool. A pool whose only computer \
                     carries the pool's name cannot take another.",
                    pool.pool_fqdn,
                    missing.join(", "),
                    commands.join("; ")
                ),
            )
        };
        self.check(
            "pool-computers",
            "The trusted application pool holds every server behind the OWA name",
            passed,
            detail,
        );
    }

    fn remove_duplicate_step(
        &mut self,
        pool: &crate::procedure::facts::TrustedPool,
        apps: &[crate::procedure::facts::TrustedApplication],
    ) -> Step {
        let mut apply = Vec::new();
        if pool.registrar.trim().is_empty() {
            // A pool without a registrar cannot be removed (Remove-CsTrustedApplicationPool).
            apply.push(
                Command::new("Set-CsTrustedApplicationPool")
                    .arg("Identity", Value::text(&pool.pool_fqdn))
                    .arg("Registrar", Value::text(self.registrar()))
                    .to_string(),
            );
        }
        for app in apps {
            apply.push(
                Command::new("Remove-CsTrustedApplication")
                    .arg(
                        "Identity",
                        Value::text(format!("{}/{}", app.pool_fqdn, app.application_id)),
                    )
                    .switch("Force")
                    .to_string(),
            );
        }
        apply.push(
            Command::new("Remove-CsTrustedApplicationPool")
                .arg("Identity", Value::text(&pool.pool_fqdn))
                .switch("Force")
                .to_string(),
        );
        apply.push("Enable-CsTopology".to_string());
        Step {
            // One step per duplicate: the named pool's keeps the plain id.
            id: if same_name(&pool.pool_fqdn, self.owa()) {
                "remove-duplicate-pool".into()
            } else {
                format!(
                    "remove-duplicate-pool:{}",
                    pool.pool_fqdn.to_ascii_lowercase()
                )
            },
            title: format!(
                "Remove the manual trusted application pool {}",
                pool.pool_fqdn
            ),
            target: Target::LyncShell,
            apply,
            check: format!(
                "$null -eq (Get-CsTrustedApplicationPool -Identity {} -ErrorAction SilentlyContinue)",
                quote(&pool.pool_fqdn)
            ),
            expect_output: None,
            explanation: format!(
                "{} is autodiscovered by Lync, yet a trusted application pool was also created for it. The topology now \
                 holds two entries for the same computer, which stops OWA integration from working. The documented remedy \
                 is to remove the trusted application and the pool, then publish the topology. This repair is not rolled \
                 back: restoring the duplicate would restore the failure.",
                pool.pool_fqdn
            ),
            reference:
                "ARTICLE §1.4 (Remove-CsTrustedApplication, Remove-CsTrustedApplicationPool)".into(),
            decision: Decision::Change,
            rollback: Vec::new(),
        }
    }

    /// Adds every Exchange 2013 Client Access and Mailbox server to every SIP URI dial plan;
    /// returns the step and the facts as they will be after it.
    fn dial_plan_step(&mut self) -> (Step, Facts) {
        let mut after = self.facts.clone();
        let sip: Vec<String> = self
            .facts
            .sip_dial_plans()
            .iter()
            .map(|d| d.name.clone())
            .collect();
        let (mut apply, mut rollback, mut reads) = (Vec::new(), Vec::new(), Vec::new());
        for server in self
            .facts
            .exchange
            .servers
            .iter()
            .filter(|s| s.is_exchange_2013())
        {
            for (role, cmdlet, parameter, list) in [
                (
                    "Mailbox",
                    "Set-UMService",
                    "Identity",
                    &mut after.exchange.um_services,
                ),
                (
                    "ClientAccess",
                    "Set-UMCallRouterSettings",
                    "Server",
                    &mut after.exchange.um_call_routers,
                ),
            ] {
                if !server.has_role(role) {
                    continue;
                }
                // Each server is read by name: without it the call router's cmdlet reads
                // only the local server.
                let getter = if parameter == "Identity" {
                    "Get-UMService"
                } else {
                    "Get-UMCallRouterSettings"
                };
                reads.push(format!("@({getter} -{parameter} {})", quote(&server.fqdn)));
                let entry = match list.iter().position(|a| same_name(&a.server, &server.fqdn)) {
                    Some(i) => &mut list[i],
                    None => {
                        list.push(crate::procedure::facts::UmAssignment {
                            server: server.fqdn.clone(),
                            dial_plans: Vec::new(),
                        });
                        list.last_mut().expect("just pushed")
                    }
                };
                for plan in &sip {
                    if entry.dial_plans.iter().any(|p| same_name(p, plan)) {
                        continue;
                    }
                    entry.dial_plans.push(plan.clone());
                    let change = |add| {
                        Command::new(cmdlet)
                            .arg(parameter, Value::text(&server.fqdn))
                            .arg(
                                "DialPlans",
                                Value::Change {
                                    add,
                                    item: plan.clone(),
                                },
                            )
                            .to_string()
                    };
                    apply.push(change(true));
                    rollback.push(change(false));
                }
            }
        }
        let decision = if sip.is_empty() {
            Decision::Skipped("There is no SIP URI dial plan.".into())
        } else if apply.is_empty() {
            Decision::Satisfied(
                "Every Client Access and Mailbox server is already in every SIP URI dial plan."
                    .into(),
            )
        } else {
            Decision::Change
        };
        let check = if sip.is_empty() || reads.is_empty() {
            "$True".to_string()
        } else {
            let plans = sip.iter().map(|p| quote(p)).collect::<Vec<_>>().join(", ");
            format!(
                "$plans = @({plans}); {} | ForEach-Object {{ $d = {UM_DIAL_PLANS}; \
                 $plans | Where-Object {{ $d -notcontains $_ }} }} | Measure-Object | ForEach-Object {{ $_.Count -eq 0 }}",
                reads.join(" + ")
            )
        };
        let step = Step {
            id: "sip-dial-plans".into(),
            title: "Add the Exchange Client Access and Mailbox servers to every SIP URI dial plan".into(),
            target: Target::ExchangeShell,
            apply,
            check,
            expect_output: None,
            explanation: "Lync needs the Exchange Client Access and Mailbox servers in all SIP URI dial plans, which makes \
                them trusted SIP peers (ExUmRouting). The servers are added to each missing plan; existing memberships are kept."
                .into(),
            reference: "ARTICLE §1.5 step 4; Set-UMService, Set-UMCallRouterSettings".into(),
            decision,
            rollback,
        };
        (step, after)
    }

    /// Sets IM on every Exchange 2013 front-end OWA virtual directory as `im` says.
    pub(super) fn vdir_step(&mut self, im: Im) -> Option<Step> {
        let front: Vec<_> = self
            .facts
            .exchange
            .owa_virtual_directories
            .iter()
            .filter(|v| !v.backend && self.facts.is_exchange_2013_server(&v.server))
            .collect();
        if front.is_empty() && !self.exchange_usable() {
            return None;
        }
        self.check(
            "owa-front-end",
            "Front-end OWA virtual directories were found",
            !front.is_empty(),
            if front.is_empty() {
                "Get-OwaVirtualDirectory returned no front-end (Client Access) virtual directory on an \
                 Exchange 2013 server."
                    .to_string()
            } else {
                format!("{} front-end OWA virtual directories.", front.len())
            },
        );
        if front.is_empty() {
            return None;
        }
        let pending: Vec<_> = front
            .iter()
            .filter(|v| !im.holds(v.instant_messaging_enabled, &v.instant_messaging_type))
            .collect();
        let rollback = pending
            .iter()
            .map(|v| {
                Command::new("Set-OwaVirtualDirectory")
                    .arg("Identity", Value::text(&v.identity))
                    .arg(
                        "InstantMessagingEnabled",
                        Value::Bool(v.instant_messaging_enabled),
                    )
                    .arg(
                        "InstantMessagingType",
                        Value::text(&v.instant_messaging_type),
                    )
                    .to_string()
            })
            .collect();
        // With Exchange 2010 in the organization, only the Exchange 2013 servers' directories
        // are changed, server by server.
        let coexisting = self
            .facts
            .exchange
            .servers
            .iter()
            .any(|s| s.is_exchange_2010());
        let set = format!("Set-OwaVirtualDirectory {}", im.parameters());
        let (apply, source) = if coexisting {
            let mut servers: Vec<&str> = front.iter().map(|v| v.server.as_str()).collect();
            servers.sort_unstable_by_key(|s| s.to_ascii_lowercase());
            servers.dedup_by(|a, b| same_name(a, b));
            let quoted: Vec<String> = servers.iter().map(|s| Value::text(s).to_string()).collect();
            (
                quoted
                    .iter()
                    .map(|q| format!("Get-OwaVirtualDirectory -Server {q} | {set}"))
                    .collect(),
                format!(
                    "{} | ForEach-Object {{ Get-OwaVirtualDirectory -Server $_ }}",
                    quoted.join(", ")
                ),
            )
        } else {
            (
                vec![format!("Get-OwaVirtualDirectory | {set}")],
                "Get-OwaVirtualDirectory".to_string(),
            )
        };
        let (id, title, explanation, reference, satisfied) = match im {
            Im::On => (
                "owa-virtual-directories",
                "Turn on Lync instant messaging in OWA's front-end virtual directories",
                "Get-OwaVirtualDirectory returns the front-end (Client Access) virtual directories; each gets \
                 InstantMessagingType OCS (the default is None) and IM enabled. Back-end virtual directories are left alone, \
                 as the procedure recommends.",
                "ARTICLE §1.6 step 1",
                "Every front-end OWA virtual directory already has IM enabled with type OCS.",
            ),
            Im::Off => (
                "owa-virtual-directories-off",
                "Turn IM off in OWA's front-end virtual directories",
                "IM is on by default in OWA; without Lync integration people see blank presence icons and an error \
                 message at every sign-in. Turning it off on the front-end (Client Access) virtual directories ends that.",
                "ARTICLE §1.8",
                "IM is already off in every front-end OWA virtual directory.",
            ),
        };
        Some(Step {
            id: id.into(),
            title: title.into(),
            target: Target::ExchangeShell,
            apply,
            check: format!(
                "@({source} | Where-Object {{ {} }}).Count -eq 0",
                im.unmet("$_")
            ),
            expect_output: None,
            explanation: explanation.into(),
            reference: reference.into(),
            decision: if pending.is_empty() {
                Decision::Satisfied(satisfied.into())
            } else {
                Decision::Change
            },
            rollback,
        })
    }

    fn web_config_step(&mut self, b: &Backend, thumbprint: &str) -> Step {
        let keys = [
            ("IMCertificateThumbprint", thumbprint),
            ("IMServerName", self.registrar()),
        ];
        let satisfied = keys.iter().all(|(k, v)| {
            b.app_setting(k)
                .is_some_and(|have| same_name(have.trim(), v))
        });
        let (apply, rollback) = web_config_edit(b, &keys.map(|(key, value)| (key, Some(value))));
        let check = format!(
            "$config = [xml](Get-Content -LiteralPath (Join-Path $env:ExchangeInstallPath 'ClientAccess\\Owa\\web.config') -Raw); \
             $s = @($config.configuration.appSettings.add); \
             [bool](@($s | Where-Object {{ $_.key -eq 'IMCertificateThumbprint' -and $_.value -eq {} }}).Count -and \
             @($s | Where-Object {{ $_.key -eq 'IMServerName' -and $_.value -eq {} }}).Count)",
            quote(thumbprint),
            quote(self.registrar())
        );
        Step {
            id: format!("web-config:{}", b.server),
            title: format!(
                "Set IMCertificateThumbprint and IMServerName in OWA's web.config on {}",
                b.server
            ),
            target: Target::Backend(b.server.clone()),
            apply,
            check,
            expect_output: None,
            explanation: format!(
                "OWA on the back end reads the certificate thumbprint ({}) and the Lync pool ({}) from appSettings in \
                 ClientAccess\\Owa\\web.config. Existing keys are updated in place, missing ones added, and the file is \
                 copied to a timestamped .bak first. Exchange cumulative updates rewrite this file, so re-run the plan after each CU.",
                thumbprint,
                self.registrar()
            ),
            reference: "ARTICLE §1.6 step 2".into(),
            decision: if satisfied {
                Decision::Satisfied("Both keys already hold these values.".into())
            } else {
                Decision::Change
            },
            rollback,
        }
    }

    fn recycle_step(&self, server: &str, config_changed: bool) -> Step {
        Step {
            id: recycle_step_id(server),
            title: format!("Recycle MSExchangeOWAAppPool on {server}"),
            target: Target::Backend(server.to_string()),
            apply: vec![RECYCLE_COMMAND.to_string()],
            // Recycled since web.config last changed: OWA's worker process is younger.
            check: "$config = Join-Path $env:ExchangeInstallPath 'ClientAccess\\Owa\\web.config'; \
                    $pool = Get-CimInstance -Namespace 'root/WebAdministration' -ClassName 'WorkerProcess' | Where-Object { $_.AppPoolName -eq 'MSExchangeOWAAppPool' } | Select-Object -First 1; \
                    [bool]($pool -and (Get-Process -Id $pool.ProcessId).StartTime -gt (Get-Item -LiteralPath $config).LastWriteTime)"
                .into(),
            expect_output: Some(RECYCLED.to_string()),
            explanation: "OWA reads web.config when its application pool starts; appcmd recycles it and must print \
                \"MSExchangeOWAAppPool\" successfully recycled. Rolling back web.config recycles the pool again.".into(),
            reference: "ARTICLE §1.6 step 4".into(),
            decision: if config_changed {
                Decision::Change
            } else {
                Decision::Satisfied("web.config is unchanged on this server, so OWA needs no recycle.".into())
            },
            rollback: Vec::new(),
        }
    }

    /// Sets IM in the request's OWA mailbox policies as `im` says.
    pub(super) fn policy_step(&mut self, im: Im) -> Option<Step> {
        let policies = &self.facts.exchange.owa_mailbox_policies;
        let set = |identity: Option<&str>| {
            let mut cmd = Command::new("Set-OwaMailboxPolicy");
            if let Some(name) = identity {
                cmd = cmd.arg("Identity", Value::text(name));
            }
            match im {
                Im::On => cmd
                    .arg("InstantMessagingEnabled", Value::Bool(true))
                    .arg("InstantMessagingType", Value::text("OCS")),
                Im::Off => cmd.arg("InstantMessagingEnabled", Value::Bool(false)),
            }
            .to_string()
        };
        let restore = |p: &crate::procedure::facts::OwaMailboxPolicy| {
            Command::new("Set-OwaMailboxPolicy")
                .arg("Identity", Value::text(&p.name))
                .arg(
                    "InstantMessagingEnabled",
                    Value::Bool(p.instant_messaging_enabled),
                )
                .arg(
                    "InstantMessagingType",
                    Value::text(&p.instant_messaging_type),
                )
                .to_string()
        };
        let holds = |p: &crate::procedure::facts::OwaMailboxPolicy| {
            im.holds(p.instant_messaging_enabled, &p.instant_messaging_type)
        };
        let (apply, pending, names, check) = match &self.spec.policies {
            PolicySelection::All => {
                let pending: Vec<_> = policies.iter().filter(|p| !holds(p)).collect();
                (
                    vec![format!("Get-OwaMailboxPolicy | {}", set(None))],
                    pending,
                    "every OWA mailbox policy".to_string(),
                    format!(
                        "@(Get-OwaMailboxPolicy | Where-Object {{ {} }}).Count -eq 0",
                        im.unmet("$_")
                    ),
                )
            }
            PolicySelection::Named(names) => {
                let mut pending = Vec::new();
                let mut missing = Vec::new();
                for name in names {
                    match policies.iter().find(|p| same_name(&p.name, name.as_str())) {
                        Some(p) if !holds(p) => pending.push(p),
                        Some(_) => {}
                        None => missing.push(name.to_string()),
                    }
                }
                self.check(
                    "mailbox-policies",
                    "The OWA mailbox policies exist",
                    missing.is_empty(),
                    if missing.is_empty() {
                        format!(
                            "Found {}.",
                            names
                                .iter()
                                .map(|n| n.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    } else {
                        format!(
                            "Get-OwaMailboxPolicy knows no policy {}.",
                            missing.join(", ")
                        )
                    },
                );
                let checks = names
                    .iter()
                    .map(|n| {
                        format!(
                            "$p = Get-OwaMailboxPolicy -Identity {}; ({})",
                            quote(n.as_str()),
                            im.condition("$p")
                        )
                    })
                    .collect::<Vec<_>>();
                (
                    pending.iter().map(|p| set(Some(&p.name))).collect(),
                    pending,
                    names
                        .iter()
                        .map(|n| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    format!("@(& {{ {} }}) -notcontains $False", checks.join("; ")),
                )
            }
        };
        let (id, title, satisfied, explanation, reference) = match im {
            Im::On => (
                "owa-mailbox-policies",
                format!("Enable Lync instant messaging in {names}"),
                format!("IM is already enabled with type OCS in {names}."),
                "Users get IM in OWA only when their OWA mailbox policy enables it with type OCS (and they have \
                 an Exchange 2013 mailbox, are enabled for Lync, and have a SIP proxy address).",
                "ARTICLE §1.7",
            ),
            Im::Off => (
                "owa-mailbox-policies-off",
                format!("Turn IM off in {names}"),
                format!("IM is already off in {names}."),
                "With IM off in their OWA mailbox policy, people are offered no IM in OWA, so they see no blank \
                 presence icons or sign-in error.",
                "ARTICLE §1.8 (Set-OwaMailboxPolicy -InstantMessagingEnabled)",
            ),
        };
        let decision = if pending.is_empty() {
            Decision::Satisfied(satisfied)
        } else {
            Decision::Change
        };
        Some(Step {
            id: id.into(),
            title,
            target: Target::ExchangeShell,
            apply: if pending.is_empty() {
                apply.into_iter().take(1).collect()
            } else {
                apply
            },
            check,
            expect_output: None,
            explanation: explanation.into(),
            reference: reference.into(),
            decision,
            rollback: pending.into_iter().map(restore).collect(),
        })
    }
}
