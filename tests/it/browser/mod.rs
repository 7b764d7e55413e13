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

mod csp;
mod dashboard;
mod scope;
mod tiles;

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
    let (name, value) = cookie.split_once('=').context("name=value")?;
    // Set through the DevTools protocol, as the server's `Set-Cookie` would (HttpOnly,
    // SameSite=Strict); ChromeDriver's own cookie command refuses cookies for an IP address.
    let set = c
        .issue_cmd(DriverCommand {
            path: "goog/cdp/execute",
            body: json!({
                "cmd": "Network.setCookie",
                "params": {
                    "name": name,
                    "value": value,
                    "url": server.url("/"),
                    "path": "/",
                    "httpOnly": true,
                    "sameSite": "Strict",
                },
            }),
        })
        .await?;
    anyhow::ensure!(
        set["success"] != json!(false),
        "the cookie was not set: {set}"
    );
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

/// A session command chromedriver offers beside the W3C ones: POST `session/{id}/{path}`.
#[derive(Debug)]
pub(crate) struct DriverCommand {
    pub(crate) path: &'static str,
    pub(crate) body: Value,
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
