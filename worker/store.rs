//! The PostgreSQL store: the only module that knows sqlx.
//!
//! Invariants:
//! - A receipt (ingest) is one transaction: blob, document (or a duplicate receipt), job.
//! - A job's results are written in one transaction that first locks the job row and checks its
//!   state, so a redelivered message whose results were already committed writes nothing.
//! - The ERP feed gets its sequence numbers from a single-row counter inside the writing
//!   transaction (`erp_feed_append`), as the last statement, so numbers become visible in order.

pub mod history;
pub mod web;

use crate::evidence::{Evidence, Grounded, Method};
use crate::invoice::{ExtractedInvoice, InvoiceKind};
use crate::pipeline::{Outcome, Status};
use serde_json::Value;
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot encode the outcome: {0}")]
    Encode(#[from] serde_json::Error),
}

impl StoreError {
    /// The database could not be reached (as opposed to refusing a statement).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Db(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Protocol(_) => true,
                sqlx::Error::Database(d) => {
                    // Connection exceptions, operator intervention (shutdown), resources.
                    d.code()
                        .is_some_and(|c| c.starts_with("08") || c.starts_with("57") || c.starts_with("53"))
                }
                _ => false,
            },
            StoreError::Migrate(_) | StoreError::Encode(_) => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The actor of what a worker writes (audit log, status history).
pub fn worker_actor() -> String {
    format!("liasse-worker@{}", env!("CARGO_PKG_VERSION"))
}

/// A file being received.
#[derive(Debug, Clone)]
pub struct Receipt<'a> {
    pub bytes: &'a [u8],
    pub content_hash: &'a str,
    /// Safe display name.
    pub name: &'a str,
    pub path: Option<&'a str>,
    /// `submit`, `drop_folder`.
    pub channel: &'a str,
    /// Identity of this receipt (a dropped file's path, size and mtime): the same key twice is
    /// one receipt (a file taken again after a crash before it was moved).
    pub receipt_key: Option<&'a str>,
}

/// What a receipt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// A job to publish: new, or recorded earlier and not yet published.
    pub job_to_publish: Option<i64>,
    /// The content was already known (a duplicate receipt was recorded).
    pub duplicate: bool,
    /// This exact receipt had already been recorded (nothing new was written).
    pub replayed: bool,
}

/// What the start of an attempt found.
#[derive(Debug)]
pub enum Attempt {
    /// The job does not exist (a message from another database).
    NoSuchJob,
    /// The job is already finished (`done` or `failed`): a redelivery; nothing to do.
    Finished { state: String },
    /// Run the pipeline: the attempt number (1-based, counted now) and the bytes.
    Run { attempts: i32, content_hash: String, name: String, path: Option<String>, bytes: Vec<u8> },
}

/// What writing a job's outcomes did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Written now: the result ids.
    Now(Vec<i64>),
    /// The job was already finished: nothing written.
    AlreadyFinished,
    /// An invoice of a supplier the history checks read was committed by another worker since
    /// the snapshot: nothing written; the checks must run again.
    HistoryChanged,
}

