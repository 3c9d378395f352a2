//! Seal wrappers: what encrypts the barrier root key at rest (OpenBao keeps the result at
//! `core/hsm/barrier-unseal-keys`).
//!
//! [`ShamirWrapper`] uses the key-encryption key combined from unseal shares;
//! [`StaticWrapper`] is OpenBao's `seal "static"` auto-unseal, with a current and an optional
//! previous key for rotation. Both are AES-256-GCM with a random 96-bit nonce, the nonce stored
//! in front of the ciphertext. [`resolve_key_material`] reads a static key as OpenBao's config
//! names it (a literal, `env://VAR` or `file:///path`); that file read is the only I/O in this
//! crate. Error messages name where a key came from and what was wrong, never its bytes.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::aead::{gcm_open, gcm_seal_into};
use crate::error::{Error, Result, StaticSealError};
use crate::key::{Key, GO_RAW_URL_BASE64, GO_STD_BASE64};

/// A wrapped (encrypted) secret and the identifier of the key that wrapped it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wrapped {
    /// Which key wrapped this: the static seal's key id; empty for the Shamir seal.
    pub key_id: String,
    /// `nonce (12) ‖ ciphertext ‖ tag (16)`; base64 in JSON, as Go encodes `[]byte`.
    #[serde(with = "bytes_base64")]
    pub ciphertext: Vec<u8>,
}

/// Something that can encrypt and decrypt the barrier root key.
pub trait KeyWrapper: Send + Sync {
    /// The seal type as `sys/seal-status` reports it: `"shamir"` or `"static"`.
    fn kind(&self) -> &'static str;

    /// Encrypts `plaintext`.
    ///
    /// # Errors
    ///
    /// Implementations that call out to a KMS may fail; the local ones do not.
    fn wrap(&self, plaintext: &[u8]) -> Result<Wrapped>;

    /// Decrypts what [`KeyWrapper::wrap`] produced.
    ///
    /// # Errors
    ///
    /// [`Error::Decrypt`] when the key is wrong or the blob was altered; implementation-specific
    /// errors when the blob names a key the wrapper does not have.
    fn unwrap(&self, wrapped: &Wrapped) -> Result<Zeroizing<Vec<u8>>>;
}

/// The Shamir seal: AES-256-GCM under the key-encryption key combined from unseal shares.
#[derive(Clone)]
pub struct ShamirWrapper {
    kek: Key,
}

impl ShamirWrapper {
    /// A wrapper around the combined key-encryption key.
    pub fn new(kek: Key) -> Self {
        ShamirWrapper { kek }
    }
}

impl fmt::Debug for ShamirWrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShamirWrapper")
            .field("kek", &self.kek)
            .finish()
    }
}

impl KeyWrapper for ShamirWrapper {
    fn kind(&self) -> &'static str {
        "shamir"
    }

    fn wrap(&self, plaintext: &[u8]) -> Result<Wrapped> {
        Ok(Wrapped {
            key_id: String::new(),
            ciphertext: seal_blob(&self.kek, plaintext),
        })
    }

    /// Ignores `key_id`: OpenBao's Shamir seal has only one key, so neither does this.
    fn unwrap(&self, wrapped: &Wrapped) -> Result<Zeroizing<Vec<u8>>> {
        gcm_open(&self.kek, &[], &wrapped.ciphertext)
    }
}

/// OpenBao's `seal "static"`: a key from the server's configuration, plus the previous key while
/// a rotation is under way.
#[derive(Clone)]
pub struct StaticWrapper {
    current_key_id: String,
    current: Key,
    previous: Option<(String, Key)>,
}

impl StaticWrapper {
    /// Wraps with `current`; unwraps with whichever of `current` and `previous` the blob names.
    ///
    /// # Errors
    ///
    /// [`StaticSealError`] (as [`Error::StaticSeal`]), checked in the order OpenBao checks:
    /// an empty current id, an empty previous id, the same key under two ids, or two keys
    /// under one id. The same key under the same id is accepted (and the previous key dropped).
    pub fn new(
        current_key_id: String,
        current: Key,
        previous: Option<(String, Key)>,
    ) -> Result<Self> {
        if current_key_id.is_empty() {
            return Err(StaticSealError::EmptyCurrentKeyId.into());
        }
        let previous = match previous {
            None => None,
            Some((id, _)) if id.is_empty() => {
                return Err(StaticSealError::EmptyPreviousKeyId.into());
            }
            Some((id, key)) => {
                let same_key = current == key;
                let same_id = id == current_key_id;
                match (same_key, same_id) {
                    (true, false) => return Err(StaticSealError::SameKeyDifferentIds.into()),
                    (false, true) => return Err(StaticSealError::DifferentKeysSameId.into()),
                    (true, true) => None,
                    (false, false) => Some((id, key)),
                }
            }
        };
        Ok(StaticWrapper {
            current_key_id,
            current,
            previous,
        })
    }

