//! The analysis of one contract: its clauses, key terms and risk flags, every one grounded.

use super::classifier::{ClauseClassification, ClauseModel, round4};
use super::rules::{ContractRules, Level, captured_number, convert};
use super::segment::{Clause, Piece, segment};
use crate::document::{Document, Span};
use crate::evidence::{Evidence, Grounded, Location, Method};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A text assembled from several places of the document, with the way back to them.
pub struct Located {
    pub text: String,
    /// `text` with line ends as spaces (same offsets): what patterns read, so that a phrase
    /// wrapped over two lines still matches.
    pub flat: String,
    /// (offset in `text`, page, span in the page text), in order.
    parts: Vec<(usize, u32, Span)>,
}

impl Located {
    pub fn new<'a>(places: impl IntoIterator<Item = (u32, Span, &'a str)>) -> Located {
        let mut text = String::new();
        let mut parts = Vec::new();
        for (page, span, t) in places {
            if !text.is_empty() {
                text.push('\n');
            }
            parts.push((text.len(), page, span));
            text.push_str(t);
        }
        let flat = text.replace('\n', " ");
        Located { text, flat, parts }
    }

    pub fn of_clause(c: &Clause) -> Located {
        Located::new(
            std::iter::once(&c.heading_location)
                .chain(c.locations.iter())
                .map(|l| (l.page, l.span, l.text.as_str())),
        )
    }

    pub fn of_pieces(doc: &Document, pieces: &[Piece]) -> Located {
        Located::new(pieces.iter().filter_map(|p| doc.span_text(p.page, p.span).map(|t| (p.page, p.span, t))))
    }

    /// The document locations of `start..end` of `text` (one per part it overlaps).
    pub fn locations(&self, doc: &Document, start: usize, end: usize) -> Vec<Location> {
        let mut out = Vec::new();
        for (i, &(off, page, span)) in self.parts.iter().enumerate() {
            let part_end = off + (span.end - span.start);
            let _ = i;
            if start < part_end && off < end {
                let s = span.start + start.saturating_sub(off);
                let e = span.start + end.min(part_end) - off;
                if let Some(l) = Location::of(doc, page, Span { start: s, end: e }) {
                    out.push(l);
                }
            }
        }
        out
    }
}

/// One flag raised by a risk rule on a clause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskFlag {
    pub rule: String,
    pub kind: String,
    pub reason: String,
    pub level: Level,
    pub evidence: Evidence,
    /// The clause classifier's agreement with a rule flag (its score of the risky category).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSupport>,
}

/// The model's side of a flag: which model, which category, what score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSupport {
    pub name: String,
    pub version: String,
    pub category: String,
    pub score: f32,
}

/// A clause with what the rules found in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClauseResult {
    #[serde(flatten)]
    pub clause: Clause,
    pub risk: Level,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<RiskFlag>,
    /// The clause classifier's categories, when a model is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<ClauseClassification>,
}

/// The key terms, each with its evidence; a term not found is absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyTerms {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_date: Option<Grounded<NaiveDate>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_months: Option<Grounded<u32>>,
    /// The contract renews by itself (tacite reconduction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_automatic: Option<Grounded<bool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_period_months: Option<Grounded<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_notice_months: Option<Grounded<u32>>,
    /// Termination rights by label (for_breach, for_convenience, change_of_control…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub termination: Vec<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governing_law: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<Grounded<String>>,
    /// fees_N_months, amount, uncapped or excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liability_cap: Option<Grounded<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_days: Option<Grounded<u32>>,
    /// index, capped or unilateral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_revision: Option<Grounded<String>>,
}

/// What Liasse found in a contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractAnalysis {
    /// fr or en, from the wording.
    pub language: String,
    pub rules_version: String,
    /// The highest clause risk.
    pub risk: Level,
    pub risky_clauses: u32,
    pub terms: KeyTerms,
    pub clauses: Vec<ClauseResult>,
    /// Clause by clause against the company's standard positions (`rules/playbook/`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub playbook: Vec<super::playbook::PlaybookFinding>,
}

