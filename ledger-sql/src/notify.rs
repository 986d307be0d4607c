//! PostgreSQL change notifications: what a commit announces
//! (`pg_notify` inside the storage transaction) and how a process hears it
//! ([`ChangeListener`], over `LISTEN`). See the [crate docs](crate#change-notifications-postgresql).

use std::collections::BTreeSet;

#[cfg(feature = "postgres")]
use ledger_core::StorageError;
use ledger_core::{AccountId, TransactionId, Writes};
#[cfg(feature = "postgres")]
use serde_json::Value as Json;
use serde_json::json;
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgListener, PgNotification};
#[cfg(feature = "postgres")]
use uuid::Uuid;

#[cfg(feature = "postgres")]
use crate::error::storage_error;
use crate::stmt::{Dialect, Stmt, Value};

/// The backend notifications come from, for errors.
#[cfg(feature = "postgres")]
const BACKEND: &str = Dialect::Postgres.backend();

/// The channel every commit notifies on (one per database; the payload
/// names the schema).
pub const CHANNEL: &str = "ledger_events";

/// The payload format's version, the `v` field.
pub const PAYLOAD_VERSION: u64 = 1;

/// At most this many ids (accounts and transactions together) go in one
/// notification: 100 ids are about 4 KB of JSON, well under PostgreSQL's
/// 8000-byte payload limit. Larger commits send several notifications.
pub(crate) const IDS_PER_NOTICE: usize = 100;

/// What one notification says changed: re-read these rows to see how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeNotice {
    /// Accounts opened or changed (status, balances).
    pub accounts: Vec<AccountId>,
    /// Transactions created or changed (a hold captured, voided, expired).
    pub transactions: Vec<TransactionId>,
}

/// What a [`ChangeListener`] hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Rows changed by a commit, in commit order.
    Notice(ChangeNotice),
    /// Notifications may have been missed (the listening connection was lost
    /// and has been re-established, or a payload was unreadable): re-read
    /// whatever is shown.
    Resync,
}

/// The ids a storage transaction's committed batches changed, gathered
/// while it runs and announced just before `COMMIT`.
#[derive(Debug, Default)]
pub(crate) struct Changed {
    accounts: BTreeSet<AccountId>,
    transactions: BTreeSet<TransactionId>,
}

impl Changed {
    /// Adds what one committed batch wrote.
    pub(crate) fn add(&mut self, writes: &Writes) {
        self.accounts.extend(writes.accounts().map(|a| a.id));
        self.transactions.extend(writes.transactions().map(|t| t.id));
    }

    /// The `pg_notify` statement announcing the changes to listeners of
    /// `schema`: none if nothing changed, else one statement sending a
    /// notification per [`IDS_PER_NOTICE`] ids, so a large commit still
    /// costs one round trip.
    pub(crate) fn statement(&self, schema: &str) -> Option<Stmt> {
        let payloads = payloads(schema, &self.accounts, &self.transactions);
        if payloads.is_empty() {
            return None;
        }
        let mut stmt = Stmt::new(Dialect::Postgres, "SELECT pg_notify(");
        stmt.bind(Value::Text(CHANNEL.to_owned())).push(", p.payload) FROM UNNEST(");
        stmt.bind(Value::TextArray(payloads)).push("::text[]) AS p(payload)");
        Some(stmt)
    }
}

/// The payloads (format [`PAYLOAD_VERSION`]) announcing these ids.
fn payloads(schema: &str, accounts: &BTreeSet<AccountId>, transactions: &BTreeSet<TransactionId>) -> Vec<String> {
    let ids: Vec<(bool, String)> = accounts
        .iter()
        .map(|a| (true, a.to_string()))
        .chain(transactions.iter().map(|t| (false, t.to_string())))
        .collect();
    ids.chunks(IDS_PER_NOTICE)
        .map(|chunk| {
            let accounts: Vec<&str> = chunk.iter().filter(|(a, _)| *a).map(|(_, id)| id.as_str()).collect();
            let transactions: Vec<&str> = chunk.iter().filter(|(a, _)| !*a).map(|(_, id)| id.as_str()).collect();
            json!({"v": PAYLOAD_VERSION, "schema": schema, "accounts": accounts, "transactions": transactions})
                .to_string()
        })
        .collect()
}

