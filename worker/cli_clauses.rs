//! `liasse clauses`: the clauses our segmenter cuts from contracts, as JSON lines, for the clause
//! classifier's training script (`models/clauses/train.py`): the text of each clause is exactly
//! what the classifier reads at inference (`contract::clause_text`), with its places in the page
//! texts so that the script can label it from answer spans.
//!
//! `.txt` files are read as one-page text documents (CUAD's flattened texts, as the benchmark and
//! the tests read them); other files go through the real intake. One line per file:
//! `{"id", "pages"?: [page texts], "clauses": [{"reference", "number", "heading", "text",
//! "parts": [[page, start, end], …]}]}` or `{"id", "error"}`.

use anyhow::Context;
use liasse::config::Config;
use liasse::contract::{segment, text_document};
use liasse::intake::{Input, Intake};
use rayon::prelude::*;
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Contract files (`.txt` as plain text, others through intake).
    paths: Vec<PathBuf>,
    /// Also write the page texts (the spans of `parts` are byte offsets in them).
    #[arg(long)]
    pages: bool,
}

pub fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let intake = Intake::new(config).context("starting intake")?;
    let pool = rayon::ThreadPoolBuilder::new().stack_size(256 << 20).build().context("thread pool")?;
    let rows: Vec<Value> =
        pool.install(|| args.paths.par_iter().map(|p| row(&intake, p, args.pages)).collect());
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for r in rows {
        failed |= r.get("error").is_some();
        writeln!(out, "{}", serde_json::to_string(&r)?)?;
    }
    Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn row(intake: &Intake, path: &std::path::Path, pages: bool) -> Value {
    let id = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return json!({"id": id, "error": e.to_string()}),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let doc = if name.ends_with(".txt") {
        text_document(&name, &String::from_utf8_lossy(&bytes))
    } else {
        match intake.read(Input::file(bytes, &name, Some(id.clone()))).into_iter().next().map(|i| i.result) {
            Some(Ok(d)) => d,
            Some(Err(e)) => return json!({"id": id, "error": e.to_string()}),
            None => return json!({"id": id, "error": "no document"}),
        }
    };
    let seg = segment(&doc);
    let clauses: Vec<Value> = seg
        .clauses
        .iter()
        .map(|c| {
            let parts: Vec<[u64; 3]> = std::iter::once(&c.heading_location)
                .chain(c.locations.iter())
                .map(|l| [l.page as u64, l.span.start as u64, l.span.end as u64])
                .collect();
            json!({"reference": c.reference, "number": c.number, "heading": c.heading,
                   "text": liasse::contract::clause_text(c), "parts": parts})
        })
        .collect();
    let mut r = json!({"id": id, "clauses": clauses});
    if pages {
        r["pages"] = json!(doc.pages.iter().map(|p| p.text.as_str()).collect::<Vec<_>>());
    }
    r
}
