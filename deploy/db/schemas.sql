-- Inside the platform's database: one schema per service, owned by that service's role, and
-- no privileges for anyone on anyone else's (docs/contract.md §2). Idempotent; run as a superuser
-- connected to the database (the bootstrap does it for `pizza`, the tests for each of theirs).
DO $$
BEGIN
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO login_svc, menu_svc, order_svc, payment_svc', current_database());
END
$$;

-- Nobody creates or reads anything in `public`.
REVOKE ALL ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA IF NOT EXISTS login AUTHORIZATION login_svc;
CREATE SCHEMA IF NOT EXISTS menu AUTHORIZATION menu_svc;
CREATE SCHEMA IF NOT EXISTS ordering AUTHORIZATION order_svc;
CREATE SCHEMA IF NOT EXISTS payment AUTHORIZATION payment_svc;
ALTER SCHEMA login OWNER TO login_svc;
ALTER SCHEMA menu OWNER TO menu_svc;
ALTER SCHEMA ordering OWNER TO order_svc;
ALTER SCHEMA payment OWNER TO payment_svc;
REVOKE ALL ON SCHEMA login, menu, ordering, payment FROM PUBLIC;
