//! E-invoices: the structured XML of Factur-X / ZUGFeRD / XRechnung PDFs, and bare CII and UBL
//! files, read into one model.
//!
//! Syntaxes read:
//! - UN/CEFACT CII D16B (`rsm:CrossIndustryInvoice`): Factur-X 1.0, ZUGFeRD 2.x, XRechnung CII;
//! - ZUGFeRD 1.0 (`rsm:CrossIndustryDocument`, namespace `urn:ferd:CrossIndustryDocument:invoice:1p0`);
//! - the ZUGFeRD 1.0 release-candidate draft (`rsm:Invoice` in `urn:un:unece:uncefact:data:standard:CBFBUY:5`,
//!   children in no namespace), which early ZUGFeRD producers embedded;
//! - OASIS UBL 2.1 `Invoice` and `CreditNote` (XRechnung UBL, Peppol BIS Billing 3).
//!
//! Elements are matched by namespace URI and local name, never by prefix. Every value carries its
//! [`Evidenced::path`] (canonical prefixes: `rsm`, `ram`, `udt`, `qdt` for CII, `ubl`, `cn`,
//! `cac`, `cbc` for UBL; see [`xml`] for the path rules) and the line of its element.
//!
//! This is a faithful reading, not a validation: no EN 16931 business rule is checked. A value
//! that cannot be read (a malformed amount or date) is left out and noted in
//! [`EInvoice::problems`]; only a document that is not an invoice at all (not XML, not one of the
//! syntaxes, no invoice number) is an error.

mod cii;
mod ubl;
pub mod xml;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EInvoiceError {
    /// The root element is not a CII or UBL invoice or credit note (or there is no root).
    #[error("not an e-invoice: {0}")]
    NotAnInvoice(String),
    #[error("the e-invoice is too large: more {what} than the limit of {limit}")]
    TooLarge { what: &'static str, limit: u64 },
    #[error("the e-invoice XML has an unreadable encoding: {0}")]
    Encoding(String),
    /// The XML has a DOCTYPE: refused, so that no entity is ever expanded.
    #[error("the e-invoice XML has a DTD, which is not allowed")]
    Dtd,
    #[error("the e-invoice XML is not well-formed: {0}")]
    Malformed(String),
    #[error("the e-invoice has no invoice number ({0})")]
    MissingNumber(String),
}

/// Which XML syntax an e-invoice is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Syntax {
    /// ZUGFeRD 1.0: `rsm:CrossIndustryDocument`.
    CiiZugferd1,
    /// The ZUGFeRD 1.0 release candidate: `rsm:Invoice` of `…:CBFBUY:5`.
    CiiZugferd1Rc,
    /// UN/CEFACT CII D16B: `rsm:CrossIndustryInvoice` (Factur-X, ZUGFeRD 2, XRechnung CII).
    Cii,
    /// OASIS UBL 2.1 Invoice or CreditNote.
    Ubl,
}

/// A value and where it was read: the XML path of its element and the line of its start tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidenced<T> {
    pub value: T,
    pub path: String,
    pub line: u32,
}

/// An identifier and its scheme (the `schemeID` attribute: an ISO 6523 ICD code such as `0002`
/// SIRENE, `0009` SIRET, `0088` GLN, `0060` DUNS, or `VA`/`FC`, `EM`, `SEPA`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
}

/// A quantity and its UN/ECE Rec 20 unit code (`unitCode`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantity {
    pub value: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A value that could not be read, or was read with a caveat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub path: String,
    pub line: u32,
    pub message: String,
}

/// Invoice or credit note, from the type code (UNTDID 1001) and, in UBL, the root element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Invoice,
    CreditNote,
}

/// The profile family, derived from the guideline id (BT-24).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileKind {
    Minimum,
    BasicWl,
    Basic,
    /// ZUGFeRD 1 COMFORT (the predecessor of EN 16931).
    Comfort,
    En16931,
    Extended,
    XRechnung,
    Peppol,
    Other,
}

