-- Accounts, sessions, tokens, the audit trail, and the scope keys that decide who sees what.

-- People who log in. `scope` is a jurisdiction code (street, community or grid officers and
-- workers) or a department code (department operators); NULL for the district-wide roles.
-- Only an argon2id hash of the password is kept (PHC string with its salt and parameters).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'duty_officer', 'street_officer',
                      'community_worker', 'grid_worker', 'department_operator')),
    scope         TEXT,
    password_hash TEXT    NOT NULL,
    -- Set for a one-time password: nothing but setting a new one is allowed until then.
    must_change   INTEGER NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);

-- Login sessions: only the SHA-256 of the opaque token is stored. A session ends at
-- `expires_at` (absolute) or when unused for the idle time measured from `last_seen_at`.
CREATE TABLE sessions (
    token_hash   TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    created_at   TEXT    NOT NULL,
    last_seen_at TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL,
    address      TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);

-- Wall screens and API clients: named tokens (SHA-256 only), revocable.
CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL CHECK (kind IN ('screen', 'api_client')),
    name       TEXT    NOT NULL,
    scope      TEXT,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at TEXT    NOT NULL,
    revoked_at TEXT,
    UNIQUE (kind, name)
);

-- Who did what, when, from where: every write and every login attempt. Append-only: the
-- triggers refuse any change or deletion, whoever asks.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT    NOT NULL,
    actor   TEXT    NOT NULL,
    role    TEXT,
    address TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL DEFAULT '',
    detail  TEXT    NOT NULL DEFAULT '',
    seq     INTEGER
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_action ON audit (action, at);
CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail cannot be changed');
END;
CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail cannot be deleted');
END;

-- Every event records who caused it (`user:NAME`, `screen:NAME`, `api_client:NAME`,
-- `cli:OSUSER`, `system`).
ALTER TABLE events ADD COLUMN actor TEXT NOT NULL DEFAULT 'system';

-- Scope keys: `j:<code>` for every jurisdiction an incident lies in or touches at a seam (with
-- their ancestors), `d:<code>` for its proposed or assigned department. A caller with a scope
-- sees an incident, or an event, when its own key is among them. Kept per event too, so the
-- replay of the log is filtered by what each event carried when it happened.
CREATE TABLE incident_scope (
    key         TEXT    NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    PRIMARY KEY (key, incident_id)
) WITHOUT ROWID;
CREATE TABLE event_scope (
    key TEXT    NOT NULL,
    seq INTEGER NOT NULL REFERENCES events (seq),
    PRIMARY KEY (key, seq)
) WITHOUT ROWID;

-- The incidents and events recorded before scopes existed get theirs from their analysis: the
-- chain, the seam candidates and every ancestor of those, and the proposed department.
WITH RECURSIVE direct (incident_id, code) AS (
    SELECT i.id, json_extract(j.value, '$.code')
    FROM incidents i, json_each(i.analysis, '$.jurisdiction') j
    UNION
    SELECT i.id, json_extract(c.value, '$.code')
    FROM incidents i, json_each(i.analysis, '$.seam.candidates') c
),
up (incident_id, code) AS (
    SELECT incident_id, code FROM direct WHERE code IS NOT NULL
    UNION
    SELECT up.incident_id, j.parent FROM up JOIN jurisdictions j ON j.code = up.code
    WHERE j.parent IS NOT NULL
)
INSERT OR IGNORE INTO incident_scope (key, incident_id)
SELECT 'j:' || code, incident_id FROM up;

INSERT OR IGNORE INTO incident_scope (key, incident_id)
SELECT 'd:' || json_extract(analysis, '$.responsibility.department.code'), id FROM incidents
WHERE json_extract(analysis, '$.responsibility.department.code') IS NOT NULL;

INSERT OR IGNORE INTO event_scope (key, seq)
SELECT s.key, e.seq FROM events e JOIN incident_scope s ON s.incident_id = e.incident_id;
