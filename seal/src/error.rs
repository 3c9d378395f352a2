//! The crate's one error type.
//!
//! Where OpenBao shows a message to API clients (Shamir parameters, seal configuration, unseal
//! keys, the static seal), the `Display` text here is OpenBao's, word for word, so the server can
//! pass it through. Callers match on variants, never on the text. No message ever contains key
//! bytes.

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while handling key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Key material was not exactly the length the cipher needs.
    #[error("key must be exactly {expected} bytes, got {actual}")]
    KeyLength {
        /// The length the key must have.
        expected: usize,
        /// The length that was given.
        actual: usize,
    },

    /// A sealed value is too short to hold the header, nonce and tag, so it was never produced
    /// by [`crate::aead::seal`].
    #[error("invalid ciphertext: {len} bytes is shorter than the minimum of {min}")]
    Truncated {
        /// The length of the value given.
        len: usize,
        /// The shortest value that can be valid.
        min: usize,
    },

    /// A sealed value carries a version byte this crate does not write.
    #[error("unsupported ciphertext version {0:#04x}")]
    UnsupportedVersion(u8),

    /// Authenticated decryption failed: wrong key, wrong path (AAD) or altered bytes. The three
    /// are deliberately indistinguishable. The text is Go's, which OpenBao shows to clients.
    #[error("cipher: message authentication failed")]
    Decrypt,

    /// A ciphertext names a keyring term that the keyring does not hold.
    #[error("no decryption key available for term {0}")]
    UnknownTerm(u32),

    /// A keyring decrypted under the root key but its contents are not a valid keyring.
    #[error("invalid keyring: {0}")]
    InvalidKeyring(String),

    /// Shamir split or combine rejected its input.
    #[error(transparent)]
    Shamir(#[from] ShamirError),

    /// A seal configuration is out of range. The server prefixes
    /// "invalid seal configuration: ".
    #[error(transparent)]
    SealConfig(#[from] SealConfigError),

    /// An unseal key (share) is shorter than any valid key or share.
    #[error("key is shorter than minimum {min} bytes")]
    KeyTooShort {
        /// The minimum length in bytes.
        min: usize,
    },

    /// An unseal key (share) is longer than any valid key or share.
    #[error("key is longer than maximum {max} bytes")]
    KeyTooLong {
        /// The maximum length in bytes.
        max: usize,
    },

    /// An unseal key sent to the API is neither hex nor standard base64.
    #[error("'key' must be a valid hex or base64 string")]
    InvalidKeyEncoding,

    /// The static seal's key identifiers and keys are inconsistent.
    #[error(transparent)]
    StaticSeal(#[from] StaticSealError),

    /// A wrapped blob carries no key identifier, so no static key can be chosen for it.
    #[error("empty key id")]
    EmptyKeyId,

    /// A wrapped blob names a key identifier that is neither the current nor the previous key.
    #[error("unknown key id for data: `{0}`")]
    UnknownKeyId(String),

    /// Static seal key material could not be resolved or decoded.
    #[error("static seal key from {origin}: {reason}")]
    KeyMaterial {
        /// Where the key was to come from (`env://VAR`, `file:///path` or "literal"); never the
        /// key itself.
        origin: String,
        /// What was wrong with it.
        reason: String,
    },
}

/// Why [`crate::shamir::split`] or [`crate::shamir::combine`] refused its input. The texts are
/// OpenBao's `sdk/helper/shamir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShamirError {
    /// `split` was asked for fewer parts than the threshold.
    #[error("parts cannot be less than threshold")]
    PartsLessThanThreshold,
    /// `split` was asked for more parts than there are nonzero x-coordinates.
    #[error("parts cannot exceed 255")]
    TooManyParts,
    /// `split` was asked for a threshold below two; one share would be the secret itself.
    #[error("threshold must be at least 2")]
    ThresholdTooSmall,
    /// `split` was asked for a threshold above 255.
    #[error("threshold cannot exceed 255")]
    ThresholdTooLarge,
    /// `split` was given an empty secret.
    #[error("cannot split an empty secret")]
    EmptySecret,
    /// `combine` was given fewer than two parts.
    #[error("less than two parts cannot be used to reconstruct the secret")]
    TooFewParts,
    /// `combine` was given parts too short to hold a y-byte and an x-coordinate.
    #[error("parts must be at least two bytes")]
    PartTooShort,
    /// `combine` was given parts of different lengths.
    #[error("all parts must be the same length")]
    LengthMismatch,
    /// `combine` was given two parts with the same x-coordinate.
    #[error("duplicate part detected")]
    DuplicatePart,
}

/// Why a seal configuration is invalid. The texts and the order they are checked in are
/// OpenBao's `SealConfig.Validate` and `ValidateRecovery`, except [`SealConfigError::Negative`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealConfigError {
    /// `secret_shares` is below one.
    #[error("shares must be at least one")]
    SharesTooFew,
    /// `secret_threshold` is below one.
    #[error("threshold must be at least one")]
    ThresholdTooFew,
    /// More than one share with a threshold of one would make every share the whole key.
    #[error("threshold must be greater than one for multiple shares")]
    ThresholdOneWithManyShares,
    /// `secret_shares` exceeds 255.
    #[error("shares must be less than 256")]
    SharesTooMany,
    /// `secret_threshold` exceeds 255.
    #[error("threshold must be less than 256")]
    ThresholdTooMany,
    /// `secret_threshold` exceeds `secret_shares`.
    #[error("threshold cannot be larger than shares")]
    ThresholdAboveShares,
    /// A recovery share count or threshold is negative. Coffer's own check and text: OpenBao's
    /// `ValidateRecovery` lets negative values through.
    #[error("shares and threshold cannot be negative")]
    Negative,
}

/// Why a static seal's keys were refused. The texts are OpenBao's static wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StaticSealError {
    /// `current_key_id` is empty.
    #[error("got empty current_key_id; please specify a permanent identifier for this key")]
    EmptyCurrentKeyId,
    /// `previous_key` is set but `previous_key_id` is empty.
    #[error(
        "got empty previous_key_id with non-empty previous_key; please specify the matching key identifier"
    )]
    EmptyPreviousKeyId,
    /// The two keys are equal but their identifiers differ.
    #[error("current and previous key material match with different key identifiers")]
    SameKeyDifferentIds,
    /// The two keys differ but share one identifier, so blobs could not be told apart.
    #[error("current and previous key material differs with same key identifiers")]
    DifferentKeysSameId,
}
