//! Template-free extraction from the visible text (label/value layout rules and patterns of
//! `rules/invoice/fields.toml`), and the e-invoice overlay: XML values win, disagreements with the
//! page are flags.

use super::parse::{DecimalHint, find_amount, parse_amount, parse_date, parse_rate};
use super::rules::{FieldName, FieldRule, InvoiceRules, Occurrence, ValueKind};
use super::{ExtractedInvoice, Flag, InvoiceKind, LineItem, PartyFields, Source, VatLine};
use crate::document::{Document, PageMethod, Span, squash as norm};
use crate::einvoice::{EInvoice, Evidenced};
use crate::evidence::{Evidence, Grounded, Location, Method};
use chrono::NaiveDate;
use regex::Regex;
use rust_decimal::Decimal;
use std::sync::LazyLock;

/// Switches of one extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Use the e-invoice XML when the document carries one (off for evaluating the text path).
    pub use_einvoice: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions { use_einvoice: true }
    }
}

/// One line of a page's text.
#[derive(Debug, Clone, Copy)]
struct TextLine<'a> {
    page: u32,
    /// Byte offset of the line in its page's text.
    start: usize,
    text: &'a str,
}

fn lines_of(doc: &Document) -> Vec<TextLine<'_>> {
    let mut out = Vec::new();
    for p in &doc.pages {
        let mut start = 0;
        for l in p.text.split('\n') {
            out.push(TextLine { page: p.number, start, text: l });
            start += l.len() + 1;
        }
    }
    out
}

/// Evidence for a span of a page, with the confidence scaled by the OCR words' confidence.
fn evidence(
    doc: &Document,
    page: u32,
    start: usize,
    end: usize,
    method: Method,
    confidence: f32,
) -> Option<Evidence> {
    let loc = Location::of(doc, page, Span { start, end })?;
    let p = doc.pages.get(page as usize - 1)?;
    // Scaled by the OCR words' confidence: those of an OCR page, or of text read in an image.
    let ws: Vec<f32> = p.words_over(Span { start, end }).map(|w| w.confidence).collect();
    let conf = if !ws.is_empty() {
        confidence * (ws.iter().sum::<f32>() / ws.len() as f32 / 100.0).clamp(0.0, 1.0)
    } else if p.method == PageMethod::Ocr {
        confidence * 0.5
    } else {
        confidence
    };
    Some(Evidence { locations: vec![loc], method, confidence: conf })
}

fn grounded<T>(value: T, ev: Option<Evidence>) -> Option<Grounded<T>> {
    ev.map(|evidence| Grounded { value, evidence })
}

/// A value found after a label: its text range in the line and what it is.
#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Date(NaiveDate),
    Amount(Decimal, Option<&'static str>),
}

#[derive(Debug, Clone)]
struct Candidate {
    value: Value,
    page: u32,
    start: usize,
    end: usize,
    rule: String,
    line_index: usize,
    /// A party identifier under a label addressed to the reader ("Uw BTW nummer", "Your VAT
    /// number"): the customer's, wherever it is printed.
    yours: bool,
}

/// "Your", "Uw", "Votre", "Ihre" right before a label.
static YOUR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(?:^|\W)(?:your|uw|jouw|votre|vos|ihre?)\s*$").expect("your regex"));

static ID_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9\-/_.]{0,38}[A-Za-z0-9]|^[0-9]").expect("id regex"));
static GLUED_LABEL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d\p{L}{4,}$").expect("glued regex"));
static SIREN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\d{3}) ?(\d{3}) ?(\d{3})\b").expect("siren"));
static SIRET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{3}) ?(\d{3}) ?(\d{3}) ?(\d{5})\b").expect("siret"));
/// A VAT number, its groups maybe separated by spaces or dots ("BE 0123.456.749").
static VAT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Z]{2}) ?([0-9A-Z]{2})[ .]?((?:[0-9A-Z][ .]?){6,11})").expect("vat"));
static IBAN_GROUPS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){2,8}").expect("iban"));
static BIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?\b").expect("bic"));

const VAT_COUNTRIES: [&str; 31] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE", "IT", "LT",
    "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI", "GB", "CH", "NO",
];

/// IBAN mod-97 check (ISO 13616).
pub fn iban_valid(iban: &str) -> bool {
    let b = iban.as_bytes();
    if b.len() < 15 || b.len() > 34 || !b.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in b[4..].iter().chain(&b[..4]) {
        let v =
            if c.is_ascii_digit() { (c - b'0') as u32 } else { (c.to_ascii_uppercase() - b'A') as u32 + 10 };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

/// Read a value of `kind` at the start of `rest`; (value, bytes used, bytes skipped before it).
fn read_value(kind: ValueKind, rest: &str) -> Option<(Value, usize, usize)> {
    let trimmed = rest.trim_start();
    let mut skip = rest.len() - trimmed.len();
    let r = trimmed;
    let v = match kind {
        ValueKind::Id => {
            // A number sign before the identifier ("Invoice No : # BLR_WFLD2015…", "# inv_1").
            let hashed = r.strip_prefix('#').map(str::trim_start).filter(|h| !h.is_empty());
            let r = match hashed {
                Some(h) => {
                    skip += r.len() - h.len();
                    h
                }
                None => r,
            };
            let m = ID_TOKEN.find(r)?;
            let t = m.as_str();
            // Not a date, nor the day opening one ("Beitragsrechnung 24. Januar 2014"); after a
            // number sign, more than a row number ("# 1").
            if !t.bytes().any(|b| b.is_ascii_digit())
                || parse_date(t, false).is_some()
                || parse_date(r, false).is_some()
                || (hashed.is_some() && t.len() < 3)
            {
                return None;
            }
            (Value::Text(t.to_string()), m.end())
        }
        ValueKind::Date => {
            let (d, len) = parse_date(r, false)?;
            (Value::Date(d), len)
        }
        ValueKind::Amount => {
            let a = parse_amount(r, DecimalHint::Auto)?;
            (Value::Amount(a.value, a.currency), a.len)
        }
        ValueKind::Text => {
            let t = r.trim_end();
            if t.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
                return None;
            }
            (Value::Text(t.to_string()), t.len())
        }
        ValueKind::Siret => {
            let c = SIRET.captures(r)?;
            (Value::Text(format!("{}{}{}{}", &c[1], &c[2], &c[3], &c[4])), c.get(0)?.end())
        }
        ValueKind::Siren => {
            let c = SIREN.captures(r)?;
            if r[c.get(0)?.end()..].trim_start().starts_with(|ch: char| ch.is_ascii_digit()) {
                return None; // a SIRET, not a SIREN
            }
            (Value::Text(format!("{}{}{}", &c[1], &c[2], &c[3])), c.get(0)?.end())
        }
        ValueKind::Vat => {
            let c = VAT.captures(r)?;
            if !VAT_COUNTRIES.contains(&&c[1]) {
                return None;
            }
            let m = c.get(0)?;
            // A dot after the number ends a sentence.
            let text = m.as_str().trim_end_matches([' ', '.']);
            let mut v: String = text.chars().filter(char::is_ascii_alphanumeric).collect();
            let mut text = text;
            if &c[1] == "FR" && v.len() > 13 {
                // FR + key + SIREN: 13 characters; anything after belongs to the next word.
                v.truncate(13);
                let mut n = 0;
                let cut = text.char_indices().find(|(_, ch)| {
                    if ch.is_ascii_alphanumeric() {
                        n += 1;
                    }
                    n > 13
                });
                text = text[..cut.map(|(i, _)| i).unwrap_or(text.len())].trim_end_matches([' ', '.']);
            }
            if v[2..].bytes().filter(u8::is_ascii_digit).count() < 2 {
                return None;
            }
            (Value::Text(v), text.len())
        }
        ValueKind::Iban => {
            let m = IBAN_GROUPS.find(r)?;
            // Shortest run of groups that passes mod 97; else the whole run (checked later).
            let mut ends: Vec<usize> =
                m.as_str().char_indices().filter(|(_, c)| *c == ' ').map(|(i, _)| i).collect();
            ends.push(m.end());
            let pick =
                ends.iter().copied().find(|&e| iban_valid(&r[..e].replace(' ', ""))).unwrap_or(m.end());
            let v = r[..pick].replace(' ', "");
            if v.len() < 15 {
                return None;
            }
            (Value::Text(v), pick)
        }
        ValueKind::Bic => {
            let m = BIC.find(r)?;
            (Value::Text(m.as_str().to_string()), m.end())
        }
    };
    Some((v.0, v.1, skip))
}

/// Read a value of `kind` after a label: on the rest of the line (past a parenthesised remark,
/// "Rechnungssumme Netto (excl. USt.) 473,00"), else at the start of the next non-empty line of
/// the page (labels above their values, in tables and in text layers that break lines).
/// (value, page, start, end) of what was read.
fn value_after(
    kind: ValueKind,
    lines: &[TextLine],
    i: usize,
    label_start: usize,
    from: usize,
) -> Option<(Value, u32, usize, usize)> {
    let l = &lines[i];
    let mut rest = &l.text[from..];
    let mut at = from;
    if kind == ValueKind::Amount {
        // Past a footnote mark ("Tax * $0.00") and the date the amount is due on ("Amount due on
        // August 3 , 2014 $4.11").
        let t = rest.trim_start().trim_start_matches(['*', '†']);
        if t.len() < rest.trim_start().len() && t.starts_with(' ') {
            at += rest.len() - t.len();
            rest = t;
        }
        if let Some(p) = DATE_PREPOSITION.find(rest)
            && let Some((_, len)) = parse_date(&rest[p.end()..], false)
        {
            let after = &rest[p.end() + len..];
            let t = after.trim_start_matches([' ', ':', ',']);
            if t.len() < after.len() {
                at += rest.len() - t.len();
                rest = t;
            }
        }
    }
    if let Some((v, len, skip)) = read_value(kind, rest) {
        return Some((v, l.page, l.start + at + skip, l.start + at + skip + len));
    }
    let t = rest.trim_start();
    if t.starts_with('(')
        && let Some(close) = t.find(')')
        && has_letters(&t[..close], 3)
    {
        let cut = rest.len() - t.len() + close + 1;
        at += cut;
        rest = &rest[cut..];
        let r = rest.trim_start_matches([' ', ':']);
        at += rest.len() - r.len();
        rest = r;
        if let Some((v, len, skip)) = read_value(kind, rest) {
            return Some((v, l.page, l.start + at + skip, l.start + at + skip + len));
        }
    }
    // The next non-empty line (within two) of the same page, for values that do not follow their
    // label on its line: under a label ending its line (a column header above its value; a date
    // also under a label followed by other text). Free text and amounts only under a label alone
    // on its line (an amount column header sits above every row's amount).
    let ends_line = rest.trim().is_empty();
    let alone = ends_line && l.text[..label_start].trim().is_empty();
    let ok = match kind {
        ValueKind::Text | ValueKind::Amount => alone,
        ValueKind::Date => true,
        _ => ends_line,
    };
    // A header cell of a row of labels above a row of values ("Klant   Order   Factuur datum   …" /
    // "SCONL…   SCONL…   8-9-2022   …").
    let grid = || {
        (matches!(kind, ValueKind::Id | ValueKind::Date | ValueKind::Vat) && TABLE_GAP.is_match(l.text))
            .then(|| value_in_grid(kind, lines, i, label_start, from))
            .flatten()
    };
    if !ok {
        if kind == ValueKind::Amount && TABLE_GAP.is_match(l.text) {
            return value_in_column(lines, i, label_start, from);
        }
        return grid();
    }
    value_below(kind, lines, i, label_start)
        .or_else(grid)
        .or_else(|| (kind == ValueKind::Date).then(|| date_in_wrapped_row(lines, i, label_start)).flatten())
}

/// A word after which a date belongs to a sentence ("Skonto … bis 15.06.2018"), not to a cell.
static BEFORE_DATE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:bis|zum|vom|von|am|ab|seit|until|by|before|from|on|to|le|du|au|avant|tot|van)\s*$")
        .expect("before-date regex")
});

/// A date under a column header when the row's first cell, a description, wraps over several lines
/// ("Beschreibung Fälligkeit Teilzahlung" / "Zahlungsbedingungen: Der Rechnungsbetrag wurde
/// bereits" / "beglichen. 03.10.2018"): the header is a short line of capitalised words without
/// figures, the label not its first word; the row runs to the next blank line (four lines at most)
/// and holds exactly one date, which ends its line and stands apart from the text before it (alone,
/// after two spaces, or after a sentence's end).
fn date_in_wrapped_row(
    lines: &[TextLine],
    i: usize,
    label_start: usize,
) -> Option<(Value, u32, usize, usize)> {
    let l = &lines[i];
    let words: Vec<&str> = l.text.split_whitespace().collect();
    let header = (2..=6).contains(&words.len())
        && words.iter().all(|w| w.starts_with(char::is_uppercase) && w.chars().all(char::is_alphabetic));
    if !header || l.text[..label_start].trim().is_empty() {
        return None;
    }
    let mut row = lines[i + 1..]
        .iter()
        .skip_while(|n| n.text.trim().is_empty())
        .take_while(|n| n.page == l.page && !n.text.trim().is_empty());
    let mut found = None;
    for n in row.by_ref().take(4) {
        let mut from = 0;
        while let Some((d, s, e)) = super::parse::find_date(&n.text[from..], false) {
            let (s, e) = (from + s, from + e);
            if found.is_some() {
                return None;
            }
            found = Some((d, n, s, e));
            from = e;
        }
    }
    let (d, n, s, e) = found?;
    let before = &n.text[..s];
    let apart = before.trim().is_empty() || before.ends_with("  ") || before.trim_end().ends_with(['.', '!']);
    (n.text[e..].trim().is_empty() && apart && !BEFORE_DATE_WORD.is_match(before)).then_some((
        Value::Date(d),
        n.page,
        n.start + s,
        n.start + e,
    ))
}

/// The value at the start of the next non-empty line (within three) of the same page.
fn value_below(
    kind: ValueKind,
    lines: &[TextLine],
    i: usize,
    label_start: usize,
) -> Option<(Value, u32, usize, usize)> {
    let l = &lines[i];
    let next = line_below(lines, i)?;
    // A date heading a column that is not the first of a row of cells: the cell of its rank below.
    if kind == ValueKind::Date
        && let Some((rank, header_cells)) = cell_rank(l.text, label_start)
        && rank > 0
    {
        return date_in_cell(next, rank, header_cells)
            .or_else(|| lone_date_in_row(l.text, rank, next, header_cells));
    }
    // A date may open its line with its preposition ("Rechnung Nr. 4711" / "vom 05.03.2018").
    let lead =
        if kind == ValueKind::Date { DATE_PREPOSITION.find(next.text).map_or(0, |m| m.end()) } else { 0 };
    let (v, len, skip) = read_value(kind, &next.text[lead..])?;
    let skip = skip + lead;
    if kind == ValueKind::Text {
        return Some((v, next.page, next.start + skip, next.start + skip + len));
    }
    // A value below must stand apart: what follows it on its line is not glued to it, and an
    // identifier is not a number glued to the next label ("6669263Klantnummer").
    let after = &next.text[skip + len..];
    if after.starts_with(|c: char| c.is_alphanumeric()) || GLUED_LABEL.is_match(&next.text[skip..skip + len])
    {
        return None;
    }
    Some((v, next.page, next.start + skip, next.start + skip + len))
}

/// The next non-empty line (within three) below line `i`, on the same page.
fn line_below<'l, 't>(lines: &'l [TextLine<'t>], i: usize) -> Option<&'l TextLine<'t>> {
    let next = lines[i + 1..].iter().take(3).find(|n| !n.text.trim().is_empty())?;
    (next.page == lines[i].page).then_some(next)
}

/// The non-blank lines of a table below its header line `i`: within the next `max` lines, on the
/// same page, up to two blank lines in a row (the table's end).
fn rows_below<'l, 't>(
    lines: &'l [TextLine<'t>],
    i: usize,
    max: usize,
) -> impl Iterator<Item = &'l TextLine<'t>> {
    let page = lines[i].page;
    let mut blanks = 0;
    lines[i + 1..]
        .iter()
        .take(max)
        .take_while(move |n| {
            blanks = if n.text.trim().is_empty() { blanks + 1 } else { 0 };
            n.page == page && blanks < 2
        })
        .filter(|n| !n.text.trim().is_empty())
}

/// The cells of a line laid out in columns (two or more spaces apart): byte ranges of their text.
fn cells(t: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    let mut spaces = 0;
    for (i, c) in t.char_indices() {
        if c.is_whitespace() {
            spaces += 1;
            continue;
        }
        match start {
            None => start = Some(i),
            Some(s) if spaces >= 2 => {
                let end = t[..i].trim_end().len();
                out.push((s, end));
                start = Some(i);
            }
            _ => {}
        }
        spaces = 0;
    }
    if let Some(s) = start {
        out.push((s, t.trim_end().len()));
    }
    out
}

/// The rank of the cell a label opens and the number of cells of its line, when the line is laid
/// out in columns and the label starts a cell ("Rechnungsdatum   Fälligkeit   Betrag").
fn cell_rank(t: &str, label_start: usize) -> Option<(usize, usize)> {
    let at = label_start + (t[label_start..].len() - t[label_start..].trim_start().len());
    let c = cells(t);
    if c.len() < 2 {
        return None;
    }
    Some((c.iter().position(|&(s, _)| s == at)?, c.len()))
}

/// The date filling the cell of `rank` in a row of cells under a header of `header_cells` cells.
/// A row with fewer cells (an empty column) must hold no other date, so that a row missing an
/// earlier cell cannot shift another column's date under the label.
fn date_in_cell(row: &TextLine, rank: usize, header_cells: usize) -> Option<(Value, u32, usize, usize)> {
    let c = cells(row.text);
    if c.len() > header_cells {
        return None;
    }
    let (s, e) = *c.get(rank)?;
    let (d, len) = parse_date(&row.text[s..e], false)?;
    if len != e - s {
        return None;
    }
    let other_date = c
        .iter()
        .enumerate()
        .any(|(k, &(s, e))| k != rank && super::parse::find_date(&row.text[s..e], false).is_some());
    if c.len() < header_cells && other_date {
        return None;
    }
    Some((Value::Date(d), row.page, row.start + s, row.start + e))
}

/// A header cell naming a date or a period (another date column than the label's).
static DATE_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)dat(?:e|um|a)|f[äa]llig|[ée]ch[ée]ance|\bdue\b|p[ée]riod|zeitraum|\btag\b|\bday\b|jour|valid|g[üu]ltig")
        .expect("date header regex")
});

/// The one date of a row under a header whose only date column is the label's, when the row has
/// fewer cells than its header (an empty cell shifted the columns: "Your Reference   Salesperson
/// Due Date   Payment Terms" / "Detlef Hembrock   March 3, 2026   …"): the row's single cell that
/// is wholly a date.
fn lone_date_in_row(
    header: &str,
    rank: usize,
    row: &TextLine,
    header_cells: usize,
) -> Option<(Value, u32, usize, usize)> {
    let other_date_column =
        cells(header).iter().enumerate().any(|(k, &(s, e))| k != rank && DATE_HEADER.is_match(&header[s..e]));
    let c = cells(row.text);
    if other_date_column || c.len() >= header_cells {
        return None;
    }
    let mut dates = c.iter().filter_map(|&(s, e)| {
        let (d, len) = parse_date(&row.text[s..e], false)?;
        (len == e - s).then_some((d, s, e))
    });
    let (d, s, e) = dates.next()?;
    // Nor any other date in the row.
    let others = c
        .iter()
        .filter(|&&(cs, _)| cs != s)
        .any(|&(cs, ce)| super::parse::find_date(&row.text[cs..ce], false).is_some());
    (dates.next().is_none() && !others).then_some((Value::Date(d), row.page, row.start + s, row.start + e))
}

/// Two or more spaces between words: a line laid out in columns (a table header).
static TABLE_GAP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\S {2,}\S").expect("gap regex"));

