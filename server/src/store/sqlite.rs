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
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use super::codec::{geometry_from_text, geometry_to_text, time_from_text, time_to_text};
use super::{
    IncidentCounts, IncidentDraft, IncidentEvent, IncidentQuery, Result, StatusChange, StoreError,
};
use crate::district::{Asset, AssetLayer, Department, District, Jurisdiction, Level, Props};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// Rows per multi-row INSERT when saving layers (7 columns × 1000 stays far below SQLite's
/// limit on bound variables).
const BATCH: usize = 1000;

const INCIDENT_COLUMNS: &str = "id, seq, created_at, updated_at, status, category, lat, lon, \
     description, reporter, street_code, street_name, grid_code, grid_name, analysis";

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
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore { writer, reader })
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    pub async fn has_district(&self) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM jurisdictions")
            .fetch_one(&self.reader)
            .await?;
        Ok(n > 0)
    }

    pub async fn save_district(
        &self,
        district: &District,
        origin: &str,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<i64> {
        let total =
            district.departments.len() + district.jurisdictions.len() + district.assets.len();
        let mut done = 0;
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM assets").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM jurisdictions")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM departments")
            .execute(&mut *tx)
            .await?;
        let mut step = |n: usize| {
            done += n;
            progress(done, total);
        };

        for chunk in district.departments.chunks(BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO departments (code, name_zh, name_en, contact) ",
            );
            q.push_values(chunk, |mut b, d| {
                b.push_bind(&d.code)
                    .push_bind(&d.name_zh)
                    .push_bind(&d.name_en)
                    .push_bind(&d.contact);
            });
            q.build().execute(&mut *tx).await?;
            step(chunk.len());
        }
        insert_jurisdictions(&mut tx, &district.jurisdictions, &mut step).await?;
        insert_assets(&mut tx, &district.assets, &mut step).await?;

        let payload = serde_json::json!({
            "origin": origin,
            "departments": district.departments.len(),
            "jurisdictions": district.jurisdictions.len(),
            "assets": district.assets.len(),
        });
        let seq = append_event(
            &mut tx,
            "district.loaded",
            None,
            &payload.to_string(),
            Utc::now(),
        )
        .await?;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('district_origin', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(origin)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(seq)
    }

    pub async fn import(
        &self,
        layers: &[AssetLayer],
        assets: &[Asset],
        jurisdictions: Option<&[Jurisdiction]>,
        origin: &str,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<i64> {
        let total = assets.len() + jurisdictions.map_or(0, <[Jurisdiction]>::len);
        let mut done = 0;
        let mut step = |n: usize| {
            done += n;
            progress(done, total);
        };
        let mut tx = self.writer.begin().await?;
        for layer in layers {
            sqlx::query("DELETE FROM assets WHERE layer = ?")
                .bind(layer.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(js) = jurisdictions {
            sqlx::query("DELETE FROM jurisdictions")
                .execute(&mut *tx)
                .await?;
            insert_jurisdictions(&mut tx, js, &mut step).await?;
        }
        insert_assets(&mut tx, assets, &mut step).await?;
        let payload = serde_json::json!({
            "origin": origin,
            "layers": layers.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
            "assets": assets.len(),
            "jurisdictions": jurisdictions.map(<[Jurisdiction]>::len),
        });
        let seq = append_event(
            &mut tx,
            "layers.imported",
            None,
            &payload.to_string(),
            Utc::now(),
        )
        .await?;
        tx.commit().await?;
        Ok(seq)
    }

    pub async fn load_departments(&self) -> Result<Vec<Department>> {
        let rows =
            sqlx::query("SELECT code, name_zh, name_en, contact FROM departments ORDER BY code")
                .fetch_all(&self.reader)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(Department {
                    code: r.try_get("code")?,
                    name_zh: r.try_get("name_zh")?,
                    name_en: r.try_get("name_en")?,
                    contact: r.try_get("contact")?,
                })
            })
            .collect()
    }

    pub async fn load_jurisdictions(&self) -> Result<Vec<Jurisdiction>> {
        let rows = sqlx::query(
            "SELECT code, level, name, parent, geometry FROM jurisdictions ORDER BY code",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let level: String = r.try_get("level")?;
                let level = Level::parse(&level)
                    .ok_or_else(|| StoreError::Corrupt(format!("jurisdiction level {level:?}")))?;
                let geometry = match geometry_from_text(r.try_get("geometry")?)? {
                    geo::Geometry::MultiPolygon(m) => m,
                    geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p]),
                    other => {
                        return Err(StoreError::Corrupt(format!(
                            "jurisdiction geometry is not polygonal: {other:?}"
                        )))
                    }
                };
                Ok(Jurisdiction {
                    level,
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    parent: r.try_get("parent")?,
                    geometry,
                })
            })
            .collect()
    }

    pub async fn load_assets(&self, layer: AssetLayer) -> Result<Vec<Asset>> {
        use futures_util::TryStreamExt;
        // Row by row: a million rows held at once would double the memory of loading.
        let mut rows = sqlx::query(
            "SELECT id, name, kind, owner, props, geometry FROM assets WHERE layer = ? ORDER BY id",
        )
        .bind(layer.as_str())
        .fetch(&self.reader);
        let mut out = Vec::new();
        while let Some(r) = rows.try_next().await? {
            let props: &str = r.try_get("props")?;
            out.push(Asset {
                layer,
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                owner: r.try_get("owner")?,
                props: Props::from_json(props).map_err(StoreError::Corrupt)?,
                geometry: geometry_from_text(r.try_get("geometry")?)?,
            });
        }
        out.shrink_to_fit();
        Ok(out)
    }

    pub async fn report_incident(
        &self,
        d: &IncidentDraft,
        now: DateTime<Utc>,
    ) -> Result<IncidentEvent> {
        let analysis = serde_json::to_string(&d.analysis)
            .map_err(|e| StoreError::Corrupt(format!("encoding analysis: {e}")))?;
        let mut tx = self.writer.begin().await?;
        let at = time_to_text(now);
        // The event row first (its seq is the incident's seq), then the state it produces.
        let seq = append_event(&mut tx, "incident.reported", None, "{}", now).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (created_at, updated_at, status, category, lat, lon, description,
                reporter, street_code, street_name, grid_code, grid_name, seq, analysis)
             VALUES (?, ?, 'reported', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
        .fetch_one(&mut *tx)
        .await?;
        let incident = fetch_incident(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("incident {id} vanished")))?;
        fill_event(&mut tx, seq, &incident).await?;
        tx.commit().await?;
        Ok(IncidentEvent { seq, incident })
    }

    pub async fn change_status(
        &self,
        id: i64,
        status: IncidentStatus,
        now: DateTime<Utc>,
    ) -> Result<Option<StatusChange>> {
        let mut tx = self.writer.begin().await?;
        let Some(current) = fetch_incident(&mut tx, id).await? else {
            return Ok(None);
        };
        if current.status == status {
            return Ok(Some(StatusChange::Unchanged(current)));
        }
        let at = time_to_text(now);
        let seq = append_event(&mut tx, "incident.status_changed", Some(id), "{}", now).await?;
        let resolved_at = (status == IncidentStatus::Resolved).then(|| at.clone());
        sqlx::query(
            "UPDATE incidents SET status = ?, updated_at = ?, resolved_at = ?, seq = ? WHERE id = ?",
        )
        .bind(status.as_str())
        .bind(&at)
        .bind(resolved_at)
        .bind(seq)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let incident = fetch_incident(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("incident {id} vanished")))?;
        fill_event(&mut tx, seq, &incident).await?;
        tx.commit().await?;
        Ok(Some(StatusChange::Changed(IncidentEvent { seq, incident })))
    }

    pub async fn incident(&self, id: i64) -> Result<Option<Incident>> {
        let row = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(incident_from_row).transpose()
    }

    pub async fn list_incidents(&self, query: IncidentQuery) -> Result<Vec<Incident>> {
        let mut q =
            QueryBuilder::<Sqlite>::new(format!("SELECT {INCIDENT_COLUMNS} FROM incidents"));
        if let Some(status) = query.status {
            q.push(" WHERE status = ").push_bind(status.as_str());
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(query.limit));
        let rows = q.build().fetch_all(&self.reader).await?;
        rows.iter().map(incident_from_row).collect()
    }

    pub async fn counts(&self, since: DateTime<Utc>) -> Result<IncidentCounts> {
        let since = time_to_text(since);
        let row = sqlx::query(
            "SELECT
                (SELECT count(*) FROM incidents WHERE created_at >= ?1) AS reported_since,
                (SELECT count(*) FROM incidents WHERE status != 'resolved') AS open,
                (SELECT count(*) FROM incidents WHERE resolved_at >= ?1) AS resolved_since,
                (SELECT coalesce(max(seq), 0) FROM events) AS seq",
        )
        .bind(since)
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
        // The WHERE clause is the one of the partial index `events_layers` (migration 0003), so
        // this reads that small index, not the whole log.
        Ok(sqlx::query_scalar(
            "SELECT coalesce(max(seq), 0) FROM events
             WHERE kind IN ('district.loaded', 'layers.imported')",
        )
        .fetch_one(&self.reader)
        .await?)
    }

    pub async fn incident_events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<IncidentEvent>> {
        let rows = sqlx::query(
            "SELECT seq, payload FROM events
             WHERE seq > ? AND incident_id IS NOT NULL ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.try_get("seq")?;
                let payload: String = r.try_get("payload")?;
                let incident = serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?;
                Ok(IncidentEvent { seq, incident })
            })
            .collect()
    }
}

