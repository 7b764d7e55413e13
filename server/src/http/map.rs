//! Map layers for the page, prepared as GeoJSON bytes whenever the district is loaded (at start
//! and after an import): the jurisdiction boundaries by level (hundreds of features; the page
//! draws the district and streets from them). Large layers (buildings, roads, pipelines, POIs)
//! go to the browser only as vector tiles (`http::tiles`), never as one file. Answers carry the
//! loaded district's generation as their `ETag`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use geo::BoundingRect;
use onegrid_app::wire::MapInfo;

use super::error::{Error, Json, Path};
use super::{generation_etag, not_modified};
use crate::district::{Jurisdiction, Level};
use crate::AppState;

pub struct MapLayers {
    pub info: MapInfo,
    boundaries: HashMap<Level, Bytes>,
}

impl MapLayers {
    pub fn build(jurisdictions: &[Jurisdiction], utc_offset_minutes: i32) -> MapLayers {
        let district = jurisdictions.iter().find(|j| j.level == Level::District);
        let rect = district.and_then(|d| d.geometry.bounding_rect());
        let (bounds, center) = match rect {
            Some(r) => (
                [[r.min().x, r.min().y], [r.max().x, r.max().y]],
                [r.center().x, r.center().y],
            ),
            None => ([[113.0, 22.95], [113.2, 23.1]], [113.11, 23.02]),
        };
        let info = MapInfo {
            name: district.map(|d| d.name.clone()).unwrap_or_default(),
            center,
            bounds,
            utc_offset_minutes,
            tile_max_zoom: crate::tiles::MAX_ZOOM,
        };
        let boundaries = Level::ALL
            .into_iter()
            .map(|level| {
                let features = jurisdictions
                    .iter()
                    .filter(|j| j.level == level)
                    .map(|j| {
                        feature(
                            geo::Geometry::MultiPolygon(j.geometry.clone()),
                            serde_json::json!({ "code": j.code, "name": j.name, "level": level.as_str() }),
                        )
                    });
                (level, collection(features))
            })
            .collect();
        MapLayers { info, boundaries }
    }
}

fn feature(geometry: geo::Geometry<f64>, properties: serde_json::Value) -> geojson::Feature {
    geojson::Feature {
        geometry: Some(geojson::Geometry::from(&geometry)),
        properties: properties.as_object().cloned(),
        ..Default::default()
    }
}

fn collection(features: impl Iterator<Item = geojson::Feature>) -> Bytes {
    let fc = geojson::FeatureCollection {
        bbox: None,
        features: features.collect(),
        foreign_members: None,
    };
    Bytes::from(fc.to_string())
}

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

pub async fn info(State(state): State<AppState>) -> Json<MapInfo> {
    Json(state.district.current().map.info.clone())
}

pub async fn boundaries(
    State(state): State<AppState>,
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
    let body = district
        .map
        .boundaries
        .get(&level)
        .cloned()
        .unwrap_or_default();
    Ok(geojson_response(&headers, district.generation, body))
}
