//! The Iceberg REST catalog (the Iceberg project's OpenAPI spec): the server owns the
//! metadata files; a client loads a table, creates it, and commits updates (a new schema,
//! a snapshot and the `main` ref) under requirements (the table's uuid and the snapshot
//! the commit started from) that the server checks atomically.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::IcebergError;

/// `rest_catalog = { uri = "https://…", namespace = "analytics", table = "orders" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestSpec {
    /// The catalog's base URI (`…/v1/namespaces/…` is appended).
    pub uri: String,
    pub namespace: String,
    /// The table's name (default: the pipeline's table name, and `TABLE_OUTPUT` for a
    /// plugin with several outputs).
    pub table: Option<String>,
    /// A bearer token, when the catalog asks for one (`token = "${CATALOG_TOKEN}"`).
    pub token: Option<String>,
}

/// One table of a REST catalog.
pub struct RestTable {
    pub spec: RestSpec,
    pub table: String,
    /// One client for the table's calls, so they share connections.
    agent: ureq::Agent,
}

impl RestTable {
    pub fn new(spec: RestSpec, table: String) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build();
        RestTable {
            spec,
            table,
            agent: ureq::Agent::new_with_config(config),
        }
    }

    fn error(&self, message: String) -> IcebergError {
        IcebergError::Table {
            table: format!(
                "{}.{} at {}",
                self.spec.namespace, self.table, self.spec.uri
            ),
            message,
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/v1/namespaces/{}{path}",
            self.spec.uri.trim_end_matches('/'),
            self.spec.namespace
        )
    }

    /// Sends a request; its HTTP status and JSON body (a JSON string when the body is
    /// not JSON).
    fn call(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), IcebergError> {
        let agent = &self.agent;
        let auth = self.spec.token.as_ref().map(|t| format!("Bearer {t}"));
        let sent = match (method, body) {
            ("GET", _) => {
                let mut request = agent.get(url);
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request.call()
            }
            (_, body) => {
                let mut request = agent.post(url).header("Content-Type", "application/json");
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request.send(body.map(Value::to_string).unwrap_or_default())
            }
        };
        let mut response = sent.map_err(|e| self.error(format!("{method} {url}: {e}")))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| self.error(format!("{method} {url}: {e}")))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    fn expect_ok(
        &self,
        what: &str,
        (status, body): (u16, Value),
    ) -> Result<(String, Value), IcebergError> {
        if !(200..300).contains(&status) {
            let message = body["error"]["message"]
                .as_str()
                .map_or_else(|| body.to_string(), str::to_string);
            return Err(self.error(format!("{what}: HTTP {status}: {message}")));
        }
        let location = body["metadata-location"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok((location, body["metadata"].clone()))
    }

    /// The table's metadata location and metadata; `None` when the catalog has no table.
    pub fn load(&self) -> Result<Option<(String, Value)>, IcebergError> {
        let answer = self.call("GET", &self.url(&format!("/tables/{}", self.table)), None)?;
        if answer.0 == 404 {
            return Ok(None);
        }
        self.expect_ok("loading the table", answer).map(Some)
    }

    /// Creates the namespace (if missing) and the table at `location`.
    pub fn create(
        &self,
        location: &str,
        schema: &Value,
        spec: &Value,
    ) -> Result<(String, Value), IcebergError> {
        let namespaces = format!("{}/v1/namespaces", self.spec.uri.trim_end_matches('/'));
        let made = self.call(
            "POST",
            &namespaces,
            Some(&json!({"namespace": [self.spec.namespace]})),
        )?;
        if made.0 != 409 {
            self.expect_ok("creating the namespace", made)?;
        }
        let body = json!({
            "name": self.table,
            "location": location,
            "schema": schema,
            "partition-spec": spec,
            "properties": {"write.format.default": "parquet"},
        });
        let created = self.call("POST", &self.url("/tables"), Some(&body))?;
        self.expect_ok("creating the table", created)
    }

    /// Commits `updates` if `requirements` hold; the new metadata location.
    pub fn commit(&self, requirements: Value, updates: Value) -> Result<String, IcebergError> {
        let identifier = json!({"namespace": [self.spec.namespace], "name": self.table});
        let body =
            json!({"identifier": identifier, "requirements": requirements, "updates": updates});
        let answer = self.call(
            "POST",
            &self.url(&format!("/tables/{}", self.table)),
            Some(&body),
        )?;
        if answer.0 == 409 {
            return Err(self.error("the table moved on while this run committed; run again".into()));
        }
        self.expect_ok("committing", answer)
            .map(|(location, _)| location)
    }
}

/// The updates that turn `before` into `after` (its new schemas and its last snapshot),
/// and the requirements that `before` is still the table.
pub fn changes(before: &Value, after: &Value) -> (Value, Value) {
    let known: Vec<&Value> = before["schemas"]
        .as_array()
        .map(|s| s.iter().map(|s| &s["schema-id"]).collect())
        .unwrap_or_default();
    let mut updates = Vec::new();
    for schema in after["schemas"].as_array().into_iter().flatten() {
        if !known.contains(&&schema["schema-id"]) {
            updates.push(json!({"action": "add-schema", "schema": schema, "last-column-id": after["last-column-id"]}));
            updates.push(json!({"action": "set-current-schema", "schema-id": -1}));
        }
    }
    let snapshot = after["snapshots"]
        .as_array()
        .and_then(|s| s.last())
        .cloned()
        .unwrap_or_default();
    let id = snapshot["snapshot-id"].clone();
    updates.push(json!({"action": "add-snapshot", "snapshot": snapshot}));
    updates.push(json!({"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": id}));
    let current = before["refs"]["main"]["snapshot-id"].clone();
    let requirements = json!([
        {"type": "assert-table-uuid", "uuid": before["table-uuid"]},
        {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": current},
    ]);
    (requirements, Value::Array(updates))
}
