//! Importing city data from files: reads GeoJSON (a FeatureCollection, a bare array of features,
//! or newline-delimited features), ESRI Shapefiles (`.shp` with its `.shx`, `.dbf` and optional
//! `.prj`, `.cpg`) and OpenStreetMap PBF extracts, converts coordinates from the CRS the caller
//! or the `.prj` names (WGS84, GCJ-02, BD-09, Web Mercator, Gauss–Krüger, UTM) to WGS84,
//! validates and repairs geometry, and maps features onto [`Asset`]s of a layer or
//! [`Jurisdiction`]s of a level ([`feature`], shared by the GeoJSON and shapefile readers). Every feature that is
//! dropped or changed on the way is listed in the report ([`Imported::issues`]) with its file,
//! its index or id, and the reason.
//!
//! Hostile files cost bounded memory: a feature past [`MAX_RING_VERTICES`] in one ring or line
//! or [`MAX_GEOMETRY_VERTICES`] in all is rejected (and reported), and a file whose features
//! hold more than [`MAX_IMPORT_VERTICES`] vertices together fails as a whole
//! ([`IngestError::TooManyVertices`]) rather than fill the server's memory.
//!
//! This module only parses and cleans: it reads the file (or byte buffer) it is given and
//! returns plain values. It knows nothing of SQL, HTTP or the store; the CLI and the server decide
//! what to do with an [`Imported`]. Nothing here is async.

mod clean;
pub mod crs;
pub mod departments;
mod feature;
#[cfg(test)]
pub(crate) mod fuzz_tests;
pub mod geojson;
pub mod osm;
pub mod projection;
pub mod shapefile;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use geo::CoordsIter;

pub use clean::{MAX_GEOMETRY_VERTICES, MAX_RING_VERTICES};
pub use crs::{Crs, CrsChoice};
pub use feature::{Field, FieldMap};

use crate::district::{Asset, AssetLayer, Jurisdiction, Level};

/// Most vertices one import may hold in all its features (about 800 MB as coordinates, before
/// the indexes built on them); a larger file is refused, to be imported in parts.
pub const MAX_IMPORT_VERTICES: usize = 50_000_000;

/// Callback told `(done, total)` as a file is read: bytes for OSM PBF, features for GeoJSON,
/// records for a shapefile.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// The format of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Decided from the content: JSON text is GeoJSON, a PBF blob header is OSM.
    #[default]
    Auto,
    GeoJson,
    OsmPbf,
    /// An ESRI Shapefile: the `.shp` plus its `.shx`, `.dbf` (and `.prj`, `.cpg`) siblings.
    Shapefile,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::GeoJson => "geojson",
            Format::OsmPbf => "osm-pbf",
            Format::Shapefile => "shapefile",
        }
    }

    /// `auto`, `geojson` (or `json`, `ndjson`), `osm-pbf` (or `pbf`, `osm`), `shapefile` (or
    /// `shp`).
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Format::Auto),
            "geojson" | "json" | "ndjson" | "geojsonl" | "geojsonseq" => Some(Format::GeoJson),
            "osm-pbf" | "osmpbf" | "pbf" | "osm" => Some(Format::OsmPbf),
            "shapefile" | "shp" => Some(Format::Shapefile),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which OSM `admin_level` becomes which of our [`Level`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminLevels(pub BTreeMap<u8, Level>);

impl Default for AdminLevels {
    /// 6 → district, 8 → street, 9 and 10 → community (the usual mapping for Chinese cities:
    /// 区县 at 6, 乡镇街道 at 8, 村/社区 at 9–10).
    fn default() -> Self {
        AdminLevels(BTreeMap::from([
            (6, Level::District),
            (8, Level::Street),
            (9, Level::Community),
            (10, Level::Community),
        ]))
    }
}

impl AdminLevels {
    pub fn get(&self, admin_level: u8) -> Option<Level> {
        self.0.get(&admin_level).copied()
    }

    /// Parses `6=district,8=street,10=community` (also `:` instead of `=`).
    pub fn parse(s: &str) -> Result<AdminLevels, String> {
        let mut map = BTreeMap::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (num, level) = item
                .split_once(['=', ':'])
                .ok_or_else(|| format!("{item:?}: expected ADMIN_LEVEL=LEVEL, e.g. 8=street"))?;
            let num: u8 = num
                .trim()
                .parse()
                .map_err(|_| format!("{num:?} is not an admin_level (1–12)"))?;
            let level = Level::parse(level.trim()).ok_or_else(|| {
                format!("{level:?} is not a level (district, street, community, grid)")
            })?;
            map.insert(num, level);
        }
        if map.is_empty() {
            return Err("no admin_level mapping given".into());
        }
        Ok(AdminLevels(map))
    }
}

