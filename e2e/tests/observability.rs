//! What operators see of the running platform: one trace per request across the services
//! and NATS, an access-log line per request, the metrics (checked against the dashboards
//! and alerts), and the API docs UI, through the ingress.

use std::{collections::HashMap, time::Duration};

use e2e::{Service, Stack};
use serde_json::{Value, json};
use testkit::otlp::{Collector, Span};

const ORDER: &str =
    r#"{"bran_id": "gangnam", "items": [{"pizza_id": "bbq_ckn_s", "quantity": 1}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_is_one_trace_across_services_and_nats() {
    let collector = Collector::start().await;
    let endpoint = collector.endpoint();
    let stack = Stack::start_with_env(
        1,
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let token = stack.customer("tracer").await;

    // The caller (a browser with OpenTelemetry, or a tracing ingress) starts the trace.
    let trace_id = "5b8efff798038103d269b633813fc60c";
    let caller = "eee19b7ec3c1b174";
    let res = testkit::http()
        .post(stack.url("/order/"))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace_id}-{caller}-01"))
        .header("content-type", "application/json")
        .body(ORDER)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    // Every hop's span, once exported (they come in batches every 100 ms).
    let wanted = |spans: &[Span]| {
        let has = |service: &str, name: &str| {
            spans
                .iter()
                .any(|s| s.service == service && s.name.contains(name))
        };
        has("pizza-order", "POST /order/")
            && has("pizza-order", "GetPrices")
            && has("pizza-menu", "MenuService/GetPrices")
            && has("pizza-order", "VerifyToken")
            && has("pizza-login", "AuthService/VerifyToken")
            && has("pizza-order", "place_order transaction")
            && has("pizza-order", "order.created publish")
            && has("pizza-payment", "order.created process")
    };
    let spans = testkit::eventually(Duration::from_secs(15), || async {
        let spans = collector.trace(trace_id);
        wanted(&spans).then_some(spans)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "not every hop reached the collector: {:#?}\n(all spans: {:#?})\norder's log: {:?}",
            collector.trace(trace_id),
            collector.spans(),
            stack.order[0].log_lines()
        )
    });

    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let one = |service: &str, name: &str| -> &Span {
        let found: Vec<&Span> = spans
            .iter()
            .filter(|s| s.service == service && s.name.contains(name))
            .collect();
        assert_eq!(found.len(), 1, "one {name} span of {service}: {found:#?}");
        found[0]
    };
    let parent = |s: &Span| -> &Span {
        by_id
            .get(s.parent_span_id.as_str())
            .unwrap_or_else(|| panic!("the parent of {s:?} is in the trace"))
    };
    let handler = one("pizza-order", "POST /order/");
    assert_eq!(
        handler.parent_span_id, caller,
        "the request continues the caller's trace"
    );
    // order's client spans are children of its handler; the servers' spans, of those.
    for (client, server_service, server) in [
        (
            "GetPrices",
            "pizza-menu",
            "pizza.menu.v1.MenuService/GetPrices",
        ),
        (
            "VerifyToken",
            "pizza-login",
            "pizza.auth.v1.AuthService/VerifyToken",
        ),
    ] {
        let call = one("pizza-order", client);
        assert_eq!(call.name, client);
        assert_eq!(
            parent(call).span_id,
            handler.span_id,
            "{client} under the handler"
        );
        let served = one(server_service, server);
        assert_eq!(
            served.parent_span_id, call.span_id,
            "{server} under order's call"
        );
    }
    let tx = one("pizza-order", "place_order transaction");
    assert_eq!(parent(tx).span_id, handler.span_id);
    // The relay publishes later, on its own task, but in the trace of the row it sends.
    let publish = one("pizza-order", "order.created publish");
    assert_eq!(
        publish.parent_span_id, tx.span_id,
        "the outbox row carried the context"
    );
    let consumed = one("pizza-payment", "order.created process");
    assert_eq!(
        consumed.parent_span_id, publish.span_id,
        "the NATS header carried it on"
    );
}

