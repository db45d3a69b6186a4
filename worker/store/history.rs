//! The invoice history of the service: [`PgHistory`], a [`HistoryStore`] over the
//! `invoice_history` rows (migrations/0300_history.sql) that `write_outcomes` writes with every
//! result (docs/service.md, "History checks").
//!
//! - `snapshot(supplier, content_hash)`: the invoices of that supplier key from the current
//!   results of documents that are `processed`, `review` or `approved` (not `failed`, `blocked`
//!   or `rejected`: a rejected or blocked invoice's bank details must not become "the known
//!   ones"), written within `invoice.lookback_days` of now, EXCEPT those of the document being
//!   processed (`content_hash`): a redelivered job or a reprocessing does not see itself.
//! - `record`: kept in memory for the rest of this job only (two invoices of one e-mail see each
//!   other); the rows themselves are written with the result, in its transaction, so that what
//!   the history holds is exactly what was committed.
//!
//! The trait is synchronous and the pipeline runs on a blocking thread: the query runs with
//! `Handle::block_on` on the store's pool, under a timeout. A failure gives an empty snapshot
//! and is kept: [`PgHistory::failure`] says it, and the worker then retries the delivery rather
//! than commit a result whose history checks did not run.
//!
//! Two workers, one supplier: [`PgHistory::seen`] lists the rows the snapshots returned;
//! `Store::write_outcomes_checked` locks each supplier key (transaction-level advisory lock) and
//! reads the history again; a row not seen means another commit came in between, and nothing is
//! written (`Written::HistoryChanged`): the worker runs the checks again.

use super::{Result, Store, StoreError};
use crate::invoice::{History, HistoryStore, MemoryHistory, PastInvoice};
use crate::pipeline::Outcome;
use rust_decimal::Decimal;
use sqlx::Row as _;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

/// The history of the service for one job.
pub struct PgHistory {
    store: Store,
    runtime: tokio::runtime::Handle,
    lookback_days: i64,
    timeout: Duration,
    /// What this job recorded so far (not yet committed).
    recorded: MemoryHistory,
    /// The first failure to read the history.
    failure: Mutex<Option<String>>,
    /// The rows every snapshot saw, to check at commit that none was added meanwhile.
    seen: Mutex<HistorySeen>,
}

/// The `invoice_history` rows the snapshots of one job saw: per (supplier key, document excluded),
/// the row ids. `Store::write_outcomes_checked` reads them again under a per-supplier lock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistorySeen {
    pub lookback_days: i64,
    pub rows: BTreeMap<(String, String), BTreeSet<i64>>,
}

impl PgHistory {
    /// A history reading `store` through `runtime` (take it with `Handle::current()` before
    /// moving into `spawn_blocking`), within `lookback_days`, each query under `timeout`.
    pub fn new(
        store: Store,
        runtime: tokio::runtime::Handle,
        lookback_days: i64,
        timeout: Duration,
    ) -> PgHistory {
        PgHistory {
            store,
            runtime,
            lookback_days,
            timeout,
            recorded: MemoryHistory::default(),
            failure: Mutex::new(None),
            seen: Mutex::new(HistorySeen { lookback_days, rows: BTreeMap::new() }),
        }
    }

