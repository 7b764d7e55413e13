//! Hostile input: every JSON body, query string and path segment of the HTTP API gets wrong
//! types, odd and huge numbers, long, unicode and control-character strings, nested JSON,
//! missing, repeated and unknown fields, and raw bytes, against one real server per test.
//! Every answer must be below 500; a 4xx must be `{"error":{"code","message"}}`; no body may
//! show the server's insides (a panic, SQL, a file path); a write that succeeded must be visible
//! afterwards and one that was refused must leave nothing behind; and the server must still be
//! healthy after each property.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use onegrid_app::wire::Role;
use onegrid_server::tiles::tile_at;
use onegrid_tests::{point_in_grid, TestServer, PASSWORD};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence, Index};
use proptest::test_runner::{Config, TestCaseError as Failure, TestError, TestRunner};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

/// Cases per property.
const CASES: u32 = 64;
/// Longest generated string in a body, in bytes of JSON.
const BODY_LONG: usize = 100_000;
/// Longest generated string in a query or path, in bytes once percent-encoded: a request line
/// must stay under 64 KiB.
const QUERY_LONG: usize = 30_000;
/// Text that only the server's insides would put in an answer (unless the request said it).
#[rustfmt::skip]
const LEAKS: [&str; 10] = [
    "panicked", "SELECT ", "INSERT ", "UPDATE ", "sqlite", "SQLite", "/work/", "/tmp/", ".rs:",
    "RUST_BACKTRACE",
];
/// Strings that parsers, validators and SQL tend to get wrong.
#[rustfmt::skip]
const SPECIAL: [&str; 57] = [
    "", " ", "0", "-0", "-1", "+1", "01", "1.5", "1e3", "1e309", "-1e309", "NaN", "nan", "inf",
    "-inf", "Infinity", "0x10", "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "18446744073709551616", "4294967296", "null", "true", "[]", "{}",
    "\"\"", "reported", "garbage", "grid", "buildings,roads", "csv", "json", "user:t_duty",
    "incident.", "login_failed", "'; DROP TABLE incidents; --", "' OR '1'='1", "%00", "\0",
    "\r\n", "\u{202e}abc", "\u{feff}", "𝕏😀", "井盖破损", "../../etc/passwd", "a/b", "?#&=",
    "<script>alert(1)</script>", "2026-12-01T00:00:00+08:00", "2026-13-45T99:99:99Z",
    "+275760-09-13T00:00:00Z", "9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+23:59",
    "1970-01-01T00:00:00.000000000001Z", "2026-02-30T00:00:00Z", "\u{7f}\u{1b}[2J",
];
/// Content types a JSON body is sent with besides `application/json`.
#[rustfmt::skip]
const MEDIA: [Option<&str>; 8] = [
    None, Some("text/plain"), Some("application/json; charset=utf-8"),
    Some("application/json; charset=utf-16"), Some("APPLICATION/JSON"),
    Some("application/problem+json"), Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=x"),
];
const JSON: Option<&str> = Some("application/json");

type Strings = BoxedStrategy<String>;
/// A query string or path segment: percent-encoded, and as plain text.
type Part = (String, String);
/// A route's fields (body) or parameters (query), each with the strategy of a good value.
type Fields = Vec<(&'static str, Strings)>;

/// A request body: its bytes and the content type they are sent with.
#[derive(Clone, Debug)]
struct Body(Vec<u8>, Option<&'static str>);

/// A GET (no body) or POST of `path`; `plain` is its query or segments as plain text.
#[derive(Clone)]
struct Req {
    path: String,
    plain: String,
    body: Option<Body>,
}

fn get(path: &str, (encoded, plain): Part) -> Req {
    let (path, body) = (format!("{path}{encoded}"), None);
    Req { path, plain, body }
}

fn post(path: &str, body: Body) -> Req {
    let (path, plain, body) = (path.to_string(), String::new(), Some(body));
    Req { path, plain, body }
}

impl Req {
    /// All the request says, for telling an echo from a leak.
    fn input(&self) -> String {
        let body = self.body.as_ref().map(|b| String::from_utf8_lossy(&b.0));
        format!("{} {}", self.plain, body.unwrap_or_default())
    }
}

impl std::fmt::Debug for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let method = if self.body.is_some() { "POST" } else { "GET" };
        write!(f, "{method} {:?}", clip(&self.path))?;
        if let Some(Body(bytes, content_type)) = &self.body {
            let text = clip(&String::from_utf8_lossy(bytes));
            write!(f, " content-type {content_type:?} body {text:?}")?;
        }
        Ok(())
    }
}