type Text = Option<Evidenced<String>>;
type Amount = Option<Evidenced<Decimal>>;
type Date = Option<Evidenced<NaiveDate>>;

/// The parsed e-invoice. Field comments give the EN 16931 business term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EInvoice {
    pub syntax: Syntax,
    /// Name of the PDF attachment it was read from, when embedded.
    pub attachment: Option<String>,
    /// Specification identifier / guideline (BT-24), e.g. `urn:cen.eu:en16931:2017`.
    pub profile: Text,
    /// Business process (BT-23).
    pub business_process: Text,
    /// Invoice number (BT-1).
    pub number: Evidenced<String>,
    /// Document type code, UNTDID 1001 (BT-3): 380 invoice, 381 credit note, 384 corrected, 389
    /// self-billed, 386 prepayment...
    pub type_code: Text,
    /// Derived from `type_code` and the UBL root.
    pub kind: DocumentKind,
    /// Issue date (BT-2).
    pub issue_date: Date,
    /// Payment due date (BT-9).
    pub due_date: Date,
    /// VAT point date (BT-7).
    pub tax_point_date: Date,
    /// Actual delivery date (BT-72).
    pub delivery_date: Date,
    /// Invoicing period start and end (BT-73, BT-74).
    pub period_start: Date,
    pub period_end: Date,
    /// Invoice currency (BT-5) and VAT accounting currency (BT-6).
    pub currency: Text,
    pub tax_currency: Text,
    /// Buyer reference (BT-10), e.g. the Leitweg-ID of XRechnung.
    pub buyer_reference: Text,
    /// Purchase order reference (BT-13) and sales order reference (BT-14).
    pub order_reference: Text,
    pub sales_order_reference: Text,
    /// Contract (BT-12), project (BT-11), despatch advice (BT-16), receiving advice (BT-15).
    pub contract_reference: Text,
    pub project_reference: Text,
    pub despatch_advice_reference: Text,
    pub receiving_advice_reference: Text,
    /// Buyer accounting reference (BT-19).
    pub accounting_reference: Text,
    /// Preceding invoices (BG-3), for credit notes and corrections.
    pub preceding_invoices: Vec<DocumentReference>,
    pub seller: Option<Party>,
    pub buyer: Option<Party>,
    /// Payee (BG-10), when not the seller.
    pub payee: Option<Party>,
    /// Seller's tax representative (BG-11).
    pub tax_representative: Option<Party>,
    /// Deliver-to party and address (BG-13, BG-15).
    pub ship_to: Option<Party>,
    pub payment_means: Vec<PaymentMeans>,
    /// Remittance information (BT-83).
    pub payment_reference: Text,
    /// Bank assigned creditor identifier (BT-90) and direct debit mandate (BT-89).
    pub creditor_reference: Text,
    pub direct_debit_mandate: Text,
    /// Payment terms (BT-20).
    pub payment_terms: Vec<Evidenced<String>>,
    pub totals: Totals,
    /// VAT breakdown (BG-23).
    pub vat_breakdown: Vec<VatBreakdown>,
    /// Document-level allowances (BG-20) and charges (BG-21).
    pub allowances_charges: Vec<AllowanceCharge>,
    /// Invoice lines (BG-25).
    pub lines: Vec<Line>,
    /// Invoice notes (BG-1), with their subject code (UNTDID 4451: AAI, REG, ABL, PMT, PMD...).
    pub notes: Vec<Note>,
    /// Values that could not be read (left out) or were read with a caveat.
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentReference {
    pub id: Evidenced<String>,
    pub issue_date: Date,
}

