//! Segmentation of a contract into its articles and clauses.
//!
//! The page texts are read as a sequence of lines (a run of three or more spaces also ends a
//! line: flattened texts such as CUAD's keep paragraphs apart that way). Running headers and
//! footers (lines repeated at the top or bottom of several pages, "Page x/y", "Paraphes",
//! "Confidential") and tables of contents are set aside; headings are recognised in French and
//! English numbering ("Article 1 – Objet", "ARTICLE 2. DURÉE", "1. PURPOSE", "Section 3.",
//! "Clause 7 –"), sub-clauses as "12.3" or "(b)". A clause runs from its heading to the next one,
//! across pages, and ends before the signature block or the annexes.

use crate::document::{Document, Span};
use crate::evidence::Location;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// One line of a page: its text (trimmed) and where it sits.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    pub page: u32,
    pub span: Span,
    pub text: &'a str,
    /// A blank line (or the start of the page) comes before it.
    pub after_blank: bool,
    pub noise: bool,
}

/// A part of a clause's text on one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Piece {
    pub page: u32,
    pub span: Span,
}

/// A sub-clause ("2.1", "3(b)"): its number and where its text is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubClause {
    pub number: String,
    pub page: u32,
    pub locations: Vec<Location>,
}

/// How a clause's heading was numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Numbering {
    /// "Article 1", "Section 1", "Clause 1" (the keyword is in `reference`).
    Keyword,
    /// "1.", "1)".
    Plain,
}

/// One article or top-level clause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clause {
    /// How the contract cites it: "Article 2", "Section 3", "Clause 7", or "2" for plain numbers.
    pub reference: String,
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    /// The page its heading is on.
    pub page: u32,
    /// The heading line as printed.
    pub heading_location: Location,
    /// The body, one location per page it covers (running headers and footers left out).
    pub locations: Vec<Location>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subclauses: Vec<SubClause>,
}

impl Clause {
    /// Heading and body text, joined by newlines (what rules and models read).
    pub fn text(&self) -> String {
        let mut s = String::new();
        if let Some(h) = &self.heading {
            s.push_str(h);
            s.push('\n');
        }
        for (i, l) in self.locations.iter().enumerate() {
            if i > 0 {
                s.push('\n');
            }
            s.push_str(&l.text);
        }
        s
    }
}

/// The contract cut into its parts: the text before the first clause (title, parties, recitals)
/// and the clauses.
#[derive(Debug, Clone, Default)]
pub struct Segmented {
    pub preamble: Vec<Piece>,
    pub clauses: Vec<Clause>,
}

static RE_KEYWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?P<kw>Article|ARTICLE|Art\.|ART\.|Section|SECTION|Clause|CLAUSE)\s+(?P<num>\d{1,3}(?:\.\d{1,3})*|[IVXLC]{1,6}|premier|PREMIER|1er|1ER)(?P<letter>\([a-z]\))?\.?(?:\s*[-–—:.)]\s*|\s+|$)(?P<rest>.*)$",
    )
    .unwrap()
});
static RE_PLAIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<num>\d{1,3})[.)]\s+(?P<rest>\S.*)$").unwrap());
static RE_SUB: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?P<num>\d{1,3}(?:\.\d{1,3})+)\.?\s+(?P<rest>\S.*)$").unwrap());
static RE_LETTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\((?P<l>[a-z]|[ivx]{1,4})\)\s+(?P<rest>\S.*)$").unwrap());
static RE_NOISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^(?:
            (?:page|p\.)\s*\d+\s*(?:/|of|sur|de)\s*\d+.*
          | (?:page|p\.)\s*\d+
          | -?\s*\d{1,4}\s*-?
          | \d+\s*/\s*\d+
          | paraphes?\b.*
          | initials?\s*:.*
          | (?:strictly\s+)?confidential
          | confidentiel(?:le)?
        )$",
    )
    .unwrap()
});
static RE_TOC_TITLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:sommaire|table des mati[eè]res|table of contents|contents|index)\s*:?$").unwrap()
});
static RE_TOC_ENTRY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\.{3,}|…+|\s{2,}|\t)\s*\d{1,3}$").unwrap());
static RE_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:Fait à |Fait en \w+ exemplaires|IN WITNESS WHEREOF|In witness whereof|Signed by the duly|Signed for and on behalf|SIGNATURES?$|Signatures?$|(?:ANNEXE|Annexe|SCHEDULE|Schedule|EXHIBIT|Exhibit|APPENDIX|Appendix)\s+(?:\d+|[A-Z]|[IVX]+)\b\s*[-–—:.]?\s*\S*.{0,60}$)",
    )
    .unwrap()
});

