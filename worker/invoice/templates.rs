//! invoice2data supplier templates (YAML or JSON), honoured as they are: `issuer`, `keywords`
//! (all must match), `exclude_keywords`, `priority`, `fields` (a regex, a list of regexes, a
//! `static_` value, or `{parser: regex|static, regex, value, type, group}`), `options`
//! (`currency`, `date_formats`, `decimal_separator`, `remove_whitespace`, `remove_accents`,
//! `lowercase`, `replace`, `languages`). `lines`, `tables`, `areas` and `input_module` are read but
//! not applied (listed in [`Template::unsupported`]). A template that cannot be read or whose
//! regex does not compile stops the engine at start, naming the file and the field.
//!
//! Fields are searched in the page texts joined by `\n`; every value found by a regex is grounded
//! to its span on its page; static values (and the issuer) are grounded to the keyword matches.

use super::InvoiceError;
use super::parse::{DecimalHint, number_value, parse_date};
use crate::document::{Document, Span};
use crate::evidence::{Evidence, Location, Method};
use chrono::NaiveDate;
use regex::Regex;
use rust_decimal::Decimal;
use serde_json::Value;
use std::path::Path;

/// How one field is found.
#[derive(Debug, Clone)]
pub enum FieldSource {
    Regexes { regexes: Vec<Regex>, group: Group },
    Static(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    First,
    Last,
    Sum,
    Min,
    Max,
    Join,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    Int,
    Float,
    Date,
}

#[derive(Debug, Clone)]
pub struct TemplateField {
    pub name: String,
    pub source: FieldSource,
    pub kind: FieldType,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub currency: Option<String>,
    pub date_formats: Vec<String>,
    pub decimal: DecimalHint,
    pub remove_whitespace: bool,
    pub remove_accents: bool,
    pub lowercase: bool,
    pub replace: Vec<(Regex, String)>,
}

/// One compiled invoice2data template.
#[derive(Debug, Clone)]
pub struct Template {
    /// The file name, for evidence and errors.
    pub name: String,
    pub issuer: String,
    pub keywords: Vec<Regex>,
    pub exclude_keywords: Vec<Regex>,
    pub priority: i64,
    pub fields: Vec<TemplateField>,
    pub options: Options,
    /// invoice2data features read but not applied (`lines`, `tables`, `area`…).
    pub unsupported: Vec<String>,
}

/// A template's value for one field: the typed value and where it was found.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateValue {
    Text(String),
    Number(Decimal),
    Date(NaiveDate),
}

#[derive(Debug, Clone)]
pub struct TemplateMatch {
    pub template: String,
    pub issuer: String,
    pub currency: Option<String>,
    pub fields: Vec<(String, TemplateValue, Evidence)>,
    /// Where the keywords matched (the grounds of static values).
    pub keyword_evidence: Evidence,
}

fn err(file: &str, m: impl std::fmt::Display) -> InvoiceError {
    InvoiceError::Rules(format!("invoice2data template {file}: {m}"))
}

