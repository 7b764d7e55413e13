//! SQLite: the whole installation as a [`Snapshot`] and back, the row counts that check a copy,
//! and the log as the live feed reads it to fill a gap.

use futures_util::TryStreamExt;
use onegrid_app::wire::{AuditEntry, Role};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::super::codec::{time_from_text, time_to_text};
use super::super::snapshot::{EventRow, IncidentRow, SessionExport, Snapshot, TokenExport, TABLES};
use super::super::{LoggedEvent, Result, StoreError};
use super::accounts::{token_from_row, user_from_row};
use super::{incident_from_row, SqliteStore, INCIDENT_COLUMNS};
use crate::district::AssetLayer;

/// Rows per multi-row INSERT when restoring (at most 15 columns × 500 bound variables).
const BATCH: usize = 500;

impl SqliteStore {
    pub async fn log_after(&self, after: i64, limit: i64) -> Result<Vec<LoggedEvent>> {
        let rows = sqlx::query(
            "SELECT e.seq, e.kind, e.incident_id, e.payload,
                    (SELECT group_concat(key, char(31)) FROM
                        (SELECT key FROM event_scope s WHERE s.seq = e.seq ORDER BY key)) AS keys
             FROM events e WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.try_get("seq")?;
                let incident_id: Option<i64> = r.try_get("incident_id")?;
                let incident = match incident_id {
                    Some(_) => {
                        let payload: &str = r.try_get("payload")?;
                        Some(
                            serde_json::from_str(payload)
                                .map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?,
                        )
                    }
                    None => None,
                };
                let keys: Option<String> = r.try_get("keys")?;
                Ok(LoggedEvent {
                    seq,
                    kind: r.try_get("kind")?,
                    incident,
                    scope: keys
                        .map(|k| k.split('\u{1f}').map(str::to_string).collect())
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    pub async fn table_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut out = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            // The names come from the fixed list above, never from input.
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&self.reader)
                .await?;
            out.push((table.to_string(), n));
        }
        Ok(out)
    }

    pub async fn export(&self) -> Result<Snapshot> {
        let mut s = Snapshot {
            departments: self.load_departments().await?,
            jurisdictions: self.load_jurisdictions().await?,
            ..Snapshot::default()
        };
        for layer in AssetLayer::ALL {
            s.assets.extend(self.load_assets(layer).await?);
        }
        let db = &self.reader;
        let mut rows = sqlx::query("SELECT key, value FROM meta ORDER BY key").fetch(db);
        while let Some(r) = rows.try_next().await? {
            s.meta.push((r.try_get("key")?, r.try_get("value")?));
        }
        drop(rows);
        let mut rows = sqlx::query(
            "SELECT seq, kind, incident_id, payload, actor, created_at, detail FROM events ORDER BY seq",
        )
        .fetch(db);
        while let Some(r) = rows.try_next().await? {
            s.events.push(EventRow {
                seq: r.try_get("seq")?,
                kind: r.try_get("kind")?,
                incident_id: r.try_get("incident_id")?,
                payload: r.try_get("payload")?,
                detail: r.try_get("detail")?,
                actor: r.try_get("actor")?,
                created_at: time_from_text(r.try_get("created_at")?)?,
            });
        }
        drop(rows);
        let sql = format!("SELECT {INCIDENT_COLUMNS}, resolved_at FROM incidents ORDER BY id");
        let mut rows = sqlx::query(&sql).fetch(db);
        while let Some(r) = rows.try_next().await? {
            let resolved: Option<String> = r.try_get("resolved_at")?;
            s.incidents.push(IncidentRow {
                incident: incident_from_row(&r)?,
                resolved_at: resolved.as_deref().map(time_from_text).transpose()?,
            });
        }
        drop(rows);
        let mut rows =
            sqlx::query("SELECT key, incident_id FROM incident_scope ORDER BY incident_id, key")
                .fetch(db);
        while let Some(r) = rows.try_next().await? {
            s.incident_scope
                .push((r.try_get("key")?, r.try_get("incident_id")?));
        }
        drop(rows);
        let mut rows = sqlx::query("SELECT key, seq FROM event_scope ORDER BY seq, key").fetch(db);
        while let Some(r) = rows.try_next().await? {
            s.event_scope.push((r.try_get("key")?, r.try_get("seq")?));
        }
        drop(rows);
        let mut rows = sqlx::query(
            "SELECT u.id, u.username, u.role, u.scope, u.password_hash, u.must_change, u.disabled,
                    u.created_at, u.updated_at FROM users u ORDER BY u.id",
        )
        .fetch(db);
        while let Some(r) = rows.try_next().await? {
            s.users.push(user_from_row(&r)?);
        }
        drop(rows);
        let mut rows = sqlx::query(
            "SELECT token_hash, user_id, created_at, last_seen_at, expires_at, address
             FROM sessions ORDER BY token_hash",
        )
        .fetch(db);
        while let Some(r) = rows.try_next().await? {
            s.sessions.push(SessionExport {
                token_hash: r.try_get("token_hash")?,
                user_id: r.try_get("user_id")?,
                created_at: time_from_text(r.try_get("created_at")?)?,
                last_seen_at: time_from_text(r.try_get("last_seen_at")?)?,
                expires_at: time_from_text(r.try_get("expires_at")?)?,
                address: r.try_get("address")?,
            });
        }
        drop(rows);
        let mut rows = sqlx::query(
            "SELECT id, kind, name, scope, created_at, revoked_at, token_hash FROM tokens ORDER BY id",
        )
        .fetch(db);
        while let Some(r) = rows.try_next().await? {
            s.tokens.push(TokenExport {
                token: token_from_row(&r)?,
                token_hash: r.try_get("token_hash")?,
            });
        }
        drop(rows);
        let mut rows = sqlx::query(
            "SELECT id, at, actor, role, address, action, target, detail, seq FROM audit ORDER BY id",
        )
        .fetch(db);
        while let Some(r) = rows.try_next().await? {
            let role: Option<String> = r.try_get("role")?;
            s.audit.push(AuditEntry {
                id: r.try_get("id")?,
                at: time_from_text(r.try_get("at")?)?,
                actor: r.try_get("actor")?,
                role: role.as_deref().and_then(Role::parse),
                address: r.try_get("address")?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                detail: r.try_get("detail")?,
                seq: r.try_get("seq")?,
            });
        }
        Ok(s)
    }

    pub async fn restore(
        &self,
        s: &Snapshot,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<()> {
        let total = s.rows();
        let mut done = 0;
        let mut step = |n: usize| {
            done += n;
            progress(done, total);
        };
        let mut tx = self.write().await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM users)
                  + (SELECT count(*) FROM jurisdictions) + (SELECT count(*) FROM assets)
                  + (SELECT count(*) FROM audit)",
        )
        .fetch_one(&mut *tx)
        .await?;
        if used > 0 {
            return Err(StoreError::Conflict(format!(
                "the target store is not empty: it holds {used} rows of events, users, \
                 jurisdictions, assets or audit"
            )));
        }
        sqlx::query("DELETE FROM meta").execute(&mut *tx).await?;
        for chunk in s.meta.chunks(BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO meta (key, value) ");
            q.push_values(chunk, |mut b, (k, v)| {
                b.push_bind(k).push_bind(v);
            });
            q.build().execute(&mut *tx).await?;
            step(chunk.len());
        }
        super::layers::insert_departments(&mut tx, &s.departments, &mut step).await?;
        super::layers::insert_jurisdictions(&mut tx, &s.jurisdictions, &mut step).await?;
        super::layers::insert_assets(&mut tx, &s.assets, &mut step).await?;
        for chunk in s.events.chunks(BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (seq, kind, incident_id, payload, actor, created_at, detail) ",
            );
            q.push_values(chunk, |mut b, e| {
                b.push_bind(e.seq)
                    .push_bind(&e.kind)
                    .push_bind(e.incident_id)
                    .push_bind(&e.payload)
                    .push_bind(&e.actor)
                    .push_bind(time_to_text(e.created_at))
                    .push_bind(&e.detail);
            });
            q.build().execute(&mut *tx).await?;
            step(chunk.len());
        }
        for chunk in s.incidents.chunks(BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO incidents (id, seq, created_at, updated_at, status, category, lat, lon,
                    description, reporter, street_code, street_name, grid_code, grid_name,
                    analysis, resolved_at, department, merged_into, duplicate_of,
                    dispatch_due_at, resolve_due_at, escalation) ",
            );
            q.push_values(chunk, |mut b, row| {
                let i = &row.incident;
                b.push_bind(i.id)
                    .push_bind(i.seq)
                    .push_bind(time_to_text(i.created_at))
                    .push_bind(time_to_text(i.updated_at))
                    .push_bind(i.status.as_str())
                    .push_bind(i.category.code())
                    .push_bind(i.lat)
                    .push_bind(i.lon)
                    .push_bind(&i.description)
                    .push_bind(&i.reporter)
                    .push_bind(&i.street_code)
                    .push_bind(&i.street_name)
                    .push_bind(&i.grid_code)
                    .push_bind(&i.grid_name)
                    .push_bind(serde_json::to_string(&i.analysis).unwrap_or_default())
                    .push_bind(row.resolved_at.map(time_to_text))
                    .push_bind(&i.department)
                    .push_bind(i.merged_into)
                    .push_bind(i.duplicate_of)
                    .push_bind(i.dispatch_due_at.map(time_to_text))
                    .push_bind(i.resolve_due_at.map(time_to_text))
                    .push_bind(i64::from(i.escalation));
            });
            q.build().execute(&mut *tx).await?;
            step(chunk.len());
        }
        for (table, column, rows) in [
            ("incident_scope", "incident_id", &s.incident_scope),
            ("event_scope", "seq", &s.event_scope),
        ] {
            for chunk in rows.chunks(BATCH) {
                let mut q =
                    QueryBuilder::<Sqlite>::new(format!("INSERT INTO {table} (key, {column}) "));
                q.push_values(chunk, |mut b, (key, n)| {
                    b.push_bind(key).push_bind(*n);
                });
                q.build().execute(&mut *tx).await?;
                step(chunk.len());
            }
        }
        for chunk in s.users.chunks(BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO users (id, username, role, scope, password_hash, must_change,
                    disabled, created_at, updated_at) ",
            );
            q.push_values(chunk, |mut b, u| {
                b.push_bind(u.id)
                    .push_bind(&u.username)
                    .push_bind(u.role.as_str())
                    .push_bind(&u.scope)
                    .push_bind(&u.password_hash)
                    .push_bind(u.must_change)
                    .push_bind(u.disabled)
                    .push_bind(time_to_text(u.created_at))
                    .push_bind(time_to_text(u.updated_at));
            });
            q.build().execute(&mut *tx).await?;
            step(chunk.len());
        }
        for chunk in s.sessions.chunks(BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at,
                    address) ",
            );
            q.push_values(chunk, |mut b, x| {
                b.push_bind(&x.token_hash)
                    .push_bind(x.user_id)
                    .push_bind(time_to_text(x.created_at))
                    .push_bind(time_to_text(x.last_seen_at))
                    .push_bind(time_to_text(x.expires_at))
                    .push_bind(&x.address);
            });
            q.build().execute(&mut *tx).await?;
            step(chunk.len());
        }
        for chunk in s.tokens.chunks(BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO tokens (id, kind, name, scope, token_hash, created_at, revoked_at) ",
            );
            q.push_values(chunk, |mut b, t| {
                b.push_bind(t.token.id)
                    .push_bind(t.token.kind.as_str())
                    .push_bind(&t.token.name)
                    .push_bind(&t.token.scope)
                    .push_bind(&t.token_hash)
                    .push_bind(time_to_text(t.token.created_at))
                    .push_bind(t.token.revoked_at.map(time_to_text));
            });
            q.build().execute(&mut *tx).await?;
            step(chunk.len());
        }
        for chunk in s.audit.chunks(BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO audit (id, at, actor, role, address, action, target, detail, seq) ",
            );
            q.push_values(chunk, |mut b, a| {
                b.push_bind(a.id)
                    .push_bind(time_to_text(a.at))
                    .push_bind(&a.actor)
                    .push_bind(a.role.map(|r| r.as_str()))
                    .push_bind(&a.address)
                    .push_bind(&a.action)
                    .push_bind(&a.target)
                    .push_bind(&a.detail)
                    .push_bind(a.seq);
            });
            q.build().execute(&mut *tx).await?;
            step(chunk.len());
        }
        tx.commit().await?;
        Ok(())
    }
}
