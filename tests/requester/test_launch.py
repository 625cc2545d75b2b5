"""launch_batch against a live hitkit server: one HIT per row x part, resumable, cost and funds, retries."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select, update

from hitkit.mturk import qualification_ids as sq
from hitkit.requester.costs import estimate, split_assignments
from hitkit.requester.inputs import Input, read_input
from hitkit.requester.launch import LaunchError, RetryPolicy, classify, launch_batch, token_for
from hitkit.requester.ledger.tables import batches, events, hits, rows
from hitkit.requester.project import Project
from hitkit.templates.task_template import TemplateError
from hitkit.server.domain.ledger import deposit

TEMPLATE = """<p>Is this text positive?</p><blockquote>{{ row.text }}</blockquote>
<crowd-form><input name="label" value=""/></crowd-form>
"""


def make_project(root: Path, name: str = "sentiment", *, reward: str = "0.10", assignments: int = 1,
                 qualifications: str = "", annotation: str | None = None, template: str = TEMPLATE) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    extra = f'annotation = "{annotation}"\n' if annotation else ""
    (folder / "hitkit.toml").write_text(f"""[hit]
title = "Rate a sentence"
description = "Say whether a sentence is positive."
keywords = ["text", "sentiment"]
reward = "{reward}"
assignments = {assignments}
lifetime = "1d"
duration = "10m"
auto_approval_delay = "2d"
{extra}
[qualifications]
{qualifications}
""")
    (folder / "template.html").write_text(template)
    return folder


def make_input(n: int, *, start: int = 0) -> Input:
    return read_input(__import__("pandas").DataFrame({"text": [f"sentence number {i}" for i in range(start, start + n)]}))


def all_hits(client) -> list[dict]:  # type: ignore[no-untyped-def]
    out, params = [], {"MaxResults": 100}
    while True:
        page = client.list_hits(**params)
        out += page["HITs"]
        if not page.get("NextToken") or not page["HITs"]:
            return out
        params["NextToken"] = page["NextToken"]


def ledger_hits(project: Project) -> list:
    with project.ledger.connect() as conn:
        return list(conn.execute(select(hits).order_by(hits.c.row_index, hits.c.part)))


@pytest.fixture()
def project(tmp_path: Path):  # type: ignore[no-untyped-def]
    p = Project.load(make_project(tmp_path, qualifications='countries = ["US", "CA"]\nmin_approval_rate = 95',
                                  annotation="pilot 1"))
    yield p
    p.close()


def test_launch_creates_one_hit_per_row_with_the_right_properties(project: Project, mturk) -> None:  # type: ignore[no-untyped-def]
    data = make_input(12)
    seen: list[tuple[int, int]] = []
    report = launch_batch(project, mturk, data, assignments=3, workers=4, progress=lambda d, t: seen.append((d, t)))
    assert report.complete and report.created_now == 12 and report.already_created == 0 and report.remaining == 0
    assert seen[-1] == (12, 12)
    assert report.cost.hits == 12 and report.cost.assignments == 36
    assert report.cost.total_cents == 36 * (10 + 2)  # 20 % fee on $0.10
    server_hits = all_hits(mturk)
    assert len(server_hits) == 12
    by_id = {h["HITId"]: h for h in server_hits}
    ledger = ledger_hits(project)
    assert [r.row_index for r in ledger] == list(range(1, 13)) and {r.state for r in ledger} == {"created"}
    assert {r.hit_id for r in ledger} == set(by_id)
    for r in ledger:
        h = by_id[r.hit_id]
        assert r.token == token_for(report.batch_id, r.row_index, 0) and len(r.token) <= 64
        assert h["RequesterAnnotation"] == f"hitkit:{r.token} pilot 1"
        assert h["MaxAssignments"] == 3 and h["Reward"] == "0.10" and h["Title"] == "Rate a sentence"
        assert h["HITTypeId"] == report.hit_type_id == r.hit_type_id
        assert abs(h["Expiration"].timestamp() - h["CreationTime"].timestamp() - 86400) < 2
        assert f"sentence number {r.row_index - 1}<" in h["Question"]
        reqs = {q["QualificationTypeId"]: q for q in h["QualificationRequirements"]}
        assert reqs[sq.LOCALE]["LocaleValues"] == [{"Country": "US"}, {"Country": "CA"}]
        assert reqs[sq.PERCENT_ASSIGNMENTS_APPROVED]["IntegerValues"] == [95]
    with project.ledger.connect() as conn:
        batch = conn.execute(select(batches)).one()
        assert (batch.rows, batch.assignments_per_row, batch.max_assignments_per_hit) == (12, 3, 3)
        assert batch.hit_type_id == report.hit_type_id and batch.endpoint == mturk.meta.endpoint_url
        stored = [json.loads(d) for (d,) in conn.execute(select(rows.c.data).order_by(rows.c.row_index))]
        assert stored == data.rows
        kinds = [k for (k,) in conn.execute(select(events.c.kind).order_by(events.c.seq))]
    assert kinds == ["launch.intents", "launch.started", "launch.finished"]
    balance = mturk.get_account_balance()
    assert balance["OnHoldBalance"] == "4.32"


def test_rerun_creates_nothing_new(project: Project, mturk) -> None:  # type: ignore[no-untyped-def]
    data = make_input(5)
    first = launch_batch(project, mturk, data, workers=3)
    again = launch_batch(project, mturk, make_input(5), workers=3)
    assert again.batch_id == first.batch_id
    assert (again.created_now, again.already_created, again.remaining, again.complete) == (0, 5, 0, True)
    assert again.cost.total_cents == 0
    assert len(all_hits(mturk)) == 5
    # a different setting is a different batch, and the report says the input was launched before
    other = launch_batch(project, mturk, data, assignments=2, workers=3)
    assert other.batch_id != first.batch_id and other.created_now == 5 and other.other_batches == [first.batch_id]


def test_max_assignments_per_hit_spreads_a_row_over_parts(project: Project, mturk) -> None:  # type: ignore[no-untyped-def]
    assert split_assignments(20, 9) == [7, 7, 6] and split_assignments(9, 9) == [9] and split_assignments(3, None) == [3]
    plans = []
    report = launch_batch(project, mturk, make_input(3), assignments=20, max_assignments_per_hit=9,
                          confirm=lambda plan: plans.append(plan) or True)
    assert report.hits_total == 9 and report.created_now == 9
    # under 10 assignments per HIT: 20 % fee, not 40 %
    assert plans[0].cost.total_cents == 60 * 12 and plans[0].cost.hits == 9
    assert estimate(10, [20]).total_cents == 20 * 14
    ledger = ledger_hits(project)
    assert [(r.row_index, r.part, r.max_assignments) for r in ledger] == [
        (row, part, size) for row in (1, 2, 3) for part, size in enumerate([7, 7, 6])]
    assert sorted(h["MaxAssignments"] for h in all_hits(mturk)) == sorted([7, 7, 6] * 3)


def test_a_row_the_template_cannot_render_posts_nothing(tmp_path: Path, mturk) -> None:  # type: ignore[no-untyped-def]
    p = Project.load(make_project(tmp_path))
    data = read_input(__import__("pandas").DataFrame({"text": ["a", "b", None, "d"], "x": [1, 2, 3, 4]}))
    bad = Input(data.name, [*data.rows[:2], {"x": 3}, data.rows[3]], data.sha256)
    with pytest.raises(TemplateError, match="row 3"):
        launch_batch(p, mturk, bad)
    assert mturk.list_hits()["NumResults"] == 0
    assert not p.ledger_path.exists() or ledger_hits(p) == []
    p.close()


def test_custom_qualifications_are_resolved_by_name(tmp_path: Path, mturk) -> None:  # type: ignore[no-untyped-def]
    qt = mturk.create_qualification_type(Name="Sentiment expert", Description="d", QualificationTypeStatus="Active")
    type_id = qt["QualificationType"]["QualificationTypeId"]
    p = Project.load(make_project(tmp_path, qualifications='custom = [{name = "Sentiment expert", comparator = ">=", value = 80}]'))
    report = launch_batch(p, mturk, make_input(2))
    assert report.complete
    reqs = all_hits(mturk)[0]["QualificationRequirements"]
    assert [(q["QualificationTypeId"], q["IntegerValues"]) for q in reqs] == [(type_id, [80])]
    p.close()
    q = Project.load(make_project(tmp_path, "other", qualifications='custom = [{name = "Nobody has this", comparator = "exists"}]'))
    with pytest.raises(LaunchError, match=r"qualifications\.custom\[0\]: no qualification type named 'Nobody has this'"):
        launch_batch(q, mturk, make_input(2))
    q.close()


def test_declining_the_cost_writes_and_posts_nothing(project: Project, mturk) -> None:  # type: ignore[no-untyped-def]
    report = launch_batch(project, mturk, make_input(4), confirm=lambda plan: False)
    assert report.stopped == "declined" and report.created_now == 0 and report.remaining == 4
    assert mturk.list_hits()["NumResults"] == 0 and ledger_hits(project) == []


def test_insufficient_funds_stops_cleanly_and_resumes_after_funding(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # each HIT: 2 assignments x ($0.10 + $0.02) = $0.24; $1.00 pays for 4 of 10
    poor = server.new_requester(balance_cents=100)
    client = server.client(poor)
    p = Project.load(make_project(tmp_path, assignments=2))
    plans = []
    report = launch_batch(p, client, make_input(10), workers=4, confirm=lambda plan: plans.append(plan) or True)
    assert plans[0].shortfall_cents == 240 - 100
    assert report.stopped == "insufficient-funds" and "insufficient funds" in report.message
    assert report.created_now == 4 and report.remaining == 6
    assert report.missing_cents == 6 * 24 - 4  # $0.04 is left over
    assert len(all_hits(client)) == 4
    created = [r for r in ledger_hits(p) if r.hit_id]
    assert len(created) == 4 and {r.hit_id for r in created} == {h["HITId"] for h in all_hits(client)}
    with server._engine.begin() as conn:
        deposit(conn, poor.requester_id, report.missing_cents, time.time())
    again = launch_batch(p, client, make_input(10), workers=4)
    assert again.complete and again.created_now == 6 and again.already_created == 4
    assert len(all_hits(client)) == 10 and client.get_account_balance()["AvailableBalance"] == "0.00"
    p.close()


def test_a_lost_ledger_write_is_recovered_by_token(project: Project, mturk) -> None:  # type: ignore[no-untyped-def]
    first = launch_batch(project, mturk, make_input(6), workers=2)
    before = {r.token: r.hit_id for r in ledger_hits(project)}
    with project.ledger.begin() as conn:  # as if the process died before recording rows 2..5
        conn.execute(update(hits).where(hits.c.row_index.between(2, 5)).values(hit_id=None, state="intended"))
    again = launch_batch(project, mturk, make_input(6), workers=2)
    assert (again.created_now, again.recovered, again.already_created) == (4, 4, 2)
    assert {r.token: r.hit_id for r in ledger_hits(project)} == before
    assert len(all_hits(mturk)) == 6 and first.batch_id == again.batch_id


class _NoIdInMessage:
    """A client whose duplicate-token errors do not carry the HIT id (as some MTurk messages did not)."""

    def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
        self._client = client

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._client, name)

    def create_hit_with_hit_type(self, **params):  # type: ignore[no-untyped-def]
        try:
            return self._client.create_hit_with_hit_type(**params)
        except ClientError as e:
            e.response["Error"]["Message"] = "The HIT with this UniqueRequestToken already exists."
            e.response.pop("TurkErrorCode", None)
            raise


def test_duplicate_without_an_id_is_found_by_listing(project: Project, mturk) -> None:  # type: ignore[no-untyped-def]
    launch_batch(project, mturk, make_input(3))
    before = {r.token: r.hit_id for r in ledger_hits(project)}
    with project.ledger.begin() as conn:
        conn.execute(update(hits).values(hit_id=None, state="intended"))
    again = launch_batch(project, _NoIdInMessage(mturk), make_input(3))
    assert again.recovered == 3 and {r.token: r.hit_id for r in ledger_hits(project)} == before


class _FailsRow:
    """A client that refuses one row's HIT with a permanent error."""

    def __init__(self, client, row: int) -> None:  # type: ignore[no-untyped-def]
        self._client, self._row = client, row

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._client, name)

    def create_hit_with_hit_type(self, **params):  # type: ignore[no-untyped-def]
        if params["UniqueRequestToken"].split("-")[1] == str(self._row):
            raise ClientError({"Error": {"Code": "ParameterValidationError", "Message": "The value is not valid."},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "CreateHITWithHITType")
        return self._client.create_hit_with_hit_type(**params)


def test_a_permanent_error_stops_and_names_the_row(project: Project, mturk) -> None:  # type: ignore[no-untyped-def]
    report = launch_batch(project, _FailsRow(mturk, 4), make_input(40), workers=1)
    assert report.stopped == "error" and report.failed_row == 4
    assert "row 4" in report.message and "ParameterValidationError" in report.message
    assert report.created_now == 3 and report.remaining == 37
    assert [r.last_error for r in ledger_hits(project) if r.row_index == 4][0].startswith("ParameterValidationError")
    again = launch_batch(project, mturk, make_input(40), workers=8)
    assert again.complete and again.created_now == 37 and len(all_hits(mturk)) == 40


def test_error_classes() -> None:
    def err(code: str, message: str = "", status: int = 400, **extra) -> ClientError:  # type: ignore[no-untyped-def]
        return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status},
                            **extra}, "CreateHIT")
    assert classify(err("ThrottlingException", "Rate exceeded")) == "transient"
    assert classify(err("ServiceFault", "", 500)) == "transient"
    assert classify(err("503", "", 503)) == "transient"
    assert classify(err("RequestError", "This Requester has insufficient funds in their account")) == "funds"
    assert classify(err("RequestError", "x", TurkErrorCode="AWS.MechanicalTurk.HitAlreadyExists")) == "duplicate"
    assert classify(err("ParameterValidationError", "bad")) == "permanent"
    assert classify(err("RequestError", "Hit X does not exist.")) == "permanent"


