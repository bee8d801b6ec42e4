"""2.9: continuous batching with a KV cache - every request gets exactly the tokens it would get alone.

The oracle is tinygpt.generate: the prompt alone, every position recomputed for every token, no cache.
The engine computes the same logits another way (a cache, a batch of sequences of different lengths
padded and masked, sequences joining and leaving), and its tokens must be the oracle's, token for token.

The model runs in float64 (`tinygpt.load("late").double()`). A batched GEMM and a single-row one, or
attention over a padded cache and over the bare sequence, sum in different orders, so in float32 the two
paths' logits differ in the last bits; a near tie in an argmax, or a draw landing at a boundary of the
sampling distribution, would then flip one token and the sequences diverge from there - a real
difference of float32 serving, not a bug. In float64 the differences are ~1e-15, far below any gap
these tests meet, so exact equality is the right check.

The rule of one step (solutions/serving/continuous.py's module docstring) is checked on every run by a
referee (`check_rule`) that replays the step log against the rule: FIFO, max_num_seqs, the token budget,
the paged cache's block reservations, static batching, retirement and freeing in the same step.
"""
import functools
import math
from collections import defaultdict

import pytest
import torch
from hypothesis import example, given, settings, strategies as st
from pydoc_data.topics import topics

from mlpractice import tinygpt
from mlpractice.impl import load

pytestmark = pytest.mark.exercise("2.9", "continuous batching with a KV cache")

continuous = load("serving.continuous")
kv_cache = load("serving.kv_cache")
llm_step = load("serving.llm_step")
Params = continuous.SamplingParams
CORPUS = " ".join(topics[k] for k in sorted(topics)).encode()[:20_000]  # real text: generations are not noise


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add contention on a shared 2-core machine
    yield
    torch.set_num_threads(before)


CONTEXT = 64  # of both checkpoints (model() checks it)


@functools.lru_cache(maxsize=None)
def model(name: str = "late"):
    """The "late" checkpoint in float64; "eot": the same with its head biased towards EOT, which the checkpoints
    never predict (EOT only ever starts a training text), so that generations also end "eos"."""
    m = tinygpt.load("late").double()
    assert m.config.context == CONTEXT
    if name == "eot":
        head = torch.nn.Linear(m.config.n_embd, m.config.vocab_size, dtype=torch.float64)
        head.weight = m.wte.weight
        with torch.no_grad():
            head.bias.zero_()[tinygpt.EOT] = 15.0  # EOT is the argmax at ~5% of positions of real text
        m.head = head
    return m


@functools.lru_cache(maxsize=None)
def alone(prompt: tuple, params, name: str = "late") -> tuple:
    """(output ids, finish reason) of `prompt` generated alone by the reference."""
    ids, reason = tinygpt.generate(model(name), list(prompt), params.max_tokens, temperature=params.temperature,
                                   seed=params.seed, stop=params.stop)
    return tuple(ids), reason


def text(start: int, length: int) -> list[int]:
    """EOT and `length` bytes of the corpus."""
    return [tinygpt.EOT, *CORPUS[start:start + length]]


