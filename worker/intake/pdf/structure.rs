//! The PDF's structure, with lopdf: opening (and decrypting with the empty password), the Info
//! dictionary, the pages with what their content streams draw (text, images and where), and the
//! embedded files. Everything here reads a hostile object graph: every walk is bounded in depth
//! and count, and references are followed through lopdf's bounded dereferencing.

use crate::config::Limits;
use crate::document::{Attachment, ContentHash, PdfInfo, Warning};
use crate::intake::{Embedded, IntakeError, safe_name};
use lopdf::{Dictionary, Document, Object, ObjectId, Stream};
use std::collections::HashSet;

/// An affine transform `[a b c d e f]`, as in PDF: `x' = a·x + c·y + e`, `y' = b·x + d·y + f`.
pub type Matrix = [f64; 6];
pub const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `m` then `n`: the matrix of applying `m` first (PDF's `m × n`).
pub fn concat(m: &Matrix, n: &Matrix) -> Matrix {
    [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]
}

pub fn apply(m: &Matrix, x: f64, y: f64) -> (f64, f64) {
    (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
}

/// A rectangle `[x0 y0 x1 y1]` with `x0 <= x1`, `y0 <= y1`.
pub type Rect = [f64; 4];

/// Most bytes a page's content streams (or a form's) may decompress to.
const MAX_CONTENT_BYTES: usize = 64 * 1024 * 1024;
/// Most content-stream operators interpreted per page, forms included.
const MAX_OPS_PER_PAGE: usize = 2_000_000;
/// Most image placements kept per page.
const MAX_PLACEMENTS: usize = 5_000;
/// How deep Form XObjects may nest.
const MAX_FORM_DEPTH: usize = 12;
/// How deep `q` may nest before further saves are only counted.
const MAX_GSTATE_DEPTH: usize = 256;
/// How deep the page tree's inherited attributes, name trees and colour spaces are followed.
const MAX_TREE_DEPTH: usize = 64;
/// Most embedded-file entries looked at.
const MAX_EMBEDDED_ENTRIES: usize = 10_000;

/// What the parse gave: the document (kept for the page images), its facts, its pages, its
/// embedded files, and the bytes pdf-extract should read when they are not the file's own.
pub struct Loaded {
    pub doc: Document,
    pub info: PdfInfo,
    pub pages: Vec<PagePlan>,
    pub embedded: Vec<Embedded>,
    pub warnings: Vec<Warning>,
    /// The decrypted document, saved, when the file was encrypted (with the empty password) and
    /// has text to extract.
    pub text_source: Option<Vec<u8>>,
}

/// One page: where it is, how it is turned, whether it shows text, and the images it draws.
pub struct PagePlan {
    pub number: u32,
    pub id: ObjectId,
    /// Clockwise rotation for display: 0, 90, 180 or 270.
    pub rotate: u32,
    /// The visible region (crop box within the media box), in default user space.
    pub bbox: Rect,
    /// Text-showing operators were found (or could not be ruled out).
    pub has_text: bool,
    pub placements: Vec<Placement>,
    /// Inline images lopdf's content parser skips (those with filters, or a colour space named
    /// in the resources): drawn, but not readable here.
    pub skipped_inline: u32,
}

/// One image drawn on a page: which, and the transform that maps the unit square onto the page.
pub struct Placement {
    pub image: ImageRef,
    pub ctm: Matrix,
    /// The fill colour as grey (0 black … 255 white), which a stencil mask paints with.
    pub fill_gray: u8,
    pub width: u32,
    pub height: u32,
    /// The image's last filter (the image codec, when there is one).
    pub codec: Option<String>,
}

pub enum ImageRef {
    XObject(ObjectId),
    /// An inline image, its dictionary written with the full key names and its named colour
    /// space resolved.
    Inline(Box<Stream>),
}

impl Placement {
    /// The four corners of the placed image, in page space.
    pub fn corners(&self) -> [(f64, f64); 4] {
        [
            apply(&self.ctm, 0.0, 0.0),
            apply(&self.ctm, 1.0, 0.0),
            apply(&self.ctm, 0.0, 1.0),
            apply(&self.ctm, 1.0, 1.0),
        ]
    }

    /// Bounding box in page space.
    pub fn bbox(&self) -> Rect {
        let c = self.corners();
        let xs = c.iter().map(|p| p.0);
        let ys = c.iter().map(|p| p.1);
        [
            xs.clone().fold(f64::INFINITY, f64::min),
            ys.clone().fold(f64::INFINITY, f64::min),
            xs.fold(f64::NEG_INFINITY, f64::max),
            ys.fold(f64::NEG_INFINITY, f64::max),
        ]
    }
}

// ---------------------------------------------------------------------------------------------
// Small readers over lopdf objects

pub fn deref<'a>(doc: &'a Document, o: &'a Object) -> Option<&'a Object> {
    doc.dereference(o).ok().map(|(_, o)| o)
}

pub fn get<'a>(doc: &'a Document, d: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    d.get(key).ok().and_then(|o| deref(doc, o))
}

pub fn get_dict<'a>(doc: &'a Document, d: &'a Dictionary, key: &[u8]) -> Option<&'a Dictionary> {
    match get(doc, d, key)? {
        Object::Dictionary(d) => Some(d),
        _ => None,
    }
}

pub fn num(o: &Object) -> Option<f64> {
    match o {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) if r.is_finite() => Some(f64::from(*r)),
        _ => None,
    }
}

