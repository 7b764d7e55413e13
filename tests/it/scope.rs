//! The authorization matrix: every role × every route of the OpenAPI document × in scope and
//! out of scope, with the exact status or the absence of the data; and the same for the live
//! feed, in replay and live. A route in the document without a row here fails the test.

use std::collections::{BTreeMap, BTreeSet};

use onegrid_app::wire::Role;
use onegrid_tests::{next_message, point_in_grid, Session, TestServer, WsClient};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Who asks: every role, and nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Admin,
    Duty,
    Street,
    Community,
    Grid,
    Department,
    Screen,
    Api,
    Anonymous,
}

const EVERYONE: [Who; 9] = [
    Who::Admin,
    Who::Duty,
    Who::Street,
    Who::Community,
    Who::Grid,
    Who::Department,
    Who::Screen,
    Who::Api,
    Who::Anonymous,
];

impl Who {
    /// Sees the incident in street A (every role here: A is everyone's scope).
    fn sees_a(self) -> bool {
        self != Who::Anonymous
    }

    /// Sees the incident in street B, of another department.
    fn sees_b(self) -> bool {
        matches!(self, Who::Admin | Who::Duty | Who::Screen)
    }

    fn can_report(self) -> bool {
        !matches!(self, Who::Screen | Who::Department | Who::Anonymous)
    }

    fn can_change(self) -> bool {
        matches!(
            self,
            Who::Admin | Who::Duty | Who::Street | Who::Community | Who::Department
        )
    }
}

struct World {
    server: TestServer,
    callers: BTreeMap<Who, reqwest::Client>,
    cookies: BTreeMap<Who, String>,
    /// An incident in grid A (street A), and one in street B of another department.
    a: Value,
    b: Value,
    point_a: (f64, f64),
    point_b: (f64, f64),
    category_a: String,
    category_b: String,
}

async fn report(server: &TestServer, category: &str, (lon, lat): (f64, f64)) -> Value {
    let r = server
        .client()
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": category, "lon": lon, "lat": lat, "description": "矩阵"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.expect("incident")
}

fn department(incident: &Value) -> String {
    incident["responsibility"]["department"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn at_seam(incident: &Value) -> bool {
    !incident["seam"].is_null()
}

/// Finds two incidents in different streets, of different departments, at no seam.
async fn world() -> World {
    let server = TestServer::start().await.expect("server");
    let categories = [
        "fallen_tree",
        "damaged_road",
        "garbage",
        "fire_hazard",
        "waterlogging",
    ];
    let mut a: Option<(Value, (f64, f64), String)> = None;
    let mut b = None;
    'grids: for index in (0..400).step_by(7) {
        let Ok((lon, lat, _)) = point_in_grid(&server, index).await else {
            break;
        };
        for category in categories {
            let incident = report(&server, category, (lon, lat)).await;
            if at_seam(&incident) || department(&incident).is_empty() {
                continue;
            }
            match &a {
                None => {
                    a = Some((incident, (lon, lat), category.to_string()));
                    continue 'grids;
                }
                Some((first, _, _))
                    if first["street_code"] != incident["street_code"]
                        && department(first) != department(&incident) =>
                {
                    b = Some((incident, (lon, lat), category.to_string()));
                    break 'grids;
                }
                Some(_) => {}
            }
        }
    }
    let (a, point_a, category_a) = a.expect("an incident at no seam");
    let (b, point_b, category_b) = b.expect("an incident in another street and department");
    let community = a["jurisdiction"]
        .as_array()
        .and_then(|chain| chain.iter().find(|j| j["level"] == "community"))
        .and_then(|j| j["code"].as_str())
        .expect("a community in the chain")
        .to_string();
    let street = a["street_code"].as_str().expect("street").to_string();
    let grid = a["grid_code"].as_str().expect("grid").to_string();
    let dept = department(&a);

    let mut sessions: BTreeMap<Who, Session> = BTreeMap::new();
    let accounts: [(Who, &str, Role, Option<&str>); 6] = [
        (Who::Admin, "m_admin", Role::Admin, None),
        (Who::Duty, "m_duty", Role::DutyOfficer, None),
        (Who::Street, "m_street", Role::StreetOfficer, Some(&street)),
        (
            Who::Community,
            "m_community",
            Role::CommunityWorker,
            Some(&community),
        ),
        (Who::Grid, "m_grid", Role::GridWorker, Some(&grid)),
        (
            Who::Department,
            "m_dept",
            Role::DepartmentOperator,
            Some(&dept),
        ),
    ];
    for (who, name, role, scope) in accounts {
        sessions.insert(
            who,
            server.session_for(name, role, scope).await.expect("login"),
        );
    }
    sessions.insert(Who::Screen, server.screen("m_wall").await.expect("screen"));
    let key = server
        .api_key("m_api", Some(&street))
        .await
        .expect("api key");
    let mut callers = BTreeMap::new();
    let mut cookies = BTreeMap::new();
    for (who, s) in &sessions {
        callers.insert(*who, s.client.clone());
        cookies.insert(*who, s.cookie.clone());
    }
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse().expect("header"),
    );
    callers.insert(
        Who::Api,
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("client"),
    );
    cookies.insert(Who::Api, String::new());
    let mut anonymous = reqwest::header::HeaderMap::new();
    anonymous.insert(
        reqwest::header::ORIGIN,
        server.url("").parse().expect("origin"),
    );
    callers.insert(
        Who::Anonymous,
        reqwest::Client::builder()
            .default_headers(anonymous)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
    );
    World {
        server,
        callers,
        cookies,
        a,
        b,
        point_a,
        point_b,
        category_a,
        category_b,
    }
}

