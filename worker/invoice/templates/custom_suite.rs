//! invoice2data's own custom test suite (`tests/custom/*.txt` and their expected JSON, in
//! `../shared/corpus/invoice2data`), run through our template engine. The corpus holds the texts
//! and the expected output but not invoice2data's test templates, so the templates below were
//! written here for those texts, using the same invoice2data features (`parser: lines` with one
//! or several `line` patterns, several blocks, several `rules`; `tables` with `group`).

use super::*;
use crate::invoice::extract::tests::doc;

const DIR: &str = "../shared/corpus/invoice2data/tests/custom";

const HEADER: &str = r#"
  date:
    parser: regex
    regex: Issue date:\s*(\d{4}-\d{2}-\d{2})
    type: date
  invoice_number:
    parser: regex
    regex: Invoice number:\s*(\S+)
  amount:
    parser: regex
    regex: Total:\s*(\d+\.\d+)
    type: float
"#;
const OPTIONS: &str =
    "options:\n  currency: EUR\n  decimal_separator: '.'\n  date_formats:\n    - '%Y-%m-%d'\n";

fn templates() -> Vec<Template> {
    let t = |name: &str, head: &str, extra_fields: &str, rest: &str| {
        parse(name, &format!("{head}\nfields:{HEADER}{extra_fields}{rest}{OPTIONS}")).unwrap()
    };
    vec![
        t("basic.yml", "issuer: Basic Test\nkeywords: ['Issuer: Basic Test']", "", ""),
        t(
            "lines-basic.yml",
            "issuer: Lines Tests\nkeywords: [Lines Tests, Lines basic]",
            r#"  simple_lines:
    parser: lines
    start: Simple lines start
    end: Simple lines end
    line: ^(?P<number>\S.*)$
  column_lines:
    parser: lines
    start: Columns start
    end: Columns end
    line: ^(?P<pos>\d+)\.\s+(?P<name>\S+)\s+(?P<qty>[\d.]+)(?:\s+(?P<unit>\S+))?$
    types:
      pos: int
      qty: float
"#,
            "",
        ),
        t(
            "lines-blocks.yml",
            "issuer: Lines Tests\nkeywords: [Lines Tests, Lines in multiple blocks]",
            r#"  lines:
    parser: lines
    start: Lines start
    end: Lines end
    line: ^(?P<pos>\d+)\.\s+(?P<name>.+)$
    types:
      pos: int
"#,
            "",
        ),
        t(
            "lines-multiple-patterns.yml",
            "issuer: Lines Tests\nkeywords: [Lines Tests, Lines with multiple patterns]",
            r#"  lines:
    parser: lines
    start: Lines start
    end: Lines end
    line:
      - ^Group:\s*(?P<group>.+)$
      - ^Subgroup:\s*(?P<subgroup>.+)$
      - ^(?P<pos>\d+)\.\s+(?P<name>.+)$
    types:
      pos: int
  dimensions:
    parser: lines
    end: Count
    types:
      pos: int
      angle: int
      length: int
    rules:
      - start: No\s+Angle.*Length
        line: ^(?P<pos>\d+)\s+(?P<angle>\d+)\s+(?P<length>\d+)$
      - start: No\s+Length.*Angle
        line: ^(?P<pos>\d+)\s+(?P<length>\d+)\s+(?P<angle>\d+)$
"#,
            "",
        ),
        t(
            "table-groups.yml",
            "issuer: Table Groups Tests\nkeywords: [Table basic, Simple table start]",
            "",
            r#"tables:
  - start: Tax precentage\s+amount\s+qty
    end: Simple table end
    body: (?P<line_tax_percent>\d+%)\s+(?P<lamount_tax>\d+\.\d\d)\s+(?P<random_num_to_sum>\d+\.\d\d)
    types:
      random_num_to_sum: float
    fields:
      random_num_to_sum:
        group: sum
  - start: Hotel Details\s+Check In\s+Check Out\s+Rooms
    end: Booking ID
    body: (?P<hotel_details>\S[^,]*),\s+(?P<date_check_in>\d+/\d+/\d{4})\s+(?P<date_check_out>\d+/\d+/\d{4})\s+(?P<qty_rooms>\d+)
    types:
      qty_rooms: int
    fields:
      date_check_in:
        group: first
      date_check_out:
        group: last
      qty_rooms:
        group: sum
"#,
        ),
    ]
}

/// Where `got` differs from `want`, as `path: want != got` lines (numbers compared as numbers).
fn diff(path: &str, want: &Value, got: Option<&Value>, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Some(Value::Object(g))) => {
            for (k, v) in w {
                diff(&format!("{path}.{k}"), v, g.get(k), out);
            }
            for k in g.keys().filter(|k| !w.contains_key(*k)) {
                out.push(format!("{path}.{k}: not expected"));
            }
        }
        (Value::Array(w), Some(Value::Array(g))) => {
            if w.len() != g.len() {
                out.push(format!("{path}: {} items != {}", w.len(), g.len()));
            }
            for (i, v) in w.iter().enumerate() {
                diff(&format!("{path}[{i}]"), v, g.get(i), out);
            }
        }
        (Value::Number(w), Some(Value::Number(g))) if w.as_f64() == g.as_f64() => {}
        (w, Some(g)) if w == g => {}
        (w, g) => out.push(format!("{path}: {w} != {}", g.map(Value::to_string).unwrap_or("missing".into()))),
    }
}

#[test]
fn invoice2data_custom_suite() {
    let templates = templates();
    let mut cases = std::fs::read_dir(DIR)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect::<Vec<_>>();
    cases.sort();
    assert_eq!(cases.len(), 5, "the corpus's custom cases");
    let mut differences = Vec::new();
    for p in &cases {
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(p).unwrap();
        let want: Value =
            serde_json::from_str(&std::fs::read_to_string(p.with_extension("json")).unwrap()).unwrap();
        let d = doc(&[text.as_str()]);
        let m = best_match(&templates, &d).unwrap_or_else(|| panic!("{name}: no template matched"));
        assert_eq!(m.template, format!("{name}.yml"));
        diff(&name, &want[0], Some(&m.to_json()), &mut differences);
        // Every value found in the text is grounded to its span.
        for (field, _, ev) in &m.fields {
            assert!(!ev.locations.is_empty(), "{name}.{field}");
        }
        for (field, rows) in &m.lines {
            for r in rows {
                for (col, v, locs) in &r.fields {
                    if *v != TemplateValue::Text(String::new()) {
                        assert_eq!(locs.len(), 1, "{name}.{field}.{col}");
                        assert_eq!(locs[0].page, 1);
                    }
                }
            }
        }
    }
    // Every expected field matches; "01/08/2024" matches none of the template's `date_formats`
    // and is read month first, as invoice2data's fallback (dateparser without `languages`) does.
    assert!(differences.is_empty(), "{differences:#?}");
}
