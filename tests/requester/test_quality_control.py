"""Quality-control rules and gold: parsing (errors name the rule and key; hypothesis), gold placement (seeded by
content, spread, stable), collectors over a ledger, and rules applied against a live server: each action recorded
before it is sent, nothing sent twice, soft blocks wired into the HIT type, review's plan fed."""

from __future__ import annotations

import json
import keyword
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hitkit.requester.collect import collect
from hitkit.requester.ledger.tables import decisions, gold_rows, qc_actions
from hitkit.requester.project import Project, ProjectError
from hitkit.requester.quality_control import (
    COLLECTORS,
    Action,
    QualityControlError,
    Rule,
    apply,
    evaluate,
    parse_rules,
    record_notification,
)
from hitkit.requester.quality_control.gold import Gold, GoldItem, is_correct
from hitkit.requester.review import plan_review
from tests.requester.test_collect import HITKIT_TOML, TEMPLATE, launch


def write_project(root: Path, extra: str, *, gold_csv: str | None = None, assignments: int = 2) -> Path:
    folder = root / "qc-task"
    folder.mkdir(parents=True)
    (folder / "hitkit.toml").write_text(HITKIT_TOML.format(reward="0.10", assignments=assignments,
                                                          auto_approval_delay="3d") + extra)
    (folder / "template.html").write_text(TEMPLATE)
    if gold_csv is not None:
        (folder / "gold.csv").write_text(gold_csv)
    return folder


# ---------------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------------


def test_errors_name_the_rule_and_the_key():
    with pytest.raises(QualityControlError) as e:
        parse_rules([{"collector": "golden_set", "when": "acuracy < 0.7", "action": "soft_block"}])
    assert str(e.value).startswith("hitkit.toml: quality_control[0].when: unknown name `acuracy`")
    with pytest.raises(QualityControlError) as e:
        parse_rules([
            {"collector": "golden_set", "when": "accuracy < 0.7", "action": "soft_block"},
            {"collector": "fast_submissions", "when": "fast_rate > 0.5", "action": "reject"},
            {"collector": "mv", "when": "x", "action": "approve"},
            {"collector": "returns", "when": "in_row >= 3", "action": "hard_block", "seconds": 4},
            {"collector": "golden_set", "when": "accuracy <", "action": "explode"},
        ])
    problems = e.value.problems
    assert problems[0] == "quality_control[1].feedback: a reject action needs feedback for the worker"
    assert problems[1].startswith("quality_control[2].collector: unknown collector 'mv'")
    assert problems[2].startswith("quality_control[3].seconds: unknown key")
    assert any(p.startswith("quality_control[4].when: not a valid expression") for p in problems)
    assert any(p.startswith("quality_control[4].action: unknown action 'explode'") for p in problems)


def test_conditions_are_interpreted_never_evaluated():
    with pytest.raises(QualityControlError, match="can be called"):
        Rule("golden_set", "(lambda: accuracy)() < 1", ["soft_block"])
    with pytest.raises(QualityControlError, match="not allowed"):
        Rule("golden_set", "accuracy.__class__ == 1", ["soft_block"])
    with pytest.raises(QualityControlError, match="unknown name `os`"):
        Rule("golden_set", "os.system('x')", ["soft_block"])
    rule = Rule("golden_set", "accuracy < 0.7 and total >= 4", ["soft_block"], history=10)
    assert rule.holds({"accuracy": 0.5, "total": 4}) and not rule.holds({"accuracy": 0.5, "total": 3})


def test_python_rules_and_actions():
    rule = Rule("majority_vote", "accuracy < 0.5", ["reject", "add_assignments"], field="label",
                feedback="Please read the instructions.", assignments=2, name="mv")
    assert [a.kind for a in rule.actions] == ["reject", "add_assignments"]
    assert rule.actions[0].feedback == "Please read the instructions." and rule.actions[1].assignments == 2
    assert rule.param("min_answers") == 3 and rule.param("history") is None
    assert Rule("fast_submissions", "fast >= 3", Action("hard_block", reason="bot")).param("seconds") == 10.0
    with pytest.raises(QualityControlError, match="set_qualification needs"):
        Rule("golden_set", "accuracy > 0.9", ["set_qualification"])
    with pytest.raises(QualityControlError, match="cannot both approve and reject"):
        Rule("golden_set", "accuracy > 0.9", ["approve", "reject"], feedback="x")


NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(collector=st.sampled_from(sorted(COLLECTORS)), name=NAMES, op=st.sampled_from(["<", ">=", "==", "!="]),
       value=st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_any_condition_over_known_names_parses_and_unknown_names_are_named(collector, name, op, value):
    assume(not keyword.iskeyword(name))
    known = COLLECTORS[collector][1] + ("submitted",)
    source = f"{name} {op} {value!r}"
    raw = {"collector": collector, "when": source, "action": "hard_block"}
    if name in known:
        (rule,) = parse_rules([raw])
        assert rule.holds({name: value}) == {"<": value < value, ">=": True, "==": True, "!=": False}[op]
    elif name not in ("True", "False", "None") and name not in ("len", "int", "float", "str", "bool", "abs", "min",
                                                                 "max", "round", "sorted", "set", "any", "all",
                                                                 "matches", "number"):
        with pytest.raises(QualityControlError) as e:
            parse_rules([raw])
        assert e.value.problems == [f"quality_control[0].when: unknown name `{name}` (the {collector} collector gives: "
                                    f"{', '.join(known)})"]


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans()),
                       max_size=6))
def test_arbitrary_tables_never_crash_the_parser(raw):
    try:
        parse_rules([raw])
    except QualityControlError as e:
        assert e.problems and all(p.startswith("quality_control[0]") for p in e.problems)


# ---------------------------------------------------------------------------------------------------------------
# Gold
# ---------------------------------------------------------------------------------------------------------------


def make_gold(n: int = 5, rate: float = 0.1) -> Gold:
    items = tuple(GoldItem(i + 1, {"text": f"g{i}"}, {"label": "yes"}, f"fb {i}") for i in range(n))
    return Gold(Path("gold.csv"), rate, items, "abc" * 10)


@settings(max_examples=100, deadline=None)
@given(rows=st.integers(1, 400), rate=st.floats(0.01, 1.0), n=st.integers(1, 30))
def test_gold_is_spread_numbered_after_the_rows_and_stable(rows, rate, n):
    gold = make_gold(n, rate)
    chosen, order = gold.mix(rows, "sha")
    assert len(chosen) == gold.count_for(rows) and sorted(order) == list(range(1, rows + len(chosen) + 1))
    assert [r for r in order if r <= rows] == list(range(1, rows + 1))  # the input's rows keep their order
    assert gold.mix(rows, "sha") == (chosen, order)
    if len(chosen) <= n:
        assert len({c.number for c in chosen}) == len(chosen)  # no item twice before every item was used


def test_gold_settings_from_hitkit_toml(tmp_path):
    folder = write_project(tmp_path, '\n[gold]\nfile = "gold.csv"\nrate = 0.5\nfeedback_column = "why"\n',
                           gold_csv="text,expected.label,why\nthe sky,blue,The sky is blue.\ngrass,green,\n")
    project = Project.load(folder)
    assert project.gold is not None and project.gold.fields == ("label",)
    assert [(i.data, i.expected, i.feedback) for i in project.gold.items] == [
        ({"text": "the sky"}, {"label": "blue"}, "The sky is blue."), ({"text": "grass"}, {"label": "green"}, None)]
    assert is_correct({"label": " blue "}, {"label": "blue"}) and not is_correct({"label": "Blue"}, {"label": "blue"})


@pytest.mark.parametrize(("table", "gold_csv", "message"), [
    ('[gold]\nfile = "gold.csv"\nrate = 2\n', "text,expected.label\na,b\n", "gold.rate: expected a share"),
    ('[gold]\nfile = "missing.csv"\nrate = 0.1\n', None, "gold.file: missing.csv does not exist"),
    ('[gold]\nfile = "gold.csv"\nrate = 0.1\n', "text,label\na,b\n", "has no expected.<field> column"),
    ('[gold]\nfile = "gold.csv"\nrate = 0.1\nfedback = 1\n', "text,expected.label\na,b\n", "gold.fedback: unknown key"),
    ('[[quality_control]]\ncollector = "golden_set"\nwhen = "accuracy < 0.5"\naction = "soft_block"\n', None,
     "quality_control[0].collector: golden_set needs gold items"),
    ('[[quality_control]]\ncollector = "majority_vote"\nwhen = "accuracy < 0.5"\naction = "soft_block"\n', None,
     "quality_control[0].field: say which answer field"),
    ('[[quality_control]]\ncollector = "returns"\nwhen = "in_rw > 2"\naction = "soft_block"\n', None,
     "hitkit.toml: quality_control[0].when: unknown name `in_rw`"),
])
def test_project_errors(tmp_path, table, gold_csv, message):
    folder = write_project(tmp_path, "\n" + table, gold_csv=gold_csv)
    with pytest.raises(ProjectError) as e:
        Project.load(folder)
    assert message in str(e.value)


