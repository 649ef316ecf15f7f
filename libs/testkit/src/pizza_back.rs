//! [`PizzaBack`]: a database shaped like pizza_back's (the Django system being replaced), the
//! source of `import-legacy` in tests; [`django_hashes`] makes its password hashes with
//! Django's own hashers.

use std::process::Command;

use sqlx::{AssertSqlSafe, Executor, PgPool};

use crate::TestDb;

const DDL: &str = include_str!("pizza_back.sql");

/// pizza_back's tables (its design document's DDL) in a fresh database of their own.
pub struct PizzaBack {
    db: TestDb,
    /// A superuser pool on it, to fill it.
    pub pool: PgPool,
}

impl PizzaBack {
    pub async fn create() -> anyhow::Result<Self> {
        // A database of the test's own (dropped with the others when stale); its tables go
        // in `public`, as Django's do.
        let db = TestDb::empty("login_svc").await?;
        let mut admin = db.admin().await?;
        admin.execute("SET search_path = public").await?;
        admin.execute(AssertSqlSafe(DDL)).await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_with(db.options_as("postgres"))
            .await?;
        Ok(Self { db, pool })
    }

    /// The URL `import-legacy --source` takes.
    pub fn url(&self) -> String {
        self.db.url_as("postgres")
    }
}

/// Django's `make_password(password, hasher=…)` for each pair, by Django itself (PyPI
/// `Django`, in the virtualenv `scripts/django.sh` makes).
pub fn django_hashes(pairs: &[(&str, &str)]) -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = Command::new(root.join("scripts/django.sh"))
        .output()
        .expect("scripts/django.sh runs");
    assert!(
        python.status.success(),
        "scripts/django.sh: {}",
        String::from_utf8_lossy(&python.stderr)
    );
    let python = String::from_utf8(python.stdout).unwrap();
    let script = r#"
import sys
from django.conf import settings
settings.configure()
from django.contrib.auth.hashers import make_password
args = sys.argv[1:]
for password, hasher in zip(args[::2], args[1::2]):
    print(make_password(password, hasher=hasher))
"#;
    let mut cmd = Command::new(python.trim());
    cmd.arg("-c").arg(script);
    for (password, hasher) in pairs {
        cmd.arg(password).arg(hasher);
    }
    let out = cmd.output().expect("python runs");
    assert!(
        out.status.success(),
        "Django's make_password: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}
