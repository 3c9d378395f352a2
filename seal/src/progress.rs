//! [`UnsealProgress`]: the unseal shares gathered so far, and [`parse_share`] for the key text
//! a client sends to `sys/unseal`.
//!
//! Pure and in memory: nothing here is persisted or shared between nodes, just as OpenBao's
//! unseal progress is per node. The server holds one of these while sealed and hands the
//! combined key to a [`crate::wrapper::ShamirWrapper`]; a wrong combination is only discovered
//! there, when the stored keys fail to decrypt.

use std::fmt;

use base64::Engine;
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::key::{Key, GO_STD_BASE64};
use crate::shamir;

/// Shortest unseal key or share OpenBao accepts: an AES-128 key.
const MIN_KEY_LEN: usize = 16;
/// Longest unseal key or share: an AES-256 key plus the share's x-coordinate.
const MAX_KEY_LEN: usize = Key::LEN + 1;

/// What [`UnsealProgress::submit`] did with a share.
pub enum Submitted {
    /// More shares are needed; `progress` are held.
    Pending {
        /// Distinct shares held so far.
        progress: usize,
    },
    /// The threshold was met: the combined key-encryption key. Progress has been reset.
    Complete(Zeroizing<Vec<u8>>),
}

impl fmt::Debug for Submitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Submitted::Pending { progress } => f
                .debug_struct("Pending")
                .field("progress", progress)
                .finish(),
            Submitted::Complete(_) => f.write_str("Complete([REDACTED])"),
        }
    }
}

/// Unseal shares gathered towards a threshold.
pub struct UnsealProgress {
    threshold: usize,
    parts: Vec<Zeroizing<Vec<u8>>>,
    /// UUID of the current attempt, shown by `sys/seal-status`; empty when no shares are held.
    nonce: String,
}

impl UnsealProgress {
    /// Empty progress towards `threshold` shares. A threshold of 1 (one share, the
    /// `secret_shares = 1` case) means the single key sent *is* the key; 0 is treated as 1.
    pub fn new(threshold: usize) -> Self {
        UnsealProgress {
            threshold: threshold.max(1),
            parts: Vec::new(),
            nonce: String::new(),
        }
    }

    /// Adds one share.
    ///
    /// The first share of an attempt starts it with a fresh UUID nonce. A share equal to one
    /// already held changes nothing and is not an error, as in OpenBao. When the threshold is
    /// met the shares are combined and progress resets, whether or not combining succeeds.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooShort`] / [`Error::KeyTooLong`] for a share outside 16..=33 bytes
    /// (progress is kept); [`Error::Shamir`] if the shares cannot be combined (progress is
    /// reset).
    pub fn submit(&mut self, share: Zeroizing<Vec<u8>>) -> Result<Submitted> {
        if share.len() < MIN_KEY_LEN {
            return Err(Error::KeyTooShort { min: MIN_KEY_LEN });
        }
        if share.len() > MAX_KEY_LEN {
            return Err(Error::KeyTooLong { max: MAX_KEY_LEN });
        }

        if self.parts.is_empty() {
            self.nonce = uuid::Uuid::new_v4().to_string();
        }
        // Look at every held share, so the time taken does not say which one matched.
        let seen = self.parts.iter().fold(Choice::from(0), |seen, part| {
            seen | part[..].ct_eq(&share[..])
        });
        if bool::from(seen) {
            return Ok(self.pending());
        }
        self.parts.push(share);
        if self.parts.len() < self.threshold {
            return Ok(self.pending());
        }

        let mut parts = std::mem::take(&mut self.parts);
        self.reset();
        if self.threshold == 1 {
            // `new` makes the threshold at least 1, and we just pushed, so one part is there.
            return Ok(Submitted::Complete(parts.swap_remove(0)));
        }
        shamir::combine(&parts).map(Submitted::Complete)
    }

    /// Distinct shares held.
    pub fn progress(&self) -> usize {
        self.parts.len()
    }

    /// Shares needed.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The current attempt's nonce; `""` when no shares are held.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// Drops every held share and the nonce.
    pub fn reset(&mut self) {
        self.parts.clear();
        self.nonce.clear();
    }

    fn pending(&self) -> Submitted {
        Submitted::Pending {
            progress: self.parts.len(),
        }
    }
}

