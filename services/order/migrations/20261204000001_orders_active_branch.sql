-- no-transaction
-- The staff board of a branch (GET /order/ without a status): its active orders, oldest
-- first, by keyset. Partial, so its size is the kitchen's work in hand, not the orders the
-- branch ever had. CONCURRENTLY, one index per migration (it cannot run in a transaction):
-- orders keep being placed while it is built.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_active_branch ON orders (bran_id, created_at, order_id)
    WHERE status IN ('PENDING', 'ACCEPTED', 'READY');
