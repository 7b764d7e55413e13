//! `onegrid import` as a user runs it: the real binary on the real OpenStreetMap extract, then
//! the spatial engine's `nearby` checked against an independent computation on what it imported.

use std::path::{Path, PathBuf};
use std::process::Command;

use geo::{Closest, Contains, Distance, Haversine, HaversineClosestPoint, Intersects, Point};
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

/// A node of the extract with its tags, as `osmpbf` reads it straight from the file.
struct OsmNode {
    id: i64,
    lon: f64,
    lat: f64,
    tags: Vec<(String, String)>,
}

impl OsmNode {
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every tagged node of the extract, and the ids of the closed ways tagged both `building` and
/// `amenity`, read with `osmpbf` directly (not through the importer).
fn scan_extract() -> (Vec<OsmNode>, Vec<i64>) {
    use osmpbf::{Element, ElementReader};
    let mut nodes = Vec::new();
    let mut amenity_buildings = Vec::new();
    let owned = |tags: &mut dyn Iterator<Item = (&str, &str)>| -> Vec<(String, String)> {
        tags.map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    ElementReader::from_path(osm_extract())
        .expect("open the extract")
        .for_each(|e| match e {
            Element::Node(n) => nodes.push(OsmNode {
                id: n.id(),
                lon: n.lon(),
                lat: n.lat(),
                tags: owned(&mut n.tags()),
            }),
            Element::DenseNode(n) => nodes.push(OsmNode {
                id: n.id(),
                lon: n.lon(),
                lat: n.lat(),
                tags: owned(&mut n.tags()),
            }),
            Element::Way(w) => {
                let tags: Vec<(&str, &str)> = w.tags().collect();
                let has = |key: &str| tags.iter().any(|(k, v)| *k == key && *v != "no");
                let refs: Vec<i64> = w.refs().collect();
                if has("building")
                    && has("amenity")
                    && refs.len() > 3
                    && refs.first() == refs.last()
                {
                    amenity_buildings.push(w.id());
                }
            }
            Element::Relation(_) => {}
        })
        .expect("read the extract");
    nodes.retain(|n| !n.tags.is_empty());
    (nodes, amenity_buildings)
}

/// The count on the import summary's line for `layer` (`  pois            123 (layer replaced)`).
fn summary_count(stdout: &str, layer: &str) -> Option<usize> {
    stdout.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        (words.next() == Some(layer))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

#[tokio::test]
async fn importing_the_osm_extract_brings_its_points_of_interest() {
    let (tagged, amenity_buildings) = scan_extract();
    // The POI rule, restated: a node with one of these keys (value not "no"), a bus stop, or a
    // public transport stop; `emergency` only for objects, not access values.
    let keys = [
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
    let access = [
        "yes",
        "designated",
        "destination",
        "private",
        "permissive",
        "official",
        "discouraged",
        "customers",
    ];
    let is_poi = |n: &OsmNode| {
        n.tags.iter().any(|(k, v)| {
            let v = v.trim();
            !v.is_empty()
                && v != "no"
                && ((keys.contains(&k.as_str()) && !(k == "emergency" && access.contains(&v)))
                    || (k == "highway" && v == "bus_stop")
                    || k == "public_transport")
        })
    };
    let expected: std::collections::HashMap<String, &OsmNode> = tagged
        .iter()
        .filter(|n| is_poi(n))
        .map(|n| (format!("N{}", n.id), n))
        .collect();
    eprintln!(
        "{} tagged nodes, {} POIs, {} amenity buildings",
        tagged.len(),
        expected.len(),
        amenity_buildings.len()
    );
    assert!(expected.len() > 50, "the extract has POI nodes");

    // `--layer pois`: only the POIs, counted in the summary.
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 path");
    let extract = osm_extract();
    let out = onegrid(&[
        "import",
        "--data-dir",
        data,
        "--layer",
        "pois",
        extract.to_str().expect("path"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "import failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        summary_count(&stdout, "pois"),
        Some(expected.len()),
        "{stdout}"
    );
    for other in ["buildings", "roads", "pipelines", "jurisdictions"] {
        assert_eq!(summary_count(&stdout, other), None, "{stdout}");
    }

    let store = Store::open_sqlite(dir.path()).await.expect("store");
    let pois = store.load_assets(AssetLayer::Pois).await.expect("pois");
    assert!(store
        .load_assets(AssetLayer::Buildings)
        .await
        .expect("buildings")
        .is_empty());
    store.close().await;
    assert_eq!(pois.len(), expected.len());
    let mut kinds = std::collections::BTreeSet::new();
    for p in &pois {
        let node = expected
            .get(&p.id)
            .unwrap_or_else(|| panic!("{} is a POI node of the extract", p.id));
        let geo::Geometry::Point(at) = p.geometry else {
            panic!("{} is a point: {:?}", p.id, p.geometry)
        };
        assert!(
            (at.x() - node.lon).abs() < 1e-9 && (at.y() - node.lat).abs() < 1e-9,
            "{} at the node's position",
            p.id
        );
        let (key, value) = p.kind.split_once('=').expect("kind is key=value");
        assert_eq!(node.tag(key), Some(value), "{}: kind {}", p.id, p.kind);
        let name = node
            .tag("name:zh")
            .or(node.tag("name"))
            .or(node.tag("name:en"))
            .unwrap_or("");
        assert_eq!(p.name, name.trim(), "{}", p.id);
        assert_eq!(p.owner, "urban_mgmt");
        kinds.insert(p.kind.clone());
    }
    eprintln!("POI kinds: {kinds:?}");
    assert!(kinds.len() >= 10, "{kinds:?}");
    assert!(kinds.iter().any(|k| k.starts_with("amenity=")), "{kinds:?}");
    assert!(kinds.iter().any(|k| k.starts_with("tourism=")), "{kinds:?}");

    // A named POI, checked against the node read straight from the file.
    let museum = "Liechtensteinisches Landesmuseum Vaduz";
    let node = tagged
        .iter()
        .find(|n| n.tag("name") == Some(museum))
        .expect("the museum's node is in the extract");
    assert_eq!(node.tag("tourism"), Some("museum"));
    let poi = pois
        .iter()
        .find(|p| p.name == museum)
        .expect("the museum is imported");
    assert_eq!(poi.id, format!("N{}", node.id));
    assert_eq!(poi.kind, "tourism=museum");
    let geo::Geometry::Point(at) = poi.geometry else {
        panic!("the museum is a point")
    };
    // The node's position, to well under a millimetre (the store keeps f64 degrees).
    assert!((at.x() - node.lon).abs() < 1e-9 && (at.y() - node.lat).abs() < 1e-9);

    // Everything: POIs among the other layers; closed ways tagged building and amenity stay
    // buildings and are no POIs.
    let out = onegrid(&[
        "import",
        "--data-dir",
        data,
        extract.to_str().expect("path"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(
        summary_count(&stdout, "pois"),
        Some(expected.len()),
        "{stdout}"
    );
    assert!(summary_count(&stdout, "buildings").is_some_and(|n| n >= 3700));
    let store = Store::open_sqlite(dir.path()).await.expect("store");
    let buildings = store
        .load_assets(AssetLayer::Buildings)
        .await
        .expect("buildings");
    let pois = store.load_assets(AssetLayer::Pois).await.expect("pois");
    let jurisdictions = store.load_jurisdictions().await.expect("jurisdictions");
    store.close().await;
    assert_eq!(pois.len(), expected.len());
    assert!(pois.iter().all(|p| p.id.starts_with('N')));
    let vaduz = jurisdictions
        .iter()
        .find(|j| j.name == "Vaduz")
        .expect("Vaduz's boundary");
    assert!(
        vaduz.geometry.contains(&Point::new(node.lon, node.lat)),
        "the museum lies in Vaduz"
    );
    assert!(!amenity_buildings.is_empty());
    for id in &amenity_buildings {
        let id = format!("W{id}");
        assert!(
            buildings
                .iter()
                .any(|b| b.id == id && b.props.contains_key("amenity")),
            "{id} is a building"
        );
    }
}

fn shapefile_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/shapefiles")
        .join(name)
}

#[tokio::test]
async fn importing_a_gbk_grid_shapefile_and_refusing_a_broken_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8 path");
    let grids = shapefile_fixture("grids_gbk.shp");
    let out = onegrid(&[
        "import",
        "--data-dir",
        data,
        "--layer",
        "grid",
        "--field",
        // No parent field: the grids get the innermost imported jurisdiction containing them
        // (none in this data dir).
        "code=WGBM,name=WGMC",
        grids.to_str().expect("path"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "import failed: {stdout}\n{stderr}");
    assert!(stdout.contains("features read   3"), "{stdout}");
    assert!(
        stdout.contains("jurisdictions   3 (levels replaced)"),
        "{stdout}"
    );
    assert!(stdout.contains("rejected        0"), "{stdout}");

    let store = Store::open_sqlite(Path::new(data)).await.expect("store");
    let before = store.load_jurisdictions().await.expect("jurisdictions");
    store.close().await;
    let first = before
        .iter()
        .find(|j| j.code == "440604001001")
        .expect("the first grid");
    assert_eq!(first.name, "南浦社区第一网格");
    assert_eq!(first.parent, None);
    assert!(first.geometry.contains(&Point::new(113.102, 23.0015)));

    // The same shapefile without its .shx: refused, naming the file looked for; nothing changes.
    let broken = tempfile::tempdir().expect("tempdir");
    for ext in ["shp", "dbf", "prj", "cpg"] {
        std::fs::copy(
            shapefile_fixture(&format!("grids_gbk.{ext}")),
            broken.path().join(format!("grids_gbk.{ext}")),
        )
        .expect("copy");
    }
    let shp = broken.path().join("grids_gbk.shp");
    let args = |file: &Path| {
        onegrid(&[
            "import",
            "--data-dir",
            data,
            "--layer",
            "grid",
            "--field",
            "code=WGBM,name=WGMC",
            file.to_str().expect("path"),
        ])
    };
    let out = args(&shp);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("index (.shx) is missing") && stderr.contains("grids_gbk.shx"),
        "{stderr}"
    );
    // A field the table lacks: the fields it has are listed.
    let out = onegrid(&[
        "import",
        "--data-dir",
        data,
        "--layer",
        "grid",
        "--field",
        "code=XZQDM",
        grids.to_str().expect("path"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("WGBM, WGMC, SQDM"), "{stderr}");
    // An unknown --field key.
    let out = onegrid(&[
        "import",
        "--data-dir",
        data,
        "--field",
        "title=MC",
        grids.to_str().expect("path"),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"title\" is not a field"));

    let store = Store::open_sqlite(Path::new(data)).await.expect("store");
    let after = store.load_jurisdictions().await.expect("jurisdictions");
    store.close().await;
    assert_eq!(
        before, after,
        "the data dir is unchanged after failed imports"
    );
}
