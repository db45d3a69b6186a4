//! Classification: `Document → Classification` (type, contract subtype, language, confidence),
//! decided by the ONNX models of `models/classifier/` (trained by its `train.py`, see CARD.md).
//!
//! Three heads read the same feature vector (`features::text_features` of `document_text`):
//! type, contract subtype, language. Below the confidence threshold (configuration, else the
//! one calibrated on held-out data and stored in the model) the type is `unknown` and the
//! document is marked for review rather than sent to the wrong extractor.
//!
//! The evidence names the model, its version and its score; its locations show where the
//! document names its own type (the first words such as "FACTURE", "Credit note", "Contrat",
//! "Avenant" on its pages) when it does: they help a reviewer but decide nothing.

use crate::config::{ClassifierConfig, ModelsConfig};
use crate::document::{Document, Span};
use crate::evidence::{Evidence, Location, Method};
use crate::features::{document_text, text_features};
use crate::model::{Model, ModelError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("classifier model {path}: {message}")]
    Invalid { path: String, message: String },
    #[error("classifier threshold {0} is not in [0, 1]")]
    Threshold(f32),
}

/// The document types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    Invoice,
    CreditNote,
    PurchaseOrder,
    Quote,
    DeliveryNote,
    Receipt,
    Contract,
    ContractAmendment,
    Other,
    /// Below the confidence threshold: to review.
    Unknown,
}

impl DocType {
    pub const MODEL_LABELS: [DocType; 9] = [
        DocType::Invoice,
        DocType::CreditNote,
        DocType::PurchaseOrder,
        DocType::Quote,
        DocType::DeliveryNote,
        DocType::Receipt,
        DocType::Contract,
        DocType::ContractAmendment,
        DocType::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocType::Invoice => "invoice",
            DocType::CreditNote => "credit_note",
            DocType::PurchaseOrder => "purchase_order",
            DocType::Quote => "quote",
            DocType::DeliveryNote => "delivery_note",
            DocType::Receipt => "receipt",
            DocType::Contract => "contract",
            DocType::ContractAmendment => "contract_amendment",
            DocType::Other => "other",
            DocType::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<DocType> {
        DocType::MODEL_LABELS.iter().copied().chain([DocType::Unknown]).find(|t| t.as_str() == s)
    }

    /// The words by which a document names its own type (folded like the features: lower
    /// case, no accents), for the evidence locations.
    fn cues(self) -> &'static [&'static str] {
        match self {
            DocType::Invoice => &["facture", "invoice", "note d'honoraires"],
            DocType::CreditNote => &["avoir", "credit note", "credit memo", "note de credit"],
            DocType::PurchaseOrder => &["bon de commande", "purchase order", "commande", "order"],
            DocType::Quote => &["devis", "quotation", "quote", "estimate", "proposition commerciale"],
            DocType::DeliveryNote => &["bon de livraison", "delivery note", "packing slip", "despatch note"],
            DocType::Receipt => &["recu", "ticket", "receipt"],
            DocType::Contract => &["contrat", "agreement", "contract", "accord", "bail"],
            DocType::ContractAmendment => &["avenant", "amendment", "addendum"],
            DocType::Other | DocType::Unknown => &[],
        }
    }
}

/// The language of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Fr,
    En,
    Other,
}

/// A model's name and version, as recorded with each result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    pub name: String,
    pub version: String,
}

/// What the classifier says about one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// The type, or `unknown` below the threshold.
    pub doc_type: DocType,
    /// The model's most likely type, even when `doc_type` is `unknown`.
    pub predicted: DocType,
    /// Contract subtype (services, nda, supply, lease, saas, distribution, employment, other),
    /// for contracts only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype_confidence: Option<f32>,
    pub language: Language,
    pub language_confidence: f32,
    /// Probability of the predicted type (scores are rounded to 4 decimals).
    pub confidence: f32,
    /// The threshold applied.
    pub threshold: f32,
    /// Below the threshold: a person decides the type.
    pub review: bool,
    /// Probability of every type.
    pub probabilities: BTreeMap<String, f32>,
    pub model: ModelRef,
    pub evidence: Evidence,
}

