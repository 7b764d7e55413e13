//! Hostile input: every JSON body, query string and path segment of the HTTP API gets wrong
//! types, odd and huge numbers, long, unicode and control-character strings, nested JSON,
//! missing, repeated and unknown fields, and raw bytes, against one real server per test.
//! Every answer must be below 500; a 4xx must be `{"error":{"code","message"}}`; no body may
//! show the server's insides (a panic, SQL, a file path); a write that succeeded must be visible
//! afterwards, one that was refused must leave nothing behind; and the server must still be
//! healthy after each property.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use onegrid_app::wire::Role;
use onegrid_server::tiles::tile_at;
use onegrid_tests::{point_in_grid, Session, TestServer, PASSWORD};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use reqwest::header::{CONTENT_TYPE, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::Value;

/// Cases per property.
const CASES: u32 = 64;
/// Longest generated string in a body, in bytes of JSON.
const BODY_LONG: usize = 100_000;
/// Longest generated string in a query or path, in bytes once percent-encoded (a few of them
/// together still fit in the request head the server reads).
const QUERY_LONG: usize = 50_000;
/// Text that only the server's insides would put in an answer (unless the request said it).
const LEAKS: [&str; 10] = [
    "panicked",
    "SELECT ",
    "INSERT ",
    "UPDATE ",
    "sqlite",
    "SQLite",
    "/work/",
    "/tmp/",
    ".rs:",
    "RUST_BACKTRACE",
];
const CATEGORIES: [&str; 3] = ["garbage", "waterlogging", "fallen_tree"];
const STATUSES: [&str; 3] = ["reported", "dispatched", "resolved"];

/// A request body: its bytes and the content type they are sent with.
#[derive(Clone)]
struct Body {
    bytes: Vec<u8>,
    content_type: Option<&'static str>,
}

impl Body {
    fn json(text: String) -> Body {
        Body {
            bytes: text.into_bytes(),
            content_type: Some("application/json"),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {:?}", self.content_type, clip(&self.text()))
    }
}

/// A query string or path segment, percent-encoded, with its plain text.
#[derive(Clone)]
struct Encoded {
    encoded: String,
    plain: String,
}

impl Encoded {
    fn pairs(pairs: &[(String, String)]) -> Encoded {
        let join = |f: &dyn Fn(&str) -> String| {
            let parts: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", f(k), f(v)))
                .collect();
            parts.join("&")
        };
        Encoded {
            encoded: join(&|s| pct(s.as_bytes())),
            plain: join(&|s| s.to_string()),
        }
    }

    /// One path segment. A client resolves `.` and `..` (even encoded) before sending, so those
    /// two are sent with a suffix.
    fn segment(s: &str) -> Encoded {
        let s = if s == "." || s == ".." {
            format!("{s}x")
        } else {
            s.to_string()
        };
        Encoded {
            encoded: pct(s.as_bytes()),
            plain: s,
        }
    }
}

impl fmt::Debug for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", clip(&self.encoded))
    }
}

