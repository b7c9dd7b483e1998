//! The default backend: one SQLite file, for one jira-mcp server (several
//! replicas share Postgres instead). A user's grant lock is an in-process
//! mutex plus a lock file, so that a second process on the same file (a
//! server started twice by mistake) cannot refresh the same grant at once.
//!
//! WAL journal (readers do not wait for the writer), a busy timeout (writers
//! queue instead of failing), `synchronous = FULL` (a saved refresh token
//! survives a power cut), foreign keys on (deleting a user deletes their
//! grant and tokens). The file and its directory are private to the user
//! running jira-mcp.

use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use gouqi_oauth::StoreLock;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use super::local_lock::UserLocks;
use super::sql::{self, shared_sql_helpers, shared_sql_impl, shared_sql_rows};
use super::{
    ClientRecord, CodeRecord, FamilyStart, PendingRecord, RefreshUse, StoreError, StoreResult,
    TeamStore, TokenHash, TokenRecord, UnixTime, UserId, UserRecord, now,
};

const BACKEND: &str = "sqlite";

/// How long a writer waits for another writer before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a grant lock held by another process is tried again.
const LOCK_FILE_POLL: Duration = Duration::from_millis(20);

static MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "team store",
        include_str!("../../../migrations/sqlite/0001_team_store.sql"),
    ),
    (
        2,
        "token families",
        include_str!("../../../migrations/sqlite/0002_token_families.sql"),
    ),
    (
        3,
        "spent consents",
        include_str!("../../../migrations/sqlite/0003_spent_consents.sql"),
    ),
];

/// The team store in a SQLite database.
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The file, or `None` in memory.
    path: Option<PathBuf>,
    /// The grant locks within this process (shared by all its stores on
    /// one file). On a file, a lock file per user also keeps out another
    /// process; replicas on several machines share Postgres instead.
    locks: UserLocks,
}

impl SqliteStore {
    /// Opens (creating it if needed) the database at `url`
    /// (`sqlite://path/to/team.db`, `sqlite:///absolute/path`, or
    /// `sqlite::memory:`), and brings its schema up to date.
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| {
            sql::unavailable(
                BACKEND,
                format!("the database URL is not a SQLite URL ({e}); use sqlite://path/to/team.db"),
            )
        })?;
        let path = options.get_filename().to_path_buf();
        // sqlx names `sqlite::memory:` databases `file:sqlx-in-memory-N`.
        if path.to_string_lossy().starts_with("file:sqlx-in-memory-") || url.contains("mode=memory")
        {
            return SqliteStore::memory().await;
        }
        if path.as_os_str().is_empty() {
            return Err(sql::unavailable(
                BACKEND,
                "the SQLite URL names no file; use sqlite://path/to/team.db".into(),
            ));
        }
        prepare_file(&path)?;
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|e| {
                sql::unavailable(BACKEND, format!("cannot open {}: {e}", path.display()))
            })?;
        let locks = locks_of(&path);
        SqliteStore::migrated(pool, Some(path), locks).await
    }

    /// A fresh database in memory, for tests.
    pub async fn memory() -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| sql::db_error(BACKEND, &e))?
            .foreign_keys(true);
        // Each connection would get a database of its own: keep exactly one,
        // forever.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| sql::db_error(BACKEND, &e))?;
        SqliteStore::migrated(pool, None, UserLocks::default()).await
    }

    async fn migrated(
        pool: SqlitePool,
        path: Option<PathBuf>,
        locks: UserLocks,
    ) -> StoreResult<SqliteStore> {
        sql::migrator(BACKEND, MIGRATIONS)
            .await?
            .run(&pool)
            .await
            .map_err(|e| sql::unavailable(BACKEND, format!("cannot apply the migrations: {e}")))?;
        Ok(SqliteStore { pool, path, locks })
    }

    shared_sql_helpers!();
}

shared_sql_rows!(SqliteRow);

/// The grant locks of the database file at `path`, shared by every
/// [`SqliteStore`] of this process on that file.
fn locks_of(path: &Path) -> UserLocks {
    static BY_FILE: LazyLock<Mutex<HashMap<PathBuf, UserLocks>>> = LazyLock::new(Mutex::default);
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut by_file = BY_FILE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    by_file.entry(key).or_default().clone()
}

/// Takes `user`'s lock file beside the database (`team.db.locks/`), waiting
/// at most `remaining`: the in-process lock cannot see another process on
/// the same file (a second server started by mistake), this can. The OS
/// releases it when the file is closed, or when its process dies.
async fn lock_file(
    db: &Path,
    user: &UserId,
    remaining: Duration,
    wait: Duration,
) -> StoreResult<File> {
    let mut dir = db.as_os_str().to_owned();
    dir.push(".locks");
    let dir = PathBuf::from(dir);
    let fail = |e: std::io::Error| {
        sql::unavailable(
            BACKEND,
            format!(
                "cannot lock a grant in {}: {e}. Check that the directory is writable",
                dir.display()
            ),
        )
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&dir).map_err(fail)?;
    // A hash names the file: user ids are not file names.
    let name = format!("{}.lock", &TokenHash::of(&user.0).as_str()[..32]);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(dir.join(name)).map_err(fail)?;
    let deadline = Instant::now() + remaining;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(fail(e)),
        }
        if Instant::now() >= deadline {
            return Err(StoreError::LockTimeout { waited: wait });
        }
        tokio::time::sleep(LOCK_FILE_POLL).await;
    }
}

/// Creates the database's directory (0700) and file (0600) if missing, so
/// that SQLite never creates them with the process umask.
fn prepare_file(path: &Path) -> StoreResult<()> {
    let fail = |what: &str, e: std::io::Error| {
        sql::unavailable(
            BACKEND,
            format!(
                "cannot create {what} {}: {e}. Create it, or point JIRA_MCP_DATABASE_URL elsewhere",
                path.display()
            ),
        )
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| fail("the directory of", e))?;
    }
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    file.open(path)
        .map(drop)
        .map_err(|e| fail("the database", e))
}

shared_sql_impl!(SqliteStore {
    fn describe(&self) -> String {
        match &self.path {
            Some(path) => format!("the SQLite database {}", path.display()),
            None => "an in-memory SQLite database".to_string(),
        }
    }

    async fn lock_grant(&self, user: &UserId, wait: Duration) -> StoreResult<StoreLock> {
        let started = Instant::now();
        let in_process = self.locks.lock(user, wait).await?;
        let Some(path) = &self.path else {
            return Ok(in_process);
        };
        let remaining = wait.saturating_sub(started.elapsed());
        let file = lock_file(path, user, remaining, wait).await?;
        // Dropped in order: the file first, then the in-process lock.
        Ok(StoreLock::new((file, in_process)))
    }
});
