//! Invoices: every invoice fixture's fields against its MANIFEST facts, the validation and
//! history checks through the pipeline, splitting a PDF of several invoices.

use crate::common::{config, engine, fixture, process_file};
use liasse::document::Document;
use liasse::intake::Input;
use liasse::invoice::{AnalysedInvoice, Decision, ExtractedInvoice, MemoryHistory, analyse};
use liasse::pipeline::process_with_history;
use std::collections::BTreeMap;

fn manifest() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("MANIFEST.json")).unwrap()).unwrap()
}

fn facts_of(path: &str) -> serde_json::Value {
    manifest()["files"].as_array().unwrap().iter().find(|f| f["path"] == path).unwrap()["facts"].clone()
}

/// Comparable field values of an extraction (amounts as absolute values, to compare with facts).
pub fn values(e: &ExtractedInvoice) -> BTreeMap<&'static str, String> {
    let mut m = BTreeMap::new();
    let mut put = |k: &'static str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k, v);
        }
    };
    let s = |g: &Option<liasse::evidence::Grounded<String>>| g.as_ref().map(|g| g.value.clone());
    let d = |g: &Option<liasse::evidence::Grounded<rust_decimal::Decimal>>| {
        g.as_ref().map(|g| g.value.abs().normalize().to_string())
    };
    put("number", s(&e.number));
    put("issue_date", e.issue_date.as_ref().map(|g| g.value.to_string()));
    put("due_date", e.due_date.as_ref().map(|g| g.value.to_string()));
    put("currency", s(&e.currency));
    put("gross", d(&e.gross_total));
    put("net", d(&e.net_total));
    put("vat", d(&e.vat_total));
    put("supplier_name", s(&e.supplier.name));
    put("supplier_vat", s(&e.supplier.vat_id));
    put("supplier_siren", s(&e.supplier.siren));
    put("customer_name", s(&e.customer.name));
    put("customer_vat", s(&e.customer.vat_id));
    put("iban", s(&e.iban));
    put("bic", s(&e.bic));
    put("order_number", s(&e.order_number));
    put("payment_terms", s(&e.payment_terms));
    m
}

pub fn fact_values(f: &serde_json::Value) -> BTreeMap<&'static str, String> {
    let mut m = BTreeMap::new();
    let mut put = |k: &'static str, v: &serde_json::Value| {
        if let Some(s) = v.as_str() {
            let s = if matches!(k, "gross" | "net" | "vat") {
                s.parse::<rust_decimal::Decimal>().unwrap().normalize().to_string()
            } else {
                s.to_string()
            };
            m.insert(k, s);
        }
    };
    put("number", &f["number"]);
    put("issue_date", &f["issue_date"]);
    put("due_date", &f["due_date"]);
    put("currency", &f["currency"]);
    put("gross", &f["totals"]["gross"]);
    put("net", &f["totals"]["net"]);
    put("vat", &f["totals"]["vat"]);
    put("supplier_name", &f["seller"]["name"]);
    put("supplier_vat", &f["seller"]["vat"]);
    put("supplier_siren", &f["seller"]["siren"]);
    put("customer_name", &f["buyer"]["name"]);
    put("customer_vat", &f["buyer"]["vat"]);
    put("iban", &f["iban"]);
    put("bic", &f["bic"]);
    put("order_number", &f["buyer_reference"]);
    put("payment_terms", &f["payment_terms"]);
    m
}

fn first_invoice(path: &str) -> AnalysedInvoice {
    let out = process_file(&fixture(path));
    assert_eq!(out.len(), 1, "{path}");
    let a = out[0].invoice.as_ref().unwrap_or_else(|| panic!("{path}: no invoice analysis"));
    assert!(out[0].versions.invoice_rules.is_some());
    a.invoices[0].clone()
}

