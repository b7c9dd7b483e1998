//! Postgres for the replica tests and the benchmark: a fresh, empty
//! database per test on the server named by `JIRA_MCP_TEST_POSTGRES_URL`
//! (`eval "$(.ci/postgres start)"` prints it), row counts, and `pg_dump`.
//!
//! Without the variable the tests fail when `CI` is set (they never skip
//! silently there), and otherwise say why they did nothing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, PgConnection, Row};

/// The variable that names the test server.
pub const URL_VAR: &str = "JIRA_MCP_TEST_POSTGRES_URL";

/// The server's URL; `None` (with the reason printed) when none is
/// configured outside CI. Panics when `CI` is set and the variable is not.
pub fn server_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "CI is set but {URL_VAR} is not: the Postgres tests need a server. Start one with \
             `eval \"$(.ci/postgres start)\"`"
        ),
        _ => {
            eprintln!(
                "not run: {URL_VAR} is not set. Start a throwaway Postgres with \
                 `eval \"$(.ci/postgres start)\"` to run the Postgres tests"
            );
            None
        }
    }
}

/// The URL of a new, empty database on the test server (see
/// [`server_url`] for when there is none).
pub async fn fresh_database() -> Option<String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let server = server_url()?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    // `jmcp_<pid>_…`: the prefix and pid that drop_leftovers (here and in
    // mcp-server's store tests) use to clean up after finished runs.
    let name = format!(
        "jmcp_{}_{nanos}_e2e{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = PgConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {URL_VAR}'s server: {e}"));
    drop_leftovers(&mut admin).await;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    let _ = admin.close().await;
    let mut url = url::Url::parse(&server).expect("the Postgres URL is a URL");
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

/// Drops, once per process, the test databases of processes that are gone
/// (their pid is in the name), so repeated runs do not pile them up.
async fn drop_leftovers(admin: &mut PgConnection) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) || !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let names: Vec<String> =
        sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'jmcp\\_%'")
            .fetch_all(&mut *admin)
            .await
            .map(|rows| rows.iter().map(|row| row.get("datname")).collect())
            .unwrap_or_default();
    for name in names {
        let pid = name.split('_').nth(1).unwrap_or_default();
        if !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            // Best effort: another run may be dropping it too.
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut *admin)
                .await;
        }
    }
}

/// The rows of `sql` (one text column) in the database at `url`.
pub async fn texts(url: &str, sql: &str) -> Vec<String> {
    let mut conn = PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to the test database: {e}"));
    let rows = sqlx::query(sql)
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
    rows.iter().map(|row| row.get::<String, _>(0)).collect()
}

/// `pg_dump`: on the PATH, or the newest under /usr/lib/postgresql/*/bin
/// (Debian's layout, as `.ci/postgres` finds its binaries).
pub fn pg_dump_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("pg_dump"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let mut found: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let version = entry
                    .file_name()
                    .to_string_lossy()
                    .split('.')
                    .map(|part| part.parse().ok())
                    .collect::<Option<Vec<u32>>>()?;
                let binary = entry.path().join("bin/pg_dump");
                binary.is_file().then_some((version, binary))
            })
            .collect();
        found.sort();
        found.pop().map(|(_, binary)| binary)
    })
}

/// A plain-SQL `pg_dump` of the database at `url` (data and schema).
pub fn pg_dump(url: &str) -> String {
    let binary = pg_dump_binary().unwrap_or_else(|| {
        panic!(
            "no pg_dump on the PATH or under /usr/lib/postgresql/*/bin: install postgresql-client"
        )
    });
    let output = std::process::Command::new(&binary)
        .arg("--no-owner")
        .arg("--dbname")
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", binary.display()));
    assert!(
        output.status.success(),
        "pg_dump failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
