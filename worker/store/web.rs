//! The store's part for the ERP API and the review desk: API tokens, the released feed,
//! exports, users and sessions, and reviewers' decisions.
//!
//! Invariants:
//! - Tokens and session cookies are random; only their SHA-256 is stored.
//! - Every decision is one transaction: the document row is locked first, then the review, the
//!   audit-log row (who, what, previous value) and, last, the feed event (`erp_feed_append`).
//! - The ERP feed releases `approved` events (a document approved, by a person or a rule) and
//!   `changed` events (a later decision on an approved document: a correction, a block).

use super::{Result, Store};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row as _;

/// Feed events released to ERP connectors.
pub const RELEASED_EVENTS: [&str; 2] = ["approved", "changed"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<String>,
    pub acked_seq: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FeedItem {
    pub seq: i64,
    pub content_hash: String,
    pub result_id: Option<i64>,
    pub event: String,
    pub status: String,
    pub at: chrono::DateTime<chrono::Utc>,
    /// `invoice` or `contract`.
    pub kind: String,
    pub doc_type: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FeedPage {
    pub items: Vec<FeedItem>,
    /// Give this as `after` to get what follows.
    pub next: i64,
}

/// What a reviewer (or a rule) decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Approve,
    Block,
    Correct { name: String, value: String },
    DismissFlag { flag_id: i64 },
}

impl Decision {
    pub fn name(&self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Block => "block",
            Decision::Correct { .. } => "correct_field",
            Decision::DismissFlag { .. } => "dismiss_flag",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(String),
    Rule(String),
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::Rule(_) => "rule",
        }
    }
    fn name(&self) -> &str {
        match self {
            Actor::User(s) | Actor::Rule(s) => s,
        }
    }
    fn label(&self) -> String {
        match self {
            Actor::User(s) => format!("user:{s}"),
            Actor::Rule(s) => format!("rule:{s}"),
        }
    }
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// Done; the feed sequence number when the decision was released to the ERP feed.
    Done { feed_seq: Option<i64> },
    /// No such document (or no result to decide on).
    NotFound,
    /// The decision does not apply (a flag of another document, a field that does not exist…).
    Refused(&'static str),
}

/// An extracted or corrected value.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldValue {
    pub name: String,
    pub value: String,
    pub corrected: bool,
    pub confidence: Option<f32>,
    pub page: Option<i32>,
    pub span: Option<(i32, i32)>,
    pub bbox: Option<Value>,
    pub method: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LineItem {
    pub position: i32,
    pub description: Option<String>,
    pub quantity: Option<String>,
    pub unit: Option<String>,
    pub unit_price: Option<String>,
    pub amount: Option<String>,
    pub vat_rate: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Flag {
    pub id: i64,
    pub code: String,
    pub severity: String,
    pub score: Option<f32>,
    pub reasons: Value,
    pub rule_id: Option<String>,
    pub model: Option<String>,
    pub evidence: Value,
    pub dismissed: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Clause {
    pub position: i32,
    pub number: Option<String>,
    pub heading: Option<String>,
    pub category: Option<String>,
    pub risk: Option<String>,
    pub score: Option<f32>,
    pub page: Option<i32>,
    pub span: Option<(i32, i32)>,
    pub model: Option<String>,
    pub rule_id: Option<String>,
}

/// A document with its current result, as the API exports it and the desk shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentView {
    pub content_hash: String,
    pub source_name: String,
    pub status: String,
    pub kind: String,
    pub doc_type: Option<String>,
    pub media_type: Option<String>,
    pub result_id: Option<i64>,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub fields: Vec<FieldValue>,
    pub lines: Vec<LineItem>,
    pub flags: Vec<Flag>,
    pub clauses: Vec<Clause>,
    pub page_count: i32,
}

impl DocumentView {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|f| f.name == name).map(|f| f.value.as_str())
    }
}

/// A row of the review queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueRow {
    pub content_hash: String,
    pub source_name: String,
    pub status: String,
    pub kind: String,
    pub doc_type: Option<String>,
    pub received_at: chrono::DateTime<chrono::Utc>,
    /// Highest score of the open (not dismissed) flags; 0 without flags.
    pub risk: f32,
    pub open_flags: i64,
    /// The code of the riskiest open flag.
    pub top_flag: Option<String>,
}

