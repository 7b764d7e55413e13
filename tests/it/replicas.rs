//! Several replicas on one store and one NATS JetStream bus: whatever replica takes a report,
//! every screen on every replica gets every event once, in `seq` order — across a replica that
//! dies mid-stream (its screens resume on the other) and a bus that restarts.
//!
//! On PostgreSQL (`ONEGRID_TEST_DATABASE_URL`) the replicas share a database; on SQLite they
//! share the data dir's file, as two processes on one machine would. The feed's look at the
//! store is set to a minute here, so what arrives within seconds came over the bus (or from a
//! gap the bus made the feed fill from the store).

use std::time::Duration;

use futures_util::StreamExt;
use onegrid_tests::{point_in_grid, Nats, Options, Session, TestServer};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

async fn report(server: &TestServer, lon: f64, lat: f64, n: usize) -> i64 {
    let r = server
        .client()
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "fallen_tree", "lat": lat, "lon": lon, "description": format!("倒树 {n}")}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), reqwest::StatusCode::CREATED, "report {n}");
    let v: Value = r.json().await.expect("json");
    v["seq"].as_i64().expect("seq")
}

/// A wall screen that follows the live feed: on `urls[0]` first, and whenever its
/// connection ends, on the next one with `?since=` the last `seq` it had. Returns the seqs of
/// the incident events it received, in the order it received them, once it has `want` of
/// them (or after `deadline`).
async fn follow(urls: Vec<(Session, String)>, want: usize, deadline: Duration) -> Vec<i64> {
    let mut seen = Vec::new();
    let end = tokio::time::Instant::now() + deadline;
    for (session, base) in urls {
        let url = match seen.last() {
            Some(last) => format!("{base}?since={last}"),
            None => base.clone(),
        };
        let Ok(mut ws) = session.try_ws(&url).await else {
            continue;
        };
        loop {
            if seen.len() >= want {
                return seen;
            }
            let msg = match tokio::time::timeout_at(end, ws.next()).await {
                Err(_) => return seen,
                Ok(Some(Ok(msg))) => msg,
                // The replica is gone: on to the next one.
                Ok(_) => break,
            };
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).expect("JSON");
            match v["type"].as_str() {
                Some("incident") => seen.push(v["seq"].as_i64().expect("seq")),
                Some("resync") => panic!("told to resync after {seen:?}"),
                _ => {}
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_district_live_through_a_dying_replica_and_a_restarted_bus() {
    let mut nats = Nats::start().await.expect("nats-server");
    let stream = format!("T{:016x}", rand::random::<u64>());
    let options = Options {
        bus: Some((nats.url(), stream)),
        catch_up_interval_ms: 60_000,
        isolated: true,
        ..Options::default()
    };
    let a = TestServer::start_with(options.clone())
        .await
        .expect("replica a");
    let b = TestServer::replica_of(&a, options)
        .await
        .expect("replica b");
    let (lon, lat, _) = point_in_grid(&a, 3).await.expect("grid");

    const TOTAL: usize = 40;
    let mut screens = Vec::new();
    for i in 0..4 {
        // Two screens on each replica; those on `a` fall over to `b`.
        let mut urls = vec![(b.duty().clone(), b.ws_url(""))];
        if i % 2 == 0 {
            urls.insert(0, (a.duty().clone(), a.ws_url("")));
        }
        screens.push(tokio::spawn(follow(urls, TOTAL, Duration::from_secs(90))));
    }
    // Every screen is subscribed before the first report.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut seqs = Vec::new();
    // 1. Reports on `a` only: `b`'s screens can have them only from the bus.
    for n in 0..10 {
        seqs.push(report(&a, lon, lat, n).await);
    }
    // 2. Reports on both, in turn.
    for n in 10..20 {
        let server = if n % 2 == 0 { &a } else { &b };
        seqs.push(report(server, lon, lat, n).await);
    }
    // 3. The bus dies; reports go on; the bus comes back; more reports.
    nats.kill();
    for n in 20..25 {
        let server = if n % 2 == 0 { &a } else { &b };
        seqs.push(report(server, lon, lat, n).await);
    }
    nats.restart().await.expect("nats-server again");
    for n in 25..30 {
        let server = if n % 2 == 0 { &a } else { &b };
        seqs.push(report(server, lon, lat, n).await);
    }
    // 4. `a` dies at once, mid-stream; its screens resume on `b`.
    let data = a.kill();
    for n in 30..TOTAL {
        seqs.push(report(&b, lon, lat, n).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    seqs.sort_unstable();
    for (i, screen) in screens.into_iter().enumerate() {
        let got = screen.await.expect("screen");
        assert_eq!(
            got,
            seqs,
            "screen {i} ({}) got every event once, in seq order",
            if i % 2 == 0 { "on a, then b" } else { "on b" }
        );
    }
    b.stop().await;
    drop(data);
}
