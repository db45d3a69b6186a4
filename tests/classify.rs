//! Features, ONNX models (ONNX Runtime through `ort`, no mocks) and the document classifier.

use crate::common::{self, root};
use liasse::features::{FeatureSpec, Sparse, document_text, text_features};
use liasse::model::{Model, ModelError};
use std::io::Write;
use std::process::{Command, Stdio};

fn tiny() -> Model {
    liasse::model::init(None).expect("ONNX Runtime loads (ORT_DYLIB_PATH)");
    Model::load(&root().join("models/testdata/tiny.onnx")).expect("the tiny model loads")
}

/// Compares the Rust probabilities with the Python side's on a stored parity sample.
fn check_parity(model: &Model, sample: &serde_json::Value) -> f32 {
    let mut worst = 0f32;
    let rows = sample["rows"].as_array().expect("rows");
    assert!(!rows.is_empty());
    for row in rows {
        let sparse: Sparse = serde_json::from_value(row.clone()).expect("sparse row");
        let got = model.predict(&sparse.dense()).expect("predict");
        for key in ["onnx", "sklearn"] {
            let want: Vec<f32> = serde_json::from_value(row[key].clone()).expect("probabilities");
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(&want) {
                let d = (a - b).abs();
                worst = worst.max(d);
                assert!(d <= 1e-5, "{} {key}: {got:?} vs {want:?}", row["id"]);
            }
        }
    }
    worst
}

#[test]
fn model_tiny_parity_with_python() {
    let m = tiny();
    let sample: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("models/testdata/tiny.parity.json")).unwrap(),
    )
    .unwrap();
    check_parity(&m, &sample);
}

#[test]
fn model_metadata_and_hash() {
    let m = tiny();
    assert_eq!(m.name, "tiny");
    assert_eq!(m.version, "1");
    assert_eq!(m.labels, ["colour", "fruit", "tool"]);
    assert_eq!(m.threshold, Some(0.5));
    assert_eq!(m.features.dim, 256);
    use sha2::Digest;
    let bytes = std::fs::read(root().join("models/testdata/tiny.onnx")).unwrap();
    assert_eq!(m.sha256, hex::encode(sha2::Sha256::digest(&bytes)));
    let p = m.predict_text("bananas and cherries").unwrap();
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    assert_eq!(p.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0, 1, "{p:?}");
}

#[test]
fn model_errors_are_values() {
    let m = tiny();
    assert!(matches!(m.predict(&[0.0; 3]), Err(ModelError::Input { expected: 256, actual: 3, .. })));
    assert!(matches!(
        Model::load(&root().join("models/testdata/missing.onnx")),
        Err(ModelError::Read { .. })
    ));
    // Not an ONNX file.
    assert!(matches!(
        Model::load(&root().join("models/testdata/make_tiny.py")),
        Err(ModelError::Invalid { .. })
    ));
}

#[test]
fn model_shared_across_threads() {
    let m = tiny();
    let want = m.predict_text("hammer").unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    assert_eq!(m.predict_text("hammer").unwrap(), want);
                }
            });
        }
    });
}

fn liasse() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_liasse"));
    c.current_dir(root()).env("LIASSE_LOG", "error");
    c
}

#[test]
fn features_command_on_texts_matches_the_library() {
    let mut child = liasse()
        .args(["features", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("liasse features runs");
    let texts = ["FACTURE n° 12 — Total TTC 1 200,00 €", "Mutual Non-Disclosure Agreement", ""];
    {
        let mut stdin = child.stdin.take().unwrap();
        for (i, t) in texts.iter().enumerate() {
            writeln!(stdin, "{}", serde_json::json!({"id": i, "text": t})).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3);
    let spec = FeatureSpec::default();
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(rows[i]["id"], i);
        let s: Sparse = serde_json::from_value(rows[i].clone()).unwrap();
        assert_eq!(s.dense(), text_features(t, &spec), "text {i}");
    }
}

#[test]
fn features_command_reads_files_through_intake() {
    let pdf = common::fixture("text/invoice_en.pdf");
    let spec_path = std::env::temp_dir().join(format!("liasse-spec-{}.json", std::process::id()));
    let spec = FeatureSpec { dim: 1024, ..FeatureSpec::default() };
    std::fs::write(&spec_path, serde_json::to_string(&spec).unwrap()).unwrap();
    let out = liasse()
        .args(["features", "--with-text", "--spec"])
        .arg(&spec_path)
        .arg(&pdf)
        .arg(common::fixture("broken/vide.pdf"))
        .output()
        .unwrap();
    std::fs::remove_file(&spec_path).ok();
    // One file failed: exit code 2, and a row with its error.
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows[1]["error"].is_string());
    // The same text and vector as the in-process pipeline's document.
    let outcome = common::process_file(&pdf).remove(0);
    let text = document_text(outcome.document.as_ref().unwrap());
    assert_eq!(rows[0]["text"], text.as_str());
    let s: Sparse = serde_json::from_value(rows[0].clone()).unwrap();
    assert_eq!(s.dim, 1024);
    assert_eq!(s.dense(), text_features(&text, &spec));
}

// --- the document classifier (models/classifier) ---------------------------------------------

use liasse::classify::{Classifier, DocType, Language};

fn classifier() -> &'static Classifier {
    common::engine().classifier.as_ref().expect("the engine loads the classifier")
}

