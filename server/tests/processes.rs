//! `imlink worker` as a real process, run through the `local` executor. The PowerShell program
//! is a small script around `imlink lab-shell` that counts its calls and, when asked, kills the
//! worker (its parent) with SIGKILL just before or just after a call: at every step boundary
//! and in the middle of every step. The run must then finish, after a restart, with the lab
//! exactly as an uninterrupted run leaves it.

mod common;

use app::domain::runs::{RunState, StepState};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::domain::workflow::ApprovalPolicy;
use app::ssr::entities::{audit_events, jobs, run_steps};
use app::ssr::environment::Environment;
use common::{approved, lab_state, state, with_environment};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use server::config::{ExecutorConfig, ExecutorKind};
use server::executor::Executor;
use server::lab::store::LabStore;

/// Which imlink process runs the worker.
#[derive(Clone, Copy, Debug)]
enum Process {
    Worker,
    Serve,
}

/// How long a command whose worker was killed while it ran goes on before it takes effect:
/// longer than the lease, so it ends after the rescuer has given the run to another worker.
const ORPHAN_SECONDS: u64 = 5;
/// The step timeout the bench's workers run with: an interrupted command cannot run longer.
const STEP_TIMEOUT_SECONDS: u64 = 7;

/// Every probe ends by printing its result as compressed JSON.
const PROBE_MARK: &str = "ConvertTo-Json -Depth 6 -Compress";

/// A database and a lab file with one approved request, and a PowerShell stand-in.
struct Bench {
    dir: tempfile::TempDir,
    url: String,
    db: DatabaseConnection,
    request: i32,
    /// Keeps a PostgreSQL bench's schema until the bench is dropped.
    _database: Option<common::TestDb>,
}

impl Bench {
    /// A bench on SQLite.
    async fn new() -> Bench {
        Bench::on(common::Backend::Sqlite).await
    }

