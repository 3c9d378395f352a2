//! Wrapping tokens: orphans with only the `response-wrapping` policy, made by
//! `crate::wrapping` to hold a wrapped answer, and ended when it is taken.

use std::time::Duration;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{generate_id, random_base62, TokenEntry, TokenStore};
use crate::barrier::BarrierError;
use crate::logical::storage::Storage;

impl TokenStore {
    /// A fresh wrapping token that lives for `ttl`.
    pub(crate) async fn create_wrapping_token(
        &self,
        _ttl: Duration,
        creation_path: &str,
        now: OffsetDateTime,
    ) -> Result<(Zeroizing<String>, TokenEntry), BarrierError> {
        let id = generate_id();
        let entry = TokenEntry {
            salted_id: self.salt.salt_id(&id),
            accessor: random_base62(24),
            policies: vec![crate::policy::RESPONSE_WRAPPING.into()],
            path: creation_path.to_owned(),
            display_name: String::new(),
            creation_time: now.unix_timestamp(),
        };
        let record = Zeroizing::new(serde_json::to_vec(&entry).unwrap_or_default());
        self.view
            .put(&format!("id/{}", entry.salted_id), &record)
            .await?;
        Ok((id, entry))
    }

    /// End a wrapping token once its answer is taken.
    pub(crate) async fn revoke_wrapping_token(&self, id: &str) -> Result<(), BarrierError> {
        let salted = self.salt.salt_id(id);
        self.view.delete(&format!("id/{salted}")).await?;
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(&salted);
        }
        Ok(())
    }
}
