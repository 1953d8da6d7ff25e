"""``python -m rnnbench.bench.worker``: time configurations in this fresh process.

With ``--serve`` it stays alive for interleaved rounds and answers one JSON line per request
line (:mod:`rnnbench.bench.serve`; the thread variables come from the parent's environment, and
it dies with its parent). Otherwise it reads one JSON request on stdin, writes one JSON answer on stdout::

    {"mode": "time" | "peak" | "overhead" | "train", "threads": N, "policy": {...TimingPolicy...},
     "configs": [{...row fields...}, ...],              # time, overhead, train
     "device": "cpu", "sizes": [...], "dtype": "float32", "framework": "numpy"}  # peak: one framework
     "batches": "path.npz", "rounds": R}               # train

A fresh process per configuration (or per backend, for the smoke suite) keeps one
framework's thread pools, caches and allocator state out of another's timings. The
thread counts are put into the environment *before* NumPy or any framework is
imported, and the backend is built with ``threads=N`` as well; the count actually in
effect (the backend's ``info()``) goes into each row. Libraries that print to stdout
cannot corrupt the answer: stdout is moved to stderr for the duration, and the JSON
goes to the original stdout at the end.
"""

from __future__ import annotations

import json
import os
import sys

from rnnbench.devices import thread_environment


def main(argv=None) -> int:
    serving = "--serve" in (sys.argv[1:] if argv is None else argv)
    request = None if serving else json.loads(sys.stdin.read())
    if request is not None:
        os.environ.update(thread_environment(int(request["threads"])))
    answer_fd = os.dup(1)
    os.dup2(2, 1)  # anything printed from here on lands on stderr
    sys.stdout = sys.stderr
    if serving:
        import signal

        from rnnbench.bench.serve import serve
        from rnnbench.sweep.guarded import _die_with_parent

        _die_with_parent(signal.SIGTERM)  # a bench killed outright takes its workers with it
        with os.fdopen(answer_fd, "w") as answer_file:
            serve(sys.stdin, answer_file)
        return 0
    answer = handle(request)
    with os.fdopen(answer_fd, "w") as answer_file:
        json.dump(answer, answer_file, default=_jsonable)
    return 0


def handle(request: dict) -> dict:
    from rnnbench.bench.timing import TimingPolicy

    policy = TimingPolicy(**request.get("policy", {}))
    mode = request.get("mode", "time")
    if mode == "peak":
        from rnnbench.bench.peak import measure_candidates

        return measure_candidates(
            request["device"],
            int(request["threads"]),
            request["sizes"],
            request.get("dtype", "float32"),
            policy,
            request.get("framework", "numpy"),
        )
    if mode == "impls":
        from rnnbench.plugins import get_registry

        return {"impls": list(getattr(get_registry().backend(request["backend"]).load(), "impls", ("native",)))}
    if mode == "train":
        from rnnbench.bench.train import run_train

        return {"rows": [run_train(config, request) for config in request["configs"]]}
    from rnnbench.bench.run_config import run_config, run_overhead

    run = run_overhead if mode == "overhead" else run_config
    backends = {}
    return {"rows": [run(config, policy, backends) for config in request["configs"]]}


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot encode {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
