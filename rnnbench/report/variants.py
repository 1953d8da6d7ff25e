"""Variants: what a run changed from its task's defaults, as a short label a table can carry.

A record's ``config`` is resolved against the task's own defaults
(``Task.resolve_config``), so an explicit default and an omitted option are
the same variant, and an option implied by the others (long-range epochs
follow from the step budget) is no difference. The short label names the
most telling differences ("T=200, 10k steps, hidden 128"); the full list goes
to the report's details, never a table column.
"""

from __future__ import annotations

import json

#: Options that change where or how fast a run ran, not what it computes.
RUN_ONLY_KEYS = frozenset({"seed", "seeds", "threads", "data_dir", "impl", "device", "backend", "eval_every"})
#: Options every table shows in its own columns (or the dataset name already says).
IDENTITY_KEYS = frozenset({"task", "dataset", "model", "problem", "seq_len"})
#: The order in which differences are named in a label; the rest follow alphabetically.
PRIORITY = (
    "seq_len",
    "labels",
    "supervision",
    "dropout",
    "vectors",
    "freeze_embeddings",
    "layers",
    "bidirectional",
    "activation",
    "init",
    "max_steps",
    "epochs",
    "hidden_size",
    "embed_size",
    "batch_size",
    "optimizer",
    "lr",
    "l2",
    "clip_norm",
)
#: Differences that rarely explain a result (evaluation sizes, bookkeeping): named last.
LOW = ("steps_per_epoch", "dev_size", "test_size", "eval_batch_size", "split_seed", "probe_steps")
MAX_ITEMS = 3  # more than this and a label stops being short; the details list everything
DEFAULT_LABEL = "defaults"


def run_diff(config: dict | None) -> dict:
    """The options of one run's config that differ from its task's defaults (all of them when the task is unknown)."""
    config = {k: _normal(v) for k, v in (config or {}).items() if k not in RUN_ONLY_KEYS}
    task = _task(config.get("task"))
    if task is None:
        return {k: v for k, v in config.items() if k not in IDENTITY_KEYS}
    config = {**{k: _normal(v) for k, v in task.omitted_options(config).items()}, **config}
    given = {k: v for k, v in config.items() if k != "dataset" or "problem" not in config}
    base_given = {k: config[k] for k in ("model", "problem", "labels") if config.get(k) is not None}
    if "problem" not in config and config.get("dataset") is not None:
        base_given["dataset"] = config["dataset"]
    try:
        resolved = _resolve(task, given)
        base = _resolve(task, base_given)
        plain = _resolve(task, {k: v for k, v in base_given.items() if k != "labels"})
    except Exception:  # noqa: BLE001 - a record from another version: compare it as written
        return {k: v for k, v in config.items() if k not in IDENTITY_KEYS}
    # an option the record does not hold was the default, or follows from the others
    diff = {k: v for k, v in resolved.items() if k in config and k not in IDENTITY_KEYS and v != base.get(k)}
    if base.get("labels") != plain.get("labels"):
        diff["labels"] = base.get("labels")
    for key in [k for k in diff if k in config and k != "labels"]:
        try:  # an option the others imply (epochs from max_steps) is no difference of its own
            if _resolve(task, {k: v for k, v in given.items() if k != key}).get(key) == config[key]:
                del diff[key]
        except Exception:  # noqa: BLE001
            pass
    return diff


def diff_key(diff: dict) -> str:
    """One canonical text per variant, for grouping."""
    return json.dumps(diff, sort_keys=True, default=str)


def variant_labels(diffs: dict) -> dict:
    """``{group: short label}``: the first differences by :data:`PRIORITY`, as few as keep the labels apart."""
    keys = sorted({k for d in diffs.values() for k in d}, key=_rank)
    distinct = len({diff_key(d) for d in diffs.values()})
    for cap in range(MAX_ITEMS, len(keys) + 1):
        labels = {group: label(d, cap) for group, d in diffs.items()}
        if len(set(labels.values())) >= distinct:
            return labels
    return {group: label(d, len(keys)) for group, d in diffs.items()}


def label(diff: dict, cap: int = MAX_ITEMS) -> str:
    """``T=200, 10k steps, hidden 128``, or ``defaults``."""
    items = [short(k, diff[k]) for k in sorted(diff, key=_rank)]
    if not items:
        return DEFAULT_LABEL
    return ", ".join(items[:cap]) + (", …" if len(items) > cap else "")


def details(diff: dict) -> str:
    """Every difference, ``key=value`` (what the label abbreviates)."""
    return " ".join(f"{k}={_text(diff[k])}" for k in sorted(diff, key=_rank)) or "the task's defaults"


def short(key: str, value) -> str:
    """One difference in words: ``T=200``, ``10k steps``, ``hidden 128``, ``binary labels``."""
    text = _text(value)
    formats = {
        "seq_len": "T={}",
        "layers": "{} layers",
        "max_steps": "{} steps",
        "epochs": "{} epochs",
        "hidden_size": "hidden {}",
        "embed_size": "embed {}",
        "batch_size": "batch {}",
        "lr": "lr {}",
        "l2": "L2 {}",
        "clip_norm": "clip {}",
        "labels": "{} labels",
        "init": "{} init",
        "activation": "{}",
        "optimizer": "{}",
        "steps_per_epoch": "{} steps/epoch",
        "dev_size": "dev {}",
        "test_size": "test {}",
        "vocab_size": "vocab {}",
        "max_length": "max length {}",
        "dtype": "{}",
        "dropout": "dropout {}",
    }
    if key == "supervision":
        return {"roots": "root labels only", "phrases": "phrase labels"}.get(value, f"{text} supervision")
    if key == "bidirectional":
        return "bidirectional" if value else "one direction"
    if key == "vectors":  # the file's name says which vectors; the record's data.vectors has the rest
        return "no vectors" if value is None else f"vectors {str(value).replace(chr(92), '/').rsplit('/', 1)[-1]}"
    if key == "freeze_embeddings":
        return "frozen embedding" if value and str(value).lower() not in ("false", "0", "no") else "trained embedding"
    if key in ("max_steps", "vocab_size") and isinstance(value, int) and value >= 1000:
        text = f"{value / 1000:g}k"
    return formats.get(key, f"{key}={{}}").format(text)


def _rank(key: str):
    if key in PRIORITY:
        return (0, PRIORITY.index(key), "")
    return (2, LOW.index(key), "") if key in LOW else (1, 0, key)


def _normal(value):
    """``"none"`` as typed on a command line and ``None`` are the same option."""
    if isinstance(value, str) and value.strip().lower() in ("none", ""):
        return None
    if isinstance(value, list):
        return tuple(value)
    return value


def _text(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(_text(v) for v in value)
    return str(value)


def _resolve(task, given: dict) -> dict:
    return {k: _normal(v) for k, v in task.resolve_config(dict(given)).items() if k not in RUN_ONLY_KEYS}


def _task(name):
    from rnnbench.plugins import known_task

    return known_task(name)
    try:
        from rnnbench.plugins import get_registry

        return get_registry().task(name).load()()
    except Exception:  # noqa: BLE001 - an unknown or broken task: its records are still reported
        return None
