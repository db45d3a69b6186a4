//! E-invoices: CII (Factur-X, ZUGFeRD 1 and 2, XRechnung CII) and UBL XML. STUB — to be written.

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum EInvoiceError {
    #[error("not an e-invoice")]
    NotAnInvoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Syntax {
    CiiZugferd1,
    Cii,
    Ubl,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EInvoice {
    /// Name of the PDF attachment it was read from, when embedded.
    pub attachment: Option<String>,
}

pub fn sniff_root(_xml: &[u8]) -> Option<Syntax> {
    None
}

pub fn parse(_xml: &[u8]) -> Result<EInvoice, EInvoiceError> {
    Err(EInvoiceError::NotAnInvoice)
}
