//! `normalise`: pipeline 000's borrower workbook split into nine related tables.
//!
//! Inputs, pushed in this order: `borrower` (`id, full_name, street, city, state,
//! zip_code, phone_home, phone_cell, email`) and `role_profile` (`borrower_id,
//! role_profile`). Outputs, each keyed by its first column:
//!
//! | output | columns (then the audit columns) | rows |
//! |---|---|---|
//! | `user_profile` | `user_profile_id, source_id` | one per borrower |
//! | `user` | `user_id, user_profile_id, first_name, last_name` | one per borrower |
//! | `address` | `address_id, user_profile_id, street, city, state, zip_code` | one per borrower |
//! | `email_type` | `email_type_id, email_type` (`primary`) | one per email |
//! | `email` | `email_id, user_profile_id, email_type_id, email_address` | one per borrower |
//! | `phone_number_type` | `phone_number_type_id, phone_number_type` (`home`, `cell`) | one per phone |
//! | `phone_number` | `phone_number_id, user_profile_id, phone_number_type_id, phone_number` | two per borrower |
//! | `role_profile_type` | `role_profile_type_id, role_profile_type` | one per role profile |
//! | `role_profile` | `role_profile_id, user_profile_id, role_profile_type_id` | one per role profile row |
//!
//! Keys are UUID v5 strings of `<table>:<borrower id>[:<kind>]` in a fixed namespace
//! (`namespace` in the config to change it), so a rerun gives the same keys and the
//! host's upsert matches rows instead of duplicating them. Names split at the first space:
//! "Ailis Degli Antoni" is `Ailis` + `Degli Antoni`. Zip codes of fewer than five digits
//! get their leading zeros back (`8638` -> `08638`). The audit columns `created_date`,
//! `created_by`, `updated_date`, `updated_by` hold the run's time from the host (never a
//! clock in the plugin) and `audit_user` (default `sluice`).
//!
//! A role profile whose `borrower_id` is not a borrower is rejected with the reason, so
//! every foreign key resolves; a borrower without an id is rejected too.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Deserialize;
use sluice_sdk::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use sluice_sdk::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use sluice_sdk::{Context, Emit, Error, Info, Input, Output, Plugin, Schemas};
use uuid::Uuid;

const BORROWER: &str = "borrower";
const ROLE_PROFILE: &str = "role_profile";
const BORROWER_COLUMNS: [&str; 9] = [
    "id",
    "full_name",
    "street",
    "city",
    "state",
    "zip_code",
    "phone_home",
    "phone_cell",
    "email",
];

/// The namespace of the v5 keys (fixed: changing it changes every key).
const DEFAULT_NAMESPACE: Uuid = Uuid::from_u128(0x5c1e_d0a1_7e6b_4f5e_9a3d_2b8c_0f1e_4d6a);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    namespace: Option<String>,
    #[serde(default = "default_user")]
    audit_user: String,
    #[serde(default = "five")]
    zip_width: usize,
}

fn default_user() -> String {
    "sluice".into()
}
fn five() -> usize {
    5
}

struct Normalise {
    namespace: Uuid,
    audit_user: String,
    zip_width: usize,
    run_time: i64,
    /// Borrower ids seen, so a role profile's foreign key can be checked.
    borrowers: HashSet<String>,
}

/// The output tables: name and the columns before the audit columns.
const TABLES: [(&str, &[&str]); 9] = [
    ("user_profile", &["user_profile_id", "source_id"]),
    (
        "user",
        &["user_id", "user_profile_id", "first_name", "last_name"],
    ),
    (
        "address",
        &[
            "address_id",
            "user_profile_id",
            "street",
            "city",
            "state",
            "zip_code",
        ],
    ),
    ("email_type", &["email_type_id", "email_type"]),
    (
        "email",
        &[
            "email_id",
            "user_profile_id",
            "email_type_id",
            "email_address",
        ],
    ),
    (
        "phone_number_type",
        &["phone_number_type_id", "phone_number_type"],
    ),
    (
        "phone_number",
        &[
            "phone_number_id",
            "user_profile_id",
            "phone_number_type_id",
            "phone_number",
        ],
    ),
    (
        "role_profile_type",
        &["role_profile_type_id", "role_profile_type"],
    ),
    (
        "role_profile",
        &["role_profile_id", "user_profile_id", "role_profile_type_id"],
    ),
];

fn schema(table: &str) -> SchemaRef {
    let (_, columns) = TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .expect("a known table");
    let mut fields: Vec<Field> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| Field::new(*c, DataType::Utf8, i > 0 && !c.ends_with("_id")))
        .collect();
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    fields.extend([
        Field::new("created_date", ts.clone(), false),
        Field::new("created_by", DataType::Utf8, false),
        Field::new("updated_date", ts, false),
        Field::new("updated_by", DataType::Utf8, false),
    ]);
    Arc::new(Schema::new(fields))
}

/// Column builders of one output for one pushed batch.
struct Table {
    name: &'static str,
    columns: Vec<Vec<Option<String>>>,
}

