//! The first start and the account commands, as an operator meets them: the real `onegrid`
//! binary prints a one-time admin password once, the first login must replace it, and
//! `onegrid user|apikey|screen|audit` work on the same data dir.

mod common;

use std::io::BufRead;

use common::{example, http, onegrid, onegrid_with_input, serve};

/// A data dir holding the small example district (no demo).
fn district() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display().to_string();
    let file = example("boundaries.geojson");
    onegrid(&["import", "--data-dir", &d, "--layer", "boundaries", &file]);
    onegrid(&["grid", "generate", "--data-dir", &d]);
    dir
}

/// Reads the server's output until the line naming `user`'s one-time password.
fn one_time_password(out: &mut impl BufRead, user: &str) -> String {
    let mut line = String::new();
    for _ in 0..200 {
        line.clear();
        if out.read_line(&mut line).expect("read the log") == 0 {
            break;
        }
        if line.contains(&format!("user {user} ")) && line.contains("one-time password ") {
            let rest = line.split("one-time password ").nth(1).expect("password");
            return rest
                .split_whitespace()
                .next()
                .expect("password")
                .to_string();
        }
    }
    panic!("no one-time password for {user} in the log");
}

#[test]
fn the_first_start_prints_a_one_time_admin_password_that_must_be_replaced() {
    let dir = district();
    let d = dir.path().display().to_string();
    let (server, addr, mut out) = serve(&d, &["--no-demo"]);
    let password = one_time_password(&mut out, "admin");
    assert_eq!(password.len(), 16);

    let login = serde_json::json!({"username": "admin", "password": password});
    let (status, me, cookie) = http(&addr, "", "POST", "/api/v1/session", &login.to_string());
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["must_change_password"], true);
    let cookie = cookie.expect("cookie");
    let (status, body, _) = http(&addr, &cookie, "GET", "/api/v1/incidents", "");
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "password_change_required");

    let change = serde_json::json!({
        "current_password": password, "new_password": "the-admins-own-2026"
    });
    let (status, body, fresh) = http(
        &addr,
        &cookie,
        "POST",
        "/api/v1/session/password",
        &change.to_string(),
    );
    assert_eq!(status, 204, "{body}");
    let fresh = fresh.expect("a fresh session");
    let (status, _, _) = http(&addr, &fresh, "GET", "/api/v1/incidents", "");
    assert_eq!(status, 200);
    let (status, _, _) = http(&addr, &cookie, "GET", "/api/v1/session", "");
    assert_eq!(status, 401, "the one-time session ended");
    let old = serde_json::json!({"username": "admin", "password": password});
    let (status, _, _) = http(&addr, "", "POST", "/api/v1/session", &old.to_string());
    assert_eq!(status, 401, "the one-time password is gone");
    drop(server);

    // A second start creates nothing and prints no password.
    let (server, _, out) = serve(&d, &["--no-demo"]);
    drop(server);
    let rest: String = out
        .lines()
        .map_while(Result::ok)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!rest.contains("password"), "{rest}");
    let db = std::fs::read(dir.path().join("onegrid.db")).expect("db");
    assert!(
        !db.windows(password.len()).any(|w| w == password.as_bytes()),
        "the one-time password is stored nowhere in clear"
    );
}

#[test]
fn the_account_commands_manage_users_keys_and_screens_on_the_data_dir() {
    let dir = district();
    let d = dir.path().display().to_string();
    let grid = {
        // The first generated grid of the example district.
        let (server, addr, _) = serve(&d, &["--no-demo"]);
        drop((server, addr));
        let out = onegrid_with_input(
            &[
                "user",
                "add",
                "ops",
                "--role",
                "duty_officer",
                "--data-dir",
                &d,
            ],
            "ops-password-2026\n",
        );
        assert!(out.contains("added ops"), "{out}");
        let (server, addr, _) = serve(&d, &["--no-demo"]);
        let login = serde_json::json!({"username": "ops", "password": "ops-password-2026"});
        let (_, _, cookie) = http(&addr, "", "POST", "/api/v1/session", &login.to_string());
        let (_, grids, _) = http(
            &addr,
            &cookie.expect("cookie"),
            "GET",
            "/api/v1/map/boundaries/grid",
            "",
        );
        drop(server);
        grids["features"][0]["properties"]["code"]
            .as_str()
            .expect("a grid")
            .to_string()
    };

    // The password comes from standard input, never from the arguments.
    let out = onegrid_with_input(
        &[
            "user",
            "add",
            "gw",
            "--role",
            "grid_worker",
            "--scope",
            &grid,
            "--data-dir",
            &d,
        ],
        "grid-worker-pass-1\n",
    );
    assert!(
        out.contains(&format!("added gw (grid_worker, scope {grid})")),
        "{out}"
    );
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_onegrid"))
        .args([
            "user",
            "add",
            "x",
            "--role",
            "street_officer",
            "--scope",
            &grid,
            "--data-dir",
            &d,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    assert!(
        !refused.status.success(),
        "no password on stdin, and a grid is no street"
    );

    let list = onegrid(&["user", "list", "--data-dir", &d]);
    assert!(list.contains("gw") && list.contains("grid_worker") && list.contains(&grid));
    onegrid(&["user", "disable", "gw", "--data-dir", &d]);
    assert!(onegrid(&["user", "list", "--data-dir", &d]).contains("disabled"));
    onegrid(&["user", "enable", "gw", "--data-dir", &d]);

    let key = onegrid(&["apikey", "add", "hotline-12345", "--data-dir", &d]);
    assert_eq!(key.lines().count(), 1, "only the key: {key:?}");
    assert_eq!(key.trim().len(), 43);
    let keys = onegrid(&["apikey", "list", "--data-dir", &d]);
    assert!(keys.contains("hotline-12345") && !keys.contains(key.trim()));

    let url = onegrid(&[
        "screen",
        "add",
        "hall",
        "--url",
        "https://ops.example",
        "--data-dir",
        &d,
    ]);
    assert!(
        url.trim().starts_with("https://ops.example/screen?token="),
        "{url}"
    );
    onegrid(&["screen", "revoke", "hall", "--data-dir", &d]);
    assert!(onegrid(&["screen", "list", "--data-dir", &d]).contains("hall"));

    let audit = onegrid(&["audit", "--data-dir", &d]);
    for action in [
        "user.added",
        "user.disabled",
        "user.enabled",
        "api_client.added",
        "screen.added",
        "screen.revoked",
        "layers.imported",
        "grids.generated",
    ] {
        assert!(audit.contains(action), "{action} in\n{audit}");
    }
    assert!(audit.contains("cli:"), "{audit}");
    let csv = onegrid(&["audit", "--csv", "--action", "user.", "--data-dir", &d]);
    assert!(csv.starts_with("id,at,actor"), "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.contains(",user.")), "{csv}");
}
