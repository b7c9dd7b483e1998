#!/bin/bash
# Stand-in entrypoint: honours POSTGRES_USER, POSTGRES_PASSWORD(_FILE), POSTGRES_DB
# and PGDATA like the official image, nothing more.
set -Eeo pipefail
PGBIN=/usr/lib/postgresql/15/bin
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"; chmod 3777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi
if [ "$1" = 'postgres' ]; then
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE"); fi
    : "${POSTGRES_PASSWORD:?Database is uninitialized and superuser password is not specified.}"
    POSTGRES_USER="${POSTGRES_USER:-postgres}"; POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
    "$PGBIN/initdb" --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
      -D "$PGDATA" --auth-local=trust --auth-host=scram-sha-256
    printf '\nhost all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
    "$PGBIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$POSTGRES_DB" != 'postgres' ]; then
      psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -c "CREATE DATABASE \"$POSTGRES_DB\";"
    fi
    "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop
  fi
  exec "$PGBIN/postgres" -D "$PGDATA" -c listen_addresses='*' "${@:2}"
fi
exec "$@"
