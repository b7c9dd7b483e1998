//! The backend for several replicas: one Postgres database shared by every
//! jira-mcp process, each with its own connection pool.
//!
//! What makes it safe with replicas:
//! - single-use takes are single statements (`DELETE … RETURNING`,
//!   `UPDATE … RETURNING`), atomic whichever replica runs them;
//! - a user's grant lock is a Postgres advisory lock held by a connection of
//!   its own, so it excludes the other replicas, and a replica that dies
//!   (even by SIGKILL) loses its connection and with it the lock;
//! - migrations run under sqlx's migration lock (see [`PostgresStore::open`]).

use std::str::FromStr;
use std::time::Duration;

use gouqi_oauth::StoreLock;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, Row};

use super::sql::{self, shared_sql_helpers, shared_sql_impl, shared_sql_rows};
use super::{
    ClientRecord, CodeRecord, FamilyStart, PendingRecord, RefreshUse, StoreError, StoreResult,
    TeamStore, TokenHash, TokenRecord, UnixTime, UserId, UserRecord, now,
};

const BACKEND: &str = "postgres";

static MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "team store",
        include_str!("../../../migrations/postgres/0001_team_store.sql"),
    ),
    (
        2,
        "token families",
        include_str!("../../../migrations/postgres/0002_token_families.sql"),
    ),
    (
        3,
        "spent consents",
        include_str!("../../../migrations/postgres/0003_spent_consents.sql"),
    ),
];

/// The first key of jira-mcp's grant locks (`pg_advisory_lock(int, int)`):
/// "jmcp" in ASCII. The two-key form never meets sqlx's migration lock,
/// which uses the one-`bigint` form.
const LOCK_NAMESPACE: i32 = 0x6a6d_6370;

/// How much longer than the lock wait the client waits for the database's
/// answer before giving up on a silent connection.
const LOCK_GRACE: Duration = Duration::from_secs(5);

/// How long start-up waits for a database that cannot be reached yet (a
/// compose stack or a Postgres restart): long enough for a cold start, short
/// enough that a wrong host name ends in an error an operator sees.
const STARTUP_WAIT: Duration = Duration::from_secs(300);

