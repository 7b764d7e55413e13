//! The page in a real headless Chromium (software WebGL, so the map really renders): it
//! hydrates, reacts to a click, and shows an incident posted through the API in the list and
//! on the map without a reload; its layout holds at wall, desktop and laptop sizes; the map
//! draws buildings, roads and pipelines from vector tiles, never from one big GeoJSON; an open
//! screen redraws after an import into the server's data dir, without a reload; all of it under
//! the server's Content-Security-Policy, with no violation reported.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use onegrid_tests::{point_in_grid, Options, TestServer};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

pub(crate) struct Browser {
    pub(crate) client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
}

pub(crate) async fn browser() -> Result<Browser> {
    browser_with(&[]).await
}

/// A browser started with `extra` command-line switches as well.
async fn browser_with(extra: &[String]) -> Result<Browser> {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting chromedriver (Debian package chromium-driver; .ci/run installs it)")?;
    let profile = tempfile::Builder::new()
        .prefix("onegrid-chromium-")
        .tempdir()?;
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-gl=angle",
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        "--window-size=1920,1080",
        "--lang=zh-CN",
    ]
    .map(String::from)
    .into();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend_from_slice(extra);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": "/usr/bin/chromium", "args": args }),
    );
    // The console, kept for `browser_log` (CSP violations in workers show only there).
    caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    let url = format!("http://127.0.0.1:{port}");
    let mut last_err = None;
    for _ in 0..100 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Ok(Browser {
                    client,
                    _driver: driver,
                    _profile: profile,
                })
            }
            Err(e) => last_err = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("chromedriver did not start: {last_err:?}")
}

/// Opens the page at `path` logged in with `cookie` (`name=value`): the cookie is set on the
/// server's origin first, as a login would.
pub(crate) async fn open_as(
    c: &Client,
    server: &TestServer,
    cookie: &str,
    path: &str,
) -> Result<()> {
    c.goto(&server.url("/healthz")).await?;
    let (name, value) = cookie.split_once('=').context("name=value")?;
    let mut jar = fantoccini::cookies::Cookie::new(name.to_string(), value.to_string());
    jar.set_path("/");
    c.add_cookie(jar).await?;
    c.goto(&server.url(path)).await?;
    Ok(())
}

/// Opens the dashboard as the duty officer.
async fn open(c: &Client, server: &TestServer) -> Result<()> {
    open_as(c, server, &server.duty().cookie, "/").await
}

/// Polls `script` (which returns a boolean) until it is true or `secs` pass.
pub(crate) async fn wait_until(client: &Client, script: &str, secs: u64, what: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if client.execute(script, vec![]).await? == Value::Bool(true) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out after {secs} s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn post_incident(
    server: &TestServer,
    lon: f64,
    lat: f64,
    description: &str,
) -> Result<Value> {
    let v: Value = server.client().clone()
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "damaged_road", "lat": lat, "lon": lon, "description": description}))
        .send()
        .await?
        .json()
        .await?;
    Ok(v)
}

async fn save_screenshot(client: &Client, name: &str) -> Result<()> {
    let png = client.screenshot().await?;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), png)?;
    Ok(())
}