/// Python regex syntax to Rust's where they differ in spelling only.
fn py_regex(file: &str, what: &str, re: &str) -> Result<Regex, InvoiceError> {
    Regex::new(re).map_err(|e| err(file, format!("{what}: {e}")))
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(scalar).collect(),
        v => scalar(v).into_iter().collect(),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn kind_of(name: &str, declared: Option<&str>) -> FieldType {
    match declared {
        Some("int") => FieldType::Int,
        Some("float") => FieldType::Float,
        Some("date") => FieldType::Date,
        Some(_) => FieldType::Text,
        None if name.starts_with("date") => FieldType::Date,
        None if name.starts_with("amount") => FieldType::Float,
        None => FieldType::Text,
    }
}

const TOP_KEYS: [&str; 13] = [
    "issuer",
    "keywords",
    "exclude_keywords",
    "fields",
    "options",
    "lines",
    "tables",
    "priority",
    "required_fields",
    "input_module",
    "template_name",
    "area",
    "name",
];
const OPTION_KEYS: [&str; 9] = [
    "currency",
    "date_formats",
    "decimal_separator",
    "remove_whitespace",
    "remove_accents",
    "lowercase",
    "replace",
    "languages",
    "country_code",
];

/// Compile one template from its parsed YAML/JSON.
pub fn compile(file: &str, v: &Value) -> Result<Template, InvoiceError> {
    let obj = v.as_object().ok_or_else(|| err(file, "not a mapping"))?;
    let mut unsupported = Vec::new();
    for k in obj.keys() {
        if !TOP_KEYS.contains(&k.as_str()) {
            return Err(err(file, format!("unknown key `{k}`")));
        }
        if matches!(k.as_str(), "lines" | "tables" | "input_module" | "area") {
            unsupported.push(k.clone());
        }
    }
    let issuer = obj.get("issuer").and_then(scalar).ok_or_else(|| err(file, "no issuer"))?;
    let keywords = strings(obj.get("keywords").unwrap_or(&Value::Null))
        .iter()
        .map(|k| py_regex(file, "keyword", k))
        .collect::<Result<Vec<_>, _>>()?;
    if keywords.is_empty() {
        return Err(err(file, "no keywords"));
    }
    let exclude_keywords = strings(obj.get("exclude_keywords").unwrap_or(&Value::Null))
        .iter()
        .map(|k| py_regex(file, "exclude keyword", k))
        .collect::<Result<Vec<_>, _>>()?;
    let priority = obj.get("priority").and_then(Value::as_i64).unwrap_or(5);

    let mut options = Options::default();
    if let Some(o) = obj.get("options") {
        let o = o.as_object().ok_or_else(|| err(file, "options is not a mapping"))?;
        for (k, v) in o {
            if !OPTION_KEYS.contains(&k.as_str()) {
                return Err(err(file, format!("unknown option `{k}`")));
            }
            match k.as_str() {
                "currency" => options.currency = scalar(v),
                "date_formats" => options.date_formats = strings(v),
                "decimal_separator" => {
                    options.decimal = match scalar(v).as_deref() {
                        Some(",") => DecimalHint::Comma,
                        Some(".") => DecimalHint::Dot,
                        other => return Err(err(file, format!("decimal_separator {other:?}"))),
                    }
                }
                "remove_whitespace" => options.remove_whitespace = v.as_bool().unwrap_or(false),
                "remove_accents" => options.remove_accents = v.as_bool().unwrap_or(false),
                "lowercase" => options.lowercase = v.as_bool().unwrap_or(false),
                "replace" => {
                    for pair in v.as_array().into_iter().flatten() {
                        let p = strings(pair);
                        let [from, to] = p.as_slice() else {
                            return Err(err(file, "replace entries are [pattern, replacement]"));
                        };
                        // Python's \g<name> and \1 become ${name} and ${1}.
                        let to = Regex::new(r"\\g<(\w+)>|\\(\d)")
                            .expect("static regex")
                            .replace_all(to, |c: &regex::Captures| {
                                format!("${{{}}}", c.get(1).or(c.get(2)).map(|m| m.as_str()).unwrap_or(""))
                            })
                            .into_owned();
                        options.replace.push((py_regex(file, "replace", from)?, to));
                    }
                }
                _ => {}
            }
        }
    }

    let mut fields = Vec::new();
    if let Some(f) = obj.get("fields") {
        let f = f.as_object().ok_or_else(|| err(file, "fields is not a mapping"))?;
        for (name, spec) in f {
            let compile_all = |list: Vec<String>| -> Result<Vec<Regex>, InvoiceError> {
                list.iter().map(|r| py_regex(file, &format!("field {name}"), r)).collect()
            };
            let (fname, source, declared) = if let Some(stripped) = name.strip_prefix("static_") {
                (stripped.to_string(), FieldSource::Static(scalar(spec).unwrap_or_default()), None)
            } else if let Some(o) = spec.as_object() {
                let parser = o.get("parser").and_then(Value::as_str).unwrap_or("regex");
                let declared = o.get("type").and_then(Value::as_str).map(String::from);
                if o.contains_key("area") {
                    unsupported.push(format!("fields.{name}.area"));
                }
                let source = match parser {
                    "static" => FieldSource::Static(o.get("value").and_then(scalar).unwrap_or_default()),
                    "regex" => {
                        let group = match o.get("group").and_then(Value::as_str) {
                            None | Some("first") => Group::First,
                            Some("last") => Group::Last,
                            Some("sum") => Group::Sum,
                            Some("min") => Group::Min,
                            Some("max") => Group::Max,
                            Some("join") => Group::Join,
                            Some(g) => return Err(err(file, format!("field {name}: group {g}"))),
                        };
                        FieldSource::Regexes {
                            regexes: compile_all(strings(o.get("regex").unwrap_or(&Value::Null)))?,
                            group,
                        }
                    }
                    other => {
                        unsupported.push(format!("fields.{name}.parser={other}"));
                        continue;
                    }
                };
                (name.clone(), source, declared)
            } else if spec.is_string() || spec.is_array() {
                (
                    name.clone(),
                    FieldSource::Regexes { regexes: compile_all(strings(spec))?, group: Group::First },
                    None,
                )
            } else {
                (name.clone(), FieldSource::Static(scalar(spec).unwrap_or_default()), None)
            };
            let kind = kind_of(&fname, declared.as_deref());
            fields.push(TemplateField { name: fname, source, kind });
        }
    }
    Ok(Template {
        name: file.to_string(),
        issuer,
        keywords,
        exclude_keywords,
        priority,
        fields,
        options,
        unsupported,
    })
}

/// Every `*.yml`, `*.yaml` and `*.json` template under `dir` (recursively), sorted by path. A
/// missing folder is no template.
pub fn load_dir(dir: &Path) -> Result<Vec<Template>, InvoiceError> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| InvoiceError::Rules(format!("{}: {e}", dir.display())))?;
        let p = entry.path();
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !entry.file_type().is_file() || !matches!(ext, "yml" | "yaml" | "json") {
            continue;
        }
        let name = p.strip_prefix(dir).unwrap_or(p).display().to_string();
        let text = std::fs::read_to_string(p).map_err(|e| err(&name, e))?;
        out.push(parse(&name, &text)?);
    }
    Ok(out)
}