/// Every emitted value equals the fact (precision), and every field of `required` is emitted
/// (recall).
fn check_fixture(path: &str, required: &[&str], lines: bool) {
    let facts = facts_of(path);
    let inv = first_invoice(path);
    let got = values(&inv.extracted);
    let want = fact_values(&facts);
    for (k, v) in &got {
        if let Some(w) = want.get(k) {
            assert_eq!(v, w, "{path}: {k}");
        }
    }
    for k in required {
        assert!(want.contains_key(k), "{path}: no fact for {k}");
        assert_eq!(got.get(k), want.get(k), "{path}: {k} not found");
    }
    if lines {
        let fl = facts["lines"].as_array().unwrap();
        let el = &inv.extracted.lines;
        assert_eq!(el.len(), fl.len(), "{path}: line count");
        for (e, f) in el.iter().zip(fl) {
            let want: rust_decimal::Decimal = f["net"].as_str().unwrap().parse().unwrap();
            assert_eq!(e.amount.value.abs(), want, "{path}: line {}", f["id"]);
            if let Some(p) = f["page"].as_u64() {
                assert_eq!(e.page as u64, p, "{path}: page of line {}", f["id"]);
            }
        }
    }
    // Every value is grounded: a text value has a location citing the page text.
    for l in &inv.extracted.lines {
        assert!(
            !l.description.evidence.locations.is_empty()
                || matches!(l.description.evidence.method, liasse::evidence::Method::EInvoiceXml { .. })
        );
    }
    if let Some(n) = &inv.extracted.number
        && n.evidence.locations.is_empty()
    {
        assert!(matches!(n.evidence.method, liasse::evidence::Method::EInvoiceXml { .. }), "{path}");
    }
}

const ALL: &[&str] = &[
    "number",
    "issue_date",
    "currency",
    "gross",
    "net",
    "vat",
    "supplier_name",
    "supplier_vat",
    "customer_name",
    "customer_vat",
    "order_number",
    "payment_terms",
];

#[test]
fn french_invoice_text_layer() {
    let mut req = ALL.to_vec();
    req.extend(["due_date", "iban", "bic", "supplier_siren"]);
    check_fixture("text/facture_fr_2pages.pdf", &req, true);
    check_fixture("broken/protege_proprietaire.pdf", &req, true);
    check_fixture("broken/protege_proprietaire_rc4.pdf", &req, true);
}

#[test]
fn english_invoice_text_layer() {
    let mut req = ALL.to_vec();
    req.extend(["due_date", "iban", "bic"]);
    check_fixture("text/invoice_en.pdf", &req, true);
}

#[test]
fn credit_note_is_signed() {
    let mut req = ALL.to_vec();
    req.push("supplier_siren");
    check_fixture("text/avoir_fr.pdf", &req, true);
    let inv = first_invoice("text/avoir_fr.pdf");
    assert!(inv.extracted.is_credit_note());
    assert!(inv.extracted.gross_total.as_ref().unwrap().value.is_sign_negative());
    assert!(inv.extracted.lines.iter().all(|l| l.amount.value.is_sign_negative()));
}

#[test]
fn scans_two_pages() {
    let mut req = ALL.to_vec();
    req.extend(["due_date", "iban", "bic", "supplier_siren"]);
    check_fixture("scan/facture_fr_scan_g4.pdf", &req, true);
    check_fixture("scan/facture_fr_scan_multipage.tif", &req, true);
    check_fixture("scan/facture_fr_scan_gris.pdf", &req, true);
    // OCR values carry boxes.
    let inv = first_invoice("scan/facture_fr_scan_g4.pdf");
    assert!(inv.extracted.number.as_ref().unwrap().evidence.locations[0].bbox.is_some());
}

#[test]
fn scans_first_page_only() {
    let req = [
        "number",
        "issue_date",
        "due_date",
        "currency",
        "supplier_name",
        "supplier_vat",
        "customer_name",
        "customer_vat",
        "order_number",
    ];
    check_fixture("scan/facture_fr_scan_p1.png", &req, false);
    check_fixture("scan/facture_fr_photo.jpg", &req, false);
}

#[test]
fn einvoices_xml_wins_and_agrees_with_the_page() {
    let mut req = ALL.to_vec();
    req.extend(["due_date", "iban", "bic"]);
    for path in ["einvoice/facturx_fr_en16931.pdf", "einvoice/facture_cii.xml", "einvoice/invoice_ubl.xml"] {
        check_fixture(path, &req, true);
        let inv = first_invoice(path);
        assert_eq!(inv.extracted.source, liasse::invoice::Source::EInvoice);
        assert!(inv.flags.iter().all(|f| f.rule != "einvoice.text_mismatch"), "{path}: {:?}", inv.flags);
    }
    // The visible page confirms the XML: the number carries both the XML path and the page span.
    let inv = first_invoice("einvoice/facturx_fr_en16931.pdf");
    let n = inv.extracted.number.unwrap();
    assert!(matches!(n.evidence.method, liasse::evidence::Method::EInvoiceXml { .. }));
    assert_eq!(n.evidence.locations[0].text, "FA-2026-0311");
}