    /// Why reading the history failed, if it did: the checks of this job saw an empty history.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().map(|f| f.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// What the snapshots saw (for `Store::write_outcomes_checked`).
    pub fn seen(&self) -> HistorySeen {
        self.seen.lock().map(|s| s.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    fn fail(&self, why: String) {
        let mut f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        f.get_or_insert(why);
    }
}

impl HistoryStore for PgHistory {
    fn snapshot(&self, supplier: Option<&str>, content_hash: &str) -> History {
        let mut history = self.recorded.snapshot(supplier, content_hash);
        let Some(supplier) = supplier else { return history };
        let query = query_history(&self.store.pool, supplier, content_hash, self.lookback_days);
        match self.runtime.block_on(async { tokio::time::timeout(self.timeout, query).await }) {
            Ok(Ok(rows)) => {
                let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                let ids = seen.rows.entry((supplier.to_string(), content_hash.to_string())).or_default();
                ids.extend(rows.iter().map(|r| r.0));
                let mut earlier: Vec<PastInvoice> = rows.into_iter().map(|r| r.1).collect();
                earlier.append(&mut history.invoices);
                history.invoices = earlier;
            }
            Ok(Err(e)) => self.fail(format!("reading the invoice history: {e}")),
            Err(_) => self.fail(format!("reading the invoice history took longer than {:?}", self.timeout)),
        }
        history
    }

    fn record(&mut self, past: PastInvoice) {
        self.recorded.record(past);
    }
}

fn decimal(s: &str) -> Option<Decimal> {
    Decimal::from_str(s).ok()
}

impl Store {
    /// The earlier invoices of `supplier` (see the module documentation), oldest first.
    pub async fn history_of(
        &self,
        supplier: &str,
        except: &str,
        lookback_days: i64,
    ) -> Result<Vec<PastInvoice>> {
        Ok(query_history(&self.pool, supplier, except, lookback_days)
            .await?
            .into_iter()
            .map(|r| r.1)
            .collect())
    }
}

/// The history query: (row id, invoice) of `supplier`, without the document `except`.
async fn query_history<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    supplier: &str,
    except: &str,
    lookback_days: i64,
) -> Result<Vec<(i64, PastInvoice)>> {
    let rows = sqlx::query(
        "SELECT h.content_hash, h.number, h.issue_date, h.gross_total::text, h.iban, h.line_amounts, h.id
         FROM invoice_history h
         JOIN documents d ON d.content_hash = h.content_hash AND d.current_result = h.result_id
         WHERE h.supplier_key = $1 AND h.content_hash <> $2
           AND h.created_at >= now() - make_interval(days => $3)
           AND d.status IN ('processed', 'review', 'approved')
         ORDER BY h.id",
    )
    .bind(supplier)
    .bind(except)
    .bind(i32::try_from(lookback_days.max(0)).unwrap_or(i32::MAX))
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let gross: Option<String> = r.get(3);
            let lines: Vec<String> = r.get(5);
            let past = PastInvoice {
                content_hash: r.get(0),
                supplier: supplier.to_string(),
                number: r.get(1),
                issue_date: r.get(2),
                gross_total: gross.as_deref().and_then(decimal),
                iban: r.get(4),
                line_amounts: lines.iter().filter_map(|l| decimal(l)).collect(),
            };
            (r.get(6), past)
        })
        .collect())
}

/// Under a transaction-level advisory lock per supplier key (taken in key order, held until the
/// commit), whether a row the snapshots did not see is there now: another worker committed an
/// invoice of the same supplier meanwhile.
pub(super) async fn history_changed(tx: &mut sqlx::PgTransaction<'_>, seen: &HistorySeen) -> Result<bool> {
    let keys: BTreeSet<&str> = seen.rows.keys().map(|(k, _)| k.as_str()).collect();
    for key in keys {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 20261125))")
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    for ((key, except), ids) in &seen.rows {
        let now = query_history(&mut **tx, key, except, seen.lookback_days).await?;
        if now.iter().any(|(id, _)| !ids.contains(id)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The `invoice_history` rows of one result, in its transaction.
pub(super) async fn insert_history_rows(
    tx: &mut sqlx::PgTransaction<'_>,
    result_id: i64,
    o: &Outcome,
) -> std::result::Result<(), StoreError> {
    let (Some(analysis), Some(doc)) = (&o.invoice, &o.document) else { return Ok(()) };
    for (i, a) in analysis.invoices.iter().enumerate() {
        let Some(past) = crate::invoice::history::past_of(doc, &a.extracted) else { continue };
        let lines: Vec<String> = past.line_amounts.iter().map(Decimal::to_string).collect();
        sqlx::query(
            "INSERT INTO invoice_history (result_id, content_hash, part, supplier_key, number, issue_date,
                                          gross_total, iban, line_amounts)
             VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9)",
        )
        .bind(result_id)
        .bind(o.content_hash.as_str())
        .bind(i as i32 + 1)
        .bind(&past.supplier)
        .bind(past.number.as_deref().map(super::clean_text))
        .bind(past.issue_date)
        .bind(past.gross_total.map(|g| g.to_string()))
        .bind(past.iban.as_deref().map(super::clean_text))
        .bind(&lines)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
