-- onegrid: the event log, incidents (a projection of the log) and the district's layers.

-- Every change is an event; `seq` is its position in the log (global, increasing, gap-free as
-- far as committed events go: AUTOINCREMENT's counter rolls back with the transaction).
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    incident_id INTEGER,
    payload     TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);
CREATE INDEX events_incident ON events (incident_id);

-- Current state of each incident, kept in step with the log in the same transaction.
CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('reported', 'dispatched', 'resolved')),
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
    seq         INTEGER NOT NULL REFERENCES events (seq)
);
CREATE INDEX incidents_created ON incidents (created_at);
CREATE INDEX incidents_status ON incidents (status, created_at);
CREATE INDEX incidents_resolved ON incidents (resolved_at);

CREATE TABLE departments (
    code    TEXT PRIMARY KEY,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    contact TEXT NOT NULL
);

-- district > street/town > community > grid; geometry is a GeoJSON MultiPolygon in WGS84.
CREATE TABLE jurisdictions (
    code     TEXT PRIMARY KEY,
    level    TEXT NOT NULL CHECK (level IN ('district', 'street', 'community', 'grid')),
    name     TEXT NOT NULL,
    parent   TEXT REFERENCES jurisdictions (code),
    geometry TEXT NOT NULL
);
CREATE INDEX jurisdictions_level ON jurisdictions (level);

-- Buildings, roads, pipelines and points of interest; geometry is GeoJSON in WGS84.
CREATE TABLE assets (
    layer    TEXT NOT NULL CHECK (layer IN ('buildings', 'roads', 'pipelines', 'pois')),
    id       TEXT NOT NULL,
    name     TEXT NOT NULL,
    kind     TEXT NOT NULL,
    owner    TEXT NOT NULL,
    props    TEXT NOT NULL,
    geometry TEXT NOT NULL,
    PRIMARY KEY (layer, id)
) WITHOUT ROWID;

-- Small facts about the data dir (e.g. the seed of the demo district).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
