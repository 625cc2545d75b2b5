"""`hitkit exec`: the MTurk Python tutorial's scripts, unmodified, with Amazon's sandbox endpoint and fake keys
hard-coded, run against a live hitkit server; exit codes, signals, other services, --keep-credentials, errors.

The tutorial ("Tutorial: a beginner's guide to crowdsourcing ML training data with Python and MTurk") is
reconstructed below as its readers typed it: boto3 + xmltodict, create_tasks.py (balance in the sandbox,
create_hit with an HTMLQuestion read from question.xml) and get_results.py (list_assignments_for_hit, the
Answer XML parsed with xmltodict, approve or reject with a reason, send_bonus), in Python 3."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap

import pytest

from hitkit.server.aws_profile import write_profile
from tests.support.processes import hitkit

SANDBOX = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"

CLIENT = """\
import boto3

MTURK_SANDBOX = 'https://mturk-requester-sandbox.us-east-1.amazonaws.com'

mturk = boto3.client('mturk',
   aws_access_key_id = 'AKIAOLDTUTORIALKEY00',
   aws_secret_access_key = 'PASTE_YOUR_IAM_USER_SECRET_KEY_HERE00000',
   region_name='us-east-1',
   endpoint_url = MTURK_SANDBOX
)
"""

CREATE_TASKS = CLIENT + """\

print("I have $" + mturk.get_account_balance()['AvailableBalance'] + " in my Sandbox account")

question = open(file='question.xml', mode='r').read()
new_hit = mturk.create_hit(
    Title = 'Is this Tweet happy, angry, excited, scared, annoyed or upset?',
    Description = 'Read this tweet and type out one word to describe the emotion of the person posting it: happy, angry, scared, annoyed or upset',
    Keywords = 'text, quick, labeling',
    Reward = '0.15',
    MaxAssignments = 1,
    LifetimeInSeconds = 172800,
    AssignmentDurationInSeconds = 600,
    AutoApprovalDelayInSeconds = 14400,
    Question = question,
)
print("A new HIT has been created. You can preview it here:")
print("https://workersandbox.mturk.com/mturk/preview?groupId=" + new_hit['HIT']['HITGroupId'])
print("HITID = " + new_hit['HIT']['HITId'] + " (Use to Get Results)")
# Remember to modify the URL above when you're publishing
# HITs to the live marketplace.
# Use: https://worker.mturk.com/mturk/preview?groupId=
"""

QUESTION_XML = """\
<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">
  <HTMLContent><![CDATA[
<!DOCTYPE html>
<html>
<head>
<meta http-equiv='Content-Type' content='text/html; charset=UTF-8'/>
<script type='text/javascript' src='https://s3.amazonaws.com/mturk-public/externalHIT_v1.js'></script>
</head>
<body>
<form name='mturk_form' method='post' id='mturk_form' action='https://www.mturk.com/mturk/externalSubmit'>
<input type='hidden' value='' name='assignmentId' id='assignmentId'/>
<h1>What is the emotion of the person who wrote this tweet?</h1>
<p><i>"Just got the keys to our first apartment!!!"</i></p>
<p>Type one word: happy, angry, excited, scared, annoyed or upset.</p>
<p><textarea name='answer' cols='80' rows='3'></textarea></p>
<p><input type='submit' id='submitButton' value='Submit' /></p></form>
<script language='Javascript'>turkSetAssignmentID();</script>
</body></html>
]]>
  </HTMLContent>
  <FrameHeight>450</FrameHeight>
</HTMLQuestion>
"""

GET_RESULTS = CLIENT + """\

# You will need the following library
# to help parse the XML answers supplied from MTurk
# Install it in your local environment with
# pip install xmltodict
import xmltodict
# Use the hit_id previously created
hit_id = 'PASTE_IN_YOUR_HIT_ID'
# We are only publishing this task to one Worker
# So we will get back an array with one item if it has been completed
worker_results = mturk.list_assignments_for_hit(HITId=hit_id, AssignmentStatuses=['Submitted'])

