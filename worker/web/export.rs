//! Per-invoice exports from the stored result (corrections applied): JSON, CSV and Factur-X
//! CII XML (MINIMUM profile, EN 16931 core fields). Pure functions, no IO.
//!
//! Field names read from the result (`fields.name`): invoice_number, issue_date (YYYY-MM-DD),
//! due_date, currency, seller_name, seller_vat_id, seller_siret, buyer_name, buyer_vat_id,
//! buyer_siret, buyer_reference, order_reference, total_net, total_vat, total_gross, amount_due.

use crate::store::web::DocumentView;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("the invoice lacks {0}, required by EN 16931")]
    Missing(&'static str),
    #[error("{0} is not valid: {1}")]
    Invalid(&'static str, &'static str),
}

/// The columns of the CSV, invoice part (repeated on every line row).
pub const CSV_INVOICE_COLUMNS: [&str; 12] = [
    "invoice_number",
    "issue_date",
    "due_date",
    "currency",
    "seller_name",
    "seller_vat_id",
    "seller_siret",
    "buyer_name",
    "total_net",
    "total_vat",
    "total_gross",
    "amount_due",
];
pub const CSV_LINE_COLUMNS: [&str; 7] =
    ["line", "description", "quantity", "unit", "unit_price", "amount", "vat_rate"];

pub fn json(doc: &DocumentView) -> Value {
    let fields: serde_json::Map<String, Value> =
        doc.fields.iter().map(|f| (f.name.clone(), Value::String(f.value.clone()))).collect();
    json!({
        "content_hash": doc.content_hash,
        "source_name": doc.source_name,
        "status": doc.status,
        "kind": doc.kind,
        "doc_type": doc.doc_type,
        "result_id": doc.result_id,
        "fields": fields,
        "corrected_fields": doc.fields.iter().filter(|f| f.corrected).map(|f| f.name.clone()).collect::<Vec<_>>(),
        "lines": doc.lines,
        "flags": doc.flags.iter().filter(|f| !f.dismissed).map(|f| json!({
            "code": f.code, "severity": f.severity, "score": f.score, "reasons": f.reasons,
        })).collect::<Vec<_>>(),
        "clauses": doc.clauses,
    })
}

fn csv_cell(s: &str) -> String {
    // Quote every cell; a leading formula character is neutralised (CSV injection).
    let mut v = s.replace('"', "\"\"");
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) && v.parse::<f64>().is_err() {
        v.insert(0, '\'');
    }
    format!("\"{v}\"")
}

pub fn csv(doc: &DocumentView) -> String {
    let mut out = String::new();
    let header: Vec<String> =
        CSV_INVOICE_COLUMNS.iter().chain(CSV_LINE_COLUMNS.iter()).map(|c| csv_cell(c)).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    let head: Vec<String> =
        CSV_INVOICE_COLUMNS.iter().map(|c| csv_cell(doc.field(c).unwrap_or(""))).collect();
    let o = |x: &Option<String>| csv_cell(x.as_deref().unwrap_or(""));
    if doc.lines.is_empty() {
        let mut row = head.clone();
        row.extend(std::iter::repeat_n(csv_cell(""), CSV_LINE_COLUMNS.len()));
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    for l in &doc.lines {
        let mut row = head.clone();
        row.push(csv_cell(&l.position.to_string()));
        row.extend([
            o(&l.description),
            o(&l.quantity),
            o(&l.unit),
            o(&l.unit_price),
            o(&l.amount),
            o(&l.vat_rate),
        ]);
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => o.push(c),
        }
    }
    o
}

fn amount(doc: &DocumentView, name: &'static str) -> Result<Option<String>, ExportError> {
    match doc.field(name) {
        None => Ok(None),
        Some(v) => {
            let d: rust_decimal::Decimal =
                v.trim().parse().map_err(|_| ExportError::Invalid(name, "not a decimal amount"))?;
            Ok(Some(d.round_dp(2).to_string()))
        }
    }
}

fn date102(doc: &DocumentView, name: &'static str) -> Result<Option<String>, ExportError> {
    match doc.field(name) {
        None => Ok(None),
        Some(v) => {
            let d = chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                .map_err(|_| ExportError::Invalid(name, "not a YYYY-MM-DD date"))?;
            Ok(Some(d.format("%Y%m%d").to_string()))
        }
    }
}