/// Parse and compile one template's text (YAML, of which JSON is a subset).
pub fn parse(name: &str, text: &str) -> Result<Template, InvoiceError> {
    let yaml: serde_norway::Value = serde_norway::from_str(text).map_err(|e| err(name, e))?;
    let v = serde_json::to_value(yaml).map_err(|e| err(name, e))?;
    compile(name, &v)
}

/// The document text as invoice2data sees it, with the (page, byte offset) of every byte.
struct Text {
    s: String,
    origin: Vec<(u32, usize)>,
}

impl Text {
    fn of(doc: &Document) -> Text {
        let mut s = String::new();
        let mut origin = Vec::new();
        for p in &doc.pages {
            if !s.is_empty() {
                s.push('\n');
                origin.push((p.number, 0));
            }
            s.push_str(&p.text);
            origin.extend((0..p.text.len()).map(|i| (p.number, i)));
        }
        Text { s, origin }
    }

    /// Rewrite char by char (`f` gives the replacement of each char), keeping the origins.
    fn map_chars(&self, f: impl Fn(char) -> String) -> Text {
        let mut s = String::with_capacity(self.s.len());
        let mut origin = Vec::with_capacity(self.origin.len());
        for (i, c) in self.s.char_indices() {
            let r = f(c);
            origin.extend(std::iter::repeat_n(self.origin[i], r.len()));
            s.push_str(&r);
        }
        Text { s, origin }
    }

    fn replace(&self, re: &Regex, to: &str) -> Text {
        let mut s = String::new();
        let mut origin = Vec::new();
        let mut last = 0;
        for c in re.captures_iter(&self.s) {
            let m = c.get(0).expect("match");
            s.push_str(&self.s[last..m.start()]);
            origin.extend_from_slice(&self.origin[last..m.start()]);
            let mut r = String::new();
            c.expand(to, &mut r);
            let at = self.origin.get(m.start()).copied().unwrap_or((1, 0));
            origin.extend(std::iter::repeat_n(at, r.len()));
            s.push_str(&r);
            last = m.end();
        }
        s.push_str(&self.s[last..]);
        origin.extend_from_slice(&self.origin[last..]);
        Text { s, origin }
    }

    /// The locations in the document of the byte range `start..end` of this text (one per page).
    fn locations(&self, doc: &Document, start: usize, end: usize) -> Vec<Location> {
        let mut out: Vec<Location> = Vec::new();
        let mut range: Option<(u32, usize, usize)> = None;
        for &(page, off) in self.origin.get(start..end).unwrap_or(&[]) {
            range = match range {
                Some((p, a, b)) if p == page => Some((p, a.min(off), b.max(off))),
                Some((p, a, b)) => {
                    out.extend(loc(doc, p, a, b));
                    Some((page, off, off))
                }
                None => Some((page, off, off)),
            };
        }
        if let Some((p, a, b)) = range {
            out.extend(loc(doc, p, a, b));
        }
        out
    }
}