if worker_results['NumResults'] > 0:
   for assignment in worker_results['Assignments']:
      xml_doc = xmltodict.parse(assignment['Answer'])

      print("Worker's answer was:")
      if type(xml_doc['QuestionFormAnswers']['Answer']) is list:
         # Multiple fields in HIT layout
         answers = xml_doc['QuestionFormAnswers']['Answer']
      else:
         # One field found in HIT layout
         answers = [xml_doc['QuestionFormAnswers']['Answer']]
      for answer_field in answers:
         print("For input field: " + answer_field['QuestionIdentifier'])
         print("Submitted answer: " + str(answer_field['FreeText']))

      if all(not (answer_field['FreeText'] or '').strip() for answer_field in answers):
         # Blank work: reject it, with the reason the Worker will see
         mturk.reject_assignment(
            AssignmentId=assignment['AssignmentId'],
            RequesterFeedback='The answer was left blank.',
         )
         print("Rejected " + assignment['AssignmentId'])
      else:
         mturk.approve_assignment(
            AssignmentId=assignment['AssignmentId'],
            RequesterFeedback='Good work, thank you!',
            OverrideRejection=False,
         )
         mturk.send_bonus(
            WorkerId=assignment['WorkerId'],
            BonusAmount='0.10',
            AssignmentId=assignment['AssignmentId'],
            Reason='Thanks for a clear answer!',
            UniqueRequestToken=assignment['AssignmentId'] + '-bonus',
         )
         print("Approved " + assignment['AssignmentId'] + " and sent a $0.10 bonus")
else:
   print("No results ready yet")
"""


@pytest.fixture()
def tutorial(tmp_path, monkeypatch, server, requester):  # type: ignore[no-untyped-def]
    """A working folder (the cwd) with the tutorial's files; a clean AWS setup whose environment holds a fresh
    hitkit requester's keys (boto3's chain, where `--endpoint-url` finds them)."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws/config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws/credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_MTURK",
                "PYTHONPATH", "HITKIT_EXEC_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", requester.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", requester.secret)
    work = tmp_path / "work"
    work.mkdir()
    (work / "create_tasks.py").write_text(CREATE_TASKS)
    (work / "question.xml").write_text(QUESTION_XML)
    monkeypatch.chdir(work)  # the script opens question.xml relative to the working directory
    return work


def test_the_mturk_tutorial_runs_unmodified_against_hitkit(server, requester, tutorial):  # type: ignore[no-untyped-def]
    created = hitkit("exec", "--endpoint-url", server.url, "--", sys.executable, "create_tasks.py")
    assert "I have $10000.00 in my Sandbox account" in created.stdout
    assert created.stderr.count("hitkit exec: MTurk client for") == 1
    assert f"hitkit exec: MTurk client for {SANDBOX} -> {server.url}" in created.stderr
    hit_id = re.search(r"HITID = (\S+) \(Use to Get Results\)", created.stdout).group(1)
    mturk = server.client(requester)
    hits = {h["HITId"]: h for h in mturk.list_hits()["HITs"]}
    assert hits[hit_id]["Title"] == "Is this Tweet happy, angry, excited, scared, annoyed or upset?"
    assert hits[hit_id]["Reward"] == "0.15" and hits[hit_id]["MaxAssignments"] == 1
    assert (tutorial / "create_tasks.py").read_text() == CREATE_TASKS  # the script was not edited

    worker = server.new_worker()
    assignment_id = server.do_hit(worker, hit_id, {"answer": "excited"})

    # The reader pastes the HITId into get_results.py, as the tutorial says.
    (tutorial / "get_results.py").write_text(GET_RESULTS.replace("PASTE_IN_YOUR_HIT_ID", hit_id))
    results = hitkit("exec", "--endpoint-url", server.url, "--", sys.executable, "get_results.py")
    assert "For input field: answer\nSubmitted answer: excited\n" in results.stdout
    assert f"Approved {assignment_id} and sent a $0.10 bonus" in results.stdout
    assignment = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert assignment["AssignmentStatus"] == "Approved" and assignment["RequesterFeedback"] == "Good work, thank you!"
    bonuses = mturk.list_bonus_payments(AssignmentId=assignment_id)["BonusPayments"]
    assert [(b["WorkerId"], b["BonusAmount"], b["Reason"]) for b in bonuses] == [
        (worker.worker_id, "0.10", "Thanks for a clear answer!")]
    # Nothing left to review: a second run says so.
    again = hitkit("exec", "--endpoint-url", server.url, "--", sys.executable, "get_results.py")
    assert "No results ready yet" in again.stdout


def test_default_endpoint_is_the_local_profile(server, requester, tutorial, monkeypatch):  # type: ignore[no-untyped-def]
    write_profile(requester.access_key, requester.secret, server.url)  # what `hitkit server init` writes
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code = CLIENT + "print(mturk.meta.endpoint_url, mturk.get_account_balance()['AvailableBalance'])"
    proc = hitkit("exec", "--", sys.executable, "-c", code)
    assert proc.stdout.strip() == f"{server.url} 10000.00"


def test_exit_code_propagates(server, tutorial):  # type: ignore[no-untyped-def]
    proc = hitkit("exec", "--endpoint-url", server.url, "--", sys.executable, "-c", "import sys; sys.exit(3)", check=False)
    assert proc.returncode == 3 and proc.stderr == ""
    missing = hitkit("exec", "--endpoint-url", server.url, "--", "no-such-command-hitkit", check=False)
    assert missing.returncode == 127 and "error: command not found: no-such-command-hitkit" in missing.stderr


