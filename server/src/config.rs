//! Typed, layered configuration: defaults in code, then an optional TOML file, then `ONEGRID_*`
//! environment variables, then command-line flags (the last two through clap in `main.rs`).
//! Unknown keys in the file are errors. Knows nothing about HTTP, SQL or the map.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Everything `onegrid serve` needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Folder holding the SQLite database (`onegrid.db`).
    pub data_dir: PathBuf,
    /// PostgreSQL database to use instead of the SQLite file in the data dir
    /// (`postgres://user@host/db`); several replicas share one.
    pub database_url: Option<String>,
    /// NATS server whose JetStream carries committed events between replicas
    /// (`nats://127.0.0.1:4222`); without it, events reach only this replica's screens at once
    /// (others find them in the store within `catch_up_interval_ms`).
    pub bus: Option<String>,
    /// Name of the JetStream stream the replicas of one installation share.
    pub bus_stream: String,
    /// How often the live feed looks in the store for events it has not had (committed by
    /// another replica or the command line), in milliseconds.
    pub catch_up_interval_ms: u64,
    /// Folder holding the built site: `pkg/` (wasm, JS, CSS) and `assets/`.
    pub site_dir: PathBuf,
    /// Seed of the demo district generated on an empty data dir.
    pub seed: u64,
    /// Generate the demo district when the data dir is empty.
    pub demo: bool,
    /// Run the live incident simulator.
    pub sim: bool,
    /// Mean time between simulated incidents, in milliseconds.
    pub sim_interval_ms: u64,
    /// Local time zone of the district as an offset from UTC, in minutes (Asia/Shanghai: 480).
    pub utc_offset_minutes: i32,
    /// Events a WebSocket client may have queued before it is told to resync.
    pub ws_queue: usize,
    /// Most events replayed to a resuming client; further behind gets a resync.
    pub ws_replay_limit: i64,
    /// Distance from a jurisdiction boundary within which an incident is at a seam, metres.
    pub seam_m: f64,
    /// Responsibility rules (TOML); default `<data_dir>/responsibility.toml`.
    pub rules_file: Option<PathBuf>,
    /// Case settings: deadlines per category, auto-close, duplicates (TOML); default
    /// `<data_dir>/cases.toml`, written with the defaults when missing.
    pub cases_file: Option<PathBuf>,
    /// How often the deadline watch looks for escalations and cases to close, in milliseconds.
    pub deadline_check_interval_ms: u64,
    /// Department code that the rules file written on the first start sends every incident
    /// to that no other rule covers (when the district has that department).
    pub fallback_department: Option<String>,
    /// How often the store is asked whether the district's layers changed (an import), in
    /// milliseconds; when they did, the in-memory indexes are rebuilt and swapped in.
    pub reload_interval_ms: u64,
    /// A login session ends after this many minutes without use (default 8 h).
    pub session_idle_minutes: u64,
    /// A login session ends this many hours after the login at the latest (default 7 days).
    pub session_absolute_hours: u64,
    /// Requests one API key may make per minute before it gets 429.
    pub api_rate_per_minute: u32,
    /// The address users reach onegrid at (e.g. `https://onegrid.example.gov.cn`), for the
    /// screen URLs the command line prints; an `https` URL also marks cookies `Secure`.
    pub public_url: Option<String>,
    /// Origins besides the server's own (`scheme://host[:port]`, e.g. `https://ops.example.cn`)
    /// whose pages may send state-changing requests (POST, PUT, PATCH, DELETE) and open the live
    /// feed; any other `Origin` is refused. The server's own origin is the request's `Host`
    /// with `http`, or the scheme a proxy names in `X-Forwarded-Proto`.
    pub allowed_origins: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            bus: None,
            bus_stream: "ONEGRID".to_string(),
            catch_up_interval_ms: 1000,
            site_dir: PathBuf::from("target/site"),
            seed: 1,
            demo: true,
            sim: true,
            sim_interval_ms: 4000,
            utc_offset_minutes: 480,
            ws_queue: 1024,
            ws_replay_limit: 10_000,
            seam_m: 30.0,
            rules_file: None,
            cases_file: None,
            deadline_check_interval_ms: 10_000,
            fallback_department: None,
            reload_interval_ms: 2000,
            session_idle_minutes: 8 * 60,
            session_absolute_hours: 7 * 24,
            api_rate_per_minute: 600,
            public_url: None,
            allowed_origins: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
}

impl Config {
    /// Defaults overlaid with the TOML file at `path`.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    pub fn sim_interval(&self) -> Duration {
        Duration::from_millis(self.sim_interval_ms.max(50))
    }

    pub fn catch_up_interval(&self) -> Duration {
        Duration::from_millis(self.catch_up_interval_ms.max(20))
    }

    pub fn deadline_check_interval(&self) -> Duration {
        Duration::from_millis(self.deadline_check_interval_ms.max(20))
    }

    pub fn reload_interval(&self) -> Duration {
        Duration::from_millis(self.reload_interval_ms.max(50))
    }

    pub fn session_policy(&self) -> crate::accounts::SessionPolicy {
        crate::accounts::SessionPolicy {
            idle: chrono::Duration::minutes(self.session_idle_minutes.clamp(1, 525_600) as i64),
            absolute: chrono::Duration::hours(self.session_absolute_hours.clamp(1, 8784) as i64),
            ..crate::accounts::SessionPolicy::default()
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("onegrid.db")
    }

    pub fn utc_offset(&self) -> chrono::FixedOffset {
        chrono::FixedOffset::east_opt(self.utc_offset_minutes * 60)
            .unwrap_or_else(|| chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00 is valid"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_rejects_unknown_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.toml");
        std::fs::write(
            &good,
            "seed = 9\nsim = false\nallowed_origins = [\"https://ops.example.cn\"]\n",
        )
        .expect("write");
        let c = Config::from_file(&good).expect("valid file");
        assert_eq!(c.seed, 9);
        assert!(!c.sim);
        assert_eq!(c.addr, Config::default().addr);
        assert_eq!(c.allowed_origins, ["https://ops.example.cn"]);

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "sed = 9\n").expect("write");
        let err = Config::from_file(&bad).expect_err("unknown key");
        assert!(err.to_string().contains("sed"), "{err}");
    }
}
