//! PDF intake: structure with lopdf, text layer with pdf-extract (in the sandbox), OCR of the
//! pages without usable text from their image XObjects.
//!
//! 1. The bytes are parsed by lopdf on a thread with a large stack (panics caught, the document's
//!    deadline enforced): facts (`PdfInfo`), embedded files, and for every page what its content
//!    streams draw — whether they show text, and which images where.
//! 2. When any page shows text, pdf-extract reads the text layer in the sandbox (a child process
//!    with a time and memory budget). If it fails, every page is taken as without text.
//! 3. A page whose text is too short or garbled, and that draws images covering a fair part of
//!    it, gets its image composed from those images and read by OCR — the pages of one document in
//!    parallel, each image decoded on the OCR thread that reads it.
//! 4. On a page with a usable text layer, each image of a fair size (not an icon, not the whole
//!    page) is read by OCR too, after the pages above; what reads as text that the layer lacks is
//!    appended to the page's text, its words keeping their boxes (`ocr.read_images_on_text_pages`).

mod decode;
pub(crate) mod layout;
mod render;
pub(crate) mod structure;

use super::sandbox::{PageText, SandboxError};
use super::{Deadline, Embedded, Intake, IntakeError};
use crate::config::{Config, Limits};
use crate::document::{BBox, OcrInfo, Page, PageMethod, PdfInfo, Span, Warning, normalize_text, squash};
use crate::ocr::{OcrError, OcrPage, PageImage};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use structure::{Loaded, PagePlan, Rect};

pub use decode::ImageError;

pub struct PdfRead {
    pub info: PdfInfo,
    pub pages: Vec<Page>,
    pub embedded: Vec<Embedded>,
    pub warnings: Vec<Warning>,
}

/// Stack of the parse thread: lopdf's parser recurses on nested objects.
const PARSE_STACK: usize = 256 * 1024 * 1024;
/// Most per-page warnings of one kind before they are summed up.
const MAX_PAGE_WARNINGS: usize = 20;

