//! Contracts: segmentation into articles and clauses, key terms, risk flags (rules of
//! `rules/contract/`), the playbook of `rules/playbook/` and the comparison of two versions.
//! No IO here except reading rule folders at engine start (`ContractEngine::load`).

pub mod analyse;
pub mod classifier;
pub mod compare;
pub mod playbook;
pub mod rules;
pub mod segment;

pub use analyse::{ClauseResult, ContractAnalysis, KeyTerms, ModelSupport, RiskFlag, analyse, analyse_with};
pub use classifier::{ClauseClassification, ClauseLabel, ClauseModel, clause_text};
pub use rules::{ContractRules, Level};
pub use segment::{Clause, Numbering, SubClause, segment};

use crate::document::{ContentHash, Document, Format, Page, PageMethod, Provenance, Source};

#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("contract rules {file} {id}: {message}")]
    Rule { file: String, id: String, message: String },
    #[error("reading {0}: {1}")]
    Io(String, String),
    #[error("clause model {0}: {1}")]
    Model(String, String),
}

/// A one-page document made from plain text (a CUAD contract, a test snippet): the text is
/// normalised the way intake normalises page texts.
pub fn text_document(name: &str, text: &str) -> Document {
    Document {
        content_hash: ContentHash::of(text.as_bytes()),
        format: Format::Pdf,
        media_type: "text/plain".into(),
        source: Source {
            name: name.into(),
            path: None,
            size: text.len() as u64,
            provenance: Provenance::File,
        },
        pdf: None,
        pages: vec![Page {
            number: 1,
            method: PageMethod::TextLayer,
            text: crate::document::normalize_text(text),
            layout: None,
            ocr: None,
            words: vec![],
        }],
        attachments: vec![],
        einvoice: None,
        warnings: vec![],
    }
}

/// What contract analysis needs, compiled once at engine start.
pub struct ContractEngine {
    pub rules: ContractRules,
    pub playbook: playbook::Playbook,
    /// The clause classifier, when its file exists (`contract.clause_model`).
    pub clause_model: Option<ClauseModel>,
}

impl ContractEngine {
    pub fn new(config: &crate::config::ContractConfig) -> Result<ContractEngine, ContractError> {
        let rules = match &config.rules_dir {
            Some(d) => ContractRules::load(d)?,
            None => ContractRules::builtin()?,
        };
        let playbook = match &config.playbook_dir {
            Some(d) => playbook::Playbook::load(d)?,
            None => playbook::Playbook::builtin()?,
        };
        let clause_model = match &config.clause_model {
            Some(p) if p.exists() => {
                crate::model::init(None)
                    .map_err(|e| ContractError::Model(p.display().to_string(), e.to_string()))?;
                Some(ClauseModel::load(p)?)
            }
            Some(p) => {
                tracing::warn!(path = %p.display(), "no clause model: clauses are not classified");
                None
            }
            None => None,
        };
        Ok(ContractEngine { rules, playbook, clause_model })
    }

    /// The versions of the rule sets that decide an analysis.
    pub fn version(&self) -> String {
        format!("{}+{}", self.rules.version, self.playbook.version)
    }

    /// The clause classifier's `<name>-<version>+<sha256 prefix>`, when one is loaded.
    pub fn model_version(&self) -> Option<String> {
        self.clause_model.as_ref().map(|m| format!("{}-{}", m.model.name, m.version))
    }

    /// Analyse a contract and check it against the playbook.
    pub fn analyse(&self, doc: &Document) -> ContractAnalysis {
        let mut a = analyse_with(doc, &self.rules, self.clause_model.as_ref());
        a.playbook = self.playbook.check(&a.terms, &a.clauses);
        a
    }

    /// Analyse the document when it is a contract or an amendment (`is_contract`), with at
    /// least two clauses found.
    pub fn analyse_if_contract(&self, doc: &Document) -> Option<ContractAnalysis> {
        if !is_contract(doc) {
            return None;
        }
        let a = self.analyse(doc);
        (a.clauses.len() >= 2).then_some(a)
    }
}

/// Whether a document is a contract or an amendment, from its title: a contract word among the
/// first lines of page 1, and no e-invoice. The classifier's decision replaces this where the
/// pipeline has one.
pub fn is_contract(doc: &Document) -> bool {
    if doc.einvoice.is_some() {
        return false;
    }
    let Some(p) = doc.pages.first() else { return false };
    p.text.lines().filter(|l| !l.trim().is_empty()).take(8).any(|l| {
        let l = l.to_lowercase();
        [
            "contrat",
            "contract",
            "agreement",
            "avenant",
            "amendment",
            "accord de",
            "bail ",
            "bail\u{a0}",
            "lease",
            "convention",
            "protocole",
        ]
        .iter()
        .any(|w| l.contains(w))
            && !l.contains("facture")
            && !l.contains("invoice")
    })
}
