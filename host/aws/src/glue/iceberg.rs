//! Iceberg tables in the Glue Data Catalog: an `EXTERNAL_TABLE` whose `table_type`
//! parameter is `ICEBERG` and whose `metadata_location` names the current metadata file,
//! as Athena, EMR and pyiceberg's Glue catalog read it. A commit points it at the new
//! file if it still names the one the commit started from (and Glue's `VersionId` makes
//! the update conditional), so of two writers one fails.

use std::collections::HashMap;

use aws_sdk_glue::error::DisplayErrorContext;
use aws_sdk_glue::types::{StorageDescriptor, TableInput};

use super::GlueCatalog;

const METADATA_LOCATION: &str = "metadata_location";

/// A commit's pointer move: the table (at `location`) from `previous` to `new`.
pub(super) struct Swap<'a> {
    pub database: &'a str,
    pub table: &'a str,
    pub location: &'a str,
    pub previous: Option<&'a str>,
    pub new: &'a str,
}

impl GlueCatalog {
    pub(super) async fn load_iceberg(
        &self,
        database: &str,
        table: &str,
    ) -> Result<Option<String>, String> {
        let get = self
            .client()
            .get_table()
            .database_name(database)
            .name(table);
        match get.send().await {
            Ok(out) => Ok(out
                .table()
                .and_then(|t| t.parameters())
                .and_then(|p| p.get(METADATA_LOCATION))
                .cloned()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(format!("GetTable: {}", DisplayErrorContext(&e))),
        }
    }

    /// Creates the table (first commit) or moves its pointer (the others).
    pub(super) async fn swap_iceberg(&self, swap: Swap<'_>) -> Result<(), String> {
        match swap.previous {
            None => self.create_iceberg(&swap).await,
            Some(previous) => self.update_iceberg(&swap, previous).await,
        }
    }

    async fn create_iceberg(&self, swap: &Swap<'_>) -> Result<(), String> {
        self.put_database(swap.database).await?;
        let input = iceberg_input(swap, None)?;
        let create = self
            .client()
            .create_table()
            .database_name(swap.database)
            .table_input(input);
        create.send().await.map(|_| ()).map_err(|e| {
            let raced = e
                .as_service_error()
                .is_some_and(|s| s.is_already_exists_exception());
            match raced {
                true => "CreateTable: another run created the table at the same time; run again"
                    .to_string(),
                false => format!("CreateTable: {}", DisplayErrorContext(&e)),
            }
        })
    }

    async fn update_iceberg(&self, swap: &Swap<'_>, previous: &str) -> Result<(), String> {
        let get = self
            .client()
            .get_table()
            .database_name(swap.database)
            .name(swap.table);
        let out = get
            .send()
            .await
            .map_err(|e| format!("GetTable: {}", DisplayErrorContext(&e)))?;
        let found = out.table().ok_or("GetTable: no table in the answer")?;
        let current = found.parameters().and_then(|p| p.get(METADATA_LOCATION));
        if current.map(String::as_str) != Some(previous) {
            return Err(format!(
                "the table moved on to {} while this run committed; run again",
                current.map_or("nothing", String::as_str)
            ));
        }
        let input = iceberg_input(swap, Some(previous))?;
        let mut update = self
            .client()
            .update_table()
            .database_name(swap.database)
            .table_input(input);
        if let Some(version) = found.version_id() {
            update = update.version_id(version);
        }
        update
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("UpdateTable: {}", DisplayErrorContext(&e)))
    }
}

fn iceberg_input(swap: &Swap<'_>, previous: Option<&str>) -> Result<TableInput, String> {
    let mut parameters = HashMap::from([
        ("table_type".to_string(), "ICEBERG".to_string()),
        (METADATA_LOCATION.to_string(), swap.new.to_string()),
    ]);
    if let Some(previous) = previous {
        parameters.insert("previous_metadata_location".into(), previous.into());
    }
    TableInput::builder()
        .name(swap.table)
        .table_type("EXTERNAL_TABLE")
        .set_parameters(Some(parameters))
        .storage_descriptor(StorageDescriptor::builder().location(swap.location).build())
        .build()
        .map_err(|e| e.to_string())
}
