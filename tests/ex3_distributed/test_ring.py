"""3.2: ring all-reduce equals dist.all_reduce, leaves identical bits everywhere, sends 2(N-1)/N."""
import numpy as np
import pytest

from mlpractice.impl import load

from . import workers

distributed = load("distributed")
pytestmark = pytest.mark.exercise("3.2", "ring all-reduce")


@pytest.fixture(scope="module", params=[2, 3], ids=["2-workers", "3-workers"])
def ring(request):
    world_size = request.param
    return world_size, distributed.launch(workers.ring_vs_all_reduce, world_size, timeout=10)


@pytest.mark.timeout(60)
def test_exact_on_integer_valued_floats(ring):
    world_size, results = ring
    for n in workers.ring_cases(world_size):
        for rank_out in results:
            case = rank_out[(n, "int")]
            np.testing.assert_array_equal(case["got"], case["expected"], err_msg=f"size {n}")


@pytest.mark.timeout(60)
def test_close_on_random_floats_and_mean(ring):
    world_size, results = ring
    for n in workers.ring_cases(world_size):
        for rank_out in results:
            case = rank_out[(n, "rand")]
            np.testing.assert_allclose(case["got"], case["expected"], rtol=1e-5, atol=1e-5, err_msg=f"size {n}")
            np.testing.assert_allclose(case["mean"], case["expected_mean"], rtol=1e-5, atol=1e-5)


@pytest.mark.timeout(60)
def test_every_rank_holds_identical_bits(ring):
    world_size, results = ring
    for n in workers.ring_cases(world_size):
        first = results[0][(n, "rand")]
        for other in results[1:]:
            assert first["got"].tobytes() == other[(n, "rand")]["got"].tobytes(), f"size {n}"
            assert first["mean"].tobytes() == other[(n, "rand")]["mean"].tobytes(), f"size {n}"


@pytest.mark.timeout(60)
def test_each_rank_sends_2_n_minus_1_over_n_of_the_tensor(ring):
    world_size, results = ring
    n = 6 * world_size  # divisible: the fraction is exact
    for rank_out in results:
        case = rank_out[(n, "int")]
        assert case["steps"] == 2 * (world_size - 1)
        assert case["bytes_sent"] == 2 * (world_size - 1) * n * 4 // world_size
    for size in workers.ring_cases(world_size):  # uneven sizes: never more than one extra element per step
        for rank_out in results:
            total = 2 * (world_size - 1) * size * 4 / world_size
            assert rank_out[(size, "int")]["bytes_sent"] <= total + 2 * (world_size - 1) * 4


@pytest.mark.timeout(60)
def test_subgroup_ring_uses_global_ranks(ring):
    world_size, results = ring
    for rank in (0, world_size - 1):
        np.testing.assert_array_equal(results[rank]["subgroup"]["got"], results[rank]["subgroup"]["expected"])


@pytest.mark.timeout(30)
def test_float64_matrix_in_place():
    out = distributed.launch(workers.ring_float64_2d, 2)
    expected = np.arange(35, dtype=np.float64).reshape(5, 7) * 3
    for o in out:
        np.testing.assert_array_equal(o, expected)
