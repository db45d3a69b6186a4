//! The service against the real PostgreSQL and RabbitMQ, through the `liasse` commands. Each test
//! has its own database and its own queue prefix, so tests run in parallel.

use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::path::Path;
use std::process::{Command, Output};

/// The server every test database lives on (`SERVICE_TEST_PG`, default the local trust server).
fn pg_base() -> String {
    std::env::var("SERVICE_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn amqp_url() -> String {
    std::env::var("SERVICE_TEST_AMQP").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A name no other test (or run) uses.
pub fn unique(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.write_u32(std::process::id());
    format!("{prefix}_{:016x}", h.finish())
}

/// A database created for one test and dropped at the end.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = unique("liasse_test");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{}/postgres", pg_base()))
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
        admin.close().await;
        TestDb { url: format!("{}/{name}", pg_base()), name }
    }

    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new().max_connections(8).connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Best effort, on a thread of its own (Drop may run inside a runtime).
        let base = pg_base();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(admin) =
                    PgPoolOptions::new().max_connections(1).connect(&format!("{base}/postgres")).await
                {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&admin)
                    .await;
                }
            })
        })
        .join();
    }
}

/// The `liasse` command with the service configured for this database and queue prefix.
pub fn liasse(db_url: &str, prefix: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_liasse"));
    c.env("LIASSE_SERVICE__DATABASE_URL", db_url)
        .env("LIASSE_SERVICE__AMQP_URL", amqp_url())
        .env("LIASSE_SERVICE__QUEUE_PREFIX", prefix)
        .env("LIASSE_SERVICE__HTTP_ADDR", "")
        .env_remove("LIASSE_CONFIG");
    c
}

fn run_ok(c: &mut Command) -> Output {
    let out = c.output().expect("liasse runs");
    assert!(out.status.success(), "liasse failed: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    out
}

async fn tables(pool: &PgPool) -> Vec<String> {
    sqlx::query("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn migrate_creates_the_schema_and_runs_twice() {
    let db = TestDb::create().await;
    run_ok(liasse(&db.url, "unused").arg("migrate"));
    run_ok(liasse(&db.url, "unused").arg("migrate"));
    let pool = db.pool().await;
    let t = tables(&pool).await;
    for want in [
        "audit_log",
        "blobs",
        "clauses",
        "documents",
        "erp_feed",
        "erp_feed_counter",
        "fields",
        "flags",
        "jobs",
        "line_items",
        "pages",
        "receipts",
        "results",
        "reviews",
        "status_history",
    ] {
        assert!(t.iter().any(|x| x == want), "table {want} missing from {t:?}");
    }
    // The audit log is append-only.
    sqlx::query("INSERT INTO audit_log (actor_kind, actor, action) VALUES ('user', 'alice', 'test')")
        .execute(&pool)
        .await
        .unwrap();
    let err = sqlx::query("UPDATE audit_log SET action = 'changed'").execute(&pool).await.unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("DELETE FROM audit_log").execute(&pool).await.unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    pool.close().await;
}

/// Insert a document so that feed rows can refer to it.
async fn seed_document(pool: &PgPool, n: u32) -> String {
    let hash = format!("{:064x}", n);
    sqlx::query("INSERT INTO documents (content_hash, source_name) VALUES ($1, 'x.pdf')")
        .bind(&hash)
        .execute(pool)
        .await
        .unwrap();
    hash
}

/// A feed reader that keeps `max(seq)` as its cursor never misses a row: a writer that took a
/// number commits before the next number is handed out.
#[tokio::test]
async fn erp_feed_cursor_follows_commit_order() {
    let db = TestDb::create().await;
    run_ok(liasse(&db.url, "unused").arg("migrate"));
    let pool = db.pool().await;
    let a = seed_document(&pool, 1).await;
    let b = seed_document(&pool, 2).await;

    // Writer A takes a number and does not commit yet.
    let mut tx_a = pool.begin().await.unwrap();
    let seq_a: i64 = sqlx::query("SELECT erp_feed_append($1, NULL, 'processed', 'processed')")
        .bind(&a)
        .fetch_one(&mut *tx_a)
        .await
        .unwrap()
        .get(0);
    // Writer B starts after A: it must wait for A's commit to get its number.
    let pool_b = pool.clone();
    let b2 = b.clone();
    let writer_b = tokio::spawn(async move {
        let mut tx = pool_b.begin().await.unwrap();
        let seq: i64 = sqlx::query("SELECT erp_feed_append($1, NULL, 'processed', 'processed')")
            .bind(&b2)
            .fetch_one(&mut *tx)
            .await
            .unwrap()
            .get(0);
        tx.commit().await.unwrap();
        seq
    });
    // B is blocked on the counter row while A is open: it shows in pg_locks as waiting.
    let mut waited = false;
    for _ in 0..200 {
        let waiting: i64 = sqlx::query("SELECT count(*) FROM pg_locks WHERE NOT granted")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            waited = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(waited, "writer B should wait for A's commit");
    let visible: i64 = sqlx::query("SELECT count(*) FROM erp_feed").fetch_one(&pool).await.unwrap().get(0);
    assert_eq!(visible, 0, "nothing is visible before A commits");
    assert!(!writer_b.is_finished());
    tx_a.commit().await.unwrap();
    let seq_b = writer_b.await.unwrap();
    assert_eq!((seq_a, seq_b), (1, 2));

    // Many concurrent writers, one of which rolls back, and a reader polling with a cursor: the
    // reader sees every committed row exactly once, in order.
    let n_writers = 40u32;
    for i in 0..n_writers {
        seed_document(&pool, 100 + i).await;
    }
    let reader_pool = pool.clone();
    let reader = tokio::spawn(async move {
        let mut cursor = 2i64;
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while seen.len() < (n_writers - 1) as usize && std::time::Instant::now() < deadline {
            let rows = sqlx::query("SELECT seq, content_hash FROM erp_feed WHERE seq > $1 ORDER BY seq")
                .bind(cursor)
                .fetch_all(&reader_pool)
                .await
                .unwrap();
            for r in rows {
                let seq: i64 = r.get(0);
                cursor = seq;
                seen.push(r.get::<String, _>(1));
            }
        }
        seen
    });
    let mut writers = Vec::new();
    for i in 0..n_writers {
        let p = pool.clone();
        writers.push(tokio::spawn(async move {
            let hash = format!("{:064x}", 100 + i);
            let mut tx = p.begin().await.unwrap();
            sqlx::query("SELECT erp_feed_append($1, NULL, 'processed', 'processed')")
                .bind(&hash)
                .execute(&mut *tx)
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis((i % 7) as u64)).await;
            if i == 13 {
                tx.rollback().await.unwrap();
            } else {
                tx.commit().await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let mut seen = reader.await.unwrap();
    assert_eq!(seen.len(), (n_writers - 1) as usize, "the reader saw every committed row");
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), (n_writers - 1) as usize, "no row twice");
    // The numbers have no gap (the rolled-back writer gave its number back).
    let max: i64 = sqlx::query("SELECT max(seq) FROM erp_feed").fetch_one(&pool).await.unwrap().get(0);
    assert_eq!(max, 2 + (n_writers - 1) as i64);
    pool.close().await;
}

#[allow(dead_code)]
fn exists(p: &Path) -> bool {
    p.exists()
}
