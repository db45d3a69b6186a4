-- Liasse schema, version 1.
-- Identity of a document = SHA-256 of its bytes (hex). Results are versioned: reprocessing a
-- document adds a new result and keeps the earlier ones.

-- Content-addressed blobs: the bytes every worker reads.
CREATE TABLE blobs (
    content_hash text PRIMARY KEY CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    size         bigint NOT NULL,
    bytes        bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TYPE document_status AS ENUM ('queued', 'processing', 'processed', 'review', 'approved', 'blocked', 'failed');

CREATE TABLE documents (
    content_hash    text PRIMARY KEY REFERENCES blobs (content_hash),
    status          document_status NOT NULL DEFAULT 'queued',
    source_name     text NOT NULL,
    media_type      text,
    provenance      jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- For a document that came inside another (an e-mail's attachment): the container.
    parent_hash     text REFERENCES documents (content_hash),
    received_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    doc_type        text,
    language        text,
    failure_kind    text,
    failure_message text,
    attempts        integer NOT NULL DEFAULT 0,
    current_result  bigint
);
CREATE INDEX documents_status ON documents (status, updated_at);

-- Every time a file was received, including the same content again (a duplicate receipt).
CREATE TABLE receipts (
    id           bigserial PRIMARY KEY,
    content_hash text NOT NULL REFERENCES documents (content_hash),
    source_name  text NOT NULL,
    source_path  text,
    channel      text NOT NULL,
    provenance   jsonb NOT NULL DEFAULT '{}'::jsonb,
    duplicate    boolean NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX receipts_hash ON receipts (content_hash);

CREATE TABLE status_history (
    id           bigserial PRIMARY KEY,
    content_hash text NOT NULL REFERENCES documents (content_hash),
    from_status  document_status,
    to_status    document_status NOT NULL,
    reason       text,
    actor        text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_history_hash ON status_history (content_hash, id);

-- One row per processing of a document; the newest is documents.current_result.
CREATE TABLE results (
    id             bigserial PRIMARY KEY,
    content_hash   text NOT NULL REFERENCES documents (content_hash),
    version        integer NOT NULL,
    status         text NOT NULL CHECK (status IN ('processed', 'failed')),
    liasse_version text NOT NULL,
    versions       jsonb NOT NULL,          -- OCR engine, models, rule sets
    outcome        jsonb NOT NULL,          -- the full outcome as `liasse process` prints it
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (content_hash, version)
);
ALTER TABLE documents ADD CONSTRAINT documents_current_result FOREIGN KEY (current_result) REFERENCES results (id);

CREATE TABLE pages (
    result_id      bigint NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    number         integer NOT NULL,
    method         text NOT NULL,
    text           text NOT NULL,
    ocr_confidence real,
    PRIMARY KEY (result_id, number)
);

-- Extracted values with their evidence.
CREATE TABLE fields (
    id          bigserial PRIMARY KEY,
    result_id   bigint NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    name        text NOT NULL,
    value       text NOT NULL,
    page        integer,
    span_start  integer,
    span_end    integer,
    bbox        jsonb,
    xml_path    text,
    method      text NOT NULL,
    confidence  real NOT NULL,
    evidence    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX fields_result ON fields (result_id, name);

CREATE TABLE line_items (
    result_id   bigint NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    description text,
    quantity    numeric,
    unit_price  numeric,
    amount      numeric,
    vat_rate    numeric,
    evidence    jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (result_id, position)
);

CREATE TABLE clauses (
    result_id   bigint NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    number      text,
    heading     text,
    page        integer,
    span_start  integer,
    span_end    integer,
    categories  jsonb NOT NULL DEFAULT '[]'::jsonb,
    risk        text,
    evidence    jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (result_id, position)
);

CREATE TABLE flags (
    id          bigserial PRIMARY KEY,
    result_id   bigint NOT NULL REFERENCES results (id) ON DELETE CASCADE,
    code        text NOT NULL,
    severity    text NOT NULL,
    score       real,
    reasons     jsonb NOT NULL DEFAULT '[]'::jsonb,
    evidence    jsonb NOT NULL DEFAULT '{}'::jsonb,
    rule_id     text,
    model       text,
    dismissed   boolean NOT NULL DEFAULT false
);
CREATE INDEX flags_result ON flags (result_id);

CREATE TABLE reviews (
    id           bigserial PRIMARY KEY,
    content_hash text NOT NULL REFERENCES documents (content_hash),
    result_id    bigint REFERENCES results (id),
    reviewer     text NOT NULL,
    decision     text NOT NULL,
    comment      text,
    changes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    at           timestamptz NOT NULL DEFAULT now()
);

-- Append-only: who or which model/rule version decided what, when.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    action       text NOT NULL,
    content_hash text,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- The ERP change feed. `seq` is allocated and committed in order (writers take a transaction
-- advisory lock before inserting), so a connector that reads after its cursor never misses a row
-- committed later with a smaller number.
CREATE TABLE erp_feed (
    seq          bigserial PRIMARY KEY,
    content_hash text NOT NULL REFERENCES documents (content_hash),
    result_id    bigint NOT NULL REFERENCES results (id),
    event        text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX erp_feed_hash ON erp_feed (content_hash);
