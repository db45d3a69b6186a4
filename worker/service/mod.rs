//! The service: drop-folder intake (`ingest`, `submit`), workers (`work`) and their health and
//! metrics endpoint. Only `store` knows sqlx and only `queue` knows lapin; this module wires
//! them to the pipeline.

use serde::{Deserialize, Serialize};

/// The body of a job message: which job, for which document. The bytes are in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job: i64,
    pub content_hash: String,
    /// When the job was first published (Unix milliseconds), for the end-to-end latency.
    pub published_ms: i64,
}

impl JobMessage {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
    pub fn from_bytes(b: &[u8]) -> Option<JobMessage> {
        serde_json::from_slice(b).ok()
    }
}
