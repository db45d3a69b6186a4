//! One typed configuration, read from an optional TOML file and `LIASSE_…` environment
//! variables (`LIASSE_OCR__LANGUAGES=fra+eng`, nested keys joined by `__`), with defaults that
//! run out of the box.

use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("configuration file {0} does not exist")]
    Missing(PathBuf),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub limits: Limits,
    pub ocr: OcrConfig,
    pub sandbox: SandboxConfig,
    pub service: ServiceConfig,
    pub invoice: InvoiceConfig,
    pub models: ModelsConfig,
    pub classifier: ClassifierConfig,
    pub contract: ContractConfig,
    pub web: WebConfig,
    pub review: ReviewConfig,
}

/// Contract analysis: where its rules come from (the built-in rules when unset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContractConfig {
    /// Folder of the risk and key-term rules (`rules/contract`).
    pub rules_dir: Option<PathBuf>,
    /// Folder of the playbook (`rules/playbook`).
    pub playbook_dir: Option<PathBuf>,
    /// The clause classifier (ONNX, `thresholds.json` beside it); clauses are not classified
    /// when the file does not exist or when unset.
    pub clause_model: Option<PathBuf>,
}

impl Default for ContractConfig {
    fn default() -> Self {
        ContractConfig {
            rules_dir: None,
            playbook_dir: None,
            clause_model: Some(PathBuf::from(crate::contract::classifier::DEFAULT_MODEL)),
        }
    }
}

/// Bounds on what one document may cost. A document beyond them fails with a typed error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Most pages read from one document.
    pub max_pages: u32,
    /// Largest decoded page image, in pixels (guards against decompression bombs).
    pub max_image_pixels: u64,
    /// Time budget for one document (all pages, text and OCR), in seconds.
    pub document_timeout_secs: u64,
    /// Most attachments taken from one e-mail, and how deep messages may nest.
    pub max_attachments: u32,
    pub max_email_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 100 * 1024 * 1024,
            max_pages: 1000,
            max_image_pixels: 120_000_000,
            document_timeout_secs: 600,
            max_attachments: 50,
            max_email_depth: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OcrConfig {
    /// Tesseract languages, `+`-separated.
    pub languages: String,
    /// Folder of the `.traineddata` files; the system's by default.
    pub tessdata: Option<PathBuf>,
    /// Threads that OCR pages in parallel; 0 means one per core.
    pub threads: usize,
    /// Resolution assumed for images that do not state one.
    pub default_dpi: u32,
    /// A text-layer page with fewer visible characters than this (and an image) is OCR'd.
    pub min_text_chars: usize,
    /// Lines of side-by-side columns that Tesseract merged (tall, badly read words) are read
    /// again column by column, cut at the blank gutter (docs/ocr.md).
    pub split_merged_columns: bool,
    /// Images on pages with a usable text layer (a letterhead or a footer of company details
    /// pasted as a picture) are read by OCR, and their text appended to the page's.
    pub read_images_on_text_pages: bool,
}

impl Default for OcrConfig {
    fn default() -> Self {
        OcrConfig {
            languages: "fra+eng".into(),
            tessdata: None,
            threads: 0,
            default_dpi: 300,
            min_text_chars: 16,
            split_merged_columns: true,
            read_images_on_text_pages: true,
        }
    }
}

/// How the PDF text-layer extraction (pdf-extract, which can panic or loop on some files) is
/// contained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// The `liasse` executable to run as the sandbox; found beside the running program when
    /// unset.
    pub helper: Option<PathBuf>,
    /// Time budget of the text-layer extraction of one document, in seconds.
    pub text_timeout_secs: u64,
    /// Address-space limit of the sandbox process, in MiB.
    pub memory_limit_mb: u64,
    /// Also rebuild the text layer's lines from glyph positions in reading order
    /// (`intake::pdf::layout`), in the same pdf-extract pass, into `Page.layout`; the page text
    /// stays pdf-extract's stream order. On by default; off leaves `Page.layout` empty (the
    /// invoice stage then reads the stream text only). See docs/layout.md.
    pub text_layout: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig { helper: None, text_timeout_secs: 60, memory_limit_mb: 4096, text_layout: true }
    }
}

/// The service: PostgreSQL, RabbitMQ, the drop folders and the workers (see docs/service.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// PostgreSQL connection URL.
    pub database_url: String,
    /// Most connections one process opens.
    pub database_max_connections: u32,
    /// RabbitMQ URL.
    pub amqp_url: String,
    /// Prefix of every queue and exchange name (`<prefix>.documents`, `<prefix>.retry.1`…).
    pub queue_prefix: String,
    /// Unacknowledged deliveries a worker holds at once.
    pub prefetch: u16,
    /// Documents a worker processes at once; 0 means one per core.
    pub concurrency: usize,
    /// Attempts (pipeline runs, counted before each run) before a document is dead-lettered.
    pub max_attempts: u32,
    /// The broker's own bound on redeliveries of one message (quorum `x-delivery-limit`), a
    /// backstop behind `max_attempts`.
    pub delivery_limit: u32,
    /// Delays of the retry queues, in milliseconds, one queue per delay (growing).
    pub retry_delays_ms: Vec<u64>,
    /// A pipeline run longer than this (seconds) counts as a failed attempt.
    pub attempt_timeout_secs: u64,
    /// Apply `migrations/` when a worker starts.
    pub migrate_on_start: bool,
    /// Address of `/healthz`, `/readyz` and `/metrics` of `liasse work`; empty = none.
    pub http_addr: String,
    /// Bearer token `/metrics` requires (at least 16 characters); required when `http_addr` is
    /// not a loopback address. Health endpoints need none.
    pub metrics_token: Option<String>,
    /// A dropped file is taken once its size and mtime did not change for this long (ms).
    pub settle_ms: u64,
    /// A job recorded but not published after this long (a crash between commit and publish)
    /// is published again by the workers (seconds).
    pub republish_after_secs: u64,
    /// On SIGTERM, the jobs in flight get this long to finish (seconds); those still running are
    /// then stopped unacknowledged, so the broker delivers them again (nothing is lost), and the
    /// worker exits in bounded time.
    pub shutdown_grace_secs: u64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            database_url: "postgres://postgres@127.0.0.1:5432/liasse".into(),
            database_max_connections: 8,
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            queue_prefix: "liasse".into(),
            prefetch: 8,
            concurrency: 0,
            max_attempts: 3,
            delivery_limit: 10,
            retry_delays_ms: vec![1_000, 10_000, 60_000],
            attempt_timeout_secs: 900,
            migrate_on_start: false,
            http_addr: "127.0.0.1:9187".into(),
            metrics_token: None,
            settle_ms: 500,
            republish_after_secs: 60,
            shutdown_grace_secs: 30,
        }
    }
}

