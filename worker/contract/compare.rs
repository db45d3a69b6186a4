//! Two versions of a contract compared clause by clause: clauses matched by number and heading,
//! then by text similarity; what was added, removed and changed, and whether the risk rose or
//! fell.

use super::analyse::{ClauseResult, ContractAnalysis};
use super::rules::Level;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Unchanged,
    Changed,
    Added,
    Removed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskChange {
    Same,
    Raised,
    Lowered,
}

fn risk_change(a: Level, b: Level) -> RiskChange {
    match b.cmp(&a) {
        std::cmp::Ordering::Greater => RiskChange::Raised,
        std::cmp::Ordering::Less => RiskChange::Lowered,
        std::cmp::Ordering::Equal => RiskChange::Same,
    }
}

/// One clause across the two versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClauseDiff {
    pub change: Change,
    /// The clause in the first version (reference), if there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    /// Word-set similarity of the two texts (0 to 1).
    pub similarity: f32,
    pub risk_a: Level,
    pub risk_b: Level,
    pub risk: RiskChange,
    /// Risk kinds flagged in b and not in a, and the other way round.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags_added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags_removed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub risk_a: Level,
    pub risk_b: Level,
    pub risk: RiskChange,
    pub added: u32,
    pub removed: u32,
    pub changed: u32,
    pub clauses: Vec<ClauseDiff>,
}