#[tokio::test]
async fn the_page_hydrates_and_shows_new_incidents_live_in_the_list_and_on_the_map() -> Result<()> {
    let server = TestServer::start().await?;
    let (lon, lat, _) = point_in_grid(&server, 40).await?;
    let first = post_incident(&server, lon, lat, "路面坑洞").await?;
    let b = browser().await?;
    let c = &b.client;
    open(c, &server).await?;

    // Server-rendered in Chinese.
    let title = c.find(Locator::Css(".brand h1")).await?.text().await?;
    assert_eq!(title, "禅城区城市运行指挥中心");

    // Hydrated: the list loads over HTTP and reacts to a click.
    let item = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(&format!(
            "li.incident[data-incident-id='{}']",
            first["id"]
        )))
        .await
        .context("the incident list loads after hydration")?;
    item.click().await?;
    wait_until(
        c,
        "return document.querySelector('li.incident.selected') !== null",
        10,
        "the clicked item to be selected",
    )
    .await?;
    let details = c
        .find(Locator::Css("section.details"))
        .await?
        .text()
        .await?;
    assert!(
        details.contains("路面坑洞"),
        "details show the incident: {details}"
    );
    assert!(details.contains(first["grid_code"].as_str().unwrap()));

    // The live feed is up and the map has rendered our layers.
    wait_until(
        c,
        "return document.querySelector('.conn[data-conn=live]') !== null",
        20,
        "the live indicator",
    )
    .await?;
    wait_until(
        c,
        "return document.getElementById('map').dataset.mapReady === 'true'",
        60,
        "the map to load",
    )
    .await?;

    // A new report appears in the list and on the map, without a reload.
    c.execute("window.__sameDocument = true; return true;", vec![])
        .await?;
    let second = post_incident(&server, lon + 0.0001, lat, "井盖旁路面塌陷").await?;
    let id = second["id"].as_i64().unwrap();
    wait_until(
        c,
        &format!(
            "return document.querySelector(\"li.incident[data-incident-id='{id}']\") !== null"
        ),
        15,
        "the new incident in the list",
    )
    .await?;
    wait_until(
        c,
        &format!(
            "return !!(window.onegrid && window.onegrid.renderedIncidentIds().includes({id}))"
        ),
        30,
        "the new incident as a rendered map feature",
    )
    .await?;
    assert_eq!(
        c.execute("return window.__sameDocument === true", vec![])
            .await?,
        Value::Bool(true),
        "no reload"
    );
    let today = c.find(Locator::Css("[data-stat=today]")).await?;
    wait_until(
        c,
        "return document.querySelector('[data-stat=today]').textContent === '2'",
        10,
        "the header count",
    )
    .await?;
    drop(today);

    // The English switch.
    c.find(Locator::Css("button.lang-switch"))
        .await?
        .click()
        .await?;
    wait_until(c, "return document.querySelector('.brand h1').textContent === 'Chancheng City Operations Center'", 5, "English title").await?;
    c.find(Locator::Css("button.lang-switch"))
        .await?
        .click()
        .await?;

    save_screenshot(c, "dashboard-1920x1080.png").await?;
    b.client.close().await?;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_layout_fits_wall_desktop_and_laptop_screens() -> Result<()> {
    let server = TestServer::start().await?;
    let (lon, lat, _) = point_in_grid(&server, 50).await?;
    for i in 0..30 {
        post_incident(&server, lon, lat, &format!("第{i}条")).await?;
    }
    let b = browser().await?;
    let c = &b.client;
    for (w, h) in [(3840u32, 2160u32), (1920, 1080), (1366, 768)] {
        c.set_window_size(w, h).await?;
        open(c, &server).await?;
        c.wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("li.incident"))
            .await?;
        let check = c
            .execute(
                r#"
                const vw = window.innerWidth, vh = window.innerHeight;
                const inside = (sel) => {
                  const r = document.querySelector(sel).getBoundingClientRect();
                  return r.left >= 0 && r.top >= 0 && r.right <= vw + 0.5 && r.bottom <= vh + 0.5 && r.width > 0;
                };
                const header = document.querySelector('.topbar').getBoundingClientRect();
                const title = document.querySelector('.brand h1');
                const map = document.getElementById('map').getBoundingClientRect();
                return {
                  panel: inside('.incident-panel'),
                  counters: inside('.counters'),
                  status: inside('.status-area'),
                  headerShare: header.height / vh,
                  titleWhole: title.scrollWidth <= title.clientWidth + 1,
                  mapShare: (map.width * map.height) / (vw * vh),
                  noScroll: document.documentElement.scrollHeight <= vh + 1,
                };
                "#,
                vec![],
            )
            .await?;
        assert_eq!(
            check["panel"], true,
            "{w}x{h}: list panel on screen: {check}"
        );
        assert_eq!(
            check["counters"], true,
            "{w}x{h}: counters on screen: {check}"
        );
        assert_eq!(
            check["status"], true,
            "{w}x{h}: connection and clock on screen: {check}"
        );
        assert_eq!(check["titleWhole"], true, "{w}x{h}: title not cut: {check}");
        assert_eq!(
            check["noScroll"], true,
            "{w}x{h}: a screen, not a scrolling page: {check}"
        );
        assert!(
            check["headerShare"].as_f64().unwrap() < 0.12,
            "{w}x{h}: header height: {check}"
        );
        assert!(
            check["mapShare"].as_f64().unwrap() > 0.8,
            "{w}x{h}: the map fills the screen: {check}"
        );
        save_screenshot(c, &format!("dashboard-{w}x{h}.png")).await?;
    }
    b.client.close().await?;
    server.stop().await;
    Ok(())
}

