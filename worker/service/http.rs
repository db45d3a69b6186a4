//! `/healthz` (the process runs), `/readyz` (database and broker reachable) and `/metrics`.

use super::BrokerHandle;
use super::metrics::{Metrics, Snapshot};
use crate::store::Store;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use std::sync::Arc;

#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub broker: BrokerHandle,
    pub metrics: Arc<Metrics>,
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(app): State<App>) -> (StatusCode, String) {
    let db = app.store.ping().await.is_ok();
    let broker = app.broker.peek().await.is_some();
    let body = format!(
        "database {}\nbroker {}\n",
        if db { "ok" } else { "down" },
        if broker { "ok" } else { "down" }
    );
    (if db && broker { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, body)
}

async fn metrics(State(app): State<App>) -> ([(&'static str, &'static str); 1], String) {
    let mut snap = Snapshot::default();
    if let Ok(s) = app.store.status_counts().await {
        snap.statuses = s;
    }
    snap.oldest_open_job_secs = app.store.oldest_open_job_secs().await.ok();
    if let Some(b) = app.broker.peek().await
        && let Ok(d) = b.depths().await
    {
        snap.queue_documents = Some(d.documents);
        snap.queue_retry = Some(d.retry);
        snap.queue_dead = Some(d.dead);
    }
    ([("content-type", "text/plain; version=0.0.4")], app.metrics.render(&snap))
}

/// Serve until `shutdown` turns true.
pub async fn serve(
    addr: &str,
    app: App,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), super::ServiceError> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "health and metrics");
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(app);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|v| *v).await;
        })
        .await
        .map_err(|e| super::ServiceError::Http(e.to_string()))
}
