//! Per-client request rate limiting (GCRA through the `governor` crate).
//!
//! A coarse guard against floods: brute force on passwords is throttled
//! separately, per email and per address, by the core's login throttle.
//! Clients are keyed by the peer address of the TCP connection; behind a
//! reverse proxy every client shares the proxy's address, so raise the
//! limit or disable it there (forwarded headers are not trusted).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;
use std::sync::Arc;

/// How many requests a client may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Requests allowed in a burst above the sustained rate.
    pub burst: NonZeroU32,
}

/// The limiter: one GCRA cell per client address.
pub struct Limiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("clients", &self.limiter.len()).finish()
    }
}

impl Limiter {
    /// A limiter enforcing `limit`.
    pub fn new(limit: RateLimit) -> Limiter {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        Limiter { limiter: RateLimiter::keyed(quota), clock: DefaultClock::default() }
    }

    /// `Err(seconds to wait)` if the client is over its limit.
    pub fn check(&self, client: IpAddr) -> Result<(), u64> {
        self.limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets clients whose cells are full again, bounding memory.
    pub fn forget_idle_clients(&self) {
        self.limiter.retain_recent();
    }
}

/// Middleware: answers 429 with `Retry-After` when the client is over its limit.
pub async fn limit(State(limiter): State<Option<Arc<Limiter>>>, request: Request, next: Next) -> Response {
    if let Some(limiter) = limiter {
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        if let Err(retry_after_secs) = limiter.check(client) {
            return ApiError::too_many_requests("rate_limited", "too many requests; slow down", retry_after_secs)
                .into_response();
        }
    }
    next.run(request).await
}

/// Look-ups of a payee's name a user may make in a burst (confirmation of
/// payee: enough to check a few transfers, too few to map account numbers
/// to names).
pub const PAYEE_LOOKUPS_BURST: u32 = 20;
/// How many more a user may make per minute once the burst is spent.
pub const PAYEE_LOOKUPS_PER_MINUTE: u32 = 10;

/// The per-user budget of payee look-ups (`GET /api/payees/{number}`), on
/// top of the per-address limit every request goes through.
pub struct PayeeLookups {
    limiter: DefaultKeyedRateLimiter<ledger_core::UserId>,
    clock: DefaultClock,
}

impl std::fmt::Debug for PayeeLookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayeeLookups").field("users", &self.limiter.len()).finish()
    }
}

impl PayeeLookups {
    /// The budget of [`PAYEE_LOOKUPS_BURST`] and [`PAYEE_LOOKUPS_PER_MINUTE`].
    pub fn new() -> PayeeLookups {
        let per_minute = NonZeroU32::new(PAYEE_LOOKUPS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(PAYEE_LOOKUPS_BURST).unwrap_or(NonZeroU32::MIN);
        PayeeLookups {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds to wait)` if the user has spent their budget.
    pub fn check(&self, user: ledger_core::UserId) -> Result<(), u64> {
        self.limiter.check_key(&user).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

impl Default for PayeeLookups {
    fn default() -> Self {
        PayeeLookups::new()
    }
}
