"""3.6: failures are detected, the right ones restart, and the run still completes correctly."""
import pytest

from mlpractice.impl import load

from . import hooks, workers

distributed = load("distributed")
pytestmark = pytest.mark.exercise("3.6", "failure detection and restart")


@pytest.mark.parametrize("kind,message,restarts,max_restarts,expected", [
    ("crash", "rank 1: worker died with exit code 1 before reporting", 0, 1, True),
    ("hang", "rank 0: no heartbeat for 2 s (hung)", 0, 3, True),
    ("crash", "rank 1: worker died with exit code 9 before reporting", 1, 1, False),
    ("error", "rank 0: RuntimeError: Connection closed by peer", 0, 2, True),
    ("error", "rank 0: DistBackendError: timed out", 1, 2, True),
    ("error", "rank 1: ValueError: checkpoint was written by 3 ranks, not 2", 0, 2, False),
    ("error", "rank 1: KeyError: 'optimizer'", 0, 5, False),
    ("hang", "rank 0: no heartbeat", 0, 0, False),
    # a RuntimeError is a connection loss only when it says so; otherwise it is a bug (a shape error, ...)
    ("error", "rank 1: RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x8 and 7x16)", 0, 3, False),
    ("error", "rank 0: RuntimeError: [pair.cc:537] Read error [127.0.0.1]:24982: Connection reset by peer", 0, 3, True),
    ("error", "rank 0: RuntimeError: Expected to have finished reduction in the prior iteration", 0, 3, False),
    ("error", "rank 0: DistNetworkError: Broken pipe", 0, 1, True),
    ("error", "rank 1: DistBackendError: invalid argument", 0, 3, False),
    ("error", "rank 1: TimeoutError: timed out after 10 s", 0, 1, True),
    ("error", "rank 1: ConnectionResetError: [Errno 104] Connection reset by peer", 2, 3, True),
    ("error", "rank 1: ValueError: timed out", 0, 3, False),  # a bug whose message happens to say it
    ("error", "rank 0: RuntimeError: Broken pipe", 0, 1, True),  # the signs are compared in lower case
])
def test_should_restart(kind, message, restarts, max_restarts, expected):
    assert distributed.trainer.should_restart(kind, message, restarts, max_restarts) is expected


@pytest.mark.timeout(60)
def test_hung_worker_is_detected_within_the_timeout_and_the_run_completes(tmp_path):
    config = distributed.TrainConfig(workers=2, epochs=2, checkpoint_dir=str(tmp_path), checkpoint_every=3,
                                     max_restarts=1, timeout=2.0,
                                     failure=distributed.Failure("hang", rank=1, step=7))
    result = distributed.train(config)
    reference = distributed.train(distributed.TrainConfig(workers=2, epochs=2))
    failure = next(e for e in result.timeline if e.kind == "failure detected")
    assert failure.detail.startswith("hang") and failure.rank == 1, failure
    last_progress = max(e.time for e in result.timeline if e.kind == "checkpoint" and e.step == 6)
    assert failure.time - last_progress >= 2.0  # not declared before the timeout
    assert result.restarts == 1 and result.timeline[-1].kind == "done"
    assert result.final_params.tobytes() == reference.final_params.tobytes()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("rank", [0, 1])
def test_a_hang_is_blamed_on_the_rank_that_hung_not_on_the_rank_waiting_for_it(tmp_path, rank):
    """The other rank waits in the step's all-reduce and goes silent too, a moment later."""
    config = distributed.TrainConfig(workers=2, epochs=1, checkpoint_dir=str(tmp_path), max_restarts=0, timeout=1.5,
                                     failure=distributed.Failure("hang", rank=rank, step=5))
    with pytest.raises(distributed.WorkerFailure, match="hung") as info:
        distributed.train(config)
    assert info.value.kind == "hang" and info.value.rank == rank, str(info.value)
    assert str(info.value).startswith(f"rank {rank}: no heartbeat")


@pytest.mark.timeout(60)
def test_failures_beyond_max_restarts_raise(tmp_path):
    config = distributed.TrainConfig(workers=2, epochs=1, checkpoint_dir=str(tmp_path), max_restarts=0,
                                     failure=distributed.Failure("crash", rank=0, step=2))
    with pytest.raises(distributed.WorkerFailure, match="rank 0: worker died"):
        distributed.train(config)


