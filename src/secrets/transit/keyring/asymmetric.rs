//! ECDSA (P-256, P-384, P-521), ed25519 and RSA (2048, 3072, 4096) keys through aws-lc-rs:
//! generation into OpenBao's stored form, signing and verification, RSA-OAEP, and export.
//!
//! What Go's `crypto` does that aws-lc-rs does not expose, and how it is met here:
//! - ECDSA signs a digest of any length (Go's `hashToInt`). aws-lc-rs signs only digests of
//!   its algorithm's length, so the digest is first brought to that length with the same
//!   integer value bits2int gives ([`ecdsa_digest`]).
//! - RSA-PSS verification with `salt_length=auto` accepts any salt length in Go. aws-lc-rs
//!   wants the length told, so it is read from the signature first (a public-key operation
//!   on public data, [`pss_salt_len`]) and the signature then verified with that length.
//! - RSA signs only over SHA-256/384/512 digests here (aws-lc-rs' encodings); OpenBao also
//!   signs over SHA-1, SHA-224, SHA-3 and `none` (PKCS#1 v1.5 without a DigestInfo). Those
//!   are refused with a 400 that names the hashes that work (docs/compat.md).
//!
//! Private key material lives in aws-lc objects (freed with `OPENSSL_cleanse`) and in
//! [`Zeroizing`] buffers while it is encoded; nothing here prints it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey, OAEP_SHA256_MGF1SHA256,
};
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, Ed25519KeyPair,
    KeyPair as _, RsaKeyPair, RsaParameters, RsaPssSaltLength, RsaSignatureEncoding,
    UnparsedPublicKey,
};
use base64::Engine as _;
use num_bigint::BigUint;
use zeroize::Zeroizing;

use super::bignum::BigNum;
use super::hash::HashAlg;
use super::wire::{Bytes, KeyEntry, RsaPrecomputed, RsaPrivate};
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
    /// A length in bytes. `Bytes(0)` is Go's `PSSSaltLengthAuto` (whose value is 0), as in
    /// OpenBao, where `salt_length=0` means `auto`.
    Bytes(usize),
}

#[derive(Clone, Debug)]
pub(crate) struct SignOptions {
    pub(crate) hash: HashAlg,
    pub(crate) padding: RsaPadding,
    pub(crate) marshaling: Marshaling,
    pub(crate) salt: SaltLength,
    /// A `signature_algorithm` that is neither `pss` nor `pkcs1v15`: RSA keys fail with
    /// OpenBao's "unsupported rsa signature algorithm ..." at the point OpenBao does (after
    /// the version and hash checks); other key types ignore it, as OpenBao does.
    pub(crate) unknown_padding: Option<String>,
}

