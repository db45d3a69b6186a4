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
