//! The directory people are looked up in, as configured (`[directory]`): the lab's people,
//! Active Directory over LDAP ([`ldap`]), or the Lync and Exchange cmdlets through the
//! executor ([`powershell`]).

pub mod ldap;
pub mod powershell;

use std::sync::Arc;

use app::ssr::directory::Directory;

use crate::config::{Config, DirectorySource, ExecutorKind};

/// The configured directory; `None` when the source is the lab but plans are not made against
/// it (its people would not be the organization's). Fails when a file the LDAP source needs
/// cannot be read, naming its key.
pub fn open(
    config: &Config,
    db: &sea_orm::DatabaseConnection,
) -> anyhow::Result<Option<Arc<dyn Directory>>> {
    Ok(match config.directory.source {
        DirectorySource::Lab => (config.environment.facts_file.is_none()
            && config.executor.kind == ExecutorKind::Lab)
            .then(|| Arc::new(crate::lab::store::LabStore::new(db.clone())) as _),
        DirectorySource::Ldap => Some(Arc::new(ldap::LdapDirectory::new(&config.directory.ldap)?)),
        DirectorySource::PowerShell => Some(Arc::new(powershell::PowerShellDirectory::new(
            crate::executor::Executor::new(
                &config.executor,
                crate::lab::store::LabStore::new(db.clone()),
            ),
        ))),
    })
}
