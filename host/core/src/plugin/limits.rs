//! Turning runaway plugins into clean errors: a wall-clock deadline per call through epoch
//! interruption, and recognising the memory cap among traps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Engine, Trap};

use super::sandbox::MemoryCapHit;

/// How often the engine's epoch advances: the granularity of call deadlines.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// A thread that advances the engine's epoch every [`TICK`] until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sluice-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Epoch ticks that make up `timeout`.
pub(crate) fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_millis() / TICK.as_millis()).max(1) as u64
}

/// What stopped a call that returned a wasmtime error.
pub(crate) enum Stop {
    Timeout,
    Fuel,
    Memory,
    /// wasmtime refused to copy a call's result into the host: more than the hostcall fuel
    /// the session set from its output cap.
    Output,
    Trap(String),
}

pub(crate) fn classify(error: &wasmtime::Error) -> Stop {
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => return Stop::Timeout,
        Some(Trap::OutOfFuel) => return Stop::Fuel,
        _ => {}
    }
    if error.downcast_ref::<MemoryCapHit>().is_some()
        || error
            .chain()
            .any(|e| e.downcast_ref::<MemoryCapHit>().is_some())
    {
        return Stop::Memory;
    }
    let message = format!("{error:#}");
    if message.contains("fuel allocated for hostcalls has been exhausted") {
        return Stop::Output;
    }
    Stop::Trap(message)
}
