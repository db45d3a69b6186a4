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
    #[error("cannot start the classifier: {0}")]
    Classifier(#[from] ClassifyError),
}

/// Everything the stages need, built once per process and shared by every document.
pub struct Engine {
    pub config: Config,
    pub intake: Intake,
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
        Ok(Engine { config: config.clone(), intake: Intake::new(config)?, classifier })
    }

    pub fn versions(&self) -> Versions {
        Versions {
            liasse: env!("CARGO_PKG_VERSION").to_string(),
            ocr: self.intake.ocr.engine_version(),
            classifier: self.classifier.as_ref().map(Classifier::version),
        }
    }
}

/// The versions of everything that decided a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    pub liasse: String,
    pub ocr: String,
    /// The classifier model version (`<version>+<sha256 prefix>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<String>,
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
    let versions = engine.versions();
    engine
        .intake
        .read(input)
        .into_iter()
        .map(|Item { content_hash, source, result }| match result {
            Ok(document) => Outcome {
                content_hash,
                status: Status::Processed,
                source,
                error: None,
                classification: engine.classifier.as_ref().map(|c| classify(c, &document)),
                document: Some(document),
                versions: versions.clone(),
            },
            Err(e) => Outcome {
                content_hash,
                status: Status::Failed,
                source,
                error: Some(e.failure()),
                document: None,
                classification: None,
                versions: versions.clone(),
            },
        })
        .collect()
}
