use geo::{polygon, BooleanOps, BoundingRect, Intersects, MultiPolygon, Polygon};

use super::*;
use crate::spatial::metric::LocalMetric;

/// Square metres of a lon/lat geometry, through a local projection at `at`.
fn area_m2(g: &MultiPolygon<f64>, metric: &LocalMetric) -> f64 {
    use geo::MapCoords;
    g.map_coords(|c| metric.to_metres(c)).unsigned_area()
}

/// An irregular street of about 1.1 km × 0.8 km near Foshan, with a lake (a hole) in it.
fn street() -> Jurisdiction {
    let outer = polygon![
        (x: 113.100, y: 23.000),
        (x: 113.108, y: 22.9995),
        (x: 113.1105, y: 23.004),
        (x: 113.106, y: 23.0072),
        (x: 113.1013, y: 23.0068),
        (x: 113.0992, y: 23.0031),
        (x: 113.100, y: 23.000),
    ];
    let hole = polygon![
        (x: 113.104, y: 23.003),
        (x: 113.105, y: 23.003),
        (x: 113.105, y: 23.004),
        (x: 113.104, y: 23.004),
        (x: 113.104, y: 23.003),
    ];
    Jurisdiction {
        level: Level::Street,
        code: "440604011".into(),
        name: "测试街道".into(),
        parent: Some("440604".into()),
        geometry: MultiPolygon(vec![Polygon::new(
            outer.exterior().clone(),
            vec![hole.exterior().clone()],
        )]),
        generated: false,
    }
}

fn district() -> Jurisdiction {
    Jurisdiction {
        level: Level::District,
        code: "440604".into(),
        name: "禅城区".into(),
        parent: None,
        geometry: MultiPolygon(vec![polygon![
            (x: 113.09, y: 22.99),
            (x: 113.12, y: 22.99),
            (x: 113.12, y: 23.02),
            (x: 113.09, y: 23.02),
            (x: 113.09, y: 22.99),
        ]]),
        generated: false,
    }
}

fn road(id: &str, kind: &str, coords: &[(f64, f64)]) -> Asset {
    Asset {
        layer: AssetLayer::Roads,
        id: id.into(),
        name: id.into(),
        kind: kind.into(),
        owner: "transport".into(),
        props: Default::default(),
        geometry: geo::Geometry::LineString(coords.iter().copied().collect()),
    }
}

fn grids(g: &Generated) -> Vec<&Jurisdiction> {
    g.jurisdictions
        .iter()
        .filter(|j| j.level == Level::Grid)
        .collect()
}

/// Asserts that `cells` tile `parent`: areas add up, and no two overlap.
fn assert_tiles(parent: &Jurisdiction, cells: &[&Jurisdiction]) {
    let metric = LocalMetric::at(parent.geometry.bounding_rect().expect("rect").center());
    let whole = area_m2(&parent.geometry, &metric);
    let sum: f64 = cells.iter().map(|c| area_m2(&c.geometry, &metric)).sum();
    assert!(
        (sum - whole).abs() < whole * 1e-6,
        "cells cover {sum} m² of {whole} m²"
    );
    for (i, a) in cells.iter().enumerate() {
        let ra = a.geometry.bounding_rect().expect("rect");
        for b in &cells[i + 1..] {
            let rb = b.geometry.bounding_rect().expect("rect");
            if !ra.intersects(&rb) {
                continue;
            }
            let overlap = area_m2(&a.geometry.intersection(&b.geometry), &metric);
            assert!(
                overlap < 1e-3,
                "{} and {} overlap by {overlap} m²",
                a.code,
                b.code
            );
        }
        // Inside the parent: nothing of the cell lies outside it.
        let outside = area_m2(&a.geometry.difference(&parent.geometry), &metric);
        assert!(outside < 1e-3, "{} sticks out by {outside} m²", a.code);
    }
}

#[test]
fn cells_tile_their_parent_with_well_formed_unique_codes_and_the_same_result_each_time() {
    let input = vec![district(), street()];
    let options = GridOptions::default();
    let got = generate(input.clone(), &[], &options, &mut |_, _| {}).expect("generate");
    let cells = grids(&got);
    let metric = LocalMetric::at(street().geometry.bounding_rect().expect("rect").center());
    let expected = area_m2(&street().geometry, &metric) / DEFAULT_CELL_AREA_M2;
    assert!(
        (cells.len() as f64) > expected * 0.6 && (cells.len() as f64) < expected * 1.5,
        "{} cells for {expected:.0} of the target area",
        cells.len()
    );
    assert_tiles(&street(), &cells);
    let mut codes = HashSet::new();
    for (k, c) in cells.iter().enumerate() {
        assert_eq!(c.code.len(), 15, "{}", c.code);
        assert!(c.code.bytes().all(|b| b.is_ascii_digit()), "{}", c.code);
        // Under the street's 9 digits, no community (000), then the cell's number.
        assert!(c.code.starts_with("440604011000"), "{}", c.code);
        assert_eq!(&c.code[12..], format!("{:03}", k + 1));
        assert_eq!(c.parent.as_deref(), Some("440604011"));
        assert!(c.generated);
        assert!(codes.insert(c.code.clone()), "duplicate {}", c.code);
    }
    // Slivers were merged: no cell is much smaller than the target.
    let smallest = cells
        .iter()
        .map(|c| area_m2(&c.geometry, &metric))
        .fold(f64::INFINITY, f64::min);
    assert!(
        smallest > DEFAULT_CELL_AREA_M2 * 0.25,
        "a sliver of {smallest} m²"
    );
    assert!(matches!(
        got.parents.as_slice(),
        [ParentReport {
            outcome: Outcome::Generated { .. },
            ..
        }]
    ));

    let again = generate(input, &[], &options, &mut |_, _| {}).expect("generate");
    assert_eq!(again.jurisdictions, got.jurisdictions, "deterministic");
}

