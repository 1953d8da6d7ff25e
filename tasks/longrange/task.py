"""The long-range task: the adding problem and copy memory, where plain recurrent nets stop learning.

What it shows: at a fixed step budget, up to which sequence length each cell
beats the baseline of a model with no memory, and (the gradient-flow probe)
how the norm of dLoss/dh_t decays from the last step back to the first for
``rnn`` and holds for ``lstm``/``gru``.

Data. Every batch is generated on demand from its own seeded stream, so no
epoch is ever held in memory and every backend sees identical numbers:

* training batch ``i`` of epoch ``e`` for run seed ``s``: stream ``[0, problem, T, s, e, i]``;
* dev batch ``i``: ``[1, problem, T, split_seed, i]``; test: ``[2, ...]``; the
  gradient-flow probe batch: ``[3, problem, T, split_seed]``.

The leading word keeps the four streams apart for every choice of seeds, so
dev and test are independent of every training batch of every run (with
continuous values the adding problem never repeats an input; for copy memory
8^10 symbol strings make a repeat between a run's training data and the test
set about as likely as one expected collision per 10^9/(steps x batch x test
size): negligible). An "epoch" is ``steps_per_epoch`` training steps, after
which dev is scored and the best point kept; ``max_steps`` is the budget.

Success, against the baseline: a run succeeds when its test metric at the
best dev point is below ``success_fraction`` (default 0.1) times the
baseline. For the adding problem that is MSE < 1/60 ≈ 0.0167, i.e. the model
explains more than 90% of the target's variance (R² > 0.9); for copy memory
the model leaves less than 10% of the ``10 log 8`` nats of the message
unexplained. Both say "learned the long-range dependency", not "lucky at the
margin", and both are read from the same formula.
"""

from __future__ import annotations

import math

import numpy as np

from rnnbench import (
    RUN_DEFAULTS,
    Batch,
    ModelSpec,
    OptimizerSpec,
    Prepared,
    RnnbenchError,
    Task,
    check_memory_fits,
    check_model_memory,
    dtype_itemsize,
    fraction,
    init_model_params,
    parse_int_list,
    positive_int,
)

from . import generators as gen
from .inits import apply_init, check_init

COMMON_DEFAULTS = {
    "model": "lstm",
    "activation": "tanh",
    "init": "default",
    "hidden_size": 128,
    "layers": 1,
    "bidirectional": False,
    "optimizer": "adam",
    "lr": 1e-3,
    "clip_norm": 1.0,
    "l2": 0.0,
    "batch_size": 64,
    "eval_batch_size": 256,
    "max_steps": 3000,
    "steps_per_epoch": 200,
    "dev_size": 1000,
    "test_size": 4000,
    "split_seed": 0,
    "success_fraction": 0.1,
    "probe_steps": None,
}
PROBLEM_DEFAULTS = {"adding": {"seq_len": 200}, "copy": {"seq_len": 100}}
#: First word of each stream's seed (see the module docstring).
TRAIN, DEV, TEST, PROBE = 0, 1, 2, 3


