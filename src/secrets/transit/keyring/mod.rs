//! A named Transit key: every version of it and its settings, in OpenBao's stored form
//! ([`wire::Policy`]), with each version's cipher or key pair built once and kept
//! ([`KeyRing::prepared`]). The operations here are OpenBao's `keysutil.Policy` methods,
//! with their checks in their order and their texts.
//!
//! May not touch: storage (that is `store`), HTTP shapes (that is `paths`).

pub(crate) mod asymmetric;
pub(crate) mod bignum;
pub(crate) mod hash;
pub(crate) mod kind;
pub(crate) mod sign;
pub(crate) mod symmetric;
pub(crate) mod wire;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use base64::Engine as _;
use time::OffsetDateTime;
use zeroize::Zeroizing;

pub(crate) use kind::KeyType;
use wire::{Bytes, KeyEntry, Policy};

/// OpenBao's `ErrTooOld`.
pub(crate) const ERR_TOO_OLD: &str =
    "ciphertext or signature version is disallowed by policy (too old)";
const DEFAULT_VERSION_TEMPLATE: &str = "vault:v{{version}}:";
/// The convergent scheme new versions get (nonce = HMAC of the plaintext).
pub(crate) const CURRENT_CONVERGENT_VERSION: i64 = 3;
/// Bounds of an `hmac` key's size, in bytes.
pub(crate) const HMAC_MIN_KEY_SIZE: i64 = 32;
pub(crate) const HMAC_MAX_KEY_SIZE: i64 = 512;

/// Why a key operation failed, as OpenBao's `errutil.UserError` (400) and
/// `errutil.InternalError` (500) tell them apart; the texts are OpenBao's.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum KeyError {
    #[error("{0}")]
    User(String),
    #[error("{0}")]
    Internal(String),
}

impl KeyError {
    pub(crate) fn user(s: impl Into<String>) -> Self {
        Self::User(s.into())
    }
    pub(crate) fn internal(s: impl Into<String>) -> Self {
        Self::Internal(s.into())
    }
    pub(crate) fn is_user(&self) -> bool {
        matches!(self, Self::User(_))
    }
}

/// A version's key material made ready for use: built on first use, then shared.
pub(crate) enum Prepared {
    /// A non-derived AEAD key.
    Aead(symmetric::Aead),
    /// An ECDSA, ed25519 or RSA key pair (or public key only).
    Asym(asymmetric::AsymKey),
    /// Nothing to build (derived keys, HMAC keys).
    Nothing,
}

/// A version's prepared key (or why it could not be built), filled once.
type PreparedSlot = OnceLock<Result<Arc<Prepared>, KeyError>>;

/// One key name's versions and settings.
pub(crate) struct KeyRing {
    pub(crate) policy: Policy,
    /// Built ciphers and key pairs by version. Behind a lock only to fill it.
    prepared: RwLock<HashMap<i64, Arc<PreparedSlot>>>,
}

impl Clone for KeyRing {
    fn clone(&self) -> Self {
        // A changed copy must not reuse prepared keys of versions it may replace (restore).
        Self::new(self.policy.clone())
    }
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("policy", &self.policy)
            .finish()
    }
}

/// How a new key is asked for (`PolicyRequest`).
#[derive(Clone, Debug)]
pub(crate) struct NewKey {
    pub(crate) name: String,
    pub(crate) kind: KeyType,
    pub(crate) derived: bool,
    pub(crate) convergent: bool,
    pub(crate) exportable: bool,
    pub(crate) allow_plaintext_backup: bool,
    pub(crate) auto_rotate_period_ns: i64,
    /// For `hmac` keys, in bytes.
    pub(crate) key_size: i64,
}

impl KeyRing {
    pub(crate) fn new(policy: Policy) -> Self {
        Self {
            policy,
            prepared: RwLock::new(HashMap::new()),
        }
    }

