//! Glue between the generated WIT bindings and the [`Plugin`] trait.

use std::cell::RefCell;
use std::marker::PhantomData;

use arrow::datatypes::SchemaRef;

use crate::bindings::exports::sluice::plugin::plugin::{Guest, GuestSession, Session};
use crate::bindings::sluice::plugin::types as wit;
use crate::{ipc, parse_config, Context, Emit, Error, Info, Plugin, Schemas, CONTRACT_VERSION};

#[doc(hidden)]
pub struct Adapter<P>(PhantomData<P>);

#[doc(hidden)]
pub struct SessionOf<P> {
    plugin: RefCell<P>,
    input_names: Vec<String>,
    /// Every output's schema for this session, in `describe` order.
    outputs: Vec<wit::NamedSchema>,
    finished: RefCell<bool>,
}

impl<P: Plugin> Guest for Adapter<P> {
    type Session = SessionOf<P>;

    fn describe() -> wit::PluginInfo {
        report_panics();
        to_wit_info(P::info())
    }

    fn open(
        config: String,
        inputs: Vec<wit::NamedSchema>,
        context: wit::RunContext,
    ) -> Result<Session, wit::PluginError> {
        report_panics();
        let info = P::info();
        let schemas = decode_inputs(&inputs)?;
        check_inputs(&info, &schemas)?;
        let ctx = Context {
            run_id: context.run_id,
            run_time_micros: context.run_time_micros,
            table: context.table,
            params: context.params,
        };
        let plugin = P::open(parse_config(&config)?, &schemas, &ctx)?;
        let outputs = output_schemas(&info, &plugin)?;
        let input_names = schemas.into_iter().map(|(n, _)| n).collect();
        Ok(Session::new(SessionOf {
            plugin: RefCell::new(plugin),
            input_names,
            outputs,
            finished: RefCell::new(false),
        }))
    }
}

impl<P: Plugin> GuestSession for SessionOf<P> {
    fn output_schemas(&self) -> Vec<wit::NamedSchema> {
        self.outputs.clone()
    }

    fn push(&self, input: String, batch: Vec<u8>) -> Result<wit::Emitted, wit::PluginError> {
        if !self.input_names.contains(&input) {
            return Err(Error::Schema(format!("unknown input `{input}`")).into());
        }
        if *self.finished.borrow() {
            return Err(Error::Internal("push after finish".into()).into());
        }
        let batch = ipc::decode_pushed(batch)
            .map_err(|e| Error::Internal(format!("undecodable batch for input `{input}`: {e}")))?;
        let mut out = Emit::default();
        self.plugin.borrow_mut().push(&input, batch, &mut out)?;
        to_wit_emitted(out)
    }

    fn finish(&self) -> Result<wit::Emitted, wit::PluginError> {
        let mut out = Emit::default();
        let mut plugin = self.plugin.borrow_mut();
        if !self.finished.replace(true) {
            plugin.finish(&mut out)?;
        }
        let more = plugin.drain(&mut out)?;
        let mut emitted = to_wit_emitted(out)?;
        emitted.more = more;
        Ok(emitted)
    }
}

/// Every declared output's schema: fixed ones from `info`, dynamic ones from the session.
/// Checked here, at `open`, so a missing or misnamed output fails before any data moves.
fn output_schemas<P: Plugin>(info: &Info, plugin: &P) -> Result<Vec<wit::NamedSchema>, Error> {
    let stated = plugin.output_schemas();
    if let Some((name, _)) = stated
        .iter()
        .find(|(n, _)| !info.outputs.iter().any(|o| o.name == *n))
    {
        let declared: Vec<&str> = info.outputs.iter().map(|o| o.name.as_str()).collect();
        return Err(Error::Internal(format!(
            "output_schemas names output `{name}`, which info() does not declare ({declared:?})"
        )));
    }
    info.outputs
        .iter()
        .map(|o| {
            let schema = match (&o.schema, stated.iter().find(|(n, _)| *n == o.name)) {
                (_, Some((_, schema))) => schema.clone(),
                (Some(fixed), None) => fixed.clone(),
                (None, None) => {
                    return Err(Error::Internal(format!(
                        "output_schemas lacks the schema of dynamic output `{}`",
                        o.name
                    )))
                }
            };
            Ok(wit::NamedSchema {
                name: o.name.clone(),
                schema: ipc::encode_schema(&schema),
            })
        })
        .collect()
}

