//! OASIS UBL 2.1 `Invoice` and `CreditNote` (XRechnung UBL, Peppol BIS Billing 3), read along
//! the EN 16931 UBL syntax binding.

use super::xml::{self, El, NsTable, Reader};
use super::{
    Address, AllowanceCharge, Contact, DocumentReference, EInvoice, EInvoiceError, Evidenced, Line, Note,
    Party, PaymentMeans, Syntax, Totals, VatBreakdown,
};
use roxmltree::Document;

const NS: NsTable = &[
    ("ubl", Some(xml::NS_UBL_INVOICE)),
    ("cn", Some(xml::NS_UBL_CREDIT_NOTE)),
    ("cac", Some(xml::NS_UBL_CAC)),
    ("cbc", Some(xml::NS_UBL_CBC)),
];

pub fn read(doc: &Document<'_>) -> Result<EInvoice, EInvoiceError> {
    let r = Reader::new(doc, NS);
    let root = r.root();
    let credit_note = root.node.tag_name().name() == "CreditNote";

    let number = r
        .string(&root, "cbc:ID")
        .ok_or_else(|| EInvoiceError::MissingNumber(format!("no {}/cbc:ID", root.path)))?;
    let type_code = r.string(&root, "cbc:InvoiceTypeCode|cbc:CreditNoteTypeCode");
    let kind = super::kind_of(type_code.as_ref().map(|t| t.value.as_str()), credit_note);
    let currency = r.string(&root, "cbc:DocumentCurrencyCode");
    let supplier = r.first(&root, "cac:AccountingSupplierParty/cac:Party");
    let payee = r.first(&root, "cac:PayeeParty");
    let delivery = r.first(&root, "cac:Delivery");

    // The bank assigned creditor identifier (BT-90) is a SEPA-scheme party identification of the
    // seller or the payee.
    let creditor_reference = [&supplier, &payee].into_iter().find_map(|p| {
        r.all(p, "cac:PartyIdentification/cbc:ID")
            .iter()
            .filter(|e| e.node.attribute("schemeID").map(str::trim) == Some("SEPA"))
            .find_map(|e| r.text_of(e).map(|t| r.evidence(e, t)))
    });

    let ship_to = delivery.as_ref().and_then(|d| {
        let location = r.first(d, "cac:DeliveryLocation");
        let party = Party {
            name: r.string(d, "cac:DeliveryParty/cac:PartyName/cbc:Name"),
            ids: r.identifiers(&location, "cbc:ID"),
            address: r.first(&location, "cac:Address").and_then(|a| address(&r, &a)),
            ..Party::default()
        };
        (party != Party::default()).then_some(party)
    });

    let inv = EInvoice {
        syntax: Syntax::Ubl,
        attachment: None,
        profile: r.string(&root, "cbc:CustomizationID"),
        business_process: r.string(&root, "cbc:ProfileID"),
        number,
        type_code,
        kind,
        issue_date: r.date(&root, "cbc:IssueDate"),
        // A UBL 2.1 credit note has no DueDate: its due date is the payment means' one.
        due_date: r
            .date(&root, "cbc:DueDate")
            .or_else(|| r.date(&root, "cac:PaymentMeans/cbc:PaymentDueDate")),
        tax_point_date: r.date(&root, "cbc:TaxPointDate"),
        delivery_date: r.date(&delivery, "cbc:ActualDeliveryDate"),
        period_start: r.date(&root, "cac:InvoicePeriod/cbc:StartDate"),
        period_end: r.date(&root, "cac:InvoicePeriod/cbc:EndDate"),
        tax_currency: r.string(&root, "cbc:TaxCurrencyCode"),
        buyer_reference: r.string(&root, "cbc:BuyerReference"),
        order_reference: r.string(&root, "cac:OrderReference/cbc:ID"),
        sales_order_reference: r.string(&root, "cac:OrderReference/cbc:SalesOrderID"),
        contract_reference: r.string(&root, "cac:ContractDocumentReference/cbc:ID"),
        project_reference: r.string(&root, "cac:ProjectReference/cbc:ID"),
        despatch_advice_reference: r.string(&root, "cac:DespatchDocumentReference/cbc:ID"),
        receiving_advice_reference: r.string(&root, "cac:ReceiptDocumentReference/cbc:ID"),
        accounting_reference: r.string(&root, "cbc:AccountingCost"),
        preceding_invoices: r
            .all(&root, "cac:BillingReference/cac:InvoiceDocumentReference")
            .iter()
            .filter_map(|d| {
                Some(DocumentReference { id: r.string(d, "cbc:ID")?, issue_date: r.date(d, "cbc:IssueDate") })
            })
            .collect(),
        seller: supplier.as_ref().map(|p| party(&r, p)),
        buyer: r.first(&root, "cac:AccountingCustomerParty/cac:Party").map(|p| party(&r, &p)),
        payee: payee.as_ref().map(|p| party(&r, p)),
        tax_representative: r.first(&root, "cac:TaxRepresentativeParty").map(|p| party(&r, &p)),
        ship_to,
        payment_means: r.all(&root, "cac:PaymentMeans").iter().map(|m| payment_means(&r, m)).collect(),
        payment_reference: r.string(&root, "cac:PaymentMeans/cbc:PaymentID"),
        creditor_reference,
        direct_debit_mandate: r.string(&root, "cac:PaymentMeans/cac:PaymentMandate/cbc:ID"),
        payment_terms: r.strings(&root, "cac:PaymentTerms/cbc:Note"),
        totals: totals(&r, &root, currency.as_ref().map(|c| c.value.as_str())),
        vat_breakdown: r.all(&root, "cac:TaxTotal/cac:TaxSubtotal").iter().map(|t| vat(&r, t)).collect(),
        allowances_charges: r
            .all(&root, "cac:AllowanceCharge")
            .iter()
            .map(|a| allowance_charge(&r, a))
            .collect(),
        lines: r.all(&root, "cac:InvoiceLine|cac:CreditNoteLine").iter().map(|l| line(&r, l)).collect(),
        notes: r.strings(&root, "cbc:Note").into_iter().map(note).collect(),
        currency,
        problems: Vec::new(),
    };
    Ok(EInvoice { problems: r.into_problems(), ..inv })
}

