//! The lab: a simulated Lync Server 2013 and Exchange 2013 organization that runs the
//! PowerShell imlink emits, through a real parser, and answers the way the servers do.
//!
//! So far it models Lync (sites, pools, trusted application pools and applications, with
//! changes pending until `Enable-CsTopology` publishes them) and the Exchange Management Shell
//! side of Exchange (servers, UM dial plans, OWA virtual directories and mailbox policies,
//! certificates). Scenarios are built from the documented sample organizations in
//! `app::procedure::samples`.

pub mod directory;
pub mod exchange;
pub mod file_store;
pub mod interpreter;
pub mod ldif;
pub mod lync;
pub mod owa;
pub mod store;
pub mod value;
pub mod xml;

use serde::{Deserialize, Serialize};

use interpreter::{Host, Invocation, PsError};
use value::Value;

/// The whole simulated organization; serializable so a lab survives restarts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LabState {
    pub lync: lync::LyncState,
    pub exchange: exchange::ExchangeState,
    /// The people in the directory.
    pub users: Vec<directory::User>,
    /// The mailbox databases their mailboxes are in.
    pub databases: Vec<directory::MailboxDatabase>,
    /// The back-end server a remote session is on (`Invoke-Command`).
    #[serde(skip)]
    pub remote: Option<String>,
    /// Every command that changed something, in order (`server: Cmdlet`, newest last, the
    /// last [`APPLIED_KEPT`]): a command applied twice leaves two entries.
    #[serde(default)]
    pub applied: Vec<String>,
}

/// How many changing commands the lab remembers.
pub const APPLIED_KEPT: usize = 500;

/// Verbs of commands that change something.
const CHANGING_VERBS: &[&str] = &[
    "new", "set", "remove", "enable", "disable", "add", "copy", "move", "install", "grant",
    "revoke", "start", "stop", "restart",
];

/// Whether `call` changes something (and so belongs in [`LabState::applied`]).
fn changes(call: &Invocation) -> bool {
    let name = call.name.to_ascii_lowercase();
    if name.ends_with("appcmd.exe") {
        return true;
    }
    name.split_once('-')
        .is_some_and(|(verb, _)| CHANGING_VERBS.contains(&verb))
}

/// How many people every scenario's directory holds.
pub const USERS: usize = 2000;

/// Named scenarios: the article's organization and variants with one thing changed.
pub const SCENARIOS: &[&str] = &[
    "litware",
    "integrated",
    "colocated-um",
    "duplicate-pool",
    "ucma-missing",
    "cert-mismatch",
    "mixed-2010",
    "site-id-differs",
    "all-autodiscovered",
    "coexistence-2010",
    "multi-server",
    "director",
    "self-signed",
    "cert-per-server",
];

impl LabState {
    /// The state of scenario `name`, built deterministically from the sample organization of
    /// the same name.
    pub fn scenario(name: &str) -> Option<LabState> {
        if !SCENARIOS.contains(&name) {
            return None;
        }
        let facts = app::procedure::samples::all()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| f)?;
        Some(LabState::from_facts(&facts))
    }

    /// An organization as the facts describe it; existing trusted pools are published.
    pub fn from_facts(facts: &app::procedure::facts::Facts) -> LabState {
        use app::procedure::facts::{LYNC_2010, LYNC_2013};
        let registrar = facts
            .lync
            .pools
            .iter()
            .find(|p| {
                p.is_registrar()
                    && !p.is_director()
                    && p.registrar_version.is_none_or(|v| v == LYNC_2013)
            })
            .map_or("", |p| p.fqdn.as_str());
        let mailbox_servers: Vec<&str> = facts
            .backend_servers()
            .iter()
            .map(|s| s.fqdn.as_str())
            .collect();
        let mut users = directory::users(USERS, registrar);
        let mut databases =
            directory::databases(mailbox_servers.first().copied().unwrap_or_default());
        directory::spread_databases(&mut users, &mut databases, &mailbox_servers);
        if let Some(legacy) = facts
            .lync
            .pools
            .iter()
            .find(|p| p.is_registrar() && p.registrar_version == Some(LYNC_2010))
        {
            directory::home_some_on(&mut users, &legacy.fqdn, LEGACY_LYNC_EVERY);
        }
        LabState {
            lync: lync::LyncState::from_facts(&facts.lync),
            exchange: exchange::ExchangeState::from_facts(&facts.exchange),
            users,
            databases,
            remote: None,
            applied: Vec::new(),
        }
    }
}

