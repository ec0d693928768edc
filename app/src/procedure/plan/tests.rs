//! Table and branch tests of the plan engine.

use super::*;
use crate::domain::request::RequestInput;
use crate::procedure::facts::{Certificate, TrustedApplication};
use crate::procedure::samples::{self, litware, now};
use chrono::TimeZone;

fn article() -> RequestInput {
    samples::article_request()
}

fn plan_for(input: &RequestInput, facts: &Facts) -> Plan {
    let spec = IntegrationSpec::validate(input, now()).unwrap();
    plan(&spec, facts, now())
}

fn step<'p>(plan: &'p Plan, id: &str) -> &'p Step {
    plan.steps.iter().find(|s| s.id == id).unwrap_or_else(|| {
        panic!(
            "no step {id} in {:?}",
            plan.steps.iter().map(|s| &s.id).collect::<Vec<_>>()
        )
    })
}

fn failed(plan: &Plan) -> Vec<&str> {
    plan.failures().iter().map(|p| p.id.as_str()).collect()
}

/// Removes PowerShell quoting so commands can be compared with the article's text.
fn unquoted(command: &str) -> String {
    command
        .replace(['\'', '"'], "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_articles_example_gives_the_articles_commands() {
    let p = plan_for(&article(), &litware());
    assert!(p.failures().is_empty(), "{:?}", p.failures());
    let article = [
        (
            "trusted-pool",
            "New-CsTrustedApplicationPool -Identity atl-owa-001.litwareinc.com -Registrar atl-cs-001.litwareinc.com -Site Redmond -RequiresReplication $False",
        ),
        (
            "trusted-application",
            "New-CsTrustedApplication -ApplicationId OutlookWebApp -TrustedApplicationPoolFqdn atl-owa-001.litwareinc.com  -Port 5199",
        ),
        ("publish-topology", "Enable-CsTopology"),
        (
            "owa-virtual-directories",
            "Get-OwaVirtualDirectory | Set-OwaVirtualDirectory -InstantMessagingEnabled $True -InstantMessagingType OCS",
        ),
        (
            "recycle:atl-mbx-001.litwareinc.com",
            r#"C:\Windows\System32\Inetsrv\Appcmd.exe recycle apppool /apppool.name:"MSExchangeOWAAppPool""#,
        ),
        (
            "owa-mailbox-policies",
            r#"Set-OwaMailboxPolicy -Identity "Default" -InstantMessagingEnabled $True -InstantMessagingType "OCS""#,
        ),
    ];
    let changed: Vec<&str> = p.changes().map(|s| s.id.as_str()).collect();
    let mut last = 0;
    for (id, command) in article {
        let s = step(&p, id);
        assert_eq!(s.decision, Decision::Change, "{id}");
        assert_eq!(unquoted(&s.apply[0]), unquoted(command), "{id}");
        let at = changed.iter().position(|c| *c == id).unwrap();
        assert!(at >= last, "{id} is out of the article's order");
        last = at;
    }
    // The web.config values are the article's (the thumbprint normalized to upper case).
    let web = step(&p, "web-config:atl-mbx-001.litwareinc.com")
        .apply
        .join("\n");
    assert!(
        web.contains("'IMCertificateThumbprint'")
            && web.contains("'EA5A332496CC05DA69B75B66111C0F78A110D22D'")
    );
    assert!(web.contains("'IMServerName'") && web.contains("'atl-cs-001.litwareinc.com'"));
    assert_eq!(
        step(&p, "recycle:atl-mbx-001.litwareinc.com")
            .expect_output
            .as_deref(),
        Some(RECYCLED)
    );
    // Lync comes first, then Exchange, as in the article.
    assert_eq!(changed.first(), Some(&"trusted-pool"));
}

#[test]
fn dial_plans_get_the_missing_servers_only() {
    let p = plan_for(&article(), &litware());
    let s = step(&p, "sip-dial-plans");
    assert_eq!(s.decision, Decision::Change);
    assert_eq!(
        s.apply,
        vec![
            "Set-UMCallRouterSettings -Server 'atl-owa-001.litwareinc.com' -DialPlans @{Add='RedmondDialPlan'}"
        ]
    );
    assert_eq!(
        s.rollback,
        vec![
            "Set-UMCallRouterSettings -Server 'atl-owa-001.litwareinc.com' -DialPlans @{Remove='RedmondDialPlan'}"
        ]
    );
}

#[test]
fn colocated_um_creates_no_trusted_pool() {
    let p = plan_for(&article(), &samples::colocated_um());
    assert!(p.failures().is_empty(), "{:?}", p.failures());
    for id in ["trusted-pool", "trusted-application", "publish-topology"] {
        assert!(
            matches!(step(&p, id).decision, Decision::Skipped(ref why) if why.contains("autodiscovers")),
            "{id}"
        );
    }
    assert!(p.notes.iter().any(|n| n.contains("Known Servers List")));
    assert!(p.steps.iter().all(|s| s.id != "remove-duplicate-pool"));
    // Both back-ends get web.config and a recycle.
    assert_eq!(
        p.steps
            .iter()
            .filter(|s| s.id.starts_with("web-config:"))
            .count(),
        2
    );
}

#[test]
fn a_multi_role_server_becomes_autodiscovered_by_the_dial_plan_step() {
    // UM and the call router on one server, but not yet in the SipName plan: the plan adds
    // it, which makes Lync autodiscover it, so no trusted pool may be created.
    let mut f = samples::colocated_um();
    f.exchange
        .um_services
        .retain(|u| u.server != "atl-owa-001.litwareinc.com");
    let p = plan_for(&article(), &f);
    assert!(matches!(
        step(&p, "trusted-pool").decision,
        Decision::Skipped(_)
    ));
    assert_eq!(step(&p, "sip-dial-plans").decision, Decision::Change);
}

#[test]
fn a_duplicate_manual_pool_is_removed() {
    let f = samples::duplicate_pool();
    let p = plan_for(&article(), &f);
    let s = step(&p, "remove-duplicate-pool");
    assert_eq!(
        s.apply,
        vec![
            "Remove-CsTrustedApplication -Identity 'atl-owa-001.litwareinc.com/outlookwebapp' -Force",
            "Remove-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com' -Force",
            "Enable-CsTopology",
        ]
    );
    assert!(s.explanation.contains("two entries for the same computer"));
    assert!(s.rollback.is_empty());
    assert_eq!(p.steps[0].id, "remove-duplicate-pool");
}

#[test]
fn an_integrated_environment_is_fully_satisfied() {
    let mut f = samples::integrated();
    // A thumbprint written in lower case still counts.
    f.exchange.backends[0].owa_app_settings[2].1 =
        "ea5a332496cc05da69b75b66111c0f78a110d22d".into();
    let p = plan_for(&article(), &f);
    assert!(p.failures().is_empty(), "{:?}", p.failures());
    let changing: Vec<&str> = p.changes().map(|s| s.id.as_str()).collect();
    assert!(changing.is_empty(), "{changing:?}");
}

#[test]
fn preflight_failures_name_the_check() {
    type Breaker = fn(&mut Facts);
    let cases: &[(&str, Breaker, &str)] = &[
        (
            "ucma missing",
            |f| f.exchange.backends[0].ucma_dll_path = None,
            "ucma:atl-mbx-001.litwareinc.com",
        ),
        (
            "ucma file gone",
            |f| f.exchange.backends[0].ucma_dll_exists = false,
            "ucma:atl-mbx-001.litwareinc.com",
        ),
        (
            "old dll",
            |f| f.exchange.backends[0].ucma_dll_path = Some(r"C:\x\Microsoft.Rtc.UCWeb.dll".into()),
            "ucma:atl-mbx-001.litwareinc.com",
        ),
        (
            "exchange 2016",
            |f| f.exchange.servers[1].admin_display_version = "Version 15.1 (Build 225.42)".into(),
            "exchange-version",
        ),
        (
            "unreadable exchange version",
            |f| f.exchange.servers[1].admin_display_version = "garbage".into(),
            "exchange-version",
        ),
        (
            "only exchange 2010",
            |f| {
                for s in &mut f.exchange.servers {
                    s.admin_display_version = "Version 14.3 (Build 123.4)".into();
                }
            },
            "exchange-version",
        ),
        ("no registrar", |f| f.lync.pools.clear(), "registrar-pool"),
        (
            "unknown site",
            |f| {
                f.lync.sites[0] = crate::procedure::facts::Site {
                    identity: "Site:Paris".into(),
                    site_id: "Paris".into(),
                    display_name: "Paris".into(),
                }
            },
            "site",
        ),
        (
            "no certificate",
            |f| f.exchange.backends[0].certificates.clear(),
            "certificate:atl-mbx-001.litwareinc.com",
        ),
        (
            "owa name only in the subject",
            |f| {
                f.exchange.backends[0].certificates[0]
                    .domains
                    .retain(|d| d != "atl-owa-001.litwareinc.com")
            },
            "certificate:atl-mbx-001.litwareinc.com",
        ),
        (
            "owa name only in the sans",
            |f| {
                f.exchange.backends[0].certificates[0].subject =
                    "CN=mail.litwareinc.com, O=Litware Inc".into()
            },
            "certificate:atl-mbx-001.litwareinc.com",
        ),
        (
            "expired",
            |f| {
                f.exchange.backends[0].certificates[0].not_after =
                    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
            },
            "certificate:atl-mbx-001.litwareinc.com",
        ),
        (
            "no private key",
            |f| f.exchange.backends[0].certificates[0].has_private_key = false,
            "certificate:atl-mbx-001.litwareinc.com",
        ),
        (
            "wrong name",
            |f| {
                let c: &mut Certificate = &mut f.exchange.backends[0].certificates[0];
                c.subject = "CN=mail.litwareinc.com".into();
                c.domains = vec!["mail.litwareinc.com".into()];
            },
            "certificate:atl-mbx-001.litwareinc.com",
        ),
        (
            "port taken",
            |f| {
                f.lync.trusted_applications.push(TrustedApplication {
                    identity: "atl-owa-001.litwareinc.com/urn:application:other".into(),
                    application_id: "other".into(),
                    pool_fqdn: "atl-owa-001.litwareinc.com".into(),
                    port: 5199,
                })
            },
            "port",
        ),
        (
            "policy missing",
            |f| {
                f.exchange
                    .owa_mailbox_policies
                    .retain(|p| p.name != "Default")
            },
            "mailbox-policies",
        ),
        (
            "no front end",
            |f| f.exchange.owa_virtual_directories.retain(|v| v.backend),
            "owa-front-end",
        ),
    ];
    for (name, breaker, id) in cases {
        let mut f = litware();
        breaker(&mut f);
        let p = plan_for(&article(), &f);
        assert_eq!(failed(&p), vec![*id], "{name}");
    }
}

#[test]
fn a_site_display_name_is_resolved_to_its_site_id() {
    let p = plan_for(&article(), &samples::site_id_differs());
    assert!(p.failures().is_empty(), "{:?}", p.failures());
    assert_eq!(p.site_id, "1");
    assert!(step(&p, "trusted-pool").apply[0].contains("-Site '1'"));
    assert!(p.notes.iter().any(|n| n.contains("SiteId is “1”")));
}

#[test]
fn all_policies_use_the_pipeline() {
    let input = RequestInput {
        policy_scope: "all".into(),
        policies: String::new(),
        ..article()
    };
    let p = plan_for(&input, &litware());
    let s = step(&p, "owa-mailbox-policies");
    assert_eq!(
        s.apply,
        vec![
            "Get-OwaMailboxPolicy | Set-OwaMailboxPolicy -InstantMessagingEnabled $True -InstantMessagingType 'OCS'"
        ]
    );
    assert_eq!(s.rollback.len(), 2);
}

#[test]
fn the_hash_changes_with_the_plan_and_only_with_it() {
    let a = plan_for(&article(), &litware());
    assert_eq!(a.hash(), plan_for(&article(), &litware()).hash());
    assert_eq!(a.hash().len(), 64);
    let b = plan_for(
        &RequestInput {
            port: "5200".into(),
            ..article()
        },
        &litware(),
    );
    assert_ne!(a.hash(), b.hash());
}

#[test]
fn hostile_facts_stay_inside_literals() {
    let mut f = litware();
    f.exchange.owa_virtual_directories[0].identity = "x\u{2019}; Stop-Computer; \u{2018}".into();
    f.exchange.backends[0]
        .owa_app_settings
        .push(("IMServerName".into(), "a'$(Stop-Computer)".into()));
    let p = plan_for(&article(), &f);
    let rollback = step(&p, "owa-virtual-directories").rollback.join("\n");
    assert!(
        rollback.contains("'x\u{2019}\u{2019}; Stop-Computer; \u{2018}\u{2018}'"),
        "{rollback}"
    );
    let web = step(&p, "web-config:atl-mbx-001.litwareinc.com")
        .rollback
        .join("\n");
    assert!(web.contains("'a''$(Stop-Computer)'"), "{web}");
}

#[test]
fn diff_names_what_a_replan_changed() {
    let before = plan_for(&article(), &litware());
    assert!(diff(&before, &before).is_empty());
    let after = plan_for(&article(), &samples::colocated_um());
    let changes = diff(&before, &after);
    let ids: Vec<&str> = changes.iter().map(|d| d.id.as_str()).collect();
    assert!(ids.contains(&"trusted-pool"), "{ids:?}");
    assert!(
        ids.contains(&"web-config:atl-owa-001.litwareinc.com"),
        "{ids:?}"
    );
    let pool = changes.iter().find(|d| d.id == "trusted-pool").unwrap();
    assert!(pool.what.contains("will change → skipped"), "{}", pool.what);
    let broken = plan_for(&article(), &samples::ucma_missing());
    let changes = diff(&before, &broken);
    assert!(
        changes
            .iter()
            .any(|d| d.id.starts_with("ucma:") && d.what.contains("now fails"))
    );
}

/// Each step's decision, case by case: (what is changed in Litware, step, expected decision kind).
#[test]
fn decisions_table() {
    type Change = fn(&mut Facts);
    let kind = |d: &Decision| match d {
        Decision::Change => "change",
        Decision::Satisfied(_) => "satisfied",
        Decision::Skipped(_) => "skipped",
    };
    let cases: &[(&str, Change, &str, &str)] = &[
        ("as is", |_| {}, "sip-dial-plans", "change"),
        (
            "no SIP dial plan",
            |f| f.exchange.dial_plans.retain(|d| !d.is_sip_name()),
            "sip-dial-plans",
            "skipped",
        ),
        (
            "already in the plan",
            |f| {
                f.exchange.um_call_routers[0]
                    .dial_plans
                    .push("RedmondDialPlan".into())
            },
            "sip-dial-plans",
            "satisfied",
        ),
        (
            "vdir ready",
            |f| f.exchange.owa_virtual_directories[0].instant_messaging_type = "Ocs".into(),
            "owa-virtual-directories",
            "satisfied",
        ),
        (
            "only back end ready",
            |f| f.exchange.owa_virtual_directories[1].instant_messaging_type = "Ocs".into(),
            "owa-virtual-directories",
            "change",
        ),
        (
            "IM off",
            |f| {
                let v = &mut f.exchange.owa_virtual_directories[0];
                v.instant_messaging_type = "Ocs".into();
                v.instant_messaging_enabled = false;
            },
            "owa-virtual-directories",
            "change",
        ),
        (
            "keys present",
            |f| {
                let s = &mut f.exchange.backends[0].owa_app_settings;
                s.push((
                    "imcertificatethumbprint".into(),
                    "EA5A332496CC05DA69B75B66111C0F78A110D22D".into(),
                ));
                s.push(("IMServerName".into(), "atl-cs-001.litwareinc.com".into()));
            },
            "web-config:atl-mbx-001.litwareinc.com",
            "satisfied",
        ),
        (
            "wrong IMServerName",
            |f| {
                let s = &mut f.exchange.backends[0].owa_app_settings;
                s.push((
                    "IMCertificateThumbprint".into(),
                    "EA5A332496CC05DA69B75B66111C0F78A110D22D".into(),
                ));
                s.push(("IMServerName".into(), "atl-ex-001.litwareinc.com".into()));
            },
            "web-config:atl-mbx-001.litwareinc.com",
            "change",
        ),
        (
            "keys present: no recycle",
            |f| {
                let s = &mut f.exchange.backends[0].owa_app_settings;
                s.push((
                    "IMCertificateThumbprint".into(),
                    "EA5A332496CC05DA69B75B66111C0F78A110D22D".into(),
                ));
                s.push(("IMServerName".into(), "atl-cs-001.litwareinc.com".into()));
            },
            "recycle:atl-mbx-001.litwareinc.com",
            "satisfied",
        ),
        (
            "policy ready",
            |f| f.exchange.owa_mailbox_policies[0].instant_messaging_type = "Ocs".into(),
            "owa-mailbox-policies",
            "satisfied",
        ),
        (
            "other policy ready",
            |f| f.exchange.owa_mailbox_policies[1].instant_messaging_type = "Ocs".into(),
            "owa-mailbox-policies",
            "change",
        ),
        (
            "colocated",
            |f| *f = samples::colocated_um(),
            "publish-topology",
            "skipped",
        ),
        (
            "pool exists",
            |f| {
                *f = samples::integrated();
                f.lync.trusted_applications.clear();
            },
            "trusted-pool",
            "satisfied",
        ),
        (
            "pool exists, app missing",
            |f| {
                *f = samples::integrated();
                f.lync.trusted_applications.clear();
            },
            "publish-topology",
            "change",
        ),
    ];
    for (name, change, id, want) in cases {
        let mut f = litware();
        change(&mut f);
        let p = plan_for(&article(), &f);
        assert_eq!(kind(&step(&p, id).decision), *want, "{name}: {id}");
    }
}

#[test]
fn existing_lync_objects_that_differ_are_not_touched() {
    let mut f = samples::integrated();
    f.lync.trusted_pools[0].registrar = "Registrar:atl-cs-002.litwareinc.com".into();
    assert_eq!(failed(&plan_for(&article(), &f)), vec!["existing-pool"]);
    let mut f = samples::integrated();
    f.lync.trusted_applications[0].port = 5200;
    assert_eq!(
        failed(&plan_for(&article(), &f)),
        vec!["existing-application"]
    );
}

#[test]
fn a_duplicate_pool_without_registrar_gets_one_first() {
    let mut f = samples::duplicate_pool();
    f.lync.trusted_pools[0].registrar = String::new();
    let p = plan_for(&article(), &f);
    assert_eq!(
        step(&p, "remove-duplicate-pool").apply[0],
        "Set-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com' -Registrar 'atl-cs-001.litwareinc.com'"
    );
}

#[test]
fn an_undo_plan_undoes_exactly_the_given_steps_last_first() {
    let plan = plan_for(&article(), &samples::litware());
    let position = |id: &str| plan.steps.iter().position(|s| s.id == id).unwrap();
    let (pool, app, publish) = (
        position("trusted-pool"),
        position("trusted-application"),
        position("publish-topology"),
    );
    let undo = plan.undo(&[pool, publish, app, pool], "Undoes run #7.".into());
    let ids: Vec<&str> = undo.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "undo:publish-topology",
            "undo:trusted-application",
            "undo:trusted-pool"
        ]
    );
    let pool_undo = &undo.steps[2];
    assert_eq!(pool_undo.apply, plan.steps[pool].rollback);
    assert_eq!(pool_undo.decision, Decision::Change);
    assert!(
        !pool_undo.checkable(),
        "undo commands are never re-run blindly"
    );
    // Publishing has no undo of its own (undoing the pool publishes again).
    assert!(matches!(undo.steps[0].decision, Decision::Skipped(_)));
    assert!(undo.preflight.is_empty() && undo.evidence.is_empty());
    assert_eq!(undo.notes, ["Undoes run #7."]);
    assert_ne!(undo.hash(), plan.hash());
    assert!(plan.undo(&[], String::new()).steps.is_empty());
}

