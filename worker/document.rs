//! The typed `Document`: what intake makes of a file's bytes, and what every later stage reads.
//!
//! Text offsets: every `Span` is a pair of UTF-8 **byte** offsets into `pages[page - 1].text`
//! (half-open, `start..end`). Page texts are NFC-normalised with `\n` line ends before any offset
//! is taken, so the same bytes always give the same text and the same spans.

use serde::{Deserialize, Serialize};

/// SHA-256 of the document's bytes, lowercase hex: the document's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(pub String);

impl ContentHash {
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        ContentHash(hex::encode(Sha256::digest(bytes)))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ContentHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of file the bytes are, by their content (never by their name alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Pdf,
    Png,
    Jpeg,
    Tiff,
    /// UN/CEFACT Cross Industry Invoice XML (Factur-X, ZUGFeRD 2, XRechnung CII) or ZUGFeRD 1.
    CiiXml,
    /// OASIS UBL 2.x Invoice or CreditNote XML.
    UblXml,
    /// RFC 822 / MIME e-mail: a container, its attachments become documents.
    Eml,
}

impl Format {
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Tiff => "image/tiff",
            Format::CiiXml | Format::UblXml => "application/xml",
            Format::Eml => "message/rfc822",
        }
    }
}

/// Where the document came from: the file name as received (untrusted, kept for display) and the
/// channel that brought it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// A safe display name: the received name with path parts, control characters and
    /// reserved characters removed; never used as a path without further joining rules.
    pub name: String,
    /// The path it was read from, when it came from the local file system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub size: u64,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum Provenance {
    /// Read from a file (command line, drop folder).
    File,
    /// An attachment of an e-mail.
    Email(EmailProvenance),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailProvenance {
    /// Content hash of the `.eml` the attachment came from.
    pub message_hash: ContentHash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The message's Date header, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The attachment's name as the message gave it (unsafe characters removed).
    pub attachment_name: String,
    /// Position of the attachment among the message's attachments (0-based, depth-first).
    pub attachment_index: u32,
}

/// How a page's text was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageMethod {
    /// The PDF's own text layer.
    TextLayer,
    /// Optical character recognition of the page image.
    Ocr,
    /// Neither gave text (a blank page, or a page with nothing that could be read).
    None,
}

/// A half-open byte range `start..end` in a page's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// A box in the page image's pixels, origin top-left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BBox {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// One OCR word: its text, where it sits in the page text and in the page image, and how sure
/// the engine was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    pub span: Span,
    pub bbox: BBox,
    /// Tesseract's word confidence, 0 to 100.
    pub confidence: f32,
    /// Block, paragraph and line numbers as the engine gave them (1-based).
    pub block: u32,
    pub line: u32,
}

/// What OCR saw of a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OcrInfo {
    pub engine: String,
    pub languages: String,
    /// Mean word confidence, 0 to 100 (0 when no word was found).
    pub confidence: f32,
    /// Size of the image the boxes refer to, in pixels, and its resolution.
    pub image_width: u32,
    pub image_height: u32,
    pub dpi: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// 1-based page number.
    pub number: u32,
    pub method: PageMethod,
    /// The page text: for a text-layer page, pdf-extract's stream order (every evidence span
    /// indexes this text).
    pub text: String,
    /// A text-layer page's text laid out in reading order from the glyph positions
    /// (`intake::pdf::layout`, like `pdftotext -layout`), normalised like `text`, followed by the
    /// text read in its images as in `text`. Spans never
    /// index it: a value read from it is grounded in `text` (`invoice::views`). `None` for OCR
    /// pages and when `sandbox.text_layout` is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr: Option<OcrInfo>,
    /// Words with boxes, their spans in `text`: all of an OCR page's words; on a text-layer page,
    /// those of the text read in its images, appended after the text layer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<Word>,
}

impl Page {
    /// The OCR words overlapping `span` of the page text.
    pub fn words_over(&self, span: Span) -> impl Iterator<Item = &Word> {
        self.words.iter().filter(move |w| w.span.start < span.end && span.start < w.span.end)
    }
}

/// A file embedded in a PDF (PDF/A-3 associated files, Factur-X XML…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The PDF/A-3 relationship (`Data`, `Alternative`, `Source`…), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<String>,
    pub size: u64,
    pub content_hash: ContentHash,
}

/// Facts about the PDF container itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PdfInfo {
    pub version: String,
    pub page_count: u32,
    /// Encrypted with an empty user password (opened; permissions may restrict it).
    pub encrypted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Number of image XObjects over all pages.
    pub image_count: u32,
}

/// A non-fatal event of intake, kept in the result so that nothing happens silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    pub message: String,
}

impl Warning {
    pub fn new(code: &str, page: Option<u32>, message: impl Into<String>) -> Self {
        Warning { code: code.to_string(), page, message: message.into() }
    }
}

/// The grounded document: identity, source, pages with text (and words with boxes where OCR was
/// used), the PDF's structure and the parsed e-invoice if it carries one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub content_hash: ContentHash,
    pub format: Format,
    pub media_type: String,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf: Option<PdfInfo>,
    pub pages: Vec<Page>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub einvoice: Option<crate::einvoice::EInvoice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

impl Document {
    /// Number of pages read by OCR.
    pub fn ocr_pages(&self) -> usize {
        self.pages.iter().filter(|p| p.method == PageMethod::Ocr).count()
    }

    /// The text of a span on a page, if both exist.
    pub fn span_text(&self, page: u32, span: Span) -> Option<&str> {
        let p = self.pages.get((page as usize).checked_sub(1)?)?;
        p.text.get(span.start..span.end)
    }
}

/// Letters and digits only, lower case: for comparing texts whatever their spacing, punctuation
/// and case.
pub fn squash(t: &str) -> String {
    t.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Normalise text the way every page text is normalised before offsets are taken: NFC, `\n`
/// line ends, no control characters other than `\n` and `\t`, no trailing spaces on lines, no
/// trailing blank lines.
pub fn normalize_text(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let unified = raw.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = String::with_capacity(unified.len());
    for line in unified.split('\n') {
        let cleaned: String = line
            .nfc()
            .map(|c| match c {
                '\u{a0}' | '\u{202f}' | '\u{2007}' => ' ',
                '\u{ad}' => '\u{0}',
                c => c,
            })
            .filter(|c| *c == '\t' || !c.is_control())
            .collect();
        out.push_str(cleaned.trim_end());
        out.push('\n');
    }
    let trimmed = out.trim_end_matches('\n').len();
    out.truncate(trimmed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_is_stable_and_idempotent() {
        let raw = "Facture\u{a0}n°\u{202f}12  \r\nTotal : 1\u{202f}234,56 €\r\n\r\n\u{0}";
        let once = normalize_text(raw);
        assert_eq!(once, "Facture n° 12\nTotal : 1 234,56 €");
        assert_eq!(normalize_text(&once), once);
    }

    #[test]
    fn nfc_composes() {
        assert_eq!(normalize_text("e\u{301}te\u{301}"), "été");
    }
}
