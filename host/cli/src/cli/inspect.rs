//! `sluice plugin inspect`: what a plugin says about itself.

use anyhow::Result;
use arrow::datatypes::Schema;
use sluice_core::plugin::{EngineOptions, PluginEngine, PluginInfo, Session};

pub fn inspect(reference: &str, json: bool, engine: EngineOptions) -> Result<()> {
    let engine = PluginEngine::new(engine)?;
    let plugin = engine.load(reference)?;
    let info = Session::describe(&engine, &plugin)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&info, &plugin.sha256, plugin.world()))?
        );
    } else {
        print_text(&info, &plugin.sha256, plugin.world());
    }
    Ok(())
}

fn columns(schema: &Schema) -> Vec<String> {
    schema
        .fields()
        .iter()
        .map(|f| {
            format!(
                "{}: {}{}",
                f.name(),
                f.data_type(),
                if f.is_nullable() { "" } else { " NOT NULL" }
            )
        })
        .collect()
}

fn print_text(info: &PluginInfo, sha256: &str, world: &str) {
    println!("{} {}", info.name, info.version);
    println!("  {}", info.description);
    println!("  contract: {} ({world})", info.contract_version);
    println!("  sha256:   {sha256}");
    println!("  stateful: {}", info.stateful);
    for input in &info.inputs {
        let cols = columns(&input.required);
        let extra = if input.extra_columns {
            " (other columns allowed)"
        } else {
            " (no other columns)"
        };
        println!("  input  `{}`: {}", input.name, input.description);
        if cols.is_empty() {
            println!("      any columns");
        } else {
            println!("      requires {}{extra}", cols.join(", "));
        }
    }
    for output in &info.outputs {
        println!("  output `{}`: {}", output.name, output.description);
        match &output.schema {
            Some(schema) => println!("      {}", columns(schema).join(", ")),
            None => println!("      schema depends on the input and config"),
        }
    }
}

fn to_json(info: &PluginInfo, sha256: &str, world: &str) -> serde_json::Value {
    serde_json::json!({
        "name": info.name,
        "version": info.version,
        "description": info.description,
        "contract_version": info.contract_version,
        "world": world,
        "sha256": sha256,
        "stateful": info.stateful,
        "inputs": info.inputs.iter().map(|i| serde_json::json!({
            "name": i.name, "description": i.description,
            "required_columns": columns(&i.required), "extra_columns": i.extra_columns,
        })).collect::<Vec<_>>(),
        "outputs": info.outputs.iter().map(|o| serde_json::json!({
            "name": o.name, "description": o.description,
            "schema": o.schema.as_ref().map(|s| columns(s)),
        })).collect::<Vec<_>>(),
    })
}
