//! `GET /tiles/{layer}/{z}/{x}/{y}.mvt`: vector tiles built from the R-trees, cached.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::error::{Error, Path};
use crate::tiles::{render, TileKey, TileLayer};
use crate::AppState;

pub async fn tile(
    State(state): State<AppState>,
    Path((layer, z, x, y)): Path<(String, u8, u32, String)>,
) -> Result<impl IntoResponse, Error> {
    let layer = TileLayer::parse(&layer).ok_or_else(|| {
        Error::NotFound(format!(
            "no tile layer {layer:?}; use buildings, roads, pipelines, pois or jurisdictions"
        ))
    })?;
    let y: u32 = y
        .strip_suffix(".mvt")
        .and_then(|y| y.parse().ok())
        .ok_or_else(|| Error::bad_request("bad_path", "a tile path ends in {y}.mvt"))?;
    let key = TileKey {
        layer,
        z,
        x,
        y,
        generation: 0,
    };
    let cache = state.tiles.clone();
    let spatial = state.spatial.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        cache.get_or_try_insert_with(key, || render(&spatial, layer, z, x, y))
    })
    .await
    .map_err(|e| Error::Internal(format!("building a tile: {e}")))?
    .map_err(|e| Error::bad_request("bad_tile", e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.mapbox-vector-tile"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        bytes,
    ))
}
