//! The typed rows the worker writes beside each result (fields, line items, flags, clauses,
//! the document's type and language), through the store's real write path and a database of
//! its own per test; read back with SQL and through the ERP API's `document_view`.

use crate::common::fixture;
use crate::service::TestDb;
use liasse::pipeline::Outcome;
use liasse::store::Store;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::Row as _;
use sqlx::postgres::PgPool;
use std::str::FromStr as _;

/// The MANIFEST entry of a fixture.
fn manifest(rel: &str) -> Value {
    let m: Value = serde_json::from_str(&std::fs::read_to_string(fixture("MANIFEST.json")).unwrap()).unwrap();
    m["files"].as_array().unwrap().iter().find(|f| f["path"] == rel).cloned().unwrap()
}

/// Receive a fixture, run the pipeline on the bytes the store hands out, write the outcomes as
/// the worker does; returns the content hash, the result id and the outcomes.
async fn process(store: &Store, rel: &str) -> (String, i64, Vec<Outcome>) {
    let bytes = std::fs::read(fixture(rel)).unwrap();
    let hash = manifest(rel)["sha256"].as_str().unwrap().to_string();
    let name = rel.rsplit('/').next().unwrap();
    let (read, ids, outcomes) = crate::common::process_through_store(store, &bytes, name).await;
    assert_eq!(read, hash, "the MANIFEST's hash");
    (hash, ids[0], outcomes)
}

