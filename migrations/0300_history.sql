-- What the history-based invoice checks (duplicates, bank details changed, new supplier) read in
-- the service (docs/service.md, "History checks"): one row per invoice of a result, written in the
-- transaction of the result itself. The supplier key is the one `invoice::history::supplier_key`
-- computes (VAT id, else `SIREN:<siren>`, else `NAME:<normalised name>`). Only rows of a
-- document's current result count, and only while the document is processed, in review or
-- approved (the query joins `documents`).
CREATE TABLE invoice_history (
    id            bigserial PRIMARY KEY,
    result_id     bigint NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    content_hash  text NOT NULL REFERENCES documents (content_hash),
    -- 1-based position of the invoice in the document (a file holding several invoices).
    part          integer NOT NULL,
    supplier_key  text NOT NULL,
    number        text,
    issue_date    date,
    gross_total   numeric,
    iban          text,
    -- Line amounts, sorted (the fingerprint of a re-dated copy), as decimal text.
    line_amounts  text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (result_id, part)
);
CREATE INDEX invoice_history_supplier ON invoice_history (supplier_key, created_at);