pub fn read(intake: &Intake, bytes: &[u8], deadline: Deadline) -> Result<PdfRead, IntakeError> {
    let config = &intake.config;
    deadline.check("opening the PDF")?;
    let Loaded { mut doc, info, pages: plans, embedded, mut warnings, text_source } =
        parse(bytes, &config.limits, &deadline)?;
    deadline.check("reading the PDF's structure")?;

    // The text layer.
    let mut raw: Vec<Option<(String, Option<String>)>> = vec![None; plans.len()];
    let mut text_failure = None;
    if plans.iter().any(|p| p.has_text) {
        let source = text_source.as_deref().unwrap_or(bytes);
        let mut result = intake.sandbox.extract_text(source, &deadline);
        if let Err(SandboxError::Unreadable(why)) = &result
            && text_source.is_none()
            && !deadline.expired()
        {
            // pdf-extract's own (older) lopdf could not parse the file where ours could: give it
            // the document as ours read it, written out again.
            let mut rewritten = Vec::new();
            if doc.save_to(&mut rewritten).is_ok() {
                let why = why.clone();
                result = intake.sandbox.extract_text(&rewritten, &deadline);
                if result.is_ok() {
                    warnings.push(Warning::new(
                        "text_layer_rewritten",
                        None,
                        format!("the text layer was read from a rewritten copy of the file ({why})"),
                    ));
                }
            }
        }
        match result {
            Ok(list) => raw = align_texts(&plans, list, &mut warnings),
            Err(SandboxError::Unavailable(why)) => return Err(IntakeError::Internal(why)),
            Err(e) => {
                let code = if matches!(e, SandboxError::TimedOut(_)) {
                    "text_layer_timed_out"
                } else {
                    "text_layer_failed"
                };
                warnings.push(Warning::new(
                    code,
                    None,
                    format!("{e}; pages with images are read by OCR instead"),
                ));
                text_failure = Some(e);
            }
        }
    }
    drop(text_source);
    deadline.check("extracting the text layer")?;

    // Which pages OCR should read.
    let min_chars = config.ocr.min_text_chars;
    let mut pages = Vec::with_capacity(plans.len());
    let mut verdicts = Vec::with_capacity(plans.len());
    let mut jobs = Vec::new();
    let mut garbled = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        let (raw_text, raw_layout) = raw[i].take().unwrap_or_default();
        let (quality, verdict) = assess_text(&raw_text, min_chars);
        let text = normalize_text(&raw_text);
        let method = if text.is_empty() { PageMethod::None } else { PageMethod::TextLayer };
        let layout = raw_layout
            .map(|l| normalize_text(&l))
            .filter(|l| method == PageMethod::TextLayer && !l.is_empty());
        pages.push(Page { number: plan.number, method, text, layout, ocr: None, words: Vec::new() });
        if verdict != TextVerdict::Usable {
            match render::select(plan, &mut warnings) {
                Some(selection) => jobs.push(Job { page: i, selection, on_text_page: false }),
                None if verdict == TextVerdict::Garbled => garbled.push((plan.number, quality)),
                None => {}
            }
        }
        verdicts.push((quality, verdict));
    }
    // Images on pages with a usable text layer, read after the pages without one.
    if config.ocr.read_images_on_text_pages {
        jobs.extend(text_page_jobs(&plans, |i| verdicts[i].1 == TextVerdict::Usable));
    }
    for (n, (number, q)) in garbled.iter().enumerate() {
        if n == MAX_PAGE_WARNINGS {
            warnings.push(Warning::new(
                "text_layer_garbled",
                None,
                format!("{} more pages have a garbled text layer", garbled.len() - n),
            ));
            break;
        }
        warnings.push(Warning::new(
            "text_layer_garbled",
            Some(*number),
            format!(
                "the text layer looks garbled ({} of {} characters unreadable, {} letters or digits) and the page has no image to read by OCR; the text is kept as it is",
                q.bad, q.visible, q.alnum
            ),
        ));
    }

    let mut too_large_image = None;
    if !jobs.is_empty() {
        deadline.check("preparing OCR")?;
        let image_notes: Mutex<Vec<Warning>> = Mutex::new(Vec::new());
        let too_large: Mutex<Option<u64>> = Mutex::new(None);
        let (max_pixels, default_dpi) = (config.limits.max_image_pixels, config.ocr.default_dpi);
        // An image of a text page read turned is not kept (`image_text_adds`): it is read once.
        let turnable = |j: usize| !jobs[j].on_text_page;
        let results = intake.ocr.recognize_pages_turnable(jobs.len(), deadline, turnable, |j| {
            let Job { page: i, selection, .. } = &jobs[j];
            let plan = &plans[*i];
            let mut notes = Vec::new();
            let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                render::render(&doc, plan, selection, max_pixels, default_dpi, &mut notes)
            }));
            if !notes.is_empty()
                && let Ok(mut w) = image_notes.lock()
            {
                w.extend(
                    notes.into_iter().map(|n| Warning::new("page_image_degraded", Some(plan.number), n)),
                );
            }
            match rendered {
                Ok(Ok(image)) => Ok(image),
                Ok(Err(e @ ImageError::TooLarge { width, height, .. })) => {
                    if let Ok(mut t) = too_large.lock() {
                        t.get_or_insert(width.saturating_mul(height));
                    }
                    Err(OcrError::Image(e.to_string()))
                }
                Ok(Err(e)) => Err(OcrError::Image(e.to_string())),
                Err(_) => Err(OcrError::Image("decoding the page's images failed unexpectedly".into())),
            }
        });
        too_large_image = too_large.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut notes = image_notes.into_inner().unwrap_or_else(|e| e.into_inner());
        notes.sort_by_key(|w| w.page);
        warnings.extend(notes);
        let mut timed_out = Vec::new();
        let mut images_timed_out = Vec::new();
        let mut image_texts: Vec<(usize, Rect, OcrPage)> = Vec::new();
        for (job, result) in jobs.iter().zip(results) {
            let i = &job.page;
            let page = &mut pages[*i];
            if job.on_text_page {
                // Text in an image beside a text layer: kept when it reads as text and adds to
                // the layer; an image that cannot be read is no loss (the page has its text).
                match result {
                    Ok(ocr) if image_text_adds(&ocr, &page.text) => {
                        image_texts.push((*i, job.selection.region, ocr));
                    }
                    Ok(_) | Err(OcrError::Image(_)) => {}
                    Err(OcrError::Engine(why)) => {
                        return Err(IntakeError::Internal(format!("OCR engine: {why}")));
                    }
                    Err(OcrError::TimedOut) => {
                        if images_timed_out.last() != Some(&page.number) {
                            images_timed_out.push(page.number);
                        }
                    }
                }
                continue;
            }
            match result {
                Ok(ocr) => {
                    let (quality, verdict) = verdicts[*i];
                    let ocr_alnum = ocr.text.chars().filter(|c| c.is_alphanumeric()).count();
                    // OCR replaces a short text layer only when it reads more.
                    if verdict == TextVerdict::Garbled || ocr_alnum >= quality.alnum {
                        *page = Page {
                            number: page.number,
                            method: PageMethod::Ocr,
                            text: ocr.text,
                            layout: None,
                            ocr: Some(ocr.info),
                            words: ocr.words,
                        };
                    }
                }
                Err(OcrError::Engine(why)) => {
                    return Err(IntakeError::Internal(format!("OCR engine: {why}")));
                }
                Err(OcrError::TimedOut) => timed_out.push(page.number),
                Err(OcrError::Image(why)) => warnings.push(Warning::new(
                    "page_image_unreadable",
                    Some(page.number),
                    format!("the page's image could not be read for OCR: {why}"),
                )),
            }
        }
        for (i, region, ocr) in image_texts {
            append_image_text(&mut pages[i], &plans[i].bbox, &region, ocr);
        }
        if !images_timed_out.is_empty() {
            let list: Vec<String> = images_timed_out.iter().map(u32::to_string).collect();
            warnings.push(Warning::new(
                "ocr_timed_out",
                None,
                format!(
                    "the time budget ran out before OCR of the images on page(s) {}; their text layer was read",
                    list.join(", ")
                ),
            ));
        }
        if !timed_out.is_empty() {
            if pages.iter().all(|p| p.text.trim().is_empty()) {
                return Err(IntakeError::TimedOut {
                    stage: "reading the pages by OCR",
                    seconds: deadline.budget_secs(),
                });
            }
            let list: Vec<String> = timed_out.iter().map(u32::to_string).collect();
            warnings.push(Warning::new(
                "ocr_timed_out",
                None,
                format!("the time budget ran out before OCR of page(s) {}", list.join(", ")),
            ));
        }
    }

    // Nothing read at all: say why when something explains it, rather than "empty".
    let nothing_read = embedded.is_empty() && pages.iter().all(|p| p.text.trim().is_empty());
    if nothing_read && let Some(actual) = too_large_image {
        let limit = config.limits.max_image_pixels;
        return Err(IntakeError::TooLarge { what: "a page image's pixel count", actual, limit });
    }
    if nothing_read && text_failure.is_none() && warnings.iter().any(|w| w.code == structure::REPAIRED) {
        return Err(IntakeError::Corrupt(
            "the file is damaged (no readable cross-reference table) and nothing could be read from what remains"
                .into(),
        ));
    }
    // Nothing read at all because the text layer failed: say so rather than "empty".
    if let Some(e) = text_failure
        && embedded.is_empty()
        && pages.iter().all(|p| p.text.trim().is_empty())
    {
        return Err(match e {
            SandboxError::TimedOut(d) => {
                IntakeError::TimedOut { stage: "extracting the text layer", seconds: d.as_secs() }
            }
            e => IntakeError::Corrupt(e.to_string()),
        });
    }
    Ok(PdfRead { info, pages, embedded, warnings })
}

