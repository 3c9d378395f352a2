//! The Transit engine: encryption, signing and HMAC as a service, with keys that never
//! leave it (unless made exportable). OpenBao's API, stored form, ciphertexts, signatures
//! and backups, so keys and outputs move between the two servers either way.
//!
//! - `keyring/`: one named key's versions and the crypto (OpenBao's `keysutil`).
//! - `store`: where key rings live, the in-memory cache, per-name write locks.
//! - `paths/`: the HTTP handlers, one module per family of paths.
//!
//! May not touch: `core`, `router`, `token`, `policy`.

pub(crate) mod keyring;
mod paths;
#[doc(hidden)]
pub mod public;
mod store;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::{Backend, Ctx, EngineError, EngineRequest, EngineResponse};
use crate::engine::{Flags, Ops, Params, Path};
use keyring::KeyError;
use store::{Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Keys,
    Key,
    KeyConfig,
    Rotate,
    Trim,
    Encrypt,
    Decrypt,
    Rewrap,
    Datakey,
    Hmac,
    HmacAlgo,
    Sign,
    SignAlgo,
    Verify,
    VerifyAlgo,
    Hash,
    HashAlgo,
    Random,
    RandomBytes,
    RandomSourceBytes,
    Export,
    ExportVersion,
    Backup,
    Restore,
    RestoreName,
    CacheConfig,
    ConfigKeys,
}

const KEY_FIELDS: &[&str] = &[
    "name",
    "type",
    "derived",
    "convergent_encryption",
    "exportable",
    "allow_plaintext_backup",
    "auto_rotate_period",
    "key_size",
    "context",
    "external_key_ref",
];
const KEY_CONFIG_FIELDS: &[&str] = &[
    "name",
    "min_decryption_version",
    "min_encryption_version",
    "deletion_allowed",
    "exportable",
    "allow_plaintext_backup",
    "auto_rotate_period",
];
const ENCRYPT_FIELDS: &[&str] = &[
    "name",
    "plaintext",
    "context",
    "type",
    "convergent_encryption",
    "key_version",
    "associated_data",
    "batch_input",
    "partial_failure_response_code",
];
const DECRYPT_FIELDS: &[&str] = &[
    "name",
    "ciphertext",
    "context",
    "associated_data",
    "batch_input",
    "partial_failure_response_code",
];
const REWRAP_FIELDS: &[&str] = &[
    "name",
    "ciphertext",
    "context",
    "key_version",
    "batch_input",
];
const DATAKEY_FIELDS: &[&str] = &["plaintext", "name", "context", "bits", "key_version"];
const HMAC_FIELDS: &[&str] = &[
    "name",
    "input",
    "algorithm",
    "urlalgorithm",
    "key_version",
    "batch_input",
];
const SIGN_FIELDS: &[&str] = &[
    "name",
    "key_version",
    "hash_algorithm",
    "input",
    "reference",
    "context",
    "urlalgorithm",
    "algorithm",
    "prehashed",
    "signature_algorithm",
    "marshaling_algorithm",
    "salt_length",
    "batch_input",
];
const VERIFY_FIELDS: &[&str] = &[
    "name",
    "context",
    "signature",
    "hmac",
    "input",
    "reference",
    "urlalgorithm",
    "algorithm",
    "hash_algorithm",
    "prehashed",
    "signature_algorithm",
    "marshaling_algorithm",
    "salt_length",
    "batch_input",
];
const HASH_FIELDS: &[&str] = &["input", "algorithm", "urlalgorithm", "format"];
const RANDOM_FIELDS: &[&str] = &["urlbytes", "bytes", "format", "source"];

const UPDATE: Ops = Ops::UPDATE;
const WRITE: Ops = Ops::WRITE;

pub(crate) struct Transit {
    store: Store,
    /// The mount's settings (`config/keys disable_upsert`, `cache-config` size) were read
    /// from storage: once, at the first request; after that only their paths change them.
    settings_loaded: AtomicBool,
    disable_upsert: AtomicBool,
}

impl Default for Transit {
    fn default() -> Self {
        Self {
            store: Store::default(),
            settings_loaded: AtomicBool::new(false),
            disable_upsert: AtomicBool::new(false),
        }
    }
}

impl Backend for Transit {
    type Route = Route;