# -- driving the engine ------------------------------------------------------------------------------
def serve(batcher, arrivals, aborts=None, after_step=None):
    """Run until idle. `arrivals`: (step, request_id, prompt ids, params), added just before that step, in
    list order within a step; `aborts`: {step: [request_id]}, aborted just before that step; `after_step`:
    called with the batcher after each step. Returns the Sequences in add order, after checking the events:
    one token per step for each sequence admitted in it (from its prefill) and then for each one that was
    running before it (its decode); a request's tokens are its generated ids; only its last event finishes
    it, and carries its output."""
    pending, aborts, added = sorted(arrivals, key=lambda a: a[0]), aborts or {}, []
    tokens, finishing, running = defaultdict(list), {}, ()
    while pending or batcher.has_work() or any(s >= batcher.steps for s in aborts):
        for rid in aborts.get(batcher.steps, []):
            batcher.abort(rid)
        while pending and pending[0][0] <= batcher.steps:
            _, rid, prompt, params = pending.pop(0)
            added.append(batcher.add(rid, prompt, params))
        step = batcher.steps
        events = batcher.step()
        record = batcher.log[-1]
        assert [e.request_id for e in events] == [*record.admitted, *(r for r in running if r not in record.aborted)], \
            f"step {step}: not one token per admitted and per running sequence"
        running = record.running
        for event in events:
            assert event.request_id not in finishing, f"{event.request_id} has an event after it finished"
            tokens[event.request_id].append(event.token)
            if event.finished:
                finishing[event.request_id] = (step, event.finish_reason, event.output)
        if after_step:
            after_step(batcher)
    for seq in added:
        assert tokens[seq.request_id] == seq.generated
        if seq.finish_reason != "abort":
            assert finishing[seq.request_id] == (seq.finished_step, seq.finish_reason, seq.output)
    return added


def assert_alone(seqs, name="late"):
    for seq in seqs:
        if seq.finish_reason != "abort":
            assert (seq.output, seq.finish_reason) == alone(seq.prompt, seq.params, name), \
                f"{seq.request_id}: batched output differs from its generation alone"


def blocks_needed(seq, block_size: int) -> int:
    """Blocks for every position a sequence can cache: the prompt, then each generated token but the last
    (never fed back), until prompt + generated reaches the context."""
    n = len(seq.prompt)
    return math.ceil((n - 1 + min(seq.params.max_tokens, max(CONTEXT - n, 1))) / block_size)


def check_rule(batcher, seqs, *, max_num_seqs, max_tokens_per_step, static=False, block_size=None,
               num_blocks=None):
    """Replay the step log against the rule of one step (block_size/num_blocks: the paged cache)."""
    by_id = {s.request_id: s for s in seqs}
    waiting, running = [], []
    assert [r.step for r in batcher.log] == list(range(batcher.steps))
    for rec in batcher.log:
        waiting += [s for s in seqs if s.arrived_step == rec.step]
        waiting = [s for s in waiting if s.request_id not in rec.aborted]
        running = [s for s in running if s.request_id not in rec.aborted]
        for rid in rec.aborted:
            assert by_id[rid].cache is None or by_id[rid].cache.reserved_tokens == 0, f"{rid}'s cache not freed"
        n = len(rec.admitted)
        assert tuple(s.request_id for s in waiting[:n]) == rec.admitted, f"step {rec.step}: not FIFO"
        decodes = len(running)
        budget = max_tokens_per_step - decodes - sum(len(s.prompt) for s in waiting[:n])
        free = None if num_blocks is None else \
            num_blocks - sum(blocks_needed(s, block_size) for s in running + waiting[:n])
        assert decodes + n <= max_num_seqs, f"step {rec.step}: more than max_num_seqs run"
        assert budget >= 0 and rec.tokens == max_tokens_per_step - budget, f"step {rec.step}: over the budget"
        assert free is None or free >= 0, f"step {rec.step}: more blocks reserved than the pool has"
        if static and decodes:
            assert n == 0, f"step {rec.step}: static batching admitted into a running batch"
        elif n < len(waiting):  # the head waits: only for a reason of the rule
            head = waiting[n]
            assert decodes + n == max_num_seqs or len(head.prompt) > budget or \
                (free is not None and blocks_needed(head, block_size) > free), \
                f"step {rec.step}: {head.request_id} could have been admitted"
        waiting, running = waiting[n:], running + waiting[:n]
        assert set(rec.retired) == {s.request_id for s in running if s.finished_step == rec.step}
        running = [s for s in running if s.request_id not in rec.retired]
        assert rec.running == tuple(s.request_id for s in running), f"step {rec.step}: retired late or lost"
        for rid in rec.retired:
            assert by_id[rid].cache.reserved_tokens == 0, f"{rid} retired without freeing its cache"
        if num_blocks is None:
            assert rec.kv_reserved_tokens == CONTEXT * len(running)
        else:
            assert rec.kv_blocks_in_use <= sum(blocks_needed(s, block_size) for s in running)
    assert not waiting and not running and batcher.kv_blocks_in_use == 0 and batcher.kv_reserved_tokens == 0


