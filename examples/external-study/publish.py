"""Publish the study as an MTurk HIT (boto3 only; AWS_ENDPOINT_URL_MTURK aims it at hitkit).

    python publish.py --study-url http://127.0.0.1:8800/ --participants 4 --spares 1 --data work/study

- a qualification "Took part in the arithmetic study" (made once, found by name afterwards), which the study
  grants to everyone who starts it;
- one HIT: an ExternalQuestion showing the study, MaxAssignments = participants + spares, and the requirement
  that the worker does NOT have that qualification (`DoesNotExist`, guarding discovery, preview and accept), so
  nobody takes part twice;
- DATA/mturk.json: the ids the study and pay.py need.
"""

import argparse
import json
from pathlib import Path

import boto3

QUAL_NAME = "Took part in the arithmetic study"
EXTERNAL_QUESTION = """<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">
  <ExternalURL>{url}</ExternalURL>
  <FrameHeight>600</FrameHeight>
</ExternalQuestion>"""


def took_part_qualification(mturk) -> str:  # type: ignore[no-untyped-def]
    found = mturk.list_qualification_types(Query=QUAL_NAME, MustBeRequestable=False, MustBeOwnedByCaller=True,
                                           MaxResults=100)["QualificationTypes"]
    for q in found:
        if q["Name"] == QUAL_NAME:
            return q["QualificationTypeId"]
    return mturk.create_qualification_type(
        Name=QUAL_NAME, Keywords="study, participation",
        Description="Granted to everyone who started the arithmetic study, so that nobody takes it twice.",
        QualificationTypeStatus="Active",
    )["QualificationType"]["QualificationTypeId"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--study-url", required=True)
    parser.add_argument("--participants", type=int, default=4, help="completed participants wanted (N)")
    parser.add_argument("--spares", type=int, default=1, help="extra slots for dropouts")
    parser.add_argument("--data", default="work/study")
    args = parser.parse_args()

    mturk = boto3.client("mturk", region_name="us-east-1")
    qual_id = took_part_qualification(mturk)
    hit = mturk.create_hit(
        Title="A 3-minute arithmetic study",
        Description="Answer five arithmetic questions in our study. $0.10 bonus per correct answer.",
        Keywords="study, research, arithmetic",
        Reward="0.50",
        MaxAssignments=args.participants + args.spares,
        LifetimeInSeconds=3 * 24 * 3600,
        AssignmentDurationInSeconds=20 * 60,
        AutoApprovalDelayInSeconds=2 * 24 * 3600,
        Question=EXTERNAL_QUESTION.format(url=args.study_url),
        QualificationRequirements=[{
            "QualificationTypeId": qual_id,
            "Comparator": "DoesNotExist",
            "ActionsGuarded": "DiscoverPreviewAndAccept",
        }],
    )["HIT"]
    settings = {"hit_id": hit["HITId"], "hit_type_id": hit["HITTypeId"], "qualification_type_id": qual_id,
                "participants": args.participants, "spares": args.spares, "study_url": args.study_url}
    Path(args.data).mkdir(parents=True, exist_ok=True)
    (Path(args.data) / "mturk.json").write_text(json.dumps(settings, indent=2))
    print(f"HIT {hit['HITId']}: {args.participants} participants + {args.spares} spare = "
          f"{hit['MaxAssignments']} slots, $0.50 each; study at {args.study_url}")
    print(f"Retakes: the HIT requires qualification {qual_id} ({QUAL_NAME!r}) DoesNotExist")


if __name__ == "__main__":
    main()