pub fn get_int(doc: &Document, d: &Dictionary, key: &[u8]) -> Option<i64> {
    match get(doc, d, key)? {
        Object::Integer(i) => Some(*i),
        Object::Real(r) if r.is_finite() && r.fract() == 0.0 => Some(*r as i64),
        _ => None,
    }
}

pub fn get_bool(doc: &Document, d: &Dictionary, key: &[u8]) -> Option<bool> {
    match get(doc, d, key)? {
        Object::Boolean(b) => Some(*b),
        _ => None,
    }
}

pub fn get_name<'a>(doc: &'a Document, d: &'a Dictionary, key: &[u8]) -> Option<&'a [u8]> {
    match get(doc, d, key)? {
        Object::Name(n) => Some(n),
        _ => None,
    }
}

fn rect(doc: &Document, o: &Object) -> Option<Rect> {
    let Object::Array(a) = deref(doc, o)? else { return None };
    if a.len() != 4 {
        return None;
    }
    let v: Vec<f64> = a.iter().filter_map(|x| deref(doc, x).and_then(num)).collect();
    if v.len() != 4 {
        return None;
    }
    let r = [v[0].min(v[2]), v[1].min(v[3]), v[0].max(v[2]), v[1].max(v[3])];
    (r[2] > r[0] && r[3] > r[1]).then_some(r)
}

fn intersect(a: &Rect, b: &Rect) -> Option<Rect> {
    let r = [a[0].max(b[0]), a[1].max(b[1]), a[2].min(b[2]), a[3].min(b[3])];
    (r[2] > r[0] && r[3] > r[1]).then_some(r)
}

// ---------------------------------------------------------------------------------------------
// Opening

/// Parse the bytes and read everything intake needs from the structure. Runs on the parse
/// thread (large stack, panics caught by the caller).
/// The warning code of a file whose structure had to be rebuilt.
pub const REPAIRED: &str = "pdf_repaired";

pub fn load(bytes: &[u8], limits: &Limits) -> Result<Loaded, IntakeError> {
    let mut doc = open(bytes)?;
    let encrypted = doc.was_encrypted();
    let page_ids: Vec<ObjectId> = doc.page_iter().collect();
    let page_count = page_ids.len() as u64;
    if page_count > u64::from(limits.max_pages) {
        return Err(IntakeError::TooLarge {
            what: "the page count",
            actual: page_count,
            limit: u64::from(limits.max_pages),
        });
    }
    let mut warnings = Vec::new();
    if doc.xref_recovery == Some(lopdf::xref::XrefRecovery::Reconstructed) {
        warnings.push(Warning::new(
            REPAIRED,
            None,
            "the file is damaged (its cross-reference table is unreadable or missing): its objects were found by scanning, some may be lost",
        ));
    }
    let mut info = read_info(&doc);
    info.version = doc.version.clone();
    info.page_count = page_count as u32;
    info.encrypted = encrypted;

    let mut pages = Vec::with_capacity(page_ids.len());
    for (i, id) in page_ids.iter().enumerate() {
        pages.push(plan_page(&doc, *id, i as u32 + 1, &mut warnings));
    }
    let mut images: HashSet<ObjectId> = HashSet::new();
    let mut inline = 0u32;
    for p in &pages {
        for pl in &p.placements {
            match pl.image {
                ImageRef::XObject(id) => {
                    images.insert(id);
                }
                ImageRef::Inline(_) => inline += 1,
            }
        }
    }
    info.image_count = (images.len() as u32).saturating_add(inline);

    let embedded = read_embedded(&doc, limits, &mut warnings);

    let text_source = if encrypted && pages.iter().any(|p| p.has_text) {
        let mut out = Vec::new();
        match doc.save_to(&mut out) {
            Ok(()) => Some(out),
            Err(e) => {
                warnings.push(Warning::new(
                    "text_layer_unavailable",
                    None,
                    format!("the decrypted document could not be prepared for text extraction: {e}"),
                ));
                None
            }
        }
    } else {
        None
    };
    Ok(Loaded { doc, info, pages, embedded, warnings, text_source })
}

