//! The lab as the portal uses it: its state kept in the database (one row), read and written in
//! a transaction per action.

use chrono::Utc;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QuerySelect, Set, sea_query::OnConflict,
};

use super::LabState;
use app::procedure::facts::Facts;
use app::ssr::db::begin_write;
use app::ssr::directory::{self, Directory, DirectoryError, Pages, Record, Source};
use app::ssr::entities::lab_state;
use app::ssr::lab::{Lab, LabError, Pending};
use app::views::{LabBackend, LabSignIn, LabView, PersonEntry};

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

/// The stored state could not be read or written.
fn err(e: impl std::fmt::Display) -> LabError {
    LabError::Storage(e.to_string())
}

impl LabStore {
    pub fn new(db: DatabaseConnection) -> Self {
        LabStore { db }
    }

    /// A copy of the stored organization (the default scenario when nothing is stored yet).
    pub async fn snapshot(&self) -> Result<LabState, LabError> {
        Ok(Self::load(&self.db).await?.1)
    }

    /// The stored state; the default scenario when nothing is stored yet.
    async fn load<C: sea_orm::ConnectionTrait>(db: &C) -> Result<(String, LabState), LabError> {
        match lab_state::Entity::find_by_id(1)
            .one(db)
            .await
            .map_err(err)?
        {
            Some(row) => Self::parse(row),
            None => Ok((DEFAULT_SCENARIO.to_string(), Self::default_state()?)),
        }
    }

    fn parse(row: lab_state::Model) -> Result<(String, LabState), LabError> {
        Ok((
            row.scenario,
            serde_json::from_str(&row.state_json).map_err(err)?,
        ))
    }

    fn default_state() -> Result<LabState, LabError> {
        LabState::scenario(DEFAULT_SCENARIO)
            .ok_or_else(|| LabError::UnknownScenario(DEFAULT_SCENARIO.to_string()))
    }

    /// The stored state, locked by `txn` until it ends (the row is created from the default
    /// scenario the first time), so concurrent changes apply one after the other and none is
    /// lost. SQLite's write transactions are serialized already.
    async fn load_locked(txn: &DatabaseTransaction) -> Result<(String, LabState), LabError> {
        let postgres = txn.get_database_backend() == DatabaseBackend::Postgres;
        let locked = || {
            let query = lab_state::Entity::find_by_id(1);
            if postgres {
                query.lock_exclusive()
            } else {
                query
            }
        };
        if let Some(row) = locked().one(txn).await.map_err(err)? {
            return Self::parse(row);
        }
        lab_state::Entity::insert(Self::row(DEFAULT_SCENARIO, &Self::default_state()?)?)
            .on_conflict_do_nothing()
            .exec(txn)
            .await
            .map_err(err)?;
        let row = locked()
            .one(txn)
            .await
            .map_err(err)?
            .ok_or_else(|| err("the lab state vanished"))?;
        Self::parse(row)
    }

    fn row(scenario: &str, state: &LabState) -> Result<lab_state::ActiveModel, LabError> {
        Ok(lab_state::ActiveModel {
            id: Set(1),
            scenario: Set(scenario.to_string()),
            state_json: Set(serde_json::to_string(state).map_err(err)?),
            updated_at: Set(Utc::now()),
        })
    }

