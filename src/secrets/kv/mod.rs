//! The KV engines: unversioned (v1) and versioned (v2), one mount type `kv` told apart by
//! `options.version`, as in OpenBao.
//!
//! On-disk layout inside the mount's view (ours, not OpenBao's; clients never see it):
//! - v1: `v1/<key>` holds the JSON object written.
//! - v2: `config`; `m/<key>` the key's metadata; `d/<key>@<version>` one version's data.
//!
//! Keeping v1 under its own prefix makes the v1 → v2 upgrade ([`upgrade_to_v2`]) a copy that
//! cannot collide with v2 records, and that can be repeated if it is interrupted.

pub(crate) mod v1;
pub(crate) mod v2;

use std::collections::BTreeMap;

pub(crate) use v1::KvV1;
pub(crate) use v2::KvV2;

use crate::engine::EngineError;
use crate::logical::storage::{list_tree, Storage, StorageOp};

/// The KV version a mount's options ask for: `"1"` when absent. Errors are OpenBao's texts.
pub(crate) fn version(options: &BTreeMap<String, String>) -> Result<u8, EngineError> {
    let Some(raw) = options.get("version").filter(|v| !v.is_empty()) else {
        return Ok(1);
    };
    match raw.parse::<i64>() {
        Ok(1) => Ok(1),
        Ok(2) => Ok(2),
        Ok(other) => Err(EngineError::InvalidRequest(format!(
            "invalid version provided: {other}"
        ))),
        Err(_) => Err(EngineError::InvalidRequest(format!(
            "unable to parse options: strconv.ParseInt: parsing {raw:?}: invalid syntax"
        ))),
    }
}

/// Rewrite every v1 key as version 1 of a v2 key, then drop the v1 records. Each key moves
/// in one atomic batch (write v2, delete v1), so an interruption leaves every key in exactly
/// one layout and running it again finishes the job.
pub(crate) async fn upgrade_to_v2(
    storage: &dyn Storage,
    now: time::OffsetDateTime,
) -> Result<usize, EngineError> {
    let keys = list_tree(storage, v1::PREFIX).await?;
    for key in &keys {
        let v1_key = format!("{}{key}", v1::PREFIX);
        let Some(value) = storage.get(&v1_key).await? else {
            continue;
        };
        let mut ops = v2::import_ops(key, &value, now)?;
        ops.push(StorageOp::Delete(v1_key));
        storage.batch(Vec::new(), ops).await?;
    }
    Ok(keys.len())
}