fn loc(doc: &Document, page: u32, a: usize, b: usize) -> Option<Location> {
    let text = &doc.pages.get(page as usize - 1)?.text;
    let mut end = (b + 1).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let mut start = a;
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    Location::of(doc, page, Span { start, end })
}

fn strip_accents(c: char) -> String {
    use unicode_normalization::UnicodeNormalization;
    std::iter::once(c).nfd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)).collect()
}

impl Template {
    fn prepare(&self, doc: &Document) -> Text {
        let mut t = Text::of(doc);
        if self.options.remove_whitespace {
            t = t.map_chars(|c| if c.is_whitespace() { String::new() } else { c.to_string() });
        }
        if self.options.remove_accents {
            t = t.map_chars(strip_accents);
        }
        if self.options.lowercase {
            t = t.map_chars(|c| c.to_lowercase().collect());
        }
        for (re, to) in &self.options.replace {
            t = t.replace(re, to);
        }
        t
    }

    /// Do the keywords match (and no exclude keyword)? With the keyword match locations.
    fn matches(&self, doc: &Document, t: &Text) -> Option<Vec<Location>> {
        let _ = doc;
        if self.exclude_keywords.iter().any(|k| k.is_match(&t.s)) {
            return None;
        }
        let mut locs = Vec::new();
        for k in &self.keywords {
            let m = k.find(&t.s)?;
            locs.extend(t.locations(doc, m.start(), m.end()));
        }
        Some(locs)
    }

    fn typed(&self, kind: FieldType, raw: &str) -> Option<TemplateValue> {
        let raw = raw.trim();
        match kind {
            FieldType::Text => Some(TemplateValue::Text(raw.to_string())),
            FieldType::Int | FieldType::Float => {
                let digits: String =
                    raw.chars().filter(|c| c.is_ascii_digit() || matches!(c, ',' | '.' | '-')).collect();
                let neg = digits.starts_with('-');
                let v = number_value(digits.trim_start_matches('-'), self.options.decimal)?;
                Some(TemplateValue::Number(if neg { -v } else { v }))
            }
            FieldType::Date => {
                for f in &self.options.date_formats {
                    if let Ok(d) = NaiveDate::parse_from_str(raw, f) {
                        return Some(TemplateValue::Date(d));
                    }
                }
                let month_first = self.options.date_formats.iter().any(|f| f.starts_with("%m"));
                parse_date(raw, month_first).map(|(d, _)| TemplateValue::Date(d))
            }
        }
    }

    /// Apply the template when its keywords match.
    pub fn apply(&self, doc: &Document) -> Option<TemplateMatch> {
        let t = self.prepare(doc);
        let keyword_locs = self.matches(doc, &t)?;
        let method = Method::Template { name: self.name.clone() };
        let keyword_evidence = Evidence { locations: keyword_locs, method: method.clone(), confidence: 0.9 };
        let mut fields = Vec::new();
        for f in &self.fields {
            match &f.source {
                FieldSource::Static(v) => {
                    if let Some(value) = self.typed(f.kind, v) {
                        fields.push((f.name.clone(), value, keyword_evidence.clone()));
                    }
                }
                FieldSource::Regexes { regexes, group } => {
                    let mut found: Vec<(TemplateValue, Vec<Location>)> = Vec::new();
                    for re in regexes {
                        for c in re.captures_iter(&t.s) {
                            let m = c.get(1).or(c.get(0)).expect("match");
                            if let Some(v) = self.typed(f.kind, m.as_str()) {
                                found.push((v, t.locations(doc, m.start(), m.end())));
                            }
                        }
                    }
                    let picked = match group {
                        Group::First => found.into_iter().next(),
                        Group::Last => found.into_iter().last(),
                        Group::Sum | Group::Min | Group::Max => {
                            let nums: Vec<(Decimal, Vec<Location>)> = found
                                .into_iter()
                                .filter_map(|(v, l)| {
                                    if let TemplateValue::Number(n) = v { Some((n, l)) } else { None }
                                })
                                .collect();
                            if nums.is_empty() {
                                None
                            } else {
                                let locs: Vec<Location> = nums.iter().flat_map(|(_, l)| l.clone()).collect();
                                let v = match group {
                                    Group::Sum => nums.iter().map(|(n, _)| *n).sum(),
                                    Group::Min => nums.iter().map(|(n, _)| *n).min().expect("non-empty"),
                                    _ => nums.iter().map(|(n, _)| *n).max().expect("non-empty"),
                                };
                                Some((TemplateValue::Number(v), locs))
                            }
                        }
                        Group::Join => {
                            if found.is_empty() {
                                None
                            } else {
                                let text = found
                                    .iter()
                                    .map(|(v, _)| match v {
                                        TemplateValue::Text(s) => s.clone(),
                                        TemplateValue::Number(n) => n.to_string(),
                                        TemplateValue::Date(d) => d.to_string(),
                                    })
                                    .collect::<Vec<_>>()
                                    .join(" ");
                                Some((
                                    TemplateValue::Text(text),
                                    found.into_iter().flat_map(|(_, l)| l).collect(),
                                ))
                            }
                        }
                    };
                    if let Some((v, locations)) = picked
                        && !locations.is_empty()
                    {
                        fields.push((
                            f.name.clone(),
                            v,
                            Evidence { locations, method: method.clone(), confidence: 0.95 },
                        ));
                    }
                }
            }
        }
        Some(TemplateMatch {
            template: self.name.clone(),
            issuer: self.issuer.clone(),
            currency: self.options.currency.clone(),
            fields,
            keyword_evidence,
        })
    }
}

