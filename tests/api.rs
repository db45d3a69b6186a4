//! The ERP API against the real PostgreSQL (a database per test), through the axum router.

use crate::service::TestDb;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use liasse::store::Store;
use liasse::store::web::{Actor, Decided, Decision};
use liasse::web::{WebApp, auth};
use serde_json::{Value, json};
use sqlx::Row as _;
use sqlx::postgres::PgPool;
use std::collections::HashSet;
use tower::ServiceExt as _;

pub struct Env {
    #[allow(dead_code)] // held for the test's lifetime: the database lives as long as it
    pub db: TestDb,
    pub pool: PgPool,
    pub store: Store,
    pub app: axum::Router,
}

pub async fn env() -> Env {
    let db = TestDb::create().await;
    let store = Store::connect_lazy(&db.url, 8).unwrap();
    store.migrate().await.unwrap();
    let pool = db.pool().await;
    let config = liasse::config::WebConfig { cookie_secure: false, ..Default::default() };
    let app = liasse::web::router(WebApp { store: store.clone(), config });
    Env { db, pool, store, app }
}

fn hash_of(s: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// A processed document with one result, as the worker writes it, with extracted fields.
pub async fn seed(pool: &PgPool, name: &str, doc_type: &str, fields: &[(&str, &str)]) -> String {
    let hash = hash_of(name);
    sqlx::query("INSERT INTO documents (content_hash, source_name, status, doc_type) VALUES ($1, $2, 'processed', $3)")
        .bind(&hash)
        .bind(name)
        .bind(doc_type)
        .execute(pool)
        .await
        .unwrap();
    let rid: i64 = sqlx::query(
        "INSERT INTO results (content_hash, version, status, liasse_version, versions, outcome, page_count)
         VALUES ($1, 1, 'processed', '0.1.0', '{}', '{}', 1) RETURNING id",
    )
    .bind(&hash)
    .fetch_one(pool)
    .await
    .unwrap()
    .get(0);
    sqlx::query("UPDATE documents SET current_result = $2 WHERE content_hash = $1")
        .bind(&hash)
        .bind(rid)
        .execute(pool)
        .await
        .unwrap();
    let text: String = fields.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
    sqlx::query("INSERT INTO pages (result_id, number, method, text) VALUES ($1, 1, 'text_layer', $2)")
        .bind(rid)
        .bind(&text)
        .execute(pool)
        .await
        .unwrap();
    for (k, v) in fields {
        let start = text.find(&format!("{k}: ")).unwrap() + k.len() + 2;
        sqlx::query(
            "INSERT INTO fields (result_id, content_hash, name, value, page, span_start, span_end, method, confidence)
             VALUES ($1, $2, $3, $4, 1, $5, $6, 'pattern_rule', 0.9)",
        )
        .bind(rid)
        .bind(&hash)
        .bind(k)
        .bind(v)
        .bind(start as i32)
        .bind((start + v.len()) as i32)
        .execute(pool)
        .await
        .unwrap();
    }
    hash
}

pub async fn token(store: &Store, name: &str, scopes: &[&str]) -> String {
    let t = auth::new_secret("lsk_");
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    store.create_api_token(name, &auth::sha256(&t), &scopes).await.unwrap();
    t
}

pub async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(v) => b.header("content-type", "application/json").body(Body::from(v.to_string())).unwrap(),
        None => b.body(Body::empty()).unwrap(),
    };
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn approve(store: &Store, hash: &str) -> i64 {
    match store.decide(hash, &Actor::User("ap1".into()), &Decision::Approve, Some("ok")).await.unwrap() {
        Decided::Done { feed_seq: Some(s) } => s,
        other => panic!("approve: {other:?}"),
    }
}

