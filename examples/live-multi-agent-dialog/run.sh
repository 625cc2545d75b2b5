#!/usr/bin/env bash
# The multi-agent dialog end to end against a hitkit server: `hitkit live run` in the background with the local
# human's two lines piped into its terminal, two simulated workers, then `hitkit live export`. Needs
# AWS_ENDPOINT_URL_MTURK, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and HITKIT_ADMIN_TOKEN (see README.md).
set -euo pipefail
cd "$(dirname "$0")"
: "${AWS_ENDPOINT_URL_MTURK:?set AWS_ENDPOINT_URL_MTURK to the hitkit server, e.g. http://127.0.0.1:8642}"
run="dialog-$(date +%s)-$RANDOM"

echo "== hitkit live run task.py --conversations 1 --run $run   (the local human's lines piped in)"
printf 'Hello from the lab, nice to meet you both.\nGreat talking, we are done [DONE]\n' | \
  hitkit live run task.py --endpoint-url "$AWS_ENDPOINT_URL_MTURK" --conversations 1 --reward 0.50 --run "$run" \
    --settle-timeout 60 &
runner=$!

echo "== python ../live-simworker.py $run --workers 2   (simulated people take their turns)"
python ../live-simworker.py "$run" --workers 2 --reply "your turn=Hi everyone!" --reply "your turn=Sounds good to me."

wait "$runner"
echo "== hitkit live export $run"
hitkit live export "$run" --endpoint-url "$AWS_ENDPOINT_URL_MTURK" --output conversations.jsonl
head -c 1200 conversations.jsonl; echo
