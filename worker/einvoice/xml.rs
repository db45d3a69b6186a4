//! The XML layer under the e-invoice readers: decoding the bytes, parsing them with `roxmltree`
//! within bounds, and walking the tree by namespace URI and local name while building the
//! evidence path of every element reached.
//!
//! Paths are XPath-like: `/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID`. Prefixes are
//! the *canonical* ones of [`PREFIXES`] (the document's own prefixes are ignored, so the same
//! element always gets the same path); an element in no namespace has no prefix. A step gets a
//! 1-based index (`ram:IncludedSupplyChainTradeLineItem[2]`) when its parent has more than one
//! child element of that name.
//!
//! Elements are matched by namespace URI and local name. The one exception is the data-type
//! wrappers `DateTimeString` and `Indicator` (spec prefix `*`), matched by local name in any
//! namespace, because producers write them in varying `udt`/`qdt` namespace versions.

use super::{EInvoiceError, Evidenced, Problem};
use chrono::NaiveDate;
use roxmltree::{Document, Node, ParsingOptions};
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

/// Largest XML accepted, in bytes.
pub const MAX_XML_BYTES: usize = 32 * 1024 * 1024;
/// Most XML nodes (elements, texts, comments...) accepted in one document.
pub const MAX_XML_NODES: u32 = 2_000_000;
/// Deepest element nesting accepted. roxmltree parses nested elements recursively, so the depth
/// is checked first, by a linear scan, to keep hostile nesting from exhausting the stack. CII and
/// UBL invoices nest about a dozen levels.
pub const MAX_XML_DEPTH: usize = 256;
/// How much of the document `sniff_root` looks at to find the root element.
const SNIFF_BYTES: usize = 1024 * 1024;

pub const NS_CII_RSM: &str = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100";
pub const NS_CII_RAM: &str =
    "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100";
pub const NS_CII_UDT: &str = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100";
pub const NS_CII_QDT: &str = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100";
pub const NS_ZF1_RSM: &str = "urn:ferd:CrossIndustryDocument:invoice:1p0";
pub const NS_ZF1_RAM: &str =
    "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12";
pub const NS_ZF1_UDT: &str = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15";
pub const NS_ZF1RC_RSM: &str = "urn:un:unece:uncefact:data:standard:CBFBUY:5";
pub const NS_UBL_INVOICE: &str = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2";
pub const NS_UBL_CREDIT_NOTE: &str = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2";
pub const NS_UBL_CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
pub const NS_UBL_CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";
pub const NS_UBL_EXT: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2";

/// Canonical prefix of each known namespace, used in evidence paths.
pub const PREFIXES: &[(&str, &str)] = &[
    (NS_CII_RSM, "rsm"),
    (NS_CII_RAM, "ram"),
    (NS_CII_UDT, "udt"),
    (NS_CII_QDT, "qdt"),
    (NS_ZF1_RSM, "rsm"),
    (NS_ZF1_RAM, "ram"),
    (NS_ZF1_UDT, "udt"),
    (NS_ZF1RC_RSM, "rsm"),
    (NS_UBL_INVOICE, "ubl"),
    (NS_UBL_CREDIT_NOTE, "cn"),
    (NS_UBL_CAC, "cac"),
    (NS_UBL_CBC, "cbc"),
    (NS_UBL_EXT, "ext"),
];

/// How the prefixes written in path specifications (`"ram:Name"`) resolve for one syntax:
/// `None` is "no namespace", and the special prefix `*` matches any namespace.
pub(crate) type NsTable = &'static [(&'static str, Option<&'static str>)];

