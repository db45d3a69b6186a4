//! `liasse features`: the feature vectors the models see, for the training scripts.
//!
//! Files are read through the real intake (text layer, OCR, e-invoice), so the text is exactly
//! what the pipeline classifies; or, with `--stdin`, texts come as JSON lines
//! `{"id": …, "text": …, "numeric": [ … ]}`. One JSON line per document on stdout:
//! `{"id", "dim", "indices", "values"}` (the non-zero entries, f32), or `{"id", "error"}`.

use anyhow::Context;
use liasse::config::Config;
use liasse::features::{FeatureSpec, Sparse, document_text, features_with_numeric};
use liasse::intake::{Input, Intake};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Files to read through intake (folders are read recursively).
    paths: Vec<PathBuf>,
    /// Read JSON lines `{"id", "text", "numeric"?}` from stdin instead of files.
    #[arg(long, conflicts_with = "paths")]
    stdin: bool,
    /// Feature spec (JSON). Default: the spec stored in `--model`, else the classifier's default.
    #[arg(long)]
    spec: Option<PathBuf>,
    /// Take the feature spec from this ONNX model's metadata.
    #[arg(long, conflicts_with = "spec")]
    model: Option<PathBuf>,
    /// Also write the text the features were computed from.
    #[arg(long)]
    with_text: bool,
}

#[derive(Deserialize)]
struct TextLine {
    id: serde_json::Value,
    text: String,
    #[serde(default)]
    numeric: Vec<f32>,
}

#[derive(Serialize)]
struct Row {
    id: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    features: Option<Sparse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

pub fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let spec = match (&args.spec, &args.model) {
        (Some(p), _) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            FeatureSpec::from_json(&text)?
        }
        (None, Some(m)) => {
            liasse::model::init(config.models.ort_dylib.as_deref())?;
            liasse::model::Model::load(m)?.features
        }
        (None, None) => FeatureSpec::default(),
    };
    let stdout = std::io::stdout();
    let mut failed = 0usize;
    let mut emit = |row: Row| -> anyhow::Result<()> {
        failed += row.error.is_some() as usize;
        let mut lock = stdout.lock();
        writeln!(lock, "{}", serde_json::to_string(&row)?)?;
        Ok(())
    };
    if args.stdin {
        for (n, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.context("reading stdin")?;
            if line.trim().is_empty() {
                continue;
            }
            let TextLine { id, text, numeric } =
                serde_json::from_str(&line).with_context(|| format!("stdin line {}", n + 1))?;
            let row = match features_with_numeric(&text, &numeric, &spec) {
                Ok(v) => Row {
                    id,
                    error: None,
                    features: Some(Sparse::of(&v)),
                    text: args.with_text.then_some(text),
                },
                Err(e) => Row { id, error: Some(e.to_string()), features: None, text: None },
            };
            emit(row)?;
        }
    } else {
        if spec.numeric > 0 {
            anyhow::bail!("this spec needs {} numeric features: give texts with --stdin", spec.numeric);
        }
        let files = collect(&args.paths)?;
        let intake = Intake::new(config).context("starting intake")?;
        // Documents in parallel, printed in the order of the files; the threads get a large stack
        // like the pipeline's main thread (deeply nested PDFs and XML recurse).
        let pool = rayon::ThreadPoolBuilder::new().stack_size(256 << 20).build().context("thread pool")?;
        let rows: Vec<Vec<Row>> =
            pool.install(|| files.par_iter().map(|f| rows_of(&intake, f, &spec, args.with_text)).collect());
        for row in rows.into_iter().flatten() {
            emit(row)?;
        }
    }
    Ok(if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// One row per document of a file (an e-mail gives several: `path#1`, `path#2`…).
fn rows_of(intake: &Intake, file: &Path, spec: &FeatureSpec, with_text: bool) -> Vec<Row> {
    let id = file.display().to_string();
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return vec![Row { id: id.into(), error: Some(e.to_string()), features: None, text: None }],
    };
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let items = intake.read(Input::file(bytes, &name, Some(id.clone())));
    let many = items.len() > 1;
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let id: serde_json::Value =
                if many { format!("{id}#{}", i + 1).into() } else { id.clone().into() };
            match item.result {
                Ok(doc) => {
                    let text = document_text(&doc);
                    let v = liasse::features::text_features(&text, spec);
                    Row { id, error: None, features: Some(Sparse::of(&v)), text: with_text.then_some(text) }
                }
                Err(e) => Row { id, error: Some(e.to_string()), features: None, text: None },
            }
        })
        .collect()
}

fn collect(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(p)
                .into_iter()
                .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .collect();
            found.sort();
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            anyhow::bail!("{} does not exist", p.display());
        }
    }
    Ok(files)
}
