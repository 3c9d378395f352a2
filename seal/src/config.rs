//! [`SealConfig`]: the seal configuration the server keeps in plaintext at `core/seal-config`.
//!
//! It holds no key material; it is readable while sealed so `sys/seal-status` can report the
//! share count and threshold. The same shape describes recovery keys under an auto-unseal.
//! Range checks follow OpenBao's `SealConfig.Validate` and `ValidateRecovery`.

use serde::{Deserialize, Serialize};

use crate::error::{Result, SealConfigError};

/// Most shares or threshold a seal may have: one byte of x-coordinate, zero excluded.
const MAX: i64 = 255;

/// How the root key is protected and how many unseal shares exist.
///
/// Fields OpenBao also writes (`pgp_keys`, `nonce`, `backup`) are ignored when reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealConfig {
    /// The seal type: `"shamir"`, or `"static"` for the static auto-unseal.
    pub r#type: String,
    /// How many shares the key-encryption key was split into.
    pub secret_shares: u32,
    /// How many shares unseal needs.
    pub secret_threshold: u32,
}

impl SealConfig {
    /// A Shamir seal configuration, validated as OpenBao's `SealConfig.Validate` does.
    ///
    /// Takes signed values because they arrive from JSON, where a client may send anything.
    ///
    /// # Errors
    ///
    /// The first failing [`SealConfigError`], checked in OpenBao's order: shares < 1,
    /// threshold < 1, shares > 1 with threshold < 2, shares > 255, threshold > 255,
    /// threshold > shares.
    pub fn shamir(secret_shares: i64, secret_threshold: i64) -> Result<SealConfig> {
        if secret_shares < 1 {
            return Err(SealConfigError::SharesTooFew.into());
        }
        if secret_threshold < 1 {
            return Err(SealConfigError::ThresholdTooFew.into());
        }
        SealConfig::checked(secret_shares, secret_threshold)
    }

    /// A recovery key configuration (`recovery_shares` / `recovery_threshold` at init under an
    /// auto-unseal), validated as OpenBao's `SealConfig.ValidateRecovery` does: zero shares
    /// (no recovery keys) is allowed.
    ///
    /// # Errors
    ///
    /// [`SealConfigError::Negative`] for a negative value (Go accepts and stores those; we do
    /// not), then the checks of [`SealConfig::shamir`] after its first two.
    pub fn recovery(recovery_shares: i64, recovery_threshold: i64) -> Result<SealConfig> {
        if recovery_shares < 0 || recovery_threshold < 0 {
            return Err(SealConfigError::Negative.into());
        }
        SealConfig::checked(recovery_shares, recovery_threshold)
    }

    /// OpenBao's `baseValidate`, for values already known not to be negative.
    fn checked(shares: i64, threshold: i64) -> Result<SealConfig> {
        if shares > 1 && threshold < 2 {
            return Err(SealConfigError::ThresholdOneWithManyShares.into());
        }
        if shares > MAX {
            return Err(SealConfigError::SharesTooMany.into());
        }
        if threshold > MAX {
            return Err(SealConfigError::ThresholdTooMany.into());
        }
        if threshold > shares {
            return Err(SealConfigError::ThresholdAboveShares.into());
        }
        // Both are in 0..=255 by now, so these conversions cannot fail.
        let secret_shares = u32::try_from(shares).map_err(|_| SealConfigError::SharesTooMany)?;
        let secret_threshold =
            u32::try_from(threshold).map_err(|_| SealConfigError::ThresholdTooMany)?;
        Ok(SealConfig {
            r#type: "shamir".to_owned(),
            secret_shares,
            secret_threshold,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn text(shares: i64, threshold: i64) -> String {
        match SealConfig::shamir(shares, threshold) {
            Err(Error::SealConfig(e)) => e.to_string(),
            other => panic!("expected a seal config error, got {other:?}"),
        }
    }

    #[test]
    fn error_texts_in_openbao_order() {
        assert_eq!(text(0, 0), "shares must be at least one");
        assert_eq!(text(-1, 3), "shares must be at least one");
        assert_eq!(text(1, 0), "threshold must be at least one");
        assert_eq!(text(5, -2), "threshold must be at least one");
        assert_eq!(
            text(5, 1),
            "threshold must be greater than one for multiple shares"
        );
        assert_eq!(
            text(256, 1),
            "threshold must be greater than one for multiple shares"
        );
        assert_eq!(text(256, 3), "shares must be less than 256");
        assert_eq!(text(256, 300), "shares must be less than 256");
        assert_eq!(text(5, 256), "threshold must be less than 256");
        assert_eq!(text(3, 5), "threshold cannot be larger than shares");
        assert_eq!(text(1, 2), "threshold cannot be larger than shares");
    }

    #[test]
    fn recovery_allows_zero() {
        let none = SealConfig::recovery(0, 0).unwrap();
        assert_eq!((none.secret_shares, none.secret_threshold), (0, 0));
        assert!(SealConfig::recovery(1, 1).is_ok());
        assert!(SealConfig::recovery(5, 3).is_ok());
        let text = |s, t| SealConfig::recovery(s, t).unwrap_err().to_string();
        assert_eq!(text(-1, 0), "shares and threshold cannot be negative");
        assert_eq!(text(0, 1), "threshold cannot be larger than shares");
        assert_eq!(
            text(3, 1),
            "threshold must be greater than one for multiple shares"
        );
        assert_eq!(text(256, 2), "shares must be less than 256");
    }

    #[test]
    fn valid_configs() {
        let one = SealConfig::shamir(1, 1).unwrap();
        assert_eq!((one.secret_shares, one.secret_threshold), (1, 1));
        assert_eq!(one.r#type, "shamir");
        let max = SealConfig::shamir(255, 255).unwrap();
        assert_eq!((max.secret_shares, max.secret_threshold), (255, 255));
    }

    #[test]
    fn reads_openbao_json() {
        let stored = r#"{"type":"shamir","secret_shares":5,"secret_threshold":3,"pgp_keys":null,"nonce":"","backup":false}"#;
        let config: SealConfig = serde_json::from_str(stored).unwrap();
        assert_eq!(config, SealConfig::shamir(5, 3).unwrap());
        let written = serde_json::to_string(&config).unwrap();
        assert_eq!(
            written,
            r#"{"type":"shamir","secret_shares":5,"secret_threshold":3}"#
        );
    }
}
