"""Sequence cells (rnn, lstm, gru) forward and backward (BPTT) by hand, in NumPy.

This is the reference every other backend is checked against, so the maths is
spelled out step by step; it is also a speed contender, so the work is laid
out the way a fused kernel would do it:

* one GEMM projects the inputs of all steps at once, and the bias is added to
  that buffer, so the time loop only adds ``h_{t-1} @ W_h``;
* buffers are time-major (``[T, B, ...]``) and written in place (``out=``),
  so each step touches contiguous memory and allocates nothing;
* sigmoid is computed as ``0.5 * tanh(0.5 a) + 0.5``: the ``0.5 a`` is folded
  into the weights once per call (an exact power-of-two scaling), so one
  ``tanh`` over all gates and one affine map per step replace separate
  exp/add/divide passes;
* the LSTM backward pass computes the local derivatives (which need no upstream
  gradient) for a cache-sized chunk of steps at a time, leaving a handful of
  NumPy calls per step in the time loop, where call overhead adds up;
* the backward pass keeps every step's pre-activation gradient and finishes
  with one GEMM for ``dW_x``, one for ``dW_h`` and one for ``dx`` over all
  steps; inside the loop only ``dgates_t @ W_h.T`` remains (against a
  contiguous copy of ``W_h.T``, which BLAS runs markedly faster);
* the large buffers (tens of MB) come from a small per-thread pool: a fresh
  allocation of that size costs thousands of page faults, about a tenth of
  the whole call. :func:`backward` hands the forward pass's buffers back, so
  a cache serves exactly one backward call. Nothing returned to the caller
  is ever a pool buffer.

Masking: a sequence of length ``L`` freezes its state after step ``L``
(``h_t = h_{t-1}`` for ``t >= L``), so the final state is the state after step
``L`` and, in the backward pass, the gradient passes a frozen step unchanged
while the gates of that step receive none. Outputs past ``L`` are zero, so an
upstream ``dy`` there has no effect. Steps where every sequence is still
running (all of them when lengths are equal) pay nothing for masking.

The ragged loop (LSTM): a batch sorted longest first runs each step on the rows
still running alone (a prefix of the batch), as torch's packed sequences do, and
copies the finished rows' states; the numbers are the masked loop's. The NumPy
model's ``padding="pack"`` sorts its batches so (``bench --suite lengths``).
"""

from __future__ import annotations

import threading

import numpy as np

from rnnbench.errors import RnnbenchError

#: Large buffers kept for reuse per thread (the most recently returned ones).
SPARE_BUFFERS = 12
_spares = threading.local()


def forward(cell, params, x, lengths, state, activation="tanh"):
    """Run ``cell`` over ``x`` [B,T,D]; return ``(y [B,T,H], final, cache)``.

    Inputs must already be validated by ``rnnbench.backend.check_sequence_inputs``
    (``x`` C-contiguous in the parameters' dtype, ``lengths`` int64). ``cache``
    holds what :func:`backward` needs; it serves one backward call (which
    recycles its buffers), and a forward pass whose cache is dropped is fine.
    """
    run = _FORWARD[cell]
    return run(params, x, lengths, state, activation)


def backward(cache, dy, dfinal, state_grads=None):
    """Vector-Jacobian product of :func:`forward`.

    ``dy`` [B,T,H] or None (zeros); ``dfinal`` a dict like ``final`` whose
    missing keys or None values mean zero. Returns every parameter's gradient,
    ``"x"`` and, when the forward call had a state, ``"h0"`` (and ``"c0"``).

    ``state_grads``, an optional ``[B,T,H]`` array, receives at ``[:, t]`` the
    total gradient of the state ``h`` after step ``t`` (everything that reaches
    it from ``dy`` at ``t`` and from all later steps): the running ``dh`` that
    BPTT computes anyway, copied out for the gradient-flow diagnostic.
    """
    if cache.get("used"):
        raise RnnbenchError("this forward cache was already used by a backward call; run forward again")
    grads = _BACKWARD[cache["cell"]](cache, dy, dfinal or {}, state_grads)  # reads the cache, never writes it
    cache["used"] = True
    _recycle(*(cache.pop(key) for key in cache.pop("buffers")))
    return grads


# ---------------------------------------------------------------- shared parts


