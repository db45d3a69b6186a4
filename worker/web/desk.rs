//! The review desk: server-rendered pages under `/desk/` for people signed in with a role
//! (accounts payable: invoices, lawyers: contracts, admin: all). Templates are `maud` (every
//! interpolated value is HTML-escaped).
//!
//! Invariants:
//! - Every page but the sign-in page and the stylesheet needs a live session (cookie holding a
//!   random token; only its SHA-256 is stored). Without one: 303 to the sign-in page for a GET,
//!   401 otherwise.
//! - Every POST carries the session's synchronizer token (`csrf`, compared in constant time; the
//!   sign-in form a token of its own bound to a pre-session cookie) and is refused (403) when the
//!   `Origin` is another site's.
//! - A document of a kind the role may not see is answered as absent (404); a filter on such a
//!   kind, or an admin page for another role, is 403.
//! - Error pages carry a short generic message: no internal error text, no document data.

use super::WebApp;
use super::auth;
use super::pages;
use crate::store::web::{Actor, Decided, Decision, QueueFilter, Session, User};
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

/// The session cookie and the sign-in form's pre-session cookie.
pub const SESSION_COOKIE: &str = "liasse_session";
pub const LOGIN_COOKIE: &str = "liasse_login";
/// Largest desk form body, in bytes.
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// Rows per queue page.
pub const PAGE_ROWS: i64 = 25;
const MAX_COMMENT: usize = 2000;
const MAX_VALUE: usize = 500;

/// Every desk route (method, path with an example hash, who may use it); a test walks them.
pub const ROUTES: [(&str, &str, &str); 9] = [
    ("GET", "/desk/login", "anyone"),
    ("POST", "/desk/login", "anyone"),
    ("GET", "/desk/static/desk.css", "anyone"),
    ("POST", "/desk/logout", "signed-in"),
    ("GET", "/desk/queue", "signed-in"),
    ("GET", "/desk/doc/{hash}", "role of the document's kind"),
    ("GET", "/desk/doc/{hash}/page/{n}", "role of the document's kind"),
    ("POST", "/desk/doc/{hash}/decide", "role of the document's kind"),
    ("GET", "/desk/users", "admin"),
];

pub const CSS: &str = include_str!("desk.css");

pub fn routes() -> Router<WebApp> {
    Router::new()
        .route("/desk", get(|| async { Redirect::to("/desk/queue") }))
        .route("/desk/", get(|| async { Redirect::to("/desk/queue") }))
        .route("/desk/login", get(login_page).post(login))
        .route("/desk/logout", post(logout))
        .route("/desk/static/desk.css", get(css))
        .route("/desk/queue", get(queue))
        .route("/desk/doc/{hash}", get(document))
        .route("/desk/doc/{hash}/page/{n}", get(page_image))
        .route("/desk/doc/{hash}/decide", post(decide))
        .route("/desk/users", get(users))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

/// A refusal or failure, answered with a calm page and no details.
#[derive(Debug)]
pub enum DeskError {
    /// No session: 303 to the sign-in page (GET) or 401.
    SignIn {
        get: bool,
    },
    Forbidden(&'static str),
    NotFound,
    BadRequest(&'static str),
    Conflict(&'static str),
    TooLarge,
    Unavailable,
}

impl From<crate::store::StoreError> for DeskError {
    fn from(e: crate::store::StoreError) -> DeskError {
        tracing::error!(unavailable = e.is_unavailable(), "desk: store error");
        DeskError::Unavailable
    }
}

impl From<FormRejection> for DeskError {
    fn from(r: FormRejection) -> DeskError {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            DeskError::TooLarge
        } else {
            DeskError::BadRequest("the form is incomplete or malformed")
        }
    }
}

impl IntoResponse for DeskError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            DeskError::SignIn { get: true } => return Redirect::to("/desk/login").into_response(),
            DeskError::SignIn { get: false } => (StatusCode::UNAUTHORIZED, "Please sign in."),
            DeskError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            DeskError::NotFound => (StatusCode::NOT_FOUND, "No such page or document."),
            DeskError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            DeskError::Conflict(m) => (StatusCode::CONFLICT, m),
            DeskError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large."),
            DeskError::Unavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "The desk is temporarily unavailable; try again shortly.")
            }
        };
        (status, pages::error(status, message)).into_response()
    }
}

type DeskResult<T = Response> = Result<T, DeskError>;

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

