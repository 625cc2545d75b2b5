#!/usr/bin/env python
"""Label aggregation: wall time, peak memory and accuracy per method, hitkit against crowd-kit, on the shared
real datasets and on seeded synthetic crowds of 1M and 10M labels made here.

Every cell (method, implementation, dataset) runs in a fresh child process: the data is loaded, the peak-RSS
mark is reset (/proc/self/clear_refs), the method is fitted once, and the child reports wall time, the peak RSS
reached during the fit (VmHWM) and accuracy on the tasks with truth. A cell that exceeds --timeout is killed
and shown as "> N s". crowd-kit is optional (pip install crowd-kit); its scikit-learn >= 1.8 breakage of
Wawa/ZeroBasedSkill is patched in the child as shared/reference/aggregation.md describes.

Synthetic crowds (as in the reference): T tasks, W workers, 5 distinct workers per task, K=4 classes with prior
(0.4, 0.3, 0.2, 0.1), each worker's confusion-matrix diagonal U(0.5, 0.95), off-diagonal mass Dirichlet(1).
1M = 200k tasks x 2,000 workers (seed 0); 10M = 2M tasks x 20,000 workers (seed 1). DawidSkene runs exactly
50 EM iterations there (n_iter=50, tol=-inf) on both sides.

    python benchmarks/aggregation.py --quick            # real datasets + 1M, MV/Wawa/DS/OneCoin/GLAD/MACE
    python benchmarks/aggregation.py                    # + 10M
    python benchmarks/aggregation.py --methods ds,mv --sizes 1M --timeout 300
    python benchmarks/aggregation.py --quick --repeat 5 --repeat-crowdkit 3   # medians of 5 (hitkit), 3 (crowd-kit)

hitkit's DawidSkene and OneCoinDawidSkene load compiled kernels (numba) for big fits, ~0.3-0.5 s once per process.
On the synthetic crowds the child loads them before the timed fit, as crowd-kit's child imports crowd-kit before
its fit, and the cell shows that load time apart ("+0.35 s kernel load"): add it for a cold, one-fit process.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

DATASETS_DIR = Path(os.environ.get("HITKIT_DATASETS", "/work/shared/datasets"))
CACHE = Path(os.environ.get("HITKIT_BENCH_CACHE", "/tmp/hitkit-bench-aggregation"))
SYNTH = {"1M": (200_000, 2_000, 0), "10M": (2_000_000, 20_000, 1)}
KERNEL_METHODS = {"ds", "onecoin"}  # fits that load hitkit's compiled kernels (numba) at the sizes here
METHODS = ["mv", "wawa", "zbs", "ds", "onecoin", "glad", "mace"]
CLASS_NAMES = {
    "mv": "MajorityVote", "wawa": "Wawa", "zbs": "ZeroBasedSkill", "ds": "DawidSkene",
    "onecoin": "OneCoinDawidSkene", "glad": "GLAD", "mace": "MACE",
}


def synth(n_tasks: int, n_workers: int, seed: int, per_task: int = 5, k: int = 4):
    """(answers DataFrame, truth Series), cached as .npz under CACHE."""
    import pandas as pd

    path = CACHE / f"synth-{n_tasks}-{n_workers}-{seed}.npz"
    if path.exists():
        z = np.load(path)
    else:
        rng = np.random.default_rng(seed)
        truth = rng.choice(k, size=n_tasks, p=[0.4, 0.3, 0.2, 0.1])
        conf = np.empty((n_workers, k, k))
        diag = rng.uniform(0.5, 0.95, size=(n_workers, k))
        off = rng.dirichlet(np.ones(k - 1), size=(n_workers, k))
        for c in range(k):
            others = [o for o in range(k) if o != c]
            conf[:, c, c] = diag[:, c]
            conf[:, c, others] = (1 - diag[:, c])[:, None] * off[:, c, :]
        # per_task distinct workers per task: a random offset and stride over a random permutation
        perm = rng.permutation(n_workers)
        start = rng.integers(0, n_workers, size=n_tasks)
        workers = perm[(start[:, None] + np.arange(per_task)[None, :]) % n_workers].ravel()
        tasks = np.repeat(np.arange(n_tasks), per_task)
        cdf = np.cumsum(conf[workers, truth[tasks]], axis=1)
        labels = (rng.random(len(tasks))[:, None] > cdf).sum(axis=1).clip(0, k - 1)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(path, tasks=tasks, workers=workers, labels=labels, truth=truth)
        z = np.load(path)
    answers = pd.DataFrame({"task": z["tasks"], "worker": z["workers"], "label": z["labels"]})
    return answers, pd.Series(z["truth"], index=np.arange(len(z["truth"])))


def load(dataset: str):
    import pandas as pd

    if dataset in SYNTH:
        return synth(*SYNTH[dataset])
    answers = pd.read_csv(DATASETS_DIR / dataset / "answers.csv")
    truth = pd.read_csv(DATASETS_DIR / dataset / "truth.csv").set_index("task")["label"]
    return answers, truth


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0


def _child(method: str, impl: str, dataset: str, out) -> None:
    warnings.simplefilter("ignore")
    try:
        if impl == "hitkit":
            import hitkit.analysis as mod
        else:
            import crowdkit.aggregation as mod
            import crowdkit.aggregation.classification.wawa as ck_wawa
            import crowdkit.aggregation.classification.zero_based_skill as ck_zbs

            def check_is_fitted(est, attributes=None, *a, **kw):
                names = [attributes] if isinstance(attributes, str) else list(attributes or [])
                if any(getattr(est, n, None) is None for n in names):
                    raise RuntimeError("not fitted")

            ck_wawa.check_is_fitted = ck_zbs.check_is_fitted = check_is_fitted
        answers, truth = load(dataset)
        cls = getattr(mod, CLASS_NAMES[method])
        kwargs = {"n_iter": 50, "tol": -np.inf} if method == "ds" and dataset in SYNTH else {}
        model = cls(**kwargs)
        load_s = None
        if impl == "hitkit" and method in KERNEL_METHODS and dataset in SYNTH:
            # the compiled kernels these fits use: loaded here, once per process, and timed apart from the fit
            from hitkit.analysis.aggregation.majority_vote import kernels

            t0 = time.perf_counter()
            loaded = kernels() is not None
            load_s = time.perf_counter() - t0 if loaded else None
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark
        except OSError:
            pass
        base = _vm("VmRSS:")
        t0 = time.perf_counter()
        labels = model.fit_predict(answers)
        wall = time.perf_counter() - t0
        peak = _vm("VmHWM:")
        common = truth.index.intersection(labels.index)
        acc = 100.0 * float((labels.loc[common].to_numpy() == truth.loc[common].to_numpy()).mean())
        out.put({"wall": wall, "peak": peak, "delta": max(peak - base, 0), "acc": acc, "load": load_s})
    except Exception as exc:  # reported in the table, not fatal
        out.put({"error": f"{type(exc).__name__}: {exc}"[:60]})


def run_cell(method: str, impl: str, dataset: str, timeout: float) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(method, impl, dataset, q))
    p.start()
    try:
        return q.get(timeout=timeout)
    except Exception:
        return {"timeout": timeout}
    finally:
        if p.is_alive():
            p.kill()
        p.join()


def median_cell(cells: list[dict]) -> dict:
    """The run with the median wall time (of those that finished), its wall time the median; else the first."""
    done = sorted((c for c in cells if "wall" in c), key=lambda c: c["wall"])
    if not done:
        return cells[0]
    cell = dict(done[(len(done) - 1) // 2])
    cell["wall"] = float(np.median([c["wall"] for c in done]))
    cell["runs"] = len(done)
    return cell


def fmt(cell: dict) -> str:
    if "timeout" in cell:
        return f"> {cell['timeout']:.0f} s"
    if "error" in cell:
        return cell["error"]
    load = f" (+{cell['load']:.2f} s kernel load)" if cell.get("load") else ""
    return f"{cell['wall']:.3f} s{load}, {cell['peak'] / 2**20:.0f} MB, {cell['acc']:.2f}%"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--sizes", default="1M,10M", help="synthetic sizes: 1M, 10M (empty: none)")
    ap.add_argument("--quick", action="store_true", help="real datasets and 1M only")
    ap.add_argument("--no-real", action="store_true", help="skip the shared real datasets")
    ap.add_argument("--datasets", default="", help="only these real datasets (comma-separated names)")
    ap.add_argument("--no-crowdkit", action="store_true")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per cell")
    ap.add_argument("--repeat", type=int, default=1, help="runs per hitkit cell (the median is shown)")
    ap.add_argument("--repeat-crowdkit", type=int, default=1, help="runs per crowd-kit cell (the median is shown)")
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    sizes = ["1M"] if args.quick else [s for s in args.sizes.split(",") if s]
    datasets = []
    if not args.no_real:
        for folder in sorted(DATASETS_DIR.glob("*/")):
            if (folder / "answers.csv").exists() and "emotion" not in folder.name:  # emotion is numeric
                datasets.append(folder.name)
        if args.datasets:
            wanted = [d for d in args.datasets.split(",") if d]
            unknown = sorted(set(wanted) - set(datasets))
            if unknown:
                ap.error(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(datasets)}")
            datasets = [d for d in datasets if d in wanted]
    datasets += sizes
    impls = ["hitkit"] if args.no_crowdkit else ["hitkit", "crowd-kit"]
    print(f"| method | dataset | {' | '.join(impls)} | time ratio |")
    print("|---|---|" + "---|" * len(impls) + "---|")
    for method in methods:
        for ds in datasets:
            cells = [median_cell([run_cell(method, impl, ds, args.timeout) for _ in range(reps)])
                     for impl, reps in zip(impls, [args.repeat, args.repeat_crowdkit][: len(impls)])]
            ratio = ""
            if len(cells) == 2 and "wall" in cells[0]:
                other = cells[1].get("wall") or cells[1].get("timeout")
                if other:
                    ratio = ("> " if "timeout" in cells[1] else "") + f"{other / cells[0]['wall']:.1f}x"
            print(f"| {CLASS_NAMES[method]} | {ds} | {' | '.join(fmt(c) for c in cells)} | {ratio} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
