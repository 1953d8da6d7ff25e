"""``rnnbench run``'s options, each declared once: its flag, type, choices, help, and who receives it.

Everything else derives from these declarations: the ``run`` parser (:func:`add_options`), the options handed to a
task's configuration (:data:`TASK_OPTIONS`), a sweep file's keys and their conversion (rnnbench.sweep.options reads
the parser) and the typing of a resolved configuration (:func:`typed_config`, called by
:meth:`rnnbench.task.Task.resolve_config`). A new shared option is one entry here; a task's own options are
declared by the task (:meth:`rnnbench.task.Task.add_options`) and typed by the same rule.
Imports nothing heavy: ``rnnbench --help`` builds this parser.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from rnnbench.names import ACTIVATIONS, DTYPES, OPTIMIZERS, USER_POOLINGS
from rnnbench.number_types import NumberType, nonnegative_float, positive_float, positive_int, rate


@dataclass(frozen=True)
class RunOption:
    """One ``rnnbench run`` option. ``task``: its value goes into the task's configuration (None = the task's
    default); otherwise the command uses it itself (seeds, device, results folder)."""

    flag: str
    help: str | None = None
    type: Callable | None = None
    choices: tuple | None = None
    metavar: str | None = None
    task: bool = True
    #: A switch takes no value: given, it is True (``--bidirectional``), else None (the task's default).
    switch: bool = False
    default: object = None
    required: bool = False
    #: The ``--help`` section: ``run`` (what to run, where) or ``model`` (model and optimizer).
    section: str = "run"

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")

    def add_to(self, group) -> argparse.Action:
        """This option on an argparse parser or group."""
        if self.switch:  # the command's own switches default to False; a task's to None (the task's default)
            extra = {"action": "store_const", "const": True} if self.task else {"action": "store_true"}
            return group.add_argument(self.flag, help=self.help, **extra)
        given = {
            "help": self.help,
            "type": self.type,
            "choices": self.choices,
            "metavar": self.metavar,
            "default": self.default,
            "required": self.required or None,
        }
        return group.add_argument(self.flag, **{key: value for key, value in given.items() if value is not None})


_ = RunOption
RUN_OPTIONS: tuple[RunOption, ...] = (
    _("--backend", "numpy, torch, tensorflow, ...", metavar="NAME", task=False, required=True),
    _("--task", "textclf, longrange, treesent, ...", metavar="NAME", task=False, required=True),
    _("--model", "rnn, lstm, gru; treesent also recursive, treelstm", metavar="CELL"),
    _(
        "--dataset",
        "a registered dataset (textclf: imdb, sst2, mr, trec, ag_news) or a .tsv/.csv/.jsonl file",
        metavar="NAME|PATH",
    ),
    _("--epochs", type=positive_int, metavar="N"),
    _("--max-steps", "stop after N training steps in all", type=positive_int, metavar="N"),
    _("--batch-size", type=positive_int, metavar="N"),
    _("--seeds", "comma-separated seeds, one run each (default 0)", metavar="LIST", task=False, default="0"),
    _("--device", "cpu (default), cuda, cuda:N, gpu", metavar="DEVICE", task=False),
    _("--impl", "backend implementation, e.g. torch native/loop/compiled", metavar="IMPL", task=False),
    _("--dtype", choices=DTYPES),
    _(
        "--threads",
        "framework threads (default: the CPUs this process may use); recorded",
        type=positive_int,
        metavar="N",
        task=False,
    ),
    _("--results-dir", "where records go (default results/)", metavar="DIR", task=False, default="results"),
    _("--data-dir", "datasets folder (default $RNNBENCH_DATA_DIR, then the user cache)", metavar="DIR"),
    _("--offline", "never download: a missing dataset is an error (also RNNBENCH_OFFLINE=1)", task=False, switch=True),
    _(
        "--eval-every",
        "also score dev every STEPS training steps into the record's history (for time to target; "
        "not counted as training time; the model is still chosen at epoch ends)",
        type=positive_int,
        metavar="STEPS",
        task=False,
    ),
    _("--no-progress", "no progress bar", task=False, switch=True),
    _("--show-config", "print the resolved configuration and exit", task=False, switch=True),
    _("--embed-size", type=positive_int, metavar="N", section="model"),
    _("--hidden-size", type=positive_int, metavar="N", section="model"),
    _(
        "--layers",
        "stacked recurrent layers, each reading the one below (default 1; rnn, lstm, gru)",
        type=positive_int,
        metavar="N",
        section="model",
    ),
    _(
        "--bidirectional",
        "a forward and a backward direction in every layer, outputs concatenated (2H)",
        switch=True,
        section="model",
    ),
    _("--pooling", choices=USER_POOLINGS, section="model"),
    _("--activation", "rnn cell only", choices=ACTIVATIONS, section="model"),
    _("--optimizer", choices=OPTIMIZERS, section="model"),
    _("--lr", type=positive_float, metavar="X", section="model"),
    _("--clip-norm", "global gradient-norm clip (0: none)", type=nonnegative_float, metavar="X", section="model"),
    _("--l2", type=nonnegative_float, metavar="X", section="model"),
    _(
        "--dropout",
        "dropout rate on the embedding output and before the softmax; masks drawn by the runner, "
        "identical on every backend (default 0)",
        type=rate,
        metavar="P",
        section="model",
    ),
    _("--eval-batch-size", type=positive_int, metavar="N", section="model"),
)
del _

#: Options every task shares, handed to its configuration as they are (None = the task's default).
TASK_OPTIONS: tuple[str, ...] = tuple(option.dest for option in RUN_OPTIONS if option.task)


def add_options(run, sections: dict) -> None:
    """Every declared option on the ``run`` parser, each in its ``--help`` section (``sections[name]``)."""
    for option in RUN_OPTIONS:
        option.add_to(sections.get(option.section, run))


def typed_config(given: dict, actions: dict[str, argparse.Action]) -> dict:
    """``given`` with every number checked and typed by its option's own type, the one rule of
    :mod:`rnnbench.number_types`.

    A value from the command line is typed already and passes unchanged; one from elsewhere (a Python caller's
    ``"64"`` for ``batch_size``, a record) is converted by the same rule or refused in one line naming the
    option, as the command line would. Choices are the parser's and the model's to check; other values pass.
    """
    typed = dict(given)
    for key, value in given.items():
        action = actions.get(key)
        if value is not None and action is not None and isinstance(action.type, NumberType):
            typed[key] = action.type.check(value, action.option_strings[0])
    return typed
