-- no-transaction
-- The board across branches (an ADMIN without bran_id), as orders_active_branch.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_active ON orders (created_at, order_id)
    WHERE status IN ('PENDING', 'ACCEPTED', 'READY');
