//! A stateless plugin on several instances at once: batches fanned out to a pool of
//! sessions, and what each returns put back in input order, so the writer receives
//! exactly the messages one instance would have given it, and the files are the same
//! bytes for any number of instances.
//!
//! ```text
//! reader ─► dispatcher (gate, sequence number) ─► instance 1..N ─► collector (in order) ─► writer
//! ```
//!
//! The dispatcher may run ahead of the collector by a bounded number of batches (credits
//! the collector hands back as it forwards), so one slow batch can't make the others
//! pile up in memory.
//!
//! Unless `--plugin-instances` fixes the count, a table starts on one instance and adds
//! one (up to its share of the cores) each time the instances were found to hold the
//! stream back more than the input did while a core went unused. A fast plugin (the
//! Rust passthrough: ~1 ms a 64k-row batch) then never costs a second sandbox and its
//! batches in flight (~35 MB of RSS on a 10M-row shipments copy), and a slow one
//! (Python) gets every core it can use.

use std::collections::BTreeMap;

use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, SendTimeoutError, Sender, TrySendError};

use super::stream::{process, send_all, Feed, ToWriter, TransformEnd};
use crate::plugin::Session;
use crate::run::TableError;
use crate::source::SourceBatch;

/// A batch for an instance: its place in the input order and what the gate let through.
struct Job {
    seq: u64,
    input: usize,
    source: SourceBatch,
    /// Rows the quality gate rejected, which go to the writer before the batch's own.
    gate_rejects: Option<arrow::record_batch::RecordBatch>,
}

/// What an instance made of a job: the writer's messages, or the table's error.
struct Done {
    seq: u64,
    result: Result<Vec<ToWriter>, TableError>,
}

/// Batches in flight per instance (being pushed, waiting, or done but not yet in order).
const IN_FLIGHT_PER_INSTANCE: usize = 2;

/// Batches handed out between two decisions to add an instance: enough to tell a plugin
/// that holds the stream back from one that was busy once.
const BATCHES_PER_DECISION: u32 = 4;

/// How to open more instances while the stream runs, up to `max` in all.
pub(super) struct More<'a> {
    pub max: usize,
    pub open: &'a (dyn Fn() -> Result<Session, TableError> + Sync),
}

