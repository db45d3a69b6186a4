//! Automatic approval: whether a processed outcome may be approved without a person
//! (`[review]`, docs/desk.md). A pure function of the outcome and the configuration; the store
//! applies the verdict in the transaction that writes the result.
//!
//! Invariant: low classifier confidence, a risky invoice or contract, or a document that is
//! neither an analysed invoice nor an analysed contract never passes; every reason is kept.

use crate::config::ReviewConfig;
use crate::contract::Level;
use crate::invoice::Decision;
use crate::pipeline::{Outcome, Status};

/// What the worker does with a processed result.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Approved by the rules: why it may pass.
    Approve(Vec<String>),
    /// A person decides: every reason it may not pass.
    Review(Vec<String>),
}

/// The verdict on one outcome; `None` when automatic approval is off or the outcome failed.
pub fn verdict(o: &Outcome, cfg: &ReviewConfig) -> Option<Verdict> {
    if !cfg.auto_approve || o.status != Status::Processed || o.document.is_none() {
        return None;
    }
    let mut why = Vec::new();
    let mut ok = Vec::new();
    match &o.classification {
        None => why.push("no classification".to_string()),
        Some(c) => {
            if c.review {
                why.push("the classifier is below its threshold".to_string());
            }
            if !(c.confidence >= cfg.min_classifier_confidence) {
                why.push(format!(
                    "classifier confidence {:.2} below {:.2}",
                    c.confidence, cfg.min_classifier_confidence
                ));
            } else {
                ok.push(format!("classified {} at {:.2}", c.doc_type.as_str(), c.confidence));
            }
        }
    }
    match (&o.invoice, &o.contract) {
        (Some(a), _) if !a.invoices.is_empty() => {
            for (i, inv) in a.invoices.iter().enumerate() {
                let n = i + 1;
                if inv.risk.decision != Decision::Pass {
                    why.push(format!("invoice {n}: risk decision is not pass"));
                }
                if !(inv.risk.score <= cfg.max_invoice_risk) {
                    why.push(format!(
                        "invoice {n}: risk {:.2} above {:.2}",
                        inv.risk.score, cfg.max_invoice_risk
                    ));
                }
                for f in inv.flags.iter().chain(&inv.extracted.flags) {
                    if !(f.weight <= cfg.max_flag_weight) {
                        why.push(format!("invoice {n}: flag {} (weight {:.2})", f.rule, f.weight));
                    }
                }
            }
            ok.push("invoice risk within the limits, no flag above information".to_string());
        }
        (_, Some(c)) => {
            if c.risky_clauses > 0 || c.risk >= Level::Medium {
                why.push(format!("{} risky clause(s)", c.risky_clauses));
            }
            let deviating = c
                .playbook
                .iter()
                .filter(|f| f.status == crate::contract::playbook::Status::Deviating)
                .count();
            if deviating > 0 {
                why.push(format!("{deviating} playbook deviation(s)"));
            }
            ok.push("no risky clause, no playbook deviation".to_string());
        }
        _ => why.push("neither an invoice nor a contract was analysed".to_string()),
    }
    Some(if why.is_empty() { Verdict::Approve(ok) } else { Verdict::Review(why) })
}
