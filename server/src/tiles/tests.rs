use std::collections::BTreeMap;

use geo::{Coord, Geometry, LineString, Point, Polygon};

use super::clip::signed_area2;
use super::decode::{decode, paths, DValue, Layer, Path};
use super::*;
use crate::sim::district_gen::seed1;

const Z: u8 = 16;
const X: u32 = 53_357;
const Y: u32 = 28_458;

fn transform() -> TileTransform {
    TileTransform::new(Z, X, Y).expect("tile")
}

/// Lon/lat of a position given in the test tile's grid.
fn at(x: f64, y: f64) -> Coord<f64> {
    transform().unproject([x, y])
}

fn line(points: &[(f64, f64)]) -> Geometry<f64> {
    Geometry::LineString(LineString::new(
        points.iter().map(|&(x, y)| at(x, y)).collect(),
    ))
}

fn ring(points: &[(f64, f64)]) -> LineString<f64> {
    LineString::new(points.iter().map(|&(x, y)| at(x, y)).collect())
}

fn asset(layer: AssetLayer, id: &str, kind: &str, geometry: Geometry<f64>) -> Asset {
    Asset {
        layer,
        id: id.to_string(),
        name: format!("{id} 名"),
        kind: kind.to_string(),
        owner: "urban_mgmt".to_string(),
        props: Default::default(),
        geometry,
    }
}

fn one_layer(bytes: &[u8], name: &str) -> Layer {
    let mut layers = decode(bytes);
    assert_eq!(layers.len(), 1, "one layer");
    let layer = layers.remove(0);
    assert_eq!(layer.name, name);
    assert_eq!(layer.version, 2);
    assert_eq!(layer.extent, Some(4096));
    layer
}

/// Features by their `id` property: (geometry type, paths).
fn by_id(layer: &Layer) -> BTreeMap<String, (u64, Vec<Path>)> {
    layer
        .features
        .iter()
        .map(|f| {
            let id = layer.string(f, "id").expect("id property");
            (id, (f.kind, paths(&f.geometry)))
        })
        .collect()
}

fn points(p: &Path) -> Vec<[i32; 2]> {
    p.points.clone()
}

/// Ring vertices as a set, for comparing rings whatever their start and direction.
fn sorted(p: &Path) -> Vec<[i32; 2]> {
    let mut v = p.points.clone();
    v.sort();
    v
}

fn area2(p: &Path) -> i64 {
    signed_area2(&p.points)
}

