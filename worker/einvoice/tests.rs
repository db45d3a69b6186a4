use super::xml::{decode, parse_date, parse_decimal};
use super::*;
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn decimals_are_xml_schema_decimals() {
    assert_eq!(parse_decimal("1234.56"), Some(d("1234.56")));
    assert_eq!(parse_decimal(" -0.50 "), Some(d("-0.50")));
    assert_eq!(parse_decimal("+7"), Some(d("7")));
    assert_eq!(parse_decimal(".5"), Some(d("0.5")));
    assert_eq!(parse_decimal("5."), Some(d("5")));
    // The scale is kept: 9.9000 stays 9.9000.
    assert_eq!(parse_decimal("9.9000").map(|v| v.to_string()), Some("9.9000".to_string()));
    for bad in ["", ".", "-", "1,234.56", "1 234", "1e3", "12a", "NaN", "1_000", "--1", "1.2.3", "١٢"] {
        assert_eq!(parse_decimal(bad), None, "{bad:?}");
    }
    // Beyond what a Decimal holds: refused, not rounded.
    assert_eq!(parse_decimal(&"9".repeat(40)), None);
    assert_eq!(parse_decimal(&format!("0.{}", "1".repeat(40))), None);
}

#[test]
fn dates_in_cii_and_ubl_forms() {
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert_eq!(parse_date("20180305", Some("102")), Ok((day(2018, 3, 5), None)));
    assert_eq!(parse_date("20180305", None), Ok((day(2018, 3, 5), None)));
    assert_eq!(parse_date("2018-03-05", None), Ok((day(2018, 3, 5), None)));
    assert_eq!(parse_date("2018-03-05Z", None), Ok((day(2018, 3, 5), None)));
    assert_eq!(parse_date("2018-03-05+01:00", None), Ok((day(2018, 3, 5), None)));
    let (month, note) = parse_date("201412", Some("610")).unwrap();
    assert_eq!(month, day(2014, 12, 1));
    assert!(note.is_some());
    let (week, note) = parse_date("202402", Some("616")).unwrap();
    assert_eq!(week, day(2024, 1, 8));
    assert!(note.is_some());
    // ISO written under format 102: read, with a note.
    let (iso, note) = parse_date("2018-03-05", Some("102")).unwrap();
    assert_eq!(iso, day(2018, 3, 5));
    assert!(note.is_some());
    for (bad, format) in [
        ("20181305", Some("102")),
        ("20180230", Some("102")),
        ("2018030", Some("102")),
        ("201813", Some("610")),
        ("202460", Some("616")),
        ("05.03.2018", None),
        ("2018-03-05junk", None),
        ("", None),
        ("２０１８０３０５", Some("102")),
        ("20180305", Some("999")),
    ] {
        assert!(parse_date(bad, format).is_err(), "{bad:?} {format:?}");
    }
}

#[test]
fn encodings() {
    assert_eq!(decode(b"<a/>").unwrap(), "<a/>");
    assert_eq!(decode(b"\xEF\xBB\xBF<a/>").unwrap(), "<a/>");
    let utf16le: Vec<u8> =
        [0xFF, 0xFE].into_iter().chain("<a>é</a>".encode_utf16().flat_map(|u| u.to_le_bytes())).collect();
    assert_eq!(decode(&utf16le).unwrap(), "<a>é</a>");
    let utf16be: Vec<u8> =
        [0xFE, 0xFF].into_iter().chain("<a>é</a>".encode_utf16().flat_map(|u| u.to_be_bytes())).collect();
    assert_eq!(decode(&utf16be).unwrap(), "<a>é</a>");
    let latin1 = b"<?xml version='1.0' encoding='ISO-8859-1'?><a>\xE9</a>";
    assert!(decode(latin1).unwrap().ends_with("<a>é</a>"));
    assert!(matches!(decode(b"<a>\xE9</a>"), Err(EInvoiceError::Encoding(_))));
    assert!(matches!(
        decode(b"<?xml version=\"1.0\" encoding=\"windows-1252\"?><a/>"),
        Err(EInvoiceError::Encoding(_))
    ));
    assert!(matches!(decode(b"\xFF\xFE<\0a"), Err(EInvoiceError::Encoding(_))));
}

