//! Who is acting, and what each role may do.

use serde::{Deserialize, Serialize};

use crate::error::LedgerError;
use crate::id::UserId;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Acts on their own accounts only.
    Customer,
    /// Reads everything; reviews KYC; unfreezes accounts.
    Admin,
}

impl Role {
    /// The stable lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
        }
    }

    /// Parses [`Role::as_str`].
    pub fn parse(text: &str) -> Option<Role> {
        [Role::Customer, Role::Admin].into_iter().find(|r| r.as_str() == text)
    }
}

/// Whoever issues a command or query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// The embedding program itself (or a trusted integration such as a
    /// payment processor's webhook): no ownership limits.
    System,
    /// A signed-in user.
    User {
        /// Who.
        id: UserId,
        /// With what role.
        role: Role,
    },
}

impl Actor {
    /// A customer.
    pub fn customer(id: UserId) -> Actor {
        Actor::User { id, role: Role::Customer }
    }

    /// An admin.
    pub fn admin(id: UserId) -> Actor {
        Actor::User { id, role: Role::Admin }
    }

    /// The audit log's name for the actor.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::System => "system".to_owned(),
            Actor::User { id, .. } => format!("user:{id}"),
        }
    }

    /// The acting user, if any.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Actor::System => None,
            Actor::User { id, .. } => Some(*id),
        }
    }

    /// Whether the actor may see everything.
    pub fn is_privileged(&self) -> bool {
        matches!(self, Actor::System | Actor::User { role: Role::Admin, .. })
    }

    /// Whether the actor may act on what `owner` owns.
    pub fn may_act_for(&self, owner: UserId) -> bool {
        match self {
            Actor::System => true,
            Actor::User { id, role } => *id == owner || *role == Role::Admin,
        }
    }

    /// Refuses a non-admin with [`LedgerError::Forbidden`].
    pub fn require_admin(&self) -> Result<(), LedgerError> {
        if self.is_privileged() { Ok(()) } else { Err(LedgerError::Forbidden) }
    }
}
