"""3.3: synchronous data-parallel SGD equals single-process SGD on the concatenated batch."""
import functools

import numpy as np
import pytest

from mlpractice.impl import load

from . import workers
from .reference import single_process_sgd

distributed = load("distributed")
pytestmark = pytest.mark.exercise("3.3", "synchronous data-parallel training step")


def equality_config(**kw):
    base = dict(model=functools.partial(distributed.mlp, dropout=0.0), augment_noise=0.0, epochs=2,
                batch_size=4, record_params=True, momentum=0.9, lr=0.05)
    return distributed.TrainConfig(**(base | kw))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("strategy,workers_", [("allreduce", 2), ("allreduce", 3), ("ddp", 2)])
def test_equals_single_process_sgd_and_replicas_share_bits(strategy, workers_):
    config = equality_config(strategy=strategy, workers=workers_)
    result = distributed.train(config)
    expected = single_process_sgd(config, workers_)
    histories = result.param_history
    assert len(histories) == workers_ and histories[0].shape == expected.shape
    np.testing.assert_allclose(histories[0], expected, rtol=0, atol=1e-12)
    for other in histories[1:]:
        assert other.tobytes() == histories[0].tobytes(), "replicas diverged (not bit-identical)"
    assert result.replicas_identical


@pytest.mark.timeout(60)
def test_loss_goes_down_with_dropout_and_noise():
    result = distributed.train(distributed.TrainConfig(workers=2, epochs=4))
    first, last = np.mean(result.loss_history[:6]), np.mean(result.loss_history[-6:])
    assert last < 0.8 * first, (first, last)


@pytest.mark.timeout(30)
def test_bucketed_and_per_parameter_average_match_all_reduce():
    for rank_out in distributed.launch(workers.average_gradients_vs_oracle, 2):
        assert rank_out[True]["calls"] == 1
        assert rank_out[False]["calls"] == len(rank_out[False]["got"])
        for bucketed in (True, False):
            for got, expected in zip(rank_out[bucketed]["got"], rank_out[bucketed]["expected"]):
                np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14)
