//! onegrid's server as a library: `main.rs` parses the command line and calls [`run`] with a
//! listener it bound, so tests bind port 0 and run many servers side by side.

// The page's view types (Leptos) are deep; rendering them on the server needs more room.
#![recursion_limit = "256"]

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

use crate::district_state::{DistrictState, LoadError, Reloader};
use crate::incidents::Incidents;
use crate::live::Hub;
use crate::store::{Store, StoreError};

/// Name of the wasm-bindgen output in `<site>/pkg/` (`onegrid.js`, `onegrid_bg.wasm`, `onegrid.css`).
pub const OUTPUT_NAME: &str = "onegrid";

/// What every handler can reach. Cheap to clone; holds no globals.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub hub: Hub,
    pub incidents: Incidents,
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
    #[error("server failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// Opens the store in the data dir and, if it holds no district and `config.demo` is set,
/// generates and saves the demo district. A data dir that already holds data keeps it.
pub async fn prepare_data_dir(config: &Config) -> Result<Store, StartError> {
    let store = Store::open_sqlite(&config.data_dir).await?;
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
    let store = prepare_data_dir(&config).await?;
    let district = DistrictState::new(district_state::load(&store, &config).await?);

    let hub = Hub::new(config.ws_queue);
    let incidents = Incidents::new(store.clone(), hub.clone(), district.clone());
    let leptos = LeptosOptions::builder()
        .output_name(OUTPUT_NAME)
        .site_root(config.site_dir.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(listener.local_addr()?)
        .build();
    let simulator = config.sim.then(|| {
        sim::spawn_simulator(
            incidents.clone(),
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
    let state = AppState {
        config,
        store: store.clone(),
        hub,
        incidents,
        district,
        tiles,
        leptos,
    };
    tracing::info!(addr = %listener.local_addr()?, "onegrid is listening");
    let served = axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    reloader.abort();
    if let Some(sim) = simulator {
        sim.abort();
    }
    store.close().await;
    served?;
    Ok(())
}
