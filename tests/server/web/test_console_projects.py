"""The console's projects, batches and review over HTTP (web/console_project_pages.py): a project from a built-in
template, edited and previewed; a CSV uploaded (bad rows named by row and column, nothing stored), previewed row by
row with its cost, published (resumable, exactly one HIT per row), worked, reviewed (approve, reject with feedback,
bonus, one by one and in bulk, with the aggregated label and per-worker quality) and downloaded in MTurk's batch
results CSV. Security: script in CSV cells and answers is inert; requester B cannot see or act on A's projects,
batches or results; every POST needs its CSRF token; a worker's session opens no console page."""

from __future__ import annotations

import csv
import io
import re

from hitkit.server.domain import console_projects as cp
from tests.server.web.staff_support import console
from tests.support.web import SiteClient

SCRIPT = "<script>window.pwned = 1</script>"


def _create_project(client: SiteClient, name: str = "Animals", start: str = "text-classification") -> str:
    client.get("/console/projects")
    r = client.post("/console/projects", {"name": name, "start": start})
    assert r.status_code == 303, r.text[:800]
    pid = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
    client.get(f"/console/projects/{pid}")
    return pid


def _upload(client: SiteClient, pid: str, text: str, name: str = "batch one"):  # type: ignore[no-untyped-def]
    return client.http.post(f"/console/projects/{pid}/batches", data={"csrf_token": client.csrf, "name": name},
                            files={"file": ("items.csv", text.encode(), "text/csv")})


def _batch_id(r) -> str:  # type: ignore[no-untyped-def]
    assert r.status_code == 303, r.text[:1500]
    return r.headers["location"].split("?")[0].rsplit("/", 1)[1]


def _save(client: SiteClient, pid: str, **changes: str):  # type: ignore[no-untyped-def]
    page = client.get(f"/console/projects/{pid}").text
    values: dict[str, str] = {}
    for k, v in re.findall(r'<input name="(\w+)"[^>]*value="([^"]*)"', page):
        values.setdefault(k, v)  # the project form comes first (the upload form has a `name` too)
    values["template"] = re.search(r'<textarea name="template"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    values["template"] = values["template"].replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"') \
        .replace("&#39;", "'").replace("&amp;", "&")
    values["description"] = "Pick the label that fits the text."
    values["kind"] = "jinja"
    values.update(changes)
    return client.post(f"/console/projects/{pid}", values)


ROWS = "text,gold.label\n" + "".join(f"item {i} is {'good' if i % 2 else 'bad'},{'positive' if i % 2 else 'negative'}\n"
                                      for i in range(1, 7))