/// What the features of a file become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Assets of one layer. GeoJSON: every feature. OSM: only the ways (for `pois`, the nodes)
    /// of that layer.
    Layer(AssetLayer),
    /// GeoJSON only: every feature is a jurisdiction of this level.
    Level(Level),
    /// Jurisdictions. OSM: `boundary=administrative` relations, levels mapped from `admin_level`.
    /// GeoJSON: the level comes from each feature's `level` property (`street`, …) or its
    /// `admin_level` property through the mapping.
    Levels(AdminLevels),
    /// OSM only: every asset layer plus the boundaries.
    All(AdminLevels),
}

impl Target {
    pub(crate) fn wants_layer(&self, layer: AssetLayer) -> bool {
        match self {
            Target::Layer(l) => *l == layer,
            Target::All(_) => true,
            Target::Level(_) | Target::Levels(_) => false,
        }
    }

    pub(crate) fn admin_levels(&self) -> Option<&AdminLevels> {
        match self {
            Target::Levels(m) | Target::All(m) => Some(m),
            Target::Layer(_) | Target::Level(_) => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Layer(l) => write!(f, "the {} layer", l.as_str()),
            Target::Level(l) => write!(f, "{} jurisdictions", l.as_str()),
            Target::Levels(_) => f.write_str("jurisdictions by admin_level"),
            Target::All(_) => f.write_str("every layer and the boundaries"),
        }
    }
}

/// How to read a file: everything but its name and content.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    pub format: Format,
    pub target: Target,
    /// The CRS the caller names (`--crs`); `None` when not given: GeoJSON is then WGS84, a
    /// shapefile's comes from its `.prj`.
    pub crs: Option<CrsChoice>,
    /// Which attributes hold which fields (`--field`).
    pub fields: FieldMap,
    /// Department code given to assets whose file names no owner.
    pub owner: String,
}

impl ReadOptions {
    /// Format detected, CRS not given, no field mapping, owner `urban_mgmt`.
    pub fn new(target: Target) -> ReadOptions {
        ReadOptions {
            format: Format::Auto,
            target,
            crs: None,
            fields: FieldMap::default(),
            owner: "urban_mgmt".into(),
        }
    }
}

/// What a file yielded.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub assets: Vec<Asset>,
    pub jurisdictions: Vec<Jurisdiction>,
    /// Every feature rejected or repaired, in file order.
    pub issues: Vec<Issue>,
    /// Features (GeoJSON) or matching nodes, ways and relations (OSM) looked at.
    pub features_read: usize,
}

impl Imported {
    pub fn rejected(&self) -> impl Iterator<Item = &Issue> {
        self.issues
            .iter()
            .filter(|i| i.action == IssueAction::Rejected)
    }

    pub fn repaired(&self) -> impl Iterator<Item = &Issue> {
        self.issues
            .iter()
            .filter(|i| i.action == IssueAction::Repaired)
    }
}

/// One feature that was dropped or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The file name as given by the caller.
    pub file: String,
    /// `#index` (0-based position in the file) plus the id when known, e.g. `#12 (id B-7)`,
    /// `#3 (line 4)`; for OSM `way 123` or `relation 45 (Vaduz)`.
    pub feature: String,
    pub action: IssueAction,
    pub reason: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: feature {}: {}: {}",
            self.file, self.feature, self.action, self.reason
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssueAction {
    /// The feature was dropped.
    Rejected,
    /// The feature was kept after its geometry was fixed.
    Repaired,
}

impl fmt::Display for IssueAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IssueAction::Rejected => "rejected",
            IssueAction::Repaired => "repaired",
        })
    }
}

