//! `retail-aggregates`: pipeline 002's `agg_shipments`, one row per run.
//!
//! Inputs, pushed in this order: `orders` (`order_id`, `order_date`), then `shipments`
//! (`order_id`, `shipment_date`, `delivery_date`). Orders are kept as a map from id to
//! date (16 bytes an order); shipments stream past it, so memory grows with the order
//! count only.
//!
//! - `late_shipments`: shipments with `shipment_date >= order_date + late_after_days`
//!   (default 6) and no `delivery_date`;
//! - `undelivered_items`: shipments with neither date whose `order_date +
//!   undelivered_after_days` (default 15) is the as-of date;
//! - `ingestion_date`: the as-of date: config `as_of` (`YYYY-MM-DD`) or the run date.
//!
//! A shipment whose order is unknown is rejected with a reason.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use sluice_sdk::arrow::array::{Array, Date32Array, Int64Array};
use sluice_sdk::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use sluice_sdk::arrow::record_batch::RecordBatch;
use sluice_sdk::calendar::parse_iso_date;
use sluice_sdk::{Context, Emit, Error, Info, Input, Output, Plugin, Schemas};

const MICROS_PER_DAY: i64 = 86_400_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "six")]
    late_after_days: i32,
    #[serde(default = "fifteen")]
    undelivered_after_days: i32,
    as_of: Option<String>,
}

fn six() -> i32 {
    6
}
fn fifteen() -> i32 {
    15
}

struct RetailAggregates {
    config: Config,
    as_of: i32,
    order_dates: HashMap<i64, Option<i32>>,
    late: i64,
    undelivered: i64,
}

fn output_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ingestion_date", DataType::Date32, false),
        Field::new("late_shipments", DataType::Int64, false),
        Field::new("undelivered_items", DataType::Int64, false),
    ]))
}

impl Plugin for RetailAggregates {
    type Config = Config;

    fn info() -> Info {
        let id = || Field::new("order_id", DataType::Int64, true);
        let date = |n: &str| Field::new(n, DataType::Date32, true);
        Info::new(
            "retail-aggregates",
            env!("CARGO_PKG_VERSION"),
            "Late shipments and undelivered items from orders joined to shipments",
        )
        .input(
            Input::with_columns("orders", vec![id(), date("order_date")])
                .describe("orders, keyed by order_id"),
        )
        .input(
            Input::with_columns(
                "shipments",
                vec![id(), date("shipment_date"), date("delivery_date")],
            )
            .describe("shipments of those orders"),
        )
        .output(
            Output::fixed("agg_shipments", output_schema())
                .describe("one row: ingestion_date, late_shipments, undelivered_items"),
        )
        .stateful()
    }

    fn open(config: Config, _inputs: &Schemas, ctx: &Context) -> Result<Self, Error> {
        let as_of = match &config.as_of {
            Some(text) => parse_iso_date(text)
                .ok_or_else(|| Error::Config(format!("as_of {text:?} is not YYYY-MM-DD")))?,
            None => ctx.run_time_micros.div_euclid(MICROS_PER_DAY) as i32,
        };
        Ok(RetailAggregates {
            config,
            as_of,
            order_dates: HashMap::new(),
            late: 0,
            undelivered: 0,
        })
    }

    fn push(&mut self, input: &str, batch: RecordBatch, out: &mut Emit) -> Result<(), Error> {
        let ids = column::<Int64Array>(&batch, "order_id");
        if input == "orders" {
            let dates = column::<Date32Array>(&batch, "order_date");
            for row in (0..batch.num_rows()).filter(|&r| ids.is_valid(r)) {
                self.order_dates.insert(
                    ids.value(row),
                    dates.is_valid(row).then(|| dates.value(row)),
                );
            }
            return Ok(());
        }
        let shipped = column::<Date32Array>(&batch, "shipment_date");
        let delivered = column::<Date32Array>(&batch, "delivery_date");
        for row in 0..batch.num_rows() {
            let order = ids
                .is_valid(row)
                .then(|| self.order_dates.get(&ids.value(row)))
                .flatten();
            let Some(order_date) = order else {
                out.reject(row, Some("order_id"), "no order with this order_id");
                continue;
            };
            let Some(order_date) = *order_date else {
                continue;
            };
            let (shipped, delivered) = (
                shipped.is_valid(row).then(|| shipped.value(row)),
                delivered.is_valid(row),
            );
            match (shipped, delivered) {
                (Some(s), false) if s >= order_date + self.config.late_after_days => self.late += 1,
                (None, false) if order_date + self.config.undelivered_after_days == self.as_of => {
                    self.undelivered += 1
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Emit) -> Result<(), Error> {
        let batch = RecordBatch::try_new(
            output_schema(),
            vec![
                Arc::new(Date32Array::from(vec![self.as_of])),
                Arc::new(Int64Array::from(vec![self.late])),
                Arc::new(Int64Array::from(vec![self.undelivered])),
            ],
        )?;
        out.emit("agg_shipments", batch);
        Ok(())
    }
}

/// A required column, typed as declared (the SDK checked names and types before `open`).
fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .expect("declared input column")
}

sluice_sdk::export_plugin!(RetailAggregates);
