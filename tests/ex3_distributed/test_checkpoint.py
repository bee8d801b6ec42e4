"""3.4: checkpoints carry the complete state, so crash-and-resume is bit-identical to no crash."""
import os
import re
import shutil
import signal

import numpy as np
import pytest
import torch

from mlpractice.impl import current, load

from . import workers

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
    """Rank 0 dies while checkpointing step 9 (states gathered, file not written); the kill inside
    save_checkpoint's own write is the SIGKILL test below."""
    config = distributed.TrainConfig(**COMMON, checkpoint_dir=str(tmp_path), max_restarts=0,
                                     failure=distributed.Failure("crash_during_checkpoint_write", rank=0, step=7))
    with pytest.raises(distributed.WorkerFailure, match="exit code 1") as info:
        distributed.train(config)
    assert info.value.kind == "crash" and info.value.rank == 0
    latest = distributed.latest_checkpoint(tmp_path)
    assert latest.name == "ckpt-000006.pt"
    state = distributed.load_checkpoint(latest)
    assert state["global_step"] == 6 and len(state["ranks"]) == 2
    # and with a restart allowed, the run recovers from it and still matches the uninterrupted run
    recovered = distributed.train(distributed.TrainConfig(**{**COMMON, "checkpoint_dir": str(tmp_path)}))
    assert recovered.final_params.tobytes() == uninterrupted.final_params.tobytes()


@pytest.mark.timeout(60)
def test_kill_inside_the_checkpoint_write_resumes_from_the_previous_checkpoint(uninterrupted, tmp_path):
    """Rank 0 is killed by the kernel halfway through writing the step-9 file (inside save_checkpoint):
    the torn bytes must never carry a checkpoint's name, so the restart resumes from step 6 and the run
    still equals the uninterrupted one."""
    from . import hooks

    config = distributed.TrainConfig(**COMMON, checkpoint_dir=str(tmp_path), max_restarts=1,
                                     hooks=(hooks.KilledInsideCheckpointWrite(step=9),))
    resumed = distributed.train(config)
    failure = next(e for e in resumed.timeline if e.kind == "failure detected")
    assert failure.rank == 0 and resumed.restarts == 1
    assert next(e for e in resumed.timeline if e.kind == "restart").step == 6
    torn = [p for p in tmp_path.iterdir() if not re.match(r"^ckpt-\d+\.pt$", p.name)]
    assert [p.stat().st_size for p in torn] == [1024], "the kill must land inside the write, leaving a torn file"
    assert resumed.final_params.tobytes() == uninterrupted.final_params.tobytes()


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


KILLS = 24


@pytest.mark.scaffold
@pytest.mark.timeout(90)
def test_sigkill_at_random_points_of_save_checkpoint_never_leaves_a_partial_checkpoint(tmp_path):
    """A real writer process runs save_checkpoint in a loop and is SIGKILLed at a random moment, 24 times.

    After every kill: every file with a checkpoint's name loads and holds its own step in full, the
    previous checkpoint (step 1) still loads, and latest_checkpoint names the newest complete one.
    Some kills must also have landed inside writes (a torn file left behind), or the test would
    prove nothing: here about a third of them do (the rest land in serialization).
    """
    numel, name = 2**18, re.compile(r"^ckpt-(\d+)\.pt$")  # 2 MB: one save takes tens of ms with its fsync
    ctx = load("distributed.launcher").context()
    rng = np.random.default_rng(0)
    torn = 0
    for kill in range(KILLS):
        directory = tmp_path / f"kill-{kill}"
        distributed.save_checkpoint(directory / "ckpt-000001.pt", workers.checkpoint_state(1, numel))
        started = ctx.Event()
        writer = ctx.Process(target=workers.write_checkpoints_until_killed,
                             args=(str(directory), current(), numel, started), daemon=True)
        writer.start()
        assert started.wait(30), "the writer process did not start"
        writer.join(rng.uniform(0.0, 0.1))  # a few saves of about 20 ms each
        assert writer.is_alive(), f"the writer died by itself (exit code {writer.exitcode})"
        os.kill(writer.pid, signal.SIGKILL)
        writer.join(10)
        complete = {}
        for path in directory.iterdir():
            if match := name.match(path.name):
                state = distributed.load_checkpoint(path)  # a partial file under a checkpoint's name fails here
                step = int(match.group(1))
                assert state["step"] == step and torch.equal(state["payload"], workers.checkpoint_state(step, numel)["payload"])
                complete[step] = path
            else:
                torn += 1
        assert 1 in complete, "the previous checkpoint must stay loadable"
        assert distributed.latest_checkpoint(directory) == complete[max(complete)]
        shutil.rmtree(directory)  # a few 2 MB files per kill
    assert torn >= 1, f"none of {KILLS} kills landed inside a write: the test did not exercise the write"
