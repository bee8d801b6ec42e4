"""EvalTracker on SQLite: history and the regression check."""
import pytest

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
