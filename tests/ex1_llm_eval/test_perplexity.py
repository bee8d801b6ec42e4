"""Sliding-window perplexity against a brute-force token-by-token computation on a tiny GPT-2."""
import math

import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.impl import load

llm_eval = load("llm_eval")
pytestmark = pytest.mark.exercise("1.5", "perplexity with sliding windows (stretch)")

VOCAB = 61


class CharIds:
    """One id per character; like GPT-2's tokenizer it has an end-of-text token and no BOS."""

    bos_token_id, eos_token_id = None, 0

    def encode(self, text):
        return [1 + ord(c) % (VOCAB - 1) for c in text]


@pytest.fixture(scope="module")
def tiny_gpt2():
    # torch and transformers are imported here, not at the top: grading another part need not load them
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    torch.set_num_threads(1)  # tiny matrices: threads only add contention on a shared 2-core machine
    config = GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=16, n_layer=2, n_head=2,
                        bos_token_id=0, eos_token_id=0)
    return llm_eval.HFCausalLM(GPT2LMHeadModel(config), CharIds(), name="tiny-gpt2")


def brute_force(lm, ids, max_length, stride):
    """Token t is scored in window k = first window whose end is past t, context ids[k*stride:t]."""
    import torch

    total = 0.0
    with torch.no_grad():
        for t in range(1, len(ids)):
            k = 0 if t < max_length else (t - max_length) // stride + 1
            context = ids[k * stride:t]  # predicts ids[t] from the window so far
            logits = lm.model(torch.tensor([context])).logits[0, -1].double()
            total += torch.log_softmax(logits, -1)[ids[t]].item()
    return total, len(ids) - 1


TEXTS = ["The quick brown fox jumps over the lazy dog.", "ab", "x", "Perplexity counts each token once!"]


@pytest.mark.parametrize("max_length, stride", [(2, 1), (3, 2), (4, 1), (8, 3), (8, 7), (16, 5), (64, 63)])
def test_equals_brute_force_on_tiny_gpt2(tiny_gpt2, max_length, stride):
    result = llm_eval.perplexity(tiny_gpt2, TEXTS, max_length=max_length, stride=stride)
    loglik, count = 0.0, 0
    for text in TEXTS:  # the end-of-text prefix (id 0) is context only: every character is a target
        ll, n = brute_force(tiny_gpt2, [0] + CharIds().encode(text), max_length, stride)
        loglik, count = loglik + ll, count + n
    assert result.n_tokens == count == sum(map(len, TEXTS))
    assert result.nll == pytest.approx(-loglik / count, rel=1e-6)
    assert result.perplexity == pytest.approx(math.exp(-loglik / count), rel=1e-6)
    n_bytes = sum(len(t.encode()) for t in TEXTS)
    assert result.bits_per_byte == pytest.approx(-loglik / n_bytes / math.log(2), rel=1e-6)
    assert result.signature == f"model:tiny-gpt2|max_length:{max_length}|stride:{stride}"


def bits_per_byte_by_hand(lm, texts, max_length, stride):
    """The definition, computed token by token: -sum(log2 p of every text token, each predicted from the
    end-of-text prefix and the tokens before it in its window) / UTF-8 bytes of the texts."""
    loglik = sum(brute_force(lm, [0] + CharIds().encode(t), max_length, stride)[0] for t in texts)
    return -loglik / sum(len(t.encode()) for t in texts) / math.log(2)


SHORT = ["x", "é", "€", "", "ab"]  # one-token texts of 1, 2 and 3 bytes, an empty text, a two-token text


@pytest.mark.parametrize("max_length, stride", [(2, 1), (8, 3)])
def test_bits_per_byte_counts_only_scored_bytes_and_one_token_texts(tiny_gpt2, max_length, stride):
    """Every byte in the denominator belongs to a scored token: one-token texts are scored (from the
    prefix), so adding them neither leaves a NaN nor dilutes bits per byte with unscored bytes."""
    for texts in [TEXTS + SHORT, SHORT, ["x"], ["é"]]:
        result = llm_eval.perplexity(tiny_gpt2, texts, max_length=max_length, stride=stride)
        assert result.n_tokens == sum(map(len, texts))
        assert math.isfinite(result.perplexity) and math.isfinite(result.bits_per_byte), texts
        assert result.bits_per_byte == pytest.approx(bits_per_byte_by_hand(tiny_gpt2, texts, max_length, stride),
                                                     rel=1e-6)
        assert result.bits_per_byte == pytest.approx(result.nll * result.n_tokens / math.log(2)
                                                     / sum(len(t.encode()) for t in texts), rel=1e-9)
    nothing = llm_eval.perplexity(tiny_gpt2, [""], max_length=max_length, stride=stride)
    assert nothing.n_tokens == 0 and math.isnan(nothing.bits_per_byte)  # no scored byte: undefined, not 0.0


