//! The AWS Glue Data Catalog as a `sluice_core::catalog::Catalog`: each output becomes a
//! table over its Athena symlink manifests (Parquet through `SymlinkTextInputFormat`),
//! created on the first commit, its columns brought up to date when they change, and its
//! partitions added as units commit. Athena, Redshift Spectrum and Glue jobs then see new
//! data without a crawler or `MSCK REPAIR TABLE`.

use std::collections::BTreeSet;

use arrow::datatypes::DataType;
use aws_sdk_glue::error::DisplayErrorContext;
use aws_sdk_glue::types::{
    Column, DatabaseInput, PartitionInput, SerDeInfo, StorageDescriptor, TableInput,
};
use aws_sdk_glue::Client;
use sluice_core::catalog::{Catalog, CatalogError, Registration};

use crate::s3::block_on;

const SYMLINK_INPUT: &str = "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat";
const IGNORE_KEY_OUTPUT: &str = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat";
const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";

/// Where to reach Glue: the standard AWS chain, with an optional endpoint.
#[derive(Debug, Clone, Default)]
pub struct GlueSettings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

/// The catalog; its client is made on first use, so runs without `glue` outputs never
/// look for AWS configuration.
pub struct GlueCatalog {
    settings: GlueSettings,
    client: std::sync::OnceLock<Client>,
}

impl GlueCatalog {
    pub fn new(settings: GlueSettings) -> Self {
        GlueCatalog {
            settings,
            client: std::sync::OnceLock::new(),
        }
    }

    fn client(&self) -> &Client {
        self.client.get_or_init(|| connect(self.settings.clone()))
    }
}

fn connect(settings: GlueSettings) -> Client {
    let shared = crate::sdk_config(settings.endpoint.as_deref(), settings.region.as_deref());
    Client::new(&shared)
}

mod iceberg;

/// A catalog error of one table, from a message.
fn failed<'a>(database: &'a str, table: &'a str) -> impl Fn(String) -> CatalogError + 'a {
    move |message| CatalogError {
        database: database.into(),
        table: table.into(),
        message,
    }
}

impl Catalog for GlueCatalog {
    fn iceberg_location(
        &self,
        database: &str,
        table: &str,
    ) -> Result<Option<String>, CatalogError> {
        self.client();
        block_on(self.load_iceberg(database, table)).map_err(failed(database, table))
    }

    fn iceberg_swap(
        &self,
        database: &str,
        table: &str,
        location: &str,
        previous: Option<&str>,
        new: &str,
    ) -> Result<(), CatalogError> {
        self.client();
        let swap = iceberg::Swap {
            database,
            table,
            location,
            previous,
            new,
        };
        block_on(self.swap_iceberg(swap)).map_err(failed(database, table))
    }

    fn register(&self, r: &Registration) -> Result<(), CatalogError> {
        let fail = |message: String| CatalogError {
            database: r.database.clone(),
            table: r.table.clone(),
            message,
        };
        let input = table_input(r).map_err(fail)?;
        // Connect before entering the runtime: connecting runs on it too.
        self.client();
        block_on(self.put_table(r, input)).map_err(fail)?;
        block_on(self.add_partitions(r)).map_err(fail)
    }
}