fn language(doc: &Document) -> &'static str {
    let mut fr = 0usize;
    let mut en = 0usize;
    for p in &doc.pages {
        for w in p.text.split(|c: char| !c.is_alphabetic()).take(5000) {
            match w {
                "le" | "la" | "les" | "des" | "du" | "et" | "est" | "contrat" | "une" => fr += 1,
                "the" | "and" | "of" | "shall" | "is" | "this" | "agreement" | "any" => en += 1,
                _ => {}
            }
        }
    }
    if fr > en { "fr" } else { "en" }
}

fn month(m: &str) -> Option<u32> {
    let m = m.to_lowercase();
    if let Ok(n) = m.parse::<u32>() {
        return (1..=12).contains(&n).then_some(n);
    }
    const NAMES: [(&str, &str, u32); 12] = [
        ("janvier", "jan", 1),
        ("février", "feb", 2),
        ("mars", "mar", 3),
        ("avril", "apr", 4),
        ("mai", "may", 5),
        ("juin", "jun", 6),
        ("juillet", "jul", 7),
        ("août", "aug", 8),
        ("septembre", "sep", 9),
        ("octobre", "oct", 10),
        ("novembre", "nov", 11),
        ("décembre", "dec", 12),
    ];
    NAMES.iter().find(|(fr, en, _)| m == *fr || m.starts_with(en)).map(|x| x.2)
}

fn grounded<T>(value: T, rule: &str, locations: Vec<Location>) -> Option<Grounded<T>> {
    (!locations.is_empty()).then(|| Grounded {
        value,
        evidence: Evidence { locations, method: Method::Pattern { rule: rule.to_string() }, confidence: 0.9 },
    })
}

fn extract_terms(
    doc: &Document,
    rules: &ContractRules,
    preamble: &Located,
    clauses: &[(Located, &Clause)],
) -> KeyTerms {
    use super::rules::TermField as F;
    let mut t = KeyTerms::default();
    for term in &rules.terms {
        let def = &term.def;
        let scopes: Vec<&Located> = if def.field == F::Party {
            vec![preamble]
        } else {
            std::iter::once(preamble)
                .filter(|_| def.heading.is_none())
                .chain(
                    clauses
                        .iter()
                        .filter(|(_, c)| match (&term.heading, &c.heading) {
                            (Some(h), Some(ch)) => h.is_match(ch),
                            (Some(_), None) => false,
                            (None, _) => true,
                        })
                        .map(|(l, _)| l),
                )
                .collect()
        };
        for scope in scopes {
            let hay = if def.field == F::Party { &scope.text } else { &scope.flat };
            for c in term.re.captures_iter(hay) {
                let whole = c.get(0).unwrap();
                let value_m = c.name("value").unwrap_or(whole);
                let locs = scope.locations(doc, value_m.start(), value_m.end());
                let whole_locs = scope.locations(doc, whole.start(), whole.end());
                let label = def.value.clone();
                let num = captured_number(&c);
                let unit = c.name("unit").map(|m| m.as_str());
                let months = num.map(|n| convert(n, unit, Some("months")).round() as u32);
                let id = def.id.as_str();
                match def.field {
                    F::Party => {
                        let name = value_m.as_str().trim().trim_end_matches([',', '.']).to_string();
                        if !name.is_empty() && !t.parties.iter().any(|p| p.value.eq_ignore_ascii_case(&name))
                        {
                            t.parties.extend(grounded(name, id, locs));
                        }
                    }
                    F::EffectiveDate if t.effective_date.is_none() => {
                        let d =
                            c.name("d").and_then(|m| m.as_str().trim_end_matches("er").parse::<u32>().ok());
                        let m = c.name("m").and_then(|m| month(m.as_str()));
                        let y = c.name("y").and_then(|m| m.as_str().parse::<i32>().ok());
                        if let (Some(d), Some(m), Some(y)) = (d, m, y)
                            && let Some(date) = NaiveDate::from_ymd_opt(y, m, d)
                        {
                            t.effective_date = grounded(date, id, whole_locs);
                        }
                    }
                    F::TermDuration if t.term_months.is_none() => {
                        if let Some(m) = months {
                            t.term_months = grounded(m, id, whole_locs);
                        }
                    }
                    F::RenewalAutomatic => {
                        if t.renewal_automatic.is_none() {
                            t.renewal_automatic =
                                grounded(label.as_deref() != Some("false"), id, whole_locs.clone());
                        }
                        if t.renewal_period_months.is_none()
                            && let Some(m) = months
                        {
                            t.renewal_period_months = grounded(m, id, whole_locs);
                        }
                    }
                    F::RenewalNotice if t.renewal_notice_months.is_none() => {
                        if let Some(m) = months {
                            t.renewal_notice_months = grounded(m, id, whole_locs);
                        }
                    }
                    F::Termination => {
                        let l = label.unwrap_or_else(|| "termination".into());
                        if !t.termination.iter().any(|x| x.value == l) {
                            t.termination.extend(grounded(l, id, whole_locs));
                        }
                    }
                    F::GoverningLaw if t.governing_law.is_none() => {
                        t.governing_law = grounded(value_m.as_str().trim().to_string(), id, locs);
                    }
                    F::Jurisdiction if t.jurisdiction.is_none() => {
                        let v = value_m.as_str().split_whitespace().collect::<Vec<_>>().join(" ");
                        t.jurisdiction = grounded(v, id, locs);
                    }
                    F::LiabilityCap if t.liability_cap.is_none() => {
                        let l = label
                            .unwrap_or_else(|| "cap".into())
                            .replace("{n}", &months.map(|m| m.to_string()).unwrap_or_default());
                        t.liability_cap = grounded(l, id, whole_locs);
                    }
                    F::PaymentDays if t.payment_days.is_none() => {
                        if let Some(n) = num {
                            t.payment_days = grounded(n as u32, id, whole_locs);
                        }
                    }
                    F::PriceRevision if t.price_revision.is_none() => {
                        t.price_revision =
                            grounded(label.unwrap_or_else(|| "revision".into()), id, whole_locs);
                    }
                    _ => {}
                }
            }
        }
    }
    t
}