class Recorder:
    """A fake LM that records which targets each window was asked to score."""

    name = "recorder"

    def tokenize(self, text):
        return list(range(len(text) + 1))  # token 0 is the prefix, token t the t-th character

    def log_probs(self, ids):
        return [-float(i) for i in ids[1:]]  # log p of token t is -t, so the sum identifies the targets


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 60), st.integers(2, 12), st.data())
def test_every_token_scored_exactly_once(length, max_length, data):
    stride = data.draw(st.integers(1, max_length - 1))
    result = llm_eval.perplexity(Recorder(), ["x" * length], max_length=max_length, stride=stride)
    assert result.n_tokens == length
    if length:
        assert result.nll == pytest.approx(sum(range(1, length + 1)) / length)


def test_ngram_orders_improve_on_held_out_text():
    from mlpractice.data.llm_eval import heldout_text

    train, held_out = heldout_text(2000)
    ppl = [llm_eval.perplexity(llm_eval.NgramLM(n).fit(train[:60000]), [held_out], max_length=32, stride=16).perplexity
           for n in (1, 3)]
    assert ppl[1] < ppl[0]


@pytest.mark.scaffold
def test_hf_adapter_prefix_token():
    """The prefix is the tokenizer's BOS, else its end-of-text token (lm-evaluation-harness), or the one given."""
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_positions=8, n_embd=4, n_layer=1, n_head=1,
                                       bos_token_id=0, eos_token_id=0))
    assert llm_eval.HFCausalLM(model, CharIds()).tokenize("ab") == [0, *CharIds().encode("ab")]
    assert llm_eval.HFCausalLM(model, CharIds(), prefix_token_id=7).tokenize("") == [7]

    class NoSpecialTokens:
        def encode(self, text):
            return [1] * len(text)

    with pytest.raises(ValueError, match="prefix_token_id"):
        llm_eval.HFCausalLM(model, NoSpecialTokens())
    with pytest.raises(ValueError, match="prefix_token_id"):
        llm_eval.HFCausalLM(model, CharIds(), prefix_token_id=VOCAB)


@pytest.mark.scaffold
def test_a_model_without_a_prefix_token_is_refused():
    """Token 0 is never a target: a tokenizer that does not start with a prefix would leave a text's
    first token unscored while its bytes count."""
    class NoPrefix(Recorder):
        def tokenize(self, text):
            return list(range(1, len(text) + 1))

    with pytest.raises(ValueError, match="prefix"):
        llm_eval.perplexity(NoPrefix(), ["abc"], max_length=4, stride=2)


@pytest.mark.scaffold
@pytest.mark.parametrize("max_length, stride", [(1, 1), (4, 0), (4, 4), (4, 5)])
def test_bad_windows_raise(max_length, stride):
    with pytest.raises(ValueError):
        llm_eval.perplexity(Recorder(), ["abc"], max_length=max_length, stride=stride)


def test_perplexity_metric_streams_and_merges_exactly():
    lm = llm_eval.NgramLM(3).fit("the cat sat on the mat and the dog sat on the log " * 20)
    metric = llm_eval.get_metric("perplexity", model=lm, max_length=8, stride=3)
    texts = ["the cat sat", "a dog on a log", "", "mat", "the end of the text"]
    batch = metric.fresh().update(texts, [None] * 5).compute()
    shard = metric.fresh().update(texts[2:], [None] * 3)
    merged = metric.fresh().update(texts[:1], [None]).update(texts[1:2], [None]).merge(shard)
    assert merged.compute() == batch
    direct = llm_eval.perplexity(lm, texts, max_length=8, stride=3)
    assert batch.value == pytest.approx(direct.perplexity, rel=1e-12)
    assert batch.details["n_tokens"] == direct.n_tokens


@pytest.mark.scaffold  # the adapter is given code: this checks loading, not the sliding windows
def test_hf_adapter_loads_a_local_checkpoint_directory(tiny_gpt2, tmp_path):
    """HFCausalLM("dir") reads the model and tokenizer written by save_pretrained, offline."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = sorted({c for text in TEXTS for c in text})
    vocab = {"<|endoftext|>": 0, "[UNK]": 1, **{c: i + 2 for i, c in enumerate(chars)}}
    assert len(vocab) <= VOCAB
    char_level = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    char_level.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=char_level, unk_token="[UNK]", eos_token="<|endoftext|>")
    tiny_gpt2.model.save_pretrained(tmp_path / "tiny-ckpt")
    tokenizer.save_pretrained(tmp_path / "tiny-ckpt")

    from_dir = llm_eval.HFCausalLM(tmp_path / "tiny-ckpt")
    in_memory = llm_eval.HFCausalLM(tiny_gpt2.model, tokenizer, name="tiny-ckpt")
    assert from_dir.name == "tiny-ckpt"
    assert from_dir.tokenize("ab") == [vocab["<|endoftext|>"], vocab["a"], vocab["b"]]  # lm-eval's prefix
    ours = llm_eval.perplexity(from_dir, TEXTS, max_length=8, stride=3)
    expected = llm_eval.perplexity(in_memory, TEXTS, max_length=8, stride=3)
    assert (ours.nll, ours.n_tokens, ours.signature) == (expected.nll, expected.n_tokens, expected.signature)
