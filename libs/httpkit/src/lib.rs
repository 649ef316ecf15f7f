//! HTTP scaffolding shared by the services.
//!
//! - [`stack`] wraps a service's router with everything every service needs: request ids,
//!   a trace span per request, latency metrics, the error envelope for errors the handlers
//!   did not produce, panic catching, a request timeout, the body limit, CORS, and the probes
//!   `/healthz`, `/livez`, `/metrics`.
//! - [`ApiError`] and [`Json`] give handlers the envelope of docs/contract.md §3; [`legacy`]
//!   gives pizza_back's routes (`/api/...`) its error shape and deprecation headers.
//! - [`Shutdown`] is the one signal the HTTP and gRPC servers and background tasks obey.
//! - [`client_ip`] / [`ClientIpKey`] name the client behind `TRUSTED_PROXIES`;
//!   [`origin_allowed`] holds a WebSocket's `Origin` to the CORS rule.
//! - [`serve`] runs a router on an already-bound listener until the shutdown says stop.

pub mod doc;
mod error;
mod json;
mod legacy;
mod origin;
mod probes;
mod shutdown;
pub mod whole;

use std::{
    net::{IpAddr, SocketAddr},
    sync::{Arc, LazyLock},
    time::Instant,
};

use axum::{
    Router,
    extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::MethodRouter,
};
use prometheus::{HistogramOpts, HistogramVec};
use settings::{Cidrs, HttpArgs};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tracing::Span;

pub use error::{ApiError, Error, Result, code_for, current_request_id, db_unavailable, not_found};
pub use json::{Json, refuse_escaped_nul};
pub use legacy::{LegacyRoutes, legacy};
pub use origin::{origin_allowed, reached_at};
pub use probes::{NatsState, Probes};
pub use shutdown::Shutdown;

static HTTP_LATENCY: LazyLock<HistogramVec> = LazyLock::new(|| {
    telemetry::register(
        HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route and status",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route", "status"],
        )
        .expect("valid histogram"),
    )
});

/// Wraps `app` (routes already given their state) with the common layers and probes.
pub fn stack(app: Router, service: &'static str, http: &HttpArgs, probes: Probes) -> Router {
    let cors = (!http.cors_allowed_origins.0.is_empty()).then(|| {
        let origins: Vec<HeaderValue> = http
            .cors_allowed_origins
            .0
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
                "idempotency-key".parse().expect("header name"),
                "x-request-id".parse().expect("header name"),
            ])
            .expose_headers([
                header::LINK,
                header::ETAG,
                header::RETRY_AFTER,
                "x-request-id".parse().expect("header name"),
            ])
            .max_age(std::time::Duration::from_secs(600))
    });

    // Innermost first: each `.layer` wraps everything above it.
    let mut app = app
        .merge(probes.router())
        .merge(doc::ui(service))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(http.http_body_limit))
        .layer(middleware::from_fn_with_state(
            http.http_body_limit,
            refuse_large_bodies,
        ))
        .layer(middleware::from_fn(refuse_nul_in_uri))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            http.http_request_timeout,
        ))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn_with_state(
            Arc::new(http.trusted_proxies.clone()),
            access_log,
        ))
        .layer(middleware::from_fn(envelope))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(screen_request_id));
    if let Some(cors) = cors {
        // Outermost, so preflights are answered before anything else runs.
        app = app.layer(cors);
    }
    app
}

/// The longest `X-Request-Id` a client may choose.
pub const REQUEST_ID_MAX: usize = 64;

/// Whether a client's `X-Request-Id` is kept: 1 to [`REQUEST_ID_MAX`] visible ASCII
/// characters other than `"` and `\` (the ingress holds ids to the same rule).
pub fn acceptable_request_id(id: &[u8]) -> bool {
    (1..=REQUEST_ID_MAX).contains(&id.len())
        && id
            .iter()
            .all(|b| (0x21..=0x7e).contains(b) && !matches!(b, b'"' | b'\\'))
}