/// Inserts jurisdictions, parents before children so the foreign key holds row by row.
async fn insert_jurisdictions(
    tx: &mut Transaction<'_, Sqlite>,
    jurisdictions: &[Jurisdiction],
    step: &mut impl FnMut(usize),
) -> Result<()> {
    let mut sorted: Vec<&Jurisdiction> = jurisdictions.iter().collect();
    sorted.sort_by_key(|j| j.level);
    for chunk in sorted.chunks(BATCH) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO jurisdictions (code, level, name, parent, geometry) ",
        );
        q.push_values(chunk, |mut b, j| {
            b.push_bind(&j.code)
                .push_bind(j.level.as_str())
                .push_bind(&j.name)
                .push_bind(&j.parent)
                .push_bind(geometry_to_text(&geo::Geometry::MultiPolygon(
                    j.geometry.clone(),
                )));
        });
        q.build().execute(&mut **tx).await?;
        step(chunk.len());
    }
    Ok(())
}

/// Inserts assets; a later asset with the same layer and id replaces an earlier one.
async fn insert_assets(
    tx: &mut Transaction<'_, Sqlite>,
    assets: &[Asset],
    step: &mut impl FnMut(usize),
) -> Result<()> {
    for chunk in assets.chunks(BATCH) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT OR REPLACE INTO assets (layer, id, name, kind, owner, props, geometry) ",
        );
        q.push_values(chunk, |mut b, a| {
            b.push_bind(a.layer.as_str())
                .push_bind(&a.id)
                .push_bind(&a.name)
                .push_bind(&a.kind)
                .push_bind(&a.owner)
                .push_bind(a.props.as_json())
                .push_bind(geometry_to_text(&a.geometry));
        });
        q.build().execute(&mut **tx).await?;
        step(chunk.len());
    }
    Ok(())
}

async fn append_event(
    tx: &mut Transaction<'_, Sqlite>,
    kind: &str,
    incident_id: Option<i64>,
    payload: &str,
    at: DateTime<Utc>,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO events (kind, incident_id, payload, created_at) VALUES (?, ?, ?, ?) RETURNING seq",
    )
    .bind(kind)
    .bind(incident_id)
    .bind(payload)
    .bind(time_to_text(at))
    .fetch_one(&mut **tx)
    .await?)
}

/// Writes the incident's state after the change into its event, so the log alone can replay it.
async fn fill_event(tx: &mut Transaction<'_, Sqlite>, seq: i64, incident: &Incident) -> Result<()> {
    let payload = serde_json::to_string(incident)
        .map_err(|e| StoreError::Corrupt(format!("encoding incident: {e}")))?;
    sqlx::query("UPDATE events SET incident_id = ?, payload = ? WHERE seq = ?")
        .bind(incident.id)
        .bind(payload)
        .bind(seq)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn fetch_incident(tx: &mut Transaction<'_, Sqlite>, id: i64) -> Result<Option<Incident>> {
    let row = sqlx::query(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(incident_from_row).transpose()
}

fn incident_from_row(r: &SqliteRow) -> Result<Incident> {
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
        analysis,
    })
}
