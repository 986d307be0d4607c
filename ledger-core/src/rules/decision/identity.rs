//! The identity part of `decide`'s working state: users, sessions and
//! reset tokens as the batch changes them, with what changed.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::digest::Digest;
use crate::error::LedgerError;
use crate::id::{IdMap, UserId};
use crate::identity::{Email, ResetToken, Session, SessionId, User};

/// The identity part of the working state.
#[derive(Default)]
pub(super) struct IdentityWork {
    pub(super) users: IdMap<UserId, User>,
    pub(super) taken_emails: BTreeSet<Email>,
    pub(super) sessions: IdMap<SessionId, Session>,
    pub(super) reset_tokens: IdMap<Digest, ResetToken>,
    pub(super) new_users: Vec<UserId>,
    pub(super) changed_users: Vec<UserId>,
    pub(super) new_sessions: Vec<SessionId>,
    pub(super) changed_sessions: Vec<SessionId>,
    pub(super) new_reset_tokens: Vec<Digest>,
    pub(super) changed_reset_tokens: Vec<Digest>,
}

impl IdentityWork {
    pub(super) fn create_user(&mut self, user: &User) -> Result<(), LedgerError> {
        if self.taken_emails.contains(&user.email) || self.users.contains_key(&user.id) {
            return Err(LedgerError::EmailTaken);
        }
        self.taken_emails.insert(user.email.clone());
        self.users.insert(user.id, user.clone());
        self.new_users.push(user.id);
        Ok(())
    }

    /// The user for a change, recorded as changed.
    pub(super) fn user_mut(&mut self, id: UserId, at: DateTime<Utc>) -> Result<&mut User, LedgerError> {
        let user = self.users.get_mut(&id).ok_or(LedgerError::UserNotFound)?;
        if !self.changed_users.contains(&id) && !self.new_users.contains(&id) {
            self.changed_users.push(id);
        }
        user.updated_at = at;
        Ok(user)
    }

    fn mark_session(&mut self, id: SessionId) {
        if !self.changed_sessions.contains(&id) && !self.new_sessions.contains(&id) {
            self.changed_sessions.push(id);
        }
    }

    pub(super) fn revoke_session(&mut self, id: SessionId, user: UserId, at: DateTime<Utc>) -> Result<(), LedgerError> {
        match self.sessions.get_mut(&id) {
            Some(s) if s.user_id == user && s.revoked_at.is_none() => s.revoked_at = Some(at),
            _ => return Err(LedgerError::SessionNotFound),
        }
        self.mark_session(id);
        Ok(())
    }

    pub(super) fn revoke_sessions(&mut self, user: UserId, except: Option<SessionId>, at: DateTime<Utc>) {
        let ids: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| s.user_id == user && s.revoked_at.is_none() && Some(s.id) != except)
            .map(|s| s.id)
            .collect();
        for id in ids {
            if let Some(s) = self.sessions.get_mut(&id) {
                s.revoked_at = Some(at);
            }
            self.mark_session(id);
        }
    }

    pub(super) fn consume_reset_token(
        &mut self,
        digest: Digest,
        user: UserId,
        at: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let outstanding = self.users.get(&user).and_then(|u| u.reset_token);
        let token = self.reset_tokens.get_mut(&digest).ok_or(LedgerError::InvalidResetToken)?;
        if token.user_id != user || outstanding != Some(digest) {
            // Superseded by a newer token, or the password changed since.
            return Err(LedgerError::InvalidResetToken);
        }
        token.check(at)?;
        token.used_at = Some(at);
        self.user_mut(user, at)?.reset_token = None;
        if !self.changed_reset_tokens.contains(&digest) && !self.new_reset_tokens.contains(&digest) {
            self.changed_reset_tokens.push(digest);
        }
        Ok(())
    }
}
