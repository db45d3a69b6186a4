//! The `liasse` command.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

mod cli_clauses;
mod cli_compare;
mod cli_eval;
mod cli_eval_clauses;
mod cli_eval_contracts;
mod cli_features;
mod cli_process;
mod cli_service;
mod cli_web;

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
    /// Apply the database migrations (`migrations/`).
    Migrate,
    /// Record files as documents and queue them for the workers.
    Submit(cli_service::SubmitArgs),
    /// Take the files of a drop folder as they arrive and queue them for the workers.
    Ingest(cli_service::IngestArgs),
    /// Process queued documents and write their results to the database (until SIGTERM).
    Work,
    /// Write the feature vectors the models see (for training scripts), as JSON lines.
    Features(cli_features::Args),
    /// The clauses the segmenter cuts from contracts, as JSON lines (for the clause classifier's training).
    Clauses(cli_clauses::Args),
    /// Measure against ground truth (`liasse eval invoices`, `liasse eval contracts`).
    Eval {
        #[command(subcommand)]
        what: cli_eval::What,
    },
    /// Compare two versions of a contract clause by clause (added, removed, changed, risk).
    Compare(cli_compare::Args),
    /// Serve the ERP API and the review desk (`web.addr`).
    Serve,
    /// ERP API tokens.
    #[command(subcommand)]
    Token(cli_web::TokenCommand),
    /// Review-desk users.
    #[command(subcommand)]
    User(cli_web::UserCommand),
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
        Command::Migrate => cli_service::migrate(&config),
        Command::Submit(args) => cli_service::submit(&config, args),
        Command::Ingest(args) => cli_service::ingest(&config, args),
        Command::Work => cli_service::work(&config),
        Command::Eval { what } => cli_eval::run(&config, what),
        Command::Features(args) => cli_features::run(&config, args),
        Command::Clauses(args) => cli_clauses::run(&config, args),
        Command::Compare(args) => cli_compare::run(&config, args),
        Command::Serve => cli_web::serve(&config),
        Command::Token(c) => cli_web::token(&config, c),
        Command::User(c) => cli_web::user(&config, c),
        Command::Sandbox => unreachable!("handled before parsing"),
    }
}
