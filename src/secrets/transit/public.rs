//! The bench-only face of the Transit key ring (`benches/transit.rs`): a key of any type
//! and its hot operations, without HTTP or storage.

use super::keyring::asymmetric::{Marshaling, RsaPadding, SaltLength, SignOptions};
use super::keyring::hash::HashAlg;
use super::keyring::{KeyRing, KeyType, NewKey};

/// One Transit key with its first version.
pub struct BenchKey(KeyRing);

impl BenchKey {
    /// A new key of OpenBao's type name (`aes256-gcm96`, `ed25519`, ...); `derived` keys
    /// take a context on every call.
    pub fn new(kind: &str, derived: bool) -> Self {
        let kind = KeyType::parse(kind).expect("a Transit key type");
        let req = NewKey {
            name: "bench".into(),
            kind,
            derived,
            convergent: false,
            exportable: false,
            allow_plaintext_backup: false,
            auto_rotate_period_ns: 0,
            key_size: 32,
        };
        Self(KeyRing::create(&req, time::OffsetDateTime::now_utc()).expect("key"))
    }

    /// `vault:v1:...` of `plaintext`.
    pub fn encrypt(&self, context: &[u8], plaintext: &[u8]) -> String {
        self.0
            .encrypt(0, context, &[], plaintext, &[])
            .expect("encrypt")
    }

    pub fn decrypt(&self, context: &[u8], ciphertext: &str) -> Vec<u8> {
        self.0
            .decrypt(context, ciphertext, &[])
            .expect("decrypt")
            .to_vec()
    }

    /// A signature of `input` (hashed with SHA-256 first for ECDSA and RSA, as the `sign/`
    /// path does; PSS for RSA), `vault:v1:...`.
    pub fn sign(&self, input: &[u8]) -> String {
        let data = self.signed(input);
        self.0.sign(0, &[], &data, &Self::opts()).expect("sign").0
    }

    pub fn verify(&self, input: &[u8], signature: &str) -> bool {
        let data = self.signed(input);
        self.0
            .verify(&[], &data, signature, &Self::opts())
            .expect("verify")
    }

    fn signed(&self, input: &[u8]) -> Vec<u8> {
        if self.0.kind().hash_signature_input() {
            HashAlg::Sha2_256.digest(input)
        } else {
            input.to_vec()
        }
    }

    fn opts() -> SignOptions {
        SignOptions {
            hash: HashAlg::Sha2_256,
            padding: RsaPadding::Pss,
            marshaling: Marshaling::Asn1,
            salt: SaltLength::Auto,
            unknown_padding: None,
        }
    }

    /// An HMAC-SHA256 of `input` under the version's HMAC key.
    pub fn hmac(&self, input: &[u8]) -> Vec<u8> {
        let key = self.0.hmac_key(1).expect("hmac key");
        HashAlg::Sha2_256.hmac(key, input).expect("hmac")
    }
}
