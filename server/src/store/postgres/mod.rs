//! PostgreSQL + PostGIS backend: one database shared by every replica and by the command line.
//! Writes are plain READ COMMITTED transactions from one pool; the log's order comes from the
//! one-row `log_head` table (see [`append_event`]), not from a sequence. Geometry is PostGIS
//! `geometry` in WGS84, written and read as WKB ([`wkb`]), so it comes back bit for bit; the
//! answers are the SQLite backend's, ordering and JSON text included.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use onegrid_app::wire::{Category, Incident, IncidentStatus};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Postgres, QueryBuilder, Row, Transaction};

use super::accounts::Who;
use super::codec::escalation;
use super::{IncidentCounts, IncidentDraft, IncidentEvent, Result, StoreError};

mod accounts;
mod cases;
mod layers;
mod queue;
mod snapshot;
mod wkb;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

const INCIDENT_COLUMNS: &str = "id, seq, created_at, updated_at, status, category, lat, lon, \
     description, reporter, street_code, street_name, grid_code, grid_name, analysis, department, \
     merged_into, duplicate_of, dispatch_due_at, resolve_due_at, escalation";

/// Connections in the pool: writers queue on the log's row lock anyway, readers load layers.
const MAX_CONNECTIONS: u32 = 10;

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to the database at `url` and migrates it (PostGIS is created if missing; the
    /// migrator's advisory lock lets several processes start at once).
    pub async fn open(url: &str) -> Result<PgStore> {
        // Readers load whole layers at start and on reload (seconds for a district): only a
        // statement far slower than that is worth a warning.
        let options = PgConnectOptions::from_str(url)?
            .application_name("onegrid")
            .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(30));
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// A write transaction (READ COMMITTED). What must not interleave is serialised by row
    /// locks: `log_head` for the log, the incident's row for a status change.
    async fn write(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
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
        // The event row first (its seq is the incident's seq), then the state it produces.
        let seq = append_event(&mut tx, "incident.reported", None, "{}", &who.actor, now).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (created_at, updated_at, status, category, lat, lon, description,
                reporter, street_code, street_name, grid_code, grid_name, seq, analysis,
                duplicate_of, dispatch_due_at, resolve_due_at)
             VALUES ($1, $1, 'reported', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                $15)
             RETURNING id",
        )
        .bind(now)
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
        .bind(d.dispatch_due_at)
        .bind(d.resolve_due_at)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO incident_scope (key, incident_id)
             SELECT key, $2 FROM unnest($1::text[]) AS key ON CONFLICT DO NOTHING",
        )
        .bind(d.scope_keys.as_slice())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let incident = fetch_incident(&mut tx, id, None, false)
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
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = "
        ));
        q.push_bind(id);
        push_visible(&mut q, visible_to);
        let row = q.build().fetch_optional(&self.pool).await?;
        row.as_ref().map(incident_from_row).transpose()
    }

    pub async fn counts(
        &self,
        since: DateTime<Utc>,
        visible_to: Option<&str>,
    ) -> Result<IncidentCounts> {
        // $2 IS NULL: the whole district; else only incidents carrying the scope key $2. One
        // statement, so the counts and `seq` are of one snapshot.
        let row = sqlx::query(
            "WITH visible AS (
                SELECT created_at, status, resolved_at FROM incidents
                WHERE $2::text IS NULL
                   OR id IN (SELECT incident_id FROM incident_scope WHERE key = $2::text)
            )
            SELECT
                (SELECT count(*) FROM visible WHERE created_at >= $1) AS reported_since,
                (SELECT count(*) FROM visible
                 WHERE status IN ('reported', 'triaged', 'dispatched', 'in_progress')) AS open,
                (SELECT count(*) FROM visible WHERE resolved_at >= $1) AS resolved_since,
                (SELECT coalesce(max(seq), 0) FROM events) AS seq",
        )
        .bind(since)
        .bind(visible_to)
        .fetch_one(&self.pool)
        .await?;
        Ok(IncidentCounts {
            reported_since: row.try_get("reported_since")?,
            open: row.try_get("open")?,
            resolved_since: row.try_get("resolved_since")?,
            seq: row.try_get("seq")?,
        })
    }

    /// The highest committed `seq` (not `log_head`, which also counts appends not yet
    /// committed).
    pub async fn last_seq(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT coalesce(max(seq), 0)::bigint FROM events")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn layers_seq(&self) -> Result<i64> {
        // The WHERE clause is the one of the partial index `events_layers`, so this reads that
        // small index, not the whole log.
        Ok(sqlx::query_scalar(
            "SELECT coalesce(max(seq), 0)::bigint FROM events
             WHERE kind IN ('district.loaded', 'layers.imported', 'departments.imported', 'grids.generated')",
        )
        .fetch_one(&self.pool)
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
                     WHERE seq > $1 AND incident_id IS NOT NULL ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            Some(key) => {
                sqlx::query(
                    "SELECT e.seq, e.payload FROM event_scope s JOIN events e ON e.seq = s.seq
                     WHERE s.key = $1 AND s.seq > $2 AND e.incident_id IS NOT NULL
                     ORDER BY s.seq LIMIT $3",
                )
                .bind(key)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|r| {
                let seq: i64 = r.try_get("seq")?;
                let payload: &str = r.try_get("payload")?;
                let incident = serde_json::from_str(payload)
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
            "SELECT seq, kind, actor FROM events WHERE seq BETWEEN $1 AND $2 ORDER BY seq",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("seq")?, r.try_get("kind")?, r.try_get("actor")?)))
            .collect()
    }
}

