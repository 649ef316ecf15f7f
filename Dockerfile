# syntax=docker/dockerfile:1
# The image of one service (login, menu, order or payment), built from the repository root:
#   docker build --build-arg SERVICE=login -t pizza-login .
# BIN names another binary of the workspace instead: docker-compose builds the local payment
# sandbox with --build-arg BIN=toss-sandbox (never deployed).
ARG SERVICE=login

FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --version 0.1.78 --locked
WORKDIR /src

# The dependency graph only: changes to our own code leave it, and the layer below, as they are.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
ARG SERVICE
# The package and its binary (same name).
ARG BIN=pizza-${SERVICE}
COPY --from=planner /src/recipe.json recipe.json
# cargo-chef leaves [patch] paths out of its recipe: the patched sqlx crates come as they are.
COPY vendor vendor
# The dependency layer: rebuilt only when Cargo.toml/Cargo.lock change.
RUN cargo chef cook --release --locked --recipe-path recipe.json -p "${BIN}"
COPY . .
# The source revision `build_info{revision}` reports (docker build --build-arg REVISION=$(git rev-parse HEAD)).
ARG REVISION=unknown
ENV PIZZA_REVISION=${REVISION}
# Under one name in every image, so the entrypoint below needs no build argument (exec-form
# ENTRYPOINT is not expanded); the binary still calls itself pizza-<service> in its messages.
RUN cargo build --release --locked -p "${BIN}" --bin "${BIN}" \
 && cp "target/release/${BIN}" /service

# Only the binary, glibc and CA certificates; no shell. UID/GID 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /service /usr/local/bin/pizza
USER 65532:65532
# HTTP; login and menu also serve gRPC on 50051 (GRPC_ADDR).
EXPOSE 8000 50051
# The service drains on SIGTERM (readiness 503 for SHUTDOWN_DRAIN), then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pizza"]
# (toss-sandbox takes no command: docker-compose sets its entrypoint, which drops this CMD.)
CMD ["serve"]
