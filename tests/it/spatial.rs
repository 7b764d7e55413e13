//! The spatial API on the demo district: locate, seams, nearby, and what a new incident carries.

use std::collections::HashMap;

use onegrid_tests::{assert_error, get, point_in_grid, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The midpoint of an edge shared by two grids, and the two grid codes.
async fn shared_grid_edge(server: &TestServer) -> (f64, f64, [String; 2]) {
    let (_, fc) = get(server, "/api/v1/map/boundaries/grid").await;
    let mut edges: HashMap<[u64; 4], String> = HashMap::new();
    for f in fc["features"].as_array().expect("features") {
        let code = f["properties"]["code"].as_str().expect("code").to_string();
        let ring = f["geometry"]["coordinates"][0][0].as_array().expect("ring");
        for w in ring.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let p = |v: &Value, i: usize| v[i].as_f64().expect("number");
            let (a, b) = ((p(a, 0), p(a, 1)), (p(b, 0), p(b, 1)));
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            let key = [
                lo.0.to_bits(),
                lo.1.to_bits(),
                hi.0.to_bits(),
                hi.1.to_bits(),
            ];
            if let Some(other) = edges.get(&key) {
                if *other != code {
                    return (
                        (lo.0 + hi.0) / 2.0,
                        (lo.1 + hi.1) / 2.0,
                        [other.clone(), code],
                    );
                }
            }
            edges.insert(key, code.clone());
        }
    }
    panic!("no shared edge between grids")
}