def _buffer(shape, dtype):
    """An uninitialised array, reusing a recycled one of the same shape and dtype if any."""
    spares = getattr(_spares, "arrays", None)
    if spares:
        for index, array in enumerate(spares):
            if array.shape == shape and array.dtype == dtype:
                return spares.pop(index)
    return np.empty(shape, dtype)


def _recycle(*arrays):
    """Give buffers that nothing references any more back for reuse."""
    spares = getattr(_spares, "arrays", None)
    if spares is None:
        spares = _spares.arrays = []
    spares.extend(arrays)
    del spares[:-SPARE_BUFFERS]


def _time_major(x):
    """[B,T,D] -> contiguous [T,B,D] (per-step slices become contiguous), in a pool buffer."""
    B, T, D = x.shape
    xt = _buffer((T, B, D), x.dtype)
    np.copyto(xt, x.transpose(1, 0, 2))
    return xt


def _initial(state, key, shape, dtype):
    if state is None:
        return np.zeros(shape, dtype)
    return np.asarray(state[key], dtype=dtype)


def _upstream(grad, shape, dtype):
    """An upstream gradient as an array of ``dtype``, or None when it is zero."""
    if grad is None:
        return None
    grad = np.asarray(grad, dtype=dtype)
    if grad.shape != shape:
        raise RnnbenchError(f"upstream gradient must have shape {shape}, got {grad.shape}")
    return grad


def _idle_rows(lengths, min_length, t):
    """[B,1] bool mask of sequences already finished at step ``t``; None if none is."""
    if t < min_length:
        return None
    return (lengths <= t)[:, None]


def _min_length(lengths, T):
    return int(lengths.min()) if lengths.size else T


def _running_rows(lengths, T):
    """``[T]`` rows still running at each step when the batch is sorted longest first (the ragged loop:
    step ``t`` then runs on rows ``[:running[t]]`` alone); None otherwise, or when none ever stops."""
    if lengths.size < 2 or _min_length(lengths, T) >= T or not bool(np.all(lengths[:-1] >= lengths[1:])):
        return None
    return np.count_nonzero(lengths[None, :] > np.arange(T)[:, None], axis=1)


def _outputs(hs, lengths, min_length):
    """y [B,T,H] from the time-major state buffer, zero past each length."""
    T = hs.shape[0] - 1
    y = np.empty((hs.shape[1], T, hs.shape[2]), hs.dtype)
    if min_length >= T:
        np.copyto(y, hs[1:].transpose(1, 0, 2))
    else:
        valid = np.arange(T) < lengths[:, None]
        np.multiply(hs[1:].transpose(1, 0, 2), valid[:, :, None], out=y)
    return y


def _add_upstream_output(dh, dy, t, idle):
    """dh += dy[:, t], ignoring finished sequences (their output is a constant zero)."""
    if dy is None:
        return
    if idle is None:
        dh += dy[:, t]
    else:
        np.add(dh, dy[:, t], out=dh, where=~idle)


def _carry(final, key, B, H, dtype):
    grad = _upstream(final.get(key), (B, H), dtype)
    return np.zeros((B, H), dtype) if grad is None else grad.copy()


def _input_grads(xt, dgates, W_x_t):
    """dW_x and dx [B,T,D] from the stacked pre-activation gradients [T,B,G]."""
    T, B, D = xt.shape
    flat = dgates.reshape(T * B, dgates.shape[2])
    dW_x = xt.reshape(T * B, D).T @ flat
    dx = _buffer((T, B, D), xt.dtype)
    np.matmul(flat, W_x_t, out=dx.reshape(T * B, D))
    batch_major = dx.transpose(1, 0, 2).copy()  # a copy even where the transpose is contiguous
    _recycle(dx)
    return dW_x, batch_major


def _projection(xt, W_x, bias):
    """x W_x + b for all steps at once: one GEMM, [T,B,G], in a pool buffer."""
    T, B, D = xt.shape
    G = W_x.shape[1]
    projected = _buffer((T, B, G), xt.dtype)
    np.matmul(xt.reshape(T * B, D), W_x, out=projected.reshape(T * B, G))
    projected += bias
    return projected


# ------------------------------------------------------------------------- rnn


