//! The service against the real PostgreSQL and RabbitMQ, through the `liasse` commands. Each test
//! has its own database and its own queue prefix, so tests run in parallel.

use sqlx::Row as _;
use sqlx::postgres::PgPool;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use crate::support::TestDb;
use crate::support::{amqp_url, free_port, unique};

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

/// A one-page text PDF whose text makes it unique.
pub fn tiny_pdf(text: &str) -> Vec<u8> {
    crate::support::text_pdf(text.lines())
}

fn invoice_text(i: usize) -> String {
    format!("FACTURE No F-2026-{i:05}\nFournisseur Test SARL\nTotal TTC : {},{:02} EUR", 100 + i, i % 100)
}

/// One test's world: a database, a queue prefix, a drop folder, the settings of its commands.
pub struct World {
    pub db: TestDb,
    pub prefix: String,
    pub tmp: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    pub db_url: String,
    pub amqp: String,
    logs: std::sync::atomic::AtomicUsize,
}

impl World {
    pub async fn new() -> World {
        let db = TestDb::create().await;
        let prefix = unique("liasse-test");
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("drop")).unwrap();
        let db_url = db.url.clone();
        let w =
            World { db, prefix, tmp, env: Vec::new(), db_url, amqp: amqp_url(), logs: Default::default() };
        run_ok(w.cmd().arg("migrate"));
        w
    }

    pub fn set(&mut self, k: &str, v: &str) {
        self.env.push((k.to_string(), v.to_string()));
    }

    pub fn drop_dir(&self) -> PathBuf {
        self.tmp.path().join("drop")
    }

    pub fn cmd(&self) -> Command {
        let mut c = liasse(&self.db_url, &self.prefix);
        c.env("LIASSE_SERVICE__AMQP_URL", &self.amqp)
            .env("LIASSE_SERVICE__SETTLE_MS", "100")
            .env("LIASSE_SERVICE__CONCURRENCY", "2")
            .env("LIASSE_SERVICE__RETRY_DELAYS_MS", "[200, 500, 1000]")
            .env("LIASSE_SERVICE__REPUBLISH_AFTER_SECS", "2")
            .env("LIASSE_LOG", "info,lopdf=error,pdf_extract=error");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Start a long-running command, its output in a log file of the test.
    pub fn spawn(&self, args: &[&str]) -> Child {
        let n = self.logs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = std::fs::File::create(self.tmp.path().join(format!("{}-{n}.log", args[0]))).unwrap();
        self.cmd().args(args).stdout(Stdio::null()).stderr(log).spawn().expect("liasse starts")
    }

    pub fn worker(&self) -> Child {
        self.spawn(&["work"])
    }

    pub fn ingest(&self) -> Child {
        let d = self.drop_dir();
        self.spawn(&["ingest", "--watch", d.to_str().unwrap()])
    }

    /// Wait until `n` jobs exist and none is open.
    pub async fn wait_all_final(&self, pool: &PgPool, n: i64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let r = sqlx::query(
                "SELECT count(*), count(*) FILTER (WHERE state IN ('queued', 'running')) FROM jobs",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            let (all, open): (i64, i64) = (r.get(0), r.get(1));
            if all >= n && open == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not final in time: {all} jobs, {open} open; logs in {}",
                self.logs_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn logs_text(&self) -> String {
        let mut s = String::new();
        for e in std::fs::read_dir(self.tmp.path()).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "log") {
                let t = std::fs::read_to_string(e.path()).unwrap_or_default();
                let tail: Vec<&str> = t.lines().rev().take(15).collect();
                s.push_str(&format!(
                    "\n== {}\n{}",
                    e.path().display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
        }
        s
    }

    /// Whether any command's log has this text.
    pub fn logged(&self, needle: &str) -> bool {
        std::fs::read_dir(self.tmp.path()).unwrap().flatten().any(|e| {
            e.path().extension().is_some_and(|x| x == "log")
                && std::fs::read_to_string(e.path()).unwrap_or_default().contains(needle)
        })
    }

    pub fn topology(&self) -> liasse::queue::Topology {
        let c = liasse::config::ServiceConfig {
            queue_prefix: self.prefix.clone(),
            retry_delays_ms: vec![200, 500, 1000],
            ..Default::default()
        };
        liasse::service::topology(&c)
    }

    pub async fn depths(&self) -> liasse::queue::Depths {
        let b = liasse::queue::Broker::connect(&self.amqp, self.topology()).await.unwrap();
        let d = b.depths().await.unwrap();
        b.close().await;
        d
    }

    pub async fn delete_queues(&self) {
        if let Ok(b) = liasse::queue::Broker::connect(&self.amqp, self.topology()).await {
            let _ = b.delete_topology().await;
            b.close().await;
        }
    }
}

pub fn sigterm_and_wait(mut c: Child) -> std::process::ExitStatus {
    unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = c.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            panic!("did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigkill(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

/// Every document final, every job written exactly once, one feed event per result.
async fn check_exactly_once(pool: &PgPool) -> (i64, i64) {
    let open: i64 = sqlx::query("SELECT count(*) FROM documents WHERE status NOT IN ('processed', 'failed')")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(open, 0, "every document is in a final state");
    let twice: i64 = sqlx::query(
        "SELECT count(*) FROM (SELECT content_hash FROM results GROUP BY content_hash HAVING count(*) <> 1) x",
    )
    .fetch_one(pool)
    .await
    .unwrap()
    .get(0);
    assert_eq!(twice, 0, "each document has exactly one result");
    let missing: i64 = sqlx::query(
        "SELECT count(*) FROM documents d WHERE d.status = 'processed'
           AND (d.current_result IS NULL OR NOT EXISTS (SELECT 1 FROM results r WHERE r.id = d.current_result))",
    )
    .fetch_one(pool)
    .await
    .unwrap()
    .get(0);
    assert_eq!(missing, 0);
    let feed_twice: i64 = sqlx::query(
        "SELECT count(*) FROM (SELECT result_id FROM erp_feed WHERE result_id IS NOT NULL GROUP BY result_id HAVING count(*) > 1) x",
    )
    .fetch_one(pool)
    .await
    .unwrap()
    .get(0);
    assert_eq!(feed_twice, 0, "one feed event per result");
    let r = sqlx::query(
        "SELECT count(*) FILTER (WHERE status = 'processed'), count(*) FILTER (WHERE status = 'failed') FROM documents",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (r.get(0), r.get(1))
}

async fn http_get(port: u16, path: &str) -> (u16, String) {
    http_get_with(port, path, "").await
}

/// A GET with extra header lines (each ending with `\r\n`).
async fn http_get_with(port: u16, path: &str, headers: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text)
}

async fn wait_http(port: u16) {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the health endpoint never listened");
}

/// A worker whose health address other machines can reach refuses to start without a metrics
/// token, before it takes any message.
#[tokio::test(flavor = "multi_thread")]
async fn exposed_metrics_need_a_token() {
    let w = World::new().await;
    let out = w
        .cmd()
        .arg("work")
        .env("LIASSE_SERVICE__HTTP_ADDR", format!("0.0.0.0:{}", free_port()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("metrics_token"), "{err}");
    let out = w
        .cmd()
        .arg("work")
        .env("LIASSE_SERVICE__HTTP_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("LIASSE_SERVICE__METRICS_TOKEN", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("16 characters"));
}

/// The drop folder end to end: new files, a duplicate, an empty file, an e-mail; results once;
/// health and metrics (behind their token); SIGTERM stops the worker cleanly.
#[tokio::test(flavor = "multi_thread")]
async fn drop_folder_to_results() {
    let mut w = World::new().await;
    let port = free_port();
    w.set("LIASSE_SERVICE__HTTP_ADDR", &format!("127.0.0.1:{port}"));
    w.set("LIASSE_SERVICE__METRICS_TOKEN", "metrics-token-of-this-test");
    let drop = w.drop_dir();
    for i in 0..3 {
        std::fs::write(drop.join(format!("f{i}.pdf")), tiny_pdf(&invoice_text(i))).unwrap();
    }
    std::fs::write(drop.join("copy-of-f0.pdf"), tiny_pdf(&invoice_text(0))).unwrap();
    std::fs::write(drop.join("empty.pdf"), b"").unwrap();
    let eml = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/email/envoi_facture.eml");
    std::fs::copy(&eml, drop.join("mail.eml")).unwrap();

    let out = w.cmd().args(["ingest", "--watch", drop.to_str().unwrap(), "--once"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut processed: Vec<String> = std::fs::read_dir(drop.join("processed"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    processed.sort();
    assert_eq!(processed, ["copy-of-f0.pdf", "f0.pdf", "f1.pdf", "f2.pdf", "mail.eml"]);
    let mut rejected: Vec<String> = std::fs::read_dir(drop.join("rejected"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    rejected.sort();
    assert_eq!(rejected, ["empty.pdf", "empty.pdf.error.txt"]);
    assert!(std::fs::read_to_string(drop.join("rejected/empty.pdf.error.txt")).unwrap().contains("empty"));

    let pool = w.db.pool().await;
    let worker = w.worker();
    wait_http(port).await;
    w.wait_all_final(&pool, 4, Duration::from_secs(240)).await;
    let (code, body) = http_get(port, "/healthz").await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = http_get(port, "/readyz").await;
    assert_eq!(code, 200, "{body}");
    let (code, _) = http_get(port, "/metrics").await;
    assert_eq!(code, 401, "metrics need the token");
    let (code, _) = http_get_with(port, "/metrics", "Authorization: Bearer not-the-token-at-all\r\n").await;
    assert_eq!(code, 401);
    let (code, body) =
        http_get_with(port, "/metrics", "Authorization: Bearer metrics-token-of-this-test\r\n").await;
    assert_eq!(code, 200);
    assert!(body.contains("liasse_documents{status=\"processed\"}"), "{body}");
    assert!(body.contains("liasse_stage_duration_seconds_bucket{stage=\"pipeline\""), "{body}");
    assert!(body.contains("liasse_queue_lag_seconds"), "{body}");
    assert!(body.contains("liasse_ocr_pages_total"), "{body}");

    // A file submitted again after processing is a duplicate receipt, no new job.
    let again = w.cmd().args(["submit"]).arg(drop.join("processed/f1.pdf")).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("duplicate"), "{again:?}");
    let status = sigterm_and_wait(worker);
    assert!(status.success(), "worker exit: {status}");

    let (ok, failed) = check_exactly_once(&pool).await;
    // 3 PDFs + the e-mail (a container) + its attachment(s).
    assert!(ok >= 5, "processed {ok}, failed {failed}");
    let jobs: i64 = sqlx::query("SELECT count(*) FROM jobs").fetch_one(&pool).await.unwrap().get(0);
    assert_eq!(jobs, 4);
    let dups: i64 =
        sqlx::query("SELECT count(*) FROM receipts WHERE duplicate").fetch_one(&pool).await.unwrap().get(0);
    assert_eq!(dups, 2, "the copy and the second submit");
    let r = sqlx::query("SELECT receipt_count FROM documents d JOIN receipts r USING (content_hash) WHERE r.source_name = 'f1.pdf' LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(r.get::<i32, _>(0), 2);
    // The result of a PDF: the full outcome, its page, the versions.
    let r = sqlx::query(
        "SELECT r.outcome, r.versions, p.text, p.method FROM results r JOIN pages p ON p.result_id = r.id
         JOIN receipts rc ON rc.content_hash = r.content_hash WHERE rc.source_name = 'f2.pdf'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let outcome: serde_json::Value = r.get(0);
    assert_eq!(outcome["status"], "processed");
    assert!(r.get::<serde_json::Value, _>(1)["liasse"].is_string());
    assert!(r.get::<String, _>(2).contains("F-2026-00002"));
    assert_eq!(r.get::<String, _>(3), "text_layer");
    // The attachment of the e-mail is a document of its own, with the e-mail as parent.
    let children: i64 = sqlx::query("SELECT count(*) FROM documents WHERE parent_hash IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    assert!(children >= 1);
    pool.close().await;
    w.delete_queues().await;
}

/// SIGKILL the worker (and once the ingester) again and again during a batch of 200 documents:
/// every document ends in one final state with exactly one result, and every dropped file ends
/// in processed/.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_a_batch_loses_and_duplicates_nothing() {
    let w = World::new().await;
    let drop = w.drop_dir();
    let n = 200;
    for i in 0..n {
        std::fs::write(drop.join(format!("doc{i:03}.pdf")), tiny_pdf(&invoice_text(1000 + i))).unwrap();
    }
    let pool = w.db.pool().await;
    let mut ingest = w.ingest();
    let mut worker = w.worker();
    let count_done = || async {
        sqlx::query("SELECT count(*) FROM jobs WHERE state = 'done'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get::<i64, _>(0)
    };
    // Kill the ingester once it took some files, and the worker six times while it works.
    let mut kills = 0;
    let mut ingest_killed = false;
    let deadline = Instant::now() + Duration::from_secs(400);
    while kills < 6 && Instant::now() < deadline {
        let taken: i64 = sqlx::query("SELECT count(*) FROM jobs").fetch_one(&pool).await.unwrap().get(0);
        if !ingest_killed && taken >= 40 {
            sigkill(ingest);
            ingest = w.ingest();
            ingest_killed = true;
        }
        let before = count_done().await;
        // Let it make progress, then kill it in the middle of its work.
        let t = Instant::now();
        while count_done().await < before + 10 && t.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sigkill(worker);
        kills += 1;
        worker = w.worker();
    }
    assert_eq!(kills, 6);
    w.wait_all_final(&pool, n as i64, Duration::from_secs(600)).await;
    // Wait for the drop folder to be empty (the last moves).
    let t = Instant::now();
    while std::fs::read_dir(&drop).unwrap().flatten().any(|e| e.path().is_file())
        && t.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sigterm_and_wait(worker).success());
    assert!(sigterm_and_wait(ingest).success());
    let (ok, failed) = check_exactly_once(&pool).await;
    assert_eq!((ok, failed), (n as i64, 0), "{}", w.logs_text());
    let moved = std::fs::read_dir(drop.join("processed")).unwrap().count();
    assert_eq!(moved, n, "every dropped file is in processed/");
    let receipts: i64 = sqlx::query("SELECT count(*) FROM receipts").fetch_one(&pool).await.unwrap().get(0);
    assert_eq!(receipts, n as i64, "one receipt per file, none twice");
    pool.close().await;
    w.delete_queues().await;
}

/// A document that makes the pipeline panic reaches the dead-letter queue and `failed` after
/// the configured attempts, while the worker goes on with the others.
#[tokio::test(flavor = "multi_thread")]
async fn poison_document_is_dead_lettered() {
    let mut w = World::new().await;
    w.set("LIASSE_FAILPOINT_POISON", "POISON-MARK");
    w.set("LIASSE_SERVICE__MAX_ATTEMPTS", "3");
    let dir = w.tmp.path().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for i in 0..6 {
        let text = if i == 2 { "POISON-MARK\nFACTURE 1".to_string() } else { invoice_text(2000 + i) };
        let p = dir.join(format!("p{i}.pdf"));
        std::fs::write(&p, tiny_pdf(&text)).unwrap();
        files.push(p);
    }
    run_ok(w.cmd().arg("submit").args(&files));
    let pool = w.db.pool().await;
    let worker = w.worker();
    w.wait_all_final(&pool, 6, Duration::from_secs(240)).await;
    let (ok, failed) = check_exactly_once(&pool).await;
    assert_eq!((ok, failed), (5, 1));
    let r = sqlx::query(
        "SELECT d.status_reason, j.attempts, j.state FROM documents d JOIN jobs j USING (content_hash) WHERE d.status = 'failed'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let reason: String = r.get(0);
    assert!(reason.contains("panicked"), "{reason}");
    assert_eq!(r.get::<i32, _>(1), 3);
    assert_eq!(r.get::<String, _>(2), "failed");
    // Let the dead-lettered message land, then look at the queues.
    let t = Instant::now();
    let mut d = w.depths().await;
    while d.dead == 0 && t.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        d = w.depths().await;
    }
    assert_eq!(d.dead, 1, "the poison job is in the dead-letter queue");
    assert_eq!((d.documents, d.retry), (0, 0));
    assert!(sigterm_and_wait(worker).success());
    pool.close().await;
    w.delete_queues().await;
}

/// SIGTERM while a job is stuck in flight: the worker waits the grace period, stops the job
/// unacknowledged (it is not `done`, and no result is written) and exits in bounded time; the
/// job is left for another worker, not lost.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_a_stuck_job_exits_after_the_grace_period() {
    let mut w = World::new().await;
    w.set("LIASSE_FAILPOINT_POISON", "STUCK-MARK");
    w.set("LIASSE_FAILPOINT_ACTION", "hang");
    w.set("LIASSE_SERVICE__SHUTDOWN_GRACE_SECS", "1");
    let dir = w.tmp.path().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("stuck.pdf");
    std::fs::write(&p, tiny_pdf("STUCK-MARK\nFACTURE 9")).unwrap();
    run_ok(w.cmd().arg("submit").arg(&p));
    let pool = w.db.pool().await;
    let worker = w.worker();
    let t = Instant::now();
    loop {
        let running: i64 = sqlx::query("SELECT count(*) FROM jobs WHERE state = 'running'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        if running == 1 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "the job never started: {}", w.logs_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = Instant::now();
    assert!(sigterm_and_wait(worker).success());
    // Grace (1 s) and bounded close steps: well under the 60 s the helper allows.
    assert!(t.elapsed() < Duration::from_secs(30), "stopped after {:?}", t.elapsed());
    assert!(w.logged("shutdown grace period over"), "{}", w.logs_text());
    let (state, results): (String, i64) = {
        let r = sqlx::query("SELECT state, (SELECT count(*) FROM results) FROM jobs")
            .fetch_one(&pool)
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((state.as_str(), results), ("running", 0));
    pool.close().await;
    w.delete_queues().await;
}

/// A document on which the pipeline hangs: each attempt times out, then it is dead-lettered and
/// `failed`; the others are processed and the worker still stops on SIGTERM.
#[tokio::test(flavor = "multi_thread")]
async fn hanging_document_times_out_and_is_dead_lettered() {
    let mut w = World::new().await;
    w.set("LIASSE_FAILPOINT_POISON", "HANG-MARK");
    w.set("LIASSE_FAILPOINT_ACTION", "hang");
    w.set("LIASSE_SERVICE__MAX_ATTEMPTS", "2");
    w.set("LIASSE_SERVICE__ATTEMPT_TIMEOUT_SECS", "2");
    let dir = w.tmp.path().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for i in 0..4 {
        let text = if i == 1 { "HANG-MARK\nFACTURE 2".to_string() } else { invoice_text(2500 + i) };
        let p = dir.join(format!("h{i}.pdf"));
        std::fs::write(&p, tiny_pdf(&text)).unwrap();
        files.push(p);
    }
    run_ok(w.cmd().arg("submit").args(&files));
    let pool = w.db.pool().await;
    let worker = w.worker();
    w.wait_all_final(&pool, 4, Duration::from_secs(240)).await;
    let (ok, failed) = check_exactly_once(&pool).await;
    assert_eq!((ok, failed), (3, 1));
    let reason: String = sqlx::query("SELECT status_reason FROM documents WHERE status = 'failed'")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    assert!(reason.contains("longer than 2 s"), "{reason}");
    assert!(sigterm_and_wait(worker).success());
    pool.close().await;
    w.delete_queues().await;
}

/// A TCP proxy the test can cut: while down, it closes every connection and refuses new ones.
struct Proxy {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    async fn start(target: &'static str) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let generation = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (u, g) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mine = g.load(Ordering::SeqCst);
                let g2 = g.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else { return };
                    let cut = async {
                        while g2.load(Ordering::SeqCst) == mine {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut => {}
                    }
                });
            }
        });
        Proxy { port, up, generation }
    }

    fn set_up(&self, up: bool) {
        use std::sync::atomic::Ordering;
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// PostgreSQL unreachable for a while in the middle of a batch (through a proxy the test cuts):
/// the worker retries, and every document still ends with exactly one result.
#[tokio::test(flavor = "multi_thread")]
async fn database_outage_during_a_batch() {
    let mut w = World::new().await;
    let proxy = Proxy::start("127.0.0.1:5432").await;
    w.db_url = format!("postgres://postgres@127.0.0.1:{}/{}", proxy.port, w.db.name);
    let drop = w.drop_dir();
    let n = 60;
    for i in 0..n {
        std::fs::write(drop.join(format!("db{i:03}.pdf")), tiny_pdf(&invoice_text(3000 + i))).unwrap();
    }
    let pool = w.db.pool().await; // direct, not through the proxy
    let ingest = w.ingest();
    let worker = w.worker();
    let t = Instant::now();
    loop {
        let done: i64 = sqlx::query("SELECT count(*) FROM jobs WHERE state = 'done'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        if done >= 5 || t.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.set_up(false);
    tokio::time::sleep(Duration::from_secs(6)).await;
    proxy.set_up(true);
    w.wait_all_final(&pool, n as i64, Duration::from_secs(400)).await;
    let t = Instant::now();
    while std::fs::read_dir(&drop).unwrap().flatten().any(|e| e.path().is_file())
        && t.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sigterm_and_wait(worker).success());
    assert!(sigterm_and_wait(ingest).success());
    let (ok, failed) = check_exactly_once(&pool).await;
    assert_eq!((ok, failed), (n as i64, 0), "{}", w.logs_text());
    assert_eq!(std::fs::read_dir(drop.join("processed")).unwrap().count(), n);
    assert!(w.logged("retrying the job later"), "the outage was seen: {}", w.logs_text());
    pool.close().await;
    w.delete_queues().await;
}

/// A RabbitMQ node of this test's own (never the shared one), stopped and started again.
struct PrivateBroker {
    node: String,
    port: u16,
    dir: tempfile::TempDir,
}

impl PrivateBroker {
    fn start() -> PrivateBroker {
        let dir = tempfile::Builder::new().prefix("liasse-rmq").tempdir().unwrap();
        let port = free_port();
        let node = format!("{}@localhost", unique("liasse-test").replace('_', "-"));
        std::fs::write(dir.path().join("enabled_plugins"), "[].\n").unwrap();
        std::fs::write(dir.path().join("rabbitmq.conf"), format!("listeners.tcp.1 = 127.0.0.1:{port}\n"))
            .unwrap();
        std::fs::create_dir_all(dir.path().join("mnesia")).unwrap();
        std::fs::create_dir_all(dir.path().join("log")).unwrap();
        // rabbitmq-server run by root switches to the rabbitmq user: it must own the folder.
        if unsafe { libc::geteuid() } == 0 {
            let _ = Command::new("chown").args(["-R", "rabbitmq:rabbitmq"]).arg(dir.path()).status();
        }
        let b = PrivateBroker { node, port, dir };
        b.boot();
        b
    }

    fn boot(&self) {
        let d = self.dir.path();
        let dist = free_port();
        let status = Command::new("rabbitmq-server")
            .arg("-detached")
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", dist.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_PID_FILE", d.join("pid"))
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("rabbitmq-server runs");
        assert!(status.success());
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(180), "the private RabbitMQ node did not start");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn stop(&self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-n", &self.node, "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && t.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// RabbitMQ restarted in the middle of a batch: ingest and worker reconnect; every document
/// still ends with exactly one result and every file in processed/.
#[tokio::test(flavor = "multi_thread")]
async fn broker_restart_during_a_batch() {
    let mut w = World::new().await;
    let broker = tokio::task::spawn_blocking(PrivateBroker::start).await.unwrap();
    w.amqp = broker.url();
    let drop = w.drop_dir();
    let n = 60;
    for i in 0..n {
        std::fs::write(drop.join(format!("mq{i:03}.pdf")), tiny_pdf(&invoice_text(4000 + i))).unwrap();
    }
    let pool = w.db.pool().await;
    let ingest = w.ingest();
    let worker = w.worker();
    let t = Instant::now();
    loop {
        let done: i64 = sqlx::query("SELECT count(*) FROM jobs WHERE state = 'done'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        if done >= 5 || t.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let broker = tokio::task::spawn_blocking(move || {
        broker.stop();
        broker.boot();
        broker
    })
    .await
    .unwrap();
    w.wait_all_final(&pool, n as i64, Duration::from_secs(400)).await;
    let t = Instant::now();
    while std::fs::read_dir(&drop).unwrap().flatten().any(|e| e.path().is_file())
        && t.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sigterm_and_wait(worker).success());
    assert!(sigterm_and_wait(ingest).success());
    let (ok, failed) = check_exactly_once(&pool).await;
    assert_eq!((ok, failed), (n as i64, 0), "{}", w.logs_text());
    assert_eq!(std::fs::read_dir(drop.join("processed")).unwrap().count(), n);
    assert!(
        w.logged("reconnecting") || w.logged("broker unavailable"),
        "the restart was seen: {}",
        w.logs_text()
    );
    pool.close().await;
    tokio::task::spawn_blocking(move || drop_broker(broker)).await.unwrap();
}

fn drop_broker(b: PrivateBroker) {
    drop(b);
}
