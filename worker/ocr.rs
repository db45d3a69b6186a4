//! OCR with libtesseract. STUB — to be written (the public API below is the contract).

use crate::config::OcrConfig;
use crate::document::{OcrInfo, Word};
use crate::intake::Deadline;

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// The engine could not start or failed (missing language data…): not the document's fault.
    #[error("OCR engine: {0}")]
    Engine(String),
    /// The page image could not be decoded or is unusable.
    #[error("page image: {0}")]
    Image(String),
    /// The document's time budget ran out before this page was read.
    #[error("OCR timed out")]
    TimedOut,
}

/// A page image ready for OCR: 8-bit grey, and its resolution.
pub struct PageImage {
    pub image: image::GrayImage,
    pub dpi: u32,
}

/// What OCR read on one page: the text (words joined by spaces, lines by `\n`, blocks by a blank
/// line), every word with its span in that text, box and confidence.
pub struct OcrPage {
    pub text: String,
    pub words: Vec<Word>,
    pub info: OcrInfo,
}

/// The OCR engine: a pool of threads, each holding its own initialised Tesseract.
pub struct Ocr {
    pub config: OcrConfig,
}

impl Ocr {
    pub fn new(config: &OcrConfig) -> Result<Ocr, OcrError> {
        Ok(Ocr { config: config.clone() })
    }

    /// "tesseract 5.3.0" and the like.
    pub fn engine_version(&self) -> String {
        "tesseract".into()
    }

    /// One image.
    pub fn recognize(&self, _image: &PageImage) -> Result<OcrPage, OcrError> {
        Err(OcrError::Engine("not written yet".into()))
    }

    /// `count` pages in parallel on the pool. `load(i)` makes page i's image and is called on the
    /// OCR thread, so that no more images than threads are held in memory at once. Results are in
    /// page order.
    pub fn recognize_pages<F>(
        &self,
        count: usize,
        _deadline: Deadline,
        _load: F,
    ) -> Vec<Result<OcrPage, OcrError>>
    where
        F: Fn(usize) -> Result<PageImage, OcrError> + Sync,
    {
        (0..count).map(|_| Err(OcrError::Engine("not written yet".into()))).collect()
    }
}
