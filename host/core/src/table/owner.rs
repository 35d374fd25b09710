//! The record of which table a location holds (`_sluice/table.json`), and how that table
//! names its local inputs' content.
//!
//! Written when a run commits, checked when the next one starts, so two pipelines writing
//! one folder under different table names do not each replace the other's files (or mix
//! their datasets), every run succeeding. It also fixes the table's [`ContentHash`]: a
//! commit unit is named after its inputs' digests, so a table must keep the algorithm its
//! commits used or a rerun over the same files would not find its unit and append them
//! again.

use crate::commit::{Manifest, STATE_DIR};
use crate::run::TableError;
use crate::source::ContentHash;
use crate::storage::{join_key, Precondition, Store};

/// What the location says about its table.
pub(super) struct Owner {
    /// Whether the location already records this table.
    pub recorded: bool,
    /// How this table names a local file's content.
    pub content_hash: ContentHash,
}

impl Owner {
    /// Reads the location's record; an error when it holds another table.
    pub fn check(
        tenant: &str,
        table: &str,
        store: &dyn Store,
        root: &str,
    ) -> Result<Owner, TableError> {
        let found = store.get(&key(root))?;
        let holder = found.and_then(|f| serde_json::from_slice::<serde_json::Value>(&f.body).ok());
        let Some(holder) = holder else {
            // New, or unreadable (written again at the commit): what its commits used.
            return Ok(Owner {
                recorded: false,
                content_hash: hash_of_location(store, root)?,
            });
        };
        if holder["tenant"] != tenant || holder["table"] != table {
            return Err(TableError::Config(format!(
                "{} holds table `{}` of tenant `{}`; give each table its own output.location",
                store.uri(root),
                holder["table"].as_str().unwrap_or("?"),
                holder["tenant"].as_str().unwrap_or("?")
            )));
        }
        // A record from before the field: the table's commits named files by SHA-256.
        let named = holder["identity"].as_str().and_then(ContentHash::parse);
        Ok(Owner {
            recorded: true,
            content_hash: named.unwrap_or(ContentHash::Sha256),
        })
    }

    /// Records the table as the location's holder; called when a run commits.
    pub fn record(
        &self,
        tenant: &str,
        table: &str,
        store: &dyn Store,
        root: &str,
    ) -> Result<(), TableError> {
        if self.recorded {
            return Ok(());
        }
        let record = serde_json::json!({
            "tenant": tenant,
            "table": table,
            "identity": self.content_hash.name(),
        });
        let body = bytes::Bytes::from(record.to_string());
        store.put(&key(root), body, Precondition::None)?;
        Ok(())
    }
}

fn key(root: &str) -> String {
    join_key(root, &format!("{STATE_DIR}/table.json"))
}

/// A location without a record: the algorithm of the identities its append-mode commits
/// recorded, SHA-256 when it holds data files but no commit of Sluice's (an Iceberg table,
/// whose snapshots record unit ids only), BLAKE3 when it holds no data: a table written
/// before the record existed keeps its units. One commit says it: a table's inputs are all
/// local files or all S3 objects (whose ETags are untagged).
fn hash_of_location(store: &dyn Store, root: &str) -> Result<ContentHash, TableError> {
    let commits = store.list(&join_key(root, &format!("{STATE_DIR}/commits/")))?;
    for commit in commits.iter().filter(|c| c.key.ends_with(".json")) {
        let found = store.get(&commit.key)?;
        let Some(manifest) = found.and_then(|f| serde_json::from_slice::<Manifest>(&f.body).ok())
        else {
            continue;
        };
        let mut identities = manifest.inputs.iter().flat_map(|(_, objects)| objects);
        let tagged = identities.find_map(|(_, identity)| ContentHash::of_identity(identity));
        return Ok(tagged.unwrap_or(ContentHash::Blake3));
    }
    // Listed as a folder (a trailing `/`, so a sibling `root2/` is not in it).
    let folder = match root.trim_end_matches('/') {
        "" => String::new(),
        root => format!("{root}/"),
    };
    let state = join_key(root, &format!("{STATE_DIR}/"));
    let data = store.list(&folder)?;
    match data.iter().any(|object| !object.key.starts_with(&state)) {
        true => Ok(ContentHash::Sha256),
        false => Ok(ContentHash::Blake3),
    }
}