/// Bytes → text. UTF-8 (with or without BOM) and UTF-16 with a BOM are decoded; a declared
/// ISO-8859-1 / Latin-1 is decoded byte for byte; US-ASCII must be ASCII. Any other declared
/// encoding is refused, as are bytes that are not valid in the encoding.
pub(crate) fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, EInvoiceError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, u16::from_le_bytes).map(Cow::Owned);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, u16::from_be_bytes).map(Cow::Owned);
    }
    match declared_encoding(bytes).map(|e| e.to_ascii_lowercase()) {
        None => utf8(bytes),
        Some(e) => match e.as_str() {
            "utf-8" | "utf8" => utf8(bytes),
            "us-ascii" | "ascii" => {
                if bytes.is_ascii() {
                    utf8(bytes)
                } else {
                    Err(EInvoiceError::Encoding("declared US-ASCII but holds non-ASCII bytes".into()))
                }
            }
            "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "l1" | "iso_8859-1" => {
                Ok(Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()))
            }
            "utf-16" | "utf-16le" | "utf-16be" => {
                Err(EInvoiceError::Encoding("declared UTF-16 but has no byte order mark".into()))
            }
            _ => Err(EInvoiceError::Encoding(format!("unsupported declared encoding {e:?}"))),
        },
    }
}

fn utf8(bytes: &[u8]) -> Result<Cow<'_, str>, EInvoiceError> {
    std::str::from_utf8(bytes)
        .map(Cow::Borrowed)
        .map_err(|e| EInvoiceError::Encoding(format!("not valid UTF-8 at byte {}", e.valid_up_to())))
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, EInvoiceError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(EInvoiceError::Encoding("UTF-16 text with an odd number of bytes".into()));
    }
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| EInvoiceError::Encoding("invalid UTF-16 text".into()))
}

/// The `encoding` of the XML declaration, when the bytes start with one (ASCII-compatible
/// encodings only).
fn declared_encoding(bytes: &[u8]) -> Option<&str> {
    let head = bytes.strip_prefix(b"<?xml")?;
    let end = head.windows(2).take(512).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    value.find(quote).map(|n| &value[..n])
}

fn parse_options() -> ParsingOptions {
    // DTDs stay refused (roxmltree's default): an e-invoice never needs one, and this shuts out
    // entity expansion altogether. External entities are never fetched by roxmltree.
    ParsingOptions { allow_dtd: false, nodes_limit: MAX_XML_NODES }
}

/// Parse the text into a tree, within the limits.
pub(crate) fn parse_document(text: &str) -> Result<Document<'_>, EInvoiceError> {
    check_depth(text.as_bytes())?;
    Document::parse_with_options(text, parse_options()).map_err(|e| match e {
        roxmltree::Error::DtdDetected => EInvoiceError::Dtd,
        roxmltree::Error::NodesLimitReached => {
            EInvoiceError::TooLarge { what: "XML nodes", limit: MAX_XML_NODES as u64 }
        }
        other => EInvoiceError::Malformed(other.to_string()),
    })
}

/// Refuse nesting deeper than [`MAX_XML_DEPTH`]. The scan follows the markup of well-formed XML
/// (start, end and empty-element tags with quoted attribute values, comments, CDATA sections,
/// processing instructions); where the text is malformed, roxmltree stops at the same place
/// before going deeper. A DOCTYPE ends the scan: roxmltree refuses it.
fn check_depth(b: &[u8]) -> Result<(), EInvoiceError> {
    let find = |from: usize, pat: &[u8]| {
        b.get(from..).and_then(|rest| rest.windows(pat.len()).position(|w| w == pat)).map(|p| from + p)
    };
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(off) = b.get(i..).and_then(|rest| rest.iter().position(|&c| c == b'<')) {
        let at = i + off;
        let rest = &b[at..];
        if rest.starts_with(b"<!--") {
            i = find(at + 4, b"-->").map_or(b.len(), |e| e + 3);
        } else if rest.starts_with(b"<![CDATA[") {
            i = find(at + 9, b"]]>").map_or(b.len(), |e| e + 3);
        } else if rest.starts_with(b"<?") {
            i = find(at + 2, b"?>").map_or(b.len(), |e| e + 2);
        } else if rest.starts_with(b"<!") {
            return Ok(());
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = at + 2;
        } else {
            // A start tag: find its end outside quoted attribute values.
            let mut quote = None;
            let mut j = at + 1;
            let mut end = None;
            while j < b.len() {
                let c = b[j];
                match quote {
                    Some(q) if c == q => quote = None,
                    Some(_) => {}
                    None if c == b'"' || c == b'\'' => quote = Some(c),
                    None if c == b'>' => {
                        end = Some(j);
                        break;
                    }
                    None => {}
                }
                j += 1;
            }
            let Some(end) = end else { return Ok(()) };
            if b[end - 1] != b'/' {
                depth += 1;
                if depth > MAX_XML_DEPTH {
                    return Err(EInvoiceError::TooLarge {
                        what: "levels of element nesting",
                        limit: MAX_XML_DEPTH as u64,
                    });
                }
            }
            i = end + 1;
        }
    }
    Ok(())
}