/// A value under its label in a grid: the label is a whole cell of a line laid out in columns, the
/// next non-empty line of the page has as many cells, and the cell at the label's position is
/// exactly one value of `kind`.
fn value_in_grid(
    kind: ValueKind,
    lines: &[TextLine],
    i: usize,
    label_start: usize,
    label_end: usize,
) -> Option<(Value, u32, usize, usize)> {
    let head = cells(lines[i].text);
    let k = head.iter().position(|&(s, e)| label_start <= s && e <= label_end && s < label_end)?;
    let next = line_below(lines, i)?;
    let row = cells(next.text);
    // A VAT id heading the first column may stand above a row missing a later cell ("VAT
    // Registration No.   Home Page   Phone No.   Email" / "DE777777777   999 / 9 99 99 99   info@…"):
    // the first cell cannot shift, and it must be a VAT id.
    let first_vat = kind == ValueKind::Vat && k == 0 && (2..head.len()).contains(&row.len());
    if head.len() < 2 || (row.len() != head.len() && !first_vat) {
        return None;
    }
    let (s, e) = row[k];
    let (v, len, skip) = read_value(kind, &next.text[s..e])?;
    (skip == 0 && len == e - s).then(|| (v, next.page, next.start + s, next.start + e))
}

/// An amount under its column header, in a table printed in fixed columns ("Nettobetrag    MwSt-Betrag
/// …  Endbetrag" above one row per rate, then the totals row): the amount of the table's last row
/// standing in the header's columns (character positions overlap). The table ends at two blank
/// lines in a row, at a line without an amount in the column, or after eight lines.
fn value_in_column(
    lines: &[TextLine],
    i: usize,
    label_start: usize,
    label_end: usize,
) -> Option<(Value, u32, usize, usize)> {
    let l = &lines[i];
    let col = |t: &str, at: usize| t[..at].chars().count();
    let (cs, ce) = (col(l.text, label_start), col(l.text, label_end));
    let mut found = None;
    for n in rows_below(lines, i, 8) {
        // Whitespace-separated tokens overlapping the header's columns.
        let mut hits = n.text.split_whitespace().filter_map(|tok| {
            let at = tok.as_ptr() as usize - n.text.as_ptr() as usize;
            let (ts, te) = (col(n.text, at), col(n.text, at) + tok.chars().count());
            (ts < ce && cs < te).then_some((at, tok))
        });
        let hit = hits.next().filter(|_| hits.next().is_none()).and_then(|(at, tok)| {
            let a = parse_amount(tok, DecimalHint::Auto).filter(|a| a.len == tok.len())?;
            Some((Value::Amount(a.value, a.currency), at))
        });
        match hit {
            Some((v, at)) => {
                found = Some((
                    v,
                    n.page,
                    n.start + at,
                    n.start + at + n.text[at..].split_whitespace().next()?.len(),
                ))
            }
            None => break,
        }
    }
    found
}

/// A value printed before its label, the label ending the line ("993548900Factuurnummer:"): the
/// text before the label must be exactly one value.
fn value_before(kind: ValueKind, l: &TextLine, label_start: usize) -> Option<(Value, u32, usize, usize)> {
    if kind == ValueKind::Text {
        return None;
    }
    let before = &l.text[..label_start];
    let t = before.trim_end();
    let lead = t.len() - t.trim_start().len();
    let t = t.trim_start();
    let (v, len, skip) = read_value(kind, t)?;
    if skip + len != t.len() {
        return None;
    }
    Some((v, l.page, l.start + lead + skip, l.start + lead + skip + len))
}

/// Every candidate of a field rule, in label priority then document order.
fn candidates(rule: &FieldRule, lines: &[TextLine]) -> Vec<Vec<Candidate>> {
    let mut per_label = Vec::new();
    for (id, re) in &rule.labels {
        let before = rule.labels_after_value.iter().find(|(b, _)| b == id).map(|(_, re)| re);
        let mut found = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            // A value before a label ending the line wins over one on the next line.
            let mut hit = before
                .and_then(|b| b.find(l.text))
                .and_then(|m| value_before(rule.kind, l, m.start()).map(|h| (h, m.start())));
            if hit.is_none() {
                hit = re.find_iter(l.text).find_map(|m| {
                    value_after(rule.kind, lines, i, m.start(), m.end()).map(|h| (h, m.start()))
                });
            }
            if let Some(((value, page, start, end), label_start)) = hit {
                let party_id = matches!(rule.kind, ValueKind::Vat | ValueKind::Siren | ValueKind::Siret);
                let yours = party_id && YOUR.is_match(&l.text[..label_start]);
                found.push(Candidate { value, page, start, end, rule: id.clone(), line_index: i, yours });
            }
        }
        per_label.push(found);
    }
    per_label
}

/// The winning candidate of a field among those `keep` accepts: the best label with a value, and
/// its first or last occurrence.
fn pick(rule: &FieldRule, lines: &[TextLine], keep: impl Fn(&Candidate) -> bool) -> Option<Candidate> {
    for found in candidates(rule, lines) {
        let mut ok = found.into_iter().filter(|c| keep(c));
        let c = match rule.occurrence {
            Occurrence::First => ok.next(),
            Occurrence::Last => ok.last(),
        };
        if c.is_some() {
            return c;
        }
    }
    None
}

/// A candidate's value grounded on its span, with the field rule's confidence.
fn ground<T>(doc: &Document, rule: &FieldRule, c: &Candidate, value: T) -> Option<Grounded<T>> {
    grounded(
        value,
        evidence(doc, c.page, c.start, c.end, Method::Layout { rule: c.rule.clone() }, rule.confidence),
    )
}

fn as_text(doc: &Document, rule: &FieldRule, c: &Candidate) -> Option<Grounded<String>> {
    let Value::Text(t) = &c.value else { return None };
    ground(doc, rule, c, t.clone())
}

fn as_date(doc: &Document, rule: &FieldRule, c: &Candidate) -> Option<Grounded<NaiveDate>> {
    let Value::Date(d) = &c.value else { return None };
    ground(doc, rule, c, *d)
}

fn as_amount(
    doc: &Document,
    rule: &FieldRule,
    c: &Candidate,
) -> Option<(Grounded<Decimal>, Option<&'static str>)> {
    let Value::Amount(a, cur) = &c.value else { return None };
    Some((ground(doc, rule, c, *a)?, *cur))
}

/// The customer block: line indexes `[start, end)`.
fn customer_block(rules: &InvoiceRules, lines: &[TextLine]) -> Option<(usize, usize)> {
    // A label followed by an identifier ("Customer: 2", "Client n° 4711", "Kundennummer") is the
    // customer's number, not the start of the block.
    // A label ending with its colon and followed by a labelled field of its own ("Käufer:Nummer :
    // GE2020211", the stream joining the section's heading to its first line) starts the block.
    let starts_block = |t: &str| {
        rules.customer_labels.find(t).is_some_and(|m| {
            let after = &t[m.end()..];
            let rest = after.trim_start_matches([' ', ':', '-', '.']);
            (after.trim_start().starts_with(':') && LABELLED_FIELD.is_match(rest))
                || !(rest.starts_with(|c: char| c.is_ascii_digit()) || CUSTOMER_ID.is_match(rest))
        })
    };
    let start = lines.iter().position(|l| starts_block(l.text))?;
    let mut seen = 0;
    let mut end = start + 1;
    while end < lines.len() && lines[end].page == lines[start].page {
        let t = lines[end].text;
        if !t.trim().is_empty() {
            if rules.block_end.is_match(t) || seen >= rules.block_max_lines {
                break;
            }
            seen += 1;
        }
        end += 1;
    }
    Some((start, end))
}

static DATE_PREPOSITION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*(?:vom|von|du|le|of|dated|on)\s+").expect("preposition regex"));
static OTHER_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:\s*/\s*\p{L}[\p{L}-]*)+\s*:?\s*").expect("other label regex"));
static CUSTOMER_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:kunden-?(?:nummer|nr\.?)|customer\s*(?:no\.?|number|id)\b|client\s*(?:n\s*[°º]|no\.?|number)|n\s*[°º]\s*client|num[ée]ro\s*(?:de\s*)?client|(?:globale\s*)?nummer\b|gln\b|debitor|klantnummer)")
        .expect("customer ref regex")
});
/// A field's label and its colon ("Nummer        :").
static LABELLED_FIELD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\p{L}[\p{L}.\- ]{0,30}?\s*:").expect("labelled field regex"));
static CUSTOMER_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:no\b|nr\b|n\s*[°º]|num(?:ber|[ée]ro)|id\b|code\b|ref|nummer|#)")
        .expect("customer id regex")
});
static LEGAL_FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(.{2,80}?)\s+[–—-]\s+(?:(?:SA|SAS|SASU|SARL|EURL|SNC|SCI|SCOP|SELARL|GIE|Ltd|Limited|GmbH|AG|BV|NV|SRL|SpA)\b|Registered\b|RCS\b|SIRE[NT]\b|Soci[ée]t[ée]\b)")
        .expect("footer regex")
});
/// The French legal mention without a dash: "Free SAS au capital de 3.441.812 Euros − …".
static LEGAL_CAPITAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(\p{L}.{1,59}?),?\s+(?:SA|SAS|SASU|SARL|EURL|SNC|SCI|SCOP|SELARL|SCA)\s+(?i:au|à)\s+(?i:capital)\b")
        .expect("capital regex")
});
/// The first line of a legal footer that does not name the company ("Siège social : 16 rue …",
/// "Sarl au capital de 10 000€ – …"): the name is the line above it.
static LEGAL_UNNAMED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:si[èe]ge\s*social\b|(?:SA|SAS|SASU|SARL|EURL|SNC|SCI|SELARL)\s+(?:au|à)\s+capital\b)",
    )
    .expect("unnamed footer regex")
});
static POSTCODE_TOWN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:[A-Z]{1,2}[- ]?)?\d{4,5}\s+\p{Lu}").expect("postcode regex"));
static CONTACT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:t[ée]l\.?|tel|phone|fax|e-?mail|www\.|siret|siren|n\s*°|vat|tva|rcs|iban|bic)\b|@",
    )
    .expect("contact regex")
});
static PAGE_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*(?:page|seite)\s*\d").expect("page regex"));

/// Words of a sentence, not of a name ("Our Olive Oil is delivered in a re-usable glass
/// container", "All AWS Services are sold by …").
static SENTENCE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:is|are|was|were|will|been|has|have|had|please|thank|sont|sera|ist|sind|wird|werden|zijn|wordt|heeft)\b")
        .expect("sentence regex")
});
/// Column headers of a line-item table ("Artikel Omschrijving Prijs BTW Hoeveelheid Bedrag").
static COLUMN_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:description|d[ée]signation|omschrijving|beschreibung|bezeichnung|artikel|article|item|qty|quantity|quantit[ée]|qt[ée]|menge|aantal|hoeveelheid|price|prix|prijs|preis|unit|unit[ée]|rate|amount|montant|bedrag|betrag|total|totaal|vat|tva|btw|mwst|tax|taxes|discount|remise|rabatt)\b")
        .expect("column regex")
});

/// A line that reads as a sentence, a table header or lower-case prose, never a party's name:
/// four words or more with a verb, three column headers or more, no capital letter at all.
fn prose_or_header(t: &str) -> bool {
    let words = t.split_whitespace().count();
    (words >= 4 && SENTENCE_WORD.is_match(t))
        || COLUMN_WORD.find_iter(t).count() >= 3
        || (has_letters(t, 2) && !t.chars().any(char::is_uppercase))
}

fn has_letters(s: &str, n: usize) -> bool {
    s.chars().filter(|c| c.is_alphabetic()).count() >= n
}

/// A multi-line text (address lines) as one value grounded on every line.
fn join_lines(doc: &Document, lines: &[&TextLine], rule: &str, confidence: f32) -> Option<Grounded<String>> {
    join_lines_with(doc, lines, ", ", rule, confidence)
}

/// As `join_lines`, the parts joined with `sep`.
fn join_lines_with(
    doc: &Document,
    lines: &[&TextLine],
    sep: &str,
    rule: &str,
    confidence: f32,
) -> Option<Grounded<String>> {
    let mut locs = Vec::new();
    let mut parts = Vec::new();
    let mut conf = confidence;
    for l in lines {
        let t = l.text.trim();
        let lead = l.text.len() - l.text.trim_start().len();
        let ev = evidence(
            doc,
            l.page,
            l.start + lead,
            l.start + lead + t.len(),
            Method::Layout { rule: rule.into() },
            confidence,
        )?;
        conf = conf.min(ev.confidence);
        locs.extend(ev.locations);
        parts.push(t.to_string());
    }
    if parts.is_empty() {
        return None;
    }
    Some(Grounded {
        value: parts.join(sep),
        evidence: Evidence {
            locations: locs,
            method: Method::Layout { rule: rule.into() },
            confidence: conf,
        },
    })
}

/// A line that may be a party's name: letters, no label, no identifier ahead of the letters.
fn name_like(rules: &InvoiceRules, t: &str) -> bool {
    let letters = t.chars().filter(|c| c.is_alphabetic()).count();
    let digits = t.chars().filter(|c| c.is_ascii_digit()).count();
    letters >= 2
        && digits * 2 < letters
        && t.len() <= 80
        && !t.contains(':')
        // Not a remark ("(Not to be used for payment remittance)").
        && !t.trim_start().starts_with('(')
        && !CONTACT_LINE.is_match(t)
        && !PAGE_LINE.is_match(t)
        && !prose_or_header(t)
        && !rules.not_a_name.as_ref().is_some_and(|r| r.is_match(t))
}

/// The trimmed text of `[from, to)` of a line, grounded on its span.
fn text_at(
    doc: &Document,
    l: &TextLine,
    from: usize,
    to: usize,
    method: Method,
    conf: f32,
) -> Option<Grounded<String>> {
    let raw = &l.text[from..to];
    let t = raw.trim();
    if t.is_empty() {
        return None;
    }
    let start = from + (raw.len() - raw.trim_start().len());
    grounded(t.to_string(), evidence(doc, l.page, l.start + start, l.start + start + t.len(), method, conf))
}

/// A name read by a layout rule: the trimmed text of `[from, to)` of a line.
fn name_at(
    doc: &Document,
    l: &TextLine,
    from: usize,
    to: usize,
    rule: &str,
    conf: f32,
) -> Option<Grounded<String>> {
    text_at(doc, l, from, to, Method::Layout { rule: rule.into() }, conf)
}

/// The seller's section ("Verkäufer", "Seller", "Fournisseur" alone on a line): the name after a
/// name label inside it, else its first line that looks like a name. (name, its line index)
fn supplier_from_section(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
    in_block: &dyn Fn(usize) -> bool,
) -> Option<(Grounded<String>, usize)> {
    let labels = rules.supplier_labels.as_ref()?;
    // The label alone on its line, or joined by the text layer to the section's first labelled
    // line ("Verkäufer:Nummer        :  549910").
    let joined = |t: &str| {
        rules
            .supplier_label_inline
            .as_ref()
            .and_then(|r| r.captures(t))
            .and_then(|c| c.name("after"))
            .is_some_and(|a| SHORT_LABELLED.is_match(a.as_str()))
    };
    let Some(start) = lines
        .iter()
        .enumerate()
        .position(|(i, l)| !in_block(i) && (labels.is_match(l.text) || joined(l.text)))
    else {
        return supplier_from_inline_label(doc, rules, lines, in_block);
    };
    let page = lines[start].page;
    let section: Vec<usize> = (start + 1..lines.len())
        .take_while(|&j| lines[j].page == page && !rules.customer_labels.is_match(lines[j].text))
        .filter(|&j| !lines[j].text.trim().is_empty())
        .take(rules.block_max_lines)
        .collect();
    if let Some(names) = &rules.name_labels {
        for &j in &section {
            let l = &lines[j];
            if let Some(m) = names.find(l.text)
                && has_letters(&l.text[m.end()..], 2)
            {
                return name_at(doc, l, m.end(), l.text.len(), "supplier_name.section_name_label", 0.9)
                    .map(|g| (g, j));
            }
        }
    }
    let j = section.into_iter().find(|&j| name_like(rules, lines[j].text.trim()))?;
    let l = &lines[j];
    // The name ends at its legal form when the text layer glued the next line to it ("Lieferant
    // GmbHLieferantenstraße 20DE   80333   München").
    let end = before_next(&rules.legal_form_glued, l.text).min(before_on_behalf(rules, l.text));
    name_at(doc, l, 0, end, "supplier_name.section", 0.85).map(|g| (g, j))
}

/// A field label of one or two words and its value ("Nummer        :  549910").
static SHORT_LABELLED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\p{L}[\p{L}.-]*(?: \p{L}[\p{L}.-]*)?\s*:\s*\S").expect("short label regex")
});

/// The seller's label and name on one line ("Sold By : Name", "Name, Sold By :").
fn supplier_from_inline_label(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
    in_block: &dyn Fn(usize) -> bool,
) -> Option<(Grounded<String>, usize)> {
    let inline = rules.supplier_label_inline.as_ref()?;
    lines.iter().enumerate().filter(|(i, _)| !in_block(*i)).find_map(|(i, l)| {
        let c = inline.captures(l.text)?;
        let m = c.name("after").or(c.name("before"))?;
        let name = m.as_str().trim().trim_end_matches([',', ';']).trim_end();
        let from = m.start() + (m.as_str().len() - m.as_str().trim_start().len());
        (name_like(rules, name) && name.len() <= 60)
            .then(|| name_at(doc, l, from, from + name.len(), "supplier_name.inline_label", 0.85))
            .flatten()
            .map(|g| (g, i))
    })
}

/// Bank details in a footer line ("Volksbank Frankfurt · (BLZ 699 922 99) … SWIFT …"): a bank's
/// line, not the sender's.
static BANK_DETAILS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:blz|swift|iban|bic|konto-?(?:nr|nummer)|kto|account\s*(?:no|number)|rib)\b")
        .expect("bank details regex")
});

static SENDER_SEPARATOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\s*[●•·|]\s*|\s+[-–—]\s+").expect("sender separator"));

/// The sender line above the customer's address ("Bei Spiel GmbH ● Ecke 12 ● 12345 Stadthausen",
/// "QualityHosting AG - Uferweg 40-42 - D-63571 Gelnhausen"): its first part.
fn supplier_from_sender_line(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
    in_block: &dyn Fn(usize) -> bool,
) -> Option<(Grounded<String>, usize)> {
    lines.iter().enumerate().filter(|(i, l)| l.page == 1 && !in_block(*i)).find_map(|(i, l)| {
        let first_end = sender_name_end(rules, l.text)?;
        name_at(doc, l, 0, first_end, "supplier_name.sender_line", 0.85).map(|g| (g, i))
    })
}

/// Where the sender's name ends in a sender line ("Bei Spiel GmbH ● Ecke 12 ● 12345
/// Stadthausen"); `None` when the line is not one.
fn sender_name_end(rules: &InvoiceRules, t: &str) -> Option<usize> {
    let parts: Vec<regex::Match> = SENDER_SEPARATOR.find_iter(t).collect();
    if parts.len() < 2 {
        return None;
    }
    let first_end = parts[0].start();
    let first = t[..first_end].trim();
    let rest = &t[parts[0].end()..];
    if !name_like(rules, first)
        || first.len() > 60
        || !rest.chars().any(|c| c.is_ascii_digit())
        || rest.contains(':')
        || BANK_DETAILS.is_match(rest)
        || LEGAL_FOOTER.is_match(t)
        || rules.invoice_titles.is_match(first)
    {
        return None;
    }
    Some(first_end)
}

/// The first page-1 line outside the customer block that is a name ending with a legal form
/// ("Coolblue B.V.").
fn supplier_with_legal_form(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
    in_block: &dyn Fn(usize) -> bool,
) -> Option<(Grounded<String>, usize)> {
    let forms = rules.legal_form_end.as_ref()?;
    lines.iter().enumerate().filter(|(i, l)| l.page == 1 && !in_block(*i)).find_map(|(i, l)| {
        let t = l.text.trim();
        // The match starts at the character before the legal form: after a figure, the form is a
        // unit ("Gross Weight 308,500 KG").
        let legal_form = forms.find(t).filter(|m| !t[m.start()..].starts_with(|c: char| c.is_ascii_digit()));
        (legal_form.is_some() && name_like(rules, t) && t.len() <= 60)
            .then(|| name_at(doc, l, 0, l.text.len(), "supplier_name.legal_form", 0.8))
            .flatten()
            .map(|g| (g, i))
    })
}

