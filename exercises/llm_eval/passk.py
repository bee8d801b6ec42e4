# Starter code generated from solutions/llm_eval/passk.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=1` restores this file.
"""pass@k for generated code: the unbiased estimator and its mean over problems.

Codex (Chen et al. 2021) draws n >= k samples per problem, counts the c that pass the problem's
tests, and estimates the chance that at least one of k samples passes as

    pass@k = 1 - C(n - c, k) / C(n, k)

which is unbiased: its expectation over the draws is exactly 1 - (1 - p)^k for a problem each
sample solves with probability p. The naive 1 - (1 - c/n)^k is not (it underestimates). The
binomials overflow floats long before n = 200, so the ratio is computed as the product
prod_{i = n-c+1}^{n} (1 - k / i), which never leaves [0, 1]. The benchmark's number is the mean
of pass@k over problems; its signature names k and n.
"""
from __future__ import annotations

import math
from collections.abc import Sequence


def check_counts(n, c, k) -> None:
    for name, value in (("n", n), ("c", c), ("k", k)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"pass@k needs integer counts: {name} is {type(value).__name__} {value!r}")
    if not 0 <= c <= n:
        raise ValueError(f"the passing samples c={c} must be between 0 and the samples n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and the samples n={n} (draw at least k samples per problem)")


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate 1 - C(n-c, k) / C(n, k) of the chance that one of k samples passes,
    from n samples of which c passed; 1.0 when n - c < k (every k-subset holds a passing sample).
    Computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i), within 1e-12 of the exact value for n <= 200.
    ValueError unless n, c, k are integers with 0 <= c <= n and 1 <= k <= n."""
    check_counts(n, c, k)
    # Exercise 1.10: the unbiased, numerically stable estimator.
    # Hint: C(n-c, k) / C(n, k) = prod over i from n-c+1 to n of (1 - k / i); no factorials.
    raise NotImplementedError('Exercise 1.10: the unbiased, numerically stable estimator - see notebooks/01_llm_evaluation.ipynb, section 10')


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """The mean over problems of pass_at_k(n, c, k), `counts` holding each problem's (n, c)."""
    if not counts:
        raise ValueError("mean_pass_at_k needs at least one problem's (n, c)")
    return math.fsum(pass_at_k(n, c, k) for n, c in counts) / len(counts)


def signature(k: int, n: int) -> str:
    """What a pass@k number needs beside it: k, the samples per problem (-1: it varies) and the estimator."""
    return f"metric:pass@{k}|n:{'var' if n == -1 else n}|estimator:unbiased"
