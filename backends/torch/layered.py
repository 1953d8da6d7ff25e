"""Stacked and bidirectional encoders on torch tensors (docs/design.md §2.6, :mod:`rnnbench.layers`).

- ``native``: one fused ``nn.RNN``/``nn.LSTM``/``nn.GRU`` with ``num_layers`` and
  ``bidirectional`` (our canonical units converted into its ``weight_ih_l{i}[_reverse]``),
  packed sequences for ragged batches, so torch's own kernel reverses each sequence
  within its length — what a torch user would write.
- ``loop``/``compiled`` (and the model's outputs-only path): the single-layer
  implementation composed unit by unit, the backward direction fed its input
  reversed within each length (a gather) and its outputs reversed back.

The model's forward pass (``outputs_only``) composes fused single-layer calls on the
padded batch instead of packing: with the input reversed within each length the
real steps come first, so the outputs at real steps are exact, and the packed
backward pass is many times slower on the CPU (see :func:`.sequence.run_sequence`).
"""

from __future__ import annotations

import warnings

import torch
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnbench.backend import state_keys
from rnnbench.backends.torch.convert import to_torch_layered_weights
from rnnbench.backends.torch.sequence import run_sequence
from rnnbench.layers import LayerOps, directions, reverse_index, unit_params
from rnnbench.layers import compose as compose_layers


def initial_states(cell, state, units, batch, hidden, like) -> dict:
    """Every unit's initial state by prefixed key (zeros where ``state`` is None)."""
    keys = [prefix + k for _, _, prefix in units for k in state_keys(cell)]
    if state is not None:
        return {k: state[k] for k in keys}
    return {k: like.new_zeros((batch, hidden)) for k in keys}


def run_layered(impl, cell, params, x, lengths, state, activation, num_layers, bidirectional, outputs_only=False):
    """``(y [B,T,H·dirs], final {prefixed key: [B,H]})``; ``final`` is None with ``outputs_only``."""
    from rnnbench.layers import units

    B, T, _ = x.shape
    H = params["l0.fw.W_h"].shape[0]
    all_units = units(num_layers, bidirectional)
    h0 = initial_states(cell, state, all_units, B, H, x)
    if B == 0 or T == 0:
        return x.new_zeros((B, T, H * len(directions(bidirectional)))), {k: v.clone() for k, v in h0.items()}
    if impl == "native" and not outputs_only:
        return _fused(cell, params, x, lengths, h0, activation, num_layers, bidirectional)
    return compose(impl, cell, params, x, lengths, h0, activation, num_layers, bidirectional, outputs_only)


def reverse_within(a, index):
    """``a [B,T,...]`` reversed within each length: a gather with ``index [B,T]`` (rnnbench.layers.reverse_index)."""
    return torch.gather(a, 1, index[:, :, None].expand(-1, -1, a.shape[2]))


class TorchLayerOps(LayerOps):
    """:class:`rnnbench.layers.LayerOps` on torch tensors: one gather index a batch, on the input's device."""

    def __init__(self, lengths, steps, device):
        self.index = torch.from_numpy(reverse_index(lengths.numpy(), steps)).to(device)

    def reverse(self, a):
        return reverse_within(a, self.index)

    def concat(self, parts):
        return torch.cat(parts, dim=2)


def compose(impl, cell, params, x, lengths, h0, activation, num_layers, bidirectional, outputs_only=False):
    """The layered encoder from single-layer calls of ``impl`` (:func:`rnnbench.layers.compose`)."""
    ops = TorchLayerOps(lengths, x.shape[1], x.device) if bidirectional else None

    def run_unit(prefix, unit_x):
        unit_h0 = {k: h0[prefix + k] for k in state_keys(cell)}
        return run_sequence(impl, cell, unit_params(params, prefix), unit_x, lengths, unit_h0, activation, outputs_only)

    y, final = compose_layers(ops, run_unit, x, num_layers, bidirectional)
    return y, (None if outputs_only else final)


_MODULES = {}


def _module(cell, input_size, hidden, activation, num_layers, bidirectional):
    key = (cell, input_size, hidden, activation, num_layers, bidirectional)
    if key not in _MODULES:
        common = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
        if cell == "rnn":
            module = torch.nn.RNN(input_size, hidden, nonlinearity=activation, **common)
        else:
            module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](input_size, hidden, **common)
        _MODULES[key] = module.requires_grad_(False)
    return _MODULES[key]


def packing_needed(lengths, steps) -> bool:
    """Ragged lengths need a packed sequence (torch then reverses each row within its length)."""
    return not bool((lengths == steps).all())


def _fused(cell, params, x, lengths, h0, activation, num_layers, bidirectional):
    """One fused multi-layer (bidirectional) module; h0 ``[layers·dirs, B, H]`` in unit order (l0 fw, l0 bw, ...)."""
    from rnnbench.layers import units

    B, T, D = x.shape
    prefixes = [prefix for _, _, prefix in units(num_layers, bidirectional)]
    H = params["l0.fw.W_h"].shape[0]
    module = _module(cell, D, H, activation, num_layers, bidirectional)
    weights = to_torch_layered_weights(cell, params, num_layers, bidirectional)
    stacked = {k: torch.stack([h0[p + k] for p in prefixes]) for k in state_keys(cell)}
    hx = (stacked["h"], stacked["c"]) if cell == "lstm" else stacked["h"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")
        if not packing_needed(lengths, T):
            y, hn = functional_call(module, weights, (x, hx))
        else:
            packed = pack_padded_sequence(x, lengths.clamp(min=1), batch_first=True, enforce_sorted=False)
            packed_y, hn = functional_call(module, weights, (packed, hx))
            y, _ = pad_packed_sequence(packed_y, batch_first=True, total_length=T)
    hn = hn if cell == "lstm" else (hn,)
    final = {p + k: v[n] for k, v in zip(state_keys(cell), hn) for n, p in enumerate(prefixes)}
    empty = lengths == 0
    if bool(empty.any()):
        empty = empty.to(x.device)
        y = torch.where(empty[:, None, None], torch.zeros_like(y), y)
        final = {k: torch.where(empty[:, None], h0[k], v) for k, v in final.items()}
    return y, final


def sequence_timer(
    backend, cell, params, x, lengths=None, backward=False, activation="tanh", num_layers=1, bidirectional=False
):
    """As :func:`.bench.sequence_timer` for a layered encoder: this impl's path (fused module for native)."""
    from rnnbench import layers
    from rnnbench.bench.inputs import sequence_cotangent

    x, lengths, dtype, H = layers.check_layered_inputs(
        cell, params, x, lengths, None, activation, num_layers, bidirectional
    )
    p = backend._params(params, dtype, requires_grad=backward)
    xt = backend.tensor(x, requires_grad=backward)
    lengths = torch.from_numpy(lengths)
    sync = (
        (lambda: torch.cuda.synchronize(backend.torch_device))
        if backend.torch_device.type == "cuda"
        else (lambda: None)
    )
    if not backward:

        def run_forward():
            with torch.no_grad():
                backend.encode_layered(cell, p, xt, lengths, None, activation, num_layers, bidirectional)
            sync()

        return run_forward
    B, T, _ = x.shape
    dy = backend.tensor(sequence_cotangent(B, T, layers.output_size(H, bidirectional), dtype))
    inputs = [*p.values(), xt]

    def run_forward_backward():
        with torch.enable_grad():
            y, _ = backend.encode_layered(cell, p, xt, lengths, None, activation, num_layers, bidirectional)
            backend.grad([y], inputs, [dy])
        sync()

    return run_forward_backward
