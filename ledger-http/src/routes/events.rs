//! Server-Sent Events: live balance and transaction changes of the
//! caller's accounts.
//!
//! Events: `balance` (a [`BalanceResponse`], `as_of` the change's time),
//! `transaction` (a [`TransactionDto`]) and `lagged` (the data is how many
//! events were missed; re-read balances). The stream ends when the session's
//! absolute lifetime ends, when a periodic check finds the session revoked
//! (logout, revocation, password change), or when the service shuts down.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use ledger_core::{AccountId, LedgerEvent, UserId};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::dto::{BalanceResponse, TransactionDto};
use crate::error::{ApiError, Problem};
use crate::events::EventItem;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// A stream of the caller's balance and transaction changes.
#[utoipa::path(
    get,
    path = "/api/events",
    tag = "events",
    responses(
        (status = 200, description = "`text/event-stream` with `balance`, `transaction` and `lagged` events", body = String, content_type = "text/event-stream"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn events(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Subscribe before reading the accounts, so a change between the two is not lost.
    let source = state.events().subscribe();
    let user = auth.authenticated.user.id;
    let accounts = state.ledger().accounts_of(&auth.actor(), user).await?;
    let mine: HashSet<AccountId> = accounts.iter().map(|a| a.id).collect();
    let session_left = (auth.authenticated.session.expires_at - state.ledger().now()).to_std().unwrap_or_default();
    let end = stream_end(state.clone(), auth, session_left);
    let stream = source
        .scan(mine, move |mine, item| futures::future::ready(Some(to_sse(mine, user, item))))
        .filter_map(futures::future::ready)
        .take_until(Box::pin(end))
        .map(Ok);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Completes when the stream must end: shutdown, the session's absolute
/// end, or a periodic check finding the session revoked or expired.
async fn stream_end(state: AppState, auth: Auth, session_left: Duration) {
    let every = state.settings().event_session_check.max(Duration::from_millis(10));
    let revoked = async {
        loop {
            tokio::time::sleep(every).await;
            if state.ledger().authenticate(auth.token.expose()).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = state.shutdown().cancelled() => {}
        () = tokio::time::sleep(session_left) => {}
        () = revoked => {}
    }
}

/// The event for the caller, if the change concerns one of their accounts.
/// Accounts opened after subscribing join the set when their first event arrives.
fn to_sse(mine: &mut HashSet<AccountId>, user: UserId, item: EventItem) -> Option<Event> {
    match item {
        EventItem::Event(event) => event_for(mine, user, *event),
        EventItem::Lagged(missed) => Some(Event::default().event("lagged").data(missed.to_string())),
    }
}

/// A committed change as the caller's event, if it concerns them.
fn event_for(mine: &mut HashSet<AccountId>, user: UserId, event: LedgerEvent) -> Option<Event> {
    match event {
        LedgerEvent::Account(account) => {
            if account.owner != user {
                return None;
            }
            mine.insert(account.id);
            json_event("balance", &BalanceResponse::new(&account, account.updated_at))
        }
        LedgerEvent::Transaction(transaction) => {
            let touches_mine = transaction.accounts().iter().any(|account| mine.contains(account));
            touches_mine.then(|| json_event("transaction", &TransactionDto::from(&transaction))).flatten()
        }
    }
}

fn json_event<T: Serialize>(name: &str, data: &T) -> Option<Event> {
    Event::default().event(name).json_data(data).ok()
}