fn open(bytes: &[u8]) -> Result<Document, IntakeError> {
    use lopdf::{DecompressError, Error, LoadOptions};
    let options = LoadOptions::default();
    let doc = match Document::load_mem_with_options(bytes, options) {
        Ok(doc) => doc,
        Err(Error::InvalidPassword) | Err(Error::Decryption(_)) => {
            return Err(IntakeError::Encrypted("it cannot be opened without its password".into()));
        }
        Err(Error::UnsupportedSecurityHandler(h)) => {
            return Err(IntakeError::Encrypted(format!(
                "it uses the {} security handler, which Liasse cannot open",
                String::from_utf8_lossy(&h)
            )));
        }
        Err(Error::Decompress(DecompressError::MemoryLimitExceeded { limit })) => {
            return Err(IntakeError::Corrupt(format!(
                "a stream decompresses to more than {limit} bytes (a decompression bomb?)"
            )));
        }
        Err(e) => return Err(IntakeError::Corrupt(format!("not a readable PDF: {e}"))),
    };
    // When the cross-reference offsets were off and lopdf corrected them, objects can still be
    // lost (offsets shifted by a byte point into the wrong objects). A table rebuilt by scanning
    // the file for objects is then kept if it finds more, with at least as many pages.
    let doc = if doc.xref_recovery == Some(lopdf::xref::XrefRecovery::OffsetCorrected) {
        let options = LoadOptions { force_reconstruct: true, ..LoadOptions::default() };
        match Document::load_mem_with_options(bytes, options) {
            Ok(rebuilt)
                if rebuilt.objects.len() > doc.objects.len()
                    && rebuilt.page_iter().count() >= doc.page_iter().count() =>
            {
                rebuilt
            }
            _ => doc,
        }
    } else {
        doc
    };
    if doc.trailer.has(b"Encrypt") {
        return Err(IntakeError::Encrypted("it needs a password to open".into()));
    }
    if doc.catalog().is_err() {
        return Err(IntakeError::Corrupt("not a readable PDF: it has no document catalog".into()));
    }
    Ok(doc)
}

// ---------------------------------------------------------------------------------------------
// Info dictionary

fn read_info(doc: &Document) -> PdfInfo {
    let mut info = PdfInfo::default();
    let Some(dict) = doc.trailer.get(b"Info").ok().and_then(|o| deref(doc, o)).and_then(|o| o.as_dict().ok())
    else {
        return info;
    };
    let text = |key: &[u8]| get(doc, dict, key).and_then(text_string);
    info.title = text(b"Title");
    info.author = text(b"Author");
    info.creator = text(b"Creator");
    info.producer = text(b"Producer");
    info.created = text(b"CreationDate").map(|d| pdf_date(&d).unwrap_or(d));
    info.modified = text(b"ModDate").map(|d| pdf_date(&d).unwrap_or(d));
    info
}