impl Table {
    fn new(name: &'static str) -> Self {
        let width = TABLES
            .iter()
            .find(|(t, _)| *t == name)
            .expect("known")
            .1
            .len();
        Table {
            name,
            columns: vec![Vec::new(); width],
        }
    }

    fn push(&mut self, values: Vec<Option<String>>) {
        for (column, value) in self.columns.iter_mut().zip(values) {
            column.push(value);
        }
    }

    fn emit(self, audit: &Audit, out: &mut Emit) -> Result<(), Error> {
        let rows = self.columns[0].len();
        if rows == 0 {
            return Ok(());
        }
        let mut arrays: Vec<ArrayRef> = self
            .columns
            .into_iter()
            .map(|c| Arc::new(StringArray::from(c)) as ArrayRef)
            .collect();
        let time =
            Arc::new(TimestampMicrosecondArray::from(vec![audit.time; rows]).with_timezone("UTC"))
                as ArrayRef;
        let user = Arc::new(StringArray::from(vec![audit.user.as_str(); rows])) as ArrayRef;
        arrays.extend([time.clone(), user.clone(), time, user]);
        out.emit(self.name, RecordBatch::try_new(schema(self.name), arrays)?);
        Ok(())
    }
}

struct Audit {
    time: i64,
    user: String,
}

impl Normalise {
    fn key(&self, table: &str, id: &str, kind: Option<&str>) -> String {
        let name = match kind {
            Some(kind) => format!("{table}:{id}:{kind}"),
            None => format!("{table}:{id}"),
        };
        Uuid::new_v5(&self.namespace, name.as_bytes()).to_string()
    }

    fn audit(&self) -> Audit {
        Audit {
            time: self.run_time,
            user: self.audit_user.clone(),
        }
    }

    /// `8638` -> `08638`: zip codes that lost their leading zeros as numbers.
    fn repair_zip(&self, zip: Option<&str>, out: &mut Emit) -> Option<String> {
        let zip = zip?.trim();
        if !zip.is_empty() && zip.len() < self.zip_width && zip.bytes().all(|b| b.is_ascii_digit())
        {
            out.count("zip_code.padded", 1);
            return Some(format!("{zip:0>width$}", width = self.zip_width));
        }
        Some(zip.to_string())
    }

    fn push_borrowers(&mut self, batch: &RecordBatch, out: &mut Emit) -> Result<(), Error> {
        let col = |name: &str| text_column(batch, BORROWER, name);
        let [id, full_name, street, city, state, zip, phone_home, phone_cell, email] =
            BORROWER_COLUMNS.map(col);
        let (id, full_name, street, city, state, zip, phone_home, phone_cell, email) = (
            id?,
            full_name?,
            street?,
            city?,
            state?,
            zip?,
            phone_home?,
            phone_cell?,
            email?,
        );
        let get = |a: &StringArray, r: usize| a.is_valid(r).then(|| a.value(r).to_string());
        let mut tables: Vec<Table> = [
            "user_profile",
            "user",
            "address",
            "email_type",
            "email",
            "phone_number_type",
            "phone_number",
        ]
        .map(Table::new)
        .into();
        for r in 0..batch.num_rows() {
            let Some(source) = get(id, r).filter(|s| !s.trim().is_empty()) else {
                out.reject(r, Some("id"), "the borrower has no id");
                continue;
            };
            let profile = self.key("user_profile", &source, None);
            let (first, rest) = split_name(get(full_name, r).as_deref());
            tables[0].push(vec![Some(profile.clone()), Some(source.clone())]);
            tables[1].push(vec![
                Some(self.key("user", &source, None)),
                Some(profile.clone()),
                first,
                rest,
            ]);
            let zip = self.repair_zip(get(zip, r).as_deref(), out);
            tables[2].push(vec![
                Some(self.key("address", &source, None)),
                Some(profile.clone()),
                get(street, r),
                get(city, r),
                get(state, r),
                zip,
            ]);
            let email_type = self.key("email_type", &source, Some("primary"));
            tables[3].push(vec![Some(email_type.clone()), Some("primary".into())]);
            tables[4].push(vec![
                Some(self.key("email", &source, Some("primary"))),
                Some(profile.clone()),
                Some(email_type),
                get(email, r),
            ]);
            for (kind, phones) in [("home", phone_home), ("cell", phone_cell)] {
                let phone_type = self.key("phone_number_type", &source, Some(kind));
                tables[5].push(vec![Some(phone_type.clone()), Some(kind.into())]);
                tables[6].push(vec![
                    Some(self.key("phone_number", &source, Some(kind))),
                    Some(profile.clone()),
                    Some(phone_type),
                    get(phones, r),
                ]);
            }
            self.borrowers.insert(source);
        }
        let audit = self.audit();
        for table in tables {
            table.emit(&audit, out)?;
        }
        Ok(())
    }

