//! `GET /api/v1/openapi.json`: the document is OpenAPI 3.1 with the security schemes, it names
//! exactly the operations listed here (so a new route shows up in review), and every operation
//! it describes exists: called with the document's own example values, each answers with one of
//! the statuses the document gives it, never the "no API route" 404 or a 405, and a JSON answer
//! has the shape of its documented schema.

use std::collections::BTreeMap;

use onegrid_app::wire::Role;
use onegrid_tests::{next_message, point_in_grid, Session, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Every operation of the document, sorted. A route added to the router appears in the document
/// and so here: this list changes with it, in review.
const OPERATIONS: &[&str] = &[
    "DELETE /api/v1/session",
    "GET /api/v1/audit",
    "GET /api/v1/categories",
    "GET /api/v1/departments",
    "GET /api/v1/incidents",
    "GET /api/v1/incidents/counts",
    "GET /api/v1/incidents/export.csv",
    "GET /api/v1/incidents/export.geojson",
    "GET /api/v1/incidents/{id}",
    "GET /api/v1/incidents/{id}/history",
    "GET /api/v1/map/boundaries/{level}",
    "GET /api/v1/map/info",
    "GET /api/v1/openapi.json",
    "GET /api/v1/rules",
    "GET /api/v1/session",
    "GET /api/v1/spatial/locate",
    "GET /api/v1/spatial/nearby",
    "GET /api/v1/spatial/nearby.geojson",
    "GET /api/v1/stats",
    "GET /healthz",
    "GET /screen",
    "GET /tiles/{layer}/{z}/{x}/{y}",
    "GET /ws",
    "POST /api/v1/incidents",
    "POST /api/v1/incidents/{id}/actions",
    "POST /api/v1/session",
    "POST /api/v1/session/password",
];

/// Operations that end or change the caller's session, or need a credential the examples cannot
/// hold: called like the others, they must exist and answer a documented status, not a 2xx.
const NOT_WITH_EXAMPLES: &[&str] = &[
    "DELETE /api/v1/session",
    "GET /screen",
    "POST /api/v1/session",
    "POST /api/v1/session/password",
];

/// Operations anyone may call: their `security` is empty.
const OPEN: &[&str] = &[
    "GET /api/v1/openapi.json",
    "GET /healthz",
    "GET /screen",
    "POST /api/v1/session",
];

/// A valid body for each operation that takes one (the document says which do); `at` is a
/// point inside one of the district's grids, (lon, lat).
fn body_for(operation: &str, at: (f64, f64)) -> Option<Value> {
    match operation {
        "POST /api/v1/incidents" => Some(json!({
            "category": "garbage",
            "lon": at.0,
            "lat": at.1,
            "description": "垃圾堆放 / garbage by the road",
        })),
        // (Its `seq` is filled in with the incident's own when the request is made.)
        "POST /api/v1/incidents/{id}/actions" => Some(json!({ "action": "triage", "seq": 0 })),
        "POST /api/v1/session" => Some(json!({ "username": "nobody", "password": "wrong-one" })),
        "POST /api/v1/session/password" => Some(json!({
            "current_password": "not-the-current-one",
            "new_password": "a-new-password-2026",
        })),
        _ => None,
    }
}

async fn document(server: &TestServer) -> Value {
    let r = reqwest::get(server.url("/api/v1/openapi.json"))
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[reqwest::header::CONTENT_TYPE],
        "application/json"
    );
    r.json().await.expect("the document is JSON")
}

