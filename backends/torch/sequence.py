"""The three torch implementations of a recurrent layer, on tensors, differentiable by autograd.

- ``native``: torch's fused ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (driven through
  :func:`torch.func.functional_call` with our converted weights) and
  ``pack_padded_sequence`` for ragged lengths — what a torch user would write.
- ``loop``: an explicit step loop of matmuls and gate math, the input projection
  hoisted out of the loop; a finished sequence's state is frozen by ``torch.where``.
- ``compiled``: the ``loop`` step function under :func:`torch.compile`.

All take canonical parameter tensors and return ``(y [B,T,H], final {"h", "c"})``
with the masking of the contract: zero outputs past a length, final state after
step ``length``, the initial state for length 0.
"""

from __future__ import annotations

import warnings

import torch
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnbench.backend import state_keys
from rnnbench.backends.torch.convert import to_torch_rnn_weights

IMPLS = ("native", "loop", "compiled")


def initial_state(cell, state, batch, hidden, like):
    """``state`` or zeros, as a dict of ``[B,H]`` tensors shaped and typed like ``like``."""
    if state is not None:
        return {k: state[k] for k in state_keys(cell)}
    return {k: like.new_zeros((batch, hidden)) for k in state_keys(cell)}


def run_sequence(impl, cell, params, x, lengths, state, activation, outputs_only=False):
    """Dispatch to one implementation; ``lengths`` is an int64 tensor on the CPU.

    ``outputs_only`` (the model's case: pooling reads ``y`` alone) lets ``native``
    run the padded batch unpacked and zero ``y`` past each length afterwards. That
    is exact for ``y`` (a step never sees later steps) but not for the final state,
    which is then absent. It matters: in torch 2.13 on CPU the backward pass of a
    packed LSTM is about 20x slower than the unpacked one (6.8 s against 0.3 s at
    B=64, T=300, H=128), which made the packed path useless for training.
    """
    B, T, _ = x.shape
    H = params["W_h"].shape[0]
    h0 = initial_state(cell, state, B, H, x)
    if B == 0 or T == 0:
        return x.new_zeros((B, T, H)), {k: v.clone() for k, v in h0.items()}
    if impl == "native" and outputs_only:
        return _native_padded(cell, params, x, lengths, h0, activation), None
    if impl == "native":
        return _native(cell, params, x, lengths, h0, activation)
    return _loop(cell, params, x, lengths, h0, activation, compiled=impl == "compiled")


# ---------------------------------------------------------------- native

_MODULES = {}


def _module(cell, input_size, hidden, activation):
    """One template module per shape; its own weights are never used (ours come in via functional_call)."""
    key = (cell, input_size, hidden, activation)
    if key not in _MODULES:
        if cell == "rnn":
            module = torch.nn.RNN(input_size, hidden, nonlinearity=activation, batch_first=True)
        else:
            module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](input_size, hidden, batch_first=True)
        _MODULES[key] = module.requires_grad_(False)
    return _MODULES[key]


def _native(cell, params, x, lengths, h0, activation):
    B, T, D = x.shape
    module = _module(cell, D, params["W_h"].shape[0], activation)
    weights = to_torch_rnn_weights(cell, params)
    hx = (h0["h"][None], h0["c"][None]) if cell == "lstm" else h0["h"][None]
    with warnings.catch_warnings():
        # cuDNN would like one flat weight buffer; ours are views of the canonical arrays.
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")
        if bool((lengths == T).all()):
            y, hn = functional_call(module, weights, (x, hx))
        else:
            # pack_padded_sequence rejects length 0: run those rows for one step, then
            # select zeros / the initial state for them, so no gradient leaks through.
            packed = pack_padded_sequence(x, lengths.clamp(min=1), batch_first=True, enforce_sorted=False)
            packed_y, hn = functional_call(module, weights, (packed, hx))
            y, _ = pad_packed_sequence(packed_y, batch_first=True, total_length=T)
    hn = hn if cell == "lstm" else (hn,)
    final = {k: v[0] for k, v in zip(state_keys(cell), hn)}
    empty = lengths == 0
    if bool(empty.any()):
        empty = empty.to(x.device)
        y = torch.where(empty[:, None, None], torch.zeros_like(y), y)
        final = {k: torch.where(empty[:, None], h0[k], v) for k, v in final.items()}
    return y, final


