//! The lab runs the PowerShell imlink emits and answers as Lync does.

use std::io::Write;
use std::process::{Command, Stdio};

use app::domain::request::IntegrationSpec;
use app::procedure::plan::{Target, plan};
use app::procedure::samples;
use server::lab::LabState;
use server::lab::interpreter::{Host, Interpreter, Invocation, Outcome, PsError};
use server::lab::value::Value;

fn run(state: &mut LabState, script: &str) -> Outcome {
    Interpreter::new(state).run(script)
}

/// Runs `script` through `imlink lab-shell` on the lab state file `state`.
fn lab_shell(state: &std::path::Path, script: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imlink"))
        .args(["lab-shell", "--state"])
        .arg(state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script).unwrap();
    child.wait_with_output().unwrap()
}

/// The Lync steps of the article's plan for Litware, as one script.
fn lync_steps() -> String {
    steps_for(Target::LyncShell, &samples::litware())
}

#[test]
fn the_plans_lync_steps_create_and_publish_the_pool_once() {
    let mut lab = LabState::scenario("litware").unwrap();
    let outcome = run(&mut lab, &lync_steps());
    assert_eq!(outcome.failure, None, "{outcome:?}");
    assert_eq!(lab.lync.published.trusted_pools.len(), 1);
    assert_eq!(
        lab.lync.published.trusted_pools[0].registrar,
        "Registrar:atl-cs-001.litwareinc.com"
    );
    assert_eq!(lab.lync.published.trusted_applications[0].port, 5199);
    let shown = server::lab::value::format_output(&outcome.output);
    assert!(
        shown.contains("Identity")
            && shown.contains("TrustedApplicationPool:atl-owa-001.litwareinc.com"),
        "{shown}"
    );

    // The plan's checks now say the steps are done.
    let check = run(
        &mut lab,
        "$null -ne (Get-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com' -ErrorAction SilentlyContinue)",
    );
    assert_eq!(check.output, vec![Value::Bool(true)]);

    // Running the creation script again fails the way PowerShell would.
    let again = run(&mut lab, &lync_steps());
    assert!(
        again
            .failure
            .as_deref()
            .unwrap_or_default()
            .contains("already exists"),
        "{again:?}"
    );
    assert_eq!(lab.lync.configured.trusted_pools.len(), 1);
}

#[test]
fn new_and_removed_objects_take_effect_only_when_published() {
    let mut lab = LabState::scenario("litware").unwrap();
    let out = run(
        &mut lab,
        "New-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com' -Registrar 'atl-cs-001.litwareinc.com' -Site 'Redmond' -RequiresReplication $False",
    );
    assert_eq!(out.failure, None, "{out:?}");
    assert_eq!(lab.lync.configured.trusted_pools.len(), 1);
    assert!(lab.lync.published.trusted_pools.is_empty());
    run(&mut lab, "Enable-CsTopology");
    assert_eq!(lab.lync.published.trusted_pools.len(), 1);
    run(
        &mut lab,
        "Remove-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com' -Force",
    );
    assert!(lab.lync.configured.trusted_pools.is_empty());
    assert_eq!(lab.lync.published.trusted_pools.len(), 1);
}

#[test]
fn cmdlets_fail_as_documented() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "litware",
            "New-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com' -Registar 'x' -Site 'Redmond'",
            "A parameter cannot be found that matches parameter name 'Registar'",
        ),
        (
            "litware",
            "New-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com' -Registrar 'atl-xx-001.litwareinc.com' -Site 'Redmond'",
            "Cannot find registrar",
        ),
        (
            "site-id-differs",
            "New-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com' -Registrar 'atl-cs-001.litwareinc.com' -Site 'Redmond'",
            "Site \"Redmond\" does not exist",
        ),
        (
            "litware",
            "New-CsTrustedApplication -ApplicationId 'OutlookWebApp' -TrustedApplicationPoolFqdn 'atl-owa-001.litwareinc.com' -Port 5199",
            "Cannot find the trusted application pool",
        ),
        (
            "litware",
            "New-CsTrustedApplicationPool -Identity 'p.litwareinc.com' -Registrar 'atl-cs-001.litwareinc.com' -Site 'Redmond'\nNew-CsTrustedApplication -ApplicationId 'A' -TrustedApplicationPoolFqdn 'p.litwareinc.com' -Port 'abc'",
            "Cannot convert value \"abc\" to type \"System.Int32\"",
        ),
        (
            "litware",
            "New-CsTrustedApplicationPool -Identity 'p.litwareinc.com' -Registrar 'atl-cs-001.litwareinc.com' -Site 'Redmond'\nNew-CsTrustedApplication -ApplicationId 'A' -TrustedApplicationPoolFqdn 'p.litwareinc.com' -Port 5199\nNew-CsTrustedApplication -ApplicationId 'B' -TrustedApplicationPoolFqdn 'p.litwareinc.com' -Port 5199",
            "Ports must be unique within a pool",
        ),
        (
            "litware",
            "New-CsTrustedApplicationPool -Identity 'p.litwareinc.com' -Site 'Redmond'\nRemove-CsTrustedApplicationPool -Identity 'p.litwareinc.com'",
            "because it has no registrar",
        ),
        (
            "litware",
            "Stop-Computer",
            "The term 'Stop-Computer' is not recognized",
        ),
    ];
    for (scenario, script, message) in cases {
        let mut lab = LabState::scenario(scenario).unwrap();
        let outcome = run(&mut lab, script);
        let failure = outcome.failure.unwrap_or_default();
        assert!(failure.contains(message), "{script}\n→ {failure}");
    }
}

