//! onegrid's server as a library: `main.rs` parses the command line and calls [`run`] with a
//! listener it bound, so tests bind port 0 and run many servers side by side.

// The page's view types (Leptos) are deep; rendering them on the server needs more room.
#![recursion_limit = "256"]

pub mod accounts;
pub mod cases;
pub mod clock;
pub mod config;
pub mod district;
pub mod district_state;
pub mod grids;
pub mod hierarchy;
pub mod http;
pub mod import;
pub mod incidents;
pub mod ingest;
pub mod live;
pub mod sim;
pub mod spatial;
pub mod store;
pub mod tiles;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use leptos::config::LeptosOptions;
use tokio::net::TcpListener;

pub use config::Config;

use crate::accounts::{Accounts, AccountsError, Actor};
use crate::cases::{CasePolicy, Cases, PolicyError};
use crate::clock::Clock;
use crate::district_state::{DistrictState, LoadError, Reloader};
use crate::incidents::Incidents;
use crate::live::{Bus, Feed, Hub};
use crate::store::{Store, StoreError, TokenKind, Who};

/// Name of the wasm-bindgen output in `<site>/pkg/` (`onegrid.js`, `onegrid_bg.wasm`, `onegrid.css`).
pub const OUTPUT_NAME: &str = "onegrid";