#[test]
fn a_parent_too_big_for_999_grids_gets_larger_cells_and_generating_again_replaces_the_last_run() {
    // The whole district (about 3.4 × 3.1 km) as the finest level: 10,000 m² would be ~1,000+.
    let input = vec![district()];
    let options = GridOptions {
        cell_area_m2: 5_000.0,
        follow_roads: false,
    };
    let got = generate(input, &[], &options, &mut |_, _| {}).expect("generate");
    let cells = grids(&got);
    assert!(
        cells.len() <= MAX_GRIDS_PER_PARENT && cells.len() > 900,
        "{}",
        cells.len()
    );
    assert_tiles(&district(), &cells);
    assert!(cells.iter().all(|c| c.code.starts_with("440604000000")));
    match &got.parents[0].outcome {
        Outcome::Generated { cell_area_m2, .. } => assert!(*cell_area_m2 > 10_000.0),
        other => panic!("{other:?}"),
    }
    // Again, on what was saved: the old generated grids are replaced, not added to.
    let again = generate(got.jurisdictions.clone(), &[], &options, &mut |_, _| {}).expect("again");
    assert_eq!(again.replaced, cells.len());
    assert_eq!(grids(&again).len(), cells.len());
}

#[test]
fn imported_grids_take_precedence_and_codes_that_are_not_digits_still_give_15_digit_grids() {
    let mut other = street();
    other.code = "R4711".into();
    other.name = "Vaduz".into();
    other.parent = Some("R1".into());
    let mut top = district();
    top.code = "R1".into();
    let mut east = street();
    east.code = "R4712".into();
    east.parent = Some("R1".into());
    east.geometry = geo::Translate::translate(&east.geometry, 0.012, 0.0);
    // East already has an imported grid (the same polygon, its parent not named): it keeps it,
    // alone.
    let imported = Jurisdiction {
        level: Level::Grid,
        code: "G-1".into(),
        name: "imported".into(),
        parent: None,
        geometry: east.geometry.clone(),
        generated: false,
    };
    let got = generate(
        vec![top, other, east, imported],
        &[],
        &GridOptions::default(),
        &mut |_, _| {},
    )
    .expect("generate");
    let outcomes: Vec<(&str, &Outcome)> = got
        .parents
        .iter()
        .map(|p| (p.code.as_str(), &p.outcome))
        .collect();
    assert!(
        matches!(outcomes[0], ("R4711", Outcome::Generated { .. })),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], ("R4712", &Outcome::HasImportedGrids(1)));
    let vaduz: Vec<&Jurisdiction> = grids(&got)
        .into_iter()
        .filter(|g| g.parent.as_deref() == Some("R4711"))
        .collect();
    assert!(!vaduz.is_empty());
    // R1 is the first district (000001), R4711 its first street (001), no community (000).
    assert!(
        vaduz.iter().all(|g| g.code.starts_with("000001001000")),
        "{}",
        vaduz[0].code
    );
    assert!(vaduz[0].name.starts_with("Vaduz第1网格"));
    assert!(grids(&got).iter().any(|g| g.code == "G-1" && !g.generated));
}

#[test]
fn cell_corners_follow_a_main_road_through_the_parent() {
    // Primary roads running north–south through the street, 133 m apart (so one of them runs
    // within a sixth of a cell of a lattice column), and a footway that must not be followed.
    let xs = [113.1030, 113.1043, 113.1056];
    let mut roads: Vec<Asset> = xs
        .iter()
        .map(|&x| road(&format!("R-{x}"), "primary", &[(x, 22.99), (x, 23.01)]))
        .collect();
    roads.push(road(
        "F-1",
        "footway",
        &[(113.1021, 22.99), (113.1021, 23.01)],
    ));
    let with = generate(
        vec![district(), street()],
        &roads,
        &GridOptions::default(),
        &mut |_, _| {},
    )
    .expect("generate");
    let Outcome::Generated { road_corners, .. } = with.parents[0].outcome else {
        panic!("{:?}", with.parents[0]);
    };
    assert!(road_corners >= 5, "{road_corners} corners on the road");
    assert_tiles(&street(), &grids(&with));
    // Some cell has a whole edge on a road's line; none on the footway's.
    let edge_on = |x: f64| {
        grids(&with).iter().any(|g| {
            g.geometry.0.iter().any(|p| {
                p.exterior()
                    .lines()
                    .any(|l| (l.start.x - x).abs() < 1e-9 && (l.end.x - x).abs() < 1e-9)
            })
        })
    };
    let on_road = xs.iter().any(|&x| edge_on(x));
    assert!(!edge_on(113.1021), "the footway was followed");
    assert!(on_road, "no cell edge runs along the road");
    let without = generate(
        vec![district(), street()],
        &roads,
        &GridOptions {
            follow_roads: false,
            ..GridOptions::default()
        },
        &mut |_, _| {},
    )
    .expect("generate");
    assert!(matches!(
        without.parents[0].outcome,
        Outcome::Generated {
            road_corners: 0,
            ..
        }
    ));
}

#[test]
fn nothing_to_divide_and_bad_areas_are_errors() {
    assert!(matches!(
        generate(vec![], &[], &GridOptions::default(), &mut |_, _| {}),
        Err(GridError::NoJurisdictions)
    ));
    let bad = GridOptions {
        cell_area_m2: -1.0,
        follow_roads: true,
    };
    assert!(matches!(
        generate(vec![street()], &[], &bad, &mut |_, _| {}),
        Err(GridError::BadArea(_))
    ));
}
