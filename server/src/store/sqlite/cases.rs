//! Case work on SQLite: one action's event and state in one write transaction (which holds
//! the write lock from its first statement, so the `seq` check and the write cannot be split
//! by another writer), and an incident's history from the log.

use chrono::{DateTime, Utc};
use onegrid_app::wire::{Category, HistoryEntry, Incident};
use sqlx::{Row, Sqlite, Transaction};

use super::super::accounts::Who;
use super::super::codec::{history_entry, time_from_text, time_to_text};
use super::super::{CaseChange, CaseOutcome, IncidentEvent, Joined, Result, StoreError};
use super::{
    accounts, append_event, fetch_incident, fill_event, incident_from_row, SqliteStore,
    INCIDENT_COLUMNS,
};

impl SqliteStore {
    pub async fn apply_case(
        &self,
        id: i64,
        expected_seq: i64,
        visible_to: Option<&str>,
        change: &CaseChange,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<CaseOutcome> {
        let mut tx = self.write().await?;
        let Some(current) = fetch_incident(&mut tx, id, visible_to).await? else {
            return Ok(CaseOutcome::NotFound);
        };
        if current.seq != expected_seq {
            return Ok(CaseOutcome::Stale(Box::new(current)));
        }
        if let Some(j) = &change.joined {
            let target = fetch_incident(&mut tx, j.id, visible_to).await?;
            if target.map(|t| t.seq) != Some(j.seq) {
                return Ok(CaseOutcome::JoinedChanged(j.id));
            }
        }
        let at = time_to_text(now);
        let seq = append_event(&mut tx, change.kind, Some(id), "{}", &who.actor, now).await?;
        let analysis = change
            .analysis
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("encoding analysis: {e}")))?;
        sqlx::query(
            "UPDATE incidents SET status = ?1, updated_at = ?2, seq = ?3,
                 resolved_at = CASE ?4 WHEN 'set' THEN ?2 WHEN 'clear' THEN NULL
                                ELSE resolved_at END,
                 category = coalesce(?5, category),
                 analysis = coalesce(?6, analysis),
                 department = coalesce(?7, department),
                 merged_into = coalesce(?8, merged_into),
                 escalation = coalesce(?10, escalation),
                 dispatch_due_at = coalesce(?11, dispatch_due_at),
                 resolve_due_at = coalesce(?12, resolve_due_at),
                 duplicate_of = CASE WHEN ?13 THEN NULL ELSE duplicate_of END
             WHERE id = ?9",
        )
        .bind(change.status.as_str())
        .bind(&at)
        .bind(seq)
        .bind(change.resolution.as_str())
        .bind(change.category.map(|c| c.code()))
        .bind(analysis)
        .bind(&change.department)
        .bind(change.merged_into)
        .bind(id)
        .bind(change.escalation.map(i64::from))
        .bind(change.due.map(|d| time_to_text(d.0)))
        .bind(change.due.map(|d| time_to_text(d.1)))
        .bind(change.clear_duplicate)
        .execute(&mut *tx)
        .await?;
        if let Some(keys) = &change.scope_keys {
            sqlx::query("DELETE FROM incident_scope WHERE incident_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for key in keys {
                add_scope_key(&mut tx, id, key).await?;
            }
        }
        if let Some(key) = &change.add_scope_key {
            add_scope_key(&mut tx, id, key).await?;
        }
        let event = finish(&mut tx, seq, id, &change.detail, change.kind, who, now).await?;
        let joined = match &change.joined {
            Some(j) => Some(join(&mut tx, j, who, now).await?),
            None => None,
        };
        tx.commit().await?;
        Ok(CaseOutcome::Applied {
            event: Box::new(event),
            joined: joined.map(Box::new),
        })
    }

    pub async fn due_for_escalation(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Incident>> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents
             WHERE escalation < 2 AND (
                (status IN ('reported', 'triaged') AND dispatch_due_at <= ?1)
                OR (status IN ('dispatched', 'in_progress') AND resolve_due_at <= ?1))
             ORDER BY coalesce(dispatch_due_at, resolve_due_at), id LIMIT ?2"
        );
        let rows = sqlx::query(&sql)
            .bind(time_to_text(now))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(incident_from_row).collect()
    }

    pub async fn resolved_before(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Incident>> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents
             WHERE status = 'resolved' AND resolved_at <= ? ORDER BY resolved_at, id LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(time_to_text(before))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(incident_from_row).collect()
    }

    pub async fn open_incidents_near(
        &self,
        category: Category,
        [west, south, east, north]: [f64; 4],
        since: DateTime<Utc>,
    ) -> Result<Vec<Incident>> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents
             WHERE status IN ('reported', 'triaged', 'dispatched', 'in_progress')
               AND category = ? AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?
               AND created_at >= ?
             ORDER BY created_at DESC, id DESC LIMIT 100"
        );
        let rows = sqlx::query(&sql)
            .bind(category.code())
            .bind(south)
            .bind(north)
            .bind(west)
            .bind(east)
            .bind(time_to_text(since))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(incident_from_row).collect()
    }

    pub async fn incident_history(
        &self,
        id: i64,
        visible_to: Option<&str>,
    ) -> Result<Option<Vec<HistoryEntry>>> {
        if self.incident(id, visible_to).await?.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT seq, kind, actor, created_at, detail FROM events
             WHERE incident_id = ? ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                history_entry(
                    r.try_get("seq")?,
                    r.try_get("kind")?,
                    r.try_get("actor")?,
                    time_from_text(r.try_get("created_at")?)?,
                    r.try_get("detail")?,
                )
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }
}

async fn add_scope_key(tx: &mut Transaction<'_, Sqlite>, id: i64, key: &str) -> Result<()> {
    sqlx::query("INSERT OR IGNORE INTO incident_scope (key, incident_id) VALUES (?, ?)")
        .bind(key)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The incident's new state into its event, with the detail, and the audit row.
async fn finish(
    tx: &mut Transaction<'_, Sqlite>,
    seq: i64,
    id: i64,
    detail: &serde_json::Map<String, serde_json::Value>,
    kind: &str,
    who: &Who,
    now: DateTime<Utc>,
) -> Result<IncidentEvent> {
    let incident = fetch_incident(tx, id, None)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("incident {id} vanished")))?;
    let detail = serde_json::Value::Object(detail.clone()).to_string();
    let scope = fill_event(tx, seq, &incident, &detail).await?;
    accounts::audit_in(tx, now, who, kind, &id.to_string(), &detail, Some(seq)).await?;
    Ok(IncidentEvent {
        seq,
        incident,
        scope,
    })
}

/// The merge target's `incident.duplicate_joined` event (its state unchanged but for `seq`).
async fn join(
    tx: &mut Transaction<'_, Sqlite>,
    j: &Joined,
    who: &Who,
    now: DateTime<Utc>,
) -> Result<IncidentEvent> {
    let kind = "incident.duplicate_joined";
    let seq = append_event(tx, kind, Some(j.id), "{}", &who.actor, now).await?;
    sqlx::query("UPDATE incidents SET updated_at = ?, seq = ? WHERE id = ?")
        .bind(time_to_text(now))
        .bind(seq)
        .bind(j.id)
        .execute(&mut **tx)
        .await?;
    finish(tx, seq, j.id, &j.detail, kind, who, now).await
}
