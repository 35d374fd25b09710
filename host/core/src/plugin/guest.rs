//! The two shapes a plugin component can take, behind one interface: the `table-plugin`
//! world (batches as Arrow IPC bytes; the Rust SDK) and the `columnar-plugin` world
//! (batches as typed columns; the Python SDK). A session speaks to either through
//! [`Guest`] and sees Arrow on both sides.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use wasmtime::component::{InstancePre, ResourceAny};
use wasmtime::Store;

use super::bindings::columnar::exports::sluice::plugin::columnar as cw;
use super::bindings::columnar::{ColumnarPlugin, ColumnarPluginPre};
use super::bindings::sluice::plugin::types as witty;
use super::bindings::{TablePlugin, TablePluginPre};
use super::sandbox::HostState;
use super::session::{InputInfo, OutputInfo, PluginInfo};
use super::{columnar, ipc, CONTRACT_VERSION};

/// A compiled plugin linked for one of the two worlds.
pub(crate) enum GuestPre {
    Ipc(TablePluginPre<HostState>),
    Columnar(ColumnarPluginPre<HostState>),
}

impl GuestPre {
    /// Finds which world the component exports; `Err` says what it exports instead.
    pub fn new(pre: InstancePre<HostState>) -> Result<Self, String> {
        let ipc_err = match TablePluginPre::new(pre.clone()) {
            Ok(p) => return Ok(GuestPre::Ipc(p)),
            Err(e) => e,
        };
        ColumnarPluginPre::new(pre).map(GuestPre::Columnar).map_err(|columnar_err| {
            format!(
                "the component exports neither `sluice:plugin/plugin@{CONTRACT_VERSION}` ({ipc_err:#}) nor \
                 `sluice:plugin/columnar@{CONTRACT_VERSION}` ({columnar_err:#})"
            )
        })
    }

    /// The world's name, as `plugin inspect` shows it.
    pub fn world(&self) -> &'static str {
        match self {
            GuestPre::Ipc(_) => "table-plugin",
            GuestPre::Columnar(_) => "columnar-plugin",
        }
    }

    pub fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Guest> {
        Ok(match self {
            GuestPre::Ipc(pre) => Guest::Ipc(pre.instantiate(store)?),
            GuestPre::Columnar(pre) => Guest::Columnar(pre.instantiate(store)?),
        })
    }
}

/// One instance of a plugin.
pub(crate) enum Guest {
    Ipc(TablePlugin),
    Columnar(ColumnarPlugin),
}

/// A batch on its way into the plugin, encoded for its world.
pub(crate) enum Payload {
    Ipc(Vec<u8>),
    Columns(cw::Batch),
}

/// A batch as the plugin returned it, decoded once the output's schema is known.
pub(crate) enum OutputData {
    Ipc(Vec<u8>),
    Columns(cw::Batch),
}

impl OutputData {
    /// About how many bytes it holds, for the per-call output cap.
    pub fn bytes(&self) -> usize {
        match self {
            OutputData::Ipc(b) => b.len(),
            OutputData::Columns(b) => columnar::payload_bytes(b),
        }
    }

    /// The record batches it holds, as `schema` (the columns carry no schema of their own).
    pub fn decode(self, schema: &SchemaRef) -> Result<Vec<RecordBatch>, Refused> {
        match self {
            OutputData::Ipc(bytes) => {
                ipc::decode_batches(bytes).map_err(|e| Refused::Undecodable(e.to_string()))
            }
            OutputData::Columns(batch) => columnar::to_record_batch(batch, schema)
                .map(|b| vec![b])
                .map_err(Refused::Schema),
        }
    }
}

/// Why an emitted batch was refused: bytes that are no batch at all (a broken contract), or
/// columns that do not fit the output's schema.
pub(crate) enum Refused {
    Undecodable(String),
    Schema(String),
}

/// What one `push` or `finish` returned, before its batches are decoded.
pub(crate) struct RawEmitted {
    pub batches: Vec<(String, OutputData)>,
    pub rejects: Vec<witty::RowReject>,
    pub counters: Vec<witty::Counter>,
    pub more: bool,
}

/// A protocol fault found while decoding what the plugin said (not a trap).
pub(crate) type Decoded<T> = Result<T, String>;

impl Guest {
    pub fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<Decoded<PluginInfo>> {
        Ok(match self {
            Guest::Ipc(p) => ipc_info(p.sluice_plugin_plugin().call_describe(store)?),
            Guest::Columnar(p) => Ok(columnar_info(
                p.sluice_plugin_columnar().call_describe(store)?,
            )),
        })
    }

    /// Encodes the actual input schemas for `open`.
    pub fn open(
        &self,
        store: &mut Store<HostState>,
        config: &str,
        inputs: &[(String, SchemaRef)],
        context: &witty::RunContext,
    ) -> wasmtime::Result<Result<ResourceAny, witty::PluginError>> {
        match self {
            Guest::Ipc(p) => {
                let inputs: Vec<witty::NamedSchema> = inputs
                    .iter()
                    .map(|(name, schema)| witty::NamedSchema {
                        name: name.clone(),
                        schema: ipc::encode_schema(schema),
                    })
                    .collect();
                p.sluice_plugin_plugin()
                    .call_open(store, config, &inputs, context)
            }
            Guest::Columnar(p) => {
                let mut named = Vec::with_capacity(inputs.len());
                for (name, schema) in inputs {
                    match columnar::to_fields(schema) {
                        Ok(fields) => named.push(cw::NamedFields {
                            name: name.clone(),
                            fields,
                        }),
                        Err(e) => {
                            return Ok(Err(witty::PluginError::Schema(format!(
                                "input `{name}`: {e}"
                            ))))
                        }
                    }
                }
                p.sluice_plugin_columnar()
                    .call_open(store, config, &named, context)
            }
        }
    }

