//! The eligibility rules, code by code: passing, failing and unknown.

use super::*;
use crate::procedure::samples;

/// The Litware facts with the registrar's version known (Lync Server 2013), a 2010 pool, and a
/// policy without IM.
fn facts() -> Facts {
    let mut f = samples::litware();
    for pool in &mut f.lync.pools {
        if pool.is_registrar() {
            pool.registrar_version = Some(6);
        }
    }
    let mut old = f.lync.pools[0].clone();
    old.fqdn = "dub-cs-2010.litwareinc.com".into();
    old.registrar_version = Some(5);
    f.lync.pools.push(old);
    let mut on = f.exchange.owa_mailbox_policies[0].clone();
    on.name = "IM".into();
    on.instant_messaging_enabled = true;
    on.instant_messaging_type = "Ocs".into();
    let mut off = on.clone();
    off.name = "NoIM".into();
    off.instant_messaging_enabled = false;
    f.exchange.owa_mailbox_policies = vec![on, off];
    f
}

/// An eligible person.
fn eligible() -> Person {
    Person {
        upn: "kim@litwareinc.com".into(),
        user_account_control: Read::Value(0x200),
        home_mdb: Read::Value("CN=DB01,CN=Databases,CN=Exchange".into()),
        recipient_type_details: Read::Value(1),
        mailbox_server_version: Read::Value("Version 15.0 (Build 1497.2)".into()),
        lync_enabled: Read::Value(true),
        primary_user_address: Read::Value("sip:kim@litwareinc.com".into()),
        registrar_pool: Read::Value("atl-cs-001.litwareinc.com".into()),
        proxy_addresses: Read::Value(vec![
            "SMTP:kim@litwareinc.com".into(),
            "sip:kim@litwareinc.com".into(),
        ]),
        owa_policy: Read::Value("IM".into()),
    }
}

fn judge(person: &Person) -> Eligibility {
    let facts = facts();
    let integrated = vec!["Redmond".to_string()];
    evaluate(
        person,
        &Context {
            facts: &facts,
            default_owa_policy: "IM",
            integrated_sites: &integrated,
        },
    )
}

fn outcome(e: &Eligibility, code: Code) -> Outcome {
    e.checks.iter().find(|c| c.code == code).unwrap().outcome
}

fn check(e: &Eligibility, code: Code) -> &Check {
    e.checks.iter().find(|c| c.code == code).unwrap()
}

#[test]
fn an_eligible_person_passes_every_check() {
    let e = judge(&eligible());
    assert_eq!(e.verdict, Verdict::Eligible, "{:#?}", e.checks);
    assert_eq!(e.checks.len(), Code::ALL.len());
    assert!(
        e.checks
            .iter()
            .all(|c| c.outcome == Outcome::Pass && c.fix.is_none())
    );
    assert!(e.reasons().is_empty());
}

