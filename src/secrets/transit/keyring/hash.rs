//! The hash algorithms Transit names (`sha2-256`, `sha3-512`, ...), for `hash`, `hmac` and
//! the digests signed by ECDSA and RSA keys. OpenBao's `HashType` numbering.

use hmac::{Hmac, Mac};
use sha2::Digest;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HashAlg {
    None,
    Sha1,
    Sha2_224,
    Sha2_256,
    Sha2_384,
    Sha2_512,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

impl HashAlg {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "none" => Self::None,
            "sha1" => Self::Sha1,
            "sha2-224" => Self::Sha2_224,
            "sha2-256" => Self::Sha2_256,
            "sha2-384" => Self::Sha2_384,
            "sha2-512" => Self::Sha2_512,
            "sha3-224" => Self::Sha3_224,
            "sha3-256" => Self::Sha3_256,
            "sha3-384" => Self::Sha3_384,
            "sha3-512" => Self::Sha3_512,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Sha1 => "sha1",
            Self::Sha2_224 => "sha2-224",
            Self::Sha2_256 => "sha2-256",
            Self::Sha2_384 => "sha2-384",
            Self::Sha2_512 => "sha2-512",
            Self::Sha3_224 => "sha3-224",
            Self::Sha3_256 => "sha3-256",
            Self::Sha3_384 => "sha3-384",
            Self::Sha3_512 => "sha3-512",
        }
    }

    #[cfg(test)]
    /// The digest length in bytes (0 for `none`).
    pub(crate) fn output_len(self) -> usize {
        match self {
            Self::None => 0,
            Self::Sha1 => 20,
            Self::Sha2_224 | Self::Sha3_224 => 28,
            Self::Sha2_256 | Self::Sha3_256 => 32,
            Self::Sha2_384 | Self::Sha3_384 => 48,
            Self::Sha2_512 | Self::Sha3_512 => 64,
        }
    }

    /// The digest of `data`; `none` passes the input through unchanged.
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::None => data.to_vec(),
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha2_224 => sha2::Sha224::digest(data).to_vec(),
            Self::Sha2_256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha2_384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha2_512 => sha2::Sha512::digest(data).to_vec(),
            Self::Sha3_224 => sha3::Sha3_224::digest(data).to_vec(),
            Self::Sha3_256 => sha3::Sha3_256::digest(data).to_vec(),
            Self::Sha3_384 => sha3::Sha3_384::digest(data).to_vec(),
            Self::Sha3_512 => sha3::Sha3_512::digest(data).to_vec(),
        }
    }

    /// HMAC-`self` of `data` under `key`; `None` for `none`.
    pub(crate) fn hmac(self, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
            // HMAC takes keys of any length.
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("hmac key");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Some(match self {
            Self::None => return None,
            Self::Sha1 => run::<Hmac<sha1::Sha1>>(key, data),
            Self::Sha2_224 => run::<Hmac<sha2::Sha224>>(key, data),
            Self::Sha2_256 => run::<Hmac<sha2::Sha256>>(key, data),
            Self::Sha2_384 => run::<Hmac<sha2::Sha384>>(key, data),
            Self::Sha2_512 => run::<Hmac<sha2::Sha512>>(key, data),
            Self::Sha3_224 => run::<Hmac<sha3::Sha3_224>>(key, data),
            Self::Sha3_256 => run::<Hmac<sha3::Sha3_256>>(key, data),
            Self::Sha3_384 => run::<Hmac<sha3::Sha3_384>>(key, data),
            Self::Sha3_512 => run::<Hmac<sha3::Sha3_512>>(key, data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_and_hmacs() {
        assert_eq!(
            hex::encode(HashAlg::Sha2_256.digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(HashAlg::Sha3_256.digest(b"abc")),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
        assert_eq!(
            hex::encode(HashAlg::Sha1.digest(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        // RFC 4231 test case 2.
        assert_eq!(
            hex::encode(
                HashAlg::Sha2_256
                    .hmac(b"Jefe", b"what do ya want for nothing?")
                    .expect("hmac")
            ),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        for name in [
            "sha1", "sha2-224", "sha2-256", "sha2-384", "sha2-512", "sha3-224", "sha3-256",
            "sha3-384", "sha3-512",
        ] {
            let h = HashAlg::parse(name).expect(name);
            assert_eq!(h.name(), name);
            assert_eq!(h.digest(b"x").len(), h.output_len(), "{name}");
        }
        assert_eq!(HashAlg::parse("md5"), None);
        assert_eq!(HashAlg::None.hmac(b"k", b"d"), None);
    }
}
