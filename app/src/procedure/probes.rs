//! The read-only probes that gather the environment facts: fixed PowerShell scripts whose
//! output is JSON (`ConvertTo-Json`), and the parsers that turn that output into [`Facts`].
//!
//! The parsers accept the shapes Windows PowerShell 5.1 really produces: a lone object where a
//! list was expected, `null` for an empty list, arrays wrapped as `{"value": [...], "Count": n}`,
//! and dates as `/Date(milliseconds)/`. Anything else is an error naming the probe and the
//! place in its output.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};

use super::facts::{
    Backend, Certificate, DialPlan, ExchangeFacts, ExchangeServer, FORMAT, Facts, LyncFacts,
    OwaMailboxPolicy, OwaVirtualDirectory, Pool, Site, TrustedApplication, TrustedPool,
    UmAssignment, same_name,
};
use super::plan::Target;
use super::powershell::quote;

/// A probe: a read-only script and where it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// e.g. `lync`, `exchange`, `backend:atl-mbx-001.litwareinc.com`.
    pub id: String,
    pub target: Target,
    pub script: String,
}

/// Probe output that does not have the expected shape.
#[derive(Debug, thiserror::Error)]
#[error("the {probe} probe printed something unexpected: {source}")]
pub struct ProbeError {
    pub probe: String,
    pub source: serde_json::Error,
}

/// The dial plans of the UM service or UM Call Router object in `$_`. The cmdlet pages
/// describe the property as `UMDialPlans`; Microsoft's Exchange DSC resources read `DialPlans`
/// from both cmdlets' output. Both are read, so either name is found.
pub const UM_DIAL_PLANS: &str = "@(@($_.UMDialPlans) + @($_.DialPlans) | Where-Object { $_ } | ForEach-Object { [string]$_ } | Select-Object -Unique)";

/// Reads Lync sites, pools, trusted application pools and trusted applications.
pub fn lync() -> Probe {
    Probe {
        id: "lync".into(),
        target: Target::LyncShell,
        script: r#"$sites = @(Get-CsSite | ForEach-Object { [pscustomobject]@{ Identity = [string]$_.Identity; SiteId = [string]$_.SiteId; DisplayName = [string]$_.DisplayName } })
$pools = @(Get-CsPool | ForEach-Object { [pscustomobject]@{ Fqdn = [string]$_.Fqdn; Site = [string]$_.Site; Services = @($_.Services | ForEach-Object { [string]$_ }) } })
$trustedPools = @(Get-CsTrustedApplicationPool | ForEach-Object { [pscustomobject]@{ Identity = [string]$_.Identity; PoolFqdn = [string]$_.PoolFqdn; Registrar = [string]$_.Registrar; Site = [string]$_.SiteId } })
$applications = @(Get-CsTrustedApplication | ForEach-Object { [pscustomobject]@{ Identity = [string]$_.Identity; ApplicationId = [string]$_.ApplicationId; PoolFqdn = [string]$_.TrustedApplicationPoolFqdn; Port = [int]$_.Port } })
$computers = @(Get-CsTrustedApplicationComputer | ForEach-Object { [pscustomobject]@{ Fqdn = [string]$_.Identity; Pool = [string]$_.Pool } })
$registrars = @(Get-CsService -Registrar | ForEach-Object { [pscustomobject]@{ PoolFqdn = [string]$_.PoolFqdn; Version = [int]$_.Version } })
[pscustomobject]@{ Sites = $sites; Pools = $pools; TrustedPools = $trustedPools; TrustedApplications = $applications; TrustedComputers = $computers; Registrars = $registrars } | ConvertTo-Json -Depth 6 -Compress"#
            .into(),
    }
}