fn pct(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn clip(s: &str) -> String {
    if s.chars().count() <= 600 {
        return s.to_string();
    }
    let head: String = s.chars().take(600).collect();
    format!("{head}… ({} bytes)", s.len())
}

fn fail(message: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(message.into())
}

fn json_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

// ---------------------------------------------------------------------------------- inputs

/// Strings that parsers, validators and SQL tend to get wrong.
fn special() -> BoxedStrategy<String> {
    select(vec![
        "",
        " ",
        "0",
        "-0",
        "-1",
        "+1",
        "01",
        "1.5",
        "1e3",
        "1e309",
        "-1e309",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "Infinity",
        "0x10",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "4294967296",
        "null",
        "true",
        "[]",
        "{}",
        "\"\"",
        "reported",
        "garbage",
        "grid",
        "buildings,roads",
        "csv",
        "json",
        "user:t_duty",
        "incident.",
        "login_failed",
        "'; DROP TABLE incidents; --",
        "' OR '1'='1",
        "%00",
        "\0",
        "\r\n",
        "\u{202e}abc",
        "\u{feff}",
        "𝕏😀",
        "井盖破损",
        "../../etc/passwd",
        "a/b",
        "?#&=",
        "<script>alert(1)</script>",
        "2026-12-01T00:00:00+08:00",
        "2026-13-45T99:99:99Z",
        "+275760-09-13T00:00:00Z",
        "9999-12-31T23:59:59-23:59",
        "0000-01-01T00:00:00+23:59",
        "1970-01-01T00:00:00.000000000001Z",
        "2026-02-30T00:00:00Z",
    ])
    .prop_map(String::from)
    .boxed()
}

/// Numbers as text: extreme integers, floats, and out-of-range exponents.
fn numbers() -> BoxedStrategy<String> {
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
fn hostile(long: usize, width: fn(char) -> usize) -> BoxedStrategy<String> {
    prop_oneof![
        3 => special(),
        3 => any::<String>(),
        2 => prop::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
        2 => numbers(),
        1 => (any::<char>(), 1..=long).prop_map(move |(c, n)| c.to_string().repeat((n / width(c)).max(1))),
    ]
    .boxed()
}

fn json_width(c: char) -> usize {
    json_str(&c.to_string()).len() - 2
}

fn pct_width(c: char) -> usize {
    3 * c.len_utf8()
}

fn body_string() -> BoxedStrategy<String> {
    hostile(BODY_LONG, json_width)
}

fn query_string() -> BoxedStrategy<String> {
    hostile(QUERY_LONG, pct_width)
}

/// Any JSON value, nested a few levels, with short strings.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        hostile(64, json_width).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((special(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// JSON text of a field's value: any value, a hostile string, a number JSON cannot hold, or a
/// deep nest.
fn json_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => json_value().prop_map(|v| v.to_string()),
        3 => body_string().prop_map(|s| json_str(&s)),
        2 => prop_oneof![numbers(), select(vec!["NaN", "-Infinity", "1.", ".5", "-", "0x1", "1e99999"]).prop_map(String::from)],
        1 => (1usize..3000, any::<bool>()).prop_map(|(n, object)| if object {
            format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n))
        } else {
            format!("{}{}", "[".repeat(n), "]".repeat(n))
        }),
    ]
    .boxed()
}

