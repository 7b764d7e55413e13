//! Case work through the API: every transition and every illegal one, the second of two
//! concurrent actions refused with the current state, a dispatch at a seam needing a decision,
//! a department accepting and resolving its own cases only, a merge, the history, and every
//! event live on the feed.

use onegrid_app::wire::Role;
use onegrid_tests::{assert_error, next_message, point_in_grid, Session, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub(crate) async fn report(
    s: &Session,
    server: &TestServer,
    lon: f64,
    lat: f64,
    category: &str,
) -> Value {
    let r = s
        .client
        .post(server.url("/api/v1/incidents"))
        .json(&json!({"category": category, "lon": lon, "lat": lat, "description": "测试案件"}))
        .send()
        .await
        .expect("report");
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.expect("json")
}

async fn departments(s: &Session, server: &TestServer) -> Vec<Value> {
    s.client
        .get(server.url("/api/v1/departments"))
        .send()
        .await
        .expect("departments")
        .json()
        .await
        .expect("json")
}

/// POSTs an action; the status and the JSON body.
pub(crate) async fn act(
    s: &Session,
    server: &TestServer,
    id: &Value,
    body: Value,
) -> (StatusCode, Value) {
    let r = s
        .client
        .post(server.url(&format!("/api/v1/incidents/{id}/actions")))
        .json(&body)
        .send()
        .await
        .expect("action");
    let status = r.status();
    (status, r.json().await.expect("json"))
}

/// The action with the incident's current `seq`, which must succeed; the new state.
pub(crate) async fn step(
    s: &Session,
    server: &TestServer,
    incident: &Value,
    mut body: Value,
) -> Value {
    body["seq"] = incident["seq"].clone();
    let (status, answer) = act(s, server, &incident["id"], body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}: {answer}");
    assert!(answer["seq"].as_i64() > incident["seq"].as_i64());
    answer
}

fn allowed(conflict: &Value) -> Vec<&str> {
    conflict["error"]["allowed"]
        .as_array()
        .expect("allowed")
        .iter()
        .filter_map(|a| a.as_str())
        .collect()
}

#[tokio::test]
async fn a_case_goes_from_report_to_closure_and_every_step_is_in_its_history_and_live() {
    let server = TestServer::start().await.expect("server");
    let duty = server.duty().clone();
    let (lon, lat, _) = point_in_grid(&server, 3).await.expect("grid");
    let mut ws = duty.ws(&server.ws_url("")).await;
    assert_eq!(next_message(&mut ws, 10).await["type"], "hello");

    let reported = report(&duty, &server, lon, lat, "garbage").await;
    assert_eq!(
        next_message(&mut ws, 10).await["incident"]["status"],
        "reported"
    );
    let department = reported["responsibility"]["department"]["code"]
        .as_str()
        .expect("a proposed department inside a grid")
        .to_string();
    assert_eq!(reported["responsibility"]["review_required"], false);

    // Illegal from `reported`: 409 with the state and what is allowed.
    for action in ["accept", "resolve", "close", "reopen"] {
        let mut body = json!({"action": action, "seq": reported["seq"]});
        if action == "resolve" {
            body["note"] = "x".into();
        }
        if action == "reopen" {
            body["reason"] = "x".into();
        }
        let (status, answer) = act(&duty, &server, &reported["id"], body).await;
        assert_error(
            action,
            status,
            &answer,
            StatusCode::CONFLICT,
            "illegal_transition",
        );
        assert_eq!(answer["error"]["incident"], reported);
        assert_eq!(allowed(&answer), ["triage", "dispatch", "reject", "merge"]);
    }

    // Triage with a corrected category: analysed again for it.
    let triaged = step(
        &duty,
        &server,
        &reported,
        json!({"action": "triage", "category": "damaged_road", "note": "现场核实为路面破损"}),
    )
    .await;
    assert_eq!(triaged["status"], "triaged");
    assert_eq!(triaged["category"], "damaged_road");
    let proposed = triaged["responsibility"]["department"]["code"]
        .as_str()
        .unwrap_or(&department)
        .to_string();

    // A department that does not exist is refused.
    let (status, answer) = act(
        &duty,
        &server,
        &triaged["id"],
        json!({"action": "dispatch", "seq": triaged["seq"], "department": "no-such-dept", "reason": "x"}),
    )
    .await;
    assert_error(
        "unknown department",
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_department",
    );
    let dispatched = step(&duty, &server, &triaged, json!({"action": "dispatch"})).await;
    assert_eq!(dispatched["status"], "dispatched");
    assert_eq!(dispatched["department"], proposed.as_str());

    // The department's operator accepts and resolves; another department's may not.
    let own = server
        .session_for("c_dept", Role::DepartmentOperator, Some(&proposed))
        .await
        .expect("operator");
    let departments = departments(&duty, &server).await;
    let stranger_code = departments
        .iter()
        .filter_map(|d| d["code"].as_str())
        .find(|c| *c != proposed)
        .expect("a second department");
    let stranger = server
        .session_for("c_other", Role::DepartmentOperator, Some(stranger_code))
        .await
        .expect("operator");
    let (status, answer) = act(
        &stranger,
        &server,
        &dispatched["id"],
        json!({"action": "accept", "seq": dispatched["seq"]}),
    )
    .await;
    assert!(
        status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
        "another department: {status} {answer}"
    );
    let (status, answer) = act(
        &own,
        &server,
        &dispatched["id"],
        json!({"action": "triage", "seq": dispatched["seq"]}),
    )
    .await;
    assert_error(
        "operator triage",
        status,
        &answer,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let accepted = step(&own, &server, &dispatched, json!({"action": "accept"})).await;
    assert_eq!(accepted["status"], "in_progress");
    let (status, answer) = act(
        &own,
        &server,
        &accepted["id"],
        json!({"action": "resolve", "seq": accepted["seq"]}),
    )
    .await;
    assert_error(
        "resolve without a note",
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "note_required",
    );
    let resolved = step(
        &own,
        &server,
        &accepted,
        json!({"action": "resolve", "note": "已修补路面"}),
    )
    .await;
    assert_eq!(resolved["status"], "resolved");

    // Reopened (with a reason), dispatched again, and finally closed by an officer.
    let reopened = step(
        &duty,
        &server,
        &resolved,
        json!({"action": "reopen", "reason": "群众反映仍有坑洞"}),
    )
    .await;
    assert_eq!(reopened["status"], "triaged");
    let again = step(&duty, &server, &reopened, json!({"action": "dispatch"})).await;
    let again = step(&own, &server, &again, json!({"action": "accept"})).await;
    let again = step(
        &own,
        &server,
        &again,
        json!({"action": "resolve", "note": "已重新修补"}),
    )
    .await;
    let closed = step(&duty, &server, &again, json!({"action": "close"})).await;
    assert_eq!(closed["status"], "closed");
    let (status, answer) = act(
        &duty,
        &server,
        &closed["id"],
        json!({"action": "close", "seq": closed["seq"]}),
    )
    .await;
    assert_error(
        "close twice",
        status,
        &answer,
        StatusCode::CONFLICT,
        "illegal_transition",
    );
    assert_eq!(allowed(&answer), ["reopen"]);

    // Every step live, in order, with the state it produced.
    let mut live = Vec::new();
    for _ in 0..9 {
        let m = next_message(&mut ws, 10).await;
        assert_eq!(m["type"], "incident", "{m}");
        live.push((m["seq"].clone(), m["incident"]["status"].clone()));
    }
    let statuses: Vec<&str> = live.iter().map(|(_, s)| s.as_str().unwrap_or("")).collect();
    assert_eq!(
        statuses,
        [
            "triaged",
            "dispatched",
            "in_progress",
            "resolved",
            "triaged",
            "dispatched",
            "in_progress",
            "resolved",
            "closed",
        ],
        "{live:?}"
    );

    // The history: every event, oldest first, who, from, to and why.
    let (status, history) = onegrid_tests::get(
        &server,
        &format!("/api/v1/incidents/{}/history", closed["id"]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let history = history.as_array().expect("array").clone();
    let kinds: Vec<&str> = history.iter().filter_map(|h| h["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "incident.reported",
            "incident.triaged",
            "incident.dispatched",
            "incident.accepted",
            "incident.resolved",
            "incident.reopened",
            "incident.dispatched",
            "incident.accepted",
            "incident.resolved",
            "incident.closed",
        ]
    );
    assert!(history
        .windows(2)
        .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64()));
    assert_eq!(history.last().expect("last")["seq"], closed["seq"]);
    assert_eq!(history[1]["from"], "reported");
    assert_eq!(history[1]["to"], "triaged");
    assert_eq!(history[1]["actor"], format!("user:{}", duty.username));
    assert_eq!(
        history[1]["detail"]["category"],
        json!({"from": "garbage", "to": "damaged_road"})
    );
    assert_eq!(history[1]["detail"]["note"], "现场核实为路面破损");
    assert_eq!(history[2]["detail"]["department"], proposed.as_str());
    assert_eq!(history[3]["actor"], "user:c_dept");
    assert_eq!(history[4]["detail"]["note"], "已修补路面");
    assert_eq!(history[5]["detail"]["reason"], "群众反映仍有坑洞");
    assert_eq!(history[5]["from"], "resolved");
    // Out of scope: no such incident, its history neither.
    let outsider = server
        .session_for("c_out", Role::DepartmentOperator, Some(stranger_code))
        .await
        .expect("operator");
    let r = outsider
        .client
        .get(server.url(&format!("/api/v1/incidents/{}/history", closed["id"])))
        .send()
        .await
        .expect("history");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn two_officers_acting_at_once_one_wins_and_the_other_is_told_the_current_state() {
    let server = TestServer::start().await.expect("server");
    let duty = server.duty().clone();
    let other = server
        .session_for("c_second", Role::DutyOfficer, None)
        .await
        .expect("second officer");
    let (lon, lat, _) = point_in_grid(&server, 4).await.expect("grid");
    for round in 0..10 {
        let incident = report(&duty, &server, lon, lat, "garbage").await;
        let seq = incident["seq"].clone();
        // Both decided on the same seq: one triages, the other rejects.
        let (a, b) = tokio::join!(
            act(
                &duty,
                &server,
                &incident["id"],
                json!({"action": "triage", "seq": seq})
            ),
            act(
                &other,
                &server,
                &incident["id"],
                json!({"action": "reject", "seq": seq, "reason": "重复"})
            ),
        );
        let (winner, loser) = match (a.0, b.0) {
            (StatusCode::OK, StatusCode::CONFLICT) => (a.1, b.1),
            (StatusCode::CONFLICT, StatusCode::OK) => (b.1, a.1),
            other => panic!("round {round}: exactly one wins: {other:?} {} {}", a.1, b.1),
        };
        assert_eq!(loser["error"]["code"], "stale", "{loser}");
        assert_eq!(
            loser["error"]["incident"], winner,
            "the loser sees the winner's state"
        );
        // One event only: the history has the report and the winner's action.
        let (_, history) = onegrid_tests::get(
            &server,
            &format!("/api/v1/incidents/{}/history", incident["id"]),
        )
        .await;
        assert_eq!(history.as_array().map(Vec::len), Some(2), "{history}");
    }
    server.stop().await;
}

#[tokio::test]
async fn at_a_seam_dispatch_needs_the_department_and_the_reason() {
    let server = TestServer::start().await.expect("server");
    let duty = server.duty().clone();
    // A vertex of a grid's ring is on the boundary it shares with its neighbours.
    let fc: Value = duty
        .client
        .get(server.url("/api/v1/map/boundaries/grid"))
        .send()
        .await
        .expect("grids")
        .json()
        .await
        .expect("json");
    let vertex = &fc["features"][10]["geometry"]["coordinates"][0][0][1];
    let (lon, lat) = (
        vertex[0].as_f64().expect("lon"),
        vertex[1].as_f64().expect("lat"),
    );
    let incident = report(&duty, &server, lon, lat, "damaged_road").await;
    assert_eq!(
        incident["responsibility"]["review_required"], true,
        "{incident}"
    );
    let departments = departments(&duty, &server).await;
    let chosen = departments[0]["code"].as_str().expect("code");
    for (what, body) in [
        (
            "neither",
            json!({"action": "dispatch", "seq": incident["seq"]}),
        ),
        (
            "no reason",
            json!({"action": "dispatch", "seq": incident["seq"], "department": chosen}),
        ),
        (
            "no department",
            json!({"action": "dispatch", "seq": incident["seq"], "reason": "水管在下"}),
        ),
    ] {
        let (status, answer) = act(&duty, &server, &incident["id"], body).await;
        assert_error(
            what,
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "decision_required",
        );
    }
    let dispatched = step(
        &duty,
        &server,
        &incident,
        json!({"action": "dispatch", "department": chosen, "reason": "路面下为供水主管，由水务牵头"}),
    )
    .await;
    assert_eq!(dispatched["department"], chosen);
    let (_, history) = onegrid_tests::get(
        &server,
        &format!("/api/v1/incidents/{}/history", incident["id"]),
    )
    .await;
    let decision = &history[1];
    assert_eq!(decision["kind"], "incident.dispatched");
    assert_eq!(decision["detail"]["department"], chosen);
    assert_eq!(decision["detail"]["reason"], "路面下为供水主管，由水务牵头");
    assert_eq!(decision["detail"]["seam_decision"], true);
    // The chosen department now sees it.
    let operator = server
        .session_for("c_seam_dept", Role::DepartmentOperator, Some(chosen))
        .await
        .expect("operator");
    let r = operator
        .client
        .get(server.url(&format!("/api/v1/incidents/{}", incident["id"])))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn a_duplicate_is_merged_into_an_open_incident_and_both_record_it() {
    let server = TestServer::start().await.expect("server");
    let duty = server.duty().clone();
    let (lon, lat, _) = point_in_grid(&server, 6).await.expect("grid");
    let first = report(&duty, &server, lon, lat, "fallen_tree").await;
    let second = report(&duty, &server, lon + 1e-5, lat, "fallen_tree").await;
    for (what, body, code) in [
        (
            "into itself",
            json!({"action": "merge", "seq": second["seq"], "into": second["id"]}),
            "merge_target",
        ),
        (
            "into nothing",
            json!({"action": "merge", "seq": second["seq"], "into": 99_999_999}),
            "merge_target",
        ),
        (
            "with a stray field",
            json!({"action": "merge", "seq": second["seq"], "into": first["id"], "department": "x"}),
            "unexpected_field",
        ),
    ] {
        let (status, answer) = act(&duty, &server, &second["id"], body).await;
        assert_error(
            what,
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        );
    }
    // Nothing suggested and no `into`: refused.
    let lone = report(&duty, &server, lon, lat, "fire_hazard").await;
    let (status, answer) = act(
        &duty,
        &server,
        &lone["id"],
        json!({"action": "merge", "seq": lone["seq"]}),
    )
    .await;
    assert_error(
        "without into",
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "into_required",
    );
    let merged = step(
        &duty,
        &server,
        &second,
        json!({"action": "merge", "into": first["id"]}),
    )
    .await;
    assert_eq!(merged["status"], "merged");
    assert_eq!(merged["merged_into"], first["id"]);
    let (_, history) = onegrid_tests::get(
        &server,
        &format!("/api/v1/incidents/{}/history", first["id"]),
    )
    .await;
    let joined = history
        .as_array()
        .expect("array")
        .last()
        .expect("an event")
        .clone();
    assert_eq!(joined["kind"], "incident.duplicate_joined");
    assert_eq!(joined["detail"]["duplicate"], second["id"]);
    assert_eq!(joined["detail"]["description"], second["description"]);
    // A merged incident is an end state; nothing can be merged into it either.
    let (status, answer) = act(
        &duty,
        &server,
        &merged["id"],
        json!({"action": "triage", "seq": merged["seq"]}),
    )
    .await;
    assert_error(
        "after merge",
        status,
        &answer,
        StatusCode::CONFLICT,
        "illegal_transition",
    );
    assert!(allowed(&answer).is_empty());
    let third = report(&duty, &server, lon, lat + 1e-5, "fallen_tree").await;
    let (status, answer) = act(
        &duty,
        &server,
        &third["id"],
        json!({"action": "merge", "seq": third["seq"], "into": merged["id"]}),
    )
    .await;
    assert_error(
        "into a merged one",
        status,
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "merge_target",
    );
    server.stop().await;
}
