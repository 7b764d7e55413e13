//! onegrid's server as a library: `main.rs` parses the command line and calls [`run`] with a
//! listener it bound, so tests bind port 0 and run many servers side by side.

pub mod config;
pub mod district;
pub mod http;
pub mod incidents;
pub mod live;
pub mod sim;
pub mod spatial;
pub mod store;

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
use crate::spatial::JurisdictionIndex;
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
    pub jurisdictions: Arc<JurisdictionIndex>,
    pub map: Arc<MapLayers>,
    pub leptos: LeptosOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the data dir {0} holds no district; start without --no-demo to generate the demo district, or import one")]
    NoDistrict(std::path::PathBuf),
    #[error("server failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// Opens the store in the data dir and, if it holds no district and `config.demo` is set,
/// generates and saves the demo district. A data dir that already holds data keeps it.
pub async fn prepare_data_dir(config: &Config) -> Result<Store, StartError> {
    let store = Store::open_sqlite(&config.data_dir).await?;
    if !store.has_district().await? && config.demo {
        let started = Instant::now();
        tracing::info!(seed = config.seed, "empty data dir: generating the demo district");
        let district = sim::district_gen::generate(config.seed);
        tracing::info!(
            jurisdictions = district.jurisdictions.len(),
            assets = district.assets.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "demo district generated; saving"
        );
        let mut last_tenth = 0;
        store
            .save_district(&district, &format!("demo seed {}", config.seed), &mut |done, total| {
                let tenth = done * 10 / total.max(1);
                if tenth > last_tenth {
                    last_tenth = tenth;
                    tracing::info!("saving demo district: {}%", tenth * 10);
                }
            })
            .await?;
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "demo district saved");
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
    let roads = store.load_assets(AssetLayer::Roads).await?;
    let map = Arc::new(MapLayers::build(&jurisdictions, &roads, config.utc_offset_minutes));
    drop(roads);
    let grids: Arc<Vec<_>> = Arc::new(
        jurisdictions
            .iter()
            .filter(|j| j.level == Level::Grid)
            .cloned()
            .collect(),
    );
    let jurisdictions = Arc::new(JurisdictionIndex::new(jurisdictions));
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "district loaded");

    let hub = Hub::new(config.ws_queue);
    let incidents = Incidents::new(store.clone(), hub.clone(), jurisdictions.clone());
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
        jurisdictions,
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