    const PATHS: &'static [Path<Route>] = &[
        Path::new("keys/", Route::Keys)
            .ops(Ops::LIST)
            .help("Managed named encryption keys."),
        Path::new("keys/{name}", Route::Key)
            .ops(Ops::READ.union(UPDATE).union(Ops::DELETE))
            .fields(KEY_FIELDS)
            .help("Managed named encryption keys."),
        Path::new("keys/{name}/config", Route::KeyConfig)
            .ops(UPDATE)
            .fields(KEY_CONFIG_FIELDS)
            .help("Configure a named encryption key."),
        Path::new("keys/{name}/rotate", Route::Rotate)
            .ops(UPDATE)
            .fields(&["name", "external_key_ref"])
            .help("Rotate named encryption key."),
        Path::new("keys/{name}/trim", Route::Trim)
            .ops(UPDATE)
            .fields(&["name", "min_available_version"])
            .help("Trim key versions of a named key."),
        Path::new("encrypt/{name}", Route::Encrypt)
            .ops(WRITE)
            .flags(Flags::EXISTENCE_CHECK)
            .fields(ENCRYPT_FIELDS)
            .help("Encrypt a plaintext value or a batch of plaintext blocks using a named key."),
        Path::new("decrypt/{name}", Route::Decrypt)
            .ops(UPDATE)
            .fields(DECRYPT_FIELDS)
            .help("Decrypt a ciphertext value using a named key."),
        Path::new("rewrap/{name}", Route::Rewrap)
            .ops(UPDATE)
            .fields(REWRAP_FIELDS)
            .help("Rewrap ciphertext."),
        Path::new("datakey/{plaintext}/{name}", Route::Datakey)
            .ops(UPDATE)
            .fields(DATAKEY_FIELDS)
            .help("Generate a data key."),
        Path::new("hmac/{name}", Route::Hmac)
            .ops(UPDATE)
            .fields(HMAC_FIELDS)
            .help("Generate an HMAC for input data using the named key."),
        Path::new("hmac/{name}/{urlalgorithm}", Route::HmacAlgo)
            .ops(UPDATE)
            .fields(HMAC_FIELDS)
            .help("Generate an HMAC for input data using the named key."),
        Path::new("sign/{name}", Route::Sign)
            .ops(UPDATE)
            .fields(SIGN_FIELDS)
            .help("Generate a signature for input data using the named key."),
        Path::new("sign/{name}/{urlalgorithm}", Route::SignAlgo)
            .ops(UPDATE)
            .fields(SIGN_FIELDS)
            .help("Generate a signature for input data using the named key."),
        Path::new("verify/{name}", Route::Verify)
            .ops(UPDATE)
            .fields(VERIFY_FIELDS)
            .help("Verify a signature or HMAC for input data created using the named key."),
        Path::new("verify/{name}/{urlalgorithm}", Route::VerifyAlgo)
            .ops(UPDATE)
            .fields(VERIFY_FIELDS)
            .help("Verify a signature or HMAC for input data created using the named key."),
        Path::new("hash", Route::Hash)
            .ops(UPDATE)
            .fields(HASH_FIELDS)
            .help("Generate a hash sum for input data."),
        Path::new("hash/{urlalgorithm}", Route::HashAlgo)
            .ops(UPDATE)
            .fields(HASH_FIELDS)
            .help("Generate a hash sum for input data."),
        Path::new("random", Route::Random)
            .ops(UPDATE)
            .fields(RANDOM_FIELDS)
            .help("Generate random bytes."),
        Path::new("random/{urlbytes}", Route::RandomBytes)
            .ops(UPDATE)
            .fields(RANDOM_FIELDS)
            .help("Generate random bytes."),
        Path::new("random/{source}/{urlbytes}", Route::RandomSourceBytes)
            .ops(UPDATE)
            .fields(RANDOM_FIELDS)
            .help("Generate random bytes."),
        Path::new("export/{type}/{name}", Route::Export)
            .ops(Ops::READ)
            .help("Export named encryption or signing key."),
        Path::new("export/{type}/{name}/{version}", Route::ExportVersion)
            .ops(Ops::READ)
            .help("Export named encryption or signing key."),
        Path::new("backup/{name}", Route::Backup)
            .ops(Ops::READ)
            .help("Backup the named key."),
        Path::new("restore", Route::Restore)
            .ops(UPDATE)
            .fields(&["backup", "name", "force"])
            .help("Restore the named key."),
        Path::new("restore/{name}", Route::RestoreName)
            .ops(UPDATE)
            .fields(&["backup", "name", "force"])
            .help("Restore the named key."),
        Path::new("cache-config", Route::CacheConfig)
            .ops(Ops::READ.union(UPDATE))
            .fields(&["size"])
            .help("Configures a new cache of the specified size."),
        Path::new("config/keys", Route::ConfigKeys)
            .ops(Ops::READ.union(UPDATE))
            .fields(&["disable_upsert"])
            .help("Configuration common across all keys."),
    ];

    async fn handle(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        req: EngineRequest,
    ) -> Result<EngineResponse, EngineError> {
        self.load_settings(ctx).await?;
        let s = &self.store;
        match route {
            Route::Keys => paths::keys::list(s, ctx).await,
            Route::Key => paths::keys::key(s, ctx, req).await,
            Route::KeyConfig => paths::keys::config(s, ctx, req).await,
            Route::Rotate => paths::keys::rotate(s, ctx, req).await,
            Route::Trim => paths::keys::trim(s, ctx, req).await,
            Route::Encrypt => {
                let upsert = !self.disable_upsert.load(Ordering::Acquire);
                paths::crypt::encrypt(s, ctx, req, upsert).await
            }
            Route::Decrypt => paths::crypt::decrypt(s, ctx, req).await,
            Route::Rewrap => paths::crypt::rewrap(s, ctx, req).await,
            Route::Datakey => paths::crypt::datakey(s, ctx, req).await,
            Route::Hmac | Route::HmacAlgo => paths::hmac::hmac(s, ctx, req).await,
            Route::Sign | Route::SignAlgo => paths::sign::sign(s, ctx, req).await,
            Route::Verify | Route::VerifyAlgo => paths::sign::verify(s, ctx, req).await,
            Route::Hash | Route::HashAlgo => paths::misc::hash(req),
            Route::Random | Route::RandomBytes | Route::RandomSourceBytes => {
                paths::misc::random(req)
            }
            Route::Export | Route::ExportVersion => paths::export::export(s, ctx, req).await,
            Route::Backup => paths::export::backup(s, ctx, req).await,
            Route::Restore | Route::RestoreName => paths::export::restore(s, ctx, req).await,
            Route::CacheConfig => paths::misc::cache_config(s, ctx, req).await,
            Route::ConfigKeys => {
                let resp = paths::misc::config_keys(ctx, req).await?;
                let v = paths::misc::read_disable_upsert(ctx).await?;
                self.disable_upsert.store(v, Ordering::Release);
                Ok(resp)
            }
        }
    }

    async fn periodic(&self, ctx: &Ctx<'_>) -> Result<(), EngineError> {
        self.auto_rotate(ctx).await
    }

    async fn exists(
        &self,
        ctx: &Ctx<'_>,
        route: Route,
        params: &Params,
    ) -> Result<bool, EngineError> {
        match route {
            Route::Encrypt => Ok(self
                .store
                .get(ctx.storage, params.get("name"))
                .await?
                .is_some()),
            _ => Ok(true),
        }
    }
}

