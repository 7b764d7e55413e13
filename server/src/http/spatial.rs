//! `/api/v1/spatial/nearby` and `/api/v1/spatial/locate`. A nearby query is bounded at the
//! edge: its radius (`Radius`, at most `MAX_RADIUS_M`), the number of assets answered (`limit`,
//! the nearest first) and the length of its `layers` list.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use onegrid_app::wire::{AssetLayer, LocateAnswer, NearbyAnswer};
use serde::Deserialize;

use super::error::{Error, Json, Query};
use crate::accounts::Actor;
use crate::spatial::{LonLat, Radius};
use crate::AppState;

/// Assets a nearby query answers when it names no `limit`, and the most it may ask for; the
/// nearest come first, so a smaller page is the nearest part of a larger one.
const DEFAULT_NEARBY_LIMIT: usize = 1000;
const MAX_NEARBY_LIMIT: usize = 5000;

/// Longest `layers` list: every layer named once, with room for spaces.
const MAX_LAYERS_CHARS: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NearbyParams {
    /// WGS84 latitude, degrees.
    #[param(minimum = -90, maximum = 90, example = 23.02)]
    lat: f64,
    /// WGS84 longitude, degrees.
    #[param(minimum = -180, maximum = 180, example = 113.085)]
    lon: f64,
    /// Radius in metres: more than 0, at most 2000.
    #[param(exclusive_minimum = 0, maximum = 2000, example = 200)]
    radius_m: f64,
    /// Comma-separated asset layers (`buildings`, `roads`, `pipelines`, `pois`); empty or
    /// absent: every layer.
    #[param(example = "buildings,pois")]
    layers: Option<String>,
    /// At most this many assets, the nearest first (default 1000).
    #[param(minimum = 1, maximum = 5000, example = 1000)]
    limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LocateParams {
    /// WGS84 latitude, degrees.
    #[param(minimum = -90, maximum = 90, example = 23.02)]
    lat: f64,
    /// WGS84 longitude, degrees.
    #[param(minimum = -180, maximum = 180, example = 113.085)]
    lon: f64,
}

fn point(lon: f64, lat: f64) -> Result<LonLat, Error> {
    LonLat::parse(lon, lat).map_err(|e| Error::bad_request("invalid_coordinates", e.to_string()))
}

/// Checked parameters of a nearby query.
fn nearby_query(p: &NearbyParams) -> Result<NearbyQuery, Error> {
    let at = point(p.lon, p.lat)?;
    let radius = Radius::parse(p.radius_m)
        .map_err(|e| Error::bad_request("invalid_radius", e.to_string()))?;
    let limit = p.limit.unwrap_or(DEFAULT_NEARBY_LIMIT);
    if !(1..=MAX_NEARBY_LIMIT).contains(&limit) {
        return Err(Error::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_NEARBY_LIMIT} (the nearest first)"),
        ));
    }
    if p.layers
        .as_deref()
        .is_some_and(|l| l.chars().count() > MAX_LAYERS_CHARS)
    {
        return Err(Error::bad_request(
            "bad_query",
            format!(
                "layers is longer than {MAX_LAYERS_CHARS} characters; name some of buildings, \
                 roads, pipelines and pois, separated by commas"
            ),
        ));
    }
    let layers = match p.layers.as_deref() {
        None | Some("") => AssetLayer::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .map(|name| {
                AssetLayer::parse(name.trim()).ok_or_else(|| {
                    Error::bad_request(
                        "unknown_layer",
                        format!("unknown layer {name:?}; use buildings, roads, pipelines or pois"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(NearbyQuery {
        at,
        radius,
        layers,
        limit,
    })
}

struct NearbyQuery {
    at: LonLat,
    radius: Radius,
    layers: Vec<AssetLayer>,
    limit: usize,
}

/// The assets within a radius of a point, nearest first, with their distance in metres.
#[utoipa::path(
    get,
    path = "/spatial/nearby",
    tag = "spatial",
    params(NearbyParams),
    responses(
        (status = 200, description = "The assets within the radius, nearest first.", body = NearbyAnswer),
        (status = 400, description = "`invalid_coordinates`, `invalid_radius`, `unknown_layer`, or `bad_query` (a parameter missing, mistyped or unknown).", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn nearby(
    State(state): State<AppState>,
    _actor: Actor,
    Query(p): Query<NearbyParams>,
) -> Result<Json<NearbyAnswer>, Error> {
    let q = nearby_query(&p)?;
    let mut features = state
        .district
        .current()
        .spatial
        .nearby(q.at, q.radius, &q.layers);
    features.truncate(q.limit);
    Ok(Json(NearbyAnswer { features }))
}

/// The same query as GeoJSON with whole geometries, for highlighting on the map.
#[utoipa::path(
    get,
    path = "/spatial/nearby.geojson",
    tag = "spatial",
    params(NearbyParams),
    responses(
        (status = 200, description = "A GeoJSON FeatureCollection: each feature an asset's whole geometry with `layer`, `id`, `name`, `kind`, `owner` and `distance_m` (metres) as properties.", content_type = "application/geo+json", body = Object),
        (status = 400, description = "`invalid_coordinates`, `invalid_radius`, `unknown_layer`, or `bad_query` (a parameter missing, mistyped or unknown).", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn nearby_geojson(
    State(state): State<AppState>,
    _actor: Actor,
    Query(p): Query<NearbyParams>,
) -> Result<impl IntoResponse, Error> {
    let q = nearby_query(&p)?;
    let district = state.district.current();
    let features = district
        .spatial
        .assets
        .nearby(q.at, q.radius, &q.layers)
        .into_iter()
        .take(q.limit)
        .map(|n| geojson::Feature {
            geometry: Some(geojson::Geometry::from(&n.asset.geometry)),
            properties: serde_json::json!({
                "layer": n.asset.layer.as_str(),
                "id": n.asset.id,
                "name": n.asset.name,
                "kind": n.asset.kind,
                "owner": n.asset.owner,
                "distance_m": (n.distance_m * 100.0).round() / 100.0,
            })
            .as_object()
            .cloned(),
            ..Default::default()
        })
        .collect();
    let fc = geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    };
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        fc.to_string(),
    ))
}

/// The jurisdiction chain a point lies in (district › street › community › grid), and the seam
/// candidates when it lies near a boundary.
#[utoipa::path(
    get,
    path = "/spatial/locate",
    tag = "spatial",
    params(LocateParams),
    responses(
        (status = 200, description = "The chain, outermost first (empty outside every jurisdiction), and the seam.", body = LocateAnswer),
        (status = 400, description = "`invalid_coordinates`, or `bad_query` (a parameter missing, mistyped or unknown).", body = onegrid_app::wire::ErrorBody),
    ),
)]
pub async fn locate(
    State(state): State<AppState>,
    _actor: Actor,
    Query(p): Query<LocateParams>,
) -> Result<Json<LocateAnswer>, Error> {
    let at = point(p.lon, p.lat)?;
    Ok(Json(state.district.current().spatial.locate(at)))
}
