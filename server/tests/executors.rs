//! The `local` and `ssh` executors run real processes. `imlink lab-shell` stands in for
//! `powershell.exe`: spawned directly, or as the forced command of an OpenSSH server that
//! `.ci/sshd.sh` starts on 127.0.0.1. Both must discover what the lab holds and run an
//! approved request to working OWA presence.

mod common;

use app::domain::runs::RunState;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use app::procedure::plan::Target;
use app::ssr::environment::Environment;
use common::{Backend, TestDb, approved, job_of, local_lab_shell as local, with_environment};
use server::config::{ExecutorConfig, ExecutorKind, SshConfig};
use server::executor::{ExecError, Executor};
use server::lab::store::LabStore;
use server::worker::Worker;

fn imlink() -> &'static str {
    env!("CARGO_BIN_EXE_imlink")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A program that is not PowerShell at all: `sh -c SCRIPT`, which ignores the encoded script.
fn shell(script: &str, timeout: u32) -> Executor {
    let config = ExecutorConfig {
        kind: ExecutorKind::Local,
        powershell: "sh".into(),
        powershell_args: vec!["-c".into(), script.into(), "sh".into()],
        step_timeout_seconds: timeout,
        ..ExecutorConfig::default()
    };
    Executor::new(&config, unused_lab())
}

fn unused_lab() -> LabStore {
    LabStore::new(sea_orm::DatabaseConnection::default())
}

/// An OpenSSH server whose every session runs `imlink lab-shell` on a lab state file.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    user: String,
}

impl Sshd {
    fn start(lab: &Path) -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let port = common::free_port();
        let command = format!("{} lab-shell --state {}", imlink(), lab.display());
        let out = Command::new(repo().join(".ci/sshd.sh"))
            .arg("start")
            .arg(dir.path().join("ssh"))
            .arg(port.to_string())
            .arg(&command)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sshd.sh start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Sshd {
            user: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            dir,
            port,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join("ssh").join(name)
    }