#[test]
fn points_lines_and_polygons_decode_to_their_tile_coordinates() {
    let square = [
        (500.0, 500.0),
        (1500.0, 500.0),
        (1500.0, 1500.0),
        (500.0, 1500.0),
    ];
    let clockwise_in_tile = Polygon::new(ring(&square), vec![]);
    // The same square the other way round, closed explicitly as geo rings are.
    let mut rev: Vec<(f64, f64)> = square.iter().rev().copied().collect();
    rev.push(rev[0]);
    let counter_clockwise = Polygon::new(
        ring(&rev),
        vec![ring(&[
            (800.0, 800.0),
            (1200.0, 800.0),
            (1200.0, 1200.0),
            (800.0, 1200.0),
        ])],
    );
    let mut pipe = asset(
        AssetLayer::Pipelines,
        "P-1",
        "gas",
        line(&[(10.0, 20.0), (30.0, 20.0)]),
    );
    let mut props = serde_json::Map::new();
    props.insert("depth_m".into(), serde_json::json!(1.5));
    props.insert("diameter_mm".into(), serde_json::json!(200));
    pipe.props = props.into();
    let index = AssetIndex::new(vec![
        asset(
            AssetLayer::Pois,
            "POI-1",
            "park",
            Geometry::Point(Point(at(1000.0, 2000.0))),
        ),
        asset(
            AssetLayer::Roads,
            "R-1",
            "primary",
            line(&[(100.0, 100.0), (3000.0, 100.0), (3000.0, 3000.0)]),
        ),
        asset(
            AssetLayer::Buildings,
            "B-1",
            "residential",
            clockwise_in_tile.into(),
        ),
        asset(
            AssetLayer::Buildings,
            "B-2",
            "residential",
            counter_clockwise.into(),
        ),
        pipe,
        asset(
            AssetLayer::Pipelines,
            "P-2",
            "water_supply",
            line(&[(10.0, 40.0), (30.0, 40.0)]),
        ),
    ]);

    let pois = one_layer(
        &tile(&index, AssetLayer::Pois, Z, X, Y).expect("tile"),
        "pois",
    );
    let (kind, p) = &by_id(&pois)["POI-1"];
    assert_eq!(*kind, 1);
    assert_eq!(p.len(), 1);
    assert_eq!(points(&p[0]), [[1000, 2000]]);
    let f = &pois.features[0];
    assert_eq!(f.id, None);
    assert_eq!(
        pois.props(f),
        BTreeMap::from([
            ("id".to_string(), DValue::Str("POI-1".into())),
            ("name".to_string(), DValue::Str("POI-1 名".into())),
            ("kind".to_string(), DValue::Str("park".into())),
            ("owner".to_string(), DValue::Str("urban_mgmt".into())),
        ])
    );

    let roads = one_layer(
        &tile(&index, AssetLayer::Roads, Z, X, Y).expect("tile"),
        "roads",
    );
    let (kind, p) = &by_id(&roads)["R-1"];
    assert_eq!(*kind, 2);
    assert_eq!(p.len(), 1);
    assert!(!p[0].closed);
    assert_eq!(points(&p[0]), [[100, 100], [3000, 100], [3000, 3000]]);

    let buildings = one_layer(
        &tile(&index, AssetLayer::Buildings, Z, X, Y).expect("tile"),
        "buildings",
    );
    let features = by_id(&buildings);
    let corners = vec![[500, 500], [500, 1500], [1500, 500], [1500, 1500]];
    for id in ["B-1", "B-2"] {
        let (kind, rings) = &features[id];
        assert_eq!(*kind, 3);
        assert!(
            rings.iter().all(|r| r.closed && r.points.len() == 4),
            "{rings:?}"
        );
        assert_eq!(sorted(&rings[0]), corners, "{id}");
        // Exterior: positive area by the surveyor's formula, y down (clockwise on screen).
        assert_eq!(area2(&rings[0]), 2 * 1000 * 1000, "{id}");
    }
    let hole = &features["B-2"].1;
    assert_eq!(hole.len(), 2);
    assert_eq!(
        sorted(&hole[1]),
        vec![[800, 800], [800, 1200], [1200, 800], [1200, 1200]]
    );
    assert_eq!(
        area2(&hole[1]),
        -2 * 400 * 400,
        "interior rings wind the other way"
    );

    let pipes = one_layer(
        &tile(&index, AssetLayer::Pipelines, Z, X, Y).expect("tile"),
        "pipelines",
    );
    assert_eq!(pipes.features.len(), 2);
    for f in &pipes.features {
        let id = pipes.string(f, "id").expect("id");
        let depth = pipes.prop(f, "depth_m");
        match id.as_str() {
            "P-1" => assert_eq!(depth, Some(DValue::Double(1.5))),
            _ => assert_eq!(depth, None),
        }
        assert_eq!(pipes.prop(f, "diameter_mm"), None);
    }
    // Shared strings are stored once per layer.
    assert_eq!(
        pipes
            .values
            .iter()
            .filter(|v| **v == DValue::Str("urban_mgmt".into()))
            .count(),
        1
    );
}

#[test]
fn clipping_cuts_at_the_buffered_edge_and_drops_what_is_outside() {
    let covering = Polygon::new(
        ring(&[
            (-5000.0, -5000.0),
            (9000.0, -5000.0),
            (9000.0, 9000.0),
            (-5000.0, 9000.0),
        ]),
        vec![],
    );
    // Boxes overlap the tile, geometries do not: x + y = -500 never reaches the buffered tile.
    let diagonal = line(&[(-2000.0, 1500.0), (1500.0, -2000.0)]);
    let corner = Polygon::new(
        ring(&[(-2000.0, 1500.0), (1500.0, -2000.0), (-2000.0, -2000.0)]),
        vec![],
    );
    let far = Polygon::new(
        ring(&[(6000.0, 6000.0), (6100.0, 6000.0), (6100.0, 6100.0)]),
        vec![],
    );
    // A building a third of a grid unit wide.
    let tiny = Polygon::new(
        ring(&[
            (2000.0, 2000.0),
            (2000.3, 2000.0),
            (2000.3, 2000.3),
            (2000.0, 2000.3),
        ]),
        vec![],
    );
    let index = AssetIndex::new(vec![
        asset(
            AssetLayer::Roads,
            "R-across",
            "trunk",
            line(&[(-1000.0, 2048.0), (5000.0, 2048.0)]),
        ),
        asset(
            AssetLayer::Roads,
            "R-in-out-in",
            "trunk",
            line(&[
                (1000.0, 1000.0),
                (1000.0, 6000.0),
                (2000.0, 6000.0),
                (2000.0, 1000.0),
            ]),
        ),
        asset(AssetLayer::Roads, "R-diagonal", "trunk", diagonal),
        asset(AssetLayer::Buildings, "B-cover", "public", covering.into()),
        asset(AssetLayer::Buildings, "B-corner", "public", corner.into()),
        asset(AssetLayer::Buildings, "B-far", "public", far.into()),
        asset(AssetLayer::Buildings, "B-tiny", "public", tiny.into()),
    ]);

    let roads = by_id(&one_layer(
        &tile(&index, AssetLayer::Roads, Z, X, Y).expect("tile"),
        "roads",
    ));
    assert_eq!(
        roads.keys().collect::<Vec<_>>(),
        ["R-across", "R-in-out-in"]
    );
    assert_eq!(points(&roads["R-across"].1[0]), [[-64, 2048], [4160, 2048]]);
    let parts = &roads["R-in-out-in"].1;
    assert_eq!(parts.len(), 2, "one line, two parts: {parts:?}");
    assert_eq!(points(&parts[0]), [[1000, 1000], [1000, 4160]]);
    assert_eq!(points(&parts[1]), [[2000, 4160], [2000, 1000]]);

    let buildings = by_id(&one_layer(
        &tile(&index, AssetLayer::Buildings, Z, X, Y).expect("tile"),
        "buildings",
    ));
    assert_eq!(buildings.keys().collect::<Vec<_>>(), ["B-cover"]);
    let rings = &buildings["B-cover"].1;
    assert_eq!(rings.len(), 1);
    assert_eq!(
        sorted(&rings[0]),
        vec![[-64, -64], [-64, 4160], [4160, -64], [4160, 4160]]
    );
    assert!(area2(&rings[0]) > 0);

    // Nothing anywhere near: an empty tile is zero bytes.
    let empty = tile(&index, AssetLayer::Roads, Z, X + 3, Y).expect("tile");
    assert!(empty.is_empty());
    assert!(decode(&empty).is_empty());
}

