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

use std::collections::BTreeMap;

use crossbeam_channel::{bounded, Receiver, Sender};

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

/// Runs the plugin loop over `sessions`, each on its own thread.
pub(super) fn transform(
    sessions: &mut [Session],
    mut feed: Feed,
    rx: &Receiver<(usize, SourceBatch)>,
    tx: &Sender<ToWriter>,
) -> Result<TransformEnd, TableError> {
    let credits = sessions.len() * IN_FLIGHT_PER_INSTANCE;
    let (names, sources) = (feed.names, feed.sources);
    std::thread::scope(|scope| {
        let (job_tx, job_rx) = bounded::<Job>(sessions.len());
        let (done_tx, done_rx) = bounded::<Done>(credits);
        let (credit_tx, credit_rx) = bounded::<()>(credits);
        for _ in 0..credits {
            credit_tx.send(()).expect("room for every credit");
        }
        for session in sessions.iter_mut() {
            let (jobs, done) = (job_rx.clone(), done_tx.clone());
            scope.spawn(move || {
                for job in jobs {
                    let result = process(session, names, sources, job.input, job.source).map(
                        |mut messages| {
                            if let Some(rejects) = job.gate_rejects {
                                messages.insert(0, ToWriter::Rejects(rejects));
                            }
                            messages
                        },
                    );
                    if done
                        .send(Done {
                            seq: job.seq,
                            result,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
        drop((job_rx, done_tx));
        let collector = scope.spawn(move || collect(done_rx, credit_tx, tx));
        let dispatched = dispatch(&mut feed, rx, (&job_tx, &credit_rx));
        drop(job_tx); // the instances finish their jobs and stop; then the collector
        let collected = collector
            .join()
            .map_err(|_| TableError::Internal("plugin collector panicked".into()))?;
        dispatched?;
        collected
    })
}

/// Numbers the batches, passes them through the gate and hands them out; stops when
/// the instances or the collector are gone.
fn dispatch(
    feed: &mut Feed,
    rx: &Receiver<(usize, SourceBatch)>,
    (jobs, credits): (&Sender<Job>, &Receiver<()>),
) -> Result<(), TableError> {
    for (seq, (input, source)) in (0u64..).zip(rx) {
        if credits.recv().is_err() {
            return Ok(()); // the collector stopped: its result says why
        }
        let passed = feed.pass(input, source)?;
        let job = Job {
            seq,
            input,
            source: passed.source,
            gate_rejects: passed.rejects,
        };
        if jobs.send(job).is_err() {
            return Ok(());
        }
    }
    Ok(())
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