/// Runs the plugin loop over `sessions`, each on its own thread; with `more`, the
/// dispatcher adds one whenever the instances held the stream back more than the input
/// did (see [`Pressure`]). Every session, the added ones too, is in `sessions` after.
pub(super) fn transform(
    (sessions, more): (&mut Vec<Session>, Option<&More<'_>>),
    mut feed: Feed,
    rx: &Receiver<(usize, SourceBatch)>,
    tx: &Sender<ToWriter>,
) -> Result<TransformEnd, TableError> {
    let max = more.map_or(0, |m| m.max).max(sessions.len());
    let credits = max * IN_FLIGHT_PER_INSTANCE;
    let (names, sources) = (feed.names, feed.sources);
    std::thread::scope(|scope| {
        // No queue: a send waits for an idle instance, and how long it waits says
        // whether the plugin is what holds the stream back.
        let (job_tx, job_rx) = bounded::<Job>(0);
        let (done_tx, done_rx) = bounded::<Done>(credits);
        let (credit_tx, credit_rx) = bounded::<()>(credits);
        let mut threads = Threads {
            scope,
            jobs: job_rx,
            done: done_tx,
            running: Vec::new(),
            names,
            sources,
            more,
        };
        for session in sessions.drain(..) {
            threads.start(session)?;
        }
        for _ in 0..threads.running.len() * IN_FLIGHT_PER_INSTANCE {
            credit_tx.send(()).expect("room for every credit");
        }
        let collector = scope.spawn(move || collect(done_rx, credit_tx, tx));
        let hand_out = HandOut {
            jobs: &job_tx,
            credits: &credit_rx,
        };
        let dispatched = dispatch(&mut feed, rx, hand_out, &mut threads);
        drop(job_tx); // the instances finish their jobs and stop; then the collector
        let joined = threads.join(sessions);
        let collected = collector
            .join()
            .map_err(|_| TableError::Internal("plugin collector panicked".into()))?;
        joined?;
        dispatched?;
        collected
    })
}

/// The instances' threads, and what a new one needs.
struct Threads<'scope, 'env> {
    scope: &'scope std::thread::Scope<'scope, 'env>,
    jobs: Receiver<Job>,
    done: Sender<Done>,
    running: Vec<std::thread::ScopedJoinHandle<'scope, Result<Session, TableError>>>,
    names: &'env [String],
    sources: &'env [Vec<String>],
    /// How to open more, when the table may.
    more: Option<&'env More<'env>>,
}

impl<'scope, 'env> Threads<'scope, 'env> {
    /// Runs `session` on a thread of its own until the jobs end or the collector stops.
    fn start(&mut self, session: Session) -> Result<(), TableError> {
        self.spawn(move || Ok(session))
    }

    /// Opens a session on a thread of its own and runs it: opening a plugin (a Python
    /// interpreter's start) does not hold up the batches the others take meanwhile.
    fn open(
        &mut self,
        open: &'env (dyn Fn() -> Result<Session, TableError> + Sync),
    ) -> Result<(), TableError> {
        self.spawn(open)
    }

    fn spawn(
        &mut self,
        session: impl FnOnce() -> Result<Session, TableError> + Send + 'env,
    ) -> Result<(), TableError> {
        let (jobs, done) = (self.jobs.clone(), self.done.clone());
        let (names, sources) = (self.names, self.sources);
        let thread = std::thread::Builder::new()
            .name("sluice-plugin".into())
            .spawn_scoped(self.scope, move || {
                let mut session = session()?;
                for job in jobs {
                    let result = run_job(&mut session, names, sources, job);
                    if done.send(result).is_err() {
                        break;
                    }
                }
                Ok(session)
            })
            .map_err(|e| TableError::Internal(format!("spawning a plugin instance: {e}")))?;
        self.running.push(thread);
        Ok(())
    }

    fn all_stopped(&self) -> bool {
        self.running.iter().all(|thread| thread.is_finished())
    }

    /// Waits for every instance and gives its session back, in the order they started.
    fn join(self, sessions: &mut Vec<Session>) -> Result<(), TableError> {
        for thread in self.running {
            let session = thread
                .join()
                .map_err(|_| TableError::Internal("plugin instance panicked".into()))?;
            sessions.push(session?);
        }
        Ok(())
    }
}

fn run_job(session: &mut Session, names: &[String], sources: &[Vec<String>], job: Job) -> Done {
    let result = process(session, names, sources, job.input, job.source).map(|mut messages| {
        if let Some(rejects) = job.gate_rejects {
            messages.insert(0, ToWriter::Rejects(rejects));
        }
        messages
    });
    Done {
        seq: job.seq,
        result,
    }
}

/// Where the dispatcher hands jobs out, and what bounds it.
struct HandOut<'a> {
    jobs: &'a Sender<Job>,
    credits: &'a Receiver<()>,
}

/// Whether the plugin holds the stream back while a core goes unused: the time the
/// dispatcher waited with a job for an idle instance against the time it waited for the
/// next batch (waiting for a credit is the writer holding it back, which another
/// instance would not help), and the process's CPU time over the same wall time. With
/// every core busy already (a Rust plugin beside the parsers and encoders on 2 cores),
/// another instance only competes for them: shipments dates took 3.0 s on one instance
/// and 3.3 s on two.
struct Pressure {
    on_plugin: Duration,
    on_input: Duration,
    batches: u32,
    since: Instant,
    cpu_since: Option<Duration>,
}

impl Pressure {
    fn new() -> Self {
        Pressure {
            on_plugin: Duration::ZERO,
            on_input: Duration::ZERO,
            batches: 0,
            since: Instant::now(),
            cpu_since: process_cpu_time(),
        }
    }

    /// Whether enough batches went by to decide.
    fn ready(&self) -> bool {
        self.batches >= BATCHES_PER_DECISION
    }

    fn wants_more(&self) -> bool {
        self.on_plugin > self.on_input && self.core_unused()
    }

