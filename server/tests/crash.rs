//! Nothing acknowledged is lost: several clients report incidents and move them while the real
//! `onegrid serve` process is killed with SIGKILL at random moments, several times, and
//! restarted on the same data dir. Every write that got a 2xx is there afterwards, and the
//! event log is gap-free and in order.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{example, http, onegrid, onegrid_with_input, serve};
use rand::Rng;

const STATUSES: [&str; 3] = ["reported", "triaged", "rejected"];
/// The action that leads to each status after the first.
const ACTIONS: [&str; 3] = ["", "triage", "reject"];

fn rank(status: &str) -> usize {
    STATUSES.iter().position(|s| *s == status).unwrap_or(0)
}

/// Centres of the district's grids (the mean of each outer ring's vertices).
fn grid_points(addr: &str, cookie: &str) -> Vec<(f64, f64)> {
    let (status, fc, _) = http(addr, cookie, "GET", "/api/v1/map/boundaries/grid", "");
    assert_eq!(status, 200);
    fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| {
            let ring = f["geometry"]["coordinates"][0][0].as_array()?;
            let n = ring.len().checked_sub(1).filter(|n| *n > 0)?;
            let (lon, lat) = ring[..n].iter().fold((0.0, 0.0), |(x, y), p| {
                (
                    x + p[0].as_f64().unwrap_or(0.0),
                    y + p[1].as_f64().unwrap_or(0.0),
                )
            });
            Some((lon / n as f64, lat / n as f64))
        })
        .collect()
}

fn login(addr: &str) -> String {
    let body = serde_json::json!({"username": "crash", "password": "crash-test-password"});
    let (status, me, cookie) = http(addr, "", "POST", "/api/v1/session", &body.to_string());
    assert_eq!(status, 200, "{me}");
    cookie.expect("cookie")
}

/// What the clients were told was stored: incident id → the furthest status acknowledged.
type Acknowledged = Arc<Mutex<HashMap<i64, String>>>;

/// One client: reports, and moves its incidents on, until the server is gone.
fn client(addr: String, cookie: String, points: Arc<Vec<(f64, f64)>>, acked: Acknowledged) {
    let mut rng = rand::thread_rng();
    // Incident id, index of its status, its seq.
    let mut mine: Vec<(i64, usize, i64)> = Vec::new();
    loop {
        let request = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if !mine.is_empty() && rng.gen_bool(0.5) {
                let i = rng.gen_range(0..mine.len());
                let (id, at, seq) = mine[i];
                if at + 1 < STATUSES.len() {
                    let mut body = serde_json::json!({ "action": ACTIONS[at + 1], "seq": seq });
                    if ACTIONS[at + 1] == "reject" {
                        body["reason"] = "压力测试".into();
                    }
                    let path = format!("/api/v1/incidents/{id}/actions");
                    let (status, answer, _) =
                        http(&addr, &cookie, "POST", &path, &body.to_string());
                    assert_eq!(status, 200, "{answer}");
                    assert_eq!(answer["status"], STATUSES[at + 1]);
                    return Some((id, at + 1, answer["seq"].as_i64().expect("seq")));
                }
            }
            let (lon, lat) = points[rng.gen_range(0..points.len())];
            let body = serde_json::json!({
                "category": "garbage", "lon": lon, "lat": lat, "description": "压力测试"
            })
            .to_string();
            let (status, answer, _) = http(&addr, &cookie, "POST", "/api/v1/incidents", &body);
            if status == 422 {
                return None;
            }
            assert_eq!(status, 201, "{answer}");
            Some((
                answer["id"].as_i64().expect("id"),
                0,
                answer["seq"].as_i64().expect("seq"),
            ))
        }));
        match request {
            // The connection failed (the server was killed): this client stops.
            Err(_) => return,
            Ok(None) => {}
            Ok(Some((id, at, seq))) => {
                acked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, STATUSES[at].to_string());
                match mine.iter_mut().find(|(i, _, _)| *i == id) {
                    Some(entry) => (entry.1, entry.2) = (at, seq),
                    None => mine.push((id, at, seq)),
                }
            }
        }
    }
}

#[test]
fn every_acknowledged_write_survives_sigkill_and_the_log_stays_gap_free() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    onegrid(&[
        "import",
        "--data-dir",
        &d,
        "--layer",
        "boundaries",
        &example("boundaries.geojson"),
    ]);
    onegrid(&["grid", "generate", "--data-dir", &d]);
    onegrid_with_input(
        &[
            "user",
            "add",
            "crash",
            "--role",
            "duty_officer",
            "--data-dir",
            &d,
        ],
        "crash-test-password\n",
    );

    let acked: Acknowledged = Arc::default();
    let mut rng = rand::thread_rng();
    let rounds = 4;
    for round in 0..rounds {
        let (mut server, addr, _) = serve(&d, &["--no-demo"]);
        let cookie = login(&addr);
        let points = Arc::new(grid_points(&addr, &cookie));
        assert!(!points.is_empty());
        // Everything acknowledged before this start is still there.
        check(&addr, &cookie, &acked);
        let clients: Vec<_> = (0..4)
            .map(|_| {
                let (addr, cookie, points, acked) =
                    (addr.clone(), cookie.clone(), points.clone(), acked.clone());
                std::thread::spawn(move || client(addr, cookie, points, acked))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.gen_range(400..1500)));
        // SIGKILL: no shutdown, no flush, whatever the clients are doing.
        server.0.kill().expect("kill -9");
        server.0.wait().expect("reaped");
        for c in clients {
            c.join().expect("client");
        }
        eprintln!(
            "round {round}: {} incidents acknowledged so far",
            acked.lock().map(|a| a.len()).unwrap_or(0)
        );
    }
    let (server, addr, _) = serve(&d, &["--no-demo"]);
    let cookie = login(&addr);
    check(&addr, &cookie, &acked);
    drop(server);
    let acked = acked.lock().unwrap_or_else(|p| p.into_inner());
    assert!(
        acked.len() >= 20,
        "the clients got few writes through: {}",
        acked.len()
    );

    // The log: 1..=max with no gap, in order.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = onegrid_server::store::Store::open_sqlite(dir.path())
            .await
            .expect("store");
        let max = store.last_seq().await.expect("seq");
        let events = store.event_seqs(1, max).await.expect("events");
        let seqs: Vec<i64> = events.iter().map(|e| e.0).collect();
        assert_eq!(seqs, (1..=max).collect::<Vec<_>>(), "gap-free and in order");
        let incident_events = events
            .iter()
            .filter(|e| e.1.starts_with("incident."))
            .count();
        assert!(incident_events >= acked.len());
        store.close().await;
    });
}

/// Every acknowledged incident exists, at least as far along as it was acknowledged.
fn check(addr: &str, cookie: &str, acked: &Acknowledged) {
    let acked = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for (id, status) in &acked {
        let (code, incident, _) = http(addr, cookie, "GET", &format!("/api/v1/incidents/{id}"), "");
        assert_eq!(code, 200, "acknowledged incident {id} was lost: {incident}");
        let found = incident["status"].as_str().unwrap_or_default();
        assert!(
            rank(found) >= rank(status),
            "incident {id} was acknowledged {status} but is {found}"
        );
    }
}
