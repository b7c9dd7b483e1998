//! What the SQL backends share: the queries (written once, in the `$n`
//! placeholder form both SQLite and Postgres accept), the embedded
//! migrations, and the mapping of records to rows.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use super::{StoreError, StoreResult, UserId};

/// Migrations compiled into the binary: `(version, description, sql)`.
///
/// (`sqlx::migrate!` would embed them too, but it needs sqlx's proc-macro
/// feature; this source gives the same `Migrator`, checksums included.)
#[derive(Debug)]
pub(super) struct Embedded(pub &'static [(i64, &'static str, &'static str)]);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(std::future::ready(Ok(migrations)))
    }
}

/// The migrator for `migrations`.
pub(super) async fn migrator(
    backend: &'static str,
    migrations: &'static [(i64, &'static str, &'static str)],
) -> StoreResult<Migrator> {
    Migrator::new(Embedded(migrations))
        .await
        .map_err(|e| unavailable(backend, format!("cannot prepare the migrations: {e}")))
}

/// A database failure, as a [`StoreError`]. sqlx's messages name the
/// operation and the database's complaint, never bound values.
pub(super) fn db_error(backend: &'static str, e: &sqlx::Error) -> StoreError {
    unavailable(backend, e.to_string())
}

pub(super) fn unavailable(backend: &'static str, message: String) -> StoreError {
    StoreError::Unavailable { backend, message }
}

/// A record as the JSON kept in a `record` column.
pub(super) fn to_json(record: &impl Serialize) -> String {
    // The records hold strings, numbers and lists: they always serialize.
    serde_json::to_string(record).expect("store records serialize to JSON")
}

