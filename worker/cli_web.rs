//! `liasse serve`, `liasse token create`, `liasse user create`.

use anyhow::Context;
use liasse::config::Config;
use liasse::store::Store;
use std::process::ExitCode;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

fn store(config: &Config) -> anyhow::Result<Store> {
    let s = &config.service;
    Store::connect_lazy(&s.database_url, s.database_max_connections).context("database URL")
}

pub fn serve(config: &Config) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = store(config)?;
        if config.service.migrate_on_start {
            store.migrate().await.context("applying the migrations")?;
        }
        let app = liasse::web::WebApp { store: store.clone(), config: config.web.clone() };
        let shutdown = liasse::service::shutdown_signal();
        liasse::web::serve(app, shutdown).await.context("serving")?;
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(clap::Subcommand)]
pub enum TokenCommand {
    /// Make an API token for an ERP connector and print it (once; only its hash is kept).
    Create {
        /// The connector's name (unique).
        #[arg(long)]
        name: String,
        /// Comma-separated: read:invoices, read:contracts, ack.
        #[arg(long)]
        scopes: String,
    },
}

pub fn token(config: &Config, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let TokenCommand::Create { name, scopes } = cmd;
    let scopes = liasse::web::auth::parse_scopes(&scopes).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(!name.trim().is_empty() && name.len() <= 100, "the name must be 1 to 100 characters");
    runtime()?.block_on(async {
        let store = store(config)?;
        let token = liasse::web::auth::new_secret("lsk_");
        store
            .create_api_token(name.trim(), &liasse::web::auth::sha256(&token), &scopes)
            .await
            .context("recording the token (is the name already taken?)")?;
        store.close().await;
        println!("{token}");
        eprintln!("liasse: token {:?} with scopes {} (shown once)", name.trim(), scopes.join(","));
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Create (or reset) a review-desk user; the password is read from stdin's first line.
    Create {
        #[arg(long)]
        login: String,
        /// accounts_payable, lawyer or admin.
        #[arg(long)]
        role: String,
    },
}

pub fn user(config: &Config, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let UserCommand::Create { login, role } = cmd;
    anyhow::ensure!(
        liasse::web::auth::ROLES.contains(&role.as_str()),
        "the role must be one of {}",
        liasse::web::auth::ROLES.join(", ")
    );
    anyhow::ensure!(
        !login.is_empty()
            && login.len() <= 64
            && login.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)),
        "the login must be 1 to 64 characters among a-z 0-9 . _ -"
    );
    let mut password = String::new();
    std::io::stdin().read_line(&mut password).context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\n', '\r']);
    anyhow::ensure!(
        password.chars().count() >= 12 && password.len() <= 1024,
        "the password must be 12 to 1024 characters"
    );
    let hash = liasse::web::auth::hash_password(password)?;
    runtime()?.block_on(async {
        let store = store(config)?;
        store.create_user(&login, &hash, &role).await.context("recording the user")?;
        store.close().await;
        eprintln!("liasse: user {login} ({role}) ready");
        Ok(ExitCode::SUCCESS)
    })
}