/// The fields of a body or query, each good (`good` makes its text), missing or hostile, with
/// maybe one repeated and a few unknown ones.
type Fields = Vec<(&'static str, BoxedStrategy<String>)>;

fn fields(
    fields: Fields,
    bad: fn() -> BoxedStrategy<String>,
) -> BoxedStrategy<Vec<(String, String)>> {
    let each: Vec<BoxedStrategy<Option<(String, String)>>> = fields
        .into_iter()
        .map(|(name, good)| {
            prop_oneof![
                4 => good.prop_map(move |v| Some((name.to_string(), v))),
                1 => Just(None),
                3 => bad().prop_map(move |v| Some((name.to_string(), v))),
            ]
            .boxed()
        })
        .collect();
    let extras = prop_oneof![
        3 => Just(Vec::new()),
        1 => prop::collection::vec((special(), bad()), 1..3),
    ];
    (each, extras, prop::bool::weighted(0.1))
        .prop_map(|(each, extras, repeat)| {
            let mut pairs: Vec<(String, String)> = each.into_iter().flatten().collect();
            if let (true, Some(first)) = (repeat, pairs.first().cloned()) {
                pairs.push(first);
            }
            pairs.extend(extras);
            pairs
        })
        .boxed()
}

/// A body for an endpoint whose fields are `good` (JSON text): mostly an object of them, else
/// another JSON value, raw bytes, a cut or damaged object, or an object as another media type.
fn body(good: Fields) -> BoxedStrategy<Body> {
    let object = fields(good, json_text)
        .prop_map(|pairs| {
            let pairs: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}:{v}", json_str(k)))
                .collect();
            format!("{{{}}}", pairs.join(","))
        })
        .boxed();
    let media = select(vec![
        None,
        Some("text/plain"),
        Some("application/json; charset=utf-8"),
        Some("application/json; charset=utf-16"),
        Some("APPLICATION/JSON"),
        Some("application/problem+json"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ]);
    prop_oneof![
        8 => object.clone().prop_map(Body::json),
        1 => json_text().prop_map(Body::json),
        1 => prop::collection::vec(any::<u8>(), 0..2048).prop_map(|bytes| Body {
            bytes,
            content_type: Some("application/json"),
        }),
        1 => (object.clone(), any::<Index>(), any::<u8>(), any::<bool>()).prop_map(|(t, at, byte, cut)| {
            let mut bytes = t.into_bytes();
            let at = at.index(bytes.len() + 1);
            if cut { bytes.truncate(at) } else { bytes.insert(at, byte) }
            Body { bytes, content_type: Some("application/json") }
        }),
        1 => (object, media).prop_map(|(t, content_type)| Body { bytes: t.into_bytes(), content_type }),
    ]
    .boxed()
}

/// A query for a route whose parameters are `good`; or arbitrary pieces, bytes and separators.
fn query(good: Fields) -> BoxedStrategy<Encoded> {
    let piece = prop_oneof![
        Just(b"&".to_vec()),
        Just(b"=".to_vec()),
        Just(b"+".to_vec()),
        prop::collection::vec(any::<u8>(), 0..24),
    ];
    let raw = prop::collection::vec(piece, 0..12).prop_map(|pieces| {
        let keep = |p: &Vec<u8>| matches!(p.as_slice(), b"&" | b"=" | b"+");
        Encoded {
            encoded: pieces
                .iter()
                .map(|p| {
                    if keep(p) {
                        String::from_utf8_lossy(p).into_owned()
                    } else {
                        pct(p)
                    }
                })
                .collect(),
            plain: String::from_utf8_lossy(&pieces.concat()).into_owned(),
        }
    });
    prop_oneof![
        6 => fields(good, query_string).prop_map(|pairs| Encoded::pairs(&pairs)),
        1 => raw,
    ]
    .boxed()
}

/// A path segment: `good` mostly, else hostile.
fn segment(good: BoxedStrategy<String>) -> BoxedStrategy<Encoded> {
    prop_oneof![2 => good, 1 => query_string()]
        .prop_map(|s| Encoded::segment(&s))
        .boxed()
}

fn good_of(values: &[&'static str]) -> BoxedStrategy<String> {
    select(values.to_vec()).prop_map(String::from).boxed()
}

fn near(x: f64) -> BoxedStrategy<String> {
    (-1e-4..1e-4f64)
        .prop_map(move |d| (x + d).to_string())
        .boxed()
}

// ---------------------------------------------------------------------------------- running

/// One server and the runtime it runs on; properties run their cases against it.
struct Bench {
    server: TestServer,
    rt: tokio::runtime::Runtime,
}

/// An answer as the checks read it.
struct Answer {
    status: StatusCode,
    content_type: String,
    session_cookie: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Result<Value, TestCaseError> {
        serde_json::from_slice(&self.body).map_err(|e| fail(format!("a JSON body: {e}")))
    }
}

impl Bench {
    fn start() -> Bench {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        let server = rt.block_on(TestServer::start()).expect("server");
        Bench { server, rt }
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Runs `case` on [`CASES`] inputs of `strategy`, then checks the server is still healthy.
    /// A failure names the smallest input that fails.
    fn run<S: Strategy>(
        &self,
        name: &str,
        strategy: S,
        case: impl Fn(S::Value) -> Result<(), TestCaseError>,
    ) {
        let config = Config {
            cases: CASES,
            failure_persistence: None,
            max_shrink_iters: 256,
            ..Config::default()
        };
        match TestRunner::new(config).run(&strategy, case) {
            Ok(()) => {}
            Err(TestError::Fail(why, input)) => {
                panic!("{name}: {why}\nsmallest failing input: {input:?}")
            }
            Err(e) => panic!("{name}: {e}"),
        }
        let health = self.block_on(send(self.server.client().get(self.server.url("/healthz"))));
        assert!(
            health.is_ok_and(|a| a.status == StatusCode::OK),
            "{name}: the server still answers /healthz"
        );
    }

    fn stop(self) {
        let Bench { server, rt } = self;
        rt.block_on(server.stop());
    }
}

async fn send(request: reqwest::RequestBuilder) -> Result<Answer, TestCaseError> {
    let answer = async {
        let r = request.send().await?;
        let status = r.status();
        let content_type = r
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let session_cookie = r
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("onegrid_session="))
            .and_then(|v| v.split(';').next())
            .map(str::to_string);
        let body = r.bytes().await?.to_vec();
        Ok::<_, reqwest::Error>(Answer {
            status,
            content_type,
            session_cookie,
            body,
        })
    };
    match tokio::time::timeout(Duration::from_secs(30), answer).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(fail(format!("no answer: {e}"))),
        Err(_) => Err(fail("no answer within 30 s")),
    }
}

async fn post(client: &reqwest::Client, url: &str, body: &Body) -> Result<Answer, TestCaseError> {
    let mut request = client.post(url).body(body.bytes.clone());
    if let Some(content_type) = body.content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    send(request).await
}

/// What every answer must be; `input` is the request's plain text.
fn check(what: &str, input: &str, a: &Answer) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(&a.body);
    prop_assert!(
        !a.status.is_server_error(),
        "{what}: {} {}",
        a.status,
        clip(&text)
    );
    if a.status.is_client_error() {
        let v: Value = serde_json::from_slice(&a.body).map_err(|_| {
            fail(format!(
                "{what}: {} ({}) with a body that is not JSON: {:?}",
                a.status,
                a.content_type,
                clip(&text)
            ))
        })?;
        let code = v["error"]["code"].as_str().unwrap_or_default();
        let message = v["error"]["message"].as_str().unwrap_or_default();
        prop_assert!(
            !code.is_empty() && !message.is_empty(),
            "{what}: {} without an error code and message: {}",
            a.status,
            clip(&text)
        );
    }
    let input = input.to_lowercase();
    for leak in LEAKS {
        prop_assert!(
            !text.contains(leak) || input.contains(&leak.to_lowercase()),
            "{what}: the answer shows {leak:?}: {}",
            clip(&text)
        );
    }
    Ok(())
}

