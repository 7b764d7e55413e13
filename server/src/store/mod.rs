//! The store: the only place with SQL. It exposes domain operations — append an event and
//! update the state it changes in one transaction, query incidents, save and load the
//! district's layers — never rows or SQL strings.
//!
//! SQLite (WAL, durable commits) is the embedded default. A PostgreSQL backend is added as
//! another variant of [`Store`] with its own migrations folder; callers do not change.

/// `backend!(self, s => s.op(..).await)`: the same operation on whichever backend this is.
macro_rules! backend {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

pub mod accounts;
mod codec;
mod postgres;
pub mod snapshot;
mod sqlite;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use onegrid_app::wire::{Analysis, Category, HistoryEntry, Incident, IncidentStatus};

use crate::district::{Asset, AssetLayer, Department, District, Jurisdiction};

pub use accounts::{
    AuditQuery, AuditRecord, FailedLogins, NewUser, SessionRow, TokenKind, TokenRow, UserChange,
    UserRow, Who,
};
pub use postgres::PgStore;
pub use snapshot::Snapshot;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Text the database cannot hold (U+0000 in PostgreSQL's text): the caller's input.
    #[error("{0}")]
    Invalid(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create data dir {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A write that would break a uniqueness the domain promises (a taken username).
    #[error("{0}")]
    Conflict(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        // 22021: invalid byte sequence (PostgreSQL's text cannot hold U+0000); 22P05: a
        // character the database's encoding cannot hold.
        let code = e
            .as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.to_string());
        match code.as_deref() {
            Some("22021") | Some("22P05") => StoreError::Invalid(
                "the text contains a character the database cannot store (such as U+0000)"
                    .to_string(),
            ),
            _ => StoreError::Database(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A validated, located incident about to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentDraft {
    pub category: Category,
    pub lon: f64,
    pub lat: f64,
    pub description: String,
    pub reporter: Option<String>,
    pub street_code: String,
    pub street_name: String,
    pub grid_code: String,
    pub grid_name: String,
    pub analysis: Analysis,
    /// Scope keys of the incident (see `accounts::Scope`): who may see it.
    pub scope_keys: Vec<String>,
    /// The open incident it is offered as the duplicate of.
    pub duplicate_of: Option<i64>,
    pub dispatch_due_at: Option<DateTime<Utc>>,
    pub resolve_due_at: Option<DateTime<Utc>>,
}

/// Filter, order and page for [`Store::list_incidents`] and [`Store::queue_counts`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IncidentQuery {
    pub limit: u32,
    /// Incidents skipped before the page.
    pub offset: u32,
    pub status: Option<IncidentStatus>,
    pub category: Option<Category>,
    /// Only incidents in (or at a seam touching) this jurisdiction: a street, community or grid.
    pub within: Option<String>,
    /// Only incidents dispatched to this department.
    pub department: Option<String>,
    /// Only incidents past the deadline of their phase at this moment.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only incidents at a seam (`Some(true)`) or not at one (`Some(false)`).
    pub seam: Option<bool>,
    /// Only incidents whose description or reporter holds this text, or whose id it is.
    pub text: Option<String>,
    pub sort: QueueSort,
    /// Only incidents with a greater id (with [`QueueSort::Id`]: the next page of an export).
    pub after_id: Option<i64>,
    /// Only incidents carrying this scope key; `None` for the whole district.
    pub visible_to: Option<String>,
}

/// Order of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueSort {
    /// Newest report first.
    #[default]
    Newest,
    /// Oldest report first.
    Oldest,
    /// Nearest deadline of the current phase first (those without one last).
    Deadline,
    /// By id (an export pages through the queue this way, with `after_id`).
    Id,
}

/// How many incidents of a queue fall under each value of each filter, every other filter
/// applied: what the desk shows beside each choice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueCounts {
    pub total: i64,
    pub statuses: Vec<(String, i64)>,
    pub categories: Vec<(String, i64)>,
    pub streets: Vec<(String, i64)>,
    pub departments: Vec<(String, i64)>,
    pub overdue: i64,
    pub seam: i64,
}

/// Counts since a moment (local midnight) and now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IncidentCounts {
    pub reported_since: i64,
    pub open: i64,
    pub resolved_since: i64,
    pub seq: i64,
}

/// One committed event of the log that concerns an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentEvent {
    pub seq: i64,
    pub incident: Incident,
    /// The scope keys the event carries (filled for new events; empty when read back for
    /// replay, which the store already filtered).
    pub scope: Vec<String>,
}

/// One committed event of the log, as the live feed needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    pub seq: i64,
    pub kind: String,
    /// The incident's state after the event, for incident events.
    pub incident: Option<Incident>,
    /// The scope keys the event carried.
    pub scope: Vec<String>,
}