/// A record read back from a `record` column. The error describes the
/// problem without quoting the content.
pub(super) fn from_json<T: DeserializeOwned>(what: &'static str, json: &str) -> StoreResult<T> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what,
        detail: format!(
            "invalid JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

/// A new random user id.
pub(super) fn new_user_id() -> UserId {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    UserId(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `impl TeamStore for $store`: the methods both SQL backends implement
/// with the same queries, plus the backend's own items (`describe`,
/// `lock_grant`). `$store` has a `pool` field and `BACKEND: &str` is in
/// scope. (The whole impl is generated so that `async_trait` sees it.)
macro_rules! shared_sql_impl {
    ($store:ty { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl TeamStore for $store {
        $($own)*

        async fn ping(&self) -> StoreResult<()> {
            sqlx::query("SELECT 1")
                .execute(&self.pool)
                .await
                .map(drop)
                .map_err(|e| sql::db_error(BACKEND, &e))
        }

        async fn upsert_user(
            &self,
            account_id: &str,
            site: &str,
            display_name: Option<&str>,
        ) -> StoreResult<UserRecord> {
            // One statement, so two first sign-ins at once make one user.
            let row = sqlx::query(
                "INSERT INTO users (id, account_id, site, display_name, created_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (account_id, site) DO UPDATE \
                 SET display_name = COALESCE(excluded.display_name, users.display_name) \
                 RETURNING id, account_id, site, display_name, created_at",
            )
            .bind(sql::new_user_id().0)
            .bind(account_id)
            .bind(site)
            .bind(display_name)
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| sql::db_error(BACKEND, &e))?;
            user_from_row(&row)
        }

        async fn user(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
            let row = sqlx::query(
                "SELECT id, account_id, site, display_name, created_at FROM users WHERE id = $1",
            )
            .bind(&id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| sql::db_error(BACKEND, &e))?;
            row.as_ref().map(user_from_row).transpose()
        }

        async fn users(&self) -> StoreResult<Vec<UserRecord>> {
            let rows = sqlx::query(
                "SELECT id, account_id, site, display_name, created_at FROM users \
                 ORDER BY created_at, id",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(|e| sql::db_error(BACKEND, &e))?;
            rows.iter().map(user_from_row).collect()
        }

        async fn delete_user(&self, id: &UserId) -> StoreResult<bool> {
            // The grant, codes and tokens go with it (ON DELETE CASCADE).
            let done = sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(&id.0)
                .execute(&self.pool)
                .await
                .map_err(|e| sql::db_error(BACKEND, &e))?;
            Ok(done.rows_affected() > 0)
        }

        async fn load_grant(&self, user: &UserId) -> StoreResult<Option<Vec<u8>>> {
            let row = sqlx::query("SELECT sealed FROM grants WHERE user_id = $1")
                .bind(&user.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| sql::db_error(BACKEND, &e))?;
            row.map(|row| row.try_get::<Vec<u8>, _>("sealed"))
                .transpose()
                .map_err(|e| sql::db_error(BACKEND, &e))
        }

        async fn save_grant(&self, user: &UserId, sealed: &[u8]) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO grants (user_id, sealed, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE \
                 SET sealed = excluded.sealed, updated_at = excluded.updated_at",
            )
            .bind(&user.0)
            .bind(sealed)
            .bind(now())
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| sql::db_error(BACKEND, &e))
        }

        async fn clear_grant(&self, user: &UserId) -> StoreResult<bool> {
            let done = sqlx::query("DELETE FROM grants WHERE user_id = $1")
                .bind(&user.0)
                .execute(&self.pool)
                .await
                .map_err(|e| sql::db_error(BACKEND, &e))?;
            Ok(done.rows_affected() > 0)
        }

        async fn put_client(&self, client: &ClientRecord) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO clients (client_id, record, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (client_id) DO UPDATE SET record = excluded.record",
            )
            .bind(&client.client_id)
            .bind(sql::to_json(client))
            .bind(client.created_at)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| sql::db_error(BACKEND, &e))
        }

        async fn client(&self, client_id: &str) -> StoreResult<Option<ClientRecord>> {
            let record = self
                .record("SELECT record FROM clients WHERE client_id = $1", client_id)
                .await?;
            record.map(|json| sql::from_json("client", &json)).transpose()
        }

        async fn put_pending(&self, key: &TokenHash, record: &PendingRecord) -> StoreResult<()> {
            sqlx::query("INSERT INTO pending (hash, record, expires_at) VALUES ($1, $2, $3)")
                .bind(key.as_str())
                .bind(sql::to_json(record))
                .bind(record.expires_at)
                .execute(&self.pool)
                .await
                .map(drop)
                .map_err(|e| sql::db_error(BACKEND, &e))
        }

        async fn take_pending(&self, key: &TokenHash) -> StoreResult<Option<PendingRecord>> {
            // DELETE … RETURNING: of concurrent takers, one gets the row.
            let record = self
                .record("DELETE FROM pending WHERE hash = $1 RETURNING record", key.as_str())
                .await?;
            let record: Option<PendingRecord> = record
                .map(|json| sql::from_json("pending authorization", &json))
                .transpose()?;
            Ok(record.filter(|r| r.expires_at > now()))
        }

        async fn pending(&self, key: &TokenHash) -> StoreResult<Option<PendingRecord>> {
            let record = self
                .record("SELECT record FROM pending WHERE hash = $1", key.as_str())
                .await?;
            let record: Option<PendingRecord> = record
                .map(|json| sql::from_json("pending authorization", &json))
                .transpose()?;
            Ok(record.filter(|r| r.expires_at > now()))
        }

        async fn spend_consent(&self, key: &TokenHash, expires_at: UnixTime) -> StoreResult<bool> {
            // The primary key decides: of concurrent spenders, one inserts.
            let done = sqlx::query(
                "INSERT INTO spent_consents (hash, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (hash) DO NOTHING",
            )
            .bind(key.as_str())
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(|e| sql::db_error(BACKEND, &e))?;
            Ok(done.rows_affected() == 1)
        }

        async fn put_code(&self, key: &TokenHash, record: &CodeRecord) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO codes (hash, user_id, record, expires_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(key.as_str())
            .bind(&record.user.0)
            .bind(sql::to_json(record))
            .bind(record.expires_at)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| sql::db_error(BACKEND, &e))
        }

        async fn take_code(
            &self,
            key: &TokenHash,
            family: &FamilyStart,
        ) -> StoreResult<Option<CodeRecord>> {
            let fail = |e| sql::db_error(BACKEND, &e);
            // One transaction: a concurrent replay of the code cannot see it
            // gone without also seeing the family it started (and so can
            // revoke it), on any replica.
            let mut tx = self.pool.begin().await.map_err(fail)?;
            let row = sqlx::query("DELETE FROM codes WHERE hash = $1 RETURNING record")
                .bind(key.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(fail)?;
            let record: Option<CodeRecord> = row
                .map(|row| row.try_get::<String, _>("record"))
                .transpose()
                .map_err(fail)?
                .map(|json| sql::from_json("authorization code", &json))
                .transpose()?;
            let Some(record) = record.filter(|r| r.expires_at > now()) else {
                tx.commit().await.map_err(fail)?;
                return Ok(None);
            };
            sqlx::query(
                "INSERT INTO families (family, user_id, client_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (family) DO NOTHING",
            )
            .bind(&family.family)
            .bind(&record.user.0)
            .bind(&record.client_id)
            .bind(now())
            .bind(family.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
            sqlx::query("UPDATE clients SET authorized = TRUE WHERE client_id = $1")
                .bind(&record.client_id)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            Ok(Some(record))
        }

        async fn put_access(&self, key: &TokenHash, record: &TokenRecord) -> StoreResult<bool> {
            self.put_token("access", key, record).await
        }

        async fn access(&self, key: &TokenHash) -> StoreResult<Option<TokenRecord>> {
            let row = sqlx::query(
                "SELECT record FROM tokens WHERE hash = $1 AND kind = 'access' \
                 AND revoked = FALSE AND expires_at > $2 AND EXISTS (\
                 SELECT 1 FROM families f WHERE f.family = tokens.family \
                 AND f.revoked = FALSE AND f.expires_at > $2)",
            )
            .bind(key.as_str())
            .bind(now())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| sql::db_error(BACKEND, &e))?;
            row.map(|row| token_from_row(&row)).transpose()
        }

        async fn put_refresh(&self, key: &TokenHash, record: &TokenRecord) -> StoreResult<bool> {
            self.put_token("refresh", key, record).await
        }

        async fn take_refresh(&self, key: &TokenHash) -> StoreResult<RefreshUse> {
            // One atomic increment: the taker that reads 1 used it first;
            // any later one (on any replica) reads more, a replay.
            let row = sqlx::query(
                "UPDATE tokens SET used = used + 1 WHERE hash = $1 AND kind = 'refresh' \
                 AND revoked = FALSE AND expires_at > $2 AND EXISTS (\
                 SELECT 1 FROM families f WHERE f.family = tokens.family \
                 AND f.revoked = FALSE AND f.expires_at > $2) \
                 RETURNING used, record",
            )
            .bind(key.as_str())
            .bind(now())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| sql::db_error(BACKEND, &e))?;
            let Some(row) = row else {
                return Ok(RefreshUse::Unknown);
            };
            let used: i64 = row.try_get("used").map_err(|e| sql::db_error(BACKEND, &e))?;
            let record = token_from_row(&row)?;
            Ok(if used == 1 {
                RefreshUse::Fresh(record)
            } else {
                RefreshUse::Replayed(record)
            })
        }

        async fn revoke_token(&self, key: &TokenHash) -> StoreResult<bool> {
            let done = sqlx::query("UPDATE tokens SET revoked = TRUE WHERE hash = $1")
                .bind(key.as_str())
                .execute(&self.pool)
                .await
                .map_err(|e| sql::db_error(BACKEND, &e))?;
            Ok(done.rows_affected() > 0)
        }

        async fn revoke_family(&self, family: &str) -> StoreResult<u64> {
            // The family first: from then on every lookup refuses its
            // tokens, even those a racing request inserts after the update
            // below.
            sqlx::query("UPDATE families SET revoked = TRUE WHERE family = $1")
                .bind(family)
                .execute(&self.pool)
                .await
                .map_err(|e| sql::db_error(BACKEND, &e))?;
            let done = sqlx::query(
                "UPDATE tokens SET revoked = TRUE WHERE family = $1 AND revoked = FALSE",
            )
            .bind(family)
            .execute(&self.pool)
            .await
            .map_err(|e| sql::db_error(BACKEND, &e))?;
            Ok(done.rows_affected())
        }

        async fn revoke_user_tokens(&self, user: &UserId) -> StoreResult<u64> {
            let fail = |e| sql::db_error(BACKEND, &e);
            // Codes first: a code being redeemed right now either is gone
            // before this sees it, with its family started (revoked next),
            // or is deleted here and cannot be redeemed.
            let mut tx = self.pool.begin().await.map_err(fail)?;
            let codes = sqlx::query("DELETE FROM codes WHERE user_id = $1")
                .bind(&user.0)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            sqlx::query("UPDATE families SET revoked = TRUE WHERE user_id = $1")
                .bind(&user.0)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            let tokens = sqlx::query(
                "UPDATE tokens SET revoked = TRUE WHERE user_id = $1 AND revoked = FALSE",
            )
            .bind(&user.0)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            Ok(codes.rows_affected() + tokens.rows_affected())
        }

        async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
            let mut purged = 0;
            for table in ["pending", "codes", "tokens", "families", "spent_consents"] {
                let done = sqlx::query(&format!("DELETE FROM {table} WHERE expires_at <= $1"))
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| sql::db_error(BACKEND, &e))?;
                purged += done.rows_affected();
            }
            Ok(purged)
        }

        async fn purge_unused_clients(&self, registered_before: UnixTime) -> StoreResult<u64> {
            let done = sqlx::query(
                "DELETE FROM clients WHERE created_at <= $1 AND authorized = FALSE",
            )
            .bind(registered_before)
            .execute(&self.pool)
            .await
            .map_err(|e| sql::db_error(BACKEND, &e))?;
            Ok(done.rows_affected())
        }
        }
    };
}