/// A GET of `path` that must pass [`check`]; the answer.
async fn get_checked(
    client: &reqwest::Client,
    server: &TestServer,
    path: &str,
    input: &str,
) -> Result<Answer, TestCaseError> {
    let a = send(client.get(server.url(path))).await?;
    check(&format!("GET {}", clip(path)), input, &a)?;
    Ok(a)
}

async fn incident_count(server: &TestServer) -> Result<usize, TestCaseError> {
    let a = send(
        server
            .client()
            .get(server.url("/api/v1/incidents?limit=1000")),
    )
    .await?;
    prop_assert_eq!(a.status, StatusCode::OK);
    Ok(a.json()?.as_array().map_or(0, Vec::len))
}

/// Reports a good incident near (`lon`, `lat`); its id.
async fn report(server: &TestServer, lon: f64, lat: f64) -> i64 {
    let body =
        serde_json::json!({"category": "garbage", "lat": lat, "lon": lon, "description": "垃圾"});
    let r = server
        .client()
        .post(server.url("/api/v1/incidents"))
        .json(&body)
        .send()
        .await
        .expect("report");
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("JSON");
    v["id"].as_i64().expect("id")
}

// ---------------------------------------------------------------------------------- writes

#[test]
fn incident_reports() {
    let bench = Bench::start();
    let server = &bench.server;
    let (lon, lat, _) = bench.block_on(point_in_grid(server, 5)).expect("grid");
    let text = || {
        prop_oneof![
            Just(json_str("积水")),
            body_string().prop_map(|s| json_str(&s))
        ]
    };
    let good: Fields = vec![
        (
            "category",
            good_of(&CATEGORIES).prop_map(|c| json_str(&c)).boxed(),
        ),
        ("lat", near(lat)),
        ("lon", near(lon)),
        ("description", text().boxed()),
        ("reporter", text().boxed()),
    ];
    let created = RefCell::new(Vec::new());
    bench.run("POST /api/v1/incidents", body(good), |body| {
        bench.block_on(async {
            let a = post(server.client(), &server.url("/api/v1/incidents"), &body).await?;
            check("POST /api/v1/incidents", &body.text(), &a)?;
            if a.status.is_success() {
                prop_assert_eq!(a.status, StatusCode::CREATED);
                let v = a.json()?;
                let id = v["id"].as_i64().ok_or_else(|| fail("an id"))?;
                let path = format!("/api/v1/incidents/{id}");
                let back = get_checked(server.client(), server, &path, "").await?;
                prop_assert_eq!(back.json()?, v, "a new incident reads back as reported");
                created.borrow_mut().push(id);
            }
            let n = incident_count(server).await?;
            prop_assert_eq!(n, created.borrow().len(), "a refused report leaves nothing");
            Ok(())
        })
    });
    bench.stop();
}

