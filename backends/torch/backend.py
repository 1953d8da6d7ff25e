"""The PyTorch backend: the contract of :class:`rnnbench.backend.Backend` on torch tensors.

NumPy in, NumPy out: arrays are converted at this boundary and no tensor leaves it.
Every backward pass is autograd's vector-Jacobian product of the matching forward,
so the three implementations (``native``, ``loop``, ``compiled``) share one
backward path and differ only in how the forward is computed.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from rnnbench import layers
from rnnbench.backend import (
    Backend,
    check_sequence_cotangents,
    check_sequence_inputs,
    check_tree_cotangents,
    check_tree_inputs,
    state_keys,
)
from rnnbench.backends.torch.sequence import IMPLS, compile_errors, run_sequence
from rnnbench.backends.torch.tensors import to_numpy
from rnnbench.backends.torch.tree import tree_states
from rnnbench.errors import RnnbenchError


def resolve_device(device: str | None) -> torch.device:
    """``cpu`` (default), ``cuda``/``gpu``, ``cuda:N``; one-line error for one that is absent."""
    name = "cpu" if device is None else str(device).strip().lower()
    if name == "gpu":
        name = "cuda"
    if name == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match is None:
        raise RnnbenchError(f"unknown torch device {device!r}; valid: cpu, cuda, cuda:N")
    if not torch.cuda.is_available():
        raise RnnbenchError(f"device {device} requested but torch.cuda.is_available() is False")
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise RnnbenchError(f"device {device} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    return torch.device("cuda", index)


class TorchBackend(Backend):
    """PyTorch, with ``impl`` one of ``native`` (fused layers, default), ``loop``, ``compiled``."""

    name = "torch"
    impls = IMPLS

    def __init__(self, impl: str | None = None, device: str | None = None, threads: int | None = None):
        impl = "native" if impl is None else impl
        if impl not in IMPLS:
            raise RnnbenchError(f"unknown torch impl {impl!r}; valid: {', '.join(IMPLS)}")
        if threads is not None:
            if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
                raise RnnbenchError(f"threads must be a positive integer, got {threads!r}")
            torch.set_num_threads(int(threads))
        self.torch_device = resolve_device(device)
        super().__init__(impl=impl, device=str(self.torch_device), threads=threads)

    def info(self) -> dict:
        info = {
            "framework": "torch",
            "version": torch.__version__,
            "impl": self.impl,
            "device": str(self.torch_device),
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
        }
        if self.torch_device.type == "cuda":
            info["device_name"] = torch.cuda.get_device_name(self.torch_device)
            info["cuda"] = torch.version.cuda
        return info

    def sequence_timer(
        self, cell, params, x, lengths=None, backward=False, activation="tanh", num_layers=1, bidirectional=False
    ):
        if layers.is_layered(num_layers, bidirectional):
            from .layered import sequence_timer as layered_timer

            return layered_timer(self, cell, params, x, lengths, backward, activation, num_layers, bidirectional)
        from .bench import sequence_timer

        return sequence_timer(self, cell, params, x, lengths, backward, activation)

    def tree_timer(self, cell, params, x_leaves, trees, backward=False):
        from .bench import tree_timer

        return tree_timer(self, cell, params, x_leaves, trees, backward)

    has_bare_timer = True
    has_plain_train_step = True

    def bare_sequence_timer(self, cell, params, x, backward=False):
        from .bench import bare_sequence_timer

        return bare_sequence_timer(self, cell, params, x, backward)

    def plain_train_step(self, spec, params):
        from .bench import plain_train_step

        return plain_train_step(self, spec, params)

    #: ``pack``: the native impl's ``pack_padded_sequence`` path (the loop impls run it masked).
    padding_paths = ("mask", "pack")

    def build_model(self, spec, params, padding="mask"):
        from rnnbench.tree_model import TreeModelSpec

        if padding not in self.padding_paths:
            raise RnnbenchError(f"unknown padding path {padding!r}; valid: {', '.join(self.padding_paths)}")
        if isinstance(spec, TreeModelSpec):
            from rnnbench.backends.torch.tree_model import TorchTreeModel

            return TorchTreeModel(spec, params, self)
        from rnnbench.backends.torch.model import TorchModel

        return TorchModel(spec, params, self, padding=padding)

    # -------------------------------------------------------------- conversion

    def tensor(self, array, requires_grad=False):
        """A tensor on this backend's device holding a copy of ``array`` (never aliasing it)."""
        tensor = torch.tensor(np.asarray(array), device=self.torch_device)
        return tensor.requires_grad_(requires_grad)

    def _params(self, params, dtype, requires_grad=False):
        return {k: self.tensor(np.asarray(v, dtype=dtype), requires_grad) for k, v in params.items()}

    def _state(self, cell, state, dtype, requires_grad=False):
        if state is None:
            return None
        return {k: self.tensor(np.asarray(state[k], dtype=dtype), requires_grad) for k in state_keys(cell)}

    def encode(self, cell, params, x, lengths, state, activation, outputs_only=False):
        """Run the chosen implementation on tensors; the model shares this path with the backend
        (with ``outputs_only``: the final state may then come back as None)."""
        if self.impl != "compiled":
            return run_sequence(self.impl, cell, params, x, lengths, state, activation, outputs_only)
        try:
            return run_sequence(self.impl, cell, params, x, lengths, state, activation, outputs_only)
        except compile_errors() as exc:
            raise _compile_failure(exc) from exc

    def grad(self, outputs, inputs, grad_outputs):
        """``torch.autograd.grad`` with unused inputs as zeros (compile failures reported plainly)."""
        try:
            grads = torch.autograd.grad(outputs, inputs, grad_outputs, allow_unused=True)
        except compile_errors() as exc:
            raise _compile_failure(exc) from exc
        return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]

    # -------------------------------------------------------------- sequences

    layered = True

    def encode_layered(
        self, cell, params, x, lengths, state, activation, num_layers, bidirectional, outputs_only=False
    ):
        """The stacked/bidirectional encoder of this impl on tensors (:mod:`.layered`)."""
        from rnnbench.backends.torch.layered import run_layered

        try:
            return run_layered(
                self.impl, cell, params, x, lengths, state, activation, num_layers, bidirectional, outputs_only
            )
        except compile_errors() as exc:
            raise _compile_failure(exc) from exc

    def _layered_state(self, state, dtype, requires_grad=False):
        if state is None:
            return None
        return {k: self.tensor(np.asarray(v, dtype=dtype), requires_grad) for k, v in state.items()}

    def sequence_forward(
        self, cell, params, x, lengths=None, state=None, activation="tanh", num_layers=1, bidirectional=False
    ):
        if layers.is_layered(num_layers, bidirectional):
            x, lengths, dtype, _ = layers.check_layered_inputs(
                cell, params, x, lengths, state, activation, num_layers, bidirectional
            )
            with torch.no_grad():
                y, final = self.encode_layered(
                    cell,
                    self._params(params, dtype),
                    self.tensor(x),
                    torch.from_numpy(lengths),
                    self._layered_state(state, dtype),
                    activation,
                    num_layers,
                    bidirectional,
                )
            return to_numpy(y), {k: to_numpy(v) for k, v in final.items()}
        x, lengths, dtype = check_sequence_inputs(cell, params, x, lengths, state, activation)
        with torch.no_grad():
            y, final = self.encode(
                cell,
                self._params(params, dtype),
                self.tensor(x),
                torch.from_numpy(lengths),
                self._state(cell, state, dtype),
                activation,
            )
        return to_numpy(y), {k: to_numpy(v) for k, v in final.items()}

    def sequence_backward(
        self, cell, params, x, lengths, dy, dfinal, state=None, activation="tanh", num_layers=1, bidirectional=False
    ):
        if layers.is_layered(num_layers, bidirectional):
            x, lengths, dtype, H = layers.check_layered_inputs(
                cell, params, x, lengths, state, activation, num_layers, bidirectional
            )
            B, T, _ = x.shape
            p = self._params(params, dtype, requires_grad=True)
            xt = self.tensor(x, requires_grad=True)
            s = self._layered_state(state, dtype, requires_grad=True)
            with torch.enable_grad():
                y, final = self.encode_layered(
                    cell, p, xt, torch.from_numpy(lengths), s, activation, num_layers, bidirectional
                )
            dy, dfinal = layers.check_layered_cotangents(cell, dy, dfinal, B, T, H, dtype, num_layers, bidirectional)
        else:
            x, lengths, dtype = check_sequence_inputs(cell, params, x, lengths, state, activation)
            B, T, _ = x.shape
            H = np.shape(params["W_h"])[0]
            p = self._params(params, dtype, requires_grad=True)
            xt = self.tensor(x, requires_grad=True)
            s = self._state(cell, state, dtype, requires_grad=True)
            with torch.enable_grad():
                y, final = self.encode(cell, p, xt, torch.from_numpy(lengths), s, activation)
            dy, dfinal = check_sequence_cotangents(cell, dy, dfinal, B, T, H, dtype)
        outputs, cotangents = [], []
        if dy is not None:
            outputs.append(y)
            cotangents.append(self.tensor(dy))
        for key, value in dfinal.items():
            outputs.append(final[key])
            cotangents.append(self.tensor(value))
        inputs = {**p, "x": xt}
        if s is not None:
            inputs.update({f"{k}0": v for k, v in s.items()})
        return self._vjp(outputs, cotangents, inputs)

    def _vjp(self, outputs, cotangents, inputs):
        names = list(inputs)
        # An output that depends on no input (e.g. y of a zero-step batch) contributes nothing.
        kept = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
        outputs, cotangents = [o for o, _ in kept], [c for _, c in kept]
        if not outputs:
            return {name: np.zeros(inputs[name].shape, dtype=_np_dtype(inputs[name])) for name in names}
        grads = self.grad(outputs, [inputs[n] for n in names], cotangents)
        return {name: to_numpy(g) for name, g in zip(names, grads)}

    # -------------------------------------------------------------- trees

    def tree_forward(self, cell, params, x_leaves, trees):
        x_leaves, dtype = check_tree_inputs(cell, params, x_leaves, trees)
        with torch.no_grad():
            states = tree_states(cell, self._params(params, dtype), self.tensor(x_leaves), trees)
        return {k: to_numpy(v) for k, v in states.items()}

    def tree_backward(self, cell, params, x_leaves, trees, dstates):
        x_leaves, dtype = check_tree_inputs(cell, params, x_leaves, trees)
        p = self._params(params, dtype, requires_grad=True)
        xt = self.tensor(x_leaves, requires_grad=True)
        with torch.enable_grad():
            states = tree_states(cell, p, xt, trees)
        dstates = check_tree_cotangents(cell, dstates, trees.num_nodes, states["h"].shape[1], dtype)
        outputs = [states[key] for key in dstates]
        cotangents = [self.tensor(value) for value in dstates.values()]
        return self._vjp(outputs, cotangents, {**p, "x": xt})


def _np_dtype(tensor):
    return {torch.float32: np.float32, torch.float64: np.float64}[tensor.dtype]


def _compile_failure(exc) -> RnnbenchError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return RnnbenchError(
        f"torch impl 'compiled': torch.compile failed on this machine "
        f"({type(exc).__name__}: {first[:200]}); use impl 'loop' or 'native'"
    )
