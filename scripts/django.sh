#!/usr/bin/env bash
# Prints the path of a Python that has Django's password hashers (deploy/checks/
# django-requirements.txt), in a virtualenv outside the clone made on the first call and
# reused after (PIZZA_DJANGO_VENV overrides where). The import-legacy tests make pizza_back's
# password hashes with it, exactly as Django writes them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${PIZZA_DJANGO_VENV:-$HOME/.cache/pizza-django}
req="$root/deploy/checks/django-requirements.txt"
stamp="$venv/.requirements"
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9 # tests run in parallel: one makes the virtualenv, the others wait for it
if ! cmp -s "$req" "$stamp" 2>/dev/null || [ ! -x "$venv/bin/python" ]; then
  {
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r "$req"
    cp "$req" "$stamp"
  } >&2
fi
echo "$venv/bin/python"
