//! Drive an engine without the core or HTTP: a real barrier over memory storage, the
//! engine's compiled path table, and a clock the test moves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use super::{Backend, Clock, Ctx, DynBackend, EngineError, EngineRequest, EngineResponse};
use super::{MountInfo, Mounted, SYSTEM_DEFAULT_LEASE_TTL, SYSTEM_MAX_LEASE_TTL};
use crate::barrier::{Barrier, View};
use crate::logical::{Data, Operation};

/// A clock that moves only when told.
pub(crate) struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    pub(crate) fn new() -> Self {
        Self(Mutex::new(
            time::macros::datetime!(2026-11-22 08:08:10.632335602 UTC),
        ))
    }

    pub(crate) fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) struct Harness {
    pub(crate) backend: Arc<dyn DynBackend>,
    pub(crate) view: View,
    pub(crate) mount: MountInfo,
    pub(crate) clock: TestClock,
    pub(crate) physical: Arc<storage::MemBackend>,
}

impl Harness {
    pub(crate) fn new<B: Backend>(backend: B) -> Self {
        let physical = Arc::new(storage::MemBackend::new());
        let barrier = Arc::new(Barrier::new(
            physical.clone(),
            seal::Keyring::new(seal::Key::generate()),
        ));
        Self {
            backend: Arc::new(Mounted::new(backend).expect("the path table builds")),
            view: barrier.view("logical/test/"),
            mount: MountInfo {
                default_lease_ttl: SYSTEM_DEFAULT_LEASE_TTL,
                max_lease_ttl: SYSTEM_MAX_LEASE_TTL,
            },
            clock: TestClock::new(),
            physical,
        }
    }

    /// One request: `data` is a JSON object (or `null` for none).
    pub(crate) async fn call(
        &self,
        op: Operation,
        path: &str,
        data: Value,
    ) -> Result<EngineResponse, EngineError> {
        let data: Data = match data {
            Value::Object(m) => m,
            _ => Data::new(),
        };
        let ctx = Ctx {
            storage: &self.view,
            mount: &self.mount,
            clock: &self.clock,
        };
        let m = self.backend.resolve(path)?;
        let req = EngineRequest {
            op,
            params: m.params.clone(),
            data,
            client_token: None,
            client_id: Some("test-client".into()),
            sudo: true,
            wrap_ttl: None,
            connection: Default::default(),
        };
        self.backend.handle(&ctx, m, req).await
    }

    /// The engine's periodic work, as the core's ticker runs it.
    pub(crate) async fn periodic(&self) -> Result<(), EngineError> {
        let ctx = Ctx {
            storage: &self.view,
            mount: &self.mount,
            clock: &self.clock,
        };
        self.backend.periodic(&ctx).await
    }

    /// As [`Harness::call`], expecting a data answer; returns `data` as JSON.
    pub(crate) async fn data(&self, op: Operation, path: &str, data: Value) -> Value {
        match self.call(op, path, data).await {
            Ok(EngineResponse {
                body: crate::logical::Body::Data(d),
                ..
            }) => Value::Object(d),
            other => panic!("{op:?} {path}: expected data, got {other:?}"),
        }
    }
}
