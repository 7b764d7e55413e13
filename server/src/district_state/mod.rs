//! The district as the server has it loaded: the spatial engine and the prepared map layers,
//! built from the store, with the `seq` of the layer-changing event they were built at (their
//! generation). [`DistrictState`] hands the current [`LoadedDistrict`] to readers; [`Reloader`]
//! polls the store and, when an import (or a new demo district) committed newer layers, builds a
//! new one and swaps it in.
//!
//! Readers never wait on a rebuild: [`DistrictState::current`] clones an `Arc` under a lock held
//! for nanoseconds, the rebuild happens outside the lock (the CPU-heavy part on a blocking
//! thread), and a reader keeps the snapshot it took until it lets go of it. The loaded district
//! is a cache of the store, never a second source of truth.
//!
//! It knows the store's domain operations, not its SQL; the spatial engine stays free of IO.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use onegrid_app::wire::ServerMessage;

use crate::config::Config;
use crate::district::{Asset, AssetLayer, Department, Jurisdiction};
use crate::live::{ws::encode, Frame, Hub};
use crate::spatial::{self, AssetIndex, JurisdictionIndex, RuleContext, Rules, Spatial};
use crate::store::{Store, StoreError};
use crate::tiles::TileCache;

mod map_layers;

pub use map_layers::MapLayers;

/// How often a load is tried again when the layers change while they are being read.
const LOAD_ATTEMPTS: u32 = 5;

/// One consistent build of the district's indexes.
pub struct LoadedDistrict {
    pub spatial: Arc<Spatial>,
    pub map: Arc<MapLayers>,
    /// `seq` of the newest layer-changing event the data was read at (0: none in the log).
    pub generation: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the data dir {0} holds no district; start without --no-demo to generate the demo district, or import one")]
    NoDistrict(PathBuf),
    #[error("cannot read or write the rules file {path}: {source}")]
    RulesFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the layers changed {0} times in a row while they were being read")]
    KeptChanging(u32),
    #[error("building the indexes failed: {0}")]
    Build(String),
}

/// Reads the district's layers from the store and builds the indexes: the one way a
/// [`LoadedDistrict`] is made, at start and on every reload.
///
/// The layers are read in several queries; the `seq` of the newest layer-changing event is read
/// before and after, and the read is repeated if an import committed in between, so the result
/// is the store's state at exactly its generation.
pub async fn load(store: &Store, config: &Config) -> Result<LoadedDistrict, LoadError> {
    let started = Instant::now();
    for _ in 0..LOAD_ATTEMPTS {
        let before = store.layers_seq().await?;
        let jurisdictions = store.load_jurisdictions().await?;
        let mut assets = Vec::new();
        for layer in AssetLayer::ALL {
            assets.extend(store.load_assets(layer).await?);
        }
        let departments = store.load_departments().await?;
        let after = store.layers_seq().await?;
        if before != after {
            tracing::info!(
                before,
                after,
                "layers changed while being read; reading again"
            );
            continue;
        }
        if jurisdictions.is_empty() {
            return Err(LoadError::NoDistrict(config.data_dir.clone()));
        }
        let generation = u64::try_from(after).unwrap_or(0);
        let config = config.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            build(jurisdictions, assets, &departments, &config, generation)
        })
        .await
        .map_err(|e| LoadError::Build(e.to_string()))??;
        tracing::info!(
            generation,
            jurisdictions = loaded.spatial.jurisdictions.all().len(),
            assets = loaded.spatial.assets.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "district loaded and indexed"
        );
        return Ok(loaded);
    }
    Err(LoadError::KeptChanging(LOAD_ATTEMPTS))
}

/// Builds the indexes (CPU only, apart from reading the rules file).
fn build(
    jurisdictions: Vec<Jurisdiction>,
    assets: Vec<Asset>,
    departments: &[Department],
    config: &Config,
    generation: u64,
) -> Result<LoadedDistrict, LoadError> {
    let mut context = RuleContext {
        departments: departments.to_vec(),
        ..RuleContext::default()
    };
    for a in &assets {
        let owners = context.owners_by_layer.entry(a.layer).or_default();
        if !owners.contains(&a.owner) {
            owners.insert(a.owner.clone());
        }
    }
    let rules = load_rules(config, &context)?;
    let map = MapLayers::build(&jurisdictions, config.utc_offset_minutes);
    let spatial = Spatial {
        jurisdictions: JurisdictionIndex::new(jurisdictions),
        assets: AssetIndex::new(assets),
        rules,
        seam_m: config.seam_m,
    };
    Ok(LoadedDistrict {
        spatial: Arc::new(spatial),
        map: Arc::new(map),
        generation,
    })
}