def test_project_batch_publish_work_review_results(server):
    client, requester = console(server, balance_cents=10_000)
    pid = _create_project(client)
    page = client.get(f"/console/projects/{pid}")
    assert "Text classification" in page.text or "text" in page.text
    # The properties are checked as hitkit.toml's are: every problem named by its key, nothing saved.
    bad = _save(client, pid, reward="abc", assignments="0", title="")
    assert bad.status_code == 400
    assert "hit.reward" in bad.text and "hit.assignments" in bad.text and "hit.title" in bad.text
    ok = _save(client, pid, reward="0.20", assignments="3", title="Label a text")
    assert ok.status_code == 303, ok.text[:1500]

    # Live preview: the unsaved template, rendered with a sample row, sandboxed.
    preview = client.post(f"/console/projects/{pid}/preview", {
        "template": "<p>{{ row.text }}</p><input name='label'>", "kind": "jinja", "row": '{"text": "' + SCRIPT.replace('"', '\\"') + '"}',
        "frame_height": "300"})
    assert preview.status_code == 200
    assert "sandbox" in preview.headers["content-security-policy"]
    assert SCRIPT not in preview.text and "&lt;script&gt;" in preview.text
    broken = client.post(f"/console/projects/{pid}/preview", {"template": "{{ row.text ", "kind": "jinja", "row": "{}"})
    assert broken.status_code == 400 and "line 1" in broken.text

    # A CSV with a bad row: named by row and column, nothing stored.
    bad_csv = "text\nfine\n\"unterminated\n"
    r = _upload(client, pid, "words\nhello\n")
    assert r.status_code == 400 and "column `text`" in r.text
    r = _upload(client, pid, "text\nok\nbad \x01 byte\n")
    assert r.status_code == 400 and "row 2, column `text`" in r.text and "U+0001" in r.text
    with server._engine.connect() as conn:
        assert cp.list_batches(conn, requester.requester_id) == []
    del bad_csv

    bid = _batch_id(_upload(client, pid, ROWS.replace("item 3 is good", "item 3 is " + SCRIPT.replace(",", ""))))
    page = client.get(f"/console/batches/{bid}?row=3")
    assert page.status_code == 200
    assert SCRIPT not in page.text  # the row's values are shown escaped
    assert "6 (3 assignments each)" in page.text
    # 6 rows x 3 assignments x ($0.20 + $0.04 fee) = $4.32
    assert "$4.32" in page.text
    row_page = client.get(f"/console/batches/{bid}/rows/3")
    assert "sandbox" in row_page.headers["content-security-policy"] and SCRIPT not in row_page.text
    assert "positive" not in client.get(f"/console/batches/{bid}/rows/1").text  # gold is never shown to workers

    # Publish: one HIT per row; publishing again creates nothing more.
    r = client.post(f"/console/batches/{bid}/publish")
    assert r.status_code == 303 and "6 HITs created" in r.headers["location"].replace("%20", " ")
    r = client.post(f"/console/batches/{bid}/publish")
    assert "already has its HIT" in r.headers["location"].replace("%20", " ")
    mturk = server.client(requester)
    hits = mturk.list_hits(MaxResults=100)["HITs"]
    assert len(hits) == 6 and all(h["MaxAssignments"] == 3 and h["Reward"] == "0.20" for h in hits)
    with server._engine.connect() as conn:
        hit_ids = cp.batch_hit_ids(conn, bid)
    assert sorted(hit_ids) == sorted(h["HITId"] for h in hits)

    # Three workers: two agree with the gold, one always answers "negative" and puts script in a comment.
    workers = [server.new_worker() for _ in range(3)]
    with server._engine.connect() as conn:
        by_hit = {r.hit_id: json_row(r.row) for r in conn.execute(cp.console_batch_rows.select().where(
            cp.console_batch_rows.c.batch_id == bid))}
    for hid in hit_ids:
        truth = by_hit[hid]["gold.label"]
        server.do_hit(workers[0], hid, {"label": truth})
        server.do_hit(workers[1], hid, {"label": truth})
        server.do_hit(workers[2], hid, {"label": "negative", "comment": SCRIPT})

    page = client.get(f"/console/batches/{bid}")
    assert "18 of 18 assignments" in page.text and "submissions-chart" in page.text
    review = client.get(f"/console/batches/{bid}/review")
    assert review.status_code == 200
    assert SCRIPT not in review.text and "&lt;script&gt;" in review.text
    assert review.text.count('class="badge ok aggregated"') == 6
    assert "label: positive" in review.text and "label: negative" in review.text
    # Per-worker quality: the always-negative worker agrees half the time and is right on half the gold.
    quality = review.text[review.text.index('id="worker-quality"'):review.text.index('id="bulk"')]
    assert f'data-worker="{workers[0].worker_id}"' in quality
    spam_row = quality[quality.index(workers[2].worker_id):]
    assert "50 %" in spam_row[:600]

    # The workers page: each worker's agreement with the majority answer of their HITs.
    workers_page = client.get("/console/workers?sort=agreement").text
    spammer = workers_page[workers_page.index(f'data-worker="{workers[2].worker_id}"'):]
    assert 'data-label="Agreement">50 %' in spammer[:1200]
    careful = workers_page[workers_page.index(f'data-worker="{workers[0].worker_id}"'):]
    assert 'data-label="Agreement">100 %' in careful[:1200]

    # Reject one with feedback, bonus one, approve the rest in bulk.
    mturk_assignments = {a["AssignmentId"]: a for h in hit_ids for a in
                         mturk.list_assignments_for_hit(HITId=h)["Assignments"]}
    spam = [aid for aid, a in mturk_assignments.items() if a["WorkerId"] == workers[2].worker_id]
    good = [aid for aid in mturk_assignments if aid not in spam]
    r = client.post(f"/console/batches/{bid}/review", {"assignment": spam[0], "action": "reject", "feedback": ""})
    assert "Rejecting needs feedback" in r.headers["location"].replace("%20", " ")
    r = client.post(f"/console/batches/{bid}/review", {"assignment": spam[0], "action": "reject",
                                                       "feedback": "Every answer was negative."})
    assert "Rejected 1 assignment" in r.headers["location"].replace("%20", " ")
    r = client.post(f"/console/batches/{bid}/review", {"assignment": good[0], "action": "bonus", "amount": "0.50",
                                                       "reason": "careful work"})
    assert "Bonus sent to 1" in r.headers["location"].replace("%20", " ")
    r = client.post(f"/console/batches/{bid}/review", {"assignment": good[0], "action": "bonus", "amount": "0.50",
                                                       "reason": "careful work"})
    assert "Refused 1" in r.headers["location"].replace("%20", " ")  # the same bonus twice is refused, not paid
    r = client.http.post(f"/console/batches/{bid}/review", data={
        "csrf_token": client.csrf, "action": "approve", "assignment": good + spam[1:]})
    assert f"Approved {len(good) + len(spam) - 1} assignments" in r.headers["location"].replace("%20", " ")
    statuses = [mturk.get_assignment(AssignmentId=aid)["Assignment"]["AssignmentStatus"] for aid in mturk_assignments]
    assert statuses.count("Rejected") == 1 and statuses.count("Approved") == 17
    assert mturk.list_bonus_payments(AssignmentId=good[0])["NumResults"] == 1

    # Results in MTurk's batch format.
    body = client.get(f"/console/batches/{bid}/results.csv")
    assert body.headers["content-disposition"].startswith("attachment")
    table = list(csv.DictReader(io.StringIO(body.text)))
    assert len(table) == 18
    assert list(table[0])[:6] == ["HITId", "HITTypeId", "Title", "Reward", "AssignmentId", "WorkerId"]
    assert {"Input.text", "Input.gold.label", "Answer.label", "Approve", "Reject"} <= set(table[0])
    assert {r["AssignmentStatus"] for r in table} == {"Approved", "Rejected"}
    assert all(r["Reward"] == "$0.20" and r["Title"] == "Label a text" for r in table)
    rejected = [r for r in table if r["AssignmentStatus"] == "Rejected"][0]
    assert rejected["RequesterFeedback"] == "Every answer was negative."