/// Every `"url"` value in a Chromium NetLog (`--log-net-log`), whether or not Chromium finished
/// writing the file (it closes the JSON as it exits).
fn netlog_urls(text: &str) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match v {
                        Value::String(s) if k == "url" => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match serde_json::from_str::<Value>(text) {
        Ok(v) => walk(&v, &mut out),
        Err(_) => {
            let key = "\"url\":\"";
            for (at, _) in text.match_indices(key) {
                let rest = &text[at + key.len()..];
                if let Some(end) = rest.find('"') {
                    out.push(rest[..end].to_string());
                }
            }
        }
    }
    out
}

/// Layers, kinds and ids of what `layer` draws on screen now.
const RENDERED: &str = r#"
    const m = window.onegrid.map;
    const layer = (id) => {
      const fs = m.queryRenderedFeatures({ layers: [id] });
      return {
        count: fs.length,
        sources: [...new Set(fs.map((f) => `${f.source}/${f.sourceLayer}`))],
        kinds: [...new Set(fs.map((f) => f.properties.kind))],
        ids: [...new Set(fs.map((f) => String(f.properties.id ?? f.id)))],
      };
    };
    return {
      zoom: m.getZoom(),
      buildings: layer('building-fill'),
      outlines: layer('building-outline').count,
      roads: layer('road-line'),
      pipelines: layer('pipeline-line'),
    };
"#;

