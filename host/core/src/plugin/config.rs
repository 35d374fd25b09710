//! A table's `[tables.T.limits]`: what one plugin session may use, with the defaults
//! written once, here. A plugin that exceeds a limit fails its table cleanly.

use std::time::Duration;

use serde::Deserialize;

use super::SessionLimits;

/// What one plugin session may use, as the pipeline file states it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Wall-clock seconds a single `open`, `push` or `finish` call may take.
    #[serde(default = "default_call_timeout")]
    pub call_timeout_secs: u64,
    /// Deterministic budget of one call in fuel units (about one per wasm instruction).
    /// Off by default: counting fuel costs 15-25 % of the plugin's CPU.
    pub fuel_per_call: Option<u64>,
    /// Linear memory the plugin may grow to, in MiB.
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u64,
    /// Arrow IPC bytes one call may return, in MiB.
    #[serde(default = "default_output_mib")]
    pub output_mib_per_call: u64,
    /// Log lines kept per session; the rest are counted as dropped.
    #[serde(default = "default_log_lines")]
    pub log_lines: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_timeout_secs: default_call_timeout(),
            fuel_per_call: None,
            memory_mib: default_memory_mib(),
            output_mib_per_call: default_output_mib(),
            log_lines: default_log_lines(),
        }
    }
}

impl Limits {
    /// A zero limit would fail every call (or, for fuel, trap at once): refused at load.
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("call_timeout_secs", self.call_timeout_secs),
            ("memory_mib", self.memory_mib),
            ("output_mib_per_call", self.output_mib_per_call),
            ("fuel_per_call", self.fuel_per_call.unwrap_or(1)),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        Ok(())
    }
}

fn default_output_mib() -> u64 {
    512
}

fn default_call_timeout() -> u64 {
    60
}
fn default_memory_mib() -> u64 {
    1024
}
fn default_log_lines() -> u32 {
    1000
}

impl From<&Limits> for SessionLimits {
    fn from(limits: &Limits) -> Self {
        SessionLimits {
            call_timeout: Duration::from_secs(limits.call_timeout_secs),
            fuel_per_call: limits.fuel_per_call,
            memory_bytes: (limits.memory_mib as usize) << 20,
            output_bytes_per_call: (limits.output_mib_per_call as usize) << 20,
            log_lines: limits.log_lines,
            random_seed: RANDOM_SEED,
        }
    }
}

/// Seeds every plugin's random sources, so a run's output is reproducible.
const RANDOM_SEED: u64 = 0x5eed;

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