/// A name printed on two lines ("MVM Musterhafter" / "Versicherungsverein Musterstadt a.G."): the
/// name read on line `i` and the line directly below (or above) it, when exactly one of the two
/// ends with a legal form, the lower one does, both look like names without digits, and no blank
/// line separates them (above: the upper one opens its block). (the name, the index of its last line)
fn two_line_name(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
    i: usize,
    read: &Grounded<String>,
) -> Option<(Grounded<String>, usize)> {
    let forms = rules.legal_form_end.as_ref()?;
    // Only a name that is its whole line.
    if read.value.trim() != lines[i].text.trim() {
        return None;
    }
    let plain = |t: &str| name_like(rules, t) && !t.chars().any(|c| c.is_ascii_digit()) && t.len() <= 60;
    let method = match &read.evidence.method {
        Method::Layout { rule } | Method::Pattern { rule } => rule.clone(),
        _ => return None,
    };
    let conf = read.evidence.confidence;
    let here = lines[i].text.trim();
    let blank = |j: usize| lines.get(j).is_none_or(|l| l.text.trim().is_empty());
    let (upper, lower) = if !forms.is_match(here) {
        (i, i + 1)
    } else {
        let up = i.checked_sub(1)?;
        if up > 0 && !blank(up - 1) {
            return None;
        }
        (up, i)
    };
    let (u, d) = (lines.get(upper)?, lines.get(lower)?);
    if u.page != d.page || forms.is_match(u.text.trim()) || !forms.is_match(d.text.trim()) {
        return None;
    }
    let titled = |t: &str| rules.invoice_titles.is_match(t) || rules.credit_note_titles.is_match(t);
    if !plain(u.text.trim())
        || !plain(d.text.trim())
        || rules.customer_labels.is_match(u.text)
        || titled(u.text)
    {
        return None;
    }
    let g = join_lines_with(doc, &[u, d], " ", &format!("{method}.two_lines"), conf)?;
    Some((g, lower))
}

/// Does a line carry an invoice number or date label (a header line, not a name)?
fn has_header_label(rules: &InvoiceRules, t: &str) -> bool {
    [FieldName::Number, FieldName::IssueDate].iter().any(|&f| {
        rules
            .field(f)
            .is_some_and(|r| r.labels.iter().any(|(_, re)| re.find(t).is_some_and(|m| m.end() < t.len())))
    })
}

/// A contact label inside a line ("Die Vordefinierte Firma Tel: +49 (030) 41092-0").
static CONTACT_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\s+(?:t[ée]l(?:[ée]phone)?|phone|fax|e-?mail)\s*[.:]").expect("contact tail regex")
});

/// Is the next non-empty line after line `i`, on its page, an attention line ("T.a.v. bosd",
/// "À l'attention de M. X")? The line `i` then names an addressee.
fn above_attention(rules: &InvoiceRules, lines: &[TextLine], i: usize) -> bool {
    next_filled(lines, i, lines.len()).is_some_and(|j| rules.attention_labels.is_match(lines[j].text.trim()))
}

/// The lines `[s, e)` of the first block on page 1 that names an addressee: its name above an
/// attention line, down to the blank line after its address.
fn addressee_block(rules: &InvoiceRules, lines: &[TextLine]) -> Option<(usize, usize)> {
    let s = (0..lines.len()).find(|&i| {
        let t = lines[i].text.trim();
        lines[i].page == 1
            && name_like(rules, t)
            && !rules.attention_labels.is_match(t)
            && !rules.not_a_name.as_ref().is_some_and(|r| r.is_match(t))
            && above_attention(rules, lines, i)
    })?;
    let e = (s + 1..lines.len())
        .find(|&j| lines[j].page != lines[s].page || lines[j].text.trim().is_empty())
        .unwrap_or(lines.len());
    Some((s, e))
}

/// Web addresses' domains ("www.azure-interior.com"): group 1. Mail addresses are left out: the
/// customer's is often printed too ("sav@majolieboutique.net" under the customer's address).
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:https?://|\bwww\.)((?:[a-z0-9-]+\.)+[a-z]{2,})\b").expect("domain regex")
});

/// The supplier's name spelled by its own website: a name line of page 1, outside the customer's
/// and the addressee's blocks, that is, without its legal form and letters only, the name of a
/// web domain printed outside them ("Azure Interior" and "www.azure-interior.com"). Only when one
/// name is so spelled; domains shared by many (`shared_domains`) are not a company's.
fn supplier_by_domain(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
    outside: &dyn Fn(usize) -> bool,
) -> Option<(Grounded<String>, usize)> {
    let mut domains: Vec<String> = Vec::new();
    for l in lines.iter().enumerate().filter(|(i, _)| outside(*i)).map(|(_, l)| l) {
        for c in DOMAIN.captures_iter(l.text) {
            let host = c[1].to_lowercase();
            let mut labels: Vec<&str> = host.split('.').collect();
            labels.pop();
            // "mail.acme.co.uk": the company's label is the longest but the top-level ones.
            let Some(name) =
                labels.iter().filter(|n| !matches!(**n, "www" | "co" | "com")).max_by_key(|n| n.len())
            else {
                continue;
            };
            let key = norm(name);
            if key.len() >= 4 && !rules.shared_domains.contains(&key) && !domains.contains(&key) {
                domains.push(key);
            }
        }
    }
    if domains.is_empty() {
        return None;
    }
    let mut found: Option<usize> = None;
    for (i, l) in lines.iter().enumerate() {
        let t = l.text.trim();
        if l.page != 1 || !outside(i) || !name_like(rules, t) || t.len() > 60 {
            continue;
        }
        // Without its legal form (the regex's match starts at the name's last character).
        let bare = rules
            .legal_form_end
            .as_ref()
            .and_then(|r| r.find(t))
            .map_or(t, |m| &t[..m.start() + t[m.start()..].chars().next().map_or(0, char::len_utf8)]);
        let key = norm(bare);
        if !domains.contains(&key) {
            continue;
        }
        match found {
            Some(j) if norm(lines[j].text) == norm(t) => {}
            Some(_) => return None,
            None => found = Some(i),
        }
    }
    let i = found?;
    name_at(doc, &lines[i], 0, lines[i].text.len(), "supplier_name.web_domain", 0.85).map(|g| (g, i))
}

/// Where a line's text ends before a contact label inside it (its length when there is none).
fn before_contact(t: &str) -> usize {
    CONTACT_TAIL.find(t).map_or(t.len(), |m| m.start())
}

/// Where a company's name ends when the party it acts for follows its legal form ("e-Luscious
/// Nederland B.V. iov Saeco.com"): at the legal form; else the line's end.
fn before_on_behalf(rules: &InvoiceRules, t: &str) -> usize {
    before_next(&rules.legal_form_on_behalf, t)
}

/// Where group `next` of `re` (a regex of the rules, maybe absent) starts in `t`; else `t`'s end.
fn before_next(re: &Option<Regex>, t: &str) -> usize {
    re.as_ref().and_then(|r| r.captures(t)).and_then(|c| c.name("next")).map_or(t.len(), |m| m.start())
}

fn supplier_name_and_address(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
    block: Option<(usize, usize)>,
) -> (Option<Grounded<String>>, Option<Grounded<String>>) {
    let in_block = |i: usize| block.is_some_and(|(s, e)| (s..e).contains(&i));
    let section = supplier_from_section(doc, rules, lines, &in_block);
    let addressee = addressee_block(rules, lines);
    // The first line with letters on page 1 that is not a title, a label or a page number (what
    // precedes a contact label the text layer joined to it: "Die Firma Tel: +49 …").
    let first = lines.iter().enumerate().find(|(i, l)| {
        let t = l.text[..before_contact(l.text)].trim();
        l.page == 1
            && !in_block(*i)
            && has_letters(t, 2)
            && !rules.not_a_name.as_ref().is_some_and(|r| r.is_match(t))
            && !rules.block_end.is_match(t)
            && !has_header_label(rules, t)
            && t.len() <= 80
            && !rules.invoice_titles.is_match(t)
            && !rules.credit_note_titles.is_match(t)
            && !rules.customer_labels.is_match(t)
            && !t.contains(':')
            && !CONTACT_LINE.is_match(t)
            && !PAGE_LINE.is_match(t)
            // Not a decoration or remark ("--- Non Food ---", "(Authorized Signatory)"), nor a
            // postcode and town.
            && t.starts_with(|c: char| c.is_alphanumeric())
            && !POSTCODE_TOWN.is_match(t)
            // Nor a sentence, a table header or lower-case prose.
            && !prose_or_header(t)
            // Nor a line of figures (a line item, a date).
            && t.chars().filter(char::is_ascii_digit).count() * 2 < t.chars().filter(|c| c.is_alphabetic()).count()
            // Nor the addressee's block: a name above an attention line ("Strategic Corp" /
            // "T.a.v. bosd"), down to the blank line ending its address.
            && !addressee.is_some_and(|(s, e)| (s..e).contains(i))
    });
    // The legal footer ("Name – SAS au capital de…", "Name – Registered in…").
    let footer = lines
        .iter()
        .find_map(|l| {
            let c = LEGAL_FOOTER.captures(l.text).or_else(|| LEGAL_CAPITAL.captures(l.text))?;
            let m = c.get(1)?;
            let name = m.as_str().trim();
            (has_letters(name, 2) && !rules.not_a_name.as_ref().is_some_and(|r| r.is_match(name)))
                .then(|| (l, m.start(), name))
        })
        .or_else(|| {
            // "NETPRESSE" / "Siège social : 16 rue Mollien …": the name line directly above a
            // legal footer that does not name the company.
            let i = lines.iter().position(|l| LEGAL_UNNAMED.is_match(l.text))?;
            let above = lines[..i].iter().rev().find(|l| !l.text.trim().is_empty())?;
            let name = above.text.trim();
            (above.page == lines[i].page
                && name_like(rules, name)
                && name.len() <= 60
                && !name.chars().any(|c| c.is_ascii_digit()))
            .then(|| (above, above.text.len() - above.text.trim_start().len(), name))
        });
    // "Papeterie Fournier FACTURE": the name without the title OCR joined to it.
    let first_text = |l: &TextLine| -> usize {
        let cut = rules
            .invoice_title_end
            .find(l.text)
            .or(rules.credit_note_title_end.find(l.text))
            .map(|m| m.start());
        let end =
            cut.unwrap_or(l.text.len()).min(before_contact(l.text)).min(before_on_behalf(rules, l.text));
        l.text[..end].trim_end().len()
    };
    let footer_name = |(fl, fstart, fname): (&TextLine, usize, &str)| {
        let method = Method::Pattern { rule: "supplier_name.legal_footer".into() };
        text_at(doc, fl, fstart, fstart + fname.len(), method, 0.85)
    };
    let name = match (first, footer) {
        (Some((_, l)), Some(f)) if l.text[..first_text(l)].trim().eq_ignore_ascii_case(f.2) => {
            name_at(doc, l, 0, first_text(l), "supplier_name.header_and_footer", 0.95)
        }
        (_, Some(f)) => footer_name(f),
        (Some((_, l)), None) => name_at(doc, l, 0, first_text(l), "supplier_name.first_line", 0.7),
        (None, None) => None,
    };
    // The seller's section wins; then the header name the legal footer confirms; then the sender
    // line above the customer's address; then the footer or the first line.
    let agreed = name.as_ref().is_some_and(|g| {
        matches!(&g.evidence.method, Method::Layout { rule } if rule == "supplier_name.header_and_footer")
    });
    let from_first_line = name.as_ref().is_some_and(
        |g| matches!(&g.evidence.method, Method::Layout { rule } if rule == "supplier_name.first_line"),
    );
    let outside = |i: usize| !in_block(i) && !addressee.is_some_and(|(s, e)| (s..e).contains(&i));
    let explicit = match section {
        Some(s) => Some(s),
        None if agreed => None,
        None => match supplier_by_domain(doc, rules, lines, &outside) {
            // The name already read, confirmed by the company's domain.
            Some((g, _)) if name.as_ref().is_some_and(|n| norm(&n.value) == norm(&g.value)) => None,
            Some(found) => Some(found),
            None => supplier_from_sender_line(doc, rules, lines, &in_block).or_else(|| {
                // A company name with its legal form, before the plain first line.
                from_first_line.then(|| supplier_with_legal_form(doc, rules, lines, &in_block)).flatten()
            }),
        },
    };
    let (name, first) = match explicit {
        Some((g, i)) => (Some(g), Some((i, &lines[i]))),
        None => (name, first),
    };
    let (name, first) = match (name, first) {
        (Some(g), Some((i, l))) => match two_line_name(doc, rules, lines, i, &g) {
            Some((g, last)) => (Some(g), Some((last, &lines[last]))),
            None => (Some(g), Some((i, l))),
        },
        other => other,
    };
    // The address: the lines under the header name, up to the contact lines.
    let address = first.and_then(|(i, _)| {
        let mut picked = Vec::new();
        for (j, l) in lines.iter().enumerate().skip(i + 1).take(8) {
            let t = l.text.trim();
            if t.is_empty() {
                continue;
            }
            if in_block(j)
                || CONTACT_LINE.is_match(t)
                || t.contains(':')
                || rules.invoice_titles.is_match(t)
                || rules.credit_note_titles.is_match(t)
                || picked.len() >= 4
            {
                break;
            }
            picked.push(l);
        }
        join_lines(doc, &picked, "supplier_address.under_name", 0.8)
    });
    (name, address)
}

fn customer_name_and_address(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
    block: Option<(usize, usize)>,
) -> (Option<Grounded<String>>, Option<Grounded<String>>) {
    let from_block = block.map(|b| customer_in_block(doc, rules, lines, b));
    // The name above an attention line ("Strategic Corp" / "T.a.v. bosd") is the addressee's. It
    // wins over a line that is merely under the block's label, where the text layer may have put
    // another column's cells ("Factuuradres Afleveradres" / "bosd" / "Fakestreet 46").
    let addressee = || {
        let l = &lines[addressee_block(rules, lines)?.0];
        name_at(doc, l, 0, l.text.len(), "customer_name.above_attention", 0.85)
    };
    if let Some((Some(name), address)) = from_block {
        let weak =
            matches!(&name.evidence.method, Method::Layout { rule } if rule == "customer_name.under_label");
        if weak && let Some(a) = addressee().filter(|a| a.value != name.value) {
            return (Some(a), address);
        }
        return (Some(name), address);
    }
    if let Some(a) = addressee() {
        return (Some(a), from_block.and_then(|(_, a)| a));
    }
    // No name in a customer block: the addressee's block printed without a label.
    let in_block = |i: usize| block.is_some_and(|(s, e)| (s..e).contains(&i));
    if let Some((name, address)) = window_addressee(doc, rules, lines, &in_block)
        .or_else(|| delivery_party_named_twice(doc, rules, lines, &in_block))
    {
        return (Some(name), address);
    }
    (None, from_block.and_then(|(_, a)| a))
}

/// The name and address inside the customer block `[s, e)`.
fn customer_in_block(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
    (s, e): (usize, usize),
) -> (Option<Grounded<String>>, Option<Grounded<String>>) {
    let label_line = &lines[s];
    let label_end = rules.customer_labels.find(label_line.text).map(|m| m.end()).unwrap_or(0);
    let rest = label_line.text[label_end..].trim_start_matches([' ', ':']);
    // "Rechnungsempfänger/Leistungsempfänger:": the other label of the pair is not the name.
    let rest = OTHER_LABEL.find(rest).map_or(rest, |m| &rest[m.end()..]);
    let mut name = None;
    let mut body: Vec<&TextLine> = Vec::new();
    // Nor is the label of a column beside it ("Factuuradres   Afleveradres").
    let other_label = rules.not_a_name.as_ref().is_some_and(|r| r.is_match(rest))
        || is_line(&rules.delivery_label_line, rest);
    if has_letters(rest, 2) && !CUSTOMER_REF.is_match(rest) && !other_label {
        let at = label_line.start + (label_line.text.len() - rest.len());
        let rest_t = rest.trim_end();
        let rest_t = rest_t[..before_other_column(rules, rest_t)].trim_end();
        name = grounded(
            rest_t.to_string(),
            evidence(
                doc,
                label_line.page,
                at,
                at + rest_t.len(),
                Method::Layout { rule: "customer_name.after_label".into() },
                0.85,
            ),
        );
    }
    // The line the name ends on (a salutation's name is on the line below it).
    let mut skip_to = s;
    for (i, l) in lines.iter().enumerate().take(e).skip(s + 1) {
        let t = l.text.trim();
        if i <= skip_to || t.is_empty() || rules.attention_labels.is_match(t) {
            continue;
        }
        if name.is_none() {
            // "Name: Kunden AG Mitte" inside the block.
            if let Some(m) = rules.name_labels.as_ref().and_then(|r| r.find(l.text)) {
                let v = l.text[m.end()..].trim_end();
                if has_letters(v, 2) {
                    name = text_at(
                        doc,
                        l,
                        m.end(),
                        m.end() + v.len(),
                        Method::Layout { rule: "customer_name.name_label".into() },
                        0.9,
                    );
                }
            } else {
                // The customer's number or location code is not its name ("GLN 4304171000002"),
                // nor another labelled line ("Nummer: GE2020211"), nor an addressee title ("Firma").
                if CUSTOMER_REF.is_match(t)
                    || t.contains(':')
                    || !name_like(rules, t)
                    || is_line(&rules.addressee_title_line, t)
                {
                    continue;
                }
                let lead = l.text.len() - l.text.trim_start().len();
                let t = t[..before_other_column(rules, t)].trim_end();
                name = name_at(doc, l, lead, lead + t.len(), "customer_name.under_label", 0.85);
            }
            // "Herrn" / "Max Mustermann" (also after "Name:"): the salutation joins the name below.
            if let Some(g) = name.take_if(|g| is_line(&rules.salutation_line, &g.value)) {
                name = after_salutation(doc, rules, lines, i, e, g).map(|(g, j)| {
                    skip_to = j;
                    g
                });
            }
            continue;
        }
        if CONTACT_LINE.is_match(t) || t.contains(':') || body.len() >= 4 {
            break;
        }
        body.push(l);
    }
    (name, join_lines(doc, &body, "customer_address.under_name", 0.8))
}

/// Does `re` (a whole-line regex of the rules, maybe absent) match `t`?
fn is_line(re: &Option<Regex>, t: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(t))
}

/// A currency label and its code ending a name's line ("Kunden AG Mitte Beträge in  EUR"): a
/// cell of another column the text layer joined to the name. Where the name ends.
fn before_other_column(rules: &InvoiceRules, t: &str) -> usize {
    rules
        .currency_labels
        .as_ref()
        .and_then(|r| {
            r.find_iter(t).find(|m| {
                m.start() > 0
                    && ISO_CODE_ALONE.is_match(&t[m.end()..])
                    && name_like(rules, t[..m.start()].trim())
            })
        })
        .map_or(t.len(), |m| m.start())
}

static ISO_CODE_ALONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*[A-Z]{3}\s*$").expect("iso code regex"));

/// A name without figures, short enough, that is no label or title.
fn plain_name(rules: &InvoiceRules, t: &str) -> bool {
    name_like(rules, t)
        && !t.chars().any(|c| c.is_ascii_digit())
        && t.len() <= 60
        && !rules.customer_labels.is_match(t)
        && !rules.supplier_labels.as_ref().is_some_and(|r| r.is_match(t))
        && !rules.invoice_titles.is_match(t)
        && !rules.credit_note_titles.is_match(t)
        && !has_header_label(rules, t)
}