impl SignOptions {
    pub(crate) fn new(hash: HashAlg) -> Self {
        Self {
            hash,
            padding: RsaPadding::Pss,
            marshaling: Marshaling::Asn1,
            salt: SaltLength::Auto,
            unknown_padding: None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Curves

struct Curve {
    kind: KeyType,
    sign: &'static EcdsaSigningAlgorithm,
    verify: &'static EcdsaVerificationAlgorithm,
    digest: &'static digest::Algorithm,
    /// Field element / scalar length in bytes (Go's `(bits + 7) / 8`).
    len: usize,
    /// The curve OID's DER content.
    oid: &'static [u8],
}

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

static P256: Curve = Curve {
    kind: KeyType::EcdsaP256,
    sign: &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
    verify: &sig::ECDSA_P256_SHA256_ASN1,
    digest: &digest::SHA256,
    len: 32,
    oid: &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
};
static P384: Curve = Curve {
    kind: KeyType::EcdsaP384,
    sign: &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
    verify: &sig::ECDSA_P384_SHA384_ASN1,
    digest: &digest::SHA384,
    len: 48,
    oid: &[0x2b, 0x81, 0x04, 0x00, 0x22],
};
static P521: Curve = Curve {
    kind: KeyType::EcdsaP521,
    sign: &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
    verify: &sig::ECDSA_P521_SHA512_ASN1,
    digest: &digest::SHA512,
    len: 66,
    oid: &[0x2b, 0x81, 0x04, 0x00, 0x23],
};

fn curve(kind: KeyType) -> Option<&'static Curve> {
    match kind {
        KeyType::EcdsaP256 => Some(&P256),
        KeyType::EcdsaP384 => Some(&P384),
        KeyType::EcdsaP521 => Some(&P521),
        _ => None,
    }
}

/// The digest aws-lc signs, with the integer value Go's `ecdsa.Sign(digest)` uses for
/// `input`: ECDSA's bits2int takes the leftmost `ceil(order bits / 8)` bytes and, if that
/// is more bits than the order has, shifts the excess off. aws-lc does the same to the
/// digest it is given, so a value that fits in the algorithm's digest length is given
/// left-padded with zeros and yields the same integer. For P-256 / P-384 the order has
/// exactly 8 × digest-length bits, so every input fits after truncation. P-521's order has
/// 521 bits but its digest (SHA-512) 512: an input of up to 64 bytes is used whole, and a
/// longer one fits only if its bits2int value is below 2^512.
fn ecdsa_digest(c: &Curve, input: &[u8]) -> Result<Digest, KeyError> {
    let dlen = c.digest.output_len();
    let order_bits = if c.kind == KeyType::EcdsaP521 {
        521
    } else {
        c.len * 8
    };
    let mut h: Vec<u8> = input[..input.len().min(c.len)].to_vec();
    let excess = (h.len() * 8).saturating_sub(order_bits);
    if excess > 0 {
        shift_right(&mut h, excess);
    }
    let start = h.iter().position(|b| *b != 0).unwrap_or(h.len());
    let value = &h[start..];
    if value.len() > dlen {
        return Err(KeyError::user(format!(
            "inputs whose leftmost 521 bits exceed 512 bits cannot be signed or verified with {} keys",
            c.kind
        )));
    }
    let mut padded = vec![0u8; dlen];
    padded[dlen - value.len()..].copy_from_slice(value);
    Digest::import_less_safe(&padded, c.digest).map_err(|_| KeyError::internal("invalid digest"))
}

/// Shift a big-endian byte string right by `bits` (< 8) bits in place.
fn shift_right(b: &mut [u8], bits: usize) {
    debug_assert!(bits < 8);
    let mut carry = 0u8;
    for byte in b.iter_mut() {
        let next = *byte << (8 - bits);
        *byte = (*byte >> bits) | carry;
        carry = next;
    }
}

// ---------------------------------------------------------------------------------------
// RSA parameters by hash

struct RsaHash {
    alg: &'static digest::Algorithm,
    pss_digest: &'static RsaSignatureEncoding,
    pss_max: &'static RsaSignatureEncoding,
    pkcs1: &'static RsaSignatureEncoding,
    verify_pss: &'static RsaParameters,
    verify_pss_max: &'static RsaParameters,
    verify_pkcs1: &'static RsaParameters,
    /// The index in the custom salt length caches.
    index: usize,
}

static PSS_SHA256_MAX: RsaSignatureEncoding =
    sig::RSA_PSS_SHA256.with_pss_salt_length(RsaPssSaltLength::Max);
static PSS_SHA384_MAX: RsaSignatureEncoding =
    sig::RSA_PSS_SHA384.with_pss_salt_length(RsaPssSaltLength::Max);
static PSS_SHA512_MAX: RsaSignatureEncoding =
    sig::RSA_PSS_SHA512.with_pss_salt_length(RsaPssSaltLength::Max);
static V_PSS_SHA256_MAX: RsaParameters =
    sig::RSA_PSS_2048_8192_SHA256.with_pss_salt_length(RsaPssSaltLength::Max);
static V_PSS_SHA384_MAX: RsaParameters =
    sig::RSA_PSS_2048_8192_SHA384.with_pss_salt_length(RsaPssSaltLength::Max);
static V_PSS_SHA512_MAX: RsaParameters =
    sig::RSA_PSS_2048_8192_SHA512.with_pss_salt_length(RsaPssSaltLength::Max);

static RSA_SHA256: RsaHash = RsaHash {
    alg: &digest::SHA256,
    pss_digest: &sig::RSA_PSS_SHA256,
    pss_max: &PSS_SHA256_MAX,
    pkcs1: &sig::RSA_PKCS1_SHA256,
    verify_pss: &sig::RSA_PSS_2048_8192_SHA256,
    verify_pss_max: &V_PSS_SHA256_MAX,
    verify_pkcs1: &sig::RSA_PKCS1_2048_8192_SHA256,
    index: 0,
};
static RSA_SHA384: RsaHash = RsaHash {
    alg: &digest::SHA384,
    pss_digest: &sig::RSA_PSS_SHA384,
    pss_max: &PSS_SHA384_MAX,
    pkcs1: &sig::RSA_PKCS1_SHA384,
    verify_pss: &sig::RSA_PSS_2048_8192_SHA384,
    verify_pss_max: &V_PSS_SHA384_MAX,
    verify_pkcs1: &sig::RSA_PKCS1_2048_8192_SHA384,
    index: 1,
};
static RSA_SHA512: RsaHash = RsaHash {
    alg: &digest::SHA512,
    pss_digest: &sig::RSA_PSS_SHA512,
    pss_max: &PSS_SHA512_MAX,
    pkcs1: &sig::RSA_PKCS1_SHA512,
    verify_pss: &sig::RSA_PSS_2048_8192_SHA512,
    verify_pss_max: &V_PSS_SHA512_MAX,
    verify_pkcs1: &sig::RSA_PKCS1_2048_8192_SHA512,
    index: 2,
};

/// Whether RSA keys sign and verify with `h` here (the text says which do when not).
pub(crate) fn rsa_hash_supported(h: HashAlg) -> Result<(), KeyError> {
    rsa_hash(h).map(|_| ())
}

fn rsa_hash(h: HashAlg) -> Result<&'static RsaHash, KeyError> {
    match h {
        HashAlg::Sha2_256 => Ok(&RSA_SHA256),
        HashAlg::Sha2_384 => Ok(&RSA_SHA384),
        HashAlg::Sha2_512 => Ok(&RSA_SHA512),
        // OpenBao signs these too; aws-lc-rs has no encodings for them (module docs). The
        // caller can pick another hash, so it is theirs to fix: a 400 that says which work.
        other => Err(KeyError::user(format!(
            "unsupported hash algorithm {} for RSA keys (sha2-256, sha2-384 and sha2-512 are)",
            other.name()
        ))),
    }
}

/// aws-lc-rs takes its algorithms as `&'static`: one per (hash, salt length) asked for,
/// made once and kept. Salt lengths are bounded by the key size (at most 478 for RSA-4096),
/// so these caches stay small.
type SignCache = Mutex<HashMap<(usize, u16), &'static RsaSignatureEncoding>>;
type VerifyCache = Mutex<HashMap<(usize, u16), &'static RsaParameters>>;

fn pss_sign_encoding(h: &'static RsaHash, salt: u16) -> &'static RsaSignatureEncoding {
    static CACHE: OnceLock<SignCache> = OnceLock::new();
    let mut map = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry((h.index, salt)).or_insert_with(|| {
        let base = match h.index {
            0 => sig::RSA_PSS_SHA256,
            1 => sig::RSA_PSS_SHA384,
            _ => sig::RSA_PSS_SHA512,
        };
        Box::leak(Box::new(
            base.with_pss_salt_length(RsaPssSaltLength::Custom(salt)),
        ))
    })
}

fn pss_verify_params(h: &'static RsaHash, salt: u16) -> &'static RsaParameters {
    static CACHE: OnceLock<VerifyCache> = OnceLock::new();
    let mut map = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry((h.index, salt)).or_insert_with(|| {
        let base = match h.index {
            0 => sig::RSA_PSS_2048_8192_SHA256,
            1 => sig::RSA_PSS_2048_8192_SHA384,
            _ => sig::RSA_PSS_2048_8192_SHA512,
        };
        Box::leak(Box::new(
            base.with_pss_salt_length(RsaPssSaltLength::Custom(salt)),
        ))
    })
}

/// Go's `maxRSAPSSSaltLength`: `(bits - 1 + 7) / 8 - 2 - hLen`.
fn max_salt(bits: usize, hlen: usize) -> i64 {
    ((bits + 6) / 8) as i64 - 2 - hlen as i64
}

/// Go's salt length value (Auto = 0, EqualsHash = -1) for the validity check and its text.
fn go_salt(s: SaltLength) -> i64 {
    match s {
        SaltLength::Auto => 0,
        SaltLength::Hash => -1,
        SaltLength::Bytes(n) => n as i64,
    }
}

fn check_salt(bits: usize, hlen: usize, s: SaltLength) -> Result<(), KeyError> {
    let v = go_salt(s);
    if -1 <= v && v <= max_salt(bits, hlen) {
        Ok(())
    } else {
        Err(KeyError::user(format!(
            "requested salt length {v} is invalid"
        )))
    }
}

/// The salt length of a PSS signature (RFC 8017 EMSA-PSS-VERIFY steps 1-10), or `None`
/// when it is no PSS encoding for this key and hash. Only public values take part.
fn pss_salt_len(n: &[u8], e: &[u8], signature: &[u8], h: &RsaHash) -> Option<usize> {
    let n = BigUint::from_bytes_be(n);
    let bits = n.bits() as usize;
    let k = bits.div_ceil(8);
    if signature.len() != k {
        return None;
    }
    let s = BigUint::from_bytes_be(signature);
    if s >= n {
        return None;
    }
    let m = s.modpow(&BigUint::from_bytes_be(e), &n);
    let em_bits = bits - 1;
    let em_len = em_bits.div_ceil(8);
    let m = m.to_bytes_be();
    if m.len() > em_len {
        return None;
    }
    let mut em = vec![0u8; em_len];
    em[em_len - m.len()..].copy_from_slice(&m);
    let hlen = h.alg.output_len();
    if em_len < hlen + 2 || em[em_len - 1] != 0xbc {
        return None;
    }
    let db_len = em_len - hlen - 1;
    let (masked_db, rest) = em.split_at(db_len);
    let hash = &rest[..hlen];
    let top_mask = 0xffu8 >> (8 * em_len - em_bits);
    if masked_db[0] & !top_mask != 0 {
        return None;
    }
    let mut db = mgf1(h.alg, hash, db_len);
    for (d, m) in db.iter_mut().zip(masked_db) {
        *d ^= m;
    }
    db[0] &= top_mask;
    let sep = db.iter().position(|b| *b != 0)?;
    if db[sep] != 0x01 {
        return None;
    }
    Some(db_len - sep - 1)
}

fn mgf1(alg: &'static digest::Algorithm, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + alg.output_len());
    let mut counter = 0u32;
    while out.len() < len {
        let mut ctx = digest::Context::new(alg);
        ctx.update(seed);
        ctx.update(&counter.to_be_bytes());
        out.extend_from_slice(ctx.finish().as_ref());
        counter += 1;
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------------------------------
// The key

/// A version's key pair (or public key), ready to use.
pub(crate) struct AsymKey(Inner);

enum Inner {
    Ecdsa {
        curve: &'static Curve,
        pair: Option<EcdsaKeyPair>,
        /// Uncompressed point.
        public: Vec<u8>,
    },
    Ed25519 {
        pair: Option<Ed25519KeyPair>,
        public: Vec<u8>,
    },
    Rsa {
        pair: Option<RsaKeyPair>,
        decrypt: Option<OaepPrivateDecryptingKey>,
        encrypt: OaepPublicEncryptingKey,
        /// PKCS#1 `RSAPublicKey` DER, what aws-lc-rs verifies with.
        public_der: Vec<u8>,
        n: Vec<u8>,
        e: Vec<u8>,
        bits: usize,
    },
}

impl std::fmt::Debug for AsymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, private) = match &self.0 {
            Inner::Ecdsa { curve, pair, .. } => (curve.kind.name(), pair.is_some()),
            Inner::Ed25519 { pair, .. } => ("ed25519", pair.is_some()),
            Inner::Rsa { pair, bits, .. } => (
                match bits {
                    3072 => "rsa-3072",
                    4096 => "rsa-4096",
                    _ => "rsa-2048",
                },
                pair.is_some(),
            ),
        };
        f.debug_struct("AsymKey")
            .field("type", &what)
            .field("private", &private)
            .finish()
    }
}

fn rejected(what: &str) -> impl Fn(aws_lc_rs::error::KeyRejected) -> KeyError + '_ {
    move |e| KeyError::internal(format!("invalid {what} key: {e}"))
}

impl AsymKey {
    pub(crate) fn from_entry(kind: KeyType, entry: &KeyEntry) -> Result<Self, KeyError> {
        if let Some(c) = curve(kind) {
            return Self::ecdsa_from_entry(c, entry);
        }
        match kind {
            KeyType::Ed25519 => Self::ed25519_from_entry(entry),
            k if k.is_rsa() => Self::rsa_from_entry(entry),
            k => Err(KeyError::internal(format!("unsupported key type {k}"))),
        }
    }

