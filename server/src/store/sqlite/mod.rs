//! SQLite backend: one file in the data dir, WAL, `synchronous=FULL` so a commit is durable
//! before it is acknowledged. Writes go through a single-connection pool (SQLite has one writer;
//! queueing them here avoids lock-upgrade failures), reads through a small pool of their own.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use onegrid_app::wire::{Category, Incident, IncidentStatus};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, QueryBuilder, Row, Sqlite, Transaction};

use super::accounts::Who;
use super::codec::{escalation, time_from_text, time_to_text};
use super::{IncidentCounts, IncidentDraft, IncidentEvent, Result, StoreError};

mod accounts;
mod cases;
mod layers;
mod queue;
mod snapshot;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

const INCIDENT_COLUMNS: &str = "id, seq, created_at, updated_at, status, category, lat, lon, \
     description, reporter, street_code, street_name, grid_code, grid_name, analysis, department, \
     merged_into, duplicate_of, dispatch_due_at, resolve_due_at, escalation";

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    pub async fn open(data_dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let path = data_dir.join("onegrid.db");
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        // Readers load whole layers at start and on reload (seconds for a district): only a
        // read far slower than that is worth a warning.
        let reader_options = options
            .read_only(true)
            .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(30));
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(reader_options)
            .await?;
        Ok(SqliteStore { writer, reader })
    }

    /// A write transaction that holds the write lock from its first statement (`BEGIN
    /// IMMEDIATE`). Another process on the same file (the command line beside `serve`) then
    /// waits its turn within the busy timeout; a deferred `BEGIN` that reads first would fail
    /// with "database is locked" whenever the other committed between its read and its write.
    async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    pub async fn report_incident(
        &self,
        d: &IncidentDraft,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<IncidentEvent> {
        let analysis = serde_json::to_string(&d.analysis)
            .map_err(|e| StoreError::Corrupt(format!("encoding analysis: {e}")))?;
        let mut tx = self.write().await?;
        let at = time_to_text(now);
        // The event row first (its seq is the incident's seq), then the state it produces.
        let seq = append_event(&mut tx, "incident.reported", None, "{}", &who.actor, now).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (created_at, updated_at, status, category, lat, lon, description,
                reporter, street_code, street_name, grid_code, grid_name, seq, analysis,
                duplicate_of, dispatch_due_at, resolve_due_at)
             VALUES (?, ?, 'reported', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&at)
        .bind(&at)
        .bind(d.category.code())
        .bind(d.lat)
        .bind(d.lon)
        .bind(&d.description)
        .bind(&d.reporter)
        .bind(&d.street_code)
        .bind(&d.street_name)
        .bind(&d.grid_code)
        .bind(&d.grid_name)
        .bind(seq)
        .bind(analysis)
        .bind(d.duplicate_of)
        .bind(d.dispatch_due_at.map(time_to_text))
        .bind(d.resolve_due_at.map(time_to_text))
        .fetch_one(&mut *tx)
        .await?;
        for key in &d.scope_keys {
            sqlx::query("INSERT OR IGNORE INTO incident_scope (key, incident_id) VALUES (?, ?)")
                .bind(key)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let incident = fetch_incident(&mut tx, id, None)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("incident {id} vanished")))?;
        let scope = fill_event(&mut tx, seq, &incident, r#"{"to":"reported"}"#).await?;
        accounts::audit_in(
            &mut tx,
            now,
            who,
            "incident.reported",
            &id.to_string(),
            "",
            Some(seq),
        )
        .await?;
        tx.commit().await?;
        Ok(IncidentEvent {
            seq,
            incident,
            scope,
        })
    }

    pub async fn incident(&self, id: i64, visible_to: Option<&str>) -> Result<Option<Incident>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = "
        ));
        q.push_bind(id);
        push_visible(&mut q, visible_to);
        let row = q.build().fetch_optional(&self.reader).await?;
        row.as_ref().map(incident_from_row).transpose()
    }

    pub async fn counts(
        &self,
        since: DateTime<Utc>,
        visible_to: Option<&str>,
    ) -> Result<IncidentCounts> {
        let since = time_to_text(since);
        // ?2 IS NULL: the whole district; else only incidents carrying the scope key ?2.
        let row = sqlx::query(
            "WITH visible AS (
                SELECT * FROM incidents
                WHERE ?2 IS NULL OR id IN (SELECT incident_id FROM incident_scope WHERE key = ?2)
            )
            SELECT
                (SELECT count(*) FROM visible WHERE created_at >= ?1) AS reported_since,
                (SELECT count(*) FROM visible
                 WHERE status IN ('reported', 'triaged', 'dispatched', 'in_progress')) AS open,
                (SELECT count(*) FROM visible WHERE resolved_at >= ?1) AS resolved_since,
                (SELECT coalesce(max(seq), 0) FROM events) AS seq",
        )
        .bind(since)
        .bind(visible_to)
        .fetch_one(&self.reader)
        .await?;
        Ok(IncidentCounts {
            reported_since: row.try_get("reported_since")?,
            open: row.try_get("open")?,
            resolved_since: row.try_get("resolved_since")?,
            seq: row.try_get("seq")?,
        })
    }

    pub async fn last_seq(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM events")
                .fetch_one(&self.reader)
                .await?,
        )
    }

    pub async fn layers_seq(&self) -> Result<i64> {
        // The WHERE clause is the one of the partial index `events_layers` (migration 0004), so
        // this reads that small index, not the whole log.
        Ok(sqlx::query_scalar(
            "SELECT coalesce(max(seq), 0) FROM events
             WHERE kind IN ('district.loaded', 'layers.imported', 'departments.imported', 'grids.generated')",
        )
        .fetch_one(&self.reader)
        .await?)
    }

    pub async fn incident_events_after(
        &self,
        after: i64,
        limit: i64,
        visible_to: Option<&str>,
    ) -> Result<Vec<IncidentEvent>> {
        // Filtered by the keys each event carried when it happened.
        let rows = match visible_to {
            None => {
                sqlx::query(
                    "SELECT seq, payload FROM events
                     WHERE seq > ? AND incident_id IS NOT NULL ORDER BY seq LIMIT ?",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(&self.reader)
                .await?
            }
            Some(key) => {
                sqlx::query(
                    "SELECT e.seq, e.payload FROM event_scope s JOIN events e ON e.seq = s.seq
                     WHERE s.key = ? AND s.seq > ? AND e.incident_id IS NOT NULL
                     ORDER BY s.seq LIMIT ?",
                )
                .bind(key)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.reader)
                .await?
            }
        };
        rows.iter()
            .map(|r| {
                let seq: i64 = r.try_get("seq")?;
                let payload: String = r.try_get("payload")?;
                let incident = serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?;
                Ok(IncidentEvent {
                    seq,
                    incident,
                    scope: Vec::new(),
                })
            })
            .collect()
    }

    /// Every event with `seq` in `from..=to`: its seq, kind and actor (for checks of the log).
    pub async fn event_seqs(&self, from: i64, to: i64) -> Result<Vec<(i64, String, String)>> {
        let rows = sqlx::query(
            "SELECT seq, kind, actor FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("seq")?, r.try_get("kind")?, r.try_get("actor")?)))
            .collect()
    }
}

