//! The barrier cipher: AES-256-GCM over every value the server stores.
//!
//! A sealed value has OpenBao's version-2 layout:
//!
//! ```text
//! term (u32 big-endian) ‖ 0x02 ‖ nonce (12 random bytes) ‖ ciphertext ‖ tag (16)
//! ```
//!
//! The caller's AAD (the storage path) binds a value to the key it was written under, so a
//! value copied to another path does not open. Unlike OpenBao, the 5-byte header is
//! authenticated too: OpenBao leaves the term and version outside the tag, so a flipped term
//! byte there only fails by luck (no key for that term). We never need to read OpenBao's files,
//! so we take the stricter form; the layout and the 33-byte overhead are unchanged.
//!
//! This module also holds the plain `nonce ‖ ciphertext ‖ tag` helpers the seal wrappers use.
//! It owns no keys and does no I/O.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::key::Key;

/// The version byte this crate writes: AES-GCM with AAD.
const VERSION: u8 = 0x02;
const TERM_LEN: usize = 4;
const HEADER_LEN: usize = TERM_LEN + 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Bytes a sealed value adds to its plaintext: term, version, nonce and tag.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// Encrypts `plaintext` under `key`, labelling it with `term`, bound to `aad`.
pub fn seal(key: &Key, term: u32, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.extend_from_slice(&term.to_be_bytes());
    out.push(VERSION);
    let header: [u8; HEADER_LEN] = header_of(&out);
    gcm_seal_into(key, &[&header, aad], plaintext, &mut out);
    out
}

/// Decrypts a value written by [`seal`] with the same `key` and `aad`.
///
/// # Errors
///
/// [`Error::Truncated`] if `sealed` is shorter than [`OVERHEAD`],
/// [`Error::UnsupportedVersion`] for any version byte but 2, and [`Error::Decrypt`] if the key,
/// the AAD or any byte of `sealed` differs from what was sealed.
pub fn open(key: &Key, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    check_len(sealed)?;
    let header: [u8; HEADER_LEN] = header_of(sealed);
    if header[TERM_LEN] != VERSION {
        return Err(Error::UnsupportedVersion(header[TERM_LEN]));
    }
    gcm_open(key, &[&header, aad], &sealed[HEADER_LEN..])
}

/// The term a sealed value was written under, read from its (not yet authenticated) header.
///
/// # Errors
///
/// [`Error::Truncated`] if `sealed` is shorter than [`OVERHEAD`].
pub fn term_of(sealed: &[u8]) -> Result<u32> {
    check_len(sealed)?;
    let header: [u8; HEADER_LEN] = header_of(sealed);
    let [a, b, c, d, _] = header;
    Ok(u32::from_be_bytes([a, b, c, d]))
}

fn check_len(sealed: &[u8]) -> Result<()> {
    if sealed.len() < OVERHEAD {
        return Err(Error::Truncated {
            len: sealed.len(),
            min: OVERHEAD,
        });
    }
    Ok(())
}

/// The first five bytes; callers have already checked the length.
fn header_of(bytes: &[u8]) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&bytes[..HEADER_LEN]);
    header
}

/// Appends `nonce ‖ ciphertext ‖ tag` to `out`, with a fresh random nonce. The AAD is the
/// concatenation of `aad_parts`.
pub(crate) fn gcm_seal_into(key: &Key, aad_parts: &[&[u8]], plaintext: &[u8], out: &mut Vec<u8>) {
    let cipher = Aes256Gcm::new(key.as_bytes().into());
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    out.reserve(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    let body = out.len();
    // Copy then encrypt in place, so the only plaintext copy is the caller's.
    out.extend_from_slice(plaintext);
    let aad = aad_parts.concat();
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut out[body..])
        // aes-gcm refuses only messages over 64 GiB, which no caller can hand us.
        .expect("AES-GCM plaintext within length limit");
    out.extend_from_slice(&tag);
}

