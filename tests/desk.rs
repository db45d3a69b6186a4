//! The review desk against the real PostgreSQL (a database per test), with documents seeded
//! through the real pipeline and the worker's write path: sign-in, sessions and CSRF; every
//! desk route's session, role, CSRF and size checks (HTTP through the router); automatic
//! approval by the worker; and reviews in headless Chromium (chromedriver + fantoccini).

use crate::common::fixture;
use crate::support::{TestDb, free_port};
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use liasse::config::{ReviewConfig, WebConfig};
use liasse::store::Store;
use liasse::store::web::Decided;
use liasse::web::{WebApp, auth, desk};
use serde_json::Value;
use sqlx::Row as _;
use sqlx::postgres::PgPool;
use tower::ServiceExt as _;

const PASSWORD: &str = "correct horse battery";

struct Env {
    #[allow(dead_code)] // the database lives as long as the test holds it
    db: TestDb,
    pool: PgPool,
    store: Store,
    app: axum::Router,
}

async fn env_with(review: ReviewConfig, web: WebConfig) -> Env {
    let db = TestDb::create().await;
    let store = Store::connect_lazy(&db.url, 8).unwrap().with_review(review);
    store.migrate().await.unwrap();
    let pool = db.pool().await;
    let app = liasse::web::router(WebApp { store: store.clone(), config: web });
    Env { db, pool, store, app }
}

async fn env() -> Env {
    env_with(ReviewConfig::default(), WebConfig { cookie_secure: false, ..Default::default() }).await
}

/// Receive a fixture, run the pipeline on the bytes the store hands out and write the outcomes
/// as the worker does; returns the content hash.
async fn process(store: &Store, rel: &str) -> String {
    let bytes = std::fs::read(fixture(rel)).unwrap();
    process_bytes(store, &bytes, rel.rsplit('/').next().unwrap()).await
}

async fn process_bytes(store: &Store, bytes: &[u8], name: &str) -> String {
    crate::common::process_through_store(store, bytes, name).await.0
}

async fn user(store: &Store, login: &str, role: &str) {
    store.create_user(login, &auth::hash_password(PASSWORD).unwrap(), role).await.unwrap();
}

fn form_encode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

