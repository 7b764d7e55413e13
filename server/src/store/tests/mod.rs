//! The store's tests, run against the backend the environment names (SQLite by default,
//! PostgreSQL with `ONEGRID_TEST_DATABASE_URL`; see [`super::testing`]). Both backends must
//! give the same answers to the same operations.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use geo::{line_string, point, polygon, Geometry, MultiPolygon};
use onegrid_app::wire::{Analysis, Category, IncidentStatus, Role};

use super::testing::TestStore;
use super::*;
use crate::district::{Asset, AssetLayer, Department, District, Jurisdiction, Level, Props};

mod cases;

fn district() -> District {
    let square = |x0: f64, y0: f64, d: f64| {
        MultiPolygon(vec![polygon![
            (x: x0, y: y0),
            (x: x0 + d, y: y0),
            (x: x0 + d, y: y0 + d),
            (x: x0, y: y0 + d),
            (x: x0, y: y0),
        ]])
    };
    let jurisdiction = |level, code: &str, parent: Option<&str>, g| Jurisdiction {
        generated: false,
        level,
        code: code.into(),
        name: format!("名称 {code}"),
        parent: parent.map(str::to_string),
        geometry: g,
    };
    let asset = |layer, id: &str, props: &str, geometry| Asset {
        layer,
        id: id.into(),
        name: format!("资产 {id}"),
        kind: "k".into(),
        owner: "water".into(),
        props: Props::from_json(props).expect("props"),
        geometry,
    };
    District {
        departments: vec![Department {
            parent: None,
            code: "water".into(),
            name_zh: "水务局".into(),
            name_en: "Water".into(),
            contact: "12345".into(),
        }],
        jurisdictions: vec![
            jurisdiction(Level::District, "D", None, square(113.0, 23.0, 0.1)),
            jurisdiction(Level::Street, "S1", Some("D"), square(113.0, 23.0, 0.05)),
            jurisdiction(Level::Grid, "G1", Some("S1"), square(113.0, 23.0, 0.01)),
        ],
        assets: vec![
            asset(
                AssetLayer::Buildings,
                "B-1",
                r#"{"floors":7,"address":"岭南大道 1 号"}"#,
                Geometry::Polygon(polygon![
                    (x: 113.012_345_678_901_23, y: 23.001),
                    (x: 113.0125, y: 23.001),
                    (x: 113.0125, y: 23.0012),
                    (x: 113.012_345_678_901_23, y: 23.001),
                ]),
            ),
            asset(
                AssetLayer::Roads,
                "R-1",
                "{}",
                Geometry::LineString(line_string![(x: 113.0, y: 23.0), (x: 113.1, y: 23.07)]),
            ),
            asset(
                AssetLayer::Pipelines,
                "P-1",
                r#"{"depth_m":1.5}"#,
                Geometry::MultiLineString(geo::MultiLineString(vec![
                    line_string![(x: 113.0, y: 23.0), (x: 113.01, y: 23.0)],
                    line_string![(x: 113.02, y: 23.0), (x: 113.03, y: 23.01)],
                ])),
            ),
            asset(
                AssetLayer::Pois,
                "POI-1",
                "{}",
                Geometry::Point(point!(x: 113.004, y: 23.004)),
            ),
        ],
    }
}

fn draft(n: usize, keys: &[&str]) -> IncidentDraft {
    IncidentDraft {
        category: Category::parse("road_damage").unwrap_or(Category::ALL[0]),
        lon: 113.001 + n as f64 * 1e-6,
        lat: 23.001,
        description: format!("第 {n} 起"),
        reporter: n.is_multiple_of(2).then(|| "张三".to_string()),
        street_code: "S1".into(),
        street_name: "街道".into(),
        grid_code: "G1".into(),
        grid_name: "网格".into(),
        analysis: Analysis::default(),
        scope_keys: keys.iter().map(|k| k.to_string()).collect(),
        duplicate_of: None,
        dispatch_due_at: Some(Utc::now() + Duration::minutes(30)),
        resolve_due_at: Some(Utc::now() + Duration::minutes(120)),
    }
}