fn set_cookie(app: &WebApp, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if app.config.cookie_secure { "; Secure" } else { "" };
    let v = format!("{name}={value}; Path=/desk; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// A POST from another site is refused: `Origin` (when sent) must be this host, and the fetch
/// metadata must not say cross-site.
fn same_origin(headers: &HeaderMap) -> Result<(), DeskError> {
    let refused = DeskError::Forbidden("This form was sent from another site.");
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return Err(refused);
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    let ok = !host.is_empty() && (origin == format!("http://{host}") || origin == format!("https://{host}"));
    if ok { Ok(()) } else { Err(refused) }
}

/// The signed-in person.
pub struct Reviewer {
    pub session: Session,
    token_hash: [u8; 32],
}

impl Reviewer {
    fn user(&self) -> &User {
        &self.session.user
    }
    fn sees(&self, kind: &str) -> bool {
        auth::role_sees(&self.session.user.role, kind)
    }
    /// The session's CSRF token must be in the form, and the form from this site.
    fn check_form(&self, headers: &HeaderMap, csrf: &str) -> Result<(), DeskError> {
        same_origin(headers)?;
        if auth::same(csrf, &self.session.csrf) {
            Ok(())
        } else {
            Err(DeskError::Forbidden("The form has expired; reload the page and try again."))
        }
    }
}

impl FromRequestParts<WebApp> for Reviewer {
    type Rejection = DeskError;

    async fn from_request_parts(parts: &mut Parts, app: &WebApp) -> Result<Self, Self::Rejection> {
        let get = parts.method == Method::GET || parts.method == Method::HEAD;
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(DeskError::SignIn { get });
        };
        let token_hash = auth::sha256(token);
        match app.store.session(&token_hash).await? {
            Some(session) => Ok(Reviewer { session, token_hash }),
            None => Err(DeskError::SignIn { get }),
        }
    }
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "private, max-age=3600")],
        CSS,
    )
        .into_response()
}

// ---- Sign-in ----

async fn login_page(State(app): State<WebApp>) -> Response {
    let token = auth::new_secret("");
    let mut r = pages::login(&token, None).into_response();
    r.headers_mut().insert(header::SET_COOKIE, set_cookie(&app, LOGIN_COOKIE, &token, 3600));
    r
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    login: String,
    password: String,
}

/// Failed sign-ins tolerated per account within `FAILURE_WINDOW`, after which sign-in is refused
/// (429, without a password check) until the window has passed.
pub const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Failed sign-ins: count and start of the window, per key.
type Failures = std::sync::Mutex<std::collections::HashMap<[u8; 32], (u32, std::time::Instant)>>;

/// Failed sign-ins of this process, keyed by the SHA-256 of the account's stored hash (unique
/// per account, reset by a new password) or of an unknown login; bounded in size.
fn failures() -> &'static Failures {
    static F: std::sync::OnceLock<Failures> = std::sync::OnceLock::new();
    F.get_or_init(Default::default)
}

fn throttled(key: &[u8; 32]) -> bool {
    let mut map = failures().lock().unwrap_or_else(|e| e.into_inner());
    match map.get(key) {
        Some((n, since)) if since.elapsed() < FAILURE_WINDOW => *n >= MAX_FAILURES,
        Some(_) => {
            map.remove(key);
            false
        }
        None => false,
    }
}

fn record_failure(key: [u8; 32]) {
    let mut map = failures().lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= 10_000 {
        map.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
    }
    let e = map.entry(key).or_insert((0, std::time::Instant::now()));
    if e.1.elapsed() >= FAILURE_WINDOW {
        *e = (0, std::time::Instant::now());
    }
    e.0 += 1;
}

fn clear_failures(key: &[u8; 32]) {
    failures().lock().unwrap_or_else(|e| e.into_inner()).remove(key);
}

/// A valid argon2id hash no password matches: an unknown login costs the same as a wrong password.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| auth::hash_password(&auth::new_secret("")).unwrap_or_default())
}

