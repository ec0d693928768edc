//! Exchange 2013 as the lab models it: servers, UM dial plans and assignments, OWA virtual
//! directories and mailbox policies, certificates, and each back-end server's OWA state.

use serde::{Deserialize, Serialize};

use super::interpreter::{Arg, Invocation, PsError};
use super::value::{Object, Value};
use app::procedure::facts::same_name;
use app::procedure::facts::{
    Certificate, DialPlan, ExchangeFacts, ExchangeServer, OwaMailboxPolicy, OwaVirtualDirectory,
    UmAssignment,
};

/// One back-end (Mailbox) server's local state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendState {
    pub server: String,
    /// `ImplementationDLLPath` under the MSExchange OWA InstantMessaging key.
    pub ucma_dll_path: Option<String>,
    pub ucma_dll_exists: bool,
    /// `ClientAccess\Owa\web.config`, as text.
    pub web_config: String,
    /// The web.config OWA runs with: read when its application pool last started.
    pub loaded_web_config: String,
    /// How often `MSExchangeOWAAppPool` was recycled.
    pub owa_app_pool_recycles: u32,
    pub certificates: Vec<Certificate>,
    /// Other files written on the server (web.config backups), by full path.
    #[serde(default)]
    pub files: Vec<(String, String)>,
    /// Event IDs logged by `MSExchange OWA`.
    #[serde(default)]
    pub owa_events: Vec<u32>,
    /// Whether `Logging\OWA\InstantMessaging` exists.
    #[serde(default)]
    pub im_log_folder: bool,
    /// The server's event clock: web.config writes and OWA pool starts are stamped with it,
    /// so a check can tell whether OWA started after web.config last changed.
    #[serde(default)]
    pub clock: i64,
    /// When web.config was last written (`LastWriteTime`, on the event clock).
    #[serde(default)]
    pub web_config_written: i64,
    /// When OWA's worker process last started (`StartTime`, on the event clock).
    #[serde(default)]
    pub owa_pool_started: i64,
}

/// Where Exchange 2013 is installed on every lab server (`$env:ExchangeInstallPath`).
pub const INSTALL_PATH: &str = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\";
/// The registry key holding the UCMA value, as a PowerShell provider path.
const UCMA_KEY: &str =
    "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\MSExchange OWA\\InstantMessaging";

/// The Exchange side of the lab.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExchangeState {
    pub servers: Vec<ExchangeServer>,
    pub dial_plans: Vec<DialPlan>,
    pub um_services: Vec<UmAssignment>,
    pub um_call_routers: Vec<UmAssignment>,
    pub owa_virtual_directories: Vec<OwaVirtualDirectory>,
    pub owa_mailbox_policies: Vec<OwaMailboxPolicy>,
    pub backends: Vec<BackendState>,
}

/// A web.config with the given appSettings, shaped like Exchange 2013's.
pub fn web_config(settings: &[(String, String)]) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <system.web>\n    <compilation defaultLanguage=\"c#\" debug=\"false\" />\n  </system.web>\n  <appSettings>\n",
    );
    for (k, v) in settings {
        xml.push_str(&format!(
            "    <add key=\"{}\" value=\"{}\" />\n",
            escape(k),
            escape(v)
        ));
    }
    xml.push_str("  </appSettings>\n</configuration>\n");
    xml
}

impl ExchangeState {
    /// The Exchange side described by `facts`.
    pub fn from_facts(facts: &ExchangeFacts) -> Self {
        ExchangeState {
            servers: facts.servers.clone(),
            dial_plans: facts.dial_plans.clone(),
            um_services: facts.um_services.clone(),
            um_call_routers: facts.um_call_routers.clone(),
            owa_virtual_directories: facts.owa_virtual_directories.clone(),
            owa_mailbox_policies: facts.owa_mailbox_policies.clone(),
            backends: facts
                .backends
                .iter()
                .map(|b| BackendState {
                    server: b.server.clone(),
                    ucma_dll_path: b.ucma_dll_path.clone(),
                    ucma_dll_exists: b.ucma_dll_exists,
                    web_config: web_config(&b.owa_app_settings),
                    loaded_web_config: web_config(&b.owa_app_settings),
                    owa_app_pool_recycles: 0,
                    certificates: b.certificates.clone(),
                    files: Vec::new(),
                    owa_events: Vec::new(),
                    im_log_folder: false,
                    // web.config was written, then OWA started.
                    clock: 2,
                    web_config_written: 1,
                    owa_pool_started: 2,
                })
                .collect(),
        }
    }

