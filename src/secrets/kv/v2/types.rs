//! KV v2's persisted records and their API shapes.
//!
//! Times are stored as Unix nanoseconds and printed as Go's RFC 3339 with nanoseconds;
//! durations are stored as seconds and printed as Go duration strings, as OpenBao does.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::engine::{go_duration, rfc3339_nano};
use crate::logical::{object, Data};

/// OpenBao's default when neither the key nor the mount sets `max_versions`.
pub(super) const DEFAULT_MAX_VERSIONS: u32 = 10;

/// The mount-wide settings at `config`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct KvConfig {
    pub(crate) max_versions: u32,
    pub(crate) cas_required: bool,
    /// Seconds; 0 is "never".
    pub(crate) delete_version_after: u64,
    pub(crate) metadata_cas_required: bool,
}

impl KvConfig {
    pub(super) fn to_data(&self) -> Data {
        object(json!({
            "cas_required": self.cas_required,
            "delete_version_after": go_duration(Duration::from_secs(self.delete_version_after)),
            "max_versions": self.max_versions,
            "metadata_cas_required": self.metadata_cas_required,
        }))
    }
}

/// One version's bookkeeping inside a key's metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VersionMeta {
    pub(crate) created: i128,
    /// When the version counts as deleted; may lie in the future (`delete_version_after`).
    #[serde(default)]
    pub(crate) deletion: Option<i128>,
    #[serde(default)]
    pub(crate) destroyed: bool,
}

impl VersionMeta {
    /// Soft-deleted as of `now` (a future deletion time does not count yet).
    pub(crate) fn is_deleted(&self, now: i128) -> bool {
        self.deletion.is_some_and(|t| t <= now)
    }

    /// Readable: neither destroyed nor deleted.
    pub(crate) fn is_live(&self, now: i128) -> bool {
        !self.destroyed && !self.is_deleted(now)
    }

    fn deletion_time(&self) -> String {
        self.deletion.map(time_text).unwrap_or_default()
    }

    /// The `versions` map entry of a metadata read.
    fn to_value(&self) -> Value {
        json!({
            "created_time": time_text(self.created),
            "deletion_time": self.deletion_time(),
            "destroyed": self.destroyed,
        })
    }
}

/// A key's metadata at `m/<key>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct KeyMeta {
    pub(crate) versions: BTreeMap<u64, VersionMeta>,
    pub(crate) current_version: u64,
    pub(crate) oldest_version: u64,
    pub(crate) max_versions: u32,
    pub(crate) cas_required: bool,
    /// Seconds; 0 is "use the mount's".
    pub(crate) delete_version_after: u64,
    pub(crate) custom_metadata: Option<BTreeMap<String, String>>,
    pub(crate) created: i128,
    pub(crate) updated: i128,
    pub(crate) current_metadata_version: u64,
}

impl KeyMeta {
    pub(crate) fn new(now: i128) -> Self {
        Self {
            created: now,
            updated: now,
            ..Self::default()
        }
    }

    /// OpenBao's rule: the larger of the key's and the mount's setting, 10 when both are 0.
    pub(crate) fn effective_max_versions(&self, config: &KvConfig) -> u32 {
        match self.max_versions.max(config.max_versions) {
            0 => DEFAULT_MAX_VERSIONS,
            n => n,
        }
    }

    /// The key's `delete_version_after` if set, else the mount's; `None` is "never".
    pub(crate) fn effective_delete_after(&self, config: &KvConfig) -> Option<u64> {
        match (self.delete_version_after, config.delete_version_after) {
            (0, 0) => None,
            (0, mount) => Some(mount),
            (key, _) => Some(key),
        }
    }

    fn custom_metadata_value(&self) -> Value {
        match &self.custom_metadata {
            Some(m) => json!(m),
            None => Value::Null,
        }
    }

    /// The `metadata` object that data reads and writes return for one version.
    pub(crate) fn version_data(&self, version: u64) -> Data {
        let vm = self.versions.get(&version);
        object(json!({
            "created_time": vm.map(|v| time_text(v.created)).unwrap_or_default(),
            "custom_metadata": self.custom_metadata_value(),
            "deletion_time": vm.map(VersionMeta::deletion_time).unwrap_or_default(),
            "destroyed": vm.is_some_and(|v| v.destroyed),
            "version": version,
        }))
    }

    /// The body of a metadata read.
    pub(crate) fn to_data(&self, config_metadata_cas_required: bool) -> Data {
        let versions: serde_json::Map<String, Value> = self
            .versions
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_value()))
            .collect();
        object(json!({
            "cas_required": self.cas_required,
            "created_time": time_text(self.created),
            "current_metadata_version": self.current_metadata_version,
            "current_version": self.current_version,
            "custom_metadata": self.custom_metadata_value(),
            "delete_version_after": go_duration(Duration::from_secs(self.delete_version_after)),
            "max_versions": self.max_versions,
            "metadata_cas_required": config_metadata_cas_required,
            "oldest_version": self.oldest_version,
            "updated_time": time_text(self.updated),
            "versions": versions,
        }))
    }
}

pub(crate) fn nanos(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos()
}

fn time_text(nanos: i128) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map(rfc3339_nano)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_versions_is_the_larger_setting_or_ten() {
        let mut key = KeyMeta::new(0);
        let mut config = KvConfig::default();
        assert_eq!(key.effective_max_versions(&config), 10);
        config.max_versions = 3;
        assert_eq!(key.effective_max_versions(&config), 3);
        key.max_versions = 5;
        assert_eq!(key.effective_max_versions(&config), 5);
        config.max_versions = 7;
        assert_eq!(key.effective_max_versions(&config), 7);
    }

    #[test]
    fn a_future_deletion_time_is_not_deleted_yet() {
        let v = VersionMeta {
            created: 0,
            deletion: Some(100),
            destroyed: false,
        };
        assert!(v.is_live(99));
        assert!(v.is_deleted(100));
        assert!(!v.is_live(100));
    }

    #[test]
    fn metadata_shape() {
        let mut key = KeyMeta::new(1_795_334_862_000_000_000);
        key.versions.insert(
            1,
            VersionMeta {
                created: 1_795_334_862_000_000_000,
                deletion: None,
                destroyed: false,
            },
        );
        key.current_version = 1;
        let d = key.to_data(false);
        assert_eq!(d["versions"]["1"]["deletion_time"], "");
        assert_eq!(d["custom_metadata"], Value::Null);
        assert_eq!(d["delete_version_after"], "0s");
        assert_eq!(d["created_time"], "2026-11-22T08:07:42Z");
    }
}