#[test]
fn exchange_2010_in_coexistence_is_reported_and_left_alone() {
    let p = plan_for(&article(), &samples::mixed_2010());
    assert!(p.failures().is_empty(), "{:?}", p.failures());
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("atl-ex2010.litwareinc.com") && n.contains("New-MoveRequest")),
        "{:?}",
        p.notes
    );
    let text = format!("{p:?}");
    let vdirs = step(&p, "owa-virtual-directories");
    // Only the Exchange 2013 servers' directories are changed, server by server.
    assert!(
        vdirs.apply.iter().all(|a| a.contains("-Server '")),
        "{:?}",
        vdirs.apply
    );
    assert!(
        vdirs.apply.iter().all(|a| !a.contains("ex2010")),
        "{:?}",
        vdirs.apply
    );
    assert!(!vdirs.check.contains("ex2010"), "{}", vdirs.check);
    // No step and no back end is the 2010 server.
    assert!(
        p.steps
            .iter()
            .all(|s| !format!("{:?}", s.target).contains("ex2010")),
        "{text}"
    );
}

#[test]
fn autodiscovery_is_decided_from_the_organization_not_the_typed_name() {
    let facts = samples::all_autodiscovered();
    // The request names atl-owa-001, which is not autodiscovered; every Mailbox server is.
    let p = plan_for(&article(), &facts);
    assert!(p.failures().is_empty(), "{:?}", p.failures());
    for id in ["trusted-pool", "trusted-application", "publish-topology"] {
        assert!(
            matches!(step(&p, id).decision, Decision::Skipped(_)),
            "{id}: {:?}",
            step(&p, id).decision
        );
    }
    assert!(
        matches!(step(&p, "remove-duplicate-pool").decision, Decision::Change),
        "the manual pool is offered for removal"
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n
                .starts_with("Every Exchange 2013 Mailbox server (atl-mbx-001.litwareinc.com)")),
        "{:?}",
        p.notes
    );
    // Only the named server is autodiscovered: the plan says which Mailbox servers are not.
    let p = plan_for(&article(), &samples::colocated_um());
    assert!(
        p.notes.iter().any(|n| n.contains("not autodiscovered")),
        "{:?}",
        p.notes
    );
}

