//! The name of a unit of work: the same inputs, through the same plugin and config, into
//! the same output settings always give the same unit, and so the same keys.
//!
//! The id hashes a canonical JSON form: object keys sorted (so the order of keys in a
//! config does not matter), options at their defaults left out (so a release that adds an
//! option does not change any id), and a version that changes only on purpose. A test pins
//! a known id.

use std::fmt;
use std::sync::{Arc, LazyLock};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The version of the unit key's form. Changing it changes every unit id, so every input
/// would be processed again after an upgrade: only ever on purpose.
pub const UNIT_KEY_VERSION: u32 = 1;

/// One input of a unit.
#[derive(Serialize)]
pub struct UnitInput {
    pub name: String,
    /// How its bytes are decoded: the options that differ from their defaults.
    pub decoding: Value,
    /// (uri, content identity) of every object read.
    pub objects: Vec<(String, String)>,
    /// Its quality rules, when it has any (they decide which rows are rejected).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub quality: Value,
}

/// Everything that decides the bytes a table run writes.
#[derive(Serialize)]
pub struct UnitKey<'a> {
    pub table: &'a str,
    pub tenant: &'a str,
    pub version: Option<&'a str>,
    pub inputs: Vec<UnitInput>,
    pub plugin_sha256: &'a str,
    pub contract: &'a str,
    /// The plugin config, as canonical JSON.
    pub config: Value,
    /// The variables the plugin sees as params.
    pub params: Vec<(&'a str, &'a str)>,
    /// The output encoding: the settings that differ from their defaults.
    pub output: Value,
}

impl UnitKey<'_> {
    /// 128 bits of the canonical key's sha256 in hex: short enough for object keys, long
    /// enough to never collide within a table.
    pub fn id(&self) -> String {
        let canonical = serde_json::json!({ "unit_key_version": UNIT_KEY_VERSION, "key": self });
        // `Value`'s maps are sorted (no `preserve_order`), so this text is canonical.
        let text = serde_json::to_string(&canonical).expect("a unit key serialises");
        hex::encode(&Sha256::digest(text.as_bytes())[..16])
    }
}

/// A unit's id, known already or computed the first time it is asked for.
///
/// A local input's identity is the sha256 of its bytes: one pass over the file. Append
/// mode needs the id before reading (a committed unit is skipped, and data files are named
/// after it), but replace mode needs it only in the commit's manifest, so there the stream
/// hashes the bytes as it reads them instead of a pass before it. Every clone shares the
/// one computation;
/// a caller that asks while it runs waits for it.
#[derive(Clone)]
pub struct UnitId(Arc<LazyLock<String, Box<dyn FnOnce() -> String + Send>>>);

impl UnitId {
    pub fn known(id: String) -> Self {
        UnitId(Arc::new(LazyLock::new(Box::new(move || id))))
    }

    /// An id computed by `compute` when first asked for.
    pub fn deferred(compute: impl FnOnce() -> String + Send + 'static) -> Self {
        UnitId(Arc::new(LazyLock::new(Box::new(compute))))
    }

    pub fn get(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl From<&str> for UnitId {
    fn from(id: &str) -> Self {
        UnitId::known(id.to_string())
    }
}

/// The fields of `value` that differ from `default`'s, as JSON: what a unit key records of
/// a set of options.
pub fn non_default<T: Serialize>(value: &T, default: &T) -> Value {
    let (Ok(Value::Object(mut fields)), Ok(Value::Object(defaults))) =
        (serde_json::to_value(value), serde_json::to_value(default))
    else {
        return serde_json::to_value(value).unwrap_or(Value::Null);
    };
    fields.retain(|name, v| defaults.get(name) != Some(v));
    Value::Object(fields)
}

/// JSON text as canonical JSON (keys sorted); text that is not JSON is kept as a string.
pub fn canonical_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(identity: &str, config: &str, decoding: Value) -> String {
        UnitKey {
            table: "t",
            tenant: "default",
            version: None,
            inputs: vec![UnitInput {
                name: "rows".into(),
                decoding,
                quality: Value::Null,
                objects: vec![("s3://b/k.csv".into(), identity.into())],
            }],
            plugin_sha256: "p",
            contract: "0.1.0",
            config: canonical_json(config),
            params: vec![],
            output: serde_json::json!({}),
        }
        .id()
    }

    #[test]
    fn the_same_inputs_give_the_same_unit_and_new_content_a_new_one() {
        let none = || serde_json::json!({});
        assert_eq!(
            key("\"etag1\"", "{}", none()),
            key("\"etag1\"", "{}", none())
        );
        assert_ne!(
            key("\"etag1\"", "{}", none()),
            key("\"etag2\"", "{}", none())
        );
        assert_eq!(key("x", "{}", none()).len(), 32);
    }

    /// The id of a fixed key never changes: a release that changes it would make every
    /// committed input look new, and append it again.
    #[test]
    fn a_known_key_keeps_its_id() {
        assert_eq!(
            key(
                "\"etag1\"",
                r#"{"a": 1, "b": [1, 2]}"#,
                serde_json::json!({})
            ),
            PINNED
        );
    }

    const PINNED: &str = "b7534e1212296eee941c0e4688cf7a38";

    #[test]
    fn a_deferred_id_is_computed_once_and_shared_by_its_clones() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let id = UnitId::deferred(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            "u7".to_string()
        });
        let clone = id.clone();
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
        let other = std::thread::spawn(move || clone.get().to_string());
        assert_eq!(id.to_string(), "u7");
        assert_eq!(other.join().unwrap(), "u7");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn key_order_and_default_options_do_not_change_the_id() {
        let none = serde_json::json!({});
        assert_eq!(
            key("e", r#"{"a": 1, "b": 2}"#, none.clone()),
            key("e", r#"{"b":2,"a":1}"#, none.clone())
        );
        assert_ne!(
            key("e", r#"{"a": 1}"#, none.clone()),
            key("e", r#"{"a": 2}"#, none)
        );

        #[derive(Serialize)]
        struct Options {
            delimiter: char,
            header: bool,
        }
        let default = Options {
            delimiter: ',',
            header: true,
        };
        assert_eq!(
            non_default(
                &Options {
                    delimiter: ',',
                    header: true
                },
                &default
            ),
            serde_json::json!({})
        );
        let tabs = non_default(
            &Options {
                delimiter: '\t',
                header: true,
            },
            &default,
        );
        assert_eq!(tabs, serde_json::json!({"delimiter": "\t"}));
    }
}
