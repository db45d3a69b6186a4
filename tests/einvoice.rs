//! E-invoice parsing against the public corpus `../shared/corpus/einvoices/`: every XML extracted
//! from its Factur-X / ZUGFeRD / XRechnung PDFs is parsed and compared, field by field, with the
//! corpus ground truth (`_ground_truth/ground_truth.jsonl`, written from the XML by the corpus
//! tooling); plus hostile XML.

use liasse::einvoice::{self, EInvoice, EInvoiceError, Syntax};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

const CORPUS: &str = "../shared/corpus/einvoices";

fn ground_truth() -> Vec<Value> {
    let path = Path::new(CORPUS).join("_ground_truth/ground_truth.jsonl");
    let text = std::fs::read_to_string(&path).expect("the corpus ground truth");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect()
}

/// The extracted XML of a row: `xml_file` is relative to `_ground_truth/<corpus folder>/`.
fn xml_path(row: &Value) -> Option<PathBuf> {
    let xml = row["xml_file"].as_str()?;
    let folder = row["pdf"].as_str()?.split('/').next()?;
    Some(Path::new(CORPUS).join("_ground_truth").join(folder).join(xml))
}

/// Rows whose ground truth is not a reading of an invoice and is replaced by a documented
/// expectation.
enum Special {
    /// The XML is not an invoice (Order-X): sniffed as `None`, refused by `parse`.
    NotAnInvoice,
    /// The XML is not well-formed for us (and the ground truth has no values).
    Refused,
    /// The ground truth took the ZUGFeRD 1 release-candidate draft (root `rsm:Invoice` of
    /// `urn:un:unece:uncefact:data:standard:CBFBUY:5`) for UBL because of the root's local name,
    /// and read no value. We read it as `CiiZugferd1Rc`; its values are checked in
    /// `zugferd1_release_candidate_draft`.
    DraftNotUbl,
}

fn special(row: &Value) -> Option<Special> {
    let root = row["xml_root"].as_str();
    if root == Some("SCRDMCCBDACIOMessageStructure") {
        return Some(Special::NotAnInvoice);
    }
    if row["parse_error"].is_string() {
        return Some(Special::Refused);
    }
    if row["syntax"].as_str() == Some("UBL") && root == Some("Invoice") && row["invoice_number"].is_null() {
        return Some(Special::DraftNotUbl);
    }
    None
}

/// Documented disagreements with the ground truth, each checked against the raw XML: (end of the
/// `xml_file` name, field, why). The test fails when one of them no longer happens, so the list
/// cannot go stale. None remains: the one field that disagreed, `ibans` on the four SEPA
/// direct-debit samples, is compared over payee and debited accounts (see `compare`).
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