# -- the equivalence property ------------------------------------------------------------------------
STOPS = [" ", "e", "th", "\n", "is", ". ", "é"]


@st.composite
def requests(draw):
    prompt = draw(st.one_of(
        st.builds(text, st.integers(0, len(CORPUS) - 50), st.integers(0, 39)),
        st.binary(max_size=39).map(lambda b: [tinygpt.EOT, *b])))
    greedy = draw(st.booleans())
    params = Params(max_tokens=draw(st.integers(1, 24)),
                    temperature=0.0 if greedy else draw(st.floats(0.7, 1.3)),
                    seed=draw(st.one_of(st.none(), st.integers(0, 2**31))),
                    stop=tuple(draw(st.lists(st.sampled_from(STOPS), max_size=2, unique=True))))
    return draw(st.integers(0, 8)), prompt, params


@st.composite
def workloads(draw, cache):
    config = dict(model=draw(st.sampled_from(["late", "eot"])), cache=cache, max_num_seqs=draw(st.integers(1, 4)),
                  max_tokens_per_step=draw(st.sampled_from([64, 64, 80, 128])), static=draw(st.booleans()))
    if cache == "paged":
        config["block_size"] = bs = draw(st.sampled_from([4, 8]))
        config["num_blocks"] = draw(st.sampled_from([None, math.ceil(CONTEXT / bs), 3 * math.ceil(CONTEXT / bs)]))
    arrivals = [(step, f"r{i}", prompt, params) for i, (step, prompt, params) in
                enumerate(draw(st.lists(requests(), min_size=1, max_size=6)))]
    return config, arrivals


def run_workload(config, arrivals):
    config = dict(config)
    name = config.pop("model")
    batcher = continuous.ContinuousBatcher(model(name), **config)
    seqs = serve(batcher, arrivals)
    assert_alone(seqs, name)
    paged = config["cache"] == "paged"
    check_rule(batcher, seqs, max_num_seqs=config["max_num_seqs"], max_tokens_per_step=config["max_tokens_per_step"],
               static=config["static"], block_size=config["block_size"] if paged else None,
               num_blocks=batcher.pool.num_blocks if paged else None)
    return batcher, seqs


# "joins" arrives (step 2) while two others are mid-decode at different lengths, and one of them retires then.
PINNED = dict(model="late", cache="contiguous", max_num_seqs=3, max_tokens_per_step=128, static=False)
JOIN_AND_RETIRE = [(0, "long", text(100, 12), Params(10, temperature=1.0, seed=5)),
                   (0, "short", text(3000, 25), Params(3)),
                   (2, "joins", text(7000, 5), Params(6, stop=("at",)))]


@settings(max_examples=25, deadline=None)
@given(workloads("contiguous"))
@example((PINNED, JOIN_AND_RETIRE))
def test_every_request_gets_the_tokens_it_would_get_alone(workload):
    run_workload(*workload)


def test_the_pinned_example_joins_mid_decode_and_retires_in_the_same_step():
    batcher, seqs = run_workload(PINNED, JOIN_AND_RETIRE)
    step2 = batcher.log[2]
    assert step2.admitted == ("joins",) and step2.retired == ("short",) and step2.running == ("long", "joins")
    assert [(s.finish_reason, s.finished_step) for s in seqs] == [("length", 9), ("length", 2), ("stop", 5)]