    fn push_role_profiles(&mut self, batch: &RecordBatch, out: &mut Emit) -> Result<(), Error> {
        let col = |name: &str| text_column(batch, ROLE_PROFILE, name);
        let (borrower, role) = (col("borrower_id")?, col("role_profile")?);
        let mut types = Table::new("role_profile_type");
        let mut profiles = Table::new("role_profile");
        for r in 0..batch.num_rows() {
            let id = borrower.is_valid(r).then(|| borrower.value(r));
            let Some(id) = id.filter(|id| self.borrowers.contains(*id)) else {
                out.reject(
                    r,
                    Some("borrower_id"),
                    "no borrower has this id, so the role profile would point nowhere",
                );
                continue;
            };
            let role_type = self.key("role_profile_type", id, None);
            types.push(vec![
                Some(role_type.clone()),
                role.is_valid(r).then(|| role.value(r).to_string()),
            ]);
            profiles.push(vec![
                Some(self.key("role_profile", id, None)),
                Some(self.key("user_profile", id, None)),
                Some(role_type),
            ]);
        }
        let audit = self.audit();
        types.emit(&audit, out)?;
        profiles.emit(&audit, out)
    }
}

fn text_column<'a>(
    batch: &'a RecordBatch,
    input: &str,
    name: &str,
) -> Result<&'a StringArray, Error> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| Error::Schema(format!("`{input}` needs a text column `{name}`")))
}

/// First name and the rest: "Ailis Degli Antoni" -> ("Ailis", "Degli Antoni").
fn split_name(full: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(full) = full.map(str::trim).filter(|f| !f.is_empty()) else {
        return (None, None);
    };
    match full.split_once(char::is_whitespace) {
        Some((first, rest)) => (
            Some(first.to_string()),
            Some(rest.trim().to_string()).filter(|r| !r.is_empty()),
        ),
        None => (Some(full.to_string()), None),
    }
}

impl Plugin for Normalise {
    type Config = Config;

    fn info() -> Info {
        let text = |n: &str| Field::new(n, DataType::Utf8, true);
        let mut info = Info::new(
            "normalise",
            env!("CARGO_PKG_VERSION"),
            "A borrower workbook split into nine related tables with stable UUID keys",
        )
        .input(
            Input::with_columns(BORROWER, BORROWER_COLUMNS.iter().map(|c| text(c)).collect())
                .describe("one row per borrower"),
        )
        .input(
            Input::with_columns(
                ROLE_PROFILE,
                vec![text("borrower_id"), text("role_profile")],
            )
            .describe("each borrower's role"),
        );
        for (table, _) in TABLES {
            info = info.output(Output::fixed(table, schema(table)));
        }
        info.stateful()
    }

    fn open(config: Config, _inputs: &Schemas, ctx: &Context) -> Result<Self, Error> {
        let namespace = match &config.namespace {
            Some(text) => Uuid::parse_str(text)
                .map_err(|e| Error::Config(format!("namespace {text:?}: {e}")))?,
            None => DEFAULT_NAMESPACE,
        };
        if config.zip_width == 0 || config.zip_width > 10 {
            return Err(Error::Config("zip_width must be 1 to 10".into()));
        }
        Ok(Normalise {
            namespace,
            audit_user: config.audit_user,
            zip_width: config.zip_width,
            run_time: ctx.run_time_micros,
            borrowers: HashSet::new(),
        })
    }

    fn push(&mut self, input: &str, batch: RecordBatch, out: &mut Emit) -> Result<(), Error> {
        match input {
            BORROWER => self.push_borrowers(&batch, out),
            _ => self.push_role_profiles(&batch, out),
        }
    }
}

sluice_sdk::export_plugin!(Normalise);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_the_first_space_and_keep_the_rest() {
        assert_eq!(
            split_name(Some("Ailis Degli Antoni")),
            (Some("Ailis".into()), Some("Degli Antoni".into()))
        );
        assert_eq!(split_name(Some("Cher")), (Some("Cher".into()), None));
        assert_eq!(split_name(Some("  ")), (None, None));
    }

    #[test]
    fn keys_are_stable_and_distinct_per_table_and_kind() {
        let n = Normalise {
            namespace: DEFAULT_NAMESPACE,
            audit_user: "u".into(),
            zip_width: 5,
            run_time: 0,
            borrowers: HashSet::new(),
        };
        assert_eq!(n.key("user", "a", None), n.key("user", "a", None));
        assert_ne!(n.key("user", "a", None), n.key("user_profile", "a", None));
        assert_ne!(
            n.key("phone_number", "a", Some("home")),
            n.key("phone_number", "a", Some("cell"))
        );
        let mut out = Emit::default();
        assert_eq!(
            n.repair_zip(Some("8638"), &mut out).as_deref(),
            Some("08638")
        );
        assert_eq!(
            n.repair_zip(Some("38104"), &mut out).as_deref(),
            Some("38104")
        );
        assert_eq!(
            n.repair_zip(Some("1234-567"), &mut out).as_deref(),
            Some("1234-567")
        );
    }
}
