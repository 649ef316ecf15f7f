//! What every gRPC call leaves behind, on both sides.
//!
//! - Server ([`ObserveLayer`], installed by [`crate::serve`]): a span per call that continues
//!   the caller's trace (`traceparent` metadata), one access-log line at INFO when the call
//!   ends (service, method, code, latency, request id, peer; health and reflection calls only
//!   at DEBUG), and `grpc_server_handled_total` / `grpc_server_handling_seconds` by service,
//!   method and code.
//! - Client ([`Propagate`]): sends the current span's `traceparent` and the request id with
//!   each call.

use std::{
    collections::HashSet,
    pin::Pin,
    sync::{Arc, LazyLock},
    task::{Context, Poll},
    time::Instant,
};

use http_body::{Body, Frame};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};
use tonic::{Code, transport::server::TcpConnectInfo};
use tracing::{Instrument, Span};

static HANDLED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    telemetry::register(
        IntCounterVec::new(
            Opts::new(
                "grpc_server_handled_total",
                "gRPC calls finished by the server, by service, method and code",
            ),
            &["grpc_service", "grpc_method", "grpc_code"],
        )
        .expect("valid counter"),
    )
});

static HANDLING: LazyLock<HistogramVec> = LazyLock::new(|| {
    telemetry::register(
        HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "gRPC call latency on the server, until the response ended",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            ]),
            &["grpc_service", "grpc_method", "grpc_code"],
        )
        .expect("valid histogram"),
    )
});

/// A tonic client interceptor: the current span's `traceparent` (so the server's span joins
/// the caller's trace) and the request's `x-request-id` go with each call.
#[derive(Clone, Copy, Debug, Default)]
pub struct Propagate;

impl tonic::service::Interceptor for Propagate {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(tp) = telemetry::current_traceparent().and_then(|v| v.parse().ok()) {
            req.metadata_mut().insert("traceparent", tp);
        }
        let id = httpkit::current_request_id();
        if !id.is_empty()
            && let Ok(id) = id.parse()
        {
            req.metadata_mut().insert("x-request-id", id);
        }
        Ok(req)
    }
}

/// The span a client call runs in (`method` as the span's name), so the server's span, which
/// [`Propagate`] links to it, sits under the call that made it.
pub fn client_span(method: &'static str) -> Span {
    tracing::info_span!(
        "grpc client",
        otel.name = method,
        otel.kind = "client",
        rpc.system = "grpc"
    )
}

/// The names a server answers for; a call to anything else is counted as `unknown`, so a
/// caller cannot grow the metrics with made-up paths.
#[derive(Clone)]
pub(crate) struct ObserveLayer {
    known: Arc<HashSet<String>>,
}

impl ObserveLayer {
    pub(crate) fn new(names: impl IntoIterator<Item = String>) -> Self {
        Self {
            known: Arc::new(names.into_iter().collect()),
        }
    }
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            known: self.known.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Observe<S> {
    inner: S,
    known: Arc<HashSet<String>>,
}

impl<S, B, RB> tower::Service<http::Request<B>> for Observe<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    RB: Body + Unpin,
{
    type Response = http::Response<Observed<RB>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let (service, method) = req
            .uri()
            .path()
            .trim_start_matches('/')
            .split_once('/')
            .filter(|(s, _)| self.known.contains(*s))
            .map(|(s, m)| (s.to_owned(), m.to_owned()))
            .unwrap_or_else(|| ("unknown".to_owned(), "unknown".to_owned()));
        let quiet = service.starts_with("grpc.health.") || service.starts_with("grpc.reflection.");
        let request_id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| httpkit::acceptable_request_id(v.as_bytes()))
            .unwrap_or("")
            .to_owned();
        let peer = req
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(|c| c.remote_addr())
            .map(|a| a.ip().to_string());
        let span = tracing::info_span!(
            "grpc",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            request_id = %request_id,
        );
        telemetry::adopt_trace(&span, req.headers());
        let call = Call {
            started,
            service,
            method,
            request_id,
            peer,
            quiet,
            span: span.clone(),
        };
        let fut = self.inner.call(req).instrument(span);
        Box::pin(async move {
            let res = fut.await?;
            // A trailers-only answer (most errors) has its status in the headers.
            let code = res.headers().get("grpc-status").map(code_of);
            let mut call = Some(call);
            if let Some(code) = code {
                call.take().expect("not finished").finish(code);
            }
            Ok(res.map(|inner| Observed { inner, call }))
        })
    }
}

fn code_of(v: &http::HeaderValue) -> Code {
    v.to_str()
        .ok()
        .and_then(|s| s.parse::<i32>().ok())
        .map(Code::from_i32)
        .unwrap_or(Code::Unknown)
}

fn code_name(code: Code) -> String {
    match code {
        Code::Ok => "OK".to_owned(),
        other => format!("{other:?}"),
    }
}

struct Call {
    started: Instant,
    service: String,
    method: String,
    request_id: String,
    peer: Option<String>,
    quiet: bool,
    span: Span,
}

impl Call {
    fn finish(self, code: Code) {
        let elapsed = self.started.elapsed();
        let name = code_name(code);
        HANDLED
            .with_label_values(&[&self.service, &self.method, &name])
            .inc();
        HANDLING
            .with_label_values(&[&self.service, &self.method, &name])
            .observe(elapsed.as_secs_f64());
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        let _in = self.span.enter();
        macro_rules! access {
            ($level:ident) => {
                tracing::$level!(
                    target: "access",
                    grpc_service = %self.service,
                    grpc_method = %self.method,
                    grpc_code = %name,
                    latency_ms,
                    request_id = %self.request_id,
                    client_addr = self.peer.as_deref(),
                    "grpc call"
                )
            };
        }
        if self.quiet {
            access!(debug);
        } else {
            access!(info);
        }
    }
}

/// The response body, watched for the trailers that carry the call's status.
pub(crate) struct Observed<B> {
    inner: B,
    call: Option<Call>,
}

impl<B: Body + Unpin> Body for Observed<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(call) = self.call.take()
                {
                    let code = trailers
                        .get("grpc-status")
                        .map(code_of)
                        .unwrap_or(Code::Unknown);
                    call.finish(code);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(call) = self.call.take() {
                    call.finish(Code::Internal);
                }
            }
            Poll::Ready(None) => {
                if let Some(call) = self.call.take() {
                    call.finish(Code::Unknown);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for Observed<B> {
    fn drop(&mut self) {
        // The caller went away before the status was sent.
        if let Some(call) = self.call.take() {
            call.finish(Code::Cancelled);
        }
    }
}