/// Appends an event inside `tx` and returns its `seq`.
///
/// The number comes from the one row of `log_head`, not from a sequence: `UPDATE log_head SET
/// seq = seq + 1` locks that row until `tx` commits or rolls back. Every other appender waits
/// at this statement meanwhile, and then (READ COMMITTED re-reads the row it waited for) gets
/// the next number after the committed one, or the same one again if `tx` rolled back. So
/// `seq` is given out in commit order with no gaps: a reader that sees `seq` N committed knows
/// every smaller one is committed too. A PostgreSQL sequence would hand out numbers before
/// commit and lose those of rolled-back transactions.
pub(super) async fn append_event(
    tx: &mut Transaction<'_, Postgres>,
    kind: &str,
    incident_id: Option<i64>,
    payload: &str,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<i64> {
    let seq: Option<i64> = sqlx::query_scalar(
        "WITH head AS (UPDATE log_head SET seq = seq + 1 RETURNING seq)
         INSERT INTO events (seq, kind, incident_id, payload, actor, created_at)
         SELECT seq, $1, $2, $3, $4, $5 FROM head
         RETURNING seq",
    )
    .bind(kind)
    .bind(incident_id)
    .bind(payload)
    .bind(actor)
    .bind(at)
    .fetch_optional(&mut **tx)
    .await?;
    seq.ok_or_else(|| StoreError::Corrupt("the log's counter (table log_head) has no row".into()))
}

/// Writes the incident's state after the change into its event, so the log alone can replay
/// it, with what else the event records (`detail`, a JSON object), and gives the event the
/// incident's scope keys as they are now; returns those keys.
pub(super) async fn fill_event(
    tx: &mut Transaction<'_, Postgres>,
    seq: i64,
    incident: &Incident,
    detail: &str,
) -> Result<Vec<String>> {
    let payload = serde_json::to_string(incident)
        .map_err(|e| StoreError::Corrupt(format!("encoding incident: {e}")))?;
    sqlx::query("UPDATE events SET incident_id = $1, payload = $2, detail = $3 WHERE seq = $4")
        .bind(incident.id)
        .bind(payload)
        .bind(detail)
        .bind(seq)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO event_scope (key, seq)
         SELECT key, $1 FROM incident_scope WHERE incident_id = $2",
    )
    .bind(seq)
    .bind(incident.id)
    .execute(&mut **tx)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT key FROM incident_scope WHERE incident_id = $1 ORDER BY key")
            .bind(incident.id)
            .fetch_all(&mut **tx)
            .await?,
    )
}

/// The incident, if it carries the scope key; `lock` takes its row lock for the rest of `tx`.
pub(super) async fn fetch_incident(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    visible_to: Option<&str>,
    lock: bool,
) -> Result<Option<Incident>> {
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = "
    ));
    q.push_bind(id);
    push_visible(&mut q, visible_to);
    if lock {
        q.push(" FOR UPDATE");
    }
    let row = q.build().fetch_optional(&mut **tx).await?;
    row.as_ref().map(incident_from_row).transpose()
}

/// `AND` the incident carries the scope key (nothing for the whole district).
fn push_visible(q: &mut QueryBuilder<'_, Postgres>, visible_to: Option<&str>) {
    if let Some(key) = visible_to {
        q.push(" AND id IN (SELECT incident_id FROM incident_scope WHERE key = ")
            .push_bind(key.to_string())
            .push(")");
    }
}

pub(super) fn incident_from_row(r: &PgRow) -> Result<Incident> {
    let status: String = r.try_get("status")?;
    let category: String = r.try_get("category")?;
    let analysis: &str = r.try_get("analysis")?;
    let analysis = serde_json::from_str(analysis)
        .map_err(|e| StoreError::Corrupt(format!("incident analysis: {e}")))?;
    Ok(Incident {
        id: r.try_get("id")?,
        seq: r.try_get("seq")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
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
        dispatch_due_at: r.try_get("dispatch_due_at")?,
        resolve_due_at: r.try_get("resolve_due_at")?,
        escalation: escalation(i64::from(r.try_get::<i16, _>("escalation")?))?,
        analysis,
    })
}

/// `e`, or [`StoreError::Conflict`] with `message` when it is a unique violation (SQLSTATE
/// 23505) of `constraint`: two writers both found a name free, and the second to commit lost.
fn conflict_on(e: sqlx::Error, constraint: &str, message: String) -> StoreError {
    match e.as_database_error() {
        Some(db)
            if db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint) =>
        {
            StoreError::Conflict(message)
        }
        _ => StoreError::Database(e),
    }
}
