//! The builtin engines, by mount type. An explicit list: no plugin registration order, no
//! globals. The system backend is not here; it needs service handles and is built by the
//! core.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Backend, Ctx, DynBackend, EngineError, EngineRequest, EngineResponse, Mounted, Path};
use crate::logical::storage::Storage;
use crate::secrets::kv;

/// A mount request's `type` and `options`, as stored: `kv-v2` is `kv` with
/// `options.version = "2"`, as OpenBao records it.
pub(crate) fn normalize(
    kind: &str,
    options: Option<BTreeMap<String, String>>,
) -> Result<(String, Option<BTreeMap<String, String>>), EngineError> {
    match kind {
        // The suffix wins over any `options.version`, as in OpenBao.
        "kv-v1" | "kv-v2" => {
            let mut options = options.unwrap_or_default();
            options.insert("version".into(), kind[4..].into());
            Ok(("kv".into(), Some(options)))
        }
        // A plain `kv` records its options even when empty (`{}`), and is version 1.
        "kv" => {
            let options = options.unwrap_or_default();
            kv::version(&options)?;
            Ok(("kv".into(), Some(options)))
        }
        "transit" => Ok(("transit".into(), options)),
        other => Err(EngineError::InvalidRequest(format!(
            "plugin not found in the catalog: {other}"
        ))),
    }
}

/// The engine for a stored mount of type `kind`.
pub(crate) fn build(
    kind: &str,
    options: &BTreeMap<String, String>,
) -> Result<Arc<dyn DynBackend>, EngineError> {
    let table = |e: super::TableError| EngineError::InvalidRequest(e.to_string());
    match kind {
        "kv" => match kv::version(options)? {
            1 => Ok(Arc::new(Mounted::new(kv::KvV1).map_err(table)?)),
            _ => Ok(Arc::new(Mounted::new(kv::KvV2::default()).map_err(table)?)),
        },
        "transit" => Ok(Arc::new(
            Mounted::new(crate::secrets::transit::Transit::default()).map_err(table)?,
        )),
        // Mounted on every server as in OpenBao, so `sys/mounts` lists them; their engines
        // are not written yet and answer every path "unsupported path".
        "identity" | "cubbyhole" => Ok(Arc::new(Mounted::new(Inert).map_err(table)?)),
        other => crate::auth::build(other).unwrap_or_else(|| {
            Err(EngineError::InvalidRequest(format!(
                "plugin not found in the catalog: {other}"
            )))
        }),
    }
}

/// Act on an options change before it is stored: KV v1 → v2 upgrades the data in place.
/// Returns the warnings to pass on to the client.
pub(crate) async fn retune(
    kind: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    storage: &dyn Storage,
    now: time::OffsetDateTime,
) -> Result<Vec<String>, EngineError> {
    if kind != "kv" || old.get("version") == new.get("version") {
        return Ok(Vec::new());
    }
    let (from, to) = (kv::version(old)?, kv::version(new)?);
    if from > to {
        return Err(EngineError::InvalidRequest(format!(
            "cannot downgrade mount from version {from}"
        )));
    }
    if (from, to) == (1, 2) {
        let moved = kv::upgrade_to_v2(storage, now).await?;
        tracing::info!(keys = moved, "upgraded a kv mount to version 2");
    }
    // OpenBao warns whenever the version option changes. It upgrades in the background; we
    // have already finished by the time this is sent, so the mount is never unavailable.
    Ok(vec![format!(
        "Upgrading mount from version {from} to version {to}. This mount will be unavailable for a brief period and will resume service shortly."
    )])
}

/// No routes at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoRoute {}

struct Inert;

impl Backend for Inert {
    type Route = NoRoute;
    const PATHS: &'static [Path<NoRoute>] = &[];

    async fn handle(
        &self,
        _ctx: &Ctx<'_>,
        route: NoRoute,
        _req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        match route {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_table_builds() {
        let v1 = BTreeMap::new();
        let v2 = BTreeMap::from([("version".to_string(), "2".to_string())]);
        for (kind, options) in [
            ("kv", &v1),
            ("kv", &v2),
            ("identity", &v1),
            ("cubbyhole", &v1),
            ("transit", &v1),
        ] {
            assert!(build(kind, options).is_ok(), "{kind} {options:?}");
        }
        assert!(build("nosuch", &v1).is_err());
    }

    #[test]
    fn kv_v2_is_stored_as_kv_with_version_2() {
        let (kind, options) = normalize("kv-v2", None).expect("kv-v2");
        assert_eq!(kind, "kv");
        assert_eq!(options.expect("options")["version"], "2");
        let one = BTreeMap::from([("version".to_string(), "1".to_string())]);
        let (_, options) = normalize("kv-v2", Some(one)).expect("suffix wins");
        assert_eq!(options.expect("options")["version"], "2");
        let (_, options) = normalize("kv", None).expect("kv");
        assert_eq!(options, Some(BTreeMap::new()));
        assert!(normalize("kv", Some(BTreeMap::from([("version".into(), "3".into())]))).is_err());
        assert!(normalize("nosuch", None).is_err());
    }
}