/// Splits the page texts into lines (trimmed, with offsets), marking running headers/footers and
/// table-of-contents lines as noise.
pub fn lines(doc: &Document) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for page in &doc.pages {
        let text = page.text.as_str();
        let mut after_blank = true;
        let mut start = 0usize;
        for raw in text.split_inclusive('\n') {
            let line_end = start + raw.len();
            let body = raw.strip_suffix('\n').unwrap_or(raw);
            // Soft breaks: runs of 3+ spaces split a physical line.
            let mut pos = 0usize;
            let bytes = body.as_bytes();
            let mut seg_start = 0usize;
            let mut pieces: Vec<(usize, usize, bool)> = Vec::new();
            while pos < bytes.len() {
                if bytes[pos] == b' ' {
                    let mut e = pos;
                    while e < bytes.len() && bytes[e] == b' ' {
                        e += 1;
                    }
                    if e - pos >= 3 {
                        pieces.push((seg_start, pos, true));
                        seg_start = e;
                    }
                    pos = e;
                } else {
                    pos += 1;
                }
            }
            pieces.push((seg_start, bytes.len(), false));
            for (i, (s, e, _)) in pieces.iter().enumerate() {
                let seg = &body[*s..*e];
                let lead = seg.len() - seg.trim_start().len();
                let t = seg.trim();
                if t.is_empty() {
                    if i == 0 && pieces.len() == 1 {
                        after_blank = true;
                    }
                    continue;
                }
                let abs = start + s + lead;
                out.push(Line {
                    page: page.number,
                    span: Span { start: abs, end: abs + t.len() },
                    text: t,
                    // A soft break counts as a paragraph break.
                    after_blank: after_blank || i > 0,
                    noise: false,
                });
                after_blank = false;
            }
            start = line_end;
        }
    }
    mark_noise(doc, &mut out);
    out
}

fn shape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    let mut last_space = false;
    for c in s.chars() {
        let c = if c.is_ascii_digit() { '#' } else { c.to_lowercase().next().unwrap_or(c) };
        if c.is_whitespace() {
            if !last_space {
                o.push(' ');
            }
            last_space = true;
        } else {
            o.push(c);
            last_space = false;
        }
    }
    o
}