/// The three heads, loaded once per process and shared.
#[derive(Debug)]
pub struct Classifier {
    pub type_model: Model,
    pub subtype_model: Model,
    pub language_model: Model,
    pub threshold: f32,
    types: Vec<DocType>,
}

impl Classifier {
    /// Loads `type.onnx`, `subtype.onnx` and `language.onnx` from the configured folder.
    pub fn load(config: &ClassifierConfig, models: &ModelsConfig) -> Result<Classifier, ClassifyError> {
        crate::model::init(models.ort_dylib.as_deref())?;
        Classifier::load_dir(&config.dir, config.threshold)
    }

    pub fn load_dir(dir: &Path, threshold: Option<f32>) -> Result<Classifier, ClassifyError> {
        let type_model = Model::load(&dir.join("type.onnx"))?;
        let subtype_model = Model::load(&dir.join("subtype.onnx"))?;
        let language_model = Model::load(&dir.join("language.onnx"))?;
        let invalid = |m: &Model, message: String| ClassifyError::Invalid { path: m.name.clone(), message };
        let types = type_model
            .labels
            .iter()
            .map(|l| DocType::parse(l).filter(|t| *t != DocType::Unknown))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid(&type_model, format!("unknown type label in {:?}", type_model.labels)))?;
        for (m, want) in [(&language_model, vec!["fr", "en", "other"])] {
            if m.labels != want {
                return Err(invalid(m, format!("labels {:?}, expected {want:?}", m.labels)));
            }
        }
        for m in [&subtype_model, &language_model] {
            if m.features != type_model.features {
                return Err(invalid(m, "feature spec differs from the type model's".into()));
            }
        }
        let threshold = threshold.or(type_model.threshold).unwrap_or(0.5);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(ClassifyError::Threshold(threshold));
        }
        Ok(Classifier { type_model, subtype_model, language_model, threshold, types })
    }

    /// The model version recorded with results: `<version>+<sha256 prefix of type.onnx>`.
    pub fn version(&self) -> String {
        format!("{}+{}", self.type_model.version, &self.type_model.sha256[..12])
    }

    /// Classify a text (what `classify` does with a document's text).
    pub fn classify_text(&self, text: &str) -> Result<Prediction, ModelError> {
        let x = text_features(text, &self.type_model.features);
        let p = self.type_model.predict(&x)?;
        let (best, conf) = argmax(&p);
        let predicted = self.types[best];
        let (subtype, subtype_confidence) = if predicted == DocType::Contract {
            let ps = self.subtype_model.predict(&x)?;
            let (k, c) = argmax(&ps);
            (self.subtype_model.labels.get(k).cloned(), Some(c))
        } else {
            (None, None)
        };
        let pl = self.language_model.predict(&x)?;
        let (k, language_confidence) = argmax(&pl);
        let language = [Language::Fr, Language::En, Language::Other][k.min(2)];
        Ok(Prediction {
            probabilities: p,
            predicted,
            confidence: conf,
            subtype,
            subtype_confidence,
            language,
            language_confidence,
        })
    }
}

/// The raw output of the heads for one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub probabilities: Vec<f32>,
    pub predicted: DocType,
    pub confidence: f32,
    pub subtype: Option<String>,
    pub subtype_confidence: Option<f32>,
    pub language: Language,
    pub language_confidence: f32,
}

/// Scores are reported to 4 decimals: the last bits of ONNX Runtime's arithmetic vary with the
/// CPU's instruction set, and results must not (decisions use the exact values).
fn round4(x: f32) -> f32 {
    (x * 10_000.0).round() / 10_000.0
}

fn argmax(p: &[f32]) -> (usize, f32) {
    p.iter()
        .copied()
        .enumerate()
        .fold((0, f32::MIN), |(bi, bv), (i, v)| if v > bv { (i, v) } else { (bi, bv) })
}