    fn ecdsa_from_entry(c: &'static Curve, entry: &KeyEntry) -> Result<Self, KeyError> {
        let public = ec_point(c, entry)?;
        let pair = match &entry.ec_d {
            Some(d) => {
                let d = d.be_padded(c.len).ok_or_else(|| {
                    KeyError::internal("invalid ecdsa key: private scalar too long")
                })?;
                Some(
                    EcdsaKeyPair::from_private_key_and_public_key(c.sign, &d, &public)
                        .map_err(rejected("ecdsa"))?,
                )
            }
            None => {
                // Check the point now, as a key pair would have been checked.
                UnparsedPublicKey::new(c.verify, &public)
                    .parse()
                    .map_err(rejected("ecdsa public"))?;
                None
            }
        };
        Ok(Self(Inner::Ecdsa {
            curve: c,
            pair,
            public,
        }))
    }

    fn ed25519_from_entry(entry: &KeyEntry) -> Result<Self, KeyError> {
        let key = entry.key.get();
        let public = if entry.public_key.is_empty() {
            if key.len() != 64 {
                return Err(KeyError::internal("invalid ed25519 key: no public key"));
            }
            key[32..].to_vec()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(entry.public_key.trim())
                .map_err(|e| KeyError::internal(format!("invalid ed25519 public key: {e}")))?
        };
        if public.len() != 32 {
            return Err(KeyError::internal(
                "invalid ed25519 public key: wrong length",
            ));
        }
        let pair = match key.len() {
            0 => None,
            64 => Some(
                Ed25519KeyPair::from_seed_and_public_key(&key[..32], &key[32..])
                    .map_err(rejected("ed25519"))?,
            ),
            n => {
                return Err(KeyError::internal(format!(
                    "invalid ed25519 key: {n} bytes instead of 64"
                )))
            }
        };
        Ok(Self(Inner::Ed25519 { pair, public }))
    }

