//! Authentication: registration, login with throttling, sessions, logout,
//! password change and reset.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::queries::visible_account;
use super::*;
use crate::id::UserId;
use crate::identity::{
    Device, Email, KycStatus, Password, PasswordDigest, Profile, ResetToken, Role, SecretToken, Session, SessionId,
    User, UserView,
};

/// The most sessions a listing shows.
pub const SESSIONS_LIST_MAX: usize = 100;

/// What a new customer gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Email, normalised and unique.
    pub email: String,
    /// Password, checked against the policy.
    pub password: String,
    /// Full name.
    pub full_name: String,
}

/// A login attempt.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// The email given.
    pub email: String,
    /// The password given.
    pub password: String,
    /// The device it comes from (cleaned with [`Device::new`]).
    pub device: Device,
}

/// A successful login: the token is shown once and never stored.
#[derive(Debug, Clone)]
pub struct Login {
    /// The bearer token (256 random bits).
    pub token: SecretToken,
    /// The session it opened.
    pub session: Session,
    /// Who logged in.
    pub user: UserView,
}

/// An authenticated request's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user.
    pub user: User,
    /// The session used.
    pub session: Session,
}

impl Authenticated {
    /// The actor the user acts as.
    pub fn actor(&self) -> Actor {
        self.user.actor()
    }
}

impl Ledger {
    /// Registers a customer. Admins are never self-registered: see
    /// [`Ledger::bootstrap_admin`].
    pub async fn register(&self, registration: Registration) -> Result<UserView, LedgerError> {
        self.create_user(registration, Role::Customer, "auth.register").await
    }

    /// Creates the configured admin if no user has that email; returns the
    /// existing admin otherwise. Refuses if the email belongs to a customer.
    ///
    /// Idempotent across processes: instances started together on one
    /// database may all find the email free, and all but one then lose the
    /// race inside the store; they return the admin the winner created.
    pub async fn bootstrap_admin(&self, registration: Registration) -> Result<UserView, LedgerError> {
        if let Some(existing) = self.existing_admin(&registration.email).await? {
            return existing;
        }
        match self.create_user(registration.clone(), Role::Admin, "auth.bootstrap_admin").await {
            Err(LedgerError::EmailTaken) => match self.existing_admin(&registration.email).await? {
                Some(existing) => existing,
                None => Err(LedgerError::EmailTaken),
            },
            created => created,
        }
    }

    /// The user with this email, as the bootstrap admin: `Ok` if it is an
    /// admin, `EmailTaken` if a customer has the email; `None` if nobody has.
    async fn existing_admin(&self, email: &str) -> Result<Option<Result<UserView, LedgerError>>, LedgerError> {
        let Ok(email) = Email::parse(email) else { return Ok(None) };
        let existing = self.store.user_by_email(&email).await?;
        Ok(existing.map(|u| if u.role == Role::Admin { Ok(u.view()) } else { Err(LedgerError::EmailTaken) }))
    }

