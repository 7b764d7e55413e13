//! OpenStreetMap PBF extracts: buildings, highways, power lines, pipelines, points of interest
//! and administrative boundaries.
//!
//! The file is checked blob by blob for framing first (a file cut mid-blob is reported as
//! truncated before anything is decoded), then read in up to three passes so that only what is
//! needed stays in memory: relations (boundaries and building multipolygons, to learn which ways
//! they use), ways (the features and those member ways, to learn which nodes they use), nodes
//! (coordinates of those nodes only, and the nodes that are points of interest with their tags;
//! every other node is passed over). A pass nothing is wanted from is skipped. Features are built
//! at the end, so element order in the file does not matter.
//!
//! Mapping (ids are `N<node id>` / `W<way id>` / `R<relation id>`, owner is the caller's default
//! department, every tag but `name` is kept in `props`):
//! - nodes (plain or dense) tagged with a [`POI_KEYS`] key (`amenity`, `shop`, `tourism`,
//!   `historic`, `leisure`, `office`, `healthcare`, `emergency`, `man_made`), `highway=bus_stop`
//!   or `public_transport` → POIs (points), kind `<key>=<value>` of the first of those keys in
//!   that order (e.g. `amenity=school`, `emergency=fire_hydrant`, `man_made=manhole`), name from
//!   `name:zh`, else `name`, else `name:en`. Values `no` (and access values such as
//!   `emergency=yes`) do not make a POI. Ways and relations never become POIs: a closed way
//!   tagged `building` and `amenity` stays a building;
//! - closed ways with `building=*` (not `no`), and `type=multipolygon` relations with
//!   `building=*` → buildings; an unclosed building way is rejected;
//! - `highway=*` ways → roads, kind = the highway value, name from `name` (else `ref`);
//! - `power=line|minor_line|cable` → pipelines, kind `power`;
//! - `man_made=pipeline` → pipelines, kind from `substance`: water → `water_supply`,
//!   sewage/wastewater/drain/rainwater → `drainage`, gas → `gas`; without a substance,
//!   `waterway=drain|ditch` → `drainage`; else `other`;
//! - `boundary=administrative` relations whose `admin_level` is mapped → jurisdictions, code
//!   `R<id>`, rings assembled from the member ways by joining way ends; a relation whose rings
//!   cannot all be closed (typically member ways outside the extract) is rejected and reported.
//!   Parents are the innermost jurisdiction of an outer level containing a jurisdiction.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use geo::coordinate_position::{coord_pos_relative_to_ring, CoordPos};
use geo::{Area, Coord, Geometry, LineString, MultiPolygon};
use osmpbf::{BlobDecode, BlobReader, BlobType, Element, RelMemberType};
use serde_json::{Map, Value};

use super::clean::{self, RawGeom};
use super::{Collector, Imported, IngestError, Progress, Target};
use crate::district::{Asset, AssetLayer, Jurisdiction, Level};

/// Largest blob header the format allows.
const MAX_BLOB_HEADER: usize = 64 * 1024;

/// Reads an OSM PBF file (`bytes`, named `file` in the report).
pub fn read(
    file: &str,
    bytes: &[u8],
    target: &Target,
    default_owner: &str,
    progress: Progress<'_>,
) -> Result<Imported, IngestError> {
    let spans = frame(file, bytes)?;
    let want_buildings = target.wants_layer(AssetLayer::Buildings);
    let want_pois = target.wants_layer(AssetLayer::Pois);
    let levels = target.admin_levels();
    let want_relations = want_buildings || levels.is_some();
    let want_ways = want_relations
        || [AssetLayer::Roads, AssetLayer::Pipelines]
            .into_iter()
            .any(|l| target.wants_layer(l));
    let passes = 1 + u64::from(want_relations) + u64::from(want_ways);
    let len = bytes.len() as u64;
    let total = len * passes;
    let mut pass = 0u64;
    progress(0, total);

    // Pass 1: relations.
    let mut relations: Vec<RelInfo> = Vec::new();
    let mut needed_ways: HashSet<i64> = HashSet::new();
    if want_relations {
        scan(
            file,
            bytes,
            &spans,
            &mut |e| {
                if let Element::Relation(r) = e {
                    let tags: Vec<(&str, &str)> = r.tags().collect();
                    let Some(kind) = relation_kind(&tags, target) else {
                        return;
                    };
                    let mut members = Vec::new();
                    for m in r.members() {
                        if m.member_type == RelMemberType::Way {
                            let role = m.role().unwrap_or("").to_string();
                            needed_ways.insert(m.member_id);
                            members.push((m.member_id, role));
                        }
                    }
                    relations.push(RelInfo {
                        id: r.id(),
                        kind,
                        tags: owned(&tags),
                        members,
                    });
                }
            },
            &mut |done| progress(pass * len + done, total),
        )?;
        pass += 1;
    }

    // Pass 2: ways.
    let mut ways: Vec<WayInfo> = Vec::new();
    let mut member_ways: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut needed_nodes: HashSet<i64> = HashSet::new();
    if want_ways {
        scan(
            file,
            bytes,
            &spans,
            &mut |e| {
                if let Element::Way(w) = e {
                    let id = w.id();
                    let layers = way_layers(w.tags(), target);
                    let is_member = needed_ways.contains(&id);
                    if layers.is_empty() && !is_member {
                        return;
                    }
                    let mut refs = Vec::with_capacity(w.raw_refs().len());
                    let mut cur = 0i64;
                    for d in w.raw_refs() {
                        cur = cur.wrapping_add(*d);
                        refs.push(cur);
                    }
                    needed_nodes.extend(refs.iter().copied());
                    if is_member {
                        member_ways.insert(id, refs.clone());
                    }
                    if !layers.is_empty() {
                        let tags: Vec<(&str, &str)> = w.tags().collect();
                        ways.push(WayInfo {
                            id,
                            tags: owned(&tags),
                            refs,
                            layers,
                        });
                    }
                }
            },
            &mut |done| progress(pass * len + done, total),
        )?;
        pass += 1;
    }

    // Pass 3: the nodes those ways use, and the nodes that are points of interest.
    let mut nodes: HashMap<i64, Coord> = HashMap::with_capacity(needed_nodes.len());
    let mut pois: Vec<PoiNode> = Vec::new();
    scan(
        file,
        bytes,
        &spans,
        &mut |e| {
            let (id, coord, poi) = match e {
                Element::Node(n) => (
                    n.id(),
                    Coord {
                        x: n.lon(),
                        y: n.lat(),
                    },
                    want_pois.then(|| poi_tags(n.tags())).flatten(),
                ),
                Element::DenseNode(n) => (
                    n.id(),
                    Coord {
                        x: n.lon(),
                        y: n.lat(),
                    },
                    want_pois.then(|| poi_tags(n.tags())).flatten(),
                ),
                _ => return,
            };
            if needed_nodes.contains(&id) {
                nodes.insert(id, coord);
            }
            if let Some(tags) = poi {
                pois.push(PoiNode {
                    id,
                    coord,
                    tags: owned(&tags),
                });
            }
        },
        &mut |done| progress(pass * len + done, total),
    )?;
    drop(needed_nodes);

    let mut out = Collector::new(file);
    // Each stops once the file holds more vertices than one import may.
    for way in &ways {
        if out.is_full() {
            break;
        }
        build_way(&mut out, way, &nodes, default_owner);
    }
    for rel in &relations {
        if out.is_full() {
            break;
        }
        build_relation(&mut out, rel, &member_ways, &nodes, default_owner);
    }
    for poi in &pois {
        if out.is_full() {
            break;
        }
        build_poi(&mut out, poi, default_owner);
    }
    let mut imported = out.finish()?;
    crate::hierarchy::assign_parents(&mut imported.jurisdictions);
    Ok(imported)
}

