"""The task interface: what a task hands the runner, and nothing a framework would recognise.

A task turns a configuration into a :class:`Prepared` job: the model spec,
seeded training batches per epoch (the same order for every backend, since
they are NumPy arrays made here), fixed dev and test batches, and a metric.
The runner only calls ``model.train_step(*batch.inputs, batch.targets)`` and
``model.predict(*batch.inputs)``, so a tree task fills ``inputs`` with its own
arguments and the runner never learns the difference.
"""

from __future__ import annotations

import abc
import argparse
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from rnnbench.errors import RnnbenchError
from rnnbench.run_options import RUN_OPTIONS, typed_config

#: Options every task understands, with the value used when neither the task nor the user sets one.
RUN_DEFAULTS = {
    "epochs": 3,
    "max_steps": None,
    "batch_size": 32,
    "eval_batch_size": 256,
    "dtype": "float32",
    "dropout": 0.0,
}


@dataclass(frozen=True)
class Batch:
    """One batch: positional model inputs, targets, and its size for throughput figures."""

    inputs: tuple  # e.g. (token ids [B,T], lengths [B])
    targets: np.ndarray
    size: int  # examples
    tokens: int  # real (unpadded) steps
    #: What the task's score reads, when it needs more than the training targets
    #: (trees: node labels plus a root flag); None = ``targets``.
    score_targets: np.ndarray | None = None

    @property
    def scored(self) -> np.ndarray:
        return self.targets if self.score_targets is None else self.score_targets


@dataclass
class Prepared:
    """Everything the runner needs from a task, seed-independent except the training order."""

    spec: object  # rnnbench.model.ModelSpec (or a tree task's spec)
    train_batches: Callable[[int, int], list[Batch]]  # (seed, epoch >= 1) -> that epoch's batches, in order
    dev: list[Batch]
    test: list[Batch] | None
    metric: str  # its name
    score: Callable[[np.ndarray, np.ndarray], float]  # (stacked outputs, stacked targets) -> metric
    info: dict = field(default_factory=dict)  # dataset, split sizes and what each split is, vocabulary, notes
    notes: list[str] = field(default_factory=list)  # said to the user and kept in the record
    higher_is_better: bool = True  # False for a loss-like metric (MSE, cross-entropy)
    #: Further metrics recorded at the best dev point, on dev and on test (same arguments as ``score``).
    metrics: Callable[[np.ndarray, np.ndarray], dict] | None = None
    #: Gradient-flow probe: at these training steps (updates done so far) the runner records the norm
    #: of dLoss/dh_t for every t on ``probe_batch`` (``model.state_gradient_norms``), before that update.
    probe_batch: Batch | None = None
    probe_steps: tuple[int, ...] = ()
    #: ``(spec, seed) -> params`` when the task starts from other weights than
    #: :func:`rnnbench.model.init_model_params` (an identity recurrence, say); NumPy, so every backend
    #: still starts from the same numbers.
    init_params: Callable[[object, int], dict] | None = None


