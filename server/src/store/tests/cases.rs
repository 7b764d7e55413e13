//! The store's case work, on the backend the environment names: what one action writes, and
//! an installation from before case work opened by this version.

use chrono::{Duration, Utc};
use onegrid_app::wire::{Category, IncidentStatus};

use super::super::testing::{self, TestStore};
use super::super::*;
use super::{change, draft, who};

/// A case's whole path in the store: dispatch adds the department's key, resolve sets and
/// reopen clears `resolved_at` (the day's count), a category correction replaces the keys, a
/// merge writes an event on both incidents, and the history reads back every event in order.
#[tokio::test]
async fn case_changes_write_state_keys_and_history() {
    let t = TestStore::new().await.expect("store");
    let s = &t.store;
    let now = Utc::now();
    let a = s
        .report_incident(&draft(1, &["j:G1"]), &who(), now)
        .await
        .expect("report");
    let mut dispatch = change("incident.dispatched", IncidentStatus::Dispatched);
    dispatch.department = Some("water".into());
    dispatch.add_scope_key = Some("d:water".into());
    dispatch
        .detail
        .insert("reason".into(), serde_json::json!("插花地带：水管在下"));
    let CaseOutcome::Applied { event, joined } = s
        .apply_case(a.incident.id, a.seq, None, &dispatch, &who(), now)
        .await
        .expect("dispatch")
    else {
        panic!("applied")
    };
    assert_eq!(joined, None);
    assert_eq!(event.incident.department.as_deref(), Some("water"));
    assert_eq!(event.scope, ["d:water", "j:G1"]);
    assert!(s
        .incident(a.incident.id, Some("d:water"))
        .await
        .expect("get")
        .is_some());

    let mut resolve = change("incident.resolved", IncidentStatus::Resolved);
    resolve.resolution = Resolution::Set;
    let CaseOutcome::Applied { event, .. } = s
        .apply_case(a.incident.id, event.seq, None, &resolve, &who(), now)
        .await
        .expect("resolve")
    else {
        panic!("applied")
    };
    let counts = s
        .counts(now - Duration::hours(1), None)
        .await
        .expect("counts");
    assert_eq!((counts.open, counts.resolved_since), (0, 1));
    let mut reopen = change("incident.reopened", IncidentStatus::Triaged);
    reopen.resolution = Resolution::Clear;
    reopen.category = Some(Category::DamagedRoad);
    reopen.scope_keys = Some(vec!["j:G1".into(), "d:roads".into()]);
    let CaseOutcome::Applied { event, .. } = s
        .apply_case(a.incident.id, event.seq, None, &reopen, &who(), now)
        .await
        .expect("reopen")
    else {
        panic!("applied")
    };
    assert_eq!(event.incident.category, Category::DamagedRoad);
    assert_eq!(event.scope, ["d:roads", "j:G1"]);
    let counts = s
        .counts(now - Duration::hours(1), None)
        .await
        .expect("counts");
    assert_eq!((counts.open, counts.resolved_since), (1, 0));

    // A duplicate merged into the first: both get an event, in one transaction.
    let b = s
        .report_incident(&draft(2, &["j:G1"]), &who(), now)
        .await
        .expect("report");
    let mut merge = change("incident.merged", IncidentStatus::Merged);
    merge.merged_into = Some(a.incident.id);
    merge.joined = Some(Joined {
        id: a.incident.id,
        seq: event.seq,
        detail: serde_json::Map::from_iter([(
            "duplicate".into(),
            serde_json::json!(b.incident.id),
        )]),
    });
    let CaseOutcome::Applied {
        event: merged,
        joined: Some(joined),
    } = s
        .apply_case(b.incident.id, b.seq, None, &merge, &who(), now)
        .await
        .expect("merge")
    else {
        panic!("applied with the joined incident's event")
    };
    assert_eq!(merged.incident.merged_into, Some(a.incident.id));
    assert_eq!(joined.seq, merged.seq + 1);
    assert_eq!(joined.incident.seq, joined.seq);
    assert_eq!(joined.incident.status, IncidentStatus::Triaged);
    // A merge into an incident that moved meanwhile writes nothing.
    let c = s
        .report_incident(&draft(3, &["j:G1"]), &who(), now)
        .await
        .expect("report");
    let mut late = merge.clone();
    late.joined = Some(Joined {
        id: a.incident.id,
        seq: event.seq,
        detail: serde_json::Map::new(),
    });
    assert_eq!(
        s.apply_case(c.incident.id, c.seq, None, &late, &who(), now)
            .await
            .expect("merge"),
        CaseOutcome::JoinedChanged(a.incident.id)
    );

    let history = s
        .incident_history(a.incident.id, Some("j:G1"))
        .await
        .expect("history")
        .expect("visible");
    let kinds: Vec<&str> = history.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "incident.reported",
            "incident.dispatched",
            "incident.resolved",
            "incident.reopened",
            "incident.duplicate_joined"
        ]
    );
    assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(history[0].to, Some(IncidentStatus::Reported));
    assert_eq!(history[1].to, Some(IncidentStatus::Dispatched));
    assert_eq!(history[1].detail["reason"], "插花地带：水管在下");
    assert_eq!(history[4].detail["duplicate"], b.incident.id);
    assert_eq!(history[1].actor, who().actor);
    assert_eq!(
        s.incident_history(a.incident.id, Some("j:G2"))
            .await
            .expect("history"),
        None
    );
}

