//! The desk's pages (maud templates: every interpolated value is HTML-escaped). No inline style
//! or script (the CSP forbids them): the look is `desk.css`, served by the desk itself.

use crate::store::web::{AuditEntry, DocumentView, QueueRow, ResultExtras, User};
use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

/// A rendered page (HTML, UTF-8).
pub struct Page(Markup);

impl axum::response::IntoResponse for Page {
    fn into_response(self) -> axum::response::Response {
        ([(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], self.0.into_string())
            .into_response()
    }
}

fn role_label(role: &str) -> &'static str {
    match role {
        "accounts_payable" => "Accounts payable",
        "lawyer" => "Legal",
        "admin" => "Administrator",
        _ => "Unknown role",
    }
}

fn layout(title: &str, user: Option<(&User, &str)>, body: Markup) -> Page {
    Page(html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Liasse review desk" }
                link rel="stylesheet" href="/desk/static/desk.css";
            }
            body {
                header.top {
                    a.brand href="/desk/queue" { "Liasse" span.sub { "review desk" } }
                    @if let Some((u, csrf)) = user {
                        nav {
                            a href="/desk/queue" { "Queue" }
                            @if u.role == "admin" { a href="/desk/users" { "Users" } }
                        }
                        div.who {
                            span.login { (u.login) }
                            span.role { (role_label(&u.role)) }
                            form.inline method="post" action="/desk/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button.link type="submit" id="sign-out" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    })
}

pub fn error(status: StatusCode, message: &str) -> Page {
    layout(
        status.canonical_reason().unwrap_or("Error"),
        None,
        html! {
            section.card.narrow {
                h1 { (status.as_u16()) " · " (status.canonical_reason().unwrap_or("Error")) }
                p.message { (message) }
                p { a href="/desk/queue" { "Back to the queue" } }
            }
        },
    )
}

pub fn login(csrf: &str, failure: Option<&str>) -> Page {
    layout(
        "Sign in",
        None,
        html! {
            section.card.narrow {
                h1 { "Sign in" }
                p.muted { "Reviewers of invoices and contracts sign in with the login an administrator gave them." }
                @if let Some(f) = failure { p.alert role="alert" id="login-error" { (f) } }
                form method="post" action="/desk/login" id="login-form" {
                    input type="hidden" name="csrf" value=(csrf);
                    label { "Login" input type="text" name="login" id="login" autocomplete="username" required maxlength="64"; }
                    label { "Password" input type="password" name="password" id="password" autocomplete="current-password" required maxlength="1024"; }
                    button.primary type="submit" id="sign-in" { "Sign in" }
                }
            }
        },
    )
}

pub struct QueuePage<'a> {
    pub user: &'a User,
    pub csrf: &'a str,
    pub rows: &'a [QueueRow],
    pub total: i64,
    pub page: i64,
    pub kind: &'a str,
    pub min_risk: &'a str,
    pub text: &'a str,
}

fn risk_class(r: f32) -> &'static str {
    if r >= 0.6 {
        "risk high"
    } else if r >= 0.3 {
        "risk medium"
    } else if r > 0.0 {
        "risk low"
    } else {
        "risk none"
    }
}

fn queue_link(p: &QueuePage<'_>, page: i64) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!("/desk/queue?kind={}&min_risk={}&q={}&page={page}", enc(p.kind), enc(p.min_risk), enc(p.text))
}

pub fn queue(p: &QueuePage<'_>) -> Page {
    let both = crate::web::auth::role_sees(&p.user.role, "invoice")
        && crate::web::auth::role_sees(&p.user.role, "contract");
    let pages = ((p.total + super::desk::PAGE_ROWS - 1) / super::desk::PAGE_ROWS).max(1);
    layout(
        "Queue",
        Some((p.user, p.csrf)),
        html! {
            section.head {
                h1 { "Waiting for review" }
                p.muted { (p.total) " document" @if p.total != 1 { "s" } ", riskiest first." }
            }
            form.filters method="get" action="/desk/queue" id="filters" {
                @if both {
                    label { "Kind"
                        select name="kind" id="kind" {
                            option value="" selected[p.kind.is_empty() || p.kind == "all"] { "All" }
                            option value="invoice" selected[p.kind == "invoice"] { "Invoices" }
                            option value="contract" selected[p.kind == "contract"] { "Contracts" }
                        }
                    }
                }
                label { "Minimum risk"
                    input type="number" name="min_risk" id="min_risk" min="0" max="1" step="0.05" value=(p.min_risk) placeholder="0";
                }
                label.grow { "Search"
                    input type="search" name="q" id="q" value=(p.text) maxlength="200" placeholder="File name, supplier, number…";
                }
                button type="submit" id="apply" { "Apply" }
            }
            @if p.rows.is_empty() {
                p.empty id="queue-empty" { "Nothing is waiting for review with these filters." }
            } @else {
                table.queue id="queue" {
                    thead { tr { th { "Risk" } th { "Document" } th { "Kind" } th { "Open flags" } th { "Riskiest flag" } th { "Status" } th { "Received" } } }
                    tbody {
                        @for r in p.rows {
                            tr data-hash=(r.content_hash) {
                                td { span class=(risk_class(r.risk)) { (format!("{:.2}", r.risk)) } }
                                td { a.doc href={ "/desk/doc/" (r.content_hash) } { (r.source_name) } }
                                td { (r.doc_type.as_deref().unwrap_or(&r.kind)) }
                                td.num { (r.open_flags) }
                                td.muted { (r.top_flag.as_deref().unwrap_or("—")) }
                                td { span.status { (r.status) } }
                                td.muted { (r.received_at.format("%Y-%m-%d %H:%M")) }
                            }
                        }
                    }
                }
                @if pages > 1 {
                    nav.pager {
                        @if p.page > 1 { a href=(queue_link(p, p.page - 1)) rel="prev" { "← Previous" } }
                        span.muted { "Page " (p.page) " of " (pages) }
                        @if p.page < pages { a href=(queue_link(p, p.page + 1)) rel="next" id="next-page" { "Next →" } }
                    }
                }
            }
        },
    )
}

/// A piece of evidence to show on a page: a span of its text and/or a box on its image.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub page: i32,
    pub span: Option<(usize, usize)>,
    pub bbox: Option<(f64, f64, f64, f64)>,
    pub class: &'static str,
    pub label: String,
}

fn bbox_of(v: &Value) -> Option<(f64, f64, f64, f64)> {
    Some((v.get("x")?.as_f64()?, v.get("y")?.as_f64()?, v.get("w")?.as_f64()?, v.get("h")?.as_f64()?))
}

/// Every `{page, span: {start, end}, bbox?}` location inside a JSON value (flag evidence).
fn locations(v: &Value, class: &'static str, label: &str, out: &mut Vec<Mark>) {
    match v {
        Value::Object(m) => {
            if let (Some(page), Some(span)) = (m.get("page").and_then(Value::as_i64), m.get("span")) {
                let s =
                    span.get("start").and_then(Value::as_u64).zip(span.get("end").and_then(Value::as_u64));
                out.push(Mark {
                    page: page as i32,
                    span: s.map(|(a, b)| (a as usize, b as usize)),
                    bbox: m.get("bbox").and_then(bbox_of),
                    class,
                    label: label.to_string(),
                });
            }
            for x in m.values() {
                locations(x, class, label, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                locations(x, class, label, out);
            }
        }
        _ => {}
    }
}

/// The evidence of a document's open flags, fields and risky clauses, each place once (a flag's
/// colour wins over a field's where both point at the same place).
pub fn marks(doc: &DocumentView) -> Vec<Mark> {
    let mut out = Vec::new();
    for f in doc.flags.iter().filter(|f| !f.dismissed) {
        locations(&f.evidence, "flag", &f.code, &mut out);
    }
    for f in &doc.fields {
        if let Some(page) = f.page {
            out.push(Mark {
                page,
                span: f.span.map(|(a, b)| (a.max(0) as usize, b.max(0) as usize)),
                bbox: f.bbox.as_ref().and_then(bbox_of),
                class: "field",
                label: f.name.clone(),
            });
        }
    }
    for c in &doc.clauses {
        if let (Some(page), true) = (c.page, c.risk.as_deref().is_some_and(|r| r != "none")) {
            out.push(Mark {
                page,
                span: c.span.map(|(a, b)| (a.max(0) as usize, b.max(0) as usize)),
                bbox: None,
                class: "clause",
                label: format!("clause {}", c.number.as_deref().unwrap_or("")),
            });
        }
    }
    type Place = (i32, Option<(usize, usize)>, Option<(i64, i64, i64, i64)>);
    let mut seen: Vec<Place> = Vec::new();
    out.retain(|m| {
        let key = (m.page, m.span, m.bbox.map(|(x, y, w, h)| (x as i64, y as i64, w as i64, h as i64)));
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
    out
}

/// A page's text with the marks' spans highlighted. A mark inside another is drawn inside it
/// (a flag's phrase within its clause); a mark crossing another's edge, or whose span is not on
/// character boundaries, is skipped.
pub fn marked_text(text: &str, marks: &[&Mark]) -> Markup {
    let mut spans: Vec<(usize, usize, &Mark)> = marks
        .iter()
        .filter_map(|m| m.span.map(|(a, b)| (a, b, *m)))
        .filter(|(a, b, _)| a < b && text.get(*a..*b).is_some())
        .collect();
    spans.sort_by_key(|(a, b, _)| (*a, std::cmp::Reverse(*b)));
    nest(text, 0, text.len(), &spans)
}

/// `text[from..to]` with the spans that lie in it (sorted by start, longest first).
fn nest(text: &str, from: usize, to: usize, spans: &[(usize, usize, &Mark)]) -> Markup {
    let mut pos = from;
    let mut parts: Vec<Markup> = Vec::new();
    let mut i = 0;
    while i < spans.len() {
        let (a, b, m) = spans[i];
        // The spans inside this one follow it in the order.
        let inner_end = spans[i + 1..].iter().take_while(|(x, _, _)| *x < b).count() + i + 1;
        if a >= pos && b <= to {
            let inner: Vec<(usize, usize, &Mark)> =
                spans[i + 1..inner_end].iter().copied().filter(|(x, y, _)| *x >= a && *y <= b).collect();
            parts.push(
                html! { (&text[pos..a]) mark class=(m.class) title=(m.label) { (nest(text, a, b, &inner)) } },
            );
            pos = b;
            i = inner_end;
        } else {
            i += 1;
        }
    }
    html! { @for p in &parts { (p) } (&text[pos..to]) }
}

pub struct DocumentPage<'a> {
    pub user: &'a User,
    pub csrf: &'a str,
    pub doc: &'a DocumentView,
    pub extras: Option<&'a ResultExtras>,
    pub audit: &'a [AuditEntry],
    pub notice: Option<&'a str>,
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn reasons(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|r| {
                let reason = r.get("reason").map(json_text).unwrap_or_else(|| json_text(r));
                match r.get("detail").map(json_text).filter(|d| !d.is_empty()) {
                    Some(d) => format!("{reason} ({d})"),
                    None => reason,
                }
            })
            .collect(),
        other => vec![json_text(other)],
    }
}

/// The text quoted by a flag's evidence (first locations).
fn quoted(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if m.contains_key("span")
                    && let Some(t) = m.get("text").and_then(Value::as_str)
                {
                    out.push(t.chars().take(160).collect());
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(v, &mut out);
    out.dedup();
    out.truncate(3);
    out
}

fn decision_form(
    p: &DocumentPage<'_>,
    action: &str,
    hidden: Markup,
    button: &str,
    id: &str,
    class: &str,
) -> Markup {
    html! {
        form.decide method="post" action={ "/desk/doc/" (p.doc.content_hash) "/decide" } id=(id) {
            input type="hidden" name="csrf" value=(p.csrf);
            input type="hidden" name="action" value=(action);
            (hidden)
            input type="text" name="comment" required maxlength="2000" placeholder="Comment (required)" aria-label="Comment";
            button class=(class) type="submit" { (button) }
        }
    }
}

pub fn document(p: &DocumentPage<'_>) -> Page {
    let d = p.doc;
    let marks = marks(d);
    let empty = Vec::new();
    let pages = p.extras.map(|e| &e.pages).unwrap_or(&empty);
    let playbook: Vec<&Value> =
        p.extras.and_then(|e| e.playbook.as_array()).map(|a| a.iter().collect()).unwrap_or_default();
    let risks: Vec<&Value> =
        p.extras.and_then(|e| e.invoice_risks.as_array()).map(|a| a.iter().collect()).unwrap_or_default();
    let classification = p.extras.map(|e| &e.classification).filter(|c| !c.is_null());
    let open = matches!(d.status.as_str(), "processed" | "review");
    let has_bytes = p.extras.is_some_and(|e| e.has_bytes);
    layout(
        &d.source_name,
        Some((p.user, p.csrf)),
        html! {
            section.head {
                p.crumbs { a href="/desk/queue" { "← Queue" } }
                h1 { (d.source_name) }
                p.meta {
                    span.status id="doc-status" { (d.status) }
                    " · " (d.doc_type.as_deref().unwrap_or(&d.kind))
                    @if let Some(c) = classification {
                        " · classifier " (c.get("confidence").and_then(Value::as_f64).map(|x| format!("{:.0} %", x * 100.0)).unwrap_or_default())
                    }
                    " · received " (d.received_at.format("%Y-%m-%d %H:%M"))
                    " · " (d.page_count) " page" @if d.page_count != 1 { "s" }
                }
                @if let Some(n) = p.notice { p.notice role="status" id="notice" { (n) } }
            }
            div.columns {
                section.pages {
                    @for pg in pages.iter().take(20) {
                        @let here: Vec<&Mark> = marks.iter().filter(|m| m.page == pg.number).collect();
                        figure.page id={ "page-" (pg.number) } {
                            @if has_bytes {
                                div.sheet {
                                    img src={ "/desk/doc/" (d.content_hash) "/page/" (pg.number) } alt={ "Page " (pg.number) };
                                    @if let Some((w, h)) = pg.image_size {
                                        svg.overlay viewBox={ "0 0 " (w) " " (h) } preserveAspectRatio="none" {
                                            @for m in here.iter().filter(|m| m.bbox.is_some()) {
                                                // A little margin, so the outline does not cross the glyphs.
                                                @let (x, y, bw, bh) = m.bbox.unwrap_or_default();
                                                @let pad = (f64::from(w.max(h)) / 400.0).max(2.0);
                                                rect class=(m.class) x=(x - pad) y=(y - pad) width=(bw + 2.0 * pad) height=(bh + 2.0 * pad) rx=(pad) { title { (m.label) } }
                                            }
                                        }
                                    }
                                }
                            } @else {
                                p.empty.small { "No page image: this document came inside another one (an e-mail)." }
                            }
                            figcaption { "Page " (pg.number) " · " (pg.method.replace('_', " ")) }
                            @if (pg.image_size.is_none() || !has_bytes) && !pg.text.trim().is_empty() {
                                details.text open[here.iter().any(|m| m.span.is_some())] {
                                    summary { "Page text with the evidence highlighted" }
                                    pre.pagetext { (marked_text(&pg.text, &here)) }
                                }
                            }
                        }
                    }
                    @if pages.is_empty() { p.empty { "No page to show." } }
                }
                aside.panels {
                    @if open {
                        section.card.decision {
                            h2 { "Decision" }
                            div.row {
                                (decision_form(p, "approve", html!{}, "Approve", "approve-form", "primary"))
                                (decision_form(p, "block", html!{}, "Block", "block-form", "danger"))
                            }
                        }
                    }
                    @if !d.flags.is_empty() {
                        section.card id="flags" {
                            h2 { "Flags" }
                            @for (i, f) in d.flags.iter().enumerate() {
                                div.flag.dismissed[f.dismissed] data-flag=(f.id) id={ "flag-" (i + 1) } {
                                    div.flaghead {
                                        strong { (f.code) }
                                        // Contract flags carry a level; invoice flags the invoice's decision (not shown
                                        // per flag). A score is a rule's weight, or a model's probability.
                                        @if matches!(f.severity.as_str(), "low" | "medium" | "high") { span class={ "sev " (f.severity) } { (f.severity) } }
                                        @if let Some(s) = f.score { span.score { @if f.model.is_some() { "score " } @else { "weight " } (format!("{s:.2}")) } }
                                        @if f.dismissed { span.tag { "dismissed" } }
                                    }
                                    ul.reasons { @for r in reasons(&f.reasons) { li { (r) } } }
                                    @for q in quoted(&f.evidence) { blockquote { (q) } }
                                    p.muted.small {
                                        @if let Some(r) = &f.rule_id { "rule " (r) }
                                        @if let Some(m) = &f.model { " · model " (m) }
                                    }
                                    @if !f.dismissed {
                                        (decision_form(p, "dismiss", html!{ input type="hidden" name="flag" value=(f.id); }, "Dismiss", &format!("dismiss-{}", i + 1), "quiet"))
                                    }
                                }
                            }
                        }
                    }
                    @if !risks.is_empty() {
                        section.card {
                            h2 { "Invoice risk" }
                            @for (i, r) in risks.iter().enumerate() {
                                p {
                                    @if risks.len() > 1 { "Invoice " (i + 1) ": " }
                                    strong { (r.get("score").and_then(Value::as_f64).map(|s| format!("{s:.2}")).unwrap_or_default()) }
                                    " · " (r.get("decision").map(json_text).unwrap_or_default())
                                }
                                @if let Some(rs) = r.get("reasons").and_then(Value::as_array) {
                                    ul.reasons { @for x in rs {
                                        li { (x.get("rule").map(json_text).unwrap_or_default()) " (" (x.get("weight").and_then(Value::as_f64).map(|w| format!("{w:.2}")).unwrap_or_default()) ")"
                                             @if let Some(dt) = x.get("detail").map(json_text).filter(|s| !s.is_empty()) { " — " (dt) } }
                                    } }
                                }
                            }
                        }
                    }
                    @if !d.fields.is_empty() {
                        section.card id="fields" {
                            h2 { "Extracted fields" }
                            table.fields {
                                @for f in &d.fields {
                                    tr data-field=(f.name) {
                                        th { (f.name.replace('_', " ")) }
                                        td {
                                            span.value { (f.value) }
                                            @if f.corrected { span.tag { "corrected" } }
                                            div.muted.small {
                                                @if let Some(c) = f.confidence { (format!("{:.0} %", c * 100.0)) }
                                                @if let Some(m) = &f.method { " · " (m.replace('_', " ")) }
                                                @if let Some(pg) = f.page { " · page " (pg) }
                                            }
                                            @if open || d.status == "approved" {
                                                details.correct {
                                                    summary { "Correct" }
                                                    form.decide method="post" action={ "/desk/doc/" (d.content_hash) "/decide" } id={ "correct-" (f.name) } {
                                                        input type="hidden" name="csrf" value=(p.csrf);
                                                        input type="hidden" name="action" value="correct";
                                                        input type="hidden" name="field" value=(f.name);
                                                        input type="text" name="value" value=(f.value) required maxlength="500" aria-label="New value";
                                                        input type="text" name="comment" required maxlength="2000" placeholder="Comment (required)" aria-label="Comment";
                                                        button type="submit" { "Save" }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    @if !d.clauses.is_empty() {
                        section.card id="clauses" {
                            h2 { "Clauses" }
                            table.clauses {
                                @for c in &d.clauses {
                                    tr {
                                        td.num { (c.number.as_deref().unwrap_or("")) }
                                        td { (c.heading.as_deref().unwrap_or("")) @if let Some(cat) = &c.category { div.muted.small { (cat.replace('_', " ")) } } }
                                        td { @if let Some(r) = c.risk.as_deref().filter(|r| *r != "none") { span class={ "sev " (r) } { (r) } } }
                                    }
                                }
                            }
                        }
                    }
                    @if !playbook.is_empty() {
                        section.card id="playbook" {
                            h2 { "Playbook" }
                            @for f in &playbook {
                                @let status = f.get("status").map(json_text).unwrap_or_default();
                                div class={ "pb " (status) } {
                                    div.flaghead { strong { (f.get("position").map(json_text).unwrap_or_default().replace('_', " ")) } span class={ "sev pb-" (status) } { (status) } }
                                    p.small { (f.get("statement").map(json_text).unwrap_or_default()) }
                                    @if let Some(found) = f.get("found").map(json_text).filter(|s| !s.is_empty()) { p.small { "Found: " (found) } }
                                    @if let Some(gap) = f.get("gap").map(json_text).filter(|s| !s.is_empty()) { p.small { "Gap: " (gap) } }
                                    @if let Some(cl) = f.get("clause").map(json_text).filter(|s| !s.is_empty()) { p.muted.small { "Clause " (cl) } }
                                }
                            }
                        }
                    }
                    @if !d.lines.is_empty() {
                        section.card {
                            h2 { "Lines" }
                            table.lines {
                                @for l in &d.lines {
                                    tr { td { (l.description.as_deref().unwrap_or("")) } td.num { (l.quantity.as_deref().unwrap_or("")) } td.num { (l.amount.as_deref().unwrap_or("")) } }
                                }
                            }
                        }
                    }
                    section.card id="history" {
                        h2 { "History" }
                        ol.history {
                            @for a in p.audit {
                                li {
                                    span.muted { (a.at.format("%Y-%m-%d %H:%M:%S")) } " "
                                    strong { (a.actor) } " " (a.action.replace('_', " "))
                                    @if let Some(prev) = a.details.get("previous").or(a.details.get("previous_status")) {
                                        " · previous: " (json_text(prev))
                                    }
                                    @if let Some(f) = a.details.get("field") { " · " (json_text(f)) " → " (a.details.get("value").map(json_text).unwrap_or_default()) }
                                    @if let Some(c) = a.details.get("comment") { div.small { "“" (json_text(c)) "”" } }
                                    @if let Some(rs) = a.details.get("reasons").and_then(Value::as_array) { div.small.muted { (rs.iter().map(json_text).collect::<Vec<_>>().join("; ")) } }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub fn users(user: &User, csrf: &str, list: &[(User, bool)]) -> Page {
    layout(
        "Users",
        Some((user, csrf)),
        html! {
            section.head { h1 { "Users" } p.muted { "Create or reset one with " code { "liasse user create --login <login> --role <role>" } "." } }
            table.queue id="users" {
                thead { tr { th { "Login" } th { "Role" } th { "State" } } }
                tbody { @for (u, disabled) in list { tr { td { (u.login) } td { (role_label(&u.role)) } td { @if *disabled { "disabled" } @else { "active" } } } } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_text_escapes_nests_and_keeps_char_boundaries() {
        let m = |a, b, label: &str| Mark {
            page: 1,
            span: Some((a, b)),
            bbox: None,
            class: "field",
            label: label.into(),
        };
        let (a, b) = (m(0, 3, "n"), m(8, 11, "x"));
        let html = marked_text("<b>é & total", &[&a, &b]).into_string();
        assert_eq!(
            html,
            "<mark class=\"field\" title=\"n\">&lt;b&gt;</mark>é &amp; <mark class=\"field\" title=\"x\">tot</mark>al"
        );
        // A mark inside another is nested; one crossing its edge is skipped.
        let (outer, inner, crossing) = (m(0, 10, "clause"), m(2, 5, "flag"), m(8, 12, "x"));
        let html = marked_text("abcdefghijklmn", &[&outer, &inner, &crossing]).into_string();
        assert_eq!(
            html,
            "<mark class=\"field\" title=\"clause\">ab<mark class=\"field\" title=\"flag\">cde</mark>fghij</mark>klmn"
        );
        // A span inside a multi-byte character is skipped, not a panic.
        let bad = m(4, 5, "bad");
        assert_eq!(marked_text("<b>é", &[&bad]).into_string(), "&lt;b&gt;é");
    }

    #[test]
    fn flag_evidence_locations_are_found_anywhere_in_the_json() {
        let ev = serde_json::json!({"invoice": 1, "evidence": [{"locations": [{"page": 2, "span": {"start": 4, "end": 9}, "text": "x", "bbox": {"x": 1, "y": 2, "w": 3, "h": 4}}]}]});
        let mut out = Vec::new();
        locations(&ev, "flag", "iban.checksum", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].page, 2);
        assert_eq!(out[0].span, Some((4, 9)));
        assert_eq!(out[0].bbox, Some((1.0, 2.0, 3.0, 4.0)));
    }
}
