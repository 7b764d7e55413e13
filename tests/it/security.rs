//! The HTTP edge against hostile input: every answer (page, API, errors, static files, tiles,
//! 404s, the refused WebSocket upgrade) carries the security headers and a policy that names
//! only our own origin, with the page's one inline script under this response's nonce;
//! state-changing requests from other origins, or with our cookies and no `Origin`, are
//! refused; every limit answers a clear 4xx with `{"error":{"code","message"}}`; no answer shows
//! where the server keeps its files.

use std::time::Duration;

use onegrid_tests::{assert_error, get, next_message, point_in_grid, TestServer};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Asserts the headers every answer carries; returns the policy.
#[track_caller]
fn assert_security_headers(case: &str, headers: &HeaderMap) -> String {
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        assert_eq!(
            headers.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{case}: {name}"
        );
    }
    let csp = headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{case}: content-security-policy"));
    csp.to_string()
}

/// The `'nonce-…'` of a policy's `script-src`.
fn script_nonce(csp: &str) -> Option<String> {
    let script = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src "))?;
    script
        .split_whitespace()
        .find_map(|s| s.strip_prefix("'nonce-")?.strip_suffix('\''))
        .map(str::to_string)
}

fn report(lon: f64, lat: f64) -> Value {
    json!({"category": "damaged_road", "lat": lat, "lon": lon, "description": "井盖缺失"})
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let server = TestServer::start().await.expect("server");
    let (lon, lat, _) = point_in_grid(&server, 120).await.expect("grid");
    let (x, y) = onegrid_server::tiles::tile_at(lon, lat, 14);
    let client = server.client().clone();
    let cases = [
        ("page", "/".to_string(), StatusCode::OK),
        ("API answer", "/api/v1/categories".into(), StatusCode::OK),
        (
            "API error",
            "/api/v1/incidents/999999".into(),
            StatusCode::NOT_FOUND,
        ),
        (
            "bad query",
            "/api/v1/incidents?limit=abc".into(),
            StatusCode::BAD_REQUEST,
        ),
        ("wasm glue", "/pkg/onegrid.js".into(), StatusCode::OK),
        ("stylesheet", "/pkg/onegrid.css".into(), StatusCode::OK),
        (
            "MapLibre's worker",
            "/assets/vendor/maplibre-gl/maplibre-gl-worker.mjs".into(),
            StatusCode::OK,
        ),
        (
            "tile",
            format!("/tiles/roads/14/{x}/{y}.mvt"),
            StatusCode::OK,
        ),
        (
            "bad tile",
            "/tiles/roads/30/1/1.mvt".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "page not found",
            "/no/such/page".into(),
            StatusCode::NOT_FOUND,
        ),
        (
            "static file not found",
            "/assets/nothing.js".into(),
            StatusCode::NOT_FOUND,
        ),
        (
            "WebSocket without an upgrade",
            "/ws".into(),
            StatusCode::BAD_REQUEST,
        ),
        ("health", "/healthz".into(), StatusCode::OK),
    ];
    for (case, path, status) in cases {
        let r = client.get(server.url(&path)).send().await.expect(case);
        assert_eq!(r.status(), status, "{case}: {path}");
        let csp = assert_security_headers(case, r.headers());
        assert!(csp.contains("frame-ancestors 'none'"), "{case}: {csp}");
    }
    // Not modified, method not allowed, refused: the same headers.
    let tile = server.url(&format!("/tiles/roads/14/{x}/{y}.mvt"));
    let etag = client.get(&tile).send().await.expect("tile").headers()["etag"].clone();
    let r = client
        .get(&tile)
        .header("if-none-match", etag)
        .send()
        .await
        .expect("304");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_security_headers("not modified", r.headers());
    let r = client
        .post(server.url("/api/v1/categories"))
        .send()
        .await
        .expect("405");
    assert_security_headers("method not allowed", r.headers());
    let status = r.status();
    let body: Value = r.json().await.expect("JSON 405");
    assert_error(
        "POST categories",
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let r = client
        .post(server.url("/api/v1/incidents"))
        .header("origin", "https://evil.example")
        .json(&report(lon, lat))
        .send()
        .await
        .expect("403");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_security_headers("refused", r.headers());
    server.stop().await;
}

#[tokio::test]
async fn the_policy_names_only_our_origin_and_the_page_script_carries_its_nonce() {
    let server = TestServer::start().await.expect("server");
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let r = server
            .client()
            .get(server.url("/"))
            .send()
            .await
            .expect("page");
        let csp = assert_security_headers("page", r.headers());
        let html = r.text().await.expect("html");
        for directive in [
            "default-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "worker-src 'self'",
            "connect-src 'self'",
        ] {
            assert!(
                csp.split("; ").any(|d| d == directive),
                "{directive} in {csp}"
            );
        }
        for remote in ["http:", "https:", "ws:", "wss:", "*", "'unsafe-eval'"] {
            assert!(
                !csp.split_whitespace()
                    .any(|s| s == remote || s.contains("://")),
                "no {remote} source in {csp}"
            );
        }
        let script = csp
            .split("; ")
            .find(|d| d.starts_with("script-src"))
            .expect("script-src");
        assert!(!script.contains("'unsafe-inline'"), "{script}");
        assert!(script.contains("'wasm-unsafe-eval'"), "{script}");
        let nonce = script_nonce(&csp).expect("a nonce in script-src");
        assert!(nonce.len() >= 22, "a nonce of 128 bits: {nonce}");

        // Every inline script on the page carries this response's nonce; none other.
        let mut inline = 0;
        for tag in html.split("<script").skip(1) {
            let open = tag.split('>').next().unwrap_or_default();
            if open.contains("src=") {
                continue;
            }
            inline += 1;
            assert!(
                open.contains(&format!("nonce=\"{nonce}\"")),
                "inline script with the response's nonce: <script{open}>"
            );
        }
        assert!(inline >= 1, "the hydration script is inline: {html}");
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a new nonce for every response");
    server.stop().await;
}

/// POSTs a report with `headers`; the status and the JSON body.
async fn post_with(
    key: &str,
    url: &str,
    lon: f64,
    lat: f64,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    // An API client's key: the origin checks come first, whatever else the request carries.
    let mut request = reqwest::Client::new()
        .post(url)
        .bearer_auth(key)
        .json(&report(lon, lat));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let r = request.send().await.expect("request");
    let status = r.status();
    (status, r.json().await.expect("JSON body"))
}

#[tokio::test]
async fn state_changing_requests_must_come_from_our_own_origin() {
    let server = TestServer::start().await.expect("server");
    let (lon, lat, _) = point_in_grid(&server, 60).await.expect("grid");
    let url = server.url("/api/v1/incidents");
    let key = server.api_key("origin-test", None).await.expect("key");
    let own = format!("http://{}", server.addr);
    let created = StatusCode::CREATED;

    let (s, body) = post_with(&key, &url, lon, lat, &[("origin", own.as_str())]).await;
    assert_eq!(s, created, "same origin: {body}");
    let (s, body) = post_with(&key, &url, lon, lat, &[]).await;
    assert_eq!(
        s, created,
        "no Origin and no cookie (an API client with its key): {body}"
    );
    let other_scheme = format!("https://{}", server.addr);
    for evil in [
        "https://evil.example",
        "null",
        "http://127.0.0.1:1",
        other_scheme.as_str(),
    ] {
        let (s, body) = post_with(&key, &url, lon, lat, &[("origin", evil)]).await;
        assert_error(evil, s, &body, StatusCode::FORBIDDEN, "cross_origin");
    }
    for cookie in ["onegrid_session=abc", "theme=dark; onegrid_screen=wall-1"] {
        let (s, body) = post_with(&key, &url, lon, lat, &[("cookie", cookie)]).await;
        assert_error(cookie, s, &body, StatusCode::FORBIDDEN, "origin_required");
        let (s, body) = post_with(
            &key,
            &url,
            lon,
            lat,
            &[("cookie", cookie), ("origin", own.as_str())],
        )
        .await;
        assert_eq!(s, created, "{cookie} with our Origin: {body}");
    }
    // Case actions too.
    let action_url = server.url("/api/v1/incidents/1/actions");
    let r = reqwest::Client::new()
        .post(&action_url)
        .header("origin", "https://evil.example")
        .json(&json!({"action": "triage", "seq": 1}))
        .send()
        .await
        .expect("status change");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The live feed refuses pages of other sites, and serves our own.
    let duty_cookie = server.duty().cookie.clone();
    let mut request = server.ws_url("").into_client_request().expect("request");
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().expect("header"));
    request
        .headers_mut()
        .insert("cookie", duty_cookie.parse().expect("cookie header"));
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), StatusCode::FORBIDDEN.as_u16())
        }
        other => panic!(
            "a cross-site WebSocket must be refused: {:?}",
            other.map(|_| ())
        ),
    }
    let mut request = server.ws_url("").into_client_request().expect("request");
    request
        .headers_mut()
        .insert("origin", own.parse().expect("header"));
    request
        .headers_mut()
        .insert("cookie", duty_cookie.parse().expect("cookie header"));
    tokio_tungstenite::connect_async(request)
        .await
        .expect("our own page opens the live feed");

    // Another server on the same data, with one more origin allowed.
    let data = server.stop_keeping_data().await.expect("data dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = onegrid_server::Config {
        data_dir: data.path().to_path_buf(),
        database_url: data.database_url().map(str::to_string),
        site_dir: onegrid_tests::site_dir(),
        demo: false,
        sim: false,
        allowed_origins: vec!["https://Ops.Example.cn/".into()],
        ..onegrid_server::Config::default()
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(onegrid_server::run(listener, config, async move {
        let _ = rx.await;
    }));
    let url = format!("http://{addr}/api/v1/incidents");
    let mut up = false;
    for _ in 0..400 {
        if reqwest::get(format!("http://{addr}/healthz")).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the second server answers");
    let (s, body) = post_with(
        &key,
        &url,
        lon,
        lat,
        &[("origin", "https://ops.example.cn")],
    )
    .await;
    assert_eq!(s, created, "an allowed origin: {body}");
    let (s, body) = post_with(
        &key,
        &url,
        lon,
        lat,
        &[("origin", "https://other.example.cn")],
    )
    .await;
    assert_error(
        "not allowed",
        s,
        &body,
        StatusCode::FORBIDDEN,
        "cross_origin",
    );
    let _ = tx.send(());
    let _ = task.await;
}

/// Sends `head` and a chunked body of `total` bytes of `fill` over a raw connection; the
/// answer's status and body.
async fn chunked(addr: std::net::SocketAddr, head: &str, fill: u8, total: usize) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut sent = 0;
    let chunk = vec![fill; 16 * 1024];
    let mut request =
        format!("{head}Host: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            .into_bytes();
    while sent < total {
        let n = chunk.len().min(total - sent);
        request.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        request.extend_from_slice(&chunk[..n]);
        request.extend_from_slice(b"\r\n");
        sent += n;
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer (and stop reading) before the body is all sent.
    let (mut read, mut write) = stream.split();
    let writing = async {
        let _ = write.write_all(&request).await;
    };
    let mut answer = Vec::new();
    let reading = read.read_to_end(&mut answer);
    let _ = tokio::join!(writing, reading);
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

#[tokio::test]
async fn oversized_and_out_of_range_requests_get_clear_4xx_answers() {
    let server = TestServer::start().await.expect("server");
    let (lon, lat, _) = point_in_grid(&server, 200).await.expect("grid");
    let client = server.client().clone();
    let bad_request = StatusCode::BAD_REQUEST;

    // Bodies over 1 MiB, valid or not, declared or chunked, wherever they are sent.
    let big = vec![b'['; (1 << 20) + 1];
    for path in [
        "/api/v1/incidents",
        "/api/v1/incidents/1/actions",
        "/",
        "/ws",
    ] {
        let r = client
            .post(server.url(path))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .expect(path);
        let status = r.status();
        assert_security_headers(path, r.headers());
        let body: Value = r.json().await.expect("JSON 413");
        assert_error(
            path,
            status,
            &body,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        );
    }
    let head = format!(
        "POST /api/v1/incidents HTTP/1.1\r\nContent-Type: application/json\r\nCookie: {}\r\nOrigin: http://{}\r\n",
        server.duty().cookie,
        server.addr
    );
    let (status, body) = chunked(server.addr, &head, b'[', (1 << 20) + 100).await;
    assert_eq!(status, 413, "chunked invalid JSON over 1 MiB: {body}");
    assert!(body.contains("payload_too_large"), "{body}");

    // The nearby radius is capped at 2000 m, and says so.
    let (s, body) = get(
        &server,
        &format!("/api/v1/spatial/nearby?lat={lat}&lon={lon}&radius_m=2000.5"),
    )
    .await;
    assert_error("radius", s, &body, bad_request, "invalid_radius");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("2000"),
        "{body}"
    );

    // Lists: nearby answers at most `limit` assets, the nearest; bounds are checked.
    let (s, all) = get(
        &server,
        &format!("/api/v1/spatial/nearby?lat={lat}&lon={lon}&radius_m=300"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let all = all["features"].as_array().expect("features").clone();
    assert!(all.len() > 3);
    let (_, three) = get(
        &server,
        &format!("/api/v1/spatial/nearby?lat={lat}&lon={lon}&radius_m=300&limit=3"),
    )
    .await;
    assert_eq!(
        three["features"].as_array().expect("features")[..],
        all[..3]
    );
    let r = client
        .get(server.url(&format!(
            "/api/v1/spatial/nearby.geojson?lat={lat}&lon={lon}&radius_m=300&limit=2"
        )))
        .send()
        .await
        .expect("geojson");
    let fc: Value = r.json().await.expect("geojson");
    assert_eq!(fc["features"].as_array().expect("features").len(), 2);
    for limit in ["0", "5001", "-1", "many"] {
        let (s, body) = get(
            &server,
            &format!("/api/v1/spatial/nearby?lat={lat}&lon={lon}&radius_m=300&limit={limit}"),
        )
        .await;
        let code = if limit.parse::<usize>().is_ok() {
            "invalid_limit"
        } else {
            "bad_query"
        };
        assert_error(limit, s, &body, bad_request, code);
    }
    let (s, body) = get(&server, "/api/v1/incidents?limit=1001").await;
    assert_error("incidents limit", s, &body, bad_request, "bad_query");

    // Strings in query strings, and the query string and path themselves.
    let long_layers = "roads,".repeat(20);
    let (s, body) = get(
        &server,
        &format!("/api/v1/spatial/nearby?lat={lat}&lon={lon}&radius_m=50&layers={long_layers}"),
    )
    .await;
    assert_error("long layers", s, &body, bad_request, "bad_query");
    let (s, body) = get(
        &server,
        &format!("/api/v1/incidents?status={}", "x".repeat(3000)),
    )
    .await;
    assert_error(
        "long query",
        s,
        &body,
        StatusCode::URI_TOO_LONG,
        "uri_too_long",
    );
    let (s, body) = get(&server, &format!("/api/v1/{}", "a".repeat(2000))).await;
    assert_error(
        "long path",
        s,
        &body,
        StatusCode::URI_TOO_LONG,
        "uri_too_long",
    );
    let (s, body) = get(&server, &format!("/tiles/{}/1/1/1.mvt", "b".repeat(1100))).await;
    assert_error(
        "long tile path",
        s,
        &body,
        StatusCode::URI_TOO_LONG,
        "uri_too_long",
    );

    // Tiles: z from 0 to 22, x and y below 2^z.
    for (path, code) in [
        ("/tiles/roads/23/0/0.mvt", "bad_tile"),
        ("/tiles/roads/14/16384/0.mvt", "bad_tile"),
        ("/tiles/roads/14/0/16384.mvt", "bad_tile"),
        ("/tiles/roads/0/1/0.mvt", "bad_tile"),
        ("/tiles/roads/256/0/0.mvt", "bad_path"),
        ("/tiles/roads/14/4294967296/0.mvt", "bad_path"),
        ("/tiles/roads/14/-1/0.mvt", "bad_path"),
    ] {
        let (s, body) = get(&server, path).await;
        assert_error(path, s, &body, bad_request, code);
    }
    let world = client
        .get(server.url("/tiles/roads/0/0/0.mvt"))
        .send()
        .await
        .expect("the world tile");
    assert_eq!(world.status(), StatusCode::OK, "the world tile");
    server.stop().await;
}

#[tokio::test]
async fn no_answer_shows_where_the_server_keeps_its_files() {
    let server = TestServer::start().await.expect("server");
    let data_dir = server.data_path().display().to_string();
    let (s, rules) = get(&server, "/api/v1/rules").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(rules["file"], "responsibility.toml");
    assert!(!rules.to_string().contains(&data_dir), "{rules}");
    let client = server.client().clone();
    for (method, path, body) in [
        ("GET", "/api/v1/incidents/abc", None),
        ("GET", "/api/v1/spatial/nearby?lat=x", None),
        ("GET", "/assets/../Cargo.toml", None),
        ("GET", "/pkg/%2e%2e/%2e%2e/Cargo.toml", None),
        ("POST", "/api/v1/incidents", Some("{\"category\":")),
        (
            "POST",
            "/api/v1/incidents",
            Some("{\"category\":\"garbage\",\"lat\":\"a\"}"),
        ),
    ] {
        let mut request = client.request(method.parse().expect("method"), server.url(path));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let r = request.send().await.expect(path);
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
        let text = r.text().await.expect("body");
        for secret in [
            data_dir.as_str(),
            "/src/",
            ".rs:",
            "panicked",
            "SELECT",
            "sqlite",
        ] {
            assert!(!text.contains(secret), "{path}: {secret} in {text}");
        }
    }
    server.stop().await;
}

#[test]
fn an_import_rejects_a_feature_with_too_many_vertices_and_keeps_the_rest() {
    use onegrid_server::district::AssetLayer;
    use onegrid_server::ingest::{read_bytes, IssueAction, ReadOptions, Target, MAX_RING_VERTICES};

    let mut line = String::from("[113.1,23.0]");
    for i in 0..MAX_RING_VERTICES {
        line.push_str(&format!(",[113.1,{}]", 23.0 + (i % 1000) as f64 * 1e-6));
    }
    let text = format!(
        "{{\"type\":\"FeatureCollection\",\"features\":[\
         {{\"type\":\"Feature\",\"properties\":{{\"id\":\"long\"}},\
         \"geometry\":{{\"type\":\"LineString\",\"coordinates\":[{line}]}}}},\
         {{\"type\":\"Feature\",\"properties\":{{\"id\":\"short\"}},\
         \"geometry\":{{\"type\":\"LineString\",\"coordinates\":[[113.1,23.0],[113.2,23.1]]}}}}]}}"
    );
    let got = read_bytes(
        "roads.geojson",
        text.as_bytes(),
        &ReadOptions::new(Target::Layer(AssetLayer::Roads)),
        &mut |_, _| {},
    )
    .expect("the file is read");
    assert_eq!(got.assets.len(), 1, "the short road is kept");
    let issue = got.issues.first().expect("the long road is reported");
    assert_eq!(issue.action, IssueAction::Rejected);
    assert!(issue.reason.contains("limit"), "{}", issue.reason);
}

/// A client message within 64 KiB is ignored and the live feed goes on; one over it closes the
/// connection (the feed only sends: a client has nothing large to say).
#[tokio::test]
async fn the_live_feed_closes_on_a_client_message_over_64_kib() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let server = TestServer::start().await.expect("server");
    let (lon, lat, _) = point_in_grid(&server, 30).await.expect("grid");
    let mut ws = server.ws("").await;
    assert_eq!(next_message(&mut ws, 5).await["type"], "hello");

    ws.send(Message::text("x".repeat(60 * 1024)))
        .await
        .expect("send 60 KiB");
    let r = server
        .client()
        .post(server.url("/api/v1/incidents"))
        .json(&report(lon, lat))
        .send()
        .await
        .expect("report");
    assert_eq!(r.status(), StatusCode::CREATED);
    let next = next_message(&mut ws, 5).await;
    assert_eq!(next["type"], "incident", "the feed goes on: {next}");

    ws.send(Message::text("x".repeat(64 * 1024 + 1)))
        .await
        .expect("send 64 KiB + 1");
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(m) = ws.next().await {
            if matches!(m, Ok(Message::Close(_)) | Err(_)) {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server closes the feed within 10 s");
}
