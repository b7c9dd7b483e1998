# syntax=docker/dockerfile:1
# jira-mcp, the team server: a small runtime image running as a non-root user.
#   docker build -t jira-mcp .
#   docker run --env-file jira-mcp.env -p 8080:8080 jira-mcp
# See mcp-server/README.md ("Several replicas on Postgres") and compose.yaml.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the registry and build between image builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p jira-mcp \
 && install -D -s target/release/jira-mcp /out/jira-mcp

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/jira-mcp --create-home jira-mcp
COPY --from=build /out/jira-mcp /usr/local/bin/jira-mcp
USER jira-mcp
WORKDIR /var/lib/jira-mcp
# The SQLite default lands in the data directory; mount a volume there when
# not using Postgres (JIRA_MCP_DATABASE_URL=postgres://…).
ENV JIRA_MCP_HTTP_ADDR=0.0.0.0:8080 \
    XDG_DATA_HOME=/var/lib/jira-mcp
VOLUME ["/var/lib/jira-mcp"]
EXPOSE 8080
ENTRYPOINT ["jira-mcp"]
CMD ["serve"]
