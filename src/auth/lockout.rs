//! User lockout: after `threshold` failed logins in a row for one user (or role id) of one
//! mount, further logins are refused with 403 before the credentials are even checked, for
//! `duration`. OpenBao's defaults: 5 attempts, 15 minutes, counter reset after 15 minutes
//! without a failure. Only userpass and approle are covered, as in OpenBao.
//!
//! Counters live in memory; a user that becomes locked is also recorded behind the barrier
//! (`core/login/lockedUsers/<accessor>/<hex alias>`, OpenBao's prefix) so a restart does not
//! unlock it. A successful login clears both.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::barrier::{BarrierError, View};
use crate::logical::storage::Storage;
use crate::logical::Data;
use crate::router::{MountEntry, UserLockoutConfig};

/// Where locked users are recorded (relative to the system view).
pub(crate) const PREFIX: &str = "core/login/lockedUsers/";
/// The auth methods lockout applies to.
const SUPPORTED: &[&str] = &["userpass", "approle", "ldap"];

/// The lockout settings that apply to one mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) threshold: u64,
    pub(crate) duration: Duration,
    pub(crate) counter_reset: Duration,
    pub(crate) disabled: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            threshold: 5,
            duration: Duration::from_secs(15 * 60),
            counter_reset: Duration::from_secs(15 * 60),
            disabled: false,
        }
    }
}

impl Settings {
    /// Overlay the non-zero fields of `c` (a config stanza or a mount tune).
    pub(crate) fn overlay(mut self, c: &UserLockoutConfig) -> Self {
        if c.lockout_threshold != 0 {
            self.threshold = c.lockout_threshold;
        }
        if c.lockout_duration != 0 {
            self.duration = Duration::from_secs(c.lockout_duration);
        }
        if c.lockout_counter_reset != 0 {
            self.counter_reset = Duration::from_secs(c.lockout_counter_reset);
        }
        if c.disable_lockout {
            self.disabled = true;
        }
        self
    }
}

/// The server configuration's `user_lockout` stanzas: `"all"` and per method type.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerLockout {
    pub(crate) by_kind: BTreeMap<String, UserLockoutConfig>,
    /// `BAO_DISABLE_USER_LOCKOUT` / `VAULT_DISABLE_USER_LOCKOUT`: off everywhere.
    pub(crate) disabled: bool,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Failed {
    count: u64,
    /// Unix seconds of the last failure.
    last: i64,
}

type Key = (String, String);

pub(crate) struct Lockout {
    view: View,
    server: ServerLockout,
    failed: Mutex<HashMap<Key, Failed>>,
    /// At most [`TURNS`] logins of one name are between the lockout check and the failure
    /// count at a time, so a burst of concurrent guesses cannot all pass the check before
    /// the first is counted: a name gets at most `threshold - 1 + TURNS` guesses per lockout,
    /// however many connections try. Striped (a fixed set of semaphores, picked by a keyed
    /// hash of the name) so anonymous callers cannot grow it; a turn lasts only the
    /// credential check, not the token.
    turns: Vec<Arc<tokio::sync::Semaphore>>,
    stripe: std::collections::hash_map::RandomState,
}

/// How many semaphores the login turns are spread over.
const STRIPES: usize = 64;
/// Concurrent credential checks per name (per stripe): enough to keep both cores busy
/// with one client's logins (an AppRole check reads six records; with 4 turns a single
/// role's logins stalled at half the machine), few enough to bound a guessing burst.
pub(crate) const TURNS: usize = 16;

fn turns() -> Vec<Arc<tokio::sync::Semaphore>> {
    (0..STRIPES)
        .map(|_| Arc::new(tokio::sync::Semaphore::new(TURNS)))
        .collect()
}

/// A locked user's record: the alias hex-encoded, since a role id may hold any character.
fn record_key(accessor: &str, alias: &str) -> String {
    format!("{accessor}/{}", hex::encode(alias))
}

