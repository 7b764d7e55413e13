//! Encodings shared by the backends: timestamps as sortable RFC 3339 text, geometry as GeoJSON.

use chrono::{DateTime, SecondsFormat, Utc};

use onegrid_app::wire::{HistoryEntry, IncidentStatus};

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

/// An escalation level as stored (0, 1 or 2).
pub fn escalation(level: i64) -> Result<u8, StoreError> {
    u8::try_from(level)
        .ok()
        .filter(|l| *l <= 2)
        .ok_or_else(|| StoreError::Corrupt(format!("escalation level {level}")))
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

/// A row of the log as a history entry: `from` and `to` are lifted out of the detail.
pub fn history_entry(
    seq: i64,
    kind: String,
    actor: String,
    at: DateTime<Utc>,
    detail: String,
) -> Result<HistoryEntry, StoreError> {
    let mut detail = match serde_json::from_str(&detail) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let status =
        |v: Option<serde_json::Value>| v.and_then(|v| v.as_str().and_then(IncidentStatus::parse));
    let from = status(detail.remove("from"));
    let to = status(detail.remove("to"));
    Ok(HistoryEntry {
        seq,
        at,
        kind,
        actor,
        from,
        to,
        detail,
    })
}