    /// A derived ed25519 key: the 32 bytes of HKDF output are the seed, as OpenBao's
    /// `DeriveKey` reads them into `ed25519.GenerateKey`.
    pub(crate) fn ed25519_from_seed(seed: &[u8]) -> Result<Self, KeyError> {
        if seed.len() < 32 {
            return Err(KeyError::internal("invalid ed25519 seed: too short"));
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed[..32]).map_err(rejected("ed25519"))?;
        let public = pair.public_key().as_ref().to_vec();
        Ok(Self(Inner::Ed25519 {
            pair: Some(pair),
            public,
        }))
    }

    /// The raw public key (ed25519: 32 bytes; ECDSA: uncompressed point; RSA: PKCS#1 DER).
    pub(crate) fn public_key_bytes(&self) -> &[u8] {
        match &self.0 {
            Inner::Ecdsa { public, .. } | Inner::Ed25519 { public, .. } => public,
            Inner::Rsa { public_der, .. } => public_der,
        }
    }

    fn rsa_from_entry(entry: &KeyEntry) -> Result<Self, KeyError> {
        let (n, e) = match (&entry.rsa_key, &entry.rsa_public_key) {
            (Some(k), _) => (k.n.be().to_vec(), k.e),
            (None, Some(p)) => (p.n.be().to_vec(), p.e),
            (None, None) => return Err(KeyError::internal("invalid rsa key: no key material")),
        };
        let e = BigNum::from_be(
            &u64::try_from(e)
                .map_err(|_| KeyError::internal("invalid rsa key: negative exponent"))?
                .to_be_bytes(),
        )
        .be()
        .to_vec();
        let bits = BigUint::from_bytes_be(&n).bits() as usize;
        let public_der = rsa_public_pkcs1(&n, &e);
        let encrypt = PublicEncryptingKey::from_der(&spki(OID_RSA_ENCRYPTION, true, &public_der))
            .map_err(rejected("rsa public"))?;
        let encrypt = OaepPublicEncryptingKey::new(encrypt)
            .map_err(|_| KeyError::internal("invalid rsa public key"))?;
        let (pair, decrypt) = match &entry.rsa_key {
            Some(k) => {
                let pkcs8 = pkcs8(OID_RSA_ENCRYPTION, true, &rsa_private_pkcs1(k)?);
                let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(rejected("rsa"))?;
                let dec = PrivateDecryptingKey::from_pkcs8(&pkcs8).map_err(rejected("rsa"))?;
                let dec = OaepPrivateDecryptingKey::new(dec)
                    .map_err(|_| KeyError::internal("invalid rsa key"))?;
                (Some(pair), Some(dec))
            }
            None => (None, None),
        };
        Ok(Self(Inner::Rsa {
            pair,
            decrypt,
            encrypt,
            public_der,
            n,
            e,
            bits,
        }))
    }

    /// Sign `input` (ECDSA / RSA: a digest, as the caller hashed it; ed25519: the message).
    /// ECDSA signatures come marshaled as `opts.marshaling` asks.
    pub(crate) fn sign(&self, input: &[u8], opts: &SignOptions) -> Result<Vec<u8>, KeyError> {
        match &self.0 {
            Inner::Ecdsa { curve, pair, .. } => {
                let pair = pair.as_ref().ok_or_else(no_private)?;
                let digest = ecdsa_digest(curve, input)?;
                let der = pair
                    .sign_digest(&digest)
                    .map_err(|_| KeyError::internal("ecdsa signing failed"))?;
                match opts.marshaling {
                    Marshaling::Asn1 => Ok(der.as_ref().to_vec()),
                    Marshaling::Jws => {
                        let (r, s) = parse_ecdsa_der(der.as_ref())
                            .ok_or_else(|| KeyError::internal("ecdsa signing failed"))?;
                        let mut out = vec![0u8; curve.len * 2];
                        out[curve.len - r.len()..curve.len].copy_from_slice(r);
                        out[2 * curve.len - s.len()..].copy_from_slice(s);
                        Ok(out)
                    }
                }
            }
            Inner::Ed25519 { pair, .. } => {
                let pair = pair.as_ref().ok_or_else(no_private)?;
                Ok(pair.sign(input).as_ref().to_vec())
            }
            Inner::Rsa { pair, bits, .. } => {
                let pair = pair.as_ref().ok_or_else(no_private)?;
                let h = rsa_hash(opts.hash)?;
                if let Some(name) = &opts.unknown_padding {
                    return Err(KeyError::internal(format!(
                        "unsupported rsa signature algorithm {name}"
                    )));
                }
                let hlen = h.alg.output_len();
                let encoding: &'static RsaSignatureEncoding = match opts.padding {
                    RsaPadding::Pss => {
                        check_salt(*bits, hlen, opts.salt)?;
                        if input.len() != hlen {
                            return Err(KeyError::internal(
                                "crypto/rsa: input must be hashed with given hash",
                            ));
                        }
                        match opts.salt {
                            SaltLength::Auto | SaltLength::Bytes(0) => h.pss_max,
                            SaltLength::Hash => h.pss_digest,
                            SaltLength::Bytes(n) if n == hlen => h.pss_digest,
                            SaltLength::Bytes(n) => pss_sign_encoding(h, n as u16),
                        }
                    }
                    RsaPadding::Pkcs1v15 => {
                        if input.len() != hlen {
                            return Err(KeyError::internal(
                                "crypto/rsa: input must be hashed message",
                            ));
                        }
                        h.pkcs1
                    }
                };
                let digest = Digest::import_less_safe(input, h.alg)
                    .map_err(|_| KeyError::internal("invalid digest"))?;
                let mut out = vec![0u8; pair.public_modulus_len()];
                pair.sign_digest(encoding, &digest, &mut out)
                    .map_err(|_| KeyError::internal("rsa signing failed"))?;
                Ok(out)
            }
        }
    }