/// The namespace URI and local name of the root element, read from the first start tag only.
pub(crate) fn root_name(bytes: &[u8]) -> Option<(Option<String>, String)> {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let text: Cow<'_, str> = match decode(head) {
        Ok(t) => t,
        // A prefix may end inside a multi-byte character.
        Err(_) => match std::str::from_utf8(head) {
            Ok(t) => Cow::Borrowed(t),
            Err(e) if e.error_len().is_none() => {
                Cow::Borrowed(std::str::from_utf8(&head[..e.valid_up_to()]).ok()?)
            }
            Err(_) => return None,
        },
    };
    let tag = first_start_tag(&text)?;
    // The start tag alone, closed, is a document of its own that roxmltree resolves.
    let body = tag.strip_suffix("/>").or_else(|| tag.strip_suffix('>'))?;
    let alone = format!("{body}/>");
    let doc = Document::parse_with_options(&alone, parse_options()).ok()?;
    let root = doc.root_element();
    Some((root.tag_name().namespace().map(str::to_string), root.tag_name().name().to_string()))
}

/// The text of the first start tag after the prolog (declaration, comments, processing
/// instructions, white space). `None` when there is a DOCTYPE or anything else first.
fn first_start_tag(text: &str) -> Option<&str> {
    let mut s = text.trim_start_matches('\u{feff}');
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("<?") {
            s = &rest[rest.find("?>")? + 2..];
        } else if let Some(rest) = s.strip_prefix("<!--") {
            s = &rest[rest.find("-->")? + 3..];
        } else if s.starts_with('<') && !s.starts_with("<!") {
            break;
        } else {
            return None;
        }
    }
    // The tag ends at the first '>' outside quotes.
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(&s[..=i]),
            _ => {}
        }
    }
    None
}

/// An element reached from the root, with its evidence path.
#[derive(Clone)]
pub(crate) struct El<'a, 'input> {
    pub node: Node<'a, 'input>,
    pub path: String,
}

/// What a path specification starts from: an element, or a maybe-absent one (then nothing is
/// found).
pub(crate) trait AsBase<'a, 'input> {
    fn base(&self) -> Option<&El<'a, 'input>>;
}

impl<'a, 'input> AsBase<'a, 'input> for El<'a, 'input> {
    fn base(&self) -> Option<&El<'a, 'input>> {
        Some(self)
    }
}

impl<'a, 'input> AsBase<'a, 'input> for Option<El<'a, 'input>> {
    fn base(&self) -> Option<&El<'a, 'input>> {
        self.as_ref()
    }
}

/// Walks one document: resolves path specifications, reads typed values with their evidence and
/// records the problems of values that could not be read.
pub(crate) struct Reader<'a, 'input> {
    doc: &'a Document<'input>,
    ns: NsTable,
    line_starts: Vec<usize>,
    problems: RefCell<Vec<Problem>>,
}

impl<'a, 'input> Reader<'a, 'input> {
    pub fn new(doc: &'a Document<'input>, ns: NsTable) -> Self {
        let text = doc.input_text();
        let mut line_starts = vec![0];
        line_starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        Reader { doc, ns, line_starts, problems: RefCell::new(Vec::new()) }
    }

    pub fn root(&self) -> El<'a, 'input> {
        let node = self.doc.root_element();
        El { node, path: format!("/{}", self.step_name(node)) }
    }

