-- Case work: the whole lifecycle (reported → triaged → dispatched → in progress → resolved →
-- closed; rejected; merged), the department an incident is dispatched to, the incident a
-- duplicate was merged into (and the one it was offered as the duplicate of), its deadlines and
-- the escalation reached, and what each event records besides the state (from, to, reason,
-- note, department…). Incidents from before keep their status and have no deadlines.
--
-- SQLite cannot change a CHECK constraint in place, so `incidents` is made again: its rows are
-- set aside, the table dropped and created anew, the rows put back. This runs in the
-- migration's one transaction; foreign keys are checked at its commit (`defer_foreign_keys`),
-- by when every incident that `incident_scope` and `event_scope` point at is back.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE incidents_before_case_work AS SELECT * FROM incidents;
DROP TABLE incidents;

CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('reported', 'triaged', 'dispatched',
                    'in_progress', 'resolved', 'closed', 'rejected', 'merged')),
    category    TEXT    NOT NULL,
    lat         REAL    NOT NULL,
    lon         REAL    NOT NULL,
    description TEXT    NOT NULL,
    reporter    TEXT,
    street_code TEXT    NOT NULL,
    street_name TEXT    NOT NULL,
    grid_code   TEXT    NOT NULL,
    grid_name   TEXT    NOT NULL,
    resolved_at TEXT,
    seq         INTEGER NOT NULL REFERENCES events (seq),
    analysis    TEXT    NOT NULL DEFAULT '{}',
    department  TEXT,
    merged_into INTEGER REFERENCES incidents (id) DEFERRABLE INITIALLY DEFERRED,
    duplicate_of INTEGER REFERENCES incidents (id) DEFERRABLE INITIALLY DEFERRED,
    dispatch_due_at TEXT,
    resolve_due_at  TEXT,
    -- 0 none, 1 past the deadline of the current phase, 2 past 150 % of it.
    escalation  INTEGER NOT NULL DEFAULT 0 CHECK (escalation BETWEEN 0 AND 2)
);
INSERT INTO incidents (id, created_at, updated_at, status, category, lat, lon, description,
    reporter, street_code, street_name, grid_code, grid_name, resolved_at, seq, analysis)
SELECT id, created_at, updated_at, status, category, lat, lon, description,
    reporter, street_code, street_name, grid_code, grid_name, resolved_at, seq, analysis
FROM incidents_before_case_work;
DROP TABLE incidents_before_case_work;
-- An incident dispatched before case work was dispatched to its proposed department.
UPDATE incidents SET department = json_extract(analysis, '$.responsibility.department.code')
WHERE status = 'dispatched';
CREATE INDEX incidents_created ON incidents (created_at);
CREATE INDEX incidents_status ON incidents (status, created_at);
CREATE INDEX incidents_resolved ON incidents (resolved_at);
CREATE INDEX incidents_department ON incidents (department);
-- The deadline watch reads open incidents by their deadlines, the auto-close resolved ones by
-- when they were resolved (incidents_resolved), duplicate suggestions by category and place.
CREATE INDEX incidents_dispatch_due ON incidents (dispatch_due_at)
    WHERE status IN ('reported', 'triaged');
CREATE INDEX incidents_resolve_due ON incidents (resolve_due_at)
    WHERE status IN ('dispatched', 'in_progress');
CREATE INDEX incidents_open_place ON incidents (category, lat)
    WHERE status IN ('reported', 'triaged', 'dispatched', 'in_progress');
CREATE INDEX incident_scope_incident ON incident_scope (incident_id);
CREATE INDEX event_scope_seq ON event_scope (seq);

-- What an event records besides the state it produced (JSON object): `from`, `to`, `action`,
-- `reason`, `note`, `department`, `category`, `into`, ….
ALTER TABLE events ADD COLUMN detail TEXT NOT NULL DEFAULT '{}';
UPDATE events SET detail = '{"to":"reported"}' WHERE kind = 'incident.reported';
-- Status changes before case work: their from/to were kept in the audit row of the same seq.
UPDATE events SET detail = coalesce(
    (SELECT a.detail FROM audit a WHERE a.seq = events.seq AND json_valid(a.detail)), '{}')
WHERE kind = 'incident.status_changed';