# ---------------------------------------------------------------------------------------------------------------
# Against a live server
# ---------------------------------------------------------------------------------------------------------------


RULES = """
[gold]
file = "gold.csv"
rate = 0.5

[[quality_control]]
name = "gold"
collector = "golden_set"
when = "total >= 1 and accuracy < 0.5"
action = ["soft_block", "reject", "add_assignments"]
feedback = "Control items were wrong."

[[quality_control]]
name = "fast"
collector = "fast_submissions"
seconds = 3600
when = "fast >= 2"
action = ["set_qualification"]
qualification = "speedy"
value = 7
"""


@pytest.fixture()
def qc_project(server, mturk, tmp_path):  # type: ignore[no-untyped-def]
    folder = write_project(tmp_path, RULES, gold_csv="text,expected.label,feedback\ngold one,yes,The answer was yes.\n")
    project = Project.load(folder)
    hit_ids = launch(project, mturk, [{"text": "a"}, {"text": "b"}])  # 2 rows + 1 gold row
    return project, hit_ids


def test_soft_block_is_required_by_the_hit_type_and_actions_apply_once(server, mturk, qc_project):
    project, hit_ids = qc_project
    hit_type = mturk.get_hit(HITId=hit_ids[0])["HIT"]
    blocked = [r for r in hit_type["QualificationRequirements"] if r["Comparator"] == "DoesNotExist"]
    assert len(blocked) == 1 and blocked[0]["ActionsGuarded"] == "DiscoverPreviewAndAccept"
    with project.ledger.connect() as conn:
        (gold,) = conn.execute(select(gold_rows)).all()
    assert gold.row_index == 3 and json.loads(gold.expected) == {"label": "yes"}
    good, bad = server.new_worker(), server.new_worker()
    for h in hit_ids:
        server.do_hit(good, h, {"label": "yes"})
        server.do_hit(bad, h, {"label": "no"})

    assert evaluate(project).firings == []  # nothing collected yet
    collect(project, mturk, quality_control=False)
    plan = evaluate(project)
    caught = {(f.worker_id, f.rule) for f in plan.firings}
    assert (bad.worker_id, "gold") in caught and (good.worker_id, "gold") not in caught
    assert len(plan.decisions) == 3 and {a.action for a in plan.actions} == {"soft_block", "add_assignments",
                                                                            "set_qualification"}
    assert any("gold: total >= 1 and accuracy < 0.5 (total 1, correct 0" in line for line in plan.describe())
    report = collect(project, mturk)  # applies the worker actions; approve/reject go to review
    qc = report.quality_control
    assert qc is not None and qc["applied"] == {"soft_block": 1, "set_qualification": 2, "add_assignments": 2}
    assert "Quality control: 2 rules" in report.describe()
    assert qc["decisions_left"] == 3
    with project.ledger.connect() as conn:
        rows = {r.key: r for r in conn.execute(select(qc_actions))}
    assert all(r.state == "applied" and r.applied_at >= r.decided_at for r in rows.values())
    # The bad worker can no longer take this project's HITs; the good one can.
    listing = server.worker_call(bad, "GET", "/api/worker/v1/hits?limit=100").json()["hits"]
    assert not any(h["HITId"] in hit_ids for h in listing)
    quals = {q["QualificationTypeId"]: q for q in mturk.list_qualification_types(
        MustBeOwnedByCaller=True, MustBeRequestable=False, MaxResults=100)["QualificationTypes"]}
    speedy = next(i for i, q in quals.items() if q["Name"] == "speedy")
    assert mturk.get_qualification_score(QualificationTypeId=speedy, WorkerId=good.worker_id)["Qualification"][
        "IntegerValue"] == 7
    # Extra assignments for the bad worker's two non-gold HITs, sent once.
    assert [mturk.get_hit(HITId=h)["HIT"]["MaxAssignments"] for h in hit_ids] == [3, 3, 2]
    again = collect(project, mturk)
    assert again.quality_control["applied"] == {}
    assert [mturk.get_hit(HITId=h)["HIT"]["MaxAssignments"] for h in hit_ids] == [3, 3, 2]

    # review: the rule's rejections join the plan, with the gold item's feedback after the rule's.
    plan = plan_review(project)
    rejects = {d.assignment_id: d for d in plan.decisions if d.action == "reject"}
    assert len(rejects) == 3 and all(d.source == "qc: gold" for d in rejects.values())
    assert sorted(d.feedback for d in rejects.values()).count("Control items were wrong. The answer was yes.") == 1
    assert "Quality control:" in plan.describe()[0]
    plan = plan_review(project, approve_all=True)
    assert plan.count("approve") == 3 and plan.count("reject") == 3
    only = plan_review(project, approve=[next(iter(rejects))])  # a targeted review decides just that one
    assert [(d.action, d.source) for d in only.decisions] == [("approve", "ids")] and only.quality_control is None