#[test]
fn classifier_parity_with_python() {
    let c = classifier();
    let sample: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("models/classifier/parity.json")).unwrap())
            .unwrap();
    let features = sample["features"].as_array().expect("features");
    for (head, model) in
        [("type", &c.type_model), ("subtype", &c.subtype_model), ("language", &c.language_model)]
    {
        // One row per document: its features and this head's probabilities.
        let rows: Vec<serde_json::Value> = features
            .iter()
            .zip(sample["heads"][head].as_array().expect("head"))
            .map(|(f, p)| {
                let mut row = f.clone();
                row["onnx"] = p["onnx"].clone();
                row["sklearn"] = p["sklearn"].clone();
                row
            })
            .collect();
        assert_eq!(rows.len(), features.len());
        let worst = check_parity(model, &serde_json::json!({ "rows": rows }));
        assert!(worst <= 1e-5, "{head}: {worst}");
    }
}

/// Single-page images of page 1 of the two-page French invoice: the classifier is not sure
/// enough of them yet (they go to review).
const PAGE_ONE_ONLY: [&str; 2] = ["scan/facture_fr_photo.jpg", "scan/facture_fr_scan_p1.png"];

/// Every readable fixture of text/, scan/ and einvoice/ gets the type (and language, and the
/// contract subtype) of its MANIFEST entry, except the page-1 images above, which go to review.
#[test]
fn classifier_types_every_fixture_like_its_manifest() {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(common::fixture("MANIFEST.json")).unwrap()).unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for e in manifest["files"].as_array().unwrap() {
        let path = e["path"].as_str().unwrap();
        if !["text/", "scan/", "einvoice/"].iter().any(|d| path.starts_with(d)) || e["expect"] != "document" {
            continue;
        }
        let want = e["doc_type"].as_str().expect("doc_type in the manifest");
        let outcome = common::process_file(&common::fixture(path)).remove(0);
        let c = outcome.classification.as_ref().expect("a processed document is classified");
        checked += 1;
        if PAGE_ONE_ONLY.contains(&path) {
            // Known shortfall (see docs/classify.md): page 1 alone of the two-page invoice, read
            // by OCR, is below the threshold; it must then go to review, never to a wrong type.
            if c.doc_type.as_str() != want && !(c.doc_type == DocType::Unknown && c.review) {
                wrong.push(format!(
                    "{path}: {:?} ({}) instead of {want} or unknown",
                    c.doc_type, c.confidence
                ));
            }
        } else if c.doc_type.as_str() != want {
            wrong.push(format!("{path}: {:?} ({}) instead of {want}", c.doc_type, c.confidence));
        }
        if let Some(lang) = e["lang"].as_str() {
            let l = serde_json::to_value(c.language).unwrap();
            if l != lang {
                wrong.push(format!("{path}: language {l} instead of {lang}"));
            }
        }
        let sub = e["facts"]["subtype"].as_str().filter(|_| want == "contract");
        if sub.is_some() && c.subtype.as_deref() != sub {
            wrong.push(format!("{path}: subtype {:?} instead of {sub:?}", c.subtype));
        }
        assert_eq!(c.model.version, outcome.versions.classifier.clone().unwrap());
    }
    assert!(checked >= 14, "{checked} fixtures");
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn classifier_output_is_grounded() {
    let outcome = common::process_file(&common::fixture("text/facture_fr_2pages.pdf")).remove(0);
    let c = outcome.classification.unwrap();
    assert_eq!(c.doc_type, DocType::Invoice);
    assert_eq!(c.language, Language::Fr);
    assert!(!c.review && c.confidence >= c.threshold);
    assert!((c.probabilities.values().sum::<f32>() - 1.0).abs() < 1e-3);
    assert_eq!(c.probabilities.len(), 9);
    match &c.evidence.method {
        liasse::evidence::Method::Model { name, version } => {
            assert_eq!(name, "classifier-type");
            assert_eq!(version, &c.model.version);
        }
        m => panic!("{m:?}"),
    }
    // The document names its type where the evidence says.
    let loc = c.evidence.locations.first().expect("a location");
    assert_eq!(loc.text.to_lowercase(), "facture");
    let doc = outcome.document.unwrap();
    assert_eq!(&doc.pages[loc.page as usize - 1].text[loc.span.start..loc.span.end], loc.text);
}

#[test]
fn classifier_failed_documents_get_no_classification() {
    let outcome = common::process_file(&common::fixture("broken/vide.pdf")).remove(0);
    assert!(outcome.is_failed());
    assert!(outcome.classification.is_none());
}

/// Above every confidence (threshold 1.0, from the environment as in production) the type is
/// `unknown` and the document goes to review; the model's guess stays visible.
#[test]
fn classifier_threshold_gives_unknown_for_review() {
    let out = liasse()
        .args(["process"])
        .arg(common::fixture("text/nda_en.pdf"))
        .env("LIASSE_CLASSIFIER__THRESHOLD", "1.0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let o: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &o["classification"];
    assert_eq!(c["doc_type"], "unknown");
    assert_eq!(c["predicted"], "contract");
    assert_eq!(c["review"], true);
    assert_eq!(c["threshold"], 1.0);
    assert!(c.get("subtype").is_none());
    // The default threshold is the calibrated one stored in the model.
    assert_eq!(Some(classifier().threshold), classifier().type_model.threshold);
}

/// The engine loads each model once; documents reuse it.
#[test]
fn classifier_models_load_once() {
    let c = classifier();
    for f in ["text/invoice_en.pdf", "text/avoir_fr.pdf", "text/nda_en.pdf"] {
        assert!(common::process_file(&common::fixture(f))[0].classification.is_some());
    }
    for m in [&c.type_model, &c.subtype_model, &c.language_model] {
        assert_eq!(liasse::model::loads_of(&m.path), 1, "{}", m.path.display());
    }
}
