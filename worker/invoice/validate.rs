//! Validation rules on one extracted invoice: identifiers (IBAN mod 97 and country, SIREN/SIRET
//! Luhn, French VAT key), French VAT rates at the invoice date, EN 16931 arithmetic (BR-CO-10,
//! BR-CO-14, BR-CO-15, BR-CO-16, VAT per rate), dates, the French e-invoicing reform's mandatory
//! mentions, amounts just under approval thresholds or suspiciously round. Each check is a named
//! rule of `rules/invoice/checks.toml` (weight, reason, on/off); a failed check is a [`Flag`].

use super::extract::iban_valid;
use super::rules::InvoiceRules;
use super::{ExtractedInvoice, Flag};
use crate::document::Document;
use crate::evidence::{Evidence, Grounded, Method};
use chrono::NaiveDate;
use regex::Regex;
use rust_decimal::Decimal;
use std::sync::LazyLock;

/// Luhn check of a string of digits (SIREN, SIRET).
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A SIRET is valid by Luhn, except La Poste's (SIREN 356000000), whose digits sum to a multiple
/// of 5.
pub fn siret_valid(siret: &str) -> bool {
    if siret.len() != 14 {
        return false;
    }
    if siret.starts_with("356000000") {
        return siret.bytes().map(|b| (b - b'0') as u32).sum::<u32>() % 5 == 0;
    }
    luhn_valid(siret)
}

/// The key of a French VAT number built on `siren`: (12 + 3 × (SIREN mod 97)) mod 97.
pub fn french_vat_key(siren: &str) -> Option<u32> {
    let n: u64 = siren.parse().ok()?;
    Some(((12 + 3 * (n % 97)) % 97) as u32)
}

/// IBAN length by country (SEPA countries and a few others).
fn iban_length(country: &str) -> Option<usize> {
    Some(match country {
        "FR" | "MC" | "IT" | "SM" => 27,
        "DE" | "IE" | "GB" | "BG" => 22,
        "BE" => 16,
        "NL" => 18,
        "LU" | "AT" | "EE" | "LT" => 20,
        "CH" | "LI" | "LV" => 21,
        "ES" | "SE" | "SK" | "CZ" | "RO" => 24,
        "PT" => 25,
        "PL" | "HU" | "CY" => 28,
        "DK" | "FI" | "FO" => 18,
        "NO" => 15,
        "GR" => 27,
        "MT" => 31,
        "HR" | "SI" => 21,
        _ => return None,
    })
}

static DELIVERY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)adresse\s+de\s+livraison|livr[ée]\s+[àa]|lieu\s+de\s+livraison|delivery\s+address|ship\s+to",
    )
    .expect("delivery")
});
static CATEGORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)cat[ée]gorie\s+de\s+l'op[ée]ration|livraison\s+de\s+biens|prestation\s+de\s+services|op[ée]ration\s+mixte").expect("category")
});
static DEBITS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)tva\s+(?:sur\s+les|d'apr[èe]s\s+les)\s+d[ée]bits|option\s+pour\s+le\s+paiement\s+de\s+la\s+taxe\s+d'apr[èe]s\s+les\s+d[ée]bits").expect("debits")
});

struct Checker<'a> {
    rules: &'a InvoiceRules,
    flags: Vec<Flag>,
}

impl Checker<'_> {
    fn flag(&mut self, id: &str, detail: String, evidence: Vec<Evidence>) {
        self.flags.extend(self.rules.flag(id, detail, evidence));
    }
}

fn ev<T>(g: &Grounded<T>) -> Evidence {
    g.evidence.clone()
}

