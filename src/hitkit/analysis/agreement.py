"""Inter-annotator agreement and per-worker / per-item quality over long-format answers (`task`, `worker`, `label`).

- `krippendorff_alpha(data, level="nominal" | "ordinal" | "interval")`: float; missing data allowed (the coincidence
  matrix formulation of Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"); units with fewer than
  two values are not pairable and are left out.
- `fleiss_kappa(data)`: float; every task must have the same number of answers.
- `cohen_kappa_matrix(data, min_shared=2)`: DataFrame worker x worker of Cohen's kappa over shared tasks, NaN where two
  workers share fewer than `min_shared` tasks or the kappa is undefined (chance agreement 1).
- `worker_agreement(data, consensus=None)`: DataFrame by worker (`agreement`, `n`): the share of each worker's answers
  that equal the consensus (majority vote with hitkit's tie rule when no consensus is given).
- `accuracy_on_gold(data, gold)`: `GoldAccuracy(per_worker, overall)`; per worker (`accuracy`, `n`) on gold tasks.
- `uncertainty(data)`: DataFrame by task (`entropy` in nats, `margin`, `n`).

When a worker answered a task more than once, `cohen_kappa_matrix` keeps the worker's first answer in row order;
the other functions count every answer.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse

from hitkit.analysis.long_format import AnalysisError, Encoded, argmax_first, check_columns, encode

__all__ = [
    "GoldAccuracy",
    "accuracy_on_gold",
    "cohen_kappa_matrix",
    "fleiss_kappa",
    "krippendorff_alpha",
    "uncertainty",
    "worker_agreement",
]


def _show(value: Any) -> str:
    """repr of a value for an error message, numpy scalars as plain Python values."""
    return repr(value.item() if isinstance(value, np.generic) else value)

Level = Literal["nominal", "ordinal", "interval"]


def _counts(enc: Encoded) -> sparse.csr_matrix:
    """Tasks x labels answer counts."""
    ones = np.ones(len(enc.task), dtype=np.float64)
    return sparse.csr_matrix((ones, (enc.task, enc.label)), shape=(enc.n_tasks, enc.n_labels))


def _majority(enc: Encoded) -> np.ndarray:
    """Majority label code per task (ties: the label that sorts first)."""
    return argmax_first(_counts(enc).toarray())


def krippendorff_alpha(data: Any, level: Level = "nominal") -> float:
    """Krippendorff's alpha over the coincidence matrix: alpha = 1 - (n - 1) sum o_ck d_ck / sum n_c n_k d_ck.

    `level` picks the difference function: nominal (0 if equal else 1), ordinal (the rank-sum metric over the
    observed values in sort order), interval (squared difference; labels must be numeric).
    """
    if level not in ("nominal", "ordinal", "interval"):
        raise AnalysisError(f"level must be 'nominal', 'ordinal' or 'interval', not {level!r}")
    enc = encode(data)
    counts = _counts(enc)
    m = np.asarray(counts.sum(axis=1)).ravel()
    pairable = m >= 2
    if not pairable.any():
        raise AnalysisError("no task has two or more answers: Krippendorff's alpha needs pairable values")
    counts = counts[pairable]
    m = m[pairable]
    scale = sparse.diags(1.0 / (m - 1))
    # o_ck = sum_u n_uc n_uk / (m_u - 1) for c != k; o_cc = sum_u n_uc (n_uc - 1) / (m_u - 1).
    o = (counts.T @ scale @ counts).toarray()
    o -= np.diag(np.asarray((scale @ counts).sum(axis=0)).ravel())
    n_c = o.sum(axis=1)
    n = n_c.sum()
    k = len(n_c)
    if level == "nominal":
        delta = 1.0 - np.eye(k)
    elif level == "interval":
        try:
            values = enc.labels.astype(np.float64)
        except (TypeError, ValueError):
            raise AnalysisError(
                "column 'label' must be numeric for interval alpha (e.g. "
                f"{_show(enc.labels[0])} is not a number)"
            ) from None
        delta = (values[:, None] - values[None, :]) ** 2
    else:  # ordinal: (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2 over values in sort order
        cum = np.concatenate([[0.0], np.cumsum(n_c)])
        lo = np.minimum.outer(np.arange(k), np.arange(k))
        hi = np.maximum.outer(np.arange(k), np.arange(k))
        delta = (cum[hi + 1] - cum[lo] - (n_c[:, None] + n_c[None, :]) / 2.0) ** 2
    expected = float(n_c @ delta @ n_c)
    if expected == 0.0:
        raise AnalysisError("all pairable answers have the same value: Krippendorff's alpha is undefined")
    return float(1.0 - (n - 1.0) * float((o * delta).sum()) / expected)


def fleiss_kappa(data: Any) -> float:
    """Fleiss' kappa: (P_bar - P_e) / (1 - P_e); needs the same number of answers on every task."""
    enc = encode(data)
    counts = _counts(enc).toarray()
    per_task = counts.sum(axis=1)
    n = per_task[0]
    uneven = np.flatnonzero(per_task != n)
    if len(uneven):
        t = uneven[0]
        raise AnalysisError(
            f"Fleiss' kappa needs the same number of answers on every task: task {_show(enc.tasks[0])} has {int(n)}, "
            f"task {_show(enc.tasks[t])} has {int(per_task[t])} (use krippendorff_alpha for uneven or missing answers)"
        )
    if n < 2:
        raise AnalysisError("Fleiss' kappa needs at least two answers per task; every task has one")
    n_tasks = counts.shape[0]
    p_i = ((counts**2).sum(axis=1) - n) / (n * (n - 1))
    p_j = counts.sum(axis=0) / (n_tasks * n)
    p_e = float((p_j**2).sum())
    if p_e == 1.0:
        raise AnalysisError("every answer has the same label: Fleiss' kappa is undefined")
    return float((p_i.mean() - p_e) / (1.0 - p_e))


