"""The console and administration in a real browser (Debian's Chromium through Playwright): an admin signs in,
creates a requester with funds and a console login, and makes an invitation; a worker joins with it and does the
requester's HIT; the requester signs in to the console, rotates its key and uses the new one with boto3, and
downloads the earnings CSV. Then every main page at 360x740 with no horizontal scroll. Screenshots go to
tests/artifacts/."""

from __future__ import annotations

import csv
import io
import re

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import hit_params
from tests.server.web.staff_support import PASSWORD, admin_login, requester_login
from tests.support.browser import chromium_page, screenshot

HTML_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
QUESTION = (f'<HTMLQuestion xmlns="{HTML_NS}"><HTMLContent><![CDATA[<!DOCTYPE html><html><head><meta charset="utf-8"/>'
            '</head><body><form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">'
            '<input type="hidden" value="" name="assignmentId" id="assignmentId"/>'
            '<p>Label <input name="label" id="label"></p><input type="submit" id="submitButton" value="Submit"></form>'
            '<script src="https://s3.amazonaws.com/mturk-public/externalHIT_v1.js"></script>'
            '<script>turkSetAssignmentID();</script></body></html>]]></HTMLContent><FrameHeight>300</FrameHeight></HTMLQuestion>')


def _mturk(server, key: str, secret: str):  # type: ignore[no-untyped-def]
    return boto3.client("mturk", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def _sign_in(page, server, area: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}{area}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server.url}{area}/")