fn dec(v: &Value) -> Option<Decimal> {
    v.as_str().map(|s| Decimal::from_str(s).expect("a decimal in the ground truth"))
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn ymd(d: &Option<einvoice::Evidenced<chrono::NaiveDate>>) -> Option<String> {
    d.as_ref().map(|d| d.value.format("%Y%m%d").to_string())
}

fn amount(a: &Option<einvoice::Evidenced<Decimal>>) -> Option<Decimal> {
    a.as_ref().map(|a| a.value)
}

/// Field name → (ground truth, ours), both rendered as comparable strings (decimals normalised).
fn compare(row: &Value, inv: &EInvoice) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    let mut field = |name: &'static str, gt: String, ours: String| out.push((name, gt, ours));
    let norm = |d: Option<Decimal>| format!("{:?}", d.map(|d| d.normalize()));
    let syntax = match inv.syntax {
        Syntax::Cii => "CII",
        Syntax::CiiZugferd1 => "CII-ZUGFeRD1",
        Syntax::CiiZugferd1Rc => "CII-ZUGFeRD1-RC",
        Syntax::Ubl => "UBL",
    };
    field("syntax", format!("{:?}", text(&row["syntax"])), format!("{:?}", Some(syntax)));
    field(
        "profile",
        format!("{:?}", text(&row["profile"])),
        format!("{:?}", inv.profile.as_ref().map(|p| &p.value)),
    );
    field(
        "invoice_number",
        format!("{:?}", text(&row["invoice_number"])),
        format!("{:?}", Some(&inv.number.value)),
    );
    field(
        "type_code",
        format!("{:?}", text(&row["type_code"])),
        format!("{:?}", inv.type_code.as_ref().map(|t| &t.value)),
    );
    field("issue_date", format!("{:?}", text(&row["issue_date"])), format!("{:?}", ymd(&inv.issue_date)));
    field("due_date", format!("{:?}", text(&row["due_date"])), format!("{:?}", ymd(&inv.due_date)));
    let seller = inv.seller.clone().unwrap_or_default();
    let buyer = inv.buyer.clone().unwrap_or_default();
    field(
        "seller_name",
        format!("{:?}", text(&row["seller_name"])),
        format!("{:?}", seller.name.as_ref().map(|n| &n.value)),
    );
    let mut gt_ids: Vec<String> =
        row["seller_vat_ids"].as_array().map(|a| a.iter().filter_map(text).collect()).unwrap_or_default();
    let mut our_ids: Vec<String> =
        seller.vat_ids.iter().chain(seller.tax_numbers.iter()).map(|i| i.value.clone()).collect();
    gt_ids.sort();
    our_ids.sort();
    field("seller_vat_ids", format!("{gt_ids:?}"), format!("{our_ids:?}"));
    field("seller_country", format!("{:?}", text(&row["seller_country"])), format!("{:?}", seller.country()));
    // The ground truth has `seller_legal_id` only where the XML has one.
    let legal = seller.legal_id.as_ref().map(|l| &l.value);
    field(
        "seller_legal_id",
        format!("{:?}", (text(&row["seller_legal_id"]), text(&row["seller_legal_id_scheme"]))),
        format!("{:?}", (legal.map(|l| l.id.clone()), legal.and_then(|l| l.scheme.clone()))),
    );
    field(
        "buyer_name",
        format!("{:?}", text(&row["buyer_name"])),
        format!("{:?}", buyer.name.as_ref().map(|n| &n.value)),
    );
    field(
        "currency",
        format!("{:?}", text(&row["currency"])),
        format!("{:?}", inv.currency.as_ref().map(|c| &c.value)),
    );
    let t = &inv.totals;
    field("line_total", norm(dec(&row["line_total"])), norm(amount(&t.line_total)));
    field("net_total", norm(dec(&row["net_total"])), norm(amount(&t.tax_basis_total)));
    field("tax_total", norm(dec(&row["tax_total"])), norm(amount(&t.tax_total)));
    field("gross_total", norm(dec(&row["gross_total"])), norm(amount(&t.grand_total)));
    field("due_payable", norm(dec(&row["due_payable"])), norm(amount(&t.due_payable)));
    field("prepaid", norm(dec(&row["prepaid"])), norm(amount(&t.prepaid)));
    let gt_vat: Vec<String> = row["vat_breakdown"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| {
                    format!(
                        "{}|{}|{}|{:?}",
                        norm(dec(&v["rate"])),
                        norm(dec(&v["basis"])),
                        norm(dec(&v["tax"])),
                        text(&v["category"])
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let our_vat: Vec<String> = inv
        .vat_breakdown
        .iter()
        .map(|v| {
            format!(
                "{}|{}|{}|{:?}",
                norm(amount(&v.rate)),
                norm(amount(&v.basis)),
                norm(amount(&v.tax)),
                v.category.as_ref().map(|c| c.value.clone())
            )
        })
        .collect();
    field("vat_breakdown", format!("{gt_vat:?}"), format!("{our_vat:?}"));
    let gt_ibans: Vec<String> = row["ibans"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).filter_map(einvoice::normalise_iban).collect())
        .unwrap_or_default();
    // The ground truth lists every IBAN of the XML: the payee's (BT-84) and, for direct debits,
    // the buyer's debited account (BT-91). `EInvoice::ibans` is the payee's only, so both kinds
    // are gathered here.
    let mut our_ibans: Vec<String> = Vec::new();
    for m in &inv.payment_means {
        for a in [&m.account, &m.debited_account].into_iter().flatten() {
            if let Some(iban) = einvoice::normalise_iban(&a.value)
                && !our_ibans.contains(&iban)
            {
                our_ibans.push(iban);
            }
        }
    }
    field("ibans", format!("{gt_ibans:?}"), format!("{our_ibans:?}"));
    field(
        "line_items",
        format!("{:?}", row["line_items"].as_u64()),
        format!("{:?}", Some(inv.lines.len() as u64)),
    );
    out
}

#[test]
fn ground_truth_agreement() {
    let rows = ground_truth();
    assert_eq!(rows.len(), 151, "the corpus ground truth has one row per PDF");
    let mut agree: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut mismatches: Vec<(String, &str, String, String)> = Vec::new();
    let mut compared = 0;
    let mut with_xml = 0;
    for row in &rows {
        let Some(path) = xml_path(row) else { continue };
        with_xml += 1;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let parsed = einvoice::parse(&bytes);
        match special(row) {
            Some(Special::NotAnInvoice) => {
                assert_eq!(einvoice::sniff_root(&bytes), None, "{name}");
                assert!(matches!(parsed, Err(EInvoiceError::NotAnInvoice(_))), "{name}: {parsed:?}");
                continue;
            }
            Some(Special::Refused) => {
                assert!(parsed.is_err(), "{name} should be refused");
                continue;
            }
            Some(Special::DraftNotUbl) => {
                let inv = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(inv.syntax, Syntax::CiiZugferd1Rc, "{name}");
                continue;
            }
            None => {}
        }
        let inv = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(einvoice::sniff_root(&bytes), Some(inv.syntax), "{name}");
        compared += 1;
        for (field, gt, ours) in compare(row, &inv) {
            let e = agree.entry(field).or_default();
            e.1 += 1;
            if gt == ours {
                e.0 += 1;
            } else {
                mismatches.push((name.clone(), field, gt, ours));
            }
        }
    }
    println!("e-invoice ground truth: {with_xml} rows with XML, {compared} compared field by field");
    for (field, (ok, n)) in &agree {
        println!("  {field:<16} {ok:>4}/{n:<4}");
    }
    let mut unexplained = Vec::new();
    for (name, field, gt, ours) in &mismatches {
        let explained = EXCEPTIONS.iter().any(|(file, f, _)| name.ends_with(file) && f == field);
        println!(
            "  {} {name} {field}: ground truth {gt}, ours {ours}",
            if explained { "exception" } else { "MISMATCH" }
        );
        if !explained {
            unexplained.push(format!("{name} {field}: ground truth {gt}, ours {ours}"));
        }
    }
    for (file, field, why) in EXCEPTIONS {
        assert!(
            mismatches.iter().any(|(n, f, _, _)| n.ends_with(file) && f == field),
            "stale exception {file} {field} ({why})"
        );
    }
    assert!(
        unexplained.is_empty(),
        "{} unexplained mismatches:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
}

/// Every XML file of the e-invoice corpus: an invoice root parses, anything else is refused by
/// `sniff_root`. The one refused invoice is the deliberately broken `fail` sample whose XML
/// declaration names the encoding `UTF-8-W/O-BOM`.
#[test]
fn every_corpus_xml() {
    let mut invoices = 0;
    let mut others = 0;
    let mut refused = Vec::new();
    for entry in walkdir::WalkDir::new(CORPUS).sort_by_file_name() {
        let entry = entry.expect("a readable corpus");
        if !entry.file_type().is_file()
            || !entry.file_name().to_string_lossy().to_lowercase().ends_with(".xml")
        {
            continue;
        }
        let name = entry.path().display().to_string();
        let bytes = std::fs::read(entry.path()).expect("a readable file");
        match einvoice::sniff_root(&bytes) {
            None => {
                others += 1;
                assert!(einvoice::parse(&bytes).is_err(), "{name} is not an invoice yet parses");
            }
            Some(syntax) => match einvoice::parse(&bytes) {
                Ok(inv) => {
                    invoices += 1;
                    assert_eq!(inv.syntax, syntax, "{name}");
                    assert!(!inv.number.value.is_empty());
                    // The model survives a JSON round trip.
                    let json = serde_json::to_string(&inv).expect("JSON");
                    let back: EInvoice = serde_json::from_str(&json).expect("the model back");
                    assert_eq!(back, inv, "{name}");
                }
                Err(e) => refused.push((name, e)),
            },
        }
    }
    println!(
        "corpus XML: {invoices} invoices parsed, {others} other roots refused, {} refused",
        refused.len()
    );
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].0.ends_with("factur-x-invalid-xml-encoding-attribute.pdf__factur-x.xml"));
    assert!(matches!(refused[0].1, EInvoiceError::Encoding(_)));
    assert_eq!(invoices, 133);
    assert_eq!(others, 2);
}

fn corpus_xml(name: &str) -> Vec<u8> {
    let path = Path::new(CORPUS).join("_ground_truth/zugferd_corpus/xml").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The 1-based line of the first occurrence of `needle` in the text.
fn line_of(text: &str, needle: &str) -> u32 {
    let at = text.find(needle).unwrap_or_else(|| panic!("{needle} not in the XML"));
    text[..at].matches('\n').count() as u32 + 1
}

#[test]
fn cii_evidence_paths_and_lines() {
    let bytes = corpus_xml("XML-Rechnung__FX__EN16931_Einfach_DueDate.pdf__factur-x.xml");
    let text = String::from_utf8(bytes.clone()).unwrap();
    let inv = einvoice::parse(&bytes).unwrap();
    assert_eq!(inv.number.value, "471102");
    assert_eq!(inv.number.path, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID");
    assert_eq!(inv.number.line, line_of(&text, "<ram:ID>471102"));
    let issue = inv.issue_date.as_ref().unwrap();
    assert_eq!(issue.value.to_string(), "2018-03-05");
    assert_eq!(
        issue.path,
        "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString"
    );
    let line2 = &inv.lines[1];
    assert_eq!(line2.name.as_ref().unwrap().value, "Joghurt Banane");
    assert_eq!(
        line2.net_amount.as_ref().unwrap().path,
        "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem[2]\
         /ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount"
    );
    assert_eq!(line2.net_amount.as_ref().unwrap().line, line_of(&text, "<ram:LineTotalAmount>275.00"));
    let seller = inv.seller.as_ref().unwrap();
    assert_eq!(
        seller.vat_ids[0].path,
        "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement\
         /ram:SellerTradeParty/ram:SpecifiedTaxRegistration[2]/ram:ID"
    );
    assert_eq!(seller.tax_numbers[0].value, "201/113/40209");
    assert_eq!(inv.notes[1].subject_code.as_ref().unwrap().value, "REG");
    assert!(inv.notes[1].content.value.starts_with("Lieferant GmbH"));
    assert!(inv.notes[1].content.value.ends_with("Handelsregisternummer: H A 123"));
    assert_eq!(inv.delivery_date.as_ref().unwrap().value.to_string(), "2018-03-05");
    assert_eq!(inv.due_date.as_ref().unwrap().value.to_string(), "2019-03-05");
    assert!(inv.problems.is_empty(), "{:?}", inv.problems);
    assert_eq!(liasse::intake::sniff(&bytes), Ok(liasse::document::Format::CiiXml));
}

/// A document whose root element uses the default namespace (no prefix) gets the same canonical
/// paths.
#[test]
fn canonical_prefixes_whatever_the_document_uses() {
    let name = "ZUGFeRDv2__correct__intarsys__EN16931__zugferd_2p0_EN16931_Innergemeinschaftliche_Lieferungen.pdf__zugferd-invoice.xml";
    let bytes = corpus_xml(name);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("<CrossIndustryInvoice xmlns:qdt="));
    assert!(text.contains(" xmlns=\"urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100\""));
    let inv = einvoice::parse(&bytes).unwrap();
    assert!(inv.number.path.starts_with("/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID"));
}

#[test]
fn zugferd1_and_its_draft() {
    let bytes = corpus_xml(
        "ZUGFeRDv1__correct__Intarsys__ZUGFeRD_1p0_COMFORT_SEPA_Prenotification.pdf__ZUGFeRD-invoice.xml",
    );
    let inv = einvoice::parse(&bytes).unwrap();
    assert_eq!(inv.syntax, Syntax::CiiZugferd1);
    assert!(inv.number.path.starts_with("/rsm:CrossIndustryDocument/rsm:HeaderExchangedDocument/ram:ID"));
    // A direct debit: the IBAN is the buyer's debited account, not a payee account.
    assert!(inv.ibans().is_empty());
    let means = &inv.payment_means[0];
    assert_eq!(means.type_code.as_ref().unwrap().value, "49");
    assert_eq!(means.debited_account.as_ref().unwrap().value, "DE21860000000086001055");
    assert_eq!(inv.direct_debit_mandate.as_ref().unwrap().value, "REF A-123");
    assert_eq!(inv.creditor_reference.as_ref().unwrap().value, "DE98ZZZ09999999999");

    // A month date (format 610) is read as its first day, with a note.
    let bytes = corpus_xml("ZUGFeRDv1__correct__Konik__acme_invoice-42_ZUGFeRD.pdf__ZUGFeRD-invoice.xml");
    let inv = einvoice::parse(&bytes).unwrap();
    assert_eq!(inv.delivery_date.as_ref().unwrap().value.to_string(), "2014-12-01");
    assert_eq!(inv.problems.len(), 1);
    assert!(inv.problems[0].message.contains("610"));

    // The release-candidate draft: children in no namespace, paths without prefixes below the
    // root's children.
    let bytes = corpus_xml(
        "ZUGFeRDv1__correct__Mustangproject__MustangGnuaccountingBeispielRE-20140519_499.pdf__ZUGFeRD-invoice.xml",
    );
    let inv = einvoice::parse(&bytes).unwrap();
    assert_eq!(inv.syntax, Syntax::CiiZugferd1Rc);
    assert_eq!(inv.number.value, "RE-20140519/499");
    assert_eq!(inv.number.path, "/rsm:Invoice/rsm:HeaderExchangedDocument/ID");
    assert_eq!(inv.profile.as_ref().unwrap().value, "urn:ferd:invoice:rc:comfort");
    assert_eq!(inv.issue_date.as_ref().unwrap().value.to_string(), "2014-05-19");
    assert_eq!(inv.due_date.as_ref().unwrap().value.to_string(), "2014-06-09");
    assert_eq!(inv.seller.as_ref().unwrap().name.as_ref().unwrap().value, "usegroup Inh. Jochen Stärk");
    assert_eq!(inv.buyer.as_ref().unwrap().name.as_ref().unwrap().value, "Theodor Est");
    assert_eq!(inv.totals.grand_total.as_ref().unwrap().value, Decimal::from_str("559.84").unwrap());
    assert_eq!(inv.lines.len(), 3);
    assert_eq!(inv.lines[1].quantity.as_ref().unwrap().value.unit.as_deref(), Some("C62"));
}

/// The corpus invoice `EN16931_Einfach_DueDate` (CII) written by hand in UBL along the EN 16931
/// UBL binding: both syntaxes must give the same invoice.
const EINFACH_UBL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
    xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
    xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>
  <cbc:ID>471102</cbc:ID>
  <cbc:IssueDate>2018-03-05</cbc:IssueDate>
  <cbc:DueDate>2019-03-05</cbc:DueDate>
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:Note>Rechnung gemäß Bestellung vom 01.03.2018.</cbc:Note>
  <cbc:Note>#REG#Lieferant GmbH Lieferantenstraße 20 80333 München Deutschland Geschäftsführer: Hans Muster Handelsregisternummer: H A 123</cbc:Note>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cac:AccountingSupplierParty>
    <cac:Party>
      <cac:PartyIdentification><cbc:ID>549910</cbc:ID></cac:PartyIdentification>
      <cac:PartyIdentification><cbc:ID schemeID="0088">4000001123452</cbc:ID></cac:PartyIdentification>
      <cac:PostalAddress>
        <cbc:StreetName>Lieferantenstraße 20</cbc:StreetName>
        <cbc:CityName>München</cbc:CityName>
        <cbc:PostalZone>80333</cbc:PostalZone>
        <cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country>
      </cac:PostalAddress>
      <cac:PartyTaxScheme>
        <cbc:CompanyID>DE123456789</cbc:CompanyID>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:PartyTaxScheme>
      <cac:PartyTaxScheme>
        <cbc:CompanyID>201/113/40209</cbc:CompanyID>
        <cac:TaxScheme><cbc:ID>FC</cbc:ID></cac:TaxScheme>
      </cac:PartyTaxScheme>
      <cac:PartyLegalEntity><cbc:RegistrationName>Lieferant GmbH</cbc:RegistrationName></cac:PartyLegalEntity>
    </cac:Party>
  </cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty>
    <cac:Party>
      <cac:PartyIdentification><cbc:ID>GE2020211</cbc:ID></cac:PartyIdentification>
      <cac:PostalAddress>
        <cbc:StreetName>Kundenstraße 15</cbc:StreetName>
        <cbc:CityName>Frankfurt</cbc:CityName>
        <cbc:PostalZone>69876</cbc:PostalZone>
        <cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country>
      </cac:PostalAddress>
      <cac:PartyLegalEntity><cbc:RegistrationName>Kunden AG Mitte</cbc:RegistrationName></cac:PartyLegalEntity>
    </cac:Party>
  </cac:AccountingCustomerParty>
  <cac:Delivery><cbc:ActualDeliveryDate>2018-03-05</cbc:ActualDeliveryDate></cac:Delivery>
  <cac:TaxTotal>
    <cbc:TaxAmount currencyID="EUR">56.87</cbc:TaxAmount>
    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="EUR">275.00</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="EUR">19.25</cbc:TaxAmount>
      <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>7.00</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
    </cac:TaxSubtotal>
    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="EUR">198.00</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="EUR">37.62</cbc:TaxAmount>
      <cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>19.00</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>
    </cac:TaxSubtotal>
  </cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">473.00</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">473.00</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">529.87</cbc:TaxInclusiveAmount>
    <cbc:AllowanceTotalAmount currencyID="EUR">0.00</cbc:AllowanceTotalAmount>
    <cbc:ChargeTotalAmount currencyID="EUR">0.00</cbc:ChargeTotalAmount>
    <cbc:PrepaidAmount currencyID="EUR">0.00</cbc:PrepaidAmount>
    <cbc:PayableAmount currencyID="EUR">529.87</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:InvoiceLine>
    <cbc:ID>1</cbc:ID>
    <cbc:InvoicedQuantity unitCode="H87">20.0000</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">198.00</cbc:LineExtensionAmount>
    <cac:Item>
      <cbc:Name>Trennblätter A4</cbc:Name>
      <cac:SellersItemIdentification><cbc:ID>TB100A4</cbc:ID></cac:SellersItemIdentification>
      <cac:StandardItemIdentification><cbc:ID schemeID="0160">4012345001235</cbc:ID></cac:StandardItemIdentification>
      <cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>19.00</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price>
      <cbc:PriceAmount currencyID="EUR">9.9000</cbc:PriceAmount>
      <cac:AllowanceCharge>
        <cbc:ChargeIndicator>false</cbc:ChargeIndicator>
        <cbc:Amount currencyID="EUR">0.00</cbc:Amount>
        <cbc:BaseAmount currencyID="EUR">9.9000</cbc:BaseAmount>
      </cac:AllowanceCharge>
    </cac:Price>
  </cac:InvoiceLine>
  <cac:InvoiceLine>
    <cbc:ID>2</cbc:ID>
    <cbc:InvoicedQuantity unitCode="H87">50.0000</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">275.00</cbc:LineExtensionAmount>
    <cac:Item>
      <cbc:Name>Joghurt Banane</cbc:Name>
      <cac:SellersItemIdentification><cbc:ID>ARNR2</cbc:ID></cac:SellersItemIdentification>
      <cac:StandardItemIdentification><cbc:ID schemeID="0160">4000050986428</cbc:ID></cac:StandardItemIdentification>
      <cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>7.00</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price>
      <cbc:PriceAmount currencyID="EUR">5.5000</cbc:PriceAmount>
      <cac:AllowanceCharge>
        <cbc:ChargeIndicator>false</cbc:ChargeIndicator>
        <cbc:Amount currencyID="EUR">0.00</cbc:Amount>
        <cbc:BaseAmount currencyID="EUR">5.5000</cbc:BaseAmount>
      </cac:AllowanceCharge>
    </cac:Price>
  </cac:InvoiceLine>
</Invoice>
"#;

/// The model as plain values: evidence dropped, white space collapsed, syntax and problems left
/// out.
fn values_only(inv: &EInvoice) -> Value {
    fn strip(v: Value) -> Value {
        match v {
            Value::Object(map)
                if map.contains_key("path") && map.contains_key("line") && map.contains_key("value") =>
            {
                strip(map.get("value").cloned().unwrap_or(Value::Null))
            }
            Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, strip(v))).collect()),
            Value::Array(a) => Value::Array(a.into_iter().map(strip).collect()),
            Value::String(s) => Value::String(s.split_whitespace().collect::<Vec<_>>().join(" ")),
            other => other,
        }
    }
    let mut v = strip(serde_json::to_value(inv).expect("JSON"));
    if let Value::Object(map) = &mut v {
        map.remove("syntax");
        map.remove("problems");
    }
    v
}