/// "METHOD path" → the operation object, for every operation of the document.
fn operations(doc: &Value) -> BTreeMap<String, Value> {
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if method == "parameters" {
                continue;
            }
            ops.insert(format!("{} {path}", method.to_uppercase()), op.clone());
        }
    }
    ops
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_the_security_schemes() {
    let server = TestServer::start().await.expect("server");
    let doc = document(&server).await;

    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "version {version}");
    assert_eq!(doc["info"]["title"], "onegrid");

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["session"],
        json!({"type": "apiKey", "in": "cookie", "name": "onegrid_session",
               "description": schemes["session"]["description"]})
    );
    assert_eq!(schemes["screen"]["type"], "apiKey");
    assert_eq!(schemes["screen"]["in"], "cookie");
    assert_eq!(schemes["screen"]["name"], "onegrid_screen");
    assert!(
        schemes["screen"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("`token`") && d.contains("/screen")),
        "the screen's query token is described: {}",
        schemes["screen"]
    );
    assert_eq!(schemes["api_key"]["type"], "http");
    assert_eq!(schemes["api_key"]["scheme"], "bearer");
    assert_eq!(
        doc["security"],
        json!([{"session": []}, {"screen": []}, {"api_key": []}]),
        "one of the three credentials is the global requirement"
    );

    let ops = operations(&doc);
    let open: Vec<&str> = ops
        .iter()
        .filter(|(_, op)| op.get("security") == Some(&json!([])))
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(open, OPEN, "operations open to anyone");
    for (name, op) in &ops {
        assert!(
            op.get("security").is_none() || op["security"] == json!([]),
            "{name}: either the global requirement or none: {}",
            op["security"]
        );
    }

    // Every 4xx of the API is the error body; a case action's 409 is the error body with the
    // incident as it is now and the actions allowed.
    for (name, op) in &ops {
        for (status, response) in op["responses"].as_object().expect("responses") {
            if status.starts_with('4') && name.contains(" /api/") {
                let want = if name == "POST /api/v1/incidents/{id}/actions" && status == "409" {
                    "#/components/schemas/ConflictBody"
                } else {
                    "#/components/schemas/ErrorBody"
                };
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"], want,
                    "{name} {status}"
                );
            }
        }
    }
    let error = &doc["components"]["schemas"]["ErrorDetail"];
    assert_eq!(error["required"], json!(["code", "message"]));
    let conflict = &doc["components"]["schemas"]["ConflictDetail"];
    let required: Vec<&str> = conflict["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for field in ["code", "message", "incident", "allowed"] {
        assert!(required.contains(&field), "ConflictDetail requires {field}");
    }

    // The live protocol is described where the upgrade is.
    let ws = &ops["GET /ws"];
    assert!(ws["description"]
        .as_str()
        .is_some_and(|d| d.contains("onegrid.live.v1")));
    assert_eq!(ws["parameters"][0]["name"], "since");
    assert_eq!(ws["parameters"][0]["in"], "query");
    assert!(doc["components"]["schemas"]["ServerMessage"].is_object());
}

#[tokio::test]
async fn the_document_lists_exactly_these_operations() {
    let server = TestServer::start().await.expect("server");
    let doc = document(&server).await;
    let ops: Vec<String> = operations(&doc).into_keys().collect();
    assert_eq!(
        ops, OPERATIONS,
        "the operations of the document changed: update OPERATIONS (and review the change)"
    );
}