/// UM assignments are read server by server, from both property names.
#[test]
fn the_dial_plan_check_reads_each_server_by_name_and_both_property_names() {
    let p = plan_for(&article(), &litware());
    let check = &step(&p, "sip-dial-plans").check;
    assert!(
        check.contains("Get-UMCallRouterSettings -Server 'atl-owa-001.litwareinc.com'"),
        "{check}"
    );
    assert!(
        check.contains("Get-UMService -Identity 'atl-mbx-001.litwareinc.com'"),
        "{check}"
    );
    assert!(check.contains("$_.UMDialPlans") && check.contains("$_.DialPlans"));
    let probe = crate::procedure::probes::exchange().script;
    assert!(
        probe.contains("Get-UMCallRouterSettings -Server $_.Fqdn"),
        "{probe}"
    );
    assert!(probe.contains("Get-UMService -Identity $_.Fqdn"), "{probe}");
}

#[test]
fn lync_versions_and_directors_decide_the_registrar() {
    let named = |registrar: &str| RequestInput {
        registrar_fqdn: registrar.into(),
        ..article()
    };
    // A Director is refused as the registrar (and so as IMServerName), with the Front End pools
    // it could be instead.
    let p = plan_for(&named("atl-dir-001.litwareinc.com"), &samples::director());
    assert_eq!(failed(&p), ["registrar-pool"]);
    let detail = &p.failures()[0].detail;
    assert!(detail.contains("Director pool"), "{detail}");
    assert!(detail.contains("atl-cs-001.litwareinc.com"), "{detail}");
    // The Front End pool beside it is fine.
    assert!(
        plan_for(&article(), &samples::director())
            .failures()
            .is_empty()
    );
    // Lync Server 2010 is refused with its reason.
    let p = plan_for(
        &named("atl-cs2010-001.litwareinc.com"),
        &samples::coexistence_2010(),
    );
    assert_eq!(failed(&p), ["registrar-pool"]);
    assert!(p.failures()[0].detail.contains("Lync Server 2010"));
    // An unknown version is refused, a missing one (older facts) is not.
    let mut f = litware();
    f.lync.pools[0].registrar_version = Some(9);
    assert_eq!(failed(&plan_for(&article(), &f)), ["registrar-pool"]);
    f.lync.pools[0].registrar_version = None;
    assert!(plan_for(&article(), &f).failures().is_empty());
    // Skype for Business Server 2015 reuses the procedure.
    f.lync.pools[0].registrar_version = Some(7);
    let p = plan_for(&article(), &f);
    assert!(p.failures().is_empty());
    // IMServerName is always the registrar that hosts the trusted pool.
    let pool = &step(&p, "trusted-pool").apply[0];
    let web = step(&p, "web-config:atl-mbx-001.litwareinc.com");
    assert!(pool.contains("-Registrar 'atl-cs-001.litwareinc.com'"));
    assert!(web.apply.iter().any(|l| {
        l.contains("'IMServerName'")
            && web
                .check
                .contains("$_.value -eq 'atl-cs-001.litwareinc.com'")
    }));
}

