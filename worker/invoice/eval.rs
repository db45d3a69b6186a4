//! Extraction scoring against ground truth: per field, precision (correct among the values
//! emitted), recall and exact-match rate (correct among the documents whose truth has the field).
//! Pure functions; `liasse eval invoices` reads the corpora and prints the tables.

use super::ExtractedInvoice;
use crate::document::squash as norm;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

/// The fields scored, in table order.
pub const FIELDS: [&str; 11] = [
    "number",
    "issue_date",
    "due_date",
    "currency",
    "gross_total",
    "net_total",
    "vat_total",
    "supplier_name",
    "supplier_vat",
    "customer_name",
    "iban",
];

/// A true value; `AnyOf` when any of several is right (a party with several VAT ids).
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    Text(String),
    Amount(Decimal),
    Date(NaiveDate),
    AnyOf(Vec<String>),
}

/// The extracted value of a field, as text for comparison.
enum Got {
    Text(String),
    Amount(Decimal),
    Date(NaiveDate),
}

/// The extracted value of a field and how it was read (the evidence's method, as JSON).
fn got_with_method(e: &ExtractedInvoice, field: &str) -> Option<(Got, String)> {
    fn how(ev: &crate::evidence::Evidence) -> String {
        serde_json::to_string(&ev.method).unwrap_or_default()
    }
    let t = |g: &Option<crate::evidence::Grounded<String>>| {
        g.as_ref().map(|g| (Got::Text(g.value.clone()), how(&g.evidence)))
    };
    let a = |g: &Option<crate::evidence::Grounded<Decimal>>| {
        g.as_ref().map(|g| (Got::Amount(g.value), how(&g.evidence)))
    };
    let d = |g: &Option<crate::evidence::Grounded<NaiveDate>>| {
        g.as_ref().map(|g| (Got::Date(g.value), how(&g.evidence)))
    };
    match field {
        "number" => t(&e.number),
        "issue_date" => d(&e.issue_date),
        "due_date" => d(&e.due_date),
        "currency" => t(&e.currency),
        "gross_total" => a(&e.gross_total),
        "net_total" => a(&e.net_total),
        "vat_total" => a(&e.vat_total),
        "supplier_name" => t(&e.supplier.name),
        "supplier_vat" => t(&e.supplier.vat_id),
        "customer_name" => t(&e.customer.name),
        "iban" => t(&e.iban),
        _ => None,
    }
}

impl std::fmt::Display for Got {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Got::Text(t) => write!(f, "{t:?}"),
            Got::Amount(a) => write!(f, "{a}"),
            Got::Date(d) => write!(f, "{d}"),
        }
    }
}

impl std::fmt::Display for Truth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Truth::Text(t) => write!(f, "{t:?}"),
            Truth::Amount(a) => write!(f, "{a}"),
            Truth::Date(d) => write!(f, "{d}"),
            Truth::AnyOf(ts) => write!(f, "any of {ts:?}"),
        }
    }
}

/// A trailing legal form ("Au bon moulin SARL", "Lieferant GmbH"): party names are compared
/// without it, since the page prints it and the ground truth often leaves it out (or the reverse).
static LEGAL_FORM: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"(?i)[\s,]+(?:sarl|sasu|sas|sa|eurl|snc|gmbh|ag|kg|ohg|ltd\.?|limited|inc\.?|llc|plc|b\.\s?v\.?|bv|n\.\s?v\.?|nv|s\.\s?a\.?|srl|spa|a\.\s?g\.)\s*$",
    )
    .expect("legal form regex")
});

/// A party name as compared: without a trailing legal form, then as `norm`.
fn norm_name(s: &str) -> String {
    norm(&LEGAL_FORM.replace(s.trim(), ""))
}

