//! Mapbox Vector Tiles (MVT 2.1) of the district, built on request from the in-memory R-trees.
//!
//! No IO, no async, no SQL: [`tile`] queries the [`AssetIndex`] with the buffered tile's lon/lat
//! box, projects each candidate into the tile's 4096 grid (Web Mercator), clips it to the tile
//! plus a [`BUFFER`] of 64 units, simplifies it (Douglas–Peucker, one grid unit), drops what
//! collapses below one unit and encodes the rest ([`mvt`]). [`jurisdiction_tile`] does the same
//! for the jurisdiction polygons. [`TileCache`] keeps encoded tiles by layer, z/x/y and data
//! generation.
//!
//! An empty tile is zero bytes (a valid MVT with no layers). Tiles of different layers for the
//! same z/x/y concatenate into one valid multi-layer tile (a protobuf repeated field), so one
//! endpoint can serve several layers by appending their bytes.
//!
//! Layers are named after [`AssetLayer::as_str`] (`buildings`, `roads`, `pipelines`, `pois`)
//! and `jurisdictions`. Asset features carry the string properties `id`, `name`, `kind`,
//! `owner`, and pipelines also `depth_m` (a number) when they have one. Jurisdiction features
//! carry `code`, `name`, `level` and `parent` (absent for the district). No feature has a
//! numeric MVT id (asset ids are strings); a client can promote the `id` property.
//!
//! Thinning by zoom (below these zooms the features are left out of the tile):
//! - buildings: z ≥ 14 (~130k polygons; a z13 tile could hold ~10k of them);
//! - roads: major classes (motorway, trunk, primary, secondary and their links) z ≥ 8,
//!   tertiary z ≥ 12, residential and any other class z ≥ 13;
//! - pipelines: z ≥ 14 (~80k short segments running next to the roads);
//! - POIs: z ≥ 10;
//! - jurisdictions: district and streets at every zoom, communities z ≥ 10, grids z ≥ 12.
//!
//! Simplification is by zoom through the grid: the tolerance is one unit of the 4096 grid,
//! ~0.6 m on the ground at z14 at this latitude and ~10 m at z10.

mod cache;
mod clip;
pub mod mvt;

pub use cache::{CacheStats, TileCache, TileKey};
pub use clip::{tile_at, TileTransform, BUFFER, MAX_ZOOM};
pub use mvt::EXTENT;

use crate::district::{Asset, AssetLayer, Jurisdiction, Level};
use crate::spatial::{AssetIndex, Spatial};
use mvt::{LayerBuilder, Value, ValueRef};

/// Name of the jurisdiction boundaries layer.
pub const JURISDICTIONS_LAYER: &str = "jurisdictions";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    #[error("zoom {0} is out of range: tiles go from z0 to z{MAX_ZOOM}")]
    Zoom(u8),
    #[error("tile {z}/{x}/{y} does not exist: x and y must be below 2^z")]
    OutOfRange { z: u8, x: u32, y: u32 },
}

/// A layer tiles are served for: one of the asset layers, or the jurisdiction boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileLayer {
    Assets(AssetLayer),
    Jurisdictions,
}

impl TileLayer {
    pub const ALL: [TileLayer; 5] = [
        TileLayer::Assets(AssetLayer::Buildings),
        TileLayer::Assets(AssetLayer::Roads),
        TileLayer::Assets(AssetLayer::Pipelines),
        TileLayer::Assets(AssetLayer::Pois),
        TileLayer::Jurisdictions,
    ];

