//! `/healthz` (the process runs), `/readyz` (database and broker reachable) and `/metrics`.
//! Health needs no authentication; `/metrics` needs `Authorization: Bearer <service.metrics_token>`
//! when a token is set, and a token must be set when the address is not a loopback one
//! ([`check_exposure`], at worker start).

use super::BrokerHandle;
use super::metrics::{Metrics, Snapshot};
use crate::store::Store;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub broker: BrokerHandle,
    pub metrics: Arc<Metrics>,
    /// The bearer token `/metrics` requires (`service.metrics_token`), when set.
    pub metrics_token: Option<Arc<str>>,
}

/// Refuses a health/metrics address reachable from other machines without a metrics token
/// (at least 16 characters): health is public, the metrics (queue depths, document counts) are
/// not.
pub fn check_exposure(addr: &str, token: Option<&str>) -> Result<(), super::ServiceError> {
    let token = token.filter(|t| !t.is_empty());
    if token.is_some_and(|t| t.chars().count() < 16) {
        return Err(super::ServiceError::Http(
            "service.metrics_token must have at least 16 characters".into(),
        ));
    }
    let loopback = match addr.parse::<std::net::SocketAddr>() {
        Ok(a) => a.ip().is_loopback(),
        Err(_) => addr.strip_suffix(|c: char| c.is_ascii_digit()).is_some() && addr.starts_with("localhost:"),
    };
    if !loopback && token.is_none() {
        return Err(super::ServiceError::Http(format!(
            "service.http_addr {addr:?} is not a loopback address: set service.metrics_token \
             (LIASSE_SERVICE__METRICS_TOKEN) so that /metrics requires it"
        )));
    }
    Ok(())
}

fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let Some(want) = &app.metrics_token else { return true };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|got| crate::web::auth::same(got.trim(), want))
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

async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    if !authorized(&app, &headers) {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "unauthorized\n")
            .into_response();
    }
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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render(&snap)).into_response()
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

#[cfg(test)]
mod tests {
    use super::check_exposure;

    #[test]
    fn exposed_addresses_need_a_metrics_token() {
        assert!(check_exposure("127.0.0.1:9187", None).is_ok());
        assert!(check_exposure("[::1]:9187", None).is_ok());
        assert!(check_exposure("localhost:9187", None).is_ok());
        assert!(check_exposure("0.0.0.0:9187", None).is_err());
        assert!(check_exposure("10.0.0.5:9187", Some("")).is_err());
        assert!(check_exposure("worker-1.example:9187", None).is_err());
        assert!(check_exposure("0.0.0.0:9187", Some("0123456789abcdef")).is_ok());
        assert!(check_exposure("127.0.0.1:9187", Some("short")).is_err());
    }
}