    /// The problems met, in document order, each once.
    pub fn into_problems(self) -> Vec<Problem> {
        let mut problems = self.problems.into_inner();
        problems.sort_by(|a, b| (a.line, &a.path, &a.message).cmp(&(b.line, &b.path, &b.message)));
        problems.dedup();
        problems
    }

    /// 1-based line of an element's start tag.
    pub fn line(&self, node: Node<'_, '_>) -> u32 {
        let pos = node.range().start;
        let line = match self.line_starts.binary_search(&pos) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        u32::try_from(line).unwrap_or(u32::MAX)
    }

    pub fn problem(&self, el: &El<'_, '_>, message: impl Into<String>) {
        self.problems.borrow_mut().push(Problem {
            path: el.path.clone(),
            line: self.line(el.node),
            message: message.into(),
        });
    }

    fn step_name(&self, node: Node<'_, '_>) -> String {
        let name = node.tag_name();
        match name.namespace() {
            None => name.name().to_string(),
            Some(uri) => {
                let prefix = PREFIXES
                    .iter()
                    .find(|(u, _)| *u == uri)
                    .map(|(_, p)| Cow::Borrowed(*p))
                    .or_else(|| data_type_prefix(uri).map(Cow::Borrowed))
                    .or_else(|| node.lookup_prefix(uri).map(Cow::Borrowed))
                    .unwrap_or(Cow::Borrowed("ns"));
                format!("{prefix}:{}", name.name())
            }
        }
    }

    /// Resolve one step of a path specification, `prefix:local`, to a matcher.
    fn matcher(&self, step: &str) -> Option<(Option<Option<&'static str>>, String)> {
        let (prefix, local) = step.split_once(':')?;
        if prefix == "*" {
            return Some((None, local.to_string()));
        }
        let ns = self.ns.iter().find(|(p, _)| *p == prefix).map(|(_, u)| *u)?;
        Some((Some(ns), local.to_string()))
    }

    /// The child elements of `el` matching one step (alternatives separated by `|`), in document
    /// order, with their paths.
    fn step(&self, el: &El<'a, 'input>, step: &str) -> Vec<El<'a, 'input>> {
        let matchers: Vec<_> = step.split('|').filter_map(|s| self.matcher(s)).collect();
        let matches = |n: &Node<'_, '_>| {
            n.is_element()
                && matchers.iter().any(|(ns, local)| {
                    let t = n.tag_name();
                    t.name() == local && (*ns).is_none_or(|ns| t.namespace() == ns)
                })
        };
        let found: Vec<Node<'a, 'input>> = el.node.children().filter(matches).collect();
        // Whether a name matches depends on the name only, so the matching children of one name
        // are all the children of that name: count them for the indices.
        let key = |n: &Node<'a, 'input>| (n.tag_name().namespace(), n.tag_name().name());
        let mut totals: HashMap<(Option<&str>, &str), usize> = HashMap::new();
        for n in &found {
            *totals.entry(key(n)).or_default() += 1;
        }
        let mut seen: HashMap<(Option<&str>, &str), usize> = HashMap::new();
        let mut out = Vec::with_capacity(found.len());
        for node in found.iter().copied() {
            let k = key(&node);
            let index = seen.entry(k).or_default();
            *index += 1;
            let step = self.step_name(node);
            let path = if totals.get(&k).copied().unwrap_or(0) > 1 {
                format!("{}/{step}[{index}]", el.path)
            } else {
                format!("{}/{step}", el.path)
            };
            out.push(El { node, path });
        }
        out
    }

    /// All elements at the end of a `/`-separated path specification, fanning out at every step.
    pub fn all(&self, base: &impl AsBase<'a, 'input>, spec: &str) -> Vec<El<'a, 'input>> {
        let Some(el) = base.base() else { return Vec::new() };
        let mut current = vec![el.clone()];
        for step in spec.split('/') {
            current = current.iter().flat_map(|e| self.step(e, step)).collect();
            if current.is_empty() {
                break;
            }
        }
        current
    }

    /// The first element at the end of a path specification, taking the first match at every
    /// step.
    pub fn first(&self, base: &impl AsBase<'a, 'input>, spec: &str) -> Option<El<'a, 'input>> {
        let mut current = base.base()?.clone();
        for step in spec.split('/') {
            current = self.step(&current, step).into_iter().next()?;
        }
        Some(current)
    }

