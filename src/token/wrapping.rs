//! Wrapping tokens: orphans with only the `response-wrapping` policy and one use, made by
//! `crate::wrapping` to hold a wrapped answer.

use std::time::Duration;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{TokenEntry, TokenStore};
use crate::barrier::BarrierError;

impl TokenStore {
    /// A fresh wrapping token that lives for `ttl`.
    pub(crate) async fn create_wrapping_token(
        &self,
        _ttl: Duration,
        _creation_path: &str,
        _now: OffsetDateTime,
    ) -> Result<(Zeroizing<String>, TokenEntry), BarrierError> {
        Err(BarrierError::Decrypt {
            path: "wrapping tokens are not wired yet".into(),
        })
    }

    /// End a wrapping token once its answer is taken.
    pub(crate) async fn revoke_wrapping_token(&self, _id: &str) -> Result<(), BarrierError> {
        Ok(())
    }
}