/// Reads Exchange servers, UM dial plans and assignments, OWA virtual directories and OWA
/// mailbox policies. The UM service and call-router settings are read server by server
/// (`Get-UMService -Identity`, `Get-UMCallRouterSettings -Server`: without it the call router's
/// cmdlet reads the local server only), and their dial plans from [`UM_DIAL_PLANS`].
pub fn exchange() -> Probe {
    Probe {
        id: "exchange".into(),
        target: Target::ExchangeShell,
        script: r#"$servers = @(Get-ExchangeServer | ForEach-Object { [pscustomobject]@{ Name = [string]$_.Name; Fqdn = [string]$_.Fqdn; Roles = @(([string]$_.ServerRole) -split ',\s*' | Where-Object { $_ }); AdminDisplayVersion = [string]$_.AdminDisplayVersion } })
$dialPlans = @(Get-UMDialPlan | ForEach-Object { [pscustomobject]@{ Name = [string]$_.Name; UriType = [string]$_.URIType } })
$exchange2013 = @($servers | Where-Object { $_.AdminDisplayVersion -like 'Version 15.0*' })
$umServices = @($exchange2013 | Where-Object { $_.Roles -contains 'Mailbox' } | ForEach-Object { Get-UMService -Identity $_.Fqdn } | ForEach-Object { [pscustomobject]@{ Server = [string]$_.Name; DialPlans = UM_DIAL_PLANS } })
$callRouters = @($exchange2013 | Where-Object { $_.Roles -contains 'ClientAccess' } | ForEach-Object { Get-UMCallRouterSettings -Server $_.Fqdn } | ForEach-Object { [pscustomobject]@{ Server = [string]$_.Name; DialPlans = UM_DIAL_PLANS } })
$directories = @(Get-OwaVirtualDirectory -ShowMailboxVirtualDirectories | ForEach-Object { [pscustomobject]@{ Identity = [string]$_.Identity; Server = [string]$_.Server; Backend = ([string]$_.Name) -like '*(Exchange Back End)'; InstantMessagingEnabled = [bool]$_.InstantMessagingEnabled; InstantMessagingType = [string]$_.InstantMessagingType } })
$policies = @(Get-OwaMailboxPolicy | ForEach-Object { [pscustomobject]@{ Name = [string]$_.Name; InstantMessagingEnabled = [bool]$_.InstantMessagingEnabled; InstantMessagingType = [string]$_.InstantMessagingType } })
[pscustomobject]@{ Servers = $servers; DialPlans = $dialPlans; UmServices = $umServices; UmCallRouters = $callRouters; OwaVirtualDirectories = $directories; OwaMailboxPolicies = $policies } | ConvertTo-Json -Depth 6 -Compress"#
            .replace("UM_DIAL_PLANS", UM_DIAL_PLANS),
    }
}

/// Reads one back-end server: the UCMA 4.0 registry value and DLL, OWA's web.config
/// appSettings (on the server, through `Invoke-Command`) and its Exchange certificates.
pub fn backend(server_fqdn: &str) -> Probe {
    let server = quote(server_fqdn);
    Probe {
        id: format!("backend:{server_fqdn}"),
        target: Target::ExchangeShell,
        script: format!(
            r#"$local = Invoke-Command -ComputerName {server} -ScriptBlock {{
    $dll = (Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Services\MSExchange OWA\InstantMessaging' -Name 'ImplementationDLLPath' -ErrorAction SilentlyContinue).ImplementationDLLPath
    $config = [xml](Get-Content -LiteralPath (Join-Path $env:ExchangeInstallPath 'ClientAccess\Owa\web.config') -Raw)
    [pscustomobject]@{{ UcmaDllPath = $dll; UcmaDllExists = [bool]($dll -and (Test-Path -LiteralPath $dll)); AppSettings = @($config.configuration.appSettings.add | ForEach-Object {{ [pscustomobject]@{{ Key = [string]$_.key; Value = [string]$_.value }} }}) }}
}}
$certificates = @(Get-ExchangeCertificate -Server {server} | ForEach-Object {{ [pscustomobject]@{{ Thumbprint = [string]$_.Thumbprint; Subject = [string]$_.Subject; Domains = @($_.CertificateDomains | ForEach-Object {{ [string]$_ }}); NotBefore = $_.NotBefore.ToUniversalTime().ToString('o'); NotAfter = $_.NotAfter.ToUniversalTime().ToString('o'); HasPrivateKey = [bool]$_.HasPrivateKey; Status = [string]$_.Status; IsSelfSigned = [bool]$_.IsSelfSigned; Issuer = [string]$_.Issuer }} }})
[pscustomobject]@{{ UcmaDllPath = $local.UcmaDllPath; UcmaDllExists = $local.UcmaDllExists; AppSettings = @($local.AppSettings); Certificates = $certificates }} | ConvertTo-Json -Depth 6 -Compress"#
        ),
    }
}

