-- no-transaction
-- Retention finds sessions revoked long enough ago by this index (expired ones by
-- session_expires), a bounded batch at a time.
CREATE INDEX CONCURRENTLY IF NOT EXISTS session_revoked ON session (revoked_at)
    WHERE revoked_at IS NOT NULL;
