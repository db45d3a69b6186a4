//! UN/CEFACT Cross Industry Invoice: D16B (Factur-X, ZUGFeRD 2, XRechnung CII), ZUGFeRD 1.0 and
//! its release-candidate draft.
//!
//! ZUGFeRD 1 names some aggregates differently from D16B (`HeaderExchangedDocument` for
//! `ExchangedDocument`, `ApplicableSupplyChainTradeAgreement` for
//! `ApplicableHeaderTradeAgreement`, `ApplicablePercent` for `RateApplicablePercent`...): the path
//! specifications below give both names as alternatives (`a|b`), each resolved in the namespaces
//! of the syntax at hand, so one reader serves the three.

use super::xml::{self, El, NsTable, Reader};
use super::{
    Address, AllowanceCharge, Contact, DocumentReference, EInvoice, EInvoiceError, Evidenced, Line, Note,
    Party, PaymentMeans, Syntax, Totals, VatBreakdown,
};
use roxmltree::Document;

const NS_D16B: NsTable = &[
    ("rsm", Some(xml::NS_CII_RSM)),
    ("ram", Some(xml::NS_CII_RAM)),
    ("udt", Some(xml::NS_CII_UDT)),
    ("qdt", Some(xml::NS_CII_QDT)),
];
const NS_ZF1: NsTable =
    &[("rsm", Some(xml::NS_ZF1_RSM)), ("ram", Some(xml::NS_ZF1_RAM)), ("udt", Some(xml::NS_ZF1_UDT))];
/// The draft puts the root's children in its namespace and everything below in none.
const NS_ZF1RC: NsTable = &[("rsm", Some(xml::NS_ZF1RC_RSM)), ("ram", None)];

const CONTEXT: &str = "rsm:ExchangedDocumentContext|rsm:SpecifiedExchangedDocumentContext";
const HEADER: &str = "rsm:ExchangedDocument|rsm:HeaderExchangedDocument";
const TRANSACTION: &str = "rsm:SupplyChainTradeTransaction|rsm:SpecifiedSupplyChainTradeTransaction";
const AGREEMENT: &str = "ram:ApplicableHeaderTradeAgreement|ram:ApplicableSupplyChainTradeAgreement";
const DELIVERY: &str = "ram:ApplicableHeaderTradeDelivery|ram:ApplicableSupplyChainTradeDelivery";
const SETTLEMENT: &str = "ram:ApplicableHeaderTradeSettlement|ram:ApplicableSupplyChainTradeSettlement";
const SUMMATION: &str =
    "ram:SpecifiedTradeSettlementHeaderMonetarySummation|ram:SpecifiedTradeSettlementMonetarySummation";
const LINE_AGREEMENT: &str = "ram:SpecifiedLineTradeAgreement|ram:SpecifiedSupplyChainTradeAgreement";
const LINE_DELIVERY: &str = "ram:SpecifiedLineTradeDelivery|ram:SpecifiedSupplyChainTradeDelivery";
const LINE_SETTLEMENT: &str = "ram:SpecifiedLineTradeSettlement|ram:SpecifiedSupplyChainTradeSettlement";
const LINE_SUMMATION: &str =
    "ram:SpecifiedTradeSettlementLineMonetarySummation|ram:SpecifiedTradeSettlementMonetarySummation";
const RATE: &str = "ram:RateApplicablePercent|ram:ApplicablePercent";
/// A referenced document's id: `IssuerAssignedID` in D16B, `ID` in ZUGFeRD 1.
const DOC_ID: &str = "ram:IssuerAssignedID|ram:ID";

