//! Every row of an installation, typed: what `onegrid migrate-store` reads from one store and
//! writes into another, keeping every id and `seq`.

use chrono::{DateTime, Utc};
use onegrid_app::wire::{AuditEntry, Incident};

use super::accounts::{TokenRow, UserRow};
use crate::district::{Asset, Department, Jurisdiction};

/// One row of the event log as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub seq: i64,
    pub kind: String,
    pub incident_id: Option<i64>,
    /// JSON text (the incident after the change, or the import's summary).
    pub payload: String,
    /// JSON object: what the event records besides the state (`from`, `to`, `reason`, …).
    pub detail: String,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

/// An incident with the columns the wire type does not carry.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRow {
    pub incident: Incident,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A login session as stored (its token only as a hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionExport {
    pub token_hash: String,
    pub user_id: i64,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub address: String,
}

/// A screen or API token as stored (only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenExport {
    pub token: TokenRow,
    pub token_hash: String,
}

/// Everything in a store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub meta: Vec<(String, String)>,
    pub departments: Vec<Department>,
    pub jurisdictions: Vec<Jurisdiction>,
    /// Every layer's assets.
    pub assets: Vec<Asset>,
    pub events: Vec<EventRow>,
    pub incidents: Vec<IncidentRow>,
    /// `(key, incident_id)`.
    pub incident_scope: Vec<(String, i64)>,
    /// `(key, seq)`.
    pub event_scope: Vec<(String, i64)>,
    pub users: Vec<UserRow>,
    pub sessions: Vec<SessionExport>,
    pub tokens: Vec<TokenExport>,
    pub audit: Vec<AuditEntry>,
}

impl Snapshot {
    /// Rows per table, in the order of [`TABLES`].
    pub fn counts(&self) -> Vec<(String, i64)> {
        let n = [
            self.meta.len(),
            self.departments.len(),
            self.jurisdictions.len(),
            self.assets.len(),
            self.events.len(),
            self.incidents.len(),
            self.incident_scope.len(),
            self.event_scope.len(),
            self.users.len(),
            self.sessions.len(),
            self.tokens.len(),
            self.audit.len(),
        ];
        TABLES
            .iter()
            .zip(n)
            .map(|(t, n)| (t.to_string(), n as i64))
            .collect()
    }

    /// Rows in all, for progress bars.
    pub fn rows(&self) -> usize {
        self.counts().iter().map(|(_, n)| *n as usize).sum()
    }
}

/// The tables of a store, in the order [`Snapshot::counts`] and `table_counts` give them.
pub const TABLES: [&str; 12] = [
    "meta",
    "departments",
    "jurisdictions",
    "assets",
    "events",
    "incidents",
    "incident_scope",
    "event_scope",
    "users",
    "sessions",
    "tokens",
    "audit",
];

/// One table's rows in the store copied from and the store copied into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: String,
    pub source: i64,
    pub target: i64,
}

/// Copies every row of `source` into the empty `target` (one transaction; ids and `seq`
/// values kept) and counts both afterwards. `Err(Conflict)` when `target` holds data;
/// `Err(Corrupt)` naming the tables whose counts differ.
pub async fn migrate(
    source: &super::Store,
    target: &super::Store,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> super::Result<Vec<TableCount>> {
    let snapshot = source.export().await?;
    let before = source.table_counts().await?;
    target.restore(&snapshot, progress).await?;
    let after = target.table_counts().await?;
    let counts: Vec<TableCount> = before
        .into_iter()
        .zip(after)
        .map(|((table, source), (_, target))| TableCount {
            table,
            source,
            target,
        })
        .collect();
    let differ: Vec<&str> = counts
        .iter()
        .filter(|c| c.source != c.target)
        .map(|c| c.table.as_str())
        .collect();
    if !differ.is_empty() {
        return Err(super::StoreError::Corrupt(format!(
            "the copy differs from the original in {}",
            differ.join(", ")
        )));
    }
    Ok(counts)
}
