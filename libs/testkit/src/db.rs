//! [`TestDb`]: a database of its own for each test.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{
    AssertSqlSafe, Connection, Executor, PgConnection, PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

const ROLES_SQL: &str = include_str!("../../../deploy/db/roles.sql");
const SCHEMAS_SQL: &str = include_str!("../../../deploy/db/schemas.sql");

/// Test databases older than this are leftovers of killed runs and are dropped.
const STALE_AFTER_SECS: u64 = 2 * 3600;

fn admin_options() -> PgConnectOptions {
    let url = std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    url.parse()
        .expect("TEST_DATABASE_ADMIN_URL is a postgres:// URL")
}

/// A database of its own for one test.
pub struct TestDb {
    pub name: String,
    /// Connected as the service's role, after its migrations ran.
    pub pool: PgPool,
    role: String,
    admin: PgConnectOptions,
}

impl TestDb {
    /// Creates, bootstraps and migrates (as `role`) a new database.
    pub async fn new(role: &str, migrator: &Migrator) -> anyhow::Result<Self> {
        let db = Self::empty(role).await?;
        migrator.run(&db.pool).await?;
        Ok(db)
    }

    /// Creates and bootstraps a new database, leaving the migrations to the caller (the
    /// service binary's `migrate`, say).
    pub async fn empty(role: &str) -> anyhow::Result<Self> {
        Self::empty_on(admin_options(), role).await
    }

    /// [`TestDb::empty`] on the server `admin` (a superuser's options) reaches — a
    /// [`PgServer`] of the test's own, say.
    pub async fn empty_on(admin_options: PgConnectOptions, role: &str) -> anyhow::Result<Self> {
        let mut admin = PgConnection::connect_with(&admin_options).await?;
        admin.execute(ROLES_SQL).await?;
        drop_stale_databases(&mut admin).await;
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let name = format!(
            "test_{now}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await?;
        admin.close().await?;

        let mut db_admin =
            PgConnection::connect_with(&admin_options.clone().database(&name)).await?;
        db_admin.execute(SCHEMAS_SQL).await?;
        db_admin.close().await?;

        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(as_role(&admin_options, &name, role))
            .await?;
        Ok(Self {
            name,
            pool,
            role: role.to_owned(),
            admin: admin_options,
        })
    }

    /// Options to connect to this database as `role` (another service's, say).
    pub fn options_as(&self, role: &str) -> PgConnectOptions {
        as_role(&self.admin, &self.name, role)
    }

    /// A `postgres://` URL for a child process connecting as the service's role.
    pub fn url(&self) -> String {
        self.url_as(&self.role)
    }

    /// A `postgres://` URL connecting as `role`.
    pub fn url_as(&self, role: &str) -> String {
        let o = &self.admin;
        format!(
            "postgres://{role}@{}:{}/{}",
            o.get_host(),
            o.get_port(),
            self.name
        )
    }

    /// Runs another service's migrations in this database, as that service's role (tests
    /// that run several services on one database); returns a pool as that role.
    pub async fn migrate_as(&self, role: &str, migrator: &Migrator) -> anyhow::Result<PgPool> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(self.options_as(role))
            .await?;
        migrator.run(&pool).await?;
        Ok(pool)
    }

    /// A superuser connection to this database, for assertions that look past the role.
    pub async fn admin(&self) -> anyhow::Result<PgConnection> {
        Ok(PgConnection::connect_with(&self.admin.clone().database(&self.name)).await?)
    }
}

fn as_role(admin: &PgConnectOptions, database: &str, role: &str) -> PgConnectOptions {
    admin.clone().database(database).username(role).password("")
}

async fn drop_stale_databases(admin: &mut PgConnection) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let created = name
            .split('_')
            .nth(1)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(now);
        if now.saturating_sub(created) > STALE_AFTER_SECS {
            let _ = admin
                .execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .await;
        }
    }
}
