//! The HTTP API, including every bad-input rule: each bad request gets a 4xx with
//! `{"error":{"code","message"}}` and leaves nothing behind.

use onegrid_tests::{point_in_grid, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn incident_count(server: &TestServer) -> usize {
    let list: Vec<Value> = reqwest::get(server.url("/api/v1/incidents?limit=1000"))
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    list.len()
}

/// Asserts the response is `status` with an error body whose code is `code`.
async fn assert_error(resp: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(resp.status(), status, "status for {code}");
    let body: Value = resp.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(!message.is_empty());
}

#[tokio::test]
async fn health_and_categories() {
    let server = TestServer::start().await.expect("server");
    let health: Value = reqwest::get(server.url("/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));

    let cats: Vec<Value> = reqwest::get(server.url("/api/v1/categories"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let codes: Vec<&str> = cats.iter().map(|c| c["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "fallen_tree",
            "damaged_road",
            "damaged_manhole_cover",
            "waterlogging",
            "outdoor_business",
            "garbage",
            "fire_hazard",
            "other"
        ]
    );
    assert_eq!(cats[2]["label_zh"], "井盖破损");
    assert_eq!(cats[2]["label_en"], "Damaged manhole cover");
    server.stop().await;
}

#[tokio::test]
async fn report_then_read_back() {
    let server = TestServer::start().await.expect("server");
    let (lon, lat, grid) = point_in_grid(&server, 10).await.expect("grid");
    let client = reqwest::Client::new();
    let resp = client
        .post(server.url("/api/v1/incidents"))
        .json(
            &json!({"category": "damaged_manhole_cover", "lat": lat, "lon": lon,
                      "description": "井盖破损下沉", "reporter": "网格员 陈伟"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["status"], "reported");
    assert_eq!(created["category"], "damaged_manhole_cover");
    assert_eq!(created["description"], "井盖破损下沉");
    assert_eq!(created["reporter"], "网格员 陈伟");
    assert_eq!(created["grid_code"], grid.as_str());
    let grid_code = created["grid_code"].as_str().unwrap();
    assert_eq!(grid_code.len(), 15);
    assert_eq!(created["street_code"].as_str().unwrap(), &grid_code[..9]);
    assert!(["石湾镇街道", "张槎街道", "祖庙街道", "南庄镇"]
        .contains(&created["street_name"].as_str().unwrap()));
    assert!((created["lat"].as_f64().unwrap() - lat).abs() < 1e-12);
    let created_at = created["created_at"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(created_at).expect("RFC 3339 with a zone");
    assert!(created_at.ends_with('Z') || created_at.contains('+'));

    let id = created["id"].as_i64().unwrap();
    let one: Value = reqwest::get(server.url(&format!("/api/v1/incidents/{id}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one, created);

    // Newest first, and filtered by status.
    let second: Value = client
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "garbage", "lat": lat, "lon": lon, "description": "垃圾堆放"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list: Vec<Value> = reqwest::get(server.url("/api/v1/incidents?limit=10"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["id"], second["id"]);
    assert_eq!(list[1]["id"], created["id"]);

    let moved = client
        .post(server.url(&format!("/api/v1/incidents/{id}/status")))
        .json(&json!({"status": "dispatched"}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::OK);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["status"], "dispatched");
    assert!(moved["seq"].as_i64().unwrap() > second["seq"].as_i64().unwrap());

    let dispatched: Vec<Value> = reqwest::get(server.url("/api/v1/incidents?status=dispatched"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dispatched.len(), 1);
    assert_eq!(dispatched[0]["id"], id);
    let limited: Vec<Value> = reqwest::get(server.url("/api/v1/incidents?limit=1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);

    let stats: Value = reqwest::get(server.url("/api/v1/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["today"], 2);
    assert_eq!(stats["open"], 2);
    assert_eq!(stats["resolved_today"], 0);
    server.stop().await;
}

#[tokio::test]
async fn unknown_ids_and_bad_queries_are_clear_4xx() {
    let server = TestServer::start().await.expect("server");
    assert_error(
        reqwest::get(server.url("/api/v1/incidents/999999"))
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        reqwest::get(server.url("/api/v1/incidents/abc"))
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_path",
    )
    .await;
    assert_error(
        reqwest::get(server.url("/api/v1/incidents?limit=abc"))
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_query",
    )
    .await;
    assert_error(
        reqwest::get(server.url("/api/v1/incidents?limit=0"))
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_query",
    )
    .await;
    assert_error(
        reqwest::get(server.url("/api/v1/incidents?limit=100000"))
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_query",
    )
    .await;
    assert_error(
        reqwest::get(server.url("/api/v1/incidents?status=lost"))
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_query",
    )
    .await;
    assert_error(
        reqwest::get(server.url("/api/v1/nothing-here"))
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let client = reqwest::Client::new();
    let resp = client
        .post(server.url("/api/v1/incidents/999999/status"))
        .json(&json!({"status": "resolved"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    server.stop().await;
}

#[tokio::test]
async fn every_bad_report_is_refused_and_leaves_nothing_behind() {
    let server = TestServer::start().await.expect("server");
    let (lon, lat, _) = point_in_grid(&server, 3).await.expect("grid");
    let client = reqwest::Client::new();
    let post_json = |body: Value| {
        client
            .post(server.url("/api/v1/incidents"))
            .json(&body)
            .send()
    };
    let good = || json!({"category": "garbage", "lat": lat, "lon": lon, "description": "垃圾"});

    let raw = |body: &'static str| {
        client
            .post(server.url("/api/v1/incidents"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_error(
        raw("{\"category\": \"garbage\", ").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    assert_error(
        raw("not json at all").await.unwrap(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    assert_error(
        raw("{\"category\": \"garbage\"}").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    assert_error(
        raw("{\"category\": \"garbage\", \"lat\": \"23\", \"lon\": 113.1, \"description\": \"\"}")
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    let no_type = client
        .post(server.url("/api/v1/incidents"))
        .body(good().to_string())
        .send()
        .await
        .unwrap();
    assert_error(
        no_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    let mut b = good();
    b["category"] = json!("alien_landing");
    assert_error(
        post_json(b).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_category",
    )
    .await;

    for (la, lo) in [(91.0, lon), (-90.5, lon), (lat, 180.5), (lat, -181.0)] {
        let mut b = good();
        b["lat"] = json!(la);
        b["lon"] = json!(lo);
        assert_error(
            post_json(b).await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_coordinates",
        )
        .await;
    }
    // Beijing: valid coordinates, outside the district.
    let mut b = good();
    b["lat"] = json!(39.9042);
    b["lon"] = json!(116.4074);
    assert_error(
        post_json(b).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "outside_district",
    )
    .await;

    let mut b = good();
    b["description"] = json!("长".repeat(4001));
    assert_error(
        post_json(b).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "description_too_long",
    )
    .await;
    let mut b = good();
    b["description"] = json!("长".repeat(4000));
    assert_eq!(
        post_json(b).await.unwrap().status(),
        StatusCode::CREATED,
        "exactly 4,000 characters is accepted"
    );

    let mut b = good();
    b["description"] = json!("x".repeat((1 << 20) + 10));
    assert_error(
        post_json(b).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;

    let bad_status = client
        .post(server.url("/api/v1/incidents/1/status"))
        .json(&json!({"status": "vanished"}))
        .send()
        .await
        .unwrap();
    assert_error(
        bad_status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_status",
    )
    .await;

    // Only the one good report was written.
    assert_eq!(incident_count(&server).await, 1);
    let stats: Value = reqwest::get(server.url("/api/v1/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["today"], 1);
    server.stop().await;
}

#[tokio::test]
async fn map_layers_and_page_are_served() {
    let server = TestServer::start().await.expect("server");
    let info: Value = reqwest::get(server.url("/api/v1/map/info"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "禅城区");
    assert_eq!(
        info["tile_max_zoom"],
        u64::from(onegrid_server::tiles::MAX_ZOOM),
        "the page learns how deep the tiles go"
    );
    let c = info["center"].as_array().unwrap();
    assert!(
        (c[0].as_f64().unwrap() - 113.11).abs() < 0.08
            && (c[1].as_f64().unwrap() - 23.02).abs() < 0.08
    );

    for (level, at_least) in [
        ("district", 1),
        ("street", 4),
        ("community", 80),
        ("grid", 540),
    ] {
        let fc: Value = reqwest::get(server.url(&format!("/api/v1/map/boundaries/{level}")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let n = fc["features"].as_array().unwrap().len();
        assert!(n >= at_least, "{level}: {n}");
    }
    assert_error(
        reqwest::get(server.url("/api/v1/map/boundaries/planet"))
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Roads (and every other large layer) reach the page only as vector tiles.
    assert_error(
        reqwest::get(server.url("/api/v1/map/roads")).await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let page = reqwest::get(server.url("/")).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("禅城区城市运行指挥中心"),
        "server-rendered Chinese title"
    );
    assert!(html.contains("/pkg/onegrid.js"), "hydration script");
    assert!(html.contains("id=\"map\""));
    server.stop().await;
}

#[tokio::test]
async fn a_data_dir_with_data_keeps_it_across_restarts() {
    let server = TestServer::start().await.expect("server");
    let (lon, lat, _) = point_in_grid(&server, 0).await.expect("grid");
    let created: Value = reqwest::Client::new()
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "waterlogging", "lat": lat, "lon": lon, "description": "积水"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dir = server.data_path().to_path_buf();
    let grids_before: Value = reqwest::get(server.url("/api/v1/map/boundaries/grid"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let _keep = server.stop_keeping_data().await;

    // Restart on the same data dir with another seed: nothing is regenerated, nothing lost.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = onegrid_server::Config {
        data_dir: dir.clone(),
        site_dir: onegrid_tests::site_dir(),
        seed: 99,
        sim: false,
        ..onegrid_server::Config::default()
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(onegrid_server::run(listener, config, async move {
        let _ = rx.await;
    }));
    let url = format!("http://{addr}/api/v1/incidents/{}", created["id"]);
    let mut fetched = None;
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(&url).await {
            fetched = Some(r.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(fetched.expect("second server answers"), created);
    let streets: Value = reqwest::get(format!("http://{addr}/api/v1/map/boundaries/street"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(streets["features"].as_array().unwrap().len(), 4);
    let grids_after: Value = reqwest::get(format!("http://{addr}/api/v1/map/boundaries/grid"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        grids_after, grids_before,
        "the stored district was kept, not regenerated with the new seed"
    );
    let _ = tx.send(());
    let _ = task.await;
}