#[test]
fn get_with_silently_continue_returns_nothing_and_no_error() {
    let mut lab = LabState::scenario("litware").unwrap();
    let out = run(
        &mut lab,
        "Get-CsTrustedApplicationPool -Identity 'nope.litwareinc.com' -ErrorAction SilentlyContinue",
    );
    assert_eq!(
        (out.output.len(), out.errors.len(), out.failure),
        (0, 0, None)
    );
    let out = run(
        &mut lab,
        "Get-CsTrustedApplicationPool -Identity 'nope.litwareinc.com'\n'after'",
    );
    assert_eq!(out.errors.len(), 1, "{out:?}");
    assert_eq!(out.output, vec![Value::Str("after".into())]);
    let sites = run(&mut lab, "Get-CsSite | Select-Object DisplayName, SiteID");
    let shown = server::lab::value::format_output(&sites.output);
    assert!(
        shown.contains("DisplayName : Redmond") && shown.contains("SiteID      : Redmond"),
        "{shown}"
    );
}

/// Records every command the interpreter hands over.
struct Recorder(Vec<String>);

impl Host for Recorder {
    fn invoke(&mut self, call: Invocation) -> Result<Vec<Value>, PsError> {
        self.0.push(call.name.clone());
        Ok(call
            .args
            .iter()
            .filter_map(|a| match a {
                server::lab::interpreter::Arg::Named(_, Some(v)) => Some(v.clone()),
                _ => None,
            })
            .collect())
    }
}

#[test]
fn quoted_hostile_values_stay_values() {
    for hostile in [
        "a\u{2019}; Stop-Computer; \u{2018}",
        "x'; Stop-Computer; '",
        "$(Stop-Computer)",
        "a\u{201A}\u{201B}b",
    ] {
        let script = app::procedure::powershell::Command::new("Set-Thing")
            .arg("Identity", app::procedure::powershell::Value::text(hostile))
            .to_string();
        let mut host = Recorder(Vec::new());
        let outcome = Interpreter::new(&mut host).run(&script);
        assert_eq!(outcome.failure, None, "{script}");
        assert_eq!(host.0, vec!["Set-Thing"], "{script}");
        assert_eq!(
            outcome.output,
            vec![Value::Str(hostile.to_string())],
            "{script}"
        );
    }
    // An en dash is a parameter dash in PowerShell.
    let mut host = Recorder(Vec::new());
    let outcome = Interpreter::new(&mut host).run("Set-Thing \u{2013}Identity 'x'");
    assert_eq!(outcome.output, vec![Value::Str("x".into())]);
}

#[test]
fn lab_shell_keeps_its_state_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("lab.json");
    let shell = |script: &str| {
        let out = lab_shell(&state, script.as_bytes());
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, stdout, stderr) = shell(&lync_steps());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("TrustedApplicationPool:atl-owa-001.litwareinc.com"),
        "{stdout}"
    );
    let (code, _, stderr) = shell(&lync_steps());
    assert_eq!(code, Some(1));
    assert!(stderr.contains("already exists"), "{stderr}");
    let (code, stdout, _) = shell("(Get-CsTrustedApplication).Port");
    assert_eq!((code, stdout.trim()), (Some(0), "5199"));
}

/// The plan's steps for one shell, as a script that stops at the first error.
fn steps_for(target: Target, facts: &app::procedure::facts::Facts) -> String {
    let spec = IntegrationSpec::validate(&samples::article_request(), samples::now()).unwrap();
    let p = plan(&spec, facts, samples::now());
    let mut script = String::from("$ErrorActionPreference = 'Stop'\n");
    for step in p.changes().filter(|s| s.target == target) {
        script.push_str(&step.apply.join("\n"));
        script.push('\n');
    }
    script
}

#[test]
fn the_plans_exchange_shell_steps_configure_um_owa_and_policies() {
    let mut lab = LabState::scenario("litware").unwrap();
    let outcome = run(
        &mut lab,
        &steps_for(Target::ExchangeShell, &samples::litware()),
    );
    assert_eq!(outcome.failure, None, "{outcome:?}");
    let ex = &lab.exchange;
    let router = ex
        .um_call_routers
        .iter()
        .find(|a| a.server == "atl-owa-001.litwareinc.com")
        .unwrap();
    assert_eq!(router.dial_plans, vec!["RedmondDialPlan"]);
    // Front-end virtual directories only; the back end is left alone.
    for v in &ex.owa_virtual_directories {
        assert_eq!(v.im_ready(), !v.backend, "{v:?}");
    }
    let default = ex
        .owa_mailbox_policies
        .iter()
        .find(|p| p.name == "Default")
        .unwrap();
    assert!(default.im_ready());
    let executives = ex
        .owa_mailbox_policies
        .iter()
        .find(|p| p.name == "Executives")
        .unwrap();
    assert!(!executives.im_ready());
}

