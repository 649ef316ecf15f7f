# syntax=docker/dockerfile:1
# The images of the four services and of the local payment sandbox, from one build: one
# stage compiles every binary (`cargo build` once, its dependency layer cached by
# cargo-chef), then one small stage per image copies its binary. From the repository root:
#   docker buildx bake                        # the four services (docker-bake.hcl), one build
#   docker build --target order -t pizza-order .
# Targets: login, menu, order, payment, and toss-sandbox (docker-compose's stand-in for the
# payment provider; never deployed). Without --target, `docker build .` makes login (the
# last stage).

FROM rust:1.95-bookworm AS chef
# cargo-auditable embeds the dependency list in each binary (a linker section), so an SBOM
# or a scanner (syft, grype, trivy) reading the image sees the Rust crates, not only the
# distroless Debian packages.
RUN cargo install cargo-chef --version 0.1.78 --locked \
 && cargo install cargo-auditable --version 0.7.7 --locked
WORKDIR /src

# The dependency graph only: changes to our own code leave it, and the layer below, as they are.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
# cargo-chef leaves [patch] paths out of its recipe: the patched sqlx crates come as they are.
COPY vendor vendor
# The dependency layer of all five binaries: rebuilt only when Cargo.toml/Cargo.lock change.
RUN cargo chef cook --release --locked --recipe-path recipe.json \
      -p pizza-login -p pizza-menu -p pizza-order -p pizza-payment -p toss-sandbox
COPY . .
# The source revision `build_info{revision}` reports (docker buildx bake with REVISION=$(git
# rev-parse HEAD), or docker build --build-arg REVISION=...).
ARG REVISION=unknown
ENV PIZZA_REVISION=${REVISION}
# One build of the five binaries, each then under one name in its image (/out/<target>), so
# the entrypoint needs no build argument (exec-form ENTRYPOINT is not expanded); the binary
# still calls itself pizza-<service> in its messages.
RUN cargo auditable build --release --locked \
      -p pizza-login -p pizza-menu -p pizza-order -p pizza-payment -p toss-sandbox --bins \
 && mkdir /out \
 && for svc in login menu order payment; do cp "target/release/pizza-${svc}" "/out/${svc}"; done \
 && cp target/release/toss-sandbox /out/toss-sandbox

# What every image is: only the binary, glibc and CA certificates; no shell. UID/GID 65532
# (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
USER 65532:65532
# HTTP; login and menu also serve gRPC on 50051 (GRPC_ADDR).
EXPOSE 8000 50051
# The service drains on SIGTERM (readiness 503 for SHUTDOWN_DRAIN), then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pizza"]
CMD ["serve"]

# Toss Payments' API and checkout page on 8090 (TOSS_SANDBOX_ADDR), for docker-compose only.
# It takes no command.
FROM runtime AS toss-sandbox
COPY --from=build /out/toss-sandbox /usr/local/bin/pizza
EXPOSE 8090
CMD []

FROM runtime AS payment
COPY --from=build /out/payment /usr/local/bin/pizza

FROM runtime AS order
COPY --from=build /out/order /usr/local/bin/pizza

FROM runtime AS menu
COPY --from=build /out/menu /usr/local/bin/pizza

FROM runtime AS login
COPY --from=build /out/login /usr/local/bin/pizza