#[test]
fn ubl_and_cii_give_the_same_invoice() {
    let cii =
        einvoice::parse(&corpus_xml("XML-Rechnung__FX__EN16931_Einfach_DueDate.pdf__factur-x.xml")).unwrap();
    let ubl = einvoice::parse(EINFACH_UBL.as_bytes()).unwrap();
    assert_eq!(ubl.syntax, Syntax::Ubl);
    assert!(ubl.problems.is_empty(), "{:?}", ubl.problems);
    assert_eq!(values_only(&ubl), values_only(&cii));
    assert_eq!(ubl.number.path, "/ubl:Invoice/cbc:ID");
    assert_eq!(ubl.number.line, line_of(EINFACH_UBL, "<cbc:ID>471102"));
    assert_eq!(
        ubl.lines[1].net_price.as_ref().unwrap().path,
        "/ubl:Invoice/cac:InvoiceLine[2]/cac:Price/cbc:PriceAmount"
    );
    assert_eq!(ubl.notes[1].subject_code.as_ref().unwrap().value, "REG");
    assert_eq!(liasse::intake::sniff(EINFACH_UBL.as_bytes()), Ok(liasse::document::Format::UblXml));
}

/// A French UBL credit note (Peppol BIS 3 style), written for this test: SIREN/SIRET
/// identifiers, an accounting currency, a payment IBAN with spaces, note subject codes, a
/// malformed amount.
const CREDIT_NOTE_UBL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
    xmlns:c="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
    xmlns:b="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <b:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</b:CustomizationID>
  <b:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</b:ProfileID>
  <b:ID>AV-2026-0042</b:ID>
  <b:IssueDate>2026-01-15</b:IssueDate>
  <b:CreditNoteTypeCode>381</b:CreditNoteTypeCode>
  <b:Note>#AAB#Avoir sur la facture FA-2025-0999 : remise commerciale</b:Note>
  <b:Note>#PMT#Indemnité forfaitaire pour frais de recouvrement : 40 EUR</b:Note>
  <b:Note>Sans sujet</b:Note>
  <b:DocumentCurrencyCode>EUR</b:DocumentCurrencyCode>
  <b:TaxCurrencyCode>USD</b:TaxCurrencyCode>
  <b:BuyerReference>SERVICE-ACHATS</b:BuyerReference>
  <c:OrderReference><b:ID>PO-77</b:ID></c:OrderReference>
  <c:BillingReference>
    <c:InvoiceDocumentReference><b:ID>FA-2025-0999</b:ID><b:IssueDate>2025-12-20</b:IssueDate></c:InvoiceDocumentReference>
  </c:BillingReference>
  <c:AccountingSupplierParty>
    <c:Party>
      <b:EndpointID schemeID="0009">73282932000074</b:EndpointID>
      <c:PartyName><b:Name>Papeterie Exemple</b:Name></c:PartyName>
      <c:PostalAddress>
        <b:StreetName>12 rue de l'Exemple</b:StreetName>
        <b:CityName>Lyon</b:CityName>
        <b:PostalZone>69002</b:PostalZone>
        <c:Country><b:IdentificationCode>FR</b:IdentificationCode></c:Country>
      </c:PostalAddress>
      <c:PartyTaxScheme><b:CompanyID>FR44732829320</b:CompanyID><c:TaxScheme><b:ID>VAT</b:ID></c:TaxScheme></c:PartyTaxScheme>
      <c:PartyLegalEntity>
        <b:RegistrationName>Exemple SAS</b:RegistrationName>
        <b:CompanyID schemeID="0002">732829320</b:CompanyID>
        <b:CompanyLegalForm>SAS au capital de 10 000 EUR</b:CompanyLegalForm>
      </c:PartyLegalEntity>
      <c:Contact><b:Name>Service facturation</b:Name><b:ElectronicMail>factures@example.fr</b:ElectronicMail></c:Contact>
    </c:Party>
  </c:AccountingSupplierParty>
  <c:AccountingCustomerParty>
    <c:Party>
      <c:PartyLegalEntity><b:RegistrationName>Client SARL</b:RegistrationName></c:PartyLegalEntity>
    </c:Party>
  </c:AccountingCustomerParty>
  <c:PaymentMeans>
    <b:PaymentMeansCode name="Virement SEPA">58</b:PaymentMeansCode>
    <b:PaymentDueDate>2026-02-14</b:PaymentDueDate>
    <b:PaymentID>AV-2026-0042</b:PaymentID>
    <c:PayeeFinancialAccount>
      <b:ID>FR76 3000 6000 0112 3456 7890 189</b:ID>
      <b:Name>Exemple SAS</b:Name>
      <c:FinancialInstitutionBranch><b:ID>AGRIFRPP</b:ID></c:FinancialInstitutionBranch>
    </c:PayeeFinancialAccount>
  </c:PaymentMeans>
  <c:PaymentTerms><b:Note>Remboursement sous 30 jours</b:Note></c:PaymentTerms>
  <c:AllowanceCharge>
    <b:ChargeIndicator>true</b:ChargeIndicator>
    <b:AllowanceChargeReasonCode>FC</b:AllowanceChargeReasonCode>
    <b:AllowanceChargeReason>Frais de port</b:AllowanceChargeReason>
    <b:Amount currencyID="EUR">10.00</b:Amount>
    <c:TaxCategory><b:ID>S</b:ID><b:Percent>20</b:Percent><c:TaxScheme><b:ID>VAT</b:ID></c:TaxScheme></c:TaxCategory>
  </c:AllowanceCharge>
  <c:TaxTotal>
    <b:TaxAmount currencyID="USD">26.10</b:TaxAmount>
  </c:TaxTotal>
  <c:TaxTotal>
    <b:TaxAmount currencyID="EUR">22.00</b:TaxAmount>
    <c:TaxSubtotal>
      <b:TaxableAmount currencyID="EUR">110.00</b:TaxableAmount>
      <b:TaxAmount currencyID="EUR">22.00</b:TaxAmount>
      <c:TaxCategory><b:ID>S</b:ID><b:Percent>20</b:Percent><c:TaxScheme><b:ID>VAT</b:ID></c:TaxScheme></c:TaxCategory>
    </c:TaxSubtotal>
  </c:TaxTotal>
  <c:LegalMonetaryTotal>
    <b:LineExtensionAmount currencyID="EUR">100.00</b:LineExtensionAmount>
    <b:TaxExclusiveAmount currencyID="EUR">110.00</b:TaxExclusiveAmount>
    <b:TaxInclusiveAmount currencyID="EUR">132.00</b:TaxInclusiveAmount>
    <b:ChargeTotalAmount currencyID="EUR">10.00</b:ChargeTotalAmount>
    <b:PrepaidAmount currencyID="EUR">n/a</b:PrepaidAmount>
    <b:PayableAmount currencyID="EUR">132.00</b:PayableAmount>
  </c:LegalMonetaryTotal>
  <c:CreditNoteLine>
    <b:ID>1</b:ID>
    <b:CreditedQuantity unitCode="C62">4</b:CreditedQuantity>
    <b:LineExtensionAmount currencyID="EUR">60.00</b:LineExtensionAmount>
    <c:Item>
      <b:Name>Ramette A4</b:Name>
      <c:ClassifiedTaxCategory><b:ID>S</b:ID><b:Percent>20</b:Percent><c:TaxScheme><b:ID>VAT</b:ID></c:TaxScheme></c:ClassifiedTaxCategory>
    </c:Item>
    <c:Price><b:PriceAmount currencyID="EUR">15.00</b:PriceAmount></c:Price>
  </c:CreditNoteLine>
  <c:CreditNoteLine>
    <b:ID>2</b:ID>
    <b:Note>Geste commercial</b:Note>
    <b:CreditedQuantity unitCode="C62">1</b:CreditedQuantity>
    <b:LineExtensionAmount currencyID="EUR">40.00</b:LineExtensionAmount>
    <c:Item>
      <b:Name>Remise</b:Name>
      <c:ClassifiedTaxCategory><b:ID>S</b:ID><b:Percent>20</b:Percent><c:TaxScheme><b:ID>VAT</b:ID></c:TaxScheme></c:ClassifiedTaxCategory>
    </c:Item>
    <c:Price><b:PriceAmount currencyID="EUR">40.00</b:PriceAmount><b:BaseQuantity unitCode="C62">1</b:BaseQuantity></c:Price>
  </c:CreditNoteLine>
