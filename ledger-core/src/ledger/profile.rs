//! Profiles, KYC and the admin's view of users.

use super::*;
use crate::id::UserId;
use crate::identity::{KycTransition, ProfilePatch, User, UserView};

/// The most users one admin listing returns.
pub const USERS_PAGE_SIZE_MAX: usize = 200;

impl Ledger {
    /// A user the actor may see: themselves, or anyone for an admin.
    pub async fn user(&self, actor: &Actor, id: UserId) -> Result<UserView, LedgerError> {
        Ok(self.visible_user(actor, id).await?.view())
    }

    async fn visible_user(&self, actor: &Actor, id: UserId) -> Result<User, LedgerError> {
        if !actor.may_act_for(id) {
            return Err(LedgerError::UserNotFound);
        }
        self.store.user(id).await?.ok_or(LedgerError::UserNotFound)
    }

    /// Users in id order after `after` (admins only).
    pub async fn users(
        &self,
        actor: &Actor,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<UserView>, LedgerError> {
        if limit == 0 || limit > USERS_PAGE_SIZE_MAX {
            return Err(LedgerError::InvalidPageSize { max: USERS_PAGE_SIZE_MAX });
        }
        if let Err(error) = actor.require_admin() {
            let draft = AuditDraft::new(actor.audit_name(), "users.list", "users");
            return self.reject(self.clock.now(), draft, error).await;
        }
        Ok(self.store.users(after, limit).await?.iter().map(User::view).collect())
    }

    /// Changes profile fields; each field set is validated, and a bad one
    /// changes nothing.
    pub async fn update_profile(
        &self,
        actor: &Actor,
        id: UserId,
        patch: ProfilePatch,
    ) -> Result<UserView, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(actor.audit_name(), "profile.update", format!("user:{id}"));
        let checked = match self.visible_user(actor, id).await {
            Ok(user) => user.profile.patched(&patch, at.date_naive()).map(|_| ()),
            Err(error) => Err(error),
        };
        if let Err(error) = checked {
            return self.reject(at, draft, error).await;
        }
        self.user_change(id, at, draft, Op::UpdateProfile { user: id, patch }).await
    }

    /// The user submits (or resubmits) identity documents for review.
    pub async fn submit_kyc(&self, actor: &Actor, id: UserId) -> Result<UserView, LedgerError> {
        self.kyc(actor, id, KycTransition::Submit).await
    }

    /// An admin approves or rejects (with a reason) a pending submission.
    pub async fn review_kyc(
        &self,
        actor: &Actor,
        id: UserId,
        decision: KycTransition,
    ) -> Result<UserView, LedgerError> {
        if !decision.needs_admin() {
            return Err(LedgerError::InvalidKycTransition { from: crate::identity::KycStatus::Pending });
        }
        self.kyc(actor, id, decision).await
    }

    async fn kyc(&self, actor: &Actor, id: UserId, transition: KycTransition) -> Result<UserView, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(actor.audit_name(), transition.action(), format!("user:{id}"));
        let allowed = match self.visible_user(actor, id).await {
            Ok(_) if transition.needs_admin() => actor.require_admin().and_then(|()| transition.validate()),
            Ok(_) => Ok(()),
            Err(error) => Err(error),
        };
        if let Err(error) = allowed {
            return self.reject(at, draft, error).await;
        }
        self.user_change(id, at, draft, Op::ChangeKyc { user: id, transition }).await
    }

    async fn user_change(
        &self,
        id: UserId,
        at: DateTime<Utc>,
        draft: AuditDraft,
        op: Op,
    ) -> Result<UserView, LedgerError> {
        let writes = self.apply(WriteBatch::new(at, draft, None, vec![op])).await?;
        writes
            .and_then(|w| w.updated_users.into_iter().find(|u| u.id == id))
            .map(|u| u.view())
            .ok_or(LedgerError::UserNotFound)
    }
}
