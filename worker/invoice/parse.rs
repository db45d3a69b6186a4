//! French, English (and German) amounts and dates as printed on invoices: "1 234,56 €",
//! "€1,234.56", "1.234,56 EUR", "23/11/2026", "23 nov. 2026", "4 décembre 2026", "Nov 23, 2026",
//! "2026-11-23". Every parser reads a value at the start of a string and says how many bytes it
//! used, so that the value can be grounded to its exact span.

use chrono::NaiveDate;
use regex::Regex;
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::LazyLock;

/// An amount read from text: the value, the currency its symbol or code names, and the bytes used.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedAmount {
    pub value: Decimal,
    pub currency: Option<&'static str>,
    pub len: usize,
}

/// Which character separates decimals, when a supplier template says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalHint {
    #[default]
    Auto,
    Comma,
    Dot,
}

static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?P<pre>€|\$|£|₹|EUR\b|USD\b|GBP\b|CHF\b|INR\b|Rs\.?)?\s?(?P<sign>[-−])?\s?(?P<num>\d{1,3}(?:[  .,'’]\d{3})+(?:[.,]\d{1,4})?|\d+(?:[.,]\d{1,4})?)(?P<post>\s?(?:€|EUR\b|USD\b|GBP\b|CHF\b|INR\b|\$|£|₹))?",
    )
    .expect("amount regex")
});

fn currency_code(sym: &str) -> Option<&'static str> {
    match sym.trim() {
        "€" | "EUR" => Some("EUR"),
        "$" | "USD" => Some("USD"),
        "£" | "GBP" => Some("GBP"),
        "CHF" => Some("CHF"),
        // The Indian rupee: "₹1,939", "Rs 1939", "Rs. 1,939.00", "1939 INR".
        "₹" | "INR" | "Rs" | "Rs." => Some("INR"),
        _ => None,
    }
}

/// Normalise the digits of an amount to a `Decimal`, deciding which separator is the decimal one.
pub fn number_value(num: &str, hint: DecimalHint) -> Option<Decimal> {
    let seps: Vec<(usize, char)> = num.char_indices().filter(|(_, c)| !c.is_ascii_digit()).collect();
    let decimal_at = match seps.last() {
        None => None,
        Some(&(i, c)) => {
            let digits_after = num[i + c.len_utf8()..].len();
            let kinds: std::collections::BTreeSet<char> = seps.iter().map(|(_, c)| *c).collect();
            match hint {
                DecimalHint::Comma => (c == ',').then_some(i),
                DecimalHint::Dot => (c == '.').then_some(i),
                DecimalHint::Auto => {
                    if !(c == ',' || c == '.') {
                        None
                    } else if kinds.len() > 1 || digits_after != 3 {
                        // "1 234,56", "1,234.56", "12,5": the last separator is the decimal one.
                        (seps.iter().filter(|(_, k)| *k == c).count() == 1).then_some(i)
                    } else {
                        // "1,234" or "1.234": a thousands separator (invoices print two decimals).
                        None
                    }
                }
            }
        }
    };
    let mut s = String::with_capacity(num.len());
    for (i, c) in num.char_indices() {
        if c.is_ascii_digit() {
            s.push(c);
        } else if Some(i) == decimal_at {
            s.push('.');
        }
    }
    Decimal::from_str(&s).ok()
}

/// An amount at the start of `s` ("1 234,56 €", "€1,234.56", "-12.00 EUR"). The amount must end
/// the text or be followed by a space or punctuation, not by a digit or "%" (a rate is not an
/// amount).
pub fn parse_amount(s: &str, hint: DecimalHint) -> Option<ParsedAmount> {
    let c = AMOUNT.captures(s)?;
    // A currency before the number, or after it, not both ("€1.00 €2.00" is two amounts).
    let post = if c.name("pre").is_some() { None } else { c.name("post") };
    let len = match post {
        Some(p) => p.end(),
        None => c.name("num")?.end(),
    };
    let rest = &s[len..];
    if rest.chars().next().is_some_and(|n| n.is_ascii_digit() || n == '%' || n.is_alphabetic())
        || rest.trim_start().starts_with('%')
    {
        // "20 %" (a rate), "12e" or "3x" (not an amount).
        return None;
    }
    let num = c.name("num")?.as_str();
    let mut value = number_value(num, hint)?;
    if c.name("sign").is_some() {
        value = -value;
    }
    let currency = c.name("pre").or(post).and_then(|m| currency_code(m.as_str()));
    Some(ParsedAmount { value, currency, len })
}