def _native_padded(cell, params, x, lengths, h0, activation):
    """``y`` of the fused layer run over the whole padded batch, zero past each length."""
    B, T, D = x.shape
    module = _module(cell, D, params["W_h"].shape[0], activation)
    hx = (h0["h"][None], h0["c"][None]) if cell == "lstm" else h0["h"][None]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")
        y, _ = functional_call(module, to_torch_rnn_weights(cell, params), (x, hx))
    past = torch.arange(T)[None, :] >= lengths[:, None]
    return y.masked_fill(past.to(x.device)[:, :, None], 0)


# ---------------------------------------------------------------- loop

# Step functions: (input projection of step t, h, c, W_h, b_h, live [B,1]) -> (h, c, y_t).
# One function per cell and activation, so torch.compile keeps one cache entry each.


def _freeze(live, h_new, h):
    """The new state where the sequence is still running, the old one past its length."""
    return torch.where(live, h_new, h)


def _emit(live, h_new):
    return torch.where(live, h_new, torch.zeros_like(h_new))


def _rnn_tanh_step(xw, h, c, W_h, b_h, live):
    h_new = torch.tanh(xw + h @ W_h)
    return _freeze(live, h_new, h), c, _emit(live, h_new)


def _rnn_relu_step(xw, h, c, W_h, b_h, live):
    h_new = torch.relu(xw + h @ W_h)
    return _freeze(live, h_new, h), c, _emit(live, h_new)


def _lstm_step(xw, h, c, W_h, b_h, live):
    i, f, g, o = (xw + h @ W_h).chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return _freeze(live, h_new, h), _freeze(live, c_new, c), _emit(live, h_new)


def _gru_step(xw, h, c, W_h, b_h, live):
    xr, xz, xn = xw.chunk(3, dim=1)
    hr, hz, hn = (h @ W_h + b_h).chunk(3, dim=1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    h_new = (1 - z) * n + z * h
    return _freeze(live, h_new, h), c, _emit(live, h_new)


STEPS = {
    ("rnn", "tanh"): _rnn_tanh_step,
    ("rnn", "relu"): _rnn_relu_step,
    ("lstm", "tanh"): _lstm_step,
    ("gru", "tanh"): _gru_step,
}
_COMPILED = {}

#: Each step function is compiled once per dtype x grad mode x (batch 1 or not); a silent
#: fallback to eager past the limit would make "compiled" timings a lie, so it raises.
_DYNAMO_LIMITS = {"recompile_limit": 32, "fail_on_recompile_limit_hit": True}


def compiled_step(key):
    """The loop's step function for ``(cell, activation)`` under torch.compile (built once)."""
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(STEPS[key], dynamic=True)
    return _COMPILED[key]


def compile_errors() -> tuple:
    """Exception types meaning "torch.compile cannot work here" (not a wrong answer)."""
    import torch._dynamo.exc as dynamo_exc
    import torch._inductor.exc as inductor_exc

    names = ("InductorError", "InvalidCxxCompiler", "CppCompileError")
    return (
        dynamo_exc.TorchDynamoException,
        *(getattr(dynamo_exc, name) for name in ("FailOnRecompileLimitHit",) if hasattr(dynamo_exc, name)),
        *(getattr(inductor_exc, name) for name in names if hasattr(inductor_exc, name)),
    )


def _loop(cell, params, x, lengths, h0, activation, compiled):
    B, T, _ = x.shape
    bias = params["b_x"] if cell == "gru" else params["b"]
    xw = torch.addmm(bias, x.reshape(B * T, -1), params["W_x"]).reshape(B, T, -1)
    live = (torch.arange(T)[None, :] < lengths[:, None]).to(x.device)
    W_h, b_h = params["W_h"], params.get("b_h")
    h, c = h0["h"], h0.get("c")
    if not compiled:
        return run_steps(cell, STEPS[cell, activation], xw, h, c, W_h, b_h, live)
    if torch.is_grad_enabled():  # the same requires_grad at every step: one graph, not two
        h, c = _grad_leaf(h), _grad_leaf(c)
    with torch._dynamo.config.patch(**_DYNAMO_LIMITS):
        return run_steps(cell, compiled_step((cell, activation)), xw, h, c, W_h, b_h, live)


def run_steps(cell, step, xw, h, c, W_h, b_h, live):
    ys = []
    for t in range(xw.shape[1]):
        h, c, y = step(xw[:, t], h, c, W_h, b_h, live[:, t, None])
        ys.append(y)
    final = {"h": h, "c": c} if cell == "lstm" else {"h": h}
    return torch.stack(ys, dim=1), final


def _grad_leaf(v):
    """``v`` itself if autograd tracks it (or it is None), else a tracked alias of it."""
    if v is None or v.requires_grad:
        return v
    return v.detach().requires_grad_()
