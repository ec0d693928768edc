//! Sample environments for tests and documentation: the article's Litware organization and
//! variants with one thing changed. Compiled only for tests and with the `samples` feature.

use chrono::{TimeZone, Utc};

use super::facts::{Facts, TrustedApplication, TrustedPool, UmAssignment};
use crate::domain::request::{RequestFile, RequestInput};

/// The article's example request (`testdata/article-request.json`).
pub fn article_request() -> RequestInput {
    request_file().to_input()
}

/// The article's example request as a request file.
pub fn request_file() -> RequestFile {
    serde_json::from_str(include_str!("testdata/article-request.json")).expect("sample request")
}

/// The article's topology: site Redmond, Lync pool atl-cs-001, OWA (Client Access) on
/// atl-owa-001, the Mailbox back end on atl-mbx-001, UM and its call router on separate
/// computers (`testdata/litware-facts.json`).
pub fn litware() -> Facts {
    serde_json::from_str(include_str!("testdata/litware-facts.json")).expect("sample facts")
}

/// The UM Call Router and the UM service both run on the OWA server, which hosts the SipName
/// dial plan: Lync autodiscovers it.
pub fn colocated_um() -> Facts {
    let mut f = litware();
    f.exchange.servers[0].roles = vec!["ClientAccess".into(), "Mailbox".into()];
    f.exchange.um_services.push(UmAssignment {
        server: "atl-owa-001.litwareinc.com".into(),
        dial_plans: vec!["RedmondDialPlan".into()],
    });
    let mut backend = f.exchange.backends[0].clone();
    backend.server = "atl-owa-001.litwareinc.com".into();
    f.exchange.backends.push(backend);
    f
}

fn manual_pool(f: &mut Facts, application_id: &str) {
    f.lync.trusted_pools.push(TrustedPool {
        identity: "TrustedApplicationPool:atl-owa-001.litwareinc.com".into(),
        pool_fqdn: "atl-owa-001.litwareinc.com".into(),
        registrar: "Registrar:atl-cs-001.litwareinc.com".into(),
        site: "Site:Redmond".into(),
    });
    f.lync.trusted_applications.push(TrustedApplication {
        identity: format!(
            "atl-owa-001.litwareinc.com/urn:application:{}",
            application_id.to_lowercase()
        ),
        application_id: application_id.into(),
        pool_fqdn: "atl-owa-001.litwareinc.com".into(),
        port: 5199,
    });
}

/// [`colocated_um`] plus a manual trusted application pool for the autodiscovered server: the
/// documented failure.
pub fn duplicate_pool() -> Facts {
    let mut f = colocated_um();
    manual_pool(&mut f, "outlookwebapp");
    f
}

/// Litware after the article's procedure has been carried out.
pub fn integrated() -> Facts {
    let mut f = litware();
    manual_pool(&mut f, "OutlookWebApp");
    f.exchange.um_call_routers[0]
        .dial_plans
        .push("RedmondDialPlan".into());
    for v in &mut f.exchange.owa_virtual_directories {
        if !v.backend {
            v.instant_messaging_type = "Ocs".into();
        }
    }
    for p in &mut f.exchange.owa_mailbox_policies {
        p.instant_messaging_type = "Ocs".into();
    }
    let settings = &mut f.exchange.backends[0].owa_app_settings;
    settings.push((
        "IMCertificateThumbprint".into(),
        "EA5A332496CC05DA69B75B66111C0F78A110D22D".into(),
    ));
    settings.push(("IMServerName".into(), "atl-cs-001.litwareinc.com".into()));
    f
}

/// The UCMA 4.0 registry value is missing on the back end.
pub fn ucma_missing() -> Facts {
    let mut f = litware();
    f.exchange.backends[0].ucma_dll_path = None;
    f.exchange.backends[0].ucma_dll_exists = false;
    f
}

/// The back end's certificate has another thumbprint, and the one with the requested
/// thumbprint is missing.
pub fn cert_mismatch() -> Facts {
    let mut f = litware();
    f.exchange.backends[0].certificates[0].thumbprint =
        "0123456789ABCDEF0123456789ABCDEF01234567".into();
    f
}

/// An Exchange 2010 server remains in the organization (coexistence during a migration), with
/// its own OWA virtual directory.
pub fn mixed_2010() -> Facts {
    let mut f = litware();
    f.exchange.servers.push(super::facts::ExchangeServer {
        name: "ATL-EX2010".into(),
        fqdn: "atl-ex2010.litwareinc.com".into(),
        roles: vec!["Mailbox".into(), "ClientAccess".into()],
        admin_display_version: "Version 14.3 (Build 123.4)".into(),
    });
    f.exchange
        .owa_virtual_directories
        .push(super::facts::OwaVirtualDirectory {
            identity: "ATL-EX2010\\owa (Default Web Site)".into(),
            server: "atl-ex2010.litwareinc.com".into(),
            backend: false,
            instant_messaging_enabled: false,
            instant_messaging_type: "None".into(),
        });
    f
}

/// Every Exchange 2013 Mailbox server is autodiscovered (the Mailbox server also runs the
/// Client Access role, UM and its call router, with the SipName dial plan), while the request
/// names the OWA server `atl-owa-001`, for which a manual trusted application pool exists: no
/// pool is needed, whatever the name typed, and the manual one is a duplicate.
pub fn all_autodiscovered() -> Facts {
    let mut f = litware();
    let mailbox = "atl-mbx-001.litwareinc.com";
    for server in &mut f.exchange.servers {
        if server.fqdn == mailbox {
            server.roles = vec!["Mailbox".into(), "ClientAccess".into()];
        }
    }
    for list in [&mut f.exchange.um_services, &mut f.exchange.um_call_routers] {
        match list.iter_mut().find(|a| a.server == mailbox) {
            Some(a) => a.dial_plans = vec!["RedmondDialPlan".into()],
            None => list.push(UmAssignment {
                server: mailbox.into(),
                dial_plans: vec!["RedmondDialPlan".into()],
            }),
        }
    }
    manual_pool(&mut f, "outlookwebapp");
    f
}

/// The site's SiteId is `1` while its display name is `Redmond`: the trap the article warns of.
pub fn site_id_differs() -> Facts {
    let mut f = litware();
    f.lync.sites[0].site_id = "1".into();
    f
}

/// Every named sample, for table-driven tests.
pub fn all() -> Vec<(&'static str, Facts)> {
    vec![
        ("litware", litware()),
        ("colocated-um", colocated_um()),
        ("duplicate-pool", duplicate_pool()),
        ("integrated", integrated()),
        ("ucma-missing", ucma_missing()),
        ("cert-mismatch", cert_mismatch()),
        ("mixed-2010", mixed_2010()),
        ("site-id-differs", site_id_differs()),
        ("all-autodiscovered", all_autodiscovered()),
    ]
}

/// The time the samples are planned at (the certificate is valid then).
pub fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
}