/// The EN 16931 UBL binding writes a note's subject code (BT-21) at the head of its text:
/// `#AAI#text`. It is split off, with the same evidence.
fn note(content: Evidenced<String>) -> Note {
    let split = content.value.strip_prefix('#').and_then(|rest| {
        let (code, text) = rest.split_once('#')?;
        let is_code = !code.is_empty() && code.len() <= 3 && code.bytes().all(|b| b.is_ascii_uppercase());
        is_code.then(|| (code.to_string(), text.trim().to_string()))
    });
    match split {
        Some((code, text)) => Note {
            subject_code: Some(Evidenced { value: code, path: content.path.clone(), line: content.line }),
            content: Evidenced { value: text, ..content },
        },
        None => Note { content, subject_code: None },
    }
}

fn party(r: &Reader<'_, '_>, p: &El<'_, '_>) -> Party {
    let mut vat_ids = Vec::new();
    let mut tax_numbers = Vec::new();
    for scheme in r.all(p, "cac:PartyTaxScheme") {
        let Some(id) = r.string(&scheme, "cbc:CompanyID") else { continue };
        if r.string(&scheme, "cac:TaxScheme/cbc:ID").is_some_and(|s| s.value.eq_ignore_ascii_case("VAT")) {
            vat_ids.push(id);
        } else {
            tax_numbers.push(id);
        }
    }
    let registration_name = r.string(p, "cac:PartyLegalEntity/cbc:RegistrationName");
    let party_name = r.string(p, "cac:PartyName/cbc:Name");
    let (name, trading_name) = match registration_name {
        Some(n) => (Some(n), party_name),
        None => (party_name, None),
    };
    Party {
        name,
        trading_name,
        ids: r.identifiers(p, "cac:PartyIdentification/cbc:ID"),
        legal_id: r.identifier(p, "cac:PartyLegalEntity/cbc:CompanyID"),
        vat_ids,
        tax_numbers,
        legal_info: r.string(p, "cac:PartyLegalEntity/cbc:CompanyLegalForm"),
        electronic_address: r.identifier(p, "cbc:EndpointID"),
        address: r.first(p, "cac:PostalAddress").and_then(|a| address(r, &a)),
        contact: r.first(p, "cac:Contact").and_then(|c| contact(r, &c)),
    }
}

fn address(r: &Reader<'_, '_>, a: &El<'_, '_>) -> Option<Address> {
    let mut lines = r.strings(a, "cbc:StreetName|cbc:AdditionalStreetName");
    lines.extend(r.strings(a, "cac:AddressLine/cbc:Line"));
    let address = Address {
        lines,
        city: r.string(a, "cbc:CityName"),
        postcode: r.string(a, "cbc:PostalZone"),
        subdivision: r.string(a, "cbc:CountrySubentity"),
        country: r.string(a, "cac:Country/cbc:IdentificationCode"),
    };
    (address != Address::default()).then_some(address)
}

fn contact(r: &Reader<'_, '_>, c: &El<'_, '_>) -> Option<Contact> {
    let contact = Contact {
        name: r.string(c, "cbc:Name"),
        department: None,
        phone: r.string(c, "cbc:Telephone"),
        email: r.string(c, "cbc:ElectronicMail"),
    };
    (contact != Contact::default()).then_some(contact)
}

fn payment_means(r: &Reader<'_, '_>, m: &El<'_, '_>) -> PaymentMeans {
    // The text of the means (BT-82) is the `name` attribute of its code.
    let information = r.first(m, "cbc:PaymentMeansCode").and_then(|c| {
        let name = c.node.attribute("name").map(str::trim).filter(|n| !n.is_empty())?;
        Some(r.evidence(&c, name.to_string()))
    });
    PaymentMeans {
        type_code: r.string(m, "cbc:PaymentMeansCode"),
        information,
        account: r.string(m, "cac:PayeeFinancialAccount/cbc:ID"),
        account_name: r.string(m, "cac:PayeeFinancialAccount/cbc:Name"),
        bic: r.string(m, "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"),
        debited_account: r.string(m, "cac:PaymentMandate/cac:PayerFinancialAccount/cbc:ID"),
        card_number: r.string(m, "cac:CardAccount/cbc:PrimaryAccountNumberID"),
        payment_id: r.string(m, "cbc:PaymentID"),
    }
}