/// What a caller gets from one request.
struct Answer {
    status: StatusCode,
    body: Value,
}

async fn call(
    client: &reqwest::Client,
    server: &TestServer,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let url = server.url(path);
    let mut request = match method {
        "GET" => client.get(&url),
        "POST" => client.post(&url),
        "DELETE" => client.delete(&url),
        other => panic!("method {other}"),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.expect("request");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

fn ids(body: &Value) -> BTreeSet<i64> {
    body.as_array()
        .map(|list| list.iter().filter_map(|i| i["id"].as_i64()).collect())
        .unwrap_or_default()
}

/// The expected outcome of every route for every caller, in and out of scope. Returns the
/// routes it covered ("METHOD /path" as the document writes them).
async fn check_routes(w: &World) -> BTreeSet<String> {
    let s = &w.server;
    let id_a = w.a["id"].as_i64().expect("id");
    let id_b = w.b["id"].as_i64().expect("id");
    let mut covered = BTreeSet::new();
    let mut failures = Vec::new();
    let mut leaks: Vec<String> = Vec::new();
    let mut expect = |route: &str, who: Who, case: &str, got: &Answer, want: StatusCode| {
        covered.insert(route.to_string());
        if got.status != want {
            failures.push(format!(
                "{route} [{case}] as {who:?}: {} (expected {want}) {}",
                got.status, got.body
            ));
        } else if got.status.is_client_error() && got.body["error"]["code"].as_str().is_none() {
            failures.push(format!(
                "{route} [{case}] as {who:?}: {} without a JSON error",
                got.status
            ));
        }
    };
    let unauth = StatusCode::UNAUTHORIZED;
    let ok = StatusCode::OK;
    let (lon, lat) = w.point_a;
    let mut failed_logins = 0;
    for who in EVERYONE {
        let c = &w.callers[&who];
        let signed_in = who != Who::Anonymous;
        let read = if signed_in { ok } else { unauth };

        let got = call(c, s, "GET", "/healthz", None).await;
        expect("GET /healthz", who, "open", &got, ok);
        let got = call(c, s, "GET", "/api/v1/openapi.json", None).await;
        expect("GET /api/v1/openapi.json", who, "open", &got, ok);

        let got = call(c, s, "GET", "/api/v1/session", None).await;
        expect("GET /api/v1/session", who, "", &got, read);
        // Every caller here shares one address: after 5 failures it is throttled.
        let wrong = json!({"username": format!("nobody_{who:?}"), "password": "not-the-password"});
        let got = call(c, s, "POST", "/api/v1/session", Some(wrong)).await;
        failed_logins += 1;
        let want = if failed_logins <= 5 {
            unauth
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        expect("POST /api/v1/session", who, "wrong password", &got, want);
        let change =
            json!({"current_password": "wrong-current", "new_password": "a-new-password-1"});
        let got = call(c, s, "POST", "/api/v1/session/password", Some(change)).await;
        let want = match who {
            Who::Anonymous => unauth,
            Who::Screen | Who::Api => StatusCode::FORBIDDEN,
            _ => unauth,
        };
        expect(
            "POST /api/v1/session/password",
            who,
            "wrong current",
            &got,
            want,
        );

        let got = call(c, s, "GET", "/api/v1/audit", None).await;
        let want = match who {
            Who::Admin => ok,
            Who::Anonymous => unauth,
            _ => StatusCode::FORBIDDEN,
        };
        expect("GET /api/v1/audit", who, "", &got, want);

        for path in [
            "/api/v1/categories",
            "/api/v1/departments",
            "/api/v1/map/info",
            "/api/v1/map/boundaries/{level}",
        ] {
            let real = path.replace("{level}", "street");
            let got = call(c, s, "GET", &real, None).await;
            expect(&format!("GET {path}"), who, "layers", &got, read);
        }
        for path in [
            "/api/v1/spatial/nearby",
            "/api/v1/spatial/nearby.geojson",
            "/api/v1/spatial/locate",
        ] {
            let real = format!("{path}?lon={lon}&lat={lat}&radius_m=100");
            let real = if path.ends_with("locate") {
                format!("{path}?lon={lon}&lat={lat}")
            } else {
                real
            };
            let got = call(c, s, "GET", &real, None).await;
            expect(&format!("GET {path}"), who, "layers", &got, read);
        }
        let got = call(c, s, "GET", "/tiles/buildings/14/13347/7128.mvt", None).await;
        let tile_ok = got.status == ok || got.status == StatusCode::NO_CONTENT;
        let shown = Answer {
            status: if tile_ok { ok } else { got.status },
            body: got.body,
        };
        expect(
            "GET /tiles/{layer}/{z}/{x}/{y}",
            who,
            "layers",
            &shown,
            read,
        );

        let got = call(c, s, "GET", "/api/v1/rules", None).await;
        let want = match who {
            Who::Admin | Who::Duty | Who::Screen => ok,
            Who::Anonymous => unauth,
            _ => StatusCode::FORBIDDEN,
        };
        expect("GET /api/v1/rules", who, "", &got, want);

        // Incidents: the list and the counts hold exactly what the caller sees.
        let got = call(c, s, "GET", "/api/v1/incidents?limit=1000", None).await;
        expect("GET /api/v1/incidents", who, "list", &got, read);
        let counted = call(c, s, "GET", "/api/v1/incidents/counts", None).await;
        expect(
            "GET /api/v1/incidents/counts",
            who,
            "counts",
            &counted,
            read,
        );
        let geojson = call(c, s, "GET", "/api/v1/incidents/export.geojson", None).await;
        expect(
            "GET /api/v1/incidents/export.geojson",
            who,
            "export",
            &geojson,
            read,
        );
        let csv = call(c, s, "GET", "/api/v1/incidents/export.csv", None).await;
        expect(
            "GET /api/v1/incidents/export.csv",
            who,
            "export",
            &csv,
            read,
        );
        if signed_in {
            let listed = ids(&got.body);
            let exported: Vec<i64> = geojson.body["features"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["id"].as_i64())
                .collect();
            let sorted: Vec<i64> = listed.iter().copied().collect();
            if exported != sorted {
                leaks.push(format!(
                    "GET /api/v1/incidents/export.geojson as {who:?}: {exported:?}, listed {sorted:?}"
                ));
            }
            let csv_rows = csv
                .body
                .as_str()
                .map_or(0, |t| t.lines().count().saturating_sub(1));
            if csv_rows != listed.len() {
                leaks.push(format!(
                    "GET /api/v1/incidents/export.csv as {who:?}: {csv_rows} rows, {} listed",
                    listed.len()
                ));
            }
            if counted.body["total"].as_i64() != Some(listed.len() as i64) {
                leaks.push(format!(
                    "GET /api/v1/incidents/counts as {who:?}: total {} but {} listed",
                    counted.body["total"],
                    listed.len()
                ));
            }
            if listed.contains(&id_a) != who.sees_a() || listed.contains(&id_b) != who.sees_b() {
                leaks.push(format!(
                    "GET /api/v1/incidents as {who:?}: has A {} B {}",
                    listed.contains(&id_a),
                    listed.contains(&id_b)
                ));
            }
            let street_b = w.b["street_code"].as_str().unwrap_or_default();
            let by_place = matches!(who, Who::Street | Who::Community | Who::Grid | Who::Api);
            if by_place
                && got
                    .body
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|i| i["street_code"] == street_b && !at_seam(i))
            {
                leaks.push(format!("{who:?} listed an incident of street B"));
            }
            let stats = call(c, s, "GET", "/api/v1/stats", None).await;
            let open_listed = got
                .body
                .as_array()
                .into_iter()
                .flatten()
                .filter(|i| {
                    ["reported", "triaged", "dispatched", "in_progress"]
                        .contains(&i["status"].as_str().unwrap_or_default())
                })
                .count() as i64;
            if stats.body["open"].as_i64() != Some(open_listed) {
                leaks.push(format!(
                    "GET /api/v1/stats as {who:?}: open {} but {open_listed} listed",
                    stats.body["open"]
                ));
            }
        }
        let got = call(c, s, "GET", "/api/v1/stats", None).await;
        expect("GET /api/v1/stats", who, "", &got, read);

        let (in_scope, out_scope) = match who {
            Who::Anonymous => (unauth, unauth),
            w if w.sees_b() => (ok, ok),
            _ => (ok, StatusCode::NOT_FOUND),
        };
        let got = call(c, s, "GET", &format!("/api/v1/incidents/{id_a}"), None).await;
        expect(
            "GET /api/v1/incidents/{id}",
            who,
            "in scope",
            &got,
            in_scope,
        );
        let got = call(c, s, "GET", &format!("/api/v1/incidents/{id_b}"), None).await;
        expect(
            "GET /api/v1/incidents/{id}",
            who,
            "out of scope",
            &got,
            out_scope,
        );
        let got = call(c, s, "GET", "/api/v1/incidents/999999", None).await;
        let none = if signed_in {
            StatusCode::NOT_FOUND
        } else {
            unauth
        };
        expect("GET /api/v1/incidents/{id}", who, "none", &got, none);
        // The history as the incident: in scope or not at all.
        let history = |id: i64| format!("/api/v1/incidents/{id}/history");
        let got = call(c, s, "GET", &history(id_a), None).await;
        let name = "GET /api/v1/incidents/{id}/history";
        expect(name, who, "in scope", &got, in_scope);
        let got = call(c, s, "GET", &history(id_b), None).await;
        expect(name, who, "out of scope", &got, out_scope);
        let got = call(c, s, "GET", &history(999_999), None).await;
        expect(name, who, "none", &got, none);

        // Actions: 403 for a role that may not act; an incident out of scope does not exist.
        // `close` on a reported incident is refused for everyone, so the matrix leaves both
        // incidents as they are: an officer who may act is told it is not legal now (409), a
        // department operator that it may not close cases (403).
        let path_a = format!("/api/v1/incidents/{id_a}/actions");
        let path_b = format!("/api/v1/incidents/{id_b}/actions");
        let conflict = StatusCode::CONFLICT;
        let forbidden = StatusCode::FORBIDDEN;
        let (want_a, want_b) = match who {
            Who::Anonymous => (unauth, unauth),
            w if !w.can_change() => (forbidden, forbidden),
            Who::Department => (forbidden, StatusCode::NOT_FOUND),
            w if w.sees_b() => (conflict, conflict),
            _ => (conflict, StatusCode::NOT_FOUND),
        };
        let close = |incident: &Value| json!({"action": "close", "seq": incident["seq"]});
        let got = call(c, s, "POST", &path_a, Some(close(&w.a))).await;
        expect(
            "POST /api/v1/incidents/{id}/actions",
            who,
            "in scope",
            &got,
            want_a,
        );
        let got = call(c, s, "POST", &path_b, Some(close(&w.b))).await;
        expect(
            "POST /api/v1/incidents/{id}/actions",
            who,
            "out of scope",
            &got,
            want_b,
        );

        let new_in = json!({"category": w.category_a, "lon": lon, "lat": lat, "description": "新"});
        let (blon, blat) = w.point_b;
        let new_out =
            json!({"category": w.category_b, "lon": blon, "lat": blat, "description": "外"});
        let (want_in, want_out) = match who {
            Who::Anonymous => (unauth, unauth),
            w if !w.can_report() => (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN),
            w if w.sees_b() => (StatusCode::CREATED, StatusCode::CREATED),
            _ => (StatusCode::CREATED, StatusCode::FORBIDDEN),
        };
        let got = call(c, s, "POST", "/api/v1/incidents", Some(new_in)).await;
        expect("POST /api/v1/incidents", who, "in scope", &got, want_in);
        let got = call(c, s, "POST", "/api/v1/incidents", Some(new_out)).await;
        expect(
            "POST /api/v1/incidents",
            who,
            "out of scope",
            &got,
            want_out,
        );

        let got = call(c, s, "GET", "/ws", None).await;
        // A plain GET is no upgrade: signed in it is refused for that, not for the login.
        let want = if signed_in {
            StatusCode::BAD_REQUEST
        } else {
            unauth
        };
        expect("GET /ws", who, "no upgrade", &got, want);
    }
    // Logging out last: it ends the sessions the rows above used.
    for who in EVERYONE {
        let got = call(&w.callers[&who], s, "DELETE", "/api/v1/session", None).await;
        let want = match who {
            Who::Anonymous => unauth,
            Who::Api => StatusCode::BAD_REQUEST,
            _ => StatusCode::NO_CONTENT,
        };
        expect("DELETE /api/v1/session", who, "logout", &got, want);
    }
    let got = call(
        &w.callers[&Who::Anonymous],
        s,
        "GET",
        "/screen?token=nope",
        None,
    )
    .await;
    // The screen link is opened by a browser on the wall: its refusal is a page, not JSON.
    if got.status != unauth {
        leaks.push(format!("GET /screen with a bad token: {}", got.status));
    }
    covered.insert("GET /screen".to_string());
    failures.extend(leaks);
    assert!(
        failures.is_empty(),
        "{} leaks or wrong answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
    covered
}

#[tokio::test]
async fn every_role_on_every_route_in_and_out_of_scope() {
    let w = world().await;
    let doc: Value = w
        .server
        .client()
        .get(w.server.url("/api/v1/openapi.json"))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("json");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let covered = check_routes(&w).await;
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes of the document without a row in the matrix: {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "matrix rows for undocumented routes: {stale:?}"
    );
}

async fn incident_ids(ws: &mut WsClient, until_id: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    loop {
        let msg = next_message(ws, 10).await;
        if msg["type"] == "incident" {
            let id = msg["incident"]["id"].as_i64().expect("id");
            seen.push(id);
            if id == until_id {
                return seen;
            }
        }
    }
}

#[tokio::test]
async fn the_live_feed_carries_only_what_each_caller_sees_in_replay_and_live() {
    let w = world().await;
    let s = &w.server;
    let id_a = w.a["id"].as_i64().expect("id");
    let id_b = w.b["id"].as_i64().expect("id");
    // A fence after A and B that everyone sees: the replay is read up to it.
    let replay_fence = report(s, &w.category_a, w.point_a).await["id"]
        .as_i64()
        .expect("id");
    let mut sockets = BTreeMap::new();
    for who in EVERYONE {
        let url = s.ws_url("?since=0");
        if who == Who::Anonymous {
            let refused = onegrid_tests::ws_connect_anonymous(&url).await;
            match refused {
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                    assert_eq!(r.status(), 401, "anonymous socket")
                }
                Err(other) => panic!("anonymous socket: {other}"),
                Ok(_) => panic!("an anonymous socket was accepted"),
            }
            continue;
        }
        let ws = if who == Who::Api {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut request = url.into_client_request().expect("request");
            let key = s.api_key("m_api_ws", None).await.expect("key");
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {key}").parse().expect("header"),
            );
            // An unscoped key sees the district; the scoped one is checked over HTTP above.
            tokio_tungstenite::connect_async(request)
                .await
                .expect("ws")
                .0
        } else {
            Session::with_cookie(s, &w.cookies[&who], "m")
                .ws(&url)
                .await
        };
        sockets.insert(who, ws);
    }
    // Replay from 0: everything the caller sees up to the fence, nothing else.
    for (who, ws) in &mut sockets {
        let hello = next_message(ws, 10).await;
        assert_eq!(hello["type"], "hello");
        let sees_b = who.sees_b() || *who == Who::Api;
        let replayed: BTreeSet<i64> = incident_ids(ws, replay_fence).await.into_iter().collect();
        assert!(replayed.contains(&id_a), "{who:?} replay lacks A");
        assert_eq!(replayed.contains(&id_b), sees_b, "{who:?} replay and B");
    }
    // Live: B first (hidden from the scoped), then a fence in A that everyone sees.
    let b2 = report(s, &w.category_b, w.point_b).await;
    let fence = report(s, &w.category_a, w.point_a).await;
    let (b2, fence) = (
        b2["id"].as_i64().expect("id"),
        fence["id"].as_i64().expect("id"),
    );
    for (who, ws) in &mut sockets {
        let got = incident_ids(ws, fence).await;
        let sees_b = who.sees_b() || *who == Who::Api;
        assert_eq!(
            got.contains(&b2),
            sees_b,
            "{who:?} live: got {got:?}, B {b2}, fence {fence}"
        );
    }
}
