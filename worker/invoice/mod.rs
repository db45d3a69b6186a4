//! Invoices and credit notes: grounded, template-free field extraction in French and English
//! (`extract`), validation rules (`validate`) and history-based checks (`history`).
//!
//! No IO here: the document, the compiled rules and the history snapshot come in as data; the
//! result is data. Every value is a [`Grounded`] value (page, span, OCR box, method, confidence);
//! a value that cannot be grounded is not emitted. When the document carries an e-invoice XML, its
//! values win and every disagreement with the visible text becomes a flag.

pub mod eval;
pub mod extract;
pub mod fraud;
pub mod history;
pub mod parse;
pub mod rules;
pub mod templates;
pub mod validate;
pub mod views;

use crate::document::Document;
use crate::evidence::{Evidence, Grounded, Method};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use extract::{ExtractOptions, extract, extract_with, is_invoice};
pub use history::{History, HistoryStore, MemoryHistory, PastInvoice};
pub use rules::InvoiceRules;

#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    /// A rule file is missing, unreadable or invalid: the engine does not start.
    #[error("invoice rules: {0}")]
    Rules(String),
    /// The fraud model cannot be loaded or run.
    #[error("fraud model: {0}")]
    Model(String),
}

/// Invoice or credit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    Invoice,
    CreditNote,
}

/// Where the values mostly come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The embedded or bare e-invoice XML (the visible text is compared with it).
    EInvoice,
    /// The visible text (text layer or OCR).
    Text,
}

/// A party as read from an invoice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartyFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub siren: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub siret: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_id: Option<Grounded<String>>,
    /// ISO 3166 country code, from the VAT number or the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Grounded<String>>,
}

/// One line of the VAT breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VatLine {
    pub rate: Grounded<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Grounded<Decimal>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Grounded<Decimal>>,
}

/// One invoice line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    /// The page the line's amount is printed on (0 for an e-invoice line not found on a page).
    pub page: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Grounded<String>>,
    pub description: Grounded<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Grounded<Decimal>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Grounded<Decimal>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_rate: Option<Grounded<Decimal>>,
    pub amount: Grounded<Decimal>,
}

/// A finding about an invoice: a named rule, why it fired, how much it weighs, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    /// Rule id, e.g. `iban.checksum`, `BR-CO-15`, `duplicate.number`.
    pub rule: String,
    pub reason: String,
    /// The details of this occurrence (the values compared).
    pub detail: String,
    /// Weight of the rule in the rule score (from `rules/invoice/checks.toml`).
    pub weight: f32,
    pub evidence: Vec<Evidence>,
}

/// What was read of an invoice or credit note. Amounts of a credit note are negative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedInvoice {
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Grounded<InvoiceKind>>,
    pub supplier: PartyFields,
    pub customer: PartyFields,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_date: Option<Grounded<NaiveDate>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<Grounded<NaiveDate>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_terms: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iban: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bic: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_total: Option<Grounded<Decimal>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_total: Option<Grounded<Decimal>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gross_total: Option<Grounded<Decimal>>,
    /// Amounts already paid (e-invoice BT-113).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepaid: Option<Grounded<Decimal>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_due: Option<Grounded<Decimal>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vat_breakdown: Vec<VatLine>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<LineItem>,
    /// Findings of extraction itself (e-invoice XML versus visible text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
    /// A supplier template's fields that have no place above (invoice2data names: `partner_name`,
    /// a table's columns…), each grounded where the template read it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<ExtraField>,
}

/// One extra field of a supplier template, its value as invoice2data prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtraField {
    pub name: String,
    pub value: Grounded<serde_json::Value>,
}

impl ExtractedInvoice {
    pub fn is_credit_note(&self) -> bool {
        self.kind.as_ref().is_some_and(|k| k.value == InvoiceKind::CreditNote)
    }
}

/// Pass, review or block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Pass,
    Review,
    Block,
}

/// One reason that contributed to the risk, with its weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub rule: String,
    pub weight: f32,
    pub detail: String,
}

/// The fraud risk of one invoice: a probability, the decision its thresholds give, and every
/// contributing reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    pub score: f32,
    pub decision: Decision,
    /// How the score was computed: `rules` (1 − Π(1 − weight) over the flags) or the model's name
    /// and version.
    pub method: Method,
    pub reasons: Vec<Reason>,
}

/// One invoice of a document: the pages it covers, its fields, every flag and the risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysedInvoice {
    pub pages: Vec<u32>,
    pub extracted: ExtractedInvoice,
    pub flags: Vec<Flag>,
    pub risk: Risk,
}

/// The invoice stage's result for one document: one entry per invoice it holds (a PDF of several
/// invoices is split).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceAnalysis {
    pub invoices: Vec<AnalysedInvoice>,
}

