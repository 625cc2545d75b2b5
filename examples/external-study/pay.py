"""Review the study's HIT: verify completion codes against the study's own records, approve or reject, pay
bonuses from the score file, grant the "took part" qualification, and keep the right number of slots open.

    python pay.py --data work/study

Run it whenever participants have submitted; running it again does only what is left (decided assignments are
not listed as Submitted any more, and each bonus has a UniqueRequestToken, so it is never paid twice).

Slots (the spare policy): the HIT asked for N + spares slots. A participant who returns the HIT gives the slot
back at once; one who walks away holds it until the assignment's deadline; a rejected submission keeps it for
good. Once N submissions are approved, the HIT is expired, so nobody else starts (people already working may
still submit, and are paid like the others). While fewer than N are approved and no slot is free, the missing
slots are added with CreateAdditionalAssignmentsForHIT: participants still working are not counted, because
waiting for a likely dropout's deadline would hold the study up (if they do finish, the study has one more).
"""

import argparse
import csv
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import boto3

BONUS_PER_CORRECT = Decimal("0.10")
NS = "{http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd}"


def answers(answer_xml: str) -> dict:
    root = ET.fromstring(answer_xml)
    return {a.findtext(NS + "QuestionIdentifier"): a.findtext(NS + "FreeText") or "" for a in root.iter(NS + "Answer")}


def all_assignments(mturk, hit_id: str, statuses: list[str]) -> list[dict]:  # type: ignore[no-untyped-def]
    out, kwargs = [], {"HITId": hit_id, "AssignmentStatuses": statuses, "MaxResults": 100}
    while True:
        page = mturk.list_assignments_for_hit(**kwargs)
        out += page["Assignments"]
        if not page.get("NextToken"):
            return out
        kwargs["NextToken"] = page["NextToken"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="work/study")
    args = parser.parse_args()
    data = Path(args.data)
    settings = json.loads((data / "mturk.json").read_text())
    hit_id, qual_id, wanted = settings["hit_id"], settings["qualification_type_id"], settings["participants"]
    scores = {}
    if (data / "scores.csv").exists():
        with (data / "scores.csv").open(newline="") as f:
            scores = {row["assignment_id"]: row for row in csv.DictReader(f)}

    mturk = boto3.client("mturk", region_name="us-east-1")
    for a in all_assignments(mturk, hit_id, ["Submitted"]):
        aid, worker = a["AssignmentId"], a["WorkerId"]
        code = answers(a["Answer"]).get("completion_code", "").strip().upper()
        record = scores.get(aid)
        # Everyone who submitted took part: no second go, whatever the outcome (the study already granted it to
        # those who opened it; this covers anyone who submitted without opening it).
        mturk.associate_qualification_with_worker(QualificationTypeId=qual_id, WorkerId=worker, IntegerValue=1,
                                                  SendNotification=False)
        if record is None or record["worker_id"] != worker or record["completion_code"] != code:
            mturk.reject_assignment(AssignmentId=aid, RequesterFeedback=(
                "The completion code does not match our records: the study was not completed in this assignment."))
            print(f"{worker} {aid}: code {code or '(none)'!r} not in the study's records -> rejected")
            continue
        mturk.approve_assignment(AssignmentId=aid, RequesterFeedback="Thank you for taking part!")
        bonus = BONUS_PER_CORRECT * int(record["score"])
        line = f"{worker} {aid}: code {code} verified, score {record['score']}/5 -> approved"
        if bonus > 0:
            mturk.send_bonus(WorkerId=worker, AssignmentId=aid, BonusAmount=f"{bonus:.2f}",
                             Reason=f"{record['score']} correct answers in the arithmetic study, $0.10 each.",
                             UniqueRequestToken=f"{aid}-score-bonus")
            line += f", bonus ${bonus:.2f}"
        print(line)

    approved = len(all_assignments(mturk, hit_id, ["Approved"]))
    hit = mturk.get_hit(HITId=hit_id)["HIT"]
    free, working = hit["NumberOfAssignmentsAvailable"], hit["NumberOfAssignmentsPending"]
    print(f"{approved} of {wanted} participants approved; {free} slots free, {working} participants still working")
    if approved >= wanted:
        if hit["HITStatus"] in ("Assignable", "Unassignable"):
            mturk.update_expiration_for_hit(HITId=hit_id, ExpireAt=datetime(2015, 1, 1, tzinfo=timezone.utc))
            print(f"Target reached: HIT {hit_id} expired (anyone still working may submit)")
    elif approved + free < wanted:
        more = wanted - approved - free
        mturk.create_additional_assignments_for_hit(HITId=hit_id, NumberOfAdditionalAssignments=more,
                                                    UniqueRequestToken=f"{hit_id}-more-{hit['MaxAssignments']}")
        print(f"Short of {wanted}: {more} more slot(s) opened (MaxAssignments {hit['MaxAssignments']} -> "
              f"{hit['MaxAssignments'] + more})")


if __name__ == "__main__":
    main()
