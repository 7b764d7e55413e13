//! For tests: a fresh, empty store of the backend the environment names. Without
//! `ONEGRID_TEST_DATABASE_URL`, a SQLite file in a temporary folder; with it
//! (`postgres://postgres@127.0.0.1/test`), a new PostgreSQL database with a unique name made
//! through that server and dropped again afterwards.

use std::path::{Path, PathBuf};

use super::{Result, Store, StoreError};

/// The PostgreSQL server the tests run against, if any.
pub fn test_database_url() -> Option<String> {
    std::env::var("ONEGRID_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A database made for one test; dropped (with its connections) on [`TestDatabase::drop_now`]
/// or, failing that, by the next run once this process has ended.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

/// Prefix of every database the tests make: `onegrid_t_<pid>_<random>`.
const PREFIX: &str = "onegrid_t_";

impl TestDatabase {
    /// Creates an empty database (from `template` when given) on the server at `admin_url`.
    pub async fn create(admin_url: &str, template: Option<&str>) -> Result<TestDatabase> {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(admin_url).await?;
        drop_databases_of_ended_runs(&mut admin).await;
        let name = format!(
            "{PREFIX}{}_{:016x}",
            std::process::id(),
            rand::random::<u64>()
        );
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        // A template database may be briefly busy (its connections are closing).
        let mut tries = 0;
        loop {
            match sqlx::query(&sql).execute(&mut admin).await {
                Ok(_) => break,
                Err(e) if tries < 50 && e.to_string().contains("being accessed") => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let _ = admin.close().await;
        Ok(TestDatabase {
            admin_url: admin_url.to_string(),
            url: with_database(admin_url, &name),
            name,
        })
    }

    /// Drops the database, ending any connection still open to it.
    pub async fn drop_now(&self) -> Result<()> {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await?;
        let _ = admin.close().await;
        Ok(())
    }
}

/// `postgres://u@h:p/db?x` with the database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|j| start + j))
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Drops the databases earlier test processes made and left behind (a test that failed, a
/// process that was killed).
async fn drop_databases_of_ended_runs(admin: &mut sqlx::PgConnection) {
    let names: Vec<String> = match sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'onegrid\\_t\\_%' OR datname LIKE 'onegrid\\_tpl\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    {
        Ok(n) => n,
        Err(_) => return,
    };
    for name in names {
        let pid = name
            .trim_start_matches(PREFIX)
            .trim_start_matches("onegrid_tpl_")
            .split('_')
            .next()
            .and_then(|p| p.parse::<u32>().ok());
        let ended = pid.is_none_or(|p| !Path::new(&format!("/proc/{p}")).exists());
        if ended {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut *admin)
                .await;
        }
    }
}

/// A fresh empty store for one test, and what must live as long as it.
pub struct TestStore {
    pub store: Store,
    pub dir: tempfile::TempDir,
    pub database: Option<TestDatabase>,
}

impl TestStore {
    pub async fn new() -> Result<TestStore> {
        let dir = tempfile::tempdir().map_err(|source| StoreError::DataDir {
            path: PathBuf::from("<temp>"),
            source,
        })?;
        let (store, database) = match test_database_url() {
            Some(admin) => {
                let db = TestDatabase::create(&admin, None).await?;
                (Store::open_postgres(&db.url).await?, Some(db))
            }
            None => (Store::open_sqlite(dir.path()).await?, None),
        };
        Ok(TestStore {
            store,
            dir,
            database,
        })
    }

    /// A second store on the same data (another process's, or another replica's).
    pub async fn reopen(&self) -> Result<Store> {
        match &self.database {
            Some(db) => Store::open_postgres(&db.url).await,
            None => Store::open_sqlite(self.dir.path()).await,
        }
    }

    /// Closes the store and drops its database.
    pub async fn finish(self) {
        self.store.close().await;
        if let Some(db) = &self.database {
            if let Err(e) = db.drop_now().await {
                eprintln!("dropping test database {}: {e}", db.name);
            }
        }
    }
}