/// Which part of the review queue to list.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueFilter {
    pub invoices: bool,
    pub contracts: bool,
    /// Lowest risk shown (0 to 1).
    pub min_risk: f32,
    /// Found in the source name, the type or an extracted value (case-insensitive).
    pub text: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// One page of a result: its text and, for an OCR page, the size of the image its boxes refer to.
#[derive(Debug, Clone, Serialize)]
pub struct PageMeta {
    pub number: i32,
    pub method: String,
    pub text: String,
    pub image_size: Option<(i32, i32)>,
}

/// Parts of a result's outcome the desk shows as they are.
#[derive(Debug, Clone, Serialize)]
pub struct ResultExtras {
    pub pages: Vec<PageMeta>,
    /// The contract's playbook findings (`[]` for other documents).
    pub playbook: Value,
    /// The risk of each invoice of the document.
    pub invoice_risks: Value,
    pub classification: Value,
    pub contract_risk: Value,
    /// The document has bytes of its own (not an e-mail attachment): its pages have images.
    pub has_bytes: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    pub csrf: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor_kind: String,
    pub actor: String,
    pub action: String,
    pub details: Value,
}

/// `contract` for contracts, `invoice` for everything else an accounts-payable team handles.
pub const KIND_SQL: &str =
    "CASE WHEN coalesce(d.doc_type, '') LIKE 'contract%' THEN 'contract' ELSE 'invoice' END";

/// The kinds a reader may see: invoices when `$1`, contracts when `$2`.
fn kind_filter() -> String {
    format!("(($1 AND {KIND_SQL} = 'invoice') OR ($2 AND {KIND_SQL} = 'contract'))")
}

/// A flag's weight in the queue's risk: its score (invoice rules, models), else its level
/// (contract rules: high 0.9, medium 0.6, low 0.3).
const RISK_SQL: &str = "coalesce(f.score, CASE f.severity WHEN 'high' THEN 0.9 WHEN 'block' THEN 0.9
      WHEN 'medium' THEN 0.6 WHEN 'review' THEN 0.5 WHEN 'low' THEN 0.3 ELSE 0 END)";

/// `%text%` for ILIKE, with the pattern characters of `text` taken literally.
fn like_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Roll a decision's transaction back and answer `d`.
async fn undo(tx: sqlx::PgTransaction<'_>, d: Decided) -> Result<Decided> {
    tx.rollback().await?;
    Ok(d)
}

/// The status a correction or a dismissal leaves: the same, `processed` for the others.
fn kept_status(status: &str) -> &'static str {
    match status {
        "approved" => "approved",
        "blocked" => "blocked",
        "review" => "review",
        _ => "processed",
    }
}

impl Store {
    // ---- API tokens ----

    pub async fn create_api_token(
        &self,
        name: &str,
        token_hash: &[u8; 32],
        scopes: &[String],
    ) -> Result<i64> {
        let id: i64 =
            sqlx::query("INSERT INTO api_tokens (name, token_hash, scopes) VALUES ($1, $2, $3) RETURNING id")
                .bind(name)
                .bind(&token_hash[..])
                .bind(scopes)
                .fetch_one(&self.pool)
                .await?
                .get(0);
        Ok(id)
    }