/// Seconds as the signed unix times they are compared with, saturating.
fn signed(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Lockout {
    /// Load the users recorded as locked.
    pub(crate) async fn load(view: View, server: ServerLockout) -> Result<Self, BarrierError> {
        let mut failed = HashMap::new();
        for accessor in view.list("").await? {
            let accessor = accessor.trim_end_matches('/').to_owned();
            for name in view.list(&format!("{accessor}/")).await? {
                let Some(alias) = hex::decode(&name)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                else {
                    continue;
                };
                if let Some(raw) = view.get(&format!("{accessor}/{name}")).await? {
                    if let Ok(f) = serde_json::from_slice::<Failed>(&raw) {
                        failed.insert((accessor.clone(), alias), f);
                    }
                }
            }
        }
        Ok(Self {
            view,
            server,
            failed: Mutex::new(failed),
            turns: turns(),
            stripe: Default::default(),
        })
    }

    /// Wait for a turn to check this name's credentials; hold it until the attempt is
    /// counted. `None` only if the semaphore were closed, which it never is.
    pub(crate) async fn turn(
        &self,
        accessor: &str,
        alias: &str,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        use std::hash::BuildHasher;
        let i = (self.stripe.hash_one((accessor, alias)) as usize) % STRIPES;
        self.turns[i].clone().acquire_owned().await.ok()
    }
    /// The settings for logins on `entry`, or `None` when lockout does not apply there.
    pub(crate) fn settings(&self, entry: &MountEntry) -> Option<Settings> {
        if self.server.disabled || !SUPPORTED.contains(&entry.kind.as_str()) {
            return None;
        }
        let mut s = Settings::default();
        if let Some(all) = self.server.by_kind.get("all") {
            s = s.overlay(all);
        }
        if let Some(kind) = self.server.by_kind.get(&entry.kind) {
            s = s.overlay(kind);
        }
        if let Some(tuned) = &entry.config.user_lockout_config {
            s = s.overlay(tuned);
        }
        (!s.disabled).then_some(s)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failed>> {
        // A panic while holding this lock cannot leave the map half-updated.
        self.failed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Is this user locked out at `now` (unix seconds)?
    pub(crate) fn is_locked(&self, s: &Settings, accessor: &str, alias: &str, now: i64) -> bool {
        let map = self.map();
        let Some(f) = map.get(&(accessor.to_owned(), alias.to_owned())) else {
            return false;
        };
        f.count >= s.threshold && now.saturating_sub(f.last) < signed(s.duration)
    }

    /// Count a failed login; record the user once it is locked.
    pub(crate) async fn failed(
        &self,
        s: &Settings,
        accessor: &str,
        alias: &str,
        now: i64,
    ) -> Result<(), BarrierError> {
        let key = (accessor.to_owned(), alias.to_owned());
        let record = {
            let mut map = self.map();
            let f = map.entry(key).or_insert(Failed {
                count: 0,
                last: now,
            });
            if f.count > 0 && now.saturating_sub(f.last) > signed(s.counter_reset) {
                f.count = 0;
            }
            f.count += 1;
            f.last = now;
            (f.count >= s.threshold).then_some(*f)
        };
        if let Some(f) = record {
            let bytes = serde_json::to_vec(&f).unwrap_or_default();
            self.view.put(&record_key(accessor, alias), &bytes).await?;
            tracing::warn!(
                mount_accessor = accessor,
                "a login name is locked out after repeated failures"
            );
        }
        Ok(())
    }

    /// A successful login clears the user's counter.
    pub(crate) async fn succeeded(&self, accessor: &str, alias: &str) -> Result<(), BarrierError> {
        let was = self.map().remove(&(accessor.to_owned(), alias.to_owned()));
        if was.is_some() {
            self.view.delete(&record_key(accessor, alias)).await?;
        }
        Ok(())
    }

    /// `sys/locked-users/<accessor>/unlock/<alias>`.
    pub(crate) async fn unlock(&self, accessor: &str, alias: &str) -> Result<(), BarrierError> {
        self.succeeded(accessor, alias).await
    }

    /// A disabled mount's counters go with it.
    pub(crate) fn forget_mount(&self, accessor: &str) {
        self.map().retain(|(a, _), _| a != accessor);
    }

    /// `GET sys/locked-users`: the users `locked` says are locked now, by mount, most first
    /// (OpenBao's shape; one namespace, the root).
    pub(crate) fn report(&self, only: Option<&str>, locked: impl Fn(&str, &str) -> bool) -> Data {
        // `locked` takes the map's lock itself: look at a copy of the keys.
        let keys: Vec<Key> = self.map().keys().cloned().collect();
        let mut by_mount: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (accessor, alias) in &keys {
            if only.is_some_and(|o| o != accessor) || !locked(accessor, alias) {
                continue;
            }
            by_mount.entry(accessor).or_default().push(alias);
        }
        let mut mounts: Vec<(&str, Vec<&str>)> = by_mount.into_iter().collect();
        for (_, aliases) in &mut mounts {
            aliases.sort_unstable();
        }
        mounts.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        let total: usize = mounts.iter().map(|(_, a)| a.len()).sum();
        let mut accessors: Vec<_> = mounts
            .iter()
            .map(|(accessor, aliases)| {
                json!({
                    "mount_accessor": accessor,
                    "counts": aliases.len(),
                    "alias_identifiers": aliases,
                })
            })
            .collect();
        // Asked about one mount with nobody locked: OpenBao still names it.
        if let (Some(accessor), true) = (only, accessors.is_empty()) {
            accessors.push(json!({
                "mount_accessor": accessor,
                "counts": 0,
                "alias_identifiers": null,
            }));
        }
        crate::logical::object(json!({
            "by_namespace": [{
                "namespace_id": "root",
                "namespace_path": "",
                "counts": total,
                "mount_accessors": accessors,
            }],
            "total": total,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            threshold: 3,
            duration: Duration::from_secs(60),
            counter_reset: Duration::from_secs(30),
            disabled: false,
        }
    }

    async fn lockout() -> Lockout {
        let barrier = crate::barrier::memory_barrier();
        Lockout::load(barrier.view(PREFIX), ServerLockout::default())
            .await
            .expect("load")
    }

    #[tokio::test]
    async fn locks_after_the_threshold_and_unlocks_after_the_duration() {
        let l = lockout().await;
        let s = settings();
        for i in 0..3 {
            assert!(!l.is_locked(&s, "acc", "bob", 100 + i));
            l.failed(&s, "acc", "bob", 100 + i).await.expect("count");
        }
        assert!(l.is_locked(&s, "acc", "bob", 103));
        assert!(!l.is_locked(&s, "acc", "alice", 103), "per user");
        assert!(!l.is_locked(&s, "other", "bob", 103), "per mount");
        assert!(!l.is_locked(&s, "acc", "bob", 102 + 61), "duration over");
        let report = l.report(None, |a, u| l.is_locked(&s, a, u, 103));
        assert_eq!(report["total"], json!(1));

        l.failed(&s, "acc", "a/b", 100).await.expect("count");
        l.failed(&s, "acc", "a/b", 100).await.expect("count");
        l.failed(&s, "acc", "a/b", 100).await.expect("count");
        // The records survive a reload, whatever the alias holds.
        let reloaded = Lockout::load(l.view.clone(), ServerLockout::default())
            .await
            .expect("load");
        assert!(reloaded.is_locked(&s, "acc", "bob", 103));
        assert!(reloaded.is_locked(&s, "acc", "a/b", 103));
        reloaded.unlock("acc", "bob").await.expect("unlock");
        assert!(!reloaded.is_locked(&s, "acc", "bob", 103));
        let again = Lockout::load(l.view.clone(), ServerLockout::default())
            .await
            .expect("load");
        assert!(!again.is_locked(&s, "acc", "bob", 103));
    }

    #[tokio::test]
    async fn the_counter_resets_after_a_quiet_period_and_on_success() {
        let l = lockout().await;
        let s = settings();
        l.failed(&s, "acc", "bob", 0).await.expect("count");
        l.failed(&s, "acc", "bob", 1).await.expect("count");
        l.failed(&s, "acc", "bob", 40).await.expect("count");
        assert!(!l.is_locked(&s, "acc", "bob", 41), "reset after 30 s quiet");
        l.failed(&s, "acc", "bob", 41).await.expect("count");
        l.succeeded("acc", "bob").await.expect("clear");
        l.failed(&s, "acc", "bob", 42).await.expect("count");
        assert!(!l.is_locked(&s, "acc", "bob", 43));
    }

    #[test]
    fn settings_take_the_most_specific_value() {
        let mut entry = MountEntry::new_auth("auth/userpass/", "userpass");
        let server = ServerLockout {
            by_kind: BTreeMap::from([
                (
                    "all".into(),
                    UserLockoutConfig {
                        lockout_threshold: 7,
                        ..Default::default()
                    },
                ),
                (
                    "userpass".into(),
                    UserLockoutConfig {
                        lockout_duration: 120,
                        ..Default::default()
                    },
                ),
            ]),
            disabled: false,
        };
        let l = Lockout {
            view: crate::barrier::memory_barrier().view(PREFIX),
            server,
            failed: Mutex::new(HashMap::new()),
            turns: turns(),
            stripe: Default::default(),
        };
        let s = l.settings(&entry).expect("applies");
        assert_eq!(
            (s.threshold, s.duration.as_secs(), s.counter_reset.as_secs()),
            (7, 120, 900)
        );
        entry.config.user_lockout_config = Some(UserLockoutConfig {
            lockout_threshold: 2,
            ..Default::default()
        });
        assert_eq!(l.settings(&entry).map(|s| s.threshold), Some(2));
        entry.config.user_lockout_config = Some(UserLockoutConfig {
            disable_lockout: true,
            ..Default::default()
        });
        assert_eq!(l.settings(&entry), None);
        let kube = MountEntry::new_auth("auth/kubernetes/", "kubernetes");
        assert_eq!(l.settings(&kube), None, "not a supported method");
    }
}
