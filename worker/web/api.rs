//! The ERP API: the released change feed, acknowledgements and per-invoice exports, behind
//! bearer tokens with scopes. Described by `api/openapi.json` (served at `/api/v1/openapi.json`).

use super::WebApp;
use super::export;
use crate::store::web::{ApiToken, DocumentView};
use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

/// The OpenAPI description, checked in.
pub const OPENAPI: &str = include_str!("../../api/openapi.json");

/// Every API route (method, OpenAPI path); a test checks each is described and protected.
pub const ROUTES: [(&str, &str); 6] = [
    ("get", "/api/v1/feed"),
    ("post", "/api/v1/feed/ack"),
    ("get", "/api/v1/documents/{content_hash}"),
    ("get", "/api/v1/documents/{content_hash}/export.csv"),
    ("get", "/api/v1/documents/{content_hash}/facturx.xml"),
    ("get", "/api/v1/openapi.json"),
];

pub fn routes() -> Router<WebApp> {
    Router::new()
        .route("/api/v1/feed", get(feed))
        .route("/api/v1/feed/ack", post(ack))
        .route("/api/v1/documents/{content_hash}", get(document_json))
        .route("/api/v1/documents/{content_hash}/export.csv", get(document_csv))
        .route("/api/v1/documents/{content_hash}/facturx.xml", get(document_xml))
        .route("/api/v1/openapi.json", get(openapi))
        .fallback(not_found)
}

/// An API error: a status and a short message, never internal details.
pub struct ApiError(StatusCode, &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(json!({"error": self.1}))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        tracing::error!(unavailable = e.is_unavailable(), "api: store error");
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable")
    }
}

async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "not found")
}

/// The connector behind a valid bearer token.
pub struct Connector(pub ApiToken);

impl Connector {
    fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.0.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(ApiError(StatusCode::FORBIDDEN, "the token lacks the scope this route needs"))
        }
    }
    fn reads(&self) -> (bool, bool) {
        let has = |s: &str| self.0.scopes.iter().any(|x| x == s);
        (has("read:invoices"), has("read:contracts"))
    }
    fn may_read(&self, kind: &str) -> bool {
        let (i, c) = self.reads();
        (kind == "invoice" && i) || (kind == "contract" && c)
    }
}

impl FromRequestParts<WebApp> for Connector {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &WebApp) -> Result<Self, Self::Rejection> {
        let unauthorized = ApiError(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
        let value =
            parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(unauthorized)?;
        let token = value.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty() && t.len() <= 256);
        let Some(token) = token else {
            return Err(ApiError(StatusCode::UNAUTHORIZED, "a valid bearer token is required"));
        };
        match app.store.api_token(&super::auth::sha256(token)).await? {
            Some(t) => Ok(Connector(t)),
            None => Err(ApiError(StatusCode::UNAUTHORIZED, "a valid bearer token is required")),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedQuery {
    after: Option<String>,
    limit: Option<String>,
}

fn parse_cursor(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or(ApiError(StatusCode::BAD_REQUEST, "after must be a cursor returned by the feed"))
}

async fn feed(
    State(app): State<WebApp>,
    c: Connector,
    q: Result<Query<FeedQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let (invoices, contracts) = c.reads();
    if !invoices && !contracts {
        return Err(ApiError(StatusCode::FORBIDDEN, "the token lacks the scope this route needs"));
    }
    let Ok(Query(q)) = q else { return Err(ApiError(StatusCode::BAD_REQUEST, "unknown query parameter")) };
    let after = match q.after.as_deref() {
        Some(a) => parse_cursor(a)?,
        None => c.0.acked_seq,
    };
    let max = app.config.feed_max_limit.max(1);
    let limit = match q.limit.as_deref() {
        None => 100.min(max),
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or(ApiError(StatusCode::BAD_REQUEST, "limit is out of range"))?,
    };
    let page = app.store.feed(after, limit, invoices, contracts).await?;
    let items: Vec<_> = page
        .items
        .iter()
        .map(|i| {
            let base = format!("/api/v1/documents/{}", i.content_hash);
            let mut links = json!({"json": base, "csv": format!("{base}/export.csv")});
            if i.kind == "invoice" {
                links["facturx"] = json!(format!("{base}/facturx.xml"));
            }
            json!({
                "cursor": i.seq.to_string(),
                "content_hash": i.content_hash,
                "result_id": i.result_id,
                "event": i.event,
                "status": i.status,
                "kind": i.kind,
                "doc_type": i.doc_type,
                "at": i.at,
                "links": links,
            })
        })
        .collect();
    Ok(Json(json!({"items": items, "next": page.next.to_string(), "acked": c.0.acked_seq.to_string()}))
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    cursor: String,
}

async fn ack(
    State(app): State<WebApp>,
    c: Connector,
    body: Result<Json<AckBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    c.require("ack")?;
    let Ok(Json(body)) = body else {
        return Err(ApiError(StatusCode::BAD_REQUEST, "the body must be {\"cursor\": \"…\"}"));
    };
    let seq = parse_cursor(&body.cursor)?;
    match app.store.ack(c.0.id, seq).await? {
        Some(acked) => Ok(Json(json!({"acked": acked.to_string()})).into_response()),
        None => Err(ApiError(StatusCode::BAD_REQUEST, "the cursor is beyond the feed")),
    }
}

/// A released document the connector may read.
async fn released(app: &WebApp, c: &Connector, hash: &str) -> Result<DocumentView, ApiError> {
    let (i, k) = c.reads();
    if !i && !k {
        return Err(ApiError(StatusCode::FORBIDDEN, "the token lacks the scope this route needs"));
    }
    let not_found = ApiError(StatusCode::NOT_FOUND, "no such released document");
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(not_found);
    }
    let doc = app
        .store
        .document_view(hash)
        .await?
        .ok_or(ApiError(StatusCode::NOT_FOUND, "no such released document"))?;
    // A document of a kind the token may not read is answered as absent (no existence leak).
    if doc.status != "approved" || !c.may_read(&doc.kind) {
        return Err(not_found);
    }
    Ok(doc)
}

async fn document_json(
    State(app): State<WebApp>,
    c: Connector,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let doc = released(&app, &c, &hash).await?;
    Ok(Json(export::json(&doc)).into_response())
}

async fn document_csv(
    State(app): State<WebApp>,
    c: Connector,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let doc = released(&app, &c, &hash).await?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], export::csv(&doc)).into_response())
}

async fn document_xml(
    State(app): State<WebApp>,
    c: Connector,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let doc = released(&app, &c, &hash).await?;
    if doc.kind != "invoice" {
        return Err(ApiError(StatusCode::NOT_FOUND, "Factur-X exists for invoices only"));
    }
    match export::factur_x(&doc) {
        Ok(x) => Ok(([(header::CONTENT_TYPE, "application/xml; charset=utf-8")], x).into_response()),
        Err(e) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"error": e.to_string()}))).into_response())
        }
    }
}

async fn openapi(_c: Connector) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
