//! `onegrid migrate-store`: an embedded installation with its district, incidents, accounts and
//! audit moves into an empty PostgreSQL database, and every answer of the API is the same from
//! the copy as from the original.

use futures_util::StreamExt;
use onegrid_server::store::snapshot::migrate;
use onegrid_tests::{point_in_grid, Data, Options, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// The web-mercator tile at zoom `z` holding (lon, lat).
fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let lat = lat.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    (x as u32, y as u32)
}

async fn body(server: &TestServer, path: &str) -> (StatusCode, Vec<u8>) {
    let r = server
        .client()
        .get(server.url(path))
        .send()
        .await
        .expect("get");
    (r.status(), r.bytes().await.expect("body").to_vec())
}

/// The live feed's replay from the start, as text.
async fn replay(server: &TestServer) -> Vec<String> {
    let mut ws = server.ws("?since=0").await;
    let mut out = Vec::new();
    while let Ok(Some(Ok(msg))) =
        tokio::time::timeout(std::time::Duration::from_secs(2), ws.next()).await
    {
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).expect("json");
            if v["type"] == "incident" {
                out.push(t.to_string());
            }
        }
    }
    out
}

#[tokio::test]
async fn a_migrated_store_answers_every_request_as_the_original_did() {
    let original =
        TestServer::start_in(Data::demo_sqlite().await.expect("data"), Options::default())
            .await
            .expect("sqlite server");
    let (lon, lat, _) = point_in_grid(&original, 5).await.expect("grid");
    let mut ids = Vec::new();
    for (n, category) in ["fallen_tree", "waterlogging", "damaged_road"]
        .iter()
        .enumerate()
    {
        let r: Value = original
            .client()
            .post(original.url("/api/v1/incidents"))
            .json(&json!({"category": category, "lon": lon + n as f64 * 1e-4, "lat": lat, "description": format!("第 {n} 起")}))
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
        ids.push((r["id"].as_i64().expect("id"), r["seq"].clone()));
    }
    // Cases moved on, so their history (with reasons) is part of what is copied.
    for (n, (id, seq)) in ids.iter().take(2).enumerate() {
        let body = match n {
            0 => json!({"action": "triage", "seq": seq, "note": "现场核实"}),
            _ => json!({"action": "reject", "seq": seq, "reason": "重复上报"}),
        };
        let moved = original
            .client()
            .post(original.url(&format!("/api/v1/incidents/{id}/actions")))
            .json(&body)
            .send()
            .await
            .expect("action");
        assert_eq!(moved.status(), StatusCode::OK);
    }
    let ids: Vec<i64> = ids.into_iter().map(|(id, _)| id).collect();
    original.screen("wall-1").await.expect("a screen");
    let sqlite = original.stop_keeping_data().await.expect("data");

    // The move.
    let postgres = Data::empty_postgres(sqlite.path())
        .await
        .expect("an empty database");
    let from = sqlite.open_store().await.expect("sqlite store");
    let to = postgres.open_store().await.expect("postgres store");
    let counts = migrate(&from, &to, &mut |_, _| {}).await.expect("migrate");
    assert!(counts.iter().all(|c| c.source == c.target), "{counts:?}");
    let events = counts.iter().find(|c| c.table == "events").expect("events");
    assert!(events.source >= 5, "{counts:?}");
    assert_eq!(
        to.last_seq().await.expect("seq"),
        from.last_seq().await.expect("seq")
    );
    // Row for row: the district, the log with its seqs, the accounts, the audit trail.
    assert!(
        to.export().await.expect("export") == from.export().await.expect("export"),
        "the copy holds exactly what the original does"
    );
    // Into a store that holds data: refused, nothing written.
    assert!(migrate(&from, &to, &mut |_, _| {}).await.is_err());
    assert_eq!(
        to.table_counts().await.expect("counts"),
        from.table_counts().await.expect("counts")
    );
    from.close().await;
    to.close().await;

    // Both served side by side; every answer compared byte for byte.
    let a = TestServer::start_in(sqlite, Options::default())
        .await
        .expect("sqlite");
    let b = TestServer::start_in(postgres, Options::default())
        .await
        .expect("postgres");
    let mut paths = vec![
        "/api/v1/incidents?limit=100".to_string(),
        "/api/v1/incidents?status=triaged".to_string(),
        "/api/v1/incidents?status=rejected".to_string(),
        "/api/v1/departments".to_string(),
        "/api/v1/categories".to_string(),
        "/api/v1/map/info".to_string(),
        "/api/v1/rules".to_string(),
        format!("/api/v1/spatial/locate?lon={lon}&lat={lat}"),
        format!("/api/v1/spatial/nearby?lon={lon}&lat={lat}&radius_m=300"),
        format!("/api/v1/spatial/nearby.geojson?lon={lon}&lat={lat}&radius_m=150"),
    ];
    for (layer, z) in [("buildings", 14), ("roads", 13), ("pipelines", 15)] {
        let (x, y) = tile_of(lon, lat, z);
        paths.push(format!("/tiles/{layer}/{z}/{x}/{y}.mvt"));
    }
    for level in ["district", "street", "community", "grid"] {
        paths.push(format!("/api/v1/map/boundaries/{level}"));
    }
    for id in &ids {
        paths.push(format!("/api/v1/incidents/{id}"));
        paths.push(format!("/api/v1/incidents/{id}/history"));
    }
    for path in &paths {
        let (sa, ba) = body(&a, path).await;
        let (sb, bb) = body(&b, path).await;
        assert_eq!(sa, sb, "{path}");
        assert!(sa.is_success(), "{path}: {sa}");
        assert!(ba == bb, "{path}: the answers differ");
    }
    // The log replays the same events with the same seqs.
    let (ra, rb) = (replay(&a).await, replay(&b).await);
    assert_eq!(ra.len(), 5, "three reports and two actions");
    assert_eq!(ra, rb);
    // And the copy goes on where the original stopped.
    let next: Value = b
        .client()
        .post(b.url("/api/v1/incidents"))
        .json(
            &json!({"category": "fallen_tree", "lon": lon, "lat": lat, "description": "迁移之后"}),
        )
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(next["id"].as_i64(), Some(ids[2] + 1));
    a.stop().await;
    b.stop().await;
}
