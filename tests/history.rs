//! The history-based invoice checks in the service (docs/service.md, "History checks"): the real
//! worker against the real PostgreSQL and RabbitMQ sees the invoices committed before, and not
//! the document it is processing.

use crate::service::World;
use sqlx::Row as _;
use sqlx::postgres::PgPool;
use std::time::Duration;

const IBAN_1: &str = "FR76 3000 4520 8671 0153 2618 077";
const IBAN_2: &str = "LT12 1000 0111 0100 1000";

/// An invoice of the supplier Acme SARL (VAT id FR89438050700), as a text PDF (a layout the
/// classifier calls an invoice and the extractor reads every field of).
fn invoice(number: &str, date: &str, quantity: u32, iban: &str) -> Vec<u8> {
    let net = 10 * quantity;
    let vat = 2 * quantity;
    crate::support::text_pdf([
        format!("FACTURE No {number}"),
        "Acme SARL".to_string(),
        "12 rue des Lilas, 75011 Paris".to_string(),
        "TVA intracom : FR89438050700".to_string(),
        "Client : Durand et Fils SAS, 5 avenue Foch, 69006 Lyon".to_string(),
        format!("Date de facture : {date}"),
        "Conditions de paiement : 30 jours fin de mois".to_string(),
        "Designation Quantite Prix unitaire HT TVA Montant HT".to_string(),
        format!("Stylos {quantity} boite 10,00 EUR 20 % {net},00 EUR"),
        format!("Total HT {net},00 EUR"),
        format!("Total TVA {vat},00 EUR"),
        format!("Total TTC {},00 EUR", net + vat),
        format!("Net a payer {},00 EUR", net + vat),
        format!("IBAN : {iban}"),
    ])
}

/// Submit a file and wait until every job is final.
async fn submit(w: &World, pool: &PgPool, name: &str, bytes: &[u8], jobs: i64) -> String {
    use sha2::Digest as _;
    let path = w.tmp.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let out = w.cmd().arg("submit").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    w.wait_all_final(pool, jobs, Duration::from_secs(240)).await;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The flag codes of the current result of a document (and the document's status).
async fn flags_of(pool: &PgPool, hash: &str) -> Vec<String> {
    let status: String = sqlx::query("SELECT status FROM documents WHERE content_hash = $1")
        .bind(hash)
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    assert!(["processed", "review", "approved"].contains(&status.as_str()), "status {status}");
    sqlx::query(
        "SELECT f.code FROM flags f JOIN documents d ON d.current_result = f.result_id
         WHERE d.content_hash = $1 ORDER BY f.id",
    )
    .bind(hash)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.get(0))
    .collect()
}

async fn flag_evidence(pool: &PgPool, hash: &str, code: &str) -> serde_json::Value {
    sqlx::query(
        "SELECT f.evidence FROM flags f JOIN documents d ON d.current_result = f.result_id
         WHERE d.content_hash = $1 AND f.code = $2",
    )
    .bind(hash)
    .bind(code)
    .fetch_one(pool)
    .await
    .unwrap()
    .get(0)
}

fn has_duplicate(flags: &[String]) -> bool {
    flags.iter().any(|f| f.starts_with("duplicate."))
}

/// (d) The first invoice of a supplier is `supplier.new`, the next one is not. (c) The same
/// document processed again through the store path (a reprocessing job) does not see itself: no
/// duplicate, and still `supplier.new` (its own earlier result is not "an earlier invoice").
#[tokio::test(flavor = "multi_thread")]
async fn history_new_supplier_and_the_document_itself() {
    let w = World::new().await;
    let pool = w.db.pool().await;
    let worker = w.worker();

    let first = submit(&w, &pool, "a.pdf", &invoice("FA-2026-0142", "20/11/2026", 2, IBAN_1), 1).await;
    let flags = flags_of(&pool, &first).await;
    assert!(flags.contains(&"supplier.new".to_string()), "{flags:?}");
    assert!(!has_duplicate(&flags), "{flags:?}");
    let rows: i64 = sqlx::query("SELECT count(*) FROM invoice_history WHERE supplier_key = 'FR89438050700'")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "the history row is written with the result");

    // The same document again (a second job; the republisher publishes it).
    sqlx::query("INSERT INTO jobs (content_hash, reason) VALUES ($1, 'reprocess')")
        .bind(&first)
        .execute(&pool)
        .await
        .unwrap();
    w.wait_all_final(&pool, 2, Duration::from_secs(240)).await;
    let versions: i32 = sqlx::query("SELECT max(version) FROM results WHERE content_hash = $1")
        .bind(&first)
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(versions, 2, "processed twice");
    let again = flags_of(&pool, &first).await;
    assert!(!has_duplicate(&again), "the document flagged itself: {again:?}");
    assert!(again.contains(&"supplier.new".to_string()), "{again:?}");

    // A second invoice of the supplier (another number, amount and date, same IBAN).
    let second = submit(&w, &pool, "b.pdf", &invoice("FA-2026-0150", "24/11/2026", 3, IBAN_1), 3).await;
    let flags = flags_of(&pool, &second).await;
    assert!(!flags.contains(&"supplier.new".to_string()), "{flags:?}");
    assert!(!has_duplicate(&flags) && !flags.contains(&"bank.changed".to_string()), "{flags:?}");

    let status = crate::service::sigterm_and_wait(worker);
    assert!(status.success(), "worker exit: {status}");
    pool.close().await;
    w.delete_queues().await;
}

