"""The keys a sweep file may set: ``rnnbench run``'s own long options, read off its parser.

Reading them from the parser (rather than keeping a copy) is what keeps a
sweep file and the command line from drifting apart: a new run option is a
new sweep key, with the same type and choices.
"""

from __future__ import annotations

import argparse
import functools

from rnnbench.errors import RnnbenchError

#: Run options a sweep sets itself, or that make no sense per configuration.
RESERVED = {
    "seeds": "use seed (one value a configuration; a list of seeds in [matrix])",
    "results_dir": "the sweep's --results-dir applies to every run",
    "no_progress": "sweep runs never draw a progress bar",
    "show_config": "use rnnbench sweep --dry-run",
}
#: What identifies a run besides its options.
IDENTITY = ("task", "backend", "seed")


@functools.lru_cache(maxsize=None)
def task_actions(task: str | None) -> tuple[dict[str, argparse.Action], tuple[str, ...]]:
    """``rnnbench run --task TASK``'s long options (``dest -> action``) and the task's own option names."""
    from rnnbench.commands import run as run_command

    parser = argparse.ArgumentParser(add_help=False)
    commands = parser.add_subparsers()
    run_command.add_parser(commands, ["run", "--task", task] if task else None)
    run = commands.choices["run"]
    actions = {
        action.dest: action
        for action in run._actions
        if action.option_strings and action.dest not in RESERVED and action.dest != "help"
    }
    return actions, tuple(run.get_default("task_options") or ())


@functools.lru_cache(maxsize=1)
def run_actions() -> dict[str, argparse.Action]:
    """Every option a sweep key may name: ``rnnbench run``'s own and those of every registered task.

    Whether a key applies to a configuration's task is checked with that task
    (:func:`check_task_key`); here a key is only checked to exist somewhere.
    """
    from rnnbench.plugins import get_registry

    actions = dict(task_actions(None)[0])
    for name in get_registry().tasks:
        for dest, action in task_actions(name)[0].items():
            actions.setdefault(dest, action)
    return actions


def check_task_key(key: str, task: str, where: str) -> None:
    """A key set for a configuration of ``task`` must be one of that task's run options."""
    actions = task_actions(task)[0]
    if key not in actions and key not in IDENTITY and key != "seed":
        own = task_actions(task)[1]
        raise RnnbenchError(
            f"{where} {key}: not an option of the {task} task (its own options: {', '.join(own) or 'none'})"
        )


def is_flag(key: str) -> bool:
    return run_actions()[key].nargs == 0


def sweep_keys() -> list[str]:
    return sorted([*run_actions(), "seed"])


def check_key(key: str, where: str) -> None:
    if key in RESERVED:
        raise RnnbenchError(f"{where} {key}: not a sweep key: {RESERVED[key]}")
    if key not in run_actions() and key != "seed":
        raise RnnbenchError(
            f"{where} {key}: unknown key; valid keys (rnnbench run's options, with - as _): {', '.join(sweep_keys())}"
        )


def convert(key: str, value, where: str):
    """``(text for the command line, typed value)``, checked by the run parser's own type and choices.

    A flag (``offline``) takes true or false and has no text: it is given or left out.
    """
    if key != "seed" and is_flag(key):
        if not isinstance(value, bool):
            raise RnnbenchError(f"{where} {key}: a flag takes true or false, got {value!r}")
        return None, value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RnnbenchError(f"{where} {key}: expected one text or number, got {value!r}")
    text = str(value)
    if key in ("seed", "seq_len"):  # run takes comma lists here; a sweep takes one value a configuration
        try:
            typed = int(text)
        except ValueError:
            raise RnnbenchError(
                f"{where} {key}: expected one integer (a list belongs in [matrix]), got {value!r}"
            ) from None
        if key == "seed":  # what run's --seeds accepts (rnnbench.commands.run.parse_seeds)
            from rnnbench.number_types import seed

            seed.check(typed, f"{where} seed")
        return text, typed
    action = run_actions()[key]
    try:
        typed = action.type(text) if action.type else text
    except argparse.ArgumentTypeError as exc:  # a number type's rule (rnnbench.number_types), as run says it
        raise RnnbenchError(f"{where} {key} {exc}") from None
    except (TypeError, ValueError):
        kind = getattr(action.type, "__name__", "value")
        raise RnnbenchError(
            f"{where} {key}: expected {'an' if kind[0] in 'aeiou' else 'a'} {kind}, got {value!r}"
        ) from None
    if action.choices is not None and typed not in action.choices:
        raise RnnbenchError(f"{where} {key}: {value!r} is not one of {', '.join(map(str, action.choices))}")
    return text, typed
