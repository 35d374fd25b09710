//! One plugin instance running one table: describe, open, push, finish, with every call
//! under a deadline and every emitted batch checked against the declared output schema.

use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use wasmtime::component::ResourceAny;
use wasmtime::Store;

use super::bindings::sluice::plugin::types as witty;
use super::guest::{Guest, OutputData, RawEmitted, Refused};
use super::in_host::InHost;
use super::limits::{classify, deadline_ticks, Stop};
use super::sandbox::{BoundedLog, HostState};
use super::{LoadedPlugin, PluginEngine, PluginError, CONTRACT_VERSION};

/// What the plugin says about itself (`describe`), decoded.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub contract_version: String,
    pub inputs: Vec<InputInfo>,
    pub outputs: Vec<OutputInfo>,
    pub stateful: bool,
}

#[derive(Debug, Clone)]
pub struct InputInfo {
    pub name: String,
    pub description: String,
    pub required: SchemaRef,
    pub extra_columns: bool,
}

#[derive(Debug, Clone)]
pub struct OutputInfo {
    pub name: String,
    pub description: String,
    pub schema: Option<SchemaRef>,
}

/// Facts the host gives the plugin instead of clocks and the environment.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub run_id: String,
    pub run_time_micros: i64,
    pub table: String,
    pub params: Vec<(String, String)>,
}

/// What one session may use; exceeding any of it fails the table with a `Limit` error.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Wall-clock time of one call.
    pub call_timeout: Duration,
    /// Fuel (roughly, wasm instructions) of one call; needs an engine with fuel on.
    pub fuel_per_call: Option<u64>,
    pub memory_bytes: usize,
    /// Arrow IPC bytes one call may return.
    pub output_bytes_per_call: usize,
    pub log_lines: u32,
    /// Seeds the plugin's random sources (fixed in production runs so output is reproducible).
    pub random_seed: u64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits::from(&super::Limits::default())
    }
}

/// A row the plugin rejected, by index in the batch that was pushed.
#[derive(Debug, Clone)]
pub struct Reject {
    pub row: u64,
    pub column: Option<String>,
    pub reason: String,
}

/// What one push or finish produced: batches by output index, and rejects.
#[derive(Debug, Default)]
pub struct Emitted {
    pub batches: Vec<(usize, RecordBatch)>,
    pub rejects: Vec<Reject>,
    /// After `finish`: call `finish` again for more output.
    pub more: bool,
}

/// An open session of one plugin instance.
pub struct Session {
    store: Store<HostState>,
    guest: Guest,
    handle: ResourceAny,
    label: String,
    outputs: Vec<(String, SchemaRef)>,
    limits: SessionLimits,
    fuel: bool,
    fuel_used: u64,
    /// Wall time spent inside plugin calls.
    call_time: Duration,
    /// The plugin's named counters, summed over the session.
    counters: std::collections::BTreeMap<String, u64>,
    /// Batches pushed so far, by input, to name the batch a failure happened in.
    pushed: Vec<(String, u64)>,
    /// Set when the host takes the pushed batches itself (see [`Session::take_batches`]).
    in_host: Option<InHost>,
}

impl Session {
    /// Asks a plugin what it is, in a throwaway instance.
    pub fn describe(
        engine: &PluginEngine,
        plugin: &LoadedPlugin,
    ) -> Result<PluginInfo, PluginError> {
        let limits = SessionLimits::default();
        let (mut store, guest) = instantiate(engine, plugin, &plugin.reference, 0, &limits)?;
        arm(&mut store, &limits, engine.fuel());
        let info = guest
            .describe(&mut store)
            .map_err(|e| {
                explained(
                    &mut store,
                    stopped(&plugin.reference, "describe", &e, &limits),
                )
            })?
            .map_err(|message| PluginError::Protocol {
                plugin: plugin.reference.clone(),
                message,
            })?;
        check_info(&plugin.reference, info)
    }

