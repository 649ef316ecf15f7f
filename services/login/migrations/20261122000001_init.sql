-- login owns members, their sessions and refresh tokens, and its outbox (DESIGN §2).
-- Runs as login_svc, whose search_path is `login`: every table lands in that schema.

CREATE TABLE member (
    member_id   TEXT PRIMARY KEY
                CHECK (member_id ~ '^[A-Za-z0-9_.-]{3,50}$'),
    member_nm   TEXT NOT NULL CHECK (char_length(member_nm) BETWEEN 1 AND 100),
    -- argon2id PHC string; never the password.
    member_pwd  TEXT NOT NULL,
    role        TEXT NOT NULL DEFAULT 'CUSTOMER' CHECK (role IN ('CUSTOMER', 'STAFF', 'ADMIN')),
    -- The branch a STAFF member is bound to (a branch id of the order service; no FK
    -- across schemas).
    bran_id     TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A session is one login; access tokens name it (`sid`) and its refresh tokens form one
-- family. Revoking it rejects every token of the family.
CREATE TABLE session (
    session_id    UUID PRIMARY KEY,
    member_id     TEXT NOT NULL REFERENCES member (member_id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    revoke_reason TEXT
);
CREATE INDEX session_member ON session (member_id);
CREATE INDEX session_expires ON session (expires_at);

-- Refresh tokens are opaque random strings; only their SHA-256 is stored.
CREATE TABLE refresh_token (
    token_hash  BYTEA PRIMARY KEY,
    session_id  UUID NOT NULL REFERENCES session (session_id) ON DELETE CASCADE,
    issued_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    -- Set when the token is exchanged; presenting it again revokes the session.
    used_at     TIMESTAMPTZ
);
CREATE INDEX refresh_token_session ON refresh_token (session_id);

-- Failed logins per account name (existing or not, so the limit reveals nothing), in a
-- fixed one-hour window.
CREATE TABLE login_failure (
    member_id    TEXT PRIMARY KEY,
    window_start TIMESTAMPTZ NOT NULL,
    failures     INTEGER NOT NULL
);

CREATE TABLE outbox (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           UUID NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    payload      JSONB NOT NULL,
    traceparent  TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
