//! README › "Your own district", as a newcomer runs it: the real `onegrid` binary, the commands
//! in the guide's order, on the example data set in `tests/fixtures/vaduz/`, then `onegrid serve
//! --no-demo` as a real process, and an incident reported to it over HTTP is located in a
//! generated grid and routed by the rules to a department of the CSV.

mod common;

use common::{example, http, onegrid, onegrid_with_input, serve};

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
    let out = onegrid_with_input(
        &[
            "user",
            "add",
            "maria",
            "--role",
            "duty_officer",
            "--data-dir",
            &d,
        ],
        "Vaduz-Dienst-2026\n",
    );
    assert!(out.contains("added maria (duty_officer)"), "{out}");

    let (server, addr, _) = serve(&d, &["--no-demo"]);

    let login = serde_json::json!({"username": "maria", "password": "Vaduz-Dienst-2026"});
    let (status, me, cookie) = http(&addr, "", "POST", "/api/v1/session", &login.to_string());
    assert_eq!(status, 200, "{me}");
    let cookie = cookie.expect("a session cookie");
    let (status, rules, _) = http(&addr, &cookie, "GET", "/api/v1/rules", "");
    assert_eq!(status, 200);
    assert_eq!(rules["skipped"], serde_json::json!([]), "{rules}");
    let report = |category: &str| {
        let body = serde_json::json!({
            "category": category, "lon": 9.5215, "lat": 47.1410, "description": "Städtle"
        });
        let (status, body, _) = http(
            &addr,
            &cookie,
            "POST",
            "/api/v1/incidents",
            &body.to_string(),
        );
        (status, body)
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
