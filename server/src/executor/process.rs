//! A PowerShell program run as a process (`local`, or `ssh` to a management host): the script
//! sent as `-EncodedCommand`, its output read as it arrives, bounded and hashed, a timeout.

use super::*;

/// A program and its leading arguments; the encoded script is appended.
#[derive(Clone)]
pub(super) struct Program {
    pub(super) label: String,
    pub(super) argv: Vec<String>,
    /// Whether the program is `ssh`, whose exit status 255 is its own failure.
    pub(super) ssh: bool,
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
pub(super) fn windows_argument(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '"']) {
        return arg.to_string();
    }
    format!("\"{}\"", arg.replace('"', "\\\""))
}

impl Program {
    /// Runs the program with `script` encoded at the end; reads its output as it comes.
    pub(super) async fn run(
        &self,
        script: &str,
        sink: OutputSink<'_>,
    ) -> Result<ScriptRun, ExecError> {
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
    fn arguments_with_spaces_are_quoted_for_windows() {
        assert_eq!(windows_argument("-Sta"), "-Sta");
        assert_eq!(windows_argument("C:\\a b\\x.ps1"), "\"C:\\a b\\x.ps1\"");
        assert_eq!(windows_argument(""), "\"\"");
    }
}