#[test]
fn root_sniffing_is_by_namespace_not_prefix() {
    let cii = br#"<?xml version="1.0"?><!-- a comment with <tags> --><x:CrossIndustryInvoice xmlns:x="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" a='>'>"#;
    assert_eq!(sniff_root(cii), Some(Syntax::Cii));
    let default_ns =
        br#"<CrossIndustryInvoice xmlns="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"><rest"#;
    assert_eq!(sniff_root(default_ns), Some(Syntax::Cii));
    let ubl = b"\xEF\xBB\xBF\n<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\">";
    assert_eq!(sniff_root(ubl), Some(Syntax::Ubl));
    let cn = br#"<ns:CreditNote xmlns:ns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"/>"#;
    assert_eq!(sniff_root(cn), Some(Syntax::Ubl));
    let zf1 = br#"<rsm:CrossIndustryDocument xmlns:rsm="urn:ferd:CrossIndustryDocument:invoice:1p0">"#;
    assert_eq!(sniff_root(zf1), Some(Syntax::CiiZugferd1));
    // The right prefix with the wrong namespace, the right name in no namespace, a UBL Order.
    let wrong_ns = br#"<rsm:CrossIndustryInvoice xmlns:rsm="urn:example">"#;
    assert_eq!(sniff_root(wrong_ns), None);
    assert_eq!(sniff_root(b"<Invoice>"), None);
    let order = br#"<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2">"#;
    assert_eq!(sniff_root(order), None);
    // A start tag using an undeclared prefix, DTDs, garbage, nothing.
    assert_eq!(sniff_root(b"<rsm:CrossIndustryInvoice>"), None);
    assert_eq!(
        sniff_root(b"<!DOCTYPE x><Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\">"),
        None
    );
    assert_eq!(sniff_root(b"\x00\x01\x02"), None);
    assert_eq!(sniff_root(b""), None);
    assert_eq!(sniff_root(b"<!-- never closed"), None);
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"/>"
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes()),
        )
        .collect();
    assert_eq!(sniff_root(&utf16), Some(Syntax::Ubl));
}

#[test]
fn ibans_are_normalised_by_shape() {
    assert_eq!(normalise_iban("DE88 2008 0000 0970 3757 00").as_deref(), Some("DE88200800000970375700"));
    assert_eq!(
        normalise_iban("fr76 3000 6000 0112 3456 7890 189").as_deref(),
        Some("FR7630006000011234567890189")
    );
    assert_eq!(normalise_iban("DE01234.."), None);
    assert_eq!(normalise_iban("123456789"), None);
    assert_eq!(normalise_iban(""), None);
}

fn ev<T>(value: T) -> Evidenced<T> {
    Evidenced { value, path: "/x".into(), line: 1 }
}

#[test]
fn french_identifiers() {
    let id = |id: &str, scheme: &str| ev(Identifier { id: id.into(), scheme: Some(scheme.into()) });
    let siret_party = Party { legal_id: Some(id("99999999800010", "0002")), ..Party::default() };
    assert_eq!(siret_party.siren().as_deref(), Some("999999998"));
    assert_eq!(siret_party.siret().as_deref(), Some("99999999800010"));
    let siren_party = Party { legal_id: Some(id("732 829 320", "0002")), ..Party::default() };
    assert_eq!(siren_party.siren().as_deref(), Some("732829320"));
    assert_eq!(siren_party.siret(), None);
    let by_endpoint = Party { electronic_address: Some(id("73282932000074", "0009")), ..Party::default() };
    assert_eq!(by_endpoint.siret().as_deref(), Some("73282932000074"));
    let german = Party { legal_id: Some(id("HRB 720569", "0002")), ..Party::default() };
    assert_eq!(german.siren(), None);
    let other_scheme = Party { legal_id: Some(id("999999998", "0088")), ..Party::default() };
    assert_eq!(other_scheme.siren(), None);
}

#[test]
fn profiles_and_kinds() {
    assert_eq!(profile_kind("urn:cen.eu:en16931:2017"), ProfileKind::En16931);
    assert_eq!(profile_kind("urn:factur-x.eu:1p0:minimum"), ProfileKind::Minimum);
    assert_eq!(profile_kind("urn:factur-x.eu:1p0:basicwl"), ProfileKind::BasicWl);
    assert_eq!(
        profile_kind("urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic"),
        ProfileKind::Basic
    );
    assert_eq!(
        profile_kind("urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended"),
        ProfileKind::Extended
    );
    assert_eq!(
        profile_kind("urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"),
        ProfileKind::XRechnung
    );
    assert_eq!(
        profile_kind("urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"),
        ProfileKind::Peppol
    );
    assert_eq!(profile_kind("urn:ferd:CrossIndustryDocument:invoice:1p0:comfort"), ProfileKind::Comfort);
    assert_eq!(profile_kind("urn:example"), ProfileKind::Other);
    assert_eq!(kind_of(Some("380"), false), DocumentKind::Invoice);
    assert_eq!(kind_of(Some("381"), false), DocumentKind::CreditNote);
    assert_eq!(kind_of(Some("261"), false), DocumentKind::CreditNote);
    assert_eq!(kind_of(Some("384"), false), DocumentKind::Invoice);
    assert_eq!(kind_of(None, false), DocumentKind::Invoice);
    assert_eq!(kind_of(None, true), DocumentKind::CreditNote);
}

