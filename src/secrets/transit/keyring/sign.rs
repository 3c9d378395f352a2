//! Signing and verification of a key ring (OpenBao's `SignWithOptions` and
//! `VerifySignatureWithOptions`): the version checks and their texts, the version prefix,
//! and the signature's base64 (`asn1`: standard; `jws`: URL-safe without padding).

use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use super::asymmetric::{AsymKey, Marshaling, SignOptions};
use super::{KeyError, KeyRing, KeyType, Prepared, ERR_TOO_OLD};

/// OpenBao's `ErrSoftDeleted`.
const ERR_SOFT_DELETED: &str = "refusing to use soft-deleted key";

/// Go's `base64.StdEncoding` on decode (padding required, trailing bits accepted).
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Go's `base64.RawURLEncoding` on decode (no padding allowed, trailing bits accepted).
const GO_RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

impl KeyRing {
    /// Sign `input` with version `ver` (0: the latest). ECDSA and RSA sign `input` as a
    /// digest (the caller hashed it, or it came prehashed); ed25519 signs it as it is.
    /// Returns the signature with its version prefix and, for derived ed25519 keys, the
    /// derived public key.
    pub(crate) fn sign(
        &self,
        ver: i64,
        context: &[u8],
        input: &[u8],
        opts: &SignOptions,
    ) -> Result<(String, Option<Vec<u8>>), KeyError> {
        let p = &self.policy;
        if p.soft_deleted {
            return Err(KeyError::user(ERR_SOFT_DELETED));
        }
        let kind = p.kind;
        if !kind.signing_supported() {
            return Err(KeyError::internal(format!(
                "message signing not supported for key type {kind}"
            )));
        }
        let ver = self.encryption_version(ver, "signing")?;
        let entry = self
            .entry(ver)
            .map_err(|_| KeyError::internal("no such key version"))?;
        if entry.private_key_missing() {
            return Err(KeyError::user(
                "requested version for signing does not contain a private part",
            ));
        }
        let (sig, public) = if kind == KeyType::Ed25519 && p.derived {
            let key = self.derived_ed25519(context, ver)?;
            (
                key.sign(input, opts)?,
                Some(key.public_key_bytes().to_vec()),
            )
        } else {
            (self.asym(ver)?.sign(input, opts)?, None)
        };
        let mut out = self.version_prefix(ver);
        match opts.marshaling {
            Marshaling::Asn1 => general_purpose::STANDARD.encode_string(&sig, &mut out),
            Marshaling::Jws => general_purpose::URL_SAFE_NO_PAD.encode_string(&sig, &mut out),
        }
        Ok((out, public))
    }

    /// Verify a `vault:vN:...` signature over `input` (hashed as for [`KeyRing::sign`]).
    pub(crate) fn verify(
        &self,
        context: &[u8],
        input: &[u8],
        signature: &str,
        opts: &SignOptions,
    ) -> Result<bool, KeyError> {
        let p = &self.policy;
        if p.soft_deleted {
            return Err(KeyError::user(ERR_SOFT_DELETED));
        }
        let kind = p.kind;
        if !kind.signing_supported() {
            return Err(KeyError::user(format!(
                "message verification not supported for key type {kind}"
            )));
        }
        let (ver, body) = self.split_versioned(signature, "signature")?;
        if ver > p.latest_version {
            return Err(KeyError::user("invalid signature: version is too new"));
        }
        if p.min_decryption_version > 0 && ver < p.min_decryption_version {
            return Err(KeyError::user(ERR_TOO_OLD));
        }
        let cleaned;
        let body = if body.contains(['\r', '\n']) {
            // Go's decoders skip line breaks.
            cleaned = body.replace(['\r', '\n'], "");
            cleaned.as_str()
        } else {
            body
        };
        let sig = match opts.marshaling {
            Marshaling::Asn1 => GO_STD.decode(body),
            Marshaling::Jws => GO_RAW_URL.decode(body),
        }
        .map_err(|_| KeyError::user("invalid base64 signature value"))?;
        if kind == KeyType::Ed25519 && p.derived {
            return self
                .derived_ed25519(context, ver)?
                .verify(input, &sig, opts);
        }
        self.asym(ver)?.verify(input, &sig, opts)
    }

    fn derived_ed25519(&self, context: &[u8], ver: i64) -> Result<AsymKey, KeyError> {
        let seed = self
            .derive_key(context, ver, 32)
            .map_err(|e| KeyError::internal(format!("error deriving key: {e}")))?;
        AsymKey::ed25519_from_seed(&seed)
    }

