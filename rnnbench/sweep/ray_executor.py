"""The Ray executor: each configuration a Ray task on an existing cluster; records come back to the driver.

A task reserves ``threads`` CPUs (and a GPU when ``device`` asks for one),
runs ``rnnbench run`` in a temporary results folder on its node (which
resolves its own data directory) and returns the record; the driver writes it
with :func:`rnnbench.records.write_record`, so no node needs a shared file
system. A task whose worker dies becomes a ``failed`` record naming the node,
written by the driver; the sweep goes on. Ray is imported only here, and only
when this executor is chosen.

Anyone who reaches a Ray port can run code, so a Ray on one machine stays on
loopback: :func:`local_instance` starts one whose every port listens on
127.0.0.1 only, and :func:`connect` joins a cluster on a loopback address
without Ray rewriting it to the machine's external one (docs/sweeps.md).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
import tempfile
import time

from rnnbench.errors import RnnbenchError
from rnnbench.records import read_records
from rnnbench.sweep.local import Finished, describe_exit, keep_record
from rnnbench.sweep.stand_in import stand_in_record
from rnnbench.sweep.stopping import Escalation, StopSignals, stop_grace

INSTALL_HINT = "pip install 'rnnbench[ray]'"
WAIT_SECONDS = 0.5
PROBE_SECONDS = 5.0
#: Ray's switch for a one-machine Ray (its default on Windows and macOS): "0" makes the node's address the
#: loopback one, so the GCS, the raylet, the object manager, workers and the Ray Client server listen on
#: 127.0.0.1 only, and a loopback address (``127.0.0.1:PORT``, ``localhost``) is no longer rewritten to the
#: machine's external address. Ray reads it when imported (``ray._private.ray_constants.ENABLE_RAY_CLUSTER``).
LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def import_ray():
    try:
        import ray
    except ImportError:
        raise RnnbenchError(f"the ray executor needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8, ``::1`` or an IPv4-mapped loopback address (``::ffff:127.0.0.1``)."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


def keep_on_loopback() -> dict:
    """Make this process's Ray a one-machine Ray (:data:`LOOPBACK_SWITCH`); returns what it changed, for
    :func:`_restore`. Processes started from here (a local instance's GCS and raylet) inherit it."""
    import ray._private.ray_constants as constants

    changed = {"env": os.environ.get(LOOPBACK_SWITCH), "constant": getattr(constants, "ENABLE_RAY_CLUSTER", None)}
    os.environ[LOOPBACK_SWITCH] = "0"
    constants.ENABLE_RAY_CLUSTER = False
    return changed


def _restore(changed: dict) -> None:
    import ray._private.ray_constants as constants

    for name, value in (("env", LOOPBACK_SWITCH), ("auth", "RAY_AUTH_MODE")):
        if name in changed:
            os.environ.pop(value, None) if changed[name] is None else os.environ.__setitem__(value, changed[name])
    if changed.get("constant") is not None:
        constants.ENABLE_RAY_CLUSTER = changed["constant"]


@contextlib.contextmanager
def local_instance(**options):
    """A one-machine Ray instance started by this process, reachable from this machine only: every port it
    opens listens on loopback (and Ray 2.60 turns token authentication on for it too). Where a Ray version
    cannot keep it on loopback, it must have token authentication on, or it is stopped with an error."""
    ray = import_ray()
    changed = keep_on_loopback()
    changed["auth"] = os.environ.get("RAY_AUTH_MODE")  # Ray sets it to token for a new local instance
    options.setdefault("include_dashboard", False)
    try:
        ray.init(**options)
        if not is_loopback(ray.util.get_node_ip_address()) and os.environ.get("RAY_AUTH_MODE") != "token":
            ray.shutdown()
            raise RnnbenchError(
                "this Ray cannot keep a local instance on loopback; set RAY_AUTH_MODE=token so that "
                "its ports at least need a token (see docs/sweeps.md)"
            )
        yield ray
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _restore(changed)


def _address_on_loopback(address: str | None) -> bool:
    """Whether the cluster to join is at a loopback address: given so, or ("auto") recorded so by the
    ``ray start`` on this machine."""
    if address in (None, "auto"):
        try:
            from ray._private.services import get_ray_address_from_environment

            address = get_ray_address_from_environment("auto", None)
        except Exception:  # noqa: BLE001 - no local cluster: ray.init says so below
            return False
    if not address or "://" in address:
        return False
    return is_loopback(address.rpartition(":")[0])


def connect(ray, address: str | None) -> None:
    """Join the cluster at ``address`` ("auto": the one ``ray start`` left on this machine).

    A cluster on a loopback address is joined as a one-machine Ray (Ray would otherwise rewrite the address
    to this machine's external one, where a loopback-only cluster does not listen), with token
    authentication when a token is at hand, as Ray does for ``auto``.
    """
    if ray.is_initialized():  # a caller (a test, a notebook) already chose the cluster
        return
    _probe(address)
    if _address_on_loopback(address):
        keep_on_loopback()
        try:
            from ray._private.authentication.authentication_token_setup import (
                maybe_enable_token_auth_if_token_available,
            )

            maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
        except (ImportError, AttributeError):  # a Ray without token authentication
            pass
    try:
        ray.init(address=address or "auto", log_to_driver=False, logging_level="ERROR")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "start one with `ray start --head`"
        if address not in (None, "auto") and not os.environ.get("RAY_AUTH_MODE"):
            hint += "; a cluster with token authentication needs RAY_AUTH_MODE=token and its token here"
        raise RnnbenchError(
            f"cannot connect to a Ray cluster at {address or 'auto'} ({first}); {hint} (see docs/sweeps.md)"
        ) from None


def _probe(address: str | None) -> None:
    """Fail in seconds when nothing listens at HOST:PORT (Ray itself would retry for a minute or more)."""
    import socket

    if not address or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RnnbenchError(f"--address takes auto or HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_SECONDS).close()
    except OSError as exc:
        raise RnnbenchError(
            f"cannot connect to a Ray cluster at {address} ({exc.strerror or exc}); start one with "
            f"`ray start --head` there, or give its address (see docs/sweeps.md)"
        ) from None


class Tracker:
    """A small actor that knows where each task runs, for the record of one whose worker dies.

    Tasks tell it without waiting for an answer: a ``ray.get`` inside a task
    lends the task's CPUs to the next one while it waits, which would run more
    configurations at once than the cluster has CPUs.
    """

    def __init__(self):
        self.nodes = {}

    def started(self, key: int, node: str) -> None:
        self.nodes[key] = node

    def node(self, key: int):
        return self.nodes.get(key)


def run_ray(configurations, results_dir, address: str | None, on_finished) -> int | None:
    """Submit every configuration, write each returned record; the stopping signal, or None."""
    ray = import_ray()
    connect(ray, address)
    tracker = ray.remote(num_cpus=0)(Tracker).remote()
    task = ray.remote(run_on_worker)
    submitted, started = {}, time.time()
    grace = stop_grace()  # the driver's: a worker on another node has its own environment
    for key, config in enumerate(configurations):
        options = {"num_cpus": config.threads or 1, "max_retries": 0}
        if config.wants_gpu:
            options["num_gpus"] = 1
        argv = config.argv(threads=config.threads or 1)  # the reservation is the thread count it runs with
        submitted[task.options(**options).remote(argv, key, tracker, grace)] = (key, config)
    cancels = 0
    with StopSignals() as stop:
        while submitted:
            if stop.count > cancels:  # queued tasks never start, running ones end interrupted; again per signal
                for ref in submitted:
                    ray.cancel(ref, force=False)
                cancels = stop.count
            ready, _ = ray.wait(list(submitted), num_returns=1, timeout=WAIT_SECONDS)
            for ref in ready:
                key, config = submitted.pop(ref)
                finished = _finish(ray, ref, key, config, tracker, results_dir, started, stop.received)
                if finished is not None:
                    on_finished(finished)
    return stop.received


def _only_node(ray):
    """``host (ip)`` of a one-node cluster's node: where a task that died before its node reached the
    tracker ran (the report is not awaited, so a worker killed early can take it with it)."""
    try:
        alive = [n for n in ray.nodes() if n.get("Alive")]
    except Exception:  # noqa: BLE001 - the node name is a courtesy; the record is written either way
        return None
    if len(alive) != 1:
        return None
    return f"{alive[0].get('NodeManagerHostname')} ({alive[0].get('NodeManagerAddress')})"


def _finish(ray, ref, key, config, tracker, results_dir, started, stopping) -> Finished | None:
    """The task's record written into ``results_dir``; None for a task cancelled before it started."""
    try:
        result = ray.get(ref)
    except ray.exceptions.RayError as exc:
        node = ray.get(tracker.node.remote(key))
        if isinstance(exc, ray.exceptions.TaskCancelledError) and node is None:
            return None  # cancelled before it started
        node = node or _only_node(ray) or "an unknown node"
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1].strip()
        result = {"node": node, "records": [], "error": f"the Ray task on {node} died ({type(exc).__name__}: {reason})"}
    if result.get("not_started"):
        return None
    records = result["records"]
    if records:
        record = records[0]
    else:
        status = "interrupted" if stopping else "failed"
        error = result.get("error") or f"{describe_exit(result['returncode'], result['output'])} on {result['node']}"
        record = stand_in_record(
            config,
            status,
            error,
            started=result.get("started", started),
            finished=time.time(),
            node=result["node"],
            results_dir=results_dir,
        )
    path, elsewhere = keep_record(results_dir, record)  # a full disk: the fallback, named at the end
    return Finished(config, record, path, float(result.get("seconds", 0.0)), elsewhere)


def run_on_worker(argv: list[str], key: int, tracker, grace: float | None = None) -> dict:
    """On a Ray worker: run one configuration into a private folder and return its records.

    The child is started with a parent-death signal (``rnnbench.sweep.guarded``),
    so a worker that dies takes its run with it. ``ray.cancel`` from the driver
    arrives here as KeyboardInterrupt and goes on to the child as SIGINT: the run
    ends ``interrupted``, and that record comes back like any other. A run that
    ignores it gets SIGTERM ``grace`` seconds later, then SIGKILL (:class:`Escalation`).
    """
    import socket

    import ray

    try:
        node = f"{socket.gethostname()} ({ray.util.get_node_ip_address()})"
        tracker.started.remote(key, node)  # no ray.get: see Tracker
    except KeyboardInterrupt:  # cancelled while starting: nothing ran
        return {"not_started": True}
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="rnnbench-sweep-") as folder, tempfile.TemporaryFile() as log:
        command = [sys.executable, "-m", "rnnbench.sweep.guarded", *argv, "--results-dir", folder, "--no-progress"]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        escalation = Escalation(grace)
        while process.returncode is None:
            try:  # in slices: Ray's cancel sets Python's interrupt flag, which a blocked waitpid never reads
                escalation.push(process)  # a run that ignores SIGINT: SIGTERM, then SIGKILL
                process.wait(timeout=WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                continue
            except KeyboardInterrupt:  # once: the run is already writing its interrupted record
                if escalation.since is None:
                    process.send_signal(signal.SIGINT)
                    escalation.start()
        records = None
        while records is None:  # a late cancel must not lose the record the run just wrote
            try:
                log.seek(0)
                output = log.read().decode("utf-8", "replace")
                records = [record for _, record in read_records(folder)]
            except KeyboardInterrupt:
                continue
    return {
        "node": node,
        "records": records,
        "returncode": process.returncode,
        "output": output[-4000:],
        "started": started,
        "seconds": time.time() - started,
        "pid": os.getpid(),
    }
