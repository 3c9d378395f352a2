//! [`Key`]: one 32-byte AES-256 key, the unit of all key material here (root key, keyring terms,
//! the Shamir key-encryption key, static seal keys).
//!
//! The bytes live on the heap so that moving a `Key` moves a pointer rather than leaving copies
//! of the key in old stack slots; they are zeroed when the last owner drops them.

use std::fmt;

use base64::alphabet;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use rand::rngs::OsRng;
use rand::RngCore;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Standard base64 as Go's `base64.StdEncoding` decodes it, ignoring nonzero trailing bits, for
/// key text that OpenBao users may have produced with Go tools.
pub(crate) const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// URL-safe unpadded base64 as Go's `base64.RawURLEncoding` decodes it.
pub(crate) const GO_RAW_URL_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// A 32-byte AES-256 key. `Debug` never shows the bytes; equality is constant-time.
#[derive(Clone)]
pub struct Key(Box<Zeroizing<[u8; Key::LEN]>>);

impl Key {
    /// Key length in bytes.
    pub const LEN: usize = 32;

    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Key {
        let mut key = Key::zeroed();
        OsRng.fill_bytes(&mut key.0[..]);
        key
    }

    /// Copies `bytes` into a key.
    ///
    /// # Errors
    ///
    /// [`Error::KeyLength`] unless `bytes` is exactly [`Key::LEN`] long.
    pub fn from_slice(bytes: &[u8]) -> Result<Key> {
        if bytes.len() != Key::LEN {
            return Err(Error::KeyLength {
                expected: Key::LEN,
                actual: bytes.len(),
            });
        }
        let mut key = Key::zeroed();
        key.0.copy_from_slice(bytes);
        Ok(key)
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; Key::LEN] {
        &self.0
    }

    /// A zero key already on the heap, for callers that fill it in place.
    pub(crate) fn zeroed() -> Key {
        Key(Box::new(Zeroizing::new([0u8; Key::LEN])))
    }

    /// Mutable access for filling a [`Key::zeroed`] key in place.
    pub(crate) fn as_mut_bytes(&mut self) -> &mut [u8; Key::LEN] {
        &mut self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key([REDACTED])")
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.0[..].ct_eq(&other.0[..]).into()
    }
}

impl Eq for Key {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_slice_checks_length() {
        assert!(matches!(
            Key::from_slice(&[0u8; 31]),
            Err(Error::KeyLength {
                expected: 32,
                actual: 31
            })
        ));
        assert!(Key::from_slice(&[0u8; 33]).is_err());
        let key = Key::from_slice(&[7u8; 32]).unwrap();
        assert_eq!(key.as_bytes(), &[7u8; 32]);
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(Key::generate(), Key::generate());
    }

    #[test]
    fn debug_is_redacted() {
        let key = Key::from_slice(&[0xab; 32]).unwrap();
        let shown = format!("{key:?} {key:#?}");
        assert_eq!(format!("{key:?}"), "Key([REDACTED])");
        assert!(!shown.contains("171"));
        assert!(!shown.to_lowercase().contains("ab, "));
    }
}