/// Connects, waiting with exponential backoff (0.5 s doubling to 10 s)
/// while the server cannot be reached or is still starting up; any other
/// error (a wrong password, an unknown database) is returned at once.
async fn connect_waiting(
    options: &PgConnectOptions,
    place: &str,
    wait: Duration,
) -> Result<PgConnection, sqlx::Error> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut pause = Duration::from_millis(500);
    loop {
        match options.connect().await {
            Ok(conn) => return Ok(conn),
            Err(e) if may_come_up(&e) && tokio::time::Instant::now() + pause < deadline => {
                tracing::warn!(
                    "cannot reach {place} yet ({}); trying again in {:.1} s",
                    error_kind(&e),
                    pause.as_secs_f32()
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Errors of a server that is down or starting: refused or unreachable
/// (I/O, name not resolved yet), or Postgres's `57P03` (starting up,
/// shutting down, in recovery).
fn may_come_up(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => db.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

/// A short word for the log: the error itself could quote the URL.
fn error_kind(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => io.kind().to_string(),
        _ => "the server is starting up".into(),
    }
}

/// The team store in a Postgres database.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// Host, port and database, for messages (no user, no password).
    place: String,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`)
    /// and brings the schema up to date.
    ///
    /// Several replicas may start at once on an empty database: sqlx's
    /// migrator takes `pg_advisory_lock` (keyed by the database name) before
    /// it creates its `_sqlx_migrations` table and applies anything
    /// (sqlx-core 0.8 `Migrator::run_direct` calls `Migrate::lock` first;
    /// sqlx-postgres implements it with `SELECT pg_advisory_lock($1)`), so
    /// the second replica waits, then finds every migration applied. The
    /// migrations run on a connection of their own, closed afterwards, so
    /// that the session lock cannot outlive a failed migration in the pool.
    pub async fn open(url: &str) -> StoreResult<PostgresStore> {
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            sql::unavailable(
                BACKEND,
                format!(
                    "the database URL is not a Postgres URL ({}); use \
                     postgres://user:password@host:5432/database",
                    redact(&e.to_string(), url)
                ),
            )
        })?;
        let place = format!(
            "the Postgres database {} on {}:{}",
            options.get_database().unwrap_or("(default)"),
            options.get_host(),
            options.get_port()
        );
        let connect_failed = |e: sqlx::Error| {
            sql::unavailable(
                BACKEND,
                format!("cannot connect to {place}: {}", redact(&e.to_string(), url)),
            )
        };
        let mut conn = connect_waiting(&options, &place, STARTUP_WAIT)
            .await
            .map_err(connect_failed)?;
        sql::migrator(BACKEND, MIGRATIONS)
            .await?
            .run_direct(&mut conn)
            .await
            .map_err(|e| sql::unavailable(BACKEND, format!("cannot apply the migrations: {e}")))?;
        // Closing politely is only a courtesy: the migrator unlocked.
        let _ = conn.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(connect_failed)?;
        Ok(PostgresStore { pool, place })
    }

    /// Takes `user`'s advisory lock on `conn`, waiting at most `wait`.
    async fn advisory_lock(
        conn: &mut PgConnection,
        user: &UserId,
        wait: Duration,
    ) -> StoreResult<()> {
        // The server bounds the wait (`lock_timeout`), so a timed-out wait
        // leaves nothing queued; the client's timeout only covers a server
        // that stopped answering.
        let millis = wait.as_millis().clamp(1, i32::MAX as u128);
        let attempt = async {
            sqlx::query(&format!("SET lock_timeout = {millis}"))
                .execute(&mut *conn)
                .await?;
            sqlx::query("SELECT pg_advisory_lock($1, hashtext($2))")
                .bind(LOCK_NAMESPACE)
                .bind(&user.0)
                .execute(&mut *conn)
                .await
        };
        match tokio::time::timeout(wait + LOCK_GRACE, attempt).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if is_lock_timeout(&e) => Err(StoreError::LockTimeout { waited: wait }),
            Ok(Err(e)) => Err(sql::db_error(BACKEND, &e)),
            Err(_) => Err(StoreError::LockTimeout { waited: wait }),
        }
    }

    shared_sql_helpers!();
}

shared_sql_rows!(PgRow);

/// Postgres's "canceling statement due to lock timeout".
fn is_lock_timeout(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "55P03")
}

/// `message` without the password of `url`, should a driver quote it.
fn redact(message: &str, url: &str) -> String {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(str::to_owned))
    {
        Some(password) if !password.is_empty() => message.replace(&password, "***"),
        _ => message.to_string(),
    }
}

/// A held grant lock: the connection holding the advisory lock. Dropping it
/// closes the connection, which ends the session and releases the lock; if
/// the process dies instead, the server sees the connection drop and
/// releases it all the same.
struct HeldAdvisoryLock {
    conn: Option<PgConnection>,
    runtime: tokio::runtime::Handle,
}

impl Drop for HeldAdvisoryLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing sends Terminate (the server then releases the lock at
            // once); without a runtime left, dropping the socket does it.
            self.runtime.spawn(async move {
                let _ = conn.close().await;
            });
        }
    }
}

shared_sql_impl!(PostgresStore {
    fn describe(&self) -> String {
        self.place.clone()
    }

    async fn lock_grant(&self, user: &UserId, wait: Duration) -> StoreResult<StoreLock> {
        // A connection of its own, outside the pool: the lock lives as long
        // as the session, and the pool stays free for the refresh's reads
        // and writes.
        let mut conn = self
            .pool
            .connect_options()
            .connect()
            .await
            .map_err(|e| sql::db_error(BACKEND, &e))?;
        PostgresStore::advisory_lock(&mut conn, user, wait).await?;
        Ok(StoreLock::new(HeldAdvisoryLock {
            conn: Some(conn),
            runtime: tokio::runtime::Handle::current(),
        }))
    }
});
