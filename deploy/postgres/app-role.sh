#!/bin/sh
# Run once by the postgres image when it initialises an empty data directory
# (docker-entrypoint-initdb.d, see docker-compose.yml): the role web, worker and beat connect
# as. It owns nothing; the tables belong to POSTGRES_USER, which the migrate service runs as,
# and migrate grants this role the rights to read and write rows (docs/architecture.md,
# "Database roles"). On a data volume initialised before, run the CREATE ROLE below by hand.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set app_password="$POSTGRES_APP_PASSWORD" <<'SQL'
CREATE ROLE partnerflow_app LOGIN PASSWORD :'app_password';
SQL
