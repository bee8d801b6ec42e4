"""EvalTracker on SQLite: history and the regression check."""
import dataclasses
import math

import numpy as np
import pytest
from hypothesis import Phase, example, given, settings, strategies as st

from mlpractice.impl import load

llm_eval = load("llm_eval")
pytestmark = pytest.mark.exercise("1.8", "tracking and regression check (stretch)")

REFS = [f"the answer to question {i} is {i * 7}" for i in range(40)]
DATA = [{"reference": r} for r in REFS]


def run(predictions, name="m"):
    return llm_eval.Evaluator(["exact_match", "bleu"]).evaluate(predictions, DATA, model_name=name)


def test_significant_drop_is_flagged_and_small_change_is_not(tmp_path):
    tracker = llm_eval.EvalTracker(tmp_path / "runs.sqlite")
    good = run(REFS)
    tracker.log(good, timestamp=1.0)
    slightly_worse = run(REFS[:-1] + ["wrong"])
    flags = {r.metric: r for r in tracker.check_regression(slightly_worse)}
    assert set(flags) == {"exact_match", "bleu"}
    assert not flags["exact_match"].significant
    bad = run(["wrong answer"] * 30 + REFS[30:])
    flags = {r.metric: r for r in tracker.check_regression(bad)}
    assert flags["exact_match"].significant and flags["bleu"].significant
    assert flags["exact_match"].previous == 1.0 and flags["exact_match"].current == 0.25


def test_only_runs_with_the_same_signature_are_baselines(tmp_path):
    tracker = llm_eval.EvalTracker(tmp_path / "runs.sqlite")
    tracker.log(run(REFS), timestamp=1.0)
    intl = llm_eval.Evaluator({"bleu": llm_eval.get_metric("bleu", tokenize="intl")}).evaluate(
        ["x"] * 40, DATA, model_name="m")
    assert tracker.check_regression(intl) == []
    history = tracker.history(model="m")
    assert list(history["metric"]) == ["bleu", "exact_match"]
    assert (history["ci_low"] <= history["value"]).all() and (history["value"] <= history["ci_high"]).all()


class ErrorRate(llm_eval.Metric):
    """Share of items whose prediction is not the reference: a lower-is-better metric (like perplexity)."""

    name = "error_rate"
    higher_is_better = False

    def item_stats(self, prediction, reference):
        return llm_eval.Sums((int(prediction != reference), 1))

    def score(self, stats):
        errors, n = stats or (0, 0)
        return {"score": errors / n if n else 0.0}


def run_items(correct, name="m"):
    """exact_match (higher is better) and error_rate (lower is better) of a run that gets `correct` right."""
    refs = [f"answer {i}" for i in range(len(correct))]
    evaluator = llm_eval.Evaluator({"exact_match": llm_eval.get_metric("exact_match"), "error_rate": ErrorRate()})
    return evaluator.evaluate([r if ok else "wrong" for r, ok in zip(refs, correct)],
                              [{"reference": r} for r in refs], model_name=name)


def flags_of(before, after):
    tracker = llm_eval.EvalTracker(":memory:")
    tracker.log(before, timestamp=1.0)
    return {r.metric: r for r in tracker.check_regression(after)}


def bootstrap_interval(correct, n_samples=200, seed=12345):
    """The tracker's 95% interval of a mean of 0/1 items, computed here with numpy alone."""
    values = np.array(correct, dtype=float)
    indices = np.random.default_rng(seed).choice(len(values), size=(n_samples, len(values)), replace=True)
    scores = np.sort(values[indices].mean(axis=1))
    return scores[n_samples // 40], scores[n_samples - n_samples // 40 - 1]


def test_improvements_are_never_flagged():
    """A large, significant improvement, in either direction of "better": nothing to flag."""
    worse, better = [True] * 10 + [False] * 30, [True] * 40
    flags = flags_of(run_items(worse), run_items(better))
    assert flags["exact_match"].current == 1.0 and flags["error_rate"].current == 0.0
    assert flags["exact_match"].current_ci[0] > flags["exact_match"].previous_ci[1]  # disjoint, but better
    assert not flags["exact_match"].significant and not flags["error_rate"].significant


def test_lower_is_better_metric_flags_a_rise_not_a_fall():
    good, bad = [True] * 40, [True] * 10 + [False] * 30
    rise = flags_of(run_items(good), run_items(bad))["error_rate"]
    assert (rise.previous, rise.current) == (0.0, 0.75) and rise.significant
    fall = flags_of(run_items(bad), run_items(good))["error_rate"]
    assert not fall.significant


def test_nan_intervals_are_never_significant():
    """A result without per-item statistics (streamed, or logged from elsewhere) has no interval."""
    good, bad = run_items([True] * 40), run_items([False] * 40)
    no_items = dataclasses.replace(bad, item_stats={})
    for flag in flags_of(good, no_items).values():
        assert all(math.isnan(x) for x in flag.current_ci) and not flag.significant
    for flag in flags_of(dataclasses.replace(good, item_stats={}), bad).values():  # the stored run has none
        assert not flag.significant
    tracker = llm_eval.EvalTracker(":memory:")
    tracker.log(no_items, timestamp=1.0)
    assert tracker.history()["ci_half"].isna().all()


def test_flag_is_the_interval_test_not_a_point_drop():
    """Significant means disjoint 95% intervals, however small or large the drop of the point estimate."""
    wide = flags_of(run_items([True, False] * 20), run_items([True, False, False, True, False] * 8))
    assert wide["exact_match"].previous - wide["exact_match"].current == pytest.approx(0.1)  # a drop of 0.1,
    assert not wide["exact_match"].significant and not wide["error_rate"].significant  # but overlapping
    narrow = flags_of(run_items([True] * 400), run_items([True] * 392 + [False] * 8))
    assert narrow["exact_match"].current == pytest.approx(0.98)  # a drop of only 0.02, but disjoint intervals
    assert narrow["exact_match"].significant and narrow["error_rate"].significant


@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.generate])  # no shrinking: fails fast
@given(st.integers(5, 60).flatmap(lambda n: st.tuples(st.lists(st.booleans(), min_size=n, max_size=n),
                                                      st.lists(st.booleans(), min_size=n, max_size=n))))
@example(([True] * 40, [True] * 39 + [False]))  # intervals that touch at 1.0 are not disjoint
@example(([True, False] * 20, [True, False, False, True, False] * 8))  # a drop of 0.1, overlapping
@example(([True] * 10 + [False] * 30, [True] * 40))  # a significant improvement
@example(([True] * 40, [True] * 10 + [False] * 30))  # a significant regression
def test_flag_iff_intervals_are_disjoint_in_the_worse_direction(runs):
    before, after = runs
    flags = flags_of(run_items(before), run_items(after))
    (lo_before, hi_before), (lo_after, hi_after) = bootstrap_interval(before), bootstrap_interval(after)
    match = flags["exact_match"]
    assert match.previous_ci == pytest.approx((lo_before, hi_before)) and match.current_ci == pytest.approx(
        (lo_after, hi_after))
    assert match.significant == (hi_after < lo_before)
    errors = flags["error_rate"]  # error rate = 1 - exact match: its intervals are the mirror image
    assert errors.significant == (1 - hi_after > 1 - lo_before) == match.significant