/// A rate in percent at the start of `s` ("20 %", "5,5 %", "13.5%").
pub fn parse_rate(s: &str) -> Option<(Decimal, usize)> {
    static RATE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(\d{1,2}(?:[.,]\d{1,2})?)\s?%").expect("rate regex"));
    let c = RATE.captures(s)?;
    let v = Decimal::from_str(&c[1].replace(',', ".")).ok()?;
    Some((v.normalize(), c.get(0)?.end()))
}

fn month_number(word: &str) -> Option<u32> {
    let w = word.trim_end_matches('.').to_lowercase();
    let w = w.as_str();
    Some(match w {
        // French, English, German, Dutch, Spanish and Italian names and their usual abbreviations.
        "janvier" | "janv" | "jan" | "january" | "januar" | "jänner" | "januari" | "enero" | "ene"
        | "gennaio" | "gen" => 1,
        "février" | "fevrier" | "févr" | "fevr" | "fév" | "fev" | "feb" | "february" | "februar"
        | "februari" | "febrero" | "febbraio" => 2,
        "mars" | "mar" | "march" | "märz" | "maerz" | "maart" | "mrt" | "marzo" => 3,
        "avril" | "avr" | "apr" | "april" | "abril" | "abr" | "aprile" => 4,
        "mai" | "may" | "mei" | "mayo" | "maggio" | "mag" => 5,
        "juin" | "jun" | "june" | "juni" | "junio" | "giugno" | "giu" => 6,
        "juillet" | "juil" | "jul" | "july" | "juli" | "julio" | "luglio" | "lug" => 7,
        "août" | "aout" | "aug" | "august" | "augustus" | "agosto" => 8,
        "septembre" | "sept" | "sep" | "september" | "septiembre" | "settembre" => 9,
        "octobre" | "oct" | "october" | "oktober" | "okt" | "octubre" | "ottobre" | "ott" => 10,
        "novembre" | "nov" | "november" | "noviembre" => 11,
        "décembre" | "decembre" | "déc" | "dec" | "december" | "dezember" | "dez" | "diciembre" | "dic"
        | "dicembre" => 12,
        _ => return None,
    })
}

static DATE_NUMERIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{1,2})([./-])(\d{1,2})([./-])(\d{4}|\d{2})\b").expect("date regex"));
static DATE_ISO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{4})-(\d{2})-(\d{2})\b").expect("iso date regex"));
static DATE_DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})(?:er|st|nd|rd|th)?\.?\s+(?:de\s+)?([\p{L}]{3,10}\.?),?\s+(?:de\s+)?(\d{4})\b")
        .expect("date regex")
});
static DATE_MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([\p{L}]{3,10}\.?)\s+(\d{1,2})(?:st|nd|rd|th)?\s?,?\s+(\d{4})\b").expect("date regex")
});

fn year4(y: &str) -> Option<i32> {
    let v: i32 = y.parse().ok()?;
    Some(if y.len() == 2 { 2000 + v } else { v })
}

