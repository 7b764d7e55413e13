//! Tests of the generator: determinism, well-formed codes and hierarchy, levels tiling their
//! parents, assets inside the district and owned, and the boundary tracer's corner cases.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

use geo::coordinate_position::CoordPos;
use geo::{
    Area, BooleanOps, BoundingRect, CoordinatePosition, CoordsIter, Geometry, InteriorPoint,
    PreparedGeometry, Relate, Validation,
};

use super::buildings::BUILDING_KINDS;
use super::lattice::{trace, Lattice};
use super::*;
use crate::district::{AssetLayer, Jurisdiction, Level};

fn fingerprint(d: &District) -> u64 {
    let mut h = DefaultHasher::new();
    for dep in &d.departments {
        (&dep.code, &dep.name_zh, &dep.contact).hash(&mut h);
    }
    for j in &d.jurisdictions {
        (&j.code, &j.name, &j.parent, j.level).hash(&mut h);
        for p in j.geometry.coords_iter() {
            (p.x.to_bits(), p.y.to_bits()).hash(&mut h);
        }
    }
    for a in &d.assets {
        (&a.id, &a.name, &a.kind, &a.owner, a.layer).hash(&mut h);
        a.props.as_json().to_string().hash(&mut h);
        for p in a.geometry.coords_iter() {
            (p.x.to_bits(), p.y.to_bits()).hash(&mut h);
        }
    }
    h.finish()
}

#[test]
fn density_splits_only_the_buildings() {
    let base = seed1();
    let dense = generate_dense(1, 2);
    assert!(dense.jurisdictions == base.jurisdictions);
    let count =
        |d: &District, layer: AssetLayer| d.assets.iter().filter(|a| a.layer == layer).count();
    // The same network (attributes drawn later from the seed may differ).
    for layer in [AssetLayer::Roads, AssetLayer::Pipelines] {
        assert_eq!(count(&dense, layer), count(base, layer), "{layer:?}");
    }
    assert!(count(&dense, AssetLayer::Pois) > 250);
    let (b1, b2) = (
        count(base, AssetLayer::Buildings),
        count(&dense, AssetLayer::Buildings),
    );
    // Four plots for one, each kept with the same probability.
    let ratio = b2 as f64 / b1 as f64;
    assert!((3.8..4.2).contains(&ratio), "{b1} → {b2}");
    // Dense buildings still sit inside the district.
    let outline = &base
        .jurisdictions_at(Level::District)
        .next()
        .unwrap()
        .geometry;
    let buildings = dense
        .assets
        .iter()
        .filter(|a| a.layer == AssetLayer::Buildings);
    for a in buildings.step_by(997) {
        assert!(
            outline.relate(&a.geometry).is_contains(),
            "{} outside",
            a.id
        );
    }
}

#[test]
fn same_seed_same_district_other_seed_differs() {
    let a = generate(7);
    let b = generate(7);
    assert_eq!(a.departments, b.departments);
    assert_eq!(a.jurisdictions.len(), b.jurisdictions.len());
    assert!(a.jurisdictions == b.jurisdictions, "jurisdictions differ");
    assert_eq!(a.assets.len(), b.assets.len());
    assert!(a.assets == b.assets, "assets differ");
    assert_eq!(fingerprint(&a), fingerprint(&b));

    let c = generate(8);
    assert_ne!(fingerprint(&a), fingerprint(&c));
    assert!(a.jurisdictions != c.jurisdictions);
    let geoms = |d: &District| {
        d.jurisdictions
            .iter()
            .map(|j| j.geometry.clone())
            .collect::<Vec<_>>()
    };
    assert_ne!(geoms(&a), geoms(&c));
}

