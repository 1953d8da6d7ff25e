"""Which runs may be averaged together: the configuration they share, as one comparable key.

Seeds are averaged only when everything that shapes the result is equal; the
thread count and the data folder change where and how fast a run ran, not
what it computes, so they are left out of the key.
"""
from __future__ import annotations

import json

#: Configuration keys that do not change what a run computes.
RUN_ONLY_KEYS = frozenset({"seed", "seeds", "threads", "data_dir"})
#: Keys the frame takes, resolved, from the backend's own info (``None`` in the config means "the default"),
#: so tables group by those columns instead.
RESOLVED_KEYS = frozenset({"impl", "device"})
#: Keys every table already shows in its own columns, so a config label need not repeat them.
SHOWN_KEYS = frozenset({"task", "dataset", "backend", "model"})


def config_key(config: dict | None, ignore=()) -> str:
    """A canonical JSON text of ``config`` without the run-only and resolved keys (and ``ignore``)."""
    drop = RUN_ONLY_KEYS | RESOLVED_KEYS | set(ignore)
    kept = {k: v for k, v in (config or {}).items() if k not in drop}
    return json.dumps(kept, sort_keys=True, default=str)


def differing_labels(configs: dict) -> dict:
    """``{group: "key=value ..."}`` naming the keys whose values differ between the groups' configs.

    ``configs`` maps any group id to a config dict; keys the tables show
    anyway are left out. Groups whose configs agree get an empty label.
    """
    keys = sorted({k for c in configs.values() for k in c} - RUN_ONLY_KEYS - RESOLVED_KEYS - SHOWN_KEYS)
    differing = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True, default=str)
                                         for c in configs.values()}) > 1]
    return {group: " ".join(f"{k}={_short(c.get(k))}" for k in differing) for group, c in configs.items()}


def _short(value) -> str:
    return "-" if value is None else str(value)