/// Moves the map to `center` at `zoom` and waits until every tile is loaded and drawn.
async fn show(client: &Client, center: [f64; 2], zoom: f64) -> Result<()> {
    client
        .execute(
            "const m = window.onegrid.map; window.__idle = false; \
             m.once('idle', () => { window.__idle = true; }); \
             m.jumpTo({ center: arguments[0], zoom: arguments[1] }); return true;",
            vec![json!(center), json!(zoom)],
        )
        .await?;
    wait_until(
        client,
        "return window.__idle === true && window.onegrid.map.areTilesLoaded()",
        120,
        &format!("the map to be idle at z{zoom}"),
    )
    .await
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn the_map_draws_buildings_roads_and_pipelines_from_vector_tiles() -> Result<()> {
    let server = TestServer::start().await?;
    let (lon, lat, _) = point_in_grid(&server, 120).await?;
    let info: Value = server
        .client()
        .get(server.url("/api/v1/map/info"))
        .send()
        .await?
        .json()
        .await?;
    let max_zoom = info["tile_max_zoom"].as_u64().context("tile_max_zoom")?;
    // What the index holds within 100 m, asked over the API, independently of the tiles.
    let nearby: Value = server
        .client()
        .get(server.url(&format!(
            "/api/v1/spatial/nearby?lat={lat}&lon={lon}&radius_m=100"
        )))
        .send()
        .await?
        .json()
        .await?;
    let near = |layer: &str| -> BTreeSet<String> {
        nearby["features"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["layer"] == layer)
            .filter_map(|f| f["id"].as_str().map(str::to_string))
            .collect()
    };
    for layer in ["buildings", "roads", "pipelines"] {
        assert!(!near(layer).is_empty(), "{layer} within 100 m: {nearby}");
    }
    let incident = post_incident(&server, lon, lat, "燃气管线上方路面塌陷").await?;
    let id = incident["id"].as_i64().context("incident id")?;

    let netlog_dir = tempfile::Builder::new()
        .prefix("onegrid-netlog-")
        .tempdir()?;
    let netlog = netlog_dir.path().join("netlog.json");
    let b = browser_with(&[format!("--log-net-log={}", netlog.display())]).await?;
    let c = &b.client;
    open(c, &server).await?;
    wait_until(
        c,
        "return document.getElementById('map').dataset.mapReady === 'true'",
        60,
        "the map to load",
    )
    .await?;

    // The legend, in Chinese, draws each pipeline kind in the colour the map uses.
    let legend = c
        .execute(
            r#"
            const paint = window.onegrid.map.getPaintProperty('pipeline-line', 'line-color');
            const colors = {};
            for (let i = 2; i + 1 < paint.length; i += 2) colors[paint[i]] = paint[i + 1];
            const items = [...document.querySelectorAll('.map-legend .legend-pipelines li')];
            return {
              text: document.querySelector('.map-legend').textContent,
              items: items.map((li) => ({
                kind: li.dataset.kind,
                stroke: li.querySelector('line').getAttribute('stroke'),
                map: colors[li.dataset.kind] ?? null,
              })),
            };
            "#,
            vec![],
        )
        .await?;
    let text = legend["text"].as_str().unwrap_or_default();
    for word in [
        "图例", "建筑", "道路", "设施", "网格", "给水", "排水", "燃气", "电力", "通信",
    ] {
        assert!(text.contains(word), "legend shows {word}: {text}");
    }
    let items = legend["items"].as_array().context("legend items")?;
    assert_eq!(items.len(), 5, "{legend}");
    for item in items {
        assert!(item["map"].is_string(), "the map draws {item}");
        assert_eq!(item["stroke"], item["map"], "legend colour = map colour");
    }

    // Select the incident: the map flies to it and highlights its surroundings.
    c.find(Locator::Css(&format!(
        "li.incident[data-incident-id='{id}']"
    )))
    .await?
    .click()
    .await?;
    wait_until(
        c,
        "const m = window.onegrid.map; return !m.isMoving() && m.getZoom() >= 15;",
        30,
        "the flight to the incident",
    )
    .await?;

    // z16 over a dense spot: buildings, roads and pipelines come from the tile sources.
    show(c, [lon, lat], 16.0).await?;
    let r = c.execute(RENDERED, vec![]).await?;
    assert!((r["zoom"].as_f64().unwrap_or_default() - 16.0).abs() < 1e-6);
    for (layer, source) in [
        ("buildings", "buildings/buildings"),
        ("roads", "roads/roads"),
        ("pipelines", "pipelines/pipelines"),
    ] {
        let drawn = &r[layer];
        assert!(drawn["count"].as_u64().unwrap_or(0) > 0, "{layer} drawn");
        assert_eq!(drawn["sources"], json!([source]), "{layer} from its tiles");
        let ids = strings(&drawn["ids"]);
        let missing: Vec<_> = near(layer).difference(&ids).cloned().collect();
        assert!(
            missing.is_empty(),
            "every {layer} feature within 100 m is drawn; missing {missing:?}"
        );
    }
    assert!(r["outlines"].as_u64().unwrap_or(0) > 0, "building outlines");
    let pipeline_kinds = strings(&r["pipelines"]["kinds"]);
    assert!(
        pipeline_kinds.len() >= 2
            && pipeline_kinds.iter().all(|k| {
                ["water_supply", "drainage", "gas", "power", "telecom"].contains(&k.as_str())
            }),
        "pipeline kinds: {pipeline_kinds:?}"
    );
    let building_kinds = strings(&r["buildings"]["kinds"]);
    assert!(
        building_kinds.iter().all(|k| {
            [
                "residential",
                "commercial",
                "industrial",
                "public",
                "school",
                "mixed",
            ]
            .contains(&k.as_str())
        }),
        "building kinds: {building_kinds:?}"
    );

    // The selection draws above the tiles, the incidents above everything.
    let stack = c
        .execute(
            r#"
            const m = window.onegrid.map;
            return {
              order: m.getStyle().layers.map((l) => l.id),
              sources: Object.fromEntries(Object.entries(m.getStyle().sources).map(([k, v]) => [k, v.type])),
              atIncident: m.queryRenderedFeatures(m.project(arguments[0])).map((f) => f.layer.id),
              nearby: window.onegrid.renderedNearbyIds(),
              incidents: window.onegrid.renderedIncidentIds(),
            };
            "#,
            vec![json!([lon, lat])],
        )
        .await?;
    let order: Vec<&str> = stack["order"]
        .as_array()
        .context("layer order")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let at = |id: &str| order.iter().position(|l| *l == id);
    let tile_layers = [
        "building-fill",
        "building-outline",
        "road-line",
        "pipeline-line",
        "grid-line",
        "community-line",
        "poi-circle",
    ];
    let highest_tile = tile_layers
        .iter()
        .map(|l| at(l).with_context(|| format!("layer {l}")))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .max();
    for l in [
        "nearby-building",
        "nearby-road",
        "nearby-pipeline",
        "nearby-poi",
    ] {
        assert!(at(l) > highest_tile, "{l} above the tile layers: {order:?}");
    }
    assert_eq!(order.last(), Some(&"incident-circle"), "{order:?}");
    for source in ["buildings", "roads", "pipelines", "pois", "jurisdictions"] {
        assert_eq!(stack["sources"][source], "vector", "{}", stack["sources"]);
    }
    let at_incident: Vec<&str> = stack["atIncident"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        at_incident.first(),
        Some(&"incident-circle"),
        "{at_incident:?}"
    );
    if let Some(first_tile) = at_incident.iter().position(|l| tile_layers.contains(l)) {
        assert!(
            !at_incident[first_tile..]
                .iter()
                .any(|l| l.starts_with("nearby-") || l.starts_with("incident-")),
            "nothing of the selection under a tile feature: {at_incident:?}"
        );
    }
    let highlighted = strings(&stack["nearby"]);
    let near_all: BTreeSet<String> = ["buildings", "roads", "pipelines", "pois"]
        .iter()
        .flat_map(|l| near(l))
        .collect();
    assert!(
        !highlighted.is_empty() && highlighted.is_subset(&near_all),
        "the selection's surroundings are highlighted: {highlighted:?}"
    );
    assert!(
        stack["incidents"]
            .as_array()
            .is_some_and(|a| a.contains(&json!(id))),
        "the incident is drawn: {}",
        stack["incidents"]
    );
    save_screenshot(c, "map-tiles-z16-1920x1080.png").await?;

    // z18: drawn from the z16 tiles, overzoomed (no deeper tile is requested; checked below).
    show(c, [lon, lat], 18.0).await?;
    let deep = c.execute(RENDERED, vec![]).await?;
    assert!(
        deep["buildings"]["count"].as_u64().unwrap_or(0) > 0,
        "buildings at z18: {deep}"
    );

    // z13: the server leaves buildings and pipelines out of the tiles; roads stay.
    show(c, [lon, lat], 13.0).await?;
    let low = c.execute(RENDERED, vec![]).await?;
    assert_eq!(low["buildings"]["count"], 0, "no buildings at z13");
    assert_eq!(low["pipelines"]["count"], 0, "no pipelines at z13");
    assert!(
        low["roads"]["count"].as_u64().unwrap_or(0) > 0,
        "roads at z13"
    );

    // The network, as Chromium logged it: tiles, and no layer as one GeoJSON file. (MapLibre's
    // worker fetches tiles and GeoJSON, so the page's `performance` resource entries never list
    // them; the NetLog sees every request.)
    b.client.close().await?;
    let origin = server.url("");
    let mut urls = Vec::new();
    for _ in 0..50 {
        urls = netlog_urls(&std::fs::read_to_string(&netlog).unwrap_or_default())
            .into_iter()
            .filter(|u| u.starts_with(&origin))
            .map(|u| u[origin.len()..].to_string())
            .collect();
        if urls.iter().any(|u| u.starts_with("/tiles/buildings/16/")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for prefix in [
        "/tiles/buildings/16/",
        "/tiles/roads/16/",
        "/tiles/pipelines/16/",
        "/tiles/jurisdictions/16/",
        "/tiles/roads/13/",
    ] {
        assert!(
            urls.iter().any(|u| u.starts_with(prefix)),
            "requested {prefix}…: {urls:?}"
        );
    }
    for gone in [
        "/api/v1/map/roads",
        "/api/v1/map/boundaries/community",
        "/api/v1/map/boundaries/grid",
    ] {
        assert!(
            !urls.iter().any(|u| u.starts_with(gone)),
            "{gone} is not loaded"
        );
    }
    for u in urls.iter().filter(|u| u.starts_with("/tiles/")) {
        let parts: Vec<&str> = u.trim_start_matches("/tiles/").split('/').collect();
        let (layer, z) = (parts[0], parts[1].parse::<u64>()?);
        assert!(z <= max_zoom, "{u}: within the served zooms");
        assert!(
            z <= 16,
            "{u}: the map overzooms z16 tiles rather than asking for deeper ones"
        );
        let min = match layer {
            "buildings" | "pipelines" => 14,
            "roads" => 8,
            "pois" | "jurisdictions" => 10,
            other => bail!("{u}: unknown tile layer {other}"),
        };
        assert!(z >= min, "{u}: no request below z{min}");
    }
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn an_open_screen_redraws_after_an_import() -> Result<()> {
    use crate::reload::{import_building, NEW_BUILDING};

    let server = TestServer::start_with(Options {
        reload_interval_ms: 200,
        ..Options::default()
    })
    .await?;
    let (lon, lat, _) = point_in_grid(&server, 60).await?;
    let b = browser().await?;
    let c = &b.client;
    open(c, &server).await?;
    wait_until(
        c,
        "return document.getElementById('map').dataset.mapReady === 'true'",
        60,
        "the map to load",
    )
    .await?;
    show(c, [lon, lat], 16.0).await?;
    let before = c.execute(RENDERED, vec![]).await?;
    let ids = strings(&before["buildings"]["ids"]);
    assert!(!ids.is_empty(), "demo buildings are drawn: {before}");
    assert!(!ids.contains(NEW_BUILDING));

    // The import replaces the buildings layer; the server swaps it in and tells the page, which
    // refetches its tiles. Without that the old tiles would stay drawn until they expire
    // (`max-age=60`), so the wait below stays well under a minute.
    import_building(&server, lon, lat).await;
    wait_until(
        c,
        &format!(
            "return window.onegrid.map.queryRenderedFeatures({{ layers: ['building-fill'] }})\
             .some((f) => String(f.properties.id) === '{NEW_BUILDING}')"
        ),
        40,
        "the imported building to be drawn",
    )
    .await?;
    show(c, [lon, lat], 16.0).await?;
    let after = c.execute(RENDERED, vec![]).await?;
    let ids = strings(&after["buildings"]["ids"]);
    assert_eq!(
        ids,
        BTreeSet::from([NEW_BUILDING.to_string()]),
        "only the imported building is left: {after}"
    );
    b.client.close().await?;
    server.stop().await;
    Ok(())
}

#[tokio::test]
async fn skipped_rules_and_an_incident_no_rule_covers_are_shown_to_the_duty_officer() -> Result<()>
{
    // One rule names a department the district does not have; nothing covers fire hazards.
    let rules = "[[rule]]\nid = \"moon-rule\"\ncategories = [\"garbage\"]\ndepartment = \"moon_office\"\n\n\
                 [[rule]]\nid = \"roads\"\ncategories = [\"damaged_road\"]\ndepartment = \"transport\"\n";
    let server = TestServer::start_with(Options {
        rules: Some(rules.into()),
        ..Options::default()
    })
    .await?;
    let (lon, lat, _) = point_in_grid(&server, 12).await?;
    let fire: Value = server.client().clone()
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "fire_hazard", "lat": lat, "lon": lon, "description": "楼道堆放杂物"}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(fire["responsibility"]["department"], Value::Null, "{fire}");

    let b = browser().await?;
    let c = &b.client;
    open(c, &server).await?;
    let warning = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("button.rules-warning"))
        .await
        .context("the header warns about the rules")?;
    let text = warning.text().await?;
    assert!(text.contains("责任规则需要处理"), "{text}");
    warning.click().await?;
    let panel = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("section.rules-panel"))
        .await?
        .text()
        .await?;
    assert!(panel.contains("moon-rule"), "{panel}");
    assert!(panel.contains("moon_office"), "{panel}");
    assert!(panel.contains("部门名录中不存在"), "{panel}");
    assert!(panel.contains("1 条规则生效"), "{panel}");
    assert!(panel.contains("兜底规则"), "{panel}");
    save_screenshot(c, "rules-warning.png").await?;

    // The incident no rule covers: accepted, and its details say nobody is proposed.
    c.find(Locator::Css("section.rules-panel button.close"))
        .await?
        .click()
        .await?;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(&format!(
            "li.incident[data-incident-id='{}']",
            fire["id"]
        )))
        .await?
        .click()
        .await?;
    let none = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            "section.details .responsibility.review .department.none",
        ))
        .await
        .context("the details say no department is proposed")?
        .text()
        .await?;
    assert!(none.contains("未提出责任部门"), "{none}");
    save_screenshot(c, "no-department.png").await?;
    c.clone().close().await?;
    server.stop().await;
    Ok(())
}

