//! `config`: the mount-wide `max_versions`, `cas_required` and `delete_version_after`.

use super::{encode, KvV2, CONFIG};
use crate::engine::{fields, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::logical::Operation;

pub(super) async fn handle(
    kv: &KvV2,
    ctx: &Ctx<'_>,
    req: EngineRequest,
) -> Result<EngineResponse, EngineError> {
    match req.op {
        Operation::Read => Ok(EngineResponse::data(kv.config(ctx).await?.to_data())),
        Operation::Create | Operation::Update => {
            let mut config = (*kv.config(ctx).await?).clone();
            if let Some(n) = fields::int(&req.data, "max_versions")? {
                config.max_versions = non_negative(n, "max_versions")?;
            }
            if let Some(b) = fields::boolean(&req.data, "cas_required")? {
                config.cas_required = b;
            }
            if let Some(b) = fields::boolean(&req.data, "metadata_cas_required")? {
                config.metadata_cas_required = b;
            }
            if let Some(d) = fields::duration(&req.data, "delete_version_after")? {
                config.delete_version_after = d.as_secs();
            }
            ctx.storage.put(CONFIG, &encode(&config)?).await?;
            kv.config.store(Some(std::sync::Arc::new(config)));
            Ok(EngineResponse::no_content())
        }
        Operation::List | Operation::Patch | Operation::Delete => {
            Err(EngineError::UnsupportedOperation)
        }
    }
}

pub(super) fn non_negative(n: i64, field: &str) -> Result<u32, EngineError> {
    u32::try_from(n)
        .map_err(|_| EngineError::InvalidRequest(format!("{field} must be a non-negative integer")))
}
