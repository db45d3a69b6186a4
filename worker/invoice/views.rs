//! The two views of a text-layer page and how the invoice stage uses them.
//!
//! A text-layer page has its stream text (`Page.text`, pdf-extract's content-stream order: every
//! evidence span indexes it) and, when intake laid it out, its reading-order text (`Page.layout`,
//! lines rebuilt from glyph positions like `pdftotext -layout`). Both hold the same glyphs, in
//! another order and spacing. A value read from the layout is grounded in the stream text by
//! [`map_span`] (the same characters, whitespace ignored); a value that cannot be grounded there
//! is not emitted.
//!
//! - invoice2data templates are written against `pdftotext -layout` text: they are matched and
//!   applied on the layout view ([`template_match`]), their evidence mapped back; a field the
//!   layout application misses (or cannot ground) is taken from the same template applied to the
//!   stream text.
//! - The template-free rules run on both views and are combined per field ([`combine`]).

use super::extract::extract_text;
use super::rules::InvoiceRules;
use super::templates::{Row, Template, TemplateMatch, best_match};
use super::{ExtractedInvoice, PartyFields};
use crate::document::{Document, Span};
use crate::evidence::{Evidence, Grounded, Location};
use rust_decimal::Decimal;

/// Non-white characters of layout context compared before a value.
const CONTEXT_BEFORE: usize = 32;
/// Non-white characters of layout context compared after a value.
const CONTEXT_AFTER: usize = 16;
/// Non-white characters of the label (the layout line before the value) looked for.
const LABEL: usize = 24;

/// The document as the layout view: each page's text is its `layout` when it has one (the
/// stream text otherwise: OCR pages). `None` when no page has a layout.
pub fn layout_view(doc: &Document) -> Option<Document> {
    if doc.pages.iter().all(|p| p.layout.is_none()) {
        return None;
    }
    let mut view = doc.clone();
    for p in &mut view.pages {
        if let Some(l) = p.layout.take() {
            p.text = l;
        }
    }
    Some(view)
}

/// The span of `stream` that holds the same characters as `span` of `layout`, whitespace
/// ignored (the layout and pdf-extract's stream order space words differently, and either may
/// split a word). When the characters occur several times, the occurrence chosen is, in order:
/// the one whose boundaries agree with the layout's (a value that starts a word in the layout
/// starts one in the stream), then the one preceded by the longest run of the same characters
/// as in the layout (the label, when the stream keeps it next to the value), then the one closest
/// after the label (the layout line's text before the value), then the one followed by the longest
/// run of the same characters, then the first. `None` when the span is empty, blank, not on char
/// boundaries or its characters are not in the stream text.
pub fn map_span(layout: &str, stream: &str, span: Span) -> Option<Span> {
    let value = layout.get(span.start..span.end)?;
    let needle: Vec<char> = value.chars().filter(|c| !c.is_whitespace()).collect();
    if needle.is_empty() {
        return None;
    }
    let squeezed: Vec<(usize, char)> = stream.char_indices().filter(|(_, c)| !c.is_whitespace()).collect();
    let chars: Vec<char> = squeezed.iter().map(|&(_, c)| c).collect();
    let n = needle.len();
    if chars.len() < n {
        return None;
    }
    let before = &layout[..span.start];
    let after = &layout[span.end..];
    let ctx_before: Vec<char> =
        before.chars().rev().filter(|c| !c.is_whitespace()).take(CONTEXT_BEFORE).collect();
    let ctx_after: Vec<char> = after.chars().filter(|c| !c.is_whitespace()).take(CONTEXT_AFTER).collect();
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let starts_word = !word(before.chars().next_back());
    let ends_word = !word(after.chars().next());
    // The label: what precedes the value on its layout line.
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let mut label: Vec<char> = line.chars().rev().filter(|c| !c.is_whitespace()).take(LABEL).collect();
    label.reverse();
    let label_ends: Vec<usize> = if label.is_empty() {
        Vec::new()
    } else {
        chars
            .windows(label.len())
            .enumerate()
            .filter(|(_, w)| *w == label.as_slice())
            .map(|(i, _)| i + label.len())
            .collect()
    };

    // (boundaries that disagree, context before, closeness to the label, context after)
    type Rank = (u8, usize, std::cmp::Reverse<usize>, usize);
    let mut best: Option<(Rank, Span)> = None;
    for p in chars.windows(n).enumerate().filter(|(_, w)| *w == needle.as_slice()).map(|(p, _)| p) {
        let start = squeezed[p].0;
        let (last_at, last) = squeezed[p + n - 1];
        let end = last_at + last.len_utf8();
        let boundaries = u8::from(starts_word != word(stream[..start].chars().next_back()))
            + u8::from(ends_word != word(stream[end..].chars().next()));
        let same_before = ctx_before.iter().zip(chars[..p].iter().rev()).take_while(|(a, b)| a == b).count();
        let from_label = label_ends.iter().filter(|&&e| e <= p).map(|&e| p - e).min().unwrap_or(usize::MAX);
        let same_after = ctx_after.iter().zip(&chars[p + n..]).take_while(|(a, b)| a == b).count();
        let key = (boundaries, same_before, std::cmp::Reverse(from_label), same_after);
        if best.as_ref().is_none_or(|(k, _)| key > *k) {
            best = Some((key, Span { start, end }));
        }
    }
    best.map(|(_, s)| s)
}

