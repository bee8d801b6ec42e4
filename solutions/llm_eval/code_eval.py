"""pass@k of a code model: every sample run in the sandbox against its task's tests, then the estimator."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .passk import mean_pass_at_k, pass_at_k, signature
from .sandbox import Limits, SampleResult, run_sample


@dataclass(frozen=True)
class CodeEvalResult:
    pass_at: dict[int, float]            # k -> mean pass@k over the tasks
    per_task: list[dict]                 # task, n, c, pass@k for each k, how the samples ended
    results: dict[str, list[SampleResult]]
    signature: str


def evaluate_code(samples: Mapping[str, Sequence[str]], tests: Mapping[str, str], ks: Sequence[int] = (1,),
                  limits: Limits = Limits(), workers: int = 2) -> CodeEvalResult:
    """Run every program of `samples` (task -> its n programs) against `tests[task]` in the sandbox,
    `workers` at a time (each waits on its own process), and estimate pass@k for every k of `ks`."""
    missing = sorted(set(samples) - set(tests))
    if missing:
        raise ValueError(f"no tests for the tasks {missing}")
    sizes = {len(programs) for programs in samples.values()}
    if not samples or 0 in sizes:
        raise ValueError("every task needs at least one sample")
    jobs = [(task, program) for task, programs in samples.items() for program in programs]
    with ThreadPoolExecutor(workers) as pool:
        done = list(pool.map(lambda job: run_sample(job[1], tests[job[0]], limits), jobs))
    results: dict[str, list[SampleResult]] = {task: [] for task in samples}
    for (task, _), result in zip(jobs, done):
        results[task].append(result)
    counts = {task: (len(rs), sum(r.passed for r in rs)) for task, rs in results.items()}
    per_task = [{"task": task, "n": n, "c": c, **{f"pass@{k}": pass_at_k(n, c, k) for k in ks},
                 "ended": dict(Counter(r.status for r in results[task]))} for task, (n, c) in counts.items()]
    n = sizes.pop() if len(sizes) == 1 else -1
    return CodeEvalResult({k: mean_pass_at_k(list(counts.values()), k) for k in ks}, per_task, results,
                          "|".join(signature(k, n) for k in ks))
