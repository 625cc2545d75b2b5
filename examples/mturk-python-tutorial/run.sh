#!/usr/bin/env bash
# The whole tutorial against a hitkit server: balance and a HIT, three simulated workers, then results,
# approve, reject and bonus. Needs AWS_ENDPOINT_URL_MTURK, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
# HITKIT_ADMIN_TOKEN (see README.md).
set -euo pipefail
cd "$(dirname "$0")"
: "${AWS_ENDPOINT_URL_MTURK:?set AWS_ENDPOINT_URL_MTURK to the hitkit server, e.g. http://127.0.0.1:8642}"

echo "== python create_tasks.py"
out="$(python create_tasks.py)"
echo "$out"
hit_id="$(sed -n 's/^HITID = \([A-Z0-9]*\) .*/\1/p' <<<"$out")"

echo "== python workers.py $hit_id   (simulated people do the HIT)"
python workers.py "$hit_id"

echo "== python get_results.py $hit_id"
python get_results.py "$hit_id"