#[test]
fn exchange_cmdlets_fail_as_documented() {
    let cases: &[(&str, &str)] = &[
        (
            "Set-UMService -Identity 'atl-mbx-001.litwareinc.com' -DialPlans @{Add='RedmondExtensions'}",
            "can only be added to SIP URI dial plans",
        ),
        (
            "Set-UMService -Identity 'atl-mbx-001.litwareinc.com' -DialPlans @{Add='Nowhere'}",
            "doesn't exist",
        ),
        (
            "Set-OwaMailboxPolicy -Identity 'Default' -InstantMessagingType 'Lync'",
            "Specify one of the following enumerator names",
        ),
        (
            "Set-OwaMailboxPolicy -Identity 'Default' -InstantMessagingEnabled 'yes'",
            "System.Boolean",
        ),
        (
            "Get-OwaVirtualDirectory -Bogus",
            "A parameter cannot be found that matches parameter name 'Bogus'",
        ),
    ];
    for (script, message) in cases {
        let mut lab = LabState::scenario("litware").unwrap();
        let failure = run(&mut lab, script).failure.unwrap_or_default();
        assert!(failure.contains(message), "{script}\n→ {failure}");
    }
    // A $null identity returns every policy, as documented.
    let mut lab = LabState::scenario("litware").unwrap();
    let all = run(&mut lab, "Get-OwaMailboxPolicy -Identity $null");
    assert_eq!(all.output.len(), 2);
    // Back-end virtual directories appear only when asked for.
    assert_eq!(run(&mut lab, "Get-OwaVirtualDirectory").output.len(), 1);
    assert_eq!(
        run(
            &mut lab,
            "Get-OwaVirtualDirectory -ShowMailboxVirtualDirectories"
        )
        .output
        .len(),
        2
    );
}

#[test]
fn every_scenario_builds_from_its_sample() {
    for name in server::lab::SCENARIOS {
        let lab = LabState::scenario(name).unwrap_or_else(|| panic!("{name}"));
        assert!(!lab.exchange.servers.is_empty(), "{name}");
    }
    let duplicate = LabState::scenario("duplicate-pool").unwrap();
    assert_eq!(duplicate.lync.published.trusted_pools.len(), 1);
    assert!(LabState::scenario("nowhere").is_none());
}

/// Runs a probe in the lab and returns what it printed.
fn probe_output(lab: &mut LabState, probe: &app::procedure::probes::Probe) -> String {
    let outcome = run(lab, &probe.script);
    assert_eq!(outcome.failure, None, "{}: {outcome:?}", probe.id);
    assert!(
        outcome.errors.is_empty(),
        "{}: {:?}",
        probe.id,
        outcome.errors
    );
    server::lab::value::format_output(&outcome.output)
}

#[test]
fn the_lync_and_exchange_probes_read_the_lab_back_as_its_facts() {
    use app::procedure::probes;
    for (name, facts) in samples::all() {
        if name == "integrated" {
            continue;
        }
        let mut lab = LabState::scenario(name).unwrap();
        let lync = probes::parse_lync(&probe_output(&mut lab, &probes::lync())).unwrap();
        assert_eq!(lync, facts.lync, "{name}");
        let exchange =
            probes::parse_exchange(&probe_output(&mut lab, &probes::exchange())).unwrap();
        let mut expected = facts.exchange.clone();
        expected.backends.clear();
        // The UM probe lists every Exchange 2013 server with the role, in dial plans or not.
        let mut got = exchange.clone();
        got.um_services.retain(|a| {
            !a.dial_plans.is_empty() || expected.um_services.iter().any(|e| e.server == a.server)
        });
        got.um_call_routers.retain(|a| {
            !a.dial_plans.is_empty()
                || expected
                    .um_call_routers
                    .iter()
                    .any(|e| e.server == a.server)
        });
        for f in [&mut got, &mut expected] {
            f.um_services.sort_by(|a, b| a.server.cmp(&b.server));
            f.um_call_routers.sort_by(|a, b| a.server.cmp(&b.server));
        }
        assert_eq!(got, expected, "{name}");
    }
}

/// The facts the probes read from the lab.
fn probe_lab(lab: &mut LabState) -> app::procedure::facts::Facts {
    use app::procedure::probes;
    let lync = probes::parse_lync(&probe_output(lab, &probes::lync())).unwrap();
    let exchange = probes::parse_exchange(&probe_output(lab, &probes::exchange())).unwrap();
    let servers: Vec<String> = lab
        .exchange
        .backends
        .iter()
        .map(|b| b.server.clone())
        .collect();
    let backends = servers
        .iter()
        .map(|s| probes::parse_backend(s, &probe_output(lab, &probes::backend(s))).unwrap())
        .collect();
    probes::assemble(lync, exchange, backends, samples::now())
}