/// Why a whole file could not be read. Problems with single features are [`Issue`]s instead.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: the file is empty")]
    Empty { file: String },
    #[error(
        "{file}: its features hold more than {limit} vertices in all, more than one import may \
         hold; nothing was imported: split it (one layer, or one part of the city, per file)"
    )]
    TooManyVertices { file: String, limit: usize },
    #[error(
        "{file}: neither GeoJSON, a shapefile nor an OSM PBF file (it starts with {start}); \
         name the format explicitly if it is one of them"
    )]
    UnknownFormat { file: String, start: String },
    #[error("{file}: not GeoJSON: {reason}")]
    NotGeoJson { file: String, reason: String },
    #[error("{file}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{file}: JSON nested more than {limit} levels deep (at line {line}, column {column}); \
         refusing to parse it"
    )]
    TooDeep {
        file: String,
        line: usize,
        column: usize,
        limit: usize,
    },
    #[error("{file}: the OSM PBF file is truncated: {reason}")]
    TruncatedPbf { file: String, reason: String },
    #[error("{file}: not a valid OSM PBF file: {reason}")]
    CorruptPbf { file: String, reason: String },
    #[error("{file}: {format} input cannot be imported as {target}")]
    UnsupportedTarget {
        file: String,
        format: Format,
        target: String,
    },
    #[error("{file}: not a departments file: {reason}")]
    Departments { file: String, reason: String },
    #[error("{file}: OSM data is always WGS84; the {crs} CRS does not apply to it")]
    CrsNotApplicable { file: String, crs: CrsChoice },
    #[error(
        "{file}: {crs} is a projected CRS, which only shapefiles may use; {format} coordinates \
         are lon/lat (wgs84, gcj02 or bd09)"
    )]
    ProjectedCrsNotApplicable {
        file: String,
        format: Format,
        crs: CrsChoice,
    },
    #[error(
        "{file}: a shapefile is several files (.shp, .shx, .dbf, .prj); import it from its path, \
         not from bytes"
    )]
    ShapefileNeedsPath { file: String },
    #[error(
        "{file}: the shapefile's {part} is missing: no {looked_for} next to it (a shapefile needs \
         its .shp, .shx and .dbf side by side)"
    )]
    ShapefilePartMissing {
        file: String,
        part: &'static str,
        looked_for: PathBuf,
    },
    #[error("{file}: not a valid shapefile: {reason}")]
    CorruptShapefile { file: String, reason: String },
    #[error("{file}: the .shp is truncated at record {record} (byte {offset}): {reason}")]
    TruncatedShp {
        file: String,
        record: usize,
        offset: u64,
        reason: String,
    },
    #[error("{file}: the .shx index disagrees with the .shp at record {record}: {reason}")]
    ShxMismatch {
        file: String,
        record: usize,
        reason: String,
    },
    #[error("{file}: the .dbf holds {dbf} records but the .shp {shp} shapes; they must match")]
    DbfCountMismatch {
        file: String,
        dbf: usize,
        shp: usize,
    },
    #[error("{file}: not a valid dBASE table: {reason}")]
    CorruptDbf { file: String, reason: String },
    #[error(
        "{file}: shape type {shape_type} ({name}) is not supported; use points, polylines, \
         polygons or multipoints (with or without Z/M)"
    )]
    UnsupportedShapeType {
        file: String,
        shape_type: i32,
        name: &'static str,
    },
    #[error(
        "{file}: no .prj says which coordinate system the shapefile is in; pass --crs (e.g. \
         wgs84, epsg:4490, epsg:4547, epsg:3857)"
    )]
    MissingPrj { file: String },
    #[error(
        "{file}: {reason}; pass --crs naming the coordinates' CRS (e.g. epsg:4547, epsg:32649) \
         if you know it"
    )]
    UnsupportedPrj { file: String, reason: String },
    #[error(
        "{file}: --field {field}={attribute}: the attribute table has no field {attribute:?}; \
         it has {available}"
    )]
    MissingField {
        file: String,
        field: &'static str,
        attribute: String,
        available: String,
    },
}

/// Sniffs the format from the first bytes: JSON text (`{` or `[` after whitespace and an optional
/// byte-order mark) is GeoJSON; a PBF blob header naming `OSMHeader` is OSM; the big-endian file
/// code 9994 is a shapefile's `.shp` (or `.shx`).
pub fn detect_format(bytes: &[u8]) -> Option<Format> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = text
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x1e));
    if matches!(first, Some(b'{' | b'[')) {
        return Some(Format::GeoJson);
    }
    // [u32 BE header length][0x0a, 9, "OSMHeader", ...]
    if bytes.len() >= 15 && bytes[4] == 0x0a && &bytes[6..15] == b"OSMHeader" {
        return Some(Format::OsmPbf);
    }
    if shapefile::has_magic(bytes) {
        return Some(Format::Shapefile);
    }
    None
}

