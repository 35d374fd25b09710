//! The objects an invocation is about, from the event that started it: an S3 event
//! notification (directly, or inside SQS or SNS), an EventBridge "Object Created" event, or
//! a Step Functions input (`{"bucket", "key"}`, or an S3 object record).

use serde_json::Value;

/// One object named by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    /// Absent when the event carried only the object record.
    pub bucket: Option<String>,
    /// The decoded key.
    pub key: String,
    pub etag: Option<String>,
    pub version: Option<String>,
    pub size: Option<u64>,
}

/// Every object the event names. S3 notifications URL-encode keys (`+` for a space);
/// EventBridge events and `{"bucket", "key"}` inputs do not.
/// An event that names no object this way: what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EventError(pub String);

pub fn parse(json: &str) -> Result<Vec<ObjectEvent>, EventError> {
    parse_text(json).map_err(EventError)
}

fn parse_text(json: &str) -> Result<Vec<ObjectEvent>, String> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| format!("the event is not JSON: {e}"))?;
    let mut found = Vec::new();
    collect(&value, &mut found)?;
    Ok(found)
}

fn collect(value: &Value, found: &mut Vec<ObjectEvent>) -> Result<(), String> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        return records
            .iter()
            .try_for_each(|record| collect_record(record, found));
    }
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(()); // sent once when a notification is configured
    }
    if let Some(detail) = value
        .get("detail")
        .filter(|_| value.get("source").and_then(Value::as_str) == Some("aws.s3"))
    {
        found.push(object(
            detail.get("bucket").and_then(|b| text(b, "name")),
            detail.get("object"),
            false,
        )?);
        return Ok(());
    }
    let bucket = match value.get("bucket") {
        Some(Value::String(name)) => Some(name.clone()),
        Some(b) => text(b, "name"),
        None => None,
    };
    if let Some(obj) = value.get("object") {
        found.push(object(bucket, Some(obj), true)?);
    } else if value.get("key").is_some() {
        // `{bucket, key}` carries a plain key; a bare object record (with its eTag or
        // sequencer) is copied from a notification and so is URL-encoded.
        let encoded =
            bucket.is_none() || value.get("eTag").is_some() || value.get("sequencer").is_some();
        found.push(object(bucket, Some(value), encoded)?);
    } else if let Some(items) = value.as_array() {
        for item in items {
            collect(item, found)?;
        }
    } else {
        return Err(format!(
            "not an S3, EventBridge or Step Functions object event: {}",
            shorten(value)
        ));
    }
    Ok(())
}

/// One record of an S3 notification, or an SQS or SNS envelope around more events.
fn collect_record(record: &Value, found: &mut Vec<ObjectEvent>) -> Result<(), String> {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(s3) = record.get("s3") {
        found.push(object(
            s3.get("bucket").and_then(|b| text(b, "name")),
            s3.get("object"),
            true,
        )?);
    } else if let Some(body) = text(record, "body") {
        collect(
            &serde_json::from_str(&body)
                .map_err(|e| format!("an SQS message body is not JSON: {e}"))?,
            found,
        )?;
    } else if let Some(message) = record.get("Sns").and_then(|s| text(s, "Message")) {
        collect(
            &serde_json::from_str(&message)
                .map_err(|e| format!("an SNS message is not JSON: {e}"))?,
            found,
        )?;
    }
    Ok(())
}

fn object(
    bucket: Option<String>,
    object: Option<&Value>,
    encoded: bool,
) -> Result<ObjectEvent, String> {
    let object = object.ok_or("the event names a bucket but no object")?;
    let raw = object
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the event's object has no key: {}", shorten(object)))?;
    let key = if encoded {
        url_decode(raw)?
    } else {
        raw.to_string()
    };
    let text = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| object.get(*n).and_then(Value::as_str))
            .map(str::to_owned)
    };
    Ok(ObjectEvent {
        bucket,
        key,
        etag: text(&["eTag", "etag"]),
        version: text(&["versionId", "version-id"]),
        size: object.get("size").and_then(Value::as_u64),
    })
}

/// Form decoding, as S3 notifications encode keys: `+` is a space, `%XX` a byte.
pub fn url_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(hex.ok_or_else(|| format!("bad escape in key {text:?}"))?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("key {text:?} does not decode to UTF-8"))
}

fn shorten(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 200 {
        format!("{}...", &text[..200])
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_as_s3_encodes_them() {
        assert_eq!(url_decode("a+b%2Bc%20d%C3%A9").unwrap(), "a b+c dé");
        assert!(url_decode("bad%2").is_err());
    }
}