/// The rule score: 1 − Π(1 − weight) over the flags (each rule counted once, at its weight).
pub fn rule_risk(flags: &[Flag], config: &crate::config::InvoiceConfig) -> Risk {
    let mut seen: Vec<&str> = Vec::new();
    let mut keep = 1.0f32;
    let mut reasons = Vec::new();
    for f in flags {
        if !seen.contains(&f.rule.as_str()) {
            seen.push(&f.rule);
            keep *= 1.0 - f.weight.clamp(0.0, 1.0);
        }
        reasons.push(Reason { rule: f.rule.clone(), weight: f.weight, detail: f.detail.clone() });
    }
    reasons.sort_by(|a, b| b.weight.total_cmp(&a.weight).then_with(|| a.rule.cmp(&b.rule)));
    let score = ((1.0 - keep) * 10_000.0).round() / 10_000.0;
    Risk {
        score,
        decision: decide(score, config),
        method: Method::Derived { rule: "risk.noisy_or".into() },
        reasons,
    }
}

pub fn decide(score: f32, config: &crate::config::InvoiceConfig) -> Decision {
    if score >= config.block_threshold {
        Decision::Block
    } else if score >= config.review_threshold {
        Decision::Review
    } else {
        Decision::Pass
    }
}

/// The document with only `pages` readable (the other pages' text and words emptied), so that
/// page numbers and spans stay those of the whole document.
fn only_pages(doc: &Document, pages: &[u32]) -> Document {
    let mut d = doc.clone();
    for p in &mut d.pages {
        if !pages.contains(&p.number) {
            p.text.clear();
            p.words.clear();
            p.layout = None;
        }
    }
    d
}

/// The invoices a document holds, as page groups: a page that titles an invoice and carries
/// another number than the current invoice's starts a new one.
pub fn split(doc: &Document, rules: &InvoiceRules) -> Vec<Vec<u32>> {
    if doc.einvoice.is_some() || doc.pages.len() < 2 {
        return vec![doc.pages.iter().map(|p| p.number).collect()];
    }
    let mut groups: Vec<(Option<String>, Vec<u32>)> = Vec::new();
    for p in &doc.pages {
        let view = only_pages(doc, &[p.number]);
        let inv = extract::extract_text(&view, rules);
        let starts = inv.kind.is_some()
            && match (&inv.number, groups.last()) {
                (Some(n), Some((Some(cur), _))) => !history::same_number(&n.value, cur),
                (Some(_), Some((None, _))) => false,
                (_, None) => true,
                (None, _) => false,
            };
        match groups.last_mut() {
            Some(g) if !starts => {
                g.1.push(p.number);
                if g.0.is_none() {
                    g.0 = inv.number.map(|n| n.value);
                }
            }
            _ => groups.push((inv.number.map(|n| n.value), vec![p.number])),
        }
    }
    groups.into_iter().map(|g| g.1).collect()
}

/// The whole invoice stage on one document: split, extract, validate, check against the
/// history, score; every invoice is recorded in the history afterwards.
pub fn analyse(
    doc: &Document,
    rules: &InvoiceRules,
    config: &crate::config::InvoiceConfig,
    history: &mut dyn HistoryStore,
    model: Option<&fraud::FraudModel>,
    today: NaiveDate,
) -> InvoiceAnalysis {
    let groups = split(doc, rules);
    let mut invoices = Vec::new();
    for pages in groups {
        let view = if pages.len() == doc.pages.len() { doc.clone() } else { only_pages(doc, &pages) };
        let extracted = extract(&view, rules);
        let mut flags = extracted.flags.clone();
        flags.extend(validate::validate(&extracted, &view, rules, today));
        let key = history::supplier_key(&extracted);
        let snapshot = history.snapshot(key.as_deref(), doc.content_hash.as_str());
        flags.extend(history::check(doc, &extracted, &snapshot, rules, config.lookback_days, today));
        let risk = rule_risk(&flags, config);
        let mut inv = AnalysedInvoice { pages, extracted, flags, risk };
        if let Some(m) = model {
            match fraud::model_risk(m, &inv, config) {
                Ok(r) => inv.risk = r,
                // The rule score stands; the failure is said in the result.
                Err(e) => inv.risk.reasons.push(Reason {
                    rule: "model.error".into(),
                    weight: 0.0,
                    detail: e.to_string(),
                }),
            }
        }
        invoices.push(inv);
    }
    for inv in &invoices {
        if let Some(mut past) = history::past_of(doc, &inv.extracted) {
            if invoices.len() > 1 {
                // Parts of one file are not "the same file" as each other.
                past.content_hash =
                    format!("{}#{}", doc.content_hash, inv.pages.first().copied().unwrap_or(0));
            }
            history.record(past);
        }
    }
    InvoiceAnalysis { invoices }
}