/// What every handler can reach. Cheap to clone; holds no globals.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub hub: Hub,
    pub incidents: Incidents,
    /// Case work: the actions that move an incident, and its history.
    pub cases: Cases,
    /// Logins, sessions and tokens.
    pub accounts: Accounts,
    /// Requests per API key, for its rate limit.
    pub api_limiter: Arc<http::RateLimiter>,
    pub clock: Clock,
    /// The spatial engine and map layers as loaded now; kept current by a [`Reloader`].
    pub district: DistrictState,
    /// Vector tiles already built, keyed by the loaded district's generation.
    pub tiles: Arc<tiles::TileCache>,
    pub leptos: LeptosOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("creating the first accounts failed: {0}")]
    Accounts(#[from] AccountsError),
    #[error(transparent)]
    Bus(#[from] live::BusError),
    #[error(transparent)]
    Cases(#[from] PolicyError),
    #[error("server failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// Opens the store in the data dir and, if it holds no district and `config.demo` is set,
/// generates and saves the demo district. A data dir that already holds data keeps it.
pub async fn prepare_data_dir(config: &Config) -> Result<Store, StartError> {
    let store = Store::open(&config.data_dir, config.database_url.as_deref()).await?;
    if !store.has_district().await? && config.demo {
        let started = Instant::now();
        tracing::info!(
            seed = config.seed,
            "empty data dir: generating the demo district"
        );
        let district = sim::district_gen::generate(config.seed);
        tracing::info!(
            jurisdictions = district.jurisdictions.len(),
            assets = district.assets.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "demo district generated; saving"
        );
        let mut last_tenth = 0;
        store
            .save_district(
                &district,
                &format!("demo seed {}", config.seed),
                &Who::system(),
                &mut |done, total| {
                    let tenth = done * 10 / total.max(1);
                    if tenth > last_tenth {
                        last_tenth = tenth;
                        tracing::info!("saving demo district: {}%", tenth * 10);
                    }
                },
            )
            .await?;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "demo district saved"
        );
    }
    Ok(store)
}

/// Runs the server on `listener` until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    run_with_clock(listener, config, Clock::system(), shutdown).await
}

/// [`run`] with the clock the server reads time from (a manual one in tests).
pub async fn run_with_clock(
    listener: TcpListener,
    config: Config,
    clock: Clock,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let store = prepare_data_dir(&config).await?;
    let district = DistrictState::new(district_state::load(&store, &config).await?);
    let accounts = Accounts::new(store.clone(), clock.clone(), config.session_policy());
    let base_url = config.public_url.clone().unwrap_or_else(|| {
        format!(
            "http://{}",
            listener.local_addr().map_or(config.addr, |a| a)
        )
    });
    first_accounts(&accounts, &store, &config, &base_url).await?;

    let hub = Hub::new(config.ws_queue);
    let bus = match &config.bus {
        Some(url) => Some(Bus::connect(url, &config.bus_stream).await?),
        None => None,
    };
    let feed = Feed::start(hub.clone(), store.clone(), bus.clone()).await?;
    let catch_up = feed.spawn_catch_up(config.catch_up_interval());
    let consumer = bus.map(|bus| bus.spawn_consumer(feed.clone()));
    tracing::info!(
        store = store.backend_name(),
        bus = config.bus.as_deref().unwrap_or("none (one replica)"),
        "live feed ready"
    );
    let policy = Arc::new(CasePolicy::load_or_create(
        &config
            .cases_file
            .clone()
            .unwrap_or_else(|| config.data_dir.join("cases.toml")),
    )?);
    let incidents = Incidents::new(
        store.clone(),
        feed.clone(),
        district.clone(),
        clock.clone(),
        policy.clone(),
    );
    let cases = Cases::new(store.clone(), feed, district.clone(), clock.clone(), policy);
    let watch = cases::spawn_watch(cases.clone(), config.deadline_check_interval());
    let leptos = LeptosOptions::builder()
        .output_name(OUTPUT_NAME)
        .site_root(config.site_dir.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(listener.local_addr()?)
        .build();
    let simulator = config.sim.then(|| {
        sim::spawn_simulator(
            incidents.clone(),
            cases.clone(),
            store.clone(),
            district.clone(),
            sim::SimOptions {
                interval: config.sim_interval(),
                seed: rand::random(),
            },
        )
    });
    let config = Arc::new(config);
    let tiles = Arc::new(tiles::TileCache::new(256 << 20, 20_000));
    let reloader = Reloader {
        district: district.clone(),
        store: store.clone(),
        config: config.clone(),
        tiles: tiles.clone(),
        hub: hub.clone(),
    }
    .spawn(config.reload_interval());
    let api_limiter = Arc::new(http::RateLimiter::new(config.api_rate_per_minute));
    let state = AppState {
        config,
        store: store.clone(),
        hub,
        incidents,
        cases,
        accounts,
        api_limiter,
        clock,
        district,
        tiles,
        leptos,
    };
    tracing::info!(addr = %listener.local_addr()?, "onegrid is listening");
    let served = axum::serve(
        listener,
        http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    reloader.abort();
    watch.abort();
    catch_up.abort();
    if let Some(consumer) = consumer {
        consumer.abort();
    }
    if let Some(sim) = simulator {
        sim.abort();
    }
    store.close().await;
    served?;
    Ok(())
}

/// On a data dir without accounts: creates `admin` with a one-time password and, on the demo
/// district, one account per role and a wall screen, and prints them once to the log. Their
/// passwords are stored nowhere in clear.
async fn first_accounts(
    accounts: &Accounts,
    store: &Store,
    config: &Config,
    base_url: &str,
) -> Result<(), StartError> {
    let demo = config.demo
        && store
            .district_origin()
            .await?
            .is_some_and(|o| o.starts_with("demo"));
    let created = accounts.first_start(demo).await?;
    if created.is_empty() {
        return Ok(());
    }
    tracing::warn!(
        "first start: accounts created; their passwords are shown this once and stored nowhere \
         in clear (首次启动：已创建账号，密码只显示这一次)"
    );
    for user in &created {
        let scope = user.scope.as_deref().unwrap_or("全区 whole district");
        if user.one_time {
            tracing::warn!(
                "  user {:<20} role {:<20} one-time password {}  (set a new one at the first login)",
                user.username,
                user.role.as_str(),
                user.password
            );
        } else {
            tracing::warn!(
                "  user {:<20} role {:<20} password {}  scope {scope}",
                user.username,
                user.role.as_str(),
                user.password
            );
        }
    }
    if demo {
        let (_, token) = accounts
            .add_token(&Actor::system(), TokenKind::Screen, "demo-wall", None)
            .await?;
        tracing::warn!("  wall screen demo-wall: {base_url}/screen?token={token}");
    }
    Ok(())
}
