//! Sessions with device tracking, idle and absolute expiry, and revocation;
//! password-reset tokens.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::LedgerError;
use crate::id::UserId;

/// The most characters kept of a user agent (longer ones are cut: it is
/// device metadata, not a value anyone relies on).
pub const USER_AGENT_LEN_MAX: usize = 256;
/// The most characters in a device label.
pub const DEVICE_LABEL_LEN_MAX: usize = 64;
/// How long a password-reset token is valid.
pub const RESET_TOKEN_TTL_SECS: i64 = 30 * 60;
/// How often a session's last-seen time is written at most.
pub const SESSION_TOUCH_INTERVAL_SECS: i64 = 60;

/// Identifies a session (safe to show; the token is the secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub uuid::Uuid);

impl SessionId {
    /// A fresh, time-ordered id.
    pub fn new() -> SessionId {
        SessionId(uuid::Uuid::now_v7())
    }
}

impl Default for SessionId {
    fn default() -> Self {
        SessionId::new()
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ends after this long without use.
    pub idle_secs: i64,
    /// Ends this long after login, used or not.
    pub absolute_secs: i64,
}

impl Default for SessionPolicy {
    /// 30 minutes idle, 12 hours absolute: a bank's web session.
    fn default() -> Self {
        SessionPolicy { idle_secs: 30 * 60, absolute_secs: 12 * 60 * 60 }
    }
}

/// Where a session was opened from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The client's User-Agent, cut to [`USER_AGENT_LEN_MAX`].
    pub user_agent: Option<String>,
    /// The client's address.
    pub client_addr: Option<IpAddr>,
    /// A name the user gave the device.
    pub label: Option<String>,
}

impl Device {
    /// Cleans the metadata: cuts the user agent, validates the label.
    pub fn new(
        user_agent: Option<&str>,
        client_addr: Option<IpAddr>,
        label: Option<&str>,
    ) -> Result<Device, LedgerError> {
        let user_agent = user_agent
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(USER_AGENT_LEN_MAX).collect::<String>())
            .filter(|ua| !ua.is_empty());
        let label = match label.map(str::trim) {
            None | Some("") => None,
            Some(l) if l.chars().count() > DEVICE_LABEL_LEN_MAX || l.chars().any(char::is_control) => {
                return Err(LedgerError::InvalidDeviceLabel);
            }
            Some(l) => Some(l.to_owned()),
        };
        Ok(Device { user_agent, client_addr, label })
    }
}

/// A login session. Only the digest of its token is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Identity.
    pub id: SessionId,
    /// Whose session.
    pub user_id: UserId,
    /// SHA-256 of the token.
    pub token_digest: Digest,
    /// Where it was opened.
    pub device: Device,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was last used (written at most every [`SESSION_TOUCH_INTERVAL_SECS`]).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends regardless of use.
    pub expires_at: DateTime<Utc>,
    /// The idle limit it was opened with, in seconds.
    pub idle_secs: i64,
    /// When it was revoked (logout, revocation, password change or reset).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// A new session for a user.
    pub fn open(
        user_id: UserId,
        token_digest: Digest,
        device: Device,
        now: DateTime<Utc>,
        policy: SessionPolicy,
    ) -> Session {
        Session {
            id: SessionId::new(),
            user_id,
            token_digest,
            device,
            created_at: now,
            last_seen_at: now,
            expires_at: now + Duration::seconds(policy.absolute_secs),
            idle_secs: policy.idle_secs,
            revoked_at: None,
        }
    }

    /// Whether the session may be used at `now`.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), LedgerError> {
        let idle_end = self.last_seen_at + Duration::seconds(self.idle_secs);
        if self.revoked_at.is_some() || now >= self.expires_at || now >= idle_end {
            return Err(LedgerError::Unauthenticated);
        }
        Ok(())
    }

    /// Whether it is live and not revoked (for listings).
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.check(now).is_ok()
    }

    /// Whether last-seen is stale enough to be worth writing.
    pub fn needs_touch(&self, now: DateTime<Utc>) -> bool {
        now - self.last_seen_at >= Duration::seconds(SESSION_TOUCH_INTERVAL_SECS)
    }
}

/// A single-use password-reset token, stored as a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetToken {
    /// SHA-256 of the token.
    pub token_digest: Digest,
    /// Whose password it resets.
    pub user_id: UserId,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working ([`RESET_TOKEN_TTL_SECS`] after issue).
    pub expires_at: DateTime<Utc>,
    /// When it was used; a used token never works again.
    pub used_at: Option<DateTime<Utc>>,
}

impl ResetToken {
    /// A token issued now.
    pub fn issue(user_id: UserId, token_digest: Digest, now: DateTime<Utc>) -> ResetToken {
        ResetToken {
            token_digest,
            user_id,
            created_at: now,
            expires_at: now + Duration::seconds(RESET_TOKEN_TTL_SECS),
            used_at: None,
        }
    }

    /// Whether it may be used at `now`.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), LedgerError> {
        if self.used_at.is_some() || now >= self.expires_at {
            return Err(LedgerError::InvalidResetToken);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_old_or_revoked() {
        let now = Utc::now();
        let policy = SessionPolicy { idle_secs: 60, absolute_secs: 600 };
        let mut s = Session::open(UserId::new(), Digest::ZERO, Device::default(), now, policy);
        assert!(s.check(now + Duration::seconds(59)).is_ok());
        assert!(s.check(now + Duration::seconds(60)).is_err(), "idle");
        s.last_seen_at = now + Duration::seconds(590);
        assert!(s.check(now + Duration::seconds(599)).is_ok());
        assert!(s.check(now + Duration::seconds(600)).is_err(), "absolute");
        s.revoked_at = Some(now);
        assert!(s.check(now).is_err(), "revoked");
    }

    #[test]
    fn reset_tokens_are_single_use_and_short_lived() {
        let now = Utc::now();
        let mut t = ResetToken::issue(UserId::new(), Digest::ZERO, now);
        assert!(t.check(now + Duration::seconds(RESET_TOKEN_TTL_SECS - 1)).is_ok());
        assert_eq!(t.check(now + Duration::seconds(RESET_TOKEN_TTL_SECS)), Err(LedgerError::InvalidResetToken));
        t.used_at = Some(now);
        assert_eq!(t.check(now), Err(LedgerError::InvalidResetToken));
    }

    #[test]
    fn device_metadata_is_cleaned() {
        let long = "u".repeat(USER_AGENT_LEN_MAX + 50);
        let d = Device::new(Some(&long), None, Some("  laptop ")).unwrap_or_default();
        assert_eq!(d.user_agent.map(|u| u.len()), Some(USER_AGENT_LEN_MAX));
        assert_eq!(d.label.as_deref(), Some("laptop"));
        assert_eq!(Device::new(None, None, Some(&"x".repeat(65))), Err(LedgerError::InvalidDeviceLabel));
    }
}
