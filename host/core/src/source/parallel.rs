//! One CSV file parsed on several threads. One thread cuts the bytes into chunks of whole
//! records ([`Chunker`]); workers tokenize and type the chunks; the calling thread hands
//! the batches to the sink in file order. A chunk's rows and lines do not depend on which
//! thread parsed it, so the batches are the same as one thread's.
//!
//! Memory is bounded by credits: a chunk is cut only for a credit, and a credit comes back
//! when its batch reaches the sink, so at most `threads + 1` chunks are held anywhere (cut,
//! parsing, or parsed and waiting for an earlier one): one waiting per busy worker.

use std::collections::BTreeMap;

use arrow::record_batch::RecordBatch;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use super::chunks::{ChunkSize, Chunker};
use super::csv_reader::Typing;
use super::tokenize::Tokenizer;
use super::SourceError;

/// How a file is parsed in parallel.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    pub threads: usize,
    /// What each chunk holds: one batch.
    pub size: ChunkSize,
}

type Parsed = Result<(RecordBatch, Vec<u64>), SourceError>;

/// Reads the rest of the file; false when the sink stopped early.
pub(super) fn read_parallel(
    chunker: &mut Chunker,
    tokenizer: &Tokenizer,
    typing: &Typing,
    plan: Plan,
    sink: &mut dyn FnMut((RecordBatch, Vec<u64>)) -> bool,
) -> Result<bool, SourceError> {
    let in_flight = plan.threads + 1;
    let (credit_tx, credit_rx) = bounded(in_flight);
    for _ in 0..in_flight {
        credit_tx.send(()).expect("the receiver is here");
    }
    let (chunk_tx, chunk_rx) = unbounded();
    let (done_tx, done_rx) = unbounded::<(u64, Parsed)>();
    let width = typing.width();
    std::thread::scope(|scope| {
        let cut_done = done_tx.clone();
        scope.spawn(move || {
            for seq in 0u64.. {
                if credit_rx.recv().is_err() {
                    return;
                }
                match chunker.next(plan.size) {
                    Ok(Some(chunk)) => {
                        if chunk_tx.send((seq, chunk)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = cut_done.send((seq, Err(tokenizer.chunk_error(e))));
                        return;
                    }
                }
            }
        });
        for _ in 0..plan.threads {
            let (chunks, done) = (chunk_rx.clone(), done_tx.clone());
            scope.spawn(move || {
                for (seq, chunk) in chunks {
                    let parsed = tokenizer
                        .raw(&chunk, width)
                        .and_then(|raw| typing.to_batch(raw));
                    if done.send((seq, parsed)).is_err() {
                        return;
                    }
                }
            });
        }
        drop((chunk_rx, done_tx));
        // Returning drops the credits and the results, which stops the other threads.
        deliver(done_rx, credit_tx, sink)
    })
}

/// Hands the parsed chunks to the sink in sequence, returning a credit for each.
fn deliver(
    done: Receiver<(u64, Parsed)>,
    credits: Sender<()>,
    sink: &mut dyn FnMut((RecordBatch, Vec<u64>)) -> bool,
) -> Result<bool, SourceError> {
    let mut waiting = BTreeMap::new();
    let mut next = 0u64;
    for (seq, parsed) in done {
        waiting.insert(seq, parsed);
        while let Some(parsed) = waiting.remove(&next) {
            next += 1;
            let (batch, lines) = parsed?;
            if batch.num_rows() > 0 && !sink((batch, lines)) {
                return Ok(false);
            }
            // The chunker may be gone (the file ended); the credit is then not needed.
            let _ = credits.send(());
        }
    }
    Ok(true)
}