@pytest.mark.timeout(60)
def test_command_line_prints_the_timeline_of_a_recovered_run(tmp_path, capsys):
    """`python -m <impl>.distributed train ...`, called in-process (a cold interpreter costs seconds)."""
    cli = load("distributed.__main__")
    code = cli.main(["train", "--workers", "2", "--strategy", "allreduce", "--epochs", "2",
                     "--checkpoint-dir", str(tmp_path), "--fail-rank", "1", "--fail-step", "5"])
    out, err = capsys.readouterr()
    assert code == 0, err
    kinds = [line.split()[1] for line in out.splitlines() if line.split()[0].endswith("s")]
    assert kinds[0] == "start" and kinds[-1] == "done" and "failure" in kinds and "restart" in kinds, out
    assert "1 restart(s), replicas identical: True" in out


def failed_run(config):
    """(the WorkerFailure a run ends with, its trainer's timeline)."""
    trainer = distributed.DistributedTrainer(config)
    with pytest.raises(distributed.WorkerFailure) as info:
        trainer.run()
    return info.value, [e.kind for e in trainer.timeline]


@pytest.mark.timeout(60)
def test_a_bug_ends_the_run_at_once_naming_rank_step_and_exception(tmp_path):
    config = distributed.TrainConfig(workers=2, epochs=1, checkpoint_dir=str(tmp_path), max_restarts=3,
                                     hooks=(hooks.ShapeErrorAt(rank=1, step=5),))
    failure, kinds = failed_run(config)
    assert kinds.count("restart") == 0 and failure.kind == "error" and failure.rank == 1
    first = str(failure).splitlines()[0]
    assert first.startswith("rank 1: RuntimeError: mat1 and mat2 shapes cannot be multiplied"), first
    assert "step 6" in first and "not restarted" in first, first


@pytest.mark.timeout(60)
def test_the_same_failure_at_the_same_step_twice_is_deterministic_and_ends_the_run(tmp_path):
    config = distributed.TrainConfig(workers=2, epochs=1, checkpoint_dir=str(tmp_path), checkpoint_every=3,
                                     max_restarts=3, hooks=(hooks.CrashEveryAttempt(rank=1, steps=(5, 5)),))
    failure, kinds = failed_run(config)
    assert kinds.count("restart") == 1 and kinds.count("failure detected") == 2
    first = str(failure).splitlines()[0]
    assert first.startswith("rank 1: worker died with exit code 3") and "step 6" in first, first
    assert "the same failure twice" in first, first


@pytest.mark.timeout(60)
def test_restarts_are_bounded_and_counted(tmp_path):
    config = distributed.TrainConfig(workers=2, epochs=1, checkpoint_dir=str(tmp_path), checkpoint_every=3,
                                     max_restarts=2, hooks=(hooks.CrashEveryAttempt(rank=1, steps=(2, 5, 7)),))
    failure, kinds = failed_run(config)
    assert kinds.count("restart") == 2 and kinds.count("failure detected") == 3
    assert "no restarts left (2 of 2 used)" in str(failure).splitlines()[0]
    # a different failure each time is not deterministic: with restarts enough the run completes
    done = distributed.train(distributed.TrainConfig(
        workers=2, epochs=1, checkpoint_dir=str(tmp_path / "more"), checkpoint_every=3, max_restarts=3,
        hooks=(hooks.CrashEveryAttempt(rank=1, steps=(2, 5, 7, -1)),)))
    assert done.restarts == 3 and done.final_params.tobytes() == distributed.train(
        distributed.TrainConfig(workers=2, epochs=1)).final_params.tobytes()


@pytest.mark.timeout(60)
def test_a_parameter_without_gradient_on_one_rank_is_a_clear_error_before_the_collective(tmp_path):
    """Without the check, the ranks would all-reduce buckets of different sizes (gloo aborts the process)."""
    config = distributed.TrainConfig(workers=2, epochs=1, model=workers.unused_on_rank1, checkpoint_dir=str(tmp_path),
                                     max_restarts=2)
    failure, kinds = failed_run(config)
    assert failure.kind == "error" and kinds.count("restart") == 0, str(failure)
    first = str(failure).splitlines()[0]
    assert "ValueError" in first and "gradient" in first and "step 1" in first, first


@pytest.mark.timeout(60)
def test_command_line_does_not_claim_identical_replicas_from_one_replica(capsys):
    """The asynchronous parameter server's workers hold no final replica: only the server's is there."""
    cli = load("distributed.__main__")
    code = cli.main(["train", "--workers", "2", "--strategy", "parameter_server", "--staleness", "2", "--epochs", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "replicas identical: n/a (1 replica)" in out and "replicas identical: True" not in out, out
