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

    pub(super) async fn swap_iceberg(&self, swap: Swap<'_>) -> Result<(), String> {
        let Swap {
            database,
            table,
            location,
            previous,
            new,
        } = swap;
        let Some(previous) = previous else {
            self.put_database(database).await?;
            let input = iceberg_input(table, location, new, None)?;
            let create = self
                .client()
                .create_table()
                .database_name(database)
                .table_input(input);
            return create.send().await.map(|_| ()).map_err(|e| {
                match e
                    .as_service_error()
                    .is_some_and(|s| s.is_already_exists_exception())
                {
                    true => {
                        "CreateTable: another run created the table at the same time; run again"
                            .to_string()
                    }
                    false => format!("CreateTable: {}", DisplayErrorContext(&e)),
                }
            });
        };
        let get = self
            .client()
            .get_table()
            .database_name(database)
            .name(table);
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
        let input = iceberg_input(table, location, new, Some(previous))?;
        let mut update = self
            .client()
            .update_table()
            .database_name(database)
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

fn iceberg_input(
    table: &str,
    location: &str,
    metadata: &str,
    previous: Option<&str>,
) -> Result<TableInput, String> {
    let mut parameters = HashMap::from([
        ("table_type".to_string(), "ICEBERG".to_string()),
        (METADATA_LOCATION.to_string(), metadata.to_string()),
    ]);
    if let Some(previous) = previous {
        parameters.insert("previous_metadata_location".into(), previous.into());
    }
    TableInput::builder()
        .name(table)
        .table_type("EXTERNAL_TABLE")
        .set_parameters(Some(parameters))
        .storage_descriptor(StorageDescriptor::builder().location(location).build())
        .build()
        .map_err(|e| e.to_string())
}
