//! Harness for the black-box tests and the latency benchmark: starts a real onegrid server on
//! port 0 with its own data dir and store, and stops it when dropped.
//!
//! The store is the data dir's SQLite file, or, when `ONEGRID_TEST_DATABASE_URL` names a
//! PostgreSQL server, a database of its own on that server (dropped afterwards).
//!
//! Generating the demo district takes seconds, so it is generated once per test process into a
//! template (a data dir, or a database); each server gets a copy of it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use onegrid_app::wire::Role;
use onegrid_server::accounts::{Accounts, Actor};
use onegrid_server::clock::Clock;
use onegrid_server::store::testing::{test_database_url, TestDatabase};
use onegrid_server::store::{Store, TokenKind};
use onegrid_server::Config;
use tokio::sync::{oneshot, OnceCell};

/// Password of every account the harness creates.
pub const PASSWORD: &str = "test-password-不是默认";

static TEMPLATE: OnceCell<PathBuf> = OnceCell::const_new();
static PG_TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// Where one server keeps its data: a data dir, and, on PostgreSQL, its own database.
pub struct Data {
    dir: tempfile::TempDir,
    database: Option<TestDatabase>,
}

impl Data {
    /// An empty data dir and (on PostgreSQL) an empty database.
    pub async fn empty() -> Result<Data> {
        let dir = tempfile::Builder::new().prefix("onegrid-test-").tempdir()?;
        let database = match test_database_url() {
            Some(admin) => Some(TestDatabase::create(&admin, None).await?),
            None => None,
        };
        Ok(Data { dir, database })
    }

    /// A copy of the demo district's template.
    pub async fn demo() -> Result<Data> {
        let dir = tempfile::Builder::new().prefix("onegrid-test-").tempdir()?;
        let database = match test_database_url() {
            Some(admin) => {
                let template = pg_template(&admin).await?;
                Some(TestDatabase::create(&admin, Some(template)).await?)
            }
            None => {
                let template = template().await?;
                for entry in std::fs::read_dir(template)? {
                    let entry = entry?;
                    std::fs::copy(entry.path(), dir.path().join(entry.file_name()))?;
                }
                None
            }
        };
        Ok(Data { dir, database })
    }

    /// A copy of the demo district's PostgreSQL template (on `ONEGRID_TEST_DATABASE_URL`'s
    /// server, else the local one), whatever the backend under test.
    pub async fn demo_postgres() -> Result<Data> {
        let admin = test_database_url()
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let template = pg_template(&admin).await?;
        Ok(Data {
            dir: tempfile::Builder::new().prefix("onegrid-test-").tempdir()?,
            database: Some(TestDatabase::create(&admin, Some(template)).await?),
        })
    }

    /// A copy of the demo district's SQLite template, whatever the backend under test.
    pub async fn demo_sqlite() -> Result<Data> {
        let dir = tempfile::Builder::new().prefix("onegrid-test-").tempdir()?;
        for entry in std::fs::read_dir(template().await?)? {
            let entry = entry?;
            std::fs::copy(entry.path(), dir.path().join(entry.file_name()))?;
        }
        Ok(Data {
            dir,
            database: None,
        })
    }

    /// An empty PostgreSQL database (on `ONEGRID_TEST_DATABASE_URL`'s server, else the local
    /// one at 127.0.0.1:5432) with a data dir holding a copy of `like`'s rules file.
    pub async fn empty_postgres(like: &Path) -> Result<Data> {
        let admin = test_database_url()
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let dir = tempfile::Builder::new().prefix("onegrid-test-").tempdir()?;
        let rules = like.join("responsibility.toml");
        if rules.exists() {
            std::fs::copy(rules, dir.path().join("responsibility.toml"))?;
        }
        Ok(Data {
            dir,
            database: Some(TestDatabase::create(&admin, None).await?),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The PostgreSQL database's URL, on that backend.
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|d| d.url.as_str())
    }

    /// The store, as the command line would open it.
    pub async fn open_store(&self) -> Result<Store> {
        Ok(Store::open(self.path(), self.database_url()).await?)
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        let Some(db) = self.database.take() else {
            return;
        };
        // Dropped from async code, on a thread of its own so the runtime is not blocked on it.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(db.drop_now());
            }
        })
        .join();
    }
}

