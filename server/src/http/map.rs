//! `/api/v1/map/info` and `/api/v1/map/boundaries/{level}`: the map layers prepared when the
//! district was loaded (`district_state::MapLayers`), answered with the loaded district's
//! generation as their `ETag`. Large layers (buildings, roads, pipelines, POIs) go to the browser
//! only as vector tiles (`http::tiles`), never as one file.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use onegrid_app::wire::MapInfo;

use super::error::{Error, Json, Path};
use super::{generation_etag, not_modified};
use crate::accounts::Actor;
use crate::district::Level;
use crate::AppState;

/// The prepared bytes with the generation they were built at; 304 when the client has them.
fn geojson_response(headers: &HeaderMap, generation: u64, body: Bytes) -> Response {
    let etag = generation_etag(generation);
    let cache = [
        (header::ETAG, etag.clone()),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        ),
    ];
    if not_modified(headers, &etag) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(header::CONTENT_TYPE, "application/geo+json")],
        body,
    )
        .into_response()
}

/// What the page needs to frame the district: its name, centre, bounds, time zone and the
/// deepest tile zoom.
#[utoipa::path(
    get,
    path = "/map/info",
    tag = "map",
    responses((status = 200, description = "The district's frame.", body = MapInfo)),
)]
pub async fn info(State(state): State<AppState>, _actor: Actor) -> Json<MapInfo> {
    Json(state.district.current().map.info.clone())
}

/// The boundaries of one jurisdiction level as GeoJSON, prepared when the district was loaded.
#[utoipa::path(
    get,
    path = "/map/boundaries/{level}",
    tag = "map",
    params(
        ("level", Path, description = "`district`, `street`, `community` or `grid`, optionally followed by `.geojson`.", pattern = "^(district|street|community|grid)(\\.geojson)?$", example = "grid"),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` of an earlier answer: 304 when the district has not changed since."),
    ),
    responses(
        (
            status = 200,
            description = "A GeoJSON FeatureCollection of the level's jurisdictions (`code`, `name`, `level` and `parent` as properties).",
            content_type = "application/geo+json",
            body = Object,
            headers(
                ("ETag" = String, description = "Weak tag naming the generation of the loaded district, e.g. `W/\"g42\"`."),
                ("Cache-Control" = String, description = "`public, max-age=60`."),
            ),
        ),
        (status = 304, description = "Not modified: the `If-None-Match` tag is current.", headers(
                ("ETag" = String, description = "Weak tag naming the generation of the loaded district, e.g. `W/\"g42\"`."),
                ("Cache-Control" = String, description = "`public, max-age=60`."),
            )),
        (status = 404, description = "`not_found`: no such level.", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn boundaries(
    State(state): State<AppState>,
    _actor: Actor,
    headers: HeaderMap,
    Path(level): Path<String>,
) -> Result<Response, Error> {
    let name = level.trim_end_matches(".geojson");
    let level = Level::parse(name).ok_or_else(|| {
        Error::NotFound(format!(
            "no boundary layer {name:?}; use district, street, community or grid"
        ))
    })?;
    let district = state.district.current();
    let body = district.map.boundaries(level);
    Ok(geojson_response(&headers, district.generation, body))
}
