"""Print `export ...` lines that aim the examples at a hitkit server, from `hitkit server init --json`'s output.

    hitkit server init --json > server.json
    eval "$(python server_env.py server.json)"

sets AWS_ENDPOINT_URL_MTURK (the server), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (the `default` requester's
keys), AWS_DEFAULT_REGION, HITKIT_ADMIN_TOKEN (used only to make simulated workers) and HITKIT_URL (the server
again, the name sagemaker-iris/run.sh reads).
"""

import json
import shlex
import sys

info = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
values = {
    "AWS_ENDPOINT_URL_MTURK": info["endpoint_url"],
    "AWS_ACCESS_KEY_ID": info["requester"]["aws_access_key_id"],
    "AWS_SECRET_ACCESS_KEY": info["requester"]["aws_secret_access_key"],
    "AWS_DEFAULT_REGION": "us-east-1",
    "HITKIT_ADMIN_TOKEN": info["admin"]["token"],
    "HITKIT_URL": info["endpoint_url"],
}
for name, value in values.items():
    print(f"export {name}={shlex.quote(value)}")