def json_row(text: str) -> dict:
    import json
    return json.loads(text)


def test_publish_stops_at_insufficient_funds_and_resumes(server):
    client, requester = console(server, balance_cents=100)  # $1.00: four HITs of $0.24
    pid = _create_project(client)
    assert _save(client, pid, reward="0.20", assignments="1", title="Label").status_code == 303
    bid = _batch_id(_upload(client, pid, "text\n" + "".join(f"t{i}\n" for i in range(10))))
    r = client.post(f"/console/batches/{bid}/publish")
    location = r.headers["location"].replace("%20", " ")
    assert "then refused" in location and "rows that have a HIT are skipped" in location
    with server._engine.connect() as conn:
        first = cp.published_count(conn, bid)
    assert 0 < first < 10
    assert len(server.client(requester).list_hits()["HITs"]) == first  # no HIT without its row, none twice
    with server._engine.begin() as conn:
        from hitkit.server.domain.ledger import deposit
        deposit(conn, requester.requester_id, 1_000, 0.0)
    client.post(f"/console/batches/{bid}/publish")
    with server._engine.connect() as conn:
        assert cp.published_count(conn, bid) == 10
    assert len(server.client(requester).list_hits(MaxResults=100)["HITs"]) == 10


def test_requester_b_sees_nothing_of_a(server):
    a, _ = console(server, balance_cents=10_000)
    pid = _create_project(a)
    bid = _batch_id(_upload(a, pid, "text\nhello\n"))
    a.post(f"/console/batches/{bid}/publish")
    b, _ = console(server, balance_cents=10_000)
    assert pid not in b.get("/console/projects").text and bid not in b.get("/console/batches").text
    for path in (f"/console/projects/{pid}", f"/console/batches/{bid}", f"/console/batches/{bid}/rows/1",
                 f"/console/batches/{bid}/results.csv", f"/console/batches/{bid}/review"):
        assert b.get(path).status_code == 404, path
    for path, data in ((f"/console/projects/{pid}", {"name": "mine"}), (f"/console/projects/{pid}/preview", {}),
                       (f"/console/batches/{bid}/publish", {}), (f"/console/batches/{bid}/expire", {}),
                       (f"/console/batches/{bid}/delete", {}),
                       (f"/console/batches/{bid}/review", {"action": "approve", "assignment": "x"})):
        assert b.post(path, data).status_code == 404, path
    r = _upload(b, pid, "text\nhello\n")
    assert r.status_code == 404