/// A case change that only moves the status, with `from`/`to` in its detail.
fn change(kind: &'static str, status: IncidentStatus) -> CaseChange {
    let mut detail = serde_json::Map::new();
    detail.insert("to".into(), serde_json::json!(status.as_str()));
    CaseChange::new(kind, status, detail)
}

fn who() -> Who {
    Who {
        actor: "user:tester".into(),
        role: Some(Role::DutyOfficer),
        address: "127.0.0.1".into(),
    }
}

#[tokio::test]
async fn a_saved_district_loads_back_exactly_and_an_import_replaces_its_layer() {
    let t = TestStore::new().await.expect("store");
    let s = &t.store;
    assert!(!s.has_district().await.expect("has"));
    let d = district();
    let mut calls = 0;
    let seq = s
        .save_district(&d, "test seed", &who(), &mut |_, _| calls += 1)
        .await
        .expect("save");
    assert!(calls > 0, "progress was reported");
    assert!(s.has_district().await.expect("has"));
    assert_eq!(
        s.district_origin().await.expect("origin").as_deref(),
        Some("test seed")
    );
    assert_eq!(s.layers_seq().await.expect("layers seq"), seq);
    assert_eq!(
        s.load_departments().await.expect("departments"),
        d.departments
    );
    let mut js = d.jurisdictions.clone();
    js.sort_by(|a, b| a.code.cmp(&b.code));
    assert_eq!(s.load_jurisdictions().await.expect("jurisdictions"), js);
    for layer in AssetLayer::ALL {
        let want: Vec<Asset> = d
            .assets
            .iter()
            .filter(|a| a.layer == layer)
            .cloned()
            .collect();
        assert_eq!(
            s.load_assets(layer).await.expect("assets"),
            want,
            "{layer:?}"
        );
    }
    assert_eq!(
        s.jurisdiction_level("S1").await.expect("level"),
        Some(Level::Street)
    );
    assert!(s.department_exists("water").await.expect("dept"));
    assert!(!s.department_exists("fire").await.expect("dept"));

    // An import replaces one layer (a repeated id: the later one wins) and leaves the rest.
    let mut b2 = d.assets[0].clone();
    b2.id = "B-2".into();
    let mut b2_later = b2.clone();
    b2_later.name = "later".into();
    let seq2 = s
        .import(
            &[AssetLayer::Buildings],
            &[b2, b2_later.clone()],
            None,
            "file.geojson",
            &who(),
            &mut |_, _| {},
        )
        .await
        .expect("import");
    assert!(seq2 > seq);
    assert_eq!(s.layers_seq().await.expect("layers seq"), seq2);
    assert_eq!(
        s.load_assets(AssetLayer::Buildings)
            .await
            .expect("buildings"),
        vec![b2_later]
    );
    assert_eq!(
        s.load_assets(AssetLayer::Roads).await.expect("roads").len(),
        1
    );
    let entries = s
        .audit_entries(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(entries[0].action, "layers.imported");
    assert_eq!(entries[0].seq, Some(seq2));
    t.finish().await;
}

#[tokio::test]
async fn incidents_move_with_their_events_and_are_seen_only_in_scope() {
    let t = TestStore::new().await.expect("store");
    let s = &t.store;
    let now = Utc::now();
    let a = s
        .report_incident(&draft(1, &["j:G1", "d:water"]), &who(), now)
        .await
        .expect("report");
    let b = s
        .report_incident(&draft(2, &["j:G2"]), &who(), now + Duration::seconds(1))
        .await
        .expect("report");
    assert_eq!(a.scope, ["d:water", "j:G1"]);
    assert_eq!(b.seq, a.seq + 1);
    assert_eq!(s.last_seq().await.expect("last"), b.seq);
    assert_eq!(
        s.incident(a.incident.id, Some("j:G1")).await.expect("get"),
        Some(a.incident.clone())
    );
    assert_eq!(
        s.incident(a.incident.id, Some("j:G2")).await.expect("get"),
        None
    );

    let CaseOutcome::Applied { event: moved, .. } = s
        .apply_case(
            a.incident.id,
            a.seq,
            Some("d:water"),
            &change("incident.triaged", IncidentStatus::Triaged),
            &who(),
            now + Duration::seconds(2),
        )
        .await
        .expect("change")
    else {
        panic!("a change")
    };
    assert_eq!(moved.seq, b.seq + 1);
    assert_eq!(moved.incident.seq, moved.seq);
    assert_eq!(moved.incident.status, IncidentStatus::Triaged);
    // Decided on the state before the change: refused, nothing written.
    let again = s
        .apply_case(
            a.incident.id,
            a.seq,
            None,
            &change("incident.rejected", IncidentStatus::Rejected),
            &who(),
            now,
        )
        .await
        .expect("change");
    assert_eq!(again, CaseOutcome::Stale(Box::new(moved.incident.clone())));
    assert_eq!(s.last_seq().await.expect("last"), moved.seq);
    let out_of_scope = s
        .apply_case(
            b.incident.id,
            b.seq,
            Some("j:G1"),
            &change("incident.triaged", IncidentStatus::Triaged),
            &who(),
            now,
        )
        .await
        .expect("change");
    assert_eq!(out_of_scope, CaseOutcome::NotFound);

    let all = s
        .list_incidents(&IncidentQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(
        all.iter().map(|i| i.id).collect::<Vec<_>>(),
        [b.incident.id, a.incident.id]
    );
    let scoped = s
        .list_incidents(&IncidentQuery {
            limit: 10,
            visible_to: Some("j:G2".into()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(scoped, std::slice::from_ref(&b.incident));
    let counts = s
        .counts(now - Duration::hours(1), None)
        .await
        .expect("counts");
    assert_eq!(
        (
            counts.reported_since,
            counts.open,
            counts.resolved_since,
            counts.seq
        ),
        (2, 2, 0, moved.seq),
        "triaged is still open"
    );
    let counts = s
        .counts(now - Duration::hours(1), Some("j:G1"))
        .await
        .expect("counts");
    assert_eq!(
        (counts.reported_since, counts.open, counts.resolved_since),
        (1, 1, 0)
    );

    let replay = s
        .incident_events_after(0, 10, Some("j:G1"))
        .await
        .expect("replay");
    assert_eq!(
        replay.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [a.seq, moved.seq]
    );
    assert_eq!(replay[1].incident, moved.incident);
    let log = s.log_after(a.seq, 10).await.expect("log");
    assert_eq!(
        log.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [b.seq, moved.seq]
    );
    assert_eq!(log[1].incident.as_ref(), Some(&moved.incident));
    assert_eq!(log[1].scope, ["d:water", "j:G1"]);
    let seqs = s.event_seqs(a.seq, moved.seq).await.expect("seqs");
    assert_eq!(
        seqs[2],
        (
            moved.seq,
            "incident.triaged".to_string(),
            "user:tester".to_string()
        )
    );
    t.finish().await;
}

#[tokio::test]
async fn accounts_sessions_tokens_and_the_audit_trail() {
    let t = TestStore::new().await.expect("store");
    let s = &t.store;
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-03T08:00:00.123456Z")
        .expect("time")
        .with_timezone(&Utc);
    let user = NewUser {
        username: "zhang".into(),
        role: Role::StreetOfficer,
        scope: Some("S1".into()),
        password_hash: "$argon2id$…".into(),
        must_change: true,
    };
    let row = s.add_user(&user, &who(), now).await.expect("add");
    assert_eq!(row.created_at, now, "microseconds survive");
    assert!(matches!(
        s.add_user(&user, &who(), now).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.user_count().await.expect("count"), 1);
    assert_eq!(
        s.user_by_name("zhang").await.expect("get"),
        Some(row.clone())
    );
    let changed = s
        .update_user(
            "zhang",
            &UserChange {
                scope: Some(None),
                disabled: Some(true),
                ..Default::default()
            },
            "user.disabled",
            &who(),
            now,
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!((changed.scope, changed.disabled), (None, true));
    assert_eq!(
        s.update_user("nobody", &UserChange::default(), "x", &who(), now)
            .await
            .expect("update"),
        None
    );

    s.create_session("h1", row.id, now + Duration::hours(8), &who(), now)
        .await
        .expect("session");
    let session = s.session("h1").await.expect("session").expect("exists");
    assert_eq!(session.user.username, "zhang");
    s.touch_session("h1", now + Duration::minutes(5))
        .await
        .expect("touch");
    assert_eq!(
        s.session("h1")
            .await
            .expect("session")
            .expect("exists")
            .last_seen_at,
        now + Duration::minutes(5)
    );
    assert!(s
        .end_session("h1", "logout", Some(&who()), now)
        .await
        .expect("end"));
    assert!(!s.end_session("h1", "logout", None, now).await.expect("end"));

    let token = s
        .add_token(TokenKind::Screen, "wall-1", None, "th", &who(), now)
        .await
        .expect("token");
    assert!(matches!(
        s.add_token(TokenKind::Screen, "wall-1", None, "th2", &who(), now)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.token(TokenKind::Screen, "th").await.expect("token"),
        Some(token.clone())
    );
    assert_eq!(
        s.token(TokenKind::ApiClient, "th").await.expect("token"),
        None
    );
    assert!(s
        .revoke_token(TokenKind::Screen, "wall-1", &who(), now)
        .await
        .expect("revoke"));
    assert_eq!(s.token(TokenKind::Screen, "th").await.expect("token"), None);
    assert_eq!(
        s.list_tokens(TokenKind::Screen).await.expect("list").len(),
        1
    );

    for i in 0..3 {
        s.record_audit(&AuditRecord {
            at: now + Duration::seconds(i),
            who: Who {
                actor: "zhang".into(),
                role: None,
                address: "10.0.0.9".into(),
            },
            action: "login_failed".into(),
            target: "zhang".into(),
            detail: String::new(),
            seq: None,
        })
        .await
        .expect("audit");
    }
    let failed = s
        .failed_logins("zhang", "10.0.0.9", now)
        .await
        .expect("failed");
    assert_eq!((failed.by_user, failed.by_address), (3, 3));
    assert_eq!(failed.by_user_oldest, Some(now));
    let page = s
        .audit_entries(&AuditQuery {
            action: Some("screen.".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(
        page.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["screen.revoked", "screen.added"]
    );
    let all = s
        .audit_entries(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("audit");
    let older = s
        .audit_entries(&AuditQuery {
            limit: 100,
            before_id: Some(all[2].id),
            ..Default::default()
        })
        .await
        .expect("audit");
    assert_eq!(older, all[3..]);
    t.finish().await;
}

/// Everything exported from one store and restored into an empty one is the same, row for
/// row, with every id and seq; a restore into a store that holds data is refused.
#[tokio::test]
async fn an_exported_store_restores_into_an_empty_one_row_for_row() {
    let from = TestStore::new().await.expect("store");
    let s = &from.store;
    s.save_district(&district(), "demo", &who(), &mut |_, _| {})
        .await
        .expect("save");
    let now = Utc::now();
    let e = s
        .report_incident(&draft(1, &["j:G1"]), &who(), now)
        .await
        .expect("report");
    let mut dispatch = change("incident.dispatched", IncidentStatus::Dispatched);
    dispatch.department = Some("water".into());
    dispatch.add_scope_key = Some("d:water".into());
    s.apply_case(e.incident.id, e.seq, None, &dispatch, &who(), now)
        .await
        .expect("change");
    let u = s
        .add_user(
            &NewUser {
                username: "li".into(),
                role: Role::GridWorker,
                scope: Some("G1".into()),
                password_hash: "h".into(),
                must_change: false,
            },
            &who(),
            now,
        )
        .await
        .expect("user");
    s.create_session("sh", u.id, now + Duration::hours(1), &who(), now)
        .await
        .expect("session");
    s.add_token(
        TokenKind::ApiClient,
        "hotline",
        Some("S1"),
        "tk",
        &who(),
        now,
    )
    .await
    .expect("token");
    let snapshot = s.export().await.expect("export");
    assert_eq!(snapshot.counts(), s.table_counts().await.expect("counts"));

    let to = TestStore::new().await.expect("store");
    let mut last = 0;
    to.store
        .restore(&snapshot, &mut |done, _| last = done)
        .await
        .expect("restore");
    assert_eq!(last, snapshot.rows());
    assert_eq!(to.store.export().await.expect("export"), snapshot);
    assert_eq!(
        to.store.last_seq().await.expect("seq"),
        s.last_seq().await.expect("seq")
    );
    assert!(matches!(
        to.store.restore(&snapshot, &mut |_, _| {}).await,
        Err(StoreError::Conflict(_))
    ));
    // New rows continue after the copied ids and seqs.
    let next = to
        .store
        .report_incident(&draft(2, &[]), &who(), now)
        .await
        .expect("report");
    assert_eq!(next.seq, snapshot.events.last().map_or(0, |e| e.seq) + 1);
    assert_eq!(next.incident.id, e.incident.id + 1);
    from.finish().await;
    to.finish().await;
}

/// The log's promise under load: many writers append at once (through several stores on the
/// same data, as several replicas would) while readers tail the log by `seq`. Every reader
/// sees 1, 2, 3, … with no number skipped that later appears, and the log ends gap-free.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_let_a_tailing_reader_skip_a_seq() {
    const WRITERS: usize = 8;
    const EACH: usize = 40;
    let t = TestStore::new().await.expect("store");
    let mut stores = vec![t.store.clone()];
    for _ in 1..3 {
        stores.push(t.reopen().await.expect("second store"));
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = stores[w % stores.len()].clone();
        writers.push(tokio::spawn(async move {
            for i in 0..EACH {
                // Half the writes are incidents, half status changes of one: two kinds of
                // transaction interleave.
                let e = store
                    .report_incident(&draft(w * EACH + i, &["j:G1"]), &who(), Utc::now())
                    .await
                    .expect("report");
                if i % 2 == 0 {
                    let moved = store
                        .apply_case(
                            e.incident.id,
                            e.seq,
                            None,
                            &change("incident.triaged", IncidentStatus::Triaged),
                            &who(),
                            Utc::now(),
                        )
                        .await
                        .expect("change");
                    assert!(matches!(moved, CaseOutcome::Applied { .. }));
                }
            }
        }));
    }
    let mut readers = Vec::new();
    for r in 0..3 {
        let store = stores[r % stores.len()].clone();
        let done = done.clone();
        readers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut last = 0;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::Acquire);
                let batch = store.log_after(last, 50).await.expect("tail");
                for e in &batch {
                    assert_eq!(
                        e.seq,
                        last + 1,
                        "reader {r} skipped from {last} to {}",
                        e.seq
                    );
                    last = e.seq;
                    seen.push(e.seq);
                }
                if finished && batch.is_empty() {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let total = WRITERS * EACH + WRITERS * EACH / 2;
    let expected: Vec<i64> = (1..=total as i64).collect();
    for r in readers {
        assert_eq!(r.await.expect("reader"), expected);
    }
    let committed: BTreeSet<i64> = t
        .store
        .event_seqs(1, i64::MAX)
        .await
        .expect("seqs")
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    assert_eq!(committed.len(), total);
    assert_eq!(committed.iter().copied().collect::<Vec<_>>(), expected);
    for s in &stores[1..] {
        s.close().await;
    }
    t.finish().await;
}
