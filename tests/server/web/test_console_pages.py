"""The requester console over HTTP (web/console_pages.py): API keys (create, rotate, revoke, used with boto3),
funds (balance, ledger, earnings CSV), workers (stats, block, qualifications, messages), qualification types;
every POST refused without its CSRF token; and isolation: requester B can neither see nor act on requester A's
workers, results, funds or keys, route by route."""

from __future__ import annotations

import csv
import io
import re
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from hitkit.server.domain import accounts
from tests.conftest import hit_params
from tests.server.web.staff_support import console
from tests.support.server import Worker
from tests.support.web import SiteClient


def _mturk(server, key: str, secret: str):  # type: ignore[no-untyped-def]
    return boto3.client("mturk", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def _named_worker(server, name: str) -> Worker:  # type: ignore[no-untyped-def]
    with server._engine.begin() as conn:
        wid, token = accounts.create_worker(conn, name, time.time())
    return Worker(wid, token)


@pytest.fixture()
def a(server):  # type: ignore[no-untyped-def]
    """Requester A, signed in to the console, with its boto3 client."""
    client, requester = console(server)
    yield client, requester, server.client(requester)
    client.close()


def _work(server, mturk, worker: Worker, n: int = 2, approve: int = 1, reject: int = 0, reward: str = "0.60"):  # type: ignore[no-untyped-def]
    """n assignments by `worker` of the requester's HITs; the first `approve` approved, the next `reject` rejected."""
    ids = []
    for i in range(n):
        hit = mturk.create_hit(**hit_params(Reward=reward, MaxAssignments=1))["HIT"]
        aid = server.accept(worker, hit["HITId"])
        server.advance(30)  # 30 s of work, on the marketplace clock
        assert server.submit(worker, aid, {"answer": f"<script>alert({i})</script>"}).status_code == 200
        ids.append(aid)
    for aid in ids[:approve]:
        mturk.approve_assignment(AssignmentId=aid)
    for aid in ids[approve:approve + reject]:
        mturk.reject_assignment(AssignmentId=aid, RequesterFeedback="no")
    return ids


# ---------------------------------------------------------------- keys


def test_keys_create_rotate_revoke_with_boto3(server, a):
    client, requester, _ = a
    r = client.get("/console/keys")
    assert requester.access_key in r.text and requester.secret not in r.text  # secrets are never listed
    r = client.post("/console/keys")
    assert r.status_code == 200
    new_key = re.search(r'id="new-key-id">([^<]+)<', r.text).group(1)
    new_secret = re.search(r'id="new-key-secret">([^<]+)<', r.text).group(1)
    assert _mturk(server, new_key, new_secret).get_account_balance()["AvailableBalance"]
    assert new_secret not in client.get("/console/keys").text  # shown once
    # Rotate the original key: a replacement that works, and the old one refused at once.
    r = client.post(f"/console/keys/{requester.access_key}/rotate")
    assert r.status_code == 200 and "rotated" in r.text
    rotated_key = re.search(r'id="new-key-id">([^<]+)<', r.text).group(1)
    rotated_secret = re.search(r'id="new-key-secret">([^<]+)<', r.text).group(1)
    assert _mturk(server, rotated_key, rotated_secret).get_account_balance()["AvailableBalance"]
    with pytest.raises(ClientError) as e:
        _mturk(server, requester.access_key, requester.secret).get_account_balance()
    assert "security token" in str(e.value)
    r = client.post(f"/console/keys/{requester.access_key}/rotate")
    assert r.status_code == 303 and "already%20revoked" in r.headers["location"]
    # Revoke.
    r = client.post(f"/console/keys/{new_key}/revoke")
    assert r.status_code == 303
    with pytest.raises(ClientError):
        _mturk(server, new_key, new_secret).get_account_balance()
    r = client.post("/console/keys/AKIANOSUCHKEY/revoke")
    assert r.status_code == 303 and "no%20access%20key" in r.headers["location"]
    assert client.post(f"/console/keys/{rotated_key}/explode").status_code == 404


# ---------------------------------------------------------------- funds


def test_funds_ledger_and_earnings_csv(server, a):
    client, requester, mturk = a
    w1 = server.new_worker()
    evil = _named_worker(server, '=HYPERLINK("http://evil.example")<script>alert(1)</script>')
    _work(server, mturk, w1, n=3, approve=2)
    aid = _work(server, mturk, evil, n=1, approve=1)[0]
    mturk.send_bonus(WorkerId=evil.worker_id, BonusAmount="0.25", AssignmentId=aid, Reason="thanks", UniqueRequestToken="b1")
    r = client.get("/console/funds")
    assert r.status_code == 200
    assert "reward" in r.text and "bonus" in r.text and "deposit" in r.text
    assert "<script>alert(1)</script>" not in r.text
    assert client.get("/console/funds?kind=reward").text.count('data-label="Kind">reward<') == 3
    assert client.get("/console/funds?kind=nonsense&page=-4").status_code == 200
    today = time.strftime("%Y-%m-%d", time.gmtime(server.advance(0)["now"]))
    r = client.get(f"/console/funds/earnings.csv?from={today}&to={today}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"
    rows = {row["WorkerId"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert rows[w1.worker_id]["ApprovedAssignments"] == "2" and rows[w1.worker_id]["Rewards"] == "1.20"
    assert rows[evil.worker_id]["Total"] == "0.85" and rows[evil.worker_id]["BonusAmount"] == "0.25"
    assert rows[evil.worker_id]["WorkerName"].startswith("'=HYPERLINK")  # no formula in a spreadsheet
    # The same name on the console's pages is escaped text, never markup.
    for path in ("/console/workers", f"/console/workers/{evil.worker_id}"):
        page = client.get(path).text
        assert "<script>alert(1)</script>" not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/console/workers").text
    # Outside the range: nothing.
    r = client.get("/console/funds/earnings.csv?from=2001-01-01&to=2001-01-31")
    assert len(r.text.strip().splitlines()) == 1
    for bad in ("from=yesterday", "from=2026-13-45", "from=2026-11-30&to=2026-11-01", "from=%00"):
        r = client.get(f"/console/funds/earnings.csv?{bad}")
        assert r.status_code == 400, bad


# ---------------------------------------------------------------- workers


def test_worker_stats_block_qualify_and_message(server, a):
    client, requester, mturk = a
    worker_id, username, password = server.web_worker()
    worker = Worker(worker_id, "")
    with server._engine.begin() as conn:
        worker.token = accounts.new_token(conn, "worker", worker_id, time.time())
    _work(server, mturk, worker, n=4, approve=2, reject=1)
    r = client.get("/console/workers")
    row = re.search(rf'<tr data-worker="{worker_id}">(.*?)</tr>', r.text, re.S).group(1)
    assert ">4<" in row and "67 %" in row and "30 s" in row
    hourly = float(re.search(r"\$([0-9.]+)/h", row).group(1))
    assert 70 <= hourly <= 72  # $0.60 for 30 s (and a few ms of real time): about $72 an hour
    for sort in ("assignments", "approval", "time", "wage", "recent", "bogus"):
        assert client.get(f"/console/workers?sort={sort}").status_code == 200
    page = client.get(f"/console/workers/{worker_id}")
    assert page.status_code == 200 and "Approval rate" in page.text
    # Block and unblock (as CreateWorkerBlock / DeleteWorkerBlock).
    r = client.post(f"/console/workers/{worker_id}/block", {"reason": "<b>spam</b>"})
    assert r.status_code == 303
    assert mturk.list_worker_blocks()["WorkerBlocks"] == [{"WorkerId": worker_id, "Reason": "<b>spam</b>"}]
    page = client.get(f"/console/workers/{worker_id}")
    assert "&lt;b&gt;spam&lt;/b&gt;" in page.text and "<b>spam</b>" not in page.text
    r = client.post(f"/console/workers/{worker_id}/block", {"reason": "  "})
    assert "Refused" in r.headers["location"]
    client.post(f"/console/workers/{worker_id}/unblock")
    assert mturk.list_worker_blocks()["WorkerBlocks"] == []
    # Qualifications.
    qt = mturk.create_qualification_type(Name="Console qual", Description="d", QualificationTypeStatus="Active")["QualificationType"]
    r = client.post(f"/console/workers/{worker_id}/grant", {"type_id": qt["QualificationTypeId"], "value": "7"})
    assert r.status_code == 303 and "granted" in r.headers["location"]
    score = mturk.get_qualification_score(QualificationTypeId=qt["QualificationTypeId"], WorkerId=worker_id)
    assert score["Qualification"]["IntegerValue"] == 7
    r = client.post(f"/console/workers/{worker_id}/grant", {"type_id": qt["QualificationTypeId"], "value": "lots"})
    assert "Refused" in r.headers["location"]
    r = client.post(f"/console/workers/{worker_id}/revoke", {"type_id": qt["QualificationTypeId"], "reason": "done"})
    assert r.status_code == 303 and "revoked" in r.headers["location"]
    score = mturk.get_qualification_score(QualificationTypeId=qt["QualificationTypeId"], WorkerId=worker_id)
    assert score["Qualification"]["Status"] == "Revoked"
    # A message, as NotifyWorkers: the worker reads it on the worker site.
    r = client.post(f"/console/workers/{worker_id}/message", {"subject": "Hello <there>", "body": "Thanks for the work"})
    assert r.status_code == 303 and "sent" in r.headers["location"]
    site = SiteClient(server.url)
    site.login(username, password)
    assert "Hello &lt;there&gt;" in site.get("/me/messages").text
    site.close()
    r = client.post(f"/console/workers/{worker_id}/message", {"subject": "", "body": ""})
    assert "Refused" in r.headers["location"]
    assert client.post(f"/console/workers/{worker_id}/explode").status_code == 404


# ---------------------------------------------------------------- qualifications


def test_qualification_types_create_edit_grant(server, a):
    client, requester, mturk = a
    r = client.post("/console/qualifications", {"name": "Bird expert <i>", "description": "Knows birds", "active": "1",
                                                "keywords": "birds", "auto_granted": "1", "auto_value": "3"})
    assert r.status_code == 303
    type_id = r.headers["location"].split("/console/qualifications/")[1].split("?")[0]
    qt = mturk.get_qualification_type(QualificationTypeId=type_id)["QualificationType"]
    assert qt["Name"] == "Bird expert <i>" and qt["AutoGranted"] and qt["AutoGrantedValue"] == 3
    page = client.get(f"/console/qualifications/{type_id}")
    assert "Bird expert &lt;i&gt;" in page.text
    r = client.post(f"/console/qualifications/{type_id}", {"action": "update", "description": "Knows many birds"})
    assert r.status_code == 303
    qt = mturk.get_qualification_type(QualificationTypeId=type_id)["QualificationType"]
    assert qt["Description"] == "Knows many birds" and qt["QualificationTypeStatus"] == "Inactive" and not qt["AutoGranted"]
    worker = server.new_worker()
    r = client.post(f"/console/qualifications/{type_id}", {"action": "grant", "worker_id": worker.worker_id, "value": "5"})
    assert r.status_code == 303 and "Granted" in r.headers["location"]
    r = client.post(f"/console/qualifications/{type_id}", {"action": "grant", "worker_id": "ANOSUCHWORKER9", "value": "5"})
    assert "Refused" in r.headers["location"]
    assert "1 holder" in client.get("/console/qualifications").text
    # Duplicate names and empty fields are refused with the API's message, not a 500.
    r = client.post("/console/qualifications", {"name": "Bird expert <i>", "description": "again", "active": "1"})
    assert r.status_code == 400 and "error" in r.text
    r = client.post("/console/qualifications", {"name": "", "description": ""})
    assert r.status_code == 400
    r = client.post("/console/qualifications", {"name": "x" * 5000, "description": "d", "auto_granted": "1", "auto_value": "q"})
    assert r.status_code == 400
    r = client.post("/console/qualifications", {"name": "nul\x00name", "description": "d"})
    assert r.status_code == 400
    assert client.get("/console/qualifications/NOSUCHTYPE").status_code == 404
    assert client.get("/console/qualifications/%00").status_code == 404


# ---------------------------------------------------------------- CSRF and isolation


def test_every_console_form_needs_its_csrf_token(server, a):
    client, requester, mturk = a
    worker = server.new_worker()
    _work(server, mturk, worker, n=1, approve=1)
    qt = mturk.create_qualification_type(Name="csrf qual", Description="d", QualificationTypeStatus="Active")["QualificationType"]
    tid = qt["QualificationTypeId"]
    posts = {
        "/console/keys": {},
        f"/console/keys/{requester.access_key}/rotate": {},
        f"/console/keys/{requester.access_key}/revoke": {},
        f"/console/workers/{worker.worker_id}/block": {"reason": "x"},
        f"/console/workers/{worker.worker_id}/grant": {"type_id": tid, "value": "1"},
        f"/console/workers/{worker.worker_id}/message": {"subject": "s", "body": "b"},
        "/console/qualifications": {"name": "csrf made", "description": "d"},
        f"/console/qualifications/{tid}": {"action": "grant", "worker_id": worker.worker_id},
        "/console/logout": {},
    }
    for path, data in posts.items():
        r = client.post(path, data, csrf=False)
        assert r.status_code == 403 and "security token" in r.text, path
        r = client.post(path, data, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403, path
    assert mturk.get_account_balance()  # the key still works: nothing was rotated or revoked
    assert mturk.list_worker_blocks()["WorkerBlocks"] == []
    assert len([k for k in re.findall(r'data-key="([^"]+)"', client.get("/console/keys").text)]) == 1
    with pytest.raises(ClientError):
        mturk.get_qualification_score(QualificationTypeId=tid, WorkerId=worker.worker_id)


def test_requester_b_cannot_see_or_act_on_requester_a(server, a):
    a_client, a_req, a_mturk = a
    b_client, b_req = console(server)
    b_mturk = server.client(b_req)
    a_worker = server.new_worker()
    _work(server, a_mturk, a_worker, n=2, approve=1)
    a_qt = a_mturk.create_qualification_type(Name="A's qual", Description="d", QualificationTypeStatus="Active")["QualificationType"]
    a_tid = a_qt["QualificationTypeId"]
    a_mturk.associate_qualification_with_worker(QualificationTypeId=a_tid, WorkerId=a_worker.worker_id, IntegerValue=1)
    wid = a_worker.worker_id
    # Pages: none of A's workers, results, funds, keys or qualification types show up for B.
    for path in ("/console/", "/console/keys", "/console/funds", "/console/workers", "/console/qualifications",
                 "/console/funds/earnings.csv?from=2000-01-01&to=2100-01-01"):
        r = b_client.get(path)
        assert r.status_code == 200, path
        for secret in (wid, a_req.access_key, a_tid, "A&#39;s qual", "A's qual"):
            assert secret not in r.text, (path, secret)
    assert b_client.get(f"/console/workers/{wid}").status_code == 404
    assert b_client.get(f"/console/qualifications/{a_tid}").status_code == 404
    # Actions on A's worker, keys and qualification type are refused and change nothing.
    for path, data in ((f"/console/workers/{wid}/block", {"reason": "x"}),
                       (f"/console/workers/{wid}/unblock", {}),
                       (f"/console/workers/{wid}/grant", {"type_id": a_tid, "value": "9"}),
                       (f"/console/workers/{wid}/revoke", {"type_id": a_tid}),
                       (f"/console/workers/{wid}/message", {"subject": "s", "body": "b"}),
                       (f"/console/qualifications/{a_tid}", {"action": "grant", "worker_id": wid, "value": "9"}),
                       (f"/console/qualifications/{a_tid}", {"action": "update", "description": "B was here"})):
        r = b_client.post(path, data)
        assert r.status_code == 404, path
    for action in ("rotate", "revoke"):
        r = b_client.post(f"/console/keys/{a_req.access_key}/{action}")
        assert r.status_code == 303 and "no%20access%20key" in r.headers["location"]
    assert a_mturk.get_account_balance()  # A's key still works
    assert b_mturk.list_worker_blocks()["WorkerBlocks"] == []
    score = a_mturk.get_qualification_score(QualificationTypeId=a_tid, WorkerId=wid)["Qualification"]
    assert score["IntegerValue"] == 1
    assert a_mturk.get_qualification_type(QualificationTypeId=a_tid)["QualificationType"]["Description"] == "d"
    # B granting its own qualification to A's worker through the qualification page is allowed (as the API
    # allows), and still shows B nothing of A's: the worker page then has only B's qualification.
    b_qt = b_mturk.create_qualification_type(Name="B's qual", Description="d", QualificationTypeStatus="Active")["QualificationType"]
    r = b_client.post(f"/console/qualifications/{b_qt['QualificationTypeId']}", {"action": "grant", "worker_id": wid, "value": "2"})
    assert r.status_code == 303
    page = b_client.get(f"/console/workers/{wid}")
    assert page.status_code == 200 and "A&#39;s qual" not in page.text and "<script>" not in page.text
    assert "Recent work" not in page.text  # none of A's assignments
    b_client.close()


# ---------------------------------------------------------------- bad input never makes a 500


ODD = ["", "x" * 5000, "\x00", "%00", "é漢字", "../../etc/passwd", "<script>alert(1)</script>", "-1", "1e999", "NaN",
       "'; DROP TABLE requesters; --"]


def test_odd_input_on_every_route_is_never_a_500(server, a):
    from tests.server.web.staff_support import admin

    client, requester, mturk = a
    adm = admin(server)
    gets = ["/console/workers/{x}", "/console/qualifications/{x}", "/console/funds?kind={x}&page={x}",
            "/console/funds/earnings.csv?from={x}&to={x}", "/console/workers?sort={x}", "/admin/requesters/{x}",
            "/admin/workers?q={x}&page={x}", "/console/login?next={x}", "/admin/login?next={x}"]
    posts = [("/console/keys/{x}/rotate", {}), ("/console/keys/{x}/revoke", {}), ("/console/workers/{x}/block", {"reason": "{x}"}),
             ("/console/qualifications", {"name": "{x}", "description": "{x}", "auto_granted": "1", "auto_value": "{x}"}),
             ("/console/qualifications/{x}", {"action": "{x}"}),
             ("/admin/requesters", {"name": "{x}", "funds": "{x}", "username": "{x}", "password": "{x}"}),
             ("/admin/requesters/{x}/funds", {"amount": "{x}"}), ("/admin/workers/{x}/password", {"password": "{x}"}),
             ("/admin/invitations", {"uses": "{x}", "expires_days": "{x}", "note": "{x}"}),
             ("/admin/settings", {"fee_schedule": "{x}"})]
    from urllib.parse import quote

    for x in ODD:
        for template in gets:
            path = template.replace("{x}", quote(x, safe=""))
            who = client if path.startswith("/console") else adm
            r = who.get(path)
            assert r.status_code < 500, (path, r.status_code)
        for template, data in posts:
            path = template.replace("{x}", quote(x, safe="") or "none")
            who = client if path.startswith("/console") else adm
            r = who.post(path, {k: v.replace("{x}", x) for k, v in data.items()})
            assert r.status_code < 500, (path, x[:20], r.status_code)
    # Unknown methods and routes under both areas answer 404/405, not 500.
    assert client.http.delete("/console/keys").status_code == 405
    assert client.get("/console/nothing-here").status_code == 404
    assert adm.get("/admin/nothing-here").status_code == 404
    # The fee schedule stayed valid, whatever was posted.
    assert 'value="mturk" selected' in adm.get("/admin/settings").text or 'value="none" selected' in adm.get("/admin/settings").text
    adm.post("/admin/settings", {"fee_schedule": "mturk"})
    adm.close()
