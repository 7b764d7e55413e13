//! README › "Your own district", as a newcomer runs it: the real `onegrid` binary, the commands
//! in the guide's order, on the example data set in `tests/fixtures/vaduz/`, then `onegrid serve
//! --no-demo` as a real process, and an incident reported to it over HTTP is located in a
//! generated grid and routed by the rules to a department of the CSV.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn example(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/vaduz")
        .join(file)
        .display()
        .to_string()
}

/// Runs `onegrid ARGS`, asserts it succeeded, and returns what it printed.
fn onegrid(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_onegrid"))
        .args(args)
        .output()
        .expect("run onegrid");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "onegrid {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// One HTTP/1.1 request; the status and the body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, serde_json::from_str(body).expect("JSON body"))
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `onegrid import --data-dir D --layer LAYER [--owner OWNER] <example file>`.
fn import(d: &str, layer: &str, owner: Option<&str>, file: &str) -> String {
    let file = example(file);
    let mut args = vec!["import", "--data-dir", d, "--layer", layer];
    if let Some(owner) = owner {
        args.extend(["--owner", owner]);
    }
    args.push(&file);
    onegrid(&args)
}

#[test]
fn the_own_district_guide_takes_an_empty_data_dir_to_a_server_routing_incidents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let out = import(&d, "boundaries", None, "boundaries.geojson");
    assert!(
        out.contains("jurisdictions   13 (levels replaced)"),
        "{out}"
    );
    let out = import(&d, "buildings", Some("gemeinde"), "buildings.geojson");
    assert!(out.contains("buildings       1455"), "{out}");
    let out = import(&d, "roads", Some("bauverwaltung"), "roads.geojson");
    assert!(out.contains("roads           1306"), "{out}");
    let out = import(&d, "pipelines", None, "pipelines.geojson");
    assert!(out.contains("pipelines       5"), "{out}");
    let out = onegrid(&["grid", "generate", "--data-dir", &d]);
    assert!(out.contains("street Vaduz (R48):"), "{out}");
    assert!(out.contains("corners on main roads"), "{out}");
    assert!(out.contains("generated "), "{out}");
    let out = import(&d, "departments", None, "departments.csv");
    assert!(out.contains("departments     5 (all replaced)"), "{out}");
    std::fs::copy(
        example("responsibility.toml"),
        dir.path().join("responsibility.toml"),
    )
    .expect("copy the rules");

    let mut child = Command::new(env!("CARGO_BIN_EXE_onegrid"))
        .args([
            "serve",
            "--data-dir",
            &d,
            "--no-demo",
            "--no-sim",
            "--addr",
            "127.0.0.1:0",
            "--site-dir",
            &PathBuf::from(&d).join("site").display().to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("the address line");
    let addr = first
        .trim()
        .strip_prefix("onegrid: http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    // It answers once the district is loaded.
    let mut ready = false;
    for _ in 0..300 {
        if TcpStream::connect(&addr).is_ok() {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ready, "the server did not start listening");

    let (status, rules) = http(&addr, "GET", "/api/v1/rules", "");
    assert_eq!(status, 200);
    assert_eq!(rules["skipped"], serde_json::json!([]), "{rules}");
    let report = |category: &str| {
        let body = serde_json::json!({
            "category": category, "lon": 9.5215, "lat": 47.1410, "description": "Städtle"
        });
        http(&addr, "POST", "/api/v1/incidents", &body.to_string())
    };
    let (status, road) = report("damaged_road");
    assert_eq!(status, 201, "{road}");
    assert_eq!(road["street_name"], "Vaduz", "{road}");
    assert!(
        road["grid_name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Vaduz第")),
        "{road}"
    );
    assert_eq!(
        road["responsibility"]["department"]["code"],
        "bauverwaltung"
    );
    assert_eq!(road["responsibility"]["rule"], "road-maintainer");
    let (status, fire) = report("fire_hazard");
    assert_eq!(status, 201, "{fire}");
    assert_eq!(fire["responsibility"]["department"]["code"], "feuerwehr");
    assert_eq!(
        fire["responsibility"]["department"]["name_zh"],
        "瓦杜兹消防队"
    );
    drop(server);
}