    /// Instantiates the plugin and opens a session with the actual input schemas.
    pub fn open(
        engine: &PluginEngine,
        plugin: &LoadedPlugin,
        info: &PluginInfo,
        config_json: &str,
        inputs: &[(String, SchemaRef)],
        context: &RunContext,
        limits: &SessionLimits,
    ) -> Result<Session, PluginError> {
        let label = format!("{} {}", info.name, info.version);
        let (mut store, guest) =
            instantiate(engine, plugin, &label, context.run_time_micros, limits)?;
        let wit_context = witty::RunContext {
            run_id: context.run_id.clone(),
            run_time_micros: context.run_time_micros,
            table: context.table.clone(),
            params: context.params.clone(),
        };
        let fuel = engine.fuel();
        arm(&mut store, limits, fuel);
        let opened = guest.open(&mut store, config_json, inputs, &wit_context);
        let fuel_used = spent(&store, limits, fuel);
        let handle = opened
            .map_err(|e| explained(&mut store, stopped(&label, "open", &e, limits)))?
            .map_err(|e| typed(&label, e))?;
        let mut session = Session {
            store,
            guest,
            handle,
            label,
            outputs: Vec::new(),
            limits: limits.clone(),
            fuel,
            fuel_used,
            call_time: Duration::ZERO,
            counters: Default::default(),
            pushed: Vec::new(),
            in_host: None,
        };
        session.outputs = session.read_output_schemas(info)?;
        Ok(session)
    }

    /// The schema of every output, in the order `describe` lists them.
    pub fn outputs(&self) -> &[(String, SchemaRef)] {
        &self.outputs
    }

    /// The plugin's name and version, as errors name it.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Lets the host take the pushed batches itself when the plugin is the bundled
    /// `passthrough` (see [`super::in_host`]); other plugins stay in the sandbox. Tables do
    /// this; the conformance kit does not, since it proves the component.
    pub fn take_batches(
        &mut self,
        plugin: &LoadedPlugin,
        config_json: &str,
        inputs: &[(String, SchemaRef)],
    ) {
        if !plugin.batches_in_host() {
            return;
        }
        let ([(_, input)], [(_, output)]) = (inputs, &self.outputs[..]) else {
            return;
        };
        self.in_host = InHost::passthrough(config_json, input, output);
        if self.in_host.is_none() {
            tracing::warn!(plugin = %self.label, "passthrough stays in the sandbox: its declared schema is not its selection");
        }
    }

    pub fn push(&mut self, input: &str, batch: &RecordBatch) -> Result<Emitted, PluginError> {
        if let Some(in_host) = &self.in_host {
            let batch = in_host
                .push(batch)
                .map_err(|e| self.protocol(format!("taking the batch in the host: {e}")))?;
            return Ok(Emitted {
                batches: vec![(0, batch)],
                ..Emitted::default()
            });
        }
        let payload = self
            .guest
            .encode(batch)
            .map_err(|e| self.protocol(format!("encoding input batch: {e}")))?;
        let call = format!(
            "push of batch {} of input `{input}`",
            self.next_batch(input)
        );
        let result = self.call(&call, |store, guest, session| {
            guest.push(store, session, input, payload)
        })?;
        self.accept(&call, result.map_err(|e| typed(&self.label, e))?, true)
    }

    /// The plugin's named counters, summed over the session so far.
    pub fn counters(&self) -> &std::collections::BTreeMap<String, u64> {
        &self.counters
    }

    /// Ends the input. Call again while the result says `more`.
    pub fn finish(&mut self) -> Result<Emitted, PluginError> {
        let result = self.call("finish", |store, guest, session| {
            guest.finish(store, session)
        })?;
        let emitted = self.accept("finish", result.map_err(|e| typed(&self.label, e))?, false)?;
        if emitted.more && emitted.batches.is_empty() {
            return Err(self.protocol("finish asked to be called again but emitted nothing".into()));
        }
        Ok(emitted)
    }