    /// Verify `signature` (already base64-decoded) over `input` as [`AsymKey::sign`] made
    /// it. A malformed ECDSA ASN.1 signature is OpenBao's user error; any other mismatch is
    /// `Ok(false)`.
    pub(crate) fn verify(
        &self,
        input: &[u8],
        signature: &[u8],
        opts: &SignOptions,
    ) -> Result<bool, KeyError> {
        match &self.0 {
            Inner::Ecdsa { curve, public, .. } => {
                let der = match opts.marshaling {
                    Marshaling::Asn1 => {
                        let (r, s, rest) = parse_ecdsa_der_go(signature)
                            .ok_or_else(|| KeyError::user("supplied signature is invalid"))?;
                        if !rest.is_empty() {
                            return Err(KeyError::user("supplied signature contains extra data"));
                        }
                        match (r, s) {
                            (Some(r), Some(s)) => ecdsa_der(r, s),
                            // Zero or negative: Go's ecdsa.Verify says false.
                            _ => return Ok(false),
                        }
                    }
                    Marshaling::Jws => {
                        let (r, s) = signature.split_at(signature.len() / 2);
                        ecdsa_der(strip_zeros(r), strip_zeros(s))
                    }
                };
                let digest = ecdsa_digest(curve, input)?;
                Ok(UnparsedPublicKey::new(curve.verify, public)
                    .verify_digest(&digest, &der)
                    .is_ok())
            }
            Inner::Ed25519 { public, .. } => Ok(UnparsedPublicKey::new(&sig::ED25519, public)
                .verify(input, signature)
                .is_ok()),
            Inner::Rsa {
                public_der,
                n,
                e,
                bits,
                ..
            } => {
                let h = rsa_hash(opts.hash)?;
                if let Some(name) = &opts.unknown_padding {
                    return Err(KeyError::internal(format!(
                        "unsupported rsa signature algorithm {name}"
                    )));
                }
                let hlen = h.alg.output_len();
                let params: &'static RsaParameters = match opts.padding {
                    RsaPadding::Pss => {
                        check_salt(*bits, hlen, opts.salt)?;
                        let max = max_salt(*bits, hlen).max(0) as usize;
                        let salt = match opts.salt {
                            SaltLength::Auto | SaltLength::Bytes(0) => {
                                match pss_salt_len(n, e, signature, h) {
                                    Some(len) => len,
                                    None => return Ok(false),
                                }
                            }
                            SaltLength::Hash => hlen,
                            SaltLength::Bytes(n) => n,
                        };
                        if salt == hlen {
                            h.verify_pss
                        } else if salt == max {
                            h.verify_pss_max
                        } else {
                            pss_verify_params(h, salt as u16)
                        }
                    }
                    RsaPadding::Pkcs1v15 => h.verify_pkcs1,
                };
                let Ok(digest) = Digest::import_less_safe(input, h.alg) else {
                    // Go: "input must be hashed ..." inside Verify, i.e. not valid.
                    return Ok(false);
                };
                Ok(UnparsedPublicKey::new(params, public_der)
                    .verify_digest(&digest, signature)
                    .is_ok())
            }
        }
    }

    /// RSA-OAEP with SHA-256 and MGF1-SHA-256, no label (Go's `rsa.EncryptOAEP(sha256)`).
    pub(crate) fn rsa_encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        let Inner::Rsa { encrypt, .. } = &self.0 else {
            return Err(KeyError::internal("unsupported key type"));
        };
        if plaintext.len() > encrypt.max_plaintext_size(&OAEP_SHA256_MGF1SHA256) {
            return Err(KeyError::internal(
                "failed to RSA encrypt the plaintext: crypto/rsa: message too long for RSA key size",
            ));
        }
        let mut out = vec![0u8; encrypt.ciphertext_size()];
        let len = encrypt
            .encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None)
            .map_err(|_| {
                KeyError::internal("failed to RSA encrypt the plaintext: encryption failed")
            })?
            .len();
        out.truncate(len);
        Ok(out)
    }

    pub(crate) fn rsa_decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let Inner::Rsa { decrypt, .. } = &self.0 else {
            return Err(KeyError::internal("unsupported key type"));
        };
        let Some(decrypt) = decrypt else {
            // Go would dereference a nil private key here; say what is missing instead.
            return Err(KeyError::internal(
                "failed to RSA decrypt the ciphertext: the key version has no private part",
            ));
        };
        let mut out = Zeroizing::new(vec![0u8; decrypt.min_output_size()]);
        let len = decrypt
            .decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, None)
            .map_err(|_| {
                KeyError::internal(
                    "failed to RSA decrypt the ciphertext: crypto/rsa: decryption error",
                )
            })?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

fn no_private() -> KeyError {
    KeyError::user("requested version for signing does not contain a private part")
}

fn ec_point(c: &Curve, entry: &KeyEntry) -> Result<Vec<u8>, KeyError> {
    let (Some(x), Some(y)) = (&entry.ec_x, &entry.ec_y) else {
        return Err(KeyError::internal("invalid ecdsa key: no public key"));
    };
    let (Some(x), Some(y)) = (x.be_padded(c.len), y.be_padded(c.len)) else {
        return Err(KeyError::internal("invalid ecdsa key: coordinate too long"));
    };
    let mut p = Vec::with_capacity(1 + 2 * c.len);
    p.push(0x04);
    p.extend_from_slice(&x);
    p.extend_from_slice(&y);
    Ok(p)
}

// ---------------------------------------------------------------------------------------
// Generation

