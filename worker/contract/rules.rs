//! The contract rule sets (`rules/contract/*.toml`): key-term patterns and risk rules, parsed
//! with unknown fields denied and compiled once. A bad rule is an error at engine start.

use super::ContractError;
use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The rule files built into the binary (the defaults when no rules folder is configured).
pub const BUILTIN: [(&str, &str); 3] = [
    ("model.toml", include_str!("../../rules/contract/model.toml")),
    ("terms.toml", include_str!("../../rules/contract/terms.toml")),
    ("risk.toml", include_str!("../../rules/contract/risk.toml")),
];

/// One rule file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    term: Vec<TermDef>,
    #[serde(default)]
    rule: Vec<RiskDef>,
    #[serde(default)]
    model: Vec<ModelRiskDef>,
}

/// How the clause classifier's score of a risky category becomes risk (`[[model]]`): a flag of
/// its own when no rule found the risk (level `level`, score ≥ `min_score`), or a corroboration
/// of the rule flags of the kinds in `corroborates` (their confidence raised to
/// `agree_confidence`) when the score is over the category's threshold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRiskDef {
    pub id: String,
    /// The taxonomy label (models/clauses/taxonomy.json).
    pub category: String,
    pub kind: String,
    pub reason: String,
    pub level: Level,
    /// Least score for a flag raised by the model alone.
    pub min_score: f32,
    /// Rule kinds this category corroborates.
    #[serde(default)]
    pub corroborates: Vec<String>,
    /// Confidence of a rule flag the model agrees with.
    #[serde(default = "agree")]
    pub agree_confidence: f32,
    /// Whether the model alone raises a flag (false: it only corroborates rule flags; for
    /// categories common in balanced contracts, where a flag of its own would be noise).
    #[serde(default = "yes")]
    pub alone: bool,
}

fn yes() -> bool {
    true
}

fn agree() -> f32 {
    0.97
}

/// Which key term a pattern finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TermField {
    /// Group `value`: a party's name (preamble only).
    Party,
    /// Groups `d`, `m` (number or month name), `y`.
    EffectiveDate,
    /// Groups `n` (digits) or `w` (a number word), and `unit`.
    TermDuration,
    /// The match says the contract renews by itself; `n`/`w` + `unit` when it gives the period.
    RenewalAutomatic,
    /// Groups `n`/`w` and `unit`: the notice to stop the renewal.
    RenewalNotice,
    /// The label in `value` (for_breach, for_convenience, change_of_control, force_majeure…).
    Termination,
    /// Group `value`.
    GoverningLaw,
    /// Group `value`.
    Jurisdiction,
    /// The label in `value` (fees_12_months, amount, uncapped, excluded); `n` when a number.
    LiabilityCap,
    /// Group `n`: days.
    PaymentDays,
    /// The label in `value` (index, capped, unilateral).
    PriceRevision,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermDef {
    pub id: String,
    pub field: TermField,
    pub pattern: String,
    /// A fixed value reported when the pattern matches (labels such as "for_convenience").
    #[serde(default)]
    pub value: Option<String>,
    /// Only in clauses whose heading matches this pattern.
    #[serde(default)]
    pub heading: Option<String>,
}

/// How serious a flag is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    #[default]
    None,
    Low,
    Medium,
    High,
}

/// A number found in the clause compared with a bound (`gt`/`lt`), converted to `unit`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberDef {
    /// Groups `n` (digits) or `w` (a number word), and optionally `unit`.
    pub pattern: String,
    /// months or days (the unit the bounds are in); a bare number is taken as is.
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub gt: Option<f64>,
    #[serde(default)]
    pub lt: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskDef {
    pub id: String,
    /// The kind of risk (several rules may find the same kind in different words).
    pub kind: String,
    pub reason: String,
    pub level: Level,
    /// At least one must match (the evidence).
    #[serde(default)]
    pub any: Vec<String>,
    /// Every one must match.
    #[serde(default)]
    pub all: Vec<String>,
    /// None may match.
    #[serde(default)]
    pub none: Vec<String>,
    #[serde(default)]
    pub number: Option<NumberDef>,
    /// Only in clauses whose heading matches this pattern.
    #[serde(default)]
    pub heading: Option<String>,
}

pub struct Term {
    pub def: TermDef,
    pub re: Regex,
    pub heading: Option<Regex>,
}

pub struct Number {
    pub re: Regex,
    pub unit: Option<String>,
    pub gt: Option<f64>,
    pub lt: Option<f64>,
}

pub struct Risk {
    pub def: RiskDef,
    pub any: Vec<Regex>,
    pub all: Vec<Regex>,
    pub none: Vec<Regex>,
    pub number: Option<Number>,
    pub heading: Option<Regex>,
}

