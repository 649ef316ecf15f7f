-- When an order became PENDING: when it was placed, or — paid up front — when its payment
-- arrived. The PENDING timeout counts from here, so a transfer paid at minute 20 still gives
-- the kitchen ORDER_PENDING_TIMEOUT to accept it. NULL (orders from before): created_at.
ALTER TABLE orders ADD COLUMN pending_since TIMESTAMPTZ;
CREATE INDEX orders_pending_since ON orders ((COALESCE(pending_since, created_at)))
    WHERE status = 'PENDING';