#[test]
fn certificate_trust_and_expiry() {
    let cert_check = |facts: &Facts| {
        let p = plan_for(&article(), facts);
        p.preflight
            .iter()
            .find(|c| c.id == "certificate:atl-mbx-001.litwareinc.com")
            .cloned()
            .unwrap()
    };
    // Self-signed: refused.
    let c = cert_check(&samples::self_signed());
    assert!(!c.passed && c.detail.contains("self-signed"), "{c:?}");
    // An issuer Windows does not trust: refused, naming the issuer.
    let mut f = litware();
    f.exchange.backends[0].certificates[0].status = "Untrusted".into();
    let c = cert_check(&f);
    assert!(!c.passed, "{c:?}");
    assert!(c.detail.contains("Litware Enterprise Root CA") && c.detail.contains("Untrusted"));
    // Revocation cannot be checked: refused with the status.
    f.exchange.backends[0].certificates[0].status = "RevocationCheckFailure".into();
    assert!(cert_check(&f).detail.contains("RevocationCheckFailure"));
    // Expiring within 30 days: a warning with the date, which does not block.
    let mut f = litware();
    f.exchange.backends[0].certificates[0].not_after = now() + chrono::Duration::days(12);
    let c = cert_check(&f);
    assert_eq!(c.outcome(), CheckOutcome::Warning);
    assert!(
        c.detail.contains("2026-12-09") && c.detail.contains("12 days"),
        "{c:?}"
    );
    let p = plan_for(&article(), &f);
    assert!(p.failures().is_empty());
    assert_eq!(p.warnings().len(), 1);
    // 31 days left: no warning.
    f.exchange.backends[0].certificates[0].not_after = now() + chrono::Duration::days(31);
    assert_eq!(cert_check(&f).outcome(), CheckOutcome::Passed);
}