/// A PDF text string (UTF-16BE or UTF-8 with their byte-order mark, else PDFDocEncoding), without
/// control characters, trimmed; `None` when empty. At most 1000 characters.
pub fn text_string(o: &Object) -> Option<String> {
    let bytes = o.as_str().ok()?;
    let raw = match lopdf::decode_text_string(o) {
        Ok(s) => s,
        Err(_) if bytes.starts_with(b"\xFE\xFF") => {
            let units: Vec<u16> =
                bytes[2..].chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            String::from_utf16_lossy(&units)
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    };
    let clean: String = raw.chars().filter(|c| !c.is_control()).take(1000).collect();
    let clean = clean.trim();
    (!clean.is_empty()).then(|| clean.to_string())
}

/// `D:YYYYMMDDHHmmSSOHH'mm'` (every part after the year optional) as RFC 3339. A date without
/// a time zone is taken as UTC, as PDF 2.0 says.
pub fn pdf_date(s: &str) -> Option<String> {
    use chrono::{FixedOffset, NaiveDate, TimeZone};
    let s = s.trim();
    let s = s.strip_prefix("D:").unwrap_or(s);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if !(4..=14).contains(&digits) || !digits.is_multiple_of(2) {
        return None;
    }
    let field = |from: usize, len: usize, default: u32| -> u32 {
        if from + len <= digits { s[from..from + len].parse().unwrap_or(default) } else { default }
    };
    let year = s[..4].parse::<i32>().ok()?;
    let (month, day) = (field(4, 2, 1), field(6, 2, 1));
    let (hour, minute, second) = (field(8, 2, 0), field(10, 2, 0), field(12, 2, 0));
    let rest = &s[digits..];
    let offset_secs = match rest.chars().next() {
        None | Some('Z') | Some('z') => 0,
        Some(sign @ ('+' | '-')) => {
            let tz: String = rest[1..].chars().filter(char::is_ascii_digit).collect();
            let h: i32 = tz.get(..2)?.parse().ok()?;
            let m: i32 = tz.get(2..4).map(|m| m.parse().unwrap_or(0)).unwrap_or(0);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if sign == '-' { -secs } else { secs }
        }
        Some(_) => return None,
    };
    let naive = NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, second.min(59))?;
    let offset = FixedOffset::east_opt(offset_secs)?;
    let dt = offset.from_local_datetime(&naive).single()?;
    Some(dt.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

// ---------------------------------------------------------------------------------------------
// Pages

/// An attribute a page inherits from its ancestors in the page tree.
fn inherited<'a>(doc: &'a Document, page: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    let mut node = page;
    let mut seen = HashSet::new();
    for _ in 0..MAX_TREE_DEPTH {
        if let Some(v) = get(doc, node, key) {
            return Some(v);
        }
        let parent = node.get(b"Parent").ok()?.as_reference().ok()?;
        if !seen.insert(parent) {
            return None;
        }
        node = doc.get_dictionary(parent).ok()?;
    }
    None
}

fn plan_page(doc: &Document, id: ObjectId, number: u32, warnings: &mut Vec<Warning>) -> PagePlan {
    let mut plan = PagePlan {
        number,
        id,
        rotate: 0,
        bbox: [0.0, 0.0, 612.0, 792.0],
        has_text: false,
        placements: vec![],
        skipped_inline: 0,
    };
    let Ok(page) = doc.get_dictionary(id) else {
        warnings.push(Warning::new("page_unreadable", Some(number), "the page object could not be read"));
        return plan;
    };
    if let Some(r) = inherited(doc, page, b"Rotate").and_then(num) {
        let quarter = (r / 90.0).round() as i64;
        plan.rotate = (quarter.rem_euclid(4) * 90) as u32;
    }
    let media = inherited(doc, page, b"MediaBox").and_then(|o| rect(doc, o)).unwrap_or(plan.bbox);
    let crop = inherited(doc, page, b"CropBox").and_then(|o| rect(doc, o));
    plan.bbox = crop.and_then(|c| intersect(&c, &media)).unwrap_or(media);

    let mut resources: Vec<&Dictionary> = Vec::new();
    if let Ok((direct, ids)) = doc.get_page_resources(id) {
        resources.extend(direct);
        resources.extend(ids.iter().filter_map(|i| doc.get_dictionary(*i).ok()));
    }
    let content = match doc.get_page_content_with_limit(id, MAX_CONTENT_BYTES) {
        Ok(c) => c,
        Err(e) => {
            warnings.push(Warning::new(
                "page_content_unreadable",
                Some(number),
                format!("the page's content could not be read: {e}"),
            ));
            plan.has_text = resources.iter().any(|r| r.has(b"Font"));
            return plan;
        }
    };
    let mut walker = Walker {
        doc,
        placements: Vec::new(),
        has_text: false,
        ops: 0,
        forms: Vec::new(),
        truncated: false,
        skipped_inline: 0,
    };
    walker.walk(&content, &resources, IDENTITY, 0);
    if walker.truncated {
        warnings.push(Warning::new(
            "page_content_truncated",
            Some(number),
            format!(
                "the page draws more than {MAX_OPS_PER_PAGE} operations or {MAX_PLACEMENTS} images; the rest was not looked at"
            ),
        ));
        // What was not looked at may show text.
        walker.has_text |= resources.iter().any(|r| r.has(b"Font"));
    }
    plan.has_text = walker.has_text;
    plan.placements = walker.placements;
    plan.skipped_inline = walker.skipped_inline;
    plan
}

struct Walker<'a> {
    doc: &'a Document,
    placements: Vec<Placement>,
    has_text: bool,
    ops: usize,
    /// Forms being walked (to refuse cycles).
    forms: Vec<ObjectId>,
    truncated: bool,
    skipped_inline: u32,
}

