//! What the ledger shows after the run, read once the service has been
//! restarted cleanly: through HTTP as the admin and, where cheap, from the
//! store opened directly with ledger-core.

use std::collections::HashMap;

use rust_decimal::Decimal;
use uuid::Uuid;

/// An account as the admin reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    /// Account id.
    pub id: Uuid,
    /// ISO 4217 code.
    pub currency: String,
    /// A customer account (settlement accounts have no floor).
    pub customer: bool,
    /// Sum of postings.
    pub posted: Decimal,
    /// Sum of open holds.
    pub pending: Decimal,
    /// posted minus pending.
    pub available: Decimal,
}

/// A transaction as history shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionState {
    /// Transaction id.
    pub id: Uuid,
    /// `deposit`, `withdrawal`, `transfer` or `hold`.
    pub kind: String,
    /// `pending`, `posted` or `voided`.
    pub status: String,
    /// Amount.
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// The account debited.
    pub from: Option<Uuid>,
    /// The account credited.
    pub to: Option<Uuid>,
    /// The description: the bank client puts its idempotency key there.
    pub description: Option<String>,
}

impl TransactionState {
    /// The change this transaction made to `account`'s posted balance.
    pub fn effect_on(&self, account: Uuid) -> Decimal {
        if self.status != "posted" {
            return Decimal::ZERO;
        }
        let mut effect = Decimal::ZERO;
        if self.to == Some(account) {
            effect += self.amount;
        }
        if self.from == Some(account) {
            effect -= self.amount;
        }
        effect
    }
}

/// What the store itself says, opened directly after the service stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreEvidence {
    /// ledger-core's invariant checks (`conformance::invariants::check`).
    pub invariants: Result<(), String>,
    /// `verify_audit_chain`: the last verified sequence.
    pub audit_chain: Result<u64, String>,
    /// Per operation key: the transactions its stored idempotency record
    /// names (absent: no record).
    pub idempotency: HashMap<String, Vec<Uuid>>,
}

/// Everything read after the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Every account the run touched, settlement accounts included.
    pub accounts: Vec<AccountState>,
    /// The whole history (admin view, every page), newest first.
    pub transactions: Vec<TransactionState>,
    /// Each account's own history (every page of `?account_id=`).
    pub account_history: HashMap<Uuid, Vec<TransactionState>>,
    /// `GET /api/admin/audit/verify`: valid, or why not.
    pub audit_over_http: Result<(), String>,
    /// The store opened directly, when the backend allows it.
    pub store: Option<StoreEvidence>,
}