    /// At least half a core went unused since the window began (yes, when the CPU time
    /// can't be read).
    fn core_unused(&self) -> bool {
        let (Some(start), Some(now)) = (self.cpu_since, process_cpu_time()) else {
            return true;
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let wall = self.since.elapsed().as_secs_f64().max(1e-6);
        now.saturating_sub(start).as_secs_f64() / wall < cores as f64 - 0.5
    }
}

/// The CPU time of the whole process so far.
fn process_cpu_time() -> Option<Duration> {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let read = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut time) } == 0;
    let nanos = u32::try_from(time.tv_nsec).ok()?;
    read.then(|| Duration::new(u64::try_from(time.tv_sec).unwrap_or(0), nanos))
}

/// Numbers the batches, passes them through the gate and hands them out, adding an
/// instance when they wait for one; stops when the instances or the collector are gone.
fn dispatch(
    feed: &mut Feed,
    rx: &Receiver<(usize, SourceBatch)>,
    out: HandOut,
    threads: &mut Threads,
) -> Result<(), TableError> {
    let (mut pressure, mut spare_credits) = (Pressure::new(), 0usize);
    for seq in 0u64.. {
        let waited = Instant::now();
        let Ok((input, source)) = rx.recv() else {
            return Ok(());
        };
        pressure.on_input += waited.elapsed();
        if spare_credits > 0 {
            spare_credits -= 1;
        } else if out.credits.recv().is_err() {
            return Ok(()); // the collector stopped: its result says why
        }
        let passed = feed.pass(input, source)?;
        let job = Job {
            seq,
            input,
            source: passed.source,
            gate_rejects: passed.rejects,
        };
        let waited = Instant::now();
        let job = match out.jobs.try_send(job) {
            Ok(()) => None,
            Err(TrySendError::Full(job)) => Some(job),
            Err(TrySendError::Disconnected(_)) => return Ok(()),
        };
        if let Some(job) = job {
            if pressure.ready() {
                if grow(threads, &pressure)? {
                    spare_credits += IN_FLIGHT_PER_INSTANCE;
                }
                pressure = Pressure::new(); // each decision on a window of its own
            }
            if !hand_over(out.jobs, threads, job) {
                return Ok(());
            }
        }
        pressure.on_plugin += waited.elapsed();
        pressure.batches += 1;
    }
    Ok(())
}

/// Waits for an idle instance to take `job`; false when every instance has stopped (the
/// collector stopped first, or a thread failed). (The pool keeps a receiver for instances
/// it may add, so a plain send would wait forever once the instances are gone.)
fn hand_over(jobs: &Sender<Job>, threads: &Threads, mut job: Job) -> bool {
    loop {
        match jobs.send_timeout(job, Duration::from_millis(50)) {
            Ok(()) => return true,
            Err(SendTimeoutError::Timeout(again)) if !threads.all_stopped() => job = again,
            Err(_) => return false,
        }
    }
}

/// Starts one more instance, when the plugin holds the stream back and the table may
/// have more; whether it did.
fn grow(threads: &mut Threads, pressure: &Pressure) -> Result<bool, TableError> {
    let Some(more) = threads.more else {
        return Ok(false);
    };
    if threads.running.len() >= more.max {
        return Ok(false);
    }
    let (on_plugin, on_input) = (pressure.on_plugin, pressure.on_input);
    tracing::debug!(
        ?on_plugin,
        ?on_input,
        batches = pressure.batches,
        "plugin pressure"
    );
    if !pressure.wants_more() {
        return Ok(false);
    }
    threads.open(more.open)?;
    tracing::debug!(instances = threads.running.len(), "plugin instance added");
    Ok(true)
}

/// Forwards each job's messages in sequence order and returns a credit for each.
fn collect(
    done: Receiver<Done>,
    credits: Sender<()>,
    tx: &Sender<ToWriter>,
) -> Result<TransformEnd, TableError> {
    let (mut next, mut waiting, mut rejected) = (0u64, BTreeMap::new(), 0u64);
    for finished in done {
        waiting.insert(finished.seq, finished.result);
        while let Some(result) = waiting.remove(&next) {
            if !send_all(result?, tx, &mut rejected) {
                return Ok(TransformEnd::WriterGone);
            }
            next += 1;
            let _ = credits.send(());
        }
    }
    Ok(TransformEnd::InputsDone(rejected))
}
