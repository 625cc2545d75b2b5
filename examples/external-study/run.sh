#!/usr/bin/env bash
# An oTree / psiTurk-style external study on hitkit: the study runs on its own server (study.py), publish.py
# posts it as an ExternalQuestion HIT with a "took part" qualification required DoesNotExist, simulated
# participants take it (some drop out or cheat), and pay.py verifies completion codes against the study's score
# file, approves or rejects, pays bonuses from the scores and keeps N + spares slots. One participant comes
# through a recruitment link (recruitment_link.py) instead of a worker account.
# Needs AWS_ENDPOINT_URL_MTURK, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and HITKIT_ADMIN_TOKEN (see README.md).
set -euo pipefail
cd "$(dirname "$0")"
: "${AWS_ENDPOINT_URL_MTURK:?set AWS_ENDPOINT_URL_MTURK to the hitkit server, e.g. http://127.0.0.1:8642}"
DATA=work/study
rm -rf work
mkdir -p "$DATA"

echo "== the study's own server"
python study.py --port "${STUDY_PORT:-0}" --data "$DATA" > work/study.log 2>&1 &
study_pid=$!
trap 'kill "$study_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "listening on" work/study.log 2>/dev/null && break
  kill -0 "$study_pid" 2>/dev/null || { cat work/study.log; exit 1; }
  sleep 0.1
done
study_url="$(sed -n 's/^study listening on \(http[^ ]*\)$/\1/p' work/study.log)"
echo "$study_url"

echo "== python publish.py"
python publish.py --study-url "$study_url" --participants 4 --spares 1 --data "$DATA"
hit_id="$(python -c "import json; print(json.load(open('$DATA/mturk.json'))['hit_id'])")"

echo "== python recruitment_link.py"
python recruitment_link.py --data "$DATA"

echo "== participants, first wave"
python participants.py --hit-id "$hit_id" first
echo "== python pay.py"
python pay.py --data "$DATA"

echo "== participants, second wave (through the recruitment link)"
python participants.py --hit-id "$hit_id" --data "$DATA" second
echo "== python pay.py"
python pay.py --data "$DATA"

echo "== a latecomer"
python participants.py --hit-id "$hit_id" late

echo "== the study's score file ($DATA/scores.csv)"
cat "$DATA/scores.csv"
