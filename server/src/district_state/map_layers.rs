//! Map layers for the page, prepared whenever the district is loaded (at start and after an
//! import): the map's name, centre and bounds, and the jurisdiction boundaries by level as
//! GeoJSON bytes (hundreds of features; the page draws the district and streets from them).
//! Built beside the spatial indexes from the same jurisdictions; `http::map` only reads them.

use std::collections::HashMap;

use bytes::Bytes;
use geo::BoundingRect;
use onegrid_app::wire::MapInfo;

use crate::district::{Jurisdiction, Level};

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

    /// The boundaries of one level as a GeoJSON FeatureCollection.
    pub fn boundaries(&self, level: Level) -> Bytes {
        self.boundaries.get(&level).cloned().unwrap_or_default()
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
