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

/// `x <= max`, false for NaN (an unknown score never passes).
fn at_most(x: f32, max: f32) -> bool {
    x <= max
}

/// `x >= min`, false for NaN.
fn at_least(x: f32, min: f32) -> bool {
    x >= min
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
            if !at_least(c.confidence, cfg.min_classifier_confidence) {
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
                if !at_most(inv.risk.score, cfg.max_invoice_risk) {
                    why.push(format!(
                        "invoice {n}: risk {:.2} above {:.2}",
                        inv.risk.score, cfg.max_invoice_risk
                    ));
                }
                for f in inv.flags.iter().chain(&inv.extracted.flags) {
                    if !at_most(f.weight, cfg.max_flag_weight) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The outcomes the pipeline gives for a fixture (its golden file).
    fn golden(rel: &str) -> Outcome {
        let path = format!("{}/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"));
        let v: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut first = v.into_iter().next().unwrap();
        // Golden files leave the versions out.
        first["versions"] = serde_json::json!({"liasse": "test", "ocr": "test"});
        serde_json::from_value(first).unwrap()
    }

    fn on() -> ReviewConfig {
        ReviewConfig { auto_approve: true, ..ReviewConfig::default() }
    }

    #[test]
    fn only_a_confident_clean_result_passes() {
        let invoice = golden("text/invoice_en.expected.json");
        // Off: nothing is decided.
        assert_eq!(verdict(&invoice, &ReviewConfig::default()), None);
        // `supplier.new` (weight 0.2) is above information by default.
        let Some(Verdict::Review(why)) = verdict(&invoice, &on()) else { panic!("review") };
        assert!(why.iter().any(|w| w.contains("supplier.new")), "{why:?}");
        // Accepting that weight, the confident invoice (0.94, risk 0.10, pass) is approved.
        let lenient = ReviewConfig { max_flag_weight: 0.2, ..on() };
        assert!(matches!(verdict(&invoice, &lenient), Some(Verdict::Approve(_))));
        // Low classifier confidence never passes silently.
        let mut unsure = invoice.clone();
        if let Some(c) = unsure.classification.as_mut() {
            c.confidence = 0.5;
        }
        let Some(Verdict::Review(why)) = verdict(&unsure, &lenient) else { panic!("review") };
        assert!(why.iter().any(|w| w.contains("confidence")), "{why:?}");
        // Nor does a high risk.
        let mut risky = invoice.clone();
        if let Some(a) = risky.invoice.as_mut() {
            a.invoices[0].risk.score = 0.8;
        }
        assert!(matches!(verdict(&risky, &lenient), Some(Verdict::Review(_))));
        // A contract with risky clauses and playbook deviations goes to review; one without passes.
        let risky_contract = golden("text/contrat_prestation_fr.expected.json");
        let Some(Verdict::Review(why)) = verdict(&risky_contract, &on()) else { panic!("review") };
        assert!(why.iter().any(|w| w.contains("risky clause")) && why.iter().any(|w| w.contains("playbook")));
        // An NDA under English law deviates from the playbook (French law and courts).
        let nda = golden("text/nda_en.expected.json");
        let Some(Verdict::Review(why)) = verdict(&nda, &on()) else { panic!("review") };
        assert_eq!(why, ["2 playbook deviation(s)"]);
        let amendment = golden("text/avenant_fr.expected.json");
        assert!(matches!(verdict(&amendment, &on()), Some(Verdict::Approve(_))));
        // Without classification (classifier off), a person decides.
        let mut unclassified = amendment.clone();
        unclassified.classification = None;
        assert!(matches!(verdict(&unclassified, &on()), Some(Verdict::Review(_))));
        // A failed outcome is not decided here.
        let failed = golden("broken/vide.expected.json");
        assert_eq!(verdict(&failed, &on()), None);
    }
}
