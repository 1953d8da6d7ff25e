"""The Ray executor on a local Ray instance: the same records as the local executor, and a killed task is a record."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
from deaf_run import deaf_env

from proc_helpers import catches_sigterm, parent, wait_for

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'rnnbench[ray]' (make install does)")

from rnnbench.cli import main  # noqa: E402
from rnnbench.report.frame import load_results  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "sweeps" / "smoke.toml"


@pytest.fixture(scope="module")
def local_ray():
    """A two-CPU Ray instance in this process (about 5-10 s to start), on loopback only; the executor uses it
    as it is."""
    from rnnbench.sweep.ray_executor import local_instance

    with local_instance(num_cpus=2, log_to_driver=False, logging_level="ERROR"):
        yield


def test_the_local_instance_listens_on_loopback_only(local_ray):
    """Anyone who reaches a Ray port can run code: no port of this instance (GCS, raylet, object manager,
    workers, agents, this driver) may listen beyond loopback (psutil comes with Ray)."""
    import psutil

    from rnnbench.sweep.ray_executor import is_loopback

    @ray.remote
    def worker_pid():
        return os.getpid()

    ray.get(worker_pid.remote())  # a worker is up and listening too
    me = psutil.Process()
    ours = {me.pid} | {p.pid for p in me.children(recursive=True)}
    listening = [
        (c.laddr.ip, c.laddr.port, c.pid)
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in ours
    ]
    names = {pid: psutil.Process(pid).name() for _, _, pid in listening}
    assert {"gcs_server", "raylet"} <= set(names.values()), names
    exposed = [f"{names[pid]} on {ip}:{port}" for ip, port, pid in listening if not is_loopback(ip)]
    assert not exposed, f"listening beyond loopback: {', '.join(exposed)}"
    assert is_loopback(ray.util.get_node_ip_address())


def _records(folder: Path) -> dict:
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    return {(r["task"], r["backend"], r["model"], r["seed"]): r for r in records}


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="the smoke sweep runs torch, not installed")
def test_ray_writes_the_same_records_as_the_local_executor(local_ray, tmp_path, capsys):
    here, there = tmp_path / "local", tmp_path / "ray"
    assert main(["sweep", str(SMOKE), "--jobs", "2", "--results-dir", str(here)]) == 0
    assert main(["sweep", str(SMOKE), "--executor", "ray", "--results-dir", str(there)]) == 0
    out = capsys.readouterr().out
    assert "sweep: 4 ok, 0 failed, 0 diverged, 0 interrupted, 0 skipped (4 configurations)" in out
    local, remote = _records(here), _records(there)
    assert sorted(local) == sorted(remote) and len(remote) == 4
    for key, record in remote.items():
        assert record["status"] == "ok" and record["schema"] == "rnnbench.run/1"
        assert record["best"]["dev"] == pytest.approx(local[key]["best"]["dev"], rel=1e-6, abs=1e-12)
        assert record["best"]["test"] == pytest.approx(local[key]["best"]["test"], rel=1e-6, abs=1e-12)
        assert record["steps"] == local[key]["steps"] and record["config"]["threads"] == 1
    # written by the driver into the results directory: a second sweep finds them all done
    assert main(["sweep", str(SMOKE), "--executor", "ray", "--any-version", "--results-dir", str(there)]) == 0
    assert "0 ok, 0 failed, 0 diverged, 0 interrupted, 4 skipped" in capsys.readouterr().out


KILLED = """
[options]
task = "longrange"
backend = "numpy"
model = "gru"
seq_len = 10
hidden_size = 8
steps_per_epoch = 10
dev_size = 32
test_size = 32
threads = 1

[[include]]
seed = 0
max_steps = 20