class LongRange(Task):
    name = "longrange"
    description = "adding problem and copy memory at sequence length T: where gradients vanish"
    datasets = gen.PROBLEMS

    def dev_target(self, dataset: str, metric: str) -> float | None:
        """The success threshold: 0.1 × the memoryless baseline of the problem at that T (``adding-T200``)."""
        problem, _, length = str(dataset).partition("-T")
        if problem not in gen.PROBLEMS or not length.isdigit():
            return None
        return success_threshold(problem, int(length))

    #: ``rnnbench report --table longrange``; the report modules import pandas and matplotlib, so each hook below
    #: imports its module when the report calls it, never when the task is loaded.
    report_tables = {"longrange": "run records with a seq_len from rnnbench run --task longrange"}

    def report_section(self, name: str, frame):
        """The ``longrange`` table: success k/n at every T tried (``.report``)."""
        from .report import longrange_section

        return longrange_section(frame) if name == "longrange" else None

    def summary_blocks(self, frame, brief: bool):
        """The summary's largest T solved, one table per problem (``.report``)."""
        from .report import summary_blocks

        return summary_blocks(frame, brief)

    def report_figures(self, frame):
        """Gradient norm against time step and success against T (``.charts``)."""
        from .charts import chart_groups

        return chart_groups(frame)

    @classmethod
    def add_options(cls, group) -> None:
        group.add_argument("--problem", metavar="NAME", help="adding (default) or copy")
        group.add_argument(
            "--seq-len",
            metavar="T[,T...]",
            help="sequence length T (copy: the blank stretch; T+20 steps in all); a comma list "
            "sweeps, one run and record per T and seed",
        )
        group.add_argument(
            "--init",
            metavar="KIND",
            help="initial weights: default, identity (rnn; with --activation relu: IRNN), orthogonal",
        )
        group.add_argument(
            "--steps-per-epoch",
            type=positive_int,
            metavar="N",
            help="training steps between dev evaluations (default 200); --max-steps is the budget",
        )
        group.add_argument("--dev-size", type=positive_int, metavar="N", help="dev sequences (default 1000)")
        group.add_argument("--test-size", type=positive_int, metavar="N", help="test sequences (default 4000)")
        group.add_argument(
            "--success-fraction",
            type=fraction,
            metavar="X",
            help="success: test metric below X times the baseline (default 0.1)",
        )
        group.add_argument(
            "--probe-steps",
            metavar="LIST",
            help="training steps at which to record ||dLoss/dh_t|| for every t "
            "(default: first, middle, last; 'none': never)",
        )

    def expand(self, given: dict) -> list[dict]:
        """One run per length of ``--seq-len 10,50,200``: a sweep over T is one command."""
        return [
            given if seq_len is None else {**given, "seq_len": seq_len}
            for seq_len in parse_seq_lens(given.get("seq_len"))
        ]

    def defaults(self, dataset: str) -> dict:
        return {**COMMON_DEFAULTS, **PROBLEM_DEFAULTS.get(dataset, {})}

    def resolve_config(self, given: dict) -> dict:
        """As :meth:`Task.resolve_config`, with the problem as the dataset and the budget in epochs.

        ``dataset`` in the record is ``<problem>-T<seq_len>`` so that records of
        a sweep say their length in their name; ``epochs`` follows from
        ``max_steps`` unless given.
        """
        problem = given.get("problem") or given.get("dataset") or gen.PROBLEMS[0]
        if given.get("problem") and given.get("dataset") and given["dataset"] != given["problem"]:
            raise RnnbenchError(f"--problem {given['problem']} and --dataset {given['dataset']} disagree; give one")
        if problem not in gen.PROBLEMS:
            raise RnnbenchError(f"unknown long-range problem {problem!r}; valid: {', '.join(gen.PROBLEMS)}")
        config = {**RUN_DEFAULTS, **self.defaults(problem), "task": self.name}
        config.update({key: value for key, value in self.typed(given).items() if value is not None})
        seq_len = gen.check_seq_len(problem, config["seq_len"])
        config.update(problem=problem, seq_len=seq_len, dataset=f"{problem}-T{seq_len}")
        if given.get("epochs") is None:  # a config that did not come through the parser is checked here too
            budget = config.get("max_steps")
            steps = positive_int.check(config["steps_per_epoch"], "--steps-per-epoch")
            config["epochs"] = math.ceil(positive_int.check(budget, "--max-steps") / steps) if budget else 1
        return config

    def prepare(self, config: dict) -> Prepared:
        problem, T = config["problem"], gen.check_seq_len(config["problem"], config["seq_len"])
        _check_options(config)
        spec = _spec(config)
        check_memory(config, spec, problem, T)  # before the probe batch below is generated
        stream = (gen.PROBLEMS.index(problem), T)
        batch_size, eval_size = config["batch_size"], config["eval_batch_size"]
        split_seed = config["split_seed"]

        def train_batches(seed: int, epoch: int):
            return LazyBatches(
                config["steps_per_epoch"],
                lambda i: _batch(problem, T, [TRAIN, *stream, seed, epoch, i], batch_size, spec.dtype),
            )

        def fixed(tag: int, size: int):
            count = math.ceil(size / eval_size)
            return LazyBatches(
                count,
                lambda i: _batch(
                    problem, T, [tag, *stream, split_seed, i], min(eval_size, size - i * eval_size), spec.dtype
                ),
            )

        base = gen.baseline(problem, T)
        fraction = config["success_fraction"]
        total_steps = _total_steps(config)
        return Prepared(
            spec=spec,
            train_batches=train_batches,
            dev=fixed(DEV, config["dev_size"]),
            test=fixed(TEST, config["test_size"]),
            metric="mse" if problem == "adding" else "xent",
            score=gen.mse if problem == "adding" else gen.step_xent,
            higher_is_better=False,
            metrics=_metrics(problem, base, fraction),
            probe_batch=_batch(problem, T, [PROBE, *stream, split_seed], batch_size, spec.dtype),
            probe_steps=_probe_steps(config.get("probe_steps"), total_steps),
            info=_info(config, problem, T, base, fraction, total_steps),
            init_params=_init_params(spec.cell, config["init"]),
        )


