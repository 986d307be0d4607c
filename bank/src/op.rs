//! One client operation and what the client learned about it. The checker
//! reads only these records and what the ledger shows after the run.

use rust_decimal::Decimal;
use uuid::Uuid;

/// What an operation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Credit a customer account (from the currency's settlement account).
    Deposit,
    /// Debit a customer account (to the settlement account).
    Withdrawal,
    /// Move money between two customers' accounts.
    Transfer,
}

impl OpKind {
    /// The transaction kind the ledger records for it.
    pub fn transaction_kind(self) -> &'static str {
        match self {
            OpKind::Deposit => "deposit",
            OpKind::Withdrawal => "withdrawal",
            OpKind::Transfer => "transfer",
        }
    }
}

/// A money operation as sent. Its idempotency key is also its
/// description, so the transaction it produced can be found in history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// The client-chosen idempotency key.
    pub key: String,
    /// What it does.
    pub kind: OpKind,
    /// The user acting (keys are scoped per user).
    pub actor: Uuid,
    /// The customer account debited (withdrawal, transfer).
    pub from: Option<Uuid>,
    /// The customer account credited (deposit, transfer).
    pub to: Option<Uuid>,
    /// ISO 4217 code.
    pub currency: String,
    /// How much.
    pub amount: Decimal,
}

impl Op {
    /// How it changes the total of all customer balances in its currency.
    pub fn customer_total_change(&self) -> Decimal {
        match self.kind {
            OpKind::Deposit => self.amount,
            OpKind::Withdrawal => -self.amount,
            OpKind::Transfer => Decimal::ZERO,
        }
    }
}

/// What the client was told, finally, after its retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx with this transaction id: the ledger promised it happened.
    Acknowledged {
        /// The transaction created.
        transaction: Uuid,
    },
    /// A definite 4xx answer: the ledger promised it did not happen.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The problem's stable code (`insufficient_funds`, ...).
        code: String,
    },
    /// No definite answer before the client gave up: applied once or not at all.
    Indeterminate {
        /// The last error seen.
        reason: String,
    },
}

/// A deliberate replay of an acknowledged operation (same key, same body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayCheck {
    /// What the replay was answered (it must be the original transaction).
    pub outcome: Outcome,
    /// Whether it carried `Idempotent-Replayed: true`.
    pub marked_replayed: bool,
}

/// An operation and everything the client saw of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRecord {
    /// The operation.
    pub op: Op,
    /// The final answer.
    pub outcome: Outcome,
    /// HTTP requests sent for it (more than one: retried with the same key).
    pub attempts: u32,
    /// A replay sent after the acknowledgement, if one was (and answered).
    pub replay: Option<ReplayCheck>,
    /// When it was acknowledged, if it was (for the longest write outage).
    pub acknowledged_at: Option<std::time::Instant>,
}
