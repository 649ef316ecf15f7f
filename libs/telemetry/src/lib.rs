//! Logs, traces and metrics, set up the same way in every service.
//!
//! - Logs are JSON lines; fields of the current span (the request span carries `request_id`
//!   and `trace_id`) are flattened into each line.
//! - When `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are exported over OTLP/gRPC and W3C
//!   `traceparent` headers continue incoming traces. Without it, a trace id is still taken
//!   from `traceparent` or made up, so log lines of one request can be found together.
//! - Metrics live in the process-wide Prometheus registry ([`registry`]) rendered by
//!   [`render_metrics`] at `/metrics`.

use std::sync::OnceLock;

use opentelemetry::{
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use prometheus::{Encoder, Registry, TextEncoder};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

static OTEL_ON: OnceLock<bool> = OnceLock::new();

/// Flushes exported spans when dropped; keep it alive for the whole of `main`.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the JSON log subscriber (and the OTLP exporter when configured).
///
/// `log_level` takes `info` or full directives (`info,sqlx=warn`).
pub fn init(service_name: &'static str, log_level: &str) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_new(log_level)
        .map_err(|e| anyhow::anyhow!("LOG_LEVEL is not a valid filter: {e}"))?;
    let fmt = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true);

    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty());
    let provider = match endpoint {
        Some(_) => {
            // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT and the other OTEL_* itself.
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()?;
            let resource = opentelemetry_sdk::Resource::builder()
                .with_service_name(service_name)
                .build();
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource)
                    .build(),
            )
        }
        None => None,
    };
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(service_name))
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
    });
    let _ = OTEL_ON.set(provider.is_some());
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()?;
    Ok(TelemetryGuard { provider })
}

use tracing_subscriber::Layer as _;

/// Whether spans are being exported (then trace ids come from OpenTelemetry).
pub fn otel_enabled() -> bool {
    OTEL_ON.get().copied().unwrap_or(false)
}

struct HeaderExtract<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtract<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes `span` continue the caller's trace (W3C `traceparent`) and returns the trace id to
/// log with it.
pub fn adopt_trace(span: &tracing::Span, headers: &http::HeaderMap) -> String {
    let parent = TraceContextPropagator::new().extract(&HeaderExtract(headers));
    let remote = parent.span().span_context().clone();
    if otel_enabled() {
        let _ = span.set_parent(parent);
        let id = span.context().span().span_context().trace_id();
        if id != opentelemetry::TraceId::INVALID {
            return id.to_string();
        }
    }
    if remote.is_valid() {
        remote.trace_id().to_string()
    } else {
        format!("{:032x}", rand_u128())
    }
}

/// The current span's context as a `traceparent` value, for outgoing messages.
pub fn current_traceparent() -> Option<String> {
    if !otel_enabled() {
        return None;
    }
    let cx = tracing::Span::current().context();
    let mut out = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut MapInject(&mut out));
    out.remove("traceparent")
}

struct MapInject<'a>(&'a mut std::collections::HashMap<String, String>);

impl Injector for MapInject<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

fn rand_u128() -> u128 {
    // Trace ids only need to be unlikely to collide; std's RandomState is seeded randomly.
    use std::hash::{BuildHasher, Hasher};
    let a = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(a);
    ((a as u128) << 64) | h.finish() as u128
}

/// The process-wide registry every metric of the service is registered in.
pub fn registry() -> &'static Registry {
    prometheus::default_registry()
}

/// The Prometheus text exposition of [`registry`].
pub fn render_metrics() -> String {
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&registry().gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

/// Registers a metric once per process and returns it (tests run several apps in one process).
pub fn register<M: prometheus::core::Collector + Clone + 'static>(metric: M) -> M {
    let _ = registry().register(Box::new(metric.clone()));
    metric
}