class LazyBatches:
    """A fixed-length list of batches made on demand (``len``, indexing, iteration), never all in memory."""

    def __init__(self, count: int, make):
        self._count, self._make = count, make

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> Batch:
        if not -self._count <= index < self._count:
            raise IndexError(index)
        return self._make(index % self._count)

    def __iter__(self):
        return (self._make(i) for i in range(self._count))


def _batch(problem: str, T: int, entropy: list[int], size: int, dtype: str) -> Batch:
    rng = np.random.default_rng(entropy)
    if problem == "adding":
        inputs, targets = gen.adding_batch(rng, size, T)
        inputs, targets = inputs.astype(dtype), targets.astype(dtype)
    else:
        tokens, targets = gen.copy_tokens(rng, size, T)
        inputs = gen.one_hot(tokens, dtype=dtype)
    steps = inputs.shape[1]
    return Batch(inputs=(inputs, np.full(size, steps, dtype=np.int64)), targets=targets, size=size, tokens=size * steps)


def _check_options(config: dict) -> None:
    negative = [s for s in config.get("seeds", []) if int(s) < 0]
    if negative:
        raise RnnbenchError(f"longrange seeds must be non-negative (they seed the data streams), got {negative}")
    check_init(config["init"], config["model"])


def check_memory(config: dict, spec: ModelSpec, problem: str, T: int, available: int | None = None) -> None:
    """Refuse sizes that cannot fit, from lower bounds on what one batch and one scored split hold.

    One training batch holds its generated inputs (float64 values, markers and
    their stack; copy: int64 tokens and targets, and the one-hot inputs) and,
    on the CPU, the hidden state of every step that backpropagation keeps;
    scoring a split stacks every sequence's outputs. Each bound counts only
    arrays the run cannot do without, so a refused size could never fit.
    """
    steps, width = gen.steps(problem, T), dtype_itemsize(spec.dtype)
    per_step = 32 if problem == "adding" else 16 + gen.COPY_TOKENS * width
    on_cpu = config.get("device") in (None, "cpu")
    state = spec.hidden_size * spec.num_layers * (2 if spec.bidirectional else 1) * width if on_cpu else 0
    check_model_memory(spec, available)
    batch = config["batch_size"]
    check_memory_fits(
        batch * steps * (per_step + state),
        f"one training batch of --batch-size {batch} × T={T} ({steps} steps: the inputs"
        f"{' and the hidden states backpropagation keeps' if state else ''})",
        "lower --batch-size, --seq-len" + (" or --hidden-size" if state else ""),
        available,
    )
    split = max(config["dev_size"], config["test_size"])
    outputs = 1 if problem == "adding" else steps * gen.COPY_CLASSES
    check_memory_fits(
        2 * split * outputs * width,
        f"scoring {split} sequences (--dev-size/--test-size) of {steps} steps (their outputs, stacked)",
        "lower --dev-size, --test-size or --seq-len",
        available,
    )
    eval_batch = min(config["eval_batch_size"], split)
    check_memory_fits(
        eval_batch * steps * (per_step + state),
        f"one evaluation batch of --eval-batch-size {eval_batch} × T={T} ({steps} steps)",
        "lower --eval-batch-size or --seq-len",
        available,
    )


def _spec(config: dict) -> ModelSpec:
    adding = config["problem"] == "adding"
    return ModelSpec(
        cell=config["model"],
        hidden_size=config["hidden_size"],
        num_outputs=1 if adding else gen.COPY_CLASSES,
        input_size=2 if adding else gen.COPY_TOKENS,
        activation=config["activation"],
        pooling="last" if adding else "steps",
        loss="mse" if adding else "xent",
        optimizer=OptimizerSpec(config["optimizer"], config["lr"]),
        clip_norm=config["clip_norm"] or None,
        l2=config["l2"],
        dtype=config["dtype"],
        num_layers=config["layers"],
        bidirectional=config["bidirectional"],
    )


def _total_steps(config: dict) -> int:
    """Training steps the run will take: the budget, or every step of every epoch."""
    full = config["epochs"] * config["steps_per_epoch"]
    budget = config.get("max_steps")
    return min(full, int(budget)) if budget else full