/// Reads and imports one file. `file` names in the report are the path as given. A shapefile
/// (named by its `.shp`, found by extension or content) is read with its sibling files.
pub fn read_file(
    path: &Path,
    options: &ReadOptions,
    progress: Progress<'_>,
) -> Result<Imported, IngestError> {
    let name = path.display().to_string();
    let by_extension = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("shp"));
    if options.format == Format::Shapefile || (options.format == Format::Auto && by_extension) {
        check_target(&name, Format::Shapefile, &options.target)?;
        return shapefile::read(path, options, progress);
    }
    let bytes = std::fs::read(path).map_err(|source| IngestError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if options.format == Format::Auto && shapefile::has_magic(&bytes) {
        check_target(&name, Format::Shapefile, &options.target)?;
        return shapefile::read(path, options, progress);
    }
    read_bytes(&name, &bytes, options, progress)
}

/// Imports a file already in memory; `file` is the name used in errors and the report. Not for
/// shapefiles, which are several files ([`IngestError::ShapefileNeedsPath`]).
pub fn read_bytes(
    file: &str,
    bytes: &[u8],
    options: &ReadOptions,
    progress: Progress<'_>,
) -> Result<Imported, IngestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty { file: file.into() });
    }
    let format = match options.format {
        Format::Auto => detect_format(bytes).ok_or_else(|| IngestError::UnknownFormat {
            file: file.into(),
            start: describe_start(bytes),
        })?,
        f => f,
    };
    let target = &options.target;
    check_target(file, format, target)?;
    let owner = options.owner.as_str();
    match format {
        Format::Shapefile => Err(IngestError::ShapefileNeedsPath { file: file.into() }),
        Format::OsmPbf => {
            if let Some(crs) = options.crs {
                if crs.geographic() != Some(Crs::Wgs84) {
                    return Err(IngestError::CrsNotApplicable {
                        file: file.into(),
                        crs,
                    });
                }
            }
            osm::read(file, bytes, target, owner, progress)
        }
        Format::GeoJson | Format::Auto => {
            let crs = match options.crs {
                None => Crs::Wgs84,
                Some(choice) => {
                    choice
                        .geographic()
                        .ok_or(IngestError::ProjectedCrsNotApplicable {
                            file: file.into(),
                            format: Format::GeoJson,
                            crs: choice,
                        })?
                }
            };
            geojson::read(file, bytes, target, crs, &options.fields, owner, progress)
        }
    }
}

/// Refuses targets a format cannot fill: OSM has no single level, the others no "all".
fn check_target(file: &str, format: Format, target: &Target) -> Result<(), IngestError> {
    let ok = match format {
        Format::OsmPbf => !matches!(target, Target::Level(_)),
        _ => !matches!(target, Target::All(_)),
    };
    if ok {
        return Ok(());
    }
    Err(IngestError::UnsupportedTarget {
        file: file.into(),
        format: if format == Format::Auto {
            Format::GeoJson
        } else {
            format
        },
        target: target.to_string(),
    })
}

fn describe_start(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8)];
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    format!("bytes {}", hex.join(" "))
}

/// Gathers a reader's output: checks ids are unique, records issues and counts vertices
/// against [`MAX_IMPORT_VERTICES`].
pub(crate) struct Collector {
    file: String,
    out: Imported,
    asset_ids: HashMap<(AssetLayer, String), String>,
    codes: HashMap<String, String>,
    vertices: usize,
    vertex_limit: usize,
    /// The limit was passed: what was gathered is dropped and [`Collector::finish`] fails.
    full: bool,
}

impl Collector {
    pub fn new(file: &str) -> Collector {
        Collector::with_vertex_limit(file, MAX_IMPORT_VERTICES)
    }

    pub fn with_vertex_limit(file: &str, vertex_limit: usize) -> Collector {
        Collector {
            file: file.into(),
            out: Imported::default(),
            asset_ids: HashMap::new(),
            codes: HashMap::new(),
            vertices: 0,
            vertex_limit,
            full: false,
        }
    }

