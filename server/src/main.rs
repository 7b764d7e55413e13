//! `onegrid`: parses the command line and hands over to the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use onegrid_server::Config;

#[derive(Parser)]
#[command(name = "onegrid", version, about = "onegrid: real-time city operations (城市运行一网统管)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: map, API, live feed (and, by default, the demo district and simulator).
    Serve(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// TOML file with settings (overridden by environment variables and flags).
    #[arg(long, env = "ONEGRID_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:3000].
    #[arg(long, env = "ONEGRID_ADDR")]
    addr: Option<SocketAddr>,
    /// Folder for the database [default: ./data].
    #[arg(long, env = "ONEGRID_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Folder with the built site (pkg/, assets/) [default: ./target/site].
    #[arg(long, env = "ONEGRID_SITE_DIR")]
    site_dir: Option<PathBuf>,
    /// Seed of the demo district generated on an empty data dir [default: 1].
    #[arg(long, env = "ONEGRID_SEED")]
    seed: Option<u64>,
    /// Mean time between simulated incidents, in milliseconds [default: 4000].
    #[arg(long, env = "ONEGRID_SIM_INTERVAL_MS")]
    sim_interval_ms: Option<u64>,
    /// Start without the live incident simulator.
    #[arg(long)]
    no_sim: bool,
    /// Do not generate the demo district on an empty data dir.
    #[arg(long)]
    no_demo: bool,
}

impl ServeArgs {
    fn into_config(self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(v) = self.addr {
            c.addr = v;
        }
        if let Some(v) = self.data_dir {
            c.data_dir = v;
        }
        if let Some(v) = self.site_dir {
            c.site_dir = v;
        }
        if let Some(v) = self.seed {
            c.seed = v;
        }
        if let Some(v) = self.sim_interval_ms {
            c.sim_interval_ms = v;
        }
        if self.no_sim {
            c.sim = false;
        }
        if self.no_demo {
            c.demo = false;
        }
        Ok(c)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(args) => {
            let config = args.into_config()?;
            let listener = tokio::net::TcpListener::bind(config.addr)
                .await
                .with_context(|| format!("cannot listen on {}", config.addr))?;
            println!("onegrid: http://{}", listener.local_addr()?);
            onegrid_server::run(listener, config, shutdown_signal()).await?;
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