/// Opens `nonce ‖ ciphertext ‖ tag`. Too-short input is an authentication failure, as in Go's
/// `cipher.AEAD.Open`.
pub(crate) fn gcm_open(
    key: &Key,
    aad_parts: &[&[u8]],
    nonce_ct_tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    if nonce_ct_tag.len() < NONCE_LEN + TAG_LEN {
        return Err(Error::Decrypt);
    }
    let (nonce, rest) = nonce_ct_tag.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let cipher = Aes256Gcm::new(key.as_bytes().into());
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let aad = aad_parts.concat();
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            &aad,
            &mut buf,
            Tag::from_slice(tag),
        )
        .map_err(|_| Error::Decrypt)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key(byte: u8) -> Key {
        Key::from_slice(&[byte; 32]).unwrap()
    }

    #[test]
    fn layout() {
        let sealed = seal(&key(1), 0x0102_0304, b"logical/x", b"hello");
        assert_eq!(sealed.len(), OVERHEAD + 5);
        assert_eq!(&sealed[..5], &[1, 2, 3, 4, 2]);
        assert_eq!(term_of(&sealed).unwrap(), 0x0102_0304);
        assert_eq!(&open(&key(1), b"logical/x", &sealed).unwrap()[..], b"hello");
    }

    #[test]
    fn nonces_are_fresh() {
        let a = seal(&key(1), 1, b"p", b"same");
        let b = seal(&key(1), 1, b"p", b"same");
        assert_ne!(a, b);
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let sealed = seal(&key(1), 1, b"", b"");
        assert_eq!(sealed.len(), OVERHEAD);
        assert!(open(&key(1), b"", &sealed).unwrap().is_empty());
    }

    #[test]
    fn short_or_unknown_version_is_refused() {
        assert!(matches!(
            term_of(&[0; OVERHEAD - 1]),
            Err(Error::Truncated { len: 32, min: 33 })
        ));
        assert!(matches!(
            open(&key(1), b"p", &[0; 4]),
            Err(Error::Truncated { .. })
        ));
        let mut sealed = seal(&key(1), 1, b"p", b"x");
        sealed[4] = 1;
        assert!(matches!(
            open(&key(1), b"p", &sealed),
            Err(Error::UnsupportedVersion(1))
        ));
    }

    #[test]
    fn decrypt_error_text() {
        let sealed = seal(&key(1), 1, b"p", b"x");
        let err = open(&key(2), b"p", &sealed).unwrap_err();
        assert_eq!(err.to_string(), "cipher: message authentication failed");
    }

    proptest! {
        #[test]
        fn round_trips(
            k in any::<[u8; 32]>(),
            term in any::<u32>(),
            aad in proptest::collection::vec(any::<u8>(), 0..64),
            plaintext in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let k = Key::from_slice(&k).unwrap();
            let sealed = seal(&k, term, &aad, &plaintext);
            prop_assert_eq!(sealed.len(), plaintext.len() + OVERHEAD);
            prop_assert_eq!(term_of(&sealed).unwrap(), term);
            prop_assert_eq!(&open(&k, &aad, &sealed).unwrap()[..], &plaintext[..]);
        }

        #[test]
        fn any_changed_byte_fails(
            k in any::<[u8; 32]>(),
            term in any::<u32>(),
            plaintext in proptest::collection::vec(any::<u8>(), 0..128),
            index in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let k = Key::from_slice(&k).unwrap();
            let mut sealed = seal(&k, term, b"core/x", &plaintext);
            let i = index.index(sealed.len());
            sealed[i] ^= flip;
            prop_assert!(open(&k, b"core/x", &sealed).is_err());
        }

        #[test]
        fn other_path_or_key_fails(
            k in any::<[u8; 32]>(),
            other in any::<[u8; 32]>(),
            path in "[a-z/]{0,20}",
            other_path in "[a-z/]{0,20}",
            plaintext in proptest::collection::vec(any::<u8>(), 0..128),
        ) {
            let key = Key::from_slice(&k).unwrap();
            let sealed = seal(&key, 1, path.as_bytes(), &plaintext);
            if other_path != path {
                prop_assert!(matches!(
                    open(&key, other_path.as_bytes(), &sealed),
                    Err(Error::Decrypt)
                ));
            }
            if other != k {
                let other = Key::from_slice(&other).unwrap();
                prop_assert!(matches!(open(&other, path.as_bytes(), &sealed), Err(Error::Decrypt)));
            }
        }
    }
}
