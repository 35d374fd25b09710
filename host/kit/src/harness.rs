//! Runs a plugin over in-memory batches, the way `sluice run` would, and collects what it
//! emits.

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use sluice_core::plugin::{
    ipc, LoadedPlugin, PluginEngine, PluginError, PluginInfo, RunContext, Session, SessionLimits,
};

/// One input: its schema and the batches to push (possibly none).
#[derive(Clone)]
pub(crate) struct InputData {
    pub name: String,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl InputData {
    /// The same rows cut into batches of at most `rows` rows.
    pub fn rebatched(&self, rows: usize) -> InputData {
        let whole = concat_batches(&self.schema, &self.batches).expect("batches share the schema");
        InputData {
            batches: split(&whole, rows),
            ..self.clone()
        }
    }
}

/// What one run produced.
pub(crate) struct RunOutput {
    /// Each output's batches concatenated, in `describe` order.
    pub outputs: Vec<(String, RecordBatch)>,
    /// (input, row of that input counted across batches, reason).
    pub rejects: Vec<(String, u64, String)>,
    pub rows_in: u64,
    pub fuel: u64,
    pub peak_memory: usize,
    pub logs_dropped: u64,
}

impl RunOutput {
    /// Arrow IPC bytes of every output and the rejects: equal bytes, equal results.
    pub fn fingerprint(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (name, batch) in &self.outputs {
            bytes.extend(name.as_bytes());
            bytes.extend(ipc::encode_batch(batch).expect("plugin output encodes"));
        }
        for (input, row, reason) in &self.rejects {
            bytes.extend(format!("{input}:{row}:{reason}\n").as_bytes());
        }
        bytes
    }
}

impl RunOutput {
    /// The outputs of runs over consecutive pieces of one input, as one run's: batches
    /// concatenated in order, reject rows counted from the start of the whole input.
    /// `parts` holds (rows before the piece, the piece's output); it is not empty.
    pub fn joined(parts: Vec<(u64, RunOutput)>) -> RunOutput {
        let first = &parts[0].1;
        let outputs = (0..first.outputs.len())
            .map(|i| {
                let (name, batch) = &first.outputs[i];
                let pieces: Vec<&RecordBatch> =
                    parts.iter().map(|(_, p)| &p.outputs[i].1).collect();
                (
                    name.clone(),
                    concat_batches(&batch.schema(), pieces).expect("one session's schemas"),
                )
            })
            .collect();
        let rejects = parts
            .iter()
            .flat_map(|(offset, p)| {
                p.rejects
                    .iter()
                    .map(move |(i, row, r)| (i.clone(), offset + row, r.clone()))
            })
            .collect();
        RunOutput {
            outputs,
            rejects,
            rows_in: parts.iter().map(|(_, p)| p.rows_in).sum(),
            fuel: parts.iter().map(|(_, p)| p.fuel).sum(),
            peak_memory: parts.iter().map(|(_, p)| p.peak_memory).max().unwrap_or(0),
            logs_dropped: parts.iter().map(|(_, p)| p.logs_dropped).sum(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Harness<'a> {
    pub engine: &'a PluginEngine,
    pub plugin: &'a LoadedPlugin,
    pub info: &'a PluginInfo,
    pub config: String,
    pub limits: SessionLimits,
}

impl Harness<'_> {
    /// One session over `inputs`, with the given run context and random seed.
    pub fn run(
        &self,
        inputs: &[InputData],
        context: &RunContext,
        seed: u64,
    ) -> Result<RunOutput, PluginError> {
        self.run_on(inputs, context, seed, 1)
    }

    /// Like [`Harness::run`] on `instances` sessions, as `sluice run` pools a stateless
    /// plugin: batch `k` goes to session `k % instances`, each batch's output is kept in
    /// batch order, and the sessions finish in order.
    pub fn run_on(
        &self,
        inputs: &[InputData],
        context: &RunContext,
        seed: u64,
        instances: usize,
    ) -> Result<RunOutput, PluginError> {
        let schemas: Vec<_> = inputs
            .iter()
            .map(|i| (i.name.clone(), i.schema.clone()))
            .collect();
        let limits = SessionLimits {
            random_seed: seed,
            ..self.limits.clone()
        };
        let mut sessions = (0..instances.max(1))
            .map(|_| {
                Session::open(
                    self.engine,
                    self.plugin,
                    self.info,
                    &self.config,
                    &schemas,
                    context,
                    &limits,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut collected: Vec<Vec<RecordBatch>> = vec![Vec::new(); sessions[0].outputs().len()];
        let (rejects, rows_in) = push_all(&mut sessions, inputs, &mut collected)?;
        for session in &mut sessions {
            loop {
                let emitted = session.finish()?;
                for (index, out) in emitted.batches {
                    collected[index].push(out);
                }
                if !emitted.more {
                    break;
                }
            }
        }
        let outputs = sessions[0]
            .outputs()
            .iter()
            .zip(collected)
            .map(|((name, schema), batches)| {
                let batch =
                    concat_batches(schema, &batches).expect("batches share the checked schema");
                (name.clone(), batch)
            })
            .collect();
        Ok(RunOutput {
            outputs,
            rejects,
            rows_in,
            fuel: sessions.iter().map(Session::fuel_used).sum(),
            peak_memory: sessions.iter().map(Session::peak_memory).sum(),
            logs_dropped: sessions.iter().map(Session::logs_dropped).sum(),
        })
    }
}

/// `batch` cut into pieces of at most `rows` rows (one empty piece for an empty batch).
fn split(batch: &RecordBatch, rows: usize) -> Vec<RecordBatch> {
    if batch.num_rows() == 0 {
        return vec![batch.clone()];
    }
    (0..batch.num_rows())
        .step_by(rows)
        .map(|start| batch.slice(start, rows.min(batch.num_rows() - start)))
        .collect()
}

/// Every input batch pushed; the rejects (input, row, reason) and the rows pushed.
type Pushed = (Vec<(String, u64, String)>, u64);

/// Batch `k` of all goes to session `k % sessions`.
fn push_all(
    sessions: &mut [Session],
    inputs: &[InputData],
    collected: &mut [Vec<RecordBatch>],
) -> Result<Pushed, PluginError> {
    let mut rejects = Vec::new();
    let mut rows_in = 0;
    let mut pushed = 0;
    for InputData { name, batches, .. } in inputs {
        let mut offset = 0u64;
        for batch in batches {
            let session = &mut sessions[pushed % sessions.len()];
            pushed += 1;
            let emitted = session.push(name, batch)?;
            let located = emitted
                .rejects
                .into_iter()
                .map(|r| (name.clone(), offset + r.row, r.reason));
            rejects.extend(located);
            for (index, out) in emitted.batches {
                collected[index].push(out);
            }
            offset += batch.num_rows() as u64;
        }
        rows_in += offset;
    }
    Ok((rejects, rows_in))
}
