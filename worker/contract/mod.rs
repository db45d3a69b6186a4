//! Contracts: segmentation into articles and clauses, key terms, risk flags (rules of
//! `rules/contract/`), the playbook of `rules/playbook/` and the comparison of two versions.
//! No IO here: rule sets are compiled by `ContractEngine::load` at engine start and passed in.

pub mod segment;

pub use segment::{Clause, Numbering, SubClause, segment};

use crate::document::{ContentHash, Document, Format, Page, PageMethod, Provenance, Source};

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
            ocr: None,
            words: vec![],
        }],
        attachments: vec![],
        einvoice: None,
        warnings: vec![],
    }
}