/// Byte range of one blob (header length, header, blob).
struct Span {
    start: usize,
    end: usize,
}

/// Walks the blob framing without decoding: every blob must fit in the file, and the first must
/// be the OSM header.
fn frame(file: &str, bytes: &[u8]) -> Result<Vec<Span>, IngestError> {
    let truncated = |reason: String| IngestError::TruncatedPbf {
        file: file.into(),
        reason,
    };
    let corrupt = |reason: String| IngestError::CorruptPbf {
        file: file.into(),
        reason,
    };
    let mut spans = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let left = bytes.len() - pos;
        if left < 4 {
            return Err(truncated(format!(
                "{left} stray byte(s) after the last complete blob (at byte {pos})"
            )));
        }
        let header_len =
            u32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]])
                as usize;
        if header_len == 0 || header_len >= MAX_BLOB_HEADER {
            return Err(corrupt(format!(
                "the blob header at byte {pos} claims {header_len} bytes (a valid one has 1 to \
                 {MAX_BLOB_HEADER})"
            )));
        }
        if header_len > left - 4 {
            return Err(truncated(format!(
                "the blob header at byte {pos} runs past the end of the file ({} bytes)",
                bytes.len()
            )));
        }
        let mut reader = BlobReader::new_seekable(Cursor::new(&bytes[pos..]))
            .map_err(|e| corrupt(format!("at byte {pos}: {e}")))?;
        let header = match reader.next_header_skip_blob() {
            Some(Ok((header, _))) => header,
            Some(Err(e)) => return Err(corrupt(format!("blob header at byte {pos}: {e}"))),
            None => return Err(truncated(format!("no blob header at byte {pos}"))),
        };
        let data_len = usize::try_from(header.get_blob_size()).map_err(|_| {
            corrupt(format!(
                "the blob at byte {pos} has a negative size ({})",
                header.get_blob_size()
            ))
        })?;
        let end = pos + 4 + header_len + data_len;
        if end > bytes.len() {
            return Err(truncated(format!(
                "the blob at byte {pos} needs {} bytes but the file ends after {}",
                end - pos,
                bytes.len() - pos
            )));
        }
        if spans.is_empty() && header.blob_type() != BlobType::OsmHeader {
            return Err(corrupt(format!(
                "the first blob is {:?}, not OSMHeader",
                header.blob_type().as_str()
            )));
        }
        spans.push(Span { start: pos, end });
        pos = end;
    }
    if spans.is_empty() {
        return Err(corrupt("the file holds no blobs".into()));
    }
    Ok(spans)
}

/// Decodes every data blob and hands each element to `f`. A decoding error, or a panic inside
/// the decoder on malformed data, becomes [`IngestError::CorruptPbf`].
fn scan(
    file: &str,
    bytes: &[u8],
    spans: &[Span],
    f: &mut dyn FnMut(Element<'_>),
    done: &mut dyn FnMut(u64),
) -> Result<(), IngestError> {
    for (i, span) in spans.iter().enumerate() {
        let corrupt = |why: String| IngestError::CorruptPbf {
            file: file.into(),
            reason: format!("blob {i} at byte {}: {why}", span.start),
        };
        let decoded = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
            let blob = match BlobReader::new(&bytes[span.start..span.end]).next() {
                Some(Ok(blob)) => blob,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("missing".into()),
            };
            match blob.decode().map_err(|e| e.to_string())? {
                BlobDecode::OsmData(block) => block.for_each_element(&mut *f),
                BlobDecode::OsmHeader(_) | BlobDecode::Unknown(_) => {}
            }
            Ok(())
        }));
        match decoded {
            Ok(Ok(())) => {}
            Ok(Err(why)) => return Err(corrupt(why)),
            Err(_) => return Err(corrupt("the decoder failed on malformed data".into())),
        }
        done(span.end as u64);
    }
    Ok(())
}

