"""The shared tiny GPT (mlpractice/tinygpt.py): committed checkpoints from the current recipe, of visibly
different quality, byte tokens that round-trip any text, and a training run that repeats bit for bit."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from mlpractice import tinygpt, tinygpt_train

pytestmark = pytest.mark.scaffold


@pytest.mark.parametrize("name", ["early", "late"])
def test_each_checkpoint_comes_from_the_current_recipe(name):
    meta = tinygpt.metadata(name)
    assert meta["recipe"] == tinygpt_train.RECIPE and meta["recipe_sha"] == tinygpt_train.recipe_sha(), \
        "the recipe changed: retrain with python -m mlpractice.tinygpt_train and commit the checkpoints"
    assert meta["weights_sha"] == tinygpt_train.weights_sha(tinygpt.load(name))


def test_the_late_checkpoint_is_much_better_on_held_out_text():
    early, late = (tinygpt_train.heldout_bits_per_byte(tinygpt.load(n)) for n in ("early", "late"))
    assert late < early - 1.0 and late < 2.8, (early, late)
    assert early == pytest.approx(tinygpt.metadata("early")["heldout_bits_per_byte"], abs=1e-3)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_byte_tokens_round_trip_any_text(text):
    ids = tinygpt.encode(text)
    assert ids[0] == tinygpt.EOT and all(0 <= i < 256 for i in ids[1:]) and tinygpt.decode(ids) == text


def test_the_model_refuses_more_than_its_context():
    model = tinygpt.load("early")
    with torch.no_grad():
        assert model(torch.zeros(2, model.config.context, dtype=torch.long)).shape == (2, model.config.context, 257)
        with pytest.raises(ValueError, match="longer than the model's context"):
            model(torch.zeros(1, model.config.context + 1, dtype=torch.long))
    with pytest.raises(ValueError, match="choose one of"):
        tinygpt.load("middle")


@pytest.mark.timeout(120)
def test_training_repeats_bit_for_bit():
    # the recipe's first steps twice: the same bits, as `python -m mlpractice.tinygpt_train --check` needs
    first, second = (tinygpt_train.train(steps=8)["late"] for _ in range(2))
    assert tinygpt_train.weights_sha(first) == tinygpt_train.weights_sha(second)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(max_size=50), min_size=1, max_size=6))
def test_batched_scoring_equals_one_window_at_a_time(texts):
    from mlpractice.impl import load

    lm = load("llm_eval").TinyGPTLM("late")
    windows = [lm.tokenize(t)[:lm.max_length] for t in texts]
    for batched, single in zip(lm.log_probs_batch(windows), (lm.log_probs(w) for w in windows)):
        assert len(batched) == len(single) and all(abs(a - b) < 1e-5 for a, b in zip(batched, single))
