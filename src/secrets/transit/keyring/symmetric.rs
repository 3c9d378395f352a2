//! The AEAD ciphers (AES-GCM with 96-bit nonces, ChaCha20-Poly1305, XChaCha20-Poly1305),
//! OpenBao's key derivations, and its ciphertext layout: nonce ‖ ciphertext ‖ tag.

use aes_gcm::aead::{Aead as _, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{KeyError, KeyType};

/// `len` bytes from the OS's generator.
pub(crate) fn random_bytes(len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut out);
    out
}

/// HKDF-SHA256 with no salt and the context as info (OpenBao's `Kdf_hkdf_sha256`).
pub(crate) fn hkdf_sha256(
    key: &[u8],
    context: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    hkdf::Hkdf::<Sha256>::new(None, key)
        .expand(context, &mut out)
        .map_err(|_| KeyError::internal("unable to read enough derived bytes"))?;
    Ok(out)
}

/// NIST SP 800-108 counter mode over HMAC-SHA256, 256 bits: the KDF of OpenBao's oldest
/// derived keys (`Kdf_hmac_sha256_counter`), still in their stored policies.
pub(crate) fn counter_kdf(key: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|_| KeyError::internal("invalid key"))?;
    mac.update(&0u32.to_be_bytes());
    mac.update(context);
    mac.update(&256u32.to_be_bytes());
    Ok(Zeroizing::new(mac.finalize().into_bytes().to_vec()))
}

/// A ready AEAD cipher (its key schedule is wiped on drop by the crates' `zeroize`).
pub(crate) enum Aead {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
    XChaCha(Box<XChaCha20Poly1305>),
}

impl Aead {
    pub(crate) fn new(kind: KeyType, key: &[u8]) -> Result<Self, KeyError> {
        let bad = |_| KeyError::internal("could not derive enc key, length not correct");
        Ok(match kind {
            KeyType::Aes128Gcm96 => {
                Self::Aes128(Box::new(Aes128Gcm::new_from_slice(key).map_err(bad)?))
            }
            KeyType::Aes256Gcm96 => {
                Self::Aes256(Box::new(Aes256Gcm::new_from_slice(key).map_err(bad)?))
            }
            KeyType::ChaCha20Poly1305 => Self::ChaCha(Box::new(
                ChaCha20Poly1305::new_from_slice(key).map_err(bad)?,
            )),
            KeyType::XChaCha20Poly1305 => Self::XChaCha(Box::new(
                XChaCha20Poly1305::new_from_slice(key).map_err(bad)?,
            )),
            other => return Err(KeyError::internal(format!("unsupported key type {other}"))),
        })
    }

    fn nonce_len(&self) -> usize {
        match self {
            Self::XChaCha(_) => 24,
            _ => 12,
        }
    }

    /// Go's text for a failed open, which clients see.
    fn auth_failed(&self) -> KeyError {
        KeyError::user(match self {
            Self::Aes128(_) | Self::Aes256(_) => "cipher: message authentication failed",
            _ => "chacha20poly1305: message authentication failed",
        })
    }

