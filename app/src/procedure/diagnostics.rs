//! What to check next when verification finds no event 112 on a back-end server after people
//! signed in to OWA (ARTICLE §1.9, the troubleshooting table, the `OWA.Protocol.Dep` health
//! set): each check with where it runs, its exact command and what to look for.

use serde::{Deserialize, Serialize};

use super::plan::Target;
use super::powershell::{Command, Value, quote};

/// One documented next check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextCheck {
    pub title: String,
    pub target: Target,
    /// The read-only command; `None` for a check done in a tool (the Lync Server Logging Tool).
    pub command: Option<String>,
    /// What the output tells, in plain words.
    pub look_for: String,
}

/// The checks for back-end `server`, whose web.config names `thumbprint` and `registrar`, with
/// OWA trusted as `owa_pool` (`None` when Lync autodiscovers the Exchange servers).
pub fn after_no_event_112(
    server: &str,
    thumbprint: &str,
    registrar: &str,
    owa_pool: Option<&str>,
) -> Vec<NextCheck> {
    let backend = Target::Backend(server.to_string());
    let mut checks = vec![
        NextCheck {
            title: "The OWA.Protocol.Dep health set".into(),
            target: Target::ExchangeShell,
            command: Some(format!(
                "{} | Where-Object {{ $_.AlertValue -ne 'Healthy' }} | Format-List Name, AlertValue, LastTransitionTime",
                Command::new("Get-ServerHealth")
                    .arg("Identity", Value::text(server))
                    .arg("HealthSet", Value::text("OWA.Protocol.Dep"))
            )),
            look_for: "An unhealthy monitor names the fault: “No registry setting for IM Provider” (the UCMA 4.0 \
                value ImplementationDLLPath is missing), “IM provider not found” (the DLL it names is missing), \
                or the web.config and certificate messages below."
                .into(),
        },
        NextCheck {
            title: "MSExchange OWA events about instant messaging".into(),
            target: backend.clone(),
            command: Some(
                "Get-EventLog -LogName Application -Source 'MSExchange OWA' -Newest 200 -ErrorAction SilentlyContinue | \
                 Where-Object { $_.EventID -in 100, 101, 102, 103, 104, 105, 106, 112 } | \
                 Format-List TimeGenerated, EventID, EntryType, Message"
                    .into(),
            ),
            look_for: "112 means the IM endpoint manager started. Unofficial readings of the others: 100 IMServerName \
                invalid, 101 thumbprint invalid, 102 certificate expired, 103 certificate not found, 104 certificate \
                not yet valid, 105 no private key, 106 certificate expires soon."
                .into(),
        },
        NextCheck {
            title: "OWA's IM log folder".into(),
            target: backend.clone(),
            command: Some(
                "$folder = Join-Path $env:ExchangeInstallPath 'Logging\\OWA\\InstantMessaging'; \
                 if (Test-Path -LiteralPath $folder) { Get-ChildItem -LiteralPath $folder | Sort-Object LastWriteTime | \
                 Select-Object -Last 5 Name, LastWriteTime } else { 'missing: ' + $folder }"
                    .into(),
            ),
            look_for: "If the Logging or InstantMessaging folder does not exist, the integration failed to \
                initialize; the newest log says why."
                .into(),
        },
        NextCheck {
            title: "The keys in OWA's web.config".into(),
            target: backend.clone(),
            command: Some(
                "Select-String -LiteralPath (Join-Path $env:ExchangeInstallPath 'ClientAccess\\Owa\\web.config') \
                 -Pattern 'IMCertificateThumbprint|IMServerName'"
                    .into(),
            ),
            look_for: format!(
                "Both keys, with IMCertificateThumbprint {thumbprint} and IMServerName {registrar}. A cumulative \
                 update removes them; OWA reads them only when MSExchangeOWAAppPool starts."
            ),
        },
        NextCheck {
            title: "The IM certificate on the server".into(),
            target: Target::ExchangeShell,
            command: Some(format!(
                "{} | Format-List Thumbprint, Subject, CertificateDomains, Issuer, IsSelfSigned, Status, NotBefore, NotAfter, HasPrivateKey",
                Command::new("Get-ExchangeCertificate")
                    .arg("Server", Value::text(server))
                    .arg("Thumbprint", Value::text(thumbprint))
            )),
            look_for: "Status Valid, not self-signed, issued by a CA Lync trusts, a private key, inside its dates, \
                and the OWA pool FQDN in its Subject and SANs."
                .into(),
        },
        NextCheck {
            title: "The registrar named by IMServerName".into(),
            target: Target::LyncShell,
            command: Some(format!(
                "{} | Format-List Fqdn, Services, Computers",
                Command::new("Get-CsPool").arg("Identity", Value::text(registrar))
            )),
            look_for: "A Front End pool with a Registrar service, not a Director, and the pool that hosts the \
                trusted application pool."
                .into(),
        },
    ];
    let lync = match owa_pool {
        Some(pool) => NextCheck {
            title: "How Lync knows the OWA server".into(),
            target: Target::LyncShell,
            command: Some(format!(
                "{}; {}; {}",
                Command::new("Get-CsTrustedApplicationPool").arg("Identity", Value::text(pool)),
                Command::new("Get-CsTrustedApplicationComputer").arg("Pool", Value::text(pool)),
                Command::new("Get-CsTrustedApplication")
                    .arg("TrustedApplicationPoolFqdn", Value::text(pool))
            )),
            look_for: format!(
                "One published pool {pool} with its application, and {server} among its computers when the pool \
                 has several; no second entry for an autodiscovered server."
            ),
        },
        None => NextCheck {
            title: "How Lync knows the OWA server".into(),
            target: Target::LyncShell,
            command: Some(format!(
                "Get-CsTrustedApplicationPool | Where-Object {{ $_.PoolFqdn -eq {} }}",
                quote(server)
            )),
            look_for:
                "Nothing: an autodiscovered server must have no manual trusted application pool."
                    .into(),
        },
    };
    checks.push(lync);
    checks.push(NextCheck {
        title: "Lync's Known Servers events".into(),
        target: Target::LyncShell,
        command: Some(
            "Get-WinEvent -FilterHashtable @{ LogName = 'Lync Server'; Id = 14492, 14493, 14495, 44024 } -MaxEvents 20 | \
             Format-List TimeCreated, Id, Message"
                .into(),
        ),
        look_for: format!(
            "14492 lists the known servers when the Front End starts, 14493 and 14495 a server added or removed, \
             44024 the Exchange servers UM routing found; {server} must appear once."
        ),
    });
    checks.push(NextCheck {
        title: "SIPStack tracing on the Lync Front End".into(),
        target: Target::LyncShell,
        command: None,
        look_for: "Trace SIPStack with All Levels and All Flags in the Lync Server Logging Tool, sign in to OWA again, \
            and look for “The peer is not a configured server”: its fqdn is the name Lync took from the certificate."
            .into(),
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_names_the_server_and_quotes_its_values() {
        let checks = after_no_event_112(
            "x'; Stop-Computer; '.litwareinc.com",
            "EA5A332496CC05DA69B75B66111C0F78A110D22D",
            "atl-cs-001.litwareinc.com",
            Some("atl-owa-001.litwareinc.com"),
        );
        assert_eq!(checks.len(), 9);
        let health = checks[0].command.as_deref().unwrap();
        assert!(
            health.starts_with(
                "Get-ServerHealth -Identity 'x''; Stop-Computer; ''.litwareinc.com' -HealthSet 'OWA.Protocol.Dep'"
            ),
            "{health}"
        );
        assert!(checks.iter().any(|c| c.command.as_deref().is_some_and(|c| {
            c.contains("Get-CsTrustedApplicationComputer -Pool 'atl-owa-001.litwareinc.com'")
        })));
        assert!(checks.last().unwrap().command.is_none());
        let autodiscovered =
            after_no_event_112("ex01.litwareinc.com", "AA", "p.litwareinc.com", None);
        assert!(autodiscovered[6].look_for.contains("autodiscovered"));
    }
}