/// A party: seller (BG-4), buyer (BG-7), payee, tax representative or deliver-to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Party {
    /// Legal / registration name (BT-27, BT-44, BT-59...).
    pub name: Text,
    /// Trading name (BT-28, BT-45).
    pub trading_name: Text,
    /// Party identifiers (BT-29, BT-46, BT-60, BT-71): seller-assigned ids without a scheme,
    /// global ids with their scheme.
    pub ids: Vec<Evidenced<Identifier>>,
    /// Legal registration identifier (BT-30, BT-47, BT-61), with its scheme (0002 SIREN...).
    pub legal_id: Option<Evidenced<Identifier>>,
    /// VAT identifiers (BT-31, BT-48, BT-63): CII scheme `VA`, UBL tax scheme `VAT`.
    pub vat_ids: Vec<Evidenced<String>>,
    /// Other tax registrations (BT-32): CII scheme `FC` (and any scheme other than `VA`), UBL
    /// tax schemes other than `VAT`.
    pub tax_numbers: Vec<Evidenced<String>>,
    /// Additional legal information (BT-33), e.g. share capital.
    pub legal_info: Text,
    /// Electronic address (BT-34, BT-49) with its scheme (EAS code).
    pub electronic_address: Option<Evidenced<Identifier>>,
    pub address: Option<Address>,
    pub contact: Option<Contact>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    /// Address lines, in order (BT-35, BT-36, BT-162).
    pub lines: Vec<Evidenced<String>>,
    pub city: Text,
    pub postcode: Text,
    /// Country subdivision (BT-39).
    pub subdivision: Text,
    /// ISO 3166-1 alpha-2 country code (BT-40).
    pub country: Text,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub name: Text,
    pub department: Text,
    pub phone: Text,
    pub email: Text,
}

/// Payment instructions (BG-16): one means of payment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentMeans {
    /// UNTDID 4461 code (BT-81): 30 credit transfer, 58 SEPA credit transfer, 59 SEPA direct
    /// debit, 48 card, 49 direct debit...
    pub type_code: Text,
    /// Text (BT-82).
    pub information: Text,
    /// Payee account (BT-84) as written (IBAN or other account id); see [`Self::iban`].
    pub account: Text,
    /// Payee account name (BT-85).
    pub account_name: Text,
    /// Payee bank BIC (BT-86).
    pub bic: Text,
    /// Debited account (BT-91), for direct debit.
    pub debited_account: Text,
    /// Payment card primary account number, usually masked (BT-87).
    pub card_number: Text,
    /// UBL payment id (BT-83) of this means.
    pub payment_id: Text,
}

/// Document totals (BG-22).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Sum of invoice line net amounts (BT-106).
    pub line_total: Amount,
    /// Sum of allowances (BT-107) and of charges (BT-108) on document level.
    pub allowance_total: Amount,
    pub charge_total: Amount,
    /// Invoice total without VAT (BT-109).
    pub tax_basis_total: Amount,
    /// Invoice total VAT amount in the invoice currency (BT-110).
    pub tax_total: Amount,
    /// Invoice total VAT amount in the accounting currency (BT-111), when given.
    pub tax_total_accounting: Amount,
    /// Invoice total with VAT (BT-112).
    pub grand_total: Amount,
    /// Paid amount (BT-113).
    pub prepaid: Amount,
    /// Rounding amount (BT-114).
    pub rounding: Amount,
    /// Amount due for payment (BT-115).
    pub due_payable: Amount,
}

/// One VAT breakdown line (BG-23).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VatBreakdown {
    /// UNCL 5305 category (BT-118): S, Z, E, AE, K, G, O, L, M.
    pub category: Text,
    /// Rate in percent (BT-119).
    pub rate: Amount,
    /// Taxable amount (BT-116).
    pub basis: Amount,
    /// Tax amount (BT-117).
    pub tax: Amount,
    /// Exemption reason text and code (BT-120, BT-121).
    pub exemption_reason: Text,
    pub exemption_reason_code: Text,
}

/// An allowance or charge, on document (BG-20/BG-21) or line (BG-27/BG-28) level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AllowanceCharge {
    /// `true` for a charge, `false` for an allowance; `None` when the indicator is missing or
    /// unreadable.
    pub is_charge: Option<Evidenced<bool>>,
    pub amount: Amount,
    pub base_amount: Amount,
    pub percent: Amount,
    pub reason: Text,
    pub reason_code: Text,
    pub vat_category: Text,
    pub vat_rate: Amount,
}

