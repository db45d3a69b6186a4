//! The pipeline: `bytes → Document → Classified → Extracted → Scored`, as plain functions over
//! concrete types. `process_one` chains the stages; `liasse process` and `liasse work` both call
//! it, so the in-process and the service paths give the same result for the same bytes.

use crate::classify::{Classification, Classifier, ClassifyError, classify};
use crate::config::Config;
use crate::document::{ContentHash, Document, Source};
use crate::error::Failure;
use crate::intake::{Input, Intake, IntakeError, Item};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot start the pipeline: {0}")]
    Start(#[from] IntakeError),
    #[error("cannot start the pipeline: {0}")]
    Invoice(#[from] crate::invoice::InvoiceError),
    #[error("cannot start the pipeline: {0}")]
    Contract(#[from] crate::contract::ContractError),
    #[error("cannot start the classifier: {0}")]
    Classifier(#[from] ClassifyError),
}

/// Everything the stages need, built once per process and shared by every document.
pub struct Engine {
    pub config: Config,
    pub intake: Intake,
    pub invoice_rules: crate::invoice::InvoiceRules,
    /// The fraud model, when its file exists.
    pub fraud_model: Option<crate::invoice::fraud::FraudModel>,
    pub contract: crate::contract::ContractEngine,
    /// The document classifier (`None` when disabled in the configuration).
    pub classifier: Option<Classifier>,
}

impl Engine {
    pub fn new(config: &Config) -> Result<Engine, PipelineError> {
        let classifier = if config.classifier.enabled {
            Some(Classifier::load(&config.classifier, &config.models)?)
        } else {
            None
        };
        let invoice_rules = match &config.invoice.rules_dir {
            Some(dir) => crate::invoice::InvoiceRules::load(dir)?,
            None => crate::invoice::InvoiceRules::builtin()?,
        };
        let fraud_model = match &config.invoice.fraud_model {
            Some(p) if config.invoice.enabled && p.exists() => {
                crate::model::init(config.models.ort_dylib.as_deref())
                    .map_err(|e| crate::invoice::InvoiceError::Model(e.to_string()))?;
                Some(crate::invoice::fraud::FraudModel::load(p)?)
            }
            _ => None,
        };
        Ok(Engine {
            config: config.clone(),
            intake: Intake::new(config)?,
            invoice_rules,
            fraud_model,
            contract: crate::contract::ContractEngine::new(&config.contract)?,
            classifier,
        })
    }

    pub fn versions(&self) -> Versions {
        Versions {
            liasse: env!("CARGO_PKG_VERSION").to_string(),
            ocr: self.intake.ocr.engine_version(),
            invoice_rules: None,
            contract_rules: None,
            classifier: self.classifier.as_ref().map(Classifier::version),
            clause_model: None,
        }
    }
}

/// The versions of everything that decided a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    pub liasse: String,
    pub ocr: String,
    /// The invoice rule set (fields and checks), when the invoice stage ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_rules: Option<String>,
    /// Contract rule set and playbook, on outcomes whose contract was analysed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_rules: Option<String>,
    /// The classifier model version (`<version>+<sha256 prefix>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<String>,
    /// The clause classifier (`<name>-<version>+<sha256 prefix>`), on outcomes whose contract
    /// was analysed with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clause_model: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Processed,
    Failed,
}

/// The result of one document: processed with everything the stages found, or failed with a
/// typed reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub content_hash: ContentHash,
    pub status: Status,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Document>,
    /// Invoice fields, checks and risk, for a document that is an invoice or a credit note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<crate::invoice::InvoiceAnalysis>,
    /// Clauses, key terms, risk flags and playbook findings of a contract or an amendment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<crate::contract::ContractAnalysis>,
    /// Type, subtype, language and confidence; absent for failed documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    pub versions: Versions,
}

impl Outcome {
    pub fn is_failed(&self) -> bool {
        self.status == Status::Failed
    }
}

/// One input file through every stage. A container (an e-mail) gives one outcome per document
/// it holds. Business problems are data in the outcome; this function does not fail.
pub fn process_one(engine: &Engine, input: Input) -> Vec<Outcome> {
    process_with_history(engine, input, &mut crate::invoice::history::MemoryHistory::default())
}

/// `process_one` with the invoices seen before (duplicates, bank-detail changes, new
/// suppliers); every invoice processed is added to `history`.
pub fn process_with_history(
    engine: &Engine,
    input: Input,
    history: &mut dyn crate::invoice::HistoryStore,
) -> Vec<Outcome> {
    let versions = engine.versions();
    engine
        .intake
        .read(input)
        .into_iter()
        .map(|Item { content_hash, source, result }| match result {
            Ok(document) => {
                let classification = engine.classifier.as_ref().map(|c| classify(c, &document));
                let route = route(&document, classification.as_ref(), &engine.invoice_rules);
                let invoice = if route.invoice { invoice_stage(engine, &document, history) } else { None };
                let mut versions = versions.clone();
                if invoice.is_some() {
                    versions.invoice_rules = Some(engine.invoice_rules.version.clone());
                }
                let contract = if route.contract {
                    Some(engine.contract.analyse(&document)).filter(|a| a.clauses.len() >= 2)
                } else {
                    None
                };
                if contract.is_some() {
                    versions.contract_rules = Some(engine.contract.version());
                    versions.clause_model = engine.contract.model_version();
                }
                Outcome {
                    content_hash,
                    status: Status::Processed,
                    source,
                    error: None,
                    classification,
                    document: Some(document),
                    invoice,
                    contract,
                    versions,
                }
            }
            Err(e) => Outcome {
                content_hash,
                status: Status::Failed,
                source,
                error: Some(e.failure()),
                document: None,
                invoice: None,
                contract: None,
                classification: None,
                versions: versions.clone(),
            },
        })
        .collect()
}

/// Which stages a document goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub invoice: bool,
    pub contract: bool,
    /// The classifier decided (enabled and confident); else the rule gates did.
    pub by_classifier: bool,
}

