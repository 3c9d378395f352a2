//! [`Keyring`]: the barrier's keys — the root key and one data key per term.
//!
//! The active (highest) term encrypts every new write; older terms stay for decryption, because
//! rotation re-encrypts nothing. The whole keyring is stored sealed under the root key, which in
//! turn is protected by the seal (see [`crate::wrapper`]). The keyring never reads or writes
//! storage itself: the server hands it bytes and paths.
//!
//! A `Keyring` is immutable; [`Keyring::rotate`] returns a new one, so the server can swap it in
//! atomically while readers keep the old one.

use std::collections::BTreeMap;
use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::aead;
use crate::error::{Error, Result};
use crate::key::Key;

/// Version of the serialised form, checked on open so a future format is refused, not misread.
const FORMAT_VERSION: u32 = 1;

/// The header term of the sealed keyring. The root key has no term; OpenBao writes 1 here.
const ROOT_TERM: u32 = 1;

/// One term's data key.
#[derive(Clone)]
pub struct TermKey {
    term: u32,
    key: Key,
    install_time: OffsetDateTime,
}

impl TermKey {
    /// The term number written into every ciphertext this key produces.
    pub fn term(&self) -> u32 {
        self.term
    }

    /// The AES-256 key itself.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// When this term was installed (reported by `sys/key-status`).
    pub fn install_time(&self) -> OffsetDateTime {
        self.install_time
    }
}

impl fmt::Debug for TermKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TermKey")
            .field("term", &self.term)
            .field("key", &self.key)
            .field("install_time", &self.install_time)
            .finish()
    }
}

/// The root key plus every term key, and which term is active.
#[derive(Clone)]
pub struct Keyring {
    root_key: Key,
    /// Never empty, and always holds `active`, which is its highest term.
    terms: BTreeMap<u32, TermKey>,
    active: u32,
}

impl Keyring {
    /// A keyring for a freshly initialised barrier: `root_key` and one random key at term 1.
    pub fn new(root_key: Key) -> Keyring {
        Keyring::new_at(root_key, OffsetDateTime::now_utc())
    }

    /// [`Keyring::new`] with the install time given, for tests and replay.
    pub fn new_at(root_key: Key, now: OffsetDateTime) -> Keyring {
        let first = TermKey {
            term: 1,
            key: Key::generate(),
            install_time: now,
        };
        Keyring {
            root_key,
            terms: BTreeMap::from([(1, first)]),
            active: 1,
        }
    }

    /// The key that seals the keyring itself.
    pub fn root_key(&self) -> &Key {
        &self.root_key
    }

    /// The term that encrypts new writes.
    pub fn active_term(&self) -> u32 {
        self.active
    }

    /// The key for `term`, if the keyring holds it.
    pub fn term(&self, term: u32) -> Option<&TermKey> {
        self.terms.get(&term)
    }

    /// Every term key, oldest first.
    pub fn terms(&self) -> impl Iterator<Item = &TermKey> {
        self.terms.values()
    }

    /// A copy with a new random key at the next term, made active. Older terms stay, so
    /// existing ciphertexts still decrypt.
    ///
    /// # Panics
    ///
    /// If the active term is `u32::MAX` (four billion rotations).
    pub fn rotate(&self) -> Keyring {
        self.rotate_at(OffsetDateTime::now_utc())
    }

    /// [`Keyring::rotate`] with the install time given, for tests and replay.
    ///
    /// # Panics
    ///
    /// If the active term is `u32::MAX`.
    pub fn rotate_at(&self, now: OffsetDateTime) -> Keyring {
        let next = self
            .active
            .checked_add(1)
            .expect("keyring term overflow: u32::MAX rotations");
        let mut rotated = self.clone();
        rotated.terms.insert(
            next,
            TermKey {
                term: next,
                key: Key::generate(),
                install_time: now,
            },
        );
        rotated.active = next;
        rotated
    }

