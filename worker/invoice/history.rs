//! History-based checks: duplicates by content (the same file; the same supplier and number,
//! allowing OCR confusions and transposed characters; the same supplier, amount and date; a
//! re-dated copy), bank details that differ from the supplier's earlier invoices, a supplier never
//! seen before.
//!
//! The history comes in as data: a [`History`] snapshot of earlier invoices. [`HistoryStore`] is
//! what a store implements (this module's [`MemoryHistory`] for `liasse process`; a database
//! for the service).

use super::rules::InvoiceRules;
use super::{ExtractedInvoice, Flag};
use crate::document::Document;
use crate::evidence::Evidence;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What the history keeps of one earlier invoice (no personal data beyond the supplier's ids
/// and bank account, which the checks need).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastInvoice {
    pub content_hash: String,
    /// The supplier key: VAT number, else SIREN, else the normalised name.
    pub supplier: String,
    pub number: Option<String>,
    pub issue_date: Option<NaiveDate>,
    pub gross_total: Option<Decimal>,
    pub iban: Option<String>,
    /// Line amounts, sorted: the fingerprint of a re-dated copy.
    pub line_amounts: Vec<Decimal>,
}

/// The earlier invoices the checks look at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub invoices: Vec<PastInvoice>,
}

/// A store of earlier invoices: a snapshot for one new invoice, and recording it afterwards.
pub trait HistoryStore {
    /// The earlier invoices of `supplier` and any with `content_hash` (more is harmless).
    fn snapshot(&self, supplier: Option<&str>, content_hash: &str) -> History;
    fn record(&mut self, past: PastInvoice);
}

/// An in-memory history: what `liasse process` has seen so far in one run.
#[derive(Debug, Clone, Default)]
pub struct MemoryHistory {
    pub invoices: Vec<PastInvoice>,
}

impl HistoryStore for MemoryHistory {
    fn snapshot(&self, supplier: Option<&str>, content_hash: &str) -> History {
        History {
            invoices: self
                .invoices
                .iter()
                .filter(|p| Some(p.supplier.as_str()) == supplier || p.content_hash == content_hash)
                .cloned()
                .collect(),
        }
    }
    fn record(&mut self, past: PastInvoice) {
        self.invoices.push(past);
    }
}

fn alnum_upper(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase).collect()
}

/// The supplier key of an invoice.
pub fn supplier_key(inv: &ExtractedInvoice) -> Option<String> {
    let p = &inv.supplier;
    p.vat_id
        .as_ref()
        .map(|v| alnum_upper(&v.value))
        .or_else(|| p.siren.as_ref().map(|s| format!("SIREN:{}", s.value)))
        .or_else(|| p.name.as_ref().map(|n| format!("NAME:{}", alnum_upper(&n.value))))
}

/// What the history keeps of this invoice.
pub fn past_of(doc: &Document, inv: &ExtractedInvoice) -> Option<PastInvoice> {
    let mut line_amounts: Vec<Decimal> = inv.lines.iter().map(|l| l.amount.value).collect();
    line_amounts.sort();
    Some(PastInvoice {
        content_hash: doc.content_hash.0.clone(),
        supplier: supplier_key(inv)?,
        number: inv.number.as_ref().map(|n| n.value.clone()),
        issue_date: inv.issue_date.as_ref().map(|d| d.value),
        gross_total: inv.gross_total.as_ref().map(|g| g.value),
        iban: inv.iban.as_ref().map(|i| i.value.clone()),
        line_amounts,
    })
}

/// An invoice number with the characters OCR confuses mapped to one form (O→0, I/L→1, S→5,
/// B→8, Z→2, G→6) and separators removed.
pub fn number_shape(n: &str) -> String {
    alnum_upper(n)
        .chars()
        .map(|c| match c {
            'O' | 'Q' | 'D' => '0',
            'I' | 'L' | '|' => '1',
            'S' => '5',
            'B' => '8',
            'Z' => '2',
            'G' => '6',
            c => c,
        })
        .collect()
}

/// The same number up to OCR confusions, separators, or one transposition of adjacent characters.
pub fn same_number(a: &str, b: &str) -> bool {
    let (x, y) = (number_shape(a), number_shape(b));
    if x.is_empty() || y.is_empty() {
        return false;
    }
    if x == y {
        return true;
    }
    let (x, y): (Vec<char>, Vec<char>) = (x.chars().collect(), y.chars().collect());
    if x.len() != y.len() {
        return false;
    }
    let diff: Vec<usize> = (0..x.len()).filter(|&i| x[i] != y[i]).collect();
    diff.len() == 2 && diff[1] == diff[0] + 1 && x[diff[0]] == y[diff[1]] && x[diff[1]] == y[diff[0]]
}