    fn server(&self, name: &str) -> Option<&ExchangeServer> {
        self.servers
            .iter()
            .find(|s| same_name(&s.name, name) || same_name(&s.fqdn, name))
    }

    fn server_name(&self, fqdn: &str) -> String {
        self.server(fqdn)
            .map_or(fqdn.to_string(), |s| s.name.clone())
    }

    /// Runs `call` if it is an Exchange cmdlet.
    pub fn invoke(&mut self, call: &Invocation) -> Option<Result<Vec<Value>, PsError>> {
        let name = call.name.to_ascii_lowercase();
        Some(match name.as_str() {
            "get-exchangeserver" => self.get_servers(call),
            "get-umdialplan" => self.get_dial_plans(call),
            "get-umservice" => Ok(self.assignments(call, false)),
            "get-umcallroutersettings" => Ok(self.assignments(call, true)),
            "set-umservice" => self.set_dial_plans(call, false),
            "set-umcallroutersettings" => self.set_dial_plans(call, true),
            "get-owavirtualdirectory" => self.get_directories(call),
            "set-owavirtualdirectory" => self.set_directories(call),
            "get-owamailboxpolicy" => self.get_policies(call),
            "set-owamailboxpolicy" => self.set_policies(call),
            "get-exchangecertificate" => self.get_certificates(call),
            _ => return None,
        })
    }

    fn get_servers(&self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let wanted = identity(call);
        Ok(self
            .servers
            .iter()
            .filter(|s| {
                wanted
                    .as_deref()
                    .is_none_or(|w| same_name(&s.name, w) || same_name(&s.fqdn, w))
            })
            .map(|s| {
                Object::new("Microsoft.Exchange.Data.Directory.Management.ExchangeServer")
                    .with("Name", s.name.clone())
                    .with("Fqdn", s.fqdn.clone())
                    .with("ServerRole", s.roles.join(", "))
                    .with("Edition", "Enterprise")
                    .with("AdminDisplayVersion", s.admin_display_version.clone())
                    .into()
            })
            .collect())
    }

    fn get_dial_plans(&self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        let wanted = identity(call);
        Ok(self
            .dial_plans
            .iter()
            .filter(|d| wanted.as_deref().is_none_or(|w| same_name(&d.name, w)))
            .map(|d| {
                Object::new("Microsoft.Exchange.Data.Directory.SystemConfiguration.UMDialPlan")
                    .with("Name", d.name.clone())
                    .with("URIType", d.uri_type.clone())
                    .with("VoIPSecurity", "Secured")
                    .into()
            })
            .collect())
    }

    /// `Get-UMService` and `Get-UMCallRouterSettings`. As on Exchange, the call router's
    /// cmdlet without `-Server` reads the local server only (the shell's own, here the first
    /// Exchange 2013 Client Access server), and the two objects name their dial plans
    /// differently: `UMDialPlans` on the UM service (as its page describes it), `DialPlans` on
    /// the call router.
    fn assignments(&self, call: &Invocation, call_router: bool) -> Vec<Value> {
        let (role, list) = if call_router {
            ("ClientAccess", &self.um_call_routers)
        } else {
            ("Mailbox", &self.um_services)
        };
        let local = || {
            self.servers
                .iter()
                .find(|s| s.has_role("ClientAccess") && s.is_exchange_2013())
                .map(|s| s.fqdn.clone())
        };
        let wanted = identity(call)
            .or_else(|| named(call, "Server").map(|v| v.to_string()))
            .or_else(|| if call_router { local() } else { None });
        self.servers
            .iter()
            .filter(|s| s.has_role(role) && s.is_exchange_2013())
            .filter(|s| {
                wanted
                    .as_deref()
                    .is_none_or(|w| same_name(&s.name, w) || same_name(&s.fqdn, w))
            })
            .map(|s| {
                let plans = list
                    .iter()
                    .find(|a| same_name(&a.server, &s.fqdn))
                    .map(|a| a.dial_plans.clone())
                    .unwrap_or_default();
                let (class, property) = if call_router {
                    (
                        "Microsoft.Exchange.Data.Directory.SystemConfiguration.SIPFEServerConfiguration",
                        "DialPlans",
                    )
                } else {
                    (
                        "Microsoft.Exchange.Data.Directory.SystemConfiguration.UMServer",
                        "UMDialPlans",
                    )
                };
                Object::new(class)
                    .with("Name", s.name.clone())
                    .with(property, Value::from(plans))
                    .with("UMStartupMode", "TCP")
                    .into()
            })
            .collect()
    }

