//! Contracts: segmentation, key terms, risk flags, playbook and comparison, on the generated
//! fixtures (ground truth in `fixtures/MANIFEST.json`) and on CUAD texts.

use crate::common::{fixture, process_file};
use liasse::contract::segment;
use liasse::document::Document;
use serde_json::Value;

fn manifest_entry(id: &str) -> Value {
    let text = std::fs::read_to_string(fixture("MANIFEST.json")).unwrap();
    let m: Value = serde_json::from_str(&text).unwrap();
    m["files"].as_array().unwrap().iter().find(|f| f["id"] == id).cloned().unwrap()
}

fn document(path: &str) -> Document {
    let mut o = process_file(&fixture(path));
    o.remove(0).document.expect("a document")
}

/// Every clause of the manifest is found, with its number, heading and page, and nothing else.
fn check_segmentation(id: &str, path: &str) {
    let entry = manifest_entry(id);
    let doc = document(path);
    let seg = segment(&doc);
    let want = entry["facts"]["clauses"].as_array().unwrap();
    let got: Vec<(String, String, u32)> = seg
        .clauses
        .iter()
        .map(|c| (c.number.clone(), c.heading.clone().unwrap_or_default().to_lowercase(), c.page))
        .collect();
    let expected: Vec<(String, String, u32)> = want
        .iter()
        .map(|c| {
            (
                c["number"].as_str().unwrap().to_string(),
                c["heading"].as_str().unwrap().to_lowercase(),
                c["page"].as_u64().unwrap() as u32,
            )
        })
        .collect();
    assert_eq!(got, expected, "{id}");
    // Sub-clauses: every sub-clause text of the manifest lies in its clause's body, and the
    // bodies hold no running header or footer.
    for (c, w) in seg.clauses.iter().zip(want) {
        let body = c.locations.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n");
        let folded = body.split_whitespace().collect::<Vec<_>>().join(" ");
        for s in w["subclauses"].as_array().unwrap() {
            let t = s["text"].as_str().unwrap();
            let head: String = t.split_whitespace().take(8).collect::<Vec<_>>().join(" ");
            assert!(folded.contains(&head), "{id} {}: {head:?} not in {folded:?}", c.reference);
        }
        assert!(!body.contains("Page "), "{id} {}: footer in body {body:?}", c.reference);
        assert!(!body.contains("Paraphes"), "{id} {}: initials in body", c.reference);
        for l in c.locations.iter().chain([&c.heading_location]) {
            assert_eq!(doc.span_text(l.page, l.span), Some(l.text.as_str()), "grounded");
        }
        let n_sub = w["subclauses"].as_array().unwrap().iter().filter(|s| s["ref"] != w["ref"]).count();
        assert_eq!(c.subclauses.len(), n_sub, "{id} {}: sub-clauses", c.reference);
    }
}

#[test]
fn segmentation_of_the_french_services_contract() {
    check_segmentation("contrat_prestation_fr", "text/contrat_prestation_fr.pdf");
}

#[test]
fn segmentation_of_the_english_nda() {
    check_segmentation("nda_en", "text/nda_en.pdf");
}

#[test]
fn segmentation_of_the_french_amendment() {
    check_segmentation("avenant_fr", "text/avenant_fr.pdf");
}