pub fn read(doc: &Document<'_>, syntax: Syntax) -> Result<EInvoice, EInvoiceError> {
    let ns = match syntax {
        Syntax::CiiZugferd1 => NS_ZF1,
        Syntax::CiiZugferd1Rc => NS_ZF1RC,
        _ => NS_D16B,
    };
    let r = Reader::new(doc, ns);
    let root = r.root();
    let context = r.first(&root, CONTEXT);
    let header = r.first(&root, HEADER);
    let tx = r.first(&root, TRANSACTION);
    let agreement = r.first(&tx, AGREEMENT);
    let delivery = r.first(&tx, DELIVERY);
    let settlement = r.first(&tx, SETTLEMENT);

    let number = r
        .string(&header, "ram:ID")
        .ok_or_else(|| EInvoiceError::MissingNumber(format!("no {}/{HEADER}/ram:ID", root.path)))?;
    let type_code = r.string(&header, "ram:TypeCode");
    let kind = super::kind_of(type_code.as_ref().map(|t| t.value.as_str()), false);
    let currency = r.string(&settlement, "ram:InvoiceCurrencyCode");

    let notes = r
        .all(&header, "ram:IncludedNote")
        .iter()
        .flat_map(|n| {
            let subject = r.string(n, "ram:SubjectCode");
            r.strings(n, "ram:Content")
                .into_iter()
                .map(move |content| Note { content, subject_code: subject.clone() })
                .collect::<Vec<_>>()
        })
        .collect();

    let mut allowances_charges: Vec<AllowanceCharge> = r
        .all(&settlement, "ram:SpecifiedTradeAllowanceCharge")
        .iter()
        .map(|a| allowance_charge(&r, a))
        .collect();
    // ZUGFeRD 1 logistics charges (freight, packing...) count among the charges.
    for l in r.all(&settlement, "ram:SpecifiedLogisticsServiceCharge") {
        let mut charge = allowance_charge(&r, &l);
        charge.is_charge = Some(r.evidence(&l, true));
        allowances_charges.push(charge);
    }

    let inv = EInvoice {
        syntax,
        attachment: None,
        profile: r.string(&context, "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"),
        business_process: r.string(&context, "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"),
        number,
        type_code,
        kind,
        issue_date: r.date(&header, "ram:IssueDateTime"),
        due_date: r.date(&settlement, "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime"),
        tax_point_date: r.date(&settlement, "ram:ApplicableTradeTax/ram:TaxPointDate"),
        delivery_date: r.date(&delivery, "ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime"),
        period_start: r.date(&settlement, "ram:BillingSpecifiedPeriod/ram:StartDateTime"),
        period_end: r.date(&settlement, "ram:BillingSpecifiedPeriod/ram:EndDateTime"),
        tax_currency: r.string(&settlement, "ram:TaxCurrencyCode"),
        buyer_reference: r.string(&agreement, "ram:BuyerReference"),
        order_reference: r.string(&agreement, &format!("ram:BuyerOrderReferencedDocument/{DOC_ID}")),
        sales_order_reference: r.string(&agreement, &format!("ram:SellerOrderReferencedDocument/{DOC_ID}")),
        contract_reference: r.string(&agreement, &format!("ram:ContractReferencedDocument/{DOC_ID}")),
        project_reference: r.string(&agreement, "ram:SpecifiedProcuringProject/ram:ID"),
        despatch_advice_reference: r.string(
            &delivery,
            &format!("ram:DespatchAdviceReferencedDocument|ram:DeliveryNoteReferencedDocument/{DOC_ID}"),
        ),
        receiving_advice_reference: r
            .string(&delivery, &format!("ram:ReceivingAdviceReferencedDocument/{DOC_ID}")),
        accounting_reference: r.string(&settlement, "ram:ReceivableSpecifiedTradeAccountingAccount/ram:ID"),
        preceding_invoices: r
            .all(&settlement, "ram:InvoiceReferencedDocument")
            .iter()
            .filter_map(|d| {
                Some(DocumentReference {
                    id: r.string(d, DOC_ID)?,
                    issue_date: r.date(d, "ram:FormattedIssueDateTime|ram:IssueDateTime"),
                })
            })
            .collect(),
        seller: r.first(&agreement, "ram:SellerTradeParty").map(|p| party(&r, &p)),
        buyer: r.first(&agreement, "ram:BuyerTradeParty").map(|p| party(&r, &p)),
        payee: r.first(&settlement, "ram:PayeeTradeParty").map(|p| party(&r, &p)),
        tax_representative: r
            .first(&agreement, "ram:SellerTaxRepresentativeTradeParty")
            .map(|p| party(&r, &p)),
        ship_to: r.first(&delivery, "ram:ShipToTradeParty").map(|p| party(&r, &p)),
        payment_means: r
            .all(&settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
            .iter()
            .map(|m| payment_means(&r, m))
            .collect(),
        payment_reference: r.string(&settlement, "ram:PaymentReference"),
        // ZUGFeRD 1 gives the mandate as the payment means' ID, the creditor id as its
        // schemeAgencyID.
        creditor_reference: r.string(&settlement, "ram:CreditorReferenceID").or_else(|| {
            r.all(&settlement, "ram:SpecifiedTradeSettlementPaymentMeans/ram:ID").iter().find_map(|id| {
                let agency = id.node.attribute("schemeAgencyID").map(str::trim).filter(|a| !a.is_empty())?;
                Some(r.evidence(id, agency.to_string()))
            })
        }),
        direct_debit_mandate: r
            .string(&settlement, "ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID")
            .or_else(|| r.string(&settlement, "ram:SpecifiedTradeSettlementPaymentMeans/ram:ID")),
        payment_terms: r.strings(&settlement, "ram:SpecifiedTradePaymentTerms/ram:Description"),
        totals: totals(&r, &r.first(&settlement, SUMMATION), currency.as_ref().map(|c| c.value.as_str())),
        vat_breakdown: r.all(&settlement, "ram:ApplicableTradeTax").iter().map(|t| vat(&r, t)).collect(),
        allowances_charges,
        lines: r.all(&tx, "ram:IncludedSupplyChainTradeLineItem").iter().map(|l| line(&r, l)).collect(),
        notes,
        currency,
        problems: Vec::new(),
    };
    Ok(EInvoice { problems: r.into_problems(), ..inv })
}

fn party(r: &Reader<'_, '_>, p: &El<'_, '_>) -> Party {
    let mut vat_ids = Vec::new();
    let mut tax_numbers = Vec::new();
    for id in r.identifiers(p, "ram:SpecifiedTaxRegistration/ram:ID") {
        let text = Evidenced { value: id.value.id, path: id.path, line: id.line };
        if id.value.scheme.as_deref() == Some("VA") {
            vat_ids.push(text);
        } else {
            tax_numbers.push(text);
        }
    }
    Party {
        name: r.string(p, "ram:Name"),
        trading_name: r.string(p, "ram:SpecifiedLegalOrganization/ram:TradingBusinessName"),
        ids: r.identifiers(p, "ram:ID|ram:GlobalID"),
        legal_id: r.identifier(p, "ram:SpecifiedLegalOrganization/ram:ID"),
        vat_ids,
        tax_numbers,
        legal_info: r.string(p, "ram:Description"),
        electronic_address: r.identifier(p, "ram:URIUniversalCommunication/ram:URIID"),
        address: r.first(p, "ram:PostalTradeAddress").and_then(|a| address(r, &a)),
        contact: r.first(p, "ram:DefinedTradeContact").and_then(|c| contact(r, &c)),
    }
}

fn address(r: &Reader<'_, '_>, a: &El<'_, '_>) -> Option<Address> {
    let address = Address {
        lines: r.strings(a, "ram:LineOne|ram:LineTwo|ram:LineThree"),
        city: r.string(a, "ram:CityName"),
        postcode: r.string(a, "ram:PostcodeCode"),
        subdivision: r.string(a, "ram:CountrySubDivisionName"),
        country: r.string(a, "ram:CountryID"),
    };
    (address != Address::default()).then_some(address)
}

fn contact(r: &Reader<'_, '_>, c: &El<'_, '_>) -> Option<Contact> {
    let contact = Contact {
        name: r.string(c, "ram:PersonName"),
        department: r.string(c, "ram:DepartmentName"),
        phone: r.string(c, "ram:TelephoneUniversalCommunication/ram:CompleteNumber"),
        email: r.string(c, "ram:EmailURIUniversalCommunication/ram:URIID"),
    };
    (contact != Contact::default()).then_some(contact)
}

fn payment_means(r: &Reader<'_, '_>, m: &El<'_, '_>) -> PaymentMeans {
    let account = "ram:PayeePartyCreditorFinancialAccount";
    PaymentMeans {
        type_code: r.string(m, "ram:TypeCode"),
        information: r.string(m, "ram:Information"),
        account: r
            .string(m, &format!("{account}/ram:IBANID"))
            .or_else(|| r.string(m, &format!("{account}/ram:ProprietaryID"))),
        account_name: r.string(m, &format!("{account}/ram:AccountName")),
        bic: r.string(m, "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID"),
        debited_account: r.string(m, "ram:PayerPartyDebtorFinancialAccount/ram:IBANID"),
        card_number: r.string(m, "ram:ApplicableTradeSettlementFinancialCard/ram:ID"),
        payment_id: None,
    }
}

/// The document totals. Of two `TaxTotalAmount`s, the one in the invoice currency (or without a
/// currency) is BT-110 and the other BT-111.
fn totals(r: &Reader<'_, '_>, s: &Option<El<'_, '_>>, currency: Option<&str>) -> Totals {
    let mut tax_total = None;
    let mut tax_total_accounting = None;
    for t in r.all(s, "ram:TaxTotalAmount") {
        let in_currency = t.node.attribute("currencyID").map(str::trim);
        if tax_total.is_none() && (in_currency.is_none() || in_currency == currency || currency.is_none()) {
            tax_total = r.decimal_of(&t);
        } else if tax_total_accounting.is_none() {
            tax_total_accounting = r.decimal_of(&t);
        }
    }
    Totals {
        line_total: r.decimal(s, "ram:LineTotalAmount"),
        allowance_total: r.decimal(s, "ram:AllowanceTotalAmount"),
        charge_total: r.decimal(s, "ram:ChargeTotalAmount"),
        tax_basis_total: r.decimal(s, "ram:TaxBasisTotalAmount"),
        tax_total,
        tax_total_accounting,
        grand_total: r.decimal(s, "ram:GrandTotalAmount"),
        prepaid: r.decimal(s, "ram:TotalPrepaidAmount"),
        rounding: r.decimal(s, "ram:RoundingAmount"),
        due_payable: r.decimal(s, "ram:DuePayableAmount"),
    }
}

fn vat(r: &Reader<'_, '_>, t: &El<'_, '_>) -> VatBreakdown {
    VatBreakdown {
        category: r.string(t, "ram:CategoryCode"),
        rate: r.decimal(t, RATE),
        basis: r.decimal(t, "ram:BasisAmount"),
        tax: r.decimal(t, "ram:CalculatedAmount"),
        exemption_reason: r.string(t, "ram:ExemptionReason"),
        exemption_reason_code: r.string(t, "ram:ExemptionReasonCode"),
    }
}

/// An allowance or charge (`SpecifiedTradeAllowanceCharge`), or a ZUGFeRD 1 logistics charge
/// (`SpecifiedLogisticsServiceCharge`: `AppliedAmount`, `Description`, `AppliedTradeTax`).
fn allowance_charge(r: &Reader<'_, '_>, a: &El<'_, '_>) -> AllowanceCharge {
    let tax = "ram:CategoryTradeTax|ram:AppliedTradeTax";
    AllowanceCharge {
        is_charge: r.first(a, "ram:ChargeIndicator/*:Indicator").and_then(|i| r.boolean_of(&i)),
        amount: r.decimal(a, "ram:ActualAmount|ram:AppliedAmount"),
        base_amount: r.decimal(a, "ram:BasisAmount"),
        percent: r.decimal(a, "ram:CalculationPercent"),
        reason: r.string(a, "ram:Reason|ram:Description"),
        reason_code: r.string(a, "ram:ReasonCode"),
        vat_category: r.string(a, &format!("{tax}/ram:CategoryCode")),
        vat_rate: r.decimal(a, &format!("{tax}/{RATE}")),
    }
}

fn line(r: &Reader<'_, '_>, l: &El<'_, '_>) -> Line {
    let doc = r.first(l, "ram:AssociatedDocumentLineDocument");
    let product = r.first(l, "ram:SpecifiedTradeProduct");
    let agreement = r.first(l, LINE_AGREEMENT);
    let delivery = r.first(l, LINE_DELIVERY);
    let settlement = r.first(l, LINE_SETTLEMENT);
    let tax = r.first(&settlement, "ram:ApplicableTradeTax");
    Line {
        id: r.string(&doc, "ram:LineID"),
        name: r.string(&product, "ram:Name"),
        description: r.string(&product, "ram:Description"),
        quantity: r.quantity(&delivery, "ram:BilledQuantity"),
        net_price: r.decimal(&agreement, "ram:NetPriceProductTradePrice/ram:ChargeAmount"),
        price_base_quantity: r.quantity(&agreement, "ram:NetPriceProductTradePrice/ram:BasisQuantity"),
        gross_price: r.decimal(&agreement, "ram:GrossPriceProductTradePrice/ram:ChargeAmount"),
        net_amount: r.decimal(&settlement, &format!("{LINE_SUMMATION}/ram:LineTotalAmount")),
        vat_category: r.string(&tax, "ram:CategoryCode"),
        vat_rate: r.decimal(&tax, RATE),
        seller_item_id: r.string(&product, "ram:SellerAssignedID"),
        buyer_item_id: r.string(&product, "ram:BuyerAssignedID"),
        standard_item_id: r.identifier(&product, "ram:GlobalID"),
        order_line_reference: r.string(&agreement, "ram:BuyerOrderReferencedDocument/ram:LineID"),
        period_start: r.date(&settlement, "ram:BillingSpecifiedPeriod/ram:StartDateTime"),
        period_end: r.date(&settlement, "ram:BillingSpecifiedPeriod/ram:EndDateTime"),
        notes: r.strings(&doc, "ram:IncludedNote/ram:Content"),
        allowances_charges: r
            .all(&settlement, "ram:SpecifiedTradeAllowanceCharge")
            .iter()
            .map(|a| allowance_charge(r, a))
            .collect(),
        parent_line_id: r.string(&doc, "ram:ParentLineID"),
    }
}
