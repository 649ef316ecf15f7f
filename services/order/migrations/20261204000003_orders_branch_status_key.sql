-- no-transaction
-- One status of a branch (GET /order/?status=…&bran_id=…), oldest first, by keyset: the whole
-- sort key in the index, so a page is one range however long the history.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_branch_status_key ON orders (bran_id, status, created_at, order_id);
