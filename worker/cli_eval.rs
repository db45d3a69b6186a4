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
    /// The fraud model's signals of fraud scenarios (`fixtures/make.sh fraud OUTDIR`): each
    /// scenario's files through the pipeline in order with one history, one JSON line per target
    /// (and per `--clean` file, a clean invoice with no history). For `models/fraud/train.py`.
    FraudSignals(FraudArgs),
    /// Contracts: segmentation and risk flags on generated contracts, speed on CUAD texts.
    Contracts(crate::cli_eval_contracts::Args),
}

#[derive(clap::Args)]
pub struct FraudArgs {
    /// `scenarios.json` files written by `fixtures/make.sh fraud`.
    #[arg(long)]
    scenarios: Vec<PathBuf>,
    /// Folders of real clean invoices (PDF), each read alone.
    #[arg(long)]
    clean: Vec<PathBuf>,
    /// At most this many clean files per folder.
    #[arg(long, default_value_t = 60)]
    clean_limit: usize,
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
    /// Also print each document's misses (what was read, the truth) after the tables.
    #[arg(long)]
    misses: bool,
}

pub fn run(config: &Config, what: What) -> anyhow::Result<ExitCode> {
    let args = match what {
        What::Invoices(args) => args,
        What::FraudSignals(args) => return fraud_signals(config, &args),
        What::Contracts(args) => return crate::cli_eval_contracts::run(config, args),
    };
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
    if args.misses {
        for s in &out {
            println!("{}", s.misses_report());
        }
    }
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_string_pretty(&out)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Every page's text, for counting the truths printed on the page.
fn page_text(d: &Document) -> String {
    d.pages.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n")
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
    let e = doc.as_ref().map(|d| extract_with(d, rules, &ExtractOptions { use_einvoice: false }));
    s.add(id, e.as_ref(), truth, doc.as_ref().map(page_text).as_deref());
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
        if !entry.file_type().is_file()
            || !p.extension().is_some_and(|e| matches!(e.to_str(), Some("yml" | "yaml" | "json")))
        {
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
            && let Some(m) = liasse::invoice::views::template_match(&with_templates.templates, &d)
        {
            eprintln!("{id}: template {}", m.template);
            let e = extract_with(&d, &with_templates, &ExtractOptions { use_einvoice: false });
            tpl_only.add(&id, Some(&e), &truth, Some(&page_text(&d)));
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
            // A bare XML has no visible page to read.
            && f["method"] != "einvoice"
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

fn fraud_signals(config: &Config, args: &FraudArgs) -> anyhow::Result<ExitCode> {
    use liasse::invoice::fraud::{SIGNALS, signals};
    let mut config = config.clone();
    // Signals are what the rules say: the model being trained is not used to make them.
    config.invoice.fraud_model = None;
    let engine = Engine::new(&config).context("starting the pipeline")?;
    let emit = |id: &str, kind: &str, label: u64, reason: Option<&str>, out: &[liasse::pipeline::Outcome]| {
        let Some(inv) = out.last().and_then(|o| o.invoice.as_ref()).and_then(|a| a.invoices.first()) else {
            eprintln!("{id}: no invoice read");
            return;
        };
        let rules: Vec<&str> = inv.flags.iter().map(|f| f.rule.as_str()).collect();
        let line = serde_json::json!({
            "id": id, "kind": kind, "label": label, "reason": reason,
            "signals": signals(&inv.extracted, &inv.flags), "names": SIGNALS,
            "flags": rules, "rule_score": inv.risk.score,
        });
        println!("{line}");
    };
    for file in &args.scenarios {
        let dir = file.parent().unwrap_or(Path::new("."));
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file)?)?;
        for s in v["scenarios"].as_array().cloned().unwrap_or_default() {
            let mut history = liasse::invoice::MemoryHistory::default();
            let mut last = Vec::new();
            for f in s["files"].as_array().cloned().unwrap_or_default() {
                let path = dir.join(f.as_str().unwrap_or_default());
                let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
                last = liasse::pipeline::process_with_history(
                    &engine,
                    Input::file(bytes, &name, None),
                    &mut history,
                );
            }
            let id = s["id"].as_str().unwrap_or_default();
            emit(
                id,
                s["kind"].as_str().unwrap_or_default(),
                s["label"].as_u64().unwrap_or(0),
                s["reason"].as_str(),
                &last,
            );
        }
    }
    for dir in &args.clean {
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
            .sort_by_file_name()
            .into_iter()
            .filter_map(|e| e.ok())
            .map(|e| e.into_path())
            .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
            .collect();
        files.truncate(args.clean_limit);
        for path in files {
            let bytes = std::fs::read(&path)?;
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let mut history = liasse::invoice::MemoryHistory::default();
            let out = liasse::pipeline::process_with_history(
                &engine,
                Input::file(bytes, &name, None),
                &mut history,
            );
            emit(&path.display().to_string(), "real_clean", 0, None, &out);
        }
    }
    Ok(ExitCode::SUCCESS)
}
