//! Know-your-customer status and its allowed transitions.

use serde::{Deserialize, Serialize};

use crate::error::LedgerError;

/// The most characters in a KYC decision reason.
pub const KYC_REASON_LEN_MAX: usize = 500;

/// Where a user is in identity verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KycStatus {
    /// Nothing submitted.
    Unverified,
    /// Submitted, awaiting an admin's decision.
    Pending,
    /// Approved by an admin.
    Verified,
    /// Refused by an admin, with a reason; the user may resubmit.
    Rejected,
}

impl KycStatus {
    /// The stable lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            KycStatus::Unverified => "unverified",
            KycStatus::Pending => "pending",
            KycStatus::Verified => "verified",
            KycStatus::Rejected => "rejected",
        }
    }

    /// Parses [`KycStatus::as_str`].
    pub fn parse(text: &str) -> Option<KycStatus> {
        [KycStatus::Unverified, KycStatus::Pending, KycStatus::Verified, KycStatus::Rejected]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A step of the KYC process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KycTransition {
    /// The user submits (from unverified or rejected).
    Submit,
    /// An admin approves a pending submission.
    Approve,
    /// An admin rejects a pending submission, saying why.
    Reject {
        /// Why, shown to the user.
        reason: String,
    },
}

impl KycTransition {
    /// The status after the transition from `from`, if allowed.
    pub fn apply(&self, from: KycStatus) -> Result<KycStatus, LedgerError> {
        let to = match (self, from) {
            (KycTransition::Submit, KycStatus::Unverified | KycStatus::Rejected) => KycStatus::Pending,
            (KycTransition::Approve, KycStatus::Pending) => KycStatus::Verified,
            (KycTransition::Reject { .. }, KycStatus::Pending) => KycStatus::Rejected,
            _ => return Err(LedgerError::InvalidKycTransition { from }),
        };
        Ok(to)
    }

    /// Whether only an admin may make it.
    pub fn needs_admin(&self) -> bool {
        !matches!(self, KycTransition::Submit)
    }

    /// Checks a rejection's reason: present, bounded, printable.
    pub fn validate(&self) -> Result<(), LedgerError> {
        if let KycTransition::Reject { reason } = self {
            let reason = reason.trim();
            let ok = !reason.is_empty()
                && reason.chars().count() <= KYC_REASON_LEN_MAX
                && !reason.chars().any(char::is_control);
            if !ok {
                return Err(LedgerError::InvalidKycReason);
            }
        }
        Ok(())
    }

    /// The audit action name.
    pub fn action(&self) -> &'static str {
        match self {
            KycTransition::Submit => "kyc.submit",
            KycTransition::Approve => "kyc.approve",
            KycTransition::Reject { .. } => "kyc.reject",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KycStatus::*;

    #[test]
    fn only_the_documented_edges_exist() {
        let reject = KycTransition::Reject { reason: "blurry".into() };
        let table = [
            (KycTransition::Submit, Unverified, Ok(Pending)),
            (KycTransition::Submit, Rejected, Ok(Pending)),
            (KycTransition::Submit, Pending, Err(LedgerError::InvalidKycTransition { from: Pending })),
            (KycTransition::Submit, Verified, Err(LedgerError::InvalidKycTransition { from: Verified })),
            (KycTransition::Approve, Pending, Ok(Verified)),
            (KycTransition::Approve, Unverified, Err(LedgerError::InvalidKycTransition { from: Unverified })),
            (reject.clone(), Pending, Ok(Rejected)),
            (reject, Verified, Err(LedgerError::InvalidKycTransition { from: Verified })),
        ];
        for (t, from, expected) in table {
            assert_eq!(t.apply(from), expected, "{t:?} from {from:?}");
        }
    }

    #[test]
    fn rejections_need_a_reason() {
        assert_eq!(KycTransition::Reject { reason: "  ".into() }.validate(), Err(LedgerError::InvalidKycReason));
        assert!(KycTransition::Reject { reason: "document expired".into() }.validate().is_ok());
    }
}
