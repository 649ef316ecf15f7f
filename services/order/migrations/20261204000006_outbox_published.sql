-- no-transaction
-- The outbox's retention (outbox::retention) finds published rows past their time by this
-- index, a bounded batch at a time, however much piled up while NATS was away.
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_published ON outbox (published_at)
    WHERE published_at IS NOT NULL;
