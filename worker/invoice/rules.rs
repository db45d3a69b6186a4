//! The invoice rule set: labels and value kinds of the header fields (`rules/invoice/*.toml`),
//! parsed with unknown fields denied and compiled once, when the engine starts.

use super::{Flag, InvoiceError};
use crate::evidence::{Evidence, Method};
use regex::Regex;
use serde::Deserialize;
use std::path::Path;

/// The rules shipped with Liasse, used when no rules folder is configured.
const BUILTIN_FIELDS: &str = include_str!("../../rules/invoice/fields.toml");
const BUILTIN_CHECKS: &str = include_str!("../../rules/invoice/checks.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldName {
    Number,
    IssueDate,
    DueDate,
    PaymentTerms,
    OrderNumber,
    SupplierSiret,
    SupplierSiren,
    SupplierVat,
    Iban,
    Bic,
    NetTotal,
    VatTotal,
    GrossTotal,
    AmountDue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Id,
    Date,
    Amount,
    Text,
    Siren,
    Siret,
    Vat,
    Iban,
    Bic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Occurrence {
    First,
    Last,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldSpec {
    name: FieldName,
    kind: ValueKind,
    occurrence: Occurrence,
    confidence: f32,
    labels: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldsFile {
    version: String,
    invoice_titles: Vec<String>,
    credit_note_titles: Vec<String>,
    customer_labels: Vec<String>,
    attention_labels: Vec<String>,
    block_end: Vec<String>,
    block_max_lines: usize,
    /// Labels of the seller's section ("Verkäufer", "Seller", "Fournisseur").
    #[serde(default)]
    supplier_labels: Vec<String>,
    /// Labels of a party's name inside its section ("Name:", "Raison sociale :").
    #[serde(default)]
    name_labels: Vec<String>,
    /// Words never a party name on their own (a header line of a generator, a copyright).
    #[serde(default)]
    not_a_name: Vec<String>,
    /// Labels of the currency ("Währung", "Devise", "Currency").
    #[serde(default)]
    currency_labels: Vec<String>,
    /// Legal forms ending a company name ("GmbH", "B.V.", "SARL").
    #[serde(default)]
    legal_forms: Vec<String>,
    /// Salutations alone on their line above the addressee's name ("Herrn", "Madame"): part of
    /// the name as addressed.
    #[serde(default)]
    salutations: Vec<String>,
    /// Words alone on their line above an addressee's company name ("Firma"): not part of it.
    #[serde(default)]
    addressee_titles: Vec<String>,
    /// Labels of the delivery address ("Adresse de livraison", "Ship to").
    #[serde(default)]
    delivery_labels: Vec<String>,
    /// Words after a legal form introducing the party the company acts for ("iov", "pour le
    /// compte de").
    #[serde(default)]
    on_behalf: Vec<String>,
    /// Web domains shared by many ("gmail", "example"), without the top-level domain.
    #[serde(default)]
    shared_domains: Vec<String>,
    field: Vec<FieldSpec>,
}

/// Thresholds and lists of the validation checks (`rules/invoice/checks.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    pub version: String,
    /// Rounding tolerance of the arithmetic checks, in the invoice currency.
    pub tolerance: rust_decimal::Decimal,
    /// Approval thresholds: an amount within `just_under_ratio` below one of them is flagged.
    pub approval_thresholds: Vec<rust_decimal::Decimal>,
    pub just_under_ratio: rust_decimal::Decimal,
    /// A gross total that is a multiple of this (and at least `round_minimum`) is "round".
    pub round_multiple: rust_decimal::Decimal,
    pub round_minimum: rust_decimal::Decimal,
    /// An invoice dated more than this many days before processing is "very old".
    pub max_age_days: i64,
    /// Days of tolerance for a date in the future.
    pub future_tolerance_days: i64,
    /// French VAT rates and the dates they apply from and until (inclusive, ISO).
    pub french_vat_rates: Vec<VatRateSpan>,
    /// Each check's weight in the rule score (0 to 1) and whether it is on.
    pub rule: Vec<RuleSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VatRateSpan {
    pub rate: rust_decimal::Decimal,
    pub from: chrono::NaiveDate,
    #[serde(default)]
    pub until: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub weight: f32,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub reason: String,
}

fn yes() -> bool {
    true
}

/// One compiled field rule.
#[derive(Debug, Clone)]
pub struct FieldRule {
    pub name: FieldName,
    pub kind: ValueKind,
    pub occurrence: Occurrence,
    pub confidence: f32,
    /// (label id, compiled label) in priority order.
    pub labels: Vec<(String, Regex)>,
    /// The same labels ending a line, the value printed before them ("993548900Factuurnummer:",
    /// the order some PDF text layers give right-aligned cells); labels anchored with `^` have none.
    pub labels_after_value: Vec<(String, Regex)>,
}

/// The compiled invoice rules.
#[derive(Debug, Clone)]
pub struct InvoiceRules {
    pub version: String,
    pub fields: Vec<FieldRule>,
    pub invoice_titles: Regex,
    pub credit_note_titles: Regex,
    /// A title in capitals ending a line ("Papeterie Fournier FACTURE" when OCR joins the header).
    pub invoice_title_end: Regex,
    pub credit_note_title_end: Regex,
    pub customer_labels: Regex,
    pub attention_labels: Regex,
    pub block_end: Regex,
    pub block_max_lines: usize,
    /// The seller's section label, alone on its line (maybe with a colon).
    pub supplier_labels: Option<Regex>,
    /// The seller's label and its name on one line: "Sold By : Name" (group `after`), or
    /// "Name, Sold By :" as pdf-extract gives right-aligned cells (group `before`).
    pub supplier_label_inline: Option<Regex>,
    /// A party's name label at the start of a line; the name follows.
    pub name_labels: Option<Regex>,
    pub not_a_name: Option<Regex>,
    pub currency_labels: Option<Regex>,
    /// A line ending with a legal form.
    pub legal_form_end: Option<Regex>,
    /// A salutation alone on its line ("Herrn").
    pub salutation_line: Option<Regex>,
    /// An addressee title alone on its line ("Firma").
    pub addressee_title_line: Option<Regex>,
    /// A delivery address label alone on its line (maybe with a colon).
    pub delivery_label_line: Option<Regex>,
    /// A legal form glued to a capitalised word the text layer joined to it ("Lieferant
    /// GmbHLieferantenstraße 20"): group `next` starts the joined word.
    pub legal_form_glued: Option<Regex>,
    /// A legal form followed by words introducing the party the company acts for ("B.V. iov
    /// Saeco.com"): group `next` starts those words.
    pub legal_form_on_behalf: Option<Regex>,
    /// Web domains shared by many, squashed (letters and digits, lower case).
    pub shared_domains: Vec<String>,
    pub checks: Checks,
    /// Supplier templates in invoice2data's format (`templates/` of the rules folder).
    pub templates: Vec<super::templates::Template>,
}

fn compile(what: &str, re: &str) -> Result<Regex, InvoiceError> {
    Regex::new(re).map_err(|e| InvoiceError::Rules(format!("{what}: {e}")))
}

/// A regex matching any of `words` as a whole line (a title).
fn title_regex(what: &str, words: &[String]) -> Result<Regex, InvoiceError> {
    compile(what, &format!(r"(?i)^\s*(?:{})\s*[.:!]?\s*$", words.join("|")))
}

/// A regex matching any of `words`, in capitals, at the end of a line after other text.
fn title_end_regex(what: &str, words: &[String]) -> Result<Regex, InvoiceError> {
    let upper: Vec<String> = words.iter().map(|w| w.to_uppercase().replace("\\S", "\\s")).collect();
    compile(what, &format!(r"\s(?:{})\s*$", upper.join("|")))
}

/// A regex matching any of `labels` at the start of a line.
fn start_regex(what: &str, labels: &[String]) -> Result<Regex, InvoiceError> {
    compile(what, &format!(r"(?i)^\s*(?:{})\b", labels.join("|")))
}

/// A regex of a list that may be empty (none then).
fn optional(
    words: &[String],
    f: impl Fn(&[String]) -> Result<Regex, InvoiceError>,
) -> Result<Option<Regex>, InvoiceError> {
    if words.is_empty() { Ok(None) } else { f(words).map(Some) }
}

impl InvoiceRules {
    /// The rules shipped with Liasse.
    pub fn builtin() -> Result<InvoiceRules, InvoiceError> {
        Self::from_sources(BUILTIN_FIELDS, BUILTIN_CHECKS)
    }

    /// The rules of a folder: `fields.toml`, `checks.toml` (each falls back to the built-in one
    /// when absent) and invoice2data templates (`*.yml`, `*.yaml`, `*.json`) under `templates/`.
    pub fn load(dir: &Path) -> Result<InvoiceRules, InvoiceError> {
        let read = |name: &str, builtin: &str| -> Result<String, InvoiceError> {
            let p = dir.join(name);
            if p.exists() {
                std::fs::read_to_string(&p).map_err(|e| InvoiceError::Rules(format!("{}: {e}", p.display())))
            } else {
                Ok(builtin.to_string())
            }
        };
        let fields = read("fields.toml", BUILTIN_FIELDS)?;
        let checks = read("checks.toml", BUILTIN_CHECKS)?;
        let mut rules = Self::from_sources(&fields, &checks)?;
        rules.templates = super::templates::load_dir(&dir.join("templates"))?;
        Ok(rules)
    }

    pub fn from_sources(fields: &str, checks: &str) -> Result<InvoiceRules, InvoiceError> {
        let f: FieldsFile =
            toml::from_str(fields).map_err(|e| InvoiceError::Rules(format!("fields.toml: {e}")))?;
        let checks: Checks =
            toml::from_str(checks).map_err(|e| InvoiceError::Rules(format!("checks.toml: {e}")))?;
        let mut compiled = Vec::new();
        for spec in f.field {
            let mut labels = Vec::new();
            let mut labels_after_value = Vec::new();
            for (i, l) in spec.labels.iter().enumerate() {
                let re = compile(
                    &format!("field {:?} label {i}", spec.name),
                    &format!(r"(?i)(?:^|[\s(|/\d])(?:{l})\s*[:#.]?\s*"),
                )?;
                labels.push((
                    format!(
                        "{}.{i}",
                        serde_json::to_value(spec.name)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default()
                    ),
                    re,
                ));
                if !l.starts_with('^') {
                    let id = labels.last().map(|(id, _)| id.clone()).unwrap_or_default();
                    let re = compile(
                        &format!("field {:?} label {i}", spec.name),
                        &format!(r"(?i)(?:{l})\s*[:#.]?\s*$"),
                    )?;
                    labels_after_value.push((id, re));
                }
            }
            if !(0.0..=1.0).contains(&spec.confidence) {
                return Err(InvoiceError::Rules(format!("field {:?}: confidence outside 0..1", spec.name)));
            }
            compiled.push(FieldRule {
                name: spec.name,
                kind: spec.kind,
                occurrence: spec.occurrence,
                confidence: spec.confidence,
                labels,
                labels_after_value,
            });
        }
        Ok(InvoiceRules {
            version: format!("{}+{}", f.version, checks.version),
            fields: compiled,
            invoice_titles: title_regex("invoice_titles", &f.invoice_titles)?,
            credit_note_titles: title_regex("credit_note_titles", &f.credit_note_titles)?,
            invoice_title_end: title_end_regex("invoice_titles", &f.invoice_titles)?,
            credit_note_title_end: title_end_regex("credit_note_titles", &f.credit_note_titles)?,
            customer_labels: start_regex("customer_labels", &f.customer_labels)?,
            attention_labels: start_regex("attention_labels", &f.attention_labels)?,
            block_end: start_regex("block_end", &f.block_end)?,
            block_max_lines: f.block_max_lines,
            supplier_labels: optional(&f.supplier_labels, |w| {
                compile("supplier_labels", &format!(r"(?i)^\s*(?:{})\s*:?\s*$", w.join("|")))
            })?,
            supplier_label_inline: optional(&f.supplier_labels, |w| {
                let w = w.join("|");
                compile(
                    "supplier_labels",
                    &format!(
                        r"(?i)^\s*(?:{w})\s*:\s*(?P<after>\S.*)$|^(?P<before>.*?\S)[\s,]*\b(?:{w})\s*:\s*$"
                    ),
                )
            })?,
            name_labels: optional(&f.name_labels, |w| {
                compile("name_labels", &format!(r"(?i)^\s*(?:{})\s*:\s*", w.join("|")))
            })?,
            not_a_name: optional(&f.not_a_name, |w| {
                compile("not_a_name", &format!(r"(?i)(?:^|\W)(?:{})(?:\W|$)", w.join("|")))
            })?,
            currency_labels: optional(&f.currency_labels, |w| {
                compile("currency_labels", &format!(r"(?i)(?:^|\s)(?:{})\s*:?\s*", w.join("|")))
            })?,
            legal_form_end: optional(&f.legal_forms, |w| {
                compile("legal_forms", &format!(r"(?i)\S\s+(?:{})\s*$", w.join("|")))
            })?,
            salutation_line: optional(&f.salutations, |w| title_regex("salutations", w))?,
            addressee_title_line: optional(&f.addressee_titles, |w| title_regex("addressee_titles", w))?,
            delivery_label_line: optional(&f.delivery_labels, |w| title_regex("delivery_labels", w))?,
            legal_form_glued: optional(&f.legal_forms, |w| {
                compile(
                    "legal_forms",
                    &format!(r"(?i)\S\s+(?:{})(?P<next>(?-i:\p{{Lu}}\p{{Ll}}))", w.join("|")),
                )
            })?,
            legal_form_on_behalf: match (f.legal_forms.is_empty(), f.on_behalf.is_empty()) {
                (false, false) => Some(compile(
                    "on_behalf",
                    &format!(
                        r"(?i)\S\s+(?:{})(?P<next>\s+(?:{})\s+\S)",
                        f.legal_forms.join("|"),
                        f.on_behalf.join("|")
                    ),
                )?),
                _ => None,
            },
            shared_domains: f.shared_domains.iter().map(|d| crate::document::squash(d)).collect(),
            checks,
            templates: Vec::new(),
        })
    }

    pub fn field(&self, name: FieldName) -> Option<&FieldRule> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn rule(&self, id: &str) -> Option<&RuleSpec> {
        self.checks.rule.iter().find(|r| r.id == id)
    }

    /// The flag of check `id` with its reason and weight, `None` when the check is unknown or
    /// disabled. Without evidence from the document, the check's own derivation is the evidence.
    pub fn flag(&self, id: &str, detail: String, evidence: Vec<Evidence>) -> Option<Flag> {
        let spec = self.rule(id).filter(|s| s.enabled)?;
        let evidence = if evidence.is_empty() {
            vec![Evidence { locations: vec![], method: Method::Derived { rule: id.into() }, confidence: 1.0 }]
        } else {
            evidence
        };
        Some(Flag { rule: id.into(), reason: spec.reason.clone(), detail, weight: spec.weight, evidence })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_compile() {
        let r = InvoiceRules::builtin().unwrap();
        assert!(r.field(FieldName::Number).is_some());
        assert!(r.credit_note_titles.is_match("AVOIR"));
        assert!(r.customer_labels.is_match("Facturé à"));
    }

    #[test]
    fn a_flag_carries_its_check_and_is_none_when_unknown_or_disabled() {
        let mut r = InvoiceRules::builtin().unwrap();
        let f = r.flag("iban.checksum", "FR76…".into(), vec![]).unwrap();
        assert_eq!((f.rule.as_str(), f.weight), ("iban.checksum", 0.6));
        assert!(f.reason.contains("mod-97"));
        assert!(matches!(&f.evidence[0].method, Method::Derived { rule } if rule == "iban.checksum"));
        assert!(r.flag("no.such.check", String::new(), vec![]).is_none());
        r.checks.rule.iter_mut().find(|c| c.id == "iban.checksum").unwrap().enabled = false;
        assert!(r.flag("iban.checksum", String::new(), vec![]).is_none());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let bad = BUILTIN_FIELDS.replace("block_max_lines = 8", "block_max_lines = 8\nblok = 1");
        assert!(InvoiceRules::from_sources(&bad, BUILTIN_CHECKS).is_err());
        let bad = BUILTIN_FIELDS.replace("labels = [\"siret\"]", "labels = [\"siret(\"]");
        assert!(InvoiceRules::from_sources(&bad, BUILTIN_CHECKS).is_err());
    }
}