#[test]
fn the_whole_runbook_integrates_litware_and_a_replan_finds_nothing_to_do() {
    let mut lab = LabState::scenario("litware").unwrap();
    let before = probe_lab(&mut lab);
    let spec = IntegrationSpec::validate(&samples::article_request(), samples::now()).unwrap();
    let first = plan(&spec, &before, samples::now());
    assert!(first.failures().is_empty(), "{:?}", first.failures());
    let runbook = server::render::runbook(&first);
    let outcome = run(&mut lab, &runbook);
    assert_eq!(outcome.failure, None, "{outcome:?}");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);

    let backend = &lab.exchange.backends[0];
    assert!(backend.web_config.contains("<add key=\"IMCertificateThumbprint\" value=\"EA5A332496CC05DA69B75B66111C0F78A110D22D\" />"), "{}", backend.web_config);
    assert!(
        backend
            .web_config
            .contains("<add key=\"IMServerName\" value=\"atl-cs-001.litwareinc.com\" />")
    );
    assert!(
        backend
            .web_config
            .contains("<add key=\"ClientValidationEnabled\" value=\"true\" />"),
        "other keys are kept"
    );
    assert_eq!(backend.owa_app_pool_recycles, 1);
    assert_eq!(backend.files.len(), 1, "a backup of web.config was kept");
    assert!(!backend.files[0].1.contains("IMServerName"));
    assert_eq!(lab.lync.published.trusted_pools.len(), 1);

    // The lab remembers every command that changed something, once each; the probes, which
    // only read, left no trace.
    let count = |entry: &str| lab.applied.iter().filter(|a| a.as_str() == entry).count();
    for (entry, times) in [
        ("New-CsTrustedApplicationPool", 1),
        ("New-CsTrustedApplication", 1),
        ("Enable-CsTopology", 1),
        ("Set-OwaVirtualDirectory", 1),
        ("Set-OwaMailboxPolicy", 1),
        ("atl-mbx-001.litwareinc.com: Copy-Item", 1),
        ("atl-mbx-001.litwareinc.com: Set-Content", 1),
    ] {
        assert_eq!(count(entry), times, "{entry}: {:?}", lab.applied);
    }
    assert!(
        lab.applied.iter().all(|a| !a.contains("Get-")),
        "{:?}",
        lab.applied
    );

    // Planned again against what the probes now read, nothing is left to do.
    let after = probe_lab(&mut lab);
    let second = plan(&spec, &after, samples::now());
    let pending: Vec<&str> = second.changes().map(|s| s.id.as_str()).collect();
    assert!(pending.is_empty(), "{pending:?}");

    // The same creation script run again fails as PowerShell would.
    let again = run(&mut lab, &runbook);
    assert!(again.failure.unwrap_or_default().contains("already exists"));
}

#[test]
fn the_backend_probe_reads_the_ucma_value_web_config_and_certificates() {
    for (name, facts) in samples::all() {
        if name == "integrated" {
            continue;
        }
        let mut lab = LabState::scenario(name).unwrap();
        let read = probe_lab(&mut lab);
        assert_eq!(read.exchange.backends, facts.exchange.backends, "{name}");
    }
}

/// Plans against what the probes read and runs the runbook, as the worker will.
fn integrate(lab: &mut LabState) {
    integrate_with(lab, &samples::article_request());
}

/// [`integrate`] with the request `input`.
fn integrate_with(lab: &mut LabState, input: &app::domain::request::RequestInput) {
    let facts = probe_lab(lab);
    let spec = IntegrationSpec::validate(input, samples::now()).unwrap();
    let p = plan(&spec, &facts, samples::now());
    assert!(p.failures().is_empty(), "{:?}", p.failures());
    let outcome = run(lab, &server::render::runbook(&p));
    assert_eq!(outcome.failure, None, "{outcome:?}");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
}

/// Runs the plan's runbook even though preflight failed (as someone pasting it by hand would),
/// returning the failed checks.
fn force(lab: &mut LabState) -> Vec<String> {
    let facts = probe_lab(lab);
    let spec = IntegrationSpec::validate(&samples::article_request(), samples::now()).unwrap();
    let p = plan(&spec, &facts, samples::now());
    let failed = p.failures().iter().map(|c| c.id.clone()).collect();
    run(lab, &server::render::runbook(&p));
    failed
}

fn reasons_of(lab: &mut LabState, upn: &str) -> Vec<String> {
    let s = lab.owa_sign_in(upn, samples::now());
    assert!(!s.presence, "{upn} has presence");
    s.reasons
}

const ELIGIBLE: &str = "user0001@litwareinc.com";