def _rnn_forward(params, x, lengths, state, activation):
    B, T, D = x.shape
    W_h = params["W_h"]
    H = W_h.shape[0]
    dtype = W_h.dtype
    xt = _time_major(x)
    pre = _projection(xt, params["W_x"], params["b"])
    hs = _buffer((T + 1, B, H), dtype)
    hs[0] = _initial(state, "h", (B, H), dtype)
    recurrent = np.empty((B, H), dtype)
    min_length = _min_length(lengths, T)
    for t in range(T):
        a = pre[t]
        np.matmul(hs[t], W_h, out=recurrent)
        a += recurrent
        if activation == "tanh":
            np.tanh(a, out=hs[t + 1])
        else:
            np.maximum(a, 0, out=hs[t + 1])
        idle = _idle_rows(lengths, min_length, t)
        if idle is not None:
            np.copyto(hs[t + 1], hs[t], where=idle)
    cache = dict(
        cell="rnn",
        activation=activation,
        params=params,
        xt=xt,
        lengths=lengths,
        min_length=min_length,
        hs=hs,
        has_state=state is not None,
        buffers=("xt", "hs"),
    )
    _recycle(pre)
    return _outputs(hs, lengths, min_length), {"h": hs[T].copy()}, cache


def _rnn_backward(cache, dy, dfinal, state_grads=None):
    params, hs, lengths, min_length = cache["params"], cache["hs"], cache["lengths"], cache["min_length"]
    T1, B, H = hs.shape
    T = T1 - 1
    dtype = hs.dtype
    W_h_t = np.ascontiguousarray(params["W_h"].T)
    dy = _upstream(dy, (B, T, H), dtype)
    dh = _carry(dfinal, "h", B, H, dtype)
    dh_prev = np.empty_like(dh)
    dpre = _buffer((T, B, H), dtype)
    for t in range(T - 1, -1, -1):
        idle = _idle_rows(lengths, min_length, t)
        _add_upstream_output(dh, dy, t, idle)
        if state_grads is not None:
            state_grads[:, t] = dh
        d = dpre[t]
        h = hs[t + 1]
        if cache["activation"] == "tanh":
            np.multiply(h, h, out=d)
            np.subtract(1, d, out=d)
            d *= dh
        else:
            np.multiply(dh, h > 0, out=d)
        if idle is not None:
            np.copyto(d, 0, where=idle)
        np.matmul(d, W_h_t, out=dh_prev)
        if idle is not None:
            np.copyto(dh_prev, dh, where=idle)
        dh, dh_prev = dh_prev, dh
    dW_x, dx = _input_grads(cache["xt"], dpre, np.ascontiguousarray(params["W_x"].T))
    flat = dpre.reshape(T * B, H)
    grads = {"W_x": dW_x, "W_h": hs[:-1].reshape(T * B, H).T @ flat, "b": flat.sum(axis=0), "x": dx}
    _recycle(dpre)
    if cache["has_state"]:
        grads["h0"] = dh
    return grads


# ------------------------------------------------------------------------ lstm

#: Work on this many floats of gate values at a time when precomputing local slopes (fits in cache).
_SLOPE_CHUNK = 2**19