    fn set_dial_plans(
        &mut self,
        call: &Invocation,
        call_router: bool,
    ) -> Result<Vec<Value>, PsError> {
        let cmdlet = &call.name;
        let key = if call_router { "Server" } else { "Identity" };
        check(call, &[key, "DialPlans", "UMStartupMode"])?;
        let target = named(call, key)
            .map(|v| v.to_string())
            .or_else(|| positional(call).map(|v| v.to_string()))
            .ok_or_else(|| {
                PsError::terminating(format!("{cmdlet} : The {key} parameter is required."))
            })?;
        let role = if call_router {
            "ClientAccess"
        } else {
            "Mailbox"
        };
        let server = self
            .server(&target)
            .filter(|s| s.has_role(role))
            .map(|s| s.fqdn.clone())
            .ok_or_else(|| PsError::terminating(format!("{cmdlet} : The operation couldn't be performed because object '{target}' couldn't be found.")))?;
        let Some(change) = named(call, "DialPlans") else {
            return Ok(Vec::new());
        };
        let plans = &self.dial_plans;
        let known = |name: &str| -> Result<String, PsError> {
            let plan = plans
                .iter()
                .find(|d| same_name(&d.name, name))
                .ok_or_else(|| {
                    PsError::terminating(format!(
                        "{cmdlet} : The UM dial plan \"{name}\" doesn't exist."
                    ))
                })?;
            if !plan.is_sip_name() {
                return Err(PsError::terminating(format!(
                    "{cmdlet} : Exchange 2013 servers can only be added to SIP URI dial plans; \"{name}\" is {}.",
                    plan.uri_type
                )));
            }
            Ok(plan.name.clone())
        };
        let list = if call_router {
            &mut self.um_call_routers
        } else {
            &mut self.um_services
        };
        let index = match list.iter().position(|a| same_name(&a.server, &server)) {
            Some(i) => i,
            None => {
                list.push(UmAssignment {
                    server: server.clone(),
                    dial_plans: Vec::new(),
                });
                list.len() - 1
            }
        };
        match change {
            Value::Table(entries) => {
                for (op, value) in entries {
                    for item in value.clone().into_items() {
                        let name = known(&item.to_string())?;
                        let current = &mut list[index].dial_plans;
                        if same_name(&op, "Add") {
                            if !current.iter().any(|p| same_name(p, &name)) {
                                current.push(name);
                            }
                        } else if same_name(&op, "Remove") {
                            current.retain(|p| !same_name(p, &name));
                        }
                    }
                }
            }
            Value::Null => list[index].dial_plans.clear(),
            other => {
                let mut names = Vec::new();
                for item in other.clone().into_items() {
                    names.push(known(&item.to_string())?);
                }
                list[index].dial_plans = names;
            }
        }
        Ok(Vec::new())
    }

    fn directory_object(&self, v: &OwaVirtualDirectory) -> Value {
        let name = v
            .identity
            .split_once('\\')
            .map_or(v.identity.as_str(), |(_, n)| n);
        Object::new("Microsoft.Exchange.Data.Directory.SystemConfiguration.ADOwaVirtualDirectory")
            .with("Identity", v.identity.clone())
            .with("Name", name.to_string())
            .with("Server", self.server_name(&v.server))
            .with("InstantMessagingEnabled", v.instant_messaging_enabled)
            .with("InstantMessagingType", v.instant_messaging_type.clone())
            .into()
    }

    fn get_directories(&self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        check(
            call,
            &[
                "Identity",
                "Server",
                "ShowMailboxVirtualDirectories",
                "ADPropertiesOnly",
                "DomainController",
            ],
        )?;
        let backends = named(call, "ShowMailboxVirtualDirectories").is_some_and(|v| v.is_true());
        let wanted = identity(call);
        let server = named(call, "Server").map(|v| v.to_string());
        Ok(self
            .owa_virtual_directories
            .iter()
            .filter(|v| backends || !v.backend)
            .filter(|v| wanted.as_deref().is_none_or(|w| same_name(&v.identity, w)))
            .filter(|v| {
                server.as_deref().is_none_or(|s| {
                    self.server(s)
                        .is_some_and(|x| same_name(&x.fqdn, &v.server))
                })
            })
            .map(|v| self.directory_object(v))
            .collect())
    }