def test_assignments_of_another_batch_cannot_be_reviewed_through_this_one(server):
    client, requester = console(server, balance_cents=10_000)
    pid = _create_project(client)
    one = _batch_id(_upload(client, pid, "text\nx\n", "one"))
    two = _batch_id(_upload(client, pid, "text\ny\n", "two"))
    for bid in (one, two):
        client.post(f"/console/batches/{bid}/publish")
    with server._engine.connect() as conn:
        hit_two = cp.batch_hit_ids(conn, two)[0]
    aid = server.do_hit(server.new_worker(), hit_two, {"label": "positive"})
    r = client.post(f"/console/batches/{one}/review", {"action": "approve", "assignment": aid})
    assert r.status_code == 404
    assert server.client(requester).get_assignment(AssignmentId=aid)["Assignment"]["AssignmentStatus"] == "Submitted"


def test_every_post_needs_the_csrf_token(server):
    client, requester = console(server, balance_cents=10_000)
    pid = _create_project(client)
    bid = _batch_id(_upload(client, pid, "text\nhello\n"))
    for path in ("/console/projects", f"/console/projects/{pid}", f"/console/projects/{pid}/preview",
                 f"/console/projects/{pid}/batches", f"/console/batches/{bid}/publish",
                 f"/console/batches/{bid}/expire", f"/console/batches/{bid}/delete", f"/console/batches/{bid}/review"):
        r = client.post(path, {"name": "x", "start": "sentiment", "action": "approve", "assignment": "x"}, csrf=False)
        assert r.status_code == 403 and "security token" in r.text, path
    with server._engine.connect() as conn:
        assert [p.name for p, _ in cp.list_projects(conn, requester.requester_id)] == ["Animals"]
        assert cp.published_count(conn, bid) == 0 and cp.get_batch(conn, requester.requester_id, bid) is not None


def test_a_worker_session_opens_no_console_page(server):
    _, username, password = server.web_worker()
    worker = SiteClient(server.url)
    worker.login(username, password)
    for path in ("/console/projects", "/console/batches"):
        r = worker.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def test_bad_input_never_answers_500(server):
    client, _ = console(server, balance_cents=1_000)
    pid = _create_project(client)
    bid = _batch_id(_upload(client, pid, "text\nhello\n"))
    bodies = [b"", b"\x00\xff garbage", b"csrf_token=" + client.csrf.encode() + b"&row=%00&kind=jinja&template=%00",
              b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nunterminated"]
    for path in (f"/console/projects/{pid}", f"/console/projects/{pid}/preview", f"/console/projects/{pid}/batches",
                 f"/console/batches/{bid}/publish", f"/console/batches/{bid}/review", "/console/projects"):
        for body in bodies:
            for ctype in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"):
                r = client.http.post(path, content=body, headers={"Content-Type": ctype})
                assert r.status_code < 500, (path, body, ctype, r.status_code)
    for path in (f"/console/batches/{bid}?row=abc", f"/console/batches/{bid}/rows/-1", f"/console/batches/{bid}/rows/x",
                 f"/console/batches/{bid}/review?page=zz&method=nope&field=%00", "/console/projects/%00",
                 f"/console/batches/{bid}%00"):
        assert client.get(path).status_code < 500, path
    # Binary and non-UTF-8 uploads are refused with what to do.
    r = client.http.post(f"/console/projects/{pid}/batches", data={"csrf_token": client.csrf},
                         files={"file": ("items.csv", "text\ncafé\n".encode("latin-1"), "text/csv")})
    assert r.status_code == 400 and "not UTF-8" in r.text
    r = _upload(client, pid, "")
    assert r.status_code == 400 and "empty" in r.text
    r = _upload(client, pid, "text,text\na,b\n")
    assert r.status_code == 400 and "repeats the column name" in r.text
