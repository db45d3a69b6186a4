//! `liasse process`: the pipeline in-process, no broker, no database.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use liasse::config::Config;
use liasse::intake::Input;
use liasse::pipeline::{self, Engine, Outcome};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders (read recursively; hidden files are skipped).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Write one `<content hash>.json` per document into this folder instead of JSON lines on
    /// stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Pretty-print the JSON.
    #[arg(long)]
    pretty: bool,
}

/// Exit codes: 0 every document processed, 2 some failed, 1 the command itself could not run.
pub fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let files = collect(&args.paths)?;
    let engine = Engine::new(config).context("starting the pipeline")?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let bar = if files.len() > 1 { ProgressBar::new(files.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta} {msg}")
            .expect("static template"),
    );
    let stdout = std::io::stdout();
    let mut failed = 0usize;
    let mut total = 0usize;
    // The invoices seen so far in this run: duplicates and bank-detail changes across files.
    let mut history = liasse::invoice::MemoryHistory::default();
    for file in &files {
        bar.set_message(file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let outcomes = process_path(&engine, file, &mut history);
        for o in &outcomes {
            total += 1;
            failed += o.is_failed() as usize;
            let json = if args.pretty { serde_json::to_string_pretty(o)? } else { serde_json::to_string(o)? };
            match &args.out {
                Some(dir) => {
                    let path = dir.join(format!("{}.json", o.content_hash));
                    std::fs::write(&path, json + "\n")
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                None => {
                    let mut lock = stdout.lock();
                    writeln!(lock, "{json}")?;
                    lock.flush()?;
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!("liasse: {total} document(s), {} processed, {failed} failed", total - failed);
    Ok(if failed > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn process_path(engine: &Engine, file: &Path, history: &mut liasse::invoice::MemoryHistory) -> Vec<Outcome> {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let path = Some(file.display().to_string());
    match std::fs::read(file) {
        Ok(bytes) => pipeline::process_with_history(engine, Input::file(bytes, &name, path), history),
        Err(e) => {
            // The file vanished or is unreadable: still one visible result.
            let input = Input::file(Vec::new(), &name, path);
            let mut out = pipeline::process_one(engine, input);
            for o in &mut out {
                if let Some(err) = &mut o.error {
                    err.message = format!("cannot read the file: {e}");
                }
            }
            out
        }
    }
}

/// Files under the given paths, in a stable order.
fn collect(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("{} does not exist", p.display()))?;
        if meta.is_file() {
            files.push(p.clone());
            continue;
        }
        let walker = walkdir::WalkDir::new(p)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walker {
            let entry = entry.with_context(|| format!("reading {}", p.display()))?;
            if entry.file_type().is_file() {
                files.push(entry.into_path());
            }
        }
    }
    Ok(files)
}
