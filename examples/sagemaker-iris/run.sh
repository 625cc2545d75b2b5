#!/usr/bin/env bash
# Run the iris loop against a hitkit server with a simulated crowd doing the work meanwhile.
#   HITKIT_URL=http://127.0.0.1:8642 HITKIT_ADMIN_TOKEN=... AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... ./run.sh
set -euo pipefail
cd "$(dirname "$0")"
: "${HITKIT_URL:?the server, e.g. http://127.0.0.1:8642}" "${HITKIT_ADMIN_TOKEN:?the admin token (hitkit server init prints it)}"
PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}" hitkit crowd simulate --endpoint-url "$HITKIT_URL" \
  --admin-token "$HITKIT_ADMIN_TOKEN" --profile crowd.toml --duration 600s > "${TMPDIR:-/tmp}/hitkit-iris-crowd.log" 2>&1 &
crowd=$!
trap 'kill $crowd 2>/dev/null || true' EXIT
python iris_loop.py --endpoint-url "$HITKIT_URL"