#[test]
fn xml_and_page_disagreeing_is_a_flag() {
    let out = process_file(&fixture("einvoice/facturx_fr_en16931.pdf"));
    let mut doc: Document = out[0].document.clone().unwrap();
    let p = &mut doc.pages[0];
    p.text = p.text.replace("Total TTC 20 640,00 €", "Total TTC 21 640,00 €");
    // The reading-order view of the page shows the same glyphs: it says 21 640,00 too.
    let layout = p.layout.as_mut().expect("a text-layer page has its layout");
    assert!(layout.contains("20 640,00"), "{layout}");
    *layout = layout.replacen("Total TTC   20 640,00 €", "Total TTC   21 640,00 €", 1);
    assert!(layout.contains("21 640,00"), "{layout}");
    let mut h = MemoryHistory::default();
    let a = analyse(
        &doc,
        &engine().invoice_rules,
        &config().invoice,
        &mut h,
        engine().fraud_model.as_ref(),
        config().invoice.today.unwrap(),
    );
    let inv = &a.invoices[0];
    let f = inv.flags.iter().find(|f| f.rule == "einvoice.text_mismatch").expect("mismatch flag");
    assert!(f.detail.contains("gross total"), "{}", f.detail);
    // The XML value wins.
    assert_eq!(inv.extracted.gross_total.as_ref().unwrap().value.to_string(), "20640.00");
}

#[test]
fn contracts_are_not_invoices() {
    for path in ["text/contrat_prestation_fr.pdf", "text/nda_en.pdf", "text/avenant_fr.pdf"] {
        assert!(process_file(&fixture(path))[0].invoice.is_none(), "{path}");
    }
}

#[test]
fn clean_invoices_are_not_blocked_and_pass_when_known() {
    let mut h = MemoryHistory::default();
    let read = |p: &str| std::fs::read(fixture(p)).unwrap();
    let first =
        process_with_history(engine(), Input::file(read("text/invoice_en.pdf"), "a.pdf", None), &mut h);
    let inv = &first[0].invoice.as_ref().unwrap().invoices[0];
    assert_ne!(inv.risk.decision, Decision::Block);
    assert!(inv.flags.iter().any(|f| f.rule == "supplier.new"));
}

#[test]
fn duplicates_through_the_pipeline() {
    let mut h = MemoryHistory::default();
    let read = |p: &str| std::fs::read(fixture(p)).unwrap();
    let run = |h: &mut MemoryHistory, p: &str| {
        let out = process_with_history(engine(), Input::file(read(p), "x.pdf", None), h);
        out[0].invoice.as_ref().unwrap().invoices[0].clone()
    };
    let a = run(&mut h, "text/facture_fr_2pages.pdf");
    assert!(a.flags.iter().all(|f| !f.rule.starts_with("duplicate.")));
    // The same file again.
    let b = run(&mut h, "text/facture_fr_2pages.pdf");
    assert!(b.flags.iter().any(|f| f.rule == "duplicate.same_file"));
    assert_eq!(b.risk.decision, Decision::Block);
    // The same invoice by another channel (its scan): same supplier and number.
    let c = run(&mut h, "scan/facture_fr_scan_g4.pdf");
    assert!(c.flags.iter().any(|f| f.rule == "duplicate.number"), "{:?}", c.flags);
    assert_eq!(c.risk.decision, Decision::Block);
    assert!(c.risk.reasons.iter().any(|r| r.rule == "duplicate.number" && r.weight > 0.5));
}

#[test]
fn a_pdf_of_several_invoices_is_split() {
    let fr = process_file(&fixture("text/facture_fr_2pages.pdf"))[0].document.clone().unwrap();
    let en = process_file(&fixture("text/invoice_en.pdf"))[0].document.clone().unwrap();
    let mut doc = fr.clone();
    for p in &en.pages {
        let mut p = p.clone();
        p.number = doc.pages.len() as u32 + 1;
        doc.pages.push(p);
    }
    assert_eq!(liasse::invoice::split(&doc, &engine().invoice_rules), vec![vec![1, 2], vec![3]]);
    let mut h = MemoryHistory::default();
    let a = analyse(
        &doc,
        &engine().invoice_rules,
        &config().invoice,
        &mut h,
        engine().fraud_model.as_ref(),
        config().invoice.today.unwrap(),
    );
    assert_eq!(a.invoices.len(), 2);
    assert_eq!(a.invoices[0].extracted.number.as_ref().unwrap().value, "FA-2026-0142");
    assert_eq!(a.invoices[1].extracted.number.as_ref().unwrap().value, "INV-10427");
    assert_eq!(a.invoices[1].extracted.gross_total.as_ref().unwrap().value.to_string(), "818.45");
    assert!(a.invoices[1].extracted.lines.iter().all(|l| l.page == 3));
    assert_eq!(h.invoices.len(), 2);
}