/// An invoice line (BG-25).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// Line identifier (BT-126).
    pub id: Text,
    /// Item name (BT-153) and description (BT-154).
    pub name: Text,
    pub description: Text,
    /// Invoiced quantity and unit (BT-129, BT-130).
    pub quantity: Option<Evidenced<Quantity>>,
    /// Item net price (BT-146), and its base quantity (BT-149).
    pub net_price: Amount,
    pub price_base_quantity: Option<Evidenced<Quantity>>,
    /// Item gross price (BT-148).
    pub gross_price: Amount,
    /// Line net amount (BT-131).
    pub net_amount: Amount,
    /// VAT category and rate of the item (BT-151, BT-152).
    pub vat_category: Text,
    pub vat_rate: Amount,
    /// Seller's, buyer's and standard item identifiers (BT-155, BT-156, BT-157).
    pub seller_item_id: Text,
    pub buyer_item_id: Text,
    pub standard_item_id: Option<Evidenced<Identifier>>,
    /// Referenced purchase order line (BT-132).
    pub order_line_reference: Text,
    /// Line period (BT-134, BT-135).
    pub period_start: Date,
    pub period_end: Date,
    /// Line notes (BT-127).
    pub notes: Vec<Evidenced<String>>,
    /// Line allowances and charges (BG-27, BG-28).
    pub allowances_charges: Vec<AllowanceCharge>,
    /// Parent line of a sub-line (Factur-X / ZUGFeRD EXTENDED).
    pub parent_line_id: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub content: Evidenced<String>,
    pub subject_code: Text,
}

/// UNTDID 1001 codes of credit notes allowed by EN 16931.
const CREDIT_NOTE_CODES: [&str; 11] =
    ["81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"];

impl EInvoice {
    pub fn is_credit_note(&self) -> bool {
        self.kind == DocumentKind::CreditNote
    }

    fn type_code_is(&self, codes: &[&str]) -> bool {
        self.type_code.as_ref().is_some_and(|t| codes.contains(&t.value.as_str()))
    }

    /// A corrected invoice (384, 385 ... not a credit note).
    pub fn is_corrective(&self) -> bool {
        self.type_code_is(&["384"])
    }

    /// A self-billed invoice (389) or credit note (261).
    pub fn is_self_billed(&self) -> bool {
        self.type_code_is(&["389", "261", "527"])
    }

    /// A prepayment invoice (386).
    pub fn is_prepayment(&self) -> bool {
        self.type_code_is(&["386"])
    }

    pub fn profile_kind(&self) -> Option<ProfileKind> {
        self.profile.as_ref().map(|p| profile_kind(&p.value))
    }

    /// The payee IBANs, normalised (no spaces, upper case), in order, without duplicates. An
    /// account is taken as an IBAN when it has the IBAN shape (two letters, two digits, then
    /// letters and digits, 15 to 34 characters); its check digits are not verified here.
    pub fn ibans(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for m in &self.payment_means {
            if let Some(iban) = m.iban()
                && !out.contains(&iban)
            {
                out.push(iban);
            }
        }
        out
    }
}

impl PaymentMeans {
    /// The payee account as a normalised IBAN, when it has the shape of one.
    pub fn iban(&self) -> Option<String> {
        self.account.as_ref().and_then(|a| normalise_iban(&a.value))
    }
}

/// Spaces removed, upper case, when the text has the shape of an IBAN.
pub fn normalise_iban(raw: &str) -> Option<String> {
    let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let b = s.as_bytes();
    let shaped = (15..=34).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4..].iter().all(u8::is_ascii_alphanumeric);
    shaped.then_some(s)
}

impl Party {
    /// The SIREN (9 digits) of a French party: from an identifier of scheme 0002 (SIRENE: a
    /// SIREN or a SIRET) or 0009 (SIRET), legal registration first.
    pub fn siren(&self) -> Option<String> {
        self.french_ids().find_map(|id| match id.len() {
            9 | 14 => Some(id[..9].to_string()),
            _ => None,
        })
    }