    /// The trimmed text of an element (all its direct text children), `None` when blank.
    pub fn text_of(&self, el: &El<'a, 'input>) -> Option<String> {
        let mut text = String::new();
        for t in el.node.children().filter(|n| n.is_text()) {
            text.push_str(t.text().unwrap_or(""));
        }
        let trimmed = text.trim();
        if trimmed.is_empty() { None } else { Some(trimmed.to_string()) }
    }

    pub fn evidence<T>(&self, el: &El<'_, '_>, value: T) -> Evidenced<T> {
        Evidenced { value, path: el.path.clone(), line: self.line(el.node) }
    }

    /// The text at a path, with its evidence.
    pub fn string(&self, base: &impl AsBase<'a, 'input>, spec: &str) -> Option<Evidenced<String>> {
        self.first_with(base, spec, |e| self.text_of(e).map(|t| self.evidence(e, t)))
    }

    /// Every non-blank text at a path.
    pub fn strings(&self, base: &impl AsBase<'a, 'input>, spec: &str) -> Vec<Evidenced<String>> {
        self.all(base, spec).iter().filter_map(|e| self.text_of(e).map(|t| self.evidence(e, t))).collect()
    }

    /// The first element at the path (over all matches) for which `read` gives a value.
    pub fn first_with<T>(
        &self,
        base: &impl AsBase<'a, 'input>,
        spec: &str,
        read: impl Fn(&El<'a, 'input>) -> Option<T>,
    ) -> Option<T> {
        self.all(base, spec).iter().find_map(read)
    }

    /// An identifier: the text and its `schemeID` attribute.
    pub fn identifier_of(&self, el: &El<'a, 'input>) -> Option<Evidenced<super::Identifier>> {
        let id = self.text_of(el)?;
        let scheme =
            el.node.attribute("schemeID").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        Some(self.evidence(el, super::Identifier { id, scheme }))
    }

    pub fn identifier(
        &self,
        base: &impl AsBase<'a, 'input>,
        spec: &str,
    ) -> Option<Evidenced<super::Identifier>> {
        self.first_with(base, spec, |e| self.identifier_of(e))
    }

    pub fn identifiers(
        &self,
        base: &impl AsBase<'a, 'input>,
        spec: &str,
    ) -> Vec<Evidenced<super::Identifier>> {
        self.all(base, spec).iter().filter_map(|e| self.identifier_of(e)).collect()
    }

    /// A decimal number (amount, rate, quantity) of an element; a malformed one is a problem.
    pub fn decimal_of(&self, el: &El<'a, 'input>) -> Option<Evidenced<Decimal>> {
        let text = self.text_of(el)?;
        match parse_decimal(&text) {
            Some(d) => Some(self.evidence(el, d)),
            None => {
                self.problem(el, format!("not a decimal number: {:?}", clip(&text)));
                None
            }
        }
    }

    pub fn decimal(&self, base: &impl AsBase<'a, 'input>, spec: &str) -> Option<Evidenced<Decimal>> {
        self.first(base, spec).and_then(|e| self.decimal_of(&e))
    }

    /// A quantity: the decimal and its `unitCode`.
    pub fn quantity(&self, base: &impl AsBase<'a, 'input>, spec: &str) -> Option<Evidenced<super::Quantity>> {
        let e = self.first(base, spec)?;
        let d = self.decimal_of(&e)?;
        let unit = e.node.attribute("unitCode").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        Some(self.evidence(&e, super::Quantity { value: d.value, unit }))
    }

    /// A boolean (`true`/`false`, `1`/`0`); anything else is a problem.
    pub fn boolean_of(&self, el: &El<'a, 'input>) -> Option<Evidenced<bool>> {
        let text = self.text_of(el)?;
        match text.as_str() {
            "true" | "1" => Some(self.evidence(el, true)),
            "false" | "0" => Some(self.evidence(el, false)),
            _ => {
                self.problem(el, format!("not a boolean: {:?}", clip(&text)));
                None
            }
        }
    }