impl GlueCatalog {
    /// Creates the database if missing.
    async fn put_database(&self, name: &str) -> Result<(), String> {
        let db = DatabaseInput::builder()
            .name(name)
            .build()
            .map_err(|e| e.to_string())?;
        let created = self.client().create_database().database_input(db);
        match created.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_already_exists_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(format!("CreateDatabase: {}", DisplayErrorContext(&e))),
        }
    }

    /// Creates the database and table if missing; updates the table when its columns or
    /// partition keys differ.
    async fn put_table(&self, r: &Registration, input: TableInput) -> Result<(), String> {
        self.put_database(&r.database).await?;
        let get = self
            .client()
            .get_table()
            .database_name(&r.database)
            .name(&r.table);
        match get.send().await {
            Ok(out) => {
                let same = out.table().is_some_and(|t| {
                    t.storage_descriptor().map(|s| s.columns())
                        == input.storage_descriptor().map(|s| s.columns())
                        && t.partition_keys() == input.partition_keys()
                });
                if same {
                    return Ok(());
                }
                let update = self.client().update_table().database_name(&r.database);
                update
                    .table_input(input)
                    .send()
                    .await
                    .map_err(|e| format!("UpdateTable: {}", DisplayErrorContext(&e)))?;
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                let create = self.client().create_table().database_name(&r.database);
                create
                    .table_input(input)
                    .send()
                    .await
                    .map_err(|e| format!("CreateTable: {}", DisplayErrorContext(&e)))?;
            }
            Err(e) => return Err(format!("GetTable: {}", DisplayErrorContext(&e))),
        }
        Ok(())
    }

    /// Adds the partitions the table does not have yet.
    async fn add_partitions(&self, r: &Registration) -> Result<(), String> {
        if r.partitions.is_empty() {
            return Ok(());
        }
        let known = self.known_partitions(r).await?;
        let new: Vec<PartitionInput> = r
            .partitions
            .iter()
            .filter(|(values, _)| !known.contains(values))
            .map(|(values, location)| {
                PartitionInput::builder()
                    .set_values(Some(values.clone()))
                    .storage_descriptor(storage(location, Vec::new()))
                    .build()
            })
            .collect();
        // BatchCreatePartition takes at most 100 partitions a call.
        for chunk in new.chunks(100) {
            let out = self
                .client()
                .batch_create_partition()
                .database_name(&r.database)
                .table_name(&r.table)
                .set_partition_input_list(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| format!("BatchCreatePartition: {}", DisplayErrorContext(&e)))?;
            // Another run adding the same partition at once is fine; anything else is not.
            let failed = out.errors().iter().find(|e| {
                e.error_detail()
                    .and_then(|d| d.error_code())
                    .is_none_or(|code| code != "AlreadyExistsException")
            });
            if let Some(error) = failed {
                return Err(format!("BatchCreatePartition: {error:?}"));
            }
        }
        Ok(())
    }

    async fn known_partitions(&self, r: &Registration) -> Result<BTreeSet<Vec<String>>, String> {
        let mut known = BTreeSet::new();
        let mut pages = self
            .client()
            .get_partitions()
            .database_name(&r.database)
            .table_name(&r.table)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| format!("GetPartitions: {}", DisplayErrorContext(&e)))?;
            known.extend(page.partitions().iter().map(|p| p.values().to_vec()));
        }
        Ok(known)
    }
}

fn table_input(r: &Registration) -> Result<TableInput, String> {
    let columns = r
        .schema
        .fields()
        .iter()
        .map(|f| column(f.name(), f.data_type()))
        .collect::<Result<Vec<_>, _>>()?;
    let keys = r
        .partition_keys
        .iter()
        .map(|(name, t)| column(name, t))
        .collect::<Result<Vec<_>, _>>()?;
    TableInput::builder()
        .name(&r.table)
        .table_type("EXTERNAL_TABLE")
        .parameters("classification", "parquet")
        .parameters("sluice.location", &r.location)
        .storage_descriptor(storage(&r.location, columns))
        .set_partition_keys(Some(keys))
        .build()
        .map_err(|e| e.to_string())
}

fn storage(location: &str, columns: Vec<Column>) -> StorageDescriptor {
    StorageDescriptor::builder()
        .set_columns(Some(columns))
        .location(location)
        .input_format(SYMLINK_INPUT)
        .output_format(IGNORE_KEY_OUTPUT)
        .serde_info(
            SerDeInfo::builder()
                .serialization_library(PARQUET_SERDE)
                .build(),
        )
        .build()
}

fn column(name: &str, data_type: &DataType) -> Result<Column, String> {
    Column::builder()
        .name(name)
        .r#type(
            hive_type(data_type)
                .ok_or_else(|| format!("column `{name}`: {data_type} has no Hive type"))?,
        )
        .build()
        .map_err(|e| e.to_string())
}

/// The Hive type Athena and Glue read an Arrow column's Parquet values as.
fn hive_type(data_type: &DataType) -> Option<String> {
    Some(
        match data_type {
            DataType::Boolean => "boolean",
            DataType::Int8 => "tinyint",
            DataType::Int16 | DataType::UInt8 => "smallint",
            DataType::Int32 | DataType::UInt16 => "int",
            DataType::Int64 | DataType::UInt32 => "bigint",
            DataType::UInt64 => "decimal(20,0)",
            DataType::Float32 => "float",
            DataType::Float64 => "double",
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string",
            DataType::Date32 => "date",
            DataType::Timestamp(..) => "timestamp",
            DataType::Decimal128(p, s) => return Some(format!("decimal({p},{s})")),
            DataType::Dictionary(_, values) => return hive_type(values),
            _ => return None,
        }
        .to_string(),
    )
}