def _no_horizontal_scroll(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_admin_requester_worker_flow(server, tmp_path):
    _, admin_name = admin_login(server)
    with chromium_page() as page:
        page.on("dialog", lambda dialog: dialog.accept())
        # The admin signs in, creates a requester with funds and a console login, and makes an invitation.
        page.goto(server.url + "/admin/login")
        screenshot(page, "admin-login")
        _sign_in(page, server, "/admin", admin_name, PASSWORD)
        screenshot(page, "admin-overview")
        page.click("nav >> text=Requesters")
        page.fill("#new-requester input[name=name]", "Browser Lab")
        page.fill("#new-requester input[name=funds]", "40.00")
        page.fill("#new-requester input[name=username]", "browser-lab")
        page.fill("#new-requester input[name=password]", "browser lab password")
        page.click("#new-requester button[type=submit]")
        created = page.locator("#created")
        key = created.locator("code.secret").first.inner_text().strip()
        secret = page.locator("#new-secret").inner_text().strip()
        screenshot(page, "admin-requester-created")
        mturk = _mturk(server, key, secret)
        assert mturk.get_account_balance()["AvailableBalance"] == "40.00"
        page.click("text=Open Browser Lab")
        page.fill("#add-funds input[name=amount]", "10")
        page.click("#add-funds button[type=submit]")
        assert "$50.00" in page.locator("#available").inner_text()
        screenshot(page, "admin-requester")
        page.click("nav >> text=Invitations")
        page.fill("#new-invitation input[name=note]", "browser worker")
        page.click("#new-invitation button[type=submit]")
        link = page.locator("#invitation-link").inner_text().strip()
        assert link.startswith(server.url + "/join/")
        screenshot(page, "admin-invitation")
        page.click("nav >> text=Health")
        assert "reachable" in page.locator("#health").inner_text()
        screenshot(page, "admin-health")

        # A worker joins with the invitation (in a browser context of their own) and does the requester's HIT.
        hit = mturk.create_hit(**hit_params(Title="Label the thing", Reward="0.75", MaxAssignments=1, Question=QUESTION))["HIT"]
        worker_ctx = page.context.browser.new_context()
        wpage = worker_ctx.new_page()
        wpage.goto(link)
        wpage.fill("input[name=username]", "browser-worker")
        wpage.fill("input[name=password]", "a worker password")
        wpage.fill("input[name=password_again]", "a worker password")
        wpage.click("main button[type=submit]")
        wpage.wait_for_url(server.url + "/?msg=*")
        wpage.goto(f"{server.url}/hits/{hit['HITId']}")
        wpage.click("#accept")
        wpage.wait_for_url("**/work/*")
        aid = wpage.url.split("/work/")[1].split("/")[0].split("?")[0]
        frame = wpage.frame_locator("iframe.task")
        frame.locator("#label").fill("<script>alert('x')</script>")
        frame.locator("#submitButton").click()
        wpage.wait_for_url(f"**/work/{aid}/done")
        worker_id = re.search(r"A[0-9A-Z]{13}", wpage.locator("header .who").inner_text()).group(0)
        worker_ctx.close()
        mturk.approve_assignment(AssignmentId=aid)

        # The requester signs in to the console (own context), rotates its key, uses the new one.
        req_ctx = page.context.browser.new_context(accept_downloads=True)
        rpage = req_ctx.new_page()
        rpage.on("dialog", lambda dialog: dialog.accept())
        _sign_in(rpage, server, "/console", "browser-lab", "browser lab password")
        screenshot(rpage, "console-overview")
        rpage.click("nav >> text=API keys")
        rpage.locator(f"li[data-key='{key}'] button:has-text('Rotate')").click()
        new_key = rpage.locator("#new-key-id").inner_text().strip()
        new_secret = rpage.locator("#new-key-secret").inner_text().strip()
        screenshot(rpage, "console-key-rotated")
        assert new_key != key
        assert _mturk(server, new_key, new_secret).get_account_balance()["AvailableBalance"] == "49.10"
        with pytest.raises(ClientError):
            _mturk(server, key, secret).get_account_balance()
        rpage.reload()  # the secret is shown once
        assert new_secret not in rpage.content()

        # Funds: the ledger and the earnings CSV.
        rpage.click("nav >> text=Funds")
        assert "reward" in rpage.locator("#ledger").inner_text()
        screenshot(rpage, "console-funds")
        with rpage.expect_download() as download:
            rpage.click("#earnings button[type=submit]")
        path = tmp_path / "earnings.csv"
        download.value.save_as(path)
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
        assert rows == [{**rows[0], "WorkerId": worker_id, "ApprovedAssignments": "1", "Rewards": "0.75", "Total": "0.75"}]

        # Workers: the worker's stats, a message.
        rpage.click("nav >> text=Workers")
        assert worker_id in rpage.locator("#worker-stats").inner_text()
        screenshot(rpage, "console-workers")
        rpage.click(f"text={worker_id}")
        rpage.fill("#message input[name=subject]", "Thanks")
        rpage.fill("#message textarea[name=body]", "Nice labels.")
        rpage.click("#message button[type=submit]")
        assert "Message sent" in rpage.locator(".flash").inner_text()
        screenshot(rpage, "console-worker")
        rpage.click("nav >> text=Qualifications")
        rpage.fill("#new-qualification input[name=name]", "Careful labeller")
        rpage.fill("#new-qualification textarea[name=description]", "Labels carefully")
        rpage.click("#new-qualification button[type=submit]")
        rpage.wait_for_url("**/console/qualifications/*")
        screenshot(rpage, "console-qualification")
        req_ctx.close()


def test_pages_fit_a_360_px_screen(server):
    requester, username = requester_login(server)
    _, admin_name = admin_login(server)
    mturk = server.client(requester)
    worker = server.new_worker()
    hit = mturk.create_hit(**hit_params(MaxAssignments=1))["HIT"]
    aid = server.do_hit(worker, hit["HITId"])
    mturk.approve_assignment(AssignmentId=aid)
    mturk.create_qualification_type(Name="A rather long qualification name for a small screen",
                                    Description="d " * 80, QualificationTypeStatus="Active")
    with chromium_page() as page:
        page.set_viewport_size({"width": 360, "height": 740})
        page.goto(server.url + "/console/login")
        assert _no_horizontal_scroll(page)
        screenshot(page, "console-mobile-login")
        _sign_in(page, server, "/console", username, PASSWORD)
        page.goto(server.url + "/console/keys")
        page.click("#create-key button")  # a long secret on the page
        assert _no_horizontal_scroll(page)
        screenshot(page, "console-mobile-keys")
        for path, name in (("/console/", "console-mobile-overview"), ("/console/funds", "console-mobile-funds"),
                           ("/console/workers", "console-mobile-workers"),
                           (f"/console/workers/{worker.worker_id}", "console-mobile-worker"),
                           ("/console/qualifications", "console-mobile-qualifications")):
            page.goto(server.url + path)
            assert _no_horizontal_scroll(page), path
            screenshot(page, name)
        _sign_in(page, server, "/admin", admin_name, PASSWORD)
        page.goto(server.url + "/admin/requesters")
        page.fill("#new-requester input[name=name]", "Mobile Lab")
        page.click("#new-requester button[type=submit]")
        assert _no_horizontal_scroll(page)
        screenshot(page, "admin-mobile-requester-created")
        for path, name in (("/admin/", "admin-mobile-overview"), ("/admin/workers", "admin-mobile-workers"),
                           (f"/admin/requesters/{requester.requester_id}", "admin-mobile-requester"),
                           ("/admin/invitations", "admin-mobile-invitations"), ("/admin/settings", "admin-mobile-settings"),
                           ("/admin/health", "admin-mobile-health")):
            page.goto(server.url + path)
            assert _no_horizontal_scroll(page), path
            screenshot(page, name)
