//! Transit's HTTP handlers, by family of paths, and what they share: base64 fields, batch
//! items, and OpenBao's batch status rule.

pub(super) mod crypt;
pub(super) mod export;
pub(super) mod hmac;
pub(super) mod keys;
pub(super) mod misc;
pub(super) mod sign;

use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::engine::{fields, EngineError, EngineResponse};
use crate::logical::{Body, Data};

/// Go's `base64.StdEncoding` on decode: padding required, non-zero trailing bits accepted,
/// and CR / LF anywhere skipped.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Decode standard base64 as Go does; the error is Go's text.
pub(super) fn b64(s: &str) -> Result<Vec<u8>, String> {
    let cleaned;
    let input = if s.contains(['\r', '\n']) {
        cleaned = s.replace(['\r', '\n'], "");
        cleaned.as_str()
    } else {
        s
    };
    GO_STD.decode(input).map_err(|e| {
        let at = match e {
            // A final `=` with more after it: Go reports the byte after the padding.
            base64::DecodeError::InvalidByte(at, b'=') if at % 4 == 3 => at + 1,
            base64::DecodeError::InvalidByte(at, _)
            | base64::DecodeError::InvalidLastSymbol(at, _) => at,
            // Go stops at the start of the quantum it could not complete.
            base64::DecodeError::InvalidLength(len) => len - len % 4,
            base64::DecodeError::InvalidPadding => match input.len() % 4 {
                0 => input.len().saturating_sub(4),
                r => input.len() - r,
            },
        };
        format!("illegal base64 data at input byte {at}")
    })
}

pub(super) fn b64_encode(b: &[u8]) -> String {
    general_purpose::STANDARD.encode(b)
}

/// A string field (`d.Get(...).(string)`), empty when absent.
pub(super) fn string(data: &Data, field: &str) -> Result<String, EngineError> {
    Ok(fields::string(data, field)?.unwrap_or_default())
}

/// An int field, 0 when absent.
pub(super) fn int(data: &Data, field: &str) -> Result<i64, EngineError> {
    Ok(fields::int(data, field)?.unwrap_or(0))
}

pub(super) fn boolean(data: &Data, field: &str) -> Result<bool, EngineError> {
    Ok(fields::boolean(data, field)?.unwrap_or(false))
}

pub(super) fn invalid(s: impl Into<String>) -> EngineError {
    EngineError::InvalidRequest(s.into())
}

/// `batch_input` as a list of objects, or `None` when the request has none.
pub(super) fn batch_input(data: &Data) -> Result<Option<Vec<Map<String, Value>>>, EngineError> {
    let Some(raw) = data.get("batch_input") else {
        return Ok(None);
    };
    let items = match raw {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        // Clients may send the list as a JSON string (the CLI's `batch_input=@file`).
        Value::String(s) => {
            return match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(items)) => objects(&items).map(Some),
                _ => Err(invalid(format!(
                    "failed to parse batch input: source data must be an array or slice, got {}",
                    fields::go_type(raw)
                ))),
            }
        }
        other => {
            return Err(invalid(format!(
                "failed to parse batch input: source data must be an array or slice, got {}",
                fields::go_type(other)
            )))
        }
    };
    objects(items).map(Some)
}

fn objects(items: &[Value]) -> Result<Vec<Map<String, Value>>, EngineError> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(m) => Ok(m.clone()),
            other => Err(invalid(format!(
                "failed to parse batch input: [{i}] expected a map, got '{}'",
                fields::go_type(other)
            ))),
        })
        .collect()
}

/// One string of a batch item (mapstructure's rules: absent or null is empty).
pub(super) fn item_string(
    item: &Map<String, Value>,
    key: &str,
    i: usize,
    errors: &mut Vec<String>,
) -> String {
    match item.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            errors.push(format!(
                "'[{i}].{key}' expected type 'string', got unconvertible type '{}'",
                fields::go_type(other)
            ));
            String::new()
        }
    }
}

/// One integer of a batch item.
pub(super) fn item_int(
    item: &Map<String, Value>,
    key: &str,
    i: usize,
    errors: &mut Vec<String>,
) -> i64 {
    match item.get(key) {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) => v,
            None => {
                errors.push(format!(
                    "error decoding json.Number into [{i}].{key}: strconv.ParseInt: parsing \"{n}\": invalid syntax"
                ));
                0
            }
        },
        Some(Value::String(s)) => match s.parse() {
            Ok(v) => v,
            Err(_) => {
                errors.push(format!(
                    "'[{i}].{key}' expected type 'int', got unconvertible type 'string'"
                ));
                0
            }
        },
        Some(other) => {
            errors.push(format!(
                "'[{i}].{key}' expected type 'int', got unconvertible type '{}'",
                fields::go_type(other)
            ));
            0
        }
    }
}

/// The parse errors of a batch, joined as Go's `errors.Join` inside OpenBao's wrapper.
pub(super) fn batch_parse_error(errors: Vec<String>) -> EngineError {
    invalid(format!(
        "failed to parse batch input: {}",
        errors.join("\n")
    ))
}

/// How a batch went: OpenBao answers 400 if any item failed for the caller's reasons,
/// else 500 if any failed inside, else 200 (`batchRequestResponse`), unless
/// `partial_failure_response_code` asks for another code when some items succeeded.
#[derive(Default)]
pub(super) struct Outcome {
    pub(super) successes: bool,
    pub(super) user_error: bool,
    pub(super) internal_error: bool,
}

pub(super) fn batch_response(
    data: Data,
    outcome: &Outcome,
    request: &Data,
) -> Result<EngineResponse, EngineError> {
    if !outcome.user_error && !outcome.internal_error {
        return Ok(EngineResponse::data(data));
    }
    let mut code = if outcome.user_error { 400 } else { 500 };
    let mut warnings = Vec::new();
    if outcome.successes {
        if let Some(v) = fields::int(request, "partial_failure_response_code")? {
            if (1..=599).contains(&v) {
                code = v as u16;
            } else {
                warnings.push(format!(
                    "invalid HTTP response code override from partial_failure_response_code, reverting to {code}"
                ));
            }
        }
    }
    Ok(EngineResponse {
        body: Body::Status(code, data),
        warnings,
        ..EngineResponse::default()
    })
}
