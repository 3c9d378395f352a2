//! Go's `*big.Int` as `encoding/json` writes it: a bare decimal number of any length. OpenBao
//! stores EC and RSA key material this way, in its policies and in its backups.
//!
//! Converted by hand rather than through num-bigint because these numbers are private keys:
//! every intermediate buffer here is wiped on drop, which num-bigint's are not.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use zeroize::{Zeroize, Zeroizing};

/// A non-negative integer, big-endian, without leading zero bytes. Wiped on drop.
#[derive(Clone, PartialEq, Eq, Default)]
pub(crate) struct BigNum(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for BigNum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material never reaches a log line.
        write!(f, "BigNum({} bytes)", self.0.len())
    }
}

impl BigNum {
    pub(crate) fn from_be(bytes: &[u8]) -> Self {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        Self(Zeroizing::new(bytes[start..].to_vec()))
    }

    pub(crate) fn be(&self) -> &[u8] {
        &self.0
    }

    /// Left-padded with zeros to `len` bytes (`None` if it does not fit).
    pub(crate) fn be_padded(&self, len: usize) -> Option<Zeroizing<Vec<u8>>> {
        if self.0.len() > len {
            return None;
        }
        let mut out = Zeroizing::new(vec![0u8; len]);
        out[len - self.0.len()..].copy_from_slice(&self.0);
        Some(out)
    }

    /// From decimal digits; `None` if anything but digits is there.
    pub(crate) fn from_decimal(digits: &str) -> Option<Self> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Little-endian base-2^32 limbs; multiply by 10 and add each digit.
        let mut limbs: Zeroizing<Vec<u32>> =
            Zeroizing::new(Vec::with_capacity(digits.len() / 9 + 1));
        for d in digits.bytes() {
            let mut carry = u64::from(d - b'0');
            for limb in limbs.iter_mut() {
                let v = u64::from(*limb) * 10 + carry;
                *limb = v as u32;
                carry = v >> 32;
            }
            if carry != 0 {
                limbs.push(carry as u32);
            }
        }
        let mut be = Zeroizing::new(Vec::with_capacity(limbs.len() * 4));
        for limb in limbs.iter().rev() {
            be.extend_from_slice(&limb.to_be_bytes());
        }
        Some(Self::from_be(&be))
    }

    pub(crate) fn to_decimal(&self) -> Zeroizing<String> {
        // Big-endian base-2^32 limbs, divided by 10^9 until nothing is left.
        let mut limbs: Zeroizing<Vec<u32>> =
            Zeroizing::new(Vec::with_capacity(self.0.len() / 4 + 1));
        let pad = (4 - self.0.len() % 4) % 4;
        let mut padded = Zeroizing::new(vec![0u8; pad]);
        padded.extend_from_slice(&self.0);
        for chunk in padded.chunks(4) {
            limbs.push(u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
        }
        let mut groups: Zeroizing<Vec<u32>> = Zeroizing::new(Vec::new());
        while limbs.iter().any(|l| *l != 0) {
            let mut rem = 0u64;
            for limb in limbs.iter_mut() {
                let v = (rem << 32) | u64::from(*limb);
                *limb = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            groups.push(rem as u32);
        }
        let mut out = Zeroizing::new(String::with_capacity(groups.len() * 9 + 1));
        match groups.split_last() {
            None => out.push('0'),
            Some((top, rest)) => {
                out.push_str(&Zeroizing::new(top.to_string()));
                for g in rest.iter().rev() {
                    out.push_str(&Zeroizing::new(format!("{g:09}")));
                }
            }
        }
        out
    }
}

impl Serialize for BigNum {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut digits = self.to_decimal();
        let raw = RawValue::from_string(std::mem::take(&mut *digits))
            .map_err(serde::ser::Error::custom)?;
        let out = raw.serialize(s);
        // RawValue owns the digits now; wipe them before its buffer is freed.
        let mut boxed: Box<str> = raw.into();
        boxed.zeroize();
        out
    }
}

impl<'de> Deserialize<'de> for BigNum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <Box<RawValue>>::deserialize(d)?;
        let parsed = Self::from_decimal(raw.get().trim());
        let mut boxed: Box<str> = raw.into();
        boxed.zeroize();
        parsed.ok_or_else(|| serde::de::Error::custom("expected a non-negative integer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;

    #[test]
    fn decimal_round_trips_agree_with_num_bigint() {
        let samples = [
            "0",
            "1",
            "255",
            "256",
            "4294967295",
            "4294967296",
            "1000000000",
            "999999999999999999999",
            "115792089210356248762697446949407573529996955224135760342422259061068512044369",
        ];
        for s in samples {
            let n = BigNum::from_decimal(s).expect("digits");
            let want = BigUint::parse_bytes(s.as_bytes(), 10).expect("num-bigint");
            let want_be = if want == BigUint::default() {
                Vec::new()
            } else {
                want.to_bytes_be()
            };
            assert_eq!(n.be(), &want_be[..], "{s}");
            assert_eq!(&*n.to_decimal(), s);
        }
        // Random byte strings one way round too.
        for len in [1usize, 7, 32, 66, 257, 512] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let n = BigNum::from_be(&bytes);
            assert_eq!(
                &*n.to_decimal(),
                &BigUint::from_bytes_be(&bytes).to_str_radix(10)
            );
        }
        assert!(BigNum::from_decimal("-1").is_none());
        assert!(BigNum::from_decimal("1e5").is_none());
        assert!(BigNum::from_decimal("").is_none());
    }

    #[test]
    fn json_numbers_of_any_length() {
        let json = r#"{"d":123456789012345678901234567890123456789,"n":null}"#;
        #[derive(Deserialize, Serialize)]
        struct T {
            d: BigNum,
            n: Option<BigNum>,
        }
        let t: T = serde_json::from_str(json).expect("parse");
        assert_eq!(
            &*t.d.to_decimal(),
            "123456789012345678901234567890123456789"
        );
        assert!(t.n.is_none());
        assert_eq!(serde_json::to_string(&t).expect("encode"), json);
        assert!(serde_json::from_str::<T>(r#"{"d":"12","n":null}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"d":-12,"n":null}"#).is_err());
    }
}