/// A published-or-not job, as the queue carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    pub job_id: i64,
    pub content_hash: String,
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    /// Automatic approval of written results (`[review]`; off unless `with_review`).
    review: crate::config::ReviewConfig,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// A pool that connects on first use (a worker starts even while the database is down).
    pub fn connect_lazy(url: &str, max_connections: u32) -> Result<Store> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy(url)?;
        Ok(Store { pool, review: crate::config::ReviewConfig::default() })
    }

    /// The same store, approving results automatically as `review` says (docs/desk.md).
    pub fn with_review(mut self, review: crate::config::ReviewConfig) -> Store {
        self.review = review;
        self
    }

    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Record a received file in one transaction: its blob, its document (`queued`) and a job,
    /// or a duplicate receipt when the content is already known.
    pub async fn receive(&self, r: &Receipt<'_>) -> Result<Received> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO blobs (content_hash, size, bytes) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(r.content_hash)
        .bind(r.bytes.len() as i64)
        .bind(r.bytes)
        .execute(&mut *tx)
        .await?;
        let provenance = serde_json::json!({"channel": "file"});
        let new_doc = sqlx::query(
            "INSERT INTO documents (content_hash, blob_hash, source_name, provenance)
             VALUES ($1, $1, $2, $3) ON CONFLICT DO NOTHING RETURNING content_hash",
        )
        .bind(r.content_hash)
        .bind(r.name)
        .bind(&provenance)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        let receipt = sqlx::query(
            "INSERT INTO receipts (content_hash, channel, source_name, source_path, provenance, duplicate, receipt_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (receipt_key) DO NOTHING RETURNING id",
        )
        .bind(r.content_hash)
        .bind(r.channel)
        .bind(r.name)
        .bind(r.path)
        .bind(&provenance)
        .bind(!new_doc)
        .bind(r.receipt_key)
        .fetch_optional(&mut *tx)
        .await?;
        if receipt.is_none() {
            // This very file was recorded before (taken again after a crash): publish its job if
            // that never happened.
            tx.rollback().await?;
            let job = sqlx::query(
                "SELECT id FROM jobs WHERE content_hash = $1 AND state = 'queued' AND published_at IS NULL
                 ORDER BY id LIMIT 1",
            )
            .bind(r.content_hash)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| row.get::<i64, _>(0));
            return Ok(Received { job_to_publish: job, duplicate: false, replayed: true });
        }
        let actor = "liasse-ingest";
        let job = if new_doc {
            let id: i64 = sqlx::query("INSERT INTO jobs (content_hash) VALUES ($1) RETURNING id")
                .bind(r.content_hash)
                .fetch_one(&mut *tx)
                .await?
                .get(0);
            let reason = format!("received by {}", r.channel);
            status_changed(&mut tx, r.content_hash, None, "queued", Some(&reason), actor).await?;
            Some(id)
        } else {
            // Same content again: one document; the receipt says it was a duplicate. A document
            // first seen inside an e-mail now has bytes of its own.
            sqlx::query(
                "UPDATE documents SET receipt_count = receipt_count + 1, updated_at = now(),
                        blob_hash = coalesce(blob_hash, $1)
                 WHERE content_hash = $1",
            )
            .bind(r.content_hash)
            .execute(&mut *tx)
            .await?;
            None
        };
        let action = if new_doc { "received" } else { "received_duplicate" };
        let details = serde_json::json!({"channel": r.channel, "job": job});
        audit(&mut tx, "system", actor, action, r.content_hash, None, &details).await?;
        tx.commit().await?;
        Ok(Received { job_to_publish: job, duplicate: !new_doc, replayed: false })
    }

    /// The job was published (the broker confirmed it).
    pub async fn mark_published(&self, job_id: i64) -> Result<()> {
        sqlx::query("UPDATE jobs SET published_at = now() WHERE id = $1 AND published_at IS NULL")
            .bind(job_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Jobs recorded more than `older_than` ago and never published (a crash between commit and
    /// publish).
    pub async fn unpublished_jobs(&self, older_than: Duration, limit: i64) -> Result<Vec<JobRef>> {
        let rows = sqlx::query(
            "SELECT id, content_hash FROM jobs
             WHERE state = 'queued' AND published_at IS NULL
               AND created_at < now() - make_interval(secs => $1)
             ORDER BY id LIMIT $2",
        )
        .bind(older_than.as_secs_f64())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| JobRef { job_id: r.get(0), content_hash: r.get(1) }).collect())
    }

    /// Start an attempt: count it (before the pipeline runs, so a crash counts too), mark the
    /// document `processing`, and return the bytes, in one statement.
    pub async fn begin_attempt(&self, job_id: i64) -> Result<Attempt> {
        let row = sqlx::query(
            "WITH j AS (
                 UPDATE jobs SET attempts = attempts + 1, state = 'running',
                        started_at = coalesce(started_at, now())
                 WHERE id = $1 AND state IN ('queued', 'running')
                 RETURNING id, attempts, content_hash),
             d AS (
                 UPDATE documents SET status = 'processing', updated_at = now()
                 WHERE content_hash = (SELECT content_hash FROM j) AND status = 'queued'
                 RETURNING content_hash),
             h AS (
                 INSERT INTO status_history (content_hash, from_status, to_status, actor)
                 SELECT content_hash, 'queued', 'processing', $2 FROM d)
             SELECT j.attempts, j.content_hash, doc.source_name, r.source_path, b.bytes
             FROM j JOIN documents doc ON doc.content_hash = j.content_hash
                    JOIN blobs b ON b.content_hash = doc.blob_hash
                    LEFT JOIN LATERAL (SELECT source_path FROM receipts
                                       WHERE content_hash = j.content_hash ORDER BY id LIMIT 1) r ON true",
        )
        .bind(job_id)
        .bind(worker_actor())
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            return Ok(Attempt::Run {
                attempts: row.try_get(0)?,
                content_hash: row.try_get(1)?,
                name: row.try_get(2)?,
                path: row.try_get(3)?,
                bytes: row.try_get(4)?,
            });
        }
        let state: Option<String> = sqlx::query("SELECT state FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.get(0));
        Ok(match state {
            Some(state) => Attempt::Finished { state },
            None => Attempt::NoSuchJob,
        })
    }

    /// Remember why the last attempt failed (best effort; the attempt was already counted).
    pub async fn record_attempt_error(&self, job_id: i64, error: &str) -> Result<()> {
        sqlx::query("UPDATE jobs SET last_error = $2 WHERE id = $1 AND state = 'running'")
            .bind(job_id)
            .bind(clean_text(error))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Give up on a job: it and its document become `failed` with the reason, unless the job
    /// finished meanwhile. Returns whether this call failed it.
    pub async fn fail_job(&self, job_id: i64, reason: &str) -> Result<bool> {
        let reason = clean_text(reason);
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE jobs SET state = 'failed', finished_at = now(), last_error = $2
             WHERE id = $1 AND state IN ('queued', 'running') RETURNING content_hash",
        )
        .bind(job_id)
        .bind(&reason)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(false);
        };
        let hash: String = row.get(0);
        let from: String = sqlx::query("SELECT status FROM documents WHERE content_hash = $1 FOR UPDATE")
            .bind(&hash)
            .fetch_one(&mut *tx)
            .await?
            .get(0);
        sqlx::query(
            "UPDATE documents SET status = 'failed', status_reason = $2, failure_kind = 'internal',
                    updated_at = now() WHERE content_hash = $1",
        )
        .bind(&hash)
        .bind(&reason)
        .execute(&mut *tx)
        .await?;
        let actor = worker_actor();
        status_changed(&mut tx, &hash, Some(from.as_str()), "failed", Some(&reason), &actor).await?;
        let details = serde_json::json!({"job": job_id, "reason": reason});
        audit(&mut tx, "system", &actor, "dead_lettered", &hash, None, &details).await?;
        sqlx::query("SELECT erp_feed_append($1, NULL, 'failed', 'failed')")
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Write every outcome of a job in one transaction, unless the job is already finished.
    ///
    /// `submitted` is the content hash of the job's document. Each outcome is a result of its
    /// own document: the submitted one, or documents found inside it (e-mail attachments),
    /// which are created with `parent_hash` (an attachment already known gets a duplicate
    /// receipt and no new result). When the submitted document is a container (no outcome of
    /// its own), it gets a container result listing what it held.
    pub async fn write_outcomes(
        &self,
        job_id: i64,
        submitted: &str,
        outcomes: &[Outcome],
        duration_ms: i32,
    ) -> Result<Written> {
        self.write_outcomes_checked(
            job_id,
            submitted,
            outcomes,
            duration_ms,
            &history::HistorySeen::default(),
        )
        .await
    }

    /// `write_outcomes`, first checking under a per-supplier lock that no invoice of the
    /// suppliers the history snapshots read was committed since ([`Written::HistoryChanged`]:
    /// nothing written; run the pipeline again). See docs/service.md, "History checks".
    pub async fn write_outcomes_checked(
        &self,
        job_id: i64,
        submitted: &str,
        outcomes: &[Outcome],
        duration_ms: i32,
        seen: &history::HistorySeen,
    ) -> Result<Written> {
        let actor = worker_actor();
        let mut tx = self.pool.begin().await?;
        let state: Option<String> = sqlx::query("SELECT state FROM jobs WHERE id = $1 FOR UPDATE")
            .bind(job_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.get(0));
        if !matches!(state.as_deref(), Some("queued" | "running")) {
            tx.rollback().await?;
            return Ok(Written::AlreadyFinished);
        }
        if history::history_changed(&mut tx, seen).await? {
            tx.rollback().await?;
            return Ok(Written::HistoryChanged);
        }
        let mut results = Vec::new();
        let mut feed = Vec::new();
        for o in outcomes {
            let hash = o.content_hash.as_str();
            if hash != submitted {
                let provenance = serde_json::to_value(&o.source.provenance)?;
                let created = sqlx::query(
                    "INSERT INTO documents (content_hash, status, parent_hash, source_name, provenance)
                     VALUES ($1, 'processing', $2, $3, $4) ON CONFLICT DO NOTHING RETURNING content_hash",
                )
                .bind(hash)
                .bind(submitted)
                .bind(&o.source.name)
                .bind(&provenance)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
                sqlx::query(
                    "INSERT INTO receipts (content_hash, channel, source_name, provenance, duplicate)
                     VALUES ($1, 'email', $2, $3, $4)",
                )
                .bind(hash)
                .bind(&o.source.name)
                .bind(&provenance)
                .bind(!created)
                .execute(&mut *tx)
                .await?;
                if !created {
                    sqlx::query(
                        "UPDATE documents SET receipt_count = receipt_count + 1, updated_at = now()
                         WHERE content_hash = $1",
                    )
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
                    continue;
                }
            }
            let id = insert_result(&mut tx, job_id, o, duration_ms, &actor).await?;
            results.push(id);
            feed.push((hash.to_string(), id, status_str(o.status)));
            // Automatic approval (or review), in this transaction; released after `processed`.
            if let Some(v) = crate::review::verdict(o, &self.review)
                && web::apply_verdict(&mut tx, hash, id, &v, &actor).await?
            {
                feed.push((hash.to_string(), id, "approved"));
            }
        }
        if !outcomes.iter().any(|o| o.content_hash.as_str() == submitted) {
            let held: Vec<&str> = outcomes.iter().map(|o| o.content_hash.as_str()).collect();
            let outcome = serde_json::json!({"container": {"documents": held}});
            let versions = outcomes
                .first()
                .map(|o| serde_json::to_value(&o.versions))
                .transpose()?
                .unwrap_or_else(|| serde_json::json!({"liasse": env!("CARGO_PKG_VERSION")}));
            let id = insert_result_row(
                &mut tx,
                ResultRow {
                    job_id,
                    hash: submitted,
                    status: "processed",
                    failure: None,
                    versions: &versions,
                    outcome: &outcome,
                    page_count: 0,
                    ocr_pages: 0,
                    duration_ms,
                    media_type: Some("message/rfc822"),
                },
                &actor,
            )
            .await?;
            results.push(id);
            feed.push((submitted.to_string(), id, "processed"));
        }
        sqlx::query(
            "UPDATE jobs SET state = 'done', finished_at = now(), result_id = $2, last_error = NULL
             WHERE id = $1",
        )
        .bind(job_id)
        .bind(results.first().copied())
        .execute(&mut *tx)
        .await?;
        // Last: the feed counter's row lock is held until commit.
        for (hash, id, status) in &feed {
            sqlx::query("SELECT erp_feed_append($1, $2, $3, $3)")
                .bind(hash)
                .bind(id)
                .bind(*status)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Written::Now(results))
    }

    /// Number of documents in each status.
    pub async fn status_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, count(*) FROM documents GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Age in seconds of the oldest job not finished (0 when none): the queue lag.
    pub async fn oldest_open_job_secs(&self) -> Result<f64> {
        let row = sqlx::query(
            "SELECT coalesce(extract(epoch FROM now() - min(created_at))::float8, 0)
             FROM jobs WHERE state IN ('queued', 'running')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get(0))
    }
}

