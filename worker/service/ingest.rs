//! Taking files: `liasse submit FILE…` and `liasse ingest --watch DIR`.
//!
//! A file is taken in this order: read, record in one transaction (blob, document `queued` and a
//! job, or a duplicate receipt), publish the job and wait for the broker's confirm, then (drop
//! folder) move the file to `processed/`. A crash anywhere leaves the file where it was: taking it
//! again finds its receipt (same path, size, mtime and content) and only publishes the job if that
//! had not happened. A job committed but never published is also published again by the workers
//! after `service.republish_after_secs`. A file that cannot be taken (unreadable, empty, too
//! large) goes to `rejected/` with a `.error.txt` beside it.

use super::{BrokerHandle, JobMessage, ServiceError, now_ms};
use crate::config::Config;
use crate::document::ContentHash;
use crate::store::{Receipt, Store};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// A new document, queued.
    Queued { content_hash: String },
    /// Known content: a duplicate receipt.
    Duplicate { content_hash: String },
    /// The same file was taken before (after a crash): nothing new.
    Replayed { content_hash: String },
    /// Not taken, for this reason (moved to `rejected/`).
    Rejected { reason: String },
}

pub struct Ingest {
    pub store: Store,
    pub broker: BrokerHandle,
    pub max_file_bytes: u64,
}

impl Ingest {
    pub fn new(config: &Config) -> Result<Ingest, ServiceError> {
        let s = &config.service;
        Ok(Ingest {
            store: Store::connect_lazy(&s.database_url, s.database_max_connections.min(4))?,
            broker: BrokerHandle::new(s),
            max_file_bytes: config.limits.max_file_bytes,
        })
    }

    /// Take one file. `Err` is a transient failure (database or broker): the file stays and is
    /// taken again later.
    pub async fn take(&self, path: &Path, channel: &str, keyed: bool) -> Result<Taken, ServiceError> {
        let meta = match tokio::fs::metadata(path).await {
            Ok(m) => m,
            Err(e) => return Ok(Taken::Rejected { reason: format!("cannot read the file: {e}") }),
        };
        if meta.len() > self.max_file_bytes {
            return Ok(Taken::Rejected {
                reason: format!("too large: {} bytes, the limit is {}", meta.len(), self.max_file_bytes),
            });
        }
        let bytes = match tokio::fs::read(path).await {
            Ok(b) => b,
            Err(e) => return Ok(Taken::Rejected { reason: format!("cannot read the file: {e}") }),
        };
        if bytes.is_empty() {
            return Ok(Taken::Rejected { reason: "empty file".into() });
        }
        let hash = ContentHash::of(&bytes).0;
        let name = safe_name(path);
        let path_text = path.display().to_string();
        let key = keyed.then(|| {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("{channel}:{path_text}:{}:{mtime}:{hash}", meta.len())
        });
        let received = self
            .store
            .receive(&Receipt {
                bytes: &bytes,
                content_hash: &hash,
                name: &name,
                path: Some(&path_text),
                channel,
                receipt_key: key.as_deref(),
            })
            .await?;
        if let Some(job) = received.job_to_publish {
            let msg = JobMessage { job, content_hash: hash.clone(), published_ms: now_ms() };
            let broker = self.broker.get().await?;
            if let Err(e) = broker.publish_job(&msg.to_bytes()).await {
                self.broker.reset().await;
                return Err(e.into());
            }
            // Best effort: a job left unmarked is published again later, which is harmless.
            if let Err(e) = self.store.mark_published(job).await {
                tracing::warn!(job, error = %e, "cannot mark the job published");
            }
        }
        Ok(if received.replayed {
            Taken::Replayed { content_hash: hash }
        } else if received.duplicate {
            Taken::Duplicate { content_hash: hash }
        } else {
            Taken::Queued { content_hash: hash }
        })
    }

    pub async fn close(&self) {
        self.broker.close().await;
        self.store.close().await;
    }
}

/// The file name for display: the last component, control characters removed.
fn safe_name(path: &Path) -> String {
    let n = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n: String = n.chars().filter(|c| !c.is_control()).collect();
    if n.is_empty() { "unnamed".into() } else { n }
}

