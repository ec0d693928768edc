//! Executors: where plan steps and probes run. `lab` runs them in the simulated organization in
//! process; `ssh` runs PowerShell on a Windows management host over OpenSSH; `local` spawns a
//! PowerShell program here. Scripts are sent as `-EncodedCommand` (UTF-16LE, base64), so no
//! quoting survives a shell; each gets its shell's preamble, a timeout and a bounded output
//! buffer, and a semaphore per target bounds how many run at once.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

use app::procedure::plan::Target;

use app::procedure::probes::Probe;

use crate::config::{ExecutorConfig, ExecutorKind};
use crate::lab::store::LabStore;

mod clixml;
mod process;

pub use clixml::stderr_text;
use process::{Program, windows_argument};
pub use process::{decode_command, encode_command};

/// The most of a script's output kept in memory; the SHA-256 covers all of it.
pub const RETAINED_OUTPUT: usize = 1024 * 1024;
/// The longest `-EncodedCommand` argument sent: cmd.exe, which OpenSSH for Windows starts the
/// command with, stops at 8,191 characters.
pub const ENCODED_LIMIT: usize = 8000;
/// The exit status OpenSSH reports for its own failures (connection, authentication, host key).
const SSH_FAILED: i32 = 255;

/// What a script printed and whether it failed.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptRun {
    /// Standard output, up to [`RETAINED_OUTPUT`] bytes.
    pub output: String,
    /// Why the script failed (a terminating error), if it did.
    pub failure: Option<String>,
    /// SHA-256 (hex) of everything the script printed.
    pub sha256: String,
}

/// Why a script could not be run to its end.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The target could not be reached (connection, spawn): worth another try.
    #[error("{target} could not be reached: {reason}")]
    Unreachable { target: String, reason: String },
    /// The script ran past the step timeout and was stopped: worth another try.
    #[error("the script did not finish within {0} s and was stopped")]
    TimedOut(u32),
    /// The management host's key is not the pinned one: nothing is sent until someone looks.
    #[error("the host key of {0} does not match the known_hosts file; nothing was sent")]
    HostKey(String),
    /// The script cannot be sent at all.
    #[error("the script is too long to send: {0} characters encoded, at most {ENCODED_LIMIT}")]
    TooLong(usize),
}

impl ExecError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ExecError::Unreachable { .. } | ExecError::TimedOut(_))
    }
}

/// Receives a script's output as it arrives.
pub type OutputSink<'a> = &'a (dyn Fn(&str) + Send + Sync);

/// Runs scripts on the configured target.
#[derive(Clone)]
pub struct Executor {
    runner: Runner,
    timeout: u32,
    sessions: u32,
    lync_preamble: String,
    exchange_preamble: String,
    permits: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

#[derive(Clone)]
enum Runner {
    Lab(LabStore),
    Process(Program),
}

impl Executor {
    /// The executor `config` describes; `lab` runs on the lab stored in the database.
    pub fn new(config: &ExecutorConfig, lab: LabStore) -> Executor {
        let runner = match config.kind {
            ExecutorKind::Lab => Runner::Lab(lab),
            ExecutorKind::Local => Runner::Process(Program {
                label: format!("the PowerShell program {}", config.powershell),
                argv: std::iter::once(config.powershell.clone())
                    .chain(config.powershell_args.iter().cloned())
                    .collect(),
                ssh: false,
            }),
            ExecutorKind::Ssh => {
                let ssh = &config.ssh;
                let path = |p: &Option<std::path::PathBuf>| {
                    p.as_deref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                };
                let mut argv: Vec<String> = [
                    "ssh",
                    "-T",
                    "-p",
                    &ssh.port.to_string(),
                    "-i",
                    &path(&ssh.identity_file),
                    "-l",
                    &ssh.user,
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "IdentitiesOnly=yes",
                    "-o",
                    "StrictHostKeyChecking=yes",
                    "-o",
                    &format!("UserKnownHostsFile={}", path(&ssh.known_hosts_file)),
                    "-o",
                    "GlobalKnownHostsFile=/dev/null",
                    "-o",
                    "ConnectTimeout=15",
                    "-o",
                    "ServerAliveInterval=15",
                    "-o",
                    "LogLevel=ERROR",
                    &ssh.host,
                    "--",
                ]
                .into_iter()
                .map(str::to_string)
                .collect();
                argv.push(config.powershell.clone());
                argv.extend(config.powershell_args.iter().map(|a| windows_argument(a)));
                Runner::Process(Program {
                    label: format!("the management host {}@{}:{}", ssh.user, ssh.host, ssh.port),
                    argv,
                    ssh: true,
                })
            }
        };
        Executor {
            runner,
            timeout: config.step_timeout_seconds,
            sessions: config.max_sessions_per_target,
            lync_preamble: config.lync_preamble.clone(),
            exchange_preamble: config.exchange_preamble.clone(),
            permits: Arc::default(),
        }
    }