    /// The SIRET (14 digits) of a French party, from an identifier of scheme 0002 or 0009.
    pub fn siret(&self) -> Option<String> {
        self.french_ids().find(|id| id.len() == 14)
    }

    fn french_ids(&self) -> impl Iterator<Item = String> + '_ {
        self.legal_id
            .iter()
            .chain(self.ids.iter())
            .chain(self.electronic_address.iter())
            .filter(|i| matches!(i.value.scheme.as_deref(), Some("0002" | "0009")))
            .map(|i| i.value.id.chars().filter(|c| !c.is_whitespace()).collect::<String>())
            .filter(|id| id.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The country code of the postal address.
    pub fn country(&self) -> Option<&str> {
        self.address.as_ref()?.country.as_ref().map(|c| c.value.as_str())
    }
}

/// The profile family of a guideline id (BT-24).
pub fn profile_kind(id: &str) -> ProfileKind {
    let p = id.to_ascii_lowercase();
    if p.contains("xrechnung") {
        ProfileKind::XRechnung
    } else if p.contains("peppol") {
        ProfileKind::Peppol
    } else if p.contains("extended") {
        ProfileKind::Extended
    } else if p.contains("basicwl") {
        ProfileKind::BasicWl
    } else if p.contains("minimum") {
        ProfileKind::Minimum
    } else if p.contains("basic") {
        ProfileKind::Basic
    } else if p.contains("comfort") {
        ProfileKind::Comfort
    } else if p.contains("en16931") {
        ProfileKind::En16931
    } else {
        ProfileKind::Other
    }
}

fn kind_of(type_code: Option<&str>, ubl_credit_note: bool) -> DocumentKind {
    if ubl_credit_note || type_code.is_some_and(|c| CREDIT_NOTE_CODES.contains(&c)) {
        DocumentKind::CreditNote
    } else {
        DocumentKind::Invoice
    }
}

fn syntax_of(ns: Option<&str>, local: &str) -> Option<Syntax> {
    match (ns?, local) {
        (xml::NS_CII_RSM, "CrossIndustryInvoice") => Some(Syntax::Cii),
        (xml::NS_ZF1_RSM, "CrossIndustryDocument") => Some(Syntax::CiiZugferd1),
        (xml::NS_ZF1RC_RSM, "Invoice") => Some(Syntax::CiiZugferd1Rc),
        (xml::NS_UBL_INVOICE, "Invoice") | (xml::NS_UBL_CREDIT_NOTE, "CreditNote") => Some(Syntax::Ubl),
        _ => None,
    }
}

/// Which e-invoice syntax the XML's root element is, from its first start tag only; `None` when it
/// is not a CII or UBL invoice or credit note. Cheap: the document is not parsed.
pub fn sniff_root(xml: &[u8]) -> Option<Syntax> {
    let (ns, local) = xml::root_name(xml)?;
    syntax_of(ns.as_deref(), &local)
}

/// Parse an e-invoice XML.
pub fn parse(xml_bytes: &[u8]) -> Result<EInvoice, EInvoiceError> {
    if xml_bytes.len() > xml::MAX_XML_BYTES {
        return Err(EInvoiceError::TooLarge { what: "bytes", limit: xml::MAX_XML_BYTES as u64 });
    }
    let text = xml::decode(xml_bytes)?;
    let doc = xml::parse_document(&text)?;
    let root = doc.root_element();
    let name = root.tag_name();
    let syntax = syntax_of(name.namespace(), name.name()).ok_or_else(|| {
        EInvoiceError::NotAnInvoice(format!(
            "the root element is {{{}}}{}",
            name.namespace().unwrap_or(""),
            xml::clip(name.name())
        ))
    })?;
    match syntax {
        Syntax::Ubl => ubl::read(&doc),
        cii => cii::read(&doc, cii),
    }
}

#[cfg(test)]
mod tests;