/// The body of a GET of `url`.
async fn text_of(url: &str) -> String {
    testkit::http()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The access-log line `svc` wrote for the request with `request_id` (waited for a moment:
/// stdout is written as the request ends); exactly one.
async fn the_access_line(svc: &Service, request_id: &str) -> Value {
    let lines = testkit::eventually(Duration::from_secs(5), || async {
        let lines: Vec<Value> = svc
            .log_lines()
            .into_iter()
            .filter(|l| l["target"] == "access" && l["request_id"] == request_id)
            .collect();
        (!lines.is_empty()).then_some(lines)
    })
    .await
    .unwrap_or_else(|| panic!("no access line for {request_id}"));
    assert_eq!(lines.len(), 1, "one line per request: {lines:#?}");
    lines.into_iter().next().expect("one")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_leaves_one_access_log_line_and_metrics_match_the_dashboards() {
    // Without an OTLP endpoint: ids are still made, propagated and logged.
    let stack = Stack::start_with_env(1, &[], &[("LOG_LEVEL", "info")]).await;
    let token = stack.customer("logged").await;
    let http = testkit::http();
    let request_id = "access-log-check-1";
    let res = http
        .post(stack.url("/order/"))
        .bearer_auth(&token)
        .header("x-request-id", request_id)
        .header("content-type", "application/json")
        .body(ORDER)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let line = &the_access_line(&stack.order[0], request_id).await;
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["method"], "POST", "{line}");
    assert_eq!(line["route"], "/order/", "{line}");
    assert_eq!(line["status"], 201, "{line}");
    assert!(
        line["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{line}"
    );
    assert_eq!(line["member_id"], "logged", "{line}");
    // nginx is the trusted proxy: the address is the client's, from X-Forwarded-For.
    assert_eq!(line["client_addr"], "127.0.0.1", "{line}");
    let trace_id = line["trace_id"].as_str().expect("a trace id").to_owned();
    assert_eq!(trace_id.len(), 32, "{line}");
    assert_eq!(line["span_id"].as_str().map(str::len), Some(16), "{line}");

    // The token check on login: its own line, in the same trace and under the same id.
    let call = &the_access_line(&stack.login[0], request_id).await;
    assert_eq!(call["level"], "INFO", "{call}");
    assert_eq!(call["grpc_service"], "pizza.auth.v1.AuthService", "{call}");
    assert_eq!(call["grpc_method"], "VerifyToken", "{call}");
    assert_eq!(call["grpc_code"], "OK", "{call}");
    assert!(call["latency_ms"].as_f64().is_some(), "{call}");
    assert_eq!(call["trace_id"], trace_id.as_str(), "{call}");
    // And the price lookup on menu.
    let priced = the_access_line(&stack.menu[0], request_id).await;
    assert_eq!(priced["grpc_method"], "GetPrices");
    assert_eq!(priced["trace_id"], trace_id.as_str());

    // A refused request is logged too, with what was refused.
    let bad = "access-log-check-2";
    let res = http
        .post(stack.url("/order/"))
        .bearer_auth(&token)
        .header("x-request-id", bad)
        .json(&json!({"bran_id": "gangnam", "items": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(the_access_line(&stack.order[0], bad).await["status"], 400);

    // Probes are not logged at INFO.
    for _ in 0..3 {
        http.get(format!("http://127.0.0.1:{}/healthz", stack.order[0].http))
            .send()
            .await
            .unwrap();
    }
    assert!(
        !stack.order[0]
            .log_lines()
            .iter()
            .any(|l| l["target"] == "access" && l["route"] == "/healthz"),
        "probes are not access-logged at INFO"
    );

    // Metrics: what each service exposes, checked against the alerts and dashboards.
    let dir = tempfile::tempdir().unwrap();
    for (name, svc) in [
        ("login", &stack.login[0]),
        ("menu", &stack.menu[0]),
        ("order", &stack.order[0]),
        ("payment", &stack.payment[0]),
    ] {
        let text = text_of(&format!("http://127.0.0.1:{}/metrics", svc.http)).await;
        for family in [
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "build_info{",
        ] {
            assert!(text.contains(family), "{name} exposes {family}:\n{text}");
        }
        // A ServiceMonitor adds `service` (and job, instance, pod, namespace) itself.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            for target_label in ["service=", "job=", "instance=", "pod=", "namespace="] {
                assert!(
                    !line.contains(&format!("{{{target_label}"))
                        && !line.contains(&format!(",{target_label}")),
                    "{name}: {line} has a label Prometheus sets itself"
                );
            }
        }
        std::fs::write(dir.path().join(format!("{name}.prom")), text).unwrap();
    }
    let login_metrics = std::fs::read_to_string(dir.path().join("login.prom")).unwrap();
    assert!(
        login_metrics.contains(
            r#"grpc_server_handled_total{grpc_code="OK",grpc_method="VerifyToken",grpc_service="pizza.auth.v1.AuthService"} "#
        ),
        "{login_metrics}"
    );
    let order_metrics = std::fs::read_to_string(dir.path().join("order.prom")).unwrap();
    assert!(
        order_metrics.contains("orders_placed_total 1"),
        "{order_metrics}"
    );

    let check = std::process::Command::new("python3")
        .arg(e2e::root().join("deploy/checks/observability.py"))
        .arg("--metrics")
        .arg(dir.path())
        .output()
        .expect("run deploy/checks/observability.py");
    assert!(
        check.status.success(),
        "dashboards and alerts name only exposed metrics, and promtool accepts them:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[tokio::test]
async fn each_service_serves_its_api_docs_ui_through_the_ingress() {
    let stack = Stack::start_with(1, &[]).await;
    let http = testkit::http();
    for svc in ["login", "menu", "order", "payment"] {
        let page = http
            .get(stack.url(&format!("/{svc}/docs/")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "/{svc}/docs/");
        let html = page.text().await.unwrap();
        assert!(html.contains("swagger-ui"), "{html}");
        // Its assets come from the service itself, nothing from a CDN.
        assert!(!html.contains("https://"), "{html}");
        let init = text_of(&stack.url(&format!("/{svc}/docs/swagger-initializer.js"))).await;
        assert!(init.contains(&format!("/{svc}/openapi.json")), "{init}");
        let bundle = http
            .get(stack.url(&format!("/{svc}/docs/swagger-ui-bundle.js")))
            .send()
            .await
            .unwrap();
        assert_eq!(bundle.status(), 200);
        assert!(bundle.bytes().await.unwrap().len() > 100_000);
        // The document it shows is served at the path the UI reads.
        let doc: Value = http
            .get(stack.url(&format!("/{svc}/openapi.json")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    }
}