pub(super) async fn append_event(
    tx: &mut Transaction<'_, Sqlite>,
    kind: &str,
    incident_id: Option<i64>,
    payload: &str,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO events (kind, incident_id, payload, actor, created_at) VALUES (?, ?, ?, ?, ?)
         RETURNING seq",
    )
    .bind(kind)
    .bind(incident_id)
    .bind(payload)
    .bind(actor)
    .bind(time_to_text(at))
    .fetch_one(&mut **tx)
    .await?)
}

/// Writes the incident's state after the change into its event, so the log alone can replay
/// it, with what else the event records (`detail`, a JSON object), and gives the event the
/// incident's scope keys as they are now; returns those keys.
pub(super) async fn fill_event(
    tx: &mut Transaction<'_, Sqlite>,
    seq: i64,
    incident: &Incident,
    detail: &str,
) -> Result<Vec<String>> {
    let payload = serde_json::to_string(incident)
        .map_err(|e| StoreError::Corrupt(format!("encoding incident: {e}")))?;
    sqlx::query("UPDATE events SET incident_id = ?, payload = ?, detail = ? WHERE seq = ?")
        .bind(incident.id)
        .bind(payload)
        .bind(detail)
        .bind(seq)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO event_scope (key, seq) SELECT key, ? FROM incident_scope WHERE incident_id = ?",
    )
    .bind(seq)
    .bind(incident.id)
    .execute(&mut **tx)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT key FROM incident_scope WHERE incident_id = ? ORDER BY key")
            .bind(incident.id)
            .fetch_all(&mut **tx)
            .await?,
    )
}

