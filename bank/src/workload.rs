//! What the clients do: random deposits, withdrawals and transfers between
//! customers, each with a fresh Idempotency-Key (also used as the
//! description, so history shows which operation made which transaction),
//! until the deadline. Now and then an acknowledged operation is sent
//! again with the same key to check that the replay names the same
//! transaction.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::json;
use tokio::time::Instant;

use crate::client::{Api, MoneyRequest};
use crate::op::{Op, OpKind, OpRecord, Outcome, ReplayCheck};
use crate::service::Endpoint;
use crate::setup::Customer;

/// Largest deposit, in cents.
const DEPOSIT_CENTS_MAX: i64 = 20_000;
/// Largest withdrawal or transfer, in cents (some will find too little money).
const DEBIT_CENTS_MAX: i64 = 10_000;
/// One acknowledged operation in this many is replayed on purpose.
const REPLAY_ONE_IN: u32 = 8;

/// What one client needs: the customers, the service instances, its seed.
#[derive(Debug, Clone)]
pub struct ClientContext {
    /// Shared HTTP client.
    pub api: Api,
    /// Every instance; this client starts on `index % endpoints.len()`.
    pub endpoints: Vec<Endpoint>,
    /// The customers it acts for.
    pub customers: Arc<Vec<Customer>>,
    /// The run's id, part of every key.
    pub run: String,
    /// The run's seed (each client derives its own).
    pub seed: u64,
}

/// Runs one client until `deadline`: one operation at a time.
pub async fn run_client(context: ClientContext, index: usize, deadline: Instant) -> Vec<OpRecord> {
    let mut rng = StdRng::seed_from_u64(context.seed.wrapping_add(index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let home = index % context.endpoints.len().max(1);
    let mut records = Vec::new();
    while Instant::now() < deadline {
        let key = format!("bank-{}-c{index}-{}", context.run, records.len());
        let Some((op, request, customer)) = next_op(&mut rng, &context.customers, key) else { break };
        let token = &context.customers[customer].token;
        let sent = context.api.send_money(&context.endpoints, home, token, &op.key, &request).await;
        let replay = if matches!(sent.outcome, Outcome::Acknowledged { .. }) && rng.random_ratio(1, REPLAY_ONE_IN) {
            let again = context.api.send_money(&context.endpoints, home + 1, token, &op.key, &request).await;
            Some(ReplayCheck { outcome: again.outcome, marked_replayed: again.replayed })
        } else {
            None
        };
        let acknowledged_at = sent.acknowledged_at;
        records.push(OpRecord { op, outcome: sent.outcome, attempts: sent.attempts, replay, acknowledged_at });
    }
    records
}

/// A random operation, its request, and the index of the customer sending it.
pub fn next_op(rng: &mut StdRng, customers: &[Customer], key: String) -> Option<(Op, MoneyRequest, usize)> {
    let who = rng.random_range(0..customers.len());
    let customer = &customers[who];
    let account = &customer.accounts[rng.random_range(0..customer.accounts.len())];
    let roll = rng.random_range(0..10);
    let kind = match roll {
        0..3 => OpKind::Deposit,
        3..5 => OpKind::Withdrawal,
        _ if customers.len() > 1 => OpKind::Transfer,
        _ => OpKind::Deposit,
    };
    let cents_max = if kind == OpKind::Deposit { DEPOSIT_CENTS_MAX } else { DEBIT_CENTS_MAX };
    let amount = Decimal::new(rng.random_range(1..=cents_max), 2);
    let mut op = Op { key, kind, actor: customer.id, from: None, to: None, currency: account.currency.clone(), amount };
    let request = match kind {
        OpKind::Deposit => {
            op.to = Some(account.id);
            let body = json!({"account_id": account.id, "amount": amount.to_string(), "description": op.key});
            MoneyRequest { path: "/api/transactions/deposits", body }
        }
        OpKind::Withdrawal => {
            op.from = Some(account.id);
            let body = json!({"account_id": account.id, "amount": amount.to_string(), "description": op.key});
            MoneyRequest { path: "/api/transactions/withdrawals", body }
        }
        OpKind::Transfer => {
            let other = (who + rng.random_range(1..customers.len())) % customers.len();
            let to = customers[other].account(&account.currency)?;
            op.from = Some(account.id);
            op.to = Some(to.id);
            let body = json!({"from_account_id": account.id, "to_account_number": to.number, "amount": amount.to_string(), "description": op.key});
            MoneyRequest { path: "/api/transactions/transfers", body }
        }
    };
    Some((op, request, who))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed expectation must panic
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::setup::CustomerAccount;

    fn customer(currencies: &[&str]) -> Customer {
        let accounts = currencies
            .iter()
            .map(|c| CustomerAccount { id: Uuid::now_v7(), number: "123456789012".into(), currency: (*c).into() })
            .collect();
        Customer { id: Uuid::now_v7(), token: "t".into(), accounts }
    }

    #[test]
    fn operations_stay_within_one_currency_between_different_customers() {
        let customers = vec![customer(&["USD", "EUR"]), customer(&["USD", "EUR"]), customer(&["USD", "EUR"])];
        let mut rng = StdRng::seed_from_u64(7);
        let mut kinds = std::collections::HashSet::new();
        for n in 0..500 {
            let (op, request, who) = next_op(&mut rng, &customers, format!("k{n}")).unwrap();
            kinds.insert(op.kind);
            assert_eq!(op.actor, customers[who].id);
            assert!(op.amount > Decimal::ZERO);
            assert_eq!(request.body["description"], op.key.as_str());
            let owned = |id: Option<Uuid>| customers[who].accounts.iter().any(|a| Some(a.id) == id);
            match op.kind {
                OpKind::Deposit => assert!(owned(op.to) && op.from.is_none()),
                OpKind::Withdrawal => assert!(owned(op.from) && op.to.is_none()),
                OpKind::Transfer => {
                    assert!(owned(op.from) && !owned(op.to));
                    let to = customers.iter().flat_map(|c| &c.accounts).find(|a| Some(a.id) == op.to).unwrap();
                    assert_eq!(to.currency, op.currency);
                }
            }
        }
        assert_eq!(kinds.len(), 3, "every kind of operation is drawn");
    }
}