/// A list as `ConvertTo-Json` may print it: an array, a lone object, `null`, or an array
/// wrapped as `{"value": [...], "Count": n}`.
pub fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::de::Error;
    let value = serde_json::Value::deserialize(deserializer)?;
    let items = match value {
        serde_json::Value::Null => return Ok(Vec::new()),
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(ref map)
            if map.contains_key("value") && map.contains_key("Count") =>
        {
            match map.get("value") {
                Some(serde_json::Value::Array(items)) => items.clone(),
                Some(one) => vec![one.clone()],
                None => Vec::new(),
            }
        }
        one => vec![one],
    };
    items
        .into_iter()
        .map(|item| serde_json::from_value(item).map_err(D::Error::custom))
        .collect()
}

/// A date as ISO 8601 or as `/Date(milliseconds)/`.
fn date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    use serde::de::Error;
    let text = String::deserialize(deserializer)?;
    if let Some(ms) = text
        .strip_prefix("/Date(")
        .and_then(|rest| rest.strip_suffix(")/"))
        .and_then(|n| {
            n.split(['+', '-'])
                .next()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
        .and_then(|n| n.parse::<i64>().ok())
    {
        return DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| D::Error::custom("date out of range"));
    }
    DateTime::parse_from_rfc3339(&text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| D::Error::custom(format!("{text:?} is not a date: {e}")))
}

