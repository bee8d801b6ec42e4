"""1.9: a pairwise judge asked in both orders: strict verdicts, position bias, agreement, Cohen's kappa."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from mlpractice.data.llm_eval import judge_pairs
from mlpractice.impl import load

llm_eval = load("llm_eval")
judge = load("llm_eval").judge
pytestmark = pytest.mark.exercise("1.9", "a pairwise judge with position bias and Cohen's kappa")

LABELS = ("x", "y", "tie")


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, abs=1e-12)


# ---------------------------------------------------------------- parsing
@pytest.mark.parametrize("raw, parsed", [
    ("A", "A"), ("B", "B"), ("tie", "tie"), (" a\n", "A"), ("TIE", "tie"), ("Tie ", "tie"),
    ("[[A]]", "A"), ("[[b]]", "B"), ("[[C]]", "tie"), ("  [[C]]\n", "tie"),
])
def test_well_formed_verdicts_parse(raw, parsed):
    assert judge.parse_verdict(raw) == parsed


@pytest.mark.parametrize("raw", [
    "Answer A is better.", "A.", "Answer: A", "AB", "A or B", "[[D]]", "[A]", "tied", "", "   ", "C",
    None, 1, b"A", ["A"],
])
def test_malformed_verdicts_are_invalid_never_guessed(raw):
    assert judge.parse_verdict(raw) is None


# ---------------------------------------------------------------- one item
def reference_item(first, second, label):
    """The same rule in other words: ask which system each order chose."""
    if first is None or second is None:
        return {"invalid": 1}
    chose_1 = {"A": "x", "B": "y"}.get(first, "tie")       # x was shown first
    chose_2 = {"A": "y", "B": "x"}.get(second, "tie")      # y was shown first
    verdict = chose_1 if chose_1 == chose_2 else "tie"
    return {"verdict": verdict, "flip": chose_1 != chose_2, "first": first == "A" and second == "A",
            "second": first == "B" and second == "B", "label": label}


@pytest.mark.parametrize("first, second, label",
                         list(itertools.product(["A", "B", "tie", None], ["A", "B", "tie", None], [*LABELS, None])))
def test_every_pair_of_verdicts_maps_to_the_systems(first, second, label):
    s = judge.item_stats(first, second, label)
    ref = reference_item(first, second, label)
    assert isinstance(s, judge.JudgeStats) and s.items == 1
    if "invalid" in ref:
        assert s == judge.JudgeStats(items=1, invalid=1)
        return
    assert (s.invalid, s.x, s.y, s.tie) == (0, ref["verdict"] == "x", ref["verdict"] == "y", ref["verdict"] == "tie")
    assert (s.flips, s.first, s.second) == (ref["flip"], ref["first"], ref["second"])
    expected = [0] * 9
    if label is not None:
        expected[3 * LABELS.index(ref["verdict"]) + LABELS.index(label)] = 1
    assert list(s.confusion) == expected


def test_a_judge_that_always_answers_a_flips_every_time():
    """The case a forgotten swap misses: "A" then "A" is x, then y, so a flip and a tie."""
    s = judge.item_stats("A", "A", "x")
    assert (s.x, s.y, s.tie, s.flips, s.first) == (0, 0, 1, 1, 1)


# ---------------------------------------------------------------- kappa against sklearn
def kappa_of(pairs):
    c = [[0] * 3 for _ in range(3)]
    for a, b in pairs:
        c[LABELS.index(a)][LABELS.index(b)] += 1
    return judge.cohen_kappa(c)


def sklearn_kappa(pairs):
    import warnings

    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one label on both sides: sklearn warns and returns nan
        return float(cohen_kappa_score([a for a, _ in pairs], [b for _, b in pairs]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS)), min_size=1, max_size=80))
@example([("x", "x")] * 5)                       # both raters use one label: p_e = 1, kappa undefined (nan)
@example([("x", "x"), ("y", "y"), ("tie", "tie")])   # perfect agreement: 1
@example([("x", "y"), ("y", "x")])               # perfect disagreement: -1
@example([("x", "x")] * 9 + [("x", "y")])        # one rater constant: kappa 0, not nan
def test_kappa_equals_sklearn(pairs):
    ours = kappa_of(pairs)
    assert isinstance(ours, float)
    assert same(ours, sklearn_kappa(pairs))


def test_kappa_of_no_items_is_nan():
    assert math.isnan(judge.cohen_kappa([[0, 0], [0, 0]]))


def test_kappa_works_on_any_square_size():
    # two labels, a textbook example: p_o = 0.7, p_e = 0.5, kappa = 0.4
    assert judge.cohen_kappa([[20, 5], [10, 15]]) == pytest.approx(0.4, abs=1e-12)


# ---------------------------------------------------------------- the evaluation
def items_of(pairs):
    return [judge.JudgeItem(*p) for p in pairs]


def scores_from_table(prompts, scores, margin):
    """For BiasedJudge over a table of answer scores: each item's outcome predicted by hand."""
    flips = x = y = tie = 0
    for p in prompts:
        a, b = scores[(p, "x")], scores[(p, "y")]
        if abs(a - b) <= margin:
            flips, tie = flips + 1, tie + 1
        elif a > b:
            x += 1
        else:
            y += 1
    return flips, x, y, tie


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=40), st.sampled_from([0, 1, 3]))
@example([(5, 5), (9, 2), (2, 9)], 0)   # one exact tie in score: the judge says A twice, a flip
def test_the_biased_judges_position_bias_is_the_share_of_close_pairs(score_pairs, margin):
    prompts = [f"p{i}" for i in range(len(score_pairs))]
    table = {}
    for p, (a, b) in zip(prompts, score_pairs):
        table[(p, f"{p}-x")], table[(p, f"{p}-y")] = a, b
    j = judge.BiasedJudge(lambda prompt, answer: table[(prompt, answer)], margin=margin)
    r = judge.evaluate_judge(j, items_of([(p, f"{p}-x", f"{p}-y", None) for p in prompts]), n_samples=50)
    flips, x, y, tie = scores_from_table(prompts, {(p, s): table[(p, f"{p}-{s}")] for p in prompts for s in "xy"}, margin)
    n = len(prompts)
    assert (r.stats.flips, r.stats.x, r.stats.y, r.stats.tie) == (flips, x, y, tie)
    assert r.scores["position_bias"] == pytest.approx(flips / n) and r.scores["first_position"] == pytest.approx(flips / n)
    assert r.scores["win_rate"] == pytest.approx((x + tie / 2) / n)
    assert math.isnan(r.scores["agreement"]) and math.isnan(r.scores["kappa"])  # no labels