    fn set_directories(&mut self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        check(
            call,
            &[
                "Identity",
                "InstantMessagingEnabled",
                "InstantMessagingType",
                "InstantMessagingServerName",
                "InstantMessagingCertificateThumbprint",
            ],
        )?;
        let targets = targets(call);
        let enabled = boolean(call, "InstantMessagingEnabled")?;
        let im_type = im_type(call)?;
        for target in targets {
            let v = self
                .owa_virtual_directories
                .iter_mut()
                .find(|v| same_name(&v.identity, &target))
                .ok_or_else(|| PsError::non_terminating(format!("Set-OwaVirtualDirectory : The operation couldn't be performed because object '{target}' couldn't be found.")))?;
            if let Some(e) = enabled {
                v.instant_messaging_enabled = e;
            }
            if let Some(t) = &im_type {
                v.instant_messaging_type = t.clone();
            }
        }
        Ok(Vec::new())
    }

    fn policy_object(p: &OwaMailboxPolicy, default: bool) -> Value {
        Object::new("Microsoft.Exchange.Data.Directory.SystemConfiguration.OwaMailboxPolicy")
            .with("Name", p.name.clone())
            .with("Identity", p.name.clone())
            .with("InstantMessagingEnabled", p.instant_messaging_enabled)
            .with("InstantMessagingType", p.instant_messaging_type.clone())
            .with("IsDefault", default)
            .into()
    }

    fn get_policies(&self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        check(call, &["Identity", "DomainController"])?;
        // As documented, a $null Identity returns every policy.
        let wanted = identity(call).filter(|w| !w.is_empty());
        let found: Vec<Value> = self
            .owa_mailbox_policies
            .iter()
            .enumerate()
            .filter(|(_, p)| wanted.as_deref().is_none_or(|w| same_name(&p.name, w)))
            .map(|(i, p)| Self::policy_object(p, i == 0))
            .collect();
        if let (true, Some(w)) = (found.is_empty(), wanted) {
            return Err(PsError::non_terminating(format!(
                "Get-OwaMailboxPolicy : The operation couldn't be performed because object '{w}' couldn't be found."
            )));
        }
        Ok(found)
    }

    fn set_policies(&mut self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        check(
            call,
            &[
                "Identity",
                "InstantMessagingEnabled",
                "InstantMessagingType",
                "IsDefault",
            ],
        )?;
        let enabled = boolean(call, "InstantMessagingEnabled")?;
        let im_type = im_type(call)?;
        for target in targets(call) {
            let p = self
                .owa_mailbox_policies
                .iter_mut()
                .find(|p| same_name(&p.name, &target))
                .ok_or_else(|| PsError::non_terminating(format!("Set-OwaMailboxPolicy : The operation couldn't be performed because object '{target}' couldn't be found.")))?;
            if let Some(e) = enabled {
                p.instant_messaging_enabled = e;
            }
            if let Some(t) = &im_type {
                p.instant_messaging_type = t.clone();
            }
        }
        Ok(Vec::new())
    }

    fn get_certificates(&self, call: &Invocation) -> Result<Vec<Value>, PsError> {
        check(call, &["Identity", "Thumbprint", "Server", "DomainName"])?;
        let server = named(call, "Server").map(|v| v.to_string());
        let thumbprint = named(call, "Thumbprint")
            .or_else(|| positional(call))
            .map(|v| v.to_string());
        let mut out = Vec::new();
        for b in &self.backends {
            if server.as_deref().is_some_and(|s| {
                self.server(s)
                    .is_none_or(|x| !same_name(&x.fqdn, &b.server))
            }) {
                continue;
            }
            for c in &b.certificates {
                if thumbprint
                    .as_deref()
                    .is_some_and(|t| !same_name(t, &c.thumbprint))
                {
                    continue;
                }
                out.push(
                    Object::new("Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeCertificate")
                        .with("Thumbprint", c.thumbprint.clone())
                        .with("Subject", c.subject.clone())
                        .with("CertificateDomains", Value::from(c.domains.clone()))
                        .with("NotBefore", c.not_before.to_rfc3339())
                        .with("NotAfter", c.not_after.to_rfc3339())
                        .with("HasPrivateKey", c.has_private_key)
                        .with("Status", c.status.clone())
                        .with("IsSelfSigned", c.is_self_signed)
                        .with("Issuer", c.issuer.clone())
                        .with("Services", "IIS, SMTP")
                        .into(),
                );
            }
        }
        Ok(out)
    }
}

impl BackendState {
    fn web_config_path() -> String {
        format!("{INSTALL_PATH}ClientAccess\\Owa\\web.config")
    }