    /// Encrypts a value for storage at `path` under the active term.
    pub fn encrypt(&self, path: &str, plaintext: &[u8]) -> Vec<u8> {
        let active = self.active_key();
        aead::seal(&active.key, active.term, path.as_bytes(), plaintext)
    }

    /// Decrypts a value read from `path`, with the key of the term named in its header.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTerm`] if the keyring lacks that term, otherwise as [`aead::open`].
    pub fn decrypt(&self, path: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let term = aead::term_of(sealed)?;
        let key = self.terms.get(&term).ok_or(Error::UnknownTerm(term))?;
        aead::open(&key.key, path.as_bytes(), sealed)
    }

    /// The keyring serialised and sealed under the root key, bound to `path` (the server
    /// stores it at `core/keyring`).
    pub fn seal_with_root(&self, path: &str) -> Vec<u8> {
        let plaintext = self.to_json();
        aead::seal(&self.root_key, ROOT_TERM, path.as_bytes(), &plaintext)
    }

    /// Opens what [`Keyring::seal_with_root`] wrote at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Decrypt`] for a wrong root key, path or altered bytes; [`Error::InvalidKeyring`]
    /// if the contents are not a keyring this version understands or name another root key.
    pub fn open_with_root(root_key: &Key, path: &str, sealed: &[u8]) -> Result<Keyring> {
        let plaintext = aead::open(root_key, path.as_bytes(), sealed)?;
        let stored: Stored =
            serde_json::from_slice(&plaintext).map_err(|e| Error::InvalidKeyring(e.to_string()))?;
        let keyring = stored.into_keyring()?;
        if keyring.root_key != *root_key {
            return Err(Error::InvalidKeyring(
                "sealed under a different root key than it holds".to_owned(),
            ));
        }
        Ok(keyring)
    }

    fn active_key(&self) -> &TermKey {
        // Invariant: every constructor and `rotate_at` insert the active term, and
        // `into_keyring` refuses a keyring without it.
        self.terms
            .get(&self.active)
            .expect("the active term is always in the keyring")
    }

    /// JSON in a buffer sized exactly up front, so growing it never leaves a stray copy of the
    /// keys in freed memory.
    fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let stored = Stored::from_keyring(self);
        let mut counter = ByteCounter(0);
        // Writing plain structs of numbers and strings to JSON cannot fail, and neither can
        // either writer.
        serde_json::to_writer(&mut counter, &stored).expect("keyring serialises to JSON");
        let mut out = Zeroizing::new(Vec::with_capacity(counter.0));
        serde_json::to_writer(&mut *out, &stored).expect("keyring serialises to JSON");
        out
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("root_key", &self.root_key)
            .field("active_term", &self.active)
            .field("terms", &self.terms.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Counts bytes instead of keeping them.
struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The serialised keyring.
#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    #[serde(with = "key_base64")]
    root_key: Key,
    active_term: u32,
    terms: Vec<StoredTerm>,
}

#[derive(Serialize, Deserialize)]
struct StoredTerm {
    term: u32,
    #[serde(with = "key_base64")]
    key: Key,
    /// Nanoseconds since the Unix epoch: unlike RFC 3339, every `OffsetDateTime` has one.
    install_time_unix_nanos: i128,
}

impl Stored {
    fn from_keyring(keyring: &Keyring) -> Stored {
        Stored {
            version: FORMAT_VERSION,
            root_key: keyring.root_key.clone(),
            active_term: keyring.active,
            terms: keyring
                .terms
                .values()
                .map(|t| StoredTerm {
                    term: t.term,
                    key: t.key.clone(),
                    install_time_unix_nanos: t.install_time.unix_timestamp_nanos(),
                })
                .collect(),
        }
    }