/// The compiled rule sets, with a version naming their content.
pub struct ContractRules {
    pub terms: Vec<Term>,
    pub risks: Vec<Risk>,
    /// The model's part of the risk (`[[model]]`).
    pub model_risks: Vec<ModelRiskDef>,
    pub version: String,
}

fn compile(file: &str, id: &str, p: &str) -> Result<Regex, ContractError> {
    Regex::new(p).map_err(|e| ContractError::Rule {
        file: file.into(),
        id: id.into(),
        message: e.to_string(),
    })
}

/// Every `*.toml` of a folder as (file name, text), in name order: the sources of the rules and
/// of the playbook.
pub(crate) fn toml_sources(dir: &Path) -> Result<Vec<(String, String)>, ContractError> {
    let rd =
        std::fs::read_dir(dir).map_err(|e| ContractError::Io(dir.display().to_string(), e.to_string()))?;
    let mut files: Vec<_> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut sources = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| ContractError::Io(f.display().to_string(), e.to_string()))?;
        sources.push((f.file_name().unwrap_or_default().to_string_lossy().into_owned(), text));
    }
    Ok(sources)
}

impl ContractRules {
    /// The built-in rules.
    pub fn builtin() -> Result<ContractRules, ContractError> {
        Self::from_sources(BUILTIN.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect())
    }

    /// Every `*.toml` of a folder, in name order.
    pub fn load(dir: &Path) -> Result<ContractRules, ContractError> {
        Self::from_sources(toml_sources(dir)?)
    }

    pub fn from_sources(sources: Vec<(String, String)>) -> Result<ContractRules, ContractError> {
        let mut hash = Sha256::new();
        let mut terms = Vec::new();
        let mut risks = Vec::new();
        let mut model_risks = Vec::new();
        let mut ids = std::collections::HashSet::new();
        for (name, text) in &sources {
            hash.update(name.as_bytes());
            hash.update(text.as_bytes());
            let f: RuleFile = toml::from_str(text).map_err(|e| ContractError::Rule {
                file: name.clone(),
                id: String::new(),
                message: e.to_string(),
            })?;
            for t in f.term {
                if !ids.insert(t.id.clone()) {
                    return Err(ContractError::Rule {
                        file: name.clone(),
                        id: t.id,
                        message: "duplicate id".into(),
                    });
                }
                let re = compile(name, &t.id, &t.pattern)?;
                let heading = t.heading.as_deref().map(|h| compile(name, &t.id, h)).transpose()?;
                terms.push(Term { def: t, re, heading });
            }
            for m in f.model {
                if !ids.insert(m.id.clone()) {
                    return Err(ContractError::Rule {
                        file: name.clone(),
                        id: m.id,
                        message: "duplicate id".into(),
                    });
                }
                if !(0.0..=1.0).contains(&m.min_score) || !(0.0..=1.0).contains(&m.agree_confidence) {
                    return Err(ContractError::Rule {
                        file: name.clone(),
                        id: m.id,
                        message: "min_score and agree_confidence are in 0..=1".into(),
                    });
                }
                model_risks.push(m);
            }
            for r in f.rule {
                if !ids.insert(r.id.clone()) {
                    return Err(ContractError::Rule {
                        file: name.clone(),
                        id: r.id,
                        message: "duplicate id".into(),
                    });
                }
                if r.any.is_empty() && r.all.is_empty() {
                    return Err(ContractError::Rule {
                        file: name.clone(),
                        id: r.id,
                        message: "a rule needs `any` or `all`".into(),
                    });
                }
                let c = |v: &Vec<String>| {
                    v.iter().map(|p| compile(name, &r.id, p)).collect::<Result<Vec<_>, _>>()
                };
                let number = match &r.number {
                    Some(n) => {
                        if n.gt.is_none() && n.lt.is_none() {
                            return Err(ContractError::Rule {
                                file: name.clone(),
                                id: r.id.clone(),
                                message: "`number` needs `gt` or `lt`".into(),
                            });
                        }
                        Some(Number {
                            re: compile(name, &r.id, &n.pattern)?,
                            unit: n.unit.clone(),
                            gt: n.gt,
                            lt: n.lt,
                        })
                    }
                    None => None,
                };
                let heading = r.heading.as_deref().map(|h| compile(name, &r.id, h)).transpose()?;
                risks.push(Risk {
                    any: c(&r.any)?,
                    all: c(&r.all)?,
                    none: c(&r.none)?,
                    number,
                    heading,
                    def: r,
                });
            }
        }
        let version = format!("contract-rules-{}", &hex::encode(hash.finalize())[..12]);
        Ok(ContractRules { terms, risks, model_risks, version })
    }
}

