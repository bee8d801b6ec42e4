"""pass@k: the unbiased estimator against exact rational arithmetic, and pass@k of sandboxed samples."""
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.data import code_tasks
from mlpractice.impl import load

llm_eval = load("llm_eval")
pytestmark = pytest.mark.exercise("1.10", "pass@k with sandboxed execution")


def exact(n, c, k) -> Fraction:
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


def test_equals_exact_fractions_for_every_n_and_c_up_to_200_at_the_ks_people_report():
    # every n <= 200 and c <= n at k = 1, 2, 5, 10, 20, 50, 100 and n (about 170,000 cases), within 1e-12
    worst, cases = 0.0, 0
    for n in range(1, 201):
        for k in sorted({1, 2, 5, 10, 20, 50, 100, n} & set(range(1, n + 1))):
            total = math.comb(n, k)
            for c in range(n + 1):
                ours = llm_eval.pass_at_k(n, c, k)
                cases += 1
                if abs(ours - (1 - math.comb(n - c, k) / total)) > 1e-13:  # only then the slow exact check
                    worst = max(worst, abs(ours - float(exact(n, c, k))))
    assert cases > 150_000 and worst <= 1e-12, worst


@settings(max_examples=500, deadline=None)
@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_equals_exact_fractions_for_any_n_c_k_up_to_200(nck):
    n, c, k = nck
    assert abs(llm_eval.pass_at_k(n, c, k) - float(exact(n, c, k))) <= 1e-12


@pytest.mark.parametrize("n, c, k, expected", [
    (2, 1, 2, Fraction(1)),           # every 2-subset of 2 holds the passing sample: the naive 1-(1-c/n)^k says 0.75
    (10, 0, 5, Fraction(0)),
    (10, 10, 1, Fraction(1)),
    (200, 1, 1, Fraction(1, 200)),    # 1 - prod(1 - k/i) loses nothing here
    (200, 3, 100, exact(200, 3, 100)),
    (5, 2, 3, Fraction(9, 10)),       # 1 - C(3,3)/C(5,3) = 1 - 1/10
])
def test_pinned_values(n, c, k, expected):
    assert math.isclose(llm_eval.pass_at_k(n, c, k), float(expected), rel_tol=0, abs_tol=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))),
       st.fractions(0, 1, max_denominator=20))
def test_the_estimator_is_unbiased(nk, p):
    # E over c ~ Binomial(n, p) of the estimate equals 1 - (1 - p)^k exactly (in exact arithmetic; here
    # the float estimates, weighted exactly, within 1e-12)
    n, k = nk
    expectation = sum(Fraction(math.comb(n, c)) * p ** c * (1 - p) ** (n - c) * Fraction(llm_eval.pass_at_k(n, c, k))
                      for c in range(n + 1))
    assert abs(float(expectation) - float(1 - (1 - p) ** k)) < 1e-12


@pytest.mark.scaffold  # input validation is scaffolding: it works in the starter too
@pytest.mark.parametrize("n, c, k, needle", [
    (5, 6, 1, "between 0 and the samples"), (5, -1, 1, "between 0 and the samples"),
    (5, 2, 0, "k=0 must be between 1"), (5, 2, 6, "k=6 must be between 1"),
    (5.0, 2, 1, "integer counts: n is float"), (5, True, 1, "integer counts: c is bool"),
])
def test_bad_counts_are_errors_naming_them(n, c, k, needle):
    with pytest.raises(ValueError, match=needle):
        llm_eval.pass_at_k(n, c, k)


@pytest.mark.timeout(120)
def test_pass_at_k_of_sandboxed_samples():
    tasks = {t.name: t for t in code_tasks.TASKS}
    samples = code_tasks.samples(seed=3, n=8)
    limits = llm_eval.Limits(wall_seconds=2, cpu_seconds=1)
    result = llm_eval.evaluate_code(samples, {name: t.tests for name, t in tasks.items()}, ks=(1, 5), limits=limits)
    for row in result.per_task:
        programs = samples[row["task"]]
        # a sample passes exactly when it is the task's correct program: wrong and hostile ones never do
        assert row["c"] == sum(p == tasks[row["task"]].correct for p in programs), row
        assert row["pass@1"] == pytest.approx(row["c"] / row["n"], abs=1e-12)
    assert result.pass_at[5] == pytest.approx(
        sum(llm_eval.pass_at_k(r["n"], r["c"], 5) for r in result.per_task) / len(result.per_task), abs=1e-12)
    assert result.signature == "metric:pass@1|n:8|estimator:unbiased|metric:pass@5|n:8|estimator:unbiased"