/// With a Lync Server 2010 pool in the organization, every this-many-th Lync user is homed on
/// it.
pub const LEGACY_LYNC_EVERY: usize = 11;

impl Host for LabState {
    fn env(&self, name: &str) -> Option<String> {
        name.eq_ignore_ascii_case("ExchangeInstallPath")
            .then(|| exchange::INSTALL_PATH.to_string())
    }

    fn enter(&mut self, computer: Option<&str>) -> Result<(), PsError> {
        match computer {
            None => {
                self.remote = None;
                Ok(())
            }
            Some(c) => {
                let server = self
                    .exchange
                    .backends
                    .iter()
                    .find(|b| b.server.eq_ignore_ascii_case(c) || b.server.split('.').next().is_some_and(|n| n.eq_ignore_ascii_case(c)))
                    .map(|b| b.server.clone())
                    .ok_or_else(|| {
                        PsError::terminating(format!(
                            "[{c}] Connecting to remote server {c} failed with the following error message : WinRM cannot complete the operation."
                        ))
                    })?;
                self.remote = Some(server);
                Ok(())
            }
        }
    }

    fn invoke(&mut self, call: Invocation) -> Result<Vec<Value>, PsError> {
        let record = changes(&call).then(|| match &self.remote {
            Some(server) => format!("{server}: {}", call.name),
            None => call.name.clone(),
        });
        let result = self.dispatch(call);
        if let (Some(entry), Ok(_)) = (record, &result) {
            self.applied.push(entry);
            if self.applied.len() > APPLIED_KEPT {
                self.applied.remove(0);
            }
        }
        result
    }
}

impl LabState {
    /// Runs `call` on the back end of the remote session, Lync or Exchange.
    fn dispatch(&mut self, call: Invocation) -> Result<Vec<Value>, PsError> {
        if let Some(server) = self.remote.clone()
            && let Some(backend) = self
                .exchange
                .backends
                .iter_mut()
                .find(|b| b.server == server)
            && let Some(result) = backend.invoke(&call)
        {
            return result;
        }
        if let Some(result) = self.lync.invoke(&call) {
            return result;
        }
        let directory = directory::Directory {
            users: &self.users,
            databases: &self.databases,
        };
        if let Some(result) = directory.invoke(&call) {
            return result;
        }
        match self.exchange.invoke(&call) {
            Some(result) => result,
            None => Err(PsError::terminating(format!(
                "The term '{}' is not recognized as the name of a cmdlet, function, script file, or operable program.",
                call.name
            ))),
        }
    }
}

/// Why discovery in the lab failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the {probe} probe failed in the lab: {message}")]
    Failed { probe: String, message: String },
    #[error(transparent)]
    Output(#[from] app::procedure::probes::ProbeError),
}

impl LabState {
    /// Runs the read-only probes against the lab, through the interpreter, and assembles the
    /// facts they report.
    pub fn discover(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<app::procedure::facts::Facts, DiscoveryError> {
        use app::procedure::probes;
        let output = |state: &mut LabState, probe: &probes::Probe| {
            let outcome = interpreter::Interpreter::new(state).run(&probe.script);
            match outcome.failure.or_else(|| outcome.errors.first().cloned()) {
                Some(message) => Err(DiscoveryError::Failed {
                    probe: probe.id.clone(),
                    message,
                }),
                None => Ok(value::format_output(&outcome.output)),
            }
        };
        let lync = probes::parse_lync(&output(self, &probes::lync())?)?;
        let exchange = probes::parse_exchange(&output(self, &probes::exchange())?)?;
        let servers: Vec<String> = self
            .exchange
            .backends
            .iter()
            .map(|b| b.server.clone())
            .collect();
        let mut backends = Vec::new();
        for server in servers {
            let text = output(self, &probes::backend(&server))?;
            backends.push(probes::parse_backend(&server, &text)?);
        }
        Ok(probes::assemble(lync, exchange, backends, now))
    }
}
