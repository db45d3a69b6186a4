//! `liasse eval contracts --cuad`: the clause classifier on CUAD's held-out contracts (the test
//! part of models/clauses/train.py's split), per category at clause level: precision and recall
//! at the category's threshold, AUPR and precision at 80 % recall, beside the figures published
//! with CUAD (models/clauses/published.json). Also the category counts of the generated-contract
//! evaluation.

use anyhow::Context;
use liasse::config::Config;
use liasse::contract::{ContractEngine, analyse_with, text_document};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const TAXONOMY: &str = "models/clauses/taxonomy.json";
const PUBLISHED: &str = "models/clauses/published.json";

/// The taxonomy's labels and the generator-kind mapping (models/clauses/taxonomy.json).
#[derive(Deserialize)]
pub struct Taxonomy {
    labels: Vec<TaxLabel>,
    generated_kinds: BTreeMap<String, Vec<String>>,
    generated_reasons: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct TaxLabel {
    id: String,
    en: String,
    cuad: Option<String>,
}

impl Taxonomy {
    pub fn load() -> anyhow::Result<Taxonomy> {
        let text = std::fs::read_to_string(TAXONOMY).with_context(|| format!("reading {TAXONOMY}"))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {TAXONOMY}"))
    }

    /// The categories of a generated clause (same rule as train.py's `generated_rows`).
    pub fn generated_labels(&self, kind: &str, reason: Option<&str>, renewal: bool) -> BTreeSet<String> {
        let mut out: BTreeSet<String> =
            self.generated_kinds.get(kind).cloned().unwrap_or_default().into_iter().collect();
        if let Some(r) = reason {
            out.extend(self.generated_reasons.get(r).cloned().unwrap_or_default());
        }
        if kind == "duration" && renewal {
            out.insert("renewal_term".into());
            out.insert("notice_period_to_terminate_renewal".into());
        }
        if reason == Some("total_liability_exclusion") {
            out.remove("uncapped_liability");
        }
        out
    }

    fn is_cuad(&self, id: &str) -> bool {
        self.labels.iter().any(|l| l.id == id && l.cuad.is_some())
    }

    fn english(&self, id: &str) -> String {
        self.labels.iter().find(|l| l.id == id).map(|l| l.en.clone()).unwrap_or_else(|| id.to_string())
    }
}

/// Per-category true/false positives and false negatives.
#[derive(Default)]
pub struct CategoryCounts {
    by: BTreeMap<String, [u32; 3]>,
}

impl CategoryCounts {
    pub fn add<'a>(&mut self, truth: &BTreeSet<String>, predicted: impl Iterator<Item = &'a str>) {
        let pred: BTreeSet<&str> = predicted.collect();
        for t in truth {
            let e = self.by.entry(t.clone()).or_default();
            if pred.contains(t.as_str()) {
                e[0] += 1;
            } else {
                e[2] += 1;
            }
        }
        for p in pred.iter().filter(|p| !truth.contains(**p)) {
            self.by.entry(p.to_string()).or_default()[1] += 1;
        }
    }

    pub fn any(&self) -> bool {
        !self.by.is_empty()
    }

    pub fn print(&self) {
        println!("{:<36} {:>9} {:>9} {:>5} {:>5} {:>5}", "category", "precision", "recall", "tp", "fp", "fn");
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        for (k, [a, b, c]) in &self.by {
            println!("{k:<36} {:>9} {:>9} {a:>5} {b:>5} {c:>5}", ratio(*a, a + b), ratio(*a, a + c));
            tp += a;
            fp += b;
            fn_ += c;
        }
        println!(
            "{:<36} {:>9} {:>9} {tp:>5} {fp:>5} {fn_:>5}",
            "all (micro)",
            ratio(tp, tp + fp),
            ratio(tp, tp + fn_)
        );
    }
}

fn ratio(a: u32, b: u32) -> String {
    if b == 0 { "-".into() } else { format!("{:.3}", a as f64 / b as f64) }
}

#[derive(Deserialize)]
struct Heldout {
    contracts: Vec<HeldContract>,
}

#[derive(Deserialize)]
struct HeldContract {
    file: String,
    clauses: Vec<HeldClause>,
}

#[derive(Deserialize)]
struct HeldClause {
    index: usize,
    number: String,
    labels: Vec<String>,
}

#[derive(Deserialize)]
struct Published {
    source: String,
    overall: Vec<PublishedModel>,
    #[serde(default)]
    per_category: BTreeMap<String, PublishedCategory>,
    note: String,
}

#[derive(Deserialize)]
struct PublishedModel {
    model: String,
    aupr: f64,
    p_at_80r: f64,
}

#[derive(Deserialize)]
struct PublishedCategory {
    aupr: Option<f64>,
}

/// Average precision (the area under the precision-recall curve as scikit-learn computes it:
/// the precision at each distinct score, weighted by the recall it adds) and the best precision
/// at a recall of at least 80 %.
pub fn aupr(scored: &mut [(f32, bool)]) -> Option<(f64, f64)> {
    let pos = scored.iter().filter(|s| s.1).count();
    if pos == 0 || pos == scored.len() {
        return None;
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp, mut ap, mut prev_r, mut p80) = (0usize, 0usize, 0.0f64, 0.0f64, 0.0f64);
    let mut i = 0;
    while i < scored.len() {
        let s = scored[i].0;
        while i < scored.len() && scored[i].0 == s {
            if scored[i].1 {
                tp += 1
            } else {
                fp += 1
            }
            i += 1;
        }
        let p = tp as f64 / (tp + fp) as f64;
        let r = tp as f64 / pos as f64;
        ap += (r - prev_r) * p;
        prev_r = r;
        if r >= 0.8 {
            p80 = p80.max(p);
        }
    }
    Some((ap, p80))
}

