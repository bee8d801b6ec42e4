"""2.10: the paged KV cache - a shared pool of fixed-size blocks, a block table per sequence, blocks taken
only as a sequence grows and reserved at admission so that a running sequence never runs out.

The same checks as 2.9's (test_continuous_batching.py: exact equality with each prompt generated alone,
in float64 for the reason given there, and the referee of the step rule), with the paged cache, plus what
only paging has: the pool, the block table, the memory saved, a head that waits for blocks.
"""
import math

import pytest
import torch
from hypothesis import example, given, settings

from mlpractice import tinygpt

from .test_continuous_batching import (CONTEXT, Params, assert_alone, blocks_needed, check_abort, check_cached_logits,
                                       check_rule, continuous, kv_cache, model, run_workload, serve, text, workloads)
from .test_continuous_batching import one_thread  # noqa: F401 - the fixture: torch on one thread here too

pytestmark = pytest.mark.exercise("2.10", "paged KV cache")


def pool(num_blocks=40, block_size=8):
    c = model().config
    return kv_cache.BlockPool(num_blocks, block_size, c.n_layer, c.n_head, c.n_embd // c.n_head, torch.float64)


@pytest.mark.scaffold  # the pool is given: the learner writes the block tables
def test_the_pool_hands_out_blocks_takes_them_back_and_refuses_when_exhausted():
    p = pool(num_blocks=3)
    blocks = [p.allocate() for _ in range(3)]
    assert sorted(blocks) == [0, 1, 2] and p.blocks_in_use == 3
    with pytest.raises(kv_cache.OutOfBlocks, match="3 KV blocks"):
        p.allocate()
    p.free(blocks[1])
    assert p.blocks_in_use == 2 and p.allocate() == blocks[1]
    p.free(blocks[0])
    with pytest.raises(ValueError, match="not in use"):
        p.free(blocks[0])
    assert p.k.shape == (3, 3, 4, 8, 24) and p.v.shape == p.k.shape


def test_a_paged_cache_takes_a_block_only_when_its_last_is_full_and_reads_back_what_was_written():
    p = pool(block_size=4)
    paged = kv_cache.PagedCache(p)
    c = model().config
    contiguous = kv_cache.ContiguousCache(c.n_layer, c.n_head, 24, c.context, torch.float64)
    for t in (13, 1, 1, 3, 1, 4, 9, 2):  # a prefill across blocks, decodes, chunks that start inside a block
        shape = (c.n_layer, c.n_head, t, 24)  # every layer different, so a layer mix-up shows
        k, v = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
        for cache in (paged, contiguous):
            cache.append(k, v)
        assert len(paged.blocks) == math.ceil(paged.length / 4) and paged.reserved_tokens == 4 * len(paged.blocks)
        assert all(torch.equal(a, b) for a, b in zip(paged.view(), contiguous.view()))
    assert paged.view()[0].shape == (c.n_layer, c.n_head, 34, 24)
    in_use = p.blocks_in_use
    paged.free()
    paged.free()  # idempotent
    assert in_use == 9 and p.blocks_in_use == 0 and paged.reserved_tokens == 0


def test_paged_cached_decode_equals_full_recompute_at_every_position():
    shared = pool(num_blocks=64, block_size=8)
    check_cached_logits(lambda: kv_cache.PagedCache(shared))


@settings(max_examples=20, deadline=None)
@given(workloads("paged"))
@example((dict(model="late", cache="paged", max_num_seqs=3, max_tokens_per_step=64, static=False, block_size=4,
               num_blocks=16), [(0, "a", text(0, 30), Params(20)), (0, "b", text(100, 12), Params(8, temperature=1.1)),
                                (1, "c", text(200, 3), Params(5)), (2, "d", text(300, 2), Params(3))]))
def test_every_request_gets_the_tokens_it_would_get_alone_with_the_paged_cache(workload):
    run_workload(*workload)


def test_a_paged_sequence_holds_blocks_for_its_length_where_a_contiguous_one_holds_the_context():
    mix = [(3, 20), (40, 5), (12, 12), (60, 3)]  # (prompt bytes, max_tokens)
    arrivals = [(0, f"r{i}", text(97 * i, n), Params(m)) for i, (n, m) in enumerate(mix)]
    held = {"contiguous": [], "paged": []}  # per step: {request_id: (cached positions, positions held)}
    for cache, steps in held.items():
        b = continuous.ContinuousBatcher(model(), max_num_seqs=4, cache=cache, block_size=8)
        assert_alone(serve(b, arrivals, after_step=lambda b: steps.append(
            {s.request_id: (s.cache.length, s.cache.reserved_tokens) for s in b.running})))
    assert len(held["contiguous"]) == len(held["paged"])
    for contiguous, paged in zip(held["contiguous"], held["paged"]):
        assert contiguous.keys() == paged.keys()
        for rid, (length, reserved) in paged.items():
            assert reserved == 8 * math.ceil(length / 8) and contiguous[rid] == (length, CONTEXT)
    first = [sum(r for _, r in held[cache][0].values()) for cache in ("paged", "contiguous")]
    assert first == [8 * (1 + 6 + 2 + 8), 4 * CONTEXT]


def test_a_head_that_needs_more_blocks_than_are_free_waits_and_nothing_overtakes_it():
    # 8 blocks of 8: "big" reserves 7 (29 + 20 = 49 positions), "head" needs 3 (19), "small" needs 1 (4)
    config = dict(max_num_seqs=4, max_tokens_per_step=128, cache="paged", block_size=8, num_blocks=8)
    b = continuous.ContinuousBatcher(model(), **config)
    seqs = serve(b, [(0, "big", text(0, 29), Params(20)), (1, "head", text(300, 9), Params(10)),
                     (1, "small", text(600, 2), Params(2))])
    big, head, small = seqs
    assert [blocks_needed(s, 8) for s in seqs] == [7, 3, 1] and big.finish_reason == "length"
    assert head.admitted_step == small.admitted_step == big.finished_step + 1
    assert max(r.kv_blocks_in_use for r in b.log) <= 8
    assert_alone(seqs)
    check_rule(b, seqs, max_num_seqs=4, max_tokens_per_step=128, block_size=8, num_blocks=8)


def test_an_aborted_paged_sequence_returns_its_blocks_within_one_step():
    held = check_abort("paged", block_size=4, num_blocks=40)
    assert held[5][1] < held[4][1]


def test_a_pool_too_small_for_one_sequence_of_the_context_is_refused():
    with pytest.raises(ValueError, match="num_blocks"):
        continuous.ContinuousBatcher(model(), cache="paged", block_size=8, num_blocks=7)
    b = continuous.ContinuousBatcher(model(), cache="paged", block_size=8, num_blocks=8)
    assert_alone(serve(b, [(0, "whole", [tinygpt.EOT] * 10, Params(CONTEXT))]))