/// The next non-empty line after `i`, before `end` and on the same page.
fn next_filled(lines: &[TextLine], i: usize, end: usize) -> Option<usize> {
    (i + 1..end.min(lines.len()))
        .take_while(|&j| lines[j].page == lines[i].page)
        .find(|&j| !lines[j].text.trim().is_empty())
}

/// A salutation read as a name ("Herrn"), joined with the name on the next non-empty line before
/// `end` ("Herrn Max Mustermann": the name as addressed), grounded on both. (name, its last line)
fn after_salutation(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
    i: usize,
    end: usize,
    salutation: Grounded<String>,
) -> Option<(Grounded<String>, usize)> {
    let j = next_filled(lines, i, end)?;
    let l = &lines[j];
    let t = l.text.trim();
    if !plain_name(rules, t) || is_line(&rules.salutation_line, t) {
        return None;
    }
    let name = name_at(doc, l, 0, l.text.len(), "customer_name.under_label", 0.85)?;
    let mut locations = salutation.evidence.locations;
    locations.extend(name.evidence.locations);
    let g = Grounded {
        value: format!("{} {}", salutation.value, name.value),
        evidence: Evidence {
            locations,
            method: salutation.evidence.method,
            confidence: salutation.evidence.confidence.min(name.evidence.confidence),
        },
    };
    Some((g, j))
}

/// The address lines under a name on line `j`: up to four lines, no label or contact line, the
/// last one a postcode and town ("88802 Spielkreis", "D-07545 GERA"). `None` when there is none.
fn address_below<'a>(lines: &'a [TextLine<'a>], j: usize) -> Option<Vec<&'a TextLine<'a>>> {
    let mut picked = Vec::new();
    let mut k = j;
    while picked.len() < 4 {
        k = next_filled(lines, k, lines.len())?;
        let t = lines[k].text.trim();
        if t.contains(':') || CONTACT_LINE.is_match(t) {
            return None;
        }
        picked.push(&lines[k]);
        if POSTCODE_TOWN.is_match(t) {
            return Some(picked);
        }
    }
    None
}

/// The addressee's block printed without a label where a window envelope shows it: under a
/// sender line ("Bei Spiel GmbH ● Ecke 12 ● 12345 Stadthausen" / "Theodor Est" / "Bahnstr. 42" /
/// "88802 Spielkreis"), or below a salutation ("Herrn" / "Max Mustermann" / …, the salutation
/// kept) or an addressee title ("Firma" / "Elektromarkt Bamby" / …) alone on its line. The name is
/// the next line, a name without figures other than the sender's, and an address ending with a
/// postcode and town follows it. Page 1, outside the customer block. (name, address)
fn window_addressee(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
    in_block: &dyn Fn(usize) -> bool,
) -> Option<(Grounded<String>, Option<Grounded<String>>)> {
    lines.iter().enumerate().filter(|(i, l)| l.page == 1 && !in_block(*i)).find_map(|(i, l)| {
        let t = l.text.trim();
        let salutation = is_line(&rules.salutation_line, t);
        let sender = if salutation || is_line(&rules.addressee_title_line, t) {
            None
        } else {
            Some(l.text[..sender_name_end(rules, l.text)?].trim())
        };
        let mut j = next_filled(lines, i, lines.len())?;
        // A web or mail address alone on its line, from the sender's column beside the window
        // ("www.kraxi.com"), between the sender line and the addressee.
        while sender.is_some()
            && lines[j].text.split_whitespace().count() == 1
            && CONTACT_LINE.is_match(lines[j].text)
        {
            j = next_filled(lines, j, lines.len())?;
        }
        let n = lines[j].text.trim();
        // A salutation or title under the sender line opens the block itself (the next line read).
        let opens = |t: &str| is_line(&rules.salutation_line, t) || is_line(&rules.addressee_title_line, t);
        if in_block(j)
            || !plain_name(rules, n)
            || opens(n)
            || sender.is_some_and(|s| s.eq_ignore_ascii_case(n))
        {
            return None;
        }
        let address = address_below(lines, j)?;
        let rule = "customer_name.window_address";
        let name = if salutation {
            let g = name_at(doc, l, 0, l.text.len(), rule, 0.8)?;
            after_salutation(doc, rules, lines, i, lines.len(), g)?.0
        } else {
            name_at(doc, &lines[j], 0, lines[j].text.len(), rule, 0.8)?
        };
        Some((name, join_lines(doc, &address, "customer_address.window_address", 0.75)))
    })
}

/// The party named under a delivery address label ("Adresse de livraison" / "Ma jolie boutique")
/// when the same name heads another address block of the page, printed without a label (the
/// billing address): the customer, read in that block. (name, address)
fn delivery_party_named_twice(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
    in_block: &dyn Fn(usize) -> bool,
) -> Option<(Grounded<String>, Option<Grounded<String>>)> {
    let i = lines
        .iter()
        .enumerate()
        .position(|(i, l)| l.page == 1 && !in_block(i) && is_line(&rules.delivery_label_line, l.text))?;
    let j = next_filled(lines, i, lines.len())?;
    let n = lines[j].text.trim();
    if !plain_name(rules, n) {
        return None;
    }
    lines.iter().enumerate().find_map(|(k, l)| {
        if l.page != 1 || (i..=j).contains(&k) || in_block(k) || l.text.trim() != n {
            return None;
        }
        // Not the name under another label ("Facturé à" would be the customer block's).
        if k > 0 && lines[k - 1].text.trim().ends_with(':') {
            return None;
        }
        let address = address_below(lines, k)?;
        let name = name_at(doc, l, 0, l.text.len(), "customer_name.delivery_and_billing", 0.8)?;
        Some((name, join_lines(doc, &address, "customer_address.delivery_and_billing", 0.75)))
    })
}

static ITEM: LazyLock<Regex> = LazyLock::new(|| {
    let amount = r"(?:[€$£] ?)?-?(?:\d{1,3}(?:[ .,]\d{3})+|\d+)(?:[.,]\d{1,4})?(?: ?(?:€|EUR|\$|£))?";
    Regex::new(&format!(
        r"(?:^|\s)(?P<qty>\d+(?:[.,]\d+)?)\s+(?:(?P<unit>\p{{L}}[\p{{L}}.\-/²³]*)\s+)?(?P<price>{amount})\s+(?P<rate>\d{{1,2}}(?:[.,]\d{{1,2}})?\s?%)\s+(?P<amount>{amount})\s*$"
    ))
    .expect("item regex")
});
static REF_CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z0-9]{2,6}-[A-Z0-9]{2,8}\b").expect("ref regex"));

fn dec_ground(
    doc: &Document,
    l: &TextLine,
    m: regex::Match,
    rule: &str,
    conf: f32,
) -> Option<Grounded<Decimal>> {
    let text = m.as_str();
    let value = if text.contains('%') {
        parse_rate(text)?.0
    } else if let Some(a) = parse_amount(text, DecimalHint::Auto) {
        a.value
    } else {
        super::parse::number_value(text, DecimalHint::Auto)?
    };
    grounded(
        value,
        evidence(
            doc,
            l.page,
            l.start + m.start(),
            l.start + m.end(),
            Method::Pattern { rule: rule.into() },
            conf,
        ),
    )
}

fn line_items(doc: &Document, rules: &InvoiceRules, lines: &[TextLine]) -> Vec<LineItem> {
    let is_item: Vec<bool> = lines.iter().map(|l| ITEM.is_match(l.text)).collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(c) = ITEM.captures(l.text) else { continue };
        let qty = c.name("qty").expect("qty group");
        let prefix = l.text[..qty.start()].trim();
        let prev_blank = i == 0 || lines[i - 1].text.trim().is_empty() || lines[i - 1].page != l.page;
        // The row starts with its reference code, or follows a blank line: the wrapped part of
        // the description is below (OCR order); otherwise above (text-layer order).
        let below = prev_blank || REF_CODE.is_match(prefix);
        // Where the rest of the description is: the lines above (text layers put the first line
        // of a wrapped cell above the figures) or below (OCR reads the row, then the wrapped part).
        let mut desc: Vec<(usize, &TextLine, usize, usize)> = Vec::new();
        if !below {
            let mut k = i;
            while k > 0 {
                let p = &lines[k - 1];
                if p.page != l.page
                    || p.text.trim().is_empty()
                    || is_item[k - 1]
                    || rules.block_end.is_match(p.text)
                {
                    break;
                }
                k -= 1;
            }
            for (j, p) in lines.iter().enumerate().take(i).skip(k) {
                let lead = p.text.len() - p.text.trim_start().len();
                desc.push((j, p, lead, p.text.trim_end().len()));
            }
        }
        if !prefix.is_empty() {
            let lead = l.text.len() - l.text.trim_start().len();
            desc.push((i, l, lead, lead + prefix.len()));
        }
        if below {
            for (j, n) in lines.iter().enumerate().skip(i + 1).take(3) {
                let t = n.text.trim();
                if n.page != l.page
                    || t.is_empty()
                    || is_item[j]
                    || parse_rate(t).is_some()
                    || REF_CODE.is_match(t)
                    || rules.block_end.is_match(t)
                    || t.contains(['€', '$', '£'])
                {
                    break;
                }
                let lead = n.text.len() - n.text.trim_start().len();
                desc.push((j, n, lead, n.text.trim_end().len()));
            }
        }
        if desc.is_empty() {
            continue;
        }
        // A leading reference code ("BLA-809").
        let mut reference = None;
        let (_, fl, fs, fe) = desc[0];
        if let Some(m) = REF_CODE.find(&fl.text[fs..fe]) {
            reference = grounded(
                m.as_str().to_string(),
                evidence(
                    doc,
                    fl.page,
                    fl.start + fs,
                    fl.start + fs + m.end(),
                    Method::Pattern { rule: "line.reference".into() },
                    0.8,
                ),
            );
            let skip = fl.text[fs + m.end()..fe].len() - fl.text[fs + m.end()..fe].trim_start().len();
            desc[0].2 = fs + m.end() + skip;
        }
        let mut locs = Vec::new();
        let mut parts = Vec::new();
        let mut conf: f32 = 0.8;
        for (_, dl, s, e) in &desc {
            if s >= e {
                continue;
            }
            if let Some(ev) = evidence(
                doc,
                dl.page,
                dl.start + s,
                dl.start + e,
                Method::Pattern { rule: "line.description".into() },
                0.8,
            ) {
                conf = conf.min(ev.confidence);
                locs.extend(ev.locations);
                parts.push(dl.text[*s..*e].trim().to_string());
            }
        }
        if parts.is_empty() {
            continue;
        }
        let description = Grounded {
            value: parts.join(" "),
            evidence: Evidence {
                locations: locs,
                method: Method::Pattern { rule: "line.description".into() },
                confidence: conf,
            },
        };
        let Some(amount) = c.name("amount").and_then(|m| dec_ground(doc, l, m, "line.amount", 0.85)) else {
            continue;
        };
        let unit = c.name("unit").and_then(|m| {
            grounded(
                m.as_str().to_string(),
                evidence(
                    doc,
                    l.page,
                    l.start + m.start(),
                    l.start + m.end(),
                    Method::Pattern { rule: "line.unit".into() },
                    0.8,
                ),
            )
        });
        out.push(LineItem {
            page: l.page,
            reference,
            description,
            quantity: dec_ground(doc, l, qty, "line.quantity", 0.85),
            unit,
            unit_price: c.name("price").and_then(|m| dec_ground(doc, l, m, "line.unit_price", 0.85)),
            vat_rate: c.name("rate").and_then(|m| dec_ground(doc, l, m, "line.vat_rate", 0.85)),
            amount,
        });
    }
    out
}

static VAT_ROW_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:(?:total\s+)?(?:tva|vat|mwst\.?|ust\.?)\s+)?").expect("vat row")
});

/// VAT breakdown rows: "20 % 8 602,64 € 1 720,53 €" (rate, base, VAT) or "TVA 20 % 1 720,53 €"
/// (rate, VAT).
/// Whether `tax` can be the tax of `base` at `rate` %: not more than twice it (plus five cents).
/// A wrong tax stays a breakdown row (the per-rate check flags it); a line item's "rate, price,
/// amount" ("7% 160,00 € 160,00 €") does not.
fn tax_fits(rate: Decimal, base: Decimal, tax: Decimal) -> bool {
    let expected = (base * rate / Decimal::from(100)).abs();
    tax.abs() <= expected * Decimal::from(2) + Decimal::new(5, 2)
}

fn vat_breakdown(doc: &Document, lines: &[TextLine]) -> Vec<VatLine> {
    let mut out: Vec<VatLine> = Vec::new();
    for l in lines {
        let p = VAT_ROW_PREFIX.find(l.text).map(|m| m.end()).unwrap_or(0);
        let Some((rate, rlen)) = parse_rate(&l.text[p..]) else { continue };
        let mut pos = p + rlen;
        let mut amounts = Vec::new();
        loop {
            let rest = &l.text[pos..];
            let t = rest.trim_start();
            if t.is_empty() {
                break;
            }
            let at = pos + rest.len() - t.len();
            let Some(a) = parse_amount(t, DecimalHint::Auto) else {
                // "20 % 8 602,64 € 1 720,53 € TVA 20 % …": OCR joins the next column.
                if amounts.len() < 2 {
                    amounts.clear();
                }
                break;
            };
            amounts.push((a.value, at, at + a.len));
            pos = at + a.len;
        }
        let g = |(v, s, e): (Decimal, usize, usize), rule: &str| {
            grounded(
                v,
                evidence(doc, l.page, l.start + s, l.start + e, Method::Pattern { rule: rule.into() }, 0.85),
            )
        };
        let rate_g = grounded(
            rate,
            evidence(
                doc,
                l.page,
                l.start + p,
                l.start + p + rlen,
                Method::Pattern { rule: "vat_breakdown.rate".into() },
                0.85,
            ),
        );
        let Some(rate_g) = rate_g else { continue };
        let (base, amount) = match amounts.as_slice() {
            [b, t] if !tax_fits(rate, b.0, t.0) => continue,
            [b, t] => (g(*b, "vat_breakdown.base"), g(*t, "vat_breakdown.amount")),
            [t] if p > 0 => (None, g(*t, "vat_breakdown.amount")),
            _ => continue,
        };
        if let Some(existing) = out.iter_mut().find(|v| v.rate.value == rate) {
            if existing.base.is_none() && base.is_some() {
                existing.base = base;
            }
            if existing.amount.is_none() {
                existing.amount = amount;
            }
        } else {
            out.push(VatLine { rate: rate_g, base, amount });
        }
    }
    out
}

fn kind_of(doc: &Document, rules: &InvoiceRules, lines: &[TextLine]) -> Option<super::Grounded<InvoiceKind>> {
    for l in lines.iter().filter(|l| l.page == 1) {
        let t = l.text.trim();
        let lead = l.text.len() - l.text.trim_start().len();
        let (kind, start, end) = if rules.credit_note_titles.is_match(t) {
            (InvoiceKind::CreditNote, lead, lead + t.len())
        } else if rules.invoice_titles.is_match(t) {
            (InvoiceKind::Invoice, lead, lead + t.len())
        } else if let Some(m) = rules.credit_note_title_end.find(l.text) {
            (InvoiceKind::CreditNote, m.start() + 1, l.text.trim_end().len())
        } else if let Some(m) = rules.invoice_title_end.find(l.text) {
            (InvoiceKind::Invoice, m.start() + 1, l.text.trim_end().len())
        } else {
            continue;
        };
        return grounded(
            kind,
            evidence(
                doc,
                l.page,
                l.start + start,
                l.start + end,
                Method::Layout { rule: "kind.title".into() },
                0.9,
            ),
        );
    }
    None
}

fn country_of_vat(vat: &Grounded<String>) -> Grounded<String> {
    let cc = match &vat.value[..2] {
        "EL" => "GR".to_string(),
        "XI" => "GB".to_string(),
        c => c.to_string(),
    };
    Grounded { value: cc, evidence: vat.evidence.clone() }
}

fn negate(g: &mut Option<Grounded<Decimal>>) {
    if let Some(g) = g
        && g.value > Decimal::ZERO
    {
        g.value = -g.value;
    }
}

fn sign_credit_note(inv: &mut ExtractedInvoice) {
    for a in
        [&mut inv.net_total, &mut inv.vat_total, &mut inv.gross_total, &mut inv.amount_due, &mut inv.prepaid]
    {
        negate(a);
    }
    for v in &mut inv.vat_breakdown {
        negate(&mut v.base);
        negate(&mut v.amount);
    }
    for l in &mut inv.lines {
        let mut a = Some(l.amount.clone());
        negate(&mut a);
        if let Some(a) = a {
            l.amount = a;
        }
    }
}

/// Is this document an invoice or a credit note? An e-invoice, or a page-1 title, or both an
/// invoice number label and a total label. The lead's classifier can replace this gate.
pub fn is_invoice(doc: &Document, rules: &InvoiceRules) -> bool {
    if doc.einvoice.is_some() {
        return true;
    }
    let lines = lines_of(doc);
    if kind_of(doc, rules, &lines).is_some() {
        return true;
    }
    let has = |f: FieldName| rules.field(f).is_some_and(|r| pick(r, &lines, |_| true).is_some());
    has(FieldName::Number) && (has(FieldName::GrossTotal) || has(FieldName::AmountDue))
}

/// Extract an invoice with the default options (the e-invoice XML wins when there is one).
pub fn extract(doc: &Document, rules: &InvoiceRules) -> ExtractedInvoice {
    extract_with(doc, rules, &ExtractOptions::default())
}

pub fn extract_with(doc: &Document, rules: &InvoiceRules, opts: &ExtractOptions) -> ExtractedInvoice {
    // The template-free rules on the stream text and on the reading-order layout, combined per
    // field; a supplier template on the layout when there is one (see `views`).
    let mut text = super::views::extract_both(doc, rules);
    if let Some(m) = super::views::template_match(&rules.templates, doc) {
        apply_template(&mut text, m);
    }
    match (&doc.einvoice, opts.use_einvoice) {
        (Some(ei), true) => overlay_einvoice(ei, text, rules),
        _ => text,
    }
}

/// A supplier template's values win over the template-free ones.
fn apply_template(inv: &mut ExtractedInvoice, m: super::templates::TemplateMatch) {
    use super::templates::TemplateValue as V;
    fn g<T>(value: T, e: &Evidence) -> Option<Grounded<T>> {
        Some(Grounded { value, evidence: e.clone() })
    }
    inv.supplier.name = g(m.issuer.clone(), &m.keyword_evidence);
    let items = m.line_items();
    if !items.is_empty() {
        inv.lines = items;
    }
    if let Some(c) = &m.currency {
        inv.currency = g(c.clone(), &m.keyword_evidence);
    }
    for (name, value, ev) in m.fields {
        match (name.as_str(), value) {
            ("invoice_number", V::Text(t)) => inv.number = g(t, &ev),
            ("invoice_number", V::Number(n)) => inv.number = g(n.to_string(), &ev),
            ("date", V::Date(d)) => inv.issue_date = g(d, &ev),
            ("date_due", V::Date(d)) => inv.due_date = g(d, &ev),
            ("amount", V::Number(n)) => inv.gross_total = g(n, &ev),
            ("amount_untaxed", V::Number(n)) => inv.net_total = g(n, &ev),
            ("amount_tax", V::Number(n)) => inv.vat_total = g(n, &ev),
            ("currency", V::Text(t)) => inv.currency = g(t, &ev),
            // A field named `issuer` replaces the template's issuer, as in invoice2data's output.
            ("issuer", V::Text(t)) => inv.supplier.name = g(t, &ev),
            ("vat" | "vatin", V::Text(t)) => {
                inv.supplier.vat_id = g(t.chars().filter(|c| c.is_alphanumeric()).collect(), &ev)
            }
            ("siren", V::Text(t)) => {
                inv.supplier.siren = g(t.chars().filter(char::is_ascii_digit).collect(), &ev)
            }
            ("siren", V::Number(n)) => inv.supplier.siren = g(n.to_string(), &ev),
            ("siret", V::Text(t)) => {
                inv.supplier.siret = g(t.chars().filter(char::is_ascii_digit).collect(), &ev)
            }
            ("iban", V::Text(t)) => inv.iban = g(t.chars().filter(|c| c.is_alphanumeric()).collect(), &ev),
            ("bic", V::Text(t)) => inv.bic = g(t, &ev),
            ("po_number" | "order_number", V::Text(t)) => inv.order_number = g(t, &ev),
            (name, v) => inv.extra.push(super::ExtraField {
                name: name.to_string(),
                value: Grounded { value: v.to_json(), evidence: ev },
            }),
        }
    }
}

