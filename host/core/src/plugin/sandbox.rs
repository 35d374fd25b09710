//! The state each plugin instance sees: a WASI context with nothing in it, clocks frozen at
//! the run's start, seeded randomness, a memory cap, and a bounded log.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::sluice::plugin::{host, types};

/// Longest log line kept; longer ones are cut.
const LOG_LINE_BYTES: usize = 4096;

pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub memory: MemoryLimiter,
    pub log: BoundedLog,
}

impl HostState {
    /// `run_time_micros` is what the plugin's wall clock reads, always; `seed` seeds every
    /// random source it can reach.
    pub fn new(run_time_micros: i64, seed: u64, memory_bytes: usize, log: BoundedLog) -> Self {
        let wasi = WasiCtx::builder()
            .wall_clock(FrozenWallClock(Duration::from_micros(
                run_time_micros.max(0) as u64,
            )))
            .monotonic_clock(FrozenMonotonicClock)
            .secure_random(StdRng::seed_from_u64(seed))
            .insecure_random(StdRng::seed_from_u64(seed.rotate_left(17)))
            .insecure_random_seed(u128::from(seed))
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryLimiter::new(memory_bytes),
            log,
        }
    }
}

/// Core instances one plugin may create. A Rust component has one or two; a CPython
/// component (componentize-py) links libc, libpython and its extension modules as
/// separate core instances, about a dozen.
const MAX_INSTANCES: usize = 64;

/// Caps a plugin's linear memory, summed over all its memories (a component made of
/// several core modules has several), and remembers the most it held.
pub(crate) struct MemoryLimiter {
    cap: usize,
    total: usize,
    pub peak: usize,
}

impl MemoryLimiter {
    fn new(cap: usize) -> Self {
        MemoryLimiter {
            cap,
            total: 0,
            peak: 0,
        }
    }
}

/// The error a memory growth past the cap traps with; recognised by `limits::classify`.
#[derive(Debug)]
pub(crate) struct MemoryCapHit {
    pub desired: usize,
    pub cap: usize,
}

impl std::fmt::Display for MemoryCapHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "memory growth to {} bytes refused: the cap is {} bytes",
            self.desired, self.cap
        )
    }
}

impl std::error::Error for MemoryCapHit {}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total - current.min(self.total) + desired;
        if total > self.cap {
            // An error (rather than `Ok(false)`) traps at once instead of letting the guest
            // see a failed `memory.grow` and abort in a way that looks like a bug.
            return Err(wasmtime::Error::new(MemoryCapHit {
                desired: total,
                cap: self.cap,
            }));
        }
        self.total = total;
        self.peak = self.peak.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_INSTANCES
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
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
    /// The latest error-level line, kept even past the limit: it explains a trap.
    pub last_error: Option<String>,
}

impl BoundedLog {
    pub fn new(label: String, max_lines: u32) -> Self {
        BoundedLog {
            label,
            max_lines,
            kept: 0,
            dropped: 0,
            last_error: None,
        }
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: types::LogLevel, mut message: String) {
        let log = &mut self.log;
        if level == types::LogLevel::Error {
            log.last_error = Some(message.chars().take(LOG_LINE_BYTES).collect());
        }
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
            message.push('…');
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