pub fn cuad_eval(config: &Config, dir: &Path, labels_path: &Path) -> anyhow::Result<()> {
    let engine = ContractEngine::new(&config.contract)?;
    let model = engine.clause_model.as_ref().context("no clause model (contract.clause_model)")?;
    let taxonomy = Taxonomy::load()?;
    let held: Heldout = serde_json::from_str(
        &std::fs::read_to_string(labels_path)
            .with_context(|| format!("reading {}", labels_path.display()))?,
    )?;
    let labels = &model.model.labels;
    // Per label: (score, truth) of every held-out clause.
    let mut scored: Vec<Vec<(f32, bool)>> = vec![Vec::new(); labels.len()];
    let (mut clauses, mut mismatched) = (0usize, 0usize);
    for c in &held.contracts {
        let path = dir.join(&c.file);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let doc = text_document(&c.file, &text);
        let a = analyse_with(&doc, &engine.rules, Some(model));
        for h in &c.clauses {
            let Some(cl) = a.clauses.get(h.index).filter(|cl| cl.clause.number == h.number) else {
                mismatched += 1;
                continue;
            };
            let scores = model.scores(&liasse::contract::clause_text(&cl.clause))?;
            clauses += 1;
            for (j, l) in labels.iter().enumerate() {
                scored[j].push((scores[j], h.labels.contains(l)));
            }
        }
    }
    let published: Option<Published> =
        std::fs::read_to_string(PUBLISHED).ok().and_then(|t| serde_json::from_str(&t).ok());
    println!(
        "CUAD held-out: {} contracts, {clauses} clauses ({mismatched} not re-found), model {}",
        held.contracts.len(),
        engine.model_version().unwrap_or_default()
    );
    println!(
        "{:<36} {:>5} {:>7} {:>7} {:>7} {:>7} {:>10}",
        "category", "n", "P", "R", "AUPR", "P@80R", "published"
    );
    let mut all: Vec<(f32, bool)> = Vec::new();
    let (mut tp_all, mut fp_all, mut pos_all) = (0usize, 0usize, 0usize);
    let mut macro_: Vec<(f64, f64)> = Vec::new();
    // CUAD annotated its 41 categories only: our own categories are not measured on it.
    for (j, l) in labels.iter().enumerate().filter(|(_, l)| taxonomy.is_cuad(l)) {
        let t = model.thresholds[j];
        let s = &mut scored[j];
        let pos = s.iter().filter(|x| x.1).count();
        let tp = s.iter().filter(|x| x.1 && x.0 >= t).count();
        let fp = s.iter().filter(|x| !x.1 && x.0 >= t).count();
        tp_all += tp;
        fp_all += fp;
        pos_all += pos;
        all.extend(s.iter().copied());
        let f = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into());
        let ap = aupr(s);
        macro_.extend(ap);
        let publ = published
            .as_ref()
            .and_then(|p| p.per_category.get(l))
            .and_then(|c| c.aupr)
            .map(|v| format!("{v:.3}"))
            .unwrap_or_else(|| "n/a".into());
        println!(
            "{:<36} {pos:>5} {:>7} {:>7} {:>7} {:>7} {publ:>10}",
            taxonomy.english(l).chars().take(36).collect::<String>(),
            f((tp + fp > 0).then(|| tp as f64 / (tp + fp) as f64)),
            f((pos > 0).then(|| tp as f64 / pos as f64)),
            f(ap.map(|a| a.0)),
            f(ap.map(|a| a.1)),
        );
    }
    let micro = aupr(&mut all);
    println!(
        "{:<36} {pos_all:>5} {:>7.3} {:>7.3} {:>7} {:>7}",
        "all categories (micro)",
        tp_all as f64 / (tp_all + fp_all).max(1) as f64,
        tp_all as f64 / pos_all.max(1) as f64,
        micro.map(|m| format!("{:.3}", m.0)).unwrap_or_default(),
        micro.map(|m| format!("{:.3}", m.1)).unwrap_or_default(),
    );
    if !macro_.is_empty() {
        let n = macro_.len() as f64;
        println!(
            "{:<36} {:>5} {:>7} {:>7} {:>7.3} {:>7.3}   (mean over the {} categories with positives)",
            "all categories (macro)",
            "",
            "",
            "",
            macro_.iter().map(|m| m.0).sum::<f64>() / n,
            macro_.iter().map(|m| m.1).sum::<f64>() / n,
            macro_.len()
        );
    }
    if let Some(p) = published {
        println!("published with CUAD ({}):", p.source);
        for m in &p.overall {
            println!("  {:<20} AUPR {:.3}  precision at 80 % recall {:.3}", m.model, m.aupr, m.p_at_80r);
        }
        println!("  note: {}", p.note);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::aupr;

    #[test]
    fn aupr_of_a_perfect_and_a_mixed_ranking() {
        let mut perfect = vec![(0.9, true), (0.8, true), (0.2, false), (0.1, false)];
        assert_eq!(aupr(&mut perfect), Some((1.0, 1.0)));
        // ranks: T F T F -> AP = 0.5 * 1 + 0.5 * 2/3
        let mut mixed = vec![(0.9, true), (0.8, false), (0.7, true), (0.1, false)];
        let (ap, p80) = aupr(&mut mixed).unwrap();
        assert!((ap - (0.5 + 0.5 * 2.0 / 3.0)).abs() < 1e-9);
        assert!((p80 - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(aupr(&mut [(0.5, false)]), None);
    }
}
