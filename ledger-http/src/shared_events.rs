//! [`SharedEvents`]: live events on PostgreSQL through `LISTEN`/`NOTIFY`,
//! so every instance on one database sees every commit (see `events.rs`).
//!
//! When the listening connection drops, the task reconnects with
//! exponential backoff (up to [`RECONNECT_MAX`]) and then sends every
//! subscriber [`EventItem::Lagged`] with `0` (an unknown number of changes
//! missed): re-read what is shown. A failed re-read does the same.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use ledger_core::event::EVENT_BUFFER_LEN;
use ledger_core::{LedgerEvent, StorageError, Store};
use ledger_sql::{Change, ChangeListener, ChangeNotice, SqlStore};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::events::{EventItem, EventSource};

/// The longest pause between attempts to re-establish a lost listener.
pub const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// The first pause after a listener is lost.
const RECONNECT_MIN: Duration = Duration::from_millis(100);

/// The changes every instance on one PostgreSQL database commits, heard
/// through `LISTEN`/`NOTIFY` (see the [module docs](self)). The background
/// task stops when the last clone of this source is dropped.
#[derive(Clone)]
pub struct SharedEvents {
    sender: broadcast::Sender<EventItem>,
    _stop: Arc<DropGuard>,
}

impl std::fmt::Debug for SharedEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedEvents").field("subscribers", &self.sender.receiver_count()).finish()
    }
}

impl SharedEvents {
    /// Starts listening on the store's database and relaying its changes.
    /// Fails if the first `LISTEN` does (SQLite, notifications off, or the
    /// database unreachable); later losses are retried in the background.
    /// Must be called within a Tokio runtime.
    pub async fn start(store: Arc<SqlStore>) -> Result<SharedEvents, StorageError> {
        let listener = store.listen().await?;
        let (sender, _) = broadcast::channel(EVENT_BUFFER_LEN);
        let stop = CancellationToken::new();
        tokio::spawn(relay(store, listener, sender.clone(), stop.clone()));
        Ok(SharedEvents { sender, _stop: Arc::new(stop.drop_guard()) })
    }
}

impl EventSource for SharedEvents {
    fn subscribe(&self) -> BoxStream<'static, EventItem> {
        let receiver = self.sender.subscribe();
        futures::stream::unfold(receiver, |mut receiver| async move {
            match receiver.recv().await {
                Ok(item) => Some((item, receiver)),
                Err(RecvError::Lagged(missed)) => Some((EventItem::Lagged(missed), receiver)),
                Err(RecvError::Closed) => None,
            }
        })
        .boxed()
    }
}

/// Hears changes and relays them until `stop`; re-listens with backoff
/// when the listener fails.
async fn relay(
    store: Arc<SqlStore>,
    listener: ChangeListener,
    sender: broadcast::Sender<EventItem>,
    stop: CancellationToken,
) {
    let mut listener = Some(listener);
    let mut pause = RECONNECT_MIN;
    loop {
        let Some(current) = listener.as_mut() else {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
            match store.listen().await {
                Ok(new) => {
                    tracing::info!("listening for ledger changes again");
                    listener = Some(new);
                    pause = RECONNECT_MIN;
                    // Whatever was committed while no one listened is unknown.
                    let _ = sender.send(EventItem::Lagged(0));
                }
                Err(error) => {
                    pause = (pause * 2).min(RECONNECT_MAX);
                    tracing::warn!(%error, ?pause, "cannot listen for ledger changes; retrying");
                }
            }
            continue;
        };
        let change = tokio::select! {
            () = stop.cancelled() => return,
            change = current.recv() => change,
        };
        match change {
            Ok(Change::Notice(notice)) => relay_notice(store.as_ref(), &sender, notice).await,
            Ok(Change::Resync) => {
                tracing::warn!("ledger change notifications may have been missed; subscribers re-read");
                let _ = sender.send(EventItem::Lagged(0));
            }
            Err(error) => {
                tracing::warn!(%error, "lost the ledger change listener; reconnecting");
                listener = None;
            }
        }
    }
}

/// Re-reads the rows a notice names and sends them as events: accounts
/// first, then transactions, as the ledger itself publishes them.
async fn relay_notice(store: &dyn Store, sender: &broadcast::Sender<EventItem>, notice: ChangeNotice) {
    // No subscribers is not an error: events are a convenience for live views.
    if sender.receiver_count() == 0 {
        return;
    }
    let mut failed = false;
    for id in notice.accounts {
        match store.account(id).await {
            Ok(Some(account)) => drop(sender.send(EventItem::Event(Box::new(LedgerEvent::Account(account))))),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, account = %id, "cannot re-read a changed account");
                failed = true;
            }
        }
    }
    for id in notice.transactions {
        match store.transaction(id).await {
            Ok(Some(transaction)) => {
                drop(sender.send(EventItem::Event(Box::new(LedgerEvent::Transaction(transaction)))))
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, transaction = %id, "cannot re-read a changed transaction");
                failed = true;
            }
        }
    }
    if failed {
        let _ = sender.send(EventItem::Lagged(0));
    }
}
