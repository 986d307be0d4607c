//! Logs and traces: the tracing subscriber (`RUST_LOG` filters; default
//! `info`) writing to stderr, and, when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, an OpenTelemetry exporter
//! sending every span over OTLP/HTTP: a request's span (with its request
//! id), the ledger's command span and the storage call under it, as one
//! trace. The standard `OTEL_*` variables configure it
//! (`OTEL_EXPORTER_OTLP_PROTOCOL` `http/protobuf`, the default, or
//! `http/json`; `OTEL_SERVICE_NAME`; `OTEL_BSP_*` batching).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Why traces cannot be exported as configured.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A protocol this build does not speak.
    #[error("OTEL_EXPORTER_OTLP_PROTOCOL={0} is not supported: use http/protobuf or http/json")]
    Protocol(String),
    /// The exporter could not be built.
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
}

/// Keeps the trace exporter running; dropping it flushes what is buffered.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("ledger-http: flushing traces failed: {error}");
        }
    }
}

/// Installs the subscriber: JSON or text logs, and the OTLP exporter when
/// the environment asks for one. A second install (in tests) is refused;
/// the first subscriber stays.
pub fn init(json: bool) -> Result<Telemetry, TelemetryError> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = if json {
        tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr).boxed()
    } else {
        tracing_subscriber::fmt::layer().with_writer(std::io::stderr).boxed()
    };
    let provider = otlp_provider()?;
    let traces = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("ledger-http")));
    let _ = tracing_subscriber::registry().with(filter).with(logs).with(traces).try_init();
    Ok(Telemetry { provider })
}

/// The tracer provider exporting over OTLP/HTTP, if an endpoint is set.
fn otlp_provider() -> Result<Option<SdkTracerProvider>, TelemetryError> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if set("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() && set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none() {
        return Ok(None);
    }
    let protocol = match set("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
        None | Some("http/protobuf") => Protocol::HttpBinary,
        Some("http/json") => Protocol::HttpJson,
        Some(other) => return Err(TelemetryError::Protocol(other.to_owned())),
    };
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let service = set("OTEL_SERVICE_NAME").unwrap_or_else(|| "ledger-http".to_owned());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    Ok(Some(provider))
}
