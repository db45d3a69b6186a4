//! `liasse compare A B`: two versions of a contract, clause by clause.

use anyhow::{Context, bail};
use liasse::config::Config;
use liasse::intake::Input;
use liasse::pipeline::{Engine, process_one};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The earlier version.
    a: PathBuf,
    /// The later version.
    b: PathBuf,
    /// Pretty-print the JSON.
    #[arg(long)]
    pretty: bool,
}

fn analysis(engine: &Engine, path: &Path) -> anyhow::Result<liasse::contract::ContractAnalysis> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let outcome = process_one(engine, Input::file(bytes, &name, Some(path.display().to_string())))
        .into_iter()
        .next()
        .context("no document")?;
    match (outcome.contract, outcome.document) {
        (Some(c), _) => Ok(c),
        // Not recognised as a contract by its title: analyse it anyway, it was asked for.
        (None, Some(d)) => Ok(engine.contract.analyse(&d)),
        (None, None) => bail!("{} could not be read: {:?}", path.display(), outcome.error),
    }
}

pub fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let engine = Engine::new(config).context("starting the pipeline")?;
    let a = analysis(&engine, &args.a)?;
    let b = analysis(&engine, &args.b)?;
    let c = liasse::contract::compare::compare(&a, &b);
    let json = if args.pretty { serde_json::to_string_pretty(&c)? } else { serde_json::to_string(&c)? };
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}
