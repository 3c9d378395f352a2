//! ECDSA (P-256, P-384, P-521), ed25519 and RSA (2048, 3072, 4096) keys through aws-lc-rs:
//! generation into OpenBao's stored form, signing and verification, RSA-OAEP, and export.
//!
//! INTERFACE CONTRACT (being implemented): see /work/helpers/TRANSIT_ASYM.md.

use zeroize::Zeroizing;

use super::hash::HashAlg;
use super::wire::KeyEntry;
use super::{KeyError, KeyType};

/// RSA signature padding (`signature_algorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RsaPadding {
    Pss,
    Pkcs1v15,
}

/// `marshaling_algorithm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marshaling {
    Asn1,
    Jws,
}

/// `salt_length` for PSS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SaltLength {
    /// Go's `PSSSaltLengthAuto`: the maximum when signing, any when verifying.
    Auto,
    /// Go's `PSSSaltLengthEqualsHash`.
    Hash,
    Bytes(usize),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct SignOptions {
    pub(crate) hash: HashAlg,
    pub(crate) padding: RsaPadding,
    pub(crate) marshaling: Marshaling,
    pub(crate) salt: SaltLength,
}

/// A version's key pair (or public key), ready to use.
pub(crate) struct AsymKey {
    _todo: (),
}

impl AsymKey {
    pub(crate) fn from_entry(_kind: KeyType, _entry: &KeyEntry) -> Result<Self, KeyError> {
        Err(KeyError::internal("asymmetric keys are not built yet"))
    }

    pub(crate) fn rsa_encrypt(&self, _plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        Err(KeyError::internal("asymmetric keys are not built yet"))
    }

    pub(crate) fn rsa_decrypt(&self, _ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        Err(KeyError::internal("asymmetric keys are not built yet"))
    }
}

/// Fill a new version of an asymmetric type with fresh key material, as OpenBao's
/// `RotateInMemory` does.
pub(crate) fn generate(kind: KeyType, _entry: &mut KeyEntry) -> Result<(), KeyError> {
    Err(KeyError::internal(format!("generating {kind} keys is not built yet")))
}

/// The base64 ed25519 public key of a derived key's seed (32 bytes).
pub(crate) fn ed25519_public_from_seed(_seed: &[u8]) -> Result<String, KeyError> {
    Err(KeyError::internal("asymmetric keys are not built yet"))
}

/// The public key as the key description shows it (RSA: PKIX PEM).
pub(crate) fn export_public(kind: KeyType, entry: &KeyEntry) -> Result<String, KeyError> {
    export_public_format(kind, entry, "")
}

/// `export/public-key/...` in `format` ("" | "raw" | "der" | "pem"), OpenBao's encodings.
pub(crate) fn export_public_format(
    _kind: KeyType,
    _entry: &KeyEntry,
    _format: &str,
) -> Result<String, KeyError> {
    Err(KeyError::internal("asymmetric keys are not built yet"))
}

/// `export/signing-key/...` and RSA's `export/encryption-key/...` in `format`.
pub(crate) fn export_private(
    _kind: KeyType,
    _entry: &KeyEntry,
    _format: &str,
) -> Result<String, KeyError> {
    Err(KeyError::internal("asymmetric keys are not built yet"))
}
