//! gRPC scaffolding: every server gets `grpc.health.v1.Health` and reflection, and serves
//! until the shared [`Shutdown`] says stop (finishing in-flight calls).
//!
//! Every call gets a span in the caller's trace, an access-log line and metrics
//! ([`observe`]); clients send the trace with [`Propagate`].
//!
//! Health follows the shutdown: once draining begins, every named service reports
//! `NOT_SERVING`, so a gRPC-aware balancer moves away during the drain.

mod observe;

use std::time::Duration;

use httpkit::Shutdown;
pub use observe::{Propagate, client_span};
use tokio::net::TcpListener;
use tonic::{
    service::Routes,
    transport::{Server, server::TcpIncoming},
};

/// The gRPC face of a service error: the same message as the HTTP envelope, and the code
/// that matches its HTTP status. (A function, not `From`: neither type is this crate's.)
/// Use as `.map_err(grpckit::status)?`.
pub fn status(e: httpkit::Error) -> tonic::Status {
    e.log();
    let api = e.api();
    let code = match api.status.as_u16() {
        400 => tonic::Code::InvalidArgument,
        401 => tonic::Code::Unauthenticated,
        403 => tonic::Code::PermissionDenied,
        404 => tonic::Code::NotFound,
        409 => tonic::Code::AlreadyExists,
        422 => tonic::Code::FailedPrecondition,
        429 => tonic::Code::ResourceExhausted,
        503 => tonic::Code::Unavailable,
        _ => tonic::Code::Internal,
    };
    tonic::Status::new(code, api.message)
}

/// What a service hands to [`serve`]: its routes, the names health should report for, and
/// the descriptor set(s) reflection should describe.
pub struct GrpcService {
    pub routes: Routes,
    pub names: Vec<&'static str>,
    pub descriptors: Vec<&'static [u8]>,
}

/// Serves `svc` plus health and reflection on `listener` until `shutdown` stops.
pub async fn serve(
    listener: TcpListener,
    svc: GrpcService,
    shutdown: Shutdown,
) -> Result<(), tonic::transport::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in &svc.names {
        reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    // Reflection in both versions clients speak (grpcurl and most tools still ask v1alpha),
    // listing what this server serves and nothing else of the shared descriptor set.
    let reflection = |version: &str| {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name(format!("grpc.reflection.{version}.ServerReflection"));
        for d in &svc.descriptors {
            builder = builder.register_encoded_file_descriptor_set(d);
        }
        for name in &svc.names {
            builder = builder.with_service_name(*name);
        }
        builder
    };
    const VALID: &str = "descriptor sets are generated at build time and valid";
    let reflection_v1 = reflection("v1").build_v1().expect(VALID);
    let reflection_v1alpha = reflection("v1alpha").build_v1alpha().expect(VALID);

    let names = svc.names.clone();
    let drain_watch = shutdown.clone();
    tokio::spawn(async move {
        drain_watch.draining().await;
        for name in names {
            reporter
                .set_service_status(name, tonic_health::ServingStatus::NotServing)
                .await;
        }
        reporter
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
    });

    let known = svc.names.iter().map(|n| n.to_string()).chain(
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
        .map(String::from),
    );
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .layer(observe::ObserveLayer::new(known))
        .add_routes(
            svc.routes
                .add_service(health)
                .add_service(reflection_v1)
                .add_service(reflection_v1alpha),
        )
        .serve_with_incoming_shutdown(incoming, async move { shutdown.stopped().await })
        .await
}
