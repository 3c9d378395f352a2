//! Lenient input helpers, as OpenBao's framework coerces request fields: integers and
//! booleans also arrive as strings, durations as Go duration strings or seconds, lists as
//! comma-separated strings. Each helper says what was wrong in OpenBao's words.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::EngineError;
use crate::logical::Data;

fn invalid(field: &str, why: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidRequest(format!("error converting input for field {field:?}: {why}"))
}

/// An integer field, from a JSON number or a numeric string.
pub(crate) fn int(data: &Data, field: &str) -> Result<Option<i64>, EngineError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => int_value(v)
            .map(Some)
            .ok_or_else(|| invalid(field, format!("cannot parse '{}' as int", display(v)))),
    }
}

fn int_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) if s.trim().is_empty() => Some(0),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean field, from a JSON bool or a string such as `"true"` / `"0"`.
pub(crate) fn boolean(data: &Data, field: &str) -> Result<Option<bool>, EngineError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v @ Value::String(s)) => match s.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Some(true)),
            "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Some(false)),
            _ => Err(invalid(
                field,
                format!("cannot parse '{}' as bool", display(v)),
            )),
        },
        Some(Value::Number(n)) => Ok(Some(n.as_f64() != Some(0.0))),
        Some(v) => Err(invalid(
            field,
            format!("cannot parse '{}' as bool", display(v)),
        )),
    }
}

/// A duration field: a Go duration string (`"1h30m"`), or seconds as a number or string.
/// Negative durations are refused.
pub(crate) fn duration(data: &Data, field: &str) -> Result<Option<Duration>, EngineError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(secs) if secs >= 0 => Ok(Some(Duration::from_secs(secs as u64))),
            _ => Err(invalid(field, "duration cannot be negative")),
        },
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(Duration::ZERO)),
        Some(Value::String(s)) => {
            if s.trim_start().starts_with('-') {
                return Err(invalid(field, "duration cannot be negative"));
            }
            crate::duration::parse(s)
                .map(Some)
                .ok_or_else(|| invalid(field, format!("time: invalid duration {s:?}")))
        }
        Some(v) => Err(invalid(
            field,
            format!("cannot parse '{}' as duration", display(v)),
        )),
    }
}

/// A string field; numbers and booleans are turned into their text, as Go's weak decoding does.
pub(crate) fn string(data: &Data, field: &str) -> Result<Option<String>, EngineError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(v) => Err(invalid(
            field,
            format!("'{}' expected type 'string'", display(v)),
        )),
    }
}

/// A map of strings to strings (`custom_metadata`). Non-string values are refused.
pub(crate) fn string_map(
    data: &Data,
    field: &str,
) -> Result<Option<BTreeMap<String, String>>, EngineError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(invalid(
                    field,
                    format!("'{k}' expected type 'string', got '{}'", kind(other)),
                )),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(v) => Err(invalid(
            field,
            format!("'' expected a map, got '{}'", kind(v)),
        )),
    }
}

/// A list of integers (KV v2 `versions`): JSON numbers or numeric strings, or one
/// comma-separated string. The CLI sends `["1","2"]`.
pub(crate) fn int_list(data: &Data, field: &str) -> Result<Vec<i64>, EngineError> {
    let items: Vec<Value> = match data.get(field) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| Value::String(p.to_owned()))
            .collect(),
        Some(v @ Value::Number(_)) => vec![v.clone()],
        Some(v) => {
            return Err(invalid(
                field,
                format!("cannot parse '{}' as int", display(v)),
            ))
        }
    };
    items
        .iter()
        .map(|v| {
            int_value(v)
                .ok_or_else(|| invalid(field, format!("cannot parse '{}' as int", display(v))))
        })
        .collect()
}

/// A list of strings: a JSON array, or one comma-separated string.
pub(crate) fn string_list(data: &Data, field: &str) -> Result<Option<Vec<String>>, EngineError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Ok(other.to_string()),
            })
            .collect::<Result<_, EngineError>>()
            .map(Some),
        Some(v) => Err(invalid(field, format!("'{}' expected a list", display(v)))),
    }
}

/// The warning OpenBao's framework attaches for request fields no path declared.
pub(crate) fn unknown_fields_warning(data: &Data, known: &[&str]) -> Option<String> {
    let unknown: Vec<&str> = data
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    (!unknown.is_empty()).then(|| {
        format!(
            "Endpoint ignored these unrecognized parameters: [{}]",
            unknown.join(" ")
        )
    })
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data(v: Value) -> Data {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn ints_and_bools_accept_strings() {
        let d = data(json!({"a": 3, "b": "4", "c": "x", "t": "true", "f": false}));
        assert_eq!(int(&d, "a").expect("a"), Some(3));
        assert_eq!(int(&d, "b").expect("b"), Some(4));
        assert!(int(&d, "c").is_err());
        assert_eq!(int(&d, "missing").expect("missing"), None);
        assert_eq!(boolean(&d, "t").expect("t"), Some(true));
        assert_eq!(boolean(&d, "f").expect("f"), Some(false));
        assert!(boolean(&d, "c").is_err());
    }

    #[test]
    fn durations_are_go_strings_or_seconds() {
        let d = data(json!({"a": "1h", "b": 30, "c": "-1s", "d": "soon", "e": "90"}));
        assert_eq!(
            duration(&d, "a").expect("a"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(duration(&d, "b").expect("b"), Some(Duration::from_secs(30)));
        assert!(duration(&d, "c").is_err());
        assert!(duration(&d, "d").is_err());
        assert_eq!(duration(&d, "e").expect("e"), Some(Duration::from_secs(90)));
    }

    #[test]
    fn version_lists_from_the_cli_and_from_hvac() {
        let d = data(json!({"cli": ["1", "2"], "hvac": [3], "csv": "4,5", "bad": ["x"]}));
        assert_eq!(int_list(&d, "cli").expect("cli"), vec![1, 2]);
        assert_eq!(int_list(&d, "hvac").expect("hvac"), vec![3]);
        assert_eq!(int_list(&d, "csv").expect("csv"), vec![4, 5]);
        assert!(int_list(&d, "bad").is_err());
        assert!(int_list(&d, "none").expect("none").is_empty());
    }

    #[test]
    fn custom_metadata_must_be_strings() {
        let d = data(json!({"ok": {"a": "b"}, "bad": {"a": 1}, "list": [1]}));
        assert_eq!(string_map(&d, "ok").expect("ok").expect("some")["a"], "b");
        assert!(string_map(&d, "bad").is_err());
        assert!(string_map(&d, "list").is_err());
    }

    #[test]
    fn unknown_fields_are_named() {
        let d = data(json!({"data": {}, "zzz": 1, "extra": 2}));
        let w = unknown_fields_warning(&d, &["data", "options"]).expect("warning");
        assert!(w.starts_with("Endpoint ignored these unrecognized parameters: ["));
        assert!(w.contains("zzz") && w.contains("extra"));
        assert!(unknown_fields_warning(&d, &["data", "zzz", "extra"]).is_none());
    }
}