def by_the_rule(prompt, params, name="late"):
    """Greedy generation alone, stopped as the rule says, written out here (not tinygpt.finish_check)."""
    m, out = model(name), []
    while True:
        with torch.no_grad():
            token = int(m(torch.tensor([prompt + out]))[0, -1].argmax())
        if token == tinygpt.EOT:
            return tuple(out), "eos"
        out.append(token)
        hits = [len(s.encode()) for s in params.stop if bytes(out).endswith(s.encode())]
        if hits:
            return tuple(out[:len(out) - max(hits)]), "stop"
        if len(out) == params.max_tokens or len(prompt) + len(out) >= CONTEXT:
            return tuple(out), "length"


def test_the_finish_rule():
    joins = text(7000, 5)  # greedy: b"enat  "...; with the "eot" model text(3600, 20)'s 8th token is EOT
    cases = {"late": [(text(0, 20), Params(7)), (text(0, 60), Params(20)), (text(0, 63), Params(9)),
                      (joins, Params(20, stop=("at",))), (joins, Params(20, stop=("t", "nat", "q"))),
                      (joins, Params(20, stop=("é", "  ")))],
             "eot": [(text(0, 20), Params(24)), (text(3600, 20), Params(24)), (text(3600, 20), Params(7)),
                     (text(3600, 20), Params(8)), (text(1800, 20), Params(3))]}
    reasons = set()
    for name, requests_ in cases.items():
        b = continuous.ContinuousBatcher(model(name), max_num_seqs=3)
        for seq in serve(b, [(0, str(i), prompt, params) for i, (prompt, params) in enumerate(requests_)]):
            expected = by_the_rule(list(seq.prompt), seq.params, name)
            assert (seq.output, seq.finish_reason) == expected, seq.params
            reasons.add(expected[1])
    assert reasons == {"length", "stop", "eos"}


def test_a_sampled_token_is_torch_multinomial_s_draw_at_the_request_seed():
    m, prompt = model(), text(1800, 20)  # its next byte is uncertain: the largest probability is 0.09
    with torch.no_grad():
        probs = torch.softmax(m(torch.tensor([prompt]))[0, -1] / 0.8, -1)
    b = continuous.ContinuousBatcher(m)
    seqs = serve(b, [(0, str(seed), prompt, Params(1, temperature=0.8, seed=seed)) for seed in (None, 0, 1, 2, 3)])
    draws = [int(torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(seed)))
             for seed in (0, 0, 1, 2, 3)]
    assert [s.generated[0] for s in seqs] == draws and len(set(draws)) > 1


