//! `liasse work`: consume jobs, run the pipeline, write the results, acknowledge.
//!
//! One delivery: count the attempt and fetch the bytes (one statement), run the pipeline (with
//! the invoice history read from this database, `store::history::PgHistory`) on a
//! blocking thread under a time budget, write every result in one transaction (which first
//! checks that the job is not already finished), and only then acknowledge. The decision:
//! - **Ack**: written, or already finished (a redelivery).
//! - **Retry**: the database or the broker failed, or the pipeline panicked or ran out of time
//!   with attempts left: the job goes to a retry queue (growing delay), then the delivery is
//!   acked.
//! - **DeadLetter**: attempts used up (the job and its document become `failed` with the
//!   reason first), or a message that is not a job: rejected into the dead-letter exchange.
//!
//! A crash before the ack means the broker delivers the job again; the attempt was counted, so a
//! document that crashes the worker every time ends `failed` too (and the broker's
//! `x-delivery-limit` is a backstop when even the count cannot be written).

use super::metrics::Metrics;
use super::{BrokerHandle, JobMessage, ServiceError, failpoint, now_ms};
use crate::config::Config;
use crate::intake::Input;
use crate::pipeline::{Engine, process_with_history};
use crate::queue::Message;
use crate::store::history::{HistorySeen, PgHistory};
use crate::store::{Attempt, Store, Written};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// The longest one query of the invoice history may take.
const HISTORY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many times one attempt runs the pipeline again when another worker committed an invoice
/// of the same supplier between its history snapshot and its commit.
const HISTORY_RERUNS: u32 = 5;

/// What to do with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Ack,
    Retry(String),
    DeadLetter(String),
}

/// The longest a close or cancel step of the shutdown may take.
const CLOSE_STEP: Duration = Duration::from_secs(5);

pub struct Worker {
    pub config: Config,
    pub engine: Arc<Engine>,
    pub store: Store,
    pub broker: BrokerHandle,
    pub metrics: Arc<Metrics>,
}

impl Worker {
    pub fn new(config: &Config) -> Result<Worker, ServiceError> {
        let s = &config.service;
        if !s.http_addr.is_empty() {
            super::http::check_exposure(&s.http_addr, s.metrics_token.as_deref())?;
        }
        Ok(Worker {
            config: config.clone(),
            engine: Arc::new(Engine::new(config)?),
            store: Store::connect_lazy(&s.database_url, s.database_max_connections)?
                .with_review(config.review.clone()),
            broker: BrokerHandle::new(s),
            metrics: Arc::new(Metrics::default()),
        })
    }

    fn concurrency(&self) -> usize {
        match self.config.service.concurrency {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        }
    }

    /// Consume until `shutdown`; reconnect to the broker whenever the connection breaks.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) -> Result<(), ServiceError> {
        let s = &self.config.service;
        if s.migrate_on_start {
            let mut wait = Duration::from_millis(200);
            loop {
                match self.store.migrate().await {
                    Ok(()) => break,
                    Err(e) if e.is_unavailable() && !*shutdown.borrow() => {
                        tracing::warn!(error = %e, "database unavailable; waiting to migrate");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(5));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let mut background = JoinSet::new();
        if !s.http_addr.is_empty() {
            let app = super::http::App {
                store: self.store.clone(),
                broker: self.broker.clone(),
                metrics: self.metrics.clone(),
                metrics_token: s.metrics_token.as_deref().filter(|t| !t.is_empty()).map(Into::into),
            };
            let addr = s.http_addr.clone();
            let sd = shutdown.clone();
            background.spawn(async move {
                if let Err(e) = super::http::serve(&addr, app, sd).await {
                    tracing::error!(error = %e, "health endpoint stopped");
                }
            });
        }
        background.spawn(self.clone().republisher(shutdown.clone()));

        let concurrency = self.concurrency();
        let mut backoff = Duration::from_millis(200);
        let tag = format!("liasse-worker-{}", std::process::id());
        while !*shutdown.borrow() {
            let broker = match self.broker.get().await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "broker unavailable; retrying");
                    let mut sd = shutdown.clone();
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = sd.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            let consumers = async {
                let jobs = broker.consume_jobs(s.prefetch, &tag).await?;
                let dead = broker.consume_dead_events(4, &format!("{tag}-dead")).await?;
                Ok::<_, crate::queue::QueueError>((jobs, dead))
            };
            let (mut jobs, dead) = match consumers.await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot consume; reconnecting");
                    self.broker.reset().await;
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
            backoff = Duration::from_millis(200);
            tracing::info!(concurrency, prefetch = s.prefetch, "consuming");
            let dead_task = tokio::spawn(self.clone().dead_events(dead));
            let permits = Arc::new(Semaphore::new(concurrency));
            let mut inflight = JoinSet::new();
            let mut sd = shutdown.clone();
            loop {
                // A permit first: deliveries beyond the concurrency stay unacknowledged in the
                // prefetch buffer and go back to the queue if the worker stops.
                let permit = tokio::select! {
                    p = permits.clone().acquire_owned() => p.expect("never closed"),
                    _ = sd.wait_for(|v| *v) => break,
                };
                let next = tokio::select! {
                    n = jobs.next() => n,
                    _ = sd.wait_for(|v| *v) => break,
                };
                match next {
                    Some(Ok(msg)) => {
                        let me = self.clone();
                        let broker = broker.clone();
                        inflight.spawn(async move {
                            me.handle(&broker, msg).await;
                            drop(permit);
                        });
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "consumer failed; reconnecting");
                        break;
                    }
                    None => break,
                }
                while inflight.try_join_next().is_some() {}
            }
            // Stop receiving, finish what is in flight (their acks go out on this channel). On
            // shutdown within the grace period: a job still running after it is stopped before
            // its ack (its transaction rolls back), so the broker delivers it again.
            let _ = tokio::time::timeout(CLOSE_STEP, jobs.cancel()).await;
            let drain = async { while inflight.join_next().await.is_some() {} };
            if *shutdown.borrow() {
                let grace = Duration::from_secs(s.shutdown_grace_secs);
                if tokio::time::timeout(grace, drain).await.is_err() {
                    tracing::warn!(
                        left = inflight.len(),
                        "shutdown grace period over: the jobs in flight are stopped unacknowledged and will be delivered again"
                    );
                    inflight.abort_all();
                    while inflight.join_next().await.is_some() {}
                }
            } else {
                drain.await;
            }
            dead_task.abort();
            let _ = tokio::time::timeout(CLOSE_STEP, jobs.close()).await;
            if *shutdown.borrow() {
                break;
            }
            self.broker.reset().await;
            tokio::time::sleep(backoff).await;
        }
        // Bounded: a connection that does not answer does not keep the worker from exiting.
        let _ = tokio::time::timeout(CLOSE_STEP, self.broker.close()).await;
        background.abort_all();
        let _ = tokio::time::timeout(CLOSE_STEP, self.store.close()).await;
        Ok(())
    }

