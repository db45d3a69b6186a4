//! `liasse eval invoices`: extraction scored against ground truth, per corpus and per field.

use anyhow::Context;
use liasse::config::Config;
use liasse::document::Document;
use liasse::intake::Input;
use liasse::invoice::eval::{Scores, Truth, truth_einvoice, truth_facts, truth_invoice2data};
use liasse::invoice::{ExtractOptions, InvoiceRules, extract_with};
use liasse::pipeline::Engine;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum What {
    /// Invoice field extraction: invoice2data's test invoices (template-free, then with its
    /// templates), the Factur-X/ZUGFeRD corpus read from the visible page only (the embedded XML
    /// as truth), and the fixtures' invoices and scans (MANIFEST facts, visible page only).
    Invoices(Args),
}

#[derive(clap::Args)]
pub struct Args {
    /// Corpora to score: invoice2data, einvoices, fixtures (all when none is given).
    #[arg(long = "corpus")]
    corpora: Vec<String>,
    /// The shared corpora folder.
    #[arg(long, default_value = "../shared/corpus")]
    corpus_root: PathBuf,
    /// The fixtures folder.
    #[arg(long, default_value = "fixtures")]
    fixtures: PathBuf,
    /// Score at most this many documents per corpus.
    #[arg(long)]
    limit: Option<usize>,
    /// Also write the scores (with each document's misses) as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(config: &Config, what: What) -> anyhow::Result<ExitCode> {
    let What::Invoices(args) = what;
    let engine = Engine::new(config).context("starting the pipeline")?;
    let all = ["invoice2data", "einvoices", "fixtures"];
    let chosen: Vec<&str> = if args.corpora.is_empty() {
        all.to_vec()
    } else {
        args.corpora.iter().map(String::as_str).collect()
    };
    let mut out = Vec::new();
    for c in chosen {
        match c {
            "invoice2data" => out.extend(invoice2data(&engine, &args)?),
            "einvoices" => out.push(einvoices(&engine, &args)?),
            "fixtures" => out.push(fixtures(&engine, &args)?),
            other => anyhow::bail!("unknown corpus {other} (invoice2data, einvoices, fixtures)"),
        }
    }
    for s in &out {
        println!("{}", s.table());
    }
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_string_pretty(&out)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The first document intake reads from a file.
fn read(engine: &Engine, path: &Path) -> Option<Document> {
    let bytes = std::fs::read(path).ok()?;
    let name = path.file_name()?.to_string_lossy().into_owned();
    engine.intake.read(Input::file(bytes, &name, None)).into_iter().find_map(|i| i.result.ok())
}

fn score(
    s: &mut Scores,
    engine: &Engine,
    rules: &InvoiceRules,
    id: &str,
    path: &Path,
    truth: &BTreeMap<&'static str, Truth>,
) {
    let doc = read(engine, path);
    let e = doc.map(|d| extract_with(&d, rules, &ExtractOptions { use_einvoice: false }));
    s.add(id, e.as_ref(), truth);
}

fn invoice2data(engine: &Engine, args: &Args) -> anyhow::Result<Vec<Scores>> {
    let root = args.corpus_root.join("invoice2data");
    let dir = root.join("tests/compare");
    let mut pdfs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pdf") && p.with_extension("json").exists())
        .collect();
    pdfs.sort();
    pdfs.truncate(args.limit.unwrap_or(usize::MAX));
    // invoice2data's own templates, each compiled alone (one Python-only regex costs that template).
    let mut with_templates = engine.invoice_rules.clone();
    let mut refused = Vec::new();
    for entry in walkdir::WalkDir::new(root.join("templates")).sort_by_file_name() {
        let entry = entry?;
        let p = entry.path();
        if !entry.file_type().is_file() || !p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            continue;
        }
        let name = p.strip_prefix(&root).unwrap_or(p).display().to_string();
        match liasse::invoice::templates::parse(&name, &std::fs::read_to_string(p)?) {
            Ok(t) => with_templates.templates.push(t),
            Err(e) => refused.push(e.to_string()),
        }
    }
    eprintln!(
        "invoice2data templates: {} compiled, {} refused",
        with_templates.templates.len(),
        refused.len()
    );
    for r in &refused {
        eprintln!("  {r}");
    }
    let mut free = Scores::new("invoice2data tests/compare, template-free");
    let mut tpl = Scores::new("invoice2data tests/compare, with invoice2data's templates");
    let mut tpl_only = Scores::new("invoice2data tests/compare, documents a template matched");
    for p in &pdfs {
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p.with_extension("json"))?)?;
        let truth = truth_invoice2data(expected.as_array().and_then(|a| a.first()).unwrap_or(&expected));
        let id = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
        score(&mut free, engine, &engine.invoice_rules, &id, p, &truth);
        score(&mut tpl, engine, &with_templates, &id, p, &truth);
        if let Some(d) = read(engine, p)
            && let Some(m) = liasse::invoice::templates::best_match(&with_templates.templates, &d)
        {
            eprintln!("{id}: template {}", m.template);
            let e = extract_with(&d, &with_templates, &ExtractOptions { use_einvoice: false });
            tpl_only.add(&id, Some(&e), &truth);
        }
    }
    Ok(vec![free, tpl, tpl_only])
}

fn einvoices(engine: &Engine, args: &Args) -> anyhow::Result<Scores> {
    let root = args.corpus_root.join("einvoices");
    let gt = root.join("_ground_truth/ground_truth.jsonl");
    let text = std::fs::read_to_string(&gt).with_context(|| format!("reading {}", gt.display()))?;
    let mut s = Scores::new("Factur-X/ZUGFeRD corpus, visible page only (embedded XML as truth)");
    for line in text.lines().filter(|l| !l.trim().is_empty()).take(args.limit.unwrap_or(usize::MAX)) {
        let row: serde_json::Value = serde_json::from_str(line)?;
        let Some(pdf) = row["pdf"].as_str() else { continue };
        if row["invoice_number"].is_null() {
            continue; // no XML: no truth
        }
        score(&mut s, engine, &engine.invoice_rules, pdf, &root.join(pdf), &truth_einvoice(&row));
    }
    Ok(s)
}

fn fixtures(engine: &Engine, args: &Args) -> anyhow::Result<Scores> {
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(args.fixtures.join("MANIFEST.json")).context("reading MANIFEST.json")?,
    )?;
    let mut s = Scores::new("fixtures: generated invoices, credit note, scans (visible page only)");
    let files = m["files"].as_array().cloned().unwrap_or_default();
    let invoices = files.iter().filter(|f| {
        matches!(f["facts"]["doc_type"].as_str(), Some("invoice" | "credit_note"))
            && f["facts"]["number"].is_string()
    });
    for f in invoices.take(args.limit.unwrap_or(usize::MAX)) {
        let Some(path) = f["path"].as_str() else { continue };
        let mut truth = truth_facts(&f["facts"]);
        // Scans of page 1 only do not show the totals and bank details of page 2.
        if f["facts"]["lines"].is_null() {
            for k in ["gross_total", "net_total", "vat_total", "iban"] {
                truth.remove(k);
            }
        }
        score(&mut s, engine, &engine.invoice_rules, path, &args.fixtures.join(path), &truth);
    }
    Ok(s)
}
