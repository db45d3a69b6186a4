//! Every fixture of `fixtures/MANIFEST.json` gives what the manifest says (format, pages, how
//! the text was read, the strings printed on it, the typed error of a broken file), and exactly
//! its golden output (`x.expected.json` beside `x`, rewritten with LIASSE_UPDATE_GOLDEN=1).

use crate::common::{check, fixture, process_file};
use liasse::document::{PageMethod, Provenance};
use liasse::pipeline::{Outcome, Status};
use serde_json::Value;
use std::collections::BTreeSet;

fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture("MANIFEST.json")).unwrap();
    let m: Value = serde_json::from_str(&text).unwrap();
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("expect").is_some_and(|e| !e.is_null()))
        .cloned()
        .collect()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn all_text(o: &Outcome) -> String {
    o.document
        .as_ref()
        .map(|d| d.pages.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// Text with runs of white space folded, for comparing OCR output with printed strings.
fn folded(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_document(path: &str, entry: &Value, o: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |m: String| problems.push(format!("{path}: {m}"));
    if o.status != Status::Processed {
        fail(format!("expected a document, got {:?}", o.error));
        return problems;
    }
    let doc = o.document.as_ref().unwrap();
    let format = serde_json::to_value(doc.format).unwrap();
    if entry.get("format").is_some_and(|f| !f.is_null() && *f != format) {
        fail(format!("format {format}, expected {}", entry["format"]));
    }
    if let Some(n) = entry.get("pages").and_then(Value::as_u64)
        && doc.pages.len() as u64 != n
    {
        fail(format!("{} pages, expected {n}", doc.pages.len()));
    }
    match entry.get("method").and_then(Value::as_str) {
        Some("text") if !doc.pages.iter().all(|p| p.method == PageMethod::TextLayer) => {
            fail("expected every page from the text layer".into())
        }
        Some("ocr") if !doc.pages.iter().all(|p| p.method == PageMethod::Ocr && !p.words.is_empty()) => {
            fail("expected every page read by OCR, with words".into())
        }
        Some("einvoice") if doc.einvoice.is_none() => fail("expected an e-invoice".into()),
        _ => {}
    }
    let text = all_text(o);
    for s in strs(&entry["text_contains"]) {
        if !folded(&text).contains(&folded(&s)) {
            fail(format!("text lacks {s:?}"));
        }
    }
    // As the fixture generator's own check: a degraded scan may lose one of the strings (the
    // grey 200-dpi scan's dusty header loses its date, with the tesseract CLI too).
    let want = strs(&entry["ocr_should_find"]);
    let missing: Vec<&String> = want.iter().filter(|s| !folded(&text).contains(&folded(s))).collect();
    if missing.len() > 1 {
        fail(format!("OCR text lacks {missing:?}"));
    }
    problems
}

fn check_entry(entry: &Value) -> Vec<String> {
    let path = entry["path"].as_str().unwrap();
    let out = process_file(&fixture(path));
    let mut problems = Vec::new();
    match entry["expect"].as_str().unwrap() {
        "error" => {
            let want = entry["error"].as_str().unwrap();
            match out.as_slice() {
                [o] if o.status == Status::Failed
                    && serde_json::to_value(o.error.as_ref().unwrap().kind).unwrap() == want => {}
                _ => problems.push(format!(
                    "{path}: expected error {want}, got {:?}",
                    out.iter().map(|o| (&o.status, &o.error)).collect::<Vec<_>>()
                )),
            }
        }
        "document" => match out.as_slice() {
            [o] => problems.extend(check_document(path, entry, o)),
            _ => problems.push(format!("{path}: expected one outcome, got {}", out.len())),
        },
        "documents" => {
            let email = &entry["email"];
            let atts = email["attachments"].as_array().unwrap();
            let hashes = |o: &[&Outcome]| o.iter().map(|o| o.content_hash.0.clone()).collect::<BTreeSet<_>>();
            let processed: Vec<&Outcome> = out.iter().filter(|o| o.status == Status::Processed).collect();
            let failed: Vec<&Outcome> = out.iter().filter(|o| o.status == Status::Failed).collect();
            // The same bytes attached twice are one document.
            let want_docs: BTreeSet<String> = atts
                .iter()
                .filter(|a| a["expect"] == "document")
                .map(|a| a["sha256"].as_str().unwrap().to_string())
                .collect();
            let want_errs: BTreeSet<String> = atts
                .iter()
                .filter(|a| a["expect"] == "error")
                .map(|a| a["sha256"].as_str().unwrap().to_string())
                .collect();
            if hashes(&processed) != want_docs {
                problems.push(format!("{path}: documents {:?}, expected {want_docs:?}", hashes(&processed)));
            }
            if hashes(&failed) != want_errs {
                problems.push(format!("{path}: failures {:?}, expected {want_errs:?}", hashes(&failed)));
            }
            for o in &out {
                let Provenance::Email(p) = &o.source.provenance else {
                    problems.push(format!("{path}: an outcome without e-mail provenance"));
                    continue;
                };
                if o.source.name.contains('/') || o.source.name.contains('\\') || o.source.name.is_empty() {
                    problems.push(format!("{path}: unsafe name {:?}", o.source.name));
                }
                if let Some(subject) = email["subject"].as_str()
                    && p.subject.as_deref() != Some(subject)
                {
                    problems.push(format!("{path}: subject {:?}", p.subject));
                }
                if let Some(from) = email["from"].as_str()
                    && !p.from.as_deref().unwrap_or("").contains(from)
                {
                    problems.push(format!("{path}: from {:?}", p.from));
                }
                if let Some(date) = email["date"].as_str()
                    && p.date.as_deref() != Some(date)
                {
                    problems.push(format!("{path}: date {:?}", p.date));
                }
            }
            for a in atts.iter().filter(|a| a["expect"] == "document") {
                if let Some(same) = a["same_content_as"].as_str()
                    && let Some(o) =
                        processed.iter().find(|o| o.content_hash.0 == a["sha256"].as_str().unwrap())
                {
                    let twin = manifest().into_iter().find(|e| e["path"] == same).unwrap();
                    problems.extend(check_document(&format!("{path} → {}", a["filename"]), &twin, o));
                }
            }
        }
        other => problems.push(format!("{path}: unknown expectation {other}")),
    }
    problems
}

#[test]
fn every_fixture_gives_what_the_manifest_says() {
    let problems: Vec<String> = manifest().iter().flat_map(check_entry).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_fixture_matches_its_golden_output() {
    let mut stems = BTreeSet::new();
    for entry in manifest() {
        let path = fixture(entry["path"].as_str().unwrap());
        assert!(
            stems.insert(path.with_extension("")),
            "two fixtures share the golden file of {}",
            path.display()
        );
        check(&path);
    }
}