    /// Runs `call` on this server, if it is a command that runs there.
    pub fn invoke(&mut self, call: &Invocation) -> Option<Result<Vec<Value>, PsError>> {
        let name = call.name.to_ascii_lowercase();
        let path = || {
            named(call, "LiteralPath")
                .or_else(|| named(call, "Path"))
                .or_else(|| positional(call))
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        Some(match name.as_str() {
            "get-itemproperty" => {
                let key = path();
                let value_name = named(call, "Name")
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                match (
                    &self.ucma_dll_path,
                    same_name(&key, UCMA_KEY),
                    same_name(&value_name, "ImplementationDLLPath"),
                ) {
                    (Some(dll), true, true) => Ok(vec![
                        Object::new("System.Management.Automation.PSCustomObject")
                            .with("ImplementationDLLPath", dll.clone())
                            .into(),
                    ]),
                    _ => Err(PsError::non_terminating(format!(
                        "Get-ItemProperty : Property {value_name} does not exist at path {key}."
                    ))),
                }
            }
            "test-path" => Ok(vec![Value::Bool(self.exists(&path()))]),
            "get-item" => {
                let p = path();
                if same_name(&p, &Self::web_config_path()) {
                    Ok(vec![
                        Object::new("System.IO.FileInfo")
                            .with("FullName", p)
                            .with("LastWriteTime", self.web_config_written)
                            .into(),
                    ])
                } else {
                    Err(PsError::non_terminating(format!(
                        "Get-Item : Cannot find path '{p}' because it does not exist."
                    )))
                }
            }
            "get-ciminstance" => {
                let class = named(call, "ClassName")
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                if same_name(&class, "WorkerProcess") {
                    Ok(vec![
                        Object::new("Microsoft.Management.Infrastructure.CimInstance#root/WebAdministration/WorkerProcess")
                            .with("AppPoolName", "MSExchangeOWAAppPool")
                            .with("ProcessId", self.owa_process_id())
                            .into(),
                    ])
                } else {
                    Err(PsError::non_terminating(format!(
                        "Get-CimInstance : Invalid class {class}"
                    )))
                }
            }
            "get-process" => {
                let id = named(call, "Id").map(|v| v.to_string()).unwrap_or_default();
                if id == self.owa_process_id().to_string() {
                    Ok(vec![
                        Object::new("System.Diagnostics.Process")
                            .with("Id", self.owa_process_id())
                            .with("ProcessName", "w3wp")
                            .with("StartTime", self.owa_pool_started)
                            .into(),
                    ])
                } else {
                    Err(PsError::non_terminating(format!(
                        "Get-Process : Cannot find a process with the process identifier {id}."
                    )))
                }
            }
            "get-content" => {
                let p = path();
                match self.read(&p) {
                    Some(text) => Ok(vec![Value::Str(text)]),
                    None => Err(PsError::non_terminating(format!(
                        "Get-Content : Cannot find path '{p}' because it does not exist."
                    ))),
                }
            }
            "set-content" => {
                let p = path();
                let text = named(call, "Value")
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                self.write(&p, text);
                Ok(Vec::new())
            }
            "copy-item" => {
                let from = path();
                let to = named(call, "Destination")
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                match self.read(&from) {
                    Some(text) => {
                        self.write(&to, text);
                        Ok(Vec::new())
                    }
                    None => Err(PsError::non_terminating(format!(
                        "Copy-Item : Cannot find path '{from}' because it does not exist."
                    ))),
                }
            }
            "get-eventlog" => Ok(self
                .owa_events
                .iter()
                .map(|id| {
                    Object::new("System.Diagnostics.EventLogEntry")
                        .with("EventID", i64::from(*id))
                        .with("Source", "MSExchange OWA")
                        .into()
                })
                .collect()),
            appcmd if appcmd.ends_with("appcmd.exe") => {
                let words: Vec<String> = call
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        Arg::Positional(v) => Some(v.to_string()),
                        _ => None,
                    })
                    .collect();
                let recycle = words.first().is_some_and(|w| same_name(w, "recycle"))
                    && words.get(1).is_some_and(|w| same_name(w, "apppool"))
                    && words
                        .iter()
                        .any(|w| w.to_ascii_lowercase().contains("msexchangeowaapppool"));
                if recycle {
                    self.owa_app_pool_recycles += 1;
                    self.start_owa();
                    Ok(vec![Value::Str(
                        "\"MSExchangeOWAAppPool\" successfully recycled".into(),
                    )])
                } else {
                    Err(PsError::non_terminating(format!(
                        "ERROR ( message:Unknown command. {} )",
                        words.join(" ")
                    )))
                }
            }
            _ => return None,
        })
    }

    fn read(&self, path: &str) -> Option<String> {
        if same_name(path, &Self::web_config_path()) {
            return Some(self.web_config.clone());
        }
        self.files
            .iter()
            .find(|(p, _)| same_name(p, path))
            .map(|(_, t)| t.clone())
    }

    /// OWA's worker process id: a new process at every start.
    fn owa_process_id(&self) -> i64 {
        4000 + self.owa_pool_started
    }

    /// OWA's application pool starts and reads web.config.
    pub fn start_owa(&mut self) {
        self.loaded_web_config = self.web_config.clone();
        self.clock += 1;
        self.owa_pool_started = self.clock;
    }

    fn write(&mut self, path: &str, text: String) {
        if same_name(path, &Self::web_config_path()) {
            self.web_config = text;
            self.clock += 1;
            self.web_config_written = self.clock;
        } else if let Some(slot) = self.files.iter_mut().find(|(p, _)| same_name(p, path)) {
            slot.1 = text;
        } else {
            self.files.push((path.to_string(), text));
        }
    }

    fn exists(&self, path: &str) -> bool {
        let in_install = |rest: &str| same_name(path, &format!("{INSTALL_PATH}{rest}"));
        self.read(path).is_some()
            || (self.ucma_dll_exists
                && self
                    .ucma_dll_path
                    .as_deref()
                    .is_some_and(|d| same_name(d, path)))
            || (self.im_log_folder && in_install("Logging\\OWA\\InstantMessaging"))
    }
}