    fn into_keyring(self) -> Result<Keyring> {
        let invalid = Error::InvalidKeyring;
        if self.version != FORMAT_VERSION {
            return Err(invalid(format!("unknown format version {}", self.version)));
        }
        let mut terms = BTreeMap::new();
        for stored in self.terms {
            let install_time =
                OffsetDateTime::from_unix_timestamp_nanos(stored.install_time_unix_nanos)
                    .map_err(|e| invalid(format!("term {}: install time: {e}", stored.term)))?;
            let term = TermKey {
                term: stored.term,
                key: stored.key,
                install_time,
            };
            if terms.insert(term.term, term).is_some() {
                return Err(invalid(format!("term {} appears twice", stored.term)));
            }
        }
        match terms.last_key_value() {
            Some((&highest, _)) if highest == self.active_term => {}
            _ => {
                return Err(invalid(format!(
                    "active term {} is not the highest term held",
                    self.active_term
                )))
            }
        }
        Ok(Keyring {
            root_key: self.root_key,
            terms,
            active: self.active_term,
        })
    }
}

/// Keys as standard base64 strings, encoded and decoded through zeroized stack buffers so no
/// unzeroized `String` of key material is ever allocated.
mod key_base64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use zeroize::Zeroizing;

    use crate::key::Key;

    /// Base64 length of a 32-byte key.
    const ENCODED_LEN: usize = 44;

    pub(super) fn serialize<S: Serializer>(key: &Key, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = Zeroizing::new([0u8; ENCODED_LEN]);
        let len = STANDARD
            .encode_slice(key.as_bytes(), &mut buf[..])
            .map_err(serde::ser::Error::custom)?;
        let text = std::str::from_utf8(&buf[..len]).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }

    struct KeyVisitor;