#[test]
fn bad_tile_addresses_are_errors() {
    let index = AssetIndex::new(vec![]);
    assert_eq!(
        tile(&index, AssetLayer::Roads, 23, 0, 0),
        Err(TileError::Zoom(23))
    );
    assert_eq!(
        tile(&index, AssetLayer::Roads, 14, 1 << 14, 0),
        Err(TileError::OutOfRange {
            z: 14,
            x: 1 << 14,
            y: 0
        })
    );
    assert!(tile(&index, AssetLayer::Roads, 14, 0, 1 << 14).is_err());
    assert!(jurisdiction_tile(&[], 2, 4, 0).is_err());
    assert_eq!(tile(&index, AssetLayer::Roads, 22, 0, 0), Ok(vec![]));
    assert_eq!(
        TileLayer::parse("jurisdictions"),
        Some(TileLayer::Jurisdictions)
    );
    assert_eq!(
        TileLayer::parse("pipelines"),
        Some(TileLayer::Assets(AssetLayer::Pipelines))
    );
    assert_eq!(TileLayer::parse("nope"), None);
}

/// The demo district's assets near (113.11, 23.03) only, so the test indexes a few thousand
/// assets rather than ~250,000.
fn index_near_the_centre() -> AssetIndex {
    use geo::BoundingRect;
    let (x, y) = tile_at(113.11, 23.03, 12);
    let (min, max) = TileTransform::new(12, x, y).expect("tile").query_box();
    let assets = seed1()
        .assets
        .iter()
        .filter(|a| {
            a.geometry.bounding_rect().is_some_and(|r| {
                r.max().x >= min[0]
                    && r.min().x <= max[0]
                    && r.max().y >= min[1]
                    && r.min().y <= max[1]
            })
        })
        .cloned()
        .collect();
    AssetIndex::new(assets)
}

fn check_geometry(layer: &Layer) {
    for f in &layer.features {
        for p in paths(&f.geometry) {
            for q in &p.points {
                assert!(
                    q.iter().all(|c| (-64..=4160).contains(c)),
                    "{q:?} is outside the buffer"
                );
            }
            assert!(p.points.windows(2).all(|w| w[0] != w[1]), "repeated vertex");
            if f.kind == 3 {
                assert!(p.closed && p.points.len() >= 3);
                assert_ne!(area2(&p), 0);
            }
        }
        if f.kind == 3 {
            assert!(
                area2(&paths(&f.geometry)[0]) > 0,
                "the first ring is exterior"
            );
        }
    }
}

