//! Intake: bytes → `Document`.
//!
//! `Intake::read` is the single entry point: it recognises the format by content, enforces the
//! limits, and hands the bytes to the reader of that format (`pdf`, `image`, `email`, or the
//! e-invoice XML parser). An e-mail is a container: each of its document attachments becomes a
//! document of its own, so `read` returns one `Item` per document, each with its own result.

pub mod email;
pub mod image;
pub mod pdf;
pub mod sandbox;

use crate::config::Config;
use crate::document::{ContentHash, Document, Format, Provenance, Source, Warning};
use crate::einvoice;
use crate::ocr::Ocr;
use std::time::{Duration, Instant};

pub use crate::error::{Failure, FailureKind};

/// Errors of intake (bytes → Document).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum IntakeError {
    #[error("the document is encrypted: {0}")]
    Encrypted(String),
    #[error("the document is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported format: {0}")]
    Unsupported(String),
    #[error("too large: {what} is {actual}, the limit is {limit}")]
    TooLarge { what: &'static str, actual: u64, limit: u64 },
    #[error("timed out after {seconds} s while {stage}")]
    TimedOut { stage: &'static str, seconds: u64 },
    #[error("empty: {0}")]
    Empty(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntakeError {
    pub fn kind(&self) -> FailureKind {
        match self {
            IntakeError::Encrypted(_) => FailureKind::Encrypted,
            IntakeError::Corrupt(_) => FailureKind::Corrupt,
            IntakeError::Unsupported(_) => FailureKind::Unsupported,
            IntakeError::TooLarge { .. } => FailureKind::TooLarge,
            IntakeError::TimedOut { .. } => FailureKind::TimedOut,
            IntakeError::Empty(_) => FailureKind::Empty,
            IntakeError::Internal(_) => FailureKind::Internal,
        }
    }

    /// Whether the same bytes could succeed later (a fault of the environment, not the file).
    pub fn is_transient(&self) -> bool {
        matches!(self, IntakeError::Internal(_))
    }

    pub fn failure(&self) -> Failure {
        Failure { kind: self.kind(), message: self.to_string() }
    }
}

/// A file handed to intake.
#[derive(Debug, Clone)]
pub struct Input {
    pub bytes: Vec<u8>,
    /// The name it was received under (untrusted).
    pub name: String,
    pub path: Option<String>,
    pub provenance: Provenance,
}

impl Input {
    pub fn file(bytes: Vec<u8>, name: &str, path: Option<String>) -> Input {
        Input { bytes, name: name.to_string(), path, provenance: Provenance::File }
    }
}

/// One document out of intake: its identity and source, and either the document or why not.
#[derive(Debug, Clone)]
pub struct Item {
    pub content_hash: ContentHash,
    pub source: Source,
    pub result: Result<Document, IntakeError>,
}

/// A point in time after which a document's work stops.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    start: Instant,
    budget: Duration,
}

impl Deadline {
    pub fn after(budget: Duration) -> Deadline {
        Deadline { start: Instant::now(), budget }
    }
    pub fn expired(&self) -> bool {
        self.start.elapsed() >= self.budget
    }
    pub fn remaining(&self) -> Duration {
        self.budget.saturating_sub(self.start.elapsed())
    }
    pub fn budget_secs(&self) -> u64 {
        self.budget.as_secs()
    }
    /// `Err(TimedOut)` once the budget is spent.
    pub fn check(&self, stage: &'static str) -> Result<(), IntakeError> {
        if self.expired() {
            Err(IntakeError::TimedOut { stage, seconds: self.budget.as_secs() })
        } else {
            Ok(())
        }
    }
}

/// What intake needs, built once per process and shared: configuration, the OCR engine pool and
/// the text-extraction sandbox.
pub struct Intake {
    pub config: Config,
    pub ocr: Ocr,
    pub sandbox: sandbox::Sandbox,
}

impl Intake {
    pub fn new(config: &Config) -> Result<Intake, IntakeError> {
        let ocr = Ocr::new(&config.ocr).map_err(|e| IntakeError::Internal(e.to_string()))?;
        let sandbox = sandbox::Sandbox::new(&config.sandbox);
        Ok(Intake { config: config.clone(), ocr, sandbox })
    }

    /// Bytes → documents. Never panics on any input; every failure is a typed error in an item.
    pub fn read(&self, input: Input) -> Vec<Item> {
        self.read_at(input, 0)
    }

    /// `read` for a file found at `depth` containers deep (an e-mail's attachment is at 1).
    pub(crate) fn read_at(&self, input: Input, depth: u32) -> Vec<Item> {
        let Input { bytes, name, path, provenance } = input;
        let content_hash = ContentHash::of(&bytes);
        let source = Source { name: safe_name(&name), path, size: bytes.len() as u64, provenance };
        let format = match self.check_and_sniff(&bytes) {
            Ok(f) => f,
            Err(e) => return vec![Item { content_hash, source, result: Err(e) }],
        };
        if format == Format::Eml {
            return email::read(self, &bytes, content_hash, source, depth);
        }
        let deadline = Deadline::after(Duration::from_secs(self.config.limits.document_timeout_secs));
        let result = self.read_single(&bytes, format, &content_hash, &source, deadline);
        vec![Item { content_hash, source, result }]
    }

    fn check_and_sniff(&self, bytes: &[u8]) -> Result<Format, IntakeError> {
        let limit = self.config.limits.max_file_bytes;
        if bytes.len() as u64 > limit {
            return Err(IntakeError::TooLarge { what: "the file", actual: bytes.len() as u64, limit });
        }
        sniff(bytes)
    }

    /// A document that is not a container (PDF, image, e-invoice XML).
    fn read_single(
        &self,
        bytes: &[u8],
        format: Format,
        content_hash: &ContentHash,
        source: &Source,
        deadline: Deadline,
    ) -> Result<Document, IntakeError> {
        let mut doc = Document {
            content_hash: content_hash.clone(),
            format,
            media_type: format.media_type().to_string(),
            source: source.clone(),
            pdf: None,
            pages: Vec::new(),
            attachments: Vec::new(),
            einvoice: None,
            warnings: Vec::new(),
        };
        match format {
            Format::Pdf => {
                let read = pdf::read(self, bytes, deadline)?;
                doc.pdf = Some(read.info);
                doc.pages = read.pages;
                doc.warnings = read.warnings;
                doc.einvoice = find_einvoice(&read.embedded, &mut doc.warnings);
                doc.attachments = read.embedded.into_iter().map(|e| e.attachment).collect();
            }
            Format::Png | Format::Jpeg | Format::Tiff => {
                let read = image::read(self, bytes, format, deadline)?;
                doc.pages = read.pages;
                doc.warnings = read.warnings;
            }
            Format::CiiXml | Format::UblXml => {
                let inv = einvoice::parse(bytes).map_err(|e| match e {
                    // Counts stop at the first one over the limit; bytes are known.
                    einvoice::EInvoiceError::TooLarge { what, limit } => {
                        let actual = if what == "bytes" { bytes.len() as u64 } else { limit + 1 };
                        IntakeError::TooLarge { what, actual, limit }
                    }
                    einvoice::EInvoiceError::NotAnInvoice(_) => IntakeError::Unsupported(e.to_string()),
                    e => IntakeError::Corrupt(e.to_string()),
                })?;
                doc.einvoice = Some(inv);
            }
            Format::Eml => {
                return Err(IntakeError::Internal("an e-mail is not a single document".into()));
            }
        }
        if doc.pages.iter().all(|p| p.text.trim().is_empty()) && doc.einvoice.is_none() {
            let why = if doc.pages.is_empty() {
                "the document has no page"
            } else {
                "no text could be read on any page"
            };
            return Err(IntakeError::Empty(why.into()));
        }
        Ok(doc)
    }
}

/// A file embedded in a PDF, with its bytes (which are not kept in the document).
pub struct Embedded {
    pub attachment: crate::document::Attachment,
    pub bytes: Vec<u8>,
}

/// The e-invoice XML among a PDF's embedded files: the Factur-X / ZUGFeRD / XRechnung names
/// first, then any XML whose root is CII or UBL.
fn find_einvoice(embedded: &[Embedded], warnings: &mut Vec<Warning>) -> Option<einvoice::EInvoice> {
    const KNOWN: [&str; 5] =
        ["factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "order-x.xml", "zugferd_invoice.xml"];
    let rank = |e: &Embedded| {
        let n = e.attachment.name.to_ascii_lowercase();
        if KNOWN.contains(&n.as_str()) {
            0
        } else if n.ends_with(".xml") {
            1
        } else {
            2
        }
    };
    let mut candidates: Vec<&Embedded> =
        embedded.iter().filter(|e| rank(e) < 2 || looks_like_xml(&e.bytes)).collect();
    candidates.sort_by_key(|e| rank(e));
    for e in candidates {
        match einvoice::parse(&e.bytes) {
            Ok(mut inv) => {
                inv.attachment = Some(e.attachment.name.clone());
                return Some(inv);
            }
            Err(err) if rank(e) == 0 => warnings.push(Warning::new(
                "einvoice_unreadable",
                None,
                format!("embedded {} could not be read as an e-invoice: {err}", e.attachment.name),
            )),
            Err(_) => {}
        }
    }
    None
}

fn looks_like_xml(bytes: &[u8]) -> bool {
    let s = skip_bom_ws(bytes);
    s.starts_with(b"<?xml") || s.starts_with(b"<")
}

fn skip_bom_ws(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

/// Recognise the format from the bytes themselves.
pub fn sniff(bytes: &[u8]) -> Result<Format, IntakeError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(IntakeError::Empty("the file has no content".into()));
    }
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Ok(Format::Pdf);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if bytes.starts_with(b"\xFF\xD8\xFF") {
        return Ok(Format::Jpeg);
    }
    if bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || bytes.starts_with(b"II+\0")
        || bytes.starts_with(b"MM\0+")
    {
        return Ok(Format::Tiff);
    }
    if looks_like_xml(bytes) {
        return match einvoice::sniff_root(bytes) {
            Some(einvoice::Syntax::Ubl) => Ok(Format::UblXml),
            Some(_) => Ok(Format::CiiXml),
            None => {
                Err(IntakeError::Unsupported("an XML file that is neither a CII nor a UBL invoice".into()))
            }
        };
    }
    if email::looks_like_email(bytes) {
        return Ok(Format::Eml);
    }
    let what = if bytes.starts_with(b"PK\x03\x04") {
        "a ZIP archive or an Office document"
    } else if bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        "a legacy Office document"
    } else if bytes.starts_with(b"GIF8") {
        "a GIF image"
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        "a WebP image"
    } else if std::str::from_utf8(head).is_ok() {
        "plain text"
    } else {
        "an unknown binary format"
    };
    Err(IntakeError::Unsupported(what.into()))
}

/// A display name safe to show and to use as the last part of a path: no directories, no control
/// or reserved characters, not empty, not `.`/`..`, at most 200 bytes.
pub fn safe_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let mut name = if cleaned.is_empty() { "unnamed".to_string() } else { cleaned.to_string() };
    if name.len() > 200 {
        let mut cut = 200;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_reserved_characters() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\Users\\x\\facture.pdf"), "facture.pdf");
        assert_eq!(safe_name(""), "unnamed");
        assert_eq!(safe_name(".."), "unnamed");
        assert_eq!(safe_name("..\u{0}.pdf"), "pdf");
        assert_eq!(safe_name("a<b>:c.pdf"), "a_b__c.pdf");
        assert!(safe_name(&"é".repeat(300)).len() <= 200);
    }

    #[test]
    fn sniff_by_content() {
        assert_eq!(sniff(b"%PDF-1.7\n"), Ok(Format::Pdf));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Ok(Format::Png));
        assert_eq!(sniff(b"").unwrap_err().kind(), FailureKind::Empty);
        assert_eq!(sniff(b"  \n").unwrap_err().kind(), FailureKind::Empty);
        assert_eq!(sniff(b"PK\x03\x04abc").unwrap_err().kind(), FailureKind::Unsupported);
    }
}
