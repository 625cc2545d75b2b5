#!/usr/bin/env bash
# Model evaluation end to end against a hitkit server: `hitkit live run` in the background, one simulated worker
# chatting with the bot and rating it, then `hitkit live export`. Needs AWS_ENDPOINT_URL_MTURK, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY and HITKIT_ADMIN_TOKEN (see README.md).
set -euo pipefail
cd "$(dirname "$0")"
: "${AWS_ENDPOINT_URL_MTURK:?set AWS_ENDPOINT_URL_MTURK to the hitkit server, e.g. http://127.0.0.1:8642}"
run="eval-$(date +%s)-$RANDOM"

echo "== hitkit live run task.py --conversations 1 --run $run"
hitkit live run task.py --endpoint-url "$AWS_ENDPOINT_URL_MTURK" --conversations 1 --reward 0.75 --run "$run" \
  --settle-timeout 60 &
runner=$!

echo "== python ../live-simworker.py $run   (a simulated person chats and rates)"
python ../live-simworker.py "$run" --workers 1 --reply "your turn=I love hiking in the mountains" \
  --reply "tell me more=The views are great" --reply "why do you say=Because it is calm" --reply "rate it=7"

wait "$runner"
echo "== hitkit live export $run"
hitkit live export "$run" --endpoint-url "$AWS_ENDPOINT_URL_MTURK" --output conversations.jsonl
head -c 800 conversations.jsonl; echo
