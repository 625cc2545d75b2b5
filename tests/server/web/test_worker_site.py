"""The worker site over HTTP, as a browser without JavaScript uses it: accounts (invitations, open sign-up,
login, sessions, CSRF), HIT groups with the reasons a worker cannot do them, preview, accept, skip, return,
participant links with completion codes, and that workers only ever see and act on their own assignments."""

from __future__ import annotations

import re

import pytest

from tests.conftest import hit_params
from tests.support.web import SiteClient


@pytest.fixture()
def site(server):  # type: ignore[no-untyped-def]
    client = SiteClient(server.url)
    yield client
    client.close()


def signed_in(server) -> tuple[SiteClient, str]:  # type: ignore[no-untyped-def]
    worker_id, username, password = server.web_worker()
    client = SiteClient(server.url)
    client.login(username, password)
    return client, worker_id


def _group_block(page: str, hit_type_id: str) -> str:
    m = re.search(rf'<li class="group" data-hit-type="{hit_type_id}">(.*?)</li>', page, re.S)
    assert m, f"group {hit_type_id} not listed"
    return m.group(1)


# ---------------------------------------------------------------- accounts


def test_invitation_link_creates_an_account_once(server, site):
    link = server.invite(uses=1).replace(server.url, "")
    r = site.get(link)
    assert r.status_code == 200 and "Create your worker account" in r.text
    r = site.post(link, {"username": "Invited_1", "password": "longenough", "password_again": "longenough"})
    assert r.status_code == 303
    assert "hitkit_session" in r.cookies
    home = site.get("/")
    worker_id = re.search(r'title="Your WorkerId">(A[0-9A-Z]{13})<', home.text).group(1)
    assert len(worker_id) == 14  # 'A' + 13, like MTurk's
    other = SiteClient(server.url)
    r = other.get(link)
    assert r.status_code == 410 and "already been used" in r.text
    other.close()


def test_signup_form_errors_name_the_problem(server, site):
    link = server.invite(uses=5).replace(server.url, "")
    site.get(link)
    r = site.post(link, {"username": "x", "password": "longenough", "password_again": "longenough"})
    assert r.status_code == 400 and "3 to 64 characters" in r.text
    r = site.post(link, {"username": "shortpw", "password": "short", "password_again": "short"})
    assert r.status_code == 400 and "at least 8" in r.text
    r = site.post(link, {"username": "mismatch", "password": "longenough", "password_again": "longenougher"})
    assert r.status_code == 400 and "differ" in r.text
    _, taken, _ = server.web_worker()
    r = site.post(link, {"username": taken.upper(), "password": "longenough", "password_again": "longenough"})
    assert r.status_code == 400 and "taken" in r.text


def test_open_signup_is_off_until_the_admin_turns_it_on(server, site):
    assert site.get("/signup").status_code == 403
    server.set_open_signup(True)
    try:
        assert site.get("/signup").status_code == 200
        r = site.post("/signup", {"username": "open-joiner", "password": "longenough", "password_again": "longenough"})
        assert r.status_code == 303
    finally:
        server.set_open_signup(False)


def test_login_logout_and_wrong_password(server, site):
    _, username, password = server.web_worker()
    site.get("/login")
    r = site.post("/login", {"username": username, "password": "wrong password"})
    assert r.status_code == 401 and "username or password is wrong" in r.text
    r = site.post("/login", {"username": "nobody-here", "password": "wrong password"})
    assert r.status_code == 401 and "username or password is wrong" in r.text
    site.login(username, password)
    assert "Sign out" in site.get("/").text
    r = site.post("/logout")
    assert r.status_code == 303
    assert "Sign out" not in site.get("/").text


