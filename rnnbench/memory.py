"""Will it fit? Lower bounds on what a run allocates, checked before anything is allocated.

A size option mistyped by a few digits (``--batch-size 1000000000``) should
end as one line saying how much memory it asks for, not as NumPy's
``_ArrayMemoryError`` traceback, nor as a machine swapping for an hour. The
estimates here are lower bounds (the arrays a run cannot do without), so a
run they refuse could never have fitted; what they let through and still
does not fit raises :class:`MemoryError`, which ``rnnbench run`` turns into
the same kind of line (:func:`out_of_memory_message`).
"""

from __future__ import annotations

import os

from rnnbench.errors import RnnbenchError

#: Copies of the parameters a training run holds: weights, gradients, the best dev point's weights.
PARAMETER_COPIES = 3
#: Further parameter-sized arrays each optimizer keeps (Adam: two moments; Adagrad: one accumulator).
OPTIMIZER_STATE = {"adam": 2, "adagrad": 1, "sgd": 0}
#: Options that size what a run allocates, named in the message when NumPy runs out of memory anyway.
SIZE_OPTIONS = (
    "batch_size",
    "eval_batch_size",
    "seq_len",
    "hidden_size",
    "embed_size",
    "vocab_size",
    "max_length",
    "dev_size",
    "test_size",
)


def physical_memory() -> int | None:
    """Bytes of RAM on this machine, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(count: float) -> str:
    """``8053063680000`` -> ``7.3 TiB``: binary units, three significant figures at most."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if abs(value) < 1024 or unit == "EiB":
            break
        value /= 1024
    if unit == "B":
        return f"{int(value)} B"
    return f"{value:.3g} {unit}" if value < 1e6 else f"{value:.3e} {unit}"


def check_fits(need: int, what: str, advice: str, available: int | None = None) -> None:
    """A one-line error when ``need`` bytes exceed the machine's memory: ``what`` would need N; ``advice``."""
    available = physical_memory() if available is None else available
    if available is not None and need > available:
        raise RnnbenchError(
            f"{what} would need at least {format_bytes(need)}; this machine has "
            f"{format_bytes(available)} of memory; {advice}"
        )


def itemsize(dtype: str) -> int:
    return 8 if str(dtype) == "float64" else 4


def parameter_count(spec) -> int:
    """Parameters of a sequence or tree model spec, counted from its sizes (Python ints: no overflow)."""
    from rnnbench.layers import layered_param_shapes
    from rnnbench.params import param_shapes

    count = 0
    if getattr(spec, "vocab_size", None) is not None:
        count += int(spec.vocab_size) * int(spec.embed_size)
    layers, bidirectional = getattr(spec, "num_layers", 1), getattr(spec, "bidirectional", False)
    if layers > 1 or bidirectional:
        shapes = layered_param_shapes(
            spec.cell, int(spec.encoder_input_size), int(spec.hidden_size), layers, bidirectional
        )
    else:
        shapes = param_shapes(spec.cell, int(spec.encoder_input_size), int(spec.hidden_size))
    for shape in shapes.values():
        size = 1
        for dim in shape:
            size *= int(dim)
        count += size
    width = int(spec.hidden_size) * (2 if bidirectional else 1)
    return count + width * int(spec.num_outputs) + int(spec.num_outputs)


def check_model(spec, available: int | None = None, vocabulary_known: bool = True) -> None:
    """Refuse a model whose parameters, gradients, best copy and optimizer state cannot fit.

    ``vocabulary_known=False``: the spec's vocabulary is a stand-in (the check
    runs before the data is read), so the message does not count its words.
    """
    count = parameter_count(spec)
    optimizer = getattr(getattr(spec, "optimizer", None), "name", "sgd")
    copies = PARAMETER_COPIES + OPTIMIZER_STATE.get(optimizer, 0)
    sizes, advice = f"--hidden-size {spec.hidden_size}", "lower --hidden-size"
    if getattr(spec, "vocab_size", None) is not None:
        words = f"{spec.vocab_size} words × " if vocabulary_known else ""
        sizes = f"{words}--embed-size {spec.embed_size}, {sizes}"
        advice = "lower --hidden-size, --embed-size or --vocab-size"
    check_fits(
        count * copies * itemsize(spec.dtype),
        f"the {spec.cell} model's {count:,} parameters ({sizes}) with their gradients, "
        f"best-point copy and {optimizer} state",
        advice,
        available,
    )


#: The sizes a run's memory grows with first, named (with their values) when the user gave none.
LOWER_FIRST = ("batch_size", "max_length", "seq_len", "hidden_size")


def out_of_memory_message(doing: str, exc: MemoryError, options: dict, resolved: dict | None = None) -> str:
    """One line for a MemoryError: what NumPy could not allocate, and the size options to lower.

    The options the user gave, when any; else the main sizes of the ``resolved``
    configuration with their values (the task's defaults), so the line always
    names what to lower.
    """
    detail = str(exc).strip() or "out of memory"
    given = [f"--{_flag(name)} {options[name]}" for name in SIZE_OPTIONS if options.get(name) is not None]
    if given:
        return f"not enough memory {doing}: {detail}; sizes given: {', '.join(given)}; lower them and run again"
    current = [
        f"--{_flag(name)} (now {resolved[name]})" for name in LOWER_FIRST if resolved and resolved.get(name) is not None
    ]
    if not current:
        return (
            f"not enough memory {doing}: {detail}; lower --batch-size, the sequence length or --hidden-size "
            f"and run again"
        )
    listed = current[0] if len(current) == 1 else f"{', '.join(current[:-1])} or {current[-1]}"
    return f"not enough memory {doing}: {detail}; lower {listed} and run again"


def _flag(name: str) -> str:
    return name.replace("_", "-")
