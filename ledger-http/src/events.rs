//! Where live events come from.
//!
//! Two sources plug in through [`EventSource`] (see
//! [`AppStateBuilder::events`](crate::AppStateBuilder::events)):
//!
//! - [`LocalEvents`], the ledger's in-process channel: the changes this
//!   instance commits. Right for one instance (memory, sled, SQLite).
//! - [`SharedEvents`](crate::shared_events::SharedEvents), PostgreSQL
//!   `LISTEN`/`NOTIFY` (`shared_events.rs`): the changes every
//!   instance on the database commits, this one's included. Each commit
//!   announces the ids of the accounts and transactions it changed (see
//!   `ledger_sql`'s docs); a background task hears the announcement,
//!   re-reads those rows from the store and hands them to subscribers as
//!   [`LedgerEvent`]s. On PostgreSQL it is the *only* source, so a commit
//!   reaches each subscriber once, in commit order, on whichever instance
//!   it was made. It costs the round trip of the notification.
//!

use futures::StreamExt;
use futures::stream::BoxStream;
use ledger_core::{Ledger, LedgerEvent};
use tokio::sync::broadcast::error::RecvError;

/// One item of an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventItem {
    /// A committed change.
    Event(Box<LedgerEvent>),
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
                Ok(event) => Some((EventItem::Event(Box::new(event)), receiver)),
                Err(RecvError::Lagged(missed)) => Some((EventItem::Lagged(missed), receiver)),
                Err(RecvError::Closed) => None,
            }
        })
        .boxed()
    }
}
