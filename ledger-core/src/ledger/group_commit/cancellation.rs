//! What keeps group commit safe when a caller's future is dropped (see
//! "Drop safety" in the parent module): a queued caller's [`Waiter`] passes
//! on leadership it can no longer use, and a leader's [`InFlight`] commit
//! finishes on a task of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::{Outcomes, Shared, Turn};

/// A queued caller's end of its reply channel. If the caller is dropped
/// after leadership was sent to it, the destructor passes leadership on.
pub(super) struct Waiter {
    pub(super) shared: Arc<Shared>,
    pub(super) receiver: Option<oneshot::Receiver<Turn>>,
}

impl Waiter {
    /// The turn, or `None` if its leader vanished without answering.
    pub(super) async fn turn(&mut self) -> Option<Turn> {
        let receiver = self.receiver.as_mut()?;
        let turn = receiver.await.ok();
        // Received: nothing is left for the destructor to pass on.
        self.receiver = None;
        turn
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(mut receiver) = self.receiver.take() {
            // Closing first makes the check race-free: a leader sending after
            // this point sees the channel closed and tries the next caller.
            receiver.close();
            if let Ok(Turn::Lead(_)) = receiver.try_recv() {
                self.shared.hand_over();
            }
        }
    }
}

pub(super) type Flight = Pin<Box<dyn Future<Output = Outcomes> + Send + 'static>>;

/// A commit in flight, awaited by its leader. If the leader is dropped before
/// the commit ends, the commit finishes on a task of its own.
pub(super) struct InFlight(pub(super) Option<Flight>);

impl Future for InFlight {
    type Output = Outcomes;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcomes> {
        let Some(flight) = self.0.as_mut() else {
            return Poll::Pending;
        };
        let outcomes = std::task::ready!(flight.as_mut().poll(cx));
        self.0 = None;
        Poll::Ready(outcomes)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(flight) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                // The leader is gone; its followers get their outcomes from `commit`.
                let _ = flight.await;
            });
        }
    }
}