def test_which_clients_are_redirected(server, requester, tutorial):  # type: ignore[no-untyped-def]
    """Every way of making a client goes through botocore's Session.create_client; only MTurk clients aimed at
    Amazon (or at nothing) move. Other services, and MTurk clients aimed elsewhere, keep their endpoint."""
    code = textwrap.dedent("""
        import os, boto3, botocore.session
        print("s3", boto3.client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9").meta.endpoint_url)
        print("sqs", boto3.client("sqs", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b").meta.endpoint_url)
        print("other", boto3.client("mturk", region_name="us-east-1", endpoint_url="http://127.0.0.1:9").meta.endpoint_url)
        clients = {
            "default": boto3.client("mturk", region_name="us-east-1"),
            "session": boto3.Session().client("mturk", endpoint_url="http://mturk-requester.us-east-1.amazonaws.com/"),
            "botocore": botocore.session.get_session().create_client(
                "mturk", "us-east-1", endpoint_url="HTTPS://MTURK-REQUESTER-SANDBOX.us-east-1.amazonaws.com:443"),
        }
        for name, client in clients.items():
            print(name, client.meta.endpoint_url, client.get_account_balance()["AvailableBalance"])
        print("env", os.environ["AWS_ENDPOINT_URL_MTURK"])
    """)
    proc = hitkit("exec", "--endpoint-url", server.url, "--", sys.executable, "-c", code)
    assert proc.stdout.splitlines() == [
        "s3 http://127.0.0.1:9", "sqs https://sqs.us-east-1.amazonaws.com", "other http://127.0.0.1:9",
        f"default {server.url} 10000.00", f"session {server.url} 10000.00", f"botocore {server.url} 10000.00",
        f"env {server.url}",
    ]
    # Announced once, for the first redirected client.
    assert proc.stderr.splitlines() == [
        f"hitkit exec: MTurk client for the default endpoint (https://mturk-requester.us-east-1.amazonaws.com) -> {server.url}"]


def test_keep_credentials_sends_the_scripts_own_keys(server, tutorial):  # type: ignore[no-untyped-def]
    proc = hitkit("exec", "--endpoint-url", server.url, "--keep-credentials", "--", sys.executable, "create_tasks.py",
                  check=False)
    assert proc.returncode == 1
    assert f"hitkit exec: MTurk client for {SANDBOX} -> {server.url}" in proc.stderr  # it did reach hitkit...
    assert ("botocore.exceptions.ClientError: An error occurred (UnrecognizedClientException) when calling the "
            "GetAccountBalance operation: The security token included in the request is invalid.") in proc.stderr
    # ... with the tutorial's fake key, which hitkit does not know.
    assert "I have $" not in proc.stdout


def test_users_own_sitecustomize_still_runs(server, tutorial, tmp_path):  # type: ignore[no-untyped-def]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "sitecustomize.py").write_text("import os\nos.environ['USER_SITECUSTOMIZE'] = 'ran'\n")
    code = CLIENT + "import os\nprint(os.environ.get('USER_SITECUSTOMIZE'), mturk.get_account_balance()['AvailableBalance'])"
    proc = hitkit("exec", "--endpoint-url", server.url, "--", sys.executable, "-c", code, env={"PYTHONPATH": str(mine)})
    assert proc.stdout.strip() == "ran 10000.00"


def test_no_endpoint_configured(tutorial, monkeypatch, server):  # type: ignore[no-untyped-def]
    proc = hitkit("exec", "--", sys.executable, "create_tasks.py", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.strip() == ("error: No local hitkit server is configured: run `hitkit server init` "
                                   "(or pass --endpoint-url URL).")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    proc = hitkit("exec", "--endpoint-url", server.url, "--", sys.executable, "create_tasks.py", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"error: No AWS credentials were found for {server.url}: set "
                                   "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile.")
    nothing = hitkit("exec", "--endpoint-url", server.url, check=False)
    assert nothing.returncode == 2 and "give the command to run after --" in nothing.stderr


@pytest.mark.parametrize("sig,expected", [(signal.SIGTERM, 7), (signal.SIGINT, 5)])
def test_signals_are_forwarded(server, tutorial, sig, expected):  # type: ignore[no-untyped-def]
    code = textwrap.dedent("""
        import signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))
        try:
            print("ready", flush=True)
            time.sleep(60)
        except KeyboardInterrupt:
            sys.exit(5)
    """)
    proc = subprocess.Popen([sys.executable, "-m", "hitkit.cli.main", "exec", "--endpoint-url", server.url, "--",
                             sys.executable, "-c", code],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(sig)  # to `hitkit exec` only: it passes the signal on
        assert proc.wait(timeout=20) == expected
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