[[include]]
seed = 7                    # the one whose worker is killed: long enough never to finish first
max_steps = 200000
steps_per_epoch = 100000
"""


def test_a_task_whose_worker_is_killed_becomes_a_failed_record(local_ray, tmp_path, capsys):
    sweep = tmp_path / "killed.toml"
    sweep.write_text(KILLED)
    results = tmp_path / "results"
    killed = {}

    def kill_the_worker():
        run = _find_process(["rnnbench.sweep.guarded", "--seeds 7"], timeout=120)
        time.sleep(1.0)  # training
        killed["worker"], killed["run"] = parent(run), run
        os.kill(killed["worker"], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_worker, daemon=True)
    killer.start()
    assert main(["sweep", str(sweep), "--executor", "ray", "--results-dir", str(results)]) == 1
    killer.join(timeout=5)
    out = capsys.readouterr().out
    records = {r["seed"]: r for r in _records(results).values()}
    assert records[0]["status"] == "ok"
    failed = records[7]
    assert failed["status"] == "failed" and failed["schema"] == "rnnbench.run/1"
    assert socket.gethostname() in failed["error"] and "died" in failed["error"], failed["error"]
    assert failed["machine"]["hostname"] == socket.gethostname() and failed["machine"]["ip"] in failed["error"]
    assert "sweep: 1 ok, 1 failed, 0 diverged, 0 interrupted, 0 skipped (2 configurations)" in out
    assert failed["metric"] in ("mse", "unknown")  # mse when seed 0's record landed first
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_results(results)) == 2  # the stand-in is a row of rnnbench report
    deadline = time.monotonic() + 10  # the run went with its worker (parent-death signal): no orphan trains on
    while Path(f"/proc/{killed['run']}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{killed['run']}").exists()


def test_ctrl_c_interrupts_running_tasks_and_cancels_queued_ones(local_ray, tmp_path, capsys):
    sweep = tmp_path / "long.toml"
    sweep.write_text(
        KILLED.split("[[include]]")[0].replace("steps_per_epoch = 10\n", "")
        + "max_steps = 200000\nsteps_per_epoch = 100000\n[matrix]\nseed = [0, 1, 2]\n"
    )
    results = tmp_path / "results"

    def interrupt_when_both_train():
        for seed in (0, 1):  # two CPUs: two runs, the third waits in Ray's queue
            pid = _find_process(["rnnbench.sweep.guarded", f"--seeds {seed}"], timeout=120)
            _in_command(pid, timeout=120)  # on a loaded machine, imports take seconds
        time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGINT)  # caught by the sweep's handler: it is inside its loop now

    threading.Thread(target=interrupt_when_both_train, daemon=True).start()
    assert main(["sweep", str(sweep), "--executor", "ray", "--results-dir", str(results)]) == 130
    out = capsys.readouterr().out
    records = _records(results)
    assert sorted((r["seed"], r["status"]) for r in records.values()) == [(0, "interrupted"), (1, "interrupted")]
    assert all("SIGINT" in r["error"] for r in records.values())  # the run's own record, from the worker
    assert "0 ok, 0 failed, 0 diverged, 2 interrupted, 0 skipped, 1 not started (3 configurations)" in out


@pytest.mark.parametrize("deaf_to_sigterm, ended_by", [(False, "SIGTERM"), (True, "SIGKILL")])
def test_a_ray_run_that_ignores_ctrl_c_still_ends_and_its_record_says_interrupted(tmp_path, deaf_to_sigterm, ended_by):
    """ray.cancel reaches the run as SIGINT; a run deaf to it gets SIGTERM after the grace, then SIGKILL, and its
    record still comes back ``interrupted``. The sweep runs in a subprocess that starts its own local Ray instance,
    so that Ray's workers (and the runs they start) inherit the deaf ``sitecustomize`` on PYTHONPATH."""
    sweep = tmp_path / "long.toml"
    sweep.write_text(
        KILLED.split("[[include]]")[0].replace("steps_per_epoch = 10\n", "")
        + "max_steps = 200000\nsteps_per_epoch = 100000\n[matrix]\nseed = [0]\n"
    )
    results = tmp_path / "results"
    env = deaf_env(tmp_path / "site", deaf_to_sigterm)
    driver = (
        "import sys\nfrom rnnbench.cli import main\nfrom rnnbench.sweep.ray_executor import local_instance\n"
        "with local_instance(num_cpus=1, log_to_driver=False, logging_level='ERROR'):\n"
        "    code = main(sys.argv[1:])\nsys.exit(code)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", driver, "sweep", str(sweep), "--executor", "ray", "--results-dir", str(results)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    run = None
    try:
        run = _find_process(["rnnbench.sweep.guarded", "--seeds 0"], timeout=120)
        if not deaf_to_sigterm:
            _in_command(run, timeout=120)  # its SIGTERM handler is in: the run is training
        time.sleep(3.0)  # into the training loop (imports take seconds on a loaded machine)
        process.send_signal(signal.SIGINT)
        stopped = time.monotonic()
        out, err = process.communicate(timeout=120)  # SIGTERM after 2 s, SIGKILL 2 s later
        took = time.monotonic() - stopped
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
        if run is not None and Path(f"/proc/{run}").exists():  # no deaf run left behind by a failure here
            os.kill(run, signal.SIGKILL)
    assert process.returncode == 130, err[-2000:]
    assert took >= 2  # it did not stop at SIGINT: the grace passed first
    records = _records(results)
    assert [(seed, r["status"]) for (_, _, _, seed), r in records.items()] == [(0, "interrupted")]
    assert ended_by in json.dumps(next(iter(records.values())))
    assert "0 ok, 0 failed, 0 diverged, 1 interrupted" in out


def test_unreachable_cluster_is_one_line(tmp_path):
    """A fresh process (Ray is initialised in this one): no cluster at the address, one error line."""
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnbench.cli",
            "sweep",
            str(SMOKE),
            "--executor",
            "ray",
            "--address",
            f"127.0.0.1:{_free_port()}",
            "--results-dir",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 2
    assert process.stderr.startswith("rnnbench: error: cannot connect to a Ray cluster at 127.0.0.1:")
    assert process.stderr.count("\n") == 1, process.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _in_command(pid: int, timeout: float) -> None:
    """Until the run has entered its command (a Ctrl-C now leaves a record), or is gone (the sweep's own accounting
    then says what happened)."""
    wait_for(
        lambda: catches_sigterm(pid) or not Path(f"/proc/{pid}").exists(), timeout, f"run {pid} to enter its command"
    )


def test_a_task_that_died_before_reporting_its_node_is_placed_on_the_only_node():
    """The task's report to the tracker is not awaited, so a worker killed early can take it with it; on a
    one-node cluster the record still names the node (on several, it says it does not know)."""
    from types import SimpleNamespace

    from rnnbench.sweep.ray_executor import _only_node

    node = {"Alive": True, "NodeManagerHostname": "host-a", "NodeManagerAddress": "10.0.0.5"}
    assert _only_node(SimpleNamespace(nodes=lambda: [node, {**node, "Alive": False}])) == "host-a (10.0.0.5)"
    assert _only_node(SimpleNamespace(nodes=lambda: [node, {**node, "NodeManagerHostname": "host-b"}])) is None


def _find_process(markers: list[str], timeout: float) -> int:
    """The run's process, searched machine-wide: Ray's raylet daemonizes, so its workers are not descendants of the
    test (a descendants-only search never finds them: CI's Ray Ctrl-C tests failed so on 2026-12-07)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                if all(m in cmdline for m in markers):
                    return int(entry.name)
        time.sleep(0.1)
    raise AssertionError(f"no process with {markers} within {timeout} s")
