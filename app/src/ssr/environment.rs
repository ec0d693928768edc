//! Where the portal reads the environment facts that plans are made against.

use std::path::PathBuf;

use std::future::Future;
use std::pin::Pin;

use super::lab::LabError;
use crate::error::AppError;
use crate::procedure::facts::{Facts, FactsError};
use crate::procedure::probes::{self, Probe, ProbeError};

/// A source of environment facts.
#[derive(Clone)]
pub enum Environment {
    /// A facts file (README, "Plan inputs and output"), read each time a plan is made.
    FactsFile(PathBuf),
    /// The simulated organization, probed each time a plan is made.
    Lab(std::sync::Arc<dyn super::lab::Lab>),
    /// The real servers, probed through the executor each time a plan is made.
    Remote(std::sync::Arc<dyn Shell>),
}

/// A probe's output, or why it could not be had (boxed, so [`Shell`] stays object-safe).
pub type Probing<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// Somewhere the read-only probes can run (implemented by the server's executors).
pub trait Shell: Send + Sync {
    /// Where the probes run, for people.
    fn label(&self) -> String;
    /// Runs `probe`: its standard output, or why it failed.
    fn probe<'a>(&'a self, probe: &'a Probe) -> Probing<'a>;
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// Why the facts could not be had.
#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    #[error("cannot read the facts file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the facts file {path} is not valid facts JSON: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("the facts file {path} cannot be planned against: {source}")]
    Invalid { path: String, source: FactsError },
    #[error("the lab could not be probed: {0}")]
    Lab(#[from] LabError),
    #[error("{0}")]
    Probe(String),
    #[error(transparent)]
    Output(#[from] ProbeError),
}

impl From<EnvironmentError> for AppError {
    fn from(err: EnvironmentError) -> Self {
        tracing::warn!(error = %err, "environment facts unavailable");
        AppError::Unavailable(format!("The environment facts are unavailable: {err}."))
    }
}

impl Environment {
    /// How the environment is shown to people.
    pub fn label(&self) -> String {
        match self {
            Environment::FactsFile(path) => format!("facts file {}", path.display()),
            Environment::Lab(_) => "the simulated lab (see the Lab page)".to_string(),
            Environment::Remote(shell) => format!("the servers, probed through {}", shell.label()),
        }
    }

    /// Reads and checks the current facts.
    pub async fn facts(&self) -> Result<Facts, EnvironmentError> {
        match self {
            Environment::FactsFile(path) => {
                let shown = path.display().to_string();
                let text = tokio::fs::read_to_string(path).await.map_err(|source| {
                    EnvironmentError::Read {
                        path: shown.clone(),
                        source,
                    }
                })?;
                let facts: Facts =
                    serde_json::from_str(&text).map_err(|source| EnvironmentError::Parse {
                        path: shown.clone(),
                        source,
                    })?;
                facts
                    .validate()
                    .map_err(|source| EnvironmentError::Invalid {
                        path: shown,
                        source,
                    })?;
                Ok(facts)
            }
            Environment::Lab(lab) => Ok(lab.discover().await?),
            Environment::Remote(shell) => {
                let run = |probe: Probe| async move {
                    shell.probe(&probe).await.map_err(EnvironmentError::Probe)
                };
                let lync = probes::parse_lync(&run(probes::lync()).await?)?;
                let exchange = probes::parse_exchange(&run(probes::exchange()).await?)?;
                let mut backends = Vec::new();
                for server in probes::backend_fqdns(&exchange) {
                    let output = run(probes::backend(&server)).await?;
                    backends.push(probes::parse_backend(&server, &output)?);
                }
                Ok(probes::assemble(
                    lync,
                    exchange,
                    backends,
                    chrono::Utc::now(),
                ))
            }
        }
    }
}

/// The facts behind plan previews and the environment view, reused for a few seconds so that
/// typing in the form (or many people at once) probes the environment at most once per
/// interval; concurrent callers wait for the one probe in flight. Saving, submitting,
/// re-planning and the worker always read fresh facts.
pub struct FactsCache {
    ttl: std::time::Duration,
    slot: tokio::sync::Mutex<Option<(std::time::Instant, Facts)>>,
}

impl FactsCache {
    pub fn new(ttl: std::time::Duration) -> Self {
        FactsCache {
            ttl,
            slot: tokio::sync::Mutex::new(None),
        }
    }

    /// `environment`'s facts, from the cache while they are younger than the interval.
    pub async fn facts(&self, environment: &Environment) -> Result<Facts, EnvironmentError> {
        let mut slot = self.slot.lock().await;
        if let Some((at, facts)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(facts.clone());
        }
        let facts = environment.facts().await?;
        *slot = Some((std::time::Instant::now(), facts.clone()));
        Ok(facts)
    }
}
