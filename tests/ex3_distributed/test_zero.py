"""3.10: ZeRO stage 1 equals plain data parallelism and keeps 1/N of the optimizer state per rank."""
import math

import numpy as np
import pytest
import torch

from mlpractice.impl import load

from . import zero_workers as zw

distributed = load("distributed")
pytestmark = pytest.mark.exercise("3.10", "ZeRO stage 1: sharded optimizer state")
CASES = [(case, optimizer) for case in ("23", "2", "mlp") for optimizer in zw.OPTIMIZERS]


@pytest.fixture(scope="module", params=[2, 3], ids=["2-workers", "3-workers"])
def runs(request):
    world_size = request.param
    return world_size, distributed.launch(zw.zero_vs_plain, world_size, timeout=10)


def reference_state_bytes(cls, options, numel):
    """The state `cls` keeps for one float64 parameter of `numel` elements after one step."""
    p = torch.nn.Parameter(torch.zeros(numel, dtype=torch.float64))
    opt = cls([p], **options)
    p.grad = torch.ones_like(p)
    opt.step()
    return zw.optimizer_state_bytes(opt)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case,optimizer", CASES)
def test_equals_plain_data_parallel(runs, case, optimizer):
    world_size, results = runs
    for rank, out in enumerate(results):
        got, expected = out[case, optimizer]["zero"]["history"], out[case, optimizer]["plain"]["history"]
        assert got.shape == expected.shape == (zw.STEPS, got.shape[1])
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12, err_msg=f"rank {rank} of {world_size}")
        assert got[-1].tobytes() != got[0].tobytes()  # it did train
    assert len({out[case, optimizer]["zero"]["history"].tobytes() for out in results}) == 1, "replicas differ"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case,optimizer", CASES)
def test_optimizer_state_per_rank_is_one_nth(runs, case, optimizer):
    world_size, results = runs
    cls, options = zw.OPTIMIZERS[optimizer]
    numel = results[0][case, optimizer]["zero"]["history"].shape[1]
    shards = [out[case, optimizer]["zero"]["shard"] for out in results]
    # the ring's chunks: rank r steps chunk (r + 1) % N, sizes differ by at most one, largest ceil(numel / N)
    bounds = distributed.chunk_bounds(numel, world_size)
    assert shards == [((r + 1) % world_size, b - a) for r, (a, b) in
                      ((r, bounds[(r + 1) % world_size]) for r in range(world_size))]
    assert sum(n for _, n in shards) == numel and max(n for _, n in shards) == math.ceil(numel / world_size)
    plain = results[0][case, optimizer]["plain"]
    sizes = plain["inner_params"]
    assert plain["state_bytes"] == sum(reference_state_bytes(cls, options, n) for n in sizes)
    for out, (_, n) in zip(results, shards):
        zero = out[case, optimizer]["zero"]
        assert zero["inner_params"] == [n], "the inner optimizer must hold only this rank's flat shard"
        assert zero["state_bytes"] == reference_state_bytes(cls, options, n)
    per_element = reference_state_bytes(cls, options, 1) - reference_state_bytes(cls, options, 0)
    assert per_element == {"sgd-momentum": 8, "adam": 16}[optimizer]  # momentum; Adam's two moments (float64)
    largest = max(out[case, optimizer]["zero"]["state_bytes"] for out in results)
    assert largest == reference_state_bytes(cls, options, math.ceil(numel / world_size))


@pytest.mark.timeout(60)
def test_mixed_dtypes_are_refused(runs):
    _, results = runs
    assert all(out["mixed"] is not None and "one dtype" in out["mixed"] for out in results)


@pytest.mark.timeout(60)
def test_a_parameter_without_gradient_is_a_clear_error():
    with pytest.raises(distributed.WorkerFailure, match=r"ValueError: parameters \[1, 2\] have no gradient"):
        distributed.launch(zw.missing_gradient, 2, timeout=10)
