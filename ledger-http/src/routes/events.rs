//! Server-Sent Events: live balance and transaction changes of the
//! caller's accounts.
//!
//! Events: `balance` (a [`BalanceResponse`], `as_of` the change's time),
//! `transaction` (a [`TransactionDto`]), `profile` (the caller's
//! [`UserDto`] after their profile or KYC status changed: at once when this
//! instance made the change, else by the periodic session check) and
//! `lagged` (the data is how many events were missed; re-read balances). The stream ends when the session's
//! absolute lifetime ends, when a periodic check finds the session revoked
//! (logout, revocation, password change), or when the service shuts down.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use ledger_core::{AccountId, Actor, LedgerEvent, UserId};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::dto::{BalanceResponse, TransactionDto, UserDto};
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
        (status = 200, description = "`text/event-stream` with `balance`, `transaction`, `profile` and `lagged` events", body = String, content_type = "text/event-stream"),
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
    let first = serde_json::to_string(&UserDto::from(&auth.authenticated.user.view())).ok();
    let profile = profile_events(state.clone(), user, first);
    let end = stream_end(state.clone(), auth, session_left);
    let ledger_events = source
        .scan(mine, move |mine, item| futures::future::ready(Some(to_sse(mine, user, item))))
        .filter_map(futures::future::ready);
    let stream = futures::stream::select(ledger_events, profile).take_until(Box::pin(end)).map(Ok);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// `profile` events: the caller's profile each time it differs from the
/// last one sent (`first`: as the stream started), read when this instance
/// says it changed the user and at every session check (for changes made
/// elsewhere: another instance, the `admin kyc` command).
fn profile_events(state: AppState, user: UserId, first: Option<String>) -> impl Stream<Item = Event> + Send {
    let every = state.settings().event_session_check.max(Duration::from_millis(10));
    let nudges = futures::stream::unfold(state.user_changes().subscribe(), move |mut changes| async move {
        loop {
            match changes.recv().await {
                Ok(changed) if changed == user => return Some(((), changes)),
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => return Some(((), changes)),
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let ticks = futures::stream::unfold((), move |()| async move {
        tokio::time::sleep(every).await;
        Some(((), ()))
    });
    futures::stream::select(nudges, ticks)
        .then(move |()| {
            let state = state.clone();
            async move { state.ledger().user(&Actor::System, user).await.ok() }
        })
        .filter_map(|view| futures::future::ready(view.and_then(|v| serde_json::to_string(&UserDto::from(&v)).ok())))
        .scan(first, |last, json| {
            let changed = last.as_deref() != Some(json.as_str());
            let event = changed.then(|| Event::default().event("profile").data(json.clone()));
            *last = Some(json);
            futures::future::ready(Some(event))
        })
        .filter_map(futures::future::ready)
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
