-- Failed-login throttling (SECURITY.md, "Guessing passwords"). Replaces the per-account
-- window, which let anyone lock any account: keys are the account name as typed, lowercased,
-- whether or not the account exists, so the limits reveal nothing.
DROP TABLE login_failure;

-- Per (account, client address): growing delays once a few failures are spent.
CREATE TABLE login_throttle (
    member_key    TEXT NOT NULL,
    -- The client address; IPv6 by its /64, which one subscriber usually holds whole.
    client        TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    last_failure  TIMESTAMPTZ NOT NULL,
    blocked_until TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (member_key, client)
);
CREATE INDEX login_throttle_last ON login_throttle (last_failure);

-- Per account, from every address: each attempt is written before its password is checked
-- and deleted if the password was right, so the rows of the last hour are its failures
-- (and attempts still being checked).
CREATE TABLE login_attempt (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_key TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX login_attempt_member ON login_attempt (member_key, at);
CREATE INDEX login_attempt_at ON login_attempt (at);

-- Devices that logged in before: a login presenting one of these tokens for its account is
-- past the per-account ceiling (the owner's proof while guessing from many addresses goes
-- on). Only the token's SHA-256 is stored; a few failures with it void it.
CREATE TABLE login_device (
    token_hash BYTEA PRIMARY KEY,
    member_id  TEXT NOT NULL REFERENCES member (member_id) ON DELETE CASCADE,
    failures   INTEGER NOT NULL DEFAULT 0,
    issued_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_device_member ON login_device (member_id, issued_at);
CREATE INDEX login_device_expires ON login_device (expires_at);
