//! OpenBao's stored policy (`keysutil.Policy`) and backup (`keysutil.KeyData`) as JSON,
//! field for field, so a backup taken by either server restores into the other and a policy
//! reads the same. Go's `encoding/json` conventions: `[]byte` is standard base64 or `null`,
//! `*big.Int` a bare decimal number, `time.Time` RFC 3339 with nanoseconds,
//! `time.Duration` integer nanoseconds.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::bignum::BigNum;
use super::kind::KeyType;

/// Secret bytes as Go's `[]byte`: base64 in JSON, `null` when absent. Wiped on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Bytes(pub(crate) Option<Zeroizing<Vec<u8>>>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(b) => write!(f, "Bytes({} bytes)", b.len()),
            None => f.write_str("Bytes(null)"),
        }
    }
}

impl Bytes {
    pub(crate) fn new(b: Vec<u8>) -> Self {
        Self(Some(Zeroizing::new(b)))
    }
    pub(crate) fn get(&self) -> &[u8] {
        self.0.as_deref().map(Vec::as_slice).unwrap_or(&[])
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.get().is_empty()
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            None => s.serialize_none(),
            Some(b) => {
                let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(b));
                s.serialize_str(&text)
            }
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        match text.map(Zeroizing::new) {
            None => Ok(Self(None)),
            Some(t) => base64::engine::general_purpose::STANDARD
                .decode(t.as_bytes())
                .map(|b| Self(Some(Zeroizing::new(b))))
                .map_err(|_| serde::de::Error::custom("invalid base64 in key material")),
        }
    }
}

/// Go's `time.Time`: RFC 3339 with nanoseconds; the zero time is year 1.
pub(crate) mod go_time {
    use super::*;

    pub(crate) fn zero() -> OffsetDateTime {
        time::macros::datetime!(0001-01-01 00:00:00 UTC)
    }

    pub(crate) fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::engine::rfc3339_nano(*t))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
            .map_err(|e| serde::de::Error::custom(format!("invalid time {text:?}: {e}")))
    }
}

fn zero_time() -> OffsetDateTime {
    go_time::zero()
}

/// Go's `rsa.PublicKey`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RsaPublic {
    #[serde(rename = "N")]
    pub(crate) n: BigNum,
    #[serde(rename = "E")]
    pub(crate) e: i64,
}

/// Go's `rsa.PrecomputedValues` (its exported fields).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RsaPrecomputed {
    #[serde(rename = "Dp", default)]
    pub(crate) dp: Option<BigNum>,
    #[serde(rename = "Dq", default)]
    pub(crate) dq: Option<BigNum>,
    #[serde(rename = "Qinv", default)]
    pub(crate) qinv: Option<BigNum>,
    /// Multi-prime keys only; OpenBao never makes them. Kept as found.
    #[serde(rename = "CRTValues", default)]
    pub(crate) crt_values: Option<Vec<serde_json::Value>>,
}

/// Go's `rsa.PrivateKey`: the embedded public key's fields sit at the top level.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RsaPrivate {
    #[serde(rename = "N")]
    pub(crate) n: BigNum,
    #[serde(rename = "E")]
    pub(crate) e: i64,
    #[serde(rename = "D")]
    pub(crate) d: BigNum,
    #[serde(rename = "Primes")]
    pub(crate) primes: Vec<BigNum>,
    #[serde(rename = "Precomputed", default)]
    pub(crate) precomputed: RsaPrecomputed,
}

/// One key version (`keysutil.KeyEntry`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KeyEntry {
    /// Symmetric keys, HMAC keys, and ed25519's 64-byte private key (seed ‖ public).
    #[serde(default)]
    pub(crate) key: Bytes,
    /// The version's separate HMAC key (for `hmac` keys, the key itself).
    #[serde(default)]
    pub(crate) hmac_key: Bytes,
    #[serde(with = "go_time", default = "zero_time")]
    pub(crate) time: OffsetDateTime,
    #[serde(default)]
    pub(crate) ec_x: Option<BigNum>,
    #[serde(default)]
    pub(crate) ec_y: Option<BigNum>,
    #[serde(default)]
    pub(crate) ec_d: Option<BigNum>,
    #[serde(default)]
    pub(crate) rsa_key: Option<RsaPrivate>,
    #[serde(default)]
    pub(crate) rsa_public_key: Option<RsaPublic>,
    /// PEM (ECDSA, RSA) or base64 (ed25519) public key; empty for symmetric types.
    #[serde(default)]
    pub(crate) public_key: String,
    #[serde(default)]
    pub(crate) convergent_version: i64,
    /// Unix seconds; OpenBao still fills it beside `time`.
    #[serde(default)]
    pub(crate) creation_time: i64,
    #[serde(default)]
    pub(crate) certificate_chain: Option<Vec<Bytes>>,
    #[serde(default)]
    pub(crate) external_key_ref: String,
}

impl KeyEntry {
    /// A version created now, with nothing in it yet.
    pub(crate) fn new(now: OffsetDateTime) -> Self {
        Self {
            key: Bytes::default(),
            hmac_key: Bytes::default(),
            time: now,
            ec_x: None,
            ec_y: None,
            ec_d: None,
            rsa_key: None,
            rsa_public_key: None,
            public_key: String::new(),
            convergent_version: 0,
            creation_time: now.unix_timestamp(),
            certificate_chain: None,
            external_key_ref: String::new(),
        }
    }

