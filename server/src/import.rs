//! `onegrid import` as a library, shared by the CLI and the system tests: read a file through
//! [`ingest`] (on a blocking thread), then replace the layers it holds in the store in one
//! transaction ([`Store::import`], which appends a `layers.imported` event). A server running on
//! the same data dir sees that event and reloads its indexes; nothing here talks to it.
//!
//! Progress bars, printing and exit codes stay in `main.rs`.

use std::path::{Path, PathBuf};

use crate::district::AssetLayer;
use crate::ingest::{
    self, CrsChoice, FieldMap, Format, Imported, IngestError, ReadOptions, Target,
};
use crate::store::{Store, StoreError};

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
/// holds jurisdictions, all jurisdictions. An import with nothing in it changes nothing.
/// `file` (what was read) is named in the event; `progress(done, total)` as rows are written.
pub async fn save(
    store: &Store,
    file: &Path,
    imported: &Imported,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<Saved, ImportError> {
    if imported.assets.is_empty() && imported.jurisdictions.is_empty() {
        return Err(ImportError::Nothing(file.to_owned()));
    }
    let origin = format!("import {}", file.display());
    let mut layers: Vec<AssetLayer> = imported.assets.iter().map(|a| a.layer).collect();
    layers.sort();
    layers.dedup();
    let jurisdictions =
        (!imported.jurisdictions.is_empty()).then_some(imported.jurisdictions.as_slice());
    let seq = store
        .import(&layers, &imported.assets, jurisdictions, &origin, progress)
        .await?;
    Ok(Saved {
        seq,
        layers,
        jurisdictions: jurisdictions.map(<[_]>::len),
    })
}

/// [`read`] then [`save`] into the store, without progress reports.
pub async fn import_file(
    store: &Store,
    request: &ImportRequest,
) -> Result<(Imported, Saved), ImportError> {
    let imported = read(request, |_, _| {}).await?;
    let saved = save(store, &request.file, &imported, &mut |_, _| {}).await?;
    Ok((imported, saved))
}
