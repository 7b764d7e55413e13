-- The server polls for the newest event that changed the district's layers, to reload its
-- in-memory indexes. This partial index holds only those (few) events, so the poll never scans
-- the incident events.
CREATE INDEX events_layers ON events (seq) WHERE kind IN ('district.loaded', 'layers.imported');