fn mark_noise(doc: &Document, lines: &mut [Line<'_>]) {
    let pages = doc.pages.len();
    // Lines repeated at the top or the bottom of several pages.
    if pages >= 2 {
        let mut seen: HashMap<String, HashSet<u32>> = HashMap::new();
        let mut edges: Vec<usize> = Vec::new();
        for p in &doc.pages {
            let idx: Vec<usize> =
                lines.iter().enumerate().filter(|(_, l)| l.page == p.number).map(|(i, _)| i).collect();
            let n = idx.len();
            for (k, &i) in idx.iter().enumerate() {
                if k < 3 || k + 4 > n {
                    edges.push(i);
                    seen.entry(shape(lines[i].text)).or_default().insert(p.number);
                }
            }
        }
        let need = if pages <= 3 { 2 } else { pages.div_ceil(2) };
        for i in edges {
            let sh = shape(lines[i].text);
            if seen.get(&sh).is_some_and(|s| s.len() >= need) && lines[i].text.chars().count() >= 3 {
                lines[i].noise = true;
            }
        }
    }
    for l in lines.iter_mut() {
        if RE_NOISE.is_match(l.text) {
            l.noise = true;
        }
    }
    // Tables of contents: after a title, entries ending with a page number; and anywhere, lines
    // with leader dots ending with a number.
    let mut in_toc = false;
    for l in lines.iter_mut() {
        if RE_TOC_TITLE.is_match(l.text) {
            in_toc = true;
            l.noise = true;
            continue;
        }
        let entry = RE_TOC_ENTRY.is_match(l.text) || l.text.ends_with(|c: char| c.is_ascii_digit()) && in_toc;
        if in_toc {
            if entry || l.noise {
                l.noise = true;
                continue;
            }
            in_toc = false;
        }
        if l.text.contains("....") && RE_TOC_ENTRY.is_match(l.text) {
            l.noise = true;
        }
    }
}

/// Does the text after a number look like a heading (rather than a sentence that happens to
/// start with "Section 3 shall…")?
fn heading_like(rest: &str) -> bool {
    let r = rest.trim();
    if r.is_empty() {
        return true;
    }
    let first = r.chars().next().unwrap();
    if first.is_lowercase() {
        return false;
    }
    r.chars().count() <= 120 && !r.ends_with(',') && !r.ends_with(';')
}

fn upper_ratio(s: &str) -> f32 {
    let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.is_empty() {
        return 0.0;
    }
    letters.iter().filter(|c| c.is_uppercase()).count() as f32 / letters.len() as f32
}

fn roman(s: &str) -> Option<u32> {
    let mut total = 0u32;
    let mut prev = 0u32;
    for c in s.chars().rev() {
        let v = match c {
            'I' => 1,
            'V' => 5,
            'X' => 10,
            'L' => 50,
            'C' => 100,
            _ => return None,
        };
        if v < prev {
            total = total.checked_sub(v)?;
        } else {
            total += v;
            prev = v;
        }
    }
    Some(total)
}

fn normalize_number(n: &str) -> String {
    match n {
        "premier" | "PREMIER" | "1er" | "1ER" => "1".to_string(),
        _ => roman(n).map(|v| v.to_string()).unwrap_or_else(|| n.to_string()),
    }
}

/// A short first sentence of a plain-numbered paragraph is its heading ("2. Term. This…").
fn split_inline_heading(rest: &str) -> (Option<String>, usize) {
    let r = rest.trim_end();
    if let Some(dot) = r.find(". ") {
        let h = &r[..dot];
        if h.split_whitespace().count() <= 8 && h.chars().next().is_some_and(char::is_uppercase) {
            return (Some(h.trim().to_string()), dot + 2);
        }
    }
    let short = r.chars().count() <= 80;
    if short
        && (!r.ends_with('.') && !r.ends_with(':')
            || upper_ratio(r) > 0.8
            || r.split_whitespace().count() <= 8)
    {
        let h = r.trim_end_matches(['.', ':']).trim();
        return (Some(h.to_string()), rest.len());
    }
    (None, 0)
}

struct Head {
    line: usize,
    kind: Numbering,
    keyword: Option<String>,
    number: String,
    heading: Option<String>,
    /// Byte offset in the line where the body starts (an inline heading "2. Term. The…").
    body_from: usize,
}

/// Segment a document.
pub fn segment(doc: &Document) -> Segmented {
    let ls = lines(doc);
    let seg = segment_lines(doc, &ls);
    if seg.clauses.len() >= 3 {
        return seg;
    }
    // Flattened text (whole paragraphs, even the whole contract, on one line): cut the lines
    // before in-text numbers that follow each other ("… hereto. 2. TERM: …").
    let inline = inline_lines(doc, &ls);
    let alt = segment_lines(doc, &inline);
    let seg = if alt.clauses.len() > seg.clauses.len() { alt } else { seg };
    if seg.clauses.len() >= 3 {
        return seg;
    }
    // Only decimal numbers ("1.1", "2.3") at line starts: each numbered paragraph is a clause.
    let alt = segment_decimal(doc, &ls);
    if alt.clauses.len() > seg.clauses.len() { alt } else { seg }
}

/// Clauses cut at every line starting with a decimal number, the numbers in increasing order.
fn segment_decimal(doc: &Document, ls: &[Line<'_>]) -> Segmented {
    let mut starts: Vec<(usize, String)> = Vec::new();
    let mut last: Option<(u32, u32)> = None;
    for (i, l) in ls.iter().enumerate() {
        if l.noise || !l.after_blank {
            continue;
        }
        let Some(c) = RE_SUB.captures(l.text) else { continue };
        let num = c["num"].to_string();
        let mut it = num.split('.').map(|x| x.parse::<u32>().unwrap_or(0));
        let (a, b) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
        if last.is_none_or(|p| (a, b) > p && a <= p.0 + 1) {
            starts.push((i, num));
            last = Some((a, b));
        }
    }
    let end_line = starts
        .last()
        .map(|(h, _)| {
            (h + 1..ls.len()).find(|&k| !ls[k].noise && RE_END.is_match(ls[k].text)).unwrap_or(ls.len())
        })
        .unwrap_or(ls.len());
    let mut seg = Segmented {
        preamble: pieces_of(ls[..starts.first().map_or(ls.len(), |s| s.0)].iter()),
        ..Default::default()
    };
    for (j, (i, num)) in starts.iter().enumerate() {
        let stop = starts.get(j + 1).map_or(end_line, |s| s.0);
        let l = &ls[*i];
        let c = RE_SUB.captures(l.text).expect("matched above");
        let rest = c.name("rest").unwrap();
        let head = Span { start: l.span.start, end: l.span.start + rest.start() };
        let mut body =
            vec![Piece { page: l.page, span: Span { start: l.span.start + rest.start(), end: l.span.end } }];
        for (k, p) in pieces_of(ls[i + 1..stop.max(i + 1)].iter()).into_iter().enumerate() {
            match body.last_mut() {
                Some(b)
                    if k == 0
                        && b.page == p.page
                        && !ls[i + 1..stop.max(i + 1)].first().is_some_and(|x| x.noise) =>
                {
                    b.span.end = p.span.end
                }
                _ => body.push(p),
            }
        }
        let Some(heading_location) = Location::of(doc, l.page, head) else { continue };
        seg.clauses.push(Clause {
            reference: num.clone(),
            number: num.clone(),
            heading: None,
            page: l.page,
            heading_location,
            locations: body.iter().filter_map(|p| Location::of(doc, p.page, p.span)).collect(),
            subclauses: vec![],
        });
    }
    seg
}

static RE_INLINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[.:;"”)]\s+)(?:(?:ARTICLE|Article|SECTION|Section)\s+)?(?P<num>\d{1,2}|[IVX]{1,5})[.:]?\s+(?P<first>[A-Z])"#)
        .unwrap()
});

/// The lines cut again before in-text clause numbers 1, 2, 3… found in order.
fn inline_lines<'a>(doc: &'a Document, ls: &[Line<'a>]) -> Vec<Line<'a>> {
    let mut expected = 1u32;
    let mut out = Vec::with_capacity(ls.len());
    for l in ls {
        if l.noise {
            out.push(l.clone());
            continue;
        }
        let mut cuts: Vec<usize> = Vec::new();
        let cands: Vec<(usize, u32)> = RE_INLINE
            .captures_iter(l.text)
            .filter_map(|c| {
                let m = c.name("num").unwrap();
                let n = m.as_str().parse::<u32>().ok().or_else(|| roman(m.as_str()))?;
                // Start of the keyword if any, else of the number.
                let whole = c.get(0).unwrap();
                let lead = whole.as_str().len()
                    - whole.as_str().trim_start_matches(|ch: char| !ch.is_alphanumeric()).len();
                Some((whole.start() + lead, n))
            })
            .collect();
        for (j, &(at, n)) in cands.iter().enumerate() {
            // Dense runs of numbers are a table of contents, not clauses.
            let dense = cands.get(j + 1).is_some_and(|x| x.0 - at < 60) && j > 0 && at - cands[j - 1].0 < 60;
            if n == expected && !dense || expected == 1 && n <= 3 && !dense {
                cuts.push(at);
                expected = n + 1;
            }
        }
        let page_text = &doc.pages[(l.page - 1) as usize].text;
        let mut from = 0usize;
        let mut first = true;
        for cut in cuts.into_iter().chain([l.text.len()]) {
            let part = &l.text[from..cut];
            let t = part.trim();
            if !t.is_empty() {
                let lead = part.len() - part.trim_start().len();
                let start = l.span.start + from + lead;
                let span = Span { start, end: start + t.len() };
                out.push(Line {
                    page: l.page,
                    span,
                    text: &page_text[span.start..span.end],
                    after_blank: if first { l.after_blank } else { true },
                    noise: false,
                });
                first = false;
            }
            from = cut;
        }
    }
    out
}

fn segment_lines(doc: &Document, ls: &[Line<'_>]) -> Segmented {
    // 1. Top-level headings.
    let mut heads: Vec<Head> = Vec::new();
    let mut style: Option<(Numbering, Option<String>)> = None;
    let mut last: Option<u32> = None;
    let mut seen_numbers: HashSet<String> = HashSet::new();
    for (i, l) in ls.iter().enumerate() {
        if l.noise {
            continue;
        }
        if let Some(c) = RE_KEYWORD.captures(l.text) {
            let kw = c["kw"].to_string();
            let kwn = kw.to_lowercase().trim_end_matches('.').to_string();
            let rest = c.name("rest").map_or("", |m| m.as_str());
            let number = normalize_number(&c["num"]);
            if number.contains('.') || c.name("letter").is_some() {
                // "Article 2.1", "Section 4(b)" as a line start: a sub-clause, handled below.
            } else if heading_like(rest) && (l.after_blank || upper_ratio(rest) > 0.6 || rest.is_empty()) {
                let same_style = match &style {
                    None => true,
                    Some((Numbering::Keyword, Some(k))) => *k == kwn,
                    Some(_) => false,
                };
                let n: Option<u32> = number.parse().ok();
                let in_order = match (last, n) {
                    (Some(p), Some(n)) => n > p && n <= p + 3,
                    (None, Some(_)) => true,
                    _ => true,
                };
                if same_style && in_order && !seen_numbers.contains(&number) {
                    let rest_t = rest.trim();
                    let heading = if rest_t.is_empty() {
                        // Heading on the next line ("ARTICLE 3" / "PRIX").
                        ls.get(i + 1)
                            .filter(|n| !n.noise && n.text.chars().count() <= 80 && upper_ratio(n.text) > 0.6)
                            .map(|n| n.text.trim_end_matches(['.', ':']).to_string())
                    } else {
                        Some(rest_t.trim_end_matches(['.', ':']).trim().to_string())
                    };
                    style = Some((Numbering::Keyword, Some(kwn)));
                    last = n.or(last);
                    seen_numbers.insert(number.clone());
                    heads.push(Head {
                        line: i,
                        kind: Numbering::Keyword,
                        keyword: Some(cap_first(&kw.to_lowercase().replace('.', ""))),
                        number,
                        heading,
                        body_from: l.text.len(),
                    });
                    continue;
                }
            }
        }
        if let Some(c) = RE_PLAIN.captures(l.text) {
            if matches!(style, Some((Numbering::Keyword, _))) {
                continue;
            }
            let number = c["num"].to_string();
            let n: u32 = number.parse().unwrap_or(0);
            let expected = last.map_or(1, |p| p + 1);
            let rest = &c["rest"];
            if n == expected && l.after_blank && heading_like_start(rest) {
                let (heading, skip) = split_inline_heading(rest);
                let rest_off = c.name("rest").unwrap().start();
                style = Some((Numbering::Plain, None));
                last = Some(n);
                heads.push(Head {
                    line: i,
                    kind: Numbering::Plain,
                    keyword: None,
                    number,
                    heading,
                    body_from: rest_off + skip,
                });
            }
        }
    }

    // 2. Bodies, sub-clauses, and the end of the last clause.
    let mut seg = Segmented::default();
    let first_line = heads.first().map_or(ls.len(), |h| h.line);
    seg.preamble = pieces_of(ls[..first_line].iter());
    let end_line = heads
        .last()
        .map(|h| {
            (h.line + 1..ls.len()).find(|&k| !ls[k].noise && RE_END.is_match(ls[k].text)).unwrap_or(ls.len())
        })
        .unwrap_or(ls.len());
    for (h_idx, h) in heads.iter().enumerate() {
        let stop = heads.get(h_idx + 1).map_or(end_line, |n| n.line);
        let hl = &ls[h.line];
        let mut body: Vec<Piece> = Vec::new();
        let heading_on_next = h.kind == Numbering::Keyword
            && h.body_from == hl.text.len()
            && h.heading.is_some()
            && RE_KEYWORD
                .captures(hl.text)
                .and_then(|c| c.name("rest"))
                .is_none_or(|m| m.as_str().trim().is_empty());
        let first_body = h.line + 1 + usize::from(heading_on_next);
        let heading_span = if heading_on_next {
            Span { start: hl.span.start, end: ls[h.line + 1].span.end }
        } else {
            hl.span
        };
        if h.body_from < hl.text.len() {
            let s = hl.span.start + h.body_from;
            body.push(Piece { page: hl.page, span: Span { start: s, end: hl.span.end } });
        }
        let heading_span = if h.body_from < hl.text.len() {
            Span { start: hl.span.start, end: hl.span.start + h.body_from }
        } else {
            heading_span
        };
        let mut subs: Vec<(String, usize)> = Vec::new();
        for (k, l) in ls.iter().enumerate().take(stop).skip(first_body.min(stop)) {
            if l.noise {
                continue;
            }
            if let Some(c) = RE_SUB.captures(l.text) {
                let num = c["num"].to_string();
                if num.split('.').next() == Some(h.number.as_str()) && l.after_blank {
                    subs.push((num, k));
                }
            } else if let Some(c) = RE_LETTER.captures(l.text)
                && l.after_blank
            {
                subs.push((format!("{}({})", h.number, &c["l"]), k));
            } else if let Some(c) = RE_KEYWORD.captures(l.text)
                && l.after_blank
            {
                let num = normalize_number(&c["num"]);
                if num.split('.').next() == Some(h.number.as_str())
                    && (num.contains('.') || c.name("letter").is_some())
                {
                    let full = format!("{}{}", num, c.name("letter").map_or("", |m| m.as_str()));
                    subs.push((full, k));
                }
            }
        }
        let subclauses = subs
            .iter()
            .enumerate()
            .map(|(j, (num, k))| {
                let until = subs.get(j + 1).map_or(stop, |n| n.1);
                let ps = pieces_of(ls[*k..until].iter());
                SubClause {
                    number: num.clone(),
                    page: ls[*k].page,
                    locations: ps.iter().filter_map(|p| Location::of(doc, p.page, p.span)).collect(),
                }
            })
            .collect();
        let Some(heading_location) = Location::of(doc, hl.page, heading_span) else { continue };
        let first_body = first_body.min(stop);
        let rest = pieces_of(ls[first_body..stop].iter());
        let joins = first_body == h.line + 1 && !heading_on_next;
        for (j, p) in rest.into_iter().enumerate() {
            match body.last_mut() {
                Some(b) if j == 0 && joins && b.page == p.page => b.span.end = p.span.end,
                _ => body.push(p),
            }
        }
        let reference = match &h.keyword {
            Some(k) => format!("{k} {}", h.number),
            None => h.number.clone(),
        };
        seg.clauses.push(Clause {
            reference,
            number: h.number.clone(),
            heading: h.heading.clone().filter(|s| !s.is_empty()),
            page: hl.page,
            heading_location,
            locations: body.iter().filter_map(|p| Location::of(doc, p.page, p.span)).collect(),
            subclauses,
        });
    }
    seg
}

fn heading_like_start(rest: &str) -> bool {
    rest.chars().next().is_some_and(|c| c.is_uppercase() || c == '"' || c == '«' || c == '“')
}

fn cap_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Merge consecutive lines of the same page into one piece per page; a noise line (running
/// header or footer) between two lines starts a new piece, so that it is never cited.
fn pieces_of<'a>(lines: impl Iterator<Item = &'a Line<'a>>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut broken = true;
    for l in lines {
        if l.noise {
            broken = true;
            continue;
        }
        match out.last_mut() {
            Some(p) if p.page == l.page && !broken => p.span.end = l.span.end,
            _ => out.push(Piece { page: l.page, span: l.span }),
        }
        broken = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{ContentHash, Format, Page, PageMethod, Provenance, Source};

    pub fn doc(pages: &[&str]) -> Document {
        Document {
            content_hash: ContentHash("0".into()),
            format: Format::Pdf,
            media_type: "application/pdf".into(),
            source: Source { name: "t.pdf".into(), path: None, size: 0, provenance: Provenance::File },
            pdf: None,
            pages: pages
                .iter()
                .enumerate()
                .map(|(i, t)| Page {
                    number: i as u32 + 1,
                    method: PageMethod::TextLayer,
                    text: crate::document::normalize_text(t),
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

    #[test]
    fn french_articles_with_subclauses() {
        let d = doc(&[
            "CONTRAT\n\nArticle 1 – Objet\n\n1.1 Le contrat a pour objet.\n\n1.2 Annexe.\n\nArticle 2 – Durée\n\nLe contrat dure un an.\n\nPage 1/2",
        ]);
        let s = segment(&d);
        assert_eq!(s.clauses.len(), 2);
        assert_eq!(s.clauses[0].reference, "Article 1");
        assert_eq!(s.clauses[0].heading.as_deref(), Some("Objet"));
        assert_eq!(
            s.clauses[0].subclauses.iter().map(|x| x.number.as_str()).collect::<Vec<_>>(),
            ["1.1", "1.2"]
        );
        assert_eq!(s.clauses[1].locations[0].text, "Le contrat dure un an.");
    }

    #[test]
    fn uppercase_keyword_and_plain_numbering() {
        let d = doc(&["ARTICLE 2. DURÉE\n\nUn an.\n\nARTICLE 3. PRIX\n\nCent euros."]);
        let s = segment(&d);
        assert_eq!(s.clauses.iter().map(|c| c.number.as_str()).collect::<Vec<_>>(), ["2", "3"]);
        assert_eq!(s.clauses[0].heading.as_deref(), Some("DURÉE"));
        let d = doc(&[
            "1. PURPOSE\n\nThe purpose.\n\n2. TERM\n\n2.1 One year.\n\n2.2 Renewal.\n\n3. FEES\n\nTen.",
        ]);
        let s = segment(&d);
        assert_eq!(s.clauses.len(), 3);
        assert_eq!(s.clauses[1].subclauses.len(), 2);
    }

    #[test]
    fn sections_with_letters_and_clause_keyword() {
        let d = doc(&[
            "Section 3. Confidentiality\n\n(a) Keep it secret.\n\n(b) Tell advisers.\n\nSection 4. Term\n\nTwo years.",
        ]);
        let s = segment(&d);
        assert_eq!(
            s.clauses[0].subclauses.iter().map(|x| x.number.as_str()).collect::<Vec<_>>(),
            ["3(a)", "3(b)"]
        );
        let d = doc(&["Clause 7 – Payment\n\nThirty days.\n\nClause 8 – Law\n\nIrish law."]);
        assert_eq!(segment(&d).clauses[0].reference, "Clause 7");
    }

    #[test]
    fn clause_continues_across_pages_without_footer() {
        let d = doc(&[
            "Article 1 – Objet\n\nDébut du texte\n\nContrat – A / B\n\nPage 1/2",
            "suite du texte.\n\nArticle 2 – Prix\n\nCent.\n\nContrat – A / B\n\nPage 2/2",
        ]);
        let s = segment(&d);
        assert_eq!(s.clauses.len(), 2);
        let c = &s.clauses[0];
        assert_eq!(c.locations.len(), 2);
        assert_eq!(c.locations[0].text, "Début du texte");
        assert_eq!(c.locations[1].text, "suite du texte.");
        assert_eq!(s.clauses[1].locations[0].text, "Cent.");
    }

    #[test]
    fn table_of_contents_is_not_a_clause() {
        let d = doc(&[
            "SOMMAIRE\nArticle 1 – Objet ........ 2\nArticle 2 – Durée ........ 3\n\nArticle 1 – Objet\n\nTexte.\n\nArticle 2 – Durée\n\nUn an.",
        ]);
        let s = segment(&d);
        assert_eq!(s.clauses.len(), 2);
        assert_eq!(s.clauses[0].locations[0].text, "Texte.");
    }

    #[test]
    fn sentences_citing_sections_are_not_headings() {
        let d = doc(&[
            "Section 1. Term\n\nThe obligations in\nSection 3 shall continue for two years.\n\nSection 2. Law\n\nEnglish law.",
        ]);
        let s = segment(&d);
        assert_eq!(s.clauses.len(), 2);
    }

    #[test]
    fn flattened_text_with_soft_breaks() {
        let d = doc(&[
            "AGREEMENT   1. Definitions.   1.1 Words mean things.   2. Term. This Agreement lasts a year.   3. Governing Law. Delaware.",
        ]);
        let s = segment(&d);
        assert_eq!(
            s.clauses.iter().map(|c| c.heading.clone().unwrap_or_default()).collect::<Vec<_>>(),
            ["Definitions", "Term", "Governing Law"]
        );
        assert_eq!(s.clauses[1].locations[0].text, "This Agreement lasts a year.");
    }

    #[test]
    fn signature_block_ends_the_last_clause() {
        let d = doc(&["Article 1 – Objet\n\nTexte.\n\nFait à Lyon, le 1er mars 2026.\n\nPour A"]);
        let s = segment(&d);
        assert_eq!(s.clauses[0].locations[0].text, "Texte.");
    }
}
