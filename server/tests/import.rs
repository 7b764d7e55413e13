//! `onegrid import` as a user runs it: the real binary on the real OpenStreetMap extract, then
//! the spatial engine's `nearby` checked against an independent computation on what it imported.

use std::path::{Path, PathBuf};
use std::process::Command;

use geo::{Closest, Distance, Haversine, HaversineClosestPoint, Intersects, Point};
use onegrid_server::district::{Asset, AssetLayer};
use onegrid_server::spatial::{AssetIndex, LonLat, Radius};
use onegrid_server::store::Store;

fn osm_extract() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/osm/liechtenstein-2013-08-03.osm.pbf")
}

fn onegrid(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_onegrid"))
        .args(args)
        .output()
        .expect("run onegrid")
}

/// Metres from `p` to the asset by haversine (a different path from the engine's local metric).
fn independent_distance(p: Point<f64>, a: &Asset) -> f64 {
    if let geo::Geometry::Polygon(poly) = &a.geometry {
        if poly.intersects(&p) {
            return 0.0;
        }
    }
    if let geo::Geometry::MultiPolygon(mp) = &a.geometry {
        if mp.intersects(&p) {
            return 0.0;
        }
    }
    match a.geometry.haversine_closest_point(&p) {
        Closest::Intersection(_) => 0.0,
        Closest::SinglePoint(c) => Haversine.distance(p, c),
        Closest::Indeterminate => f64::INFINITY,
    }
}

#[tokio::test]
async fn importing_the_osm_extract_and_finding_what_is_near() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 path");
    let out = onegrid(&[
        "import",
        "--data-dir",
        data,
        osm_extract().to_str().expect("path"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "import failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("buildings"), "{stdout}");
    assert!(stdout.contains("roads"), "{stdout}");

    let store = Store::open_sqlite(dir.path()).await.expect("store");
    let buildings = store
        .load_assets(AssetLayer::Buildings)
        .await
        .expect("buildings");
    let roads = store.load_assets(AssetLayer::Roads).await.expect("roads");
    let pipelines = store
        .load_assets(AssetLayer::Pipelines)
        .await
        .expect("pipelines");
    let jurisdictions = store.load_jurisdictions().await.expect("jurisdictions");
    assert!(buildings.len() >= 3700, "{}", buildings.len());
    assert_eq!(roads.len(), 2753);
    assert_eq!(pipelines.iter().filter(|p| p.kind == "power").count(), 3);
    assert_eq!(pipelines.iter().filter(|p| p.kind == "drainage").count(), 2);
    assert!(
        jurisdictions.len() >= 11,
        "municipal boundaries assembled: {}",
        jurisdictions.len()
    );

    // A failed import leaves the data as it was: a file with nothing importable.
    let bad = dir.path().join("bad.geojson");
    std::fs::write(&bad, r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[999,0],[1,1]]}}]}"#).expect("write");
    let out = onegrid(&[
        "import",
        "--data-dir",
        data,
        "--layer",
        "roads",
        bad.to_str().expect("path"),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rejected"), "{stderr}");
    let out = onegrid(&[
        "import",
        "--data-dir",
        data,
        "--crs",
        "mars",
        bad.to_str().expect("path"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--crs"));

    let all: Vec<Asset> = buildings
        .into_iter()
        .chain(roads)
        .chain(pipelines)
        .collect();
    let index = AssetIndex::new(all.clone());
    assert_eq!(
        store
            .load_assets(AssetLayer::Roads)
            .await
            .expect("roads")
            .len(),
        2753,
        "unchanged after failed imports"
    );
    store.close().await;

    // Query points: vertices of some roads, moved 20 m north-east, and Vaduz's centre.
    let mut points: Vec<(f64, f64)> = all
        .iter()
        .filter(|a| a.layer == AssetLayer::Roads)
        .step_by(400)
        .filter_map(|a| match &a.geometry {
            geo::Geometry::LineString(l) => l.0.first().map(|c| (c.x + 0.00018, c.y + 0.00018)),
            _ => None,
        })
        .collect();
    points.push((9.5209, 47.1410));
    assert!(points.len() >= 6);
    let radius = 250.0;
    let layers = [
        AssetLayer::Buildings,
        AssetLayer::Roads,
        AssetLayer::Pipelines,
    ];
    for (lon, lat) in points {
        let p = Point::new(lon, lat);
        let found = index.nearby(
            LonLat::parse(lon, lat).expect("point"),
            Radius::parse(radius).expect("radius"),
            &layers,
        );
        assert!(found.windows(2).all(|w| w[0].distance_m <= w[1].distance_m));
        for f in &found {
            let d = independent_distance(p, f.asset);
            assert!(
                (f.distance_m - d).abs() <= 0.005 * d + 0.05,
                "{} at ({lon},{lat}): engine {} m, haversine {} m",
                f.asset.id,
                f.distance_m,
                d
            );
        }
        // Nothing within the radius is missed (brute force over every asset), allowing for the
        // two methods' difference right at the edge.
        let brute: Vec<&str> = all
            .iter()
            .filter(|a| independent_distance(p, a) <= radius * 0.995)
            .map(|a| a.id.as_str())
            .collect();
        for id in brute {
            assert!(
                found.iter().any(|f| f.asset.id == id),
                "{id} missing near ({lon},{lat})"
            );
        }
    }
}