class Task(abc.ABC):
    """Base class of a task; a subclass sets ``name``, ``description``, ``datasets`` and implements ``prepare``.

    An abstract base class, so that a task plugin missing ``prepare`` fails when
    it is loaded, with its name, rather than in the middle of a run.
    """

    name = "base"
    description = ""
    #: Registered dataset names; the first is the default.
    datasets: tuple[str, ...] = ()
    #: ``(option, {value: table title}, default value)``: the report's summary puts runs that differ in
    #: this option in separate tables, titled by its value (None: one table per task, dataset and metric).
    summary_split: tuple[str, dict, object] | None = None
    #: The dev metric a run must reach for the report's time to target: ``{dataset: {metric: value}}``
    #: (docs/tasks.md gives each value's reason); a task whose target depends on more overrides
    #: :meth:`dev_target`.
    targets: dict[str, dict[str, float]] = {}
    #: Report tables of this task's own, ``{name: what they read}`` (the end of "the NAME table reads ...",
    #: said when it has no data): ``rnnbench report --table NAME`` selects one, ``all`` adds them after the
    #: core's tables, and :meth:`report_section` builds each, so the core report never names a task.
    report_tables: dict[str, str] = {}

    @classmethod  # noqa: B027 - not abstract: a task may declare no options of its own
    def add_options(cls, group) -> None:
        """Declare this task's own ``rnnbench run`` options on ``group`` (argparse's ``add_argument``).

        Each option's value reaches :meth:`resolve_config` (and so ``prepare``'s
        config) under its ``dest`` name, None when left out; ``rnnbench run
        --task NAME --help`` shows them, and ``rnnbench sweep`` accepts them as
        keys. The options every task shares (model, optimizer, epochs, ...) are
        declared by ``rnnbench run`` itself.
        """

    @classmethod
    def option_actions(cls) -> dict[str, argparse.Action]:
        """Every option this task's configuration takes, the shared ones and its own, by name (``dest``)."""
        if "_option_actions" not in cls.__dict__:  # once per class, not inherited by a subclass
            parser = argparse.ArgumentParser(add_help=False)
            for option in RUN_OPTIONS:
                if option.task:
                    option.add_to(parser)
            cls.add_options(parser)
            cls._option_actions = {action.dest: action for action in parser._actions if action.option_strings}
        return cls._option_actions

    def typed(self, given: dict) -> dict:
        """``given`` with each number checked and typed by its option's declaration, as the command line does:
        a configuration reaching :meth:`prepare` holds typed values, wherever it came from."""
        return typed_config(given, self.option_actions())

    def expand(self, given: dict) -> list[dict]:
        """The runs one command line asks for: ``[given]``; a task may sweep a list-valued option of its own."""
        return [given]

    def dev_target(self, dataset: str, metric: str) -> float | None:
        """The dev ``metric`` value that counts as trained on ``dataset`` (None: no target declared)."""
        return (self.targets.get(dataset) or {}).get(metric)

    def omitted_options(self, config: dict) -> dict:
        """What a record's ``config`` that lacks an option ran with, for options added since (the report
        reads old records with it); ``{}`` when every missing option meant its present default."""
        return {}

    def report_section(self, name: str, frame):
        """The report table ``name`` (a key of :attr:`report_tables`) as an ``rnnbench.ReportSection``, built from
        the report's frame (pandas, one row a run, check row or bench row); None when it holds nothing for it."""
        return None

    def summary_blocks(self, frame, brief: bool) -> tuple[list, list[str], list[tuple[str, str]]]:
        """What this task adds to the report's summary, after the core's tables: ``(blocks, notes, variants)``,
        its ``ReportBlock`` tables, notes under the summary, and ``(options text, where)`` pairs for the
        variants list. ``brief`` is the README's summary, which has room for the core's tables only (a note
        pointing to the full report, if anything)."""
        return [], [], []

    def report_figures(self, frame) -> list[tuple[str, list]]:
        """This task's charts, ``[(heading, [ReportFigure, ...]), ...]``, asked for only when a report draws charts
        (HTML, Markdown to a file): the place to import matplotlib, which is never imported at module level."""
        return []

    def defaults(self, dataset: str) -> dict:
        """The task's own defaults for ``dataset`` (they override :data:`RUN_DEFAULTS`)."""
        return {}

    @abc.abstractmethod
    def prepare(self, config: dict) -> Prepared:
        """Everything the runner needs for one configuration (data read, batches made, model spec set).

        ``config`` comes from :meth:`resolve_config`: its numbers are typed and within their options' ranges."""

    def resolve_config(self, given: dict) -> dict:
        """Fill every option the user left at None from the task's defaults, then :data:`RUN_DEFAULTS`; the
        given values typed (:meth:`typed`)."""
        dataset = given.get("dataset") or (self.datasets[0] if self.datasets else None)
        config = {**RUN_DEFAULTS, **self.defaults(dataset), "task": self.name, "dataset": dataset}
        config.update({key: value for key, value in self.typed(given).items() if value is not None})
        return config


def parse_int_list(text, option: str, what: str) -> list[int]:
    """A comma list of distinct integers (``--seeds 0,1,2``, ``--seq-len 10,50``); one line when it is not."""
    try:
        values = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise RnnbenchError(f"{option} takes comma-separated integers, got {text!r}") from None
    if not values:
        raise RnnbenchError(f"{option} needs at least one {what}")
    if len(set(values)) != len(values):
        raise RnnbenchError(f"{option} repeats a {what}: {text}")
    return values


def accuracy(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of rows whose largest output is the target class."""
    if len(targets) == 0:
        raise RnnbenchError("cannot score an empty split")
    return float(np.mean(np.argmax(outputs, axis=1) == targets))