/// Is the truth printed in `page` (already `norm`ed)? Amounts in their spellings with two
/// decimals ("1589.80", "1.589,80", "1 589,80" all norm to "158980"; "119" also as "119").
fn printed(t: &Truth, page: &str) -> bool {
    let found = |s: &str| !s.is_empty() && page.contains(&norm(s));
    match t {
        Truth::Text(t) => found(t),
        Truth::AnyOf(ts) => ts.iter().any(|t| found(t)),
        Truth::Amount(a) => {
            let a = a.abs();
            found(&format!("{:.2}", a)) || (a.fract().is_zero() && found(&a.trunc().to_string()))
        }
        Truth::Date(_) => false,
    }
}

fn correct(field: &str, g: &Got, t: &Truth) -> bool {
    let n = if field.ends_with("_name") { norm_name } else { norm };
    match (g, t) {
        (Got::Text(g), Truth::Text(t)) => n(g) == n(t),
        (Got::Text(g), Truth::AnyOf(ts)) => ts.iter().any(|t| n(g) == n(t)),
        (Got::Amount(g), Truth::Amount(t)) => g.abs() == t.abs(),
        (Got::Date(g), Truth::Date(t)) => g == t,
        _ => false,
    }
}

/// Per-field counts over one corpus.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FieldScore {
    /// Documents whose truth has the field.
    pub truth: usize,
    /// Of those, documents where a value was emitted.
    pub emitted: usize,
    /// Of those, documents where it was right.
    pub correct: usize,
    /// Documents whose true value is printed on the visible pages (a text found in the page text,
    /// an amount in one of its usual spellings; approximate: a substring of the page's letters and
    /// digits). Not shown for dates and currencies (many spellings, symbols).
    pub printed: usize,
}

impl FieldScore {
    pub fn precision(&self) -> f64 {
        if self.emitted == 0 { 0.0 } else { self.correct as f64 / self.emitted as f64 }
    }
    pub fn recall(&self) -> f64 {
        if self.truth == 0 { 0.0 } else { self.correct as f64 / self.truth as f64 }
    }
}

/// One document's comparison: the fields missed, and for each what was read and the truth.
#[derive(Debug, Clone, Serialize)]
pub struct DocResult {
    pub id: String,
    pub misses: Vec<String>,
    /// "field: read X, truth Y" (or "read nothing"), one per miss.
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Scores {
    pub corpus: String,
    pub documents: usize,
    pub fields: BTreeMap<String, FieldScore>,
    pub results: Vec<DocResult>,
}

impl Scores {
    pub fn new(corpus: &str) -> Scores {
        Scores { corpus: corpus.into(), ..Default::default() }
    }

    /// Score one document (`None`: no invoice was read from it).
    /// `page_text`: the document's visible text, to count the truths printed on it.
    pub fn add(
        &mut self,
        id: &str,
        e: Option<&ExtractedInvoice>,
        truth: &BTreeMap<&'static str, Truth>,
        page_text: Option<&str>,
    ) {
        self.documents += 1;
        let page = page_text.map(norm).unwrap_or_default();
        let mut misses = Vec::new();
        let mut details = Vec::new();
        for f in FIELDS {
            let Some(t) = truth.get(f) else { continue };
            let s = self.fields.entry(f.to_string()).or_default();
            s.truth += 1;
            if printed(t, &page) {
                s.printed += 1;
            }
            match e.and_then(|e| got_with_method(e, f)) {
                Some((g, how)) => {
                    s.emitted += 1;
                    if correct(f, &g, t) {
                        s.correct += 1;
                    } else {
                        misses.push(f.to_string());
                        details.push(format!("{f}: read {g}, truth {t} (by {how})"));
                    }
                }
                None => {
                    misses.push(format!("{f} (none)"));
                    details.push(format!("{f}: read nothing, truth {t}"));
                }
            }
        }
        self.results.push(DocResult { id: id.into(), misses, details });
    }