def _lstm_forward(params, x, lengths, state, activation):
    B, T, D = x.shape
    H = params["W_h"].shape[0]
    dtype = params["W_h"].dtype
    # sigmoid(a) = 0.5 * tanh(0.5 a) + 0.5: pre-scale the i, f, o columns by 0.5,
    # then per step one tanh over all gates and one affine map (scale, offset).
    scale = np.full(4 * H, 0.5, dtype)
    scale[2 * H : 3 * H] = 1.0
    offset = np.full(4 * H, 0.5, dtype)
    offset[2 * H : 3 * H] = 0.0
    W_h_scaled = params["W_h"] * scale
    xt = _time_major(x)
    # acts: pre-activations, then in place the gate values (i, f, o sigmoid; g tanh).
    acts = _projection(xt, params["W_x"] * scale, params["b"] * scale)
    hs = _buffer((T + 1, B, H), dtype)
    cs = _buffer((T + 1, B, H), dtype)
    tanh_cs = _buffer((T, B, H), dtype)
    hs[0] = _initial(state, "h", (B, H), dtype)
    cs[0] = _initial(state, "c", (B, H), dtype)
    recurrent = np.empty((B, 4 * H), dtype)
    ig = np.empty((B, H), dtype)
    min_length = _min_length(lengths, T)
    running = _running_rows(lengths, T)
    for t in range(T):
        n = B if running is None else int(running[t])  # a sorted batch: its first n rows still run
        a = acts[t, :n]
        np.matmul(hs[t, :n], W_h_scaled, out=recurrent[:n])
        a += recurrent[:n]
        np.tanh(a, out=a)
        a *= scale
        a += offset
        i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        c = cs[t + 1, :n]
        np.multiply(f, cs[t, :n], out=c)
        np.multiply(i, g, out=ig[:n])
        c += ig[:n]
        np.tanh(c, out=tanh_cs[t, :n])
        np.multiply(o, tanh_cs[t, :n], out=hs[t + 1, :n])
        if n < B:  # finished rows keep their state; their gates are never read (backward zeroes them)
            cs[t + 1, n:] = cs[t, n:]
            hs[t + 1, n:] = hs[t, n:]
            tanh_cs[t, n:] = 0
        idle = None if running is not None else _idle_rows(lengths, min_length, t)
        if idle is not None:
            np.copyto(cs[t + 1], cs[t], where=idle)
            np.copyto(hs[t + 1], hs[t], where=idle)
    cache = dict(
        cell="lstm",
        params=params,
        xt=xt,
        lengths=lengths,
        min_length=min_length,
        running=running,
        acts=acts,
        hs=hs,
        cs=cs,
        tanh_cs=tanh_cs,
        has_state=state is not None,
        buffers=("xt", "acts", "hs", "cs", "tanh_cs"),
    )
    final = {"h": hs[T].copy(), "c": cs[T].copy()}
    return _outputs(hs, lengths, min_length), final, cache


def _lstm_slopes(acts, cs, tanh_cs, start, stop, slopes, cell_slope):
    """Local derivatives of steps ``start:stop``, which need no upstream gradient.

    ``slopes`` [n,B,4H] receives d(gate pre-activation) per unit of what multiplies
    it upstream: i: g*i(1-i), f: c_prev*f(1-f), g: i*(1-g^2) (each times dc), and
    o: tanh(c)*o(1-o) (times dh); ``cell_slope`` [n,B,H] receives o*(1-tanh(c)^2),
    the path from dh into dc. Done a chunk of steps at a time, so the time loop
    is left with a handful of operations a step.
    """
    H = cs.shape[2]
    a = acts[start:stop]
    i, g, o = a[..., :H], a[..., 2 * H : 3 * H], a[..., 3 * H :]
    si, sf, sg, so = slopes[..., :H], slopes[..., H : 2 * H], slopes[..., 2 * H : 3 * H], slopes[..., 3 * H :]
    tanh_c = tanh_cs[start:stop]
    np.subtract(1, a[..., : 2 * H], out=slopes[..., : 2 * H])  # i(1-i), f(1-f)
    slopes[..., : 2 * H] *= a[..., : 2 * H]
    si *= g
    sf *= cs[start:stop]
    np.subtract(1, o, out=so)
    so *= o
    so *= tanh_c
    np.multiply(g, g, out=sg)
    np.subtract(1, sg, out=sg)
    sg *= i
    np.multiply(tanh_c, tanh_c, out=cell_slope)
    np.subtract(1, cell_slope, out=cell_slope)
    cell_slope *= o