/// Where a field's value may be read.
#[derive(Debug, Clone, Copy)]
enum Scope {
    /// Outside the customer block (header fields, the supplier's identifiers).
    OutsideCustomer,
    /// Inside it (the customer's identifiers).
    Customer,
    Anywhere,
}

/// Extraction from the visible text only.
pub(crate) fn extract_text(doc: &Document, rules: &InvoiceRules) -> ExtractedInvoice {
    let lines = lines_of(doc);
    let block = customer_block(rules, &lines);
    let in_block = |c: &Candidate| block.is_some_and(|(s, e)| (s..e).contains(&c.line_index));
    // One lookup for every field: its rule's winning candidate within a scope of the page.
    let lookup = |name: FieldName, scope: Scope| {
        let r = rules.field(name)?;
        let c = pick(r, &lines, |c| match scope {
            Scope::OutsideCustomer => !in_block(c) && !c.yours,
            Scope::Customer => in_block(c) || c.yours,
            Scope::Anywhere => true,
        })?;
        Some((r, c))
    };
    let text = |name: FieldName, scope: Scope| lookup(name, scope).and_then(|(r, c)| as_text(doc, r, &c));
    let date = |name: FieldName| lookup(name, Scope::Anywhere).and_then(|(r, c)| as_date(doc, r, &c));
    let amounts = [FieldName::NetTotal, FieldName::VatTotal, FieldName::GrossTotal, FieldName::AmountDue]
        .map(|name| (name, lookup(name, Scope::Anywhere).and_then(|(r, c)| as_amount(doc, r, &c))));
    // The currency of the first amount printed with one, the gross total's when it has one.
    let mut currency = None;
    for (name, a) in &amounts {
        if let Some((g, Some(code))) = a
            && (currency.is_none() || *name == FieldName::GrossTotal)
        {
            currency = Some(Grounded {
                value: code.to_string(),
                evidence: Evidence {
                    method: Method::Pattern { rule: "currency.symbol".into() },
                    ..g.evidence.clone()
                },
            });
        }
    }
    // Else the currency printed inside the gross total's label ("Total € Incl. VAT  681.87").
    if currency.is_none() {
        currency = lookup(FieldName::GrossTotal, Scope::Anywhere)
            .and_then(|(_, c)| currency_in_label(doc, &lines[c.line_index], c.start));
    }
    let [net_total, vat_total, gross_total, amount_due] = amounts.map(|(_, a)| a.map(|(g, _)| g));
    // A party's identifiers: the supplier's outside the customer block, the customer's inside.
    let identifiers = |scope: Scope| PartyFields {
        siren: text(FieldName::SupplierSiren, scope),
        siret: text(FieldName::SupplierSiret, scope),
        vat_id: text(FieldName::SupplierVat, scope),
        ..PartyFields::default()
    };

    let (supplier_name, supplier_address) = supplier_name_and_address(doc, rules, &lines, block);
    let (customer_name, customer_address) = customer_name_and_address(doc, rules, &lines, block);
    let mut supplier =
        PartyFields { name: supplier_name, address: supplier_address, ..identifiers(Scope::OutsideCustomer) };
    if supplier.siren.is_none()
        && let Some(s) = &supplier.siret
    {
        supplier.siren = Some(Grounded {
            value: s.value[..9].to_string(),
            evidence: Evidence {
                method: Method::Derived { rule: "siren.from_siret".into() },
                ..s.evidence.clone()
            },
        });
    }
    supplier.country = supplier.vat_id.as_ref().map(country_of_vat);
    let mut customer =
        PartyFields { name: customer_name, address: customer_address, ..identifiers(Scope::Customer) };
    customer.country = customer.vat_id.as_ref().map(country_of_vat);

    let mut inv = ExtractedInvoice {
        source: Source::Text,
        kind: kind_of(doc, rules, &lines),
        supplier,
        customer,
        number: text(FieldName::Number, Scope::OutsideCustomer),
        issue_date: date(FieldName::IssueDate),
        due_date: date(FieldName::DueDate),
        payment_terms: text(FieldName::PaymentTerms, Scope::OutsideCustomer),
        order_number: text(FieldName::OrderNumber, Scope::OutsideCustomer),
        currency,
        iban: text(FieldName::Iban, Scope::OutsideCustomer),
        bic: text(FieldName::Bic, Scope::OutsideCustomer),
        net_total,
        vat_total,
        gross_total,
        prepaid: None,
        amount_due,
        vat_breakdown: vat_breakdown(doc, &lines),
        lines: line_items(doc, rules, &lines),
        flags: Vec::new(),
        extra: Vec::new(),
    };
    // An invoice number label may title the document ("Avoir n° …").
    if inv.kind.is_none()
        && let Some(n) = &inv.number
        && let Method::Layout { rule } = &n.evidence.method
    {
        let label = &rules.field(FieldName::Number).expect("number rule").labels;
        let idx: usize = rule.rsplit('.').next().and_then(|i| i.parse().ok()).unwrap_or(usize::MAX);
        if let Some((_, re)) = label.get(idx) {
            let kind = if re.as_str().to_lowercase().contains("avoir")
                || re.as_str().to_lowercase().contains("credit")
            {
                InvoiceKind::CreditNote
            } else {
                InvoiceKind::Invoice
            };
            inv.kind = Some(Grounded { value: kind, evidence: n.evidence.clone() });
        }
    }
    if inv.currency.is_none() {
        inv.currency = currency_by_label_or_code(doc, rules, &lines);
    }
    if inv.currency.is_none() {
        // Any amount with a symbol.
        inv.currency = lines.iter().find_map(|l| {
            let (a, at) = find_amount(l.text, DecimalHint::Auto)?;
            let code = a.currency?;
            grounded(
                code.to_string(),
                evidence(
                    doc,
                    l.page,
                    l.start + at,
                    l.start + at + a.len,
                    Method::Pattern { rule: "currency.symbol".into() },
                    0.7,
                ),
            )
        });
    }
    // The totals row of a table whose columns are net, VAT and gross, for the totals no label gave.
    if let Some([n, v, g]) = totals_table(doc, &lines) {
        let agrees = |have: &Option<Grounded<Decimal>>, t: &Grounded<Decimal>| {
            have.as_ref().is_none_or(|h| h.value == t.value)
        };
        if agrees(&inv.net_total, &n) && agrees(&inv.vat_total, &v) && agrees(&inv.gross_total, &g) {
            inv.net_total.get_or_insert(n);
            inv.vat_total.get_or_insert(v);
            inv.gross_total.get_or_insert(g);
        }
    }
    // Derived totals, when one of the three is not printed.
    derive_totals(&mut inv);
    if inv.is_credit_note() {
        sign_credit_note(&mut inv);
    }
    inv
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Net,
    Vat,
    Gross,
}

static NET_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:ht|h\.t\.?|hors\s*taxes?|net|netto|excl\.?|exclusief|excluding|ohne|grondslag|base|basis)$",
    )
    .expect("net word")
});
static EXCL_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(?:excl\.?|exclusief|excluding|ohne)$").expect("excl word"));
static VAT_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(?:tva|vat|mwst\.?|ust\.?|btw|tax|iva)$").expect("vat word"));
static GROSS_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:ttc|t\.t\.c\.?|brutto|gross|incl\.?|inkl\.?|inclusief|including|total|totaal|gesamt)$",
    )
    .expect("gross word")
});
static TOTAL_ROW: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:total|totaal|totaux|summe|gesamt)").expect("total row"));

/// The column types a table header names, in order ("Montant EUR HT   Montant TVA   Montant EUR
/// TTC", "BTW %   Grondslag BTW bedrag   Totaal"): a VAT word before "%" names the rate column
/// (none); "Total"/"incl."/"excl." before another type word qualify it ("Total HT", "incl. BTW").
fn header_columns(t: &str) -> Vec<Column> {
    let words: Vec<&str> = t.split_whitespace().collect();
    let mut out = Vec::new();
    let mut j = 0;
    while j < words.len() {
        let w = words[j];
        let next = words.get(j + 1).copied().unwrap_or("");
        let typed = |x: &str| NET_WORD.is_match(x) || VAT_WORD.is_match(x) || GROSS_WORD.is_match(x);
        let col = if NET_WORD.is_match(w) {
            // "excl. BTW", "HT" …: net, and the VAT word after "excl." is part of it.
            if EXCL_WORD.is_match(w) && VAT_WORD.is_match(next) {
                j += 1;
            }
            Some(Column::Net)
        } else if VAT_WORD.is_match(w) {
            (!next.starts_with('%')).then_some(Column::Vat)
        } else if GROSS_WORD.is_match(w) {
            if typed(next) && !w.to_lowercase().starts_with("in") {
                // "Total HT", "Total TVA", "Total TTC": the next word says which.
                None
            } else {
                if VAT_WORD.is_match(next) {
                    j += 1; // "incl. BTW"
                }
                Some(Column::Gross)
            }
        } else {
            None
        };
        out.extend(col);
        j += 1;
    }
    out
}

/// The totals row of a table laid out with net, VAT and gross columns: a row labelled total, or a
/// row of amounts alone equal to the sum of the rows above it, whose last three amounts fit the
/// header's columns with net + VAT = gross. (net, VAT, gross)
fn totals_table(doc: &Document, lines: &[TextLine]) -> Option<[Grounded<Decimal>; 3]> {
    let mut found = None;
    for (i, h) in lines.iter().enumerate() {
        let cols = header_columns(h.text);
        if cols.len() != 3
            || ![Column::Net, Column::Vat, Column::Gross].iter().all(|c| cols.contains(c))
            || find_amount(h.text, DecimalHint::Auto).is_some()
        {
            continue;
        }
        let mut sums = [Decimal::ZERO; 3];
        let mut body = 0;
        for r in rows_below(lines, i, 12) {
            // The row's last three whitespace-separated tokens, each exactly one amount.
            let toks: Vec<(usize, &str)> = r
                .text
                .split_whitespace()
                .map(|t| (t.as_ptr() as usize - r.text.as_ptr() as usize, t))
                .collect();
            if toks.len() < 3 {
                break;
            }
            let last = &toks[toks.len() - 3..];
            let vals: Option<Vec<Decimal>> = last
                .iter()
                .map(|(_, t)| {
                    parse_amount(t, DecimalHint::Auto).filter(|a| a.len == t.len()).map(|a| a.value)
                })
                .collect();
            let Some(vals) = vals else { break };
            let at = |c: Column| cols.iter().position(|x| *x == c);
            let (n, v, g) = (at(Column::Net)?, at(Column::Vat)?, at(Column::Gross)?);
            if vals[n] + vals[v] != vals[g] {
                break;
            }
            let lead = &r.text[..last[0].0];
            let labelled = TOTAL_ROW.is_match(lead);
            let sum_row = lead.trim().is_empty() && body > 0 && vals.iter().zip(&sums).all(|(a, b)| a == b);
            if labelled || sum_row {
                let gr = |k: usize| {
                    let (off, t) = last[k];
                    grounded(
                        vals[k],
                        evidence(
                            doc,
                            r.page,
                            r.start + off,
                            r.start + off + t.len(),
                            Method::Layout { rule: "totals.table_row".into() },
                            0.85,
                        ),
                    )
                };
                found = Some([gr(n)?, gr(v)?, gr(g)?]);
                continue;
            }
            for (s, x) in sums.iter_mut().zip(&vals) {
                *s += *x;
            }
            body += 1;
        }
    }
    found
}

/// ISO 4217 codes of the currencies an invoice is likely to be in.
static CURRENCY_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(EUR|USD|GBP|CHF|JPY|CNY|INR|PLN|CZK|HUF|RON|BGN|SEK|NOK|DKK|ISK|CAD|AUD|NZD|TRY|RUB|UAH|BRL|MXN|ZAR|SGD|HKD|KRW|AED|SAR|MAD|TND|XOF|XAF)\b")
        .expect("currency codes")
});

/// The currency after a currency label ("Währung: EUR", "Devise : EUR"), else the first ISO 4217
/// code printed next to an amount or alone ("Beträge in EUR", "Total EUR 49,99").
fn currency_by_label_or_code(
    doc: &Document,
    rules: &InvoiceRules,
    lines: &[TextLine],
) -> Option<Grounded<String>> {
    let at = |l: &TextLine, m: regex::Match, rule: &str, conf: f32| {
        grounded(
            m.as_str().to_string(),
            evidence(
                doc,
                l.page,
                l.start + m.start(),
                l.start + m.end(),
                Method::Pattern { rule: rule.into() },
                conf,
            ),
        )
    };
    if let Some(labels) = &rules.currency_labels {
        for l in lines {
            if let Some(lm) = labels.find(l.text)
                && let Some(m) = CURRENCY_CODE.find(&l.text[lm.end()..])
                && m.start() == 0
            {
                let m = CURRENCY_CODE.find_at(l.text, lm.end())?;
                return at(l, m, "currency.label", 0.9);
            }
        }
    }
    lines.iter().find_map(|l| CURRENCY_CODE.find(l.text).and_then(|m| at(l, m, "currency.code", 0.7)))
}

/// A currency symbol or code inside a total's label ("Total € Incl. VAT  681.87"): on the label's
/// line `l`, before the amount when it stands at `value_start` on that line (a page offset), else
/// anywhere on the line (the amount printed below its label).
fn currency_in_label(doc: &Document, l: &TextLine, value_start: usize) -> Option<Grounded<String>> {
    static SYMBOL: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"€|\$|£|₹|\b(?:EUR|USD|GBP|CHF|INR)\b").expect("currency symbol regex"));
    let end = if (l.start..=l.start + l.text.len()).contains(&value_start) {
        value_start - l.start
    } else {
        l.text.len()
    };
    let mut found = SYMBOL.find_iter(&l.text[..end]);
    let m = found.next()?;
    // One currency only ("Total EUR / USD" names none).
    if found.any(|o| o.as_str() != m.as_str()) {
        return None;
    }
    let code = parse_amount(&format!("{} 1", m.as_str()), DecimalHint::Auto)?.currency?;
    grounded(
        code.to_string(),
        evidence(
            doc,
            l.page,
            l.start + m.start(),
            l.start + m.end(),
            Method::Pattern { rule: "currency.in_total_label".into() },
            0.8,
        ),
    )
}

fn derived(value: Decimal, from: &[&Grounded<Decimal>], rule: &str) -> Grounded<Decimal> {
    let locations = from.iter().flat_map(|g| g.evidence.locations.clone()).collect();
    let confidence = from.iter().map(|g| g.evidence.confidence).fold(1.0f32, f32::min) * 0.9;
    Grounded {
        value,
        evidence: Evidence { locations, method: Method::Derived { rule: rule.into() }, confidence },
    }
}

fn derive_totals(inv: &mut ExtractedInvoice) {
    if inv.gross_total.is_none()
        && let Some(d) = &inv.amount_due
    {
        inv.gross_total = Some(derived(d.value, &[d], "gross_total.from_amount_due"));
    }
    if inv.vat_total.is_none() {
        let amounts: Vec<&Grounded<Decimal>> =
            inv.vat_breakdown.iter().filter_map(|v| v.amount.as_ref()).collect();
        if !amounts.is_empty() && amounts.len() == inv.vat_breakdown.len() {
            let sum = amounts.iter().map(|a| a.value).sum();
            inv.vat_total = Some(derived(sum, &amounts, "vat_total.sum_of_breakdown"));
        } else if let (Some(g), Some(n)) = (&inv.gross_total, &inv.net_total) {
            inv.vat_total = Some(derived(g.value - n.value, &[g, n], "vat_total.gross_minus_net"));
        }
    }
    if inv.net_total.is_none()
        && let (Some(g), Some(v)) = (&inv.gross_total, &inv.vat_total)
    {
        inv.net_total = Some(derived(g.value - v.value, &[g, v], "net_total.gross_minus_vat"));
    }
}

// ---------------------------------------------------------------------------------------------
// E-invoice overlay

fn xml<T: Clone>(e: &Evidenced<T>) -> Grounded<T> {
    Grounded {
        value: e.value.clone(),
        evidence: Evidence {
            locations: vec![],
            method: Method::EInvoiceXml { path: e.path.clone() },
            confidence: 1.0,
        },
    }
}

/// The XML value, with the visible text's location added when the page shows the same value;
/// a flag when the page shows another.
fn merge<T: Clone + PartialEq + std::fmt::Display>(
    field: &str,
    x: Option<Grounded<T>>,
    text: Option<Grounded<T>>,
    same: impl Fn(&T, &T) -> bool,
    flags: &mut Vec<Flag>,
    rules: &InvoiceRules,
) -> Option<Grounded<T>> {
    match (x, text) {
        (Some(mut x), Some(t)) => {
            if same(&x.value, &t.value) {
                x.evidence.locations = t.evidence.locations;
            } else {
                let spec = rules.rule("einvoice.text_mismatch");
                flags.push(Flag {
                    rule: "einvoice.text_mismatch".into(),
                    reason: spec.map(|s| s.reason.clone()).unwrap_or_default(),
                    detail: format!("{field}: the XML says {}, the page shows {}", x.value, t.value),
                    weight: spec.map(|s| s.weight).unwrap_or(0.5),
                    evidence: vec![x.evidence.clone(), t.evidence],
                });
            }
            Some(x)
        }
        (Some(x), None) => Some(x),
        (None, t) => t,
    }
}

