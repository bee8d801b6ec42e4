"""The launcher (scaffolding): results by rank, errors relayed with type and message, fast failure."""
import time

import pytest

from mlpractice.impl import load

from . import workers

distributed = load("distributed")
pytestmark = pytest.mark.scaffold


@pytest.mark.timeout(30)
def test_workers_inherit_implementation_and_use_one_thread():
    out = distributed.launch(workers.report_impl_and_threads, 2)
    assert [o["threads"] for o in out] == [1, 1]
    assert {o["module"] for o in out} == {distributed.__name__}


@pytest.mark.timeout(30)
def test_worker_exception_is_relayed_with_type_and_message_and_fails_fast():
    start = time.monotonic()
    with pytest.raises(distributed.WorkerFailure, match="rank 1: NotImplementedError: Exercise 3.9") as info:
        distributed.launch(workers.raise_on_rank1, 2, timeout=20)
    assert info.value.kind == "error" and info.value.rank == 1
    assert time.monotonic() - start < 15  # far below the 20 s group timeout (generous: shared CPU)


@pytest.mark.timeout(30)
def test_silent_crash_is_detected_by_liveness_polling():
    with pytest.raises(distributed.WorkerFailure, match="exit code 3") as info:
        distributed.launch(workers.exit_on_rank0, 2, timeout=20)
    assert info.value.kind == "crash" and info.value.rank == 0


@pytest.mark.timeout(30)
def test_hung_worker_is_detected_by_missing_heartbeat():
    with pytest.raises(distributed.WorkerFailure, match="hung") as info:
        distributed.launch(workers.sleep_forever_on_rank1, 2, heartbeat_timeout=1.0)
    assert info.value.kind == "hang" and info.value.rank == 1
