//! Logs, traces and metrics, set up the same way in every service.
//!
//! - Logs are JSON lines. Each line of a request (or of an event's handling) carries
//!   `trace_id` and `span_id` at the top level, and the fields of the current span (the
//!   request span has `request_id`, `route`, …) under `span`.
//! - Traces follow W3C trace context everywhere: [`adopt_trace`] continues an incoming
//!   `traceparent` (HTTP, gRPC metadata, NATS headers), [`current_traceparent`] gives the one
//!   to send on. Span ids are made whether or not spans are exported, so ids flow and are
//!   logged either way; when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are also exported
//!   over OTLP/gRPC (batched; `OTEL_BSP_*` tune it).
//! - Metrics live in the process-wide Prometheus registry ([`registry`]) rendered by
//!   [`render_metrics`] at `/metrics`, with the process metrics (`process_*`) and
//!   `build_info`.

use std::{fmt, sync::OnceLock};

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use prometheus::{Encoder, Registry, TextEncoder};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{
    EnvFilter, Layer as _,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    layer::SubscriberExt,
    registry::LookupSpan,
    util::SubscriberInitExt,
};

static OTEL_EXPORT: OnceLock<bool> = OnceLock::new();

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

/// Installs the JSON log subscriber and the trace layer (exporting over OTLP when
/// configured), and registers the process metrics and `build_info{version, revision}`.
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
        .with_target(true)
        .map_event_format(WithTraceIds);

    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name)
        .build();
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    if endpoint.is_some() {
        // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT and the other OTEL_* itself.
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()?;
        provider = provider.with_batch_exporter(exporter);
    } else {
        // Nothing to export to: spans are not recorded unless the caller's trace is sampled
        // (its `traceparent` says so), which keeps them cheap. They still get ids, so
        // contexts propagate and log lines carry them.
        provider = provider.with_sampler(opentelemetry_sdk::trace::Sampler::ParentBased(Box::new(
            opentelemetry_sdk::trace::Sampler::AlwaysOff,
        )));
    }
    let provider = provider.build();
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service_name))
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    let _ = OTEL_EXPORT.set(endpoint.is_some());
    // LOG_LEVEL filters the log lines only: spans are made at INFO whatever it says, so
    // traces (and the ids on the lines that are logged) do not depend on it.
    tracing_subscriber::registry()
        .with(otel)
        .with(fmt.with_filter(filter))
        .try_init()?;
    register_process_metrics();
    Ok(TelemetryGuard {
        provider: Some(provider),
    })
}

/// Whether spans are being exported over OTLP.
pub fn otel_enabled() -> bool {
    OTEL_EXPORT.get().copied().unwrap_or(false)
}

/// The JSON line of the default formatter, with the trace and span ids of the innermost span
/// that has them added at the top level.
struct WithTraceIds<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ids = ctx.event_scope().and_then(|scope| {
            let spans: Vec<tracing::span::Id> = scope.map(|span| span.id()).collect();
            tracing::dispatcher::get_default(|dispatch| {
                spans.iter().find_map(|id| {
                    let cx = tracing_opentelemetry::get_otel_context(id, dispatch)?;
                    let sc = cx.span().span_context().clone();
                    sc.is_valid().then(|| (sc.trace_id(), sc.span_id()))
                })
            })
        });
        let mut line = String::with_capacity(256);
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match (ids, line.trim_end().strip_suffix('}')) {
            (Some((trace, span)), Some(object)) => {
                writeln!(
                    writer,
                    "{object},\"trace_id\":\"{trace}\",\"span_id\":\"{span}\"}}"
                )
            }
            _ => writer.write_str(&line),
        }
    }
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

struct OneHeader<'a>(Option<&'a str>);

impl Extractor for OneHeader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if key == "traceparent" { self.0 } else { None }
    }
    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}

/// Makes `span` (just created, nothing logged in it yet) continue the caller's trace from
/// the W3C `traceparent` among `headers` (HTTP headers, or gRPC metadata as headers); a new
/// trace when there is none or it is malformed. Returns the trace id.
pub fn adopt_trace(span: &tracing::Span, headers: &http::HeaderMap) -> String {
    adopt(
        span,
        TraceContextPropagator::new().extract(&HeaderExtract(headers)),
    )
}

/// [`adopt_trace`] for a `traceparent` carried some other way (a NATS header, an outbox row).
pub fn adopt_traceparent(span: &tracing::Span, traceparent: Option<&str>) -> String {
    adopt(
        span,
        TraceContextPropagator::new().extract(&OneHeader(traceparent)),
    )
}

fn adopt(span: &tracing::Span, parent: Context) -> String {
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    span.context().span().span_context().trace_id().to_string()
}

/// The current span's context as a `traceparent` value, for outgoing calls and messages
/// (`None` only outside any span).
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// `span`'s context as a `traceparent` value.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut out = None;
    TraceContextPropagator::new().inject_context(&cx, &mut TraceparentSlot(&mut out));
    out
}

struct TraceparentSlot<'a>(&'a mut Option<String>);

impl Injector for TraceparentSlot<'_> {
    fn set(&mut self, key: &str, value: String) {
        if key == "traceparent" {
            *self.0 = Some(value);
        }
    }
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

/// `process_*` (CPU, memory, file descriptors, threads, start time) and `build_info`.
fn register_process_metrics() {
    let _ = registry().register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ));
    let info = register(
        prometheus::IntGaugeVec::new(
            prometheus::Opts::new(
                "build_info",
                "1, labelled with the running build's version and source revision",
            ),
            &["version", "revision"],
        )
        .expect("valid gauge"),
    );
    info.with_label_values(&[
        env!("CARGO_PKG_VERSION"),
        option_env!("PIZZA_REVISION").unwrap_or("unknown"),
    ])
    .set(1);
}
