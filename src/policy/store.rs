//! ACL policies behind the barrier, one record per name under `sys/policy/`.
//!
//! Parsed policies and merged ACLs are cached; every write or delete clears both caches
//! and bumps a generation, so an ACL built from a policy that changed meanwhile is never
//! cached, and the next request of every token carrying it sees the change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::parse::{parse, ParseError};
use super::{sanitize_name, Acl, Policy, DEFAULT, DEFAULT_POLICY, RESPONSE_WRAPPING};
use super::{RESPONSE_WRAPPING_POLICY, ROOT};
use crate::barrier::{BarrierError, View};
use crate::logical::storage::Storage;

/// The view prefix the store owns.
pub(crate) const PREFIX: &str = "sys/policy/";

/// Caches past this many merged ACLs start over (token policy sets are few in practice).
const MAX_CACHED_ACLS: usize = 4096;

/// A stored policy, as `sys/policies/acl/<name>` reports it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) name: String,
    pub(crate) policy: String,
    pub(crate) version: i64,
    /// RFC 3339 with nanoseconds, as OpenBao prints it.
    #[serde(default)]
    pub(crate) modified: String,
    #[serde(default)]
    pub(crate) cas_required: bool,
}

/// Why a policy change was refused. The texts are OpenBao's.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PolicyError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Storage(#[from] BarrierError),
}

pub(crate) struct PolicyStore {
    view: View,
    parsed: RwLock<HashMap<String, Arc<Policy>>>,
    acls: RwLock<HashMap<Vec<String>, Arc<Acl>>>,
    generation: AtomicU64,
    builtin_root: Arc<Policy>,
    builtin_wrapping: Arc<Policy>,
    writer: tokio::sync::Mutex<()>,
}

impl PolicyStore {
    /// Open the store, writing OpenBao's `default` policy on first use.
    pub(crate) async fn load(view: View) -> Result<Self, BarrierError> {
        let builtin = |name: &str, raw: &str| {
            Arc::new(parse(name, raw).unwrap_or_else(|_| Policy {
                name: name.into(),
                rules: Vec::new(),
            }))
        };
        let store = Self {
            view,
            parsed: RwLock::default(),
            acls: RwLock::default(),
            generation: AtomicU64::new(0),
            builtin_root: builtin(ROOT, ""),
            builtin_wrapping: builtin(RESPONSE_WRAPPING, RESPONSE_WRAPPING_POLICY),
            writer: tokio::sync::Mutex::new(()),
        };
        if store.view.get(DEFAULT).await?.is_none() {
            let record = Record {
                name: DEFAULT.into(),
                policy: DEFAULT_POLICY.into(),
                version: 1,
                modified: crate::engine::rfc3339_nano(OffsetDateTime::now_utc()),
                cas_required: false,
            };
            store.put_record(&record).await?;
        }
        Ok(store)
    }

    async fn put_record(&self, record: &Record) -> Result<(), BarrierError> {
        let bytes = serde_json::to_vec(record).unwrap_or_default();
        self.view.put(&record.name, &bytes).await
    }