async fn login(
    State(app): State<WebApp>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> DeskResult {
    same_origin(&headers)?;
    let Form(f) = form?;
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !auth::same(&f.csrf, expected) {
        return Err(DeskError::Forbidden("The sign-in form has expired; reload the page and try again."));
    }
    let login = f.login.trim().to_ascii_lowercase();
    let user = if login.is_empty() || login.len() > 64 || f.password.len() > 1024 {
        None
    } else {
        app.store.user_for_login(&login).await?
    };
    let (user, hash) = match user {
        Some((u, h)) => (Some(u), h),
        None => (None, dummy_hash().to_string()),
    };
    let key = match user {
        Some(_) => auth::sha256(&hash),
        None => auth::sha256(&format!("unknown login:{login}")),
    };
    if throttled(&key) {
        tracing::warn!("desk: sign-in throttled");
        let token = auth::new_secret("");
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            pages::login(&token, Some("Too many failed sign-ins; try again in 15 minutes.")),
        )
            .into_response();
        r.headers_mut().insert(header::SET_COOKIE, set_cookie(&app, LOGIN_COOKIE, &token, 3600));
        return Ok(r);
    }
    let password = f.password;
    let verified =
        tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash)).await.unwrap_or(false);
    let Some(user) = user.filter(|_| verified) else {
        record_failure(key);
        tracing::info!("desk: sign-in refused");
        let token = auth::new_secret("");
        let mut r =
            (StatusCode::UNAUTHORIZED, pages::login(&token, Some("Unknown login or wrong password.")))
                .into_response();
        r.headers_mut().insert(header::SET_COOKIE, set_cookie(&app, LOGIN_COOKIE, &token, 3600));
        return Ok(r);
    };
    clear_failures(&key);
    let token = auth::new_secret("lss_");
    let csrf = auth::new_secret("");
    let hours = i64::from(app.config.session_hours.max(1));
    app.store.create_session(&auth::sha256(&token), user.id, &csrf, hours).await?;
    tracing::info!(role = %user.role, "desk: signed in");
    let mut r = Redirect::to("/desk/queue").into_response();
    let h = r.headers_mut();
    h.append(header::SET_COOKIE, set_cookie(&app, SESSION_COOKIE, &token, hours * 3600));
    h.append(header::SET_COOKIE, set_cookie(&app, LOGIN_COOKIE, "", 0));
    Ok(r)
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(app): State<WebApp>,
    who: Reviewer,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> DeskResult {
    let Form(f) = form?;
    who.check_form(&headers, &f.csrf)?;
    app.store.delete_session(&who.token_hash).await?;
    let mut r = Redirect::to("/desk/login").into_response();
    r.headers_mut().insert(header::SET_COOKIE, set_cookie(&app, SESSION_COOKIE, "", 0));
    Ok(r)
}

// ---- Queue ----

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    pub kind: Option<String>,
    pub min_risk: Option<String>,
    pub q: Option<String>,
    pub page: Option<String>,
}

async fn queue(
    State(app): State<WebApp>,
    who: Reviewer,
    q: Result<Query<QueueQuery>, QueryRejection>,
) -> DeskResult {
    let Ok(Query(q)) = q else { return Err(DeskError::BadRequest("Unknown filter.")) };
    let kind = q.kind.as_deref().unwrap_or("");
    let (invoices, contracts) = match kind {
        "" | "all" => (who.sees("invoice"), who.sees("contract")),
        "invoice" | "contract" if !who.sees(kind) => {
            return Err(DeskError::Forbidden("Your role does not review this kind of document."));
        }
        "invoice" => (true, false),
        "contract" => (false, true),
        _ => return Err(DeskError::BadRequest("Unknown kind.")),
    };
    let min_risk = match q.min_risk.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 0.0,
        Some(s) => s
            .parse::<f32>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or(DeskError::BadRequest("The minimum risk is a number from 0 to 1."))?,
    };
    let text = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    if text.as_ref().is_some_and(|t| t.chars().count() > 200 || t.contains('\0')) {
        return Err(DeskError::BadRequest("The search text is too long."));
    }
    let page = match q.page.as_deref().filter(|s| !s.is_empty()) {
        None => 1,
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|p| (1..=10_000).contains(p))
            .ok_or(DeskError::BadRequest("No such page."))?,
    };
    let filter = QueueFilter {
        invoices,
        contracts,
        min_risk,
        text: text.clone(),
        offset: (page - 1) * PAGE_ROWS,
        limit: PAGE_ROWS,
    };
    let (rows, total) = app.store.review_queue(&filter).await?;
    let view = pages::QueuePage {
        user: who.user(),
        csrf: &who.session.csrf,
        rows: &rows,
        total,
        page,
        kind,
        min_risk: q.min_risk.as_deref().unwrap_or(""),
        text: text.as_deref().unwrap_or(""),
    };
    Ok(pages::queue(&view).into_response())
}

// ---- Document ----

