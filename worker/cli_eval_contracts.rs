//! `liasse eval contracts`: the contract analysis measured on generated contracts (clause
//! segmentation, risky-clause and per-risk-kind precision and recall against the generator's
//! ground truth), and its speed on long real contracts (CUAD texts cut into 50 pages).

use anyhow::Context;
use liasse::config::Config;
use liasse::contract::{Level, analyse_with};
use liasse::intake::Input;
use liasse::pipeline::{Engine, process_one};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Folder written by `fixtures/make.sh contracts DIR` (PDFs and MANIFEST.json).
    #[arg(long)]
    generated: Option<PathBuf>,
    /// CUAD's `full_contract_txt` folder: time the analysis of 50-page contracts made from
    /// its longest texts.
    #[arg(long)]
    bench_cuad: Option<PathBuf>,
    /// CUAD's `full_contract_txt` folder: the clause classifier on the held-out contracts
    /// (per-category precision, recall and AUPR at clause level).
    #[arg(long)]
    cuad: Option<PathBuf>,
    /// The held-out contracts' clause labels (written by models/clauses/train.py).
    #[arg(long, default_value = "models/clauses/cuad_heldout.json")]
    cuad_labels: PathBuf,
}

#[derive(Default)]
pub struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
}

impl Counts {
    fn add(&mut self, truth: bool, pred: bool) {
        match (truth, pred) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            _ => {}
        }
    }
    fn p(&self) -> f64 {
        if self.tp + self.fp == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.fp) as f64 }
    }
    fn r(&self) -> f64 {
        if self.tp + self.fn_ == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.fn_) as f64 }
    }
}