/// (a) A second invoice of the supplier with other bank details, submitted after the first is
/// done, carries `bank.changed` with the IBAN's evidence. (b) The same supplier and number with an
/// OCR-confused character (O for 0) is `duplicate.number`.
#[tokio::test(flavor = "multi_thread")]
async fn history_bank_details_changed_and_duplicate_number() {
    let w = World::new().await;
    let pool = w.db.pool().await;
    let worker = w.worker();

    let first = submit(&w, &pool, "a.pdf", &invoice("FA-2026-0142", "20/11/2026", 2, IBAN_1), 1).await;
    assert!(flags_of(&pool, &first).await.contains(&"supplier.new".to_string()));

    let changed = submit(&w, &pool, "b.pdf", &invoice("FA-2026-0150", "24/11/2026", 3, IBAN_2), 2).await;
    let flags = flags_of(&pool, &changed).await;
    assert!(flags.contains(&"bank.changed".to_string()), "{flags:?}");
    assert!(!flags.contains(&"supplier.new".to_string()), "{flags:?}");
    let ev = flag_evidence(&pool, &changed, "bank.changed").await;
    let loc = &ev["evidence"][0]["locations"][0];
    assert_eq!(loc["page"], 1, "{ev}");
    let page: String = sqlx::query(
        "SELECT p.text FROM pages p JOIN documents d ON d.current_result = p.result_id
         WHERE d.content_hash = $1 AND p.number = 1",
    )
    .bind(&changed)
    .fetch_one(&pool)
    .await
    .unwrap()
    .get(0);
    let span = loc["span"]["start"].as_u64().unwrap() as usize..loc["span"]["end"].as_u64().unwrap() as usize;
    assert!(page[span].contains("LT12"), "the evidence points at the new IBAN: {ev}");
    assert!(loc["text"].as_str().unwrap().contains("LT12"), "{ev}");

    // The first invoice again under a number with an O for a 0 and a new date.
    let copy = submit(&w, &pool, "c.pdf", &invoice("FA-2026-O142", "25/11/2026", 2, IBAN_1), 3).await;
    let flags = flags_of(&pool, &copy).await;
    assert!(flags.contains(&"duplicate.number".to_string()), "{flags:?}");
    let ev = flag_evidence(&pool, &copy, "duplicate.number").await;
    assert!(!ev["evidence"][0]["locations"].as_array().unwrap().is_empty(), "{ev}");

    let status = crate::service::sigterm_and_wait(worker);
    assert!(status.success(), "worker exit: {status}");
    pool.close().await;
    w.delete_queues().await;
}