/// A date at the start of `s`, with the bytes used. Numeric dates are read day first
/// (23/11/2026) unless `month_first` (11/23/2026); a day above 12 decides either way.
pub fn parse_date(s: &str, month_first: bool) -> Option<(NaiveDate, usize)> {
    if let Some(c) = DATE_ISO.captures(s) {
        let d = NaiveDate::from_ymd_opt(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?)?;
        return Some((d, c.get(0)?.end()));
    }
    if let Some(c) = DATE_NUMERIC.captures(s) {
        if c[2] != c[4] {
            return None;
        }
        let a: u32 = c[1].parse().ok()?;
        let b: u32 = c[3].parse().ok()?;
        let y = year4(&c[5])?;
        let (d, m) = if month_first && a <= 12 || b > 12 { (b, a) } else { (a, b) };
        let date = NaiveDate::from_ymd_opt(y, m, d)?;
        return Some((date, c.get(0)?.end()));
    }
    if let Some(c) = DATE_DAY_MONTH.captures(s)
        && let Some(m) = month_number(&c[2])
    {
        let date = NaiveDate::from_ymd_opt(c[3].parse().ok()?, m, c[1].parse().ok()?)?;
        return Some((date, c.get(0)?.end()));
    }
    if let Some(c) = DATE_MONTH_DAY.captures(s)
        && let Some(m) = month_number(&c[1])
    {
        let date = NaiveDate::from_ymd_opt(c[3].parse().ok()?, m, c[2].parse().ok()?)?;
        return Some((date, c.get(0)?.end()));
    }
    None
}

/// The first date anywhere in `s`, with its byte range.
pub fn find_date(s: &str, month_first: bool) -> Option<(NaiveDate, usize, usize)> {
    let mut starts = vec![0];
    starts.extend(s.char_indices().filter(|(i, c)| *i > 0 && c.is_alphanumeric()).map(|(i, _)| i));
    for i in starts {
        let prev = s[..i].chars().next_back();
        if prev.is_some_and(|p| p.is_alphanumeric()) {
            continue;
        }
        if let Some((d, len)) = parse_date(&s[i..], month_first) {
            return Some((d, i, i + len));
        }
    }
    None
}

