"""The worker's own pages (/me/assignments, /me/earnings, /me/messages, /me/qualifications) and qualification tests
on the site, against a live server: real flows through boto3 and the worker site, checked over HTTP (httpx with a
signed-in cookie jar), plus one browser run of a graded qualification test."""

from __future__ import annotations

import html
import re

import httpx

from hitkit.mturk.xml import NS_ANSWER_KEY, NS_QUESTIONFORM_2017
from tests.conftest import hit_params
from tests.support.browser import chromium_page, screenshot

TEST_XML = (
    f'<QuestionForm xmlns="{NS_QUESTIONFORM_2017}">'
    "<Overview><Text>Two quick questions &lt;script&gt;alert(1)&lt;/script&gt;</Text></Overview>"
    "<Question><QuestionIdentifier>q1</QuestionIdentifier><IsRequired>true</IsRequired>"
    "<QuestionContent><Text>Which letter is b?</Text></QuestionContent>"
    "<AnswerSpecification><SelectionAnswer><StyleSuggestion>radiobutton</StyleSuggestion><Selections>"
    "<Selection><SelectionIdentifier>a</SelectionIdentifier><Text>Letter a</Text></Selection>"
    "<Selection><SelectionIdentifier>b</SelectionIdentifier><Text>Letter b</Text></Selection>"
    "</Selections></SelectionAnswer></AnswerSpecification></Question>"
    "<Question><QuestionIdentifier>q2</QuestionIdentifier><IsRequired>true</IsRequired>"
    "<QuestionContent><Text>Which letter is y?</Text></QuestionContent>"
    "<AnswerSpecification><SelectionAnswer><StyleSuggestion>radiobutton</StyleSuggestion><Selections>"
    "<Selection><SelectionIdentifier>x</SelectionIdentifier><Text>Letter x</Text></Selection>"
    "<Selection><SelectionIdentifier>y</SelectionIdentifier><Text>Letter y</Text></Selection>"
    "</Selections></SelectionAnswer></AnswerSpecification></Question>"
    "</QuestionForm>"
)
ANSWER_KEY = (
    f'<AnswerKey xmlns="{NS_ANSWER_KEY}">'
    "<Question><QuestionIdentifier>q1</QuestionIdentifier>"
    "<AnswerOption><SelectionIdentifier>b</SelectionIdentifier><AnswerScore>1</AnswerScore></AnswerOption></Question>"
    "<Question><QuestionIdentifier>q2</QuestionIdentifier>"
    "<AnswerOption><SelectionIdentifier>y</SelectionIdentifier><AnswerScore>1</AnswerScore></AnswerOption></Question>"
    "<QualificationValueMapping><PercentageMapping><MaximumSummedScore>2</MaximumSummedScore>"
    "</PercentageMapping></QualificationValueMapping></AnswerKey>"
)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ("/me/assignments", "/me/earnings", "/me/messages", "/me/qualifications")


def csrf_of(page: httpx.Response | str) -> str:
    m = CSRF.search(page if isinstance(page, str) else page.text)
    assert m, page
    return m.group(1)


def sign_in(server) -> tuple[httpx.Client, str]:  # type: ignore[no-untyped-def]
    """A cookie-keeping client signed in as a new web worker, and its WorkerId."""
    wid, username, password = server.web_worker()
    client = httpx.Client(base_url=server.url, timeout=30)
    token = csrf_of(client.get("/login"))
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.text
    return client, wid


def web_accept(client: httpx.Client, hit_id: str) -> str:
    token = csrf_of(client.get("/me/assignments"))
    r = client.post(f"/hits/{hit_id}/accept", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].startswith("/work/"), r.text
    return r.headers["location"].split("/")[2]


def web_do(client: httpx.Client, hit_id: str) -> str:
    aid = web_accept(client, hit_id)
    r = client.post("/mturk/externalSubmit", data={"assignmentId": aid, "answer": "yes"})
    assert r.status_code == 200, r.text
    return aid


def rows_of(page: str, attr: str = "data-assignment") -> list[str]:
    return re.findall(rf'<tr {attr}="([^"]+)"', page)


def new_hit(mturk, **kw) -> str:  # type: ignore[no-untyped-def]
    return mturk.create_hit(**hit_params(**kw))["HIT"]["HITId"]