    /// `IsPrivateKeyMissing`.
    pub(crate) fn private_key_missing(&self) -> bool {
        self.rsa_key.is_none() && self.ec_d.is_none() && self.key.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OpInfo {
    #[serde(with = "go_time")]
    pub(crate) time: OffsetDateTime,
    pub(crate) version: i64,
}

/// The stored policy (`keysutil.Policy`), in OpenBao's field order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Policy {
    pub(crate) name: String,
    /// The pre-versioning single key; upgraded into `keys["1"]` on load.
    #[serde(default, skip_serializing_if = "Bytes::is_empty")]
    pub(crate) key: Bytes,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) key_size: i64,
    #[serde(default)]
    pub(crate) keys: BTreeMap<String, KeyEntry>,
    #[serde(default)]
    pub(crate) derived: bool,
    #[serde(default)]
    pub(crate) kdf: i64,
    #[serde(default)]
    pub(crate) convergent_encryption: bool,
    #[serde(default)]
    pub(crate) exportable: bool,
    #[serde(default)]
    pub(crate) min_decryption_version: i64,
    #[serde(default)]
    pub(crate) min_encryption_version: i64,
    #[serde(default)]
    pub(crate) latest_version: i64,
    #[serde(default)]
    pub(crate) archive_version: i64,
    #[serde(default)]
    pub(crate) archive_min_version: i64,
    #[serde(default)]
    pub(crate) min_available_version: i64,
    #[serde(default)]
    pub(crate) deletion_allowed: bool,
    #[serde(default)]
    pub(crate) convergent_version: i64,
    #[serde(rename = "type")]
    pub(crate) kind: KeyType,
    #[serde(default)]
    pub(crate) backup_info: Option<OpInfo>,
    #[serde(default)]
    pub(crate) restore_info: Option<OpInfo>,
    #[serde(default)]
    pub(crate) allow_plaintext_backup: bool,
    #[serde(default)]
    pub(crate) version_template: String,
    #[serde(default)]
    pub(crate) storage_prefix: String,
    /// Nanoseconds, as Go's `time.Duration`.
    #[serde(default)]
    pub(crate) auto_rotate_period: i64,
    #[serde(rename = "Imported", default)]
    pub(crate) imported: bool,
    #[serde(rename = "AllowImportedKeyRotation", default)]
    pub(crate) allow_imported_key_rotation: bool,
    #[serde(default)]
    pub(crate) soft_deleted: bool,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// Every version ever made, from `archive_min_version` on (`archivedKeys`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Archive {
    #[serde(default)]
    pub(crate) keys: Vec<KeyEntry>,
}

/// A backup: the policy and its archive (`keysutil.KeyData`), JSON then base64.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct KeyData {
    pub(crate) policy: Option<Policy>,
    pub(crate) archived_keys: Option<Archive>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A policy as OpenBao 2.7.2 stores it (an aes256-gcm96 key, one version).
    const OPENBAO_AES: &str = r#"{"name":"k","keys":{"1":{"key":"3q2+7w3q2+7w3q2+7w3q2+7w3q2+7w3q2+7w3q2+7w0=","hmac_key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","time":"2026-12-02T19:00:50.123456789Z","ec_x":null,"ec_y":null,"ec_d":null,"rsa_key":null,"rsa_public_key":null,"public_key":"","convergent_version":0,"creation_time":1796238050,"certificate_chain":null,"external_key_ref":""}},"derived":false,"kdf":0,"convergent_encryption":false,"exportable":false,"min_decryption_version":1,"min_encryption_version":0,"latest_version":1,"archive_version":1,"archive_min_version":0,"min_available_version":0,"deletion_allowed":false,"convergent_version":0,"type":0,"backup_info":null,"restore_info":null,"allow_plaintext_backup":false,"version_template":"","storage_prefix":"","auto_rotate_period":0,"Imported":false,"AllowImportedKeyRotation":false,"soft_deleted":false}"#;

    #[test]
    fn openbao_policy_json_round_trips_byte_for_byte() {
        let p: Policy = serde_json::from_str(OPENBAO_AES).expect("parse");
        assert_eq!(p.kind, KeyType::Aes256Gcm96);
        assert_eq!(p.keys["1"].key.get().len(), 32);
        assert_eq!(p.keys["1"].time.nanosecond(), 123_456_789);
        assert_eq!(serde_json::to_string(&p).expect("encode"), OPENBAO_AES);
    }

    #[test]
    fn rsa_private_key_in_go_shape() {
        let json = r#"{"N":3233,"E":17,"D":413,"Primes":[61,53],"Precomputed":{"Dp":53,"Dq":49,"Qinv":38,"CRTValues":[]}}"#;
        let k: RsaPrivate = serde_json::from_str(json).expect("parse");
        assert_eq!(k.n.be(), &3233u16.to_be_bytes());
        assert_eq!(k.primes.len(), 2);
        assert_eq!(serde_json::to_string(&k).expect("encode"), json);
    }

    #[test]
    fn secrets_do_not_reach_debug_output() {
        let p: Policy = serde_json::from_str(OPENBAO_AES).expect("parse");
        let shown = format!("{p:?}");
        assert!(!shown.contains("3q2+7w"), "{shown}");
        assert!(shown.contains("Bytes(32 bytes)"));
    }
}