fn pct(bytes: &[u8]) -> String {
    let keep = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    let each = |&b: &u8| match keep(b) {
        true => (b as char).to_string(),
        false => format!("%{b:02X}"),
    };
    bytes.iter().map(each).collect()
}

/// One path segment. A client resolves `.` and `..` (even encoded) before sending, so those two
/// get a suffix.
fn segment_part(s: &str) -> Part {
    let dots = s == "." || s == "..";
    let plain = s.to_string() + if dots { "x" } else { "" };
    (pct(plain.as_bytes()), plain)
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(600) {
        None => s.to_string(),
        Some((at, _)) => format!("{}… ({} bytes)", &s[..at], s.len()),
    }
}

fn fail(message: impl Into<String>) -> Failure {
    Failure::fail(message.into())
}

fn json_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

// ------------------------------------------------------------------------------------ inputs

/// Numbers as text: extreme integers, floats, and out-of-range exponents.
fn numbers() -> Strings {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        (1usize..400).prop_map(|n| format!("1{}", "0".repeat(n))),
        (-1000i32..1000, -400i32..400).prop_map(|(m, e)| format!("{m}e{e}")),
    ]
    .boxed()
}

/// A hostile string; a long one is at most `long` bytes once encoded (`width` bytes a char).
fn hostile(long: usize, width: fn(char) -> usize) -> Strings {
    let repeat = move |(c, n): (char, usize)| c.to_string().repeat((n / width(c)).max(1));
    prop_oneof![
        3 => select(SPECIAL.to_vec()).prop_map(String::from),
        3 => any::<String>(),
        2 => vec(any::<char>(), 0..40).prop_map(String::from_iter),
        2 => numbers(),
        1 => (any::<char>(), 1..=long).prop_map(repeat),
    ]
    .boxed()
}

fn json_width(c: char) -> usize {
    json_str(&c.to_string()).len() - 2
}

fn short() -> Strings {
    hostile(64, json_width)
}

fn body_string() -> Strings {
    hostile(BODY_LONG, json_width)
}

fn query_string() -> Strings {
    hostile(QUERY_LONG, |c| 3 * c.len_utf8())
}

/// Any JSON value, nested a few levels, with short strings.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        short().prop_map(Value::from),
    ];
    let object = |kv: Vec<(String, Value)>| Value::Object(kv.into_iter().collect());
    let tree = move |inner: BoxedStrategy<Value>| {
        let array = vec(inner.clone(), 0..5).prop_map(Value::Array);
        prop_oneof![array, vec((short(), inner), 0..5).prop_map(object)]
    };
    leaf.prop_recursive(4, 24, 5, tree).boxed()
}

/// JSON text of a field's value: any value, a hostile string, a number JSON cannot hold or no
/// JSON number at all, or a deep nest.
fn json_text() -> Strings {
    let odd = ["NaN", "-Infinity", "1.", ".5", "-", "0x1", "1e99999", "'a'"];
    let nest = |(n, object): (usize, bool)| match object {
        true => format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)),
        false => format!("{}{}", "[".repeat(n), "]".repeat(n)),
    };
    prop_oneof![
        4 => json_value().prop_map(|v| v.to_string()),
        3 => body_string().prop_map(|s| json_str(&s)),
        1 => numbers(),
        1 => select(odd.to_vec()).prop_map(String::from),
        1 => (1usize..3000, any::<bool>()).prop_map(nest),
    ]
    .boxed()
}