    impl Visitor<'_> for KeyVisitor {
        type Value = Key;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a base64 string of a 32-byte key")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Key, E> {
            // Room for the decoder's worst-case estimate; the real length is checked below.
            let mut buf = Zeroizing::new([0u8; ENCODED_LEN]);
            let len = STANDARD
                .decode_slice(text.as_bytes(), &mut buf[..])
                .map_err(|_| E::custom("key is not valid base64"))?;
            Key::from_slice(&buf[..len]).map_err(|_| E::custom("key is not 32 bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const PATH: &str = "core/keyring";

    #[test]
    fn starts_at_term_one() {
        let keyring = Keyring::new(Key::generate());
        assert_eq!(keyring.active_term(), 1);
        assert_eq!(keyring.term(1).map(TermKey::term), Some(1));
        assert!(keyring.term(2).is_none());
    }

    #[test]
    fn rotate_keeps_old_terms() {
        let t1 = datetime!(2025-01-01 00:00 UTC);
        let t2 = datetime!(2025-02-01 00:00 UTC);
        let first = Keyring::new_at(Key::generate(), t1);
        let old = first.encrypt("logical/a", b"one");

        let second = first.rotate_at(t2);
        assert_eq!(first.active_term(), 1, "rotate leaves the original alone");
        assert_eq!(second.active_term(), 2);
        assert_eq!(second.root_key(), first.root_key());
        assert_eq!(second.term(1).map(TermKey::install_time), Some(t1));
        assert_eq!(second.term(2).map(TermKey::install_time), Some(t2));
        assert_ne!(
            second.term(1).map(TermKey::key),
            second.term(2).map(TermKey::key)
        );

        let new = second.encrypt("logical/b", b"two");
        assert_eq!(aead::term_of(&old).unwrap(), 1);
        assert_eq!(aead::term_of(&new).unwrap(), 2);
        assert_eq!(&second.decrypt("logical/a", &old).unwrap()[..], b"one");
        assert_eq!(&second.decrypt("logical/b", &new).unwrap()[..], b"two");
        assert!(matches!(
            first.decrypt("logical/b", &new),
            Err(Error::UnknownTerm(2))
        ));
        assert!(matches!(
            second.decrypt("logical/other", &old),
            Err(Error::Decrypt)
        ));
        assert!(matches!(
            second.decrypt("logical/a", &[0; 5]),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn seal_with_root_round_trips() {
        let t = datetime!(2025-03-04 05:06:07.123456789 UTC);
        let keyring = Keyring::new_at(Key::generate(), t)
            .rotate_at(t)
            .rotate_at(t);
        let sealed = keyring.seal_with_root(PATH);
        assert_eq!(aead::term_of(&sealed).unwrap(), ROOT_TERM);

        let opened = Keyring::open_with_root(keyring.root_key(), PATH, &sealed).unwrap();
        assert_eq!(opened.active_term(), 3);
        assert_eq!(opened.root_key(), keyring.root_key());
        for (a, b) in keyring.terms().zip(opened.terms()) {
            assert_eq!(a.term(), b.term());
            assert_eq!(a.key(), b.key());
            assert_eq!(a.install_time(), b.install_time());
        }
        assert_eq!(opened.terms().count(), 3);

        let value = keyring.encrypt("logical/x", b"v");
        assert_eq!(&opened.decrypt("logical/x", &value).unwrap()[..], b"v");
    }

    #[test]
    fn open_with_root_refuses_wrong_key_or_path() {
        let keyring = Keyring::new(Key::generate());
        let sealed = keyring.seal_with_root(PATH);
        let wrong = Keyring::open_with_root(&Key::generate(), PATH, &sealed).unwrap_err();
        assert_eq!(wrong.to_string(), "cipher: message authentication failed");
        assert!(matches!(
            Keyring::open_with_root(keyring.root_key(), "core/other", &sealed),
            Err(Error::Decrypt)
        ));
    }

    #[test]
    fn open_with_root_checks_contents() {
        let root = Key::generate();
        let seal_json = |json: &str| aead::seal(&root, ROOT_TERM, PATH.as_bytes(), json.as_bytes());
        let b64 = |key: &Key| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
        };
        let root_b64 = b64(&root);
        let term_b64 = b64(&Key::generate());
        let cases = [
            (
                format!(r#"{{"version":2,"root_key":"{root_b64}","active_term":1,"terms":[]}}"#),
                "unknown format version 2",
            ),
            (
                format!(r#"{{"version":1,"root_key":"{root_b64}","active_term":1,"terms":[]}}"#),
                "active term 1 is not the highest term held",
            ),
            (
                format!(
                    r#"{{"version":1,"root_key":"{root_b64}","active_term":1,"terms":[{{"term":2,"key":"{term_b64}","install_time_unix_nanos":0}}]}}"#
                ),
                "active term 1 is not the highest term held",
            ),
            (
                format!(
                    r#"{{"version":1,"root_key":"{term_b64}","active_term":1,"terms":[{{"term":1,"key":"{term_b64}","install_time_unix_nanos":0}}]}}"#
                ),
                "sealed under a different root key than it holds",
            ),
            (
                format!(
                    r#"{{"version":1,"root_key":"{root_b64}","active_term":1,"terms":[{{"term":1,"key":"AAAA","install_time_unix_nanos":0}}]}}"#
                ),
                "key is not 32 bytes",
            ),
        ];
        for (json, want) in cases {
            let err = Keyring::open_with_root(&root, PATH, &seal_json(&json)).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidKeyring(reason) if reason.contains(want)),
                "{json}: got {err}"
            );
        }
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let root = Key::from_slice(&[0x5a; 32]).unwrap();
        let keyring = Keyring::new(root).rotate();
        let shown = format!("{keyring:?} {keyring:#?} {:?}", keyring.term(2));
        assert!(shown.contains("[REDACTED]"));
        assert!(!shown.contains("90, 90"), "{shown}");
        for term in keyring.terms() {
            let hex_key = hex::encode(term.key().as_bytes());
            assert!(!shown.contains(&hex_key));
            assert!(!shown.contains(&format!("{:?}", &term.key().as_bytes()[..4])));
        }
    }
}
