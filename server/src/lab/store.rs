//! The lab as the portal uses it: its state kept in the database (one row), read and written in
//! a transaction per action.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};

use super::LabState;
use app::api::models::{LabBackend, LabSignIn, LabView};
use app::domain::facts::Facts;
use app::ssr::db::begin_write;
use app::ssr::entities::lab_state;
use app::ssr::lab::{Lab, Pending};

/// The scenario a new lab starts from.
pub const DEFAULT_SCENARIO: &str = "litware";
/// How many directory users the lab page shows.
const PEOPLE: &[&str] = &[
    "user0001@litwareinc.com",
    "user0005@litwareinc.com",
    "user0010@litwareinc.com",
    "user0013@litwareinc.com",
    "user0017@litwareinc.com",
    "user0029@litwareinc.com",
];

/// The lab in the database.
#[derive(Clone)]
pub struct LabStore {
    db: DatabaseConnection,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl LabStore {
    pub fn new(db: DatabaseConnection) -> Self {
        LabStore { db }
    }

    /// The stored state, created from the default scenario the first time.
    async fn load<C: sea_orm::ConnectionTrait>(db: &C) -> Result<(String, LabState), String> {
        match lab_state::Entity::find_by_id(1)
            .one(db)
            .await
            .map_err(err)?
        {
            Some(row) => Ok((
                row.scenario,
                serde_json::from_str(&row.state_json).map_err(err)?,
            )),
            None => Ok((
                DEFAULT_SCENARIO.to_string(),
                LabState::scenario(DEFAULT_SCENARIO).ok_or("no default scenario")?,
            )),
        }
    }

    async fn save<C: sea_orm::ConnectionTrait>(
        db: &C,
        scenario: &str,
        state: &LabState,
    ) -> Result<(), String> {
        let json = serde_json::to_string(state).map_err(err)?;
        let exists = lab_state::Entity::find_by_id(1)
            .one(db)
            .await
            .map_err(err)?
            .is_some();
        let row = lab_state::ActiveModel {
            id: Set(1),
            scenario: Set(scenario.to_string()),
            state_json: Set(json),
            updated_at: Set(Utc::now()),
        };
        if exists {
            row.update(db).await.map_err(err)?;
        } else {
            row.insert(db).await.map_err(err)?;
        }
        Ok(())
    }

    /// Loads, changes and saves the state in one write transaction.
    async fn change<T>(
        &self,
        f: impl FnOnce(&mut LabState) -> Result<T, String>,
    ) -> Result<T, String> {
        let txn = begin_write(&self.db).await.map_err(err)?;
        let (scenario, mut state) = Self::load(&txn).await?;
        let out = f(&mut state)?;
        Self::save(&txn, &scenario, &state).await?;
        txn.commit().await.map_err(err)?;
        Ok(out)
    }
}

fn view(scenario: String, state: &mut LabState) -> LabView {
    let lync = &state.lync;
    let published = |fqdn: &str| lync.published.trusted_pools.iter().any(|p| p.fqdn == fqdn);
    let backends = state
        .exchange
        .backends
        .iter()
        .map(|b| {
            let setting = |key: &str| super::owa::app_setting(&b.web_config, key);
            LabBackend {
                server: b.server.clone(),
                im_certificate_thumbprint: setting("IMCertificateThumbprint"),
                im_server_name: setting("IMServerName"),
                ucma: b.ucma_dll_exists,
                recycles: b.owa_app_pool_recycles,
                event_112: b.owa_events.contains(&112),
                im_log_folder: b.im_log_folder,
            }
        })
        .collect();
    let mut out = LabView {
        scenario,
        scenarios: super::SCENARIOS.iter().map(|s| s.to_string()).collect(),
        sites: lync
            .sites
            .iter()
            .map(|s| (s.site_id.clone(), s.display_name.clone()))
            .collect(),
        pools: lync.pools.iter().map(|p| p.fqdn.clone()).collect(),
        trusted_pools: lync
            .configured
            .trusted_pools
            .iter()
            .map(|p| (p.fqdn.clone(), p.registrar.clone(), published(&p.fqdn)))
            .collect(),
        trusted_applications: lync
            .configured
            .trusted_applications
            .iter()
            .map(|a| {
                let live = lync.published.trusted_applications.contains(a);
                (a.pool_fqdn.clone(), a.application_id.clone(), a.port, live)
            })
            .collect(),
        exchange_servers: state
            .exchange
            .servers
            .iter()
            .map(|s| {
                (
                    s.fqdn.clone(),
                    s.roles.join(", "),
                    s.admin_display_version.clone(),
                )
            })
            .collect(),
        owa_virtual_directories: state
            .exchange
            .owa_virtual_directories
            .iter()
            .map(|v| {
                (
                    v.identity.clone(),
                    v.backend,
                    v.instant_messaging_enabled,
                    v.instant_messaging_type.clone(),
                )
            })
            .collect(),
        owa_mailbox_policies: state
            .exchange
            .owa_mailbox_policies
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.instant_messaging_enabled,
                    p.instant_messaging_type.clone(),
                )
            })
            .collect(),
        backends,
        people: Vec::new(),
        users: state.users.len(),
    };
    // What a sign-in would show, without recording it (the page only looks).
    let mut preview = state.clone();
    out.people = PEOPLE
        .iter()
        .map(|upn| sign_in_view(preview.owa_sign_in(upn, Utc::now())))
        .collect();
    out
}

fn sign_in_view(s: super::owa::SignIn) -> LabSignIn {
    LabSignIn {
        upn: s.upn,
        presence: s.presence,
        reasons: s.reasons,
    }
}

/// What a script run in the lab printed.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptRun {
    pub output: String,
    /// The terminating error, or the first error, if any.
    pub failure: Option<String>,
}

impl LabStore {
    /// Runs `script` against the stored lab and keeps what it changed.
    pub async fn run_script(&self, script: &str) -> Result<ScriptRun, String> {
        self.change(|state| {
            let outcome = super::interpreter::Interpreter::new(state).run(script);
            Ok(ScriptRun {
                output: super::value::format_output(&outcome.output),
                failure: outcome.failure.or_else(|| outcome.errors.first().cloned()),
            })
        })
        .await
    }
}

impl Lab for LabStore {
    fn view(&self) -> Pending<'_, LabView> {
        Box::pin(async move {
            let (scenario, mut state) = Self::load(&self.db).await?;
            Ok(view(scenario, &mut state))
        })
    }

    fn reset(&self, scenario: &str) -> Pending<'_, ()> {
        let scenario = scenario.to_string();
        Box::pin(async move {
            let state = LabState::scenario(&scenario)
                .ok_or_else(|| format!("There is no scenario “{scenario}”."))?;
            let txn = begin_write(&self.db).await.map_err(err)?;
            Self::save(&txn, &scenario, &state).await?;
            txn.commit().await.map_err(err)
        })
    }

    fn sign_in(&self, upn: &str) -> Pending<'_, LabSignIn> {
        let upn = upn.to_string();
        Box::pin(async move {
            self.change(|state| Ok(sign_in_view(state.owa_sign_in(&upn, Utc::now()))))
                .await
        })
    }

    fn install_cumulative_update(&self, server: &str) -> Pending<'_, ()> {
        let server = server.to_string();
        Box::pin(async move {
            self.change(|state| state.install_cumulative_update(&server))
                .await
        })
    }

    fn discover(&self) -> Pending<'_, Facts> {
        Box::pin(async move {
            let (_, mut state) = Self::load(&self.db).await?;
            state.discover(Utc::now()).map_err(err)
        })
    }
}
