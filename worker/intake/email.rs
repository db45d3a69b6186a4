//! E-mail intake (`.eml`, RFC 822 / MIME): every attachment that is a document becomes a document
//! of its own, with the message's sender, subject and date as provenance.
//!
//! Attachment names are untrusted: they are cleaned by `safe_name`, an empty name gets a
//! generated one, and names are never identity (two attachments called `facture.pdf` are two
//! documents; the same bytes attached twice are one).

use super::{Input, Intake, IntakeError, Item, safe_name};
use crate::document::{ContentHash, EmailProvenance, Format, Provenance, Source};
use mail_parser::{Address, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use std::collections::HashSet;

/// Parts that are never documents and are skipped without a result: cryptographic signatures
/// and keys that mail clients attach on their own.
const NOT_DOCUMENTS: [&str; 5] = [
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
    "application/pgp-signature",
    "application/pgp-keys",
    "application/pgp-encrypted",
];

/// Whether the bytes start like an RFC 822 message: header fields up to the first blank line,
/// among them at least one that every mail has.
pub fn looks_like_email(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(8192)];
    let Ok(text) = std::str::from_utf8(head).or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()]))
    else {
        return false;
    };
    let mut known = 0;
    let mut lines = 0;
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            break;
        }
        if i == 0 && line.starts_with("From ") {
            continue; // mbox separator line
        }
        if line.starts_with([' ', '\t']) {
            continue; // folded continuation
        }
        let Some((name, _)) = line.split_once(':') else { return false };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
            return false;
        }
        lines += 1;
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "from" | "date" | "subject" | "message-id" | "mime-version" | "received" | "return-path" | "to"
        ) {
            known += 1;
        }
    }
    lines >= 2 && known >= 2
}

/// The attachments of a message as items. `depth` counts enclosing messages.
pub fn read(intake: &Intake, bytes: &[u8], hash: ContentHash, source: Source, depth: u32) -> Vec<Item> {
    let fail = |hash: ContentHash, source: Source, e: IntakeError| {
        vec![Item { content_hash: hash, source, result: Err(e) }]
    };
    let limits = &intake.config.limits;
    if depth > limits.max_email_depth {
        return fail(
            hash,
            source,
            IntakeError::TooLarge {
                what: "the nesting of e-mails",
                actual: depth as u64,
                limit: limits.max_email_depth as u64,
            },
        );
    }
    // mail-parser panics on some inconsistent MIME structures ("Invalid part ID", found by the
    // fuzzer: fuzz/regressions/): such a message is corrupt, not a fault of the worker.
    let message = match std::panic::catch_unwind(|| MessageParser::default().parse(bytes)) {
        Ok(Some(message)) => message,
        Ok(None) => {
            return fail(hash, source, IntakeError::Corrupt("not a readable e-mail message".into()));
        }
        Err(_) => {
            return fail(
                hash,
                source,
                IntakeError::Corrupt(
                    "not a readable e-mail message: its MIME structure is inconsistent".into(),
                ),
            );
        }
    };
    let header = Header::of(&message);
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    let mut skipped_over_limit = 0u64;
    for (this, part) in (0u32..).zip(message.attachments()) {
        if !is_document_part(part) {
            continue;
        }
        let contents = part.contents();
        if contents.is_empty() {
            continue;
        }
        if items.len() as u32 >= limits.max_attachments {
            skipped_over_limit += 1;
            continue;
        }
        let child_hash = ContentHash::of(contents);
        if !seen.insert(child_hash.clone()) {
            continue; // the same bytes attached twice are one document
        }
        let name = attachment_name(part, this);
        let provenance = Provenance::Email(EmailProvenance {
            message_hash: hash.clone(),
            message_id: header.message_id.clone(),
            from: header.from.clone(),
            subject: header.subject.clone(),
            date: header.date.clone(),
            attachment_name: name.clone(),
            attachment_index: this,
        });
        if let PartType::Message(_) = &part.body {
            // A forwarded message: its own attachments, with its own headers as provenance.
            let child_source =
                Source { name, path: None, size: contents.len() as u64, provenance: provenance.clone() };
            items.extend(read(intake, contents, child_hash, child_source, depth + 1));
            continue;
        }
        let input = Input { bytes: contents.to_vec(), name, path: None, provenance };
        items.extend(intake.read_at(input, depth + 1));
    }
    if skipped_over_limit > 0 {
        items.push(Item {
            content_hash: hash.clone(),
            source: source.clone(),
            result: Err(IntakeError::TooLarge {
                what: "the number of attachments",
                actual: limits.max_attachments as u64 + skipped_over_limit,
                limit: limits.max_attachments as u64,
            }),
        });
    }
    if items.is_empty() {
        return fail(hash, source, IntakeError::Empty("the e-mail has no attachment".into()));
    }
    items
}

