//! The plan for every sample environment, rendered as text and compared with the reviewed
//! snapshot in `tests/snapshots/`. After an intended change, accept the new output with
//! `UPDATE_SNAPSHOTS=1 cargo test -p server --test plans` and review the diff.

use std::path::PathBuf;
use std::process::Command;

use app::domain::request::IntegrationSpec;
use app::procedure::plan::plan;
use app::procedure::samples;

fn assert_snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; create it with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map_or(expected.lines().count().min(actual.lines().count()), |i| i);
        panic!(
            "{name} differs from its snapshot at line {}:\n  snapshot: {:?}\n  now:      {:?}\n\
             (UPDATE_SNAPSHOTS=1 accepts the new output)",
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

#[test]
fn every_branch_matches_its_snapshot() {
    for (name, facts) in samples::all() {
        let spec = IntegrationSpec::validate(&samples::request_for(name), samples::now()).unwrap();
        let p = plan(&spec, &facts, samples::now());
        assert_snapshot(&format!("{name}.txt"), &server::render::text(&p));
    }
    let spec = IntegrationSpec::validate(&samples::article_request(), samples::now()).unwrap();
    let p = plan(&spec, &samples::litware(), samples::now());
    assert_snapshot("litware.ps1", &server::render::runbook(&p));
    // Turning IM off in the integrated organization.
    let off = IntegrationSpec::validate(&samples::turn_off_request(), samples::now()).unwrap();
    let p = plan(&off, &samples::integrated(), samples::now());
    assert_snapshot("turn-off.txt", &server::render::text(&p));
    assert_snapshot("turn-off.ps1", &server::render::runbook(&p));
}

/// What the worker sends for each step is, byte for byte, what the approver downloaded: the
/// runbook holds each step's script as the executor builds it (after the line that stops at the
/// first error, which the runbook states once at its top).
#[test]
fn the_runbook_holds_exactly_what_the_executor_sends() {
    use app::procedure::plan::Decision;
    let spec = IntegrationSpec::validate(&samples::article_request(), samples::now()).unwrap();
    let p = plan(&spec, &samples::litware(), samples::now());
    let runbook = server::render::runbook(&p);
    let dir = tempfile::tempdir().unwrap();
    let db = tokio::runtime::Runtime::new().unwrap().block_on(async {
        server::database::connect(
            &format!("sqlite://{}/x.db?mode=rwc", dir.path().display()),
            1,
        )
        .await
        .unwrap()
    });
    let executor = server::executor::Executor::new(
        &server::config::ExecutorConfig::default(),
        server::lab::store::LabStore::new(db),
    );
    let mut checked = 0;
    for step in p.steps.iter().filter(|s| s.decision == Decision::Change) {
        let sent = executor.script(&step.target, &step.apply);
        let body = sent
            .strip_prefix("$ErrorActionPreference = 'Stop'\n")
            .expect("every script stops at the first error");
        assert!(
            runbook.contains(&format!("$output = & {{\n{body}\n}}\n")),
            "step {} is not in the runbook as sent:\n{body}",
            step.id
        );
        checked += 1;
    }
    assert!(checked >= 5, "{checked}");
    assert!(runbook.contains("$ErrorActionPreference = 'Stop'"));
}

fn imlink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imlink"))
}

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../app/src/procedure/testdata")
        .join(name)
}

#[test]
fn the_cli_prints_the_plan_in_each_format() {
    for (format, needle) in [
        (
            "text",
            "New-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com'",
        ),
        ("ps1", "\u{FEFF}# imlink runbook"),
        ("json", "\"hash\""),
    ] {
        let out = imlink()
            .args(["plan", "--format", format, "--request"])
            .arg(testdata("article-request.json"))
            .arg("--facts")
            .arg(testdata("litware-facts.json"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        // The certificate in the sample is valid until 2028; planning happens now.
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(needle), "{format}: {stdout}");
    }
}

#[test]
fn the_cli_names_bad_fields_and_failed_checks() {
    let dir = tempfile::tempdir().unwrap();
    let request = dir.path().join("request.json");
    std::fs::write(
        &request,
        r#"{"site":"Redmond","owa_pool_fqdn":"atl-owa-001.litwareinc.com","registrar_pool_fqdn":"atl-cs-001.litwareinc.com",
            "port":70000,"certificate_thumbprint":"EA5A332496CC05DA69B75B66111C0F78A110D22D","mailbox_policies":"all",
            "justification":"Presence in OWA for Redmond."}"#,
    )
    .unwrap();
    let out = imlink()
        .args(["plan", "--request"])
        .arg(&request)
        .arg("--facts")
        .arg(testdata("litware-facts.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("field `port`"), "{stderr}");

    let facts = dir.path().join("facts.json");
    let mut broken = samples::ucma_missing();
    broken.collected_at = None;
    std::fs::write(&facts, serde_json::to_string(&broken).unwrap()).unwrap();
    let out = imlink()
        .args(["plan", "--request"])
        .arg(testdata("article-request.json"))
        .arg("--facts")
        .arg(&facts)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("preflight `ucma:atl-mbx-001.litwareinc.com` failed"),
        "{stderr}"
    );
}

#[test]
fn probe_outputs_assemble_into_the_facts_that_plan() {
    let out = imlink()
        .args(["probes", "--backend", "atl-mbx-001.litwareinc.com"])
        .output()
        .unwrap();
    let scripts = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        scripts.contains("# Probe lync: run in the Lync Server Management Shell"),
        "{scripts}"
    );
    assert!(
        scripts.contains("-ComputerName 'atl-mbx-001.litwareinc.com'"),
        "{scripts}"
    );

    let out = imlink()
        .args(["facts", "--lync"])
        .arg(testdata("probe-lync.json"))
        .arg("--exchange")
        .arg(testdata("probe-exchange.json"))
        .arg("--backend")
        .arg(format!(
            "atl-mbx-001.litwareinc.com={}",
            testdata("probe-backend.json").display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: app::procedure::facts::Facts = serde_json::from_slice(&out.stdout).unwrap();
    let mut expected = samples::litware();
    expected.collected_at = facts.collected_at;
    assert_eq!(facts, expected);

    let out = imlink()
        .args(["facts", "--lync"])
        .arg(testdata("probe-exchange.json"))
        .arg("--exchange")
        .arg(testdata("probe-exchange.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the lync probe printed something unexpected")
    );
}