#[test]
fn presence_follows_the_documented_chain() {
    let now = samples::now();
    let mut lab = LabState::scenario("litware").unwrap();
    assert_eq!(lab.users.len(), server::lab::USERS);
    // IM on by default but not integrated: the documented blank-presence error.
    let before = lab.owa_sign_in(ELIGIBLE, now);
    assert!(!before.presence);
    assert!(
        before
            .reasons
            .iter()
            .any(|r| r.contains("blank presence icons")),
        "{before:?}"
    );
    assert!(lab.exchange.backends[0].owa_events.is_empty());

    integrate(&mut lab);
    let after = lab.owa_sign_in(ELIGIBLE, now);
    assert!(after.presence, "{after:?}");
    let backend = &lab.exchange.backends[0];
    assert_eq!(backend.owa_events, vec![112]);
    assert!(backend.im_log_folder);

    // Ineligible people stay without presence, each for their reason.
    let cases = [
        ("user0010@litwareinc.com", "not enabled for Lync"),
        ("user0013@litwareinc.com", "needs an Exchange 2013 mailbox"),
        ("user0017@litwareinc.com", "no SIP proxy address"),
        ("user0029@litwareinc.com", "no mailbox"),
        (
            "user0005@litwareinc.com",
            "“Executives” does not enable instant messaging",
        ),
    ];
    for (upn, reason) in cases {
        let s = lab.owa_sign_in(upn, now);
        assert!(!s.presence, "{upn}");
        assert!(
            s.reasons.iter().any(|r| r.contains(reason)),
            "{upn}: {:?}",
            s.reasons
        );
    }

    // A cumulative update rewrites web.config: presence is gone until the plan runs again.
    lab.install_cumulative_update("atl-mbx-001.litwareinc.com")
        .unwrap();
    let drifted = lab.owa_sign_in(ELIGIBLE, now);
    assert!(
        drifted
            .reasons
            .iter()
            .any(|r| r.contains("Thumbprint is null or empty")),
        "{drifted:?}"
    );
    let facts = probe_lab(&mut lab);
    let spec = IntegrationSpec::validate(&samples::article_request(), now).unwrap();
    let replan = plan(&spec, &facts, now);
    let pending: Vec<&str> = replan.changes().map(|s| s.id.as_str()).collect();
    assert_eq!(
        pending,
        vec![
            "web-config:atl-mbx-001.litwareinc.com",
            "recycle:atl-mbx-001.litwareinc.com"
        ]
    );
    assert_eq!(
        run(&mut lab, &server::render::runbook(&replan)).failure,
        None
    );
    assert!(lab.owa_sign_in(ELIGIBLE, now).presence);
}

#[test]
fn scenarios_end_as_the_reference_describes() {
    let now = samples::now();
    // Colocated UM: no trusted pool is created, and presence works through autodiscovery.
    let mut lab = LabState::scenario("colocated-um").unwrap();
    integrate(&mut lab);
    assert!(lab.lync.published.trusted_pools.is_empty());
    assert!(lab.owa_sign_in(ELIGIBLE, now).presence);

    // A duplicate manual pool for an autodiscovered server breaks IM, and the plan repairs it.
    let mut lab = LabState::scenario("duplicate-pool").unwrap();
    let broken = lab.owa_sign_in(ELIGIBLE, now);
    assert!(
        broken
            .reasons
            .iter()
            .any(|r| r.contains("two entries for the same computer")),
        "{broken:?}"
    );
    integrate(&mut lab);
    assert!(lab.lync.published.trusted_pools.is_empty());
    assert!(lab.owa_sign_in(ELIGIBLE, now).presence);

    // Preflight stops the broken environments before anything runs.
    for name in ["ucma-missing", "cert-mismatch"] {
        let mut lab = LabState::scenario(name).unwrap();
        let facts = probe_lab(&mut lab);
        let spec = IntegrationSpec::validate(&samples::article_request(), now).unwrap();
        assert!(!plan(&spec, &facts, now).failures().is_empty(), "{name}");
    }
}

#[test]
fn exchange_2010_in_coexistence_is_left_alone_and_2013_users_get_presence() {
    let now = samples::now();
    let mut lab = LabState::scenario("mixed-2010").unwrap();
    integrate(&mut lab);
    let signed_in = lab.owa_sign_in(ELIGIBLE, now);
    assert!(signed_in.presence, "{signed_in:?}");
    // Someone whose mailbox is still on Exchange 2010 does not get presence until moved.
    assert!(!lab.owa_sign_in("user0013@litwareinc.com", now).presence);
    // The Exchange 2010 server's directory was not touched.
    let old = lab
        .exchange
        .owa_virtual_directories
        .iter()
        .find(|v| v.server == "atl-ex2010.litwareinc.com")
        .unwrap();
    assert!(!old.instant_messaging_enabled);
    // A second plan finds nothing left to do.
    let facts = probe_lab(&mut lab);
    let spec = IntegrationSpec::validate(&samples::article_request(), now).unwrap();
    let again = plan(&spec, &facts, now);
    assert!(again.failures().is_empty());
    assert_eq!(
        again.changes().count(),
        0,
        "{:?}",
        again.changes().map(|s| &s.id).collect::<Vec<_>>()
    );
}