/// The fields, each good, missing or `bad`, maybe one repeated and a few unknown ones.
fn fields(fields: Fields, bad: fn() -> Strings) -> BoxedStrategy<Vec<Part>> {
    let each = |(name, good): (&'static str, Strings)| {
        let named = move |v: String| Some((name.to_string(), v));
        prop_oneof![6 => good.prop_map(named), 1 => Just(None), 2 => bad().prop_map(named)]
    };
    let each: Vec<_> = fields.into_iter().map(each).collect();
    let extras = prop_oneof![3 => Just(Vec::new()), 1 => vec((short(), bad()), 1..3)];
    let all = |(each, extras, repeat): (Vec<Option<Part>>, Vec<Part>, bool)| {
        let mut pairs: Vec<Part> = each.into_iter().flatten().collect();
        if let (true, Some(first)) = (repeat, pairs.first().cloned()) {
            pairs.push(first);
        }
        pairs.extend(extras);
        pairs
    };
    let repeat = prop::bool::weighted(0.1);
    (each, extras, repeat).prop_map(all).boxed()
}

/// POSTs to `path` of a body with the fields `good` (JSON text): mostly an object of them, else
/// another JSON value, raw bytes, a cut or damaged object, or an object as another media type.
fn posts(path: &'static str, good: Fields) -> BoxedStrategy<Req> {
    let object = |pairs: Vec<Part>| {
        let pairs: Vec<String> = pairs.iter().map(|(k, v)| json_str(k) + ":" + v).collect();
        format!("{{{}}}", pairs.join(","))
    };
    let object = fields(good, json_text).prop_map(object).boxed();
    let cut = |(b, at): (Vec<u8>, Index)| Body(b[..at.index(b.len() + 1)].to_vec(), JSON);
    let cut = (object.clone().prop_map(String::into_bytes), any::<Index>()).prop_map(cut);
    let body = prop_oneof![
        8 => object.clone().prop_map(|t| Body(t.into_bytes(), JSON)),
        1 => json_text().prop_map(|t| Body(t.into_bytes(), JSON)),
        1 => vec(any::<u8>(), 0..2048).prop_map(|b| Body(b, JSON)),
        1 => cut,
        1 => (object, select(MEDIA.to_vec())).prop_map(|(t, m)| Body(t.into_bytes(), m)),
    ];
    body.prop_map(move |b| post(path, b)).boxed()
}

/// GETs of `path?` a query with the parameters `good`, or of arbitrary pieces, bytes and
/// separators.
fn query(path: &'static str, good: Fields) -> BoxedStrategy<Req> {
    let pairs = |pairs: Vec<Part>| -> Part {
        let join = |f: &dyn Fn(&str) -> String| {
            let parts: Vec<String> = pairs.iter().map(|(k, v)| f(k) + "=" + &f(v)).collect();
            parts.join("&")
        };
        (join(&|s| pct(s.as_bytes())), join(&|s| s.to_string()))
    };
    let bytes = |b: Vec<u8>| (pct(&b), String::from_utf8_lossy(&b).into_owned());
    let separators = select(vec!["&", "=", "+"]).prop_map(|s| (s.to_string(), s.to_string()));
    let piece = prop_oneof![separators, vec(any::<u8>(), 0..24).prop_map(bytes)];
    let raw = |pieces: Vec<Part>| -> Part {
        let (encoded, plain): (Vec<String>, Vec<String>) = pieces.into_iter().unzip();
        (encoded.concat(), plain.concat())
    };
    let structured = fields(good, query_string).prop_map(pairs);
    let raw = vec(piece, 0..12).prop_map(raw);
    let at = move |part: Part| get(&format!("{path}?"), part);
    prop_oneof![6 => structured, 1 => raw].prop_map(at).boxed()
}