/// The store. One variant per backend; every operation is a domain operation.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Opens (creating if needed) the SQLite database in `data_dir` and migrates it.
    pub async fn open_sqlite(data_dir: &std::path::Path) -> Result<Store> {
        Ok(Store::Sqlite(SqliteStore::open(data_dir).await?))
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://…`; PostGIS must be
    /// installable in it) and migrates it.
    pub async fn open_postgres(url: &str) -> Result<Store> {
        Ok(Store::Postgres(PgStore::open(url).await?))
    }

    /// The PostgreSQL database at `database_url` when one is given, else the SQLite file in
    /// `data_dir`.
    pub async fn open(data_dir: &std::path::Path, database_url: Option<&str>) -> Result<Store> {
        match database_url {
            Some(url) => Store::open_postgres(url).await,
            None => Store::open_sqlite(data_dir).await,
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Every row of every table, for `onegrid migrate-store`.
    pub async fn export(&self) -> Result<Snapshot> {
        backend!(self, s => s.export().await)
    }

    /// Writes `snapshot` into this store, which must hold no district, incident, event or
    /// account yet, keeping every id and `seq`; in one transaction.
    pub async fn restore(
        &self,
        snapshot: &Snapshot,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<()> {
        backend!(self, s => s.restore(snapshot, progress).await)
    }

    /// Rows per table (`events`, `incidents`, …), in a fixed order, to compare two stores.
    pub async fn table_counts(&self) -> Result<Vec<(String, i64)>> {
        backend!(self, s => s.table_counts().await)
    }

    /// What the saved district came from (`demo seed 1`), if one was saved whole.
    pub async fn district_origin(&self) -> Result<Option<String>> {
        backend!(self, s => s.district_origin().await)
    }

    /// True when no district has been saved yet.
    pub async fn has_district(&self) -> Result<bool> {
        backend!(self, s => s.has_district().await)
    }

    /// Saves a whole district (departments, jurisdictions, assets) in one transaction, with a
    /// `district.loaded` event. `progress(done, total)` is called as rows are written.
    pub async fn save_district(
        &self,
        district: &District,
        origin: &str,
        who: &Who,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<i64> {
        backend!(self, s => s.save_district(district, origin, who, progress).await)
    }

    /// Replaces the given asset layers (and, if `jurisdictions` is `Some`, every jurisdiction)
    /// with imported data in one transaction, with a `layers.imported` event. On any error
    /// nothing changes.
    pub async fn import(
        &self,
        layers: &[AssetLayer],
        assets: &[Asset],
        jurisdictions: Option<&[Jurisdiction]>,
        origin: &str,
        who: &Who,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<i64> {
        backend!(self, s => s.import(layers, assets, jurisdictions, origin, who, progress).await)
    }

    /// Replaces every department in one transaction, with a `departments.imported` event
    /// (which, like an import of layers, makes a running server reload).
    pub async fn replace_departments(
        &self,
        departments: &[Department],
        origin: &str,
        who: &Who,
    ) -> Result<i64> {
        backend!(self, s => s.replace_departments(departments, origin, who).await)
    }

    /// Replaces every jurisdiction with `jurisdictions` (the kept ones and the newly generated
    /// grids) in one transaction, with a `grids.generated` event carrying `report`.
    pub async fn save_generated_grids(
        &self,
        jurisdictions: &[Jurisdiction],
        report: &serde_json::Value,
        who: &Who,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<i64> {
        backend!(self, s => s.save_generated_grids(jurisdictions, report, who, progress).await)
    }

    pub async fn load_departments(&self) -> Result<Vec<Department>> {
        backend!(self, s => s.load_departments().await)
    }

    pub async fn load_jurisdictions(&self) -> Result<Vec<Jurisdiction>> {
        backend!(self, s => s.load_jurisdictions().await)
    }

    pub async fn load_assets(&self, layer: AssetLayer) -> Result<Vec<Asset>> {
        backend!(self, s => s.load_assets(layer).await)
    }

    /// Records a reported incident, its scope keys, its event and its audit row in one
    /// transaction.
    pub async fn report_incident(
        &self,
        draft: &IncidentDraft,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<IncidentEvent> {
        backend!(self, s => s.report_incident(draft, who, now).await)
    }

    /// Applies one case action to incident `id` with its event (and the merge target's) and
    /// audit row, in one transaction — only if the incident carries `visible_to` and is still
    /// at `expected_seq`, so two officers acting at once never overwrite each other.
    pub async fn apply_case(
        &self,
        id: i64,
        expected_seq: i64,
        visible_to: Option<&str>,
        change: &CaseChange,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<CaseOutcome> {
        backend!(self, s => s.apply_case(id, expected_seq, visible_to, change, who, now).await)
    }

    /// Open incidents past the deadline of their current phase whose escalation is below 2,
    /// earliest deadline first, at most `limit`.
    pub async fn due_for_escalation(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Incident>> {
        backend!(self, s => s.due_for_escalation(now, limit).await)
    }

    /// Resolved incidents resolved at or before `before`, oldest first, at most `limit`.
    pub async fn resolved_before(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Incident>> {
        backend!(self, s => s.resolved_before(before, limit).await)
    }

    /// Open incidents of `category` reported at or after `since` inside the box
    /// `[west, south, east, north]` (degrees), newest first.
    pub async fn open_incidents_near(
        &self,
        category: Category,
        bbox: [f64; 4],
        since: DateTime<Utc>,
    ) -> Result<Vec<Incident>> {
        backend!(self, s => s.open_incidents_near(category, bbox, since).await)
    }

    /// The events of incident `id`, oldest first; `None` if there is no such incident carrying
    /// the scope key `visible_to`.
    pub async fn incident_history(
        &self,
        id: i64,
        visible_to: Option<&str>,
    ) -> Result<Option<Vec<HistoryEntry>>> {
        backend!(self, s => s.incident_history(id, visible_to).await)
    }

    /// The incident, if it exists and carries the scope key `visible_to` (any, if `None`).
    pub async fn incident(&self, id: i64, visible_to: Option<&str>) -> Result<Option<Incident>> {
        backend!(self, s => s.incident(id, visible_to).await)
    }

    /// The page of the queue `query` asks for, in its order.
    pub async fn list_incidents(&self, query: &IncidentQuery) -> Result<Vec<Incident>> {
        backend!(self, s => s.list_incidents(query).await)
    }

    /// The counts beside each filter of the queue `query` (its page and order ignored);
    /// `overdue` counts those past their deadline at `now`.
    pub async fn queue_counts(
        &self,
        query: &IncidentQuery,
        now: DateTime<Utc>,
    ) -> Result<QueueCounts> {
        backend!(self, s => s.queue_counts(query, now).await)
    }

    /// Counts over the incidents carrying `visible_to` (all, if `None`).
    pub async fn counts(
        &self,
        since: DateTime<Utc>,
        visible_to: Option<&str>,
    ) -> Result<IncidentCounts> {
        backend!(self, s => s.counts(since, visible_to).await)
    }

    /// `(seq, kind, actor)` of every event with `seq` in `from..=to`, oldest first.
    pub async fn event_seqs(&self, from: i64, to: i64) -> Result<Vec<(i64, String, String)>> {
        backend!(self, s => s.event_seqs(from, to).await)
    }

    /// Highest committed `seq` (0 for an empty log).
    pub async fn last_seq(&self) -> Result<i64> {
        backend!(self, s => s.last_seq().await)
    }

    /// `seq` of the newest event that changed the district's layers (`district.loaded`,
    /// `layers.imported`, `departments.imported` or `grids.generated`); 0 when there is none. The in-memory indexes are current when they
    /// were loaded at this `seq`.
    pub async fn layers_seq(&self) -> Result<i64> {
        backend!(self, s => s.layers_seq().await)
    }

    /// Incident events with `seq > after` that carried the scope key `visible_to` (all, if
    /// `None`), oldest first, at most `limit`.
    pub async fn incident_events_after(
        &self,
        after: i64,
        limit: i64,
        visible_to: Option<&str>,
    ) -> Result<Vec<IncidentEvent>> {
        backend!(self, s => s.incident_events_after(after, limit, visible_to).await)
    }

    /// Every event with `seq > after` (incident events with their incident and the scope keys
    /// they carried; others with their kind only), oldest first, at most `limit`. What the live
    /// feed fills a gap with: `seq` is given out in commit order, so once `seq` N is committed
    /// every smaller one is either committed or never will be.
    pub async fn log_after(&self, after: i64, limit: i64) -> Result<Vec<LoggedEvent>> {
        backend!(self, s => s.log_after(after, limit).await)
    }

    pub async fn close(&self) {
        backend!(self, s => s.close().await)
    }
}

/// What one case action writes (decided by `cases`; the store applies it as given).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseChange {
    /// The event's kind (`incident.triaged`, …).
    pub kind: &'static str,
    pub status: IncidentStatus,
    /// A corrected category, with the analysis made for it.
    pub category: Option<Category>,
    pub analysis: Option<Analysis>,
    /// Replaces the incident's scope keys (after a re-analysis).
    pub scope_keys: Option<Vec<String>>,
    /// Added to the incident's scope keys (the department it is dispatched to).
    pub add_scope_key: Option<String>,
    /// The department it is dispatched to.
    pub department: Option<String>,
    pub merged_into: Option<i64>,
    pub resolution: Resolution,
    /// The escalation level to record (0 when a new phase starts: dispatched, reopened).
    pub escalation: Option<u8>,
    /// New deadlines (a corrected category has its own).
    pub due: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The duplicate suggestion is settled (dismissed, or merged).
    pub clear_duplicate: bool,
    /// What the event records besides the state (`from`, `to`, `reason`, …).
    pub detail: serde_json::Map<String, serde_json::Value>,
    /// A merge also records an event on the incident it joins.
    pub joined: Option<Joined>,
}

impl CaseChange {
    /// An event of `kind` that leaves the incident in `status` and records `detail`, changing
    /// nothing else (the fields are set on the result for anything more).
    pub fn new(
        kind: &'static str,
        status: IncidentStatus,
        detail: serde_json::Map<String, serde_json::Value>,
    ) -> CaseChange {
        CaseChange {
            kind,
            status,
            category: None,
            analysis: None,
            scope_keys: None,
            add_scope_key: None,
            department: None,
            merged_into: None,
            resolution: Resolution::Keep,
            escalation: None,
            due: None,
            clear_duplicate: false,
            detail,
            joined: None,
        }
    }
}

/// What happens to `resolved_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Set,
    Clear,
    Keep,
}

impl Resolution {
    /// As the stores' SQL spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Set => "set",
            Resolution::Clear => "clear",
            Resolution::Keep => "keep",
        }
    }
}

/// The incident a duplicate is merged into: it gets an `incident.duplicate_joined` event with
/// `detail`, if it is still at `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    pub id: i64,
    pub seq: i64,
    pub detail: serde_json::Map<String, serde_json::Value>,
}

/// Outcome of [`Store::apply_case`].
#[derive(Debug, Clone, PartialEq)]
pub enum CaseOutcome {
    Applied {
        event: Box<IncidentEvent>,
        joined: Option<Box<IncidentEvent>>,
    },
    /// The incident is no longer at the expected `seq`: nothing was written; this is it now.
    Stale(Box<Incident>),
    /// The merge target changed meanwhile (its id): nothing was written.
    JoinedChanged(i64),
    /// No such incident carrying the scope key.
    NotFound,
}