#[test]
fn status_changes() {
    let bench = Bench::start();
    let server = &bench.server;
    let (lon, lat, _) = bench.block_on(point_in_grid(server, 7)).expect("grid");
    let id = bench.block_on(report(server, lon, lat));
    let target = format!("/api/v1/incidents/{id}");
    let first = bench.block_on(send(server.client().get(server.url(&target))));
    let expected = RefCell::new(first.and_then(|a| a.json()).expect("the incident"));
    let good: Fields = vec![(
        "status",
        good_of(&STATUSES).prop_map(|s| json_str(&s)).boxed(),
    )];
    let ids = segment(prop_oneof![3 => Just(id.to_string()), 1 => numbers()].boxed());
    bench.run(
        "POST /api/v1/incidents/{id}/status",
        (ids, body(good)),
        |(at, body)| {
            bench.block_on(async {
                let url = server.url(&format!("/api/v1/incidents/{}/status", at.encoded));
                let a = post(server.client(), &url, &body).await?;
                let input = format!("{} {}", at.plain, body.text());
                check("POST /api/v1/incidents/{id}/status", &input, &a)?;
                if a.status.is_success() {
                    let v = a.json()?;
                    let path = format!("/api/v1/incidents/{}", v["id"]);
                    let back = get_checked(server.client(), server, &path, "").await?;
                    prop_assert_eq!(&back.json()?, &v, "the new status reads back");
                    if v["id"] == id {
                        *expected.borrow_mut() = v;
                    }
                }
                let now = get_checked(server.client(), server, &target, "")
                    .await?
                    .json()?;
                prop_assert_eq!(
                    &now,
                    &*expected.borrow(),
                    "a refused change leaves the incident"
                );
                Ok(())
            })
        },
    );
    bench.stop();
}

#[test]
fn logins() {
    let bench = Bench::start();
    let server = &bench.server;
    let client = reqwest::Client::new();
    let good: Fields = vec![
        (
            "username",
            good_of(&["t_duty", " t_duty ", "T_DUTY", "nobody"])
                .prop_map(|s| json_str(&s))
                .boxed(),
        ),
        ("password", Just(json_str(PASSWORD)).boxed()),
    ];
    bench.run("POST /api/v1/session", body(good), |body| {
        bench.block_on(async {
            let request = client
                .post(server.url("/api/v1/session"))
                .header("origin", server.url(""));
            let mut request = request.body(body.bytes.clone());
            if let Some(content_type) = body.content_type {
                request = request.header(CONTENT_TYPE, content_type);
            }
            // After five failures from one address every login is throttled (429): an answer too.
            let a = send(request).await?;
            check("POST /api/v1/session", &body.text(), &a)?;
            if a.status.is_success() {
                let cookie = a
                    .session_cookie
                    .clone()
                    .ok_or_else(|| fail("a session cookie"))?;
                let me = Session::with_cookie(server, &cookie, "t_duty");
                let who = get_checked(&me.client, server, "/api/v1/session", "").await?;
                prop_assert_eq!(who.status, StatusCode::OK, "the new session is live");
            }
            Ok(())
        })
    });
    bench.stop();
}

