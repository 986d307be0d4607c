//! Signed webhooks: each endpoint a sink of its own (own cursor, own
//! order). A POST of the event JSON with `Ledger-Signature: t=<unix
//! seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the format the
//! service's own inbound webhook verifies; delivered once it answers 2xx.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::CONTENT_TYPE;

use super::event::Event;
use super::sink::{Sink, SinkError};
use crate::routes::webhook::sign;
use crate::state::WebhookSecret;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Ledger-Signature";
/// The event id header (also in the body), for receivers that dedupe early.
pub const EVENT_ID_HEADER: &str = "Ledger-Event-Id";
/// How long one POST may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One webhook endpoint.
pub struct WebhookSink {
    url: Url,
    name: String,
    secret: WebhookSecret,
    client: reqwest::Client,
}

impl WebhookSink {
    /// A sink posting to `url`, signed with `secret`.
    pub fn new(url: Url, secret: WebhookSecret) -> Result<WebhookSink, SinkError> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            // A redirect could leave the checked scheme and host behind.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ledger-http/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SinkError::Misconfigured(format!("cannot build the HTTP client: {e}")))?;
        Ok(WebhookSink { name: format!("webhook:{url}"), url, secret, client })
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn prepare(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    async fn send(&mut self, event: &Event) -> Result<(), SinkError> {
        let signature = sign(self.secret.expose(), chrono::Utc::now().timestamp(), &event.body);
        let response = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(EVENT_ID_HEADER, event.id.as_str())
            .body(event.body.clone())
            .send()
            .await
            .map_err(|e| SinkError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(SinkError::Refused(format!("answered {status}"))) }
    }

    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    use super::*;

    /// What a receiver does, written independently of `sign`.
    fn verify(secret: &[u8], header: &str, body: &[u8]) -> bool {
        let Some((t, v1)) = header.split_once(',') else { return false };
        let (Some(t), Some(v1)) = (t.strip_prefix("t="), v1.strip_prefix("v1=")) else { return false };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        let expected = mac.finalize().into_bytes();
        hex::decode(v1).is_ok_and(|given| given.as_slice() == expected.as_slice())
    }

    #[test]
    fn the_signature_is_t_and_the_hex_hmac_sha256_of_t_dot_body() {
        let body = br#"{"event_id":"evt_4096"}"#;
        let header = sign(b"whsec_out", 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="), "{header}");
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        assert!(verify(b"whsec_out", &header, body));
        assert!(!verify(b"other secret", &header, body));
        assert!(!verify(b"whsec_out", &header, br#"{"event_id":"evt_4097"}"#));
        let restamped = header.replace("t=1700000000", "t=1700000001");
        assert!(!verify(b"whsec_out", &restamped, body));
    }
}
