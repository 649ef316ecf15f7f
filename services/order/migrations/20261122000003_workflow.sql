-- The order workflow (expand only: the previous release keeps working against it).
ALTER TABLE orders
    ADD COLUMN estimated_ready_at TIMESTAMPTZ,
    ADD COLUMN reject_reason TEXT;

-- The auto-cancel scans pending orders by age.
CREATE INDEX orders_pending_age ON orders (created_at) WHERE status = 'PENDING';

-- Notifications already delivered, by event id: a redelivered event is not sent twice.
CREATE TABLE notification_sent (
    event_id UUID PRIMARY KEY,
    order_id UUID NOT NULL,
    sent_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
