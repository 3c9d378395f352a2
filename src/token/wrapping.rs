//! Wrapping tokens: orphans with only the `response-wrapping` policy, made by
//! `crate::wrapping` to hold a wrapped answer, and ended when it is taken.

use std::time::Duration;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::store::nanos;
use super::{generate_id, random_base62, TokenEntry, TokenStore};
use crate::barrier::BarrierError;

impl TokenStore {
    /// A fresh wrapping token that lives for `ttl`: an orphan with one use, so using it
    /// anywhere but to unwrap spends it.
    pub(crate) async fn create_wrapping_token(
        &self,
        ttl: Duration,
        creation_path: &str,
        now: OffsetDateTime,
    ) -> Result<(Zeroizing<String>, TokenEntry), BarrierError> {
        let id = generate_id();
        let issue = nanos(now);
        let entry = TokenEntry {
            salted_id: self.salt.salt_id(&id),
            accessor: random_base62(24),
            policies: vec![crate::policy::RESPONSE_WRAPPING.into()],
            path: creation_path.to_owned(),
            display_name: String::new(),
            creation_time: now.unix_timestamp(),
            parent: String::new(),
            meta: None,
            num_uses: 1,
            ttl: ttl.as_secs(),
            explicit_max_ttl: 0,
            period: 0,
            renewable: false,
            issue_ns: issue,
            expire_ns: Some(issue + ttl.as_nanos().min(i64::MAX as u128) as i64),
            last_renewal_ns: None,
            role: String::new(),
            lease_ttl: ttl.as_secs(),
            no_lease: false,
            max_ttl: 0,
            bound_cidrs: Vec::new(),
            alias: String::new(),
            mount_accessor: String::new(),
        };
        self.insert(&entry).await?;
        Ok((id, entry))
    }

    /// End a wrapping token once its answer is taken.
    pub(crate) async fn revoke_wrapping_token(&self, id: &str) -> Result<(), BarrierError> {
        self.revoke_tree(&self.salt.salt_id(id)).await.map(|_| ())
    }
}