#[test]
fn the_demo_district_tiles_at_z14_and_thins_at_z10() {
    let index = index_near_the_centre();
    let (x, y) = tile_at(113.11, 23.03, 14);
    let mut counts = BTreeMap::new();
    for layer in AssetLayer::ALL {
        let bytes = tile(&index, layer, 14, x, y).expect("tile");
        if layer == AssetLayer::Pois && bytes.is_empty() {
            continue;
        }
        let decoded = one_layer(&bytes, layer.as_str());
        check_geometry(&decoded);
        let prefix = match layer {
            AssetLayer::Buildings => "B-",
            AssetLayer::Roads => "R-",
            AssetLayer::Pipelines => "P-",
            AssetLayer::Pois => "POI-",
        };
        for f in &decoded.features {
            let props = decoded.props(f);
            assert!(matches!(&props["id"], DValue::Str(s) if s.starts_with(prefix)));
            for key in ["name", "kind", "owner"] {
                assert!(matches!(&props[key], DValue::Str(_)), "{key}");
            }
            if layer == AssetLayer::Pipelines {
                assert!(
                    matches!(props.get("depth_m"), Some(DValue::Double(d)) if (0.5..4.0).contains(d))
                );
            }
        }
        counts.insert(layer.as_str(), (decoded.features.len(), bytes.len()));
    }
    eprintln!("z14 {x}/{y}: (features, bytes) {counts:?}");
    let n = |l: &str| counts.get(l).map_or(0, |c| c.0);
    assert!((300..20_000).contains(&n("buildings")), "{counts:?}");
    assert!((50..5_000).contains(&n("roads")), "{counts:?}");
    assert!((100..20_000).contains(&n("pipelines")), "{counts:?}");
    assert!(n("pipelines") > n("roads"), "pipelines run along the roads");

    // z10: one tile over the district; no buildings, no pipelines, major roads only.
    let (x, y) = tile_at(113.11, 23.03, 10);
    assert!(tile(&index, AssetLayer::Buildings, 10, x, y)
        .expect("tile")
        .is_empty());
    assert!(tile(&index, AssetLayer::Pipelines, 10, x, y)
        .expect("tile")
        .is_empty());
    let roads = one_layer(
        &tile(&index, AssetLayer::Roads, 10, x, y).expect("tile"),
        "roads",
    );
    assert!(!roads.features.is_empty());
    for f in &roads.features {
        let kind = roads.string(f, "kind").expect("kind");
        assert!(
            ["trunk", "primary", "secondary"].contains(&kind.as_str()),
            "{kind}"
        );
    }
    check_geometry(&roads);
}

#[test]
fn jurisdiction_boundaries_are_a_polygon_layer_thinned_by_level() {
    let all = &seed1().jurisdictions;
    let levels = |z: u8, lon: f64, lat: f64| {
        let (x, y) = tile_at(lon, lat, z);
        let layer = one_layer(
            &jurisdiction_tile(all, z, x, y).expect("tile"),
            JURISDICTIONS_LAYER,
        );
        check_geometry(&layer);
        let mut levels = BTreeMap::new();
        for f in &layer.features {
            assert_eq!(f.kind, 3);
            *levels
                .entry(layer.string(f, "level").expect("level"))
                .or_insert(0) += 1;
            let parent = layer.string(f, "parent");
            assert_eq!(
                parent.is_none(),
                layer.string(f, "level").as_deref() == Some("district")
            );
        }
        levels
    };
    let z14 = levels(14, 113.11, 23.03);
    for level in ["district", "street", "community", "grid"] {
        assert!(z14.contains_key(level), "{level} at z14: {z14:?}");
    }
    let z9 = levels(9, 113.11, 23.03);
    assert_eq!(
        z9.keys().collect::<Vec<_>>(),
        ["district", "street"],
        "{z9:?}"
    );
    assert!(z9["street"] >= 2);
}

#[test]
fn the_cache_returns_the_same_bytes_until_the_generation_changes() {
    let index = index_near_the_centre();
    let (x, y) = tile_at(113.11, 23.03, 14);
    let cache = TileCache::new(64 << 20, 10_000);
    let key = |generation| TileKey {
        layer: TileLayer::Assets(AssetLayer::Roads),
        z: 14,
        x,
        y,
        generation,
    };
    let builds = std::cell::Cell::new(0);
    let build = || {
        builds.set(builds.get() + 1);
        tile(&index, AssetLayer::Roads, 14, x, y)
    };
    let first = cache.get_or_try_insert_with(key(1), build).expect("tile");
    let again = cache.get_or_try_insert_with(key(1), build).expect("tile");
    assert!(!first.is_empty());
    assert_eq!(first, again);
    assert_eq!(first.as_ptr(), again.as_ptr(), "served from the cache");
    assert_eq!(builds.get(), 1);
    let next = cache.get_or_try_insert_with(key(2), build).expect("tile");
    assert_eq!(builds.get(), 2, "a new generation misses");
    assert_eq!(first, next, "same data, same bytes");
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.entries), (1, 2, 2));
    // Errors are not cached.
    let bad = TileKey { z: 23, ..key(2) };
    assert!(cache
        .get_or_try_insert_with(bad, || tile(&index, AssetLayer::Roads, 23, x, y))
        .is_err());
    assert_eq!(cache.len(), 2);
}
