"""Timers for ``rnnbench bench``: the backend's own tensor paths, on tensors made once.

Forward runs under ``torch.no_grad()`` (as inference would); forward+backward runs
the same path with autograd on and takes ``torch.autograd.grad`` of every parameter
and the input for a fixed upstream gradient, as ``sequence_backward`` does. On a GPU
the callable ends with ``torch.cuda.synchronize`` so the clock sees finished work.
"""

from __future__ import annotations

import torch

from rnnbench.backend import check_sequence_inputs, check_tree_inputs
from rnnbench.bench.inputs import sequence_cotangent, tree_cotangents

from .tree import tree_states


def _synchronizer(device: torch.device):
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def sequence_timer(backend, cell, params, x, lengths=None, backward=False, activation="tanh"):
    x, lengths, dtype = check_sequence_inputs(cell, params, x, lengths, None, activation)
    p = backend._params(params, dtype, requires_grad=backward)
    xt = backend.tensor(x, requires_grad=backward)
    lengths = torch.from_numpy(lengths)
    sync = _synchronizer(backend.torch_device)
    if not backward:

        def run_forward():
            with torch.no_grad():
                backend.encode(cell, p, xt, lengths, None, activation)
            sync()

        return run_forward
    B, T, _ = x.shape
    dy = backend.tensor(sequence_cotangent(B, T, params["W_h"].shape[0], dtype))
    inputs = [*p.values(), xt]

    def run_forward_backward():
        with torch.enable_grad():
            y, _ = backend.encode(cell, p, xt, lengths, None, activation)
            backend.grad([y], inputs, [dy])
        sync()

    return run_forward_backward


def tree_timer(backend, cell, params, x_leaves, trees, backward=False):
    x_leaves, dtype = check_tree_inputs(cell, params, x_leaves, trees)
    p = backend._params(params, dtype, requires_grad=backward)
    xt = backend.tensor(x_leaves, requires_grad=backward)
    sync = _synchronizer(backend.torch_device)
    if not backward:

        def run_forward():
            with torch.no_grad():
                tree_states(cell, p, xt, trees)
            sync()

        return run_forward
    upstream = {
        k: backend.tensor(v)
        for k, v in tree_cotangents(cell, trees.num_nodes, params["W"].shape[0] // 2, dtype).items()
    }
    inputs = [*p.values(), xt]

    def run_forward_backward():
        with torch.enable_grad():
            states = tree_states(cell, p, xt, trees)
            backend.grad([states[k] for k in upstream], inputs, list(upstream.values()))
        sync()

    return run_forward_backward


def bare_sequence_timer(backend, cell, params, x, backward=False):
    """A plain ``torch.nn.RNN/LSTM/GRU`` holding the same weights, called directly: the loop a torch
    user would time by hand, against which ``rnnbench bench --overhead`` measures the harness."""
    import numpy as np

    from .convert import to_torch_rnn_weights

    _, T, D = x.shape
    H = params["W_h"].shape[0]
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](D, H, batch_first=True)
    dtype = torch.from_numpy(np.asarray(params["W_h"])).dtype
    module = module.to(device=backend.torch_device, dtype=dtype)
    with torch.no_grad():
        for name, value in to_torch_rnn_weights(cell, params).items():
            getattr(module, name).copy_(torch.from_numpy(np.asarray(value)))
    xt = backend.tensor(x, requires_grad=backward)
    sync = _synchronizer(backend.torch_device)
    if not backward:

        def run_forward():
            with torch.no_grad():
                module(xt)
            sync()

        run = run_forward
    else:
        dy = backend.tensor(sequence_cotangent(x.shape[0], T, H, x.dtype))
        inputs = [*module.parameters(), xt]

        def run_forward_backward():
            y, _ = module(xt)
            torch.autograd.grad(y, inputs, dy)
            sync()

        run = run_forward_backward
    run.method = f"torch.nn.{type(module).__name__} called directly"
    return run


def plain_train_step(backend, spec, params):
    """The training step a torch user writes for the textclf model, holding the same initial weights:
    ``nn.Embedding``, ``nn.LSTM`` (GRU/RNN), a masked mean, ``nn.Linear``, ``torch.optim.Adam`` (its
    default CPU implementation) and ``clip_grad_norm_``; NumPy batches converted each step, the loss
    read back with ``.item()`` (rnnbench's ``train_step`` returns it as a float too)."""
    import numpy as np

    from rnnbench.model import encoder_params

    from .convert import to_torch_rnn_weights

    if spec.vocab_size is None or spec.pooling != "mean" or spec.loss != "xent" or spec.optimizer.name != "adam":
        return None
    dtype = torch.float64 if np.dtype(spec.dtype) == np.float64 else torch.float32
    E, H = spec.embed_size, spec.hidden_size
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[spec.cell](E, H, batch_first=True)
    model = torch.nn.ModuleDict(
        {"embedding": torch.nn.Embedding(spec.vocab_size, E), "rnn": rnn, "head": torch.nn.Linear(H, spec.num_outputs)}
    ).to(backend.torch_device, dtype)
    with torch.no_grad():
        model["embedding"].weight.copy_(torch.from_numpy(np.asarray(params["embedding"])))
        for name, value in to_torch_rnn_weights(spec.cell, encoder_params(params)).items():
            getattr(rnn, name).copy_(torch.from_numpy(np.asarray(value)))
        model["head"].weight.copy_(torch.from_numpy(np.asarray(params["head.W"]).T))
        model["head"].bias.copy_(torch.from_numpy(np.asarray(params["head.b"])))
    opt = spec.optimizer
    optimizer = torch.optim.Adam(model.parameters(), lr=opt.lr, betas=(opt.beta1, opt.beta2), eps=opt.eps)
    device = backend.torch_device

    def step(batch):
        ids, lengths, targets = (torch.from_numpy(np.asarray(a)).to(device) for a in batch)
        optimizer.zero_grad(set_to_none=True)
        y, _ = model["rnn"](model["embedding"](ids))
        mask = (torch.arange(y.shape[1], device=device)[None, :] < lengths[:, None]).unsqueeze(-1).to(y.dtype)
        pooled = (y * mask).sum(dim=1) / lengths[:, None].to(y.dtype)
        loss = torch.nn.functional.cross_entropy(model["head"](pooled), targets)
        loss.backward()
        if spec.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec.clip_norm)
        optimizer.step()
        return loss.item()

    step.method = f"nn.Embedding + nn.{type(rnn).__name__} + masked mean + nn.Linear, torch.optim.Adam, clip_grad_norm_"
    return step