    /// Log lines the plugin sent past its limit.
    pub fn logs_dropped(&self) -> u64 {
        self.store.data().log.dropped
    }

    /// The most linear memory the plugin has grown to, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.store.data().memory.peak
    }

    /// Wall time spent inside plugin calls so far (IPC encoding excluded).
    pub fn call_time(&self) -> Duration {
        self.call_time
    }

    /// Fuel spent by all calls so far (0 when the engine does not count fuel).
    pub fn fuel_used(&self) -> u64 {
        self.fuel_used
    }

    /// 1-based number of the batch about to be pushed to `input`.
    fn next_batch(&mut self, input: &str) -> u64 {
        match self.pushed.iter_mut().find(|(name, _)| name == input) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.pushed.push((input.to_string(), 1));
                1
            }
        }
    }

    /// Runs one export call under the session's deadline and fuel budget.
    fn call<R>(
        &mut self,
        call: &str,
        f: impl FnOnce(&mut Store<HostState>, &Guest, ResourceAny) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        arm(&mut self.store, &self.limits, self.fuel);
        let started = std::time::Instant::now();
        let result = f(&mut self.store, &self.guest, self.handle);
        self.call_time += started.elapsed();
        self.fuel_used += spent(&self.store, &self.limits, self.fuel);
        result.map_err(|e| {
            explained(
                &mut self.store,
                stopped(&self.label, call, &e, &self.limits),
            )
        })
    }

    fn read_output_schemas(
        &mut self,
        info: &PluginInfo,
    ) -> Result<Vec<(String, SchemaRef)>, PluginError> {
        let declared = self.call("output-schemas", |store, guest, session| {
            guest.output_schemas(store, session)
        })?;
        let mut outputs = Vec::with_capacity(info.outputs.len());
        for spec in &info.outputs {
            let Some((_, schema)) = declared.iter().find(|(name, _)| *name == spec.name) else {
                return Err(self.protocol(format!("output-schemas lacks output `{}`", spec.name)));
            };
            let schema = schema
                .clone()
                .map_err(|e| self.protocol(format!("output `{}`: {e}", spec.name)))?;
            if let Some(fixed) = &spec.schema {
                if let Some(diff) = schema_difference(fixed, &schema) {
                    return Err(PluginError::OutputSchema {
                        plugin: self.label.clone(),
                        output: spec.name.clone(),
                        message: format!("session schema differs from describe: {diff}"),
                    });
                }
            }
            outputs.push((spec.name.clone(), schema));
        }
        if let Some((extra, _)) = declared
            .iter()
            .find(|(name, _)| !info.outputs.iter().any(|o| o.name == *name))
        {
            return Err(self.protocol(format!(
                "output-schemas names output `{extra}`, which describe does not list"
            )));
        }
        Ok(outputs)
    }

    /// Decodes emitted batches and checks each against its output's schema.
    fn accept(
        &mut self,
        call: &str,
        emitted: RawEmitted,
        rejects_allowed: bool,
    ) -> Result<Emitted, PluginError> {
        for counter in &emitted.counters {
            *self.counters.entry(counter.name.clone()).or_default() += counter.value;
        }
        let bytes: usize = emitted.batches.iter().map(|(_, data)| data.bytes()).sum();
        if bytes > self.limits.output_bytes_per_call {
            return Err(PluginError::Limit {
                plugin: self.label.clone(),
                call: call.to_string(),
                limit: format!(
                    "output cap of {} MiB per call ({} MiB emitted)",
                    self.limits.output_bytes_per_call >> 20,
                    bytes >> 20
                ),
            });
        }
        if !rejects_allowed && !emitted.rejects.is_empty() {
            return Err(self
                .protocol("finish returned row rejects; rejects refer to a pushed batch".into()));
        }
        let mut out = Emitted {
            batches: Vec::with_capacity(emitted.batches.len()),
            rejects: Vec::new(),
            more: emitted.more,
        };
        for (output, data) in emitted.batches {
            self.accept_output(output, data, &mut out.batches)?;
        }
        out.rejects = emitted
            .rejects
            .into_iter()
            .map(|r| Reject {
                row: r.row,
                column: r.column,
                reason: r.reason,
            })
            .collect();
        Ok(out)
    }

    /// Decodes one output's emitted data and checks every batch against its schema.
    fn accept_output(
        &self,
        output: String,
        data: OutputData,
        batches: &mut Vec<(usize, RecordBatch)>,
    ) -> Result<(), PluginError> {
        let Some(index) = self.outputs.iter().position(|(n, _)| *n == output) else {
            return Err(PluginError::UnknownOutput {
                plugin: self.label.clone(),
                output,
                declared: self
                    .outputs
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let expected = &self.outputs[index].1;
        let decoded = data.decode(expected).map_err(|refused| match refused {
            Refused::Undecodable(e) => {
                self.protocol(format!("output `{output}`: undecodable batch: {e}"))
            }
            Refused::Schema(message) => PluginError::OutputSchema {
                plugin: self.label.clone(),
                output: output.clone(),
                message,
            },
        })?;
        for batch in decoded {
            if let Some(diff) = schema_difference(expected, &batch.schema()) {
                return Err(PluginError::OutputSchema {
                    plugin: self.label.clone(),
                    output,
                    message: diff,
                });
            }
            let batch =
                batch
                    .with_schema(expected.clone())
                    .map_err(|e| PluginError::OutputSchema {
                        plugin: self.label.clone(),
                        output: output.clone(),
                        message: e.to_string(),
                    })?;
            batches.push((index, batch));
        }
        Ok(())
    }

    fn protocol(&self, message: String) -> PluginError {
        PluginError::Protocol {
            plugin: self.label.clone(),
            message,
        }
    }
}

fn instantiate(
    engine: &PluginEngine,
    plugin: &LoadedPlugin,
    label: &str,
    run_time_micros: i64,
    limits: &SessionLimits,
) -> Result<(Store<HostState>, Guest), PluginError> {
    let log = BoundedLog::new(label.to_string(), limits.log_lines);
    let state = HostState::new(
        run_time_micros,
        limits.random_seed,
        limits.memory_bytes,
        log,
    );
    let mut store = Store::new(engine.engine(), state);
    store.limiter(|state| &mut state.memory);
    // What wasmtime lets one call hand back to the host (128 MiB by default) must not be
    // below the documented output cap, which `accept` enforces with a clear error. Typed
    // columns take more room lifted than their payload, hence the margin.
    store.set_hostcall_fuel(limits.output_bytes_per_call.saturating_mul(2));
    if engine.deadlines() {
        store.epoch_deadline_trap();
    }
    arm(&mut store, limits, engine.fuel());
    let guest = plugin
        .pre
        .instantiate(&mut store)
        .map_err(|e| PluginError::Instantiate {
            plugin: label.into(),
            message: format!("{e:#}"),
        })?;
    Ok((store, guest))
}

/// Adds the plugin's last error log line (a panic message, say) to a trap, whichever call
/// trapped.
fn explained(store: &mut Store<HostState>, error: PluginError) -> PluginError {
    match (error, store.data_mut().log.last_error.take()) {
        (
            PluginError::Trap {
                plugin,
                call,
                message,
            },
            Some(said),
        ) => PluginError::Trap {
            plugin,
            call,
            message: format!("{said}\n{message}"),
        },
        (error, _) => error,
    }
}

/// Sets the deadline and fuel budget for the next call.
fn arm(store: &mut Store<HostState>, limits: &SessionLimits, fuel: bool) {
    store.set_epoch_deadline(deadline_ticks(limits.call_timeout));
    if fuel {
        store
            .set_fuel(limits.fuel_per_call.unwrap_or(u64::MAX))
            .expect("the engine counts fuel");
    }
}

/// Fuel the last call spent.
fn spent(store: &Store<HostState>, limits: &SessionLimits, fuel: bool) -> u64 {
    if !fuel {
        return 0;
    }
    limits.fuel_per_call.unwrap_or(u64::MAX) - store.get_fuel().unwrap_or(0)
}

/// A call that did not return: a deadline, a budget, the memory cap, or a trap.
fn stopped(
    label: &str,
    call: &str,
    error: &wasmtime::Error,
    limits: &SessionLimits,
) -> PluginError {
    let plugin = label.to_string();
    let call = call.to_string();
    let limit = match classify(error) {
        Stop::Timeout => format!("call timeout of {} s", limits.call_timeout.as_secs_f64()),
        Stop::Fuel => format!(
            "fuel budget of {} per call",
            limits.fuel_per_call.unwrap_or(u64::MAX)
        ),
        Stop::Memory => format!("memory cap of {} MiB", limits.memory_bytes >> 20),
        Stop::Output => format!(
            "output cap of {} MiB per call",
            limits.output_bytes_per_call >> 20
        ),
        Stop::Trap(message) => {
            return PluginError::Trap {
                plugin,
                call,
                message,
            }
        }
    };
    PluginError::Limit {
        plugin,
        call,
        limit,
    }
}

fn typed(label: &str, error: witty::PluginError) -> PluginError {
    let plugin = label.to_string();
    match error {
        witty::PluginError::Config(message) => PluginError::Config { plugin, message },
        witty::PluginError::Schema(message) => PluginError::Schema { plugin, message },
        witty::PluginError::Data(d) => PluginError::Data {
            plugin,
            input: d.input,
            row: d.row,
            column: d.column,
            at: String::new(),
            message: d.message,
        },
        witty::PluginError::Internal(message) => PluginError::Internal { plugin, message },
    }
}

/// Why two schemas differ (names, types, nullability; metadata is ignored), if they do.
pub(crate) fn schema_difference(expected: &SchemaRef, actual: &SchemaRef) -> Option<String> {
    let (e, a) = (expected.fields(), actual.fields());
    if e.len() != a.len() {
        let names =
            |f: &arrow::datatypes::Fields| f.iter().map(|x| x.name().clone()).collect::<Vec<_>>();
        return Some(format!(
            "expected {} columns {:?}, got {} {:?}",
            e.len(),
            names(e),
            a.len(),
            names(a)
        ));
    }
    e.iter().zip(a.iter()).enumerate().find_map(|(i, (e, a))| {
        (e.name() != a.name()
            || e.data_type() != a.data_type()
            || e.is_nullable() != a.is_nullable())
        .then(|| {
            format!(
                "column {}: expected `{}: {}{}`, got `{}: {}{}`",
                i + 1,
                e.name(),
                e.data_type(),
                if e.is_nullable() { "" } else { " NOT NULL" },
                a.name(),
                a.data_type(),
                if a.is_nullable() { "" } else { " NOT NULL" },
            )
        })
    })
}

fn check_info(label: &str, info: PluginInfo) -> Result<PluginInfo, PluginError> {
    check_contract(label, &info.contract_version)?;
    if info.inputs.is_empty() || info.outputs.is_empty() {
        return Err(PluginError::Protocol {
            plugin: label.into(),
            message: "describe lists no inputs or no outputs".into(),
        });
    }
    Ok(info)
}

/// Same major version (same minor while the major is 0), as semver promises compatibility.
fn check_contract(label: &str, found: &str) -> Result<(), PluginError> {
    let key = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
        Some((parts.next()??, parts.next()??))
    };
    let compatible = match (key(found), key(CONTRACT_VERSION)) {
        (Some((0, fm)), Some((0, hm))) => fm == hm,
        (Some((fmaj, _)), Some((hmaj, _))) => fmaj == hmaj,
        _ => false,
    };
    if compatible {
        Ok(())
    } else {
        Err(PluginError::Contract {
            plugin: label.into(),
            found: found.into(),
            expected: CONTRACT_VERSION.into(),
        })
    }
}
