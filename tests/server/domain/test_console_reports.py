"""The console's numbers (domain/console_reports.py): approval rate, median work time and effective hourly wage
of a worker, and the earnings CSV (formula-looking cells defused)."""

from __future__ import annotations

import csv
import io

from hitkit.server.domain.console_reports import Earning, WorkerStats, earnings_csv


def test_worker_stats_numbers():
    s = WorkerStats("A1", assignments=4, approved=2, rejected=1, pending=1, rewards_cents=120, bonus_cents=30,
                    work_times=[60, 120, 300, 30], approved_seconds=180)
    assert s.approval_rate == 2 / 3
    assert s.median_seconds == 90
    assert s.hourly_cents == 3000  # (1.20 + 0.30) for 3 minutes of approved work: $30.00 an hour
    empty = WorkerStats("A2", pending=1, assignments=1, work_times=[10])
    assert empty.approval_rate is None and empty.hourly_cents is None and empty.median_seconds == 10


def test_earnings_csv_defuses_formulas():
    rows = [Earning("A1", "=cmd|'/c calc'!A0", 2, 100, 1, 25), Earning("A2", "<script>x</script>", 1, 50, 0, 0)]
    out = list(csv.DictReader(io.StringIO(earnings_csv(rows, "2026-11-01", "2026-11-30"))))
    assert out[0]["WorkerName"] == "'=cmd|'/c calc'!A0" and out[0]["Total"] == "1.25" and out[0]["From"] == "2026-11-01"
    assert out[1]["WorkerName"] == "<script>x</script>"  # plain text in a CSV download; never rendered as a page


def _answer(fields: dict[str, str]) -> str:
    parts = "".join(f"<Answer><QuestionIdentifier>{k}</QuestionIdentifier><FreeText>{v}</FreeText></Answer>"
                    for k, v in fields.items())
    return ('<QuestionFormAnswers xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
            f'2005-10-01/QuestionFormAnswers.xsd">{parts}</QuestionFormAnswers>')


def test_majority_agreement_per_hit_type_and_label_field():
    from types import SimpleNamespace as Row

    from hitkit.server.domain.console_reports import majority_agreement

    rows = []
    for h in range(4):  # W1 and W2 agree on every HIT, W3 on none; the comment field is free text
        for w, label in (("W1", "cat"), ("W2", "cat"), ("W3", "dog")):
            rows.append(Row(worker_id=w, hit_id=f"H{h}", hit_type_id="T1",
                            answer=_answer({"label": label, "comment": f"{w} on {h}"})))
    rows.append(Row(worker_id="W4", hit_id="H9", hit_type_id="T1", answer=_answer({"label": "cat"})))  # alone on H9
    rows += [Row(worker_id="W1", hit_id=f"E{i}", hit_type_id="T2", answer=_answer({"essay": f"text {i}"}))
             for i in range(5)]  # free text only: left out
    rows.append(Row(worker_id="W1", hit_id="H0", hit_type_id="T1", answer="not xml"))  # unreadable: skipped
    out = majority_agreement(rows)
    assert out["W1"] == (1.0, 4) and out["W2"] == (1.0, 4) and out["W3"] == (0.0, 4)
    assert "W4" not in out  # a HIT with one answer has no majority to agree with