    fn asym(&self, ver: i64) -> Result<AsymRef, KeyError> {
        let prepared = self.prepared(ver)?;
        match &*prepared {
            Prepared::Asym(_) => Ok(AsymRef(prepared)),
            _ => Err(KeyError::internal(format!(
                "unsupported key type {}",
                self.policy.kind
            ))),
        }
    }
}

/// A prepared key known to be asymmetric.
struct AsymRef(std::sync::Arc<Prepared>);

impl std::ops::Deref for AsymRef {
    type Target = AsymKey;
    fn deref(&self) -> &AsymKey {
        match &*self.0 {
            Prepared::Asym(k) => k,
            // `KeyRing::asym` only makes these from `Prepared::Asym`.
            _ => unreachable!("AsymRef holds an asymmetric key"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::asymmetric::{RsaPadding, SaltLength};
    use super::super::hash::HashAlg;
    use super::super::NewKey;
    use super::*;

    fn ring(kind: KeyType, derived: bool) -> KeyRing {
        KeyRing::create(
            &NewKey {
                name: "k".into(),
                kind,
                derived,
                convergent: false,
                exportable: true,
                allow_plaintext_backup: true,
                auto_rotate_period_ns: 0,
                key_size: 0,
            },
            time::OffsetDateTime::UNIX_EPOCH,
        )
        .expect("create")
    }

    #[test]
    fn sign_and_verify_through_the_ring_with_prefix_and_versions() {
        let mut r = ring(KeyType::EcdsaP256, false);
        r.rotate_in_memory(time::OffsetDateTime::UNIX_EPOCH)
            .expect("rotate");
        let digest = HashAlg::Sha2_256.digest(b"msg");
        let opts = SignOptions::new(HashAlg::Sha2_256);
        let (sig, public) = r.sign(1, &[], &digest, &opts).expect("sign v1");
        assert!(sig.starts_with("vault:v1:"), "{sig}");
        assert!(public.is_none());
        assert!(r.verify(&[], &digest, &sig, &opts).expect("verify"));
        let (latest, _) = r.sign(0, &[], &digest, &opts).expect("sign latest");
        assert!(latest.starts_with("vault:v2:"));
        assert!(r.verify(&[], &digest, &latest, &opts).expect("verify"));
        // Signed by v1, claimed as v2: not valid.
        let swapped = sig.replacen("vault:v1:", "vault:v2:", 1);
        assert!(!r.verify(&[], &digest, &swapped, &opts).expect("verify"));

        let user = |e: KeyError| e;
        assert_eq!(
            r.sign(3, &[], &digest, &opts)
                .map_err(user)
                .expect_err("must fail"),
            KeyError::user("requested version for signing is higher than the latest key version")
        );
        assert_eq!(
            r.sign(-1, &[], &digest, &opts).expect_err("must fail"),
            KeyError::user("requested version for signing is negative")
        );
        r.policy.min_encryption_version = 2;
        assert_eq!(
            r.sign(1, &[], &digest, &opts).expect_err("must fail"),
            KeyError::user(
                "requested version for signing is less than the minimum encryption key version"
            )
        );
        r.policy.min_decryption_version = 2;
        assert_eq!(
            r.verify(&[], &digest, &sig, &opts).expect_err("must fail"),
            KeyError::user(ERR_TOO_OLD)
        );
        for (bad, text) in [
            ("abc", "invalid signature: no prefix"),
            ("vault:abc", "invalid signature: no prefix"),
            (
                "vault:vx:abc",
                "invalid signature: version number could not be decoded",
            ),
            ("vault:v9:abc", "invalid signature: version is too new"),
            ("vault:v2:!!", "invalid base64 signature value"),
            ("vault:v2:AAAA", "supplied signature is invalid"),
            (
                "vault:v2:MAYCAQECAQEA",
                "supplied signature contains extra data",
            ),
        ] {
            assert_eq!(
                r.verify(&[], &digest, bad, &opts).expect_err("must fail"),
                KeyError::user(text),
                "{bad}"
            );
        }
        // Well-formed but wrong, negative, or r = 0: false.
        for ok_false in [
            "vault:v2:MAYCAQECAQE=",
            "vault:v2:MAYCAYECAQE=",
            "vault:v2:MAYCAQACAQE=",
        ] {
            assert!(!r.verify(&[], &digest, ok_false, &opts).expect(ok_false));
        }
    }

    #[test]
    fn jws_signatures_use_url_base64_without_padding() {
        let r = ring(KeyType::EcdsaP384, false);
        let digest = HashAlg::Sha2_384.digest(b"m");
        let mut opts = SignOptions::new(HashAlg::Sha2_384);
        opts.marshaling = Marshaling::Jws;
        let (sig, _) = r.sign(0, &[], &digest, &opts).expect("sign");
        let body = sig.strip_prefix("vault:v1:").expect("prefix");
        assert_eq!(body.len(), 128, "96 bytes");
        assert!(!body.contains(['=', '+', '/']));
        assert!(r.verify(&[], &digest, &sig, &opts).expect("verify"));
        assert_eq!(
            r.verify(&[], &digest, &format!("{sig}=="), &opts)
                .expect_err("must fail"),
            KeyError::user("invalid base64 signature value")
        );
        // Odd lengths parse (Go splits at len/2) and are simply not valid.
        assert!(!r.verify(&[], &digest, "vault:v1:AAAA", &opts).expect("odd"));
    }

    #[test]
    fn derived_ed25519_signs_per_context_and_returns_the_public_key() {
        let r = ring(KeyType::Ed25519, true);
        let opts = SignOptions::new(HashAlg::Sha2_256);
        let (sig, public) = r.sign(0, b"ctx", b"message", &opts).expect("sign");
        let public = public.expect("derived public key");
        assert_eq!(public.len(), 32);
        assert!(r.verify(b"ctx", b"message", &sig, &opts).expect("verify"));
        assert!(!r.verify(b"other", b"message", &sig, &opts).expect("verify"));
        let (_, again) = r.sign(0, b"ctx", b"x", &opts).expect("sign");
        assert_eq!(
            again.as_deref(),
            Some(&public[..]),
            "same context, same key"
        );
        let err = r.sign(0, b"", b"message", &opts).expect_err("must fail");
        assert!(
            matches!(&err, KeyError::Internal(t) if t.starts_with("error deriving key: missing 'context'")),
            "{err:?}"
        );
        assert_eq!(
            super::super::asymmetric::ed25519_public_from_seed(
                &r.derive_key(b"ctx", 1, 32).expect("derive")
            )
            .expect("public"),
            general_purpose::STANDARD.encode(&public)
        );
    }

    #[test]
    fn rsa_options_reach_the_key() {
        let r = ring(KeyType::Rsa2048, false);
        let digest = HashAlg::Sha2_512.digest(b"m");
        let mut opts = SignOptions::new(HashAlg::Sha2_512);
        opts.padding = RsaPadding::Pkcs1v15;
        let (sig, _) = r.sign(0, &[], &digest, &opts).expect("sign");
        assert!(r.verify(&[], &digest, &sig, &opts).expect("verify"));
        opts.padding = RsaPadding::Pss;
        assert!(!r.verify(&[], &digest, &sig, &opts).expect("verify as pss"));
        opts.salt = SaltLength::Bytes(1000);
        assert_eq!(
            r.sign(0, &[], &digest, &opts).expect_err("must fail"),
            KeyError::user("requested salt length 1000 is invalid")
        );
        opts.salt = SaltLength::Auto;
        opts.unknown_padding = Some("foo".into());
        assert_eq!(
            r.sign(0, &[], &digest, &opts).expect_err("must fail"),
            KeyError::internal("unsupported rsa signature algorithm foo")
        );
    }

    #[test]
    fn public_only_versions_verify_but_do_not_sign() {
        let mut r = ring(KeyType::EcdsaP256, false);
        let digest = HashAlg::Sha2_256.digest(b"m");
        let opts = SignOptions::new(HashAlg::Sha2_256);
        let (sig, _) = r.sign(0, &[], &digest, &opts).expect("sign");
        let entry = r.policy.keys.get_mut("1").expect("v1");
        entry.ec_d = None;
        let r = KeyRing::new(r.policy.clone());
        assert!(r.verify(&[], &digest, &sig, &opts).expect("verify"));
        assert_eq!(
            r.sign(0, &[], &digest, &opts).expect_err("must fail"),
            KeyError::user("requested version for signing does not contain a private part")
        );
    }

    #[test]
    fn other_key_types_and_soft_deleted_keys() {
        let mut r = ring(KeyType::Aes256Gcm96, false);
        let opts = SignOptions::new(HashAlg::Sha2_256);
        assert_eq!(
            r.sign(0, &[], b"x", &opts).expect_err("must fail"),
            KeyError::internal("message signing not supported for key type aes256-gcm96")
        );
        assert_eq!(
            r.verify(&[], b"x", "vault:v1:AA==", &opts)
                .expect_err("must fail"),
            KeyError::user("message verification not supported for key type aes256-gcm96")
        );
        r.policy.soft_deleted = true;
        assert_eq!(
            r.sign(0, &[], b"x", &opts).expect_err("must fail"),
            KeyError::user(ERR_SOFT_DELETED)
        );
    }
}