impl Transit {
    async fn load_settings(&self, ctx: &Ctx<'_>) -> Result<(), EngineError> {
        if self.settings_loaded.load(Ordering::Acquire) {
            return Ok(());
        }
        let v = paths::misc::read_disable_upsert(ctx).await?;
        self.disable_upsert.store(v, Ordering::Release);
        let size = paths::misc::read_cache_size(ctx).await?;
        if size > 0 {
            self.store.set_cache_size(size as usize);
        }
        self.settings_loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// Rotate every key whose `auto_rotate_period` has passed since its latest version was
    /// made (OpenBao's `autoRotateKeys`). One key's failure does not stop the others.
    async fn auto_rotate(&self, ctx: &Ctx<'_>) -> Result<(), EngineError> {
        let now = ctx.clock.now();
        let mut first_error = None;
        for name in self.store.list(ctx.storage).await? {
            let due = match self.store.get(ctx.storage, &name).await {
                Ok(Some(ring)) => {
                    let p = &ring.policy;
                    p.auto_rotate_period > 0
                        && !p.imported
                        && ring.entry(p.latest_version).is_ok_and(|e| {
                            now - e.time >= time::Duration::nanoseconds(p.auto_rotate_period)
                        })
                }
                Ok(None) => false,
                Err(e) => {
                    first_error.get_or_insert(EngineError::from(e));
                    false
                }
            };
            if due {
                match paths::keys::rotate_now(&self.store, ctx, &name).await {
                    Ok(_) => tracing::info!(key = %name, "transit key rotated on schedule"),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// A 500 with OpenBao's text, wrapped as OpenBao wraps a handler's Go error.
pub(crate) fn failed(msg: impl Into<String>) -> EngineError {
    EngineError::Failed(crate::logical::multierror(&[msg.into()]))
}

impl From<KeyError> for EngineError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::User(s) => EngineError::InvalidRequest(s),
            KeyError::Internal(s) => failed(s),
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Key(k) => k.into(),
            StoreError::Engine(e) => e,
        }
    }
}
