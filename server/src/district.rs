//! The district as data: jurisdictions (district › street/town › community › grid), departments,
//! and assets (buildings, roads, pipelines, points of interest).
//!
//! Plain values, no IO: the demo generator produces a [`District`], the store persists and loads
//! it, the spatial engine indexes it. Coordinates are WGS84 lon/lat in degrees.

use geo::{Geometry, MultiPolygon};
use serde::{Deserialize, Serialize};

pub use onegrid_app::wire::{AssetLayer, Level};

/// One polygon of the jurisdiction hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub struct Jurisdiction {
    pub level: Level,
    /// District 6 digits, street 9, community 12, grid 15 (CJ/T 213).
    pub code: String,
    pub name: String,
    /// Code of the enclosing jurisdiction; `None` for the district.
    pub parent: Option<String>,
    pub geometry: MultiPolygon<f64>,
    /// Made by `onegrid grid generate` where no grid polygons were imported. Imported grids
    /// always take precedence: they replace generated ones, never the other way round.
    pub generated: bool,
}

/// A department that owns or maintains assets and takes incidents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Department {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub contact: String,
    /// Code of the department this one belongs to (a bureau's section names the bureau).
    #[serde(default)]
    pub parent: Option<String>,
}

/// A physical thing on the map (部件): a building, a road segment, a pipeline segment, a POI.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    pub layer: AssetLayer,
    /// Unique within its layer, e.g. `B-000123`, `R-1234`, `P-004567`, `POI-0001`.
    pub id: String,
    pub name: String,
    /// Building use, road class, pipeline kind or POI kind (a code, see the generator).
    pub kind: String,
    /// Code of the owning or maintaining [`Department`].
    pub owner: String,
    /// Layer-specific attributes (address, floors, depth_m, diameter_mm, …).
    pub props: Props,
    pub geometry: Geometry<f64>,
}

/// Layer-specific attributes of an asset (address, floors, depth_m, …): a JSON object kept as
/// its compact text. A district holds up to millions of assets, and as text these take tens of
/// bytes each where a parsed map takes hundreds; they are read rarely (a tile's pipeline depth,
/// an answer's details), so they are parsed when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Props(Box<str>);

impl Default for Props {
    fn default() -> Self {
        Props("{}".into())
    }
}

impl Props {
    /// Takes stored JSON text as it is, after checking that it is one JSON object.
    pub fn from_json(text: &str) -> Result<Props, String> {
        let ok = text.trim_start().starts_with('{')
            && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
        if ok {
            Ok(Props(text.into()))
        } else {
            Err(format!("asset props are not a JSON object: {text:?}"))
        }
    }

    /// The compact JSON text of the object.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(&self.0).unwrap_or_default()
    }

    pub fn get(&self, key: &str) -> Option<serde_json::Value> {
        self.to_map().remove(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.to_map().contains_key(key)
    }
}

impl From<serde_json::Map<String, serde_json::Value>> for Props {
    fn from(map: serde_json::Map<String, serde_json::Value>) -> Props {
        Props(serde_json::Value::Object(map).to_string().into())
    }
}

/// Everything that describes one district.
#[derive(Debug, Clone, Default)]
pub struct District {
    pub departments: Vec<Department>,
    pub jurisdictions: Vec<Jurisdiction>,
    pub assets: Vec<Asset>,
}

impl District {
    pub fn jurisdictions_at(&self, level: Level) -> impl Iterator<Item = &Jurisdiction> {
        self.jurisdictions.iter().filter(move |j| j.level == level)
    }

    pub fn assets_in(&self, layer: AssetLayer) -> impl Iterator<Item = &Asset> {
        self.assets.iter().filter(move |a| a.layer == layer)
    }
}

/// Road classes that count as main roads (OSM `highway` values, which the demo uses too): drawn
/// from low zooms, and followed by generated grid edges.
pub const MAJOR_ROADS: [&str; 8] = [
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
];

pub fn is_major_road(kind: &str) -> bool {
    MAJOR_ROADS.contains(&kind)
}
