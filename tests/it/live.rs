//! The live feed over a real WebSocket (tokio-tungstenite client).

use std::time::Duration;

use onegrid_tests::{point_in_grid, TestServer, WsClient as Client};
use serde_json::{json, Value};

async fn next(ws: &mut Client) -> Value {
    onegrid_tests::next_message(ws, 10).await
}

async fn report(server: &TestServer, lon: f64, lat: f64, description: &str) -> Value {
    server
        .client()
        .clone()
        .post(server.url("/api/v1/incidents"))
        .json(
            &json!({"category": "fallen_tree", "lat": lat, "lon": lon, "description": description}),
        )
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn reports_and_status_changes_reach_every_client_with_increasing_seq() {
    let server = TestServer::start().await.expect("server");
    let (lon, lat, _) = point_in_grid(&server, 20).await.expect("grid");
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(server.ws("").await);
    }
    let mut head = 0;
    for ws in &mut clients {
        let hello = next(ws).await;
        assert_eq!(hello["type"], "hello");
        assert_eq!(hello["protocol"], "onegrid.live.v1");
        head = hello["seq"].as_i64().expect("seq");
    }

    let created = report(&server, lon, lat, "大树倒伏").await;
    let mut first_seq = 0;
    for ws in &mut clients {
        let msg = next(ws).await;
        assert_eq!(msg["type"], "incident");
        assert_eq!(msg["incident"]["id"], created["id"]);
        assert_eq!(msg["incident"]["description"], "大树倒伏");
        first_seq = msg["seq"].as_i64().expect("seq");
        assert!(first_seq > head, "{first_seq} > {head}");
        assert_eq!(msg["incident"]["seq"], first_seq);
    }

    let id = created["id"].as_i64().unwrap();
    server
        .client()
        .clone()
        .post(server.url(&format!("/api/v1/incidents/{id}/actions")))
        .json(&json!({"action": "triage", "seq": created["seq"]}))
        .send()
        .await
        .unwrap();
    for ws in &mut clients {
        let msg = next(ws).await;
        assert_eq!(msg["incident"]["status"], "triaged");
        assert!(msg["seq"].as_i64().unwrap() > first_seq);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_client_resuming_from_a_seq_gets_what_it_missed_once_then_live_events() {
    let server = TestServer::start().await.expect("server");
    let (lon, lat, _) = point_in_grid(&server, 30).await.expect("grid");
    let mut first = server.ws("").await;
    let since = next(&mut first).await["seq"].as_i64().unwrap();
    drop(first);

    let a = report(&server, lon, lat, "A").await;
    let b = report(&server, lon, lat, "B").await;

    let mut resumed = server.ws(&format!("?since={since}")).await;
    assert_eq!(next(&mut resumed).await["type"], "hello");
    let ra = next(&mut resumed).await;
    let rb = next(&mut resumed).await;
    assert_eq!(ra["incident"]["id"], a["id"]);
    assert_eq!(rb["incident"]["id"], b["id"]);
    assert!(rb["seq"].as_i64() > ra["seq"].as_i64());

    let c = report(&server, lon, lat, "C").await;
    let rc = next(&mut resumed).await;
    assert_eq!(
        rc["incident"]["id"], c["id"],
        "the next message is the live one, with no repeats"
    );

    // A client that says it saw a seq this store never had is told to resync.
    let mut future = server.ws("?since=999999").await;
    assert_eq!(next(&mut future).await["type"], "hello");
    assert_eq!(next(&mut future).await["type"], "resync");

    // A malformed `since` is refused before the upgrade.
    let refused = server.duty().try_ws(&server.ws_url("?since=abc")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 400),
        other => panic!("expected HTTP 400, got {other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn the_simulator_keeps_the_screen_alive() {
    let server = TestServer::start_with(onegrid_tests::Options {
        sim: true,
        sim_interval_ms: 100,
        ..Default::default()
    })
    .await
    .expect("server");
    let mut ws = server.ws("").await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    let mut statuses = std::collections::HashSet::new();
    let mut categories = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline
        && !(statuses.contains("dispatched") && categories.len() >= 3)
    {
        let msg = next(&mut ws).await;
        if msg["type"] == "incident" {
            statuses.insert(msg["incident"]["status"].as_str().unwrap().to_string());
            categories.insert(msg["incident"]["category"].as_str().unwrap().to_string());
            assert_eq!(msg["incident"]["grid_code"].as_str().unwrap().len(), 15);
        }
    }
    assert!(statuses.contains("reported"), "{statuses:?}");
    assert!(
        statuses.contains("dispatched"),
        "simulated incidents move on: {statuses:?}"
    );
    assert!(
        categories.len() >= 3,
        "plausible mix of categories: {categories:?}"
    );
    server.stop().await;
}