def test_signed_out_visitors_get_401_and_participants_only_their_assignments(server, requester, mturk):
    anon = httpx.Client(base_url=server.url, timeout=30)
    for path in (*PAGES, "/qualifications/3ABCDEFGHIJ/test"):
        r = anon.get(path)
        assert r.status_code == 401, path
        assert "Sign in first" in r.text
    assert anon.post("/qualifications/3ABCDEFGHIJ/request", data={}).status_code == 403  # no CSRF token

    hit_type = mturk.create_hit(**hit_params())["HIT"]["HITTypeId"]
    study = httpx.Client(base_url=server.url, timeout=30)
    link = server.participant_link(requester, hit_type)
    token = csrf_of(study.get(link))
    assert study.post(link, data={"csrf_token": token}).status_code == 303
    assert study.get("/me/assignments").status_code == 200
    for path in PAGES[1:]:
        assert study.get(path).status_code == 403, path


def test_assignments_by_status_with_feedback_and_time_left(server, mturk):
    client, _ = sign_in(server)
    approved = web_do(client, new_hit(mturk, Title="Approve me"))
    rejected = web_do(client, new_hit(mturk, Title="Reject me"))
    submitted = web_do(client, new_hit(mturk, Title="Wait for me"))
    returned = web_accept(client, new_hit(mturk, Title="Return me"))
    token = csrf_of(client.get("/me/assignments"))
    assert client.post(f"/work/{returned}/return", data={"csrf_token": token}).status_code == 303
    abandoned = web_accept(client, new_hit(mturk, Title="Abandon me", AssignmentDurationInSeconds=30))
    mturk.approve_assignment(AssignmentId=approved, RequesterFeedback="Nice work")
    mturk.reject_assignment(AssignmentId=rejected, RequesterFeedback="<b>Wrong</b> label\nsee the guidelines")
    server.advance(60)  # past the 30 s allotted to `abandoned`
    live_hit = new_hit(mturk, Title="Work on me <i>now</i>")
    live = web_accept(client, live_hit)
    other = server.new_worker()
    foreign = server.accept(other, live_hit)

    page = client.get("/me/assignments")
    assert page.status_code == 200
    text = page.text
    assert set(rows_of(text)) == {approved, rejected, submitted, returned, abandoned, live}
    assert foreign not in text and other.worker_id not in text
    assert rows_of(text)[0] == live  # newest first
    for status, n in {"Accepted": 1, "Submitted": 1, "Approved": 1, "Rejected": 1, "Returned": 1, "Abandoned": 1}.items():
        assert re.search(rf'data-status="{status}"[^>]*>{status} <span class="count">\({n}\)', text), status
    assert "All <span class=\"count\">(6)" in text
    assert "Work on me &lt;i&gt;now&lt;/i&gt;" in text and "<i>now" not in text
    assert f'href="/work/{live}"' in text and "Time left:" in text
    assert f'href="/work/{abandoned}"' not in text

    only = client.get("/me/assignments", params={"status": "Rejected"}).text
    assert rows_of(only) == [rejected]
    assert "&lt;b&gt;Wrong&lt;/b&gt; label\nsee the guidelines" in only and "<b>Wrong" not in only
    assert rows_of(client.get("/me/assignments?status=Abandoned").text) == [abandoned]
    assert rows_of(client.get("/me/assignments?status=Accepted").text) == [live]
    approved_page = client.get("/me/assignments?status=Approved").text
    assert rows_of(approved_page) == [approved] and "Nice work" in approved_page and "$0.50" in approved_page
    assert rows_of(client.get("/me/assignments?status=bogus&page=x").text)  # unknown filter: everything


