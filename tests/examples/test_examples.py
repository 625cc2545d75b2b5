"""Every folder of examples/ run as a user would run it (its run.sh, from a copy of the folder) against a live hitkit
server, with only the environment pointing it there; then the outcome checked through boto3 as the requester.

The environment an example gets is what its README tells a user to export: AWS_ENDPOINT_URL_MTURK (the server),
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (a fresh requester's keys) and HITKIT_ADMIN_TOKEN (to make simulated
workers). Everything else AWS-related is cleared, HOME is a temporary folder, and only 127.0.0.1 is reached."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture()
def example_env(server, requester, tmp_path):  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HITKIT_"))}
    env.update(
        HOME=str(home),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        AWS_ENDPOINT_URL_MTURK=server.url,
        AWS_ACCESS_KEY_ID=requester.access_key,
        AWS_SECRET_ACCESS_KEY=requester.secret,
        AWS_CONFIG_FILE=str(home / ".aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        HITKIT_ADMIN_TOKEN=server.admin_token,
        PYTHONUNBUFFERED="1",
    )
    env.pop("PYTHONPATH", None)
    return env


def run_example(name: str, env: dict, tmp_path: Path, *args: str, timeout: float = 240) -> tuple[Path, str, float]:
    """Copy examples/NAME to tmp_path and run its run.sh there; (folder, stdout + stderr, seconds). Fails on a non-zero exit
    or on anything that looks like a traceback."""
    folder = tmp_path / name
    shutil.copytree(EXAMPLES / name, folder, ignore=shutil.ignore_patterns("work", "__pycache__", ".hitkit"))
    for shared in EXAMPLES.glob("*.py"):  # helpers several examples share (live-simworker.py), beside the copy
        shutil.copy(shared, tmp_path / shared.name)
    start = time.monotonic()
    proc = subprocess.run(["bash", str(folder / "run.sh"), *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=timeout)
    seconds = time.monotonic() - start
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{name}/run.sh exited {proc.returncode}:\n{output}"
    assert "Traceback" not in output, output
    print(f"{name}: {seconds:.1f} s\n{output}")
    return folder, output, seconds


def bonuses(mturk, hit_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return mturk.list_bonus_payments(HITId=hit_id, MaxResults=100)["BonusPayments"]


def assignments(mturk, hit_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return mturk.list_assignments_for_hit(HITId=hit_id, MaxResults=100)["Assignments"]


# -- a. the MTurk Python tutorial ---------------------------------------------------------------------------------


def test_mturk_python_tutorial(example_env, mturk, tmp_path):  # type: ignore[no-untyped-def]
    folder = EXAMPLES / "mturk-python-tutorial"
    for script in ("create_tasks.py", "get_results.py"):  # aimed at hitkit by the environment only
        text = (folder / script).read_text()
        assert not re.search(r"^\s*(import|from)\s+hitkit", text, re.M) and not re.search(r"^[^#]*endpoint_url", text, re.M), script

    _, out, _ = run_example("mturk-python-tutorial", example_env, tmp_path)
    assert "I have $10000.00 in my account" in out
    hit_id = re.search(r"^HITID = (\w+) ", out, re.M).group(1)

    hit = mturk.get_hit(HITId=hit_id)["HIT"]
    assert hit["Title"].startswith("Is this Tweet happy") and hit["Reward"] == "0.15"
    done: dict[str, list] = {"Approved": [], "Rejected": [], "Submitted": []}
    for a in assignments(mturk, hit_id):
        done[a["AssignmentStatus"]].append(a)
    assert len(done["Approved"]) == 2 and len(done["Rejected"]) == 1, done
    assert done["Rejected"][0]["RequesterFeedback"] == "The answer was left blank."
    paid = bonuses(mturk, hit_id)
    assert sorted(b["AssignmentId"] for b in paid) == sorted(a["AssignmentId"] for a in done["Approved"])
    assert all(b["BonusAmount"] == "0.10" and b["Reason"] == "Thanks for a clear answer!" for b in paid)
    # 3 x $0.15 reserved with 20 % fees, the rejected one given back, two $0.10 bonuses with fees
    balance = Decimal(mturk.get_account_balance()["AvailableBalance"])
    assert balance == Decimal("10000.00") - 2 * Decimal("0.18") - 2 * Decimal("0.12")
    assert f"I have ${balance} left" in out


# -- b. simple-amt: hitkit import + hitkit verbs, and simple-amt-style scripts under hitkit exec --------------------


@pytest.mark.slow  # ~15-30 s: a dozen hitkit and Python processes
def test_simple_amt(example_env, mturk, tmp_path):  # type: ignore[no-untyped-def]
    here = EXAMPLES / "simple-amt"
    # the example's helper is hitkit's copy of simpleamt.html, the one `hitkit import` renders with
    assert (here / "hit_templates/simpleamt.html").read_text() == \
        (Path(__file__).resolve().parents[2] / "src/hitkit/templates/simpleamt.html").read_text()
    for script in ("simpleamt.py", "launch_hits.py", "get_results.py", "approve_hits.py"):
        assert not re.search(r"^\s*(import|from)\s+hitkit", (here / script).read_text(), re.M), script

    folder, out, _ = run_example("simple-amt", example_env, tmp_path, timeout=300)
    work = folder / "work"
    assert (work / "shape-sentence/hitkit.toml").exists()
    rows = [json.loads(line) for line in (work / "shape-sentence/results.jsonl").read_text().splitlines()]
    exec_hits = (work / "hit_ids.txt").read_text().split()
    assert len(exec_hits) == 4 and len(rows) == 8

    # 1. launched by `hitkit launch`, reviewed by the rule: two-word sentences rejected with the feedback
    part1 = {r["HITId"] for r in rows}
    assert len(part1) == 4 and not part1 & set(exec_hits)
    statuses = {}
    for hit_id in part1:
        hit = mturk.get_hit(HITId=hit_id)["HIT"]
        assert hit["Title"] == "Describe a shape in one sentence" and hit["MaxAssignments"] == 2
        assert hit["QualificationRequirements"][0]["LocaleValues"] == [{"Country": "US"}, {"Country": "CA"}]
        for a in assignments(mturk, hit_id):
            statuses[a["AssignmentId"]] = a
    assert len(statuses) == 8
    for r in rows:
        a = statuses[r["AssignmentId"]]
        assert r["AssignmentStatus"] == a["AssignmentStatus"]
        if len(r["Answer.sentence"].split()) >= 3:
            assert a["AssignmentStatus"] == "Approved" and r["ApprovalTime"]
            assert r["Answer.sentence"] == f"A {r['Input.shape']} drawn in {r['Input.color']}."
        else:
            assert a["AssignmentStatus"] == "Rejected" and a["RequesterFeedback"].startswith("Please write a whole")
    assert {a["AssignmentStatus"] for a in statuses.values()} == {"Approved", "Rejected"}
    assert (work / "shape-sentence/results.csv").read_text().startswith('"HITId","HITTypeId"')

    # 2. launched by launch_hits.py under hitkit exec (its sandbox URL redirected), results and approvals likewise
    assert "hitkit exec: MTurk client for https://mturk-requester-sandbox.us-east-1.amazonaws.com" in out
    results = [json.loads(line) for line in (work / "results.txt").read_text().splitlines()]
    assert len(results) == 8 and {r["hit_id"] for r in results} == set(exec_hits)
    assert all(r["output"]["sentence"] for r in results)
    for hit_id in exec_hits:
        hit = mturk.get_hit(HITId=hit_id)["HIT"]
        assert "<script type='text/json' id='input'>" in hit["Question"]
        assert [a["AssignmentStatus"] for a in assignments(mturk, hit_id)] == ["Approved", "Approved"]


# -- e. an oTree / psiTurk-style external study -------------------------------------------------------------------


def test_external_study(example_env, server, mturk, tmp_path):  # type: ignore[no-untyped-def]
    import base64
    import csv
    import hashlib
    import hmac
    import xml.etree.ElementTree as ET

    folder, out, _ = run_example("external-study", example_env, tmp_path)
    data = folder / "work/study"
    settings = json.loads((data / "mturk.json").read_text())
    hit_id, qual_id = settings["hit_id"], settings["qualification_type_id"]
    with (data / "scores.csv").open(newline="") as f:
        scores = {r["assignment_id"]: r for r in csv.DictReader(f)}
    names = dict(re.findall(r"^(\w+) \((A\w+)\):", out, re.M))  # participant name -> WorkerId

    # the HIT: an ExternalQuestion on the study's 127.0.0.1 server, retakes guarded by the qualification
    hit = mturk.get_hit(HITId=hit_id)["HIT"]
    assert "<ExternalQuestion" in hit["Question"] and settings["study_url"] in hit["Question"]
    assert settings["study_url"].startswith("http://127.0.0.1:")
    (requirement,) = hit["QualificationRequirements"]
    assert {k: requirement[k] for k in ("QualificationTypeId", "Comparator", "ActionsGuarded")} == {
        "QualificationTypeId": qual_id, "Comparator": "DoesNotExist", "ActionsGuarded": "DiscoverPreviewAndAccept"}
    # spare policy: 4 wanted + 1 spare; the spare went to a walk-away and a cheat's slot was lost, so one more
    # slot was opened; at 4 approved the HIT was expired
    assert hit["MaxAssignments"] == 6 and "Short of 4: 1 more slot(s) opened (MaxAssignments 5 -> 6)" in out
    assert hit["Expiration"].timestamp() <= time.time() + 1

    # completion codes verified against the study's records; the made-up one rejected
    secret = (data / "secret.txt").read_text().strip().encode()
    by_status: dict[str, list] = {"Approved": [], "Rejected": [], "Submitted": []}
    ns = "{http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd}"
    for a in assignments(mturk, hit_id):
        by_status[a["AssignmentStatus"]].append(a)
        code = {x.findtext(ns + "QuestionIdentifier"): x.findtext(ns + "FreeText")
                for x in ET.fromstring(a["Answer"]).iter(ns + "Answer")}["completion_code"]
        expected = base64.b32encode(hmac.new(secret, a["AssignmentId"].encode(), hashlib.sha256).digest()).decode()[:8]
        assert (code == f"{expected[:4]}-{expected[4:]}") == (a["AssignmentStatus"] == "Approved"), a
    assert sorted(a["WorkerId"] for a in by_status["Approved"]) == sorted(names[n] for n in ("ana", "fay", "gus", "jo"))
    assert [a["WorkerId"] for a in by_status["Rejected"]] == [names["eve"]]
    assert "completion code does not match" in by_status["Rejected"][0]["RequesterFeedback"]
    assert {a["AssignmentId"] for a in by_status["Approved"]} == set(scores)

    # bonuses computed from the study's score file: $0.10 per correct answer
    paid = {b["AssignmentId"]: b["BonusAmount"] for b in bonuses(mturk, hit_id)}
    assert paid == {aid: f"{Decimal('0.10') * int(r['score']):.2f}" for aid, r in scores.items()}
    assert sorted(paid.values()) == ["0.30", "0.40", "0.40", "0.50"]

    # the qualification: granted to everyone who started the study or submitted; not to who never started
    holders = {q["WorkerId"] for q in mturk.list_workers_with_qualification_type(
        QualificationTypeId=qual_id, MaxResults=100)["Qualifications"]}
    assert holders == {names[n] for n in ("ana", "cat", "dan", "eve", "fay", "gus", "jo")}
    # the retake: cat opened the study, returned the HIT, and could neither see nor accept it again
    assert re.search(r"^cat \(\w+\): no longer sees the HIT; tries to accept it again: refused \(not_qualified\)$", out, re.M)
    # jo came through the recruitment link: no account, the study's code in the HIT, the link's code shown after
    link = json.loads((data / "link.json").read_text())
    assert link["hit_type_id"] == hit["HITTypeId"] and link["url"].startswith(server.url + "/p/")
    assert re.search(rf"^jo \(\w+\): came through the recruitment link, .* was shown the link's completion code "
                     rf"{re.escape(link['completion_code'])}$", out, re.M)
    assert re.search(r"^ivy \(\w+\): cannot accept the HIT: refused \(hit_expired\)$", out, re.M)

    # dan walked away: his slot is held until the assignment's deadline (20 min), then Abandoned
    assert mturk.get_hit(HITId=hit_id)["HIT"]["NumberOfAssignmentsPending"] == 1
    server.advance(21 * 60)
    assert mturk.get_hit(HITId=hit_id)["HIT"]["NumberOfAssignmentsPending"] == 0


# -- the README's way: `hitkit server init --json`, `hitkit server run`, `eval "$(python server_env.py ...)"` -------


def test_readme_setup_runs_an_example(tmp_path):  # type: ignore[no-untyped-def]
    from tests.support.processes import ServerProcess, free_port, hitkit

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HITKIT_"))}
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               AWS_CONFIG_FILE=str(home / ".aws/config"), AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws/credentials"),
               AWS_EC2_METADATA_DISABLED="true")
    env.pop("PYTHONPATH", None)
    port = free_port()
    init = hitkit("server", "init", "--data-dir", str(tmp_path / "srv"), "--port", str(port), "--json", env=env)
    (tmp_path / "server.json").write_text(init.stdout)
    server = ServerProcess(tmp_path / "srv", port=port, env=env)
    try:
        exports = subprocess.run([sys.executable, str(EXAMPLES / "server_env.py"), str(tmp_path / "server.json")],
                                 capture_output=True, text=True, check=True).stdout
        script = f'{exports}\nbash "$1"\n'
        proc = subprocess.run(["bash", "-c", script, "-", str(EXAMPLES / "mturk-python-tutorial/run.sh")], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"AWS_ENDPOINT_URL_MTURK=http://127.0.0.1:{port}" in exports
        assert "I have $10000.00 in my account" in proc.stdout and "I have $9999.40 left" in proc.stdout
    finally:
        assert server.stop() == 0
