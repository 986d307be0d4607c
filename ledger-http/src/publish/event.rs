//! An event: one committed [`Change`] as the JSON every sink delivers.
//!
//! The body is a pure function of the change, and a change reads the same
//! forever (the store keeps it immutable), so every delivery of one
//! `event_id` carries byte-identical bytes, whichever instance sends it and
//! however often.

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use ledger_core::{Account, Change, ChangeKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::routes::accounts::dto::{AccountDto, BalanceDto};
use crate::routes::money::dto::TransactionDto;

/// A committed change, as published to NATS, RabbitMQ and webhooks.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Event)]
pub struct EventDto {
    /// Stable for the change: `evt_` and its sequence. Every delivery of
    /// one id carries the same body.
    pub event_id: String,
    /// Strictly increasing in commit order (not dense).
    pub sequence: u64,
    /// `transaction.posted`, `transaction.pending`, `transaction.voided`,
    /// `transaction.reversed`, `account.opened` or `account.status_changed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The commit time.
    pub at: DateTime<Utc>,
    /// For `transaction.*`: the transaction as `GET /api/transactions/{id}`
    /// shows it, as of this commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<TransactionDto>,
    /// For `account.*`: the account as of this commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountDto>,
    /// The balances of every account the change touched, as of this commit.
    pub balances: Vec<EventBalance>,
}

/// An account's balances as of an event's commit, on its normal side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventBalance {
    /// The account.
    pub account_id: Uuid,
    /// ISO 4217 code.
    pub currency: String,
    /// Sum of postings.
    pub posted: String,
    /// Sum of open holds.
    pub pending: String,
    /// posted minus pending.
    pub available: String,
}

impl From<&Account> for EventBalance {
    fn from(account: &Account) -> EventBalance {
        let BalanceDto { posted, pending, available } = BalanceDto::from(account);
        EventBalance {
            account_id: *account.id.as_uuid(),
            currency: account.currency.code().to_owned(),
            posted,
            pending,
            available,
        }
    }
}

impl From<&Change> for EventDto {
    fn from(change: &Change) -> EventDto {
        EventDto {
            event_id: change.event_id(),
            sequence: change.sequence,
            kind: change.kind.as_str().to_owned(),
            at: change.at,
            transaction: change.transaction.as_ref().map(TransactionDto::from),
            account: change.account.as_ref().map(AccountDto::from),
            balances: change.balances.iter().map(EventBalance::from).collect(),
        }
    }
}

/// An event ready to send: what routing needs, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `evt_<sequence>`.
    pub id: String,
    /// The change's sequence (the sink's cursor moves to it once confirmed).
    pub sequence: u64,
    /// What happened (routing: NATS subject, AMQP routing key).
    pub kind: ChangeKind,
    /// When the change committed (lag in seconds).
    pub at: DateTime<Utc>,
    /// The JSON body, identical on every rendering of this change.
    pub body: Bytes,
}

