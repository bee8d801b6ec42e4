"""3.8: the Megatron column/row split gives the unsplit MLP's output and gradients, with 2 all-reduces."""
import numpy as np
import pytest

from mlpractice.impl import load

from . import workers

distributed = load("distributed")
pytestmark = pytest.mark.exercise("3.8", "tensor-parallel MLP")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("world_size", [2, 4])
def test_tensor_parallel_mlp_equals_the_unsplit_mlp(world_size):
    for out in distributed.launch(workers.tensor_parallel_vs_unsplit, world_size):
        for name in ("y", "x_grad", "w1", "b1", "w2", "b2"):
            np.testing.assert_allclose(out[name], out[name + "_ref"], rtol=0, atol=1e-12, err_msg=name)
        assert out["calls"] == {"forward": 1, "backward": 1}
