//! The playbook (`rules/playbook/*.toml`): the company's standard positions, each checked
//! against a contract's key terms and reported as conforming, deviating (with the gap) or
//! missing, with the clause and the evidence it rests on.

use super::ContractError;
use super::analyse::{ClauseResult, KeyTerms};
use crate::evidence::{Evidence, Grounded};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

pub const BUILTIN: [(&str, &str); 1] =
    [("standard.toml", include_str!("../../rules/playbook/standard.toml"))];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TermName {
    LiabilityCap,
    RenewalNoticeMonths,
    RenewalPeriodMonths,
    TermMonths,
    PaymentDays,
    GoverningLaw,
    Jurisdiction,
    Termination,
    PriceRevision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    CapFeesMonthsMin,
    MaxMonths,
    MaxDays,
    Contains,
    Absent,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub id: String,
    pub statement: String,
    pub term: TermName,
    pub check: Check,
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub any: Vec<String>,
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaybookFile {
    position: Vec<Position>,
}

pub struct Playbook {
    pub positions: Vec<Position>,
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Conforming,
    Deviating,
    Missing,
}

/// One position of the playbook against the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybookFinding {
    pub position: String,
    pub statement: String,
    pub status: Status,
    /// What the contract says, as found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// How far a deviating term is from the position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<String>,
    /// The clause holding the term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

use super::rules::toml_sources;

impl Playbook {
    pub fn builtin() -> Result<Playbook, ContractError> {
        Self::from_sources(BUILTIN.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect())
    }

    pub fn load(dir: &Path) -> Result<Playbook, ContractError> {
        Self::from_sources(toml_sources(dir)?)
    }

    pub fn from_sources(sources: Vec<(String, String)>) -> Result<Playbook, ContractError> {
        let mut hash = Sha256::new();
        let mut positions = Vec::new();
        for (name, text) in &sources {
            hash.update(name.as_bytes());
            hash.update(text.as_bytes());
            let f: PlaybookFile = toml::from_str(text).map_err(|e| ContractError::Rule {
                file: name.clone(),
                id: String::new(),
                message: e.to_string(),
            })?;
            for p in f.position {
                let err =
                    |m: &str| ContractError::Rule { file: name.clone(), id: p.id.clone(), message: m.into() };
                match p.check {
                    Check::CapFeesMonthsMin | Check::MaxMonths | Check::MaxDays if p.value.is_none() => {
                        return Err(err("this check needs `value`"));
                    }
                    Check::Contains if p.any.is_empty() => return Err(err("`contains` needs `any`")),
                    Check::Absent if p.label.is_none() => return Err(err("`absent` needs `label`")),
                    _ => {}
                }
                let supported = matches!(
                    (p.check, p.term),
                    (
                        Check::MaxMonths,
                        TermName::RenewalNoticeMonths | TermName::RenewalPeriodMonths | TermName::TermMonths
                    ) | (Check::MaxDays, TermName::PaymentDays)
                        | (
                            Check::Contains,
                            TermName::GoverningLaw
                                | TermName::Jurisdiction
                                | TermName::PriceRevision
                                | TermName::LiabilityCap
                        )
                        | (Check::CapFeesMonthsMin, TermName::LiabilityCap)
                        | (Check::Absent, TermName::Termination)
                );
                if !supported {
                    return Err(err("this check does not apply to this term"));
                }
                positions.push(p);
            }
        }
        Ok(Playbook { positions, version: format!("playbook-{}", &hex::encode(hash.finalize())[..12]) })
    }

    /// Every position against the contract's terms.
    pub fn check(&self, terms: &KeyTerms, clauses: &[ClauseResult]) -> Vec<PlaybookFinding> {
        self.positions.iter().map(|p| check_one(p, terms, clauses)).collect()
    }
}

fn clause_of(e: &Evidence, clauses: &[ClauseResult]) -> Option<String> {
    let l = e.locations.first()?;
    clauses
        .iter()
        .find(|c| {
            c.clause
                .locations
                .iter()
                .chain([&c.clause.heading_location])
                .any(|x| x.page == l.page && x.span.start <= l.span.start && l.span.end <= x.span.end)
        })
        .map(|c| c.clause.reference.clone())
}

fn finding<T>(
    p: &Position,
    g: &Grounded<T>,
    status: Status,
    found: String,
    gap: Option<String>,
    clauses: &[ClauseResult],
) -> PlaybookFinding {
    PlaybookFinding {
        position: p.id.clone(),
        statement: p.statement.clone(),
        status,
        found: Some(found),
        gap,
        clause: clause_of(&g.evidence, clauses),
        evidence: Some(g.evidence.clone()),
    }
}

fn missing(p: &Position) -> PlaybookFinding {
    PlaybookFinding {
        position: p.id.clone(),
        statement: p.statement.clone(),
        status: Status::Missing,
        found: None,
        gap: None,
        clause: None,
        evidence: None,
    }
}

fn check_one(p: &Position, t: &KeyTerms, clauses: &[ClauseResult]) -> PlaybookFinding {
    let v = p.value.unwrap_or(0.0);
    let number = |g: &Option<Grounded<u32>>, unit: &str| match g {
        None => missing(p),
        Some(g) if g.value as f64 <= v => {
            finding(p, g, Status::Conforming, format!("{} {unit}", g.value), None, clauses)
        }
        Some(g) => finding(
            p,
            g,
            Status::Deviating,
            format!("{} {unit}", g.value),
            Some(format!("{} {unit} more than the maximum of {v} {unit}", g.value as f64 - v)),
            clauses,
        ),
    };
    let text = |g: &Option<Grounded<String>>| match g {
        None => missing(p),
        Some(g) => {
            let low = g.value.to_lowercase();
            if p.any.iter().any(|a| low.contains(&a.to_lowercase())) {
                finding(p, g, Status::Conforming, g.value.clone(), None, clauses)
            } else {
                finding(
                    p,
                    g,
                    Status::Deviating,
                    g.value.clone(),
                    Some(format!("{} instead of: {}", g.value, p.any.join(" / "))),
                    clauses,
                )
            }
        }
    };
    match (p.check, p.term) {
        (Check::MaxMonths, TermName::RenewalNoticeMonths) => number(&t.renewal_notice_months, "months"),
        (Check::MaxMonths, TermName::RenewalPeriodMonths) => number(&t.renewal_period_months, "months"),
        (Check::MaxMonths, TermName::TermMonths) => number(&t.term_months, "months"),
        (Check::MaxDays, TermName::PaymentDays) => number(&t.payment_days, "days"),
        (Check::Contains, TermName::GoverningLaw) => text(&t.governing_law),
        (Check::Contains, TermName::Jurisdiction) => text(&t.jurisdiction),
        (Check::Contains, TermName::PriceRevision) => text(&t.price_revision),
        (Check::Contains, TermName::LiabilityCap) => text(&t.liability_cap),
        (Check::CapFeesMonthsMin, TermName::LiabilityCap) => match &t.liability_cap {
            None => missing(p),
            Some(g) => {
                let months = g
                    .value
                    .strip_prefix("fees_")
                    .and_then(|s| s.strip_suffix("_months"))
                    .and_then(|s| s.parse::<f64>().ok());
                match months {
                    Some(m) if m >= v => finding(p, g, Status::Conforming, g.value.clone(), None, clauses),
                    Some(m) => finding(
                        p,
                        g,
                        Status::Deviating,
                        g.value.clone(),
                        Some(format!(
                            "cap of {m} months of fees, {} % of the {v} months required",
                            (m / v * 100.0).round()
                        )),
                        clauses,
                    ),
                    None => {
                        let gap = match g.value.as_str() {
                            "uncapped" => "no cap at all (unlimited liability)".to_string(),
                            "excluded" => "liability excluded altogether".to_string(),
                            other => format!("cap not expressed in fees ({other})"),
                        };
                        finding(p, g, Status::Deviating, g.value.clone(), Some(gap), clauses)
                    }
                }
            }
        },
        (Check::Absent, TermName::Termination) => {
            let label = p.label.as_deref().unwrap_or_default();
            match t.termination.iter().find(|x| x.value == label) {
                Some(g) => finding(
                    p,
                    g,
                    Status::Deviating,
                    g.value.clone(),
                    Some(format!("the contract allows {label}")),
                    clauses,
                ),
                None => PlaybookFinding {
                    position: p.id.clone(),
                    statement: p.statement.clone(),
                    status: Status::Conforming,
                    found: None,
                    gap: None,
                    clause: None,
                    evidence: None,
                },
            }
        }
        _ => missing(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_playbook_compiles_and_bad_positions_are_errors() {
        assert!(Playbook::builtin().unwrap().positions.len() >= 5);
        let bad = "[[position]]\nid='x'\nstatement='s'\nterm='payment_days'\ncheck='max_days'\n";
        assert!(Playbook::from_sources(vec![("p.toml".into(), bad.into())]).is_err());
        let bad =
            "[[position]]\nid='x'\nstatement='s'\nterm='payment_days'\ncheck='max_days'\nvalue=3\nextra=1\n";
        assert!(Playbook::from_sources(vec![("p.toml".into(), bad.into())]).is_err());
    }
}