/// One image OCR reads: a page without usable text, or an image on a page with a text layer.
struct Job<'a> {
    page: usize,
    selection: render::Selection<'a>,
    on_text_page: bool,
}

/// The images of the pages with a usable text layer (`usable`) that OCR should read: each image
/// object once (a letterhead repeated on every page is read on the first), and at most
/// `MAX_TEXT_PAGE_IMAGES` per document, the first pages first.
fn text_page_jobs(plans: &[PagePlan], usable: impl Fn(usize) -> bool) -> Vec<Job<'_>> {
    let mut seen = HashSet::new();
    let mut jobs = Vec::new();
    for (i, plan) in plans.iter().enumerate().filter(|(i, _)| usable(*i)) {
        for selection in render::select_on_text_page(plan) {
            let repeated = selection
                .placements
                .iter()
                .any(|p| matches!(p.image, structure::ImageRef::XObject(id) if !seen.insert(id)));
            if !repeated && jobs.len() < MAX_TEXT_PAGE_IMAGES {
                jobs.push(Job { page: i, selection, on_text_page: true });
            }
        }
    }
    jobs
}

/// Most images of text-layer pages read by OCR in one document.
const MAX_TEXT_PAGE_IMAGES: usize = 24;
/// Words OCR must be this sure of to count as read.
const IMAGE_WORD_CONFIDENCE: f32 = 60.0;
/// An image on a text page is taken as text when OCR read at least this many words surely…
const IMAGE_MIN_WORDS: usize = 3;
/// …and when less than this share of them is already in the text layer (otherwise the image
/// repeats the page's text: a scan under its own text layer).
const IMAGE_MAX_REPEATED: f64 = 0.5;
/// The resolution of the page image the boxes of text read in images refer to.
const IMAGE_TEXT_DPI: u32 = 300;