    /// Decide and act on one delivery.
    async fn handle(&self, broker: &crate::queue::Broker, msg: Message) {
        let decision = match JobMessage::from_bytes(&msg.body) {
            Some(job) => self.decide(&job, msg.retries).await,
            None => Decision::DeadLetter("not a job message".into()),
        };
        let result = match &decision {
            Decision::Ack => msg.ack().await,
            Decision::Retry(why) => {
                Metrics::inc(&self.metrics.retries, 1);
                tracing::info!(reason = %why, retries = msg.retries, "retrying the job later");
                match broker.publish_retry(&msg.body, msg.retries).await {
                    Ok(_) => msg.ack().await,
                    // The broker is unwell: give the delivery back (or it comes back by itself
                    // when the channel closes).
                    Err(_) => msg.requeue().await,
                }
            }
            Decision::DeadLetter(why) => {
                Metrics::inc(&self.metrics.dead_lettered, 1);
                tracing::warn!(reason = %why, "dead-lettering the job");
                msg.dead_letter().await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot acknowledge; the broker will deliver again");
        }
    }

    async fn decide(&self, job: &JobMessage, _retries: u32) -> Decision {
        let s = &self.config.service;
        let t0 = Instant::now();
        let attempt = match self.store.begin_attempt(job.job).await {
            Ok(a) => a,
            Err(e) => return Decision::Retry(format!("database: {e}")),
        };
        self.metrics.stage_fetch.observe(t0.elapsed().as_secs_f64());
        let (attempts, content_hash, name, path, bytes) = match attempt {
            Attempt::NoSuchJob => return Decision::DeadLetter(format!("job {} does not exist", job.job)),
            Attempt::Finished { .. } => {
                Metrics::inc(&self.metrics.redeliveries_skipped, 1);
                return Decision::Ack;
            }
            Attempt::Run { attempts, content_hash, name, path, bytes } => {
                (attempts, content_hash, name, path, bytes)
            }
        };
        if attempts as u32 > s.max_attempts {
            let reason = format!("gave up after {} attempts", s.max_attempts);
            return self.give_up(job.job, &reason).await;
        }
        let mut reruns = 0;
        loop {
            let t1 = Instant::now();
            let (outcomes, seen) = match self.run_pipeline(bytes.clone(), &name, path.clone()).await {
                Ok(run) => run,
                Err(why) => {
                    let _ = self.store.record_attempt_error(job.job, &why).await;
                    if attempts as u32 >= s.max_attempts {
                        return self.give_up(job.job, &format!("{why} ({attempts} attempts)")).await;
                    }
                    return Decision::Retry(why);
                }
            };
            let pipeline_secs = t1.elapsed().as_secs_f64();
            self.metrics.stage_pipeline.observe(pipeline_secs);
            let t2 = Instant::now();
            let duration_ms = (pipeline_secs * 1000.0) as i32;
            let written = self
                .store
                .write_outcomes_checked(job.job, &content_hash, &outcomes, duration_ms, &seen)
                .await;
            return match written {
                Ok(Written::Now(ids)) => {
                    self.metrics.stage_store.observe(t2.elapsed().as_secs_f64());
                    Metrics::inc(&self.metrics.results_written, ids.len() as u64);
                    for o in &outcomes {
                        if let Some(d) = &o.document {
                            Metrics::inc(&self.metrics.pages, d.pages.len() as u64);
                            Metrics::inc(&self.metrics.ocr_pages, d.ocr_pages() as u64);
                        }
                    }
                    self.metrics.end_to_end.observe(((now_ms() - job.published_ms).max(0) as f64) / 1000.0);
                    Decision::Ack
                }
                // Another worker committed an invoice of the same supplier meanwhile: run the
                // checks again against it (same attempt), a few times, then later.
                Ok(Written::HistoryChanged) if reruns < HISTORY_RERUNS => {
                    reruns += 1;
                    tracing::info!(job = job.job, reruns, "the supplier's history changed; checking again");
                    continue;
                }
                Ok(Written::HistoryChanged) => {
                    Decision::Retry("the supplier's invoice history kept changing".to_string())
                }
                Ok(Written::AlreadyFinished) => {
                    Metrics::inc(&self.metrics.redeliveries_skipped, 1);
                    Decision::Ack
                }
                Err(e) => {
                    let why = format!("writing the results: {e}");
                    if !e.is_unavailable() {
                        let _ = self.store.record_attempt_error(job.job, &why).await;
                        if attempts as u32 >= s.max_attempts {
                            return self.give_up(job.job, &why).await;
                        }
                    }
                    Decision::Retry(why)
                }
            };
        }
    }

    /// The pipeline on a blocking thread under the attempt's time budget, with the invoice
    /// history read from this database; what the history snapshots saw comes back with the
    /// outcomes. An error says why nothing may be committed (panic, timeout, history unreadable).
    async fn run_pipeline(
        &self,
        bytes: Vec<u8>,
        name: &str,
        path: Option<String>,
    ) -> Result<(Vec<crate::pipeline::Outcome>, HistorySeen), String> {
        let engine = self.engine.clone();
        let name = name.to_string();
        // The history checks read this database (docs/service.md, "History checks").
        let mut history = PgHistory::new(
            self.store.clone(),
            tokio::runtime::Handle::current(),
            self.config.invoice.lookback_days,
            HISTORY_TIMEOUT,
        );
        let run = tokio::task::spawn_blocking(move || {
            failpoint::check(&bytes);
            let outcomes = process_with_history(&engine, Input::file(bytes, &name, path), &mut history);
            (outcomes, history.failure(), history.seen())
        });
        let budget = Duration::from_secs(self.config.service.attempt_timeout_secs.max(1));
        let why = match tokio::time::timeout(budget, run).await {
            // The history could not be read: its checks did not run; never commit that.
            Ok(Ok((_, Some(why), _))) => return Err(why),
            Ok(Ok((outcomes, None, seen))) => return Ok((outcomes, seen)),
            Ok(Err(e)) if e.is_panic() => "the pipeline panicked".to_string(),
            Ok(Err(e)) => format!("the pipeline task failed: {e}"),
            Err(_) => format!("the pipeline ran longer than {} s", budget.as_secs()),
        };
        Metrics::inc(&self.metrics.pipeline_failures, 1);
        Err(why)
    }

    /// Mark the job and its document failed, then dead-letter; if even that cannot be written,
    /// retry later.
    async fn give_up(&self, job: i64, reason: &str) -> Decision {
        match self.store.fail_job(job, reason).await {
            Ok(_) => Decision::DeadLetter(reason.to_string()),
            Err(e) => Decision::Retry(format!("cannot record the failure: {e}")),
        }
    }

    /// Messages the broker dead-lettered (delivery limit) or that a worker rejected: make sure
    /// the job and its document are `failed`, then acknowledge (the copy in `<p>.dead` stays).
    async fn dead_events(self: Arc<Self>, mut deliveries: crate::queue::Deliveries) {
        while let Some(Ok(msg)) = deliveries.next().await {
            let result = match JobMessage::from_bytes(&msg.body) {
                None => msg.ack().await,
                Some(job) => {
                    let reason = format!(
                        "dead-lettered ({})",
                        msg.death_reason.as_deref().unwrap_or("unknown reason")
                    );
                    match self.store.fail_job(job.job, &reason).await {
                        Ok(_) => msg.ack().await,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot record a dead-lettered job; later");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            msg.requeue().await
                        }
                    }
                }
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "dead-letter events: cannot acknowledge");
            }
        }
    }

    /// Publish again the jobs committed but never published (a crash between the two).
    async fn republisher(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let after = Duration::from_secs(self.config.service.republish_after_secs);
        let every = (after / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.wait_for(|v| *v) => return,
            }
            let Ok(jobs) = self.store.unpublished_jobs(after, 500).await else { continue };
            if jobs.is_empty() {
                continue;
            }
            let Ok(broker) = self.broker.get().await else { continue };
            for j in jobs {
                let msg = JobMessage { job: j.job_id, content_hash: j.content_hash, published_ms: now_ms() };
                if broker.publish_job(&msg.to_bytes()).await.is_err() {
                    break;
                }
                tracing::info!(job = j.job_id, "published a job that had not been");
                let _ = self.store.mark_published(j.job_id).await;
            }
        }
    }
}