fn status_str(s: Status) -> &'static str {
    match s {
        Status::Processed => "processed",
        Status::Failed => "failed",
    }
}

/// PostgreSQL text and jsonb cannot hold NUL.
fn clean_text(s: &str) -> String {
    s.replace('\0', "\u{fffd}")
}

fn outcome_json(o: &Outcome) -> Result<Value> {
    let text = serde_json::to_string(o)?;
    if text.contains("\\u0000") {
        Ok(serde_json::from_str(&text.replace("\\u0000", "\\ufffd"))?)
    } else {
        Ok(serde_json::from_str(&text)?)
    }
}

struct ResultRow<'a> {
    job_id: i64,
    hash: &'a str,
    status: &'static str,
    failure: Option<(&'a str, &'a str)>,
    versions: &'a Value,
    outcome: &'a Value,
    page_count: i32,
    ocr_pages: i32,
    duration_ms: i32,
    media_type: Option<&'a str>,
}

async fn insert_result(
    tx: &mut sqlx::PgTransaction<'_>,
    job_id: i64,
    o: &Outcome,
    duration_ms: i32,
    actor: &str,
) -> Result<i64> {
    let outcome = outcome_json(o)?;
    let versions = serde_json::to_value(&o.versions)?;
    let (pages, ocr_pages) = o.document.as_ref().map(|d| (d.pages.len(), d.ocr_pages())).unwrap_or((0, 0));
    let failure = o.error.as_ref().map(|e| (e.kind.as_str(), e.message.as_str()));
    let id = insert_result_row(
        tx,
        ResultRow {
            job_id,
            hash: o.content_hash.as_str(),
            status: status_str(o.status),
            failure,
            versions: &versions,
            outcome: &outcome,
            page_count: pages as i32,
            ocr_pages: ocr_pages as i32,
            duration_ms,
            media_type: o.document.as_ref().map(|d| d.media_type.as_str()),
        },
        actor,
    )
    .await?;
    if let Some(doc) = &o.document
        && !doc.pages.is_empty()
    {
        let numbers: Vec<i32> = doc.pages.iter().map(|p| p.number as i32).collect();
        let methods: Vec<String> = doc
            .pages
            .iter()
            .map(|p| {
                serde_json::to_value(p.method)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            })
            .collect();
        let texts: Vec<String> = doc.pages.iter().map(|p| clean_text(&p.text)).collect();
        let confidences: Vec<Option<f32>> =
            doc.pages.iter().map(|p| p.ocr.as_ref().map(|o| o.confidence)).collect();
        let words: Vec<i32> = doc.pages.iter().map(|p| p.words.len() as i32).collect();
        sqlx::query(
            "INSERT INTO pages (result_id, number, method, text, ocr_confidence, word_count)
             SELECT $1, * FROM unnest($2::int4[], $3::text[], $4::text[], $5::float4[], $6::int4[])",
        )
        .bind(id)
        .bind(&numbers)
        .bind(&methods)
        .bind(&texts)
        .bind(&confidences)
        .bind(&words)
        .execute(&mut **tx)
        .await?;
    }
    insert_typed_rows(tx, id, o).await?;
    Ok(id)
}

