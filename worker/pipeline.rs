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
                let invoice = invoice_stage(engine, &document, history);
                let mut versions = versions.clone();
                if invoice.is_some() {
                    versions.invoice_rules = Some(engine.invoice_rules.version.clone());
                }
                let contract = engine.contract.analyse_if_contract(&document);
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

/// The invoice stage, for a document that is an invoice or a credit note (the gate
/// [`crate::invoice::is_invoice`]; the classifier can replace it).
fn invoice_stage(
    engine: &Engine,
    doc: &Document,
    history: &mut dyn crate::invoice::HistoryStore,
) -> Option<crate::invoice::InvoiceAnalysis> {
    let cfg = &engine.config.invoice;
    if !cfg.enabled || !crate::invoice::is_invoice(doc, &engine.invoice_rules) {
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