    /// True once the file holds more vertices than one import may: readers stop there.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Counts a feature's vertices; past the limit, drops everything gathered (the import
    /// fails) and returns false.
    fn take_vertices(&mut self, count: usize) -> bool {
        if self.full {
            return false;
        }
        self.vertices = self.vertices.saturating_add(count);
        if self.vertices > self.vertex_limit {
            self.full = true;
            self.out.assets = Vec::new();
            self.out.jurisdictions = Vec::new();
            self.asset_ids = HashMap::new();
            self.codes = HashMap::new();
            return false;
        }
        true
    }

    pub fn read_one(&mut self) {
        self.out.features_read += 1;
    }

    pub fn reject(&mut self, feature: &str, reason: impl Into<String>) {
        self.out.issues.push(Issue {
            file: self.file.clone(),
            feature: feature.into(),
            action: IssueAction::Rejected,
            reason: reason.into(),
        });
    }

    fn repaired(&mut self, feature: &str, repairs: Vec<String>) {
        if repairs.is_empty() {
            return;
        }
        self.out.issues.push(Issue {
            file: self.file.clone(),
            feature: feature.into(),
            action: IssueAction::Repaired,
            reason: repairs.join("; "),
        });
    }

    /// Adds an asset unless its id is already taken in its layer.
    pub fn asset(&mut self, feature: &str, asset: Asset, repairs: Vec<String>) {
        let key = (asset.layer, asset.id.clone());
        if let Some(first) = self.asset_ids.get(&key) {
            let reason = format!(
                "duplicate id {:?} in the {} layer (already used by feature {first})",
                asset.id,
                asset.layer.as_str()
            );
            self.reject(feature, reason);
            return;
        }
        if !self.take_vertices(asset.geometry.coords_count()) {
            return;
        }
        self.asset_ids.insert(key, feature.into());
        self.repaired(feature, repairs);
        self.out.assets.push(asset);
    }

    /// Adds a jurisdiction unless its code is already taken.
    pub fn jurisdiction(&mut self, feature: &str, j: Jurisdiction, repairs: Vec<String>) {
        if let Some(first) = self.codes.get(&j.code) {
            let reason = format!(
                "duplicate jurisdiction code {:?} (already used by feature {first})",
                j.code
            );
            self.reject(feature, reason);
            return;
        }
        if !self.take_vertices(j.geometry.coords_count()) {
            return;
        }
        self.codes.insert(j.code.clone(), feature.into());
        self.repaired(feature, repairs);
        self.out.jurisdictions.push(j);
    }