    /// The id new blobs are wrapped under.
    pub fn current_key_id(&self) -> &str {
        &self.current_key_id
    }

    /// The previous key's id, if a rotation is under way.
    pub fn previous_key_id(&self) -> Option<&str> {
        self.previous.as_ref().map(|(id, _)| id.as_str())
    }
}

impl fmt::Debug for StaticWrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticWrapper")
            .field("current_key_id", &self.current_key_id)
            .field("current", &self.current)
            .field("previous", &self.previous)
            .finish()
    }
}

impl KeyWrapper for StaticWrapper {
    fn kind(&self) -> &'static str {
        "static"
    }

    fn wrap(&self, plaintext: &[u8]) -> Result<Wrapped> {
        Ok(Wrapped {
            key_id: self.current_key_id.clone(),
            ciphertext: seal_blob(&self.current, plaintext),
        })
    }

    fn unwrap(&self, wrapped: &Wrapped) -> Result<Zeroizing<Vec<u8>>> {
        let id = wrapped.key_id.as_str();
        if id.is_empty() {
            return Err(Error::EmptyKeyId);
        }
        let key = if id == self.current_key_id {
            &self.current
        } else {
            match &self.previous {
                Some((previous_id, previous)) if previous_id == id => previous,
                _ => return Err(Error::UnknownKeyId(id.to_owned())),
            }
        };
        gcm_open(key, &[], &wrapped.ciphertext)
    }
}

fn seal_blob(key: &Key, plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    gcm_seal_into(key, &[], plaintext, &mut out);
    out
}

/// Resolves static seal key material as OpenBao's config gives it: `env://VAR`, `file:///path`,
/// or the key itself.
///
/// The resolved text (or file contents) may be the 32 raw bytes, 64 hex digits, 44 characters
/// of standard base64 or 43 of unpadded URL-safe base64, chosen by length as OpenBao does. If
/// the length fits none of those, surrounding whitespace is trimmed and it is tried again, so a
/// file written by `openssl rand -hex 32 > key` (with its newline) works.
///
/// # Errors
///
/// [`Error::KeyMaterial`] naming the source and the problem: an unset variable, an unreadable
/// file, an unrecognised length, or text that is not what its length implies.
pub fn resolve_key_material(spec: &str) -> Result<Key> {
    let spec_trimmed = spec.trim();
    let failed = |origin: String, reason: String| Error::KeyMaterial { origin, reason };
    let (origin, text) = if let Some(var) = spec_trimmed.strip_prefix("env://") {
        let origin = format!("env://{var}");
        match std::env::var_os(var) {
            Some(value) => (origin, Zeroizing::new(value.into_encoded_bytes())),
            None => return Err(failed(origin, "environment variable is not set".to_owned())),
        }
    } else if let Some(path) = spec_trimmed.strip_prefix("file://") {
        let origin = format!("file://{path}");
        match std::fs::read(path) {
            Ok(contents) => (origin, Zeroizing::new(contents)),
            Err(e) => return Err(failed(origin, format!("cannot read file: {e}"))),
        }
    } else {
        (
            "literal".to_owned(),
            Zeroizing::new(spec.as_bytes().to_vec()),
        )
    };
    decode_key(&text).map_err(|reason| failed(origin, reason))
}

fn decode_key(text: &[u8]) -> std::result::Result<Key, String> {
    if let Some(decoded) = decode_by_length(text) {
        return decoded;
    }
    let trimmed = text.trim_ascii();
    if trimmed.len() != text.len() {
        if let Some(decoded) = decode_by_length(trimmed) {
            return decoded;
        }
    }
    Err(format!(
        "{} bytes is not a 32-byte key as raw bytes (32), hex (64), base64 (44) or unpadded \
         URL-safe base64 (43)",
        trimmed.len()
    ))
}

/// `None` when the length matches no encoding.
fn decode_by_length(text: &[u8]) -> Option<std::result::Result<Key, String>> {
    let mut key = Key::zeroed();
    let decoded = match text.len() {
        0 => Err("key is empty".to_owned()),
        Key::LEN => {
            key.as_mut_bytes().copy_from_slice(text);
            Ok(())
        }
        64 => hex::decode_to_slice(text, key.as_mut_bytes())
            .map_err(|_| "64 characters but not valid hex".to_owned()),
        44 => base64_exact(&GO_STD_BASE64, text, &mut key)
            .map_err(|e| format!("44 characters but not standard base64 of 32 bytes: {e}")),
        43 => base64_exact(&GO_RAW_URL_BASE64, text, &mut key).map_err(|e| {
            format!("43 characters but not unpadded URL-safe base64 of 32 bytes: {e}")
        }),
        _ => return None,
    };
    Some(decoded.map(|()| key))
}