/// The schema's name for how a value was found (`fields.method`), with the XML path when the
/// value was read from an e-invoice.
fn method_name(m: &Method) -> (&'static str, Option<&str>) {
    match m {
        Method::EInvoiceXml { path } => ("xml", Some(path.as_str())),
        Method::Layout { .. } => ("layout_rule", None),
        Method::Pattern { .. } => ("pattern_rule", None),
        Method::Template { .. } => ("template", None),
        Method::Model { .. } => ("model", None),
        Method::Derived { .. } => ("derived", None),
    }
}

/// `name@version` of a model method.
fn method_model(m: &Method) -> Option<String> {
    match m {
        Method::Model { name, version } => Some(format!("{name}@{version}")),
        _ => None,
    }
}

fn as_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// One `fields` row: the API's name, the value as text and as JSON, its evidence.
struct FieldRow<'a> {
    name: String,
    value: String,
    value_json: Value,
    evidence: &'a Evidence,
}

fn field<'a, T: serde::Serialize + ToString>(
    out: &mut Vec<FieldRow<'a>>,
    prefix: &str,
    name: &str,
    g: &'a Option<Grounded<T>>,
) {
    if let Some(g) = g {
        out.push(FieldRow {
            name: format!("{prefix}{name}"),
            value: clean_text(&g.value.to_string()),
            value_json: serde_json::to_value(&g.value).unwrap_or(Value::Null),
            evidence: &g.evidence,
        });
    }
}