fn round2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// Every validation rule on one invoice. `today` is the processing date (a parameter, so that
/// results are reproducible). `doc` gives the text the mandatory-mention checks look for.
pub fn validate(inv: &ExtractedInvoice, doc: &Document, rules: &InvoiceRules, today: NaiveDate) -> Vec<Flag> {
    let c = &rules.checks;
    let tol = c.tolerance;
    let mut k = Checker { rules, flags: Vec::new() };
    let supplier_country = inv.supplier.country.as_ref().map(|g| g.value.as_str());

    // Bank details.
    if let Some(iban) = &inv.iban {
        let cc = iban.value.get(..2).unwrap_or("");
        let len_ok = iban_length(cc).is_none_or(|l| l == iban.value.len());
        if !iban_valid(&iban.value) || !len_ok {
            k.flag("iban.checksum", format!("IBAN of country {cc} fails its check"), vec![ev(iban)]);
        }
        if let Some(sc) = supplier_country
            && sc != cc
        {
            k.flag("iban.country", format!("IBAN country {cc}, supplier country {sc}"), vec![ev(iban)]);
        }
    }

    // French identifiers.
    for (who, p) in [("supplier", &inv.supplier), ("customer", &inv.customer)] {
        if let Some(s) = &p.siren
            && !luhn_valid(&s.value)
        {
            k.flag("siren.luhn", format!("{who} SIREN fails the Luhn check"), vec![ev(s)]);
        }
        if let Some(s) = &p.siret
            && !siret_valid(&s.value)
        {
            k.flag("siren.luhn", format!("{who} SIRET fails the Luhn check"), vec![ev(s)]);
        }
        if let (Some(siren), Some(siret)) = (&p.siren, &p.siret)
            && !siret.value.starts_with(&siren.value)
        {
            k.flag(
                "siret.siren",
                format!("{who} SIRET does not start with its SIREN"),
                vec![ev(siren), ev(siret)],
            );
        }
        if let Some(v) = &p.vat_id
            && let Some(rest) = v.value.strip_prefix("FR")
            && rest.len() == 11
            && rest.bytes().all(|b| b.is_ascii_digit())
        {
            let (key, siren) = rest.split_at(2);
            if french_vat_key(siren).map(|k| format!("{k:02}")) != Some(key.to_string()) {
                k.flag("vat.fr_key", format!("{who} French VAT number has a wrong key"), vec![ev(v)]);
            }
            if let Some(s) = &p.siren
                && s.value != siren
            {
                k.flag(
                    "vat.fr_siren",
                    format!("{who} VAT number is built on another SIREN"),
                    vec![ev(v), ev(s)],
                );
            }
        }
    }

    // French VAT rates legal at the invoice date.
    let french =
        supplier_country == Some("FR") || (supplier_country.is_none() && inv.supplier.siren.is_some());
    if french {
        let at = inv.issue_date.as_ref().map(|d| d.value).unwrap_or(today);
        let legal = |r: Decimal| {
            c.french_vat_rates
                .iter()
                .any(|s| s.rate == r.normalize() && s.from <= at && s.until.is_none_or(|u| at <= u))
        };
        let mut seen = Vec::new();
        let rates = inv
            .vat_breakdown
            .iter()
            .map(|v| &v.rate)
            .chain(inv.lines.iter().filter_map(|l| l.vat_rate.as_ref()));
        for r in rates {
            if !legal(r.value) && !seen.contains(&r.value.normalize()) {
                seen.push(r.value.normalize());
                k.flag(
                    "vat.fr_rate",
                    format!("VAT rate {} % is not a French rate on {at}", r.value.normalize()),
                    vec![ev(r)],
                );
            }
        }
    }

    // EN 16931 arithmetic.
    if let Some(net) = &inv.net_total
        && !inv.lines.is_empty()
    {
        let sum: Decimal = inv.lines.iter().map(|l| l.amount.value).sum();
        if (sum - net.value).abs() > tol {
            let mut e = vec![ev(net)];
            e.extend(inv.lines.iter().map(|l| ev(&l.amount)));
            k.flag("BR-CO-10", format!("{} lines sum to {sum}, net total {}", inv.lines.len(), net.value), e);
        }
    }
    if let Some(vat) = &inv.vat_total
        && !inv.vat_breakdown.is_empty()
        && inv.vat_breakdown.iter().all(|v| v.amount.is_some())
        && !matches!(&vat.evidence.method, Method::Derived { .. })
    {
        let sum: Decimal = inv.vat_breakdown.iter().filter_map(|v| v.amount.as_ref()).map(|a| a.value).sum();
        if (sum - vat.value).abs() > tol {
            let mut e = vec![ev(vat)];
            e.extend(inv.vat_breakdown.iter().filter_map(|v| v.amount.as_ref()).map(ev));
            k.flag("BR-CO-14", format!("breakdown VAT sums to {sum}, VAT total {}", vat.value), e);
        }
    }
    if let (Some(n), Some(v), Some(g)) = (&inv.net_total, &inv.vat_total, &inv.gross_total)
        && (n.value + v.value - g.value).abs() > tol
    {
        k.flag(
            "BR-CO-15",
            format!("{} + {} = {}, gross total {}", n.value, v.value, n.value + v.value, g.value),
            vec![ev(n), ev(v), ev(g)],
        );
    }
    if let (Some(g), Some(d)) = (&inv.gross_total, &inv.amount_due) {
        let paid = inv.prepaid.as_ref().map(|p| p.value).unwrap_or_default();
        if (g.value - paid - d.value).abs() > tol {
            let mut e = vec![ev(g), ev(d)];
            e.extend(inv.prepaid.iter().map(ev));
            k.flag("BR-CO-16", format!("{} - {paid} paid, amount due {}", g.value, d.value), e);
        }
    }
    for v in &inv.vat_breakdown {
        if let (Some(b), Some(a)) = (&v.base, &v.amount) {
            let expect = round2(b.value * v.rate.value / Decimal::ONE_HUNDRED);
            if (expect - a.value).abs() > tol {
                k.flag(
                    "vat.per_rate",
                    format!("{} % of {} is {expect}, printed {}", v.rate.value.normalize(), b.value, a.value),
                    vec![ev(&v.rate), ev(b), ev(a)],
                );
            }
        }
    }

    // Dates.
    if let Some(d) = &inv.issue_date {
        if d.value > today + chrono::Duration::days(c.future_tolerance_days) {
            k.flag("date.future", format!("dated {}, processed {today}", d.value), vec![ev(d)]);
        }
        if d.value < today - chrono::Duration::days(c.max_age_days) {
            k.flag("date.very_old", format!("dated {}, processed {today}", d.value), vec![ev(d)]);
        }
        if let Some(due) = &inv.due_date
            && due.value < d.value
        {
            k.flag(
                "date.due_before_issue",
                format!("due {} before issue {}", due.value, d.value),
                vec![ev(d), ev(due)],
            );
        }
    }

    // French reform: mandatory mentions on a domestic B2B invoice.
    let customer_fr =
        inv.customer.country.as_ref().is_some_and(|c| c.value == "FR") || inv.customer.siren.is_some();
    if supplier_country == Some("FR") && customer_fr {
        let text: String = doc.pages.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n");
        if inv.customer.siren.is_none() {
            k.flag("fr.customer_siren", "the customer's SIREN is not printed".into(), vec![]);
        }
        if !DELIVERY.is_match(&text) {
            k.flag("fr.delivery_address", "no delivery address mention".into(), vec![]);
        }
        if !CATEGORY.is_match(&text) {
            k.flag("fr.sale_category", "no category of operation (goods, services, mixed)".into(), vec![]);
        }
        if !DEBITS.is_match(&text) {
            k.flag(
                "fr.vat_on_debits",
                "no mention of the option for VAT on debits (required when chosen)".into(),
                vec![],
            );
        }
    }

    // Amounts.
    if let Some(g) = inv.gross_total.as_ref().or(inv.net_total.as_ref()) {
        let amount = g.value.abs();
        for t in &c.approval_thresholds {
            if amount < *t && amount >= *t * (Decimal::ONE - c.just_under_ratio) {
                k.flag(
                    "amount.just_under_threshold",
                    format!("{amount} is just under the threshold {t}"),
                    vec![ev(g)],
                );
            }
        }
        if amount >= c.round_minimum
            && c.round_multiple > Decimal::ZERO
            && (amount % c.round_multiple).is_zero()
        {
            k.flag("amount.round", format!("{amount} is a multiple of {}", c.round_multiple), vec![ev(g)]);
        }
    }

    // Mandatory fields.
    let mut missing = Vec::new();
    if inv.number.is_none() {
        missing.push("invoice number");
    }
    if inv.issue_date.is_none() {
        missing.push("issue date");
    }
    if inv.gross_total.is_none() {
        missing.push("gross total");
    }
    if inv.supplier.name.is_none() {
        missing.push("supplier name");
    }
    if !missing.is_empty() {
        k.flag("missing.mandatory", format!("not found: {}", missing.join(", ")), vec![]);
    }
    k.flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::extract;

    use crate::invoice::extract::tests::rules;
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }
    fn flags(text: &str) -> Vec<String> {
        let d = crate::invoice::extract::tests::doc(&[text]);
        let inv = extract(&d, rules());
        validate(&inv, &d, rules(), today()).into_iter().map(|f| f.rule).collect()
    }
    const HEAD: &str = "Acme\nFacture n° : F-1\nDate : 20/11/2026\n";

    #[test]
    fn luhn_and_keys() {
        assert!(luhn_valid("438050700"));
        assert!(!luhn_valid("438050701"));
        assert!(siret_valid("43805070000022"));
        assert!(siret_valid("35600000000047"));
        assert_eq!(french_vat_key("438050700"), Some(89));
    }

    #[test]
    fn iban_rules() {
        assert!(
            !flags(&format!("{HEAD}IBAN : FR76 3000 4520 8671 0153 2618 077"))
                .contains(&"iban.checksum".to_string())
        );
        assert!(
            flags(&format!("{HEAD}IBAN : FR76 3000 4520 8671 0153 2618 078"))
                .contains(&"iban.checksum".to_string())
        );
        let f = flags(&format!("{HEAD}N° TVA : FR89438050700\nIBAN : IE07 BOFI 9090 4038 9520 04"));
        assert!(f.contains(&"iban.country".to_string()), "{f:?}");
    }

    #[test]
    fn siren_and_vat_rules() {
        assert!(flags(&format!("{HEAD}SIRET : 438 050 700 00023")).contains(&"siren.luhn".to_string()));
        assert!(flags(&format!("{HEAD}N° TVA : FR12438050700")).contains(&"vat.fr_key".to_string()));
        assert!(!flags(&format!("{HEAD}N° TVA : FR89438050700")).contains(&"vat.fr_key".to_string()));
        let f = flags(&format!("{HEAD}SIREN : 785 067 778\nN° TVA : FR89438050700"));
        assert!(f.contains(&"vat.fr_siren".to_string()), "{f:?}");
    }

    #[test]
    fn french_rates() {
        let f = flags(&format!("{HEAD}N° TVA : FR89438050700\n19,6 % 100,00 € 19,60 €"));
        assert!(f.contains(&"vat.fr_rate".to_string()), "{f:?}");
        let f = flags(
            "Acme\nFacture n° : F-1\nDate : 20/11/2012\nN° TVA : FR89438050700\n19,6 % 100,00 € 19,60 €",
        );
        assert!(!f.contains(&"vat.fr_rate".to_string()), "{f:?}");
        let f = flags(&format!("{HEAD}N° TVA : FR89438050700\n5,5 % 100,00 € 5,50 €"));
        assert!(!f.contains(&"vat.fr_rate".to_string()), "{f:?}");
    }

    #[test]
    fn arithmetic() {
        let ok = format!(
            "{HEAD}20 % 100,00 € 20,00 €\nTotal HT 100,00 €\nTotal TVA 20,00 €\nTotal TTC 120,00 €\nNet à payer 120,00 €"
        );
        let f = flags(&ok);
        for r in ["BR-CO-14", "BR-CO-15", "BR-CO-16", "vat.per_rate"] {
            assert!(!f.contains(&r.to_string()), "{r} {f:?}");
        }
        let f = flags(&ok.replace("Total TTC 120,00", "Total TTC 121,00"));
        assert!(f.contains(&"BR-CO-15".to_string()) && f.contains(&"BR-CO-16".to_string()), "{f:?}");
        let f = flags(&ok.replace("Total TVA 20,00", "Total TVA 21,00"));
        assert!(f.contains(&"BR-CO-14".to_string()), "{f:?}");
        let f = flags(&ok.replace("20 % 100,00 € 20,00 €", "20 % 100,00 € 25,00 €"));
        assert!(f.contains(&"vat.per_rate".to_string()), "{f:?}");
        let lines = format!("{HEAD}Stylos 2 boîte 10,00 € 20 % 20,00 €\nTotal HT 30,00 €");
        assert!(flags(&lines).contains(&"BR-CO-10".to_string()));
        assert!(!flags(&lines.replace("30,00", "20,00")).contains(&"BR-CO-10".to_string()));
    }

    #[test]
    fn dates() {
        assert!(flags("Acme\nFacture n° : F-1\nDate : 20/12/2026").contains(&"date.future".to_string()));
        assert!(flags("Acme\nFacture n° : F-1\nDate : 20/12/2024").contains(&"date.very_old".to_string()));
        assert!(
            flags(&format!("{HEAD}Échéance : 01/11/2026")).contains(&"date.due_before_issue".to_string())
        );
        assert!(flags(HEAD).iter().all(|f| !f.starts_with("date.")));
    }

    #[test]
    fn amounts() {
        assert!(
            flags(&format!("{HEAD}Total TTC 4 990,00 €"))
                .contains(&"amount.just_under_threshold".to_string())
        );
        assert!(
            !flags(&format!("{HEAD}Total TTC 4 500,00 €"))
                .contains(&"amount.just_under_threshold".to_string())
        );
        assert!(flags(&format!("{HEAD}Total TTC 15 000,00 €")).contains(&"amount.round".to_string()));
        assert!(!flags(&format!("{HEAD}Total TTC 15 010,00 €")).contains(&"amount.round".to_string()));
    }

    #[test]
    fn french_mentions() {
        let t =
            format!("{HEAD}N° TVA : FR89438050700\nFacturé à\nClient SA\nN° TVA : FR84785067778\n\nPériode");
        let f = flags(&t);
        assert!(
            f.contains(&"fr.customer_siren".to_string()) && f.contains(&"fr.sale_category".to_string()),
            "{f:?}"
        );
        let t = t.replace("\n\nPériode", "\nSIREN : 785 067 778\n\nPériode");
        let f = flags(&format!(
            "{t}\nCatégorie de l'opération : prestation de services\nAdresse de livraison : idem\nOption pour le paiement de la taxe d'après les débits"
        ));
        assert!(f.iter().all(|r| !r.starts_with("fr.")), "{f:?}");
    }

    #[test]
    fn missing_fields() {
        assert!(flags("rien").contains(&"missing.mandatory".to_string()));
    }
}
