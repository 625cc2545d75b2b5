"""`hitkit demo` as a newcomer runs it: a fresh folder, one command, the whole loop and a summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hitkit.demo.iris_items import SPECIES, flower_svg, iris_flowers


@pytest.mark.slow
def test_hitkit_demo_runs_the_whole_loop_in_a_fresh_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(tmp_path), COLUMNS="120")  # no AWS profile, no config: a fresh machine
    data = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "hitkit.cli.main", "demo", "--data-dir", str(data)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for bad in ("error", "Traceback", "Warning"):
        assert bad not in proc.stderr, proc.stderr
    summary = json.loads((data / "summary.json").read_text())
    assert summary["items"] == summary["labelled"] == 150
    assert summary["label_accuracy"] >= 0.9 and summary["model_accuracy"] > 0.8
    assert summary["extra_assignments"] > 0 and summary["assignments"] >= 300 + summary["extra_assignments"]
    assert summary["cost_cents"] > 0 and summary["hourly_wage_cents"] > 0 and summary["validated"] == 10
    for shown in ("items labelled", "150 of 150", "label accuracy", "model accuracy (held-out)", "cost with fees",
                  "effective hourly wage", "model in the loop", "Worker site: http://127.0.0.1:"):
        assert shown in proc.stdout, proc.stdout
    labels = (data / "iris-labels.csv").read_text().splitlines()
    assert labels[0].startswith("item_id,sepal_length,sepal_width,petal_length,petal_width,label") and len(labels) == 151


def test_a_non_empty_data_dir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("mine")
    proc = subprocess.run([sys.executable, "-m", "hitkit.cli.main", "demo", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "is not empty" in proc.stderr
    assert (tmp_path / "something").read_text() == "mine"


def test_the_flowers_and_their_pictures() -> None:
    flowers = iris_flowers()
    assert len(flowers) == 150 and {f.species for f in flowers} == set(SPECIES)
    assert len({f.item_id for f in flowers}) == 150
    small, large = flower_svg(flowers[0]), flower_svg(flowers[100])
    assert small.startswith("<svg") and small != large and "setosa" not in small  # the truth is not in the picture
