-- The four service roles (cluster-wide). Idempotent; run by the bootstrap and by the tests.
-- Each role logs in, owns nothing outside its own schema, and finds its tables (and its
-- migration history) through its search_path. Passwords are set by bootstrap.sh from env.
SELECT pg_advisory_xact_lock(72310001);  -- concurrent runs (parallel tests) take turns

DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['login_svc', 'menu_svc', 'order_svc', 'payment_svc'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', r);
    END IF;
  END LOOP;
END
$$;

ALTER ROLE login_svc SET search_path = login;
ALTER ROLE menu_svc SET search_path = menu;
ALTER ROLE order_svc SET search_path = ordering;
ALTER ROLE payment_svc SET search_path = payment;

-- Backstops, so that no session of a service can hold a connection or locks for long whatever
-- its code does (ARCHITECTURE.md, "Cancel-safe writes" and "Database limits"): the server ends
-- a transaction left idle for 5 s (the services never wait on anything else inside one) and
-- cancels a statement after 2 s, lock waits included: the slowest statement a service runs
-- takes milliseconds at 5M orders (`make bench-scale`), so a statement at 2 s is stuck, and it
-- gives its connection back before a request queued for the pool gives up (DB_ACQUIRE_TIMEOUT,
-- 3 s). The request gets 503 and may retry. `pizza-<svc> migrate` and `import-legacy` lift
-- both for their own session.
ALTER ROLE login_svc SET idle_in_transaction_session_timeout = '5s';
ALTER ROLE menu_svc SET idle_in_transaction_session_timeout = '5s';
ALTER ROLE order_svc SET idle_in_transaction_session_timeout = '5s';
ALTER ROLE payment_svc SET idle_in_transaction_session_timeout = '5s';
ALTER ROLE login_svc SET statement_timeout = '2s';
ALTER ROLE menu_svc SET statement_timeout = '2s';
ALTER ROLE order_svc SET statement_timeout = '2s';
ALTER ROLE payment_svc SET statement_timeout = '2s';
