//! Deadlines, escalation, auto-close and duplicate suggestions, on a manual clock: the
//! escalations at 100 % and 150 % of the time allowed, once each across a restart; a resolved
//! case closing itself; a report near an open one of the same category offered as its
//! duplicate, merged or dismissed.

use onegrid_app::wire::Role;
use onegrid_tests::{assert_error, next_message, point_in_grid, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::cases::{act, report, step};

/// Messages from `ws` until one satisfies `want` (within `secs` seconds each).
async fn until(
    ws: &mut onegrid_tests::WsClient,
    secs: u64,
    want: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..200 {
        let m = next_message(ws, secs).await;
        if want(&m) {
            return m;
        }
    }
    panic!("no such message among the next 200");
}

async fn history_of(server: &TestServer, id: &Value) -> Vec<Value> {
    let (status, h) = onegrid_tests::get(server, &format!("/api/v1/incidents/{id}/history")).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    h.as_array().expect("array").clone()
}

fn of_kind<'a>(history: &'a [Value], kind: &str) -> Vec<&'a Value> {
    history.iter().filter(|h| h["kind"] == kind).collect()
}

#[tokio::test]
async fn deadlines_escalate_at_100_and_150_percent_once_each_across_a_restart_and_resolved_cases_close_themselves(
) {
    let clock = onegrid_server::clock::Clock::manual(chrono::Utc::now());
    let options = || onegrid_tests::Options {
        clock: Some(clock.clone()),
        ..Default::default()
    };
    let server = TestServer::start_in(onegrid_tests::Data::demo().await.expect("data"), options())
        .await
        .expect("server");
    let duty = server.duty().clone();
    let (lon, lat, _) = point_in_grid(&server, 8).await.expect("grid");
    let tree = report(&duty, &server, lon, lat, "fallen_tree").await;
    let created: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(tree["created_at"].clone()).expect("created_at");
    let due = |k: &str| -> chrono::DateTime<chrono::Utc> {
        serde_json::from_value(tree[k].clone()).expect(k)
    };
    // The defaults: a fallen tree dispatched within 30 minutes, cleared within 2 hours.
    assert_eq!(
        due("dispatch_due_at") - created,
        chrono::Duration::minutes(30)
    );
    assert_eq!(
        due("resolve_due_at") - created,
        chrono::Duration::minutes(120)
    );
    assert_eq!(tree["escalation"], 0);
    let street = tree["street_code"].as_str().expect("street").to_string();
    server
        .add_user("c_street", Role::StreetOfficer, Some(&street))
        .await
        .expect("street officer");
    let mut ws = duty.ws(&server.ws_url("")).await;
    let id = tree["id"].clone();
    let mine = |level: u64| {
        let id = id.clone();
        move |m: &Value| {
            m["type"] == "incident"
                && m["incident"]["id"] == id
                && m["incident"]["escalation"] == level
        }
    };

    // At the deadline: the street's officers.
    clock.set(created + chrono::Duration::minutes(31));
    let first = until(&mut ws, 10, mine(1)).await;
    assert_eq!(
        first["incident"]["status"], "reported",
        "an escalation does not move the case"
    );
    let history = history_of(&server, &id).await;
    let escalated = of_kind(&history, "incident.escalated");
    assert_eq!(escalated.len(), 1, "{history:?}");
    assert_eq!(escalated[0]["detail"]["phase"], "dispatch");
    assert_eq!(escalated[0]["detail"]["level"], 1);
    assert_eq!(escalated[0]["detail"]["notified_role"], "street_officer");
    assert_eq!(escalated[0]["detail"]["notified"], json!(["c_street"]));
    assert_eq!(escalated[0]["actor"], "system:onegrid");

    // A restart at the same time repeats nothing.
    let data = server.stop_keeping_data().await.expect("data");
    let server = TestServer::start_in(data, options())
        .await
        .expect("restarted");
    let duty = server.duty().clone();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let history = history_of(&server, &id).await;
    assert_eq!(
        of_kind(&history, "incident.escalated").len(),
        1,
        "{history:?}"
    );

    // At 150 % of the time allowed (45 minutes): the district's duty officers.
    let mut ws = duty.ws(&server.ws_url("")).await;
    clock.set(created + chrono::Duration::minutes(46));
    let second = until(&mut ws, 10, mine(2)).await;
    let history = history_of(&server, &id).await;
    let escalated = of_kind(&history, "incident.escalated");
    assert_eq!(escalated.len(), 2, "{history:?}");
    assert_eq!(escalated[1]["detail"]["level"], 2);
    assert_eq!(escalated[1]["detail"]["notified_role"], "duty_officer");
    assert!(
        escalated[1]["detail"]["notified"]
            .as_array()
            .is_some_and(|n| n.iter().any(|u| u == "t_duty")),
        "{}",
        escalated[1]
    );

    // Dispatched: a new phase, its own deadline (2 hours from the report), escalated afresh.
    let dispatched = step(
        &duty,
        &server,
        &second["incident"],
        json!({"action": "dispatch", "reason": "已联系园林部门"}),
    )
    .await;
    assert_eq!(dispatched["escalation"], 0);
    clock.set(created + chrono::Duration::minutes(121));
    until(&mut ws, 10, mine(1)).await;
    let history = history_of(&server, &id).await;
    let escalated = of_kind(&history, "incident.escalated");
    assert_eq!(escalated.len(), 3, "{history:?}");
    assert_eq!(escalated[2]["detail"]["phase"], "resolve");

    // Resolved, and nobody closes it: it closes itself after the configured 7 days.
    let (_, now) = onegrid_tests::get(&server, &format!("/api/v1/incidents/{id}")).await;
    let accepted = step(&duty, &server, &now, json!({"action": "accept"})).await;
    let resolved = step(
        &duty,
        &server,
        &accepted,
        json!({"action": "resolve", "note": "树已移除"}),
    )
    .await;
    let resolved_at = clock.now();
    clock.set(resolved_at + chrono::Duration::days(6));
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    // (The sessions of a week ago have expired on this clock.)
    let later = server
        .session_for("c_later", Role::DutyOfficer, None)
        .await
        .expect("a new session");
    let still: Value = later
        .client
        .get(server.url(&format!("/api/v1/incidents/{id}")))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(still["status"], "resolved", "not before the 7 days");
    let mut ws = later.ws(&server.ws_url("")).await;
    clock.set(resolved_at + chrono::Duration::days(7) + chrono::Duration::minutes(1));
    let closed = until(&mut ws, 10, |m| {
        m["type"] == "incident"
            && m["incident"]["id"] == resolved["id"]
            && m["incident"]["status"] == "closed"
    })
    .await;
    assert_eq!(closed["incident"]["status"], "closed");
    let last = server
        .session_for("c_last", Role::DutyOfficer, None)
        .await
        .expect("a session on that day");
    let history: Vec<Value> = last
        .client
        .get(server.url(&format!("/api/v1/incidents/{id}/history")))
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    let last = history.last().expect("events");
    assert_eq!(last["kind"], "incident.closed");
    assert_eq!(last["detail"]["auto"], true);
    assert_eq!(last["from"], "resolved");
    assert_eq!(
        of_kind(&history, "incident.escalated").len(),
        3,
        "nothing escalates once resolved"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_report_near_an_open_one_of_the_same_category_is_offered_as_its_duplicate() {
    let server = TestServer::start_with(onegrid_tests::Options {
        manual_clock: true,
        ..Default::default()
    })
    .await
    .expect("server");
    let duty = server.duty().clone();
    let (lon, lat, _) = point_in_grid(&server, 12).await.expect("grid");
    let first = report(&duty, &server, lon, lat, "garbage").await;
    assert!(first.get("duplicate_of").is_none(), "{first}");
    // 20 m away, same category: offered as its duplicate.
    let near = report(&duty, &server, lon, lat + 0.00018, "garbage").await;
    assert_eq!(near["duplicate_of"], first["id"], "{near}");
    // 20 m away, another category; 80 m away, same category: no.
    let other = report(&duty, &server, lon, lat + 0.00018, "fire_hazard").await;
    assert!(other.get("duplicate_of").is_none(), "{other}");
    let far = report(&duty, &server, lon, lat + 0.00072, "garbage").await;
    assert!(far.get("duplicate_of").is_none(), "{far}");
    // Dismissed: the suggestion goes, the state stays, the event says which it was.
    let again = report(&duty, &server, lon + 0.00005, lat, "garbage").await;
    assert_eq!(again["duplicate_of"], first["id"]);
    let (status, answer) = act(
        &duty,
        &server,
        &other["id"],
        json!({"action": "dismiss", "seq": other["seq"]}),
    )
    .await;
    assert_error(
        "nothing to dismiss",
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no_duplicate_suggested",
    );
    let dismissed = step(&duty, &server, &again, json!({"action": "dismiss"})).await;
    assert_eq!(dismissed["status"], "reported");
    assert!(dismissed.get("duplicate_of").is_none(), "{dismissed}");
    let history = history_of(&server, &again["id"]).await;
    assert_eq!(
        history.last().expect("event")["kind"],
        "incident.duplicate_dismissed"
    );
    assert_eq!(
        history.last().expect("event")["detail"]["dismissed"],
        first["id"]
    );
    // Merged without naming `into`: into the suggested one.
    let merged = step(&duty, &server, &near, json!({"action": "merge"})).await;
    assert_eq!(merged["merged_into"], first["id"]);
    // A day later the first one is no longer recent enough to be suggested.
    server.clock().advance(chrono::Duration::hours(25));
    let fresh = server
        .session_for("c_fresh", Role::DutyOfficer, None)
        .await
        .expect("a session on the later day");
    let later = report(&fresh, &server, lon, lat + 0.00009, "garbage").await;
    assert!(later.get("duplicate_of").is_none(), "{later}");
    server.stop().await;
}