struct Res {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Res {
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    cookie: Option<&str>,
    form: Option<String>,
    extra: &[(&str, &str)],
) -> Res {
    let mut b = Request::builder().method(method).uri(uri).header(header::HOST, "desk.test");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    let req = match form {
        Some(f) => {
            b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(Body::from(f)).unwrap()
        }
        None => b.body(Body::empty()).unwrap(),
    };
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Res { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

/// The value of the first hidden `csrf` input of a page.
fn csrf_in(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf input") + "name=\"csrf\" value=\"".len();
    html[start..].split('"').next().unwrap().to_string()
}

/// A signed-in browser-less client: its cookie header and the session's CSRF token.
struct Signed {
    cookie: String,
    csrf: String,
}

async fn sign_in(app: &axum::Router, login: &str) -> Signed {
    let page = call(app, "GET", "/desk/login", None, None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    let pre = page.cookie(desk::LOGIN_COOKIE).unwrap();
    let pre = pre.split(';').next().unwrap().to_string();
    let csrf = csrf_in(&page.body);
    let form = form_encode(&[("csrf", &csrf), ("login", login), ("password", PASSWORD)]);
    let res = call(app, "POST", "/desk/login", Some(&pre), Some(form), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let cookie = res.cookie(desk::SESSION_COOKIE).unwrap().split(';').next().unwrap().to_string();
    let queue = call(app, "GET", "/desk/queue", Some(&cookie), None, &[]).await;
    assert_eq!(queue.status, StatusCode::OK);
    Signed { csrf: csrf_in(&queue.body), cookie }
}

/// Nothing internal in an error page: no Rust or SQL error text, no document data.
fn calm(res: &Res, secrets: &[&str]) {
    for bad in ["panicked", "sqlx", "StoreError", "RUST_BACKTRACE", "database", "SELECT", "at worker/"] {
        assert!(!res.body.contains(bad), "{bad:?} in a {} page: {}", res.status, res.body);
    }
    for s in secrets {
        assert!(!res.body.contains(s), "{s:?} leaked in a {} page", res.status);
    }
}

#[tokio::test]
async fn desk_sign_in_sessions_and_csrf() {
    let e = env().await;
    user(&e.store, "ap1", "accounts_payable").await;
    let page = call(&e.app, "GET", "/desk/login", None, None, &[]).await;
    let pre_cookie = page.cookie(desk::LOGIN_COOKIE).unwrap();
    assert!(pre_cookie.contains("HttpOnly") && pre_cookie.contains("SameSite=Strict"), "{pre_cookie}");
    let pre = pre_cookie.split(';').next().unwrap().to_string();
    let csrf = csrf_in(&page.body);
    let try_login = |login: &'static str, password: &'static str, cookie: Option<String>, csrf: String| {
        let app = e.app.clone();
        async move {
            let form = form_encode(&[("csrf", &csrf), ("login", login), ("password", password)]);
            call(&app, "POST", "/desk/login", cookie.as_deref(), Some(form), &[]).await
        }
    };
    // A wrong password and an unknown login get the same answer, and no session.
    let wrong = try_login("ap1", "not the password", Some(pre.clone()), csrf.clone()).await;
    let unknown = try_login("nobody", "not the password", Some(pre.clone()), csrf.clone()).await;
    for r in [&wrong, &unknown] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains("Unknown login or wrong password."));
        assert!(r.cookie(desk::SESSION_COOKIE).is_none());
        calm(r, &["ap1", "nobody"]);
    }
    let n: i64 = sqlx::query("SELECT count(*) FROM sessions").fetch_one(&e.pool).await.unwrap().get(0);
    assert_eq!(n, 0);
    // Without the pre-session cookie, or with another token, or from another site: 403.
    assert_eq!(try_login("ap1", PASSWORD, None, csrf.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        try_login("ap1", PASSWORD, Some(pre.clone()), "0".repeat(64)).await.status,
        StatusCode::FORBIDDEN
    );
    let form = form_encode(&[("csrf", &csrf), ("login", "ap1"), ("password", PASSWORD)]);
    let foreign =
        call(&e.app, "POST", "/desk/login", Some(&pre), Some(form), &[("origin", "https://evil.example")])
            .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    // The right password: a session cookie (HttpOnly, SameSite=Strict, not Secure on this plain
    // HTTP test config), of which only the hash is stored.
    let ok = try_login("ap1", PASSWORD, Some(pre.clone()), csrf.clone()).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location(), "/desk/queue");
    let set = ok.cookie(desk::SESSION_COOKIE).unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/desk"),
        "{set}"
    );
    assert!(set.contains(&format!("Max-Age={}", 12 * 3600)) && !set.contains("Secure"), "{set}");
    let token = set.split(';').next().unwrap().strip_prefix("liasse_session=").unwrap().to_string();
    let stored: Vec<u8> =
        sqlx::query("SELECT token_hash FROM sessions").fetch_one(&e.pool).await.unwrap().get(0);
    assert_eq!(stored, auth::sha256(&token).to_vec());
    let plain: i64 =
        sqlx::query("SELECT count(*) FROM sessions WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'")
            .bind(&token)
            .fetch_one(&e.pool)
            .await
            .unwrap()
            .get(0);
    assert_eq!(plain, 0);
    let cookie = format!("liasse_session={token}");
    let queue = call(&e.app, "GET", "/desk/queue", Some(&cookie), None, &[]).await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(queue.body.contains("ap1") && queue.body.contains("Accounts payable"));
    let session_csrf = csrf_in(&queue.body);
    // Sign-out needs the session's token; then the session is gone.
    let bad =
        call(&e.app, "POST", "/desk/logout", Some(&cookie), Some(form_encode(&[("csrf", "x")])), &[]).await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
    let out = call(
        &e.app,
        "POST",
        "/desk/logout",
        Some(&cookie),
        Some(form_encode(&[("csrf", &session_csrf)])),
        &[],
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.cookie(desk::SESSION_COOKIE).unwrap().contains("Max-Age=0"));
    let after = call(&e.app, "GET", "/desk/queue", Some(&cookie), None, &[]).await;
    assert_eq!((after.status, after.location()), (StatusCode::SEE_OTHER, "/desk/login"));
    // After `MAX_FAILURES` wrong passwords, even the right one is refused (429), no session.
    user(&e.store, "ap2", "accounts_payable").await;
    for _ in 0..desk::MAX_FAILURES {
        assert_eq!(
            try_login("ap2", "not the password", Some(pre.clone()), csrf.clone()).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let throttled = try_login("ap2", PASSWORD, Some(pre.clone()), csrf.clone()).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.cookie(desk::SESSION_COOKIE).is_none());
    // Another account is not affected; a new password (an admin's reset) lifts the block.
    assert_eq!(
        try_login("ap1", PASSWORD, Some(pre.clone()), csrf.clone()).await.status,
        StatusCode::SEE_OTHER
    );
    user(&e.store, "ap2", "accounts_payable").await;
    assert_eq!(
        try_login("ap2", PASSWORD, Some(pre.clone()), csrf.clone()).await.status,
        StatusCode::SEE_OTHER
    );
    // With `cookie_secure` (the default), the cookie is Secure.
    let secure = env_with(ReviewConfig::default(), WebConfig::default()).await;
    user(&secure.store, "ap1", "accounts_payable").await;
    let page = call(&secure.app, "GET", "/desk/login", None, None, &[]).await;
    assert!(page.cookie(desk::LOGIN_COOKIE).unwrap().contains("; Secure"));
    let pre = page.cookie(desk::LOGIN_COOKIE).unwrap().split(';').next().unwrap().to_string();
    let form = form_encode(&[("csrf", &csrf_in(&page.body)), ("login", "ap1"), ("password", PASSWORD)]);
    let ok = call(&secure.app, "POST", "/desk/login", Some(&pre), Some(form), &[]).await;
    assert!(ok.cookie(desk::SESSION_COOKIE).unwrap().contains("; Secure"));
}

#[tokio::test]
async fn desk_every_route_checks_session_role_csrf_and_size() {
    let e = env().await;
    for (login, role) in [("ap1", "accounts_payable"), ("law1", "lawyer"), ("adm1", "admin")] {
        user(&e.store, login, role).await;
    }
    let invoice = process(&e.store, "text/facture_fr_2pages.pdf").await;
    let contract = process(&e.store, "text/contrat_prestation_fr.pdf").await;
    let seller =
        e.store.document_view(&invoice).await.unwrap().unwrap().field("seller_name").unwrap().to_string();
    let ap = sign_in(&e.app, "ap1").await;
    let law = sign_in(&e.app, "law1").await;
    let adm = sign_in(&e.app, "adm1").await;
    let path = |p: &str, hash: &str| p.replace("{hash}", hash).replace("{n}", "1");
    let decide_form = |csrf: &str| form_encode(&[("csrf", csrf), ("action", "approve"), ("comment", "ok")]);

    for (method, route, who) in desk::ROUTES {
        let uri = path(route, &invoice);
        let form = (method == "POST").then(|| decide_form("whatever"));
        // Without a session (and with a made-up one): GET → 303 to the sign-in page, POST → 401.
        if who != "anyone" {
            for cookie in [None, Some("liasse_session=lss_made_up")] {
                let r = call(&e.app, method, &uri, cookie, form.clone(), &[]).await;
                if method == "GET" {
                    assert_eq!(
                        (r.status, r.location()),
                        (StatusCode::SEE_OTHER, "/desk/login"),
                        "{method} {uri}"
                    );
                } else {
                    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
                    calm(&r, &[&seller]);
                }
            }
        }
        // Wrong role.
        match who {
            "role of the document's kind" => {
                // The lawyer is told the invoice does not exist (no existence leak)…
                let csrf = law.csrf.clone();
                let r = call(
                    &e.app,
                    method,
                    &uri,
                    Some(&law.cookie),
                    (method == "POST").then(|| decide_form(&csrf)),
                    &[],
                )
                .await;
                assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {uri}");
                calm(&r, &[&seller, "facture_fr_2pages"]);
                // …and the accounts-payable clerk the same of the contract.
                let uri_c = path(route, &contract);
                let csrf = ap.csrf.clone();
                let r = call(
                    &e.app,
                    method,
                    &uri_c,
                    Some(&ap.cookie),
                    (method == "POST").then(|| decide_form(&csrf)),
                    &[],
                )
                .await;
                assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {uri_c}");
            }
            "admin" => {
                let r = call(&e.app, method, &uri, Some(&ap.cookie), None, &[]).await;
                assert_eq!(r.status, StatusCode::FORBIDDEN);
                calm(&r, &[]);
                let r = call(&e.app, method, &uri, Some(&adm.cookie), None, &[]).await;
                assert_eq!(r.status, StatusCode::OK);
                assert!(r.body.contains("law1") && !r.body.contains("argon2"));
            }
            _ => {}
        }
        // CSRF missing or wrong, another site's Origin, an oversized form: refused, nothing done.
        if method == "POST" && who != "anyone" {
            let missing = form_encode(&[("action", "approve"), ("comment", "ok")]);
            let r = call(&e.app, method, &uri, Some(&ap.cookie), Some(missing), &[]).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {uri}");
            let r = call(&e.app, method, &uri, Some(&ap.cookie), Some(decide_form(&law.csrf)), &[]).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {uri}: another session's token");
            let r = call(
                &e.app,
                method,
                &uri,
                Some(&ap.cookie),
                Some(decide_form(&ap.csrf)),
                &[("origin", "http://evil.example")],
            )
            .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {uri}");
            let r = call(
                &e.app,
                method,
                &uri,
                Some(&ap.cookie),
                Some(decide_form(&ap.csrf)),
                &[("sec-fetch-site", "cross-site")],
            )
            .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {uri}");
            let big = "x".repeat(desk::MAX_FORM_BYTES + 1);
            let huge = form_encode(&[("csrf", &ap.csrf), ("action", "approve"), ("comment", &big)]);
            let r = call(&e.app, method, &uri, Some(&ap.cookie), Some(huge), &[]).await;
            assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{method} {uri}");
            calm(&r, &[]);
        }
    }
    let status: String = sqlx::query("SELECT status FROM documents WHERE content_hash = $1")
        .bind(&invoice)
        .fetch_one(&e.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "processed", "no refused request decided anything");
    let audits: i64 = sqlx::query("SELECT count(*) FROM audit_log WHERE actor_kind = 'user'")
        .fetch_one(&e.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(audits, 0);

    // The queue by role: the clerk sees the invoice only, the lawyer the contract only; a filter
    // on the other kind is 403; the admin sees both, riskiest first.
    let q = call(&e.app, "GET", "/desk/queue", Some(&ap.cookie), None, &[]).await;
    assert!(q.body.contains(&invoice) && !q.body.contains(&contract));
    let q = call(&e.app, "GET", "/desk/queue", Some(&law.cookie), None, &[]).await;
    assert!(q.body.contains(&contract) && !q.body.contains(&invoice));
    assert_eq!(
        call(&e.app, "GET", "/desk/queue?kind=invoice", Some(&law.cookie), None, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&e.app, "GET", "/desk/queue?kind=contract", Some(&ap.cookie), None, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let q = call(&e.app, "GET", "/desk/queue", Some(&adm.cookie), None, &[]).await;
    let (ci, ii) = (q.body.find(&contract).unwrap(), q.body.find(&invoice).unwrap());
    assert!(ci < ii, "the contract (high-risk clauses) comes before the invoice");
    let q = call(&e.app, "GET", "/desk/queue?kind=invoice", Some(&adm.cookie), None, &[]).await;
    assert!(q.body.contains(&invoice) && !q.body.contains(&contract));
    // A minimum risk between the two keeps only the riskier.
    let all = liasse::store::web::QueueFilter {
        invoices: true,
        contracts: true,
        min_risk: 0.0,
        text: None,
        offset: 0,
        limit: 10,
    };
    let (rows, _) = e.store.review_queue(&all).await.unwrap();
    let risk = |h: &str| rows.iter().find(|r| r.content_hash == h).unwrap().risk;
    assert!(risk(&contract) > risk(&invoice));
    let between = format!("{:.3}", (risk(&contract) + risk(&invoice)) / 2.0);
    let q =
        call(&e.app, "GET", &format!("/desk/queue?min_risk={between}"), Some(&adm.cookie), None, &[]).await;
    assert!(q.body.contains(&contract) && !q.body.contains(&invoice), "min_risk={between}");
    let q = call(&e.app, "GET", "/desk/queue?q=contrat_prestation", Some(&adm.cookie), None, &[]).await;
    assert!(q.body.contains(&contract) && !q.body.contains(&invoice));
    let q = call(
        &e.app,
        "GET",
        &format!("/desk/queue?q={}", form_encode(&[("x", &seller)]).trim_start_matches("x=")),
        Some(&adm.cookie),
        None,
        &[],
    )
    .await;
    assert!(q.body.contains(&invoice) && !q.body.contains(&contract), "search in extracted values");
    let q = call(&e.app, "GET", "/desk/queue?q=%25", Some(&adm.cookie), None, &[]).await;
    assert!(q.body.contains("queue-empty"), "% is literal");
    let q = call(&e.app, "GET", "/desk/queue?page=2", Some(&adm.cookie), None, &[]).await;
    assert!(q.body.contains("queue-empty"));
    for bad in ["min_risk=2", "min_risk=abc", "page=0", "kind=memo", "other=1"] {
        let r = call(&e.app, "GET", &format!("/desk/queue?{bad}"), Some(&adm.cookie), None, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        calm(&r, &[]);
    }

    // The document pages: evidence, flags, clauses, playbook, history; the page image.
    let d = call(&e.app, "GET", &format!("/desk/doc/{contract}"), Some(&law.cookie), None, &[]).await;
    assert_eq!(d.status, StatusCode::OK);
    for part in [
        "id=\"flags\"",
        "id=\"clauses\"",
        "id=\"playbook\"",
        "deviating",
        "id=\"history\"",
        "<mark class=\"clause\"",
        "dismiss-1",
    ] {
        assert!(d.body.contains(part), "{part} in the contract page");
    }
    let d = call(&e.app, "GET", &format!("/desk/doc/{invoice}"), Some(&ap.cookie), None, &[]).await;
    for part in
        ["id=\"fields\"", "id=\"flags\"", "<mark class=\"field\"", "correct-invoice_number", "approve-form"]
    {
        assert!(d.body.contains(part), "{part} in the invoice page");
    }
    let img = call(&e.app, "GET", &format!("/desk/doc/{invoice}/page/2"), Some(&ap.cookie), None, &[]).await;
    assert_eq!(img.status, StatusCode::OK);
    assert_eq!(img.headers[header::CONTENT_TYPE], "image/png");
    assert!(img.headers[header::CACHE_CONTROL].to_str().unwrap().starts_with("private"));
    let r = call(&e.app, "GET", &format!("/desk/doc/{invoice}/page/3"), Some(&ap.cookie), None, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for bad in ["/desk/doc/xyz", "/desk/doc/../../etc/passwd", &format!("/desk/doc/{}", "0".repeat(64))] {
        let r = call(&e.app, "GET", bad, Some(&adm.cookie), None, &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}");
    }
    // The stylesheet needs no session; pages carry the CSP.
    let css = call(&e.app, "GET", "/desk/static/desk.css", None, None, &[]).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(d.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("default-src 'self'"));
    assert_eq!(d.headers[header::CACHE_CONTROL], "no-store");

    // Decisions over HTTP: a comment is required; a refused decision is 409; a good one lands.
    let decide = |csrf: &str, fields: &[(&str, &str)]| {
        let mut f = vec![("csrf", csrf)];
        f.extend_from_slice(fields);
        form_encode(&f)
    };
    let uri = format!("/desk/doc/{invoice}/decide");
    let r = call(
        &e.app,
        "POST",
        &uri,
        Some(&ap.cookie),
        Some(decide(&ap.csrf, &[("action", "approve"), ("comment", " ")])),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(
        &e.app,
        "POST",
        &uri,
        Some(&ap.cookie),
        Some(decide(&ap.csrf, &[("action", "dismiss"), ("flag", "999999"), ("comment", "x")])),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    calm(&r, &[&seller]);
    let r = call(
        &e.app,
        "POST",
        &uri,
        Some(&ap.cookie),
        Some(decide(
            &ap.csrf,
            &[("action", "correct"), ("field", "seller_name"), ("value", "Dupont SARL"), ("comment", "typo")],
        )),
        &[],
    )
    .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, format!("/desk/doc/{invoice}?done=correct").as_str())
    );
    let row = sqlx::query(
        "SELECT actor, details FROM audit_log WHERE content_hash = $1 AND action = 'correct_field'",
    )
    .bind(&invoice)
    .fetch_one(&e.pool)
    .await
    .unwrap();
    let (actor, details): (String, Value) = (row.get(0), row.get(1));
    assert_eq!(actor, "ap1");
    assert_eq!(details["previous"], seller.as_str());
    assert_eq!(details["value"], "Dupont SARL");
    assert_eq!(details["comment"], "typo");
}

#[tokio::test]
async fn desk_auto_approval_by_the_worker() {
    // Off (the default): results stay `processed`, nothing is released.
    let off = env().await;
    let h = process(&off.store, "text/invoice_en.pdf").await;
    let st: String = sqlx::query("SELECT status FROM documents WHERE content_hash = $1")
        .bind(&h)
        .fetch_one(&off.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(st, "processed");

    // On, with the default limits: a new supplier (weight 0.2) is more than information, so the
    // invoice goes to review with the reason; so do the contract with risky clauses and the NDA
    // under English law (playbook deviation); the amendment without a risky clause or playbook
    // deviation, classified at 0.99, is approved.
    let on = ReviewConfig { auto_approve: true, ..ReviewConfig::default() };
    let e = env_with(on.clone(), WebConfig { cookie_secure: false, ..Default::default() }).await;
    let invoice = process(&e.store, "text/invoice_en.pdf").await;
    let contract = process(&e.store, "text/contrat_prestation_fr.pdf").await;
    let nda = process(&e.store, "text/nda_en.pdf").await;
    let amendment = process(&e.store, "text/avenant_fr.pdf").await;
    let status = |h: String| {
        let pool = e.pool.clone();
        async move {
            let r = sqlx::query("SELECT status, status_reason FROM documents WHERE content_hash = $1")
                .bind(&h)
                .fetch_one(&pool)
                .await
                .unwrap();
            (r.get::<String, _>(0), r.get::<Option<String>, _>(1).unwrap_or_default())
        }
    };
    let (s, why) = status(invoice.clone()).await;
    assert_eq!(s, "review");
    assert!(why.contains("supplier.new"), "{why}");
    let (s, why) = status(contract.clone()).await;
    assert_eq!(s, "review");
    assert!(why.contains("risky clause") && why.contains("playbook"), "{why}");
    let (s, why) = status(nda.clone()).await;
    assert_eq!((s.as_str(), why.as_str()), ("review", "2 playbook deviation(s)"));
    assert_eq!(status(amendment.clone()).await.0, "approved");
    // The approval is in the audit log (system actor, the rules' reasons) and released once.
    let row = sqlx::query("SELECT actor_kind, actor, details FROM audit_log WHERE content_hash = $1 AND action = 'auto_approve'")
        .bind(&amendment)
        .fetch_one(&e.pool)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), "system");
    assert!(row.get::<String, _>(1).starts_with("liasse"));
    assert_eq!(row.get::<Value, _>(2)["previous_status"], "processed");
    let events: Vec<String> = sqlx::query("SELECT event FROM erp_feed WHERE content_hash = $1 ORDER BY seq")
        .bind(&amendment)
        .fetch_all(&e.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(events, ["processed", "approved"]);
    let page = e.store.feed(0, 100, true, true).await.unwrap();
    let released: Vec<&str> = page.items.iter().map(|i| i.content_hash.as_str()).collect();
    assert_eq!(released, [amendment.as_str()], "only the approved document is released");
    // The review items are in the desk's queue; the approved one is not.
    let (rows, total) = e
        .store
        .review_queue(&liasse::store::web::QueueFilter {
            invoices: true,
            contracts: true,
            min_risk: 0.0,
            text: None,
            offset: 0,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert!(rows.iter().all(|r| r.status == "review" && r.content_hash != amendment));

    // Accepting new suppliers as information, the confident clean invoice is approved too.
    let lenient = ReviewConfig { max_flag_weight: 0.2, ..on };
    let e2 = env_with(lenient, WebConfig::default()).await;
    let h = process(&e2.store, "text/invoice_en.pdf").await;
    let st: String = sqlx::query("SELECT status FROM documents WHERE content_hash = $1")
        .bind(&h)
        .fetch_one(&e2.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(st, "approved");
    // A person can still block it afterwards: a `changed` event follows.
    let d = e2
        .store
        .decide(
            &h,
            &liasse::store::web::Actor::User("ap1".into()),
            &liasse::store::web::Decision::Block,
            Some("wrong supplier"),
        )
        .await
        .unwrap();
    assert!(matches!(d, Decided::Done { feed_seq: Some(_) }));
}

// ---- Headless Chromium ----

mod browser {
    use super::*;
    use fantoccini::{Client, ClientBuilder, Locator};
    use std::process::{Child, Command, Stdio};

    /// chromedriver on a free port, killed when dropped.
    pub struct Driver {
        child: Child,
        pub url: String,
    }

    impl Drop for Driver {
        fn drop(&mut self) {
            // chromedriver leads its own process group, with the browsers it started: a test
            // that fails before closing its session leaves no browser behind.
            // SAFETY: kill(2) on the process group our child leads; it is not reaped yet.
            unsafe {
                libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    pub fn driver() -> Driver {
        let port = free_port();
        use std::os::unix::process::CommandExt as _;
        let child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (.ci/setup: chromium-driver)");
        // Ready when it accepts connections (bounded number of attempts).
        let mut ready = false;
        for _ in 0..1200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                ready = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        assert!(ready, "chromedriver did not start");
        Driver { child, url: format!("http://127.0.0.1:{port}") }
    }

    pub async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,860", "--lang=en-GB",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let serde_json::Value::Object(caps) = caps else { unreachable!() };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a browser session")
    }

    /// Wait for an element (WebDriver polling, bounded).
    pub async fn el(c: &Client, css: &str) -> fantoccini::elements::Element {
        match c.wait().at_most(std::time::Duration::from_secs(30)).for_element(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => {
                let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
                let body = c.source().await.unwrap_or_default();
                panic!("waiting for {css} on {url}: {e}\n{}", body.chars().take(3000).collect::<String>())
            }
        }
    }

    pub async fn wait_url(c: &Client, url: &str) {
        let u = url::Url::parse(url).unwrap();
        c.wait()
            .at_most(std::time::Duration::from_secs(30))
            .for_url(&u)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }

    /// Wait until an image has loaded (bounded polling of its `complete` and `naturalWidth`).
    pub async fn image_loaded(c: &Client, css: &str) {
        el(c, css).await;
        let probe =
            "const i = document.querySelector(arguments[0]); return i.complete ? i.naturalWidth : -1;";
        for _ in 0..600 {
            let width = c.execute(probe, vec![serde_json::json!(css)]).await.unwrap().as_i64().unwrap_or(-1);
            if width >= 0 {
                assert!(width > 0, "{css} failed to load");
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{css} did not load");
    }

    pub async fn shot(c: &Client, name: &str) {
        if let Ok(dir) = std::env::var("LIASSE_SCREENSHOTS") {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(std::path::Path::new(&dir).join(name), c.screenshot().await.unwrap()).unwrap();
        }
    }

    pub async fn sign_in(c: &Client, base: &str, login: &str, password: &str) {
        c.goto(&format!("{base}/desk/login")).await.unwrap();
        el(c, "#login").await.send_keys(login).await.unwrap();
        el(c, "#password").await.send_keys(password).await.unwrap();
        el(c, "#sign-in").await.click().await.unwrap();
    }

    /// Fill a decision form's comment (and other inputs) and submit it; wait for the result URL.
    pub async fn decide(c: &Client, form: &str, inputs: &[(&str, &str)], done_url: &str) {
        let f = el(c, form).await;
        for (name, value) in inputs {
            let i = f.find(Locator::Css(&format!("input[name={name}]"))).await.unwrap();
            i.clear().await.unwrap();
            i.send_keys(value).await.unwrap();
        }
        f.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
        wait_url(c, done_url).await;
    }
}

#[tokio::test]
async fn desk_in_headless_chromium() {
    use browser::*;
    use fantoccini::Locator;
    let e = env().await;
    user(&e.store, "ap1", "accounts_payable").await;
    user(&e.store, "law1", "lawyer").await;
    let invoice = process(&e.store, "text/facture_fr_2pages.pdf").await;
    let contract = process(&e.store, "text/contrat_prestation_fr.pdf").await;
    let scan = process(&e.store, "scan/facture_fr_scan_p1.png").await;
    let before = e.store.document_view(&invoice).await.unwrap().unwrap();
    let old_number = before.field("invoice_number").expect("an invoice number").to_string();
    assert!(!before.flags.is_empty(), "the invoice is flagged");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = e.app.clone();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let driver = driver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    // Sign-in: a wrong password is refused, the right one opens the queue.
    sign_in(&c, &base, "ap1", "wrong password").await;
    let err = el(&c, "#login-error").await;
    assert_eq!(err.text().await.unwrap(), "Unknown login or wrong password.");
    shot(&c, "sign-in.png").await;
    el(&c, "#login").await.send_keys("ap1").await.unwrap();
    el(&c, "#password").await.send_keys(PASSWORD).await.unwrap();
    el(&c, "#sign-in").await.click().await.unwrap();
    let queue = el(&c, "#queue").await;
    let html = queue.html(false).await.unwrap();
    assert!(html.contains(&invoice) && !html.contains(&contract), "the clerk's queue holds the invoice only");
    shot(&c, "queue.png").await;

    // The accounts-payable clerk reviews the flagged invoice.
    c.find(Locator::Css(&format!("tr[data-hash=\"{invoice}\"] a.doc"))).await.unwrap().click().await.unwrap();
    el(&c, "#fields").await;
    el(&c, "#flags").await;
    image_loaded(&c, "#page-1 img").await;
    shot(&c, "document.png").await;
    let doc_url = format!("{base}/desk/doc/{invoice}");
    el(&c, "tr[data-field=invoice_number] details summary").await.click().await.unwrap();
    decide(
        &c,
        "#correct-invoice_number",
        &[("value", "FA-CORRIGE-1"), ("comment", "number misread")],
        &format!("{doc_url}?done=correct"),
    )
    .await;
    let value = el(&c, "tr[data-field=invoice_number] .value").await.text().await.unwrap();
    assert_eq!(value, "FA-CORRIGE-1");
    let flag_id: i64 = el(&c, "#flag-1").await.attr("data-flag").await.unwrap().unwrap().parse().unwrap();
    decide(&c, "#dismiss-1", &[("comment", "known supplier")], &format!("{doc_url}?done=dismiss")).await;
    decide(
        &c,
        "#approve-form",
        &[("comment", "checked against the order")],
        &format!("{doc_url}?done=approve"),
    )
    .await;
    assert_eq!(el(&c, "#doc-status").await.text().await.unwrap(), "approved");
    assert!(el(&c, "#notice").await.text().await.unwrap().starts_with("Approved"));
    // A scan: the OCR boxes of the evidence are drawn over the page image.
    c.goto(&format!("{base}/desk/doc/{scan}")).await.unwrap();
    image_loaded(&c, "#page-1 img").await;
    let boxes = c.find_all(Locator::Css("#page-1 svg.overlay rect.field")).await.unwrap();
    assert!(!boxes.is_empty(), "OCR evidence boxes over the scan");
    shot(&c, "scan.png").await;
    el(&c, "#sign-out").await.click().await.unwrap();
    el(&c, "#login-form").await;

    // The lawyer reviews the flagged clause, and cannot open the invoice.
    sign_in(&c, &base, "law1", PASSWORD).await;
    let html = el(&c, "#queue").await.html(false).await.unwrap();
    assert!(html.contains(&contract) && !html.contains(&invoice));
    c.goto(&doc_url).await.unwrap();
    let msg = el(&c, "p.message").await.text().await.unwrap();
    assert_eq!(msg, "No such page or document.");
    let page = c.source().await.unwrap();
    assert!(!page.contains(&old_number) && !page.contains("facture_fr_2pages"));
    let contract_url = format!("{base}/desk/doc/{contract}");
    c.goto(&contract_url).await.unwrap();
    el(&c, "#clauses").await;
    el(&c, "#playbook").await;
    assert!(el(&c, "mark.clause").await.text().await.unwrap().len() > 3, "a risky clause is highlighted");
    if std::env::var_os("LIASSE_SCREENSHOTS").is_some() {
        // The highlighted clause in the page text, for the picture.
        let js = "document.querySelector('mark.clause').scrollIntoView({block: 'center'}); return true;";
        c.execute(js, vec![]).await.unwrap();
        shot(&c, "contract.png").await;
    }
    let clause_flag: i64 = el(&c, "#flag-1").await.attr("data-flag").await.unwrap().unwrap().parse().unwrap();
    decide(
        &c,
        "#dismiss-1",
        &[("comment", "accepted by legal for this client")],
        &format!("{contract_url}?done=dismiss"),
    )
    .await;
    decide(
        &c,
        "#approve-form",
        &[("comment", "approved with the deviation noted")],
        &format!("{contract_url}?done=approve"),
    )
    .await;
    assert_eq!(el(&c, "#doc-status").await.text().await.unwrap(), "approved");
    c.close().await.unwrap();
    drop(driver);
    server.abort();

    // The database: who, what, previous values; statuses.
    let audit: Vec<(String, String, Value)> = sqlx::query(
        "SELECT actor, action, details FROM audit_log WHERE content_hash = $1 AND actor_kind = 'user' ORDER BY id",
    )
    .bind(&invoice)
    .fetch_all(&e.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    let actions: Vec<&str> = audit.iter().map(|a| a.1.as_str()).collect();
    assert_eq!(actions, ["correct_field", "dismiss_flag", "approve"]);
    assert!(audit.iter().all(|a| a.0 == "ap1"));
    assert_eq!(audit[0].2["field"], "invoice_number");
    assert_eq!(audit[0].2["previous"], old_number.as_str());
    assert_eq!(audit[0].2["value"], "FA-CORRIGE-1");
    assert_eq!(audit[0].2["comment"], "number misread");
    assert_eq!(audit[1].2["flag"], flag_id);
    assert_eq!(audit[1].2["previous"], "open");
    assert_eq!(audit[2].2["previous_status"], "processed");
    let law: Vec<(String, String)> = sqlx::query(
        "SELECT actor, action FROM audit_log WHERE content_hash = $1 AND actor_kind = 'user' ORDER BY id",
    )
    .bind(&contract)
    .fetch_all(&e.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    assert_eq!(
        law,
        [("law1".to_string(), "dismiss_flag".to_string()), ("law1".to_string(), "approve".to_string())]
    );
    let dismissed: i64 = sqlx::query("SELECT count(*) FROM flag_dismissals WHERE flag_id = ANY($1)")
        .bind(vec![flag_id, clause_flag])
        .fetch_one(&e.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(dismissed, 2);
    for h in [&invoice, &contract] {
        let st: String = sqlx::query("SELECT status FROM documents WHERE content_hash = $1")
            .bind(h)
            .fetch_one(&e.pool)
            .await
            .unwrap()
            .get(0);
        assert_eq!(st, "approved");
    }

    // The ERP feed, as a connector reads it: each document once, approved, with the correction.
    let token = auth::new_secret("lsk_");
    let scopes = vec!["read:invoices".to_string(), "read:contracts".to_string()];
    e.store.create_api_token("erp", &auth::sha256(&token), &scopes).await.unwrap();
    let req = Request::builder()
        .uri("/api/v1/feed")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = e.app.clone().oneshot(req).await.unwrap();
    let feed: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let items = feed["items"].as_array().unwrap();
    let hashes: Vec<&str> = items.iter().map(|i| i["content_hash"].as_str().unwrap()).collect();
    assert_eq!(hashes, [invoice.as_str(), contract.as_str()], "each released once, in approval order");
    assert!(items.iter().all(|i| i["event"] == "approved"));
    let req = Request::builder()
        .uri(format!("/api/v1/documents/{invoice}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = e.app.clone().oneshot(req).await.unwrap();
    let doc: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert!(doc.to_string().contains("FA-CORRIGE-1"), "the export carries the correction");
}

/// The same through the real worker: `liasse ingest` and `liasse work` (RabbitMQ, PostgreSQL)
/// with `LIASSE_REVIEW__AUTO_APPROVE=true`.
#[tokio::test(flavor = "multi_thread")]
async fn desk_auto_approval_through_the_worker_service() {
    let mut w = crate::service::World::new().await;
    w.set("LIASSE_REVIEW__AUTO_APPROVE", "true");
    let drop = w.drop_dir();
    for rel in ["text/avenant_fr.pdf", "text/invoice_en.pdf"] {
        std::fs::copy(fixture(rel), drop.join(rel.rsplit('/').next().unwrap())).unwrap();
    }
    let out = w.cmd().args(["ingest", "--watch", drop.to_str().unwrap(), "--once"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pool = w.db.pool().await;
    let mut worker = w.worker();
    w.wait_all_final(&pool, 2, std::time::Duration::from_secs(240)).await;
    let _ = worker.kill();
    let _ = worker.wait();
    let rows: Vec<(String, String)> =
        sqlx::query("SELECT source_name, status FROM documents ORDER BY source_name")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    assert_eq!(
        rows,
        [
            ("avenant_fr.pdf".to_string(), "approved".to_string()),
            ("invoice_en.pdf".to_string(), "review".to_string())
        ]
    );
    let released: Vec<(String, String)> = sqlx::query(
        "SELECT d.source_name, f.event FROM erp_feed f JOIN documents d USING (content_hash)
         WHERE f.event = 'approved' ORDER BY f.seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    assert_eq!(released, [("avenant_fr.pdf".to_string(), "approved".to_string())]);
    let actor: String = sqlx::query("SELECT actor FROM audit_log WHERE action = 'auto_approve'")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);
    assert!(actor.starts_with("liasse-worker@"), "{actor}");
}

/// A document found inside an e-mail has no bytes of its own: its page says so and shows the
/// text instead of a broken image; the image route is 404.
#[tokio::test]
async fn desk_email_attachment_shows_text_not_an_image() {
    let e = env().await;
    user(&e.store, "adm1", "admin").await;
    process(&e.store, "email/envoi_facture.eml").await;
    let child: String = sqlx::query(
        "SELECT d.content_hash FROM documents d JOIN results r ON r.id = d.current_result
         WHERE d.parent_hash IS NOT NULL AND r.page_count > 0 ORDER BY d.source_name LIMIT 1",
    )
    .fetch_one(&e.pool)
    .await
    .unwrap()
    .get(0);
    let adm = sign_in(&e.app, "adm1").await;
    let page = call(&e.app, "GET", &format!("/desk/doc/{child}"), Some(&adm.cookie), None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No page image") && !page.body.contains("<img"), "{}", page.body);
    assert!(page.body.contains("class=\"pagetext\""));
    let img = call(&e.app, "GET", &format!("/desk/doc/{child}/page/1"), Some(&adm.cookie), None, &[]).await;
    assert_eq!(img.status, StatusCode::NOT_FOUND);
}

/// The queue pages through more documents than fit on a page: every one listed once.
#[tokio::test]
async fn desk_queue_pages_through_many_documents() {
    let e = env().await;
    user(&e.store, "ap1", "accounts_payable").await;
    let n = desk::PAGE_ROWS as usize + 2;
    let mut hashes = Vec::new();
    for i in 0..n {
        let pdf = crate::support::text_pdf([
            format!("FACTURE No F-2026-{i:05}"),
            "Fournisseur Test SARL".to_string(),
            format!("Total TTC : {},{:02} EUR", 100 + i, i % 100),
        ]);
        hashes.push(process_bytes(&e.store, &pdf, &format!("f{i:02}.pdf")).await);
    }
    let ap = sign_in(&e.app, "ap1").await;
    let one = call(&e.app, "GET", "/desk/queue", Some(&ap.cookie), None, &[]).await;
    assert!(one.body.contains(&format!("{n} documents")));
    assert!(one.body.contains("id=\"next-page\""));
    let two = call(&e.app, "GET", "/desk/queue?kind=&min_risk=&q=&page=2", Some(&ap.cookie), None, &[]).await;
    assert_eq!(two.status, StatusCode::OK);
    assert!(!two.body.contains("id=\"next-page\"") && two.body.contains("rel=\"prev\""));
    let rows = |body: &str| body.matches("<tr data-hash=").count();
    assert_eq!((rows(&one.body), rows(&two.body)), (desk::PAGE_ROWS as usize, 2));
    for h in &hashes {
        let listed = [&one.body, &two.body].iter().filter(|b| b.contains(h.as_str())).count();
        assert_eq!(listed, 1, "{h} listed once");
    }
}