/// Drops a client's `X-Request-Id` that breaks [`acceptable_request_id`], so the request
/// gets a fresh one: the id operators search logs by is never a page of text, and never
/// comes back longer than a proxy's header buffer.
async fn screen_request_id(mut req: Request, next: Next) -> Response {
    let ids = req.headers().get_all("x-request-id");
    let mut it = ids.iter();
    let keep = match (it.next(), it.next()) {
        (None, _) => true,
        (Some(id), None) => acceptable_request_id(id.as_bytes()),
        // Two ids: neither is the request's.
        (Some(_), Some(_)) => false,
    };
    if !keep {
        tracing::debug!("client X-Request-Id refused; a fresh one is used");
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// A NUL (`%00`) in the path or the query is refused before any handler sees it: no id, name
/// or filter of ours contains one, and PostgreSQL cannot take it as text (it would be a 500).
async fn refuse_nul_in_uri(req: Request, next: Next) -> Response {
    let has_nul = |s: &str| {
        s.as_bytes()
            .windows(3)
            .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
    };
    if has_nul(req.uri().path()) || req.uri().query().is_some_and(has_nul) {
        return ApiError::validation("the URL must not contain NUL (%00) characters")
            .into_response();
    }
    next.run(req).await
}

/// The most a refused body is read (and thrown away) before answering 413: the ingress
/// accepts up to 1 MiB.
const DRAIN_CAP: usize = 1 << 20;

/// Answers 413 to a declared `Content-Length` over the limit. The body is read and dropped
/// first (up to [`DRAIN_CAP`], for at most 5 s): closing a connection with unread data makes
/// the kernel send a reset, and a proxy still writing the body would then report 502 instead
/// of passing our 413 on. Bodies without a length are cut by `DefaultBodyLimit` as they are
/// read.
async fn refuse_large_bodies(
    axum::extract::State(limit): axum::extract::State<usize>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(len) if len > limit => {
            if len <= DRAIN_CAP {
                let body = req.into_body();
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(5),
                    axum::body::to_bytes(body, DRAIN_CAP),
                )
                .await;
            }
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body is too large")
                .into_response()
        }
        _ => next.run(req).await,
    }
}

fn request_span(req: &Request) -> Span {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str())
        .unwrap_or("unmatched");
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{} {route}", req.method()),
        method = %req.method(),
        route,
        path = %req.uri().path(),
        request_id,
        member_id = tracing::field::Empty,
    );
    // Continues the ingress's (or the client's) trace; the ids go on every line logged in it.
    telemetry::adopt_trace(&span, req.headers());
    span
}

/// Gives every error response the envelope, and handlers their request id.
async fn envelope(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let res = error::REQUEST_ID
        .scope(request_id.clone(), next.run(req))
        .await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.as_u16() < 400 || is_json {
        return res;
    }
    // An error nobody in the handlers produced (405, 413 from the limit layer, a timeout,
    // a panic): keep its status and headers, replace its body with the envelope.
    let (parts, _) = res.into_parts();
    let mut err = ApiError::new(status, error::default_message(status));
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            err = err.with_header(name, v.clone());
        }
    }
    error::REQUEST_ID
        .scope(request_id, async move { err.into_response() })
        .await
}

/// Who made the request, as far as the handlers found out: filled by [`note_member`] (the
/// token extractors call it) and read by the access log.
#[derive(Clone, Default)]
struct MemberSlot(Arc<std::sync::OnceLock<String>>);

/// Names the member a request acts for, once its token is verified: the access log line and
/// the request's span (so every later line of the request) carry `member_id`.
pub fn note_member(extensions: &axum::http::Extensions, member_id: &str) {
    if let Some(slot) = extensions.get::<MemberSlot>() {
        let _ = slot.0.set(member_id.to_owned());
    }
    Span::current().record("member_id", member_id);
}

/// Probes and scrapes: counted, but logged only at DEBUG (they come every few seconds).
fn is_probe(route: &str) -> bool {
    matches!(route, "/healthz" | "/livez" | "/metrics")
}