#[tokio::test]
async fn locate_names_the_chain_and_flags_seams() {
    let server = TestServer::start().await.expect("server");
    let (lon, lat, grid) = point_in_grid(&server, 100).await.expect("grid");
    let (status, inside) = get(
        &server,
        &format!("/api/v1/spatial/locate?lat={lat}&lon={lon}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let chain = inside["chain"].as_array().expect("chain");
    let levels: Vec<&str> = chain.iter().map(|j| j["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["district", "street", "community", "grid"]);
    assert_eq!(chain[0]["code"], "440604");
    assert_eq!(chain[3]["code"], grid.as_str());
    for pair in chain.windows(2) {
        assert!(pair[1]["code"]
            .as_str()
            .unwrap()
            .starts_with(pair[0]["code"].as_str().unwrap()));
    }
    assert!(
        inside["seam"].is_null(),
        "the middle of a grid is at no seam: {inside}"
    );

    // Exactly on the edge two grids share: both are candidates, at 0 m.
    let (lon, lat, pair) = shared_grid_edge(&server).await;
    let (_, edge) = get(
        &server,
        &format!("/api/v1/spatial/locate?lat={lat}&lon={lon}"),
    )
    .await;
    let candidates = edge["seam"]["candidates"]
        .as_array()
        .expect("seam candidates");
    let grids: Vec<(&str, f64)> = candidates
        .iter()
        .filter(|c| c["level"] == "grid")
        .map(|c| {
            (
                c["code"].as_str().unwrap(),
                c["distance_m"].as_f64().unwrap(),
            )
        })
        .collect();
    assert!(grids.len() >= 2, "{edge}");
    for code in &pair {
        assert!(
            grids.iter().any(|(c, d)| c == code && *d == 0.0),
            "{code} in {grids:?}"
        );
    }
    assert_eq!(
        edge["chain"].as_array().unwrap().len(),
        4,
        "a point on a boundary still gets a chain"
    );

    // Outside every jurisdiction.
    let (_, beijing) = get(&server, "/api/v1/spatial/locate?lat=39.9042&lon=116.4074").await;
    assert_eq!(beijing, json!({"chain": [], "seam": null}));
    server.stop().await;
}

#[tokio::test]
async fn nearby_is_sorted_within_the_radius_and_refuses_bad_parameters() {
    let server = TestServer::start().await.expect("server");
    let (lon, lat, _) = point_in_grid(&server, 200).await.expect("grid");
    let (status, all) = get(
        &server,
        &format!("/api/v1/spatial/nearby?lat={lat}&lon={lon}&radius_m=250"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let features = all["features"].as_array().expect("features");
    assert!(
        features.len() > 10,
        "a grid centre has buildings, roads and pipelines around it"
    );
    let distances: Vec<f64> = features
        .iter()
        .map(|f| f["distance_m"].as_f64().unwrap())
        .collect();
    assert!(
        distances.windows(2).all(|w| w[0] <= w[1]),
        "sorted by distance"
    );
    assert!(distances.iter().all(|d| *d <= 250.0));
    let layers: std::collections::HashSet<&str> = features
        .iter()
        .map(|f| f["layer"].as_str().unwrap())
        .collect();
    for l in ["buildings", "roads", "pipelines"] {
        assert!(layers.contains(l), "{l} in {layers:?}");
    }
    let f = &features[0];
    for key in [
        "layer",
        "id",
        "name",
        "kind",
        "owner",
        "distance_m",
        "nearest",
    ] {
        assert!(!f[key].is_null(), "{key} in {f}");
    }

    let (_, pipes) = get(
        &server,
        &format!("/api/v1/spatial/nearby?lat={lat}&lon={lon}&radius_m=250&layers=pipelines"),
    )
    .await;
    let pipes = pipes["features"].as_array().unwrap();
    assert!(!pipes.is_empty() && pipes.iter().all(|f| f["layer"] == "pipelines"));

    for (query, code) in [
        ("lat=23.0&lon=113.1&radius_m=2001", "invalid_radius"),
        ("lat=23.0&lon=113.1&radius_m=0", "invalid_radius"),
        ("lat=23.0&lon=113.1&radius_m=-5", "invalid_radius"),
        ("lat=23.0&lon=113.1&radius_m=abc", "bad_query"),
        ("lat=23.0&lon=113.1", "bad_query"),
        ("lat=91&lon=113.1&radius_m=100", "invalid_coordinates"),
        (
            "lat=23.0&lon=113.1&radius_m=100&layers=roads,rivers",
            "unknown_layer",
        ),
    ] {
        let (status, body) = get(&server, &format!("/api/v1/spatial/nearby?{query}")).await;
        assert_error(query, status, &body, StatusCode::BAD_REQUEST, code);
    }
    let (status, body) = get(&server, "/api/v1/spatial/locate?lat=23.0").await;
    assert_error(
        "locate without lon",
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "bad_query",
    );
    server.stop().await;
}

#[tokio::test]
async fn a_new_incident_carries_its_chain_surroundings_and_proposed_department() {
    let server = TestServer::start().await.expect("server");
    let client = server.client().clone();
    let (lon, lat, grid) = point_in_grid(&server, 150).await.expect("grid");
    let created: Value = client
        .post(server.url("/api/v1/incidents"))
        .json(
            &json!({"category": "damaged_road", "lat": lat, "lon": lon, "description": "路面坑洞"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let (_, one) = get(&server, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(one["jurisdiction"].as_array().unwrap().len(), 4);
    assert_eq!(one["jurisdiction"][3]["code"], grid.as_str());
    assert!(one["seam"].is_null());
    let nearby = one["nearby"].as_array().unwrap();
    assert!(!nearby.is_empty());
    let r = &one["responsibility"];
    assert_eq!(r["review_required"], false);
    let department = r["department"]["code"].as_str().unwrap();
    let explanation = r["explanation_en"].as_str().unwrap();
    assert!(explanation.starts_with("Damaged road"), "{explanation}");
    assert!(
        explanation.contains(&format!("inside grid {grid}")),
        "{explanation}"
    );
    assert!(r["explanation_zh"]
        .as_str()
        .unwrap()
        .starts_with("路面破损"));
    // With a road within 30 m, its maintainer is proposed, and the explanation names the road.
    if let Some(road) = nearby
        .iter()
        .find(|n| n["layer"] == "roads" && n["distance_m"].as_f64().unwrap() <= 30.0)
    {
        assert_eq!(r["rule"], "road-maintainer");
        assert_eq!(department, road["owner"].as_str().unwrap());
        assert!(
            explanation.contains(road["id"].as_str().unwrap()),
            "{explanation}"
        );
    } else {
        assert_eq!(r["rule"], "road-default");
    }

    // On a boundary between grids: proposed, but flagged for review.
    let (lon, lat, _) = shared_grid_edge(&server).await;
    let at_seam: Value = client
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "damaged_road", "lat": lat, "lon": lon, "description": "交界处路面破损"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(at_seam["seam"]["candidates"].as_array().unwrap().len() >= 2);
    assert_eq!(at_seam["responsibility"]["review_required"], true);
    server.stop().await;
}

/// The slippy-map tile holding a point.
fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let lat = lat.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor()
        as u32;
    (x, y)
}

#[tokio::test]
async fn vector_tiles_are_served_from_the_index() {
    let server = TestServer::start().await.expect("server");
    let (lon, lat, _) = point_in_grid(&server, 120).await.expect("grid");
    let (x, y) = tile_of(lon, lat, 14);
    for layer in ["buildings", "roads", "pipelines", "jurisdictions"] {
        let r = server
            .client()
            .get(server.url(&format!("/tiles/{layer}/14/{x}/{y}.mvt")))
            .send()
            .await
            .expect("tile");
        assert_eq!(r.status(), StatusCode::OK, "{layer}");
        assert_eq!(
            r.headers()["content-type"],
            "application/vnd.mapbox-vector-tile"
        );
        let body = r.bytes().await.expect("body");
        assert!(body.len() > 100, "{layer}: {} bytes", body.len());
        // The layer's name is in the tile (field 1 of the layer message is its name).
        assert!(
            body.windows(layer.len()).any(|w| w == layer.as_bytes()),
            "{layer} named in its tile"
        );
    }
    // Buildings are thinned out at low zoom: a z10 tile holds none.
    let (x10, y10) = tile_of(lon, lat, 10);
    let low = server
        .client()
        .get(server.url(&format!("/tiles/buildings/10/{x10}/{y10}.mvt")))
        .send()
        .await
        .expect("tile");
    assert_eq!(low.status(), StatusCode::OK);
    assert!(low.bytes().await.expect("body").is_empty());
    for (path, status, code) in [
        (
            "/tiles/rivers/14/1/1.mvt",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/tiles/roads/14/1/1.png",
            StatusCode::BAD_REQUEST,
            "bad_path",
        ),
        (
            "/tiles/roads/30/1/1.mvt",
            StatusCode::BAD_REQUEST,
            "bad_tile",
        ),
        (
            "/tiles/roads/3/99/1.mvt",
            StatusCode::BAD_REQUEST,
            "bad_tile",
        ),
        (
            "/tiles/roads/x/1/1.mvt",
            StatusCode::BAD_REQUEST,
            "bad_path",
        ),
    ] {
        let (s, body) = get(&server, path).await;
        assert_error(path, s, &body, status, code);
    }
    server.stop().await;
}
