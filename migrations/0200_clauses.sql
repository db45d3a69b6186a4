-- The clause classifier's categories on each clause row (models/clauses, docs/contract.md):
-- the labels over their thresholds, best first. `clauses.model` (name@version) and
-- `clauses.score` (the best label's score) already exist.
ALTER TABLE clauses ADD COLUMN labels text[] NOT NULL DEFAULT '{}';
CREATE INDEX clauses_labels ON clauses USING gin (labels);
