//! What to publish where: the sinks the flags enable, checked at start-up
//! so a mistake stops the service with a clear message instead of failing
//! quietly forever.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

use crate::state::WebhookSecret;

/// The longest webhook URL, in bytes (its sink name is kept by every store).
pub const WEBHOOK_URL_LEN_MAX: usize = 400;

/// The default JetStream stream.
pub const NATS_STREAM_DEFAULT: &str = "LEDGER";
/// The default subject prefix: events go to `<prefix>.<type>`.
pub const NATS_SUBJECT_PREFIX_DEFAULT: &str = "ledger";
/// The default AMQP exchange.
pub const AMQP_EXCHANGE_DEFAULT: &str = "ledger";
/// How long a sink may fail before `/health` reports it, by default.
pub const DEGRADED_AFTER_DEFAULT: Duration = Duration::from_secs(60);

/// Why the publishing flags were refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A webhook URL that does not parse, or is not http(s).
    #[error("--publish-webhook {url:?}: {reason}")]
    WebhookUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Webhooks without `--publish-webhook-secret`.
    #[error("--publish-webhook needs --publish-webhook-secret (LEDGER_PUBLISH_WEBHOOK_SECRET), a non-empty secret")]
    WebhookSecretMissing,
    /// The same webhook twice.
    #[error("--publish-webhook {0:?} is given twice")]
    WebhookTwice(String),
    /// A NATS URL the client does not accept.
    #[error("--publish-nats: {0}")]
    NatsUrl(String),
    /// A stream or subject prefix NATS does not accept.
    #[error("--publish-nats-stream and --publish-nats-subject-prefix: {0}")]
    NatsNames(&'static str),
    /// An AMQP URL the client does not accept.
    #[error("--publish-amqp: {0}")]
    AmqpUrl(String),
    /// An exchange name AMQP does not accept.
    #[error("--publish-amqp-exchange: 1 to 127 letters, digits, '-', '_', '.' or ':'")]
    AmqpExchange,
}

/// A JetStream sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsSettings {
    /// The server, `nats://host:port`.
    pub url: String,
    /// The stream (created if absent).
    pub stream: String,
    /// Events go to `<subject_prefix>.<type>`; the stream holds `<subject_prefix>.>`.
    pub subject_prefix: String,
}

/// A RabbitMQ (AMQP 0-9-1) sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpSettings {
    /// `amqp://user:password@host:port/vhost`.
    pub url: String,
    /// The durable topic exchange (declared if absent).
    pub exchange: String,
}

/// Every sink to run, checked.
#[derive(Debug, Clone)]
pub struct PublishSettings {
    /// NATS JetStream, if enabled.
    pub nats: Option<NatsSettings>,
    /// RabbitMQ, if enabled.
    pub amqp: Option<AmqpSettings>,
    /// Webhook endpoints, each a sink of its own.
    pub webhooks: Vec<Url>,
    /// The webhooks' signing secret (present when `webhooks` is not empty).
    pub webhook_secret: Option<WebhookSecret>,
    /// How long a sink may fail before `/health` names it.
    pub degraded_after: Duration,
}

/// The flags as given, before checking.
#[derive(Debug, Clone, Default)]
pub struct PublishFlags {
    /// `--publish-nats`.
    pub nats: Option<String>,
    /// `--publish-nats-stream`.
    pub nats_stream: Option<String>,
    /// `--publish-nats-subject-prefix`.
    pub nats_subject_prefix: Option<String>,
    /// `--publish-amqp`.
    pub amqp: Option<String>,
    /// `--publish-amqp-exchange`.
    pub amqp_exchange: Option<String>,
    /// `--publish-webhook` (each).
    pub webhooks: Vec<String>,
    /// `--publish-webhook-secret`.
    pub webhook_secret: Option<String>,
    /// `--publish-degraded-after-secs`.
    pub degraded_after: Option<Duration>,
}

impl PublishSettings {
    /// Checks the flags.
    pub fn from_flags(flags: PublishFlags) -> Result<PublishSettings, SettingsError> {
        let nats = flags
            .nats
            .map(|url| {
                nats_settings(
                    url,
                    flags.nats_stream.unwrap_or_else(|| NATS_STREAM_DEFAULT.to_owned()),
                    flags.nats_subject_prefix.unwrap_or_else(|| NATS_SUBJECT_PREFIX_DEFAULT.to_owned()),
                )
            })
            .transpose()?;
        let amqp = flags
            .amqp
            .map(|url| amqp_settings(url, flags.amqp_exchange.unwrap_or_else(|| AMQP_EXCHANGE_DEFAULT.to_owned())))
            .transpose()?;
        let mut webhooks: Vec<Url> = Vec::new();
        for text in flags.webhooks.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
            let url = webhook_url(text)?;
            if webhooks.contains(&url) {
                return Err(SettingsError::WebhookTwice(text.to_owned()));
            }
            webhooks.push(url);
        }
        let webhook_secret = flags.webhook_secret.and_then(WebhookSecret::new);
        if !webhooks.is_empty() && webhook_secret.is_none() {
            return Err(SettingsError::WebhookSecretMissing);
        }
        Ok(PublishSettings {
            nats,
            amqp,
            webhooks,
            webhook_secret,
            degraded_after: flags.degraded_after.unwrap_or(DEGRADED_AFTER_DEFAULT),
        })
    }

    /// Whether any sink is enabled.
    pub fn any(&self) -> bool {
        self.nats.is_some() || self.amqp.is_some() || !self.webhooks.is_empty()
    }
}