/// One line per request at INFO (method, route, status, latency, request id, member, client
/// address as the trusted ingress names it), and the latency histogram. A request whose
/// client went away before the answer is logged and counted as 499, as nginx does.
async fn access_log(
    axum::extract::State(trusted): axum::extract::State<Arc<Cidrs>>,
    mut req: Request,
    next: Next,
) -> Response {
    let mut entry = AccessEntry {
        started: Instant::now(),
        method: req.method().clone(),
        route: req
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_else(|| "unmatched".to_owned()),
        client: req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| client_ip(c.0.ip(), req.headers(), &trusted)),
        request_id: req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        member: MemberSlot::default(),
        status: None,
    };
    req.extensions_mut().insert(entry.member.clone());
    let res = next.run(req).await;
    entry.status = Some(res.status());
    res
}

/// What the access log says of one request, said when it is dropped: after the answer, or
/// when the client hung up mid-way (the handler's future is dropped with it).
struct AccessEntry {
    started: Instant,
    method: Method,
    route: String,
    client: Option<IpAddr>,
    request_id: String,
    member: MemberSlot,
    status: Option<StatusCode>,
}

/// nginx's "client closed request".
const CLIENT_CLOSED: u16 = 499;

impl Drop for AccessEntry {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        let (status, label) = match &self.status {
            Some(s) => (s.as_u16(), s.as_str()),
            None => (CLIENT_CLOSED, "499"),
        };
        HTTP_LATENCY
            .with_label_values(&[self.method.as_str(), &self.route, label])
            .observe(elapsed.as_secs_f64());
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        let member_id = self.member.0.get().map(String::as_str);
        let client_addr = self.client.map(|ip| ip.to_string());
        macro_rules! access {
            ($level:ident) => {
                tracing::$level!(
                    target: "access",
                    method = %self.method,
                    route = %self.route,
                    status,
                    latency_ms,
                    request_id = %self.request_id,
                    member_id,
                    client_addr,
                    "request"
                )
            };
        }
        if is_probe(&self.route) {
            access!(debug);
        } else {
            access!(info);
        }
    }
}

/// Registers `path` (written with its trailing slash, as docs/contract.md §3 does) both with and
/// without the slash.
pub fn route_both<S>(router: Router<S>, path: &str, handler: MethodRouter<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let bare = path.trim_end_matches('/');
    let router = router.route(path, handler.clone());
    if bare.is_empty() || bare == path {
        router
    } else {
        router.route(bare, handler)
    }
}

/// Serves `router` on `listener` until `shutdown` says stop, then waits for in-flight
/// requests. The peer address is kept for [`client_ip`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.stopped().await })
    .await
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the rightmost
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &Cidrs) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

/// A `tower_governor` key: the client address as [`client_ip`] resolves it.
#[derive(Clone)]
pub struct ClientIpKey {
    pub trusted: Arc<Cidrs>,
}

impl tower_governor::key_extractor::KeyExtractor for ClientIpKey {
    type Key = IpAddr;

    fn extract<T>(
        &self,
        req: &axum::http::Request<T>,
    ) -> Result<Self::Key, tower_governor::GovernorError> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or(tower_governor::GovernorError::UnableToExtractKey)?;
        Ok(client_ip(peer, req.headers(), &self.trusted))
    }
}

/// Turns a rate-limit refusal into the envelope with `Retry-After`.
pub fn governor_error(e: tower_governor::GovernorError) -> Response {
    match e {
        tower_governor::GovernorError::TooManyRequests { wait_time, .. } => {
            ApiError::rate_limited(wait_time).into_response()
        }
        _ => ApiError::internal().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = settings::parse_cidrs("10.0.0.0/8").unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "1.2.3.4, 10.0.0.7".parse().unwrap());
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let outsider: IpAddr = "8.8.8.8".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(outsider, &h, &trusted), outsider);
        // A client cannot push its own address in front of the proxy's entry.
        h.insert("x-forwarded-for", "6.6.6.6, 1.2.3.4".parse().unwrap());
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
    }
}
