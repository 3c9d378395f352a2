//! `delete/<key>`, `undelete/<key>` and `destroy/<key>`: act on listed versions.

use super::types::nanos;
use super::{data_key, key_param, Change, KvV2};
use crate::engine::{fields, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::storage::StorageOp;

fn versions(req: &EngineRequest, missing: &str) -> Result<Vec<u64>, EngineError> {
    let list = fields::int_list(&req.data, "versions")?;
    if list.is_empty() {
        return Err(EngineError::InvalidRequest(missing.into()));
    }
    // A negative version names nothing, as a version past the current one does.
    Ok(list
        .into_iter()
        .filter_map(|v| u64::try_from(v).ok())
        .collect())
}

/// Soft-delete the listed versions (those neither destroyed nor already deleted).
pub(super) async fn delete(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let key = key_param(&req)?;
    let list = versions(&req, "No version number provided")?;
    let now = nanos(ctx.clock.now());
    kv.update(ctx, key, |meta| {
        let Some(mut meta) = meta else {
            return Ok(Change::Skip(()));
        };
        let mut changed = false;
        for v in &list {
            if let Some(vm) = meta.versions.get_mut(v) {
                if vm.is_live(now) {
                    vm.deletion = Some(now);
                    changed = true;
                }
            }
        }
        Ok(commit_if(changed, meta, Vec::new()))
    })
    .await?;
    Ok(EngineResponse::no_content())
}

/// Clear the deletion of the listed versions that are not destroyed.
pub(super) async fn undelete(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let key = key_param(&req)?;
    let list = versions(&req, "No version number provided")?;
    kv.update(ctx, key, |meta| {
        let Some(mut meta) = meta else {
            return Ok(Change::Skip(()));
        };
        let mut changed = false;
        for v in &list {
            if let Some(vm) = meta.versions.get_mut(v) {
                if !vm.destroyed && vm.deletion.is_some() {
                    vm.deletion = None;
                    changed = true;
                }
            }
        }
        Ok(commit_if(changed, meta, Vec::new()))
    })
    .await?;
    Ok(EngineResponse::no_content())
}

/// Remove the listed versions' data for good; their metadata stays, marked destroyed.
pub(super) async fn destroy(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let key = key_param(&req)?;
    let list = versions(&req, "no version number provided")?;
    kv.update(ctx, key, |meta| {
        let Some(mut meta) = meta else {
            return Ok(Change::Skip(()));
        };
        let mut ops = Vec::new();
        for v in &list {
            if let Some(vm) = meta.versions.get_mut(v) {
                if !vm.destroyed {
                    vm.destroyed = true;
                    ops.push(StorageOp::Delete(data_key(key, *v)));
                }
            }
        }
        Ok(commit_if(!ops.is_empty(), meta, ops))
    })
    .await?;
    Ok(EngineResponse::no_content())
}

/// Write `meta` back if anything changed. `updated_time` follows writes of data and metadata
/// only, as in OpenBao, so deleting, undeleting or destroying versions leaves it alone.
fn commit_if(changed: bool, meta: super::KeyMeta, ops: Vec<StorageOp>) -> Change<()> {
    if !changed {
        return Change::Skip(());
    }
    Change::Commit {
        meta: Some(meta),
        ops,
        answer: (),
    }
}