/// Does the OCR of an image on a text page read as text that the text layer lacks?
fn image_text_adds(ocr: &OcrPage, text_layer: &str) -> bool {
    if ocr.rotation != 0 || ocr.info.confidence < IMAGE_WORD_CONFIDENCE {
        return false;
    }
    let sure: Vec<String> = ocr
        .words
        .iter()
        .filter(|w| w.confidence >= IMAGE_WORD_CONFIDENCE)
        .map(|w| squash(&w.text))
        .filter(|w| w.chars().count() >= 2)
        .collect();
    if sure.len() < IMAGE_MIN_WORDS {
        return false;
    }
    let layer = squash(text_layer);
    let repeated = sure.iter().filter(|w| layer.contains(w.as_str())).count();
    (repeated as f64) < IMAGE_MAX_REPEATED * sure.len() as f64
}

/// Append the text OCR read in an image to its page, after the text layer (and its layout) and a
/// blank line. The words keep their spans, shifted to the page text, and their boxes, moved into
/// the page's image at `IMAGE_TEXT_DPI`.
fn append_image_text(page: &mut Page, page_box: &Rect, region: &Rect, ocr: OcrPage) {
    fn separate(text: &mut String) {
        while !text.is_empty() && !text.ends_with("\n\n") {
            text.push('\n');
        }
    }
    separate(&mut page.text);
    let offset = page.text.len();
    page.text.push_str(&ocr.text);
    if let Some(layout) = &mut page.layout {
        separate(layout);
        layout.push_str(&ocr.text);
    }
    let to_page = f64::from(IMAGE_TEXT_DPI) / 72.0;
    let to_image = f64::from(IMAGE_TEXT_DPI) / f64::from(ocr.info.dpi.max(1));
    let (dx, dy) = ((region[0] - page_box[0]) * to_page, (page_box[3] - region[3]) * to_page);
    let px = |v: f64| v.round().max(0.0) as u32;
    page.words.extend(ocr.words.into_iter().map(|mut w| {
        w.span = Span { start: w.span.start + offset, end: w.span.end + offset };
        w.bbox = BBox {
            x: px(dx + f64::from(w.bbox.x) * to_image),
            y: px(dy + f64::from(w.bbox.y) * to_image),
            w: px(f64::from(w.bbox.w) * to_image),
            h: px(f64::from(w.bbox.h) * to_image),
        };
        w
    }));
    let confidence = page.words.iter().map(|w| w.confidence).sum::<f32>() / page.words.len().max(1) as f32;
    page.ocr = Some(OcrInfo {
        confidence,
        image_width: px((page_box[2] - page_box[0]) * to_page),
        image_height: px((page_box[3] - page_box[1]) * to_page),
        dpi: IMAGE_TEXT_DPI,
        ..ocr.info
    });
}