    /// A new key with its first version (`NewPolicy` + `Rotate`).
    pub(crate) fn create(req: &NewKey, now: OffsetDateTime) -> Result<Self, KeyError> {
        if req.convergent && !req.derived {
            return Err(KeyError::user(
                "convergent encryption requires derivation to be enabled",
            ));
        }
        if req.convergent && req.kind == KeyType::Ed25519 {
            return Err(KeyError::user(format!(
                "convergent encryption not supported for keys of type {}",
                req.kind
            )));
        }
        if req.derived && !req.kind.derivation_supported() {
            return Err(KeyError::user(format!(
                "key derivation and convergent encryption not supported for keys of type {}",
                req.kind
            )));
        }
        let policy = Policy {
            name: req.name.clone(),
            key: Bytes::default(),
            key_size: if req.kind == KeyType::Hmac {
                req.key_size
            } else {
                0
            },
            keys: Default::default(),
            derived: req.derived,
            // New derived keys use HKDF (OpenBao's `Kdf_hkdf_sha256`).
            kdf: if req.derived { 1 } else { 0 },
            convergent_encryption: req.convergent,
            exportable: req.exportable,
            min_decryption_version: 0,
            min_encryption_version: 0,
            latest_version: 0,
            archive_version: 0,
            archive_min_version: 0,
            min_available_version: 0,
            deletion_allowed: false,
            convergent_version: if req.convergent { -1 } else { 0 },
            kind: req.kind,
            backup_info: None,
            restore_info: None,
            allow_plaintext_backup: req.allow_plaintext_backup,
            version_template: String::new(),
            storage_prefix: String::new(),
            auto_rotate_period: req.auto_rotate_period_ns,
            imported: false,
            allow_imported_key_rotation: false,
            soft_deleted: false,
        };
        let mut ring = Self::new(policy);
        ring.rotate_in_memory(now)?;
        Ok(ring)
    }

    pub(crate) fn kind(&self) -> KeyType {
        self.policy.kind
    }

    pub(crate) fn latest(&self) -> i64 {
        self.policy.latest_version
    }

    pub(crate) fn entry(&self, ver: i64) -> Result<&KeyEntry, KeyError> {
        self.policy
            .keys
            .get(&ver.to_string())
            .ok_or_else(|| KeyError::user("no such key version"))
    }

    /// Add a version (`RotateInMemory`): new key material and a new HMAC key.
    pub(crate) fn rotate_in_memory(&mut self, now: OffsetDateTime) -> Result<(), KeyError> {
        if self.policy.imported && !self.policy.allow_imported_key_rotation {
            return Err(KeyError::internal(format!(
                "imported key {} does not allow rotation within Vault",
                self.policy.name
            )));
        }
        let mut entry = KeyEntry::new(now);
        entry.hmac_key = Bytes::new(symmetric::random_bytes(32));
        let kind = self.policy.kind;
        if kind.is_symmetric_aead() || kind == KeyType::Hmac {
            let len = if kind == KeyType::Hmac {
                let size = self.policy.key_size;
                if !(HMAC_MIN_KEY_SIZE..=HMAC_MAX_KEY_SIZE).contains(&size) {
                    return Err(KeyError::internal(format!(
                        "invalid key size for HMAC key, must be between {HMAC_MIN_KEY_SIZE} and {HMAC_MAX_KEY_SIZE} bytes"
                    )));
                }
                size as usize
            } else {
                kind.symmetric_key_len()
            };
            let key = symmetric::random_bytes(len);
            if kind == KeyType::Hmac {
                entry.hmac_key = Bytes::new(key.clone());
            }
            entry.key = Bytes::new(key);
        } else {
            asymmetric::generate(kind, &mut entry)?;
        }
        if self.policy.convergent_encryption
            && (self.policy.convergent_version == -1 || self.policy.convergent_version > 1)
        {
            entry.convergent_version = CURRENT_CONVERGENT_VERSION;
        }
        self.policy.latest_version += 1;
        self.policy
            .keys
            .insert(self.policy.latest_version.to_string(), entry);
        if self.policy.min_decryption_version == 0 {
            self.policy.min_decryption_version = 1;
        }
        self.policy.imported = false;
        Ok(())
    }

    /// The version's prepared key, built on first use.
    pub(crate) fn prepared(&self, ver: i64) -> Result<Arc<Prepared>, KeyError> {
        let slot = {
            let read = self.prepared.read().unwrap_or_else(|e| e.into_inner());
            read.get(&ver).cloned()
        };
        let slot = match slot {
            Some(s) => s,
            None => {
                let mut write = self.prepared.write().unwrap_or_else(|e| e.into_inner());
                write.entry(ver).or_default().clone()
            }
        };
        slot.get_or_init(|| self.build(ver).map(Arc::new)).clone()
    }

