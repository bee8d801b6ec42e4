"""3.4: checkpoints carry the complete state, so crash-and-resume is bit-identical to no crash."""
import os

import numpy as np
import pytest
import torch

from mlpractice.impl import load

distributed = load("distributed")
pytestmark = pytest.mark.exercise("3.4", "checkpoint state capture and restore")

COMMON = dict(workers=2, epochs=2, batch_size=4, checkpoint_every=3, augment_noise=0.05)  # dropout 0.1 in the model


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    return distributed.train(distributed.TrainConfig(**COMMON, checkpoint_dir=str(tmp_path_factory.mktemp("a"))))


def crashed_run(tmp_path, **kw):
    config = distributed.TrainConfig(**COMMON, checkpoint_dir=str(tmp_path), max_restarts=1,
                                     failure=distributed.Failure("crash", rank=1, step=8), **kw)
    return distributed.train(config)


def test_capture_restore_replays_the_same_steps_in_process():
    torch.manual_seed(0)
    model = distributed.mlp(dropout=0.3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    X, y = np.random.default_rng(0).standard_normal((32, 8)), np.zeros((32, 1))
    loader = distributed.ShardLoader(X, y, 0, 1, 4, sampler_seed=5, noise=0.1, generator_seed=9)

    def run(epoch, start):
        out = []
        for _, x, t in loader.batches(epoch, start):
            loss = torch.nn.functional.mse_loss(model(x), t)
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(distributed.flat_params(model))
        return np.array(out)

    run(0, 0)
    state = distributed.capture_state(model, opt, loader, 1, 3)
    first = run(1, 3)
    run(2, 0)  # move every piece of state on
    assert distributed.restore_state(state, model, opt, loader) == (1, 3)
    second = run(1, 3)
    assert first.tobytes() == second.tobytes()
    assert int(model.batches_seen) == 8 + 5  # the buffer came back to 8 (not 8 + 5 + 8), then 5 more


@pytest.mark.timeout(60)
def test_crash_and_resume_is_bitwise_equal_to_uninterrupted(uninterrupted, tmp_path):
    resumed = crashed_run(tmp_path)
    assert resumed.restarts == 1
    kinds = [e.kind for e in resumed.timeline]
    assert kinds.count("failure detected") == 1 and kinds.count("restart") == 1 and kinds[-1] == "done"
    restart = next(e for e in resumed.timeline if e.kind == "restart")
    assert restart.step == 6  # resumed from the last complete checkpoint before the crash at step 8
    assert resumed.final_params.tobytes() == uninterrupted.final_params.tobytes()
    for name, value in uninterrupted.state_dict.items():
        assert value.tobytes() == resumed.state_dict[name].tobytes(), name
    assert resumed.loss_history == uninterrupted.loss_history


@pytest.mark.timeout(60)
@pytest.mark.parametrize("piece", ["optimizer", "rng", "loader_generator", "data_position"])
def test_dropping_any_piece_of_state_breaks_the_equality(uninterrupted, tmp_path, piece):
    resumed = crashed_run(tmp_path, ablate=(piece,))
    assert resumed.restarts == 1
    assert not np.array_equal(resumed.final_params, uninterrupted.final_params), \
        f"resuming without {piece!r} should change the result"


@pytest.mark.timeout(60)
def test_crash_during_checkpoint_write_leaves_the_previous_one_loadable(uninterrupted, tmp_path):
    config = distributed.TrainConfig(**COMMON, checkpoint_dir=str(tmp_path), max_restarts=0,
                                     failure=distributed.Failure("crash_during_checkpoint_write", rank=0, step=7))
    with pytest.raises(distributed.WorkerFailure, match="exit code 1") as info:
        distributed.train(config)
    assert info.value.kind == "crash"
    torn = [p for p in os.listdir(tmp_path) if ".tmp-" in p]
    assert torn, "the injected crash should leave a torn temporary file behind"
    latest = distributed.latest_checkpoint(tmp_path)
    assert latest.name == "ckpt-000006.pt"
    state = distributed.load_checkpoint(latest)
    assert state["global_step"] == 6 and len(state["ranks"]) == 2
    # and with a restart allowed, the run recovers from it and still matches the uninterrupted run
    recovered = distributed.train(distributed.TrainConfig(**{**COMMON, "checkpoint_dir": str(tmp_path)}))
    assert recovered.final_params.tobytes() == uninterrupted.final_params.tobytes()


@pytest.mark.scaffold
def test_save_load_roundtrip_is_atomic(tmp_path):
    path = tmp_path / "x.pt"
    distributed.save_checkpoint(path, {"a": torch.arange(3), "b": [1, 2]})
    distributed.save_checkpoint(path, {"a": torch.arange(4), "b": [3]})
    state = distributed.load_checkpoint(path)
    assert state["a"].tolist() == [0, 1, 2, 3] and state["b"] == [3]
    assert os.listdir(tmp_path) == ["x.pt"]  # no temporary file left behind
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        distributed.load_checkpoint(tmp_path / "missing.pt")