fn lookup<'a>(
    doc: &'a Document,
    resources: &[&'a Dictionary],
    category: &[u8],
    name: &[u8],
) -> Option<&'a Object> {
    resources.iter().find_map(|r| get_dict(doc, r, category).and_then(|d| d.get(name).ok()))
}

fn operand_nums(ops: &[Object]) -> Option<Vec<f64>> {
    ops.iter().map(num).collect()
}

fn gray_of(components: &[f64]) -> Option<u8> {
    let v = match components {
        [g] => *g,
        [r, g, b] => 0.299 * r + 0.587 * g + 0.114 * b,
        [c, m, y, k] => 1.0 - (0.3 * c + 0.59 * m + 0.11 * y + k).min(1.0),
        _ => return None,
    };
    Some((v.clamp(0.0, 1.0) * 255.0).round() as u8)
}

impl<'a> Walker<'a> {
    fn walk(&mut self, content: &[u8], resources: &[&'a Dictionary], ctm: Matrix, depth: usize) {
        let mut ctm = ctm;
        let mut fill: u8 = 0;
        let mut stack: Vec<(Matrix, u8)> = Vec::new();
        let mut extra_saves = 0usize;
        for op in lopdf::content::Content::decode_iter(content) {
            let Ok(op) = op else { break };
            self.ops += 1;
            if self.ops > MAX_OPS_PER_PAGE || self.placements.len() >= MAX_PLACEMENTS {
                self.truncated = true;
                return;
            }
            match op.operator.as_str() {
                "q" => {
                    if stack.len() < MAX_GSTATE_DEPTH {
                        stack.push((ctm, fill));
                    } else {
                        extra_saves += 1;
                    }
                }
                "Q" => {
                    if extra_saves > 0 {
                        extra_saves -= 1;
                    } else if let Some((m, f)) = stack.pop() {
                        ctm = m;
                        fill = f;
                    }
                }
                "cm" => {
                    if let Some(v) = operand_nums(&op.operands).filter(|v| v.len() == 6) {
                        ctm = concat(&[v[0], v[1], v[2], v[3], v[4], v[5]], &ctm);
                    }
                }
                "Tj" | "TJ" | "'" | "\"" => self.has_text = true,
                "g" | "rg" | "k" | "sc" | "scn" => {
                    if let Some(g) = operand_nums(&op.operands).and_then(|v| gray_of(&v)) {
                        fill = g;
                    }
                }
                "Do" => {
                    if let Some(Object::Name(name)) = op.operands.first() {
                        self.draw_xobject(name, resources, ctm, fill, depth);
                    }
                }
                "BI" => match op.operands.into_iter().next() {
                    Some(Object::Stream(s)) => self.inline_image(s, resources, ctm, fill),
                    _ => self.skipped_inline = self.skipped_inline.saturating_add(1),
                },
                _ => {}
            }
        }
    }

    fn draw_xobject(
        &mut self,
        name: &[u8],
        resources: &[&'a Dictionary],
        ctm: Matrix,
        fill: u8,
        depth: usize,
    ) {
        let doc = self.doc;
        let Some(obj) = lookup(doc, resources, b"XObject", name) else { return };
        let Ok((Some(id), Object::Stream(stream))) = doc.dereference(obj) else { return };
        let dict = &stream.dict;
        match get_name(doc, dict, b"Subtype") {
            Some(b"Image") => {
                let (width, height) = (get_int(doc, dict, b"Width"), get_int(doc, dict, b"Height"));
                let (Some(w), Some(h)) = (width, height) else { return };
                if w <= 0 || h <= 0 || w > u32::MAX as i64 || h > u32::MAX as i64 {
                    return;
                }
                self.placements.push(Placement {
                    image: ImageRef::XObject(id),
                    ctm,
                    fill_gray: fill,
                    width: w as u32,
                    height: h as u32,
                    codec: last_filter(doc, dict),
                });
            }
            Some(b"Form") => {
                if depth >= MAX_FORM_DEPTH || self.forms.contains(&id) {
                    return;
                }
                let matrix = match get(doc, dict, b"Matrix") {
                    Some(Object::Array(a)) if a.len() == 6 => {
                        let v: Vec<f64> = a.iter().filter_map(|o| deref(doc, o).and_then(num)).collect();
                        if v.len() == 6 { [v[0], v[1], v[2], v[3], v[4], v[5]] } else { IDENTITY }
                    }
                    _ => IDENTITY,
                };
                let Ok(content) = stream.decompressed_content_with_limit(MAX_CONTENT_BYTES) else { return };
                let own = get_dict(doc, dict, b"Resources");
                let form_resources: Vec<&'a Dictionary> = match own {
                    Some(r) => vec![r],
                    None => resources.to_vec(),
                };
                self.forms.push(id);
                self.walk(&content, &form_resources, concat(&matrix, &ctm), depth + 1);
                self.forms.pop();
            }
            _ => {}
        }
    }

    fn inline_image(&mut self, stream: Stream, resources: &[&'a Dictionary], ctm: Matrix, fill: u8) {
        let doc = self.doc;
        let mut s = stream;
        s.dict = expand_inline_dict(doc, &s.dict, resources);
        let (Some(w), Some(h)) = (get_int(doc, &s.dict, b"Width"), get_int(doc, &s.dict, b"Height")) else {
            return;
        };
        if w <= 0 || h <= 0 || w > u32::MAX as i64 || h > u32::MAX as i64 {
            return;
        }
        let codec = last_filter(doc, &s.dict);
        self.placements.push(Placement {
            image: ImageRef::Inline(Box::new(s)),
            ctm,
            fill_gray: fill,
            width: w as u32,
            height: h as u32,
            codec,
        });
    }
}

/// The filters of an image stream, in decoding order, with abbreviations expanded.
pub fn filters(doc: &Document, dict: &Dictionary) -> Vec<String> {
    let names: Vec<&[u8]> = match get(doc, dict, b"Filter") {
        Some(Object::Name(n)) => vec![n.as_slice()],
        Some(Object::Array(a)) => {
            a.iter().filter_map(|o| deref(doc, o)).filter_map(|o| o.as_name().ok()).collect()
        }
        _ => vec![],
    };
    names.into_iter().map(|n| expand_filter(n).to_string()).collect()
}

fn last_filter(doc: &Document, dict: &Dictionary) -> Option<String> {
    filters(doc, dict).pop()
}

pub fn expand_filter(n: &[u8]) -> &str {
    match n {
        b"AHx" => "ASCIIHexDecode",
        b"A85" => "ASCII85Decode",
        b"LZW" => "LZWDecode",
        b"Fl" => "FlateDecode",
        b"RL" => "RunLengthDecode",
        b"CCF" => "CCITTFaxDecode",
        b"DCT" => "DCTDecode",
        other => std::str::from_utf8(other).unwrap_or("?"),
    }
}

/// An inline image's dictionary with the full key names, filter names and colour space names
/// (a named colour space is looked up in the resources and copied in).
fn expand_inline_dict(doc: &Document, dict: &Dictionary, resources: &[&Dictionary]) -> Dictionary {
    let mut out = Dictionary::new();
    for (k, v) in dict.iter() {
        let key: &[u8] = match k.as_slice() {
            b"BPC" => b"BitsPerComponent",
            b"CS" => b"ColorSpace",
            b"D" => b"Decode",
            b"DP" => b"DecodeParms",
            b"F" => b"Filter",
            b"H" => b"Height",
            b"IM" => b"ImageMask",
            b"I" => b"Interpolate",
            b"W" => b"Width",
            other => other,
        };
        let value = match key {
            b"Filter" => match v {
                Object::Name(n) => Object::Name(expand_filter(n).as_bytes().to_vec()),
                Object::Array(a) => Object::Array(
                    a.iter()
                        .map(|o| match o {
                            Object::Name(n) => Object::Name(expand_filter(n).as_bytes().to_vec()),
                            o => o.clone(),
                        })
                        .collect(),
                ),
                o => o.clone(),
            },
            b"ColorSpace" => match v {
                Object::Name(n) => match n.as_slice() {
                    b"G" => Object::Name(b"DeviceGray".to_vec()),
                    b"RGB" => Object::Name(b"DeviceRGB".to_vec()),
                    b"CMYK" => Object::Name(b"DeviceCMYK".to_vec()),
                    b"I" => Object::Name(b"Indexed".to_vec()),
                    b"DeviceGray" | b"DeviceRGB" | b"DeviceCMYK" => v.clone(),
                    named => match lookup(doc, resources, b"ColorSpace", named).and_then(|o| deref(doc, o)) {
                        Some(cs) => cs.clone(),
                        None => v.clone(),
                    },
                },
                Object::Array(a) => Object::Array(
                    a.iter()
                        .enumerate()
                        .map(|(i, o)| match (i, o) {
                            (0, Object::Name(n)) if n.as_slice() == b"I" => Object::Name(b"Indexed".to_vec()),
                            (1, Object::Name(n)) => match n.as_slice() {
                                b"G" => Object::Name(b"DeviceGray".to_vec()),
                                b"RGB" => Object::Name(b"DeviceRGB".to_vec()),
                                b"CMYK" => Object::Name(b"DeviceCMYK".to_vec()),
                                named => lookup(doc, resources, b"ColorSpace", named)
                                    .and_then(|o| deref(doc, o))
                                    .cloned()
                                    .unwrap_or_else(|| o.clone()),
                            },
                            (_, o) => o.clone(),
                        })
                        .collect(),
                ),
                o => o.clone(),
            },
            _ => v.clone(),
        };
        out.set(key.to_vec(), value);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Embedded files

fn read_embedded(doc: &Document, limits: &Limits, warnings: &mut Vec<Warning>) -> Vec<Embedded> {
    let mut specs: Vec<(Option<String>, &Object)> = Vec::new();
    if let Ok(catalog) = doc.catalog() {
        if let Some(tree) = get_dict(doc, catalog, b"Names").and_then(|n| get_dict(doc, n, b"EmbeddedFiles"))
        {
            let mut seen = HashSet::new();
            name_tree(doc, tree, 0, &mut seen, &mut specs);
        }
        if let Some(Object::Array(af)) = get(doc, catalog, b"AF") {
            specs.extend(af.iter().take(MAX_EMBEDDED_ENTRIES).map(|o| (None, o)));
        }
    }
    // File attachment annotations.
    for page_id in doc.page_iter() {
        if specs.len() >= MAX_EMBEDDED_ENTRIES {
            break;
        }
        let Ok(page) = doc.get_dictionary(page_id) else { continue };
        let Some(Object::Array(annots)) = get(doc, page, b"Annots") else { continue };
        for a in annots.iter().take(MAX_EMBEDDED_ENTRIES) {
            let Some(Object::Dictionary(ad)) = deref(doc, a) else { continue };
            if get_name(doc, ad, b"Subtype") == Some(b"FileAttachment")
                && let Ok(fs) = ad.get(b"FS")
            {
                specs.push((None, fs));
            }
        }
    }

    let mut out: Vec<Embedded> = Vec::new();
    let mut by_stream: Vec<ObjectId> = Vec::new();
    for (key, spec) in specs.into_iter().take(MAX_EMBEDDED_ENTRIES) {
        let Some(Object::Dictionary(fs)) = deref(doc, spec) else { continue };
        let Some(ef) = get_dict(doc, fs, b"EF") else { continue };
        let Some(file_ref) = ef.get(b"F").or_else(|_| ef.get(b"UF")).ok() else { continue };
        let stream_id = file_ref.as_reference().ok();
        let relationship =
            get_name(doc, fs, b"AFRelationship").map(|n| String::from_utf8_lossy(n).into_owned());
        if let Some(sid) = stream_id
            && let Some(i) = by_stream.iter().position(|s| *s == sid)
        {
            // The same file found again (in the name tree and in /AF): keep one, with what
            // either gave.
            if out[i].attachment.relationship.is_none() {
                out[i].attachment.relationship = relationship;
            }
            continue;
        }
        let raw_name = get(doc, fs, b"UF")
            .and_then(text_string)
            .or_else(|| get(doc, fs, b"F").and_then(text_string))
            .or(key)
            .unwrap_or_else(|| format!("attachment-{}", out.len() + 1));
        let name = safe_name(&raw_name);
        let Some(Object::Stream(stream)) = deref(doc, file_ref) else {
            warnings.push(Warning::new(
                "attachment_unreadable",
                None,
                format!("embedded file {name}: its content is missing"),
            ));
            continue;
        };
        let media_type = get_name(doc, &stream.dict, b"Subtype")
            .map(|n| String::from_utf8_lossy(n).replace("#2F", "/").replace("#2f", "/"));
        let limit = usize::try_from(limits.max_file_bytes).unwrap_or(usize::MAX);
        let bytes = match stream.decompressed_content_with_limit(limit) {
            Ok(b) => b,
            Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })) => {
                warnings.push(Warning::new(
                    "attachment_too_large",
                    None,
                    format!(
                        "embedded file {name} is larger than {} bytes and was not read",
                        limits.max_file_bytes
                    ),
                ));
                continue;
            }
            Err(e) => {
                warnings.push(Warning::new(
                    "attachment_unreadable",
                    None,
                    format!("embedded file {name} could not be decoded: {e}"),
                ));
                continue;
            }
        };
        let attachment = Attachment {
            name,
            media_type,
            relationship,
            size: bytes.len() as u64,
            content_hash: ContentHash::of(&bytes),
        };
        if let Some(sid) = stream_id {
            by_stream.push(sid);
        } else {
            by_stream.push((0, 0));
        }
        out.push(Embedded { attachment, bytes });
    }
    out
}

fn name_tree<'a>(
    doc: &'a Document,
    node: &'a Dictionary,
    depth: usize,
    seen: &mut HashSet<ObjectId>,
    out: &mut Vec<(Option<String>, &'a Object)>,
) {
    if depth > MAX_TREE_DEPTH || out.len() >= MAX_EMBEDDED_ENTRIES {
        return;
    }
    if let Some(Object::Array(names)) = get(doc, node, b"Names") {
        for pair in names.chunks_exact(2) {
            if out.len() >= MAX_EMBEDDED_ENTRIES {
                return;
            }
            let key = deref(doc, &pair[0]).and_then(text_string);
            out.push((key, &pair[1]));
        }
    }
    if let Some(Object::Array(kids)) = get(doc, node, b"Kids") {
        for kid in kids {
            if let Object::Reference(id) = kid
                && !seen.insert(*id)
            {
                continue;
            }
            if let Some(Object::Dictionary(d)) = deref(doc, kid) {
                name_tree(doc, d, depth + 1, seen, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_become_rfc3339() {
        assert_eq!(pdf_date("D:20240131142502+01'00'").as_deref(), Some("2024-01-31T14:25:02+01:00"));
        assert_eq!(pdf_date("D:20240131142502Z").as_deref(), Some("2024-01-31T14:25:02Z"));
        assert_eq!(pdf_date("D:20240131142502Z00'00'").as_deref(), Some("2024-01-31T14:25:02Z"));
        assert_eq!(pdf_date("D:20240131").as_deref(), Some("2024-01-31T00:00:00Z"));
        assert_eq!(pdf_date("D:2024").as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(pdf_date("D:20240131142502-05'30").as_deref(), Some("2024-01-31T14:25:02-05:30"));
        assert_eq!(pdf_date("20240131142502").as_deref(), Some("2024-01-31T14:25:02Z"));
        assert_eq!(pdf_date("D:20241331"), None);
        assert_eq!(pdf_date("yesterday"), None);
        assert_eq!(pdf_date("D:202401311425029"), None);
    }

    #[test]
    fn text_strings_decode_utf16_and_pdfdoc() {
        let utf16 = Object::String(
            b"\xFE\xFF\x00F\x00a\x00c\x00t\x00u\x00r\x00e\x00 \x00\xE9".to_vec(),
            lopdf::StringFormat::Hexadecimal,
        );
        assert_eq!(text_string(&utf16).as_deref(), Some("Facture é"));
        // PDFDocEncoding: 0x80 is a bullet, 0xE9 é.
        let pdfdoc = Object::string_literal(b"\x80 Caf\xE9".to_vec());
        assert_eq!(text_string(&pdfdoc).as_deref(), Some("\u{2022} Café"));
        assert_eq!(text_string(&Object::string_literal("  ")), None);
        // An odd trailing byte or a lone surrogate does not lose the string.
        let broken = Object::String(b"\xFE\xFF\xD8\x00\x00A".to_vec(), lopdf::StringFormat::Hexadecimal);
        assert!(text_string(&broken).is_some_and(|s| s.ends_with('A')));
    }

    #[test]
    fn matrices_compose_like_pdf() {
        // Scale then translate.
        let m = concat(&[2.0, 0.0, 0.0, 3.0, 0.0, 0.0], &[1.0, 0.0, 0.0, 1.0, 10.0, 20.0]);
        assert_eq!(apply(&m, 1.0, 1.0), (12.0, 23.0));
        // Translate then scale.
        let m = concat(&[1.0, 0.0, 0.0, 1.0, 10.0, 20.0], &[2.0, 0.0, 0.0, 3.0, 0.0, 0.0]);
        assert_eq!(apply(&m, 1.0, 1.0), (22.0, 63.0));
    }
}