#[test]
fn each_back_end_gets_its_own_certificate() {
    let f = samples::cert_per_server();
    let both = samples::request_for("cert-per-server");
    let p = plan_for(&both, &f);
    assert!(p.failures().is_empty(), "{:?}", p.failures());
    for (server, thumbprint) in [
        (
            "atl-mbx-001.litwareinc.com",
            "EA5A332496CC05DA69B75B66111C0F78A110D22D",
        ),
        ("atl-mbx-002.litwareinc.com", samples::SECOND_THUMBPRINT),
    ] {
        let web = step(&p, &format!("web-config:{server}"));
        assert!(
            web.check.contains(&format!("$_.value -eq '{thumbprint}'")),
            "{server}: {}",
            web.check
        );
    }
    // One thumbprint for all cannot serve the server without it.
    let p = plan_for(&article(), &f);
    assert_eq!(failed(&p), ["certificate:atl-mbx-002.litwareinc.com"]);
    // A server holding two of the given certificates is ambiguous.
    let mut f2 = f.clone();
    let extra = f2.exchange.backends[1].certificates[0].clone();
    f2.exchange.backends[0].certificates.push(extra);
    let p = plan_for(&both, &f2);
    assert_eq!(failed(&p), ["certificate:atl-mbx-001.litwareinc.com"]);
    assert!(p.failures()[0].detail.contains("more than one"));
}