def test_pending_actions_are_resumed_and_qc_applies_decisions(server, mturk, qc_project, monkeypatch):
    from hitkit.requester.quality_control import engine

    project, hit_ids = qc_project
    bad = server.new_worker()
    for h in hit_ids:
        server.do_hit(bad, h, {"label": "no"})
    collect(project, mturk, quality_control=False)
    plan = evaluate(project)
    sent = []

    def crash(client, a):  # type: ignore[no-untyped-def]
        sent.append(a.action)
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "_send", crash)
    with pytest.raises(KeyboardInterrupt):
        apply(project, mturk, plan)
    monkeypatch.undo()
    with project.ledger.connect() as conn:
        pending = list(conn.execute(select(qc_actions).where(qc_actions.c.state == "pending")))
    assert len(pending) == len(plan.actions) and sent  # recorded before anything was sent
    again = evaluate(project)
    assert again.actions == [] and len(again.resumed) == len(pending)
    report = apply(project, mturk, again)
    assert sum(report.applied.values()) == len(pending) and report.rejected == 3
    with project.ledger.connect() as conn:
        assert all(d.applied_at for d in conn.execute(select(decisions)))
    final = evaluate(project)
    assert final.todo == [] and final.decisions == []


def test_returns_from_notifications(server, mturk, tmp_path):
    folder = write_project(tmp_path, '\n[[quality_control]]\ncollector = "returns"\nwhen = "in_row >= 2"\n'
                                     'action = "hard_block"\nreason = "Too many returns."\n')
    project = Project.load(folder)
    w = server.new_worker()
    message = {"Events": [{"EventType": "AssignmentReturned", "AssignmentId": f"A{i}", "HITId": "H", "WorkerId":
                           w.worker_id} for i in range(2)] + [{"EventType": "AssignmentSubmitted", "AssignmentId": "B"}]}
    assert record_notification(project, json.dumps(message)) == 2
    assert record_notification(project, message) == 0
    report = apply(project, mturk, evaluate(project))
    assert report.applied == {"hard_block": 1}
    blocks = mturk.list_worker_blocks(MaxResults=100)["WorkerBlocks"]
    assert {"WorkerId": w.worker_id, "Reason": "Too many returns."} in blocks


# ---------------------------------------------------------------------------------------------------------------
# Gold at launch: the same input, gold file and rate give the same batch with the same gold in the same places
# ---------------------------------------------------------------------------------------------------------------


GOLD_CSV = "text,expected.label,feedback\n" + "".join(f"gold {i},yes,Item {i} is a yes.\n" for i in range(4))


def gold_launch_project(root: Path) -> Project:
    folder = write_project(root, '\n[gold]\nfile = "gold.csv"\nrate = 0.2\n', gold_csv=GOLD_CSV)
    return Project.load(folder)


def ledger_layout(project: Project) -> tuple:
    from hitkit.requester.ledger.tables import batches, hits, rows

    with project.ledger.connect() as conn:
        batch = conn.execute(select(batches.c.id, batches.c.rows)).all()
        gold = [(g.row_index, g.expected, g.feedback) for g in conn.execute(select(gold_rows).order_by(gold_rows.c.row_index))]
        data = [(r.row_index, r.data) for r in conn.execute(select(rows).order_by(rows.c.row_index))]
        created = [h.row_index for h in conn.execute(select(hits.c.row_index).order_by(hits.c.created_at, hits.c.token))]
    return batch, gold, data, created


