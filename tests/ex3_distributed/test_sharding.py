"""3.1: shard_indices is DistributedSampler, for every combination of arguments."""
import pytest
from hypothesis import given, settings, strategies as st
from torch.utils.data.distributed import DistributedSampler

from mlpractice.impl import load

distributed = load("distributed")
pytestmark = pytest.mark.exercise("3.1", "shard the dataset like DistributedSampler")


@settings(max_examples=300, deadline=None)
@given(num_samples=st.integers(0, 60), world_size=st.integers(1, 9), data=st.data(),
       shuffle=st.booleans(), seed=st.integers(0, 2**31), epoch=st.integers(0, 50), drop_last=st.booleans())
def test_equals_distributed_sampler(num_samples, world_size, data, shuffle, seed, epoch, drop_last):
    rank = data.draw(st.integers(0, world_size - 1))
    sampler = DistributedSampler(range(num_samples), num_replicas=world_size, rank=rank,
                                 shuffle=shuffle, seed=seed, drop_last=drop_last)
    sampler.set_epoch(epoch)
    got = distributed.shard_indices(num_samples, rank, world_size, shuffle=shuffle, seed=seed,
                                    epoch=epoch, drop_last=drop_last)
    assert list(got) == list(sampler)


@pytest.mark.parametrize("shuffle", [False, True])
def test_fewer_samples_than_ranks_pads_cyclically(shuffle):
    """2 samples over 5 ranks: the order is repeated more than once to give every rank one index."""
    for rank in range(5):
        sampler = DistributedSampler(range(2), num_replicas=5, rank=rank, shuffle=shuffle, seed=1)
        assert distributed.shard_indices(2, rank, 5, shuffle=shuffle, seed=1) == list(sampler)


@settings(max_examples=100, deadline=None)
@given(num_samples=st.integers(1, 200), world_size=st.integers(1, 8), seed=st.integers(0, 1000))
def test_shards_cover_the_dataset_without_overlap_when_divisible(num_samples, world_size, seed):
    num_samples -= num_samples % world_size
    shards = [distributed.shard_indices(num_samples, r, world_size, seed=seed) for r in range(world_size)]
    assert sorted(i for s in shards for i in s) == list(range(num_samples))


def test_epoch_reshuffles_and_seed_is_shared_across_ranks():
    a = distributed.shard_indices(100, 0, 2, seed=3, epoch=0)
    b = distributed.shard_indices(100, 0, 2, seed=3, epoch=1)
    assert a != b
    assert a == distributed.shard_indices(100, 0, 2, seed=3, epoch=0)


@pytest.mark.scaffold  # validation sits outside the learner's region
@pytest.mark.parametrize("kwargs", [dict(rank=2, world_size=2), dict(rank=-1, world_size=2),
                                    dict(rank=0, world_size=0)])
def test_bad_rank_is_a_clear_error(kwargs):
    with pytest.raises(ValueError, match="rank"):
        distributed.shard_indices(10, **kwargs)
