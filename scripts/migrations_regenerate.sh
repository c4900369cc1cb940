#!/usr/bin/env bash
# Regenerates every app's 0001_initial.py from the models (docs/architecture.md, "Migrations"):
# allowed while no database has been deployed. One app at a time, in the order the apps import
# each other (given all at once, the autodetector splits first migrations to order foreign
# keys between apps), with the hand-written 0002_sql.py files set aside meanwhile (they depend
# on 0001_initial). Any other migration file of an app is folded in and removed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
APPS="tenancy webhooks partners payouts segmentation analytics imports campaigns"
aside=$(mktemp -d)
for app in $APPS; do
  [ -e "$app/migrations/0002_sql.py" ] && mv "$app/migrations/0002_sql.py" "$aside/$app.py"
  find "$app/migrations" -maxdepth 1 -name '0*.py' -delete
done
for app in $APPS; do "$PYTHON" manage.py makemigrations "$app" >/dev/null; done
for app in $APPS; do
  [ -e "$aside/$app.py" ] && mv "$aside/$app.py" "$app/migrations/0002_sql.py"
done
rmdir "$aside"
"$PYTHON" manage.py makemigrations --check --dry-run
