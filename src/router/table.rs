//! The mount table's records: one [`MountEntry`] per mount, persisted through the barrier at
//! `core/mounts/<uuid>`, so a change to one mount rewrites only that mount's record.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// A mount's settings, as `sys/mounts` reports them and `sys/mounts/<path>/tune` changes them.
/// TTLs are seconds; 0 means "the system default".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct MountConfig {
    pub(crate) default_lease_ttl: u64,
    pub(crate) max_lease_ttl: u64,
    pub(crate) force_no_cache: bool,
    pub(crate) listing_visibility: String,
    pub(crate) passthrough_request_headers: Vec<String>,
    pub(crate) allowed_response_headers: Vec<String>,
    pub(crate) audit_non_hmac_request_keys: Vec<String>,
    pub(crate) audit_non_hmac_response_keys: Vec<String>,
    /// An auth mount's own lockout settings (`user_lockout_config` in a tune).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user_lockout_config: Option<UserLockoutConfig>,
}

/// Lockout settings tuned on one auth mount; zero / unset fields fall back to the server's
/// configuration, then to OpenBao's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct UserLockoutConfig {
    pub(crate) lockout_threshold: u64,
    /// Seconds.
    pub(crate) lockout_duration: u64,
    /// Seconds.
    pub(crate) lockout_counter_reset: u64,
    pub(crate) disable_lockout: bool,
}

/// Which of OpenBao's two tables a mount belongs to: secrets engines (`sys/mounts`) or auth
/// methods (`sys/auth`, served under `auth/`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MountTable {
    #[default]
    Secret,
    Auth,
}

/// One mounted engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MountEntry {
    #[serde(default)]
    pub(crate) table: MountTable,
    /// Names the mount's storage view (`logical/<uuid>/`), so moving a mount moves no data.
    pub(crate) uuid: String,
    /// Ends in `/`.
    pub(crate) path: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) description: String,
    pub(crate) accessor: String,
    #[serde(default)]
    pub(crate) config: MountConfig,
    #[serde(default)]
    pub(crate) options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(crate) local: bool,
    #[serde(default)]
    pub(crate) seal_wrap: bool,
    #[serde(default)]
    pub(crate) external_entropy_access: bool,
    #[serde(default)]
    pub(crate) plugin_version: String,
}

impl MountEntry {
    /// A new entry with a fresh uuid and an accessor in OpenBao's `<type>_<8 hex>` form.
    pub(crate) fn new(path: &str, kind: &str) -> Self {
        let suffix: u32 = rand::thread_rng().gen();
        Self {
            table: MountTable::Secret,
            uuid: uuid::Uuid::new_v4().to_string(),
            path: path.to_owned(),
            kind: kind.to_owned(),
            description: String::new(),
            accessor: format!("{kind}_{suffix:08x}"),
            config: MountConfig::default(),
            options: None,
            local: false,
            seal_wrap: false,
            external_entropy_access: false,
            plugin_version: String::new(),
        }
    }

    /// An auth method at `auth/<path>`, with OpenBao's `auth_<type>_<8 hex>` accessor.
    pub(crate) fn new_auth(path: &str, kind: &str) -> Self {
        let mut e = Self::new(path, kind);
        e.table = MountTable::Auth;
        e.accessor = format!("auth_{}", e.accessor);
        e
    }

    /// The token store's mount, which every server has at `auth/token/`.
    pub(crate) fn token() -> Self {
        let mut e = Self::new_auth("auth/token/", "token");
        e.description = "token based credentials".into();
        e
    }

    /// Where this mount's engine keeps its data.
    pub(crate) fn view_prefix(&self) -> String {
        format!("logical/{}/", self.uuid)
    }

    /// The mounts every server has, as OpenBao creates them at first unseal.
    pub(crate) fn defaults() -> Vec<MountEntry> {
        let mut sys = MountEntry::new("sys/", "system");
        sys.description = "system endpoints used for control, policy and debugging".into();
        sys.seal_wrap = true;
        sys.config.passthrough_request_headers = vec!["Accept".into()];
        let mut identity = MountEntry::new("identity/", "identity");
        identity.description = "identity store".into();
        identity.config.passthrough_request_headers = vec!["Authorization".into()];
        let mut cubbyhole = MountEntry::new("cubbyhole/", "cubbyhole");
        cubbyhole.description = "per-token private secret storage".into();
        cubbyhole.local = true;
        vec![cubbyhole, identity, sys, Self::token()]
    }

    /// Mounts that exist on every server and can be neither removed nor moved.
    pub(crate) fn is_builtin(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "system" | "identity" | "cubbyhole" | "token"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_have_openbao_shape() {
        let e = MountEntry::new("kv/", "kv");
        let (kind, hex) = e.accessor.split_once('_').expect("underscore");
        assert_eq!(kind, "kv");
        assert_eq!(hex.len(), 8);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(e.view_prefix(), format!("logical/{}/", e.uuid));
    }

    #[test]
    fn entries_round_trip_and_old_records_load() {
        let e = MountEntry::new("kv/", "kv");
        let bytes = serde_json::to_vec(&e).expect("json");
        assert_eq!(
            serde_json::from_slice::<MountEntry>(&bytes).expect("back"),
            e
        );
        let minimal = r#"{"uuid":"u","path":"p/","type":"kv","description":"","accessor":"a"}"#;
        let old: MountEntry = serde_json::from_str(minimal).expect("defaults fill in");
        assert_eq!(old.config, MountConfig::default());
    }
}