# -- the cache ---------------------------------------------------------------------------------------
def contiguous_cache():
    c = model().config
    return kv_cache.ContiguousCache(c.n_layer, c.n_head, c.n_embd // c.n_head, c.context, torch.float64)


def check_cached_logits(new_cache):
    """One step_forward equals a full recompute to 1e-9: a prefill of every length, a decode at every position,
    and steps mixing prefills of different lengths with decodes of sequences of different lengths."""
    m, ids, vocab = model(), text(500, 63), model().config.vocab_size
    assert len(ids) == CONTEXT
    alone = lambda s: m(torch.tensor([s]))[0, -1]  # noqa: E731
    with torch.no_grad():
        full = m(torch.tensor([ids]))[0]
    for p in (1, 2, 7, 8, 9, 33, 63, 64):
        first, decoded = llm_step.step_forward(m, [ids[:p]], [new_cache()], [], [])
        assert first.shape == (1, vocab) and decoded.shape == (0, vocab)
        assert torch.allclose(first[0], full[p - 1], rtol=0, atol=1e-9), f"prefill of {p}"
    cache = new_cache()
    llm_step.step_forward(m, [ids[:1]], [cache], [], [])
    for q in range(1, CONTEXT):
        first, logits = llm_step.step_forward(m, [], [], [ids[q]], [cache])
        assert first.shape == (0, vocab) and logits.shape == (1, vocab) and cache.length == q + 1
        assert torch.allclose(logits[0], full[q], rtol=0, atol=1e-9), f"position {q}"
    seqs = [text(900, 4), text(1500, 16), text(2500, 29)]
    caches = [new_cache() for _ in seqs]
    joining = {2: [text(3100, 1), text(3300, 20)], 7: [text(3700, 9)]}  # prompts that join mid-decode
    first, _ = llm_step.step_forward(m, seqs, caches, [], [])  # three prefills of different lengths at once
    for step in range(12):
        with torch.no_grad():
            assert all(torch.allclose(f, alone(s), rtol=0, atol=1e-9) for f, s in zip(first, seqs[-len(first):]))
        tokens, new = [CORPUS[step + 3 * i] for i in range(len(seqs))], joining.get(step, [])
        new_caches = [new_cache() for _ in new]
        first, logits = llm_step.step_forward(m, new, new_caches, tokens, caches)
        assert first.shape == (len(new), vocab) and logits.shape == (len(seqs), vocab)
        for i, (s, t) in enumerate(zip(seqs, tokens)):
            s.append(t)
            with torch.no_grad():
                assert torch.allclose(logits[i], alone(s), rtol=0, atol=1e-9), f"sequence {i} at step {step}"
            assert caches[i].length == len(s)
        seqs, caches = seqs + [list(p) for p in new], caches + new_caches
        first = first if new else first[:0]
    assert len(seqs) == 6


def test_cached_decode_equals_full_recompute_at_every_position():
    check_cached_logits(contiguous_cache)


def test_the_contiguous_cache_stores_what_was_appended():
    cache = contiguous_cache()
    k, v = torch.randn(3, 4, 5, 24, dtype=torch.float64), torch.randn(3, 4, 5, 24, dtype=torch.float64)
    cache.append(k, v)  # a prefill of 5 positions, every layer
    cache.append(k[:, :, :1] + 1, v[:, :, :1] - 1)  # one decode
    got_k, got_v = cache.view()
    assert cache.length == 6 and got_k.shape == got_v.shape == (3, 4, 6, 24)
    assert torch.equal(got_k, torch.cat([k, k[:, :, :1] + 1], 2)) and torch.equal(got_v, torch.cat([v, v[:, :, :1] - 1], 2))
    assert cache.reserved_tokens == CONTEXT
    cache.free()
    cache.free()  # idempotent
    assert cache.reserved_tokens == 0


# -- the clauses of the rule, each in a scenario where it decides ------------------------------------
def batcher_for(**config):
    return continuous.ContinuousBatcher(model(), **config)


def test_fifo_a_short_later_prompt_never_overtakes_the_head():
    # "first" runs, so the budget left is 63: the head (64 tokens) waits, and the 2-token one behind it too
    config = dict(max_num_seqs=4, max_tokens_per_step=64)
    b = batcher_for(**config)
    first, head, small = serve(b, [(0, "first", text(0, 39), Params(10)), (1, "head", text(200, 63), Params(1)),
                                   (1, "small", text(400, 1), Params(2))])
    assert first.finish_reason == "length" and first.finished_step == 9
    assert head.admitted_step == 10 and small.admitted_step == 11
    assert_alone([first, head, small])
    check_rule(b, [first, head, small], **config)


def test_max_num_seqs_is_never_exceeded_and_free_slots_are_filled():
    config = dict(max_num_seqs=2, max_tokens_per_step=128)
    b = batcher_for(**config)
    seqs = serve(b, [(0, f"r{i}", text(100 * i, 8), Params(3 + 2 * i)) for i in range(6)])
    assert b.log[0].admitted == ("r0", "r1")
    assert all(len(r.running) + len(r.retired) <= 2 for r in b.log)
    assert b.log[3].admitted == ("r2",)  # r0 (3 tokens) retires at step 2: its slot is taken at step 3
    assert_alone(seqs)
    check_rule(b, seqs, **config)


def test_the_token_budget_counts_every_decode_and_every_prefill():
    config = dict(max_num_seqs=8, max_tokens_per_step=64)
    b = batcher_for(**config)
    # step 0: two prompts of 30 fit (60), the third does not (30 > 4); step 1: 2 decodes + 30 = 32 fit.
    # Then "big" (63 tokens) arrives: with 3 decoding 61 are left; it enters when only one runs (63).
    seqs = serve(b, [(0, "a", text(0, 29), Params(12)), (0, "b", text(50, 29), Params(4)),
                     (0, "c", text(90, 29), Params(8)), (2, "big", text(300, 62), Params(2))])
    a, b_, c, big = seqs
    first, second = b.log[0], b.log[1]
    assert (first.admitted, first.tokens, second.admitted, second.tokens) == (("a", "b"), 60, ("c",), 32)
    assert big.admitted_step == 1 + max(b_.finished_step, c.finished_step) < a.finished_step
    assert all(r.tokens <= 64 for r in b.log)
    assert_alone(seqs)
    check_rule(b, seqs, **config)


def test_retirement_frees_the_cache_in_the_same_step():
    config = dict(max_num_seqs=3, max_tokens_per_step=128)
    b = batcher_for(**config)
    held = []
    seqs = serve(b, [(0, f"r{i}", text(60 * i, 10 + i), Params(2 + 3 * i)) for i in range(4)],
                 after_step=lambda bt: held.append((bt.kv_reserved_tokens, bt.num_running)))
    assert held[-1] == (0, 0) and all(tokens == CONTEXT * n for tokens, n in held)
    for seq in seqs:
        assert seq.cache.reserved_tokens == 0
        assert seq.request_id in b.log[seq.finished_step].retired
    check_rule(b, seqs, **config)


def test_static_batching_holds_the_batch_until_its_longest_sequence_finishes():
    arrivals = [(0, "a", text(0, 8), Params(3)), (0, "b", text(40, 8), Params(12)), (1, "c", text(80, 8), Params(2))]
    for static in (True, False):
        config = dict(max_num_seqs=4, max_tokens_per_step=128, static=static)
        b = batcher_for(**config)
        a, long, c = serve(b, arrivals)
        assert a.finished_step == 2 and long.finished_step == 11
        assert c.admitted_step == (12 if static else 1)
        assert_alone([a, long, c])
        check_rule(b, [a, long, c], **config)


# -- a client disconnects ----------------------------------------------------------------------------
def check_abort(cache, **config):
    """Abort "b" mid-generation and "w" while it waits: each leaves within one step, b's cache is freed
    then, and the others' tokens are unchanged."""
    config = dict(max_num_seqs=3, max_tokens_per_step=128, cache=cache, **config)
    b = continuous.ContinuousBatcher(model(), **config)
    held = {}
    seqs = serve(b, [(0, "a", text(0, 10), Params(16)), (0, "b", text(50, 20), Params(20, temperature=1.0)),
                     (0, "c", text(90, 5), Params(16, temperature=0.9, seed=3)), (1, "w", text(150, 5), Params(4))],
                 aborts={5: ["b", "w"], 7: ["b", "nobody"]},
                 after_step=lambda bt: held.update({bt.steps - 1: (bt.kv_reserved_tokens, bt.kv_blocks_in_use)}))
    a, gone, c, w = seqs
    assert gone.finish_reason == w.finish_reason == "abort" and gone.finished_step == 5 and w.admitted_step is None
    assert len(gone.generated) == 5 and gone.cache.reserved_tokens == 0
    assert b.log[5].aborted == ("b", "w") and "b" not in b.log[5].running
    assert held[5][0] < held[4][0] and (cache == "contiguous" or held[5][1] < held[4][1])
    assert not b.abort("b") and not b.abort("nobody")
    assert_alone([a, c])
    check_rule(b, seqs, max_num_seqs=3, max_tokens_per_step=128, block_size=config.get("block_size"),
               num_blocks=b.pool.num_blocks if b.pool else None)
    return held


def test_an_aborted_sequence_leaves_within_one_step_and_frees_its_cache():
    check_abort("contiguous")


# -- refusals ----------------------------------------------------------------------------------------
@pytest.mark.scaffold  # input validation is scaffolding: it works in the starter too
@pytest.mark.parametrize("kwargs, field", [
    (dict(max_tokens=0), "max_tokens"),
    (dict(max_tokens=-3), "max_tokens"),
    (dict(max_tokens="5"), "max_tokens"),
    (dict(max_tokens=True), "max_tokens"),
    (dict(max_tokens=5, temperature=-0.1), "temperature"),
    (dict(max_tokens=5, temperature=float("nan")), "temperature"),
    (dict(max_tokens=5, temperature="1"), "temperature"),
    (dict(max_tokens=5, seed=-1), "seed"),
    (dict(max_tokens=5, seed=1.5), "seed"),
    (dict(max_tokens=5, stop="abc"), "stop"),
    (dict(max_tokens=5, stop=("",)), "stop"),
    (dict(max_tokens=5, stop=(3,)), "stop"),
])
def test_bad_sampling_params_are_refused_naming_the_field(kwargs, field):
    with pytest.raises(continuous.InvalidParameter, match=field) as refused:  # a ValueError
        Params(**kwargs)
    assert refused.value.field == field and isinstance(refused.value, ValueError)


@pytest.mark.scaffold  # input validation is scaffolding: it works in the starter too
@pytest.mark.parametrize("prompt, params, field", [
    ([], Params(5), "prompt_ids"),
    ([tinygpt.EOT] * (CONTEXT + 1), Params(5), "prompt_ids"),
    ("hello", Params(5), "prompt_ids"),
    ([tinygpt.EOT, 257], Params(5), "prompt_ids"),
    ([tinygpt.EOT, 1.5], Params(5), "prompt_ids"),
    ([tinygpt.EOT], Params(CONTEXT + 1), "max_tokens"),
    ([tinygpt.EOT], Params(10**9), "max_tokens"),
    ([tinygpt.EOT], {"max_tokens": 5}, "params"),
])
def test_bad_requests_are_refused_naming_the_field_and_leave_no_trace(prompt, params, field):
    b = batcher_for()
    with pytest.raises(ValueError, match=field):
        b.add("x", prompt, params)
    assert not b.has_work() and b.num_waiting == 0
    b.add("x", [tinygpt.EOT], Params(1))  # the id was not taken


def test_a_full_queue_refuses_with_queue_full_and_a_duplicate_id_is_refused():
    b = batcher_for(max_waiting=2, max_num_seqs=1)
    b.add("a", text(0, 3), Params(3))
    with pytest.raises(ValueError, match="request_id"):
        b.add("a", text(0, 3), Params(3))
    b.add("b", text(0, 3), Params(3))
    with pytest.raises(continuous.QueueFull):
        b.add("c", text(0, 3), Params(3))
    assert b.num_waiting == 2
    b.step()  # "a" is admitted: room for one
    assert (b.num_running, b.num_waiting) == (1, 1)
    b.add("c", text(0, 3), Params(3))


def test_a_prompt_up_to_the_context_is_served_and_ends_at_the_context():
    seqs = serve(batcher_for(), [(0, "full", text(0, 63), Params(5)), (0, "near", text(0, 60), Params(20))])
    assert [(len(s.output), s.finish_reason) for s in seqs] == [(1, "length"), (3, "length")]
    assert_alone(seqs)


@pytest.mark.scaffold  # input validation is scaffolding: it works in the starter too
@pytest.mark.parametrize("config, field", [
    (dict(max_tokens_per_step=CONTEXT - 1), "max_tokens_per_step"),
    (dict(max_num_seqs=0), "max_num_seqs"),
    (dict(max_waiting=0), "max_waiting"),
    (dict(cache="lru"), "cache"),
])
def test_bad_settings_are_refused_naming_them(config, field):
    with pytest.raises(ValueError, match=field):
        batcher_for(**config)
