//! Evidence: where in the document a value or a flag comes from. Every extracted value and every
//! flag carries at least one; a value that cannot be grounded is not emitted.

use crate::document::{BBox, Document, Span};
use serde::{Deserialize, Serialize};

/// How a value was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// Read from the e-invoice XML (exact data).
    EInvoiceXml { path: String },
    /// A label/value layout rule of `rules/` (the rule id).
    Layout { rule: String },
    /// A pattern of `rules/` (the rule id).
    Pattern { rule: String },
    /// A supplier template (invoice2data format or ours), by name.
    Template { name: String },
    /// A model, with its name and version.
    Model { name: String, version: String },
    /// Computed from other grounded values (a total from line amounts…), by rule id.
    Derived { rule: String },
}

/// A place in the document: the page, the byte span in its text, the cited text, and the box in
/// the page image when the text was read by OCR (an OCR page, or an image on a text page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub page: u32,
    pub span: Span,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<BBox>,
}

impl Location {
    /// The location of `span` on `page` (1-based), with its text and, for text read by OCR, the
    /// box around the words it overlaps. `None` when the page or span does not exist.
    pub fn of(doc: &Document, page: u32, span: Span) -> Option<Location> {
        let p = doc.pages.get((page as usize).checked_sub(1)?)?;
        let text = p.text.get(span.start..span.end)?.to_string();
        let bbox = union(p.words_over(span).map(|w| w.bbox));
        Some(Location { page, span, text, bbox })
    }
}

/// The smallest box holding all the given boxes.
pub fn union(boxes: impl IntoIterator<Item = BBox>) -> Option<BBox> {
    boxes.into_iter().fold(None, |acc: Option<BBox>, b| {
        Some(match acc {
            None => b,
            Some(a) => {
                let x = a.x.min(b.x);
                let y = a.y.min(b.y);
                let r = (a.x + a.w).max(b.x + b.w);
                let bottom = (a.y + a.h).max(b.y + b.h);
                BBox { x, y, w: r - x, h: bottom - y }
            }
        })
    })
}

/// Why a value is believed: where it was found, how, and with what confidence (0 to 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Empty only for values read from an e-invoice XML (the path is in `method`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location>,
    pub method: Method,
    pub confidence: f32,
}

/// A value with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grounded<T> {
    pub value: T,
    pub evidence: Evidence,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_of_boxes() {
        let a = BBox { x: 10, y: 10, w: 5, h: 5 };
        let b = BBox { x: 20, y: 5, w: 10, h: 3 };
        assert_eq!(union([a, b]), Some(BBox { x: 10, y: 5, w: 20, h: 10 }));
        assert_eq!(union([]), None);
    }
}