def parse_probe_steps(text) -> tuple[int, ...] | None:
    """``"0,1500,2999"`` -> (0, 1500, 2999); ``"none"`` -> (); None -> None (the default)."""
    if text is None or isinstance(text, (tuple, list)):
        return None if text is None else tuple(int(s) for s in text)
    if str(text).strip().lower() in ("", "none"):
        return ()
    try:
        chosen = tuple(int(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        raise RnnbenchError(f"probe-steps takes comma-separated training steps or 'none', got {text!r}") from None
    if any(s < 0 for s in chosen):
        raise RnnbenchError(f"probe-steps must be >= 0, got {text!r}")
    return chosen


def _probe_steps(option, total_steps: int) -> tuple[int, ...]:
    """The training steps (updates done so far) at which to record the gradient flow.

    Default: before the first update, half-way, and before the last update.
    """
    chosen = parse_probe_steps(option)
    if chosen is None:
        chosen = (0, total_steps // 2, total_steps - 1)
    return tuple(sorted(set(s for s in chosen if 0 <= s < total_steps)))


def success_threshold(problem: str, seq_len: int, fraction: float = 0.1) -> float:
    """The test metric a run must get below to count as a success (see the module docstring)."""
    return fraction * gen.baseline(problem, seq_len)


def _metrics(problem: str, base: float, fraction: float):
    score = gen.mse if problem == "adding" else gen.step_xent

    def metrics(outputs: np.ndarray, targets: np.ndarray) -> dict:
        value = score(outputs, targets)
        result = {
            "baseline": base,
            "ratio_to_baseline": value / base,
            "success_threshold": fraction * base,
            "success": bool(value < fraction * base),
        }
        if problem == "copy":
            result["recall_accuracy"] = gen.recall_accuracy(outputs, targets)
        return result

    return metrics


def _init_params(cell: str, kind: str):
    """The runner's initial weights: the canonical draw, recurrent weights rewritten (None: unchanged)."""
    if kind == "default":
        return None
    return lambda spec, seed: apply_init(init_model_params(spec, seed), cell, kind, seed)


def _info(config, problem, T, base, fraction, total_steps) -> dict:
    steps = gen.steps(problem, T)
    info = {
        "problem": problem,
        "seq_len": T,
        "steps": steps,
        "inputs": "values U[0,1) and a two-marker channel [B,T,2]"
        if problem == "adding"
        else "one-hot tokens [B,T+20,10]: 0 blank, 1-8 symbols, 9 delimiter",
        "targets": "sum of the two marked values [B,1]"
        if problem == "adding"
        else "class per step [B,T+20]: blank, then the 10 symbols at the last 10 steps",
        "baseline": base,
        "baseline_rule": "predict 1 always: Var(sum) = 1/6"
        if problem == "adding"
        else "memoryless: blanks, then uniform over 8 symbols: 10 log 8 / (T + 20)",
        "success_rule": f"test {'MSE' if problem == 'adding' else 'cross-entropy'} < {fraction} x baseline "
        f"= {fraction * base:.6g}",
        "splits": {
            "train": {
                "examples_per_epoch": config["steps_per_epoch"] * config["batch_size"],
                "source": "generated per (run seed, epoch, batch): stream [0, problem, T, seed, epoch, i]",
            },
            "dev": {"examples": config["dev_size"], "source": "stream [1, problem, T, split_seed, i]"},
            "test": {"examples": config["test_size"], "source": "stream [2, problem, T, split_seed, i]"},
        },
        "budget_steps": total_steps,
        "init": config["init"],
        "published": _published(problem, T),
    }
    return info


def _published(problem: str, T: int) -> list[dict]:
    """Figures from the papers the problems come from (baselines only: what these papers define)."""
    if problem == "adding":
        return [
            {
                "source": "Le, Jaitly & Hinton 2015, A Simple Way to Initialize Recurrent Networks of "
                "Rectified Linear Units (arXiv:1504.00941)",
                "model": "constant prediction 1",
                "metric": "mse",
                "value": gen.adding_baseline(),
                "note": "the constant-prediction baseline described there; its expected MSE is exactly "
                "Var(sum) = 1/6, computed here rather than quoted",
            }
        ]
    return [
        {
            "source": "Arjovsky, Shah & Bengio 2016, Unitary Evolution Recurrent Neural Networks (ICML)",
            "model": "memoryless baseline",
            "metric": "xent",
            "value": gen.copy_baseline(T),
            "note": "10 log 8 / (T + 20): the copy-memory baseline defined there",
        }
    ]


def parse_seq_lens(text) -> list:
    """``--seq-len``: ``[None]`` when absent (the default), else the lengths in the order given."""
    if text is None:
        return [None]
    if isinstance(text, int):
        return [text]
    return parse_int_list(text, "--seq-len", "length")
