//! Map layers for the page, prepared once at start as GeoJSON bytes: the jurisdiction boundaries
//! by level (hundreds of features; the page draws the district and streets from them). Large
//! layers (buildings, roads, pipelines, POIs) go to the browser only as vector tiles
//! (`http::tiles`), never as one file.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use bytes::Bytes;
use geo::BoundingRect;
use onegrid_app::wire::MapInfo;

use super::error::{Error, Json, Path};
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

fn geojson_response(body: Bytes) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/geo+json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
}

pub async fn info(State(state): State<AppState>) -> Json<MapInfo> {
    Json(state.map.info.clone())
}

pub async fn boundaries(
    State(state): State<AppState>,
    Path(level): Path<String>,
) -> Result<impl IntoResponse, Error> {
    let name = level.trim_end_matches(".geojson");
    let level = Level::parse(name).ok_or_else(|| {
        Error::NotFound(format!(
            "no boundary layer {name:?}; use district, street, community or grid"
        ))
    })?;
    let body = state
        .map
        .boundaries
        .get(&level)
        .cloned()
        .unwrap_or_default();
    Ok(geojson_response(body))
}