/// Fill a new version of an asymmetric type with fresh key material, as OpenBao's
/// `RotateInMemory` does.
pub(crate) fn generate(kind: KeyType, entry: &mut KeyEntry) -> Result<(), KeyError> {
    let failed = |_| KeyError::internal(format!("failed to generate a {kind} key"));
    if let Some(c) = curve(kind) {
        let pair = EcdsaKeyPair::generate(c.sign).map_err(failed)?;
        let d = pair.private_key().as_be_bytes().map_err(failed)?;
        let point = pair.public_key().as_ref();
        if point.len() != 1 + 2 * c.len || point[0] != 0x04 {
            return Err(KeyError::internal("unexpected ecdsa public key encoding"));
        }
        entry.ec_d = Some(BigNum::from_be(d.as_ref()));
        entry.ec_x = Some(BigNum::from_be(&point[1..1 + c.len]));
        entry.ec_y = Some(BigNum::from_be(&point[1 + c.len..]));
        entry.public_key = pem("PUBLIC KEY", &ec_spki(c, point));
        return Ok(());
    }
    match kind {
        KeyType::Ed25519 => {
            let pair = Ed25519KeyPair::generate().map_err(failed)?;
            let seed = pair.seed().map_err(failed)?;
            let seed = seed.as_be_bytes().map_err(failed)?;
            let public = pair.public_key().as_ref();
            let mut key = Zeroizing::new(Vec::with_capacity(64));
            key.extend_from_slice(seed.as_ref());
            key.extend_from_slice(public);
            entry.key = Bytes::new(key.to_vec());
            entry.public_key = base64::engine::general_purpose::STANDARD.encode(public);
            Ok(())
        }
        k if k.is_rsa() => {
            let size = match k.rsa_bits() {
                3072 => KeySize::Rsa3072,
                4096 => KeySize::Rsa4096,
                _ => KeySize::Rsa2048,
            };
            let pair = RsaKeyPair::generate(size).map_err(failed)?;
            let doc = pair.as_der().map_err(failed)?;
            entry.rsa_key = Some(parse_rsa_pkcs8(doc.as_ref())?);
            entry.rsa_public_key = None;
            entry.public_key = String::new();
            Ok(())
        }
        k => Err(KeyError::internal(format!("unsupported key type {k}"))),
    }
}

/// The base64 ed25519 public key of a derived key's seed (32 bytes).
pub(crate) fn ed25519_public_from_seed(seed: &[u8]) -> Result<String, KeyError> {
    let key = AsymKey::ed25519_from_seed(seed)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key.public_key_bytes()))
}

// ---------------------------------------------------------------------------------------
// Export

/// The public key as the key description shows it (RSA: PKIX PEM).
pub(crate) fn export_public(kind: KeyType, entry: &KeyEntry) -> Result<String, KeyError> {
    export_public_format(kind, entry, "")
}

/// `export/public-key/...` in `format` ("" | "raw" | "der" | "pem"), OpenBao's encodings.
pub(crate) fn export_public_format(
    kind: KeyType,
    entry: &KeyEntry,
    format: &str,
) -> Result<String, KeyError> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    if let Some(c) = curve(kind) {
        if format == "raw" {
            return Err(KeyError::internal(EC_FORMATS));
        }
        let der = ec_spki(c, &ec_point(c, entry)?);
        return Ok(match format {
            "der" => b64(&der),
            _ => pem("PUBLIC KEY", &der).trim().to_string(),
        });
    }
    match kind {
        KeyType::Ed25519 => {
            let public = entry.public_key.trim();
            if format.is_empty() || format == "raw" {
                return Ok(public.to_string());
            }
            let raw = base64::engine::general_purpose::STANDARD
                .decode(public)
                .map_err(|e| KeyError::internal(e.to_string()))?;
            if raw.len() != 32 {
                return Err(KeyError::internal(
                    "x509: unsupported public key type: ed25519.PublicKey",
                ));
            }
            let der = spki(OID_ED25519, false, &raw);
            Ok(match format {
                "der" => b64(&der),
                _ => pem("PUBLIC KEY", &der).trim().to_string(),
            })
        }
        k if k.is_rsa() => {
            if format == "raw" {
                return Err(KeyError::internal(RSA_FORMATS));
            }
            let (n, e) = match (&entry.rsa_key, &entry.rsa_public_key) {
                (Some(k), _) => (k.n.be(), k.e),
                (None, Some(p)) => (p.n.be(), p.e),
                (None, None) => {
                    return Err(KeyError::internal(
                        "requested to encode an RSA public key with no RSA key present",
                    ))
                }
            };
            let e = BigNum::from_be(&(e as u64).to_be_bytes());
            let der = spki(OID_RSA_ENCRYPTION, true, &rsa_public_pkcs1(n, e.be()));
            Ok(match format {
                "der" => b64(&der),
                // Not trimmed: OpenBao's RSA PEMs keep their final newline.
                _ => pem("PUBLIC KEY", &der),
            })
        }
        k => Err(KeyError::internal(format!(
            "unknown key type {k} for export type public-key"
        ))),
    }
}

const EC_FORMATS: &str = "unknown key format for ec key; supported values are ``, `der`, or `pem`";
const RSA_FORMATS: &str =
    "unknown key format for rsa key; supported values are ``, `der`, or `pem`";

/// `export/signing-key/...` and RSA's `export/encryption-key/...` in `format`.
pub(crate) fn export_private(
    kind: KeyType,
    entry: &KeyEntry,
    format: &str,
) -> Result<String, KeyError> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    if let Some(c) = curve(kind) {
        if format == "raw" {
            return Err(KeyError::internal(EC_FORMATS));
        }
        if entry.private_key_missing() {
            return Ok(String::new());
        }
        let Some(d) = entry.ec_d.as_ref().and_then(|d| d.be_padded(c.len)) else {
            return Err(KeyError::internal("invalid ecdsa private key"));
        };
        let point = ec_point(c, entry)?;
        return Ok(match format {
            "" => Zeroizing::new(pem("EC PRIVATE KEY", &sec1(c, &d, &point, true)))
                .trim()
                .to_string(),
            _ => {
                let der = ec_pkcs8(c, &d, &point);
                if format == "der" {
                    b64(&der)
                } else {
                    Zeroizing::new(pem("PRIVATE KEY", &der)).trim().to_string()
                }
            }
        });
    }
    match kind {
        KeyType::Ed25519 => {
            let key = entry.key.get();
            if key.is_empty() {
                return Ok(String::new());
            }
            if format.is_empty() || format == "raw" {
                return Ok(b64(key));
            }
            if key.len() != 64 {
                return Err(KeyError::internal("invalid ed25519 private key"));
            }
            let mut inner = private_buf(&[], 32);
            tlv(0x04, &key[..32], &mut inner);
            let der = pkcs8(OID_ED25519, false, &inner);
            Ok(match format {
                "der" => b64(&der),
                _ => Zeroizing::new(pem("PRIVATE KEY", &der)).trim().to_string(),
            })
        }
        k if k.is_rsa() => {
            if format == "raw" {
                return Err(KeyError::internal(RSA_FORMATS));
            }
            if entry.private_key_missing() {
                return Ok(String::new());
            }
            let Some(key) = &entry.rsa_key else {
                return Ok(String::new());
            };
            let pkcs1 = rsa_private_pkcs1(key)?;
            Ok(match format {
                "" => pem("RSA PRIVATE KEY", &pkcs1),
                _ => {
                    let der = pkcs8(OID_RSA_ENCRYPTION, true, &pkcs1);
                    if format == "der" {
                        b64(&der)
                    } else {
                        pem("PRIVATE KEY", &der)
                    }
                }
            })
        }
        k => Err(KeyError::internal(format!(
            "unknown key type {k} for export type signing-key"
        ))),
    }
}