/// Helpers the shared methods call, for a backend with a `pool` field.
/// Expands inside the backend's inherent `impl`.
macro_rules! shared_sql_helpers {
    () => {
        /// The `record` column of the one row `query` (with `key` bound)
        /// returns.
        async fn record(&self, query: &'static str, key: &str) -> StoreResult<Option<String>> {
            let row = sqlx::query(query)
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| sql::db_error(BACKEND, &e))?;
            row.map(|row| row.try_get::<String, _>("record"))
                .transpose()
                .map_err(|e| sql::db_error(BACKEND, &e))
        }

        async fn put_token(
            &self,
            kind: &'static str,
            key: &TokenHash,
            record: &TokenRecord,
        ) -> StoreResult<bool> {
            let fail = |e| sql::db_error(BACKEND, &e);
            // Redeeming a code starts its family (`take_code`); this covers
            // callers that put tokens directly. A started or revoked family
            // is left as it is.
            sqlx::query(
                "INSERT INTO families (family, user_id, client_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (family) DO NOTHING",
            )
            .bind(&record.family)
            .bind(&record.user.0)
            .bind(&record.client_id)
            .bind(now())
            .bind(record.expires_at)
            .execute(&self.pool)
            .await
            .map_err(fail)?;
            let done = sqlx::query(
                "INSERT INTO tokens (hash, kind, user_id, client_id, family, expires_at, record) \
                 SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (\
                 SELECT 1 FROM families WHERE family = $5 AND revoked = FALSE)",
            )
            .bind(key.as_str())
            .bind(kind)
            .bind(&record.user.0)
            .bind(&record.client_id)
            .bind(&record.family)
            .bind(record.expires_at)
            .bind(sql::to_json(record))
            .execute(&self.pool)
            .await
            .map_err(fail)?;
            Ok(done.rows_affected() > 0)
        }
    };
}

/// Row readers, generic over the row type of either backend.
macro_rules! shared_sql_rows {
    ($row:ty) => {
        fn user_from_row(row: &$row) -> StoreResult<UserRecord> {
            let get = |e| sql::db_error(BACKEND, &e);
            Ok(UserRecord {
                id: UserId(row.try_get("id").map_err(get)?),
                account_id: row.try_get("account_id").map_err(get)?,
                site: row.try_get("site").map_err(get)?,
                display_name: row.try_get("display_name").map_err(get)?,
                created_at: row.try_get("created_at").map_err(get)?,
            })
        }

        fn token_from_row(row: &$row) -> StoreResult<TokenRecord> {
            let json: String = row
                .try_get("record")
                .map_err(|e| sql::db_error(BACKEND, &e))?;
            sql::from_json("token", &json)
        }
    };
}

pub(super) use {shared_sql_helpers, shared_sql_impl, shared_sql_rows};
