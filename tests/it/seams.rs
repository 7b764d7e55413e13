//! Seams through the HTTP API on the demo district, one real boundary per level: a side two grids
//! share where the street, the community or only the grid changes, and a side on the district's
//! outer boundary. Points exactly on it, 10 m to either side and 40 m away; and points outside
//! every jurisdiction, where locating answers an empty chain and reporting is refused.
//!
//! Sides and offsets are worked out here from the published boundaries, independently of the
//! server's geometry code (spherical metres, accurate to well under 1 % over these distances).

use std::collections::HashMap;

use onegrid_tests::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Fine segments per grid side in the demo district.
const SEGMENTS_PER_SIDE: usize = 5;
/// Metres per degree of latitude on a sphere of the Earth's mean radius.
const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

type P = [f64; 2];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boundary {
    /// The district's outer boundary: one side is outside.
    District,
    Street,
    Community,
    Grid,
}

/// One whole side of grid `a`, with the grid across it (`None` outside the district).
#[derive(Debug, Clone)]
struct Side {
    a: String,
    b: Option<String>,
    vertices: Vec<P>,
}

/// `[district, street, community, grid]` codes of a grid (CJ/T 213 codes nest by prefix).
fn chain(grid: &str) -> Vec<String> {
    [6, 9, 12, 15]
        .iter()
        .map(|&n| grid[..n].to_string())
        .collect()
}

const LEVELS: [&str; 4] = ["district", "street", "community", "grid"];

impl Side {
    fn boundary(&self) -> Boundary {
        let Some(b) = &self.b else {
            return Boundary::District;
        };
        let (ca, cb) = (chain(&self.a), chain(b));
        if ca[1] != cb[1] {
            Boundary::Street
        } else if ca[2] != cb[2] {
            Boundary::Community
        } else {
            Boundary::Grid
        }
    }

    fn vertex(&self) -> P {
        self.vertices[SEGMENTS_PER_SIDE / 2]
    }

    fn mid_edge(&self) -> P {
        let k = SEGMENTS_PER_SIDE / 2;
        let (p, q) = (self.vertices[k], self.vertices[k + 1]);
        [(p[0] + q[0]) / 2.0, (p[1] + q[1]) / 2.0]
    }

    /// `offset_m` metres from the mid-edge point, square to the side, toward the side of `a`
    /// that `inside_a` says (negative: the other way).
    fn offset(&self, offset_m: f64, inside_a: &dyn Fn(P) -> bool) -> P {
        let k = SEGMENTS_PER_SIDE / 2;
        let (p, q) = (self.vertices[k], self.vertices[k + 1]);
        let m = self.mid_edge();
        let kx = M_PER_DEG * m[1].to_radians().cos();
        let (dx, dy) = ((q[0] - p[0]) * kx, (q[1] - p[1]) * M_PER_DEG);
        let len = dx.hypot(dy);
        let (nx, ny) = (-dy / len, dx / len);
        let at = |d: f64| [m[0] + nx * d / kx, m[1] + ny * d / M_PER_DEG];
        let sign = if inside_a(at(5.0)) { 1.0 } else { -1.0 };
        at(sign * offset_m)
    }
}