fn owned(tags: &[(&str, &str)]) -> Vec<(String, String)> {
    tags.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A relation we build something from.
struct RelInfo {
    id: i64,
    kind: RelKind,
    tags: Vec<(String, String)>,
    /// Member ways and their roles.
    members: Vec<(i64, String)>,
}

#[derive(Clone, Copy)]
enum RelKind {
    Boundary { level: Level },
    Building,
}

fn relation_kind(tags: &[(&str, &str)], target: &Target) -> Option<RelKind> {
    let get = |key: &str| tags.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let rel_type = get("type");
    if let Some(levels) = target.admin_levels() {
        if get("boundary") == Some("administrative")
            && matches!(rel_type, None | Some("boundary" | "multipolygon"))
        {
            let level = get("admin_level")
                .and_then(|l| l.trim().parse::<u8>().ok())
                .and_then(|l| levels.get(l))?;
            return Some(RelKind::Boundary { level });
        }
    }
    if target.wants_layer(AssetLayer::Buildings)
        && rel_type == Some("multipolygon")
        && get("building").is_some_and(|b| b != "no")
    {
        return Some(RelKind::Building);
    }
    None
}

/// A way we build an asset from.
struct WayInfo {
    id: i64,
    tags: Vec<(String, String)>,
    refs: Vec<i64>,
    layers: Vec<WayAs>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum WayAs {
    Building,
    Road,
    Power,
    Pipeline,
}

fn way_layers<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>, target: &Target) -> Vec<WayAs> {
    let mut out = Vec::new();
    let mut pipeline = None;
    for (k, v) in tags {
        match (k, v) {
            ("building", v) if v != "no" && target.wants_layer(AssetLayer::Buildings) => {
                out.push(WayAs::Building)
            }
            ("highway", _) if target.wants_layer(AssetLayer::Roads) => out.push(WayAs::Road),
            ("power", "line" | "minor_line" | "cable")
                if target.wants_layer(AssetLayer::Pipelines) =>
            {
                pipeline = Some(WayAs::Power)
            }
            ("man_made", "pipeline") if target.wants_layer(AssetLayer::Pipelines) => {
                pipeline = pipeline.or(Some(WayAs::Pipeline))
            }
            _ => {}
        }
    }
    out.extend(pipeline);
    out
}

/// A pipeline's kind code from its `substance=*` tag; without one, `waterway=drain|ditch` (an
/// underground drain mapped as a pipeline) means drainage.
pub fn pipeline_kind(substance: Option<&str>, waterway: Option<&str>) -> &'static str {
    let s = substance.unwrap_or("").to_ascii_lowercase();
    match s.split(';').next().unwrap_or("").trim() {
        "water" | "drinking_water" => "water_supply",
        "sewage" | "wastewater" | "waste_water" | "drain" | "drainage" | "rainwater"
        | "stormwater" | "storm_water" => "drainage",
        "gas" | "natural_gas" | "cng" | "lng" => "gas",
        "" if matches!(waterway, Some("drain" | "ditch")) => "drainage",
        _ => "other",
    }
}

/// Keys whose value says what a node is as a point of interest, in order of precedence
/// (`highway=bus_stop` and `public_transport=*` come after them).
pub const POI_KEYS: [&str; 9] = [
    "amenity",
    "shop",
    "tourism",
    "historic",
    "leisure",
    "office",
    "healthcare",
    "emergency",
    "man_made",
];

/// `emergency=*` values that are access restrictions (on ways, mostly), not objects.
const EMERGENCY_ACCESS: [&str; 8] = [
    "yes",
    "designated",
    "destination",
    "private",
    "permissive",
    "official",
    "discouraged",
    "customers",
];

/// The POI kind of a node's tags, `<key>=<value>` (e.g. `amenity=school`); `None` when the node
/// is not a point of interest.
pub fn poi_kind<K: AsRef<str>, V: AsRef<str>>(tags: &[(K, V)]) -> Option<String> {
    let get = |key: &str| {
        tags.iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v.as_ref().trim())
            .filter(|v| !v.is_empty() && *v != "no")
    };
    for key in POI_KEYS {
        if let Some(v) = get(key) {
            if key == "emergency" && EMERGENCY_ACCESS.contains(&v) {
                continue;
            }
            return Some(format!("{key}={v}"));
        }
    }
    if get("highway") == Some("bus_stop") {
        return Some("highway=bus_stop".into());
    }
    get("public_transport").map(|v| format!("public_transport={v}"))
}

/// The name a POI is shown by: `name:zh`, else `name`, else `name:en`; empty without any.
pub fn poi_name<K: AsRef<str>, V: AsRef<str>>(tags: &[(K, V)]) -> &str {
    ["name:zh", "name", "name:en"]
        .into_iter()
        .find_map(|key| {
            tags.iter()
                .find(|(k, v)| k.as_ref() == key && !v.as_ref().trim().is_empty())
                .map(|(_, v)| v.as_ref().trim())
        })
        .unwrap_or("")
}

/// A node's tags if it is a point of interest. Untagged nodes (most of a file) cost nothing.
fn poi_tags<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>) -> Option<Vec<(&'a str, &'a str)>> {
    let tags: Vec<(&str, &str)> = tags.collect();
    if tags.is_empty() {
        return None;
    }
    poi_kind(&tags).map(|_| tags)
}

