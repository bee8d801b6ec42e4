"""The launcher (scaffolding): results by rank, errors relayed with type and message, fast failure."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import example, given, settings, strategies as st

from mlpractice.impl import load
from mlpractice.net import free_port

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
    with pytest.raises(distributed.WorkerFailure, match="rank 1: NotImplementedError: Exercise 9.9") as info:
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


@pytest.mark.timeout(30)
def test_no_rank_exits_while_another_still_needs_the_store_it_hosts():
    """Rank 0 hosts the TCP store: it must stay until every rank has reported, not exit when it is done."""
    assert distributed.launch(workers.use_the_store_after_rank0_returned, 2, timeout=10) == ["returned", "still here"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("slow", [0, 1])
def test_a_hang_is_blamed_on_the_rank_behind_not_on_the_ranks_waiting_for_it(slow):
    with pytest.raises(distributed.WorkerFailure, match="hung") as info:
        distributed.launch(workers.fall_behind_on, 2, slow, timeout=20, heartbeat_timeout=1.0)
    assert info.value.kind == "hang" and info.value.rank == slow, str(info.value)
    assert str(info.value).startswith(f"rank {slow}:")


@pytest.mark.timeout(60)
def test_a_launch_inside_a_torchrun_worker_does_not_wait_for_the_agent_store():
    """torchrun's children inherit TORCHELASTIC_USE_AGENT_STORE: our launcher's workers host their own store."""
    root = Path(__file__).resolve().parents[2]
    code = ("from mlpractice.impl import load; from tests.ex3_distributed import workers; "
            "print([o['threads'] for o in load('distributed').launch(workers.report_impl_and_threads, 2, timeout=10)])")
    env = {**os.environ, "TORCHELASTIC_USE_AGENT_STORE": "True", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(free_port()), "RANK": "0", "WORLD_SIZE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[1, 1]"


@settings(max_examples=300, deadline=None)
@given(ranks=st.dictionaries(st.integers(0, 5), st.tuples(st.floats(0, 3), st.integers(-1, 9)), min_size=1))
@example(ranks={0: (1.1, 16), 1: (1.05, 15)})  # the waiting peer went silent first, but it is ahead
@example(ranks={0: (0.9, 16), 1: (0.95, 16)})  # nobody silent for longer than the timeout yet
def test_hung_rank_blames_the_silent_rank_furthest_behind(ranks):
    """ranks: rank -> (seconds since its last message, last progress); timeout 1 s."""
    launcher = load("distributed.launcher")
    now = 10.0
    blamed = launcher.hung_rank({r: now - s for r, (s, _) in ranks.items()}, {r: p for r, (_, p) in ranks.items()},
                                now, 1.0)
    if max(s for s, _ in ranks.values()) <= 1.0:
        assert blamed is None
        return
    candidates = {r: v for r, v in ranks.items() if v[0] > 0.5}
    assert blamed in candidates
    assert all(candidates[blamed][1] <= p for _, p in candidates.values())
    assert all(candidates[blamed][0] >= s for s, p in candidates.values() if p == candidates[blamed][1])