    /// Stores `state` (`INSERT … ON CONFLICT DO UPDATE`).
    async fn save<C: sea_orm::ConnectionTrait>(
        db: &C,
        scenario: &str,
        state: &LabState,
    ) -> Result<(), LabError> {
        lab_state::Entity::insert(Self::row(scenario, state)?)
            .on_conflict(
                OnConflict::column(lab_state::Column::Id)
                    .update_columns([
                        lab_state::Column::Scenario,
                        lab_state::Column::StateJson,
                        lab_state::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await
            .map_err(err)?;
        Ok(())
    }

    /// Loads, changes and saves the state inside `txn`; what `f` refuses is refused.
    async fn change_in<T>(
        txn: &DatabaseTransaction,
        f: impl FnOnce(&mut LabState) -> Result<T, String>,
    ) -> Result<T, LabError> {
        let (scenario, mut state) = Self::load_locked(txn).await?;
        let out = f(&mut state).map_err(LabError::Refused)?;
        Self::save(txn, &scenario, &state).await?;
        Ok(out)
    }

    /// Loads, changes and saves the state in a write transaction of its own.
    async fn change<T>(
        &self,
        f: impl FnOnce(&mut LabState) -> Result<T, String>,
    ) -> Result<T, LabError> {
        let txn = begin_write(&self.db).await.map_err(err)?;
        let out = Self::change_in(&txn, f).await?;
        txn.commit().await.map_err(err)?;
        Ok(out)
    }
}

fn view(scenario: String, state: &mut LabState, tried: Option<&str>) -> LabView {
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
        tried: None,
        users: state.users.len(),
    };
    // What a sign-in would show, without recording it (the page only looks).
    let mut preview = state.clone();
    out.people = PEOPLE
        .iter()
        .map(|upn| sign_in_view(preview.owa_sign_in(upn, Utc::now())))
        .collect();
    out.tried = tried.map(|upn| sign_in_view(preview.owa_sign_in(upn, Utc::now())));
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
pub struct LabRun {
    pub output: String,
    /// The terminating error, or the first error, if any.
    pub failure: Option<String>,
}

impl LabStore {
    /// Runs `script` against the stored lab and keeps what it changed.
    pub async fn run_script(&self, script: &str) -> Result<LabRun, LabError> {
        self.change(|state| {
            let outcome = super::interpreter::Interpreter::new(state).run(script);
            Ok(LabRun {
                output: super::value::format_output(&outcome.output),
                failure: outcome.failure.or_else(|| outcome.errors.first().cloned()),
            })
        })
        .await
    }
}

impl Directory for LabStore {
    fn source(&self) -> Source {
        Source::Lab
    }

    fn search<'a>(
        &'a self,
        prefix: &'a str,
        limit: usize,
    ) -> directory::Pending<'a, Vec<PersonEntry>> {
        Box::pin(async move {
            let (_, state) = Self::load(&self.db).await.map_err(unreadable)?;
            Ok(state
                .users
                .iter()
                .filter(|u| u.starts_with(prefix))
                .take(limit)
                .map(|u| u.entry())
                .collect())
        })
    }

    fn find<'a>(&'a self, identity: &'a str) -> directory::Pending<'a, Record> {
        Box::pin(async move {
            let (_, state) = Self::load(&self.db).await.map_err(unreadable)?;
            let found: Vec<&super::directory::User> =
                state.users.iter().filter(|u| u.is(identity)).collect();
            match found.as_slice() {
                [] => Err(DirectoryError::NotFound(identity.to_string())),
                [one] => Ok(one.record(&state.databases)),
                many => Err(DirectoryError::Ambiguous {
                    query: identity.to_string(),
                    matches: many.iter().map(|u| u.upn.clone()).collect(),
                }),
            }
        })
    }

    fn people<'a>(
        &'a self,
        base: Option<&'a str>,
        size: usize,
    ) -> directory::Pending<'a, Box<dyn Pages + 'a>> {
        Box::pin(async move {
            let (_, state) = Self::load(&self.db).await.map_err(unreadable)?;
            let base = base.map(|b| format!(",{}", b.trim()).to_lowercase());
            let records: Vec<Record> = state
                .users
                .iter()
                .filter(|u| {
                    base.as_ref()
                        .is_none_or(|b| u.dn().to_lowercase().ends_with(b.as_str()))
                })
                .map(|u| u.record(&state.databases))
                .collect();
            Ok(Box::new(Listed {
                records: records.into_iter(),
                size: size.max(1),
            }) as Box<dyn Pages>)
        })
    }
}

/// The lab's people, read once and handed out a page at a time.
struct Listed {
    records: std::vec::IntoIter<Record>,
    size: usize,
}

impl Pages for Listed {
    fn next(&mut self) -> directory::Pending<'_, Option<Vec<Record>>> {
        let page: Vec<Record> = self.records.by_ref().take(self.size).collect();
        Box::pin(async move { Ok((!page.is_empty()).then_some(page)) })
    }
}

/// The lab's stored state could not be read, so neither can its directory.
fn unreadable(e: LabError) -> DirectoryError {
    DirectoryError::Unavailable(e.to_string())
}

impl Lab for LabStore {
    fn view<'a>(&'a self, tried: Option<&'a str>) -> Pending<'a, LabView> {
        Box::pin(async move {
            let (scenario, mut state) = Self::load(&self.db).await?;
            Ok(view(scenario, &mut state, tried))
        })
    }

    fn reset<'a>(&'a self, txn: &'a DatabaseTransaction, scenario: &'a str) -> Pending<'a, ()> {
        Box::pin(async move {
            let state = LabState::scenario(scenario)
                .ok_or_else(|| LabError::UnknownScenario(scenario.to_string()))?;
            Self::save(txn, scenario, &state).await
        })
    }

    fn sign_in<'a>(&'a self, txn: &'a DatabaseTransaction, upn: &'a str) -> Pending<'a, LabSignIn> {
        Box::pin(async move {
            Self::change_in(txn, |state| {
                Ok(sign_in_view(state.owa_sign_in(upn, Utc::now())))
            })
            .await
        })
    }

    fn install_cumulative_update<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        server: &'a str,
    ) -> Pending<'a, ()> {
        Box::pin(async move {
            Self::change_in(txn, |state| state.install_cumulative_update(server)).await
        })
    }

    fn discover(&self) -> Pending<'_, Facts> {
        Box::pin(async move {
            let (_, mut state) = Self::load(&self.db).await?;
            state.discover(Utc::now()).map_err(err)
        })
    }
}