/// Ray casting on the grid's ring (the demo grids are single convex rings).
fn in_ring(p: P, ring: &[P]) -> bool {
    let mut inside = false;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

/// Every whole grid side of the published grid boundaries: shared sides once, outer sides.
async fn sides(server: &TestServer) -> (Vec<Side>, HashMap<String, Vec<P>>) {
    let fc: Value = server
        .client()
        .get(server.url("/api/v1/map/boundaries/grid"))
        .send()
        .await
        .expect("grids")
        .json()
        .await
        .expect("JSON");
    let mut rings: Vec<(String, Vec<P>)> = Vec::new();
    for f in fc["features"].as_array().expect("features") {
        let code = f["properties"]["code"].as_str().expect("code").to_string();
        let ring: Vec<P> = f["geometry"]["coordinates"][0][0]
            .as_array()
            .expect("ring")
            .iter()
            .map(|c| [c[0].as_f64().expect("lon"), c[1].as_f64().expect("lat")])
            .collect();
        rings.push((code, ring));
    }
    let key = |p: P, q: P| {
        let (p, q) = (
            (p[0].to_bits(), p[1].to_bits()),
            (q[0].to_bits(), q[1].to_bits()),
        );
        if p < q {
            (p, q)
        } else {
            (q, p)
        }
    };
    let mut owners: HashMap<_, Vec<usize>> = HashMap::new();
    for (g, (_, ring)) in rings.iter().enumerate() {
        for w in ring.windows(2) {
            owners.entry(key(w[0], w[1])).or_default().push(g);
        }
    }
    let mut out = Vec::new();
    for (g, (code, ring)) in rings.iter().enumerate() {
        let n = ring.len() - 1;
        let across: Vec<Option<usize>> = (0..n)
            .map(|i| {
                owners[&key(ring[i], ring[i + 1])]
                    .iter()
                    .copied()
                    .find(|&o| o != g)
            })
            .collect();
        let Some(start) = (0..n).find(|&i| across[i] != across[(i + n - 1) % n]) else {
            continue;
        };
        let mut i = 0;
        while i < n {
            let first = (start + i) % n;
            let mut len = 1;
            while len < n - i && across[(first + len) % n] == across[first] {
                len += 1;
            }
            let other = across[first].map(|o| rings[o].0.clone());
            if len == SEGMENTS_PER_SIDE && other.as_ref().is_none_or(|o| o > code) {
                out.push(Side {
                    a: code.clone(),
                    b: other,
                    vertices: (0..=len).map(|k| ring[(first + k) % n]).collect(),
                });
            }
            i += len;
        }
    }
    (out, rings.into_iter().collect())
}

/// The `seq` of the newest event, from `/api/v1/stats`.
async fn last_seq(client: &reqwest::Client, server: &TestServer) -> Value {
    client
        .get(server.url("/api/v1/stats"))
        .send()
        .await
        .expect("stats")
        .json::<Value>()
        .await
        .expect("JSON")["seq"]
        .clone()
}

async fn locate(server: &TestServer, p: P) -> Value {
    let r = server
        .client()
        .get(server.url(&format!("/api/v1/spatial/locate?lat={}&lon={}", p[1], p[0])))
        .send()
        .await
        .expect("locate");
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.expect("JSON")
}

fn chain_codes(answer: &Value) -> Vec<String> {
    answer["chain"]
        .as_array()
        .expect("chain")
        .iter()
        .map(|j| j["code"].as_str().expect("code").to_string())
        .collect()
}

/// (level, code, distance_m) of each seam candidate; empty when `seam` is null.
fn candidates(answer: &Value) -> Vec<(String, String, f64)> {
    if answer["seam"].is_null() {
        return Vec::new();
    }
    answer["seam"]["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|c| {
            (
                c["level"].as_str().expect("level").to_string(),
                c["code"].as_str().expect("code").to_string(),
                c["distance_m"].as_f64().expect("distance"),
            )
        })
        .collect()
}

/// At each level where the two grids' chains differ: both, the near one at 0 m and the far one
/// at `offset_m` (±0.5 m); at the levels where they agree: none.
fn assert_candidates(answer: &Value, near: &str, far: &str, offset_m: f64, what: &str) {
    let got = candidates(answer);
    let (cn, cf) = (chain(near), chain(far));
    for (k, level) in LEVELS.iter().enumerate() {
        let here: Vec<&(String, String, f64)> = got.iter().filter(|c| c.0 == *level).collect();
        if cn[k] == cf[k] {
            assert!(
                here.is_empty(),
                "{what}: no {level} boundary here: {answer}"
            );
            continue;
        }
        assert_eq!(here.len(), 2, "{what}: {level}: {answer}");
        assert_eq!(
            (here[0].1.as_str(), here[0].2),
            (cn[k].as_str(), 0.0),
            "{what}: {answer}"
        );
        assert_eq!(here[1].1, cf[k], "{what}: {answer}");
        assert!(
            (here[1].2 - offset_m).abs() <= 0.5,
            "{what}: {level} far side at {} m, expected {offset_m}: {answer}",
            here[1].2
        );
    }
}