/// The fraud scenarios of `fixtures/fraud` (`fixtures/make.sh fraud fixtures/fraud --per-kind 1
/// --clean 2 --seed 7`): each scenario's earlier invoices, then its target, through the pipeline
/// with one history. Every fraud is flagged with its reason and not passed; no clean control is
/// blocked.
#[test]
fn fraud_scenarios_are_flagged_with_their_reason() {
    let dir = fixture("fraud");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("scenarios.json")).unwrap()).unwrap();
    let scenarios = v["scenarios"].as_array().unwrap();
    assert!(scenarios.len() >= 12);
    for s in scenarios {
        let id = s["id"].as_str().unwrap();
        let mut h = MemoryHistory::default();
        let mut last = Vec::new();
        for f in s["files"].as_array().unwrap() {
            let path = dir.join(f.as_str().unwrap());
            last = process_with_history(
                engine(),
                Input::file(std::fs::read(&path).unwrap(), "x.pdf", None),
                &mut h,
            );
        }
        let inv = &last[0].invoice.as_ref().unwrap_or_else(|| panic!("{id}: no invoice")).invoices[0];
        let rules: Vec<&str> = inv.flags.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(
            inv.extracted.number.as_ref().map(|n| n.value.as_str()),
            s["facts"]["number"].as_str(),
            "{id}"
        );
        match s["reason"].as_str() {
            Some(reason) => {
                assert!(rules.contains(&reason), "{id}: {reason} not in {rules:?}");
                assert_ne!(inv.risk.decision, Decision::Pass, "{id}: {:?}", inv.risk);
                // The reason is listed with its weight.
                assert!(inv.risk.reasons.iter().any(|r| r.rule == reason && r.weight > 0.0), "{id}");
            }
            None => assert_ne!(inv.risk.decision, Decision::Block, "{id}: {:?}", inv.risk),
        }
    }
}

/// The fraud model gives in Rust the probabilities Python's onnxruntime gave on held-out rows
/// (`models/fraud/parity.json`, written by train.py).
#[test]
fn fraud_model_parity_with_python() {
    let root = crate::common::root();
    liasse::model::init(None).expect("ONNX Runtime (ORT_DYLIB_PATH)");
    let model = liasse::invoice::fraud::FraudModel::load(&root.join("models/fraud/fraud.onnx")).unwrap();
    assert_eq!(model.name(), "fraud");
    let parity: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("models/fraud/parity.json")).unwrap())
            .unwrap();
    let rows = parity["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        let dim = r["dim"].as_u64().unwrap() as usize;
        let mut x = vec![0f32; dim];
        for (i, v) in r["indices"].as_array().unwrap().iter().zip(r["values"].as_array().unwrap()) {
            x[i.as_u64().unwrap() as usize] = v.as_f64().unwrap() as f32;
        }
        // Column 0 is the (empty) text part; the signals follow.
        let p = model.probability(&x[1..]).unwrap();
        let want = r["onnx"][1].as_f64().unwrap() as f32;
        assert!((p - want).abs() < 1e-5, "{}: {p} vs {want}", r["id"]);
    }
}

/// `liasse eval`'s scoring on a small subset: the text-layer fixtures against their facts, read
/// from the visible page only.
#[test]
fn eval_on_a_small_subset() {
    use liasse::invoice::eval::{Scores, truth_facts};
    let mut s = Scores::new("subset");
    for path in ["text/facture_fr_2pages.pdf", "text/invoice_en.pdf", "text/avoir_fr.pdf"] {
        let doc = process_file(&fixture(path))[0].document.clone().unwrap();
        let e = liasse::invoice::extract_with(
            &doc,
            &engine().invoice_rules,
            &liasse::invoice::ExtractOptions { use_einvoice: false },
        );
        let text: String = doc.pages.iter().map(|p| p.text.as_str()).collect();
        s.add(path, Some(&e), &truth_facts(&facts_of(path)), Some(&text));
    }
    for f in ["number", "issue_date", "gross_total", "currency", "supplier_name", "supplier_vat"] {
        let x = &s.fields[f];
        assert_eq!((x.truth, x.correct), (3, 3), "{f}: {}", s.table());
        if !["issue_date", "currency"].contains(&f) {
            assert_eq!(x.printed, 3, "{f}: {}", s.table());
        }
    }
    assert!(s.table().contains("| number | 3 | 3 | 3 | 3 | 100.0 % | 100.0 % |"));
}

