//! The HTTP API, including every bad-input rule: each bad request gets a 4xx with
//! `{"error":{"code","message"}}` and leaves nothing behind.

use onegrid_tests::{assert_error, get, point_in_grid, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// What a bad request carries.
enum Body {
    None,
    Json(Value),
    /// Bytes sent as they are, with this content type (or none).
    Raw(Vec<u8>, Option<&'static str>),
}

/// One bad request and the error it must get.
struct BadRequest {
    label: &'static str,
    method: Method,
    path: &'static str,
    body: Body,
    status: StatusCode,
    code: &'static str,
}

/// What the store holds: every incident's id, seq and status, and today's count. A refused
/// request must leave it as it was.
async fn written(server: &TestServer) -> (Vec<(i64, i64, String)>, Value) {
    let (status, list) = get(server, "/api/v1/incidents?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    let incidents = list
        .as_array()
        .expect("list")
        .iter()
        .map(|i| {
            (
                i["id"].as_i64().expect("id"),
                i["seq"].as_i64().expect("seq"),
                i["status"].as_str().expect("status").to_string(),
            )
        })
        .collect();
    let (_, stats) = get(server, "/api/v1/stats").await;
    (incidents, stats["today"].clone())
}

#[tokio::test]
async fn health_and_categories() {
    let server = TestServer::start().await.expect("server");
    let health: Value = server
        .client()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));

    let cats: Vec<Value> = server
        .client()
        .get(server.url("/api/v1/categories"))
        .send()
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
    let client = server.client().clone();
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
    let one: Value = server
        .client()
        .get(server.url(&format!("/api/v1/incidents/{id}")))
        .send()
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
    let list: Vec<Value> = server
        .client()
        .get(server.url("/api/v1/incidents?limit=10"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["id"], second["id"]);
    assert_eq!(list[1]["id"], created["id"]);

    let moved = client
        .post(server.url(&format!("/api/v1/incidents/{id}/actions")))
        .json(&json!({"action": "triage", "seq": created["seq"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::OK);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["status"], "triaged");
    assert!(moved["seq"].as_i64().unwrap() > second["seq"].as_i64().unwrap());

    let dispatched: Vec<Value> = server
        .client()
        .get(server.url("/api/v1/incidents?status=triaged"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dispatched.len(), 1);
    assert_eq!(dispatched[0]["id"], id);
    let limited: Vec<Value> = server
        .client()
        .get(server.url("/api/v1/incidents?limit=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);

    let stats: Value = server
        .client()
        .get(server.url("/api/v1/stats"))
        .send()
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
async fn every_bad_request_is_refused_and_leaves_nothing_behind() {
    let server = TestServer::start().await.expect("server");
    let (lon, lat, _) = point_in_grid(&server, 3).await.expect("grid");
    let client = server.client().clone();
    let good = || json!({"category": "garbage", "lat": lat, "lon": lon, "description": "垃圾"});
    let good_with = |key: &str, value: Value| {
        let mut b = good();
        b[key] = value;
        Body::Json(b)
    };
    let good_at = |lat: f64, lon: f64| {
        let mut b = good();
        b["lat"] = json!(lat);
        b["lon"] = json!(lon);
        Body::Json(b)
    };
    let raw = |text: &str| Body::Raw(text.as_bytes().to_vec(), Some("application/json"));

    // The one good report; incident 1 is then there for the status case below.
    let resp = client
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "garbage", "lat": lat, "lon": lon,
                      "description": "长".repeat(4000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "exactly 4,000 characters is accepted"
    );
    let before = written(&server).await;
    assert_eq!(before.0.len(), 1);
    assert_eq!(before.1, 1, "today's count");

    use Body::None as NoBody;
    const GET: Method = Method::GET;
    const POST: Method = Method::POST;
    let (bad_request, not_found, unprocessable) = (
        StatusCode::BAD_REQUEST,
        StatusCode::NOT_FOUND,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    let case = |label, method, path, body, status, code| BadRequest {
        label,
        method,
        path,
        body,
        status,
        code,
    };
    // One line per case (rustfmt would spread each over eight).
    #[rustfmt::skip]
    let cases = [
        // Unknown ids and bad queries.
        case("unknown incident id", GET, "/api/v1/incidents/999999", NoBody, not_found, "not_found"),
        case("incident id not a number", GET, "/api/v1/incidents/abc", NoBody, bad_request, "bad_path"),
        case("limit not a number", GET, "/api/v1/incidents?limit=abc", NoBody, bad_request, "bad_query"),
        case("limit 0", GET, "/api/v1/incidents?limit=0", NoBody, bad_request, "bad_query"),
        case("limit too large", GET, "/api/v1/incidents?limit=100000", NoBody, bad_request, "bad_query"),
        case("unknown status filter", GET, "/api/v1/incidents?status=lost", NoBody, bad_request, "bad_query"),
        case("unknown route", GET, "/api/v1/nothing-here", NoBody, not_found, "not_found"),
        case("action on an unknown incident", POST, "/api/v1/incidents/999999/actions",
             Body::Json(json!({"action": "triage", "seq": 1})), not_found, "not_found"),
        // Bad reports.
        case("truncated JSON", POST, "/api/v1/incidents", raw("{\"category\": \"garbage\", "),
             bad_request, "malformed_json"),
        case("not JSON", POST, "/api/v1/incidents", raw("not json at all"), bad_request, "malformed_json"),
        case("fields missing", POST, "/api/v1/incidents", raw("{\"category\": \"garbage\"}"),
             unprocessable, "invalid_body"),
        case("lat a string", POST, "/api/v1/incidents",
             raw("{\"category\": \"garbage\", \"lat\": \"23\", \"lon\": 113.1, \"description\": \"\"}"),
             unprocessable, "invalid_body"),
        case("no content type", POST, "/api/v1/incidents", Body::Raw(good().to_string().into_bytes(), None),
             StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        case("unknown category", POST, "/api/v1/incidents", good_with("category", json!("alien_landing")),
             unprocessable, "unknown_category"),
        case("lat above 90", POST, "/api/v1/incidents", good_at(91.0, lon), unprocessable, "invalid_coordinates"),
        case("lat below -90", POST, "/api/v1/incidents", good_at(-90.5, lon), unprocessable, "invalid_coordinates"),
        case("lon above 180", POST, "/api/v1/incidents", good_at(lat, 180.5), unprocessable, "invalid_coordinates"),
        case("lon below -180", POST, "/api/v1/incidents", good_at(lat, -181.0), unprocessable, "invalid_coordinates"),
        case("Beijing: valid, outside the district", POST, "/api/v1/incidents", good_at(39.9042, 116.4074),
             unprocessable, "outside_district"),
        case("description of 4,001 characters", POST, "/api/v1/incidents",
             good_with("description", json!("长".repeat(4001))), unprocessable, "description_too_long"),
        case("body over 1 MiB", POST, "/api/v1/incidents",
             good_with("description", json!("x".repeat((1 << 20) + 10))),
             StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        case("unknown action", POST, "/api/v1/incidents/1/actions",
             Body::Json(json!({"action": "vanish", "seq": 1})), unprocessable, "unknown_action"),
        // Map layers.
        case("unknown boundary level", GET, "/api/v1/map/boundaries/planet", NoBody, not_found, "not_found"),
        // Roads (and every other large layer) reach the page only as vector tiles.
        case("roads as GeoJSON", GET, "/api/v1/map/roads", NoBody, not_found, "not_found"),
    ];
    assert_eq!(cases.len(), 24, "every bad request of the API");

    for bad in cases {
        let request = client.request(bad.method, server.url(bad.path));
        let request = match bad.body {
            Body::None => request,
            Body::Json(body) => request.json(&body),
            Body::Raw(bytes, Some(content_type)) => {
                request.header("content-type", content_type).body(bytes)
            }
            Body::Raw(bytes, None) => request.body(bytes),
        };
        let resp = request.send().await.unwrap();
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{}: error body is JSON: {e}", bad.label));
        assert_error(bad.label, status, &body, bad.status, bad.code);
        assert!(
            written(&server).await == before,
            "{}: nothing is written",
            bad.label
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn map_layers_and_page_are_served() {
    let server = TestServer::start().await.expect("server");
    let info: Value = server
        .client()
        .get(server.url("/api/v1/map/info"))
        .send()
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
        let fc: Value = server
            .client()
            .get(server.url(&format!("/api/v1/map/boundaries/{level}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let n = fc["features"].as_array().unwrap().len();
        assert!(n >= at_least, "{level}: {n}");
    }
    let page = server.client().get(server.url("/")).send().await.unwrap();
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
    let created: Value = server
        .client()
        .clone()
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "waterlogging", "lat": lat, "lon": lon, "description": "积水"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dir = server.data_path().to_path_buf();
    let database_url = server.database_url().map(str::to_string);
    let grids_before: Value = server
        .client()
        .get(server.url("/api/v1/map/boundaries/grid"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The session survives the restart too.
    let client = server.client().clone();
    let _keep = server.stop_keeping_data().await;

    // Restart on the same data dir with another seed: nothing is regenerated, nothing lost.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = onegrid_server::Config {
        data_dir: dir.clone(),
        database_url,
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
        if let Ok(r) = client.get(&url).send().await {
            fetched = Some(r.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(fetched.expect("second server answers"), created);
    let streets: Value = client
        .get(format!("http://{addr}/api/v1/map/boundaries/street"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(streets["features"].as_array().unwrap().len(), 4);
    let grids_after: Value = client
        .get(format!("http://{addr}/api/v1/map/boundaries/grid"))
        .send()
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