def test_earnings_show_approved_pending_and_bonuses(server, mturk):
    client, wid = sign_in(server)
    paid = web_do(client, new_hit(mturk, Reward="0.75"))
    web_do(client, new_hit(mturk, Reward="0.20"))  # left Submitted: pending
    mturk.approve_assignment(AssignmentId=paid)
    mturk.send_bonus(WorkerId=wid, AssignmentId=paid, BonusAmount="1.25", Reason="<script>x</script> great job",
                     UniqueRequestToken=f"b-{paid}")
    other = server.new_worker()
    other_aid = server.do_hit(other, new_hit(mturk, Title="Someone else's"))
    mturk.approve_assignment(AssignmentId=other_aid)
    mturk.send_bonus(WorkerId=other.worker_id, AssignmentId=other_aid, BonusAmount="9.00", Reason="not yours",
                     UniqueRequestToken=f"b-{other_aid}")

    text = client.get("/me/earnings").text
    assert re.search(r'id="approved-total"><dt>Approved rewards \(1\)</dt><dd>\$0\.75<', text)
    assert re.search(r'id="pending-total"><dt>Pending review \(1\)</dt><dd>\$0\.20<', text)
    assert re.search(r'id="bonus-total"><dt>Bonuses \(1\)</dt><dd>\$1\.25<', text)
    assert re.search(r'id="grand-total"><dt>Earned in all</dt><dd>\$2\.00<', text)
    assert "&lt;script&gt;x&lt;/script&gt; great job" in text and "<script>x" not in text
    assert "Label an image" in text  # the bonus's HIT title
    assert "not yours" not in text and "$9.00" not in text
    day = re.search(r'<tr data-day="[0-9-]+"><td class="nowrap">[0-9-]+</td><td class="num">\$0\.75 <span class="muted">\(1\)</span></td>'
                    r'<td class="num">\$1\.25</td><td class="num">\$2\.00</td>', text)
    assert day, text


def test_messages_are_escaped_newest_first_and_only_mine(server, mturk):
    client, wid = sign_in(server)
    web_do(client, new_hit(mturk))  # NotifyWorkers reaches only workers who worked for the requester
    other = server.new_worker()
    server.do_hit(other, new_hit(mturk))
    mturk.notify_workers(Subject="First note", MessageText="hello", WorkerIds=[wid])
    mturk.notify_workers(Subject="New <script>alert(1)</script> batch", WorkerIds=[wid],
                         MessageText="Line one\nLine two <script>alert(2)</script>")
    mturk.notify_workers(Subject="Only for the other worker", MessageText="secret", WorkerIds=[other.worker_id])

    text = client.get("/me/messages").text
    assert "<script>alert" not in text
    assert "New &lt;script&gt;alert(1)&lt;/script&gt; batch" in text
    assert '<div class="message-body">Line one\nLine two &lt;script&gt;alert(2)&lt;/script&gt;</div>' in text
    assert text.index("New &lt;script&gt;") < text.index("First note")
    assert "Only for the other worker" not in text and "secret" not in text
    requester_name = re.search(r'class="requester">([^<]+)<', text).group(1)
    assert requester_name.startswith("req-")


def qtype(mturk, name: str, **kw) -> str:  # type: ignore[no-untyped-def]
    params = {"Name": name, "Description": f"About {name}", "QualificationTypeStatus": "Active", **kw}
    return mturk.create_qualification_type(**params)["QualificationType"]["QualificationTypeId"]