/// A location of the layout view, grounded in the document's stream text.
pub fn ground_location(doc: &Document, loc: &Location) -> Option<Location> {
    let page = doc.pages.get((loc.page as usize).checked_sub(1)?)?;
    let Some(layout) = &page.layout else {
        // A page without a layout reads the same in both views.
        return Location::of(doc, loc.page, loc.span);
    };
    Location::of(doc, loc.page, map_span(layout, &page.text, loc.span)?)
}

/// Evidence of the layout view, every location grounded in the stream text; `None` when one of
/// them cannot be.
pub fn ground_evidence(doc: &Document, ev: &Evidence) -> Option<Evidence> {
    let locations = ev.locations.iter().map(|l| ground_location(doc, l)).collect::<Option<Vec<_>>>()?;
    Some(Evidence { locations, ..ev.clone() })
}

fn ground<T: Clone>(doc: &Document, g: &Option<Grounded<T>>) -> Option<Grounded<T>> {
    let g = g.as_ref()?;
    Some(Grounded { value: g.value.clone(), evidence: ground_evidence(doc, &g.evidence)? })
}

/// A template match on the layout view with its evidence grounded in the stream text: fields
/// and row values that cannot be grounded are dropped; `None` when no keyword can be grounded.
pub fn ground_template(doc: &Document, m: TemplateMatch) -> Option<TemplateMatch> {
    let keyword_locations: Vec<Location> =
        m.keyword_evidence.locations.iter().filter_map(|l| ground_location(doc, l)).collect();
    if keyword_locations.is_empty() && !m.keyword_evidence.locations.is_empty() {
        return None;
    }
    let keyword_evidence = Evidence { locations: keyword_locations, ..m.keyword_evidence };
    let fields = m
        .fields
        .into_iter()
        .filter_map(|(name, v, ev)| Some((name, v, ground_evidence(doc, &ev)?)))
        .collect();
    let lines = m
        .lines
        .into_iter()
        .map(|(name, rows)| {
            let rows = rows
                .into_iter()
                .map(|r| Row {
                    fields: r
                        .fields
                        .into_iter()
                        .filter_map(|(n, v, locs)| {
                            let locs =
                                locs.iter().map(|l| ground_location(doc, l)).collect::<Option<Vec<_>>>()?;
                            Some((n, v, locs))
                        })
                        .collect(),
                })
                .collect();
            (name, rows)
        })
        .collect();
    Some(TemplateMatch { fields, lines, keyword_evidence, ..m })
}

