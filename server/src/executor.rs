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
use app::ssr::lab::Pending;

use crate::config::{ExecutorConfig, ExecutorKind};
use crate::lab::store::LabStore;

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

/// A program and its leading arguments; the encoded script is appended.
#[derive(Clone)]
struct Program {
    label: String,
    argv: Vec<String>,
    /// Whether the program is `ssh`, whose exit status 255 is its own failure.
    ssh: bool,
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
                                reason,
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

    fn probe<'a>(&'a self, probe: &'a Probe) -> Pending<'a, String> {
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

/// `script` as `powershell.exe -EncodedCommand` takes it: UTF-16LE, base64.
pub fn encode_command(script: &str) -> String {
    let bytes: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The script in an `-EncodedCommand` argument.
pub fn decode_command(encoded: &str) -> Result<String, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| format!("-EncodedCommand is not base64: {e}"))?;
    if bytes.len() % 2 != 0 {
        return Err("-EncodedCommand is not UTF-16LE (odd length)".into());
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).map_err(|e| format!("-EncodedCommand is not UTF-16LE: {e}"))
}

/// An argument as Windows' command-line parser reads it back.
fn windows_argument(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '"']) {
        return arg.to_string();
    }
    format!("\"{}\"", arg.replace('"', "\\\""))
}

impl Program {
    /// Runs the program with `script` encoded at the end; reads its output as it comes.
    async fn run(&self, script: &str, sink: OutputSink<'_>) -> Result<ScriptRun, ExecError> {
        let (label, argv) = (&self.label, &self.argv);
        let encoded = encode_command(script);
        if encoded.len() > ENCODED_LIMIT {
            return Err(ExecError::TooLong(encoded.len()));
        }
        let unreachable = |reason: String| ExecError::Unreachable {
            target: label.to_string(),
            reason,
        };
        let mut child = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .args(["-NoProfile", "-NonInteractive", "-EncodedCommand", &encoded])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| unreachable(format!("cannot start {}: {e}", argv[0])))?;
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let errors = tokio::spawn(async move {
            let mut text = Vec::new();
            let _ = (&mut stderr)
                .take(RETAINED_OUTPUT as u64)
                .read_to_end(&mut text)
                .await;
            text
        });
        let mut hasher = Sha256::new();
        let mut kept = Vec::new();
        let mut pending = Vec::new();
        let mut buffer = [0_u8; 8192];
        loop {
            let n = stdout
                .read(&mut buffer)
                .await
                .map_err(|e| unreachable(format!("reading its output failed: {e}")))?;
            if n == 0 {
                break;
            }
            let chunk = &buffer[..n];
            hasher.update(chunk);
            if kept.len() < RETAINED_OUTPUT {
                kept.extend_from_slice(&chunk[..chunk.len().min(RETAINED_OUTPUT - kept.len())]);
            }
            pending.extend_from_slice(chunk);
            let valid = match std::str::from_utf8(&pending) {
                Ok(text) => text.len(),
                Err(e) if e.error_len().is_none() => e.valid_up_to(),
                Err(_) => pending.len(),
            };
            sink(&String::from_utf8_lossy(&pending[..valid]));
            pending.drain(..valid);
        }
        let status = child
            .wait()
            .await
            .map_err(|e| unreachable(format!("waiting for it failed: {e}")))?;
        let errors = stderr_text(&String::from_utf8_lossy(&errors.await.unwrap_or_default()));
        let output = String::from_utf8_lossy(&kept).into_owned();
        let sha256 = hex::encode(hasher.finalize());
        let failure = match status.code() {
            Some(0) => None,
            Some(SSH_FAILED) if self.ssh => {
                return Err(
                    if errors.contains("Host key verification failed")
                        || errors.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
                    {
                        ExecError::HostKey(label.to_string())
                    } else {
                        unreachable(first_line(&errors, "ssh failed"))
                    },
                );
            }
            Some(code) if errors.trim().is_empty() => Some(format!("exited with code {code}")),
            Some(_) => Some(errors.trim().to_string()),
            None => return Err(unreachable("it was stopped by a signal".into())),
        };
        Ok(ScriptRun {
            output,
            failure,
            sha256,
        })
    }
}

fn first_line(text: &str, otherwise: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(otherwise)
        .to_string()
}

/// Standard error as people read it: PowerShell started with redirected streams writes it as
/// CLIXML (`#< CLIXML`, error records in `<S S="Error">`, progress records to ignore).
pub fn stderr_text(raw: &str) -> String {
    let Some(xml) = raw.trim_start().strip_prefix("#< CLIXML") else {
        return raw.to_string();
    };
    let mut lines = String::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<S S=\"Error\">") {
        let after = &rest[start + "<S S=\"Error\">".len()..];
        let end = after.find("</S>").unwrap_or(after.len());
        lines.push_str(&unescape_clixml(&after[..end]));
        rest = &after[end..];
    }
    lines
}

fn unescape_clixml(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("_x") {
        out.push_str(&rest[..start]);
        let code = rest.get(start + 2..start + 6);
        match code.filter(|_| rest.get(start + 6..start + 7) == Some("_")) {
            Some(hex) if u32::from_str_radix(hex, 16).is_ok() => {
                let c = char::from_u32(u32::from_str_radix(hex, 16).unwrap_or(0x3F)).unwrap_or('?');
                if c != '\r' {
                    out.push(c);
                }
                rest = &rest[start + 7..];
            }
            _ => {
                out.push_str("_x");
                rest = &rest[start + 2..];
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_commands_round_trip_as_powershell_reads_them() {
        // `powershell.exe -EncodedCommand` of "Get-Date" (UTF-16LE, base64), as documented.
        assert_eq!(encode_command("Get-Date"), "RwBlAHQALQBEAGEAdABlAA==");
        let script = "Write-Output 'ünï’code'\n$x = 1";
        assert_eq!(decode_command(&encode_command(script)).unwrap(), script);
        assert!(decode_command("not base64!").is_err());
        assert!(decode_command("QQ==").is_err());
    }

    #[test]
    fn clixml_errors_are_read_and_progress_is_dropped() {
        let raw = "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><Obj S=\"progress\" RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T></TN><MS><I64 N=\"SourceId\">1</I64></MS></Obj><S S=\"Error\">Cannot find &quot;pool&quot;_x000D__x000A_</S><S S=\"Error\">At line:1 char:1_x000D__x000A_</S></Objs>";
        assert_eq!(stderr_text(raw), "Cannot find \"pool\"\nAt line:1 char:1\n");
        assert_eq!(stderr_text("plain error\n"), "plain error\n");
    }

    #[test]
    fn arguments_with_spaces_are_quoted_for_windows() {
        assert_eq!(windows_argument("-Sta"), "-Sta");
        assert_eq!(windows_argument("C:\\a b\\x.ps1"), "\"C:\\a b\\x.ps1\"");
        assert_eq!(windows_argument(""), "\"\"");
    }
}