/// A session command chromedriver offers beside the W3C ones: POST `session/{id}/{path}`.
#[derive(Debug)]
struct DriverCommand {
    path: &'static str,
    body: Value,
}

type UrlError = <reqwest::Url as std::str::FromStr>::Err;

impl fantoccini::wd::WebDriverCompatibleCommand for DriverCommand {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, UrlError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or(""),
            self.path
        ))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        (reqwest::Method::POST, Some(self.body.to_string()))
    }
}

/// Collects the page's CSP violations into `window.__cspViolations`; installed through the
/// DevTools protocol so that it runs before any script of the page (and is itself exempt from
/// the page's policy).
const CSP_LISTENER: &str = r#"
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(
        `${e.effectiveDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
"#;

/// Console messages of the browser so far that report a Content-Security-Policy violation (in
/// the page or in a worker).
async fn csp_messages_in_log(client: &Client) -> Result<Vec<String>> {
    let log = client
        .issue_cmd(DriverCommand {
            path: "se/log",
            body: json!({ "type": "browser" }),
        })
        .await?;
    Ok(log
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["message"].as_str())
        .filter(|m| m.contains("Content Security Policy"))
        .map(str::to_string)
        .collect())
}

#[tokio::test]
async fn the_dashboard_hydrates_and_draws_the_map_under_its_content_security_policy() -> Result<()>
{
    let server = TestServer::start().await?;
    let (lon, lat, _) = point_in_grid(&server, 120).await?;
    let incident = post_incident(&server, lon, lat, "路灯不亮").await?;
    let b = browser().await?;
    let c = &b.client;
    c.issue_cmd(DriverCommand {
        path: "goog/cdp/execute",
        body: json!({
            "cmd": "Page.addScriptToEvaluateOnNewDocument",
            "params": { "source": CSP_LISTENER },
        }),
    })
    .await?;
    c.goto(&server.url("/")).await?;

    // Hydrated (the list loads over HTTP), live (the WebSocket is open), the map drawn from
    // tiles fetched by MapLibre's worker.
    wait_until(
        c,
        &format!(
            "return document.querySelector(\"li.incident[data-incident-id='{}']\") !== null",
            incident["id"]
        ),
        30,
        "the incident list after hydration",
    )
    .await?;
    wait_until(
        c,
        "return document.querySelector('.conn[data-conn=live]') !== null",
        20,
        "the live indicator",
    )
    .await?;
    wait_until(
        c,
        "return document.getElementById('map').dataset.mapReady === 'true'",
        60,
        "the map to load",
    )
    .await?;
    show(c, [lon, lat], 16.0).await?;
    let drawn = c.execute(RENDERED, vec![]).await?;
    for layer in ["buildings", "roads"] {
        assert!(
            drawn[layer]["count"].as_u64().unwrap_or(0) > 0,
            "{layer} drawn from tiles: {drawn}"
        );
    }

    let violations = c.execute("return window.__cspViolations", vec![]).await?;
    assert_eq!(violations, json!([]), "no CSP violation in the page");
    let logged = csp_messages_in_log(c).await?;
    assert!(
        logged.is_empty(),
        "no CSP violation in the console: {logged:?}"
    );

    // The policy is in force and the listener hears it: an inline script without the nonce
    // is refused and reported (scripts the driver runs itself are exempt, so it inserts one).
    c.execute(
        "const s = document.createElement('script'); \
         s.textContent = 'window.__inlineRan = true;'; \
         document.head.appendChild(s); return true;",
        vec![],
    )
    .await?;
    wait_until(
        c,
        "return window.__cspViolations.length === 1",
        10,
        "the refused inline script to be reported",
    )
    .await?;
    let ran = c
        .execute("return window.__inlineRan === true", vec![])
        .await?;
    assert_eq!(
        ran,
        json!(false),
        "an inline script without the nonce does not run"
    );
    let violations = c.execute("return window.__cspViolations", vec![]).await?;
    assert!(
        violations[0]
            .as_str()
            .is_some_and(|v| v.starts_with("script-src")),
        "{violations}"
    );
    let logged = csp_messages_in_log(c).await?;
    assert!(!logged.is_empty(), "the console reports violations too");
    b.client.close().await?;
    server.stop().await;
    Ok(())
}