#[test]
fn password_changes() {
    /// Stands for the account's current password in a generated body.
    const CURRENT: &str = "\u{1}current\u{1}";
    let bench = Bench::start();
    let server = &bench.server;
    let session = bench
        .block_on(server.session_for("p_pw", Role::DutyOfficer, None))
        .expect("a user");
    let state = RefCell::new((session, PASSWORD.to_string()));
    let good: Fields = vec![
        ("current_password", Just(CURRENT.to_string()).boxed()),
        (
            "new_password",
            "[a-zA-Z0-9 ]{10,40}".prop_map(|s| json_str(&s)).boxed(),
        ),
    ];
    bench.run("POST /api/v1/session/password", body(good), |body| {
        bench.block_on(async {
            let (session, current) = state.borrow().clone();
            let text = body.text().replace(CURRENT, &json_str(&current));
            let body = Body {
                bytes: text.clone().into_bytes(),
                ..body
            };
            let url = server.url("/api/v1/session/password");
            let a = post(&session.client, &url, &body).await?;
            check("POST /api/v1/session/password", &text, &a)?;
            if a.status.is_success() {
                let sent: Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
                let new = sent["new_password"]
                    .as_str()
                    .ok_or_else(|| fail("new_password"))?;
                let cookie = a
                    .session_cookie
                    .clone()
                    .ok_or_else(|| fail("a session cookie"))?;
                let old = send(session.client.get(server.url("/api/v1/session"))).await?;
                prop_assert_eq!(
                    old.status,
                    StatusCode::UNAUTHORIZED,
                    "the old session ended"
                );
                let fresh = server.login("p_pw", new).await;
                prop_assert!(fresh.is_ok(), "the new password logs in: {:?}", fresh.err());
                let next = Session::with_cookie(server, &cookie, "p_pw");
                *state.borrow_mut() = (next, new.to_string());
            }
            let me = state.borrow().0.client.clone();
            let who = send(me.get(server.url("/api/v1/session"))).await?;
            prop_assert_eq!(who.status, StatusCode::OK, "the caller's session is live");
            Ok(())
        })
    });
    bench.stop();
}

// ---------------------------------------------------------------------------------- reads

/// Runs GETs of `path(input)` for inputs of `strategy` as `client`; 2xx answers must pass
/// `ok`.
fn reads<S: Strategy>(
    bench: &Bench,
    client: &reqwest::Client,
    name: &str,
    strategy: S,
    path: impl Fn(&S::Value) -> (String, String),
    ok: impl Fn(&Answer) -> Result<(), TestCaseError>,
) {
    bench.run(name, strategy, |input| {
        let (path, plain) = path(&input);
        bench.block_on(async {
            let a = get_checked(client, &bench.server, &path, &plain).await?;
            if a.status.is_success() {
                ok(&a)?;
            }
            Ok(())
        })
    });
}

fn is_json(a: &Answer) -> Result<(), TestCaseError> {
    a.json().map(|_| ())
}

fn q(prefix: &str) -> impl Fn(&Encoded) -> (String, String) + '_ {
    move |e| (format!("{prefix}?{}", e.encoded), e.plain.clone())
}

#[test]
fn incident_reads() {
    let bench = Bench::start();
    let server = &bench.server;
    let (lon, lat, _) = bench.block_on(point_in_grid(server, 9)).expect("grid");
    for _ in 0..3 {
        bench.block_on(report(server, lon, lat));
    }
    let good: Fields = vec![
        ("limit", (0u32..=1001).prop_map(|n| n.to_string()).boxed()),
        (
            "status",
            good_of(&["reported", "dispatched", "resolved", ""]),
        ),
    ];
    let list = |a: &Answer| {
        let v = a.json()?;
        prop_assert!(v.is_array(), "a list: {v}");
        Ok(())
    };
    reads(
        &bench,
        server.client(),
        "GET /api/v1/incidents",
        query(good),
        q("/api/v1/incidents"),
        list,
    );
    let ids = segment(prop_oneof![Just("1".to_string()), numbers()].boxed());
    let one = |e: &Encoded| (format!("/api/v1/incidents/{}", e.encoded), e.plain.clone());
    reads(
        &bench,
        server.client(),
        "GET /api/v1/incidents/{id}",
        ids,
        one,
        is_json,
    );
    bench.stop();
}

