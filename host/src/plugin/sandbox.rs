//! The state each plugin instance sees: a WASI context with nothing in it, clocks frozen at
//! the run's start, seeded randomness, a memory cap, and a bounded log.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::sluice::plugin::{host, types};

/// Longest log line kept; longer ones are cut.
const LOG_LINE_BYTES: usize = 4096;

pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limits: StoreLimits,
    pub log: BoundedLog,
}

impl HostState {
    /// `run_time_micros` is what the plugin's wall clock reads, always.
    pub fn new(run_time_micros: i64, memory_bytes: usize, log: BoundedLog) -> Self {
        let wasi = WasiCtx::builder()
            .wall_clock(FrozenWallClock(Duration::from_micros(run_time_micros.max(0) as u64)))
            .monotonic_clock(FrozenMonotonicClock)
            .secure_random(StdRng::seed_from_u64(0x5eed))
            .insecure_random(StdRng::seed_from_u64(0x5eed))
            .insecure_random_seed(0x5eed)
            .build();
        let limits = StoreLimitsBuilder::new().memory_size(memory_bytes).trap_on_grow_failure(true).instances(4).build();
        HostState { wasi, table: ResourceTable::new(), limits, log }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

struct FrozenWallClock(Duration);

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Plugin log lines, forwarded to `tracing` up to a limit and counted past it.
pub(crate) struct BoundedLog {
    pub label: String,
    pub max_lines: u32,
    pub kept: u32,
    pub dropped: u64,
}

impl BoundedLog {
    pub fn new(label: String, max_lines: u32) -> Self {
        BoundedLog { label, max_lines, kept: 0, dropped: 0 }
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: types::LogLevel, mut message: String) {
        let log = &mut self.log;
        if log.kept >= log.max_lines {
            log.dropped += 1;
            return;
        }
        log.kept += 1;
        if message.len() > LOG_LINE_BYTES {
            let mut cut = LOG_LINE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("…");
        }
        let plugin = log.label.as_str();
        match level {
            types::LogLevel::Trace => tracing::trace!(plugin, "{message}"),
            types::LogLevel::Debug => tracing::debug!(plugin, "{message}"),
            types::LogLevel::Info => tracing::info!(plugin, "{message}"),
            types::LogLevel::Warn => tracing::warn!(plugin, "{message}"),
            types::LogLevel::Error => tracing::error!(plugin, "{message}"),
        }
    }
}