/// The history cannot be read (no database there): the snapshot is empty AND the failure is
/// kept, so the worker retries the delivery instead of committing unchecked results.
#[tokio::test(flavor = "multi_thread")]
async fn history_failure_is_reported_not_silent() {
    use liasse::invoice::HistoryStore as _;
    let port = crate::support::free_port();
    let store =
        liasse::store::Store::connect_lazy(&format!("postgres://postgres@127.0.0.1:{port}/none"), 1).unwrap();
    let history = liasse::store::history::PgHistory::new(
        store,
        tokio::runtime::Handle::current(),
        365,
        Duration::from_secs(30),
    );
    let (snapshot, failure) = tokio::task::spawn_blocking(move || {
        let s = history.snapshot(Some("FR89438050700"), &"0".repeat(64));
        (s, history.failure())
    })
    .await
    .unwrap();
    assert!(snapshot.invoices.is_empty());
    assert!(failure.is_some_and(|f| f.contains("invoice history")));
}

/// Receive a file and start its job, as `liasse submit` and the worker do: (hash, job, bytes).
async fn received(store: &liasse::store::Store, bytes: &[u8], name: &str) -> (String, i64, Vec<u8>) {
    let (hash, job, bytes, ..) = crate::common::receive_and_start(store, bytes, name).await;
    (hash, job, bytes)
}

/// The pipeline with the database's history, as the worker runs it.
async fn run(
    store: &liasse::store::Store,
    bytes: Vec<u8>,
) -> (Vec<liasse::pipeline::Outcome>, liasse::store::history::HistorySeen) {
    let mut history = liasse::store::history::PgHistory::new(
        store.clone(),
        tokio::runtime::Handle::current(),
        365,
        Duration::from_secs(30),
    );
    tokio::task::spawn_blocking(move || {
        let input = liasse::intake::Input::file(bytes, "f.pdf", None);
        let outcomes = liasse::pipeline::process_with_history(crate::common::engine(), input, &mut history);
        assert_eq!(history.failure(), None);
        (outcomes, history.seen())
    })
    .await
    .unwrap()
}

fn rules_of(o: &[liasse::pipeline::Outcome]) -> Vec<String> {
    o[0].invoice.as_ref().unwrap().invoices[0].flags.iter().map(|f| f.rule.clone()).collect()
}

/// Two invoices of one supplier processed at the same time (both snapshots read before either
/// commits): the first commit goes through; the second finds, under the supplier's lock, a row its
/// snapshot did not see, writes nothing (`HistoryChanged`), and its checks run again see the
/// first: here the copy is then a `duplicate.number` and no longer `supplier.new`.
#[tokio::test(flavor = "multi_thread")]
async fn history_concurrent_commits_of_one_supplier_are_rechecked() {
    use liasse::store::Written;
    let db = crate::service::TestDb::create().await;
    let store = liasse::store::Store::connect_lazy(&db.url, 4).unwrap();
    store.migrate().await.unwrap();
    let (hash_a, job_a, bytes_a) =
        received(&store, &invoice("FA-2026-0142", "20/11/2026", 2, IBAN_1), "a.pdf").await;
    let (hash_b, job_b, bytes_b) =
        received(&store, &invoice("FA-2026-O142", "21/11/2026", 2, IBAN_1), "b.pdf").await;
    let (out_a, seen_a) = run(&store, bytes_a).await;
    let (out_b, seen_b) = run(&store, bytes_b.clone()).await;
    assert!(rules_of(&out_a).contains(&"supplier.new".to_string()));
    assert!(rules_of(&out_b).contains(&"supplier.new".to_string()), "B did not see A yet");

    let a = store.write_outcomes_checked(job_a, &hash_a, &out_a, 1, &seen_a).await.unwrap();
    assert!(matches!(a, Written::Now(_)), "{a:?}");
    let b = store.write_outcomes_checked(job_b, &hash_b, &out_b, 1, &seen_b).await.unwrap();
    assert_eq!(b, Written::HistoryChanged);

    let (out_b, seen_b) = run(&store, bytes_b).await;
    let flags = rules_of(&out_b);
    assert!(flags.contains(&"duplicate.number".to_string()), "{flags:?}");
    assert!(!flags.contains(&"supplier.new".to_string()), "{flags:?}");
    let b = store.write_outcomes_checked(job_b, &hash_b, &out_b, 1, &seen_b).await.unwrap();
    assert!(matches!(b, Written::Now(_)), "{b:?}");
    store.close().await;
}