fn overlay_einvoice(ei: &EInvoice, text: ExtractedInvoice, rules: &InvoiceRules) -> ExtractedInvoice {
    let mut flags = text.flags;
    let eq = |a: &String, b: &String| norm(a) == norm(b);
    let deq = |a: &Decimal, b: &Decimal| a.abs() == b.abs();
    let credit = ei.is_credit_note();
    let signed = |g: Option<Grounded<Decimal>>| {
        g.map(|mut g| {
            if credit && g.value > Decimal::ZERO {
                g.value = -g.value;
            }
            g
        })
    };
    let seller = ei.seller.as_ref();
    let buyer = ei.buyer.as_ref();
    let party = |p: Option<&crate::einvoice::Party>,
                 t: PartyFields,
                 flags: &mut Vec<Flag>,
                 who: &str|
     -> PartyFields {
        let name = p.and_then(|p| p.name.as_ref().or(p.trading_name.as_ref())).map(xml);
        let vat = p.and_then(|p| p.vat_ids.first()).map(xml);
        let address = p.and_then(|p| p.address.as_ref()).and_then(|a| {
            let mut parts: Vec<&Evidenced<String>> = a.lines.iter().collect();
            parts.extend(a.postcode.iter());
            parts.extend(a.city.iter());
            let first = parts.first()?;
            let value = parts.iter().map(|e| e.value.as_str()).collect::<Vec<_>>().join(", ");
            Some(Grounded {
                value,
                evidence: Evidence {
                    locations: vec![],
                    method: Method::EInvoiceXml { path: first.path.clone() },
                    confidence: 1.0,
                },
            })
        });
        let id_from = |v: Option<String>, path: &str| {
            v.map(|value| Grounded {
                value,
                evidence: Evidence {
                    locations: vec![],
                    method: Method::EInvoiceXml { path: path.into() },
                    confidence: 1.0,
                },
            })
        };
        let id_path = p
            .and_then(|p| {
                p.legal_id.as_ref().map(|e| e.path.clone()).or(p.ids.first().map(|e| e.path.clone()))
            })
            .unwrap_or_default();
        let siren = id_from(p.and_then(|p| p.siren()), &id_path);
        let siret = id_from(p.and_then(|p| p.siret()), &id_path);
        let country = p.and_then(|p| p.address.as_ref()).and_then(|a| a.country.as_ref()).map(xml);
        PartyFields {
            // Names are printed in many ways (trading name, legal form): no flag on names.
            name: merge(
                &format!("{who} name"),
                name,
                t.name,
                |a, b| norm(a).contains(&norm(b)) || norm(b).contains(&norm(a)),
                &mut Vec::new(),
                rules,
            ),
            address: address.or(t.address),
            siren: merge(&format!("{who} SIREN"), siren, t.siren, eq, flags, rules),
            siret: merge(&format!("{who} SIRET"), siret, t.siret, eq, flags, rules),
            vat_id: merge(&format!("{who} VAT number"), vat, t.vat_id, eq, flags, rules),
            country: country.or(t.country),
        }
    };
    let supplier = party(seller, text.supplier, &mut flags, "supplier");
    let customer = party(buyer, text.customer, &mut flags, "customer");
    let iban_x = ei.payment_means.iter().find_map(|m| {
        let a = m.account.as_ref()?;
        let v = crate::einvoice::normalise_iban(&a.value)?;
        Some(Grounded { value: v, evidence: xml(a).evidence })
    });
    let bic_x = ei.payment_means.iter().find_map(|m| m.bic.as_ref()).map(xml);
    let kind = Some(Grounded {
        value: if credit { InvoiceKind::CreditNote } else { InvoiceKind::Invoice },
        evidence: ei.type_code.as_ref().map(|t| xml(t).evidence).unwrap_or_else(|| xml(&ei.number).evidence),
    });
    let vat_breakdown: Vec<VatLine> = ei
        .vat_breakdown
        .iter()
        .filter_map(|v| {
            Some(VatLine {
                rate: v.rate.as_ref().map(xml)?,
                base: signed(v.basis.as_ref().map(xml)),
                amount: signed(v.tax.as_ref().map(xml)),
            })
        })
        .collect();
    let lines: Vec<LineItem> = ei
        .lines
        .iter()
        .filter_map(|l| {
            let desc = l.name.as_ref().or(l.description.as_ref()).map(xml)?;
            let amount = signed(l.net_amount.as_ref().map(xml))?;
            let printed = text.lines.iter().find(|t| {
                t.amount.value.abs() == amount.value.abs()
                    && norm(&t.description.value)
                        .contains(&norm(&desc.value).chars().take(12).collect::<String>())
            });
            let mut desc = desc;
            let mut amount = amount;
            if let Some(p) = printed {
                // Grounded on the page too.
                desc.evidence.locations = p.description.evidence.locations.clone();
                amount.evidence.locations = p.amount.evidence.locations.clone();
            }
            Some(LineItem {
                page: printed.map(|p| p.page).unwrap_or(0),
                reference: l.seller_item_id.as_ref().map(xml),
                description: desc,
                quantity: l
                    .quantity
                    .as_ref()
                    .map(|q| Grounded { value: q.value.value, evidence: xml(q).evidence }),
                unit: l.quantity.as_ref().and_then(|q| {
                    q.value.unit.clone().map(|u| Grounded { value: u, evidence: xml(q).evidence })
                }),
                unit_price: l.net_price.as_ref().map(xml),
                vat_rate: l.vat_rate.as_ref().map(xml),
                amount,
            })
        })
        .collect();
    let t = &ei.totals;
    let mut inv = ExtractedInvoice {
        source: Source::EInvoice,
        kind,
        supplier,
        customer,
        number: merge("invoice number", Some(xml(&ei.number)), text.number, eq, &mut flags, rules),
        issue_date: merge(
            "issue date",
            ei.issue_date.as_ref().map(xml),
            text.issue_date,
            |a, b| a == b,
            &mut flags,
            rules,
        ),
        due_date: merge(
            "due date",
            ei.due_date.as_ref().map(xml),
            text.due_date,
            |a, b| a == b,
            &mut flags,
            rules,
        ),
        payment_terms: ei.payment_terms.first().map(xml).or(text.payment_terms),
        order_number: ei.order_reference.as_ref().map(xml).or(text.order_number),
        currency: merge("currency", ei.currency.as_ref().map(xml), text.currency, eq, &mut flags, rules),
        iban: merge("IBAN", iban_x, text.iban, eq, &mut flags, rules),
        bic: merge("BIC", bic_x, text.bic, eq, &mut flags, rules),
        net_total: merge(
            "net total",
            signed(t.tax_basis_total.as_ref().map(xml)),
            text.net_total,
            deq,
            &mut flags,
            rules,
        ),
        vat_total: merge(
            "VAT total",
            signed(t.tax_total.as_ref().map(xml)),
            text.vat_total,
            deq,
            &mut flags,
            rules,
        ),
        gross_total: merge(
            "gross total",
            signed(t.grand_total.as_ref().map(xml)),
            text.gross_total,
            deq,
            &mut flags,
            rules,
        ),
        prepaid: signed(t.prepaid.as_ref().map(xml)),
        amount_due: merge(
            "amount due",
            signed(t.due_payable.as_ref().map(xml)),
            text.amount_due,
            deq,
            &mut flags,
            rules,
        ),
        vat_breakdown: if vat_breakdown.is_empty() { text.vat_breakdown } else { vat_breakdown },
        lines: if lines.is_empty() { text.lines } else { lines },
        flags,
        extra: text.extra,
    };
    derive_totals(&mut inv);
    inv
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::document::{ContentHash, Format, Page, Provenance};

    #[test]
    fn template_line_items_and_extra_fields_reach_the_invoice() {
        let mut rules = rules().clone();
        rules.templates = vec![
            crate::invoice::templates::parse(
                "acme.yml",
                "issuer: ACME\nkeywords: [ACME SARL]\nfields:\n  partner_name: (ACME SARL)\n  lines:\n    parser: lines\n    start: Items\n    end: Total\n    line: ^(?P<name>\\w+)\\s+(?P<qty>\\d+)\\s+(?P<price_subtotal>\\d+\\.\\d\\d)$\n    types:\n      qty: int\n      price_subtotal: float\n",
            )
            .unwrap(),
        ];
        let inv = extract(&doc(&["ACME SARL\nItems\nApple 2 7.00\nPear 1 1.25\nTotal 8.25"]), &rules);
        assert_eq!(inv.lines.len(), 2);
        assert_eq!(inv.lines[1].description.value, "Pear");
        assert_eq!(inv.lines[1].amount.value, Decimal::new(125, 2));
        assert!(matches!(inv.lines[1].amount.evidence.method, Method::Template { .. }));
        assert_eq!(inv.extra.len(), 1);
        assert_eq!(inv.extra[0].name, "partner_name");
        assert_eq!(inv.extra[0].value.value, serde_json::json!("ACME SARL"));
        assert_eq!(inv.extra[0].value.evidence.locations[0].text, "ACME SARL");
        assert_eq!(inv.supplier.name.as_ref().unwrap().value, "ACME");
        // A regex field named `issuer` names the supplier from the page.
        rules.templates = vec![
            crate::invoice::templates::parse(
                "acme.yml",
                "keywords: [ACME SARL]\nfields:\n  issuer: (ACME SARL)\n",
            )
            .unwrap(),
        ];
        let inv = extract(&doc(&["ACME SARL\nTotal 8.25"]), &rules);
        let name = inv.supplier.name.unwrap();
        assert_eq!(
            (name.value.as_str(), name.evidence.locations[0].text.as_str()),
            ("ACME SARL", "ACME SARL")
        );
    }

    #[test]
    fn rows_below_a_header_skip_one_blank_and_stop_at_two_or_at_the_page_end() {
        let d = doc(&["Net   VAT\n1\n\n2\n\n\n3", "4"]);
        let lines = lines_of(&d);
        let rows: Vec<&str> = rows_below(&lines, 0, 12).map(|l| l.text).collect();
        assert_eq!(rows, ["1", "2"]);
        let d = doc(&["Net   VAT\n1\n2", "3"]);
        let lines = lines_of(&d);
        assert_eq!(rows_below(&lines, 0, 12).map(|l| l.text).collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(rows_below(&lines, 0, 1).map(|l| l.text).collect::<Vec<_>>(), ["1"]);
    }

    pub(crate) fn doc(pages: &[&str]) -> Document {
        Document {
            content_hash: ContentHash::of(pages.join("\u{c}").as_bytes()),
            format: Format::Pdf,
            media_type: "application/pdf".into(),
            source: crate::document::Source {
                name: "t.pdf".into(),
                path: None,
                size: 0,
                provenance: Provenance::File,
            },
            pdf: None,
            pages: pages
                .iter()
                .enumerate()
                .map(|(i, t)| Page {
                    number: i as u32 + 1,
                    method: PageMethod::TextLayer,
                    text: t.to_string(),
                    layout: None,
                    ocr: None,
                    words: vec![],
                })
                .collect(),
            attachments: vec![],
            einvoice: None,
            warnings: vec![],
        }
    }

    pub(crate) fn rules() -> &'static InvoiceRules {
        static RULES: std::sync::OnceLock<InvoiceRules> = std::sync::OnceLock::new();
        RULES.get_or_init(|| InvoiceRules::builtin().unwrap())
    }

    fn rule_of<T>(g: &Option<Grounded<T>>) -> String {
        match &g.as_ref().unwrap().evidence.method {
            Method::Layout { rule } | Method::Pattern { rule } => rule.clone(),
            m => format!("{m:?}"),
        }
    }

    #[test]
    fn vat_numbers_with_dotted_groups() {
        let d = doc(&[
            "Brasserie Dupont SA\nRue de la Gare 5, 1000 Bruxelles\nTVA : BE 0123.456.749.\n\nFacture n° 2026-17\nTotal TTC 121,00 €",
        ]);
        let inv = extract(&d, rules());
        let vat = inv.supplier.vat_id.unwrap();
        assert_eq!(vat.value, "BE0123456749");
        assert_eq!(vat.evidence.locations[0].text, "BE 0123.456.749");
        let d = doc(&[
            "e-Luscious Nederland B.V.\nKvk nummer: 04080176 BTW-nr: NL8152.54.295.B01\n\nFactuur VF1005193039",
        ]);
        assert_eq!(extract(&d, rules()).supplier.vat_id.unwrap().value, "NL815254295B01");
        // A French number followed by a sentence's dot and more words.
        let d = doc(&["ACME SAS\nN° TVA : FR89438050700. Merci\n\nFacture n° 1"]);
        assert_eq!(extract(&d, rules()).supplier.vat_id.unwrap().value, "FR89438050700");
    }

    #[test]
    fn a_company_acting_for_another_ends_at_its_legal_form() {
        let d = doc(&[
            "Factuur VF1005193039\n\ne-Luscious Nederland B.V. iov Saeco.com\nBadweg 48, 8401 BL, Gorredijk\nIBAN: NL58RABO0198723202",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.supplier.name.as_ref().unwrap().value, "e-Luscious Nederland B.V.");
        // Without a legal form before it, "iov" is a word of the name.
        let d = doc(&["Factuur 1\n\nHandel iov Jansen\nBadweg 48, 8401 BL, Gorredijk"]);
        assert_eq!(extract(&d, rules()).supplier.name.unwrap().value, "Handel iov Jansen");
    }

    #[test]
    fn the_name_above_an_attention_line_is_the_addressee() {
        // The text layer put the addressee before the two columns' labels, and the delivery
        // column's cells under them.
        let d = doc(&[
            "Kopie factuur\n\nStrategic Corp\nT.a.v. bosd\nFakestreet 46\n3500 MJ Utrecht\nNederland\n\nFactuuradres Afleveradres\n\nbosd\nFakestreet 46\n3500 MJ Utrecht\n\nFactuur datum 8-9-2022\n\ne-Luscious Nederland B.V.\nBadweg 48, 8401 BL, Gorredijk",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.customer.name.as_ref().unwrap().value, "Strategic Corp");
        assert_eq!(rule_of(&inv.customer.name), "customer_name.above_attention");
        assert_eq!(inv.supplier.name.as_ref().unwrap().value, "e-Luscious Nederland B.V.");
        // A name under the customer's label stays the customer's, whatever follows it.
        let d = doc(&[
            "ACME SARL\n1 rue de la Paix\n75002 Paris\n\nFacturé à\nGranite Express\nÀ l'attention de M. X\n19 route de Vienne\n69100 Villeurbanne",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.customer.name.as_ref().unwrap().value, "Granite Express");
        assert_eq!(inv.supplier.name.as_ref().unwrap().value, "ACME SARL");
        // The other column's label beside the customer's is not the customer's name.
        let d = doc(&["ACME SARL\n\nFactuuradres   Afleveradres\nStrategic Corp\nFakestreet 46"]);
        let inv = extract(&d, rules());
        assert_eq!(inv.customer.name.as_ref().unwrap().value, "Strategic Corp");
    }

    #[test]
    fn the_name_spelling_the_company_domain_is_the_supplier() {
        // The stream text holds the addressee first and the letterhead last.
        let page = "Invoice INV/2023/03/0008\n\nYourCompany, Mitchell Admin\n215 Vine St\nScranton PA 18503\n\nTotal $ 279.84\n\nGlobal Wholesaler\n\nAzure Interior\n4557 De Silva St\nFremont CA 94538\n(870)-931-0505 CONTACT";
        let d =
            doc(&[&page.replace("CONTACT", "azure.Interior24@example.com http://www.azure-interior.com")]);
        let inv = extract(&d, rules());
        assert_eq!(inv.supplier.name.as_ref().unwrap().value, "Azure Interior");
        assert_eq!(rule_of(&inv.supplier.name), "supplier_name.web_domain");
        // A shared domain names no company, nor does a mail address (the customer's may be
        // printed); without a website the first line stays.
        for contact in ["www.example.com", "contact@azure-interior.com", "(no mail)"] {
            let d = doc(&[&page.replace("CONTACT", contact)]);
            let inv = extract(&d, rules());
            assert_eq!(inv.supplier.name.as_ref().unwrap().value, "YourCompany, Mitchell Admin", "{contact}");
        }
        // The legal form is not part of the domain ("Lieferant GmbH", lieferant.de); a name
        // already read and confirmed keeps its rule.
        let d = doc(&[
            "Lieferant GmbH\nLieferantenstraße 20\n80333 München\nwww.lieferant.de\n\nRechnung 471102",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.supplier.name.as_ref().unwrap().value, "Lieferant GmbH");
        assert_ne!(rule_of(&inv.supplier.name), "supplier_name.web_domain");
        let d = doc(&[
            "Kunde AG\nWeg 1\n10115 Berlin\n\nLieferant GmbH\nLieferantenstraße 20\nwww.lieferant.de\n\nRechnung 471102",
        ]);
        assert_eq!(extract(&d, rules()).supplier.name.unwrap().value, "Lieferant GmbH");
    }

    #[test]
    fn french_header_fields() {
        let d = doc(&[
            "Acme Fournitures\n12 rue de la Paix\n75002 Paris\nSIRET : 438 050 700 00022\nN° TVA : FR89438050700\n FACTURE\n\nFacture n° : FA-2026-0142\nDate : 23/11/2026\nÉchéance : 31/12/2026\nVotre commande : BC-2026-0434\n\nFacturé à\nGranite Express\nÀ l'attention de M. X\n19 route de Vienne\n69100 Villeurbanne\nN° TVA : FR84785067778\nSIREN : 785 067 778\n\nPériode : du 01/10/2026 au 31/10/2026\nTotal HT 100,00 €\nTVA 20 % 20,00 €\nTotal TTC 120,00 €\nConditions de paiement : 30 jours fin de mois\nIBAN : FR76 3000 4520 8671 0153 2618 077\nBIC : BNPAFRPP",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.number.as_ref().unwrap().value, "FA-2026-0142");
        assert_eq!(inv.issue_date.as_ref().unwrap().value.to_string(), "2026-11-23");
        assert_eq!(inv.due_date.as_ref().unwrap().value.to_string(), "2026-12-31");
        assert_eq!(inv.order_number.as_ref().unwrap().value, "BC-2026-0434");
        assert_eq!(inv.supplier.name.as_ref().unwrap().value, "Acme Fournitures");
        assert_eq!(inv.supplier.address.as_ref().unwrap().value, "12 rue de la Paix, 75002 Paris");
        assert_eq!(inv.supplier.siret.as_ref().unwrap().value, "43805070000022");
        assert_eq!(inv.supplier.siren.as_ref().unwrap().value, "438050700");
        assert_eq!(inv.supplier.vat_id.as_ref().unwrap().value, "FR89438050700");
        assert_eq!(inv.customer.name.as_ref().unwrap().value, "Granite Express");
        assert_eq!(inv.customer.vat_id.as_ref().unwrap().value, "FR84785067778");
        assert_eq!(inv.customer.siren.as_ref().unwrap().value, "785067778");
        assert_eq!(inv.customer.address.as_ref().unwrap().value, "19 route de Vienne, 69100 Villeurbanne");
        assert_eq!(inv.net_total.as_ref().unwrap().value.to_string(), "100.00");
        assert_eq!(inv.gross_total.as_ref().unwrap().value.to_string(), "120.00");
        assert_eq!(inv.vat_total.as_ref().unwrap().value.to_string(), "20.00");
        assert_eq!(inv.currency.as_ref().unwrap().value, "EUR");
        assert_eq!(inv.iban.as_ref().unwrap().value, "FR7630004520867101532618077");
        assert_eq!(inv.bic.as_ref().unwrap().value, "BNPAFRPP");
        assert_eq!(inv.payment_terms.as_ref().unwrap().value, "30 jours fin de mois");
        assert_eq!(inv.kind.as_ref().unwrap().value, InvoiceKind::Invoice);
        // Grounded: the span cites the value.
        let n = inv.number.as_ref().unwrap();
        assert_eq!(n.evidence.locations[0].text, "FA-2026-0142");
    }

    #[test]
    fn english_header_and_lines() {
        let d = doc(&[
            "Taylor's Kitchen Ltd\n32 Harcourt Street\nGalway H91 E2K3\nVAT No.: IE6750970W\n INVOICE\n\nInvoice No.: INV-10427\nDate: Nov 23, 2026\nDue date: Dec 23, 2026\nPO number: PO-74967\n\nBill to\nArpège Office Supplies Ltd\n\nDescription Qty Unit Unit price VAT Amount\n\nAssorted pastries 20 piece €2.00 9% €40.00\n\nWaiting staff 4 hour €33.00 23% €132.00\n\nRate Net VAT\n\n23% €132.00 €30.36\n\n9% €40.00 €3.60\n Subtotal €172.00\n\nVAT 23% €30.36\n\nVAT €33.96\n\nTotal €205.96\n\nAmount due €205.96",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.number.as_ref().unwrap().value, "INV-10427");
        assert_eq!(inv.issue_date.as_ref().unwrap().value.to_string(), "2026-11-23");
        assert_eq!(inv.order_number.as_ref().unwrap().value, "PO-74967");
        assert_eq!(inv.customer.name.as_ref().unwrap().value, "Arpège Office Supplies Ltd");
        assert_eq!(inv.gross_total.as_ref().unwrap().value.to_string(), "205.96");
        assert_eq!(inv.vat_total.as_ref().unwrap().value.to_string(), "33.96");
        assert_eq!(inv.net_total.as_ref().unwrap().value.to_string(), "172.00");
        assert_eq!(inv.lines.len(), 2);
        assert_eq!(inv.lines[0].description.value, "Assorted pastries");
        assert_eq!(inv.lines[0].quantity.as_ref().unwrap().value.to_string(), "20");
        assert_eq!(inv.lines[1].vat_rate.as_ref().unwrap().value.to_string(), "23");
        assert_eq!(inv.vat_breakdown.len(), 2);
        assert_eq!(inv.vat_breakdown[0].base.as_ref().unwrap().value.to_string(), "132.00");
    }

    #[test]
    fn lines_across_a_page_break_and_credit_note_sign() {
        let d = doc(&[
            "Hélios Bâtiment\n AVOIR\nAvoir n° : AV-2026-0017\nDate : 4 décembre 2026\n\nRéf. Désignation Qté\n\nWHI-571 Peinture acrylique\nmate blanche 2 pot 64,00 € 20 % 128,00 €\n\nPage 1/2",
            "Réf. Désignation Qté\n\nJOI-298 Main-d'œuvre 24 heure 43,50 € 10 % 1 044,00 €\n Montant total HT 1 172,00 €\nMontant TVA 130,00 €\nMontant total TTC 1 302,00 €",
        ]);
        let inv = extract(&d, rules());
        assert!(inv.is_credit_note());
        assert_eq!(inv.number.as_ref().unwrap().value, "AV-2026-0017");
        assert_eq!(inv.issue_date.as_ref().unwrap().value.to_string(), "2026-12-04");
        assert_eq!(inv.lines.len(), 2);
        assert_eq!(inv.lines[0].description.value, "Peinture acrylique mate blanche");
        assert_eq!(inv.lines[0].reference.as_ref().unwrap().value, "WHI-571");
        assert_eq!(inv.lines[1].page, 2);
        assert_eq!(inv.lines[1].amount.value.to_string(), "-1044.00");
        assert_eq!(inv.gross_total.as_ref().unwrap().value.to_string(), "-1302.00");
    }

    #[test]
    fn a_generic_label_inside_another_label_is_not_a_value() {
        let d = doc(&[
            "Acme Ltd\nInvoice No.: 7\n23% €100.00 €23.00\n Total excl. VAT €100.00\nTotal VAT 23% €23.00\nTotal incl. VAT €123.00",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.vat_total.as_ref().unwrap().value.to_string(), "23.00");
        assert_eq!(inv.gross_total.as_ref().unwrap().value.to_string(), "123.00");
        assert_eq!(inv.net_total.as_ref().unwrap().value.to_string(), "100.00");
    }

    #[test]
    fn iban_checksum() {
        assert!(iban_valid("FR7630004520867101532618077"));
        assert!(!iban_valid("FR7630004520867101532618078"));
        assert!(iban_valid("IE07BOFI90904038952004"));
    }

    #[test]
    fn iban_followed_by_bic_on_the_same_line() {
        let d = doc(&["IBAN : FR76 3000 4520 8671 0153 2618 077 BIC BNPAFRPP"]);
        let inv = extract(&d, rules());
        assert_eq!(inv.iban.as_ref().unwrap().value, "FR7630004520867101532618077");
    }

    /// The text at a value's evidence span: every value stays grounded.
    fn at<T>(d: &Document, g: &Grounded<T>) -> String {
        let l = &g.evidence.locations[0];
        d.pages[l.page as usize - 1].text[l.span.start..l.span.end].to_string()
    }

    #[test]
    fn values_before_and_below_their_labels() {
        // Right-aligned cells some text layers give value first, and labels above their values.
        let d = doc(&[
            "Coolblue B.V.\n993548900Factuurnummer:\n 19 april 2014Factuurdatum:\nRechnungssumme Netto (excl. USt.) 473,00\nFactuur totaal\n\nEUR 49,99\nArtikel Nettobetrag\n1 19,00",
        ]);
        let inv = extract(&d, rules());
        let n = inv.number.as_ref().unwrap();
        assert_eq!((n.value.as_str(), at(&d, n).as_str()), ("993548900", "993548900"));
        let date = inv.issue_date.as_ref().unwrap();
        assert_eq!((date.value.to_string(), at(&d, date)), ("2014-04-19".into(), "19 april 2014".into()));
        let net = inv.net_total.as_ref().unwrap();
        assert_eq!((net.value.to_string(), at(&d, net)), ("473.00".into(), "473,00".into()));
        assert_eq!(inv.gross_total.as_ref().unwrap().value.to_string(), "49.99");
        // A date under a label followed by other text.
        let d = doc(&["Rechnungsdatum Kundennr.30064443\n7. Mai 2014 47774"]);
        assert_eq!(extract(&d, rules()).issue_date.unwrap().value.to_string(), "2014-05-07");
        // A number glued to the next label is not read under a label.
        let d = doc(&["Factuurnummer:\n6669263Klantnummer:"]);
        assert!(extract(&d, rules()).number.is_none());
    }

    #[test]
    fn customer_number_is_not_the_customer_block() {
        // "Customer:2" is the customer's number: the invoice number below is a header field.
        let d = doc(&[
            "2019-06-10\n\nCustomer:2\n\nYour order AB321\nInvoice # RE-20190610/507 issued at 2019-06-10\nVAT-ID: DE136695976",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.number.as_ref().unwrap().value, "RE-20190610/507");
        assert_eq!(inv.issue_date.as_ref().unwrap().value.to_string(), "2019-06-10");
        assert_eq!(inv.supplier.vat_id.as_ref().unwrap().value, "DE136695976");
        // A header label ends the customer block ("Käufer" then "Beleg-Nr").
        let d =
            doc(&["Käufer\nMUSTER-KUNDE GMBH\nKUNDENWEG 88\n40235 DUESSELDORF\nBeleg-Nr : R87654321012345"]);
        assert_eq!(extract(&d, rules()).number.unwrap().value, "R87654321012345");
    }

    #[test]
    fn title_number_then_date_on_the_next_line() {
        let d = doc(&["Gutschrift (Selbst ausgestellte Rechnung) Nr. 471102\nvom 05.03.2018"]);
        let inv = extract(&d, rules());
        assert_eq!(inv.issue_date.as_ref().unwrap().value.to_string(), "2018-03-05");
        let d = doc(&["Invoice 103767\n\nFebruary 17, 2026\nPage 1 / 1"]);
        assert_eq!(extract(&d, rules()).issue_date.unwrap().value.to_string(), "2026-02-17");
        let d = doc(&["Rechnungskorrektur Nr.  RK21012345 vom  16.09.2018"]);
        assert_eq!(extract(&d, rules()).issue_date.unwrap().value.to_string(), "2018-09-16");
    }

    #[test]
    fn line_item_with_a_rate_is_not_a_vat_breakdown_row() {
        let d = doc(&[
            "Rechnung Nr. 1\n 7% 160,00 € 160,00 €\n19% 0,79 € 316,00 €\nUSt. Satz Nettopreis Ust.-Betrag\n7% 160,00 € 11,20 €\n19% 336,00 € 63,84 €\nNettobetrag: 496,00 €\nUSt. Gesamt: 75,04 €\nGesamtbetrag: 571,04 €",
        ]);
        let inv = extract(&d, rules());
        let rows: Vec<_> = inv
            .vat_breakdown
            .iter()
            .map(|v| (v.rate.value.to_string(), v.amount.as_ref().unwrap().value.to_string()))
            .collect();
        assert_eq!(rows, [("7".to_string(), "11.20".to_string()), ("19".to_string(), "63.84".to_string())]);
        assert_eq!(inv.vat_total.unwrap().value.to_string(), "75.04");
    }

    #[test]
    fn totals_under_their_column_headers() {
        let d = doc(&[concat!(
            "Rechnung Nr. 1\n",
            "   Warenwert  Zu-/Abschlag  Skonto sofort    Nettobetrag    MwSt-Betrag  MwSt-%     Endbetrag\n",
            "       -5,00       0,15                          -4,85          -0,92   19,0           -5,77\n",
            "       -2,90       0,08                          -2,82          -0,20    7,0           -3,02\n",
            "\n",
            "       -7,90       0,23                          -7,67          -1,12    EUR           -8,79\n",
            "\n",
            "  MUSTERLIEFERANT GMBH       USt-IdNr: DE123456789",
        )]);
        let inv = extract(&d, rules());
        assert_eq!(inv.net_total.as_ref().unwrap().value.to_string(), "-7.67");
        assert_eq!(inv.vat_total.as_ref().unwrap().value.to_string(), "-1.12");
        let gross = inv.gross_total.unwrap();
        assert_eq!(gross.value.to_string(), "-8.79");
        assert_eq!(gross.evidence.locations[0].text, "-8,79");
        // A header in one-space text is not a table: nothing is read under it.
        let d = doc(&["Menge Produkt USt. Preis Gesamtbetrag\n1,00 Gestaltung 7% 160,00 € 160,00 €"]);
        assert!(extract(&d, rules()).gross_total.is_none());
    }

    #[test]
    fn supplier_name_on_two_lines() {
        let d = doc(&[
            "\n\nMVM Musterhafter\nVersicherungsverein Musterstadt a.G.\n\nHerrn\nMax Mustermann\nMusterstr. 11\n12346 Bad Musterhausen\n\nBeitragsrechnung Nr. 1 24. Januar 2014",
        ]);
        let name = extract(&d, rules()).supplier.name.unwrap();
        assert_eq!(name.value, "MVM Musterhafter Versicherungsverein Musterstadt a.G.");
        assert_eq!(name.evidence.locations.len(), 2);
        let d = doc(&[
            "Verkäufer:\nMVM Musterhafter\nVersicherungsverein Musterstadt a.G.\nMusterstr. 12\n\nRechnung Nr. 1",
        ]);
        assert_eq!(
            extract(&d, rules()).supplier.name.unwrap().value,
            "MVM Musterhafter Versicherungsverein Musterstadt a.G."
        );
        // A name with its legal form under a title or an address line stays one line.
        let d = doc(&["FACTURE\nAu bon moulin SARL\n12 rue du Moulin\n\nFacture n° : F-1"]);
        assert_eq!(extract(&d, rules()).supplier.name.unwrap().value, "Au bon moulin SARL");
    }

    #[test]
    fn vat_id_after_intra_communautaire_in_two_words() {
        let d = doc(&[
            "Facture n° F-1\nFree SAS au capital de 3.441.812 Euros − N° de TVA intra communautaire: FR 604 219 388 61",
        ]);
        assert_eq!(extract(&d, rules()).supplier.vat_id.unwrap().value, "FR60421938861");
    }

    #[test]
    fn the_day_of_a_date_is_not_an_invoice_number() {
        let d = doc(&["Beitragsrechnung  24. Januar 2014\nAllgemeine Haftpflichtversicherung"]);
        let inv = extract(&d, rules());
        assert!(inv.number.is_none(), "{:?}", inv.number);
        assert_eq!(inv.issue_date.unwrap().value.to_string(), "2014-01-24");
    }

    #[test]
    fn customer_name_past_its_number_and_the_other_label() {
        let d = doc(&[
            "Rechnung Nr. 1\nRechnungsempfänger/Leistungsempfänger:\nKunden AG Mitte\nKundenstraße 15\nDE 69876 Frankfurt",
        ]);
        assert_eq!(extract(&d, rules()).customer.name.unwrap().value, "Kunden AG Mitte");
        let d = doc(&[
            "Rechnung Nr. 1\nKäufer\nGLN 4304171000002\nMUSTER-KUNDE GMBH\nKUNDENWEG 88\n40235 DUESSELDORF",
        ]);
        assert_eq!(extract(&d, rules()).customer.name.unwrap().value, "MUSTER-KUNDE GMBH");
        let d = doc(&["Rechnung Nr. 1\nKäufer: Kundennummer GE2020211\nKunden AG Mitte\nKundenstraße 15"]);
        assert_eq!(extract(&d, rules()).customer.name.unwrap().value, "Kunden AG Mitte");
        let d = doc(&[
            "Rechnung Nr. 1\nKäufer/Leistungsempfänger\n\nNummer: GE2020211\n\nName: Kunden AG Mitte\n\nAnschrift: Kundenstraße 15\n\nDE 69876 Frankfurt",
        ]);
        assert_eq!(extract(&d, rules()).customer.name.unwrap().value, "Kunden AG Mitte");
    }

    #[test]
    fn customer_block_under_a_heading_joined_to_its_number_label() {
        // The stream joins "Käufer:" to the labelled number below it: still the block's start.
        let d = doc(&["Rechnung Nr. 1\nKäufer:Nummer        :  GE2020211\nKunden AG Mitte\nKundenstraße 15"]);
        assert_eq!(extract(&d, rules()).customer.name.unwrap().value, "Kunden AG Mitte");
        // A customer number after the label alone is still not the block ("Customer: No 4711").
        let d = doc(&["Invoice No. 1\nCustomer: No 4711\nAcme Ltd"]);
        assert!(extract(&d, rules()).customer.name.is_none());
    }

    #[test]
    fn customer_name_without_another_columns_currency_cell() {
        let d = doc(&[
            "Rechnung Nr. 1\nRechnungsempfänger Kundennummer GE2020211\nKunden AG Mitte Beträge in  EUR\nHans Muster Hinweis\nKundenstraße 15\n69876 Frankfurt",
        ]);
        let name = extract(&d, rules()).customer.name.unwrap();
        assert_eq!(name.value, "Kunden AG Mitte");
        assert_eq!(name.evidence.locations[0].text, "Kunden AG Mitte");
    }

    #[test]
    fn customer_salutation_joins_the_name_below_it() {
        let d = doc(&[
            "Rechnung Nr. 1\nKäufer:\n\nHerrn\nMax Mustermann\n\nMusterstr. 11\nDE  12346  Bad Musterhausen",
        ]);
        let inv = extract(&d, rules());
        let name = inv.customer.name.unwrap();
        assert_eq!(name.value, "Herrn Max Mustermann");
        assert_eq!(name.evidence.locations.len(), 2);
        assert_eq!(inv.customer.address.unwrap().value, "Musterstr. 11, DE  12346  Bad Musterhausen");
        let d = doc(&[
            "Rechnung Nr. 1\nKäufer/Leistungsempfänger\n\nName: Herrn\nMax Mustermann\n\nAnschrift: Musterstr. 11",
        ]);
        assert_eq!(extract(&d, rules()).customer.name.unwrap().value, "Herrn Max Mustermann");
        // An addressee title is not part of the name.
        let d = doc(&["Rechnung Nr. 1\nKäufer\nFirma\nElektromarkt Bamby\nAdlerstrasse 452"]);
        assert_eq!(extract(&d, rules()).customer.name.unwrap().value, "Elektromarkt Bamby");
    }

    #[test]
    fn customer_from_the_window_address_without_label() {
        // Under the sender line.
        let d = doc(&[
            "Customer:2\nInvoice # RE-1\nBei Spiel GmbH    ●    Ecke 12    ●    12345 Stadthausen\nTheodor Est\n\nBahnstr. 42\n\n88802 Spielkreis\n Bei Spiel GmbH\n\nEcke 12",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.customer.name.unwrap().value, "Theodor Est");
        assert_eq!(inv.customer.address.unwrap().value, "Bahnstr. 42, 88802 Spielkreis");
        assert_eq!(inv.supplier.name.unwrap().value, "Bei Spiel GmbH");
        // A salutation under the sender line opens the block.
        let d = doc(&[
            "Acme GmbH |  Europa-Allee 1980 | 60486 Frankfurt,\n\nHerr\nKarl E. Coyote\nUferstraße 113\n88045 Friedrichshafen\nRechnung Nr. 42",
        ]);
        assert_eq!(extract(&d, rules()).customer.name.unwrap().value, "Herr Karl E. Coyote");
        // A salutation or a title alone on its line.
        let d = doc(&[
            "MVM Musterhafter\nVersicherungsverein Musterstadt a.G.\n\nHerrn\nMax Mustermann\nMusterstr. 11\n12346 Bad Musterhausen\n\nBeitragsrechnung  24. Januar 2014",
        ]);
        assert_eq!(extract(&d, rules()).customer.name.unwrap().value, "Herrn Max Mustermann");
        let d = doc(&[
            "Die Firma\nRechnung\n\nFirma\nElektromarkt Bamby\nAdlerstrasse 452\nD-07545 GERA\n\nBelegnummer 9",
        ]);
        assert_eq!(extract(&d, rules()).customer.name.unwrap().value, "Elektromarkt Bamby");
        // Without a postcode and town below, no addressee: a contact person under a salutation.
        let d = doc(&["Rechnung Nr. 1\nIhr Ansprechpartner\nFrau\nAnna Schmidt\nTel. 0123 456"]);
        assert!(extract(&d, rules()).customer.name.is_none());
        // The line under a sender line that is the sender's own name is not the addressee.
        let d = doc(&[
            "Bei Spiel GmbH ● Ecke 12 ● 12345 Stadthausen\nBei Spiel GmbH\nEcke 12\n12345 Stadthausen",
        ]);
        assert!(extract(&d, rules()).customer.name.is_none());
    }

    #[test]
    fn customer_named_under_the_delivery_label_and_again_in_a_block() {
        let page = "Au bon moulin SARL - 1242 chemin de l'olive - 84340 Malaucène - France\n +33  4 50 44 68 99\nFacture FA-2017-0010\n\nAdresse de livraison\n\nMa jolie boutique\n35 rue de la République\n69001 Lyon\nFrance\n +33  4 72 07 08 55\n Ma jolie boutique\nAlexandre Payet\n35 rue de la République\n69001 Lyon\nFrance\n\nDate de facture 13/11/2017";
        let inv = extract(&doc(&[page]), rules());
        let name = inv.customer.name.unwrap();
        assert_eq!(name.value, "Ma jolie boutique");
        // Read in the billing block, not under the delivery label.
        assert_eq!(name.evidence.locations[0].span.start, page.find(" Ma jolie").unwrap() + 1);
        // Named once, under the delivery label only: not the customer.
        let page = "Facture FA-1\nAdresse de livraison\nMa jolie boutique\n35 rue de la République\n69001 Lyon\nAutre Société\n1 rue X\n75001 Paris";
        assert!(extract(&doc(&[page]), rules()).customer.name.is_none());
    }

    #[test]
    fn supplier_name_from_the_capital_mention() {
        let d = doc(&[
            "69100 VILLEURBANNE\nFacture n° 123\nTotal 29,99 €\n\nFree SAS au capital de 3.441.812 Euros − B 421 938 861 RCS Paris",
        ]);
        let name = extract(&d, rules()).supplier.name.unwrap();
        assert_eq!(name.value, "Free");
        // Decorations, remarks, figures and dates are not the first line's name.
        let d = doc(&[
            "--- Non Food ---\n(Authorized Signatory)\nFebruary 17, 2026\nAcme beeswax 1.00 kg 42.00 $ 42.00\nAzure Interior\nInvoice INV/2023/001",
        ]);
        assert_eq!(extract(&d, rules()).supplier.name.unwrap().value, "Azure Interior");
        assert_eq!(name.evidence.method, Method::Pattern { rule: "supplier_name.legal_footer".into() });
    }

    #[test]
    fn gross_total_with_the_currency_inside_its_label() {
        let d = doc(&["Invoice 103767\n          Subtotal  573.00\n          Total € Incl. VAT  681.87"]);
        assert_eq!(extract(&d, rules()).gross_total.unwrap().value.to_string(), "681.87");
        // German: the gross "including 19 % tax".
        let d = doc(&[
            "Beitragsrechnung Nr. 1\nvierteljährlicher Beitrag inklusive 19 % Versicherungsteuer 220,00 €\nin diesem Beitrag enthaltene Versicherungsteuer  (35,13 €)",
        ]);
        assert_eq!(extract(&d, rules()).gross_total.unwrap().value.to_string(), "220.00");
    }

    #[test]
    fn currency_in_the_total_label_and_the_tax_contained_in_a_premium() {
        let d = doc(&["Invoice 103767\n          Subtotal  573.00\n          Total € Incl. VAT  681.87"]);
        let inv = extract(&d, rules());
        assert_eq!(inv.currency.as_ref().unwrap().value, "EUR");
        assert_eq!(at(&d, inv.currency.as_ref().unwrap()), "€");
        // Two currencies in the label name none.
        let d = doc(&["Invoice 1\nTotal € / $  681.87"]);
        let c = extract(&d, rules()).currency.unwrap();
        assert_ne!(c.evidence.method, Method::Pattern { rule: "currency.in_total_label".into() });
        // The tax contained in a gross premium, in parentheses: the VAT total; the net follows.
        let d = doc(&[
            "Beitragsrechnung Nr. 1\nvierteljährlicher Beitrag inklusive 19 % Versicherungsteuer   220,00 €\nin diesem Beitrag enthaltene Versicherungsteuer   (35,13 €)",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.vat_total.as_ref().unwrap().value.to_string(), "35.13");
        assert_eq!(inv.net_total.as_ref().unwrap().value.to_string(), "184.87");
    }

    #[test]
    fn german_title_number_and_date() {
        let d = doc(&["Handelsrechnung (380) 05.03.2018   Nr. 471102   vom\nWährung: EUR"]);
        let inv = extract(&d, rules());
        assert_eq!(inv.number.as_ref().unwrap().value, "471102");
        assert_eq!(inv.issue_date.as_ref().unwrap().value.to_string(), "2018-03-05");
        assert_eq!(inv.currency.as_ref().unwrap().value, "EUR");
        let d = doc(&[
            "Gutschrift (Selbst ausgestellte Rechnung) Nr.  471102 vom\n05.03.2018\nUSt.-Id.-Nr. : DE123456789",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.number.as_ref().unwrap().value, "471102");
        assert_eq!(inv.issue_date.as_ref().unwrap().value.to_string(), "2018-03-05");
        assert_eq!(inv.supplier.vat_id.as_ref().unwrap().value, "DE123456789");
        let d = doc(&["Rechnungskorrektur (384) 16.09.2018   Nr. RK21012345   vom"]);
        let inv = extract(&d, rules());
        assert_eq!(inv.number.as_ref().unwrap().value, "RK21012345");
        assert_eq!(inv.issue_date.as_ref().unwrap().value.to_string(), "2018-09-16");
        // "Rechnung gemäß Bestellung (Nr. …) vom …" is not the invoice date.
        let d = doc(&[
            "Rechnung gemäß Bestellung vom 01.03.2018.\nRechnung gemäß Bestellung Nr. 2018-471331 vom 01.03.2018.",
        ]);
        assert!(extract(&d, rules()).issue_date.is_none());
    }

    #[test]
    fn supplier_from_seller_section_and_sender_line() {
        let d = doc(&[
            "Beispiel-Rechnungen für ZUGFeRD 2.2, (c) FeRD 2022\nVerkäufer\nNummer: 549910\nName: Lieferant GmbH\nAnschrift: Lieferantenstraße 20\nKäufer/Leistungsempfänger\nName: Kunden AG Mitte",
        ]);
        let inv = extract(&d, rules());
        let n = inv.supplier.name.as_ref().unwrap();
        assert_eq!((n.value.as_str(), at(&d, n).as_str()), ("Lieferant GmbH", "Lieferant GmbH"));
        let d = doc(&[
            "Lieferant\n GLN 4333741000005 Lief-Nr: 549910\n MUSTERLIEFERANT GMBH\n BAHNHOFSTRASSE 99",
        ]);
        assert_eq!(extract(&d, rules()).supplier.name.unwrap().value, "MUSTERLIEFERANT GMBH");
        let d = doc(&[
            "Rechnung # RE-20140703/502 vom 03.07.2014\nSumme netto: 496,00 €\nBei Spiel GmbH    ●    Ecke 12    ●    12345 Stadthausen\nTheodor Est\nBahnstr. 42",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.supplier.name.as_ref().unwrap().value, "Bei Spiel GmbH");
        assert_eq!(inv.number.as_ref().unwrap().value, "RE-20140703/502");
        assert_eq!(inv.issue_date.as_ref().unwrap().value.to_string(), "2014-07-03");
        // A capital mention is not a sender line.
        let d = doc(&["ACME\nSarl au capital de 10 000€ - RCS Paris B 530 848 134 - Siret 53084813400017"]);
        assert_eq!(extract(&d, rules()).supplier.name.unwrap().value, "ACME");
        // A name with its legal form before a slogan on the first line; a title with a full stop.
        let d = doc(&["FACTUUR.\nDat betaal ik zelf wel.\n Coolblue B.V.\nWeena 664"]);
        let inv = extract(&d, rules());
        assert_eq!(inv.supplier.name.unwrap().value, "Coolblue B.V.");
        assert_eq!(inv.kind.unwrap().value, InvoiceKind::Invoice);
    }

    #[test]
    fn seller_section_joined_to_its_first_line_and_a_name_glued_to_the_street() {
        // The text layer joined the section label to its first labelled line, and the name to the
        // street; the payee's section below names another company.
        let d = doc(&[
            "Handelsrechnung  Nr.  471102  vom  05.03.2018\nVerkäufer:Nummer        :  549910\nGlobale Nummer:  4000001123452   ( GTIN )\nLieferant GmbHLieferantenstraße 20DE   80333   München\n\nKäufer:Nummer        :  GE2020211\nKunden AG MitteKundenstraße 15DE   69876   Frankfurt\n\nAbweichender Zahlungsempfänger:Nummer        :  4711\nFactoring GmbH",
        ]);
        let n = extract(&d, rules()).supplier.name.unwrap();
        assert_eq!((n.value.as_str(), at(&d, &n).as_str()), ("Lieferant GmbH", "Lieferant GmbH"));
        // A seller's label followed by a name and a contact is not a section start.
        let d = doc(&["Verkäufer: Max Muster Tel: 0123\nKunden AG Mitte"]);
        let n = extract(&d, rules()).supplier.name.unwrap();
        assert_ne!(n.evidence.method, Method::Layout { rule: "supplier_name.section".into() });
    }

    #[test]
    fn seller_iban_labels_grouping_and_bank_details() {
        let iban = |t: &str| extract(&doc(&[t]), rules()).iban.map(|g| g.value);
        // A seller's IBAN label glued to its party; grouped digits.
        assert_eq!(
            iban("Verkäufer-IBAN       :  DE12 1234 4321 9876 00").as_deref(),
            Some("DE1212344321987600")
        );
        assert_eq!(
            iban("Zahlungsempfänger IBAN: DE02120300000000202051").as_deref(),
            Some("DE02120300000000202051")
        );
        assert_eq!(
            iban("IBAN-Nr.:   DE08 7009 0100 1234 5678 90").as_deref(),
            Some("DE08700901001234567890")
        );
        // Printed with a wrong length or check digits: read as printed (the check flags it).
        assert_eq!(iban("Verkäufer-IBAN : DE5467894567876500").as_deref(), Some("DE5467894567876500"));
        // The buyer's account (a direct debit) is not where the invoice is paid.
        assert_eq!(iban("Käufer-IBAN :  DE21860000000086001055"), None);
        // Under a bank details label ending its line.
        assert_eq!(
            iban(
                "überweisen Sie bitte auf folgende Bankverbindung:\nDE75123456780000001234, BIC WELADED1MST"
            )
            .as_deref(),
            Some("DE75123456780000001234")
        );
        // A Norwegian IBAN after the label is not a "No." of the label.
        assert_eq!(iban("IBAN NO9386011117947").as_deref(), Some("NO9386011117947"));
    }

    #[test]
    fn due_dates_in_payment_sentences_and_under_column_headers() {
        let due = |t: &str| extract(&doc(&[t]), rules()).due_date.map(|g| g.value.to_string());
        assert_eq!(due("Please remit until 2019-07-01.").as_deref(), Some("2019-07-01"));
        assert_eq!(
            due("Der Betrag in Höhe von EUR 529,87 wird am 20.03.2014 von Ihrem Konto abgebucht.").as_deref(),
            Some("2014-03-20")
        );
        assert_eq!(due("Bitte überweisen Sie den Betrag bis zum 15.02.2024.").as_deref(), Some("2024-02-15"));
        assert_eq!(due("Fälligkeitsdatum: 9.12.2017").as_deref(), Some("2017-12-09"));
        assert_eq!(due("Montant à payer avant le 15/01/2025").as_deref(), Some("2025-01-15"));
        // Future instalments ("zu den Fälligkeiten …") are not this invoice's due date.
        assert_eq!(due("Wir würden dann zu den Fälligkeiten\n01.07.2014, 01.10.2014 abbuchen."), None);
        // A label glued to the next column's header by the text layer.
        assert_eq!(due("Beschreibung FälligkeitTeilzahlung\n04.04.2018").as_deref(), Some("2018-04-04"));
        // A date under its column header: the cell of the same rank, not the row's first date.
        assert_eq!(
            due("Invoice Date   Due Date   Amount\n01/02/2024   15/02/2024   100.00").as_deref(),
            Some("2024-02-15")
        );
        assert_eq!(
            due("Beschreibung   Fälligkeit   Teilzahlung\nDer Rechnungsbetrag wurde bereits beglichen.   03.10.2018")
                .as_deref(),
            Some("2018-10-03")
        );
        // A row missing a cell holding another date: which column is which cannot be told.
        assert_eq!(due("Kunde   Rechnungsdatum   Fälligkeit\n01.02.2024   15.02.2024"), None);
        // A row missing a cell whose cell under the label is not a date: its one date, when the
        // label's is the header's only date column.
        assert_eq!(
            due(
                "Your Reference   Salesperson   Due Date   Payment Terms\nDetlef Hembrock   March 3, 2026   14 days"
            )
            .as_deref(),
            Some("2026-03-03")
        );
        assert_eq!(
            due(
                "Your Reference   Order Date   Due Date   Payment Terms\nDetlef Hembrock   March 3, 2026   14 days"
            ),
            None
        );
        assert_eq!(due("Reference   Salesperson   Due Date   Terms\n12   March 3, 2026   May 3, 2026"), None);
        // A date ending a description wrapped over several lines, under its column header.
        assert_eq!(
            due("Beschreibung FälligkeitTeilzahlung\nZahlungsbedingungen: Der Rechnungsbetrag wurde bereits\nbeglichen. 03.10.2018\n\nZahlungsart:")
                .as_deref(),
            Some("2018-10-03")
        );
        assert_eq!(
            due("Beschreibung   Fälligkeit   Teilzahlung\nDer Rechnungsbetrag wurde bereits\n03.10.2018\nbeglichen.")
                .as_deref(),
            Some("2018-10-03")
        );
        // Not a date inside a sentence, nor one of two, nor under a sentence.
        assert_eq!(
            due("Beschreibung Fälligkeit Teilzahlung\nSkonto innerhalb 10 Tagen bis 15.06.2018"),
            None
        );
        assert_eq!(
            due("Beschreibung Fälligkeit Teilzahlung\nRate eins 04.07.2018, 3%\nSkonto 10 Tage. 15.06.2018"),
            None
        );
        assert_eq!(due("Der Betrag ist sofort fällig.\nWir danken. 03.10.2018"), None);
    }

    #[test]
    fn insurance_premium_and_insurance_tax_are_net_and_tax_totals() {
        let d = doc(&[
            "Beitragsrechnung\nGesamtbeitrag   1.000,00 €\nVersicherungsteuer zur Verbundenen Wohngebäudeversicherung   163,40 €\nRechnungsbetrag   1.163,40 €",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.net_total.unwrap().value.to_string(), "1000.00");
        assert_eq!(inv.vat_total.unwrap().value.to_string(), "163.40");
        assert_eq!(inv.gross_total.unwrap().value.to_string(), "1163.40");
        let d =
            doc(&["Gesamtbeitrag   50,00 €\nVersicherungsteuer 19 %   9,50 €\nRechnungsbetrag   59,50 €"]);
        assert_eq!(extract(&d, rules()).vat_total.unwrap().value.to_string(), "9.50");
    }

    #[test]
    fn supplier_name_before_a_joined_contact_label_not_a_bank_or_a_unit() {
        // The first line joined to the contact column; a bank's footer line; a weight in "KG".
        let d = doc(&[
            "Die Vordefinierte Firma Tel: +49 (030) 41092-0\nWaldstrasse 86-90 Fax: +49 (030) 41092-111\n13403 Berlin\n\nRechnung\n\nGross Weight 308,500 KG\n\nVolksbank Frankfurt · (BLZ 699 922 99) 50 4999 09 SWIFT DXXX DE 6K · Postbank",
        ]);
        assert_eq!(extract(&d, rules()).supplier.name.unwrap().value, "Die Vordefinierte Firma");
        // A legal form after a letter of several bytes.
        let d = doc(&["Rechnung\nMaison Café SARL"]);
        assert_eq!(extract(&d, rules()).supplier.name.unwrap().value, "Maison Café SARL");
        // A line of bank labels is not a name.
        let d = doc(&["Weltweit Bank  IBAN  SWIFT Code  Giro No.\nInvoice 103767"]);
        assert!(extract(&d, rules()).supplier.name.is_none_or(|n| !n.value.contains("IBAN")));
    }

    #[test]
    fn date_beside_a_contract_or_invoice_number_and_a_due_day() {
        let d = doc(&[
            "Beitragsrechnung zur Kraftfahrtversicherung Nr. 00.123.456.7   11. März 2014\nRechnungszeitraum: 01.04.2014 - 30.06.2014\nFälligkeitstag: 01.04.2014",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.issue_date.unwrap().value.to_string(), "2014-03-11");
        assert_eq!(inv.due_date.unwrap().value.to_string(), "2014-04-01");
        let d =
            doc(&["Sachversicherungsvertrag Nr: 00.123.456.7   18. April 2014\nGesamtbeitrag   1.000,00 €"]);
        assert_eq!(extract(&d, rules()).issue_date.unwrap().value.to_string(), "2014-04-18");
    }

    #[test]
    fn identifier_after_a_number_sign() {
        let d = doc(&["Invoice No : # BLR_WFLD20151000982590\nGrand Total Rs 319.00"]);
        let inv = extract(&d, rules());
        let n = inv.number.as_ref().unwrap();
        assert_eq!(
            (n.value.as_str(), at(&d, n).as_str()),
            ("BLR_WFLD20151000982590", "BLR_WFLD20151000982590")
        );
        assert_eq!(inv.currency.unwrap().value, "INR");
        let d = doc(&["Sammy Maystone\nINVOICE\n# invoice_number_1\nTotal: $127.50"]);
        assert_eq!(extract(&d, rules()).number.unwrap().value, "invoice_number_1");
        // A row number after "#" is not an invoice number.
        let d = doc(&["INVOICE\n# 1 Widget\nTotal: $12.00"]);
        assert!(extract(&d, rules()).number.is_none());
    }

    #[test]
    fn amount_past_a_footnote_mark_and_its_due_date() {
        let d = doc(&["Invoice Number: 42183017\nTOTAL AMOUNT DUE ON August 3 , 2014 $4.11\nTax * $0.00"]);
        let inv = extract(&d, rules());
        assert_eq!(inv.gross_total.unwrap().value.to_string(), "4.11");
        assert_eq!(inv.vat_total.unwrap().value.to_string(), "0.00");
        assert_eq!(inv.net_total.unwrap().value.to_string(), "4.11");
    }

    #[test]
    fn supplier_name_is_not_prose_a_table_header_or_a_remark() {
        for first in [
            "Our Olive Oil is delivered in a re-usable glass container",
            "Artikel Omschrijving Prijs BTW Hoeveelheid Bedrag",
            "manufacturer box for",
            "Kopie factuur",
        ] {
            let d = doc(&[&format!("{first}\nInvoice no: 12345\nTotal: $12.00")]);
            assert!(extract(&d, rules()).supplier.name.is_none(), "{first}");
        }
        // The seller's section past a remark; the seller's label with its name on one line.
        let d = doc(&[
            "All AWS Services are sold by Amazon Web Services, Inc.\n Service Provider:\n(Not to be used for payment remittance)\nAmazon Web Services, Inc.\n410 Terry Ave North",
        ]);
        assert_eq!(extract(&d, rules()).supplier.name.unwrap().value, "Amazon Web Services, Inc.");
        let d = doc(&[
            "Shipping Address\nA Customer\nWS Retail Services Pvt. Ltd., Sold By :\nInvoice No : 4711",
        ]);
        assert_eq!(extract(&d, rules()).supplier.name.unwrap().value, "WS Retail Services Pvt. Ltd.");
        // The name above a legal footer that does not name the company.
        let d = doc(&[
            "ALEXINUX\nFacture n° 2022089083\n NETPRESSE\nSiège social : 16 rue Mollien - 92100 BOULOGNE\nSarl au capital de 10 000€",
        ]);
        assert_eq!(extract(&d, rules()).supplier.name.unwrap().value, "NETPRESSE");
    }

    #[test]
    fn vat_id_under_the_first_column_header() {
        let vat = |t: &str| extract(&doc(&[t]), rules()).supplier.vat_id.map(|g| g.value);
        let t = "VAT Registration No.   Home Page   Phone No.   Email\nDE777777777   999 / 9 99 99 99   info@cronus.com";
        assert_eq!(vat(t).as_deref(), Some("DE777777777"));
        // Not under a later column of a row missing a cell, nor a cell that is not a VAT id.
        assert_eq!(vat("Home Page   VAT Registration No.   Email\nDE777777777   info@cronus.com"), None);
        assert_eq!(vat("VAT Registration No.   Home Page   Email\n999 / 9 99   info@cronus.com"), None);
    }

    #[test]
    fn dutch_vat_id_and_the_readers_own_vat_id() {
        let d = doc(&["Coolblue B.V.\nBTW NL810433941B01\nFactuurnummer: 993548900"]);
        assert_eq!(extract(&d, rules()).supplier.vat_id.unwrap().value, "NL810433941B01");
        let d = doc(&["NL810433941B01BTW\nFactuurnummer: 993548900"]);
        assert_eq!(extract(&d, rules()).supplier.vat_id.unwrap().value, "NL810433941B01");
        let d = doc(&["Factuur 4711\nUw BTW nummer: NL00333599698"]);
        let inv = extract(&d, rules());
        assert!(inv.supplier.vat_id.is_none());
        assert_eq!(inv.customer.vat_id.unwrap().value, "NL00333599698");
    }

    #[test]
    fn header_fields_in_a_grid_and_totals_in_a_table() {
        let d = doc(&[
            "Kopie factuur\nKlant   Order   Factuur datum   Factuur   Vervaldatum\n\nSCONL0303006280999   SCONL000000444   8-9-2022   VF1005193039   22-9-2022\n\nBTW %   Grondslag BTW bedrag   Totaal\n21 %   41,31   8,68   49,99\n41,31   8,68   49,99",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.number.unwrap().value, "VF1005193039");
        assert_eq!(inv.issue_date.unwrap().value.to_string(), "2022-09-08");
        assert_eq!(inv.due_date.unwrap().value.to_string(), "2022-09-22");
        assert_eq!(inv.net_total.unwrap().value.to_string(), "41.31");
        assert_eq!(inv.vat_total.unwrap().value.to_string(), "8.68");
        assert_eq!(inv.gross_total.unwrap().value.to_string(), "49.99");
        let d = doc(&[
            "Facture n°562044387 du 02 Juillet 2015\nDate limite de paiement le 05 Juillet 2015   29.99 € TTC\nMontant EUR HT   Montant TVA   Montant EUR TTC\n\nAbonnements   24.99   5.00   29.99\nCommunications   0.00   0.00   0.00\n\nTotal facture   24.99   5.00   29.99\nTVA 20% payée sur les encaissements   5.00",
        ]);
        let inv = extract(&d, rules());
        assert_eq!(inv.due_date.unwrap().value.to_string(), "2015-07-05");
        assert_eq!(inv.net_total.unwrap().value.to_string(), "24.99");
        assert_eq!(inv.gross_total.unwrap().value.to_string(), "29.99");
        // Two address blocks side by side, then a copy mark: the block ends there, and the grid
        // below it is the invoice's header, not the customer's.
        let d = doc(&[
            "Factuuradres   Afleveradres\n\nStrategic Corp   bosd\nT.a.v. bosd   Fakestreet 46\nFakestreet 46   3500 MJ Utrecht\n3500 MJ Utrecht   Nederland\nNederland\n\nKopie factuur\nKlant   Order   Factuur datum   Factuur   Vervaldatum\n\nSCONL0303006280999   SCONL000000444   8-9-2022   VF1005193039   22-9-2022",
        ]);
        assert_eq!(extract(&d, rules()).number.unwrap().value, "VF1005193039");
        // A row that does not add up is not a totals row.
        let d = doc(&["Invoice no: 12345\nNet   VAT   Gross\nTotal   10.00   2.00   13.00"]);
        assert!(extract(&d, rules()).net_total.is_none());
    }
}