/// The example of a parameter: its own, or its schema's, or its schema's default.
fn example(param: &Value) -> Option<String> {
    let value = param
        .get("example")
        .or_else(|| param["schema"].get("example"))
        .or_else(|| param["schema"].get("default"))?;
    Some(match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// The request an operation gets: its path with the example path parameters, and the example
/// query parameters (every required one must have an example).
fn request_path(name: &str, op: &Value) -> String {
    let (_, template) = name.split_once(' ').expect("METHOD path");
    let mut path = template.to_string();
    let mut query = Vec::new();
    for param in op["parameters"].as_array().into_iter().flatten() {
        let pname = param["name"].as_str().expect("parameter name");
        let required = param["required"].as_bool().unwrap_or(false);
        let value = example(param);
        match param["in"].as_str() {
            Some("path") => {
                let value = value.unwrap_or_else(|| panic!("{name}: example of {pname}"));
                path = path.replace(&format!("{{{pname}}}"), &value);
            }
            Some("query") => match value {
                Some(v) => query.push(format!("{pname}={v}")),
                None => assert!(!required, "{name}: example of the required {pname}"),
            },
            _ => {}
        }
    }
    assert!(!path.contains('{'), "{name}: every path parameter filled");
    if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

#[tokio::test]
async fn every_documented_operation_exists_and_answers_as_documented() {
    let server = TestServer::start().await.expect("server");
    let doc = document(&server).await;
    let admin: Session = server
        .session_for("o_admin", Role::Admin, None)
        .await
        .expect("admin");
    let client = admin.client.clone();
    let (lon, lat, _) = point_in_grid(&server, 0).await.expect("a point in a grid");
    let mut ops: Vec<(String, Value)> = operations(&doc).into_iter().collect();
    // Writes first, so the reads find an incident; the logout last.
    ops.sort_by_key(|(name, _)| (name.starts_with("DELETE "), !name.starts_with("POST ")));

    for (name, op) in &ops {
        let path = request_path(name, op);
        let documented: Vec<&String> = op["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .collect();

        if documented.iter().any(|s| *s == "101") {
            // The WebSocket upgrade: a real client, and the first message is the documented one.
            let mut ws = admin.ws(&server.url(&path).replacen("http", "ws", 1)).await;
            let hello = next_message(&mut ws, 5).await;
            let schema = &op["responses"]["101"]["content"]["application/json"]["schema"];
            conforms(&doc, schema, &hello, &format!("{name} message"));
            assert_eq!(hello["type"], "hello");
            assert_eq!(hello["protocol"], "onegrid.live.v1");
            continue;
        }

        let method =
            Method::from_bytes(name.split(' ').next().expect("method").as_bytes()).expect("method");
        let mut request = client.request(method, server.url(&path));
        let has_body = op.get("requestBody").is_some();
        match body_for(name, (lon, lat)) {
            Some(mut body) => {
                if name == "POST /api/v1/incidents/{id}/actions" {
                    let target = path.trim_end_matches("/actions");
                    let incident: Value = client
                        .get(server.url(target))
                        .send()
                        .await
                        .expect("the incident")
                        .json()
                        .await
                        .expect("json");
                    body["seq"] = incident["seq"].clone();
                }
                assert!(has_body, "{name}: a body is sent, the document has none");
                request = request.json(&body);
            }
            None => assert!(
                !has_body,
                "{name}: the document has a body; add one to body_for"
            ),
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = response.bytes().await.expect("body");
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();

        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{name}: {path}");
        if status == StatusCode::NOT_FOUND {
            let message = json
                .as_ref()
                .and_then(|j| j["error"]["message"].as_str())
                .unwrap_or_else(|| panic!("{name}: the router's own 404 for {path}"));
            assert!(!message.starts_with("no API route"), "{name}: {message}");
        }
        assert!(
            documented.contains(&&status.as_u16().to_string()),
            "{name} {path}: {status} is not among {documented:?}; body: {}",
            String::from_utf8_lossy(&bytes)
        );
        if NOT_WITH_EXAMPLES.contains(&name.as_str()) {
            continue;
        }
        assert!(
            status.is_success(),
            "{name} {path}: the examples are valid, yet {status}: {}",
            String::from_utf8_lossy(&bytes)
        );

        let response_doc = &op["responses"][status.as_str()];
        let content = response_doc["content"].as_object().expect("content");
        let media = content_type.split(';').next().unwrap_or_default().trim();
        let documented_media = content
            .get(media)
            .unwrap_or_else(|| panic!("{name}: {media} is not among {:?}", content.keys()));
        if media.ends_with("json") {
            let value = json.unwrap_or_else(|| panic!("{name}: a JSON body"));
            conforms(&doc, &documented_media["schema"], &value, name);
        }
    }
}

/// The bounds the document gives a query parameter are the server's: at each bound the
/// answer is a success, just past it a 400 (the other parameters at their examples).
#[tokio::test]
async fn the_documented_query_limits_are_the_servers() {
    let server = TestServer::start().await.expect("server");
    let doc = document(&server).await;
    let admin = server
        .session_for("o_admin", Role::Admin, None)
        .await
        .expect("admin");
    let client = admin.client.clone();
    let mut checked = Vec::new();
    for (name, op) in operations(&doc) {
        if !name.starts_with("GET ") || op["responses"].get("101").is_some() {
            continue;
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        for param in params.iter().filter(|p| p["in"] == "query") {
            let pname = param["name"].as_str().expect("name");
            let schema = &param["schema"];
            let step = if schema["type"] == "integer" {
                1.0
            } else {
                0.5
            };
            let bounds = [
                (schema["maximum"].as_f64(), step, true),
                (schema["minimum"].as_f64(), -step, true),
                (schema["exclusiveMinimum"].as_f64(), 0.0, false),
            ];
            for (bound, past, inclusive) in bounds {
                let Some(bound) = bound else { continue };
                let mut cases = vec![(bound + past, false)];
                if inclusive {
                    cases.push((bound, true));
                }
                for (value, ok) in cases {
                    let base = request_path(&name, &op);
                    let (path, query) = base.split_once('?').unwrap_or((&base, ""));
                    let mut pairs: Vec<String> = query
                        .split('&')
                        .filter(|kv| !kv.is_empty() && !kv.starts_with(&format!("{pname}=")))
                        .map(str::to_string)
                        .collect();
                    pairs.push(format!("{pname}={value}"));
                    let url = server.url(&format!("{path}?{}", pairs.join("&")));
                    let status = client.get(&url).send().await.expect("request").status();
                    if ok {
                        assert!(status.is_success(), "{name}: {pname}={value}: {status}");
                    } else {
                        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {pname}={value}");
                    }
                    checked.push(format!("{name} {pname}={value}"));
                }
            }
        }
    }
    for expected in [
        "GET /api/v1/incidents limit=1000",
        "GET /api/v1/incidents limit=1001",
        "GET /api/v1/incidents limit=0",
        "GET /api/v1/spatial/nearby radius_m=2000",
        "GET /api/v1/spatial/nearby radius_m=2000.5",
        "GET /api/v1/spatial/nearby radius_m=0",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} in {checked:?}"
        );
    }
}

/// Resolves `#/components/schemas/…` references.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("reference {r}"));
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Whether `value` matches `schema` (types, required and known properties, items, enums,
/// `oneOf`/`allOf`), naming the place of the first mismatch.
fn matches(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            matches(doc, s, value, at)?;
        }
    }
    if let Some(one) = schema["oneOf"].as_array() {
        let errors: Vec<String> = one
            .iter()
            .filter_map(|s| matches(doc, s, value, at).err())
            .collect();
        if errors.len() != one.len() - 1 {
            return Err(format!("{at}: not exactly one of oneOf: {errors:?}"));
        }
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(value) {
            return Err(format!("{at}: {value} not in {options:?}"));
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let ok = types.iter().any(|t| match *t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {value} is not {types:?}"));
        }
    }
    if let (Some(object), Some(properties)) = (value.as_object(), schema["properties"].as_object())
    {
        for required in schema["required"].as_array().into_iter().flatten() {
            let key = required.as_str().unwrap_or_default();
            if !object.contains_key(key) {
                return Err(format!("{at}: missing {key}"));
            }
        }
        for (key, v) in object {
            match properties.get(key) {
                Some(s) => matches(doc, s, v, &format!("{at}.{key}"))?,
                None if schema["additionalProperties"] == json!(false) => {
                    return Err(format!("{at}: unknown property {key}"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            matches(doc, schema, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[track_caller]
fn conforms(doc: &Value, schema: &Value, value: &Value, name: &str) {
    if let Err(e) = matches(doc, schema, value, "$") {
        panic!("{name}: the answer does not match its documented schema: {e}\n{value}");
    }
}