/// Text that may come back as `null`.
pub fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LyncOutput {
    #[serde(deserialize_with = "list")]
    sites: Vec<SiteOutput>,
    #[serde(deserialize_with = "list")]
    pools: Vec<PoolOutput>,
    #[serde(deserialize_with = "list")]
    trusted_pools: Vec<TrustedPoolOutput>,
    #[serde(deserialize_with = "list")]
    trusted_applications: Vec<ApplicationOutput>,
    /// `Get-CsService -Registrar`: each registrar's pool and service `Version` (absent from
    /// probes written before imlink read it).
    #[serde(default, deserialize_with = "list")]
    registrars: Vec<RegistrarOutput>,
    /// `Get-CsTrustedApplicationComputer` (absent from probes written before imlink read it).
    #[serde(default, deserialize_with = "list")]
    trusted_computers: Vec<ComputerOutput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ComputerOutput {
    fqdn: String,
    #[serde(deserialize_with = "text")]
    pool: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RegistrarOutput {
    pool_fqdn: String,
    version: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SiteOutput {
    identity: String,
    site_id: String,
    #[serde(deserialize_with = "text")]
    display_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PoolOutput {
    fqdn: String,
    #[serde(deserialize_with = "text")]
    site: String,
    #[serde(deserialize_with = "list")]
    services: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrustedPoolOutput {
    identity: String,
    pool_fqdn: String,
    #[serde(deserialize_with = "text")]
    registrar: String,
    #[serde(deserialize_with = "text")]
    site: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApplicationOutput {
    identity: String,
    application_id: String,
    pool_fqdn: String,
    port: u16,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExchangeOutput {
    #[serde(deserialize_with = "list")]
    servers: Vec<ServerOutput>,
    #[serde(deserialize_with = "list")]
    dial_plans: Vec<DialPlanOutput>,
    #[serde(deserialize_with = "list")]
    um_services: Vec<UmOutput>,
    #[serde(deserialize_with = "list")]
    um_call_routers: Vec<UmOutput>,
    #[serde(deserialize_with = "list")]
    owa_virtual_directories: Vec<DirectoryOutput>,
    #[serde(deserialize_with = "list")]
    owa_mailbox_policies: Vec<PolicyOutput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServerOutput {
    name: String,
    fqdn: String,
    #[serde(deserialize_with = "list")]
    roles: Vec<String>,
    admin_display_version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DialPlanOutput {
    name: String,
    uri_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UmOutput {
    server: String,
    #[serde(deserialize_with = "list")]
    dial_plans: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DirectoryOutput {
    identity: String,
    server: String,
    backend: bool,
    instant_messaging_enabled: bool,
    #[serde(deserialize_with = "text")]
    instant_messaging_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyOutput {
    name: String,
    instant_messaging_enabled: bool,
    #[serde(deserialize_with = "text")]
    instant_messaging_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BackendOutput {
    ucma_dll_path: Option<String>,
    ucma_dll_exists: bool,
    #[serde(deserialize_with = "list")]
    app_settings: Vec<SettingOutput>,
    #[serde(deserialize_with = "list")]
    certificates: Vec<CertificateOutput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SettingOutput {
    key: String,
    #[serde(deserialize_with = "text")]
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CertificateOutput {
    thumbprint: String,
    #[serde(deserialize_with = "text")]
    subject: String,
    #[serde(deserialize_with = "list")]
    domains: Vec<String>,
    #[serde(deserialize_with = "date")]
    not_before: DateTime<Utc>,
    #[serde(deserialize_with = "date")]
    not_after: DateTime<Utc>,
    has_private_key: bool,
    status: String,
    /// Absent from probes written before imlink read it.
    #[serde(default)]
    is_self_signed: bool,
    #[serde(default, deserialize_with = "text")]
    issuer: String,
}

fn parse<T: DeserializeOwned>(probe: &str, output: &str) -> Result<T, ProbeError> {
    // Windows PowerShell may start its output with a byte-order mark.
    serde_json::from_str(output.trim_start_matches('\u{FEFF}').trim()).map_err(|source| {
        ProbeError {
            probe: probe.to_string(),
            source,
        }
    })
}

/// Parses the output of [`lync`].
pub fn parse_lync(output: &str) -> Result<LyncFacts, ProbeError> {
    let out: LyncOutput = parse("lync", output)?;
    Ok(LyncFacts {
        sites: out
            .sites
            .into_iter()
            .map(|s| Site {
                identity: s.identity,
                site_id: s.site_id,
                display_name: s.display_name,
            })
            .collect(),
        pools: out
            .pools
            .into_iter()
            .map(|p| Pool {
                registrar_version: out
                    .registrars
                    .iter()
                    .find(|r| same_name(&r.pool_fqdn, &p.fqdn))
                    .map(|r| r.version),
                fqdn: p.fqdn,
                site: p.site,
                services: p.services,
            })
            .collect(),
        trusted_pools: out
            .trusted_pools
            .into_iter()
            .map(|p| TrustedPool {
                computers: out
                    .trusted_computers
                    .iter()
                    .filter(|c| same_name(&c.pool, &p.pool_fqdn))
                    .map(|c| c.fqdn.clone())
                    .collect(),
                identity: p.identity,
                pool_fqdn: p.pool_fqdn,
                registrar: p.registrar,
                site: p.site,
            })
            .collect(),
        trusted_applications: out
            .trusted_applications
            .into_iter()
            .map(|a| TrustedApplication {
                identity: a.identity,
                application_id: a
                    .application_id
                    .strip_prefix("urn:application:")
                    .map_or(a.application_id.clone(), str::to_string),
                pool_fqdn: a.pool_fqdn,
                port: a.port,
            })
            .collect(),
    })
}

/// Parses the output of [`exchange`]. Server names in UM assignments and virtual directories
/// are resolved to FQDNs through the server list. Back-ends are added by [`parse_backend`].
pub fn parse_exchange(output: &str) -> Result<ExchangeFacts, ProbeError> {
    let out: ExchangeOutput = parse("exchange", output)?;
    let servers: Vec<ExchangeServer> = out
        .servers
        .into_iter()
        .map(|s| ExchangeServer {
            name: s.name,
            fqdn: s.fqdn,
            roles: s.roles,
            admin_display_version: s.admin_display_version,
        })
        .collect();
    let fqdn = |name: &str| {
        servers
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name) || s.fqdn.eq_ignore_ascii_case(name))
            .map_or(name.to_string(), |s| s.fqdn.clone())
    };
    let assignments = |list: Vec<UmOutput>| -> Vec<UmAssignment> {
        list.into_iter()
            .map(|u| UmAssignment {
                server: fqdn(&u.server),
                dial_plans: u.dial_plans,
            })
            .collect()
    };
    Ok(ExchangeFacts {
        dial_plans: out
            .dial_plans
            .into_iter()
            .map(|d| DialPlan {
                name: d.name,
                uri_type: d.uri_type,
            })
            .collect(),
        um_services: assignments(out.um_services),
        um_call_routers: assignments(out.um_call_routers),
        owa_virtual_directories: out
            .owa_virtual_directories
            .into_iter()
            .map(|v| OwaVirtualDirectory {
                server: fqdn(&v.server),
                identity: v.identity,
                backend: v.backend,
                instant_messaging_enabled: v.instant_messaging_enabled,
                instant_messaging_type: v.instant_messaging_type,
            })
            .collect(),
        owa_mailbox_policies: out
            .owa_mailbox_policies
            .into_iter()
            .map(|p| OwaMailboxPolicy {
                name: p.name,
                instant_messaging_enabled: p.instant_messaging_enabled,
                instant_messaging_type: p.instant_messaging_type,
            })
            .collect(),
        servers,
        backends: Vec::new(),
    })
}

/// Parses the output of [`backend`] for `server_fqdn`.
pub fn parse_backend(server_fqdn: &str, output: &str) -> Result<Backend, ProbeError> {
    let out: BackendOutput = parse(&format!("backend:{server_fqdn}"), output)?;
    Ok(Backend {
        server: server_fqdn.to_string(),
        ucma_dll_path: out.ucma_dll_path.filter(|p| !p.trim().is_empty()),
        ucma_dll_exists: out.ucma_dll_exists,
        owa_app_settings: out
            .app_settings
            .into_iter()
            .map(|s| (s.key, s.value))
            .collect(),
        certificates: out
            .certificates
            .into_iter()
            .map(|c| Certificate {
                thumbprint: c.thumbprint.to_ascii_uppercase(),
                subject: c.subject,
                domains: c.domains,
                not_before: c.not_before,
                not_after: c.not_after,
                has_private_key: c.has_private_key,
                status: c.status,
                is_self_signed: c.is_self_signed,
                issuer: c.issuer,
            })
            .collect(),
    })
}

/// The back-end servers to probe: Exchange 2013 servers with the Mailbox role, by FQDN.
pub fn backend_fqdns(exchange: &ExchangeFacts) -> Vec<String> {
    exchange
        .servers
        .iter()
        .filter(|s| s.has_role("Mailbox") && s.version().is_some_and(|(major, _)| major == 15))
        .map(|s| s.fqdn.clone())
        .collect()
}

/// Puts the probe results together into facts.
pub fn assemble(
    lync: LyncFacts,
    mut exchange: ExchangeFacts,
    backends: Vec<Backend>,
    collected_at: DateTime<Utc>,
) -> Facts {
    exchange.backends = backends;
    Facts {
        format: FORMAT,
        collected_at: Some(collected_at),
        lync,
        exchange,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procedure::samples;

    /// Output as Windows PowerShell 5.1 prints it for the Litware organization: a BOM, lone
    /// objects for one-element lists, `null` lists, wrapped arrays and `/Date()/`.
    #[test]
    fn litware_probe_output_gives_the_litware_facts() {
        let lync = parse_lync(include_str!("testdata/probe-lync.json")).unwrap();
        let exchange = parse_exchange(include_str!("testdata/probe-exchange.json")).unwrap();
        let backend = parse_backend(
            "atl-mbx-001.litwareinc.com",
            include_str!("testdata/probe-backend.json"),
        )
        .unwrap();
        let expected = samples::litware();
        let facts = assemble(
            lync,
            exchange,
            vec![backend],
            expected.collected_at.unwrap(),
        );
        assert_eq!(facts, expected);
        assert_eq!(facts.validate(), Ok(()));
    }

    #[test]
    fn unexpected_shapes_are_named() {
        let cases = [
            (parse_lync(r#"{"Sites":"x","Pools":[],"TrustedPools":[],"TrustedApplications":[]}"#).err(), "lync"),
            (parse_lync("Get-CsSite : The term 'Get-CsSite' is not recognized").err(), "lync"),
            (parse_exchange(r#"{"Servers":[]}"#).err(), "exchange"),
            (
                parse_backend("ex01", r#"{"UcmaDllPath":null,"UcmaDllExists":false,"AppSettings":[],"Certificates":[{"Thumbprint":"AA","Subject":"CN=x","Domains":[],"NotBefore":"soon","NotAfter":"2028-01-01T00:00:00Z","HasPrivateKey":true,"Status":"Valid"}]}"#).err(),
                "backend:ex01",
            ),
        ];
        for (err, probe) in cases {
            let err = err.expect("an error");
            assert_eq!(err.probe, probe);
            assert!(
                err.to_string()
                    .starts_with(&format!("the {probe} probe printed something unexpected")),
                "{err}"
            );
        }
    }

    #[test]
    fn application_ids_lose_their_urn_prefix() {
        let lync = parse_lync(
            r#"{"Sites":[],"Pools":[],"TrustedPools":[],"TrustedApplications":{"Identity":"p.example.com/urn:application:outlookwebapp","ApplicationId":"urn:application:outlookwebapp","PoolFqdn":"p.example.com","Port":5199}}"#,
        )
        .unwrap();
        assert_eq!(lync.trusted_applications[0].application_id, "outlookwebapp");
    }

    #[test]
    fn the_backend_probe_quotes_the_server_name() {
        let probe = backend("x'; Stop-Computer; '");
        assert!(
            probe
                .script
                .contains("-ComputerName 'x''; Stop-Computer; '''")
        );
    }
}