def test_a_judge_that_always_answers_a():
    r = judge.evaluate_judge(lambda p, a, b: "A", items_of(judge_pairs(n=30)), n_samples=50)
    assert r.scores["position_bias"] == 1.0 and r.scores["first_position"] == 1.0
    assert r.scores["win_rate"] == 0.5 and r.scores["tie_rate"] == 1.0


def test_an_order_blind_judge_has_no_position_bias_and_agrees_with_sklearn():
    pairs = judge_pairs(n=60, seed=3)
    truth = {(p, a, b): lab for p, a, b, lab in pairs}

    def oracle_like(prompt, a, b):  # knows the text's own answer; blind to the order it is shown in
        key = (prompt, a, b) if (prompt, a, b) in truth else (prompt, b, a)
        lab = truth[key]
        if lab == "tie":
            return "tie"
        own = key[1] if lab == "x" else key[2]
        return "A" if a == own else "B"

    r = judge.evaluate_judge(oracle_like, items_of(pairs), n_samples=50)
    assert r.scores["position_bias"] == 0.0 and r.scores["agreement"] == 1.0 and r.scores["kappa"] == 1.0
    verdicts = [rec["verdict"] for rec in r.records]
    assert verdicts == [lab for *_, lab in pairs]


def test_agreement_and_kappa_equal_sklearn_on_the_valid_labelled_items():
    from sklearn.metrics import cohen_kappa_score

    pairs = judge_pairs(n=80, seed=5)
    j = judge.BiasedJudge(lambda p, a: (len(a.split()) + sum(map(ord, a)) % 7) / 10, margin=0.1, malformed=0.2)
    r = judge.evaluate_judge(j, items_of(pairs), n_samples=50)
    kept = [(rec["verdict"], lab) for rec, (*_, lab) in zip(r.records, pairs) if rec["verdict"] is not None]
    assert 0 < r.stats.invalid < len(pairs)
    assert r.scores["invalid_rate"] == pytest.approx(r.stats.invalid / len(pairs))
    assert r.scores["agreement"] == pytest.approx(np.mean([v == lab for v, lab in kept]), abs=1e-12)
    assert r.scores["kappa"] == pytest.approx(cohen_kappa_score(*zip(*kept)), abs=1e-12)