    pub fn output_schemas(
        &self,
        store: &mut Store<HostState>,
        session: ResourceAny,
    ) -> wasmtime::Result<Vec<(String, Decoded<SchemaRef>)>> {
        Ok(match self {
            Guest::Ipc(p) => p
                .sluice_plugin_plugin()
                .session()
                .call_output_schemas(store, session)?
                .into_iter()
                .map(|n| {
                    (
                        n.name,
                        ipc::decode_schema(&n.schema)
                            .map_err(|e| format!("undecodable schema: {e}")),
                    )
                })
                .collect(),
            Guest::Columnar(p) => p
                .sluice_plugin_columnar()
                .session()
                .call_output_schemas(store, session)?
                .into_iter()
                .map(|n| (n.name, Ok(columnar::to_schema(&n.fields))))
                .collect(),
        })
    }

    /// Encodes a batch for this plugin's world (outside the call's deadline).
    pub fn encode(&self, batch: &RecordBatch) -> Result<Payload, String> {
        match self {
            Guest::Ipc(_) => ipc::encode_batch(batch)
                .map(Payload::Ipc)
                .map_err(|e| e.to_string()),
            Guest::Columnar(_) => columnar::to_columns(batch).map(Payload::Columns),
        }
    }

    pub fn push(
        &self,
        store: &mut Store<HostState>,
        session: ResourceAny,
        input: &str,
        payload: Payload,
    ) -> wasmtime::Result<Result<RawEmitted, witty::PluginError>> {
        Ok(match (self, payload) {
            (Guest::Ipc(p), Payload::Ipc(bytes)) => p
                .sluice_plugin_plugin()
                .session()
                .call_push(store, session, input, &bytes)?
                .map(from_ipc),
            (Guest::Columnar(p), Payload::Columns(batch)) => p
                .sluice_plugin_columnar()
                .session()
                .call_push(store, session, input, &batch)?
                .map(from_columnar),
            _ => unreachable!("payloads are encoded by the guest they are pushed to"),
        })
    }

    pub fn finish(
        &self,
        store: &mut Store<HostState>,
        session: ResourceAny,
    ) -> wasmtime::Result<Result<RawEmitted, witty::PluginError>> {
        Ok(match self {
            Guest::Ipc(p) => p
                .sluice_plugin_plugin()
                .session()
                .call_finish(store, session)?
                .map(from_ipc),
            Guest::Columnar(p) => p
                .sluice_plugin_columnar()
                .session()
                .call_finish(store, session)?
                .map(from_columnar),
        })
    }
}

fn from_ipc(e: witty::Emitted) -> RawEmitted {
    RawEmitted {
        batches: e
            .batches
            .into_iter()
            .map(|b| (b.output, OutputData::Ipc(b.batch)))
            .collect(),
        rejects: e.rejects,
        counters: e.counters,
        more: e.more,
    }
}

fn from_columnar(e: cw::Emitted) -> RawEmitted {
    RawEmitted {
        batches: e
            .batches
            .into_iter()
            .map(|b| (b.output, OutputData::Columns(b.batch)))
            .collect(),
        rejects: e.rejects,
        counters: e.counters,
        more: e.more,
    }
}

fn ipc_info(raw: witty::PluginInfo) -> Decoded<PluginInfo> {
    let schema = |what: &str, bytes: &[u8]| {
        ipc::decode_schema(bytes).map_err(|e| format!("describe: {what}: undecodable schema: {e}"))
    };
    let inputs = raw
        .inputs
        .iter()
        .map(|i| {
            Ok(InputInfo {
                name: i.name.clone(),
                description: i.description.clone(),
                required: schema(&format!("input `{}`", i.name), &i.required_columns)?,
                extra_columns: i.extra_columns,
            })
        })
        .collect::<Decoded<_>>()?;
    let outputs = raw
        .outputs
        .iter()
        .map(|o| {
            Ok(OutputInfo {
                name: o.name.clone(),
                description: o.description.clone(),
                schema: o
                    .schema
                    .as_ref()
                    .map(|s| schema(&format!("output `{}`", o.name), s))
                    .transpose()?,
            })
        })
        .collect::<Decoded<_>>()?;
    Ok(PluginInfo {
        inputs,
        outputs,
        name: raw.name,
        version: raw.version,
        description: raw.description,
        contract_version: raw.contract_version,
        stateful: raw.stateful,
    })
}

fn columnar_info(raw: cw::PluginInfo) -> PluginInfo {
    PluginInfo {
        inputs: raw
            .inputs
            .into_iter()
            .map(|i| InputInfo {
                required: columnar::to_schema(&i.required_columns),
                name: i.name,
                description: i.description,
                extra_columns: i.extra_columns,
            })
            .collect(),
        outputs: raw
            .outputs
            .into_iter()
            .map(|o| OutputInfo {
                schema: o.schema.as_deref().map(columnar::to_schema),
                name: o.name,
                description: o.description,
            })
            .collect(),
        name: raw.name,
        version: raw.version,
        description: raw.description,
        // The linker matched the export's versioned name: that is the contract version.
        contract_version: CONTRACT_VERSION.to_string(),
        stateful: raw.stateful,
    }
}
