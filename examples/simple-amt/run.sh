#!/usr/bin/env bash
# A simple-amt project on hitkit, two ways: (1) imported with `hitkit import simple-amt` and run with hitkit's
# verbs; (2) simple-amt-style scripts run unmodified under `hitkit exec`. Simulated workers do the HITs.
# Needs AWS_ENDPOINT_URL_MTURK, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and HITKIT_ADMIN_TOKEN (see README.md).
set -euo pipefail
cd "$(dirname "$0")"
: "${AWS_ENDPOINT_URL_MTURK:?set AWS_ENDPOINT_URL_MTURK to the hitkit server, e.g. http://127.0.0.1:8642}"
ENDPOINT=(--endpoint-url "$AWS_ENDPOINT_URL_MTURK")
rm -rf work
mkdir work

echo "== 1. hitkit import simple-amt, then launch, collect, status, review, export"
hitkit import simple-amt hit_properties/shape_sentence.json hit_templates/shape_sentence.html work/shape-sentence \
  --input examples/shape_sentence/example_input.txt
cd work
hitkit launch shape-sentence --input shape-sentence/example_input.jsonl --yes "${ENDPOINT[@]}" --json > launch.json
hit_type_id="$(python -c "import json; print(json.load(open('launch.json'))['hit_type_id'])")"

echo "-- simulated workers do the HITs of type $hit_type_id"
python ../workers.py --hit_type_id "$hit_type_id"

hitkit collect shape-sentence "${ENDPOINT[@]}"
hitkit status shape-sentence --no-collect "${ENDPOINT[@]}"
hitkit review shape-sentence "${ENDPOINT[@]}" --yes \
  --rule 'len(answers["sentence"].split()) >= 3' \
  --reject-failing "Please write a whole sentence about the picture (three words or more)."
hitkit collect shape-sentence "${ENDPOINT[@]}"   # the decisions' times, for the export
hitkit export shape-sentence --format csv
hitkit export shape-sentence --format jsonl
cd ..

echo "== 2. simple-amt's scripts, unmodified (sandbox URL and config.json keys inside), under hitkit exec"
hitkit exec "${ENDPOINT[@]}" -- python launch_hits.py \
  --html_template=hit_templates/shape_sentence.html \
  --hit_properties_file=hit_properties/shape_sentence.json \
  --input_json_file=examples/shape_sentence/example_input.txt \
  --hit_ids_file=work/hit_ids.txt

echo "-- simulated workers do the HITs in work/hit_ids.txt"
python workers.py --hit_ids_file work/hit_ids.txt

hitkit exec "${ENDPOINT[@]}" -- python get_results.py --hit_ids_file=work/hit_ids.txt > work/results.txt
echo "work/results.txt: $(wc -l < work/results.txt) results, e.g."
head -n 1 work/results.txt
hitkit exec "${ENDPOINT[@]}" -- python approve_hits.py --hit_ids_file=work/hit_ids.txt -f
