"""Incremental aggregates: add, FIFO remove and merge against recomputation from scratch."""
import math
import statistics
from collections import deque
from fractions import Fraction

import pytest
from hypothesis import example, given, settings, strategies as st

from mlpractice.impl import load

from .oracles import amounts, close

features = load("features")
pytestmark = pytest.mark.exercise("4.1", "incremental aggregates")

NAMES = ["count", "sum", "mean", "var", "std", "min", "max", "last", "distinct"]


def expected(name, values):
    if name == "count":
        return len(values)
    if name == "distinct":
        return len(set(values))
    if not values:
        return 0.0 if name == "sum" else math.nan
    if name == "sum":
        return float(sum(Fraction(v) for v in values))
    if name == "mean":
        return float(sum(Fraction(v) for v in values) / len(values))
    if name in ("var", "std"):
        if len(values) < 2:
            return math.nan
        var = float(statistics.variance([Fraction(v) for v in values]))
        return var if name == "var" else math.sqrt(var)
    return {"min": min, "max": max, "last": lambda v: v[-1]}[name](values)


def check(name, got, values, seen=()):
    """`got` equals the exact aggregate of `values`, within rounding at the scale of the data; with
    removal that is the largest value that passed through (`seen`): removing 4999.99 from a float
    state leaves rounding of that size behind, even when only zeros remain."""
    want = expected(name, values)
    scale = max((abs(v) for v in [*values, *seen]), default=1.0)
    if name == "std":  # sqrt amplifies rounding near 0: compare variances at the data's scale
        if math.isnan(want):
            assert math.isnan(got)
        else:
            assert abs(got * got - want * want) <= 1e-9 * max(1.0, scale * scale), (name, got, want, values)
        return
    if name == "var":
        assert close(got, want, scale * scale), (name, got, want, values)
    else:
        assert close(got, want, scale), (name, got, want, values)


ops = st.lists(st.one_of(amounts, st.just("remove")), max_size=80)


@settings(max_examples=150, deadline=None)
@given(ops)
@example([0.0, 0.0, 4999.99, "remove", 0.0, "remove", 0.0, "remove"])  # only zeros left after a large value
def test_add_and_fifo_remove_match_recomputation(operations):
    aggs = {name: features.make_aggregate(name) for name in NAMES}
    inside = deque()
    seen = []  # every value added so far
    for op in operations:
        if op == "remove":
            if not inside:
                continue
            old = inside.popleft()
            for agg in aggs.values():
                agg.remove(old)
        else:
            inside.append(op)
            seen.append(op)
            for agg in aggs.values():
                agg.add(op)
        for name, agg in aggs.items():
            check(name, agg.result(), list(inside), seen)


@pytest.mark.scaffold  # `merge` is provided (sessions use it): kept true here, not graded
@settings(max_examples=100, deadline=None)
@given(st.lists(amounts, max_size=30), st.lists(amounts, max_size=30))
def test_merge_equals_one_pass(first, second):
    for name in NAMES:
        a, b = features.make_aggregate(name), features.make_aggregate(name)
        for x in first:
            a.add(x)
        for x in second:
            b.add(x)
        a.merge(b)
        check(name, a.result(), first + second)


@settings(max_examples=50, deadline=None)
@given(st.lists(amounts, min_size=1, max_size=30), st.lists(amounts, min_size=1, max_size=30))
def test_merged_min_max_keep_evicting_in_order(first, second):
    """After a merge the monotonic deque still evicts the oldest values first."""
    for name in ("min", "max"):
        a, b = features.make_aggregate(name), features.make_aggregate(name)
        for x in first:
            a.add(x)
        for x in second:
            b.add(x)
        a.merge(b)
        values = first + second
        for k in range(1, len(values)):
            a.remove(values[k - 1])
            check(name, a.result(), values[k:])


def test_welford_survives_values_near_1e9():
    """Sum of squares cancels catastrophically here; Welford with removal does not."""
    values = [1e9 + v for v in [4, 7, 13, 16, 5, 9, 11, 2, 8, 3, 14, 6] * 5]
    window = 7
    agg = features.make_aggregate("var")
    naive_errors = []
    for i, x in enumerate(values):
        agg.add(x)
        if i >= window:
            agg.remove(values[i - window])
        inside = values[max(0, i - window + 1): i + 1]
        if len(inside) < 2:
            continue
        exact = float(statistics.variance([Fraction(v) for v in inside]))
        assert abs(agg.result() - exact) <= 1e-6 * exact, (i, agg.result(), exact)
        n, s, ss = len(inside), sum(inside), sum(v * v for v in inside)
        naive = (ss - s * s / n) / (n - 1)
        naive_errors.append(abs(naive - exact) / exact)
    assert max(naive_errors) > 0.5  # why the exercise asks for Welford: the textbook formula is garbage here


def test_remove_from_empty_min_is_an_error():
    agg = features.make_aggregate("max")
    agg.add(1.0)
    agg.remove(1.0)
    with pytest.raises(ValueError):
        agg.remove(1.0)