fn flags_of(doc: &Document, rules: &ContractRules, located: &Located, clause: &Clause) -> Vec<RiskFlag> {
    let text = &located.flat;
    let mut out = Vec::new();
    for r in &rules.risks {
        if let Some(h) = &r.heading
            && !clause.heading.as_deref().is_some_and(|ch| h.is_match(ch))
        {
            continue;
        }
        if r.none.iter().any(|re| re.is_match(text)) {
            continue;
        }
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut ok = true;
        for re in &r.all {
            match re.find(text) {
                Some(m) => spans.push((m.start(), m.end())),
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            continue;
        }
        if !r.any.is_empty() {
            match r.any.iter().find_map(|re| re.find(text)) {
                Some(m) => spans.push((m.start(), m.end())),
                None => continue,
            }
        }
        if let Some(n) = &r.number {
            let hit = n.re.captures_iter(text).find(|c| {
                captured_number(c).is_some_and(|v| {
                    let v = convert(v, c.name("unit").map(|m| m.as_str()), n.unit.as_deref());
                    n.gt.is_none_or(|g| v > g) && n.lt.is_none_or(|l| v < l)
                })
            });
            match hit {
                Some(c) => {
                    let m = c.get(0).unwrap();
                    spans.push((m.start(), m.end()));
                }
                None => continue,
            }
        }
        spans.sort();
        spans.dedup();
        let locations: Vec<Location> =
            spans.iter().flat_map(|&(s, e)| located.locations(doc, s, e)).collect();
        if locations.is_empty() {
            continue;
        }
        out.push(RiskFlag {
            rule: r.def.id.clone(),
            kind: r.def.kind.clone(),
            reason: r.def.reason.clone(),
            level: r.def.level,
            evidence: Evidence {
                locations,
                method: Method::Pattern { rule: r.def.id.clone() },
                confidence: 0.9,
            },
            model: None,
        });
    }
    out
}

/// Analyse a contract: segmentation, key terms, risk flags per clause and for the contract.
pub fn analyse(doc: &Document, rules: &ContractRules) -> ContractAnalysis {
    analyse_with(doc, rules, None)
}

/// The model's part of a clause's risk (`[[model]]` of the rules): rule flags it agrees with
/// get its evidence and a higher confidence; a risky category scored high with no rule flag of
/// its kinds becomes a flag of its own, grounded on the clause heading.
fn combine(c: &Clause, rules: &ContractRules, m: &ClauseModel, scores: &[f32], flags: &mut Vec<RiskFlag>) {
    for def in &rules.model_risks {
        let Some(i) = m.model.labels.iter().position(|l| *l == def.category) else { continue };
        let score = scores[i];
        let support = ModelSupport {
            name: m.model.name.clone(),
            version: m.version.clone(),
            category: def.category.clone(),
            score: round4(score),
        };
        let mut agreed = false;
        if score >= m.thresholds[i] {
            for f in flags.iter_mut().filter(|f| def.corroborates.contains(&f.kind)) {
                agreed = true;
                if f.model.as_ref().is_none_or(|s| s.score < support.score) {
                    f.model = Some(support.clone());
                    f.evidence.confidence = f.evidence.confidence.max(def.agree_confidence);
                }
            }
        }
        let ruled = flags.iter().any(|f| def.corroborates.contains(&f.kind) || f.kind == def.kind);
        if def.alone && !agreed && !ruled && score >= def.min_score && score >= m.thresholds[i] {
            flags.push(RiskFlag {
                rule: def.id.clone(),
                kind: def.kind.clone(),
                reason: def.reason.clone(),
                level: def.level,
                evidence: Evidence {
                    locations: vec![c.heading_location.clone()],
                    method: Method::Model { name: m.model.name.clone(), version: m.version.clone() },
                    confidence: round4(score),
                },
                model: Some(support),
            });
        }
    }
}

/// `analyse`, with the clause classifier when one is given: every clause is classified and the
/// model's scores of risky categories are combined with the rule flags (`combine`).
pub fn analyse_with(doc: &Document, rules: &ContractRules, model: Option<&ClauseModel>) -> ContractAnalysis {
    let seg = segment(doc);
    let preamble = Located::of_pieces(doc, &seg.preamble);
    let located: Vec<(Located, &Clause)> = seg.clauses.iter().map(|c| (Located::of_clause(c), c)).collect();
    let terms = extract_terms(doc, rules, &preamble, &located);
    let clauses: Vec<ClauseResult> = located
        .iter()
        .map(|(l, c)| {
            let mut flags = flags_of(doc, rules, l, c);
            let mut classification = None;
            if let Some(m) = model {
                match m.scores(&l.text) {
                    Ok(scores) => {
                        combine(c, rules, m, &scores, &mut flags);
                        classification = Some(ClauseClassification {
                            model: m.model.name.clone(),
                            version: m.version.clone(),
                            labels: m.labels(&scores),
                        });
                    }
                    Err(e) => tracing::warn!(clause = %c.reference, error = %e, "clause classifier failed"),
                }
            }
            let risk = flags.iter().map(|f| f.level).max().unwrap_or(Level::None);
            ClauseResult { clause: (*c).clone(), risk, flags, classification }
        })
        .collect();
    let risk = clauses.iter().map(|c| c.risk).max().unwrap_or(Level::None);
    let risky_clauses = clauses.iter().filter(|c| c.risk >= Level::Medium).count() as u32;
    ContractAnalysis {
        language: language(doc).to_string(),
        rules_version: rules.version.clone(),
        risk,
        risky_clauses,
        terms,
        clauses,
        playbook: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::text_document;

    fn rules() -> &'static ContractRules {
        static R: std::sync::OnceLock<ContractRules> = std::sync::OnceLock::new();
        R.get_or_init(|| ContractRules::builtin().unwrap())
    }

    /// The rule ids raised on a one-clause contract holding `body`.
    fn flags(heading: &str, body: &str) -> Vec<String> {
        let doc = text_document(
            "t",
            &format!("CONTRAT\n\nArticle 1 – {heading}\n\n{body}\n\nArticle 2 – Fin\n\nRien."),
        );
        let a = analyse(&doc, rules());
        a.clauses[0].flags.iter().map(|f| f.rule.clone()).collect()
    }

    /// The clause classifier and the rules together: a rule flag the model agrees with gets its
    /// evidence and a higher confidence; a non-compete written in words no rule knows gets a
    /// low flag from the model alone, grounded on the clause heading.
    #[test]
    fn model_corroborates_rule_flags_and_flags_alone() {
        crate::model::init(None).expect("ONNX Runtime (ORT_DYLIB_PATH)");
        let m = ClauseModel::load(std::path::Path::new(super::super::classifier::DEFAULT_MODEL)).unwrap();
        let doc = text_document(
            "t",
            "CONTRAT DE PRESTATION\n\nArticle 1 – Durée\n\nIl se renouvellera par tacite reconduction \
             pour des périodes successives de trente-six (36) mois, sauf dénonciation au moins six (6) \
             mois avant l'échéance.\n\nArticle 2 – Non-concurrence\n\nPendant deux ans après la fin du \
             contrat, le Prestataire s'interdit toute activité concurrente de celle du Client, \
             directement ou par personne interposée, sur tout le territoire français.\n\nArticle 3 – Fin\n\nRien.",
        );
        let plain = analyse(&doc, rules());
        let a = analyse_with(&doc, rules(), Some(&m));
        assert!(plain.clauses.iter().all(|c| c.classification.is_none()));
        // Rule flags are kept, with the model's support when it agrees.
        let renewal = &a.clauses[0];
        let f = renewal.flags.iter().find(|f| f.rule == "renewal.long_notice").expect("rule flag");
        let s = f.model.as_ref().expect("model agrees");
        assert_eq!(s.category, "renewal_term");
        assert!(f.evidence.confidence >= 0.97);
        assert!(matches!(f.evidence.method, Method::Pattern { .. }));
        assert_eq!(renewal.risk, Level::High);
        // The model alone: a low flag citing the model.
        let nc = &a.clauses[1];
        assert!(nc.classification.as_ref().unwrap().labels.iter().any(|l| l.label == "non_compete"));
        let mf = nc.flags.iter().find(|f| f.rule == "model.non_compete").expect("model flag");
        assert_eq!(mf.level, Level::Low);
        assert!(matches!(mf.evidence.method, Method::Model { .. }));
        assert_eq!(mf.evidence.locations[0].text, nc.clause.heading_location.text);
        assert!(mf.model.as_ref().unwrap().score >= 0.8);
        // Clause 3 says nothing risky: no flag.
        assert!(a.clauses[2].flags.is_empty());
    }

    #[test]
    fn each_risk_rule_on_a_minimal_snippet() {
        let cases = [
            (
                "Durée",
                "Il se renouvellera par tacite reconduction, sauf dénonciation au moins six (6) mois avant l'échéance.",
                "renewal.long_notice",
            ),
            (
                "Term",
                "It shall renew automatically unless notice of non-renewal at least 6 months before the end of the term.",
                "renewal.long_notice",
            ),
            (
                "Durée",
                "Il se renouvellera par tacite reconduction pour des périodes successives de trente-six (36) mois.",
                "renewal.long_period",
            ),
            (
                "Résiliation",
                "Le Prestataire pourra résilier le contrat à tout moment, sans préavis ni indemnité.",
                "termination.at_will",
            ),
            (
                "Termination",
                "The Supplier may terminate this Agreement at any time, without notice and without compensation.",
                "termination.at_will",
            ),
            (
                "Termination",
                "Either party may terminate this Agreement upon a change of control of the other party.",
                "termination.change_of_control",
            ),
            (
                "Responsabilité",
                "Le Prestataire est responsable de tous les dommages, sans aucune limitation de montant.",
                "liability.uncapped",
            ),
            (
                "Liability",
                "The Supplier shall be liable for all direct and indirect losses, without limit.",
                "liability.uncapped",
            ),
            (
                "Liability",
                "The Supplier shall have no liability whatsoever to the Customer.",
                "liability.total_exclusion",
            ),
            (
                "Prix",
                "Le Prestataire se réserve le droit de modifier ses tarifs à tout moment.",
                "price.unilateral_change",
            ),
            ("Paiement", "Les factures sont payables à 90 jours.", "payment.excessive_term"),
            (
                "Pénalités",
                "Une pénalité de 10 % par jour de retard sera due, sans plafond.",
                "penalty.per_day_uncapped",
            ),
            (
                "Non-concurrence",
                "Le Client s'interdit pendant cinq (5) ans après la cessation toute activité concurrente.",
                "non_compete.long",
            ),
            (
                "Non-Competition",
                "The Distributor shall not compete anywhere in the world.",
                "non_compete.worldwide",
            ),
            (
                "Non-concurrence",
                "Interdiction de toute activité concurrente, sans contrepartie financière.",
                "non_compete.no_compensation",
            ),
            (
                "Juridiction",
                "Tout litige sera soumis à la compétence exclusive des tribunaux de New York (États-Unis).",
                "jurisdiction.foreign_exclusive",
            ),
            (
                "Confidentialité",
                "Les informations confidentielles restent protégées sans limitation de durée.",
                "confidentiality.perpetual",
            ),
            (
                "Confidentialité",
                "Le Prestataire pourra librement utiliser et communiquer les informations reçues.",
                "confidentiality.one_sided",
            ),
            (
                "IP",
                "The Supplier assigns all of its rights, including in its pre-existing tools.",
                "ip.broad_assignment",
            ),
            (
                "Data",
                "The Provider may use any data, including personal data, provided by the Customer for any purpose.",
                "data.reuse",
            ),
            (
                "Exclusivity",
                "The Buyer shall purchase exclusively from the Seller; the Seller makes no volume commitment.",
                "exclusivity.one_sided",
            ),
            (
                "Distribution",
                "The Supplier appoints the Distributor as its exclusive distributor in Ireland.",
                "exclusivity.any",
            ),
            (
                "Remedies",
                "The Disclosing Party waives any right to seek injunctive relief.",
                "remedies.waiver",
            ),
            (
                "Assignment",
                "The Supplier may assign this Agreement without the Customer's consent.",
                "assignment.without_consent",
            ),
            ("Term", "This licence is granted in perpetuity.", "term.perpetual"),
        ];
        for (h, body, rule) in cases {
            let got = flags(h, body);
            assert!(got.iter().any(|r| r == rule), "{rule} not raised on {body:?}: {got:?}");
        }
    }

    #[test]
    fn clean_clauses_raise_nothing() {
        let cases = [
            (
                "Durée",
                "Il est renouvelé par tacite reconduction pour des périodes de douze (12) mois, moyennant un préavis de trois (3) mois avant l'échéance.",
            ),
            (
                "Responsabilité",
                "Le montant total des indemnités est plafonné au montant des sommes versées au cours des douze (12) mois précédents.",
            ),
            ("Paiement", "Les factures sont payables à 30 jours."),
            ("Pénalités", "Des pénalités de 0,5 % par semaine de retard, dans la limite de 5 % du prix."),
            ("Confidentiality", "This obligation survives termination for 3 years."),
            (
                "Assignment",
                "Neither Party may assign this Agreement without the prior written consent of the other Party.",
            ),
            ("Juridiction", "Le litige sera porté devant le Tribunal de commerce de Lyon, seul compétent."),
        ];
        for (h, body) in cases {
            assert_eq!(flags(h, body), Vec::<String>::new(), "{body}");
        }
    }

    #[test]
    fn flags_are_grounded_in_the_page_text() {
        let doc = text_document(
            "t",
            "CONTRAT\n\nArticle 1 – Paiement\n\nLes factures sont payables à 90 jours.\n\nArticle 2 – Fin\n\nRien.",
        );
        let a = analyse(&doc, rules());
        let f = &a.clauses[0].flags[0];
        for l in &f.evidence.locations {
            assert_eq!(doc.span_text(l.page, l.span), Some(l.text.as_str()));
        }
        assert_eq!(a.terms.payment_days.as_ref().map(|g| g.value), Some(90));
        assert_eq!(a.risk, Level::High);
    }
}