fn valid_hash(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DocQuery {
    done: Option<String>,
}

async fn document(
    State(app): State<WebApp>,
    who: Reviewer,
    Path(hash): Path<String>,
    q: Result<Query<DocQuery>, QueryRejection>,
) -> DeskResult {
    if !valid_hash(&hash) {
        return Err(DeskError::NotFound);
    }
    let done = q.ok().and_then(|Query(q)| q.done);
    let view = app.store.document_view(&hash).await?.ok_or(DeskError::NotFound)?;
    if !who.sees(&view.kind) {
        return Err(DeskError::NotFound);
    }
    let extras = match view.result_id {
        Some(id) => Some(app.store.result_extras(id).await?),
        None => None,
    };
    let audit = app.store.audit_of(&hash).await?;
    let notice = match done.as_deref() {
        Some("approve") => Some("Approved: the document is released to the ERP feed."),
        Some("block") => Some("Blocked."),
        Some("correct") => Some("The correction is saved."),
        Some("dismiss") => Some("The flag is dismissed."),
        _ => None,
    };
    let page = pages::DocumentPage {
        user: who.user(),
        csrf: &who.session.csrf,
        doc: &view,
        extras: extras.as_ref(),
        audit: &audit,
        notice,
    };
    Ok(pages::document(&page).into_response())
}

async fn page_image(
    State(app): State<WebApp>,
    who: Reviewer,
    Path((hash, n)): Path<(String, String)>,
) -> DeskResult {
    if !valid_hash(&hash) {
        return Err(DeskError::NotFound);
    }
    let n: u32 = n.parse().ok().filter(|n| (1..=10_000).contains(n)).ok_or(DeskError::NotFound)?;
    let (kind, pages) = app.store.document_kind(&hash).await?.ok_or(DeskError::NotFound)?;
    if !who.sees(&kind) || i64::from(n) > i64::from(pages.max(1)) {
        return Err(DeskError::NotFound);
    }
    let (bytes, media_type) = app.store.document_bytes(&hash).await?.ok_or(DeskError::NotFound)?;
    let max_pixels = 100_000_000;
    let rendered = tokio::task::spawn_blocking(move || {
        super::image::page_image(&bytes, media_type.as_deref(), n, max_pixels)
    })
    .await
    .map_err(|_| DeskError::Unavailable)?;
    match rendered {
        Ok((ct, png)) => {
            Ok(([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "private, max-age=600")], png)
                .into_response())
        }
        Err(e) => {
            tracing::warn!(error = %e, "desk: no page image");
            Err(DeskError::NotFound)
        }
    }
}

// ---- Decisions ----

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    flag: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

async fn decide(
    State(app): State<WebApp>,
    who: Reviewer,
    headers: HeaderMap,
    Path(hash): Path<String>,
    form: Result<Form<DecideForm>, FormRejection>,
) -> DeskResult {
    let Form(f) = form?;
    who.check_form(&headers, &f.csrf)?;
    if !valid_hash(&hash) {
        return Err(DeskError::NotFound);
    }
    let (kind, _) = app.store.document_kind(&hash).await?.ok_or(DeskError::NotFound)?;
    if !who.sees(&kind) {
        return Err(DeskError::NotFound);
    }
    let comment = f.comment.as_deref().map(str::trim).unwrap_or("");
    if comment.is_empty() {
        return Err(DeskError::BadRequest("A comment is required for every decision."));
    }
    if comment.chars().count() > MAX_COMMENT {
        return Err(DeskError::BadRequest("The comment is too long."));
    }
    let decision = match f.action.as_str() {
        "approve" => Decision::Approve,
        "block" => Decision::Block,
        "correct" => {
            let name = f.field.as_deref().unwrap_or("").trim();
            let value = f.value.as_deref().unwrap_or("").trim();
            let name_ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
            if !name_ok {
                return Err(DeskError::BadRequest("Unknown field."));
            }
            if value.is_empty() || value.chars().count() > MAX_VALUE {
                return Err(DeskError::BadRequest("The value must be 1 to 500 characters."));
            }
            Decision::Correct { name: name.to_string(), value: value.to_string() }
        }
        "dismiss" => {
            let flag_id = f
                .flag
                .as_deref()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or(DeskError::BadRequest("Unknown flag."))?;
            Decision::DismissFlag { flag_id }
        }
        _ => return Err(DeskError::BadRequest("Unknown decision.")),
    };
    let actor = Actor::User(who.user().login.clone());
    match app.store.decide(&hash, &actor, &decision, Some(comment)).await? {
        Decided::Done { .. } => {
            tracing::info!(decision = decision.name(), "desk: decision");
            Ok(Redirect::to(&format!("/desk/doc/{hash}?done={}", f.action)).into_response())
        }
        Decided::NotFound => Err(DeskError::NotFound),
        Decided::Refused(why) => Err(DeskError::Conflict(why)),
    }
}

// ---- Admin ----

async fn users(State(app): State<WebApp>, who: Reviewer) -> DeskResult {
    if who.user().role != "admin" {
        return Err(DeskError::Forbidden("This page is for administrators."));
    }
    let list = app.store.users().await?;
    Ok(pages::users(who.user(), &who.session.csrf, &list).into_response())
}