/// The supplier template that applies, the way invoice2data applies it: keywords matched and
/// fields read on the reading-order text when the document has one (its evidence grounded in
/// the stream text); a field the layout application does not give (not found, or not
/// groundable) is taken from the same template applied to the stream text, and so are the line
/// items when the layout gives none. Without a layout, or when no template matches the layout
/// view, the match on the stream text.
pub fn template_match(templates: &[Template], doc: &Document) -> Option<TemplateMatch> {
    let on_stream = best_match(templates, doc);
    let Some(view) = layout_view(doc) else { return on_stream };
    // The template whose keywords the layout shows; else the one the stream text shows (a
    // keyword may be spaced apart in the layout, "K lantnummer"), read on the layout all the same
    // with the stream's keyword evidence.
    let on_layout = best_match(templates, &view).and_then(|m| ground_template(doc, m)).or_else(|| {
        let s = on_stream.as_ref()?;
        let t = templates.iter().find(|t| t.name == s.template)?;
        let m = ground_template(doc, t.read_matched(&view))?;
        Some(TemplateMatch { keyword_evidence: s.keyword_evidence.clone(), ..m })
    });
    let Some(mut m) = on_layout else {
        return on_stream;
    };
    if let Some(s) = on_stream.filter(|s| s.template == m.template) {
        let rows = |lines: &[(String, Vec<Row>)]| lines.iter().map(|(_, r)| r.len()).sum::<usize>();
        if rows(&m.lines) == 0 && rows(&s.lines) > 0 {
            m.lines = s.lines;
        }
        for f in s.fields {
            if !m.fields.iter().any(|g| g.0 == f.0) {
                m.fields.push(f);
            }
        }
    }
    Some(m)
}

/// The template-free extraction on both views, combined per field ([`combine`]). Without a
/// layout, the stream extraction alone.
pub fn extract_both(doc: &Document, rules: &InvoiceRules) -> ExtractedInvoice {
    let stream = extract_text(doc, rules);
    let Some(view) = layout_view(doc) else { return stream };
    let layout = extract_text(&view, rules);
    combine(doc, stream, &layout)
}

/// One value out of the stream view's and the layout view's: the stream's when it found one
/// (equal values or not), else the layout's grounded in the stream text.
fn either<T: Clone + PartialEq>(
    doc: &Document,
    stream: Option<Grounded<T>>,
    layout: &Option<Grounded<T>>,
) -> Option<Grounded<T>> {
    match stream {
        Some(s) => Some(s),
        None => ground(doc, layout),
    }
}

/// The combination of the stream view's extraction and the layout view's (`layout`, evidence
/// still in the layout text; it is grounded in the stream text here, and a value that cannot be
/// is dropped). Per field:
/// - same value, or found in one view only → that value (the stream's evidence when both);
/// - different values: for the net, VAT and gross totals, the combination of the two views'
///   values for which net + VAT = gross holds (EN 16931 BR-CO-15), with as many stream values
///   as possible; when none holds, the stream's values. For every other field, the stream's.
///
/// The invoice's kind, party names found by both views and addresses, VAT breakdown, lines, flags
/// and extra fields are the stream view's; a party's country follows its VAT number.
pub fn combine(doc: &Document, stream: ExtractedInvoice, layout: &ExtractedInvoice) -> ExtractedInvoice {
    let mut inv = stream;
    let (net, vat, gross) = totals(
        doc,
        [inv.net_total.take(), inv.vat_total.take(), inv.gross_total.take()],
        [&layout.net_total, &layout.vat_total, &layout.gross_total],
    );
    inv.net_total = net;
    inv.vat_total = vat;
    inv.gross_total = gross;
    inv.amount_due = either(doc, inv.amount_due.take(), &layout.amount_due);
    inv.number = either(doc, inv.number.take(), &layout.number);
    inv.issue_date = either(doc, inv.issue_date.take(), &layout.issue_date);
    inv.due_date = either(doc, inv.due_date.take(), &layout.due_date);
    inv.payment_terms = either(doc, inv.payment_terms.take(), &layout.payment_terms);
    inv.order_number = either(doc, inv.order_number.take(), &layout.order_number);
    inv.currency = either(doc, inv.currency.take(), &layout.currency);
    inv.iban = either(doc, inv.iban.take(), &layout.iban);
    inv.bic = either(doc, inv.bic.take(), &layout.bic);
    party(doc, &mut inv.supplier, &layout.supplier);
    party(doc, &mut inv.customer, &layout.customer);
    inv
}