/// A number written in digits or in words (French or English, the ones contracts use).
pub fn number_word(w: &str) -> Option<f64> {
    let w = w.to_lowercase();
    let v = match w.trim() {
        "un" | "une" | "one" | "a" | "an" => 1.0,
        "deux" | "two" => 2.0,
        "trois" | "three" => 3.0,
        "quatre" | "four" => 4.0,
        "cinq" | "five" => 5.0,
        "six" => 6.0,
        "sept" | "seven" => 7.0,
        "huit" | "eight" => 8.0,
        "neuf" | "nine" => 9.0,
        "dix" | "ten" => 10.0,
        "douze" | "twelve" => 12.0,
        "quinze" | "fifteen" => 15.0,
        "dix-huit" | "eighteen" => 18.0,
        "vingt" | "twenty" => 20.0,
        "vingt-quatre" | "twenty-four" => 24.0,
        "trente" | "thirty" => 30.0,
        "trente-six" | "thirty-six" => 36.0,
        "quarante-cinq" | "forty-five" => 45.0,
        "soixante" | "sixty" => 60.0,
        "quatre-vingt-dix" | "ninety" => 90.0,
        x => return x.replace(',', ".").parse().ok(),
    };
    Some(v)
}

/// A value in `unit` from a number and the unit written beside it.
pub fn convert(n: f64, written: Option<&str>, unit: Option<&str>) -> f64 {
    let w = written.unwrap_or("").to_lowercase();
    let months = if w.starts_with("mois") || w.starts_with("month") {
        Some(n)
    } else if w.starts_with("an") || w.starts_with("year") || w.starts_with("année") {
        Some(n * 12.0)
    } else if w.starts_with("jour") || w.starts_with("day") {
        Some(n / 30.0)
    } else if w.starts_with("semaine") || w.starts_with("week") {
        Some(n * 7.0 / 30.0)
    } else {
        None
    };
    match (unit, months) {
        (Some("months"), Some(m)) => m,
        (Some("days"), Some(m)) => (m * 30.0).round(),
        _ => n,
    }
}

/// The number of a match of a pattern with `n` or `w` groups.
pub fn captured_number(c: &regex::Captures<'_>) -> Option<f64> {
    c.name("n")
        .and_then(|m| number_word(m.as_str()))
        .or_else(|| c.name("w").and_then(|m| number_word(m.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_compile() {
        let r = ContractRules::builtin().unwrap();
        assert!(r.risks.len() >= 10 && r.terms.len() >= 10);
        assert!(r.version.starts_with("contract-rules-"));
    }

    #[test]
    fn unknown_fields_and_bad_patterns_are_errors() {
        let bad =
            "[[rule]]\nid = 'x'\nkind = 'k'\nreason = 'r'\nlevel = 'high'\nany = ['a']\ncolour = 'red'\n";
        assert!(ContractRules::from_sources(vec![("a.toml".into(), bad.into())]).is_err());
        let bad = "[[rule]]\nid = 'x'\nkind = 'k'\nreason = 'r'\nlevel = 'high'\nany = ['(']\n";
        assert!(ContractRules::from_sources(vec![("a.toml".into(), bad.into())]).is_err());
        let bad = "[[rule]]\nid = 'x'\nkind = 'k'\nreason = 'r'\nlevel = 'high'\n";
        assert!(ContractRules::from_sources(vec![("a.toml".into(), bad.into())]).is_err());
        // The model's part: unknown field, score out of 0..=1, duplicate id.
        let m =
            "[[model]]\nid = 'm'\ncategory = 'c'\nkind = 'k'\nreason = 'r'\nlevel = 'low'\nmin_score = 0.8\n";
        let ok = ContractRules::from_sources(vec![("m.toml".into(), m.into())]).unwrap();
        assert_eq!(ok.model_risks.len(), 1);
        assert!(ok.model_risks[0].alone && ok.model_risks[0].agree_confidence == 0.97);
        let bad = format!("{m}colour = 'red'\n");
        assert!(ContractRules::from_sources(vec![("m.toml".into(), bad)]).is_err());
        let bad = m.replace("0.8", "1.5");
        assert!(ContractRules::from_sources(vec![("m.toml".into(), bad)]).is_err());
        let bad = format!("{m}{m}");
        assert!(ContractRules::from_sources(vec![("m.toml".into(), bad)]).is_err());
    }

    #[test]
    fn numbers_in_words_and_units() {
        assert_eq!(number_word("six"), Some(6.0));
        assert_eq!(number_word("36"), Some(36.0));
        assert_eq!(convert(2.0, Some("ans"), Some("months")), 24.0);
        assert_eq!(convert(3.0, Some("months"), Some("days")), 90.0);
    }
}
