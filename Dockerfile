# Weasel in one image: the server binary and the site it serves, nothing else.
#
#   docker build -t weasel .
#   docker run -p 8080:8080 -e WEASEL_SESSION_KEY="$(openssl rand -base64 64 | tr -d '\n')" \
#     -e WEASEL_SMTP_URL=smtps://user:pass@smtp.example.com weasel
#
# Port 8080 serves the app, 9100 serves /metrics (keep it private). Every
# setting is an environment variable (docs/deploy.md lists them all); the
# defaults below are the container's. `scripts/check-container.sh` starts the
# same layout from an empty directory in the test command.

ARG RUST_VERSION=1.95

# Tools shared by every build stage, in a layer that rarely changes.
FROM rust:${RUST_VERSION}-bookworm AS chef
WORKDIR /src
# nodejs/npm: binaryen's wasm-opt comes from npm (Debian's breaks Leptos wasm).
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
# wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly;
# wasm-split-cli cuts the wasm where Leptos' lazy routes are (build-site.sh).
# rust-src: build-site.sh rebuilds the standard library for the browser
# (panics that abort at once, a smaller wasm).
RUN rustup target add wasm32-unknown-unknown \
    && rustup component add rust-src \
    && cargo install --locked cargo-chef --version 0.1.78 \
    && cargo install wasm-bindgen-cli --version 0.2.130 \
    && cargo install --locked wasm_split_cli_support --version 0.2.4 --features build-binary

# The dependency graph alone, so the next stage's expensive layer is reused
# until Cargo.toml or Cargo.lock change.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# The wasm's compiler flags (erased component types), before the cached build.
COPY .cargo .cargo
# The server's dependencies only: the wasm's are built by build-site.sh with
# its own standard library and flags, which a cached layer would not match.
RUN cargo chef cook --locked --release -p weasel-server --recipe-path recipe.json
COPY tools/package.json tools/package-lock.json tools/
RUN npm --prefix tools ci --no-audit --no-fund
COPY . .
RUN ./scripts/build-site.sh \
    && cargo build --locked --release -p weasel-server \
    && ./scripts/rootfs.sh target/release/weasel-server target/site /out/rootfs

# Runtime: nothing pulled. The root filesystem made above holds the server,
# the site, the few shared libraries it loads, CA certificates and the
# unprivileged user 65532; no shell, no package manager. scripts/check-image.sh
# builds exactly this stage with podman from a locally built binary and runs it.
FROM scratch AS runtime
COPY --from=builder /out/rootfs/ /
ENV WEASEL_ENV=production
ENV WEASEL_ADDR=0.0.0.0:8080
ENV WEASEL_METRICS_ADDR=0.0.0.0:9100
ENV WEASEL_SITE_ROOT=/app/site
ENV WEASEL_DATA_DIR=/data
ENV WEASEL_LOG_FORMAT=json
WORKDIR /app
USER 65532:65532
EXPOSE 8080 9100
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s CMD ["/app/weasel-server", "healthcheck"]
ENTRYPOINT ["/app/weasel-server"]
