-- A district's own data: departments form a hierarchy (a bureau's sections name it as their
-- parent), and grids made by `onegrid grid generate` are told apart from imported ones, which
-- always take precedence over them.
ALTER TABLE departments ADD COLUMN parent TEXT;
ALTER TABLE jurisdictions ADD COLUMN generated INTEGER NOT NULL DEFAULT 0;

-- Departments and generated grids change what the loaded district answers, like layers do:
-- the reload poll looks for them through the same small partial index.
DROP INDEX events_layers;
CREATE INDEX events_layers ON events (seq)
    WHERE kind IN ('district.loaded', 'layers.imported', 'departments.imported', 'grids.generated');