def cohen_kappa_matrix(data: Any, min_shared: int = 2) -> pd.DataFrame:
    """Cohen's kappa for every pair of workers over the tasks both answered: a symmetric worker x worker DataFrame,
    NaN where they share fewer than `min_shared` tasks or chance agreement is 1."""
    enc = encode(data)
    # first answer per (task, worker), in row order
    key = enc.worker.astype(np.int64) * enc.n_tasks + enc.task
    _, first = np.unique(key, return_index=True)
    w, t, lab = enc.worker[first], enc.task[first], enc.label[first]
    shape = (enc.n_workers, enc.n_tasks)
    present = sparse.csr_matrix((np.ones(len(w)), (w, t)), shape=shape)
    shared = (present @ present.T).toarray()
    agree = np.zeros_like(shared)
    chance = np.zeros_like(shared)
    for code in range(enc.n_labels):
        sel = lab == code
        a = sparse.csr_matrix((np.ones(int(sel.sum())), (w[sel], t[sel])), shape=shape)
        agree += (a @ a.T).toarray()
        on_shared = (a @ present.T).toarray()  # [i, j]: i's answers `code` on tasks j answered too
        chance += on_shared * on_shared.T
    with np.errstate(divide="ignore", invalid="ignore"):
        p_o = agree / shared
        p_e = chance / shared**2
        kappa = (p_o - p_e) / (1.0 - p_e)
    kappa[(shared < max(min_shared, 1)) | (p_e >= 1.0)] = np.nan
    return pd.DataFrame(kappa, index=pd.Index(enc.workers, name="worker"), columns=pd.Index(enc.workers, name="worker"))


def _consensus_codes(enc: Encoded, consensus: pd.Series | None) -> np.ndarray:
    """Consensus label code per task; -1 where the consensus is missing or a label no one gave."""
    if consensus is None:
        return _majority(enc)
    if not isinstance(consensus, pd.Series):
        raise AnalysisError(f"consensus must be a pandas Series indexed by task, not {type(consensus).__name__}")
    values = consensus.reindex(enc.tasks)
    lookup = pd.Series(np.arange(enc.n_labels), index=enc.labels)
    return values.map(lookup).fillna(-1).to_numpy(dtype=np.int64)


def worker_agreement(data: Any, consensus: pd.Series | None = None) -> pd.DataFrame:
    """Per worker: `agreement`, the share of their answers that equal the task's consensus, and `n`, the answers
    counted (tasks without a consensus are skipped). Without `consensus`, majority vote with hitkit's tie rule."""
    enc = encode(data)
    codes = _consensus_codes(enc, consensus)
    target = codes[enc.task]
    if consensus is None:
        counted = np.ones(len(target), dtype=bool)
    else:  # tasks with a consensus; an answer differing from it (even a label no one gave) counts as a miss
        counted = pd.Series(enc.tasks).isin(consensus.dropna().index).to_numpy()[enc.task]
    n = np.bincount(enc.worker[counted], minlength=enc.n_workers)
    hits = np.bincount(enc.worker[counted], weights=(enc.label == target)[counted], minlength=enc.n_workers)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = hits / n
    return pd.DataFrame({"agreement": share, "n": n}, index=pd.Index(enc.workers, name="worker"))


class GoldAccuracy(NamedTuple):
    per_worker: pd.DataFrame  # by worker: accuracy, n (gold answers); workers with no gold answer are left out
    overall: float  # share of all answers on gold tasks that are right


def accuracy_on_gold(data: Any, gold: pd.Series) -> GoldAccuracy:
    """Each worker's accuracy on the gold tasks (a Series of true labels indexed by task), and the overall one."""
    check_columns(data)
    if not isinstance(gold, pd.Series):
        raise AnalysisError(f"gold must be a pandas Series of true labels indexed by task, not {type(gold).__name__}")
    gold = gold.dropna()
    on_gold = data[data["task"].isin(gold.index)]
    if len(on_gold) == 0:
        raise AnalysisError("no answer is on a gold task: the gold Series' index must hold task ids from column 'task'")
    truth = gold.reindex(on_gold["task"]).to_numpy()
    correct = pd.Series(on_gold["label"].to_numpy() == truth, index=on_gold.index)
    grouped = correct.groupby(on_gold["worker"].to_numpy())
    per_worker = pd.DataFrame({"accuracy": grouped.mean(), "n": grouped.size()})
    per_worker.index.name = "worker"
    return GoldAccuracy(per_worker.sort_index(), float(correct.mean()))


def uncertainty(data: Any) -> pd.DataFrame:
    """Per task: `entropy` of the label distribution (natural log, 0 when unanimous), `margin` (share of the top
    label minus share of the runner-up; 1 when unanimous) and `n` (answers)."""
    enc = encode(data)
    counts = _counts(enc).toarray()
    n = counts.sum(axis=1)
    p = counts / n[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    top = np.sort(p, axis=1)[:, ::-1]
    margin = top[:, 0] - (top[:, 1] if top.shape[1] > 1 else 0.0)
    return pd.DataFrame(
        {"entropy": ent + 0.0, "margin": margin, "n": n.astype(np.int64)}, index=pd.Index(enc.tasks, name="task")
    )
