-- no-transaction
-- A prefix of orders_branch_status_key: one index less to write on every order.
DROP INDEX CONCURRENTLY IF EXISTS orders_branch_status;