def test_login_issues_a_new_session_id(server, site):
    """Session fixation: a session id planted before login is never the one that gets signed in."""
    _, username, password = server.web_worker()
    site.http.cookies.set("hitkit_session", "planted-by-an-attacker-0123456789")
    site.get("/login")
    r = site.post("/login", {"username": username, "password": password})
    assert r.status_code == 303
    assert r.cookies["hitkit_session"] != "planted-by-an-attacker-0123456789"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_every_form_needs_its_csrf_token(server, mturk):
    client, _ = signed_in(server)
    hit = mturk.create_hit(**hit_params())["HIT"]
    for path in (f"/hits/{hit['HITId']}/accept", f"/groups/{hit['HITTypeId']}/accept", f"/hits/{hit['HITId']}/skip",
                 "/logout", "/settings/auto-accept", "/login"):
        r = client.post(path, csrf=False)
        assert r.status_code == 403, path
        assert "security token" in r.text
        r = client.post(path, {"csrf_token": "0" * 64})
        assert r.status_code == 403, path
    r = client.post(f"/hits/{hit['HITId']}/accept", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "another site" in r.text
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["NumResults"] == 0
    client.close()


def test_pages_send_security_headers(server, site):
    r = site.get("/login")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


# ---------------------------------------------------------------- the marketplace


def test_groups_show_what_a_worker_needs_to_know(server, mturk, requester):
    client, _ = signed_in(server)
    hit = mturk.create_hit(**hit_params(Title="Count <b>the</b> birds", Reward="0.35", MaxAssignments=2,
                                        AssignmentDurationInSeconds=900))["HIT"]
    mturk.create_hit(**hit_params(Title="Count <b>the</b> birds", Reward="0.35", MaxAssignments=2,
                                  AssignmentDurationInSeconds=900))
    page = client.get("/").text
    block = _group_block(page, hit["HITTypeId"])
    assert "Count &lt;b&gt;the&lt;/b&gt; birds" in block  # escaped, never markup
    assert "$0.35" in block and "15 min" in block
    assert re.search(r'class="available">2<', block)
    assert "Accept &amp; work" in block
    client.close()


def test_search_and_sort(server, mturk):
    client, _ = signed_in(server)
    cheap = mturk.create_hit(**hit_params(Title="Zebra stripes survey", Reward="0.05", Keywords="zebra"))["HIT"]
    rich = mturk.create_hit(**hit_params(Title="Zebra habitat survey", Reward="2.00", Keywords="zebra"))["HIT"]
    page = client.get("/", params={"q": "zebra", "sort": "reward"}).text
    assert page.index(rich["HITTypeId"]) < page.index(cheap["HITTypeId"])
    page = client.get("/", params={"q": "zebra stripes"}).text
    assert cheap["HITTypeId"] in page and rich["HITTypeId"] not in page
    assert "matching" in page
    page = client.get("/", params={"q": "100%_no_such"}).text
    assert "No HITs are available" in page
    client.close()


def _qual_type(mturk, name: str) -> str:  # type: ignore[no-untyped-def]
    return mturk.create_qualification_type(Name=name, Description="d", QualificationTypeStatus="Active")[
        "QualificationType"]["QualificationTypeId"]


def test_reasons_a_worker_cannot_do_a_group(server, mturk):
    client, worker_id = signed_in(server)
    qt = _qual_type(mturk, "Bird expert")

    def req(guard: str) -> list[dict]:
        return [{"QualificationTypeId": qt, "Comparator": "Exists", "ActionsGuarded": guard}]

    accept_only = mturk.create_hit(**hit_params(Title="Guarded accept", QualificationRequirements=req("Accept")))["HIT"]
    preview_too = mturk.create_hit(**hit_params(Title="Guarded preview", QualificationRequirements=req("PreviewAndAccept")))["HIT"]
    hidden = mturk.create_hit(**hit_params(Title="Guarded discover", QualificationRequirements=req("DiscoverPreviewAndAccept")))["HIT"]
    page = client.get("/").text
    block = _group_block(page, accept_only["HITTypeId"])
    assert "Bird expert" in block and "Preview</a>" in block and "Accept &amp; work" not in block
    block = _group_block(page, preview_too["HITTypeId"])
    assert "Bird expert" in block and "Preview</a>" not in block
    assert hidden["HITTypeId"] not in page
    preview = client.get(f"/hits/{preview_too['HITId']}").text
    assert "Bird expert" in preview and "<iframe" not in preview
    preview = client.get(f"/hits/{accept_only['HITId']}").text
    assert "<iframe" in preview and 'id="accept"' not in preview
    r = client.post(f"/hits/{accept_only['HITId']}/accept")
    assert r.status_code == 403 and "Bird expert" in r.text

    mturk.associate_qualification_with_worker(QualificationTypeId=qt, WorkerId=worker_id, IntegerValue=1, SendNotification=False)
    page = client.get("/").text
    assert hidden["HITTypeId"] in page
    assert "Accept &amp; work" in _group_block(page, preview_too["HITTypeId"])
    client.close()


def test_blocked_already_done_expired_and_full(server, mturk):
    client, worker_id = signed_in(server)
    other, _ = signed_in(server)
    hit = mturk.create_hit(**hit_params(Title="Once only", MaxAssignments=2))["HIT"]
    aid = client.accept(hit["HITId"])
    assert "already accepted or done every HIT" in _group_block(client.get("/").text, hit["HITTypeId"])
    r = client.post(f"/hits/{hit['HITId']}/accept")
    assert r.status_code == 409 and "already accepted" in r.text
    client.post(f"/work/{aid}/return")

    full = mturk.create_hit(**hit_params(Title="Just one slot", MaxAssignments=1))["HIT"]
    other.accept(full["HITId"])
    assert "no slots are left" in client.get(f"/hits/{full['HITId']}").text

    gone = mturk.create_hit(**hit_params(Title="Soon gone"))["HIT"]
    mturk.update_expiration_for_hit(HITId=gone["HITId"], ExpireAt=0)
    assert "expired" in client.get(f"/hits/{gone['HITId']}").text

    mturk.create_worker_block(WorkerId=worker_id, Reason="spam")
    page = client.get("/").text
    assert "prevent you from working on their HITs" in _group_block(page, hit["HITTypeId"])
    client.close()
    other.close()


def test_skipped_hits_come_last(server, mturk):
    client, _ = signed_in(server)
    first = mturk.create_hit(**hit_params(Title="Skippable"))["HIT"]
    second = mturk.create_hit(**hit_params(Title="Skippable"))["HIT"]
    third = mturk.create_hit(**hit_params(Title="Skippable"))["HIT"]
    group = f"/groups/{first['HITTypeId']}"
    assert first["HITId"] in client.get(group).text
    r = client.post(f"/hits/{first['HITId']}/skip")
    assert r.status_code == 303
    assert second["HITId"] in client.get(r.headers["location"]).text
    client.post(f"/hits/{second['HITId']}/skip")
    assert third["HITId"] in client.get(group).text
    client.post(f"/hits/{third['HITId']}/skip")
    assert first["HITId"] in client.get(group).text  # all skipped: the oldest skip comes round first
    r = client.post(f"/groups/{first['HITTypeId']}/accept")
    assert r.status_code == 303
    client.close()


def test_accept_work_return_and_done(server, mturk):
    client, worker_id = signed_in(server)
    hit = mturk.create_hit(**hit_params(MaxAssignments=1))["HIT"]
    aid = client.accept(hit["HITId"])
    page = client.get(f"/work/{aid}").text
    src = re.search(r'<iframe[^>]*src="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert src.startswith(f"/task/a/{aid}?assignmentId={aid}&hitId={hit['HITId']}&workerId={worker_id}&turkSubmitTo=")
    assert 'sandbox="allow-scripts allow-forms' in page and "allow-same-origin" not in page
    assert 'style="height: 450px"' in page  # FrameHeight
    assert "data-seconds-left" in page
    r = client.post(f"/work/{aid}/return")
    assert r.status_code == 303 and "returned" in r.headers["location"]
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"])["NumResults"] == 0
    aid = client.accept(hit["HITId"])
    r = client.http.post("/mturk/externalSubmit", data={"assignmentId": aid, "answer": "yes"})
    assert r.status_code == 200 and f"data-submitted='{aid}'" in r.text
    r = client.get(f"/work/{aid}")
    assert r.status_code == 303 and r.headers["location"] == f"/work/{aid}/done"
    assert "Submitted" in client.get(f"/work/{aid}/done").text
    client.close()


def test_a_worker_sees_and_acts_only_on_its_own_assignments(server, mturk):
    alice, _ = signed_in(server)
    bob, _ = signed_in(server)
    hit = mturk.create_hit(**hit_params())["HIT"]
    aid = alice.accept(hit["HITId"])
    assert bob.get(f"/work/{aid}").status_code == 404
    assert bob.get(f"/work/{aid}/done").status_code == 404
    assert bob.post(f"/work/{aid}/return").status_code == 404
    assert bob.get("/work/NOTANASSIGNMENT' OR 1=1 --").status_code == 404
    assert alice.get(f"/work/{aid}").status_code == 200
    assert SiteClient(server.url).get(f"/work/{aid}").status_code == 401
    assert mturk.list_assignments_for_hit(HITId=hit["HITId"], AssignmentStatuses=["Submitted"])["NumResults"] == 0
    alice.close()
    bob.close()


def test_task_content_is_sandboxed_and_rewritten(server, mturk):
    question = hit_params()["Question"].replace(
        "<head>", '<head><script src="https://s3.amazonaws.com/mturk-public/externalHIT_v1.js"></script>'
                  '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>').replace(
        "https://www.mturk.com/mturk/externalSubmit", "https://workersandbox.mturk.com/mturk/externalSubmit")
    hit = mturk.create_hit(**hit_params(Question=question))["HIT"]
    client, _ = signed_in(server)
    aid = client.accept(hit["HITId"])
    r = client.get(f"/task/a/{aid}")
    assert r.status_code == 303  # the parameters templates read are put into the URL
    r = client.get(r.headers["location"])
    assert r.headers["content-security-policy"].startswith("sandbox allow-scripts")
    assert "allow-same-origin" not in r.headers["content-security-policy"]
    assert f'action="{server.url}/mturk/externalSubmit"' in r.text
    assert 'src="/static/externalHIT_v1.js"' in r.text and 'src="/static/crowd-html-elements.js"' in r.text
    assert "mturk.com" not in r.text and "crowd.aws" not in r.text
    r = client.get(f"/task/p/{hit['HITId']}", follow_redirects=True)
    assert "assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE" in str(r.url) and "workerId" not in str(r.url)
    client.http.post("/mturk/externalSubmit", data={"assignmentId": aid, "answer": "x"})
    assert client.get(f"/task/a/{aid}").status_code == 410
    client.close()


def test_external_question_frame_gets_the_mturk_parameters(server, mturk):
    url = "https://tasks.example.org/label?item=17&assignmentId=stale"
    question = ('<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
                f'ExternalQuestion.xsd"><ExternalURL>{url.replace("&", "&amp;")}</ExternalURL><FrameHeight>0</FrameHeight></ExternalQuestion>')
    hit = mturk.create_hit(**hit_params(Question=question))["HIT"]
    client, worker_id = signed_in(server)
    preview = client.get(f"/hits/{hit['HITId']}").text
    src = re.search(r'<iframe[^>]*src="([^"]+)"', preview).group(1).replace("&amp;", "&")
    assert src.startswith("https://tasks.example.org/label?item=17&assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=")
    assert "workerId" not in src and "class=\"task fill\"" in preview  # FrameHeight 0: fill the window
    aid = client.accept(hit["HITId"])
    src = re.search(r'<iframe[^>]*src="([^"]+)"', client.get(f"/work/{aid}").text).group(1).replace("&amp;", "&")
    assert f"assignmentId={aid}&hitId={hit['HITId']}&workerId={worker_id}&turkSubmitTo=http%3A%2F%2F127.0.0.1" in src
    client.close()


# ---------------------------------------------------------------- participant links


def test_participant_link_gives_a_study_identity_and_a_completion_code(server, mturk, requester):
    study = mturk.create_hit(**hit_params(Title="Memory study", MaxAssignments=5))["HIT"]
    other = mturk.create_hit(**hit_params(Title="Unrelated task"))["HIT"]
    link = server.participant_link(requester, study["HITTypeId"], completion_code="C0DE42").replace(server.url, "")
    visitor = SiteClient(server.url)
    r = visitor.get(link)
    assert r.status_code == 200 and "Start" in r.text
    r = visitor.post(link)
    assert r.status_code == 303 and r.headers["location"] == f"/groups/{study['HITTypeId']}"
    assert "max-age=15552000" in r.headers["set-cookie"].lower()
    page = visitor.get("/").text
    assert study["HITTypeId"] in page and other["HITTypeId"] not in page
    assert visitor.get(f"/groups/{other['HITTypeId']}").status_code == 403
    assert visitor.post(f"/hits/{other['HITId']}/accept").status_code == 403
    aid = visitor.accept(study["HITId"])
    assert "C0DE42" not in visitor.get(f"/work/{aid}").text
    visitor.http.post("/mturk/externalSubmit", data={"assignmentId": aid, "answer": "done"})
    worker_id = mturk.get_assignment(AssignmentId=aid)["Assignment"]["WorkerId"]
    assert re.fullmatch(r"A[0-9A-Z]{13}", worker_id)
    done = visitor.get(f"/work/{aid}/done").text
    assert 'id="completion-code">C0DE42<' in done
    # The same browser opening the link again goes straight back to the study, as the same worker.
    r = visitor.get(link)
    assert r.status_code == 303 and r.headers["location"] == f"/groups/{study['HITTypeId']}"
    visitor.close()
    assert SiteClient(server.url).get("/p/no-such-link").status_code == 404


def test_unknown_pages_and_bad_ids_are_clear_pages_not_errors(server, site):
    r = site.get("/no/such/page")
    assert r.status_code == 404 and "There is no page at /no/such/page" in r.text
    assert site.get("/hits/%00nul").status_code == 404
    assert site.get("/groups/" + "x" * 5000).status_code in (303, 404)
    assert site.get("/task/a/NOPE").status_code == 404
    assert site.get("/task/p/NOPE").status_code == 404
    assert site.get("/task/a/%00").status_code == 404 and site.get("/task/p/%00").status_code == 404
    assert site.get("/work/%00").status_code == 401
    assert site.get("/p/%00").status_code == 404
    assert site.get("/?page=-3&sort=nonsense&q=" + "%" * 300).status_code == 200


def test_groups_are_paged(server, mturk):
    client, _ = signed_in(server)
    for i in range(27):
        mturk.create_hit(**hit_params(Title=f"Paged task {i:02d}", Keywords="pagedbatch"))
    first = client.get("/", params={"q": "pagedbatch", "sort": "title"}).text
    assert first.count('<li class="group"') == 25 and "Page 1 of 2" in first
    assert 'href="/?q=pagedbatch&amp;sort=title&amp;page=2">Next' in first
    second = client.get("/", params={"q": "pagedbatch", "sort": "title", "page": "2"}).text
    assert second.count('<li class="group"') == 2 and "Paged task 26" in second and "Paged task 00" not in second
    client.close()
