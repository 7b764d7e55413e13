//! Harness for the black-box tests and the latency benchmark: starts a real onegrid server on
//! port 0 with its own SQLite data dir, and stops it when dropped.
//!
//! Generating the demo district takes seconds, so it is generated once per test process into a
//! template data dir; each server gets a copy of that file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use onegrid_server::Config;
use tokio::sync::{oneshot, OnceCell};

static TEMPLATE: OnceCell<PathBuf> = OnceCell::const_new();

/// Seed of the district every test server uses.
pub const SEED: u64 = 1;

/// The built site (wasm, JS, CSS, assets): `ONEGRID_SITE_DIR`, else `<workspace>/target/site`.
pub fn site_dir() -> PathBuf {
    std::env::var_os("ONEGRID_SITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site"))
}

async fn template() -> Result<&'static PathBuf> {
    TEMPLATE
        .get_or_try_init(|| async {
            let dir = tempfile::Builder::new()
                .prefix("onegrid-template-")
                .tempdir()?
                .keep();
            let config = Config {
                data_dir: dir.clone(),
                seed: SEED,
                ..Config::default()
            };
            let store = onegrid_server::prepare_data_dir(&config)
                .await
                .context("generating the template district")?;
            store.close().await;
            Ok(dir)
        })
        .await
}

/// A running server on 127.0.0.1:<random port>.
pub struct TestServer {
    pub addr: SocketAddr,
    data_dir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// How a test server should run.
#[derive(Debug, Clone)]
pub struct Options {
    pub sim: bool,
    pub sim_interval_ms: u64,
    pub ws_queue: usize,
    /// How often the server checks the store for imported layers.
    pub reload_interval_ms: u64,
    /// `fallback_department` of the server's config.
    pub fallback_department: Option<String>,
    /// A responsibility rules file written into the data dir before the server starts.
    pub rules: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sim: false,
            sim_interval_ms: 4000,
            ws_queue: 1024,
            reload_interval_ms: Config::default().reload_interval_ms,
            fallback_department: None,
            rules: None,
        }
    }
}

impl TestServer {
    pub async fn start() -> Result<TestServer> {
        TestServer::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Result<TestServer> {
        let template = template().await?;
        let data_dir = tempfile::Builder::new().prefix("onegrid-test-").tempdir()?;
        for entry in std::fs::read_dir(template)? {
            let entry = entry?;
            std::fs::copy(entry.path(), data_dir.path().join(entry.file_name()))?;
        }
        TestServer::start_in(data_dir, options).await
    }

    /// A server on `data_dir` as it is (no demo district is generated into it).
    pub async fn start_in(data_dir: tempfile::TempDir, options: Options) -> Result<TestServer> {
        if let Some(rules) = &options.rules {
            std::fs::write(data_dir.path().join("responsibility.toml"), rules)?;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let config = Config {
            addr,
            data_dir: data_dir.path().to_path_buf(),
            site_dir: site_dir(),
            seed: SEED,
            demo: false,
            sim: options.sim,
            sim_interval_ms: options.sim_interval_ms,
            ws_queue: options.ws_queue,
            reload_interval_ms: options.reload_interval_ms,
            fallback_department: options.fallback_department,
            ..Config::default()
        };
        let (tx, rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel::<String>();
        let task = tokio::spawn(async move {
            let result = onegrid_server::run(listener, config, async {
                let _ = rx.await;
            })
            .await;
            if let Err(e) = result {
                let _ = ready_tx.send(e.to_string());
            }
        });
        let server = TestServer {
            addr,
            data_dir: Some(data_dir),
            shutdown: Some(tx),
            task: Some(task),
        };
        server.wait_ready(ready_rx).await?;
        Ok(server)
    }

    async fn wait_ready(&self, mut failed: oneshot::Receiver<String>) -> Result<()> {
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(msg) = failed.try_recv() {
                anyhow::bail!("server failed to start: {msg}");
            }
            if let Ok(r) = client.get(self.url("/healthz")).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        anyhow::bail!("server did not answer /healthz within 30 s")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/ws{}", self.addr, query)
    }

    /// The server's data dir.
    pub fn data_path(&self) -> &Path {
        self.data_dir
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(Path::new(""))
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(self) {
        self.stop_keeping_data().await;
    }

    /// Stops the server and hands over its data dir (deleted when the returned value drops).
    pub async fn stop_keeping_data(mut self) -> Option<tempfile::TempDir> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
        }
        self.data_dir.take()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A point well inside one of the district's grids (the mean of the grid's ring vertices, which
/// lies inside for the convex cells of the demo district), with that grid's code.
pub async fn point_in_grid(server: &TestServer, index: usize) -> Result<(f64, f64, String)> {
    let fc: serde_json::Value = reqwest::get(server.url("/api/v1/map/boundaries/grid"))
        .await?
        .json()
        .await?;
    let feature = &fc["features"][index];
    let code = feature["properties"]["code"]
        .as_str()
        .context("grid code")?
        .to_string();
    let ring = feature["geometry"]["coordinates"][0][0]
        .as_array()
        .context("grid ring")?;
    let n = ring.len() - 1;
    let (mut lon, mut lat) = (0.0, 0.0);
    for p in &ring[..n] {
        lon += p[0].as_f64().context("lon")?;
        lat += p[1].as_f64().context("lat")?;
    }
    Ok((lon / n as f64, lat / n as f64, code))
}

/// GETs `path` from `server`: the status and the JSON body.
pub async fn get(server: &TestServer, path: &str) -> (reqwest::StatusCode, serde_json::Value) {
    let r = reqwest::get(server.url(path)).await.expect("request");
    let status = r.status();
    (status, r.json().await.expect("JSON body"))
}

/// Asserts that an answer (`status`, `body`) is the error `expected` with the body
/// `{"error":{"code": code, "message": <not empty>}}`. `case` names the request in a failure.
#[track_caller]
pub fn assert_error(
    case: &str,
    status: reqwest::StatusCode,
    body: &serde_json::Value,
    expected: reqwest::StatusCode,
    code: &str,
) {
    assert_eq!(status, expected, "{case}: status; body: {body}");
    assert_eq!(
        body["error"]["code"], code,
        "{case}: error code; body: {body}"
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{case}: error message; body: {body}");
}

/// A WebSocket client of the live feed.
pub type WsClient =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn ws_connect(url: &str) -> WsClient {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects")
        .0
}

/// The next JSON message that is not a heartbeat, within `secs` seconds.
pub async fn next_message(ws: &mut WsClient, secs: u64) -> serde_json::Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(secs), ws.next())
            .await
            .unwrap_or_else(|_| panic!("a message within {secs} s"))
            .expect("stream open")
            .expect("no error");
        if let Message::Text(text) = msg {
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON message");
            if v["type"] != "heartbeat" {
                return v;
            }
        }
    }
}