/// Move `file` into `dir`, keeping its name unless that is taken.
fn move_into(file: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    let name = file.file_name().unwrap_or_default();
    let mut dest = dir.join(name);
    if dest.exists() {
        let stamp =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        dest = dir.join(format!("{}.{stamp}", name.to_string_lossy()));
    }
    std::fs::rename(file, &dest)?;
    Ok(dest)
}

/// Files the drop folder holds now (top level, not hidden).
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            let hidden = e.file_name().to_string_lossy().starts_with('.');
            if !hidden && e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn stamp(p: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// Counts of what a watch did, printed at the end.
#[derive(Debug, Default, Clone)]
pub struct WatchSummary {
    pub queued: usize,
    pub duplicates: usize,
    pub rejected: usize,
}

/// Watch a drop folder: files already there and every new file, once its size and mtime stayed
/// the same for `settle`. With `once`, stop when the folder is empty of settled files.
pub async fn watch(
    ingest: &Ingest,
    dir: &Path,
    settle: Duration,
    once: bool,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<WatchSummary, ServiceError> {
    let processed = dir.join("processed");
    let rejected = dir.join("rejected");
    std::fs::create_dir_all(&processed)?;
    std::fs::create_dir_all(&rejected)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = {
        use notify::Watcher as _;
        let tx = tx.clone();
        let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            if let Ok(ev) = ev {
                for p in ev.paths {
                    let _ = tx.send(p);
                }
            }
        })?;
        w.watch(dir, notify::RecursiveMode::NonRecursive)?;
        w
    };
    // Path → (size, mtime, since when unchanged).
    let mut pending: HashMap<PathBuf, (Option<(u64, SystemTime)>, Instant)> = HashMap::new();
    let now = Instant::now();
    for p in listing(dir) {
        pending.insert(p, (None, now));
    }
    let tick = (settle / 4).clamp(Duration::from_millis(20), Duration::from_millis(500));
    let mut rescan = Instant::now();
    let mut summary = WatchSummary::default();
    let mut backoff = Duration::from_millis(200);
    loop {
        if *shutdown.borrow() {
            break;
        }
        // Collect events without blocking.
        while let Ok(p) = rx.try_recv() {
            if p.parent() == Some(dir)
                && p.is_file()
                && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                pending.entry(p).or_insert((None, Instant::now()));
            }
        }
        // A safety net for missed events.
        if rescan.elapsed() > Duration::from_secs(5) {
            for p in listing(dir) {
                pending.entry(p).or_insert((None, Instant::now()));
            }
            rescan = Instant::now();
        }
        let mut ready = Vec::new();
        pending.retain(|p, (last, since)| {
            let Some(now) = stamp(p) else { return false };
            if Some(now) != *last {
                *last = Some(now);
                *since = Instant::now();
                true
            } else if since.elapsed() >= settle {
                ready.push(p.clone());
                false
            } else {
                true
            }
        });
        ready.sort();
        let mut failed = false;
        for p in ready {
            match ingest.take(&p, "drop_folder", true).await {
                Ok(Taken::Rejected { reason }) => {
                    summary.rejected += 1;
                    tracing::warn!(file = %p.display(), %reason, "rejected");
                    if let Ok(dest) = move_into(&p, &rejected) {
                        let note = PathBuf::from(format!("{}.error.txt", dest.display()));
                        let _ = std::fs::write(note, format!("{reason}\n"));
                    }
                }
                Ok(t) => {
                    match t {
                        Taken::Queued { .. } => summary.queued += 1,
                        Taken::Duplicate { .. } => summary.duplicates += 1,
                        _ => {}
                    }
                    if let Err(e) = move_into(&p, &processed) {
                        tracing::warn!(file = %p.display(), error = %e, "cannot move to processed/");
                    }
                }
                Err(e) => {
                    // Database or broker unavailable: keep the file and try again.
                    tracing::warn!(file = %p.display(), error = %e, "cannot take the file now; will retry");
                    pending.insert(p, (None, Instant::now()));
                    failed = true;
                }
            }
        }
        if failed {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
            continue;
        }
        backoff = Duration::from_millis(200);
        if once && pending.is_empty() && listing(dir).is_empty() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => {}
        }
    }
    use notify::Watcher as _;
    let _ = watcher.unwatch(dir);
    Ok(summary)
}