/// Header facts kept as provenance.
struct Header {
    message_id: Option<String>,
    from: Option<String>,
    subject: Option<String>,
    date: Option<String>,
}

impl Header {
    fn of(message: &Message<'_>) -> Header {
        let from = message.from().and_then(|a| match a {
            Address::List(list) => list.first().map(format_addr),
            Address::Group(groups) => groups.iter().flat_map(|g| g.addresses.iter()).next().map(format_addr),
        });
        Header {
            message_id: message.message_id().map(clean),
            from,
            subject: message.subject().map(clean),
            date: message.date().map(|d| d.to_rfc3339()),
        }
    }
}

fn format_addr(a: &mail_parser::Addr<'_>) -> String {
    match (a.name(), a.address()) {
        (Some(n), Some(addr)) => format!("{} <{}>", clean(n), clean(addr)),
        (None, Some(addr)) => clean(addr),
        (Some(n), None) => clean(n),
        (None, None) => String::new(),
    }
}

/// Header text without control characters, at most 500 bytes.
fn clean(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).collect();
    if out.len() > 500 {
        let mut cut = 500;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out.trim().to_string()
}

/// Whether a part of `attachments()` is meant as an attachment: not an inline image that the
/// HTML body shows (a logo: a `Content-ID`, not marked as attachment, smaller than a page), not a
/// signature.
fn is_document_part(part: &MessagePart<'_>) -> bool {
    let media = part
        .content_type()
        .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")).to_ascii_lowercase())
        .unwrap_or_default();
    if NOT_DOCUMENTS.contains(&media.as_str()) {
        return false;
    }
    let disposition_attachment = part.content_disposition().is_some_and(|d| d.is_attachment());
    if !disposition_attachment && part.content_id().is_some() && is_decoration(part.contents()) {
        return false;
    }
    match &part.body {
        PartType::InlineBinary(_) => disposition_attachment,
        // Body parts that mail-parser also lists (an alternative text, a second HTML part)
        // are text of the message, not attachments, unless they carry a name.
        PartType::Text(_) | PartType::Html(_) => disposition_attachment || part.attachment_name().is_some(),
        PartType::Multipart(_) => false,
        PartType::Binary(_) | PartType::Message(_) => true,
    }
}

/// An image shown inside the message (a logo, a signature banner, referenced by `cid:`) rather
/// than a scanned page: smaller than any page at 100 dpi on its longer side. A larger embedded
/// image may be a pasted scan, and is read.
fn is_decoration(bytes: &[u8]) -> bool {
    const PAGE_AT_100_DPI: u32 = 1000;
    let Ok(reader) = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format() else {
        return false;
    };
    match reader.into_dimensions() {
        Ok((w, h)) => w.max(h) < PAGE_AT_100_DPI,
        Err(_) => false,
    }
}

/// The attachment's cleaned name; a generated one when it has none.
fn attachment_name(part: &MessagePart<'_>, index: u32) -> String {
    match part.attachment_name().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => safe_name(n),
        None => {
            let ext = match super::sniff(part.contents()) {
                Ok(f) => extension(f),
                Err(_) => "bin",
            };
            format!("attachment-{}.{ext}", index + 1)
        }
    }
}

fn extension(f: Format) -> &'static str {
    match f {
        Format::Pdf => "pdf",
        Format::Png => "png",
        Format::Jpeg => "jpg",
        Format::Tiff => "tif",
        Format::CiiXml | Format::UblXml => "xml",
        Format::Eml => "eml",
    }
}