    fn build(&self, ver: i64) -> Result<Prepared, KeyError> {
        let entry = self.entry(ver)?;
        let kind = self.policy.kind;
        if kind.is_symmetric_aead() {
            if self.policy.derived {
                return Ok(Prepared::Nothing);
            }
            return symmetric::Aead::new(kind, entry.key.get()).map(Prepared::Aead);
        }
        if kind == KeyType::Hmac || (kind == KeyType::Ed25519 && self.policy.derived) {
            return Ok(Prepared::Nothing);
        }
        asymmetric::AsymKey::from_entry(kind, entry).map(Prepared::Asym)
    }

    /// The ciphertext / signature / HMAC prefix of a version (`getVersionPrefix`).
    pub(crate) fn version_prefix(&self, ver: i64) -> String {
        let template = if self.policy.version_template.is_empty() {
            DEFAULT_VERSION_TEMPLATE
        } else {
            &self.policy.version_template
        };
        template.replace("{{version}}", &ver.to_string())
    }

    /// Split `vault:v3:abc` into (3, "abc"), with OpenBao's texts naming `what`
    /// (`ciphertext` or `signature`) when it does not parse.
    pub(crate) fn split_versioned<'a>(
        &self,
        value: &'a str,
        what: &str,
    ) -> Result<(i64, &'a str), KeyError> {
        let template = if self.policy.version_template.is_empty() {
            DEFAULT_VERSION_TEMPLATE
        } else {
            &self.policy.version_template
        };
        let mut parts = template.split("{{version}}");
        let (Some(pre), Some(post), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(KeyError::internal("error parsing version template"));
        };
        let Some(rest) = value.strip_prefix(pre) else {
            return Err(KeyError::user(format!("invalid {what}: no prefix")));
        };
        let Some((ver, body)) = rest.split_once(post) else {
            return Err(KeyError::user(format!(
                "invalid {what}: wrong number of fields"
            )));
        };
        let ver: i64 = go_atoi(ver).ok_or_else(|| {
            KeyError::user(format!(
                "invalid {what}: version number could not be decoded"
            ))
        })?;
        Ok((ver, body))
    }

    /// The version to encrypt or sign with (`0` = latest), checked as `EncryptWithFactory`.
    pub(crate) fn encryption_version(&self, ver: i64, op: &str) -> Result<i64, KeyError> {
        match ver {
            0 => Ok(self.latest()),
            v if v < 0 => Err(KeyError::user(format!(
                "requested version for {op} is negative"
            ))),
            v if v > self.latest() => Err(KeyError::user(format!(
                "requested version for {op} is higher than the latest key version"
            ))),
            v if v < self.policy.min_encryption_version => Err(KeyError::user(format!(
                "requested version for {op} is less than the minimum encryption key version"
            ))),
            v => Ok(v),
        }
    }

    fn convergent_version(&self, ver: i64) -> i64 {
        if !self.policy.convergent_encryption {
            return 0;
        }
        let mut v = self.policy.convergent_version;
        if v == 0 {
            v = 1;
        }
        if let Some(e) = self.policy.keys.get(&ver.to_string()) {
            if e.convergent_version != 0 {
                v = e.convergent_version;
            }
        }
        v
    }

    /// The derived key of a version for `context` (`DeriveKey`, HKDF-SHA256 only: the
    /// pre-HKDF counter mode is refused).
    pub(crate) fn derive_key(
        &self,
        context: &[u8],
        ver: i64,
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if !self.policy.kind.derivation_supported() {
            return Err(KeyError::user(format!(
                "derivation not supported for key type {}",
                self.policy.kind
            )));
        }
        if ver <= 0 || ver > self.latest() {
            return Err(KeyError::user("invalid key version"));
        }
        if context.is_empty() {
            return Err(KeyError::user("missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key"));
        }
        let entry = self.entry(ver)?;
        match self.policy.kdf {
            1 => symmetric::hkdf_sha256(entry.key.get(), context, len),
            0 => symmetric::counter_kdf(entry.key.get(), context),
            _ => Err(KeyError::internal("unsupported key derivation mode")),
        }
    }

    /// Encrypt base64-decoded `plaintext` (`EncryptWithFactory`): `vault:vN:...`.
    pub(crate) fn encrypt(
        &self,
        ver: i64,
        context: &[u8],
        nonce: &[u8],
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<String, KeyError> {
        let kind = self.policy.kind;
        if !kind.encryption_supported() {
            return Err(KeyError::user(format!(
                "message encryption not supported for key type {kind}"
            )));
        }
        let ver = self.encryption_version(ver, "encryption")?;
        let ciphertext = if kind.is_rsa() {
            match &*self.prepared(ver)? {
                Prepared::Asym(k) => k.rsa_encrypt(plaintext)?,
                _ => return Err(KeyError::internal("unsupported key type")),
            }
        } else {
            let cv = self.convergent_version(ver);
            if cv > 2 {
                if !nonce.is_empty() {
                    return Err(KeyError::user("nonce provided when not allowed"));
                }
            } else if !nonce.is_empty() && (!self.policy.convergent_encryption || cv != 1) {
                return Err(KeyError::user("nonce provided when not allowed"));
            }
            let enc_len = kind.symmetric_key_len();
            if self.policy.derived {
                let hmac_len = if cv > 2 { 32 } else { 0 };
                let key = self.derive_key(context, ver, enc_len + hmac_len)?;
                if key.len() < enc_len + hmac_len {
                    return Err(KeyError::internal("could not derive key, length too small"));
                }
                let aead = symmetric::Aead::new(kind, &key[..enc_len])?;
                let convergent = if self.policy.convergent_encryption {
                    if cv < CURRENT_CONVERGENT_VERSION && cv > 0 {
                        return Err(KeyError::user(format!(
                            "refusing to support decryption with old convergent encryption key: version {cv}"
                        )));
                    }
                    Some(&key[enc_len..])
                } else {
                    None
                };
                aead.seal(plaintext, aad, convergent, nonce)?
            } else {
                match &*self.prepared(ver)? {
                    Prepared::Aead(a) => a.seal(plaintext, aad, None, nonce)?,
                    _ => return Err(KeyError::internal("unsupported key type")),
                }
            }
        };
        let mut out = self.version_prefix(ver);
        base64::engine::general_purpose::STANDARD.encode_string(&ciphertext, &mut out);
        Ok(out)
    }

    /// Decrypt a `vault:vN:...` ciphertext to the plaintext bytes (`DecryptWithFactory`).
    pub(crate) fn decrypt(
        &self,
        context: &[u8],
        value: &str,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let kind = self.policy.kind;
        if !kind.encryption_supported() {
            return Err(KeyError::user(format!(
                "message decryption not supported for key type {kind}"
            )));
        }
        let (mut ver, body) = self.split_versioned(value, "ciphertext")?;
        if ver == 0 {
            // OpenBao's first keys were numbered from zero.
            ver = 1;
        }
        if ver > self.latest() {
            return Err(KeyError::user("invalid ciphertext: version is too new"));
        }
        if self.policy.min_decryption_version > 0 && ver < self.policy.min_decryption_version {
            return Err(KeyError::user(ERR_TOO_OLD));
        }
        let cv = self.convergent_version(ver);
        if self.policy.convergent_encryption && cv < CURRENT_CONVERGENT_VERSION && cv > 0 {
            return Err(KeyError::user(format!(
                "refusing to support decryption with old convergent encryption key: version {cv}"
            )));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| KeyError::user("invalid ciphertext: could not decode base64"))?;
        if kind.is_rsa() {
            return match &*self.prepared(ver)? {
                Prepared::Asym(k) => k.rsa_decrypt(&decoded),
                _ => Err(KeyError::internal("unsupported key type")),
            };
        }
        if self.policy.derived {
            let key = self.derive_key(context, ver, kind.symmetric_key_len())?;
            symmetric::Aead::new(kind, &key[..kind.symmetric_key_len()])?.open(&decoded, aad)
        } else {
            match &*self.prepared(ver)? {
                Prepared::Aead(a) => a.open(&decoded, aad),
                _ => Err(KeyError::internal("unsupported key type")),
            }
        }
    }

    /// The HMAC key of a version (`HMACKey`).
    pub(crate) fn hmac_key(&self, ver: i64) -> Result<&[u8], KeyError> {
        if ver < 0 {
            return Err(KeyError::internal(
                "key version does not exist (cannot be negative)",
            ));
        }
        if ver > self.latest() {
            return Err(KeyError::internal(format!(
                "key version does not exist; latest key version is {}",
                self.latest()
            )));
        }
        let entry = self.entry(ver)?;
        if self.policy.kind == KeyType::Hmac {
            return Ok(entry.key.get());
        }
        if entry.hmac_key.0.is_none() {
            return Err(KeyError::internal(
                "no HMAC key exists for that key version",
            ));
        }
        Ok(entry.hmac_key.get())
    }
}

/// Go's `strconv.Atoi`: optional sign, decimal digits, nothing else.
pub(crate) fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
