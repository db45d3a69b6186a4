-- Liasse schema, version 1.
--
-- Identity of a document = SHA-256 of its bytes (lowercase hex). A file received twice is one
-- document with two receipts. Results are versioned: every processing run of a document adds a
-- row to `results` and moves `documents.current_result`; earlier results stay.
-- Statuses and kinds are `text` with CHECK constraints (easier to extend than enums).

-- Content-addressed bytes: what every worker reads.
CREATE TABLE blobs (
    content_hash text PRIMARY KEY CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    size         bigint NOT NULL CHECK (size >= 0),
    bytes        bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE documents (
    content_hash    text PRIMARY KEY CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'processing', 'processed', 'review', 'approved',
                                      'rejected', 'blocked', 'failed')),
    -- Why the document is in its status (the failure reason for `failed`).
    status_reason   text,
    -- The bytes of the document itself; NULL for a document found inside another one (an
    -- e-mail attachment), whose bytes are in its container's blob.
    blob_hash       text REFERENCES blobs (content_hash),
    -- The container (an e-mail) a document came out of.
    parent_hash     text REFERENCES documents (content_hash),
    source_name     text NOT NULL,
    media_type      text,
    -- Channel and details (`{"channel":"file"}`, or the e-mail's sender, subject, date…).
    provenance      jsonb NOT NULL DEFAULT '{}'::jsonb,
    received_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Filled by classification (type: invoice, credit_note, contract…; ISO 639-1 language).
    doc_type        text,
    language        text,
    -- How many times the same content was received (1 = never a duplicate).
    receipt_count   integer NOT NULL DEFAULT 1,
    failure_kind    text,
    current_result  bigint
);
CREATE INDEX documents_status ON documents (status, updated_at);
CREATE INDEX documents_parent ON documents (parent_hash) WHERE parent_hash IS NOT NULL;

-- Every time a file was received, including the same content again (duplicate = true).
CREATE TABLE receipts (
    id           bigserial PRIMARY KEY,
    content_hash text NOT NULL REFERENCES documents (content_hash),
    channel      text NOT NULL,                   -- submit, drop_folder, email
    source_name  text NOT NULL,
    source_path  text,
    provenance   jsonb NOT NULL DEFAULT '{}'::jsonb,
    duplicate    boolean NOT NULL,
    -- Identity of the receipt itself (path, size, mtime of a dropped file): taking the same
    -- file again after a crash records no second receipt.
    receipt_key  text UNIQUE,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX receipts_hash ON receipts (content_hash, id);

CREATE TABLE status_history (
    id           bigserial PRIMARY KEY,
    content_hash text NOT NULL REFERENCES documents (content_hash),
    from_status  text,
    to_status    text NOT NULL,
    reason       text,
    actor        text NOT NULL,                   -- user:<login>, liasse-worker@<version>…
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_history_hash ON status_history (content_hash, id);

-- A request to process a document (its first receipt, or a reprocessing). The broker message
-- carries the job id; a job's result is written at most once (state `done`), whatever the
-- redeliveries.
CREATE TABLE jobs (
    id             bigserial PRIMARY KEY,
    content_hash   text NOT NULL REFERENCES documents (content_hash),
    reason         text NOT NULL DEFAULT 'received' CHECK (reason IN ('received', 'reprocess')),
    state          text NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'running', 'done', 'failed')),
    -- Attempts started (counted before the pipeline runs, so a crash counts too).
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz,
    started_at     timestamptz,
    finished_at    timestamptz,
    result_id      bigint
);
CREATE INDEX jobs_hash ON jobs (content_hash);
CREATE INDEX jobs_unpublished ON jobs (created_at) WHERE published_at IS NULL AND state = 'queued';
CREATE INDEX jobs_open ON jobs (created_at) WHERE state IN ('queued', 'running');

-- One row per processing run of a document; the newest is documents.current_result.
CREATE TABLE results (
    id              bigserial PRIMARY KEY,
    content_hash    text NOT NULL REFERENCES documents (content_hash),
    job_id          bigint REFERENCES jobs (id),
    version         integer NOT NULL,            -- 1, 2… per document
    status          text NOT NULL CHECK (status IN ('processed', 'failed')),
    failure_kind    text,
    failure_message text,
    liasse_version  text NOT NULL,
    ocr_version     text,
    -- Every version that decided the result: {"liasse":…, "ocr":…, models and rule sets…}.
    versions        jsonb NOT NULL,
    -- The full outcome, exactly as `liasse process` prints it (for an e-mail container:
    -- {"container": {"documents": [hashes]}}).
    outcome         jsonb NOT NULL,
    page_count      integer NOT NULL DEFAULT 0,
    ocr_pages       integer NOT NULL DEFAULT 0,
    duration_ms     integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (content_hash, version),
    UNIQUE (job_id, content_hash)
);
CREATE INDEX results_hash ON results (content_hash, id);
ALTER TABLE documents ADD CONSTRAINT documents_current_result
    FOREIGN KEY (current_result) REFERENCES results (id);