/// The first amount anywhere in `s` that is not a rate, with its byte range.
pub fn find_amount(s: &str, hint: DecimalHint) -> Option<(ParsedAmount, usize)> {
    for (i, c) in s.char_indices() {
        if !(c.is_ascii_digit()
            || matches!(c, '€' | '$' | '£' | '₹' | '-' | 'E' | 'U' | 'G' | 'C' | 'I' | 'R'))
        {
            continue;
        }
        if let Some(prev) = s[..i].chars().next_back()
            && (prev.is_alphanumeric() || prev == ',' || prev == '.')
        {
            continue;
        }
        if let Some(a) = parse_amount(&s[i..], hint) {
            return Some((a, i));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amt(s: &str) -> Option<String> {
        parse_amount(s, DecimalHint::Auto).map(|a| format!("{} {:?} {}", a.value, a.currency, a.len))
    }
    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn french_amounts() {
        assert_eq!(amt("1 234,56 €"), Some("1234.56 Some(\"EUR\") 12".into()));
        assert_eq!(amt("10 751,50 €").unwrap().split(' ').next(), Some("10751.50"));
        assert_eq!(amt("654,00 €").unwrap().split(' ').next(), Some("654.00"));
        assert_eq!(amt("1.234,56 EUR").unwrap().split(' ').next(), Some("1234.56"));
        assert_eq!(amt("-12,00 €").unwrap().split(' ').next(), Some("-12.00"));
        assert_eq!(amt("1 000 000 €").unwrap().split(' ').next(), Some("1000000"));
    }

    #[test]
    fn english_amounts() {
        assert_eq!(amt("€1,234.56"), Some("1234.56 Some(\"EUR\") 11".into()));
        assert_eq!(amt("€40.00").unwrap().split(' ').next(), Some("40.00"));
        assert_eq!(amt("$12,345,678.9").unwrap().split(' ').next(), Some("12345678.9"));
        assert_eq!(amt("1,234").unwrap().split(' ').next(), Some("1234"));
        assert_eq!(amt("1234.5").unwrap().split(' ').next(), Some("1234.5"));
    }

    #[test]
    fn indian_rupee_amounts() {
        assert_eq!(amt("Rs 1939"), Some("1939 Some(\"INR\") 7".into()));
        assert_eq!(amt("Rs. 1,939.00").unwrap(), "1939.00 Some(\"INR\") 12");
        assert_eq!(amt("₹1,939.50").unwrap().split(' ').nth(1), Some("Some(\"INR\")"));
        assert_eq!(amt("Rs -40.00").unwrap().split(' ').next(), Some("-40.00"));
        assert_eq!(amt("1939 INR"), Some("1939 Some(\"INR\") 8".into()));
        // "Rs" inside a word is not the currency.
        assert_eq!(find_amount("Hrs 12", DecimalHint::Auto).map(|(a, at)| (a.currency, at)), Some((None, 4)));
    }

    #[test]
    fn rates_are_not_amounts() {
        assert_eq!(amt("20 % 1 720,53 €"), None);
        assert_eq!(amt("23% €42.09"), None);
        assert_eq!(amt("HT 9 008,64 €"), None);
        assert_eq!(parse_rate("5,5 %"), Some((Decimal::new(55, 1), 5)));
        assert_eq!(parse_rate("13.5%"), Some((Decimal::new(135, 1), 5)));
    }

    #[test]
    fn decimal_hint() {
        assert_eq!(number_value("1.234", DecimalHint::Dot), Some(Decimal::new(1234, 3)));
        assert_eq!(number_value("1,234", DecimalHint::Comma), Some(Decimal::new(1234, 3)));
        assert_eq!(number_value("1.234", DecimalHint::Comma), Some(Decimal::new(1234, 0)));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("23/11/2026", false), Some((d(2026, 11, 23), 10)));
        assert_eq!(parse_date("23.11.2026", false).unwrap().0, d(2026, 11, 23));
        assert_eq!(parse_date("11/23/2026", false).unwrap().0, d(2026, 11, 23));
        assert_eq!(parse_date("03/04/2026", true).unwrap().0, d(2026, 3, 4));
        assert_eq!(parse_date("23 nov. 2026", false).unwrap().0, d(2026, 11, 23));
        assert_eq!(parse_date("4 décembre 2026", false).unwrap().0, d(2026, 12, 4));
        assert_eq!(parse_date("1er août 2026", false).unwrap().0, d(2026, 8, 1));
        assert_eq!(parse_date("Nov 23, 2026", false), Some((d(2026, 11, 23), 12)));
        assert_eq!(parse_date("November 23rd, 2026", false).unwrap().0, d(2026, 11, 23));
        assert_eq!(parse_date("2026-11-23", false).unwrap().0, d(2026, 11, 23));
        assert_eq!(parse_date("12. März 2026", false).unwrap().0, d(2026, 3, 12));
        // A space before the comma ("August 3 , 2014", as some text layers space it).
        assert_eq!(parse_date("August 3 , 2014", false).unwrap().0, d(2014, 8, 3));
        // Dutch, Spanish and Italian month names.
        assert_eq!(parse_date("29 maart 2014", false).unwrap().0, d(2014, 3, 29));
        assert_eq!(parse_date("8 de septiembre de 2022", false).unwrap().0, d(2022, 9, 8));
        assert_eq!(parse_date("3 mei 2021", false).unwrap().0, d(2021, 5, 3));
        assert_eq!(parse_date("12 settembre 2022", false).unwrap().0, d(2022, 9, 12));
        assert_eq!(parse_date("31/02/2026", false), None);
        assert_eq!(parse_date("d'échéance : 31/12/2026", false), None);
        assert_eq!(find_date("du 01/10/2026 au 31/10/2026", false).map(|x| (x.1, x.2)), Some((3, 13)));
    }

    #[test]
    fn find_amounts() {
        let (a, at) = find_amount("Total TTC 10 751,50 €", DecimalHint::Auto).unwrap();
        assert_eq!((a.value, at), (Decimal::new(1075150, 2), 10));
        let (a, _) = find_amount("VAT 23% €42.09", DecimalHint::Auto).unwrap();
        assert_eq!(a.value, Decimal::new(4209, 2));
    }
}