pub(super) fn named(call: &Invocation, name: &str) -> Option<Value> {
    call.args.iter().find_map(|a| match a {
        Arg::Named(n, v) if same_name(n, name) => Some(v.clone().unwrap_or(Value::Bool(true))),
        _ => None,
    })
}

fn positional(call: &Invocation) -> Option<Value> {
    call.args.iter().find_map(|a| match a {
        Arg::Positional(v) => Some(v.clone()),
        _ => None,
    })
}

pub(super) fn identity(call: &Invocation) -> Option<String> {
    named(call, "Identity")
        .or_else(|| positional(call))
        .and_then(|v| match v {
            Value::Null => None,
            other => Some(other.to_string()),
        })
}

/// The objects a Set- cmdlet acts on: `-Identity`, or the `Identity` of each piped object.
fn targets(call: &Invocation) -> Vec<String> {
    match identity(call) {
        Some(id) => vec![id],
        None => call
            .input
            .iter()
            .map(|item| match item {
                Value::Object(_) => item.property("Identity").to_string(),
                other => other.to_string(),
            })
            .collect(),
    }
}

fn check(call: &Invocation, allowed: &[&str]) -> Result<(), PsError> {
    for arg in &call.args {
        if let Arg::Named(name, _) = arg
            && !allowed.iter().any(|a| same_name(a, name))
            && !["Confirm", "WhatIf", "Force", "Verbose"]
                .iter()
                .any(|a| same_name(a, name))
        {
            return Err(PsError::terminating(format!(
                "{} : A parameter cannot be found that matches parameter name '{name}'.",
                call.name
            )));
        }
    }
    Ok(())
}

fn boolean(call: &Invocation, name: &str) -> Result<Option<bool>, PsError> {
    match named(call, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(other) => Err(PsError::terminating(format!(
            "{} : Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{other}\" to type \"System.Boolean\".",
            call.name
        ))),
    }
}

/// `-InstantMessagingType`: `None` or `Ocs`, matched case-insensitively.
fn im_type(call: &Invocation) -> Result<Option<String>, PsError> {
    match named(call, "InstantMessagingType") {
        None => Ok(None),
        Some(v) => {
            let text = v.to_string();
            ["None", "Ocs"]
                .iter()
                .find(|t| same_name(t, &text))
                .map(|t| Some(t.to_string()))
                .ok_or_else(|| {
                    PsError::terminating(format!(
                        "{} : Cannot bind parameter 'InstantMessagingType'. Cannot convert value \"{text}\" to type \"Microsoft.Exchange.Data.Directory.SystemConfiguration.InstantMessagingTypeOptions\". Specify one of the following enumerator names and try again: None, Ocs",
                        call.name
                    ))
                })
        }
    }
}
