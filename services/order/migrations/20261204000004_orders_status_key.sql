-- no-transaction
-- One status across branches (an ADMIN without bran_id), as orders_branch_status_key.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_status_key ON orders (status, created_at, order_id);
