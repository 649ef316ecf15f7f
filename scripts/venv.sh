# Sourced by the deploy checks: the PyPI checkers in a virtualenv outside the clone, made on
# the first run and reused after (PIZZA_VENV overrides where).
venv=${PIZZA_VENV:-$HOME/.cache/pizza-venv}
if [ ! -x "$venv/bin/checkov" ] || [ ! -x "$venv/bin/kubectl" ] \
   || ! "$venv/bin/python" -c 'import helm_python, yaml, jsonschema' 2>/dev/null; then
  echo "deploy checks: installing the checkers into $venv (first run only)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$root/deploy/checks/requirements.txt"
fi
export PATH="$venv/bin:$PATH"
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