/// The document totals. Of two `TaxTotal`s, the one in the invoice currency is BT-110 and the
/// other BT-111.
fn totals(r: &Reader<'_, '_>, root: &El<'_, '_>, currency: Option<&str>) -> Totals {
    let mut tax_total = None;
    let mut tax_total_accounting = None;
    for t in r.all(root, "cac:TaxTotal/cbc:TaxAmount") {
        let in_currency = t.node.attribute("currencyID").map(str::trim);
        if tax_total.is_none() && (in_currency.is_none() || in_currency == currency || currency.is_none()) {
            tax_total = r.decimal_of(&t);
        } else if tax_total_accounting.is_none() {
            tax_total_accounting = r.decimal_of(&t);
        }
    }
    let s = r.first(root, "cac:LegalMonetaryTotal");
    Totals {
        line_total: r.decimal(&s, "cbc:LineExtensionAmount"),
        allowance_total: r.decimal(&s, "cbc:AllowanceTotalAmount"),
        charge_total: r.decimal(&s, "cbc:ChargeTotalAmount"),
        tax_basis_total: r.decimal(&s, "cbc:TaxExclusiveAmount"),
        tax_total,
        tax_total_accounting,
        grand_total: r.decimal(&s, "cbc:TaxInclusiveAmount"),
        prepaid: r.decimal(&s, "cbc:PrepaidAmount"),
        rounding: r.decimal(&s, "cbc:PayableRoundingAmount"),
        due_payable: r.decimal(&s, "cbc:PayableAmount"),
    }
}

fn vat(r: &Reader<'_, '_>, t: &El<'_, '_>) -> VatBreakdown {
    let category = r.first(t, "cac:TaxCategory");
    VatBreakdown {
        category: r.string(&category, "cbc:ID"),
        rate: r.decimal(&category, "cbc:Percent"),
        basis: r.decimal(t, "cbc:TaxableAmount"),
        tax: r.decimal(t, "cbc:TaxAmount"),
        exemption_reason: r.string(&category, "cbc:TaxExemptionReason"),
        exemption_reason_code: r.string(&category, "cbc:TaxExemptionReasonCode"),
    }
}

fn allowance_charge(r: &Reader<'_, '_>, a: &El<'_, '_>) -> AllowanceCharge {
    AllowanceCharge {
        is_charge: r.first(a, "cbc:ChargeIndicator").and_then(|i| r.boolean_of(&i)),
        amount: r.decimal(a, "cbc:Amount"),
        base_amount: r.decimal(a, "cbc:BaseAmount"),
        percent: r.decimal(a, "cbc:MultiplierFactorNumeric"),
        reason: r.string(a, "cbc:AllowanceChargeReason"),
        reason_code: r.string(a, "cbc:AllowanceChargeReasonCode"),
        vat_category: r.string(a, "cac:TaxCategory/cbc:ID"),
        vat_rate: r.decimal(a, "cac:TaxCategory/cbc:Percent"),
    }
}

fn line(r: &Reader<'_, '_>, l: &El<'_, '_>) -> Line {
    let item = r.first(l, "cac:Item");
    let price = r.first(l, "cac:Price");
    let tax = r.first(&item, "cac:ClassifiedTaxCategory");
    Line {
        id: r.string(l, "cbc:ID"),
        name: r.string(&item, "cbc:Name"),
        description: r.string(&item, "cbc:Description"),
        quantity: r.quantity(l, "cbc:InvoicedQuantity|cbc:CreditedQuantity"),
        net_price: r.decimal(&price, "cbc:PriceAmount"),
        price_base_quantity: r.quantity(&price, "cbc:BaseQuantity"),
        gross_price: r.decimal(&price, "cac:AllowanceCharge/cbc:BaseAmount"),
        net_amount: r.decimal(l, "cbc:LineExtensionAmount"),
        vat_category: r.string(&tax, "cbc:ID"),
        vat_rate: r.decimal(&tax, "cbc:Percent"),
        seller_item_id: r.string(&item, "cac:SellersItemIdentification/cbc:ID"),
        buyer_item_id: r.string(&item, "cac:BuyersItemIdentification/cbc:ID"),
        standard_item_id: r.identifier(&item, "cac:StandardItemIdentification/cbc:ID"),
        order_line_reference: r.string(l, "cac:OrderLineReference/cbc:LineID"),
        period_start: r.date(l, "cac:InvoicePeriod/cbc:StartDate"),
        period_end: r.date(l, "cac:InvoicePeriod/cbc:EndDate"),
        notes: r.strings(l, "cbc:Note"),
        allowances_charges: r.all(l, "cac:AllowanceCharge").iter().map(|a| allowance_charge(r, a)).collect(),
        parent_line_id: None,
    }
}