def test_qualifications_request_outcomes_search_and_csrf(server, mturk):
    tag = re.sub(r"\W", "", server.new_worker().worker_id)[-6:]  # names unique in this module's server
    auto = qtype(mturk, f"Auto {tag} <b>bold</b>", AutoGranted=True, AutoGrantedValue=7)
    manual = qtype(mturk, f"Manual {tag}", Keywords=f"kw{tag}")
    graded = qtype(mturk, f"Graded {tag}", Test=TEST_XML, AnswerKey=ANSWER_KEY, TestDurationInSeconds=600)
    inactive = qtype(mturk, f"Closed {tag}", QualificationTypeStatus="Inactive")
    client, _ = sign_in(server)
    other, _ = sign_in(server)

    page = client.get("/me/qualifications", params={"q": tag})
    assert page.status_code == 200
    listed = rows_of(page.text, "data-type")
    assert set(listed) == {auto, manual, graded} and inactive not in listed
    assert "Auto " + tag + " &lt;b&gt;bold&lt;/b&gt;" in page.text and "<b>bold" not in page.text
    assert f'href="/qualifications/{graded}/test"' in page.text
    assert f'action="/qualifications/{auto}/request"' in page.text
    assert "Worker_PercentAssignmentsApproved" in page.text and "Worker_NumberHITsApproved" in page.text
    assert rows_of(client.get("/me/qualifications", params={"q": f"kw{tag}"}).text, "data-type") == [manual]
    token = csrf_of(page)

    assert client.post(f"/qualifications/{auto}/request", data={}).status_code == 403  # CSRF token missing
    r = client.post(f"/qualifications/{auto}/request", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].startswith("/me/qualifications?msg=")
    shown = client.get(r.headers["location"]).text
    assert f"Granted: “Auto {tag} &lt;b&gt;bold&lt;/b&gt;”, with the value 7." in shown
    r = client.post(f"/qualifications/{manual}/request", data={"csrf_token": token}, follow_redirects=True)
    assert f"Requested: “Manual {tag}” is pending the requester" in html.unescape(r.text)
    r = client.post(f"/qualifications/{manual}/request", data={"csrf_token": token}, follow_redirects=True)
    assert r.status_code == 200 and "Not requested: You already have a pending request" in r.text
    r = client.post(f"/qualifications/{graded}/request", data={"csrf_token": token, "q1": "a", "q2": "y"},
                    follow_redirects=True)
    assert f"Granted: “Graded {tag}”, with a score of 50." in html.unescape(r.text)
    r = client.post(f"/qualifications/{inactive}/request", data={"csrf_token": token}, follow_redirects=True)
    assert "Not requested: " in r.text and "Inactive" in r.text
    assert client.post("/qualifications/3NOSUCHTYPE000000000/request", data={"csrf_token": token}).status_code == 404
    r = client.post(f"/qualifications/{auto}/request", data={"csrf_token": token}, follow_redirects=True)
    assert "Not requested: " in r.text and "only once" in r.text

    text = client.get("/me/qualifications", params={"q": tag}).text
    held = text[text.index('id="held"'):text.index('id="requests"')]
    assert auto in held and graded in held and manual not in held
    requests = text[text.index('id="requests"'):text.index('id="requestable"')]
    assert re.search(rf'data-type="{graded}">.*?Score: <strong>50</strong>', requests, re.DOTALL)
    assert re.search(rf'data-type="{manual}">.*?Pending', requests, re.DOTALL)
    assert "Request pending" in text and "Requested (one try only)" in text

    other_text = other.get("/me/qualifications", params={"q": tag}).text
    assert 'data-request="' not in other_text and "Score:" not in other_text

    # A test answered badly (a required question left out) comes back with the reason; nothing is recorded.
    bad = other.post(f"/qualifications/{graded}/request", data={"csrf_token": csrf_of(other_text), "q1": "b"})
    assert bad.status_code == 400 and "Not submitted:" in bad.text and 'name="q2"' in bad.text
    assert 'data-request="' not in other.get("/me/qualifications").text
    # System types and unknown ids are not requestable; a test page for a type without a test points back.
    assert client.get("/qualifications/00000000000000000071/test").status_code == 409
    assert client.get("/qualifications/3NOSUCHTYPE000000000/test").status_code == 404
    assert client.get("/qualifications/bad%00id/test").status_code == 404
    r = client.get(f"/qualifications/{manual}/test")
    assert r.status_code == 303 and "has%20no%20test" in r.headers["location"]
    # Having used up its one try, the test page shows why instead of a submit button.
    retake = client.get(f"/qualifications/{graded}/test").text
    assert "You cannot take this test now" in retake and 'id="submit"' not in retake


def test_browser_takes_a_graded_test(server, mturk):
    graded = qtype(mturk, "Letters quiz", Test=TEST_XML, AnswerKey=ANSWER_KEY, TestDurationInSeconds=300,
                   Keywords="letters")
    _, username, password = server.web_worker()
    with chromium_page() as page:
        page.set_viewport_size({"width": 360, "height": 740})
        page.goto(f"{server.url}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.goto(f"{server.url}/me/qualifications?q=letters")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # fits 360 px
        screenshot(page, "me-qualifications-360px")
        page.click(f"tr[data-type='{graded}'] a:has-text('Take the test')")
        page.wait_for_selector("#test-form")
        assert "Two quick questions <script>alert(1)</script>" in page.inner_text("main")  # shown as text
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.check("input[name=q1][value=b]")
        page.check("input[name=q2][value=y]")
        screenshot(page, "me-qualification-test")
        page.click("#submit")
        page.wait_for_url("**/me/qualifications?msg=*")
        assert "Granted: “Letters quiz”, with a score of 100." in page.inner_text(".flash")
        row = page.locator(f"#requests tr[data-type='{graded}']")
        assert "Score: 100" in row.inner_text()
        assert graded in page.inner_html("#held")
        screenshot(page, "me-qualification-granted")
        for path in ("/me/assignments", "/me/earnings", "/me/messages"):
            page.goto(server.url + path)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
            screenshot(page, path.replace("/me/", "me-") + "-360px")