    /// A date. The element either holds the date itself or has a `DateTimeString` child (CII)
    /// whose `format` attribute says how it is written: 102 `YYYYMMDD`, 610 `YYYYMM` (read as the
    /// first day of the month), 616 `YYYYWW` (read as the Monday of the ISO week). ISO
    /// `YYYY-MM-DD` (UBL, with an optional time zone) is read as well.
    pub fn date_of(&self, el: &El<'a, 'input>) -> Option<Evidenced<NaiveDate>> {
        let inner = self.first(el, "*:DateTimeString");
        let target = inner.as_ref().unwrap_or(el);
        let text = self.text_of(target)?;
        let format = target.node.attribute("format").map(str::trim);
        match parse_date(&text, format) {
            Ok((date, note)) => {
                if let Some(note) = note {
                    self.problem(target, note);
                }
                Some(self.evidence(target, date))
            }
            Err(why) => {
                self.problem(target, why);
                None
            }
        }
    }

    pub fn date(&self, base: &impl AsBase<'a, 'input>, spec: &str) -> Option<Evidenced<NaiveDate>> {
        self.first_with(base, spec, |e| self.date_of(e))
    }
}

fn data_type_prefix(uri: &str) -> Option<&'static str> {
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("urn:un:unece:uncefact:data:standard:qualifieddatatype:") {
        Some("qdt")
    } else if lower.starts_with("urn:un:unece:uncefact:data:standard:unqualifieddatatype:") {
        Some("udt")
    } else {
        None
    }
}

/// At most 80 characters of a bad value, for messages.
pub(crate) fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// An XML Schema decimal: optional sign, digits, optional fraction. No exponent, no grouping.
/// `None` when malformed or beyond `Decimal`'s range and precision.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let t = text.trim();
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    Decimal::from_str_exact(t).ok()
}

/// A date and, for readable but unusual forms, a note to record as a problem.
pub fn parse_date(text: &str, format: Option<&str>) -> Result<(NaiveDate, Option<String>), String> {
    let t = text.trim();
    let all_digits = t.bytes().all(|b| b.is_ascii_digit());
    let num = |s: &str| s.parse::<u32>().ok();
    let bad = || format!("not a date: {:?} (format {})", clip(t), format.unwrap_or("none"));
    match format {
        Some("610") if all_digits && t.len() == 6 => {
            let y = num(&t[..4]).ok_or_else(bad)? as i32;
            let m = num(&t[4..]).ok_or_else(bad)?;
            let d = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
            Ok((d, Some(format!("month date {t} (format 610) read as the first day of the month"))))
        }
        Some("616") if all_digits && t.len() == 6 => {
            let y = num(&t[..4]).ok_or_else(bad)? as i32;
            let w = num(&t[4..]).ok_or_else(bad)?;
            let d = NaiveDate::from_isoywd_opt(y, w, chrono::Weekday::Mon).ok_or_else(bad)?;
            Ok((d, Some(format!("week date {t} (format 616) read as the Monday of the week"))))
        }
        Some("102") | None if all_digits && t.len() == 8 => {
            let d = NaiveDate::from_ymd_opt(
                num(&t[..4]).ok_or_else(bad)? as i32,
                num(&t[4..6]).ok_or_else(bad)?,
                num(&t[6..]).ok_or_else(bad)?,
            );
            d.map(|d| (d, None)).ok_or_else(bad)
        }
        _ => {
            // ISO 8601 date, possibly with a time zone (xs:date) or a time (xs:dateTime).
            let day = t.get(..10).ok_or_else(bad)?;
            let rest = &t[10..];
            let tail_ok = rest.is_empty()
                || rest == "Z"
                || ((rest.starts_with('+') || rest.starts_with('-')) && rest.len() == 6)
                || rest.starts_with('T');
            let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| bad())?;
            if !tail_ok {
                return Err(bad());
            }
            let note = format.map(|f| format!("date {t} written as ISO 8601 although its format is {f}"));
            Ok((d, note))
        }
    }
}
