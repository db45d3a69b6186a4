//! Classification benchmark: `cargo bench --bench classify` (scripts/bench classify).
//!
//! The cost of classifying one document, once intake has read it: features (Rust), the ONNX
//! heads (ONNX Runtime, one thread), and `classify` as the pipeline calls it (features, type,
//! subtype for contracts, language, evidence). Inputs: the 50 text PDFs of the benchmark inputs
//! (`fixtures/make.sh bench`), else the text fixtures. Per document: mean, median and 95th
//! percentile over 5 rounds of every document, after one warm-up round.
//!
//! `cargo test` runs this target without `--bench`: it then does nothing.

use liasse::classify::{Classifier, classify};
use liasse::config::Config;
use liasse::document::Document;
use liasse::features::{document_text, text_features};
use liasse::intake::{Input, Intake};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or(root.join("target"));
    let inputs =
        std::env::var_os("LIASSE_BENCH_DIR").map(PathBuf::from).unwrap_or(root.join("target/bench-inputs"));
    let dir = if inputs.join("text").is_dir() { inputs.join("text") } else { root.join("fixtures/text") };
    let mut config = Config::default();
    let helper = target.join("release/liasse");
    if !helper.exists() {
        eprintln!("build the release binary first: cargo build --release");
        std::process::exit(1);
    }
    config.sandbox.helper = Some(helper);
    config.classifier.dir = root.join("models/classifier");
    let intake = Intake::new(&config).expect("intake starts");
    let started = Instant::now();
    let classifier = Classifier::load(&config.classifier, &config.models).expect("the classifier loads");
    let load = started.elapsed();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("input folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    files.sort();
    let docs: Vec<Document> = files
        .iter()
        .filter_map(|p| {
            let bytes = std::fs::read(p).ok()?;
            intake.read(Input::file(bytes, &p.display().to_string(), None)).into_iter().next()?.result.ok()
        })
        .collect();
    let pages: usize = docs.iter().map(|d| d.pages.len()).sum();
    let chars: usize = docs.iter().map(|d| document_text(d).chars().count()).sum();
    println!("# Liasse classification benchmark");
    println!(
        "{} text PDFs from {} ({} pages, {} characters on average); classifier {} loaded in {:.1} ms",
        docs.len(),
        dir.display(),
        pages,
        chars / docs.len().max(1),
        classifier.version(),
        load.as_secs_f64() * 1e3
    );
    let spec = classifier.type_model.features.clone();
    let texts: Vec<String> = docs.iter().map(document_text).collect();
    let feats: Vec<Vec<f32>> = texts.iter().map(|t| text_features(t, &spec)).collect();
    report("text of the document (document_text)", &docs, |d| {
        std::hint::black_box(document_text(d));
    });
    report("features (text_features)", &texts, |t| {
        std::hint::black_box(text_features(t, &spec));
    });
    report("type head (ONNX Runtime)", &feats, |x| {
        std::hint::black_box(classifier.type_model.predict(x).unwrap());
    });
    report("language head (ONNX Runtime)", &feats, |x| {
        std::hint::black_box(classifier.language_model.predict(x).unwrap());
    });
    report("subtype head (ONNX Runtime)", &feats, |x| {
        std::hint::black_box(classifier.subtype_model.predict(x).unwrap());
    });
    report("classify (all of the above, as the pipeline calls it)", &docs, |d| {
        std::hint::black_box(classify(&classifier, d));
    });
}

fn report<T>(what: &str, items: &[T], mut f: impl FnMut(&T)) {
    for it in items {
        f(it);
    }
    let mut times = Vec::with_capacity(items.len() * 5);
    for _ in 0..5 {
        for it in items {
            let t = Instant::now();
            f(it);
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let p = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!("{what:<56} mean {mean:>8.1} µs   median {:>8.1} µs   p95 {:>8.1} µs", p(0.5), p(0.95));
}
