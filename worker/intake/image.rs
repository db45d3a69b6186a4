//! Image files (PNG, JPEG, TIFF with all its pages): decoded, then read by OCR.
//! STUB — to be written.

use super::{Deadline, Intake, IntakeError};
use crate::document::{Format, Page, Warning};

pub struct ImageRead {
    pub pages: Vec<Page>,
    pub warnings: Vec<Warning>,
}

pub fn read(
    _intake: &Intake,
    _bytes: &[u8],
    _format: Format,
    _deadline: Deadline,
) -> Result<ImageRead, IntakeError> {
    Err(IntakeError::Unsupported("image reading is not written yet".into()))
}