const MINIMAL_CII: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
  xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
  xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
  <rsm:ExchangedDocument>
    <ram:ID>F-1</ram:ID>
    <ram:TypeCode>389</ram:TypeCode>
    <ram:IssueDateTime><udt:DateTimeString format="102">20240230</udt:DateTimeString></ram:IssueDateTime>
  </rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:SpecifiedLineTradeSettlement>
        <ram:SpecifiedTradeSettlementLineMonetarySummation>
          <ram:LineTotalAmount>1O0.00</ram:LineTotalAmount>
        </ram:SpecifiedTradeSettlementLineMonetarySummation>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>
    <ram:IncludedSupplyChainTradeLineItem/>
    <ram:ApplicableHeaderTradeSettlement>
      <ram:SpecifiedTradeAllowanceCharge>
        <ram:ChargeIndicator><udt:Indicator>yes</udt:Indicator></ram:ChargeIndicator>
        <ram:ActualAmount>5</ram:ActualAmount>
      </ram:SpecifiedTradeAllowanceCharge>
      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
        <ram:GrandTotalAmount>120.00</ram:GrandTotalAmount>
      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>"#;

#[test]
fn unreadable_values_are_problems_not_failures() {
    let inv = parse(MINIMAL_CII.as_bytes()).unwrap();
    assert_eq!(inv.number.value, "F-1");
    assert!(inv.is_self_billed());
    assert!(!inv.is_credit_note());
    assert_eq!(inv.issue_date, None);
    assert_eq!(inv.lines.len(), 2);
    assert_eq!(inv.lines[0].net_amount, None);
    assert_eq!(inv.allowances_charges[0].is_charge, None);
    assert_eq!(inv.allowances_charges[0].amount.as_ref().map(|a| a.value), Some(d("5")));
    assert_eq!(inv.totals.grand_total.as_ref().map(|a| a.value), Some(d("120.00")));
    let problems: Vec<(&str, u32)> = inv.problems.iter().map(|p| (p.path.as_str(), p.line)).collect();
    assert_eq!(
        problems,
        [
            ("/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", 8),
            (
                "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem[1]/ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
                14
            ),
            (
                "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeAllowanceCharge/ram:ChargeIndicator/udt:Indicator",
                21
            ),
        ]
    );
    // The model survives a JSON round trip, amounts as strings.
    let json = serde_json::to_string(&inv).unwrap();
    assert!(json.contains(r#""value":"120.00""#));
    let back: EInvoice = serde_json::from_str(&json).unwrap();
    assert_eq!(back, inv);
}

#[test]
fn hard_errors() {
    assert!(matches!(parse(b""), Err(EInvoiceError::Malformed(_))));
    assert!(matches!(parse(b"<html><body/></html>"), Err(EInvoiceError::NotAnInvoice(_))));
    let no_number = MINIMAL_CII.replace("<ram:ID>F-1</ram:ID>", "<ram:ID>  </ram:ID>");
    assert!(matches!(parse(no_number.as_bytes()), Err(EInvoiceError::MissingNumber(_))));
    let deep = format!("{}{}", "<a>".repeat(MAX_DEPTH_PLUS), "</a>".repeat(MAX_DEPTH_PLUS));
    assert!(matches!(parse(deep.as_bytes()), Err(EInvoiceError::TooLarge { .. })));
    // Markup inside comments, CDATA and attribute values does not count as nesting.
    let fake = format!(
        "<a x='{}'><!--{}--><![CDATA[{}]]><?pi {} ?></a>",
        "&lt;".repeat(10),
        "<b>".repeat(MAX_DEPTH_PLUS),
        "<b>".repeat(MAX_DEPTH_PLUS),
        "<b>".repeat(MAX_DEPTH_PLUS)
    );
    assert!(matches!(parse(fake.as_bytes()), Err(EInvoiceError::NotAnInvoice(_))));
}

const MAX_DEPTH_PLUS: usize = xml::MAX_XML_DEPTH + 1;