#[test]
fn spatial_queries() {
    let bench = Bench::start();
    let server = &bench.server;
    let (lon, lat, _) = bench.block_on(point_in_grid(server, 11)).expect("grid");
    let layers = prop::sample::subsequence(
        vec!["buildings", "roads", "pipelines", "pois", " roads"],
        0..=5,
    )
    .prop_map(|l| l.join(","))
    .boxed();
    let nearby: Fields = vec![
        ("lat", near(lat)),
        ("lon", near(lon)),
        (
            "radius_m",
            (-10.0..2010.0f64).prop_map(|r| r.to_string()).boxed(),
        ),
        ("layers", layers),
    ];
    let paths = select(vec![
        "/api/v1/spatial/nearby",
        "/api/v1/spatial/nearby.geojson",
    ]);
    let path = |(p, e): &(&str, Encoded)| (format!("{p}?{}", e.encoded), e.plain.clone());
    reads(
        &bench,
        server.client(),
        "GET /api/v1/spatial/nearby",
        (paths, query(nearby)),
        path,
        is_json,
    );
    let locate: Fields = vec![("lat", near(lat)), ("lon", near(lon))];
    let path = q("/api/v1/spatial/locate");
    reads(
        &bench,
        server.client(),
        "GET /api/v1/spatial/locate",
        query(locate),
        path,
        is_json,
    );
    bench.stop();
}

#[test]
fn map_layers_and_tiles() {
    let bench = Bench::start();
    let server = &bench.server;
    let (lon, lat, _) = bench.block_on(point_in_grid(server, 13)).expect("grid");
    let levels = segment(good_of(&[
        "district",
        "street",
        "community",
        "grid",
        "grid.geojson",
    ]));
    let path = |e: &Encoded| {
        (
            format!("/api/v1/map/boundaries/{}", e.encoded),
            e.plain.clone(),
        )
    };
    reads(
        &bench,
        server.client(),
        "GET /api/v1/map/boundaries/{level}",
        levels,
        path,
        is_json,
    );

    let layers = ["buildings", "roads", "pipelines", "pois", "jurisdictions"];
    let good = (
        select(layers.to_vec()),
        0u8..=24,
        -1i64..=1,
        -1i64..=1,
        prop::bool::weighted(0.9),
    )
        .prop_map(move |(layer, z, dx, dy, mvt)| {
            let (x, y) = tile_at(lon, lat, z);
            let y = format!("{}{}", i64::from(y) + dy, if mvt { ".mvt" } else { "" });
            [
                layer.to_string(),
                z.to_string(),
                (i64::from(x) + dx).to_string(),
                y,
            ]
        });
    let bad = || prop_oneof![3 => Just(None), 1 => query_string().prop_map(Some)];
    let tiles = (good, [bad(), bad(), bad(), bad()]).prop_map(|(good, bad)| {
        let parts = good
            .into_iter()
            .zip(bad)
            .map(|(g, b)| Encoded::segment(&b.unwrap_or(g)));
        parts.collect::<Vec<_>>()
    });
    let path = |p: &Vec<Encoded>| {
        let encoded: Vec<&str> = p.iter().map(|e| e.encoded.as_str()).collect();
        let plain: Vec<&str> = p.iter().map(|e| e.plain.as_str()).collect();
        (format!("/tiles/{}", encoded.join("/")), plain.join("/"))
    };
    let tile = |a: &Answer| {
        prop_assert_eq!(
            a.content_type.as_str(),
            "application/vnd.mapbox-vector-tile"
        );
        Ok(())
    };
    reads(
        &bench,
        server.client(),
        "GET /tiles/{layer}/{z}/{x}/{y}",
        tiles,
        path,
        tile,
    );
    bench.stop();
}