/// The invoice as Factur-X CII (profile MINIMUM, `urn:factur-x.eu:1p0:minimum`): the EN 16931
/// core of an invoice. Fails when a value the profile requires is missing or invalid.
pub fn factur_x(doc: &DocumentView) -> Result<String, ExportError> {
    let need = |n: &'static str| {
        doc.field(n).map(str::trim).filter(|v| !v.is_empty()).ok_or(ExportError::Missing(n))
    };
    let number = xml_escape(need("invoice_number")?);
    let issue = date102(doc, "issue_date")?.ok_or(ExportError::Missing("issue_date"))?;
    let currency = need("currency")?.to_ascii_uppercase();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(ExportError::Invalid("currency", "not an ISO 4217 code"));
    }
    let seller = xml_escape(need("seller_name")?);
    let buyer = xml_escape(need("buyer_name")?);
    let gross = amount(doc, "total_gross")?.ok_or(ExportError::Missing("total_gross"))?;
    let net = amount(doc, "total_net")?.ok_or(ExportError::Missing("total_net"))?;
    let vat = amount(doc, "total_vat")?.ok_or(ExportError::Missing("total_vat"))?;
    let due = amount(doc, "amount_due")?.unwrap_or_else(|| gross.clone());
    let type_code = if doc.doc_type.as_deref() == Some("credit_note") { "381" } else { "380" };
    let opt = |n: &str| doc.field(n).map(str::trim).filter(|v| !v.is_empty()).map(xml_escape);
    let mut x = String::new();
    x.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100" xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
  <rsm:ExchangedDocumentContext>
    <ram:GuidelineSpecifiedDocumentContextParameter>
      <ram:ID>urn:factur-x.eu:1p0:minimum</ram:ID>
    </ram:GuidelineSpecifiedDocumentContextParameter>
  </rsm:ExchangedDocumentContext>
"#);
    x.push_str(&format!(
        "  <rsm:ExchangedDocument>\n    <ram:ID>{number}</ram:ID>\n    <ram:TypeCode>{type_code}</ram:TypeCode>\n    <ram:IssueDateTime>\n      <udt:DateTimeString format=\"102\">{issue}</udt:DateTimeString>\n    </ram:IssueDateTime>\n  </rsm:ExchangedDocument>\n"
    ));
    x.push_str("  <rsm:SupplyChainTradeTransaction>\n    <ram:ApplicableHeaderTradeAgreement>\n");
    if let Some(r) = opt("buyer_reference") {
        x.push_str(&format!("      <ram:BuyerReference>{r}</ram:BuyerReference>\n"));
    }
    x.push_str(&format!("      <ram:SellerTradeParty>\n        <ram:Name>{seller}</ram:Name>\n"));
    if let Some(s) = opt("seller_siret") {
        x.push_str(&format!(
            "        <ram:SpecifiedLegalOrganization>\n          <ram:ID schemeID=\"0002\">{s}</ram:ID>\n        </ram:SpecifiedLegalOrganization>\n"
        ));
    }
    x.push_str("        <ram:PostalTradeAddress>\n          <ram:CountryID>FR</ram:CountryID>\n        </ram:PostalTradeAddress>\n");
    if let Some(v) = opt("seller_vat_id") {
        x.push_str(&format!(
            "        <ram:SpecifiedTaxRegistration>\n          <ram:ID schemeID=\"VA\">{v}</ram:ID>\n        </ram:SpecifiedTaxRegistration>\n"
        ));
    }
    x.push_str(&format!(
        "      </ram:SellerTradeParty>\n      <ram:BuyerTradeParty>\n        <ram:Name>{buyer}</ram:Name>\n"
    ));
    if let Some(s) = opt("buyer_siret") {
        x.push_str(&format!(
            "        <ram:SpecifiedLegalOrganization>\n          <ram:ID schemeID=\"0002\">{s}</ram:ID>\n        </ram:SpecifiedLegalOrganization>\n"
        ));
    }
    x.push_str("      </ram:BuyerTradeParty>\n");
    if let Some(o) = opt("order_reference") {
        x.push_str(&format!(
            "      <ram:BuyerOrderReferencedDocument>\n        <ram:IssuerAssignedID>{o}</ram:IssuerAssignedID>\n      </ram:BuyerOrderReferencedDocument>\n"
        ));
    }
    x.push_str("    </ram:ApplicableHeaderTradeAgreement>\n    <ram:ApplicableHeaderTradeDelivery/>\n");
    x.push_str(&format!(
        "    <ram:ApplicableHeaderTradeSettlement>\n      <ram:InvoiceCurrencyCode>{currency}</ram:InvoiceCurrencyCode>\n      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>\n        <ram:TaxBasisTotalAmount>{net}</ram:TaxBasisTotalAmount>\n        <ram:TaxTotalAmount currencyID=\"{currency}\">{vat}</ram:TaxTotalAmount>\n        <ram:GrandTotalAmount>{gross}</ram:GrandTotalAmount>\n        <ram:DuePayableAmount>{due}</ram:DuePayableAmount>\n      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>\n    </ram:ApplicableHeaderTradeSettlement>\n  </rsm:SupplyChainTradeTransaction>\n</rsm:CrossIndustryInvoice>\n"
    ));
    Ok(x)
}
