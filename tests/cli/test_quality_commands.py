"""`hitkit qc NAME` as a user runs it: a dry run (per worker: the rule, its figures, what would be done), --json,
then the real run (actions recorded and applied once), and `collect` / `review` showing the rules' outcome."""

from __future__ import annotations

import json

from sqlalchemy import select

from hitkit.requester.ledger.tables import qc_actions
from hitkit.requester.project import Project
from tests.cli.test_results_commands import cli, env, one_line_error  # noqa: F401 - env is a fixture
from tests.requester.test_collect import launch
from tests.requester.test_quality_control import RULES, write_project


def test_qc_dry_run_json_then_apply(env, mturk, tmp_path):  # noqa: F811
    server = env
    folder = write_project(tmp_path, RULES, gold_csv="text,expected.label,feedback\ngold one,yes,It was yes.\n")
    project = Project.load(folder)
    hit_ids = launch(project, mturk, [{"text": "a"}, {"text": "b"}])
    project.close()
    good, bad = server.new_worker(), server.new_worker()
    for h in hit_ids:
        server.do_hit(good, h, {"label": "yes"})
        server.do_hit(bad, h, {"label": "no"})

    dry = cli("qc", "qc-task", "--dry-run", url=server.url)
    assert f"{bad.worker_id}: gold: total >= 1 and accuracy < 0.5 (total 1, correct 0" in dry.stdout
    assert f"would soft block (grant 'qc-task blocked') for {bad.worker_id}" in dry.stdout
    assert "would reject" in dry.stdout and "Dry run: nothing was sent." in dry.stdout
    as_json = json.loads(cli("qc", "qc-task", "--dry-run", "--json", "--no-collect", url=server.url).stdout)
    assert as_json["dry_run"] is True and {c["worker"] for c in as_json["caught"] if c["rule"] == "gold"} == {bad.worker_id}
    with Project.load(folder).ledger.connect() as conn:
        assert conn.execute(select(qc_actions)).first() is None  # a dry run writes nothing

    done = json.loads(cli("qc", "qc-task", "--json", url=server.url).stdout)
    assert done["applied"] == {"soft_block": 1, "set_qualification": 2, "add_assignments": 2} and done["rejected"] == 3
    assert mturk.get_assignment(AssignmentId=done["decisions"][0]["assignment_id"])["Assignment"][
        "AssignmentStatus"] == "Rejected"
    again = cli("qc", "qc-task", url=server.url)
    assert "nothing new done" in again.stdout
    collected = cli("collect", "qc-task", url=server.url)
    assert "Quality control: 2 rules, 2 workers caught; nothing new done." in collected.stdout
    review = cli("review", "qc-task", url=server.url)
    assert "Would approve 0 and reject 0" in review.stdout and "Quality control:" in review.stdout


def test_qc_without_rules_is_one_error_line(env, tmp_path):  # noqa: F811
    write_project(tmp_path, "")
    line = one_line_error(cli("qc", "qc-task", "--dry-run", "--no-collect", check=False, url=env.url))
    assert "has no [[quality_control]] rules" in line
    write_project(tmp_path / "other", '\n[[quality_control]]\ncollector = "golden_set"\nwhen = "acuracy < 1"\n'
                                      'action = "soft_block"\n[gold]\nfile = "gold.csv"\nrate = 0.1\n',
                  gold_csv="text,expected.label\na,b\n")
    line = one_line_error(cli("qc", "other/qc-task", "--dry-run", "--no-collect", check=False, url=env.url))
    assert "quality_control[0].when: unknown name `acuracy`" in line


def test_the_docs_name_real_commands_and_options():
    import re
    from pathlib import Path

    import typer

    from hitkit.cli.main import app

    root = typer.main.get_command(app)
    text = (Path(__file__).parents[2] / "docs" / "quality-control.md").read_text()
    seen = 0
    for line in re.findall(r"`(hitkit [^`]+)`", text):
        words = line.split()
        cmd = root
        for w in words[1:]:
            sub = getattr(cmd, "commands", {}).get(w)
            if sub is None:
                break
            cmd = sub
        assert cmd is not root, line
        options = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        for w in words:
            if w.startswith("--"):
                assert w.split("=")[0] in options, f"{line}: no option {w}"
        seen += 1
    assert seen >= 5