/// A node that is a point of interest.
struct PoiNode {
    id: i64,
    coord: Coord,
    tags: Vec<(String, String)>,
}

fn build_poi(out: &mut Collector, poi: &PoiNode, owner: &str) {
    out.read_one();
    let feature = label("node", poi.id, &poi.tags);
    let Some(kind) = poi_kind(&poi.tags) else {
        return;
    };
    match clean::clean(RawGeom::Point(poi.coord), &identity) {
        Ok(cleaned) => {
            let asset = Asset {
                layer: AssetLayer::Pois,
                id: format!("N{}", poi.id),
                name: poi_name(&poi.tags).to_string(),
                kind,
                owner: owner.to_string(),
                props: props_of(&poi.tags, format!("node/{}", poi.id)).into(),
                geometry: cleaned.geometry,
            };
            out.asset(&feature, asset, cleaned.repairs);
        }
        Err(why) => out.reject(&feature, why),
    }
}

fn props_of(tags: &[(String, String)], osm_id: String) -> Map<String, Value> {
    let mut props = Map::new();
    props.insert("osm_id".into(), Value::from(osm_id));
    for (k, v) in tags {
        if k != "name" {
            props.insert(k.clone(), Value::from(v.clone()));
        }
    }
    props
}

fn label(kind: &str, id: i64, tags: &[(String, String)]) -> String {
    match tag(tags, "name") {
        Some(name) => format!("{kind} {id} ({name})"),
        None => format!("{kind} {id}"),
    }
}

fn identity(x: f64, y: f64) -> (f64, f64) {
    (x, y)
}

fn build_way(out: &mut Collector, way: &WayInfo, nodes: &HashMap<i64, Coord>, owner: &str) {
    let feature = label("way", way.id, &way.tags);
    let coords: Vec<Option<Coord>> = way.refs.iter().map(|r| nodes.get(r).copied()).collect();
    let missing = coords.iter().filter(|c| c.is_none()).count();
    let name = tag(&way.tags, "name").unwrap_or("").to_string();
    for layer in &way.layers {
        out.read_one();
        let asset = |layer, kind: &str, name: &str, geometry| Asset {
            layer,
            id: format!("W{}", way.id),
            name: name.to_string(),
            kind: kind.to_string(),
            owner: owner.to_string(),
            props: props_of(&way.tags, format!("way/{}", way.id)).into(),
            geometry,
        };
        match layer {
            WayAs::Building => {
                if way.refs.len() < 2 || way.refs.first() != way.refs.last() {
                    out.reject(
                        &feature,
                        "building way is not closed (its last node is not its first), so it \
                         encloses no area",
                    );
                    continue;
                }
                if missing > 0 {
                    out.reject(
                        &feature,
                        format!(
                            "{missing} of the building's {} nodes are missing from the extract",
                            coords.len()
                        ),
                    );
                    continue;
                }
                let ring: Vec<Coord> = coords.iter().flatten().copied().collect();
                match clean::clean_polygonal(vec![vec![ring]], &identity) {
                    Ok((mp, repairs)) => {
                        let kind = tag(&way.tags, "building").unwrap_or("yes");
                        let geometry = single_or_multi(mp);
                        out.asset(
                            &feature,
                            asset(AssetLayer::Buildings, kind, &name, geometry),
                            repairs,
                        );
                    }
                    Err(why) => out.reject(&feature, why),
                }
            }
            WayAs::Road | WayAs::Power | WayAs::Pipeline => {
                let (layer, kind, name) = match layer {
                    WayAs::Road => (
                        AssetLayer::Roads,
                        tag(&way.tags, "highway").unwrap_or("road"),
                        tag(&way.tags, "name")
                            .or_else(|| tag(&way.tags, "ref"))
                            .unwrap_or(""),
                    ),
                    WayAs::Power => (AssetLayer::Pipelines, "power", name.as_str()),
                    _ => (
                        AssetLayer::Pipelines,
                        pipeline_kind(tag(&way.tags, "substance"), tag(&way.tags, "waterway")),
                        name.as_str(),
                    ),
                };
                // Runs of consecutive nodes that are present; a gap splits the line.
                let mut runs: Vec<Vec<Coord>> = vec![Vec::new()];
                for c in &coords {
                    match c {
                        Some(c) => {
                            if let Some(run) = runs.last_mut() {
                                run.push(*c);
                            }
                        }
                        None => runs.push(Vec::new()),
                    }
                }
                runs.retain(|r| r.len() >= 2);
                if runs.is_empty() {
                    out.reject(
                        &feature,
                        format!(
                            "fewer than 2 consecutive nodes of {} are in the extract",
                            coords.len()
                        ),
                    );
                    continue;
                }
                let raw = if runs.len() == 1 {
                    RawGeom::LineString(runs.remove(0))
                } else {
                    RawGeom::MultiLineString(runs)
                };
                match clean::clean(raw, &identity) {
                    Ok(mut cleaned) => {
                        if missing > 0 {
                            cleaned.repairs.insert(
                                0,
                                format!(
                                    "{missing} of {} nodes are missing from the extract; kept \
                                     the parts present",
                                    coords.len()
                                ),
                            );
                        }
                        out.asset(
                            &feature,
                            asset(layer, kind, name, cleaned.geometry),
                            cleaned.repairs,
                        );
                    }
                    Err(why) => out.reject(&feature, why),
                }
            }
        }
    }
}

fn single_or_multi(mp: MultiPolygon<f64>) -> Geometry<f64> {
    if mp.0.len() == 1 {
        mp.0.into_iter()
            .next()
            .map(Geometry::Polygon)
            .unwrap_or(Geometry::MultiPolygon(MultiPolygon::new(vec![])))
    } else {
        Geometry::MultiPolygon(mp)
    }
}