    /// A Markdown table: field, documents with truth, precision, recall = exact match.
    pub fn table(&self) -> String {
        let mut s = format!(
            "### {} ({} documents)\n\n| field | with truth | truth printed | emitted | correct | precision | recall (exact match) |\n|---|---:|---:|---:|---:|---:|---:|\n",
            self.corpus, self.documents
        );
        for f in FIELDS {
            if let Some(x) = self.fields.get(f) {
                // Dates have too many spellings, a currency is often printed as its symbol: not counted.
                let printed = if f.ends_with("date") || f == "currency" {
                    "—".to_string()
                } else {
                    x.printed.to_string()
                };
                s.push_str(&format!(
                    "| {f} | {} | {printed} | {} | {} | {:.1} % | {:.1} % |\n",
                    x.truth,
                    x.emitted,
                    x.correct,
                    100.0 * x.precision(),
                    100.0 * x.recall()
                ));
            }
        }
        s
    }

    /// Each document's misses, one line per field: what was read and the truth.
    pub fn misses_report(&self) -> String {
        let mut s = format!("### misses: {}\n", self.corpus);
        for r in self.results.iter().filter(|r| !r.details.is_empty()) {
            s.push_str(&format!("{}\n", r.id));
            for d in &r.details {
                s.push_str(&format!("  {d}\n"));
            }
        }
        s
    }
}

/// Truth from an invoice2data expected JSON object.
pub fn truth_invoice2data(v: &serde_json::Value) -> BTreeMap<&'static str, Truth> {
    let mut m = BTreeMap::new();
    let text = |k: &str| {
        v.get(k).and_then(|x| match x {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let amount = |k: &str| {
        v.get(k).and_then(|x| match x {
            serde_json::Value::Number(n) => n.to_string().parse::<Decimal>().ok(),
            serde_json::Value::String(s) => s.parse::<Decimal>().ok(),
            _ => None,
        })
    };
    let date = |k: &str| text(k).and_then(|s| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok());
    if let Some(x) = text("invoice_number") {
        m.insert("number", Truth::Text(x));
    }
    if let Some(x) = date("date") {
        m.insert("issue_date", Truth::Date(x));
    }
    if let Some(x) = date("date_due") {
        m.insert("due_date", Truth::Date(x));
    }
    if let Some(x) = text("currency") {
        m.insert("currency", Truth::Text(x));
    }
    if let Some(x) = amount("amount") {
        m.insert("gross_total", Truth::Amount(x));
    }
    if let Some(x) = amount("amount_untaxed") {
        m.insert("net_total", Truth::Amount(x));
    }
    if let Some(x) = amount("amount_tax") {
        m.insert("vat_total", Truth::Amount(x));
    }
    if let Some(x) = text("issuer") {
        m.insert("supplier_name", Truth::Text(x));
    }
    if let Some(x) = text("vat") {
        m.insert("supplier_vat", Truth::Text(x));
    }
    m
}

/// Truth from a row of the e-invoice corpus ground truth (values of the embedded XML).
pub fn truth_einvoice(v: &serde_json::Value) -> BTreeMap<&'static str, Truth> {
    let mut m = BTreeMap::new();
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
    let amount = |k: &str| s(k).and_then(|x| x.parse::<Decimal>().ok());
    let date = |k: &str| s(k).and_then(|x| NaiveDate::parse_from_str(&x, "%Y%m%d").ok());
    let list = |k: &str| -> Vec<String> {
        v.get(k)
            .and_then(|x| x.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    if let Some(x) = s("invoice_number") {
        m.insert("number", Truth::Text(x));
    }
    if let Some(x) = date("issue_date") {
        m.insert("issue_date", Truth::Date(x));
    }
    if let Some(x) = date("due_date") {
        m.insert("due_date", Truth::Date(x));
    }
    if let Some(x) = s("currency") {
        m.insert("currency", Truth::Text(x));
    }
    if let Some(x) = amount("gross_total") {
        m.insert("gross_total", Truth::Amount(x));
    }
    if let Some(x) = amount("net_total") {
        m.insert("net_total", Truth::Amount(x));
    }
    if let Some(x) = amount("tax_total") {
        m.insert("vat_total", Truth::Amount(x));
    }
    if let Some(x) = s("seller_name") {
        m.insert("supplier_name", Truth::Text(x));
    }
    let vats: Vec<String> = list("seller_vat_ids")
        .into_iter()
        .filter(|x| x.len() > 2 && x[..2].chars().all(|c| c.is_ascii_alphabetic()))
        .collect();
    if !vats.is_empty() {
        m.insert("supplier_vat", Truth::AnyOf(vats));
    }
    if let Some(x) = s("buyer_name") {
        m.insert("customer_name", Truth::Text(x));
    }
    let ibans = list("ibans");
    if !ibans.is_empty() {
        m.insert("iban", Truth::AnyOf(ibans));
    }
    m
}

/// Truth from a fixture's MANIFEST facts.
pub fn truth_facts(f: &serde_json::Value) -> BTreeMap<&'static str, Truth> {
    let mut m = BTreeMap::new();
    let s = |v: &serde_json::Value| v.as_str().map(String::from);
    let amount = |v: &serde_json::Value| s(v).and_then(|x| x.parse::<Decimal>().ok());
    let date = |v: &serde_json::Value| s(v).and_then(|x| NaiveDate::parse_from_str(&x, "%Y-%m-%d").ok());
    let mut put = |k: &'static str, t: Option<Truth>| {
        if let Some(t) = t {
            m.insert(k, t);
        }
    };
    put("number", s(&f["number"]).map(Truth::Text));
    put("issue_date", date(&f["issue_date"]).map(Truth::Date));
    put("due_date", date(&f["due_date"]).map(Truth::Date));
    put("currency", s(&f["currency"]).map(Truth::Text));
    put("gross_total", amount(&f["totals"]["gross"]).map(Truth::Amount));
    put("net_total", amount(&f["totals"]["net"]).map(Truth::Amount));
    put("vat_total", amount(&f["totals"]["vat"]).map(Truth::Amount));
    put("supplier_name", s(&f["seller"]["name"]).map(Truth::Text));
    put("supplier_vat", s(&f["seller"]["vat"]).map(Truth::Text));
    put("customer_name", s(&f["buyer"]["name"]).map(Truth::Text));
    put("iban", s(&f["iban"]).map(Truth::Text));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::extract;
    use crate::invoice::extract::tests::{doc, rules};

    #[test]
    fn party_names_compare_without_a_trailing_legal_form() {
        let t = |s: &str| Truth::Text(s.into());
        let g = |s: &str| Got::Text(s.into());
        assert!(correct("supplier_name", &g("Au bon moulin SARL"), &t("Au bon moulin")));
        assert!(correct("supplier_name", &g("Lieferant GmbH"), &t("LIEFERANT")));
        assert!(correct("customer_name", &g("Kunden AG"), &t("Kunden")));
        assert!(!correct("supplier_name", &g("Au bon moulin SARL"), &t("Au bon pain")));
        // Only names: an identifier keeps every character.
        assert!(!correct("number", &g("F-1 SA"), &t("F-1")));
        // A legal form inside the name stays.
        assert!(!correct("supplier_name", &g("SA Holding"), &t("Holding")));
    }

    #[test]
    fn scores_count_precision_and_recall() {
        let d = doc(&["Acme\nFacture n° : F-1\nDate : 20/11/2026\nTotal TTC 12,00 €"]);
        let e = extract(&d, rules());
        let truth = truth_invoice2data(&serde_json::json!({
            "invoice_number": "F-1", "date": "2026-11-20", "amount": 12.5, "issuer": "Acme", "vat": "FR1"
        }));
        let mut s = Scores::new("t");
        s.add("a", Some(&e), &truth, Some(&d.pages[0].text));
        let f = |k: &str| s.fields[k].clone();
        assert_eq!((f("number").truth, f("number").correct), (1, 1));
        assert_eq!((f("gross_total").emitted, f("gross_total").correct), (1, 0));
        assert_eq!(f("supplier_vat").emitted, 0);
        assert_eq!(f("supplier_name").correct, 1);
        assert!(s.table().contains("| number | 1 | 1 | 1 | 1 | 100.0 % | 100.0 % |"), "{}", s.table());
        assert_eq!(f("gross_total").printed, 0);
        assert!(s.table().contains("| issue_date | 1 | — |"));
    }
}