impl fmt::Debug for UnsealProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnsealProgress")
            .field("threshold", &self.threshold)
            .field("progress", &self.parts.len())
            .field("nonce", &self.nonce)
            .finish()
    }
}

/// Parses an unseal key as sent to `sys/unseal`: hex first, then standard base64.
///
/// As in OpenBao, hex that decodes to a length no key or share can have (outside 16..=33
/// bytes) is retried as base64, since a base64 string can also be valid hex. The length of the
/// result is checked by [`UnsealProgress::submit`], not here.
///
/// # Errors
///
/// [`Error::InvalidKeyEncoding`] ("'key' must be a valid hex or base64 string").
pub fn parse_share(s: &str) -> Result<Zeroizing<Vec<u8>>> {
    if let Ok(bytes) = hex::decode(s) {
        let bytes = Zeroizing::new(bytes);
        if (MIN_KEY_LEN..=MAX_KEY_LEN).contains(&bytes.len()) {
            return Ok(bytes);
        }
    }
    GO_STD_BASE64
        .decode(s)
        .map(Zeroizing::new)
        .map_err(|_| Error::InvalidKeyEncoding)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::wrapper::{KeyWrapper, ShamirWrapper};

    fn complete(result: Result<Submitted>) -> Zeroizing<Vec<u8>> {
        match result {
            Ok(Submitted::Complete(key)) => key,
            other => panic!("expected Complete, got {other:?}"),
        }
    }

    fn pending(result: Result<Submitted>) -> usize {
        match result {
            Ok(Submitted::Pending { progress }) => progress,
            other => panic!("expected Pending, got {other:?}"),
        }
    }

    #[test]
    fn two_of_three() {
        let kek = Key::generate();
        let shares = shamir::split(kek.as_bytes(), 3, 2).unwrap();
        let mut progress = UnsealProgress::new(2);
        assert_eq!((progress.progress(), progress.nonce()), (0, ""));

        assert_eq!(pending(progress.submit(shares[2].clone())), 1);
        let nonce = progress.nonce().to_owned();
        assert_eq!(uuid::Uuid::parse_str(&nonce).unwrap().get_version_num(), 4);

        let key = complete(progress.submit(shares[0].clone()));
        assert_eq!(&key[..], kek.as_bytes());
        assert_eq!((progress.progress(), progress.nonce()), (0, ""));

        // A new attempt gets a new nonce.
        pending(progress.submit(shares[1].clone()));
        assert_ne!(progress.nonce(), nonce);
    }

    #[test]
    fn duplicate_share_does_not_advance() {
        let shares = shamir::split(&[3; 32], 5, 3).unwrap();
        let mut progress = UnsealProgress::new(3);
        assert_eq!(pending(progress.submit(shares[0].clone())), 1);
        let nonce = progress.nonce().to_owned();
        assert_eq!(pending(progress.submit(shares[0].clone())), 1);
        assert_eq!(pending(progress.submit(shares[1].clone())), 2);
        assert_eq!(pending(progress.submit(shares[1].clone())), 2);
        assert_eq!(progress.nonce(), nonce);
        assert_eq!(&complete(progress.submit(shares[4].clone()))[..], &[3; 32]);
    }

    #[test]
    fn reset_clears_progress_and_nonce() {
        let shares = shamir::split(&[3; 32], 3, 3).unwrap();
        let mut progress = UnsealProgress::new(3);
        pending(progress.submit(shares[0].clone()));
        pending(progress.submit(shares[1].clone()));
        progress.reset();
        assert_eq!((progress.progress(), progress.nonce()), (0, ""));
        assert_eq!(pending(progress.submit(shares[2].clone())), 1);
    }

    #[test]
    fn threshold_one_returns_the_key_itself() {
        let kek = Key::generate();
        let mut progress = UnsealProgress::new(1);
        let key = complete(progress.submit(Zeroizing::new(kek.as_bytes().to_vec())));
        assert_eq!(&key[..], kek.as_bytes());
        assert_eq!((progress.progress(), progress.nonce()), (0, ""));
    }

    #[test]
    fn length_is_checked_without_losing_progress() {
        let shares = shamir::split(&[3; 32], 3, 2).unwrap();
        let mut progress = UnsealProgress::new(2);
        pending(progress.submit(shares[0].clone()));
        let short = progress.submit(Zeroizing::new(vec![1; 15])).unwrap_err();
        assert_eq!(short.to_string(), "key is shorter than minimum 16 bytes");
        let long = progress.submit(Zeroizing::new(vec![1; 34])).unwrap_err();
        assert_eq!(long.to_string(), "key is longer than maximum 33 bytes");
        assert_eq!(progress.progress(), 1);
    }

    #[test]
    fn combine_error_resets() {
        let mut progress = UnsealProgress::new(2);
        pending(progress.submit(Zeroizing::new(vec![1; 33])));
        let err = progress.submit(Zeroizing::new(vec![2; 32])).unwrap_err();
        assert_eq!(err.to_string(), "all parts must be the same length");
        assert_eq!((progress.progress(), progress.nonce()), (0, ""));

        // Same x-coordinate, different y: distinct shares, but not combinable.
        pending(progress.submit(Zeroizing::new(vec![1; 33])));
        let mut other = vec![2; 33];
        other[32] = 1;
        let err = progress.submit(Zeroizing::new(other)).unwrap_err();
        assert_eq!(err.to_string(), "duplicate part detected");
        assert_eq!(progress.progress(), 0);
    }

    #[test]
    fn wrong_shares_give_a_key_that_fails_to_unwrap() {
        let kek = Key::generate();
        let wrapped = ShamirWrapper::new(kek.clone())
            .wrap(Key::generate().as_bytes())
            .unwrap();

        // Shares of some other key, and a mix of the right and wrong splits.
        let right = shamir::split(kek.as_bytes(), 3, 2).unwrap();
        let wrong = shamir::split(Key::generate().as_bytes(), 3, 2).unwrap();
        let mut attempts = vec![[wrong[0].clone(), wrong[1].clone()]];
        if let Some(w) = wrong.iter().find(|w| w[32] != right[0][32]) {
            attempts.push([right[0].clone(), w.clone()]);
        }
        for [a, b] in attempts {
            let mut progress = UnsealProgress::new(2);
            pending(progress.submit(a));
            let combined = complete(progress.submit(b));
            let err = ShamirWrapper::new(Key::from_slice(&combined).unwrap())
                .unwrap(&wrapped)
                .unwrap_err();
            assert_eq!(err.to_string(), "cipher: message authentication failed");
        }

        let mut progress = UnsealProgress::new(2);
        pending(progress.submit(right[1].clone()));
        let combined = complete(progress.submit(right[2].clone()));
        assert!(ShamirWrapper::new(Key::from_slice(&combined).unwrap())
            .unwrap(&wrapped)
            .is_ok());
    }

    #[test]
    fn parse_share_hex_then_base64() {
        let bytes: Vec<u8> = (0..33).collect();
        assert_eq!(&parse_share(&hex::encode(&bytes)).unwrap()[..], &bytes[..]);
        assert_eq!(
            &parse_share(&hex::encode_upper(&bytes)).unwrap()[..],
            &bytes[..]
        );
        assert_eq!(
            &parse_share(&STANDARD.encode(&bytes)).unwrap()[..],
            &bytes[..]
        );

        // 32 hex digits of valid base64 decode as hex (16 bytes is a valid length) ...
        let digits = "00112233445566778899aabbccddeeff";
        assert_eq!(parse_share(digits).unwrap().len(), 16);
        // ... but 8 hex digits (4 bytes, too short for a key) are retried as base64.
        assert_eq!(parse_share("0011aabb").unwrap().len(), 6);

        for garbage in ["not a key!", "zz", "abc", "QUJD=", "QUJDRA"] {
            let err = parse_share(garbage).unwrap_err();
            assert_eq!(
                err.to_string(),
                "'key' must be a valid hex or base64 string"
            );
        }
    }

    #[test]
    fn debug_is_redacted() {
        let mut progress = UnsealProgress::new(1);
        let done = progress.submit(Zeroizing::new(vec![0x41; 32])).unwrap();
        assert_eq!(format!("{done:?}"), "Complete([REDACTED])");
        let mut progress = UnsealProgress::new(2);
        pending(progress.submit(Zeroizing::new(vec![0x41; 32])));
        assert!(!format!("{progress:?}").contains("65, 65"));
    }
}