fn party(doc: &Document, p: &mut PartyFields, layout: &PartyFields) {
    // The name found by both views stays the stream view's: the name rules read line structure
    // (first line, the line under a label) that the layout changes where columns share a line
    // (docs/layout.md). Only where the stream joined the next line or another column to it does
    // the layout's name shorten it.
    if let (Some(s), Some(l)) = (&p.name, &layout.name)
        && let Some(cut) = cut_to_layout(doc, s, &l.value)
    {
        p.name = Some(cut);
    }
    // A name only the layout view finds (the window address under the sender line, where the
    // stream put the sender's column between them) is taken as the other fields' are.
    p.name = either(doc, p.name.take(), &layout.name);
    p.siren = either(doc, p.siren.take(), &layout.siren);
    p.siret = either(doc, p.siret.take(), &layout.siret);
    if p.vat_id.is_none()
        && let Some(v) = ground(doc, &layout.vat_id)
    {
        p.vat_id = Some(v);
        p.country = ground(doc, &layout.country).or(p.country.take());
    }
}

/// The stream's name cut where the layout's ends, when the layout's name (its first column: the
/// layout puts three spaces between columns) is a strict beginning of the stream's, whitespace
/// ignored: the stream joined the next line or another column's cell to the name ("Kunden AG
/// MitteKundenstraße 15DE 69876 Frankfurt", the layout reading "Kunden AG Mitte" on its own line).
/// `None` otherwise, or when the stream's name is not one span of the page printed as read.
fn cut_to_layout(doc: &Document, stream: &Grounded<String>, layout: &str) -> Option<Grounded<String>> {
    let first = layout.split(crate::intake::pdf::layout::COLUMN_GAP).next()?.trim();
    if first.chars().filter(|c| c.is_alphabetic()).count() < 2 {
        return None;
    }
    let [loc] = stream.evidence.locations.as_slice() else { return None };
    if loc.text != stream.value {
        return None;
    }
    let mut needle = first.chars().filter(|c| !c.is_whitespace()).peekable();
    let mut end = None;
    for (i, c) in stream.value.char_indices() {
        if c.is_whitespace() {
            continue;
        }
        // The needle is never empty here: it has letters, and the loop ends with its last one.
        if needle.next() != Some(c) {
            return None;
        }
        if needle.peek().is_none() {
            end = Some(i + c.len_utf8());
            // The rest must hold more than whitespace.
            if stream.value[end?..].trim().is_empty() {
                return None;
            }
            break;
        }
    }
    let value = stream.value[..end?].trim_end();
    let span = Span { start: loc.span.start, end: loc.span.start + value.len() };
    let location = Location::of(doc, loc.page, span)?;
    Some(Grounded {
        value: value.to_string(),
        evidence: Evidence { locations: vec![location], ..stream.evidence.clone() },
    })
}

type Amount = Option<Grounded<Decimal>>;