fn invoice_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("invoice_number", "F-2026-0042"),
        ("issue_date", "2026-11-02"),
        ("currency", "EUR"),
        ("seller_name", "Fournitures Dupont & Fils"),
        ("seller_vat_id", "FR32123456789"),
        ("buyer_name", "Acme SAS"),
        ("total_net", "100.00"),
        ("total_vat", "20.00"),
        ("total_gross", "120.00"),
    ]
}

#[tokio::test]
async fn api_every_route_needs_a_token_and_its_scope_and_is_described() {
    let e = env().await;
    let doc = seed(&e.pool, "inv-auth.pdf", "invoice", &invoice_fields()).await;
    approve(&e.store, &doc).await;
    let ack_only = token(&e.store, "ack-only", &["ack"]).await;
    let read_only = token(&e.store, "read-only", &["read:invoices"]).await;
    let spec: Value = serde_json::from_str(liasse::web::api::OPENAPI).unwrap();
    for (method, path) in liasse::web::api::ROUTES {
        assert!(spec["paths"][path][method].is_object(), "{method} {path} is not in api/openapi.json");
        let uri = path.replace("{content_hash}", &doc);
        let m = method.to_uppercase();
        let body = (method == "post").then(|| json!({"cursor": "0"}));
        for bad in [None, Some("lsk_nope"), Some("")] {
            let (s, b) = call(&e.app, &m, &uri, bad, body.clone()).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{m} {uri} without a valid token: {b}");
        }
        let (with_ack, _) = call(&e.app, &m, &uri, Some(&ack_only), body.clone()).await;
        let (with_read, _) = call(&e.app, &m, &uri, Some(&read_only), body.clone()).await;
        match (method, path) {
            ("post", _) => {
                assert_eq!(with_ack, StatusCode::OK, "{m} {uri}");
                assert_eq!(with_read, StatusCode::FORBIDDEN, "{m} {uri}");
            }
            (_, "/api/v1/openapi.json") => {
                assert_eq!(with_ack, StatusCode::OK);
                assert_eq!(with_read, StatusCode::OK);
            }
            _ => {
                assert_eq!(with_ack, StatusCode::FORBIDDEN, "{m} {uri}");
                assert_eq!(with_read, StatusCode::OK, "{m} {uri}");
            }
        }
    }
    // Unknown routes are 404 (with or without a token), health needs nothing.
    assert_eq!(call(&e.app, "GET", "/api/v1/nothing", None, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&e.app, "GET", "/healthz", None, None).await.0, StatusCode::OK);
    // The stored token is a hash, never the token.
    let stored: Vec<u8> = sqlx::query("SELECT token_hash FROM api_tokens WHERE name = 'ack-only'")
        .fetch_one(&e.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, auth::sha256(&ack_only).to_vec());
    // Bounded and typed input.
    let (s, _) = call(&e.app, "GET", "/api/v1/feed?limit=100000", Some(&read_only), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&e.app, "GET", "/api/v1/feed?after=-3", Some(&read_only), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) =
        call(&e.app, "POST", "/api/v1/feed/ack", Some(&ack_only), Some(json!({"cursor": "999999"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let big = json!({"cursor": "1".repeat(200_000)});
    let (s, b) = call(&e.app, "POST", "/api/v1/feed/ack", Some(&ack_only), Some(big)).await;
    assert!(s == StatusCode::PAYLOAD_TOO_LARGE || s == StatusCode::BAD_REQUEST, "{s} {b}");
}

fn items(body: &str) -> (Vec<Value>, String) {
    let v: Value = serde_json::from_str(body).unwrap();
    (v["items"].as_array().unwrap().clone(), v["next"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn api_feed_is_in_approval_order_paged_filtered_and_resumes_from_the_ack() {
    let e = env().await;
    let mut invoices = Vec::new();
    for i in 0..6 {
        invoices.push(seed(&e.pool, &format!("inv-{i}.pdf"), "invoice", &invoice_fields()).await);
    }
    let contract = seed(&e.pool, "contract-0.pdf", "contract", &[("party", "Acme")]).await;
    // Approved in this order: 3, 0, contract, 5, 1. Invoice 2 and 4 stay unreviewed.
    let order = [&invoices[3], &invoices[0], &contract, &invoices[5], &invoices[1]];
    for h in order {
        approve(&e.store, h).await;
    }
    let both = token(&e.store, "erp", &["read:invoices", "read:contracts", "ack"]).await;
    let inv_only = token(&e.store, "ap-erp", &["read:invoices"]).await;
    // Pages of two, following `next`.
    let mut seen = Vec::new();
    let mut after = "0".to_string();
    loop {
        let (s, b) =
            call(&e.app, "GET", &format!("/api/v1/feed?after={after}&limit=2"), Some(&both), None).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (page, next) = items(&b);
        assert!(page.len() <= 2);
        if page.is_empty() {
            assert_eq!(next, after);
            break;
        }
        for it in &page {
            assert_eq!(it["event"], "approved");
            assert_eq!(it["status"], "approved");
            seen.push(it["content_hash"].as_str().unwrap().to_string());
        }
        after = next;
    }
    let want: Vec<String> = order.iter().map(|h| h.to_string()).collect();
    assert_eq!(seen, want);
    // The invoice-only token sees invoices only, same order.
    let (_, b) = call(&e.app, "GET", "/api/v1/feed?limit=50", Some(&inv_only), None).await;
    let (page, _) = items(&b);
    let got: Vec<&str> = page.iter().map(|i| i["content_hash"].as_str().unwrap()).collect();
    let want_inv: Vec<&str> = order.iter().filter(|h| ***h != contract).map(|h| h.as_str()).collect();
    assert_eq!(got, want_inv);
    assert!(page.iter().all(|i| i["kind"] == "invoice" && i["links"]["facturx"].is_string()));
    // Acknowledge the first three; without `after` the feed resumes after them.
    let (_, b) = call(&e.app, "GET", "/api/v1/feed?limit=3", Some(&both), None).await;
    let (_, next) = items(&b);
    let (s, _) = call(&e.app, "POST", "/api/v1/feed/ack", Some(&both), Some(json!({"cursor": next}))).await;
    assert_eq!(s, StatusCode::OK);
    let (_, b) = call(&e.app, "GET", "/api/v1/feed", Some(&both), None).await;
    let (page, next) = items(&b);
    let got: Vec<&str> = page.iter().map(|i| i["content_hash"].as_str().unwrap()).collect();
    assert_eq!(got, want[3..].iter().map(String::as_str).collect::<Vec<_>>());
    // An older ack does not move the cursor back.
    call(&e.app, "POST", "/api/v1/feed/ack", Some(&both), Some(json!({"cursor": next}))).await;
    let (_, b) = call(&e.app, "POST", "/api/v1/feed/ack", Some(&both), Some(json!({"cursor": "1"}))).await;
    assert_eq!(serde_json::from_str::<Value>(&b).unwrap()["acked"], next.as_str());
    let (_, b) = call(&e.app, "GET", "/api/v1/feed", Some(&both), None).await;
    assert!(items(&b).0.is_empty());
    // A later review of an approved document puts it in the feed again.
    let fix = Decision::Correct { name: "total_gross".into(), value: "121.00".into() };
    let d = e.store.decide(&invoices[3], &Actor::User("ap1".into()), &fix, Some("typo")).await.unwrap();
    assert!(matches!(d, Decided::Done { feed_seq: Some(_) }));
    e.store.decide(&invoices[0], &Actor::User("ap1".into()), &Decision::Block, Some("fraud")).await.unwrap();
    // A decision on a document not approved is not released.
    e.store.decide(&invoices[2], &Actor::User("ap1".into()), &Decision::Block, None).await.unwrap();
    let (_, b) = call(&e.app, "GET", "/api/v1/feed", Some(&both), None).await;
    let (page, _) = items(&b);
    let got: Vec<(String, String, String)> = page
        .iter()
        .map(|i| {
            (
                i["content_hash"].as_str().unwrap().into(),
                i["event"].as_str().unwrap().into(),
                i["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (invoices[3].clone(), "changed".into(), "approved".into()),
            (invoices[0].clone(), "changed".into(), "blocked".into()),
        ]
    );
    // The correction is in the export, and in the audit log with the previous value.
    let (_, b) = call(&e.app, "GET", &format!("/api/v1/documents/{}", invoices[3]), Some(&both), None).await;
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["fields"]["total_gross"], "121.00");
    assert_eq!(v["corrected_fields"], json!(["total_gross"]));
    let audit = e.store.audit_of(&invoices[3]).await.unwrap();
    let last = audit.last().unwrap();
    assert_eq!(
        (last.actor_kind.as_str(), last.actor.as_str(), last.action.as_str()),
        ("user", "ap1", "correct_field")
    );
    assert_eq!(last.details["previous"], "120.00");
    assert_eq!(last.details["value"], "121.00");
    assert_eq!(last.details["comment"], "typo");
}

#[tokio::test]
async fn api_feed_misses_nothing_and_repeats_nothing_while_writers_commit() {
    let e = env().await;
    const N: usize = 80;
    let mut docs = Vec::new();
    for i in 0..N {
        docs.push(seed(&e.pool, &format!("c-{i}.pdf"), "invoice", &invoice_fields()).await);
    }
    let t = token(&e.store, "erp", &["read:invoices", "ack"]).await;
    // Four writers approve interleaved slices; a fifth keeps taking feed numbers and rolling
    // back (a gap), and a sixth appends unreleased events (as workers do).
    let mut writers = Vec::new();
    for w in 0..4 {
        let store = e.store.clone();
        let mine: Vec<String> = docs.iter().skip(w).step_by(4).cloned().collect();
        writers.push(tokio::spawn(async move {
            for h in mine {
                approve(&store, &h).await;
                tokio::task::yield_now().await;
            }
        }));
    }
    let pool = e.pool.clone();
    let first = seed(&e.pool, "gap.pdf", "invoice", &invoice_fields()).await;
    writers.push(tokio::spawn(async move {
        for _ in 0..30 {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("SELECT erp_feed_append($1, NULL, 'approved', 'approved')")
                .bind(&first)
                .execute(&mut *tx)
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            tx.rollback().await.unwrap();
            sqlx::query("SELECT erp_feed_append($1, NULL, 'processed', 'processed')")
                .bind(&first)
                .execute(&pool)
                .await
                .unwrap();
        }
    }));
    // The connector: page, remember, ack; until every writer is done and a page is empty.
    let mut seen: Vec<String> = Vec::new();
    let mut cursors: Vec<i64> = Vec::new();
    loop {
        let done = writers.iter().all(|w| w.is_finished());
        let (s, b) = call(&e.app, "GET", "/api/v1/feed?limit=7", Some(&t), None).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (page, next) = items(&b);
        for it in &page {
            seen.push(it["content_hash"].as_str().unwrap().to_string());
            cursors.push(it["cursor"].as_str().unwrap().parse().unwrap());
        }
        let (s, _) = call(&e.app, "POST", "/api/v1/feed/ack", Some(&t), Some(json!({"cursor": next}))).await;
        assert_eq!(s, StatusCode::OK);
        if done && page.is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(seen.len(), N, "each approved document delivered exactly once");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), N);
    assert_eq!(unique, docs.iter().collect::<HashSet<_>>());
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "cursors strictly increase");
}

#[tokio::test]
async fn api_exports_json_csv_and_factur_x() {
    let e = env().await;
    let mut fields = invoice_fields();
    fields.push(("buyer_reference", "=HYPERLINK(\"x\")"));
    let inv = seed(&e.pool, "export.pdf", "invoice", &fields).await;
    sqlx::query(
        "INSERT INTO line_items (result_id, position, description, quantity, unit_price, amount, vat_rate)
         SELECT current_result, 1, 'Ramette \"A4\", 80 g', 10, 5.00, 50.00, 20 FROM documents WHERE content_hash = $1
         UNION ALL SELECT current_result, 2, 'Toner', 1, 50.00, 50.00, 20 FROM documents WHERE content_hash = $1",
    )
    .bind(&inv)
    .execute(&e.pool)
    .await
    .unwrap();
    let incomplete = seed(&e.pool, "incomplete.pdf", "invoice", &[("invoice_number", "X-1")]).await;
    let contract = seed(&e.pool, "contract.pdf", "contract", &[("party", "Acme")]).await;
    let pending = seed(&e.pool, "pending.pdf", "invoice", &invoice_fields()).await;
    for h in [&inv, &incomplete, &contract] {
        approve(&e.store, h).await;
    }
    let t = token(&e.store, "erp", &["read:invoices"]).await;
    let get = |p: String| {
        let app = e.app.clone();
        let t = t.clone();
        async move { call(&app, "GET", &p, Some(&t), None).await }
    };
    // JSON.
    let (s, b) = get(format!("/api/v1/documents/{inv}")).await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["fields"]["invoice_number"], "F-2026-0042");
    assert_eq!(v["lines"].as_array().unwrap().len(), 2);
    // CSV: a header, one row per line, quoted cells, formulas neutralised.
    let (s, b) = get(format!("/api/v1/documents/{inv}/export.csv")).await;
    assert_eq!(s, StatusCode::OK);
    let rows: Vec<&str> = b.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].starts_with("\"invoice_number\",\"issue_date\""));
    assert!(
        rows[1].contains("\"F-2026-0042\"") && rows[1].contains("\"Ramette \"\"A4\"\", 80 g\""),
        "{}",
        rows[1]
    );
    assert!(rows[2].contains("\"Toner\""));
    let (_, b) = get(format!("/api/v1/documents/{inv}")).await;
    assert!(b.contains("HYPERLINK")); // JSON keeps the value as is
    // Factur-X: read back by our own CII reader.
    let (s, x) = get(format!("/api/v1/documents/{inv}/facturx.xml")).await;
    assert_eq!(s, StatusCode::OK, "{x}");
    let parsed = liasse::einvoice::parse(x.as_bytes()).unwrap();
    assert_eq!(parsed.number.value, "F-2026-0042");
    let pj = serde_json::to_value(&parsed).unwrap();
    let text = pj.to_string();
    for want in [
        "urn:factur-x.eu:1p0:minimum",
        "2026-11-02",
        "EUR",
        "Fournitures Dupont & Fils",
        "FR32123456789",
        "Acme SAS",
        "120.00",
        "20.00",
        "100.00",
        "380",
    ] {
        assert!(text.contains(want), "{want} not read back from the Factur-X export: {text}");
    }
    // Missing required values: 422 naming the field; contracts have no Factur-X; a document not
    // approved, a contract for an invoice-only token and a bad hash are all absent.
    let (s, b) = get(format!("/api/v1/documents/{incomplete}/facturx.xml")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b.contains("issue_date"), "{b}");
    for p in [
        format!("/api/v1/documents/{pending}"),
        format!("/api/v1/documents/{contract}"),
        format!("/api/v1/documents/{contract}/facturx.xml"),
        "/api/v1/documents/not-a-hash".to_string(),
        format!("/api/v1/documents/{}", "0".repeat(64)),
    ] {
        assert_eq!(get(p.clone()).await.0, StatusCode::NOT_FOUND, "{p}");
    }
    let lawyer = token(&e.store, "clm", &["read:contracts"]).await;
    let (s, _) =
        call(&e.app, "GET", &format!("/api/v1/documents/{contract}/export.csv"), Some(&lawyer), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) =
        call(&e.app, "GET", &format!("/api/v1/documents/{contract}/facturx.xml"), Some(&lawyer), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