pub(super) async fn fetch_incident(
    tx: &mut Transaction<'_, Sqlite>,
    id: i64,
    visible_to: Option<&str>,
) -> Result<Option<Incident>> {
    let mut q = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = "
    ));
    q.push_bind(id);
    push_visible(&mut q, visible_to);
    let row = q.build().fetch_optional(&mut **tx).await?;
    row.as_ref().map(incident_from_row).transpose()
}

/// `AND` the incident carries the scope key (nothing for the whole district).
fn push_visible(q: &mut QueryBuilder<'_, Sqlite>, visible_to: Option<&str>) {
    if let Some(key) = visible_to {
        q.push(" AND id IN (SELECT incident_id FROM incident_scope WHERE key = ")
            .push_bind(key.to_string())
            .push(")");
    }
}

fn optional_time(t: Option<String>) -> Result<Option<DateTime<Utc>>> {
    t.as_deref().map(time_from_text).transpose()
}

pub(super) fn incident_from_row(r: &SqliteRow) -> Result<Incident> {
    let status: String = r.try_get("status")?;
    let category: String = r.try_get("category")?;
    let analysis: String = r.try_get("analysis")?;
    let analysis = serde_json::from_str(&analysis)
        .map_err(|e| StoreError::Corrupt(format!("incident analysis: {e}")))?;
    Ok(Incident {
        id: r.try_get("id")?,
        seq: r.try_get("seq")?,
        created_at: time_from_text(r.try_get("created_at")?)?,
        updated_at: time_from_text(r.try_get("updated_at")?)?,
        status: IncidentStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
        category: Category::parse(&category)
            .ok_or_else(|| StoreError::Corrupt(format!("category {category:?}")))?,
        lat: r.try_get("lat")?,
        lon: r.try_get("lon")?,
        description: r.try_get("description")?,
        reporter: r.try_get("reporter")?,
        street_code: r.try_get("street_code")?,
        street_name: r.try_get("street_name")?,
        grid_code: r.try_get("grid_code")?,
        grid_name: r.try_get("grid_name")?,
        department: r.try_get("department")?,
        merged_into: r.try_get("merged_into")?,
        duplicate_of: r.try_get("duplicate_of")?,
        dispatch_due_at: optional_time(r.try_get("dispatch_due_at")?)?,
        resolve_due_at: optional_time(r.try_get("resolve_due_at")?)?,
        escalation: escalation(r.try_get("escalation")?)?,
        analysis,
    })
}

#[cfg(test)]
mod tests {
    use crate::store::accounts::{NewUser, Who};
    use crate::store::Store;
    use onegrid_app::wire::Role;

    /// Two processes' stores on one file (`serve` and the command line) write at once, each
    /// write reading before it writes: every one succeeds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_on_one_file_write_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Store::open_sqlite(dir.path()).await.expect("store a");
        let b = Store::open_sqlite(dir.path()).await.expect("store b");
        let adds = |store: Store, prefix: &'static str| async move {
            for i in 0..150 {
                let user = NewUser {
                    username: format!("{prefix}{i}"),
                    role: Role::GridWorker,
                    scope: None,
                    password_hash: "not-a-hash".into(),
                    must_change: false,
                };
                store
                    .add_user(&user, &Who::system(), chrono::Utc::now())
                    .await
                    .map_err(|e| format!("{prefix}{i}: {e}"))?;
            }
            Ok::<(), String>(())
        };
        let (ra, rb) = tokio::join!(
            tokio::spawn(adds(a.clone(), "a")),
            tokio::spawn(adds(b.clone(), "b"))
        );
        ra.expect("task a").expect("every write of store a");
        rb.expect("task b").expect("every write of store b");
        assert_eq!(a.list_users().await.expect("users").len(), 300);
        a.close().await;
        b.close().await;
    }
}