#[tokio::test]
async fn seams_at_every_level_through_the_api() {
    let server = TestServer::start().await.expect("server");
    let (sides, rings) = sides(&server).await;
    let client = server.client().clone();
    for boundary in [Boundary::Street, Boundary::Community, Boundary::Grid] {
        let side = sides
            .iter()
            .find(|s| s.boundary() == boundary)
            .unwrap_or_else(|| panic!("no {boundary:?} side in the demo district"));
        let b = side.b.clone().expect("shared");
        let what = |p: &str| format!("{boundary:?} side {} | {b}: {p}", side.a);
        let ring_a = rings[&side.a].clone();
        let inside_a = move |p: P| in_ring(p, &ring_a);

        // Exactly on a shared vertex: the lower code's whole chain; both grids at 0 m.
        let at_vertex = locate(&server, side.vertex()).await;
        let lower = side.a.clone().min(b.clone());
        assert_eq!(chain_codes(&at_vertex), chain(&lower), "{}", what("vertex"));
        assert_eq!(
            locate(&server, side.vertex()).await,
            at_vertex,
            "{}",
            what("deterministic")
        );
        let on = candidates(&at_vertex);
        for code in [&side.a, &b] {
            assert!(
                on.iter().any(|c| &c.1 == code && c.2 == 0.0),
                "{}: {at_vertex}",
                what("vertex")
            );
        }
        // The mid-edge point: a whole chain of one of the two.
        let at_mid = locate(&server, side.mid_edge()).await;
        let got = chain_codes(&at_mid);
        assert!(
            got == chain(&side.a) || got == chain(&b),
            "{}: {at_mid}",
            what("mid-edge")
        );
        let on = candidates(&at_mid);
        for code in [&side.a, &b] {
            assert!(
                on.iter().any(|c| &c.1 == code && c.2 < 0.01),
                "{}: {at_mid}",
                what("mid-edge")
            );
        }

        // 10 m to either side.
        let a10 = locate(&server, side.offset(10.0, &inside_a)).await;
        assert_eq!(chain_codes(&a10), chain(&side.a), "{}", what("10 m into a"));
        assert_candidates(&a10, &side.a, &b, 10.0, &what("10 m into a"));
        let b10 = locate(&server, side.offset(-10.0, &inside_a)).await;
        assert_eq!(chain_codes(&b10), chain(&b), "{}", what("10 m into b"));
        assert_candidates(&b10, &b, &side.a, 10.0, &what("10 m into b"));

        // 40 m away: no seam.
        for (d, grid) in [(40.0, &side.a), (-40.0, &b)] {
            let far = locate(&server, side.offset(d, &inside_a)).await;
            assert_eq!(chain_codes(&far), chain(grid), "{}", what("40 m"));
            assert!(far["seam"].is_null(), "{}: {far}", what("40 m"));
        }

        // An incident exactly on the vertex is taken, in the lower code's grid, for review.
        let r = client
            .post(server.url("/api/v1/incidents"))
            .json(&json!({"category": "garbage", "lon": side.vertex()[0], "lat": side.vertex()[1], "description": "边界上的垃圾"}))
            .send()
            .await
            .expect("report");
        assert_eq!(r.status(), StatusCode::CREATED, "{}", what("report"));
        let incident: Value = r.json().await.expect("JSON");
        assert_eq!(incident["grid_code"], lower.as_str(), "{}", what("report"));
        assert_eq!(incident["street_code"], chain(&lower)[1].as_str());
        assert_eq!(
            incident["responsibility"]["review_required"], true,
            "{incident}"
        );
        assert!(incident["seam"]["candidates"]
            .as_array()
            .is_some_and(|c| c.len() >= 2));
    }

    // The district's outer boundary: on it and inside, the whole chain and no seam (nobody of
    // ours across it); just outside, no chain, and the jurisdictions on our side of it are the
    // seam candidates; beyond the seam distance, nothing.
    let side = sides
        .iter()
        .find(|s| s.boundary() == Boundary::District)
        .expect("an outer side");
    let ring_a = rings[&side.a].clone();
    let inside_a = move |p: P| in_ring(p, &ring_a);
    let on = locate(&server, side.vertex()).await;
    assert_eq!(
        chain_codes(&on),
        chain(&side.a),
        "on the outer boundary: {on}"
    );
    assert!(on["seam"].is_null(), "{on}");
    for d in [10.0, 40.0] {
        let inside = locate(&server, side.offset(d, &inside_a)).await;
        assert_eq!(chain_codes(&inside), chain(&side.a));
        assert!(inside["seam"].is_null(), "{inside}");
    }
    let out10 = side.offset(-10.0, &inside_a);
    let outside = locate(&server, out10).await;
    assert_eq!(outside["chain"], json!([]), "{outside}");
    let got = candidates(&outside);
    let codes: Vec<&str> = got.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(codes, chain(&side.a), "{outside}");
    let levels: Vec<&str> = got.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(levels, LEVELS);
    assert!(got.iter().all(|c| (c.2 - 10.0).abs() <= 0.5), "{outside}");
    let out40 = side.offset(-40.0, &inside_a);
    assert_eq!(
        locate(&server, out40).await,
        json!({"chain": [], "seam": null})
    );

    // Reporting at the edge: 10 m outside is the district's problem until someone decides
    // otherwise — accepted, in the nearest grid, for review, with the jurisdictions on our side
    // as its seam candidates.
    let r = client
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "damaged_road", "lon": out10[0], "lat": out10[1], "description": "边界路面坑洼"}))
        .send()
        .await
        .expect("report");
    assert_eq!(r.status(), StatusCode::CREATED);
    let incident: Value = r.json().await.expect("JSON");
    assert_eq!(incident["grid_code"], side.a.as_str(), "{incident}");
    assert_eq!(
        incident["responsibility"]["review_required"], true,
        "{incident}"
    );
    let outside_m = incident["outside_m"].as_f64().expect("outside_m");
    assert!((outside_m - 10.0).abs() <= 0.5, "{incident}");
    let seam_codes: Vec<&str> = incident["seam"]["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .filter_map(|c| c["code"].as_str())
        .collect();
    assert_eq!(seam_codes, chain(&side.a), "{incident}");
    assert!(
        incident["responsibility"]["explanation_en"]
            .as_str()
            .is_some_and(|e| e.contains("outside the district boundary")),
        "{incident}"
    );
    let out100 = side.offset(-100.0, &inside_a);
    // Beyond the seam distance it is refused with a clear 422, and nothing is written.
    let before = last_seq(&client, &server).await;
    for p in [out40, out100, [116.4074, 39.9042]] {
        let r = client
            .post(server.url("/api/v1/incidents"))
            .json(&json!({"category": "garbage", "lon": p[0], "lat": p[1], "description": "区外"}))
            .send()
            .await
            .expect("report");
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = r.json().await.expect("JSON");
        assert_eq!(body["error"]["code"], "outside_district", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("outside the district")),
            "{body}"
        );
    }
    assert_eq!(
        last_seq(&client, &server).await,
        before,
        "a refused report writes nothing"
    );

    // Far outside every jurisdiction.
    let beijing = locate(&server, [116.4074, 39.9042]).await;
    assert_eq!(beijing, json!({"chain": [], "seam": null}));
    server.stop().await;
}
