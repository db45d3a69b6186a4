//! The ERP API (`/api/v1/…`, bearer tokens with scopes) and the review desk (`/desk/…`, signed-in
//! people with roles), served by `liasse serve` with `/healthz`. Only `store` knows sqlx.
//!
//! Invariants:
//! - Every route but `/healthz` requires authentication: a bearer token for `/api/`, a session
//!   cookie for `/desk/` (sign-in page and form excepted). Scope and role checks are per route.
//! - Responses never carry internal error text: a failure is logged by kind and answered with a
//!   generic message.
//! - Request bodies are bounded (`web.max_body_bytes`), query values are parsed into types.

pub mod api;
pub mod auth;
pub mod desk;
pub mod export;
pub mod image;
pub mod pages;

use crate::config::WebConfig;
use crate::store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("web server: {0}")]
    Io(#[from] std::io::Error),
    #[error("password hashing: {0}")]
    Password(String),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone)]
pub struct WebApp {
    pub store: Store,
    pub config: WebConfig,
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Every route of the service.
pub fn router(app: WebApp) -> Router {
    let limit = app.config.max_body_bytes;
    Router::new()
        .route("/healthz", get(healthz))
        .merge(desk::routes())
        .merge(api::routes())
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(app)
}

async fn security_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts,
    // and the desk checks that a form's Origin is its own.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // no-store unless the handler chose (page images and the stylesheet: private caching).
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    );
    res
}

/// Serve until `shutdown` turns true.
pub async fn serve(app: WebApp, mut shutdown: tokio::sync::watch::Receiver<bool>) -> Result<(), WebError> {
    let listener = tokio::net::TcpListener::bind(&app.config.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "liasse serve");
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|v| *v).await;
        })
        .await?;
    Ok(())
}
