//! The steps whose shape does not depend on much: the trusted pool and application, publishing
//! the topology, and the evidence script.

use super::*;

/// Creates the trusted application pool. With `computers` (a load-balanced OWA name in front
/// of several servers) the pool's first computer is named with `-ComputerFqdn` and the others
/// are added with `New-CsTrustedApplicationComputer`: a pool created without `-ComputerFqdn`
/// has one computer named as the pool and can take no other.
pub(super) fn pool_step(
    owa: &str,
    registrar: &str,
    site_id: &str,
    computers: &[String],
    decision: Decision,
) -> Step {
    let mut create = Command::new("New-CsTrustedApplicationPool")
        .arg("Identity", Value::text(owa))
        .arg("Registrar", Value::text(registrar))
        .arg("Site", Value::text(site_id))
        .arg("RequiresReplication", Value::Bool(false));
    if let Some(first) = computers.first() {
        create = create.arg("ComputerFqdn", Value::text(first));
    }
    let mut apply = vec![create.to_string()];
    let mut rollback = Vec::new();
    for computer in computers.iter().skip(1) {
        apply.push(
            Command::new("New-CsTrustedApplicationComputer")
                .arg("Identity", Value::text(computer))
                .arg("Pool", Value::text(owa))
                .to_string(),
        );
        rollback.push(
            Command::new("Remove-CsTrustedApplicationComputer")
                .arg("Identity", Value::text(computer))
                .switch("Force")
                .to_string(),
        );
    }
    rollback.push(
        Command::new("Remove-CsTrustedApplicationPool")
            .arg("Identity", Value::text(owa))
            .switch("Force")
            .to_string(),
    );
    rollback.push("Enable-CsTopology".into());
    let computers_text = if computers.is_empty() {
        String::new()
    } else {
        format!(
            " {owa} is a load-balanced name, so the pool's computers are the servers behind it: {}.",
            computers.join(", ")
        )
    };
    let check = if computers.is_empty() {
        format!(
            "$null -ne (Get-CsTrustedApplicationPool -Identity {} -ErrorAction SilentlyContinue)",
            quote(owa)
        )
    } else {
        let wanted: Vec<String> = computers.iter().map(|c| quote(c)).collect();
        format!(
            "$have = @(Get-CsTrustedApplicationComputer -Pool {} -ErrorAction SilentlyContinue | ForEach-Object {{ [string]$_.Identity }}); \
             @({} | Where-Object {{ $have -notcontains $_ }}).Count -eq 0 -and $have.Count -gt 0",
            quote(owa),
            wanted.join(", ")
        )
    };
    Step {
        id: "trusted-pool".into(),
        title: format!("Create the trusted application pool {owa}"),
        target: Target::LyncShell,
        apply,
        check,
        expect_output: None,
        explanation: format!(
            "Adds the OWA server {owa} to Lync's Known Servers List as a trusted application pool homed on the \
             registrar {registrar}, in the site whose SiteId is {site_id}. Replication is off, as for any manually \
             provisioned application. The FQDN must match the Exchange certificate's subject and SAN.{computers_text}"
        ),
        reference: if computers.is_empty() {
            "ARTICLE §1.5 step 1".into()
        } else {
            "ARTICLE §1.5 step 1; New-CsTrustedApplicationPool -ComputerFqdn, New-CsTrustedApplicationComputer \
             (Lync Server 2013: configuring trusted application pools with more than one computer)"
                .into()
        },
        decision,
        rollback,
    }
}

/// The commands that edit OWA's web.config on back end `b`: each key set to its value, or
/// removed for `None`, after a timestamped backup; and the commands that restore what `b` had,
/// then recycle OWA.
pub(super) fn web_config_edit(
    b: &Backend,
    keys: &[(&str, Option<&str>)],
) -> (Vec<String>, Vec<String>) {
    let open = [
        "$path = Join-Path $env:ExchangeInstallPath 'ClientAccess\\Owa\\web.config'".to_string(),
        "$config = [xml](Get-Content -LiteralPath $path -Raw)".to_string(),
        "$settings = $config.SelectSingleNode('/configuration/appSettings')".to_string(),
    ];
    let set = |k: &str, value: &str| {
        format!(
            "$node = @($settings.ChildNodes | Where-Object {{ $_.key -eq {k} }})[0]; \
             if ($null -eq $node) {{ $node = $config.CreateElement('add'); $node.SetAttribute('key', {k}); [void]$settings.AppendChild($node) }}; \
             $node.SetAttribute('value', {})",
            quote(value)
        )
    };
    let remove = |k: &str| {
        format!(
            "@($settings.ChildNodes | Where-Object {{ $_.key -eq {k} }}) | ForEach-Object {{ [void]$settings.RemoveChild($_) }}"
        )
    };
    let mut apply = vec![
        open[0].clone(),
        "Copy-Item -LiteralPath $path -Destination ($path + '.imlink-' + (Get-Date -Format 'yyyyMMddHHmmss') + '.bak')".to_string(),
        open[1].clone(),
        open[2].clone(),
    ];
    let mut rollback = open.to_vec();
    for (key, value) in keys {
        let k = quote(key);
        apply.push(match value {
            Some(value) => set(&k, value),
            None => remove(&k),
        });
        rollback.push(match (b.app_setting(key), value) {
            // Set back in place: the key was there and the change kept it.
            (Some(previous), Some(_)) => format!(
                "@($settings.ChildNodes | Where-Object {{ $_.key -eq {k} }}) | ForEach-Object {{ $_.SetAttribute('value', {}) }}",
                quote(previous)
            ),
            (Some(previous), None) => set(&k, previous),
            (None, _) => remove(&k),
        });
    }
    apply.push("$config.Save($path)".to_string());
    rollback.push("$config.Save($path)".to_string());
    rollback.push(RECYCLE_COMMAND.to_string());
    (apply, rollback)
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

/// The evidence to read on back-end `server` after the first sign-in, and what to check next
/// when it shows no event 112.
pub(super) fn evidence(
    server: &str,
    thumbprint: &str,
    registrar: &str,
    owa_pool: Option<&str>,
) -> Evidence {
    Evidence {
        next_checks: crate::procedure::diagnostics::after_no_event_112(
            server, thumbprint, registrar, owa_pool,
        ),
        target: Target::Backend(server.to_string()),
        script: "[pscustomobject]@{ Event112 = [bool](Get-EventLog -LogName Application -Source 'MSExchange OWA' -ErrorAction SilentlyContinue | Where-Object { $_.EventID -eq 112 } | Select-Object -First 1); \
                 LogFolder = (Test-Path -LiteralPath (Join-Path $env:ExchangeInstallPath 'Logging\\OWA\\InstantMessaging')) } | ConvertTo-Json".into(),
        explanation: "After the first OWA sign-in, event 112 from MSExchange OWA says the IM endpoint manager started, and \
            Logging\\OWA\\InstantMessaging exists. If either is missing, integration failed (ARTICLE §1.9).".into(),
    }
}