/// The fields of one invoice under the names the ERP API reads (`docs/web.md`), then the other
/// values read. `prefix` is empty for a document's first invoice and `invoice<n>.` for the next
/// ones of a split PDF, so that the API's names always describe one invoice.
fn invoice_fields<'a>(inv: &'a ExtractedInvoice, prefix: &str) -> Vec<FieldRow<'a>> {
    let mut f = Vec::new();
    field(&mut f, prefix, "invoice_number", &inv.number);
    field(&mut f, prefix, "issue_date", &inv.issue_date);
    field(&mut f, prefix, "due_date", &inv.due_date);
    field(&mut f, prefix, "currency", &inv.currency);
    field(&mut f, prefix, "seller_name", &inv.supplier.name);
    field(&mut f, prefix, "seller_vat_id", &inv.supplier.vat_id);
    field(&mut f, prefix, "seller_siret", &inv.supplier.siret);
    field(&mut f, prefix, "buyer_name", &inv.customer.name);
    field(&mut f, prefix, "buyer_vat_id", &inv.customer.vat_id);
    field(&mut f, prefix, "buyer_siret", &inv.customer.siret);
    field(&mut f, prefix, "order_reference", &inv.order_number);
    field(&mut f, prefix, "total_net", &inv.net_total);
    field(&mut f, prefix, "total_vat", &inv.vat_total);
    field(&mut f, prefix, "total_gross", &inv.gross_total);
    field(&mut f, prefix, "amount_due", &inv.amount_due);
    // Read too, not (yet) in the API's list.
    field(&mut f, prefix, "seller_siren", &inv.supplier.siren);
    field(&mut f, prefix, "seller_address", &inv.supplier.address);
    field(&mut f, prefix, "seller_country", &inv.supplier.country);
    field(&mut f, prefix, "buyer_siren", &inv.customer.siren);
    field(&mut f, prefix, "buyer_address", &inv.customer.address);
    field(&mut f, prefix, "buyer_country", &inv.customer.country);
    field(&mut f, prefix, "payment_terms", &inv.payment_terms);
    field(&mut f, prefix, "iban", &inv.iban);
    field(&mut f, prefix, "bic", &inv.bic);
    field(&mut f, prefix, "prepaid", &inv.prepaid);
    if let Some(k) = &inv.kind {
        f.push(FieldRow {
            name: format!("{prefix}document_kind"),
            value: if k.value == InvoiceKind::CreditNote { "credit_note" } else { "invoice" }.to_string(),
            value_json: serde_json::to_value(k.value).unwrap_or(Value::Null),
            evidence: &k.evidence,
        });
    }
    f
}

