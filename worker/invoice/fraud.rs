//! The fraud model: the invoice's signals (which rules fired, and a few facts) into an ONNX
//! model trained by `models/fraud/train.py`, giving a fraud-risk probability. The model runs
//! through `crate::model` (the only module that knows ONNX Runtime).

use super::{AnalysedInvoice, ExtractedInvoice, Flag, InvoiceError};
use std::path::Path;

/// The signals, in the order of the model's input. Changing this list means retraining (the
/// model's input size is checked when it loads).
pub const SIGNALS: [&str; 32] = [
    "iban.checksum",
    "iban.country",
    "siren.luhn",
    "siret.siren",
    "vat.fr_key",
    "vat.fr_siren",
    "vat.fr_rate",
    "BR-CO-10",
    "BR-CO-14",
    "BR-CO-15",
    "BR-CO-16",
    "vat.per_rate",
    "date.future",
    "date.due_before_issue",
    "date.very_old",
    "fr.customer_siren",
    "fr.delivery_address",
    "fr.sale_category",
    "fr.vat_on_debits",
    "amount.just_under_threshold",
    "amount.round",
    "einvoice.text_mismatch",
    "missing.mandatory",
    "duplicate.same_file",
    "duplicate.number",
    "duplicate.amount_date",
    "duplicate.redated",
    "bank.changed",
    "supplier.new",
    // Facts about the invoice.
    "amount_log10",
    "credit_note",
    "einvoice",
];

/// The model's input for one invoice.
pub fn signals(extracted: &ExtractedInvoice, flags: &[Flag]) -> Vec<f32> {
    let mut v: Vec<f32> = SIGNALS
        .iter()
        .take(SIGNALS.len() - 3)
        .map(|s| if flags.iter().any(|f| f.rule == *s) { 1.0 } else { 0.0 })
        .collect();
    let gross = extracted
        .gross_total
        .as_ref()
        .map(|g| g.value.abs().to_string().parse::<f64>().unwrap_or(0.0))
        .unwrap_or(0.0);
    v.push(((1.0 + gross).log10() / 6.0) as f32);
    v.push(if extracted.is_credit_note() { 1.0 } else { 0.0 });
    v.push(if extracted.source == super::Source::EInvoice { 1.0 } else { 0.0 });
    v
}

/// A loaded fraud model.
#[derive(Debug)]
pub struct FraudModel {
    model: crate::model::Model,
    fraud_column: usize,
}

impl FraudModel {
    /// Load `path` (the ONNX Runtime library must be initialised, `crate::model::init`).
    pub fn load(path: &Path) -> Result<FraudModel, InvoiceError> {
        let model = crate::model::Model::load(path).map_err(|e| InvoiceError::Model(e.to_string()))?;
        if model.features.numeric != SIGNALS.len() {
            return Err(InvoiceError::Model(format!(
                "{} takes {} signals, this Liasse makes {}: retrain it (models/fraud/train.py)",
                path.display(),
                model.features.numeric,
                SIGNALS.len()
            )));
        }
        let fraud_column = model
            .labels
            .iter()
            .position(|l| l == "fraud")
            .ok_or_else(|| InvoiceError::Model(format!("{} has no `fraud` label", path.display())))?;
        Ok(FraudModel { model, fraud_column })
    }

    pub fn name(&self) -> &str {
        &self.model.name
    }

    pub fn version(&self) -> &str {
        &self.model.version
    }

    /// The fraud probability of one signal vector.
    pub fn probability(&self, signals: &[f32]) -> Result<f32, InvoiceError> {
        let x = crate::features::features_with_numeric("", signals, &self.model.features)
            .map_err(|e| InvoiceError::Model(e.to_string()))?;
        let p = self.model.predict(&x).map_err(|e| InvoiceError::Model(e.to_string()))?;
        p.get(self.fraud_column).copied().ok_or_else(|| InvoiceError::Model("no fraud probability".into()))
    }
}

/// The model's risk of an analysed invoice (its flags already set).
pub fn model_risk(
    model: &FraudModel,
    inv: &AnalysedInvoice,
    config: &crate::config::InvoiceConfig,
) -> Result<super::Risk, InvoiceError> {
    let p = model.probability(&signals(&inv.extracted, &inv.flags))?;
    let mut risk = super::rule_risk(&inv.flags, config);
    risk.score = (p * 10_000.0).round() / 10_000.0;
    // A rule weighing at least the block threshold (the same file again, a known number) blocks
    // on its own, whatever the model says.
    let hard =
        inv.flags.iter().map(|f| f.weight).filter(|w| *w >= config.block_threshold).fold(0.0f32, f32::max);
    risk.decision = super::decide(risk.score.max(hard), config);
    risk.method =
        crate::evidence::Method::Model { name: model.name().into(), version: model.version().into() };
    Ok(risk)
}
