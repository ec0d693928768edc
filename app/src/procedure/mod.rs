//! The documented procedure: the environment facts the read-only probes gather, the probes
//! themselves, PowerShell text built only from typed parts, the plan engine that decides the
//! article's command sequence against the facts, and the rules of who gets IM and presence in
//! OWA. Pure, compiled on both sides.

pub mod diagnostics;
pub mod eligibility;
pub mod facts;
pub mod plan;
pub mod powershell;
pub mod probes;
#[cfg(any(test, feature = "samples"))]
pub mod samples;
