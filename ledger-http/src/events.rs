//! Where live events come from.
//!
//! Two sources plug in through [`EventSource`] (see
//! [`AppStateBuilder::events`](crate::AppStateBuilder::events)):
//!
//! - [`LocalEvents`], the ledger's in-process channel: the changes this
//!   instance commits. Right for one instance (memory, sled, SQLite).
//! - [`SharedEvents`], PostgreSQL `LISTEN`/`NOTIFY`: the changes every
//!   instance on the database commits, this one's included. Each commit
//!   announces the ids of the accounts and transactions it changed (see
//!   `ledger_sql`'s docs); a background task hears the announcement,
//!   re-reads those rows from the store and hands them to subscribers as
//!   [`LedgerEvent`]s. On PostgreSQL it is the *only* source, so a commit
//!   reaches each subscriber once, in commit order, on whichever instance
//!   it was made. It costs the round trip of the notification.
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
use ledger_core::{Ledger, LedgerEvent, StorageError, Store};
use ledger_sql::{Change, ChangeListener, ChangeNotice, SqlStore};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::{CancellationToken, DropGuard};

/// The longest pause between attempts to re-establish a lost listener.
pub const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// The first pause after a listener is lost.
const RECONNECT_MIN: Duration = Duration::from_millis(100);

/// One item of an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventItem {
    /// A committed change.
    Event(LedgerEvent),
    /// The subscriber fell behind and missed this many events (`0`: an
    /// unknown number, after a lost notification connection); it should
    /// re-read what it shows.
    Lagged(u64),
}

/// A source of committed ledger changes.
pub trait EventSource: Send + Sync + 'static {
    /// A stream of changes committed from now on. Subscribing happens when
    /// this returns, so nothing committed afterwards is missed.
    fn subscribe(&self) -> BoxStream<'static, EventItem>;
}

/// The ledger's in-process channel: the changes this instance commits.
#[derive(Debug, Clone)]
pub struct LocalEvents {
    ledger: Ledger,
}

impl LocalEvents {
    /// Events of this ledger.
    pub fn new(ledger: Ledger) -> LocalEvents {
        LocalEvents { ledger }
    }
}

impl EventSource for LocalEvents {
    fn subscribe(&self) -> BoxStream<'static, EventItem> {
        let receiver = self.ledger.subscribe();
        futures::stream::unfold(receiver, |mut receiver| async move {
            match receiver.recv().await {
                Ok(event) => Some((EventItem::Event(event), receiver)),
                Err(RecvError::Lagged(missed)) => Some((EventItem::Lagged(missed), receiver)),
                Err(RecvError::Closed) => None,
            }
        })
        .boxed()
    }
}

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
            Ok(Some(account)) => drop(sender.send(EventItem::Event(LedgerEvent::Account(account)))),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, account = %id, "cannot re-read a changed account");
                failed = true;
            }
        }
    }
    for id in notice.transactions {
        match store.transaction(id).await {
            Ok(Some(transaction)) => drop(sender.send(EventItem::Event(LedgerEvent::Transaction(transaction)))),
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