/// The demo district saved once per test process into a PostgreSQL database, which each
/// server's database is made from (`CREATE DATABASE … TEMPLATE`).
async fn pg_template(admin: &str) -> Result<&'static str> {
    let name = PG_TEMPLATE
        .get_or_try_init(|| async {
            let db = TestDatabase::create(admin, None).await?;
            let config = Config {
                data_dir: tempfile::tempdir()?.keep(),
                database_url: Some(db.url.clone()),
                seed: SEED,
                ..Config::default()
            };
            let store = onegrid_server::prepare_data_dir(&config)
                .await
                .context("generating the template district in PostgreSQL")?;
            store.close().await;
            let _ = std::fs::remove_dir_all(&config.data_dir);
            // Kept for the life of the process; the next run drops it.
            Ok::<String, anyhow::Error>(db.name.clone())
        })
        .await?;
    Ok(name.as_str())
}

/// Seed of the district every test server uses.
pub const SEED: u64 = 1;

/// The built site (wasm, JS, CSS, assets): `ONEGRID_SITE_DIR`, else `<workspace>/target/site`.
pub fn site_dir() -> PathBuf {
    std::env::var_os("ONEGRID_SITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site"))
}

/// The template outlives its test process (a static is never dropped): each run removes those
/// of processes that have ended, named by their process id.
fn remove_templates_of_ended_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = name.strip_prefix("onegrid-template-") else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let ended = pid.is_none_or(|p| !Path::new(&format!("/proc/{p}")).exists());
        if ended {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

async fn template() -> Result<&'static PathBuf> {
    TEMPLATE
        .get_or_try_init(|| async {
            remove_templates_of_ended_runs();
            let dir = tempfile::Builder::new()
                .prefix(&format!("onegrid-template-{}-", std::process::id()))
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

/// A running server on 127.0.0.1:<random port>, with a logged-in duty officer.
pub struct TestServer {
    pub addr: SocketAddr,
    data_dir: Option<Data>,
    /// The data dir (a replica's is the first server's).
    path: PathBuf,
    database_url: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The runtime of an isolated server ([`Options::isolated`]).
    runtime: Option<tokio::runtime::Runtime>,
    clock: Clock,
    duty: Option<Session>,
}

/// A logged-in caller: an HTTP client that sends its cookie (and our `Origin`) with every
/// request, and the cookie for WebSocket connections.
#[derive(Clone)]
pub struct Session {
    pub client: reqwest::Client,
    /// `name=value` of the session (or screen) cookie.
    pub cookie: String,
    pub username: String,
}

impl Session {
    /// A client for `server` that sends `cookie` and the server's own `Origin`.
    pub fn with_cookie(server: &TestServer, cookie: &str, username: &str) -> Session {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Ok(v) = reqwest::header::HeaderValue::from_str(cookie) {
            headers.insert(reqwest::header::COOKIE, v);
        }
        if let Ok(v) = reqwest::header::HeaderValue::from_str(&server.url("")) {
            headers.insert(reqwest::header::ORIGIN, v);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Session {
            client,
            cookie: cookie.to_string(),
            username: username.to_string(),
        }
    }

    /// Opens the live feed at `url` with this session's cookie.
    pub async fn ws(&self, url: &str) -> WsClient {
        self.try_ws(url).await.expect("websocket connects")
    }

    /// Opens the live feed; the refusal (e.g. 401) as an error.
    pub async fn try_ws(
        &self,
        url: &str,
    ) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request()?;
        if let Ok(v) = self.cookie.parse() {
            request.headers_mut().insert("cookie", v);
        }
        Ok(tokio_tungstenite::connect_async(request).await?.0)
    }
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
    /// Run on a manual clock (starting now) that the test moves with [`TestServer::clock`].
    pub manual_clock: bool,
    /// Run on this clock (a manual one shared with an earlier server, so a restart goes on
    /// at the time it had reached); overrides `manual_clock`.
    pub clock: Option<Clock>,
    /// How often the deadline watch runs, in milliseconds.
    pub deadline_check_interval_ms: u64,
    /// NATS server and stream that carry events between replicas.
    pub bus: Option<(String, String)>,
    /// How often the live feed looks in the store for events it has not had.
    pub catch_up_interval_ms: u64,
    /// Run on a runtime of its own, so that [`TestServer::kill`] ends it as `kill -9` would.
    pub isolated: bool,
    /// Generate the demo district into an empty store at start (as `serve` does by default).
    pub demo: bool,
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
            manual_clock: false,
            clock: None,
            deadline_check_interval_ms: 200,
            bus: None,
            catch_up_interval_ms: Config::default().catch_up_interval_ms,
            isolated: false,
            demo: false,
        }
    }
}

impl TestServer {
    pub async fn start() -> Result<TestServer> {
        TestServer::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Result<TestServer> {
        TestServer::start_in(Data::demo().await?, options).await
    }

    /// Another replica of `first` on the same store: the same PostgreSQL database, or on
    /// SQLite the same file (two processes on one machine).
    pub async fn replica_of(first: &TestServer, options: Options) -> Result<TestServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = first.database_url().map(str::to_string);
        TestServer::launch(listener, first.data_path(), url, options, None).await
    }

    /// A server on `data` as it is (no demo district is generated into it).
    pub async fn start_in(data: Data, options: Options) -> Result<TestServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let path = data.path().to_path_buf();
        let url = data.database_url().map(str::to_string);
        TestServer::launch(listener, &path, url, options, Some(data)).await
    }

    /// A server on `listener` (a port that a killed replica had, say).
    pub async fn start_on(
        listener: tokio::net::TcpListener,
        data: Data,
        options: Options,
    ) -> Result<TestServer> {
        let path = data.path().to_path_buf();
        let url = data.database_url().map(str::to_string);
        TestServer::launch(listener, &path, url, options, Some(data)).await
    }

    async fn launch(
        listener: tokio::net::TcpListener,
        data_path: &Path,
        database_url: Option<String>,
        options: Options,
        data: Option<Data>,
    ) -> Result<TestServer> {
        if let Some(rules) = &options.rules {
            std::fs::write(data_path.join("responsibility.toml"), rules)?;
        }
        let addr = listener.local_addr()?;
        let (bus, bus_stream) = match options.bus.clone() {
            Some((url, stream)) => (Some(url), stream),
            None => (None, Config::default().bus_stream),
        };
        let config = Config {
            addr,
            data_dir: data_path.to_path_buf(),
            database_url: database_url.clone(),
            bus,
            bus_stream,
            catch_up_interval_ms: options.catch_up_interval_ms,
            site_dir: site_dir(),
            seed: SEED,
            demo: options.demo,
            sim: options.sim,
            sim_interval_ms: options.sim_interval_ms,
            ws_queue: options.ws_queue,
            reload_interval_ms: options.reload_interval_ms,
            fallback_department: options.fallback_department,
            deadline_check_interval_ms: options.deadline_check_interval_ms,
            ..Config::default()
        };
        let clock = if let Some(clock) = options.clock.clone() {
            clock
        } else if options.manual_clock {
            Clock::manual(chrono::Utc::now())
        } else {
            Clock::system()
        };
        let (tx, rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel::<String>();
        let server_clock = clock.clone();
        let serve_on = move |listener: tokio::net::TcpListener| async move {
            let result = onegrid_server::run_with_clock(listener, config, server_clock, async {
                let _ = rx.await;
            })
            .await;
            if let Err(e) = result {
                let _ = ready_tx.send(e.to_string());
            }
        };
        // An isolated server runs on a runtime of its own, so that `kill` can end every task
        // it has (connections, timers, the bus consumer) at once.
        let (task, runtime) = if options.isolated {
            let listener = listener.into_std()?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let task = runtime.spawn(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => serve_on(listener).await,
                    Err(e) => eprintln!("isolated server: {e}"),
                }
            });
            (task, Some(runtime))
        } else {
            (tokio::spawn(serve_on(listener)), None)
        };
        let mut server = TestServer {
            addr,
            data_dir: data,
            path: data_path.to_path_buf(),
            database_url,
            shutdown: Some(tx),
            task: Some(task),
            runtime,
            clock,
            duty: None,
        };
        server.wait_ready(ready_rx).await?;
        // On a data dir of an earlier test server the duty officer exists already.
        if let Err(e) = server.add_user("t_duty", Role::DutyOfficer, None).await {
            anyhow::ensure!(e.to_string().contains("exists already"), "{e}");
        }
        server.duty = Some(server.login("t_duty", PASSWORD).await?);
        Ok(server)
    }

    /// The server's clock (manual with [`Options::manual_clock`]).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// An HTTP client logged in as a duty officer (the whole district, may act).
    pub fn client(&self) -> &reqwest::Client {
        &self.duty().client
    }

    /// The duty officer's session.
    pub fn duty(&self) -> &Session {
        self.duty
            .as_ref()
            .expect("the harness logs in a duty officer at start")
    }

    /// Opens the live feed as the duty officer.
    pub async fn ws(&self, query: &str) -> WsClient {
        self.duty().ws(&self.ws_url(query)).await
    }

    /// Runs `f` with the accounts service on the server's store, as the command line would.
    pub async fn with_accounts<T>(
        &self,
        f: impl AsyncFnOnce(&Accounts, &Actor) -> Result<T>,
    ) -> Result<T> {
        let store = self.open_store().await?;
        let accounts = Accounts::new(store.clone(), self.clock.clone(), Default::default());
        let result = f(&accounts, &Actor::command_line("test")).await;
        store.close().await;
        result
    }

    /// Adds an account with [`PASSWORD`].
    pub async fn add_user(&self, name: &str, role: Role, scope: Option<&str>) -> Result<()> {
        self.with_accounts(async |a, me| {
            a.add_user(me, name, role, scope, PASSWORD, false)
                .await
                .map(|_| ())
                .map_err(anyhow::Error::from)
        })
        .await
    }

    /// Logs in over HTTP; the session's client.
    pub async fn login(&self, name: &str, password: &str) -> Result<Session> {
        let r = reqwest::Client::new()
            .post(self.url("/api/v1/session"))
            .header("origin", self.url(""))
            .json(&serde_json::json!({ "username": name, "password": password }))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "login of {name}: {}", r.status());
        let cookie = r
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("onegrid_session="))
            .and_then(|v| v.split(';').next())
            .context("a session cookie")?
            .to_string();
        Ok(Session::with_cookie(self, &cookie, name))
    }

    /// Adds an account and logs it in.
    pub async fn session_for(
        &self,
        name: &str,
        role: Role,
        scope: Option<&str>,
    ) -> Result<Session> {
        self.add_user(name, role, scope).await?;
        self.login(name, PASSWORD).await
    }

    /// A new wall screen's token.
    pub async fn screen_token(&self, name: &str) -> Result<String> {
        self.with_accounts(async |a, me| {
            Ok(a.add_token(me, TokenKind::Screen, name, None).await?.1)
        })
        .await
    }

    /// A wall screen's client (its cookie, as `/screen?token=` sets it).
    pub async fn screen(&self, name: &str) -> Result<Session> {
        let token = self.screen_token(name).await?;
        Ok(Session::with_cookie(
            self,
            &format!("onegrid_screen={token}"),
            name,
        ))
    }

    /// A new API key, optionally limited to a jurisdiction.
    pub async fn api_key(&self, name: &str, scope: Option<&str>) -> Result<String> {
        self.with_accounts(async |a, me| {
            Ok(a.add_token(me, TokenKind::ApiClient, name, scope).await?.1)
        })
        .await
    }

    async fn wait_ready(&self, mut failed: oneshot::Receiver<String>) -> Result<()> {
        let client = reqwest::Client::new();
        // Generating the demo district into an empty PostgreSQL database takes the longest.
        for _ in 0..2400 {
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
        anyhow::bail!("server did not answer /healthz within 120 s")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/ws{}", self.addr, query)
    }

    /// The server's data dir.
    pub fn data_path(&self) -> &Path {
        &self.path
    }

    /// The server's PostgreSQL database, on that backend.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    /// The server's store, opened as the command line would.
    pub async fn open_store(&self) -> Result<Store> {
        Ok(Store::open(self.data_path(), self.database_url()).await?)
    }

    /// Ends the server at once, as `kill -9` would: its task is aborted mid-work, its
    /// connections drop, nothing is shut down in order. Its data stays for another replica.
    pub fn kill(mut self) -> Option<Data> {
        self.shutdown.take();
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        self.data_dir.take()
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(self) {
        self.stop_keeping_data().await;
    }

    /// Stops the server and hands over its data (deleted when the returned value drops).
    pub async fn stop_keeping_data(mut self) -> Option<Data> {
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
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A point well inside one of the district's grids (the mean of the grid's ring vertices, which
/// lies inside for the convex cells of the demo district), with that grid's code.
pub async fn point_in_grid(server: &TestServer, index: usize) -> Result<(f64, f64, String)> {
    let fc: serde_json::Value = server
        .client()
        .get(server.url("/api/v1/map/boundaries/grid"))
        .send()
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
    let r = server
        .client()
        .get(server.url(path))
        .send()
        .await
        .expect("request");
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

/// Opens the live feed at `url` without a login (refused with 401).
pub async fn ws_connect_anonymous(
    url: &str,
) -> Result<WsClient, tokio_tungstenite::tungstenite::Error> {
    Ok(tokio_tungstenite::connect_async(url).await?.0)
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

/// A NATS server with JetStream of the test's own (`nats-server` on a free loopback port, its
/// storage in a temporary folder), which the test can restart.
pub struct Nats {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl Nats {
    pub async fn start() -> Result<Nats> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut nats = Nats {
            port,
            dir: tempfile::Builder::new().prefix("onegrid-nats-").tempdir()?,
            child: None,
        };
        nats.spawn().await?;
        Ok(nats)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) -> Result<()> {
        let binary = [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "nats-server",
        ]
        .into_iter()
        .find(|p| !p.starts_with('/') || Path::new(p).exists())
        .unwrap_or("nats-server");
        let child = std::process::Command::new(binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {binary} (Debian package nats-server)"))?;
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        anyhow::bail!("nats-server did not listen on port {}", self.port)
    }

    /// Kills the server (SIGKILL) and leaves it down.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and storage.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill();
        self.spawn().await
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}
