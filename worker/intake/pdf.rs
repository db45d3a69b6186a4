//! PDF intake: structure with lopdf, text layer with pdf-extract (in the sandbox), OCR of the
//! pages without usable text from their image XObjects.
//! STUB — to be written.

use super::{Deadline, Embedded, Intake, IntakeError};
use crate::document::{Page, PdfInfo, Warning};

pub struct PdfRead {
    pub info: PdfInfo,
    pub pages: Vec<Page>,
    pub embedded: Vec<Embedded>,
    pub warnings: Vec<Warning>,
}

pub fn read(_intake: &Intake, _bytes: &[u8], _deadline: Deadline) -> Result<PdfRead, IntakeError> {
    Err(IntakeError::Unsupported("PDF reading is not written yet".into()))
}
