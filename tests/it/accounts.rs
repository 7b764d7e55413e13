//! Accounts and sessions against a real server: login, expiry and revocation on a manual clock,
//! throttling, restart, screens, API keys, and the audit trail.

use chrono::Duration;
use onegrid_app::wire::Role;
use onegrid_tests::{assert_error, point_in_grid, Options, Session, TestServer, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn whoami(session: &Session, server: &TestServer) -> (StatusCode, Value) {
    let r = session
        .client
        .get(server.url("/api/v1/session"))
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn manual_server() -> TestServer {
    TestServer::start_with(Options {
        manual_clock: true,
        ..Options::default()
    })
    .await
    .expect("server")
}

#[tokio::test]
async fn a_login_sets_a_strict_http_only_cookie_and_says_who_is_logged_in() {
    let server = TestServer::start().await.expect("server");
    server
        .add_user("zhang", Role::DutyOfficer, None)
        .await
        .expect("user");
    let r = reqwest::Client::new()
        .post(server.url("/api/v1/session"))
        .header("origin", server.url(""))
        .json(&json!({"username": "zhang", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_string();
    for part in [
        "onegrid_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=604800",
    ] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["name"], "zhang");
    assert_eq!(body["role"], "duty_officer");
    assert_eq!(body["scope"]["kind"], "district");

    // Behind TLS (a proxy says so), the cookie is Secure.
    let r = reqwest::Client::new()
        .post(server.url("/api/v1/session"))
        .header("origin", server.url("").replacen("http://", "https://", 1))
        .header("x-forwarded-proto", "https")
        .json(&json!({"username": "zhang", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    let cookie = r.headers()["set-cookie"].to_str().expect("ascii");
    assert!(cookie.contains("; Secure"), "{cookie}");

    // Wrong passwords and unknown users get the same answer.
    for (user, password) in [("zhang", "wrong-password"), ("nobody", PASSWORD)] {
        let r = reqwest::Client::new()
            .post(server.url("/api/v1/session"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .expect("login");
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        assert_error(
            "bad login",
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
        );
    }
    // Without a login: 401 in JSON for the API, a redirect for pages.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = anonymous
        .get(server.url("/api/v1/incidents"))
        .send()
        .await
        .expect("get");
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    assert_error(
        "anonymous list",
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let r = anonymous.get(server.url("/")).send().await.expect("page");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login?next=/");
    let r = anonymous
        .get(server.url("/login"))
        .send()
        .await
        .expect("login page");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn sessions_end_when_idle_at_their_absolute_limit_and_on_logout() {
    let server = manual_server().await;
    let clock = server.clock().clone();
    server
        .add_user("li", Role::DutyOfficer, None)
        .await
        .expect("user");

    // Idle: 8 hours without a request ends the session.
    let idle = server.login("li", PASSWORD).await.expect("login");
    clock.advance(Duration::hours(7) + Duration::minutes(59));
    assert_eq!(
        whoami(&idle, &server).await.0,
        StatusCode::OK,
        "used within 8 h"
    );
    clock.advance(Duration::hours(7) + Duration::minutes(59));
    assert_eq!(
        whoami(&idle, &server).await.0,
        StatusCode::OK,
        "the use renewed it"
    );
    clock.advance(Duration::hours(8) + Duration::seconds(1));
    assert_eq!(
        whoami(&idle, &server).await.0,
        StatusCode::UNAUTHORIZED,
        "idle"
    );

    // Absolute: used every few hours, it still ends 7 days after the login.
    let busy = server.login("li", PASSWORD).await.expect("login");
    for _ in 0..(7 * 24 / 6 - 1) {
        clock.advance(Duration::hours(6));
        assert_eq!(whoami(&busy, &server).await.0, StatusCode::OK);
    }
    clock.advance(Duration::hours(6) + Duration::seconds(1));
    assert_eq!(
        whoami(&busy, &server).await.0,
        StatusCode::UNAUTHORIZED,
        "7 days"
    );

    // Logout ends it at once; the cookie is cleared.
    let s = server.login("li", PASSWORD).await.expect("login");
    let r = s
        .client
        .delete(server.url("/api/v1/session"))
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .contains("Max-Age=0"));
    assert_eq!(whoami(&s, &server).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn disabling_a_user_and_changing_a_password_revoke_its_sessions_at_once() {
    let server = TestServer::start().await.expect("server");
    server
        .add_user("wang", Role::DutyOfficer, None)
        .await
        .expect("user");
    let first = server.login("wang", PASSWORD).await.expect("login");
    let second = server.login("wang", PASSWORD).await.expect("login");
    let mut ws = first.ws(&server.ws_url("")).await;
    assert_eq!(
        onegrid_tests::next_message(&mut ws, 10).await["type"],
        "hello"
    );

    // A new password: every session ends; the one that changed it gets a fresh one.
    let r = second
        .client
        .post(server.url("/api/v1/session/password"))
        .json(&json!({"current_password": PASSWORD, "new_password": "ein-neues-Passwort-2026"}))
        .send()
        .await
        .expect("change");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let fresh = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("cookie")
        .to_string();
    assert_eq!(whoami(&first, &server).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&second, &server).await.0, StatusCode::UNAUTHORIZED);
    let renewed = Session::with_cookie(&server, &fresh, "wang");
    assert_eq!(whoami(&renewed, &server).await.0, StatusCode::OK);
    assert!(
        server.login("wang", PASSWORD).await.is_err(),
        "old password"
    );
    let again = server
        .login("wang", "ein-neues-Passwort-2026")
        .await
        .expect("new password");

    // A weak new password is refused with the reason.
    let r = again
        .client
        .post(server.url("/api/v1/session/password"))
        .json(&json!({"current_password": "ein-neues-Passwort-2026", "new_password": "short"}))
        .send()
        .await
        .expect("change");
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    assert_error(
        "weak",
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "weak_password",
    );

    // Disabled: its sessions end at once, and it cannot log in.
    server
        .with_accounts(async |a, me| Ok(a.set_disabled(me, "wang", true).await?))
        .await
        .expect("disable");
    assert_eq!(whoami(&again, &server).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&renewed, &server).await.0, StatusCode::UNAUTHORIZED);
    assert!(server
        .login("wang", "ein-neues-Passwort-2026")
        .await
        .is_err());
}

#[tokio::test]
async fn five_failures_throttle_a_user_and_an_address_for_fifteen_minutes() {
    let server = manual_server().await;
    server
        .add_user("zhao", Role::DutyOfficer, None)
        .await
        .expect("user");
    let attempt = |user: &'static str, password: &'static str| {
        let url = server.url("/api/v1/session");
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .json(&json!({"username": user, "password": password}))
                .send()
                .await
                .expect("login");
            let retry = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            (r.status(), retry)
        }
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("zhao", "wrong-one").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, retry) = attempt("zhao", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry = retry.expect("Retry-After");
    assert!((890..=900).contains(&retry), "{retry} s");
    // The address is throttled too (every attempt here comes from 127.0.0.1).
    assert_eq!(attempt("other", "x").await.0, StatusCode::TOO_MANY_REQUESTS);

    server
        .clock()
        .advance(Duration::minutes(15) + Duration::seconds(1));
    assert_eq!(attempt("zhao", PASSWORD).await.0, StatusCode::OK);

    // Every attempt is in the audit trail.
    let admin = server
        .session_for("audit_admin", Role::Admin, None)
        .await
        .expect("admin");
    let rows: Vec<Value> = admin
        .client
        .get(server.url("/api/v1/audit?limit=1000"))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    let count = |action: &str| rows.iter().filter(|r| r["action"] == action).count();
    assert_eq!(count("login_failed"), 5);
    assert_eq!(count("login_throttled"), 2);
    assert!(count("login") >= 2);
    assert!(rows.iter().all(|r| r["address"] != ""));
}

#[tokio::test]
async fn sessions_screens_and_keys_survive_a_restart() {
    let server = TestServer::start().await.expect("server");
    server
        .add_user("chen", Role::DutyOfficer, None)
        .await
        .expect("user");
    let session = server.login("chen", PASSWORD).await.expect("login");
    let screen = server.screen("lobby").await.expect("screen");
    let cookie = session.cookie.clone();
    let screen_cookie = screen.cookie.clone();
    let data = server.stop_keeping_data().await.expect("data dir");
    let server = TestServer::start_in(data, Options::default())
        .await
        .expect("restart");
    let session = Session::with_cookie(&server, &cookie, "chen");
    assert_eq!(whoami(&session, &server).await.0, StatusCode::OK);
    let screen = Session::with_cookie(&server, &screen_cookie, "lobby");
    let (status, me) = whoami(&screen, &server).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["kind"], "screen");
    assert_eq!(me["role"], "screen");
}

#[tokio::test]
async fn a_screen_link_opens_the_wall_without_a_login_and_changes_nothing() {
    let server = TestServer::start().await.expect("server");
    let token = server.screen_token("wall-1").await.expect("screen");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = browser
        .get(server.url(&format!("/screen?token={token}")))
        .send()
        .await
        .expect("screen link");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        cookie.starts_with(&format!("onegrid_screen={token};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let wall = Session::with_cookie(&server, cookie.split(';').next().expect("pair"), "wall-1");
    let page = wall.client.get(server.url("/")).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let list = wall
        .client
        .get(server.url("/api/v1/incidents"))
        .send()
        .await
        .expect("list");
    assert_eq!(list.status(), StatusCode::OK);
    let (lon, lat, _) = point_in_grid(&server, 3).await.expect("grid");
    let r = wall
        .client
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "garbage", "lon": lon, "lat": lat, "description": "x"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Revoked: the wall is logged out at its next request.
    server
        .with_accounts(async |a, me| {
            Ok(
                a.revoke_token(me, onegrid_server::store::TokenKind::Screen, "wall-1")
                    .await?,
            )
        })
        .await
        .expect("revoke");
    let list = wall
        .client
        .get(server.url("/api/v1/incidents"))
        .send()
        .await
        .expect("list");
    assert_eq!(list.status(), StatusCode::UNAUTHORIZED);
    let r = browser
        .get(server.url(&format!("/screen?token={token}")))
        .send()
        .await
        .expect("screen link");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_api_key_has_its_own_rate_limit() {
    // On a manual clock the minute does not pass however slowly the requests go (a loaded
    // machine, a remote database).
    let server = TestServer::start_with(Options {
        manual_clock: true,
        ..Options::default()
    })
    .await
    .expect("server");
    let key = server.api_key("hotline", None).await.expect("key");
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..610 {
        let r = client
            .get(server.url("/api/v1/categories"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("get");
        let retry = r.headers().get("retry-after").is_some();
        statuses.push((r.status(), retry));
    }
    let ok = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    let limited = statuses
        .iter()
        .filter(|(s, retry)| *s == StatusCode::TOO_MANY_REQUESTS && *retry)
        .count();
    assert!((600..=605).contains(&ok), "{ok} allowed");
    assert_eq!(ok + limited, 610);
    // Another caller is not held up by that key.
    assert_eq!(
        server
            .client()
            .get(server.url("/api/v1/categories"))
            .send()
            .await
            .expect("get")
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_write_is_audited_with_its_seq_and_the_trail_cannot_be_changed() {
    let server = TestServer::start().await.expect("server");
    let admin = server
        .session_for("root", Role::Admin, None)
        .await
        .expect("admin");
    let (lon, lat, _) = point_in_grid(&server, 5).await.expect("grid");
    let incident: Value = server
        .client()
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": "garbage", "lon": lon, "lat": lat, "description": "审计"}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let id = incident["id"].as_i64().expect("id");
    server
        .client()
        .post(server.url(&format!("/api/v1/incidents/{id}/actions")))
        .json(&json!({"action": "triage", "seq": incident["seq"]}))
        .send()
        .await
        .expect("status");
    let rows: Vec<Value> = admin
        .client
        .get(server.url("/api/v1/audit?action=incident."))
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["action"], "incident.triaged");
    assert_eq!(rows[1]["action"], "incident.reported");
    for r in &rows {
        assert_eq!(r["actor"], "user:t_duty");
        assert_eq!(r["role"], "duty_officer");
        assert_eq!(r["target"], id.to_string());
        assert_eq!(r["address"], "127.0.0.1");
        assert!(r["seq"].as_i64().is_some());
    }
    assert_eq!(rows[1]["seq"], incident["seq"]);

    let csv = admin
        .client
        .get(server.url("/api/v1/audit?format=csv&action=incident."))
        .send()
        .await
        .expect("csv");
    assert!(csv.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/csv"));
    let text = csv.text().await.expect("text");
    assert!(text.contains("id,at,actor,role,address,action,target,detail,seq"));
    assert_eq!(text.lines().count(), 3, "{text}");

    // Not even the database lets the trail change, on either backend.
    let sqls = ["UPDATE audit SET actor = 'someone'", "DELETE FROM audit"];
    match server.database_url() {
        Some(url) => {
            let db = sqlx::PgPool::connect(url).await.expect("db");
            for sql in sqls {
                let err = sqlx::query(sql).execute(&db).await.expect_err(sql);
                assert!(err.to_string().contains("audit trail"), "{err}");
            }
            db.close().await;
        }
        None => {
            let db = sqlx::SqlitePool::connect(&format!(
                "sqlite://{}",
                server.data_path().join("onegrid.db").display()
            ))
            .await
            .expect("db");
            for sql in sqls {
                let err = sqlx::query(sql).execute(&db).await.expect_err(sql);
                assert!(err.to_string().contains("audit trail"), "{err}");
            }
            db.close().await;
        }
    }
}