/// What a PDF's structure alone tells: its facts and embedded files (an e-invoice's XML), without
/// reading its text or its images.
pub struct PdfStructure {
    pub info: PdfInfo,
    pub embedded: Vec<Embedded>,
    pub warnings: Vec<Warning>,
}

/// Read only the structure of a PDF: fast, no text extraction, no OCR.
pub fn inspect(config: &Config, bytes: &[u8], deadline: Deadline) -> Result<PdfStructure, IntakeError> {
    deadline.check("opening the PDF")?;
    let loaded = parse(bytes, &config.limits, &deadline)?;
    Ok(PdfStructure { info: loaded.info, embedded: loaded.embedded, warnings: loaded.warnings })
}

/// The image OCR would read for page `page` (1-based) of a PDF, or `None` when the page has no
/// image worth reading. For tests and diagnosis; `read` makes the same image.
pub fn page_image(config: &Config, bytes: &[u8], page: u32) -> Result<Option<PageImage>, IntakeError> {
    let deadline = Deadline::after(Duration::from_secs(config.limits.document_timeout_secs));
    let loaded = parse(bytes, &config.limits, &deadline)?;
    let Some(plan) = loaded.pages.iter().find(|p| p.number == page) else { return Ok(None) };
    let mut warnings = Vec::new();
    let Some(selection) = render::select(plan, &mut warnings) else { return Ok(None) };
    let mut notes = Vec::new();
    render::render(
        &loaded.doc,
        plan,
        &selection,
        config.limits.max_image_pixels,
        config.ocr.default_dpi,
        &mut notes,
    )
    .map(Some)
    .map_err(|e| IntakeError::Corrupt(format!("page {page}: {e}")))
}

/// Run the lopdf parse on its own thread: a large stack for deeply nested objects, panics turned
/// into `Corrupt`, and the document's deadline (a parse that overruns it is abandoned).
fn parse(bytes: &[u8], limits: &Limits, deadline: &Deadline) -> Result<Loaded, IntakeError> {
    let data: Arc<Vec<u8>> = Arc::new(bytes.to_vec());
    let limits = limits.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("pdf-parse".into())
        .stack_size(PARSE_STACK)
        .spawn(move || {
            let r = std::panic::catch_unwind(|| structure::load(&data, &limits));
            let _ = tx.send(r);
        })
        .map_err(|e| IntakeError::Internal(format!("cannot start the PDF parser thread: {e}")))?;
    match rx.recv_timeout(deadline.remaining()) {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err(IntakeError::Corrupt("the PDF parser failed on this file".into())),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(IntakeError::TimedOut { stage: "parsing the PDF", seconds: deadline.budget_secs() })
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(IntakeError::Corrupt("the PDF parser stopped on this file".into()))
        }
    }
}

/// Pair pdf-extract's pages with ours by page object id (both libraries read the same objects);
/// by position when no id matches and the counts agree.
/// Each page's stream text with its reading-order layout when there is one.
fn align_texts(
    plans: &[PagePlan],
    list: Vec<PageText>,
    warnings: &mut Vec<Warning>,
) -> Vec<Option<(String, Option<String>)>> {
    let n = plans.len();
    let seen = list.len();
    let mut by_id: HashMap<(u32, u16), VecDeque<usize>> = HashMap::new();
    for (j, t) in list.iter().enumerate() {
        by_id.entry(t.id).or_default().push_back(j);
    }
    let mut assigned: Vec<Option<usize>> =
        plans.iter().map(|p| by_id.get_mut(&p.id).and_then(VecDeque::pop_front)).collect();
    let mut matched = assigned.iter().filter(|a| a.is_some()).count();
    if matched == 0 && seen == n {
        assigned = (0..n).map(Some).collect();
        matched = n;
    }
    let mut list: Vec<Option<PageText>> = list.into_iter().map(Some).collect();
    let mut out = vec![None; n];
    let mut failed = 0usize;
    for (i, a) in assigned.iter().enumerate() {
        let Some(t) = a.and_then(|j| list.get_mut(j)).and_then(Option::take) else { continue };
        match t.text {
            Some(s) => out[i] = Some((s, t.layout)),
            None => {
                failed += 1;
                if failed <= MAX_PAGE_WARNINGS {
                    warnings.push(Warning::new(
                        "text_layer_page_failed",
                        Some(plans[i].number),
                        format!(
                            "the text layer of this page could not be extracted: {}",
                            t.error.unwrap_or_else(|| "no reason given".into())
                        ),
                    ));
                }
            }
        }
    }
    if failed > MAX_PAGE_WARNINGS {
        warnings.push(Warning::new(
            "text_layer_page_failed",
            None,
            format!("the text layer of {} more pages could not be extracted", failed - MAX_PAGE_WARNINGS),
        ));
    }
    if matched < n || seen != n {
        warnings.push(Warning::new(
            "text_layer_page_mismatch",
            None,
            format!(
                "pdf-extract saw {seen} pages where the document has {n}; {} page(s) got no text layer",
                n - matched
            ),
        ));
    }
    out
}

