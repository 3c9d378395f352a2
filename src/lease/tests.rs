//! The expiration manager, driven with a clock the tests move.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::token::tests::Fixture;

/// A backend that refuses the first `fail` revocations.
struct Revoker {
    fail: Mutex<u32>,
    revoked: Mutex<Vec<String>>,
}

impl SecretRevoker for Revoker {
    fn revoke<'a>(&'a self, lease: &'a LeaseEntry) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut fail = self.fail.lock().unwrap_or_else(|e| e.into_inner());
            if *fail > 0 {
                *fail -= 1;
                return Err("backend down".into());
            }
            self.revoked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(lease.lease_id.clone());
            Ok(())
        })
    }
}

fn revoker(fail: u32) -> Arc<Revoker> {
    Arc::new(Revoker {
        fail: Mutex::new(fail),
        revoked: Mutex::new(Vec::new()),
    })
}

#[tokio::test]
async fn token_leases_look_up_list_and_revoke() {
    let f = Fixture::new().await;
    let (t, _, _) = f
        .create(&f.root, json!({"policies": ["a"], "ttl": "1h"}))
        .await;
    let salted = f.store.salted(&t);
    let id = format!("auth/token/create/{salted}");
    let info = f.leases.lookup(&id).await.expect("lookup").expect("found");
    assert!(info.is_token && info.renewable);
    assert_eq!(info.path, "auth/token/create");
    assert_eq!(f.leases.list("").await.expect("list"), ["auth/"]);
    assert_eq!(
        f.leases.list("auth/token/create/").await.expect("list"),
        std::slice::from_ref(&salted)
    );
    // Tokens renew at auth/token, not here.
    let e = f.leases.renew(&id, None).await.expect_err("renew");
    assert_eq!(
        e.to_string(),
        "tokens cannot be renewed through this endpoint"
    );
    // The init root token has no lease.
    let root_lease = format!("auth/token/root/{}", f.store.salted(&f.root));
    assert!(f.leases.lookup(&root_lease).await.expect("l").is_none());
    f.leases.revoke(&id).await.expect("revoke");
    assert!(!f.alive(&t).await);
    f.leases.revoke(&id).await.expect("unknown leases are fine");
    // revoke-prefix over a role's tokens.
    f.ok("roles/r", json!({}), &f.root).await;
    let a = f
        .ok("create/r", json!({}), &f.root)
        .await
        .auth
        .expect("a")
        .client_token;
    let (b, _, _) = f.create(&f.root, json!({"policies": ["a"]})).await;
    f.leases
        .revoke_prefix("auth/token/create/r", false)
        .await
        .expect("prefix");
    assert!(!f.alive(&a).await && f.alive(&b).await);
}

#[tokio::test]
async fn secret_leases_expire_renew_and_go_with_their_token() {
    let f = Fixture::new().await;
    let r = revoker(0);
    f.leases.set_revoker(r.clone());
    let (t, _, _) = f.create(&f.root, json!({"policies": ["a"]})).await;
    let owner = f.store.salted(&t);
    let hour = Duration::from_secs(3600);
    let le = f
        .leases
        .register_secret("db/creds/app", &owner, None, true, hour, 2 * hour)
        .await
        .expect("register");
    assert!(le.lease_id.starts_with("db/creds/app/") && le.lease_id.len() == 13 + 24);
    assert_eq!(f.leases.list("db/creds/").await.expect("l"), ["app/"]);
    // Renew: the increment, capped by the max counted from issue.
    f.advance(1800);
    let (renewed, _) = f
        .leases
        .renew(&le.lease_id, Some(Duration::from_secs(3 * 3600)))
        .await
        .expect("renew");
    assert_eq!(renewed.ttl, 5400);
    // Expiry by the tick, at the right moment.
    f.advance(5400);
    assert_eq!(f.leases.tick(f.clock.now()).await.expect("tick"), 0);
    f.clock.advance(Duration::from_millis(1));
    assert_eq!(f.leases.tick(f.clock.now()).await.expect("tick"), 1);
    assert_eq!(
        *r.revoked.lock().expect("l"),
        std::slice::from_ref(&le.lease_id)
    );
    assert!(f.leases.lookup(&le.lease_id).await.expect("l").is_none());

    // A token's revocation takes its secret leases (at the next tick).
    let le2 = f
        .leases
        .register_secret("db/creds/app", &owner, None, true, hour, hour)
        .await
        .expect("register");
    f.ok("revoke", json!({"token": t}), &f.root).await;
    f.clock.advance(Duration::from_millis(1));
    f.leases.tick(f.clock.now()).await.expect("tick");
    assert!(r.revoked.lock().expect("l").contains(&le2.lease_id));
}

#[tokio::test]
async fn failed_revocations_retry_then_become_irrevocable_and_survive_a_restart() {
    let f = Fixture::new().await;
    let r = revoker(100);
    f.leases.set_revoker(r.clone());
    let le = f
        .leases
        .register_secret(
            "db/creds/x",
            "",
            None,
            false,
            Duration::from_secs(60),
            Duration::from_secs(60),
        )
        .await
        .expect("register");
    // Restart before expiry: the lease is restored.
    let f = f.reopen().await;
    f.leases.set_revoker(r.clone());
    f.advance(61);
    f.leases.tick(f.clock.now()).await.expect("tick");
    // Backoff 10 s, 20 s, 40 s, 80 s, 160 s: six attempts in all.
    for wait in [10, 20, 40, 80, 160] {
        f.advance(wait + 1);
        f.leases.tick(f.clock.now()).await.expect("tick");
    }
    let info = f
        .leases
        .lookup(&le.lease_id)
        .await
        .expect("l")
        .expect("kept");
    assert_eq!(info.revoke_err, "backend down");
    assert!(f.leases.next_due().is_none() || f.leases.next_due() != Some(i64::MIN));
    let e = f
        .leases
        .revoke(&le.lease_id)
        .await
        .expect_err("still fails");
    assert!(e.to_string().contains("backend down"));
    f.leases.revoke_prefix("db/", true).await.expect("force");
    assert!(f.leases.lookup(&le.lease_id).await.expect("l").is_none());
}