/// The typed rows of an outcome, beside its result row: the document's type and language, the
/// invoice fields, line items and flags, the contract clauses and risk flags.
async fn insert_typed_rows(tx: &mut sqlx::PgTransaction<'_>, result_id: i64, o: &Outcome) -> Result<()> {
    let hash = o.content_hash.as_str();
    if let Some(c) = &o.classification {
        let language = serde_json::to_value(c.language)?;
        sqlx::query("UPDATE documents SET doc_type = $2, language = $3 WHERE content_hash = $1")
            .bind(hash)
            .bind(c.doc_type.as_str())
            .bind(language.as_str())
            .execute(&mut **tx)
            .await?;
    }
    history::insert_history_rows(tx, result_id, o).await?;
    if let Some(analysis) = &o.invoice {
        let mut position = 0i32;
        for (i, a) in analysis.invoices.iter().enumerate() {
            let prefix = if i == 0 { String::new() } else { format!("invoice{}.", i + 1) };
            for f in invoice_fields(&a.extracted, &prefix) {
                let ev = f.evidence;
                let first = ev.locations.first();
                let (method, xml_path) = method_name(&ev.method);
                sqlx::query(
                    "INSERT INTO fields (result_id, content_hash, name, value, value_json, page, span_start,
                                         span_end, bbox, xml_path, method, method_detail, confidence, evidence)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(result_id)
                .bind(hash)
                .bind(&f.name)
                .bind(&f.value)
                .bind(&f.value_json)
                .bind(first.map(|l| l.page as i32))
                .bind(first.map(|l| as_i32(l.span.start)))
                .bind(first.map(|l| as_i32(l.span.end)))
                .bind(first.and_then(|l| l.bbox).map(serde_json::to_value).transpose()?)
                .bind(xml_path.map(clean_text))
                .bind(method)
                .bind(serde_json::to_value(&ev.method)?)
                .bind(ev.confidence)
                .bind(json_clean(serde_json::to_value(ev)?)?)
                .execute(&mut **tx)
                .await?;
            }
            for line in &a.extracted.lines {
                position += 1;
                let dec =
                    |g: &Option<Grounded<rust_decimal::Decimal>>| g.as_ref().map(|g| g.value.to_string());
                let evidence = serde_json::json!({
                    "invoice": i + 1,
                    "page": line.page,
                    "reference": line.reference,
                    "description": line.description.evidence,
                    "quantity": line.quantity.as_ref().map(|g| &g.evidence),
                    "unit": line.unit.as_ref().map(|g| &g.evidence),
                    "unit_price": line.unit_price.as_ref().map(|g| &g.evidence),
                    "vat_rate": line.vat_rate.as_ref().map(|g| &g.evidence),
                    "amount": line.amount.evidence,
                });
                sqlx::query(
                    "INSERT INTO line_items (result_id, position, description, quantity, unit, unit_price,
                                             amount, vat_rate, evidence)
                     VALUES ($1, $2, $3, $4::numeric, $5, $6::numeric, $7::numeric, $8::numeric, $9)",
                )
                .bind(result_id)
                .bind(position)
                .bind(clean_text(&line.description.value))
                .bind(dec(&line.quantity))
                .bind(line.unit.as_ref().map(|g| clean_text(&g.value)))
                .bind(dec(&line.unit_price))
                .bind(line.amount.value.to_string())
                .bind(dec(&line.vat_rate))
                .bind(json_clean(evidence)?)
                .execute(&mut **tx)
                .await?;
            }
            let severity = serde_json::to_value(a.risk.decision)?;
            for flag in &a.flags {
                let evidence = serde_json::json!({"invoice": i + 1, "evidence": flag.evidence});
                insert_flag(
                    tx,
                    result_id,
                    hash,
                    FlagRow {
                        code: &flag.rule,
                        severity: severity.as_str().unwrap_or("review"),
                        score: Some(flag.weight),
                        reasons: serde_json::json!([{"reason": flag.reason, "detail": flag.detail}]),
                        rule_id: Some(&flag.rule),
                        model: None,
                        evidence,
                    },
                )
                .await?;
            }
        }
    }
    if let Some(c) = &o.contract {
        for (i, cr) in c.clauses.iter().enumerate() {
            let cl = &cr.clause;
            // The clause on its first page: from its heading to the end of its body there.
            let end = cl
                .locations
                .iter()
                .filter(|l| l.page == cl.heading_location.page)
                .map(|l| l.span.end)
                .max()
                .unwrap_or(cl.heading_location.span.end)
                .max(cl.heading_location.span.end);
            let category = cr.flags.first().map(|f| f.kind.as_str());
            let rules: Vec<&str> = cr.flags.iter().map(|f| f.rule.as_str()).collect();
            let evidence = serde_json::json!({
                "reference": cl.reference,
                "heading_location": cl.heading_location,
                "locations": cl.locations,
            });
            let labels: Vec<String> =
                cr.classification.iter().flat_map(|k| k.labels.iter().map(|l| l.label.clone())).collect();
            let top = cr.classification.as_ref().and_then(|k| k.labels.first().map(|l| l.score));
            let model = cr.classification.as_ref().map(|k| format!("{}@{}", k.model, k.version));
            sqlx::query(
                "INSERT INTO clauses (result_id, position, number, heading, category, risk, score, page,
                                      span_start, span_end, model, rule_id, evidence, labels)
                 VALUES ($1, $2, $3, $4, $5, $6, $12, $7, $8, $9, $13, $10, $11, $14)",
            )
            .bind(result_id)
            .bind(as_i32(i + 1))
            .bind(clean_text(&cl.number))
            .bind(cl.heading.as_deref().map(clean_text))
            .bind(category)
            .bind(serde_json::to_value(cr.risk)?.as_str().map(str::to_string))
            .bind(cl.heading_location.page as i32)
            .bind(as_i32(cl.heading_location.span.start))
            .bind(as_i32(end))
            .bind((!rules.is_empty()).then(|| rules.join(",")))
            .bind(json_clean(evidence)?)
            .bind(top)
            .bind(model)
            .bind(&labels)
            .execute(&mut **tx)
            .await?;
            for flag in &cr.flags {
                let level = serde_json::to_value(flag.level)?;
                let evidence = serde_json::json!({
                    "clause": i + 1,
                    "clause_number": cl.number,
                    "rules_version": c.rules_version,
                    "evidence": flag.evidence,
                    "model": flag.model,
                });
                insert_flag(
                    tx,
                    result_id,
                    hash,
                    FlagRow {
                        code: &flag.kind,
                        severity: level.as_str().unwrap_or("none"),
                        score: flag.model.as_ref().map(|m| m.score),
                        reasons: serde_json::json!([{"reason": flag.reason}]),
                        rule_id: Some(&flag.rule),
                        model: method_model(&flag.evidence.method)
                            .or_else(|| flag.model.as_ref().map(|m| format!("{}@{}", m.name, m.version))),
                        evidence,
                    },
                )
                .await?;
            }
        }
    }
    Ok(())
}

