"""torchrun runs the same per-rank code: one N-worker job, restarts that resume bit-identically, two agents.

The command line is run under the real `torchrun` (single node, and two agents on 127.0.0.1 joined by
c10d rendezvous). The oracle is the in-process run of the project's own launcher with the same
settings: every torchrun job must end with bitwise its final parameters (compared as a sha256 of the
float64 bytes, which the command line prints and the test computes itself).
"""
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from mlpractice.impl import current, load
from mlpractice.net import free_port

distributed = load("distributed")
ROOT = Path(__file__).resolve().parents[2]
TORCHRUN = Path(sys.executable).with_name("torchrun")
TRAIN = ["train", "--epochs", "2", "--checkpoint-every", "3", "--timeout", "10"]
SUMMARY = re.compile(r"^final loss \S+ after (\d+) steps, .*replicas identical: (\w+)$", re.M)
DIGEST = re.compile(r"^final params sha256 ([0-9a-f]{64})$", re.M)
RUN_S = 75  # one torchrun job here takes 10-20 s (every process imports torch); far above that, it hangs


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """sha256 of the final parameters of the same job run by the project's own launcher, in process."""
    result = distributed.train(distributed.TrainConfig(workers=2, epochs=2, checkpoint_every=3,
                                                       checkpoint_dir=str(tmp_path_factory.mktemp("own"))))
    return hashlib.sha256(result.final_params.tobytes()).hexdigest()


def torchrun_command(*launcher_args, train_args):
    return [str(TORCHRUN), *launcher_args, "-m", f"{current()}.distributed", *TRAIN, *train_args]


def environment():
    # one intra-op thread per worker; gloo on the loopback interface (all agents are on 127.0.0.1)
    return {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}


