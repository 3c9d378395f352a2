//! Shamir secret sharing in OpenBao's share format; the arithmetic is `blahaj`'s.
//!
//! A share is the y-bytes (one per secret byte) followed by the x-coordinate as the last byte,
//! so a 32-byte key gives 33-byte shares, as OpenBao's `sys/init` hands them out. `blahaj`
//! puts x first; we convert at this boundary and nowhere else.
//!
//! Two differences from OpenBao's own implementation, neither visible through the API:
//! `blahaj` works in GF(2⁸) modulo 0x11D where OpenBao uses the AES polynomial 0x11B, so shares
//! are not interchangeable between the two servers (their storage is not either); and `blahaj`
//! always evaluates at x = 1, 2, 3, …, so we evaluate all 255 points and hand out a random
//! sample, which gives OpenBao's "distinct x from a shuffled 1..=255".
//!
//! Parameter checks, their order and their messages are OpenBao's `sdk/helper/shamir`.

use blahaj::{Share, Sharks};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use crate::error::{Result, ShamirError};

/// Every nonzero x-coordinate; x = 0 would be the secret itself.
const MAX_PARTS: usize = 255;

/// Splits `secret` into `parts` shares, any `threshold` of which recover it.
///
/// # Errors
///
/// [`ShamirError`] (wrapped in [`crate::Error::Shamir`]) unless `2 <= threshold <= parts <= 255`
/// and `secret` is non-empty.
pub fn split(secret: &[u8], parts: usize, threshold: usize) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    if parts < threshold {
        return Err(ShamirError::PartsLessThanThreshold.into());
    }
    if parts > MAX_PARTS {
        return Err(ShamirError::TooManyParts.into());
    }
    if threshold < 2 {
        return Err(ShamirError::ThresholdTooSmall.into());
    }
    let Ok(threshold) = u8::try_from(threshold) else {
        return Err(ShamirError::ThresholdTooLarge.into());
    };
    if secret.is_empty() {
        return Err(ShamirError::EmptySecret.into());
    }

    let every_point: Vec<Share> = Sharks(threshold).dealer(secret).take(MAX_PARTS).collect();
    let chosen = rand::seq::index::sample(&mut OsRng, MAX_PARTS, parts);
    Ok(chosen
        .iter()
        .map(|i| to_openbao_layout(&every_point[i]))
        .collect())
}

/// Recovers the secret from shares made by [`split`].
///
/// Shares from different splits, or too few shares, do not fail here: they interpolate to a
/// wrong secret, which only the AEAD that the secret unlocks can detect.
///
/// # Errors
///
/// [`ShamirError`] (wrapped in [`crate::Error::Shamir`]) for fewer than two parts, parts
/// shorter than two bytes, parts of unequal length, or two parts with the same x-coordinate.
pub fn combine(parts: &[Zeroizing<Vec<u8>>]) -> Result<Zeroizing<Vec<u8>>> {
    if parts.len() < 2 {
        return Err(ShamirError::TooFewParts.into());
    }
    let len = parts[0].len();
    if len < 2 {
        return Err(ShamirError::PartTooShort.into());
    }
    if parts.iter().any(|part| part.len() != len) {
        return Err(ShamirError::LengthMismatch.into());
    }
    let mut seen = [false; 256];
    for part in parts {
        let x = usize::from(part[len - 1]);
        if seen[x] {
            return Err(ShamirError::DuplicatePart.into());
        }
        seen[x] = true;
    }

    let shares = parts
        .iter()
        .map(|part| from_openbao_layout(part))
        .collect::<Result<Vec<Share>>>()?;
    // Distinct x and equal lengths are checked above, which is everything `recover` checks
    // beyond the threshold; two is the least we accept.
    let secret = Sharks(2)
        .recover(&shares)
        .map_err(|_| ShamirError::TooFewParts)?;
    Ok(Zeroizing::new(secret))
}

/// `y… ‖ x` from blahaj's share.
fn to_openbao_layout(share: &Share) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(share.y.len() + 1));
    out.extend(share.y.iter().map(|y| y.0));
    out.push(share.x.0);
    out
}

