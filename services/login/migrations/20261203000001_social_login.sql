-- Social login (SECURITY.md, "Social login"): members who log in with Google, Kakao or Naver.

-- A member made by a first social login has no password (and cannot log in with one).
ALTER TABLE member ALTER COLUMN member_pwd DROP NOT NULL;

-- The provider accounts a member logs in with: found by (provider, subject), never by email.
-- One account of each provider per member.
CREATE TABLE member_identity (
    provider   TEXT NOT NULL,
    -- The provider's stable id of its user (`sub`; Naver's `id`).
    subject    TEXT NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 255),
    member_id  TEXT NOT NULL REFERENCES member (member_id) ON DELETE CASCADE ON UPDATE CASCADE,
    linked_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject),
    UNIQUE (member_id, provider)
);

-- A login (or link) started at a provider and not yet come back: single use, ten minutes.
-- Keyed by the SHA-256 of its `state`; bound to the browser that started it by the SHA-256
-- of the value of its HttpOnly cookie.
CREATE TABLE oauth_flow (
    state_hash    BYTEA PRIMARY KEY,
    browser_hash  BYTEA NOT NULL,
    provider      TEXT NOT NULL,
    -- OpenID Connect only (Naver has neither).
    nonce         TEXT,
    pkce_verifier TEXT,
    -- A link: the member (and session) that asked for it.
    link_member   TEXT REFERENCES member (member_id) ON DELETE CASCADE ON UPDATE CASCADE,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_flow_expires ON oauth_flow (expires_at);

-- The one-time code a finished social login hands the web client (in the URL fragment),
-- exchanged at POST /login/oauth/exchange/ for the tokens. Only its SHA-256 is stored.
CREATE TABLE oauth_handoff (
    code_hash  BYTEA PRIMARY KEY,
    member_id  TEXT NOT NULL REFERENCES member (member_id) ON DELETE CASCADE ON UPDATE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_handoff_expires ON oauth_handoff (expires_at);
