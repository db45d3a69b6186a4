//! Service benchmark: `scripts/bench service` (= `cargo bench --bench service`). On the same N
//! generated text PDFs (one-page invoices, 30 lines, unique content):
//! - in-process: `process_one` over the files on 1 and 2 threads (documents per second);
//! - service: `liasse ingest --watch` → RabbitMQ → `liasse work` (1 and 2 worker processes, one
//!   document at a time each) → PostgreSQL, each run on a fresh database and queue prefix:
//!   documents per second from the start of ingest to the last commit, and the end-to-end latency
//!   of each document (receipt recorded → result committed) at p50, p95 and p99.
//!
//! `LIASSE_BENCH_N` sets N (default 300). Needs the PostgreSQL and RabbitMQ of `.ci/setup`.
//! `cargo test` runs this target without `--bench`: it then does nothing.

#[path = "../tests/support.rs"]
mod support;

use liasse::config::Config;
use liasse::intake::Input;
use liasse::pipeline::{Engine, process_one};
use sqlx::Row as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n: usize = std::env::var("LIASSE_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::Builder::new().prefix("liasse-bench-service").tempdir().unwrap();
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut files = Vec::new();
    for i in 0..n {
        let p = src.join(format!("inv{i:05}.pdf"));
        std::fs::write(&p, invoice_pdf(i)).unwrap();
        files.push(p);
    }
    let liasse = PathBuf::from(env!("CARGO_BIN_EXE_liasse"));
    println!("# Liasse service benchmark");
    println!(
        "machine: {} cores (shared); N = {n} one-page text PDFs; liasse {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        liasse.display()
    );
    let _ = root;
    let mut config = Config::default();
    config.sandbox.helper = Some(liasse.clone());
    let engine = Engine::new(&config).expect("engine");
    println!("\n| path | parallelism | docs/s | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|");
    for threads in [1, 2] {
        let rate = in_process(&engine, &files, threads);
        println!("| in-process `process_one` | {threads} thread(s) | {rate:.1} | | | |");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for workers in [1, 2] {
        let r = rt.block_on(service(&liasse, &files, work.path(), workers));
        println!(
            "| ingest → RabbitMQ → work → PostgreSQL | {workers} worker(s) × 1 | {:.1} | {:.0} | {:.0} | {:.0} |",
            r.rate, r.p50, r.p95, r.p99
        );
    }
}

/// A one-page invoice with 30 lines of text, unique by `i`.
fn invoice_pdf(i: usize) -> Vec<u8> {
    let mut lines = vec![
        format!("FACTURE No F-2026-{i:06}"),
        "Fournisseur : Papeterie du Centre SARL, 12 rue des Lilas, 69003 Lyon".into(),
        "SIRET 123 456 789 00012 - TVA FR12 123456789".into(),
        "Client : Bureau Conseil SAS, 4 place Bellecour, 69002 Lyon".into(),
        format!("Date : {:02}/11/2026   Echeance : 30 jours", 1 + i % 28),
    ];
    let mut total = 0u64;
    for l in 0..20 {
        let qty = 1 + (i + l) % 9;
        let price = 100 + ((i * 7 + l * 13) % 900) as u64;
        total += qty as u64 * price;
        lines.push(format!(
            "Article {l:02} ref. A{:05}   {qty} x {},{:02} EUR",
            i * 20 + l,
            price / 100,
            price % 100
        ));
    }
    lines.push(format!("Total HT : {},{:02} EUR", total / 100, total % 100));
    lines.push(format!("TVA 20 % : {},{:02} EUR", total / 500, (total / 5) % 100));
    lines.push(format!("Total TTC : {},{:02} EUR", total * 6 / 500, (total * 6 / 5) % 100));
    lines.push("IBAN FR76 3000 6000 0112 3456 7890 189".into());
    support::text_pdf(&lines)
}

fn in_process(engine: &Engine, files: &[PathBuf], threads: usize) -> f64 {
    let t = Instant::now();
    std::thread::scope(|s| {
        for chunk in files.chunks(files.len().div_ceil(threads)) {
            s.spawn(move || {
                for f in chunk {
                    let bytes = std::fs::read(f).unwrap();
                    let name = f.file_name().unwrap().to_string_lossy().into_owned();
                    let out = process_one(engine, Input::file(bytes, &name, Some(f.display().to_string())));
                    assert!(out.iter().all(|o| !o.is_failed()));
                }
            });
        }
    });
    files.len() as f64 / t.elapsed().as_secs_f64()
}

struct ServiceRun {
    rate: f64,
    p50: f64,
    p95: f64,
    p99: f64,
}

async fn service(liasse: &Path, files: &[PathBuf], work: &Path, workers: usize) -> ServiceRun {
    let db = support::TestDb::create().await;
    let (name, url) = (db.name.clone(), db.url.clone());
    let prefix = support::unique("liasse-bench");
    let drop = work.join(&name);
    std::fs::create_dir_all(&drop).unwrap();
    let cmd = |args: &[&str], port: Option<u16>| {
        let mut c = Command::new(liasse);
        c.args(args)
            .env_remove("LIASSE_BENCH_N")
            .env("LIASSE_SERVICE__DATABASE_URL", &url)
            .env("LIASSE_SERVICE__AMQP_URL", support::amqp_url())
            .env("LIASSE_SERVICE__QUEUE_PREFIX", &prefix)
            .env("LIASSE_SERVICE__CONCURRENCY", "1")
            .env("LIASSE_SERVICE__PREFETCH", "4")
            .env("LIASSE_SERVICE__SETTLE_MS", "50")
            .env("LIASSE_SERVICE__HTTP_ADDR", port.map(|p| format!("127.0.0.1:{p}")).unwrap_or_default())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    assert!(cmd(&["migrate"], None).status().unwrap().success());
    // Workers first, ready (database and broker reachable) before the clock starts.
    let mut children: Vec<Child> = Vec::new();
    for _ in 0..workers {
        let port = support::free_port();
        children.push(cmd(&["work"], Some(port)).spawn().unwrap());
        let t = Instant::now();
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::{Read, Write};
                let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut b = String::new();
                let _ = s.read_to_string(&mut b);
                if b.starts_with("HTTP/1.1 200") {
                    break;
                }
            }
            assert!(t.elapsed() < Duration::from_secs(60), "worker not ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for f in files {
        std::fs::copy(f, drop.join(f.file_name().unwrap())).unwrap();
    }
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
    let t = Instant::now();
    let mut ingest = cmd(&["ingest", "--watch", drop.to_str().unwrap(), "--once"], None).spawn().unwrap();
    loop {
        let done: i64 = sqlx::query("SELECT count(*) FROM jobs WHERE state IN ('done', 'failed')")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get(0);
        if done as usize >= files.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = t.elapsed().as_secs_f64();
    let _ = ingest.wait();
    let mut lat: Vec<f64> = sqlx::query(
        "SELECT extract(epoch FROM r.created_at - d.received_at)::float8 * 1000 FROM results r
         JOIN documents d USING (content_hash) ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.get::<f64, _>(0))
    .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    let run =
        ServiceRun { rate: files.len() as f64 / elapsed, p50: pct(0.50), p95: pct(0.95), p99: pct(0.99) };
    for mut c in children {
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let _ = c.wait();
    }
    pool.close().await;
    let sc = liasse::config::ServiceConfig { queue_prefix: prefix.clone(), ..Default::default() };
    if let Ok(b) = liasse::queue::Broker::connect(&sc.amqp_url, liasse::service::topology(&sc)).await {
        let _ = b.delete_topology().await;
        b.close().await;
    }
    std::mem::drop(db);
    run
}
