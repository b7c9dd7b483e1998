# jira-mcp, the team server: a small runtime image running as uid:gid 10001.
#   docker build -t jira-mcp .          (BuildKit or the classic builder)
#   docker run --env-file jira-mcp.env -p 8080:8080 jira-mcp
# See mcp-server/README.md ("Deploying with Docker") and compose.yaml.
# No `# syntax=` line: the builder's own Dockerfile frontend is enough, and
# nothing is fetched from a registry to parse this file.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own: the manifests and lockfile
# with empty targets, so that a source change (or a builder that only has
# the layer cache) does not recompile the ~280 crates below.
COPY Cargo.toml Cargo.lock ./
COPY gouqi-oauth/Cargo.toml gouqi-oauth/
COPY mcp-server/Cargo.toml mcp-server/
COPY tests/Cargo.toml tests/
# Each target a manifest declares (benches, bins, tests) gets an empty file,
# or cargo refuses the manifest.
RUN for crate in gouqi-oauth mcp-server tests; do \
      mkdir -p "$crate/src" && echo 'fn main() {}' > "$crate/src/lib.rs"; \
      awk -v crate="$crate" ' \
        /^\[/ { section = $0; next } \
        section ~ /^\[\[(bench|test|example)\]\]/ && /^name *=/ { \
          dir = section; gsub(/[^a-z]/, "", dir); dir = (dir == "bench") ? "benches" : dir "s"; \
          v = $0; gsub(/^[^"]*"|".*$/, "", v); print crate "/" dir "/" v ".rs" } \
        section ~ /^\[(\[(bench|bin|test|example)\]|lib)\]/ && /^path *=/ { \
          v = $0; gsub(/^[^"]*"|".*$/, "", v); print crate "/" v }' "$crate/Cargo.toml" \
      | while read -r f; do mkdir -p "$(dirname "$f")" && echo 'fn main() {}' > "$f"; done; \
    done \
 && cargo build --release --locked -p jira-mcp \
 && rm -rf gouqi-oauth mcp-server tests
# Then the sources. COPY keeps their (older) modification times: touch them so
# that cargo rebuilds the workspace crates over the empty ones.
COPY gouqi-oauth gouqi-oauth
COPY mcp-server mcp-server
COPY tests tests
RUN find gouqi-oauth mcp-server tests -name '*.rs' -exec touch {} + \
 && cargo build --release --locked -p jira-mcp \
 && install -D -s target/release/jira-mcp /out/jira-mcp

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 jira-mcp \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/jira-mcp --create-home \
      --shell /usr/sbin/nologin jira-mcp
COPY --from=build /out/jira-mcp /usr/local/bin/jira-mcp
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
WORKDIR /var/lib/jira-mcp
# The SQLite default (without JIRA_MCP_DATABASE_URL) lands in
# /var/lib/jira-mcp/jira-mcp/team.db: mount a volume on /var/lib/jira-mcp to
# keep it. No VOLUME here: it would leave an anonymous volume behind every
# container that runs on Postgres.
ENV JIRA_MCP_HTTP_ADDR=0.0.0.0:8080 \
    XDG_DATA_HOME=/var/lib/jira-mcp
EXPOSE 8080
# `jira-mcp health` asks /readyz with an allowed Host (the image has no curl).
HEALTHCHECK --interval=10s --timeout=6s --start-period=60s --retries=3 CMD ["jira-mcp", "health"]
ENTRYPOINT ["jira-mcp"]
CMD ["serve"]