/// Decodes into `key`, through a zeroized buffer large enough for the decoder's estimate.
fn base64_exact(
    engine: &impl Engine,
    text: &[u8],
    key: &mut Key,
) -> std::result::Result<(), &'static str> {
    let mut buf = Zeroizing::new([0u8; 48]);
    let len = engine
        .decode_slice(text, &mut buf[..])
        .map_err(|_| "invalid base64")?;
    if len != Key::LEN {
        return Err("wrong decoded length");
    }
    key.as_mut_bytes().copy_from_slice(&buf[..len]);
    Ok(())
}

/// `Vec<u8>` as a standard base64 string.
mod bytes_base64 {
    use super::{Engine, STANDARD};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'_, str>>::deserialize(deserializer)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn key(byte: u8) -> Key {
        Key::from_slice(&[byte; 32]).unwrap()
    }

    #[test]
    fn shamir_round_trip_and_wrong_key() {
        let wrapper = ShamirWrapper::new(key(1));
        assert_eq!(wrapper.kind(), "shamir");
        let wrapped = wrapper.wrap(b"root key").unwrap();
        assert_eq!(wrapped.key_id, "");
        assert_eq!(wrapped.ciphertext.len(), 12 + 8 + 16);
        assert_eq!(&wrapper.unwrap(&wrapped).unwrap()[..], b"root key");

        let err = ShamirWrapper::new(key(2)).unwrap(&wrapped).unwrap_err();
        assert_eq!(err.to_string(), "cipher: message authentication failed");

        let mut tampered = wrapped.clone();
        tampered.ciphertext[13] ^= 1;
        assert!(matches!(wrapper.unwrap(&tampered), Err(Error::Decrypt)));
        tampered.ciphertext.truncate(20);
        assert!(matches!(wrapper.unwrap(&tampered), Err(Error::Decrypt)));
    }

    #[test]
    fn wrapped_json_round_trips() {
        let wrapped = ShamirWrapper::new(key(1)).wrap(b"x").unwrap();
        let json = serde_json::to_string(&wrapped).unwrap();
        assert!(json.starts_with(r#"{"key_id":"","ciphertext":""#), "{json}");
        assert_eq!(serde_json::from_str::<Wrapped>(&json).unwrap(), wrapped);
    }

    #[test]
    fn static_rotation() {
        let old = StaticWrapper::new("k1".into(), key(1), None).unwrap();
        assert_eq!(old.kind(), "static");
        let old_blob = old.wrap(b"root").unwrap();
        assert_eq!(old_blob.key_id, "k1");

        let new = StaticWrapper::new("k2".into(), key(2), Some(("k1".into(), key(1)))).unwrap();
        assert_eq!(new.previous_key_id(), Some("k1"));
        let new_blob = new.wrap(b"root").unwrap();
        assert_eq!(new_blob.key_id, "k2");
        assert_eq!(&new.unwrap(&old_blob).unwrap()[..], b"root");
        assert_eq!(&new.unwrap(&new_blob).unwrap()[..], b"root");

        let err = old.unwrap(&new_blob).unwrap_err();
        assert_eq!(err.to_string(), "unknown key id for data: `k2`");
        let mut anonymous = new_blob.clone();
        anonymous.key_id.clear();
        assert_eq!(
            new.unwrap(&anonymous).unwrap_err().to_string(),
            "empty key id"
        );

        // A blob claiming the current id but made with another key fails authentication.
        let mut lying = old_blob;
        lying.key_id = "k2".into();
        assert!(matches!(new.unwrap(&lying), Err(Error::Decrypt)));
    }

    #[test]
    fn static_config_errors() {
        let text = |r: Result<StaticWrapper>| r.unwrap_err().to_string();
        assert_eq!(
            text(StaticWrapper::new(String::new(), key(1), None)),
            "got empty current_key_id; please specify a permanent identifier for this key"
        );
        assert_eq!(
            text(StaticWrapper::new("a".into(), key(1), Some((String::new(), key(2))))),
            "got empty previous_key_id with non-empty previous_key; please specify the matching key identifier"
        );
        assert_eq!(
            text(StaticWrapper::new(
                "a".into(),
                key(1),
                Some(("b".into(), key(1)))
            )),
            "current and previous key material match with different key identifiers"
        );
        assert_eq!(
            text(StaticWrapper::new(
                "a".into(),
                key(1),
                Some(("a".into(), key(2)))
            )),
            "current and previous key material differs with same key identifiers"
        );
        let same = StaticWrapper::new("a".into(), key(1), Some(("a".into(), key(1)))).unwrap();
        assert_eq!(same.previous_key_id(), None);
    }

    #[test]
    fn resolve_literals() {
        let bytes: Vec<u8> = (100..132).collect();
        let want = Key::from_slice(&bytes).unwrap();
        let hex_text = hex::encode(&bytes);
        assert_eq!(resolve_key_material(&hex_text).unwrap(), want);
        assert_eq!(
            resolve_key_material(&hex_text.to_uppercase()).unwrap(),
            want
        );
        assert_eq!(
            resolve_key_material(&STANDARD.encode(&bytes)).unwrap(),
            want
        );
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(url.len(), 43);
        assert_eq!(resolve_key_material(&url).unwrap(), want);
        let raw = "0123456789abcdefghijklmnopqrstuv";
        assert_eq!(
            resolve_key_material(raw).unwrap(),
            Key::from_slice(raw.as_bytes()).unwrap()
        );
        assert_eq!(
            resolve_key_material(&format!(" {hex_text}\n")).unwrap(),
            want
        );
    }

    #[test]
    fn resolve_bad_lengths_do_not_echo_the_key() {
        let secret_hex = "ab".repeat(31);
        for (spec, want) in [
            (secret_hex.clone(), "62 bytes is not a 32-byte key"),
            ("zz".repeat(32), "64 characters but not valid hex"),
            (
                STANDARD.encode([7u8; 33])[..44].to_owned(),
                "44 characters but not standard base64 of 32 bytes",
            ),
            (String::new(), "key is empty"),
        ] {
            let err = resolve_key_material(&spec).unwrap_err().to_string();
            assert!(err.starts_with("static seal key from literal: "), "{err}");
            assert!(err.contains(want), "{err}");
            if !spec.is_empty() {
                assert!(!err.contains(&spec[..8]), "{err}");
            }
        }
    }

    #[test]
    fn resolve_env() {
        let bytes = [0x42u8; 32];
        let var = "COFFER_SEAL_TEST_RESOLVE_ENV";
        std::env::set_var(var, STANDARD.encode(bytes));
        let got = resolve_key_material(&format!("env://{var}")).unwrap();
        assert_eq!(got.as_bytes(), &bytes);

        let missing = "COFFER_SEAL_TEST_RESOLVE_ENV_UNSET";
        std::env::remove_var(missing);
        let err = resolve_key_material(&format!("env://{missing}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("static seal key from env://{missing}: environment variable is not set")
        );
    }

    #[test]
    fn resolve_file() {
        let dir = std::env::temp_dir().join(format!("coffer-seal-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, contents: &[u8]| {
            let path = dir.join(name);
            std::fs::File::create(&path)
                .unwrap()
                .write_all(contents)
                .unwrap();
            format!("file://{}", path.display())
        };

        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8 * 7);
        let raw = write("raw", &bytes);
        assert_eq!(resolve_key_material(&raw).unwrap().as_bytes(), &bytes);
        let hex_file = write("hex", format!("{}\n", hex::encode(bytes)).as_bytes());
        assert_eq!(resolve_key_material(&hex_file).unwrap().as_bytes(), &bytes);
        let b64_file = write("b64", format!("{}\n", STANDARD.encode(bytes)).as_bytes());
        assert_eq!(resolve_key_material(&b64_file).unwrap().as_bytes(), &bytes);

        let short = write("short", &[1; 16]);
        let err = resolve_key_material(&short).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "static seal key from {short}: 16 bytes is not a 32-byte key as raw bytes (32), \
                 hex (64), base64 (44) or unpadded URL-safe base64 (43)"
            )
        );

        let missing = format!("file://{}", dir.join("missing").display());
        let err = resolve_key_material(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "static seal key from {missing}: cannot read file: "
            )),
            "{err}"
        );

        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_is_redacted() {
        let wrapper =
            StaticWrapper::new("id".into(), key(0x61), Some(("old".into(), key(0x62)))).unwrap();
        let shown = format!("{wrapper:?} {:?}", ShamirWrapper::new(key(0x61)));
        assert!(shown.contains("[REDACTED]"));
        assert!(
            !shown.contains("97, 97") && !shown.contains("98, 98"),
            "{shown}"
        );
    }
}