class StopAfter:
    """A boto3 client whose CreateHITWithHITType fails (a permanent error) after `n` HITs: a launch cut short."""

    def __init__(self, client, n: int) -> None:  # type: ignore[no-untyped-def]
        self._client, self._left = client, n
        self.meta = client.meta

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._client, name)

    def create_hit_with_hit_type(self, **kw):  # type: ignore[no-untyped-def]
        from botocore.exceptions import ClientError

        if self._left <= 0:
            raise ClientError({"Error": {"Code": "RequestError", "Message": "stopped by the test"}}, "CreateHITWithHITType")
        self._left -= 1
        return self._client.create_hit_with_hit_type(**kw)


def test_gold_is_mixed_in_stably_and_a_cut_launch_resumes(server, mturk, tmp_path):
    from hitkit.requester.inputs import read_input
    from hitkit.requester.launch import launch_batch
    from tests.requester.test_collect import rows_frame

    data = [{"text": f"row {i}"} for i in range(12)]
    first = gold_launch_project(tmp_path / "a")
    cut = launch_batch(first, StopAfter(mturk, 5), read_input(rows_frame(data)), workers=1)
    assert cut.stopped == "error" and cut.remaining == 15 - 5 and cut.gold_rows == 3  # ceil(0.2 x 12)
    done = launch_batch(first, mturk, read_input(rows_frame(data)), workers=1)
    assert done.complete and done.batch_id == cut.batch_id and done.created_now == 10
    again = launch_batch(first, mturk, read_input(rows_frame(data)), workers=1)
    assert again.complete and again.created_now == 0 and again.batch_id == cut.batch_id
    batch, gold, rows, created = ledger_layout(first)
    assert batch == [(cut.batch_id, 15)] and [g[0] for g in gold] == [13, 14, 15]
    assert {json.loads(d)["text"] for i, d in rows if i > 12} <= {f"gold {i}" for i in range(4)}
    assert sorted(created) == list(range(1, 16)) and created != sorted(created)  # gold HITs among the rows
    annotations = [h["RequesterAnnotation"] for h in mturk.list_hits(MaxResults=100)["HITs"]]
    assert len(annotations) == len(set(annotations)) == 15  # one HIT per row, none twice

    # Another project folder with the same name, files and input (a fresh ledger) mixes the same gold the same way.
    second = gold_launch_project(tmp_path / "b")
    other = launch_batch(second, server.client(server.new_requester()), read_input(rows_frame(data)), workers=1)
    assert other.batch_id == cut.batch_id
    assert ledger_layout(second)[1:] == ledger_layout(first)[1:]
    # A different rate is a different batch.
    (second.root / "hitkit.toml").write_text((second.root / "hitkit.toml").read_text().replace("0.2", "0.5"))
    changed = launch_batch(Project.load(second.root), mturk, read_input(rows_frame(data)), workers=1)
    assert changed.batch_id != cut.batch_id and changed.gold_rows == 6


# ---------------------------------------------------------------------------------------------------------------
# Collectors over synthetic answers
# ---------------------------------------------------------------------------------------------------------------


def answer(aid: str, worker: str, row: int, label: str, *, t: float, work: float = 30.0, gold: str | None = None,
           status: str = "Submitted", reward: int = 10):  # type: ignore[no-untyped-def]
    from hitkit.requester.quality_control.engine import Answer

    return Answer(aid, worker, f"H{row}", "b", row, status, t - work, t, {"label": label}, reward, None,
                  {"label": gold} if gold else None)