async fn env() -> (TestDb, Store, PgPool) {
    let db = TestDb::create().await;
    let store = Store::connect_lazy(&db.url, 4).unwrap();
    store.migrate().await.unwrap();
    let pool = db.pool().await;
    (db, store, pool)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// Every API field of an invoice against the MANIFEST facts, through the API's reader.
async fn check_invoice_fields(store: &Store, hash: &str, facts: &Value) -> liasse::store::web::DocumentView {
    let view = store.document_view(hash).await.unwrap().unwrap();
    assert_eq!(view.kind, "invoice");
    assert_eq!(view.doc_type.as_deref(), Some("invoice"));
    let f = |n: &str| view.field(n).unwrap_or_else(|| panic!("field {n} in {:?}", view.fields));
    assert_eq!(f("invoice_number"), facts["number"]);
    assert_eq!(f("issue_date"), facts["issue_date"]);
    assert_eq!(f("due_date"), facts["due_date"]);
    assert_eq!(f("currency"), facts["currency"]);
    assert_eq!(f("seller_name"), facts["seller"]["name"]);
    assert_eq!(f("seller_vat_id"), facts["seller"]["vat"]);
    assert_eq!(f("buyer_name"), facts["buyer"]["name"]);
    assert_eq!(f("buyer_vat_id"), facts["buyer"]["vat"]);
    assert_eq!(f("order_reference"), facts["buyer_reference"]);
    for (name, fact) in
        [("total_net", "net"), ("total_vat", "vat"), ("total_gross", "gross"), ("amount_due", "due")]
    {
        assert_eq!(dec(f(name)), dec(facts["totals"][fact].as_str().unwrap()), "{name}");
    }
    // Every API field carries its evidence: a page and span, or an XML path.
    for field in &view.fields {
        assert!(field.confidence.is_some_and(|c| c > 0.0), "{field:?}");
        assert!(field.method.is_some(), "{field:?}");
    }
    view
}

#[tokio::test]
async fn rows_of_a_text_invoice_are_written_with_the_result() {
    let (_db, store, pool) = env().await;
    let rel = "text/facture_fr_2pages.pdf";
    let facts = manifest(rel)["facts"].clone();
    let (hash, rid, outcomes) = process(&store, rel).await;
    let view = check_invoice_fields(&store, &hash, &facts).await;
    assert_eq!(view.result_id, Some(rid));
    assert_eq!(view.field("seller_siret"), facts["seller"]["siret"].as_str());
    // The API's Factur-X export is made from these rows, and reads back to the same invoice.
    let xml = liasse::web::export::factur_x(&view).unwrap();
    let parsed = liasse::einvoice::parse(xml.as_bytes()).unwrap();
    assert_eq!(parsed.number.value, facts["number"].as_str().unwrap());
    let parsed = serde_json::to_value(&parsed).unwrap().to_string();
    for fact in [&facts["totals"]["gross"], &facts["seller"]["vat"], &facts["buyer"]["name"]] {
        assert!(parsed.contains(fact.as_str().unwrap()), "{fact} in {parsed}");
    }

    let row = sqlx::query("SELECT doc_type, language FROM documents WHERE content_hash = $1")
        .bind(&hash)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(row.get::<Option<String>, _>(0).as_deref(), Some("invoice"));
    assert_eq!(row.get::<Option<String>, _>(1).as_deref(), Some("fr"));

    // The number as the text shows it: page, span (its text is the value), layout method.
    let row = sqlx::query(
        "SELECT f.page, f.span_start, f.span_end, f.method, f.xml_path, f.evidence, p.text
         FROM fields f JOIN pages p ON p.result_id = f.result_id AND p.number = f.page
         WHERE f.result_id = $1 AND f.name = 'invoice_number'",
    )
    .bind(rid)
    .fetch_one(&pool)
    .await
    .unwrap();
    let (s, e): (i32, i32) = (row.get(1), row.get(2));
    let text: String = row.get(6);
    assert_eq!(&text[s as usize..e as usize], facts["number"].as_str().unwrap());
    assert_eq!(row.get::<String, _>(3), "layout_rule");
    assert_eq!(row.get::<Option<String>, _>(4), None);

    // Line items: as many as extracted, their amounts summing to the net total.
    let inv = &outcomes[0].invoice.as_ref().unwrap().invoices[0];
    assert!(!inv.extracted.lines.is_empty());
    let row = sqlx::query("SELECT count(*), sum(amount)::text, min(position), max(position) FROM line_items WHERE result_id = $1")
        .bind(rid)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(row.get::<i64, _>(0), inv.extracted.lines.len() as i64);
    assert_eq!(dec(&row.get::<String, _>(1)), dec(facts["totals"]["net"].as_str().unwrap()));
    assert_eq!((row.get::<i32, _>(2), row.get::<i32, _>(3)), (1, inv.extracted.lines.len() as i32));
    assert_eq!(view.lines.len(), inv.extracted.lines.len());

    // Flags: one per invoice flag, with its rule, weight and reason.
    assert!(!inv.flags.is_empty());
    let flags = sqlx::query(
        "SELECT code, rule_id, score, reasons, severity FROM flags WHERE result_id = $1 ORDER BY id",
    )
    .bind(rid)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(flags.len(), inv.flags.len());
    for (row, flag) in flags.iter().zip(&inv.flags) {
        assert_eq!(row.get::<String, _>(0), flag.rule);
        assert_eq!(row.get::<Option<String>, _>(1).as_deref(), Some(flag.rule.as_str()));
        assert_eq!(row.get::<Option<f32>, _>(2), Some(flag.weight));
        assert_eq!(row.get::<Value, _>(3)[0]["reason"], flag.reason.as_str());
        assert_eq!(row.get::<String, _>(4), serde_json::to_value(inv.risk.decision).unwrap());
    }
    let clauses: i64 = sqlx::query("SELECT count(*) FROM clauses WHERE result_id = $1")
        .bind(rid)
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(clauses, 0);
}

#[tokio::test]
async fn rows_of_a_factur_x_invoice_carry_xml_paths() {
    let (_db, store, pool) = env().await;
    let rel = "einvoice/facturx_fr_en16931.pdf";
    let facts = manifest(rel)["facts"].clone();
    let (hash, rid, _) = process(&store, rel).await;
    check_invoice_fields(&store, &hash, &facts).await;
    let row =
        sqlx::query("SELECT method, xml_path FROM fields WHERE result_id = $1 AND name = 'total_gross'")
            .bind(rid)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(row.get::<String, _>(0), "xml");
    assert!(row.get::<Option<String>, _>(1).is_some_and(|p| p.contains("GrandTotalAmount")));
}

#[tokio::test]
async fn rows_of_a_contract_are_clauses_and_risk_flags() {
    let (_db, store, pool) = env().await;
    let rel = "text/contrat_prestation_fr.pdf";
    let (hash, rid, outcomes) = process(&store, rel).await;
    let contract = outcomes[0].contract.as_ref().unwrap();
    let view = store.document_view(&hash).await.unwrap().unwrap();
    assert_eq!(view.kind, "contract");
    assert!(view.doc_type.as_deref().is_some_and(|t| t.starts_with("contract")));
    assert_eq!(view.doc_type.as_deref(), manifest(rel)["doc_type"].as_str());
    assert!(!view.clauses.is_empty());
    assert_eq!(view.clauses.len(), contract.clauses.len());
    assert!(view.fields.is_empty() && view.lines.is_empty());

    // Each clause: its number, heading, risk, and a span starting at its printed heading.
    let rows = sqlx::query(
        "SELECT c.number, c.heading, c.risk, c.page, c.span_start, c.span_end, p.text, c.rule_id
         FROM clauses c JOIN pages p ON p.result_id = c.result_id AND p.number = c.page
         WHERE c.result_id = $1 ORDER BY c.position",
    )
    .bind(rid)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), contract.clauses.len());
    for (row, cr) in rows.iter().zip(&contract.clauses) {
        assert_eq!(row.get::<Option<String>, _>(0).as_deref(), Some(cr.clause.number.as_str()));
        assert_eq!(row.get::<Option<String>, _>(1), cr.clause.heading);
        assert_eq!(row.get::<Option<String>, _>(2).unwrap(), serde_json::to_value(cr.risk).unwrap());
        let (s, e): (i32, i32) = (row.get(4), row.get(5));
        let text: String = row.get(6);
        assert!(text[s as usize..e as usize].starts_with(&cr.clause.heading_location.text));
        assert_eq!(row.get::<Option<String>, _>(7).is_some(), !cr.flags.is_empty());
    }

    // The clause classifier's categories and model on each clause row (migration 0200).
    let labelled =
        sqlx::query("SELECT labels, model, score FROM clauses WHERE result_id = $1 ORDER BY position")
            .bind(rid)
            .fetch_all(&pool)
            .await
            .unwrap();
    for (row, cr) in labelled.iter().zip(&contract.clauses) {
        let k = cr.classification.as_ref().expect("classified");
        let want: Vec<String> = k.labels.iter().map(|l| l.label.clone()).collect();
        assert_eq!(row.get::<Vec<String>, _>(0), want);
        assert_eq!(row.get::<Option<String>, _>(1), Some(format!("{}@{}", k.model, k.version)));
        assert_eq!(row.get::<Option<f32>, _>(2), k.labels.first().map(|l| l.score));
    }
    assert!(labelled.iter().any(|r| !r.get::<Vec<String>, _>(0).is_empty()));

    // Risk flags: one per clause flag, with rule id, level and reason.
    let expected: Vec<_> = contract.clauses.iter().flat_map(|c| &c.flags).collect();
    assert!(!expected.is_empty());
    let flags =
        sqlx::query("SELECT code, severity, rule_id, reasons FROM flags WHERE result_id = $1 ORDER BY id")
            .bind(rid)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(flags.len(), expected.len());
    for (row, flag) in flags.iter().zip(expected) {
        assert_eq!(row.get::<String, _>(0), flag.kind);
        assert_eq!(row.get::<String, _>(1), serde_json::to_value(flag.level).unwrap());
        assert_eq!(row.get::<Option<String>, _>(2).as_deref(), Some(flag.rule.as_str()));
        assert_eq!(row.get::<Value, _>(3)[0]["reason"], flag.reason.as_str());
    }
}