/// Net, VAT and gross totals out of both views' (BR-CO-15 first, then the stream's).
fn totals(doc: &Document, stream: [Amount; 3], layout: [&Amount; 3]) -> (Amount, Amount, Amount) {
    // Each total's choices: the stream's value, and the layout's when it differs.
    let mut choices: Vec<Vec<(bool, Amount)>> = stream
        .into_iter()
        .zip(layout)
        .map(|(s, l)| {
            let l = ground(doc, l);
            match (s, l) {
                (Some(s), Some(l)) if s.value != l.value => vec![(true, Some(s)), (false, Some(l))],
                (Some(s), _) => vec![(true, Some(s))],
                (None, l) => vec![(false, l)],
            }
        })
        .collect();
    let mut best: Option<(usize, [usize; 3])> = None;
    for a in 0..choices[0].len() {
        for b in 0..choices[1].len() {
            for c in 0..choices[2].len() {
                let (net, vat, gross) = (&choices[0][a], &choices[1][b], &choices[2][c]);
                let holds = match (&net.1, &vat.1, &gross.1) {
                    (Some(n), Some(v), Some(g)) => n.value + v.value == g.value,
                    _ => false,
                };
                let from_stream = [net.0, vat.0, gross.0].iter().filter(|s| **s).count();
                if holds && best.is_none_or(|(k, _)| from_stream > k) {
                    best = Some((from_stream, [a, b, c]));
                }
            }
        }
    }
    // None holds: the first choice of each (the stream's value when there is one).
    let [a, b, c] = best.map_or([0, 0, 0], |(_, i)| i);
    let mut pick = |i: usize, j: usize| choices[i][j].1.take();
    (pick(0, a), pick(1, b), pick(2, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(layout: &str, stream: &str, value: &str, nth: usize) -> Option<&'static str> {
        let start = layout.match_indices(value).nth(nth).expect("value in layout").0;
        let s = map_span(layout, stream, Span { start, end: start + value.len() })?;
        Some(Box::leak(stream[s.start..s.end].to_string().into_boxed_str()))
    }

    fn at(layout: &str, stream: &str, value: &str, nth: usize) -> Option<usize> {
        let start = layout.match_indices(value).nth(nth).expect("value in layout").0;
        map_span(layout, stream, Span { start, end: start + value.len() }).map(|s| s.start)
    }

    #[test]
    fn keywords_only_the_stream_shows_still_read_the_layout() {
        // The layout spaces the keyword apart ("K lantnummer"); the stream text separates "BTW"
        // from its value. The template matched on the stream is read on the layout, its values
        // grounded in the stream text, with the stream's keyword evidence.
        let mut d = crate::invoice::extract::tests::doc(&[
            "Klantnummer: 6669263\nBTW\nIBAN NL50INGB0683251309\nNL810433941B01",
        ]);
        d.pages[0].layout = Some("K lantnummer: 6669263\nBTW NL810433941B01\nIBAN NL50INGB0683251309".into());
        let y = "issuer: Coolblue\nkeywords: [Klantnummer]\nfields:\n  vat: BTW\\s+((?:BE|NL)\\w+)\n";
        let t = crate::invoice::templates::parse("nl.be.coolblue.yml", y).unwrap();
        let m = template_match(&[t], &d).expect("matched on the stream");
        let (_, v, ev) = m.fields.iter().find(|f| f.0 == "vat").expect("vat read on the layout");
        assert_eq!(*v, crate::invoice::templates::TemplateValue::Text("NL810433941B01".into()));
        let loc = &ev.locations[0];
        assert_eq!(&d.pages[0].text[loc.span.start..loc.span.end], "NL810433941B01");
        assert_eq!(m.keyword_evidence.locations[0].text, "Klantnummer");
    }

    #[test]
    fn same_characters_in_another_spacing() {
        let layout = "Rechnungsbetrag   1.589,80\nIBAN: DE34 5019 0000";
        let stream = "IBAN:\nDE34 50 19 0000\nRechnungs betrag\n1.5 89,80";
        assert_eq!(map(layout, stream, "1.589,80", 0), Some("1.5 89,80"));
        assert_eq!(map(layout, stream, "DE34 5019 0000", 0), Some("DE34 50 19 0000"));
        // An in-word space of the layout that the stream does not have.
        assert_eq!(map("Total   1 589,80", "Total 1589,80", "1 589,80", 0), Some("1589,80"));
    }

    #[test]
    fn not_found_or_blank_is_none() {
        assert_eq!(map("Total   12,00", "Total 13,00", "12,00", 0), None);
        assert_eq!(map_span("a   b", "a b", Span { start: 1, end: 4 }), None);
        assert_eq!(map_span("abc", "abc", Span { start: 2, end: 9 }), None);
        assert_eq!(map_span("été", "été", Span { start: 1, end: 2 }), None);
    }

    #[test]
    fn repeated_values_follow_their_label() {
        // 100,00 is both the net total and a line amount; the stream keeps each label by its value.
        let layout = "Article A   100,00\nTotal HT   100,00\nTotal TTC   120,00";
        let stream = "Total HT 100,00\nArticle A 100,00\nTotal TTC 120,00";
        assert_eq!(at(layout, stream, "100,00", 1), Some(9));
        assert_eq!(at(layout, stream, "100,00", 0), stream.find("A 100,00").map(|i| i + 2));
        // The stream puts labels and values apart: the occurrence closest after the label wins.
        let stream = "Article A\n100,00\nFoo\nTotal HT\nTotal TTC\n100,00\n120,00";
        assert_eq!(at(layout, stream, "100,00", 1), stream.rfind("100,00"));
    }

    /// `value` grounded at the first `printed` of `text` (page 1).
    fn grounded_at<T>(text: &str, printed: &str, value: T) -> Grounded<T> {
        let start = text.find(printed).expect("printed");
        let locations = vec![Location {
            page: 1,
            span: Span { start, end: start + printed.len() },
            text: printed.to_string(),
            bbox: None,
        }];
        let method = crate::evidence::Method::Layout { rule: "test".into() };
        Grounded { value, evidence: Evidence { locations, method, confidence: 0.8 } }
    }

    /// An amount grounded at the first `printed` of `text` (page 1).
    fn amount(text: &str, printed: &str, value: &str) -> Option<Grounded<Decimal>> {
        Some(grounded_at(text, printed, value.parse().unwrap()))
    }

    #[test]
    fn the_layout_cuts_a_name_the_stream_joined_to_the_next_line() {
        let stream =
            "Käufer:Nummer        :  GE2020211\nKunden AG MitteKundenstraße 15DE   69876   Frankfurt\n";
        let mut d = crate::invoice::extract::tests::doc(&[stream]);
        d.pages[0].layout = Some(
            "Käufer:\nNummer :   GE2020211\nKunden AG Mitte\nKundenstraße 15\nDE   69876   Frankfurt\n"
                .into(),
        );
        let name = extract_both(&d, crate::invoice::extract::tests::rules()).customer.name.unwrap();
        assert_eq!(name.value, "Kunden AG Mitte");
        assert_eq!(name.evidence.locations[0].text, "Kunden AG Mitte");
        assert_eq!(name.evidence.locations[0].span.start, stream.find("Kunden AG").unwrap());
        // Not cut where the layout's name is not the beginning of the stream's, nor equal.
        let g = |v: &str| text_at(stream, v);
        assert!(cut_to_layout(&d, &g("Kunden AG MitteKundenstraße 15DE"), "Kunden AG Mitte").is_some());
        assert!(cut_to_layout(&d, &g("Kunden AG MitteKundenstraße 15DE"), "Kunden AG Mitte   EUR").is_some());
        assert!(cut_to_layout(&d, &g("Kunden AG Mitte"), "Kunden AG Mitte").is_none());
        assert!(cut_to_layout(&d, &g("Kunden AG MitteKundenstraße 15DE"), "Kundenstraße 15").is_none());
    }

    #[test]
    fn a_name_only_the_layout_finds_is_taken() {
        // The stream puts the sender's address column between the sender line and the window
        // address; the layout puts only the sender's website there.
        let stream = "Kraxi GmbH · Flugzeugallee 17 · 12345 Papierfeld · Deutschland\n Flugzeugallee 17\n12345 Papierfeld\nDeutschland\n\nPapierflieger-Vertriebs-GmbH\nHelga Musterfrau\nRabattstr. 25\n34567 Osterhausen\n\nRechnungsnummer: 2014-03\n";
        let layout = "Kraxi GmbH · Flugzeugallee 17 · 12345 Papierfeld · Deutschland   info@kraxi.com\nwww.kraxi.com\nPapierflieger-Vertriebs-GmbH\nHelga Musterfrau\nRabattstr. 25\n34567 Osterhausen\n\nRechnungsnummer: 2014-03\n";
        let mut d = crate::invoice::extract::tests::doc(&[stream]);
        let rules = crate::invoice::extract::tests::rules();
        assert!(extract_text(&d, rules).customer.name.is_none());
        d.pages[0].layout = Some(layout.into());
        let name = extract_both(&d, rules).customer.name.unwrap();
        assert_eq!(name.value, "Papierflieger-Vertriebs-GmbH");
        assert_eq!(name.evidence.locations[0].span.start, stream.find("Papierflieger").unwrap());
    }

    /// A text grounded at the first `printed` of `text` (page 1).
    fn text_at(text: &str, printed: &str) -> Grounded<String> {
        grounded_at(text, printed, printed.to_string())
    }

    #[test]
    fn totals_combine_by_br_co_15_then_stream() {
        use crate::invoice::extract::tests::{doc, rules};
        let stream = "Total HT Total TVA Total TTC\n100,00\n20,00\n150,00\nNet à payer\n120,00\nRIB 77,00";
        let layout = "Total HT   100,00\nTotal TVA   20,00\nTotal TTC   120,00\nNet à payer   150,00";
        let mut d = doc(&[stream]);
        d.pages[0].layout = Some(layout.to_string());
        let empty = extract_text(&doc(&[""]), rules());
        let with = |net: &str, vat: &str, gross: &str, text: &str| {
            let mut inv = empty.clone();
            inv.net_total = amount(text, net, &net.replace(',', "."));
            inv.vat_total = amount(text, vat, &vat.replace(',', "."));
            inv.gross_total = amount(text, gross, &gross.replace(',', "."));
            inv
        };
        // The views disagree on the gross: the layout's makes net + VAT = gross, grounded in the
        // stream text where those characters are.
        let c = combine(
            &d,
            with("100,00", "20,00", "150,00", stream),
            &with("100,00", "20,00", "120,00", layout),
        );
        let g = c.gross_total.unwrap();
        assert_eq!(g.value.to_string(), "120.00");
        assert_eq!(g.evidence.locations[0].span.start, stream.find("120,00").unwrap());
        assert_eq!(g.evidence.locations[0].text, "120,00");
        assert_eq!(c.net_total.unwrap().evidence.locations[0].span.start, stream.find("100,00").unwrap());
        // Neither combination holds: the stream's values.
        let c = combine(
            &d,
            with("100,00", "20,00", "150,00", stream),
            &with("100,00", "20,00", "150,00", layout),
        );
        assert_eq!(c.gross_total.unwrap().value.to_string(), "150.00");
        let mut l = with("100,00", "20,00", "120,00", layout);
        l.gross_total.as_mut().unwrap().value = "77.00".parse().unwrap();
        let c = combine(&d, with("100,00", "20,00", "150,00", stream), &l);
        assert_eq!(c.gross_total.unwrap().value.to_string(), "150.00");
        // Found on the layout only: taken when it can be grounded, dropped when it cannot.
        let mut s = with("100,00", "20,00", "150,00", stream);
        s.gross_total = None;
        let c = combine(&d, s.clone(), &with("100,00", "20,00", "120,00", layout));
        assert_eq!(c.gross_total.unwrap().evidence.locations[0].text, "120,00");
        let mut l = with("100,00", "20,00", "120,00", layout);
        d.pages[0].text = stream.replace("120,00", "121,00");
        l.net_total = None;
        let c = combine(&d, s, &l);
        assert!(c.gross_total.is_none());
        assert_eq!(c.net_total.unwrap().value.to_string(), "100.00");
    }

    #[test]
    fn word_boundaries_come_first() {
        // 5,00 inside 15,00 is not the value when a standalone 5,00 is there.
        let layout = "Port   5,00";
        let stream = "Total 15,00\nPort\n5,00";
        assert_eq!(at(layout, stream, "5,00", 0), stream.rfind("5,00"));
        // Only inside another number: still the same characters (the stream may glue words).
        assert_eq!(map(layout, "Total 15,00", "5,00", 0), Some("5,00"));
    }
}