    /// A bench on `backend`.
    async fn on(backend: common::Backend) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let wrapper = dir.path().join("powershell");
        common::executable(
            &wrapper,
            &format!(
                r#"#!/bin/sh
dir=$(dirname "$0")
n=$(( $(cat "$dir/calls" 2>/dev/null || echo 0) + 1 ))
echo "$n" >"$dir/calls"
echo "$n $*" >>"$dir/log"
if [ "$n" = "${{KILL_BEFORE:-}}" ]; then kill -9 "$PPID"; exit 1; fi
if [ "$n" = "${{KILL_DURING:-}}" ]; then kill -9 "$PPID"; sleep {orphan}; fi
{imlink} lab-shell --state "$dir/lab.json" "$@"
rc=$?
if [ "$n" = "${{KILL_AFTER:-}}" ]; then kill -9 "$PPID"; fi
exit $rc
"#,
                imlink = env!("CARGO_BIN_EXE_imlink"),
                orphan = ORPHAN_SECONDS,
            ),
        );
        let (url, db, database) = match backend {
            common::Backend::Sqlite => {
                let url = format!("sqlite://{}/imlink.db?mode=rwc", dir.path().display());
                let db = server::database::connect(&url, 2).await.unwrap();
                server::database::migrate(&db).await.unwrap();
                (url, db, None)
            }
            common::Backend::Postgres => {
                let t = common::TestDb::new(backend).await;
                (t.url(), t.db.clone(), Some(t))
            }
        };
        // The request is planned by probing the lab file through the same program.
        let config = ExecutorConfig {
            kind: ExecutorKind::Local,
            powershell: wrapper.display().to_string(),
            ..ExecutorConfig::default()
        };
        let executor = Executor::new(&config, LabStore::new(db.clone()));
        let s = with_environment(&db, Environment::Remote(Arc::new(executor)));
        let request = approved(&db, &s).await;
        // Planning's probes are not part of the run.
        std::fs::remove_file(dir.path().join("calls")).unwrap();
        std::fs::remove_file(dir.path().join("log")).unwrap();
        Bench {
            dir,
            url,
            db,
            request,
            _database: database,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts `imlink worker` on this bench, with `env` for the PowerShell stand-in.
    fn worker(&self, env: &[(&str, String)]) -> Child {
        self.start(Process::Worker, env)
    }

    /// Starts `imlink worker` or `imlink serve` (with its worker inside) on this bench.
    fn start(&self, process: Process, env: &[(&str, String)]) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("worker.log"))
            .unwrap();
        let (command, listen) = match process {
            Process::Worker => ("worker", String::new()),
            Process::Serve => ("serve", format!("127.0.0.1:{}", common::free_port())),
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_imlink"));
        if !listen.is_empty() {
            child.env("IMLINK_LISTEN", listen);
        }
        child
            .arg(command)
            .env("IMLINK_DATABASE_URL", &self.url)
            .env("IMLINK_EXECUTOR_KIND", "local")
            .env("IMLINK_EXECUTOR_POWERSHELL", self.path("powershell"))
            .env("IMLINK_WORKER_LEASE_SECONDS", "3")
            .env(
                "IMLINK_EXECUTOR_STEP_TIMEOUT_SECONDS",
                STEP_TIMEOUT_SECONDS.to_string(),
            )
            .env("IMLINK_WORKER_POLL_SECONDS", "1")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    async fn job(&self) -> jobs::Model {
        jobs::Entity::find()
            .filter(jobs::Column::RequestId.eq(self.request))
            .one(&self.db)
            .await
            .unwrap()
            .unwrap()
    }

    /// Waits until the run has ended; its final state.
    async fn ended(&self) -> jobs::Model {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let job = self.job().await;
            if !["queued", "running"].contains(&job.state.as_str()) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "the run did not end: {job:?}\n{}",
                std::fs::read_to_string(self.path("worker.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The scripts the PowerShell stand-in was given, in order.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("log"))
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let encoded = line.split_whitespace().last().unwrap();
                server::executor::decode_command(encoded).unwrap()
            })
            .collect()
    }

    /// The lab as JSON, with what differs between equal runs taken out: backup file names
    /// carry the time, so only their contents count.
    fn lab(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path("lab.json")).unwrap();
        let mut lab: serde_json::Value = serde_json::from_str(&text).unwrap();
        for backend in lab["exchange"]["backends"].as_array_mut().unwrap() {
            let mut contents: Vec<serde_json::Value> = backend["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| pair[1].clone())
                .collect();
            contents.sort_by_key(|c| c.to_string());
            backend["files"] = serde_json::Value::Array(contents);
        }
        lab
    }

    /// The attempts the audit trail records for the run.
    async fn audited_starts(&self) -> Vec<String> {
        audit_events::Entity::find()
            .filter(audit_events::Column::Action.eq("run.start"))
            .order_by_asc(audit_events::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|e| e.detail)
            .collect()
    }
}

fn wait(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the worker did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where a crash is injected: just before call `n` of the PowerShell stand-in, just after it
/// (the command took effect, its result was not recorded), or while it runs (the command goes
/// on without its worker and takes effect after the rescuer gave the run to another worker).
#[derive(Clone, Copy, Debug)]
enum Crash {
    Before(usize),
    After(usize),
    During(usize),
}

/// Runs the bench's request with a SIGKILL at `crash`, then a second worker until the run
/// ends. A step without a read-only check that was interrupted while its commands ran must
/// stop the run for attention (`blind`); an admin's resume then lets a third worker finish.
async fn crashed_run(backend: common::Backend, crash: Crash, blind: bool) -> Bench {
    let bench = Bench::on(backend).await;
    let kill = match crash {
        Crash::Before(n) => ("KILL_BEFORE", n.to_string()),
        Crash::After(n) => ("KILL_AFTER", n.to_string()),
        Crash::During(n) => ("KILL_DURING", n.to_string()),
    };
    let mut first = bench.worker(&[kill]);
    wait(&mut first);
    let mut second = bench.worker(&[]);
    let mut job = bench.ended().await;
    if blind {
        assert_eq!(job.state, RunState::NeedsAttention, "{crash:?}");
        assert!(
            job.reason
                .as_deref()
                .unwrap_or("")
                .contains("no read-only check"),
            "{crash:?}: {:?}",
            job.reason
        );
        let s = state(&bench.db, ApprovalPolicy::default());
        let erin = common::user(&bench.db, "erin").await;
        app::ssr::runs::operate::resume(&s, &erin, bench.request)
            .await
            .unwrap();
        job = bench.ended().await;
    }
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(
        job.state,
        RunState::Succeeded,
        "{crash:?}: {:?}",
        job.reason
    );
    bench
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_every_step_boundary_and_mid_step_applies_everything_once() {
    sigkill_sweep(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_sweep_on_postgres() {
    sigkill_sweep(common::Backend::Postgres).await;
}

/// Kills the worker before and after every call it makes (before each check, between each
/// check and its commands, after the commands took effect) and checks that the run then ends
/// with the lab exactly as an uninterrupted run leaves it, the lab's record of every changing
/// command included: nothing applied twice, nothing missed.
async fn sigkill_sweep(backend: common::Backend) {
    // An uninterrupted run: the reference lab, and the sequence of calls.
    let clean = Bench::on(backend).await;
    let mut worker = clean.worker(&[]);
    let job = clean.ended().await;
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(job.state, RunState::Succeeded, "{:?}", job.reason);
    let reference = clean.lab();
    let calls = clean.calls();
    let probes = calls.iter().take_while(|c| c.contains(PROBE_MARK)).count();
    assert_eq!(
        probes, 3,
        "the re-check probes Lync, Exchange and the back end"
    );
    let steps = run_steps::Entity::find()
        .filter(run_steps::Column::JobId.eq(job.id))
        .order_by_asc(run_steps::Column::Position)
        .all(&clean.db)
        .await
        .unwrap();
    let row = app::ssr::entities::change_requests::Entity::find_by_id(clean.request)
        .one(&clean.db)
        .await
        .unwrap()
        .unwrap();
    let plan = app::ssr::plans::stored(&row).unwrap();
    // Then, per step, its check and its commands; then the evidence, read-only.
    assert_eq!(calls.len(), probes + 2 * steps.len() + plan.evidence.len());

    let mut crashes = vec![Crash::Before(1)];
    for (i, step) in steps.iter().enumerate() {
        let check = probes + 2 * i + 1;
        crashes.push(Crash::Before(check));
        crashes.push(Crash::After(check));
        crashes.push(Crash::During(check + 1));
        crashes.push(Crash::After(check + 1));
        // Calls are numbered from 1; the step's check is what was sent.
        assert!(calls[check - 1].contains(&plan.steps[step.position as usize].check));
    }
    // And during verification, which only reads.
    for e in 0..plan.evidence.len() {
        let call = probes + 2 * steps.len() + e + 1;
        crashes.push(Crash::Before(call));
        crashes.push(Crash::After(call));
    }
    // Two benches at a time: most of each is the wait for the dead worker's lease.
    // Publishing the topology has no read-only check: interrupted while its command ran, it
    // waits for an admin, whose resume runs it again.
    let blind = |crash: &Crash| match crash {
        Crash::After(n) | Crash::During(n) => plan
            .steps
            .iter()
            .any(|s| !s.checkable() && calls[n - 1].contains(s.apply[0].as_str())),
        Crash::Before(_) => false,
    };
    assert_eq!(
        crashes.iter().filter(|c| blind(c)).count(),
        2,
        "publishing is the one step without a check (killed during and after its command)"
    );
    let publish = plan
        .steps
        .iter()
        .find(|s| !s.checkable())
        .map(|s| s.apply[0].clone())
        .unwrap();
    for pair in crashes.chunks(2) {
        let runs =
            futures_util::future::join_all(pair.iter().map(|c| crashed_run(backend, *c, blind(c))))
                .await;
        for (crash, bench) in pair.iter().zip(runs) {
            let mut lab = bench.lab();
            if blind(crash) {
                // The admin's resume ran publishing again, on purpose: nothing could tell
                // whether the interrupted one took effect. Everything else ran once.
                let applied = lab["applied"].as_array_mut().unwrap();
                let first = applied.iter().position(|a| a == publish.as_str()).unwrap();
                assert_eq!(
                    applied[first + 1],
                    publish.as_str(),
                    "{crash:?}: {applied:?}"
                );
                applied.remove(first + 1);
            }
            assert_eq!(
                lab["applied"], reference["applied"],
                "{crash:?}: the changing commands differ from an uninterrupted run's"
            );
            assert_eq!(
                lab, reference,
                "{crash:?}: the lab differs from an uninterrupted run"
            );
            let starts = bench.audited_starts().await;
            assert!(
                starts.len() >= 2
                    && starts[0].ends_with("attempt 1")
                    && starts[1].ends_with("attempt 2"),
                "{crash:?}: both attempts are audited: {starts:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_step_in_hand_and_requeues_the_run() {
    sigterm_finishes_the_step_in_hand(Process::Worker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_shuts_down_like_the_worker() {
    sigterm_finishes_the_step_in_hand(Process::Serve).await;
}

/// SIGTERM to `process` mid-step: the step in hand finishes, the run goes back to the queue
/// (`run.interrupted`), the process exits 0, and the next worker finishes the run.
async fn sigterm_finishes_the_step_in_hand(process: Process) {
    let bench = Bench::new().await;
    // Slow PowerShell: each call takes half a second more, so SIGTERM lands mid-step.
    let slow = bench.path("powershell");
    let script = std::fs::read_to_string(&slow).unwrap();
    std::fs::write(
        &slow,
        script.replacen("dir=$(dirname", "sleep 0.5\ndir=$(dirname", 1),
    )
    .unwrap();
    let mut worker = bench.start(process, &[]);
    // Wait until the first step has started.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let started = run_steps::Entity::find().one(&bench.db).await.unwrap();
        if started.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "no step started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let terminated = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    wait(&mut worker);
    assert!(worker.wait().unwrap().success(), "a clean exit");
    let job = bench.job().await;
    assert_eq!(
        job.state,
        RunState::Queued,
        "back in the queue for the next worker"
    );
    assert_eq!(job.lease_owner, None);
    let steps = run_steps::Entity::find().all(&bench.db).await.unwrap();
    assert!(
        steps.iter().all(|s| s.state == StepState::Done),
        "the step in hand was finished, none was left half-done: {steps:?}"
    );
    let interrupted = audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq("run.interrupted"))
        .count(&bench.db)
        .await
        .unwrap();
    assert_eq!(interrupted, 1);
    // The next worker finishes it without waiting for a lease to run out.
    let mut next = bench.worker(&[]);
    let job = bench.ended().await;
    let _ = next.kill();
    let _ = next.wait();
    assert_eq!(job.state, RunState::Succeeded, "{:?}", job.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_on_postgres_run_each_job_once() {
    let t = common::TestDb::new(common::Backend::Postgres).await;
    let (s, store) = lab_state(&t.db);
    // Integrate once, so the many requests after it are small jobs: a re-check and no change.
    let first = approved(&t.db, &s).await;
    let executor = Executor::new(&ExecutorConfig::default(), store);
    let worker =
        server::worker::Worker::new(t.db.clone(), s.settings.clone(), executor, "w".into());
    assert!(worker.tick().await.unwrap());
    let mut requests = Vec::new();
    for _ in 0..40 {
        requests.push(approved(&t.db, &s).await);
    }
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_imlink"))
            .arg("worker")
            .env("IMLINK_DATABASE_URL", t.url())
            .env("IMLINK_WORKER_LEASE_SECONDS", "5")
            .env("IMLINK_LOG_FILTER", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut workers = [spawn(), spawn()];
    let deadline = Instant::now() + Duration::from_secs(120);
    let jobs = loop {
        let jobs = jobs::Entity::find()
            .filter(jobs::Column::RequestId.is_in(requests.clone()))
            .all(&t.db)
            .await
            .unwrap();
        if jobs
            .iter()
            .all(|j| !["queued", "running"].contains(&j.state.as_str()))
        {
            break jobs;
        }
        assert!(Instant::now() < deadline, "the jobs did not all end");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Both stop cleanly on SIGTERM.
    for w in &mut workers {
        let terminated = Command::new("kill")
            .args(["-TERM", &w.id().to_string()])
            .status()
            .unwrap();
        assert!(terminated.success());
        wait(w);
        assert!(w.wait().unwrap().success(), "a clean exit");
    }
    assert_eq!(jobs.len(), requests.len());
    for job in &jobs {
        assert_eq!(
            (job.state.as_str(), job.attempts),
            ("succeeded", 1),
            "{job:?}"
        );
    }
    let starts = audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq("run.start"))
        .filter(audit_events::Column::EntityId.is_in(requests.iter().map(|r| r.to_string())))
        .all(&t.db)
        .await
        .unwrap();
    assert_eq!(starts.len(), requests.len(), "every job was started once");
    let workers_seen: std::collections::BTreeSet<&str> =
        starts.iter().map(|e| e.actor.as_str()).collect();
    assert_eq!(
        workers_seen.len(),
        2,
        "both processes worked: {workers_seen:?}"
    );
    // One site, so one run at a time: no run started before the one before it ended.
    let ends = audit_events::Entity::find()
        .filter(audit_events::Column::Action.eq("run.succeeded"))
        .filter(audit_events::Column::EntityId.is_in(requests.iter().map(|r| r.to_string())))
        .all(&t.db)
        .await
        .unwrap();
    let mut spans: Vec<(i64, i64)> = starts
        .iter()
        .map(|start| {
            let end = ends
                .iter()
                .find(|e| e.entity_id == start.entity_id)
                .expect("every started run ended");
            (start.id, end.id)
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 < pair[1].0,
            "two runs of the site overlapped in the audit trail: {pair:?}"
        );
    }
    assert_eq!(app::ssr::audit::verify(&t.db).await.unwrap().broken, None);
    assert_eq!(job_state(&t.db, first).await, RunState::Succeeded);
}

async fn job_state(db: &DatabaseConnection, request: i32) -> RunState {
    jobs::Entity::find()
        .filter(jobs::Column::RequestId.eq(request))
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .state
}

/// A TCP relay to PostgreSQL whose connections can be cut and restored.
struct Relay {
    port: u16,
    cut: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (cut, links) = (cut.clone(), links.clone());
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if cut.load(std::sync::atomic::Ordering::SeqCst) {
                        continue; // dropped: the connection is refused at once
                    }
                    let upstream = upstream.clone();
                    links.lock().unwrap().push(tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    }));
                }
            })
        };
        Relay {
            port,
            cut,
            links,
            accept,
        }
    }

    /// Cuts every open connection and refuses new ones.
    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_cut_off_from_the_database_records_nothing_after() {
    let t = common::TestDb::new(common::Backend::Postgres).await;
    // A's database connection goes through the relay; B's does not.
    let url = t.url();
    let (head, rest) = url.split_once('@').unwrap();
    let (authority, tail) = rest.split_once('/').unwrap();
    let relay = Relay::start(authority.to_string()).await;
    let relayed = format!("{head}@127.0.0.1:{}/{tail}", relay.port);
    let a_db = server::database::connect(&relayed, 2).await.unwrap();

    // The lab is a file; PowerShell is slow, so the cut lands in the middle of the run.
    let dir = tempfile::tempdir().unwrap();
    let program = |slow: &str| {
        let path = dir.path().join(format!("powershell{slow}"));
        common::executable(
            &path,
            &format!(
                "#!/bin/sh\nsleep {slow}\nexec {} lab-shell --state {}/lab.json \"$@\"\n",
                env!("CARGO_BIN_EXE_imlink"),
                dir.path().display()
            ),
        );
        ExecutorConfig {
            kind: ExecutorKind::Local,
            powershell: path.display().to_string(),
            ..ExecutorConfig::default()
        }
    };
    let executor = |db: &DatabaseConnection, slow: &str| {
        Executor::new(&program(slow), LabStore::new(db.clone()))
    };
    let with_env = |db: &DatabaseConnection, e: Executor| {
        with_environment(db, Environment::Remote(Arc::new(e)))
    };
    let s = with_env(&t.db, executor(&t.db, "0"));
    let id = approved(&t.db, &s).await;

    let a_state = with_env(&a_db, executor(&a_db, "0.4"));
    let mut a = server::worker::Worker::new(
        a_db.clone(),
        a_state.settings.clone(),
        executor(&a_db, "0.4"),
        "a".into(),
    );
    a.lease = chrono::Duration::seconds(3);
    let a_run = tokio::spawn(async move { a.tick().await });
    // Cut A off once its second step has started.
    let deadline = Instant::now() + Duration::from_secs(60);
    while run_steps::Entity::find().count(&t.db).await.unwrap() < 2 {
        assert!(Instant::now() < deadline, "A did not get going");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    relay.cut();
    let cut_at = chrono::Utc::now();
    // A cannot renew its lease; once it has run out, B rescues the run and finishes it.
    let mut b = server::worker::Worker::new(
        t.db.clone(),
        s.settings.clone(),
        executor(&t.db, "0"),
        "b".into(),
    );
    b.lease = chrono::Duration::seconds(3);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        b.rescue().await.unwrap();
        b.tick().await.unwrap();
        let job = jobs::Entity::find().one(&t.db).await.unwrap().unwrap();
        if job.state == RunState::Succeeded {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B did not finish the run: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A's connection comes back: whatever A still tries to write is refused by the fence.
    relay.restore();
    let _ = tokio::time::timeout(Duration::from_secs(60), a_run).await;
    let job = jobs::Entity::find().one(&t.db).await.unwrap().unwrap();
    assert_eq!(job.state, RunState::Succeeded, "{:?}", job.reason);
    assert!(job.report.is_some());
    let steps = run_steps::Entity::find().all(&t.db).await.unwrap();
    assert!(
        steps.iter().all(|s| s.state == StepState::Done),
        "{steps:?}"
    );
    let from_a = audit_events::Entity::find()
        .filter(audit_events::Column::Actor.eq("worker:a"))
        .filter(audit_events::Column::OccurredAt.gt(cut_at))
        .count(&t.db)
        .await
        .unwrap();
    assert_eq!(from_a, 0, "A recorded nothing after the cut");
    let _ = id;
}