fn build_relation(
    out: &mut Collector,
    rel: &RelInfo,
    member_ways: &HashMap<i64, Vec<i64>>,
    nodes: &HashMap<i64, Coord>,
    owner: &str,
) {
    out.read_one();
    let feature = label("relation", rel.id, &rel.tags);
    let mut outer_ways = Vec::new();
    let mut inner_ways = Vec::new();
    let mut missing_ways = 0;
    let mut way_count = 0;
    // A relation may name the same long way again and again: count before copying.
    let mut vertices = 0usize;
    for (way_id, role) in &rel.members {
        let inner = match role.as_str() {
            "outer" | "" | "exclave" => false,
            "inner" | "enclave" => true,
            _ => continue,
        };
        way_count += 1;
        vertices = vertices.saturating_add(member_ways.get(way_id).map_or(0, Vec::len));
        if vertices > clean::MAX_GEOMETRY_VERTICES {
            out.reject(
                &feature,
                format!(
                    "its member ways hold more than {} vertices, the limit for one geometry",
                    clean::MAX_GEOMETRY_VERTICES
                ),
            );
            return;
        }
        match member_ways.get(way_id) {
            Some(refs) if inner => inner_ways.push(refs.clone()),
            Some(refs) => outer_ways.push(refs.clone()),
            None => missing_ways += 1,
        }
    }
    if way_count == 0 {
        out.reject(&feature, "the relation has no outer or inner member ways");
        return;
    }
    let (mut rings, mut open) = assemble_rings(outer_ways);
    let outer_count = rings.len();
    let (inner_rings, inner_open) = assemble_rings(inner_ways);
    rings.extend(inner_rings);
    open.extend(inner_open);
    let missing_note = if missing_ways > 0 {
        format!("{missing_ways} of its {way_count} member ways are missing from the extract")
    } else {
        String::new()
    };
    if !open.is_empty() {
        let ends: Vec<String> = open
            .iter()
            .take(3)
            .map(|(a, b)| format!("nodes {a}…{b}"))
            .collect();
        let mut reason = format!(
            "{} ring(s) could not be closed (open chains between {})",
            open.len(),
            ends.join(", ")
        );
        if !missing_note.is_empty() {
            reason = format!("{reason}; {missing_note}");
        }
        out.reject(&feature, reason);
        return;
    }
    if rings.is_empty() {
        out.reject(
            &feature,
            format!("no ring could be assembled; {missing_note}"),
        );
        return;
    }
    let mut coord_rings = Vec::with_capacity(rings.len());
    for ring in &rings {
        let coords: Option<Vec<Coord>> = ring.iter().map(|r| nodes.get(r).copied()).collect();
        match coords {
            Some(c) => coord_rings.push(c),
            None => {
                let missing = ring.iter().filter(|r| !nodes.contains_key(r)).count();
                out.reject(
                    &feature,
                    format!("{missing} node(s) of its rings are missing from the extract"),
                );
                return;
            }
        }
    }
    let (polygons, role_fixes) = nest_rings(coord_rings, outer_count);
    let mut repairs = Vec::new();
    if !missing_note.is_empty() {
        repairs.push(format!(
            "{missing_note}; built from the {} closed ring(s) present",
            rings.len()
        ));
    }
    if role_fixes > 0 {
        repairs.push(format!(
            "{role_fixes} ring(s) had an outer/inner role contradicting their nesting; used the \
             nesting"
        ));
    }
    let (mp, more) = match clean::clean_polygonal(polygons, &identity) {
        Ok(r) => r,
        Err(why) => return out.reject(&feature, why),
    };
    repairs.extend(more);
    let name = tag(&rel.tags, "name").unwrap_or("").to_string();
    match rel.kind {
        RelKind::Boundary { level } => {
            let j = Jurisdiction {
                generated: false,
                level,
                code: format!("R{}", rel.id),
                name,
                parent: None,
                geometry: mp,
            };
            out.jurisdiction(&feature, j, repairs);
        }
        RelKind::Building => {
            let asset = Asset {
                layer: AssetLayer::Buildings,
                id: format!("R{}", rel.id),
                name,
                kind: tag(&rel.tags, "building").unwrap_or("yes").to_string(),
                owner: owner.to_string(),
                props: props_of(&rel.tags, format!("relation/{}", rel.id)).into(),
                geometry: single_or_multi(mp),
            };
            out.asset(&feature, asset, repairs);
        }
    }
}

/// Joins ways (node id lists) end to end into closed rings. Returns the rings and, for chains
/// that could not be closed, their two end nodes.
fn assemble_rings(ways: Vec<Vec<i64>>) -> (Vec<Vec<i64>>, Vec<(i64, i64)>) {
    let mut pool: Vec<Option<Vec<i64>>> = ways
        .into_iter()
        .filter(|w| w.len() >= 2)
        .map(Some)
        .collect();
    let mut by_end: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, w) in pool.iter().enumerate() {
        if let Some(w) = w {
            by_end.entry(w[0]).or_default().push(i);
            if let Some(last) = w.last() {
                by_end.entry(*last).or_default().push(i);
            }
        }
    }
    let mut rings = Vec::new();
    let mut open = Vec::new();
    for start in 0..pool.len() {
        let Some(mut chain) = pool[start].take() else {
            continue;
        };
        loop {
            let (first, end) = (chain[0], chain[chain.len() - 1]);
            if first == end {
                rings.push(chain);
                break;
            }
            let candidates: Vec<usize> = by_end
                .get(&end)
                .map(|c| c.iter().copied().filter(|&k| pool[k].is_some()).collect())
                .unwrap_or_default();
            // Prefer a way that closes the ring.
            let closes = |k: &usize| {
                pool[*k]
                    .as_ref()
                    .is_some_and(|w| w[0] == first || w[w.len() - 1] == first)
            };
            let next = candidates
                .iter()
                .copied()
                .find(closes)
                .or(candidates.first().copied());
            let Some(k) = next else {
                open.push((first, end));
                break;
            };
            let Some(way) = pool[k].take() else {
                open.push((first, end));
                break;
            };
            if way[0] == end {
                chain.extend_from_slice(&way[1..]);
            } else {
                chain.extend(way.iter().rev().skip(1));
            }
        }
    }
    (rings, open)
}