</CreditNote>
"#;

#[test]
fn ubl_credit_note() {
    let dec = |s: &str| Some(Decimal::from_str(s).unwrap());
    let inv = einvoice::parse(CREDIT_NOTE_UBL.as_bytes()).unwrap();
    assert_eq!(inv.syntax, Syntax::Ubl);
    assert!(inv.is_credit_note());
    assert_eq!(inv.profile_kind(), Some(einvoice::ProfileKind::Peppol));
    assert_eq!(inv.number.path, "/cn:CreditNote/cbc:ID");
    assert_eq!(inv.type_code.as_ref().unwrap().value, "381");
    // No DueDate in a UBL credit note: the payment means' due date.
    assert_eq!(inv.due_date.as_ref().unwrap().value.to_string(), "2026-02-14");
    assert_eq!(inv.due_date.as_ref().unwrap().path, "/cn:CreditNote/cac:PaymentMeans/cbc:PaymentDueDate");
    assert_eq!(inv.preceding_invoices[0].id.value, "FA-2025-0999");
    assert_eq!(inv.preceding_invoices[0].issue_date.as_ref().unwrap().value.to_string(), "2025-12-20");
    assert_eq!(inv.order_reference.as_ref().unwrap().value, "PO-77");
    assert_eq!(inv.buyer_reference.as_ref().unwrap().value, "SERVICE-ACHATS");
    let notes: Vec<(Option<&str>, &str)> = inv
        .notes
        .iter()
        .map(|n| (n.subject_code.as_ref().map(|c| c.value.as_str()), n.content.value.as_str()))
        .collect();
    assert_eq!(
        notes,
        [
            (Some("AAB"), "Avoir sur la facture FA-2025-0999 : remise commerciale"),
            (Some("PMT"), "Indemnité forfaitaire pour frais de recouvrement : 40 EUR"),
            (None, "Sans sujet"),
        ]
    );
    assert_eq!(inv.notes[1].content.path, "/cn:CreditNote/cbc:Note[2]");

    let seller = inv.seller.as_ref().unwrap();
    assert_eq!(seller.name.as_ref().unwrap().value, "Exemple SAS");
    assert_eq!(seller.trading_name.as_ref().unwrap().value, "Papeterie Exemple");
    assert_eq!(seller.siren().as_deref(), Some("732829320"));
    assert_eq!(seller.siret().as_deref(), Some("73282932000074"));
    assert_eq!(seller.vat_ids[0].value, "FR44732829320");
    assert_eq!(seller.legal_info.as_ref().unwrap().value, "SAS au capital de 10 000 EUR");
    assert_eq!(seller.country(), Some("FR"));
    assert_eq!(seller.contact.as_ref().unwrap().email.as_ref().unwrap().value, "factures@example.fr");
    assert_eq!(inv.buyer.as_ref().unwrap().name.as_ref().unwrap().value, "Client SARL");

    assert_eq!(inv.ibans(), ["FR7630006000011234567890189"]);
    let means = &inv.payment_means[0];
    assert_eq!(means.information.as_ref().unwrap().value, "Virement SEPA");
    assert_eq!(means.bic.as_ref().unwrap().value, "AGRIFRPP");
    assert_eq!(inv.payment_reference.as_ref().unwrap().value, "AV-2026-0042");
    assert_eq!(inv.payment_terms[0].value, "Remboursement sous 30 jours");

    // BT-110 is the TaxTotal in the invoice currency, whatever the order.
    assert_eq!(inv.totals.tax_total.as_ref().map(|a| a.value), dec("22.00"));
    assert_eq!(inv.totals.tax_total_accounting.as_ref().map(|a| a.value), dec("26.10"));
    assert_eq!(inv.tax_currency.as_ref().unwrap().value, "USD");
    assert_eq!(inv.totals.grand_total.as_ref().map(|a| a.value), dec("132.00"));
    assert_eq!(inv.totals.charge_total.as_ref().map(|a| a.value), dec("10.00"));
    // The malformed paid amount is left out and recorded.
    assert_eq!(inv.totals.prepaid, None);
    assert_eq!(inv.problems.len(), 1);
    assert_eq!(inv.problems[0].path, "/cn:CreditNote/cac:LegalMonetaryTotal/cbc:PrepaidAmount");
    assert_eq!(inv.problems[0].line, line_of(CREDIT_NOTE_UBL, "n/a"));

    let charge = &inv.allowances_charges[0];
    assert_eq!(charge.is_charge.as_ref().map(|c| c.value), Some(true));
    assert_eq!(charge.reason.as_ref().unwrap().value, "Frais de port");
    assert_eq!(charge.vat_rate.as_ref().map(|a| a.value), dec("20"));
    assert_eq!(inv.vat_breakdown.len(), 1);
    assert_eq!(inv.vat_breakdown[0].basis.as_ref().map(|a| a.value), dec("110.00"));

    assert_eq!(inv.lines.len(), 2);
    let l2 = &inv.lines[1];
    assert_eq!(l2.quantity.as_ref().unwrap().value.value, Decimal::ONE);
    assert_eq!(
        l2.quantity.as_ref().unwrap().path,
        "/cn:CreditNote/cac:CreditNoteLine[2]/cbc:CreditedQuantity"
    );
    assert_eq!(l2.notes[0].value, "Geste commercial");
    assert_eq!(l2.price_base_quantity.as_ref().unwrap().value.unit.as_deref(), Some("C62"));
    assert_eq!(inv.lines[0].net_amount.as_ref().map(|a| a.value), dec("60.00"));
    assert_eq!(liasse::intake::sniff(CREDIT_NOTE_UBL.as_bytes()), Ok(liasse::document::Format::UblXml));
}

