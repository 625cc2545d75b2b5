"""A whole project from the browser (Debian's Chromium through Playwright): a requester signs in, starts a project
from the text-classification template, edits it with the live preview following the keystrokes, uploads a CSV
(one cell holds a script tag), steps through the preview carousel with the arrow keys, sees the cost and
publishes; a simulated crowd does every HIT; the requester watches the progress chart, reviews with the keyboard
(approve, reject with feedback, bonus), approves the rest in bulk and downloads the results CSV. Then each page at
360x740 with no horizontal scroll. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import csv
import io

from hitkit.crowd.models import Profile, WorkerModel
from hitkit.crowd.simulate import Crowd, SimWorker
from tests.server.web.staff_support import PASSWORD, requester_login
from tests.support.browser import chromium_page, screenshot

SCRIPT = "<script>window.pwned = 1</script>"
ROWS = ["Where is my parcel?", "The app crashes on start.", "Thanks, great support!", SCRIPT,
        "Can I change my plan?", "Refund me now."]


def _no_horizontal_scroll(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def _flash(page) -> str:  # type: ignore[no-untyped-def]
    return page.locator("p.flash").all_inner_texts()


def test_project_to_results_in_the_browser(server, tmp_path):
    requester, username = requester_login(server, balance_cents=5_000)
    items = tmp_path / "tickets.csv"
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["text"])
    w.writerows([r] for r in ROWS)
    items.write_text(buf.getvalue())

    with chromium_page() as page:
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(server.url + "/console/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(server.url + "/console/")

        # A project from a built-in template.
        page.click("nav >> text=Projects")
        page.fill("#new-project input[name=name]", "Support tickets")
        page.select_option("#new-project select[name=start]", "text-classification")
        page.click("#new-project button[type=submit]")
        page.wait_for_selector("#project-form")
        frame = page.frame_locator("#preview-frame")
        frame.locator("main").wait_for()
        # The live preview follows the editor before anything is saved.
        page.fill("#project-form input[name=title]", "Label a support ticket")
        source = page.input_value("#template-source")
        page.fill("#template-source", source.replace("What kind of message is this?", "Which kind of ticket is this?"))
        frame.locator("text=Which kind of ticket is this?").wait_for()
        page.fill("#sample-row", '{"text": "A sample ticket"}')
        frame.locator("text=A sample ticket").wait_for()
        screenshot(page, "console-project-editor")
        page.fill("#project-form input[name=reward]", "0.10")
        page.fill("#project-form input[name=assignments]", "3")
        page.click("#project-form button[type=submit]")
        page.wait_for_selector("text=Saved.")

        # Upload: every row checked, then the carousel with the cost.
        page.set_input_files("#upload-form input[type=file]", str(items))
        page.click("#upload-form button[type=submit]")
        page.wait_for_selector("#carousel")
        assert "Every row checks out" in " ".join(_flash(page))
        assert page.inner_text("#cost-total") == "$2.16"  # 6 rows x 3 x ($0.10 + $0.02)
        row_frame = page.frame_locator("#row-frame")
        row_frame.locator("text=Where is my parcel?").wait_for()
        for n in (2, 3, 4):
            page.keyboard.press("ArrowRight")
            page.wait_for_url(f"**row={n}#carousel")
        row_frame.locator(".item").wait_for()
        assert row_frame.locator(".item").inner_text().strip() == SCRIPT  # shown as text, not run
        assert page.evaluate("window.pwned") is None
        screenshot(page, "console-batch-preview")
        page.click("#publish-form button[type=submit]")
        page.wait_for_selector("#progress")
        assert "6 HITs created" in " ".join(_flash(page))

        # A simulated crowd does every HIT.
        models = [WorkerModel(accuracy=0.9)] * 3
        sims = []
        for k, m in enumerate(models):
            wk = server.new_worker()
            sims.append(SimWorker(f"w{k}", wk.worker_id, wk.token, m))
        crowd = Crowd(server.url, sims, Profile(models), seed=5)
        try:
            report = crowd.run(until_done=True)
        finally:
            crowd.close()
        assert report.errors == [] and report.submitted == 18

        page.reload()
        assert "18 of 18 assignments" in page.inner_text("#progress-counts")
        assert page.locator("#submissions-chart rect").count() >= 1
        page.frame_locator("#row-frame").locator("text=Where is my parcel?").wait_for()
        screenshot(page, "console-batch-progress")

        # Review with the keyboard.
        page.click("#review-link")
        page.wait_for_selector("#review-items")
        assert page.evaluate("window.pwned") is None
        assert page.locator(".aggregated").count() == 6
        page.keyboard.press("j")
        first = page.locator("li.answer.current").get_attribute("data-assignment")
        page.keyboard.press("a")
        page.wait_for_selector("p.flash")
        assert "Approved 1 assignment" in " ".join(_flash(page))
        page.keyboard.press("j")
        page.keyboard.press("j")
        rejected = page.locator("li.answer.current").get_attribute("data-assignment")
        page.keyboard.press("r")
        page.keyboard.type("The label does not fit the text.")
        page.keyboard.press("Enter")
        page.wait_for_url("**msg=Rejected**")
        page.keyboard.press("j")
        bonused = page.locator("li.answer.current").get_attribute("data-assignment")
        assert bonused == first  # the approved one comes first again
        page.keyboard.press("b")
        current = page.locator("li.answer.current")
        current.locator("input[name=reason]").fill("Thanks for the careful work")
        current.locator("input.amount").fill("0.25")
        current.locator("input.amount").press("Enter")
        page.wait_for_url("**msg=Bonus**")
        screenshot(page, "console-review")
        page.check("#select-all")
        page.keyboard.press("A")
        page.wait_for_url("**msg=Approved**")
        assert "Approved 16 assignments. Refused 2" in " ".join(_flash(page))  # never overrides a rejection in bulk
        mturk = server.client(requester)
        assert mturk.get_assignment(AssignmentId=rejected)["Assignment"]["AssignmentStatus"] == "Rejected"
        assert mturk.list_bonus_payments(AssignmentId=bonused)["NumResults"] == 1

        # The results CSV.
        page.goto(page.url.split("/review")[0])
        with page.expect_download() as download:
            page.click("#results-link")
        table = list(csv.DictReader(open(download.value.path(), encoding="utf-8")))
        assert len(table) == 18 and {r["AssignmentStatus"] for r in table} == {"Approved", "Rejected"}
        assert SCRIPT in {r["Input.text"] for r in table}

        # Every page at 360 px.
        batch_url = page.url
        page.set_viewport_size({"width": 360, "height": 740})
        for name, url in (("projects", server.url + "/console/projects"), ("batches", server.url + "/console/batches"),
                          ("batch", batch_url), ("review", batch_url + "/review")):
            page.goto(url)
            assert _no_horizontal_scroll(page), name
            screenshot(page, f"console-{name}-360")
        page.goto(server.url + "/console/projects")
        page.click("#projects a")
        page.wait_for_selector("#project-form")
        assert _no_horizontal_scroll(page), "project"
        screenshot(page, "console-project-360")