    /// What was gathered, or [`IngestError::TooManyVertices`] when the file held too much.
    pub fn finish(self) -> Result<Imported, IngestError> {
        if self.full {
            return Err(IngestError::TooManyVertices {
                file: self.file,
                limit: self.vertex_limit,
            });
        }
        Ok(self.out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_by_content() {
        assert_eq!(detect_format(b"  \n{\"type\":1}"), Some(Format::GeoJson));
        assert_eq!(detect_format(b"\xEF\xBB\xBF[]"), Some(Format::GeoJson));
        let pbf = std::fs::read(osm::tests::LIECHTENSTEIN).unwrap();
        assert_eq!(detect_format(&pbf), Some(Format::OsmPbf));
        assert_eq!(detect_format(b"PK\x03\x04zipfile"), None);
        let err = read_bytes(
            "x.zip",
            b"PK\x03\x04zipfile",
            &ReadOptions {
                format: Format::Auto,
                crs: Some(CrsChoice::Datum(Crs::Wgs84)),
                owner: "housing".into(),
                ..ReadOptions::new((Target::Layer(AssetLayer::Buildings)).clone())
            },
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(matches!(err, IngestError::UnknownFormat { .. }), "{err}");
        assert!(err.to_string().contains("50 4b 03 04"), "{err}");
    }

    #[test]
    fn a_file_past_the_vertex_limit_fails_as_a_whole() {
        let road = |id: &str| Asset {
            layer: AssetLayer::Roads,
            id: id.into(),
            name: String::new(),
            kind: "primary".into(),
            owner: "d".into(),
            props: Default::default(),
            geometry: geo::Geometry::LineString(vec![(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)].into()),
        };
        let mut out = Collector::with_vertex_limit("big.geojson", 7);
        out.asset("#0", road("a"), vec![]);
        out.asset("#1", road("b"), vec![]);
        assert!(!out.is_full());
        out.asset("#2", road("c"), vec![]);
        assert!(
            out.is_full() && out.out.assets.is_empty(),
            "what was gathered is dropped"
        );
        let err = out.finish().unwrap_err();
        assert!(
            matches!(err, IngestError::TooManyVertices { limit: 7, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("more than 7 vertices"), "{err}");
    }

    #[test]
    fn parses_admin_levels_and_formats() {
        let m = AdminLevels::parse("6=district, 8:street,10=community").unwrap();
        assert_eq!(m.get(8), Some(Level::Street));
        assert_eq!(m.get(9), None);
        assert!(AdminLevels::parse("8=town").is_err());
        assert!(AdminLevels::parse("x=street").is_err());
        assert_eq!(AdminLevels::default().get(6), Some(Level::District));
        assert_eq!(Format::parse("PBF"), Some(Format::OsmPbf));
        assert_eq!(Format::parse("ndjson"), Some(Format::GeoJson));
        assert_eq!(Format::parse("SHP"), Some(Format::Shapefile));
        assert_eq!(Format::parse("shapefile"), Some(Format::Shapefile));
    }

    #[test]
    fn missing_file_and_wrong_combinations_are_errors() {
        let err = read_file(
            Path::new("/nonexistent/x.geojson"),
            &ReadOptions {
                format: Format::Auto,
                crs: Some(CrsChoice::Datum(Crs::Wgs84)),
                owner: "d".into(),
                ..ReadOptions::new((Target::Layer(AssetLayer::Pois)).clone())
            },
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(matches!(err, IngestError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/x.geojson"), "{err}");

        let pbf = std::fs::read(osm::tests::LIECHTENSTEIN).unwrap();
        let err = read_bytes(
            "li.pbf",
            &pbf,
            &ReadOptions {
                format: Format::Auto,
                crs: Some(CrsChoice::Datum(Crs::Gcj02)),
                owner: "d".into(),
                ..ReadOptions::new((Target::Layer(AssetLayer::Roads)).clone())
            },
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(matches!(err, IngestError::CrsNotApplicable { .. }), "{err}");
        let err = read_bytes(
            "a.geojson",
            b"[]",
            &ReadOptions {
                format: Format::Auto,
                crs: Some(CrsChoice::Datum(Crs::Wgs84)),
                owner: "d".into(),
                ..ReadOptions::new((Target::All(AdminLevels::default())).clone())
            },
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(
            matches!(err, IngestError::UnsupportedTarget { .. }),
            "{err}"
        );
        let err = read_bytes(
            "a.geojson",
            b" \n ",
            &ReadOptions {
                format: Format::Auto,
                crs: Some(CrsChoice::Datum(Crs::Wgs84)),
                owner: "d".into(),
                ..ReadOptions::new((Target::Layer(AssetLayer::Pois)).clone())
            },
            &mut |_, _| {},
        )
        .unwrap_err();
        assert!(matches!(err, IngestError::Empty { .. }), "{err}");
    }

    #[test]
    fn geojson_takes_field_maps_but_no_projected_crs() {
        let text = r#"{"type":"Feature","properties":{"BH":"G-1","MC":"一网格"},"geometry":{"type":"Polygon","coordinates":[[[113.1,23.0],[113.101,23.0],[113.101,23.001],[113.1,23.0]]]}}"#.as_bytes();
        let options = ReadOptions {
            fields: FieldMap::parse("code=BH,name=MC").unwrap(),
            ..ReadOptions::new(Target::Level(Level::Grid))
        };
        let got = read_bytes("g.geojson", text, &options, &mut |_, _| {}).unwrap();
        assert_eq!(got.jurisdictions[0].code, "G-1");
        assert_eq!(got.jurisdictions[0].name, "一网格");
        let options = ReadOptions {
            crs: Some(CrsChoice::Epsg(3857)),
            ..options
        };
        let err = read_bytes("g.geojson", text, &options, &mut |_, _| {}).unwrap_err();
        assert!(
            matches!(err, IngestError::ProjectedCrsNotApplicable { .. }),
            "{err}"
        );
        let options = ReadOptions {
            crs: Some(CrsChoice::Epsg(4490)),
            ..options
        };
        assert!(read_bytes("g.geojson", text, &options, &mut |_, _| {}).is_ok());
    }
}
