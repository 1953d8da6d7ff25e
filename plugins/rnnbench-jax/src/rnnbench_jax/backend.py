"""The JAX backend: the contract of :class:`rnnbench.backend.Backend` on jax arrays.

NumPy in, NumPy out: arrays are put on the device at this boundary and copied
back to NumPy before they leave. float64 needs ``jax_enable_x64``, which is
switched on only around this backend's own calls (:meth:`JaxBackend.precision`),
so importing or using it never changes another library's numbers.

jax is imported when the class is first instantiated, not when this module is
imported, so that a thread count can still reach XLA (it reads ``XLA_FLAGS``
once, when its CPU client starts).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys

import numpy as np

from rnnbench import (
    Backend,
    RnnbenchError,
    TreeModelSpec,
    check_layered_cotangents,
    check_layered_inputs,
    check_sequence_cotangents,
    check_sequence_inputs,
    check_tree_cotangents,
    check_tree_inputs,
    layer_units,
    layered_output_size,
    state_keys,
)

from .arrays import to_numpy

#: XLA:CPU runs either one thread or one per usable core; the first backend in a process decides.
_SINGLE_THREAD_FLAG = "--xla_cpu_multi_thread_eigen=false"
_threads_in_effect: int | None = None


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _configure_threads(threads) -> int:
    """Apply ``threads`` before XLA starts; one-line error for a count XLA:CPU cannot honour."""
    global _threads_in_effect
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise RnnbenchError(f"threads must be a positive integer, got {threads!r}")
    cores = usable_cpus()
    if _threads_in_effect is None:
        flags = os.environ.get("XLA_FLAGS", "")
        single = _SINGLE_THREAD_FLAG in flags
        if threads is not None and threads not in (1, cores):
            raise RnnbenchError(
                f"jax on CPU runs 1 thread or one per usable core ({cores}); threads={threads} cannot be honoured"
            )
        if threads == 1 and not single:
            if "jax" in sys.modules and _cpu_client_started():
                raise RnnbenchError(
                    "jax's CPU runtime already started with every core; threads=1 must be "
                    "set before the first jax computation of this process"
                )
            os.environ["XLA_FLAGS"] = f"{flags} {_SINGLE_THREAD_FLAG}".strip()
            single = True
        _threads_in_effect = 1 if single else cores
    if threads is not None and threads != _threads_in_effect:
        raise RnnbenchError(
            f"jax in this process already runs {_threads_in_effect} thread(s); threads={threads} cannot change that"
        )
    return _threads_in_effect


def _cpu_client_started() -> bool:
    import jax

    try:  # public API: live arrays exist only once a backend has started
        return bool(jax.live_arrays())
    except Exception:  # noqa: BLE001
        return True


def resolve_device(device):
    """``cpu`` (default), ``gpu``/``cuda``, ``cuda:N``/``gpu:N``; one-line error for one that is absent."""
    import jax

    name = "cpu" if device is None else str(device).strip().lower()
    match = re.fullmatch(r"(cpu|gpu|cuda)(?::(\d+))?", name)
    if match is None:
        raise RnnbenchError(f"unknown jax device {device!r}; valid: cpu, gpu, gpu:N (cuda, cuda:N)")
    kind = "cpu" if match.group(1) == "cpu" else "gpu"
    try:
        devices = jax.devices(kind)
    except RuntimeError:
        devices = []
    if not devices:
        raise RnnbenchError(
            f"device {device} requested but jax {jax.__version__} sees no {kind} "
            f"(installed: {', '.join(sorted({d.platform for d in jax.devices()}))})"
        )
    index = int(match.group(2) or 0)
    if index >= len(devices):
        raise RnnbenchError(f"device {device} requested but jax sees only {len(devices)} {kind} device(s)")
    return devices[index]


class JaxBackend(Backend):
    """JAX with one implementation, ``native``: ``lax.scan`` under ``jit``, gradients by ``jax.vjp``."""

    name = "jax"
    impls = ("native",)
    layered = True  # stacked and bidirectional encoders: .layered

    def __init__(self, impl: str | None = None, device: str | None = None, threads: int | None = None):
        impl = "native" if impl is None else impl
        if impl not in self.impls:
            raise RnnbenchError(f"unknown jax impl {impl!r}; valid: {', '.join(self.impls)}")
        self.threads_in_effect = _configure_threads(threads)
        self.jax_device = resolve_device(device)
        super().__init__(impl=impl, device=f"{self.jax_device.platform}:{self.jax_device.id}", threads=threads)

    def info(self) -> dict:
        import jax
        import jaxlib

        info = {
            "framework": "jax",
            "version": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "impl": self.impl,
            "device": self.device,
            "device_kind": self.jax_device.device_kind,
            "threads": self.threads_in_effect if self.jax_device.platform == "cpu" else None,
            "threads_requested": self.threads,
        }
        return info

    # -------------------------------------------------------------- conversion

    def precision(self, dtype):
        """The scope of one call: x64 switched on for float64 and restored afterwards."""
        if np.dtype(dtype) == np.float64:
            import jax

            return jax.enable_x64(True)
        return contextlib.nullcontext()

    def put(self, array, dtype=None):
        """A jax array on this backend's device (call inside :meth:`precision` for float64)."""
        import jax

        array = np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)
        if array.dtype == np.int64:
            array = array.astype(np.int32)  # indices and lengths; int64 would need x64 for float32 calls
        return jax.device_put(array, self.jax_device)

    def put_all(self, arrays: dict, dtype) -> dict:
        return {k: self.put(v, dtype) for k, v in arrays.items()}

    def _layered_state(self, cell, state, B, H, dtype, num_layers, bidirectional):
        keys = [p + k for _, _, p in layer_units(num_layers, bidirectional) for k in state_keys(cell)]
        if state is None:
            return {k: self.put(np.zeros((B, H), dtype)) for k in keys}
        return {k: self.put(state[k], dtype) for k in keys}

    def _layered(self, cell, params, x, lengths, state, activation, num_layers, bidirectional, backward=None):
        """A stacked/bidirectional call (:mod:`.layered`): forward, or with ``backward=(dy, dfinal)`` the VJP."""
        from . import layered

        x, lengths, dtype, H = check_layered_inputs(
            cell, params, x, lengths, state, activation, num_layers, bidirectional
        )
        B, T, _ = x.shape
        static = dict(cell=cell, activation=activation, num_layers=num_layers, bidirectional=bidirectional)
        with self.precision(dtype):
            args = (
                self.put_all(params, dtype),
                self.put(x),
                self.put(lengths),
                self._layered_state(cell, state, B, H, dtype, num_layers, bidirectional),
            )
            if backward is None:
                y, final = layered.forward(*args, **static)
                return to_numpy(y), {k: to_numpy(v) for k, v in final.items()}
            dy, dfinal = check_layered_cotangents(cell, *backward, B, T, H, dtype, num_layers, bidirectional)
            dy = np.zeros((B, T, layered_output_size(H, bidirectional)), dtype) if dy is None else dy
            dfinal = {k: dfinal.get(k, np.zeros((B, H), dtype)) for k in args[3]}
            dparams, dx, dstate = layered.backward(*args, self.put(dy), self.put_all(dfinal, dtype), **static)
            grads = {k: to_numpy(v) for k, v in dparams.items()}
            grads["x"] = to_numpy(dx)
            if state is not None:
                grads.update({f"{k}0": to_numpy(v) for k, v in dstate.items()})
            return grads

    def _state(self, cell, state, B, H, dtype):
        if state is None:
            return {k: self.put(np.zeros((B, H), dtype)) for k in state_keys(cell)}
        return {k: self.put(state[k], dtype) for k in state_keys(cell)}

    # -------------------------------------------------------------- sequences

    def sequence_forward(
        self, cell, params, x, lengths=None, state=None, activation="tanh", num_layers=1, bidirectional=False
    ):
        from . import sequence

        if num_layers != 1 or bidirectional:
            return self._layered(cell, params, x, lengths, state, activation, num_layers, bidirectional)
        x, lengths, dtype = check_sequence_inputs(cell, params, x, lengths, state, activation)
        B, H = x.shape[0], np.shape(params["W_h"])[0]
        with self.precision(dtype):
            y, final = sequence.forward(
                self.put_all(params, dtype),
                self.put(x),
                self.put(lengths),
                self._state(cell, state, B, H, dtype),
                cell=cell,
                activation=activation,
            )
            return to_numpy(y), {k: to_numpy(v) for k, v in final.items()}

    def sequence_backward(
        self, cell, params, x, lengths, dy, dfinal, state=None, activation="tanh", num_layers=1, bidirectional=False
    ):
        from . import sequence

        if num_layers != 1 or bidirectional:
            return self._layered(
                cell, params, x, lengths, state, activation, num_layers, bidirectional, backward=(dy, dfinal)
            )
        x, lengths, dtype = check_sequence_inputs(cell, params, x, lengths, state, activation)
        B, T, _ = x.shape
        H = np.shape(params["W_h"])[0]
        dy, dfinal = check_sequence_cotangents(cell, dy, dfinal, B, T, H, dtype)
        dy = np.zeros((B, T, H), dtype) if dy is None else dy
        dfinal = {k: dfinal.get(k, np.zeros((B, H), dtype)) for k in state_keys(cell)}
        with self.precision(dtype):
            dparams, dx, dstate = sequence.backward(
                self.put_all(params, dtype),
                self.put(x),
                self.put(lengths),
                self._state(cell, state, B, H, dtype),
                self.put(dy),
                self.put_all(dfinal, dtype),
                cell=cell,
                activation=activation,
            )
            grads = {k: to_numpy(v) for k, v in dparams.items()}
            grads["x"] = to_numpy(dx)
            if state is not None:
                grads.update({f"{k}0": to_numpy(v) for k, v in dstate.items()})
            return grads

    # -------------------------------------------------------------- trees

    def tree_forward(self, cell, params, x_leaves, trees):
        from .tree import TreePlan, tree_states

        x_leaves, dtype = check_tree_inputs(cell, params, x_leaves, trees)
        plan = TreePlan.of(trees)
        with self.precision(dtype):
            states = tree_states(cell, self.put_all(params, dtype), self.put(plan.pad_leaves(x_leaves)), plan, self.put)
            return {k: to_numpy(v)[: plan.num_nodes] for k, v in states.items()}

    def tree_backward(self, cell, params, x_leaves, trees, dstates):
        import jax

        from .tree import TreePlan, tree_states

        x_leaves, dtype = check_tree_inputs(cell, params, x_leaves, trees)
        H = np.shape(params["W"])[0] // 2
        dstates = check_tree_cotangents(cell, dstates, trees.num_nodes, H, dtype)
        plan = TreePlan.of(trees)
        upstream = {k: np.zeros((plan.padded_nodes, H), dtype) for k in state_keys(cell)}
        for k, v in dstates.items():
            upstream[k][: plan.num_nodes] = v
        with self.precision(dtype):
            p, xt = self.put_all(params, dtype), self.put(plan.pad_leaves(x_leaves))
            _, vjp = jax.vjp(lambda p, x: tree_states(cell, p, x, plan, self.put), p, xt)
            dparams, dx = vjp(self.put_all(upstream, dtype))
            return {**{k: to_numpy(v) for k, v in dparams.items()}, "x": to_numpy(dx)[: plan.num_leaves]}

    # -------------------------------------------------------------- models and timers

    def build_model(self, spec, params):
        if isinstance(spec, TreeModelSpec):
            from .model import JaxTreeModel

            return JaxTreeModel(spec, params, self)
        from .model import JaxModel

        return JaxModel(spec, params, self)

    def sequence_timer(
        self, cell, params, x, lengths=None, backward=False, activation="tanh", num_layers=1, bidirectional=False
    ):
        from .bench import sequence_timer

        return sequence_timer(self, cell, params, x, lengths, backward, activation, num_layers, bidirectional)

    def tree_timer(self, cell, params, x_leaves, trees, backward=False):
        from .bench import tree_timer

        return tree_timer(self, cell, params, x_leaves, trees, backward)