/// GETs of `path` + a segment: `good` mostly, else hostile.
fn segment(path: &'static str, good: Strings) -> BoxedStrategy<Req> {
    let at = move |s: String| get(path, segment_part(&s));
    let segments = prop_oneof![2 => good, 1 => query_string()];
    segments.prop_map(at).boxed()
}

/// The good values `values` as they are, or as JSON strings.
fn text_of(values: &[&'static str]) -> Strings {
    select(values.to_vec()).prop_map(String::from).boxed()
}

fn json_of(values: &[&'static str]) -> Strings {
    select(values.to_vec()).prop_map(json_str).boxed()
}

fn near(x: f64) -> Strings {
    let near = move |d: f64| (x + d).to_string();
    (-1e-4..1e-4f64).prop_map(near).boxed()
}

fn up_to(n: u32) -> Strings {
    (0..=n).prop_map(|n| n.to_string()).boxed()
}

// ----------------------------------------------------------------------------------- running

/// One server, the runtime it runs on, and the client the requests are sent as.
struct Bench {
    server: TestServer,
    rt: tokio::runtime::Runtime,
    duty: Client,
    client: RefCell<Client>,
}

/// An answer as the checks read it.
struct Answer {
    status: StatusCode,
    content_type: String,
    cookie: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Result<Value, Failure> {
        serde_json::from_slice(&self.body).map_err(|e| fail(format!("a JSON body: {e}")))
    }
}

/// A client that sends `cookie` and our Origin, on a new connection for every request: after
/// refusing a large body it did not read, the server closes the connection without saying so,
/// and a reused one would fail the next request.
fn client(server: &TestServer, cookie: &str) -> Client {
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, HeaderValue::from_str(cookie).expect("a cookie"));
    let origin = server.url("");
    headers.insert(ORIGIN, HeaderValue::from_str(&origin).expect("an origin"));
    let client = Client::builder().default_headers(headers);
    client.pool_max_idle_per_host(0).build().expect("a client")
}

impl Bench {
    fn start() -> Bench {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        let server = rt.block_on(TestServer::start()).expect("server");
        let duty = client(&server, &server.duty().cookie);
        let client = RefCell::new(duty.clone());
        Bench {
            server,
            rt,
            duty,
            client,
        }
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Sends requests as the client of the session `cookie` from now on.
    fn act_as(&self, cookie: Option<&str>) -> Result<(), Failure> {
        let cookie = cookie.ok_or_else(|| fail("a session cookie"))?;
        *self.client.borrow_mut() = client(&self.server, cookie);
        Ok(())
    }

    /// Sends [`CASES`] requests of `strategy`; each answer must pass [`check`] and then `after`.
    /// A failure names the smallest request that fails. Then the server must still be healthy.
    fn prop(
        &self,
        name: &str,
        strategy: impl Strategy<Value = Req>,
        after: impl AsyncFn(&Req, &Answer) -> Result<(), Failure>,
    ) {
        let strategy = strategy.prop_filter("a URI within 64 KiB", |r| r.path.len() < 60_000);
        let mut config = Config::with_cases(CASES);
        (config.failure_persistence, config.max_shrink_iters) = (None, 256);
        let case = |req: Req| {
            self.block_on(async {
                let a = self.send(&req).await?;
                check(&format!("{name}: {}", clip(&req.path)), &req.input(), &a)?;
                after(&req, &a).await
            })
        };
        match TestRunner::new(config).run(&strategy, case) {
            Ok(()) => {}
            Err(TestError::Fail(why, req)) => panic!("{why}\nsmallest failing request: {req:?}"),
            Err(e) => panic!("{name}: {e}"),
        }
        let health = self.block_on(self.fetch("/healthz"));
        assert!(health.is_ok(), "{name}: the server still answers /healthz");
    }

    async fn send(&self, req: &Req) -> Result<Answer, Failure> {
        let client = self.client.borrow().clone();
        send(&client, &self.server, req).await
    }

    /// GETs `path` as the duty officer: it must be 200 with JSON.
    async fn fetch(&self, path: impl AsRef<str>) -> Result<Value, Failure> {
        let path = path.as_ref();
        let a = send(&self.duty, &self.server, &get(path, Part::default())).await?;
        prop_assert_eq!(a.status, StatusCode::OK, "GET {}", path);
        a.json()
    }

    fn stop(self) {
        self.rt.block_on(self.server.stop());
    }
}

async fn send(client: &Client, server: &TestServer, req: &Req) -> Result<Answer, Failure> {
    let url = server.url(&req.path);
    let request = match &req.body {
        None => client.get(url),
        Some(Body(bytes, None)) => client.post(url).body(bytes.clone()),
        Some(Body(bytes, Some(t))) => client
            .post(url)
            .body(bytes.clone())
            .header(CONTENT_TYPE, *t),
    };
    let answer = async {
        let r = request.send().await?;
        let header = |v: &HeaderValue| v.to_str().unwrap_or_default().to_string();
        let content_type = r.headers().get(CONTENT_TYPE).map(header);
        let content_type = content_type.unwrap_or_default();
        let mut cookies = r.headers().get_all(SET_COOKIE).iter().map(header);
        let cookie = cookies.find(|v| v.starts_with("onegrid_session="));
        let cookie = cookie.and_then(|v| Some(v.split(';').next()?.to_string()));
        let status = r.status();
        let body = r.bytes().await?.to_vec();
        Ok::<_, reqwest::Error>(Answer {
            status,
            content_type,
            cookie,
            body,
        })
    };
    match tokio::time::timeout(Duration::from_secs(30), answer).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(fail(format!("no answer: {e}"))),
        Err(_) => Err(fail("no answer within 30 s")),
    }
}

/// What every answer must be; `input` is all the request said.
fn check(what: &str, input: &str, a: &Answer) -> Result<(), Failure> {
    let (text, status, t) = (String::from_utf8_lossy(&a.body), a.status, &a.content_type);
    let shown = clip(&text);
    prop_assert!(!status.is_server_error(), "{what}: {status} {shown}");
    if status.is_client_error() {
        let not_json = |_| fail(format!("{what}: {status} ({t}), not JSON: {shown:?}"));
        let v: Value = serde_json::from_slice(&a.body).map_err(not_json)?;
        let filled = |s: &Value| s.as_str().is_some_and(|s| !s.is_empty());
        let error = filled(&v["error"]["code"]) && filled(&v["error"]["message"]);
        prop_assert!(error, "{what}: {status} without code and message: {shown}");
    }
    let input = input.to_lowercase();
    for leak in LEAKS {
        let leaked = text.contains(leak) && !input.contains(&leak.to_lowercase());
        prop_assert!(!leaked, "{what}: the answer shows {leak:?}: {shown}");
    }
    Ok(())
}

/// A 2xx read carries what its content type says: JSON, a CSV with its header, or a tile.
async fn sound(_: &Req, a: &Answer) -> Result<(), Failure> {
    match a.content_type.as_str() {
        _ if !a.status.is_success() => Ok(()),
        "application/json" | "application/geo+json" => a.json().map(|_| ()),
        "text/csv; charset=utf-8" if a.body.starts_with("\u{feff}id,at".as_bytes()) => Ok(()),
        "application/vnd.mapbox-vector-tile" => Ok(()),
        other => Err(fail(format!("{} with {other:?}", a.status))),
    }
}

/// Starts a server and reports a good incident in one of its grids.
fn start_with_incident(grid: usize) -> (Bench, f64, f64, Value) {
    let bench = Bench::start();
    let point = bench.block_on(point_in_grid(&bench.server, grid));
    let (lon, lat, _) = point.expect("a grid");
    let body = json!({"category": "garbage", "lat": lat, "lon": lon, "description": "垃圾"});
    let body = Body(body.to_string().into_bytes(), JSON);
    let created = bench.block_on(bench.send(&post("/api/v1/incidents", body)));
    let created = created.and_then(|a| a.json()).expect("an incident");
    (bench, lon, lat, created)
}

// ------------------------------------------------------------------------------------ writes

#[test]
fn incident_reports() {
    let (bench, lon, lat, _) = start_with_incident(5);
    let text = || prop_oneof![Just("积水".into()), body_string()].prop_map(|s| json_str(&s));
    let categories = json_of(&["garbage", "waterlogging", "fallen_tree"]);
    let good: Fields = vec![
        ("category", categories),
        ("lat", near(lat)),
        ("lon", near(lon)),
        ("description", text().boxed()),
        ("reporter", text().boxed()),
    ];
    let created = RefCell::new(1);
    let reports = posts("/api/v1/incidents", good);
    bench.prop("POST /api/v1/incidents", reports, async |_, a| {
        if a.status.is_success() {
            prop_assert_eq!(a.status, StatusCode::CREATED);
            let v = a.json()?;
            let back = bench.fetch(format!("/api/v1/incidents/{}", v["id"]));
            prop_assert_eq!(back.await?, v, "a new incident reads back");
            *created.borrow_mut() += 1;
        }
        let list = bench.fetch("/api/v1/incidents?limit=1000").await?;
        let n = list.as_array().map_or(0, Vec::len);
        prop_assert!(n == *created.borrow(), "a refusal leaves nothing: {n}");
        Ok(())
    });
    bench.stop();
}

#[test]
fn case_actions() {
    let (bench, _, _, incident) = start_with_incident(7);
    let target = format!("/api/v1/incidents/{}", incident["id"]);
    let expected = RefCell::new(incident.clone());
    let seq = u32::try_from(incident["seq"].as_i64().expect("seq")).expect("a small seq");
    let good: Fields = vec![
        (
            "action",
            json_of(&["triage", "reject", "close", "reopen", "dispatch", "merge"]),
        ),
        ("seq", up_to(seq + 2)),
        ("reason", json_of(&["重复上报", ""])),
        ("note", json_of(&["现场核实"])),
    ];
    let own = Just(incident["id"].to_string());
    let id = prop_oneof![3 => own, 1 => numbers(), 1 => query_string()];
    let at = |(id, body): (String, Req)| {
        let path = format!("/api/v1/incidents/{}/actions", segment_part(&id).0);
        let plain = id;
        Req {
            path,
            plain,
            ..body
        }
    };
    let changes = (id, posts("", good)).prop_map(at);
    bench.prop("POST …/{id}/actions", changes, async |_, a| {
        if a.status.is_success() {
            let v = a.json()?;
            let back = bench.fetch(format!("/api/v1/incidents/{}", v["id"]));
            prop_assert_eq!(&back.await?, &v, "the new state reads back");
            if v["id"] == incident["id"] {
                *expected.borrow_mut() = v;
            }
        }
        let now = bench.fetch(&target).await?;
        prop_assert!(
            now == *expected.borrow(),
            "a refused change leaves it: {now}"
        );
        Ok(())
    });
    bench.stop();
}

#[test]
fn logins() {
    let bench = Bench::start();
    let users = json_of(&["t_duty", " t_duty ", "T_DUTY", "nobody"]);
    let password = Just(json_str(PASSWORD)).boxed();
    let good: Fields = vec![("username", users), ("password", password)];
    // Without a cookie. After five failures from one address every login is throttled (429),
    // which is an answer too.
    *bench.client.borrow_mut() = client(&bench.server, "");
    let logins = posts("/api/v1/session", good);
    let me = get("/api/v1/session", Part::default());
    bench.prop("POST /api/v1/session", logins, async |_, a| {
        if a.status.is_success() {
            let session = client(&bench.server, a.cookie.as_deref().unwrap_or_default());
            let who = send(&session, &bench.server, &me).await?;
            prop_assert_eq!(who.status, StatusCode::OK, "the new session is live");
        }
        Ok(())
    });
    bench.stop();
}

#[test]
fn password_changes() {
    const PATH: &str = "/api/v1/session/password";
    let bench = Bench::start();
    let user = bench.block_on(bench.server.session_for("p_pw", Role::DutyOfficer, None));
    let user = user.expect("a user").cookie;
    bench.act_as(Some(&user)).expect("a cookie");
    let new = "[a-zA-Z0-9 ]{10,40}".prop_map(|s| json_str(&s)).boxed();
    let current = Just(json_str(PASSWORD)).boxed();
    let good: Fields = vec![("current_password", current), ("new_password", new)];
    let me = get("/api/v1/session", Part::default());
    let changes = posts(PATH, good);
    bench.prop("POST /api/v1/session/password", changes, async |req, a| {
        if a.status.is_success() {
            let old = bench.send(&me).await?;
            prop_assert_eq!(old.status, StatusCode::UNAUTHORIZED, "the old session ends");
            let sent: Value =
                serde_json::from_str(req.input().trim()).map_err(|e| fail(e.to_string()))?;
            let new = sent["new_password"].as_str().unwrap_or_default();
            let fresh = bench.server.login("p_pw", new).await;
            prop_assert!(fresh.is_ok(), "the new password logs in: {:?}", fresh.err());
            // Back to the password the generated bodies know, in the session just started.
            bench.act_as(a.cookie.as_deref())?;
            let back = json!({"current_password": new, "new_password": PASSWORD}).to_string();
            let back = post(PATH, Body(back.into_bytes(), JSON));
            let back = bench.send(&back).await?;
            prop_assert_eq!(back.status, StatusCode::NO_CONTENT, "back to the old");
            bench.act_as(back.cookie.as_deref())?;
        }
        let who = bench.send(&me).await?;
        prop_assert_eq!(who.status, StatusCode::OK, "the caller's session is live");
        Ok(())
    });
    bench.stop();
}

// ------------------------------------------------------------------------------------- reads

#[test]
fn reads() {
    let (bench, lon, lat, _) = start_with_incident(9);
    let statuses = text_of(&["reported", "dispatched", "resolved", ""]);
    let list: Fields = vec![("limit", up_to(1001)), ("status", statuses)];
    let layers = vec!["buildings", "roads", "pipelines", "pois", " roads"];
    let layers = subsequence(layers, 0..=5);
    let layers = layers.prop_map(|l| l.join(",")).boxed();
    let radius = (-10.0..2010.0f64).prop_map(|r| r.to_string()).boxed();
    let at = (("lat", near(lat)), ("lon", near(lon)));
    let nearby = || -> Fields {
        let (radius, layers) = (("radius_m", radius.clone()), ("layers", layers.clone()));
        vec![at.0.clone(), at.1.clone(), radius, layers]
    };
    let levels = text_of(&["district", "street", "community", "grid", "grid.geojson"]);
    let since: Fields = vec![("since", numbers())];
    #[rustfmt::skip]
    let routes = [
        ("GET /api/v1/incidents", query("/api/v1/incidents", list)),
        ("GET /api/v1/incidents/{id}", segment("/api/v1/incidents/", text_of(&["1", "2", "0"]))),
        ("GET /api/v1/spatial/nearby", query("/api/v1/spatial/nearby", nearby())),
        ("GET /api/v1/spatial/nearby.geojson", query("/api/v1/spatial/nearby.geojson", nearby())),
        ("GET /api/v1/spatial/locate", query("/api/v1/spatial/locate", vec![at.0.clone(), at.1.clone()])),
        ("GET /api/v1/map/boundaries/{level}", segment("/api/v1/map/boundaries/", levels)),
        ("GET /tiles/{layer}/{z}/{x}/{y}", tiles(lon, lat)),
        ("GET /ws (no upgrade)", query("/ws", since)),
    ];
    for (name, strategy) in routes {
        bench.prop(name, strategy, sound);
    }
    bench.stop();
}

/// Tile paths near the point, each segment good or hostile.
fn tiles(lon: f64, lat: f64) -> BoxedStrategy<Req> {
    let layers = vec!["buildings", "roads", "pipelines", "pois", "jurisdictions"];
    let good = move |(layer, z, dx, dy, mvt): (&str, u8, i64, i64, bool)| {
        let (x, y) = tile_at(lon, lat, z);
        let (x, y) = (i64::from(x) + dx, i64::from(y) + dy);
        let y = format!("{y}{}", if mvt { ".mvt" } else { "" });
        [layer, &z.to_string(), &x.to_string(), &y].map(str::to_string)
    };
    let mvt = prop::bool::weighted(0.9);
    let good = (select(layers), 0u8..=24, -1i64..=1, -1i64..=1, mvt).prop_map(good);
    let bad = || prop_oneof![3 => Just(None), 1 => query_string().prop_map(Some)];
    let at = |(good, bad): ([String; 4], [Option<String>; 4])| {
        let part = |(g, b): (String, Option<String>)| segment_part(&b.unwrap_or(g));
        let parts = good.into_iter().zip(bad).map(part);
        let (encoded, plain): (Vec<String>, Vec<String>) = parts.unzip();
        get("/tiles/", (encoded.join("/"), plain.join("/")))
    };
    (good, [bad(), bad(), bad(), bad()]).prop_map(at).boxed()
}

#[test]
fn audit_queries() {
    let bench = Bench::start();
    let admin = bench.block_on(bench.server.session_for("p_admin", Role::Admin, None));
    let admin = admin.expect("an admin").cookie;
    bench.act_as(Some(&admin)).expect("a cookie");
    let rfc3339 = |(s, m): (i64, i32)| {
        let offset = chrono::FixedOffset::east_opt(m * 60).expect("an offset");
        let t = chrono::DateTime::from_timestamp(s, 0).expect("a time");
        t.with_timezone(&offset).to_rfc3339()
    };
    let years_1_to_9999 = -62_135_596_800i64..253_402_300_799;
    let offsets = -1439i32..=1439;
    let time = || (years_1_to_9999.clone(), offsets.clone());
    let time = || time().prop_map(rfc3339).boxed();
    let actors = text_of(&["user:t_duty", "user:p_admin", "system", ""]);
    let actions = text_of(&["incident.", "login_failed", "user.", "."]);
    let good: Fields = vec![
        ("from", time()),
        ("to", time()),
        ("actor", actors),
        ("action", actions),
        ("limit", up_to(10_001)),
        ("before", numbers()),
        ("format", text_of(&["json", "csv", ""])),
    ];
    bench.prop("GET /api/v1/audit", query("/api/v1/audit", good), sound);
    bench.stop();
}

/// A path under `/tiles/` without the tile route's shape is an unknown tile: 404 in JSON, like
/// every other answer of the API (not the plain-text 404 of the pages).
#[test]
fn tile_paths_of_another_shape_answer_in_json() {
    let bench = Bench::start();
    let paths = [
        "/tiles/buildings/0/0/",
        "/tiles/buildings/0/0",
        "/tiles/a/b/c/d/e",
    ];
    for path in paths {
        let a = bench.block_on(bench.send(&get(path, Part::default())));
        let checked = a.and_then(|a| check(&format!("GET {path}"), "", &a));
        assert!(checked.is_ok(), "{checked:?}");
    }
    bench.stop();
}
