//! A running server picks up an import into its data dir: the spatial API, the vector tiles and
//! new incidents answer from the new layers, readers are never refused while the indexes are
//! rebuilt and swapped, and live clients are told `district_changed`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use onegrid_server::district::AssetLayer;
use onegrid_server::import::{import_file, ImportRequest};
use onegrid_server::ingest::{FieldMap, Format, Target};
use onegrid_server::tiles::{decode::decode, tile_at};
use onegrid_tests::{point_in_grid, Options, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub(crate) const NEW_BUILDING: &str = "RELOAD-B-1";

/// A square building of about 20 m × 20 m centred on (lon, lat), owned by `housing`.
fn building_geojson(lon: f64, lat: f64) -> String {
    let (dlon, dlat) = (0.0001, 0.00009);
    let ring = json!([
        [lon - dlon, lat - dlat],
        [lon + dlon, lat - dlat],
        [lon + dlon, lat + dlat],
        [lon - dlon, lat + dlat],
        [lon - dlon, lat - dlat],
    ]);
    json!({
        "type": "FeatureCollection",
        "features": [{
            "type": "Feature",
            "id": NEW_BUILDING,
            "properties": {"name": "新建综合楼", "building": "public", "owner": "housing", "floors": 9},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }],
    })
    .to_string()
}

/// `onegrid import` of [`building_geojson`] into the running server's data dir, through the
/// same library code; it replaces the buildings layer. Returns the import's `seq`.
pub(crate) async fn import_building(server: &TestServer, lon: f64, lat: f64) -> i64 {
    let files = tempfile::tempdir().expect("tempdir");
    let file = files.path().join("new-building.geojson");
    std::fs::write(&file, building_geojson(lon, lat)).expect("write");
    let store = server.open_store().await.expect("store");
    let (imported, saved) = import_file(
        &store,
        &ImportRequest {
            file,
            format: Format::Auto,
            target: Target::Layer(AssetLayer::Buildings),
            crs: None,
            fields: FieldMap::default(),
            owner: "urban_mgmt".to_string(),
        },
        &onegrid_server::store::Who::system(),
    )
    .await
    .expect("import");
    store.close().await;
    assert_eq!(imported.assets.len(), 1);
    assert_eq!(saved.layers, [AssetLayer::Buildings]);
    saved.seq
}

async fn nearby_buildings(
    client: &reqwest::Client,
    server: &TestServer,
    lon: f64,
    lat: f64,
) -> Value {
    let r = client
        .get(server.url(&format!(
            "/api/v1/spatial/nearby?lat={lat}&lon={lon}&radius_m=50&layers=buildings"
        )))
        .send()
        .await
        .expect("nearby");
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.expect("JSON")
}

fn ids(answer: &Value) -> Vec<String> {
    answer["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_string())
        .collect()
}

/// The ids in the `buildings` layer of an MVT tile.
fn tile_building_ids(bytes: &[u8]) -> Vec<String> {
    decode(bytes)
        .iter()
        .filter(|l| l.name == AssetLayer::Buildings.as_str())
        .flat_map(|l| l.features.iter().filter_map(|f| l.string(f, "id")))
        .collect()
}

#[tokio::test]
async fn an_import_into_the_data_dir_reaches_a_running_server() {
    let server = TestServer::start_with(Options {
        reload_interval_ms: 100,
        ..Options::default()
    })
    .await
    .expect("server");
    let client = server.client().clone();
    let (lon, lat, grid) = point_in_grid(&server, 40).await.expect("grid");

    // Before: the demo district's buildings, none of them the new one; tiles of generation g.
    let before = nearby_buildings(&client, &server, lon, lat).await;
    assert!(!ids(&before).iter().any(|id| id == NEW_BUILDING));
    let (x, y) = tile_at(lon, lat, 15);
    let old_tile = client
        .get(server.url(&format!("/tiles/buildings/15/{x}/{y}.mvt")))
        .send()
        .await
        .expect("tile");
    assert_eq!(old_tile.status(), StatusCode::OK);
    let old_etag = old_tile.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_string();
    let cache_control = old_tile.headers()["cache-control"]
        .to_str()
        .expect("cache-control");
    assert!(cache_control.contains("max-age=60"), "{cache_control}");
    assert!(!tile_building_ids(&old_tile.bytes().await.expect("body"))
        .contains(&NEW_BUILDING.to_string()));
    // Unchanged data: the tile is revalidated, not sent again.
    let revalidated = client
        .get(server.url(&format!("/tiles/buildings/15/{x}/{y}.mvt")))
        .header("if-none-match", &old_etag)
        .send()
        .await
        .expect("tile");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    let mut ws = server.ws("").await;
    let hello = onegrid_tests::next_message(&mut ws, 30).await;
    assert_eq!(hello["type"], "hello");

    // Readers keep asking all through the import and the swap; every answer must be a 200.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let hammer = {
        let (stop, answered) = (stop.clone(), answered.clone());
        let url = server.url(&format!(
            "/api/v1/spatial/nearby?lat={lat}&lon={lon}&radius_m=50&layers=buildings"
        ));
        let client = client.clone();
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match client.get(&url).send().await {
                    Ok(r) if r.status() == StatusCode::OK => {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => failures.push(format!("HTTP {}", r.status())),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            failures
        })
    };

    let generation = import_building(&server, lon, lat).await;

    // The server answers from the new layer within the timeout.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let after = loop {
        let answer = nearby_buildings(&client, &server, lon, lat).await;
        if ids(&answer).iter().any(|id| id == NEW_BUILDING) {
            break answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the imported building did not appear within 30 s: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.store(true, Ordering::Relaxed);
    let failures = hammer.await.expect("reader task");
    assert!(failures.is_empty(), "readers were refused: {failures:?}");
    assert!(answered.load(Ordering::Relaxed) > 0);

    // The whole buildings layer was replaced: the new building is the only one, the point is
    // inside it, and it carries the owner from the file.
    let features = after["features"].as_array().expect("features");
    assert_eq!(features.len(), 1, "{after}");
    assert_eq!(features[0]["distance_m"], 0.0);
    assert_eq!(features[0]["owner"], "housing");
    assert_eq!(features[0]["kind"], "public");

    // Tiles: the new generation is the ETag, an old ETag no longer matches, and the tiles at
    // z14 and z15 over the point hold the new building.
    for z in [14u8, 15] {
        let (x, y) = tile_at(lon, lat, z);
        let r = client
            .get(server.url(&format!("/tiles/buildings/{z}/{x}/{y}.mvt")))
            .header("if-none-match", &old_etag)
            .send()
            .await
            .expect("tile");
        assert_eq!(r.status(), StatusCode::OK, "z{z}: the old ETag is stale");
        let etag = r.headers()["etag"].to_str().expect("etag").to_string();
        assert_eq!(etag, format!("W/\"g{generation}\""));
        let ids = tile_building_ids(&r.bytes().await.expect("body"));
        assert_eq!(ids, [NEW_BUILDING], "z{z}/{x}/{y}");
    }

    // Live clients were told, with the generation the server now answers from.
    let changed = loop {
        let msg = onegrid_tests::next_message(&mut ws, 30).await;
        if msg["type"] == "district_changed" {
            break msg;
        }
    };
    assert_eq!(changed["generation"], generation);

    // A new incident is analysed against the new layers.
    let incident: Value = client
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "fire_hazard", "lat": lat, "lon": lon, "description": "楼道堆放杂物"}))
        .send()
        .await
        .expect("report")
        .json()
        .await
        .expect("JSON");
    assert_eq!(incident["grid_code"], grid.as_str());
    let near: Vec<&str> = incident["nearby"]
        .as_array()
        .expect("nearby")
        .iter()
        .filter(|n| n["layer"] == "buildings")
        .map(|n| n["id"].as_str().expect("id"))
        .collect();
    assert_eq!(near, [NEW_BUILDING], "{incident}");
    server.stop().await;
}