/// The classifier's type when it is enabled and confident (invoice / credit note → the invoice
/// stage, contract / amendment → the contract stage, any other type → neither); when it is
/// disabled or unsure (`review`, `unknown`), the rule gates [`crate::invoice::is_invoice`] and
/// [`crate::contract::is_contract`]. A document carrying an e-invoice XML always goes to the
/// invoice stage and never to the contract stage.
pub fn route(
    doc: &Document,
    classification: Option<&Classification>,
    rules: &crate::invoice::InvoiceRules,
) -> Route {
    use crate::classify::DocType;
    let confident =
        classification.filter(|c| !c.review && c.doc_type != DocType::Unknown).map(|c| c.doc_type);
    match confident {
        Some(t) => Route {
            invoice: doc.einvoice.is_some() || matches!(t, DocType::Invoice | DocType::CreditNote),
            contract: doc.einvoice.is_none() && matches!(t, DocType::Contract | DocType::ContractAmendment),
            by_classifier: true,
        },
        None => Route {
            invoice: crate::invoice::is_invoice(doc, rules),
            contract: crate::contract::is_contract(doc),
            by_classifier: false,
        },
    }
}

/// The invoice stage, for a document routed to it ([`route`]).
fn invoice_stage(
    engine: &Engine,
    doc: &Document,
    history: &mut dyn crate::invoice::HistoryStore,
) -> Option<crate::invoice::InvoiceAnalysis> {
    let cfg = &engine.config.invoice;
    if !cfg.enabled {
        return None;
    }
    let today = cfg.today.unwrap_or_else(|| chrono::Utc::now().date_naive());
    Some(crate::invoice::analyse(
        doc,
        &engine.invoice_rules,
        cfg,
        history,
        engine.fraud_model.as_ref(),
        today,
    ))
}

#[cfg(test)]
mod route_tests {
    use super::*;
    use crate::classify::DocType;
    use crate::invoice::extract::tests::{doc, rules};

    fn classified(doc_type: DocType, review: bool) -> Classification {
        let t = serde_json::to_value(doc_type).unwrap();
        serde_json::from_value(serde_json::json!({
            "doc_type": if review { serde_json::json!("unknown") } else { t.clone() },
            "predicted": t,
            "language": "fr",
            "language_confidence": 0.99,
            "confidence": if review { 0.4 } else { 0.97 },
            "threshold": 0.6,
            "review": review,
            "probabilities": {},
            "model": {"name": "classifier", "version": "test"},
            "evidence": {"method": {"kind": "layout", "rule": "test"}, "confidence": 0.97}
        }))
        .unwrap()
    }

    const INVOICE: &str = "Acme\nFACTURE\nFacture n° : F-1\nDate : 20/11/2026\nTotal TTC 12,00 €";
    const CONTRACT: &str = "CONTRAT DE PRESTATION DE SERVICES\nArticle 1 - Objet\nLe prestataire…";
    const NEITHER: &str = "Compte rendu de la réunion du 20/11/2026";

    #[test]
    fn a_confident_classifier_decides() {
        let r = route(&doc(&[NEITHER]), Some(&classified(DocType::Invoice, false)), rules());
        assert_eq!(r, Route { invoice: true, contract: false, by_classifier: true });
        let r = route(&doc(&[NEITHER]), Some(&classified(DocType::CreditNote, false)), rules());
        assert!(r.invoice && !r.contract);
        // The classifier overrides the title gates both ways.
        let r = route(&doc(&[INVOICE]), Some(&classified(DocType::Contract, false)), rules());
        assert_eq!(r, Route { invoice: false, contract: true, by_classifier: true });
        let r = route(&doc(&[CONTRACT]), Some(&classified(DocType::Quote, false)), rules());
        assert_eq!(r, Route { invoice: false, contract: false, by_classifier: true });
    }

    #[test]
    fn rule_gates_when_the_classifier_is_disabled_or_unsure() {
        for c in [None, Some(classified(DocType::Contract, true))] {
            let r = route(&doc(&[INVOICE]), c.as_ref(), rules());
            assert_eq!(r, Route { invoice: true, contract: false, by_classifier: false });
            let r = route(&doc(&[CONTRACT]), c.as_ref(), rules());
            assert_eq!(r, Route { invoice: false, contract: true, by_classifier: false });
            let r = route(&doc(&[NEITHER]), c.as_ref(), rules());
            assert_eq!(r, Route { invoice: false, contract: false, by_classifier: false });
        }
    }

    #[test]
    fn an_einvoice_always_goes_to_the_invoice_stage() {
        let xml = std::fs::read("fixtures/einvoice/facture_cii.xml").unwrap();
        let mut d = doc(&[CONTRACT]);
        d.einvoice = Some(crate::einvoice::parse(&xml).unwrap());
        let r = route(&d, Some(&classified(DocType::Contract, false)), rules());
        assert_eq!(r, Route { invoice: true, contract: false, by_classifier: true });
        assert!(route(&d, None, rules()).invoice);
    }
}
