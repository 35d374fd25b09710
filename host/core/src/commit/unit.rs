//! The name of a unit of work: the same inputs, through the same plugin and config, into
//! the same output settings always give the same unit, and so the same keys.

use sha2::{Digest, Sha256};

/// Everything that decides the bytes a table run writes.
#[derive(serde::Serialize)]
pub struct UnitKey<'a> {
    pub table: &'a str,
    pub tenant: &'a str,
    pub version: Option<&'a str>,
    /// (input name, decoding options, [(uri, content identity)]).
    pub inputs: Vec<(String, String, Vec<(String, String)>)>,
    pub plugin_sha256: &'a str,
    pub contract: &'a str,
    pub config_json: &'a str,
    /// The variables the plugin sees as params.
    pub params: Vec<(&'a str, &'a str)>,
    pub output: String,
}

impl UnitKey<'_> {
    /// 128 bits of the key's sha256 in hex: short enough for object keys, long enough to
    /// never collide within a table.
    pub fn id(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("a unit key serialises");
        hex::encode(&Sha256::digest(&canonical)[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(identity: &str) -> String {
        UnitKey {
            table: "t",
            tenant: "default",
            version: None,
            inputs: vec![("rows".into(), "csv".into(), vec![("s3://b/k.csv".into(), identity.into())])],
            plugin_sha256: "p",
            contract: "0.1.0",
            config_json: "{}",
            params: vec![],
            output: "zstd".into(),
        }
        .id()
    }

    #[test]
    fn the_same_inputs_give_the_same_unit_and_new_content_a_new_one() {
        assert_eq!(key("\"etag1\""), key("\"etag1\""));
        assert_ne!(key("\"etag1\""), key("\"etag2\""));
        assert_eq!(key("x").len(), 32);
    }
}