pub fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let Args { generated, bench_cuad, cuad, cuad_labels } = args;
    if let Some(dir) = generated {
        generated_eval(config, &dir)?;
    }
    if let Some(dir) = cuad {
        crate::cli_eval_clauses::cuad_eval(config, &dir, &cuad_labels)?;
    }
    if let Some(dir) = bench_cuad {
        bench(config, &dir)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn generated_eval(config: &Config, dir: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.json")).context("reading MANIFEST.json")?;
    let m: Value = serde_json::from_str(&text)?;
    let engine = Engine::new(config).context("starting the pipeline")?;
    let mut seg = Counts::default();
    let mut risky = Counts::default();
    let mut kinds: BTreeMap<String, Counts> = BTreeMap::new();
    let mut missed: Vec<String> = Vec::new();
    let mut contracts = 0;
    let mut analysed = 0;
    let taxonomy = crate::cli_eval_clauses::Taxonomy::load()?;
    let mut categories = crate::cli_eval_clauses::CategoryCounts::default();
    let mut model_flags = Counts::default();
    for c in m["contracts"].as_array().context("contracts")? {
        contracts += 1;
        let path = dir.join(c["path"].as_str().unwrap_or_default());
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let outcome = process_one(&engine, Input::file(bytes, &name, None)).into_iter().next();
        let analysis = outcome.and_then(|o| o.contract);
        analysed += analysis.is_some() as u32;
        let got: BTreeMap<String, (u32, Level, BTreeSet<String>)> = analysis
            .iter()
            .flat_map(|a| a.clauses.iter())
            .map(|cl| {
                let k =
                    cl.flags.iter().filter(|f| f.level >= Level::Medium).map(|f| f.kind.clone()).collect();
                (cl.clause.number.clone(), (cl.clause.page, cl.risk, k))
            })
            .collect();
        let truth = c["facts"]["clauses"].as_array().context("clauses")?;
        if let Some(a) = &analysis {
            let renewal = c["facts"]["renewal"]["auto"].as_bool().unwrap_or(false);
            for t in truth {
                let number = t["number"].as_str().unwrap_or_default();
                let Some(cl) = a.clauses.iter().find(|cl| cl.clause.number == number) else { continue };
                let want = taxonomy.generated_labels(
                    t["kind"].as_str().unwrap_or_default(),
                    t["risk_reason"].as_str(),
                    renewal,
                );
                if let Some(cls) = &cl.classification {
                    categories.add(&want, cls.labels.iter().map(|l| l.label.as_str()));
                }
                // Model-only flags (rule id model.*) against the generator's risky clauses.
                let model_only = cl.flags.iter().any(|f| f.rule.starts_with("model."));
                if model_only {
                    model_flags.add(t["risk"] == "risky", true);
                }
            }
        }
        let mut seen = BTreeSet::new();
        for t in truth {
            let number = t["number"].as_str().unwrap_or_default().to_string();
            let page = t["page"].as_u64().unwrap_or(0) as u32;
            let g = got.get(&number);
            seen.insert(number.clone());
            seg.add(true, g.is_some_and(|g| g.0 == page));
            let is_risky = t["risk"] == "risky";
            let pred = g.is_some_and(|g| g.1 >= Level::Medium);
            risky.add(is_risky, pred);
            if is_risky && !pred {
                missed.push(format!("{name} {number} {}", t["risk_reason"]));
            }
            let reason = t["risk_reason"].as_str().map(str::to_string);
            let pk: BTreeSet<String> = g.map(|g| g.2.clone()).unwrap_or_default();
            let all: BTreeSet<String> = pk.iter().cloned().chain(reason.clone()).collect();
            for k in all {
                kinds
                    .entry(k.clone())
                    .or_default()
                    .add(reason.as_deref() == Some(k.as_str()), pk.contains(&k));
            }
        }
        for n in got.keys().filter(|n| !seen.contains(*n)) {
            let _ = n;
            seg.fp += 1;
        }
    }
    println!("generated contracts: {contracts} ({analysed} analysed as contracts), {}", dir.display());
    println!(
        "clauses found with their number and page: precision {:.3} recall {:.3} ({} of {})",
        seg.p(),
        seg.r(),
        seg.tp,
        seg.tp + seg.fn_
    );
    println!(
        "risky clauses (risk >= medium): precision {:.3} recall {:.3} (tp {} fp {} fn {})",
        risky.p(),
        risky.r(),
        risky.tp,
        risky.fp,
        risky.fn_
    );
    println!("{:<34} {:>9} {:>9} {:>5} {:>5} {:>5}", "risk kind", "precision", "recall", "tp", "fp", "fn");
    for (k, c) in &kinds {
        println!("{k:<34} {:>9.3} {:>9.3} {:>5} {:>5} {:>5}", c.p(), c.r(), c.tp, c.fp, c.fn_);
    }
    for x in missed.iter().take(20) {
        println!("missed: {x}");
    }
    if categories.any() {
        println!("clause categories (classifier labels vs the generator's clause kinds, taxonomy.json):");
        categories.print();
        println!(
            "model-only flags (low level, not counted as risky above): {} on clauses, of which {} on clauses the generator made risky",
            model_flags.tp + model_flags.fp,
            model_flags.tp
        );
    }
    Ok(())
}

/// The analysis (segmentation, key terms, risk rules and the clause classifier when its model
/// is there) of 50-page documents made from the longest CUAD texts, on one thread.
fn bench(config: &Config, dir: &std::path::Path) -> anyhow::Result<()> {
    let engine = liasse::contract::ContractEngine::new(&config.contract)?;
    let rules = &engine.rules;
    let model = engine.clause_model.as_ref();
    println!("clause classifier: {}", engine.model_version().unwrap_or_else(|| "none".into()));
    let mut texts: Vec<(String, String)> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            std::fs::read_to_string(&p)
                .ok()
                .map(|t| (p.file_name().unwrap_or_default().to_string_lossy().into_owned(), t))
        })
        .filter(|(_, t)| t.len() >= 150_000)
        .collect();
    texts.sort_by(|a, b| a.0.cmp(&b.0));
    texts.truncate(10);
    let mut times = Vec::new();
    for (name, t) in &texts {
        let mut doc = liasse::contract::text_document(name, "");
        doc.pages.clear();
        // 50 pages of equal length.
        let per = t.len().div_ceil(50);
        let mut start = 0;
        while start < t.len() && doc.pages.len() < 50 {
            let mut end = (start + per).min(t.len());
            while end < t.len() && !t.is_char_boundary(end) {
                end += 1;
            }
            if doc.pages.len() == 49 {
                end = t.len();
            }
            doc.pages.push(liasse::document::Page {
                number: doc.pages.len() as u32 + 1,
                method: liasse::document::PageMethod::TextLayer,
                text: liasse::document::normalize_text(&t[start..end]),
                layout: None,
                ocr: None,
                words: vec![],
            });
            start = end;
        }
        let t0 = std::time::Instant::now();
        let a = analyse_with(&doc, rules, model);
        let el = t0.elapsed().as_secs_f64();
        times.push(el);
        println!(
            "{:>7.3} s  {} pages, {} chars, {} clauses, {} flags  {name}",
            el,
            doc.pages.len(),
            t.len(),
            a.clauses.len(),
            a.clauses.iter().map(|c| c.flags.len()).sum::<usize>()
        );
    }
    times.sort_by(|a, b| a.total_cmp(b));
    if let (Some(mx), false) = (times.last(), times.is_empty()) {
        println!(
            "50-page contracts: {} measured, median {:.3} s, max {:.3} s (one thread)",
            times.len(),
            times[times.len() / 2],
            mx
        );
    }
    Ok(())
}
