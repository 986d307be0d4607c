//! The HTTP baseline: a minimal axum server that answers the balance route
//! (`GET /api/accounts/{id}/balance`) with a fixed JSON body, the bytes of
//! a real balance response of the service measured in the same sitting. It
//! runs as its own process (`ledger-bench-http-baseline`), on the runtime
//! `ledger-http` uses (`#[tokio::main]`: multi-threaded, one worker per
//! CPU) and the same `axum::serve` with connection info, so the same load
//! generator against both prices the service's own work: routing through
//! its middleware, authentication, the store read, serialization.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use tokio::net::TcpListener;

/// The route the load generator's balance reads call.
pub const BALANCE_ROUTE: &str = "/api/accounts/{id}/balance";

/// The baseline's routes: the balance route, answering `body` as JSON.
pub fn router(body: impl Into<Bytes>) -> Router {
    let body: Bytes = body.into();
    Router::new().route(
        BALANCE_ROUTE,
        get(move || {
            let body = body.clone();
            async move { ([(CONTENT_TYPE, "application/json")], body) }
        }),
    )
}

/// Binds `bind`, prints `listening on http://ADDR` (as ledger-http does)
/// and serves until killed.
pub async fn serve(bind: SocketAddr, body: String) -> std::io::Result<()> {
    let listener = TcpListener::bind(bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::Write::flush(&mut std::io::stdout())?;
    let service = router(body).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_baseline_answers_any_account_balance_with_the_fixed_body_as_json() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let body = r#"{"account_id":"x","posted":"1.00"}"#;
        tokio::spawn(axum::serve(listener, router(body)).into_future());
        let url = format!("http://{address}/api/accounts/0190f3a2-0000-7000-8000-000000000000/balance");
        let response = reqwest::Client::new().get(url).bearer_auth("ignored").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.text().await.unwrap(), body);
        let other = reqwest::get(format!("http://{address}/api/other")).await.unwrap();
        assert_eq!(other.status(), 404);
    }
}