    /// The live token with this hash (and note its use).
    pub async fn api_token(&self, token_hash: &[u8; 32]) -> Result<Option<ApiToken>> {
        let row = sqlx::query(
            "UPDATE api_tokens SET last_used_at = now()
             WHERE token_hash = $1 AND revoked_at IS NULL RETURNING id, name, scopes, acked_seq",
        )
        .bind(&token_hash[..])
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| ApiToken { id: r.get(0), name: r.get(1), scopes: r.get(2), acked_seq: r.get(3) }))
    }

    /// Released feed events after `after`, at most `limit`, of the kinds given.
    ///
    /// Feed rows become visible in `seq` order (see `erp_feed_append`), so in one snapshot every
    /// row up to the largest visible `seq` is there: when the page is not full the next cursor
    /// moves to that largest `seq`, past rows of other kinds or events.
    pub async fn feed(&self, after: i64, limit: i64, invoices: bool, contracts: bool) -> Result<FeedPage> {
        let kind_filter = kind_filter();
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT f.seq, f.content_hash, f.result_id, f.event, f.status, f.at, {KIND_SQL} AS kind, d.doc_type
             FROM erp_feed f JOIN documents d ON d.content_hash = f.content_hash
             WHERE {kind_filter} AND f.seq > $3 AND f.event = ANY($4)
             ORDER BY f.seq LIMIT $5"
        )))
        .bind(invoices)
        .bind(contracts)
        .bind(after)
        .bind(&RELEASED_EVENTS[..])
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let items: Vec<FeedItem> = rows
            .into_iter()
            .map(|r| FeedItem {
                seq: r.get(0),
                content_hash: r.get(1),
                result_id: r.get(2),
                event: r.get(3),
                status: r.get(4),
                at: r.get(5),
                kind: r.get(6),
                doc_type: r.get(7),
            })
            .collect();
        let next = if (items.len() as i64) < limit {
            let top: Option<i64> =
                sqlx::query("SELECT max(seq) FROM erp_feed").fetch_one(&mut *tx).await?.get(0);
            top.unwrap_or(0).max(after)
        } else {
            items.last().map(|i| i.seq).unwrap_or(after)
        };
        tx.commit().await?;
        Ok(FeedPage { items, next })
    }

    /// Acknowledge the feed up to `seq` for a connector. Returns the acknowledged position, or
    /// None when `seq` is beyond the feed.
    pub async fn ack(&self, token_id: i64, seq: i64) -> Result<Option<i64>> {
        let row = sqlx::query(
            "UPDATE api_tokens SET acked_seq = greatest(acked_seq, $2)
             WHERE id = $1 AND $2 >= 0 AND $2 <= (SELECT value FROM erp_feed_counter) RETURNING acked_seq",
        )
        .bind(token_id)
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.get(0)))
    }

    // ---- Documents ----

    /// A document with its current result, fields (corrections applied), line items, flags and
    /// clauses.
    pub async fn document_view(&self, content_hash: &str) -> Result<Option<DocumentView>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT d.content_hash, d.source_name, d.status, {KIND_SQL}, d.doc_type, d.media_type,
                    d.current_result, d.received_at, coalesce(r.page_count, 0)
             FROM documents d LEFT JOIN results r ON r.id = d.current_result
             WHERE d.content_hash = $1"
        )))
        .bind(content_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let result_id: Option<i64> = row.get(6);
        let mut view = DocumentView {
            content_hash: row.get(0),
            source_name: row.get(1),
            status: row.get(2),
            kind: row.get(3),
            doc_type: row.get(4),
            media_type: row.get(5),
            result_id,
            received_at: row.get(7),
            page_count: row.get(8),
            fields: vec![],
            lines: vec![],
            flags: vec![],
            clauses: vec![],
        };
        let Some(rid) = result_id else { return Ok(Some(view)) };
        let fields = sqlx::query(
            "SELECT DISTINCT ON (name) name, value, confidence, page, span_start, span_end, bbox, method
             FROM fields WHERE result_id = $1 ORDER BY name, confidence DESC, id",
        )
        .bind(rid)
        .fetch_all(&self.pool)
        .await?;
        for r in fields {
            let (s, e): (Option<i32>, Option<i32>) = (r.get(4), r.get(5));
            view.fields.push(FieldValue {
                name: r.get(0),
                value: r.get(1),
                corrected: false,
                confidence: r.get(2),
                page: r.get(3),
                span: s.zip(e),
                bbox: r.get(6),
                method: r.get(7),
            });
        }
        let corrections = sqlx::query(
            "SELECT DISTINCT ON (name) name, value FROM field_corrections WHERE result_id = $1 ORDER BY name, id DESC",
        )
        .bind(rid)
        .fetch_all(&self.pool)
        .await?;
        for r in corrections {
            let (name, value): (String, String) = (r.get(0), r.get(1));
            match view.fields.iter_mut().find(|f| f.name == name) {
                Some(f) => {
                    f.value = value;
                    f.corrected = true;
                }
                None => view.fields.push(FieldValue {
                    name,
                    value,
                    corrected: true,
                    confidence: None,
                    page: None,
                    span: None,
                    bbox: None,
                    method: None,
                }),
            }
        }
        view.fields.sort_by(|a, b| a.name.cmp(&b.name));
        let lines = sqlx::query(
            "SELECT position, description, quantity::text, unit, unit_price::text, amount::text, vat_rate::text
             FROM line_items WHERE result_id = $1 ORDER BY position",
        )
        .bind(rid)
        .fetch_all(&self.pool)
        .await?;
        view.lines = lines
            .into_iter()
            .map(|r| LineItem {
                position: r.get(0),
                description: r.get(1),
                quantity: r.get(2),
                unit: r.get(3),
                unit_price: r.get(4),
                amount: r.get(5),
                vat_rate: r.get(6),
            })
            .collect();
        let flags = sqlx::query(
            "SELECT f.id, f.code, f.severity, f.score, f.reasons, f.rule_id, f.model, f.evidence,
                    x.flag_id IS NOT NULL
             FROM flags f LEFT JOIN flag_dismissals x ON x.flag_id = f.id
             WHERE f.result_id = $1 ORDER BY f.score DESC NULLS LAST, f.id",
        )
        .bind(rid)
        .fetch_all(&self.pool)
        .await?;
        view.flags = flags
            .into_iter()
            .map(|r| Flag {
                id: r.get(0),
                code: r.get(1),
                severity: r.get(2),
                score: r.get(3),
                reasons: r.get(4),
                rule_id: r.get(5),
                model: r.get(6),
                evidence: r.get(7),
                dismissed: r.get(8),
            })
            .collect();
        let clauses = sqlx::query(
            "SELECT position, number, heading, category, risk, score, page, span_start, span_end, model, rule_id
             FROM clauses WHERE result_id = $1 ORDER BY position",
        )
        .bind(rid)
        .fetch_all(&self.pool)
        .await?;
        view.clauses = clauses
            .into_iter()
            .map(|r| {
                let (s, e): (Option<i32>, Option<i32>) = (r.get(7), r.get(8));
                Clause {
                    position: r.get(0),
                    number: r.get(1),
                    heading: r.get(2),
                    category: r.get(3),
                    risk: r.get(4),
                    score: r.get(5),
                    page: r.get(6),
                    span: s.zip(e),
                    model: r.get(9),
                    rule_id: r.get(10),
                }
            })
            .collect();
        Ok(Some(view))
    }

    /// The text of one page of a document's current result.
    pub async fn page_text(&self, content_hash: &str, page: i32) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT p.text FROM documents d JOIN pages p ON p.result_id = d.current_result
             WHERE d.content_hash = $1 AND p.number = $2",
        )
        .bind(content_hash)
        .bind(page)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// A document's kind and its current result's page count (for the desk's role checks).
    pub async fn document_kind(&self, content_hash: &str) -> Result<Option<(String, i32)>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KIND_SQL}, coalesce(r.page_count, 0) FROM documents d
             LEFT JOIN results r ON r.id = d.current_result WHERE d.content_hash = $1"
        )))
        .bind(content_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// The bytes of a document (its own blob) and its media type.
    pub async fn document_bytes(&self, content_hash: &str) -> Result<Option<(Vec<u8>, Option<String>)>> {
        let row = sqlx::query(
            "SELECT b.bytes, d.media_type FROM documents d JOIN blobs b ON b.content_hash = d.blob_hash
             WHERE d.content_hash = $1",
        )
        .bind(content_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// Documents waiting for a decision (`processed`, `review`), riskiest first, one page of
    /// them, and how many match in all.
    pub async fn review_queue(&self, f: &QueueFilter) -> Result<(Vec<QueueRow>, i64)> {
        let text = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(like_pattern);
        let kind_filter = kind_filter();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT d.content_hash, d.source_name, d.status, {KIND_SQL} AS kind, d.doc_type, d.received_at,
                    coalesce(fl.risk, 0)::float4, coalesce(fl.n, 0), count(*) OVER (), fl.top
             FROM documents d
             LEFT JOIN LATERAL (
                 SELECT max({RISK_SQL}) AS risk, count(*) AS n,
                        (array_agg(f.code ORDER BY {RISK_SQL} DESC, f.id))[1] AS top
                 FROM flags f
                 WHERE f.result_id = d.current_result
                   AND NOT EXISTS (SELECT 1 FROM flag_dismissals x WHERE x.flag_id = f.id)) fl ON true
             WHERE d.status IN ('processed', 'review') AND d.current_result IS NOT NULL
               AND {kind_filter}
               AND coalesce(fl.risk, 0) >= $3
               AND ($4::text IS NULL OR d.source_name ILIKE $4 OR d.doc_type ILIKE $4
                    OR EXISTS (SELECT 1 FROM fields v WHERE v.result_id = d.current_result AND v.value ILIKE $4))
             ORDER BY coalesce(fl.risk, 0) DESC, d.received_at, d.content_hash LIMIT $5 OFFSET $6"
        )))
        .bind(f.invoices)
        .bind(f.contracts)
        .bind(f.min_risk)
        .bind(text)
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(&self.pool)
        .await?;
        let total = rows.first().map(|r| r.get::<i64, _>(8)).unwrap_or(0);
        let rows = rows
            .into_iter()
            .map(|r| QueueRow {
                content_hash: r.get(0),
                source_name: r.get(1),
                status: r.get(2),
                kind: r.get(3),
                doc_type: r.get(4),
                received_at: r.get(5),
                risk: r.get(6),
                open_flags: r.get(7),
                top_flag: r.get(9),
            })
            .collect();
        Ok((rows, total))
    }

    /// What the desk shows beside a result's rows: page sizes, playbook, risks, classification.
    pub async fn result_extras(&self, result_id: i64) -> Result<ResultExtras> {
        let row = sqlx::query(
            "SELECT coalesce(r.outcome->'contract'->'playbook', '[]'),
                    coalesce(jsonb_path_query_array(r.outcome, '$.invoice.invoices[*].risk'), '[]'),
                    coalesce(r.outcome->'classification', 'null'),
                    coalesce(r.outcome->'contract'->'risk', 'null'),
                    d.blob_hash IS NOT NULL
             FROM results r JOIN documents d ON d.content_hash = r.content_hash WHERE r.id = $1",
        )
        .bind(result_id)
        .fetch_optional(&self.pool)
        .await?;
        let pages = sqlx::query(
            "SELECT p.number, p.method, p.text, (j->'ocr'->>'image_width')::int, (j->'ocr'->>'image_height')::int
             FROM pages p JOIN results r ON r.id = p.result_id
             LEFT JOIN LATERAL (SELECT j FROM jsonb_array_elements(coalesce(r.outcome->'document'->'pages', '[]')) j
                                WHERE (j->>'number')::int = p.number LIMIT 1) jp ON true
             WHERE p.result_id = $1 ORDER BY p.number",
        )
        .bind(result_id)
        .fetch_all(&self.pool)
        .await?;
        let pages = pages
            .into_iter()
            .map(|r| {
                let (w, h): (Option<i32>, Option<i32>) = (r.get(3), r.get(4));
                PageMeta { number: r.get(0), method: r.get(1), text: r.get(2), image_size: w.zip(h) }
            })
            .collect();
        let null = || Value::Null;
        Ok(match row {
            Some(r) => ResultExtras {
                pages,
                playbook: r.get(0),
                invoice_risks: r.get(1),
                classification: r.get(2),
                contract_risk: r.get(3),
                has_bytes: r.get(4),
            },
            None => ResultExtras {
                pages,
                playbook: null(),
                invoice_risks: null(),
                classification: null(),
                contract_risk: null(),
                has_bytes: false,
            },
        })
    }

    /// Every user (without password hashes), for the admin page.
    pub async fn users(&self) -> Result<Vec<(User, bool)>> {
        let rows = sqlx::query("SELECT id, login, role, disabled_at IS NOT NULL FROM users ORDER BY login")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (User { id: r.get(0), login: r.get(1), role: r.get(2) }, r.get(3)))
            .collect())
    }

    /// The audit log of one document, oldest first.
    pub async fn audit_of(&self, content_hash: &str) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at, actor_kind, actor, action, details FROM audit_log WHERE content_hash = $1 ORDER BY id",
        )
        .bind(content_hash)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                at: r.get(0),
                actor_kind: r.get(1),
                actor: r.get(2),
                action: r.get(3),
                details: r.get(4),
            })
            .collect())
    }

    /// Apply a decision on a document's current result (see the module invariants).
    pub async fn decide(
        &self,
        content_hash: &str,
        actor: &Actor,
        decision: &Decision,
        comment: Option<&str>,
    ) -> Result<Decided> {
        let comment = comment.map(super::clean_text).filter(|c| !c.trim().is_empty());
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT status, current_result FROM documents WHERE content_hash = $1 FOR NO KEY UPDATE",
        )
        .bind(content_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return undo(tx, Decided::NotFound).await;
        };
        let (status, result): (String, Option<i64>) = (row.get(0), row.get(1));
        let Some(result) = result else {
            return undo(tx, Decided::NotFound).await;
        };
        if matches!(status.as_str(), "queued" | "processing" | "failed") {
            return undo(tx, Decided::Refused("the document has no result to decide on")).await;
        }
        let approved = status == "approved";
        let (new_status, details, event) = match decision {
            Decision::Approve => {
                if approved {
                    return undo(tx, Decided::Refused("the document is already approved")).await;
                }
                ("approved", json!({"previous_status": status}), Some("approved"))
            }
            Decision::Block => {
                if status == "blocked" {
                    return undo(tx, Decided::Refused("the document is already blocked")).await;
                }
                ("blocked", json!({"previous_status": status}), approved.then_some("changed"))
            }
            Decision::Correct { name, value } => {
                let name = super::clean_text(name);
                let value = super::clean_text(value);
                let extracted: Option<String> = sqlx::query(
                    "SELECT value FROM fields WHERE result_id = $1 AND name = $2 ORDER BY confidence DESC, id LIMIT 1",
                )
                .bind(result)
                .bind(&name)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.get(0));
                let previous = match sqlx::query(
                    "SELECT value FROM field_corrections WHERE result_id = $1 AND name = $2 ORDER BY id DESC LIMIT 1",
                )
                .bind(result)
                .bind(&name)
                .fetch_optional(&mut *tx)
                .await?
                {
                    Some(r) => Some(r.get::<String, _>(0)),
                    None => extracted,
                };
                if previous.as_deref() == Some(value.as_str()) {
                    return undo(tx, Decided::Refused("the value is unchanged")).await;
                }
                sqlx::query(
                    "INSERT INTO field_corrections (content_hash, result_id, name, value, previous, reviewer)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(content_hash)
                .bind(result)
                .bind(&name)
                .bind(&value)
                .bind(&previous)
                .bind(actor.name())
                .execute(&mut *tx)
                .await?;
                let st = kept_status(&status);
                (
                    st,
                    json!({"field": name, "value": value, "previous": previous}),
                    approved.then_some("changed"),
                )
            }
            Decision::DismissFlag { flag_id } => {
                let code: Option<String> =
                    sqlx::query("SELECT code FROM flags WHERE id = $1 AND result_id = $2")
                        .bind(flag_id)
                        .bind(result)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|r| r.get(0));
                let Some(code) = code else {
                    return undo(tx, Decided::Refused("no such flag on this document")).await;
                };
                let done = sqlx::query(
                    "INSERT INTO flag_dismissals (flag_id, reviewer, comment) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING RETURNING flag_id",
                )
                .bind(flag_id)
                .bind(actor.name())
                .bind(&comment)
                .fetch_optional(&mut *tx)
                .await?;
                if done.is_none() {
                    return undo(tx, Decided::Refused("the flag is already dismissed")).await;
                }
                let st = kept_status(&status);
                (
                    st,
                    json!({"flag": flag_id, "code": code, "previous": "open"}),
                    approved.then_some("changed"),
                )
            }
        };
        let mut details = details;
        if let (Some(c), Some(obj)) = (&comment, details.as_object_mut()) {
            obj.insert("comment".into(), json!(c));
        }
        sqlx::query(
            "INSERT INTO reviews (content_hash, result_id, reviewer, decision, comment, changes)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(content_hash)
        .bind(result)
        .bind(actor.label())
        .bind(decision.name())
        .bind(&comment)
        .bind(&details)
        .execute(&mut *tx)
        .await?;
        super::audit(
            &mut tx,
            actor.kind(),
            actor.name(),
            decision.name(),
            content_hash,
            Some(result),
            &details,
        )
        .await?;
        if new_status != status {
            sqlx::query("UPDATE documents SET status = $2, status_reason = $3, updated_at = now() WHERE content_hash = $1")
                .bind(content_hash)
                .bind(new_status)
                .bind(&comment)
                .execute(&mut *tx)
                .await?;
            let reason = comment.as_deref();
            super::status_changed(&mut tx, content_hash, Some(&status), new_status, reason, &actor.label())
                .await?;
        }
        // Last: the feed counter's row lock is held until commit.
        let feed_seq = match event {
            Some(ev) => Some(
                sqlx::query("SELECT erp_feed_append($1, $2, $3, $4)")
                    .bind(content_hash)
                    .bind(result)
                    .bind(ev)
                    .bind(new_status)
                    .fetch_one(&mut *tx)
                    .await?
                    .get::<i64, _>(0),
            ),
            None => None,
        };
        tx.commit().await?;
        Ok(Decided::Done { feed_seq })
    }

    // ---- Users and sessions ----

    pub async fn create_user(&self, login: &str, password_hash: &str, role: &str) -> Result<i64> {
        let id: i64 = sqlx::query(
            "INSERT INTO users (login, password_hash, role) VALUES ($1, $2, $3)
             ON CONFLICT (login) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role,
                 disabled_at = NULL
             RETURNING id",
        )
        .bind(login)
        .bind(password_hash)
        .bind(role)
        .fetch_one(&self.pool)
        .await?
        .get(0);
        Ok(id)
    }

    /// A live user and its password hash.
    pub async fn user_for_login(&self, login: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query(
            "SELECT id, login, role, password_hash FROM users WHERE login = $1 AND disabled_at IS NULL",
        )
        .bind(login)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (User { id: r.get(0), login: r.get(1), role: r.get(2) }, r.get(3))))
    }

    pub async fn create_session(
        &self,
        token_hash: &[u8; 32],
        user_id: i64,
        csrf: &str,
        hours: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, expires_at)
             VALUES ($1, $2, $3, now() + make_interval(hours => $4::int))",
        )
        .bind(&token_hash[..])
        .bind(user_id)
        .bind(csrf)
        .bind(hours as i32)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at < now()").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT u.id, u.login, u.role, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > now() AND u.disabled_at IS NULL",
        )
        .bind(&token_hash[..])
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Session {
            user: User { id: r.get(0), login: r.get(1), role: r.get(2) },
            csrf: r.get(3),
        }))
    }

    pub async fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(&token_hash[..])
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Apply the worker's verdict on a result it just wrote (in its transaction): `approved` with an
/// audit-log row of the rules' reasons, or `review` with every reason. Returns whether the
/// document was approved (the caller then appends the `approved` feed event, last).
pub(super) async fn apply_verdict(
    tx: &mut sqlx::PgTransaction<'_>,
    hash: &str,
    result_id: i64,
    verdict: &crate::review::Verdict,
    actor: &str,
) -> Result<bool> {
    use crate::review::Verdict;
    let (status, action, reasons, approved) = match verdict {
        Verdict::Approve(r) => ("approved", "auto_approve", r, true),
        Verdict::Review(r) => ("review", "to_review", r, false),
    };
    let reason = reasons.join("; ");
    sqlx::query(
        "UPDATE documents SET status = $2, status_reason = $3, updated_at = now() WHERE content_hash = $1",
    )
    .bind(hash)
    .bind(status)
    .bind(&reason)
    .execute(&mut **tx)
    .await?;
    super::status_changed(tx, hash, Some("processed"), status, Some(&reason), actor).await?;
    let details = json!({"previous_status": "processed", "reasons": reasons});
    super::audit(tx, "system", actor, action, hash, Some(result_id), &details).await?;
    Ok(approved)
}
