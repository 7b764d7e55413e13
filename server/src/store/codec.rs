//! Encodings shared by the backends: timestamps as sortable RFC 3339 text, geometry as GeoJSON.

use chrono::{DateTime, SecondsFormat, Utc};

use super::StoreError;

/// Fixed-width UTC RFC 3339 (`2026-11-25T08:00:00.000000Z`), so text order is time order.
pub fn time_to_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn time_from_text(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

pub fn geometry_to_text(g: &geo::Geometry<f64>) -> String {
    geojson::Geometry::from(g).to_string()
}

pub fn geometry_from_text(s: &str) -> Result<geo::Geometry<f64>, StoreError> {
    let g: geojson::Geometry = s
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("geometry: {e}")))?;
    geo::Geometry::<f64>::try_from(g).map_err(|e| StoreError::Corrupt(format!("geometry: {e}")))
}
