-- The ERP API and the review desk (docs/web.md).

-- API tokens of ERP connectors: only the SHA-256 of the token is stored. A token is one
-- connector; `acked_seq` is the feed position it acknowledged (only moves forward).
CREATE TABLE api_tokens (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    token_hash  bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    scopes      text[] NOT NULL,
    acked_seq   bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at  timestamptz
);

-- People of the review desk. `password_hash` is an argon2id PHC string.
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    login         text NOT NULL UNIQUE CHECK (login ~ '^[a-z0-9._-]{1,64}$'),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('accounts_payable', 'lawyer', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);

-- Sessions: the cookie holds a random token; only its SHA-256 is stored.
CREATE TABLE sessions (
    token_hash  bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Reviewers' corrections of extracted values: the newest per (result, name) overrides the
-- extracted value in exports and in the desk.
CREATE TABLE field_corrections (
    id           bigserial PRIMARY KEY,
    content_hash text NOT NULL REFERENCES documents (content_hash),
    result_id    bigint NOT NULL REFERENCES results (id),
    name         text NOT NULL,
    value        text NOT NULL,
    previous     text,
    reviewer     text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX field_corrections_result ON field_corrections (result_id, name, id);

-- Flags a reviewer dismissed (the flag row itself stays as the model/rule wrote it).
CREATE TABLE flag_dismissals (
    flag_id   bigint PRIMARY KEY REFERENCES flags (id),
    reviewer  text NOT NULL,
    comment   text,
    at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX erp_feed_released ON erp_feed (seq) WHERE event IN ('approved', 'changed');
