//! The documented procedure: the environment facts the read-only probes gather, the probes
//! themselves, PowerShell text built only from typed parts, and the plan engine that decides
//! the article's command sequence against the facts. Pure, compiled on both sides.

pub mod facts;
pub mod plan;
pub mod powershell;
pub mod probes;
#[cfg(any(test, feature = "samples"))]
pub mod samples;