/// Reads a payload: `Some(notice)` for this schema, `None` for another
/// schema's; an error for anything unreadable or of another version.
#[cfg(feature = "postgres")]
fn parse(schema: &str, payload: &str) -> Result<Option<ChangeNotice>, String> {
    let json: Json = serde_json::from_str(payload).map_err(|e| format!("not JSON: {e}"))?;
    match json.get("v").and_then(Json::as_u64) {
        Some(PAYLOAD_VERSION) => {}
        other => return Err(format!("unknown payload version {other:?}")),
    }
    if json.get("schema").and_then(Json::as_str) != Some(schema) {
        return Ok(None);
    }
    let ids = |field: &str| -> Result<Vec<Uuid>, String> {
        let list = json.get(field).and_then(Json::as_array).ok_or_else(|| format!("no `{field}` list"))?;
        list.iter()
            .map(|id| id.as_str().and_then(|s| Uuid::parse_str(s).ok()).ok_or_else(|| format!("bad id in `{field}`")))
            .collect()
    };
    Ok(Some(ChangeNotice {
        accounts: ids("accounts")?.into_iter().map(AccountId::from_uuid).collect(),
        transactions: ids("transactions")?.into_iter().map(TransactionId::from_uuid).collect(),
    }))
}

#[cfg(feature = "postgres")]
/// Hears the changes committed to one store's schema, by any process, in
/// commit order. Open it with [`SqlStore::listen`](crate::SqlStore::listen).
pub struct ChangeListener {
    listener: PgListener,
    schema: String,
}

#[cfg(feature = "postgres")]
impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListener").field("schema", &self.schema).finish()
    }
}

#[cfg(feature = "postgres")]
impl ChangeListener {
    pub(crate) fn new(listener: PgListener, schema: String) -> ChangeListener {
        ChangeListener { listener, schema }
    }

    /// The next change. A lost connection is re-established before this
    /// returns [`Change::Resync`]; an error means it could not be (call
    /// again, or open a new listener, after a pause).
    pub async fn recv(&mut self) -> Result<Change, StorageError> {
        loop {
            let received = self.listener.try_recv().await;
            match received.map_err(|e| storage_error(BACKEND, "listening for ledger changes", e))? {
                None => return Ok(Change::Resync),
                Some(notification) => {
                    if let Some(change) = self.read(&notification) {
                        return Ok(change);
                    }
                }
            }
        }
    }

    /// A notification's change, or `None` if it is another schema's.
    fn read(&self, notification: &PgNotification) -> Option<Change> {
        match parse(&self.schema, notification.payload()) {
            Ok(notice) => notice.map(Change::Notice),
            Err(error) => {
                tracing::warn!(%error, "unreadable ledger change notification; asking for a resync");
                Some(Change::Resync)
            }
        }
    }
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_stay_small() {
        let accounts: BTreeSet<AccountId> = (0..150).map(|_| AccountId::new()).collect();
        let transactions: BTreeSet<TransactionId> = (0..70).map(|_| TransactionId::new()).collect();
        let sent = payloads("ledger_t_x", &accounts, &transactions);
        assert_eq!(sent.len(), 3);
        let mut seen = ChangeNotice::default();
        for payload in &sent {
            assert!(payload.len() < 8000, "{} bytes", payload.len());
            let notice = parse("ledger_t_x", payload).ok().flatten().unwrap_or_default();
            seen.accounts.extend(notice.accounts);
            seen.transactions.extend(notice.transactions);
        }
        assert_eq!(seen.accounts, accounts.into_iter().collect::<Vec<_>>());
        assert_eq!(seen.transactions, transactions.into_iter().collect::<Vec<_>>());
        assert_eq!(parse("other", &sent[0]), Ok(None));
        assert!(parse("ledger_t_x", r#"{"v":2,"schema":"ledger_t_x"}"#).is_err());
        assert!(parse("ledger_t_x", "resync").is_err());
    }
}