def _lstm_backward(cache, dy, dfinal, state_grads=None):
    acts, hs, cs, tanh_cs = cache["acts"], cache["hs"], cache["cs"], cache["tanh_cs"]
    lengths, min_length = cache["lengths"], cache["min_length"]
    T1, B, H = hs.shape
    T = T1 - 1
    dtype = hs.dtype
    W_h_t = np.ascontiguousarray(cache["params"]["W_h"].T)
    dy = _upstream(dy, (B, T, H), dtype)
    dh = _carry(dfinal, "h", B, H, dtype)
    dc = _carry(dfinal, "c", B, H, dtype)
    dh_prev, dc_prev = np.empty_like(dh), np.empty_like(dc)
    dc_total = np.empty((B, H), dtype)
    tmp = np.empty((B, H), dtype)
    # dgates[t] first holds step t's local slopes, then (in place) its pre-activation gradient.
    dgates = _buffer((T, B, 4 * H), dtype)
    gates4 = dgates.reshape(T, B, 4, H)
    chunk = max(1, min(T, _SLOPE_CHUNK // max(1, B * 4 * H)))
    cell_slopes = np.empty((chunk, B, H), dtype)
    running = cache.get("running")
    start = T
    for t in range(T - 1, -1, -1):
        if t < start:
            start = max(0, t + 1 - chunk)
            _lstm_slopes(acts, cs, tanh_cs, start, t + 1, dgates[start : t + 1], cell_slopes[: t + 1 - start])
        n = B if running is None else int(running[t])  # the ragged loop: rows [:n] ran this step
        idle = None if running is not None else _idle_rows(lengths, min_length, t)
        if running is None:
            _add_upstream_output(dh, dy, t, idle)
        elif dy is not None:  # a finished row's output is a constant zero: its dy has no effect
            dh[:n] += dy[:n, t]
        if state_grads is not None:
            state_grads[:, t] = dh
        np.multiply(dh[:n], cell_slopes[t - start, :n], out=tmp[:n])
        np.add(dc[:n], tmp[:n], out=dc_total[:n])
        d4 = gates4[t, :n]
        np.multiply(d4[:, :3], dc_total[:n, None, :], out=d4[:, :3])  # i, f, g
        np.multiply(d4[:, 3], dh[:n], out=d4[:, 3])  # o
        d = dgates[t]
        if n < B:
            d[n:] = 0
            dh_prev[n:] = dh[n:]
            dc_prev[n:] = dc[n:]
        if idle is not None:
            np.copyto(d, 0, where=idle)
        np.matmul(d[:n], W_h_t, out=dh_prev[:n])
        np.multiply(dc_total[:n], acts[t, :n, H : 2 * H], out=dc_prev[:n])
        if idle is not None:
            np.copyto(dh_prev, dh, where=idle)
            np.copyto(dc_prev, dc, where=idle)
        dh, dh_prev = dh_prev, dh
        dc, dc_prev = dc_prev, dc
    flat = dgates.reshape(T * B, 4 * H)
    dW_x, dx = _input_grads(cache["xt"], dgates, np.ascontiguousarray(cache["params"]["W_x"].T))
    grads = {"W_x": dW_x, "W_h": hs[:-1].reshape(T * B, H).T @ flat, "b": flat.sum(axis=0), "x": dx}
    _recycle(dgates)
    if cache["has_state"]:
        grads["h0"] = dh
        grads["c0"] = dc
    return grads


# ------------------------------------------------------------------------- gru


def _gru_forward(params, x, lengths, state, activation):
    B, T, D = x.shape
    H = params["W_h"].shape[0]
    dtype = params["W_h"].dtype
    scale = np.ones(3 * H, dtype)
    scale[: 2 * H] = 0.5  # r and z are sigmoids: fold the 0.5 of 0.5*tanh(0.5a)+0.5 in
    W_h_scaled = params["W_h"] * scale
    b_h_scaled = params["b_h"] * scale
    xt = _time_major(x)
    # acts: x W_x + b_x, then in place the gate values r, z (sigmoid) and n (tanh).
    acts = _projection(xt, params["W_x"] * scale, params["b_x"] * scale)
    # recurrents: h W_h + b_h per step (its n block is needed again by the backward pass).
    recurrents = _buffer((T, B, 3 * H), dtype)
    hs = _buffer((T + 1, B, H), dtype)
    hs[0] = _initial(state, "h", (B, H), dtype)
    tmp = np.empty((B, H), dtype)
    min_length = _min_length(lengths, T)
    for t in range(T):
        a, rec = acts[t], recurrents[t]
        np.matmul(hs[t], W_h_scaled, out=rec)
        rec += b_h_scaled
        sig = a[:, : 2 * H]
        sig += rec[:, : 2 * H]
        np.tanh(sig, out=sig)
        sig *= 0.5
        sig += 0.5
        r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        np.multiply(r, rec[:, 2 * H :], out=tmp)
        n += tmp
        np.tanh(n, out=n)
        # h' = (1 - z) * n + z * h = n + z * (h - n)
        np.subtract(hs[t], n, out=tmp)
        tmp *= z
        np.add(n, tmp, out=hs[t + 1])
        idle = _idle_rows(lengths, min_length, t)
        if idle is not None:
            np.copyto(hs[t + 1], hs[t], where=idle)
    cache = dict(
        cell="gru",
        params=params,
        xt=xt,
        lengths=lengths,
        min_length=min_length,
        acts=acts,
        recurrents=recurrents,
        hs=hs,
        has_state=state is not None,
        buffers=("xt", "acts", "recurrents", "hs"),
    )
    return _outputs(hs, lengths, min_length), {"h": hs[T].copy()}, cache


def _gru_backward(cache, dy, dfinal, state_grads=None):
    params, acts, recurrents, hs = cache["params"], cache["acts"], cache["recurrents"], cache["hs"]
    lengths, min_length = cache["lengths"], cache["min_length"]
    T1, B, H = hs.shape
    T = T1 - 1
    dtype = hs.dtype
    W_h_t = np.ascontiguousarray(params["W_h"].T)
    dy = _upstream(dy, (B, T, H), dtype)
    dh = _carry(dfinal, "h", B, H, dtype)
    dh_prev = np.empty_like(dh)
    tmp = np.empty((B, H), dtype)
    slope = np.empty((B, H), dtype)
    sig_slope = np.empty((B, 2 * H), dtype)
    # d_rec: gradient w.r.t. h W_h + b_h; d_xn: w.r.t. the n block of x W_x + b_x
    # (the r, z blocks of both pre-activations receive the same gradient).
    d_rec = _buffer((T, B, 3 * H), dtype)
    d_xn = _buffer((T, B, H), dtype)
    for t in range(T - 1, -1, -1):
        idle = _idle_rows(lengths, min_length, t)
        _add_upstream_output(dh, dy, t, idle)
        if state_grads is not None:
            state_grads[:, t] = dh
        a = acts[t]
        r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        d = d_rec[t]
        dr, dz, dn_rec = d[:, :H], d[:, H : 2 * H], d[:, 2 * H :]
        dn = d_xn[t]
        np.subtract(hs[t], n, out=tmp)
        np.multiply(dh, tmp, out=dz)  # dz = dh * (h - n)
        np.subtract(1, z, out=tmp)
        tmp *= dh  # dn (value) = dh * (1 - z)
        np.multiply(n, n, out=slope)
        np.subtract(1, slope, out=slope)
        np.multiply(tmp, slope, out=dn)  # through tanh
        np.multiply(dn, recurrents[t, :, 2 * H :], out=dr)
        np.multiply(dn, r, out=dn_rec)
        sig = a[:, : 2 * H]
        np.subtract(1, sig, out=sig_slope)
        sig_slope *= sig
        d[:, : 2 * H] *= sig_slope
        if idle is not None:
            np.copyto(d, 0, where=idle)
            np.copyto(dn, 0, where=idle)
        np.matmul(d, W_h_t, out=dh_prev)
        np.multiply(dh, z, out=tmp)
        dh_prev += tmp
        if idle is not None:
            np.copyto(dh_prev, dh, where=idle)
        dh, dh_prev = dh_prev, dh
    xt = cache["xt"]
    D = xt.shape[2]
    x_flat = xt.reshape(T * B, D)
    d_rec_flat = d_rec.reshape(T * B, 3 * H)
    d_xn_flat = d_xn.reshape(T * B, H)
    W_x = params["W_x"]
    dW_x = np.empty_like(W_x)
    np.matmul(x_flat.T, d_rec_flat[:, : 2 * H], out=dW_x[:, : 2 * H])
    np.matmul(x_flat.T, d_xn_flat, out=dW_x[:, 2 * H :])
    dx = _buffer((T, B, D), dtype)
    dx_flat = dx.reshape(T * B, D)
    np.matmul(d_rec_flat[:, : 2 * H], np.ascontiguousarray(W_x[:, : 2 * H].T), out=dx_flat)
    dx_flat += d_xn_flat @ np.ascontiguousarray(W_x[:, 2 * H :].T)
    db_h = d_rec_flat.sum(axis=0)
    db_x = db_h.copy()
    db_x[2 * H :] = d_xn_flat.sum(axis=0)
    grads = {
        "W_x": dW_x,
        "W_h": hs[:-1].reshape(T * B, H).T @ d_rec_flat,
        "b_x": db_x,
        "b_h": db_h,
        "x": dx.transpose(1, 0, 2).copy(),
    }
    _recycle(d_rec, d_xn, dx)
    if cache["has_state"]:
        grads["h0"] = dh
    return grads


_FORWARD = {"rnn": _rnn_forward, "lstm": _lstm_forward, "gru": _gru_forward}
_BACKWARD = {"rnn": _rnn_backward, "lstm": _lstm_backward, "gru": _gru_backward}
