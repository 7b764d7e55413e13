//! onegrid's server as a library: `main.rs` parses the command line and calls [`run`] with a
//! listener it bound, so tests bind port 0 and run many servers side by side.

// The page's view types (Leptos) are deep; rendering them on the server needs more room.
#![recursion_limit = "256"]

pub mod config;
pub mod district;
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

use crate::district::{AssetLayer, Level};
use crate::http::map::MapLayers;
use crate::incidents::Incidents;
use crate::live::Hub;
use crate::spatial::{AssetIndex, JurisdictionIndex, Rules, Spatial};
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
    pub spatial: Arc<Spatial>,
    /// Vector tiles already built from `spatial`.
    pub tiles: Arc<tiles::TileCache>,
    pub map: Arc<MapLayers>,
    pub leptos: LeptosOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the data dir {0} holds no district; start without --no-demo to generate the demo district, or import one")]
    NoDistrict(std::path::PathBuf),
    #[error(transparent)]
    Rules(#[from] spatial::RulesError),
    #[error("cannot read or write {path}: {source}")]
    RulesFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
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
    let started = Instant::now();
    let jurisdictions = store.load_jurisdictions().await?;
    if jurisdictions.is_empty() {
        return Err(StartError::NoDistrict(config.data_dir.clone()));
    }
    let mut assets = Vec::new();
    for layer in AssetLayer::ALL {
        assets.extend(store.load_assets(layer).await?);
    }
    let map = Arc::new(MapLayers::build(
        &jurisdictions,
        &assets,
        config.utc_offset_minutes,
    ));
    let rules = load_rules(&config, &store.load_departments().await?)?;
    let grids: Arc<Vec<_>> = Arc::new(
        jurisdictions
            .iter()
            .filter(|j| j.level == Level::Grid)
            .cloned()
            .collect(),
    );
    let spatial = Arc::new(Spatial {
        jurisdictions: JurisdictionIndex::new(jurisdictions),
        assets: AssetIndex::new(assets),
        rules,
        seam_m: config.seam_m,
    });
    tracing::info!(
        assets = spatial.assets.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "district loaded and indexed"
    );

    let hub = Hub::new(config.ws_queue);
    let incidents = Incidents::new(store.clone(), hub.clone(), spatial.clone());
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
            grids,
            sim::SimOptions {
                interval: config.sim_interval(),
                seed: rand::random(),
            },
        )
    });
    let state = AppState {
        config: Arc::new(config),
        store: store.clone(),
        hub,
        incidents,
        spatial,
        tiles: Arc::new(tiles::TileCache::new(256 << 20, 20_000)),
        map,
        leptos,
    };
    tracing::info!(addr = %listener.local_addr()?, "onegrid is listening");
    let served = axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    if let Some(sim) = simulator {
        sim.abort();
    }
    store.close().await;
    served?;
    Ok(())
}

/// The responsibility rules: `config.rules_file`, else `<data dir>/responsibility.toml`, which is
/// written with the defaults when missing so it can be edited there.
fn load_rules(config: &Config, departments: &[district::Department]) -> Result<Rules, StartError> {
    let path = config
        .rules_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("responsibility.toml"));
    let io = |source| StartError::RulesFile {
        path: path.clone(),
        source,
    };
    if config.rules_file.is_none() && !path.exists() {
        std::fs::write(&path, spatial::DEFAULT_RULES).map_err(io)?;
    }
    let text = std::fs::read_to_string(&path).map_err(io)?;
    Ok(Rules::parse(&text, departments)?)
}