    /// How long one script may run; after that it is stopped (when this process still runs).
    pub fn step_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout))
    }

    /// Where scripts run, for people.
    pub fn label(&self) -> String {
        match &self.runner {
            Runner::Lab(_) => "the simulated lab".into(),
            Runner::Process(program) => program.label.clone(),
        }
    }

    /// The whole script for `lines` on `target`: stop at the first error, the shell's
    /// preamble, and back-end commands wrapped in `Invoke-Command`.
    pub fn script(&self, target: &Target, lines: &[String]) -> String {
        let remote = matches!(self.runner, Runner::Process(_));
        let preamble = match target {
            Target::LyncShell if remote => self.lync_preamble.as_str(),
            Target::ExchangeShell if remote => self.exchange_preamble.as_str(),
            _ => "",
        };
        let mut script = String::from("$ErrorActionPreference = 'Stop'\n");
        if !preamble.trim().is_empty() {
            script.push_str(preamble.trim_end());
            script.push('\n');
        }
        script.push_str(&target.script(lines));
        script
    }

    /// Runs `lines` on `target`, passing output to `sink` as it arrives.
    pub async fn run(
        &self,
        target: &Target,
        lines: &[String],
        sink: OutputSink<'_>,
    ) -> Result<ScriptRun, ExecError> {
        let script = self.script(target, lines);
        let _permit = self.permit(target).await;
        let limit = Duration::from_secs(u64::from(self.timeout));
        let run = async {
            match &self.runner {
                Runner::Lab(lab) => {
                    let run =
                        lab.run_script(&script)
                            .await
                            .map_err(|reason| ExecError::Unreachable {
                                target: "the lab".into(),
                                reason: reason.to_string(),
                            })?;
                    sink(&run.output);
                    Ok(ScriptRun {
                        sha256: hex::encode(Sha256::digest(run.output.as_bytes())),
                        output: run.output,
                        failure: run.failure,
                    })
                }
                Runner::Process(program) => program.run(&script, sink).await,
            }
        };
        tokio::time::timeout(limit, run)
            .await
            .map_err(|_| ExecError::TimedOut(self.timeout))?
    }

    /// A session slot on `target`, held while the script runs.
    async fn permit(&self, target: &Target) -> tokio::sync::OwnedSemaphorePermit {
        let key = match target {
            Target::LyncShell => "lync".to_string(),
            Target::ExchangeShell => "exchange".to_string(),
            Target::Backend(server) => format!("backend:{}", server.to_ascii_lowercase()),
        };
        let semaphore = self
            .permits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.sessions as usize)))
            .clone();
        semaphore
            .acquire_owned()
            .await
            .expect("executor semaphores are never closed")
    }
}

/// Runs the read-only probes through the executor (an environment that is not the lab).
impl app::ssr::environment::Shell for Executor {
    fn label(&self) -> String {
        Executor::label(self)
    }

    fn probe<'a>(&'a self, probe: &'a Probe) -> app::ssr::environment::Probing<'a> {
        Box::pin(async move {
            let run = self
                .run(
                    &probe.target,
                    std::slice::from_ref(&probe.script),
                    &|_: &str| {},
                )
                .await
                .map_err(|e| e.to_string())?;
            match run.failure {
                Some(failure) => Err(format!("the {} probe failed: {failure}", probe.id)),
                None => Ok(run.output),
            }
        })
    }
}