/// Hostile XML: typed errors, never a panic, and no work beyond the bounds.
mod hostile {
    use super::*;

    fn cii_with(body: &str) -> String {
        format!(
            r#"<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"><rsm:ExchangedDocument><ram:ID>X-1</ram:ID>{body}</rsm:ExchangedDocument></rsm:CrossIndustryInvoice>"#
        )
    }

    #[test]
    fn billion_laughs_and_external_entities_are_refused() {
        let mut dtd = String::from("<!DOCTYPE rsm:CrossIndustryInvoice [\n<!ENTITY lol \"lol\">\n");
        for i in 1..10 {
            let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
            dtd.push_str(&format!("<!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10)));
        }
        dtd.push_str("]>\n");
        let laughs = format!("<?xml version=\"1.0\"?>\n{dtd}{}", cii_with("<ram:Name>&lol9;</ram:Name>"));
        assert_eq!(einvoice::parse(laughs.as_bytes()), Err(EInvoiceError::Dtd));
        assert_eq!(einvoice::sniff_root(laughs.as_bytes()), None);

        let xxe = format!(
            "<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
            cii_with("<ram:Name>&xxe;</ram:Name>")
        );
        assert_eq!(einvoice::parse(xxe.as_bytes()), Err(EInvoiceError::Dtd));
        // Without a DTD, an entity reference is simply unknown.
        let undeclared = cii_with("<ram:Name>&xxe;</ram:Name>");
        assert!(matches!(einvoice::parse(undeclared.as_bytes()), Err(EInvoiceError::Malformed(_))));
    }

    #[test]
    fn huge_inputs() {
        // Past the byte limit: refused before any parsing.
        let mut big = cii_with("").into_bytes();
        big.resize(einvoice::xml::MAX_XML_BYTES + 1, b' ');
        assert!(matches!(einvoice::parse(&big), Err(EInvoiceError::TooLarge { what: "bytes", .. })));
        // A huge text within the limit is read.
        let long_note = "x".repeat(8 * 1024 * 1024);
        let doc =
            cii_with(&format!("<ram:IncludedNote><ram:Content>{long_note}</ram:Content></ram:IncludedNote>"));
        let inv = einvoice::parse(doc.as_bytes()).unwrap();
        assert_eq!(inv.notes[0].content.value.len(), long_note.len());
        // Too many nodes.
        let many = cii_with(&"<a/>".repeat(einvoice::xml::MAX_XML_NODES as usize));
        assert!(matches!(
            einvoice::parse(many.as_bytes()),
            Err(EInvoiceError::TooLarge { what: "XML nodes", .. })
        ));
    }

    #[test]
    fn deep_nesting() {
        let n = 200_000;
        let deep = cii_with(&format!("{}{}", "<a>".repeat(n), "</a>".repeat(n)));
        assert!(matches!(einvoice::parse(deep.as_bytes()), Err(EInvoiceError::TooLarge { .. })));
        let unclosed = cii_with(&"<a>".repeat(n));
        assert!(einvoice::parse(unclosed.as_bytes()).is_err());
        // Nesting within the limit is fine.
        let k = einvoice::xml::MAX_XML_DEPTH - 4;
        let ok = cii_with(&format!("{}{}", "<a>".repeat(k), "</a>".repeat(k)));
        assert_eq!(einvoice::parse(ok.as_bytes()).unwrap().number.value, "X-1");
    }

    #[test]
    fn bad_encodings() {
        let latin1_undeclared = cii_with("<ram:Name>Soci\u{e9}t\u{e9}</ram:Name>")
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap())
            .collect::<Vec<u8>>();
        assert!(matches!(einvoice::parse(&latin1_undeclared), Err(EInvoiceError::Encoding(_))));
        let mut declared = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>".to_vec();
        declared.extend_from_slice(&latin1_undeclared);
        assert_eq!(einvoice::parse(&declared).unwrap().number.value, "X-1");
        let mut utf16: Vec<u8> = vec![0xFF, 0xFE];
        utf16.extend(cii_with("").encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(einvoice::parse(&utf16).unwrap().number.value, "X-1");
        utf16.pop();
        assert!(matches!(einvoice::parse(&utf16), Err(EInvoiceError::Encoding(_))));
        assert!(einvoice::parse(b"\xFF\xD8\xFF\xE0 not xml at all").is_err());
        assert!(einvoice::parse(&[0u8; 64]).is_err());
    }

    /// Every prefix of a real invoice: an error or (past the root's end) the invoice, never a
    /// panic.
    #[test]
    fn truncated() {
        let bytes = corpus_xml("XML-Rechnung__FX__EN16931_Einfach_DueDate.pdf__factur-x.xml");
        let full = einvoice::parse(&bytes).unwrap();
        let end = bytes.len();
        let mut refused = 0;
        for cut in (0..end).step_by(7).chain(end - 40..end) {
            let prefix = &bytes[..cut];
            let _ = einvoice::sniff_root(prefix);
            match einvoice::parse(prefix) {
                Ok(inv) => assert_eq!(inv, full, "a prefix of {cut} bytes parsed differently"),
                Err(
                    EInvoiceError::Malformed(_) | EInvoiceError::Encoding(_) | EInvoiceError::NotAnInvoice(_),
                ) => refused += 1,
                Err(e) => panic!("{cut}: unexpected {e:?}"),
            }
        }
        assert!(refused > 1000);
    }
}