#[test]
fn codes_names_and_hierarchy_are_well_formed() {
    let d = seed1();
    let by_code: HashMap<&str, &Jurisdiction> = d
        .jurisdictions
        .iter()
        .map(|j| (j.code.as_str(), j))
        .collect();
    assert_eq!(by_code.len(), d.jurisdictions.len(), "codes are unique");
    let names: HashSet<&str> = d.jurisdictions.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names.len(), d.jurisdictions.len(), "names are unique");

    for j in &d.jurisdictions {
        let len = match j.level {
            Level::District => 6,
            Level::Street => 9,
            Level::Community => 12,
            Level::Grid => 15,
        };
        assert_eq!(j.code.len(), len, "{} has the wrong length", j.code);
        assert!(j.code.bytes().all(|b| b.is_ascii_digit()), "{}", j.code);
        assert!(j.code.starts_with(DISTRICT_CODE));
        match (&j.parent, j.level) {
            (None, Level::District) => {}
            (Some(p), level) if level != Level::District => {
                let parent = by_code
                    .get(p.as_str())
                    .unwrap_or_else(|| panic!("{} has no parent {p}", j.code));
                assert!(j.code.starts_with(p.as_str()));
                assert_eq!(parent.code.len() + 3, j.code.len());
                let expected_parent_level =
                    Level::ALL[Level::ALL.iter().position(|&l| l == level).unwrap() - 1];
                assert_eq!(parent.level, expected_parent_level);
            }
            _ => panic!("{} has a bad parent", j.code),
        }
        match j.level {
            Level::Community => assert!(
                j.name.ends_with("社区") || j.name.ends_with('村'),
                "{}",
                j.name
            ),
            Level::Grid => {
                let parent = &by_code[j.parent.as_deref().unwrap()];
                assert!(
                    j.name.starts_with(&parent.name) && j.name.ends_with("网格"),
                    "{}",
                    j.name
                );
            }
            _ => {}
        }
    }

    let district: Vec<_> = d.jurisdictions_at(Level::District).collect();
    assert_eq!(district.len(), 1);
    assert_eq!(district[0].name, "禅城区");
    assert_eq!(district[0].code, "440604");
    let streets: Vec<(&str, &str)> = d
        .jurisdictions_at(Level::Street)
        .map(|j| (j.code.as_str(), j.name.as_str()))
        .collect();
    assert_eq!(
        streets,
        vec![
            ("440604010", "石湾镇街道"),
            ("440604011", "张槎街道"),
            ("440604012", "祖庙街道"),
            ("440604100", "南庄镇"),
        ]
    );
    let communities = d.jurisdictions_at(Level::Community).count();
    let grids = d.jurisdictions_at(Level::Grid).count();
    assert!(
        (80..=120).contains(&communities),
        "{communities} communities"
    );
    assert!((540..=660).contains(&grids), "{grids} grids");

    // Sorted: district, streets, communities, grids, each by code.
    let keys: Vec<(Level, &str)> = d
        .jurisdictions
        .iter()
        .map(|j| (j.level, j.code.as_str()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);

    // Every street has several communities and every community has grids.
    for j in &d.jurisdictions {
        if j.level != Level::Grid {
            assert!(
                d.jurisdictions
                    .iter()
                    .any(|c| c.parent.as_deref() == Some(j.code.as_str())),
                "{} has no children",
                j.code
            );
        }
    }

    assert!(d.departments.len() >= 10);
    for dep in &d.departments {
        assert!(
            dep.contact.starts_with("0757-8") && dep.contact.len() == 13,
            "{}",
            dep.contact
        );
    }
}

#[test]
fn levels_tile_their_parents() {
    let d = seed1();
    let by_code: HashMap<&str, &Jurisdiction> = d
        .jurisdictions
        .iter()
        .map(|j| (j.code.as_str(), j))
        .collect();
    for j in &d.jurisdictions {
        assert!(
            j.geometry.is_valid(),
            "{} is not a valid multipolygon",
            j.code
        );
        assert!(j.geometry.unsigned_area() > 0.0);
    }
    for level in [Level::Street, Level::Community, Level::Grid] {
        let mut groups: BTreeMap<&str, Vec<&Jurisdiction>> = BTreeMap::new();
        for j in d.jurisdictions_at(level) {
            groups
                .entry(j.parent.as_deref().unwrap())
                .or_default()
                .push(j);
        }
        for (parent_code, children) in &groups {
            let parent = &by_code[parent_code];
            let parent_area = parent.geometry.unsigned_area();
            let sum: f64 = children.iter().map(|c| c.geometry.unsigned_area()).sum();
            assert!(
                ((sum - parent_area) / parent_area).abs() < 1e-9,
                "{parent_code}: children cover {sum}, parent {parent_area}"
            );
            for child in children {
                for p in child.geometry.coords_iter() {
                    assert_ne!(
                        parent.geometry.coordinate_position(&p),
                        CoordPos::Outside,
                        "{} pokes out of {parent_code}",
                        child.code
                    );
                }
                let inner = child.geometry.interior_point().unwrap();
                assert_eq!(
                    parent.geometry.coordinate_position(&inner.0),
                    CoordPos::Inside
                );
            }
            for (k, a) in children.iter().enumerate() {
                let ra = a.geometry.bounding_rect().unwrap();
                for b in &children[k + 1..] {
                    let rb = b.geometry.bounding_rect().unwrap();
                    if ra.max().x < rb.min().x
                        || rb.max().x < ra.min().x
                        || ra.max().y < rb.min().y
                        || rb.max().y < ra.min().y
                    {
                        continue;
                    }
                    let overlap = a.geometry.intersection(&b.geometry).unsigned_area();
                    assert!(
                        overlap < 1e-9 * a.geometry.unsigned_area(),
                        "{} overlaps {} by {overlap}",
                        a.code,
                        b.code
                    );
                }
            }
        }
    }
}

