//! The page in a real headless Chromium (software WebGL, so the map really renders): it
//! hydrates, reacts to a click, and shows an incident posted through the API in the list and
//! on the map without a reload; its layout holds at wall, desktop and laptop sizes.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use onegrid_tests::{point_in_grid, TestServer};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

struct Browser {
    client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
}

async fn browser() -> Result<Browser> {
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
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                "--window-size=1920,1080", "--lang=zh-CN",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
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

/// Polls `script` (which returns a boolean) until it is true or `secs` pass.
async fn wait_until(client: &Client, script: &str, secs: u64, what: &str) -> Result<()> {
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
    let v: Value = reqwest::Client::new()
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
    c.goto(&server.url("/")).await?;

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
        c.goto(&server.url("/")).await?;
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
