//! `onegrid import` as a library, shared by the CLI and the system tests: read a file through
//! [`ingest`] (on a blocking thread), then replace the layers it holds in the store in one
//! transaction ([`Store::import`], which appends a `layers.imported` event). A server running on
//! the same data dir sees that event and reloads its indexes; nothing here talks to it.
//!
//! Progress bars, printing and exit codes stay in `main.rs`.

use std::path::{Path, PathBuf};

use crate::district::AssetLayer;
use crate::grids::{self, GridError, GridOptions};
use crate::hierarchy;
use crate::ingest::departments::DepartmentsRead;
use crate::ingest::{
    self, CrsChoice, FieldMap, Format, Imported, IngestError, ReadOptions, Target,
};
use crate::store::{Store, StoreError, Who};

/// What to import, already parsed from the command line.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub file: PathBuf,
    pub format: Format,
    pub target: Target,
    /// `--crs`; `None` when not given (GeoJSON: WGS84; a shapefile: its `.prj`).
    pub crs: Option<CrsChoice>,
    /// `--field`: which attributes hold the code, name, parent, … (empty: the defaults).
    pub fields: FieldMap,
    /// Department code given to assets whose file names no owner.
    pub owner: String,
}

impl ImportRequest {
    /// How [`ingest::read_file`] should read the file.
    pub fn options(&self) -> ReadOptions {
        ReadOptions {
            format: self.format,
            target: self.target.clone(),
            crs: self.crs,
            fields: self.fields.clone(),
            owner: self.owner.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("reading the file stopped: {0}")]
    Interrupted(String),
    #[error("nothing in {0} could be imported")]
    Nothing(PathBuf),
    #[error("saving the import failed; the data dir is unchanged: {0}")]
    Store(#[from] StoreError),
    #[error("{0}; the data dir is unchanged")]
    Grids(#[from] GridError),
}

/// What [`save`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// `seq` of the `layers.imported` event.
    pub seq: i64,
    /// The asset layers replaced (each by what the file held of it).
    pub layers: Vec<AssetLayer>,
    /// How many jurisdictions replaced all of them, if the file held any.
    pub jurisdictions: Option<usize>,
}

/// Reads and cleans the file on a blocking thread. `progress(done, total)` as it goes.
pub async fn read(
    request: &ImportRequest,
    mut progress: impl FnMut(u64, u64) + Send + 'static,
) -> Result<Imported, ImportError> {
    let request = request.clone();
    tokio::task::spawn_blocking(move || {
        ingest::read_file(&request.file, &request.options(), &mut progress)
    })
    .await
    .map_err(|e| ImportError::Interrupted(e.to_string()))?
    .map_err(ImportError::from)
}

/// Replaces, in one transaction, every asset layer the import holds features of and, if it
/// holds jurisdictions, the levels it holds (the other levels stay, their parents repaired by
/// [`hierarchy::merge_levels`]). An import with nothing in it changes nothing.
/// `file` (what was read) is named in the event; `progress(done, total)` as rows are written.
pub async fn save(
    store: &Store,
    file: &Path,
    imported: &Imported,
    who: &Who,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<Saved, ImportError> {
    if imported.assets.is_empty() && imported.jurisdictions.is_empty() {
        return Err(ImportError::Nothing(file.to_owned()));
    }
    let origin = format!("import {}", file.display());
    let mut layers: Vec<AssetLayer> = imported.assets.iter().map(|a| a.layer).collect();
    layers.sort();
    layers.dedup();
    let jurisdictions = if imported.jurisdictions.is_empty() {
        None
    } else {
        let existing = store.load_jurisdictions().await?;
        Some(hierarchy::merge_levels(existing, &imported.jurisdictions))
    };
    let seq = store
        .import(
            &layers,
            &imported.assets,
            jurisdictions.as_deref(),
            &origin,
            who,
            progress,
        )
        .await?;
    Ok(Saved {
        seq,
        layers,
        jurisdictions: (!imported.jurisdictions.is_empty()).then_some(imported.jurisdictions.len()),
    })
}

/// [`read`] then [`save`] into the store, without progress reports.
pub async fn import_file(
    store: &Store,
    request: &ImportRequest,
    who: &Who,
) -> Result<(Imported, Saved), ImportError> {
    let imported = read(request, |_, _| {}).await?;
    let saved = save(store, &request.file, &imported, who, &mut |_, _| {}).await?;
    Ok((imported, saved))
}

/// Reads a departments file (CSV or JSON) on a blocking thread.
pub async fn read_departments(file: &Path) -> Result<DepartmentsRead, ImportError> {
    let file = file.to_owned();
    tokio::task::spawn_blocking(move || ingest::departments::read_file(&file))
        .await
        .map_err(|e| ImportError::Interrupted(e.to_string()))?
        .map_err(ImportError::from)
}

/// Replaces every department with what the file held, in one transaction (a
/// `departments.imported` event). A file with no usable row changes nothing.
pub async fn save_departments(
    store: &Store,
    file: &Path,
    read: &DepartmentsRead,
    who: &Who,
) -> Result<i64, ImportError> {
    if read.departments.is_empty() {
        return Err(ImportError::Nothing(file.to_owned()));
    }
    Ok(store
        .replace_departments(
            &read.departments,
            &format!("import {}", file.display()),
            who,
        )
        .await?)
}

/// `onegrid grid generate`: loads the jurisdictions and roads from the store, generates grids
/// where none were imported ([`grids::generate`], on a blocking thread), and saves them with a
/// `grids.generated` event in one transaction. The event carries the per-jurisdiction report.
pub async fn generate_grids(
    store: &Store,
    options: GridOptions,
    who: &Who,
    mut progress: impl FnMut(usize, usize) + Send + 'static,
) -> Result<(grids::Generated, Option<i64>), ImportError> {
    let existing = store.load_jurisdictions().await?;
    let roads = if options.follow_roads {
        store.load_assets(AssetLayer::Roads).await?
    } else {
        Vec::new()
    };
    let generated = tokio::task::spawn_blocking(move || {
        grids::generate(existing, &roads, &options, &mut progress)
    })
    .await
    .map_err(|e| ImportError::Interrupted(e.to_string()))??;
    let report = serde_json::json!({
        "origin": "grid generate",
        "cell_area_m2": options.cell_area_m2,
        "follow_roads": options.follow_roads,
        "generated": generated.generated,
        "replaced": generated.replaced,
        "parents": generated.parents.iter().map(|p| serde_json::json!({
            "code": p.code,
            "name": p.name,
            "outcome": match &p.outcome {
                grids::Outcome::Generated { cells, cell_area_m2, road_corners } => serde_json::json!({
                    "generated": cells, "cell_area_m2": cell_area_m2, "road_corners": road_corners,
                }),
                grids::Outcome::HasImportedGrids(n) => serde_json::json!({ "imported_grids": n }),
                grids::Outcome::Skipped(why) => serde_json::json!({ "skipped": why }),
            },
        })).collect::<Vec<_>>(),
    });
    if generated.generated == 0 && generated.replaced == 0 {
        // Every finest jurisdiction holds imported grids: nothing to write.
        return Ok((generated, None));
    }
    let seq = store
        .save_generated_grids(&generated.jurisdictions, &report, who, &mut |_, _| {})
        .await?;
    Ok((generated, Some(seq)))
}
