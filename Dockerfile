# Build: the release binary (migrations are embedded in it).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY assets ./assets
COPY templates ./templates
RUN cargo build --release --locked && strip target/release/yidianyima

# Run: a small Debian with the binary; curl only for the healthcheck; the CJK font that PNG
# posters render their Chinese text with.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home yidianyima
COPY --from=build /src/target/release/yidianyima /usr/local/bin/yidianyima
COPY --from=build /src/assets /usr/share/yidianyima/assets
USER yidianyima
ENV BIND=0.0.0.0:8080 \
    LOG_FORMAT=json \
    RUST_LOG=info
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1
ENTRYPOINT ["yidianyima"]
CMD ["serve"]