/// The responsibility rules: `config.rules_file`, else `<data dir>/responsibility.toml`. When
/// that is missing it is written, so it can be edited there, with the default rules that name
/// only what this district has ([`spatial::responsibility::default_rules_for`]). Rules that
/// cannot be used are logged and skipped; only failing to read or write the file is an error.
fn load_rules(config: &Config, context: &RuleContext) -> Result<Rules, LoadError> {
    let path = config
        .rules_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("responsibility.toml"));
    let io = |source| LoadError::RulesFile {
        path: path.clone(),
        source,
    };
    if config.rules_file.is_none() && !path.exists() {
        let (text, left_out) = spatial::responsibility::default_rules_for(
            context,
            config.fallback_department.as_deref(),
        );
        std::fs::write(&path, &text).map_err(io)?;
        tracing::info!(
            file = %path.display(),
            "wrote the responsibility rules file with the default rules this district's departments and layers allow; edit it there"
        );
        for line in &left_out {
            tracing::info!(file = %path.display(), "left out of the rules file: {line}");
        }
    }
    let text = std::fs::read_to_string(&path).map_err(io)?;
    let rules = Rules::parse(&path.display().to_string(), &text, context);
    let report = rules.report();
    for skipped in &report.skipped {
        tracing::warn!(
            file = %report.file,
            index = skipped.index,
            rule = skipped.id.as_deref().unwrap_or("?"),
            "responsibility rule skipped: {}",
            skipped.reason
        );
    }
    for problem in &report.problems {
        tracing::warn!(file = %report.file, "responsibility rules: {}", problem.message);
    }
    Ok(rules)
}

/// The current [`LoadedDistrict`], shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct DistrictState {
    current: Arc<RwLock<Arc<LoadedDistrict>>>,
}

impl DistrictState {
    pub fn new(loaded: LoadedDistrict) -> DistrictState {
        DistrictState {
            current: Arc::new(RwLock::new(Arc::new(loaded))),
        }
    }

    /// The district as loaded now. Answer a whole request from the one snapshot taken here;
    /// it stays valid (and unchanged) however many swaps happen meanwhile.
    pub fn current(&self) -> Arc<LoadedDistrict> {
        // The lock only guards a pointer swap; a panic cannot leave it half-written.
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn generation(&self) -> u64 {
        self.current().generation
    }

    /// Swaps in `next` and returns the snapshot it replaced; readers holding that one keep it.
    pub fn replace(&self, next: LoadedDistrict) -> Arc<LoadedDistrict> {
        let next = Arc::new(next);
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *current, next)
    }
}

/// Keeps a [`DistrictState`] in step with the store: when the store holds layers newer than the
/// loaded generation, loads and builds them, swaps them in, drops tiles of other generations
/// and tells live clients (`district_changed`).
#[derive(Clone)]
pub struct Reloader {
    pub district: DistrictState,
    pub store: Store,
    pub config: Arc<Config>,
    pub tiles: Arc<TileCache>,
    pub hub: Hub,
}

impl Reloader {
    /// Reloads if the store's layers are newer than the loaded ones. The new generation when
    /// it swapped, `None` when the loaded district is current. On error nothing changes.
    pub async fn check(&self) -> Result<Option<u64>, LoadError> {
        let loaded_at = self.district.generation();
        let latest = u64::try_from(self.store.layers_seq().await?).unwrap_or(0);
        if latest <= loaded_at {
            return Ok(None);
        }
        let next = load(&self.store, &self.config).await?;
        let generation = next.generation;
        if generation <= loaded_at {
            return Ok(None);
        }
        let old = self.district.replace(next);
        self.tiles.retain_generation(generation);
        self.hub
            .publish(Frame::notice(encode(&ServerMessage::DistrictChanged {
                generation,
            })));
        tracing::info!(
            from = loaded_at,
            to = generation,
            "the server now answers from the newly imported layers"
        );
        // If no reader holds it any more, freeing the old indexes is real work: not here.
        tokio::task::spawn_blocking(move || drop(old));
        Ok(Some(generation))
    }

