//! `GET /tiles/{layer}/{z}/{x}/{y}.mvt`: vector tiles built from the R-trees, cached by the
//! loaded district's generation. The generation is the tile's (weak) `ETag`, and tiles may be
//! cached only briefly, so browsers see imported data soon and revalidate cheaply (304).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::{Error, Path};
use super::{generation_etag, not_modified};
use crate::accounts::Actor;
use crate::tiles::{render, TileKey, TileLayer, TileTransform};
use crate::AppState;

/// How long a browser may use a tile without asking again.
const CACHE_CONTROL: &str = "public, max-age=60";

/// A Mapbox Vector Tile (MVT 2.1) of one layer, built from the loaded district and cached by
/// its generation.
#[utoipa::path(
    get,
    path = "/tiles/{layer}/{z}/{x}/{y}",
    tag = "map",
    params(
        ("layer", Path, description = "`buildings`, `roads`, `pipelines`, `pois` or `jurisdictions`.", pattern = "^(buildings|roads|pipelines|pois|jurisdictions)$", example = "buildings"),
        ("z", Path, description = "Zoom, 0 to 22.", minimum = 0, maximum = 22, example = 14),
        ("x", Path, description = "Column, 0 to 2^z − 1.", minimum = 0, example = 13338),
        ("y", Path, description = "Row, 0 to 2^z − 1, followed by `.mvt`.", pattern = "^[0-9]+\\.mvt$", example = "7115.mvt"),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` of an earlier answer: 304 when the district has not changed since."),
    ),
    responses(
        (
            status = 200,
            description = "The tile (possibly empty).",
            content_type = "application/vnd.mapbox-vector-tile",
            headers(
                ("ETag" = String, description = "Weak tag naming the generation of the loaded district, e.g. `W/\"g42\"`."),
                ("Cache-Control" = String, description = "`public, max-age=60`."),
            ),
        ),
        (status = 304, description = "Not modified: the `If-None-Match` tag is current.", headers(
                ("ETag" = String, description = "Weak tag naming the generation of the loaded district, e.g. `W/\"g42\"`."),
                ("Cache-Control" = String, description = "`public, max-age=60`."),
            )),
        (status = 400, description = "`bad_path` (not `{y}.mvt`, or not integers) or `bad_tile` (zoom out of range, column or row outside the zoom's grid).", body = onegrid_app::wire::ErrorBody),
        (status = 404, description = "`not_found`: no such layer.", body = onegrid_app::wire::ErrorBody),
        (status = 500, description = "`internal`.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn tile(
    State(state): State<AppState>,
    _actor: Actor,
    headers: HeaderMap,
    Path((layer, z, x, y)): Path<(String, u8, u32, String)>,
) -> Result<Response, Error> {
    let layer = TileLayer::parse(&layer).ok_or_else(|| {
        Error::NotFound(format!(
            "no tile layer {layer:?}; use buildings, roads, pipelines, pois or jurisdictions"
        ))
    })?;
    let y: u32 = y
        .strip_suffix(".mvt")
        .and_then(|y| y.parse().ok())
        .ok_or_else(|| Error::bad_request("bad_path", "a tile path ends in {y}.mvt"))?;
    TileTransform::new(z, x, y).map_err(|e| Error::bad_request("bad_tile", e.to_string()))?;

    let district = state.district.current();
    let etag = generation_etag(district.generation);
    let cache_headers = [
        (header::ETAG, etag.clone()),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ),
    ];
    if not_modified(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache_headers).into_response());
    }
    let key = TileKey {
        layer,
        z,
        x,
        y,
        generation: district.generation,
    };
    let cache = state.tiles.clone();
    let spatial = district.spatial.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        cache.get_or_try_insert_with(key, || render(&spatial, layer, z, x, y))
    })
    .await
    .map_err(|e| Error::Internal(format!("building a tile: {e}")))?
    .map_err(|e| Error::bad_request("bad_tile", e.to_string()))?;
    Ok((
        cache_headers,
        [(header::CONTENT_TYPE, "application/vnd.mapbox-vector-tile")],
        bytes,
    )
        .into_response())
}
