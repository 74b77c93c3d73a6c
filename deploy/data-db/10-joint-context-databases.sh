#!/usr/bin/env bash
# The data PostgreSQL's first start (empty data directory, run from /docker-entrypoint-initdb.d):
# creates runtime_db and historical_db from the package's own schema files (include/sql/schema, mounted
# read-only, never copied) and the login role the Airflow connections use, granted least privilege by the
# package's own include/sql/roles.sql (mounted read-only too; the role is both its reader and its writer).
# Also runs outside Docker: libpq's PG* variables pick the server (tests/deploy run it that way).
set -euo pipefail

: "${JOINT_CONTEXT_SCHEMA_DIR:=/joint-context/schema}"
: "${RUNTIME_DB_NAME:=runtime_db}"
: "${HISTORICAL_DB_NAME:=historical_db}"
: "${JOINT_CONTEXT_DB_USER:=joint_context}"
: "${JOINT_CONTEXT_DB_PASSWORD:?set JOINT_CONTEXT_DB_PASSWORD (the password of the role the Airflow connections use)}"
# In the repository: include/sql/roles.sql two folders up; in the container: its read-only mount.
ROLES_SQL="$(dirname "${BASH_SOURCE[0]}")/../../include/sql/roles.sql"
[[ -f "$ROLES_SQL" ]] || ROLES_SQL=/joint-context/roles.sql

run_psql() { psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" "$@"; }

run_psql --dbname "${POSTGRES_DB:-postgres}" \
  -v runtime_db="$RUNTIME_DB_NAME" -v historical_db="$HISTORICAL_DB_NAME" \
  -v role="$JOINT_CONTEXT_DB_USER" -v password="$JOINT_CONTEXT_DB_PASSWORD" <<'SQL'
CREATE DATABASE :"runtime_db";
CREATE DATABASE :"historical_db";
CREATE ROLE :"role" LOGIN PASSWORD :'password';
SQL

run_psql --dbname "$RUNTIME_DB_NAME" -f "$JOINT_CONTEXT_SCHEMA_DIR/runtime_db.sql"
run_psql --dbname "$HISTORICAL_DB_NAME" -f "$JOINT_CONTEXT_SCHEMA_DIR/historical_db.sql"
run_psql --dbname "${POSTGRES_DB:-postgres}" \
  -v runtime_db="$RUNTIME_DB_NAME" -v historical_db="$HISTORICAL_DB_NAME" \
  -v runtime_reader="$JOINT_CONTEXT_DB_USER" -v historical_writer="$JOINT_CONTEXT_DB_USER" \
  -f "$ROLES_SQL"
echo "joint context: created $RUNTIME_DB_NAME and $HISTORICAL_DB_NAME, role $JOINT_CONTEXT_DB_USER"
