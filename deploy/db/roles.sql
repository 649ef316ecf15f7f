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

-- Backstops, so that no session of a service can hold locks for long whatever its code does
-- (ARCHITECTURE.md, "Cancel-safe writes"): the server ends a transaction left idle for 5 s
-- (the services never wait on anything else inside one) and cancels a statement after 15 s
-- (requests time out after 10 s). `pizza-<svc> migrate` lifts both for its own session.
ALTER ROLE login_svc SET idle_in_transaction_session_timeout = '5s';
ALTER ROLE menu_svc SET idle_in_transaction_session_timeout = '5s';
ALTER ROLE order_svc SET idle_in_transaction_session_timeout = '5s';
ALTER ROLE payment_svc SET idle_in_transaction_session_timeout = '5s';
ALTER ROLE login_svc SET statement_timeout = '15s';
ALTER ROLE menu_svc SET statement_timeout = '15s';
ALTER ROLE order_svc SET statement_timeout = '15s';
ALTER ROLE payment_svc SET statement_timeout = '15s';