/// A change to the eligible person, the code it should fail, and its outcome.
type Case = (&'static str, fn(&mut Person), Code, Outcome);

#[test]
fn every_code_fails_and_is_unknown_where_it_should() {
    let cases: &[Case] = &[
        (
            "disabled",
            |p| p.user_account_control = Read::Value(0x202),
            Code::AccountDisabled,
            Outcome::Fail,
        ),
        (
            "uac unreadable",
            |p| p.user_account_control = Read::Unknown("denied".into()),
            Code::AccountDisabled,
            Outcome::Unknown,
        ),
        (
            "uac missing",
            |p| p.user_account_control = Read::Absent,
            Code::AccountDisabled,
            Outcome::Unknown,
        ),
        (
            "no mailbox",
            |p| p.home_mdb = Read::Absent,
            Code::NoMailbox,
            Outcome::Fail,
        ),
        (
            "homeMDB unreadable",
            |p| p.home_mdb = Read::Unknown("denied".into()),
            Code::NoMailbox,
            Outcome::Unknown,
        ),
        (
            "shared mailbox",
            |p| p.recipient_type_details = Read::Value(4),
            Code::NotUserMailbox,
            Outcome::Fail,
        ),
        (
            "room mailbox",
            |p| p.recipient_type_details = Read::Value(16),
            Code::NotUserMailbox,
            Outcome::Fail,
        ),
        (
            "linked mailbox",
            |p| p.recipient_type_details = Read::Value(2),
            Code::NotUserMailbox,
            Outcome::Fail,
        ),
        (
            "type missing",
            |p| p.recipient_type_details = Read::Absent,
            Code::NotUserMailbox,
            Outcome::Unknown,
        ),
        (
            "Exchange 2010",
            |p| p.mailbox_server_version = Read::Value("Version 14.3 (Build 123.4)".into()),
            Code::MailboxNotExchange2013,
            Outcome::Fail,
        ),
        (
            "Exchange 2016",
            |p| p.mailbox_server_version = Read::Value("Version 15.1 (Build 225.42)".into()),
            Code::MailboxNotExchange2013,
            Outcome::Fail,
        ),
        (
            "server version unreadable",
            |p| p.mailbox_server_version = Read::Unknown("no server entry".into()),
            Code::MailboxNotExchange2013,
            Outcome::Unknown,
        ),
        (
            "server version garbled",
            |p| p.mailbox_server_version = Read::Value("fifteen".into()),
            Code::MailboxNotExchange2013,
            Outcome::Unknown,
        ),
        (
            "not Lync-enabled",
            |p| p.lync_enabled = Read::Value(false),
            Code::LyncNotEnabled,
            Outcome::Fail,
        ),
        (
            "never Lync-enabled",
            |p| p.lync_enabled = Read::Absent,
            Code::LyncNotEnabled,
            Outcome::Fail,
        ),
        (
            "Lync flag unreadable",
            |p| p.lync_enabled = Read::Unknown("denied".into()),
            Code::LyncNotEnabled,
            Outcome::Unknown,
        ),
        (
            "homed on Lync 2010",
            |p| p.registrar_pool = Read::Value("DUB-CS-2010.litwareinc.com".into()),
            Code::LyncPoolNot2013,
            Outcome::Fail,
        ),
        (
            "pool not in the facts",
            |p| p.registrar_pool = Read::Value("elsewhere.example".into()),
            Code::LyncPoolNot2013,
            Outcome::Unknown,
        ),
        (
            "no pool",
            |p| p.registrar_pool = Read::Absent,
            Code::LyncPoolNot2013,
            Outcome::Unknown,
        ),
        (
            "no sip: address",
            |p| p.proxy_addresses = Read::Value(vec!["SMTP:kim@litwareinc.com".into()]),
            Code::NoSipProxyAddress,
            Outcome::Fail,
        ),
        (
            "no proxy addresses",
            |p| p.proxy_addresses = Read::Absent,
            Code::NoSipProxyAddress,
            Outcome::Fail,
        ),
        (
            "proxies unreadable",
            |p| p.proxy_addresses = Read::Unknown("denied".into()),
            Code::NoSipProxyAddress,
            Outcome::Unknown,
        ),
        (
            "sip: of someone else",
            |p| p.proxy_addresses = Read::Value(vec!["sip:kimberly@litwareinc.com".into()]),
            Code::SipProxyMismatch,
            Outcome::Fail,
        ),
        (
            "no primary SIP address",
            |p| p.primary_user_address = Read::Absent,
            Code::SipProxyMismatch,
            Outcome::Fail,
        ),
        (
            "primary unreadable",
            |p| p.primary_user_address = Read::Unknown("denied".into()),
            Code::SipProxyMismatch,
            Outcome::Unknown,
        ),
        (
            "policy without IM",
            |p| p.owa_policy = Read::Value("NoIM".into()),
            Code::OwaPolicyImOff,
            Outcome::Fail,
        ),
        (
            "policy not in the facts",
            |p| p.owa_policy = Read::Value("Gone".into()),
            Code::OwaPolicyImOff,
            Outcome::Unknown,
        ),
        (
            "policy unreadable",
            |p| p.owa_policy = Read::Unknown("denied".into()),
            Code::OwaPolicyImOff,
            Outcome::Unknown,
        ),
    ];
    for (what, change, code, expected) in cases {
        let mut person = eligible();
        change(&mut person);
        let e = judge(&person);
        assert_eq!(
            outcome(&e, *code),
            *expected,
            "{what}: {:#?}",
            check(&e, *code)
        );
        let verdict = match expected {
            Outcome::Fail => Verdict::NotEligible,
            Outcome::Unknown => Verdict::Unknown,
            Outcome::Pass => Verdict::Eligible,
        };
        assert_eq!(e.verdict, verdict, "{what}");
        assert_eq!(
            e.reasons().contains(code),
            *expected == Outcome::Fail,
            "{what}: {:?}",
            e.reasons()
        );
        let c = check(&e, *code);
        assert!(
            !c.evidence.is_empty() && !c.explanation.is_empty(),
            "{what}"
        );
        if *expected == Outcome::Fail {
            assert!(c.fix.is_some(), "{what}: a failure says how to fix it");
        }
    }
    // Every code is covered by a failing case.
    for code in Code::ALL.iter().filter(|c| !c.informational()) {
        assert!(
            cases
                .iter()
                .any(|(_, _, c, o)| c == code && *o == Outcome::Fail),
            "{code:?}"
        );
    }
}

#[test]
fn sip_prefixes_and_addresses_compare_without_case_among_several_proxies() {
    let mut person = eligible();
    person.proxy_addresses = Read::Value(vec![
        "SMTP:kim@litwareinc.com".into(),
        "smtp:k.akers@litwareinc.com".into(),
        "SIP:Kim@LitwareInc.com".into(),
        "x500:/o=Litware".into(),
    ]);
    person.primary_user_address = Read::Value("sip:kim@litwareinc.com".into());
    let e = judge(&person);
    assert_eq!(e.verdict, Verdict::Eligible, "{:#?}", e.checks);
    // A lone "sip:" is no address.
    person.proxy_addresses = Read::Value(vec!["sip:".into()]);
    assert_eq!(
        outcome(&judge(&person), Code::NoSipProxyAddress),
        Outcome::Fail
    );
}

#[test]
fn a_failure_wins_over_an_unknown_and_site_integration_only_informs() {
    let mut person = eligible();
    person.lync_enabled = Read::Value(false);
    person.owa_policy = Read::Unknown("denied".into());
    let e = judge(&person);
    assert_eq!(e.verdict, Verdict::NotEligible);
    assert_eq!(e.reasons(), [Code::LyncNotEnabled]);

    // A default policy is the context's.
    let mut person = eligible();
    person.owa_policy = Read::Absent;
    assert_eq!(judge(&person).verdict, Verdict::Eligible);

    // A site without an integration run: still eligible, and said so.
    let facts = facts();
    let e = evaluate(
        &eligible(),
        &Context {
            facts: &facts,
            default_owa_policy: "IM",
            integrated_sites: &[],
        },
    );
    assert_eq!(e.verdict, Verdict::Eligible);
    assert_eq!(outcome(&e, Code::SiteNotIntegrated), Outcome::Fail);
    assert!(e.reasons().is_empty());
}

#[test]
fn fixes_quote_the_users_values_as_powershell_literals() {
    let mut person = eligible();
    person.upn = "o’brien'; Stop-Computer; '@litwareinc.com".into();
    person.lync_enabled = Read::Value(false);
    person.proxy_addresses = Read::Value(vec![]);
    person.primary_user_address = Read::Value("sip:o’brien@litwareinc.com".into());
    let e = judge(&person);
    let fix = |code| check(&e, code).fix.clone().unwrap();
    assert_eq!(
        fix(Code::LyncNotEnabled),
        "Enable-CsUser -Identity 'o’’brien''; Stop-Computer; ''@litwareinc.com' -RegistrarPool 'atl-cs-001.litwareinc.com' -SipAddressType UserPrincipalName"
    );
    assert_eq!(
        fix(Code::NoSipProxyAddress),
        "Set-Mailbox -Identity 'o’’brien''; Stop-Computer; ''@litwareinc.com' -EmailAddresses @{Add='sip:o’’brien@litwareinc.com'}"
    );
    assert!(
        e.checks
            .iter()
            .filter_map(|c| c.fix.as_deref())
            .all(
                |fix| !fix.contains('\n') && fix.contains("'o’’brien''; Stop-Computer; ''@")
                    || !fix.contains("brien")
            ),
        "every fix naming the user quotes them"
    );
}

#[test]
fn moving_to_a_2013_pool_names_one_from_the_facts() {
    let mut person = eligible();
    person.registrar_pool = Read::Value("dub-cs-2010.litwareinc.com".into());
    let e = judge(&person);
    assert_eq!(
        check(&e, Code::LyncPoolNot2013).fix.as_deref(),
        Some("Move-CsUser -Identity 'kim@litwareinc.com' -Target 'atl-cs-001.litwareinc.com'")
    );
}
