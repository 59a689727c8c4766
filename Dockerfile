# pets: a Rust build stage, then a runtime image holding the binary and the
# C libraries it links. The defaults are public images; on an engine that
# cannot pull, scripts/local-images.sh passes locally made ones instead:
#   docker build --build-arg RUST_IMAGE=... --build-arg RUNTIME_IMAGE=... .
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Dependencies first, in a layer of their own: the manifests with empty
# sources, so a change to pets' own code does not rebuild every crate.
COPY Cargo.toml Cargo.lock ./
COPY crates/pets/Cargo.toml crates/pets/
COPY crates/pets-store/Cargo.toml crates/pets-store/
COPY crates/pets-web/Cargo.toml crates/pets-web/
COPY crates/pets-testkit/Cargo.toml crates/pets-testkit/
COPY crates/pets-bench/Cargo.toml crates/pets-bench/
COPY crates/pets-load/Cargo.toml crates/pets-load/
COPY crates/pets-paas/Cargo.toml crates/pets-paas/
RUN for lib in pets pets-store pets-web pets-testkit pets-load pets-paas; do \
      mkdir -p crates/$lib/src && : > crates/$lib/src/lib.rs; done \
 && mkdir -p crates/pets-bench/src \
 && echo 'fn main() {}' > crates/pets/src/main.rs \
 && echo 'fn main() {}' > crates/pets-bench/src/main.rs \
 && cargo build --release --locked -p pets \
 && rm -rf crates
# Then pets itself. Copied files keep their old times, so they are touched:
# cargo must see them as newer than the empty stand-ins it just built.
COPY crates crates
COPY web web
RUN find crates web -type f -exec touch {} + \
 && cargo build --release --locked -p pets \
 && install -m 0755 target/release/pets /pets

FROM ${RUNTIME_IMAGE}
# 1.0, 2.0 (another colour scheme) or broken (its health check fails 20 s after start).
ARG PETS_VERSION=1.0
LABEL org.opencontainers.image.title="pets" \
      org.opencontainers.image.description="Docker Pets in Rust: vote for a pet, watch replicas share the tally in Consul" \
      org.opencontainers.image.version="${PETS_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PETS_VERSION=${PETS_VERSION} \
    WEB_PORT=5000 \
    ADMIN_PORT=7000 \
    PICTURES_DIR=/pictures
COPY --from=build /pets /usr/local/bin/pets
USER 65532:65532
EXPOSE 5000 7000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=2 \
  CMD ["/usr/local/bin/pets", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/pets"]