/// The template that applies to a document: keywords all match; highest priority, then most
/// keywords, then name.
pub fn best_match(templates: &[Template], doc: &Document) -> Option<TemplateMatch> {
    let mut order: Vec<&Template> = templates.iter().collect();
    order.sort_by(|a, b| {
        b.priority.cmp(&a.priority).then(b.keywords.len().cmp(&a.keywords.len())).then(a.name.cmp(&b.name))
    });
    order.into_iter().find_map(|t| t.apply(doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::extract::tests::doc;

    const NETPRESSE: &str = r#"
issuer: NETPRESSE
input_module: pdftotext
fields:
  amount: Total TTC\s+:\s+([\d ]+,\d{2})
  date:
    parser: regex
    regex: Date\s*:\s*(\d{2}/\d{2}/\d{4})
    type: date
  invoice_number: Facture\s+n°\s+(\d+)
  static_siren: 530848134
keywords:
  - B 530 848 134
  - Facture
options:
  currency: EUR
  date_formats:
    - "%d/%m/%Y"
  decimal_separator: ","
"#;

    #[test]
    fn invoice2data_template_fields() {
        let t = parse("fr.netpresse.yml", NETPRESSE).unwrap();
        assert_eq!(t.unsupported, vec!["input_module"]);
        let d = doc(&[
            "NETPRESSE RCS B 530 848 134\nFacture n° 2022089083\nDate : 28/11/2022",
            "Total TTC : 1 056,02",
        ]);
        let m = t.apply(&d).unwrap();
        let get = |k: &str| m.fields.iter().find(|f| f.0 == k).unwrap().clone();
        assert_eq!(get("invoice_number").1, TemplateValue::Text("2022089083".into()));
        assert_eq!(get("amount").1, TemplateValue::Number(Decimal::new(105602, 2)));
        assert_eq!(get("amount").2.locations[0].page, 2);
        assert_eq!(get("amount").2.locations[0].text, "1 056,02");
        assert_eq!(get("date").1, TemplateValue::Date(NaiveDate::from_ymd_opt(2022, 11, 28).unwrap()));
        assert_eq!(get("siren").1, TemplateValue::Text("530848134".into()));
        assert_eq!(m.currency.as_deref(), Some("EUR"));
        // Keywords not all present: no match.
        assert!(t.apply(&doc(&["Facture n° 1"])).is_none());
    }

    #[test]
    fn options_keep_the_grounding() {
        let y = "issuer: X\nkeywords: [ACME]\nfields:\n  invoice_number: Invoice(\\d+)\noptions:\n  remove_whitespace: true\n  lowercase: false\n  replace:\n    - ['No\\.', '']\n";
        let t = parse("x.yml", y).unwrap();
        let m = t.apply(&doc(&["ACME\nInvoice No. 12 34"])).unwrap();
        assert_eq!(m.fields[0].1, TemplateValue::Text("1234".into()));
        assert_eq!(m.fields[0].2.locations[0].text, "12 34");
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(parse("x.yml", "issuer: X\nkeywords: [a]\nfoo: 1\n").is_err());
        assert!(parse("x.yml", "issuer: X\nkeywords: ['(']\n").is_err());
        assert!(parse("x.yml", "issuer: X\nkeywords: [a]\noptions:\n  colour: red\n").is_err());
    }
}
