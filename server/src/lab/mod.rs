//! The lab: a simulated Lync Server 2013 and Exchange 2013 organization that runs the
//! PowerShell imlink emits, through a real parser, and answers the way the servers do.
//!
//! So far it models the Lync side: sites, pools, trusted application pools and applications,
//! with changes pending until `Enable-CsTopology` publishes them.

pub mod interpreter;
pub mod lync;
pub mod value;

use serde::{Deserialize, Serialize};

use interpreter::{Host, Invocation, PsError};
use value::Value;

/// The whole simulated organization; serializable so a lab survives restarts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LabState {
    pub lync: lync::LyncState,
}

/// Named scenarios: the article's organization and variants with one thing changed.
pub const SCENARIOS: &[&str] = &["litware", "site-id-differs"];

impl LabState {
    /// The state of scenario `name`, built deterministically.
    pub fn scenario(name: &str) -> Option<LabState> {
        let mut lync = lync::LyncState::litware();
        match name {
            "litware" => {}
            "site-id-differs" => lync.sites[0].site_id = "1".into(),
            _ => return None,
        }
        Some(LabState { lync })
    }
}

impl Host for LabState {
    fn invoke(&mut self, call: Invocation) -> Result<Vec<Value>, PsError> {
        match self.lync.invoke(&call) {
            Some(result) => result,
            None => Err(PsError::terminating(format!(
                "The term '{}' is not recognized as the name of a cmdlet, function, script file, or operable program.",
                call.name
            ))),
        }
    }
}
