//! The product on real data: the OpenStreetMap extract of Liechtenstein imported into a running
//! server's data dir (every layer and the municipal boundaries), then the spatial API, the
//! highlight's GeoJSON and the vector tiles answered from it.

use std::path::Path;
use std::time::Duration;

use geo::Geometry;
use onegrid_server::district::AssetLayer;
use onegrid_server::import::{import_file, ImportRequest};
use onegrid_server::ingest::{AdminLevels, FieldMap, Format, Target};
use onegrid_server::tiles::{decode::decode, tile_at};
use onegrid_tests::{Options, TestServer};
use reqwest::StatusCode;
use serde_json::Value;

const MUSEUM: &str = "Liechtensteinisches Landesmuseum Vaduz";

async fn get_json(client: &reqwest::Client, server: &TestServer, path: &str) -> Value {
    let r = client.get(server.url(path)).send().await.expect("request");
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.expect("json")
}

async fn tile_ids(
    client: &reqwest::Client,
    server: &TestServer,
    layer: &str,
    (lon, lat): (f64, f64),
    z: u8,
) -> Vec<String> {
    let (x, y) = tile_at(lon, lat, z);
    let r = client
        .get(server.url(&format!("/tiles/{layer}/{z}/{x}/{y}.mvt")))
        .send()
        .await
        .expect("tile");
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.expect("bytes");
    let key = if layer == "jurisdictions" {
        "name"
    } else {
        "id"
    };
    decode(&bytes)
        .iter()
        .flat_map(|l| l.features.iter().filter_map(|f| l.string(f, key)))
        .collect()
}

#[tokio::test]
async fn the_osm_extract_imported_into_a_running_server_is_served() {
    let server = TestServer::start_with(Options {
        reload_interval_ms: 200,
        ..Options::default()
    })
    .await
    .expect("server");
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/osm/liechtenstein-2013-08-03.osm.pbf");
    let store = server.open_store().await.expect("store");
    let (imported, saved) = import_file(
        &store,
        &ImportRequest {
            file,
            format: Format::Auto,
            target: Target::All(AdminLevels::default()),
            crs: None,
            fields: FieldMap::default(),
            owner: "urban_mgmt".to_string(),
        },
        &onegrid_server::store::Who::system(),
    )
    .await
    .expect("import");
    store.close().await;
    assert_eq!(saved.layers, AssetLayer::ALL);
    assert!(saved.jurisdictions.unwrap_or(0) >= 11, "{saved:?}");

    let museum = imported
        .assets
        .iter()
        .find(|a| a.name == MUSEUM)
        .expect("the museum is imported");
    let Geometry::Point(p) = museum.geometry else {
        panic!("the museum is a point");
    };
    let (lon, lat) = (p.x(), p.y());
    let client = server.client().clone();

    // The server swaps the new layers in: the museum's place is now located in Vaduz.
    let locate = format!("/api/v1/spatial/locate?lat={lat}&lon={lon}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let located = loop {
        let answer = get_json(&client, &server, &locate).await;
        if answer["chain"].as_array().is_some_and(|c| !c.is_empty()) {
            break answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the import was not picked up: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Liechtenstein's electoral districts (admin_level 6) are districts, its municipalities
    // (admin_level 8) streets/towns, by the default mapping.
    let chain = located["chain"].as_array().expect("chain");
    assert_eq!(chain.len(), 2, "{located}");
    assert_eq!(chain[0]["level"], "district");
    assert_eq!(chain[0]["name"], "Wahlkreis Oberland");
    assert_eq!(chain[1]["level"], "street");
    assert_eq!(chain[1]["name"], "Vaduz");

    // Nearby: the museum itself at 0 m, then real buildings and streets, nearest first.
    let nearby = get_json(
        &client,
        &server,
        &format!("/api/v1/spatial/nearby?lat={lat}&lon={lon}&radius_m=150"),
    )
    .await;
    let features = nearby["features"].as_array().expect("features");
    assert_eq!(features[0]["id"], museum.id.as_str(), "{nearby}");
    assert_eq!(features[0]["layer"], "pois");
    assert_eq!(features[0]["distance_m"], 0.0);
    let distances: Vec<f64> = features
        .iter()
        .map(|f| f["distance_m"].as_f64().expect("distance"))
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
    assert!(distances.iter().all(|d| *d <= 150.0));
    for layer in ["buildings", "roads"] {
        assert!(
            features.iter().any(|f| f["layer"] == layer),
            "no {layer} within 150 m of the museum: {nearby}"
        );
    }

    // The highlight's GeoJSON holds the same features with their geometry.
    let highlight = get_json(
        &client,
        &server,
        &format!("/api/v1/spatial/nearby.geojson?lat={lat}&lon={lon}&radius_m=150"),
    )
    .await;
    assert_eq!(highlight["type"], "FeatureCollection");
    let drawn = highlight["features"].as_array().expect("features");
    assert_eq!(drawn.len(), features.len());
    assert!(drawn.iter().all(|f| f["geometry"]["type"].is_string()));

    // Municipal boundaries stop above the grid level: an incident there cannot be routed, and
    // the answer says why rather than calling the place outside the district.
    let refused = client
        .post(server.url("/api/v1/incidents"))
        .json(&serde_json::json!({
            "category": "damaged_manhole_cover", "lat": lat, "lon": lon, "description": "井盖破损"
        }))
        .send()
        .await
        .expect("post");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "not_in_a_grid", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Vaduz"), "{message}");

    // Tiles over the museum: the POI, the buildings and roads around it, Vaduz's boundary.
    let pois = tile_ids(&client, &server, "pois", (lon, lat), 15).await;
    assert!(pois.contains(&museum.id), "{pois:?}");
    let near_building = features
        .iter()
        .find(|f| f["layer"] == "buildings")
        .and_then(|f| f["id"].as_str())
        .expect("a building");
    let buildings = tile_ids(&client, &server, "buildings", (lon, lat), 15).await;
    assert!(buildings.iter().any(|id| id == near_building));
    assert!(!tile_ids(&client, &server, "roads", (lon, lat), 14)
        .await
        .is_empty());
    let boundaries = tile_ids(&client, &server, "jurisdictions", (lon, lat), 12).await;
    assert!(boundaries.iter().any(|n| n == "Vaduz"), "{boundaries:?}");

    server.stop().await;
}