/// Go's `pem.EncodeToMemory`: 64-character lines and a final newline.
fn pem(label: &str, der: &[u8]) -> String {
    let b = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    let mut out = String::with_capacity(b.len() + b.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b.as_bytes().chunks(64) {
        // Base64 is ASCII.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

// ---------------------------------------------------------------------------------------
// DER, just what these keys need. Buffers that may hold private values are `Zeroizing`.

fn push_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let start = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - start) as u8);
        out.extend_from_slice(&bytes[start..]);
    }
}

fn tlv(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    push_len(content.len(), out);
    out.extend_from_slice(content);
}

/// An INTEGER from an unsigned big-endian value.
fn uint(be: &[u8], out: &mut Vec<u8>) {
    let v = strip_zeros(be);
    out.push(0x02);
    if v.is_empty() {
        out.extend_from_slice(&[1, 0]);
    } else if v[0] & 0x80 != 0 {
        push_len(v.len() + 1, out);
        out.push(0);
        out.extend_from_slice(v);
    } else {
        push_len(v.len(), out);
        out.extend_from_slice(v);
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[start..]
}

/// A buffer for private DER, sized so that it never reallocates (a reallocation would
/// leave an unwiped copy behind).
fn private_buf(prefix: &[u8], room: usize) -> Zeroizing<Vec<u8>> {
    let mut b = Zeroizing::new(Vec::with_capacity(prefix.len() + room + 64));
    b.extend_from_slice(prefix);
    b
}

fn seq(content: &[u8]) -> Zeroizing<Vec<u8>> {
    // Tag and at most 5 length bytes.
    let mut out = Zeroizing::new(Vec::with_capacity(content.len() + 8));
    tlv(0x30, content, &mut out);
    out
}

/// `AlgorithmIdentifier` with an OID and an optional NULL or OID parameter.
fn algorithm_id(oid: &[u8], null: bool, param_oid: Option<&[u8]>, out: &mut Vec<u8>) {
    let mut alg = Vec::new();
    tlv(0x06, oid, &mut alg);
    if null {
        alg.extend_from_slice(&[0x05, 0x00]);
    }
    if let Some(p) = param_oid {
        tlv(0x06, p, &mut alg);
    }
    tlv(0x30, &alg, out);
}

/// `SubjectPublicKeyInfo` (RSA: `null` parameters; ed25519: none).
fn spki(oid: &[u8], null: bool, key: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    algorithm_id(oid, null, None, &mut body);
    let mut bits = Vec::with_capacity(key.len() + 1);
    bits.push(0);
    bits.extend_from_slice(key);
    tlv(0x03, &bits, &mut body);
    seq(&body).to_vec()
}

fn ec_spki(c: &Curve, point: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    algorithm_id(OID_EC_PUBLIC_KEY, false, Some(c.oid), &mut body);
    let mut bits = Vec::with_capacity(point.len() + 1);
    bits.push(0);
    bits.extend_from_slice(point);
    tlv(0x03, &bits, &mut body);
    seq(&body).to_vec()
}

/// PKCS#8 `PrivateKeyInfo` v0 around `key`.
fn pkcs8(oid: &[u8], null: bool, key: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut body = private_buf(&[0x02, 0x01, 0x00], key.len());
    algorithm_id(oid, null, None, &mut body);
    tlv(0x04, key, &mut body);
    seq(&body)
}

/// SEC 1 `ECPrivateKey` as Go's `x509.MarshalECPrivateKey` writes it (with the curve OID)
/// or as inside PKCS#8 (without).
fn sec1(c: &Curve, d: &[u8], point: &[u8], with_oid: bool) -> Zeroizing<Vec<u8>> {
    let mut body = private_buf(&[0x02, 0x01, 0x01], d.len() + point.len());
    tlv(0x04, d, &mut body);
    if with_oid {
        let mut oid = Vec::new();
        tlv(0x06, c.oid, &mut oid);
        tlv(0xa0, &oid, &mut body);
    }
    let mut bits = Vec::with_capacity(point.len() + 1);
    bits.push(0);
    bits.extend_from_slice(point);
    let mut wrapped = Vec::new();
    tlv(0x03, &bits, &mut wrapped);
    tlv(0xa1, &wrapped, &mut body);
    seq(&body)
}

fn ec_pkcs8(c: &Curve, d: &[u8], point: &[u8]) -> Zeroizing<Vec<u8>> {
    let inner = sec1(c, d, point, false);
    let mut body = private_buf(&[0x02, 0x01, 0x00], inner.len());
    algorithm_id(OID_EC_PUBLIC_KEY, false, Some(c.oid), &mut body);
    tlv(0x04, &inner, &mut body);
    seq(&body)
}

fn rsa_public_pkcs1(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    uint(n, &mut body);
    uint(e, &mut body);
    seq(&body).to_vec()
}

/// PKCS#1 `RSAPrivateKey` (two primes) as Go's `x509.MarshalPKCS1PrivateKey` writes it;
/// the CRT values are computed when the stored key lacks them.
fn rsa_private_pkcs1(k: &RsaPrivate) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let [p, q] = k.primes.as_slice() else {
        return Err(KeyError::internal(format!(
            "unsupported rsa key: {} primes",
            k.primes.len()
        )));
    };
    let e = BigNum::from_be(
        &u64::try_from(k.e)
            .map_err(|_| KeyError::internal("invalid rsa key: negative exponent"))?
            .to_be_bytes(),
    );
    let pre = match (&k.precomputed.dp, &k.precomputed.dq, &k.precomputed.qinv) {
        (Some(dp), Some(dq), Some(qinv)) => RsaPrecomputed {
            dp: Some(dp.clone()),
            dq: Some(dq.clone()),
            qinv: Some(qinv.clone()),
            crt_values: None,
        },
        _ => crt_values(&k.d, p, q)?,
    };
    let room = k.n.be().len() * 2 + k.d.be().len() + 64 + p.be().len() * 5;
    let mut body = private_buf(&[0x02, 0x01, 0x00], room);
    for v in [
        &k.n,
        &e,
        &k.d,
        p,
        q,
        pre.dp.as_ref().unwrap_or(&BigNum::default()),
        pre.dq.as_ref().unwrap_or(&BigNum::default()),
        pre.qinv.as_ref().unwrap_or(&BigNum::default()),
    ] {
        uint(v.be(), &mut body);
    }
    Ok(seq(&body))
}