#[test]
fn a_load_balanced_owa_name_gets_every_mailbox_server_as_a_computer() {
    let f = samples::multi_server();
    let p = plan_for(&samples::request_for("multi-server"), &f);
    assert!(p.failures().is_empty(), "{:?}", p.failures());
    let pool = step(&p, "trusted-pool");
    assert_eq!(
        pool.apply.iter().map(|c| unquoted(c)).collect::<Vec<_>>(),
        [
            "New-CsTrustedApplicationPool -Identity mail.litwareinc.com -Registrar atl-cs-001.litwareinc.com -Site Redmond -RequiresReplication $False -ComputerFqdn atl-mbx-001.litwareinc.com",
            "New-CsTrustedApplicationComputer -Identity atl-mbx-002.litwareinc.com -Pool mail.litwareinc.com",
            "New-CsTrustedApplicationComputer -Identity atl-mbx-003.litwareinc.com -Pool mail.litwareinc.com",
        ]
    );
    // Every server's certificate must name the load-balanced name.
    let mut f2 = f.clone();
    f2.exchange.backends[2].certificates[0].subject = "CN=atl-mbx-003.litwareinc.com".into();
    let p = plan_for(&samples::request_for("multi-server"), &f2);
    assert_eq!(failed(&p), ["certificate:atl-mbx-003.litwareinc.com"]);
    // An existing pool lacking a server is reported with the command that adds it.
    let mut f3 = f.clone();
    f3.lync
        .trusted_pools
        .push(crate::procedure::facts::TrustedPool {
            identity: "TrustedApplicationPool:mail.litwareinc.com".into(),
            pool_fqdn: "mail.litwareinc.com".into(),
            registrar: "Registrar:atl-cs-001.litwareinc.com".into(),
            site: "Site:Redmond".into(),
            computers: vec![
                "atl-mbx-001.litwareinc.com".into(),
                "atl-mbx-002.litwareinc.com".into(),
            ],
        });
    let p = plan_for(&samples::request_for("multi-server"), &f3);
    assert_eq!(failed(&p), ["pool-computers"]);
    assert!(p.failures()[0].detail.contains(
        "New-CsTrustedApplicationComputer -Identity 'atl-mbx-003.litwareinc.com' -Pool 'mail.litwareinc.com'"
    ));
    // The article's organization, where the pool is named after a server, is unchanged.
    let p = plan_for(&article(), &litware());
    assert_eq!(step(&p, "trusted-pool").apply.len(), 1);
    assert!(!step(&p, "trusted-pool").apply[0].contains("ComputerFqdn"));
}

