-- What onegrid worked out about an incident's place when it was reported: jurisdiction chain,
-- seam candidates, nearby assets and the proposed department (JSON, see wire::Analysis).
ALTER TABLE incidents ADD COLUMN analysis TEXT NOT NULL DEFAULT '{}';
