//! `liasse migrate`, `submit`, `ingest`, `work`: the service commands.

use anyhow::Context;
use liasse::config::Config;
use liasse::store::Store;
use std::process::ExitCode;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

pub fn migrate(config: &Config) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let s = &config.service;
        let store = Store::connect_lazy(&s.database_url, 2).context("database URL")?;
        store.migrate().await.context("applying the migrations")?;
        store.close().await;
        eprintln!("liasse: database schema up to date");
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(clap::Args)]
pub struct SubmitArgs {
    /// Files to submit.
    #[arg(required = true)]
    files: Vec<std::path::PathBuf>,
}

/// Exit codes: 0 every file taken, 2 some rejected, 1 the command could not run.
pub fn submit(config: &Config, args: SubmitArgs) -> anyhow::Result<ExitCode> {
    use liasse::service::ingest::{Ingest, Taken};
    runtime()?.block_on(async {
        let ingest = Ingest::new(config)?;
        let mut rejected = 0;
        for f in &args.files {
            let taken = ingest
                .take(f, "submit", false)
                .await
                .with_context(|| format!("submitting {}", f.display()))?;
            match taken {
                Taken::Queued { content_hash } => println!("{content_hash} queued {}", f.display()),
                Taken::Duplicate { content_hash } => println!("{content_hash} duplicate {}", f.display()),
                Taken::Replayed { content_hash } => {
                    println!("{content_hash} already-received {}", f.display())
                }
                Taken::Rejected { reason } => {
                    rejected += 1;
                    eprintln!("liasse: {}: rejected: {reason}", f.display());
                }
            }
        }
        ingest.close().await;
        Ok(if rejected > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
    })
}

#[derive(clap::Args)]
pub struct IngestArgs {
    /// The drop folder: files there and every new file are taken, then moved to `processed/`
    /// (or `rejected/` with a `.error.txt`).
    #[arg(long, value_name = "DIR")]
    watch: std::path::PathBuf,
    /// Stop once the folder holds no file (instead of watching until SIGTERM).
    #[arg(long)]
    once: bool,
}

pub fn ingest(config: &Config, args: IngestArgs) -> anyhow::Result<ExitCode> {
    use liasse::service::ingest::{Ingest, watch};
    runtime()?.block_on(async {
        let ingest = Ingest::new(config)?;
        let shutdown = liasse::service::shutdown_signal();
        let settle = std::time::Duration::from_millis(config.service.settle_ms);
        let summary = watch(&ingest, &args.watch, settle, args.once, shutdown)
            .await
            .with_context(|| format!("watching {}", args.watch.display()))?;
        ingest.close().await;
        eprintln!(
            "liasse: {} queued, {} duplicate(s), {} rejected",
            summary.queued, summary.duplicates, summary.rejected
        );
        Ok(ExitCode::SUCCESS)
    })
}

pub fn work(config: &Config) -> anyhow::Result<ExitCode> {
    use liasse::service::work::Worker;
    let rt = runtime()?;
    let result = rt.block_on(async {
        let worker = std::sync::Arc::new(Worker::new(config).context("starting the worker")?);
        let shutdown = liasse::service::shutdown_signal();
        worker.run(shutdown).await.context("worker")?;
        Ok(ExitCode::SUCCESS)
    });
    // A pipeline run that outlived its time budget may still hold a blocking thread: do not
    // wait for it (its delivery was already handled).
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}
