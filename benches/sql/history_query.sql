-- The history query of the service (store::history::Store::history_of) on 200 000 invoices of
-- 2 000 suppliers. Run against a fresh database with the schema (`liasse migrate`):
--   psql -U postgres -h 127.0.0.1 -d postgres -c "CREATE DATABASE liasse_hist_bench"
--   LIASSE_SERVICE__DATABASE_URL=postgres://postgres@127.0.0.1:5432/liasse_hist_bench liasse migrate
--   psql -U postgres -h 127.0.0.1 -d liasse_hist_bench -f benches/sql/history_query.sql
--   psql -U postgres -h 127.0.0.1 -d postgres -c "DROP DATABASE liasse_hist_bench WITH (FORCE)"
INSERT INTO documents (content_hash, status, source_name)
SELECT md5(i::text) || md5((i+1)::text), 'processed', 'f' || i FROM generate_series(1, 200000) i;
INSERT INTO results (content_hash, version, status, liasse_version, versions, outcome)
SELECT md5(i::text) || md5((i+1)::text), 1, 'processed', 'bench', '{}', '{}' FROM generate_series(1, 200000) i;
UPDATE documents d SET current_result = r.id FROM results r WHERE r.content_hash = d.content_hash;
INSERT INTO invoice_history (result_id, content_hash, part, supplier_key, number, issue_date, gross_total, iban,
                             line_amounts)
SELECT r.id, r.content_hash, 1, 'FR' || lpad((r.id % 2000)::text, 11, '0'), 'FA-' || r.id,
       date '2026-01-01' + (r.id % 300)::int, (r.id % 1000)::numeric + 0.5, 'FR7630004520867101532618077',
       ARRAY['10.00', '20.00']
FROM results r;
ANALYZE;
EXPLAIN (ANALYZE, BUFFERS)
SELECT h.content_hash, h.number, h.issue_date, h.gross_total::text, h.iban, h.line_amounts
FROM invoice_history h
JOIN documents d ON d.content_hash = h.content_hash AND d.current_result = h.result_id
WHERE h.supplier_key = 'FR00000000777' AND h.content_hash <> 'x'
  AND h.created_at >= now() - make_interval(days => 365)
  AND d.status IN ('processed', 'review', 'approved')
ORDER BY h.id;
