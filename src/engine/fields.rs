//! Lenient input helpers, as OpenBao's framework coerces request fields: integers and
//! booleans also arrive as strings, durations as Go duration strings or seconds, lists as
//! comma-separated strings. Each helper says what was wrong in OpenBao's words.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::EngineError;
pub(crate) use crate::logical::multierror;
use crate::logical::Data;

fn invalid(field: &str, why: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidRequest(format!("error converting input for field {field:?}: {why}"))
}

/// Go's texts, which clients and operators already know.
const NOT_AN_INT: &str = "'' cannot parse value as 'int': strconv.ParseInt: invalid syntax";
const NOT_A_BOOL: &str = "'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax";

/// An integer field, from a JSON number or a numeric string.
pub(crate) fn int(data: &Data, field: &str) -> Result<Option<i64>, EngineError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => int_value(v)
            .map(Some)
            .ok_or_else(|| invalid(field, NOT_AN_INT)),
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
        Some(Value::String(s)) => match s.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Some(true)),
            "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Some(false)),
            _ => Err(invalid(field, NOT_A_BOOL)),
        },
        Some(Value::Number(n)) => Ok(Some(n.as_f64() != Some(0.0))),
        Some(_) => Err(invalid(field, NOT_A_BOOL)),
    }
}

/// A duration field: a Go duration string (`"1h30m"`), or seconds as a number or string.
/// Negative durations are refused.
pub(crate) fn duration(data: &Data, field: &str) -> Result<Option<Duration>, EngineError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => duration_value(v)
            .map(Some)
            .map_err(|why| invalid(field, why)),
    }
}

/// A duration from one JSON value; the error is Go's text.
pub(crate) fn duration_value(v: &Value) -> Result<Duration, String> {
    let d = duration_unbounded(v)?;
    // Go's `time.Duration` ends at about 292 years; past it Go refuses the value, and
    // everything downstream may add seconds to a timestamp without overflowing.
    if d > GO_MAX_DURATION {
        return Err(format!(
            "time: invalid duration \"{}\"",
            weak_string(v).unwrap_or_default()
        ));
    }
    Ok(d)
}

/// `math.MaxInt64` nanoseconds, whole seconds.
const GO_MAX_DURATION: Duration = Duration::from_secs(9_223_372_036);

fn duration_unbounded(v: &Value) -> Result<Duration, String> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(secs) if secs >= 0 => Ok(Duration::from_secs(secs as u64)),
            Some(secs) => Err(format!("cannot provide negative value '{secs}'")),
            None => Err(format!("time: invalid duration \"{n}\"")),
        },
        Value::String(s) if s.trim().is_empty() => Ok(Duration::ZERO),
        Value::String(s) => {
            if let Some(d) = s.trim().strip_prefix('-').and_then(crate::duration::parse) {
                return Err(format!("cannot provide negative value '-{}'", d.as_secs()));
            }
            crate::duration::parse(s).ok_or_else(|| format!("time: invalid duration {s:?}"))
        }
        other => Err(format!("time: invalid duration \"{other}\"")),
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
            format!(
                "'' expected type 'string', got unconvertible type '{}'",
                go_type(v)
            ),
        )),
    }
}

/// A map of strings to strings (`custom_metadata`). Numbers and booleans become strings, as
/// Go's weak decoding turns them (`true` is `"1"`); nested values are refused.
pub(crate) fn string_map(
    data: &Data,
    field: &str,
) -> Result<Option<BTreeMap<String, String>>, EngineError> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                weak_string(v).map(|s| (k.clone(), s)).ok_or_else(|| {
                    EngineError::InvalidRequest(format!(
                        "{field} validation failed: '' expected type 'string', got unconvertible type '{}'",
                        go_type(v)
                    ))
                })
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(v) => Err(invalid(
            field,
            format!(
                "'' expected type 'map[string]interface {{}}', got unconvertible type '{}'",
                go_type(v)
            ),
        )),
    }
}

/// Go's weak decoding of a scalar into a string.
pub(crate) fn weak_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("1".into()),
        Value::Bool(false) => Some("0".into()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// The Go type name OpenBao's decoding errors mention.
pub(crate) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
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
        Some(_) => return Err(invalid(field, NOT_AN_INT)),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            int_value(v).ok_or_else(|| {
                invalid(
                    field,
                    format!(
                        "decoding failed due to the following error(s):\n\n'[{i}]' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
                    ),
                )
            })
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
        Some(Value::Array(a)) => Ok(Some(
            a.iter()
                .map(|v| weak_string(v).unwrap_or_else(|| v.to_string()))
                .collect(),
        )),
        Some(v) => Err(invalid(
            field,
            format!(
                "'' expected type '[]string', got unconvertible type '{}'",
                go_type(v)
            ),
        )),
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
    fn custom_metadata_values_become_strings() {
        let d = data(json!({"ok": {"a": "b", "n": 1, "t": true}, "bad": {"a": {}}, "list": [1]}));
        let ok = string_map(&d, "ok").expect("ok").expect("some");
        assert_eq!(
            (ok["a"].as_str(), ok["n"].as_str(), ok["t"].as_str()),
            ("b", "1", "1")
        );
        assert!(string_map(&d, "bad").is_err());
        assert!(string_map(&d, "list").is_err());
    }

    #[test]
    fn multierror_matches_go() {
        assert_eq!(multierror(&["x".into()]), "1 error occurred:\n\t* x\n\n");
        assert_eq!(
            multierror(&["x".into(), "y".into()]),
            "2 errors occurred:\n\t* x\n\t* y\n\n"
        );
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
