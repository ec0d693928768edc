//! Sample environments for tests and documentation: the article's Litware organization and
//! variants with one thing changed. Compiled only for tests and with the `samples` feature.

use chrono::{TimeZone, Utc};

use super::facts::{Facts, TrustedApplication, TrustedPool, UmAssignment};
use crate::domain::request::{RequestFile, RequestInput};

/// The article's example request (`testdata/article-request.json`).
pub fn article_request() -> RequestInput {
    request_file().to_input()
}

/// A request that turns IM in OWA off for Redmond, on every OWA mailbox policy.
pub fn turn_off_request() -> RequestInput {
    RequestInput {
        kind: "turn_off".into(),
        site_id: "Redmond".into(),
        policy_scope: "all".into(),
        policies: String::new(),
        justification: "Redmond does not integrate with Lync: stop the blank presence icons."
            .into(),
        ..RequestInput::default()
    }
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
        computers: vec!["atl-owa-001.litwareinc.com".into()],
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

/// A Mailbox server beside `atl-mbx-001` with its own copy of the back end, named `fqdn`.
fn another_mailbox_server(f: &mut Facts, name: &str, fqdn: &str) {
    f.exchange.servers.push(super::facts::ExchangeServer {
        name: name.into(),
        fqdn: fqdn.into(),
        roles: vec!["Mailbox".into()],
        admin_display_version: "Version 15.0 (Build 1497.2)".into(),
    });
    f.exchange.um_services.push(UmAssignment {
        server: fqdn.into(),
        dial_plans: vec!["RedmondDialPlan".into()],
    });
    f.exchange
        .owa_virtual_directories
        .push(super::facts::OwaVirtualDirectory {
            identity: format!("{name}\\owa (Exchange Back End)"),
            server: fqdn.into(),
            backend: true,
            instant_messaging_enabled: true,
            instant_messaging_type: "None".into(),
        });
    let mut backend = f.exchange.backends[0].clone();
    backend.server = fqdn.into();
    f.exchange.backends.push(backend);
}

/// The thumbprint of `atl-mbx-002`'s own certificate in [`cert_per_server`].
pub const SECOND_THUMBPRINT: &str = "5B1E0C2D3F4A5B6C7D8E9F00112233445566778A";

/// Each Mailbox server has its own certificate: `atl-mbx-001` the article's, `atl-mbx-002`
/// one with [`SECOND_THUMBPRINT`]; both name the OWA pool `atl-owa-001`.
pub fn cert_per_server() -> Facts {
    let mut f = litware();
    another_mailbox_server(&mut f, "ATL-MBX-002", "atl-mbx-002.litwareinc.com");
    let cert = &mut f.exchange.backends[1].certificates[0];
    cert.thumbprint = SECOND_THUMBPRINT.into();
    cert.domains = vec![
        "atl-owa-001.litwareinc.com".into(),
        "atl-mbx-002.litwareinc.com".into(),
    ];
    f
}

/// The load-balanced OWA name of [`multi_server`].
pub const LOAD_BALANCED_OWA: &str = "mail.litwareinc.com";

/// Two Client Access servers and three Mailbox servers (a DAG) behind the load-balanced OWA
/// name [`LOAD_BALANCED_OWA`]; every Mailbox server holds the certificate naming it.
pub fn multi_server() -> Facts {
    let mut f = litware();
    f.exchange.servers.push(super::facts::ExchangeServer {
        name: "ATL-OWA-002".into(),
        fqdn: "atl-owa-002.litwareinc.com".into(),
        roles: vec!["ClientAccess".into()],
        admin_display_version: "Version 15.0 (Build 1497.2)".into(),
    });
    f.exchange.um_call_routers.push(UmAssignment {
        server: "atl-owa-002.litwareinc.com".into(),
        dial_plans: Vec::new(),
    });
    f.exchange
        .owa_virtual_directories
        .push(super::facts::OwaVirtualDirectory {
            identity: "ATL-OWA-002\\owa (Default Web Site)".into(),
            server: "atl-owa-002.litwareinc.com".into(),
            backend: false,
            instant_messaging_enabled: true,
            instant_messaging_type: "None".into(),
        });
    let cert = &mut f.exchange.backends[0].certificates[0];
    cert.subject = format!("CN={LOAD_BALANCED_OWA}, OU=Messaging, O=Litware Inc");
    cert.domains = vec![
        LOAD_BALANCED_OWA.into(),
        "atl-mbx-001.litwareinc.com".into(),
        "atl-mbx-002.litwareinc.com".into(),
        "atl-mbx-003.litwareinc.com".into(),
    ];
    another_mailbox_server(&mut f, "ATL-MBX-002", "atl-mbx-002.litwareinc.com");
    another_mailbox_server(&mut f, "ATL-MBX-003", "atl-mbx-003.litwareinc.com");
    f
}

/// A Director pool `atl-dir-001` beside the Front End pool.
pub fn director() -> Facts {
    let mut f = litware();
    let dir = "atl-dir-001.litwareinc.com";
    f.lync.pools.push(super::facts::Pool {
        fqdn: dir.into(),
        site: "Site:Redmond".into(),
        services: vec![
            format!("Registrar:{dir}"),
            format!("Director:{dir}"),
            format!("WebServer:{dir}"),
        ],
        registrar_version: Some(super::facts::LYNC_2013),
    });
    f
}

/// The back end's certificate is self-signed.
pub fn self_signed() -> Facts {
    let mut f = litware();
    let cert = &mut f.exchange.backends[0].certificates[0];
    cert.is_self_signed = true;
    cert.issuer = cert.subject.clone();
    f
}

/// [`mixed_2010`] with a Lync Server 2010 pool `atl-cs2010-001` still homing some people.
pub fn coexistence_2010() -> Facts {
    let mut f = mixed_2010();
    let old = "atl-cs2010-001.litwareinc.com";
    f.lync.pools.push(super::facts::Pool {
        fqdn: old.into(),
        site: "Site:Redmond".into(),
        services: vec![format!("Registrar:{old}"), format!("UserServer:{old}")],
        registrar_version: Some(super::facts::LYNC_2010),
    });
    f
}

/// The request each sample is planned with: the article's, with the load-balanced name for
/// [`multi_server`] and both certificates for [`cert_per_server`].
pub fn request_for(name: &str) -> RequestInput {
    let mut input = article_request();
    match name {
        "multi-server" => input.owa_pool_fqdn = LOAD_BALANCED_OWA.into(),
        "cert-per-server" => {
            input.thumbprint = format!("{}, {SECOND_THUMBPRINT}", input.thumbprint)
        }
        _ => {}
    }
    input
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
        ("coexistence-2010", coexistence_2010()),
        ("multi-server", multi_server()),
        ("director", director()),
        ("self-signed", self_signed()),
        ("cert-per-server", cert_per_server()),
    ]
}

/// The time the samples are planned at (the certificate is valid then).
pub fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
}
