//! Response wrapping: an answer put away in the cubbyhole of a fresh single-use token, which
//! is handed out instead (`wrap_info`), and `sys/wrapping/*`'s ways to look at, re-wrap and
//! unwrap it.
//!
//! The wrapping token carries only the `response-wrapping` policy and one use; its record
//! of the answer sits at `response` in its cubbyhole, sealed by the barrier like any other
//! value, and disappears with the token.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::engine::{rfc3339_nano, EngineError};
use crate::logical::storage::Storage;
use crate::logical::{Auth, Body, Data, Response, WrapInfo};
use crate::policy::RESPONSE_WRAPPING;
use crate::secrets::cubbyhole;
use crate::token::{TokenEntry, TokenStore};

const RECORD: &str = "response";
const INVALID: &str = "wrapping token is not valid or does not exist";

/// The answer as it is kept until unwrapped.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Wrapped {
    pub(crate) data: Option<Data>,
    pub(crate) auth: Option<Auth>,
    pub(crate) lease_id: String,
    pub(crate) lease_duration: u64,
    pub(crate) renewable: bool,
    pub(crate) warnings: Vec<String>,
}

/// What `sys/wrapping/lookup` reports, and the wrapped answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) creation_path: String,
    pub(crate) creation_time: String,
    pub(crate) creation_ttl: u64,
    pub(crate) response: Wrapped,
}

/// Whether an answer can be wrapped: only answers with something in them, as in OpenBao
/// (a 204 or an error goes back as it is).
pub(crate) fn wrappable(resp: &Response) -> bool {
    matches!(resp.body, Body::Data(_)) || resp.auth.is_some()
}

/// Put `resp` away and answer with its wrapping token.
pub(crate) async fn wrap(
    tokens: &TokenStore,
    cubby: &dyn Storage,
    resp: Response,
    ttl: Duration,
    creation_path: &str,
    now: OffsetDateTime,
) -> Result<Response, EngineError> {
    let wrapped_accessor = match &resp.auth {
        Some(a) => a.accessor.clone(),
        None => resp.wrapped_accessor.clone(),
    };
    let response = Wrapped {
        data: match resp.body {
            Body::Data(d) => Some(d),
            _ => None,
        },
        auth: resp.auth,
        lease_id: resp.lease_id,
        lease_duration: resp.lease_duration,
        renewable: resp.renewable,
        warnings: resp.warnings,
    };
    let record = Record {
        creation_path: creation_path.to_owned(),
        creation_time: rfc3339_nano(now),
        creation_ttl: ttl.as_secs(),
        response,
    };
    let info = store(tokens, cubby, &record, ttl, now).await?;
    Ok(Response {
        wrap_info: Some(WrapInfo {
            wrapped_accessor,
            ..info
        }),
        ..Response::default()
    })
}

/// Mint a wrapping token and keep `record` in its cubbyhole.
async fn store(
    tokens: &TokenStore,
    cubby: &dyn Storage,
    record: &Record,
    ttl: Duration,
    now: OffsetDateTime,
) -> Result<WrapInfo, EngineError> {
    let (id, entry) = tokens
        .create_wrapping_token(ttl, &record.creation_path, now)
        .await?;
    let bytes = Zeroizing::new(serde_json::to_vec(record).unwrap_or_default());
    let key = format!("{}{RECORD}", cubbyhole::prefix(&entry.salted_id));
    cubby.put(&key, &bytes).await?;
    Ok(WrapInfo {
        token: id.to_string(),
        accessor: entry.accessor.clone(),
        ttl: ttl.as_secs(),
        creation_time: record.creation_time.clone(),
        creation_path: record.creation_path.clone(),
        wrapped_accessor: String::new(),
    })
}

/// The wrapping token `id` and its record, or OpenBao's "not valid" error.
pub(crate) async fn lookup(
    tokens: &TokenStore,
    cubby: &dyn Storage,
    id: &str,
) -> Result<(TokenEntry, Record), EngineError> {
    let invalid = || EngineError::InvalidRequest(INVALID.into());
    if id.is_empty() {
        return Err(invalid());
    }
    // Read past the use count: unwrapping with the wrapping token itself has just spent
    // its one use, and the pipeline revokes it once this request is done.
    let now = crate::token::nanos(tokens.now());
    let entry = tokens
        .read(&tokens.salted(id))
        .await?
        .filter(|e| !e.expired(now))
        .ok_or_else(invalid)?;
    if entry.policies.len() != 1 || entry.policies[0] != RESPONSE_WRAPPING {
        return Err(invalid());
    }
    let key = format!("{}{RECORD}", cubbyhole::prefix(&entry.salted_id));
    let raw = cubby.get(&key).await?.ok_or_else(invalid)?;
    let record = serde_json::from_slice(&raw).map_err(|_| invalid())?;
    Ok((entry.clone(), record))
}

/// Take the answer out and end the wrapping token: single use.
pub(crate) async fn unwrap(
    tokens: &TokenStore,
    cubby: &dyn Storage,
    id: &str,
) -> Result<Response, EngineError> {
    let (entry, record) = lookup(tokens, cubby, id).await?;
    end(tokens, cubby, &entry, id).await?;
    let w = record.response;
    Ok(Response {
        body: match w.data {
            Some(d) => Body::Data(d),
            None => Body::NoContent,
        },
        auth: w.auth,
        lease_id: w.lease_id,
        lease_duration: w.lease_duration,
        renewable: w.renewable,
        warnings: w.warnings,
        ..Response::default()
    })
}

/// `sys/wrapping/rewrap`: the same answer under a new token; the old one ends.
pub(crate) async fn rewrap(
    tokens: &TokenStore,
    cubby: &dyn Storage,
    id: &str,
    now: OffsetDateTime,
) -> Result<Response, EngineError> {
    let (entry, record) = lookup(tokens, cubby, id).await?;
    let ttl = Duration::from_secs(record.creation_ttl);
    let fresh = Record {
        creation_time: rfc3339_nano(now),
        ..record
    };
    let info = store(tokens, cubby, &fresh, ttl, now).await?;
    end(tokens, cubby, &entry, id).await?;
    Ok(Response {
        wrap_info: Some(info),
        ..Response::default()
    })
}

async fn end(
    tokens: &TokenStore,
    cubby: &dyn Storage,
    entry: &TokenEntry,
    id: &str,
) -> Result<(), EngineError> {
    cubbyhole::destroy(cubby, &entry.salted_id).await?;
    tokens.revoke_wrapping_token(id).await?;
    Ok(())
}
