//! The typed reasons a file cannot become a document. They are data in the result: one bad file
//! never stops a batch.

use serde::{Deserialize, Serialize};

/// Why a document failed, in a form that is stable in JSON and in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Encrypted with a password we do not have.
    Encrypted,
    /// Not what it claims to be, truncated, or unreadable.
    Corrupt,
    /// A format Liasse does not read (a Word file, a ZIP…).
    Unsupported,
    /// Larger than the configured limit (bytes or pages).
    TooLarge,
    /// The time budget for the document ran out.
    TimedOut,
    /// No content: zero bytes, or nothing to read (an e-mail without attachment).
    Empty,
    /// A fault of Liasse itself or of its environment (OCR engine missing…), not of the file.
    Internal,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Encrypted => "encrypted",
            FailureKind::Corrupt => "corrupt",
            FailureKind::Unsupported => "unsupported",
            FailureKind::TooLarge => "too_large",
            FailureKind::TimedOut => "timed_out",
            FailureKind::Empty => "empty",
            FailureKind::Internal => "internal",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The failure as it is written in a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}