    fn config(&self) -> ExecutorConfig {
        ExecutorConfig {
            kind: ExecutorKind::Ssh,
            ssh: SshConfig {
                host: "127.0.0.1".into(),
                port: self.port,
                user: self.user.clone(),
                identity_file: Some(self.file("client_ed25519")),
                known_hosts_file: Some(self.file("known_hosts")),
            },
            ..ExecutorConfig::default()
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = Command::new(repo().join(".ci/sshd.sh"))
            .arg("stop")
            .arg(self.dir.path().join("ssh"))
            .status();
    }
}

/// Whether `upn` sees presence in OWA in the lab state file `lab`.
fn presence(lab: &Path, upn: &str) -> bool {
    Command::new(imlink())
        .args(["lab", "signin", "--state"])
        .arg(lab)
        .args(["--user", upn])
        .output()
        .unwrap()
        .status
        .success()
}

/// Facts discovered through `executor` are what the lab holds.
async fn discovers_the_lab(executor: Executor) {
    let environment = Environment::Remote(Arc::new(executor));
    let mut found = environment.facts().await.unwrap();
    let mut expected = server::lab::LabState::scenario("litware")
        .unwrap()
        .discover(chrono::Utc::now())
        .unwrap();
    found.collected_at = None;
    expected.collected_at = None;
    assert_eq!(found, expected);
}

/// A request approved in the portal runs through `config` on the lab file `lab` until the
/// user sees presence.
async fn runs_to_presence(config: ExecutorConfig, lab: &Path) {
    let t = TestDb::new(Backend::Sqlite).await;
    let executor = Executor::new(&config, LabStore::new(t.db.clone()));
    let s = with_environment(&t.db, Environment::Remote(Arc::new(executor.clone())));
    assert!(!presence(lab, "user0001@litwareinc.com"));
    let id = approved(&t.db, &s).await;
    let worker = Worker::new(t.db.clone(), s.settings.clone(), executor, "w".into());
    assert!(worker.tick().await.unwrap());
    let job = job_of(&t, id).await;
    assert_eq!(job.state, RunState::Succeeded, "{:?}", job.reason);
    assert!(presence(lab, "user0001@litwareinc.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_executor_discovers_and_runs_to_presence() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab.json");
    discovers_the_lab(Executor::new(&local(&lab), unused_lab())).await;
    runs_to_presence(local(&lab), &lab).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_executor_discovers_and_runs_to_presence() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab.json");
    let sshd = Sshd::start(&lab);
    discovers_the_lab(Executor::new(&sshd.config(), unused_lab())).await;
    runs_to_presence(sshd.config(), &lab).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_executor_refuses_an_unknown_host_key() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab.json");
    let sshd = Sshd::start(&lab);
    // Pin some other key for the server: the real one must then be refused.
    let other = dir.path().join("other");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(made.success());
    let key = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    let pinned = dir.path().join("known_hosts");
    std::fs::write(
        &pinned,
        format!("[127.0.0.1]:{} {}\n", sshd.port, key.join(" ")),
    )
    .unwrap();
    let mut config = sshd.config();
    config.ssh.known_hosts_file = Some(pinned);
    let executor = Executor::new(&config, unused_lab());
    let err = executor
        .run(&Target::LyncShell, &["Get-CsSite".into()], &|_: &str| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::HostKey(_)), "{err}");
    assert!(!err.is_transient());
    assert!(!lab.exists(), "nothing ran on the server");
}

#[tokio::test]
async fn an_unreachable_host_is_a_transient_failure() {
    let port = common::free_port();
    let config = ExecutorConfig {
        kind: ExecutorKind::Ssh,
        ssh: SshConfig {
            host: "127.0.0.1".into(),
            port,
            user: "nobody".into(),
            identity_file: Some("/dev/null".into()),
            known_hosts_file: Some("/dev/null".into()),
        },
        ..ExecutorConfig::default()
    };
    let err = Executor::new(&config, unused_lab())
        .run(&Target::LyncShell, &["Get-CsSite".into()], &|_: &str| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::Unreachable { .. }), "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn output_arrives_while_the_script_runs() {
    let chunks = Mutex::new(Vec::new());
    let run = shell("echo one; sleep 0.3; echo two", 30)
        .run(&Target::LyncShell, &["x".into()], &|c: &str| {
            chunks.lock().unwrap().push(c.to_string())
        })
        .await
        .unwrap();
    assert_eq!(run.output, "one\ntwo\n");
    assert_eq!(run.failure, None);
    assert_eq!(
        *chunks.lock().unwrap(),
        ["one\n", "two\n"],
        "each line was passed on as it came"
    );
    use sha2::Digest;
    assert_eq!(run.sha256, hex::encode(sha2::Sha256::digest(b"one\ntwo\n")));
}

#[tokio::test]
async fn a_failing_script_reports_its_error_and_a_slow_one_is_stopped() {
    let run = shell("echo partial; echo 'Cannot find the pool' >&2; exit 1", 30)
        .run(&Target::ExchangeShell, &["x".into()], &|_: &str| {})
        .await
        .unwrap();
    assert_eq!(run.output, "partial\n");
    assert_eq!(run.failure.as_deref(), Some("Cannot find the pool"));

    let err = shell("sleep 5", 1)
        .run(&Target::ExchangeShell, &["x".into()], &|_: &str| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::TimedOut(1)), "{err}");
    assert!(err.is_transient());
}

#[test]
fn scripts_carry_the_preamble_of_their_shell() {
    let config = ExecutorConfig {
        kind: ExecutorKind::Local,
        lync_preamble: "Import-Module Lync".into(),
        exchange_preamble: ". 'C:\\ex\\RemoteExchange.ps1'; Connect-ExchangeServer -auto".into(),
        ..ExecutorConfig::default()
    };
    let executor = Executor::new(&config, unused_lab());
    let lync = executor.script(&Target::LyncShell, &["Get-CsSite".into()]);
    assert_eq!(
        lync,
        "$ErrorActionPreference = 'Stop'\nImport-Module Lync\nGet-CsSite"
    );
    let exchange = executor.script(&Target::ExchangeShell, &["Get-ExchangeServer".into()]);
    assert!(exchange.contains("Connect-ExchangeServer -auto\nGet-ExchangeServer"));
    let backend = executor.script(
        &Target::Backend("ex'01.litwareinc.com".into()),
        &["Get-Item x".into()],
    );
    assert_eq!(
        backend,
        "$ErrorActionPreference = 'Stop'\nInvoke-Command -ComputerName 'ex''01.litwareinc.com' -ScriptBlock {\nGet-Item x\n}"
    );
    // The lab is both shells at once: no preambles there.
    let lab = Executor::new(&ExecutorConfig::default(), unused_lab());
    assert!(
        !lab.script(&Target::LyncShell, &["Get-CsSite".into()])
            .contains("Import-Module")
    );
}
