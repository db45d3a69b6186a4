//! The clause classifier: an ONNX model (trained by `models/clauses/train.py`) that gives every
//! clause a score per category of the taxonomy (`models/clauses/taxonomy.json`: CUAD's 41
//! categories and the French clause types), multi-label, with a threshold per category
//! (`thresholds.json` beside the model, chosen on a validation split). Inference only: the
//! model file is read once at engine start; `classify` is CPU work through `crate::model`.

use super::ContractError;
use super::segment::Clause;
use crate::model::Model;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The default place of the model (relative to the working folder).
pub const DEFAULT_MODEL: &str = "models/clauses/clauses.onnx";

/// A category given to a clause, with the model's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClauseLabel {
    pub label: String,
    pub score: f32,
}

/// What the model said of a clause: the categories over their thresholds, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClauseClassification {
    /// Model name.
    pub model: String,
    /// `<version>+<sha256 prefix>` of the model file.
    pub version: String,
    pub labels: Vec<ClauseLabel>,
}

/// The thresholds file written by the training script.
#[derive(Debug, Deserialize)]
struct Thresholds {
    thresholds: BTreeMap<String, f32>,
}

/// The loaded classifier.
pub struct ClauseModel {
    pub model: Model,
    /// Threshold of each label, in the order of `model.labels`.
    pub thresholds: Vec<f32>,
    /// `<version>+<first 12 hex of the file's sha256>`.
    pub version: String,
}

impl std::fmt::Debug for ClauseModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClauseModel").field("version", &self.version).finish_non_exhaustive()
    }
}

/// The text the classifier reads for a clause: its heading line and its body, one part per line.
/// The training script gets the same text from `liasse clauses`.
pub fn clause_text(c: &Clause) -> String {
    super::analyse::Located::of_clause(c).text
}

impl ClauseModel {
    /// Reads the model and `thresholds.json` beside it (a label without a threshold: 0.5).
    pub fn load(path: &Path) -> Result<ClauseModel, ContractError> {
        let err = |m: String| ContractError::Model(path.display().to_string(), m);
        let model = Model::load(path).map_err(|e| err(e.to_string()))?;
        let tpath = path.with_file_name("thresholds.json");
        let thresholds = match std::fs::read_to_string(&tpath) {
            Ok(text) => {
                let t: Thresholds =
                    serde_json::from_str(&text).map_err(|e| err(format!("{}: {e}", tpath.display())))?;
                if let Some(unknown) = t.thresholds.keys().find(|k| !model.labels.contains(k)) {
                    return Err(err(format!("{}: unknown label {unknown}", tpath.display())));
                }
                model.labels.iter().map(|l| t.thresholds.get(l).copied().unwrap_or(0.5)).collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![0.5; model.labels.len()],
            Err(e) => return Err(err(format!("{}: {e}", tpath.display()))),
        };
        let version = format!("{}+{}", model.version, &model.sha256[..12]);
        Ok(ClauseModel { model, thresholds, version })
    }

    /// The score of every label for a text, in the order of `model.labels`.
    pub fn scores(&self, text: &str) -> Result<Vec<f32>, ContractError> {
        self.model
            .predict_text(text)
            .map_err(|e| ContractError::Model(self.model.name.clone(), e.to_string()))
    }

    /// The labels of a score vector over their thresholds, best first.
    pub fn labels(&self, scores: &[f32]) -> Vec<ClauseLabel> {
        let mut out: Vec<ClauseLabel> = self
            .model
            .labels
            .iter()
            .zip(scores)
            .zip(&self.thresholds)
            .filter(|((_, s), t)| **s >= **t)
            .map(|((l, s), _)| ClauseLabel { label: l.clone(), score: round4(*s) })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.label.cmp(&b.label)));
        out
    }

    /// The score of a label, when the model has it.
    pub fn score_of(&self, scores: &[f32], label: &str) -> Option<f32> {
        self.model.labels.iter().position(|l| l == label).and_then(|i| scores.get(i).copied())
    }
}

/// Scores kept to 4 decimals in outcomes (stable JSON across platforms' last bits).
pub fn round4(x: f32) -> f32 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> &'static ClauseModel {
        static M: std::sync::OnceLock<ClauseModel> = std::sync::OnceLock::new();
        M.get_or_init(|| {
            crate::model::init(None).expect("ONNX Runtime (ORT_DYLIB_PATH)");
            ClauseModel::load(Path::new(DEFAULT_MODEL)).expect("models/clauses/clauses.onnx loads")
        })
    }

    #[test]
    fn labels_are_those_over_their_thresholds_best_first() {
        let m = model();
        let n = m.model.labels.len();
        let mut scores = vec![0.0f32; n];
        let (a, b) = (m.model.labels[0].clone(), m.model.labels[1].clone());
        scores[0] = m.thresholds[0].max(0.6);
        scores[1] = 0.99;
        scores[2] = m.thresholds[2] * 0.5;
        let got = m.labels(&scores);
        assert_eq!(got.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(), vec![b.as_str(), a.as_str()]);
        assert_eq!(got[0].score, 0.99);
        assert_eq!(m.score_of(&scores, &b), Some(0.99));
        assert_eq!(m.score_of(&scores, "no_such_label"), None);
        assert!(m.labels(&vec![0.0; n]).is_empty());
    }

    #[test]
    fn thresholds_file_with_an_unknown_label_is_an_error() {
        let dir = std::env::temp_dir().join(format!("liasse-clauses-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(DEFAULT_MODEL, dir.join("clauses.onnx")).unwrap();
        std::fs::write(dir.join("thresholds.json"), r#"{"thresholds": {"nope": 0.5}}"#).unwrap();
        crate::model::init(None).unwrap();
        let e = ClauseModel::load(&dir.join("clauses.onnx")).unwrap_err();
        assert!(e.to_string().contains("unknown label nope"), "{e}");
        std::fs::write(dir.join("thresholds.json"), "not json").unwrap();
        assert!(ClauseModel::load(&dir.join("clauses.onnx")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn clause_text_is_heading_then_body() {
        let doc = crate::contract::text_document(
            "t",
            "CONTRAT\n\nArticle 1 – Objet\n\nLe présent contrat a pour objet la fourniture.\n\nArticle 2 – Durée\n\nUn an.",
        );
        let seg = crate::contract::segment(&doc);
        let t = clause_text(&seg.clauses[0]);
        assert!(t.starts_with("Article 1 – Objet\n"), "{t:?}");
        assert!(t.contains("a pour objet la fourniture"));
    }
}
