"""Compiled loops (numba) for the iterative aggregators: one pass over the answers per EM iteration instead of
several numpy / scipy.sparse passes with temporaries.

Imported only through `majority_vote.kernels()`, on the first fit big enough to repay loading them (~0.3-0.5 s
once per process), so `import hitkit.analysis` stays cheap and small fits stay fast. When numba is missing or fails to import (or HITKIT_NO_NUMBA=1), `kernels()` returns None and the methods
use their numpy code, which computes the same quantities (the tests compare the two). Compiled code is cached on disk
(`cache=True`: next to this file, or numba's user-wide cache directory when that is read-only), so only the first
fit on a machine pays the compilation (a few seconds).

Every kernel is plain float64 arithmetic without fastmath: results differ from the numpy path only by summation
order (last-bit rounding).
"""

from __future__ import annotations

import math

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


# -- answers grouped by task (CSR) -----------------------------------------------------------------------------
@_jit
def csr_by_task(task, worker, label, n_tasks, k):
    """(indptr, cols): the answers of task t are cols[indptr[t]:indptr[t+1]], each as worker * k + label, in row
    order (a stable counting sort by task)."""
    n = task.shape[0]
    indptr = np.zeros(n_tasks + 1, dtype=np.int64)
    for i in range(n):
        indptr[task[i] + 1] += 1
    for t in range(n_tasks):
        indptr[t + 1] += indptr[t]
    pos = indptr[:-1].copy()
    cols = np.empty(n, dtype=np.int32)
    for i in range(n):
        t = task[i]
        cols[pos[t]] = worker[i] * k + label[i]
        pos[t] += 1
    return indptr, cols


# -- Dawid-Skene (full and one-coin) ---------------------------------------------------------------------------
@_jit
def ds_counts(indptr, cols, q, n_cols):
    """M-step counts: counts[c, k] = sum of q[t, k] over the answers c = worker * K + label of each task t
    (A.T @ q for the T x (W*K) answer matrix A)."""
    counts = np.zeros((n_cols, q.shape[1]))
    _scatter(indptr, cols, q, counts)
    return counts


@_jit
def _scatter(indptr, cols, q, counts):
    """counts[c] += q[t] for every answer c of every task t. Columns in blocks of 4 (then 2, then 1) held in
    registers: several times faster than a loop over a run-time K."""
    k = q.shape[1]
    for t in range(q.shape[0]):
        start, end = indptr[t], indptr[t + 1]
        j = 0
        while j + 4 <= k:
            q0, q1, q2, q3 = q[t, j], q[t, j + 1], q[t, j + 2], q[t, j + 3]
            for i in range(start, end):
                c = cols[i]
                counts[c, j] += q0
                counts[c, j + 1] += q1
                counts[c, j + 2] += q2
                counts[c, j + 3] += q3
            j += 4
        if j + 2 <= k:
            q0, q1 = q[t, j], q[t, j + 1]
            for i in range(start, end):
                c = cols[i]
                counts[c, j] += q0
                counts[c, j + 1] += q1
            j += 2
        if j < k:
            q0 = q[t, j]
            for i in range(start, end):
                counts[cols[i], j] += q0


@_jit
def ds_shifted_scores(indptr, cols, log_err, log_prior, d):
    """E-step, first half: d[t] = s[t] - max(s[t]) with s[t] = log_prior + the sum of log_err over t's answers
    (A @ log_err + log_prior, shifted for a stable softmax). Same block scheme as _scatter."""
    n_tasks, k = d.shape
    for t in range(n_tasks):
        start, end = indptr[t], indptr[t + 1]
        j = 0
        while j + 4 <= k:
            s0 = s1 = s2 = s3 = 0.0
            for i in range(start, end):
                c = cols[i]
                s0 += log_err[c, j]
                s1 += log_err[c, j + 1]
                s2 += log_err[c, j + 2]
                s3 += log_err[c, j + 3]
            d[t, j], d[t, j + 1], d[t, j + 2], d[t, j + 3] = s0, s1, s2, s3
            j += 4
        if j + 2 <= k:
            s0 = s1 = 0.0
            for i in range(start, end):
                c = cols[i]
                s0 += log_err[c, j]
                s1 += log_err[c, j + 1]
            d[t, j], d[t, j + 1] = s0, s1
            j += 2
        if j < k:
            s0 = 0.0
            for i in range(start, end):
                s0 += log_err[cols[i], j]
            d[t, j] = s0
        m = d[t, 0] + log_prior[0]
        for j in range(k):
            d[t, j] += log_prior[j]
            if d[t, j] > m:
                m = d[t, j]
        for j in range(k):
            d[t, j] -= m


@_jit
def ds_normalize_and_count(indptr, cols, d, gold, q, counts, q_sum):
    """E-step, second half, and the next M-step's counts: q holds exp(d) on entry (numpy's vectorised exp);
    each row is divided by its sum (gold tasks, gold[t] >= 0, clamped to one-hot), then counts = A.T @ q and
    q_sum = the column sums of q. Returns sum(q * log q), the entropy term of the bound (0 for clamped rows)."""
    n_tasks, k = q.shape
    counts[:] = 0.0
    q_sum[:] = 0.0
    neg_entropy = 0.0
    prod = 1.0  # product of the row totals, folded into neg_entropy as one log now and then
    for t in range(n_tasks):
        g = gold[t]
        if g >= 0:
            for j in range(k):
                q[t, j] = 0.0
            q[t, g] = 1.0
        else:
            total = 0.0
            for j in range(k):
                total += q[t, j]
            acc = 0.0
            for j in range(k):
                q[t, j] /= total
                acc += q[t, j] * d[t, j]
            neg_entropy += acc  # sum_j q_j log q_j = sum_j q_j d_j - log(total), as sum_j q_j = 1
            prod *= total
            if prod > 1e250:
                neg_entropy -= math.log(prod)
                prod = 1.0
    neg_entropy -= math.log(prod)
    for t in range(n_tasks):
        for j in range(k):
            q_sum[j] += q[t, j]
    _scatter(indptr, cols, q, counts)
    return neg_entropy


def warm_up() -> None:
    """Call every kernel once on tiny inputs of the dtypes the methods pass, so that loading them from numba's
    on-disk cache (or compiling them, the first time on a machine) happens here, once, not inside a fit."""
    codes = np.zeros(2, dtype=np.int32)
    indptr, cols = csr_by_task(codes, codes, codes, 1, 2)
    q = np.full((1, 2), 0.5)
    counts = ds_counts(indptr, cols, q, 2)
    d = np.empty_like(q)
    ds_shifted_scores(indptr, cols, np.zeros((2, 2)), np.zeros(2), d)
    ds_normalize_and_count(indptr, cols, d, np.full(1, -1, dtype=np.int32), q, counts, np.zeros(2))