/// An installation from before case work (its incidents dispatched and resolved the old way)
/// opened by this version: the statuses carry over, a dispatched incident is dispatched to its
/// proposed department, and the history reads the old changes' from/to.
#[tokio::test]
async fn incidents_from_before_case_work_carry_over() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let old = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    let analysis = r#"{"responsibility":{"department":{"code":"water","name_zh":"水务局","name_en":"Water","contact":"12345"},"rule":"r1","explanation_zh":"","explanation_en":"","review_required":false}}"#;
    let audit_detail = r#"{"from":"reported","to":"dispatched"}"#;
    let database = match testing::test_database_url() {
        Some(admin) => {
            let db = testing::TestDatabase::create(&admin, None)
                .await
                .expect("database");
            std::fs::copy(
                root.join("postgres/0001_init.sql"),
                old.path().join("0001_init.sql"),
            )
            .expect("copy");
            let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
            sqlx::migrate::Migrator::new(old.path())
                .await
                .expect("old migrations")
                .run(&pool)
                .await
                .expect("old schema");
            let at = Utc::now();
            for sql in [
                "UPDATE log_head SET seq = 2",
                "INSERT INTO events (seq, kind, incident_id, payload, actor, created_at)
                 VALUES (1, 'incident.reported', 1, '{}', 'user:old', $1),
                        (2, 'incident.status_changed', 1, '{}', 'user:old', $1)",
                "INSERT INTO incidents (id, created_at, updated_at, status, category, lat, lon,
                    description, reporter, street_code, street_name, grid_code, grid_name, seq,
                    analysis)
                 VALUES (1, $1, $1, 'dispatched', 'garbage', 23.0, 113.0, '旧案', NULL, 'S1',
                    '街道', 'G1', '网格', 2, $2)",
                "INSERT INTO audit (at, actor, address, action, target, detail, seq)
                 VALUES ($1, 'user:old', 'local', 'incident.status_changed', '1', $3, 2)",
            ] {
                sqlx::query(sql)
                    .bind(at)
                    .bind(analysis)
                    .bind(audit_detail)
                    .execute(&pool)
                    .await
                    .expect(sql);
            }
            pool.close().await;
            Some(db)
        }
        None => {
            for n in [
                "0001_init",
                "0002_incident_analysis",
                "0003_layer_events_index",
                "0004_own_district",
                "0005_accounts",
            ] {
                std::fs::copy(
                    root.join(format!("sqlite/{n}.sql")),
                    old.path().join(format!("{n}.sql")),
                )
                .expect("copy");
            }
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(data.path().join("onegrid.db"))
                .create_if_missing(true)
                .foreign_keys(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.expect("open");
            sqlx::migrate::Migrator::new(old.path())
                .await
                .expect("old migrations")
                .run(&pool)
                .await
                .expect("old schema");
            let at = codec::time_to_text(Utc::now());
            for sql in [
                "INSERT INTO events (seq, kind, incident_id, payload, actor, created_at)
                 VALUES (1, 'incident.reported', 1, '{}', 'user:old', ?1),
                        (2, 'incident.status_changed', 1, '{}', 'user:old', ?1)",
                "INSERT INTO incidents (id, created_at, updated_at, status, category, lat, lon,
                    description, reporter, street_code, street_name, grid_code, grid_name, seq,
                    analysis)
                 VALUES (1, ?1, ?1, 'dispatched', 'garbage', 23.0, 113.0, '旧案', NULL, 'S1',
                    '街道', 'G1', '网格', 2, ?2)",
                "INSERT INTO incident_scope (key, incident_id) VALUES ('j:G1', 1)",
                "INSERT INTO audit (at, actor, address, action, target, detail, seq)
                 VALUES (?1, 'user:old', 'local', 'incident.status_changed', '1', ?3, 2)",
            ] {
                sqlx::query(sql)
                    .bind(&at)
                    .bind(analysis)
                    .bind(audit_detail)
                    .execute(&pool)
                    .await
                    .expect(sql);
            }
            pool.close().await;
            None
        }
    };
    let store = match &database {
        Some(db) => Store::open_postgres(&db.url).await,
        None => Store::open_sqlite(data.path()).await,
    }
    .expect("this version opens it");
    let incident = store.incident(1, None).await.expect("get").expect("kept");
    assert_eq!(incident.status, IncidentStatus::Dispatched);
    assert_eq!(incident.department.as_deref(), Some("water"));
    assert_eq!(incident.description, "旧案");
    let history = store
        .incident_history(1, None)
        .await
        .expect("history")
        .expect("visible");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].kind, "incident.reported");
    assert_eq!(history[0].to, Some(IncidentStatus::Reported));
    assert_eq!(history[1].kind, "incident.status_changed");
    assert_eq!(history[1].from, Some(IncidentStatus::Reported));
    assert_eq!(history[1].to, Some(IncidentStatus::Dispatched));
    // And it moves on the new way.
    let CaseOutcome::Applied { event, .. } = store
        .apply_case(
            1,
            2,
            None,
            &change("incident.accepted", IncidentStatus::InProgress),
            &who(),
            Utc::now(),
        )
        .await
        .expect("accept")
    else {
        panic!("applied")
    };
    assert_eq!(event.seq, 3);
    store.close().await;
    if let Some(db) = database {
        db.drop_now().await.expect("drop");
    }
}
