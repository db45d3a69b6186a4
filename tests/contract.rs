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
        if facts["risky_clauses"].as_array().unwrap().is_empty() {
            // No risky clause: at most the clause classifier's low "to read" flags.
            assert!(a.risk <= liasse::contract::Level::Low, "{id}");
            for f in a.clauses.iter().flat_map(|c| &c.flags) {
                assert!(f.rule.starts_with("model.") && f.model.is_some(), "{id}: {f:?}");
            }
        } else {
            assert_eq!(serde_json::to_value(a.risk).unwrap(), "high", "{id}");
        }
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

// --- the clause classifier (models/clauses, ONNX Runtime through `ort`) ---------------------

fn clause_model() -> &'static liasse::contract::ClauseModel {
    static M: std::sync::OnceLock<liasse::contract::ClauseModel> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        liasse::model::init(None).expect("ONNX Runtime loads (ORT_DYLIB_PATH)");
        liasse::contract::ClauseModel::load(&crate::common::root().join("models/clauses/clauses.onnx"))
            .expect("the clause model loads")
    })
}

/// The labels the model gives to the first clause of a two-clause contract holding `body`.
fn labels_of(title: &str, heading: &str, body: &str) -> Vec<(String, f32)> {
    let rules = liasse::contract::ContractRules::builtin().unwrap();
    let doc = liasse::contract::text_document(
        "t",
        &format!("{title}\n\n1. {heading}\n\n{body}\n\n2. Divers\n\nRien."),
    );
    let a = liasse::contract::analyse_with(&doc, &rules, Some(clause_model()));
    assert_eq!(a.clauses.len(), 2);
    let c = a.clauses[0].classification.as_ref().expect("classified");
    assert_eq!(c.model, "clauses");
    c.labels.iter().map(|l| (l.label.clone(), l.score)).collect()
}

/// The model loads in Rust and labels known clauses (written here, not taken from the
/// training data): a French non-compete, an English limitation of liability, a governing-law
/// clause.
#[test]
fn clause_model_labels_known_clauses() {
    let m = clause_model();
    assert_eq!(m.model.labels.len(), m.thresholds.len());
    assert!(m.model.labels.len() >= 41 + 5, "CUAD's 41 categories and the French types");
    let has = |labels: &[(String, f32)], l: &str| labels.iter().any(|(x, _)| x == l);
    let nc = labels_of(
        "CONTRAT DE PRESTATION",
        "Non-concurrence",
        "Pendant toute la durée du contrat et pendant une période de deux ans après sa fin, le \
         Prestataire s'interdit d'exercer, directement ou indirectement, une activité concurrente \
         de celle du Client, et de s'intéresser à toute entreprise concurrente sur le territoire \
         français.",
    );
    assert!(has(&nc, "non_compete"), "{nc:?}");
    let lol = labels_of(
        "SERVICES AGREEMENT",
        "Limitation of Liability",
        "In no event shall either party be liable for any indirect, incidental or consequential \
         damages. The total liability of the Supplier under this Agreement shall not exceed the \
         total fees paid by the Customer during the twelve months preceding the claim.",
    );
    assert!(has(&lol, "cap_on_liability"), "{lol:?}");
    let gl = labels_of(
        "LICENSE AGREEMENT",
        "Governing Law",
        "This Agreement shall be governed by and construed in accordance with the laws of the State \
         of New York, without regard to its conflict of laws principles.",
    );
    assert!(has(&gl, "governing_law"), "{gl:?}");
}

/// Rust and Python give the same probabilities on the parity sample written by train.py.
#[test]
fn clause_model_parity_with_python() {
    let m = clause_model();
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::common::root().join("models/clauses/parity.json")).unwrap(),
    )
    .unwrap();
    let rows = sample["rows"].as_array().expect("rows");
    assert!(rows.len() >= 5);
    for row in rows {
        let sparse: liasse::features::Sparse = serde_json::from_value(row.clone()).expect("sparse row");
        let got = m.model.predict(&sparse.dense()).expect("predict");
        for key in ["onnx", "numpy"] {
            let want: Vec<f32> = serde_json::from_value(row[key].clone()).expect("probabilities");
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-5, "{} {key}: {a} vs {b}", row["id"]);
            }
        }
    }
}

/// Through the pipeline: every clause of the French contract is classified, the model version is
/// recorded, and the risk flags the model agrees with carry its evidence (name, version,
/// category, score) with a higher confidence; flags raised by the model alone cite the model.
#[test]
fn combined_risk_flags_carry_model_evidence() {
    let mut o = process_file(&fixture("text/contrat_prestation_fr.pdf"));
    let o = o.remove(0);
    let v = o.versions.clause_model.clone().expect("clause model version recorded");
    assert!(v.starts_with("clauses-"), "{v}");
    let a = o.contract.expect("analysed");
    assert!(
        a.clauses
            .iter()
            .all(|c| c.classification.as_ref().is_some_and(|k| k.version == v["clauses-".len()..]))
    );
    let mut corroborated = 0;
    for c in &a.clauses {
        for f in &c.flags {
            if let Some(s) = &f.model {
                assert_eq!(s.name, "clauses");
                assert!(s.score > 0.0 && s.score <= 1.0);
                if f.rule.starts_with("model.") {
                    assert!(matches!(f.evidence.method, liasse::evidence::Method::Model { .. }));
                    assert!(!f.evidence.locations.is_empty());
                } else {
                    corroborated += 1;
                    assert!(f.evidence.confidence >= 0.97, "{f:?}");
                }
            }
        }
    }
    assert!(corroborated >= 1, "at least one rule flag is corroborated by the model");
}
