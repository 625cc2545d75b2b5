"""The SageMaker + MTurk iris tutorial as a script, in hitkit's Python API (what `hitkit demo` does, written out).

    python iris_loop.py --endpoint-url http://127.0.0.1:8642

Label 150 flowers with 2 workers each, add a worker where two disagree until two agree, aggregate, train a
classifier on the crowd's labels, and send its least confident held-out predictions back to the crowd. Workers
do the HITs meanwhile (people on the worker site, or `hitkit crowd simulate`, as run.sh does).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import hitkit
from hitkit.demo.iris_items import MEASUREMENTS, image_data_url, iris_flowers

HERE = Path(__file__).resolve().parent


def project_copy(name: str, workdir: Path, assignments: int) -> Path:
    """A fresh project folder from this example's hitkit.toml and template (each run starts a new ledger)."""
    folder = workdir / name
    folder.mkdir()
    shutil.copy(HERE / "template.html", folder)
    toml = (HERE / "hitkit.toml").read_text().replace("assignments = 2", f"assignments = {assignments}")
    (folder / "hitkit.toml").write_text(toml)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the crowd")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="iris-"))
    flowers = iris_flowers()
    truth = pd.Series({f.item_id: f.species for f in flowers})

    # 1. Launch: one HIT per flower, 2 assignments each.
    labels = hitkit.Project(project_copy("iris-labels", workdir, 2), endpoint_url=args.endpoint_url)
    images = {f.item_id: image_data_url(f) for f in flowers}
    items = pd.DataFrame({"item_id": list(images), "image": list(images.values()), "model_guess": ""})
    launched = labels.launch(items)
    print(f"launched {launched.created_now} HITs")

    # 2. Wait for the work; where the two answers differ, add a worker until two agree (at most 5).
    report = labels.extend_until(2, max_assignments=5, field="species", watch=True, poll=1, timeout=args.timeout)
    print(report.describe())

    # 3. Aggregate, merge with the measurements, train and score.
    run = labels.aggregate(field="species")
    merged = run.labels.rename(columns={"Input.item_id": "item_id"})[["item_id", "label", "confidence"]]
    data = pd.DataFrame([{"item_id": f.item_id, **f.measurements()} for f in flowers]).merge(merged, on="item_id")
    label_accuracy = (data["label"] == data["item_id"].map(truth)).mean()
    train, test = train_test_split(data, test_size=0.3, random_state=0, stratify=data["label"])
    model = LogisticRegression(max_iter=1000).fit(train[list(MEASUREMENTS)], train["label"])
    test = test.assign(guess=model.predict(test[list(MEASUREMENTS)]),
                       sure=model.predict_proba(test[list(MEASUREMENTS)]).max(axis=1))
    model_accuracy = (test["guess"] == test["item_id"].map(truth)).mean()

    # 4. Model in the loop: the 10 least confident held-out predictions go back to the crowd.
    doubtful = test.nsmallest(10, "sure")
    check = hitkit.Project(project_copy("iris-validation", workdir, 3), endpoint_url=args.endpoint_url)
    check.launch(pd.DataFrame({"item_id": doubtful["item_id"], "model_guess": doubtful["guess"],
                               "image": [images[i] for i in doubtful["item_id"]]}))
    check.extend_until(3, max_assignments=3, field="species", watch=True, poll=1, timeout=args.timeout)
    checked = check.aggregate("mv", field="species").labels.rename(columns={"Input.item_id": "item_id"})
    checked = checked.merge(doubtful[["item_id", "guess"]], on="item_id")
    corrected = checked[checked["label"] != checked["guess"]]

    # 5. Pay for the work and report.
    for p in (labels, check):
        p.approve()
    cost = sum(p.status().cost_cents for p in (labels, check))
    print(f"label accuracy {label_accuracy:.1%}; model accuracy {model_accuracy:.1%} on {len(test)} held-out items")
    print(f"model in the loop: {len(checked)} checked, {len(corrected)} corrected by the crowd")
    print(f"cost with fees ${cost / 100:.2f}")
    data.to_csv(workdir / "iris-labels.csv", index=False)
    print(f"labels: {workdir / 'iris-labels.csv'}")


if __name__ == "__main__":
    main()
