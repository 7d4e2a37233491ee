"""Executors do not change any output: local, processes, and a Dask local
cluster; a bad executor or a silent scheduler is one line within seconds; and
worker processes do not outlive the run."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from stochlstm import run_experiment
from stochlstm.experiment.executors import (
    SCHEDULER_TIMEOUT,
    ExecutorError,
    check_executor,
    make_executor,
)

EXPERIMENT = """\
name: sweep
seeds: {count: 700, start: 100}
model: {input_size: 2, hidden_size: 4, weights: {init: uniform, seed: 2}}
inputs: {kind: gaussian, steps: 15, seed: 4, per_seed: true}
conditions:
  deterministic: {}
  stochastic: {gates: bernoulli}
  concrete: {gates: concrete, temperature: 0.3}
sweep:
  model.hidden_size: [2, 4]
record: {seeds: 3}
output: {figures: false}
execution: {batch_size: 256}
"""


def outputs(run_dir):
    return {name: (run_dir / name).read_bytes() for name in ("summary.csv", "trajectories.csv")}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("executors")
    experiment = tmp / "sweep.yaml"
    experiment.write_text(EXPERIMENT)
    return experiment, outputs(run_experiment(experiment, out=tmp / "local").path)


def test_processes_equal_local(local_run, tmp_path):
    experiment, reference = local_run
    outcome = run_experiment(experiment, out=tmp_path, jobs=2, executor="processes")
    assert outputs(outcome.path) == reference


def test_dask_local_cluster_equals_local(local_run, tmp_path):
    pytest.importorskip("dask.distributed")
    experiment, reference = local_run
    outcome = run_experiment(experiment, out=tmp_path, jobs=2, executor="dask")
    assert outputs(outcome.path) == reference


def test_dask_scheduler_address(local_run, tmp_path):
    """Connecting to a running scheduler by address gives the same files."""
    distributed = pytest.importorskip("dask.distributed")
    experiment, reference = local_run
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, dashboard_address=None, silence_logs=40
    ) as cluster:
        outcome = run_experiment(
            experiment, out=tmp_path, jobs=1, executor=cluster.scheduler_address
        )
    assert outputs(outcome.path) == reference


def test_unknown_executor_is_named():
    with pytest.raises(
        ExecutorError, match="unknown executor 'spark'; expected one of: local, processes, dask"
    ):
        make_executor("spark", 2)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("local", ("local", None)),
        ("processes", ("processes", None)),
        (" dask ", ("dask", None)),
        ("tcp://127.0.0.1:8786", ("dask", "tcp://127.0.0.1:8786")),
        ("dask://scheduler.example:08786", ("dask", "tcp://scheduler.example:8786")),
        ("tcp://[::1]:8786", ("dask", "tcp://[::1]:8786")),
    ],
)
def test_check_executor_reads_the_kind_and_the_address(name, expected):
    assert check_executor(name) == expected


@pytest.mark.parametrize(
    "name,message",
    [
        ("bogus", "unknown executor 'bogus'; expected one of: local, processes, dask, or tcp://"),
        ("", "unknown executor ''"),
        ("http://127.0.0.1:8786", "unknown executor 'http://127.0.0.1:8786'"),
        ("tcp://127.0.0.1", "malformed scheduler address 'tcp://127.0.0.1'; expected tcp://host"),
        ("tcp://:8786", "malformed scheduler address"),
        ("tcp://host:0", "malformed scheduler address"),
        ("tcp://host:65536", "malformed scheduler address"),
        ("tcp://host:87/x", "malformed scheduler address"),
        ("x" * 100_000, "unknown executor 'xxxxx"),
    ],
)
def test_a_bad_executor_is_one_short_line(name, message):
    with pytest.raises(ExecutorError) as error:
        check_executor(name)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value) and len(str(error.value)) < 200


@pytest.fixture
def silent_server():
    """The address of a server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def accept():
        try:
            while True:
                accepted.append(server.accept()[0])
        except OSError:  # closed
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for connection in accepted:
        connection.close()


def closed_port() -> str:
    """The address of a port nothing listens on."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        return f"tcp://127.0.0.1:{server.getsockname()[1]}"


@pytest.mark.parametrize("scheduler", ["refused", "silent"])
def test_a_scheduler_that_does_not_answer_fails_within_seconds(scheduler, silent_server):
    pytest.importorskip("dask.distributed")
    address = silent_server if scheduler == "silent" else closed_port()
    start = time.perf_counter()
    with pytest.raises(ExecutorError) as error, make_executor(address, 1):
        pass
    # before: 31 s (refused) or for good (silent)
    assert time.perf_counter() - start < SCHEDULER_TIMEOUT + 2
    assert str(error.value).startswith(f"no Dask scheduler answers at '{address}' within 5 s")
    assert "\n" not in str(error.value)


PARENT = """\
import multiprocessing, time
from stochlstm.experiment.executors import ProcessExecutor

if __name__ == "__main__":
    with ProcessExecutor(2) as pool:
        list(pool.map_in_order(time.sleep, [(0.5,)] * 4, range(4)))
        print(*(p.pid for p in multiprocessing.active_children()), flush=True)
        time.sleep(600)
"""


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(PARENT))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    workers: list[int] = []
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(map(running, workers))
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while any(map(running, workers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(running, workers))  # before: they ran on
    finally:
        parent.kill()
        parent.wait()
        for pid in filter(running, workers):
            os.kill(pid, signal.SIGKILL)