/// Sends a panic's message and place to the host log before the instance aborts, so the
/// host's error says why the plugin trapped.
fn report_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            crate::log(crate::LogLevel::Error, &format!("plugin panicked: {info}"));
        }));
    });
}

fn decode_inputs(inputs: &[wit::NamedSchema]) -> Result<Schemas, Error> {
    inputs
        .iter()
        .map(|i| {
            let schema = ipc::decode_schema(&i.schema).map_err(|e| {
                Error::Schema(format!("input `{}`: undecodable schema: {e}", i.name))
            })?;
            Ok((i.name.clone(), schema))
        })
        .collect()
}

/// Checks the actual inputs against what `info` declares, so `open` sees only valid input.
fn check_inputs(info: &Info, actual: &Schemas) -> Result<(), Error> {
    for (name, _) in actual {
        if !info.inputs.iter().any(|i| i.name == *name) {
            let known: Vec<&str> = info.inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(Error::Schema(format!(
                "unknown input `{name}`; this plugin takes {known:?}"
            )));
        }
    }
    for spec in &info.inputs {
        let Some((_, schema)) = actual.iter().find(|(n, _)| *n == spec.name) else {
            return Err(Error::Schema(format!("input `{}` is missing", spec.name)));
        };
        check_columns(spec, schema)?;
    }
    Ok(())
}

fn check_columns(spec: &crate::Input, schema: &SchemaRef) -> Result<(), Error> {
    for want in &spec.required {
        let Ok(have) = schema.field_with_name(want.name()) else {
            return Err(Error::Schema(format!(
                "input `{}` lacks required column `{}` ({})",
                spec.name,
                want.name(),
                want.data_type()
            )));
        };
        if have.data_type() != want.data_type() {
            return Err(Error::Schema(format!(
                "input `{}` column `{}` is {}, expected {}",
                spec.name,
                want.name(),
                have.data_type(),
                want.data_type()
            )));
        }
    }
    if !spec.extra_columns {
        if let Some(extra) = schema
            .fields()
            .iter()
            .find(|f| !spec.required.iter().any(|r| r.name() == f.name()))
        {
            return Err(Error::Schema(format!(
                "input `{}` has unexpected column `{}`",
                spec.name,
                extra.name()
            )));
        }
    }
    Ok(())
}

fn to_wit_info(info: Info) -> wit::PluginInfo {
    wit::PluginInfo {
        contract_version: CONTRACT_VERSION.to_string(),
        inputs: info
            .inputs
            .iter()
            .map(|i| wit::InputSpec {
                name: i.name.clone(),
                description: i.description.clone(),
                required_columns: ipc::encode_schema(&i.required_schema()),
                extra_columns: i.extra_columns,
            })
            .collect(),
        outputs: info
            .outputs
            .iter()
            .map(|o| wit::OutputSpec {
                name: o.name.clone(),
                description: o.description.clone(),
                schema: o.schema.as_ref().map(|s| ipc::encode_schema(s)),
            })
            .collect(),
        name: info.name,
        version: info.version,
        description: info.description,
        stateful: info.stateful,
    }
}

fn to_wit_emitted(out: Emit) -> Result<wit::Emitted, wit::PluginError> {
    let batches = out
        .batches
        .iter()
        .map(|(output, batch)| {
            Ok(wit::OutputBatch {
                output: output.clone(),
                batch: ipc::encode_batch(batch)?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let rejects = out
        .rejects
        .into_iter()
        .map(|(row, column, reason)| wit::RowReject {
            row,
            column,
            reason,
        })
        .collect();
    let counters = out
        .counters
        .into_iter()
        .map(|(name, value)| wit::Counter { name, value })
        .collect();
    Ok(wit::Emitted {
        batches,
        rejects,
        counters,
        more: false,
    })
}