#[test]
fn audit_queries() {
    let bench = Bench::start();
    let server = &bench.server;
    let admin = bench
        .block_on(server.session_for("p_admin", Role::Admin, None))
        .expect("an admin");
    let time = || {
        (-62_135_596_800i64..253_402_300_799, -1439i32..=1439)
            .prop_map(|(s, m)| {
                let offset = chrono::FixedOffset::east_opt(m * 60).expect("an offset");
                let t = chrono::DateTime::from_timestamp(s, 0).expect("a time");
                t.with_timezone(&offset).to_rfc3339()
            })
            .boxed()
    };
    let good: Fields = vec![
        ("from", time()),
        ("to", time()),
        (
            "actor",
            good_of(&["user:t_duty", "user:p_admin", "system", ""]),
        ),
        (
            "action",
            good_of(&["incident.", "login_failed", "user.", "."]),
        ),
        ("limit", (0u32..=10_001).prop_map(|n| n.to_string()).boxed()),
        ("before", numbers()),
        ("format", good_of(&["json", "csv", ""])),
    ];
    let ok = |a: &Answer| {
        if a.content_type.starts_with("text/csv") {
            prop_assert!(
                a.body.starts_with("\u{feff}id,at".as_bytes()),
                "a CSV with its header"
            );
            Ok(())
        } else {
            is_json(a)
        }
    };
    reads(
        &bench,
        &admin.client,
        "GET /api/v1/audit",
        query(good),
        q("/api/v1/audit"),
        ok,
    );
    bench.stop();
}

#[test]
fn live_feed_without_an_upgrade() {
    let bench = Bench::start();
    let server = &bench.server;
    let good: Fields = vec![("since", numbers())];
    let never = |a: &Answer| {
        Err(fail(format!(
            "/ws without an upgrade answered {}",
            a.status
        )))
    };
    reads(
        &bench,
        server.client(),
        "GET /ws",
        query(good),
        q("/ws"),
        never,
    );
    bench.stop();
}

#[test]
fn zz_probe() {
    let bench = Bench::start();
    let server = &bench.server;
    bench.block_on(async {
        for (m, p) in [
            ("POST", "/api/v1/incidents/1"),
            ("DELETE", "/api/v1/incidents"),
            ("PUT", "/api/v1/session/password"),
            ("GET", "/api/v1/session/password"),
            ("GET", "/tiles/a/b/c"),
            ("GET", "/tiles//0/0/0.mvt"),
            ("GET", "/api/v1/map/boundaries/"),
            ("GET", "/api/v1/incidents//"),
            ("POST", "/ws"),
            ("GET", "/api/v1/spatial/nearby?lat=1&lat=2"),
            ("GET", "/tiles/roads/0/0/0.mvt"),
        ] {
            let r = server
                .client()
                .request(m.parse().unwrap(), server.url(p))
                .send()
                .await
                .unwrap();
            let s = r.status();
            let ct = format!("{:?}", r.headers().get("content-type"));
            println!(
                "PROBE {m} {p} -> {s} {ct} {:?}",
                r.text()
                    .await
                    .unwrap()
                    .chars()
                    .take(200)
                    .collect::<String>()
            );
        }
        let long = format!("/api/v1/incidents?x={}", "a".repeat(70_000));
        let mut c = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        c.write_all(format!("GET {long} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut buf = vec![0; 2000];
        let n = c.read(&mut buf).await.unwrap_or(0);
        println!("PROBE long uri -> {:?}", String::from_utf8_lossy(&buf[..n]));
        let long = format!("/api/v1/incidents?x={}", "a".repeat(500_000));
        let mut c = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let _ = c
            .write_all(format!("GET {long} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await;
        let n = c.read(&mut buf).await.unwrap_or(0);
        println!("PROBE 500k uri -> {:?}", String::from_utf8_lossy(&buf[..n]));
    });
    bench.stop();
}