#[test]
fn turning_im_off_plans_the_documented_reverse() {
    // On an integrated organization: directories and policies off, keys removed, OWA recycled.
    let p = plan_for(&samples::turn_off_request(), &samples::integrated());
    assert!(p.failures().is_empty(), "{:?}", p.failures());
    assert_eq!(p.kind, crate::domain::request::RequestKind::TurnOff);
    assert_eq!(
        p.steps.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [
            "owa-virtual-directories-off",
            "web-config-off:atl-mbx-001.litwareinc.com",
            "recycle:atl-mbx-001.litwareinc.com",
            "owa-mailbox-policies-off",
        ]
    );
    assert!(p.changes().count() == 4);
    assert_eq!(
        unquoted(&step(&p, "owa-virtual-directories-off").apply[0]),
        // ARTICLE §1.8, word for word.
        "Get-OwaVirtualDirectory | Set-OwaVirtualDirectory -InstantMessagingEnabled $False"
    );
    assert_eq!(
        unquoted(&step(&p, "owa-mailbox-policies-off").apply[0]),
        "Get-OwaMailboxPolicy | Set-OwaMailboxPolicy -InstantMessagingEnabled $False"
    );
    let keys = step(&p, "web-config-off:atl-mbx-001.litwareinc.com");
    assert!(
        keys.apply
            .iter()
            .any(|l| l.contains("RemoveChild") && l.contains("'IMServerName'"))
    );
    // Rolling back puts the values back.
    assert!(
        keys.rollback
            .iter()
            .any(|l| l.contains("'atl-cs-001.litwareinc.com'"))
    );
    assert!(p.evidence.is_empty());
    // Nothing on the Lync side.
    assert!(p.steps.iter().all(|s| s.target != Target::LyncShell));
    // The hash and the text say what it is.
    assert!(
        serde_json::to_string(&p)
            .unwrap()
            .contains("\"kind\":\"turn_off\"")
    );
    // An integration plan's JSON does not carry the kind, so its hash is as before.
    let integration = plan_for(&article(), &litware());
    assert!(
        !serde_json::to_string(&integration)
            .unwrap()
            .contains("\"kind\":\"integrate\"")
    );

    // On the article's organization before integration, only IM on the directories (on by
    // default) needs turning off; the policies are turned off too (enabled by default).
    let p = plan_for(&samples::turn_off_request(), &litware());
    assert!(p.failures().is_empty());
    assert_eq!(
        step(&p, "web-config-off:atl-mbx-001.litwareinc.com").decision,
        Decision::Satisfied("web.config holds neither key.".into())
    );
    assert!(matches!(
        step(&p, "recycle:atl-mbx-001.litwareinc.com").decision,
        Decision::Satisfied(_)
    ));
    // A named policy that does not exist fails preflight, as for an integration.
    let input = RequestInput {
        policy_scope: "named".into(),
        policies: "Nowhere".into(),
        ..samples::turn_off_request()
    };
    assert_eq!(failed(&plan_for(&input, &litware())), ["mailbox-policies"]);
}