    /// The MVT layer name.
    pub fn as_str(self) -> &'static str {
        match self {
            TileLayer::Assets(layer) => layer.as_str(),
            TileLayer::Jurisdictions => JURISDICTIONS_LAYER,
        }
    }

    pub fn parse(s: &str) -> Option<TileLayer> {
        TileLayer::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// The lowest zoom at which any feature of `layer` is drawn.
pub fn min_zoom(layer: AssetLayer) -> u8 {
    match layer {
        AssetLayer::Buildings => 14,
        AssetLayer::Roads => 8,
        AssetLayer::Pipelines => 14,
        AssetLayer::Pois => 10,
    }
}

/// The lowest zoom at which `asset` is drawn.
fn asset_min_zoom(asset: &Asset) -> u8 {
    match asset.layer {
        AssetLayer::Roads if crate::district::is_major_road(&asset.kind) => 8,
        AssetLayer::Roads if asset.kind.starts_with("tertiary") => 12,
        AssetLayer::Roads => 13,
        layer => min_zoom(layer),
    }
}

/// The lowest zoom at which jurisdictions of `level` are drawn.
pub fn jurisdiction_min_zoom(level: Level) -> u8 {
    match level {
        Level::District | Level::Street => 0,
        Level::Community => 10,
        Level::Grid => 12,
    }
}

/// The MVT tile z/x/y of one asset layer. Zero bytes when nothing of the layer shows there.
pub fn tile(
    index: &AssetIndex,
    layer: AssetLayer,
    z: u8,
    x: u32,
    y: u32,
) -> Result<Vec<u8>, TileError> {
    let t = TileTransform::new(z, x, y)?;
    if z < min_zoom(layer) {
        return Ok(Vec::new());
    }
    let (min, max) = t.query_box();
    let candidates: Vec<&Asset> = index
        .in_box(layer, min, max)
        .filter(|a| z >= asset_min_zoom(a))
        .collect();
    let mut builder = LayerBuilder::with_capacity(layer.as_str(), candidates.len());
    for asset in candidates {
        let Some(geometry) = t.geometry(&asset.geometry) else {
            continue;
        };
        let depth = match layer {
            AssetLayer::Pipelines => asset
                .props
                .get("depth_m")
                .as_ref()
                .and_then(Value::from_json),
            _ => None,
        };
        let base = [
            ("id", ValueRef::Str(&asset.id)),
            ("name", ValueRef::Str(&asset.name)),
            ("kind", ValueRef::Str(&asset.kind)),
            ("owner", ValueRef::Str(&asset.owner)),
        ];
        let with_depth;
        let props: &[(&str, ValueRef<'_>)] = match &depth {
            Some(d) => {
                with_depth = [base[0], base[1], base[2], base[3], ("depth_m", d.into())];
                &with_depth
            }
            None => &base,
        };
        builder.add(None, &geometry, props);
    }
    Ok(finish(&builder))
}

/// The MVT tile z/x/y of the jurisdiction boundaries, as polygons. Zero bytes when none shows.
/// Jurisdictions are few (hundreds), so they are scanned rather than indexed.
pub fn jurisdiction_tile(
    jurisdictions: &[Jurisdiction],
    z: u8,
    x: u32,
    y: u32,
) -> Result<Vec<u8>, TileError> {
    use geo::BoundingRect;

    let t = TileTransform::new(z, x, y)?;
    let (min, max) = t.query_box();
    let mut builder = LayerBuilder::new(JURISDICTIONS_LAYER);
    for j in jurisdictions {
        if z < jurisdiction_min_zoom(j.level) {
            continue;
        }
        let Some(r) = j.geometry.bounding_rect() else {
            continue;
        };
        if r.max().x < min[0] || r.min().x > max[0] || r.max().y < min[1] || r.min().y > max[1] {
            continue;
        }
        let Some(geometry) = t.multi_polygon(&j.geometry) else {
            continue;
        };
        let mut props = vec![
            ("code", ValueRef::Str(&j.code)),
            ("name", ValueRef::Str(&j.name)),
            ("level", ValueRef::Str(j.level.as_str())),
        ];
        if let Some(parent) = &j.parent {
            props.push(("parent", ValueRef::Str(parent)));
        }
        builder.add(None, &geometry, &props);
    }
    Ok(finish(&builder))
}

/// The tile of any [`TileLayer`] from the spatial engine.
pub fn render(
    spatial: &Spatial,
    layer: TileLayer,
    z: u8,
    x: u32,
    y: u32,
) -> Result<Vec<u8>, TileError> {
    match layer {
        TileLayer::Assets(layer) => tile(&spatial.assets, layer, z, x, y),
        TileLayer::Jurisdictions => jurisdiction_tile(spatial.jurisdictions.all(), z, x, y),
    }
}

fn finish(builder: &LayerBuilder) -> Vec<u8> {
    let mut out = Vec::new();
    if !builder.is_empty() {
        builder.write_to(&mut out);
    }
    out
}

// A small MVT decoder, independent of the encoder, for tests (here and in the system tests,
// through the `test-support` feature). It panics on malformed input.
#[cfg(any(test, feature = "test-support"))]
pub mod decode;
#[cfg(test)]
mod tests;
