#!/usr/bin/env bash
# QA collection end to end against a hitkit server: `hitkit live run` (the requester's process) in the
# background, two simulated workers (../live-simworker.py) doing the HITs, then `hitkit live export`. Needs
# AWS_ENDPOINT_URL_MTURK, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and HITKIT_ADMIN_TOKEN (see README.md).
set -euo pipefail
cd "$(dirname "$0")"
: "${AWS_ENDPOINT_URL_MTURK:?set AWS_ENDPOINT_URL_MTURK to the hitkit server, e.g. http://127.0.0.1:8642}"
run="qa-$(date +%s)-$RANDOM"

echo "== hitkit live run task.py --conversations 2 --run $run"
hitkit live run task.py --endpoint-url "$AWS_ENDPOINT_URL_MTURK" --conversations 2 --reward 0.50 --run "$run" \
  --settle-timeout 60 &
runner=$!

echo "== python ../live-simworker.py $run --workers 2   (simulated people do the HITs)"
python ../live-simworker.py "$run" --workers 2 \
  --reply "write a question=Where is most of the rainforest?" --reply "write the answer=In Brazil."

wait "$runner"
echo "== hitkit live export $run"
hitkit live export "$run" --endpoint-url "$AWS_ENDPOINT_URL_MTURK" --output conversations.jsonl
head -c 600 conversations.jsonl; echo
