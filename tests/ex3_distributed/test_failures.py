"""3.6: failures are detected, the right ones restart, and the run still completes correctly."""
import pytest

from mlpractice.impl import load

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
    assert failure.detail.startswith("hang")
    last_progress = max(e.time for e in result.timeline if e.kind == "checkpoint" and e.step == 6)
    assert failure.time - last_progress >= 2.0  # not declared before the timeout
    assert result.restarts == 1 and result.timeline[-1].kind == "done"
    assert result.final_params.tobytes() == reference.final_params.tobytes()


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
