//! Key types: OpenBao's numbering (stored in every policy as `type`), names and what each
//! type can do.

use serde::{Deserialize, Serialize};

/// A Transit key type. The discriminants are OpenBao's `KeyType` constants, which its
/// stored policies and backups carry as plain integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyType {
    Aes256Gcm96 = 0,
    EcdsaP256 = 1,
    Ed25519 = 2,
    Rsa2048 = 3,
    Rsa4096 = 4,
    ChaCha20Poly1305 = 5,
    EcdsaP384 = 6,
    EcdsaP521 = 7,
    Aes128Gcm96 = 8,
    Rsa3072 = 9,
    Hmac = 10,
    XChaCha20Poly1305 = 11,
}

const ALL: [KeyType; 12] = [
    KeyType::Aes256Gcm96,
    KeyType::EcdsaP256,
    KeyType::Ed25519,
    KeyType::Rsa2048,
    KeyType::Rsa4096,
    KeyType::ChaCha20Poly1305,
    KeyType::EcdsaP384,
    KeyType::EcdsaP521,
    KeyType::Aes128Gcm96,
    KeyType::Rsa3072,
    KeyType::Hmac,
    KeyType::XChaCha20Poly1305,
];

impl KeyType {
    pub(crate) fn from_code(code: i64) -> Option<Self> {
        ALL.into_iter().find(|k| *k as i64 == code)
    }

    /// The name a request uses (`type=...`), `None` for an unknown one.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        ALL.into_iter().find(|k| k.name() == name)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Aes128Gcm96 => "aes128-gcm96",
            Self::Aes256Gcm96 => "aes256-gcm96",
            Self::ChaCha20Poly1305 => "chacha20-poly1305",
            Self::XChaCha20Poly1305 => "xchacha20-poly1305",
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
            Self::EcdsaP521 => "ecdsa-p521",
            Self::Ed25519 => "ed25519",
            Self::Rsa2048 => "rsa-2048",
            Self::Rsa3072 => "rsa-3072",
            Self::Rsa4096 => "rsa-4096",
            Self::Hmac => "hmac",
        }
    }

    pub(crate) fn is_symmetric_aead(self) -> bool {
        matches!(
            self,
            Self::Aes128Gcm96
                | Self::Aes256Gcm96
                | Self::ChaCha20Poly1305
                | Self::XChaCha20Poly1305
        )
    }

    pub(crate) fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    pub(crate) fn is_ecdsa(self) -> bool {
        matches!(self, Self::EcdsaP256 | Self::EcdsaP384 | Self::EcdsaP521)
    }

    /// Encryption and decryption (`EncryptionSupported` / `DecryptionSupported`).
    pub(crate) fn encryption_supported(self) -> bool {
        self.is_symmetric_aead() || self.is_rsa()
    }

    pub(crate) fn signing_supported(self) -> bool {
        self.is_ecdsa() || self.is_rsa() || self == Self::Ed25519
    }

    /// Types whose signature input is hashed first (all signing types but ed25519).
    pub(crate) fn hash_signature_input(self) -> bool {
        self.is_ecdsa() || self.is_rsa()
    }

    pub(crate) fn derivation_supported(self) -> bool {
        self.is_symmetric_aead() || self == Self::Ed25519
    }

    pub(crate) fn associated_data_supported(self) -> bool {
        self.is_symmetric_aead()
    }

    /// The symmetric key length in bytes.
    pub(crate) fn symmetric_key_len(self) -> usize {
        match self {
            Self::Aes128Gcm96 => 16,
            _ => 32,
        }
    }

    #[cfg(test)]
    /// The AEAD nonce length in bytes.
    pub(crate) fn nonce_len(self) -> usize {
        match self {
            Self::XChaCha20Poly1305 => 24,
            _ => 12,
        }
    }

    pub(crate) fn rsa_bits(self) -> usize {
        match self {
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
            _ => 2048,
        }
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for KeyType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(*self as i64)
    }
}

impl<'de> Deserialize<'de> for KeyType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = i64::deserialize(d)?;
        Self::from_code(code)
            .ok_or_else(|| serde::de::Error::custom(format!("unsupported key type {code}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for k in ALL {
            assert_eq!(KeyType::parse(k.name()), Some(k));
            assert_eq!(KeyType::from_code(k as i64), Some(k));
        }
        assert_eq!(KeyType::parse("aes256-gcm97"), None);
        assert_eq!(KeyType::from_code(10000), None);
        assert_eq!(KeyType::Rsa3072 as i64, 9);
        assert_eq!(KeyType::XChaCha20Poly1305 as i64, 11);
    }
}
