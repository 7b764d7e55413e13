//! The queue on SQLite: incidents filtered, ordered and paged in SQL (scope included), and the
//! counts beside each filter.

use chrono::{DateTime, Utc};
use onegrid_app::wire::Incident;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::super::codec::time_to_text;
use super::super::{IncidentQuery, QueueCounts, QueueSort, Result};
use super::{incident_from_row, push_visible, SqliteStore, INCIDENT_COLUMNS};

/// A filter the counts leave out when they count its own values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Skip {
    None,
    Status,
    Category,
    Street,
    Department,
}

/// The deadline of the phase the incident is in (NULL once it is past both).
const DUE: &str = "CASE WHEN status IN ('reported', 'triaged') THEN dispatch_due_at \
     WHEN status IN ('dispatched', 'in_progress') THEN resolve_due_at END";

fn push_filters(q: &mut QueryBuilder<'_, Sqlite>, query: &IncidentQuery, skip: Skip) {
    if let Some(status) = query.status.filter(|_| skip != Skip::Status) {
        q.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(category) = query.category.filter(|_| skip != Skip::Category) {
        q.push(" AND category = ").push_bind(category.code());
    }
    if let Some(code) = &query.within {
        if skip != Skip::Street {
            q.push(" AND id IN (SELECT incident_id FROM incident_scope WHERE key = ")
                .push_bind(format!("j:{code}"))
                .push(")");
        }
    }
    if let Some(d) = query
        .department
        .as_ref()
        .filter(|_| skip != Skip::Department)
    {
        q.push(" AND department = ").push_bind(d.clone());
    }
    if let Some(at) = query.overdue_at {
        q.push(format!(" AND {DUE} <= "))
            .push_bind(time_to_text(at));
    }
    if let Some(seam) = query.seam {
        q.push(" AND coalesce(json_extract(analysis, '$.responsibility.review_required'), 0) = ")
            .push_bind(i64::from(seam));
    }
    if let Some(text) = query.text.as_ref().filter(|t| !t.is_empty()) {
        q.push(" AND (instr(description, ")
            .push_bind(text.clone())
            .push(") > 0 OR instr(coalesce(reporter, ''), ")
            .push_bind(text.clone())
            .push(") > 0 OR CAST(id AS TEXT) = ")
            .push_bind(text.clone())
            .push(")");
    }
    if let Some(after) = query.after_id {
        q.push(" AND id > ").push_bind(after);
    }
    push_visible(q, query.visible_to.as_deref());
}

impl SqliteStore {
    pub async fn list_incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE 1 = 1"
        ));
        push_filters(&mut q, query, Skip::None);
        q.push(match query.sort {
            QueueSort::Newest => " ORDER BY created_at DESC, id DESC",
            QueueSort::Oldest => " ORDER BY created_at ASC, id ASC",
            QueueSort::Deadline => "",
            QueueSort::Id => " ORDER BY id ASC",
        });
        if query.sort == QueueSort::Deadline {
            q.push(format!(
                " ORDER BY {DUE} ASC NULLS LAST, created_at ASC, id ASC"
            ));
        }
        q.push(" LIMIT ")
            .push_bind(i64::from(query.limit))
            .push(" OFFSET ")
            .push_bind(i64::from(query.offset));
        let rows = q.build().fetch_all(&self.reader).await?;
        rows.iter().map(incident_from_row).collect()
    }

    pub async fn queue_counts(
        &self,
        query: &IncidentQuery,
        now: DateTime<Utc>,
    ) -> Result<QueueCounts> {
        let grouped = |column: &'static str, skip: Skip| {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "SELECT coalesce({column}, '') AS value, count(*) AS n FROM incidents WHERE 1 = 1"
            ));
            push_filters(&mut q, query, skip);
            q.push(format!(" GROUP BY {column} ORDER BY n DESC, value"));
            q
        };
        let mut counts = QueueCounts::default();
        for (column, skip, out) in [
            ("status", Skip::Status, &mut counts.statuses),
            ("category", Skip::Category, &mut counts.categories),
            ("street_code", Skip::Street, &mut counts.streets),
            ("department", Skip::Department, &mut counts.departments),
        ] {
            let mut q = grouped(column, skip);
            for r in q.build().fetch_all(&self.reader).await? {
                out.push((r.try_get("value")?, r.try_get("n")?));
            }
        }
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT count(*) AS total,
                coalesce(sum(CASE WHEN {DUE} <= "
        ));
        q.push_bind(time_to_text(now));
        q.push(
            " THEN 1 ELSE 0 END), 0) AS overdue,
                coalesce(sum(coalesce(json_extract(analysis, '$.responsibility.review_required'), 0)), 0) AS seam
             FROM incidents WHERE 1 = 1",
        );
        push_filters(&mut q, query, Skip::None);
        let r = q.build().fetch_one(&self.reader).await?;
        counts.total = r.try_get("total")?;
        counts.overdue = r.try_get("overdue")?;
        counts.seam = r.try_get("seam")?;
        Ok(counts)
    }
}
