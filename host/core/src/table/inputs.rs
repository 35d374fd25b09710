//! A table's inputs: the pipeline's inputs bound to the names the plugin declares, each
//! listed (a path, a glob, or the files a registry version read) and opened for reading.

use super::prepare::Versioned;
use super::TableSpec;
use crate::plugin::PluginInfo;
use crate::run::TableError;
use crate::source::{CsvInput, InputObject, InputSpec, Select};
use crate::storage::Storage;

/// An input bound to the plugin's name for it, with the objects it names.
pub(super) struct FoundInput<'a> {
    pub name: String,
    pub spec: &'a InputSpec,
    pub objects: Vec<InputObject>,
}

/// An input ready to stream.
pub(super) struct OpenInput {
    pub name: String,
    pub csv: CsvInput,
}

/// Pairs the pipeline's inputs with the plugin's, in the plugin's order, and lists them.
pub(super) fn find_inputs<'a>(
    spec: &'a TableSpec,
    info: &PluginInfo,
    storage: &Storage,
    versioned: Option<&Versioned>,
) -> Result<Vec<FoundInput<'a>>, TableError> {
    let declared: Vec<&str> = info.inputs.iter().map(|i| i.name.as_str()).collect();
    let bound: Vec<(String, &InputSpec)> = match &spec.input {
        Some(single) if declared.len() == 1 => vec![(declared[0].to_string(), single)],
        Some(_) => {
            return Err(TableError::Config(format!(
                "plugin takes inputs {declared:?}: use `[tables.NAME.inputs.INPUT]` for each"
            )))
        }
        None => {
            if let Some(unknown) = spec.inputs.keys().find(|k| !declared.contains(&k.as_str())) {
                return Err(TableError::Config(format!(
                    "input `{unknown}` is not one the plugin takes ({declared:?})"
                )));
            }
            declared
                .iter()
                .map(|d| {
                    let input = spec.inputs.get(*d).ok_or_else(|| {
                        TableError::Config(format!("the plugin needs input `{d}`"))
                    })?;
                    Ok((d.to_string(), input))
                })
                .collect::<Result<_, TableError>>()?
        }
    };
    bound
        .into_iter()
        .map(|(name, input)| {
            let objects =
                match &input.from_registry {
                    Some(of) => from_registry(&name, of, versioned, storage)?,
                    None => crate::source::expand(&input.path, input.select, storage).map_err(
                        |source| TableError::Source {
                            input: name.clone(),
                            source,
                        },
                    )?,
                };
            Ok(FoundInput {
                name,
                spec: input,
                objects,
            })
        })
        .collect()
}

/// The files input `of` read in the latest version that succeeded before this one; none
/// when this is the first version.
fn from_registry(
    name: &str,
    of: &str,
    versioned: Option<&Versioned>,
    storage: &Storage,
) -> Result<Vec<InputObject>, TableError> {
    let Versioned { registry, version } = versioned
        .ok_or_else(|| TableError::Config("`from_registry` needs the table's `version`".into()))?;
    let Some(base) = registry.latest_succeeded_before(version)? else {
        tracing::info!(
            input = name,
            version,
            "no earlier successful version: the input is empty"
        );
        return Ok(Vec::new());
    };
    let uris = base
        .inputs
        .iter()
        .find(|(n, _)| n == of)
        .map(|(_, u)| u.clone())
        .ok_or_else(|| {
            TableError::Config(format!(
                "version {} recorded no input `{of}` (it has {:?})",
                base.version,
                base.inputs.iter().map(|i| &i.0).collect::<Vec<_>>()
            ))
        })?;
    tracing::info!(input = name, base = %base.version, files = uris.len(), "read from the version registry");
    uris.iter()
        .map(|uri| {
            let mut found = crate::source::expand(uri, Select::All, storage).map_err(|source| {
                TableError::Source {
                    input: name.into(),
                    source,
                }
            })?;
            match found.len() {
                1 => Ok(found.remove(0)),
                _ => Err(TableError::Config(format!(
                    "version {}'s input {uri} is no longer a single object",
                    base.version
                ))),
            }
        })
        .collect()
}

/// Opens each input, to be parsed on `threads` threads per file.
pub(super) fn open_inputs(
    found: &[FoundInput],
    batch_rows: usize,
    threads: usize,
) -> Result<Vec<OpenInput>, TableError> {
    found
        .iter()
        .map(|input| {
            let name = input.name.clone();
            let csv = CsvInput::from_objects(input.objects.clone(), &input.spec.csv, batch_rows)
                .map_err(|source| TableError::Source { input: name.clone(), source })?
                .with_threads(threads);
            if csv.schema().fields().is_empty() {
                return Err(TableError::Config(format!(
                    "input `{name}`: {} is empty and no `columns` are declared, so its columns are unknown",
                    input.objects.first().map(|o| o.uri.as_str()).unwrap_or("it")
                )));
            }
            Ok(OpenInput { name, csv })
        })
        .collect()
}