fn words(c: &ClauseResult) -> BTreeSet<String> {
    c.clause
        .locations
        .iter()
        .flat_map(|l| l.text.split(|ch: char| !ch.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f32 {
    let inter = a.intersection(b).count();
    let union = a.len() + b.len() - inter;
    if union == 0 { 1.0 } else { inter as f32 / union as f32 }
}

fn body(c: &ClauseResult) -> String {
    c.clause
        .locations
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn kinds(c: &ClauseResult) -> BTreeSet<String> {
    c.flags.iter().map(|f| f.kind.clone()).collect()
}

fn same_heading(a: &ClauseResult, b: &ClauseResult) -> bool {
    match (&a.clause.heading, &b.clause.heading) {
        (Some(x), Some(y)) => x.to_lowercase() == y.to_lowercase(),
        _ => false,
    }
}

/// Compare version `a` with version `b`.
pub fn compare(a: &ContractAnalysis, b: &ContractAnalysis) -> Comparison {
    let wa: Vec<_> = a.clauses.iter().map(words).collect();
    let wb: Vec<_> = b.clauses.iter().map(words).collect();
    let mut pair_of_a: Vec<Option<usize>> = vec![None; a.clauses.len()];
    let mut taken_b = vec![false; b.clauses.len()];
    // 1. Same heading (renumbering tolerated), or same number with similar text.
    for (i, ca) in a.clauses.iter().enumerate() {
        let best = b
            .clauses
            .iter()
            .enumerate()
            .filter(|(j, cb)| {
                !taken_b[*j]
                    && (same_heading(ca, cb)
                        || ca.clause.number == cb.clause.number && jaccard(&wa[i], &wb[*j]) >= 0.3)
            })
            .max_by(|x, y| jaccard(&wa[i], &wb[x.0]).total_cmp(&jaccard(&wa[i], &wb[y.0])));
        if let Some((j, _)) = best {
            pair_of_a[i] = Some(j);
            taken_b[j] = true;
        }
    }
    // 2. The rest by text similarity.
    for i in 0..a.clauses.len() {
        if pair_of_a[i].is_some() {
            continue;
        }
        let best = (0..b.clauses.len())
            .filter(|j| !taken_b[*j])
            .map(|j| (j, jaccard(&wa[i], &wb[j])))
            .filter(|x| x.1 >= 0.5)
            .max_by(|x, y| x.1.total_cmp(&y.1));
        if let Some((j, _)) = best {
            pair_of_a[i] = Some(j);
            taken_b[j] = true;
        }
    }
    let mut out = Vec::new();
    for (i, ca) in a.clauses.iter().enumerate() {
        match pair_of_a[i] {
            Some(j) => {
                let cb = &b.clauses[j];
                let (ka, kb) = (kinds(ca), kinds(cb));
                out.push(ClauseDiff {
                    change: if body(ca) == body(cb) && ca.clause.heading == cb.clause.heading {
                        Change::Unchanged
                    } else {
                        Change::Changed
                    },
                    a: Some(ca.clause.reference.clone()),
                    b: Some(cb.clause.reference.clone()),
                    heading: cb.clause.heading.clone(),
                    similarity: jaccard(&wa[i], &wb[j]),
                    risk_a: ca.risk,
                    risk_b: cb.risk,
                    risk: risk_change(ca.risk, cb.risk),
                    flags_added: kb.difference(&ka).cloned().collect(),
                    flags_removed: ka.difference(&kb).cloned().collect(),
                });
            }
            None => out.push(ClauseDiff {
                change: Change::Removed,
                a: Some(ca.clause.reference.clone()),
                b: None,
                heading: ca.clause.heading.clone(),
                similarity: 0.0,
                risk_a: ca.risk,
                risk_b: Level::None,
                risk: risk_change(ca.risk, Level::None),
                flags_added: vec![],
                flags_removed: kinds(ca).into_iter().collect(),
            }),
        }
    }
    for (j, cb) in b.clauses.iter().enumerate().filter(|(j, _)| !taken_b[*j]) {
        let _ = j;
        out.push(ClauseDiff {
            change: Change::Added,
            a: None,
            b: Some(cb.clause.reference.clone()),
            heading: cb.clause.heading.clone(),
            similarity: 0.0,
            risk_a: Level::None,
            risk_b: cb.risk,
            risk: risk_change(Level::None, cb.risk),
            flags_added: kinds(cb).into_iter().collect(),
            flags_removed: vec![],
        });
    }
    let count = |c: Change| out.iter().filter(|d| d.change == c).count() as u32;
    Comparison {
        risk_a: a.risk,
        risk_b: b.risk,
        risk: risk_change(a.risk, b.risk),
        added: count(Change::Added),
        removed: count(Change::Removed),
        changed: count(Change::Changed),
        clauses: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{ContractRules, analyse, text_document};

    fn a(text: &str) -> ContractAnalysis {
        static R: std::sync::OnceLock<ContractRules> = std::sync::OnceLock::new();
        analyse(&text_document("t", text), R.get_or_init(|| ContractRules::builtin().unwrap()))
    }

    #[test]
    fn added_removed_changed_and_risk() {
        let v1 = a(
            "CONTRAT\n\nArticle 1 – Objet\n\nLe contrat a pour objet la maintenance.\n\nArticle 2 – Paiement\n\nLes factures sont payables à 30 jours.\n\nArticle 3 – Assurances\n\nLe Prestataire est assuré.",
        );
        let v2 = a(
            "CONTRAT\n\nArticle 1 – Objet\n\nLe contrat a pour objet la maintenance.\n\nArticle 2 – Paiement\n\nLes factures sont payables à 90 jours.\n\nArticle 3 – Résiliation\n\nLe Prestataire pourra résilier le contrat à tout moment, sans préavis ni indemnité.",
        );
        let c = compare(&v1, &v2);
        let by = |r: &str| c.clauses.iter().find(|d| d.heading.as_deref() == Some(r)).unwrap();
        assert_eq!(by("Objet").change, Change::Unchanged);
        let p = by("Paiement");
        assert_eq!((p.change, p.risk), (Change::Changed, RiskChange::Raised));
        assert_eq!(p.flags_added, ["payment_term_excessive"]);
        assert_eq!(by("Assurances").change, Change::Removed);
        let r = by("Résiliation");
        assert_eq!((r.change, r.risk), (Change::Added, RiskChange::Raised));
        assert_eq!((c.added, c.removed, c.changed, c.risk), (1, 1, 1, RiskChange::Raised));
        let back = compare(&v2, &v1);
        assert_eq!(back.risk, RiskChange::Lowered);
    }

    #[test]
    fn renumbered_clauses_are_matched_by_heading() {
        let v1 = a("CONTRAT\n\nArticle 1 – Objet\n\nObjet du contrat.\n\nArticle 2 – Prix\n\nCent euros.");
        let v2 = a(
            "CONTRAT\n\nArticle 1 – Définitions\n\nLes mots.\n\nArticle 2 – Objet\n\nObjet du contrat.\n\nArticle 3 – Prix\n\nCent euros.",
        );
        let c = compare(&v1, &v2);
        assert_eq!((c.added, c.removed, c.changed), (1, 0, 0));
    }
}
