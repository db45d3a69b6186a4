//! The service: drop-folder intake (`ingest`, `submit`), workers (`work`) and their health and
//! metrics endpoint. Only `store` knows sqlx and only `queue` knows lapin; this module wires
//! them to the pipeline.

pub mod failpoint;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod work;

use crate::config::ServiceConfig;
use crate::queue::{Broker, Names, QueueError, Topology};
use crate::store::StoreError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("drop folder: {0}")]
    Io(#[from] std::io::Error),
    #[error("watching the drop folder: {0}")]
    Watch(#[from] notify::Error),
    #[error("cannot start the pipeline: {0}")]
    Pipeline(#[from] crate::pipeline::PipelineError),
    #[error("health endpoint: {0}")]
    Http(String),
}

/// The body of a job message: which job, for which document. The bytes are in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job: i64,
    pub content_hash: String,
    /// When the job was published (Unix milliseconds), for the end-to-end latency.
    pub published_ms: i64,
}

impl JobMessage {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
    pub fn from_bytes(b: &[u8]) -> Option<JobMessage> {
        serde_json::from_slice(b).ok()
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn topology(s: &ServiceConfig) -> Topology {
    Topology {
        names: Names::new(&s.queue_prefix),
        delivery_limit: s.delivery_limit,
        retry_delays: s.retry_delays_ms.iter().map(|ms| Duration::from_millis(*ms)).collect(),
    }
}

/// A broker connection made on first use and made again after it broke.
#[derive(Clone)]
pub struct BrokerHandle {
    url: String,
    topology: Topology,
    current: Arc<tokio::sync::Mutex<Option<Arc<Broker>>>>,
}

impl BrokerHandle {
    pub fn new(s: &ServiceConfig) -> BrokerHandle {
        BrokerHandle { url: s.amqp_url.clone(), topology: topology(s), current: Default::default() }
    }

    /// The connected broker, connecting (and declaring the topology) if needed.
    pub async fn get(&self) -> Result<Arc<Broker>, QueueError> {
        let mut cur = self.current.lock().await;
        if let Some(b) = cur.as_ref()
            && b.is_connected()
        {
            return Ok(b.clone());
        }
        let b = Arc::new(Broker::connect(&self.url, self.topology.clone()).await?);
        *cur = Some(b.clone());
        Ok(b)
    }

    /// The broker if connected now, without connecting.
    pub async fn peek(&self) -> Option<Arc<Broker>> {
        self.current.lock().await.as_ref().filter(|b| b.is_connected()).cloned()
    }

    /// Forget the connection (after an error); the next `get` connects again.
    pub async fn reset(&self) {
        if let Some(b) = self.current.lock().await.take() {
            b.close().await;
        }
    }

    pub async fn close(&self) {
        self.reset().await;
    }
}

/// A `watch` channel that turns true on SIGTERM or Ctrl-C.
pub fn shutdown_signal() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    rx
}