def test_collectors_figures():
    from types import SimpleNamespace

    from hitkit.requester.quality_control.engine import Figures

    now = 1_000_000.0
    answers = [
        answer("a1", "w1", 1, "x", t=now - 10, work=2), answer("a2", "w2", 1, "x", t=now - 9),
        answer("a3", "w3", 1, "y", t=now - 8), answer("a4", "w1", 2, "y", t=now - 2 * 86400, work=3),
        answer("a5", "w2", 2, "z", t=now - 7), answer("a6", "w3", 2, "z", t=now - 6),
        answer("g1", "w1", 3, "no", t=now - 5, gold="yes"), answer("g2", "w2", 3, "yes", t=now - 4, gold="yes"),
        answer("a7", "w1", 4, "q", t=now - 3, status="Rejected"),
    ]
    events = [SimpleNamespace(kind="returned", worker_id="w1", time=now - 1),
              SimpleNamespace(kind="returned", worker_id="w1", time=now - 3 * 86400)]
    paid = [SimpleNamespace(worker_id="w2", paid_at=now - 100, amount_cents=50)]
    fig = Figures(answers, events, paid, now)

    def rule(collector: str, **kw):  # type: ignore[no-untyped-def]
        return Rule(collector, "total >= 0", ["hard_block"], **kw)

    assert fig.for_rule(rule("fast_submissions", seconds=5), "w1") == {
        "total": 4, "fast": 2, "fast_rate": 0.5, "median_seconds": 16.5, "submitted": 4}
    assert fig.for_rule(rule("golden_set"), "w1")["accuracy"] == 0.0
    assert fig.for_rule(rule("golden_set"), "w2")["correct"] == 1
    assert fig.for_rule(rule("golden_set"), "w3") is None  # no gold answered: not judged
    # Leave one out: on row 1 (x, x, y) w3 is judged against x (wrong) while w1 and w2 each face a tie (x, y);
    # on row 2 (y, z, z) w1's y is wrong against z, and w2 and w3 face a tie (y, z). Rows with < 3 answers: skipped.
    mv = rule("majority_vote", field="label", min_answers=3)
    assert fig.for_rule(mv, "w1") == {"total": 1, "correct": 0, "incorrect": 1, "accuracy": 0.0,
                                      "incorrect_rate": 1.0, "submitted": 4}
    assert fig.for_rule(mv, "w2") is None
    assert fig.for_rule(mv, "w3") == {"total": 1, "correct": 0, "incorrect": 1, "accuracy": 0.0,
                                      "incorrect_rate": 1.0, "submitted": 2}
    assert fig.for_rule(rule("returns"), "w1") == {"total": 2, "in_row": 1, "last_day": 1, "submitted": 4}
    assert fig.for_rule(rule("abandons"), "w1") is None
    assert fig.for_rule(rule("assignments_per_day"), "w1") == {"total": 4, "count": 3, "submitted": 4}
    assert fig.for_rule(rule("earnings_per_day"), "w1")["earnings"] == 0.2  # the rejected one does not count
    assert fig.for_rule(rule("earnings_per_day"), "w2")["earnings"] == 0.8  # 3 x $0.10 + a $0.50 bonus


CELL = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda s: s.strip() != "")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(CELL, CELL, st.one_of(st.none(), CELL)), min_size=1, max_size=8))
def test_gold_files_round_trip(tmp_path_factory, items):
    import csv
    import io

    from hitkit.requester.quality_control.gold import parse_gold

    root = tmp_path_factory.mktemp("gold")
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["text", "expected.label", "feedback"])
    writer.writerows([(t, label, fb or "") for t, label, fb in items])
    (root / "gold.csv").write_text(buf.getvalue(), encoding="utf-8")
    problems: list[str] = []
    gold = parse_gold({"gold": {"file": "gold.csv", "rate": 0.5}}, root, problems)
    assert problems == [] and gold is not None
    assert [(i.data["text"], i.expected["label"], i.feedback) for i in gold.items] == [
        (t, label.strip(), fb.strip() if fb and fb.strip() else None) for t, label, fb in items]
    assert all(is_correct({"label": label}, i.expected) for (_, label, _), i in zip(items, gold.items, strict=True))


def test_quality_control_from_the_python_api(server, mturk, qc_project):
    import hitkit

    project, hit_ids = qc_project
    bad = server.new_worker()
    for h in hit_ids:
        server.do_hit(bad, h, {"label": "no"})
    p = hitkit.Project(project.root, client=mturk)
    assert p.collect(quality_control=False).new == 3 and p.qc_actions().empty
    plan = p.quality_control(dry_run=True)
    assert {a.action for a in plan.actions} >= {"soft_block"} and p.qc_actions().empty  # a dry run records nothing
    report = p.quality_control()
    assert report.rejected == 3
    taken = p.qc_actions()
    assert set(taken["worker_id"]) == {bad.worker_id} and (taken["state"] == "applied").all()