impl Event {
    /// Renders a change.
    pub fn render(change: &Change) -> Result<Event, serde_json::Error> {
        let body = serde_json::to_vec(&EventDto::from(change))?;
        Ok(Event {
            id: change.event_id(),
            sequence: change.sequence,
            kind: change.kind,
            at: change.at,
            body: Bytes::from(body),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ledger_core::{
        AccountKind, Actor, Amount, CHANGES_PAGE_MAX, Currency, Deposit, IdempotencyKey, Ledger, MemoryStore,
        OpenAccount, PlaceHold, UserId,
    };
    use serde_json::Value;

    use super::*;

    /// A ledger with an account opened, a deposit and a hold, and its feed.
    async fn feed() -> (Ledger, Vec<Change>) {
        let ledger = Ledger::open(MemoryStore::new()).await.unwrap();
        let start = ledger.events_after(0, CHANGES_PAGE_MAX).await.unwrap().last().map_or(0, |c| c.sequence);
        let me = Actor::System;
        let account = ledger
            .open_account(&me, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Eur))
            .await
            .unwrap();
        let deposit = Deposit {
            account: account.id,
            amount: Amount::parse("12.5").unwrap(),
            description: Some("salary".into()),
            metadata: Default::default(),
        };
        ledger.deposit(&me, IdempotencyKey::new("d").unwrap(), deposit).await.unwrap();
        let hold = PlaceHold {
            account: account.id,
            amount: Amount::parse("2").unwrap(),
            expires_at: None,
            destination: None,
            description: None,
            metadata: Default::default(),
        };
        ledger.place_hold(&me, IdempotencyKey::new("h").unwrap(), hold).await.unwrap();
        // Without the settlement account's opening (when it is opened is the ledger's business).
        let changes = ledger.events_after(start, CHANGES_PAGE_MAX).await.unwrap();
        let ours = |c: &Change| c.account.as_ref().is_none_or(|a| a.id == account.id);
        (ledger, changes.into_iter().filter(ours).collect())
    }

    #[tokio::test]
    async fn every_rendering_of_a_change_is_byte_identical_and_reads_back_the_same() {
        let (ledger, changes) = feed().await;
        assert_eq!(changes.len(), 3);
        let again = ledger.events_after(changes[0].sequence - 1, CHANGES_PAGE_MAX).await.unwrap();
        for first in &changes {
            let second = again.iter().find(|c| c.sequence == first.sequence).unwrap();
            let (a, b) = (Event::render(first).unwrap(), Event::render(second).unwrap());
            assert_eq!(a.body, b.body);
            assert_eq!(a, Event::render(first).unwrap());
            assert_eq!(a.id, format!("evt_{}", first.sequence));
        }
    }

    #[tokio::test]
    async fn the_json_has_the_documented_shape() {
        let (_, changes) = feed().await;
        let json: Vec<Value> =
            changes.iter().map(|c| serde_json::from_slice(&Event::render(c).unwrap().body).unwrap()).collect();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<std::collections::BTreeSet<_>>();
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<std::collections::BTreeSet<_>>();

        let opened = &json[0];
        assert_eq!(opened["type"], "account.opened");
        assert_eq!(keys(opened), set(&["event_id", "sequence", "type", "at", "account", "balances"]));
        assert_eq!(opened["event_id"], format!("evt_{}", opened["sequence"]));
        assert_eq!(opened["account"]["status"], "active");
        assert_eq!(opened["balances"][0]["posted"], "0.00");

        let posted = &json[1];
        assert_eq!(posted["type"], "transaction.posted");
        assert_eq!(keys(posted), set(&["event_id", "sequence", "type", "at", "transaction", "balances"]));
        assert_eq!(posted["transaction"]["kind"], "deposit");
        assert_eq!(posted["transaction"]["amount"], "12.50");
        assert_eq!(posted["transaction"]["postings"][0]["amount"], "12.50");
        let balance =
            posted["balances"].as_array().unwrap().iter().find(|b| b["account_id"] == opened["account"]["id"]);
        let balance = balance.unwrap();
        assert_eq!(keys(balance), set(&["account_id", "currency", "posted", "pending", "available"]));
        assert_eq!(
            (&balance["posted"], &balance["available"], &balance["currency"]),
            (&"12.50".into(), &"12.50".into(), &"EUR".into())
        );
        // The transaction is exactly what `GET /api/transactions/{id}` shows.
        let dto = TransactionDto::from(changes[1].transaction.as_ref().unwrap());
        assert_eq!(posted["transaction"], serde_json::to_value(dto).unwrap());

        let pending = &json[2];
        assert_eq!(pending["type"], "transaction.pending");
        assert_eq!(pending["transaction"]["status"], "pending");
        let held = pending["balances"].as_array().unwrap().iter().find(|b| b["account_id"] == opened["account"]["id"]);
        assert_eq!(held.unwrap()["available"], "10.50");
        assert!(json.windows(2).all(|w| w[0]["sequence"].as_u64() < w[1]["sequence"].as_u64()));
    }
}