    async fn create_user(&self, r: Registration, role: Role, action: &str) -> Result<UserView, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(Actor::System.audit_name(), action, "user:new");
        let checked = (|| {
            let email = Email::parse(&r.email)?;
            let password = Password::new(&r.password, Some(email.local_part()))?;
            Ok((email, password, Profile::new(&r.full_name)?))
        })();
        let (email, password, profile) = match checked {
            Ok(valid) => valid,
            Err(error) => return self.reject(at, draft, error).await,
        };
        let password = self.hash_password(password).await?;
        let user = User {
            id: UserId::new(),
            email,
            password,
            profile,
            role,
            kyc_status: KycStatus::Unverified,
            kyc_reason: None,
            reset_token: None,
            created_at: at,
            updated_at: at,
        };
        let draft = AuditDraft { actor: format!("user:{}", user.id), target: format!("user:{}", user.id), ..draft };
        self.apply(WriteBatch::new(at, draft, None, vec![Op::CreateUser(Box::new(user.clone()))])).await?;
        Ok(user.view())
    }

    /// Logs in: reserves an attempt with the throttle, checks the password
    /// (spending the same work for unknown emails), then opens a session,
    /// provided the password is still the one verified when it commits.
    pub async fn login(&self, request: LoginRequest) -> Result<Login, LedgerError> {
        let at = self.clock.now();
        let email_key = format!("email:{}", request.email.trim().to_ascii_lowercase());
        let client_key = request.device.client_addr.map(|ip: IpAddr| format!("client:{ip}"));
        let draft = AuditDraft::new(Actor::System.audit_name(), "auth.login", email_key.clone())
            .with("client_addr", request.device.client_addr.map(|a| a.to_string()).unwrap_or_default())
            .with("user_agent", request.device.user_agent.clone().unwrap_or_default());
        let policy = self.config.throttle;
        let mut keys = vec![(email_key.as_str(), policy.per_email)];
        keys.extend(client_key.as_deref().map(|k| (k, policy.per_client)));
        if let Err(retry_after_secs) = self.throttle.reserve(&keys, at) {
            return self.reject(at, draft, LedgerError::TooManyAttempts { retry_after_secs }).await;
        }
        let user = match Email::parse(&request.email) {
            Ok(email) => self.store.user_by_email(&email).await?,
            Err(_) => None,
        };
        // A failed login on a real account shows in that user's own audit log.
        let draft = match &user {
            Some(user) => AuditDraft { actor: user.actor().audit_name(), ..draft },
            None => draft,
        };
        let verified = user.as_ref().map(|u| u.password.clone());
        if !self.password_matches(verified.clone(), request.password).await {
            return self.reject(at, draft, LedgerError::InvalidCredentials).await;
        }
        let (Some(user), Some(verified)) = (user, verified) else {
            return self.reject(at, draft, LedgerError::InvalidCredentials).await;
        };
        self.throttle.clear(&email_key);
        if let Some(client_key) = &client_key {
            self.throttle.release(client_key, at);
        }
        let token = SecretToken::generate();
        let session = Session::open(user.id, token.digest(), request.device, at, self.config.sessions);
        let draft = draft.with("session", session.id);
        let op = Op::CreateSession { session: Box::new(session.clone()), verified };
        self.apply(WriteBatch::new(at, draft, None, vec![op])).await?;
        Ok(Login { token, session, user: user.view() })
    }

    /// Verifies a password off the async threads; `None` verifies against a
    /// dummy hash so unknown emails take as long as wrong passwords.
    async fn password_matches(&self, digest: Option<PasswordDigest>, candidate: String) -> bool {
        let params = self.config.password_hash;
        let work = move || match digest {
            Some(digest) => digest.verify(&candidate),
            None => {
                PasswordDigest::verify_dummy(&candidate, params);
                false
            }
        };
        tokio::task::spawn_blocking(work).await.unwrap_or(false)
    }

    async fn hash_password(&self, password: Password) -> Result<PasswordDigest, LedgerError> {
        let params = self.config.password_hash;
        tokio::task::spawn_blocking(move || PasswordDigest::hash(&password, params))
            .await
            .map_err(|_| LedgerError::PasswordHashing)?
    }

    /// Resolves a bearer token to its user and session. Unknown, malformed,
    /// expired and revoked tokens are all [`LedgerError::Unauthenticated`];
    /// using an expired or revoked session's token is audited.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated, LedgerError> {
        let token = SecretToken::parse(token)?;
        let found = self.store.session_with_user(&token.digest()).await?;
        self.admit(found).await
    }

    /// [`Ledger::authenticate`], then [`Ledger::account`] as the
    /// authenticated actor, with the store's reads made as one
    /// ([`Store::session_with_user_and_account`]): a balance read costs one
    /// read of the store instead of two. The outer error is the
    /// authentication's; the inner result is the account read's, judged by
    /// the same rule as [`Ledger::account`] (another customer's account is
    /// not found).
    pub async fn authenticate_and_read_account(
        &self,
        token: &str,
        account: AccountId,
    ) -> Result<(Authenticated, Result<Account, LedgerError>), LedgerError> {
        let token = SecretToken::parse(token)?;
        let found = self.store.session_with_user_and_account(&token.digest(), account).await?;
        let (found, read) = match found {
            Some((session, user, read)) => (Some((session, user)), read),
            None => (None, None),
        };
        let authenticated = self.admit(found).await?;
        let read = visible_account(&authenticated.actor(), account, read);
        Ok((authenticated, read))
    }

    /// Admits a session read by its token (none: unknown): unauthenticated
    /// unless it is live, its use audited when it is not, its last use
    /// recorded when due.
    async fn admit(&self, found: Option<(Session, User)>) -> Result<Authenticated, LedgerError> {
        let (session, user) = found.ok_or(LedgerError::Unauthenticated)?;
        let at = self.clock.now();
        if let Err(error) = session.check(at) {
            let draft =
                AuditDraft::new(format!("user:{}", session.user_id), "auth.token", format!("session:{}", session.id));
            return self.reject(at, draft, error).await;
        }
        if session.needs_touch(at) {
            self.store.touch_session(session.id, at).await?;
        }
        Ok(Authenticated { user, session })
    }

    /// Ends the current session.
    pub async fn logout(&self, auth: &Authenticated) -> Result<(), LedgerError> {
        self.revoke(auth, auth.session.id, "auth.logout").await
    }

    /// The user's live sessions, newest first.
    pub async fn sessions(&self, auth: &Authenticated) -> Result<Vec<Session>, LedgerError> {
        let at = self.clock.now();
        let all = self.store.sessions_of(auth.user.id, SESSIONS_LIST_MAX).await?;
        Ok(all.into_iter().filter(|s| s.is_active(at)).collect())
    }

    /// Revokes one of the user's sessions; another user's is not found.
    pub async fn revoke_session(&self, auth: &Authenticated, session: SessionId) -> Result<(), LedgerError> {
        self.revoke(auth, session, "session.revoke").await
    }

    async fn revoke(&self, auth: &Authenticated, session: SessionId, action: &str) -> Result<(), LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(auth.actor().audit_name(), action, format!("session:{session}"));
        let op = Op::RevokeSession { session, user: auth.user.id };
        self.apply(WriteBatch::new(at, draft, None, vec![op])).await.map(|_| ())
    }

    /// Revokes every session of the user but the current one.
    pub async fn revoke_other_sessions(&self, auth: &Authenticated) -> Result<usize, LedgerError> {
        let at = self.clock.now();
        let draft =
            AuditDraft::new(auth.actor().audit_name(), "session.revoke_others", format!("user:{}", auth.user.id));
        let op = Op::RevokeSessions { user: auth.user.id, except: Some(auth.session.id) };
        let writes = self.apply(WriteBatch::new(at, draft, None, vec![op])).await?;
        Ok(writes.map_or(0, |w| w.updated_sessions.len()))
    }

    /// Changes the password given the current one; other sessions end.
    pub async fn change_password(&self, auth: &Authenticated, current: &str, new: &str) -> Result<(), LedgerError> {
        let at = self.clock.now();
        let user = &auth.user;
        let draft = AuditDraft::new(user.actor().audit_name(), "auth.password.change", format!("user:{}", user.id));
        let email_key = format!("email:{}", user.email);
        if let Err(retry_after_secs) = self.throttle.reserve(&[(&email_key, self.config.throttle.per_email)], at) {
            return self.reject(at, draft, LedgerError::TooManyAttempts { retry_after_secs }).await;
        }
        if !self.password_matches(Some(user.password.clone()), current.to_owned()).await {
            return self.reject(at, draft, LedgerError::WrongPassword).await;
        }
        self.throttle.release(&email_key, at);
        let password = match Password::new(new, Some(user.email.local_part())) {
            Ok(password) => self.hash_password(password).await?,
            Err(error) => return self.reject(at, draft, error).await,
        };
        let ops = vec![
            Op::SetPassword { user: user.id, password },
            Op::RevokeSessions { user: user.id, except: Some(auth.session.id) },
        ];
        self.apply(WriteBatch::new(at, draft, None, ops)).await.map(|_| ())
    }

    /// Starts a password reset. Always succeeds, whether or not the email is
    /// registered, so the answer reveals nothing; a registered user gets a
    /// single-use token through the notifier.
    pub async fn request_password_reset(&self, email: &str) -> Result<(), LedgerError> {
        let at = self.clock.now();
        let user = match Email::parse(email) {
            Ok(email) => self.store.user_by_email(&email).await?,
            Err(_) => None,
        };
        let Some(user) = user else {
            let draft = AuditDraft::new(Actor::System.audit_name(), "auth.password.reset_request", "user:unknown");
            return match self.reject::<()>(at, draft, LedgerError::UserNotFound).await {
                Err(LedgerError::UserNotFound) => Ok(()),
                other => other,
            };
        };
        let token = SecretToken::generate();
        let issued = ResetToken::issue(user.id, token.digest(), at);
        let expires_at = issued.expires_at;
        let draft =
            AuditDraft::new(user.actor().audit_name(), "auth.password.reset_request", format!("user:{}", user.id));
        self.apply(WriteBatch::new(at, draft, None, vec![Op::IssueResetToken(issued)])).await?;
        self.notifier.send_password_reset(&user.email, &token, expires_at).await;
        Ok(())
    }

    /// Completes a reset: the token works once, within its lifetime; every
    /// session of the user ends.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<(), LedgerError> {
        let at = self.clock.now();
        let mut draft = AuditDraft::new(Actor::System.audit_name(), "auth.password.reset", "user:unknown");
        let found = match SecretToken::parse(token) {
            Ok(token) => self.store.reset_token(&token.digest()).await?,
            Err(_) => None,
        };
        let Some(found) = found else { return self.reject(at, draft, LedgerError::InvalidResetToken).await };
        let user = self.store.user(found.user_id).await?.ok_or(LedgerError::InvalidResetToken)?;
        draft.actor = user.actor().audit_name();
        draft.target = format!("user:{}", user.id);
        let password = match Password::new(new_password, Some(user.email.local_part())) {
            Ok(password) => self.hash_password(password).await?,
            Err(error) => return self.reject(at, draft, error).await,
        };
        let ops = vec![
            Op::ConsumeResetToken { token: found.token_digest, user: user.id },
            Op::SetPassword { user: user.id, password },
            Op::RevokeSessions { user: user.id, except: None },
        ];
        self.apply(WriteBatch::new(at, draft, None, ops)).await.map(|_| ())
    }
}