/// Invoice extraction, validation and fraud scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InvoiceConfig {
    /// Run the invoice stage on documents that are invoices or credit notes.
    pub enabled: bool,
    /// Folder of invoice rules (`fields.toml`, `checks.toml`, `templates/*.yml`); the rules
    /// shipped with Liasse when unset.
    pub rules_dir: Option<PathBuf>,
    /// The processing date the date checks compare with (ISO); today when unset.
    pub today: Option<chrono::NaiveDate>,
    /// How far back the duplicate checks look, in days.
    pub lookback_days: i64,
    /// Risk at or above which an invoice goes to review, and at or above which it is blocked.
    pub review_threshold: f32,
    pub block_threshold: f32,
    /// The fraud model (ONNX); the rule score alone when the file does not exist.
    pub fraud_model: Option<PathBuf>,
}

impl Default for InvoiceConfig {
    fn default() -> Self {
        InvoiceConfig {
            enabled: true,
            rules_dir: None,
            today: None,
            lookback_days: 365,
            review_threshold: 0.3,
            block_threshold: 0.8,
            fraud_model: Some(PathBuf::from("models/fraud/fraud.onnx")),
        }
    }
}

/// `liasse serve`: the ERP API and the review desk (see docs/web.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Address `liasse serve` listens on.
    pub addr: String,
    /// Mark the session cookie `Secure` (turn off only for plain-HTTP tests on localhost).
    pub cookie_secure: bool,
    /// Lifetime of a desk session, in hours.
    pub session_hours: u32,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest page of the ERP feed.
    pub feed_max_limit: i64,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            addr: "127.0.0.1:8080".into(),
            cookie_secure: true,
            session_hours: 12,
            max_body_bytes: 64 * 1024,
            feed_max_limit: 500,
        }
    }
}

/// Automatic approval by the worker (docs/desk.md). Off by default: results stay `processed`
/// until a person decides. On: a result that meets every condition is `approved` in the same
/// transaction as its write (and released to the ERP feed); any other goes to `review`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewConfig {
    pub auto_approve: bool,
    /// Highest invoice risk score approved automatically (the risk decision must also be `pass`).
    pub max_invoice_risk: f32,
    /// Heaviest invoice flag that counts as information only (rule weights, rules/invoice).
    pub max_flag_weight: f32,
    /// Lowest classifier confidence approved automatically.
    pub min_classifier_confidence: f32,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        ReviewConfig {
            auto_approve: false,
            max_invoice_risk: 0.15,
            max_flag_weight: 0.05,
            min_classifier_confidence: 0.9,
        }
    }
}

/// ONNX models, shared by every model of the process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// The ONNX Runtime library (`libonnxruntime.so…`); `ORT_DYLIB_PATH` when unset.
    pub ort_dylib: Option<PathBuf>,
}

/// The document classifier (type, subtype, language).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Classify documents (off: outcomes carry no classification).
    pub enabled: bool,
    /// Folder of `type.onnx`, `subtype.onnx` and `language.onnx`.
    pub dir: PathBuf,
    /// Below this confidence the type is `unknown` and the document goes to review; the
    /// threshold calibrated on held-out data (in the model, see its CARD.md) when unset.
    pub threshold: Option<f32>,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig { enabled: true, dir: PathBuf::from("models/classifier"), threshold: None }
    }
}

/// `LIASSE_…` environment variables that are not configuration keys.
const NOT_CONFIG_KEYS: [&str; 9] = [
    "config",
    "log",
    "sandbox_helper",
    "update_golden",
    "bench_dir",
    "skip_setup",
    "failpoint_poison",
    "failpoint_action",
    // The desk's browser test: where to put its screenshots.
    "screenshots",
];

impl Config {
    /// Defaults, then the file (when given), then `LIASSE_…` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError::Missing(f.to_path_buf()));
            }
            fig = fig.merge(Toml::file(f));
        }
        // `LIASSE_CONFIG`, `LIASSE_LOG` and the like are read elsewhere, not configuration keys.
        fig = fig.merge(Env::prefixed("LIASSE_").split("__").ignore(&NOT_CONFIG_KEYS));
        fig.extract().map_err(|e| ConfigError::Invalid(Box::new(e)))
    }
}