/// Sorts closed rings into polygons by nesting: a ring inside an even number of others is an
/// exterior, inside an odd number a hole of the innermost exterior around it. The first
/// `outer_count` rings came with an outer role; returns how many roles the nesting contradicted.
fn nest_rings(rings: Vec<Vec<Coord>>, outer_count: usize) -> (Vec<Vec<Vec<Coord>>>, usize) {
    let n = rings.len();
    let lines: Vec<LineString<f64>> = rings.into_iter().map(LineString::new).collect();
    let areas: Vec<f64> = lines
        .iter()
        .map(|l| geo::Polygon::new(l.clone(), vec![]).unsigned_area())
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| areas[b].total_cmp(&areas[a]));
    // container[i]: innermost larger ring containing ring i; depth[i]: how many contain it.
    let mut depth = vec![0usize; n];
    let mut container: Vec<Option<usize>> = vec![None; n];
    for (pos, &i) in order.iter().enumerate() {
        for &j in order[..pos].iter().rev() {
            if ring_inside(&lines[i], &lines[j]) {
                depth[i] = depth[j] + 1;
                container[i] = Some(j);
                break;
            }
        }
    }
    let mut shell_slot: HashMap<usize, usize> = HashMap::new();
    let mut polygons: Vec<Vec<Vec<Coord>>> = Vec::new();
    let mut role_fixes = 0;
    for &i in &order {
        let is_outer = depth[i] % 2 == 0;
        if is_outer != (i < outer_count) {
            role_fixes += 1;
        }
        if is_outer {
            shell_slot.insert(i, polygons.len());
            polygons.push(vec![lines[i].0.clone()]);
        } else if let Some(slot) = container[i].and_then(|c| shell_slot.get(&c)) {
            polygons[*slot].push(lines[i].0.clone());
        }
    }
    (polygons, role_fixes)
}

