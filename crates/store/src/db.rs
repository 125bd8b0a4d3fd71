use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, ConnectOptions, Executor, Transaction};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row holds a value the code cannot read: a bug or a hand-edited database.
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("unsupported database URL (use sqlite:// or postgres://): {0}")]
    UnsupportedUrl(String),
    #[error("cannot create the database directory {0}: {1}")]
    Dir(String, std::io::Error),
}

/// The unique keys that decide a race between two writers (two admins adding one login, two
/// requests with one Idempotency-Key): the caller turns exactly this key's violation into its
/// answer, and any other constraint stays an error. PostgreSQL names the key (the default
/// `{table}_{columns}_key` of the migrations); SQLite names its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    ShopCode,
    UserLogin,
    CustomerEmail,
    OperationKey,
    BulkRequestKey,
}

impl Unique {
    fn postgres(self) -> &'static str {
        match self {
            Unique::ShopCode => "shops_code_key",
            Unique::UserLogin => "users_login_key",
            Unique::CustomerEmail => "customers_shop_id_email_key",
            Unique::OperationKey => "payment_operations_shop_id_idempotency_key_key",
            Unique::BulkRequestKey => "bulk_runs_shop_id_request_key_key",
        }
    }

    fn sqlite(self) -> &'static str {
        match self {
            Unique::ShopCode => "UNIQUE constraint failed: shops.code",
            Unique::UserLogin => "UNIQUE constraint failed: users.login",
            Unique::CustomerEmail => "UNIQUE constraint failed: customers.shop_id, customers.email",
            Unique::OperationKey => {
                "UNIQUE constraint failed: payment_operations.shop_id, payment_operations.idempotency_key"
            }
            Unique::BulkRequestKey => {
                "UNIQUE constraint failed: bulk_runs.shop_id, bulk_runs.request_key"
            }
        }
    }
}

impl StoreError {
    /// The write was refused because `key` is already taken, and for no other reason.
    pub fn violates(&self, key: Unique) -> bool {
        let StoreError::Db(sqlx::Error::Database(d)) = self else {
            return false;
        };
        d.kind() == sqlx::error::ErrorKind::UniqueViolation
            && (d.constraint() == Some(key.postgres()) || d.message() == key.sqlite())
    }

    /// The database gave up on this transaction for reasons of its own that a retry may not
    /// meet: PostgreSQL's deadlock (40P01) or serialization failure (40001), SQLite busy or
    /// locked, a pool that had no connection in time.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(d)) => {
                let code = d.code();
                matches!(
                    code.as_deref(),
                    Some("40P01" | "40001" | "5" | "6" | "261" | "517")
                )
            }
            StoreError::Db(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => true,
            _ => false,
        }
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// An amount column as yen: a value out of juchu's range was not written by juchu.
pub(crate) fn yen(v: i64, column: &str) -> Result<juchu_domain::money::Yen, StoreError> {
    juchu_domain::money::Yen::new(v).map_err(|_| corrupt(format!("{column} {v}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database; cheap to clone. Holds no state beyond the pool, so any number
/// of juchu processes can share one PostgreSQL.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time. This process's writers queue here, in order, rather
    /// than in SQLite's busy handler, which polls with growing sleeps (milliseconds each, far
    /// longer than a write transaction); other processes still meet `busy_timeout`.
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// How long a write transaction waits for SQLite's writer, as `busy_timeout` does.
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// A write transaction. On PostgreSQL rows are locked with `FOR UPDATE` where it matters; on
/// SQLite the transaction takes the write lock at its start (`BEGIN IMMEDIATE`), so two
/// writers queue instead of failing half-way.
pub struct Tx {
    pub(crate) tx: Transaction<'static, Any>,
    pub(crate) backend: Backend,
    /// SQLite: this process's turn to write, held until the transaction ends (declared after
    /// `tx`, so it is released after the transaction).
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// `FOR UPDATE` on PostgreSQL; nothing on SQLite, whose transaction already holds the
    /// database's write lock.
    pub(crate) fn lock_clause(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }
}

impl Store {
    /// `sqlite://data/juchu.db` (created if missing) or `postgres://user@host/db`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let url = match backend {
            Backend::Sqlite => sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let opts = AnyConnectOptions::from_str(&url)?
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 10,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers work while one writer writes. FULL: every commit
                        // is on disk before it returns, as PostgreSQL's are — a payment's
                        // journal row must survive a power loss before its gateway call
                        // (NORMAL could lose the last commits). Bulk runs journal a batch per
                        // commit, so the sync is paid once per batch.
                        conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        Ok(Store {
            pool,
            backend,
            writer: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Start a write transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let (tx, writer) = match self.backend {
            Backend::Sqlite => {
                let turn = tokio::time::timeout(WRITE_WAIT, self.writer.clone().lock_owned())
                    .await
                    .map_err(|_| StoreError::Db(sqlx::Error::PoolTimedOut))?;
                (self.pool.begin_with("BEGIN IMMEDIATE").await?, Some(turn))
            }
            Backend::Postgres => (self.pool.begin().await?, None),
        };
        Ok(Tx {
            tx,
            backend: self.backend,
            _writer: writer,
        })
    }

    /// A connection for reads outside a transaction.
    pub async fn read(&self) -> Result<sqlx::pool::PoolConnection<Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Make sure an SQLite file's directory exists and that the file is created if missing.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:"
        && !path.is_empty()
        && let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Dir(dir.display().to_string(), e))?;
    }
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_schemas_say_the_same() {
        // Every migration, paired by file name: a file in one tree only is a drift too.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let names = |tree: &str| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(dir.join(tree))
                .expect("migrations dir")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            names("sqlite"),
            names("postgres"),
            "the same migrations in both trees"
        );
        let read = |tree: &str, name: &str| {
            std::fs::read_to_string(dir.join(tree).join(name)).expect("migration")
        };
        let pairs: Vec<(String, String)> = names("sqlite")
            .iter()
            .map(|n| (read("sqlite", n), read("postgres", n)))
            .collect();
        assert!(pairs.len() >= 8);
        for (lite, pg) in pairs {
            let norm_lite = lite
                .replace(
                    "INTEGER PRIMARY KEY",
                    "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                )
                .replace(" INTEGER", " BIGINT")
                .replace(
                    "(SQLite). Keep in step with ../postgres/",
                    "(PostgreSQL). Keep in step with ../sqlite/",
                )
                .replace("schema (SQLite)", "schema (PostgreSQL)");
            assert_eq!(norm_lite, pg, "the two migrations drifted apart");
        }
    }

    #[test]
    fn sqlite_urls() {
        assert_eq!(
            sqlite_url("sqlite::memory:").unwrap(),
            "sqlite://:memory:?mode=rwc"
        );
        assert_eq!(
            sqlite_url("sqlite://x.db?mode=ro").unwrap(),
            "sqlite://x.db?mode=ro"
        );
    }
}
