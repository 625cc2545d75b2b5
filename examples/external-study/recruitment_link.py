"""Make a participant link (recruitment link) for the study's HIT type: people with no account (sent from Prolific,
a mailing list, a course page) open it, press Start, and do the study's HIT; afterwards hitkit shows them the
link's completion code to paste back where they came from.

    python recruitment_link.py --data work/study      # writes DATA/link.json and prints the link

Participant links are hitkit's, not MTurk's: this calls hitkit's requester route
`POST /api/requester/v1/participant-links`, signed with SigV4 exactly like an MTurk call, so the requester's MTurk
keys are all it needs (docs/worker-site.md). `hitkit server participant-link HITTYPEID --requester NAME
--completion-code auto` does the same from the server's shell.
"""

import argparse
import json
import os
import urllib.request
from pathlib import Path

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="work/study")
    parser.add_argument("--label", default="Arithmetic study")
    args = parser.parse_args()
    data = Path(args.data)
    settings = json.loads((data / "mturk.json").read_text())

    server = os.environ["AWS_ENDPOINT_URL_MTURK"].rstrip("/")
    body = json.dumps({"hit_type_id": settings["hit_type_id"], "label": args.label, "completion_code": "auto"}).encode()
    request = AWSRequest(method="POST", url=f"{server}/api/requester/v1/participant-links", data=body,
                         headers={"Content-Type": "application/json"})
    SigV4Auth(boto3.Session().get_credentials(), "mturk-requester", "us-east-1").add_auth(request)
    sent = urllib.request.Request(request.url, data=body, method="POST", headers=dict(request.headers.items()))
    with urllib.request.urlopen(sent, timeout=30) as resp:
        link = json.loads(resp.read())
    (data / "link.json").write_text(json.dumps(link, indent=2))
    print(f"Recruitment link: {link['url']} (completion code shown after the HIT: {link['completion_code']})")


if __name__ == "__main__":
    main()