    /// The stored record, for reads. `root` answers an empty text at version 0.
    pub(crate) async fn read(&self, name: &str) -> Result<Option<Record>, BarrierError> {
        let name = sanitize_name(name);
        if name == ROOT {
            return Ok(Some(Record {
                name,
                policy: String::new(),
                version: 0,
                modified: String::new(),
                cas_required: false,
            }));
        }
        let Some(raw) = self.view.get(&name).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|_| BarrierError::Decrypt {
                path: format!("{PREFIX}{name}"),
            })
    }

    /// The parsed policy `name`, if it exists.
    pub(crate) async fn get(&self, name: &str) -> Result<Option<Arc<Policy>>, BarrierError> {
        match name {
            ROOT => return Ok(Some(self.builtin_root.clone())),
            RESPONSE_WRAPPING => return Ok(Some(self.builtin_wrapping.clone())),
            _ => {}
        }
        if let Some(p) = self.parsed.read().ok().and_then(|c| c.get(name).cloned()) {
            return Ok(Some(p));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let Some(record) = self.read(name).await? else {
            return Ok(None);
        };
        // A stored policy was valid when written; one that no longer parses grants nothing.
        let policy = Arc::new(parse(&record.name, &record.policy).unwrap_or_else(|e| {
            tracing::warn!(policy = %record.name, error = %e, "stored policy does not parse");
            Policy {
                name: record.name.clone(),
                rules: Vec::new(),
            }
        }));
        if let Ok(mut cache) = self.parsed.write() {
            if self.generation.load(Ordering::Acquire) == generation {
                cache.insert(name.to_owned(), policy.clone());
            }
        }
        Ok(Some(policy))
    }

    /// The merged ACL of a token's policies. Names that no policy has are skipped, as in
    /// OpenBao (a token may outlive a policy).
    pub(crate) async fn acl(&self, names: &[String]) -> Result<Arc<Acl>, BarrierError> {
        let cached = self.acls.read().ok().and_then(|c| c.get(names).cloned());
        if let Some(acl) = cached {
            if acl.expires_at.is_none_or(|e| e > OffsetDateTime::now_utc()) {
                return Ok(acl);
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let mut policies = Vec::with_capacity(names.len());
        for name in names {
            if let Some(p) = self.get(name).await? {
                policies.push(p);
            }
        }
        let acl = Arc::new(Acl::new(policies.iter().map(|p| &**p)));
        if let Ok(mut cache) = self.acls.write() {
            if self.generation.load(Ordering::Acquire) == generation {
                if cache.len() >= MAX_CACHED_ACLS {
                    cache.clear();
                }
                cache.insert(names.to_vec(), acl.clone());
            }
        }
        Ok(acl)
    }

    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut c) = self.parsed.write() {
            c.clear();
        }
        if let Ok(mut c) = self.acls.write() {
            c.clear();
        }
    }

    /// Create or replace a policy. `cas` is OpenBao's check-and-set version (-1: must not
    /// exist yet).
    pub(crate) async fn set(
        &self,
        name: &str,
        raw: &str,
        cas: Option<i64>,
        cas_required: bool,
        now: OffsetDateTime,
    ) -> Result<(), PolicyError> {
        let name = sanitize_name(name);
        if name == ROOT || name == RESPONSE_WRAPPING {
            return Err(PolicyError::Invalid(format!(
                "cannot update {name:?} policy"
            )));
        }
        parse(&name, raw)?;
        let _writer = self.writer.lock().await;
        let existing = self.read(&name).await?;
        let current = existing.as_ref().map_or(0, |r| r.version);
        if cas.is_none() && (cas_required || existing.as_ref().is_some_and(|r| r.cas_required)) {
            return Err(PolicyError::Invalid(
                "check-and-set parameter required for this call".into(),
            ));
        }
        match cas {
            Some(-1) if existing.is_some() => {
                return Err(PolicyError::Invalid(
                    "check-and-set parameter set to -1 on existing entry".into(),
                ))
            }
            Some(v) if v != -1 && v != current => {
                return Err(PolicyError::Invalid(format!(
                    "check-and-set parameter {v} did not match the current version {current}"
                )))
            }
            _ => {}
        }
        let record = Record {
            name,
            policy: raw.to_owned(),
            version: current + 1,
            modified: crate::engine::rfc3339_nano(now),
            cas_required,
        };
        self.put_record(&record).await?;
        self.invalidate();
        Ok(())
    }

    /// Delete a policy; deleting one that does not exist succeeds.
    pub(crate) async fn delete(&self, name: &str) -> Result<(), PolicyError> {
        let name = sanitize_name(name);
        match name.as_str() {
            ROOT | RESPONSE_WRAPPING => {
                return Err(PolicyError::Invalid(format!(
                    "cannot delete {name:?} policy"
                )))
            }
            DEFAULT => return Err(PolicyError::Invalid("cannot delete default policy".into())),
            _ => {}
        }
        let _writer = self.writer.lock().await;
        self.view.delete(&name).await?;
        self.invalidate();
        Ok(())
    }

    /// Stored policy names, sorted, without `root`.
    pub(crate) async fn list(&self) -> Result<Vec<String>, BarrierError> {
        let mut names = self.view.list("").await?;
        names.sort();
        Ok(names)
    }
}