def test_malformed_verdicts_are_counted_as_invalid_and_in_nothing_else():
    pairs = judge_pairs(n=40, seed=1)
    r = judge.evaluate_judge(lambda p, a, b: "Answer A is better.", items_of(pairs), n_samples=50)
    assert r.stats.invalid == r.stats.items == 40 and r.scores["invalid_rate"] == 1.0
    assert all(math.isnan(r.scores[k]) for k in ("win_rate", "position_bias", "agreement", "kappa"))
    assert all(rec["verdict"] is None and rec["raw"] == ("Answer A is better.",) * 2 for rec in r.records)


def test_one_invalid_order_makes_the_whole_item_invalid():
    calls = []

    def second_order_broken(prompt, a, b):
        calls.append(a)
        return "A" if a == "good" else "???"

    r = judge.evaluate_judge(second_order_broken, [judge.JudgeItem("q", "good", "bad", "x")], n_samples=20)
    assert calls == ["good", "bad"]  # asked in both orders, x first
    assert (r.stats.invalid, r.stats.x, sum(r.stats.confusion)) == (1, 0, 0)


def bootstrap_by_hand(per_item, n_samples, seed, key):
    idx = np.random.default_rng(seed).choice(len(per_item), size=(n_samples, len(per_item)), replace=True)
    values = []
    for row in idx:
        total = sum((per_item[i] for i in row), judge.JudgeStats())
        values.append(judge.judge_scores(total)[key])
    values = np.sort([v for v in values if not math.isnan(v)])
    k = len(values) // 40
    return values[k], values[len(values) - k - 1]


def test_intervals_are_the_items_bootstrap():
    pairs = judge_pairs(n=50, seed=2)
    j = judge.BiasedJudge(lambda p, a: sum(map(ord, a)) % 5, margin=1, malformed=0.1)
    r = judge.evaluate_judge(j, items_of(pairs), n_samples=200, seed=7)
    per_item = [judge.item_stats(*rec["parsed"], lab) for rec, (*_, lab) in zip(r.records, pairs)]
    for key in ("win_rate", "position_bias", "kappa", "invalid_rate"):
        assert r.intervals[key] == pytest.approx(bootstrap_by_hand(per_item, 200, 7, key), abs=1e-12)
        low, high = r.intervals[key]
        assert low <= r.scores[key] <= high
    assert str(r.signature) == f"judge:biased|orders:both|flip:tie|ci:95%|bs:200|seed:7"


@pytest.mark.scaffold  # input validation is scaffolding: it works in the starter too
@pytest.mark.parametrize("items, problem", [
    ([], "at least one item"),
    ([("q", "a", "b", "A")], "label"),
    ([("q", None, "b", "x")], "answer_x"),
    ([("q", "a", 3, None)], "answer_y"),
])
def test_bad_input_is_refused_naming_the_problem(items, problem):
    with pytest.raises(ValueError, match=problem):
        judge.evaluate_judge(lambda p, a, b: "A", [judge.JudgeItem(*it) for it in items])


@pytest.mark.scaffold
def test_bad_bootstrap_size_is_refused():
    with pytest.raises(ValueError, match="n_samples"):
        judge.evaluate_judge(lambda p, a, b: "A", items_of(judge_pairs(n=3)), n_samples=0)


@pytest.mark.timeout(60)
def test_the_likelihood_judge_on_the_tiny_gpt():
    """Order-blind by construction; the late checkpoint agrees with the text far more than the early."""
    items = items_of(judge_pairs())
    late = judge.evaluate_judge(judge.LikelihoodJudge(llm_eval.TinyGPTLM("late")), items, n_samples=100)
    early = judge.evaluate_judge(judge.LikelihoodJudge(llm_eval.TinyGPTLM("early")), items, n_samples=100)
    assert late.scores["position_bias"] == early.scores["position_bias"] == 0.0
    assert late.scores["agreement"] > 0.9 and early.scores["agreement"] < 0.8
    assert late.scores["kappa"] > early.scores["kappa"] + 0.2
