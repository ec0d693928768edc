//! The lab kept in a file (`imlink lab-shell`, `imlink lab`): one change at a time per file
//! (a lock beside it), written aside and renamed into place so a crash never leaves half a
//! state.

use std::path::Path;

use super::{LabState, SCENARIOS};

/// The lab state in `path`, or a new one from `scenario` when the file does not exist.
pub fn load(path: &Path, scenario: &str) -> Result<LabState, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<LabState>(&text)
            .map_err(|e| format!("{} is not a lab state: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => LabState::scenario(scenario)
            .ok_or_else(|| {
                format!(
                    "unknown scenario {scenario:?}; known: {}",
                    SCENARIOS.join(", ")
                )
            }),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn save(path: &Path, state: &LabState) -> Result<(), String> {
    let text = serde_json::to_string(state).map_err(|e| e.to_string())?;
    // Written aside and renamed into place, so a crash never leaves half a state.
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| format!("cannot save the state to {}: {e}", path.display()))
}

/// Locks the lab state file `path` (created from `scenario` when missing) for as long as
/// `change` acts on it, then saves it, unless `change` failed.
pub fn change<T>(
    path: &Path,
    scenario: &str,
    change: impl FnOnce(&mut LabState) -> Result<T, String>,
) -> Result<T, String> {
    // One change at a time per state file, as one server runs one change at a time.
    let _lock = lock(path)?;
    let mut lab = load(path, scenario)?;
    let out = change(&mut lab)?;
    save(path, &lab)?;
    Ok(out)
}

/// Holds `<state>.lock` exclusively until dropped.
fn lock(state_path: &Path) -> Result<std::fs::File, String> {
    let mut name = state_path.as_os_str().to_owned();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)
        .map_err(|e| format!("cannot open {}: {e}", Path::new(&name).display()))?;
    file.lock()
        .map_err(|e| format!("cannot lock {}: {e}", Path::new(&name).display()))?;
    Ok(file)
}
