//! What a table would read and write, found without writing anything or taking its lock:
//! `sluice schema` (each input's columns, their types and where each type came from, and
//! the first rows) and `sluice check` (also the plugin opened with its config and the real
//! input schemas, and the output schemas it answers with).

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;

use super::inputs::{find_inputs, open_inputs, OpenInput};
use super::prepare::{load, versioned, Loaded};
use super::stream::open_session;
use super::TableRun;
use crate::run::TableError;
use crate::source::CsvInput;
use crate::storage::Location;

/// What a table reads and, when its plugin was opened, writes.
pub struct Preview {
    pub table: String,
    /// `name version` of the plugin.
    pub plugin: String,
    pub inputs: Vec<InputPreview>,
    /// The plugin's outputs, when it was opened (`sluice check`).
    pub outputs: Option<Vec<(String, SchemaRef)>>,
}

pub struct InputPreview {
    pub name: String,
    pub files: Vec<String>,
    pub columns: Vec<ColumnPreview>,
    /// The first rows, typed as the plugin would receive them.
    pub sample: Option<RecordBatch>,
}

pub struct ColumnPreview {
    pub name: String,
    pub data_type: DataType,
    pub origin: TypeOrigin,
}

/// Where a column's type came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeOrigin {
    /// The input's `types`.
    Declared,
    /// Inferred from the first rows of the first file.
    Inferred,
    /// `infer = false`: text.
    Text,
}

impl TableRun<'_> {
    /// Reads each input's header and first rows (`rows` of them); with `open_plugin`, also
    /// opens a plugin session with them and asks for its output schemas. Nothing is written.
    pub fn preview(&self, rows: usize, open_plugin: bool) -> Result<Preview, TableError> {
        let loaded = load(self)?;
        let location = Location::parse(&self.spec.output.location, std::path::Path::new(""))?;
        let (store, root) = self.host.storage.resolve(&location)?;
        let versioned = versioned(self, &store, &root)?;
        let found = find_inputs(
            self.spec,
            &loaded.info,
            self.host.storage,
            versioned.as_ref(),
        )?;
        let opened = open_inputs(&found, self.batch_rows(), 1)?;
        let outputs = match open_plugin {
            true => Some(self.output_schemas(&loaded, &opened)?),
            false => None,
        };
        let inputs = opened
            .into_iter()
            .map(|input| preview_input(input, rows))
            .collect::<Result<_, _>>()?;
        Ok(Preview {
            table: self.name.into(),
            plugin: format!("{} {}", loaded.info.name, loaded.info.version),
            inputs,
            outputs,
        })
    }

    fn output_schemas(
        &self,
        loaded: &Loaded,
        inputs: &[OpenInput],
    ) -> Result<Vec<(String, SchemaRef)>, TableError> {
        let config_json = self.spec.config_json();
        let plugin = (&*loaded.plugin, &loaded.info);
        let session = open_session(self, plugin, &config_json, inputs)?;
        Ok(session.outputs().to_vec())
    }
}

fn preview_input(input: OpenInput, rows: usize) -> Result<InputPreview, TableError> {
    let OpenInput { name, csv } = input;
    let columns = columns(&csv);
    let files = csv.files().iter().map(|o| o.uri.clone()).collect();
    let mut sample = None;
    if rows > 0 {
        csv.read_all(|batch| {
            sample = Some(batch.batch.slice(0, rows.min(batch.batch.num_rows())));
            false
        })
        .map_err(|source| TableError::Source {
            input: name.clone(),
            source,
        })?;
    }
    Ok(InputPreview {
        name,
        files,
        columns,
        sample,
    })
}

fn columns(csv: &CsvInput) -> Vec<ColumnPreview> {
    let schema = csv.schema();
    schema
        .fields()
        .iter()
        .zip(csv.inferred())
        .map(|(field, &inferred)| {
            let declared = csv.declared(field.name());
            ColumnPreview {
                name: field.name().clone(),
                data_type: field.data_type().clone(),
                origin: match (inferred, declared) {
                    (true, _) => TypeOrigin::Inferred,
                    (false, true) => TypeOrigin::Declared,
                    (false, false) => TypeOrigin::Text,
                },
            }
        })
        .collect()
}