/// `Dp`, `Dq`, `Qinv` of a stored key that lacks them (old or hand-made entries). Done in
/// num-bigint, whose intermediate values are not wiped: only for such entries, once per
/// version (the prepared key is kept).
fn crt_values(d: &BigNum, p: &BigNum, q: &BigNum) -> Result<RsaPrecomputed, KeyError> {
    let one = BigUint::from(1u8);
    let (d, p, q) = (
        BigUint::from_bytes_be(d.be()),
        BigUint::from_bytes_be(p.be()),
        BigUint::from_bytes_be(q.be()),
    );
    if p <= one || q <= one {
        return Err(KeyError::internal("invalid rsa key: bad primes"));
    }
    let dp = &d % (&p - &one);
    let dq = &d % (&q - &one);
    let qinv = q
        .modinv(&p)
        .ok_or_else(|| KeyError::internal("invalid rsa key: primes not coprime"))?;
    let big = |v: BigUint| Some(BigNum::from_be(&Zeroizing::new(v.to_bytes_be())));
    Ok(RsaPrecomputed {
        dp: big(dp),
        dq: big(dq),
        qinv: big(qinv),
        crt_values: None,
    })
}

/// A strict DER reader.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The next element's tag and content; minimal lengths only (Go's `encoding/asn1`).
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let b = self.0;
        let (&tag, rest) = b.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n || rest[0] == 0 {
                return None;
            }
            let len = rest[..n].iter().fold(0usize, |a, x| (a << 8) | *x as usize);
            if len < 0x80 {
                return None;
            }
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        let (content, after) = rest.split_at(len);
        self.0 = after;
        Some((tag, content))
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, c) if t == tag => Some(c),
            _ => None,
        }
    }

    /// A non-negative INTEGER, big-endian without its sign byte.
    fn uint(&mut self) -> Option<&'a [u8]> {
        let c = self.expect(0x02)?;
        if c.is_empty() || c[0] & 0x80 != 0 {
            return None;
        }
        if c.len() > 1 && c[0] == 0 && c[1] & 0x80 == 0 {
            return None;
        }
        Some(strip_zeros(c))
    }
}

/// `(r, s)` of an ECDSA DER signature aws-lc made.
fn parse_ecdsa_der(sig: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut outer = Der(sig);
    let mut body = Der(outer.expect(0x30)?);
    Some((body.uint()?, body.uint()?))
}

/// Go's `asn1.Unmarshal(sig, &ecdsaSignature{})`: `r` and `s` (`None` when zero or
/// negative, which Go parses and `ecdsa.Verify` rejects) and what follows the SEQUENCE.
#[allow(clippy::type_complexity)]
fn parse_ecdsa_der_go(sig: &[u8]) -> Option<(Option<&[u8]>, Option<&[u8]>, &[u8])> {
    let mut outer = Der(sig);
    let mut body = Der(outer.expect(0x30)?);
    let mut int = || -> Option<Option<&[u8]>> {
        let c = body.expect(0x02)?;
        if c.is_empty() {
            return None;
        }
        // Go rejects non-minimal INTEGER encodings.
        if c.len() > 1 && ((c[0] == 0 && c[1] & 0x80 == 0) || (c[0] == 0xff && c[1] & 0x80 != 0)) {
            return None;
        }
        if c[0] & 0x80 != 0 {
            return Some(None);
        }
        let v = strip_zeros(c);
        Some(if v.is_empty() { None } else { Some(v) })
    };
    let r = int()?;
    let s = int()?;
    // Bytes after `s` inside the SEQUENCE are allowed, as Go's asn1 allows them (X.509's
    // way of growing structures); bytes after the SEQUENCE are the caller's "extra data".
    Some((r, s, outer.0))
}

fn ecdsa_der(r: &[u8], s: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(r.len() + s.len() + 6);
    uint(r, &mut body);
    uint(s, &mut body);
    seq(&body).to_vec()
}

/// The stored form of an RSA key from aws-lc's PKCS#8 document.
fn parse_rsa_pkcs8(doc: &[u8]) -> Result<RsaPrivate, KeyError> {
    let bad = || KeyError::internal("unexpected rsa private key encoding");
    let mut outer = Der(doc);
    let mut info = Der(outer.expect(0x30).ok_or_else(bad)?);
    info.uint().ok_or_else(bad)?;
    info.expect(0x30).ok_or_else(bad)?;
    let pkcs1 = info.expect(0x04).ok_or_else(bad)?;
    let mut outer = Der(pkcs1);
    let mut key = Der(outer.expect(0x30).ok_or_else(bad)?);
    let version = key.uint().ok_or_else(bad)?;
    if !version.is_empty() {
        return Err(bad());
    }
    let mut next = || key.uint().map(BigNum::from_be).ok_or_else(bad);
    let n = next()?;
    let e = next()?;
    let d = next()?;
    let p = next()?;
    let q = next()?;
    let dp = next()?;
    let dq = next()?;
    let qinv = next()?;
    let e = e
        .be()
        .iter()
        .try_fold(0i64, |a, b| a.checked_mul(256).map(|a| a + i64::from(*b)));
    Ok(RsaPrivate {
        n,
        e: e.ok_or_else(bad)?,
        d,
        primes: vec![p, q],
        precomputed: RsaPrecomputed {
            dp: Some(dp),
            dq: Some(dq),
            qinv: Some(qinv),
            // Go writes an empty list for two-prime keys.
            crt_values: Some(Vec::new()),
        },
    })
}

#[cfg(test)]
#[path = "asymmetric_tests.rs"]
mod tests;