struct FlagRow<'a> {
    code: &'a str,
    severity: &'a str,
    score: Option<f32>,
    reasons: Value,
    rule_id: Option<&'a str>,
    model: Option<String>,
    evidence: Value,
}

async fn insert_flag(
    tx: &mut sqlx::PgTransaction<'_>,
    result_id: i64,
    hash: &str,
    f: FlagRow<'_>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO flags (result_id, content_hash, code, severity, score, reasons, rule_id, model, evidence)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(result_id)
    .bind(hash)
    .bind(f.code)
    .bind(f.severity)
    .bind(f.score)
    .bind(json_clean(f.reasons)?)
    .bind(f.rule_id)
    .bind(f.model)
    .bind(json_clean(f.evidence)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// jsonb cannot hold NUL: replace it in every string.
fn json_clean(v: Value) -> Result<Value> {
    let text = serde_json::to_string(&v)?;
    if text.contains("\\u0000") {
        Ok(serde_json::from_str(&text.replace("\\u0000", "\\ufffd"))?)
    } else {
        Ok(v)
    }
}

async fn insert_result_row(tx: &mut sqlx::PgTransaction<'_>, r: ResultRow<'_>, actor: &str) -> Result<i64> {
    let ocr_version = r.versions.get("ocr").and_then(Value::as_str);
    let liasse_version =
        r.versions.get("liasse").and_then(Value::as_str).unwrap_or(env!("CARGO_PKG_VERSION"));
    let id: i64 = sqlx::query(
        "INSERT INTO results (content_hash, job_id, version, status, failure_kind, failure_message,
                              liasse_version, ocr_version, versions, outcome, page_count, ocr_pages, duration_ms)
         VALUES ($1, $2, (SELECT coalesce(max(version), 0) + 1 FROM results WHERE content_hash = $1),
                 $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         RETURNING id",
    )
    .bind(r.hash)
    .bind(r.job_id)
    .bind(r.status)
    .bind(r.failure.map(|f| f.0))
    .bind(r.failure.map(|f| clean_text(f.1)))
    .bind(liasse_version)
    .bind(ocr_version)
    .bind(r.versions)
    .bind(r.outcome)
    .bind(r.page_count)
    .bind(r.ocr_pages)
    .bind(r.duration_ms)
    .fetch_one(&mut **tx)
    .await?
    .get(0);
    let from: Option<String> = sqlx::query(
        "UPDATE documents d SET status = $2, status_reason = $3, failure_kind = $4, current_result = $5,
                media_type = coalesce($6, d.media_type), updated_at = now()
         FROM (SELECT status FROM documents WHERE content_hash = $1 FOR UPDATE) old
         WHERE d.content_hash = $1 RETURNING old.status",
    )
    .bind(r.hash)
    .bind(r.status)
    .bind(r.failure.map(|f| clean_text(f.1)))
    .bind(r.failure.map(|f| f.0))
    .bind(id)
    .bind(r.media_type)
    .fetch_optional(&mut **tx)
    .await?
    .map(|row| row.get(0));
    let reason = r.failure.map(|f| clean_text(f.1));
    status_changed(tx, r.hash, from.as_deref(), r.status, reason.as_deref(), actor).await?;
    let details = serde_json::json!({"job": r.job_id, "versions": r.versions});
    audit(tx, "system", actor, r.status, r.hash, Some(id), &details).await?;
    Ok(id)
}

/// One status change of a document, written in the transaction that makes it.
pub(crate) async fn status_changed(
    conn: &mut sqlx::PgConnection,
    hash: &str,
    from: Option<&str>,
    to: &str,
    reason: Option<&str>,
    actor: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO status_history (content_hash, from_status, to_status, reason, actor)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash)
    .bind(from)
    .bind(to)
    .bind(reason)
    .bind(actor)
    .execute(conn)
    .await?;
    Ok(())
}

/// One audit-log entry, written in the transaction of what it records.
pub(crate) async fn audit(
    conn: &mut sqlx::PgConnection,
    actor_kind: &str,
    actor: &str,
    action: &str,
    hash: &str,
    result_id: Option<i64>,
    details: &Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (actor_kind, actor, action, content_hash, result_id, details)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(actor_kind)
    .bind(actor)
    .bind(action)
    .bind(hash)
    .bind(result_id)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}