/// blahaj's share from `y… ‖ x`. Its byte form is `x ‖ y…`, and its field type cannot be named
/// from outside the crate, so we go through that.
fn from_openbao_layout(part: &[u8]) -> Result<Share> {
    let (x, ys) = part.split_last().ok_or(ShamirError::PartTooShort)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(part.len()));
    bytes.push(*x);
    bytes.extend_from_slice(ys);
    Share::try_from(&bytes[..]).map_err(|_| ShamirError::PartTooShort.into())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::sample::subsequence;

    use super::*;
    use crate::Error;

    fn shamir_err(result: Result<impl Sized>) -> String {
        match result {
            Err(Error::Shamir(e)) => e.to_string(),
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("expected an error"),
        }
    }

    #[test]
    fn split_errors_in_openbao_order() {
        let secret = [1u8; 32];
        assert_eq!(
            shamir_err(split(&secret, 2, 3)),
            "parts cannot be less than threshold"
        );
        assert_eq!(
            shamir_err(split(&secret, 256, 3)),
            "parts cannot exceed 255"
        );
        assert_eq!(
            shamir_err(split(&secret, 256, 300)),
            "parts cannot be less than threshold"
        );
        assert_eq!(
            shamir_err(split(&secret, 3, 1)),
            "threshold must be at least 2"
        );
        assert_eq!(shamir_err(split(&[], 3, 1)), "threshold must be at least 2");
        assert_eq!(shamir_err(split(&[], 3, 2)), "cannot split an empty secret");
        // parts > 255 is reported first, so "threshold cannot exceed 255" is unreachable with
        // parts >= threshold; keep the check anyway, as OpenBao does.
        assert!(split(&secret, 255, 255).is_ok());
    }

    #[test]
    fn combine_errors() {
        let z = |v: &[u8]| Zeroizing::new(v.to_vec());
        assert_eq!(
            shamir_err(combine(&[z(&[1, 2])])),
            "less than two parts cannot be used to reconstruct the secret"
        );
        assert_eq!(
            shamir_err(combine(&[z(&[1]), z(&[2])])),
            "parts must be at least two bytes"
        );
        assert_eq!(
            shamir_err(combine(&[z(&[1, 2]), z(&[2, 3, 4])])),
            "all parts must be the same length"
        );
        assert_eq!(
            shamir_err(combine(&[z(&[1, 2]), z(&[3, 2])])),
            "duplicate part detected"
        );
    }

    #[test]
    fn x_coordinates_are_shuffled() {
        // With 3 of 255 points chosen at random, always getting x = 1, 2, 3 in order 20 times
        // running has probability ~ (1/2.7e6)^20.
        let orderly = (0..20).all(|_| {
            let shares = split(&[9; 4], 3, 2).unwrap();
            shares.iter().map(|s| s[4]).collect::<Vec<_>>() == [1, 2, 3]
        });
        assert!(!orderly);
    }

    fn case() -> impl Strategy<Value = ([u8; 32], usize, usize)> {
        (any::<[u8; 32]>(), 2usize..=10)
            .prop_flat_map(|(secret, n)| (Just(secret), Just(n), 2usize..=n))
    }

    proptest! {
        #[test]
        fn any_threshold_subset_recovers(
            ((secret, n, k), pick) in case().prop_flat_map(|(s, n, k)| {
                (Just((s, n, k)), subsequence((0..n).collect::<Vec<_>>(), k..=n))
            }),
        ) {
            let shares = split(&secret, n, k).unwrap();
            prop_assert_eq!(shares.len(), n);
            let mut xs = std::collections::BTreeSet::new();
            for share in &shares {
                prop_assert_eq!(share.len(), secret.len() + 1);
                let x = share[secret.len()];
                prop_assert_ne!(x, 0);
                prop_assert!(xs.insert(x));
            }
            let subset: Vec<_> = pick.iter().map(|&i| shares[i].clone()).collect();
            prop_assert_eq!(&combine(&subset).unwrap()[..], &secret[..]);
        }

        #[test]
        fn fewer_than_threshold_does_not_recover(
            ((secret, n, k), pick) in case().prop_flat_map(|(s, n, k)| {
                (Just((s, n, k)), subsequence((0..n).collect::<Vec<_>>(), k - 1))
            }),
        ) {
            let shares = split(&secret, n, k).unwrap();
            let subset: Vec<_> = pick.iter().map(|&i| shares[i].clone()).collect();
            match combine(&subset) {
                // Below the threshold a wrong secret is as likely as any other: 2^-256 to hit.
                Ok(got) => prop_assert_ne!(&got[..], &secret[..]),
                Err(e) => prop_assert!(k - 1 < 2, "unexpected error {e}"),
            }
        }
    }
}