/// Whether `ring` lies inside `other`, judged by its first vertex not on `other`'s boundary.
fn ring_inside(ring: &LineString<f64>, other: &LineString<f64>) -> bool {
    for c in &ring.0 {
        match coord_pos_relative_to_ring(*c, other) {
            CoordPos::Inside => return true,
            CoordPos::Outside => return false,
            CoordPos::OnBoundary => continue,
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::ingest::{
        read_bytes, AdminLevels, Crs, CrsChoice, Format, IssueAction, ReadOptions,
    };
    use geo::Validation;

    pub const LIECHTENSTEIN: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/osm/liechtenstein-2013-08-03.osm.pbf"
    );

    fn import(bytes: &[u8], target: Target) -> Result<Imported, IngestError> {
        read_bytes(
            "liechtenstein.osm.pbf",
            bytes,
            &ReadOptions {
                format: Format::Auto,
                crs: Some(CrsChoice::Datum(Crs::Wgs84)),
                owner: "urban_mgmt".into(),
                ..ReadOptions::new((target).clone())
            },
            &mut |_, _| {},
        )
    }

    #[test]
    fn liechtenstein_extract() {
        let bytes = std::fs::read(LIECHTENSTEIN).unwrap();
        let mut calls = 0u64;
        let mut last = (0, 0);
        let got = read_bytes(
            "liechtenstein.osm.pbf",
            &bytes,
            &ReadOptions {
                format: Format::Auto,
                crs: Some(CrsChoice::Datum(Crs::Wgs84)),
                owner: "urban_mgmt".into(),
                ..ReadOptions::new((Target::All(AdminLevels::default())).clone())
            },
            &mut |done, total| {
                calls += 1;
                assert!(done <= total);
                last = (done, total);
            },
        )
        .unwrap();
        assert!(calls > 3);
        assert_eq!(last.0, last.1);
        assert_eq!(last.1, 3 * bytes.len() as u64);

        let count = |layer: AssetLayer| got.assets.iter().filter(|a| a.layer == layer).count();
        let buildings = count(AssetLayer::Buildings);
        let roads = count(AssetLayer::Roads);
        let pipes: Vec<&Asset> = got
            .assets
            .iter()
            .filter(|a| a.layer == AssetLayer::Pipelines)
            .collect();
        let unclosed = got
            .rejected()
            .filter(|i| i.reason.contains("not closed"))
            .count();
        let boundaries = &got.jurisdictions;
        let rejected_boundaries: Vec<_> = got
            .rejected()
            .filter(|i| i.feature.starts_with("relation"))
            .collect();
        eprintln!(
            "buildings {buildings} (unclosed ways rejected {unclosed}), roads {roads}, \
             pipelines {}, boundaries {} closed of {}, issues {}",
            pipes.len(),
            boundaries.len(),
            boundaries.len() + rejected_boundaries.len(),
            got.issues.len()
        );
        for i in got.issues.iter().take(40) {
            eprintln!("  {i}");
        }
        for j in boundaries {
            eprintln!(
                "  {} {} {:?} parts {}",
                j.code,
                j.name,
                j.level,
                j.geometry.0.len()
            );
        }

        // README: 3,722 building ways, 2,753 highway ways, 3 power lines, 2 pipelines, 22
        // admin_level 8 relations.
        let way_buildings = got
            .assets
            .iter()
            .filter(|a| a.layer == AssetLayer::Buildings && a.id.starts_with('W'))
            .count();
        let rejected_building_ways = got
            .rejected()
            .filter(|i| i.feature.starts_with("way") && i.reason.contains("building"))
            .count();
        assert_eq!(way_buildings + rejected_building_ways, 3_722);
        assert!(way_buildings >= 3_700, "{way_buildings}");
        assert!((2_700..=2_753).contains(&roads), "{roads}");
        let power = pipes.iter().filter(|a| a.kind == "power").count();
        assert_eq!(power, 3);
        let drains: Vec<_> = pipes.iter().filter(|a| a.kind != "power").collect();
        assert_eq!(drains.len(), 2);
        assert!(drains.iter().all(|a| a.kind == "drainage"), "{drains:?}");
        assert!(!boundaries.is_empty());
        for j in boundaries {
            assert!(j.code.starts_with('R'));
            assert!(j.geometry.is_valid(), "{} {}", j.code, j.name);
        }
        for i in &rejected_boundaries {
            assert!(i.reason.contains("could not be closed"), "{i}");
        }
        // Municipalities (admin_level 8 → street) get the electoral district (admin_level 6 →
        // district) containing them as parent.
        let code_of = |name: &str| {
            boundaries
                .iter()
                .find(|j| j.name == name)
                .map(|j| j.code.clone())
        };
        let vaduz = boundaries.iter().find(|j| j.name == "Vaduz").unwrap();
        assert_eq!(vaduz.level, Level::Street);
        assert_eq!(vaduz.parent, code_of("Wahlkreis Oberland"));
        let eschen = boundaries.iter().find(|j| j.name == "Eschen").unwrap();
        assert_eq!(eschen.parent, code_of("Wahlkreis Unterland"));
        assert!(eschen.parent.is_some());

        // The 22 admin_level 8 relations alone: Liechtenstein's 11 municipalities close; the 11
        // Austrian and Swiss neighbours are cut by the extract and are reported.
        let level8 = import(
            &bytes,
            Target::Levels(AdminLevels::parse("8=street").unwrap()),
        )
        .unwrap();
        let closed = level8.jurisdictions.len();
        let open: Vec<_> = level8.rejected().collect();
        eprintln!("admin_level 8: {closed} of {} close", closed + open.len());
        assert_eq!(closed + open.len(), 22);
        assert_eq!(closed, 11);
        assert!(level8.jurisdictions.iter().all(|j| j.parent.is_none()));

        // Every building polygon is valid and inside Liechtenstein's neighbourhood.
        for a in got
            .assets
            .iter()
            .filter(|a| a.layer == AssetLayer::Buildings)
        {
            assert!(a.geometry.is_valid(), "{}", a.id);
            assert!(a.id.starts_with('W') || a.id.starts_with('R'));
            assert_eq!(a.owner, "urban_mgmt");
        }
        let road = got
            .assets
            .iter()
            .find(|a| a.layer == AssetLayer::Roads && !a.name.is_empty())
            .unwrap();
        assert!(matches!(road.geometry, Geometry::LineString(_)));
        assert!(road.props.contains_key("highway"));
        assert!(got.issues.iter().all(|i| i.file == "liechtenstein.osm.pbf"
            && (i.action == IssueAction::Repaired || !i.reason.is_empty())));
    }

    #[test]
    fn one_layer_only() {
        let bytes = std::fs::read(LIECHTENSTEIN).unwrap();
        let got = import(&bytes, Target::Layer(AssetLayer::Pipelines)).unwrap();
        assert_eq!(got.assets.len(), 5);
        assert!(got.jurisdictions.is_empty());
        let got = import(
            &bytes,
            Target::Levels(AdminLevels::parse("8=community").unwrap()),
        )
        .unwrap();
        assert!(got.assets.is_empty());
        assert!(!got.jurisdictions.is_empty());
        assert!(got
            .jurisdictions
            .iter()
            .all(|j| j.level == Level::Community));
    }

    #[test]
    fn points_of_interest_by_their_tags() {
        let kind = |tags: &[(&str, &str)]| poi_kind(tags);
        assert_eq!(
            kind(&[
                ("emergency", "fire_hydrant"),
                ("fire_hydrant:type", "pillar")
            ])
            .as_deref(),
            Some("emergency=fire_hydrant")
        );
        assert_eq!(kind(&[("emergency", "yes")]), None, "an access value");
        assert_eq!(
            kind(&[("man_made", "manhole"), ("manhole", "drain")]).as_deref(),
            Some("man_made=manhole")
        );
        assert_eq!(
            kind(&[("highway", "bus_stop"), ("public_transport", "platform")]).as_deref(),
            Some("highway=bus_stop")
        );
        assert_eq!(
            kind(&[("public_transport", "stop_position")]).as_deref(),
            Some("public_transport=stop_position")
        );
        assert_eq!(kind(&[("highway", "crossing")]), None);
        assert_eq!(kind(&[("created_by", "JOSM")]), None);
        assert_eq!(kind(&[]), None);
        assert_eq!(
            kind(&[("amenity", "no"), ("shop", "bakery")]).as_deref(),
            Some("shop=bakery")
        );
        assert_eq!(
            kind(&[("shop", "bakery"), ("amenity", "cafe")]).as_deref(),
            Some("amenity=cafe"),
            "amenity comes first"
        );
        let name = |tags: &[(&str, &str)]| poi_name(tags).to_string();
        assert_eq!(
            name(&[
                ("name", "Rathaus"),
                ("name:en", "Town hall"),
                ("name:zh", "市政厅")
            ]),
            "市政厅"
        );
        assert_eq!(
            name(&[("name:en", "Town hall"), ("name", "Rathaus")]),
            "Rathaus"
        );
        assert_eq!(
            name(&[("name:en", "Town hall"), ("name", " ")]),
            "Town hall"
        );
        assert_eq!(name(&[("amenity", "bench")]), "");
    }

    #[test]
    fn points_of_interest_alone_take_one_pass_over_the_nodes() {
        let bytes = std::fs::read(LIECHTENSTEIN).unwrap();
        let mut last = (0, 0);
        let got = read_bytes(
            "liechtenstein.osm.pbf",
            &bytes,
            &ReadOptions {
                format: Format::Auto,
                crs: Some(CrsChoice::Datum(Crs::Wgs84)),
                owner: "urban_mgmt".into(),
                ..ReadOptions::new((Target::Layer(AssetLayer::Pois)).clone())
            },
            &mut |done, total| last = (done, total),
        )
        .unwrap();
        assert_eq!(last, (bytes.len() as u64, bytes.len() as u64));
        assert!(got.jurisdictions.is_empty());
        assert!(!got.assets.is_empty());
        assert_eq!(got.features_read, got.assets.len() + got.rejected().count());
        for a in &got.assets {
            assert_eq!(a.layer, AssetLayer::Pois);
            assert!(a.id.starts_with('N'), "{}", a.id);
            assert!(matches!(a.geometry, Geometry::Point(_)), "{}", a.id);
            let (key, value) = a.kind.split_once('=').unwrap();
            assert!(
                POI_KEYS.contains(&key) || key == "highway" || key == "public_transport",
                "{}",
                a.kind
            );
            assert_eq!(
                a.props.get(key).as_ref().and_then(Value::as_str),
                Some(value)
            );
            assert_eq!(a.owner, "urban_mgmt");
        }
    }

    #[test]
    fn truncated_and_random_input_are_errors() {
        let bytes = std::fs::read(LIECHTENSTEIN).unwrap();
        let half = &bytes[..bytes.len() / 2];
        let err = import(half, Target::All(AdminLevels::default())).unwrap_err();
        assert!(matches!(err, IngestError::TruncatedPbf { .. }), "{err}");
        eprintln!("{err}");
        // A few stray bytes after the last blob.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0, 0]);
        let err = import(&longer, Target::Layer(AssetLayer::Roads)).unwrap_err();
        assert!(matches!(err, IngestError::TruncatedPbf { .. }), "{err}");

        // Random bytes, named as PBF so format sniffing does not catch them first.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..50 {
            let len = 16 + round * 997;
            let random: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            let result = read_bytes(
                "random.pbf",
                &random,
                &ReadOptions {
                    format: Format::OsmPbf,
                    crs: Some(CrsChoice::Datum(Crs::Wgs84)),
                    owner: "d".into(),
                    ..ReadOptions::new((Target::All(AdminLevels::default())).clone())
                },
                &mut |_, _| {},
            );
            assert!(
                matches!(
                    result,
                    Err(IngestError::CorruptPbf { .. } | IngestError::TruncatedPbf { .. })
                ),
                "{:?}",
                result.map(|i| i.features_read)
            );
        }
        // Corruption inside a blob body: flip bytes in the middle of the file.
        let mut flipped = bytes.clone();
        let mid = flipped.len() / 2;
        for b in &mut flipped[mid..mid + 64] {
            *b ^= 0x5a;
        }
        let result = import(&flipped, Target::All(AdminLevels::default()));
        assert!(
            matches!(
                result,
                Err(IngestError::CorruptPbf { .. } | IngestError::TruncatedPbf { .. })
            ),
            "{:?}",
            result.map(|i| i.features_read)
        );
    }

    #[test]
    fn rings_are_assembled_from_way_pieces() {
        // Square 1-2-3-4 split in three ways, one reversed; plus an open chain 10-11-12.
        let ways = vec![
            vec![1, 2],
            vec![3, 2],
            vec![3, 4, 1],
            vec![10, 11],
            vec![11, 12],
        ];
        let (rings, open) = assemble_rings(ways);
        assert_eq!(rings, vec![vec![1, 2, 3, 4, 1]]);
        assert_eq!(open.len(), 1);
        let (a, b) = open[0];
        assert!((a, b) == (10, 12) || (a, b) == (12, 10), "{open:?}");
    }

    #[test]
    fn nesting_decides_shells_and_holes() {
        let sq = |o: f64, s: f64| {
            vec![
                Coord { x: o, y: o },
                Coord { x: o + s, y: o },
                Coord { x: o + s, y: o + s },
                Coord { x: o, y: o + s },
                Coord { x: o, y: o },
            ]
        };
        // Outer 0..10, a hole 2..8 given the wrong (outer) role, an island 4..6 inside the hole.
        let (polys, fixes) = nest_rings(vec![sq(0.0, 10.0), sq(2.0, 6.0), sq(4.0, 2.0)], 3);
        assert_eq!(polys.len(), 2);
        assert_eq!(polys[0].len(), 2);
        assert_eq!(polys[1].len(), 1);
        assert_eq!(fixes, 1);
        assert_eq!(pipeline_kind(Some("sewage"), None), "drainage");
        assert_eq!(pipeline_kind(Some("Water"), None), "water_supply");
        assert_eq!(pipeline_kind(Some("gas;oil"), None), "gas");
        assert_eq!(pipeline_kind(None, Some("drain")), "drainage");
        assert_eq!(pipeline_kind(Some("oil"), Some("drain")), "other");
        assert_eq!(pipeline_kind(None, None), "other");
    }
}
