#!/usr/bin/env bash
# Creates the platform's database, the service roles and their schemas. Idempotent: run it
# once by hand as a database administrator, or as the Helm bootstrap hook.
#
# Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE,
# PGSSLROOTCERT) of a superuser (schemas owned by the service roles need one). DB_NAME (or
# PGDATABASE) names the database (default `pizza`). LOGIN_DB_PASSWORD, MENU_DB_PASSWORD,
# ORDER_DB_PASSWORD and PAYMENT_DB_PASSWORD, when set, become the roles' passwords (a managed
# PostgreSQL has no trust authentication).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db=${DB_NAME:-${PGDATABASE:-pizza}}
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
psql_() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

psql_ -d postgres -f "$here/roles.sql" >/dev/null

psql_ -d postgres -v db="$db" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL

for svc in login menu order payment; do
  var="$(echo "$svc" | tr a-z A-Z)_DB_PASSWORD"
  pw="${!var:-}"
  if [ -n "$pw" ]; then
    psql_ -d postgres -v role="${svc}_svc" -v pw="$pw" <<'SQL'
SELECT format('ALTER ROLE %I PASSWORD %L', :'role', :'pw') \gexec
SQL
  fi
done

psql_ -d "$db" -f "$here/schemas.sql" >/dev/null
echo "bootstrap: database $db, roles login_svc menu_svc order_svc payment_svc, schemas login menu ordering payment"