#[test]
fn every_sampled_point_is_in_exactly_one_jurisdiction_per_level() {
    let d = seed1();
    let boxes: Vec<(&Jurisdiction, geo::Rect<f64>)> = d
        .jurisdictions
        .iter()
        .map(|j| (j, j.geometry.bounding_rect().unwrap()))
        .collect();
    for b in d.assets_in(AssetLayer::Buildings).step_by(97) {
        let p = b.geometry.interior_point().unwrap().0;
        let mut hits: BTreeMap<Level, Vec<&str>> = BTreeMap::new();
        for (j, r) in &boxes {
            if p.x < r.min().x || p.x > r.max().x || p.y < r.min().y || p.y > r.max().y {
                continue;
            }
            if j.geometry.coordinate_position(&p) == CoordPos::Inside {
                hits.entry(j.level).or_default().push(&j.code);
            }
        }
        for level in Level::ALL {
            let codes = hits.get(&level).cloned().unwrap_or_default();
            assert_eq!(codes.len(), 1, "{} at {level:?}: {codes:?}", b.id);
        }
        // And the chain is consistent: grid ⊂ community ⊂ street.
        let grid = hits[&Level::Grid][0];
        assert!(grid.starts_with(hits[&Level::Community][0]));
        assert!(hits[&Level::Community][0].starts_with(hits[&Level::Street][0]));
    }
}

#[test]
fn assets_are_plentiful_unique_owned_and_inside() {
    let d = seed1();
    let count = |l| d.assets_in(l).count();
    assert!(
        count(AssetLayer::Buildings) >= 100_000,
        "{} buildings",
        count(AssetLayer::Buildings)
    );
    assert!(
        count(AssetLayer::Roads) >= 20_000,
        "{} roads",
        count(AssetLayer::Roads)
    );
    assert!(
        count(AssetLayer::Pipelines) >= 40_000,
        "{} pipelines",
        count(AssetLayer::Pipelines)
    );
    assert!(
        (100..=1000).contains(&count(AssetLayer::Pois)),
        "{} pois",
        count(AssetLayer::Pois)
    );

    let owners: HashSet<&str> = d.departments.iter().map(|x| x.code.as_str()).collect();
    for layer in AssetLayer::ALL {
        let ids: HashSet<&str> = d.assets_in(layer).map(|a| a.id.as_str()).collect();
        assert_eq!(ids.len(), count(layer), "{layer:?} ids are unique");
    }
    for a in &d.assets {
        assert!(
            owners.contains(a.owner.as_str()),
            "{} owned by unknown {}",
            a.id,
            a.owner
        );
        assert!(!a.name.is_empty() && !a.kind.is_empty());
        match a.layer {
            AssetLayer::Buildings => {
                assert!(a.id.starts_with("B-") && matches!(a.geometry, Geometry::Polygon(_)));
                assert!(BUILDING_KINDS.contains(&a.kind.as_str()));
                assert!(a.props.get("floors").unwrap().as_i64().unwrap() >= 1);
                assert!(a
                    .props
                    .get("address")
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .ends_with('号'));
            }
            AssetLayer::Roads => {
                assert!(a.id.starts_with("R-") && matches!(a.geometry, Geometry::LineString(_)));
                assert!(["trunk", "primary", "secondary", "tertiary", "residential"]
                    .contains(&a.kind.as_str()));
                assert!(a.props.get("lanes").unwrap().as_i64().unwrap() >= 1);
            }
            AssetLayer::Pipelines => {
                assert!(a.id.starts_with("P-") && matches!(a.geometry, Geometry::LineString(_)));
                assert!(["water_supply", "drainage", "gas", "power", "telecom"]
                    .contains(&a.kind.as_str()));
                let depth = a.props.get("depth_m").unwrap().as_f64().unwrap();
                assert!((0.5..=4.0).contains(&depth));
                assert!(a.props.get("diameter_mm").unwrap().as_i64().unwrap() > 0);
            }
            AssetLayer::Pois => {
                assert!(a.id.starts_with("POI-") && matches!(a.geometry, Geometry::Point(_)));
            }
        }
    }
    let pois: Vec<&str> = d
        .assets_in(AssetLayer::Pois)
        .map(|a| a.name.as_str())
        .collect();
    for landmark in ["祖庙", "岭南天地", "南风古灶", "石湾公园", "中山公园"] {
        assert!(pois.contains(&landmark), "{landmark} is missing");
    }
    // 祖庙 is inside the district, so it sits where it really is.
    let zumiao = d
        .assets_in(AssetLayer::Pois)
        .find(|a| a.name == "祖庙")
        .unwrap();
    if let Geometry::Point(p) = &zumiao.geometry {
        assert!((p.x() - 113.1077).abs() < 0.01 && (p.y() - 23.0341).abs() < 0.01);
    }

    let district = &d.jurisdictions_at(Level::District).next().unwrap().geometry;
    let prepared = PreparedGeometry::from(district);
    // Every 50th asset of each layer, plus every POI.
    for layer in AssetLayer::ALL {
        let step = if layer == AssetLayer::Pois { 1 } else { 50 };
        for a in d.assets_in(layer).step_by(step) {
            assert!(
                prepared.relate(&a.geometry).is_covers(),
                "{} is outside the district",
                a.id
            );
        }
    }
    // Buildings are strictly inside their grid (never on a boundary).
    let grids: Vec<(&Jurisdiction, geo::Rect<f64>)> = d
        .jurisdictions_at(Level::Grid)
        .map(|j| (j, j.geometry.bounding_rect().unwrap()))
        .collect();
    for b in d.assets_in(AssetLayer::Buildings).step_by(211) {
        let p = b.geometry.interior_point().unwrap().0;
        let (g, _) = grids
            .iter()
            .find(|(g, r)| {
                p.x >= r.min().x
                    && p.x <= r.max().x
                    && p.y >= r.min().y
                    && p.y <= r.max().y
                    && g.geometry.coordinate_position(&p) == CoordPos::Inside
            })
            .unwrap();
        assert!(
            PreparedGeometry::from(&g.geometry)
                .relate(&b.geometry)
                .is_contains(),
            "{} crosses {}",
            b.id,
            g.code
        );
    }
}