fn nats_settings(url: String, stream: String, subject_prefix: String) -> Result<NatsSettings, SettingsError> {
    url.parse::<async_nats::ServerAddr>().map_err(|e| SettingsError::NatsUrl(e.to_string()))?;
    // JetStream stream names: no whitespace, '.', '*', '>', path separators.
    let stream_ok = !stream.is_empty()
        && stream.len() <= 64
        && stream.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !stream_ok {
        return Err(SettingsError::NatsNames("the stream is 1 to 64 letters, digits, '-' or '_'"));
    }
    let prefix_ok = !subject_prefix.is_empty()
        && subject_prefix.len() <= 128
        && subject_prefix
            .split('.')
            .all(|token| !token.is_empty() && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if !prefix_ok {
        return Err(SettingsError::NatsNames(
            "the subject prefix is dot-separated tokens of letters, digits, '-' or '_' (no wildcards)",
        ));
    }
    Ok(NatsSettings { url, stream, subject_prefix })
}

fn amqp_settings(url: String, exchange: String) -> Result<AmqpSettings, SettingsError> {
    url.parse::<lapin::uri::AMQPUri>().map_err(SettingsError::AmqpUrl)?;
    let exchange_ok = !exchange.is_empty()
        && exchange.len() <= 127
        && !exchange.starts_with("amq.")
        && exchange.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if !exchange_ok {
        return Err(SettingsError::AmqpExchange);
    }
    Ok(AmqpSettings { url, exchange })
}

/// A webhook URL: https anywhere, http only to a loopback address (a
/// signed body over plain http elsewhere would travel readable).
pub fn webhook_url(text: &str) -> Result<Url, SettingsError> {
    let refuse = |reason| SettingsError::WebhookUrl { url: text.to_owned(), reason };
    if text.len() > WEBHOOK_URL_LEN_MAX {
        return Err(refuse("longer than 400 bytes"));
    }
    let url = Url::parse(text).map_err(|_| refuse("not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("credentials in the URL are refused (it is shown in /health and /metrics)"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(refuse("http only to a loopback address (127.0.0.0/8, ::1, localhost); use https")),
        _ => Err(refuse("the scheme must be https (or http to a loopback address)")),
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn webhooks(urls: &[&str], secret: Option<&str>) -> Result<PublishSettings, SettingsError> {
        PublishSettings::from_flags(PublishFlags {
            webhooks: urls.iter().map(|u| u.to_string()).collect(),
            webhook_secret: secret.map(str::to_owned),
            ..PublishFlags::default()
        })
    }

    #[test]
    fn http_is_accepted_only_for_loopback_hosts_and_https_everywhere() {
        for fine in [
            "http://127.0.0.1:9000/hook",
            "http://127.8.9.10/x",
            "http://[::1]:80/",
            "http://localhost/h",
            "https://example.com/hook",
        ] {
            assert!(webhook_url(fine).is_ok(), "{fine}");
        }
        for refused in [
            "http://example.com/hook",
            "http://10.0.0.1/",
            "http://[::2]/",
            "ftp://127.0.0.1/",
            "https://",
            "not a url",
            "/relative",
            "https://user:pw@example.com/",
        ] {
            assert!(matches!(webhook_url(refused), Err(SettingsError::WebhookUrl { .. })), "{refused}");
        }
        let long = format!("https://example.com/{}", "a".repeat(WEBHOOK_URL_LEN_MAX));
        assert!(webhook_url(&long).is_err());
    }

    #[test]
    fn webhooks_need_a_non_empty_secret_and_distinct_urls() {
        assert_eq!(webhooks(&["https://example.com/a"], None).unwrap_err(), SettingsError::WebhookSecretMissing);
        assert_eq!(webhooks(&["https://example.com/a"], Some("")).unwrap_err(), SettingsError::WebhookSecretMissing);
        let twice = webhooks(&["https://example.com/a", "https://example.com/a"], Some("s")).unwrap_err();
        assert!(matches!(twice, SettingsError::WebhookTwice(_)));
        let two = webhooks(&["https://example.com/a", " ", "http://127.0.0.1:1/b"], Some("s")).unwrap();
        assert_eq!(two.webhooks.len(), 2);
        assert!(two.any());
        // No webhook, no secret needed; nothing enabled.
        let none = webhooks(&[], None).unwrap();
        assert!(!none.any());
        assert_eq!(none.degraded_after, DEGRADED_AFTER_DEFAULT);
    }

    #[test]
    fn broker_urls_and_names_are_checked() {
        let nats = |url: &str, stream: &str, prefix: &str| nats_settings(url.into(), stream.into(), prefix.into());
        assert!(nats("nats://127.0.0.1:4222", "LEDGER", "ledger").is_ok());
        assert!(nats("nats://127.0.0.1:4222", "T_1-x", "a.b-c").is_ok());
        assert!(matches!(nats("nats://127.0.0.1:4222", "A.B", "ledger"), Err(SettingsError::NatsNames(_))));
        assert!(matches!(nats("nats://127.0.0.1:4222", "", "ledger"), Err(SettingsError::NatsNames(_))));
        for prefix in ["", "a.>", "a.*", "a..b", "a b"] {
            assert!(matches!(nats("nats://127.0.0.1:4222", "S", prefix), Err(SettingsError::NatsNames(_))), "{prefix}");
        }
        assert!(matches!(nats("nats://[bad", "S", "p"), Err(SettingsError::NatsUrl(_))));
        let amqp = |url: &str, exchange: &str| amqp_settings(url.into(), exchange.into());
        assert!(amqp("amqp://guest:guest@127.0.0.1:5672/%2f", "ledger").is_ok());
        assert!(matches!(amqp("http://127.0.0.1/", "ledger"), Err(SettingsError::AmqpUrl(_))));
        for exchange in ["", "amq.topic", "a b", &"x".repeat(128)] {
            assert!(matches!(amqp("amqp://127.0.0.1", exchange), Err(SettingsError::AmqpExchange)), "{exchange}");
        }
    }
}