/// A test invoice of invoice2data read by intake, and the engine's rules with one of
/// invoice2data's templates (paths under the corpus's `tests/compare` and `templates`).
fn with_template(pdf: &str, template: &str) -> (Document, liasse::invoice::InvoiceRules) {
    let bytes = std::fs::read(crate::common::corpus(&format!("invoice2data/tests/compare/{pdf}"))).unwrap();
    let doc = engine()
        .intake
        .read(Input::file(bytes, pdf, None))
        .into_iter()
        .find_map(|i| i.result.ok())
        .expect("read");
    let mut rules = engine().invoice_rules.clone();
    let yml = std::fs::read_to_string(crate::common::corpus(&format!("invoice2data/templates/{template}")))
        .unwrap();
    rules.templates.push(liasse::invoice::templates::parse(template, &yml).unwrap());
    (doc, rules)
}

/// invoice2data's templates are written for `pdftotext -layout` text: they are applied on the
/// page's reading-order layout, and what they read is grounded in the page text (stream order).
#[test]
fn invoice2data_templates_read_the_layout_and_ground_in_the_page_text() {
    use liasse::evidence::Method;
    use liasse::invoice::{ExtractOptions, extract_with};
    let (doc, rules) = with_template("free_fiber.pdf", "fr/fr.free.adsl-fiber.yml");
    assert!(doc.pages[0].layout.is_some());
    let opts = ExtractOptions { use_einvoice: false };
    let e = extract_with(&doc, &rules, &opts);
    for (what, g, value) in [("gross", &e.gross_total, "29.99"), ("net", &e.net_total, "24.99")] {
        let g = g.as_ref().unwrap_or_else(|| panic!("{what} read"));
        assert_eq!(g.value.to_string(), value, "{what}");
        assert!(matches!(g.evidence.method, Method::Template { .. }), "{what}: {:?}", g.evidence.method);
        // The evidence is a span of the page text (stream order) holding the printed amount.
        let loc = &g.evidence.locations[0];
        let printed = &doc.pages[0].text[loc.span.start..loc.span.end];
        assert_eq!(printed, loc.text);
        let digits: String = printed.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(digits, value.replace('.', ""), "{what}: {printed:?}");
    }
    // Without the layout, the same template on the stream text does not read these totals.
    let mut stream_only = doc.clone();
    stream_only.pages.iter_mut().for_each(|p| p.layout = None);
    let s = extract_with(&stream_only, &rules, &opts);
    assert_ne!(s.gross_total.map(|g| g.value.to_string()).as_deref(), Some("29.99"));
}

#[test]
fn invoice2data_template_reads_a_value_the_stream_text_separates_from_its_label() {
    use liasse::evidence::Method;
    use liasse::invoice::{ExtractOptions, extract_with};
    // coolblue2.pdf: in the stream text "BTW" is followed by the IBAN; the template's `vat` regex
    // must read the layout ("BTW NL810433941B01"), as invoice2data reads `pdftotext -layout`.
    // (A template whose keywords only the stream text shows, still read on the layout:
    // `invoice::views::tests::keywords_only_the_stream_shows_still_read_the_layout`.)
    let (doc, rules) = with_template("coolblue2.pdf", "nl/nl.be.coolblue.yml");
    let e = extract_with(&doc, &rules, &ExtractOptions { use_einvoice: false });
    let vat = e.supplier.vat_id.expect("vat read");
    assert_eq!(vat.value, "NL810433941B01");
    assert!(matches!(vat.evidence.method, Method::Template { .. }));
    let loc = &vat.evidence.locations[0];
    assert_eq!(&doc.pages[0].text[loc.span.start..loc.span.end], "NL810433941B01");
    assert_eq!(e.number.unwrap().value, "992288600");
}