def run_agents(commands):
    """Start every agent, wait for all (bounded), return [(returncode, stdout + stderr)]."""
    procs = [subprocess.Popen(c, cwd=ROOT, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for c in commands]
    try:
        outputs = [p.communicate(timeout=RUN_S)[0] for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        outputs = [p.communicate()[0] for p in procs]
        pytest.fail(f"torchrun did not finish within {RUN_S} s:\n" + "\n====\n".join(o[-3000:] for o in outputs))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    return [(p.returncode, out) for p, out in zip(procs, outputs)]


def summary_of(output):
    """(steps, replicas identical, digest) from the one summary the job prints (rank 0 only)."""
    summaries, digests = SUMMARY.findall(output), DIGEST.findall(output)
    assert len(summaries) == 1 and len(digests) == 1, f"expected one job's summary, got:\n{output[-3000:]}"
    (steps, identical), = summaries
    return int(steps), identical, digests[0]


@pytest.mark.exercise("3.3", "synchronous data-parallel training step")
@pytest.mark.timeout(2 * RUN_S)
def test_torchrun_runs_one_job_equal_to_the_own_launcher(oracle, tmp_path):
    """`torchrun --nproc_per_node=2 -m <impl>.distributed train ...` is one 2-worker job, not two 2-worker jobs."""
    [(code, out)] = run_agents([torchrun_command("--standalone", "--nproc-per-node=2", "--max-restarts=0",
                                                 train_args=["--checkpoint-dir", str(tmp_path)])])
    assert code == 0, out[-3000:]
    assert "world size 2" in out and "attempt 0" in out, out[-3000:]
    assert summary_of(out) == (24, "True", oracle)


@pytest.mark.exercise("3.4", "checkpoint state capture and restore")
@pytest.mark.timeout(2 * RUN_S)
def test_torchrun_restart_after_a_crash_resumes_bit_identically(oracle, tmp_path):
    [(code, out)] = run_agents([torchrun_command(
        "--standalone", "--nproc-per-node=2", "--max-restarts=1",
        train_args=["--checkpoint-dir", str(tmp_path), "--fail-rank", "1", "--fail-step", "8"])])
    assert code == 0, out[-3000:]
    # torchrun restarted the workers once; they resumed from the last checkpoint before the crash
    assert "attempt 1" in out and "resumed from step 6" in out, out[-3000:]
    assert summary_of(out) == (24, "True", oracle)


@pytest.mark.exercise("3.3", "synchronous data-parallel training step")
@pytest.mark.timeout(2 * RUN_S)
def test_two_torchrun_agents_form_one_job_with_c10d_rendezvous(oracle, tmp_path):
    port = free_port()
    agents = [torchrun_command("--nnodes=2", "--nproc-per-node=1", "--rdzv-backend=c10d",
                               f"--rdzv-endpoint=127.0.0.1:{port}", f"--rdzv-id=ex3-{port}",
                               "--local-addr=127.0.0.1", "--max-restarts=0", "--rdzv-conf=join_timeout=60",
                               train_args=["--checkpoint-dir", str(tmp_path)]) for _ in range(2)]
    results = run_agents(agents)
    assert [code for code, _ in results] == [0, 0], "\n====\n".join(out[-2000:] for _, out in results)
    out = "\n".join(out for _, out in results)
    assert "world size 2" in out
    assert summary_of(out) == (24, "True", oracle)


# --- torchrun's variables (scaffold: provided code, in process) -----------------------------------

def job_environ(**overrides):
    base = {"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500", "LOCAL_RANK": "0",
            "TORCHELASTIC_RESTART_COUNT": "0", "TORCHELASTIC_USE_AGENT_STORE": "True"}
    return {k: v for k, v in (base | overrides).items() if v is not None}


@pytest.mark.scaffold
@settings(max_examples=200, deadline=None)
@given(world=st.integers(1, 64), data=st.data(), attempt=st.integers(0, 9), local=st.integers(0, 7),
       port=st.integers(1, 65535), agent=st.booleans(), drop=st.sampled_from([None, "RANK", "WORLD_SIZE",
                                                                              "MASTER_ADDR", "MASTER_PORT"]))
def test_torchrun_env_reads_the_job_from_the_variables(world, data, attempt, local, port, agent, drop):
    rank = data.draw(st.integers(0, world - 1))
    environ = job_environ(RANK=str(rank), WORLD_SIZE=str(world), MASTER_PORT=str(port), LOCAL_RANK=str(local),
                          TORCHELASTIC_RESTART_COUNT=str(attempt), TORCHELASTIC_USE_AGENT_STORE=str(agent))
    if drop:  # not launched by torchrun (or any env:// launcher): the project's own launcher runs
        assert distributed.torchrun_env({k: v for k, v in environ.items() if k != drop}) is None
        return
    env = distributed.torchrun_env(environ)
    assert (env.rank, env.world_size, env.local_rank, env.attempt) == (rank, world, local, attempt)
    assert (env.master_addr, env.master_port, env.agent_store) == ("127.0.0.1", port, agent)


@pytest.mark.scaffold
def test_torchrun_env_defaults_for_other_env_launchers():
    env = distributed.torchrun_env(job_environ(LOCAL_RANK=None, TORCHELASTIC_RESTART_COUNT=None,
                                               TORCHELASTIC_USE_AGENT_STORE=None))
    assert (env.local_rank, env.attempt, env.agent_store) == (0, 0, False)


@pytest.mark.scaffold
@pytest.mark.parametrize("key,value", [("RANK", "x"), ("RANK", "2"), ("RANK", "-1"), ("WORLD_SIZE", "0"),
                                       ("WORLD_SIZE", "two"), ("MASTER_PORT", "70000"),
                                       ("TORCHELASTIC_RESTART_COUNT", "-1"), ("LOCAL_RANK", "1.5")])
def test_bad_torchrun_variables_are_a_clear_error_naming_the_variable(key, value, capsys):
    environ = job_environ(**{key: value})
    with pytest.raises(ValueError, match=key):
        distributed.torchrun_env(environ)
    assert load("distributed.__main__").main(["train"], environ=environ) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and key in err and "Traceback" not in err


@pytest.mark.scaffold
@pytest.mark.parametrize("argv,message", [(["--max-restarts", "2"], "pass --max-restarts to torchrun"),
                                          (["--workers", "3"], "need 3 processes, but the launcher started 2"),
                                          (["--strategy", "parameter_server", "--workers", "2"], "need 3 processes")])
def test_command_line_under_torchrun_rejects_settings_that_cannot_hold(argv, message, capsys):
    """Checked before any process group is joined: exit code 2 and one line naming the problem."""
    assert load("distributed.__main__").main(["train", *argv], environ=job_environ()) == 2
    assert message in capsys.readouterr().err
