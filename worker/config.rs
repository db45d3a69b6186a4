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
    pub contract: ContractConfig,
}

/// Contract analysis: where its rules come from (the built-in rules when unset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContractConfig {
    /// Folder of the risk and key-term rules (`rules/contract`).
    pub rules_dir: Option<PathBuf>,
    /// Folder of the playbook (`rules/playbook`).
    pub playbook_dir: Option<PathBuf>,
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
}

impl Default for OcrConfig {
    fn default() -> Self {
        OcrConfig {
            languages: "fra+eng".into(),
            tessdata: None,
            threads: 0,
            default_dpi: 300,
            min_text_chars: 16,
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
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig { helper: None, text_timeout_secs: 60, memory_limit_mb: 4096 }
    }
}

/// `LIASSE_…` environment variables that are not configuration keys.
const NOT_CONFIG_KEYS: [&str; 5] = ["config", "log", "sandbox_helper", "update_golden", "bench_dir"];

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