#[test]
fn when_every_mailbox_server_is_autodiscovered_no_pool_is_made_and_the_manual_one_goes() {
    let now = samples::now();
    let mut lab = LabState::scenario("all-autodiscovered").unwrap();
    integrate(&mut lab);
    assert!(
        lab.lync.published.trusted_pools.is_empty(),
        "{:?}",
        lab.lync.published.trusted_pools
    );
    let signed_in = lab.owa_sign_in(ELIGIBLE, now);
    assert!(signed_in.presence, "{signed_in:?}");
}

#[test]
fn the_lab_cli_signs_in_and_installs_updates() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("lab.json");
    let lab = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_imlink"))
            .arg("lab")
            .args(args)
            .arg("--state")
            .arg(&state)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, out) = lab(&["signin", "--user", ELIGIBLE]);
    assert_eq!(code, Some(1));
    assert!(out.contains("blank presence icons"), "{out}");
    let (code, out) = lab(&["install-cu", "--server", "atl-mbx-001.litwareinc.com"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, _) = lab(&["install-cu", "--server", "nowhere.litwareinc.com"]);
    assert_eq!(code, Some(2));
}

#[test]
fn plan_from_the_lab_run_in_the_lab_and_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("lab.json");
    let imlink = || Command::new(env!("CARGO_BIN_EXE_imlink"));
    let request = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../app/src/procedure/testdata/article-request.json");

    let discovered = imlink()
        .args(["discover", "--environment", "lab:litware"])
        .output()
        .unwrap();
    assert!(
        discovered.status.success(),
        "{}",
        String::from_utf8_lossy(&discovered.stderr)
    );
    let mut facts: app::procedure::facts::Facts =
        serde_json::from_slice(&discovered.stdout).unwrap();
    facts.collected_at = samples::litware().collected_at;
    assert_eq!(facts, samples::litware());

    let planned = imlink()
        .args([
            "plan",
            "--environment",
            "lab:litware",
            "--format",
            "ps1",
            "--request",
        ])
        .arg(&request)
        .output()
        .unwrap();
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    let ran = lab_shell(&state, &planned.stdout);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );

    let signin = imlink()
        .args(["lab", "signin", "--user", ELIGIBLE, "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(
        signin.status.success(),
        "{}",
        String::from_utf8_lossy(&signin.stdout)
    );
    // Planned again against the saved lab, nothing is left to change.
    let again = imlink()
        .args(["plan", "--format", "json", "--request"])
        .arg(&request)
        .arg("--lab-state")
        .arg(&state)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    let changing = json["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["decision"]["kind"] == "change")
        .count();
    assert_eq!(changing, 0);
}

#[test]
fn typographic_quotes_end_strings_as_in_powershell() {
    // Badly escaped, a typographic quote ends the string and the rest runs: the lab follows
    // PowerShell here, not the grammar (which would read one long string).
    let mut host = Recorder(Vec::new());
    let outcome = Interpreter::new(&mut host)
        .run("Set-Thing -Identity 'a\u{2019}; Stop-Computer; \u{2018}x'");
    assert_eq!(outcome.failure, None, "{outcome:?}");
    assert_eq!(host.0, vec!["Set-Thing", "Stop-Computer"]);
    // Doubled, as imlink writes it, it is one value with the quotes as they were.
    let mut host = Recorder(Vec::new());
    let outcome =
        Interpreter::new(&mut host).run("Set-Thing -Identity 'a\u{2019}\u{2019}b\u{201B}\u{201B}'");
    assert_eq!(host.0, vec!["Set-Thing"]);
    assert_eq!(
        outcome.output,
        vec![Value::Str("a\u{2019}b\u{201B}".into())]
    );
    // In a script block too.
    let mut host = Recorder(Vec::new());
    let outcome = Interpreter::new(&mut host).run("& { Set-Thing -Identity 'x\u{2018}\u{2018}y' }");
    assert_eq!(outcome.output, vec![Value::Str("x\u{2018}y".into())]);
}

#[test]
fn the_recycle_check_tells_whether_owa_started_after_web_config_changed() {
    let facts = samples::litware();
    let spec = IntegrationSpec::validate(&samples::article_request(), samples::now()).unwrap();
    let p = plan(&spec, &facts, samples::now());
    let step = |prefix: &str| {
        p.steps
            .iter()
            .find(|s| s.id.starts_with(prefix))
            .unwrap()
            .clone()
    };
    let (web_config, recycle) = (step("web-config:"), step("recycle:"));
    assert!(recycle.checkable());
    let on_backend = |lines: &[String]| {
        format!(
            "Invoke-Command -ComputerName 'atl-mbx-001.litwareinc.com' -ScriptBlock {{\n{}\n}}",
            lines.join("\n")
        )
    };
    let check = |lab: &mut LabState| {
        let outcome = run(lab, &on_backend(std::slice::from_ref(&recycle.check)));
        assert_eq!(outcome.failure, None, "{outcome:?}");
        server::lab::value::format_output(&outcome.output).trim() == "True"
    };
    let mut lab = LabState::scenario("litware").unwrap();
    assert!(check(&mut lab), "OWA started after web.config was written");
    assert_eq!(run(&mut lab, &on_backend(&web_config.apply)).failure, None);
    assert!(!check(&mut lab), "web.config changed since OWA started");
    assert_eq!(run(&mut lab, &on_backend(&recycle.apply)).failure, None);
    assert!(
        check(&mut lab),
        "recycled: adopted after a crash, not recycled again"
    );
    // A cumulative update rewrites web.config and restarts OWA.
    lab.install_cumulative_update("atl-mbx-001.litwareinc.com")
        .unwrap();
    assert!(check(&mut lab));
}

#[test]
fn coexistence_2010_integrates_and_2010_people_do_not_get_presence() {
    let mut lab = LabState::scenario("coexistence-2010").unwrap();
    integrate(&mut lab);
    assert!(lab.owa_sign_in(ELIGIBLE, samples::now()).presence);
    // Homed on the Lync Server 2010 pool: no presence in OWA 2013 until moved.
    let lync_2010 = reasons_of(&mut lab, "user0011@litwareinc.com");
    assert!(
        lync_2010
            .iter()
            .any(|r| r.contains("atl-cs2010-001.litwareinc.com, which is not a Lync Server 2013")),
        "{lync_2010:?}"
    );
    // A mailbox on Exchange 2010: likewise.
    assert!(
        reasons_of(&mut lab, "user0013@litwareinc.com")
            .iter()
            .any(|r| r.contains("needs an Exchange 2013 mailbox"))
    );
    // The 2010 pool cannot be the registrar.
    let facts = probe_lab(&mut LabState::scenario("coexistence-2010").unwrap());
    let input = app::domain::request::RequestInput {
        registrar_fqdn: "atl-cs2010-001.litwareinc.com".into(),
        ..samples::article_request()
    };
    let spec = IntegrationSpec::validate(&input, samples::now()).unwrap();
    let p = plan(&spec, &facts, samples::now());
    assert_eq!(
        p.failures()
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        ["registrar-pool"]
    );
}

#[test]
fn multi_server_every_back_end_serves_its_own_people() {
    let now = samples::now();
    let mut lab = LabState::scenario("multi-server").unwrap();
    integrate_with(&mut lab, &samples::request_for("multi-server"));
    let pool = &lab.lync.published.trusted_pools[0];
    assert_eq!(pool.fqdn, samples::LOAD_BALANCED_OWA);
    assert_eq!(
        pool.computers,
        [
            "atl-mbx-001.litwareinc.com",
            "atl-mbx-002.litwareinc.com",
            "atl-mbx-003.litwareinc.com"
        ]
    );
    // user0001 is on atl-mbx-002, user0002 on atl-mbx-003, user0004 on atl-mbx-002,
    // user0006... user0003's mailbox is on atl-mbx-001.
    for upn in ["user0001", "user0002", "user0003"] {
        let s = lab.owa_sign_in(&format!("{upn}@litwareinc.com"), now);
        assert!(s.presence, "{s:?}");
    }
    assert!(lab.exchange.backends.iter().all(|b| b.owa_events == [112]));
    // A cumulative update on one server breaks only the people it serves.
    lab.install_cumulative_update("atl-mbx-003.litwareinc.com")
        .unwrap();
    assert!(
        reasons_of(&mut lab, "user0002@litwareinc.com")
            .iter()
            .any(|r| r.contains("null or empty on web.config (atl-mbx-003.litwareinc.com)"))
    );
    assert!(lab.owa_sign_in("user0001@litwareinc.com", now).presence);
    // A server that is not one of the pool's computers is not a configured server.
    let mut lab = LabState::scenario("multi-server").unwrap();
    integrate_with(&mut lab, &samples::request_for("multi-server"));
    lab.lync.published.trusted_pools[0].computers.pop();
    assert!(
        reasons_of(&mut lab, "user0002@litwareinc.com")
            .iter()
            .any(|r| r.contains("not one of that trusted application pool's computers"))
    );
}

#[test]
fn a_director_is_never_the_registrar_nor_im_server_name() {
    let mut lab = LabState::scenario("director").unwrap();
    let facts = probe_lab(&mut lab);
    assert!(facts.lync.pools.iter().any(|p| p.is_director()));
    integrate(&mut lab);
    assert!(lab.owa_sign_in(ELIGIBLE, samples::now()).presence);
    // web.config edited by hand to name the Director, then OWA restarted.
    let backend = &mut lab.exchange.backends[0];
    backend.loaded_web_config = backend
        .loaded_web_config
        .replace("atl-cs-001.litwareinc.com", "atl-dir-001.litwareinc.com");
    assert!(
        reasons_of(&mut lab, ELIGIBLE)
            .iter()
            .any(|r| r.contains("a Director pool")),
    );
    // Another Front End pool than the one hosting the trusted pool is wrong too.
    let mut lab = LabState::scenario("director").unwrap();
    integrate(&mut lab);
    let mut other = lab.lync.pools[0].clone();
    other.fqdn = "atl-cs-002.litwareinc.com".into();
    other.services = vec!["Registrar:atl-cs-002.litwareinc.com".into()];
    lab.lync.pools.push(other);
    let backend = &mut lab.exchange.backends[0];
    backend.loaded_web_config = backend
        .loaded_web_config
        .replace("atl-cs-001.litwareinc.com", "atl-cs-002.litwareinc.com");
    assert!(
        reasons_of(&mut lab, ELIGIBLE)
            .iter()
            .any(|r| r.contains("must name the pool that hosts it"))
    );
}

#[test]
fn a_self_signed_certificate_is_refused_and_gives_no_presence() {
    let mut lab = LabState::scenario("self-signed").unwrap();
    assert_eq!(force(&mut lab), ["certificate:atl-mbx-001.litwareinc.com"]);
    assert!(
        reasons_of(&mut lab, ELIGIBLE)
            .iter()
            .any(|r| r.contains("self-signed: Lync does not trust it"))
    );
    // An issuer Windows does not trust ends the same way.
    let mut lab = LabState::scenario("litware").unwrap();
    lab.exchange.backends[0].certificates[0].status = "Untrusted".into();
    assert_eq!(force(&mut lab), ["certificate:atl-mbx-001.litwareinc.com"]);
    assert!(
        reasons_of(&mut lab, ELIGIBLE)
            .iter()
            .any(|r| r.contains("chain on atl-mbx-001.litwareinc.com is Untrusted"))
    );
}

#[test]
fn each_server_gets_its_own_certificate() {
    let mut lab = LabState::scenario("cert-per-server").unwrap();
    // One thumbprint cannot serve both servers.
    assert_eq!(
        force(&mut LabState::scenario("cert-per-server").unwrap()),
        ["certificate:atl-mbx-002.litwareinc.com"]
    );
    integrate_with(&mut lab, &samples::request_for("cert-per-server"));
    for (backend, thumbprint) in [
        (0, "EA5A332496CC05DA69B75B66111C0F78A110D22D"),
        (1, samples::SECOND_THUMBPRINT),
    ] {
        let config = &lab.exchange.backends[backend].web_config;
        assert!(
            config.contains(&format!(
                "key=\"IMCertificateThumbprint\" value=\"{thumbprint}\""
            )),
            "{config}"
        );
    }
    // user0001 is on atl-mbx-002, user0002 on atl-mbx-001.
    for upn in ["user0001@litwareinc.com", "user0002@litwareinc.com"] {
        let s = lab.owa_sign_in(upn, samples::now());
        assert!(s.presence, "{s:?}");
    }
    assert!(lab.exchange.backends.iter().all(|b| b.owa_events == [112]));
}

#[test]
fn turning_im_off_ends_presence_and_its_rollback_brings_it_back() {
    let now = samples::now();
    let mut lab = LabState::scenario("litware").unwrap();
    integrate(&mut lab);
    assert!(lab.owa_sign_in(ELIGIBLE, now).presence);
    let facts = probe_lab(&mut lab);
    let spec = IntegrationSpec::validate(&samples::turn_off_request(), now).unwrap();
    let off = plan(&spec, &facts, now);
    assert!(off.failures().is_empty(), "{:?}", off.failures());
    let outcome = run(&mut lab, &server::render::runbook(&off));
    assert_eq!(outcome.failure, None, "{outcome:?}");
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let reasons = reasons_of(&mut lab, ELIGIBLE);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("IM is turned off on OWA's front-end virtual directory")),
        "{reasons:?}"
    );
    let config = &lab.exchange.backends[0].web_config;
    assert!(!config.contains("IMServerName") && !config.contains("IMCertificateThumbprint"));
    assert!(
        config.contains("ClientValidationEnabled"),
        "other keys stay"
    );
    // Planned again, nothing is left to turn off.
    let again = plan(&spec, &probe_lab(&mut lab), now);
    assert_eq!(again.changes().count(), 0, "{:?}", again.steps);
    // Rolling the change back restores what was there: presence again.
    let positions: Vec<usize> = (0..off.steps.len()).collect();
    let undo = off.undo(&positions, "undo".into());
    let outcome = run(&mut lab, &server::render::runbook(&undo));
    assert_eq!(outcome.failure, None, "{outcome:?}");
    let back = lab.owa_sign_in(ELIGIBLE, now);
    assert!(back.presence, "{back:?}");
}

#[test]
fn the_integrated_scenario_shows_presence_and_leaves_nothing_to_change() {
    let mut lab = LabState::scenario("integrated").unwrap();
    let signed_in = lab.owa_sign_in(ELIGIBLE, samples::now());
    assert!(signed_in.presence, "{signed_in:?}");
    let facts = probe_lab(&mut lab);
    let spec = IntegrationSpec::validate(&samples::article_request(), samples::now()).unwrap();
    let p = plan(&spec, &facts, samples::now());
    assert!(p.failures().is_empty(), "{:?}", p.failures());
    assert_eq!(
        p.changes().count(),
        0,
        "{:?}",
        p.changes().map(|s| &s.id).collect::<Vec<_>>()
    );
}
