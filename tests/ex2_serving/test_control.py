"""The control plane (provided code): a worker reconciles to the desired state another worker published."""
import json
import multiprocessing as mp
import os
import signal
import time

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from mlpractice.impl import load

from .conftest import run

pytestmark = pytest.mark.scaffold

control = load("serving.control")

OPS = st.lists(st.one_of(
    st.tuples(st.just("load"), st.sampled_from(["mlp", "tabular"]), st.sampled_from([None, 1, 2])),
    st.tuples(st.just("unload"), st.sampled_from(["mlp", "tabular"]), st.sampled_from([None, 1, 2])),
    st.tuples(st.just("split"), st.just("mlp"), st.sampled_from([None, {1: 0.5, 2: 0.5}, {1: 0.0, 2: 1.0}])),
), max_size=6)


async def perform(ctl, ops) -> None:
    for kind, name, arg in ops:
        try:
            if kind == "load":
                await ctl.load(name, 1 if name == "tabular" and arg else arg)
            elif kind == "unload":
                await ctl.unload(name, 1 if name == "tabular" and arg else arg)
            else:
                await ctl.split(name, arg)
        except Exception as err:  # noqa: BLE001 - refused admin calls (404, not loaded) change nothing
            assert getattr(err, "status", 500) < 500 or isinstance(err, ValueError), err


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=OPS, ops=OPS)
@example(before=[("load", "mlp", 1)], ops=[("load", "mlp", 2), ("split", "mlp", {1: 0.5, 2: 0.5})])
@example(before=[("load", "mlp", 2), ("load", "mlp", 1)], ops=[("unload", "mlp", 1)])
@example(before=[("load", "mlp", None)], ops=[("load", "mlp", 1), ("load", "mlp", None)])  # loading v1 served it
def test_a_follower_reconciles_to_what_the_leader_holds(serving, registry, tmp_path_factory, before, ops):
    state_dir = tmp_path_factory.mktemp("control")

    async def scenario():
        leader_server = serving.ModelServer(registry, cache_size=4)
        follower_server = serving.ModelServer(registry, cache_size=4)
        leader = control.SharedControl(leader_server, state_dir)
        follower = control.SharedControl(follower_server, state_dir)
        leader.state.initialise([], registry.resolve)  # every worker starts from one published document
        try:
            await perform(control.LocalControl(follower_server), before)  # the follower's own past
            await perform(leader, ops)
            await follower.reconcile()
            return control.current_state(leader_server), control.current_state(follower_server)
        finally:
            await leader_server.close()
            await follower_server.close()

    want, got = run(scenario())
    assert got == want


def test_plan_drains_once_and_loads_the_served_version_last():
    desired = {"generation": 3, "draining": False,
               "models": {"mlp": {"loaded": [1, 2], "served": 1, "split": None}}}
    current = {"draining": False, "models": {"mlp": {"loaded": [3], "served": 3, "split": None}}}
    assert control.plan(desired, current) == [("load", "mlp", 2), ("load", "mlp", 1), ("unload", "mlp", 3)]
    assert control.plan({**desired, "draining": True}, current) == [("drain",)]
    assert control.plan({**desired, "draining": True}, {**current, "draining": True}) == []


def _add_keys(state_dir, worker: int, n: int) -> None:
    state = control.StateFile(state_dir)
    for i in range(n):
        state.update(lambda doc: doc["models"].__setitem__(f"w{worker}-{i}", {"loaded": [], "served": None,
                                                                               "split": None}))


@pytest.mark.timeout(60)
def test_concurrent_updates_from_processes_lose_nothing(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_add_keys, args=(tmp_path, w, 20)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(50)
        assert p.exitcode == 0
    doc = control.StateFile(tmp_path).read()
    assert doc["generation"] == 60
    assert len(doc["models"]) == 60


def _write_forever(state_dir) -> None:
    state = control.StateFile(state_dir)
    payload = {"loaded": list(range(2000)), "served": None, "split": None}  # a document of ~10 kB
    while True:
        state.update(lambda doc: doc["models"].__setitem__("big", payload))


@pytest.mark.timeout(60)
def test_a_writer_killed_mid_write_never_leaves_a_torn_document(tmp_path):
    ctx = mp.get_context("spawn")
    for i in range(5):
        writer = ctx.Process(target=_write_forever, args=(tmp_path,))
        writer.start()
        first = control.StateFile(tmp_path).read()["generation"]
        deadline = time.monotonic() + 30
        while control.StateFile(tmp_path).read()["generation"] < first + 3 and time.monotonic() < deadline:
            time.sleep(0.01)  # until this writer is writing
        time.sleep(0.013 * i)  # then kill it at some moment of a write
        os.kill(writer.pid, signal.SIGKILL)
        writer.join(10)
        doc = json.loads((tmp_path / "desired.json").read_text())  # whole, or this raises
        assert doc["models"]["big"]["loaded"][-1] == 1999
    assert control.StateFile(tmp_path).update(lambda doc: None)["generation"] > 1  # the lock was released