fn cuad_texts() -> Vec<(String, String)> {
    let dir = crate::common::corpus("cuad/full_contract_txt");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// On CUAD's real contracts (flattened text), most are cut into several clauses numbered in
/// order, every clause grounded in the text.
#[test]
fn segmentation_of_cuad_contracts() {
    let texts = cuad_texts();
    let mut good = 0;
    for (name, text) in &texts {
        let doc = liasse::contract::text_document(name, text);
        let seg = segment(&doc);
        for c in &seg.clauses {
            for l in c.locations.iter().chain([&c.heading_location]) {
                assert_eq!(doc.span_text(l.page, l.span), Some(l.text.as_str()));
            }
        }
        if seg.clauses.len() >= 5 {
            good += 1;
        } else if std::env::var_os("SHOW").is_some() {
            eprintln!("{name}: {} clauses", seg.clauses.len());
        }
    }
    eprintln!("CUAD: {good}/{} contracts with >= 5 clauses", texts.len());
    // Measured 301/462 (65 %); the rest are one-paragraph texts or unnumbered layouts.
    assert!(good * 100 >= texts.len() * 60, "{good}/{}", texts.len());
}

fn analysis(path: &str) -> liasse::contract::ContractAnalysis {
    let mut o = process_file(&fixture(path));
    let o = o.remove(0);
    assert!(o.versions.contract_rules.as_deref().is_some_and(|v| v.starts_with("contract-rules-")));
    o.contract.expect("analysed as a contract")
}

/// The key terms of the French services contract, as the manifest states them, each grounded.
#[test]
fn key_terms_of_the_french_services_contract() {
    let facts = &manifest_entry("contrat_prestation_fr")["facts"];
    let a = analysis("text/contrat_prestation_fr.pdf");
    let t = &a.terms;
    assert_eq!(a.language, "fr");
    let names: Vec<&str> = t.parties.iter().map(|p| p.value.as_str()).collect();
    let want: Vec<&str> =
        facts["parties"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, want);
    assert_eq!(
        t.effective_date.as_ref().unwrap().value.to_string(),
        facts["effective_date"].as_str().unwrap()
    );
    assert_eq!(t.term_months.as_ref().unwrap().value as u64, facts["term_months"].as_u64().unwrap());
    assert!(t.renewal_automatic.as_ref().unwrap().value);
    assert_eq!(
        t.renewal_period_months.as_ref().unwrap().value as u64,
        facts["renewal"]["period_months"].as_u64().unwrap()
    );
    assert_eq!(
        t.renewal_notice_months.as_ref().unwrap().value as u64,
        facts["renewal"]["notice_months"].as_u64().unwrap()
    );
    assert_eq!(t.payment_days.as_ref().unwrap().value as u64, facts["payment_days"].as_u64().unwrap());
    assert_eq!(t.governing_law.as_ref().unwrap().value, facts["governing_law"].as_str().unwrap());
    assert_eq!(t.jurisdiction.as_ref().unwrap().value, facts["jurisdiction"].as_str().unwrap());
    assert_eq!(t.liability_cap.as_ref().unwrap().value, "uncapped");
    assert_eq!(t.price_revision.as_ref().unwrap().value, "index");
    assert!(t.termination.iter().any(|x| x.value == "for_breach"));
    let doc = document("text/contrat_prestation_fr.pdf");
    for g in [&t.governing_law, &t.jurisdiction].into_iter().flatten() {
        for l in &g.evidence.locations {
            assert_eq!(doc.span_text(l.page, l.span), Some(l.text.as_str()));
        }
    }
}

#[test]
fn key_terms_of_the_english_nda() {
    let facts = &manifest_entry("nda_en")["facts"];
    let a = analysis("text/nda_en.pdf");
    assert_eq!(a.language, "en");
    assert_eq!(a.terms.parties.len(), 2);
    assert_eq!(a.terms.governing_law.as_ref().unwrap().value, facts["governing_law"].as_str().unwrap());
    assert_eq!(a.terms.jurisdiction.as_ref().unwrap().value, facts["jurisdiction"].as_str().unwrap());
    assert_eq!(
        a.terms.effective_date.as_ref().unwrap().value.to_string(),
        facts["effective_date"].as_str().unwrap()
    );
}

/// Risky clauses of the fixtures are exactly those of the manifest, with the manifest's reason.
#[test]
fn risk_flags_match_the_manifest() {
    for (id, path) in [
        ("contrat_prestation_fr", "text/contrat_prestation_fr.pdf"),
        ("nda_en", "text/nda_en.pdf"),
        ("avenant_fr", "text/avenant_fr.pdf"),
    ] {
        let facts = &manifest_entry(id)["facts"];
        let a = analysis(path);
        for (c, t) in a.clauses.iter().zip(facts["clauses"].as_array().unwrap()) {
            let risky = t["risk"] == "risky";
            assert_eq!(c.risk >= liasse::contract::Level::Medium, risky, "{id} {}", c.clause.reference);
            if let Some(reason) = t["risk_reason"].as_str() {
                assert!(c.flags.iter().any(|f| f.kind == reason), "{id} {}: {reason}", c.clause.reference);
                for f in &c.flags {
                    assert!(!f.evidence.locations.is_empty());
                }
            }
        }
        let want_risk = if facts["risky_clauses"].as_array().unwrap().is_empty() { "none" } else { "high" };
        assert_eq!(serde_json::to_value(a.risk).unwrap(), want_risk, "{id}");
    }
}

/// The playbook against the French services contract: its 6-month notice, 36-month renewals
/// and unlimited liability deviate (with the gap and the clause), French law and courts conform.
#[test]
fn playbook_of_the_french_services_contract() {
    use liasse::contract::playbook::Status;
    let a = analysis("text/contrat_prestation_fr.pdf");
    let by = |id: &str| a.playbook.iter().find(|f| f.position == id).unwrap_or_else(|| panic!("{id}"));
    let n = by("renewal_notice_max_3_months");
    assert_eq!((n.status, n.clause.as_deref()), (Status::Deviating, Some("Article 2")));
    assert!(n.gap.as_deref().unwrap().starts_with("3 months more"));
    assert_eq!(by("renewal_period_max_12_months").status, Status::Deviating);
    let l = by("liability_cap_annual_fees");
    assert_eq!((l.status, l.clause.as_deref()), (Status::Deviating, Some("Article 11")));
    assert_eq!(by("payment_max_60_days").status, Status::Conforming);
    assert_eq!(by("french_law").status, Status::Conforming);
    assert_eq!(by("french_courts").clause.as_deref(), Some("Article 17"));
    // The NDA states no payment term: missing; English law deviates from French law.
    let nda = analysis("text/nda_en.pdf");
    let f = |id: &str| nda.playbook.iter().find(|f| f.position == id).unwrap().status;
    assert_eq!(f("payment_max_60_days"), Status::Missing);
    assert_eq!(f("french_law"), Status::Deviating);
}

/// A contract compared with itself has no change; with its amendment, nothing matches by text.
#[test]
fn compare_versions() {
    use liasse::contract::compare::{Change, RiskChange, compare};
    let a = analysis("text/contrat_prestation_fr.pdf");
    let same = compare(&a, &a);
    assert!(same.clauses.iter().all(|d| d.change == Change::Unchanged));
    assert_eq!((same.added, same.removed, same.changed, same.risk), (0, 0, 0, RiskChange::Same));
    let amendment = analysis("text/avenant_fr.pdf");
    let c = compare(&a, &amendment);
    assert_eq!(c.risk, RiskChange::Lowered);
    assert_eq!(
        c.removed as usize
            + c.changed as usize
            + c.clauses.iter().filter(|d| d.change == Change::Unchanged).count(),
        a.clauses.len()
    );
}
