#!/bin/bash
# docker-compose: /docker-entrypoint-initdb.d script for postgres:15. Creates the same databases
# and roles as scripts/stack/up.sh (db <d>, roles <d>_owner / <d>_app / <d>_relay) and replaces pg_hba.conf
# with TLS-only rules. Runs once, on an empty data volume, as the superuser flow8_admin.
set -euo pipefail

for db in auth vault flow audit retention; do
  up="${db^^}"
  owner_var="FLOW8_PG_${up}_OWNER_PASSWORD"
  app_var="FLOW8_PG_${up}_APP_PASSWORD"
  relay_var="FLOW8_PG_${up}_RELAY_PASSWORD"
  [[ -n "${!owner_var:-}" && -n "${!app_var:-}" && -n "${!relay_var:-}" ]] \
    || { echo "postgres-init: $owner_var, $app_var and $relay_var are required" >&2; exit 1; }
  psql -X -q -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v db="$db" -v owner="${db}_owner" -v app="${db}_app" -v relay="${db}_relay" \
    -v owner_pw="${!owner_var}" -v app_pw="${!app_var}" -v relay_pw="${!relay_var}" <<'SQL'
CREATE ROLE :"owner" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'owner_pw';
CREATE ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_pw';
CREATE ROLE :"relay" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'relay_pw';
CREATE DATABASE :"db" OWNER :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"app";
GRANT CONNECT ON DATABASE :"db" TO :"relay";
GRANT ALL ON DATABASE :"db" TO :"owner";
\connect :"db"
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app", :"relay";
SQL
done

# TLS + SCRAM only; the entrypoint restarts the server after this script, so this takes effect.
cat >"$PGDATA/pg_hba.conf" <<'HBA'
# TYPE   DATABASE USER ADDRESS    METHOD
local    all      all             scram-sha-256
hostssl  all      all  0.0.0.0/0  scram-sha-256
hostssl  all      all  ::/0       scram-sha-256
HBA
echo "postgres-init: databases and roles created"