    /// Checks every `interval` until the returned task is aborted. A failed reload is logged
    /// and tried again on the next tick; the loaded district stays as it was.
    pub fn spawn(self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick completes at once; the district was just loaded.
            ticks.tick().await;
            loop {
                ticks.tick().await;
                if let Err(e) = self.check().await {
                    tracing::warn!(error = %e, "reloading the district failed; keeping the loaded one, will try again");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use geo::{polygon, MultiPolygon};
    use onegrid_app::wire::AssetLayer;

    use super::*;
    use crate::district::{District, Level};
    use crate::spatial::{LonLat, Radius};
    use crate::store::Who;
    use crate::tiles::{TileKey, TileLayer};

    const RULES: &str = "[[rule]]\nid = \"fallback\"\ndepartment = \"urban_mgmt\"\n";

    fn departments() -> Vec<Department> {
        vec![Department {
            parent: None,
            code: "urban_mgmt".into(),
            name_zh: "区城管局".into(),
            name_en: "Urban Management".into(),
            contact: "12345".into(),
        }]
    }

    fn district_area() -> Jurisdiction {
        Jurisdiction {
            generated: false,
            level: Level::District,
            code: "440604".into(),
            name: "禅城区".into(),
            parent: None,
            geometry: MultiPolygon(vec![polygon![
                (x: 113.0, y: 23.0),
                (x: 113.1, y: 23.0),
                (x: 113.1, y: 23.1),
                (x: 113.0, y: 23.1),
                (x: 113.0, y: 23.0),
            ]]),
        }
    }

    /// A building of about 10 m × 10 m with its south-west corner at (lon, lat).
    fn building(id: &str, lon: f64, lat: f64) -> Asset {
        Asset {
            layer: AssetLayer::Buildings,
            id: id.into(),
            name: id.into(),
            kind: "residential".into(),
            owner: "urban_mgmt".into(),
            props: Default::default(),
            geometry: geo::Geometry::Polygon(polygon![
                (x: lon, y: lat),
                (x: lon + 0.0001, y: lat),
                (x: lon + 0.0001, y: lat + 0.0001),
                (x: lon, y: lat + 0.0001),
                (x: lon, y: lat),
            ]),
        }
    }

    /// A config whose rules file (in `dir`) names only `urban_mgmt`.
    fn config(dir: &std::path::Path) -> Config {
        let rules = dir.join("rules.toml");
        std::fs::write(&rules, RULES).expect("write rules");
        Config {
            data_dir: dir.to_owned(),
            rules_file: Some(rules),
            ..Config::default()
        }
    }

    fn at() -> LonLat {
        LonLat::parse(113.05, 23.05).expect("valid")
    }

    /// Ids of the buildings within 50 m of [`at`].
    fn buildings_near(d: &LoadedDistrict) -> Vec<String> {
        let radius = Radius::parse(50.0).expect("valid");
        d.spatial
            .nearby(at(), radius, &[AssetLayer::Buildings])
            .into_iter()
            .map(|f| f.id)
            .collect()
    }

    /// A district whose one building near [`at`] is named after its generation.
    fn loaded(generation: u64, config: &Config) -> LoadedDistrict {
        build(
            vec![district_area()],
            vec![building(&format!("B-{generation}"), 113.05, 23.05)],
            &departments(),
            config,
            generation,
        )
        .expect("build")
    }

    #[test]
    fn a_reader_keeps_its_snapshot_across_a_swap_and_new_readers_see_the_new_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path());
        let state = DistrictState::new(loaded(1, &config));
        let held = state.current();

        let replaced = state.replace(loaded(2, &config));
        assert!(
            Arc::ptr_eq(&replaced, &held),
            "replace hands back the old one"
        );
        drop(replaced);

        // The reader that took its snapshot before the swap still answers from the old data.
        assert_eq!(held.generation, 1);
        assert_eq!(buildings_near(&held), ["B-1"]);
        // Readers from now on see the new data.
        let fresh = state.current();
        assert_eq!(fresh.generation, 2);
        assert_eq!(state.generation(), 2);
        assert_eq!(buildings_near(&fresh), ["B-2"]);
        // A clone of the handle shares the same current district.
        assert_eq!(state.clone().current().generation, 2);
    }

    #[test]
    fn readers_racing_swaps_always_see_one_whole_snapshot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path());
        let state = DistrictState::new(loaded(1, &config));
        let stop = AtomicBool::new(false);
        let reads = AtomicUsize::new(0);
        std::thread::scope(|s| {
            let readers: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        let mut last = 0;
                        loop {
                            let stopping = stop.load(Ordering::SeqCst);
                            let d = state.current();
                            // Data and generation always belong together, and never go back.
                            assert_eq!(buildings_near(&d), [format!("B-{}", d.generation)]);
                            assert!(d.generation >= last);
                            last = d.generation;
                            reads.fetch_add(1, Ordering::Relaxed);
                            if stopping {
                                return last;
                            }
                        }
                    })
                })
                .collect();
            // Every reader is reading before the swaps start.
            while reads.load(Ordering::Relaxed) < 3 * readers.len() {
                std::thread::yield_now();
            }
            for generation in 2..=40 {
                let next = loaded(generation, &config);
                drop(state.replace(next));
            }
            stop.store(true, Ordering::SeqCst);
            for r in readers {
                // The last read, after `stop`, came after the last swap.
                assert_eq!(r.join().expect("reader"), 40);
            }
        });
        assert!(reads.load(Ordering::Relaxed) > 0);
        assert_eq!(state.generation(), 40);
    }

    #[tokio::test]
    async fn the_reloader_swaps_in_an_import_keeps_the_old_district_when_it_fails_and_tells_live_clients(
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Arc::new(config(dir.path()));
        let store = Store::open_sqlite(dir.path()).await.expect("store");
        let district = District {
            departments: departments(),
            jurisdictions: vec![district_area()],
            assets: vec![building("OLD", 113.05, 23.05)],
        };
        let first = store
            .save_district(&district, "test", &Who::system(), &mut |_, _| {})
            .await
            .expect("save");
        assert_eq!(store.layers_seq().await.expect("seq"), first);

        let state = DistrictState::new(load(&store, &config).await.expect("load"));
        assert_eq!(state.generation(), first as u64);
        let hub = Hub::new(8);
        let mut live = hub.subscribe(None);
        let tiles = Arc::new(TileCache::new(1 << 20, 100));
        let old_tile = TileKey {
            layer: TileLayer::Assets(AssetLayer::Buildings),
            z: 14,
            x: 1,
            y: 2,
            generation: first as u64,
        };
        tiles.insert(old_tile, bytes::Bytes::from_static(b"old"));
        let reloader = Reloader {
            district: state.clone(),
            store: store.clone(),
            config: config.clone(),
            tiles: tiles.clone(),
            hub: hub.clone(),
        };
        assert_eq!(reloader.check().await.expect("check"), None, "nothing new");

        // An incident is an event too, but does not change the layers.
        let reported = store
            .report_incident(
                &crate::store::IncidentDraft {
                    category: onegrid_app::wire::Category::Garbage,
                    lon: 113.05,
                    lat: 23.05,
                    description: "垃圾".into(),
                    reporter: None,
                    street_code: String::new(),
                    street_name: String::new(),
                    grid_code: String::new(),
                    grid_name: String::new(),
                    analysis: Default::default(),
                    scope_keys: Vec::new(),
                    duplicate_of: None,
                    dispatch_due_at: None,
                    resolve_due_at: None,
                },
                &Who::system(),
                chrono::Utc::now(),
            )
            .await
            .expect("report");
        assert!(reported.seq > first);
        assert_eq!(store.layers_seq().await.expect("seq"), first);
        assert_eq!(reloader.check().await.expect("check"), None);

        // A rules file that cannot be read makes the reload fail: the loaded district stays.
        let held = state.current();
        let imported = store
            .import(
                &[AssetLayer::Buildings],
                &[building("NEW", 113.0502, 23.0502)],
                None,
                "test import",
                &Who::system(),
                &mut |_, _| {},
            )
            .await
            .expect("import");
        let rules = config.rules_file.clone().expect("rules file");
        std::fs::remove_file(&rules).expect("remove");
        std::fs::create_dir(&rules).expect("a directory where the file was");
        let err = reloader.check().await.expect_err("unreadable rules");
        assert!(matches!(err, LoadError::RulesFile { .. }), "{err}");
        assert!(Arc::ptr_eq(&state.current(), &held));
        assert_eq!(buildings_near(&state.current()), ["OLD"]);
        assert!(live.try_recv().is_none(), "nothing announced");

        // Fixed: the next check swaps the import in.
        std::fs::remove_dir(&rules).expect("remove");
        std::fs::write(&rules, RULES).expect("write");
        let swapped = reloader.check().await.expect("check");
        assert_eq!(swapped, Some(imported as u64));
        assert_eq!(state.generation(), imported as u64);
        assert_eq!(buildings_near(&state.current()), ["NEW"]);
        assert_eq!(
            buildings_near(&held),
            ["OLD"],
            "the old reader is undisturbed"
        );
        assert!(
            tiles.get(&old_tile).is_none(),
            "tiles of old generations are dropped"
        );

        let frame = live.try_recv().expect("district_changed published");
        assert_eq!(frame.seq, None, "a notice, not an event of the log");
        let msg: ServerMessage = serde_json::from_str(frame.text.as_str()).expect("message");
        assert_eq!(
            msg,
            ServerMessage::DistrictChanged {
                generation: imported as u64
            }
        );
        assert_eq!(
            reloader.check().await.expect("check"),
            None,
            "current again"
        );
        assert!(live.try_recv().is_none());
        store.close().await;
    }
}