ALTER TABLE jobs ADD CONSTRAINT jobs_result FOREIGN KEY (result_id) REFERENCES results (id);

CREATE TABLE pages (
    result_id      bigint NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    number         integer NOT NULL,
    method         text NOT NULL,                 -- text_layer, ocr, none
    text           text NOT NULL,
    ocr_confidence real,
    word_count     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (result_id, number)
);

-- Extracted values with their evidence. `page`/`span_*` are the 1-based page and the UTF-8 byte
-- range in that page's text; `bbox` = {"x","y","w","h"} in page-image pixels for OCR; `method`
-- says how (xml, layout_rule, pattern_rule, template, model, derived) and `method_detail` which
-- rule or model (with its version).
CREATE TABLE fields (
    id            bigserial PRIMARY KEY,
    result_id     bigint NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    content_hash  text NOT NULL REFERENCES documents (content_hash),
    name          text NOT NULL,
    value         text NOT NULL,
    value_json    jsonb,
    page          integer,
    span_start    integer,
    span_end      integer,
    bbox          jsonb,
    xml_path      text,
    method        text NOT NULL,
    method_detail jsonb NOT NULL DEFAULT '{}'::jsonb,
    confidence    real NOT NULL,
    evidence      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX fields_result ON fields (result_id, name);
CREATE INDEX fields_name_value ON fields (name, value);

CREATE TABLE line_items (
    result_id    bigint NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    position     integer NOT NULL,
    description  text,
    quantity     numeric,
    unit         text,
    unit_price   numeric,
    amount       numeric,
    vat_rate     numeric,
    evidence     jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (result_id, position)
);

CREATE TABLE clauses (
    result_id    bigint NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    position     integer NOT NULL,
    number       text,
    heading      text,
    category     text,
    risk         text,
    score        real,
    page         integer,
    span_start   integer,
    span_end     integer,
    model        text,                           -- name@version
    rule_id      text,
    evidence     jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (result_id, position)
);
CREATE INDEX clauses_category ON clauses (category, risk);

CREATE TABLE flags (
    id           bigserial PRIMARY KEY,
    result_id    bigint NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    content_hash text NOT NULL REFERENCES documents (content_hash),
    code         text NOT NULL,
    severity     text NOT NULL,
    score        real,
    reasons      jsonb NOT NULL DEFAULT '[]'::jsonb,
    rule_id      text,
    model        text,                           -- name@version
    evidence     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX flags_result ON flags (result_id);
CREATE INDEX flags_code ON flags (code);

CREATE TABLE reviews (
    id           bigserial PRIMARY KEY,
    content_hash text NOT NULL REFERENCES documents (content_hash),
    result_id    bigint REFERENCES results (id),
    reviewer     text NOT NULL,
    decision     text NOT NULL,
    comment      text,
    -- Corrected fields, dismissed flags…
    changes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviews_hash ON reviews (content_hash, id);

-- Append-only: who (a user, or a model/rule/worker version) decided what, when.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor_kind   text NOT NULL CHECK (actor_kind IN ('user', 'model', 'rule', 'system')),
    actor        text NOT NULL,                  -- login, or name@version
    action       text NOT NULL,
    content_hash text,
    result_id    bigint,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_hash ON audit_log (content_hash, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- The ERP change feed. A connector reads `WHERE seq > $cursor ORDER BY seq` and keeps the
-- largest seq it saw. That is only safe if rows become visible in seq order; a plain sequence
-- does not give that (a transaction that took 7 can commit after one that took 8, and a reader
-- at cursor 8 would never see 7). So seq comes from the single-row counter `erp_feed_counter`,
-- incremented by `erp_feed_append` inside the writer's transaction: its row lock is held until
-- commit, so the next writer gets its number only once the previous one committed (or rolled
-- back, which gives the number back). Call erp_feed_append as the last statement of a
-- transaction, to hold that lock briefly.
CREATE TABLE erp_feed_counter (
    id    boolean PRIMARY KEY DEFAULT true CHECK (id),
    value bigint NOT NULL
);
INSERT INTO erp_feed_counter (value) VALUES (0);

CREATE TABLE erp_feed (
    seq          bigint PRIMARY KEY,
    content_hash text NOT NULL REFERENCES documents (content_hash),
    result_id    bigint REFERENCES results (id),
    event        text NOT NULL,                  -- processed, failed, reviewed, approved…
    status       text NOT NULL,                  -- the document's status after the event
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX erp_feed_hash ON erp_feed (content_hash);

CREATE FUNCTION erp_feed_append(p_hash text, p_result bigint, p_event text, p_status text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    UPDATE erp_feed_counter SET value = value + 1 RETURNING value INTO n;
    INSERT INTO erp_feed (seq, content_hash, result_id, event, status)
        VALUES (n, p_hash, p_result, p_event, p_status);
    RETURN n;
END $$;