# ---------------------------------------------------------------- a flaky endpoint


class FlakyProxy:
    """An HTTP proxy on 127.0.0.1 in front of the server. Of every `period` requests it answers one with 503
    without forwarding, one with a ThrottlingException, and (CreateHIT* only) forwards one and then answers 503,
    so the HIT exists but the client does not know (the token must recover it)."""

    def __init__(self, upstream: str, period: int = 4) -> None:
        self.upstream, self.period = upstream, period
        self.count = 0
        self.lock = threading.Lock()
        self.faults = {"503": 0, "throttle": 0, "lost": 0}
        self.http = httpx.Client(base_url=upstream, timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

            def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", (headers or {}).get("content-type", "application/x-amz-json-1.1"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target = self.headers.get("X-Amz-Target", "")
                with proxy.lock:
                    proxy.count += 1
                    n = proxy.count % proxy.period
                if n == 1:
                    proxy.faults["503"] += 1
                    return self._send(503, b"<html>Service Unavailable</html>", {"content-type": "text/html"})
                if n == 2:
                    proxy.faults["throttle"] += 1
                    return self._send(400, json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode())
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")}  # Host kept: it is signed
                r = proxy.http.post("/", content=body, headers=headers)
                if n == 3 and "CreateHIT" in target and r.status_code == 200:
                    proxy.faults["lost"] += 1
                    return self._send(503, json.dumps({"__type": "ServiceFault", "Message": "lost"}).encode())
                self._send(r.status_code, r.content, dict(r.headers))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.http.close()


def test_throttling_and_transient_errors_still_give_one_hit_per_row(server, requester, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    proxy = FlakyProxy(server.url, period=7)
    try:
        client = boto3.client("mturk", endpoint_url=proxy.url, region_name="us-east-1",
                              aws_access_key_id=requester.access_key, aws_secret_access_key=requester.secret,
                              config=Config(retries={"total_max_attempts": 1}, max_pool_connections=8))
        p = Project.load(make_project(tmp_path))
        report = launch_batch(p, client, make_input(60), workers=8, retry=RetryPolicy(attempts=12, base=0.01, cap=0.1))
        assert report.complete, report.message
        assert report.retries > 0 and all(proxy.faults.values()), proxy.faults
        assert report.recovered >= proxy.faults["lost"] - 1  # a lost CreateHITType answer is not a HIT
        direct = server.client(requester)
        server_hits = all_hits(direct)
        assert len(server_hits) == 60
        assert sorted(r.hit_id for r in ledger_hits(p)) == sorted(h["HITId"] for h in server_hits)
        p.close()
    finally:
        proxy.close()


def test_an_endpoint_that_keeps_failing_stops_the_launch(project: Project, requester, server) -> None:  # type: ignore[no-untyped-def]
    proxy = FlakyProxy(server.url, period=10**9)  # forwards everything ...
    import boto3
    from botocore.config import Config

    client = boto3.client("mturk", endpoint_url=proxy.url, region_name="us-east-1",
                          aws_access_key_id=requester.access_key, aws_secret_access_key=requester.secret,
                          config=Config(retries={"total_max_attempts": 1}))
    try:
        class Down:
            def __getattr__(self, name):  # type: ignore[no-untyped-def]
                return getattr(client, name)

            def create_hit_with_hit_type(self, **params):  # type: ignore[no-untyped-def]
                raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"},
                                   "ResponseMetadata": {"HTTPStatusCode": 503}}, "CreateHITWithHITType")
        report = launch_batch(project, Down(), make_input(5), workers=2, retry=RetryPolicy(attempts=3, base=0.01, cap=0.02))
        assert report.stopped == "endpoint-unavailable" and report.created_now == 0 and report.remaining == 5
        assert "3 attempts" in report.message
    finally:
        proxy.close()


def test_workers_are_capped_at_the_client_pool(project: Project, server, requester) -> None:  # type: ignore[no-untyped-def]
    client = server.client(requester, max_pool_connections=3)
    report = launch_batch(project, client, make_input(5), workers=16)
    assert report.workers == 3 and report.complete
