//! `delete/<key>`, `undelete/<key>` and `destroy/<key>`: act on listed versions.

use super::types::{nanos, VersionMeta};
use super::{data_key, key_param, Change, KvV2};
use crate::engine::{fields, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::storage::StorageOp;

/// Soft-delete the listed versions (those neither destroyed nor already deleted).
pub(super) async fn delete(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let now = nanos(ctx.clock.now());
    act(kv, ctx, &req, "No version number provided", |vm, _| {
        let live = vm.is_live(now);
        if live {
            vm.deletion = Some(now);
        }
        (live, None)
    })
    .await
}

/// Clear the deletion of the listed versions that are not destroyed.
pub(super) async fn undelete(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    act(kv, ctx, &req, "No version number provided", |vm, _| {
        let restorable = !vm.destroyed && vm.deletion.is_some();
        if restorable {
            vm.deletion = None;
        }
        (restorable, None)
    })
    .await
}

/// Remove the listed versions' data for good; their metadata stays, marked destroyed.
pub(super) async fn destroy(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    let key = key_param(&req)?.to_owned();
    act(kv, ctx, &req, "no version number provided", |vm, v| {
        if vm.destroyed {
            return (false, None);
        }
        vm.destroyed = true;
        (true, Some(StorageOp::Delete(data_key(&key, v))))
    })
    .await
}

/// Apply `change` to each listed version the key has (a missing key or version is not an
/// error), and write the metadata back, with any ops `change` asks for, if anything changed.
/// `change` answers whether it changed the version, and an op to add. `missing` is the error
/// text for an empty list (OpenBao capitalises it differently per endpoint).
/// `updated_time` is left alone: in OpenBao it follows writes of data and metadata only.
async fn act(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: &EngineRequest,
    missing: &str,
    mut change: impl FnMut(&mut VersionMeta, u64) -> (bool, Option<StorageOp>),
) -> Result<EngineResponse, EngineError> {
    let key = key_param(req)?;
    let list = fields::int_list(&req.data, "versions")?;
    if list.is_empty() {
        return Err(EngineError::InvalidRequest(missing.into()));
    }
    // A negative version names nothing, as a version past the current one does.
    let list: Vec<u64> = list
        .into_iter()
        .filter_map(|v| u64::try_from(v).ok())
        .collect();
    kv.update(ctx, key, |meta| {
        let Some(mut meta) = meta else {
            return Ok(Change::Skip(()));
        };
        let mut changed = false;
        let mut ops = Vec::new();
        for v in &list {
            if let Some(vm) = meta.versions.get_mut(v) {
                let (did, op) = change(vm, *v);
                changed |= did;
                ops.extend(op);
            }
        }
        if !changed {
            return Ok(Change::Skip(()));
        }
        Ok(Change::Commit {
            meta: Some(meta),
            ops,
            answer: (),
        })
    })
    .await?;
    Ok(EngineResponse::no_content())
}