#[test]
fn tracing_handles_holes_and_diagonal_pinches() {
    let lattice = Lattice::new(&mut ChaCha8Rng::seed_from_u64(3));
    let at = |i: usize, j: usize| j * CX + i;
    let cell_area = |cells: &[usize]| -> f64 {
        cells
            .iter()
            .map(|&x| {
                let q = lattice.cell(x);
                signed_area2(&[q[0], q[1], q[2], q[3], q[0]]) / 2.0
            })
            .sum()
    };
    // A ring of 8 cells around an empty one: one shell, one hole.
    let ring: Vec<usize> = (4..7)
        .flat_map(|j| (4..7).map(move |i| (i, j)))
        .filter(|&(i, j)| (i, j) != (5, 5))
        .map(|(i, j)| at(i, j))
        .collect();
    let mp = trace(&lattice, &ring, |x| ring.contains(&x));
    assert_eq!(mp.0.len(), 1);
    assert_eq!(mp.0[0].interiors().len(), 1);
    assert!(mp.is_valid());
    assert!((mp.unsigned_area() / cell_area(&ring) - 1.0).abs() < 1e-9);

    // Cells (5,5) and (6,6) touch diagonally at vertex (6,6) and are joined round the west
    // and north, enclosing (5,6): the hole touches the shell at the pinch vertex only.
    let pinch: Vec<usize> = [(5, 5), (4, 5), (4, 6), (4, 7), (5, 7), (6, 7), (6, 6)]
        .iter()
        .map(|&(i, j)| at(i, j))
        .collect();
    let mp = trace(&lattice, &pinch, |x| pinch.contains(&x));
    assert_eq!(mp.0.len(), 1);
    assert_eq!(mp.0[0].interiors().len(), 1);
    assert_eq!(mp.0[0].interiors()[0].0.len(), 4 * S + 1);
    assert!(mp.is_valid(), "{:?}", mp.validation_errors());
    assert!((mp.unsigned_area() / cell_area(&pinch) - 1.0).abs() < 1e-9);
    assert!(
        signed_area2(&mp.0[0].exterior().0) > 0.0,
        "shell is counter-clockwise"
    );
    assert!(
        signed_area2(&mp.0[0].interiors()[0].0) < 0.0,
        "hole is clockwise"
    );
}

#[test]
fn center_is_inside_the_district() {
    let (lon, lat) = district_center();
    assert!((113.0..113.17).contains(&lon) && (22.96..23.08).contains(&lat));
    let district = &seed1()
        .jurisdictions_at(Level::District)
        .next()
        .unwrap()
        .geometry;
    assert_eq!(district.coordinate_position(&c(lon, lat)), CoordPos::Inside);
}

#[test]
fn report_seed_1() {
    let started = Instant::now();
    let d = generate(1);
    let elapsed = started.elapsed();
    let levels: Vec<usize> = Level::ALL
        .iter()
        .map(|&l| d.jurisdictions_at(l).count())
        .collect();
    let layers: Vec<usize> = AssetLayer::ALL
        .iter()
        .map(|&l| d.assets_in(l).count())
        .collect();
    eprintln!(
        "generate(1): {elapsed:?}; jurisdictions {levels:?} (district, street, community, grid); \
         assets {layers:?} (buildings, roads, pipelines, pois); departments {}",
        d.departments.len()
    );
    assert_eq!(levels[0], 1);
    assert!(elapsed.as_secs() < 120, "generation took {elapsed:?}");
}