    /// Encrypt: nonce ‖ ciphertext ‖ tag. With `convergent` (the derived HMAC key), the
    /// nonce is HMAC-SHA256(key, plaintext) cut to length (convergent version 3), so equal
    /// plaintexts under one context encrypt alike; otherwise it is random, or the given one.
    pub(crate) fn seal(
        &self,
        plaintext: &[u8],
        aad: &[u8],
        convergent: Option<&[u8]>,
        nonce: &[u8],
    ) -> Result<Vec<u8>, KeyError> {
        let n = self.nonce_len();
        let nonce: Vec<u8> = match convergent {
            Some(hmac_key) => {
                if hmac_key.is_empty() {
                    return Err(KeyError::internal("invalid hmac key length of zero"));
                }
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(hmac_key)
                    .map_err(|_| KeyError::internal("invalid hmac key"))?;
                mac.update(plaintext);
                mac.finalize().into_bytes()[..n].to_vec()
            }
            None if nonce.is_empty() => random_bytes(n),
            None if nonce.len() != n => {
                return Err(KeyError::user(format!(
                    "base64-decoded nonce must be {n} bytes long but given {} bytes",
                    nonce.len()
                )))
            }
            None => nonce.to_vec(),
        };
        let payload = Payload {
            msg: plaintext,
            aad,
        };
        let sealed = match self {
            Self::Aes128(c) => c.encrypt(nonce.as_slice().into(), payload),
            Self::Aes256(c) => c.encrypt(nonce.as_slice().into(), payload),
            Self::ChaCha(c) => c.encrypt(nonce.as_slice().into(), payload),
            Self::XChaCha(c) => c.encrypt(nonce.as_slice().into(), payload),
        }
        .map_err(|_| KeyError::internal("encryption failed"))?;
        let mut out = nonce;
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypt nonce ‖ ciphertext ‖ tag.
    pub(crate) fn open(&self, data: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let n = self.nonce_len();
        if data.len() < n {
            return Err(KeyError::user("invalid ciphertext length"));
        }
        let (nonce, ct) = data.split_at(n);
        let payload = Payload { msg: ct, aad };
        match self {
            Self::Aes128(c) => c.decrypt(nonce.into(), payload),
            Self::Aes256(c) => c.decrypt(nonce.into(), payload),
            Self::ChaCha(c) => c.decrypt(nonce.into(), payload),
            Self::XChaCha(c) => c.decrypt(nonce.into(), payload),
        }
        .map(Zeroizing::new)
        .map_err(|_| self.auth_failed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_every_cipher() {
        for (kind, len) in [
            (KeyType::Aes128Gcm96, 16),
            (KeyType::Aes256Gcm96, 32),
            (KeyType::ChaCha20Poly1305, 32),
            (KeyType::XChaCha20Poly1305, 32),
        ] {
            let a = Aead::new(kind, &random_bytes(len)).expect("key");
            let ct = a.seal(b"hello world", b"ad", None, &[]).expect("seal");
            assert_eq!(ct.len(), kind.nonce_len() + 11 + 16, "{kind}");
            assert_eq!(&*a.open(&ct, b"ad").expect("open"), b"hello world");
            assert!(a.open(&ct, b"other ad").is_err(), "{kind}: aad is bound");
            let mut bad = ct.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(a.open(&bad, b"ad").expect_err("tampered").is_user());
            assert_eq!(
                a.open(&ct[..3], b"ad").expect_err("short"),
                KeyError::user("invalid ciphertext length")
            );
        }
        assert!(Aead::new(KeyType::Aes256Gcm96, &[0; 16]).is_err());
    }

    #[test]
    fn convergent_nonces_repeat_only_for_equal_plaintexts() {
        let a = Aead::new(KeyType::Aes256Gcm96, &[7; 32]).expect("key");
        let one = a.seal(b"x", b"", Some(&[1; 32]), &[]).expect("seal");
        let two = a.seal(b"x", b"", Some(&[1; 32]), &[]).expect("seal");
        let three = a.seal(b"y", b"", Some(&[1; 32]), &[]).expect("seal");
        assert_eq!(one, two);
        assert_ne!(one[..12], three[..12]);
    }

    #[test]
    fn kdfs_match_their_definitions() {
        // RFC 5869 test case 3 (no salt, no info).
        let ikm = [0x0bu8; 22];
        assert_eq!(
            hex::encode(&*hkdf_sha256(&ikm, b"", 42).expect("hkdf")),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
        let k = counter_kdf(b"key", b"ctx").expect("kdf");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"key").expect("mac");
        mac.update(b"\0\0\0\0ctx\0\0\x01\0");
        assert_eq!(&*k, &mac.finalize().into_bytes()[..]);
    }
}
