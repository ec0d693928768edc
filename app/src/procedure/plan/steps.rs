//! The steps whose shape does not depend on much: the trusted pool and application, publishing
//! the topology, and the evidence script.

use super::*;

pub(super) fn pool_step(owa: &str, registrar: &str, site_id: &str, decision: Decision) -> Step {
    Step {
        id: "trusted-pool".into(),
        title: format!("Create the trusted application pool {owa}"),
        target: Target::LyncShell,
        apply: vec![
            Command::new("New-CsTrustedApplicationPool")
                .arg("Identity", Value::text(owa))
                .arg("Registrar", Value::text(registrar))
                .arg("Site", Value::text(site_id))
                .arg("RequiresReplication", Value::Bool(false))
                .to_string(),
        ],
        check: format!(
            "$null -ne (Get-CsTrustedApplicationPool -Identity {} -ErrorAction SilentlyContinue)",
            quote(owa)
        ),
        expect_output: None,
        explanation: format!(
            "Adds the OWA server {owa} to Lync's Known Servers List as a trusted application pool homed on the \
             registrar {registrar}, in the site whose SiteId is {site_id}. Replication is off, as for any manually \
             provisioned application. The FQDN must match the Exchange certificate's subject and SAN."
        ),
        reference: "ARTICLE §1.5 step 1".into(),
        decision,
        rollback: vec![
            Command::new("Remove-CsTrustedApplicationPool")
                .arg("Identity", Value::text(owa))
                .switch("Force")
                .to_string(),
            "Enable-CsTopology".into(),
        ],
    }
}

pub(super) fn app_step(owa: &str, app_id: &str, port: u16, decision: Decision) -> Step {
    Step {
        id: "trusted-application".into(),
        title: format!("Create the trusted application {app_id} on port {port}"),
        target: Target::LyncShell,
        apply: vec![
            Command::new("New-CsTrustedApplication")
                .arg("ApplicationId", Value::text(app_id))
                .arg("TrustedApplicationPoolFqdn", Value::text(owa))
                .arg("Port", Value::Int(i64::from(port)))
                .to_string(),
        ],
        check: format!(
            "$null -ne (Get-CsTrustedApplication -ApplicationId {} -TrustedApplicationPoolFqdn {} -ErrorAction SilentlyContinue)",
            quote(app_id),
            quote(owa)
        ),
        expect_output: None,
        explanation: format!(
            "Registers OWA as trusted application {app_id} in the pool, listening on port {port}. The port must be unique \
             in the pool; the cmdlet does not open it in any firewall."
        ),
        reference: "ARTICLE §1.5 step 2".into(),
        decision,
        rollback: vec![
            Command::new("Remove-CsTrustedApplication")
                .arg("Identity", Value::text(format!("{owa}/{app_id}")))
                .switch("Force")
                .to_string(),
        ],
    }
}

pub(super) fn publish_step(decision: Decision) -> Step {
    Step {
        id: "publish-topology".into(),
        title: "Publish the Lync topology".into(),
        target: Target::LyncShell,
        apply: vec!["Enable-CsTopology".into()],
        check: NO_CHECK.into(),
        expect_output: None,
        explanation: "Changes made outside Topology Builder take effect only when the topology is published. Rolling \
            back the pool publishes again.".into(),
        reference: "ARTICLE §1.5 step 3".into(),
        decision,
        rollback: Vec::new(),
    }
}

pub(super) fn evidence(server: &str) -> Evidence {
    Evidence {
        target: Target::Backend(server.to_string()),
        script: "[pscustomobject]@{ Event112 = [bool](Get-EventLog -LogName Application -Source 'MSExchange OWA' -ErrorAction SilentlyContinue | Where-Object { $_.EventID -eq 112 } | Select-Object -First 1); \
                 LogFolder = (Test-Path -LiteralPath (Join-Path $env:ExchangeInstallPath 'Logging\\OWA\\InstantMessaging')) } | ConvertTo-Json".into(),
        explanation: "After the first OWA sign-in, event 112 from MSExchange OWA says the IM endpoint manager started, and \
            Logging\\OWA\\InstantMessaging exists. If either is missing, integration failed (ARTICLE §1.9).".into(),
    }
}
