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