/// How much of a text layer is readable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextQuality {
    /// Letters and digits.
    pub alnum: usize,
    /// Characters other than white space.
    pub visible: usize,
    /// Characters that are no text: replacement characters, private-use code points, control
    /// characters, non-characters — what fonts without a usable ToUnicode map give.
    pub bad: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextVerdict {
    Usable,
    /// Fewer letters and digits than `ocr.min_text_chars`.
    Short,
    /// Mostly characters that are no text.
    Garbled,
}

fn is_bad_char(c: char) -> bool {
    let u = c as u32;
    c == '\u{FFFD}'
        || (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{0c}'))
        || (0xE000..=0xF8FF).contains(&u)
        || (0xF0000..=0x10FFFF).contains(&u)
        || (0xFDD0..=0xFDEF).contains(&u)
        || (u & 0xFFFE) == 0xFFFE
}

/// Judge a page's raw text layer. Garbled: at least 4 visible characters of which a fifth or more
/// are no text, or (from 20 visible characters) fewer than a quarter letters or digits — real
/// text, even a table of figures, is mostly letters and digits.
pub fn assess_text(raw: &str, min_chars: usize) -> (TextQuality, TextVerdict) {
    let mut q = TextQuality::default();
    for c in raw.chars() {
        if c.is_whitespace() {
            continue;
        }
        q.visible += 1;
        if is_bad_char(c) {
            q.bad += 1;
        } else if c.is_alphanumeric() {
            q.alnum += 1;
        }
    }
    let verdict = if q.visible >= 4 && q.bad * 5 >= q.visible || q.visible >= 20 && q.alnum * 4 < q.visible {
        TextVerdict::Garbled
    } else if q.alnum < min_chars {
        TextVerdict::Short
    } else {
        TextVerdict::Usable
    };
    (q, verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Word;

    /// What OCR read in an image: `lines` of (word, confidence), at `dpi`.
    fn ocr_page(lines: &[&[(&str, f32)]], dpi: u32) -> OcrPage {
        let mut text = String::new();
        let mut words = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            if n > 0 {
                text.push('\n');
            }
            for (k, (w, confidence)) in line.iter().enumerate() {
                if k > 0 {
                    text.push(' ');
                }
                let start = text.len();
                text.push_str(w);
                words.push(Word {
                    text: w.to_string(),
                    span: Span { start, end: text.len() },
                    bbox: BBox { x: 10 * k as u32, y: 20 * n as u32, w: 8, h: 10 },
                    confidence: *confidence,
                    block: 1,
                    line: n as u32 + 1,
                });
            }
        }
        let confidence = words.iter().map(|w| w.confidence).sum::<f32>() / words.len().max(1) as f32;
        let info = OcrInfo {
            engine: "tesseract".into(),
            languages: "fra+eng".into(),
            confidence,
            image_width: 100,
            image_height: 40,
            dpi,
        };
        OcrPage { text, words, info, rotation: 0 }
    }

    #[test]
    fn images_of_text_pages_are_read_once_and_within_a_budget() {
        use structure::{ImageRef, Placement};
        let band = |id: u32| Placement {
            image: ImageRef::XObject((id, 0)),
            ctm: [400.0, 0.0, 0.0, 60.0, 100.0, 700.0],
            fill_gray: 0,
            width: 1600,
            height: 240,
            codec: None,
        };
        let page = |number: u32, ids: &[u32]| PagePlan {
            placements: ids.iter().map(|&id| band(id)).collect(),
            bbox: [0.0, 0.0, 612.0, 792.0],
            ..plan(number, (number, 0))
        };
        // A letterhead (object 7) on every page, another image on page 2; page 3 is not usable.
        let plans = vec![page(1, &[7]), page(2, &[7, 8]), page(3, &[9]), page(4, &[7])];
        let jobs = text_page_jobs(&plans, |i| i != 2);
        let read: Vec<usize> = jobs.iter().map(|j| j.page).collect();
        assert_eq!(read, [0, 1]);
        assert!(jobs.iter().all(|j| j.on_text_page));
        // A long document with another image on each page: the first pages' only.
        let plans: Vec<PagePlan> = (1..=40).map(|n| page(n, &[100 + n])).collect();
        let jobs = text_page_jobs(&plans, |_| true);
        assert_eq!(jobs.len(), MAX_TEXT_PAGE_IMAGES);
        assert_eq!(jobs.last().map(|j| j.page), Some(MAX_TEXT_PAGE_IMAGES - 1));
    }

    #[test]
    fn image_text_is_kept_when_it_reads_well_and_adds_to_the_layer() {
        let footer = ocr_page(&[&[("e-Luscious", 91.0), ("Nederland", 93.0), ("B.V.", 90.0)]], 150);
        assert!(image_text_adds(&footer, "Factuur VF1005193039"));
        // Already in the text layer (a scan under its own text).
        assert!(!image_text_adds(&footer, "E-LUSCIOUS NEDERLAND B.V. Factuur"));
        // A logo: too few sure words; noise: read unsurely.
        assert!(!image_text_adds(&ocr_page(&[&[("Saeco", 95.0), ("@", 90.0)]], 150), ""));
        assert!(!image_text_adds(
            &ocr_page(&[&[("ii", 30.0), ("=~", 20.0), ("tl", 40.0), ("Ss", 35.0)]], 150),
            ""
        ));
        // Read turned: its boxes are not the page's.
        let mut turned = footer;
        turned.rotation = 180;
        assert!(!image_text_adds(&turned, ""));
    }

    #[test]
    fn image_text_follows_the_text_layer_with_its_boxes_on_the_page() {
        let mut page = Page {
            number: 1,
            method: PageMethod::TextLayer,
            text: "Facture 42".into(),
            layout: Some("Facture   42".into()),
            ocr: None,
            words: Vec::new(),
        };
        // An image at 150 dpi whose top-left corner is 72 points right of and 144 below the
        // page's: at 300 dpi, 300 and 600 pixels.
        let ocr = ocr_page(&[&[("ACME", 90.0), ("SAS", 80.0)], &[("Lyon", 70.0)]], 150);
        append_image_text(&mut page, &[0.0, 0.0, 612.0, 792.0], &[72.0, 500.0, 300.0, 648.0], ocr);
        assert_eq!(page.text, "Facture 42\n\nACME SAS\nLyon");
        assert_eq!(page.layout.as_deref(), Some("Facture   42\n\nACME SAS\nLyon"));
        assert_eq!(page.method, PageMethod::TextLayer);
        for w in &page.words {
            assert_eq!(&page.text[w.span.start..w.span.end], w.text);
        }
        assert_eq!(page.words[1].bbox, BBox { x: 320, y: 600, w: 16, h: 20 });
        assert_eq!(page.words[2].bbox, BBox { x: 300, y: 640, w: 16, h: 20 });
        let info = page.ocr.as_ref().unwrap();
        assert_eq!((info.image_width, info.image_height, info.dpi), (2550, 3300, 300));
        assert_eq!(info.confidence, 80.0);
        // A second image's text follows the first's.
        append_image_text(
            &mut page,
            &[0.0, 0.0, 612.0, 792.0],
            &[0.0, 0.0, 612.0, 72.0],
            ocr_page(&[&[("IBAN", 90.0)]], 300),
        );
        assert!(page.text.ends_with("Lyon\n\nIBAN"));
        let last = page.words.last().unwrap();
        assert_eq!(&page.text[last.span.start..last.span.end], "IBAN");
        assert_eq!((last.bbox.x, last.bbox.y), (0, 3000));
    }

    fn plan(number: u32, id: (u32, u16)) -> PagePlan {
        PagePlan {
            number,
            id,
            rotate: 0,
            bbox: [0.0, 0.0, 1.0, 1.0],
            has_text: true,
            placements: vec![],
            skipped_inline: 0,
        }
    }

    fn text(id: (u32, u16), t: Option<&str>) -> PageText {
        PageText {
            id,
            text: t.map(str::to_string),
            error: t.is_none().then(|| "panic: boom".to_string()),
            layout: t.map(|t| format!("laid {t}")),
        }
    }

    /// A page's stream text and its layout, as `text` makes them.
    fn both(t: &str) -> Option<(String, Option<String>)> {
        Some((t.to_string(), Some(format!("laid {t}"))))
    }

    #[test]
    fn texts_pair_by_page_id() {
        let plans = vec![plan(1, (4, 0)), plan(2, (7, 0)), plan(3, (9, 0))];
        // pdf-extract saw the pages in another order, missed one and failed on one.
        let mut w = Vec::new();
        let got = align_texts(&plans, vec![text((9, 0), Some("three")), text((4, 0), None)], &mut w);
        assert_eq!(got, vec![None, None, both("three")]);
        let codes: Vec<(&str, Option<u32>)> = w.iter().map(|w| (w.code.as_str(), w.page)).collect();
        assert_eq!(codes, [("text_layer_page_failed", Some(1)), ("text_layer_page_mismatch", None)]);
        // No id in common but the same count: by position.
        let mut w = Vec::new();
        let got = align_texts(
            &plans,
            vec![text((1, 0), Some("a")), text((2, 0), Some("b")), text((3, 0), Some("c"))],
            &mut w,
        );
        assert_eq!(got, vec![both("a"), both("b"), both("c")]);
        assert!(w.is_empty());
        // A page object listed twice in the page tree gets its text twice.
        let plans = vec![plan(1, (4, 0)), plan(2, (4, 0))];
        let mut w = Vec::new();
        let got = align_texts(&plans, vec![text((4, 0), Some("x")), text((4, 0), Some("x"))], &mut w);
        assert_eq!(got, vec![both("x"), both("x")]);
    }

    #[test]
    fn text_verdicts() {
        let v = |s: &str| assess_text(s, 16).1;
        assert_eq!(v("Facture n° 2024-001\nTotal TTC : 1 234,56 €"), TextVerdict::Usable);
        assert_eq!(v("Page 2"), TextVerdict::Short);
        assert_eq!(v(""), TextVerdict::Short);
        assert_eq!(v("   \n\n  "), TextVerdict::Short);
        // A font without ToUnicode: private-use or replacement characters.
        assert_eq!(v("\u{E001}\u{E002}\u{E003}\u{E004} \u{E005}\u{E006} Total"), TextVerdict::Garbled);
        assert_eq!(
            v("\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}abcdefghijklmnopqrstu"),
            TextVerdict::Garbled
        );
        // Glyph ids read as bytes: control characters.
        assert_eq!(v("\u{3}\u{11}\u{12}\u{5}\u{7}\u{13} \u{14}\u{16}"), TextVerdict::Garbled);
        // Punctuation soup.
        assert_eq!(v("$%&'()*+,-./:;<=>?@[]^_`{|}~!#$%&'()*+,-"), TextVerdict::Garbled);
        // A table of figures is still text.
        assert_eq!(v("1 234,56 | 12,00 | 20 % | 246,91\n-----------------\n1 481,47"), TextVerdict::Usable);
        // A little noise in real text is fine.
        assert_eq!(
            v("Facture \u{FFFD} numéro 2024-001 du 12 mars 2024, total 1 234,56 €"),
            TextVerdict::Usable
        );
    }
}
