//! The `liasse` command.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

mod cli_compare;
mod cli_eval;
mod cli_process;

#[derive(Parser)]
#[command(name = "liasse", version, about = "Self-hosted document processing for invoices and contracts")]
struct Cli {
    /// Configuration file (TOML); `LIASSE_…` environment variables override it.
    #[arg(long, global = true, env = "LIASSE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pipeline in-process on files or folders and write one JSON result per document.
    Process(cli_process::Args),
    /// Measure the analysis against ground truth (`liasse eval contracts --generated DIR`).
    Eval(cli_eval::Args),
    /// Compare two versions of a contract clause by clause (added, removed, changed, risk).
    Compare(cli_compare::Args),
    /// Internal: the sandbox child that extracts a PDF's text layer.
    #[command(name = "__sandbox", hide = true)]
    Sandbox,
}

fn main() -> std::process::ExitCode {
    // The sandbox child must start fast and print nothing else.
    if std::env::args().nth(1).as_deref() == Some("__sandbox") {
        return std::process::ExitCode::from(liasse::intake::sandbox::child_main() as u8);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LIASSE_LOG")
                .unwrap_or_else(|_| "warn,lopdf=error,pdf_extract=error".into()),
        )
        .init();
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("liasse: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

fn run() -> anyhow::Result<std::process::ExitCode> {
    let cli = Cli::parse();
    let config = liasse::config::Config::load(cli.config.as_deref()).context("loading the configuration")?;
    match cli.command {
        Command::Process(args) => cli_process::run(&config, args),
        Command::Eval(args) => cli_eval::run(&config, args),
        Command::Compare(args) => cli_compare::run(&config, args),
        Command::Sandbox => unreachable!("handled before parsing"),
    }
}