/// Classify a document. Never fails: if the model cannot run (it could not at start either),
/// the type is `unknown`, for review.
pub fn classify(c: &Classifier, doc: &Document) -> Classification {
    let text = document_text(doc);
    let model = ModelRef { name: "classifier".into(), version: c.version() };
    let method = Method::Model { name: c.type_model.name.clone(), version: c.version() };
    match c.classify_text(&text) {
        Ok(p) => {
            let review = p.confidence < c.threshold;
            let doc_type = if review { DocType::Unknown } else { p.predicted };
            let probabilities = c
                .types
                .iter()
                .zip(&p.probabilities)
                .map(|(t, v)| (t.as_str().to_string(), round4(*v)))
                .collect();
            Classification {
                doc_type,
                predicted: p.predicted,
                subtype: if doc_type == DocType::Contract { p.subtype } else { None },
                subtype_confidence: if doc_type == DocType::Contract {
                    p.subtype_confidence.map(round4)
                } else {
                    None
                },
                language: p.language,
                language_confidence: round4(p.language_confidence),
                confidence: round4(p.confidence),
                threshold: c.threshold,
                review,
                probabilities,
                model,
                evidence: Evidence {
                    locations: cue_locations(doc, p.predicted, c.type_model.features.max_chars),
                    method,
                    confidence: round4(p.confidence),
                },
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "classifier failed");
            Classification {
                doc_type: DocType::Unknown,
                predicted: DocType::Unknown,
                subtype: None,
                subtype_confidence: None,
                language: Language::Other,
                language_confidence: 0.0,
                confidence: 0.0,
                threshold: c.threshold,
                review: true,
                probabilities: BTreeMap::new(),
                model,
                evidence: Evidence { locations: Vec::new(), method, confidence: 0.0 },
            }
        }
    }
}

/// Where the document names the predicted type: the first occurrence of its cue words, as whole
/// words, in the part of the text the model read (at most 2 locations).
fn cue_locations(doc: &Document, t: DocType, max_chars: usize) -> Vec<Location> {
    let mut out = Vec::new();
    let mut budget = max_chars;
    for page in &doc.pages {
        if budget == 0 || out.len() >= 2 {
            break;
        }
        let end = page.text.char_indices().nth(budget).map(|(i, _)| i).unwrap_or(page.text.len());
        budget = budget.saturating_sub(page.text[..end].chars().count());
        let (folded, map) = fold_with_map(&page.text[..end]);
        for cue in t.cues() {
            if out.len() >= 2 {
                break;
            }
            if let Some(pos) = find_word(&folded, cue) {
                let (s, e) = (map[pos], map[pos + cue.len()]);
                if out.iter().any(|l: &Location| l.page == page.number && l.span.start < e && s < l.span.end)
                {
                    continue;
                }
                if let Some(loc) = Location::of(doc, page.number, Span { start: s, end: e }) {
                    out.push(loc);
                }
            }
        }
    }
    out
}

/// Lower case, accents folded, with the byte offset in the original of every byte of the result
/// (plus the end).
fn fold_with_map(s: &str) -> (String, Vec<usize>) {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let mut out = String::new();
    let mut map = Vec::new();
    for (i, ch) in s.char_indices() {
        for c in std::iter::once(ch).nfd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase) {
            let mut buf = [0u8; 4];
            for _ in c.encode_utf8(&mut buf).bytes() {
                map.push(i);
            }
            out.push(c);
        }
    }
    map.push(s.len());
    // Offsets inside a character map to its start; the end of a match maps to the next
    // character's start, which is right for spans.
    (out, map)
}

fn find_word(hay: &str, needle: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = hay[from..].find(needle) {
        let s = from + i;
        let e = s + needle.len();
        let before = hay[..s].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let after = hay[e..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        if before && after {
            return Some(s);
        }
        from = e;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_offsets_point_into_the_original() {
        let s = "Reçu n° 12 — ÉCHÉANCE";
        let (f, map) = fold_with_map(s);
        let i = find_word(&f, "recu").unwrap();
        assert_eq!(&s[map[i]..map[i + 4]], "Reçu");
        let j = find_word(&f, "echeance").unwrap();
        assert_eq!(&s[map[j]..map[j + 8]], "ÉCHÉANCE");
        assert_eq!(find_word("bonjour", "jour"), None);
    }

    #[test]
    fn types_round_trip() {
        for t in DocType::MODEL_LABELS {
            assert_eq!(DocType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::Value::String(t.as_str().into()));
        }
    }
}
