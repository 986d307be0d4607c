//! Where live events come from.
//!
//! One instance sees the changes it commits through the ledger's in-process
//! channel ([`LocalEvents`]). With several instances on one PostgreSQL each
//! must also see the others' commits; that source (LISTEN/NOTIFY) arrives
//! with the SQL backend and plugs in through [`EventSource`] via
//! [`AppStateBuilder::events`](crate::AppStateBuilder::events).

use futures::StreamExt;
use futures::stream::BoxStream;
use ledger_core::{Ledger, LedgerEvent};
use tokio::sync::broadcast::error::RecvError;

/// One item of an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventItem {
    /// A committed change.
    Event(LedgerEvent),
    /// The subscriber fell behind and missed this many events; it should
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