/// The history checks of one invoice.
pub fn check(
    doc: &Document,
    inv: &ExtractedInvoice,
    history: &History,
    rules: &InvoiceRules,
    lookback_days: i64,
    today: NaiveDate,
) -> Vec<Flag> {
    let mut flags = Vec::new();
    let mut flag =
        |id: &str, detail: String, evidence: Vec<Evidence>| flags.extend(rules.flag(id, detail, evidence));

    let hash = doc.content_hash.as_str();
    if let Some(p) = history.invoices.iter().find(|p| p.content_hash == hash) {
        let n = p.number.clone().unwrap_or_default();
        flag("duplicate.same_file", format!("same file as the earlier invoice {n}"), vec![]);
        return flags;
    }
    let Some(key) = supplier_key(inv) else { return flags };
    let since = today - chrono::Duration::days(lookback_days);
    let theirs: Vec<&PastInvoice> = history.invoices.iter().filter(|p| p.supplier == key).collect();
    if theirs.is_empty() {
        let ev = inv.supplier.vat_id.as_ref().or(inv.supplier.name.as_ref()).map(|g| g.evidence.clone());
        flag("supplier.new", "no earlier invoice from this supplier".into(), ev.into_iter().collect());
        return flags;
    }
    let recent: Vec<&&PastInvoice> =
        theirs.iter().filter(|p| p.issue_date.is_none_or(|d| d >= since)).collect();
    let number = inv.number.as_ref();
    let gross = inv.gross_total.as_ref();
    let date = inv.issue_date.as_ref();
    let mut lines: Vec<Decimal> = inv.lines.iter().map(|l| l.amount.value).collect();
    lines.sort();
    let mut dup_number = false;
    if let Some(n) = number
        && let Some(p) = recent.iter().find(|p| p.number.as_deref().is_some_and(|m| same_number(m, &n.value)))
    {
        dup_number = true;
        flag(
            "duplicate.number",
            format!("number {} matches the earlier invoice {}", n.value, p.number.as_deref().unwrap_or("")),
            vec![n.evidence.clone()],
        );
    }
    if !dup_number
        && let (Some(g), Some(d)) = (gross, date)
        && let Some(p) =
            recent.iter().find(|p| p.gross_total == Some(g.value) && p.issue_date == Some(d.value))
    {
        flag(
            "duplicate.amount_date",
            format!(
                "same amount {} and date {} as the earlier invoice {}",
                g.value,
                d.value,
                p.number.as_deref().unwrap_or("")
            ),
            vec![g.evidence.clone(), d.evidence.clone()],
        );
    } else if !dup_number
        && let (Some(g), Some(d)) = (gross, date)
        && !lines.is_empty()
        && let Some(p) = recent.iter().find(|p| {
            p.gross_total == Some(g.value)
                && p.issue_date.is_some_and(|pd| pd != d.value)
                && p.line_amounts == lines
        })
    {
        flag(
            "duplicate.redated",
            format!(
                "same amount {} and lines as the earlier invoice {} of {}",
                g.value,
                p.number.as_deref().unwrap_or(""),
                p.issue_date.map(|d| d.to_string()).unwrap_or_default()
            ),
            vec![g.evidence.clone(), d.evidence.clone()],
        );
    }
    if let Some(iban) = &inv.iban {
        let known: Vec<&str> = theirs.iter().filter_map(|p| p.iban.as_deref()).collect();
        if !known.is_empty() && !known.contains(&iban.value.as_str()) {
            flag(
                "bank.changed",
                format!("IBAN differs from the {} earlier invoice(s) of this supplier", known.len()),
                vec![iban.evidence.clone()],
            );
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::extract;
    use crate::invoice::extract::tests::{doc, rules};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }
    const BASE: &str = "Acme SARL\nN° TVA : FR89438050700\nFacture n° : FA-2026-0142\nDate : 20/11/2026\nStylos 2 boîte 10,00 € 20 % 20,00 €\nTotal TTC 24,00 €\nIBAN : FR76 3000 4520 8671 0153 2618 077";

    fn run(earlier: &[&str], now: &str) -> Vec<String> {
        let mut h = MemoryHistory::default();
        for e in earlier {
            let d = doc(&[e]);
            h.record(past_of(&d, &extract(&d, rules())).unwrap());
        }
        let d = doc(&[now]);
        let inv = extract(&d, rules());
        let snap = h.snapshot(supplier_key(&inv).as_deref(), d.content_hash.as_str());
        check(&d, &inv, &snap, rules(), 365, today()).into_iter().map(|f| f.rule).collect()
    }

    #[test]
    fn numbers_with_ocr_confusions_and_transpositions() {
        assert!(same_number("FA-2026-0142", "FA 2026 O142"));
        assert!(same_number("INV-10427", "lNV-1O427"));
        assert!(same_number("FA-2026-0142", "FA-2026-0124"));
        assert!(!same_number("FA-2026-0142", "FA-2026-0143"));
        assert!(!same_number("FA-2026-0142", "FA-2026-4102"));
    }

    #[test]
    fn duplicates() {
        assert_eq!(run(&[], BASE), vec!["supplier.new"]);
        assert_eq!(run(&[BASE], BASE), vec!["duplicate.same_file"]);
        assert_eq!(run(&[BASE], &BASE.replace("0142", "O124")), vec!["duplicate.number"]);
        assert_eq!(run(&[BASE], &BASE.replace("0142", "0999")), vec!["duplicate.amount_date"]);
        let redated = BASE.replace("0142", "0999").replace("20/11/2026", "24/11/2026");
        assert_eq!(run(&[BASE], &redated), vec!["duplicate.redated"]);
        let other = redated
            .replace("Total TTC 24,00", "Total TTC 36,00")
            .replace("2 boîte 10,00 € 20 % 20,00", "3 boîte 10,00 € 20 % 30,00");
        assert!(run(&[BASE], &other).is_empty());
    }

    #[test]
    fn bank_details_changed() {
        let new_iban = BASE
            .replace("0142", "0999")
            .replace("20/11/2026", "24/11/2026")
            .replace("Total TTC 24,00", "Total TTC 36,00")
            .replace("FR76 3000 4520 8671 0153 2618 077", "LT12 1000 0111 0100 1000");
        assert_eq!(run(&[BASE], &new_iban), vec!["bank.changed"]);
    }

    #[test]
    fn lookback_window() {
        let old = BASE.replace("20/11/2026", "20/11/2024");
        let again = old.replace("Total TTC", "Montant TTC");
        // An earlier invoice outside the window is not a duplicate by number.
        assert!(run(&[&old], &again).iter().all(|f| !f.starts_with("duplicate.")));
    }
}
