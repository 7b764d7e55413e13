-- Case work: the whole lifecycle (reported → triaged → dispatched → in progress → resolved →
-- closed; rejected; merged), the department an incident is dispatched to, the incident a
-- duplicate was merged into (and the one it was offered as the duplicate of), its deadlines and
-- the escalation reached, and what each event records besides the state (from, to, reason,
-- note, department…). Incidents from before keep their status and have no deadlines.
ALTER TABLE incidents DROP CONSTRAINT incidents_status_check;
ALTER TABLE incidents ADD CONSTRAINT incidents_status_check CHECK (status IN ('reported',
    'triaged', 'dispatched', 'in_progress', 'resolved', 'closed', 'rejected', 'merged'));
ALTER TABLE incidents
    ADD COLUMN department  text,
    ADD COLUMN merged_into bigint REFERENCES incidents (id) DEFERRABLE INITIALLY DEFERRED,
    ADD COLUMN duplicate_of bigint REFERENCES incidents (id) DEFERRABLE INITIALLY DEFERRED,
    ADD COLUMN dispatch_due_at timestamptz,
    ADD COLUMN resolve_due_at timestamptz,
    -- 0 none, 1 past the deadline of the current phase, 2 past 150 % of it.
    ADD COLUMN escalation smallint NOT NULL DEFAULT 0 CHECK (escalation BETWEEN 0 AND 2);
-- An incident dispatched before case work was dispatched to its proposed department.
UPDATE incidents SET department = analysis::jsonb #>> '{responsibility,department,code}'
WHERE status = 'dispatched';
CREATE INDEX incidents_department ON incidents (department);
-- The deadline watch reads open incidents by their deadlines, the auto-close resolved ones by
-- when they were resolved (incidents_resolved), duplicate suggestions by category and place.
CREATE INDEX incidents_dispatch_due ON incidents (dispatch_due_at)
    WHERE status IN ('reported', 'triaged');
CREATE INDEX incidents_resolve_due ON incidents (resolve_due_at)
    WHERE status IN ('dispatched', 'in_progress');
CREATE INDEX incidents_open_place ON incidents (category, lat)
    WHERE status IN ('reported', 'triaged', 'dispatched', 'in_progress');

-- What an event records besides the state it produced (JSON object): `from`, `to`, `action`,
-- `reason`, `note`, `department`, `category`, `into`, ….
ALTER TABLE events ADD COLUMN detail text NOT NULL DEFAULT '{}';
UPDATE events SET detail = '{"to":"reported"}' WHERE kind = 'incident.reported';
-- Status changes before case work: their from/to were kept in the audit row of the same seq.
UPDATE events e SET detail = a.detail
FROM audit a
WHERE a.seq = e.seq AND e.kind = 'incident.status_changed' AND a.detail LIKE '{%';
